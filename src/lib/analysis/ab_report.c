/* riskd ab's report: JSON (docs/schema/ab.json) and the terminal table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis_int.h"
#include "riskd/riskd.h"

static void variant_json(rd_buf *b, const rd_ab_variant *v)
{
    rd_buf_puts(b, "{\"name\":");
    an_json_str(b, v->name);
    an_json_u64_m(b, "units", v->units);
    an_json_u64_m(b, "approve", v->approve);
    an_json_u64_m(b, "review", v->review);
    an_json_u64_m(b, "reject", v->reject);
    an_json_u64_m(b, "other", v->other);
    an_json_num_m(b, "approval_rate", v->approval_rate);
    an_json_u64_m(b, "scored", v->scored);
    an_json_num_m(b, "mean_score", v->mean_score);
    an_json_num_m(b, "sd_score", v->sd_score);
    an_json_u64_m(b, "labelled", v->labelled);
    an_json_u64_m(b, "approved_labelled", v->approved_labelled);
    an_json_u64_m(b, "approved_bads", v->approved_bads);
    an_json_num_m(b, "bad_rate_approved", v->bad_rate_approved);
    rd_buf_putc(b, '}');
}

static void pair(rd_buf *b, const char *k, double lo, double hi)
{
    rd_buf_printf(b, ",\"%s\":", k);
    if (isnan(lo) || isnan(hi)) {
        rd_buf_puts(b, "null");
        return;
    }
    rd_buf_putc(b, '[');
    an_json_num(b, lo);
    rd_buf_putc(b, ',');
    an_json_num(b, hi);
    rd_buf_putc(b, ']');
}

static void compare_json(rd_buf *b, const rd_ab_compare *k)
{
    rd_buf_puts(b, "{\"variant\":");
    an_json_str(b, k->variant);
    rd_buf_printf(b, ",\"metric\":\"%s\",\"status\":\"%s\",\"note\":", rd_ab_metric_name(k->metric),
                  k->status.ok ? "ok" : "insufficient");
    an_json_str(b, k->status.ok ? "" : k->status.note);
    an_json_num_m(b, "control_value", k->control_value);
    an_json_num_m(b, "value", k->value);
    an_json_num_m(b, "diff", k->diff);
    pair(b, "ci", k->lo, k->hi);
    an_json_num_m(b, "rel", k->rel);
    pair(b, "rel_ci", k->rel_lo, k->rel_hi);
    an_json_num_m(b, "statistic", k->stat);
    an_json_num_m(b, "df", k->df);
    an_json_num_m(b, "p", k->p);
    an_json_num_m(b, "p_holm", k->p_holm);
    rd_buf_puts(b, ",\"significant\":");
    rd_buf_puts(b, k->status.ok ? (k->significant ? "true" : "false") : "null");
    an_json_num_m(b, "n_needed", k->n_needed);
    rd_buf_puts(b, ",\"sentence\":");
    an_json_str(b, k->sentence);
    rd_buf_putc(b, '}');
}

static void srm_json(rd_buf *b, const rd_ab_srm *s)
{
    rd_buf_puts(b, "{\"stage\":");
    an_json_str(b, s->stage);
    rd_buf_puts(b, ",\"flags_sha\":");
    an_json_str(b, s->flags_sha);
    rd_buf_puts(b, ",\"from\":");
    if (s->from_ms)
        rd_buf_printf(b, "%lld", (long long)s->from_ms);
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"to\":");
    if (s->to_ms)
        rd_buf_printf(b, "%lld", (long long)s->to_ms);
    else
        rd_buf_puts(b, "null");
    rd_buf_puts(b, ",\"arms\":[");
    for (size_t i = 0; i < s->narms; i++) {
        rd_buf_puts(b, i ? ",{\"variant\":" : "{\"variant\":");
        an_json_str(b, s->arms[i]);
        an_json_num_m(b, "weight", s->weights[i]);
        an_json_u64_m(b, "observed", s->observed[i]);
        rd_buf_putc(b, '}');
    }
    rd_buf_putc(b, ']');
    an_json_num_m(b, "chi2", s->chi2);
    an_json_num_m(b, "p", s->p);
    rd_buf_printf(b, ",\"verdict\":\"%s\",\"why\":", s->verdict);
    an_json_str(b, s->why);
    rd_buf_putc(b, '}');
}

/* "segments": the fair-lending table (riskd ab --segments PLAN). */
static void segments_json(rd_buf *b, const rd_ab_segments *ss)
{
    rd_buf_puts(b, ",\"segments\":{\"plan\":");
    an_json_str(b, ss->plan);
    rd_buf_puts(b, ",\"reference\":");
    an_json_str(b, ss->reference);
    an_json_num_m(b, "alpha", ss->alpha);
    an_json_u64_m(b, "min_size", ss->min_size);
    rd_buf_puts(b, ",\"segments\":[");
    for (size_t i = 0; i < ss->n; i++) {
        const rd_ab_segment *g = &ss->segs[i];
        rd_buf_printf(b, "%s{\"name\":", i ? "," : "");
        an_json_str(b, g->name);
        rd_buf_printf(b, ",\"reference\":%s,\"variants\":[", g->reference ? "true" : "false");
        for (size_t k = 0; k < g->narms; k++) {
            const rd_ab_segment_arm *a = &g->arms[k];
            rd_buf_printf(b, "%s{\"variant\":", k ? "," : "");
            an_json_str(b, a->variant);
            an_json_u64_m(b, "n", a->n);
            an_json_u64_m(b, "approve", a->approve);
            an_json_num_m(b, "approve_rate", a->rate);
            an_json_num_m(b, "air", a->air);
            rd_buf_putc(b, '}');
        }
        rd_buf_puts(b, "],\"comparisons\":[");
        for (size_t k = 0; k < g->ncmp; k++) {
            const rd_ab_segment_cmp *m = &g->cmp[k];
            rd_buf_printf(b, "%s{\"variant\":", k ? "," : "");
            an_json_str(b, m->variant);
            rd_buf_printf(b, ",\"four_fifths\":%s,", m->four_fifths ? "true" : "false");
            rd_segment_figures_json(b, m->fig);
            rd_buf_putc(b, '}');
        }
        rd_buf_puts(b, "]}");
    }
    rd_buf_puts(b, "]}");
}

