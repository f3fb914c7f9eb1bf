/* TreeSHAP: the exact path-dependent SHAP values of a tree ensemble (Lundberg, Erion and Lee,
 * "Consistent individualized feature attribution for tree ensembles", Algorithm 2), the values
 * XGBoost returns for predict(pred_contribs=True).
 *
 * The value of a feature subset S is the tree's output when the features in S take the row's
 * values and the others are integrated out along the tree: at a split on a feature outside S
 * both children count, weighted by their share of the node's cover (training hessian sum).
 * The bias is that value for the empty set, the cover-weighted mean of the leaves; the
 * contributions of one row plus the bias add up to its margin (Shapley efficiency).
 *
 * How: one depth-first walk per tree carries the "unique path" of the features split on
 * between the root and the node. Each element holds the fraction of the cover that flows
 * along the path when the feature is absent (zero), whether the row flows along it when the
 * feature is present (one, 0 or 1), and pweight[i], the summed Shapley permutation weight
 * of the subsets of size i of the path's features. A feature split on twice is unwound and
 * extended again with the product of its fractions. At a leaf, each feature's weight is the
 * path's sum with that feature unwound: O(depth^2) per leaf, O(leaves * depth^2) per tree.
 *
 * Invariants:
 * - The walk is iterative. The path of a node at depth d lives in level d of one scratch
 *   block (levels 0..D of sizes 1..D+1, D the ensemble's maximum depth), which holds at
 *   most d+1 elements because each level adds at most one; a node's children are walked
 *   before any other node at depth d+1 is, so level d stays intact until both are done.
 *   The pending-visit stack holds at most D+1 entries (each pop pushes two children one
 *   level deeper). The loader bounds D by 256, so the scratch is at most ~1 MB.
 * - The hot child (the row's branch) is chosen exactly as prediction chooses it: float32
 *   input, `x < split` left, NaN to the default child, categories in the set go right.
 * - A child reached with zero and one both 0 (a cold child whose cover is 0) is skipped:
 *   every subset's weight through it is 0, and XGBoost's unwinding would divide by zero.
 * - Arithmetic is double; XGBoost's is float32, hence the 1e-5 tolerance against it.
 * - LightGBM trees are read through the same walk (tree_reader): internal nodes, then leaves,
 *   covered by the training row counts LightGBM stores, the covers its own TreeSHAP uses.
 * - The model is only read: any number of threads may call this at once.
 *
 * Fast path: per-leaf tables (Fast TreeSHAP v2, Yang 2021), built once by rd__shap_prepare.
 * A leaf's contributions depend on the row only through which of its path's d unique
 * features the row follows: a unique feature's zero (the product of its cover shares along
 * the path) is fixed, its one is 1 when the row takes every edge of the path on it, else 0.
 * So for each leaf and each of the 2^d failure patterns (bit k set: the row leaves the path
 * at the path's k-th unique feature, in order of first appearance from the root) the d
 * values leaf_contributions would add are computed at load by the same extend_path and
 * unwound_sum on the merged path. Leaves are then summed by block: a block is a subtree of
 * at most FAST_BLOCK_SPLITS (3) splits (a leaf alone is one) whose root's path features
 * plus its splits number at most FAST_MAX_FEATURES; its table has a row for each index
 * (the failure bits of the root's path, then the direction of each of its s splits), the
 * sum of its leaves' values for the patterns that index implies, over the block's features.
 * At predict time each split is decided once (prediction's own rules: XGBoost's
 * rd__xnode_next, LightGBM's node() reader, so NaN and default directions, categories and
 * LightGBM's missing types behave as in the walk); splits above the blocks carry failure
 * bits to their cold child, splits in a block set their direction bit in its index, and each
 * block adds one row: O(splits + blocks * width) per tree instead of O(leaves * depth^2)
 * (a complete depth-4 tree: 15 decisions and 4 rows of at most 5 values).
 * - Patterns in which a feature has zero 0 and one 0 are the subtrees the walk skips: they
 *   add 0. The bias of a tabled tree is its cover-weighted leaf mean, summed at load.
 * - Same arithmetic in another order of summation (and, on paths that repeat a feature,
 *   extended once with the merged fractions instead of unwound and extended again), so the
 *   values equal the walk's within ~1e-14 of the row's largest value;
 *   tests/unit/model/test_treeshap.c checks 1e-12 against the walk, which is kept for the
 *   trees without tables and as the reference (rd__shap_contributions, tables false).
 * - Bounds: a tree gets tables only when every path has at most FAST_MAX_FEATURES (12)
 *   unique features (the depth may be up to the 256 levels: a deep path repeating few
 *   features is fine), it has at most FAST_MAX_NODES (4096) nodes, and the model's tables
 *   stay within FAST_BUDGET_BYTES (256 MiB); trees are taken in order while they fit, the
 *   others are walked. A block of root path length d, s splits and w features costs
 *   2^(d+s) rows of the tree's width (its widest block, <= 15) doubles; a table index has
 *   at most 12 bits, so a block's table is at most 4096 * 15 * 8 = 480 KiB. Memory: the
 *   300-tree depth-4 credit model 1.2 MiB; LightGBM's 130-tree 31-leaf kddcup99 model (paths
 *   of up to 12 features) 36 MiB. Building costs O(2^d * d^2) per leaf and O(2^(d+s) * d)
 *   per leaf of a block: well under a second for these.
 *   When the tables cannot be allocated, every tree is walked (nothing fails).
 * - Predicting with tables allocates nothing: the per-node patterns (FAST_MAX_NODES 16-bit
 *   entries, 8 KB) live on the C stack. Nodes not reached from the root are never read. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_int.h"
#include "riskd/arena.h"

#define DEPTH_LIMIT 256 /* the loader's bound (xgboost.c MAX_DEPTH) */

