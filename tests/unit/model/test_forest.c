/* The perfect-tree predictor (src/lib/model/forest.c) against the node walk it replaces, on
 * random XGBoost models: random depths up to the layout's limit and past it, NaN and default
 * directions, values on and next to every threshold, several output groups, categorical splits
 * (which keep the node walk). Every prediction, one row at a time and in batches on one and on
 * two threads, must be the node walk's bits. 10^6 rows in the release build (fewer under the
 * sanitizers, which only look for memory and thread errors).
 *
 * The same for LightGBM's layout (forest.c's f64 half) against lightgbm.c's node walk, on random
 * LightGBM models: unbalanced trees of random depths, every missing type with both default
 * sides, categorical bitsets shared between splits, thresholds at 0, at +-kZeroThreshold and at
 * -inf; rows with NaN, 0, -0, values at, just inside and just outside kZeroThreshold, on and one
 * ulp either side of every threshold, categories in and out of range, +-inf. Models the layout
 * does not take (linear trees, thresholds of +inf or NaN, trees deeper than 32, too many
 * columns) must keep the node walk. Another 10^6 rows in release. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/riskd.h"
#include "riskd/clock.h"
#include "riskd/model.h"
#include "model/model_int.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TOTAL_ROWS 20000
#else
#define TOTAL_ROWS 1000000
#endif
#define NFEAT     6
#define MAX_NODES 4096

static uint64_t rng = 0x2545f4914f6cdd1du;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

typedef struct node {
    int l, r, f, dl, cat;
    float cond;
} node;

static node nodes[MAX_NODES];
static int nn;
static float thresholds[1024];
static int nth;

/* A random subtree of at most depth d; returns its index. */
static int grow(int d, bool cats)
{
    int i = nn++;
    if (d == 0 || nn + 2 >= MAX_NODES || (d < 10 && rnd(5) == 0)) {
        nodes[i] = (node){-1, -1, 0, 0, 0, (float)((int)rnd(2001) - 1000) / 997.0f};
        return i;
    }
    float c = (float)((int)rnd(2001) - 1000) / 13.0f;
    if (nth < 1024)
        thresholds[nth++] = c;
    nodes[i] = (node){0, 0, (int)rnd(NFEAT), (int)rnd(2), cats && rnd(6) == 0, c};
    nodes[i].l = grow(d - 1, cats);
    nodes[i].r = grow(d - 1, cats);
    return i;
}

/* What the last random_model holds, found from its nodes (not from the layout): its deepest
 * tree and its categorical splits, the two things that keep a model off the layout. */
static int model_deepest, model_cats;

static int depth_at(int i)
{
    if (nodes[i].l < 0)
        return 0;
    int l = depth_at(nodes[i].l), r = depth_at(nodes[i].r);
    return 1 + (l > r ? l : r);
}

static char *json;
static size_t jlen, jcap;

static void put(const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(json + jlen, jcap - jlen, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < jcap - jlen) {
            jlen += (size_t)n;
            return;
        }
        jcap = jcap * 2 + (size_t)n;
        json = realloc(json, jcap);
        assert_non_null(json);
    }
}

#define ARRAY(key, expr)                                                                                     \
    do {                                                                                                     \
        put("\"%s\":[", key);                                                                                \
        for (int i = 0; i < nn; i++)                                                                         \
            put(i ? ",%.9g" : "%.9g", (double)(expr));                                                       \
        put("],");                                                                                           \
    } while (0)

static void put_tree(int id)
{
    put("{\"id\":%d,\"tree_param\":{\"num_nodes\":\"%d\",\"num_feature\":\"%d\",\"num_deleted\":\"0\","
        "\"size_leaf_vector\":\"0\"},",
        id, nn, NFEAT);
    ARRAY("left_children", nodes[i].l);
    ARRAY("right_children", nodes[i].r);
    ARRAY("split_indices", nodes[i].f);
    ARRAY("split_conditions", nodes[i].cat ? 0.0f : nodes[i].cond);
    ARRAY("default_left", nodes[i].dl);
    ARRAY("split_type", nodes[i].cat && nodes[i].l >= 0);
    put("\"categories_nodes\":[");
    int k = 0;
    for (int i = 0; i < nn; i++)
        if (nodes[i].cat && nodes[i].l >= 0)
            put(k++ ? ",%d" : "%d", i);
    put("],\"categories_segments\":[");
    k = 0;
    int seg = 0;
    for (int i = 0; i < nn; i++)
        if (nodes[i].cat && nodes[i].l >= 0) {
            put(k++ ? ",%d" : "%d", seg);
            seg += 2;
        }
    put("],\"categories_sizes\":[");
    k = 0;
    for (int i = 0; i < nn; i++)
        if (nodes[i].cat && nodes[i].l >= 0)
            put(k++ ? ",2" : "2");
    put("],\"categories\":[");
    k = 0;
    for (int i = 0; i < nn; i++)
        if (nodes[i].cat && nodes[i].l >= 0)
            put(k++ ? ",1,3" : "1,3");
    put("]}");
}