void rd_ab_json(rd_buf *b, const rd_ab_result *r)
{
    an_json_head(b, "ab", r->source, r->from_ms, r->to_ms);
    rd_buf_puts(b, ",\"flag\":");
    an_json_str(b, r->flag);
    rd_buf_puts(b, ",\"stage\":");
    an_json_str(b, r->stage);
    rd_buf_puts(b, ",\"outcome\":");
    an_json_str(b, r->outcome);
    rd_buf_puts(b, ",\"control\":");
    an_json_str(b, r->control);
    an_json_num_m(b, "alpha", r->alpha);
    an_json_num_m(b, "power", r->power);
    an_json_u64_m(b, "rows", r->rows);
    an_json_u64_m(b, "skipped", r->skipped);
    rd_buf_puts(b, ",\"variants\":[");
    for (size_t i = 0; i < r->nvariants; i++) {
        if (i)
            rd_buf_putc(b, ',');
        variant_json(b, &r->variants[i]);
    }
    rd_buf_puts(b, "],\"comparisons\":[");
    for (size_t i = 0; i < r->ncompare; i++) {
        if (i)
            rd_buf_putc(b, ',');
        compare_json(b, &r->compare[i]);
    }
    rd_buf_puts(b, "],\"srm\":[");
    for (size_t i = 0; i < r->nsrm; i++) {
        if (i)
            rd_buf_putc(b, ',');
        srm_json(b, &r->srm[i]);
    }
    rd_buf_puts(b, "],\"srm_note\":");
    an_json_str(b, r->srm_note);
    if (r->segments)
        segments_json(b, r->segments);
    rd_buf_puts(b, ",\"series\":[");
    for (size_t i = 0; i < r->npoints; i++) {
        const rd_ab_point *p = &r->points[i];
        rd_buf_printf(b, "%s{\"t\":%lld,\"variant\":", i ? "," : "", (long long)p->t_ms);
        an_json_str(b, p->variant);
        an_json_u64_m(b, "units", p->units);
        an_json_u64_m(b, "control_units", p->control_units);
        an_json_num_m(b, "diff", p->diff);
        an_json_num_m(b, "lo", p->lo);
        an_json_num_m(b, "hi", p->hi);
        rd_buf_putc(b, '}');
    }
    rd_buf_puts(b, "],\"score_hist\":");
    if (!r->nbins) {
        rd_buf_puts(b, "{\"edges\":[],\"counts\":{}}}");
        return;
    }
    rd_buf_puts(b, "{\"edges\":[");
    for (size_t i = 0; i <= r->nbins; i++) {
        if (i)
            rd_buf_putc(b, ',');
        an_json_num(b, r->edges[i]);
    }
    rd_buf_puts(b, "],\"counts\":{");
    for (size_t v = 0; v < r->nvariants; v++) {
        if (v)
            rd_buf_putc(b, ',');
        an_json_key(b, r->variants[v].name);
        rd_buf_putc(b, '[');
        for (size_t i = 0; i < r->nbins; i++)
            rd_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)r->hist[v][i]);
        rd_buf_putc(b, ']');
    }
    rd_buf_puts(b, "}}}");
}

