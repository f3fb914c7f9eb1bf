/* Fair-lending figures (rd_segment_figures_compute): rates, adverse impact ratios, their change
 * against the control and the difference in approval rate with Newcombe's interval, against a
 * direct computation in Python (x / n, then the ratios, as below) and Debian's statsmodels 0.13.5:
 *
 *   from statsmodels.stats.proportion import confint_proportions_2indep
 *   cr = cx / cn; rr = crx / crn; kr = kx / kn; krr = krx / krn; ca = cr / rr; ka = kr / krr
 *   lo, hi = confint_proportions_2indep(cx, cn, kx, kn, method="newcomb", compare="diff", alpha=a)
 *
 * Rates and ratios must be the same doubles; the interval within 1e-12. Then the sizes: a group
 * under the minimum makes the figures unsized (a gate on them inconclusive), with the group named. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <stdlib.h>

#include "riskd/pipeline.h"
#include "riskd/rollout.h"

typedef struct golden {
    uint64_t cx, cn, crx, crn, kx, kn, krx, krn;
    double alpha;
    double cand_rate, cand_ref_rate, ctrl_rate, ctrl_ref_rate, cand_air, ctrl_air, air_diff, air_ratio, diff,
        lo, hi;
} golden;

static const golden G[] = {
    /* the case: the candidate approves the segment at 0.7x its reference, the control at 0.95x */
    {700,
     1000,
     950,
     1000,
     950,
     1000,
     1000,
     1000,
     0.05,
     0.7,
     0.95,
     0.95,
     1.0,
     0.7368421052631579,
     0.95,
     -0.2131578947368421,
     0.775623268698061,
     -0.25,
     -0.28144980040620937,
     -0.21844218904039683},
    {133,
     190,
     780,
     1000,
     171,
     180,
     900,
     1000,
     0.05,
     0.7,
     0.78,
     0.95,
     0.9,
     0.8974358974358974,
     1.0555555555555556,
     -0.15811965811965822,
     0.8502024291497975,
     -0.25,
     -0.32250181741000383,
     -0.17605121807121182},
    {12,
     20,
     500,
     800,
     15,
     21,
     480,
     790,
     0.1,
     0.6,
     0.625,
     0.7142857142857143,
     0.6075949367088608,
     0.96,
     1.1755952380952381,
     -0.21559523809523817,
     0.8166075949367088,
     -0.11428571428571432,
     -0.337556966544899,
     0.12423128706976341},
    {0,
     150,
     300,
     400,
     5,
     160,
     310,
     410,
     0.05,
     0.0,
     0.75,
     0.03125,
     0.7560975609756098,
     0.0,
     0.04133064516129032,
     -0.04133064516129032,
     0.0,
     -0.03125,
     -0.07106029128564173,
     -0.000567699255319392},
    {150,
     150,
     400,
     400,
     140,
     150,
     395,
     400,
     0.01,
     1.0,
     1.0,
     0.9333333333333333,
     0.9875,
     1.0,
     0.9451476793248945,
     0.05485232067510548,
     1.0580357142857142,
     0.06666666666666665,
     0.010968717048432046,
     0.13954376257652878},
};

static void close_to(double got, double want)
{
    if (fabs(got - want) > 1e-12 * fabs(want) + 1e-15)
        fail_msg("%.17g, want %.17g", got, want);
}

static void test_golden(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof G / sizeof *G; i++) {
        const golden *g = &G[i];
        rd_segment_figures f;
        rd_segment_figures_compute((rd_segment_counts){g->cn, g->cx}, (rd_segment_counts){g->crn, g->crx},
                                   (rd_segment_counts){g->kn, g->kx}, (rd_segment_counts){g->krn, g->krx}, 10,
                                   g->alpha, "young", "reference", &f);
        assert_true(f.cand_rate == g->cand_rate && f.cand_ref_rate == g->cand_ref_rate);
        assert_true(f.ctrl_rate == g->ctrl_rate && f.ctrl_ref_rate == g->ctrl_ref_rate);
        assert_true(f.cand_air == g->cand_air && f.ctrl_air == g->ctrl_air);
        assert_true(f.air_diff == g->air_diff && f.diff == g->diff);
        if (isnan(g->air_ratio) || g->ctrl_air == 0)
            assert_true(isnan(f.air_ratio));
        else
            assert_true(f.air_ratio == g->air_ratio);
        close_to(f.lo, g->lo);
        close_to(f.hi, g->hi);
        assert_true(f.sized);
        assert_string_equal(f.note, "");
    }
}

