/* Building a bundle: one pass over the data set through the pipeline and the model gives
 * the training reference (score deciles, per-input distributions), the metrics (AUC, KS),
 * the default risk bands and the sample rows; the files are written to a directory beside
 * the target, renamed into place, then loaded and verified like any other bundle.
 *
 * Nothing that would decide wrongly is built without a word: every pipeline input and the
 * label must be columns of the data, the label must take the positive value and another,
 * the output kind must be what the objective gives, user bands must cut inside the score's
 * range; an AUC below 0.5 and an input missing in most rows are warned and recorded in the
 * manifest (checks.warnings). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle_int.h"
#include "riskd/csv.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/text.h"

/* A growable array of doubles. */
typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

static int dvec_push(dvec *d, double x)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        double *v = rd_realloc(d->v, cap * sizeof(double));
        if (!v)
            return -1;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = x;
    return 0;
}

/* Level counts of one category input, in first-seen order. */
typedef struct levels {
    char **name;
    size_t *count;
    size_t n, cap;
} levels;

static int level_add(levels *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->name[i], s) == 0) {
            l->count[i]++;
            return 0;
        }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **nm = rd_realloc(l->name, cap * sizeof(char *));
        if (!nm)
            return -1;
        l->name = nm;
        size_t *ct = rd_realloc(l->count, cap * sizeof(size_t));
        if (!ct)
            return -1;
        l->count = ct;
        l->cap = cap;
    }
    if (l->n >= 10000) /* an identifier, not a category: stop listing */
        return 0;
    if (!(l->name[l->n] = rd_strndup(s, strlen(s))))
        return -1;
    l->count[l->n++] = 1;
    return 0;
}

/* What one pass over the data set gathers. */
typedef struct gather {
    size_t rows;
    dvec score, prob, label; /* label: 1, 0, or NaN when the row has none */
    size_t nin;
    int *col;        /* CSV column of each pipeline input, -1 when absent */
    bool *numeric;   /* per input: number (values kept) or category (levels counted) */
    dvec *values;    /* numeric inputs: the values, NaN when missing */
    levels *lv;      /* category inputs */
    size_t *missing; /* per input */
    rd_buf samples;  /* the first rows as JSON records, comma-separated */
    size_t nsamples;
    levels labels; /* the label's distinct values and their counts */
    size_t npos, nneg;
    double auc, ks, pos_rate; /* metrics (compute_metrics) */
    size_t labelled;
} gather;

static void gather_free(gather *g)
{
    rd_free(g->score.v);
    rd_free(g->prob.v);
    rd_free(g->label.v);
    for (size_t i = 0; i < g->nin; i++) {
        if (g->values)
            rd_free(g->values[i].v);
        for (size_t j = 0; g->lv && j < g->lv[i].n; j++)
            rd_free(g->lv[i].name[j]);
        if (g->lv) {
            rd_free(g->lv[i].name);
            rd_free(g->lv[i].count);
        }
    }
    rd_free(g->col);
    rd_free(g->numeric);
    rd_free(g->values);
    rd_free(g->lv);
    rd_free(g->missing);
    rd_buf_deinit(&g->samples);
    for (size_t j = 0; j < g->labels.n; j++)
        rd_free(g->labels.name[j]);
    rd_free(g->labels.name);
    rd_free(g->labels.count);
}

/* Why column name may be absent from csv's header, and what to do, into hint: a header read
 * as one column holding ';' or a tab (the file is not comma-separated), a column that differs
 * only in case, a near spelling; else the header itself (shortened). */
static void column_hint(const rd_csv *csv, const char *name, char *hint, size_t cap)
{
    size_t nc = rd_csv_num_columns(csv);
    const char *c0 = nc ? rd_csv_column(csv, 0) : "";
    if (nc == 1 && (strchr(c0, ';') || strchr(c0, '\t'))) {
        snprintf(hint, cap,
                 "the header is one column, \"%.60s\": riskd reads comma-separated CSV; this file "
                 "looks separated by '%s'",
                 c0, strchr(c0, ';') ? ";" : "\\t");
        return;
    }
    for (size_t c = 0; c < nc; c++)
        if (strcasecmp(rd_csv_column(csv, c), name) == 0) {
            snprintf(hint, cap, "the column \"%.40s\" differs only in case (names are case-sensitive)",
                     rd_csv_column(csv, c));
            return;
        }
    for (size_t c = 0; c < nc; c++)
        if (rd_near_miss(rd_csv_column(csv, c), name)) {
            snprintf(hint, cap, "did you mean the column \"%.40s\"?", rd_csv_column(csv, c));
            return;
        }
    size_t at = (size_t)snprintf(hint, cap, "the header has");
    for (size_t c = 0; c < nc && at + 1 < cap; c++)
        at += (size_t)snprintf(hint + at, cap - at, "%s %s", c ? "," : ":", rd_csv_column(csv, c));
}

static int gather_init(gather *g, const rd_pipeline *p, const rd_csv *csv, rd_err *err)
{
    g->nin = rd_pipeline_num_inputs(p);
    g->col = rd_calloc(g->nin, sizeof(int));
    g->numeric = rd_calloc(g->nin, sizeof(bool));
    g->values = rd_calloc(g->nin, sizeof(dvec));
    g->lv = rd_calloc(g->nin, sizeof(levels));
    g->missing = rd_calloc(g->nin, sizeof(size_t));
    rd_buf_init(&g->samples);
    if (!g->col || !g->numeric || !g->values || !g->lv || !g->missing)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    size_t absent = 0, first = 0;
    for (size_t i = 0; i < g->nin; i++) {
        g->col[i] = rd_csv_find(csv, rd_pipeline_input_name(p, i));
        g->numeric[i] = rd_pipeline_input_is_number(p, i);
        if (g->col[i] < 0 && absent++ == 0)
            first = i;
    }
    if (absent) { /* every row would score with the input missing: the model would decide blind */
        char hint[200];
        column_hint(csv, rd_pipeline_input_name(p, first), hint, sizeof(hint));
        return rd_err_set(err, RD_EINVAL,
                          "the pipeline's input \"%s\" is not a column (%zu of %zu inputs are not): %s",
                          rd_pipeline_input_name(p, first), absent, g->nin, hint);
    }
    return RD_OK;
}

