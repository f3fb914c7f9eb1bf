/* The rollout controller (include/riskd/rollout.h): gates evaluated on the monitor's
 * statistics, each stage change one governance transaction fenced by the rollout row's version
 * (see "transitions" below).
 * Definitions: shared/reference/rollout-monitoring.md §2.2 (gates, deadlines, no data),
 * §2.3 (PSI thresholds raised to the noise floor), §2.4 (KS alarm), §2.5 (SRM), §2.7 (the
 * sequential bad-rate test). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/change.h"
#include "riskd/clock.h"
#include "riskd/rollout.h"

/* A gate's outcome in one evaluation. HOLD: between the pass and fail thresholds; NODATA:
 * fewer samples than it needs (never a reason to advance or roll back); ERROR: the metric's
 * source failed (4 in a row: hold and alert). */
typedef enum g_verdict { G_PASS = 0, G_FAIL, G_HOLD, G_NODATA, G_ERROR } g_verdict;
static const char *const verdict_names[] = {"pass", "fail", "hold", "no_data", "error"};

#define SOURCE_ERROR_LIMIT  4   /* §2.2, Argo's consecutiveErrorLimit */
#define DEFAULT_MIN_SAMPLES 100 /* a gate that names none, in a stage that names none */

typedef struct gate_eval {
    double value, cand, ctrl; /* ctrl NaN for an absolute comparison */
    double pass_at, fail_at;  /* the thresholds applied (PSI's raised to its noise floor) */
    double noise_floor;
    uint64_t n, min;
    g_verdict verdict;
    int failures; /* consecutive failed evaluations */
    int errors;   /* consecutive source errors */
    char note[200];
    bool inconclusive; /* a segment gate with too few applicants (a no_data that says so) */
    bool has_fig;      /* segment gates: the figures judged */
    rd_segment_figures fig;
} gate_eval;

/* An arm's series and where its stage began. */
typedef struct arm {
    rd_monitor_series *s;
    rd_monitor_mark *mark; /* NULL: the series began within the stage */
} arm;

struct rd_controller {
    pthread_mutex_t lock; /* status readers (HTTP threads) against the tick */
    char flag[256];       /* the routing flag: fixed for the controller's life (read without the lock) */
    rd_plan *plan;
    char plan_path[1024];
    rd_controller_env env;
    rd_rollout_row row; /* the state as last written or read */
    bool stored;        /* row is in the store (else in memory only: no store, or it failed) */
    char flags_sha[RD_SHA256_HEX];
    int64_t last_eval_ms, stage_started_ms;
    arm cand, ctrl, shadow;
    uint64_t shadow_scored0, shadow_same0; /* the shadow pair's counters at the stage's start */
    gate_eval ev[RD_PLAN_MAX_GATES];
    size_t nev;
    rd_monitor_segments *segs; /* the plan's segments, attached to the arms' series (the monitor's once
                                  attached; NULL: the plan has none) */
    uint64_t cand_n;
    bool evaluated, alerted;
    bool cap_noted;      /* the exposure cap's "reached" recorded for this stage instance */
    char *exposure_json; /* the exposure's status as of its last sync (rd_free), for readers */
    bool plan_pending;   /* an edited plan taken in memory whose row (and flags) are not written yet */
    bool plan_moved;     /* ... and its current stage routes other traffic than the old plan's */
    char alert[512];
    rd_transition last;
    char last_gates[1]; /* (gates_json of last is not kept) */
};

static int64_t scaled(const rd_controller *c, int64_t ms)
{
    double v = (double)ms / (c->env.speed > 0 ? c->env.speed : 1.0);
    return v < 1 ? 1 : (int64_t)v;
}

static const rd_stage *cur_stage(const rd_controller *c) { return &c->plan->stages[c->row.stage]; }

/* ------------------------------------------------------------------ arms */

typedef struct find_ctx {
    const char *bundle, *variant;
    rd_monitor_role role;
    rd_monitor_series *found;
} find_ctx;

static void find_one(void *ud, rd_monitor_series *s)
{
    find_ctx *f = ud;
    if (rd_monitor_series_role(s) == f->role && !strcmp(rd_monitor_series_bundle(s), f->bundle) &&
        (!f->variant || !strcmp(rd_monitor_series_variant(s), f->variant)))
        f->found = s;
}

static rd_monitor_series *find_series(rd_controller *c, const char *bundle, const char *variant,
                                      rd_monitor_role role)
{
    find_ctx f = {bundle, variant, role, NULL};
    if (c->env.monitor)
        rd_monitor_foreach(c->env.monitor, find_one, &f);
    return f.found;
}

static void arm_reset(arm *a, rd_monitor_series *s)
{
    rd_monitor_mark_free(a->mark);
    a->s = s;
    a->mark = s ? rd_monitor_mark_take(s) : NULL;
}

/* The arm's series now; a series made since the mark (a new bundle digest) counts whole. */
static rd_monitor_series *arm_refresh(rd_controller *c, arm *a, const char *bundle, const char *variant,
                                      rd_monitor_role role)
{
    rd_monitor_series *s = find_series(c, bundle, variant, role);
    if (s != a->s) {
        rd_monitor_mark_free(a->mark);
        a->mark = NULL;
        a->s = s;
    }
    return s;
}

/* The plan's segments counted on both arms (before their marks: a set attached after a mark would
 * make the span since it invalid). */
static void segments_attach(rd_controller *c)
{
    if (!c->segs || !c->env.monitor)
        return;
    if (c->cand.s)
        rd_monitor_attach_segments(c->env.monitor, c->cand.s, c->segs);
    if (c->ctrl.s)
        rd_monitor_attach_segments(c->env.monitor, c->ctrl.s, c->segs);
}

static void marks_take(rd_controller *c)
{
    const rd_plan *p = c->plan;
    c->cand.s = find_series(c, p->candidate, p->candidate_variant, RD_ROLE_PRIMARY);
    c->ctrl.s = find_series(c, p->control, p->control_variant, RD_ROLE_PRIMARY);
    segments_attach(c);
    arm_reset(&c->cand, c->cand.s);
    arm_reset(&c->ctrl, c->ctrl.s);
    arm_reset(&c->shadow, find_series(c, p->candidate, NULL, RD_ROLE_SHADOW));
    c->shadow_scored0 = c->shadow_same0 = 0;
    if (c->env.shadow_pair)
        c->env.shadow_pair(c->env.ud, p->control, p->candidate, &c->shadow_scored0, &c->shadow_same0);
    memset(c->ev, 0, sizeof c->ev);
    c->nev = 0; /* the new stage's gates are not evaluated yet */
    c->evaluated = c->alerted = c->cap_noted = false;
    c->alert[0] = '\0';
}

/* ------------------------------------------------------------------ gates */

typedef struct arm_stats {
    bool have;
    rd_monitor_stats st;
} arm_stats;

static void stats_of(arm *a, const rd_gate *g, int64_t now_ms, rd_arena *ar, arm_stats *out)
{
    out->have = false;
    if (!a->s)
        return;
    int rc = g && g->sliding ? rd_monitor_window_stats(a->s, now_ms, ar, &out->st, NULL)
                             : rd_monitor_stats_since(a->s, a->mark, now_ms, ar, &out->st, NULL);
    out->have = rc == RD_OK;
}

static double metric_of(const rd_monitor_stats *st, rd_gate_metric m, double *floor_)
{
    *floor_ = (double)NAN;
    switch (m) {
    case RD_M_APPROVE_RATE: return st->approve_rate;
    case RD_M_REVIEW_RATE: return st->review_rate;
    case RD_M_REJECT_RATE: return st->reject_rate;
    case RD_M_ERROR_RATE: return st->error_rate;
    case RD_M_FALLBACK_RATE: return st->fallback_rate;
    case RD_M_TIMEOUT_RATE: return st->timeout_rate;
    case RD_M_LATENCY_P99_MS: return st->latency_p99;
    case RD_M_SCORE_PSI: *floor_ = st->psi_floor; return st->psi;
    case RD_M_SCORE_KS: *floor_ = st->ks_critical; return st->ks;
    case RD_M_INPUT_PSI_MAX: {
        double best = (double)NAN;
        for (size_t i = 0; i < st->ninputs; i++)
            if (isfinite(st->inputs[i].psi) && !(st->inputs[i].psi <= best)) {
                best = st->inputs[i].psi;
                *floor_ = st->inputs[i].psi_floor;
            }
        return best;
    }
    default: return (double)NAN;
    }
}

/* The verdict of value v against the gate's thresholds (already in e). */
static g_verdict judge(const rd_gate *g, gate_eval *e, double v)
{
    if (isnan(v))
        return G_NODATA;
    if (g->has_fail && rd_gate_op_holds(g->fail_op, v, e->fail_at))
        return G_FAIL;
    if (g->has_pass && rd_gate_op_holds(g->pass_op, v, e->pass_at))
        return G_PASS;
    return g->has_fail ? G_HOLD : G_FAIL;
}

static uint64_t gate_min(const rd_controller *c, const rd_gate *g)
{
    if (g->min_samples)
        return g->min_samples;
    return cur_stage(c)->min_samples ? cur_stage(c)->min_samples : DEFAULT_MIN_SAMPLES;
}

