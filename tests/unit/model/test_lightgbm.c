/* The LightGBM text loader: hand-made models whose outputs follow by hand from LightGBM's
 * rules (reference/model-formats.md §3.1): zero-as-missing and NaN-as-missing numerical
 * splits, categorical bitsets at their edges, linear leaves, every objective's transform, and
 * one test per refusal of the loader. The public vectors prove bit-exactness on real models
 * (tests/conformance/lightgbm_vectors.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model_int.h"
#include "riskd/riskd.h"
#include "riskd/model.h"

/* Tree bodies (the lines after "Tree=N"), as LightGBM writes them. */
#define LEAF(v)                                                                                              \
    "num_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\nleft_child=\n"        \
    "right_child=\nleaf_value=" v "\nleaf_weight=\nleaf_count=\ninternal_value=\ninternal_weight=\n"         \
    "internal_count=\nis_linear=0\nshrinkage=1\n"
/* One split on feature f: x <= threshold goes to leaf 0 (value l), else leaf 1 (value r). */
#define STUMP(f, thr, dt, l, r)                                                                              \
    "num_leaves=2\nnum_cat=0\nsplit_feature=" f "\nsplit_gain=1\nthreshold=" thr "\ndecision_type=" dt       \
    "\nleft_child=-1\nright_child=-2\nleaf_value=" l " " r "\nleaf_weight=1 1\nleaf_count=1 1\n"             \
    "internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=0.1\n"

static char buf[1 << 18], buf2[1 << 18];

/* A whole model file: header (objective NULL: no objective line; extra: more header lines),
 * the trees numbered in order, "end of trees" and the trailing sections. */
