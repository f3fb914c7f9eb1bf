/* The perfect-tree predictor (src/lib/model/forest.c) against the node walk it replaces, on
 * random XGBoost models: random depths up to the layout's limit and past it, NaN and default
 * directions, values on and next to every threshold, several output groups, categorical splits
 * (which keep the node walk). Every prediction, one row at a time and in batches on one and on
 * two threads, must be the node walk's bits. 10^6 rows in the release build (fewer under the
 * sanitizers, which only look for memory and thread errors). */
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
    for (int t = 0; t < ntrees; t++) {
        nn = 0;
        grow((int)rnd((uint32_t)max_depth + 1), cats);
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
    size_t no = rd_model_num_outputs(fast, RD_OUTPUT_PROBABILITY);
    double *x = malloc(rows * NFEAT * sizeof(double));
    double *a = malloc(rows * no * sizeof(double)), *b = malloc(rows * no * sizeof(double));
    double *c = malloc(rows * no * sizeof(double)), *raw1 = malloc(no * sizeof(double)),
           *raw2 = malloc(no * sizeof(double));
    assert_true(x && a && b && c && raw1 && raw2);
    for (size_t r = 0; r < rows; r++)
        random_row(x + r * NFEAT);
    for (rd_output kind = RD_OUTPUT_RAW; kind <= RD_OUTPUT_PROBABILITY; kind++) {
        assert_int_equal(rd_model_predict_batch(slow, x, rows, kind, a, 1, &err), RD_OK);
        assert_int_equal(rd_model_predict_batch(fast, x, rows, kind, b, 1, &err), RD_OK);
        assert_int_equal(rd_model_predict_batch(fast, x, rows, kind, c, 2, &err), RD_OK);
        for (size_t r = 0; r < rows; r++) {
            if (memcmp(a + r * no, b + r * no, no * sizeof(double)) ||
                memcmp(a + r * no, c + r * no, no * sizeof(double)))
                fail_msg(
                    "row %zu, output %d: node walk %.9g, forest %.9g (%d trees, depth <= %d, %d classes)", r,
                    (int)kind, a[r * no], b[r * no], ntrees, max_depth, nclass);
            if (r % 16 == 0) { /* one row at a time: the path of /v1/score */
                rd_model_predict(fast, x + r * NFEAT, kind, raw1);
                rd_model_predict(slow, x + r * NFEAT, kind, raw2);
                if (memcmp(raw1, raw2, no * sizeof(double)) || memcmp(raw1, a + r * no, no * sizeof(double)))
                    fail_msg("row %zu alone: %.9g against %.9g", r, raw1[0], raw2[0]);
            }
        }
    }
    free(x);
    free(a);
    free(b);
    free(c);
    free(raw1);
    free(raw2);
    rd_model_free(fast);
    rd_model_free(slow);
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
    /* categorical splits, and trees deeper than the layout: the node walk answers, same bits */
    for (int i = 0; i < 6; i++)
        compare(20, 1, 6, true, 2000, false);
    for (int i = 0; i < 4; i++)
        compare(10, 1, 13, false, 2000, false);
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

int main(void)
{
    json = malloc(jcap = 1 << 20);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_models),
        cmocka_unit_test(test_past_the_layout),
        cmocka_unit_test(test_shared_credit_model),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(json);
    return rc;
}
