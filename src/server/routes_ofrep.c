/* OFREP, the OpenFeature Remote Evaluation Protocol (shared/reference/flagd-ofrep.md §3):
 * one flag, or every flag (bulk, with an ETag). Bodies and statuses follow the protocol and
 * flagd's server: `metadata` is always sent, `value` whenever the flag resolved to one
 * (false, "" and 0 included), a code default and a disabled flag carry none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/hash.h"
#include "riskd/json.h"
#include "server.h"

/* The evaluation context of an OFREP body: {"context": {...}}. An empty body is an empty
 * context (as in flagd). *ctx is NULL when there is none. -1: the error reply is written. */
static int read_context(srv_req *r, const rd_value **ctx)
{
    *ctx = NULL;
    if (r->len == 0)
        return 0;
    rd_err err;
    rd_value v; /* its members live in the request's arena, so *ctx outlives it */
    if (srv_req_json(r, &v, &err) < 0)
        return -1;
    if (v.type != RD_VOBJECT) {
        srv_reply_error(r, 400, "INVALID_CONTEXT", "the body must be an object {\"context\": {...}}, not %s",
                        rd_vtype_name(v.type));
        return -1;
    }
    const rd_value *c = rd_value_get(&v, "context", 7);
    if (c && c->type != RD_VOBJECT && c->type != RD_VNULL) {
        srv_reply_error(r, 400, "INVALID_CONTEXT", "context must be an object, not %s",
                        rd_vtype_name(c->type));
        return -1;
    }
    *ctx = c && c->type == RD_VOBJECT ? c : NULL;
    return 0;
}

static void write_success(rd_buf *b, const char *key, size_t key_len, const rd_resolution *res)
{
    rd_buf_puts(b, "{\"key\":");
    rd_json_write_string(b, key, key_len);
    if (res->has_value) {
        rd_buf_puts(b, ",\"value\":");
        rd_json_write(b, &res->value);
    }
    rd_buf_printf(b, ",\"reason\":\"%s\"", rd_reason_name(res->reason));
    if (res->variant) {
        rd_buf_puts(b, ",\"variant\":");
        rd_json_write_string(b, res->variant, strlen(res->variant));
    }
    rd_buf_puts(b, ",\"metadata\":");
    rd_json_write(b, res->metadata);
    rd_buf_putc(b, '}');
}

static void write_failure(rd_buf *b, const char *key, size_t key_len, const char *code, const char *details,
                          const rd_value *metadata)
{
    rd_buf_puts(b, "{\"key\":");
    rd_json_write_string(b, key, key_len);
    rd_buf_printf(b, ",\"errorCode\":\"%s\",\"errorDetails\":", code);
    rd_json_write_string(b, details, strlen(details));
    if (metadata) {
        rd_buf_puts(b, ",\"metadata\":");
        rd_json_write(b, metadata);
    }
    rd_buf_putc(b, '}');
}

/* Evaluate flag i (or an unknown key when i < 0) and record it in the metrics. */
static void eval(srv_req *r, long i, const char *key, size_t len, const rd_value *ctx, rd_resolution *res)
{
    rd_flag_eval(r->snap->flags, key, len, RD_FLAG_ANY, ctx, r->cfg->fixed_time, r->arena, res);
    if (i >= 0)
        srv_metrics_flag_eval(r->snap->flag_stats[i], res->reason);
}