static const char *build(const char *objective, int k, int nfeat, const char *extra, const char *const *trees,
                         int ntrees)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "tree\nversion=v4\nnum_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\n"
                          "max_feature_idx=%d\n",
                          k, k, nfeat - 1);
    if (objective)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "objective=%s\n", objective);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sfeature_names=", extra ? extra : "");
    for (int f = 0; f < nfeat; f++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sf%d", f ? " " : "", f);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\nfeature_infos=");
    for (int f = 0; f < nfeat; f++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s[-1:1]", f ? " " : "");
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\n\n");
    for (int t = 0; t < ntrees; t++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Tree=%d\n%s\n\n", t, trees[t]);
    snprintf(buf + n, sizeof(buf) - n,
             "end of trees\n\nfeature_importances:\nf0=1\n\nparameters:\n[boosting: gbdt]\nend of "
             "parameters\n\npandas_categorical:null\n");
    return buf;
}

static const char *build1(const char *objective, int nfeat, const char *tree)
{
    return build(objective, 1, nfeat, NULL, &tree, 1);
}

static rd_model *load(const char *text)
{
    rd_model *m = NULL;
    rd_err err;
    if (rd_model_load_lightgbm(text, strlen(text), &m, &err) != RD_OK)
        fail_msg("model refused: %s", err.msg);
    return m;
}

static double predict1(const rd_model *m, rd_output kind, double x0, double x1, double x2)
{
    double x[3] = {x0, x1, x2}, out;
    rd_model_predict(m, x, kind, &out);
    return out;
}

#define RAW(m, x0) predict1((m), RD_OUTPUT_RAW, (x0), 0, 0)

static const char *edit(const char *text, const char *from, const char *to);

static const double kzero = 1.0000000180025095e-35; /* (double)1e-35f */

/* decision_type 4: missing type Zero, default right. Threshold 0.5, so zero would go left by
 * comparison: the default direction shows. NaN becomes 0 first (missing type is not NaN). */
static void test_zero_missing_default_right(void **state)
{
    (void)state;
    rd_model *m = load(build1("regression", 3, STUMP("0", "0.5", "4", "1", "2")));
    assert_true(RAW(m, 0.0) == 2);
    assert_true(RAW(m, -0.0) == 2);
    assert_true(RAW(m, kzero) == 2); /* |x| <= kZeroThreshold is zero */
    assert_true(RAW(m, -kzero) == 2);
    assert_true(RAW(m, 1e-36) == 2);
    assert_true(RAW(m, (double)NAN) == 2);           /* NaN -> 0 -> zero -> default */
    assert_true(RAW(m, nextafter(kzero, 1.0)) == 1); /* just above: a value, <= 0.5 */
    assert_true(RAW(m, -nextafter(kzero, 1.0)) == 1);
    assert_true(RAW(m, 0.25) == 1);
    assert_true(RAW(m, 0.5) == 1); /* x <= threshold goes left (XGBoost: x < split) */
    assert_true(RAW(m, nextafter(0.5, 1.0)) == 2);
    assert_true(RAW(m, -3) == 1);
    assert_true(RAW(m, (double)INFINITY) == 2);
    assert_true(RAW(m, -(double)INFINITY) == 1);
    rd_model_free(m);
}

/* decision_type 6: missing type Zero, default left. Threshold -0.5, so zero would go right. */
static void test_zero_missing_default_left(void **state)
{
    (void)state;
    rd_model *m = load(build1("regression", 3, STUMP("0", "-0.5", "6", "1", "2")));
    assert_true(RAW(m, 0.0) == 1);
    assert_true(RAW(m, (double)NAN) == 1);
    assert_true(RAW(m, kzero) == 1);
    assert_true(RAW(m, 1e-40) == 1);
    assert_true(RAW(m, nextafter(kzero, 1.0)) == 2); /* a value, > -0.5 */
    assert_true(RAW(m, 0.1) == 2);
    assert_true(RAW(m, -0.5) == 1);
    assert_true(RAW(m, -0.6) == 1);
    rd_model_free(m);
}

/* decision_type 8 / 10: missing type NaN, default right / left; zero is an ordinary value. */
static void test_nan_missing(void **state)
{
    (void)state;
    rd_model *m = load(build1("regression", 3, STUMP("0", "0.5", "8", "1", "2")));
    assert_true(RAW(m, (double)NAN) == 2); /* default right, though 0 would go left */
    assert_true(RAW(m, 0.0) == 1);
    assert_true(RAW(m, 1e-36) == 1);
    assert_true(RAW(m, 0.7) == 2);
    rd_model_free(m);
    m = load(build1("regression", 3, STUMP("0", "-0.5", "10", "1", "2")));
    assert_true(RAW(m, (double)NAN) == 1); /* default left, though 0 would go right */
    assert_true(RAW(m, 0.0) == 2);
    assert_true(RAW(m, -1) == 1);
    rd_model_free(m);
}

/* decision_type 0 / 2: missing type None: NaN is 0 and compared; default_left is not used. */
static void test_no_missing_type(void **state)
{
    (void)state;
    rd_model *m = load(build1("regression", 3, STUMP("0", "-0.5", "2", "1", "2")));
    assert_true(RAW(m, (double)NAN) == 2); /* 0 > -0.5 */
    assert_true(RAW(m, 0.0) == 2);
    assert_true(RAW(m, -1) == 1);
    rd_model_free(m);
    m = load(build1("regression", 3, STUMP("0", "0.5", "0", "1", "2")));
    assert_true(RAW(m, (double)NAN) == 1); /* 0 <= 0.5 */
    rd_model_free(m);
    /* Inputs with |x| <= kZeroThreshold are read as 0 (LightGBM's input paths drop them), so
     * 1e-35 goes left of a threshold of 5e-36, and just above kZeroThreshold goes right. */
    m = load(build1("regression", 3, STUMP("0", "5e-36", "0", "1", "2")));
    assert_true(RAW(m, 1e-35) == 1);
    assert_true(RAW(m, kzero) == 1);
    assert_true(RAW(m, nextafter(kzero, 1.0)) == 2);
    assert_true(RAW(m, -1e-35) == 1);
    rd_model_free(m);
}

/* One categorical split on feature 1: categories {0, 1, 3, 33} go left (the words 11 = bits
 * 0, 1, 3 and 2 = bit 1 of the second word, 32 + 1). */
static const char *cat_tree(const char *dt)
{
    static char tree[1024];
    snprintf(
        tree, sizeof(tree),
        "num_leaves=2\nnum_cat=1\nsplit_feature=1\nsplit_gain=1\nthreshold=0\ndecision_type=%s\n"
        "left_child=-1\nright_child=-2\nleaf_value=1 2\nleaf_weight=1 1\nleaf_count=1 1\ninternal_value=0\n"
        "internal_weight=2\ninternal_count=2\ncat_boundaries=0 2\ncat_threshold=11 2\nis_linear=0\n"
        "shrinkage=1\n",
        dt);
    return tree;
}

#define CAT(m, x1) predict1((m), RD_OUTPUT_RAW, 0, (x1), 0)

static void test_categorical(void **state)
{
    (void)state;
    static const char *const dts[] = {"1", "3", "5", "7", "9", "11"}; /* every missing type, default */
    for (int d = 0; d < 6; d++) {
        rd_model *m = load(build1("regression", 3, cat_tree(dts[d])));
        assert_true(CAT(m, 0) == 1);
        assert_true(CAT(m, 1) == 1);
        assert_true(CAT(m, 2) == 2);
        assert_true(CAT(m, 3) == 1);
        assert_true(CAT(m, 31) == 2);
        assert_true(CAT(m, 32) == 2);
        assert_true(CAT(m, 33) == 1);
        assert_true(CAT(m, 64) == 2); /* beyond the bitset's two words */
        assert_true(CAT(m, 1e9) == 2);
        assert_true(CAT(m, 2147483648.0) == 2); /* beyond int: INT_MIN in LightGBM, right */
        assert_true(CAT(m, (double)INFINITY) == 2);
        assert_true(CAT(m, -1) == 2); /* negative */
        assert_true(CAT(m, -2147483649.0) == 2);
        assert_true(CAT(m, -(double)INFINITY) == 2);
        assert_true(CAT(m, (double)NAN) == 2); /* NaN goes right whatever the missing type */
        assert_true(CAT(m, 1.9) == 1);         /* (int) truncates: 1 */
        assert_true(CAT(m, 3.99) == 1);
        assert_true(CAT(m, 2.5) == 2);
        assert_true(CAT(m, 33.5) == 1);
        assert_true(CAT(m, -0.5) == 1);  /* truncates to 0, which is in the set */
        assert_true(CAT(m, 1e-36) == 1); /* 0 */
        rd_model_free(m);
    }
    /* an empty bitset (the model's first): every category goes right */
    rd_model *m = load(build1("regression", 3,
                              edit(edit(cat_tree("1"), "cat_boundaries=0 2", "cat_boundaries=0 0"),
                                   "cat_threshold=11 2", "cat_threshold=")));
    assert_true(CAT(m, 0) == 2);
    assert_true(CAT(m, 1) == 2);
    rd_model_free(m);
}

/* A linear tree: x0 <= 0 -> leaf 0 = 1 + 0.5*x1, else leaf 1 = 2 + 2*x1 - x2; plain values 10
 * and 20 when a feature the leaf uses is NaN. */
#define LINEAR_TREE                                                                                          \
    "num_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0\ndecision_type=2\nleft_child=-1\n"  \
    "right_child=-2\nleaf_value=10 20\nleaf_weight=1 1\nleaf_count=1 1\ninternal_value=0\n"                  \
    "internal_weight=2\ninternal_count=2\nis_linear=1\nleaf_const=1 2\nnum_features=1 2\n"                   \
    "leaf_features=1  1 2  \nleaf_coeff=0.5  2 -1  \nshrinkage=1\n"

static void test_linear_leaves(void **state)
{
    (void)state;
    rd_model *m = load(build1("regression", 3, LINEAR_TREE));
    assert_true(predict1(m, RD_OUTPUT_RAW, -1, 4, 3) == 3);
    assert_true(predict1(m, RD_OUTPUT_RAW, 1, 4, 3) == 7);
    assert_true(predict1(m, RD_OUTPUT_RAW, 1, (double)NAN, 3) == 20); /* NaN feature: leaf_value */
    assert_true(predict1(m, RD_OUTPUT_RAW, 1, 4, (double)NAN) == 20);
    assert_true(predict1(m, RD_OUTPUT_RAW, -1, 4, (double)NAN) == 3); /* leaf 0 does not use x2 */
    assert_true(predict1(m, RD_OUTPUT_RAW, -1, (double)NAN, 3) == 10);
    assert_true(predict1(m, RD_OUTPUT_RAW, (double)NAN, 4, 3) == 3); /* NaN -> 0 <= 0: leaf 0 */
    rd_model_free(m);
    /* a tiny input counts as 0 in a linear leaf too: 2 + 1e30 * 0 - 3 */
    m = load(edit(build1("regression", 3, LINEAR_TREE), "leaf_coeff=0.5  2 -1", "leaf_coeff=0.5  1e30 -1"));
    assert_true(predict1(m, RD_OUTPUT_RAW, 1, 1e-36, 3) == -1);
    assert_true(fabs(predict1(m, RD_OUTPUT_RAW, 1, 1e-30, 3) - 0.0) < 1e-9); /* 2 + 1 - 3, rounded */
    rd_model_free(m);
    /* linear leaves without terms give their leaf_const (the model's first linear leaves: found
     * by the fuzzer, the term arrays were still NULL and NULL + 0 is undefined) */
    m = load(build1("regression", 3,
                    edit(edit(edit(LINEAR_TREE, "num_features=1 2", "num_features=0 0"),
                              "leaf_features=1  1 2  ", "leaf_features=  "),
                         "leaf_coeff=0.5  2 -1  ", "leaf_coeff=  ")));
    assert_true(predict1(m, RD_OUTPUT_RAW, -1, (double)NAN, 3) == 1);
    assert_true(predict1(m, RD_OUTPUT_RAW, 1, 4, 3) == 2);
    rd_model_free(m);
    /* a one-leaf linear tree */
    const char *one = "num_leaves=1\nnum_cat=0\nleaf_value=5\nis_linear=1\nleaf_const=1\nnum_features=2\n"
                      "leaf_features=0 2 \nleaf_coeff=3 0.25 \nshrinkage=1\n";
    m = load(build1("regression", 3, one));
    assert_true(predict1(m, RD_OUTPUT_RAW, 2, 0, 4) == 8);
    assert_true(predict1(m, RD_OUTPUT_RAW, 2, 0, (double)NAN) == 5);
    rd_model_free(m);
}

/* A deeper tree, to check children, leaves and leaf indices: node 0 splits f0 <= 0; its left
 * child is node 1 (f1 <= 0: leaf 0 or leaf 2), its right child leaf 1. */
#define TREE3                                                                                                \
    "num_leaves=3\nnum_cat=0\nsplit_feature=0 1\nsplit_gain=1 1\nthreshold=0 0\ndecision_type=2 2\n"         \
    "left_child=1 -1\nright_child=-2 -3\nleaf_value=0.5 1.5 2.5\nleaf_weight=1 1 1\nleaf_count=1 1 1\n"      \
    "internal_value=0 0\ninternal_weight=3 2\ninternal_count=3 2\nis_linear=0\nshrinkage=1\n"

static void test_tree_and_leaf_indices(void **state)
{
    (void)state;
    const char *trees[] = {TREE3, LEAF("-0.25")};
    rd_model *m = load(build("regression", 1, 3, NULL, trees, 2));
    double x[3] = {-1, -1, 0};
    uint32_t leaf[2];
    assert_true(predict1(m, RD_OUTPUT_RAW, -1, -1, 0) == 0.25);
    assert_true(predict1(m, RD_OUTPUT_RAW, -1, 1, 0) == 2.25);
    assert_true(predict1(m, RD_OUTPUT_RAW, 1, -1, 0) == 1.25);
    rd__lightgbm_leaves(m, x, leaf);
    assert_int_equal(leaf[0], 0);
    assert_int_equal(leaf[1], 0);
    x[1] = 1;
    rd__lightgbm_leaves(m, x, leaf);
    assert_int_equal(leaf[0], 2);
    assert_int_equal(rd_model_get_kind(m), RD_MODEL_LIGHTGBM);
    assert_int_equal(rd_model_num_features(m), 3);
    assert_string_equal(rd_model_feature_name(m, 2), "f2");
    assert_false(rd_model_is_float32(m));
    assert_string_equal(rd_model_objective(m), "regression");
    rd_model_free(m);
}

static double transform1(const char *objective, const char *leaf, const char *extra)
{
    const char *trees[] = {leaf};
    rd_model *m = load(build(objective, 1, 1, extra, trees, 1));
    double x = 0, out;
    rd_model_predict(m, &x, RD_OUTPUT_PROBABILITY, &out);
    rd_model_free(m);
    return out;
}

static void test_transforms(void **state)
{
    (void)state;
    assert_true(transform1("binary sigmoid:1", LEAF("0.5"), NULL) == 1.0 / (1.0 + exp(-0.5)));
    assert_true(transform1("binary sigmoid:0.5", LEAF("2"), NULL) == 1.0 / (1.0 + exp(-0.5 * 2)));
    /* sigmoid:S is read with LightGBM's Common::Atof, not strtod: 1.234567890123457 here,
     * where strtod gives 1.2345678901234567, which changes this output. */
    double lg = transform1("binary sigmoid:1.23456789012345678", LEAF("-40"), NULL);
    assert_true(lg == 1.0 / (1.0 + exp(-1.234567890123457 * -40.0)));
    assert_true(lg != 1.0 / (1.0 + exp(-1.2345678901234567 * -40.0)));
    assert_true(transform1("regression", LEAF("-3"), NULL) == -3);
    assert_true(transform1("regression sqrt", LEAF("-3"), NULL) == -9);
    assert_true(transform1("regression sqrt", LEAF("3"), NULL) == 9);
    assert_true(transform1("regression_l1 sqrt", LEAF("-0.5"), NULL) == -0.25);
    assert_true(transform1("quantile sqrt", LEAF("2"), NULL) == 4);
    assert_true(transform1("huber sqrt", LEAF("3"), NULL) == 3); /* huber drops sqrt */
    assert_true(transform1("mse", LEAF("3"), NULL) == 3);        /* an alias */
    assert_true(transform1("poisson", LEAF("0.5"), NULL) == exp(0.5));
    assert_true(transform1("gamma", LEAF("0.5"), NULL) == exp(0.5));
    assert_true(transform1("tweedie", LEAF("0.5"), NULL) == exp(0.5));
    assert_true(transform1("cross_entropy", LEAF("0.5"), NULL) == 1.0 / (1.0 + exp(-0.5)));
    assert_true(transform1("xentropy", LEAF("0.5"), NULL) == 1.0 / (1.0 + exp(-0.5)));
    assert_true(transform1("cross_entropy_lambda", LEAF("0.5"), NULL) == log1p(exp(0.5)));
    assert_true(transform1("lambdarank", LEAF("0.5"), NULL) == 0.5);
    assert_true(transform1("rank_xendcg", LEAF("0.5"), NULL) == 0.5);
    assert_true(transform1("custom", LEAF("0.5"), NULL) == 0.5);
    assert_true(transform1(NULL, LEAF("0.5"), NULL) == 0.5); /* no objective line: raw */
}

/* Two iterations of three classes: raw k = tree k + tree 3+k; softmax; OVA sigmoids. */
static void test_multiclass(void **state)
{
    (void)state;
    const char *trees[] = {LEAF("1"), LEAF("0.5"), LEAF("-1"), LEAF("0.25"), LEAF("0"), LEAF("2")};
    rd_model *m = load(build("multiclass num_class:3", 3, 1, NULL, trees, 6));
    double x = 0, raw[3], p[3];
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_RAW), 3);
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_PROBABILITY), 3);
    rd_model_predict(m, &x, RD_OUTPUT_RAW, raw);
    assert_true(raw[0] == 1.25 && raw[1] == 0.5 && raw[2] == 1);
    rd_model_predict(m, &x, RD_OUTPUT_PROBABILITY, p);
    double e0 = exp(1.25 - 1.25), e1 = exp(0.5 - 1.25), e2 = exp(1 - 1.25), sum = 0.0 + e0 + e1 + e2;
    assert_true(p[0] == e0 / sum && p[1] == e1 / sum && p[2] == e2 / sum);
    rd_model_free(m);
    /* softmax subtracts the largest raw score first: exp(800) alone would overflow */
    const char *big[] = {LEAF("1"), LEAF("800"), LEAF("799")};
    m = load(build("multiclass num_class:3", 3, 1, NULL, big, 3));
    rd_model_predict(m, &x, RD_OUTPUT_PROBABILITY, p);
    sum = 0.0 + exp(1.0 - 800) + exp(0.0) + exp(-1.0);
    assert_true(p[0] == exp(1.0 - 800) / sum && p[1] == 1 / sum && p[2] == exp(-1.0) / sum);
    rd_model_free(m);
    m = load(build("multiclassova num_class:3 sigmoid:2", 3, 1, NULL, trees, 6));
    rd_model_predict(m, &x, RD_OUTPUT_PROBABILITY, p);
    assert_true(p[0] == 1.0 / (1.0 + exp(-2 * 1.25)) && p[2] == 1.0 / (1.0 + exp(-2.0)));
    rd_model_free(m);
}

