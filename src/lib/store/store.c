/* The store's front: picks the backend from the URL and dispatches to it. Callers never test
 * which backend they hold. What every backend would otherwise repeat lives here: the checks of
 * an outcome batch, and the realised KS, computed from the scores and labels a backend streams
 * (so every backend gives the same statistic, to the bit). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "riskd/monitor.h"
#include "store_int.h"

/* Each backend by the scheme of its URLs; "postgres:" is libpq's other spelling. */
static const struct {
    const char *scheme;
    const rd_store_ops *ops;
} backends[] = {
    {"sqlite", &rd__sqlite_store},
    {"postgresql", &rd__pg_store},
    {"postgres", &rd__pg_store},
};

/* The backend of url (*rest: the text after its colon), or NULL. */
static const rd_store_ops *backend_of(const char *url, const char **rest)
{
    const char *colon = strchr(url, ':');
    for (size_t i = 0; colon && i < sizeof backends / sizeof *backends; i++) {
        size_t n = strlen(backends[i].scheme);
        if ((size_t)(colon - url) == n && !strncmp(url, backends[i].scheme, n)) {
            *rest = colon + 1;
            return backends[i].ops;
        }
    }
    return NULL;
}

/* o->node, or the host name ("localhost" when it has none), into node. */
static void node_name(const rd_store_opts *o, char node[256])
{
    if (o->node && *o->node)
        snprintf(node, 256, "%s", o->node);
    else if (gethostname(node, 255) != 0 || !node[0])
        snprintf(node, 256, "localhost");
    node[255] = '\0';
}

int rd_store_open(const char *url, const rd_store_opts *o, rd_store **out, rd_err *err)
{
    rd_store_opts def = {0};
    if (!o)
        o = &def;
    const char *rest;
    const rd_store_ops *ops = backend_of(url, &rest);
    if (!ops) {
        const char *colon = strchr(url, ':');
        if (colon && strstr(url, "://"))
            return rd_err_set(err, RD_EINVAL,
                              "store \"%.*s:...\": riskd stores in sqlite:DIR or postgresql://...",
                              (int)(colon - url), url);
        ops = &rd__sqlite_store; /* a plain directory: the default backend */
        rest = url;
    }
    int rc = ops->open(rest, o, out, err);
    if (!rc)
        node_name(o, (*out)->node);
    return rc;
}

void rd_store_close(rd_store *s)
{
    if (s)
        s->ops->close(s);
}

const char *rd_store_name(const rd_store *s) { return s->name; }

bool rd_store_shared(const rd_store *s) { return s->ops->shared; }

const char *rd_store_node(const rd_store *s) { return s->node; }

int rd_store_ping(rd_store *s, rd_err *err) { return s->ops->ping(s, err); }

int rd_store_notify(rd_store *s, const char *what, rd_err *err)
{
    if (!what || strlen(what) > 200)
        return rd_err_set(err, RD_EINVAL, "a change notification names what changed, in at most 200 bytes");
    return s->ops->notify(s, what, err);
}

int rd_store_watch_open(const char *url, rd_store_watch **out, rd_err *err)
{
    *out = NULL;
    const char *rest;
    const rd_store_ops *ops = backend_of(url, &rest);
    return ops && ops->watch_open ? ops->watch_open(rest, out, err) : RD_OK; /* no push: poll */
}

int rd_store_watch_fd(const rd_store_watch *w) { return w ? w->ops->fd(w) : -1; }

int rd_store_watch_next(rd_store_watch *w, char *what, size_t cap, bool *got, rd_err *err)
{
    *got = false;
    return w ? w->ops->next(w, what, cap, got, err) : RD_OK;
}

int rd_store_watch_reconnect(rd_store_watch *w, rd_err *err) { return w ? w->ops->reconnect(w, err) : RD_OK; }

void rd_store_watch_close(rd_store_watch *w)
{
    if (w)
        w->ops->close(w);
}

int rd_store_leader_try(rd_store *s, const char *role, bool *held, rd_err *err)
{
    *held = false;
    if (!role || !*role)
        return rd_err_set(err, RD_EINVAL, "leadership needs a role name");
    return s->ops->leader_try(s, role, held, err);
}

void rd_store_leader_release(rd_store *s, const char *role) { s->ops->leader_release(s, role); }