static int add_sample(gather *g, const rd_csv *csv, char **f, int label_col)
{
    int rc = rd_buf_puts(&g->samples, g->nsamples ? ",\n    {\"record\":{" : "\n    {\"record\":{");
    bool first = true;
    for (size_t c = 0; c < rd_csv_num_columns(csv); c++) {
        if ((int)c == label_col)
            continue; /* the outcome is not an input */
        const char *name = rd_csv_column(csv, c);
        rc |= (first ? 0 : rd_buf_putc(&g->samples, ',')) |
              rd_json_write_string(&g->samples, name, strlen(name)) | rd_buf_putc(&g->samples, ':') |
              rd_json_write_string(&g->samples, f[c], strlen(f[c]));
        first = false;
    }
    rc |= rd_buf_puts(&g->samples, "}}");
    g->nsamples++;
    return rc;
}

static int gather_row(gather *g, const rd_bundle *b, const rd_csv *csv, char **f, int label_col,
                      const char *positive, size_t want_samples, rd_err *err)
{
    rd_member stack_m[128], *m = stack_m;
    size_t nc = rd_csv_num_columns(csv);
    if (nc > 128 && !(m = rd_malloc(nc * sizeof(rd_member))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_value rec;
    rd_bundle_csv_record(csv, f, m, &rec);
    rd_score sc;
    int rc = rd_bundle_score(b, &rec, 0, &sc, err);
    if (m != stack_m)
        rd_free(m);
    if (rc != RD_OK)
        return rc;
    double label = (double)NAN;
    bool oom = false;
    if (label_col >= 0 && f[label_col][0]) {
        label = strcmp(f[label_col], positive) == 0 ? 1.0 : 0.0;
        *(label == 1.0 ? &g->npos : &g->nneg) += 1;
        oom = level_add(&g->labels, f[label_col]) != 0;
    }
    oom |= dvec_push(&g->score, sc.score) | dvec_push(&g->prob, sc.probability) | dvec_push(&g->label, label);
    for (size_t i = 0; i < g->nin && !oom; i++) {
        const char *v = g->col[i] >= 0 ? f[g->col[i]] : "";
        if (!*v)
            g->missing[i]++;
        if (g->numeric[i])
            oom = dvec_push(&g->values[i], *v ? strtod(v, NULL) : (double)NAN) != 0;
        else if (*v)
            oom = level_add(&g->lv[i], v) != 0;
    }
    if (!oom && g->nsamples < want_samples)
        oom = add_sample(g, csv, f, label_col) != 0;
    g->rows++;
    return oom ? rd_err_set(err, RD_ENOMEM, "out of memory") : RD_OK;
}

/* One pass over the CSV at path (the training data, with want_samples sample rows, or the
 * holdout, with none). */
static int gather_data(gather *g, const rd_bundle *b, const rd_bundle_build_opts *o, const char *path,
                       size_t want_samples, char *data_sha, rd_err *err)
{
    int rc = rd_sha256_file(path, data_sha, err);
    rd_csv *csv;
    if (rc != RD_OK || (rc = rd_csv_open(path, &csv, err)) != RD_OK)
        return rc;
    int label_col = o->label ? rd_csv_find(csv, o->label) : -1;
    if (o->label && label_col < 0) {
        char hint[200];
        column_hint(csv, o->label, hint, sizeof(hint));
        rc = rd_err_set(err, RD_EINVAL, "%s: no label column \"%s\" (--label): %s", path, o->label, hint);
    }
    if (rc == RD_OK && (rc = gather_init(g, b->pipeline, csv, err)) != RD_OK && rc != RD_ENOMEM)
        rd_err_prefix(err, "%s", path);
    char **f;
    int got;
    while (rc == RD_OK && (got = rd_csv_next(csv, &f, err)) != 0) {
        rc = got < 0
                 ? got
                 : gather_row(g, b, csv, f, label_col, o->positive ? o->positive : "1", want_samples, err);
        if (rc != RD_OK)
            rd_err_prefix(err, "%s: line %zu", path, rd_csv_line(csv));
        if (o->progress && (g->rows % 4096 == 0 || rc != RD_OK))
            o->progress(o->progress_ud, rd_csv_offset(csv), rd_csv_size(csv));
    }
    if (o->progress)
        o->progress(o->progress_ud, rd_csv_offset(csv), rd_csv_size(csv));
    if (rc == RD_OK && g->rows == 0)
        rc = rd_err_set(err, RD_EINVAL, "%s: no data rows", path);
    rd_csv_close(csv);
    return rc;
}

/* The label must hold the positive value and another one: else the positive rate is 0 or 1,
 * AUC and KS are null, and the bundle's metrics say nothing. */
static int check_label(const gather *g, const rd_bundle_build_opts *o, const char *path, rd_err *err)
{
    const char *pos = o->positive ? o->positive : "1";
    if (!o->label)
        return RD_OK;
    if (g->npos + g->nneg == 0)
        return rd_err_set(err, RD_EINVAL, "%s: the label column \"%s\" is empty in every row", path,
                          o->label);
    char seen[160];
    size_t at = 0;
    seen[0] = '\0';
    for (size_t j = 0; j < g->labels.n && j < 5 && at + 1 < sizeof(seen); j++)
        at += (size_t)snprintf(seen + at, sizeof(seen) - at, "%s\"%.24s\" (%zu rows)", j ? ", " : "",
                               g->labels.name[j], g->labels.count[j]);
    if (g->npos == 0 && g->labels.n > 1)
        return rd_err_set(
            err, RD_EINVAL,
            "%s: no row has %s = \"%s\" (--positive); the column holds %s%s: give --positive the "
            "value of the positive (bad) class",
            path, o->label, pos, seen, g->labels.n > 5 ? ", ..." : "");
    if (g->npos == 0 || g->nneg == 0)
        return rd_err_set(err, RD_EINVAL,
                          "%s: the label %s has one class: every labelled row is %s%s; AUC and KS need both "
                          "the positive (\"%s\") and another value",
                          path, o->label, seen, g->npos == 0 ? ", none the positive" : "", pos);
    return RD_OK;
}

/* ---------------------------------------------------------------- statistics */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of n >= 1 sorted values (linear interpolation between order statistics,
 * numpy's default: at h = (n - 1) q, v[floor(h)] + frac(h) (v[floor(h) + 1] - v[floor(h)])).
 * Kept between the two order statistics, so it never decreases as q grows, even where the
 * rounding of the difference (or its overflow, for values near the largest double) would
 * step out of them. */
static double quantile(const double *v, size_t n, double q)
{
    double h = (double)(n - 1) * q, lo = floor(h), f = h - lo;
    size_t i = (size_t)lo;
    if (i + 1 >= n)
        return v[n - 1];
    double d = v[i + 1] - v[i], x = isfinite(d) ? v[i] + f * d : v[i] * (1 - f) + v[i + 1] * f;
    return fmin(fmax(x, v[i]), v[i + 1]);
}

/* Sort the non-NaN values to the front; returns how many there are. */
static size_t sort_present(double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            v[k++] = v[i];
    qsort(v, k, sizeof(double), cmp_double);
    return k;
}

/* Decile cuts (distinct, ascending) of n sorted values and the counts of the bins they make
 * (bin = how many cuts are <= x, the WOE binning rule). */
static int write_bins(rd_buf *out, const double *v, size_t n)
{
    double cuts[9];
    size_t nc = 0;
    for (int d = 1; d <= 9 && n > 0; d++) {
        double c = quantile(v, n, d / 10.0);
        if (nc == 0 || c > cuts[nc - 1])
            cuts[nc++] = c;
    }
    size_t counts[10] = {0}, bin = 0;
    for (size_t i = 0; i < n; i++) {
        while (bin < nc && cuts[bin] <= v[i])
            bin++;
        counts[bin]++;
    }
    int rc = rd_buf_puts(out, "\"cuts\":[");
    for (size_t i = 0; i < nc; i++)
        rc |= rd_buf_printf(out, "%s%.17g", i ? "," : "", cuts[i]);
    rc |= rd_buf_puts(out, "],\"counts\":[");
    for (size_t i = 0; i <= nc; i++)
        rc |= rd_buf_printf(out, "%s%zu", i ? "," : "", counts[i]);
    return rc | rd_buf_putc(out, ']');
}

/* "quantiles": the reference ECDF for KS (rollout-monitoring.md §2.4): the REF_QUANTILES
 * quantiles of the n sorted values at probabilities (i + 0.5) / REF_QUANTILES, or, when there
 * are fewer values than that, the sorted values themselves (the exact ECDF). Ascending. */
#define REF_QUANTILES 1000
static int write_quantiles(rd_buf *out, const double *v, size_t n)
{
    int rc = rd_buf_puts(out, "\"quantiles\":[");
    if (n < REF_QUANTILES)
        for (size_t i = 0; i < n; i++)
            rc |= rd_buf_printf(out, "%s%.17g", i ? "," : "", v[i]);
    else
        for (int i = 0; i < REF_QUANTILES; i++)
            rc |= rd_buf_printf(out, "%s%.17g", i ? "," : "", quantile(v, n, (i + 0.5) / REF_QUANTILES));
    return rc | rd_buf_putc(out, ']');
}

/* AUC (the Mann-Whitney statistic, ties counted half) and KS of the probabilities (the
 * model's output, higher riskier, whatever the output kind: both are rank statistics)
 * against the labels; NaN when the labels hold one class only. */
static void metrics(const gather *g, double *auc, double *ks, double *pos_rate, size_t *labelled)
{
    size_t n = 0, npos = 0;
    double(*pl)[2] = rd_malloc(g->rows * sizeof(*pl) + 1);
    *auc = *ks = *pos_rate = (double)NAN;
    *labelled = 0;
    if (!pl)
        return;
    for (size_t i = 0; i < g->rows; i++)
        if (!isnan(g->label.v[i])) {
            pl[n][0] = g->prob.v[i];
            pl[n][1] = g->label.v[i];
            npos += g->label.v[i] == 1.0;
            n++;
        }
    *labelled = n;
    if (n > 0)
        *pos_rate = (double)npos / (double)n;
    if (npos == 0 || npos == n) {
        rd_free(pl);
        return;
    }
    qsort(pl, n, sizeof(*pl), cmp_double); /* by probability: the first double */
    double rank_sum = 0, tp = 0, fp = 0, best = 0, nneg = (double)(n - npos);
    for (size_t i = 0; i < n;) {
        size_t j = i, pos = 0;
        while (j < n && pl[j][0] == pl[i][0])
            pos += pl[j++][1] == 1.0;
        rank_sum += (double)pos * ((double)(i + 1) + (double)j) / 2.0; /* average rank of the tie group */
        tp += (double)pos;
        fp += (double)(j - i - pos);
        best = fmax(best, fabs(tp / (double)npos - fp / nneg));
        i = j;
    }
    *auc = (rank_sum - (double)npos * ((double)npos + 1) / 2.0) / ((double)npos * nneg);
    *ks = best;
    rd_free(pl);
}

/* The manifest's output.kind of b. */
static const char *output_kind(const rd_bundle *b)
{
    return b->probability ? "probability" : b->margin ? "margin" : "score";
}

/* reference.json, format 2 (docs/formats.md): format 1's members (rows; the score's deciles,
 * cuts and counts; per input missing and cuts and counts, or level counts), then "n" and
 * "quantiles" for the score and each number, "unseen" (0: training sees every level it
 * lists) and "n" for each category. */
static int write_reference(rd_buf *out, gather *g, const rd_bundle *b)
{
    double *s = g->score.v;
    size_t n = sort_present(s, g->rows);
    int rc = rd_buf_printf(
        out, "{\n  \"format\": 2,\n  \"rows\": %zu,\n  \"score\": {\"kind\":\"%s\",\"deciles\":[", g->rows,
        output_kind(b));
    for (int d = 1; d <= 9 && n > 0; d++)
        rc |= rd_buf_printf(out, "%s%.17g", d > 1 ? "," : "", quantile(s, n, d / 10.0));
    rc |= rd_buf_puts(out, "],") | write_bins(out, s, n) | rd_buf_printf(out, ",\"n\":%zu,", n) |
          write_quantiles(out, s, n) | rd_buf_puts(out, "},\n  \"inputs\": {");
    for (size_t i = 0; i < g->nin; i++) {
        const char *name = rd_pipeline_input_name(b->pipeline, i);
        rc |= rd_buf_puts(out, i ? ",\n    " : "\n    ") | rd_json_write_string(out, name, strlen(name)) |
              rd_buf_printf(out, ": {\"type\":\"%s\",\"missing\":%zu,", g->numeric[i] ? "number" : "category",
                            g->missing[i]);
        if (g->numeric[i]) {
            size_t k = sort_present(g->values[i].v, g->values[i].n);
            rc |= write_bins(out, g->values[i].v, k) | rd_buf_printf(out, ",\"n\":%zu,", k) |
                  write_quantiles(out, g->values[i].v, k);
        } else {
            rc |= rd_buf_puts(out, "\"levels\":{");
            for (size_t j = 0; j < g->lv[i].n; j++)
                rc |= (j ? rd_buf_putc(out, ',') : 0) |
                      rd_json_write_string(out, g->lv[i].name[j], strlen(g->lv[i].name[j])) |
                      rd_buf_printf(out, ":%zu", g->lv[i].count[j]);
            rc |= rd_buf_printf(out, "},\"unseen\":0,\"n\":%zu", g->rows - g->missing[i]);
        }
        rc |= rd_buf_putc(out, '}');
    }
    return rc | rd_buf_puts(out, "\n  }\n}\n");
}

/* Default bands from the training scores: the safest half low, the next 30% medium, the
 * riskiest 20% high. */
static int default_bands(rd_buf *out, const gather *g, bool points)
{
    double *s = rd_malloc(g->rows * sizeof(double) + 1);
    if (!s)
        return -1;
    memcpy(s, g->score.v, g->rows * sizeof(double));
    size_t n = sort_present(s, g->rows);
    double a = quantile(s, n, points ? 0.2 : 0.5), c = quantile(s, n, points ? 0.5 : 0.8);
    rd_free(s);
    if (!(a < c)) /* a degenerate score: one band */
        return rd_buf_puts(out, "[{\"level\":\"medium\",\"min\":null,\"max\":null,\"decision\":\"review\"}]");
    if (points)
        return rd_buf_printf(out,
                             "[{\"level\":\"high\",\"min\":null,\"max\":%.17g,\"decision\":\"reject\"},"
                             "{\"level\":\"medium\",\"min\":%.17g,\"max\":%.17g,\"decision\":\"review\"},"
                             "{\"level\":\"low\",\"min\":%.17g,\"max\":null,\"decision\":\"approve\"}]",
                             a, a, c, c);
    return rd_buf_printf(out,
                         "[{\"level\":\"low\",\"min\":null,\"max\":%.17g,\"decision\":\"approve\"},"
                         "{\"level\":\"medium\",\"min\":%.17g,\"max\":%.17g,\"decision\":\"review\"},"
                         "{\"level\":\"high\",\"min\":%.17g,\"max\":null,\"decision\":\"reject\"}]",
                         a, a, c, c);
}

/* ---------------------------------------------------------------- writing */

static int write_file(const char *dir, const char *name, const char *data, size_t len, char *hex, rd_err *err)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok)
        return rd_err_set(err, RD_EIO, "%s: write failed", path);
    if (hex)
        rd_sha256_hex(data, len, hex);
    return RD_OK;
}

static const char *model_format(const rd_model *m, const char **file)
{
    switch (rd_model_get_kind(m)) {
    case RD_MODEL_LIGHTGBM: *file = "model.txt"; return "lightgbm";
    case RD_MODEL_SCORECARD: *file = "scorecard.json"; return "scorecard";
    case RD_MODEL_LOGISTIC: *file = "model.json"; return "logistic_regression";
    default: *file = "model.json"; return "xgboost";
    }
}

static int str_list(rd_buf *out, size_t n, const char *(*name)(const rd_pipeline *, size_t),
                    const rd_pipeline *p)
{
    int rc = rd_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++)
        rc |= (i ? rd_buf_putc(out, ',') : 0) | rd_json_write_string(out, name(p, i), strlen(name(p, i)));
    return rc | rd_buf_putc(out, ']');
}

