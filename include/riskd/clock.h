/* Monotonic time, for deadlines and breaker windows (never the wall clock: a clock step must
 * not cut a request off or reopen a breaker). */
#ifndef RISKD_CLOCK_H
#define RISKD_CLOCK_H

#include <stdint.h>

#include "riskd/err.h"

/* Nanoseconds on the monotonic clock (CLOCK_MONOTONIC), from an arbitrary origin. */
RD_API int64_t rd_clock_ns(void);
/* Sleep until the monotonic time t (ns); returns at once when t has passed. */
RD_API void rd_sleep_until_ns(int64_t t);
/* Unix time in milliseconds (the wall clock): timestamps of records, never deadlines. */
RD_API int64_t rd_clock_unix_ms(void);

#endif
