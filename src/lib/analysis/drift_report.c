/* riskd drift's report: JSON (docs/schema/drift.json) and the terminal table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analysis_int.h"
#include "riskd/riskd.h"

static void var_json(rd_buf *b, const rd_drift_var *v, const char *kind)
{
    rd_buf_puts(b, "{\"name\":");
    an_json_str(b, v->name);
    rd_buf_printf(b, ",\"kind\":\"%s\",\"n\":%llu,\"missing\":%llu,\"missing_rate\":", kind,
                  (unsigned long long)v->n, (unsigned long long)v->missing);
    an_json_num(b, v->missing_rate);
    rd_buf_puts(b, ",\"ref_missing_rate\":");
    an_json_num(b, v->ref_missing_rate);
    rd_buf_printf(b, ",\"unseen\":%llu,\"unseen_rate\":", (unsigned long long)v->unseen);
    an_json_num(b, v->unseen_rate);
    rd_buf_puts(b, ",\"psi\":");
    an_json_num(b, v->psi);
    rd_buf_puts(b, ",\"psi_floor\":");
    an_json_num(b, v->psi_floor);
    rd_buf_puts(b, ",\"band\":");
    an_json_str(b, rd_psi_band_name(v->band));
    rd_buf_printf(b, ",\"psi_alarm\":%s,\"psi_note\":", v->psi_alarm ? "true" : "false");
    an_json_str(b, v->psi_note);
    rd_buf_puts(b, ",\"ks\":");
    an_json_num(b, v->ks);
    rd_buf_puts(b, ",\"ks_critical\":");
    an_json_num(b, v->ks_critical);
    rd_buf_printf(b, ",\"ks_alarm\":%s,\"ks_note\":", v->ks_alarm ? "true" : "false");
    an_json_str(b, v->numeric ? v->ks_note : "KS drift is for numbers: a category is judged by PSI");
    rd_buf_puts(b, ",\"bins\":[");
    for (size_t i = 0; i < v->nbins; i++) {
        rd_buf_puts(b, i ? ",{\"label\":" : "{\"label\":");
        an_json_str(b, v->bins[i].label);
        rd_buf_puts(b, ",\"ref\":");
        an_json_num(b, v->bins[i].ref);
        rd_buf_puts(b, ",\"cur\":");
        an_json_num(b, v->bins[i].cur);
        rd_buf_putc(b, '}');
    }
    rd_buf_puts(b, "],\"ecdf\":");
    if (!v->npts) {
        rd_buf_puts(b, "null}");
        return;
    }
    const double *cols[3] = {v->ecdf_x, v->ecdf_ref, v->ecdf_cur};
    const char *names[3] = {"x", "ref", "cur"};
    for (int c = 0; c < 3; c++) {
        rd_buf_printf(b, "%s\"%s\":[", c ? "," : "{", names[c]);
        for (size_t i = 0; i < v->npts; i++) {
            if (i)
                rd_buf_putc(b, ',');
            an_json_num(b, cols[c][i]);
        }
        rd_buf_putc(b, ']');
    }
    rd_buf_puts(b, "}}");
}

void rd_drift_json(rd_buf *b, const rd_drift_result *r)
{
    an_json_head(b, "drift", r->source, r->from_ms, r->to_ms);
    rd_buf_puts(b, ",\"bundle\":");
    an_json_str(b, r->bundle);
    rd_buf_puts(b, ",\"digest\":");
    an_json_str(b, r->digest);
    rd_buf_printf(b, ",\"rows\":%llu,\"skipped\":%llu,\"reference_rows\":", (unsigned long long)r->rows,
                  (unsigned long long)r->skipped);
    an_json_num(b, r->reference_rows);
    rd_buf_printf(b, ",\"scores\":{\"logged\":%llu,\"computed\":%llu},\"note\":",
                  (unsigned long long)r->scores_logged, (unsigned long long)r->scores_computed);
    an_json_str(b, r->note);
    rd_buf_puts(b, ",\"score\":");
    var_json(b, &r->score, "score");
    rd_buf_puts(b, ",\"inputs\":[");
    for (size_t i = 0; i < r->ninputs; i++) {
        if (i)
            rd_buf_putc(b, ',');
        var_json(b, &r->inputs[i], r->inputs[i].numeric ? "numeric" : "categorical");
    }
    rd_buf_puts(b, "]}");
}

/* A number in a fixed-width cell, "-" when there is none. */
static void cell(rd_buf *b, double v, int width, int prec)
{
    if (isnan(v))
        rd_buf_printf(b, " %*s", width, "-");
    else
        rd_buf_printf(b, " %*.*f", width, prec, v);
}