int rd_store_log_append(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err)
{
    return n ? s->ops->log_append(s, rows, n, err) : RD_OK;
}

int rd_store_log_scan(rd_store *s, const rd_log_filter *f, int (*fn)(void *, const rd_log_row *), void *ud,
                      rd_err *err)
{
    rd_log_filter all = {0};
    return s->ops->log_scan(s, f ? f : &all, fn, ud, err);
}

int rd_store_log_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    return s->ops->log_prune(s, before_ms, deleted, err);
}

int rd_store_applicant_scan(rd_store *s, const char *targeting_key, int64_t after_id,
                            int (*fn)(void *, const rd_applicant_row *), void *ud, int64_t *last_id,
                            rd_err *err)
{
    if (!targeting_key || !*targeting_key)
        return rd_err_set(err, RD_EINVAL, "an applicant's targetingKey is required");
    return s->ops->applicant_scan(s, targeting_key, after_id, fn, ud, last_id, err);
}

int rd_store_applicant_erase(rd_store *s, const int64_t *ids, size_t n, const char *const *request_ids,
                             size_t nreq, rd_applicant_erased *out, rd_err *err)
{
    rd_applicant_erased none = {0};
    if (!n && !nreq) {
        *out = none;
        return RD_OK;
    }
    return s->ops->applicant_erase(s, ids, n, request_ids, nreq, out, err);
}

int rd_store_scrub(rd_store *s, bool *complete, rd_err *err) { return s->ops->scrub(s, complete, err); }

int rd_store_erasure_mark(rd_store *s, const char *key_sha256, int64_t erased_ms, rd_err *err)
{
    if (!key_sha256 || strlen(key_sha256) != RD_SHA256_HEX - 1 ||
        strspn(key_sha256, "0123456789abcdef") != RD_SHA256_HEX - 1)
        return rd_err_set(err, RD_EINVAL,
                          "an erasure's tombstone names the key by its SHA-256 (64 hex digits)");
    return s->ops->erasure_mark(s, key_sha256, erased_ms, err);
}

int rd_store_blob_put(rd_store *s, const void *data, size_t len, char hex[RD_SHA256_HEX], rd_err *err)
{
    rd_sha256_hex(data, len, hex);
    return s->ops->blob_has(s, hex) ? RD_OK : s->ops->blob_put(s, hex, data, len, err);
}

bool rd_store_blob_has(rd_store *s, const char *hex) { return s->ops->blob_has(s, hex); }

int rd_store_blob_get(rd_store *s, const char *hex, char **data, size_t *len, rd_err *err)
{
    return s->ops->blob_get(s, hex, data, len, err);
}

/* ------------------------------------------------------------------ rollouts (rollout.h) */

static const char *const rollout_states[] = {"running", "holding", "paused", "promoted", "rolled_back"};

const char *rd_rollout_state_name(rd_rollout_state s)
{
    return (unsigned)s < sizeof rollout_states / sizeof *rollout_states ? rollout_states[s] : "unknown";
}

int rd_rollout_state_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof rollout_states / sizeof *rollout_states; i++)
        if (!strcmp(name, rollout_states[i]))
            return (int)i;
    return -1;
}

void rd_rollout_row_free(rd_rollout_row *row)
{
    if (row) {
        rd_free(row->plan_json);
        row->plan_json = NULL;
    }
}

int rd_rollout_get(rd_store *s, const char *flag, rd_rollout_row *out, rd_err *err)
{
    return s->ops->rollout_get(s, flag, out, err);
}

int rd_rollout_put(rd_store *s, rd_rollout_row *row, rd_err *err) { return s->ops->rollout_put(s, row, err); }

int rd_rollout_list(rd_store *s, int (*fn)(void *ud, const rd_rollout_row *r), void *ud, rd_err *err)
{
    return s->ops->rollout_list(s, fn, ud, err);
}

int rd_transition_append(rd_store *s, const rd_transition *t, rd_err *err)
{
    return s->ops->transition_append(s, t, err);
}

int rd_transition_list(rd_store *s, const char *flag, size_t limit,
                       int (*fn)(void *ud, const rd_transition *t), void *ud, rd_err *err)
{
    return s->ops->transition_list(s, flag, limit, fn, ud, err);
}

int rd_rollout_set_status(rd_store *s, const char *flag, const char *json, rd_err *err)
{
    return s->ops->rollout_set_status(s, flag, json, err);
}