/* The expected outputs of the sample rows: scored by the bundle being built. */
static int write_samples(rd_buf *out, rd_bundle *b, const gather *g, rd_err *err)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value arr = {0};
    rd_buf text;
    rd_buf_init(&text);
    int rc = rd_buf_putc(&text, '[') | rd_buf_append(&text, g->samples.data, g->samples.len) |
                     rd_buf_putc(&text, ']')
                 ? rd_err_set(err, RD_ENOMEM, "out of memory")
                 : rd_json_parse(text.data, text.len, NULL, &a, &arr, err);
    rc |= rc == RD_OK ? rd_buf_puts(out, "[") : 0;
    for (uint32_t i = 0; rc == RD_OK && i < arr.len; i++) {
        const rd_value *rec = rd_value_get(&arr.u.items[i], "record", 6);
        rd_score sc;
        rc = rd_bundle_score(b, rec, b->nreasons, &sc, err);
        if (rc != RD_OK)
            break;
        rc = rd_buf_puts(out, i ? ",\n    {\"record\":" : "\n    {\"record\":") | rd_json_write(out, rec) |
             rd_buf_printf(out, ",\"score\":%.17g,\"reasons\":[", sc.score);
        for (size_t r = 0; r < sc.nreasons; r++) {
            const char *nm = rd_bundle_reason_name(b, sc.reasons[r].index);
            rc |= (r ? rd_buf_putc(out, ',') : 0) | rd_json_write_string(out, nm, strlen(nm));
        }
        rc |= rd_buf_puts(out, "]}");
    }
    rc |= rc == RD_OK ? rd_buf_puts(out, "\n  ]") : 0;
    rd_buf_deinit(&text);
    rd_arena_deinit(&a);
    return rc;
}

