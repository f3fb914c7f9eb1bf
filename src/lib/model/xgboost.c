/* XGBoost JSON models: the loader and the predictor.
 *
 * Bit-exact with XGBoost's CPU predictor (reference/model-formats.md §2.1): inputs become
 * float32 before any comparison, `x < split` goes left, missing follows default_left, the
 * leaves of each output group are summed in float32 in tree order onto the base margin, and
 * the objective's transform runs in float32. Numbers are read as float32 text (one rounding).
 *
 * Invariants after loading: every child index is a node of the same tree, every tree is
 * acyclic with depth at most MAX_DEPTH (checked), every split feature < nfeat, so the
 * iterative traversal always ends on a leaf. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"
#include "riskd/clock.h"
#include "riskd/arena.h"
#include "riskd/json.h"

#define MAX_DEPTH   256
#define MAX_NODES   (1u << 28)
#define MAX_OUTPUTS 4096

struct loader {
    rd_model *m;
    rd_err *err;
    char path[160]; /* JSON path of what is being read, for messages */
};

static int bad(struct loader *L, const char *what)
{
    return rd_err_set(L->err, RD_EINVAL, "%s: %s", L->path, what);
}

static const rd_value *field(struct loader *L, const rd_value *obj, const char *key, rd_vtype type,
                             bool required)
{
    const rd_value *v = rd_value_get(obj, key, strlen(key));
    size_t n = strlen(L->path);
    snprintf(L->path + n, sizeof(L->path) - n, ".%s", key);
    if (!v) {
        if (required)
            bad(L, "missing");
        L->path[n] = '\0';
        return NULL;
    }
    if (v->type != type) {
        rd_err_set(L->err, RD_EINVAL, "%s: must be %s %s, not %s", L->path, type == RD_VARRAY ? "an" : "a",
                   rd_vtype_name(type), rd_vtype_name(v->type));
        L->path[n] = '\0';
        return NULL;
    }
    L->path[n] = '\0';
    return v;
}

/* XGBoost writes its parameters as strings ("26", "5E-1"); 2.x also as numbers. */
static bool param_number(const rd_value *v, double *out)
{
    if (v && v->type == RD_VNUMBER) {
        *out = v->u.n;
        return true;
    }
    if (!v || v->type != RD_VSTRING || v->len == 0)
        return false;
    char *end;
    *out = strtod(v->u.s, &end);
    return *end == '\0';
}

/* base_score: "5E-1", or since 3.1 "[2.815447E-1]" / "[0.1,0.2]" (one per target). */
static int parse_base_score(struct loader *L, const rd_value *v, float *out, size_t n)
{
    if (!v || v->type != RD_VSTRING)
        return bad(L, "learner_model_param.base_score must be a string");
    const char *s = v->u.s;
    bool list = s[0] == '[';
    if (list)
        s++;
    for (size_t i = 0; i < n; i++) {
        char *end;
        float f = strtof(s, &end);
        if (end == s || !isfinite(f))
            return bad(L, "learner_model_param.base_score is not a number");
        out[i] = f;
        s = end;
        while (*s == ' ')
            s++;
        if (*s == ',') {
            s++;
        } else if (i + 1 < n) { /* one value for all outputs */
            for (size_t k = i + 1; k < n; k++)
                out[k] = f;
            break;
        }
    }
    return RD_OK;
}

struct objective {
    const char *name;
    rd__transform transform;
    int base; /* 0: base_score as is, 1: logit of it, 2: log of it */
};

static const struct objective objectives[] = {
    {"binary:logistic", RD__T_SIGMOID, 1},
    {"reg:logistic", RD__T_SIGMOID, 1},
    /* LogisticRaw::ProbToMargin returns base_score as is (src/objective/regression_loss.h in
     * 1.7.4 and 2.x; LogisticObjective<kRaw> skips it in 3.x), unlike binary:logistic. */
    {"binary:logitraw", RD__T_IDENTITY, 0},
    {"binary:hinge", RD__T_HINGE, 0},
    {"reg:squarederror", RD__T_IDENTITY, 0},
    {"reg:linear", RD__T_IDENTITY, 0},
    {"reg:squaredlogerror", RD__T_IDENTITY, 0},
    {"reg:pseudohubererror", RD__T_IDENTITY, 0},
    {"reg:absoluteerror", RD__T_IDENTITY, 0},
    {"reg:quantileerror", RD__T_IDENTITY, 0},
    {"count:poisson", RD__T_EXP, 2},
    {"reg:gamma", RD__T_EXP, 2},
    {"reg:tweedie", RD__T_EXP, 2},
    {"multi:softprob", RD__T_SOFTMAX, 0},
    {"multi:softmax", RD__T_ARGMAX, 0},
    {"rank:pairwise", RD__T_IDENTITY, 0},
    {"rank:ndcg", RD__T_IDENTITY, 0},
    {"rank:map", RD__T_IDENTITY, 0},
};

