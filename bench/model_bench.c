/* Model prediction speed, riskd against XGBoost's own C API on the same machine, for
 * `make bench`.
 *
 * usage: model_bench MODEL.json PIPELINE.json RAW.csv [rows]
 * The raw applications go through the pipeline once (not timed) into a dense matrix; then:
 *   batch: rows/s for riskd's batch predictor and XGBoosterPredictFromDense, 1 and 2 threads;
 *   single row: median and p99 latency over 100k calls of each;
 *   the path of /v1/score: a raw record through the pipeline alone, and through the pipeline
 *   and the model, median and p99 over 100k calls;
 *   TreeSHAP: riskd's contributions per row.
 * It also checks that both produce the same probabilities, bit for bit, and says so.
 *
 * usage: model_bench --lightgbm MODEL.txt ROWS.tsv [rows]
 * A LightGBM model (LightGBM's library is not in Debian: no peer to run) through riskd's layout
 * (src/lib/model/forest.c) against riskd's node walk of the same model (lightgbm.c), on the
 * file's rows (one per line, tab or space separated) repeated up to rows: batch rows/s on 1 and
 * 2 threads, single-row latency, and the outputs that differ between the two (must be 0).
 * Prints JSON lines; bench/report_model.mjs makes the table. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xgboost/c_api.h>

#include "riskd/riskd.h"
#include "riskd/model.h"
#include "riskd/pipeline.h"
/* The LightGBM case drops a model's layout to time the node walk: internals, for the bench only. */
#include "model/model_int.h"

#define MAX_COLS      64
#define LATENCY_CALLS 100000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Two series of LATENCY_CALLS timings (µs) as one JSON line: each one's median and p99 (sorts them). */
static void print_latencies(const char *name, const char *a, double *lat_a, const char *b, double *lat_b)
{
    qsort(lat_a, LATENCY_CALLS, sizeof(double), cmp_double);
    qsort(lat_b, LATENCY_CALLS, sizeof(double), cmp_double);
    printf("{\"case\":\"%s\",\"calls\":%d,\"%s_median_us\":%.3f,\"%s_p99_us\":%.3f,\"%s_median_us\":%.3f,"
           "\"%s_p99_us\":%.3f}\n",
           name, LATENCY_CALLS, a, lat_a[LATENCY_CALLS / 2], a, lat_a[LATENCY_CALLS * 99 / 100], b,
           lat_b[LATENCY_CALLS / 2], b, lat_b[LATENCY_CALLS * 99 / 100]);
}

static void xgb_check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "model_bench: %s: %s\n", what, XGBGetLastError());
        exit(1);
    }
}

/* Read the raw CSV and encode it with the pipeline into x (rows x nf). */
static size_t encode(const char *path, const rd_pipeline *p, size_t max_rows, double **out)
{
    FILE *in = fopen(path, "r");
    char line[4096], hdr[4096], *names[MAX_COLS], *f[MAX_COLS];
    if (!in || !fgets(hdr, sizeof(hdr), in)) {
        fprintf(stderr, "model_bench: %s unreadable\n", path);
        exit(1);
    }
    int nh = 0;
    names[nh++] = hdr;
    for (char *c = hdr; *c; c++) {
        if (*c == '\n' || *c == '\r')
            *c = '\0';
        else if (*c == ',' && nh < MAX_COLS) {
            *c = '\0';
            names[nh++] = c + 1;
        }
    }
    size_t nf = rd_pipeline_num_features(p), rows = 0, cap = 1 << 16;
    double *x = malloc(cap * nf * sizeof(double));
    rd_err err;
    while (rows < max_rows && fgets(line, sizeof(line), in)) {
        int n = 0;
        f[n++] = line;
        for (char *c = line; *c; c++) {
            if (*c == '\n' || *c == '\r')
                *c = '\0';
            else if (*c == ',' && n < MAX_COLS) {
                *c = '\0';
                f[n++] = c + 1;
            }
        }
        rd_member m[MAX_COLS];
        for (int i = 0; i < n && i < nh; i++)
            m[i] = (rd_member){names[i], (uint32_t)strlen(names[i]),
                               rd_value_string(f[i], (uint32_t)strlen(f[i]))};
        rd_value rec = {.type = RD_VOBJECT, .len = (uint32_t)(n < nh ? n : nh), .u.members = m};
        if (rows == cap) {
            cap *= 2;
            x = realloc(x, cap * nf * sizeof(double));
        }
        if (rd_pipeline_apply(p, &rec, x + rows * nf, NULL, &err) != RD_OK) {
            fprintf(stderr, "model_bench: row %zu: %s\n", rows + 1, err.msg);
            exit(1);
        }
        rows++;
    }
    fclose(in);
    *out = x;
    return rows;
}

