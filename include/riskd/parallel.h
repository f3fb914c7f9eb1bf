/* Data parallelism for batch work (batch prediction, batch scoring). */
#ifndef RISKD_PARALLEL_H
#define RISKD_PARALLEL_H

#include <stddef.h>

#include "riskd/err.h"

/* Run fn(ud, from, to) over [0, n) cut into contiguous shares, one per thread, on up to
 * threads threads (0 or less: one per core; at most 64), so that no share is smaller than
 * min_share items (a small batch is not worth a thread). The calling thread runs the first
 * share and returns when all are done; a share whose thread cannot start runs on the caller. */
RD_API void rd_parallel_for(size_t n, int threads, size_t min_share,
                            void (*fn)(void *ud, size_t from, size_t to), void *ud);

/* Cores online, at least 1. */
RD_API int rd_num_cores(void);

#endif
