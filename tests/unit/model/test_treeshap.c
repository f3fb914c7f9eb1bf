/* TreeSHAP (src/lib/model/treeshap.c) on hand-written XGBoost models.
 *
 * The reference is independent of the algorithm: Shapley values by enumeration of every
 * feature subset S, with v(S) the tree's cover-weighted conditional expectation (features in
 * S follow the row, the others split the weight between both children by cover), walked on
 * this file's own description of the trees, from which the JSON is generated. One row of the
 * small model is also worked out by hand. The shared credit model is checked against XGBoost
 * itself in tests/conformance/xgboost_contribs.c.
 *
 * The per-leaf tables (the fast path of rd_model_contributions) are checked against the walk
 * they replace (rd__shap_contributions without tables) on every row here, and on random rows
 * (split thresholds, either side of them, NaN, zero, small category codes) of the shared
 * XGBoost credit model and LightGBM models with categorical splits and missing values. */
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

#define MAX_NODES 600
#define MAX_FEAT  4

/* A node: l < 0 for a leaf (value in cond). cats: categorical split, the set goes right. */
typedef struct tnode {
    int l, r, f;
    double cond;
    int dl;
    double cover;
    int ncats;
    int cats[4];
} tnode;

typedef struct ttree {
    int n, group;
    tnode node[MAX_NODES];
} ttree;

#define SPLIT(l, r, f, c, dl, cov)                                                                           \
    {                                                                                                        \
        l, r, f, c, dl, cov, 0, { 0 }                                                                        \
    }
#define LEAF(v, cov)                                                                                         \
    {                                                                                                        \
        -1, -1, 0, v, 0, cov, 0, { 0 }                                                                       \
    }

/* ------------------------------------------------------------------ model JSON */

static char json[1 << 20];
static size_t jlen;

static void put(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(json + jlen, sizeof(json) - jlen, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(json) - jlen);
    jlen += (size_t)n;
}

#define ARRAY(key, expr)                                                                                     \
    do {                                                                                                     \
        put("\"%s\":[", key);                                                                                \
        for (int i = 0; i < t->n; i++)                                                                       \
            put(i ? ",%.9g" : "%.9g", (double)(expr));                                                       \
        put("],");                                                                                           \
    } while (0)

static void put_tree(const ttree *t, int id, bool covers)
{
    put("{\"id\":%d,\"tree_param\":{\"num_nodes\":\"%d\",\"num_feature\":\"%d\",\"num_deleted\":\"0\","
        "\"size_leaf_vector\":\"0\"},",
        id, t->n, MAX_FEAT);
    ARRAY("left_children", t->node[i].l);
    ARRAY("right_children", t->node[i].r);
    ARRAY("split_indices", t->node[i].f);
    ARRAY("split_conditions", t->node[i].cond);
    ARRAY("default_left", t->node[i].dl);
    ARRAY("split_type", t->node[i].ncats > 0);
    if (covers)
        ARRAY("sum_hessian", t->node[i].cover);
    put("\"categories_nodes\":[");
    int k = 0, seg = 0;
    for (int i = 0; i < t->n; i++)
        if (t->node[i].ncats)
            put(k++ ? ",%d" : "%d", i);
    put("],\"categories_segments\":[");
    k = 0;
    for (int i = 0; i < t->n; i++)
        if (t->node[i].ncats) {
            put(k++ ? ",%d" : "%d", seg);
            seg += t->node[i].ncats;
        }
    put("],\"categories_sizes\":[");
    k = 0;
    for (int i = 0; i < t->n; i++)
        if (t->node[i].ncats)
            put(k++ ? ",%d" : "%d", t->node[i].ncats);
    put("],\"categories\":[");
    k = 0;
    for (int i = 0; i < t->n; i++)
        for (int c = 0; c < t->node[i].ncats; c++)
            put(k++ ? ",%d" : "%d", t->node[i].cats[c]);
    put("]}");
}

