/* Inside the rollout module. */
#ifndef RISKD_ROLLOUT_INT_H
#define RISKD_ROLLOUT_INT_H

#include "riskd/rollout.h"

/* The notification a transition raises (rollout.started, .advanced, .rolled_back, ...), into the
 * outbox inside the caller's transaction; a transition no one is told about writes nothing. */
int rd__rollout_notify(rd_store *s, const rd_transition *t, rd_err *err);

#endif