/* A random model of ntrees trees of depth at most max_depth (some shallower, some leaves early). */
static rd_model *random_model(int ntrees, int nclass, int max_depth, bool cats)
{
    jlen = 0;
    const char *obj = nclass > 1 ? "multi:softprob" : rnd(2) ? "binary:logistic" : "reg:squarederror";
    put("{\"learner\":{\"attributes\":{},\"feature_names\":[],\"feature_types\":[],"
        "\"learner_model_param\":{\"base_score\":\"%s\",\"boost_from_average\":\"1\",\"num_class\":\"%d\","
        "\"num_feature\":\"%d\",\"num_target\":\"1\"},\"objective\":{\"name\":\"%s\"},"
        "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":"
        "\"1\",\"num_trees\":\"%d\",\"size_leaf_vector\":\"0\"},\"tree_info\":[",
        nclass > 1 ? "5E-1" : "3.1E-1", nclass > 1 ? nclass : 0, NFEAT, obj, ntrees);
    for (int t = 0; t < ntrees; t++)
        put(t ? ",%d" : "%d", nclass > 1 ? t % nclass : 0);
    put("],\"trees\":[");
    nth = 0;
    model_deepest = model_cats = 0;
    for (int t = 0; t < ntrees; t++) {
        nn = 0;
        grow((int)rnd((uint32_t)max_depth + 1), cats);
        int d = depth_at(0);
        model_deepest = d > model_deepest ? d : model_deepest;
        for (int i = 0; i < nn; i++)
            model_cats += nodes[i].cat && nodes[i].l >= 0;
        put(t ? "," : "");
        put_tree(t);
    }
    put("]}}},\"version\":[1,7,4]}");
    rd_model *m = NULL;
    rd_err err;
    if (rd_model_load_xgboost(json, jlen, &m, &err) != RD_OK)
        fail_msg("model refused: %s", err.msg);
    return m;
}

/* A row: NaN, a threshold, the float just below or above one, or anything. */
static void random_row(double *x)
{
    for (int f = 0; f < NFEAT; f++) {
        uint32_t k = rnd(10);
        float t = nth ? thresholds[rnd((uint32_t)nth)] : 0.0f;
        x[f] = k == 0   ? (double)NAN
               : k < 3  ? (double)t
               : k == 3 ? (double)nextafterf(t, -INFINITY)
               : k == 4 ? (double)nextafterf(t, INFINITY)
               : k == 5 ? (double)rnd(5) /* categories 0..4 */
                        : ((double)rnd(200001) - 100000.0) / 1300.0;
    }
}

/* The layout (fast) against the node walk (slow, the same model with its layout dropped) on
 * rows x: in batches on one and two threads, and every 16th row alone, with and without a
 * deadline (the path of /v1/score): every output the same bits. Frees both models. */