void srv_route_ofrep_flag(srv_req *r)
{
    const rd_value *ctx;
    if (read_context(r, &ctx) < 0)
        return;
    const char *key = r->flag_key;
    size_t len = r->flag_key_len;
    long i = srv_snapshot_flag_index(r->snap, key, len);
    if (i < 0) {
        srv_metrics_flag_unknown();
        char details[300];
        snprintf(details, sizeof details, "flag `%.*s` does not exist", (int)(len > 200 ? 200 : len), key);
        r->status = 404;
        r->error_code = "FLAG_NOT_FOUND";
        /* flagd sends the set's metadata with every failure, this one included */
        write_failure(r->out, key, len, "FLAG_NOT_FOUND", details,
                      r->snap->flags ? rd_flagset_metadata(r->snap->flags) : NULL);
        return;
    }
    rd_resolution res;
    eval(r, i, key, len, ctx, &res);
    if (res.reason != RD_REASON_ERROR) {
        write_success(r->out, key, len, &res);
        return;
    }
    /* flagd: FLAG_NOT_FOUND 404, every other evaluation error 400 with its code. */
    r->status = res.error == RD_FLAG_NOT_FOUND ? 404 : 400;
    r->error_code = rd_flag_error_name(res.error);
    write_failure(r->out, key, len, rd_flag_error_name(res.error),
                  res.error_message ? res.error_message : rd_flag_error_name(res.error), res.metadata);
}

/* Whether value names etag: the same quoted digest, or the digest unquoted, W/ ignored. */
static bool same_etag(const char *value, const char *etag)
{
    if (!strncmp(value, "W/", 2))
        value += 2;
    size_t n = strlen(etag);
    if (!strcmp(value, etag))
        return true;
    return n > 2 && strlen(value) == n - 2 && !memcmp(value, etag + 1, n - 2);
}

/* A re-fetch after an event names the flag set it was told of (flagConfigEtag,
 * flagConfigLastModified: OFREP ADR 0008). If that is not the flag set served here (it changed
 * again, or this node has not caught up), the client's cached evaluation must not be confirmed
 * by a 304: it gets the full answer, and its next event puts it right. A value that cannot be
 * read is treated the same way: never a stale 304 on a guess. */
static bool refetch_confirms(const srv_req *r)
{
    if (r->args_overflow)
        return false;
    for (size_t i = 0; i < r->nargs; i++) {
        const char *k = r->args[i].key, *v = r->args[i].value;
        if (!strcmp(k, "flagConfigEtag")) {
            char etag[68];
            srv_flagset_etag(r->snap, etag);
            if (!same_etag(v, etag))
                return false;
        } else if (!strcmp(k, "flagConfigLastModified")) {
            char *end;
            long long t = strtoll(v, &end, 10);
            if (end == v || *end || t > r->snap->flags_since_ms / 1000)
                return false;
        }
    }
    return true;
}

void srv_route_ofrep_bulk(srv_req *r)
{
    const rd_value *ctx;
    if (read_context(r, &ctx) < 0)
        return;
    const rd_flagset *fs = r->snap->flags;
    size_t n = fs ? rd_flagset_count(fs) : 0;
    rd_buf *b = r->out;
    rd_buf_puts(b, "{\"flags\":[");
    for (size_t i = 0; i < n; i++) {
        const char *key = rd_flagset_key(fs, i);
        size_t len = strlen(key);
        rd_resolution res;
        eval(r, (long)i, key, len, ctx, &res);
        if (i)
            rd_buf_putc(b, ',');
        if (res.reason == RD_REASON_ERROR)
            write_failure(b, key, len, rd_flag_error_name(res.error),
                          res.error_message ? res.error_message : rd_flag_error_name(res.error),
                          res.metadata);
        else
            write_success(b, key, len, &res);
    }
    rd_buf_puts(b, "],\"metadata\":");
    if (fs)
        rd_json_write(b, rd_flagset_metadata(fs));
    else
        rd_buf_puts(b, "{}");
    srv_events_advertise(b);
    rd_buf_putc(b, '}');
    if (b->oom)
        return;
    /* The ETag is the hash of the body, so it covers the configuration and the context. */
    char hex[RD_SHA256_HEX];
    rd_sha256_hex(b->data, b->len, hex);
    snprintf(r->etag, sizeof r->etag, "\"%s\"", hex);
    if (r->if_none_match && srv_etag_matches(r->if_none_match, r->etag) && refetch_confirms(r)) {
        r->status = 304;
        rd_buf_reset(b);
    }
}
