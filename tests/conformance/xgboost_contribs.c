/* TreeSHAP on the shared credit XGBoost model (300 trees, depth 4, XGBoost 1.7.4) against
 * XGBoost's own pred_contribs for the 1,114 test rows: every contribution and the bias within
 * 1e-5 (XGBoost computes them in float32, shared/data/README.md), and each row's sum equal to
 * riskd's own margin within 1e-5. A row is one test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/riskd.h"
#include "riskd/model.h"

#define MAX_COLS 128
#define MAX_ROWS 5000
#define TOL      1e-5

#include "refdata.h"

/* XGBoost's contributions by row_id: want[id * (nf + 1) + j], the bias last. */
static double *read_contribs(const rd_model *m, char *have)
{
    char path[4096], line[8192], hdr[8192], *names[MAX_COLS], *f[MAX_COLS], want_name[300];
    size_t nf = rd_model_num_features(m);
    int map[MAX_COLS + 1];
    snprintf(path, sizeof(path), "%s/data/reference/credit_xgb_test_contribs.csv", shared_dir());
    FILE *in = fopen(path, "r");
    if (!in || !fgets(hdr, sizeof(hdr), in)) {
        printf("FAIL: %s unreadable\n", path);
        if (in)
            fclose(in);
        return NULL;
    }
    int nh = split(hdr, names);
    for (size_t j = 0; j <= nf; j++) {
        if (j < nf)
            snprintf(want_name, sizeof(want_name), "phi_%s", rd_model_feature_name(m, j));
        else
            snprintf(want_name, sizeof(want_name), "phi_bias");
        if ((map[j] = col(names, nh, want_name)) < 0) {
            printf("FAIL: column %s not in %s\n", want_name, path);
            fclose(in);
            return NULL;
        }
    }
    double *want = calloc((size_t)MAX_ROWS * (nf + 1), sizeof(double));
    int c_id = col(names, nh, "row_id");
    while (want && c_id >= 0 && fgets(line, sizeof(line), in)) {
        int n = split(line, f), id = atoi(f[c_id]);
        if (n != nh || id < 0 || id >= MAX_ROWS)
            continue;
        for (size_t j = 0; j <= nf; j++)
            want[(size_t)id * (nf + 1) + j] = strtod(f[map[j]], NULL);
        have[id] = 1;
    }
    fclose(in);
    if (c_id < 0) {
        printf("FAIL: no row_id column in %s\n", path);
        free(want);
        return NULL;
    }
    return want;
}

/* Compare one row; returns 1 when it passes. Updates the worst errors seen. */
static int check_row(const rd_model *m, int id, const double *x, const double *want, double *max_err,
                     double *max_sum_err)
{
    size_t nf = rd_model_num_features(m);
    double got[MAX_COLS + 1], margin, sum = 0;
    rd_err err;
    if (rd_model_contributions(m, x, got, &err) != RD_OK) {
        printf("FAIL: row %d: %s\n", id, err.msg);
        return 0;
    }
    rd_model_predict(m, x, RD_OUTPUT_RAW, &margin);
    int ok = 1;
    for (size_t j = 0; j <= nf; j++) {
        double e = fabs(got[j] - want[j]);
        sum += got[j];
        if (e > *max_err)
            *max_err = e;
        if (!(e <= TOL)) {
            printf("FAIL: row %d %s: %.9g, XGBoost %.9g (error %.3g)\n", id,
                   j < nf ? rd_model_feature_name(m, j) : "bias", got[j], want[j], e);
            ok = 0;
        }
    }
    double se = fabs(sum - margin);
    if (se > *max_sum_err)
        *max_sum_err = se;
    if (!(se <= TOL)) {
        printf("FAIL: row %d: contributions sum to %.9g, the margin is %.9g\n", id, sum, margin);
        ok = 0;
    }
    return ok;
}

int main(void)
{
    char path[4096], line[8192], hdr[8192], *names[MAX_COLS], *f[MAX_COLS];
    snprintf(path, sizeof(path), "%s/data/models/credit_xgb.json", shared_dir());
    rd_model *m;
    rd_err err;
    if (rd_model_load_file(path, &m, &err) != RD_OK) {
        if (err.code == RD_EIO) {
            printf("skipped: shared data not present (%s)\n0 passed, 0 failed, 1 skipped\n", err.msg);
            return 0;
        }
        printf("FAIL: %s\n0 passed, 1 failed\n", err.msg);
        return 1;
    }
    size_t nf = rd_model_num_features(m);
    static char have[MAX_ROWS];
    double *want = nf < MAX_COLS ? read_contribs(m, have) : NULL;
    snprintf(path, sizeof(path), "%s/data/reference/credit_xgb_test_matrix.csv", shared_dir());
    FILE *in = want ? fopen(path, "r") : NULL;
    if (!in || !fgets(hdr, sizeof(hdr), in)) {
        printf("FAIL: reference files unreadable\n0 passed, 1 failed\n");
        return 1;
    }
    int nh = split(hdr, names), map[MAX_COLS];
    for (size_t j = 0; j < nf; j++) {
        if ((map[j] = col(names, nh, rd_model_feature_name(m, j))) < 0) {
            printf("FAIL: feature %s not in the matrix\n0 passed, 1 failed\n", rd_model_feature_name(m, j));
            return 1;
        }
    }
    int passed = 0, failed = 0;
    double x[MAX_COLS], max_err = 0, max_sum_err = 0;
    while (fgets(line, sizeof(line), in)) {
        int n = split(line, f), id = atoi(f[0]);
        if (n != nh || id < 0 || id >= MAX_ROWS || !have[id]) {
            printf("FAIL: row %d has no reference\n", id);
            failed++;
            continue;
        }
        for (size_t j = 0; j < nf; j++)
            x[j] = *f[map[j]] ? strtod(f[map[j]], NULL) : (double)NAN;
        if (check_row(m, id, x, want + (size_t)id * (nf + 1), &max_err, &max_sum_err))
            passed++;
        else
            failed++;
    }
    fclose(in);
    free(want);
    rd_model_free(m);
    printf("xgboost TreeSHAP (credit_xgb.json vs pred_contribs, tolerance %g)\n"
           "max abs error vs XGBoost %.3g, max |sum - margin| %.3g\n%d passed, %d failed\n",
           TOL, max_err, max_sum_err, passed, failed);
    return failed || passed == 0 ? 1 : 0;
}
