/* /v1/score and /v1/score/batch: route with the flag, run the bundle (pipeline, model,
 * risk band, reasons), answer with the decision and how it was made.
 *
 * The model is chosen, in order: by the request's `bundle` (a pinned replay or a test), by
 * the routing flag evaluated with the request's context (its string value names a bundle;
 * the snapshot guarantees every such name is loaded), else by the default bundle (the only
 * one, or default_bundle). A request never changes shared state except the metrics. */
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "riskd/json.h"
#include "server.h"

/* A failed item: what the error reply says. */
typedef struct item_err {
    int status;
    const char *code;
    char msg[320];
} item_err;

static int fail(item_err *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(item_err *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->status = status;
    e->code = code;
    return -1;
}

/* The request's fields, checked for type. */
typedef struct score_req {
    const rd_value *id, *ctx, *features, *bundle;
    int reasons;
} score_req;

static int read_request(const srv_req *r, const rd_value *v, score_req *q, item_err *e)
{
    if (v->type != RD_VOBJECT)
        return fail(e, 400, "INVALID_ARGUMENT", "a score request must be an object, not %s",
                    rd_vtype_name(v->type));
    /* One pass over the fields; an unknown one is refused: a misspelled "contxt" would
     * otherwise route the request as if it had no context, without a word. */
    const rd_value *k = NULL;
    for (uint32_t i = 0; i < v->len; i++) {
        const rd_member *m = &v->u.members[i];
        const rd_value **slot = !strcmp(m->key, "request_id") ? &q->id
                                : !strcmp(m->key, "context")  ? &q->ctx
                                : !strcmp(m->key, "features") ? &q->features
                                : !strcmp(m->key, "bundle")   ? &q->bundle
                                : !strcmp(m->key, "reasons")  ? &k
                                                              : NULL;
        if (!slot || m->key_len != strlen(m->key))
            return fail(e, 400, "INVALID_ARGUMENT",
                        "unknown field \"%.64s\" (a score request has request_id, context, features, "
                        "reasons, bundle)",
                        m->key);
        *slot = &m->val;
    }
    if (q->id && q->id->type != RD_VSTRING && q->id->type != RD_VNUMBER)
        return fail(e, 400, "TYPE_MISMATCH", "request_id: expected a string or a number, got %s",
                    rd_vtype_name(q->id->type));
    if (q->ctx && q->ctx->type != RD_VOBJECT)
        return fail(e, 400, "TYPE_MISMATCH", "context: expected an object, got %s",
                    rd_vtype_name(q->ctx->type));
    if (!q->features)
        return fail(e, 400, "INVALID_ARGUMENT", "features: required (an object of input values)");
    if (q->features->type != RD_VOBJECT)
        return fail(e, 400, "TYPE_MISMATCH", "features: expected an object, got %s",
                    rd_vtype_name(q->features->type));
    if (q->bundle && q->bundle->type != RD_VSTRING)
        return fail(e, 400, "TYPE_MISMATCH", "bundle: expected a string, got %s",
                    rd_vtype_name(q->bundle->type));
    q->reasons = r->cfg->reasons;
    if (k) {
        /* range first: casting a double beyond int's range is undefined (the fuzzer's find) */
        if (k->type != RD_VNUMBER || !(k->u.n >= 0 && k->u.n <= RD_BUNDLE_MAX_REASONS) ||
            k->u.n != (double)(int)k->u.n)
            return fail(e, 400, "INVALID_ARGUMENT", "reasons: expected an integer from 0 to %d",
                        RD_BUNDLE_MAX_REASONS);
        q->reasons = (int)k->u.n;
    }
    return 0;
}

/* Pick the bundle; *variant is the routing flag's variant (NULL when the flag did not pick). */
static int route(srv_req *r, const score_req *q, const srv_bundle **out, const char **variant, item_err *e)
{
    const srv_snapshot *s = r->snap;
    *variant = NULL;
    if (q->bundle) {
        if (!(*out = srv_snapshot_bundle(s, q->bundle->u.s, q->bundle->len)))
            return fail(e, 404, "BUNDLE_NOT_FOUND", "bundle \"%.*s\" is not loaded", (int)q->bundle->len,
                        q->bundle->u.s);
        return 0;
    }
    if (s->route_index >= 0) {
        const char *key = r->cfg->route_flag;
        rd_resolution res;
        rd_flag_eval(s->flags, key, strlen(key), RD_FLAG_STRING, q->ctx, r->cfg->fixed_time, r->arena, &res);
        srv_metrics_flag_eval(s->flag_stats[s->route_index], res.reason);
        if (res.has_value && res.value.len) {
            *variant = res.variant;
            if ((*out = srv_snapshot_bundle(s, res.value.u.s, res.value.len)))
                return 0;
            return fail(e, 503, "MODEL_UNAVAILABLE", "the routing flag names \"%.*s\", which is not loaded",
                        (int)res.value.len, res.value.u.s);
        }
        if (!s->fallback)
            return fail(e, 503, "MODEL_UNAVAILABLE",
                        "the routing flag %s gave no bundle (%s%s%s) and there is no "
                        "default_bundle",
                        key, rd_reason_name(res.reason), res.error ? " " : "",
                        res.error ? rd_flag_error_name(res.error) : "");
    }
    if (!(*out = s->fallback))
        return fail(e, 503, "MODEL_UNAVAILABLE",
                    s->nbundles
                        ? "several bundles are loaded and neither a routing flag nor default_bundle picks one"
                        : "no bundle is loaded");
    return 0;
}

static void write_num(rd_buf *b, double x, bool float32)
{
    if (float32) {
        rd_buf_printf(b, "%.9g", (double)(float)x); /* round-trips the float the model computed */
    } else {
        char s[RD_NUM_BUF];
        rd_num_format(x, s);
        rd_buf_puts(b, s);
    }
}

static void write_id(rd_buf *b, const rd_value *id)
{
    if (!id) {
        static atomic_uint_fast64_t seq;
        rd_buf_printf(b, "\"riskd-%llu\"", (unsigned long long)atomic_fetch_add(&seq, 1) + 1);
    } else {
        rd_json_write(b, id);
    }
}

static void write_inputs(rd_buf *b, const rd_pipeline *p, const uint32_t *idx, uint32_t n)
{
    rd_buf_putc(b, '[');
    for (uint32_t i = 0; i < n && i < RD_PIPELINE_REPORT_MAX; i++) {
        const char *name = rd_pipeline_input_name(p, idx[i]);
        if (i)
            rd_buf_putc(b, ',');
        rd_json_write_string(b, name, strlen(name));
    }
    rd_buf_putc(b, ']');
}

static void write_result(srv_req *r, rd_buf *b, const score_req *q, const srv_bundle *sb, const char *variant,
                         const rd_score *sc)
{
    const rd_bundle *bd = sb->b;
    bool f32 = rd_model_is_float32(rd_bundle_model(bd));
    rd_buf_puts(b, "{\"request_id\":");
    write_id(b, q->id);
    rd_buf_puts(b, ",\"score\":");
    write_num(b, sc->score, f32 && !rd_bundle_score_is_points(bd));
    rd_buf_puts(b, ",\"probability\":");
    write_num(b, sc->probability, f32);
    rd_buf_puts(b, ",\"risk_level\":");
    rd_json_write_string(b, sc->risk_level, strlen(sc->risk_level));
    rd_buf_puts(b, ",\"decision\":");
    if (sc->decision)
        rd_json_write_string(b, sc->decision, strlen(sc->decision));
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"model_version\":");
    rd_json_write_string(b, rd_bundle_name(bd), strlen(rd_bundle_name(bd)));
    rd_buf_puts(b, ",\"variant\":");
    if (variant)
        rd_json_write_string(b, variant, strlen(variant));
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"reasons\":[");
    for (size_t i = 0; i < sc->nreasons; i++) {
        const char *f = rd_bundle_reason_name(bd, sc->reasons[i].index);
        const char *c = rd_bundle_reason_code(bd, sc->reasons[i].index);
        rd_buf_puts(b, i ? ",{\"feature\":" : "{\"feature\":");
        rd_json_write_string(b, f, strlen(f));
        rd_buf_puts(b, ",\"code\":");
        rd_json_write_string(b, c, strlen(c));
        rd_buf_puts(b, ",\"impact\":");
        write_num(b, sc->reasons[i].impact, f32); /* XGBoost computes them in float32 */
        rd_buf_putc(b, '}');
    }
    rd_buf_puts(b, "],\"missing\":");
    write_inputs(b, rd_bundle_pipeline(bd), sc->report.missing_inputs, sc->report.missing);
    rd_buf_puts(b, ",\"unknown\":");
    write_inputs(b, rd_bundle_pipeline(bd), sc->report.unknown_inputs, sc->report.unknown);
    rd_buf_printf(b, ",\"source\":\"model\",\"latency_ms\":%.3f}", (srv_now() - r->t0) * 1e3);
}

