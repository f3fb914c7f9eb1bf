/* LightGBM text models (model.txt, versions v2 to v4): the loader and the predictor.
 *
 * Bit-exact with LightGBM's own prediction (reference/model-formats.md §3.1, read against
 * LightGBM's include/LightGBM/tree.h, src/boosting/gbdt_prediction.cpp and src/objective/):
 * everything is computed in double; an input with |x| <= kZeroThreshold (1e-35f) is read as
 * 0, as every LightGBM input path does (c_api.cpp, parser.hpp keep only larger values and
 * NaN); a numerical split turns NaN into 0 unless its missing type is NaN, sends zero
 * (missing type Zero) or NaN (missing type NaN) the default way, and otherwise goes left
 * when x <= threshold; a categorical split goes left when bit (int)x of its bitset is set
 * (NaN, negative or out-of-int values go right); a linear leaf adds its coefficients times
 * the features, in listed order, to its constant, or gives its plain value when one of those
 * features is NaN. Output k sums trees k, K+k, 2K+k, ... in tree order from 0.0 (K =
 * num_tree_per_iteration); for RD_OUTPUT_PROBABILITY, average_output (boosting=rf) divides
 * by the number of iterations and the objective's ConvertOutput follows. As in LightGBM, the
 * raw score of an average_output model is the sum, not the average.
 *
 * Numbers are read as LightGBM reads them: doubles with strtod (LightGBM writes 17
 * significant digits and reads them back correctly rounded), objective parameters such as
 * sigmoid:S with a copy of LightGBM's Common::Atof, which is not correctly rounded.
 *
 * Invariants after loading (checked, with a message naming the tree and the key):
 * - every internal node's children are nodes or leaves of the same tree, every node and leaf
 *   is reached exactly once from the root (so the tree is a tree) and no leaf is deeper than
 *   MAX_DEPTH: the iterative walk from the root ends on a leaf in at most MAX_DEPTH steps;
 * - every split feature and linear-leaf feature is < nfeat;
 * - decision_type has only the bits LightGBM defines (categorical, default left, missing
 *   type None/Zero/NaN), and a categorical split names one of its tree's bitsets, whose
 *   words lie inside cat_words;
 * - the number of trees is a multiple of K; the objective's class count is K.
 * The model is only read after loading, so any number of threads may predict at once;
 * predicting a row allocates nothing (outputs are accumulated in the caller's array, and the
 * objective's transform runs in place there, as LightGBM's ConvertOutput(output, output)); a
 * batch allocates one block of rows for the layout, and goes row by row without it.
 *
 * Most models are also laid out at load by forest.c (docs/adr/0012-perfect-tree-predictor.md),
 * which predicts them with the same bits faster; the node walk below stays the reference, and
 * answers for the models the layout does not take (linear trees among them).
 *
 * Accepted but not checked (LightGBM does not need them to predict): tree_sizes beyond its
 * count, feature_infos, monotone_constraints, split_gain, the leaf and internal weights and
 * counts, shrinkage (already applied to leaf_value), and everything after the trees
 * (feature_importances, parameters, pandas_categorical: see rd_model_load_lightgbm). The trees
 * end at "end of trees" or, in LightGBM 2.x files that lack it, at the next section or at the
 * end of a file whose tree_sizes line gives the tree count to check. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"
#include "riskd/arena.h"
#include "riskd/clock.h"

#define MAX_LEAVES   131072 /* LightGBM's own bound on num_leaves (config.h) */
#define MAX_DEPTH    1024
#define MAX_FEATURES 10000000
#define MAX_OUTPUTS  4096
#define MAX_TOTAL    (1u << 28) /* nodes, leaves, bitset words or linear terms in a model */
#define MAX_TOKEN    128

/* LightGBM's kZeroThreshold: the float 1e-35f held in a double (include/LightGBM/meta.h). */
#define ZERO_THRESHOLD RD__LGBM_ZERO_THRESHOLD

/* decision_type bits (include/LightGBM/tree.h) */
#define DT_CATEGORICAL  1u
#define DT_DEFAULT_LEFT 2u
#define DT_MISSING(d)   (((d) >> 2) & 3u)
#define MISSING_NONE    0u
#define MISSING_ZERO    1u
#define MISSING_NAN     2u

/* An internal node, 24 bytes. A child >= 0 is an internal node of the same tree, a child
 * < 0 is the leaf ~child, as in LightGBM. */
typedef struct rd__lnode {
    union {
        double threshold; /* numerical split */
        struct {
            uint32_t first, count; /* categorical split: its bitset words in cat_words */
        } cat;
    } u;
    int32_t left, right;
    uint32_t feature;
    uint8_t decision; /* LightGBM's decision_type */
} rd__lnode;

typedef struct rd__ltree {
    uint32_t node0;   /* first node in nodes */
    uint32_t leaf0;   /* first leaf in leaf_value */
    uint32_t lin0;    /* linear trees: first leaf in lin */
    uint32_t nleaves; /* >= 1; a one-leaf tree has no node */
    bool linear;
} rd__ltree;

typedef struct rd__llin {
    double constant;       /* leaf_const */
    uint32_t first, count; /* terms in lin_feat / lin_coeff */
} rd__llin;

typedef enum lgbm_transform {
    LT_IDENTITY,
    LT_SQRT,        /* regression sqrt: sign(x) * x * x */
    LT_SIGMOID,     /* binary: 1 / (1 + exp(-sigmoid * x)) */
    LT_SOFTMAX,     /* multiclass */
    LT_OVA,         /* multiclassova: the sigmoid per class */
    LT_XENT,        /* cross_entropy: 1 / (1 + exp(-x)) */
    LT_XENT_LAMBDA, /* cross_entropy_lambda: log1p(exp(x)) */
    LT_EXP,         /* poisson, gamma, tweedie */
} lgbm_transform;

struct rd__lgbm {
    rd__ltree *trees;
    size_t ntrees, niter; /* niter = ntrees / K */
    rd__lnode *nodes;
    double *leaf_value;
    rd__llin *lin;
    uint32_t *lin_feat;
    double *lin_coeff;
    uint32_t *cat_words;
    lgbm_transform transform;
    double sigmoid;
    bool average_output;
    /* The training rows through each internal node and leaf (internal_count, leaf_count), the
     * covers TreeSHAP weighs by; NULL-free only when every tree has them (has_counts). */
    double *node_count, *leaf_count;
    bool has_counts;
    size_t cap_node_count, cap_leaf_count;
    size_t nnodes, nleaves, nlin, nlin_terms, ncat_words; /* used, while loading */
    size_t cap_trees, cap_nodes, cap_leaves, cap_lin, cap_lin_feat, cap_lin_coeff, cap_cat_words;
};

void rd__lightgbm_free(struct rd__lgbm *g)
{
    if (!g)
        return;
    rd_free(g->node_count);
    rd_free(g->leaf_count);
    rd_free(g->trees);
    rd_free(g->nodes);
    rd_free(g->leaf_value);
    rd_free(g->lin);
    rd_free(g->lin_feat);
    rd_free(g->lin_coeff);
    rd_free(g->cat_words);
    rd_free(g);
}

/* ---------------------------------------------------------------- text */

struct text {
    const char *p, *end;
    uint32_t line; /* number of the line last read */
};

