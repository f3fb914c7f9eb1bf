/* Error codes, messages and the error record every fallible call fills.
 *
 * One X-macro list is the single source of the enum, the stable code names used in
 * HTTP error bodies ({"error":{"code":"INVALID_ARGUMENT",...}}) and the HTTP status table. */
#ifndef RISKD_ERR_H
#define RISKD_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define RD_API          __attribute__((visibility("default")))
#define RD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RD_API
#define RD_PRINTF(f, a)
#endif

/*       name            value  stable code           http  message */
#define RD_ERRORS(X)                                                                                         \
    X(RD_OK, 0, "OK", 200, "success")                                                                        \
    X(RD_EINVAL, -1, "INVALID_ARGUMENT", 400, "invalid argument")                                            \
    X(RD_ENOMEM, -2, "OUT_OF_MEMORY", 503, "out of memory")                                                  \
    X(RD_EPARSE, -3, "PARSE_ERROR", 400, "malformed input")                                                  \
    X(RD_ELIMIT, -4, "LIMIT_EXCEEDED", 413, "limit exceeded")                                                \
    X(RD_EIO, -5, "IO_ERROR", 500, "input/output error")                                                     \
    X(RD_ENOTFOUND, -6, "NOT_FOUND", 404, "not found")                                                       \
    X(RD_ETYPE, -7, "TYPE_MISMATCH", 400, "type mismatch")                                                   \
    X(RD_EINTERNAL, -8, "INTERNAL", 500, "internal error")                                                   \
    X(RD_ETIMEOUT, -9, "DEADLINE_EXCEEDED", 504, "deadline exceeded")                                        \
    X(RD_EUNAVAILABLE, -10, "MODEL_UNAVAILABLE", 503, "no model can answer")                                 \
    X(RD_ENOBUNDLE, -11, "BUNDLE_NOT_FOUND", 404, "bundle not loaded")                                       \
    X(RD_EUSAGE, -12, "USAGE", 400, "wrong arguments")                                                       \
    X(RD_ECONFLICT, -13, "CONFLICT", 409, "changed by another writer")                                       \
    X(RD_EUNAUTH, -14, "UNAUTHENTICATED", 401, "not authenticated")                                          \
    X(RD_EFORBIDDEN, -15, "FORBIDDEN", 403, "not allowed")                                                   \
    X(RD_ESTORE, -16, "STORE_UNAVAILABLE", 503, "the store is unreachable")

enum {
#define RD__ERR_ENUM(name, val, code, http, msg) name = (val),
    RD_ERRORS(RD__ERR_ENUM)
#undef RD__ERR_ENUM
};

/* The error record. Callers own it (usually on the stack); functions fill it on failure. */
typedef struct rd_err {
    int code;      /* RD_OK or a negative RD_E* value */
    char msg[512]; /* "flags.a.targeting: unknown operator \"=~\"", "" when code == RD_OK */
} rd_err;

/* Human text for a code ("invalid argument"); never NULL. */
RD_API const char *rd_strerror(int code);
/* Stable upper-case name for a code ("INVALID_ARGUMENT"); never NULL. */
RD_API const char *rd_err_name(int code);
/* HTTP status that fits the code (400, 404, 413, 500, ...). */
RD_API int rd_err_http_status(int code);

/* The exit status of the riskd command for a code (shared/DESIGN.md §4): 0 for RD_OK, 2 for
 * RD_EUSAGE, 4 for RD_EIO and RD_ESTORE, 7 for RD_EUNAUTH and RD_EFORBIDDEN (refused: who you are, or what
 * your role allows), 1 (invalid input) for the others. Every subcommand maps errors through it. */
static inline int rd_err_exit_status(int code)
{
    return code == RD_OK                                 ? 0
           : code == RD_EUSAGE                           ? 2
           : code == RD_EIO || code == RD_ESTORE         ? 4
           : code == RD_EUNAUTH || code == RD_EFORBIDDEN ? 7
                                                         : 1;
}

/* Fill err (which may be NULL) with code and a printf-style message; returns code, so
 * callers can write `return rd_err_set(err, RD_EINVAL, "...")`. */
RD_API int rd_err_set(rd_err *err, int code, const char *fmt, ...) RD_PRINTF(3, 4);
/* Reset err (may be NULL) to RD_OK with an empty message. */
RD_API void rd_err_clear(rd_err *err);
/* Prepend "prefix: " to err's message, keeping the code; for adding context on the way up. */
RD_API void rd_err_prefix(rd_err *err, const char *fmt, ...) RD_PRINTF(2, 3);

#endif
