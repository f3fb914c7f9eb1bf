/* /v1/score and /v1/score/batch: HTTP in, rd_decide (include/riskd/decide.h: routing,
 * shadow, deadline, breaker, fallback rules), the decision record out. Every rule of the
 * decision is the library's; this file reads the request's fields and maps errors to HTTP.
 * A request changes no shared state but the metrics, the breakers and the shadow queue. */
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "riskd/json.h"
#include "riskd/clock.h"
#include "riskd/exposure.h"
#include "riskd/rollout.h"
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

/* After a decision: its metrics, and its shadow work queued. */
/* Record the decision in the log. A decision is not answered without its record: a full
 * queue (log_on_full = reject) or, in ack mode, a failed commit answers 503 instead. */
static int record(srv_req *r, const rd_decision *d, const rd_value *ctx, const rd_value *features,
                  item_err *e)
{
    if (!r->dlog)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rd_dlog_meta m = {.node = r->cfg->node,
                      .ts_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                      .context = ctx,
                      .features = features,
                      .lenient = r->cfg->lenient,
                      .redact = r->redact};
    rd_buf *b = r->logbuf;
    rd_buf_reset(b);
    rd_dlog_record_json(b, r->snap->dec, d, &m);
    char idbuf[RD_NUM_BUF];
    rd_log_row row = {.ts_ms = m.ts_ms,
                      .request_id = rd_decision_id_text(d, idbuf, sizeof idbuf),
                      .kind = "primary",
                      .model_version = d->slot ? rd_slot_name(d->slot) : NULL,
                      .record = rd_buf_cstr(b),
                      .record_len = b->len};
    uint64_t seq;
    int rc = b->oom ? RD_ENOMEM : rd_dlog_submit(r->dlog, &row, &seq);
    if (rc && !strcmp(r->cfg->log_on_full, "drop")) {
        srv_metrics_log_dropped();
        return 0;
    }
    if (rc) {
        srv_metrics_log_refused("backlog");
        return fail(e, 503, "LOG_BACKLOG",
                    "the decision log is full (log_queue %zu): no decision is answered without its record",
                    r->cfg->log_queue);
    }
    /* ack: the HTTP layer holds the answer (the connection suspended, no thread blocked)
     * until the commit holding this record; a batch waits once, for its last record */
    if (strcmp(r->cfg->log_durability, "ack") == 0 && seq > r->ack_seq)
        r->ack_seq = seq;
    return 0;
}

/* The monitor's view of a decision (include/riskd/monitor.h): by the bundle that answered
 * and the routing variant that picked it. */
static void monitored(const rd_decision *d, const rd_value *context, const rd_value *features,
                      rd_arena *scratch)
{
    /* a capped decision is the candidate arm's assignment, answered by the control */
    rd_monitor_series *ms =
        srv_slot_series(d->control_reason ? d->candidate : d->slot, d->variant, RD_ROLE_PRIMARY);
    if (!ms)
        return;
    /* a rollout's fair-lending segments: the rules of the set the series counts for */
    const rd_monitor_segments *set = rd_monitor_series_segments(ms);
    uint32_t segments =
        set ? rd_segment_rules_mask(rd_monitor_segments_user(set), context, features, scratch) : 0;
    bool model = d->source == RD_SOURCE_MODEL;
    rd_monitor_obs o = {.answered = true,
                        .fallback = !model,
                        .fallback_reason = (int)d->fallback_reason,
                        .score = model ? d->score.score : (double)NAN,
                        .decision = model ? d->score.decision : d->fallback.decision,
                        .latency_ms = (double)(rd_clock_ns() - d->t0_ns) / 1e6,
                        .features = features,
                        .segments = segments,
                        .segment_set = set,
                        /* past the cap: out of the gates' figures, still the assignment's (SRM) */
                        .excluded = d->exposure.state == RD_EXPOSURE_CLOSED ||
                                    d->exposure.state == RD_EXPOSURE_CAPPED,
                        .capped = d->exposure.state == RD_EXPOSURE_CAPPED};
    rd_monitor_record(ms, &o);
}