static int put_metric(rd_buf *out, const char *key, double v)
{
    return isnan(v) ? rd_buf_printf(out, "\"%s\":null", key) : rd_buf_printf(out, "\"%s\":%.6f", key, v);
}

/* {"auc":..,"ks":..,"positive_rate":..,"n":labelled,"sample":"train"|"test"}: the keys older
 * readers know first, then the rows they were computed on and which sample that was. */
static int put_metrics(rd_buf *out, const gather *g, const char *sample)
{
    return rd_buf_puts(out, "{") | put_metric(out, "auc", g->auc) | rd_buf_putc(out, ',') |
           put_metric(out, "ks", g->ks) | rd_buf_putc(out, ',') |
           put_metric(out, "positive_rate", g->pos_rate) |
           rd_buf_printf(out, ",\"n\":%zu,\"sample\":\"%s\"}", g->labelled, sample);
}

/* What the checks add to the manifest: the holdout's block ("test") when there is one, and
 * the warnings ("checks"). */
typedef struct checks {
    const char *test_path;
    gather test;
    char test_sha[RD_SHA256_HEX];
    rd_buf warnings; /* JSON strings, comma-separated */
    size_t nwarnings;
} checks;

static int write_checks(rd_buf *out, const checks *k)
{
    int rc = 0;
    if (k->test_path) {
        const char *base = strrchr(k->test_path, '/') ? strrchr(k->test_path, '/') + 1 : k->test_path;
        rc |= rd_buf_puts(out, "  \"test\": {\"data_file\": ") |
              rd_json_write_string(out, base, strlen(base)) |
              rd_buf_printf(out, ", \"data_sha256\": \"%s\", \"rows\": %zu, \"labelled\": %zu, \"metrics\": ",
                            k->test_sha, k->test.rows, k->test.labelled) |
              put_metrics(out, &k->test, "test") | rd_buf_puts(out, "},\n");
    }
    return rc | rd_buf_puts(out, "  \"checks\": {\"warnings\": [") |
           rd_buf_append(out, k->warnings.data ? k->warnings.data : "", k->warnings.len) |
           rd_buf_puts(out, "]},\n");
}