static void pct_cell(rd_buf *b, double v)
{
    if (isnan(v))
        rd_buf_printf(b, " %9s", "-");
    else
        rd_buf_printf(b, " %8.2f%%", 100 * v);
}

static void num_cell(rd_buf *b, double v, int width)
{
    if (isnan(v))
        rd_buf_printf(b, " %*s", width, "-");
    else
        rd_buf_printf(b, " %*.3f", width, v);
}

/* The fair-lending table: a row per segment and variant; the comparisons against the control. */
static void segments_text(rd_buf *b, const rd_ab_segments *ss)
{
    rd_buf_printf(
        b,
        "\nsegments of plan %s (fair lending; reference %s; segment attributes must be held and used "
        "lawfully):\n",
        ss->plan ? ss->plan : "-", ss->reference ? ss->reference : "none");
    rd_buf_printf(b, "  %-20s %-16s %9s %9s %9s %7s %9s %21s\n", "segment", "variant", "applicants",
                  "approved", "rate", "AIR", "AIR-ctrl", "rate-ctrl [interval]");
    for (size_t i = 0; i < ss->n; i++) {
        const rd_ab_segment *g = &ss->segs[i];
        for (size_t k = 0; k < g->narms; k++) {
            const rd_ab_segment_arm *a = &g->arms[k];
            const rd_segment_figures *f = k ? g->cmp[k - 1].fig : NULL;
            rd_buf_printf(b, "  %-20.20s %-16.16s %9llu %9llu", k ? "" : g->name, a->variant,
                          (unsigned long long)a->n, (unsigned long long)a->approve);
            pct_cell(b, a->rate);
            num_cell(b, a->air, 6);
            rd_buf_puts(b, k && g->cmp[k - 1].four_fifths ? "!" : " ");
            if (!f) {
                rd_buf_printf(b, " %9s %21s\n", "(control)", "");
                continue;
            }
            num_cell(b, f->air_diff, 9);
            if (isnan(f->diff))
                rd_buf_printf(b, " %21s", "-");
            else
                rd_buf_printf(b, " %+6.3f [%+6.3f, %+6.3f]", f->diff, f->lo, f->hi);
            rd_buf_printf(b, "%s%s\n", f->sized ? "" : "  ", f->sized ? "" : f->note);
        }
    }
    rd_buf_printf(
        b,
        "  (! adverse impact ratio under 0.8, the four-fifths rule: a screening flag, not a legal finding; "
        "intervals: Newcombe, %g%%; fewer than %llu applicants in a group: insufficient)\n",
        100 * (1 - ss->alpha), (unsigned long long)ss->min_size);
}

