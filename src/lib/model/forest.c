/* The perfect-tree layout of an XGBoost ensemble (docs/adr/0012-perfect-tree-predictor.md): each tree
 * padded to a complete binary tree of its own depth, its splits in breadth-first order (8 bytes
 * each: feature and threshold) and its leaves after them, so a walk is `i = 2i + 1 + right`
 * with no child pointers and no test for a leaf. A leaf above the tree's depth is copied into
 * both children of a padding split, so whichever way the padding goes the leaf is the same.
 *
 * Rows are predicted a block at a time, trees outer and rows inner: a tree's few hundred bytes
 * stay in L1 across the block, and the rows' walks are independent chains of loads the core
 * overlaps. Each row still adds its leaves in tree order in float32, so the sums are the bits
 * XGBoost's own predictor gives. Trees with categorical splits, or deeper than FOREST_MAX_DEPTH,
 * keep the node walk (the model then has no forest). */
#include <math.h>
#include <string.h>

#include "model_int.h"
#include "riskd/arena.h"

#define FOREST_MAX_DEPTH 10
#define FOREST_MAX_BYTES ((size_t)64 << 20)
#define GROUP            8  /* trees walked side by side for one row */
#define ROWS             16 /* rows walked side by side down one tree */

typedef struct rd__pnode {
    uint32_t feature; /* index into the row's two copies: + nfeat for a default-left split */
    float thr;
} rd__pnode;

struct rd__forest {
    size_t ntrees;
    uint8_t *depth;     /* per tree */
    uint32_t *node_off; /* per tree: its 2^d - 1 splits in nodes */
    uint32_t *leaf_off; /* per tree: its 2^d leaves in leaves */
    rd__pnode *nodes;
    rd__pnode *bnodes; /* the same splits for a block: feature as the byte offset of its column
                          in a feature-major block of RD__FOREST_BLOCK rows */
    float *leaves;
};

/* The depth of the subtree at node (relative to base), or -1 when it holds a categorical
 * split or is deeper than the layout takes. */
static int depth_of(const rd__xnode *base, int32_t node, int level)
{
    const rd__xnode *n = base + node;
    if (n->left < 0)
        return 0;
    /* a threshold of +-inf or NaN would meet the infinities NaN is replaced by (below) */
    if ((n->feature & RD__XNODE_CATEGORICAL) || level >= FOREST_MAX_DEPTH || !isfinite(n->value))
        return -1;
    int l = depth_of(base, n->left, level + 1), r = depth_of(base, n->right, level + 1);
    if (l < 0 || r < 0)
        return -1;
    return 1 + (l > r ? l : r);
}

static void fill(const rd__xnode *base, int32_t node, uint32_t pos, int level, int d, uint32_t nf,
                 rd__pnode *splits, float *leaves)
{
    const rd__xnode *n = base + node;
    if (level == d) {
        leaves[pos - ((1u << d) - 1)] = n->value;
        return;
    }
    if (n->left < 0) { /* a leaf above the depth: both sides of a padding split reach it */
        splits[pos] = (rd__pnode){0, 0.0f};
        fill(base, node, 2 * pos + 1, level + 1, d, nf, splits, leaves);
        fill(base, node, 2 * pos + 2, level + 1, d, nf, splits, leaves);
        return;
    }
    uint32_t f = n->feature & RD__XNODE_FEATURE_MASK;
    splits[pos] = (rd__pnode){f + ((n->feature & RD__XNODE_DEFAULT_LEFT) ? nf : 0u), n->value};
    fill(base, n->left, 2 * pos + 1, level + 1, d, nf, splits, leaves);
    fill(base, n->right, 2 * pos + 2, level + 1, d, nf, splits, leaves);
}

void rd__forest_free(struct rd__forest *f)
{
    if (!f)
        return;
    rd_free(f->depth);
    rd_free(f->node_off);
    rd_free(f->leaf_off);
    rd_free(f->nodes);
    rd_free(f->bnodes);
    rd_free(f->leaves);
    rd_free(f);
}