static rd_model *build(const ttree *trees, int ntrees, int nclass, bool covers)
{
    jlen = 0;
    put("{\"learner\":{\"attributes\":{},\"feature_names\":[\"a\",\"b\",\"c\",\"d\"],\"feature_types\":[],"
        "\"learner_model_param\":{\"base_score\":\"5E-1\",\"boost_from_average\":\"1\",\"num_class\":\"%d\","
        "\"num_feature\":\"%d\",\"num_target\":\"1\"},\"objective\":{\"name\":\"%s\"},"
        "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":"
        "\"1\",\"num_trees\":\"%d\",\"size_leaf_vector\":\"0\"},\"tree_info\":[",
        nclass, MAX_FEAT, nclass > 1 ? "multi:softprob" : "reg:squarederror", ntrees);
    for (int t = 0; t < ntrees; t++)
        put(t ? ",%d" : "%d", trees[t].group);
    put("],\"trees\":[");
    for (int t = 0; t < ntrees; t++) {
        if (t)
            put(",");
        put_tree(&trees[t], t, covers);
    }
    put("]}}},\"version\":[1,7,4]}");
    rd_model *m = NULL;
    rd_err err;
    if (rd_model_load_xgboost(json, jlen, &m, &err) != RD_OK)
        fail_msg("model refused: %s", err.msg);
    return m;
}

/* ------------------------------------------------------------------ the reference */

/* The row's branch, by XGBoost's rules: float32 input, x < split left, NaN to the default,
 * a category in the set right (negative or non-category values left). */
static bool goes_left(const tnode *n, double v)
{
    if (isnan(v))
        return n->dl != 0;
    float fv = (float)v;
    if (n->ncats) {
        if (!(fv >= 0.0f && fv < 16777216.0f))
            return true;
        for (int c = 0; c < n->ncats; c++)
            if (n->cats[c] == (int)fv)
                return false;
        return true;
    }
    return fv < (float)n->cond;
}

/* v(S): features in mask follow the row, the others average the children by cover. */
static double cond_value(const ttree *t, int i, unsigned mask, const double *x)
{
    const tnode *n = &t->node[i];
    if (n->l < 0)
        return (double)(float)n->cond;
    if (mask & (1u << n->f))
        return cond_value(t, goes_left(n, x[n->f]) ? n->l : n->r, mask, x);
    double cl = (double)(float)t->node[n->l].cover, cr = (double)(float)t->node[n->r].cover;
    return (cl * cond_value(t, n->l, mask, x) + cr * cond_value(t, n->r, mask, x)) / (double)(float)n->cover;
}

/* Shapley values of group g by enumeration; phi[MAX_FEAT] is the bias. */
static void brute_force(const ttree *trees, int ntrees, int g, const double *x, double *phi)
{
    static const double fact[] = {1, 1, 2, 6, 24};
    const int M = MAX_FEAT;
    memset(phi, 0, (MAX_FEAT + 1) * sizeof(*phi));
    phi[M] = 0.5;
    for (int t = 0; t < ntrees; t++) {
        if (trees[t].group != g)
            continue;
        phi[M] += cond_value(&trees[t], 0, 0, x);
        for (int f = 0; f < M; f++)
            for (unsigned s = 0; s < (1u << M); s++) {
                if (s & (1u << f))
                    continue;
                int k = __builtin_popcount(s);
                double w = fact[k] * fact[M - k - 1] / fact[M];
                phi[f] += w * (cond_value(&trees[t], 0, s | (1u << f), x) - cond_value(&trees[t], 0, s, x));
            }
    }
}

/* ------------------------------------------------------------------ tables against the walk */

static double tables_max_err; /* the largest difference seen, relative to its row's scale */

/* The tables' contributions of row x against the walk's: each value within 1e-12 of the
 * largest magnitude of its group (the walk and the tables add the same terms in another
 * order, and a value that cancels to nearly 0 has no relative precision of its own). */
