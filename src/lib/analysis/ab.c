/* riskd ab: the A/B report of a routing flag's variants (rollout-monitoring.md §2.5-2.6).
 *
 * One pass over the decisions (the log's primary records routed by the flag, or a CSV's rows)
 * with memory constant in their number: per variant the counts, the score's running mean and
 * variance (Welford), the labelled and bad approved; per flag revision (the log's
 * flags.sha256: each rollout stage is a revision) the units per variant for SRM; per time
 * bucket (a fixed number of buckets whose width doubles as the span grows) the units and
 * approvals for the difference over time; per variant a uniform reservoir of scores for the
 * plot. Then each variant is compared with the control on approval rate (two-proportion z),
 * mean score (Welch t, relative lift by the delta method) and bad rate among approved (z, once
 * enough bads), Holm across every comparison, with the sample size the observed difference
 * needs. A statistic from too little data is not a number but a note with the count needed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"
#include "riskd/json.h"
#include "riskd/rollout.h"
#include "riskd/stats.h"

#define MAX_VARIANTS  64
#define MAX_REVISIONS 256
#define TBUCKETS      240 /* time buckets kept; merged pairwise when the span outgrows them */
#define SERIES_POINTS 60
#define RESERVOIR     10000
#define HIST_BINS     40
#define MIN_T_UNITS   30 /* scores per arm before a Welch t */

typedef struct arm {
    char *name;
    uint64_t units, approve, review, reject, other;
    uint64_t scored;
    double mean, m2; /* Welford */
    uint64_t labelled, approved_labelled, approved_bads;
    double *sample; /* reservoir */
    size_t nsample;
} arm;

typedef struct revision {
    char sha[RD_SHA256_HEX];
    int64_t first, last;
    uint64_t units[MAX_VARIANTS];
} revision;

typedef struct ab_ctx {
    const rd_ab_opts *o;
    const char *flag;
    arm arms[MAX_VARIANTS];
    size_t narms;
    revision *revs;
    size_t nrevs;
    bool too_many_revs;
    /* time buckets: [t0 + i w, t0 + (i+1) w) */
    int64_t t0, width;
    bool timed;
    uint64_t (*tb_units)[MAX_VARIANTS], (*tb_approve)[MAX_VARIANTS];
    uint64_t rows, skipped, other_flags, unrevised;
    char other_flag[128];
    uint64_t rng;
    /* --stage: the spans [from, to) the rollout was at that stage */
    size_t nspans;
    int64_t (*spans)[2];
    char default_variant[128];
    /* --segments: the plan's rules, and per arm and segment the applicants and approvals */
    rd_segment_rules *rules;
    uint64_t (*seg)[RD_PLAN_MAX_SEGMENTS][2];
    rd_arena scratch;
    /* CSV columns */
    int cv, cd, cs, cl;
    const char *path;
    size_t line;
} ab_ctx;

