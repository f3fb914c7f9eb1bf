/* Scorecards and logistic regression: the margin, probability and points formulas, the
 * reason-code rule (points lost, ties by feature order), and every refusal of a bad file.
 * tests/conformance/scorecard_reference.c proves the shared scorecard against its reference. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "riskd/model.h"
#include "riskd/riskd.h"

/* Two characteristics; offset 500, factor 20 (so points_j = 250 - 20*(coef_j*woe_j - 0.5)). */
static const char *card =
    "{\"type\":\"woe_logistic_scorecard\",\"intercept\":-1,\"scaling\":{\"offset\":500,\"factor\":20},"
    "\"features\":["
    "{\"name\":\"age\",\"kind\":\"numeric\",\"cuts\":[30],\"coef\":-1,"
    "\"bins\":[{\"woe\":-0.5},{\"woe\":0.5}],\"missing\":{\"woe\":0}},"
    "{\"name\":\"home\",\"kind\":\"categorical\",\"coef\":-2,"
    "\"levels\":[{\"level\":\"own\",\"woe\":0.25},{\"level\":\"rent\",\"woe\":-0.25}],"
    "\"missing\":{\"woe\":-1},\"unknown\":{\"woe\":0}}]}";

static rd_model *load(const char *json)
{
    rd_model *m = NULL;
    rd_err err;
    if (rd_model_load_json(json, strlen(json), &m, &err) != RD_OK)
        fail_msg("model refused: %s", err.msg);
    return m;
}

static void test_scorecard_outputs(void **state)
{
    (void)state;
    rd_model *m = load(card);
    assert_int_equal(rd_model_get_kind(m), RD_MODEL_SCORECARD);
    assert_int_equal(rd_model_num_features(m), 2);
    assert_string_equal(rd_model_feature_name(m, 1), "home");
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_SCORE), 1);
    double x[2] = {-0.5, -0.25}, raw, p, pts;
    rd_model_predict(m, x, RD_OUTPUT_RAW, &raw);
    rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, &p);
    rd_model_predict(m, x, RD_OUTPUT_SCORE, &pts);
    assert_true(raw == -1 + 0.5 + 0.5);
    assert_true(p == 0.5);
    assert_true(pts == 500);
    rd_model_free(m);
}

/* points_j = 250 - 20*(coef_j*woe_j - 0.5). Age's best attribute is woe 0.5 (270 points;
 * woe -0.5 gives 250), home's is own (270; missing, woe -1, gives 220). */
static void test_scorecard_reasons(void **state)
{
    (void)state;
    rd_model *m = load(card);
    double x[2] = {-0.5, -1}, impact[2];
    rd_err err;
    assert_int_equal(rd_model_impacts(m, x, impact, &err), RD_OK);
    assert_true(fabs(impact[0] - 20) < 1e-12);
    assert_true(fabs(impact[1] - 50) < 1e-12);
    rd_reason_code r[4];
    assert_int_equal(rd_reasons_top(impact, 2, 4, r), 2);
    assert_int_equal(r[0].index, 1);
    assert_int_equal(r[1].index, 0);
    x[0] = 0.5, x[1] = 0.25; /* the best attributes: no reason */
    assert_int_equal(rd_model_impacts(m, x, impact, &err), RD_OK);
    assert_int_equal(rd_reasons_top(impact, 2, 4, r), 0);
    rd_model_free(m);
}

static void test_reasons_top(void **state)
{
    (void)state;
    const double impact[] = {1, 3, 0, 3, -2, 2, 1, NAN};
    rd_reason_code r[8];
    assert_int_equal(rd_reasons_top(impact, 8, 3, r), 3);
    assert_int_equal(r[0].index, 1); /* tie 3 = 3: lower index first */
    assert_int_equal(r[1].index, 3);
    assert_int_equal(r[2].index, 5);
    assert_int_equal(rd_reasons_top(impact, 8, 8, r), 5); /* only positive impacts */
    assert_int_equal(r[3].index, 0);
    assert_int_equal(r[4].index, 6);
    assert_int_equal(rd_reasons_top(impact, 8, 0, r), 0);
}