/* average_output (boosting=rf): the probability averages the trees, the raw score sums them. */
static void test_average_output(void **state)
{
    (void)state;
    const char *trees[] = {LEAF("1"), LEAF("3")};
    rd_model *m = load(build("binary sigmoid:1", 1, 1, "average_output\n", trees, 2));
    double x = 0, out;
    rd_model_predict(m, &x, RD_OUTPUT_RAW, &out);
    assert_true(out == 4);
    rd_model_predict(m, &x, RD_OUTPUT_PROBABILITY, &out);
    assert_true(out == 1.0 / (1.0 + exp(-2.0)));
    rd_model_free(m);
}

/* Older files: version v2 without "end of trees" (LightGBM 2.x), CRLF line ends, no
 * decision_type (all 0), and rd_model_load_file's detection. */
static void test_older_files_and_detection(void **state)
{
    (void)state;
    const char *v2 = "tree\r\nversion=v2\r\nnum_class=1\r\nnum_tree_per_iteration=1\r\nlabel_index=0\r\n"
                     "max_feature_idx=0\r\nobjective=regression\r\nfeature_names=a\r\nfeature_infos=[0:1]\r\n"
                     "tree_sizes=100\r\n\r\nTree=0\r\nnum_leaves=2\r\nnum_cat=0\r\nsplit_feature=0\r\n"
                     "threshold=0.5\r\nleft_child=-1\r\nright_child=-2\r\nleaf_value=1 2\r\n\r\n\r\n"
                     "feature importances:\r\na=1\r\n";
    rd_model *m = load(v2);
    assert_true(predict1(m, RD_OUTPUT_RAW, 0.5, 0, 0) == 1);
    assert_true(predict1(m, RD_OUTPUT_RAW, (double)NAN, 0, 0) == 1);
    rd_model_free(m);
    char path[] = "/tmp/riskd-lgbm-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = build1("binary sigmoid:1", 3, STUMP("2", "0", "2", "-1", "1"));
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    rd_err err;
    assert_int_equal(rd_model_load_file(path, &m, &err), RD_OK);
    assert_int_equal(rd_model_get_kind(m), RD_MODEL_LIGHTGBM);
    assert_true(predict1(m, RD_OUTPUT_PROBABILITY, 0, 0, 1) == 1.0 / (1.0 + exp(-1.0)));
    rd_model_free(m);
    unlink(path);
}