static void pct(rd_buf *b, double v, int width)
{
    if (isnan(v))
        rd_buf_printf(b, " %*s", width, "-");
    else
        rd_buf_printf(b, " %*.1f%%", width - 1, 100 * v);
}

static void var_text(rd_buf *b, const rd_drift_var *v)
{
    bool alarm = v->psi_alarm || v->ks_alarm;
    rd_buf_printf(b, "%-22.22s %s", v->name, alarm ? "!" : " ");
    cell(b, v->psi, 7, 4);
    cell(b, v->psi_floor, 7, 4);
    rd_buf_printf(b, " %-8s", rd_psi_band_name(v->band) ? rd_psi_band_name(v->band) : "-");
    cell(b, v->ks, 6, 3);
    cell(b, v->ks_critical, 6, 3);
    pct(b, v->missing_rate, 8);
    pct(b, v->ref_missing_rate, 8);
    pct(b, v->unseen_rate, 7);
    rd_buf_putc(b, '\n');
}

void rd_drift_text(rd_buf *b, const rd_drift_result *r)
{
    rd_buf_printf(b, "drift of %s (digest %.12s) against %s\n", r->bundle, r->digest, r->source);
    rd_buf_printf(b, "%llu applications (scores: %llu logged by this bundle, %llu computed)",
                  (unsigned long long)r->rows, (unsigned long long)r->scores_logged,
                  (unsigned long long)r->scores_computed);
    if (r->skipped)
        rd_buf_printf(b, "; %llu skipped (a record without features, or refused by the pipeline)",
                      (unsigned long long)r->skipped);
    rd_buf_printf(b, "; training reference: %.0f rows\n\n", r->reference_rows);
    rd_buf_printf(b, "%-22s %s %7s %7s %-8s %6s %6s %8s %8s %7s\n", "variable", " ", "PSI", "floor", " band",
                  "KS", "crit", "missing", "ref miss", "unseen");
    var_text(b, &r->score);
    for (size_t i = 0; i < r->ninputs; i++)
        var_text(b, &r->inputs[i]);
    rd_buf_puts(
        b, "\n! alarm: PSI >= max(0.10, noise floor), or KS > its critical value (alpha 0.001) and >= 0.05\n"
           "bands: PSI < 0.10 stable, 0.10-0.25 moderate (investigate), >= 0.25 major (act)\n");
    const rd_drift_var *vars[1 + 1024];
    size_t nv = 0;
    vars[nv++] = &r->score;
    for (size_t i = 0; i < r->ninputs && nv < sizeof vars / sizeof vars[0]; i++)
        vars[nv++] = &r->inputs[i];
    bool said = false;
    for (size_t i = 0; i < nv; i++) {
        const rd_drift_var *v = vars[i];
        const char *notes[2] = {v->psi_note, v->numeric ? v->ks_note : ""};
        const char *what[2] = {"PSI", "KS"};
        for (int k = 0; k < 2; k++)
            if (notes[k][0]) {
                if (!said)
                    rd_buf_puts(b, "\nnot computed:\n");
                said = true;
                rd_buf_printf(b, "  %s %s: %s\n", v->name, what[k], notes[k]);
            }
    }
    if (r->note[0])
        rd_buf_printf(b, "\nnote: %s\n", r->note);
}