static uint64_t next_rand(ab_ctx *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static long arm_of(ab_ctx *c, const char *name, rd_err *err)
{
    for (size_t i = 0; i < c->narms; i++)
        if (!strcmp(c->arms[i].name, name))
            return (long)i;
    if (c->narms == MAX_VARIANTS)
        return rd_err_set(err, RD_ELIMIT, "more than %d variants", MAX_VARIANTS), -1;
    arm *a = &c->arms[c->narms];
    memset(a, 0, sizeof *a);
    a->name = rd_strndup(name, strlen(name));
    a->sample = rd_malloc(RESERVOIR * sizeof(double));
    if (!a->name || !a->sample) {
        rd_free(a->name);
        rd_free(a->sample);
        return rd_err_set(err, RD_ENOMEM, "out of memory"), -1;
    }
    return (long)c->narms++;
}

/* Merge time buckets pairwise (the width doubles) until t fits. */
static void fit_time(ab_ctx *c, int64_t t)
{
    if (!c->timed) {
        c->timed = true;
        c->t0 = t;
        c->width = 1000;
    }
    while (t >= c->t0 + (int64_t)TBUCKETS * c->width) {
        for (size_t i = 0; i < TBUCKETS; i++)
            for (size_t v = 0; v < MAX_VARIANTS; v++) {
                uint64_t u = i < TBUCKETS / 2 ? c->tb_units[2 * i][v] + c->tb_units[2 * i + 1][v] : 0;
                uint64_t a = i < TBUCKETS / 2 ? c->tb_approve[2 * i][v] + c->tb_approve[2 * i + 1][v] : 0;
                c->tb_units[i][v] = u;
                c->tb_approve[i][v] = a;
            }
        c->width *= 2;
    }
}

static int add_unit(ab_ctx *c, long v, int decision, double score, int label, int64_t t, rd_err *err)
{
    (void)err;
    arm *a = &c->arms[v];
    a->units++;
    switch (decision) {
    case 0: a->approve++; break;
    case 1: a->review++; break;
    case 2: a->reject++; break;
    default: a->other++; break;
    }
    if (isfinite(score)) {
        a->scored++;
        double d = score - a->mean;
        a->mean += d / (double)a->scored;
        a->m2 += d * (score - a->mean);
        if (a->nsample < RESERVOIR) {
            a->sample[a->nsample++] = score;
        } else {
            uint64_t j = next_rand(c) % a->scored;
            if (j < RESERVOIR)
                a->sample[j] = score;
        }
    }
    if (label >= 0) {
        a->labelled++;
        if (decision == 0) {
            a->approved_labelled++;
            a->approved_bads += label == 1;
        }
    }
    if (t) {
        fit_time(c, t);
        int64_t i = t < c->t0 ? 0 : (t - c->t0) / c->width;
        c->tb_units[i][v]++;
        c->tb_approve[i][v] += decision == 0;
    }
    c->rows++;
    return RD_OK;
}

/* ---------------------------------------------------------------- the log */

static bool in_spans(const ab_ctx *c, int64_t t)
{
    if (!c->spans)
        return true;
    for (size_t i = 0; i < c->nspans; i++)
        if (t >= c->spans[i][0] && (c->spans[i][1] == 0 || t < c->spans[i][1]))
            return true;
    return false;
}

static revision *revision_of(ab_ctx *c, const char *sha, int64_t t)
{
    if (!sha)
        return NULL;
    for (size_t i = c->nrevs; i-- > 0;)
        if (!strcmp(c->revs[i].sha, sha)) {
            c->revs[i].last = t > c->revs[i].last ? t : c->revs[i].last;
            return &c->revs[i];
        }
    if (c->nrevs == MAX_REVISIONS) {
        c->too_many_revs = true;
        return NULL;
    }
    revision *r = &c->revs[c->nrevs++];
    memset(r, 0, sizeof *r);
    snprintf(r->sha, sizeof r->sha, "%s", sha);
    r->first = r->last = t;
    return r;
}

static int on_record(void *ud, const rd_log_row *row, const rd_value *rec)
{
    ab_ctx *c = ud;
    const rd_value *flags = an_get(rec, "flags");
    const char *route = an_str(flags, "route_flag");
    if (!route || strcmp(route, c->flag) != 0) {
        c->other_flags++;
        if (route && !c->other_flag[0])
            snprintf(c->other_flag, sizeof c->other_flag, "%s", route);
        return RD_OK;
    }
    if (!in_spans(c, row->ts_ms))
        return RD_OK;
    const char *variant = an_str(rec, "variant");
    const rd_value *routed = an_get(rec, "routed");
    if (!variant || (routed && routed->type == RD_VBOOL && !routed->u.b)) {
        c->skipped++;
        return RD_OK;
    }
    rd_err err;
    long v = arm_of(c, variant, &err);
    if (v < 0) { /* past MAX_VARIANTS */
        c->skipped++;
        return RD_OK;
    }
    revision *r = revision_of(c, an_str(flags, "sha256"), row->ts_ms);
    if (r)
        r->units[v]++;
    else
        c->unrevised++;
    const char *src = an_str(rec, "source");
    double score = src && !strcmp(src, "model") ? an_num(rec, "score") : (double)NAN;
    int decision = an_decision(an_str(rec, "decision"));
    if (c->rules) { /* the segments the applicant is in, from the request as logged */
        uint32_t mask =
            rd_segment_rules_mask(c->rules, an_get(rec, "context"), an_get(rec, "features"), &c->scratch);
        rd_arena_reset(&c->scratch);
        for (size_t i = 0; i < c->o->segments->nsegments; i++)
            if (mask >> i & 1) {
                c->seg[v][i][0]++;
                c->seg[v][i][1] += decision == 0;
            }
    }
    return add_unit(c, v, decision, score, row->label, row->ts_ms, &err);
}

/* ---------------------------------------------------------------- --stage */

typedef struct span_ctx {
    ab_ctx *c;
    int stage;
    int64_t next; /* the time of the transition after the one being read (newest first) */
    rd_err *err;
} span_ctx;

static int on_transition(void *ud, const rd_transition *t)
{
    span_ctx *s = ud;
    ab_ctx *c = s->c;
    /* paused or holding, the flag file keeps the stage's split; rolled back, it routes none */
    if (t->to_stage == s->stage && strcmp(t->to_state, "rolled_back") != 0) {
        int64_t(*sp)[2] = rd_realloc(c->spans, (c->nspans + 1) * sizeof *sp);
        if (!sp)
            return rd_err_set(s->err, RD_ENOMEM, "out of memory");
        c->spans = sp;
        c->spans[c->nspans][0] = t->ts_ms;
        c->spans[c->nspans++][1] = s->next;
    }
    s->next = t->ts_ms;
    return 0;
}

static int stage_spans(ab_ctx *c, rd_store *st, const char *stage, rd_err *err)
{
    rd_rollout_row row;
    int rc = rd_rollout_get(st, c->flag, &row, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_EINVAL, "--stage %s: the flag %s has no rollout recorded in %s", stage,
                          c->flag, rd_store_name(st));
    if (rc)
        return rc;
    rd_plan *p = NULL;
    rc = rd_plan_parse(row.plan_json, strlen(row.plan_json), &p, err);
    rd_rollout_row_free(&row);
    if (rc)
        return rc;
    int idx = -1;
    rd_buf names;
    rd_buf_init(&names);
    for (size_t i = 0; i < p->nstages; i++) {
        rd_buf_printf(&names, "%s%s", i ? ", " : "", p->stages[i].name);
        if (!strcmp(p->stages[i].name, stage))
            idx = (int)i;
    }
    if (idx < 0)
        rc = rd_err_set(err, RD_EINVAL, "--stage %s: the rollout of %s has no such stage (stages: %s)", stage,
                        c->flag, rd_buf_cstr(&names));
    rd_buf_deinit(&names);
    rd_plan_free(p);
    if (rc)
        return rc;
    span_ctx s = {.c = c, .stage = idx, .err = err};
    if ((rc = rd_transition_list(st, c->flag, 0, on_transition, &s, err)) != RD_OK)
        return rc;
    if (c->nspans == 0)
        return rd_err_set(err, RD_EINVAL, "--stage %s: the rollout of %s never reached that stage", stage,
                          c->flag);
    return RD_OK;
}

/* ---------------------------------------------------------------- the CSV */

static int read_csv(ab_ctx *c, const rd_an_source *src, rd_err *err)
{
    const rd_ab_opts *o = c->o;
    if (!o->variant_col || !o->decision_col || !o->score_col)
        return rd_err_set(err, RD_EUSAGE, "a CSV needs --variant-col, --decision-col and --score-col");
    rd_csv *csv;
    int rc = rd_csv_open(src->csv, &csv, err);
    if (rc)
        return rc;
    c->cl = -1;
    if ((rc = an_csv_column(csv, src->csv, "--variant-col", o->variant_col, &c->cv, err)) ||
        (rc = an_csv_column(csv, src->csv, "--decision-col", o->decision_col, &c->cd, err)) ||
        (rc = an_csv_column(csv, src->csv, "--score-col", o->score_col, &c->cs, err)) ||
        (o->label_col && (rc = an_csv_column(csv, src->csv, "--label-col", o->label_col, &c->cl, err)))) {
        rd_csv_close(csv);
        return rc;
    }
    char **f;
    int got;
    while (!rc && (got = rd_csv_next(csv, &f, err)) != 0) {
        size_t line = rd_csv_line(csv);
        if (got < 0) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            rc = rd_err_set(err, got, "%s: line %zu: %s", src->csv, line, why);
            break;
        }
        const char *var = f[c->cv], *dec = f[c->cd], *sc = f[c->cs];
        int d = an_decision(dec), label = c->cl >= 0 ? an_label(f[c->cl]) : -1;
        double score = (double)NAN;
        if (!*var)
            rc = rd_err_set(err, RD_EINVAL, "%s: line %zu: %s is empty: every row needs its variant",
                            src->csv, line, o->variant_col);
        else if (d < 0)
            rc = rd_err_set(err, RD_EINVAL,
                            "%s: line %zu: %s: expected approve, review or reject, got \"%.40s\"", src->csv,
                            line, o->decision_col, dec);
        else if (*sc && !an_number(sc, &score))
            rc = rd_err_set(err, RD_EINVAL, "%s: line %zu: %s: expected a number (or empty), got \"%.40s\"",
                            src->csv, line, o->score_col, sc);
        else if (label == -2)
            rc = rd_err_set(
                err, RD_EINVAL,
                "%s: line %zu: %s: expected 0 (good), 1 (bad) or empty (not known yet), got \"%.40s\"",
                src->csv, line, o->label_col, f[c->cl]);
        if (rc)
            break;
        long v = arm_of(c, var, err);
        if (v < 0) {
            rc = err->code;
            break;
        }
        rc = add_unit(c, v, d, score, label, 0, err);
        if (c->rows % 4096 == 0 && src->progress)
            src->progress(src->ud, rd_csv_offset(csv), rd_csv_size(csv));
    }
    if (!rc && src->progress)
        src->progress(src->ud, rd_csv_size(csv), rd_csv_size(csv));
    rd_csv_close(csv);
    return rc;
}