/* ---------------------------------------------------------------- refusals */

static void expect_refusal(const char *text, const char *msg_part)
{
    rd_model *m = (rd_model *)(uintptr_t)1;
    rd_err err;
    int rc = rd_model_load_lightgbm(text, strlen(text), &m, &err);
    if (rc == RD_OK || !strstr(err.msg, msg_part))
        fail_msg("want a refusal containing \"%s\", got %d \"%s\"", msg_part, rc, rc ? err.msg : "");
    assert_int_equal(rc, RD_EINVAL);
    assert_ptr_equal(m, (rd_model *)(uintptr_t)1);
}

/* text with the first occurrence of from replaced by to (in buf2). */
static const char *edit(const char *text, const char *from, const char *to)
{
    static char src[sizeof(buf2)];
    snprintf(src, sizeof(src), "%s", text); /* text may be buf2 itself */
    const char *p = strstr(src, from);
    if (!p)
        fail_msg("\"%s\" not in the model", from);
    snprintf(buf2, sizeof(buf2), "%.*s%s%s", (int)(p - src), src, to, p + strlen(from));
    return buf2;
}

#define BASE() build1("regression", 3, TREE3)

static void test_refuse_header(void **state)
{
    (void)state;
    expect_refusal("", "starts with a line \"tree\"");
    expect_refusal("{\"learner\":{}}", "line 1: a LightGBM model starts with a line \"tree\"");
    expect_refusal(edit(BASE(), "version=v4\n", ""), "version is missing");
    expect_refusal(edit(BASE(), "version=v4", "version=v5"), "line 2: version \"v5\" is not v2, v3 or v4");
    expect_refusal(edit(BASE(), "num_class=1\n", ""), "num_class is missing");
    expect_refusal(edit(BASE(), "num_class=1", "num_class=x"),
                   "num_class \"x\" is not an integer in [1, 4096]");
    expect_refusal(edit(BASE(), "num_class=1", "num_class=0"), "num_class \"0\" is not an integer");
    expect_refusal(edit(BASE(), "num_tree_per_iteration=1", "num_tree_per_iteration=2"),
                   "num_class is 1 but num_tree_per_iteration is 2");
    expect_refusal(edit(BASE(), "max_feature_idx=2\n", ""), "max_feature_idx is missing");
    expect_refusal(edit(BASE(), "max_feature_idx=2", "max_feature_idx=-1"), "max_feature_idx \"-1\" is not");
    expect_refusal(edit(BASE(), "num_class=1\n", "num_class=1\nnum_class=1\n"),
                   "line 4: num_class is given twice (first on line 3)");
    expect_refusal(edit(BASE(), "feature_names=f0 f1 f2\n", ""), "feature_names is missing");
    expect_refusal(edit(BASE(), "feature_names=f0 f1 f2", "feature_names=f0 f1"),
                   "feature_names has 2 names, max_feature_idx+1 is 3");
}

