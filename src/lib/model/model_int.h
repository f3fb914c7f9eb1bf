/* Internals of the model module. */
#ifndef RISKD_MODEL_INT_H
#define RISKD_MODEL_INT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "riskd/model.h"

/* One node of a compiled tree, 16 bytes. Leaves have left < 0 and their output in value. */
typedef struct rd__xnode {
    int32_t left, right;
    uint32_t feature; /* RD__XNODE_DEFAULT_LEFT | RD__XNODE_CATEGORICAL | index */
    float value;      /* threshold, leaf output, or (categorical) index into cat_sets */
} rd__xnode;

#define RD__XNODE_DEFAULT_LEFT 0x80000000u
#define RD__XNODE_CATEGORICAL  0x40000000u
#define RD__XNODE_FEATURE_MASK 0x3fffffffu

typedef enum rd__transform {
    RD__T_IDENTITY,
    RD__T_SIGMOID,
    RD__T_EXP,
    RD__T_SOFTMAX,
    RD__T_ARGMAX,
    RD__T_HINGE,
} rd__transform;

typedef struct rd__catset {
    uint32_t first; /* into cats */
    uint32_t count;
} rd__catset;

/* What each format supplies (SQLite's VFS pattern, shared/STYLE.md §10): a new format, or a
 * faster predictor, fills one of these and touches nothing else. Loading stays with each
 * format's loader, which sets m->ops; model.c dispatches through it. */
typedef struct rd__model_ops {
    const char *format;
    /* One row; deadline: monotonic ns (0: none), checked between blocks of trees, RD_ETIMEOUT
     * past it (out then holds NaN). RD_ENOMEM when a model with many outputs finds no memory. */
    int (*predict)(const rd_model *m, const double *x, rd_output kind, double *out, int64_t deadline);
    /* rd_model_impacts for this format. */
    int (*impacts)(const rd_model *m, const double *x, double *impact, rd_err *err);
    /* n rows stored row after row into out (n * outputs); NULL: predict, row by row. */
    void (*predict_rows)(const rd_model *m, const double *x, size_t n, rd_output kind, double *out);
    /* Free the format's own parts (the arrays of struct rd_model are freed by rd_model_free). */
    void (*free)(rd_model *m);
} rd__model_ops;

extern const rd__model_ops rd__xgboost_ops, rd__lightgbm_ops, rd__linear_ops;
/* Tree models' impacts: TreeSHAP contributions without the bias. */
int rd__tree_impacts(const rd_model *m, const double *x, double *impact, rd_err *err);

struct rd_model {
    const rd__model_ops *ops;
    rd_model_kind kind;
    bool float32;
    char objective[48];
    bool probability; /* RD_OUTPUT_PROBABILITY is a probability (rd_model_outputs_probability) */
    rd__transform transform;
    size_t nfeat;
    char **feature_names; /* NULL or nfeat strings */
    size_t nout;          /* output groups */
    /* tree ensemble */
    rd__xnode *nodes;
    float *cover; /* per node: the training hessian sum (XGBoost sum_hessian), for TreeSHAP;
                     NULL when the model file has none */
    size_t ntrees;
    uint32_t *tree_root;  /* ntrees node offsets */
    uint32_t *tree_group; /* ntrees output groups */
    float *base_margin;   /* nout */
    int32_t *cats;        /* sorted category values of every categorical split */
    rd__catset *cat_sets;
    size_t ncat_sets;
    void *owned; /* one allocation holding the arrays above */
    /* LightGBM models: their own layout (lightgbm.c); NULL for the others */
    struct rd__lgbm *lgbm;
    /* Scorecards and logistic regressions (linear.c); NULL for the others */
    struct rd__linear *lin;
    /* TreeSHAP, settled once at load (rd__shap_prepare): the deepest tree, and why TreeSHAP
     * cannot run on this model ("" when it can) */
    uint32_t shap_depth;
    char shap_refusal[512];          /* sized as rd_err.msg */
    struct rd__shap_fast *shap_fast; /* the per-leaf tables (treeshap.c); NULL: every tree is walked */
    struct rd__forest *forest;       /* the perfect-tree layout (forest.c); NULL: the node walk */
};

/* The perfect-tree layout of an XGBoost ensemble (forest.c): built at load when no tree has a
 * categorical split or is deeper than 10 (else m->forest stays NULL and the node walk
 * answers). Both sums add each row's leaves in tree order in float32: XGBoost's bits. */