static void check_tables_row(const rd_model *m, const double *x)
{
    size_t nf = rd_model_num_features(m), stride = nf + 1, n = stride * m->nout;
    double *fast = malloc(n * sizeof(double)), *walk = malloc(n * sizeof(double));
    assert_non_null(fast);
    assert_non_null(walk);
    rd_err err;
    if (rd_model_contributions(m, x, fast, &err) != RD_OK ||
        rd__shap_contributions(m, x, walk, false, &err) != RD_OK)
        fail_msg("contributions: %s", err.msg);
    for (size_t g = 0; g < m->nout; g++) {
        double scale = 0;
        for (size_t j = 0; j < stride; j++)
            scale = fmax(scale, fabs(walk[g * stride + j]));
        for (size_t j = 0; j < stride; j++) {
            double a = fast[g * stride + j], b = walk[g * stride + j],
                   e = fabs(a - b) / (scale > 0 ? scale : 1);
            tables_max_err = e > tables_max_err ? e : tables_max_err;
            if (!(e <= 1e-12))
                fail_msg("group %zu value %zu: tables %.17g, walk %.17g", g, j, a, b);
        }
    }
    free(fast);
    free(walk);
}

/* riskd's contributions of every group against the reference and the margins. */
static void check_rows(const ttree *trees, int ntrees, int nclass, const double (*rows)[MAX_FEAT], int nrows,
                       double tol)
{
    rd_model *m = build(trees, ntrees, nclass, true);
    assert_int_equal(rd__shap_fast_trees(m, NULL), ntrees); /* few features: every tree has tables */
    size_t groups = nclass > 1 ? (size_t)nclass : 1;
    assert_int_equal(rd_model_num_outputs(m, RD_OUTPUT_RAW), groups);
    for (int r = 0; r < nrows; r++) {
        double got[4 * (MAX_FEAT + 1)], want[MAX_FEAT + 1], margin[4];
        rd_err err;
        if (rd_model_contributions(m, rows[r], got, &err) != RD_OK)
            fail_msg("row %d: %s", r, err.msg);
        rd_model_predict(m, rows[r], RD_OUTPUT_RAW, margin);
        check_tables_row(m, rows[r]);
        for (size_t g = 0; g < groups; g++) {
            brute_force(trees, ntrees, (int)g, rows[r], want);
            double sum = 0;
            for (int j = 0; j <= MAX_FEAT; j++) {
                double v = got[g * (MAX_FEAT + 1) + (size_t)j];
                sum += v;
                if (!(fabs(v - want[j]) <= tol * (1 + fabs(want[j]))))
                    fail_msg("row %d group %zu value %d: %.17g, brute force %.17g", r, g, j, v, want[j]);
            }
            /* The margin is a float32 sum: equal within its rounding. */
            if (!(fabs(sum - margin[g]) <= 1e-6 * (1 + fabs(margin[g]))))
                fail_msg("row %d group %zu: contributions sum to %.17g, margin %.17g", r, g, sum, margin[g]);
        }
    }
    rd_model_free(m);
}

/* ------------------------------------------------------------------ the models */

/* Tree 0 splits on a twice along its left path (a < 0.5, then a < 0.2); missing a goes left
 * at the root and right below. Tree 1: b < 2 with missing to the right, then c or a. */
static ttree small[2] = {
    {7,
     0,
     {SPLIT(1, 2, 0, 0.5, 1, 10), SPLIT(3, 4, 0, 0.2, 0, 6), SPLIT(5, 6, 1, 1.0, 1, 4), LEAF(1.0, 2),
      LEAF(2.0, 4), LEAF(-1.0, 3), LEAF(3.0, 1)}},
    {7,
     0,
     {SPLIT(1, 2, 1, 2.0, 0, 10), SPLIT(3, 4, 2, 0.0, 0, 7), SPLIT(5, 6, 0, 0.3, 0, 3), LEAF(0.5, 5),
      LEAF(-0.5, 2), LEAF(0.25, 1), LEAF(1.25, 2)}},
};