static void eval_srm(const rd_stage *st, const arm_stats *ca, const arm_stats *co, gate_eval *e)
{
    if (st->has_segment) {
        e->verdict = G_NODATA;
        snprintf(e->note, sizeof e->note, "not judged: the stage routes a segment besides the weights");
        return;
    }
    /* the assignment: decisions past an exposure cap (excluded from the figures) were assigned too */
    uint64_t obs[2] = {ca->have ? ca->st.n + ca->st.failed + ca->st.excluded : 0,
                       co->have ? co->st.n + co->st.failed + co->st.excluded : 0};
    double w[2] = {(double)st->candidate, (double)(RD_ROLLOUT_TOTAL - st->candidate)};
    /* Not judged before the candidate arm is due min_samples decisions by the weights (all
       decisions when its weight is 0): the first moments of a stage still count decisions made on
       the previous stage's flags (the reload reaches each HTTP thread at its next request; later on
       a loaded machine), which on a few hundred decisions is a mismatch p < 0.001 that is no fault
       of the routing. Counted by what is due, not by what came, so a routing that sends the
       candidate nobody is still judged, and fails. */
    uint64_t n = obs[0] + obs[1];
    double due = st->candidate ? (double)n * w[0] / (double)RD_ROLLOUT_TOTAL : (double)n;
    if (due < (double)e->min) {
        e->cand = (double)obs[0];
        e->ctrl = (double)obs[1];
        e->n = n;
        e->verdict = G_NODATA;
        snprintf(e->note, sizeof e->note, "%llu decisions: %.0f due to the candidate of %llu",
                 (unsigned long long)n, due, (unsigned long long)e->min);
        return;
    }
    rd_srm_result r;
    rd_srm(obs, w, 2, isfinite(e->pass_at) ? e->pass_at : RD_SRM_ALPHA, &r);
    e->value = r.p;
    e->cand = (double)obs[0];
    e->ctrl = (double)obs[1];
    e->n = obs[0] + obs[1];
    e->verdict = r.verdict == RD_VERDICT_FAIL ? G_FAIL : r.verdict == RD_VERDICT_PASS ? G_PASS : G_NODATA;
    snprintf(e->note, sizeof e->note, "%s", r.why);
}

static void eval_bad_rate(rd_controller *c, const rd_gate *g, gate_eval *e)
{
    const rd_plan *p = c->plan;
    rd_outcome_stats cs, os;
    rd_err err;
    if (!c->env.store ||
        rd_store_outcome_stats(c->env.store, p->candidate, p->candidate_variant, g->outcome,
                               c->stage_started_ms, 0, 100, &cs, &err) ||
        rd_store_outcome_stats(c->env.store, p->control, p->control_variant, g->outcome, c->stage_started_ms,
                               0, 100, &os, &err)) {
        e->verdict = G_ERROR;
        snprintf(e->note, sizeof e->note, "outcomes: %.180s", c->env.store ? err.msg : "no store");
        return;
    }
    e->n = cs.approved;
    e->cand = cs.bad_rate_approved;
    e->ctrl = os.bad_rate_approved;
    if (cs.approved < e->min || os.approved == 0) {
        e->verdict = G_NODATA;
        snprintf(e->note, sizeof e->note, "%llu approved candidate decisions with a %s label of %llu",
                 (unsigned long long)cs.approved, g->outcome, (unsigned long long)e->min);
        return;
    }
    rd_seq_result r;
    rd_seq_rate_harm(cs.approved_bads, cs.approved, os.approved_bads, os.approved,
                     g->nstar > 0 ? g->nstar : RD_CS_DEFAULT_NSTAR, g->alpha > 0 ? g->alpha : 0.05, &r);
    e->value = r.delta;
    e->fail_at = r.halfwidth;
    e->verdict = r.verdict == RD_VERDICT_FAIL ? G_FAIL : r.verdict == RD_VERDICT_PASS ? G_PASS : G_NODATA;
    snprintf(e->note, sizeof e->note, "bad rate %.4g vs %.4g: lower bound of the difference %.4g",
             r.delta + os.bad_rate_approved, os.bad_rate_approved, r.lower);
}

/* A segment's counts in an arm's statistics, by the plan's index (the set is made from the plan,
 * in its order); false when the arm has no such counts (no set attached, or redefined). */
static bool seg_counts(const arm_stats *a, int i, rd_segment_counts *out, char *note, size_t cap)
{
    *out = (rd_segment_counts){0, 0};
    if (!a->have)
        return false;
    if (a->st.segments_note[0]) {
        snprintf(note, cap, "%s", a->st.segments_note);
        return false;
    }
    if (i < 0 || (size_t)i >= a->st.nsegments)
        return false;
    *out = (rd_segment_counts){a->st.segments[i].n, a->st.segments[i].approve};
    return true;
}

/* Whether the whole interval [lo, hi] satisfies op x. */
static bool interval_holds(rd_gate_op op, double lo, double hi, double x)
{
    return op == RD_OP_LT || op == RD_OP_LE ? rd_gate_op_holds(op, hi, x) : rd_gate_op_holds(op, lo, x);
}

/* adverse_impact_ratio and segment_approve_rate (docs/plans/guardrails.md §6.2): the segment
 * against its reference in each arm, over the stage (or the sliding window); too few applicants
 * in any group: inconclusive, which never passes. */
static void eval_segment(rd_controller *c, const rd_gate *g, const arm_stats *ca, const arm_stats *co,
                         gate_eval *e)
{
    const rd_plan *p = c->plan;
    int ref = g->ref >= 0 ? g->ref : g->seg; /* segment_approve_rate compares the segment alone */
    rd_segment_counts cs, cr, ks, kr;
    char note[160] = "";
    bool have = seg_counts(ca, g->seg, &cs, note, sizeof note) & seg_counts(ca, ref, &cr, note, sizeof note) &
                seg_counts(co, g->seg, &ks, note, sizeof note) & seg_counts(co, ref, &kr, note, sizeof note);
    e->min = g->min_samples ? g->min_samples : RD_SEGMENT_MIN_DEFAULT;
    rd_segment_figures_compute(cs, cr, ks, kr, e->min, g->alpha > 0 ? g->alpha : 0.05,
                               g->seg >= 0 ? p->segments[g->seg].name : NULL,
                               ref >= 0 ? p->segments[ref].name : NULL, &e->fig);
    e->has_fig = true;
    e->n = cs.n;
    bool air = g->metric == RD_M_ADVERSE_IMPACT_RATIO;
    e->cand = air ? e->fig.cand_air : e->fig.cand_rate;
    e->ctrl = air ? e->fig.ctrl_air : e->fig.ctrl_rate;
    if (g->compare == RD_CMP_ABSOLUTE)
        e->value = e->cand;
    else if (g->compare == RD_CMP_RATIO)
        e->value = air ? e->fig.air_ratio : (e->ctrl == 0 ? (double)NAN : e->cand / e->ctrl);
    else
        e->value = air ? e->fig.air_diff : e->fig.diff;
    if (!have || !e->fig.sized || isnan(e->value)) {
        e->verdict = G_NODATA;
        e->inconclusive = true;
        snprintf(e->note, sizeof e->note, "%s",
                 !have && note[0] ? note
                 : !have          ? "inconclusive: the segments are not counted yet"
                 : !e->fig.sized  ? e->fig.note
                                  : "inconclusive: the reference segment has no approval");
        return;
    }
    if (!g->interval) {
        e->verdict = judge(g, e, e->value);
        return;
    }
    /* on the interval: fail when all of it is past fail, pass when all of it passes, else hold */
    if (g->has_fail && interval_holds(g->fail_op, e->fig.lo, e->fig.hi, e->fail_at))
        e->verdict = G_FAIL;
    else if (g->has_pass && interval_holds(g->pass_op, e->fig.lo, e->fig.hi, e->pass_at))
        e->verdict = G_PASS;
    else
        e->verdict = G_HOLD;
    snprintf(e->note, sizeof e->note, "difference %.4g, %g%% interval [%.4g, %.4g]", e->fig.diff,
             100 * (1 - (g->alpha > 0 ? g->alpha : 0.05)), e->fig.lo, e->fig.hi);
}