#define RD__FOREST_BLOCK    64
#define RD__FOREST_MAX_FEAT 256
void rd__forest_prepare(rd_model *m);
/* A row as the layout reads it: 2 * nfeat float32 values, the row with NaN as +inf, then
 * with NaN as -inf (default-right and default-left splits read one copy each). */
void rd__forest_row(const rd_model *m, const double *x, float *xx);
void rd__forest_free(struct rd__forest *f);
void rd__forest_sum_one(const rd_model *m, const float *x, float *acc, size_t from, size_t to);
/* n <= RD__FOREST_BLOCK rows of x as a block: feature-major, both copies (2 * nfeat columns of
 * RD__FOREST_BLOCK floats); then their sums, trees outer, rows inner. */
void rd__forest_block(const rd_model *m, const double *x, size_t n, float *xb);
void rd__forest_sum_rows(const rd_model *m, const float *xb, size_t n, float *acc);

/* LightGBM's reading of an input (its kZeroThreshold, include/LightGBM/meta.h): every input
 * path keeps only values with |x| > 1e-35f, and NaN; the rest is 0. */
#define RD__LGBM_ZERO_THRESHOLD ((double)1e-35f)
static inline double rd__lgbm_feature(double v) { return fabs(v) <= RD__LGBM_ZERO_THRESHOLD ? 0.0 : v; }

/* LightGBM's CategoricalDecision over a bitset of count words from words[first] (words may be
 * NULL when count is 0): whether v goes left. NaN and
 * negative values go right, (int)v truncates; values beyond int (undefined in C++, INT_MIN
 * on x86, so negative) go right too. */
static inline bool rd__lgbm_cat_left(const uint32_t *words, uint32_t first, uint32_t count, double v)
{
    if (!(v > -1.0 && v < 2147483648.0))
        return false;
    uint32_t c = (uint32_t)(int32_t)v;
    if (c / 32 >= count)
        return false;
    return (words[first + c / 32] >> (c % 32)) & 1u;
}

/* The layout of a LightGBM ensemble (forest.c, "f64"): thresholds and sums in double, a
 * split goes left when x <= threshold. LightGBM grows trees leaf-wise, deep and sparse, so the
 * trees are not padded to complete ones: each split names its children, which sit side by
 * side, and a leaf is a split that leads to itself. What a split does with a missing value
 * is folded into the column of the row it reads, one compare a step, as the XGBoost layout's
 * two copies of the row do: */
enum rd__fcol_kind {
    RD__FCOL_NAN_AS_ZERO, /* missing type None: NaN read as 0 */
    RD__FCOL_NAN_LEFT,    /* missing type NaN: NaN to the default side ... */
    RD__FCOL_NAN_RIGHT,
    RD__FCOL_ZERO_LEFT, /* missing type Zero: NaN and 0 to the default side ... */
    RD__FCOL_ZERO_RIGHT,
    RD__FCOL_CATEGORY, /* a categorical split: whether the value is in its bitset */
    RD__FCOL_CONST,    /* forest.c's own: 0, the column a leaf reads */
};
/* One split as its loader gives it (after rd__lgbm_feature, the column's missing value rule). */
typedef struct rd__fsplit {
    double thr;          /* numerical: left when x <= thr */
    int32_t left, right; /* >= 0: a split of the same tree; < 0: the leaf ~child */
    uint32_t feature;
    uint32_t cat_first, cat_count; /* RD__FCOL_CATEGORY: its bitset's words in cat_words */
    uint8_t kind;                  /* enum rd__fcol_kind */
} rd__fsplit;
typedef struct rd__ftree {
    const rd__fsplit *splits; /* nleaves - 1 of them, the root first */
    const double *leaves;     /* nleaves */
    uint32_t nleaves;
} rd__ftree;
/* Lay out m->ntrees trees (tree t adds to output t % m->nout) into m->forest; when they do not
 * fit (too many columns, trees deeper than the layout takes, a threshold of +inf or NaN, no
 * memory) m->forest stays NULL and the node walk answers. */
#define RD__FOREST_MAX_COLS 512
void rd__forest_prepare_f64(rd_model *m, const rd__ftree *trees, const uint32_t *cat_words);
/* How many columns a row of an f64 layout has (<= RD__FOREST_MAX_COLS). */
size_t rd__forest_columns(const rd_model *m);
/* A row as the f64 layout reads it: rd__forest_columns(m) doubles. */
void rd__forest_row_f64(const rd_model *m, const double *x, double *xx);
/* One row: trees [from, to) onto acc (nout sums), each leaf added in tree order; from a
 * multiple of 8 for the trees to be walked 8 at a time. */
