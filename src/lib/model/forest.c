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
 * keep the node walk (the model then has no forest).
 *
 * The same layout in double for LightGBM ("f64", the second half of this file): LightGBM's
 * leaf-wise trees are too deep and sparse to pad, so each split names where its two children
 * sit side by side and a leaf leads to itself; a walk is `i = next + right` for a fixed number
 * of steps (the depth), with no test for a leaf either. Each split reads a column of the row
 * that already holds its missing-value rule, or its categorical decision, so a step is the one
 * compare `!(x < threshold)`, the threshold being the next double above LightGBM's (`x <=
 * threshold` and `x < nextafter(threshold, +inf)` agree on every number). Sums are double, in
 * tree order from 0, as lightgbm.c's node walk adds them. */
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
    /* f64 (LightGBM): columns of the row, the trees' nodes (node_off above) and, per node, the
     * value of a leaf; depth above is the group's depth, the number of steps of a walk 8 trees
     * side by side, tdepth the tree's own */
    size_t ncols;
    struct rd__fcol *cols;
    uint32_t *cat_words;
    uint8_t *tdepth;
    struct rd__dnode *dnodes, *dbnodes;
    double *values;
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
    rd_free(f->cols);
    rd_free(f->cat_words);
    rd_free(f->tdepth);
    rd_free(f->dnodes);
    rd_free(f->dbnodes);
    rd_free(f->values);
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

/* ---------------------------------------------------------------- f64: LightGBM */

#define F64_MAX_DEPTH 32                /* steps every row takes down a tree */
#define F64_MAX_FEAT  ((size_t)1 << 16) /* the column map's size at load */
#define F64_LEAF_THR  1.0               /* a leaf reads the constant 0: !(0 < 1), to itself */
#define F64_INF       ((double)INFINITY)

typedef struct rd__fcol {
    uint32_t feature;
    uint32_t cat_first, cat_count; /* RD__FCOL_CATEGORY: its words in the forest's cat_words */
    uint8_t kind;                  /* enum rd__fcol_kind */
} rd__fcol;

/* A split or a leaf of the f64 layout, 16 bytes: its children at next and next + 1 (a leaf:
 * next is itself and it reads the constant column, so every step stays). */
typedef struct rd__dnode {
    double thr;
    uint32_t col; /* the column's index (for a block: its byte offset in the block) */
    uint32_t next;
} rd__dnode;

size_t rd__forest_columns(const rd_model *m) { return m->forest->ncols; }

/* The column split s reads, added to the forest's columns when new: one per feature and
 * missing-value rule, one per feature and distinct bitset. UINT32_MAX when there are too many. */
static uint32_t column_of(struct rd__forest *f, uint32_t *map, const rd__fsplit *s, const uint32_t *words)
{
    if (s->kind != RD__FCOL_CATEGORY) {
        uint32_t *slot = &map[(size_t)s->feature * RD__FCOL_CATEGORY + s->kind];
        if (*slot == 0 && f->ncols < RD__FOREST_MAX_COLS) {
            f->cols[f->ncols] = (rd__fcol){s->feature, 0, 0, s->kind};
            *slot = (uint32_t)f->ncols++;
        }
        return *slot ? *slot : UINT32_MAX;
    }
    for (size_t c = 1; c < f->ncols; c++) {
        const rd__fcol *k = &f->cols[c];
        if (k->kind == RD__FCOL_CATEGORY && k->feature == s->feature && k->cat_count == s->cat_count &&
            (s->cat_count == 0 ||
             !memcmp(words + s->cat_first, f->cat_words + k->cat_first, s->cat_count * sizeof(uint32_t))))
            return (uint32_t)c;
    }
    return UINT32_MAX; /* a new bitset: the caller appends it */
}

/* Append a categorical column for split s, copying its bitset. */
static uint32_t add_category(struct rd__forest *f, size_t *nwords, const rd__fsplit *s, const uint32_t *words)
{
    if (f->ncols >= RD__FOREST_MAX_COLS)
        return UINT32_MAX;
    uint32_t *w = rd_realloc(f->cat_words, (*nwords + s->cat_count + 1) * sizeof(uint32_t));
    if (!w)
        return UINT32_MAX;
    f->cat_words = w;
    if (s->cat_count)
        memcpy(w + *nwords, words + s->cat_first, s->cat_count * sizeof(uint32_t));
    f->cols[f->ncols] = (rd__fcol){s->feature, (uint32_t)*nwords, s->cat_count, RD__FCOL_CATEGORY};
    *nwords += s->cat_count;
    return (uint32_t)f->ncols++;
}

/* Tree t's nodes in breadth-first order from out: a split's children side by side, in the
 * order left, right. src holds, per position, the child code (LightGBM's: >= 0 a split,
 * < 0 the leaf ~code) it came from, level its depth. Returns the tree's depth, or -1 when it
 * is deeper than F64_MAX_DEPTH, or a column cannot be had. */
static int lay_tree(struct rd__forest *f, uint32_t *map, size_t *nwords, const rd__ftree *tr,
                    const uint32_t *words, rd__dnode *out, double *values, int32_t *src, uint8_t *level)
{
    uint32_t total = 2 * tr->nleaves - 1, next = 1;
    int depth = 0;
    src[0] = tr->nleaves == 1 ? -1 : 0;
    level[0] = 0;
    for (uint32_t p = 0; p < total; p++) {
        if (src[p] < 0) { /* a leaf: it leads to itself through the constant column */
            out[p] = (rd__dnode){F64_LEAF_THR, 0, p};
            values[p] = tr->leaves[~src[p]];
            continue;
        }
        const rd__fsplit *s = &tr->splits[src[p]];
        if (level[p] + 1 > F64_MAX_DEPTH || next + 2 > total)
            return -1;
        uint32_t c = column_of(f, map, s, words);
        if (c == UINT32_MAX && s->kind == RD__FCOL_CATEGORY)
            c = add_category(f, nwords, s, words);
        /* `x <= thr` is `x < nextafter(thr, +inf)` for every number but +inf against +inf:
         * a threshold of +inf (or NaN) keeps the node walk */
        if (c == UINT32_MAX || (s->kind != RD__FCOL_CATEGORY && !(s->thr < F64_INF)))
            return -1;
        double thr = s->kind == RD__FCOL_CATEGORY ? 0.5 : nextafter(s->thr, F64_INF);
        out[p] = (rd__dnode){thr, c, next};
        values[p] = 0.0;
        src[next] = s->left;
        src[next + 1] = s->right;
        level[next] = level[next + 1] = (uint8_t)(level[p] + 1);
        depth = level[p] + 1 > depth ? level[p] + 1 : depth;
        next += 2;
    }
    return depth;
}

static bool prepare_f64(rd_model *m, struct rd__forest *f, const rd__ftree *trees, const uint32_t *words)
{
    size_t nnodes = 0, most = 1, nwords = 0;
    for (size_t t = 0; t < m->ntrees; t++) {
        nnodes += 2 * (size_t)trees[t].nleaves - 1;
        most = 2 * (size_t)trees[t].nleaves - 1 > most ? 2 * (size_t)trees[t].nleaves - 1 : most;
    }
    if (nnodes > UINT32_MAX / 2 || nnodes * (2 * sizeof(rd__dnode) + sizeof(double)) > FOREST_MAX_BYTES)
        return false;
    uint32_t *map = rd_calloc(m->nfeat * RD__FCOL_CATEGORY, sizeof(uint32_t));
    int32_t *src = rd_malloc(most * sizeof(int32_t));
    uint8_t *level = rd_malloc(most);
    f->cols = rd_malloc(RD__FOREST_MAX_COLS * sizeof(rd__fcol));
    f->depth = rd_malloc(m->ntrees);
    f->tdepth = rd_malloc(m->ntrees);
    f->node_off = rd_malloc(m->ntrees * sizeof(uint32_t));
    f->dnodes = rd_malloc(nnodes * sizeof(rd__dnode));
    f->dbnodes = rd_malloc(nnodes * sizeof(rd__dnode));
    f->values = rd_malloc(nnodes * sizeof(double));
    bool ok = map && src && level && f->cols && f->depth && f->tdepth && f->node_off && f->dnodes &&
              f->dbnodes && f->values;
    if (ok)
        f->cols[f->ncols++] = (rd__fcol){0, 0, 0, RD__FCOL_CONST}; /* column 0, the leaves' */
    size_t off = 0;
    for (size_t t = 0; ok && t < m->ntrees; t++) {
        int d = lay_tree(f, map, &nwords, &trees[t], words, f->dnodes + off, f->values + off, src, level);
        ok = d >= 0;
        f->node_off[t] = (uint32_t)off;
        f->tdepth[t] = f->depth[t] = (uint8_t)(d > 0 ? d : 0);
        off += 2 * (size_t)trees[t].nleaves - 1;
    }
    /* 8 trees walked side by side for one row all take the deepest one's steps (a leaf stays) */
    for (size_t t = 0; ok && t + GROUP <= m->ntrees; t += GROUP) {
        uint8_t gd = 0;
        for (size_t j = 0; j < GROUP; j++)
            gd = f->depth[t + j] > gd ? f->depth[t + j] : gd;
        for (size_t j = 0; j < GROUP; j++)
            f->depth[t + j] = gd;
    }
    for (size_t i = 0; ok && i < nnodes; i++)
        f->dbnodes[i] =
            (rd__dnode){f->dnodes[i].thr, f->dnodes[i].col * RD__FOREST_BLOCK * (uint32_t)sizeof(double),
                        f->dnodes[i].next};
    rd_free(map);
    rd_free(src);
    rd_free(level);
    return ok;
}

void rd__forest_prepare_f64(rd_model *m, const rd__ftree *trees, const uint32_t *cat_words)
{
    if (m->ntrees == 0 || m->nout == 0 || m->nfeat == 0 || m->nfeat > F64_MAX_FEAT)
        return;
    struct rd__forest *f = rd_calloc(1, sizeof *f);
    if (!f)
        return;
    f->ntrees = m->ntrees;
    if (!prepare_f64(m, f, trees, cat_words)) { /* the node walk answers: the same bits, slower */
        rd__forest_free(f);
        return;
    }
    m->forest = f;
}

/* Column c of row x: the feature as LightGBM reads it (rd__lgbm_feature), then the missing
 * value rule of the splits that read it, so that `!(value < thr)` is their decision. */
static inline double column(const struct rd__forest *f, const rd__fcol *c, const double *x)
{
    double v = rd__lgbm_feature(x[c->feature]);
    bool nan = v != v, zero = v >= -RD__LGBM_ZERO_THRESHOLD && v <= RD__LGBM_ZERO_THRESHOLD;
    switch ((enum rd__fcol_kind)c->kind) {
    case RD__FCOL_NAN_AS_ZERO: return nan ? 0.0 : v;
    case RD__FCOL_NAN_LEFT: return nan ? -F64_INF : v;
    case RD__FCOL_NAN_RIGHT: return nan ? F64_INF : v;
    case RD__FCOL_ZERO_LEFT: return nan || zero ? -F64_INF : v;
    case RD__FCOL_ZERO_RIGHT: return nan || zero ? F64_INF : v;
    case RD__FCOL_CATEGORY: /* left below the split's 0.5, right above */
        return rd__lgbm_cat_left(f->cat_words, c->cat_first, c->cat_count, v) ? 0.0 : 1.0;
    case RD__FCOL_CONST: break;
    }
    return 0.0;
}

void rd__forest_row_f64(const rd_model *m, const double *x, double *xx)
{
    const struct rd__forest *f = m->forest;
    for (size_t c = 0; c < f->ncols; c++)
        xx[c] = column(f, &f->cols[c], x);
}

static inline uint32_t dstep(const rd__dnode *nodes, uint32_t i, const double *xx)
{
    rd__dnode n = nodes[i];
    return n.next + (uint32_t) !(xx[n.col] < n.thr);
}

void rd__forest_sum_one_f64(const rd_model *m, const double *xx, double *acc, size_t from, size_t to)
{
    const struct rd__forest *f = m->forest;
    size_t K = m->nout, t = from, k = from % K;
    if (t % GROUP == 0)
        for (; t + GROUP <= to; t += GROUP) {
            const rd__dnode *b[GROUP];
            uint32_t i[GROUP] = {0};
#pragma GCC unroll 8
            for (size_t j = 0; j < GROUP; j++)
                b[j] = f->dnodes + f->node_off[t + j];
            /* at most the deepest tree's steps: once none of the 8 moved, all are on leaves
             * (a split's children come after it), and leaf-wise trees' paths are mostly
             * shorter than the deepest */
            for (int s = 0; s < f->depth[t]; s++) {
                uint32_t moved = 0;
#pragma GCC unroll 8
                for (size_t j = 0; j < GROUP; j++) {
                    uint32_t n = dstep(b[j], i[j], xx);
                    moved |= n ^ i[j];
                    i[j] = n;
                }
                if (!moved)
                    break;
            }
            for (size_t j = 0; j < GROUP; j++) { /* in tree order */
                acc[k] += f->values[f->node_off[t + j] + i[j]];
                k = k + 1 == K ? 0 : k + 1;
            }
        }
    for (; t < to; t++) {
        const rd__dnode *b = f->dnodes + f->node_off[t];
        uint32_t i = 0;
        for (int s = 0; s < f->tdepth[t]; s++)
            i = dstep(b, i, xx);
        acc[k] += f->values[f->node_off[t] + i];
        k = k + 1 == K ? 0 : k + 1;
    }
}

void rd__forest_block_f64(const rd_model *m, const double *x, size_t n, double *xb)
{
    const struct rd__forest *f = m->forest;
    size_t nf = m->nfeat;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < f->ncols; c++)
            xb[c * RD__FOREST_BLOCK + r] = column(f, &f->cols[c], x + r * nf);
}

/* One step of row j of a block: the split's column at its byte offset from the row's base. */
static inline uint32_t dbstep(const rd__dnode *nodes, uint32_t i, const char *base, size_t j)
{
    rd__dnode n = nodes[i];
    double v;
    memcpy(&v, base + n.col + j * sizeof(double), sizeof v);
    return n.next + (uint32_t) !(v < n.thr);
}

void rd__forest_sum_rows_f64(const rd_model *m, const double *xb, size_t n, double *acc)
{
    const struct rd__forest *f = m->forest;
    size_t K = m->nout;
    for (size_t t = 0; t < f->ntrees; t++) {
        const rd__dnode *nodes = f->dbnodes + f->node_off[t];
        const double *values = f->values + f->node_off[t];
        int d = f->tdepth[t];
        size_t g = t % K, r = 0;
        for (; r + ROWS <= n; r += ROWS) {
            uint32_t i[ROWS] = {0};
            const char *base = (const char *)(xb + r);
            /* the tree's depth in steps, whatever the rows' paths: 16 rows rarely all end early,
             * and a test for it each step costs more than it saves */
            for (int s = 0; s < d; s++) {
#pragma GCC unroll 16
                for (size_t j = 0; j < ROWS; j++)
                    i[j] = dbstep(nodes, i[j], base, j);
            }
#pragma GCC unroll 16
            for (size_t j = 0; j < ROWS; j++)
                acc[(r + j) * K + g] += values[i[j]];
        }
        for (; r < n; r++) {
            uint32_t i = 0;
            for (int s = 0; s < d; s++)
                i = dbstep(nodes, i, (const char *)(xb + r), 0);
            acc[r * K + g] += values[i];
        }
    }
}