typedef struct path_elem {
    int32_t feature; /* -1 for the root's placeholder element */
    double zero;     /* share of the cover that follows the path when the feature is absent */
    double one;      /* 1 when the row follows the path, else 0 */
    double pweight;  /* permutation weight of the subsets of size (this index) */
} path_elem;

typedef struct visit {
    uint32_t node;    /* index within the tree */
    uint32_t depth;   /* of the node; its parent's path is in level depth - 1 */
    uint32_t ud;      /* unique depth: elements of the parent's path, the new one goes here */
    int32_t feature;  /* the parent's split feature (-1 for the root) */
    double zero, one; /* the element to add for it */
    double reach;     /* product of cover shares from the root: weight in the expected value */
} visit;

/* How the walk reads a tree, so XGBoost's and LightGBM's layouts share it: node() fills in
 * a node (true for a split, whose hot child is the one prediction takes) and cover() gives a
 * node's cover. Nodes are numbered within their tree, the root 0. */
typedef struct tree_reader {
    bool (*node)(const rd_model *m, size_t tree, uint32_t node, const double *x, rd__shap_node *out);
    double (*cover)(const rd_model *m, size_t tree, uint32_t node);
} tree_reader;

/* XGBoost: the child is chosen by rd__xnode_next, shared with prediction. */
static bool xgb_node(const rd_model *m, size_t tree, uint32_t node, const double *x, rd__shap_node *out)
{
    const rd__xnode *n = &m->nodes[m->tree_root[tree] + node];
    out->cover = (double)m->cover[m->tree_root[tree] + node];
    if (n->left < 0) {
        out->value = (double)n->value;
        return false;
    }
    int32_t hot = x ? rd__xnode_next(m, n, (float)x[n->feature & RD__XNODE_FEATURE_MASK]) : n->left;
    out->hot = (uint32_t)hot;
    out->cold = (uint32_t)(hot == n->left ? n->right : n->left);
    out->feature = (int32_t)(n->feature & RD__XNODE_FEATURE_MASK);
    return true;
}

static double xgb_cover(const rd_model *m, size_t tree, uint32_t node)
{
    return (double)m->cover[m->tree_root[tree] + node];
}

static const tree_reader xgb_reader = {xgb_node, xgb_cover};

static double lgbm_cover(const rd_model *m, size_t tree, uint32_t node)
{
    rd__shap_node n;
    rd__lightgbm_shap_node(m, tree, node, NULL, &n);
    return n.cover;
}

static bool lgbm_node(const rd_model *m, size_t tree, uint32_t node, const double *x, rd__shap_node *out)
{
    return rd__lightgbm_shap_node(m, tree, node, x, out);
}

static const tree_reader lgbm_reader = {lgbm_node, lgbm_cover};

/* Divisions by small counts are multiplications by inv[k] = 1/k (k = 1 .. depth + 1), and
 * one is 0 or 1, so the inner loops below divide only once, by zero (the fraction), outside
 * the loop: a chain of dependent divisions took ~4x longer. */

/* Add an element at index ud of a path of ud elements, splitting each subset size's weight
 * between the subsets with the feature (one) and those without it (zero). */
static void extend_path(path_elem *p, const double *inv, uint32_t ud, double zero, double one,
                        int32_t feature)
{
    p[ud] = (path_elem){feature, zero, one, ud == 0 ? 1.0 : 0.0};
    double r = inv[ud + 1];
    for (uint32_t i = ud; i-- > 0;) {
        p[i + 1].pweight += one * p[i].pweight * (double)(i + 1) * r;
        p[i].pweight = zero * p[i].pweight * (double)(ud - i) * r;
    }
}

/* Undo the extension by element k of a path of ud + 1 elements (the inverse of
 * extend_path); the pweights stay by index, the other fields shift down. */
static void unwind_path(path_elem *p, const double *inv, uint32_t ud, uint32_t k)
{
    double one = p[k].one, zero = p[k].zero, next = p[ud].pweight, n1 = (double)(ud + 1), r = inv[ud + 1];
    if (one != 0) {
        for (uint32_t i = ud; i-- > 0;) {
            double t = p[i].pweight;
            p[i].pweight = next * n1 * inv[i + 1];
            next = t - p[i].pweight * zero * (double)(ud - i) * r;
        }
    } else {
        double rz = n1 / zero;
        for (uint32_t i = ud; i-- > 0;)
            p[i].pweight = p[i].pweight * rz * inv[ud - i];
    }
    for (uint32_t i = k; i < ud; i++) {
        p[i].feature = p[i + 1].feature;
        p[i].zero = p[i + 1].zero;
        p[i].one = p[i + 1].one;
    }
}