void rd_ab_text(rd_buf *b, const rd_ab_result *r)
{
    rd_buf_printf(b, "A/B report of %s%s%s%s against %s; control: %s\n", r->flag ? "flag " : "",
                  r->flag ? r->flag : "the file", r->stage ? ", stage " : "", r->stage ? r->stage : "",
                  r->source, r->control);
    rd_buf_printf(b, "%llu decisions", (unsigned long long)r->rows);
    if (r->skipped)
        rd_buf_printf(b, " (%llu skipped: unrouted or unreadable)", (unsigned long long)r->skipped);
    uint64_t labelled = 0;
    for (size_t i = 0; i < r->nvariants; i++)
        labelled += r->variants[i].labelled;
    if (r->outcome)
        rd_buf_printf(b, "; outcome: %s", r->outcome);
    else
        rd_buf_puts(b, labelled ? "; labels from the file" : "; no outcomes recorded");
    rd_buf_puts(b, "\n\n");
    rd_buf_printf(b, "%-16s %9s %9s %9s %9s %11s %9s %9s %9s\n", "variant", "units", "approve", "review",
                  "reject", "mean score", "labelled", "bads", "bad rate");
    for (size_t i = 0; i < r->nvariants; i++) {
        const rd_ab_variant *v = &r->variants[i];
        rd_buf_printf(b, "%-16.16s %9llu", v->name, (unsigned long long)v->units);
        pct_cell(b, v->approval_rate);
        pct_cell(b, v->units ? (double)v->review / (double)v->units : (double)NAN);
        pct_cell(b, v->units ? (double)v->reject / (double)v->units : (double)NAN);
        if (isnan(v->mean_score))
            rd_buf_printf(b, " %11s", "-");
        else
            rd_buf_printf(b, " %11.5g", v->mean_score);
        rd_buf_printf(b, " %9llu %9llu", (unsigned long long)v->approved_labelled,
                      (unsigned long long)v->approved_bads);
        pct_cell(b, v->bad_rate_approved);
        rd_buf_putc(b, '\n');
    }
    rd_buf_puts(b, "(labelled, bads and bad rate: among the approved)\n\n");
    for (size_t i = 0; i < r->ncompare; i++)
        rd_buf_printf(b, "%s %s\n", r->compare[i].significant ? "*" : "-", r->compare[i].sentence);
    rd_buf_printf(b, "(* significant at alpha %g after Holm across the %zu comparisons)\n", r->alpha,
                  r->ncompare);
    if (r->nsrm) {
        rd_buf_puts(b, "\nsample ratio mismatch, per stage:\n");
        for (size_t i = 0; i < r->nsrm; i++) {
            const rd_ab_srm *s = &r->srm[i];
            rd_buf_printf(b, "  %-24.24s %-12s", s->stage, s->verdict);
            for (size_t k = 0; k < s->narms; k++) {
                rd_buf_printf(b, " %s %llu", s->arms[k], (unsigned long long)s->observed[k]);
                if (!isnan(s->weights[k]))
                    rd_buf_printf(b, " (weight %g)", s->weights[k]);
            }
            rd_buf_printf(b, "\n    %s\n", s->why);
        }
    } else {
        rd_buf_puts(b, "\nsample ratio mismatch: not checked (no configured weights: --weights)\n");
    }
    if (r->srm_note[0])
        rd_buf_printf(b, "  note: %s\n", r->srm_note);
    if (r->segments)
        segments_text(b, r->segments);
}