static void eval_gate(rd_controller *c, const rd_gate *g, gate_eval *e, int64_t now_ms, rd_arena *ar)
{
    const rd_stage *st = cur_stage(c);
    bool shadow_arm = st->candidate == 0 && !st->has_segment;
    arm_stats ca, co;
    stats_of(shadow_arm ? &c->shadow : &c->cand, g, now_ms, ar, &ca);
    stats_of(&c->ctrl, g, now_ms, ar, &co);
    int failures = e->failures, errors = e->errors;
    memset(e, 0, sizeof *e);
    e->failures = failures;
    e->errors = errors;
    e->value = e->cand = e->ctrl = e->noise_floor = (double)NAN;
    e->pass_at = g->has_pass ? g->pass : (double)NAN;
    e->fail_at = g->has_fail ? g->fail : (double)NAN;
    e->min = gate_min(c, g);
    switch (g->metric) {
    case RD_M_SRM: {
        /* the assignment: the routed arms, whatever the stage's candidate arm is */
        /* per stage (§2.5): a sliding window would mix the previous stage's weights */
        arm_stats pa, pc;
        stats_of(&c->cand, NULL, now_ms, ar, &pa);
        stats_of(&c->ctrl, NULL, now_ms, ar, &pc);
        e->pass_at = g->alpha > 0 ? g->alpha : RD_SRM_ALPHA;
        eval_srm(st, &pa, &pc, e);
        break;
    }
    case RD_M_BAD_RATE: eval_bad_rate(c, g, e); break;
    case RD_M_ADVERSE_IMPACT_RATIO:
    case RD_M_SEGMENT_APPROVE_RATE:
        if (shadow_arm || st->has_segment) { /* the plan refuses it there; a guard all the same */
            e->verdict = G_NODATA;
            snprintf(e->note, sizeof e->note, "not judged: the candidate arm is not a random sample here");
            break;
        }
        eval_segment(c, g, &ca, &co, e);
        break;
    case RD_M_BREAKER_OPEN_SECONDS:
        e->value = e->cand =
            c->env.breaker_open_seconds ? c->env.breaker_open_seconds(c->env.ud, c->plan->candidate) : 0;
        e->n = e->min = 0;
        e->verdict = judge(g, e, e->value);
        break;
    case RD_M_SHADOW_AGREEMENT: {
        uint64_t scored = 0, same = 0;
        if (c->env.shadow_pair)
            c->env.shadow_pair(c->env.ud, c->plan->control, c->plan->candidate, &scored, &same);
        scored -= scored >= c->shadow_scored0 ? c->shadow_scored0 : scored;
        same -= same >= c->shadow_same0 ? c->shadow_same0 : same;
        e->n = scored;
        e->value = e->cand = scored ? (double)same / (double)scored : (double)NAN;
        e->verdict = scored < e->min ? G_NODATA : judge(g, e, e->value);
        if (e->verdict == G_NODATA)
            snprintf(e->note, sizeof e->note, "%llu shadow scores of %llu", (unsigned long long)scored,
                     (unsigned long long)e->min);
        break;
    }
    case RD_M_LATENCY_P99_MS:
        if (shadow_arm) { /* shadow scores run off the request's clock: no latency to judge */
            e->verdict = G_PASS;
            snprintf(e->note, sizeof e->note,
                     "not judged in a shadow stage (no request waits on the candidate)");
            break;
        }
        /* fall through */
    default: {
        double fc = (double)NAN, fo = (double)NAN;
        e->n = ca.have ? ca.st.n : 0;
        e->cand = ca.have ? metric_of(&ca.st, g->metric, &fc) : (double)NAN;
        e->noise_floor = fc;
        if (g->compare != RD_CMP_ABSOLUTE) {
            e->ctrl = co.have ? metric_of(&co.st, g->metric, &fo) : (double)NAN;
            uint64_t nc = co.have ? co.st.n : 0;
            if (nc < e->min) {
                e->verdict = G_NODATA;
                snprintf(e->note, sizeof e->note, "the control has %llu decisions of %llu",
                         (unsigned long long)nc, (unsigned long long)e->min);
                break;
            }
            e->value = g->compare == RD_CMP_DIFFERENCE ? e->cand - e->ctrl
                       : e->ctrl == 0                  ? (e->cand == 0 ? 1.0 : (double)INFINITY)
                                                       : e->cand / e->ctrl;
        } else {
            e->value = e->cand;
        }
        if (e->n < e->min) {
            e->verdict = G_NODATA;
            snprintf(e->note, sizeof e->note, "%llu candidate decisions of %llu", (unsigned long long)e->n,
                     (unsigned long long)e->min);
            break;
        }
        if ((g->metric == RD_M_SCORE_PSI || g->metric == RD_M_INPUT_PSI_MAX) &&
            g->compare == RD_CMP_ABSOLUTE && isfinite(fc)) {
            /* §2.3: alarm at max(threshold, noise floor) */
            e->pass_at = fmax(e->pass_at, fc);
            e->fail_at = fmax(e->fail_at, fc);
        }
        if (isnan(e->value) && ca.have && g->metric == RD_M_SCORE_PSI)
            snprintf(e->note, sizeof e->note, "%s", ca.st.psi_note);
        if (isnan(e->value) && ca.have && g->metric == RD_M_SCORE_KS)
            snprintf(e->note, sizeof e->note, "%s", ca.st.ks_note);
        e->verdict = judge(g, e, e->value);
        /* §2.4: KS alarms only when it is also significant */
        if (g->metric == RD_M_SCORE_KS && g->compare == RD_CMP_ABSOLUTE && e->verdict != G_PASS &&
            e->verdict != G_NODATA && isfinite(fc) && (!(e->value > fc) || e->value < RD_KS_MIN_EFFECT)) {
            e->verdict = G_PASS;
            snprintf(e->note, sizeof e->note, "D %.4g is within the 0.1%% critical value %.4g or under %g",
                     e->value, fc, RD_KS_MIN_EFFECT);
        }
        break;
    }
    }
    if (e->verdict == G_FAIL) {
        if (++e->failures <= g->failure_limit)
            e->verdict = G_HOLD;
    } else if (e->verdict != G_NODATA && e->verdict != G_ERROR) {
        e->failures = 0;
    }
    if (e->verdict == G_ERROR)
        e->errors++;
    else
        e->errors = 0;
}

/* ------------------------------------------------------------------ JSON */

static void jnum(rd_buf *b, const char *key, double x)
{
    char t[40];
    if (isfinite(x)) {
        rd_num_format(x, t);
        rd_buf_printf(b, ",\"%s\":%s", key, t);
    } else {
        rd_buf_printf(b, ",\"%s\":null", key);
    }
}

static const char *op_text(rd_gate_op op)
{
    return op == RD_OP_LT ? "<" : op == RD_OP_LE ? "<=" : op == RD_OP_GT ? ">" : ">=";
}

static const char *compare_name(rd_gate_compare k)
{
    return k == RD_CMP_RATIO ? "ratio" : k == RD_CMP_DIFFERENCE ? "difference" : "absolute";
}

static void gates_json(const rd_controller *c, rd_buf *b)
{
    const rd_stage *st = cur_stage(c);
    rd_buf_putc(b, '[');
    for (size_t i = 0; i < st->ngates && i < c->nev; i++) {
        const rd_gate *g = &st->gates[i];
        const gate_eval *e = &c->ev[i];
        rd_buf_printf(b, "%s{\"metric\":\"%s\",\"compare\":\"%s\",\"window\":\"%s\"", i ? "," : "",
                      rd_gate_metric_name(g->metric), compare_name(g->compare),
                      g->sliding ? "sliding" : "stage");
        jnum(b, "value", e->value);
        jnum(b, "candidate", e->cand);
        jnum(b, "control", e->ctrl);
        if (g->has_pass) {
            rd_buf_printf(b, ",\"pass\":{\"%s\":", op_text(g->pass_op));
            char t[40];
            if (isfinite(e->pass_at)) {
                rd_num_format(e->pass_at, t);
                rd_buf_puts(b, t);
            } else {
                rd_buf_puts(b, "null");
            }
            rd_buf_putc(b, '}');
        }
        if (g->has_fail) {
            rd_buf_printf(b, ",\"fail\":{\"%s\":", op_text(g->fail_op));
            char t[40];
            if (isfinite(e->fail_at)) {
                rd_num_format(e->fail_at, t);
                rd_buf_puts(b, t);
            } else {
                rd_buf_puts(b, "null");
            }
            rd_buf_putc(b, '}');
        }
        /* KS: the 0.1% critical value, not a noise floor (§2.4) */
        jnum(b, g->metric == RD_M_SCORE_KS ? "critical" : "noise_floor", e->noise_floor);
        if (g->metric == RD_M_BAD_RATE) /* the confidence sequence's one-sided half-width (§2.7) */
            jnum(b, "halfwidth", e->fail_at);
        rd_buf_printf(b, ",\"n\":%llu,\"min_samples\":%llu,\"verdict\":\"%s\",\"failures\":%d",
                      (unsigned long long)e->n, (unsigned long long)e->min,
                      e->inconclusive ? "inconclusive" : verdict_names[e->verdict], e->failures);
        if (g->seg >= 0) {
            const rd_plan *p = c->plan;
            rd_buf_puts(b, ",\"segment\":");
            rd_json_write_string(b, p->segments[g->seg].name, strlen(p->segments[g->seg].name));
            if (g->ref >= 0) {
                rd_buf_puts(b, ",\"reference\":");
                rd_json_write_string(b, p->segments[g->ref].name, strlen(p->segments[g->ref].name));
            }
            rd_buf_printf(b, ",\"judge\":\"%s\"", g->interval ? "interval" : "value");
        }
        if (e->has_fig) {
            rd_buf_puts(b, ",\"figures\":{");
            rd_segment_figures_json(b, &e->fig);
            rd_buf_putc(b, '}');
        }
        if (e->note[0]) {
            rd_buf_puts(b, ",\"note\":");
            rd_json_write_string(b, e->note, strlen(e->note));
        }
        rd_buf_putc(b, '}');
    }
    rd_buf_putc(b, ']');
}