int rd_rollout_get_status(rd_store *s, const char *flag, char **json, rd_err *err)
{
    return s->ops->rollout_get_status(s, flag, json, err);
}

/* ------------------------------------------------------------------ outcomes */

const char *rd_outcome_result_name(rd_outcome_result r)
{
    switch (r) {
    case RD_OUTCOME_NEW: return "new";
    case RD_OUTCOME_SAME: return "same";
    case RD_OUTCOME_CHANGED: return "changed";
    case RD_OUTCOME_UNKNOWN_REQ: return "unknown_request";
    }
    return "unknown";
}

int rd_store_outcomes_put(rd_store *s, const rd_outcome *o, size_t n, int64_t now_ms,
                          rd_outcome_result *results, rd_err *err)
{
    for (size_t i = 0; i < n; i++) {
        /* the parsers (include/riskd/dlog.h) check far more; this keeps the table sane for any caller */
        if (!o[i].request_id || !o[i].request_id[0] || !o[i].outcome || !o[i].outcome[0])
            return rd_err_set(err, RD_EINVAL, "outcome %zu: a request id and an outcome name are required",
                              i);
        if (o[i].label != 0 && o[i].label != 1)
            return rd_err_set(err, RD_EINVAL, "outcome %zu: label %d is not 0 (good) or 1 (bad)", i,
                              o[i].label);
        if (o[i].observed_ms < 0)
            return rd_err_set(err, RD_EINVAL, "outcome %zu: a negative observation time", i);
    }
    return n ? s->ops->outcomes_put(s, o, n, now_ms, results, err) : RD_OK;
}

/* The scores and labels of the outcomes a KS is computed from. */
typedef struct scored {
    double *score;
    int *label;
    size_t n, cap;
    uint64_t bads;
} scored;

static int add_scored(void *ud, double score, int label)
{
    scored *v = ud;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 1024;
        double *s = rd_realloc(v->score, cap * sizeof *s);
        if (s)
            v->score = s;
        int *l = s ? rd_realloc(v->label, cap * sizeof *l) : NULL;
        if (!l)
            return RD_ENOMEM;
        v->label = l;
        v->cap = cap;
    }
    v->score[v->n] = score;
    v->label[v->n++] = label;
    v->bads += label == 1;
    return 0;
}

int rd_store_outcome_stats(rd_store *s, const char *model_version, const char *variant, const char *outcome,
                           int64_t from_ms, int64_t to_ms, uint64_t min_bads, rd_outcome_stats *out,
                           rd_err *err)
{
    if (!model_version || !outcome)
        return rd_err_set(err, RD_EINVAL, "outcome statistics need a model version and an outcome name");
    rd__outcome_query q = {model_version, variant, outcome, from_ms, to_ms};
    rd_outcome_stats st = {0};
    int rc = s->ops->outcome_counts(s, &q, &st, err);
    if (rc)
        return rc;
    st.bad_rate_approved = st.approved ? (double)st.approved_bads / (double)st.approved : (double)NAN;
    st.ks = (double)NAN;
    /* the KS is computed from the decisions a model scored (a fallback rule's answer has no
     * model score): min_bads counts the bads among those */
    if (st.bads >= min_bads && st.bads > 0) {
        scored v = {0};
        rc = s->ops->outcome_scores(s, &q, add_scored, &v, err);
        if (rc == RD_ENOMEM)
            rd_err_set(err, rc, "out of memory");
        if (!rc && v.bads >= min_bads && v.bads < v.n) {
            st.ks = rd_ks_discrimination(v.score, v.label, v.n);
            if (isnan(st.ks)) /* both classes are there: only memory can have failed */
                rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        }
        rd_free(v.score);
        rd_free(v.label);
        if (rc)
            return rc;
    }
    *out = st;
    return RD_OK;
}

int rd_store_outcome_names(rd_store *s, const char *model_version, int (*fn)(void *, const char *), void *ud,
                           rd_err *err)
{
    return s->ops->outcome_names(s, model_version, fn, ud, err);
}

/* ------------------------------------------------------------------ exposure caps (schema 7)
 *
 * What every backend would otherwise repeat: the checks, the grants (computed here from the
 * stage row read inside the governance transaction, so two nodes never both take the last units)
 * and the transactions. The backends' guarded UPDATE is a second line: under the lock it always
 * matches; a mismatch means a writer that skipped the lock, and the reservation is refused. */