/* ---------------------------------------------------------------- teardown */

static void ctx_free(ab_ctx *c)
{
    for (size_t i = 0; i < c->narms; i++) {
        rd_free(c->arms[i].name);
        rd_free(c->arms[i].sample);
    }
    rd_free(c->revs);
    rd_free(c->tb_units);
    rd_free(c->tb_approve);
    rd_free(c->spans);
    rd_segment_rules_free(c->rules);
    rd_free(c->seg);
    rd_arena_deinit(&c->scratch);
}

static int finish(ab_ctx *c, const rd_an_source *src, rd_arena *a, rd_ab_result *out, rd_err *err);

int rd_ab(const rd_an_source *src, const rd_ab_opts *o, rd_arena *a, rd_ab_result *out, rd_err *err)
{
    memset(out, 0, sizeof *out);
    ab_ctx c = {.o = o, .flag = o->flag, .rng = 0x9e3779b97f4a7c15ULL};
    rd_arena_init(&c.scratch, 0);
    c.revs = rd_calloc(MAX_REVISIONS, sizeof(revision));
    c.tb_units = rd_calloc(TBUCKETS, sizeof *c.tb_units);
    c.tb_approve = rd_calloc(TBUCKETS, sizeof *c.tb_approve);
    int rc = !c.revs || !c.tb_units || !c.tb_approve ? rd_err_set(err, RD_ENOMEM, "out of memory") : RD_OK;
    if (!rc && o->segments && !src->store)
        rc = rd_err_set(err, RD_EUSAGE,
                        "--segments reads the decision log (its records hold context and features), "
                        "not a CSV");
    else if (!rc && o->segments && !o->segments->nsegments)
        rc = rd_err_set(err, RD_EINVAL, "--segments: the plan %s declares no segments", o->segments->name);
    if (!rc && o->segments && !(rc = rd_segment_rules_new(o->segments, &c.rules, err)) &&
        !(c.seg = rd_calloc(MAX_VARIANTS, sizeof *c.seg)))
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    const char *outcome = NULL;
    if (!rc && src->store) {
        if (!o->flag)
            rc = rd_err_set(err, RD_EUSAGE,
                            "the log needs --flag: the routing flag whose variants are compared");
        else if (!(rc = an_outcome(src, a, &outcome, err)) && o->stage)
            rc = stage_spans(&c, src->store, o->stage, err);
        if (!rc)
            rc = an_log_each(src, "primary", outcome, on_record, &c, &c.skipped, err);
        if (!rc && c.rows == 0)
            rc = c.other_flags
                     ? rd_err_set(
                           err, RD_ENOTFOUND,
                           "the flag %s routed no decision in the window (%llu decisions were routed by "
                           "other flags, e.g. %s)",
                           o->flag, (unsigned long long)c.other_flags, c.other_flag)
                     : rd_err_set(err, RD_ENOTFOUND, "the flag %s routed no decision in the window%s",
                                  o->flag, o->stage ? " and stage" : "");
    } else if (!rc) {
        rc = read_csv(&c, src, err);
        if (!rc && c.rows == 0)
            rc = rd_err_set(err, RD_EINVAL, "%s: no rows", src->csv);
    }
    if (!rc) {
        out->outcome = outcome;
        rc = finish(&c, src, a, out, err);
    }
    ctx_free(&c);
    return rc;
}

void rd_ab_opts_default(rd_ab_opts *o) { *o = (rd_ab_opts){.alpha = 0.05, .power = 0.8, .min_bads = 100}; }

const char *rd_ab_metric_name(rd_ab_metric m)
{
    switch (m) {
    case RD_AB_APPROVAL: return "approval_rate";
    case RD_AB_MEAN_SCORE: return "mean_score";
    case RD_AB_BAD_RATE: return "bad_rate_approved";
    }
    return "unknown";
}

/* ---------------------------------------------------------------- SRM */

/* The fractional split in targeting t (resolving "$ref" against evaluators), or NULL. */
static const rd_value *find_fractional(const rd_value *t, const rd_value *evaluators, int depth)
{
    if (!t || depth > 32)
        return NULL;
    if (t->type == RD_VARRAY) {
        for (uint32_t i = 0; i < t->len; i++) {
            const rd_value *f = find_fractional(&t->u.items[i], evaluators, depth + 1);
            if (f)
                return f;
        }
        return NULL;
    }
    if (t->type != RD_VOBJECT)
        return NULL;
    const rd_value *f = an_get(t, "fractional"), *ref = an_get(t, "$ref");
    if (f && f->type == RD_VARRAY)
        return f;
    if (ref && ref->type == RD_VSTRING)
        return find_fractional(an_get(evaluators, ref->u.s), evaluators, depth + 1);
    for (uint32_t i = 0; i < t->len; i++) {
        const rd_value *g = find_fractional(&t->u.members[i].val, evaluators, depth + 1);
        if (g)
            return g;
    }
    return NULL;
}