static void decided(srv_req *r, const rd_decision *d, const rd_value *context, const rd_value *features)
{
    monitored(d, context, features, r->arena);
    if (d->source == RD_SOURCE_MODEL) {
        srv_metrics_score(((srv_slot_info *)rd_slot_user(d->slot))->stats, d->score.probability);
        if (d->nshadows)
            rd_shadow_submit(r->shadow, r->snap->dec, d, features); /* a full queue counts the drop */
    } else {
        static srv_fallback_stats *_Atomic none; /* the answers no bundle was picked for */
        srv_fallback_stats *fs =
            d->slot ? ((srv_slot_info *)rd_slot_user(d->slot))->fallbacks : atomic_load(&none);
        if (!fs && !d->slot)
            atomic_store(&none, fs = srv_metrics_fallback_series(""));
        srv_metrics_fallback(fs, d->fallback_reason);
    }
}

/* "bundle" pins a request to a bundle, bypassing the routing: only with allow_pinning, and
 * with auth = on only for a token with the pin scope. */
static int pin_allowed(srv_req *r, item_err *e)
{
    const srv_config *cfg = r->cfg;
    if (!cfg->pinning)
        return fail(e, 403, "FORBIDDEN", "bundle: pinning a bundle is off (allow_pinning = %s%s)",
                    cfg->allow_pinning,
                    !strcmp(cfg->allow_pinning, "auto") ? ", which is off with auth = on" : "");
    if (!cfg->auth)
        return 0;
    srv_auth_fail f;
    if (srv_auth_check(r, RD_SCOPE_PIN, false, "pin a bundle", &f) == 0)
        return 0;
    r->retry_after_s = f.retry_after_s;
    return fail(e, f.status, f.code, "%s", f.msg);
}

/* A pinned request, with auth = on: who pinned which bundle, for which request (never the
 * token). */
static void pin_logged(const srv_req *r, const score_req *q, const rd_decision *d, int rc)
{
    if (!r->cfg->auth)
        return;
    char id[RD_NUM_BUF + 200], bundle[256];
    const char *rid = NULL;
    if (rc == RD_OK)
        rid = rd_decision_id_text(d, id, sizeof id);
    else if (q->id && q->id->type == RD_VSTRING)
        rid = q->id->u.s;
    else if (q->id)
        rid = (rd_num_format(q->id->u.n, id), id);
    snprintf(bundle, sizeof bundle, "%.*s", (int)q->bundle->len, q->bundle->u.s);
    srv_log(SRV_INFO, "pinned score request", "user", r->who.user, "token_id", r->who.token_id, "request_id",
            rid, "bundle", bundle, "result", rc == RD_OK ? "decided" : rd_err_name(rc), NULL);
}