static float base_margin_of(int base, float score)
{
    if (base == 1)
        return -logf(1.0f / score - 1.0f);
    if (base == 2)
        return logf(score);
    return score;
}

/* A tree's arrays, checked for length and type. */
struct tree_arrays {
    const rd_value *left, *right, *split_idx, *split_cond, *default_left, *split_type, *sum_hessian;
    const rd_value *cat_nodes, *cat_segments, *cat_sizes, *cats;
    uint32_t n;
};

/* XGBoost writes non-finite floats as the bare tokens NaN, Infinity and -Infinity
 * (PrintSpecialFloat in src/common/charconv.cc, read back by JsonReader::ParseNumber in
 * src/common/json.cc); 1.7.4 writes NaN as the split_conditions of every categorical split.
 * quote_specials() turns them into the strings "NaN", "Infinity", "-Infinity" before the strict
 * JSON parser sees them; this reads such a string back as the number it stands for. */
static bool special_float(const rd_value *e, double *out)
{
    if (e->type != RD_VSTRING)
        return false;
    if (e->len == 3 && memcmp(e->u.s, "NaN", 3) == 0)
        *out = (double)NAN;
    else if (e->len == 8 && memcmp(e->u.s, "Infinity", 8) == 0)
        *out = (double)INFINITY;
    else if (e->len == 9 && memcmp(e->u.s, "-Infinity", 9) == 0)
        *out = -(double)INFINITY;
    else
        return false;
    return true;
}

/* floats: the array holds float values (split_conditions, sum_hessian), which may be
 * non-finite; index and flag arrays may not. */
static int tree_array(struct loader *L, const rd_value *t, const char *key, uint32_t n, bool required,
                      bool floats, const rd_value **out)
{
    *out = field(L, t, key, RD_VARRAY, required);
    if (!*out) /* absent and optional: fine; otherwise field() said why */
        return required ? (L->err->code ? L->err->code : RD_EINVAL) : L->err->code;
    if (n != UINT32_MAX && (*out)->len != n) {
        char what[96];
        snprintf(what, sizeof(what), "%s has %u entries, num_nodes is %u", key, (*out)->len, n);
        return bad(L, what);
    }
    for (uint32_t i = 0; i < (*out)->len; i++) {
        const rd_value *e = &(*out)->u.items[i];
        double special;
        if (e->type != RD_VNUMBER && e->type != RD_VBOOL && !(floats && special_float(e, &special))) {
            char what[96];
            snprintf(what, sizeof(what), "%s[%u] is not a number", key, i);
            return bad(L, what);
        }
    }
    return RD_OK;
}

static double num_at(const rd_value *arr, uint32_t i)
{
    const rd_value *e = &arr->u.items[i];
    double special;
    if (special_float(e, &special)) /* only where tree_array() allowed it */
        return special;
    return e->type == RD_VBOOL ? (e->u.b ? 1 : 0) : e->u.n;
}

static int read_tree(struct loader *L, const rd_value *t, struct tree_arrays *a)
{
    const rd_value *tp = field(L, t, "tree_param", RD_VOBJECT, true);
    double nn;
    if (!tp)
        return RD_EINVAL;
    if (!param_number(rd_value_get(tp, "num_nodes", 9), &nn) || nn < 1 || nn > MAX_NODES || nn != floor(nn))
        return bad(L, "tree_param.num_nodes must be a positive count");
    a->n = (uint32_t)nn;
    int rc;
    if ((rc = tree_array(L, t, "left_children", a->n, true, false, &a->left)) != RD_OK ||
        (rc = tree_array(L, t, "right_children", a->n, true, false, &a->right)) != RD_OK ||
        (rc = tree_array(L, t, "split_indices", a->n, true, false, &a->split_idx)) != RD_OK ||
        (rc = tree_array(L, t, "split_conditions", a->n, true, true, &a->split_cond)) != RD_OK ||
        (rc = tree_array(L, t, "default_left", a->n, true, false, &a->default_left)) != RD_OK ||
        (rc = tree_array(L, t, "split_type", a->n, false, false, &a->split_type)) != RD_OK ||
        (rc = tree_array(L, t, "sum_hessian", a->n, false, true, &a->sum_hessian)) != RD_OK ||
        (rc = tree_array(L, t, "categories_nodes", UINT32_MAX, false, false, &a->cat_nodes)) != RD_OK ||
        (rc = tree_array(L, t, "categories_segments", UINT32_MAX, false, false, &a->cat_segments)) != RD_OK ||
        (rc = tree_array(L, t, "categories_sizes", UINT32_MAX, false, false, &a->cat_sizes)) != RD_OK ||
        (rc = tree_array(L, t, "categories", UINT32_MAX, false, false, &a->cats)) != RD_OK)
        return rc;
    return RD_OK;
}

