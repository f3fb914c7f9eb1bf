/* The shared credit XGBoost model (300 trees, XGBoost 1.7.4) against XGBoost's own outputs:
 * margins and probabilities for the 1,114 test rows must be bit-identical
 * (shared/data/README.md). Inputs are the exact float32 matrix XGBoost was fed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/riskd.h"
#include "riskd/model.h"

#define MAX_COLS 128

#include "refdata.h"

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
    /* Expected outputs by row_id. */
    static float want_margin[5000], want_prob[5000];
    static char have[5000];
    snprintf(path, sizeof(path), "%s/data/reference/credit_test_predictions.csv", shared_dir());
    FILE *in = fopen(path, "r");
    if (!in || !fgets(hdr, sizeof(hdr), in)) {
        printf("FAIL: %s unreadable\n0 passed, 1 failed\n", path);
        return 1;
    }
    int nh = split(hdr, names), c_id = col(names, nh, "row_id"), c_m = col(names, nh, "xgb_margin"),
        c_p = col(names, nh, "xgb_prob");
    while (fgets(line, sizeof(line), in)) {
        int n = split(line, f);
        if (n != nh)
            continue;
        int id = atoi(f[c_id]);
        if (id < 0 || id >= 5000)
            continue;
        want_margin[id] = strtof(f[c_m], NULL);
        want_prob[id] = strtof(f[c_p], NULL);
        have[id] = 1;
    }
    fclose(in);
    /* The matrix: row_id then the model's features, by name. */
    snprintf(path, sizeof(path), "%s/data/reference/credit_xgb_test_matrix.csv", shared_dir());
    in = fopen(path, "r");
    if (!in || !fgets(hdr, sizeof(hdr), in)) {
        printf("FAIL: %s unreadable\n0 passed, 1 failed\n", path);
        return 1;
    }
    nh = split(hdr, names);
    int map[MAX_COLS];
    for (size_t j = 0; j < nf; j++) {
        map[j] = col(names, nh, rd_model_feature_name(m, j));
        if (map[j] < 0) {
            printf("FAIL: feature %s not in the matrix\n0 passed, 1 failed\n", rd_model_feature_name(m, j));
            return 1;
        }
    }
    int passed = 0, failed = 0;
    double x[MAX_COLS], out;
    while (fgets(line, sizeof(line), in)) {
        int n = split(line, f), id = atoi(f[0]);
        if (n != nh || id < 0 || id >= 5000 || !have[id]) {
            printf("FAIL: row %d has no reference\n", id);
            failed++;
            continue;
        }
        for (size_t j = 0; j < nf; j++)
            x[j] = *f[map[j]] ? strtod(f[map[j]], NULL) : (double)NAN;
        rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
        float got_m = (float)out;
        rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, &out);
        float got_p = (float)out;
        if (got_m == want_margin[id] && got_p == want_prob[id]) {
            passed++;
        } else {
            if (failed < 10)
                printf("FAIL: row %d margin %.9g (want %.9g) prob %.9g (want %.9g)\n", id, (double)got_m,
                       (double)want_margin[id], (double)got_p, (double)want_prob[id]);
            failed++;
        }
    }
    fclose(in);
    rd_model_free(m);
    printf(
        "xgboost reference (credit_xgb.json, bit-identical margin and probability)\n%d passed, %d failed\n",
        passed, failed);
    return failed || passed == 0 ? 1 : 0; /* the data was there: nothing checked is a failure */
}