/* The configured weights of revision r: weights[arm] for the arms seen; why says when they
 * cannot be known. Also the flag's defaultVariant into c->default_variant when not yet set. */
static bool revision_weights(ab_ctx *c, rd_store *st, const revision *r, double *weights, char *stage,
                             size_t scap, char *why, size_t wcap)
{
    char *text = NULL;
    size_t len = 0;
    rd_err e;
    rd_arena ar;
    rd_arena_init(&ar, 0);
    rd_value set;
    bool ok = false;
    snprintf(stage, scap, "flags %.12s", r->sha);
    if (rd_store_blob_get(st, r->sha, &text, &len, &e) != RD_OK) {
        snprintf(why, wcap, "the flag file %.12s was not kept: its weights are unknown", r->sha);
    } else if (rd_json_parse(text, len, NULL, &ar, &set, &e) != RD_OK) {
        snprintf(why, wcap, "the kept flag file %.12s does not parse", r->sha);
    } else {
        const rd_value *flag = an_get(an_get(&set, "flags"), c->flag);
        const char *dv = an_str(flag, "defaultVariant"),
                   *meta_stage = an_str(an_get(flag, "metadata"), "stage");
        if (dv && !c->default_variant[0])
            snprintf(c->default_variant, sizeof c->default_variant, "%s", dv);
        if (meta_stage)
            snprintf(stage, scap, "%s", meta_stage);
        const rd_value *fr = find_fractional(an_get(flag, "targeting"), an_get(&set, "$evaluators"), 0);
        if (!flag) {
            snprintf(why, wcap, "the flag file %.12s has no flag %s", r->sha, c->flag);
        } else if (!fr) {
            snprintf(why, wcap, "no fractional split in this revision's targeting: no ratio to check");
        } else {
            ok = true;
            for (size_t v = 0; v < MAX_VARIANTS; v++)
                weights[v] = 0;
            for (uint32_t i = 0; i < fr->len && ok; i++) {
                const rd_value *b = &fr->u.items[i];
                if (b->type != RD_VARRAY)
                    continue; /* the bucketBy expression */
                const rd_value *name = b->len ? &b->u.items[0] : NULL;
                double w = 1;
                if (b->len >= 2 && b->u.items[1].type == RD_VNUMBER)
                    w = b->u.items[1].u.n < 0 ? 0 : b->u.items[1].u.n;
                else if (b->len >= 2 && b->u.items[1].type != RD_VNULL)
                    ok = false;
                if (!ok) {
                    snprintf(why, wcap,
                             "a weight in the split is computed at evaluation: no fixed ratio to check");
                } else if (name && name->type == RD_VSTRING) {
                    /* a variant of the split that got no unit is an arm too, with 0 units: SRM
                       must see it (its absence is the worst mismatch there is) */
                    long v = arm_of(c, name->u.s, &e);
                    if (v >= 0)
                        weights[v] += w;
                }
            }
        }
    }
    rd_free(text);
    rd_arena_deinit(&ar);
    return ok;
}

/* "control=50,candidate=50" */
static int parse_weights(const ab_ctx *c, const char *spec, double *weights, rd_err *err)
{
    bool named[MAX_VARIANTS] = {false};
    for (size_t v = 0; v < c->narms; v++)
        weights[v] = 0;
    if (!*spec)
        return rd_err_set(err, RD_EUSAGE, "--weights is empty: expected NAME=WEIGHT,NAME=WEIGHT");
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end)
            return rd_err_set(err, RD_EUSAGE, "--weights %s: expected NAME=WEIGHT,NAME=WEIGHT", spec);
        char num[64];
        snprintf(num, sizeof num, "%.*s", (int)(end - eq - 1), eq + 1);
        double w;
        if (!an_number(num, &w) || w < 0)
            return rd_err_set(err, RD_EUSAGE, "--weights: \"%s\" is not a weight (a number >= 0)", num);
        size_t v = 0;
        while (v < c->narms && !(strlen(c->arms[v].name) == (size_t)(eq - p) &&
                                 !memcmp(c->arms[v].name, p, (size_t)(eq - p))))
            v++;
        if (v == c->narms)
            return rd_err_set(err, RD_EINVAL, "--weights: %.*s is no variant of the file", (int)(eq - p), p);
        if (named[v])
            return rd_err_set(err, RD_EUSAGE, "--weights: %s is given twice", c->arms[v].name);
        named[v] = true;
        weights[v] = w;
        p = *end ? end + 1 : end;
    }
    double sum = 0;
    for (size_t v = 0; v < c->narms; v++) {
        if (!named[v]) /* a variant with decisions and no weight would fail SRM by itself */
            return rd_err_set(err, RD_EINVAL,
                              "--weights: the variant %s has decisions but no weight (give %s=0 to "
                              "mean it should have none)",
                              c->arms[v].name, c->arms[v].name);
        sum += weights[v];
    }
    if (!(sum > 0) || !isfinite(sum))
        return rd_err_set(err, RD_EUSAGE, "--weights: the weights must add up to a finite number above 0");
    return RD_OK;
}

/* rd_srm calls an arm with fewer than RD_SRM_MIN_UNITS units inconclusive; an arm the split
 * gives thousands of expected units and that got (next to) none is the plainest mismatch of all:
 * fail when p < alpha and every weighted arm expected at least RD_SRM_MIN_UNITS. */
static void srm_small_arm(rd_ab_srm *s, const double *w, const uint64_t *obs, size_t n, double alpha)
{
    if (strcmp(s->verdict, "inconclusive") != 0 || !(s->p < alpha))
        return;
    double wsum = 0, total = 0, low = (double)INFINITY;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0) {
            wsum += w[i];
            total += (double)obs[i];
        }
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0) {
            double e = w[i] / wsum * total;
            if (e < RD_SRM_MIN_UNITS)
                return;
            if ((double)obs[i] / e < low) {
                low = (double)obs[i] / e;
                worst = i;
            }
        }
    s->verdict = "fail";
    snprintf(s->why, sizeof s->why, "p = %.3g < %g: %s has %llu units where %.0f were expected", s->p, alpha,
             s->arms[worst], (unsigned long long)obs[worst], w[worst] / wsum * total);
}

