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
 * - The model is only read: any number of threads may call this at once. */
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
}

/* The walk's scratch for trees up to this deep lives on the stack (~20 KB); deeper ones are
 * rare and get a heap block. */
#define STACK_DEPTH 32

int rd_model_contributions(const rd_model *m, const double *x, double *out, rd_err *err)
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
    if (depth > STACK_DEPTH) {
        block = rd_malloc(nlevel * sizeof(path_elem) + nstack * sizeof(visit) + ninv * sizeof(double));
        if (!block)
            return rd_err_set(err, RD_ENOMEM, "contributions: out of memory");
        levels = (path_elem *)block;
        stack = (visit *)(block + nlevel * sizeof(path_elem));
        inv = (double *)(block + nlevel * sizeof(path_elem) + nstack * sizeof(visit));
    }
    inv[0] = 0;
    for (size_t k = 1; k < ninv; k++)
        inv[k] = 1.0 / (double)k;
    size_t stride = m->nfeat + 1;
    for (size_t g = 0; g < m->nout; g++) {
        memset(out + g * stride, 0, m->nfeat * sizeof(*out));
        out[g * stride + m->nfeat] = m->base_margin ? (double)m->base_margin[g] : 0.0;
    }
    /* Two calls with a constant reader, so the compiler can specialise each walk. */
    for (size_t t = 0; t < m->ntrees; t++) {
        if (m->kind == RD_MODEL_LIGHTGBM) {
            double *phi = out + (size_t)rd__lightgbm_tree_group(m, t) * stride;
            phi[m->nfeat] += tree_shap(m, &lgbm_reader, t, x, levels, stack, inv, phi);
        } else {
            double *phi = out + (size_t)m->tree_group[t] * stride;
            phi[m->nfeat] += tree_shap(m, &xgb_reader, t, x, levels, stack, inv, phi);
        }
    }
    rd_free(block);
    return RD_OK;
}
