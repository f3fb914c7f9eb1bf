/* The shared WOE scorecard (credit_scorecard.json) on the raw test applications: the
 * pipeline spec riskd derives from the scorecard bins each attribute, the scorecard model
 * turns the WOE values into p(bad) and points, and the reason codes follow the scorecard's
 * rule. All must equal the reference (credit_test_predictions.csv: scorecard_prob,
 * scorecard_points within 1e-12, scorecard_reasons exactly). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/model.h"
#include "riskd/pipeline.h"
#include "riskd/riskd.h"

#define MAX_COLS 64

#include "refdata.h"

static int fail(const char *msg)
{
    printf("FAIL: %s\n0 passed, 1 failed\n", msg);
    return 1;
}

/* "Time|Assets|Job|Home" from the reason codes. */
static void reasons_text(const rd_model *m, const rd_reason_code *r, size_t n, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? "|" : "", rd_model_feature_name(m, r[i].index));
}

int main(void)
{
    char path[4096], line[8192], hdr[8192], *names[MAX_COLS], *f[MAX_COLS];
    rd_err err;
    snprintf(path, sizeof(path), "%s/data/models/credit_scorecard.json", shared_dir());
    char *text;
    size_t len;
    if (rd_file_read(path, 1u << 24, &text, &len, &err) != RD_OK) {
        printf("skipped: shared data not present\n0 passed, 0 failed, 1 skipped\n");
        return 0;
    }
    rd_buf spec;
    rd_buf_init(&spec);
    rd_pipeline *p;
    rd_model *m;
    if (rd_pipeline_spec_from_scorecard(text, len, &spec, &err) != RD_OK ||
        rd_pipeline_parse(rd_buf_cstr(&spec), spec.len, &p, &err) != RD_OK ||
        rd_model_load_json(text, len, &m, &err) != RD_OK)
        return fail(err.msg);
    rd_free(text);
    rd_buf_deinit(&spec);
    size_t nf = rd_pipeline_num_features(p);
    if (nf != rd_model_num_features(m) || rd_model_get_kind(m) != RD_MODEL_SCORECARD)
        return fail("the derived pipeline and the scorecard disagree on the features");
    snprintf(path, sizeof(path), "%s/data/reference/credit_test_predictions.csv", shared_dir());
    FILE *in = fopen(path, "r");
    if (!in || !fgets(hdr, sizeof(hdr), in))
        return fail("reference predictions unreadable");
    int nh = split(hdr, names), c_prob = col(names, nh, "scorecard_prob"),
        c_pts = col(names, nh, "scorecard_points"), c_rsn = col(names, nh, "scorecard_reasons");
    if (c_prob < 0 || c_pts < 0 || c_rsn < 0)
        return fail("reference predictions lack the scorecard columns");
    int passed = 0, failed = 0;
    double x[MAX_COLS], impact[MAX_COLS], prob, pts, worst_p = 0, worst_s = 0;
    while (fgets(line, sizeof(line), in)) {
        if (split(line, f) != nh) {
            failed++;
            continue;
        }
        rd_member members[MAX_COLS];
        for (int i = 0; i < nh; i++)
            members[i] = (rd_member){names[i], (uint32_t)strlen(names[i]),
                                     rd_value_string(f[i], (uint32_t)strlen(f[i]))};
        rd_value rec = {.type = RD_VOBJECT, .len = (uint32_t)nh, .u.members = members};
        if (rd_pipeline_apply(p, &rec, x, NULL, &err) != RD_OK || rd_model_impacts(m, x, impact, &err) != RD_OK) {
            printf("FAIL: row %s: %s\n", f[0], err.msg);
            failed++;
            continue;
        }
        rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, &prob);
        rd_model_predict(m, x, RD_OUTPUT_SCORE, &pts);
        rd_reason_code r[4];
        char got[256];
        reasons_text(m, r, rd_reasons_top(impact, nf, 4, r), got, sizeof(got));
        double dp = fabs(prob - strtod(f[c_prob], NULL)), ds = fabs(pts - strtod(f[c_pts], NULL));
        worst_p = fmax(worst_p, dp);
        worst_s = fmax(worst_s, ds);
        if (dp <= 1e-12 && ds <= 1e-12 && strcmp(got, f[c_rsn]) == 0) {
            passed++;
        } else {
            printf("FAIL: row %s: p %.17g points %.17g reasons %s; reference %s %s %s\n", f[0], prob, pts, got,
                   f[c_prob], f[c_pts], f[c_rsn]);
            failed++;
        }
    }
    fclose(in);
    printf("scorecard on raw applications: max |dp| %.3g, max |dpoints| %.3g\n%d passed, %d failed\n", worst_p,
           worst_s, passed, failed);
    rd_model_free(m);
    rd_pipeline_free(p);
    return failed || passed == 0 ? 1 : 0; /* the data was there: nothing checked is a failure */
}