static int fill_srm(rd_ab_srm *s, const ab_ctx *c, const size_t *order, const uint64_t *units,
                    const double *weights, rd_arena *a, double alpha_srm)
{
    s->narms = c->narms;
    const char **arms = rd_arena_alloc(a, c->narms * sizeof(char *));
    double *w = rd_arena_alloc(a, c->narms * sizeof(double));
    uint64_t *obs = rd_arena_alloc(a, c->narms * sizeof(uint64_t));
    if (!arms || !w || !obs)
        return RD_ENOMEM;
    for (size_t i = 0; i < c->narms; i++) {
        if (!(arms[i] = an_strdup(a, c->arms[order[i]].name)))
            return RD_ENOMEM;
        w[i] = weights ? weights[order[i]] : (double)NAN;
        obs[i] = units[order[i]];
    }
    s->arms = arms;
    s->weights = w;
    s->observed = obs;
    s->chi2 = s->p = (double)NAN;
    s->verdict = "inconclusive";
    if (weights) {
        rd_srm_result r;
        rd_srm(obs, w, c->narms, alpha_srm, &r);
        s->chi2 = r.chi2;
        s->p = r.p;
        s->verdict = rd_verdict_name(r.verdict);
        size_t ai;
        int at = 0;
        if (sscanf(r.why, "arm %zu%n", &ai, &at) == 1 && ai < c->narms) /* the arm by its name */
            snprintf(s->why, sizeof s->why, "%s%s", arms[ai], r.why + at);
        else
            snprintf(s->why, sizeof s->why, "%s", r.why);
        srm_small_arm(s, w, obs, c->narms, alpha_srm);
    }
    return RD_OK;
}

static int make_srm(ab_ctx *c, const rd_an_source *src, const size_t *order, rd_arena *a, rd_ab_result *out,
                    rd_err *err)
{
    double weights[MAX_VARIANTS];
    if (!src->store) {
        if (!c->o->weights)
            return RD_OK;
        int rc = parse_weights(c, c->o->weights, weights, err);
        if (rc)
            return rc;
        out->nsrm = 1;
        out->srm = rd_arena_alloc(a, sizeof(rd_ab_srm));
        if (!out->srm)
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        memset(out->srm, 0, sizeof *out->srm);
        out->srm->stage = "--weights";
        uint64_t units[MAX_VARIANTS];
        for (size_t v = 0; v < c->narms; v++)
            units[v] = c->arms[v].units;
        return fill_srm(out->srm, c, order, units, weights, a, RD_SRM_ALPHA)
                   ? rd_err_set(err, RD_ENOMEM, "out of memory")
                   : RD_OK;
    }
    out->nsrm = c->nrevs;
    out->srm = rd_arena_alloc(a, (c->nrevs ? c->nrevs : 1) * sizeof(rd_ab_srm));
    if (!out->srm)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nrevs; i++) {
        rd_ab_srm *s = &out->srm[i];
        memset(s, 0, sizeof *s);
        char stage[128], why[200] = "";
        bool ok = revision_weights(c, src->store, &c->revs[i], weights, stage, sizeof stage, why, sizeof why);
        s->stage = an_strdup(a, stage);
        s->flags_sha = an_strdup(a, c->revs[i].sha);
        s->from_ms = c->revs[i].first;
        s->to_ms = c->revs[i].last;
        if (!s->stage || !s->flags_sha ||
            fill_srm(s, c, order, c->revs[i].units, ok ? weights : NULL, a, RD_SRM_ALPHA))
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        if (!ok)
            snprintf(s->why, sizeof s->why, "%s", why);
    }
    return RD_OK;
}

/* ---------------------------------------------------------------- comparisons */

static void set_insufficient(rd_ab_compare *k, const char *fmt, ...) RD_PRINTF(2, 3);
static void set_insufficient(rd_ab_compare *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    k->status.ok = false;
    vsnprintf(k->status.note, sizeof k->status.note, fmt, ap);
    va_end(ap);
}

static void blank(rd_ab_compare *k, const char *variant, rd_ab_metric m)
{
    double nan = (double)NAN;
    *k = (rd_ab_compare){.variant = variant,
                         .metric = m,
                         .control_value = nan,
                         .value = nan,
                         .diff = nan,
                         .lo = nan,
                         .hi = nan,
                         .rel = nan,
                         .rel_lo = nan,
                         .rel_hi = nan,
                         .stat = nan,
                         .df = nan,
                         .p = nan,
                         .p_holm = nan,
                         .n_needed = nan};
    k->status.ok = true;
}

static void cmp_rate(rd_ab_compare *k, uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0,
                     const rd_ab_opts *o)
{
    rd_ztest z;
    rd_ztest_2prop(x1, n1, x0, n0, o->alpha, &z);
    k->control_value = n0 ? (double)x0 / (double)n0 : (double)NAN;
    k->value = n1 ? (double)x1 / (double)n1 : (double)NAN;
    if (!z.ok || !z.enough)
        return;
    k->diff = z.diff;
    k->lo = z.lo;
    k->hi = z.hi;
    k->stat = z.z;
    k->p = z.p;
    if (z.p0 > 0) {
        k->rel = z.diff / z.p0;
    }
    k->n_needed = rd_sample_size_2prop(z.p0, z.p1, o->alpha, o->power);
}

static void cmp_approval(rd_ab_compare *k, const arm *v, const arm *ctl, const rd_ab_opts *o)
{
    cmp_rate(k, v->approve, v->units, ctl->approve, ctl->units, o);
    const arm *arms[2] = {ctl, v};
    for (int i = 0; i < 2; i++) {
        const arm *x = arms[i];
        uint64_t declined = x->units - x->approve;
        if (x->approve < 10 || declined < 10) {
            set_insufficient(
                k, "insufficient data: each arm needs 10 approvals and 10 declines; %s has %llu and %llu",
                x->name, (unsigned long long)x->approve, (unsigned long long)declined);
            return;
        }
    }
}

