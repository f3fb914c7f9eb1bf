/* Exposure caps on the scoring path (docs/plans/guardrails.md §3.1).
 *
 * A rollout stage may cap what its candidate approves: an amount (read from the request) and a
 * number of approvals. Each node holds a purse per stage instance, filled with slices of the
 * caps that the rollout thread reserves from the store ahead of need (riskd/rollout.h: the
 * management half). A scoring thread spends from the purse with a compare-and-swap that never
 * lets what is left go below zero, and never calls the store nor waits: an approval that does
 * not fit what the node holds now is answered by the control. So, for each purse,
 *   Σ charged − Σ refunded = granted − given back − left ≤ what the store lent this node,
 * and summed over the nodes, never more than the stage's cap. Everything here is lock-free and
 * callable from any thread while the rollout thread manages the exposure. */
#ifndef RISKD_EXPOSURE_H
#define RISKD_EXPOSURE_H

#include <stdbool.h>
#include <stdint.h>

#include "riskd/err.h"
#include "riskd/value.h"

typedef struct rd_exposure rd_exposure;
typedef struct rd_purse rd_purse;

typedef enum rd_exposure_state {
    RD_EXPOSURE_NONE = 0, /* no cap in force: another flag, a stage without caps, promoted/rolled back */
    RD_EXPOSURE_OPEN,     /* a cap is in force and this applicant's amount fits what the node holds now */
    RD_EXPOSURE_CLOSED,   /* ... it does not fit: left out of both arms' gate metrics (SRM counts it) */
    RD_EXPOSURE_CHARGED,  /* a candidate approval, charged */
    RD_EXPOSURE_CAPPED,   /* a candidate approval that did not fit: answered by the control */
} rd_exposure_state;
/* "none", "open", "closed", "charged", "capped". */
RD_API const char *rd_exposure_state_name(rd_exposure_state s);

typedef struct rd_exposure_ticket {
    rd_exposure_state state;
    rd_purse *purse; /* CHARGED: where it was charged (a refund goes back there); else NULL */
    int64_t amount_units, count_units; /* charged, or what did not fit */
    double amount;  /* the field's value; NaN: missing or not a number (or no amount cap) */
    char stage[64]; /* the stage instance (NONE: "", 0) */
    int64_t stage_started_ms;
    char why[128]; /* CLOSED/CAPPED: "amount does not fit the 350.00 left on this node" (never the amount) */
    /* the amount field ("features.Amount"), borrowed from the exposure (lives as long as it);
     * NULL without an amount cap: the decision log hides amount and units when log_redact names
     * the field's top-level member */
    const char *field;
} rd_exposure_ticket;

/* Whether x (may be NULL) is the exposure of the rollout of route_flag. */
RD_API bool rd_exposure_covers(const rd_exposure *x, const char *route_flag);
/* The candidate's and the control's bundle names; *variant (may be NULL) gets the routing flag's
 * variant naming it. */
RD_API const char *rd_exposure_candidate(const rd_exposure *x, const char **variant);
RD_API const char *rd_exposure_control(const rd_exposure *x, const char **variant);
/* Whether the request's amount (ctx and features: the request's context and features, either may
 * be NULL) would fit what the node holds now, without spending: OPEN, CLOSED (counted), or NONE
 * when no cap is in force. */
RD_API void rd_exposure_peek(rd_exposure *x, const rd_value *ctx, const rd_value *features,
                             rd_exposure_ticket *t);
/* Spend the request's amount and one approval: CHARGED, CAPPED (nothing spent; counted; a missing
 * amount or one that is not a number never fits) or NONE. */
RD_API void rd_exposure_charge(rd_exposure *x, const rd_value *ctx, const rd_value *features,
                               rd_exposure_ticket *t);
/* Give back a CHARGED ticket's charge (an answer refused after it): only to the purse still in
 * force; a retired purse keeps it as spent (the safe side). The ticket becomes NONE's. */
RD_API void rd_exposure_refund(rd_exposure *x, rd_exposure_ticket *t);

/* A cap in the field's currency as integer units: max / unit when that is an integer up to a
 * relative 1e-9 (150000 / 0.01), else rounded down. -1 when max or unit is not > 0 and finite or
 * the units pass 2^53. */
RD_API int64_t rd_exposure_cap_units(double max, double unit);
/* An amount as the units it costs: the fewest units u with u × unit >= v, as doubles compute it:
 * ceil(v / unit), one more if that times unit is still below v (so that the units logged never
 * add up to less than the amounts), one less if the quotient was rounded up past a whole number
 * (0.07 / 0.01 = 7.000000000000001: 7 units, not 8). -1: v is not finite and >= 0, or the units
 * pass 2^53. */
RD_API int64_t rd_exposure_amount_units(double v, double unit);

#endif