/* The total permutation weight the path would have with element k unwound. No element has
 * zero and one both 0 (those children are skipped), so no division is by zero. */
static double unwound_sum(const path_elem *p, const double *inv, uint32_t ud, uint32_t k)
{
    double one = p[k].one, zero = p[k].zero, next = p[ud].pweight, n1 = (double)(ud + 1), total = 0;
    if (one != 0) {
        double zr = zero * inv[ud + 1];
        for (uint32_t i = ud; i-- > 0;) {
            double t = next * n1 * inv[i + 1];
            total += t;
            next = p[i].pweight - t * zr * (double)(ud - i);
        }
    } else {
        for (uint32_t i = ud; i-- > 0;)
            total += p[i].pweight * inv[ud - i];
        total *= n1 / zero;
    }
    return total;
}

/* Check one tree's covers and measure its depth. Covers must be finite and >= 0, and > 0 at
 * splits (they are divided by). */
static int scan_tree(const rd_model *m, const tree_reader *rd, size_t t, uint32_t *max_depth, rd_err *err)
{
    struct {
        uint32_t node, depth;
    } stack[DEPTH_LIMIT + 2];
    size_t top = 1;
    stack[0].node = 0;
    stack[0].depth = 0;
    const char *what = m->kind == RD_MODEL_LIGHTGBM ? "internal_count/leaf_count" : "sum_hessian";
    while (top) {
        top--;
        uint32_t i = stack[top].node, d = stack[top].depth;
        rd__shap_node n;
        bool split = rd->node(m, t, i, NULL, &n);
        if (!isfinite(n.cover) || n.cover < 0 || (split && n.cover == 0))
            return rd_err_set(err, RD_EINVAL,
                              "contributions: tree %zu node %u has cover (%s) %g, TreeSHAP needs %s", t, i,
                              what, n.cover, split ? "a positive cover at every split" : "covers >= 0");
        if (d > *max_depth)
            *max_depth = d;
        if (!split)
            continue;
        if (d >= DEPTH_LIMIT || top + 2 > sizeof(stack) / sizeof(stack[0]))
            return rd_err_set(err, RD_EINVAL, "contributions: tree %zu is deeper than %d levels", t,
                              DEPTH_LIMIT);
        stack[top].node = n.hot;
        stack[top++].depth = d + 1;
        stack[top].node = n.cold;
        stack[top++].depth = d + 1;
    }
    return RD_OK;
}

/* At a leaf: each path feature gets its unwound weight times (one - zero) times the leaf. */
static void leaf_contributions(const path_elem *p, const double *inv, uint32_t ud, double leaf, double *phi)
{
    for (uint32_t i = 1; i <= ud; i++) {
        double w = unwound_sum(p, inv, ud, i);
        phi[p[i].feature] += w * (p[i].one - p[i].zero) * leaf;
    }
}

/* Add tree t's contributions to phi and return its expected value. levels and stack are the
 * scratch sized for the ensemble's maximum depth (see the invariants above). */
static inline double tree_shap(const rd_model *m, const tree_reader *rd, size_t t, const double *x,
                               path_elem *levels, visit *stack, const double *inv, double *phi)
{
    double expected = 0;
    size_t top = 0;
    stack[top++] = (visit){.node = 0, .depth = 0, .ud = 0, .feature = -1, .zero = 1, .one = 1, .reach = 1};
    while (top) {
        visit v = stack[--top];
        path_elem *p = levels + (size_t)v.depth * (v.depth + 1) / 2;
        if (v.ud > 0)
            memcpy(p, p - v.depth, v.ud * sizeof(*p)); /* the parent's level starts depth earlier */
        extend_path(p, inv, v.ud, v.zero, v.one, v.feature);
        uint32_t ud = v.ud;
        rd__shap_node n;
        if (!rd->node(m, t, v.node, x, &n)) {
            leaf_contributions(p, inv, ud, n.value, phi);
            expected += v.reach * n.value;
            continue;
        }
        double hot_zero = rd->cover(m, t, n.hot) / n.cover, cold_zero = rd->cover(m, t, n.cold) / n.cover;
        double in_zero = 1, in_one = 1;
        int32_t f = n.feature;
        /* Split on this feature before: unwind it, to extend again with both fractions. */
        for (uint32_t k = 1; k <= ud; k++) {
            if (p[k].feature == f) {
                in_zero = p[k].zero;
                in_one = p[k].one;
                unwind_path(p, inv, ud, k);
                ud--;
                break;
            }
        }
        /* Cold first, so the hot child is walked first (XGBoost's order). */
        if (cold_zero * in_zero != 0)
            stack[top++] = (visit){.node = n.cold,
                                   .depth = v.depth + 1,
                                   .ud = ud + 1,
                                   .feature = f,
                                   .zero = cold_zero * in_zero,
                                   .one = 0,
                                   .reach = v.reach * cold_zero};
        if (hot_zero * in_zero != 0 || in_one != 0)
            stack[top++] = (visit){.node = n.hot,
                                   .depth = v.depth + 1,
                                   .ud = ud + 1,
                                   .feature = f,
                                   .zero = hot_zero * in_zero,
                                   .one = in_one,
                                   .reach = v.reach * hot_zero};
    }
    return expected;
}