static int write_manifest(rd_buf *out, rd_bundle *b, const rd_bundle_build_opts *o, const gather *g,
                          const checks *k, const char *bands, const char *data_sha, const char *model_file,
                          const char *files, rd_err *err)
{
    char product[128] = "", type[64] = "", when[32];
    unsigned major = 0, minor = 0;
    rd_bundle_name_parse(o->name, product, sizeof(product), type, sizeof(type), &major, &minor, err);
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    const char *user = getenv("USER"), *by = o->created_by ? o->created_by : user ? user : "unknown";
    const char *base = strrchr(o->data_path, '/') ? strrchr(o->data_path, '/') + 1 : o->data_path;
    const char *fmt = model_format(b->model, &model_file);
    int rc = rd_buf_printf(out,
                           "{\n  \"format\": 1,\n  \"name\": \"%s\",\n  \"product\": \"%s\",\n"
                           "  \"model_type\": \"%s\",\n  \"version\": {\"major\": %u, \"minor\": %u},\n"
                           "  \"created_at\": \"%s\",\n  \"created_by\": ",
                           o->name, product, type, major, minor, when);
    rc |=
        rd_json_write_string(out, by, strlen(by)) |
        rd_buf_printf(
            out, ",\n  \"model\": {\"file\": \"%s\", \"format\": \"%s\", \"objective\": ", model_file, fmt) |
        rd_json_write_string(out, rd_model_objective(b->model), strlen(rd_model_objective(b->model))) |
        rd_buf_puts(out, "},\n  \"pipeline\": \"pipeline.json\",\n  \"reference\": \"reference.json\",\n") |
        (o->fallback_path ? rd_buf_puts(out, "  \"fallback\": \"fallback.json\",\n") : 0) |
        (o->deadline_ms ? rd_buf_printf(out, "  \"serving\": {\"deadline_ms\": %d},\n", o->deadline_ms) : 0) |
        rd_buf_puts(out, "  \"training\": {\"data_file\": ") | rd_json_write_string(out, base, strlen(base)) |
        rd_buf_printf(out,
                      ", \"data_sha256\": \"%s\", \"rows\": %zu, \"labelled\": %zu, \"label\": ", data_sha,
                      g->rows, g->labelled);
    rc |= o->label ? rd_json_write_string(out, o->label, strlen(o->label)) : rd_buf_puts(out, "null");
    const char *pos = o->positive ? o->positive : "1";
    rc |= rd_buf_puts(out, ", \"positive\": ") | rd_json_write_string(out, pos, strlen(pos)) |
          rd_buf_puts(out, ", \"metrics\": ") | put_metrics(out, g, "train") | rd_buf_puts(out, "},\n") |
          write_checks(out, k) | rd_buf_printf(out, "  \"files\": %s,\n  \"features\": ", files) |
          str_list(out, rd_pipeline_num_features(b->pipeline), rd_pipeline_feature_name, b->pipeline) |
          rd_buf_puts(out, ",\n  \"inputs\": ") |
          str_list(out, rd_pipeline_num_inputs(b->pipeline), rd_pipeline_input_name, b->pipeline) |
          rd_buf_printf(out, ",\n  \"output\": {\"kind\": \"%s\", \"positive_class\": ", output_kind(b)) |
          rd_json_write_string(out, pos, strlen(pos)) |
          rd_buf_printf(out, "},\n  \"risk_bands\": %s,\n", bands) |
          rd_buf_printf(out,
                        "  \"reason_codes\": {\"count\": %zu, \"map\": {}},\n  \"samples\": ", b->nreasons);
    if (rc != 0)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rc = write_samples(out, b, g, err);
    if (rc == RD_OK && rd_buf_puts(out, "\n}\n") != 0)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    return rc;
}

