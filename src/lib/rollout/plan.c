/* Rollout plans (docs/schema/rollout.json): parsed, checked against the flag set that will
 * serve them, and turned into the routing flag's targeting for each stage.
 *
 * Invariants after rd_plan_parse: 1 <= nstages <= RD_PLAN_MAX_STAGES; stage names are unique
 * and not empty; candidate weights are in 0..RD_ROLLOUT_TOTAL and never decrease from one
 * stage to the next (monotone widening, reference §2.1); hold_ms > 0 and deadline_ms >= hold_ms
 * (the default, 2 x hold, resolved); each stage's gates are its own followed by the plan's
 * for the metrics it does not list (shadow_agreement only in shadow stages, srm only in stages
 * without a segment), at most RD_PLAN_MAX_GATES; every gate's pass and fail are disjoint; a
 * gate's min_samples is resolved (the stage's unless given; bad_rate: 0; the segment metrics:
 * applicants per group and arm, RD_SEGMENT_MIN_DEFAULT); segment, when present, is the compact
 * JSON text of an object, owned by the plan. Plan segments (at most RD_PLAN_MAX_SEGMENTS) have
 * unique names, rules that compile as JSONLogic (kept as compact JSON, owned), at most one
 * reference (p->reference, else -1); every gate's seg and ref index them or are -1, and the
 * segment metrics' gates appear only in stages with candidate weight > 0 and no routing segment.
 * Caps (max_approved_amount/count) appear only in stages where the candidate serves something
 * and never in the last; an amount cap has max_amount_units in 1..2^53 of exposure.unit and the
 * plan an amount_field; exposure.on when the plan has an "exposure" or any stage a cap, and then
 * unit and slice are resolved (0.01, 0.05). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/logic.h"
#include "riskd/rollout.h"
#include "riskd/text.h"

#define MAX_PLAN_BYTES   (1u << 20)
#define MAX_DURATION_MS  (100LL * 365 * 86400 * 1000) /* a century: anything longer is a typo */
#define MIN_INTERVAL_MS  1000
#define DEFAULT_INTERVAL 60000
#define MAX_FAILURE_LIM  1000000

static const char *const metric_names[RD_M_COUNT] = {"shadow_agreement",
                                                     "approve_rate",
                                                     "review_rate",
                                                     "reject_rate",
                                                     "error_rate",
                                                     "fallback_rate",
                                                     "timeout_rate",
                                                     "latency_p99_ms",
                                                     "score_psi",
                                                     "score_ks",
                                                     "input_psi_max",
                                                     "breaker_open_seconds",
                                                     "srm",
                                                     "bad_rate",
                                                     "adverse_impact_ratio",
                                                     "segment_approve_rate"};

const char *rd_gate_metric_name(rd_gate_metric m)
{
    return (unsigned)m < RD_M_COUNT ? metric_names[m] : "unknown";
}

int rd_gate_metric_parse(const char *name)
{
    for (int i = 0; i < RD_M_COUNT; i++)
        if (name && !strcmp(name, metric_names[i]))
            return i;
    return -1;
}

bool rd_gate_op_holds(rd_gate_op op, double v, double x)
{
    switch (op) {
    case RD_OP_LT: return v < x;
    case RD_OP_LE: return v <= x;
    case RD_OP_GT: return v > x;
    case RD_OP_GE: return v >= x;
    }
    return false;
}

static const char *const op_names[] = {"<", "<=", ">", ">="};

/* Metrics that are a share of decisions (0..1). An adverse impact ratio is not: it may exceed 1. */
static bool is_share(rd_gate_metric m)
{
    return m <= RD_M_TIMEOUT_RATE || m == RD_M_SCORE_KS || m == RD_M_SEGMENT_APPROVE_RATE;
}

/* Metrics judged on one of the plan's segments (fair lending). */
static bool is_segment_metric(rd_gate_metric m)
{
    return m == RD_M_ADVERSE_IMPACT_RATIO || m == RD_M_SEGMENT_APPROVE_RATE;
}

/* Metrics with no counterpart on the control arm, so no ratio or difference (the segment
 * metrics have one: the same segment in the control arm). */
static bool has_control(rd_gate_metric m)
{
    return m != RD_M_SHADOW_AGREEMENT && m != RD_M_SRM && m != RD_M_BAD_RATE &&
           m != RD_M_BREAKER_OPEN_SECONDS;
}

/* Metrics judged by their own test (alpha), not by pass/fail thresholds. */
static bool is_test(rd_gate_metric m) { return m == RD_M_SRM || m == RD_M_BAD_RATE; }

const char *rd_duration_format(int64_t ms, char *buf, size_t cap)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, cap, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return buf;
        }
    snprintf(buf, cap, "%lldms", (long long)ms);
    return buf;
}

/* ---------------------------------------------------------------- parsing helpers */

static void join(char *dst, size_t cap, const char *where, const char *key)
{
    snprintf(dst, cap, "%.160s%s%.64s", where, *where ? "." : "", key);
}

static const rd_value *member(const rd_value *o, const char *key)
{
    return rd_value_get(o, key, strlen(key));
}

/* Every key of o must be one of keys (NULL-terminated); what names the object for the message. */
static int only_keys(const rd_value *o, const char *const *keys, const char *where, const char *what,
                     rd_err *err)
{
    for (uint32_t i = 0; i < o->len; i++) {
        const rd_member *m = &o->u.members[i];
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], m->key) != 0)
            k++;
        if (keys[k] && m->key_len == strlen(m->key))
            continue;
        char at[256];
        join(at, sizeof at, where, m->key);
        for (k = 0; keys[k]; k++)
            if (m->key_len == strlen(m->key) && rd_near_miss(m->key, keys[k]))
                return rd_err_set(err, RD_EINVAL, "%s: not a key of %s (did you mean \"%s\"?)", at, what,
                                  keys[k]);
        char list[256] = "";
        size_t used = 0;
        for (k = 0; keys[k] && used < sizeof list; k++)
            if (keys[k][0] != '$')
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", keys[k]);
        return rd_err_set(err, RD_EINVAL, "%s: not a key of %s (its keys: %s)", at, what, list);
    }
    return RD_OK;
}

static int want_object(const rd_value *v, const char *at, rd_err *err)
{
    return v->type == RD_VOBJECT
               ? RD_OK
               : rd_err_set(err, RD_EINVAL, "%s: must be an object, not %s", at, rd_vtype_name(v->type));
}

/* A non-empty string member (required or not) into buf; "" when absent. */
static int get_str(const rd_value *o, const char *key, const char *where, bool required, char *buf,
                   size_t cap, rd_err *err)
{
    char at[256];
    join(at, sizeof at, where, key);
    const rd_value *v = member(o, key);
    buf[0] = '\0';
    if (!v)
        return required ? rd_err_set(err, RD_EINVAL, "%s: missing", at) : RD_OK;
    if (v->type != RD_VSTRING)
        return rd_err_set(err, RD_EINVAL, "%s: must be a string, not %s", at, rd_vtype_name(v->type));
    if (v->len == 0 || v->len != strlen(v->u.s))
        return rd_err_set(err, RD_EINVAL, "%s: must not be empty (or hold a NUL)", at);
    if (v->len >= cap)
        return rd_err_set(err, RD_EINVAL, "%s: longer than %zu bytes", at, cap - 1);
    memcpy(buf, v->u.s, v->len + 1);
    return RD_OK;
}

/* An integer member in lo..hi; *present tells whether it was given. */
static int get_int(const rd_value *o, const char *key, const char *where, double lo, double hi, int64_t *out,
                   bool *present, rd_err *err)
{
    char at[256];
    join(at, sizeof at, where, key);
    const rd_value *v = member(o, key);
    *present = v != NULL;
    if (!v)
        return RD_OK;
    if (v->type != RD_VNUMBER)
        return rd_err_set(err, RD_EINVAL, "%s: must be a number, not %s", at, rd_vtype_name(v->type));
    double n = v->u.n;
    if (n != floor(n) || n < lo || n > hi)
        return rd_err_set(err, RD_EINVAL, "%s: %.17g is not an integer from %.0f to %.0f", at, n, lo, hi);
    *out = (int64_t)n;
    return RD_OK;
}

static int get_bool(const rd_value *o, const char *key, const char *where, bool *out, rd_err *err)
{
    const rd_value *v = member(o, key);
    if (!v)
        return RD_OK;
    if (v->type != RD_VBOOL) {
        char at[256];
        join(at, sizeof at, where, key);
        return rd_err_set(err, RD_EINVAL, "%s: must be true or false, not %s", at, rd_vtype_name(v->type));
    }
    *out = v->u.b;
    return RD_OK;
}