/* Check that the tree is a tree: every node reached once from the root, depth bounded. */
static int check_shape(struct loader *L, const rd__xnode *nodes, uint32_t n)
{
    uint8_t *seen = rd_calloc(n, 1);
    uint32_t *stack = rd_malloc((size_t)n * sizeof(*stack) + sizeof(*stack));
    uint16_t *depth = rd_malloc((size_t)n * sizeof(*depth) + sizeof(*depth));
    int rc = RD_OK;
    if (!seen || !stack || !depth) {
        rc = rd_err_set(L->err, RD_ENOMEM, "out of memory");
        goto done;
    }
    size_t top = 0;
    stack[top++] = 0;
    depth[0] = 0;
    while (top && rc == RD_OK) {
        uint32_t i = stack[--top];
        if (seen[i]) {
            rc = bad(L, "a node is reached twice (not a tree)");
            break;
        }
        seen[i] = 1;
        if (nodes[i].left < 0)
            continue;
        if (depth[i] >= MAX_DEPTH) {
            rc = bad(L, "deeper than 256 levels");
            break;
        }
        int32_t kids[2] = {nodes[i].left, nodes[i].right};
        for (int k = 0; k < 2; k++) {
            if (kids[k] < 0 || (uint32_t)kids[k] >= n) {
                rc = bad(L, "a child index is outside the tree");
                break;
            }
            depth[kids[k]] = (uint16_t)(depth[i] + 1);
            stack[top++] = (uint32_t)kids[k];
            if (top > n) {
                rc = bad(L, "a node is reached twice (not a tree)");
                break;
            }
        }
    }
done:
    rd_free(seen);
    rd_free(stack);
    rd_free(depth);
    return rc;
}

static int add_categories(struct loader *L, const struct tree_arrays *a, rd__xnode *nodes, size_t *ncats,
                          size_t *cats_cap)
{
    rd_model *m = L->m;
    if (!a->cat_nodes || a->cat_nodes->len == 0)
        return RD_OK;
    if (!a->cat_segments || !a->cat_sizes || !a->cats || a->cat_segments->len != a->cat_nodes->len ||
        a->cat_sizes->len != a->cat_nodes->len)
        return bad(L, "categories_nodes, categories_segments and categories_sizes differ in length");
    for (uint32_t k = 0; k < a->cat_nodes->len; k++) {
        double node = num_at(a->cat_nodes, k), seg = num_at(a->cat_segments, k),
               size = num_at(a->cat_sizes, k);
        if (node < 0 || node >= a->n || seg < 0 || size < 0 || seg + size > a->cats->len)
            return bad(L, "a categorical split points outside its arrays");
        rd__xnode *x = &nodes[(uint32_t)node];
        if (!(x->feature & RD__XNODE_CATEGORICAL))
            return bad(L, "categories_nodes names a node whose split_type is not categorical");
        if (*ncats + (size_t)size > *cats_cap) {
            size_t cap = (*cats_cap ? *cats_cap * 2 : 64) + (size_t)size;
            int32_t *c = rd_realloc(m->cats, cap * sizeof(*c));
            if (!c)
                return rd_err_set(L->err, RD_ENOMEM, "out of memory");
            m->cats = c;
            *cats_cap = cap;
        }
        rd__catset *sets = rd_realloc(m->cat_sets, (m->ncat_sets + 1) * sizeof(*sets));
        if (!sets)
            return rd_err_set(L->err, RD_ENOMEM, "out of memory");
        m->cat_sets = sets;
        sets[m->ncat_sets] = (rd__catset){(uint32_t)*ncats, (uint32_t)size};
        for (uint32_t j = 0; j < (uint32_t)size; j++) {
            /* XGBoost reads categories as int32 (bst_cat_t) and sets their bits: a category is
             * an integer in [0, 2^31); anything else would also be undefined in the cast. */
            double c = num_at(a->cats, (uint32_t)seg + j);
            if (!(c >= 0 && c < 2147483648.0) || c != floor(c))
                return bad(L, "categories must be integers in [0, 2^31)");
            m->cats[(*ncats)++] = (int32_t)c;
        }
        uint32_t idx = (uint32_t)m->ncat_sets++;
        memcpy(&x->value, &idx, sizeof(idx));
    }
    return RD_OK;
}

