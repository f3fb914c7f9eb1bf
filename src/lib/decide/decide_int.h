/* Internals of the decide module. */
#ifndef RISKD_DECIDE_INT_H
#define RISKD_DECIDE_INT_H

#include <stdatomic.h>

#include "riskd/arena.h"
#include "riskd/decide.h"

struct rd_slot {
    atomic_int refs;
    rd_bundle *bundle;
    rd_breaker *breaker;
    void *user;
    void (*user_free)(void *);
};

struct rd_decider {
    atomic_int refs;
    rd_flagset *flags;
    rd_slot **slots; /* sorted by name */
    size_t n;
    rd_slot *dflt;
    char *route_flag, *shadow_flag, *flags_sha;
    long route_index, shadow_index;
    int deadline_ms;
    int64_t fixed_time;
    rd_fallback *fallback;
    rd_fault *faults;
    size_t nfaults;
    const rd_fault **slot_fault; /* per slot: its faults or NULL */
};

/* The faults injected into slot i of d, or NULL. */
static inline const rd_fault *rd__slot_fault(const rd_decider *d, const rd_slot *s)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->slots[i] == s)
            return d->slot_fault[i];
    return NULL;
}

/* Run slot s on prepared row x under deadline (ns, 0: none), with its injected faults:
 * RD_OK, RD_ETIMEOUT, or another error of the model's. */
/* A decline fault (decline=P@COND): whether the features meet its condition, and a request id's
 * uniform draw in [0, 1) from its hash (the same id, the same draw). */
bool rd__fault_meets(const rd_fault *f, const rd_value *features);
double rd__fault_id_draw(const char *id, size_t len);
int rd__run_model(const rd_decider *d, const rd_slot *s, const double *x, size_t k, int64_t deadline,
                  rd_score *out, rd_err *err);

#endif