void rd__forest_prepare(rd_model *m)
{
    if (m->kind != RD_MODEL_XGBOOST || !m->nodes || m->ntrees == 0 || m->nfeat > RD__FOREST_MAX_FEAT)
        return;
    struct rd__forest *f = rd_calloc(1, sizeof *f);
    if (!f)
        return;
    f->ntrees = m->ntrees;
    f->depth = rd_malloc(m->ntrees);
    f->node_off = rd_malloc(m->ntrees * sizeof(uint32_t));
    f->leaf_off = rd_malloc(m->ntrees * sizeof(uint32_t));
    size_t nsplits = 0, nleaves = 0;
    bool ok = f->depth && f->node_off && f->leaf_off;
    for (size_t t = 0; ok && t < m->ntrees; t++) {
        int d = depth_of(m->nodes + m->tree_root[t], 0, 0);
        ok = d >= 0 && nsplits < UINT32_MAX / 2;
        if (!ok)
            break;
        f->depth[t] = (uint8_t)d;
        f->node_off[t] = (uint32_t)nsplits;
        f->leaf_off[t] = (uint32_t)nleaves;
        nsplits += (1u << d) - 1;
        nleaves += 1u << d;
    }
    /* The trees of a group of GROUP walk side by side for one row: padded to the group's depth,
     * their walks take the same steps, and tree j's splits sit at j * (2^d - 1) from the
     * group's first, a constant offset. */
    for (size_t t = 0; ok && t + GROUP <= m->ntrees; t += GROUP) {
        int gd = 0;
        for (size_t j = 0; j < GROUP; j++)
            gd = f->depth[t + j] > gd ? f->depth[t + j] : gd;
        for (size_t j = 0; j < GROUP; j++)
            f->depth[t + j] = (uint8_t)gd;
    }
    nsplits = nleaves = 0;
    for (size_t t = 0; ok && t < m->ntrees; t++) {
        f->node_off[t] = (uint32_t)nsplits;
        f->leaf_off[t] = (uint32_t)nleaves;
        nsplits += (1u << f->depth[t]) - 1;
        nleaves += 1u << f->depth[t];
    }
    /* padding grows a sparse deep tree up to 2^10 leaves: past FOREST_MAX_BYTES the node walk
     * is kept rather than the memory spent */
    ok = ok && nsplits * 2 * sizeof(rd__pnode) + nleaves * sizeof(float) <= FOREST_MAX_BYTES;
    ok = ok && (f->nodes = rd_malloc((nsplits ? nsplits : 1) * sizeof(rd__pnode))) &&
         (f->bnodes = rd_malloc((nsplits ? nsplits : 1) * sizeof(rd__pnode))) &&
         (f->leaves = rd_malloc(nleaves * sizeof(float)));
    if (!ok) { /* the node walk answers: the same bits, slower */
        rd__forest_free(f);
        return;
    }
    for (size_t t = 0; t < m->ntrees; t++)
        fill(m->nodes + m->tree_root[t], 0, 0, 0, f->depth[t], (uint32_t)m->nfeat, f->nodes + f->node_off[t],
             f->leaves + f->leaf_off[t]);
    for (size_t i = 0; i < nsplits; i++)
        f->bnodes[i] =
            (rd__pnode){f->nodes[i].feature * RD__FOREST_BLOCK * (uint32_t)sizeof(float), f->nodes[i].thr};
    m->forest = f;
}

void rd__forest_row(const rd_model *m, const double *x, float *xx)
{
    size_t nf = m->nfeat;
    for (size_t f = 0; f < nf; f++) {
        float v = (float)x[f];
        bool nan = v != v;
        xx[f] = nan ? INFINITY : v;
        xx[nf + f] = nan ? -INFINITY : v;
    }
}

/* One step: `x < split` left, else right; a missing value was replaced by +inf in the copy
 * default-right splits read (so it goes right) and by -inf in the one default-left splits
 * read (left), the thresholds being finite: rd__xnode_next's decision with one compare. */
static inline uint32_t step(const rd__pnode *splits, uint32_t i, const float *xx)
{
    rd__pnode n = splits[i];
    return 2 * i + 1 + (uint32_t) !(xx[n.feature] < n.thr);
}

/* GROUP trees of one depth d for one row: tree j's splits at j * (2^d - 1) from splits, its
 * leaves at j * 2^d from leaves; d a constant where it is inlined, so the levels unroll and
 * the offsets are immediates. Adds the leaves in tree order. */
static inline __attribute__((always_inline)) float walk_trees(const rd__pnode *splits, const float *leaves,
                                                              const float *xx, int d, float sum)
{
    uint32_t i[GROUP] = {0}, inner = (1u << d) - 1;
    for (int k = 0; k < d; k++) {
#pragma GCC unroll 8
        for (uint32_t j = 0; j < GROUP; j++)
            i[j] = step(splits + j * inner, i[j], xx);
    }
#pragma GCC unroll 8
    for (uint32_t j = 0; j < GROUP; j++)
        sum += leaves[j * (inner + 1) + i[j] - inner];
    return sum;
}