/* Score one request object into b, or fill e. */
static int score_one(srv_req *r, const rd_value *v, rd_buf *b, item_err *e, const rd_value **id)
{
    score_req q = {0};
    *id = NULL;
    int rc = read_request(r, v, &q, e);
    *id = q.id;
    if (rc)
        return rc;
    const srv_bundle *sb = NULL;
    const char *variant;
    if (route(r, &q, &sb, &variant, e) || !sb)
        return -1;
    size_t k = q.reasons < 0 ? rd_bundle_num_reasons(sb->b) : (size_t)q.reasons;
    rd_score sc;
    rd_err err;
    if ((rc = rd_bundle_score(sb->b, q.features, k, &sc, &err)))
        return fail(e, rc == RD_ENOMEM ? 503 : rd_err_http_status(rc), rd_err_name(rc), "features.%s",
                    err.msg);
    srv_metrics_score(sb->stats, sc.probability);
    write_result(r, b, &q, sb, variant, &sc);
    return 0;
}

void srv_route_score(srv_req *r)
{
    rd_value v;
    rd_err err;
    if (srv_req_json(r, &v, &err) < 0)
        return;
    item_err e;
    const rd_value *id;
    if (score_one(r, &v, r->out, &e, &id))
        srv_reply_error(r, e.status, e.code, "%s", e.msg);
}