/* "500ms", "30s", "10m", "2h", "1d" (a decimal number and a unit), or a number of seconds. */
static int parse_duration(const rd_value *v, const char *at, int64_t *ms, rd_err *err)
{
    static const char hint[] = "write \"500ms\", \"30s\", \"10m\", \"2h\", \"1d\" or a number of seconds";
    double x;
    if (v->type == RD_VNUMBER) {
        x = v->u.n * 1000.0;
    } else if (v->type == RD_VSTRING) {
        const char *s = v->u.s;
        size_t i = 0, digits = 0;
        double n = 0, scale = 1;
        for (; s[i] >= '0' && s[i] <= '9'; i++, digits++)
            n = n * 10 + (s[i] - '0');
        if (s[i] == '.')
            for (i++; s[i] >= '0' && s[i] <= '9'; i++, digits++)
                n += (s[i] - '0') * (scale /= 10);
        const char *unit = s + i;
        double mul = !strcmp(unit, "ms")  ? 1
                     : !strcmp(unit, "s") ? 1000
                     : !strcmp(unit, "m") ? 60000
                     : !strcmp(unit, "h") ? 3600000
                     : !strcmp(unit, "d") ? 86400000
                                          : 0;
        if (!digits || mul == 0 || v->len != strlen(s))
            return rd_err_set(err, RD_EINVAL, "%s: \"%.40s\" is not a duration (%s)", at, s, hint);
        x = n * mul;
    } else {
        return rd_err_set(err, RD_EINVAL, "%s: must be a duration, not %s (%s)", at, rd_vtype_name(v->type),
                          hint);
    }
    if (!(x >= 0) || x > (double)MAX_DURATION_MS)
        return rd_err_set(err, RD_EINVAL, "%s: out of range (0 to 100 years)", at);
    *ms = (int64_t)llround(x);
    return RD_OK;
}

static int get_duration(const rd_value *o, const char *key, const char *where, int64_t *ms, bool *present,
                        rd_err *err)
{
    const rd_value *v = member(o, key);
    *present = v != NULL;
    if (!v)
        return RD_OK;
    char at[256];
    join(at, sizeof at, where, key);
    return parse_duration(v, at, ms, err);
}

/* ---------------------------------------------------------------- gates */

/* A gate as parsed, with what was given explicitly. */
typedef struct pgate {
    rd_gate g;
    bool has_min_samples;
    char where[224];
} pgate;

static int parse_threshold(const rd_value *v, const char *at, rd_gate_op *op, double *x, rd_err *err)
{
    if (v->type != RD_VOBJECT || v->len != 1)
        return rd_err_set(err, RD_EINVAL, "%s: must be an object with one operator, e.g. {\"<\": 1.2}", at);
    const rd_member *m = &v->u.members[0];
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(m->key, op_names[i]) && m->key_len == strlen(op_names[i]))
            k = i;
    if (k < 0)
        return rd_err_set(err, RD_EINVAL, "%s: \"%.16s\" is not an operator (<, <=, > or >=)", at, m->key);
    if (m->val.type != RD_VNUMBER)
        return rd_err_set(err, RD_EINVAL, "%s.%s: must be a number, not %s", at, m->key,
                          rd_vtype_name(m->val.type));
    *op = (rd_gate_op)k;
    *x = m->val.u.n;
    return RD_OK;
}

static bool is_upper(rd_gate_op op) { return op == RD_OP_LT || op == RD_OP_LE; }

/* Whether some value satisfies both op_p p and op_f f; *example receives one. */
static bool overlap(rd_gate_op op_p, double p, rd_gate_op op_f, double f, double *example)
{
    if (is_upper(op_p) == is_upper(op_f)) { /* two half-lines pointing the same way */
        *example = is_upper(op_p) ? fmin(p, f) - 1 : fmax(p, f) + 1;
        return true;
    }
    double lo = is_upper(op_p) ? f : p, hi = is_upper(op_p) ? p : f;
    bool lo_in = (is_upper(op_p) ? op_f : op_p) == RD_OP_GE,
         hi_in = (is_upper(op_p) ? op_p : op_f) == RD_OP_LE;
    *example = lo < hi ? (lo + hi) / 2 : lo;
    return lo < hi || (lo == hi && lo_in && hi_in);
}

/* A threshold outside what the metric can be: a share written as a percentage, say. */
static int check_range(const rd_gate *g, double x, const char *at, rd_err *err)
{
    const char *m = metric_names[g->metric];
    if (is_share(g->metric) && g->compare == RD_CMP_ABSOLUTE && (x < 0 || x > 1))
        return rd_err_set(err, RD_EINVAL, "%s: %g is outside 0..1: %s is a share (write %g for %g%%)", at, x,
                          m, x / 100, x);
    if (is_share(g->metric) && g->compare == RD_CMP_DIFFERENCE && (x < -1 || x > 1))
        return rd_err_set(err, RD_EINVAL,
                          "%s: %g is outside -1..1: a difference of two shares (write %g for %g "
                          "points)",
                          at, x, x / 100, x);
    if (x < 0 && g->compare != RD_CMP_DIFFERENCE)
        return rd_err_set(err, RD_EINVAL, "%s: %g: %s%s is never negative", at, x, m,
                          g->compare == RD_CMP_RATIO ? " as a ratio" : "");
    return RD_OK;
}

/* pass and fail: required / refused by the metric's kind, their ranges, no overlap. */
static int parse_pass_fail(const rd_value *v, const char *where, rd_gate *g, rd_err *err)
{
    char at[256];
    const char *name = metric_names[g->metric];
    int rc;
    const rd_value *pass = member(v, "pass"), *fail = member(v, "fail");
    if (is_test(g->metric)) {
        if (pass || fail) {
            join(at, sizeof at, where, pass ? "pass" : "fail");
            return rd_err_set(err, RD_EINVAL,
                              "%s: %s is judged by its test (alpha), not by thresholds: remove pass and fail",
                              at, name);
        }
    } else {
        join(at, sizeof at, where, "pass");
        if (!pass)
            return rd_err_set(err, RD_EINVAL,
                              "%s: missing (the value that lets the stage advance, e.g. {\"<\": 1.2})", at);
        if ((rc = parse_threshold(pass, at, &g->pass_op, &g->pass, err)) ||
            (rc = check_range(g, g->pass, at, err)))
            return rc;
        g->has_pass = true;
        if (fail) {
            join(at, sizeof at, where, "fail");
            if ((rc = parse_threshold(fail, at, &g->fail_op, &g->fail, err)) ||
                (rc = check_range(g, g->fail, at, err)))
                return rc;
            g->has_fail = true;
            double ex;
            if (overlap(g->pass_op, g->pass, g->fail_op, g->fail, &ex))
                return rd_err_set(
                    err, RD_EINVAL,
                    "%s: pass {\"%s\": %g} and fail {\"%s\": %g} overlap: %g would both pass and fail", where,
                    op_names[g->pass_op], g->pass, op_names[g->fail_op], g->fail, ex);
        }
    }
    return RD_OK;
}

/* The plan segment named by a gate's key ("segment" or "reference") into buf and *idx; refused
 * when the plan declares none of that name, with a did-you-mean or the list of its segments. */
static int find_segment(const rd_plan *p, const rd_value *v, const char *key, const char *where, char *buf,
                        size_t cap, int *idx, rd_err *err)
{
    int rc = get_str(v, key, where, true, buf, cap, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < p->nsegments; i++)
        if (!strcmp(p->segments[i].name, buf)) {
            *idx = (int)i;
            return RD_OK;
        }
    char at[256];
    join(at, sizeof at, where, key);
    for (size_t i = 0; i < p->nsegments; i++)
        if (rd_near_miss(buf, p->segments[i].name))
            return rd_err_set(err, RD_EINVAL,
                              "%s: \"%s\" is not a segment of the plan (did you mean \"%s\"?)", at, buf,
                              p->segments[i].name);
    if (p->nsegments == 0)
        return rd_err_set(err, RD_EINVAL,
                          "%s: \"%s\" is not a segment of the plan (it declares none: add \"segments\")", at,
                          buf);
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < p->nsegments && used < sizeof list; i++)
        used +=
            (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", p->segments[i].name);
    return rd_err_set(err, RD_EINVAL, "%s: \"%s\" is not a segment of the plan (its segments: %s)", at, buf,
                      list);
}