void rd__forest_sum_one_f64(const rd_model *m, const double *xx, double *acc, size_t from, size_t to);
/* n <= RD__FOREST_BLOCK rows of x as a block, column-major (rd__forest_columns(m) columns of
 * RD__FOREST_BLOCK doubles); then their sums onto acc (row r's nout sums at acc + r * nout),
 * trees outer, rows inner, each row's leaves in tree order. */
void rd__forest_block_f64(const rd_model *m, const double *x, size_t n, double *xb);
void rd__forest_sum_rows_f64(const rd_model *m, const double *xb, size_t n, double *acc);

/* Whether float32 category fv is in a categorical split's set (XGBoost's Decision: in the
 * set goes right; negative or too large is no category and goes left). */
static inline bool rd__xnode_in_categories(const rd_model *m, const rd__xnode *n, float fv)
{
    uint32_t idx;
    memcpy(&idx, &n->value, sizeof(idx));
    if (!(fv >= 0.0f && fv < 16777216.0f))
        return false;
    int32_t c = (int32_t)fv;
    const rd__catset *s = &m->cat_sets[idx];
    for (uint32_t i = 0; i < s->count; i++)
        if (m->cats[s->first + i] == c)
            return true;
    return false;
}

/* The child an XGBoost split sends float32 value fv to: `fv < split` left, NaN to the
 * default side (NaN fails every comparison, so !(fv < split) holds and only default_left
 * turns it back), categories in the set right. Prediction and TreeSHAP both use it. The
 * select is arithmetic: written as `right ? n->right : n->left`, compilers emit a jump that
 * mispredicts half the time, which dominated prediction. */
static inline int32_t rd__xnode_next(const rd_model *m, const rd__xnode *n, float fv)
{
    uint32_t feat = n->feature;
    bool nan = fv != fv, right;
    if (__builtin_expect((feat & RD__XNODE_CATEGORICAL) != 0, 0) && !nan)
        right = rd__xnode_in_categories(m, n, fv);
    else
        right = !(fv < n->value) & !(nan & ((feat & RD__XNODE_DEFAULT_LEFT) != 0));
    return n->left + ((n->right - n->left) & -(int32_t)right);
}

int rd__xgboost_load(const char *json, size_t len, rd_model **out, rd_err *err);
int rd__xgboost_predict(const rd_model *m, const double *x, rd_output kind, double *out, int64_t deadline);

struct rd__lgbm;
int rd__lightgbm_load(const char *text, size_t len, rd_model **out, rd_err *err);
int rd__lightgbm_predict(const rd_model *m, const double *x, rd_output kind, double *out, int64_t deadline);
/* LightGBM's pred_leaf: out receives, per tree (m->ntrees), the index of the leaf x reaches. */
void rd__lightgbm_leaves(const rd_model *m, const double *x, uint32_t *out);
void rd__lightgbm_free(struct rd__lgbm *g);

/* One node of a tree as TreeSHAP sees it: a split (the hot child the row takes, the cold one,
 * the split feature) or a leaf (its value), with its cover. */
typedef struct rd__shap_node {
    uint32_t hot, cold;
    int32_t feature;
    double cover, value;
} rd__shap_node;
/* Whether TreeSHAP can run on a LightGBM model: every tree has internal_count and leaf_count
 * and none has linear leaves. */
bool rd__lightgbm_has_counts(const rd_model *m);
/* Fill *out for node of tree (internal nodes first, then the leaves); true for a split. */
bool rd__lightgbm_shap_node(const rd_model *m, size_t tree, uint32_t node, const double *x,
                            rd__shap_node *out);
uint32_t rd__lightgbm_tree_group(const rd_model *m, size_t tree);

/* Check once, when a tree model is loaded, what TreeSHAP needs (covers, depth), so
 * rd_model_contributions does not rescan the trees on every row. */
void rd__shap_prepare(rd_model *m);
typedef struct rd__shap_fast rd__shap_fast;
void rd__shap_free(rd__shap_fast *f);
/* rd_model_contributions, with tables false: every tree by the walk, ignoring the tables
 * (the reference the tables are tested against). */
int rd__shap_contributions(const rd_model *m, const double *x, double *out, bool tables, rd_err *err);
/* How many trees have tables, and their memory in bytes (may be NULL). */
size_t rd__shap_fast_trees(const rd_model *m, size_t *bytes);

struct rd__linear;
struct rd_value;
/* Whether a parsed JSON model is one of linear.c's (its "type" names it). */
bool rd__linear_type(const struct rd_value *root);
int rd__linear_load(const struct rd_value *root, rd_model **out, rd_err *err);
void rd__linear_free(struct rd__linear *l);

#endif