static int compile_tree(struct loader *L, const struct tree_arrays *a, rd__xnode *nodes, float weight,
                        size_t *ncats, size_t *cats_cap)
{
    for (uint32_t i = 0; i < a->n; i++) {
        double l = num_at(a->left, i), r = num_at(a->right, i), f = num_at(a->split_idx, i);
        rd__xnode *x = &nodes[i];
        if (l == -1) {
            x->left = x->right = -1;
            x->feature = 0;
            x->value =
                weight == 1.0f ? (float)num_at(a->split_cond, i) : (float)num_at(a->split_cond, i) * weight;
            continue;
        }
        if (f < 0 || f >= (double)L->m->nfeat || f != floor(f))
            return bad(L, "split_indices names a feature the model does not have");
        if (l < 0 || r < 0 || l >= a->n || r >= a->n)
            return bad(L, "a child index is outside the tree");
        x->left = (int32_t)l;
        x->right = (int32_t)r;
        x->feature = (uint32_t)f | (num_at(a->default_left, i) != 0 ? RD__XNODE_DEFAULT_LEFT : 0);
        x->value = (float)num_at(a->split_cond, i);
        if (a->split_type && num_at(a->split_type, i) == 1) {
            uint32_t none = UINT32_MAX; /* until add_categories assigns its set */
            x->feature |= RD__XNODE_CATEGORICAL;
            memcpy(&x->value, &none, sizeof(none));
        }
    }
    size_t sets_before = L->m->ncat_sets;
    int rc = add_categories(L, a, nodes, ncats, cats_cap);
    /* Every categorical split needs its own category set (the fuzzer found one without). */
    for (uint32_t i = 0; rc == RD_OK && i < a->n; i++) {
        uint32_t idx;
        memcpy(&idx, &nodes[i].value, sizeof(idx));
        if ((nodes[i].feature & RD__XNODE_CATEGORICAL) && (idx < sets_before || idx >= L->m->ncat_sets))
            rc = bad(L, "a categorical split has no categories");
    }
    return rc != RD_OK ? rc : check_shape(L, nodes, a->n);
}

static int load_feature_names(struct loader *L, const rd_value *learner)
{
    const rd_value *names = rd_value_get(learner, "feature_names", 13);
    if (!names || names->type != RD_VARRAY || names->len == 0)
        return RD_OK;
    if (names->len != L->m->nfeat)
        return bad(L, "learner.feature_names does not match num_feature");
    L->m->feature_names = rd_calloc(names->len, sizeof(char *));
    if (!L->m->feature_names)
        return rd_err_set(L->err, RD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < names->len; i++) {
        if (names->u.items[i].type != RD_VSTRING)
            return bad(L, "learner.feature_names must be strings");
        if (!(L->m->feature_names[i] = rd_strndup(names->u.items[i].u.s, names->u.items[i].len)))
            return rd_err_set(L->err, RD_ENOMEM, "out of memory");
    }
    return RD_OK;
}

static int load_objective(struct loader *L, const rd_value *learner, const rd_value *mp)
{
    rd_model *m = L->m;
    const rd_value *obj = field(L, learner, "objective", RD_VOBJECT, true);
    const rd_value *name = obj ? rd_value_get(obj, "name", 4) : NULL;
    if (!name || name->type != RD_VSTRING)
        return bad(L, "learner.objective.name is missing");
    const struct objective *o = NULL;
    for (size_t i = 0; i < sizeof(objectives) / sizeof(objectives[0]); i++)
        if (strcmp(objectives[i].name, name->u.s) == 0)
            o = &objectives[i];
    if (!o) {
        char what[96];
        snprintf(what, sizeof(what), "objective \"%.48s\" is not supported", name->u.s);
        return bad(L, what);
    }
    snprintf(m->objective, sizeof(m->objective), "%s", o->name);
    m->transform = o->transform;
    double nclass = 0, ntarget = 1;
    param_number(rd_value_get(mp, "num_class", 9), &nclass);
    param_number(rd_value_get(mp, "num_target", 10), &ntarget);
    if (!(nclass >= 0 && nclass <= MAX_OUTPUTS && ntarget >= 0 && ntarget <= MAX_OUTPUTS) ||
        nclass != floor(nclass) || ntarget != floor(ntarget))
        return bad(L, "num_class and num_target must be counts up to 4096");
    m->nout = nclass > 1 ? (size_t)nclass : ntarget > 1 ? (size_t)ntarget : 1;
    m->probability = m->transform == RD__T_SIGMOID && m->nout == 1;
    if ((m->transform == RD__T_SOFTMAX || m->transform == RD__T_ARGMAX) && m->nout < 2)
        return bad(L, "a multi-class objective needs num_class >= 2");
    m->base_margin = rd_calloc(m->nout, sizeof(float));
    if (!m->base_margin)
        return rd_err_set(L->err, RD_ENOMEM, "out of memory");
    int rc = parse_base_score(L, rd_value_get(mp, "base_score", 10), m->base_margin, m->nout);
    for (size_t k = 0; rc == RD_OK && k < m->nout; k++)
        m->base_margin[k] = base_margin_of(o->base, m->base_margin[k]);
    return rc;
}

