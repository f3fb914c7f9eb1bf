/* Fair-lending figures (rollout.h, docs/plans/guardrails.md §2.2, §6): a segment's approval rate
 * against a reference segment's, in the candidate and the control arm. The adverse impact ratio
 * (the four-fifths rule flags < 0.8), its change against the control, and the difference in the
 * segment's approval rate between the arms with Newcombe's interval (statsmodels'
 * confint_proportions_2indep default). Below the minimum size of any group the figures are
 * computed but marked unsized: a gate on them is inconclusive, never passed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/logic.h"
#include "riskd/pipeline.h"
#include "riskd/text.h"
#include "riskd/rollout.h"
#include "riskd/stats.h"

static double rate(rd_segment_counts c) { return c.n ? (double)c.approve / (double)c.n : (double)NAN; }

/* a / b as Python divides, NaN when either is NaN or b is 0 (an undefined ratio, not infinity) */
static double ratio(double a, double b) { return isnan(a) || isnan(b) || b == 0 ? (double)NAN : a / b; }

/* The first group under min_size, for the note. */
static void size_note(const rd_segment_counts *g, const char *const *what, uint64_t min_size,
                      rd_segment_figures *out)
{
    for (int i = 0; i < 4; i++)
        if (g[i].n < min_size) {
            snprintf(out->note, sizeof out->note, "inconclusive: %s has %llu applicants, %llu needed",
                     what[i], (unsigned long long)g[i].n, (unsigned long long)min_size);
            return;
        }
}

void rd_segment_figures_compute(rd_segment_counts cand_seg, rd_segment_counts cand_ref,
                                rd_segment_counts ctrl_seg, rd_segment_counts ctrl_ref, uint64_t min_size,
                                double alpha, const char *segment, const char *reference,
                                rd_segment_figures *out)
{
    memset(out, 0, sizeof *out);
    if (!min_size)
        min_size = RD_SEGMENT_MIN_DEFAULT;
    out->cand_seg = cand_seg;
    out->cand_ref = cand_ref;
    out->ctrl_seg = ctrl_seg;
    out->ctrl_ref = ctrl_ref;
    out->cand_rate = rate(cand_seg);
    out->cand_ref_rate = rate(cand_ref);
    out->ctrl_rate = rate(ctrl_seg);
    out->ctrl_ref_rate = rate(ctrl_ref);
    out->cand_air = ratio(out->cand_rate, out->cand_ref_rate);
    out->ctrl_air = ratio(out->ctrl_rate, out->ctrl_ref_rate);
    out->air_diff = out->cand_air - out->ctrl_air;
    out->air_ratio = ratio(out->cand_air, out->ctrl_air);
    out->diff = out->cand_rate - out->ctrl_rate;
    rd_ci_2prop(cand_seg.approve, cand_seg.n, ctrl_seg.approve, ctrl_seg.n, alpha, RD_CI_NEWCOMBE, &out->lo,
                &out->hi);
    const rd_segment_counts g[4] = {cand_seg, cand_ref, ctrl_seg, ctrl_ref};
    char w[4][96];
    const char *seg = segment ? segment : "the segment", *ref = reference ? reference : "the reference";
    snprintf(w[0], sizeof w[0], "%.40s (candidate)", seg);
    snprintf(w[1], sizeof w[1], "%.40s (candidate)", ref);
    snprintf(w[2], sizeof w[2], "%.40s (control)", seg);
    snprintf(w[3], sizeof w[3], "%.40s (control)", ref);
    const char *const what[4] = {w[0], w[1], w[2], w[3]};
    out->sized = g[0].n >= min_size && g[1].n >= min_size && g[2].n >= min_size && g[3].n >= min_size;
    if (!out->sized)
        size_note(g, what, min_size, out);
}

static void num(rd_buf *b, const char *key, double v, bool first)
{
    rd_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
    if (isfinite(v)) {
        char t[RD_NUM_BUF];
        rd_num_format(v, t);
        rd_buf_puts(b, t);
    } else {
        rd_buf_puts(b, "null");
    }
}