static void cmp_bad_rate(rd_ab_compare *k, const arm *v, const arm *ctl, const rd_ab_opts *o)
{
    cmp_rate(k, v->approved_bads, v->approved_labelled, ctl->approved_bads, ctl->approved_labelled, o);
    uint64_t bads = v->approved_bads + ctl->approved_bads;
    if (bads < o->min_bads) {
        set_insufficient(k, "insufficient data: %llu bads among the approved, need %llu",
                         (unsigned long long)bads, (unsigned long long)o->min_bads);
        return;
    }
    const arm *arms[2] = {ctl, v};
    for (int i = 0; i < 2; i++) {
        const arm *x = arms[i];
        uint64_t goods = x->approved_labelled - x->approved_bads;
        if (x->approved_bads < 10 || goods < 10) {
            set_insufficient(
                k,
                "insufficient data: each arm needs 10 bads and 10 goods among its labelled approved; "
                "%s has %llu and %llu",
                x->name, (unsigned long long)x->approved_bads, (unsigned long long)goods);
            return;
        }
    }
}

static void cmp_mean(rd_ab_compare *k, const arm *v, const arm *ctl, const rd_ab_opts *o)
{
    k->control_value = ctl->scored ? ctl->mean : (double)NAN;
    k->value = v->scored ? v->mean : (double)NAN;
    const arm *arms[2] = {ctl, v};
    for (int i = 0; i < 2; i++)
        if (arms[i]->scored < MIN_T_UNITS) {
            set_insufficient(k, "insufficient data: each arm needs %d model scores; %s has %llu", MIN_T_UNITS,
                             arms[i]->name, (unsigned long long)arms[i]->scored);
            return;
        }
    double v1 = v->m2 / (double)(v->scored - 1), v0 = ctl->m2 / (double)(ctl->scored - 1);
    rd_welch w;
    rd_welch_t(v->mean, v1, (double)v->scored, ctl->mean, v0, (double)ctl->scored, o->alpha, &w);
    if (!w.ok || !(w.se > 0)) {
        set_insufficient(k, "the scores do not vary within the arms: no test of their means");
        return;
    }
    k->diff = w.diff;
    k->lo = w.lo;
    k->hi = w.hi;
    k->stat = w.t;
    k->df = w.df;
    k->p = w.p;
    k->rel = w.rel;
    k->rel_lo = w.rel_lo;
    k->rel_hi = w.rel_hi;
    double sd = sqrt((v1 + v0) / 2);
    k->n_needed = rd_sample_size_mean(w.diff, sd, o->alpha, o->power);
}

/* 100459 -> "100,459" */
static const char *thousands(double v, char *buf, size_t cap)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%.0f", v), at = 0;
    for (int i = 0; i < n && (size_t)at + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0 && digits[i - 1] != '-')
            buf[at++] = ',';
        buf[at++] = digits[i];
    }
    buf[at] = '\0';
    return buf;
}

static const char *fmt_p(double p, char *buf, size_t cap)
{
    if (p < 0.001)
        snprintf(buf, cap, "p < 0.001");
    else
        snprintf(buf, cap, "p = %.3f", p);
    return buf;
}

static void sentence(rd_ab_compare *k, const char *control, double alpha)
{
    char p[32], ph[32];
    int level = (int)lround(100 * (1 - alpha));
    if (!k->status.ok) {
        const char *what = k->metric == RD_AB_APPROVAL     ? "approval rate"
                           : k->metric == RD_AB_MEAN_SCORE ? "mean score"
                                                           : "bad rate among approved";
        snprintf(k->sentence, sizeof k->sentence, "%s: %s not yet measurable (%s)", k->variant, what,
                 k->status.note);
        return;
    }
    fmt_p(k->p, p, sizeof p);
    fmt_p(k->p_holm, ph, sizeof ph);
    const char *verdict = k->significant ? "" : "; not significant after Holm: could be noise";
    char need[96] = "", units[32];
    if (!k->significant && isfinite(k->n_needed))
        snprintf(need, sizeof need, " (a difference this size needs %s units per arm)",
                 thousands(k->n_needed, units, sizeof units));
    if (k->metric == RD_AB_APPROVAL)
        snprintf(
            k->sentence, sizeof k->sentence,
            "%s approves %.1f pp %s than %s (%.1f%% vs %.1f%%), %d%% CI %.1f to %.1f pp, %s (Holm %s)%s%s",
            k->variant, fabs(100 * k->diff), k->diff >= 0 ? "more" : "fewer", control, 100 * k->value,
            100 * k->control_value, level, 100 * k->lo, 100 * k->hi, p, ph, verdict, need);
    else if (k->metric == RD_AB_BAD_RATE)
        snprintf(
            k->sentence, sizeof k->sentence,
            "%s's approved go bad %.1f pp %s often than %s's (%.1f%% vs %.1f%%), %d%% CI %.1f to %.1f pp, %s "
            "(Holm %s)%s%s",
            k->variant, fabs(100 * k->diff), k->diff >= 0 ? "more" : "less", control, 100 * k->value,
            100 * k->control_value, level, 100 * k->lo, 100 * k->hi, p, ph, verdict, need);
    else
        snprintf(
            k->sentence, sizeof k->sentence,
            "%s's mean score is %.4g %s than %s's (%.4g vs %.4g; %+.1f%%, %d%% CI %+.1f%% to %+.1f%%), %s "
            "(Holm %s)%s%s",
            k->variant, fabs(k->diff), k->diff >= 0 ? "higher" : "lower", control, k->value, k->control_value,
            100 * k->rel, level, 100 * k->rel_lo, 100 * k->rel_hi, p, ph, verdict, need);
}

static int make_compare(const ab_ctx *c, const size_t *order, const rd_ab_opts *o, rd_arena *a,
                        rd_ab_result *out)
{
    size_t n = 3 * (c->narms - 1);
    out->ncompare = n;
    out->compare = rd_arena_alloc(a, (n ? n : 1) * sizeof(rd_ab_compare));
    double *p = rd_arena_alloc(a, (n ? n : 1) * sizeof(double));
    if (!out->compare || !p)
        return RD_ENOMEM;
    const arm *ctl = &c->arms[order[0]];
    for (size_t i = 1, at = 0; i < c->narms; i++) {
        const arm *v = &c->arms[order[i]];
        /* the result's copy of the name (in the arena): the arm's own is freed with the context */
        const char *name = out->variants[i].name;
        rd_ab_compare *k = &out->compare[at];
        blank(&k[0], name, RD_AB_APPROVAL);
        cmp_approval(&k[0], v, ctl, o);
        blank(&k[1], name, RD_AB_MEAN_SCORE);
        cmp_mean(&k[1], v, ctl, o);
        blank(&k[2], name, RD_AB_BAD_RATE);
        cmp_bad_rate(&k[2], v, ctl, o);
        at += 3;
    }
    for (size_t i = 0; i < n; i++) {
        rd_ab_compare *k = &out->compare[i];
        if (!k->status.ok) { /* the numbers of an insufficient comparison are not reported */
            double keep0 = k->control_value, keep1 = k->value;
            const char *var = k->variant;
            rd_ab_metric m = k->metric;
            rd_an_note st = k->status;
            blank(k, var, m);
            k->status = st;
            k->control_value = keep0;
            k->value = keep1;
        }
        p[i] = k->status.ok ? k->p : (double)NAN;
    }
    rd_holm(p, n, p);
    for (size_t i = 0; i < n; i++) {
        rd_ab_compare *k = &out->compare[i];
        k->p_holm = p[i];
        k->significant = k->status.ok && p[i] < o->alpha;
        sentence(k, ctl->name, o->alpha);
    }
    return RD_OK;
}