static void same_answers(rd_model *fast, rd_model *slow, const double *x, size_t rows, const char *what)
{
    rd_err err;
    size_t no = rd_model_num_outputs(fast, RD_OUTPUT_PROBABILITY);
    double *a = malloc(rows * no * sizeof(double)), *b = malloc(rows * no * sizeof(double));
    double *c = malloc(rows * no * sizeof(double)), *one = malloc(no * sizeof(double)),
           *two = malloc(no * sizeof(double));
    assert_true(a && b && c && one && two);
    for (rd_output kind = RD_OUTPUT_RAW; kind <= RD_OUTPUT_PROBABILITY; kind++) {
        assert_int_equal(rd_model_predict_batch(slow, x, rows, kind, a, 1, &err), RD_OK);
        assert_int_equal(rd_model_predict_batch(fast, x, rows, kind, b, 1, &err), RD_OK);
        assert_int_equal(rd_model_predict_batch(fast, x, rows, kind, c, 2, &err), RD_OK);
        for (size_t r = 0; r < rows; r++) {
            const double *xr = x + r * NFEAT;
            if (memcmp(a + r * no, b + r * no, no * sizeof(double)) ||
                memcmp(a + r * no, c + r * no, no * sizeof(double)))
                fail_msg(
                    "row %zu, output %d: node walk %.17g, layout %.17g / %.17g (%s; x = %.17g %.17g %.17g "
                    "%.17g %.17g %.17g)",
                    r, (int)kind, a[r * no], b[r * no], c[r * no], what, xr[0], xr[1], xr[2], xr[3], xr[4],
                    xr[5]);
            if (r % 16 == 0) {
                rd_model_predict(fast, xr, kind, one);
                assert_int_equal(rd_model_predict_until(fast, xr, kind, two,
                                                        rd_clock_ns() + (int64_t)3600 * 1000000000, &err),
                                 RD_OK);
                if (memcmp(one, a + r * no, no * sizeof(double)) ||
                    memcmp(two, a + r * no, no * sizeof(double)))
                    fail_msg("row %zu alone: %.17g and %.17g against %.17g (%s)", r, one[0], two[0],
                             a[r * no], what);
                rd_model_predict(slow, xr, kind, one);
                if (memcmp(one, a + r * no, no * sizeof(double)))
                    fail_msg("row %zu: the node walk alone %.17g, in a batch %.17g (%s)", r, one[0],
                             a[r * no], what);
            }
        }
    }
    free(a);
    free(b);
    free(c);
    free(one);
    free(two);
    rd_model_free(fast);
    rd_model_free(slow);
}

static size_t compare(int ntrees, int nclass, int max_depth, bool cats, size_t rows, bool want_forest)
{
    rd_model *fast = random_model(ntrees, nclass, max_depth, cats);
    rd_model *slow; /* the same text loaded again, its layout dropped */
    rd_err err;
    assert_int_equal(rd_model_load_xgboost(json, jlen, &slow, &err), RD_OK);
    rd__forest_free(slow->forest); /* the node walk: the reference */
    slow->forest = NULL;
    if (want_forest)
        assert_non_null(fast->forest);
    else if (model_cats || model_deepest > 10) /* past the layout: the node walk answers */
        assert_null(fast->forest);
    double *x = malloc(rows * NFEAT * sizeof(double));
    assert_non_null(x);
    for (size_t r = 0; r < rows; r++)
        random_row(x + r * NFEAT);
    char what[96];
    snprintf(what, sizeof what, "XGBoost: %d trees, depth <= %d, %d classes", ntrees, max_depth, nclass);
    same_answers(fast, slow, x, rows, what);
    free(x);
    return rows;
}

static void test_random_models(void **state)
{
    (void)state;
    size_t done = 0, per = TOTAL_ROWS / 200;
    for (int i = 0; done < TOTAL_ROWS; i++) {
        int ntrees = 1 + (int)rnd(i % 4 == 0 ? 300 : 40);
        int nclass = rnd(5) == 0 ? 2 + (int)rnd(3) : 1;
        done += compare(ntrees, nclass, 1 + (int)rnd(10), false, per, true);
    }
}

static void test_past_the_layout(void **state)
{
    (void)state;
    /* categorical splits, and trees deeper than the layout: no layout, and the node walk answers
       with the same bits; each kind met at least once */
    int cats = 0, deep = 0;
    for (int i = 0; i < 6; i++) {
        compare(20, 1, 6, true, 2000, false);
        cats += model_cats > 0;
    }
    for (int i = 0; i < 4; i++) {
        compare(10, 1, 13, false, 2000, false);
        deep += model_deepest > 10;
    }
    assert_true(cats > 0 && deep > 0);
}

static void test_shared_credit_model(void **state)
{
    (void)state;
    const char *dir = getenv("RISKD_SHARED");
    char path[4096];
    snprintf(path, sizeof(path), "%s/data/models/credit_xgb.json", dir ? dir : "../shared");
    rd_model *m;
    rd_err err;
    if (rd_model_load_file(path, &m, &err) != RD_OK)
        skip();
    assert_non_null(m->forest); /* 300 trees of depth 4: the layout takes them */
    rd_model_free(m);
}

/* ---------------------------------------------------------------- LightGBM */