static void test_by_hand(void **state)
{
    (void)state;
    /* a = 0.1, b missing, c = 1. Tree 0 (expected value 1.0): v({}) = 1, v({a}) = 1,
     * v({b}) = 0.6 * 10/6 + 0.4 * -1 = 0.6, v({a,b}) = 1, so phi_a = 0.2, phi_b = -0.2.
     * Tree 1 (expected value 0.425, leaf 0.25): phi_a = -13/30, phi_b = 61/120, phi_c = -1/4.
     * Bias 0.5 + 1.0 + 0.425; the margin 0.5 + 1.0 + 0.25 = 1.75. */
    rd_model *m = build(small, 2, 0, true);
    double x[MAX_FEAT] = {0.1, (double)NAN, 1, 7}, out[MAX_FEAT + 1], margin;
    rd_err err;
    assert_int_equal(rd_model_contributions(m, x, out, &err), RD_OK);
    assert_true(fabs(out[0] - (0.2 - 13.0 / 30)) < 1e-12);
    assert_true(fabs(out[1] - (-0.2 + 61.0 / 120)) < 1e-12);
    assert_true(fabs(out[2] - -0.25) < 1e-12);
    assert_true(out[3] == 0); /* d is never split on */
    assert_true(fabs(out[4] - 1.925) < 1e-12);
    rd_model_predict(m, x, RD_OUTPUT_RAW, &margin);
    assert_true(margin == 1.75);
    assert_true(fabs(out[0] + out[1] + out[2] + out[3] + out[4] - margin) < 1e-12);
    rd_model_free(m);
}

static const double small_rows[][MAX_FEAT] = {
    {0.1, NAN, 1, 7},    {0.1, 0.5, -1, 0},       {0.3, 1.5, 0, 0},    {0.7, 0.5, 5, 0},
    {0.7, 3, -2, 0},     {NAN, NAN, NAN, NAN},    {0.2, 1, 0, 0},      {0.5, 2, 0, 0},
    {NAN, 2.5, 0.1, 0},  {0.25, NAN, -0.5, 1},    {1e30, -1e30, 0, 0}, {0.49999999, 0, 0, 0},
    {-0.0, 0.999, 0, 0}, {0.19999999, 1, NAN, 0},
};

static void test_brute_force(void **state)
{
    (void)state;
    check_rows(small, 2, 0, small_rows, (int)(sizeof(small_rows) / sizeof(small_rows[0])), 1e-12);
}

/* Categorical splits, a cold child with zero cover, two output groups, and a path a, b, a
 * (a repeated feature with another between: the case unwinding exists for; on a path where
 * it is the only feature, as in small[0], splitting it in two would add up the same). */
static ttree mixed[4] = {
    {5,
     0,
     {{1, 2, 3, 0, 1, 8, 2, {1, 3}}, SPLIT(3, 4, 3, 5.0, 0, 5), LEAF(-2, 3), LEAF(0.75, 5), LEAF(9, 0)}},
    {5, 1, {SPLIT(1, 2, 0, 0.0, 0, 6), LEAF(1.5, 2), {3, 4, 3, 0, 0, 4, 1, {2}}, LEAF(-1, 1), LEAF(4, 3)}},
    {7,
     1,
     {SPLIT(1, 2, 3, 2.5, 1, 9), SPLIT(3, 4, 1, 0.5, 0, 4), SPLIT(5, 6, 3, 3.5, 1, 5), LEAF(0.1, 1),
      LEAF(0.2, 3), LEAF(-0.3, 2), LEAF(0.4, 3)}},
    {9,
     0,
     {SPLIT(1, 2, 0, 0.0, 1, 12), SPLIT(3, 4, 1, 1.0, 0, 7), LEAF(-0.5, 5), SPLIT(5, 6, 0, -1.0, 0, 4),
      SPLIT(7, 8, 2, 0.5, 1, 3), LEAF(1.0, 1), LEAF(-2.0, 3), LEAF(0.5, 2), LEAF(3.0, 1)}},
};

