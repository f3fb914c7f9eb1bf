/* The XGBoost JSON loader: hand-made models with known outputs (missing values, categorical
 * splits, the 3.1 bracketed base_score, multi-class), and one test per refusal. The shared
 * credit model proves bit-exactness (tests/conformance/xgboost_reference.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "riskd/riskd.h"
#include "riskd/model.h"

/* A model with one feature-0 split per tree. TREE(left_leaf, right_leaf, split, default_left) */
#define TREE(l, r, s, dl)                                                                                    \
    "{\"id\":0,\"tree_param\":{\"num_nodes\":\"3\",\"num_feature\":\"2\",\"num_deleted\":\"0\","             \
    "\"size_leaf_vector\":\"0\"},\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"                  \
    "\"parents\":[2147483647,0,0],\"split_indices\":[0,0,0],\"split_conditions\":[" s "," l "," r "],"       \
    "\"default_left\":[" dl                                                                                  \
    ",0,0],\"split_type\":[0,0,0],\"base_weights\":[0,0,0],\"loss_changes\":[0,0,0],"                        \
    "\"sum_hessian\":[10,4,6],\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],"         \
    "\"categories_sizes\":[]}"

static char buf[1 << 16];

static const char *model_json(const char *objective, const char *base_score, const char *num_class,
                              const char *trees, const char *tree_info)
{
    snprintf(
        buf, sizeof(buf),
        "{\"learner\":{\"attributes\":{},\"feature_names\":[\"a\",\"b\"],\"feature_types\":[],"
        "\"learner_model_param\":{\"base_score\":\"%s\",\"boost_from_average\":\"1\",\"num_class\":\"%s\","
        "\"num_feature\":\"2\",\"num_target\":\"1\"},\"objective\":{\"name\":\"%s\"},"
        "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":"
        "\"1\",\"num_trees\":\"1\",\"size_leaf_vector\":\"0\"},\"tree_info\":[%s],\"trees\":[%s]}}},"
        "\"version\":[1,7,4]}",
        base_score, num_class, objective, tree_info, trees);
    return buf;
}

static rd_model *load(const char *json)
{
    rd_model *m = NULL;
    rd_err err;
    if (rd_model_load_xgboost(json, strlen(json), &m, &err) != RD_OK)
        fail_msg("model refused: %s", err.msg);
    return m;
}

static void test_split_missing_and_base_score(void **state)
{
    (void)state;
    rd_model *m = load(model_json("reg:squarederror", "5E-1", "0", TREE("1.5", "-2.5", "0.5", "1"), "0"));
    double x[2], out;
    x[0] = 0.25, x[1] = 0;
    rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
    assert_true(out == 0.5 + 1.5);
    x[0] = 0.5; /* not < split: right */
    rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
    assert_true(out == 0.5 - 2.5);
    x[0] = (double)NAN; /* default_left */
    rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
    assert_true(out == 2.0);
    /* 0.49999999 rounds to float32 0.5: XGBoost compares float32 values, so it goes right */
    x[0] = 0.49999999;
    rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
    assert_true(out == -2.0);
    assert_int_equal(rd_model_num_features(m), 2);
    assert_string_equal(rd_model_feature_name(m, 1), "b");
    assert_true(rd_model_is_float32(m));
    rd_model_free(m);
}

/* Points (RD_OUTPUT_SCORE) are a scorecard's: a tree model has none, and a batch writes none
 * (it wrote one row's outputs per row into a buffer sized for zero). */
static void test_batch_score_writes_nothing(void **state)
{
    (void)state;
    rd_model *m = load(model_json("binary:logistic", "5E-1", "0", TREE("1.5", "-2.5", "0.5", "1"), "0"));
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_SCORE), 0);
    double x[8] = {0.25, 0, 0.75, 0, 0.1, 0, 0.9, 0}, out[4] = {7, 7, 7, 7};
    rd_err err;
    for (int threads = 1; threads <= 2; threads++) {
        assert_int_equal(rd_model_predict_batch(m, x, 4, RD_OUTPUT_SCORE, out, threads, &err), RD_OK);
        for (int i = 0; i < 4; i++)
            assert_true(out[i] == 7);
    }
    rd_model_free(m);
}

static void test_logistic_and_bracketed_base_score(void **state)
{
    (void)state;
    /* XGBoost >= 3.1 writes base_score as "[p]"; the margin starts at logit(p) in float32. */
    rd_model *m = load(model_json("binary:logistic", "[2.5E-1]", "0", TREE("0", "0", "0.5", "0"), "0"));
    double x[2] = {0, 0}, out;
    rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
    assert_true((float)out == -logf(1.0f / 0.25f - 1.0f));
    rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, &out);
    assert_true(fabs(out - 0.25) < 1e-7);
    rd_model_free(m);
}