#define ZT       ((double)1e-35f) /* LightGBM's kZeroThreshold */
#define POOL     6                /* bitsets a model's categorical splits draw from */
#define LMAX_CAT 256
#define INF      ((double)INFINITY)

typedef struct lnode {
    int l, r, f, dt, cat; /* cat: the bitset in the pool */
    double thr;
} lnode;

static lnode lnodes[MAX_NODES];
static double lleaves[MAX_NODES];
static int nln, nll;
static double lthresholds[1024];
static int nlth;
static uint32_t pool[POOL][3];
static int pool_words[POOL];

/* What random_lgbm may put in a model besides ordinary splits. */
typedef struct lopts {
    int max_depth;
    bool cats, linear, bad_thr; /* bad_thr: a threshold of +inf or NaN */
    int distinct_cats;          /* > 0: every categorical split its own bitset (too many columns) */
} lopts;

static double random_threshold(void)
{
    uint32_t k = rnd(16);
    double t = k == 0   ? 0.0
               : k == 1 ? ZT /* LightGBM's threshold for a split at 0 */
               : k == 2 ? -ZT
               : k == 3 ? -INF
               : k == 4 ? 1e300
               : k == 5 ? (double)((float)((int)rnd(2001) - 1000) / 13.0f) /* a float's value */
                        : ((double)rnd(2000001) - 1000000.0) / 7919.0;
    if (nlth < 1024)
        lthresholds[nlth++] = t;
    return t;
}

/* A random unbalanced subtree of at most depth d (leaf-wise growth makes long branches), of
 * depth d exactly along a spine: returns its child code, >= 0 a split, < 0 the leaf ~code,
 * numbered as LightGBM does. */
static int lgrow(int d, bool spine, const lopts *o)
{
    if (d == 0 || nln + 2 >= MAX_NODES || (!spine && nln > 0 && rnd(3) == 0)) {
        lleaves[nll] = ((double)rnd(2000001) - 1000000.0) / 9973.0;
        return ~nll++;
    }
    int i = nln++;
    bool cat = o->cats && rnd(o->distinct_cats ? 2 : 5) == 0;
    lnodes[i] = (lnode){0, 0, (int)rnd(NFEAT), (cat ? 1 : 0) | (int)rnd(2) << 1 | (int)rnd(3) << 2, 0, 0.0};
    if (cat)
        lnodes[i].cat = (int)rnd(POOL);
    else if (o->bad_thr && rnd(20) == 0)
        lnodes[i].thr = rnd(2) ? INF : (double)NAN;
    else
        lnodes[i].thr = random_threshold();
    /* one branch grows on, the other mostly stops: depth without width */
    bool deep_left = rnd(2);
    lnodes[i].l = lgrow(deep_left ? d - 1 : (int)rnd((uint32_t)d), spine && deep_left, o);
    lnodes[i].r = lgrow(deep_left ? (int)rnd((uint32_t)d) : d - 1, spine && !deep_left, o);
    return i;
}

#define LIST(key, n, fmt, expr)                                                                              \
    do {                                                                                                     \
        put(key "=");                                                                                        \
        for (int i = 0; i < (n); i++)                                                                        \
            put(i ? " " fmt : fmt, expr);                                                                    \
        put("\n");                                                                                           \
    } while (0)

