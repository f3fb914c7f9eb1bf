/* Inside the rollout module. */
#ifndef RISKD_ROLLOUT_INT_H
#define RISKD_ROLLOUT_INT_H

#include "riskd/rollout.h"

/* The notification a transition raises (rollout.started, .advanced, .rolled_back, ...), into the
 * outbox inside the caller's transaction; a transition no one is told about writes nothing. */
int rd__rollout_notify(rd_store *s, const rd_transition *t, rd_err *err);

/* Exposure internals for the unit tests (exposure.c). */
typedef struct rd__purse_ledger {
    rd_purse *purse;
    int64_t amount_left, count_left, amount_spent, count_spent;
    int64_t amount_held, count_held, amount_returned, count_returned;
    uint64_t capped, closed;
} rd__purse_ledger;
/* The figures of purse p (NULL: the one in force; none: all zero). The held/returned figures are
 * the ledger thread's: read them from it, or when it is quiet. */
void rd__exposure_ledger(rd_exposure *x, rd_purse *p, rd__purse_ledger *out);
/* A grant to the purse in force as if the store had committed it (the test plays the ledger). */
void rd__exposure_grant(rd_exposure *x, int64_t amount, int64_t count);
/* What the purse in force has left (0 without one): the scoring path's figures, any thread. */
int64_t rd__exposure_left(rd_exposure *x, int64_t *count_left);
const char *rd__exposure_boot(const rd_exposure *x);

#endif