/* The keys of the segment metrics: segment, reference (adverse_impact_ratio), judge
 * (segment_approve_rate), refused on the other metrics; min_samples counts applicants per
 * group and arm (RD_SEGMENT_MIN_DEFAULT unless given). */
static int parse_gate_segment(const rd_plan *p, const rd_value *v, const char *where, pgate *out, rd_err *err)
{
    rd_gate *g = &out->g;
    const char *name = metric_names[g->metric];
    const rd_value *seg = member(v, "segment"), *ref = member(v, "reference"), *judge = member(v, "judge");
    char at[256];
    int rc;
    if (!is_segment_metric(g->metric)) {
        if (seg || ref || judge) {
            join(at, sizeof at, where, seg ? "segment" : ref ? "reference" : "judge");
            return rd_err_set(err, RD_EINVAL,
                              "%s: only adverse_impact_ratio and segment_approve_rate judge a segment", at);
        }
        return RD_OK;
    }
    join(at, sizeof at, where, "segment");
    if (!seg)
        return rd_err_set(err, RD_EINVAL, "%s: missing (%s judges one of the plan's \"segments\")", at, name);
    if ((rc = find_segment(p, v, "segment", where, g->segment, sizeof g->segment, &g->seg, err)))
        return rc;
    if (g->metric == RD_M_ADVERSE_IMPACT_RATIO) {
        if (judge) {
            join(at, sizeof at, where, "judge");
            return rd_err_set(err, RD_EINVAL, "%s: only segment_approve_rate is judged on an interval", at);
        }
        if (ref) {
            if ((rc =
                     find_segment(p, v, "reference", where, g->reference, sizeof g->reference, &g->ref, err)))
                return rc;
        } else if (p->reference >= 0) {
            g->ref = p->reference;
            memcpy(g->reference, p->segments[g->ref].name, sizeof g->reference);
        } else {
            join(at, sizeof at, where, "reference");
            return rd_err_set(err, RD_EINVAL,
                              "%s: adverse_impact_ratio needs a reference segment: mark one \"reference\": "
                              "true or give \"reference\"",
                              at);
        }
        if (g->seg == g->ref)
            return rd_err_set(err, RD_EINVAL,
                              "%s.segment: \"%s\" is also the reference: the ratio divides a segment's "
                              "approval rate by another's",
                              where, g->segment);
    } else {
        if (ref) {
            join(at, sizeof at, where, "reference");
            return rd_err_set(
                err, RD_EINVAL,
                "%s: only adverse_impact_ratio divides by a reference segment (segment_approve_rate "
                "compares the segment with itself in the control arm)",
                at);
        }
        char how[16];
        if ((rc = get_str(v, "judge", where, false, how, sizeof how, err)))
            return rc;
        join(at, sizeof at, where, "judge");
        if (how[0] && strcmp(how, "value") != 0 && strcmp(how, "interval") != 0)
            return rd_err_set(err, RD_EINVAL, "%s: \"%s\" is not a judgement (value or interval)", at, how);
        g->interval = how[0] ? !strcmp(how, "interval") : g->compare == RD_CMP_DIFFERENCE;
        /* the interval is Newcombe's, of the difference (rd_segment_figures_compute) */
        if (g->interval && g->compare != RD_CMP_DIFFERENCE)
            return rd_err_set(err, RD_EINVAL,
                              "%s: the interval is of the difference with the control: write \"compare\": "
                              "\"difference\" or \"judge\": \"value\"",
                              at);
        if (g->interval && !g->has_fail)
            return rd_err_set(
                err, RD_EINVAL,
                "%s.fail: missing (judged on an interval, a gate needs fail: \"whatever does not "
                "pass\" would fail every interval still wide early in the stage)",
                where);
    }
    if (!out->has_min_samples)
        g->min_samples = RD_SEGMENT_MIN_DEFAULT;
    else if (g->min_samples == 0)
        return rd_err_set(err, RD_EINVAL,
                          "%s.min_samples: must be at least 1 (applicants per group and arm; default %d)",
                          where, RD_SEGMENT_MIN_DEFAULT);
    return RD_OK;
}

static int parse_gate(const rd_plan *p, const rd_value *v, const char *where, pgate *out, rd_err *err)
{
    static const char *const keys[] = {"metric",      "compare",   "pass",    "fail",  "failure_limit",
                                       "min_samples", "window",    "outcome", "alpha", "nstar",
                                       "segment",     "reference", "judge",   NULL};
    int rc = want_object(v, where, err);
    if (rc || (rc = only_keys(v, keys, where, "a gate", err)))
        return rc;
    memset(out, 0, sizeof *out);
    snprintf(out->where, sizeof out->where, "%.210s", where);
    rd_gate *g = &out->g;
    g->seg = g->ref = -1;
    char at[256], name[64];
    join(at, sizeof at, where, "metric");
    const rd_value *mv = member(v, "metric");
    if (!mv)
        return rd_err_set(err, RD_EINVAL, "%s: missing", at);
    if ((rc = get_str(v, "metric", where, true, name, sizeof name, err)))
        return mv->type == RD_VSTRING && mv->len >= sizeof name
                   ? rd_err_set(err, RD_EINVAL, "%s: \"%.40s...\" is not a metric", at, mv->u.s)
                   : rc;
    int m = rd_gate_metric_parse(name);
    if (m < 0) {
        for (int i = 0; i < RD_M_COUNT; i++)
            if (rd_near_miss(name, metric_names[i]))
                return rd_err_set(err, RD_EINVAL, "%s: \"%s\" is not a metric (did you mean \"%s\"?)", at,
                                  name, metric_names[i]);
        return rd_err_set(
            err, RD_EINVAL,
            "%s: \"%s\" is not a metric (the metrics: shadow_agreement, approve_rate, review_rate, "
            "reject_rate, error_rate, fallback_rate, timeout_rate, latency_p99_ms, score_psi, "
            "score_ks, input_psi_max, breaker_open_seconds, srm, bad_rate, adverse_impact_ratio, "
            "segment_approve_rate)",
            at, name);
    }
    g->metric = (rd_gate_metric)m;

    char cmp[32];
    if ((rc = get_str(v, "compare", where, false, cmp, sizeof cmp, err)))
        return rc;
    join(at, sizeof at, where, "compare");
    if (!cmp[0] || !strcmp(cmp, "absolute"))
        g->compare = RD_CMP_ABSOLUTE;
    else if (!strcmp(cmp, "ratio"))
        g->compare = RD_CMP_RATIO;
    else if (!strcmp(cmp, "difference"))
        g->compare = RD_CMP_DIFFERENCE;
    else
        return rd_err_set(err, RD_EINVAL, "%s: \"%s\" is not a comparison (absolute, ratio or difference)",
                          at, cmp);
    if (g->compare != RD_CMP_ABSOLUTE && !has_control(g->metric))
        return rd_err_set(err, RD_EINVAL, "%s: %s has no counterpart on the control arm, so no %s (%s)", at,
                          name, cmp,
                          g->metric == RD_M_BAD_RATE ? "its test already compares it with the control"
                                                     : "write it as an absolute value");

    if ((rc = parse_pass_fail(v, where, g, err)))
        return rc;

    int64_t n = 0;
    bool present;
    if ((rc = get_int(v, "failure_limit", where, 0, MAX_FAILURE_LIM, &n, &present, err)))
        return rc;
    g->failure_limit = (int)n;
    if ((rc = get_int(v, "min_samples", where, 0, RD_MAX_SAFE_INTEGER, &n, &out->has_min_samples, err)))
        return rc;
    g->min_samples = (uint64_t)n;

    char window[16];
    if ((rc = get_str(v, "window", where, false, window, sizeof window, err)))
        return rc;
    join(at, sizeof at, where, "window");
    if (window[0] && strcmp(window, "stage") != 0 && strcmp(window, "sliding") != 0)
        return rd_err_set(err, RD_EINVAL, "%s: \"%s\" is not a window (stage or sliding)", at, window);
    g->sliding = !strcmp(window, "sliding");

    if ((rc = get_str(v, "outcome", where, g->metric == RD_M_BAD_RATE, g->outcome, sizeof g->outcome, err)))
        return g->metric == RD_M_BAD_RATE && !member(v, "outcome")
                   ? rd_err_set(err, RD_EINVAL,
                                "%s.outcome: missing (bad_rate needs the outcome definition, e.g. "
                                "\"dpd30\" or \"fpd\")",
                                where)
                   : rc;
    if (g->outcome[0] && g->metric != RD_M_BAD_RATE)
        return rd_err_set(err, RD_EINVAL, "%s.outcome: only bad_rate reads outcomes", where);

    const rd_value *alpha = member(v, "alpha"), *nstar = member(v, "nstar");
    bool sar = g->metric == RD_M_SEGMENT_APPROVE_RATE;
    g->alpha = g->metric == RD_M_SRM ? RD_SRM_ALPHA : g->metric == RD_M_BAD_RATE || sar ? 0.05 : 0;
    g->nstar = g->metric == RD_M_BAD_RATE ? RD_CS_DEFAULT_NSTAR : 0;
    if (alpha) {
        join(at, sizeof at, where, "alpha");
        if (!is_test(g->metric) && !sar)
            return rd_err_set(err, RD_EINVAL,
                              "%s: only srm, bad_rate and segment_approve_rate take a significance level",
                              at);
        /* segment_approve_rate's is an interval's level: 0.5 (a 50% interval) is still one */
        if (alpha->type != RD_VNUMBER ||
            !(alpha->u.n > 0 && (alpha->u.n < 0.5 || (sar && alpha->u.n == 0.5))))
            return rd_err_set(err, RD_EINVAL, "%s: must be a number between 0 and 0.5 (e.g. 0.05)", at);
        g->alpha = alpha->u.n;
    }
    if (nstar) {
        join(at, sizeof at, where, "nstar");
        if (g->metric != RD_M_BAD_RATE)
            return rd_err_set(err, RD_EINVAL, "%s: only bad_rate's sequential test takes nstar", at);
        if (nstar->type != RD_VNUMBER || !(nstar->u.n >= 1 && nstar->u.n <= 1e12))
            return rd_err_set(err, RD_EINVAL, "%s: must be a number of units from 1 (e.g. 5000)", at);
        g->nstar = nstar->u.n;
    }
    return parse_gate_segment(p, v, where, out, err);
}