/* The next line without its end of line (\n, \r\n or \r); false at the end of the text. */
static bool next_line(struct text *t, const char **s, size_t *n)
{
    if (t->p >= t->end)
        return false;
    const char *b = t->p, *e = b;
    while (e < t->end && *e != '\n' && *e != '\r')
        e++;
    *s = b;
    *n = (size_t)(e - b);
    if (e < t->end && *e == '\r')
        e++;
    if (e < t->end && *e == '\n')
        e++;
    t->p = e;
    t->line++;
    return true;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static bool equals(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* Space-separated tokens, as LightGBM's Common::Split(str, ' '): empty ones are skipped. */
struct toks {
    const char *p, *end;
};

static bool next_tok(struct toks *k, const char **s, size_t *n)
{
    while (k->p < k->end && *k->p == ' ')
        k->p++;
    if (k->p >= k->end)
        return false;
    const char *b = k->p;
    while (k->p < k->end && *k->p != ' ')
        k->p++;
    *s = b;
    *n = (size_t)(k->p - b);
    return true;
}

static size_t count_toks(const char *s, size_t n)
{
    struct toks k = {s, s + n};
    const char *t;
    size_t tn, c = 0;
    while (next_tok(&k, &t, &tn))
        c++;
    return c;
}

/* A decimal integer, optionally signed, within [lo, hi]. */
static bool parse_int(const char *s, size_t n, long long lo, long long hi, long long *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (1LL << 40))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    v = neg ? -v : v;
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A double as strtod reads it (LightGBM's AtofPrecise: fast_double_parser, strtod for the
 * rest, both correctly rounded), the whole token. */
static bool parse_double(const char *s, size_t n, double *out)
{
    char buf[MAX_TOKEN];
    if (n == 0 || n >= sizeof(buf) || s[0] == '\t' || s[0] == '\n' || s[0] == '\v' || s[0] == '\f' ||
        s[0] == '\r' || memchr(s, '\0', n))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return end == buf + n;
}

/* LightGBM's Pow(10.0, power) (include/LightGBM/utils/common.h), which multiplies in a
 * particular order; unrolled here from its recursion: Pow(b, 0) = 1, Pow(b, 2p) = Pow(b*b, p),
 * Pow(b, 3p) = Pow(b*b*b, p), else Pow(b, p) = b * Pow(b, p-1). */
static double lgbm_pow(double base, int power)
{
    double mult[64];
    int nm = 0;
    while (power > 0 && nm < 64) {
        if (power % 2 == 0) {
            base = base * base;
            power /= 2;
        } else if (power % 3 == 0) {
            base = base * base * base;
            power /= 3;
        } else {
            mult[nm++] = base;
            power -= 1;
        }
    }
    double r = 1;
    while (nm > 0)
        r = mult[--nm] * r;
    return r;
}

/* LightGBM's Common::Atof over a whole token: how it reads objective parameters such as
 * sigmoid:S. Digits accumulate in double and are scaled by powers of ten, so the result can
 * differ from strtod's by an ulp; reading it this way keeps LightGBM's bits. */
static bool lgbm_atof(const char *s, size_t n, double *out)
{
    size_t i = 0;
    double sign = 1.0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        sign = s[i++] == '-' ? -1.0 : 1.0;
    if (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E')) {
        double value = 0.0, scale = 1.0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            value = value * 10.0 + (s[i] - '0');
        if (i < n && s[i] == '.') {
            double right = 0.0;
            int nn = 0;
            for (i++; i < n && s[i] >= '0' && s[i] <= '9' && nn < MAX_TOKEN; i++, nn++)
                right = (s[i] - '0') + right * 10.0;
            value += right / lgbm_pow(10.0, nn);
        }
        bool frac = false;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            uint32_t expon = 0;
            i++;
            if (i < n && (s[i] == '-' || s[i] == '+'))
                frac = s[i++] == '-';
            for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                expon = expon * 10 + (uint32_t)(s[i] - '0');
            expon = expon > 308 ? 308 : expon;
            for (; expon >= 50; expon -= 50)
                scale *= 1E50;
            for (; expon >= 8; expon -= 8)
                scale *= 1E8;
            for (; expon > 0; expon--)
                scale *= 10.0;
        }
        *out = sign * (frac ? value / scale : value * scale);
        return i == n;
    }
    char low[16];
    if (n - i >= sizeof(low))
        return false;
    for (size_t j = i; j < n; j++)
        low[j - i] = (char)(s[j] >= 'A' && s[j] <= 'Z' ? s[j] - 'A' + 'a' : s[j]);
    low[n - i] = '\0';
    if (!strcmp(low, "na") || !strcmp(low, "nan") || !strcmp(low, "null"))
        *out = (double)NAN;
    else if (!strcmp(low, "inf") || !strcmp(low, "infinity"))
        *out = sign * 1e308;
    else
        return false;
    return true;
}

/* ---------------------------------------------------------------- loader */

enum hkey {
    H_VERSION,
    H_NUM_CLASS,
    H_NUM_TREE_PER_ITERATION,
    H_MAX_FEATURE_IDX,
    H_OBJECTIVE,
    H_AVERAGE_OUTPUT,
    H_FEATURE_NAMES,
    H_TREE_SIZES,
    H_COUNT
};
static const char *const header_keys[H_COUNT] = {
    "version",   "num_class",      "num_tree_per_iteration", "max_feature_idx",
    "objective", "average_output", "feature_names",          "tree_sizes",
};

enum tkey {
    T_NUM_LEAVES,
    T_NUM_CAT,
    T_SPLIT_FEATURE,
    T_THRESHOLD,
    T_DECISION_TYPE,
    T_LEFT_CHILD,
    T_RIGHT_CHILD,
    T_LEAF_VALUE,
    T_CAT_BOUNDARIES,
    T_CAT_THRESHOLD,
    T_IS_LINEAR,
    T_LEAF_CONST,
    T_NUM_FEATURES,
    T_LEAF_FEATURES,
    T_LEAF_COEFF,
    T_INTERNAL_COUNT,
    T_LEAF_COUNT,
    T_COUNT
};
static const char *const tree_keys[T_COUNT] = {
    "num_leaves",   "num_cat",       "split_feature",  "threshold",      "decision_type", "left_child",
    "right_child",  "leaf_value",    "cat_boundaries", "cat_threshold",  "is_linear",     "leaf_const",
    "num_features", "leaf_features", "leaf_coeff",     "internal_count", "leaf_count",
};

/* A key's value in the text, with the line it came from. */
struct field {
    const char *s;
    size_t n;
    uint32_t line;
    bool set;
};

struct loader {
    rd_model *m;
    struct rd__lgbm *g;
    rd_err *err;
    struct text t;
    long tree; /* the tree being read, -1 in the header */
};

static int bad(struct loader *L, const char *fmt, ...) RD_PRINTF(2, 3);
static int bad(struct loader *L, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (L->tree >= 0)
        return rd_err_set(L->err, RD_EINVAL, "tree %ld: %s", L->tree, what);
    return rd_err_set(L->err, RD_EINVAL, "%s", what);
}

static int oom(struct loader *L) { return rd_err_set(L->err, RD_ENOMEM, "out of memory"); }

/* Whether need more elements fit in a model array holding used; nothing is allocated. */
static int room(struct loader *L, size_t used, size_t need)
{
    if (need > MAX_TOTAL - used)
        return bad(L, "the model is too large (more than 2^28 nodes, leaves or terms)");
    return RD_OK;
}

/* Make room for need more elements of size elem in *p (holding used of *cap). Callers check
 * first that the text holds that many numbers, so a few bytes cannot make the loader allocate
 * gigabytes. */
static int grow(struct loader *L, void **p, size_t *cap, size_t used, size_t need, size_t elem)
{
    int rc = room(L, used, need);
    if (rc != RD_OK)
        return rc;
    if (used + need <= *cap)
        return RD_OK;
    size_t c = *cap ? *cap : 64;
    while (c < used + need)
        c *= 2;
    void *q = rd_realloc(*p, c * elem);
    if (!q)
        return oom(L);
    *p = q;
    *cap = c;
    return RD_OK;
}

enum num_kind { NUM_INT, NUM_U32, NUM_DOUBLE };

/* Whether field f (called key) holds exactly want numbers; want_what says where want comes
 * from ("num_leaves-1"). A field that is not there holds none. */
static int check_count(struct loader *L, const struct field *f, const char *key, size_t want,
                       const char *want_what)
{
    size_t have = f->set ? count_toks(f->s, f->n) : 0;
    if (have != want)
        return bad(L, "%s has %zu entries, %s is %zu", key, have, want_what, want);
    return RD_OK;
}

/* Read field f (called key) as exactly want numbers into out (int32_t, uint32_t or double);
 * want_what says where want comes from ("num_leaves-1"). A field that is not there reads
 * as zero numbers. */
static int read_array(struct loader *L, const struct field *f, const char *key, size_t want,
                      const char *want_what, enum num_kind kind, void *out)
{
    int rc = check_count(L, f, key, want, want_what);
    if (rc != RD_OK || !f->set)
        return rc;
    struct toks k = {f->s, f->s + f->n};
    const char *s;
    size_t n;
    for (size_t i = 0; next_tok(&k, &s, &n); i++) {
        long long v;
        bool ok;
        if (kind == NUM_DOUBLE) {
            ok = parse_double(s, n, &((double *)out)[i]);
        } else if (kind == NUM_U32) {
            ok = parse_int(s, n, 0, UINT32_MAX, &v);
            if (ok)
                ((uint32_t *)out)[i] = (uint32_t)v;
        } else {
            ok = parse_int(s, n, INT32_MIN, INT32_MAX, &v);
            if (ok)
                ((int32_t *)out)[i] = (int32_t)v;
        }
        if (!ok)
            return bad(L, "%s[%zu] \"%.*s\" is not %s", key, i, (int)(n > 32 ? 32 : n), s,
                       kind == NUM_DOUBLE ? "a number"
                       : kind == NUM_U32  ? "a 32-bit unsigned integer"
                                          : "a 32-bit integer");
    }
    return RD_OK;
}

/* One count-valued key: a non-negative integer within [lo, hi]. */
static int read_count(struct loader *L, const struct field *f, const char *key, long long lo, long long hi,
                      long long *out)
{
    if (!f->set)
        return bad(L, "%s is missing", key);
    if (!parse_int(f->s, f->n, lo, hi, out))
        return bad(L, "%s \"%.*s\" is not an integer in [%lld, %lld]", key, (int)(f->n > 32 ? 32 : f->n),
                   f->s, lo, hi);
    return RD_OK;
}

/* Read "key=value" lines into fields until a line for which stop() is true (left unread),
 * or the end of the text. Keys not in names are ignored; a known key given twice is refused. */
static int read_fields(struct loader *L, const char *const *names, size_t nnames, struct field *fields,
                       bool (*stop)(const char *, size_t))
{
    struct text peek = L->t;
    const char *s;
    size_t n;
    while (next_line(&peek, &s, &n) && !stop(s, n)) {
        L->t = peek;
        const char *eq = memchr(s, '=', n);
        size_t kn = eq ? (size_t)(eq - s) : n;
        for (size_t k = 0; k < nnames; k++) {
            if (!equals(s, kn, names[k]))
                continue;
            if (fields[k].set)
                return bad(L, "line %u: %s is given twice (first on line %u)", L->t.line, names[k],
                           fields[k].line);
            fields[k] = (struct field){eq ? eq + 1 : s + n, eq ? n - kn - 1 : 0, L->t.line, true};
        }
        if (!eq && L->tree >= 0)
            return bad(L, "line %u: \"%.*s\" is not key=value", L->t.line, (int)(n > 32 ? 32 : n), s);
    }
    return RD_OK;
}

/* The line after the last tree: "end of trees", or in files of LightGBM 2.x, which did not
 * write it, the next section. */
static bool trees_end(const char *s, size_t n)
{
    return equals(s, n, "end of trees") || equals(s, n, "feature importances:") ||
           equals(s, n, "feature_importances:") || equals(s, n, "parameters:") ||
           starts_with(s, n, "pandas_categorical:");
}

static bool header_end(const char *s, size_t n)
{
    return starts_with(s, n, "Tree=") || equals(s, n, "end of trees");
}
static bool tree_end(const char *s, size_t n)
{
    return n == 0 || starts_with(s, n, "Tree=") || trees_end(s, n);
}

/* The objective line: LightGBM's ParseObjectiveAlias over the whole string, then the name
 * and its key:value parameters (ObjectiveFunction::CreateObjectiveFunction). */
struct objective {
    const char *name;
    lgbm_transform transform; /* LT_SQRT: identity unless the "sqrt" token is there */
    bool multi;               /* one output per class, num_class:N required */
};

static const struct objective objectives[] = {
    {"regression", LT_SQRT, false},     {"regression_l1", LT_SQRT, false},
    {"quantile", LT_SQRT, false},       {"fair", LT_SQRT, false},
    {"mape", LT_SQRT, false},           {"huber", LT_IDENTITY, false}, /* drops sqrt at construction */
    {"poisson", LT_EXP, false},         {"gamma", LT_EXP, false},
    {"tweedie", LT_EXP, false},         {"binary", LT_SIGMOID, false},
    {"lambdarank", LT_IDENTITY, false}, {"rank_xendcg", LT_IDENTITY, false},
    {"multiclass", LT_SOFTMAX, true},   {"multiclassova", LT_OVA, true},
    {"cross_entropy", LT_XENT, false},  {"cross_entropy_lambda", LT_XENT_LAMBDA, false},
    {"custom", LT_IDENTITY, false},
};

static const char *const aliases[][2] = {
    {"regression_l2", "regression"},
    {"mean_squared_error", "regression"},
    {"mse", "regression"},
    {"l2", "regression"},
    {"l2_root", "regression"},
    {"root_mean_squared_error", "regression"},
    {"rmse", "regression"},
    {"mean_absolute_error", "regression_l1"},
    {"l1", "regression_l1"},
    {"mae", "regression_l1"},
    {"softmax", "multiclass"},
    {"multiclass_ova", "multiclassova"},
    {"ova", "multiclassova"},
    {"ovr", "multiclassova"},
    {"xentropy", "cross_entropy"},
    {"xentlambda", "cross_entropy_lambda"},
    {"mean_absolute_percentage_error", "mape"},
    {"xendcg", "rank_xendcg"},
    {"xe_ndcg", "rank_xendcg"},
    {"xe_ndcg_mart", "rank_xendcg"},
    {"xendcg_mart", "rank_xendcg"},
    {"none", "custom"},
    {"null", "custom"},
    {"na", "custom"},
};

static int load_objective(struct loader *L, const struct field *f, size_t K)
{
    struct rd__lgbm *g = L->g;
    const char *s = f->s;
    size_t n = f->n;
    snprintf(L->m->objective, sizeof(L->m->objective), "%.*s", (int)(n > 47 ? 47 : n), s);
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (equals(s, n, aliases[i][0])) {
            s = aliases[i][1];
            n = strlen(s);
        }
    struct toks k = {s, s + n};
    const char *name, *tok;
    size_t name_n, tok_n;
    if (!next_tok(&k, &name, &name_n))
        return bad(L, "line %u: objective is empty", f->line);
    const struct objective *o = NULL;
    for (size_t i = 0; i < sizeof(objectives) / sizeof(objectives[0]); i++)
        if (equals(name, name_n, objectives[i].name))
            o = &objectives[i];
    if (!o)
        return bad(L, "line %u: objective \"%.*s\" is not a LightGBM objective", f->line,
                   (int)(name_n > 40 ? 40 : name_n), name);
    long long num_class = -1;
    double sigmoid = -1;
    bool sqrt_token = false;
    while (next_tok(&k, &tok, &tok_n)) {
        const char *colon = memchr(tok, ':', tok_n);
        sqrt_token = sqrt_token || equals(tok, tok_n, "sqrt");
        if (!colon)
            continue;
        size_t kn = (size_t)(colon - tok), vn = tok_n - kn - 1;
        bool ok = true;
        if (equals(tok, kn, "num_class"))
            ok = parse_int(colon + 1, vn, 0, MAX_OUTPUTS, &num_class);
        else if (equals(tok, kn, "sigmoid"))
            ok = lgbm_atof(colon + 1, vn, &sigmoid);
        if (!ok)
            return bad(L, "line %u: objective parameter \"%.*s\" is not a number", f->line,
                       (int)(tok_n > 40 ? 40 : tok_n), tok);
    }
    g->transform = o->transform == LT_SQRT && !sqrt_token ? LT_IDENTITY : o->transform;
    g->sigmoid = sigmoid;
    if ((o->transform == LT_SIGMOID || o->transform == LT_OVA) && !(sigmoid > 0))
        return bad(L, "line %u: objective %s needs sigmoid:S with S > 0", f->line, o->name);
    if (o->multi && num_class != (long long)K)
        return bad(L, "line %u: objective %s needs num_class:%zu (num_tree_per_iteration)", f->line, o->name,
                   K);
    if (!o->multi && K != 1 && strcmp(o->name, "custom") != 0)
        return bad(L, "line %u: objective %s has one output, num_tree_per_iteration is %zu", f->line, o->name,
                   K);
    return RD_OK;
}

static int load_feature_names(struct loader *L, const struct field *f)
{
    rd_model *m = L->m;
    if (!f->set)
        return bad(L, "feature_names is missing");
    size_t have = count_toks(f->s, f->n);
    if (have != m->nfeat)
        return bad(L, "line %u: feature_names has %zu names, max_feature_idx+1 is %zu", f->line, have,
                   m->nfeat);
    if (!(m->feature_names = rd_calloc(m->nfeat ? m->nfeat : 1, sizeof(char *))))
        return oom(L);
    struct toks k = {f->s, f->s + f->n};
    const char *s;
    size_t n;
    for (size_t i = 0; next_tok(&k, &s, &n); i++)
        if (!(m->feature_names[i] = rd_strndup(s, n)))
            return oom(L);
    return RD_OK;
}

static int load_header(struct loader *L, struct field *h)
{
    rd_model *m = L->m;
    const char *s;
    size_t n;
    /* Leading white space is allowed, as rd_model_load_file() detects the format after it. */
    while (L->t.p < L->t.end && (*L->t.p == ' ' || *L->t.p == '\t' || *L->t.p == '\n' || *L->t.p == '\r')) {
        L->t.line += *L->t.p == '\n';
        L->t.p++;
    }
    if (!next_line(&L->t, &s, &n) || !equals(s, n, "tree"))
        return bad(L, "line %u: a LightGBM model starts with a line \"tree\"", L->t.line ? L->t.line : 1);
    int rc = read_fields(L, header_keys, H_COUNT, h, header_end);
    if (rc != RD_OK)
        return rc;
    const struct field *v = &h[H_VERSION];
    if (!v->set)
        return bad(L, "version is missing (v2, v3 or v4; older files are not read)");
    if (!equals(v->s, v->n, "v2") && !equals(v->s, v->n, "v3") && !equals(v->s, v->n, "v4"))
        return bad(L, "line %u: version \"%.*s\" is not v2, v3 or v4", v->line, (int)(v->n > 16 ? 16 : v->n),
                   v->s);
    long long nclass = 0, K = 0, maxf = 0; /* set by read_count() on success */
    if ((rc = read_count(L, &h[H_NUM_CLASS], "num_class", 1, MAX_OUTPUTS, &nclass)) != RD_OK)
        return rc;
    K = nclass;
    if (h[H_NUM_TREE_PER_ITERATION].set &&
        (rc = read_count(L, &h[H_NUM_TREE_PER_ITERATION], "num_tree_per_iteration", 1, MAX_OUTPUTS, &K)) !=
            RD_OK)
        return rc;
    if (K != nclass)
        return bad(L, "num_class is %lld but num_tree_per_iteration is %lld", nclass, K);
    if ((rc = read_count(L, &h[H_MAX_FEATURE_IDX], "max_feature_idx", 0, MAX_FEATURES - 1, &maxf)) != RD_OK)
        return rc;
    m->nfeat = (size_t)maxf + 1;
    m->nout = (size_t)K;
    L->g->average_output = h[H_AVERAGE_OUTPUT].set;
    if (h[H_OBJECTIVE].set && (rc = load_objective(L, &h[H_OBJECTIVE], m->nout)) != RD_OK)
        return rc;
    return load_feature_names(L, &h[H_FEATURE_NAMES]);
}

/* The per-tree scratch: the arrays of one tree as read, before compilation. */
struct tree_in {
    long long nleaves, ncat;
    int32_t *feature, *decision, *left, *right, *cat_bounds, *nfeat;
    double *threshold;
    uint32_t *stack; /* check_shape(): node, depth pairs */
    uint8_t *seen;   /* check_shape(): internal nodes, then leaves */
};

static void tree_in_free(struct tree_in *ti)
{
    rd_free(ti->feature);
    rd_free(ti->decision);
    rd_free(ti->left);
    rd_free(ti->right);
    rd_free(ti->cat_bounds);
    rd_free(ti->nfeat);
    rd_free(ti->threshold);
    rd_free(ti->stack);
    rd_free(ti->seen);
}

/* Check that the child arrays make a tree: from the root every internal node and every leaf
 * is reached exactly once, none deeper than MAX_DEPTH. Children are in range (checked). */
static int check_shape(struct loader *L, struct tree_in *ti)
{
    size_t ni = (size_t)ti->nleaves - 1, nl = (size_t)ti->nleaves, top = 0;
    uint8_t *seen = ti->seen;
    uint32_t *stack = ti->stack; /* at most one entry per edge, 2 * ni */
    stack[top++] = 0;
    stack[top++] = 0;
    while (top) {
        uint32_t depth = stack[--top], i = stack[--top];
        if (seen[i]++)
            return bad(L, "node %u is reached twice from the root (not a tree)", i);
        if (depth >= MAX_DEPTH)
            return bad(L, "deeper than %d levels", MAX_DEPTH);
        int32_t kids[2] = {ti->left[i], ti->right[i]};
        for (int k = 0; k < 2; k++) {
            if (kids[k] < 0) {
                uint32_t leaf = (uint32_t)~kids[k];
                if (seen[ni + leaf]++)
                    return bad(L, "leaf %u is reached twice from the root (not a tree)", leaf);
            } else if (top + 2 > 4 * ni) {
                return bad(L, "node %d is reached twice from the root (not a tree)", kids[k]);
            } else {
                stack[top++] = (uint32_t)kids[k];
                stack[top++] = depth + 1;
            }
        }
    }
    for (size_t i = 0; i < ni + nl; i++)
        if (!seen[i])
            return bad(L, "%s %zu is not reachable from the root", i < ni ? "node" : "leaf",
                       i < ni ? i : i - ni);
    return RD_OK;
}

/* Read the split arrays of a tree with nleaves > 1 and check every entry. */
static int read_splits(struct loader *L, const struct field *f, struct tree_in *ti)
{
    size_t ni = (size_t)ti->nleaves - 1;
    const char *w = "num_leaves-1";
    int rc;
    if (!(ti->feature = rd_malloc(ni * sizeof(int32_t))) ||
        !(ti->decision = rd_calloc(ni, sizeof(int32_t))) || !(ti->left = rd_malloc(ni * sizeof(int32_t))) ||
        !(ti->right = rd_malloc(ni * sizeof(int32_t))) || !(ti->threshold = rd_malloc(ni * sizeof(double))) ||
        !(ti->stack = rd_malloc(4 * ni * sizeof(uint32_t))) || !(ti->seen = rd_calloc(2 * ni + 1, 1)))
        return oom(L);
    for (int k = T_SPLIT_FEATURE; k <= T_RIGHT_CHILD; k++)
        if (!f[k].set && k != T_DECISION_TYPE)
            return bad(L, "%s is missing", tree_keys[k]);
    if ((rc = read_array(L, &f[T_SPLIT_FEATURE], "split_feature", ni, w, NUM_INT, ti->feature)) != RD_OK ||
        (rc = read_array(L, &f[T_THRESHOLD], "threshold", ni, w, NUM_DOUBLE, ti->threshold)) != RD_OK ||
        (f[T_DECISION_TYPE].set &&
         (rc = read_array(L, &f[T_DECISION_TYPE], "decision_type", ni, w, NUM_INT, ti->decision)) != RD_OK) ||
        (rc = read_array(L, &f[T_LEFT_CHILD], "left_child", ni, w, NUM_INT, ti->left)) != RD_OK ||
        (rc = read_array(L, &f[T_RIGHT_CHILD], "right_child", ni, w, NUM_INT, ti->right)) != RD_OK)
        return rc;
    for (size_t i = 0; i < ni; i++) {
        int32_t d = ti->decision[i];
        if (ti->feature[i] < 0 || (size_t)ti->feature[i] >= L->m->nfeat)
            return bad(L, "split_feature[%zu] = %d is not a feature (max_feature_idx is %zu)", i,
                       ti->feature[i], L->m->nfeat - 1);
        if (d < 0 || d > 15 || DT_MISSING((uint32_t)d) == 3)
            return bad(L, "decision_type[%zu] = %d is not a LightGBM decision type", i, d);
        if ((d & DT_CATEGORICAL) && ti->ncat == 0)
            return bad(L, "decision_type[%zu] = %d is categorical but num_cat is 0", i, d);
        if ((d & DT_CATEGORICAL) && !(ti->threshold[i] >= 0 && ti->threshold[i] < (double)ti->ncat &&
                                      ti->threshold[i] == floor(ti->threshold[i])))
            return bad(L, "threshold[%zu] = %.17g names no bitset of this tree (num_cat is %lld)", i,
                       ti->threshold[i], ti->ncat);
        int32_t kids[2] = {ti->left[i], ti->right[i]};
        for (int k = 0; k < 2; k++) {
            if (kids[k] >= 0 && (size_t)kids[k] >= ni)
                return bad(L, "%s[%zu] = %d is not a node (num_leaves-1 is %zu)",
                           k ? "right_child" : "left_child", i, kids[k], ni);
            if (kids[k] < 0 && (uint32_t)~kids[k] >= (uint64_t)ti->nleaves)
                return bad(L, "%s[%zu] = %d is not a leaf (num_leaves is %lld)",
                           k ? "right_child" : "left_child", i, kids[k], ti->nleaves);
        }
    }
    return check_shape(L, ti);
}

/* Categorical bitsets: cat_boundaries (num_cat+1 word offsets from 0 to the word count) and
 * cat_threshold (the words), appended to cat_words; categorical nodes get their slice. */
static int read_bitsets(struct loader *L, const struct field *f, struct tree_in *ti, rd__lnode *nodes)
{
    struct rd__lgbm *g = L->g;
    size_t nb = (size_t)ti->ncat + 1;
    int rc;
    if (!f[T_CAT_BOUNDARIES].set || !f[T_CAT_THRESHOLD].set)
        return bad(L, "%s is missing (num_cat is %lld)",
                   f[T_CAT_BOUNDARIES].set ? "cat_threshold" : "cat_boundaries", ti->ncat);
    if (!(ti->cat_bounds = rd_malloc(nb * sizeof(int32_t))))
        return oom(L);
    if ((rc = read_array(L, &f[T_CAT_BOUNDARIES], "cat_boundaries", nb, "num_cat+1", NUM_INT,
                         ti->cat_bounds)) != RD_OK)
        return rc;
    if (ti->cat_bounds[0] != 0)
        return bad(L, "cat_boundaries[0] = %d, must be 0", ti->cat_bounds[0]);
    for (size_t i = 1; i < nb; i++)
        if (ti->cat_bounds[i] < ti->cat_bounds[i - 1])
            return bad(L, "cat_boundaries[%zu] = %d is less than the entry before it", i, ti->cat_bounds[i]);
    size_t words = (size_t)ti->cat_bounds[nb - 1], base = g->ncat_words;
    const char *ww = "cat_boundaries[num_cat]";
    if ((rc = room(L, base, words)) != RD_OK ||
        (rc = check_count(L, &f[T_CAT_THRESHOLD], "cat_threshold", words, ww)) != RD_OK ||
        (rc = grow(L, (void **)&g->cat_words, &g->cap_cat_words, g->ncat_words, words, sizeof(uint32_t))) !=
            RD_OK ||
        (words > 0 && /* cat_words may still be NULL, where adding 0 is undefined */
         (rc = read_array(L, &f[T_CAT_THRESHOLD], "cat_threshold", words, ww, NUM_U32,
                          g->cat_words + base)) != RD_OK))
        return rc;
    g->ncat_words += words;
    for (size_t i = 0; i + 1 < (size_t)ti->nleaves; i++) {
        if (!(nodes[i].decision & DT_CATEGORICAL))
            continue;
        size_t c = (size_t)ti->threshold[i];
        nodes[i].u.cat.first = (uint32_t)(base + (size_t)ti->cat_bounds[c]);
        nodes[i].u.cat.count = (uint32_t)(ti->cat_bounds[c + 1] - ti->cat_bounds[c]);
    }
    return RD_OK;
}

/* Linear leaves: leaf_const, num_features and the flattened leaf_features / leaf_coeff. */
static int read_linear(struct loader *L, const struct field *f, struct tree_in *ti, rd__ltree *t)
{
    struct rd__lgbm *g = L->g;
    size_t nl = (size_t)ti->nleaves;
    int rc;
    for (int k = T_LEAF_CONST; k <= T_NUM_FEATURES; k++)
        if (!f[k].set)
            return bad(L, "%s is missing (is_linear is 1)", tree_keys[k]);
    if (!(ti->nfeat = rd_malloc(nl * sizeof(int32_t))))
        return oom(L);
    if ((rc = grow(L, (void **)&g->lin, &g->cap_lin, g->nlin, nl, sizeof(rd__llin))) != RD_OK ||
        (rc = read_array(L, &f[T_NUM_FEATURES], "num_features", nl, "num_leaves", NUM_INT, ti->nfeat)) !=
            RD_OK)
        return rc;
    double *consts = rd_malloc(nl * sizeof(double));
    if (!consts)
        return oom(L);
    rc = read_array(L, &f[T_LEAF_CONST], "leaf_const", nl, "num_leaves", NUM_DOUBLE, consts);
    size_t total = 0, base = g->nlin_terms;
    for (size_t l = 0; l < nl && rc == RD_OK; l++) {
        if (ti->nfeat[l] < 0 || ti->nfeat[l] > MAX_FEATURES)
            rc = bad(L, "num_features[%zu] = %d is not a feature count", l, ti->nfeat[l]);
        else
            g->lin[g->nlin + l] = (rd__llin){consts[l], (uint32_t)(base + total), (uint32_t)ti->nfeat[l]};
        total += rc == RD_OK ? (size_t)ti->nfeat[l] : 0;
    }
    rd_free(consts);
    const char *tw = "the sum of num_features";
    if (rc != RD_OK || (rc = room(L, base, total)) != RD_OK)
        return rc;
    if (total && (!f[T_LEAF_FEATURES].set || !f[T_LEAF_COEFF].set))
        return bad(L, "%s is missing (is_linear is 1)",
                   f[T_LEAF_FEATURES].set ? "leaf_coeff" : "leaf_features");
    if ((rc = check_count(L, &f[T_LEAF_FEATURES], "leaf_features", total, tw)) != RD_OK ||
        (rc = check_count(L, &f[T_LEAF_COEFF], "leaf_coeff", total, tw)) != RD_OK ||
        (rc = grow(L, (void **)&g->lin_feat, &g->cap_lin_feat, base, total, sizeof(uint32_t))) != RD_OK ||
        (rc = grow(L, (void **)&g->lin_coeff, &g->cap_lin_coeff, base, total, sizeof(double))) != RD_OK)
        return rc;
    /* int32 and uint32 may alias: the features are read as int32 and checked in place. With
     * no terms the arrays may still be NULL, where even adding 0 is undefined (the fuzzer). */
    if (total > 0 &&
        ((rc = read_array(L, &f[T_LEAF_FEATURES], "leaf_features", total, "the sum of num_features", NUM_INT,
                          (int32_t *)(g->lin_feat + base))) != RD_OK ||
         (rc = read_array(L, &f[T_LEAF_COEFF], "leaf_coeff", total, "the sum of num_features", NUM_DOUBLE,
                          g->lin_coeff + base)) != RD_OK))
        return rc;
    for (size_t j = 0; j < total; j++) {
        int32_t feat = ((const int32_t *)g->lin_feat)[base + j];
        if (feat < 0 || (size_t)feat >= L->m->nfeat)
            return bad(L, "leaf_features[%zu] = %d is not a feature (max_feature_idx is %zu)", j, feat,
                       L->m->nfeat - 1);
    }
    t->linear = true;
    t->lin0 = (uint32_t)g->nlin;
    g->nlin += nl;
    g->nlin_terms += total;
    return RD_OK;
}

/* One tree's block: the arrays checked and appended to the model's flat arrays. */
/* internal_count and leaf_count, kept for TreeSHAP while every tree so far has had them. They
 * are advisory: a model whose counts are absent or malformed still predicts, and only
 * TreeSHAP refuses it. A one-leaf tree needs none (LightGBM writes its counts empty). */
static bool counts_ok(const struct field *f, size_t want) { return f->set && count_toks(f->s, f->n) == want; }

static int read_counts(struct loader *L, const struct field *f, size_t ni, size_t nl)
{
    struct rd__lgbm *g = L->g;
    if (g->ntrees == 0)
        g->has_counts = true;
    if (!g->has_counts ||
        (ni > 0 && (!counts_ok(&f[T_LEAF_COUNT], nl) || !counts_ok(&f[T_INTERNAL_COUNT], ni)))) {
        g->has_counts = false;
        return RD_OK;
    }
    int rc;
    if ((rc = grow(L, (void **)&g->node_count, &g->cap_node_count, g->nnodes, ni + 1, sizeof(double))) !=
            RD_OK ||
        (rc = grow(L, (void **)&g->leaf_count, &g->cap_leaf_count, g->nleaves, nl, sizeof(double))) != RD_OK)
        return rc;
    if (ni == 0) {
        g->leaf_count[g->nleaves] = 1.0;
        return RD_OK;
    }
    if (read_array(L, &f[T_LEAF_COUNT], "leaf_count", nl, "num_leaves", NUM_DOUBLE,
                   g->leaf_count + g->nleaves) != RD_OK ||
        read_array(L, &f[T_INTERNAL_COUNT], "internal_count", ni, "num_leaves-1", NUM_DOUBLE,
                   g->node_count + g->nnodes) != RD_OK) {
        rd_err_clear(L->err);
        g->has_counts = false;
    }
    return RD_OK;
}

static int read_tree(struct loader *L, const struct field *f)
{
    struct rd__lgbm *g = L->g;
    struct tree_in ti = {0};
    long long is_linear = 0;
    int rc;
    if ((rc = read_count(L, &f[T_NUM_LEAVES], "num_leaves", 1, MAX_LEAVES, &ti.nleaves)) != RD_OK ||
        (rc = read_count(L, &f[T_NUM_CAT], "num_cat", 0, ti.nleaves - 1, &ti.ncat)) != RD_OK ||
        (f[T_IS_LINEAR].set && (rc = read_count(L, &f[T_IS_LINEAR], "is_linear", 0, 1, &is_linear)) != RD_OK))
        return rc;
    if (!f[T_LEAF_VALUE].set)
        return bad(L, "leaf_value is missing");
    size_t nl = (size_t)ti.nleaves, ni = nl - 1;
    if ((rc = check_count(L, &f[T_LEAF_VALUE], "leaf_value", nl, "num_leaves")) != RD_OK ||
        (rc = room(L, g->nnodes, ni)) != RD_OK || (rc = room(L, g->nleaves, nl)) != RD_OK)
        return rc;
    if ((rc = grow(L, (void **)&g->trees, &g->cap_trees, g->ntrees, 1, sizeof(rd__ltree))) != RD_OK ||
        (rc = grow(L, (void **)&g->nodes, &g->cap_nodes, g->nnodes, ni, sizeof(rd__lnode))) != RD_OK ||
        (rc = grow(L, (void **)&g->leaf_value, &g->cap_leaves, g->nleaves, nl, sizeof(double))) != RD_OK ||
        (rc = read_array(L, &f[T_LEAF_VALUE], "leaf_value", nl, "num_leaves", NUM_DOUBLE,
                         g->leaf_value + g->nleaves)) != RD_OK)
        return rc;
    if ((rc = read_counts(L, f, ni, nl)) != RD_OK)
        return rc;
    rd__ltree *t = &g->trees[g->ntrees];
    *t = (rd__ltree){(uint32_t)g->nnodes, (uint32_t)g->nleaves, 0, (uint32_t)nl, false};
    if (ni == 0) { /* a one-leaf tree: LightGBM writes its split arrays empty */
        for (int k = T_SPLIT_FEATURE; k <= T_RIGHT_CHILD; k++)
            if (f[k].set && count_toks(f[k].s, f[k].n) != 0)
                rc =
                    bad(L, "%s has %zu entries, num_leaves-1 is 0", tree_keys[k], count_toks(f[k].s, f[k].n));
    } else if ((rc = read_splits(L, f, &ti)) == RD_OK) {
        rd__lnode *nodes = g->nodes + g->nnodes;
        for (size_t i = 0; i < ni; i++) {
            nodes[i] = (rd__lnode){.left = ti.left[i],
                                   .right = ti.right[i],
                                   .feature = (uint32_t)ti.feature[i],
                                   .decision = (uint8_t)ti.decision[i]};
            nodes[i].u.threshold = ti.threshold[i];
        }
        if (ti.ncat > 0)
            rc = read_bitsets(L, f, &ti, nodes);
    }
    if (rc == RD_OK && is_linear)
        rc = read_linear(L, f, &ti, t);
    if (rc == RD_OK) {
        g->nnodes += ni;
        g->nleaves += nl;
        g->ntrees++;
    }
    tree_in_free(&ti);
    return rc;
}

static int load_trees(struct loader *L, const struct field *h)
{
    struct rd__lgbm *g = L->g;
    rd_model *m = L->m;
    const char *s;
    size_t n;
    for (;;) {
        if (!next_line(&L->t, &s, &n)) {
            if (h[H_TREE_SIZES].set) /* the count is checked below */
                break;
            return bad(L, "the model ends without an \"end of trees\" line (truncated?)");
        }
        if (n == 0)
            continue;
        if (trees_end(s, n))
            break;
        long long idx;
        if (!starts_with(s, n, "Tree=") || !parse_int(s + 5, n - 5, 0, MAX_TOTAL, &idx))
            return bad(L, "line %u: expected \"Tree=%zu\" or \"end of trees\", not \"%.*s\"", L->t.line,
                       g->ntrees, (int)(n > 32 ? 32 : n), s);
        if ((size_t)idx != g->ntrees)
            return bad(L, "line %u: Tree=%lld where Tree=%zu was expected", L->t.line, idx, g->ntrees);
        struct field f[T_COUNT] = {{0}};
        L->tree = (long)idx;
        int rc = read_fields(L, tree_keys, T_COUNT, f, tree_end);
        if (rc == RD_OK)
            rc = read_tree(L, f);
        L->tree = -1;
        if (rc != RD_OK)
            return rc;
    }
    if (g->ntrees % m->nout != 0)
        return bad(L, "%zu trees is not a multiple of num_tree_per_iteration (%zu)", g->ntrees, m->nout);
    if (h[H_TREE_SIZES].set && count_toks(h[H_TREE_SIZES].s, h[H_TREE_SIZES].n) != g->ntrees)
        return bad(L, "line %u: tree_sizes lists %zu trees, the model has %zu", h[H_TREE_SIZES].line,
                   count_toks(h[H_TREE_SIZES].s, h[H_TREE_SIZES].n), g->ntrees);
    g->niter = g->ntrees / m->nout;
    m->ntrees = g->ntrees;
    return RD_OK;
}

/* The layout of forest.c (docs/adr/0012-perfect-tree-predictor.md) for this model: each split
 * described by the rule its column of the row keeps (go_left's, below), so the layout's one
 * compare a step is go_left's decision. Linear trees keep the node walk (a leaf's output
 * depends on the row), as does a model the layout refuses; without memory for the description
 * the model simply has no layout. */
static void prepare_layout(rd_model *m)
{
    const struct rd__lgbm *g = m->lgbm;
    for (size_t t = 0; t < g->ntrees; t++)
        if (g->trees[t].linear)
            return;
    rd__fsplit *splits = rd_malloc((g->nnodes ? g->nnodes : 1) * sizeof(*splits));
    rd__ftree *trees = rd_malloc((g->ntrees ? g->ntrees : 1) * sizeof(*trees));
    if (splits && trees) {
        for (size_t i = 0; i < g->nnodes; i++) {
            const rd__lnode *n = &g->nodes[i];
            unsigned d = n->decision, missing = DT_MISSING(d);
            bool left = (d & DT_DEFAULT_LEFT) != 0;
            rd__fsplit *s = &splits[i];
            *s = (rd__fsplit){.left = n->left, .right = n->right, .feature = n->feature};
            if (d & DT_CATEGORICAL) {
                s->kind = RD__FCOL_CATEGORY;
                s->cat_first = n->u.cat.first;
                s->cat_count = n->u.cat.count;
            } else {
                s->thr = n->u.threshold;
                s->kind = missing == MISSING_NAN    ? (left ? RD__FCOL_NAN_LEFT : RD__FCOL_NAN_RIGHT)
                          : missing == MISSING_ZERO ? (left ? RD__FCOL_ZERO_LEFT : RD__FCOL_ZERO_RIGHT)
                                                    : RD__FCOL_NAN_AS_ZERO;
            }
        }
        for (size_t t = 0; t < g->ntrees; t++)
            trees[t] = (rd__ftree){splits + g->trees[t].node0, g->leaf_value + g->trees[t].leaf0,
                                   g->trees[t].nleaves};
        rd__forest_prepare_f64(m, trees, g->cat_words);
    }
    rd_free(splits);
    rd_free(trees);
}

int rd__lightgbm_load(const char *text, size_t len, rd_model **out, rd_err *err)
{
    rd_err local;
    if (!err)
        err = &local;
    rd_err_clear(err);
    rd_model *m = rd_calloc(1, sizeof(*m));
    struct rd__lgbm *g = m ? rd_calloc(1, sizeof(*g)) : NULL;
    if (!g) {
        rd_free(m);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    m->kind = RD_MODEL_LIGHTGBM;
    m->ops = &rd__lightgbm_ops;
    m->float32 = false;
    m->lgbm = g;
    struct loader L = {m, g, err, {text, text ? text + len : text, 0}, -1};
    struct field h[H_COUNT] = {{0}};
    int rc = text ? load_header(&L, h) : bad(&L, "no model text");
    if (rc == RD_OK)
        rc = load_trees(&L, h);
    if (rc != RD_OK) {
        rd_model_free(m);
        return rc;
    }
    /* The generic transform only tells rd_model_num_outputs() this is never an argmax. */
    m->transform = g->transform == LT_SIGMOID || g->transform == LT_OVA || g->transform == LT_XENT
                       ? RD__T_SIGMOID
                   : g->transform == LT_SOFTMAX ? RD__T_SOFTMAX
                   : g->transform == LT_EXP     ? RD__T_EXP
                                                : RD__T_IDENTITY;
    m->probability = m->nout == 1 && (g->transform == LT_SIGMOID || g->transform == LT_XENT);
    rd__shap_prepare(m);
    prepare_layout(m);
    *out = m;
    return RD_OK;
}

/* ---------------------------------------------------------------- prediction */

/* Feature f as LightGBM sees it: its input paths keep only values with |x| > kZeroThreshold
 * (and NaN) and leave the rest 0. */
static inline double feature(const double *x, uint32_t f) { return rd__lgbm_feature(x[f]); }

/* LightGBM's Tree::Decision: whether the row goes left at node n. */
static inline bool go_left(const struct rd__lgbm *g, const rd__lnode *n, double v)
{
    unsigned d = n->decision;
    if (d & DT_CATEGORICAL) /* CategoricalDecision */
        return rd__lgbm_cat_left(g->cat_words, n->u.cat.first, n->u.cat.count, v);
    unsigned missing = DT_MISSING(d);
    if (isnan(v) && missing != MISSING_NAN)
        v = 0.0;
    if ((missing == MISSING_ZERO && v >= -ZERO_THRESHOLD && v <= ZERO_THRESHOLD) ||
        (missing == MISSING_NAN && isnan(v)))
        return (d & DT_DEFAULT_LEFT) != 0;
    return v <= n->u.threshold;
}

/* The leaf (index within the tree) the row reaches: at most MAX_DEPTH steps (the loader
 * checked the tree). */
static inline uint32_t tree_leaf(const struct rd__lgbm *g, const rd__ltree *t, const double *x)
{
    if (t->nleaves == 1)
        return 0;
    const rd__lnode *nodes = g->nodes + t->node0;
    int32_t i = 0;
    do {
        const rd__lnode *n = &nodes[i];
        i = go_left(g, n, feature(x, n->feature)) ? n->left : n->right;
    } while (i >= 0);
    return (uint32_t)~i;
}

/* One term of a linear leaf, LightGBM's `output += leaf_coeff * feat_val`. Its arm64 builds
 * fuse that into one multiply-add (GCC and clang contract by default, and FMA is in the arm64
 * base instruction set); its x86-64 builds cannot (no FMA in the baseline target, and
 * LightGBM's CMakeLists adds no -march). Follow LightGBM built for the same architecture. Here
 * the C11 compiler never contracts on its own (GCC's ISO mode sets -ffp-contract=off), so the
 * choice is explicit. The boosters linear_tree vector was made by an FMA build: bit-identical
 * with fma(), within 1 ulp without. */
#if defined(__aarch64__) || defined(__arm64__)
#define LINEAR_TERM(acc, c, v) fma((c), (v), (acc))
#else
#define LINEAR_TERM(acc, c, v) ((acc) + (c) * (v))
#endif

/* LightGBM's Tree::Predict. */
static inline double tree_output(const struct rd__lgbm *g, const rd__ltree *t, const double *x)
{
    uint32_t leaf = tree_leaf(g, t, x);
    if (!t->linear)
        return g->leaf_value[t->leaf0 + leaf];
    const rd__llin *ll = &g->lin[t->lin0 + leaf];
    double out = ll->constant;
    for (uint32_t j = 0; j < ll->count; j++) {
        double v = feature(x, g->lin_feat[ll->first + j]);
        if (isnan(v))
            return g->leaf_value[t->leaf0 + leaf];
        out = LINEAR_TERM(out, g->lin_coeff[ll->first + j], v);
    }
    return out;
}

/* The objective's ConvertOutput, in place over the K outputs. */
static void convert_output(const struct rd__lgbm *g, double *out, size_t K)
{
    switch (g->transform) {
    case LT_SQRT: out[0] = (double)((out[0] > 0) - (out[0] < 0)) * out[0] * out[0]; break;
    case LT_SIGMOID: out[0] = 1.0 / (1.0 + exp(-g->sigmoid * out[0])); break;
    case LT_OVA:
        for (size_t k = 0; k < K; k++)
            out[k] = 1.0 / (1.0 + exp(-g->sigmoid * out[k]));
        break;
    case LT_XENT: out[0] = 1.0 / (1.0 + exp(-out[0])); break;
    case LT_XENT_LAMBDA: out[0] = log1p(exp(out[0])); break;
    case LT_EXP: out[0] = exp(out[0]); break;
    case LT_SOFTMAX: { /* Common::Softmax */
        double wmax = out[0], wsum = 0.0;
        for (size_t k = 1; k < K; k++)
            wmax = out[k] < wmax ? wmax : out[k]; /* std::max(input[i], wmax), NaN included */
        for (size_t k = 0; k < K; k++) {
            out[k] = exp(out[k] - wmax);
            wsum += out[k];
        }
        for (size_t k = 0; k < K; k++)
            out[k] /= wsum;
        break;
    }
    case LT_IDENTITY: break;
    }
}

/* The K sums of a row into the output asked for, in place. */
static void finish(const struct rd__lgbm *g, rd_output kind, double *out, size_t K)
{
    if (kind == RD_OUTPUT_RAW)
        return;
    if (g->average_output)
        for (size_t j = 0; j < K; j++)
            out[j] /= (double)g->niter;
    convert_output(g, out, K);
}

#define DEADLINE_BLOCK 128 /* trees between two looks at the clock; a multiple of forest.c's 8 */

int rd__lightgbm_predict(const rd_model *m, const double *x, rd_output kind, double *out, int64_t deadline)
{
    const struct rd__lgbm *g = m->lgbm;
    size_t K = m->nout, k = 0;
    for (size_t j = 0; j < K; j++)
        out[j] = 0.0;
    /* Trees are iteration-major: tree i*K + k adds to output k. With a deadline, the clock is
     * read every DEADLINE_BLOCK trees (the order of the sum does not change). The layout
     * (forest.c) adds the same leaves in the same order: the same bits. */
    double xx[RD__FOREST_MAX_COLS];
    if (m->forest)
        rd__forest_row_f64(m, x, xx);
    for (size_t t = 0; t < g->ntrees; t++) {
        if (deadline && t % DEADLINE_BLOCK == 0 && rd_clock_ns() > deadline) {
            for (size_t j = 0; j < K; j++)
                out[j] = (double)NAN;
            return RD_ETIMEOUT;
        }
        if (m->forest) {
            size_t to = deadline && g->ntrees - t > DEADLINE_BLOCK ? t + DEADLINE_BLOCK : g->ntrees;
            rd__forest_sum_one_f64(m, xx, out, t, to);
            t = to - 1;
            continue;
        }
        out[k] += tree_output(g, &g->trees[t], x);
        k = k + 1 == K ? 0 : k + 1;
    }
    finish(g, kind, out, K);
    return RD_OK;
}

/* Rows a block at a time through the layout (forest.c), each row's sums added in place in out
 * in the order rd__lightgbm_predict adds them: the same bits. */
static void predict_rows(const rd_model *m, const double *x, size_t n, rd_output kind, double *out)
{
    size_t nf = m->nfeat, K = m->nout;
    if (kind == RD_OUTPUT_SCORE) /* no points: rd_model_num_outputs said 0 */
        return;
    double *xb = m->forest ? rd_malloc(RD__FOREST_BLOCK * rd__forest_columns(m) * sizeof(double)) : NULL;
    if (!xb) { /* no layout (or no memory for the block): row by row, the same bits */
        for (size_t r = 0; r < n; r++)
            rd__lightgbm_predict(m, x + r * nf, kind, out + r * K, 0);
        return;
    }
    for (size_t b = 0; b < n; b += RD__FOREST_BLOCK) {
        size_t nb = n - b < RD__FOREST_BLOCK ? n - b : RD__FOREST_BLOCK;
        double *acc = out + b * K;
        rd__forest_block_f64(m, x + b * nf, nb, xb);
        for (size_t i = 0; i < nb * K; i++)
            acc[i] = 0.0;
        rd__forest_sum_rows_f64(m, xb, nb, acc);
        for (size_t r = 0; r < nb; r++)
            finish(m->lgbm, kind, acc + r * K, K);
    }
    rd_free(xb);
}

void rd__lightgbm_leaves(const rd_model *m, const double *x, uint32_t *out)
{
    const struct rd__lgbm *g = m->lgbm;
    for (size_t t = 0; t < g->ntrees; t++)
        out[t] = tree_leaf(g, &g->trees[t], x);
}

/* ---------------------------------------------------------------- TreeSHAP */

bool rd__lightgbm_has_counts(const rd_model *m)
{
    const struct rd__lgbm *g = m->lgbm;
    for (size_t t = 0; t < g->ntrees; t++)
        if (g->trees[t].linear)
            return false; /* a linear leaf's output depends on the row: not path-dependent */
    return g->has_counts;
}

/* Nodes of tree t numbered for TreeSHAP: internal nodes 0..ni-1, then leaf l as ni + l. */
static uint32_t unified(const rd__ltree *t, int32_t child)
{
    return child >= 0 ? (uint32_t)child : t->nleaves - 1 + (uint32_t)~child;
}

bool rd__lightgbm_shap_node(const rd_model *m, size_t tree, uint32_t node, const double *x,
                            rd__shap_node *out)
{
    const struct rd__lgbm *g = m->lgbm;
    const rd__ltree *t = &g->trees[tree];
    uint32_t ni = t->nleaves - 1;
    if (node >= ni) {
        out->value = g->leaf_value[t->leaf0 + node - ni];
        out->cover = g->leaf_count[t->leaf0 + node - ni];
        return false;
    }
    const rd__lnode *n = &g->nodes[t->node0 + node];
    bool left = !x || go_left(g, n, feature(x, n->feature)); /* no row: the children in order */
    out->hot = unified(t, left ? n->left : n->right);
    out->cold = unified(t, left ? n->right : n->left);
    out->cover = g->node_count[t->node0 + node];
    out->feature = (int32_t)n->feature;
    return true;
}

uint32_t rd__lightgbm_tree_group(const rd_model *m, size_t tree) { return (uint32_t)(tree % m->nout); }

static void lightgbm_free(rd_model *m) { rd__lightgbm_free(m->lgbm); }

const rd__model_ops rd__lightgbm_ops = {.format = "lightgbm",
                                        .predict = rd__lightgbm_predict,
                                        .impacts = rd__tree_impacts,
                                        .predict_rows = predict_rows,
                                        .free = lightgbm_free};
