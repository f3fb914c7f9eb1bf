/* The store's front: picks the backend from the URL and dispatches to it. Callers never test
 * which backend they hold. What every backend would otherwise repeat lives here: the checks of
 * an outcome batch, and the realised KS, computed from the scores and labels a backend streams
 * (so every backend gives the same statistic, to the bit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"
#include "store_int.h"

static const rd_store_ops *const backends[] = {&rd__sqlite_store};

int rd_store_open(const char *url, const rd_store_opts *o, rd_store **out, rd_err *err)
{
    rd_store_opts def = {0};
    if (!o)
        o = &def;
    const char *colon = strchr(url, ':');
    for (size_t i = 0; colon && i < sizeof backends / sizeof(const rd_store_ops *); i++) {
        size_t n = strlen(backends[i]->scheme);
        if ((size_t)(colon - url) == n && !strncmp(url, backends[i]->scheme, n))
            return backends[i]->open(colon + 1, o, out, err);
    }
    if (colon && strstr(url, "://"))
        return rd_err_set(err, RD_EINVAL, "store \"%s\": this riskd stores in sqlite:DIR only", url);
    return rd__sqlite_store.open(url, o, out, err); /* a plain directory: the default backend */
}

void rd_store_close(rd_store *s)
{
    if (s)
        s->ops->close(s);
}

const char *rd_store_name(const rd_store *s) { return s->name; }

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

typedef struct pair {
    double s;
    int label;
} pair;

static int by_score(const void *a, const void *b)
{
    double x = ((const pair *)a)->s, y = ((const pair *)b)->s;
    return (x > y) - (x < y);
}

/* TEMPORARY: the realised KS until rd_ks_discrimination (include/riskd/monitor.h,
 * src/lib/monitor/stats.c) lands; then this function goes and the call below names it.
 * max_s |F_bad(s) - F_good(s)| over the distinct scores, each CDF counting every score <= s
 * (ties stepped over together), as scipy.stats.ks_2samp(bad, good).statistic computes it
 * (searchsorted(..., side="right") / n on both samples). The maximum is found on integers,
 * |cb ng - cg nb|, and divided once by nb ng: the exact rational rounded once, which is the
 * very double scipy returns in its exact mode (it re-rounds D to h / lcm(nb, ng)). NaN when a
 * class is empty or memory runs out. */
static double ks_discrimination(const double *score, const int *label, size_t n)
{
    pair *p = rd_malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return (double)NAN;
    uint64_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = (pair){score[i], label[i]};
        nb += label[i] == 1;
    }
    uint64_t ng = n - nb;
    qsort(p, n, sizeof *p, by_score);
    double d = (double)NAN;
    if (nb && ng) {
        uint64_t cb = 0, cg = 0, best = 0;
        for (size_t i = 0; i < n;) {
            size_t j = i;
            for (; j < n && p[j].s == p[i].s; j++) {
                cb += p[j].label == 1;
                cg += p[j].label != 1;
            }
            uint64_t x = cb * ng, y = cg * nb, diff = x > y ? x - y : y - x;
            best = diff > best ? diff : best;
            i = j;
        }
        d = (double)best / ((double)nb * (double)ng);
    }
    rd_free(p);
    return d;
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
            st.ks = ks_discrimination(v.score, v.label, v.n);
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
