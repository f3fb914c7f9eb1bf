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
 * Prints JSON lines; bench/report_model.mjs makes the table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xgboost/c_api.h>

#include "riskd/riskd.h"
#include "riskd/model.h"
#include "riskd/pipeline.h"

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
            rd_value v = !*f[i]                    ? (rd_value){.type = RD_VNULL}
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
    qsort(lat_p, LATENCY_CALLS, sizeof(double), cmp_double);
    qsort(lat_a, LATENCY_CALLS, sizeof(double), cmp_double);
    printf("{\"case\":\"single_path\",\"calls\":%d,\"pipeline_median_us\":%.3f,\"pipeline_p99_us\":%.3f,"
           "\"path_median_us\":%.3f,\"path_p99_us\":%.3f}\n",
           LATENCY_CALLS, lat_p[LATENCY_CALLS / 2], lat_p[LATENCY_CALLS * 99 / 100], lat_a[LATENCY_CALLS / 2],
           lat_a[LATENCY_CALLS * 99 / 100]);
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

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: model_bench MODEL.json PIPELINE.json RAW.csv [rows]\n");
        return 2;
    }
    size_t max_rows = argc > 4 ? (size_t)atol(argv[4]) : (size_t)1 << 40;
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
    qsort(lat_r, LATENCY_CALLS, sizeof(double), cmp_double);
    qsort(lat_x, LATENCY_CALLS, sizeof(double), cmp_double);
    printf("{\"case\":\"single\",\"calls\":%d,\"riskd_median_us\":%.3f,\"riskd_p99_us\":%.3f,"
           "\"xgboost_median_us\":%.3f,\"xgboost_p99_us\":%.3f}\n",
           LATENCY_CALLS, lat_r[LATENCY_CALLS / 2], lat_r[LATENCY_CALLS * 99 / 100], lat_x[LATENCY_CALLS / 2],
           lat_x[LATENCY_CALLS * 99 / 100]);

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