static int exposure_text(const char *what, const char *v, size_t cap, rd_err *err)
{
    if (!v || !*v)
        return rd_err_set(err, RD_EINVAL, "exposure: the %s is empty", what);
    if (strlen(v) >= cap)
        return rd_err_set(err, RD_EINVAL, "exposure: the %s \"%.32s...\" is longer than %zu bytes", what, v,
                          cap - 1);
    return RD_OK;
}

static int check_slice(const rd__slice_key *k, rd_err *err)
{
    rd_exposure_stage_row r;
    int rc = exposure_text("flag", k->flag, sizeof r.flag, err);
    if (!rc)
        rc = exposure_text("stage", k->stage, sizeof r.stage, err);
    if (!rc)
        rc = exposure_text("node", k->node, 256, err);
    if (!rc)
        rc = exposure_text("boot", k->boot, 33, err);
    return rc;
}

static int check_counts(const char *what, int64_t amount, int64_t count, rd_err *err)
{
    if (amount < 0 || count < 0)
        return rd_err_set(err, RD_EINVAL, "exposure: %s %lld units and %lld approvals: a negative number",
                          what, (long long)amount, (long long)count);
    return RD_OK;
}

/* The stage's fixed-size text members must be terminated: the row may come from anywhere. */
static int check_stage(const rd_exposure_stage_row *st, rd_err *err)
{
    if (!memchr(st->plan_sha, '\0', sizeof st->plan_sha) || !memchr(st->field, '\0', sizeof st->field))
        return rd_err_set(err, RD_EINVAL, "exposure: the plan's sha or the amount's field is not terminated");
    if (!(st->unit > 0) || !isfinite(st->unit))
        return rd_err_set(err, RD_EINVAL, "exposure of %s at stage %s: unit %g is not a positive number",
                          st->flag, st->stage, st->unit);
    if ((st->has_amount && st->cap_amount < 0) || (st->has_count && st->cap_count < 0))
        return rd_err_set(err, RD_EINVAL, "exposure of %s at stage %s: a negative cap", st->flag, st->stage);
    return RD_OK;
}

/* min(want, cap - reserved), never negative; the want itself without a cap (bounded so that
 * reserved cannot overflow). */
static int64_t grant_of(int64_t want, bool has_cap, int64_t cap, int64_t reserved)
{
    if (want <= 0)
        return 0;
    int64_t room = INT64_MAX - (reserved > 0 ? reserved : 0);
    if (has_cap)
        room = cap > reserved ? cap - reserved : 0;
    return want < room ? want : room;
}

int rd_store_exposure_reserve(rd_store *s, const rd_exposure_stage_row *stage, const char *node,
                              const char *boot, int64_t want_amount, int64_t want_count, bool mark_exhausted,
                              int64_t now_ms, int64_t *got_amount, int64_t *got_count, rd_err *err)
{
    rd__slice_key k = {stage->flag, stage->stage, stage->stage_started_ms, node, boot};
    int rc = check_slice(&k, err);
    if (!rc)
        rc = check_stage(stage, err);
    if (!rc)
        rc = check_counts("wanted", want_amount, want_count, err);
    if (rc || (rc = rd_store_begin(s, err)))
        return rc;
    rd_exposure_stage_row now;
    int64_t ga = 0, gc = 0;
    bool applied = true;
    rc = s->ops->exposure_stage_put(s, stage, now_ms, &now, err);
    if (!rc) {
        ga = grant_of(want_amount, now.has_amount, now.cap_amount, now.reserved_amount);
        gc = grant_of(want_count, now.has_count, now.cap_count, now.reserved_count);
        bool dry = (want_amount > 0 && ga == 0) || (want_count > 0 && gc == 0);
        int64_t exhausted = mark_exhausted && dry ? now_ms : 0;
        if (ga || gc || exhausted)
            rc = s->ops->exposure_stage_add(s, k.flag, k.stage, k.started_ms, ga, gc, exhausted, now_ms,
                                            &applied, err);
    }
    if (!rc && !applied)
        rc = rd_err_set(
            err, RD_ECONFLICT,
            "%s: exposure of %s at stage %s: the grant no longer fits its cap (a write outside the "
            "governance lock?)",
            s->name, k.flag, k.stage);
    if (!rc)
        rc = s->ops->exposure_slice_grant(s, &k, ga, gc, now_ms, err);
    if (rc) {
        rd_store_rollback(s);
        return rc;
    }
    if ((rc = rd_store_commit(s, err)))
        return rc;
    *got_amount = ga;
    *got_count = gc;
    return RD_OK;
}