/* One row: the trees [from, to) onto acc (nout sums), each leaf added in tree order. */
void rd__forest_sum_one(const rd_model *m, const float *x, float *acc, size_t from, size_t to)
{
    const struct rd__forest *f = m->forest;
    size_t t = from;
    if (m->nout == 1 && t % GROUP == 0) {
        float sum = acc[0];
        for (; t + GROUP <= to; t += GROUP) {
            const rd__pnode *s = f->nodes + f->node_off[t];
            const float *l = f->leaves + f->leaf_off[t];
            switch (f->depth[t]) { /* the usual depths unrolled; the others looped */
            case 1: sum = walk_trees(s, l, x, 1, sum); break;
            case 2: sum = walk_trees(s, l, x, 2, sum); break;
            case 3: sum = walk_trees(s, l, x, 3, sum); break;
            case 4: sum = walk_trees(s, l, x, 4, sum); break;
            case 5: sum = walk_trees(s, l, x, 5, sum); break;
            case 6: sum = walk_trees(s, l, x, 6, sum); break;
            default: sum = walk_trees(s, l, x, f->depth[t], sum);
            }
        }
        acc[0] = sum;
    }
    for (; t < to; t++) {
        uint32_t i = 0;
        for (int k = 0; k < f->depth[t]; k++)
            i = step(f->nodes + f->node_off[t], i, x);
        acc[m->tree_group[t]] += f->leaves[f->leaf_off[t] + i - ((1u << f->depth[t]) - 1)];
    }
}

void rd__forest_block(const rd_model *m, const double *x, size_t n, float *xb)
{
    size_t nf = m->nfeat;
    for (size_t r = 0; r < n; r++)
        for (size_t f = 0; f < nf; f++) {
            float v = (float)x[r * nf + f];
            bool nan = v != v;
            xb[f * RD__FOREST_BLOCK + r] = nan ? INFINITY : v;
            xb[(nf + f) * RD__FOREST_BLOCK + r] = nan ? -INFINITY : v;
        }
}

/* One step of row j of a block: the split's column at its byte offset from the row's base. */
static inline uint32_t bstep(const rd__pnode *splits, uint32_t i, const char *base, size_t j)
{
    rd__pnode n = splits[i];
    float v;
    memcpy(&v, base + n.feature + j * sizeof(float), sizeof v);
    return 2 * i + 1 + (uint32_t) !(v < n.thr);
}

/* ROWS rows' walks down one tree of depth d, their positions in registers; d a constant
 * where it is inlined, so the levels unroll and each row's column is an immediate away. */
static inline __attribute__((always_inline)) void walk_rows(const rd__pnode *splits, const char *base, int d,
                                                            uint32_t *out)
{
    uint32_t i[ROWS] = {0};
    for (int k = 0; k < d; k++) {
#pragma GCC unroll 16
        for (size_t j = 0; j < ROWS; j++)
            i[j] = bstep(splits, i[j], base, j);
    }
#pragma GCC unroll 16
    for (size_t j = 0; j < ROWS; j++)
        out[j] = i[j];
}

void rd__forest_sum_rows(const rd_model *m, const float *xb, size_t n, float *acc)
{
    const struct rd__forest *f = m->forest;
    size_t no = m->nout;
    for (size_t t = 0; t < f->ntrees; t++) {
        const rd__pnode *splits = f->bnodes + f->node_off[t];
        int d = f->depth[t];
        const float *leaves = f->leaves + f->leaf_off[t] - ((1u << d) - 1);
        uint32_t g = m->tree_group[t];
        size_t r = 0;
        for (; r + ROWS <= n; r += ROWS) {
            uint32_t i[ROWS];
            const char *base = (const char *)(xb + r);
            switch (d) { /* the usual depths unrolled; the others looped */
            case 1: walk_rows(splits, base, 1, i); break;
            case 2: walk_rows(splits, base, 2, i); break;
            case 3: walk_rows(splits, base, 3, i); break;
            case 4: walk_rows(splits, base, 4, i); break;
            case 5: walk_rows(splits, base, 5, i); break;
            case 6: walk_rows(splits, base, 6, i); break;
            case 7: walk_rows(splits, base, 7, i); break;
            case 8: walk_rows(splits, base, 8, i); break;
            default: walk_rows(splits, base, d, i);
            }
#pragma GCC unroll 16
            for (size_t j = 0; j < ROWS; j++)
                acc[(r + j) * no + g] += leaves[i[j]];
        }
        for (; r < n; r++) {
            uint32_t i = 0;
            for (int k = 0; k < d; k++)
                i = bstep(splits, i, (const char *)(xb + r), 0);
            acc[r * no + g] += leaves[i];
        }
    }
}