/* The plan's stages as a timeline: each one's name, candidate share, holds (at the speed in
 * force) and whether it shadows or routes a segment. */
static void plan_stages_json(const rd_controller *c, rd_buf *b)
{
    const rd_plan *p = c->plan;
    rd_buf_puts(b, ",\"plan_stages\":[");
    for (size_t i = 0; i < p->nstages; i++) {
        const rd_stage *st = &p->stages[i];
        char t[40];
        rd_num_format((double)st->candidate / RD_ROLLOUT_TOTAL, t);
        rd_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        rd_json_write_string(b, st->name, strlen(st->name));
        rd_buf_printf(b, ",\"candidate_share\":%s,\"shadow\":%s,\"segment\":%s,\"gates\":%zu", t,
                      st->shadow ? "true" : "false", st->has_segment ? "true" : "false", st->ngates);
        jnum(b, "hold_s", (double)scaled(c, st->hold_ms) / 1000.0);
        jnum(b, "deadline_s",
             (double)scaled(c, st->deadline_ms ? st->deadline_ms : 2 * st->hold_ms) / 1000.0);
        rd_buf_printf(b, ",\"min_samples\":%llu}", (unsigned long long)st->min_samples);
    }
    rd_buf_putc(b, ']');
}

static void status_locked(rd_controller *c, int64_t now_ms, rd_buf *b)
{
    const rd_plan *p = c->plan;
    const rd_stage *st = cur_stage(c);
    rd_buf_puts(b, "{\"flag\":");
    rd_json_write_string(b, p->route_flag, strlen(p->route_flag));
    rd_buf_puts(b, ",\"plan\":");
    rd_json_write_string(b, p->name, strlen(p->name));
    rd_buf_puts(b, ",\"plan_path\":");
    rd_json_write_string(b, c->plan_path, strlen(c->plan_path));
    rd_buf_printf(b, ",\"state\":\"%s\",\"stage\":", rd_rollout_state_name(c->row.state));
    rd_json_write_string(b, st->name, strlen(st->name));
    rd_buf_printf(b, ",\"stage_index\":%d,\"stages\":%zu", c->row.stage, p->nstages);
    plan_stages_json(c, b);
    jnum(b, "time_in_stage_s", (double)(now_ms - c->stage_started_ms) / 1000.0);
    jnum(b, "hold_s", (double)scaled(c, st->hold_ms) / 1000.0);
    jnum(b, "deadline_s", (double)scaled(c, st->deadline_ms ? st->deadline_ms : 2 * st->hold_ms) / 1000.0);
    jnum(b, "speed", c->env.speed > 0 ? c->env.speed : 1.0);
    /* rolled back: the flag file routes no one to the candidate, whatever the stage said */
    uint32_t w = c->row.state == RD_ROLLOUT_ROLLED_BACK ? 0 : st->candidate;
    rd_buf_printf(b, ",\"candidate_weight\":%u,\"candidate_share\":", (unsigned)w);
    char t[40];
    rd_num_format((double)w / RD_ROLLOUT_TOTAL, t);
    rd_buf_puts(b, t);
    rd_buf_printf(
        b, ",\"candidate\":\"%s\",\"control\":\"%s\",\"candidate_decisions\":%llu,\"min_samples\":%llu",
        p->candidate, p->control, (unsigned long long)c->cand_n, (unsigned long long)st->min_samples);
    rd_buf_printf(b, ",\"evaluated\":%s,\"gates\":", c->evaluated ? "true" : "false");
    gates_json(c, b);
    rd_buf_printf(b, ",\"exposure\":%s", c->exposure_json ? c->exposure_json : "null");
    rd_buf_puts(b, ",\"alert\":");
    if (c->alert[0])
        rd_json_write_string(b, c->alert, strlen(c->alert));
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"last_transition\":");
    if (c->last.ts_ms) {
        rd_buf_printf(
            b, "{\"ts_ms\":%lld,\"from\":%d,\"to\":%d,\"from_state\":\"%s\",\"to_state\":\"%s\",\"reason\":",
            (long long)c->last.ts_ms, c->last.from_stage, c->last.to_stage, c->last.from_state,
            c->last.to_state);
        rd_json_write_string(b, c->last.reason, strlen(c->last.reason));
        rd_buf_puts(b, ",\"detail\":");
        rd_json_write_string(b, c->last.detail, strlen(c->last.detail));
        rd_buf_puts(b, ",\"actor\":");
        rd_json_write_string(b, c->last.actor, strlen(c->last.actor));
        rd_buf_putc(b, '}');
    } else {
        rd_buf_puts(b, "null");
    }
    rd_buf_putc(b, '}');
}

