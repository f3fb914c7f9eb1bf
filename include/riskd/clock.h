/* Monotonic time, for deadlines and breaker windows (never the wall clock: a clock step must
 * not cut a request off or reopen a breaker). */
#ifndef RISKD_CLOCK_H
#define RISKD_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/err.h"

/* Nanoseconds on the monotonic clock (CLOCK_MONOTONIC), from an arbitrary origin. */
RD_API int64_t rd_clock_ns(void);
/* Sleep until the monotonic time t (ns); returns at once when t has passed. */
RD_API void rd_sleep_until_ns(int64_t t);
/* Unix time in milliseconds (the wall clock): timestamps of records, never deadlines. */
RD_API int64_t rd_clock_unix_ms(void);

/* The last instant RFC 3339's four-digit years can write: 9999-12-31T23:59:59.999Z. */
#define RD_TIME_MAX_MS 253402300799999LL
/* Unix ms as RFC 3339 UTC with milliseconds, "2026-12-07T05:00:00.123Z" (the audit chain's and the
 * notifications' form); false, and out "", outside 1970..9999. */
RD_API bool rd_time_text(int64_t ts_ms, char out[32]);
/* "YYYY-MM-DDTHH:MM:SS.fffZ" or "YYYY-MM-DDTHH:MM:SSZ" (n bytes, UTC, 1970..9999) to unix ms;
 * false when s is not one. */
RD_API bool rd_time_parse(const char *s, size_t n, int64_t *ts_ms);

#endif