/* The gbtree model: {"trees", "tree_info"} either directly (gbtree) or under dart's "gbtree"
 * with per-tree "weight_drop". */
static int load_trees(struct loader *L, const rd_value *booster)
{
    rd_model *m = L->m;
    const rd_value *name = rd_value_get(booster, "name", 4);
    const rd_value *model, *weights = NULL;
    if (name && name->type == RD_VSTRING && strcmp(name->u.s, "dart") == 0) {
        const rd_value *gb = field(L, booster, "gbtree", RD_VOBJECT, true);
        if (!gb || !(model = field(L, gb, "model", RD_VOBJECT, true)))
            return L->err->code;
        weights = field(L, booster, "weight_drop", RD_VARRAY, true);
        if (!weights)
            return L->err->code;
    } else if (name && name->type == RD_VSTRING && strcmp(name->u.s, "gbtree") == 0) {
        if (!(model = field(L, booster, "model", RD_VOBJECT, true)))
            return L->err->code;
    } else {
        return bad(L, "gradient_booster.name must be gbtree or dart (gblinear is not supported)");
    }
    const rd_value *trees = field(L, model, "trees", RD_VARRAY, true);
    const rd_value *info = field(L, model, "tree_info", RD_VARRAY, true);
    if (!trees || !info)
        return L->err->code;
    if (info->len != trees->len || (weights && weights->len != trees->len))
        return bad(L, "tree_info (and weight_drop) must have one entry per tree");
    m->ntrees = trees->len;
    size_t total = 0;
    struct tree_arrays *ta = rd_calloc(trees->len ? trees->len : 1, sizeof(*ta));
    m->tree_root = rd_calloc(trees->len ? trees->len : 1, sizeof(uint32_t));
    m->tree_group = rd_calloc(trees->len ? trees->len : 1, sizeof(uint32_t));
    if (!ta || !m->tree_root || !m->tree_group) {
        rd_free(ta);
        return rd_err_set(L->err, RD_ENOMEM, "out of memory");
    }
    int rc = RD_OK;
    size_t base_len = strlen(L->path);
    for (uint32_t t = 0; t < trees->len && rc == RD_OK; t++) {
        snprintf(L->path + base_len, sizeof(L->path) - base_len, ".trees[%u]", t);
        if (trees->u.items[t].type != RD_VOBJECT)
            rc = bad(L, "must be an object");
        else
            rc = read_tree(L, &trees->u.items[t], &ta[t]);
        double g = info->u.items[t].type == RD_VNUMBER ? info->u.items[t].u.n : -1;
        if (rc == RD_OK && (g < 0 || g >= (double)m->nout || g != floor(g)))
            rc = bad(L, "tree_info names an output group the model does not have");
        if (rc == RD_OK) {
            m->tree_root[t] = (uint32_t)total;
            m->tree_group[t] = (uint32_t)g;
            total += ta[t].n;
            if (total > MAX_NODES)
                rc = bad(L, "too many nodes");
        }
    }
    bool covers = true;
    for (uint32_t t = 0; t < trees->len && rc == RD_OK; t++)
        covers = covers && ta[t].sum_hessian;
    if (rc == RD_OK && !(m->nodes = rd_calloc(total ? total : 1, sizeof(rd__xnode))))
        rc = rd_err_set(L->err, RD_ENOMEM, "out of memory");
    if (rc == RD_OK && covers && !(m->cover = rd_calloc(total ? total : 1, sizeof(float))))
        rc = rd_err_set(L->err, RD_ENOMEM, "out of memory");
    for (uint32_t t = 0; t < trees->len && rc == RD_OK && covers && m->cover; t++)
        for (uint32_t i = 0; i < ta[t].n; i++)
            m->cover[m->tree_root[t] + i] = (float)num_at(ta[t].sum_hessian, i);
    size_t ncats = 0, cats_cap = 0;
    for (uint32_t t = 0; t < trees->len && rc == RD_OK; t++) {
        snprintf(L->path + base_len, sizeof(L->path) - base_len, ".trees[%u]", t);
        float w = 1.0f;
        if (weights) {
            double wd;
            if (special_float(&weights->u.items[t], &wd))
                w = (float)wd;
            else if (weights->u.items[t].type != RD_VNUMBER)
                rc = bad(L, "weight_drop must hold numbers");
            else
                w = (float)weights->u.items[t].u.n;
        }
        if (rc == RD_OK)
            rc = compile_tree(L, &ta[t], m->nodes + m->tree_root[t], w, &ncats, &cats_cap);
    }
    L->path[base_len] = '\0';
    rd_free(ta);
    return rc;
}