/* Whether two gates judge the same thing: metric, comparison, outcome, segment and reference. */
static bool same_gate(const rd_gate *a, const rd_gate *b)
{
    return a->metric == b->metric && a->compare == b->compare && !strcmp(a->outcome, b->outcome) &&
           !strcmp(a->segment, b->segment) && !strcmp(a->reference, b->reference);
}

/* Parse a gate list; a gate listed twice (same_gate) is refused. */
static int parse_gates(const rd_plan *p, const rd_value *v, const char *where, pgate *out, size_t *n,
                       rd_err *err)
{
    char at[256];
    join(at, sizeof at, where, "gates");
    *n = 0;
    if (!v)
        return RD_OK;
    if (v->type != RD_VARRAY)
        return rd_err_set(err, RD_EINVAL, "%s: must be an array of gates, not %s", at,
                          rd_vtype_name(v->type));
    if (v->len > RD_PLAN_MAX_GATES)
        return rd_err_set(err, RD_EINVAL, "%s: more than %d gates", at, RD_PLAN_MAX_GATES);
    for (uint32_t i = 0; i < v->len; i++) {
        char gw[224];
        snprintf(gw, sizeof gw, "%.200s[%u]", at, i);
        int rc = parse_gate(p, &v->u.items[i], gw, &out[i], err);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (same_gate(&out[j].g, &out[i].g))
                return rd_err_set(err, RD_EINVAL,
                                  "%s.metric: a second %s gate of the same comparison%s%s%s (%s[%u])", gw,
                                  metric_names[out[i].g.metric], out[i].g.segment[0] ? " on segment \"" : "",
                                  out[i].g.segment, out[i].g.segment[0] ? "\"" : "", at, j);
        *n = i + 1;
    }
    return RD_OK;
}

/* ---------------------------------------------------------------- the plan */

typedef struct parse {
    rd_plan *p;
    rd_arena *arena;
    pgate plan_gates[RD_PLAN_MAX_GATES];
    size_t nplan_gates;
    size_t nstages; /* in the plan's "stages" (a cap in the last one is refused) */
    rd_err *err;
} parse;

static int parse_arm(const rd_value *root, const char *key, char *bundle, char *variant, rd_err *err)
{
    static const char *const keys[] = {"bundle", "variant", NULL};
    const rd_value *v = member(root, key);
    if (!v)
        return rd_err_set(err, RD_EINVAL, "%s: missing ({\"bundle\": NAME, \"variant\": VARIANT})", key);
    int rc = want_object(v, key, err);
    if (rc || (rc = only_keys(v, keys, key, key, err)) ||
        (rc = get_str(v, "bundle", key, true, bundle, 128, err)) ||
        (rc = get_str(v, "variant", key, true, variant, 128, err)))
        return rc;
    return RD_OK;
}

static int parse_shadow(parse *ps, const rd_value *v)
{
    static const char *const keys[] = {"flag", "on", "off", NULL};
    rd_plan *p = ps->p;
    int rc = want_object(v, "shadow", ps->err);
    if (rc || (rc = only_keys(v, keys, "shadow", "shadow", ps->err)) ||
        (rc = get_str(v, "flag", "shadow", true, p->shadow_flag, sizeof p->shadow_flag, ps->err)) ||
        (rc = get_str(v, "on", "shadow", true, p->shadow_on, sizeof p->shadow_on, ps->err)) ||
        (rc = get_str(v, "off", "shadow", true, p->shadow_off, sizeof p->shadow_off, ps->err)))
        return rc;
    if (!strcmp(p->shadow_flag, p->route_flag))
        return rd_err_set(ps->err, RD_EINVAL,
                          "shadow.flag: \"%s\" is the routing flag; the shadow needs its own",
                          p->shadow_flag);
    if (!strcmp(p->shadow_on, p->shadow_off))
        return rd_err_set(ps->err, RD_EINVAL, "shadow.off: \"%s\" is also shadow.on", p->shadow_off);
    return RD_OK;
}

/* ---------------------------------------------------------------- exposure caps (§2.1) */

#define EXPOSURE_UNIT_DEFAULT  0.01
#define EXPOSURE_SLICE_DEFAULT 0.05
#define EXPOSURE_UNIT_MAX      1e6

/* "context.<path>" or "features.<path>", the path's steps separated by dots and none empty (the
 * same form rd_exposure_new reads, so that a plan it would refuse is refused here, with a path). */
static bool amount_field_ok(const char *f)
{
    const char *rest = !strncmp(f, "context.", 8) ? f + 8 : !strncmp(f, "features.", 9) ? f + 9 : NULL;
    if (!rest || !*rest)
        return false;
    size_t n = strlen(rest);
    return rest[0] != '.' && rest[n - 1] != '.' && !strstr(rest, "..");
}

/* A number member in (0, hi]; *out keeps its default when absent. */
static int get_positive(const rd_value *o, const char *key, const char *where, double hi, double *out,
                        rd_err *err)
{
    const rd_value *v = member(o, key);
    if (!v)
        return RD_OK;
    char at[256];
    join(at, sizeof at, where, key);
    if (v->type != RD_VNUMBER || !(v->u.n > 0 && v->u.n <= hi))
        return rd_err_set(err, RD_EINVAL, "%s: must be a number more than 0 and at most %g", at, hi);
    *out = v->u.n;
    return RD_OK;
}

static int parse_exposure(rd_plan *p, const rd_value *v, rd_err *err)
{
    static const char *const keys[] = {"amount_field", "unit", "slice", NULL};
    rd_plan_exposure *e = &p->exposure;
    int rc = want_object(v, "exposure", err);
    if (rc || (rc = only_keys(v, keys, "exposure", "exposure", err)) ||
        (rc = get_str(v, "amount_field", "exposure", false, e->amount_field, sizeof e->amount_field, err)))
        return rc;
    if (e->amount_field[0] && !amount_field_ok(e->amount_field))
        return rd_err_set(err, RD_EINVAL,
                          "exposure.amount_field: \"%s\" must be \"context.<path>\" or \"features.<path>\" "
                          "(e.g. \"features.Amount\"; dots walk nested objects, no step empty)",
                          e->amount_field);
    e->on = true;
    e->unit = EXPOSURE_UNIT_DEFAULT;
    e->slice = EXPOSURE_SLICE_DEFAULT;
    if ((rc = get_positive(v, "unit", "exposure", EXPOSURE_UNIT_MAX, &e->unit, err)) ||
        (rc = get_positive(v, "slice", "exposure", 1, &e->slice, err)))
        return rc;
    return RD_OK;
}