/* ---------------------------------------------------------------- the build */

typedef struct parts {
    char *model_text, *pipe_text, *fb_text;
    size_t model_len, pipe_len, fb_len;
    rd_buf pipe_buf, bands, reference, manifest, sealed, files;
} parts;

static int load_inputs(rd_bundle *b, parts *p, const rd_bundle_build_opts *o, rd_err *err)
{
    int rc = rd_file_read(o->model_path, RD_MODEL_MAX_BYTES, &p->model_text, &p->model_len, err);
    if (rc == RD_OK && (rc = rd_model_load_buffer(p->model_text, p->model_len, &b->model, err)) != RD_OK)
        rd_err_prefix(err, "%s", o->model_path);
    if (rc != RD_OK)
        return rc;
    if (o->pipeline_path) {
        rc = rd_file_read(o->pipeline_path, 16u << 20, &p->pipe_text, &p->pipe_len, err);
    } else if (rd_model_get_kind(b->model) == RD_MODEL_SCORECARD) {
        rc = rd_pipeline_spec_from_scorecard(p->model_text, p->model_len, &p->pipe_buf, err);
        p->pipe_text = rd_strndup(p->pipe_buf.data, p->pipe_buf.len);
        p->pipe_len = p->pipe_buf.len;
        if (rc == RD_OK && !p->pipe_text)
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    } else {
        return rd_err_set(err, RD_EINVAL,
                          "a pipeline spec is required (only a scorecard's is derived from its bins)");
    }
    if (rc == RD_OK && (rc = rd_pipeline_parse(p->pipe_text, p->pipe_len, &b->pipeline, err)) != RD_OK)
        rd_err_prefix(err, "%s", o->pipeline_path ? o->pipeline_path : "derived pipeline");
    if (rc != RD_OK)
        return rc;
    size_t n = rd_pipeline_num_features(b->pipeline);
    if (n != rd_model_num_features(b->model))
        return rd_err_set(err, RD_EINVAL, "the pipeline makes %zu features, the model reads %zu", n,
                          rd_model_num_features(b->model));
    for (size_t j = 0; j < n; j++) {
        const char *mn = rd_model_feature_name(b->model, j), *pn = rd_pipeline_feature_name(b->pipeline, j);
        if (mn && strcmp(mn, pn) != 0)
            return rd_err_set(err, RD_EINVAL,
                              "feature %zu: the pipeline makes \"%s\", the model reads \"%s\"", j, pn, mn);
    }
    const char *kind = o->output_kind                                      ? o->output_kind
                       : rd_model_get_kind(b->model) == RD_MODEL_SCORECARD ? "score"
                                                                           : "probability";
    if ((rc = rd__bundle_set_output(b, kind, "output kind", err)) != RD_OK) {
        rd_err_prefix(err, "%s", o->model_path);
        return rc;
    }
    if (o->fallback_path) { /* refused here, not at the first load of the bundle */
        rd_fallback *fb;
        rc = rd_file_read(o->fallback_path, RD_FALLBACK_MAX_BYTES, &p->fb_text, &p->fb_len, err);
        if (rc == RD_OK && (rc = rd_fallback_parse(p->fb_text, p->fb_len, &fb, err)) == RD_OK)
            rd_fallback_unref(fb);
        else if (rc != RD_EIO)
            rd_err_prefix(err, "%s", o->fallback_path);
        if (rc != RD_OK)
            return rc;
    }
    if (o->deadline_ms < 0 || o->deadline_ms > 600000)
        return rd_err_set(err, RD_EINVAL, "deadline: 1 to 600000 ms");
    b->nreasons = o->reasons ? o->reasons : 4;
    if (b->nreasons > RD_BUNDLE_MAX_REASONS)
        return rd_err_set(err, RD_EINVAL, "reason codes: at most %d", RD_BUNDLE_MAX_REASONS);
    return RD_OK;
}

static int parse_bands(rd_bundle *b, parts *p, const rd_bundle_build_opts *o, const gather *g, rd_err *err)
{
    if (o->risk_bands ? rd_buf_puts(&p->bands, o->risk_bands) : default_bands(&p->bands, g, b->points))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_value v;
    int rc = rd_json_parse(p->bands.data, p->bands.len, NULL, &b->arena, &v, err);
    if (rc == RD_OK)
        rc = rd__bands_parse(b, &v, "risk bands", err);
    else
        rd_err_prefix(err, "risk bands");
    return rc;
}

/* The manifest with its digest, the last member (rd_bundle_manifest_digest). */
static int seal(parts *p, rd_err *err)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value m;
    char hex[RD_SHA256_HEX];
    int rc = rd_json_parse(p->manifest.data, p->manifest.len, NULL, &a, &m, err);
    if (rc == RD_OK)
        rc = rd_bundle_manifest_digest(&m, hex, NULL, err);
    if (rc == RD_OK)
        rc = rd_bundle_manifest_set_digest(p->manifest.data, p->manifest.len, hex, &p->sealed, err);
    rd_arena_deinit(&a);
    return rc;
}