/* ------------------------------------------------------------------ tables (the fast path) */

#define FAST_MAX_FEATURES 12 /* unique features on a path; also the index bits of a block */
#define FAST_BLOCK_SPLITS 3  /* splits in a block */
#define FAST_MAX_NODES    4096
#define FAST_BUDGET_BYTES ((size_t)256 << 20)

/* Every offset below is uint32_t: the budget keeps each array under 2^26 entries. */
_Static_assert(FAST_BUDGET_BYTES / sizeof(uint32_t) < UINT32_MAX, "table offsets are 32-bit");
_Static_assert(FAST_MAX_FEATURES <= 16, "patterns are 16-bit");

/* A tree with tables: the splits above its blocks (parents before children), the splits in
 * its blocks, its blocks, and the width of its table rows (the most features of one block;
 * narrower blocks are padded with feature 0 and value 0, so every add loop of a tree runs
 * the same count). */
typedef struct fast_tree {
    uint32_t split0, nsplit, bsplit0, nbsplit, block0, nblock, width;
    bool tables;     /* false: the tree is walked */
    double expected; /* its bias */
} fast_tree;

typedef struct fast_split {
    uint32_t node; /* as the reader numbers it */
    uint32_t bit;  /* 1 << the position of its feature among its path's unique features */
} fast_split;

typedef struct fast_bsplit {
    uint32_t node;  /* a split in a block */
    uint32_t first; /* its first child (the one the reader calls hot without a row) */
    uint32_t root;  /* its block's root */
    uint32_t shift; /* where its direction (1: not first) goes in the block's index */
} fast_bsplit;

typedef struct fast_block {
    uint32_t root;
    uint32_t feats;  /* width entries of rd__shap_fast.feats from here */
    uint32_t values; /* 2^(d + s) rows of width values of rd__shap_fast.values from here */
} fast_block;

struct rd__shap_fast {
    fast_tree *trees; /* m->ntrees */
    fast_split *splits;
    fast_bsplit *bsplits;
    fast_block *blocks;
    int32_t *feats;
    double *values;
    size_t ntrees; /* with tables */
    size_t bytes;  /* of all the arrays but trees */
};

/* Sizes of a tree's arrays, or the offsets reached while filling them. */
typedef struct fast_size {
    size_t splits, bsplits, blocks, feats, values;
    size_t rows;  /* table rows of the tree's blocks */
    size_t nodes; /* the largest node number + 1 */
    uint32_t width;
} fast_size;

/* A pending node of the load-time walk, with its path: the unique features from the root,
 * the product of each one's cover shares, and, in a block, the path's splits below the
 * block's root (their index in the block, side taken, feature position on the path). */
typedef struct fast_visit {
    uint32_t node, nuniq, nb;
    bool in_block;
    double reach;
    int32_t feat[FAST_MAX_FEATURES];
    double zero[FAST_MAX_FEATURES];
    uint8_t bj[FAST_BLOCK_SPLITS], bk[FAST_BLOCK_SPLITS];
    bool bfirst[FAST_BLOCK_SPLITS];
} fast_visit;

/* The block being walked: its root's path length d, its split count s, the splits numbered
 * so far, its features (the root's path's, then its splits' new ones) and, when filling,
 * its rows. */
typedef struct fast_blockstate {
    uint32_t root, d, s, nsplit, nfeat;
    int32_t feat[FAST_MAX_FEATURES + FAST_BLOCK_SPLITS];
    int32_t *feats; /* filling: its features, padded to the tree's width */
    double *values; /* filling: its rows */
} fast_blockstate;

/* Load-time scratch: the walk's stack (DEPTH_LIMIT + 2 visits), one leaf's table
 * (2^FAST_MAX_FEATURES rows of FAST_MAX_FEATURES), the reciprocals, the current block. */
typedef struct fast_scratch {
    fast_visit *stack;
    double *leaf;
    double inv[FAST_MAX_FEATURES + 2];
    fast_blockstate blk;
} fast_scratch;

/* One leaf's table, width d: for each failure pattern (bit k: the row leaves the path at its
 * k-th unique feature), the d values leaf_contributions adds for that pattern. */
static void fill_leaf(const fast_visit *v, double leaf, const double *inv, double *out)
{
    uint32_t d = v->nuniq;
    path_elem p[FAST_MAX_FEATURES + 1];
    for (uint32_t mask = 0; mask < (1u << d); mask++, out += d) {
        bool dead = false;
        for (uint32_t k = 0; k < d; k++)
            dead |= ((mask >> k) & 1) && v->zero[k] == 0;
        if (dead) { /* zero and one both 0: the walk skips this leaf */
            memset(out, 0, d * sizeof(*out));
            continue;
        }
        extend_path(p, inv, 0, 1, 1, -1);
        for (uint32_t k = 0; k < d; k++)
            extend_path(p, inv, k + 1, v->zero[k], ((mask >> k) & 1) ? 0.0 : 1.0, v->feat[k]);
        for (uint32_t k = 0; k < d; k++)
            out[k] = unwound_sum(p, inv, d, k + 1) * (p[k + 1].one - p[k + 1].zero) * leaf;
    }
}