static void test_multiclass_softprob(void **state)
{
    (void)state;
    char trees[4096];
    snprintf(trees, sizeof(trees), "%s,%s,%s", TREE("1", "0", "0.5", "0"), TREE("0", "1", "0.5", "0"),
             TREE("0.5", "0.5", "0.5", "0"));
    rd_model *m = load(model_json("multi:softprob", "5E-1", "3", trees, "0,1,2"));
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_PROBABILITY), 3);
    double x[2] = {0, 0}, p[3];
    rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, p);
    assert_true(fabs(p[0] + p[1] + p[2] - 1) < 1e-6);
    assert_true(p[0] > p[2] && p[2] > p[1]);
    rd_model_free(m);
    m = load(model_json("multi:softmax", "5E-1", "3", trees, "0,1,2"));
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_PROBABILITY), 1);
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_RAW), 3);
    rd_model_predict(m, x, RD_OUTPUT_PROBABILITY, p);
    assert_true(p[0] == 0);
    rd_model_free(m);
}

static void test_categorical_split(void **state)
{
    (void)state;
    /* Categories {1, 3} go right (XGBoost's Decision: in the set -> right). */
    const char *tree = "{\"id\":0,\"tree_param\":{\"num_nodes\":\"3\",\"num_feature\":\"2\"},"
                       "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],\"split_indices\":[1,0,0],"
                       "\"split_conditions\":[0,10,20],\"default_left\":[1,0,0],\"split_type\":[1,0,0],"
                       "\"sum_hessian\":[1,1,1],\"categories\":[1,3],\"categories_nodes\":[0],"
                       "\"categories_segments\":[0],\"categories_sizes\":[2]}";
    rd_model *m = load(model_json("reg:squarederror", "0E0", "0", tree, "0"));
    static const struct {
        double b, want;
    } cases[] = {{1, 20}, {3, 20}, {3.7, 20}, {0, 10}, {2, 10}, {4, 10}, {-1, 10}, {1e9, 10}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double x[2] = {0, cases[i].b}, out;
        rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
        if (out != cases[i].want)
            fail_msg("category %g: got %g, want %g", cases[i].b, out, cases[i].want);
    }
    double x[2] = {0, (double)NAN}, out;
    rd_model_predict(m, x, RD_OUTPUT_RAW, &out);
    assert_true(out == 10); /* missing: default_left */
    rd_model_free(m);
}

static void expect_refusal(const char *json, const char *msg_part)
{
    rd_model *m = (rd_model *)(uintptr_t)1;
    rd_err err;
    int rc = rd_model_load_xgboost(json, strlen(json), &m, &err);
    if (rc == RD_OK || !strstr(err.msg, msg_part))
        fail_msg("want a refusal containing \"%s\", got %d \"%s\"", msg_part, rc, rc ? err.msg : "");
    assert_ptr_equal(m, (rd_model *)(uintptr_t)1);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refusal("{\"learner\":", "unexpected end of input");
    expect_refusal("[]", "a JSON object with a \"learner\"");
    expect_refusal("{}", "$.learner: missing");
    expect_refusal(model_json("survival:aft", "5E-1", "0", TREE("1", "2", "0.5", "0"), "0"),
                   "objective \"survival:aft\" is not supported");
    expect_refusal(model_json("reg:squarederror", "abc", "0", TREE("1", "2", "0.5", "0"), "0"),
                   "base_score is not a number");
    expect_refusal(model_json("reg:squarederror", "5E-1", "0", TREE("1", "2", "0.5", "0"), "1"),
                   "tree_info names an output group");
    expect_refusal(model_json("reg:squarederror", "5E-1", "0", TREE("1", "2", "0.5", "0"), "0,0"),
                   "one entry per tree");
    expect_refusal(model_json("multi:softprob", "5E-1", "0", TREE("1", "2", "0.5", "0"), "0"),
                   "num_class >= 2");
    char tree[2048];
    snprintf(tree, sizeof(tree), "%s", TREE("1", "2", "0.5", "0"));
    char *p = strstr(tree, "\"split_indices\":[0");
    p[17] = '7'; /* feature 7 of 2 */
    expect_refusal(model_json("reg:squarederror", "5E-1", "0", tree, "0"), "split_indices names a feature");
    snprintf(tree, sizeof(tree), "%s", TREE("1", "2", "0.5", "0"));
    p = strstr(tree, "\"right_children\":[2");
    p[18] = '1'; /* both children node 1 */
    expect_refusal(model_json("reg:squarederror", "5E-1", "0", tree, "0"), "reached twice");
    snprintf(tree, sizeof(tree), "%s", TREE("1", "2", "0.5", "0"));
    p = strstr(tree, "\"left_children\":[1");
    p[17] = '9';
    expect_refusal(model_json("reg:squarederror", "5E-1", "0", tree, "0"), "outside the tree");
    snprintf(tree, sizeof(tree), "%s", TREE("1", "2", "0.5", "0"));
    p = strstr(tree, "\"num_nodes\":\"3\"");
    p[13] = '4';
    expect_refusal(model_json("reg:squarederror", "5E-1", "0", tree, "0"), "has 3 entries, num_nodes is 4");
    /* a categorical split without its category set (found by the fuzzer) */
    snprintf(tree, sizeof(tree), "%s", TREE("1", "2", "0.5", "0"));
    p = strstr(tree, "\"split_type\":[0");
    p[14] = '1';
    expect_refusal(model_json("reg:squarederror", "5E-1", "0", tree, "0"),
                   "categorical split has no categories");
    const char *gblinear =
        "{\"learner\":{\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_feature\":\"2\"},"
        "\"objective\":{\"name\":\"reg:squarederror\"},\"gradient_booster\":{\"name\":\"gblinear\"}}}";
    expect_refusal(gblinear, "gblinear is not supported");
}