static void put_lgbm_tree(int id, const lopts *o)
{
    nln = nll = 0;
    /* now and then a tree of one leaf (LightGBM writes them when a boosting round finds no split) */
    lgrow(id > 0 && rnd(16) == 0 ? 0 : o->max_depth, id == 0 || rnd(2) == 0, o);
    put("Tree=%d\nnum_leaves=%d\n", id, nll);
    if (nln == 0) {
        put("num_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\nleft_child=\n"
            "right_child=\nleaf_value=%.17g\nleaf_count=\ninternal_count=\nis_linear=0\nshrinkage=1\n\n",
            lleaves[0]);
        return;
    }
    /* each categorical split gets a bitset entry of its own (threshold: its index), drawn from
     * the model's pool so that splits share bitsets, or made distinct */
    int ncat = 0, bounds[LMAX_CAT + 1] = {0};
    uint32_t words[LMAX_CAT * 3];
    int nw = 0;
    for (int i = 0; i < nln; i++) {
        if (!(lnodes[i].dt & 1))
            continue;
        if (ncat == LMAX_CAT) { /* enough: the rest numerical */
            lnodes[i].dt &= ~1;
            lnodes[i].thr = random_threshold();
            continue;
        }
        const uint32_t *w = pool[lnodes[i].cat];
        int n = pool_words[lnodes[i].cat];
        for (int k = 0; k < n; k++)
            words[nw++] = w[k] ^ (o->distinct_cats ? (uint32_t)(id * 977 + i + 1) << (k ? 0 : 8) : 0u);
        lnodes[i].thr = ncat;
        bounds[++ncat] = nw;
    }
    put("num_cat=%d\n", ncat);
    LIST("split_feature", nln, "%d", lnodes[i].f);
    LIST("split_gain", nln, "%d", 1);
    LIST("threshold", nln, "%.17g", lnodes[i].thr);
    LIST("decision_type", nln, "%d", lnodes[i].dt);
    LIST("left_child", nln, "%d", lnodes[i].l);
    LIST("right_child", nln, "%d", lnodes[i].r);
    LIST("leaf_value", nll, "%.17g", lleaves[i]);
    LIST("leaf_count", nll, "%d", 1);
    LIST("internal_count", nln, "%d", 2);
    if (ncat) {
        LIST("cat_boundaries", ncat + 1, "%d", bounds[i]);
        LIST("cat_threshold", nw, "%u", words[i]);
    }
    if (o->linear && id == 0) { /* one linear tree: a constant and one term per leaf */
        put("is_linear=1\n");
        LIST("leaf_const", nll, "%.17g", lleaves[i] / 3.0);
        LIST("num_features", nll, "%d", 1);
        LIST("leaf_features", nll, "%d", i % NFEAT);
        LIST("leaf_coeff", nll, "%.17g", 0.25 + i);
    } else {
        put("is_linear=0\n");
    }
    put("shrinkage=1\n\n");
}

/* A random LightGBM model text of ntrees * nclass trees into json/jlen. */
static void random_lgbm(int ntrees, int nclass, const lopts *o)
{
    jlen = 0;
    for (int p = 0; p < POOL; p++) {
        pool_words[p] = 1 + (int)rnd(3);
        for (int k = 0; k < 3; k++)
            pool[p][k] = (uint32_t)rnd(1u << 16) << 16 | rnd(1u << 16);
    }
    uint32_t kind = rnd(4);
    const char *obj = nclass > 1  ? (kind < 2 ? "multiclass" : "multiclassova")
                      : kind == 0 ? "regression"
                      : kind == 1 ? "poisson"
                                  : "binary sigmoid:0.75";
    put("tree\nversion=v4\nnum_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\nmax_feature_idx=%d\n",
        nclass, nclass, NFEAT - 1);
    if (nclass > 1)
        put("objective=%s num_class:%d%s\n", obj, nclass, kind < 2 ? "" : " sigmoid:1.5");
    else
        put("objective=%s\n", obj);
    if (rnd(4) == 0)
        put("average_output\n");
    put("feature_names=f0 f1 f2 f3 f4 f5\nfeature_infos=none none none none none none\n\n");
    nlth = 0;
    for (int t = 0; t < ntrees * nclass; t++)
        put_lgbm_tree(t, o);
    put("end of trees\n\nparameters:\nend of parameters\n");
}

/* A row: NaN, zeros and their neighbours, a threshold or its neighbours, a category, anything. */
static void random_lgbm_row(double *x)
{
    for (int f = 0; f < NFEAT; f++) {
        uint32_t k = rnd(20);
        double t = nlth ? lthresholds[rnd((uint32_t)nlth)] : 0.0;
        x[f] = k == 0    ? (double)NAN
               : k == 1  ? 0.0
               : k == 2  ? -0.0
               : k == 3  ? (rnd(2) ? ZT : -ZT)
               : k == 4  ? nextafter(rnd(2) ? ZT : -ZT, INF)
               : k == 5  ? nextafter(rnd(2) ? ZT : -ZT, -INF)
               : k <= 7  ? t
               : k == 8  ? nextafter(t, -INF)
               : k == 9  ? nextafter(t, INF)
               : k <= 11 ? (double)rnd(100) /* categories, most of them in the bitsets' range */
               : k == 12 ? (rnd(2) ? -1.0 - rnd(3) : 2147483648.0 + rnd(3))
               : k == 13 ? (rnd(2) ? INF : -INF)
               : k == 14 ? (double)rnd(100) + 0.5
                         : ((double)rnd(2000001) - 1000000.0) / 1300.0;
    }
}