static void test_refuse_objective(void **state)
{
    (void)state;
    expect_refusal(build1("", 3, TREE3), "line 7: objective is empty");
    expect_refusal(build1("survival", 3, TREE3),
                   "line 7: objective \"survival\" is not a LightGBM objective");
    expect_refusal(build1("binary", 3, TREE3), "objective binary needs sigmoid:S with S > 0");
    expect_refusal(build1("binary sigmoid:0", 3, TREE3), "objective binary needs sigmoid:S with S > 0");
    expect_refusal(build1("binary sigmoid:nan", 3, TREE3), "objective binary needs sigmoid:S with S > 0");
    expect_refusal(build1("binary sigmoid:x1", 3, TREE3),
                   "objective parameter \"sigmoid:x1\" is not a number");
    expect_refusal(build1("multiclassova num_class:1", 3, TREE3), "multiclassova needs sigmoid:S");
    const char *trees[] = {LEAF("1"), LEAF("2")};
    expect_refusal(build("multiclass num_class:3", 2, 1, NULL, trees, 2),
                   "objective multiclass needs num_class:2 (num_tree_per_iteration)");
    expect_refusal(build("multiclass", 2, 1, NULL, trees, 2), "objective multiclass needs num_class:2");
    expect_refusal(build("binary sigmoid:1", 2, 1, NULL, trees, 2),
                   "objective binary has one output, num_tree_per_iteration is 2");
}

static void test_refuse_tree_structure(void **state)
{
    (void)state;
    const char *trees[] = {LEAF("1"), LEAF("2"), LEAF("3")};
    expect_refusal(build("multiclass num_class:2", 2, 1, NULL, trees, 3),
                   "3 trees is not a multiple of num_tree_per_iteration (2)");
    expect_refusal(edit(BASE(), "Tree=0", "Tree=1"), "line 11: Tree=1 where Tree=0 was expected");
    expect_refusal(edit(BASE(), "Tree=0", "Tree=x"),
                   "line 11: expected \"Tree=0\" or \"end of trees\", not \"Tree=x\"");
    expect_refusal(edit(BASE(), "end of trees", "the end"),
                   "expected \"Tree=1\" or \"end of trees\", not \"the end\"");
    const char *base = BASE();
    char cut[4096];
    snprintf(cut, sizeof(cut), "%.*s", (int)(strstr(base, "end of trees") - base), base);
    expect_refusal(cut, "the model ends without an \"end of trees\" line (truncated?)");
    expect_refusal(edit(BASE(), "feature_infos", "tree_sizes=1 2\nfeature_infos"),
                   "tree_sizes lists 2 trees, the model has 1");
    expect_refusal(edit(BASE(), "num_cat=0", "num_cat=0\nbogus line"),
                   "tree 0: line 14: \"bogus line\" is not key=value");
    expect_refusal(edit(BASE(), "num_cat=0", "num_cat=0\nnum_cat=0"),
                   "tree 0: line 14: num_cat is given twice (first on line 13)");
}