/* A stage's max_approved_amount and max_approved_count into s->caps. Refused where a cap could
 * not work: a stage whose candidate serves nothing has no approval to cap, and the last stage's
 * entry is the promotion, after which no cap applies, so its cap would never lift. */
static int parse_caps(parse *ps, const rd_value *v, size_t idx, rd_stage *s, const char *where)
{
    rd_err *err = ps->err;
    rd_plan *p = ps->p;
    rd_stage_caps *c = &s->caps;
    char at[256];
    const rd_value *amount = member(v, "max_approved_amount");
    int64_t n = 0;
    int rc = get_int(v, "max_approved_count", where, 1, RD_MAX_SAFE_INTEGER, &n, &c->has_count, err);
    if (rc)
        return rc;
    c->max_count = c->has_count ? n : 0;
    if (amount) {
        join(at, sizeof at, where, "max_approved_amount");
        if (amount->type != RD_VNUMBER || !(amount->u.n > 0) || !isfinite(amount->u.n))
            return rd_err_set(err, RD_EINVAL,
                              "%s: must be a number more than 0 (in the amount field's currency)", at);
        c->has_amount = true;
        c->max_amount = amount->u.n;
    }
    if (!c->has_amount && !c->has_count)
        return RD_OK;
    join(at, sizeof at, where, c->has_amount ? "max_approved_amount" : "max_approved_count");
    if (s->candidate == 0 && !s->has_segment)
        return rd_err_set(err, RD_EINVAL,
                          "%s: a shadow stage approves nothing (candidate_weight 0 and no segment): there is "
                          "no approval to cap",
                          at);
    if (idx + 1 == ps->nstages)
        return rd_err_set(err, RD_EINVAL,
                          "%s: not in the last stage: its entry is the promotion, after which no cap "
                          "applies, so the cap would never lift",
                          at);
    if (c->has_amount) {
        join(at, sizeof at, where, "max_approved_amount");
        if (!p->exposure.amount_field[0])
            return rd_err_set(err, RD_EINVAL,
                              "%s: needs the plan's exposure.amount_field (where a request's amount is "
                              "read, e.g. {\"exposure\": {\"amount_field\": \"features.Amount\"}})",
                              at);
        c->max_amount_units = rd_exposure_cap_units(c->max_amount, p->exposure.unit);
        if (c->max_amount_units < 0)
            return rd_err_set(err, RD_EINVAL, "%s: %.17g is more than 2^53 units of %g (exposure.unit)", at,
                              c->max_amount, p->exposure.unit);
        if (c->max_amount_units == 0)
            return rd_err_set(err, RD_EINVAL, "%s: %.17g is less than one unit of %g (exposure.unit)", at,
                              c->max_amount, p->exposure.unit);
    }
    if (!p->exposure.on) { /* count caps alone need no exposure block: its defaults apply */
        p->exposure.on = true;
        p->exposure.unit = EXPOSURE_UNIT_DEFAULT;
        p->exposure.slice = EXPOSURE_SLICE_DEFAULT;
    }
    return RD_OK;
}

/* Whether the stage's candidate arm is a randomised sample of applicants, which a segment gate
 * compares with the control: not when the candidate serves nothing (weight 0, a shadow stage)
 * nor when a routing segment sends it chosen requests whatever the weights. */
static bool randomised(const rd_stage *s) { return s->candidate > 0 && !s->has_segment; }

/* Whether a plan gate applies to stage s (a gate of the same metric and segment listed by the
 * stage wins). */
static bool inherits(const rd_stage *s, const pgate *own, size_t nown, const rd_gate *g)
{
    if (g->metric == RD_M_SHADOW_AGREEMENT && !s->shadow)
        return false; /* nothing to agree with outside a shadow stage */
    if (g->metric == RD_M_SRM && s->has_segment)
        return false; /* the segment's requests are not assigned by the weights */
    if (is_segment_metric(g->metric) && !randomised(s))
        return false;
    for (size_t i = 0; i < nown; i++)
        if (own[i].g.metric == g->metric && !strcmp(own[i].g.segment, g->segment))
            return false;
    return true;
}

static int parse_stage(parse *ps, const rd_value *v, size_t idx, rd_stage *s)
{
    static const char *const keys[] = {"name",
                                       "description",
                                       "shadow",
                                       "candidate_weight",
                                       "segment",
                                       "hold",
                                       "deadline",
                                       "min_samples",
                                       "gates",
                                       "max_approved_amount",
                                       "max_approved_count",
                                       NULL};
    rd_err *err = ps->err;
    char where[160], at[256];
    snprintf(where, sizeof where, "stages[%zu]", idx);
    int rc = want_object(v, where, err);
    if (rc)
        return rc;
    const rd_value *nv = member(v, "name");
    if (!nv)
        return rd_err_set(err, RD_EINVAL, "%s.name: missing (every stage needs a name)", where);
    if ((rc = get_str(v, "name", where, true, s->name, sizeof s->name, err)))
        return rc;
    snprintf(where, sizeof where, "stages[%zu] (\"%s\")", idx, s->name);
    if ((rc = only_keys(v, keys, where, "a stage", err)))
        return rc;
    for (size_t j = 0; j < idx; j++)
        if (!strcmp(ps->p->stages[j].name, s->name))
            return rd_err_set(err, RD_EINVAL, "%s.name: stages[%zu] has the same name", where, j);
    if ((rc = get_bool(v, "shadow", where, &s->shadow, err)))
        return rc;
    if (s->shadow && !ps->p->shadow_flag[0])
        return rd_err_set(err, RD_EINVAL,
                          "%s.shadow: true, but the plan has no \"shadow\" flag to name the candidate",
                          where);

    int64_t n = 0;
    bool present;
    if ((rc = get_int(v, "candidate_weight", where, 0, RD_ROLLOUT_TOTAL, &n, &present, err)))
        return rc;
    if (!present)
        return rd_err_set(err, RD_EINVAL, "%s.candidate_weight: missing (the candidate's share out of %d)",
                          where, RD_ROLLOUT_TOTAL);
    s->candidate = (uint32_t)n;
    if (idx > 0 && s->candidate < ps->p->stages[idx - 1].candidate)
        return rd_err_set(
            err, RD_EINVAL,
            "%s.candidate_weight: %u is less than the previous stage's %u (\"%s\"): stages only "
            "widen, so that every applicant the candidate scored keeps it (a narrower step is a "
            "rollback)",
            where, s->candidate, ps->p->stages[idx - 1].candidate, ps->p->stages[idx - 1].name);

    const rd_value *seg = member(v, "segment");
    if (seg && seg->type != RD_VNULL) {
        join(at, sizeof at, where, "segment");
        if (seg->type != RD_VOBJECT || seg->len == 0)
            return rd_err_set(err, RD_EINVAL,
                              "%s: must be a JSONLogic object (e.g. {\"$ref\": \"internal_staff\"}), not %s",
                              at, seg->type == RD_VOBJECT ? "an empty object" : rd_vtype_name(seg->type));
        rd_buf b;
        rd_buf_init(&b);
        rd_json_write(&b, seg);
        s->segment = b.oom ? NULL : rd_strndup(b.data, b.len);
        rd_buf_deinit(&b);
        if (!s->segment)
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        s->has_segment = true;
    }

    if ((rc = get_duration(v, "hold", where, &s->hold_ms, &present, err)))
        return rc;
    if (!present)
        return rd_err_set(err, RD_EINVAL,
                          "%s.hold: missing (how long the stage is held before it may advance)", where);
    if (s->hold_ms <= 0)
        return rd_err_set(err, RD_EINVAL, "%s.hold: must be more than 0", where);
    if ((rc = get_duration(v, "deadline", where, &s->deadline_ms, &present, err)))
        return rc;
    char d1[24], d2[24];
    if (!present)
        s->deadline_ms = 2 * s->hold_ms;
    else if (s->deadline_ms <= 0)
        return rd_err_set(err, RD_EINVAL, "%s.deadline: must be more than 0", where);
    else if (s->deadline_ms < s->hold_ms)
        return rd_err_set(err, RD_EINVAL,
                          "%s.deadline: %s is shorter than the hold (%s): the stage could never pass", where,
                          rd_duration_format(s->deadline_ms, d1, sizeof d1),
                          rd_duration_format(s->hold_ms, d2, sizeof d2));
    if ((rc = get_int(v, "min_samples", where, 0, RD_MAX_SAFE_INTEGER, &n, &present, err)))
        return rc;
    s->min_samples = present ? (uint64_t)n : 0;
    if ((rc = parse_caps(ps, v, idx, s, where)))
        return rc;

    pgate own[RD_PLAN_MAX_GATES];
    size_t nown;
    if ((rc = parse_gates(ps->p, member(v, "gates"), where, own, &nown, err)))
        return rc;
    for (size_t i = 0; i < nown; i++) {
        if (own[i].g.metric == RD_M_SHADOW_AGREEMENT && !s->shadow)
            return rd_err_set(
                err, RD_EINVAL,
                "%s.metric: shadow_agreement needs a shadow stage (\"shadow\": true): the candidate "
                "scores nothing in shadow here",
                own[i].where);
        if (own[i].g.metric == RD_M_SRM && s->has_segment)
            return rd_err_set(
                err, RD_EINVAL,
                "%s.metric: srm cannot judge a stage with a segment: the segment's requests go to "
                "the candidate whatever the weights",
                own[i].where);
        if (is_segment_metric(own[i].g.metric) && !randomised(s))
            return rd_err_set(err, RD_EINVAL,
                              "%s.metric: %s cannot judge a stage %s: its candidate arm is not a randomised "
                              "sample of applicants to compare with the control",
                              own[i].where, metric_names[own[i].g.metric],
                              s->has_segment ? "with a segment" : "where the candidate approves nothing");
    }
    s->ngates = 0;
    for (size_t i = 0; i < nown + ps->nplan_gates; i++) {
        const pgate *pg = i < nown ? &own[i] : &ps->plan_gates[i - nown];
        if (i >= nown && !inherits(s, own, nown, &pg->g))
            continue;
        if (s->ngates == RD_PLAN_MAX_GATES)
            return rd_err_set(err, RD_EINVAL, "%s.gates: more than %d with the plan's", where,
                              RD_PLAN_MAX_GATES);
        rd_gate *g = &s->gates[s->ngates++];
        *g = pg->g;
        if (!pg->has_min_samples && !is_segment_metric(g->metric)) /* theirs: per group and arm */
            g->min_samples = g->metric == RD_M_BAD_RATE ? 0 : s->min_samples;
    }
    return RD_OK;
}

