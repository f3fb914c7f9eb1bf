/* riskd drift: a bundle's training reference (reference.json) against a window of applications,
 * from the decision log or a CSV (rollout-monitoring.md §2.3-2.4).
 *
 * One pass over the rows with constant memory: each variable (the score, every input) counts
 * its rows on the reference's PSI bins (numeric: the interior edges plus a missing bin;
 * categorical: the training levels, "unseen", missing) and, for a numeric variable whose
 * reference stores quantiles, on the KS grid of those quantiles (rd_ks_grid: 2J + 1 cells, from
 * which the two-sample statistic against the quantiles is exact). Inputs are read as the
 * pipeline reads a record (null and "" are missing, a number may come as a string), like the
 * online monitor, so riskd drift and GET /v1/monitor agree on the same rows.
 *
 * The score is the logged one when the record was decided by this very bundle (the digest)
 * with its model, else the bundle scores the row's features; a row the pipeline refuses is
 * skipped whole and counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"
#include "riskd/monitor.h"

#define ECDF_POINTS 200
#define KS_MIN_ROWS 100 /* current values KS drift is computed from */

typedef struct var {
    const char *name;
    bool numeric, is_score;
    const rd_ref_dist *dist;    /* numeric */
    const rd_ref_input *ref_in; /* inputs */
    size_t nbins;               /* PSI bins, missing last (the score has none) */
    double *ref;                /* reference counts per bin */
    uint64_t *bins;
    bool has_grid;
    rd_ks_grid grid;
    uint64_t *cells;
    uint64_t n, missing, unseen, values; /* values: numbers counted on the grid */
} var;

typedef struct drift_ctx {
    const rd_bundle *b;
    const rd_pipeline *p;
    size_t nvars; /* score + inputs */
    var *vars;
    uint64_t rows, skipped, logged, computed;
    bool from_log;
    rd_arena scratch;
} drift_ctx;

/* ---------------------------------------------------------------- setup */

static int var_numeric(var *v, const rd_ref_dist *d, bool missing_bin, double missing, rd_err *err)
{
    v->numeric = true;
    v->dist = d;
    v->nbins = d->ncuts + 1 + (missing_bin ? 1 : 0);
    v->ref = rd_calloc(v->nbins, sizeof(double));
    v->bins = rd_calloc(v->nbins, sizeof(uint64_t));
    if (!v->ref || !v->bins)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i <= d->ncuts; i++)
        v->ref[i] = d->counts[i];
    if (missing_bin)
        v->ref[v->nbins - 1] = missing;
    if (d->nquantiles > 0) {
        if (rd_ks_grid_init(&v->grid, d->quantiles, d->nquantiles, err) != RD_OK)
            return err->code;
        v->has_grid = true;
        if (!(v->cells = rd_calloc(2 * v->grid.j + 1, sizeof(uint64_t))))
            return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    return RD_OK;
}

static int var_categorical(var *v, const rd_ref_input *r, rd_err *err)
{
    v->nbins = r->nlevels + 2; /* levels, unseen, missing */
    v->ref = rd_calloc(v->nbins, sizeof(double));
    v->bins = rd_calloc(v->nbins, sizeof(uint64_t));
    if (!v->ref || !v->bins)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->nlevels; i++)
        v->ref[i] = r->level_counts[i];
    v->ref[r->nlevels] = r->has_unseen ? r->unseen : 0;
    v->ref[r->nlevels + 1] = r->missing;
    return RD_OK;
}

static void ctx_free(drift_ctx *c)
{
    for (size_t i = 0; c->vars && i < c->nvars; i++) {
        rd_free(c->vars[i].ref);
        rd_free(c->vars[i].bins);
        rd_free(c->vars[i].cells);
        if (c->vars[i].has_grid)
            rd_ks_grid_free(&c->vars[i].grid);
    }
    rd_free(c->vars);
    rd_arena_deinit(&c->scratch);
}