static void test_refuse_tree_keys(void **state)
{
    (void)state;
    expect_refusal(edit(BASE(), "num_leaves=3\n", ""), "tree 0: num_leaves is missing");
    expect_refusal(edit(BASE(), "num_leaves=3", "num_leaves=0"),
                   "tree 0: num_leaves \"0\" is not an integer in [1, 131072]");
    expect_refusal(edit(BASE(), "num_leaves=3", "num_leaves=4"),
                   "tree 0: leaf_value has 3 entries, num_leaves is 4");
    expect_refusal(edit(BASE(), "num_cat=0\n", ""), "tree 0: num_cat is missing");
    expect_refusal(edit(BASE(), "num_cat=0", "num_cat=3"),
                   "tree 0: num_cat \"3\" is not an integer in [0, 2]");
    expect_refusal(edit(BASE(), "is_linear=0", "is_linear=2"),
                   "tree 0: is_linear \"2\" is not an integer in [0, 1]");
    expect_refusal(edit(BASE(), "leaf_value=0.5 1.5 2.5\n", ""), "tree 0: leaf_value is missing");
    expect_refusal(edit(BASE(), "leaf_value=0.5 1.5 2.5", "leaf_value=0.5 1.5 x"),
                   "tree 0: leaf_value[2] \"x\" is not a number");
    expect_refusal(edit(BASE(), "left_child=1 -1\n", ""), "tree 0: left_child is missing");
    expect_refusal(edit(BASE(), "left_child=1 -1", "left_child=1"),
                   "tree 0: left_child has 1 entries, num_leaves-1 is 2");
    expect_refusal(edit(BASE(), "right_child=-2 -3", "right_child=-2 -3 -4"),
                   "tree 0: right_child has 3 entries, num_leaves-1 is 2");
    expect_refusal(edit(BASE(), "split_feature=0 1", "split_feature=0 1.5"),
                   "tree 0: split_feature[1] \"1.5\" is not a 32-bit integer");
    expect_refusal(edit(BASE(), "split_feature=0 1", "split_feature=0 3"),
                   "tree 0: split_feature[1] = 3 is not a feature (max_feature_idx is 2)");
    expect_refusal(edit(BASE(), "threshold=0 0", "threshold=0 0 0"),
                   "tree 0: threshold has 3 entries, num_leaves-1 is 2");
    expect_refusal(edit(BASE(), "decision_type=2 2", "decision_type=2 14"),
                   "tree 0: decision_type[1] = 14 is not a LightGBM decision type");
    expect_refusal(edit(BASE(), "decision_type=2 2", "decision_type=2 16"),
                   "tree 0: decision_type[1] = 16 is not a LightGBM decision type");
    expect_refusal(edit(BASE(), "decision_type=2 2", "decision_type=1 2"),
                   "tree 0: decision_type[0] = 1 is categorical but num_cat is 0");
    expect_refusal(build1("regression", 3, edit(LEAF("1"), "split_feature=", "split_feature=0")),
                   "tree 0: split_feature has 1 entries, num_leaves-1 is 0");
}

static void test_refuse_children(void **state)
{
    (void)state;
    expect_refusal(edit(BASE(), "left_child=1 -1", "left_child=2 -1"),
                   "tree 0: left_child[0] = 2 is not a node (num_leaves-1 is 2)");
    expect_refusal(edit(BASE(), "right_child=-2 -3", "right_child=-2 -4"),
                   "tree 0: right_child[1] = -4 is not a leaf (num_leaves is 3)");
    expect_refusal(edit(BASE(), "left_child=1 -1", "left_child=1 1"),
                   "tree 0: node 1 is reached twice from the root");
    expect_refusal(edit(BASE(), "left_child=1 -1", "left_child=1 -2"),
                   "tree 0: leaf 1 is reached twice from the root");
    expect_refusal(edit(BASE(), "left_child=1 -1", "left_child=0 -1"),
                   "tree 0: node 0 is reached twice from the root");
    /* node 0 ends in two leaves: node 1 hangs nowhere (leaf 2 too, but nodes are reported first;
     * a leaf cannot be unreachable alone: n-1 nodes have exactly the 2n-2 child slots needed) */
    expect_refusal(edit(BASE(), "left_child=1 -1", "left_child=-1 -1"),
                   "tree 0: node 1 is not reachable from the root");
    expect_refusal(edit(BASE(), "left_child=1 -1\nright_child=-2 -3", "left_child=-1 -3\nright_child=-2 1"),
                   "tree 0: node 1 is not reachable from the root");
}

/* A chain: node i has leaf i on the left and node i+1 (or the last leaf) on the right, so
 * leaf n-1 is n-1 levels deep. */
static const char *chain(int nleaves)
{
    static char tree[1 << 17];
    size_t n = (size_t)snprintf(tree, sizeof(tree), "num_leaves=%d\nnum_cat=0\nsplit_feature=", nleaves);
    for (int i = 0; i < nleaves - 1; i++)
        n += (size_t)snprintf(tree + n, sizeof(tree) - n, "0 ");
    n += (size_t)snprintf(tree + n, sizeof(tree) - n, "\nthreshold=");
    for (int i = 0; i < nleaves - 1; i++)
        n += (size_t)snprintf(tree + n, sizeof(tree) - n, "%d ", i);
    n += (size_t)snprintf(tree + n, sizeof(tree) - n, "\nleft_child=");
    for (int i = 0; i < nleaves - 1; i++)
        n += (size_t)snprintf(tree + n, sizeof(tree) - n, "%d ", -i - 1);
    n += (size_t)snprintf(tree + n, sizeof(tree) - n, "\nright_child=");
    for (int i = 0; i < nleaves - 1; i++)
        n += (size_t)snprintf(tree + n, sizeof(tree) - n, "%d ", i + 2 < nleaves ? i + 1 : -nleaves);
    n += (size_t)snprintf(tree + n, sizeof(tree) - n, "\nleaf_value=");
    for (int i = 0; i < nleaves; i++)
        n += (size_t)snprintf(tree + n, sizeof(tree) - n, "%d ", i);
    snprintf(tree + n, sizeof(tree) - n, "\n");
    return tree;
}