/* A plan segment's name: [A-Za-z0-9_.-]{1,63} (it appears in gates, logs and metrics labels). */
static bool segment_name_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '.' || *s == '-'))
            return false;
    return true;
}

/* The rule: a JSONLogic object, compiled here once so that an unknown operator is refused with
 * its path, and kept as compact JSON text (the controller compiles its own). */
static int parse_segment_rule(rd_plan_segment *sg, const rd_value *rule, const char *where, rd_err *err)
{
    char at[256];
    join(at, sizeof at, where, "rule");
    if (!rule)
        return rd_err_set(err, RD_EINVAL,
                          "%s: missing (JSONLogic over context and features, e.g. {\"<\": [{\"var\": "
                          "\"features.Age\"}, 25]})",
                          at);
    if (rule->type != RD_VOBJECT || rule->len == 0)
        return rd_err_set(err, RD_EINVAL, "%s: must be a JSONLogic object, not %s", at,
                          rule->type == RD_VOBJECT ? "an empty object" : rd_vtype_name(rule->type));
    rd_logic *l = NULL;
    int rc = rd_logic_compile(rule, NULL, &l, err);
    rd_logic_free(l);
    if (rc) {
        rd_err_prefix(err, "%.120s", at);
        if (rc == RD_EPARSE && err) /* an unknown operator: a plan refused like any other */
            err->code = rc = RD_EINVAL;
        return rc;
    }
    rd_buf b;
    rd_buf_init(&b);
    rd_json_write(&b, rule);
    sg->rule = b.oom ? NULL : rd_strndup(b.data, b.len);
    rd_buf_deinit(&b);
    return sg->rule ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

static int parse_segment(rd_plan *p, const rd_value *v, size_t idx, rd_err *err)
{
    static const char *const keys[] = {"name", "rule", "reference", NULL};
    rd_plan_segment *sg = &p->segments[idx];
    char where[160];
    snprintf(where, sizeof where, "segments[%zu]", idx);
    int rc = want_object(v, where, err);
    if (rc || (rc = get_str(v, "name", where, true, sg->name, sizeof sg->name, err)))
        return rc;
    if (!segment_name_ok(sg->name))
        return rd_err_set(err, RD_EINVAL, "%s.name: \"%s\" has a character outside A-Z a-z 0-9 _ . -", where,
                          sg->name);
    snprintf(where, sizeof where, "segments[%zu] (\"%s\")", idx, sg->name);
    if ((rc = only_keys(v, keys, where, "a segment", err)))
        return rc;
    for (size_t j = 0; j < idx; j++)
        if (!strcmp(p->segments[j].name, sg->name))
            return rd_err_set(err, RD_EINVAL, "%s.name: segments[%zu] has the same name", where, j);
    if ((rc = get_bool(v, "reference", where, &sg->reference, err)))
        return rc;
    if (sg->reference && p->reference >= 0)
        return rd_err_set(err, RD_EINVAL,
                          "%s.reference: segments[%d] (\"%s\") is already the reference (at most one)", where,
                          p->reference, p->segments[p->reference].name);
    if (sg->reference)
        p->reference = (int)idx;
    return parse_segment_rule(sg, member(v, "rule"), where, err);
}

static int parse_segments(rd_plan *p, const rd_value *v, rd_err *err)
{
    if (v->type != RD_VARRAY)
        return rd_err_set(err, RD_EINVAL, "segments: must be an array of {\"name\", \"rule\"}, not %s",
                          rd_vtype_name(v->type));
    if (v->len > RD_PLAN_MAX_SEGMENTS)
        return rd_err_set(err, RD_EINVAL, "segments: %u segments, more than %d", v->len,
                          RD_PLAN_MAX_SEGMENTS);
    for (uint32_t i = 0; i < v->len; i++) {
        p->nsegments = i + 1; /* so rd_plan_free releases what this segment allocated */
        int rc = parse_segment(p, &v->u.items[i], i, err);
        if (rc)
            return rc;
    }
    return RD_OK;
}

static int parse_root(parse *ps, const rd_value *root)
{
    static const char *const keys[] = {"$schema", "name",      "description", "route_flag", "shadow",
                                       "control", "candidate", "interval",    "segments",   "exposure",
                                       "gates",   "stages",    NULL};
    rd_plan *p = ps->p;
    rd_err *err = ps->err;
    if (root->type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "a plan must be a JSON object, not %s", rd_vtype_name(root->type));
    int rc;
    if ((rc = only_keys(root, keys, "", "a plan", err)) ||
        (rc = get_str(root, "name", "", true, p->name, sizeof p->name, err)) ||
        (rc = get_str(root, "route_flag", "", true, p->route_flag, sizeof p->route_flag, err)) ||
        (rc = parse_arm(root, "control", p->control, p->control_variant, err)) ||
        (rc = parse_arm(root, "candidate", p->candidate, p->candidate_variant, err)))
        return rc;
    if (!strcmp(p->control, p->candidate))
        return rd_err_set(err, RD_EINVAL, "candidate.bundle: \"%s\" is also the control", p->candidate);
    if (!strcmp(p->control_variant, p->candidate_variant))
        return rd_err_set(err, RD_EINVAL, "candidate.variant: \"%s\" is also the control's",
                          p->candidate_variant);
    const rd_value *sh = member(root, "shadow");
    if (sh && (rc = parse_shadow(ps, sh)))
        return rc;
    bool present;
    p->interval_ms = DEFAULT_INTERVAL;
    if ((rc = get_duration(root, "interval", "", &p->interval_ms, &present, err)))
        return rc;
    if (p->interval_ms < MIN_INTERVAL_MS)
        return rd_err_set(err, RD_EINVAL, "interval: must be at least 1s (gates are evaluated that often)");
    const rd_value *ex = member(root, "exposure");
    if (ex && (rc = parse_exposure(p, ex, err)))
        return rc;
    const rd_value *segs = member(root, "segments");
    if (segs && (rc = parse_segments(p, segs, err)))
        return rc;
    if ((rc = parse_gates(p, member(root, "gates"), "", ps->plan_gates, &ps->nplan_gates, err)))
        return rc;
    for (size_t i = 0; i < ps->nplan_gates; i++)
        if (ps->plan_gates[i].g.metric == RD_M_SHADOW_AGREEMENT && !p->shadow_flag[0])
            return rd_err_set(err, RD_EINVAL, "%s.metric: shadow_agreement needs the plan's \"shadow\" flag",
                              ps->plan_gates[i].where);
    const rd_value *st = member(root, "stages");
    if (!st)
        return rd_err_set(err, RD_EINVAL, "stages: missing");
    if (st->type != RD_VARRAY || st->len == 0)
        return rd_err_set(err, RD_EINVAL, "stages: must be a non-empty array of stages%s",
                          st->type == RD_VARRAY ? "" : ", not a single value");
    if (st->len > RD_PLAN_MAX_STAGES)
        return rd_err_set(err, RD_EINVAL, "stages: %u stages, more than %d", st->len, RD_PLAN_MAX_STAGES);
    ps->nstages = st->len;
    for (uint32_t i = 0; i < st->len; i++) {
        p->nstages = i + 1; /* so rd_plan_free releases what this stage allocated */
        if ((rc = parse_stage(ps, &st->u.items[i], i, &p->stages[i])))
            return rc;
    }
    return RD_OK;
}

int rd_plan_parse(const char *text, size_t len, rd_plan **out, rd_err *err)
{
    rd_plan *p = rd_calloc(1, sizeof *p);
    if (!p)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_json_limits lim = {.max_bytes = MAX_PLAN_BYTES, .max_depth = 64};
    rd_value root;
    parse *ps = rd_calloc(1, sizeof *ps);
    if (!ps) {
        rd_arena_deinit(&arena);
        rd_plan_free(p);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    int rc = rd_json_parse(text, len, &lim, &arena, &root, err);
    p->reference = -1;
    if (rc == RD_OK) {
        *ps = (parse){.p = p, .arena = &arena, .err = err};
        rc = parse_root(ps, &root);
    }
    rd_free(ps);
    rd_arena_deinit(&arena);
    if (rc != RD_OK) {
        rd_plan_free(p);
        return rc;
    }
    rd_sha256_hex(text, len, p->sha256);
    *out = p;
    return RD_OK;
}

int rd_plan_load(const char *path, rd_plan **out, rd_err *err)
{
    char *text;
    size_t len;
    int rc = rd_file_read(path, MAX_PLAN_BYTES, &text, &len, err);
    if (rc != RD_OK)
        return rc;
    rc = rd_plan_parse(text, len, out, err);
    rd_free(text);
    if (rc != RD_OK)
        rd_err_prefix(err, "%s", path);
    return rc;
}

void rd_plan_free(rd_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nstages; i++)
        rd_free(p->stages[i].segment);
    for (size_t i = 0; i < p->nsegments; i++)
        rd_free(p->segments[i].rule);
    rd_free(p);
}

/* ---------------------------------------------------------------- checks against a flag set */

static bool is_member(const rd_member *m, const char *k)
{
    return m->key_len == strlen(k) && !strcmp(m->key, k);
}

/* "a", "b", "c" of an object's keys, into buf. */
static const char *key_list(const rd_value *o, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < o->len && used + 1 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s\"%.40s\"", i ? ", " : "", o->u.members[i].key);
    return buf;
}