/* Why a slice refused a change: RD_ENOTFOUND, or RD_ECONFLICT with what it holds. */
static int slice_refusal(rd_store *s, const rd__slice_key *k, const char *what, int64_t amount, int64_t count,
                         rd_err *err)
{
    rd__slice_row r;
    int rc = s->ops->exposure_slice_get(s, k, &r, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_ENOTFOUND, "%s: exposure of %s at stage %s: no slice of node %s (boot %s)",
                          s->name, k->flag, k->stage, k->node, k->boot);
    if (rc)
        return rc;
    return rd_err_set(
        err, RD_ECONFLICT,
        "%s: exposure of %s at stage %s, node %s: %s %lld units and %lld approvals, but its slice "
        "holds %lld and %lld (reserved - returned), %lld and %lld of them spent",
        s->name, k->flag, k->stage, k->node, what, (long long)amount, (long long)count,
        (long long)(r.reserved_amount - r.returned_amount), (long long)(r.reserved_count - r.returned_count),
        (long long)r.spent_amount, (long long)r.spent_count);
}

int rd_store_exposure_return(rd_store *s, const char *flag, const char *stage, int64_t stage_started_ms,
                             const char *node, const char *boot, int64_t amount, int64_t count, bool close,
                             int64_t now_ms, rd_err *err)
{
    rd__slice_key k = {flag, stage, stage_started_ms, node, boot};
    int rc = check_slice(&k, err);
    if (!rc)
        rc = check_counts("returning", amount, count, err);
    if (rc || (rc = rd_store_begin(s, err)))
        return rc;
    bool applied = false;
    rc = s->ops->exposure_slice_return(s, &k, amount, count, close, now_ms, &applied, err);
    if (!rc && !applied)
        rc = slice_refusal(s, &k, "returning", amount, count, err);
    if (!rc && (amount || count)) {
        rc = s->ops->exposure_stage_add(s, flag, stage, stage_started_ms, -amount, -count, 0, now_ms,
                                        &applied, err);
        if (!rc && !applied)
            rc = rd_err_set(err, RD_ENOTFOUND, "%s: exposure of %s at stage %s: a slice without its stage",
                            s->name, flag, stage);
    }
    if (rc) {
        rd_store_rollback(s);
        return rc;
    }
    return rd_store_commit(s, err);
}

int rd_store_exposure_report(rd_store *s, const char *flag, const char *stage, int64_t stage_started_ms,
                             const char *node, const char *boot, int64_t spent_amount, int64_t spent_count,
                             uint64_t capped, int64_t now_ms, rd_err *err)
{
    rd__slice_key k = {flag, stage, stage_started_ms, node, boot};
    int rc = check_slice(&k, err);
    if (!rc)
        rc = check_counts("spent", spent_amount, spent_count, err);
    if (rc)
        return rc;
    bool applied = false;
    int64_t c = capped > INT64_MAX ? INT64_MAX : (int64_t)capped;
    rc = s->ops->exposure_slice_report(s, &k, spent_amount, spent_count, c, now_ms, &applied, err);
    if (!rc && !applied)
        rc = slice_refusal(s, &k, "spent", spent_amount, spent_count, err);
    return rc;
}

int rd_store_exposure_orphans(rd_store *s, const char *node, const char *boot, int64_t now_ms, rd_err *err)
{
    int rc = exposure_text("node", node, 256, err);
    if (!rc)
        rc = exposure_text("boot", boot, 33, err);
    return rc ? rc : s->ops->exposure_orphans(s, node, boot, now_ms, err);
}

int rd_store_exposure_list(rd_store *s, const char *flag,
                           int (*fn)(void *ud, const rd_exposure_stage_row *st, const rd_exposure_totals *t),
                           void *ud, rd_err *err)
{
    rd_exposure_stage_row r;
    if (flag) {
        int rc = exposure_text("flag", flag, sizeof r.flag, err);
        if (rc)
            return rc;
    }
    return s->ops->exposure_list(s, flag, fn, ud, err);
}