/* Quote XGBoost's bare NaN / Infinity / -Infinity tokens (see special_float()) where they
 * stand outside JSON strings. *out is a new buffer (rd_free) or NULL when the text has none;
 * anything else that is not JSON is left for the parser to reject. Parse errors after a
 * quoted token are reported two columns further right per token. */
static int quote_specials(const char *s, size_t len, char **out, size_t *out_len)
{
    static const char *const tokens[] = {"NaN", "Infinity", "-Infinity"};
    char *d = NULL;
    size_t n = 0, k = 0;
    *out = NULL;
    *out_len = len;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (n == 0)
                return RD_OK;
            if (!(d = rd_malloc(len + 2 * n + 1))) /* n <= len / 3: no overflow */
                return RD_ENOMEM;
        }
        bool in_string = false;
        for (size_t i = 0; i < len;) {
            size_t tok = 0, copy = 1;
            if (in_string) {
                if (s[i] == '\\' && i + 1 < len)
                    copy = 2;
                else if (s[i] == '"')
                    in_string = false;
            } else if (s[i] == '"') {
                in_string = true;
            } else if (s[i] == 'N' || s[i] == 'I' || s[i] == '-') {
                for (size_t t = 0; t < 3 && !tok; t++) {
                    size_t tl = strlen(tokens[t]);
                    if (len - i >= tl && memcmp(s + i, tokens[t], tl) == 0)
                        tok = tl;
                }
            }
            if (tok) {
                if (pass == 0) {
                    n++;
                } else {
                    d[k++] = '"';
                    memcpy(d + k, s + i, tok);
                    k += tok;
                    d[k++] = '"';
                }
                i += tok;
            } else {
                if (pass == 1)
                    memcpy(d + k, s + i, copy);
                k += pass == 1 ? copy : 0;
                i += copy;
            }
        }
    }
    d[k] = '\0';
    *out = d;
    *out_len = k;
    return RD_OK;
}