static int check_arm(const rd_plan *p, const rd_value *vars, const char *arm, const char *variant,
                     const char *bundle, rd_err *err)
{
    char list[200];
    const rd_value *v = rd_value_get(vars, variant, strlen(variant));
    if (!v)
        return rd_err_set(err, RD_EINVAL,
                          "%s.variant: the routing flag \"%s\" has no variant \"%s\" (its variants: %s)", arm,
                          p->route_flag, variant, key_list(vars, list, sizeof list));
    if (v->type != RD_VSTRING)
        return rd_err_set(err, RD_EINVAL,
                          "%s.variant: the routing flag's variant \"%s\" is a %s, not a bundle name", arm,
                          variant, rd_vtype_name(v->type));
    if (strcmp(v->u.s, bundle) != 0)
        return rd_err_set(err, RD_EINVAL,
                          "%s.bundle: the routing flag's variant \"%s\" names \"%s\", not \"%s\"", arm,
                          variant, v->u.s, bundle);
    return RD_OK;
}

/* The routing flag's current targeting must be one a stage rewrites without moving anyone
 * between models: no targeting yet, or [the `if` of a segment around] a fractional on the
 * default bucketing key that lists the candidate first and totals RD_ROLLOUT_TOTAL. */
static int check_route_targeting(const rd_plan *p, const rd_value *t, rd_err *err)
{
    static const char advice[] =
        "a stage change would move applicants between models; rewrite it candidate-first "
        "out of 100000";
    if (t->type == RD_VNULL || (t->type == RD_VOBJECT && t->len == 0))
        return RD_OK; /* no buckets yet: the first stage draws them */
    const rd_value *frac = NULL;
    if (t->type == RD_VOBJECT && t->len == 1 && is_member(&t->u.members[0], "fractional")) {
        frac = &t->u.members[0].val;
    } else if (t->type == RD_VOBJECT && t->len == 1 && is_member(&t->u.members[0], "if")) {
        const rd_value *a = &t->u.members[0].val;
        if (a->type == RD_VARRAY && a->len == 3 && a->u.items[1].type == RD_VSTRING &&
            !strcmp(a->u.items[1].u.s, p->candidate_variant) && a->u.items[2].type == RD_VOBJECT &&
            a->u.items[2].len == 1 && is_member(&a->u.items[2].u.members[0], "fractional"))
            frac = &a->u.items[2].u.members[0].val;
    }
    if (!frac)
        return rd_err_set(
            err, RD_EINVAL,
            "route_flag: the targeting of \"%s\" is not a fractional split (nor {\"if\": [SEGMENT, "
            "\"%s\", {\"fractional\": ...}]}): %s, or pass --reshuffle",
            p->route_flag, p->candidate_variant, advice);
    if (frac->type != RD_VARRAY || frac->len == 0)
        return rd_err_set(err, RD_EINVAL,
                          "route_flag: the fractional of \"%s\" has no buckets: %s, or pass --reshuffle",
                          p->route_flag, advice);
    if (frac->u.items[0].type != RD_VARRAY)
        return rd_err_set(
            err, RD_EINVAL,
            "route_flag: the fractional of \"%s\" buckets by its own key, and a stage writes the "
            "default (flagKey + targetingKey): %s, or pass --reshuffle",
            p->route_flag, advice);
    double total = 0, cand = 0;
    bool cand_first = false, others = false, bad_weight = false;
    const char *first = "";
    for (uint32_t i = 0; i < frac->len; i++) {
        const rd_value *b = &frac->u.items[i];
        const char *name = b->type == RD_VARRAY && b->len >= 1 && b->u.items[0].type == RD_VSTRING
                               ? b->u.items[0].u.s
                               : NULL;
        double w =
            b->type == RD_VARRAY && b->len == 2 && b->u.items[1].type == RD_VNUMBER ? b->u.items[1].u.n : -1;
        if (!name || w < 0 || w != floor(w)) {
            bad_weight = true;
            continue;
        }
        if (i == 0)
            first = name;
        if (i == 0 && !strcmp(name, p->candidate_variant))
            cand_first = true;
        if (!strcmp(name, p->candidate_variant))
            cand += w;
        else if (strcmp(name, p->control_variant) != 0)
            others = true;
        total += w;
    }
    if (bad_weight)
        return rd_err_set(
            err, RD_EINVAL,
            "route_flag: the fractional of \"%s\" has a bucket that is not [\"variant\", integer "
            "weight]: %s, or pass --reshuffle",
            p->route_flag, advice);
    if (others || frac->len != 2)
        return rd_err_set(
            err, RD_EINVAL,
            "route_flag: the fractional of \"%s\" splits between %u buckets, not the candidate's and "
            "the control's: %s, or pass --reshuffle",
            p->route_flag, frac->len, advice);
    if (cand_first && total == RD_ROLLOUT_TOTAL)
        return RD_OK;
    char faults[200] = "";
    if (!cand_first)
        snprintf(faults, sizeof faults, "lists \"%s\" first", first);
    if (total != RD_ROLLOUT_TOTAL)
        snprintf(faults + strlen(faults), sizeof faults - strlen(faults), "%stotals %.0f",
                 cand_first ? "" : " and ", total);
    double w = total > 0 ? floor(cand * RD_ROLLOUT_TOTAL / total + 0.5) : 0;
    return rd_err_set(
        err, RD_EINVAL,
        "route_flag: the fractional of \"%s\" %s: %s ([[\"%s\", %.0f], [\"%s\", %.0f]]), or pass "
        "--reshuffle",
        p->route_flag, faults, advice, p->candidate_variant, w, p->control_variant, RD_ROLLOUT_TOTAL - w);
}