void rd_controller_status_json(rd_controller *c, int64_t now_ms, rd_buf *b)
{
    pthread_mutex_lock(&c->lock);
    status_locked(c, now_ms, b);
    pthread_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------------ transitions
 *
 * Every write of the controller (a transition, a plan edit's) is one governance transaction,
 * a step:
 *   1. rd_store_begin: on PostgreSQL the governance advisory lock, so the steps of every node,
 *      a node's start (rd_controller_new) and every flag write run one after another;
 *   2. the fence: the row read again and its version compared with the one this controller
 *      last read or wrote (the fencing token). Another writer since (a node that led meanwhile,
 *      a manual command, a node that started) makes this controller's view stale: it rolls
 *      back, adopts the stored row and records nothing. The next evaluation decides again from
 *      the stored state;
 *   3. the row written with version + 1 (rd_rollout_put's compare-and-swap; on PostgreSQL the
 *      UPDATE also locks the row until the commit, so a command that does not take the
 *      governance lock waits, then finds the version moved);
 *   4. the flags: with flags = store a version of the flag set inside the same transaction
 *      (rd_flagtarget_update nests in it); a local flag file cannot be, so it is written here,
 *      after the fence and under the lock: a refused step has not touched it, and once it is
 *      written the step goes on to record it;
 *   5. the transition (rd_transition_record without the spool: a store that refuses it undoes
 *      the whole step), then commit.
 * A stale leader's step is refused whole, never half-applied; "advance" is recorded once.
 *
 * When the store cannot be written, only one step goes on without it: a rollback to a local
 * flag file (the traffic first; its record waits in the spool, the row is written by
 * follow_store when the store is back, a rollback of ours winning). Every other step waits
 * for the store (the next evaluation tries again). With flags = store the flag write IS a store
 * write: a rollback cannot reach the traffic while the database is away, and the candidate
 * keeps its share until it returns (a known limit, review16 #15: docs/adr/0011-several-nodes.md;
 * on PostgreSQL the leader loses its leadership with its connection anyway, and stops
 * evaluating). */

/* What stage st (or the rolled-back routing) writes: the targeting of the routing flag, and
 * the shadow flag's variant (NULL: the plan has no shadow flag). */
static int stage_routing(const rd_controller *c, const rd_stage *st, bool rolled_back, rd_buf *t,
                         const char **shadow_var)
{
    const rd_plan *p = c->plan;
    *shadow_var = p->shadow_flag[0] ? (st->shadow && !rolled_back ? p->shadow_on : p->shadow_off) : NULL;
    return rd_plan_stage_targeting(p, st, rolled_back, t);
}

/* Write the flag target for stage (or the rolled-back routing); the caller tells the server to
 * reload once its step committed (flags_written). force: whatever the target holds now (a
 * rollback must not wait for a conflict to be resolved; it touches only its flags). */
static int write_flags(rd_controller *c, const rd_stage *st, bool rolled_back, bool force, rd_err *err)
{
    const rd_plan *p = c->plan;
    rd_buf t;
    rd_buf_init(&t);
    const char *shadow_var;
    int rc = stage_routing(c, st, rolled_back, &t, &shadow_var);
    if (rc) {
        rd_buf_deinit(&t);
        return rd_err_set(err, rc, "rollout %s: the stage's targeting: out of memory", p->route_flag);
    }
    char sha[RD_SHA256_HEX];
    rd_err e;
    bool restored = false;
    if (c->env.store)
        rd_change_restore_published(c->env.store, c->env.flags_path, "controller", rd_clock_unix_ms(),
                                    &restored, &e);
    if (restored) /* what the controller wrote last is what serves again */
        rd_flagtarget_sha(c->env.store, c->env.flags_path, c->flags_sha, &e);
    rc = rd_flagtarget_update(c->env.store, c->env.flags_path,
                              force ? NULL : (c->flags_sha[0] ? c->flags_sha : NULL), p->route_flag,
                              rd_buf_cstr(&t), p->shadow_flag[0] ? p->shadow_flag : NULL, shadow_var,
                              st->name, "controller", sha, err);
    rd_buf_deinit(&t);
    if (rc == RD_OK)
        memcpy(c->flags_sha, sha, sizeof sha);
    return rc;
}

/* Whether the flag target already routes as stage st says: what write_flags would write is
 * byte for byte what it holds (false when it cannot be read: the write will say why). */
static bool flags_hold(rd_controller *c, const rd_stage *st, bool rolled_back)
{
    char *text = NULL, sha[RD_SHA256_HEX];
    size_t len = 0;
    int64_t version;
    rd_err e;
    int rc =
        rd_change_target_in_store(c->env.flags_path)
            ? (c->env.store ? rd_flags_store_read(c->env.store, &text, &len, sha, &version, &e) : RD_EINVAL)
            : rd_file_read(c->env.flags_path, 64u << 20, &text, &len, &e);
    rd_buf t, out;
    rd_buf_init(&t);
    rd_buf_init(&out);
    const char *shadow_var;
    if (!rc && !(rc = stage_routing(c, st, rolled_back, &t, &shadow_var)))
        rc = rd_flagfile_rewrite(text, len, c->plan->route_flag, rd_buf_cstr(&t),
                                 c->plan->shadow_flag[0] ? c->plan->shadow_flag : NULL, shadow_var, &out, &e);
    bool same = !rc && out.len == len && !memcmp(out.data, text, len);
    rd_free(text);
    rd_buf_deinit(&t);
    rd_buf_deinit(&out);
    return same;
}

/* The stage of the current plan named name (-1: none). */
static long stage_named(const rd_plan *p, const char *name)
{
    for (size_t i = 0; i < p->nstages; i++)
        if (!strcmp(p->stages[i].name, name))
            return (long)i;
    return -1;
}

/* Follow a change another writer made to the row (a manual command, the leader). The stage is
 * found by name (an edited plan numbers its stages anew), else by its index. */
static int newest_transition(void *ud, const rd_transition *t)
{
    rd_controller *c = ud;
    c->last = *t;
    c->last.gates_json = NULL; /* valid during the call only */
    return 1;
}

/* The exposure's stage in force: after every change of the row (the rollout thread owns it). */
static void exposure_follow(rd_controller *c)
{
    if (c->env.exposure)
        rd_exposure_follow(c->env.exposure, c->plan, &c->row);
}

typedef struct cap_seen_ctx {
    int64_t since;
    bool seen;
} cap_seen_ctx;

static int cap_seen(void *ud, const rd_transition *t)
{
    cap_seen_ctx *x = ud;
    if (!strcmp(t->reason, "exposure_cap") && t->ts_ms >= x->since)
        x->seen = true;
    return x->seen;
}

/* Whether this stage instance's cap was recorded already (a restart, another node). */
static bool cap_recorded(rd_controller *c)
{
    cap_seen_ctx x = {.since = c->stage_started_ms};
    if (c->env.store)
        rd_transition_list(c->env.store, c->flag, 50, cap_seen, &x, NULL);
    return x.seen;
}

static void adopt(rd_controller *c, const rd_rollout_row *fresh)
{
    long at = stage_named(c->plan, fresh->stage_name);
    if (at < 0 && fresh->stage >= 0 && (size_t)fresh->stage < c->plan->nstages)
        at = fresh->stage;
    bool stage_changed = at >= 0 && at != c->row.stage;
    c->row.version = fresh->version;
    c->row.state = fresh->state;
    if (stage_changed || fresh->stage_started_ms != c->row.stage_started_ms) {
        c->row.stage = stage_changed ? (int)at : c->row.stage;
        c->row.stage_started_ms = c->stage_started_ms = fresh->stage_started_ms;
        snprintf(c->row.stage_name, sizeof c->row.stage_name, "%s", cur_stage(c)->name);
        marks_take(c);
    }
    rd_flagtarget_sha(c->env.store, c->env.flags_path, c->flags_sha, NULL);
    /* another writer (a command, another node) moved the row: its transition is the last one,
       not the one this controller made before */
    rd_err e;
    rd_transition_list(c->env.store, c->flag, 1, newest_transition, c, &e);
    c->stored = true;
    c->cap_noted = cap_recorded(c);
    exposure_follow(c);
}

/* Open a step's transaction and check the fence. RD_OK: the transaction is open and the row is
 * the one this controller holds. RD_ECONFLICT with *stale: another writer moved the row; the
 * transaction is rolled back and the stored row adopted. Any other error: nothing is open (the
 * store cannot be written). */
static int fence_open(rd_controller *c, bool *stale, rd_err *err)
{
    rd_store *s = c->env.store;
    *stale = false;
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    rd_rollout_row fresh = {0};
    rc = rd_rollout_get(s, c->flag, &fresh, err);
    int64_t stored = rc == RD_OK ? fresh.version : 0; /* no row: only a first insert (version 0) may go */
    if (rc == RD_ENOTFOUND)
        rc = RD_OK;
    if (rc == RD_OK && stored != c->row.version) {
        rd_store_rollback(s);
        *stale = true;
        rc = rd_err_set(err, RD_ECONFLICT,
                        "rollout %s: the row changed since this controller read it (version %lld, stored "
                        "%lld): the step is refused, the stored row adopted",
                        c->flag, (long long)c->row.version, (long long)stored);
        if (stored) {
            adopt(c, &fresh);
        } else { /* the row went away: follow_store writes ours again */
            c->row.version = 0;
            c->stored = false;
        }
    } else if (rc) {
        rd_store_rollback(s);
    }
    rd_rollout_row_free(&fresh);
    return rc;
}

/* A step: move the row to (to_stage, to_state), write the flags for `write` (NULL: none) and
 * record the transition (reason NULL: none, a plan edit's write). */
typedef struct step {
    const rd_stage *write;
    bool rolled_back, force; /* as write_flags takes them */
    int to_stage;
    rd_rollout_state to_state;
    const char *reason, *detail;
} step;

static void step_transition(rd_controller *c, const step *s, int64_t now_ms, const char *gates,
                            rd_transition *t)
{
    memset(t, 0, sizeof *t);
    t->ts_ms = now_ms;
    t->from_stage = c->row.stage;
    t->to_stage = s->to_stage;
    t->gates_json = gates;
    snprintf(t->flag, sizeof t->flag, "%s", c->plan->route_flag);
    snprintf(t->from_state, sizeof t->from_state, "%s", rd_rollout_state_name(c->row.state));
    snprintf(t->to_state, sizeof t->to_state, "%s", rd_rollout_state_name(s->to_state));
    snprintf(t->reason, sizeof t->reason, "%s", s->reason ? s->reason : "");
    snprintf(t->detail, sizeof t->detail, "%s", s->detail ? s->detail : "");
    snprintf(t->actor, sizeof t->actor, "controller");
    memcpy(t->flags_sha, c->flags_sha, sizeof t->flags_sha);
}

/* The step done: the controller's state says what it wrote. */
static void step_applied(rd_controller *c, const step *s, const rd_rollout_row *next, rd_transition *t,
                         bool wrote)
{
    bool stage_changed = s->to_stage != c->row.stage;
    c->row.version = next->version;
    c->row.stage = next->stage;
    c->row.state = next->state;
    snprintf(c->row.stage_name, sizeof c->row.stage_name, "%s", next->stage_name);
    c->row.stage_started_ms = c->stage_started_ms = next->stage_started_ms;
    c->row.updated_ms = next->updated_ms;
    if (wrote && c->env.flags_written) /* after the commit: a reload before it would read the old set */
        c->env.flags_written(c->env.ud);
    if (s->reason) {
        c->last = *t;
        c->last.gates_json = NULL;
        if (c->env.on_transition)
            c->env.on_transition(c->env.ud, t);
    }
    if (stage_changed)
        marks_take(c);
    exposure_follow(c); /* every state change: a rollback keeps the stage and ends the cap */
}

/* Run step s (see the section's comment). RD_OK: done (or, for a local flag file the store
 * could not record, done with its record in the spool). RD_ECONFLICT with *stale: refused by
 * the fence, nothing written. Other errors: nothing done (the flag file's own conflict:
 * RD_ECONFLICT without *stale). */
static int run_step(rd_controller *c, const step *s, int64_t now_ms, bool *stale, rd_err *err)
{
    rd_store *st = c->env.store;
    bool local = !rd_change_target_in_store(c->env.flags_path), tx = false;
    *stale = false;
    int rc = RD_OK;
    if (st) {
        rd_err ferr;
        rc = fence_open(c, stale, &ferr);
        if (*stale || (rc && !(s->to_state == RD_ROLLOUT_ROLLED_BACK && s->write && local))) {
            if (err)
                *err = ferr;
            return rc;
        }
        tx = rc == RD_OK; /* else a rollback to a local file, without the store */
        rc = RD_OK;
    }
    rd_rollout_row next = c->row; /* shallow: plan_json stays c->row's */
    next.stage = s->to_stage;
    next.state = s->to_state;
    snprintf(next.stage_name, sizeof next.stage_name, "%s", c->plan->stages[s->to_stage].name);
    if (s->to_stage != c->row.stage || s->to_state == RD_ROLLOUT_ROLLED_BACK)
        next.stage_started_ms = now_ms;
    next.updated_ms = now_ms;
    if (tx)
        rc = rd_rollout_put(st, &next, err);
    char sha_before[RD_SHA256_HEX];
    memcpy(sha_before, c->flags_sha, sizeof sha_before);
    bool wrote = false;
    if (!rc && s->write)
        wrote = (rc = write_flags(c, s->write, s->rolled_back, s->force, err)) == RD_OK;
    rd_buf g;
    rd_buf_init(&g);
    gates_json(c, &g);
    rd_transition t;
    step_transition(c, s, now_ms, rd_buf_cstr(&g), &t);
    if (!rc && tx && s->reason)
        rc = rd_transition_record(st, NULL, &t, err);
    if (tx && !rc)
        rc = rd_store_commit(st, err);
    else if (tx)
        rd_store_rollback(st);
    if (rc == RD_OK || (wrote && local)) {
        if (rc || !tx) {
            /* the local file moved and cannot be taken back: the traffic is what the step says;
               its record waits in the spool, and follow_store writes the row when it can */
            if (s->reason)
                rd_transition_record(NULL, c->env.data_dir, &t, NULL);
            next.version = c->row.version;
            c->stored = false;
            rc = RD_OK;
        } else {
            c->stored = true;
        }
        step_applied(c, s, &next, &t, wrote);
    } else if (wrote) { /* the flag set in the store went with the transaction */
        memcpy(c->flags_sha, sha_before, sizeof sha_before);
    }
    rd_buf_deinit(&g);
    return rc;
}

static void alert(rd_controller *c, const char *msg)
{
    if (strcmp(c->alert, msg) != 0) {
        snprintf(c->alert, sizeof c->alert, "%s", msg);
        if (c->env.on_alert)
            c->env.on_alert(c->env.ud, c->plan->route_flag, msg);
    }
}

/* A transition that writes no flags (hold, resume). Not made when the store cannot record it:
 * the next evaluation decides again. */
static void transition(rd_controller *c, int to_stage, rd_rollout_state to_state, const char *reason,
                       const char *detail, int64_t now_ms)
{
    step s = {.to_stage = to_stage, .to_state = to_state, .reason = reason, .detail = detail};
    bool stale;
    rd_err err;
    if (run_step(c, &s, now_ms, &stale, &err) != RD_OK && !stale) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s not recorded: %s", reason, err.msg);
        alert(c, msg);
    }
}

static void rollback(rd_controller *c, const char *reason, const char *detail, int64_t now_ms)
{
    step s = {.write = cur_stage(c),
              .rolled_back = true,
              .force = true,
              .to_stage = c->row.stage,
              .to_state = RD_ROLLOUT_ROLLED_BACK,
              .reason = reason,
              .detail = detail};
    bool stale;
    rd_err err;
    if (run_step(c, &s, now_ms, &stale, &err) != RD_OK && !stale) {
        char msg[700];
        snprintf(msg, sizeof msg, "rollback could not write the flags: %s", err.msg);
        alert(c, msg);
        return; /* tried again at the next evaluation */
    }
}

static void advance(rd_controller *c, int64_t now_ms)
{
    int next = c->row.stage + 1;
    char detail[160];
    snprintf(detail, sizeof detail, "every gate passed after %.0f s in %s",
             (double)(now_ms - c->stage_started_ms) / 1000.0, cur_stage(c)->name);
    bool last = (size_t)next == c->plan->nstages - 1;
    step s = {.write = &c->plan->stages[next],
              .to_stage = next,
              .to_state = last ? RD_ROLLOUT_PROMOTED : RD_ROLLOUT_RUNNING,
              .reason = last ? "promote" : "advance",
              .detail = detail};
    bool stale;
    rd_err err;
    int rc = run_step(c, &s, now_ms, &stale, &err);
    if (rc == RD_OK || stale)
        return;
    char msg[700];
    if (rc == RD_ECONFLICT) {
        snprintf(
            msg, sizeof msg,
            "paused: the flag file changed under the rollout (%s); check it, then `riskd rollout resume`",
            err.msg);
        alert(c, msg);
        transition(c, c->row.stage, RD_ROLLOUT_PAUSED, "conflict", msg, now_ms);
        return;
    }
    snprintf(msg, sizeof msg, "cannot advance: %s", err.msg);
    alert(c, msg);
}

/* The edited plan's write (rd_controller_replace_plan, then each tick while it is pending): the
 * row says which plan runs and, when the current stage's traffic changed, the flags follow. */
static void plan_write(rd_controller *c, int64_t now_ms)
{
    step s = {.write = c->plan_moved && c->row.state != RD_ROLLOUT_PAUSED ? cur_stage(c) : NULL,
              .rolled_back = c->row.state == RD_ROLLOUT_ROLLED_BACK,
              .force = true,
              .to_stage = c->row.stage,
              .to_state = c->row.state};
    bool stale;
    rd_err err;
    int rc = run_step(c, &s, now_ms, &stale, &err);
    if (rc == RD_OK) {
        c->plan_pending = c->plan_moved = false;
    } else if (!stale) {
        char msg[700];
        snprintf(msg, sizeof msg, "the edited plan is not written yet: %s", err.msg);
        alert(c, msg);
    }
}

/* ------------------------------------------------------------------ the tick */

/* Follow a change another process made to the row (a manual command); write ours when an
   earlier write did not land. */
static void follow_store(rd_controller *c)
{
    if (!c->env.store)
        return;
    rd_err err;
    size_t drained;
    if (rd_spool_pending(c->env.data_dir) > 0)
        rd_spool_drain(c->env.data_dir, c->env.store, &drained, &err);
    rd_rollout_row fresh = {0};
    int rc = rd_rollout_get(c->env.store, c->flag, &fresh, &err);
    if (rc == RD_ENOTFOUND && !c->stored) { /* the first insert failed: try it again */
        c->row.version = 0;
        c->stored = rd_rollout_put(c->env.store, &c->row, &err) == RD_OK;
        return;
    }
    if (rc != RD_OK)
        return;
    if (!c->stored && fresh.version == c->row.version) {
        /* our last write did not land (the store was down) and nobody wrote since: write it */
        c->stored = rd_rollout_put(c->env.store, &c->row, &err) == RD_OK;
    } else if (fresh.version != c->row.version) {
        /* someone else (a manual command) wrote since: theirs wins, unless ours was a
           rollback, which must not be undone by a row written before it */
        if (!c->stored && c->row.state == RD_ROLLOUT_ROLLED_BACK) {
            c->row.version = fresh.version;
            c->stored = rd_rollout_put(c->env.store, &c->row, &err) == RD_OK;
        } else {
            adopt(c, &fresh);
        }
    }
    rd_rollout_row_free(&fresh);
}

void rd_controller_follow(rd_controller *c)
{
    if (!c->env.store)
        return;
    rd_rollout_row fresh = {0};
    rd_err err;
    pthread_mutex_lock(&c->lock);
    if (rd_rollout_get(c->env.store, c->flag, &fresh, &err) == RD_OK && fresh.version != c->row.version)
        adopt(c, &fresh);
    pthread_mutex_unlock(&c->lock);
    rd_rollout_row_free(&fresh);
}

static void store_status(rd_controller *c, int64_t now_ms)
{
    if (!c->env.store || !c->stored)
        return;
    rd_buf b;
    rd_buf_init(&b);
    status_locked(c, now_ms, &b);
    rd_rollout_set_status(c->env.store, c->plan->route_flag, rd_buf_cstr(&b), NULL);
    rd_buf_deinit(&b);
}

int rd_controller_tick(rd_controller *c, int64_t now_ms, rd_err *err)
{
    (void)err;
    if (now_ms - c->last_eval_ms < scaled(c, c->plan->interval_ms))
        return RD_OK;
    pthread_mutex_lock(&c->lock);
    c->last_eval_ms = now_ms;
    follow_store(c);
    if (c->plan_pending) /* an edit taken while this node followed, or whose write failed */
        plan_write(c, now_ms);
    if (c->row.state != RD_ROLLOUT_RUNNING && c->row.state != RD_ROLLOUT_HOLDING) {
        store_status(c, now_ms);
        pthread_mutex_unlock(&c->lock);
        return RD_OK;
    }
    const rd_stage *st = cur_stage(c);
    const rd_plan *p = c->plan;
    arm_refresh(c, &c->cand, p->candidate, p->candidate_variant, RD_ROLE_PRIMARY);
    arm_refresh(c, &c->ctrl, p->control, p->control_variant, RD_ROLE_PRIMARY);
    segments_attach(c); /* a series made since (a bundle reloaded) counts the segments too */
    arm_refresh(c, &c->shadow, p->candidate, NULL, RD_ROLE_SHADOW);
    rd_arena ar;
    rd_arena_init(&ar, 0);
    bool shadow_arm = st->candidate == 0 && !st->has_segment;
    arm_stats cs;
    stats_of(shadow_arm ? &c->shadow : &c->cand, NULL, now_ms, &ar, &cs);
    c->cand_n = cs.have ? cs.st.n : 0;
    size_t failed = SIZE_MAX, nodata = 0, hold = 0, errors = 0;
    c->nev = st->ngates;
    for (size_t i = 0; i < st->ngates; i++) {
        eval_gate(c, &st->gates[i], &c->ev[i], now_ms, &ar);
        switch (c->ev[i].verdict) {
        case G_FAIL:
            if (failed == SIZE_MAX)
                failed = i;
            break;
        case G_NODATA: nodata++; break;
        case G_HOLD: hold++; break;
        case G_ERROR:
            if (c->ev[i].errors >= SOURCE_ERROR_LIMIT)
                errors++;
            else
                nodata++;
            break;
        default: break;
        }
    }
    rd_arena_deinit(&ar);
    c->evaluated = true;
    int64_t in_stage = now_ms - c->stage_started_ms;
    int64_t hold_ms = scaled(c, st->hold_ms),
            deadline = scaled(c, st->deadline_ms ? st->deadline_ms : 2 * st->hold_ms);
    bool enough = c->cand_n >= (st->min_samples ? st->min_samples : DEFAULT_MIN_SAMPLES);
    /* the cap reached: recorded once per stage instance; the stage waits for its gates (they judge
       the decisions made before it: docs/plans/guardrails.md §5) */
    char cap_detail[400];
    if (c->env.exposure && !c->cap_noted &&
        rd_exposure_reached(c->env.exposure, cap_detail, sizeof cap_detail)) {
        c->cap_noted = true;
        transition(c, c->row.stage, c->row.state, "exposure_cap", cap_detail, now_ms);
    }
    if (failed != SIZE_MAX) {
        const rd_gate *g = &st->gates[failed];
        const gate_eval *e = &c->ev[failed];
        char detail[512], seg[160] = "";
        if (g->seg >= 0) /* which segment, against which, and the counts behind the figure */
            snprintf(seg, sizeof seg, "[%s%s%s]", p->segments[g->seg].name, g->ref >= 0 ? "/" : "",
                     g->ref >= 0 ? p->segments[g->ref].name : "");
        snprintf(detail, sizeof detail, "gate %s%s (%s) failed in %s: value %.6g, fail %s %.6g%s%s",
                 rd_gate_metric_name(g->metric), seg, compare_name(g->compare), st->name, e->value,
                 g->has_fail ? op_text(g->fail_op) : "not", g->has_fail ? e->fail_at : e->pass_at,
                 e->note[0] ? "; " : "", e->note);
        if (e->has_fig) {
            size_t n = strlen(detail);
            snprintf(detail + n, sizeof detail - n,
                     "; candidate %llu/%llu vs %llu/%llu, control %llu/%llu vs %llu/%llu",
                     (unsigned long long)e->fig.cand_seg.approve, (unsigned long long)e->fig.cand_seg.n,
                     (unsigned long long)e->fig.cand_ref.approve, (unsigned long long)e->fig.cand_ref.n,
                     (unsigned long long)e->fig.ctrl_seg.approve, (unsigned long long)e->fig.ctrl_seg.n,
                     (unsigned long long)e->fig.ctrl_ref.approve, (unsigned long long)e->fig.ctrl_ref.n);
        }
        rollback(c, "rollback", detail, now_ms);
    } else if (errors) {
        alert(c, "holding: a gate's metric source failed 4 evaluations in a row");
        if (c->row.state != RD_ROLLOUT_HOLDING)
            transition(c, c->row.stage, RD_ROLLOUT_HOLDING, "hold", c->alert, now_ms);
    } else if (in_stage >= hold_ms && !nodata && !hold && enough && (size_t)c->row.stage + 1 < p->nstages) {
        advance(c, now_ms);
    } else if (in_stage >= deadline) {
        if (nodata || !enough) {
            char msg[300];
            snprintf(
                msg, sizeof msg,
                "stage %s is past its deadline (%.0f s) without the data to judge it (%llu of %llu candidate "
                "decisions, %zu gates without data): holding; it never advances or rolls back on no data",
                st->name, (double)deadline / 1000.0, (unsigned long long)c->cand_n,
                (unsigned long long)st->min_samples, nodata);
            alert(c, msg);
            if (c->row.state != RD_ROLLOUT_HOLDING)
                transition(c, c->row.stage, RD_ROLLOUT_HOLDING, "hold", msg, now_ms);
        } else {
            char detail[200];
            snprintf(detail, sizeof detail,
                     "stage %s passed its deadline (%.0f s) with %zu gates still short of passing", st->name,
                     (double)deadline / 1000.0, hold);
            rollback(c, "deadline", detail, now_ms);
        }
    } else if (c->row.state == RD_ROLLOUT_HOLDING && !nodata) {
        c->alert[0] = '\0';
        transition(c, c->row.stage, RD_ROLLOUT_RUNNING, "resume", "the data arrived", now_ms);
    }
    store_status(c, now_ms);
    pthread_mutex_unlock(&c->lock);
    return RD_OK;
}

/* ------------------------------------------------------------------ life */

static int controller_new(rd_plan *plan, const char *plan_path, const rd_controller_env *env, int64_t now_ms,
                          rd_controller **out, rd_err *err)
{
    rd_controller *c = rd_calloc(1, sizeof *c);
    if (!c) {
        rd_plan_free(plan);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&c->lock, NULL);
    c->plan = plan;
    c->env = *env;
    if (rd_segment_set_new(plan, &c->segs, err) != RD_OK) { /* the plan parsed its rules: memory */
        pthread_mutex_destroy(&c->lock);
        rd_free(c);
        rd_plan_free(plan);
        return err->code;
    }
    snprintf(c->flag, sizeof c->flag, "%s", plan->route_flag);
    /* absolute paths: `riskd rollout rollback` runs from anywhere and must rewrite this file */
    char abs_flags[PATH_MAX], abs_plan[PATH_MAX];
    if (rd_change_target_in_store(env->flags_path) || !realpath(env->flags_path, abs_flags))
        snprintf(abs_flags, sizeof abs_flags, "%s", env->flags_path);
    if (!plan_path || !realpath(plan_path, abs_plan))
        snprintf(abs_plan, sizeof abs_plan, "%s", plan_path ? plan_path : "");
    snprintf(c->plan_path, sizeof c->plan_path, "%.1000s", abs_plan);
    c->env.flags_path = NULL; /* set below to the row's (absolute) copy */
    char *text = NULL;
    size_t len = 0;
    if (plan_path)
        rd_file_read(plan_path, 1 << 20, &text, &len, NULL);
    rd_rollout_row *r = &c->row;
    int rc = env->store ? rd_rollout_get(env->store, plan->route_flag, r, err) : RD_ENOTFOUND;
    long at = -1;
    for (size_t i = 0; rc == RD_OK && i < plan->nstages; i++)
        if (!strcmp(r->stage_name, plan->stages[i].name))
            at = (long)i;
    bool terminal = rc == RD_OK && (r->state == RD_ROLLOUT_ROLLED_BACK || r->state == RD_ROLLOUT_PROMOTED);
    if (rc == RD_OK && !strcmp(r->plan_name, plan->name) && (at >= 0 || terminal)) {
        /* resume: the stage as stored (found by name), its clock still running; a rolled-back
           or promoted rollout stays so (riskd rollout resume starts it again) */
        c->stored = true;
        int stage = at >= 0 ? (int)at : (int)plan->nstages - 1;
        /* every node resumes at its start: a row that already says what this node runs is
           left alone, so a start never moves the version under the leader's fence */
        bool same_row = stage == r->stage && !strcmp(r->stage_name, plan->stages[stage].name) &&
                        !strcmp(r->plan_sha, plan->sha256) && !strcmp(r->flags_path, abs_flags) &&
                        !strcmp(r->plan_path, abs_plan);
        r->stage = stage;
        snprintf(r->stage_name, sizeof r->stage_name, "%s", plan->stages[r->stage].name);
        c->stage_started_ms = r->stage_started_ms;
        snprintf(r->flags_path, sizeof r->flags_path, "%.1000s", abs_flags);
        snprintf(r->plan_path, sizeof r->plan_path, "%.1000s", abs_plan);
        snprintf(r->plan_sha, sizeof r->plan_sha, "%s", plan->sha256);
        rd_free(r->plan_json);
        r->plan_json = text; /* the text of the plan parsed, so the CLI reads what runs */
        text = NULL;
        c->env.flags_path = r->flags_path;
        rd_flagtarget_sha(c->env.store, c->env.flags_path, c->flags_sha, NULL);
        /* the flag target says what the stored state says (a file may have been restored while
           the service was down): only the two values the rollout owns are written, and only
           when they differ; a paused rollout is left as a person left it */
        bool rolled_back = r->state == RD_ROLLOUT_ROLLED_BACK;
        if (r->state != RD_ROLLOUT_PAUSED && !flags_hold(c, &plan->stages[r->stage], rolled_back)) {
            if ((rc = write_flags(c, &plan->stages[r->stage], rolled_back, true, err)) != RD_OK) {
                rd_controller_free(c);
                return rc;
            }
            if (env->flags_written)
                env->flags_written(env->ud);
        }
        if (env->store && !same_row)
            c->stored = rd_rollout_put(env->store, r, NULL) == RD_OK;
    } else if (rc == RD_OK || rc == RD_ENOTFOUND) {
        int64_t version = rc == RD_OK ? r->version : 0;
        rd_rollout_row_free(r);
        memset(r, 0, sizeof *r);
        r->version = version;
        snprintf(r->flag, sizeof r->flag, "%s", plan->route_flag);
        snprintf(r->plan_name, sizeof r->plan_name, "%s", plan->name);
        snprintf(r->plan_path, sizeof r->plan_path, "%.1000s", abs_plan);
        snprintf(r->plan_sha, sizeof r->plan_sha, "%s", plan->sha256);
        snprintf(r->flags_path, sizeof r->flags_path, "%.1000s", abs_flags);
        c->env.flags_path = r->flags_path;
        r->state = RD_ROLLOUT_RUNNING;
        r->stage = 0;
        snprintf(r->stage_name, sizeof r->stage_name, "%s", plan->stages[0].name);
        r->stage_started_ms = c->stage_started_ms = r->updated_ms = now_ms;
        r->plan_json = text;
        text = NULL;
        rd_flagtarget_sha(c->env.store, c->env.flags_path, c->flags_sha, NULL);
        if ((rc = write_flags(c, &plan->stages[0], false, true, err)) != RD_OK) {
            rd_controller_free(c);
            return rc;
        }
        if (env->flags_written)
            env->flags_written(env->ud);
        rd_transition t = {.ts_ms = now_ms, .from_stage = 0, .to_stage = 0};
        snprintf(t.flag, sizeof t.flag, "%s", plan->route_flag);
        snprintf(t.from_state, sizeof t.from_state, "none");
        snprintf(t.to_state, sizeof t.to_state, "running");
        snprintf(t.reason, sizeof t.reason, "start");
        snprintf(t.detail, sizeof t.detail, "plan %.100s from %.300s", plan->name, c->plan_path);
        snprintf(t.actor, sizeof t.actor, "controller");
        memcpy(t.flags_sha, c->flags_sha, sizeof t.flags_sha);
        rd_transition_record(env->store, env->data_dir, &t, NULL);
        if (env->store)
            c->stored = rd_rollout_put(env->store, r, NULL) == RD_OK;
        c->last = t;
        if (env->on_transition)
            env->on_transition(env->ud, &t);
    } else {
        rd_free(text);
        rd_controller_free(c);
        return rc;
    }
    c->last_eval_ms = now_ms;
    marks_take(c);
    c->cap_noted = cap_recorded(c);
    exposure_follow(c);
    *out = c;
    return RD_OK;
}

/* Several nodes may start the same rollout at once: the row is read and first written inside
 * one governance transaction (serialised across nodes), so one node starts it and the others
 * resume it, and "start" is recorded once. */
int rd_controller_new(rd_plan *plan, const char *plan_path, const rd_controller_env *env, int64_t now_ms,
                      rd_controller **out, rd_err *err)
{
    if (!env->store)
        return controller_new(plan, plan_path, env, now_ms, out, err);
    int rc = rd_store_begin(env->store, err);
    if (rc) {
        rd_plan_free(plan);
        return rc;
    }
    if ((rc = controller_new(plan, plan_path, env, now_ms, out, err)) != RD_OK) {
        rd_store_rollback(env->store);
        return rc;
    }
    rd_err e;
    if (rd_store_commit(env->store, &e) != RD_OK) { /* what it wrote is undone: follow the store */
        (*out)->stored = false;
    }
    return RD_OK;
}

void rd_controller_free(rd_controller *c)
{
    if (!c)
        return;
    rd_monitor_mark_free(c->cand.mark);
    rd_monitor_mark_free(c->ctrl.mark);
    rd_monitor_mark_free(c->shadow.mark);
    rd_monitor_segments_free(c->segs); /* unless a series took it: then the monitor's */
    rd_free(c->exposure_json);
    rd_rollout_row_free(&c->row);
    rd_plan_free(c->plan);
    pthread_mutex_destroy(&c->lock);
    rd_free(c);
}

const char *rd_controller_flag(const rd_controller *c) { return c->flag; }
const char *rd_controller_plan_path(const rd_controller *c) { return c->plan_path; }

void rd_controller_state(rd_controller *c, rd_rollout_state *state, int *stage)
{
    pthread_mutex_lock(&c->lock);
    *state = c->row.state;
    *stage = c->row.stage;
    pthread_mutex_unlock(&c->lock);
}

/* Whether two plans define the same segments (names, order, rules). */
static bool same_segments(const rd_plan *a, const rd_plan *b)
{
    if (a->nsegments != b->nsegments)
        return false;
    for (size_t i = 0; i < a->nsegments; i++)
        if (strcmp(a->segments[i].name, b->segments[i].name) != 0 ||
            strcmp(a->segments[i].rule ? a->segments[i].rule : "",
                   b->segments[i].rule ? b->segments[i].rule : ""))
            return false;
    return true;
}

/* Whether two stages route the same traffic (weights, segment, shadow). */
static bool same_traffic(const rd_stage *a, const rd_stage *b)
{
    return a->candidate == b->candidate && a->shadow == b->shadow && a->has_segment == b->has_segment &&
           (!a->has_segment || !strcmp(a->segment ? a->segment : "", b->segment ? b->segment : ""));
}

int rd_controller_replace_plan(rd_controller *c, rd_plan *plan, bool lead, rd_err *err)
{
    pthread_mutex_lock(&c->lock);
    const rd_plan *old = c->plan;
    int rc = RD_OK;
    long at = -1;
    for (size_t i = 0; i < plan->nstages; i++)
        if (!strcmp(plan->stages[i].name, cur_stage(c)->name))
            at = (long)i;
    if (strcmp(plan->route_flag, old->route_flag) != 0 || strcmp(plan->control, old->control) != 0 ||
        strcmp(plan->candidate, old->candidate) != 0 ||
        strcmp(plan->control_variant, old->control_variant) != 0 ||
        strcmp(plan->candidate_variant, old->candidate_variant) != 0 ||
        strcmp(plan->shadow_flag, old->shadow_flag) != 0 || strcmp(plan->name, old->name) != 0)
        rc = rd_err_set(
            err, RD_EINVAL,
            "the edited plan changes its name, the routing or shadow flag, the control or the candidate "
            "(bundle or variant): start a new rollout instead (the running plan is kept)");
    else if (at < 0)
        rc = rd_err_set(err, RD_EINVAL,
                        "the edited plan has no stage \"%s\", the current one (the running plan is kept)",
                        cur_stage(c)->name);
    if (rc) {
        pthread_mutex_unlock(&c->lock);
        rd_plan_free(plan);
        return rc;
    }
    bool moved = !same_traffic(cur_stage(c), &plan->stages[at]);
    rd_monitor_segments *segs = NULL;
    if (rd_segment_set_new(plan, &segs, err) != RD_OK) {
        pthread_mutex_unlock(&c->lock);
        rd_plan_free(plan);
        return err->code;
    }
    bool segs_changed = !same_segments(old, plan);
    if (segs_changed) {
        rd_monitor_segments_free(c->segs);
        c->segs = segs;
    } else {
        rd_monitor_segments_free(segs); /* the same segments: the counts go on */
    }
    c->plan = plan;
    c->row.stage = (int)at;
    snprintf(c->row.plan_sha, sizeof c->row.plan_sha, "%s", plan->sha256);
    char *text = NULL;
    size_t len = 0;
    if (c->plan_path[0] && rd_file_read(c->plan_path, 1 << 20, &text, &len, NULL) == RD_OK) {
        rd_free(c->row.plan_json); /* the row holds the text that runs: the CLI reads it */
        c->row.plan_json = text;
    }
    rd_plan_free((rd_plan *)old);
    if ((moved || segs_changed) && c->row.state != RD_ROLLOUT_PAUSED)
        marks_take(c); /* the current stage's traffic (or its segments) changed: its statistics restart */
    memset(c->ev, 0, sizeof c->ev);
    c->nev = 0;
    /* every node reads its plan file; only the leader writes what it changes (the row, and the
       flags when the stage's traffic moved), fenced as a transition is; a follower keeps the
       write pending and makes it at its first tick as leader */
    c->plan_moved = c->plan_moved || moved;
    c->plan_pending = true;
    if (lead)
        plan_write(c, rd_clock_unix_ms());
    exposure_follow(c); /* the edited plan's caps */
    pthread_mutex_unlock(&c->lock);
    return RD_OK;
}

int rd_controller_exposure_sync(rd_controller *c, int64_t now_ms, rd_err *err)
{
    if (!c->env.exposure)
        return RD_OK;
    int rc = rd_exposure_sync(c->env.exposure, now_ms, err);
    /* the status as the ledger sees it now, for the HTTP threads (the ledger is this thread's) */
    rd_buf b;
    rd_buf_init(&b);
    rd_exposure_status_json(c->env.exposure, &b);
    char *json = b.oom || !b.len ? NULL : rd_strndup(b.data, b.len);
    rd_buf_deinit(&b);
    pthread_mutex_lock(&c->lock);
    char *old = c->exposure_json;
    c->exposure_json = json;
    pthread_mutex_unlock(&c->lock);
    rd_free(old);
    return rc;
}

void rd_controller_exposure_json(rd_controller *c, rd_buf *b)
{
    pthread_mutex_lock(&c->lock);
    rd_buf_puts(b, c->exposure_json ? c->exposure_json : "null");
    pthread_mutex_unlock(&c->lock);
}