int rd__xgboost_load(const char *json, size_t len, rd_model **out, rd_err *err)
{
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_json_limits lim = {.max_bytes = 512u << 20, .max_depth = 32, .max_nodes = 200000000u, .float32 = true};
    rd_value root;
    rd_err local;
    if (!err)
        err = &local;
    rd_err_clear(err);
    struct loader L = {.err = err, .path = "$"};
    char *quoted;
    size_t qlen;
    if (quote_specials(json, len, &quoted, &qlen) != RD_OK) {
        rd_arena_deinit(&arena);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    int rc = rd_json_parse(quoted ? quoted : json, qlen, &lim, &arena, &root, err);
    rd_free(quoted); /* the parsed values live in the arena */
    if (rc != RD_OK) {
        rd_arena_deinit(&arena);
        return rc;
    }
    rd_model *m = L.m = rd_calloc(1, sizeof(*m));
    if (!m) {
        rd_arena_deinit(&arena);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    m->kind = RD_MODEL_XGBOOST;
    m->ops = &rd__xgboost_ops;
    m->float32 = true;
    const rd_value *learner = root.type == RD_VOBJECT ? field(&L, &root, "learner", RD_VOBJECT, true) : NULL;
    const rd_value *mp = learner ? field(&L, learner, "learner_model_param", RD_VOBJECT, true) : NULL;
    const rd_value *booster = learner ? field(&L, learner, "gradient_booster", RD_VOBJECT, true) : NULL;
    double nfeat = -1;
    if (root.type != RD_VOBJECT)
        rc = bad(&L, "an XGBoost model is a JSON object with a \"learner\"");
    else if (!learner || !mp || !booster)
        rc = err->code ? err->code : RD_EINVAL;
    else if (!param_number(rd_value_get(mp, "num_feature", 11), &nfeat) || nfeat < 0 || nfeat > 1e7)
        rc = bad(&L, "learner.learner_model_param.num_feature must be a count");
    if (rc == RD_OK) {
        m->nfeat = (size_t)nfeat;
        rc = load_objective(&L, learner, mp);
    }
    if (rc == RD_OK)
        rc = load_feature_names(&L, learner);
    if (rc == RD_OK) {
        snprintf(L.path, sizeof(L.path), "$.learner.gradient_booster");
        rc = load_trees(&L, booster);
    }
    rd_arena_deinit(&arena);
    if (rc != RD_OK) {
        rd_model_free(m);
        return rc;
    }
    rd__shap_prepare(m);
    rd__forest_prepare(m);
    *out = m;
    return RD_OK;
}

/* ---------------------------------------------------------------- prediction */

/* Walk one tree for a row already converted to float32. The child is chosen without a
 * branch: `x < split` left, NaN to the default side (NaN fails every comparison, so
 * !(x < split) is true and only default_left turns it back); branches that depend on the
 * data mispredict half the time, and that dominated the cost. */
static inline float tree_leaf(const rd_model *m, const rd__xnode *nodes, const float *xf)
{
    const rd__xnode *n = nodes;
    while (n->left >= 0)
        n = nodes + rd__xnode_next(m, n, xf[n->feature & RD__XNODE_FEATURE_MASK]);
    return n->value;
}

/* One step down a tree (the same decision as tree_leaf). */
static inline const rd__xnode *tree_step(const rd_model *m, const rd__xnode *nodes, const rd__xnode *n,
                                         const float *xf)
{
    return nodes + rd__xnode_next(m, n, xf[n->feature & RD__XNODE_FEATURE_MASK]);
}

#define LANES 8

/* Sum the leaves of all trees onto acc, walking LANES trees side by side: one tree's walk
 * is a chain of dependent loads, several independent chains keep the core busy. Leaves are
 * still added in tree order, so the float32 sum is XGBoost's. */
static void sum_trees(const rd_model *m, const float *xf, float *acc, size_t from, size_t to)
{
    if (m->forest) { /* xf is the layout's row (rd__forest_row) */
        rd__forest_sum_one(m, xf, acc, from, to);
        return;
    }
    size_t t = from;
    if (m->nout == 1) { /* one output: keep the sum in a register, walk 4 trees at once */
        float sum = acc[0];
        const rd__xnode *nodes = m->nodes;
        for (; t + 4 <= to; t += 4) {
            const rd__xnode *b0 = nodes + m->tree_root[t], *b1 = nodes + m->tree_root[t + 1],
                            *b2 = nodes + m->tree_root[t + 2], *b3 = nodes + m->tree_root[t + 3];
            const rd__xnode *n0 = b0, *n1 = b1, *n2 = b2, *n3 = b3;
            while ((n0->left | n1->left | n2->left | n3->left) >= 0) { /* all four inside: no sign bit */
                n0 = tree_step(m, b0, n0, xf);
                n1 = tree_step(m, b1, n1, xf);
                n2 = tree_step(m, b2, n2, xf);
                n3 = tree_step(m, b3, n3, xf);
            }
            while (n0->left >= 0)
                n0 = tree_step(m, b0, n0, xf);
            while (n1->left >= 0)
                n1 = tree_step(m, b1, n1, xf);
            while (n2->left >= 0)
                n2 = tree_step(m, b2, n2, xf);
            while (n3->left >= 0)
                n3 = tree_step(m, b3, n3, xf);
            sum += n0->value;
            sum += n1->value;
            sum += n2->value;
            sum += n3->value;
        }
        for (; t < to; t++)
            sum += tree_leaf(m, nodes + m->tree_root[t], xf);
        acc[0] = sum;
        return;
    }
    for (; t + LANES <= to; t += LANES) {
        const rd__xnode *base[LANES], *n[LANES];
        for (int j = 0; j < LANES; j++)
            n[j] = base[j] = m->nodes + m->tree_root[t + (size_t)j];
        bool more;
        do {
            more = false;
            for (int j = 0; j < LANES; j++)
                if (n[j]->left >= 0) {
                    n[j] = tree_step(m, base[j], n[j], xf);
                    more = true;
                }
        } while (more);
        for (int j = 0; j < LANES; j++)
            acc[m->tree_group[t + (size_t)j]] += n[j]->value;
    }
    for (; t < to; t++)
        acc[m->tree_group[t]] += tree_leaf(m, m->nodes + m->tree_root[t], xf);
}

static float sigmoidf(float margin) { return 1.0f / (expf(fminf(-margin, 88.7f)) + 1.0f + 1e-16f); }

/* The objective's transform of the accumulated margins acc (nout of them) into out. */
static void finish(const rd_model *m, float *acc, rd_output kind, double *out)
{
    if (kind == RD_OUTPUT_RAW) {
        for (size_t k = 0; k < m->nout; k++)
            out[k] = (double)acc[k];
    } else {
        switch (m->transform) {
        case RD__T_SIGMOID:
            for (size_t k = 0; k < m->nout; k++)
                out[k] = (double)sigmoidf(acc[k]);
            break;
        case RD__T_EXP:
            for (size_t k = 0; k < m->nout; k++)
                out[k] = (double)expf(acc[k]);
            break;
        case RD__T_HINGE:
            for (size_t k = 0; k < m->nout; k++)
                out[k] = acc[k] > 0.0f ? 1.0 : 0.0;
            break;
        case RD__T_SOFTMAX: {
            float wmax = m->nout ? acc[0] : 0.0f; /* the loader ensures nout >= 2 */
            for (size_t k = 1; k < m->nout; k++)
                wmax = fmaxf(acc[k], wmax);
            double wsum = 0;
            for (size_t k = 0; k < m->nout; k++) {
                acc[k] = expf(acc[k] - wmax);
                wsum += (double)acc[k];
            }
            for (size_t k = 0; k < m->nout; k++)
                out[k] = (double)(acc[k] / (float)wsum);
            break;
        }
        case RD__T_ARGMAX: {
            size_t best = 0;
            for (size_t k = 1; k < m->nout; k++)
                if (acc[k] > acc[best])
                    best = k;
            out[0] = (double)best;
            break;
        }
        default:
            for (size_t k = 0; k < m->nout; k++)
                out[k] = (double)acc[k];
        }
    }
}

/* Trees summed between two looks at the clock: a look costs ~20 ns, a block of trees a few
 * microseconds. A multiple of 4 and of LANES, so a block ends where the unrolled walks end
 * and the sum is the same, in the same order, as without a deadline. */
#define DEADLINE_BLOCK 128

int rd__xgboost_predict(const rd_model *m, const double *x, rd_output kind, double *out, int64_t deadline)
{
    float acc_small[16], *acc = acc_small;
    float *heap = NULL;
    if (m->nout > 16) {
        heap = rd_malloc(m->nout * sizeof(float)); /* only for models with more than 16 outputs */
        acc = heap ? heap : acc_small;
        if (!heap) {
            for (size_t k = 0; k < m->nout; k++)
                out[k] = (double)NAN;
            return RD_ENOMEM;
        }
    }
    /* XGBoost compares float32 values: convert the row once, not at every node (twice over for
     * the perfect-tree layout, which has at most RD__FOREST_MAX_FEAT features). */
    float xf_small[2 * RD__FOREST_MAX_FEAT], *xf = xf_small, *xf_heap = NULL;
    if (m->nfeat > RD__FOREST_MAX_FEAT) {
        xf = xf_heap = rd_malloc(m->nfeat * sizeof(float));
        if (!xf) {
            rd_free(heap);
            for (size_t k = 0; k < m->nout; k++)
                out[k] = (double)NAN;
            return RD_ENOMEM;
        }
    }
    if (m->forest)
        rd__forest_row(m, x, xf);
    else
        for (size_t f = 0; f < m->nfeat; f++)
            xf[f] = (float)x[f];
    for (size_t k = 0; k < m->nout; k++)
        acc[k] = m->base_margin[k];
    int rc = RD_OK;
    if (!deadline) {
        sum_trees(m, xf, acc, 0, m->ntrees);
    } else {
        for (size_t t = 0; t < m->ntrees && rc == RD_OK; t += DEADLINE_BLOCK) {
            if (rd_clock_ns() > deadline)
                rc = RD_ETIMEOUT;
            else
                sum_trees(m, xf, acc, t, t + DEADLINE_BLOCK < m->ntrees ? t + DEADLINE_BLOCK : m->ntrees);
        }
    }
    rd_free(xf_heap);
    if (rc == RD_OK)
        finish(m, acc, kind, out);
    else
        for (size_t k = 0; k < m->nout; k++)
            out[k] = (double)NAN;
    rd_free(heap);
    return rc;
}

/* Rows a block at a time through the perfect-tree layout (forest.c): the same float32 sums in
 * the same order as rd__xgboost_predict's, so the same bits. */
static void predict_rows(const rd_model *m, const double *x, size_t n, rd_output kind, double *out)
{
    size_t nf = m->nfeat, no = rd_model_num_outputs(m, kind), nout = m->nout;
    float *xf =
        m->forest && nout <= 16 ? rd_malloc(RD__FOREST_BLOCK * (2 * nf + nout) * sizeof(float)) : NULL;
    if (!xf) { /* no layout (or no memory for the block): row by row, the same bits */
        for (size_t r = 0; r < n; r++)
            rd__xgboost_predict(m, x + r * nf, kind, out + r * no, 0);
        return;
    }
    float *acc = xf + RD__FOREST_BLOCK * 2 * nf;
    for (size_t b = 0; b < n; b += RD__FOREST_BLOCK) {
        size_t nb = n - b < RD__FOREST_BLOCK ? n - b : RD__FOREST_BLOCK;
        rd__forest_block(m, x + b * nf, nb, xf);
        for (size_t r = 0; r < nb; r++)
            memcpy(acc + r * nout, m->base_margin, nout * sizeof(float));
        rd__forest_sum_rows(m, xf, nb, acc);
        for (size_t r = 0; r < nb; r++)
            finish(m, acc + r * nout, kind, out + (b + r) * no);
    }
    rd_free(xf);
}

const rd__model_ops rd__xgboost_ops = {.format = "xgboost",
                                       .predict = rd__xgboost_predict,
                                       .impacts = rd__tree_impacts,
                                       .predict_rows = predict_rows};