static int write_all(rd_bundle *b, parts *p, const rd_bundle_build_opts *o, gather *g, const checks *k,
                     const char *data_sha, const char *tmp, rd_err *err)
{
    const char *model_file;
    model_format(b->model, &model_file);
    char h_model[RD_SHA256_HEX], h_pipe[RD_SHA256_HEX], h_ref[RD_SHA256_HEX];
    int rc = write_reference(&p->reference, g, b) ? rd_err_set(err, RD_ENOMEM, "out of memory") : RD_OK;
    if (rc == RD_OK)
        rc = write_file(tmp, model_file, p->model_text, p->model_len, h_model, err);
    if (rc == RD_OK)
        rc = write_file(tmp, "pipeline.json", p->pipe_text, p->pipe_len, h_pipe, err);
    if (rc == RD_OK)
        rc = write_file(tmp, "reference.json", p->reference.data, p->reference.len, h_ref, err);
    char h_fb[RD_SHA256_HEX] = "";
    if (rc == RD_OK && p->fb_text)
        rc = write_file(tmp, "fallback.json", p->fb_text, p->fb_len, h_fb, err);
    if (rc == RD_OK &&
        (rd_buf_printf(&p->files, "{\"%s\": \"%s\", \"pipeline.json\": \"%s\", \"reference.json\": \"%s\"",
                       model_file, h_model, h_pipe, h_ref) |
         (p->fb_text ? rd_buf_printf(&p->files, ", \"fallback.json\": \"%s\"", h_fb) : 0) |
         rd_buf_putc(&p->files, '}')) != 0)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    if (rc == RD_OK)
        rc = write_manifest(&p->manifest, b, o, g, k, rd_buf_cstr(&p->bands), data_sha, model_file,
                            rd_buf_cstr(&p->files), err);
    if (rc == RD_OK)
        rc = seal(p, err);
    if (rc == RD_OK)
        rc = write_file(tmp, "manifest.json", p->sealed.data, p->sealed.len, NULL, err);
    return rc;
}

/* ---------------------------------------------------------------- checks */

static void compute_metrics(gather *g) { metrics(g, &g->auc, &g->ks, &g->pos_rate, &g->labelled); }

/* Record a warning in the manifest and tell the caller. */
static int warn(checks *k, const rd_bundle_build_opts *o, const char *msg)
{
    if (o->warn)
        o->warn(o->warn_ud, msg);
    int rc = (k->nwarnings++ ? rd_buf_puts(&k->warnings, ",\n    ") : rd_buf_puts(&k->warnings, "\n    ")) |
             rd_json_write_string(&k->warnings, msg, strlen(msg));
    return rc;
}

/* The file name of a path: what the manifest records (never the builder's directories). */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int warn_auc(checks *k, const rd_bundle_build_opts *o, const gather *g, const char *path)
{
    char msg[256];
    if (!(g->auc < 0.5))
        return 0;
    snprintf(msg, sizeof(msg),
             "%s: AUC %.3f is below 0.5: the model ranks the positive class (%s = \"%s\") as safer than the "
             "rest; is the label inverted? check --positive and the label column",
             base_name(path), g->auc, o->label, o->positive ? o->positive : "1");
    return warn(k, o, msg);
}

/* Warnings on the training data (an AUC below 0.5, an input missing in more than half the
 * rows) and the holdout's AUC. */
static int warn_all(checks *k, const rd_bundle_build_opts *o, const rd_bundle *b, const gather *g)
{
    int rc = warn_auc(k, o, g, o->data_path) | (k->test_path ? warn_auc(k, o, &k->test, k->test_path) : 0);
    for (size_t i = 0; i < g->nin; i++)
        if (g->missing[i] * 2 > g->rows) {
            char msg[256];
            snprintf(msg, sizeof(msg),
                     "%s: input \"%s\" is missing in %.1f%% of the rows (%zu of %zu): the model sees its "
                     "default for most applications",
                     base_name(o->data_path), rd_pipeline_input_name(b->pipeline, i),
                     100.0 * (double)g->missing[i] / (double)g->rows, g->missing[i], g->rows);
            rc |= warn(k, o, msg);
        }
    return rc;
}

/* Bands given by the user must cut inside the score's range, or a band no score reaches is
 * there and the others hold everyone: (0, 1] for a probability (cuts written as percentages),
 * the training scores' range for points, margins and other scores (bands written for a
 * probability). Gaps, overlaps and open ends were refused by rd__bands_parse. */
static int check_band_range(const rd_bundle *b, const gather *g, rd_err *err)
{
    double lo = 0, hi = 1;
    if (!b->probability) {
        lo = (double)INFINITY;
        hi = -(double)INFINITY;
        for (size_t i = 0; i < g->rows; i++) {
            lo = fmin(lo, g->score.v[i]);
            hi = fmax(hi, g->score.v[i]);
        }
    }
    for (size_t i = 0; i + 1 < b->nbands; i++) {
        double cut = b->bands[i].max;
        if (cut > lo && cut <= hi)
            continue;
        if (b->probability)
            return rd_err_set(err, RD_EINVAL,
                              "risk bands: band \"%s\" %s at %g, but the score is a probability (0 to 1): no "
                              "score falls in band \"%s\"; write the cuts as probabilities (0.2, not 20)",
                              b->bands[cut <= lo ? i : i + 1].level, cut <= lo ? "ends" : "starts", cut,
                              b->bands[cut <= lo ? i : i + 1].level);
        return rd_err_set(err, RD_EINVAL,
                          "risk bands: the cut at %g between \"%s\" and \"%s\" is outside the training "
                          "scores (%s %g to %g): set the cuts on that scale%s",
                          cut, b->bands[i].level, b->bands[i + 1].level,
                          b->points ? "points" : output_kind(b), lo, hi,
                          cut >= 0 && cut <= 1 ? " (were they written for a probability?)" : "");
    }
    return RD_OK;
}