static void arm(rd_buf *b, const char *key, rd_segment_counts seg, rd_segment_counts ref, double r, double rr,
                double air)
{
    rd_buf_printf(b, "\"%s\":{\"n\":%llu,\"approve\":%llu,\"reference_n\":%llu,\"reference_approve\":%llu",
                  key, (unsigned long long)seg.n, (unsigned long long)seg.approve, (unsigned long long)ref.n,
                  (unsigned long long)ref.approve);
    num(b, "approve_rate", r, false);
    num(b, "reference_approve_rate", rr, false);
    num(b, "air", air, false);
    rd_buf_putc(b, '}');
}

void rd_segment_figures_json(rd_buf *b, const rd_segment_figures *f)
{
    arm(b, "candidate", f->cand_seg, f->cand_ref, f->cand_rate, f->cand_ref_rate, f->cand_air);
    rd_buf_putc(b, ',');
    arm(b, "control", f->ctrl_seg, f->ctrl_ref, f->ctrl_rate, f->ctrl_ref_rate, f->ctrl_air);
    num(b, "air_difference", f->air_diff, false);
    num(b, "air_ratio", f->air_ratio, false);
    num(b, "difference", f->diff, false);
    num(b, "lo", f->lo, false);
    num(b, "hi", f->hi, false);
    rd_buf_printf(b, ",\"sized\":%s", f->sized ? "true" : "false");
    if (f->note[0]) {
        rd_buf_puts(b, ",\"note\":");
        rd_json_write_string(b, f->note, strlen(f->note));
    }
}

/* ------------------------------------------------------------------ the rules */

struct rd_segment_rules {
    size_t n;
    rd_logic *rules[RD_PLAN_MAX_SEGMENTS];
};

void rd_segment_rules_free(rd_segment_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        rd_logic_free(r->rules[i]);
    rd_free(r);
}

int rd_segment_rules_new(const rd_plan *p, rd_segment_rules **out, rd_err *err)
{
    *out = NULL;
    rd_segment_rules *r = rd_calloc(1, sizeof *r);
    if (!r)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_arena a;
    rd_arena_init(&a, 0);
    int rc = RD_OK;
    for (size_t i = 0; i < p->nsegments && !rc; i++) {
        rd_value v;
        const char *text = p->segments[i].rule;
        rc = rd_json_parse(text, strlen(text), NULL, &a, &v, err);
        if (!rc)
            rc = rd_logic_compile(&v, NULL, &r->rules[i], err);
        if (!rc)
            r->n++;
        else
            rd_err_prefix(err, "segment %s", p->segments[i].name);
    }
    rd_arena_deinit(&a);
    if (rc) {
        rd_segment_rules_free(r);
        return rc;
    }
    *out = r;
    return RD_OK;
}

uint32_t rd_segment_rules_mask(const rd_segment_rules *r, const rd_value *context, const rd_value *features,
                               rd_arena *scratch)
{
    if (!r || !r->n)
        return 0;
    rd_member m[2] = {{"features", 8, features ? *features : RD_NULL_VALUE},
                      {"context", 7, context ? *context : RD_NULL_VALUE}};
    rd_value data = {.type = RD_VOBJECT, .len = 2, .u.members = m};
    uint32_t mask = 0;
    for (size_t i = 0; i < r->n; i++) {
        rd_value v;
        rd_err e;
        if (rd_logic_eval(r->rules[i], &data, NULL, scratch, &v, &e) == RD_OK && rd_logic_truthy(&v))
            mask |= (uint32_t)1 << i;
    }
    return mask;
}

static void rules_free(void *r) { rd_segment_rules_free(r); }