static int ctx_init(drift_ctx *c, const rd_bundle *b, const rd_reference *ref, rd_err *err)
{
    c->b = b;
    c->p = rd_bundle_pipeline(b);
    c->nvars = 1 + ref->ninputs;
    rd_arena_init(&c->scratch, 0);
    if (!(c->vars = rd_calloc(c->nvars, sizeof(var))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    var *s = &c->vars[0];
    s->name = "score";
    s->is_score = true;
    int rc = var_numeric(s, &ref->score, false, 0, err);
    for (size_t i = 0; !rc && i < ref->ninputs; i++) {
        var *v = &c->vars[1 + i];
        const rd_ref_input *r = &ref->inputs[i];
        v->name = r->name;
        v->ref_in = r;
        rc = r->numeric ? var_numeric(v, &r->dist, true, r->missing, err) : var_categorical(v, r, err);
    }
    return rc;
}

/* ---------------------------------------------------------------- counting */

static size_t bin_of(const double *cuts, size_t ncuts, double x)
{
    size_t lo = 0, hi = ncuts; /* bins are [cuts[i-1], cuts[i]): the number of cuts <= x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cuts[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void count_number(var *v, double x)
{
    v->n++;
    if (isnan(x)) {
        v->missing++;
        if (!v->is_score)
            v->bins[v->nbins - 1]++;
        return;
    }
    v->bins[bin_of(v->dist->cuts, v->dist->ncuts, x)]++;
    if (v->has_grid) {
        v->cells[rd_ks_cell(&v->grid, x)]++;
        v->values++;
    }
}

/* An input's value as the pipeline reads it (and the monitor counts it). */
static void count_input(var *v, const rd_value *x)
{
    if (!x || x->type == RD_VNULL || (x->type == RD_VSTRING && x->len == 0)) {
        v->n++;
        v->missing++;
        v->bins[v->nbins - 1]++;
        return;
    }
    if (v->numeric) {
        double d = (double)NAN;
        if (x->type == RD_VNUMBER) {
            d = x->u.n;
        } else if (x->type == RD_VSTRING && x->len < 64) {
            char buf[64], *end;
            memcpy(buf, x->u.s, x->len);
            buf[x->len] = '\0';
            d = strtod(buf, &end);
            if (*end)
                d = (double)NAN;
        }
        count_number(v, d);
        return;
    }
    v->n++;
    const rd_ref_input *r = v->ref_in;
    size_t j = r->nlevels;
    if (x->type == RD_VSTRING)
        for (size_t k = 0; k < r->nlevels; k++)
            if (strlen(r->levels[k]) == x->len && !memcmp(r->levels[k], x->u.s, x->len)) {
                j = k;
                break;
            }
    if (j == r->nlevels)
        v->unseen++;
    v->bins[j]++;
}

/* One application: its features and, when known, the score logged for this bundle. */
static int count_row(drift_ctx *c, const rd_value *features, double logged)
{
    double score = logged;
    if (isnan(score)) {
        rd_score sc;
        rd_err e;
        if (rd_bundle_score(c->b, features, 0, &sc, &e) != RD_OK) {
            c->skipped++;
            return RD_OK;
        }
        score = sc.score;
        c->computed++;
    } else {
        c->logged++;
    }
    c->rows++;
    count_number(&c->vars[0], score);
    for (size_t i = 1; i < c->nvars; i++)
        count_input(&c->vars[i], an_get(features, c->vars[i].name));
    return RD_OK;
}

static int on_record(void *ud, const rd_log_row *row, const rd_value *rec)
{
    (void)row;
    drift_ctx *c = ud;
    const rd_value *features = an_get(rec, "features");
    if (!features || features->type != RD_VOBJECT) {
        c->skipped++;
        return RD_OK;
    }
    const rd_value *bundle = an_get(rec, "bundle");
    const char *digest = an_str(bundle, "digest"), *source = an_str(rec, "source");
    double logged = (double)NAN;
    if (digest && !strcmp(digest, rd_bundle_digest(c->b)) && source && !strcmp(source, "model"))
        logged = an_num(rec, "score");
    return count_row(c, features, logged);
}

static int read_csv(drift_ctx *c, const rd_an_source *src, char *note, size_t cap, rd_err *err)
{
    rd_csv *csv;
    int rc = rd_csv_open(src->csv, &csv, err);
    if (rc)
        return rc;
    size_t ncols = rd_csv_num_columns(csv), matched = 0, ninputs = rd_pipeline_num_inputs(c->p);
    rd_buf absent;
    rd_buf_init(&absent);
    for (size_t i = 0; i < ninputs; i++) {
        const char *name = rd_pipeline_input_name(c->p, i);
        if (rd_csv_find(csv, name) >= 0)
            matched++;
        else
            rd_buf_printf(&absent, "%s%s", absent.len ? ", " : "", name);
    }
    if (matched == 0) {
        rc = rd_err_set(err, RD_EINVAL, "%s: no column is an input of %s (inputs: %s)", src->csv,
                        rd_bundle_name(c->b), rd_buf_cstr(&absent));
    } else if (absent.len) {
        snprintf(note, cap, "%s has no column for %s: counted missing", src->csv, rd_buf_cstr(&absent));
    }
    rd_buf_deinit(&absent);
    rd_member *members = rc ? NULL : rd_malloc((ncols ? ncols : 1) * sizeof(rd_member));
    if (!rc && !members)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    char **fields;
    int got;
    uint64_t n = 0;
    while (!rc && (got = rd_csv_next(csv, &fields, err)) != 0) {
        if (got < 0) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            rc = rd_err_set(err, got, "%s: line %zu: %s", src->csv, rd_csv_line(csv), why);
            break;
        }
        rd_value rec;
        rd_bundle_csv_record(csv, fields, members, &rec);
        rc = count_row(c, &rec, (double)NAN);
        if (++n % 4096 == 0 && src->progress)
            src->progress(src->ud, rd_csv_offset(csv), rd_csv_size(csv));
    }
    if (!rc && src->progress)
        src->progress(src->ud, rd_csv_size(csv), rd_csv_size(csv));
    rd_free(members);
    rd_csv_close(csv);
    return rc;
}

/* ---------------------------------------------------------------- results */

rd_psi_band rd_psi_band_of(double psi)
{
    if (isnan(psi))
        return RD_PSI_NONE;
    return psi < 0.10 ? RD_PSI_STABLE : psi < 0.25 ? RD_PSI_MODERATE : RD_PSI_MAJOR;
}

const char *rd_psi_band_name(rd_psi_band b)
{
    switch (b) {
    case RD_PSI_STABLE: return "stable";
    case RD_PSI_MODERATE: return "moderate";
    case RD_PSI_MAJOR: return "major";
    case RD_PSI_NONE: break;
    }
    return NULL;
}

static const char *fmt_edge(rd_arena *a, double lo, double hi)
{
    char buf[80];
    char l[RD_NUM_BUF], h[RD_NUM_BUF];
    if (isinf(lo))
        snprintf(l, sizeof l, "-inf");
    else
        rd_num_format(lo, l);
    if (isinf(hi))
        snprintf(h, sizeof h, "+inf");
    else
        rd_num_format(hi, h);
    snprintf(buf, sizeof buf, "[%s, %s)", l, h);
    return an_strdup(a, buf);
}

static int make_bins(const var *v, rd_arena *a, rd_drift_var *o)
{
    o->nbins = v->nbins;
    if (!(o->bins = rd_arena_alloc(a, v->nbins * sizeof(rd_drift_bin))))
        return RD_ENOMEM;
    double rt = 0, ct = 0;
    for (size_t i = 0; i < v->nbins; i++) {
        rt += v->ref[i];
        ct += (double)v->bins[i];
    }
    for (size_t i = 0; i < v->nbins; i++) {
        rd_drift_bin *b = &o->bins[i];
        b->ref = rt > 0 ? v->ref[i] / rt : (double)NAN;
        b->cur = ct > 0 ? (double)v->bins[i] / ct : (double)NAN;
        if (v->numeric) {
            size_t k = v->dist->ncuts;
            b->label = i > k ? "(missing)"
                             : fmt_edge(a, i == 0 ? -(double)INFINITY : v->dist->cuts[i - 1],
                                        i == k ? (double)INFINITY : v->dist->cuts[i]);
        } else {
            size_t k = v->ref_in->nlevels;
            b->label = i < k ? v->ref_in->levels[i] : i == k ? "(unseen)" : "(missing)";
        }
        if (!b->label)
            return RD_ENOMEM;
    }
    return RD_OK;
}

static int make_ecdf(const var *v, rd_arena *a, rd_drift_var *o)
{
    if (!v->has_grid || v->values == 0)
        return RD_OK;
    size_t j = v->grid.j, step = (j + ECDF_POINTS - 1) / ECDF_POINTS, npts = (j + step - 1) / step;
    o->ecdf_x = rd_arena_alloc(a, npts * sizeof(double));
    o->ecdf_ref = rd_arena_alloc(a, npts * sizeof(double));
    o->ecdf_cur = rd_arena_alloc(a, npts * sizeof(double));
    if (!o->ecdf_x || !o->ecdf_ref || !o->ecdf_cur)
        return RD_ENOMEM;
    uint64_t cum = 0;
    size_t at = 0;
    for (size_t g = 0; g < j; g++) {
        cum += v->cells[2 * g] + v->cells[2 * g + 1];
        if (g % step == step - 1 || g + 1 == j) {
            if (at == npts)
                break;
            o->ecdf_x[at] = v->grid.u[g];
            o->ecdf_ref[at] = v->grid.cdf[g];
            o->ecdf_cur[at++] = (double)cum / (double)v->values;
        }
    }
    o->npts = at;
    return RD_OK;
}

static void judge(const var *v, double ref_rows, rd_drift_var *o)
{
    o->psi = o->psi_floor = o->ks = o->ks_critical = (double)NAN;
    uint64_t m = 0;
    for (size_t i = 0; i < v->nbins; i++)
        m += v->bins[i];
    double refn = 0;
    for (size_t i = 0; i < v->nbins; i++)
        refn += v->ref[i];
    if (refn <= 0) {
        snprintf(o->psi_note, sizeof o->psi_note, "the reference has no rows for %s", v->name);
    } else if (m < RD_PSI_MIN_ROWS) {
        snprintf(o->psi_note, sizeof o->psi_note, "insufficient data: %d rows needed, %llu in the window",
                 RD_PSI_MIN_ROWS, (unsigned long long)m);
    } else {
        double *curd = rd_malloc(v->nbins * sizeof(double));
        if (curd) {
            for (size_t i = 0; i < v->nbins; i++)
                curd[i] = (double)v->bins[i];
            o->psi = rd_psi(v->ref, curd, v->nbins, RD_PSI_EPS);
            size_t live = 0; /* a bin empty on both sides adds nothing to PSI, nor to its df */
            for (size_t i = 0; i < v->nbins; i++)
                live += v->ref[i] > 0 || v->bins[i] > 0;
            o->psi_floor = rd_psi_noise_floor(refn, (double)m, live, RD_PSI_ALPHA);
            rd_free(curd);
        } else {
            snprintf(o->psi_note, sizeof o->psi_note, "out of memory");
        }
    }
    o->band = rd_psi_band_of(o->psi);
    o->psi_alarm = !isnan(o->psi) && o->psi >= fmax(0.10, isnan(o->psi_floor) ? 0 : o->psi_floor);
    if (!v->numeric)
        return;
    double ref_values = v->is_score ? ref_rows : v->ref_in->n;
    if (!v->has_grid) {
        snprintf(o->ks_note, sizeof o->ks_note,
                 "the bundle's reference has no quantiles (built before format 2): rebuild it for KS");
    } else if (v->values < KS_MIN_ROWS) {
        snprintf(o->ks_note, sizeof o->ks_note, "insufficient data: %d values needed, %llu in the window",
                 KS_MIN_ROWS, (unsigned long long)v->values);
    } else if (!(ref_values > 0)) {
        snprintf(o->ks_note, sizeof o->ks_note, "the reference has no values for %s", v->name);
    } else {
        o->ks = rd_ks_stat(&v->grid, v->cells);
        o->ks_critical = rd_ks_critical(ref_values, (double)v->values, RD_KS_ALPHA);
        o->ks_alarm = o->ks > o->ks_critical && o->ks >= RD_KS_MIN_EFFECT;
    }
}

static int make_var(const var *v, const rd_reference *ref, rd_arena *a, rd_drift_var *o)
{
    memset(o, 0, sizeof *o);
    o->name = v->name;
    o->numeric = v->numeric;
    o->n = v->n;
    o->missing = v->missing;
    o->unseen = v->unseen;
    o->missing_rate = v->n ? (double)v->missing / (double)v->n : (double)NAN;
    o->unseen_rate = v->numeric ? (double)NAN : v->n ? (double)v->unseen / (double)v->n : (double)NAN;
    if (v->is_score) {
        o->ref_missing_rate = (double)NAN;
    } else {
        double t = v->ref_in->n + v->ref_in->missing;
        o->ref_missing_rate = t > 0 ? v->ref_in->missing / t : (double)NAN;
    }
    judge(v, ref->rows, o);
    if (make_bins(v, a, o) != RD_OK || make_ecdf(v, a, o) != RD_OK)
        return RD_ENOMEM;
    return RD_OK;
}

static int by_psi(const void *pa, const void *pb)
{
    double x = ((const rd_drift_var *)pa)->psi, y = ((const rd_drift_var *)pb)->psi;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x < y) - (x > y);
}

int rd_drift(const rd_an_source *src, const rd_bundle *b, rd_arena *a, rd_drift_result *out, rd_err *err)
{
    memset(out, 0, sizeof *out);
    const rd_reference *ref = rd_bundle_reference(b);
    if (!ref)
        return rd_err_set(err, RD_EINVAL,
                          "%s has no training reference (reference.json): rebuild it with riskd bundle build",
                          rd_bundle_name(b));
    drift_ctx c = {.from_log = src->store != NULL};
    int rc = ctx_init(&c, b, ref, err);
    if (!rc)
        rc = src->store ? an_log_each(src, "primary", NULL, on_record, &c, &c.skipped, err)
                        : read_csv(&c, src, out->note, sizeof out->note, err);
    if (!rc && c.rows == 0)
        rc = rd_err_set(err, RD_EINVAL, "%s: no application %s%s",
                        src->store ? rd_store_name(src->store) : src->csv,
                        src->store ? "was decided in the window" : "in the file",
                        c.skipped ? " that the bundle's pipeline accepts" : "");
    if (!rc) {
        out->bundle = rd_bundle_name(b);
        out->digest = rd_bundle_digest(b);
        out->source = an_source_name(src, a);
        out->from_ms = src->from_ms;
        out->to_ms = src->to_ms;
        out->rows = c.rows;
        out->skipped = c.skipped;
        out->scores_logged = c.logged;
        out->scores_computed = c.computed;
        out->reference_rows = ref->rows;
        out->ninputs = c.nvars - 1;
        out->inputs = rd_arena_alloc(a, (out->ninputs ? out->ninputs : 1) * sizeof(rd_drift_var));
        rd_drift_var *inputs = out->inputs;
        if (!inputs || make_var(&c.vars[0], ref, a, &out->score) != RD_OK)
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        for (size_t i = 0; inputs && !rc && i < out->ninputs; i++)
            if (make_var(&c.vars[1 + i], ref, a, &inputs[i]) != RD_OK)
                rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        if (inputs && !rc)
            qsort(inputs, out->ninputs, sizeof(rd_drift_var), by_psi);
    }
    ctx_free(&c);
    return rc;
}