/* How many splits the subtree of node has, counted up to FAST_BLOCK_SPLITS + 1. The stack
 * grows by one per split counted. */
static uint32_t subtree_splits(const rd_model *m, const tree_reader *rd, size_t t, uint32_t node)
{
    uint32_t stack[FAST_BLOCK_SPLITS + 3], top = 1, count = 0;
    stack[0] = node;
    while (top && count <= FAST_BLOCK_SPLITS) {
        rd__shap_node n;
        if (!rd->node(m, t, stack[--top], NULL, &n))
            continue;
        count++;
        stack[top++] = n.cold;
        stack[top++] = n.hot;
    }
    return count;
}

/* v, not yet in a block, becomes the root of one of s splits: measure it, or enter it. */
static void block_start(fast_scratch *sc, rd__shap_fast *f, fast_size *sz, fast_visit *v, uint32_t s)
{
    fast_blockstate *b = &sc->blk;
    *b = (fast_blockstate){.root = v->node, .d = v->nuniq, .s = s, .nsplit = 0, .nfeat = v->nuniq};
    memcpy(b->feat, v->feat, v->nuniq * sizeof(*v->feat));
    size_t rows = (size_t)1 << (b->d + s);
    if (f) {
        f->blocks[sz->blocks] = (fast_block){v->node, (uint32_t)sz->feats, (uint32_t)sz->values};
        b->feats = f->feats + sz->feats;
        b->values = f->values + sz->values;
        memcpy(b->feats, v->feat, v->nuniq * sizeof(*v->feat));
        sz->feats += sz->width;
        sz->values += rows * sz->width;
    } else if (b->nfeat > sz->width) {
        sz->width = b->nfeat;
    }
    sz->blocks++;
    sz->rows += rows;
    v->in_block = true;
    v->nb = 0;
}

/* Add the leaf v reaches (in the current block) to each of the block's rows: for a row's
 * index (the root's failure bits, then the directions of the block's splits), the leaf's
 * failure pattern, and its table's row for it at the block's positions of its features. */
static void block_add_leaf(fast_scratch *sc, const fast_visit *v, double leaf, uint32_t width)
{
    const fast_blockstate *b = &sc->blk;
    uint32_t d = v->nuniq, pos[FAST_MAX_FEATURES];
    for (uint32_t k = 0; k < d; k++) {
        pos[k] = k;
        if (k >= b->d)
            while (b->feat[pos[k]] != v->feat[k]) /* there: its split added it */
                pos[k]++;
    }
    fill_leaf(v, leaf, sc->inv, sc->leaf);
    size_t rows = (size_t)1 << (b->d + b->s);
    for (size_t i = 0; i < rows; i++) {
        uint32_t pat = (uint32_t)i & ((1u << b->d) - 1);
        for (uint32_t c = 0; c < v->nb; c++)
            if ((bool)((i >> (b->d + v->bj[c])) & 1) == v->bfirst[c]) /* went the other way */
                pat |= 1u << v->bk[c];
        const double *src = sc->leaf + (size_t)pat * d;
        double *dst = b->values + i * width;
        for (uint32_t k = 0; k < d; k++)
            dst[pos[k]] += src[k];
    }
}

/* The child c of split v (share frac of its cover) onto the stack: its path merges the split's
 * feature f, at position k (k == v->nuniq: a new one). */
static void push_child(fast_visit *stack, size_t *top, const fast_visit *v, uint32_t c, int32_t f, uint32_t k,
                       double frac)
{
    fast_visit *w = &stack[(*top)++];
    *w = *v;
    w->node = c;
    w->reach = v->reach * frac;
    if (k == v->nuniq) {
        w->feat[k] = f;
        w->zero[k] = frac;
        w->nuniq++;
    } else {
        w->zero[k] = frac * v->zero[k];
    }
}

/* Split n at v (its feature at path position k): push its children, and record it, above
 * the blocks (its failure bit) or in the current one (where its direction goes). */