int rd_segment_set_new(const rd_plan *p, rd_monitor_segments **out, rd_err *err)
{
    *out = NULL;
    if (!p->nsegments)
        return RD_OK;
    const char *names[RD_PLAN_MAX_SEGMENTS];
    for (size_t i = 0; i < p->nsegments; i++)
        names[i] = p->segments[i].name;
    rd_segment_rules *r;
    int rc = rd_segment_rules_new(p, &r, err);
    if (rc)
        return rc;
    if ((rc = rd_monitor_segments_new(names, p->nsegments, out, err))) {
        rd_segment_rules_free(r);
        return rc;
    }
    rd_monitor_segments_set_user(*out, r, rules_free);
    return RD_OK;
}

/* ------------------------------------------------------------------ what the plan reads */

/* "features.X[.Y]": X as the input named (n bytes); false for any other path. */
static bool feature_of(const char *path, size_t len, const char **x, size_t *n)
{
    if (len <= 9 || memcmp(path, "features.", 9) != 0)
        return false;
    *x = path + 9;
    const char *dot = memchr(*x, '.', len - 9);
    *n = dot ? (size_t)(dot - *x) : len - 9;
    return *n > 0;
}

static int no_input(const rd_pipeline *pl, const char *what, const char *x, size_t n, rd_err *err)
{
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)n, x);
    for (size_t i = 0; i < rd_pipeline_num_inputs(pl); i++)
        if (rd_near_miss(name, rd_pipeline_input_name(pl, i)))
            return rd_err_set(err, RD_EINVAL,
                              "%s reads features.%s, which is no input of the candidate's pipeline "
                              "(did you mean features.%s?)",
                              what, name, rd_pipeline_input_name(pl, i));
    return rd_err_set(err, RD_EINVAL, "%s reads features.%s, which is no input of the candidate's pipeline",
                      what, name);
}

/* Every {"var": "features.X"} of a rule names an input. */
static int rule_inputs(const rd_value *v, const rd_pipeline *pl, const char *what, int depth, rd_err *err)
{
    if (depth > 64)
        return RD_OK;
    if (v->type == RD_VARRAY) {
        for (size_t i = 0; i < v->len; i++) {
            int rc = rule_inputs(&v->u.items[i], pl, what, depth + 1, err);
            if (rc)
                return rc;
        }
        return RD_OK;
    }
    if (v->type != RD_VOBJECT)
        return RD_OK;
    for (size_t i = 0; i < v->len; i++) {
        const rd_member *m = &v->u.members[i];
        const rd_value *path = &m->val;
        if (!strcmp(m->key, "var") && path->type == RD_VARRAY && path->len) /* {"var": [path, default]} */
            path = &path->u.items[0];
        const char *x;
        size_t n;
        if (!strcmp(m->key, "var") && path->type == RD_VSTRING && feature_of(path->u.s, path->len, &x, &n) &&
            rd_pipeline_find_input(pl, x, n) < 0)
            return no_input(pl, what, x, n, err);
        int rc = rule_inputs(&m->val, pl, what, depth + 1, err);
        if (rc)
            return rc;
    }
    return RD_OK;
}

int rd_plan_check_inputs(const rd_plan *p, const rd_pipeline *pl, rd_err *err)
{
    const char *x;
    size_t n;
    const char *f = p->exposure.amount_field;
    if (f[0] && feature_of(f, strlen(f), &x, &n)) {
        long in = rd_pipeline_find_input(pl, x, n);
        if (in < 0)
            return no_input(pl, "exposure.amount_field", x, n, err);
        if (!rd_pipeline_input_is_number(pl, (size_t)in))
            return rd_err_set(err, RD_EINVAL, "exposure.amount_field: features.%.*s is not a numeric input",
                              (int)n, x);
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    int rc = RD_OK;
    for (size_t i = 0; i < p->nsegments && !rc; i++) {
        rd_value v;
        char what[96];
        snprintf(what, sizeof what, "segment %s", p->segments[i].name);
        if (rd_json_parse(p->segments[i].rule, strlen(p->segments[i].rule), NULL, &a, &v, NULL) == RD_OK)
            rc = rule_inputs(&v, pl, what, 0, err);
    }
    rd_arena_deinit(&a);
    return rc;
}