static void test_sizes_and_undefined(void **state)
{
    (void)state;
    rd_segment_figures f;
    /* the default minimum (100): the control's segment has 99 */
    rd_segment_figures_compute((rd_segment_counts){500, 400}, (rd_segment_counts){500, 450},
                               (rd_segment_counts){99, 90}, (rd_segment_counts){500, 460}, 0, 0.05,
                               "age_18_24", "age_35_plus", &f);
    assert_false(f.sized);
    assert_string_equal(f.note, "inconclusive: age_18_24 (control) has 99 applicants, 100 needed");
    assert_true(isfinite(f.cand_air)); /* computed all the same, for the record */
    /* a reference nobody approved: the ratio is undefined, not infinite */
    rd_segment_figures_compute((rd_segment_counts){200, 50}, (rd_segment_counts){200, 0},
                               (rd_segment_counts){200, 60}, (rd_segment_counts){200, 0}, 0, 0.05, NULL, NULL,
                               &f);
    assert_true(isnan(f.cand_air) && isnan(f.ctrl_air) && isnan(f.air_ratio) && isnan(f.air_diff));
    /* nobody at all: NaN rates and interval, unsized */
    rd_segment_figures_compute((rd_segment_counts){0, 0}, (rd_segment_counts){0, 0},
                               (rd_segment_counts){0, 0}, (rd_segment_counts){0, 0}, 0, 0.05, NULL, NULL, &f);
    assert_true(isnan(f.cand_rate) && isnan(f.lo) && isnan(f.hi));
    assert_false(f.sized);
    assert_non_null(strstr(f.note, "the segment (candidate) has 0 applicants"));
    rd_buf b;
    rd_buf_init(&b);
    rd_segment_figures_json(&b, &f);
    assert_non_null(strstr(rd_buf_cstr(&b), "\"air\":null"));
    assert_non_null(strstr(rd_buf_cstr(&b), "\"sized\":false"));
    rd_buf_deinit(&b);
}

/* What a plan reads of a request must exist in the candidate's pipeline: a misspelt amount field
 * or segment feature is refused with a did-you-mean; context paths are not checked. */
static void test_check_inputs(void **state)
{
    (void)state;
    static const char pipe[] =
        "{\"inputs\":[{\"name\":\"Age\",\"type\":\"number\"},{\"name\":\"Amount\",\"type\":\"number\"},"
        "{\"name\":\"Home\",\"type\":\"category\",\"levels\":[\"own\",\"rent\"]}],"
        "\"features\":[{\"name\":\"Age\",\"source\":\"Age\",\"kind\":\"numeric\"}]}";
    rd_pipeline *pl;
    rd_err err;
    assert_int_equal(rd_pipeline_parse(pipe, strlen(pipe), &pl, &err), RD_OK);
    rd_plan *p = calloc(1, sizeof *p);
    assert_non_null(p);
    char r1[] = "{\"<\":[{\"var\":\"features.Age\"},25]}",
         r2[] = "{\"==\":[{\"var\":\"context.region\"},\"n\"]}",
         r3[] = "{\"and\":[{\">\":[{\"var\":[\"features.Agee\",0]},1]}]}";
    strcpy(p->exposure.amount_field, "features.Amount");
    p->nsegments = 2;
    strcpy(p->segments[0].name, "young");
    p->segments[0].rule = r1;
    strcpy(p->segments[1].name, "north");
    p->segments[1].rule = r2;
    assert_int_equal(rd_plan_check_inputs(p, pl, &err), RD_OK);
    strcpy(p->exposure.amount_field, "features.Amunt");
    assert_int_equal(rd_plan_check_inputs(p, pl, &err), RD_EINVAL);
    assert_string_equal(err.msg,
                        "exposure.amount_field reads features.Amunt, which is no input of the candidate's "
                        "pipeline (did you mean features.Amount?)");
    strcpy(p->exposure.amount_field, "features.Home");
    assert_int_equal(rd_plan_check_inputs(p, pl, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not a numeric input"));
    strcpy(p->exposure.amount_field, "context.amount"); /* the caller's to send */
    p->segments[1].rule = r3;
    assert_int_equal(rd_plan_check_inputs(p, pl, &err), RD_EINVAL);
    assert_string_equal(err.msg,
                        "segment north reads features.Agee, which is no input of the candidate's pipeline "
                        "(did you mean features.Age?)");
    free(p);
    rd_pipeline_free(pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden),
                                       cmocka_unit_test(test_sizes_and_undefined),
                                       cmocka_unit_test(test_check_inputs)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