static void split_build(const rd_model *m, const tree_reader *rd, size_t t, rd__shap_fast *f, fast_size *sz,
                        fast_scratch *sc, const fast_visit *v, const rd__shap_node *n, uint32_t k,
                        size_t *top)
{
    double cold = rd->cover(m, t, n->cold) / n->cover, hot = rd->cover(m, t, n->hot) / n->cover;
    /* Cold first, so the hot child is walked first, as the walk does. */
    push_child(sc->stack, top, v, n->cold, n->feature, k, cold);
    push_child(sc->stack, top, v, n->hot, n->feature, k, hot);
    if (!v->in_block) {
        if (f)
            f->splits[sz->splits] = (fast_split){v->node, 1u << k};
        sz->splits++;
        return;
    }
    fast_blockstate *b = &sc->blk;
    uint32_t j = b->nsplit++, p = 0;
    while (p < b->nfeat && b->feat[p] != n->feature)
        p++;
    if (p == b->nfeat) {
        b->feat[b->nfeat++] = n->feature;
        if (f)
            b->feats[p] = n->feature;
        else if (b->nfeat > sz->width)
            sz->width = b->nfeat;
    }
    if (f)
        f->bsplits[sz->bsplits] = (fast_bsplit){v->node, n->hot, b->root, b->d + j};
    sz->bsplits++;
    for (size_t c = 0; c < 2; c++) { /* cold, then hot (the first child without a row) */
        fast_visit *w = &sc->stack[*top - 2 + c];
        w->bj[w->nb] = (uint8_t)j;
        w->bk[w->nb] = (uint8_t)k;
        w->bfirst[w->nb] = c == 1;
        w->nb++;
    }
}

/* Walk tree t's paths, the first child first. Each node not in a block whose subtree has at
 * most FAST_BLOCK_SPLITS splits, and whose path with them has at most FAST_MAX_FEATURES
 * features, is a block's root (a leaf always can be). Without f, only measure the tree into
 * *sz (zeroed by the caller); false when a path has more than FAST_MAX_FEATURES unique
 * features or the tree more than FAST_MAX_NODES nodes. With f, fill its arrays from the
 * offsets in *sz (sz->width set) and its bias. */
static bool fast_tree_build(const rd_model *m, const tree_reader *rd, size_t t, rd__shap_fast *f,
                            fast_size *sz, fast_scratch *sc)
{
    double expected = 0;
    size_t top = 1;
    sc->stack[0] = (fast_visit){.node = 0, .nuniq = 0, .reach = 1};
    while (top) {
        fast_visit v = sc->stack[--top];
        if (v.node >= sz->nodes)
            sz->nodes = v.node + (size_t)1;
        if (sz->nodes > FAST_MAX_NODES)
            return false;
        if (!v.in_block) {
            uint32_t s = subtree_splits(m, rd, t, v.node);
            if (s <= FAST_BLOCK_SPLITS && v.nuniq + s <= FAST_MAX_FEATURES)
                block_start(sc, f, sz, &v, s);
        }
        rd__shap_node n;
        if (!rd->node(m, t, v.node, NULL, &n)) {
            if (f)
                block_add_leaf(sc, &v, n.value, sz->width);
            expected += v.reach * n.value;
            continue;
        }
        uint32_t k = 0;
        while (k < v.nuniq && v.feat[k] != n.feature)
            k++;
        if (k == FAST_MAX_FEATURES)
            return false;
        split_build(m, rd, t, f, sz, sc, &v, &n, k, &top);
    }
    if (f)
        f->trees[t].expected = expected;
    return true;
}

void rd__shap_free(rd__shap_fast *f)
{
    if (!f)
        return;
    rd_free(f->trees);
    rd_free(f->splits);
    rd_free(f->bsplits);
    rd_free(f->blocks);
    rd_free(f->feats);
    rd_free(f->values);
    rd_free(f);
}

/* Measure every tree and choose, in order, those whose tables fit in what is left of the
 * budget; the totals go to *total. */
static void fast_plan(const rd_model *m, const tree_reader *rd, rd__shap_fast *f, fast_scratch *sc,
                      fast_size *total)
{
    for (size_t t = 0; t < m->ntrees; t++) {
        fast_size sz = {0};
        if (!fast_tree_build(m, rd, t, NULL, &sz, sc))
            continue;
        size_t feats = sz.blocks * sz.width, values = sz.rows * sz.width;
        size_t bytes = sz.splits * sizeof(fast_split) + sz.bsplits * sizeof(fast_bsplit) +
                       sz.blocks * sizeof(fast_block) + feats * sizeof(int32_t) + values * sizeof(double);
        if (bytes > FAST_BUDGET_BYTES - f->bytes)
            continue;
        f->trees[t] = (fast_tree){.split0 = (uint32_t)total->splits,
                                  .nsplit = (uint32_t)sz.splits,
                                  .bsplit0 = (uint32_t)total->bsplits,
                                  .nbsplit = (uint32_t)sz.bsplits,
                                  .block0 = (uint32_t)total->blocks,
                                  .nblock = (uint32_t)sz.blocks,
                                  .width = sz.width,
                                  .tables = true};
        total->splits += sz.splits;
        total->bsplits += sz.bsplits;
        total->blocks += sz.blocks;
        total->feats += feats;
        total->values += values;
        f->bytes += bytes;
        f->ntrees++;
    }
}

/* Build the tables of the trees that fit (see the opening comment); NULL when none does or
 * memory runs out, and then every tree is walked. */