static void test_load_file_errors(void **state)
{
    (void)state;
    rd_model *m;
    rd_err err;
    assert_int_equal(rd_model_load_file("/nonexistent/model.json", &m, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/model.json"));
}

/* Which objectives give a probability: a bundle may declare output.kind "probability" only
 * for those (issue 11). */
static void test_outputs_probability(void **state)
{
    (void)state;
    static const struct {
        const char *objective;
        bool probability;
    } cases[] = {
        {"binary:logistic", true}, {"reg:logistic", true},      {"binary:logitraw", false},
        {"binary:hinge", false},   {"reg:squarederror", false}, {"reg:absoluteerror", false},
        {"count:poisson", false},  {"rank:pairwise", false},    {"rank:ndcg", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rd_model *m = load(model_json(cases[i].objective, "5E-1", "0", TREE("1", "0", "0.5", "0"), "0"));
        if (rd_model_outputs_probability(m) != cases[i].probability)
            fail_msg("%s: outputs_probability is %d", cases[i].objective, rd_model_outputs_probability(m));
        rd_model_free(m);
    }
    char trees[4096];
    snprintf(trees, sizeof(trees), "%s,%s", TREE("1", "0", "0.5", "0"), TREE("0", "1", "0.5", "0"));
    rd_model *m = load(model_json("multi:softprob", "5E-1", "2", trees, "0,1"));
    assert_false(rd_model_outputs_probability(m));
    rd_model_free(m);
    m = load(model_json("multi:softmax", "5E-1", "2", trees, "0,1"));
    assert_false(rd_model_outputs_probability(m));
    rd_model_free(m);
}

static void expect_foreign(const char *text, size_t len, const char *what)
{
    rd_model *m = NULL;
    rd_err err;
    assert_int_equal(rd_model_load_buffer(text, len, &m, &err), RD_EINVAL);
    assert_null(m);
    if (!strstr(err.msg, what) || !strstr(err.msg, "save the model with `save_model('model.json')`"))
        fail_msg("%s: %s", what, err.msg);
}

/* Formats XGBoost models are often saved in, which riskd does not read: the message says
 * how to save one it does (issue 11, item 5). */
static void test_foreign_formats(void **state)
{
    (void)state;
    static const char ubj[] = "{L\0\0\0\0\0\0\0\007learner{", ubj_i[] = "{i\007learner{",
                      pickle[] = "\x80\x04\x95\x10\0\0\0", pickle2[] = "\x80\x02}q\0",
                      old_binary[] = "binf\0\0\0?\0\0\0\0", dump[] = "booster[0]:\n0:[f0<0.5] yes=1,no=2\n";
    expect_foreign(ubj, sizeof(ubj) - 1, "an XGBoost UBJSON model (.ubj)");
    expect_foreign(ubj_i, sizeof(ubj_i) - 1, "an XGBoost UBJSON model (.ubj)");
    expect_foreign(pickle, sizeof(pickle) - 1, "a Python pickle");
    expect_foreign(pickle2, sizeof(pickle2) - 1, "a Python pickle");
    expect_foreign(old_binary, sizeof(old_binary) - 1, "a binary file (XGBoost's old binary format");
    expect_foreign(dump, sizeof(dump) - 1, "an XGBoost text dump (dump_model)");
    expect_foreign("hello", 5, "not a model this version of riskd reads");
    /* JSON with white space first, and a UTF-8 feature name, are still JSON */
    const char *json = model_json("binary:logistic", "5E-1", "0", TREE("1", "0", "0.5", "0"), "0");
    char spaced[sizeof(buf) + 2];
    snprintf(spaced, sizeof(spaced), "\n %s", json);
    rd_model *m = NULL;
    rd_err err;
    if (rd_model_load_buffer(spaced, strlen(spaced), &m, &err) != RD_OK)
        fail_msg("%s", err.msg);
    rd_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_missing_and_base_score),
        cmocka_unit_test(test_logistic_and_bracketed_base_score),
        cmocka_unit_test(test_batch_score_writes_nothing),
        cmocka_unit_test(test_multiclass_softprob),
        cmocka_unit_test(test_categorical_split),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_outputs_probability),
        cmocka_unit_test(test_foreign_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