/* Every check after the pass over the training data: its label, the holdout (a pass of its
 * own, with the same checks), the warnings, the bands' range. */
static int run_checks(rd_bundle *b, const rd_bundle_build_opts *o, gather *g, checks *k, rd_err *err)
{
    /* the label among the inputs: the model would be handed the answer (AUC 1 in training,
     * and in production an input nobody has at decision time) */
    if (o->label && rd_pipeline_find_input(b->pipeline, o->label, strlen(o->label)) >= 0)
        return rd_err_set(err, RD_EINVAL,
                          "the label %s is also an input of the pipeline: the model would see the outcome it "
                          "predicts; take it out of the pipeline (or give the right --label)",
                          o->label);
    int rc = check_label(g, o, o->data_path, err);
    compute_metrics(g);
    if (rc == RD_OK && o->test_data_path && !o->label)
        rc = rd_err_set(err, RD_EUSAGE, "--test-data needs --label: the holdout's metrics are against it");
    if (rc == RD_OK && o->test_data_path) {
        k->test_path = o->test_data_path;
        rc = gather_data(&k->test, b, o, o->test_data_path, 0, k->test_sha, err);
        if (rc == RD_OK)
            rc = check_label(&k->test, o, o->test_data_path, err);
        compute_metrics(&k->test);
    }
    if (rc == RD_OK && warn_all(k, o, b, g) != 0)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    return rc;
}

static void remove_dir(const char *dir)
{
    static const char *names[] = {"manifest.json", "model.json",     "model.txt",    "scorecard.json",
                                  "pipeline.json", "reference.json", "fallback.json"};
    char path[4400];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int rd_bundle_build(const rd_bundle_build_opts *o, rd_err *err)
{
    char product[128], type[64], tmp[4200], data_sha[RD_SHA256_HEX];
    unsigned major, minor;
    struct stat st;
    if (!o || !o->name || !o->model_path || !o->data_path || !o->out_dir)
        return rd_err_set(err, RD_EINVAL,
                          "bundle build: name, model, data and output directory are required");
    int rc = rd_bundle_name_parse(o->name, product, sizeof(product), type, sizeof(type), &major, &minor, err);
    if (rc != RD_OK)
        return rc;
    /* The directory is the name: the server refuses a bundle whose directory says otherwise. */
    size_t olen = strlen(o->out_dir);
    while (olen > 1 && o->out_dir[olen - 1] == '/')
        olen--;
    size_t base = olen;
    while (base > 0 && o->out_dir[base - 1] != '/')
        base--;
    if (olen - base != strlen(o->name) || memcmp(o->out_dir + base, o->name, olen - base) != 0)
        return rd_err_set(err, RD_EINVAL,
                          "%s: the bundle directory must be named as the bundle, %s (its name is \"%.*s\")",
                          o->out_dir, o->name, (int)(olen - base), o->out_dir + base);
    if (stat(o->out_dir, &st) == 0)
        return rd_err_set(err, RD_EINVAL, "%s: exists; a bundle is never overwritten (choose a new version)",
                          o->out_dir);
    rd_bundle b = {0};
    rd_arena_init(&b.arena, 0);
    b.name = o->name;
    parts p = {0};
    rd_buf_init(&p.pipe_buf);
    rd_buf_init(&p.bands);
    rd_buf_init(&p.reference);
    rd_buf_init(&p.manifest);
    rd_buf_init(&p.sealed);
    rd_buf_init(&p.files);
    gather g = {0};
    checks k = {0};
    rd_buf_init(&k.warnings);
    rc = load_inputs(&b, &p, o, err);
    /* Scoring needs bands; the data pass runs with one provisional band covering all. */
    rd__band all = {(double)NAN, (double)NAN, "all", NULL};
    b.bands = &all;
    b.nbands = 1;
    if (rc == RD_OK)
        rc = gather_data(&g, &b, o, o->data_path, o->samples ? o->samples : 20, data_sha, err);
    if (rc == RD_OK)
        rc = run_checks(&b, o, &g, &k, err);
    if (rc == RD_OK)
        rc = parse_bands(&b, &p, o, &g, err);
    if (rc == RD_OK && o->risk_bands)
        rc = check_band_range(&b, &g, err);
    snprintf(tmp, sizeof(tmp), "%.*s.tmp-%ld", (int)olen, o->out_dir, (long)getpid());
    if (rc == RD_OK && mkdir(tmp, 0755) != 0)
        rc = rd_err_set(err, RD_EIO, "%s: %s", tmp, strerror(errno));
    else if (rc == RD_OK) {
        rc = write_all(&b, &p, o, &g, &k, data_sha, tmp, err);
        if (rc == RD_OK && rename(tmp, o->out_dir) != 0)
            rc = rd_err_set(err, RD_EIO, "%s: %s", o->out_dir, strerror(errno));
        if (rc != RD_OK)
            remove_dir(tmp);
    }
    gather_free(&g);
    gather_free(&k.test);
    rd_buf_deinit(&k.warnings);
    rd_model_free(b.model);
    rd_pipeline_free(b.pipeline);
    rd_arena_deinit(&b.arena);
    rd_free(p.model_text);
    rd_free(p.pipe_text);
    rd_free(p.fb_text);
    rd_buf_deinit(&p.pipe_buf);
    rd_buf_deinit(&p.bands);
    rd_buf_deinit(&p.reference);
    rd_buf_deinit(&p.manifest);
    rd_buf_deinit(&p.sealed);
    rd_buf_deinit(&p.files);
    if (rc != RD_OK)
        return rc;
    /* What was written must load and verify like any bundle. */
    rd_bundle *check;
    size_t n;
    rc = rd_bundle_load(o->out_dir, &check, err);
    if (rc == RD_OK) {
        rc = rd_bundle_verify(check, &n, err);
        rd_bundle_free(check);
    }
    return rc;
}