static void test_logistic(void **state)
{
    (void)state;
    rd_model *m = load("{\"type\":\"logistic_regression\",\"features\":[\"a\",\"b\"],\"coef\":[2,-1],"
                       "\"intercept\":0.5,\"means\":[1,1]}");
    assert_int_equal(rd_model_get_kind(m), RD_MODEL_LOGISTIC);
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_SCORE), 0);
    double x[2] = {2, NAN}, raw, p, impact[2];
    rd_err err;
    rd_model_predict(m, x, RD_OUTPUT_RAW, &raw);
    assert_true(raw == 0.5 + 4 - 1); /* missing b takes its mean */
    rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, &p);
    assert_true(p == 1 / (1 + exp(-3.5)));
    assert_int_equal(rd_model_impacts(m, x, impact, &err), RD_OK);
    assert_true(impact[0] == 2 && impact[1] == 0);
    rd_model_free(m);
}

static void expect_refusal(const char *json, const char *msg)
{
    rd_model *m = (rd_model *)(uintptr_t)1;
    rd_err err;
    assert_int_not_equal(rd_model_load_json(json, strlen(json), &m, &err), RD_OK);
    assert_string_equal(err.msg, msg);
    assert_ptr_equal(m, (rd_model *)(uintptr_t)1);
}

static void test_refusals(void **state)
{
    (void)state;
    const char *sc =
        "{\"type\":\"woe_logistic_scorecard\",\"intercept\":0,\"scaling\":{\"offset\":1,\"factor\":1},";
    char buf[512];
#define CARD(rest) (snprintf(buf, sizeof(buf), "%s%s", sc, rest), buf)
    expect_refusal(CARD("\"features\":[]}"), "features: missing or not a non-empty array");
    expect_refusal(CARD("\"features\":[{\"kind\":\"numeric\"}]}"),
                   "features[0]: the feature name is missing or not a non-empty string");
    expect_refusal(CARD("\"features\":[{\"name\":\"a\",\"kind\":\"date\"}]}"),
                   "features[0].kind: must be \"numeric\" or \"categorical\"");
    expect_refusal(CARD("\"features\":[{\"name\":\"a\",\"kind\":\"numeric\",\"coef\":1,\"cuts\":[1],"
                        "\"bins\":[{\"woe\":0}]}]}"),
                   "features[0].cuts: must be an array of 0 numbers (one fewer than bins)");
    expect_refusal(CARD("\"features\":[{\"name\":\"a\",\"kind\":\"numeric\",\"coef\":1,\"cuts\":[],"
                        "\"bins\":[{\"woe\":\"x\"}]}]}"),
                   "features[0].bins[0].woe: missing or not a finite number");
    expect_refusal(
        CARD("\"features\":[{\"name\":\"a\",\"kind\":\"numeric\",\"cuts\":[],\"bins\":[{\"woe\":0}]}]}"),
        "features[0].coef: missing or not a finite number");
    expect_refusal(CARD("\"features\":[{\"name\":\"a\",\"kind\":\"numeric\",\"coef\":1,\"cuts\":[],"
                        "\"bins\":[{\"woe\":0}]},{\"name\":\"a\",\"kind\":\"numeric\",\"coef\":1,\"cuts\":[],"
                        "\"bins\":[{\"woe\":0}]}]}"),
                   "features[1]: feature \"a\" appears twice");
    expect_refusal("{\"type\":\"woe_logistic_scorecard\",\"intercept\":0,\"features\":[{\"name\":\"a\"}]}",
                   "scaling: needs finite numbers offset and factor");
    expect_refusal("{\"type\":\"logistic_regression\",\"features\":[\"a\"],\"coef\":[1,2],\"intercept\":0}",
                   "coef: must be an array of 1 numbers (one per feature)");
    expect_refusal("{\"type\":\"logistic_regression\",\"features\":[\"a\"],\"coef\":[1]}",
                   "intercept: missing or not a finite number");
    expect_refusal("{\"type\":\"logistic_regression\",\"features\":[\"a\"],\"coef\":[1],\"intercept\":0,"
                   "\"means\":[null]}",
                   "means[0]: not a finite number");
#undef CARD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scorecard_outputs), cmocka_unit_test(test_scorecard_reasons),
        cmocka_unit_test(test_reasons_top),       cmocka_unit_test(test_logistic),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