/* The model in json (random_lgbm's last) against its node walk. */
static size_t compare_loaded_lgbm(int ntrees, int nclass, const lopts *o, size_t rows, bool want_forest)
{
    rd_model *fast, *slow; /* the same text twice, the second's layout dropped: the node walk */
    rd_err err;
    if (rd_model_load_lightgbm(json, jlen, &fast, &err) != RD_OK)
        fail_msg("model refused: %s\n%.2000s", err.msg, json);
    assert_int_equal(rd_model_load_lightgbm(json, jlen, &slow, &err), RD_OK);
    rd__forest_free(slow->forest);
    slow->forest = NULL;
    if (want_forest && !fast->forest)
        fail_msg("no layout for a model it should take (%d trees, depth <= %d)", ntrees, o->max_depth);
    if (!want_forest && fast->forest)
        fail_msg("a layout for a model it should leave to the node walk (depth <= %d)", o->max_depth);
    double *x = malloc(rows * NFEAT * sizeof(double));
    assert_non_null(x);
    for (size_t r = 0; r < rows; r++)
        random_lgbm_row(x + r * NFEAT);
    char what[96];
    snprintf(what, sizeof what, "LightGBM: %d trees, depth <= %d, %d classes", ntrees, o->max_depth, nclass);
    same_answers(fast, slow, x, rows, what);
    free(x);
    return rows;
}

static size_t compare_lgbm(int ntrees, int nclass, const lopts *o, size_t rows, bool want_forest)
{
    random_lgbm(ntrees, nclass, o);
    return compare_loaded_lgbm(ntrees, nclass, o, rows, want_forest);
}

static void test_random_lightgbm(void **state)
{
    (void)state;
    size_t done = 0, per = TOTAL_ROWS / 200;
    for (int i = 0; done < TOTAL_ROWS; i++) {
        int ntrees = 1 + (int)rnd(i % 4 == 0 ? 300 : 40);
        int nclass = rnd(5) == 0 ? 2 + (int)rnd(3) : 1;
        lopts o = {1 + (int)rnd(i % 8 == 0 ? 32 : 16), rnd(2) == 0, false, false, 0};
        done += compare_lgbm(ntrees, nclass, &o, per, true);
    }
}

static void test_lightgbm_past_the_layout(void **state)
{
    (void)state;
    size_t rows = TOTAL_ROWS / 500;
    lopts linear = {6, true, true, false, 0}, thr = {8, false, false, true, 0},
          deep = {48, false, false, false, 0}, cols = {12, true, false, false, 1};
    for (int i = 0; i < 3; i++)
        compare_lgbm(20, 1, &linear, rows, false);
    int bad = 0; /* a +inf or NaN threshold somewhere among 60 trees' splits */
    for (int i = 0; i < 20 && bad < 3; i++) {
        random_lgbm(60, 1, &thr);
        if (strstr(json, " inf") || strstr(json, "=inf") || strstr(json, "nan")) {
            compare_loaded_lgbm(60, 1, &thr, rows, false); /* this model, not a new one */
            bad++;
        }
    }
    assert_true(bad > 0);
    for (int i = 0; i < 3; i++) /* deeper than 32: 20 trees, one of them at least 48 deep */
        compare_lgbm(20, 1, &deep, rows, false);
    /* more columns than the layout holds: 300 trees whose categorical splits have distinct bitsets */
    compare_lgbm(300, 1, &cols, rows, false);
}

static void test_lightgbm_vectors_laid_out(void **state)
{
    (void)state;
    const char *dir = getenv("RISKD_SHARED");
    char path[4096];
    snprintf(path, sizeof(path), "%s/data/lightgbm/leaves/lg_kddcup99.model", dir ? dir : "../shared");
    rd_model *m;
    rd_err err;
    if (rd_model_load_file(path, &m, &err) != RD_OK)
        skip();
    assert_non_null(m->forest); /* 130 trees up to 16 deep, categorical splits: the layout takes them */
    rd_model_free(m);
}

int main(void)
{
    json = malloc(jcap = 1 << 20);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_models),
        cmocka_unit_test(test_past_the_layout),
        cmocka_unit_test(test_shared_credit_model),
        cmocka_unit_test(test_random_lightgbm),
        cmocka_unit_test(test_lightgbm_past_the_layout),
        cmocka_unit_test(test_lightgbm_vectors_laid_out),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(json);
    return rc;
}