static void test_categorical_zero_cover_multiclass(void **state)
{
    (void)state;
    static const double rows[][MAX_FEAT] = {
        {0, 0, 0, 1},   {0, 0, 0, 3},      {0, 0, 0, 2},   {0, 0, 0, 7},     {-1, 1, 0, 3.9},
        {1, 0, 0, NAN}, {NAN, NAN, 0, -1}, {2, 0, 0, 1e9}, {0.5, 1, 0, 2.5}, {1, 1, 0, 3.5},
        {-5, 0, 0, 6},  {-0.5, 0, 1, 0},   {-2, 0, 1, 0},  {-0.5, 2, 0, 0},  {-2, NAN, NAN, 1},
    };
    check_rows(mixed, 4, 2, rows, (int)(sizeof(rows) / sizeof(rows[0])), 1e-12);
}

/* A chain 256 levels deep (the loader's limit) cycling over three features: every feature
 * repeats many times on the path, so the path is unwound at nearly every node. */
static ttree chain[1];

static void test_deepest_tree(void **state)
{
    (void)state;
    ttree *t = &chain[0];
    double cover = 1e6;
    t->n = 0;
    for (int d = 0; d < 256; d++) {
        int self = t->n, leaf = self + 1, next = self + 2;
        double thr = (double)((d * 37) % 11) / 10.0;
        t->node[self] = (tnode)SPLIT(leaf, next, d % 3, thr, d % 2, cover);
        t->node[leaf] = (tnode)LEAF((double)((d * 13) % 7) - 3.0, cover * 0.03125);
        cover = (double)(float)(cover - cover * 0.03125); /* covers are float32 in the model */
        t->n += 2;
    }
    t->node[t->n++] = (tnode)LEAF(2.5, cover);
    static const double rows[][MAX_FEAT] = {
        {0.5, 0.5, 0.5, 0}, {0, 0, 0, 0},        {1, 1, 1, 0},
        {NAN, 0.3, 0.9, 0}, {0.45, NAN, NAN, 0}, {2, -1, 0.61, 0},
    };
    check_rows(chain, 1, 0, rows, (int)(sizeof(rows) / sizeof(rows[0])), 1e-9);
}

/* ------------------------------------------------------------------ refusals */

static void test_refusals(void **state)
{
    (void)state;
    double x[MAX_FEAT] = {0, 0, 0, 0}, out[MAX_FEAT + 1] = {42, 42, 42, 42, 42};
    rd_err err;
    /* No sum_hessian in the file: no covers, no TreeSHAP. Nothing is written. */
    rd_model *m = build(small, 2, 0, false);
    assert_int_equal(rd_model_contributions(m, x, out, &err), RD_EINVAL);
    assert_int_equal(err.code, RD_EINVAL);
    assert_non_null(strstr(err.msg, "sum_hessian"));
    for (int j = 0; j <= MAX_FEAT; j++)
        assert_true(out[j] == 42);
    rd_model_free(m);
    /* A split with cover 0 (its children's shares would divide by it). */
    static ttree zero[1] = {{3, 0, {SPLIT(1, 2, 0, 0.5, 1, 0), LEAF(1, 0), LEAF(2, 0)}}};
    m = build(zero, 1, 0, true);
    assert_int_equal(rd_model_contributions(m, x, out, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "tree 0 node 0"));
    assert_true(out[0] == 42);
    rd_model_free(m);
    /* A negative cover. */
    static ttree neg[1] = {{3, 0, {SPLIT(1, 2, 0, 0.5, 1, 1), LEAF(1, -1), LEAF(2, 2)}}};
    m = build(neg, 1, 0, true);
    assert_int_equal(rd_model_contributions(m, x, out, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "node 1"));
    assert_int_equal(rd_model_contributions(NULL, x, out, &err), RD_EINVAL);
    assert_int_equal(rd_model_contributions(m, x, NULL, NULL), RD_EINVAL);
    rd_model_free(m);
}

