/* What every route shares, apart from libmicrohttpd: the clock, error replies in the shape
 * of the route (OFREP's or ours), and the body parsed under the configured limits. Kept out
 * of http.c so the routes can be driven without a socket (tests/fuzz/fuzz_serve.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "riskd/clock.h"
#include "riskd/json.h"
#include "server.h"

/* The library's monotonic clock, so a request's t0 and a decision's deadline agree. */
double srv_now(void) { return (double)rd_clock_ns() * 1e-9; }

/* ------------------------------------------------------------------ URLs */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

char *srv_percent_decode(rd_arena *a, const char *s, size_t n, size_t *len)
{
    char *out = rd_arena_alloc(a, n + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
            out[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    if (len)
        *len = k;
    return out;
}

bool srv_etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = header; p && *p;) {
        p += strspn(p, " \t,");
        if (!strncmp(p, "W/", 2))
            p += 2;
        size_t m = strcspn(p, ",");
        size_t t = m;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == n && !memcmp(p, etag, n))
            return true;
        p += m;
    }
    return false;
}

/* ------------------------------------------------------------------ replies */

/* OFREP's error codes are its own: a body that does not decode, or nests deeper or holds more
 * than the limits (a 400), is INVALID_CONTEXT (as in flagd), everything else GENERAL. */
static const char *ofrep_code(const char *code, int status)
{
    return !strcmp(code, "PARSE_ERROR") || !strcmp(code, "INVALID_CONTEXT") ||
                   (status == 400 && !strcmp(code, "LIMIT_EXCEEDED"))
               ? "INVALID_CONTEXT"
               : "GENERAL";
}

void srv_reply_error(srv_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rd_buf_reset(r->out);
    if (r->stream) { /* an error after a stream was granted (out of memory): not a stream after all */
        r->stream = false;
        srv_events_unreserve(r->stream_slot);
    }
    r->status = status;
    r->error_code = code;
    r->content_type = "application/json";
    if (r->route == SRV_ROUTE_OFREP_FLAG || r->route == SRV_ROUTE_OFREP_BULK) {
        /* The protocol's failure shapes; the JS client wants key and errorCode even on 500. */
        rd_buf_putc(r->out, '{');
        if (r->route == SRV_ROUTE_OFREP_FLAG) {
            rd_buf_puts(r->out, "\"key\":");
            rd_json_write_string(r->out, r->flag_key ? r->flag_key : "", r->flag_key_len);
            rd_buf_putc(r->out, ',');
        }
        rd_buf_printf(r->out, "\"errorCode\":\"%s\",\"errorDetails\":", ofrep_code(code, status));
        rd_json_write_string(r->out, msg, strlen(msg));
        rd_buf_putc(r->out, '}');
        return;
    }
    rd_buf_printf(r->out, "{\"error\":{\"code\":\"%s\",\"message\":", code);
    rd_json_write_string(r->out, msg, strlen(msg));
    rd_buf_puts(r->out, "}}");
}

int srv_req_json(srv_req *r, rd_value *out, rd_err *err)
{
    rd_json_limits lim = {
        .max_bytes = r->cfg->max_body_bytes,
        .max_depth = r->cfg->max_json_depth,
        .max_nodes = r->cfg->max_json_fields,
    };
    int rc = rd_json_parse(r->body, r->len, &lim, r->arena, out, err);
    if (rc == RD_OK)
        return 0;
    if (rc == RD_ENOMEM) {
        srv_reply_error(r, 503, "OUT_OF_MEMORY", "request body: %s", err->msg);
    } else if (rc == RD_ELIMIT && r->len <= lim.max_bytes) {
        /* A body within max_body_bytes that nests too deep or holds too many values is a bad
           request (400), not one too large (413: the size alone). The parser's message says
           which structural limit ("nesting too deep", "more than N values"). */
        bool depth = strstr(err->msg, "nesting") != NULL;
        srv_reply_error(r, 400, "LIMIT_EXCEEDED", "request body: %s (%s = %zu)", err->msg,
                        depth ? "max_json_depth" : "max_json_fields",
                        depth ? (size_t)lim.max_depth : lim.max_nodes);
    } else {
        srv_reply_error(r, rd_err_http_status(rc), rd_err_name(rc), "request body: %s", err->msg);
    }
    return -1;
}