/* ---------------------------------------------------------------- series and plot */

static int make_series(const ab_ctx *c, const size_t *order, const rd_ab_opts *o, rd_arena *a,
                       rd_ab_result *out)
{
    if (!c->timed || c->narms < 2)
        return RD_OK;
    size_t last = 0;
    for (size_t i = 0; i < TBUCKETS; i++)
        for (size_t v = 0; v < c->narms; v++)
            if (c->tb_units[i][v])
                last = i;
    size_t nb = last + 1, step = (nb + SERIES_POINTS - 1) / SERIES_POINTS;
    size_t npts = (nb + step - 1) / step * (c->narms - 1);
    out->points = rd_arena_alloc(a, npts * sizeof(rd_ab_point));
    if (!out->points)
        return RD_ENOMEM;
    uint64_t cu[MAX_VARIANTS] = {0}, ca[MAX_VARIANTS] = {0};
    size_t ctl = order[0];
    for (size_t i = 0; i < nb; i++) {
        for (size_t v = 0; v < c->narms; v++) {
            cu[v] += c->tb_units[i][v];
            ca[v] += c->tb_approve[i][v];
        }
        if (i % step != step - 1 && i + 1 != nb)
            continue;
        for (size_t k = 1; k < c->narms && out->npoints < npts; k++) {
            size_t v = order[k];
            rd_ab_point *pt = &out->points[out->npoints++];
            rd_ztest z;
            rd_ztest_2prop(ca[v], cu[v], ca[ctl], cu[ctl], o->alpha, &z);
            bool enough = ca[v] >= 10 && cu[v] - ca[v] >= 10 && ca[ctl] >= 10 && cu[ctl] - ca[ctl] >= 10;
            *pt = (rd_ab_point){.t_ms = c->t0 + (int64_t)(i + 1) * c->width,
                                .variant = out->variants[k].name,
                                .units = cu[v],
                                .control_units = cu[ctl],
                                .diff = enough ? z.diff : (double)NAN,
                                .lo = enough ? z.lo : (double)NAN,
                                .hi = enough ? z.hi : (double)NAN};
        }
    }
    return RD_OK;
}

static int make_hist(const ab_ctx *c, const size_t *order, rd_arena *a, rd_ab_result *out)
{
    double lo = (double)INFINITY, hi = -(double)INFINITY;
    for (size_t v = 0; v < c->narms; v++)
        for (size_t i = 0; i < c->arms[v].nsample; i++) {
            lo = fmin(lo, c->arms[v].sample[i]);
            hi = fmax(hi, c->arms[v].sample[i]);
        }
    if (!(lo <= hi))
        return RD_OK;
    if (hi == lo) /* one value: a bin around it (relative, so that 1e308 + 1 is not 1e308 again) */
        hi = lo + fmax(1, fabs(lo) * 1e-9);
    out->nbins = HIST_BINS;
    out->edges = rd_arena_alloc(a, (HIST_BINS + 1) * sizeof(double));
    out->hist = rd_arena_alloc(a, c->narms * sizeof(uint64_t *));
    if (!out->edges || !out->hist)
        return RD_ENOMEM;
    for (size_t i = 0; i <= HIST_BINS; i++)
        out->edges[i] =
            lo * (1 - (double)i / HIST_BINS) + hi * ((double)i / HIST_BINS); /* no hi - lo: it may overflow */
    for (size_t k = 0; k < c->narms; k++) {
        const arm *x = &c->arms[order[k]];
        uint64_t *h = rd_arena_alloc(a, HIST_BINS * sizeof(uint64_t));
        if (!h)
            return RD_ENOMEM;
        memset(h, 0, HIST_BINS * sizeof(uint64_t));
        for (size_t i = 0; i < x->nsample; i++) {
            double f = (x->sample[i] / 2 - lo / 2) / (hi / 2 - lo / 2) * HIST_BINS;
            size_t b = f >= HIST_BINS ? HIST_BINS - 1 : !(f >= 0) ? 0 : (size_t)f;
            h[b]++;
        }
        out->hist[k] = h;
    }
    return RD_OK;
}

/* ---------------------------------------------------------------- the result */

static int pick_control(ab_ctx *c, const rd_an_source *src, size_t *order, rd_err *err)
{
    if (src->store && !c->o->control && c->nrevs) {
        double w[MAX_VARIANTS];
        char stage[128], why[200];
        revision_weights(c, src->store, &c->revs[c->nrevs - 1], w, stage, sizeof stage, why, sizeof why);
    }
    const char *want = c->o->control           ? c->o->control
                       : c->default_variant[0] ? c->default_variant
                                               : c->arms[0].name;
    size_t ctl = c->narms;
    for (size_t v = 0; v < c->narms; v++)
        if (!strcmp(c->arms[v].name, want))
            ctl = v;
    if (ctl == c->narms) {
        rd_buf names;
        rd_buf_init(&names);
        for (size_t v = 0; v < c->narms; v++)
            rd_buf_printf(&names, "%s%s", v ? ", " : "", c->arms[v].name);
        int rc = rd_err_set(err, RD_EINVAL, "%s%s is no variant with decisions in the window (variants: %s)",
                            c->o->control ? "--control " : "the control (the flag's default variant) ", want,
                            rd_buf_cstr(&names));
        rd_buf_deinit(&names);
        return rc;
    }
    order[0] = ctl;
    for (size_t v = 0, k = 1; v < c->narms; v++)
        if (v != ctl)
            order[k++] = v;
    return RD_OK;
}