static void test_depth_limit(void **state)
{
    (void)state;
    rd_model *m = load(build1("regression", 1, chain(1025))); /* the deepest leaf at 1024 levels */
    assert_true(RAW(m, 1e9) == 1024);
    assert_true(RAW(m, 0.5) == 1);
    rd_model_free(m);
    expect_refusal(build1("regression", 1, chain(1026)), "tree 0: deeper than 1024 levels");
}

static void test_refuse_categorical(void **state)
{
    (void)state;
    const char *t = build1("regression", 3, cat_tree("1"));
    expect_refusal(edit(t, "threshold=0", "threshold=1"),
                   "tree 0: threshold[0] = 1 names no bitset of this tree (num_cat is 1)");
    expect_refusal(edit(t, "threshold=0", "threshold=0.5"), "tree 0: threshold[0] = 0.5 names no bitset");
    expect_refusal(edit(t, "cat_boundaries=0 2\n", ""), "tree 0: cat_boundaries is missing (num_cat is 1)");
    expect_refusal(edit(t, "cat_threshold=11 2\n", ""), "tree 0: cat_threshold is missing (num_cat is 1)");
    expect_refusal(edit(t, "cat_boundaries=0 2", "cat_boundaries=0 2 3"),
                   "tree 0: cat_boundaries has 3 entries, num_cat+1 is 2");
    expect_refusal(edit(t, "cat_boundaries=0 2", "cat_boundaries=1 2"),
                   "tree 0: cat_boundaries[0] = 1, must be 0");
    expect_refusal(edit(t, "cat_threshold=11 2", "cat_threshold=11"),
                   "tree 0: cat_threshold has 1 entries, cat_boundaries[num_cat] is 2");
    expect_refusal(edit(t, "cat_threshold=11 2", "cat_threshold=11 4294967296"),
                   "tree 0: cat_threshold[1] \"4294967296\" is not a 32-bit unsigned integer");
    const char *two =
        "num_leaves=3\nnum_cat=2\nsplit_feature=0 1\nthreshold=0 1\ndecision_type=1 1\n"
        "left_child=1 -1\nright_child=-2 -3\nleaf_value=1 2 3\ncat_boundaries=0 2 1\ncat_threshold=1\n";
    expect_refusal(build1("regression", 3, two),
                   "tree 0: cat_boundaries[2] = 1 is less than the entry before it");
}

static void test_refuse_linear(void **state)
{
    (void)state;
    const char *t = build1("regression", 3, LINEAR_TREE);
    expect_refusal(edit(t, "leaf_const=1 2\n", ""), "tree 0: leaf_const is missing (is_linear is 1)");
    expect_refusal(edit(t, "num_features=1 2\n", ""), "tree 0: num_features is missing (is_linear is 1)");
    expect_refusal(edit(t, "num_features=1 2", "num_features=1 -2"),
                   "tree 0: num_features[1] = -2 is not a feature count");
    expect_refusal(edit(t, "leaf_const=1 2", "leaf_const=1"),
                   "tree 0: leaf_const has 1 entries, num_leaves is 2");
    expect_refusal(edit(t, "leaf_features=1  1 2  \n", ""),
                   "tree 0: leaf_features is missing (is_linear is 1)");
    expect_refusal(edit(t, "leaf_coeff=0.5  2 -1  \n", ""), "tree 0: leaf_coeff is missing (is_linear is 1)");
    expect_refusal(edit(t, "leaf_features=1  1 2", "leaf_features=1  1 3"),
                   "tree 0: leaf_features[2] = 3 is not a feature (max_feature_idx is 2)");
    expect_refusal(edit(t, "leaf_coeff=0.5  2 -1", "leaf_coeff=0.5  2"),
                   "tree 0: leaf_coeff has 2 entries, the sum of num_features is 3");
    /* 32 leaves of 10^7 terms each: more than 2^28 terms, refused before reading them */
    char nf[512];
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(nf + n, sizeof(nf) - n, "10000000 ");
    char big[1 << 16];
    snprintf(big, sizeof(big), "%s", chain(32));
    snprintf(big + strlen(big), sizeof(big) - strlen(big), "is_linear=1\nleaf_const=");
    for (int i = 0; i < 32; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "0 ");
    snprintf(big + strlen(big), sizeof(big) - strlen(big), "\nnum_features=%s\n", nf);
    expect_refusal(build1("regression", 1, big), "tree 0: the model is too large");
}

/* TreeSHAP over internal_count/leaf_count, against Shapley values by enumeration of the
 * path-dependent value function (features outside S average their children by count). */
typedef struct shap_tree {
    int feat[2], left[2], right[2]; /* children: >= 0 node, < 0 leaf ~c */
    double thr[2], leaf[3], icount[2], lcount[3];
} shap_tree;

static const shap_tree shap_trees[2] = {
    {{0, 1}, {1, -1}, {-3, -2}, {0.5, 0.0}, {1, 2, 3}, {10, 6}, {4, 2, 4}},
    {{2, 0}, {-1, -2}, {1, -3}, {1.0, -0.5}, {0.5, -1, 0.25}, {8, 5}, {3, 1, 4}},
};

static double shap_v(const shap_tree *t, int child, unsigned mask, const double *x, double *count)
{
    if (child < 0) {
        *count = t->lcount[~child];
        return t->leaf[~child];
    }
    double v = isnan(x[t->feat[child]]) ? 0.0 : x[t->feat[child]], cl, cr;
    *count = t->icount[child];
    if (mask & (1u << t->feat[child]))
        return shap_v(t, v <= t->thr[child] ? t->left[child] : t->right[child], mask, x, &cl);
    double vl = shap_v(t, t->left[child], mask, x, &cl), vr = shap_v(t, t->right[child], mask, x, &cr);
    return (cl * vl + cr * vr) / t->icount[child];
}