/* The first n raw records of the CSV, kept as the objects a /v1/score request's features parse
 * to: numbers as numbers, categories as strings, empty fields as null. */
#define KEEP 1024
static size_t keep_records(const char *path, rd_value *recs)
{
    FILE *in = fopen(path, "r");
    static char hdr[4096];
    char line[4096];
    if (!in || !fgets(hdr, sizeof(hdr), in))
        exit(1);
    char *names[MAX_COLS];
    int nh = 0;
    names[nh++] = hdr;
    for (char *c = hdr; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = '\0';
        else if (*c == ',' && nh < MAX_COLS) {
            *c = '\0';
            names[nh++] = c + 1;
        }
    size_t n = 0;
    while (n < KEEP && fgets(line, sizeof(line), in)) {
        char *copy = strdup(line), *f[MAX_COLS];
        int k = 0;
        f[k++] = copy;
        for (char *c = copy; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = '\0';
            else if (*c == ',' && k < MAX_COLS) {
                *c = '\0';
                f[k++] = c + 1;
            }
        int nm = k < nh ? k : nh;
        rd_member *m = malloc((size_t)nm * sizeof *m);
        for (int i = 0; i < nm; i++) {
            /* a JSON request carries numbers as numbers and an empty field as null */
            char *end;
            double num = strtod(f[i], &end);
            rd_value v = !*f[i]                   ? (rd_value){.type = RD_VNULL}
                         : !*end && isfinite(num) ? (rd_value){.type = RD_VNUMBER, .u.n = num}
                                                  : rd_value_string(f[i], (uint32_t)strlen(f[i]));
            m[i] = (rd_member){names[i], (uint32_t)strlen(names[i]), v};
        }
        recs[n++] = (rd_value){.type = RD_VOBJECT, .len = (uint32_t)nm, .u.members = m};
    }
    fclose(in);
    return n;
}

/* The path of /v1/score for one record: the pipeline alone, then the pipeline and the model. */
static void single_path(const char *csv, const rd_pipeline *p, const rd_model *m, size_t nf)
{
    static rd_value recs[KEEP];
    size_t n = keep_records(csv, recs);
    double *lat_p = malloc(LATENCY_CALLS * sizeof(double)), *lat_a = malloc(LATENCY_CALLS * sizeof(double));
    double *xr = malloc(nf * sizeof(double)), prob;
    rd_err err;
    for (size_t i = 0; i < n; i++) /* timing a refusal would time its fast error path */
        if (rd_pipeline_apply(p, &recs[i], xr, NULL, &err) != RD_OK) {
            fprintf(stderr, "model_bench: %s, record %zu: the pipeline refuses it: %s\n", csv, i + 1,
                    err.msg);
            exit(1);
        }
    for (size_t i = 0; i < LATENCY_CALLS; i++) {
        const rd_value *rec = &recs[i % n];
        double t0 = now_s();
        rd_pipeline_apply(p, rec, xr, NULL, &err);
        double t1 = now_s();
        rd_pipeline_apply(p, rec, xr, NULL, &err);
        rd_model_predict(m, xr, RD_OUTPUT_PROBABILITY, &prob);
        double t2 = now_s();
        lat_p[i] = (t1 - t0) * 1e6;
        lat_a[i] = (t2 - t1) * 1e6;
    }
    print_latencies("single_path", "pipeline", lat_p, "path", lat_a);
    free(lat_p);
    free(lat_a);
    free(xr);
}

static const float *xgb_predict(BoosterHandle b, const float *xf, size_t rows, size_t nf)
{
    char iface[256];
    snprintf(iface, sizeof(iface),
             "{\"data\": [%zu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
             (size_t)(uintptr_t)xf, rows, nf);
    const char *cfg = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
                      "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";
    bst_ulong const *shape;
    bst_ulong dim;
    const float *res;
    xgb_check(XGBoosterPredictFromDense(b, iface, cfg, NULL, &shape, &dim, &res),
              "XGBoosterPredictFromDense");
    return res;
}

/* The rows of a whitespace-separated file of nf numbers a line, repeated up to want rows. */
static size_t read_rows(const char *path, size_t nf, size_t want, double **out)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "model_bench: %s unreadable\n", path);
        exit(1);
    }
    size_t n = 0, cap = 1024;
    double *x = malloc(cap * nf * sizeof(double));
    char line[1 << 16];
    while (fgets(line, sizeof(line), in)) {
        char *p = line, *end;
        if (n == cap)
            x = realloc(x, (cap *= 2) * nf * sizeof(double));
        size_t k = 0;
        for (; k < nf; k++, p = end) {
            x[n * nf + k] = strtod(p, &end);
            if (end == p)
                break;
        }
        if (k == 0)
            continue; /* a blank line */
        if (k != nf) {
            fprintf(stderr, "model_bench: %s: row %zu has %zu numbers, the model %zu features\n", path, n + 1,
                    k, nf);
            exit(1);
        }
        n++;
    }
    fclose(in);
    if (n == 0) {
        fprintf(stderr, "model_bench: %s: no rows\n", path);
        exit(1);
    }
    x = realloc(x, want * nf * sizeof(double));
    for (size_t r = n; r < want; r++)
        memcpy(x + r * nf, x + (r % n) * nf, nf * sizeof(double));
    *out = x;
    return n;
}