static rd__shap_fast *fast_build(const rd_model *m, const tree_reader *rd)
{
    fast_scratch sc = {.stack = rd_malloc((DEPTH_LIMIT + 2) * sizeof(fast_visit)),
                       .leaf = rd_malloc(((size_t)FAST_MAX_FEATURES << FAST_MAX_FEATURES) * sizeof(double))};
    sc.inv[0] = 0;
    for (size_t k = 1; k < FAST_MAX_FEATURES + 2; k++)
        sc.inv[k] = 1.0 / (double)k;
    rd__shap_fast *f = rd_calloc(1, sizeof(*f));
    if (!f || !sc.stack || !sc.leaf || m->ntrees == 0 ||
        !(f->trees = rd_calloc(m->ntrees, sizeof(*f->trees))))
        goto fail;
    fast_size total = {0};
    fast_plan(m, rd, f, &sc, &total);
    if (f->ntrees == 0)
        goto fail;
    /* + 1: no zero-sized allocations. feats and values start at 0: the padding. */
    f->splits = rd_malloc((total.splits + 1) * sizeof(*f->splits));
    f->bsplits = rd_malloc((total.bsplits + 1) * sizeof(*f->bsplits));
    f->blocks = rd_malloc((total.blocks + 1) * sizeof(*f->blocks));
    f->feats = rd_calloc(total.feats + 1, sizeof(*f->feats));
    f->values = rd_calloc(total.values + 1, sizeof(*f->values));
    if (!f->splits || !f->bsplits || !f->blocks || !f->feats || !f->values)
        goto fail;
    fast_size at = {0};
    for (size_t t = 0; t < m->ntrees; t++) {
        if (!f->trees[t].tables)
            continue;
        at.width = f->trees[t].width;
        at.nodes = 0;
        fast_tree_build(m, rd, t, f, &at, &sc);
    }
    rd_free(sc.stack);
    rd_free(sc.leaf);
    return f;
fail:
    rd_free(sc.stack);
    rd_free(sc.leaf);
    rd__shap_free(f);
    return NULL;
}

/* Add a tabled tree's blocks to phi, each block's row for its index. */
static inline void fast_add_blocks(const rd__shap_fast *f, const fast_tree *ft, const uint16_t *mask,
                                   double *phi)
{
    const fast_block *b = f->blocks + ft->block0;
    uint32_t w = ft->width;
    for (uint32_t i = 0; i < ft->nblock; i++) {
        const double *v = f->values + b[i].values + (size_t)mask[b[i].root] * w;
        const int32_t *feat = f->feats + b[i].feats;
        for (uint32_t k = 0; k < w; k++)
            phi[feat[k]] += v[k];
    }
}

/* Add tabled tree t's contributions to phi and return its bias. Each split is decided once
 * by the reader: above the blocks, its failure bit is carried to its cold child (parents
 * come first, so a block's root has its bits before its splits add their directions);
 * then each block adds its row. Nodes not reached from the root keep no pattern and are
 * never read. */
static inline double fast_tree_shap(const rd_model *m, const tree_reader *rd, const rd__shap_fast *f,
                                    size_t t, const double *x, double *phi)
{
    const fast_tree *ft = &f->trees[t];
    const fast_split *s = f->splits + ft->split0;
    const fast_bsplit *bs = f->bsplits + ft->bsplit0;
    uint16_t mask[FAST_MAX_NODES];
    mask[0] = 0;
    for (uint32_t i = 0; i < ft->nsplit; i++) {
        rd__shap_node n;
        rd->node(m, t, s[i].node, x, &n);
        uint16_t m0 = mask[s[i].node];
        mask[n.hot] = m0;
        mask[n.cold] = (uint16_t)(m0 | s[i].bit);
    }
    for (uint32_t i = 0; i < ft->nbsplit; i++) {
        rd__shap_node n;
        rd->node(m, t, bs[i].node, x, &n);
        mask[bs[i].root] |= (uint16_t)((uint32_t)(n.hot != bs[i].first) << bs[i].shift);
    }
    fast_add_blocks(f, ft, mask, phi);
    return ft->expected;
}

/* The same for an XGBoost tree, reading its nodes directly (the hot path of reason codes):
 * branch-free but for the rare categorical split. */
static double fast_tree_shap_xgb(const rd_model *m, const rd__shap_fast *f, size_t t, const double *x,
                                 double *phi)
{
    const fast_tree *ft = &f->trees[t];
    const fast_split *s = f->splits + ft->split0;
    const fast_bsplit *bs = f->bsplits + ft->bsplit0;
    const rd__xnode *nodes = m->nodes + m->tree_root[t];
    uint16_t mask[FAST_MAX_NODES];
    mask[0] = 0;
    for (uint32_t i = 0; i < ft->nsplit; i++) {
        const rd__xnode *n = &nodes[s[i].node];
        int32_t hot = rd__xnode_next(m, n, (float)x[n->feature & RD__XNODE_FEATURE_MASK]);
        uint16_t m0 = mask[s[i].node];
        mask[hot] = m0;
        mask[n->left + n->right - hot] = (uint16_t)(m0 | s[i].bit);
    }
    for (uint32_t i = 0; i < ft->nbsplit; i++) {
        const rd__xnode *n = &nodes[bs[i].node];
        int32_t hot = rd__xnode_next(m, n, (float)x[n->feature & RD__XNODE_FEATURE_MASK]);
        mask[bs[i].root] |= (uint16_t)((uint32_t)(hot != n->left) << bs[i].shift);
    }
    fast_add_blocks(f, ft, mask, phi);
    return ft->expected;
}