static void test_treeshap_counts(void **state)
{
    (void)state;
    char trees[2][512];
    const char *tp[2];
    for (int k = 0; k < 2; k++) {
        const shap_tree *t = &shap_trees[k];
        snprintf(trees[k], sizeof(trees[k]),
                 "num_leaves=3\nnum_cat=0\nsplit_feature=%d %d\nsplit_gain=1 1\nthreshold=%.17g %.17g\n"
                 "decision_type=2 2\nleft_child=%d %d\nright_child=%d %d\nleaf_value=%.17g %.17g %.17g\n"
                 "leaf_weight=1 1 1\nleaf_count=%g %g %g\ninternal_value=0 0\ninternal_weight=1 1\n"
                 "internal_count=%g %g\nis_linear=0\nshrinkage=1\n",
                 t->feat[0], t->feat[1], t->thr[0], t->thr[1], t->left[0], t->left[1], t->right[0],
                 t->right[1], t->leaf[0], t->leaf[1], t->leaf[2], t->lcount[0], t->lcount[1], t->lcount[2],
                 t->icount[0], t->icount[1]);
        tp[k] = trees[k];
    }
    rd_model *m = load(build("binary sigmoid:1", 1, 3, NULL, tp, 2));
    static const double rows[][3] = {{0, 0, 0},      {1, 1, 2},       {0.4, -1, 1.5},
                                     {-1, 0.5, 0.5}, {NAN, NAN, NAN}, {0.5, 0, 1}};
    static const double fact[] = {1, 1, 2, 6};
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        double got[4], want[4] = {0}, margin, c;
        rd_err err;
        assert_int_equal(rd_model_contributions(m, rows[r], got, &err), RD_OK);
        rd_model_predict(m, rows[r], RD_OUTPUT_RAW, &margin);
        for (int k = 0; k < 2; k++) {
            want[3] += shap_v(&shap_trees[k], 0, 0, rows[r], &c);
            for (int f = 0; f < 3; f++)
                for (unsigned s = 0; s < 8; s++) {
                    if (s & (1u << f))
                        continue;
                    int n = __builtin_popcount(s);
                    want[f] += fact[n] * fact[3 - n - 1] / fact[3] *
                               (shap_v(&shap_trees[k], 0, s | (1u << f), rows[r], &c) -
                                shap_v(&shap_trees[k], 0, s, rows[r], &c));
                }
        }
        for (int j = 0; j < 4; j++)
            if (!(fabs(got[j] - want[j]) <= 1e-12))
                fail_msg("row %zu value %d: %.17g, enumeration %.17g", r, j, got[j], want[j]);
        assert_true(fabs(got[0] + got[1] + got[2] + got[3] - margin) <= 1e-12);
        double impact[3];
        assert_int_equal(rd_model_impacts(m, rows[r], impact, &err), RD_OK);
        assert_true(impact[0] == got[0] && impact[2] == got[2]);
    }
    rd_model_free(m);
    /* Without counts (or with linear leaves) TreeSHAP refuses. */
    char nocount[512];
    snprintf(nocount, sizeof(nocount), "%s", trees[0]);
    *strstr(nocount, "leaf_count") = 'X';
    tp[0] = nocount;
    m = load(build("binary sigmoid:1", 1, 3, NULL, tp, 1));
    double got[4];
    rd_err err;
    assert_int_equal(rd_model_contributions(m, rows[0], got, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "lacks internal_count/leaf_count"));
    rd_model_free(m);
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
        {"binary sigmoid:1", true}, {"cross_entropy", true},         {"xentropy", true},
        {"regression", false},      {"regression_l1", false},        {"lambdarank", false},
        {"rank_xendcg", false},     {"cross_entropy_lambda", false}, {"poisson", false},
        {"huber", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rd_model *m = load(build1(cases[i].objective, 3, STUMP("2", "0", "2", "-1", "1")));
        if (rd_model_outputs_probability(m) != cases[i].probability)
            fail_msg("%s: outputs_probability is %d", cases[i].objective, rd_model_outputs_probability(m));
        rd_model_free(m);
    }
    rd_model *m = load(build1(NULL, 3, STUMP("2", "0", "2", "-1", "1")));
    assert_false(rd_model_outputs_probability(m)); /* no objective line: the raw sum */
    rd_model_free(m);
    const char *trees[] = {STUMP("2", "0", "2", "-1", "1"), STUMP("2", "0", "2", "1", "-1")};
    m = load(build("multiclass num_class:2", 2, 3, NULL, trees, 2));
    assert_false(rd_model_outputs_probability(m));
    rd_model_free(m);
    m = load(build("multiclassova num_class:2 sigmoid:1", 2, 3, NULL, trees, 2));
    assert_false(rd_model_outputs_probability(m));
    rd_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_treeshap_counts),
        cmocka_unit_test(test_zero_missing_default_right),
        cmocka_unit_test(test_zero_missing_default_left),
        cmocka_unit_test(test_outputs_probability),
        cmocka_unit_test(test_nan_missing),
        cmocka_unit_test(test_no_missing_type),
        cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_linear_leaves),
        cmocka_unit_test(test_tree_and_leaf_indices),
        cmocka_unit_test(test_transforms),
        cmocka_unit_test(test_multiclass),
        cmocka_unit_test(test_average_output),
        cmocka_unit_test(test_older_files_and_detection),
        cmocka_unit_test(test_refuse_header),
        cmocka_unit_test(test_refuse_objective),
        cmocka_unit_test(test_refuse_tree_structure),
        cmocka_unit_test(test_refuse_tree_keys),
        cmocka_unit_test(test_refuse_children),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_refuse_categorical),
        cmocka_unit_test(test_refuse_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