static size_t differing(const double *a, const double *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += memcmp(a + i, b + i, sizeof(double)) != 0;
    return d;
}

/* A row count from the command line: a positive integer, else the run stops saying so. */
static size_t count_arg(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || end == s || *end || n == 0 || n > ((size_t)1 << 40) || *s == '-') {
        fprintf(stderr, "model_bench: rows: expected a positive integer, got \"%s\"\n", s);
        exit(2);
    }
    return (size_t)n;
}

/* model_bench --lightgbm MODEL.txt ROWS.tsv [rows]: the layout against the node walk. */
static int lightgbm_case(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: model_bench --lightgbm MODEL.txt ROWS.tsv [rows]\n");
        return 2;
    }
    FILE *probe = fopen(argv[2], "r");
    if (!probe) { /* the LightGBM vectors are a peer suite in ../shared, not ours */
        fprintf(stderr, "skipped: peer suite not present (%s)\n", argv[2]); /* stdout is JSON lines */
        return 0;
    }
    fclose(probe);
    size_t rows = argc > 4 ? count_arg(argv[4]) : 200000;
    rd_err err;
    rd_model *fast, *slow;
    if (rd_model_load_file(argv[2], &fast, &err) != RD_OK ||
        rd_model_load_file(argv[2], &slow, &err) != RD_OK) {
        fprintf(stderr, "model_bench: %s\n", err.msg);
        return 1;
    }
    if (!fast->forest) {
        fprintf(stderr, "model_bench: %s has no layout: nothing to compare\n", argv[2]);
        return 1;
    }
    rd__forest_free(slow->forest); /* today's traversal: lightgbm.c's node walk */
    slow->forest = NULL;
    size_t nf = rd_model_num_features(fast), no = rd_model_num_outputs(fast, RD_OUTPUT_PROBABILITY);
    double *x;
    size_t distinct = read_rows(argv[3], nf, rows, &x);
    double *a = malloc(rows * no * sizeof(double)), *b = malloc(rows * no * sizeof(double));
    size_t diff = 0, compared = 0;
    const char *name = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
    for (int threads = 1; threads <= 2; threads++) {
        double best_f = 1e30, best_s = 1e30;
        for (int rep = 0; rep < 3; rep++) { /* interleaved: both meet the same machine */
            double t0 = now_s();
            rd_model_predict_batch(fast, x, rows, RD_OUTPUT_PROBABILITY, a, threads, &err);
            double t1 = now_s();
            rd_model_predict_batch(slow, x, rows, RD_OUTPUT_PROBABILITY, b, threads, &err);
            double t2 = now_s();
            best_f = t1 - t0 < best_f ? t1 - t0 : best_f;
            best_s = t2 - t1 < best_s ? t2 - t1 : best_s;
            if (rep == 0) {
                diff += differing(a, b, rows * no);
                compared += rows * no;
            }
        }
        printf("{\"case\":\"lgbm_batch\",\"model\":\"%s\",\"trees\":%zu,\"columns\":%zu,\"threads\":%d,"
               "\"rows\":%zu,\"distinct_rows\":%zu,\"layout_rows_per_sec\":%.0f,"
               "\"nodewalk_rows_per_sec\":%.0f}\n",
               name, fast->ntrees, rd__forest_columns(fast), threads, rows, distinct, (double)rows / best_f,
               (double)rows / best_s);
        fflush(stdout);
    }
    /* Single rows, each call timed on its own, the two interleaved; every output compared. */
    double *lat_f = malloc(LATENCY_CALLS * sizeof(double)), *lat_s = malloc(LATENCY_CALLS * sizeof(double));
    double *of = malloc(no * sizeof(double)), *os = malloc(no * sizeof(double));
    for (size_t i = 0; i < LATENCY_CALLS; i++) {
        const double *row = x + (i % rows) * nf;
        double t0 = now_s();
        rd_model_predict(fast, row, RD_OUTPUT_PROBABILITY, of);
        double t1 = now_s();
        rd_model_predict(slow, row, RD_OUTPUT_PROBABILITY, os);
        double t2 = now_s();
        lat_f[i] = (t1 - t0) * 1e6;
        lat_s[i] = (t2 - t1) * 1e6;
        diff += differing(of, os, no) + differing(of, b + (i % rows) * no, no);
        compared += 2 * no;
    }
    print_latencies("lgbm_single", "layout", lat_f, "nodewalk", lat_s);
    printf("{\"case\":\"lgbm_check\",\"rows\":%zu,\"outputs_compared\":%zu,\"differing\":%zu}\n", rows,
           compared, diff);
    free(lat_f);
    free(lat_s);
    free(of);
    free(os);
    free(a);
    free(b);
    free(x);
    rd_model_free(fast);
    rd_model_free(slow);
    return diff ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--lightgbm"))
        return lightgbm_case(argc, argv);
    if (argc < 4) {
        fprintf(stderr, "usage: model_bench MODEL.json PIPELINE.json RAW.csv [rows]\n");
        return 2;
    }
    size_t max_rows = argc > 4 ? count_arg(argv[4]) : (size_t)1 << 40;
    rd_err err;
    rd_model *m;
    rd_pipeline *p;
    if (rd_model_load_file(argv[1], &m, &err) != RD_OK || rd_pipeline_load_file(argv[2], &p, &err) != RD_OK) {
        fprintf(stderr, "model_bench: %s\n", err.msg);
        return 1;
    }
    double *x;
    size_t rows = encode(argv[3], p, max_rows, &x), nf = rd_model_num_features(m);
    float *xf = malloc(rows * nf * sizeof(float));
    for (size_t i = 0; i < rows * nf; i++)
        xf[i] = (float)x[i];
    double *out = malloc(rows * sizeof(double));
    BoosterHandle b;
    xgb_check(XGBoosterCreate(NULL, 0, &b), "XGBoosterCreate");
    xgb_check(XGBoosterLoadModel(b, argv[1]), "XGBoosterLoadModel");

    size_t mismatches = 0;
    for (int threads = 1; threads <= 2; threads++) {
        char nt[8];
        snprintf(nt, sizeof(nt), "%d", threads);
        xgb_check(XGBoosterSetParam(b, "nthread", nt), "XGBoosterSetParam");
        double best_r = 1e30, best_x = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now_s();
            rd_model_predict_batch(m, x, rows, RD_OUTPUT_PROBABILITY, out, threads, &err);
            double t1 = now_s();
            const float *res = xgb_predict(b, xf, rows, nf);
            double t2 = now_s();
            best_r = t1 - t0 < best_r ? t1 - t0 : best_r;
            best_x = t2 - t1 < best_x ? t2 - t1 : best_x;
            if (rep == 0 && threads == 1)
                for (size_t r = 0; r < rows; r++)
                    mismatches += (float)out[r] != res[r];
        }
        printf("{\"case\":\"batch\",\"threads\":%d,\"rows\":%zu,\"riskd_rows_per_sec\":%.0f,"
               "\"xgboost_rows_per_sec\":%.0f}\n",
               threads, rows, (double)rows / best_r, (double)rows / best_x);
        fflush(stdout);
    }

    /* Single-row latency: each call timed on its own, one thread. */
    xgb_check(XGBoosterSetParam(b, "nthread", "1"), "XGBoosterSetParam");
    double *lat_r = malloc(LATENCY_CALLS * sizeof(double)), *lat_x = malloc(LATENCY_CALLS * sizeof(double));
    double sink = 0;
    for (size_t i = 0; i < LATENCY_CALLS; i++) {
        size_t r = i % rows;
        double t0 = now_s();
        rd_model_predict(m, x + r * nf, RD_OUTPUT_PROBABILITY, out);
        double t1 = now_s();
        sink += (double)xgb_predict(b, xf + r * nf, 1, nf)[0];
        double t2 = now_s();
        lat_r[i] = (t1 - t0) * 1e6;
        lat_x[i] = (t2 - t1) * 1e6;
    }
    print_latencies("single", "riskd", lat_r, "xgboost", lat_x);

    single_path(argv[3], p, m, nf);

    /* TreeSHAP per row. */
    double *phi = malloc((nf + 1) * sizeof(double));
    /* BENCH_SHAP_ROWS: fewer for a deep model, whose TreeSHAP takes a millisecond a row */
    const char *cap_env = getenv("BENCH_SHAP_ROWS");
    size_t cap = cap_env && atol(cap_env) > 0 ? (size_t)atol(cap_env) : 20000;
    size_t shap_rows = rows < cap ? rows : cap;
    double t0 = now_s();
    for (size_t r = 0; r < shap_rows; r++)
        if (rd_model_contributions(m, x + r * nf, phi, &err) != RD_OK) {
            fprintf(stderr, "model_bench: contributions: %s\n", err.msg);
            return 1;
        }
    printf("{\"case\":\"treeshap\",\"rows\":%zu,\"riskd_us_per_row\":%.2f}\n", shap_rows,
           (now_s() - t0) * 1e6 / (double)shap_rows);
    printf("{\"case\":\"check\",\"rows\":%zu,\"probability_mismatches\":%zu,\"sink\":%g}\n", rows, mismatches,
           sink);
    XGBoosterFree(b);
    free(phi);
    free(lat_r);
    free(lat_x);
    free(out);
    free(xf);
    free(x);
    rd_pipeline_free(p);
    rd_model_free(m);
    return mismatches ? 1 : 0;
}