size_t rd__shap_fast_trees(const rd_model *m, size_t *bytes)
{
    if (bytes)
        *bytes = m->shap_fast ? m->shap_fast->bytes : 0;
    return m->shap_fast ? m->shap_fast->ntrees : 0;
}

void rd__shap_prepare(rd_model *m)
{
    rd_err err;
    rd_err_clear(&err);
    const tree_reader *rd = m->kind == RD_MODEL_LIGHTGBM ? &lgbm_reader : &xgb_reader;
    if (m->kind == RD_MODEL_LIGHTGBM && !rd__lightgbm_has_counts(m))
        rd_err_set(
            &err, RD_EINVAL,
            "contributions: the model lacks internal_count/leaf_count or has linear leaves, so TreeSHAP "
            "cannot run on it");
    else if (m->kind == RD_MODEL_XGBOOST && !m->cover)
        rd_err_set(&err, RD_EINVAL,
                   "contributions: the model has no node covers (sum_hessian), which TreeSHAP needs");
    for (size_t t = 0; t < m->ntrees && err.code == RD_OK; t++)
        scan_tree(m, rd, t, &m->shap_depth, &err);
    snprintf(m->shap_refusal, sizeof(m->shap_refusal), "%s", err.msg);
    if (err.code == RD_OK)
        m->shap_fast = fast_build(m, rd);
}

/* The walk's scratch for trees up to this deep lives on the stack (~20 KB); deeper ones are
 * rare and get a heap block. */
#define STACK_DEPTH 32

int rd_model_contributions(const rd_model *m, const double *x, double *out, rd_err *err)
{
    return rd__shap_contributions(m, x, out, true, err);
}

int rd__shap_contributions(const rd_model *m, const double *x, double *out, bool tables, rd_err *err)
{
    if (!m || !x || !out)
        return rd_err_set(err, RD_EINVAL, "contributions: no model, input or output");
    if (m->kind != RD_MODEL_LIGHTGBM && (m->kind != RD_MODEL_XGBOOST || !m->nodes))
        return rd_err_set(err, RD_EINVAL,
                          "contributions: TreeSHAP supports XGBoost and LightGBM tree ensembles only");
    if (m->shap_refusal[0])
        return rd_err_set(err, RD_EINVAL, "%s", m->shap_refusal);
    /* Levels 0..depth of sizes 1..depth+1, the visit stack (at most depth + 1 entries, one
     * spare), and the reciprocals 1/k for k = 0..depth+1 (inv[0] unused). */
    size_t depth = m->shap_depth, nlevel = (depth + 1) * (depth + 2) / 2, nstack = depth + 2,
           ninv = depth + 2;
    path_elem levels_s[(STACK_DEPTH + 1) * (STACK_DEPTH + 2) / 2], *levels = levels_s;
    visit stack_s[STACK_DEPTH + 2], *stack = stack_s;
    double inv_s[STACK_DEPTH + 2] = {0}, *inv = inv_s;
    char *block = NULL;
    const rd__shap_fast *f = tables ? m->shap_fast : NULL;
    if (depth > STACK_DEPTH && (!f || f->ntrees < m->ntrees)) { /* some tree is walked */
        block = rd_malloc(nlevel * sizeof(path_elem) + nstack * sizeof(visit) + ninv * sizeof(double));
        if (!block)
            return rd_err_set(err, RD_ENOMEM, "contributions: out of memory");
        levels = (path_elem *)block;
        stack = (visit *)(block + nlevel * sizeof(path_elem));
        inv = (double *)(block + nlevel * sizeof(path_elem) + nstack * sizeof(visit));
    }
    if (depth > STACK_DEPTH && !block)
        ninv = 0; /* every tree has tables: no walk, no scratch */
    inv[0] = 0;
    for (size_t k = 1; k < ninv; k++)
        inv[k] = 1.0 / (double)k;
    size_t stride = m->nfeat + 1;
    for (size_t g = 0; g < m->nout; g++) {
        memset(out + g * stride, 0, m->nfeat * sizeof(*out));
        out[g * stride + m->nfeat] = m->base_margin ? (double)m->base_margin[g] : 0.0;
    }
    /* Calls with a constant reader, so the compiler can specialise each walk. */
    for (size_t t = 0; t < m->ntrees; t++) {
        bool fast = f && f->trees[t].tables;
        if (m->kind == RD_MODEL_LIGHTGBM) {
            double *phi = out + (size_t)rd__lightgbm_tree_group(m, t) * stride;
            phi[m->nfeat] += fast ? fast_tree_shap(m, &lgbm_reader, f, t, x, phi)
                                  : tree_shap(m, &lgbm_reader, t, x, levels, stack, inv, phi);
        } else {
            double *phi = out + (size_t)m->tree_group[t] * stride;
            phi[m->nfeat] += fast ? fast_tree_shap_xgb(m, f, t, x, phi)
                                  : tree_shap(m, &xgb_reader, t, x, levels, stack, inv, phi);
        }
    }
    rd_free(block);
    return RD_OK;
}
