/* Raw credit applications through the pipeline spec of the shared XGBoost model
 * (credit_xgb.features.json) and the model: the feature vectors must equal the float32
 * matrix XGBoost was fed, and the probabilities XGBoost's, bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/riskd.h"
#include "riskd/model.h"
#include "riskd/pipeline.h"

#define MAX_COLS 64

#include "refdata.h"

int main(void)
{
    char path[4096], line[8192], hdr[8192], mhdr[8192], *names[MAX_COLS], *mnames[MAX_COLS], *f[MAX_COLS],
        *mf[MAX_COLS];
    rd_err err;
    rd_pipeline *p;
    rd_model *m;
    snprintf(path, sizeof(path), "%s/data/models/credit_xgb.features.json", shared_dir());
    if (rd_pipeline_load_file(path, &p, &err) != RD_OK) {
        if (err.code == RD_EIO) {
            printf("skipped: shared data not present\n0 passed, 0 failed, 1 skipped\n");
            return 0;
        }
        printf("FAIL: %s\n0 passed, 1 failed\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/data/models/credit_xgb.json", shared_dir());
    if (rd_model_load_file(path, &m, &err) != RD_OK) {
        printf("FAIL: %s\n0 passed, 1 failed\n", err.msg);
        return 1;
    }
    size_t nf = rd_pipeline_num_features(p);
    if (nf != rd_model_num_features(m)) {
        printf("FAIL: pipeline has %zu features, model %zu\n0 passed, 1 failed\n", nf,
               rd_model_num_features(m));
        return 1;
    }
    for (size_t j = 0; j < nf; j++)
        if (strcmp(rd_pipeline_feature_name(p, j), rd_model_feature_name(m, j)) != 0) {
            printf("FAIL: feature %zu is %s in the pipeline, %s in the model\n0 passed, 1 failed\n", j,
                   rd_pipeline_feature_name(p, j), rd_model_feature_name(m, j));
            return 1;
        }
    snprintf(path, sizeof(path), "%s/data/reference/credit_test_predictions.csv", shared_dir());
    FILE *in = fopen(path, "r");
    snprintf(path, sizeof(path), "%s/data/reference/credit_xgb_test_matrix.csv", shared_dir());
    FILE *min = fopen(path, "r");
    if (!in || !min || !fgets(hdr, sizeof(hdr), in) || !fgets(mhdr, sizeof(mhdr), min)) {
        printf("FAIL: reference files unreadable\n0 passed, 1 failed\n");
        return 1;
    }
    int nh = split(hdr, names), nm = split(mhdr, mnames), c_prob = -1;
    for (int i = 0; i < nh; i++)
        if (!strcmp(names[i], "xgb_prob"))
            c_prob = i;
    rd_arena a;
    rd_arena_init(&a, 0);
    int passed = 0, failed = 0;
    unsigned missing = 0, unknown = 0;
    double x[MAX_COLS], prob;
    while (fgets(line, sizeof(line), in)) {
        char mline[8192];
        if (!fgets(mline, sizeof(mline), min) || split(line, f) != nh || split(mline, mf) != nm ||
            strcmp(f[0], mf[0]) != 0) {
            printf("FAIL: the two reference files are not row-aligned\n");
            failed++;
            break;
        }
        /* The raw record: every column as the string a CSV gives (empty = missing). */
        rd_member members[MAX_COLS];
        for (int i = 0; i < nh; i++)
            members[i] = (rd_member){names[i], (uint32_t)strlen(names[i]),
                                     rd_value_string(f[i], (uint32_t)strlen(f[i]))};
        rd_value rec = {.type = RD_VOBJECT, .len = (uint32_t)nh, .u.members = members};
        rd_pipeline_report rep;
        if (rd_pipeline_apply(p, &rec, x, &rep, &err) != RD_OK) {
            printf("FAIL: row %s: %s\n", f[0], err.msg);
            failed++;
            continue;
        }
        missing += rep.missing;
        unknown += rep.unknown;
        bool same = true;
        for (size_t j = 0; j < nf; j++) { /* matrix columns: row_id then the features in order */
            float want = *mf[j + 1] ? strtof(mf[j + 1], NULL) : (float)NAN;
            if (!((isnan(want) && isnan(x[j])) || (float)x[j] == want)) {
                printf("FAIL: row %s feature %s: %g, XGBoost was fed %g\n", f[0],
                       rd_pipeline_feature_name(p, j), x[j], (double)want);
                same = false;
            }
        }
        rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, &prob);
        if (same && (float)prob == strtof(f[c_prob], NULL)) {
            passed++;
        } else {
            if (same)
                printf("FAIL: row %s prob %.9g, XGBoost %s\n", f[0], (double)(float)prob, f[c_prob]);
            failed++;
        }
    }
    fclose(in);
    fclose(min);
    rd_arena_deinit(&a);
    printf("pipeline + model on raw applications: %u missing inputs, %u unknown levels seen\n%d passed, %d "
           "failed\n",
           missing, unknown, passed, failed);
    rd_model_free(m);
    rd_pipeline_free(p);
    return failed || passed == 0 ? 1 : 0; /* the data was there: nothing checked is a failure */
}