/* The fair-lending table: per segment and variant the counts, rates and adverse impact ratios,
 * and each variant against the control with the figures the segment gates judge. */
static int make_segments(const ab_ctx *c, const size_t *order, rd_arena *a, rd_ab_result *out)
{
    const rd_plan *p = c->o->segments;
    rd_ab_segments *ss = rd_arena_alloc(a, sizeof *ss);
    if (!ss || !(ss->segs = rd_arena_alloc(a, p->nsegments * sizeof(rd_ab_segment))))
        return RD_ENOMEM;
    int ref = p->reference;
    ss->plan = an_strdup(a, p->name);
    ss->reference = ref >= 0 ? an_strdup(a, p->segments[ref].name) : NULL;
    ss->alpha = c->o->alpha > 0 ? c->o->alpha : 0.05;
    ss->min_size = c->o->segment_min ? c->o->segment_min : RD_SEGMENT_MIN_DEFAULT;
    ss->n = p->nsegments;
    for (size_t i = 0; i < p->nsegments; i++) {
        rd_ab_segment *g = &ss->segs[i];
        g->name = an_strdup(a, p->segments[i].name);
        g->reference = (int)i == ref;
        g->narms = c->narms;
        g->ncmp = c->narms ? c->narms - 1 : 0;
        g->arms = rd_arena_alloc(a, (c->narms ? c->narms : 1) * sizeof(rd_ab_segment_arm));
        g->cmp = rd_arena_alloc(a, (g->ncmp ? g->ncmp : 1) * sizeof(rd_ab_segment_cmp));
        if (!g->arms || !g->cmp)
            return RD_ENOMEM;
        for (size_t k = 0; k < c->narms; k++) {
            size_t v = order[k];
            uint64_t n = c->seg[v][i][0], x = c->seg[v][i][1];
            double rate = n ? (double)x / (double)n : (double)NAN;
            double rr = ref >= 0 && c->seg[v][ref][0] ? (double)c->seg[v][ref][1] / (double)c->seg[v][ref][0]
                                                      : (double)NAN;
            g->arms[k] = (rd_ab_segment_arm){.variant = out->variants[k].name,
                                             .n = n,
                                             .approve = x,
                                             .rate = rate,
                                             .air = isnan(rr) || rr == 0 ? (double)NAN : rate / rr};
        }
        size_t ctl = order[0];
        int r = ref >= 0 ? ref : (int)i;
        for (size_t k = 1; k < c->narms; k++) {
            size_t v = order[k];
            rd_ab_segment_cmp *m = &g->cmp[k - 1];
            m->variant = out->variants[k].name;
            if (!(m->fig = rd_arena_alloc(a, sizeof *m->fig)))
                return RD_ENOMEM;
            rd_segment_figures_compute((rd_segment_counts){c->seg[v][i][0], c->seg[v][i][1]},
                                       (rd_segment_counts){c->seg[v][r][0], c->seg[v][r][1]},
                                       (rd_segment_counts){c->seg[ctl][i][0], c->seg[ctl][i][1]},
                                       (rd_segment_counts){c->seg[ctl][r][0], c->seg[ctl][r][1]},
                                       ss->min_size, ss->alpha, g->name, ref >= 0 ? ss->reference : g->name,
                                       m->fig);
            m->four_fifths = m->fig->cand_air < 0.8;
        }
    }
    out->segments = ss;
    return RD_OK;
}

static int finish(ab_ctx *c, const rd_an_source *src, rd_arena *a, rd_ab_result *out, rd_err *err)
{
    size_t order[MAX_VARIANTS] = {0};
    for (size_t i = 0; src->store && i < c->nrevs; i++) { /* every variant a split names is an arm */
        double w[MAX_VARIANTS];
        char stage[128], why[200];
        revision_weights(c, src->store, &c->revs[i], w, stage, sizeof stage, why, sizeof why);
    }
    int rc = pick_control(c, src, order, err);
    if (rc)
        return rc;
    const rd_ab_opts *o = c->o;
    out->flag = an_strdup(a, o->flag);
    out->stage = an_strdup(a, o->stage);
    out->source = an_source_name(src, a);
    out->from_ms = src->from_ms;
    out->to_ms = src->to_ms;
    out->rows = c->rows;
    out->skipped = c->skipped;
    out->alpha = o->alpha;
    out->power = o->power;
    out->nvariants = c->narms;
    out->variants = rd_arena_alloc(a, c->narms * sizeof(rd_ab_variant));
    if (!out->variants)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t k = 0; k < c->narms; k++) {
        const arm *x = &c->arms[order[k]];
        rd_ab_variant *v = &out->variants[k];
        *v = (rd_ab_variant){.name = an_strdup(a, x->name),
                             .units = x->units,
                             .approve = x->approve,
                             .review = x->review,
                             .reject = x->reject,
                             .other = x->other,
                             .approval_rate = x->units ? (double)x->approve / (double)x->units : (double)NAN,
                             .scored = x->scored,
                             .mean_score = x->scored ? x->mean : (double)NAN,
                             .sd_score = x->scored > 1 ? sqrt(x->m2 / (double)(x->scored - 1)) : (double)NAN,
                             .labelled = x->labelled,
                             .approved_labelled = x->approved_labelled,
                             .approved_bads = x->approved_bads,
                             .bad_rate_approved = x->approved_labelled ? (double)x->approved_bads /
                                                                             (double)x->approved_labelled
                                                                       : (double)NAN};
        if (!v->name)
            return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    out->control = out->variants[0].name;
    if (c->unrevised)
        snprintf(out->srm_note, sizeof out->srm_note, "%llu decisions are in no SRM row: %s",
                 (unsigned long long)c->unrevised,
                 c->too_many_revs ? "more than 256 flag revisions in the window (narrow it with --from/--to)"
                                  : "their records name no flag revision");
    if ((rc = make_srm(c, src, order, a, out, err)) != RD_OK)
        return rc;
    if (make_compare(c, order, o, a, out) || make_series(c, order, o, a, out) ||
        make_hist(c, order, a, out) || (c->rules && make_segments(c, order, a, out)))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    return RD_OK;
}