/* Whether the shadow variant's value {"bundles": [...]} lists bundle. */
static bool lists_bundle(const rd_value *v, const char *bundle)
{
    const rd_value *b = v && v->type == RD_VOBJECT ? member(v, "bundles") : NULL;
    for (uint32_t i = 0; b && b->type == RD_VARRAY && i < b->len; i++)
        if (b->u.items[i].type == RD_VSTRING && !strcmp(b->u.items[i].u.s, bundle))
            return true;
    return false;
}

static int check_shadow(const rd_plan *p, const rd_flagset *flags, rd_err *err)
{
    char list[200];
    long fi = rd_flagset_find(flags, p->shadow_flag, strlen(p->shadow_flag));
    if (fi < 0)
        return rd_err_set(err, RD_EINVAL, "shadow.flag: \"%s\" is not a flag of the flag set",
                          p->shadow_flag);
    rd_value vars;
    rd_flagset_variants(flags, (size_t)fi, &vars);
    const rd_value *on = rd_value_get(&vars, p->shadow_on, strlen(p->shadow_on));
    const rd_value *off = rd_value_get(&vars, p->shadow_off, strlen(p->shadow_off));
    if (!on || !off)
        return rd_err_set(err, RD_EINVAL,
                          "shadow.%s: the shadow flag \"%s\" has no variant \"%s\" (its variants: %s)",
                          on ? "off" : "on", p->shadow_flag, on ? p->shadow_off : p->shadow_on,
                          key_list(&vars, list, sizeof list));
    if (!lists_bundle(on, p->candidate))
        return rd_err_set(
            err, RD_EINVAL,
            "shadow.on: the shadow flag's variant \"%s\" does not list the candidate \"%s\" in its "
            "{\"bundles\": [...]}",
            p->shadow_on, p->candidate);
    if (lists_bundle(off, p->candidate))
        return rd_err_set(err, RD_EINVAL,
                          "shadow.off: the shadow flag's variant \"%s\" lists the candidate \"%s\"",
                          p->shadow_off, p->candidate);
    return RD_OK;
}

static int check_loaded(const char *arm, const char *bundle, const char *const *bundles, size_t n,
                        rd_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(bundles[i], bundle))
            return RD_OK;
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used + 1 < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s\"%.60s\"", i ? ", " : "", bundles[i]);
    return rd_err_set(err, RD_EINVAL, "%s.bundle: \"%s\" is not loaded (%s%s)", arm, bundle,
                      n ? "the bundles: " : "no bundle is loaded", list);
}

int rd_plan_check(const rd_plan *p, const rd_flagset *flags, const char *const *bundles, size_t n,
                  bool reshuffle, rd_err *err)
{
    int rc;
    if (flags) {
        long fi = rd_flagset_find(flags, p->route_flag, strlen(p->route_flag));
        if (fi < 0) {
            for (size_t i = 0; i < rd_flagset_count(flags); i++)
                if (rd_near_miss(p->route_flag, rd_flagset_key(flags, i)))
                    return rd_err_set(
                        err, RD_EINVAL,
                        "route_flag: \"%s\" is not a flag of the flag set (did you mean \"%s\"?)",
                        p->route_flag, rd_flagset_key(flags, i));
            return rd_err_set(err, RD_EINVAL, "route_flag: \"%s\" is not a flag of the flag set",
                              p->route_flag);
        }
        rd_value vars, t;
        rd_flagset_variants(flags, (size_t)fi, &vars);
        if ((rc = check_arm(p, &vars, "control", p->control_variant, p->control, err)) ||
            (rc = check_arm(p, &vars, "candidate", p->candidate_variant, p->candidate, err)))
            return rc;
        rd_flagset_targeting(flags, (size_t)fi, &t);
        if (!reshuffle && (rc = check_route_targeting(p, &t, err)))
            return rc;
        if (p->shadow_flag[0] && (rc = check_shadow(p, flags, err)))
            return rc;
    }
    if (bundles && ((rc = check_loaded("control", p->control, bundles, n, err)) ||
                    (rc = check_loaded("candidate", p->candidate, bundles, n, err))))
        return rc;
    return RD_OK;
}

/* ---------------------------------------------------------------- reachability */

RD_PRINTF(3, 4) static void warn(rd_plan_warn_fn fn, void *ud, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (fn)
        fn(ud, msg);
}

size_t rd_plan_reachability(const rd_plan *p, double rps, rd_plan_warn_fn fn, void *ud)
{
    size_t warnings = 0;
    for (size_t i = 0; i < p->nstages; i++) {
        const rd_stage *s = &p->stages[i];
        uint64_t need = s->min_samples;
        bool psi = false;
        for (size_t j = 0; j < s->ngates; j++) {
            const rd_gate *g = &s->gates[j];
            /* a segment gate's minimum is per group, whose share of traffic is unknown */
            if (g->metric != RD_M_BAD_RATE && !is_segment_metric(g->metric) && g->min_samples > need)
                need = g->min_samples;
            psi |= g->metric == RD_M_SCORE_PSI || g->metric == RD_M_INPUT_PSI_MAX;
        }
        if (need == 0 && !psi)
            continue;
        char dl[24], psi_text[48] = "";
        rd_duration_format(s->deadline_ms, dl, sizeof dl);
        if (psi)
            snprintf(psi_text, sizeof psi_text, "%sthe %d rows PSI needs", need ? " and " : "",
                     RD_PSI_MIN_ROWS);
        if (!s->shadow && s->candidate == 0 && s->has_segment) {
            warn(fn, ud,
                 "stage \"%s\": the candidate sees only its segment's requests, which cannot be estimated "
                 "from "
                 "the request rate: check that min_samples %llu%s arrive within its %s deadline",
                 s->name, (unsigned long long)need, psi_text, dl);
            warnings++;
            continue;
        }
        double share = s->shadow ? 1.0 : (double)s->candidate / RD_ROLLOUT_TOTAL;
        double rate = share * rps, seen = rate * (double)s->deadline_ms / 1000.0;
        bool few = seen < (double)need, few_psi = psi && seen < RD_PSI_MIN_ROWS;
        if (!few && !few_psi)
            continue;
        char what[160];
        if (few && need)
            snprintf(what, sizeof what, "min_samples %llu%s", (unsigned long long)need,
                     few_psi ? psi_text : "");
        else
            snprintf(what, sizeof what, "the %d rows PSI needs", RD_PSI_MIN_ROWS);
        /* a slow trickle reads better per hour or per day than as 5e-05/s */
        double per = rate >= 0.1 ? rate : rate * 3600 >= 0.1 ? rate * 3600 : rate * 86400;
        const char *unit = rate >= 0.1 ? "s" : rate * 3600 >= 0.1 ? "h" : "d";
        warn(
            fn, ud,
            "stage \"%s\": at %g rps the candidate sees %s~%.3g/%s%s, %.0f in its %s deadline: fewer than %s",
            s->name, rps, s->has_segment ? "at least " : "", per, unit, s->shadow ? " (in shadow)" : "",
            floor(seen), dl, what);
        warnings++;
    }
    return warnings;
}

/* ---------------------------------------------------------------- stage targeting */

int rd_plan_stage_targeting(const rd_plan *p, const rd_stage *s, bool rolled_back, rd_buf *out)
{
    uint32_t w = rolled_back || !s ? 0 : s->candidate;
    bool seg = !rolled_back && s && s->has_segment && s->segment;
    if (seg) {
        rd_buf_puts(out, "{\"if\":[");
        rd_buf_puts(out, s->segment);
        rd_buf_putc(out, ',');
        rd_json_write_string(out, p->candidate_variant, strlen(p->candidate_variant));
        rd_buf_putc(out, ',');
    }
    rd_buf_puts(out, "{\"fractional\":[[");
    rd_json_write_string(out, p->candidate_variant, strlen(p->candidate_variant));
    rd_buf_printf(out, ",%u],[", w);
    rd_json_write_string(out, p->control_variant, strlen(p->control_variant));
    rd_buf_printf(out, ",%u]]}", RD_ROLLOUT_TOTAL - w);
    if (seg)
        rd_buf_puts(out, "]}");
    return out->oom ? RD_ENOMEM : RD_OK;
}