/* Decide one request object into b, or fill e. */
static int score_one(srv_req *r, const rd_value *v, rd_buf *b, item_err *e, const rd_value **id)
{
    score_req q = {0};
    *id = NULL;
    int rc = read_request(r, v, &q, e);
    *id = q.id;
    if (rc)
        return rc;
    if (q.bundle && pin_allowed(r, e))
        return -1;
    rd_decide_req dq = {.request_id = q.id,
                        .context = q.ctx,
                        .features = q.features,
                        .bundle = q.bundle ? q.bundle->u.s : NULL,
                        .bundle_len = q.bundle ? q.bundle->len : 0,
                        .reasons = q.reasons,
                        .unknown_inputs = r->cfg->unknown_policy,
                        /* a batch's rows are decisions of their own: each has the whole deadline */
                        .t0_ns = r->route == SRV_ROUTE_SCORE_BATCH ? 0 : (int64_t)(r->t0 * 1e9),
                        .exposure = srv_rollouts_exposure()};
    rd_decision d;
    rd_err err;
    rc = rd_decide(r->snap->dec, &dq, r->arena, &d, &err);
    if (q.bundle)
        pin_logged(r, &q, &d, rc);
    const srv_snapshot *s = r->snap;
    if (d.routed)
        srv_metrics_flag_eval(s->flag_stats[rd_decider_route_index(s->dec)], d.route_reason);
    if (d.shadowed)
        srv_metrics_flag_eval(s->flag_stats[rd_decider_shadow_index(s->dec)], d.shadow_reason);
    if (d.routed && !d.slot && (rc == RD_EUNAVAILABLE || (!rc && d.fallback_reason == RD_FB_UNAVAILABLE)))
        srv_metrics_routing_failure(s->generation, rc == RD_OK, d.fallback_detail);
    if (rc) {
        if (rc == RD_EINVAL || rc == RD_ETYPE)
            return fail(e, 400, rd_err_name(rc), "features.%s", err.msg);
        if (d.slot) { /* the service failed this request (no fallback answered): the bundle's error */
            rd_monitor_series *ms = srv_slot_series(d.slot, d.variant, RD_ROLE_PRIMARY);
            rd_monitor_obs o = {.answered = false};
            if (ms)
                rd_monitor_record(ms, &o);
        }
        return fail(e, rc == RD_ENOMEM ? 503 : rd_err_http_status(rc), rd_err_name(rc), "%s", err.msg);
    }
    if (record(r, &d, q.ctx, q.features, e)) {
        rd_exposure_refund(dq.exposure, &d.exposure); /* not answered: its charge goes back */
        return -1;
    }
    decided(r, &d, q.ctx, q.features);
    rd_decision_write_json(b, &d);
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

/* POST /score (compat_routes = on): the textbook FastAPI service's request {loan_id,
 * features} and response, on the same decision path. loan_id is the routing targetingKey,
 * so a fractional rollout keeps each loan on one model. */
void srv_route_compat_score(srv_req *r)
{
    rd_value v;
    rd_err err;
    if (srv_req_json(r, &v, &err) < 0)
        return;
    if (v.type != RD_VOBJECT) {
        srv_reply_error(r, 400, "INVALID_ARGUMENT", "a score request must be an object, not %s",
                        rd_vtype_name(v.type));
        return;
    }
    const rd_value *loan = NULL, *features = NULL;
    for (uint32_t i = 0; i < v.len; i++) {
        const rd_member *m = &v.u.members[i];
        if (!strcmp(m->key, "loan_id") && m->key_len == 7)
            loan = &m->val;
        else if (!strcmp(m->key, "features") && m->key_len == 8)
            features = &m->val;
        else {
            srv_reply_error(r, 400, "INVALID_ARGUMENT",
                            "unknown field \"%.64s\" (POST /score has loan_id, features)", m->key);
            return;
        }
    }
    if (!loan || (loan->type != RD_VSTRING && loan->type != RD_VNUMBER)) {
        srv_reply_error(r, 400, loan ? "TYPE_MISMATCH" : "INVALID_ARGUMENT",
                        "loan_id: required, a string or a number");
        return;
    }
    if (!features || features->type != RD_VOBJECT) {
        srv_reply_error(r, 400, features ? "TYPE_MISMATCH" : "INVALID_ARGUMENT",
                        "features: required, an object of input values");
        return;
    }
    /* the context: {"targetingKey": loan_id as a string} */
    char num[RD_NUM_BUF];
    rd_value key = *loan;
    if (loan->type == RD_VNUMBER) {
        size_t n = rd_num_format(loan->u.n, num);
        key = rd_value_string(num, (uint32_t)n);
    }
    rd_member cm = {"targetingKey", 12, key};
    rd_value ctx = {.type = RD_VOBJECT, .len = 1, .u.members = &cm};
    rd_decide_req dq = {.request_id = loan,
                        .context = &ctx,
                        .features = features,
                        .reasons = r->cfg->reasons,
                        .unknown_inputs = r->cfg->unknown_policy,
                        .t0_ns = (int64_t)(r->t0 * 1e9),
                        .exposure = srv_rollouts_exposure()};
    rd_decision d;
    int rc = rd_decide(r->snap->dec, &dq, r->arena, &d, &err);
    if (rc) {
        srv_reply_error(r, rc == RD_ENOMEM ? 503 : rd_err_http_status(rc), rd_err_name(rc), "%s%s",
                        rc == RD_EINVAL || rc == RD_ETYPE ? "features." : "", err.msg);
        return;
    }
    item_err e;
    if (record(r, &d, &ctx, features, &e)) {
        rd_exposure_refund(dq.exposure, &d.exposure);
        srv_reply_error(r, e.status, e.code, "%s", e.msg);
        return;
    }
    decided(r, &d, &ctx, features);
    rd_decision_write_compat_json(r->out, &d, loan);
}