void srv_route_score_batch(srv_req *r)
{
    rd_value v;
    rd_err err;
    if (srv_req_json(r, &v, &err) < 0)
        return;
    if (v.type != RD_VARRAY) {
        srv_reply_error(r, 400, "INVALID_ARGUMENT", "a batch is an array of score requests, not %s",
                        rd_vtype_name(v.type));
        return;
    }
    if (v.len > r->cfg->max_batch) {
        srv_reply_error(r, 413, "LIMIT_EXCEEDED", "a batch holds at most %zu requests, this one %u",
                        r->cfg->max_batch, v.len);
        return;
    }
    rd_buf *b = r->out;
    size_t errors = 0;
    rd_buf_puts(b, "{\"results\":[");
    for (uint32_t i = 0; i < v.len; i++) {
        if (i)
            rd_buf_putc(b, ',');
        size_t mark = b->len;
        item_err e;
        const rd_value *id;
        if (!score_one(r, &v.u.items[i], b, &e, &id))
            continue;
        b->len = mark;
        errors++;
        srv_metrics_error(e.code);
        rd_buf_puts(b, "{\"request_id\":");
        if (id && (id->type == RD_VSTRING || id->type == RD_VNUMBER))
            rd_json_write(b, id);
        else
            rd_buf_puts(b, "null");
        rd_buf_printf(b, ",\"error\":{\"code\":\"%s\",\"message\":", e.code);
        rd_json_write_string(b, e.msg, strlen(e.msg));
        rd_buf_puts(b, "}}");
    }
    rd_buf_printf(b, "],\"count\":%u,\"errors\":%zu,\"latency_ms\":%.3f}", v.len, errors,
                  (srv_now() - r->t0) * 1e3);
}
