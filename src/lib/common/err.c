/* Error names, messages and the rd_err helpers. The tables are generated from RD_ERRORS so
 * the enum, the names and the HTTP statuses can never drift apart. */
#include "riskd/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_row {
    const char *name;
    const char *msg;
    int code;
    int http;
};

static const struct err_row err_rows[] = {
#define RD__ERR_ROW(name, val, code, http, msg) {(code), (msg), (val), (http)},
    RD_ERRORS(RD__ERR_ROW)
#undef RD__ERR_ROW
};

static const struct err_row *err_find(int code)
{
    for (size_t i = 0; i < sizeof(err_rows) / sizeof(err_rows[0]); i++)
        if (err_rows[i].code == code)
            return &err_rows[i];
    return NULL;
}

const char *rd_strerror(int code)
{
    const struct err_row *r = err_find(code);
    return r ? r->msg : "unknown error";
}

const char *rd_err_name(int code)
{
    const struct err_row *r = err_find(code);
    return r ? r->name : "INTERNAL";
}

int rd_err_http_status(int code)
{
    const struct err_row *r = err_find(code);
    return r ? r->http : 500;
}

int rd_err_set(rd_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void rd_err_clear(rd_err *err)
{
    if (err) {
        err->code = RD_OK;
        err->msg[0] = '\0';
    }
}

void rd_err_prefix(rd_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[128];
    char old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t n = strlen(prefix);
    if (n > sizeof(err->msg) - 3)
        n = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof(err->msg) - n - 3;
    size_t olen = strnlen(old, rest);
    memcpy(err->msg + n + 2, old, olen);
    err->msg[n + 2 + olen] = '\0';
}