/* A model of one leaf per tree: depth 0, everything goes to the bias. */
static void test_stumps(void **state)
{
    (void)state;
    static ttree leaves[2] = {{1, 0, {LEAF(0.25, 3)}}, {1, 0, {LEAF(-1, 3)}}};
    rd_model *m = build(leaves, 2, 0, true);
    double x[MAX_FEAT] = {1, 2, 3, 4}, out[MAX_FEAT + 1];
    assert_int_equal(rd_model_contributions(m, x, out, NULL), RD_OK);
    for (int j = 0; j < MAX_FEAT; j++)
        assert_true(out[j] == 0);
    assert_true(out[MAX_FEAT] == 0.5 + 0.25 - 1);
    rd_model_free(m);
}

/* Thresholds per feature, to draw values either side of the splits. */
#define MAX_THR 64
typedef struct thresholds {
    size_t n[256];
    double v[256][MAX_THR];
    bool categorical[256];
} thresholds;

static void add_threshold(thresholds *th, long f, double v, bool categorical)
{
    if (f < 0 || f >= 256)
        return;
    th->categorical[f] |= categorical;
    if (!categorical && th->n[f] < MAX_THR)
        th->v[f][th->n[f]++] = v;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

/* Random rows: NaN, 0, a small category code, a threshold, just either side of one, or any. */
static void random_row(const thresholds *th, size_t nf, double *x)
{
    for (size_t j = 0; j < nf; j++) {
        uint32_t c = rnd(20);
        double t = th->n[j] ? th->v[j][rnd((uint32_t)th->n[j])] : (double)rnd(100);
        double eps = 1e-6 * (1 + fabs(t));
        if (c < 2)
            x[j] = NAN;
        else if (c < 3)
            x[j] = 0;
        else if (c < 6 || th->categorical[j])
            x[j] = rnd(4) == 0 ? (double)NAN : (double)rnd(40);
        else if (c < 8)
            x[j] = t;
        else if (c < 18)
            x[j] = rnd(2) ? t + eps : t - eps;
        else
            x[j] = ((double)rnd(2000001) - 1e6) / 1e3;
    }
}

static void check_tables_random(const rd_model *m, const thresholds *th, int nrows)
{
    size_t nf = rd_model_num_features(m);
    double *x = malloc(nf * sizeof(double));
    assert_non_null(x);
    for (int r = 0; r < nrows; r++) {
        random_row(th, nf, x);
        check_tables_row(m, x);
    }
    free(x);
}

static const char *shared_path(char *buf, size_t size, const char *rel)
{
    const char *dir = getenv("RISKD_SHARED");
    snprintf(buf, size, "%s/%s", dir && *dir ? dir : "../shared", rel);
    return buf;
}

/* The shared XGBoost credit model (300 trees of depth 4): every tree has tables. */
static void test_tables_xgboost_credit(void **state)
{
    (void)state;
    char path[4096];
    rd_model *m;
    rd_err err;
    if (rd_model_load_file(shared_path(path, sizeof(path), "data/models/credit_xgb.json"), &m, &err) !=
        RD_OK) {
        if (err.code == RD_EIO)
            skip();
        fail_msg("%s", err.msg);
    }
    size_t bytes;
    assert_int_equal(rd__shap_fast_trees(m, &bytes), m->ntrees);
    assert_true(bytes > 0 && bytes < (8u << 20));
    static thresholds th;
    memset(&th, 0, sizeof(th));
    for (size_t t = 0; t < m->ntrees; t++) { /* each tree from its root */
        const rd__xnode *nodes = m->nodes + m->tree_root[t];
        int32_t stack[600], top = 0;
        stack[top++] = 0;
        while (top) {
            const rd__xnode *n = &nodes[stack[--top]];
            if (n->left < 0 || top + 2 > 600)
                continue;
            add_threshold(&th, (long)(n->feature & RD__XNODE_FEATURE_MASK), (double)n->value,
                          (n->feature & RD__XNODE_CATEGORICAL) != 0);
            stack[top++] = n->left;
            stack[top++] = n->right;
        }
    }
    tables_max_err = 0;
    check_tables_random(m, &th, 3000);
    print_message("credit_xgb: %zu KiB of tables, max difference %.3g\n", bytes >> 10, tables_max_err);
    rd_model_free(m);
}

/* A LightGBM model file's split thresholds (split_feature, threshold, decision_type lines). */
static void lgbm_thresholds(const char *text, thresholds *th)
{
    memset(th, 0, sizeof(*th));
    for (const char *p = strstr(text, "\nsplit_feature="); p; p = strstr(p + 1, "\nsplit_feature=")) {
        const char *tp = strstr(p, "\nthreshold="), *dp = strstr(p, "\ndecision_type=");
        if (!tp || !dp)
            break;
        char *a = (char *)p + 15, *b = (char *)tp + 11, *c = (char *)dp + 15;
        while (*a != '\n' && *b != '\n' && *c != '\n') {
            char *ea, *eb, *ec;
            long f = strtol(a, &ea, 10);
            double v = strtod(b, &eb);
            long dt = strtol(c, &ec, 10);
            if (ea == a || eb == b || ec == c)
                break;
            add_threshold(th, f, v, (dt & 1) != 0);
            a = ea;
            b = eb;
            c = ec;
        }
    }
}

/* LightGBM models of the shared vectors: categorical splits (kddcup99, toy_categorical,
 * Poisson), NaN and zero as missing with both default directions (regression_missing,
 * Poisson), multi-class; breast_cancer has a tree with a path of more than 12 features,
 * which is walked while the others use their tables. */
static void test_tables_lightgbm(void **state)
{
    (void)state;
    static const char *models[] = {
        "data/lightgbm/leaves/lg_kddcup99.model",
        "data/lightgbm/leaves/genlin_fmtp_poisson_Frequency.model",
        "data/lightgbm/treelite/toy_categorical_model.txt",
        "data/lightgbm/boosters/regression_missing/model.txt",
        "data/lightgbm/boosters/multiclass/model.txt",
        "data/lightgbm/leaves/lg_breast_cancer.txt",
    };
    static thresholds th;
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        char path[4096];
        shared_path(path, sizeof(path), models[i]);
        FILE *in = fopen(path, "rb");
        if (!in)
            skip();
        static char text[8 << 20];
        size_t len = fread(text, 1, sizeof(text) - 1, in);
        fclose(in);
        text[len] = 0;
        rd_model *m;
        rd_err err;
        if (rd_model_load_buffer(text, len, &m, &err) != RD_OK)
            fail_msg("%s: %s", path, err.msg);
        lgbm_thresholds(text, &th);
        size_t bytes, fast = rd__shap_fast_trees(m, &bytes);
        if (strstr(path, "breast_cancer"))
            assert_true(fast > 0 && fast < m->ntrees);
        else
            assert_int_equal(fast, m->ntrees);
        tables_max_err = 0;
        check_tables_random(m, &th, 500);
        print_message("%s: %zu of %zu trees with tables (%zu KiB), max difference %.3g\n", models[i], fast,
                      m->ntrees, bytes >> 10, tables_max_err);
        rd_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_brute_force),
        cmocka_unit_test(test_categorical_zero_cover_multiclass),
        cmocka_unit_test(test_deepest_tree),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_stumps),
        cmocka_unit_test(test_tables_xgboost_credit),
        cmocka_unit_test(test_tables_lightgbm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
