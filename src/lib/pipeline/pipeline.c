/* The feature pipeline.
 *
 * Invariants after parsing: every feature names a declared input; a one-hot feature's input
 * is a category input; inputs are in spec order and features in model order; all strings
 * live in the pipeline's arena. Applying reads the record's members once per input. */
#include "riskd/pipeline.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"
#include "riskd/json.h"
#include "riskd/text.h"

typedef enum { IN_NUMBER, IN_CATEGORY } in_type;
typedef enum { F_NUMERIC, F_ONE_HOT, F_WOE } feat_kind;

typedef struct input {
    const char *name;
    uint32_t name_len;
    in_type type;
    double min, max;        /* NaN when unbounded */
    const rd_value *levels; /* array of strings, or NULL: any level */
    bool required;          /* a record without it is refused */
} input;

typedef struct feature {
    const char *name;
    uint32_t input;
    feat_kind kind;
    const char *level; /* one_hot */
    uint32_t level_len;
    /* woe: a number input is binned by cuts (bin = how many cuts are <= x), a category
     * input by its levels; woe[bin] is the output */
    const double *cuts;
    const rd_value *levels; /* array of strings */
    uint32_t nbins;
    const double *woe;
    double missing_woe, unknown_woe;
} feature;

struct rd_pipeline {
    rd_arena arena;
    bool float32;
    double max_missing;        /* a count (>= 1 or 0), or a share when below 1; -1: any but all */
    bool max_missing_share;    /* max_missing is a share of the inputs */
    rd_unknown_policy unknown; /* the spec's unknown_inputs, or RD_UNKNOWN_DEFAULT */
    uint32_t *index;           /* open addressing over the input names: slot -> input + 1 */
    size_t index_mask;
    input *inputs;
    size_t ninputs;
    feature *features;
    size_t nfeatures;
};

static int bad(rd_err *err, const char *where, size_t i, const char *what)
{
    return rd_err_set(err, RD_EINVAL, "%s[%zu]%s", where, i, what);
}

static const rd_value *str_field(const rd_value *o, const char *k)
{
    const rd_value *v = rd_value_get(o, k, strlen(k));
    return v && v->type == RD_VSTRING ? v : NULL;
}

/* A key the spec does not define is a note (specs carry "model", "target", comments), unless
 * it looks like a misspelt key: "requried" or "max_mising" would otherwise be ignored without
 * a word, and the rule the author meant never applied. */
static int unknown_key(rd_err *err, const char *where, long i, const rd_value *o, const char *const *keys)
{
    for (uint32_t m = 0; m < o->len; m++) {
        const char *k = o->u.members[m].key;
        bool known = false;
        for (size_t j = 0; keys[j] && !known; j++)
            known = strcmp(k, keys[j]) == 0;
        for (size_t j = 0; keys[j] && !known; j++) {
            if (!rd_near_miss(k, keys[j]))
                continue;
            if (i < 0)
                return rd_err_set(err, RD_EINVAL,
                                  "\"%.64s\": not a key of a pipeline spec (did you mean \"%s\"?)", k,
                                  keys[j]);
            return rd_err_set(err, RD_EINVAL, "%s[%ld].%.64s: not a key of %s (did you mean \"%s\"?)", where,
                              i, k, where, keys[j]);
        }
    }
    return RD_OK;
}

static int find_input(const rd_pipeline *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->ninputs; i++)
        if (p->inputs[i].name_len == len && memcmp(p->inputs[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* FNV-1a: input names are short, and a record's every name is looked up once per decision. */
static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return h;
}

static int build_index(rd_pipeline *p, rd_err *err)
{
    size_t cap = 8;
    while (cap < p->ninputs * 2)
        cap *= 2;
    if (!(p->index = rd_arena_alloc(&p->arena, cap * sizeof(uint32_t))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    memset(p->index, 0, cap * sizeof(uint32_t));
    p->index_mask = cap - 1;
    for (size_t i = 0; i < p->ninputs; i++) {
        size_t s = name_hash(p->inputs[i].name, p->inputs[i].name_len) & p->index_mask;
        while (p->index[s])
            s = (s + 1) & p->index_mask;
        p->index[s] = (uint32_t)i + 1;
    }
    return RD_OK;
}

/* The input named name (len bytes), or -1: a hash lookup (find_input is for parsing). */
static int lookup_input(const rd_pipeline *p, const char *name, size_t len)
{
    for (size_t s = name_hash(name, len) & p->index_mask;; s = (s + 1) & p->index_mask) {
        uint32_t i = p->index[s];
        if (!i)
            return -1;
        const input *in = &p->inputs[i - 1];
        if (in->name_len == len && memcmp(in->name, name, len) == 0)
            return (int)i - 1;
    }
}

static int parse_inputs(rd_pipeline *p, const rd_value *ins, size_t nfeat_hint, rd_err *err)
{
    size_t n = ins ? ins->len : 0;
    p->inputs = rd_arena_alloc(&p->arena, (n + nfeat_hint + 1) * sizeof(input));
    if (!p->inputs)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const rd_value *o = &ins->u.items[i];
        const rd_value *name = str_field(o, "name"), *type = str_field(o, "type");
        if (o->type != RD_VOBJECT || !name || name->len == 0)
            return bad(err, "inputs", i, ".name: missing or not a non-empty string");
        if (find_input(p, name->u.s, name->len) >= 0)
            return bad(err, "inputs", i, ".name: declared twice");
        static const char *const keys[] = {"name", "type", "min", "max", "levels", "required", NULL};
        if (unknown_key(err, "inputs", (long)i, o, keys))
            return err->code;
        input *in = &p->inputs[p->ninputs++];
        *in = (input){.name = name->u.s, .name_len = name->len, .min = (double)NAN, .max = (double)NAN};
        const rd_value *req = rd_value_get(o, "required", 8);
        if (req && req->type != RD_VBOOL)
            return bad(err, "inputs", i, ".required: must be true or false");
        in->required = req && req->u.b;
        if (!type || (strcmp(type->u.s, "number") != 0 && strcmp(type->u.s, "category") != 0))
            return bad(err, "inputs", i, ".type: must be \"number\" or \"category\"");
        in->type = type->u.s[0] == 'n' ? IN_NUMBER : IN_CATEGORY;
        const rd_value *mn = rd_value_get(o, "min", 3), *mx = rd_value_get(o, "max", 3),
                       *lv = rd_value_get(o, "levels", 6);
        if ((mn && mn->type != RD_VNUMBER) || (mx && mx->type != RD_VNUMBER))
            return bad(err, "inputs", i, ".min/.max: must be numbers");
        if (mn)
            in->min = mn->u.n;
        if (mx)
            in->max = mx->u.n;
        if (lv) {
            if (lv->type != RD_VARRAY)
                return bad(err, "inputs", i, ".levels: must be an array of strings");
            for (uint32_t k = 0; k < lv->len; k++)
                if (lv->u.items[k].type != RD_VSTRING)
                    return bad(err, "inputs", i, ".levels: must be an array of strings");
            in->levels = lv;
        }
    }
    return RD_OK;
}

static int numbers(rd_pipeline *p, const rd_value *a, uint32_t n, const double **out)
{
    if (!a || a->type != RD_VARRAY || a->len != n)
        return -1;
    double *d = rd_arena_alloc(&p->arena, (n ? n : 1) * sizeof(double));
    if (!d)
        return -1;
    for (uint32_t j = 0; j < n; j++) {
        if (a->u.items[j].type != RD_VNUMBER || !isfinite(a->u.items[j].u.n))
            return -1;
        d[j] = a->u.items[j].u.n;
    }
    *out = d;
    return 0;
}

static int opt_number(const rd_value *o, const char *key, double *out)
{
    const rd_value *v = rd_value_get(o, key, strlen(key));
    if (!v) {
        *out = 0.0;
        return 0;
    }
    if (v->type != RD_VNUMBER || !isfinite(v->u.n))
        return -1;
    *out = v->u.n;
    return 0;
}

/* Index of level v in levels (an array of strings), or -1. */
static int level_index(const rd_value *levels, const rd_value *v)
{
    for (uint32_t j = 0; j < levels->len; j++)
        if (levels->u.items[j].len == v->len && memcmp(levels->u.items[j].u.s, v->u.s, v->len) == 0)
            return (int)j;
    return -1;
}

/* WOE binning: cuts (ascending) for a number input, levels for a category input; one woe
 * value per bin; missing_woe and unknown_woe default to 0 (the neutral weight). */
static int parse_woe(rd_pipeline *p, feature *f, const rd_value *o, size_t i, rd_err *err)
{
    const rd_value *cuts = rd_value_get(o, "cuts", 4), *levels = rd_value_get(o, "levels", 6),
                   *woe = rd_value_get(o, "woe", 3);
    bool number = p->inputs[f->input].type == IN_NUMBER;
    if (number) {
        if (!cuts || cuts->type != RD_VARRAY || levels)
            return bad(err, "features", i,
                       ".cuts: a woe feature of a number input needs cuts (and no levels)");
        f->nbins = cuts->len + 1;
        if (numbers(p, cuts, cuts->len, &f->cuts) != 0)
            return bad(err, "features", i, ".cuts: must be an array of finite numbers");
        for (uint32_t j = 1; j < cuts->len; j++)
            if (!(f->cuts[j - 1] < f->cuts[j]))
                return bad(err, "features", i, ".cuts: must be strictly ascending");
    } else {
        if (!levels || levels->type != RD_VARRAY || levels->len == 0 || cuts)
            return bad(err, "features", i,
                       ".levels: a woe feature of a category input needs levels (and no cuts)");
        for (uint32_t j = 0; j < levels->len; j++) {
            if (levels->u.items[j].type != RD_VSTRING)
                return bad(err, "features", i, ".levels: must be an array of strings");
            if (level_index(&(rd_value){.type = RD_VARRAY, .len = j, .u.items = levels->u.items},
                            &levels->u.items[j]) >= 0)
                return rd_err_set(err, RD_EINVAL, "features[%zu].levels: \"%s\" is listed twice", i,
                                  levels->u.items[j].u.s);
        }
        f->levels = levels;
        f->nbins = levels->len;
    }
    if (numbers(p, woe, f->nbins, &f->woe) != 0)
        return rd_err_set(err, RD_EINVAL,
                          "features[%zu].woe: must be an array of %u finite numbers (one per bin)", i,
                          f->nbins);
    if (opt_number(o, "missing_woe", &f->missing_woe) != 0 ||
        opt_number(o, "unknown_woe", &f->unknown_woe) != 0)
        return bad(err, "features", i, ".missing_woe/.unknown_woe: must be finite numbers");
    return RD_OK;
}

static int parse_features(rd_pipeline *p, const rd_value *fs, rd_err *err)
{
    p->features = rd_arena_alloc(&p->arena, (fs->len ? fs->len : 1) * sizeof(feature));
    if (!p->features)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < fs->len; i++) {
        const rd_value *o = &fs->u.items[i];
        const rd_value *name = str_field(o, "name"), *src = str_field(o, "source"),
                       *kind = str_field(o, "kind");
        if (o->type != RD_VOBJECT || !name || name->len == 0)
            return bad(err, "features", i, ".name: missing or not a non-empty string");
        if (!src)
            src = name;
        static const char *const keys[] = {"name",   "source", "kind",        "level",       "cuts",
                                           "levels", "woe",    "missing_woe", "unknown_woe", NULL};
        if (unknown_key(err, "features", (long)i, o, keys))
            return err->code;
        feature *f = &p->features[p->nfeatures++];
        *f = (feature){.name = name->u.s};
        if (!kind || (strcmp(kind->u.s, "numeric") != 0 && strcmp(kind->u.s, "one_hot") != 0 &&
                      strcmp(kind->u.s, "woe") != 0))
            return bad(err, "features", i, ".kind: must be \"numeric\", \"one_hot\" or \"woe\"");
        f->kind = kind->u.s[0] == 'n' ? F_NUMERIC : kind->u.s[0] == 'o' ? F_ONE_HOT : F_WOE;
        bool by_cuts = f->kind == F_WOE && rd_value_get(o, "cuts", 4);
        int k = find_input(p, src->u.s, src->len);
        if (k < 0) { /* inferred input */
            input *in = &p->inputs[p->ninputs];
            *in = (input){.name = src->u.s,
                          .name_len = src->len,
                          .min = (double)NAN,
                          .max = (double)NAN,
                          .type = f->kind == F_NUMERIC || by_cuts ? IN_NUMBER : IN_CATEGORY};
            k = (int)p->ninputs++;
        }
        f->input = (uint32_t)k;
        if (f->kind == F_WOE) {
            int rc = parse_woe(p, f, o, i, err);
            if (rc != RD_OK)
                return rc;
        } else if (f->kind == F_ONE_HOT) {
            const rd_value *lv = str_field(o, "level");
            if (!lv)
                return bad(err, "features", i, ".level: a one_hot feature needs its level");
            if (p->inputs[k].type != IN_CATEGORY)
                return bad(err, "features", i, ".source: a one_hot feature needs a category input");
            f->level = lv->u.s;
            f->level_len = lv->len;
        } else if (p->inputs[k].type != IN_NUMBER) {
            return bad(err, "features", i, ".source: a numeric feature needs a number input");
        }
    }
    return RD_OK;
}

/* max_missing: a count (an integer >= 0) or a share ("40%", or a number between 0 and 1);
 * unknown_inputs: reject, warn or ignore. */
static int parse_policy(rd_pipeline *p, const rd_value *root, rd_err *err)
{
    static const char *const keys[] = {"dtype", "inputs", "features", "max_missing", "unknown_inputs", NULL};
    if (unknown_key(err, "", -1, root, keys))
        return err->code;
    p->max_missing = -1;
    const rd_value *mm = rd_value_get(root, "max_missing", 11),
                   *ui = rd_value_get(root, "unknown_inputs", 14);
    if (mm && mm->type == RD_VNUMBER && mm->u.n >= 0 && mm->u.n <= 1e9 &&
        (mm->u.n == floor(mm->u.n) || mm->u.n < 1)) {
        p->max_missing = mm->u.n;
        p->max_missing_share = mm->u.n != floor(mm->u.n);
    } else if (mm && mm->type == RD_VSTRING) {
        char *end;
        double v = strtod(mm->u.s, &end);
        if (end == mm->u.s || strcmp(end, "%") != 0 || !(v >= 0 && v <= 100))
            return rd_err_set(err, RD_EINVAL, "max_missing: \"%.32s\" is not a share such as \"40%%\"",
                              mm->u.s);
        p->max_missing = v / 100;
        p->max_missing_share = true;
    } else if (mm) {
        return rd_err_set(
            err, RD_EINVAL,
            "max_missing: must be a count of inputs (an integer >= 0) or a share (\"40%%\", or 0.4)");
    }
    if (ui) {
        static const char *const names[] = {"reject", "warn", "ignore"};
        for (int k = 0; k < 3 && ui->type == RD_VSTRING; k++)
            if (strcmp(ui->u.s, names[k]) == 0)
                p->unknown = (rd_unknown_policy)(k + 1);
        if (p->unknown == RD_UNKNOWN_DEFAULT)
            return rd_err_set(err, RD_EINVAL, "unknown_inputs: must be \"reject\", \"warn\" or \"ignore\"");
    }
    return RD_OK;
}

int rd_pipeline_parse(const char *json, size_t len, rd_pipeline **out, rd_err *err)
{
    rd_pipeline *p = rd_calloc(1, sizeof(*p));
    if (!p)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_arena_init(&p->arena, 0);
    rd_value root;
    int rc = rd_json_parse(json, len, NULL, &p->arena, &root, err);
    if (rc == RD_OK) {
        const rd_value *dtype = rd_value_get(&root, "dtype", 5), *ins = rd_value_get(&root, "inputs", 6),
                       *fs = rd_value_get(&root, "features", 8);
        if (root.type != RD_VOBJECT)
            rc = rd_err_set(err, RD_EINVAL, "a pipeline spec is a JSON object");
        else if (!fs || fs->type != RD_VARRAY || fs->len == 0)
            rc = rd_err_set(err, RD_EINVAL, "features: missing or not a non-empty array");
        else if (ins && ins->type != RD_VARRAY)
            rc = rd_err_set(err, RD_EINVAL, "inputs: must be an array");
        else if (dtype && (dtype->type != RD_VSTRING ||
                           (strcmp(dtype->u.s, "float32") != 0 && strcmp(dtype->u.s, "float64") != 0)))
            rc = rd_err_set(err, RD_EINVAL, "dtype: must be \"float32\" or \"float64\"");
        if (rc == RD_OK && fs) {
            p->float32 = dtype && strcmp(dtype->u.s, "float32") == 0;
            rc = parse_inputs(p, ins, fs->len, err);
        }
        if (rc == RD_OK && fs)
            rc = parse_features(p, fs, err);
        if (rc == RD_OK)
            rc = parse_policy(p, &root, err);
        if (rc == RD_OK)
            rc = build_index(p, err);
    }
    if (rc != RD_OK) {
        rd_pipeline_free(p);
        return rc;
    }
    *out = p;
    return RD_OK;
}

int rd_pipeline_load_file(const char *path, rd_pipeline **out, rd_err *err)
{
    char *text;
    size_t len;
    int rc = rd_file_read(path, 64u << 20, &text, &len, err);
    if (rc != RD_OK)
        return rc;
    rc = rd_pipeline_parse(text, len, out, err);
    rd_free(text);
    if (rc != RD_OK)
        rd_err_prefix(err, "%s", path);
    return rc;
}

void rd_pipeline_free(rd_pipeline *p)
{
    if (!p)
        return;
    rd_arena_deinit(&p->arena);
    rd_free(p);
}

size_t rd_pipeline_num_features(const rd_pipeline *p) { return p->nfeatures; }
const char *rd_pipeline_feature_name(const rd_pipeline *p, size_t i)
{
    return i < p->nfeatures ? p->features[i].name : NULL;
}
size_t rd_pipeline_feature_input(const rd_pipeline *p, size_t i) { return p->features[i].input; }
bool rd_pipeline_input_is_number(const rd_pipeline *p, size_t i)
{
    return i < p->ninputs && p->inputs[i].type == IN_NUMBER;
}
size_t rd_pipeline_num_inputs(const rd_pipeline *p) { return p->ninputs; }
const char *rd_pipeline_input_name(const rd_pipeline *p, size_t i)
{
    return i < p->ninputs ? p->inputs[i].name : NULL;
}

/* ---------------------------------------------------------------- applying */

/* A raw number: a JSON number, or a string holding one (CSV fields arrive as strings). */
static int raw_number(const input *in, const rd_value *v, double *out, rd_err *err)
{
    if (v->type == RD_VNUMBER) {
        *out = v->u.n;
    } else if (v->type == RD_VSTRING) {
        char buf[64], *end;
        if (v->len >= sizeof(buf))
            return rd_err_set(err, RD_ETYPE, "%s: \"%.40s...\" is not a number", in->name, v->u.s);
        memcpy(buf, v->u.s, v->len);
        buf[v->len] = '\0';
        *out = strtod(buf, &end);
        if (*end || end == buf || !isfinite(*out))
            return rd_err_set(err, RD_ETYPE, "%s: \"%s\" is not a number", in->name, buf);
    } else {
        return rd_err_set(err, RD_ETYPE, "%s: expected a number, got %s", in->name, rd_vtype_name(v->type));
    }
    if ((!isnan(in->min) && *out < in->min) || (!isnan(in->max) && *out > in->max))
        return rd_err_set(err, RD_EINVAL, "%s: %g is outside [%g, %g]", in->name, *out, in->min, in->max);
    return RD_OK;
}

/* The WOE of a number (NaN: missing); its bin is the number of cuts <= x. */
static double woe_number(const feature *f, double x)
{
    if (isnan(x))
        return f->missing_woe;
    uint32_t bin = 0;
    while (bin + 1 < f->nbins && f->cuts[bin] <= x)
        bin++;
    return f->woe[bin];
}

/* The WOE of a level (NULL: missing). */
static double woe_level(const feature *f, const rd_value *level)
{
    if (!level)
        return f->missing_woe;
    int j = level_index(f->levels, level);
    return j < 0 ? f->unknown_woe : f->woe[j];
}

/* A level is known when the input lists it, or (levels not declared) a one-hot feature of
 * that input encodes it. */
static bool known_level(const rd_pipeline *p, uint32_t k, const rd_value *v)
{
    const input *in = &p->inputs[k];
    if (!in->levels) {
        for (size_t i = 0; i < p->nfeatures; i++) {
            const feature *f = &p->features[i];
            bool one_hot =
                f->kind == F_ONE_HOT && f->level_len == v->len && memcmp(f->level, v->u.s, v->len) == 0;
            if (f->input == k && (one_hot || (f->kind == F_WOE && level_index(f->levels, v) >= 0)))
                return true;
        }
        return false;
    }
    for (uint32_t j = 0; j < in->levels->len; j++)
        if (in->levels->u.items[j].len == v->len && memcmp(in->levels->u.items[j].u.s, v->u.s, v->len) == 0)
            return true;
    return false;
}

/* Each input's value, looked up once (a one-hot input makes several features): at most
 * VALUES_MAX inputs at a time, so the lookup allocates nothing. */
#define VALUES_MAX 256

static const rd_value *value_of(const rd_pipeline *p, const rd_value *record, const rd_value *const *vals,
                                size_t k)
{
    if (k < VALUES_MAX)
        return vals[k];
    return rd_value_get(record, p->inputs[k].name, p->inputs[k].name_len);
}

int rd_pipeline_apply(const rd_pipeline *p, const rd_value *record, double *out, rd_pipeline_report *report,
                      rd_err *err)
{
    rd_pipeline_report rep = {0};
    if (!record || record->type != RD_VOBJECT)
        return rd_err_set(err, RD_ETYPE, "a record must be an object of input values");
    const rd_value *vals[VALUES_MAX];
    for (size_t k = 0; k < p->ninputs && k < VALUES_MAX; k++)
        vals[k] = rd_value_get(record, p->inputs[k].name, p->inputs[k].name_len);
    for (size_t i = 0; i < p->nfeatures; i++) {
        const feature *f = &p->features[i];
        const input *in = &p->inputs[f->input];
        const rd_value *v = value_of(p, record, vals, f->input);
        bool missing = !v || v->type == RD_VNULL || (v->type == RD_VSTRING && v->len == 0);
        if (f->kind == F_NUMERIC || (f->kind == F_WOE && in->type == IN_NUMBER)) {
            double x = (double)NAN;
            if (!missing) {
                int rc = raw_number(in, v, &x, err);
                if (rc != RD_OK)
                    return rc;
            }
            if (f->kind == F_WOE)
                x = woe_number(f, x);
            out[i] = p->float32 ? (double)(float)x : x;
        } else {
            if (!missing && v->type != RD_VSTRING)
                return rd_err_set(err, RD_ETYPE, "%s: expected a category (a string), got %s", in->name,
                                  rd_vtype_name(v->type));
            if (f->kind == F_WOE)
                out[i] = woe_level(f, missing ? NULL : v);
            else
                out[i] =
                    !missing && v->len == f->level_len && memcmp(v->u.s, f->level, v->len) == 0 ? 1.0 : 0.0;
        }
    }
    /* Count each input once, not once per feature made from it. */
    for (size_t k = 0; k < p->ninputs; k++) {
        const input *in = &p->inputs[k];
        const rd_value *v = value_of(p, record, vals, k);
        if (!v || v->type == RD_VNULL || (v->type == RD_VSTRING && v->len == 0)) {
            if (rep.missing < RD_PIPELINE_REPORT_MAX)
                rep.missing_inputs[rep.missing] = (uint32_t)k;
            rep.missing++;
        } else if (in->type == IN_CATEGORY && v->type == RD_VSTRING && !known_level(p, (uint32_t)k, v)) {
            if (rep.unknown < RD_PIPELINE_REPORT_MAX)
                rep.unknown_inputs[rep.unknown] = (uint32_t)k;
            rep.unknown++;
        }
    }
    if (report)
        *report = rep;
    return RD_OK;
}

/* ---------------------------------------------------------------- checking a record */

rd_unknown_policy rd_pipeline_unknown_policy(const rd_pipeline *p) { return p->unknown; }

long rd_pipeline_find_input(const rd_pipeline *p, const char *name, size_t len)
{
    return lookup_input(p, name, len);
}

bool rd_pipeline_input_required(const rd_pipeline *p, size_t i)
{
    return i < p->ninputs && p->inputs[i].required;
}

static bool is_missing(const rd_value *v)
{
    return !v || v->type == RD_VNULL || (v->type == RD_VSTRING && v->len == 0);
}

/* `"a", "b", "c"` into buf, the inputs i with pick(i), cut short with "..." */
static void input_list(const rd_pipeline *p, const rd_value *record, int pick, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < p->ninputs; i++) {
        const input *in = &p->inputs[i];
        bool miss = is_missing(rd_value_get(record, in->name, in->name_len));
        if ((pick == 1 && !miss) || (pick == 2 && !(miss && in->required)))
            continue;
        if (n + 48 > cap || n > 160) {
            snprintf(buf + n, cap - n, ", ...");
            return;
        }
        int w = snprintf(buf + n, cap - n, "%s\"%.40s\"", n ? ", " : "", in->name);
        n += w > 0 ? (size_t)w : 0;
    }
}

int rd_pipeline_check(const rd_pipeline *p, const rd_value *record, rd_unknown_policy unknown,
                      rd_pipeline_report *report, rd_err *err)
{
    if (!record || record->type != RD_VOBJECT)
        return rd_err_set(err, RD_ETYPE, "a record must be an object of input values");
    char names[240];
    if (unknown == RD_UNKNOWN_DEFAULT)
        unknown = p->unknown; /* the caller's choice, else the pipeline's author's */
    if (unknown == RD_UNKNOWN_DEFAULT)
        unknown = RD_UNKNOWN_REJECT;
    /* One pass over the record: each name looked up once (a record's names are distinct:
     * rd_json_parse keeps the last of a repeated key, a CSV header may not repeat one). */
    size_t nmissing = p->ninputs, nreq = 0, nextra = 0;
    uint64_t given_stack[16], *given = given_stack; /* inputs given a value, as bits */
    size_t words = (p->ninputs + 63) / 64;
    if (words > 16 && !(given = rd_calloc(words, sizeof *given)))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    if (given == given_stack)
        memset(given, 0, sizeof given_stack);
    /* names the pipeline does not know: a misspelt or re-cased input would otherwise be a
     * missing value, and the model would decide without it */
    char extra[240];
    size_t en = 0;
    extra[0] = 0;
    if (report)
        report->nunrecognised = 0;
    for (uint32_t m = 0; m < record->len; m++) {
        const rd_member *mb = &record->u.members[m];
        int k = lookup_input(p, mb->key, mb->key_len);
        if (k >= 0) {
            if (!is_missing(&mb->val) && !(given[k / 64] >> (k % 64) & 1)) {
                given[k / 64] |= 1ull << (k % 64);
                nmissing--;
            }
            continue;
        }
        if (report && report->nunrecognised < RD_PIPELINE_UNRECOGNISED_MAX)
            report->unrecognised[report->nunrecognised++] = mb->key;
        if (nextra++ < 6 && en + 48 < sizeof extra) {
            int w = snprintf(extra + en, sizeof extra - en, "%s\"%.40s\"", en ? ", " : "", mb->key);
            en += w > 0 ? (size_t)w : 0;
        }
    }
    for (size_t i = 0; i < p->ninputs; i++)
        nreq += p->inputs[i].required && !(given[i / 64] >> (i % 64) & 1);
    if (given != given_stack)
        rd_free(given);
    if (nextra > 6)
        snprintf(extra + en, sizeof extra - en, ", ... (%zu in all)", nextra);
    if (nextra && unknown == RD_UNKNOWN_REJECT) {
        input_list(p, record, 0, names, sizeof names);
        return rd_err_set(err, RD_EINVAL, "unknown input%s %s: the pipeline's inputs are %s",
                          nextra > 1 ? "s" : "", extra, names);
    }
    if (nmissing == p->ninputs) {
        input_list(p, record, 0, names, sizeof names);
        return rd_err_set(err, RD_EINVAL,
                          "none of the pipeline's %zu inputs is given (%s): nothing to decide on", p->ninputs,
                          names);
    }
    if (nreq) {
        input_list(p, record, 2, names, sizeof names);
        return rd_err_set(err, RD_EINVAL, "required input%s missing: %s", nreq > 1 ? "s" : "", names);
    }
    double limit = p->max_missing_share ? floor(p->max_missing * (double)p->ninputs + 1e-9) : p->max_missing;
    if (p->max_missing >= 0 && (double)nmissing > limit) {
        input_list(p, record, 1, names, sizeof names);
        return rd_err_set(err, RD_EINVAL,
                          "%zu of %zu inputs are missing (%s); the pipeline allows at most %.0f", nmissing,
                          p->ninputs, names, limit);
    }
    return RD_OK;
}

/* ---------------------------------------------------------------- checking a header */

int rd_pipeline_check_columns(const rd_pipeline *p, const char *const *cols, size_t ncols, char *note,
                              size_t note_cap, rd_err *err)
{
    char names[240], extra[240];
    size_t matched = 0, en = 0, nn = 0;
    extra[0] = note[0] = 0;
    bool *present = rd_calloc(p->ninputs ? p->ninputs : 1, sizeof *present); /* once per file */
    if (!present)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    /* one pass over the columns: the inputs present, and each other column with the input it
     * probably meant */
    for (size_t c = 0; c < ncols; c++) {
        int k = lookup_input(p, cols[c], strlen(cols[c]));
        if (k >= 0) {
            matched += !present[k];
            present[k] = true;
            continue;
        }
        if (en + 80 >= sizeof extra)
            continue;
        const char *near = NULL;
        for (size_t i = 0; i < p->ninputs && !near; i++)
            if (rd_near_miss(cols[c], p->inputs[i].name))
                near = p->inputs[i].name;
        int w = near ? snprintf(extra + en, sizeof extra - en, "%s\"%.40s\" (\"%.40s\"?)", en ? ", " : "",
                                cols[c], near)
                     : snprintf(extra + en, sizeof extra - en, "%s\"%.40s\"", en ? ", " : "", cols[c]);
        en += w > 0 ? (size_t)w : 0;
    }
    int rc = RD_OK;
    if (matched == 0) {
        rd_value none = {.type = RD_VOBJECT};
        input_list(p, &none, 0, names, sizeof names);
        bool semi = ncols == 1 && (strchr(cols[0], ';') || strchr(cols[0], '\t'));
        rc = rd_err_set(
            err, RD_EINVAL, "no column is an input of the pipeline (its inputs: %s; the columns: %s)%s",
            names, extra,
            semi ? ": the header is one column holding ';' or a tab, and riskd reads comma-separated CSV"
                 : "");
    }
    for (size_t i = 0; i < p->ninputs && rc == RD_OK; i++) {
        if (present[i])
            continue;
        if (p->inputs[i].required)
            rc = rd_err_set(err, RD_EINVAL,
                            "the required input \"%s\" is not a column (the columns not used: %s)",
                            p->inputs[i].name, en ? extra : "none");
        else if (nn + 48 < note_cap) {
            int w = snprintf(note + nn, note_cap - nn, "%s\"%.40s\"",
                             nn ? ", " : "inputs missing in every row: ", p->inputs[i].name);
            nn += w > 0 ? (size_t)w : 0;
        }
    }
    rd_free(present);
    if (rc == RD_OK && en && nn + 40 < note_cap)
        snprintf(note + nn, note_cap - nn, "%scolumns not used: %s", nn ? "; " : "", extra);
    return rc;
}

/* ---------------------------------------------------------------- from a scorecard */

static int put_num(rd_buf *b, double x) { return rd_buf_printf(b, "%.17g", x); }

static int put_woe_list(rd_buf *b, const rd_value *bins, bool levels, size_t j, rd_err *err)
{
    int rc = rd_buf_puts(b, levels ? ",\"levels\":[" : ",\"cuts\":[");
    if (levels) {
        for (uint32_t i = 0; i < bins->len && rc == 0; i++) {
            const rd_value *lv = str_field(&bins->u.items[i], "level");
            if (!lv)
                return rd_err_set(err, RD_EINVAL, "features[%zu].levels[%u].level: missing or not a string",
                                  j, i);
            rc = (i ? rd_buf_putc(b, ',') : 0) | rd_json_write_string(b, lv->u.s, lv->len);
        }
    } else {
        for (uint32_t i = 1; i < bins->len && rc == 0; i++) { /* the cut is each bin's lower bound */
            const rd_value *lo = rd_value_get(&bins->u.items[i], "lower", 5);
            if (!lo || lo->type != RD_VNUMBER)
                return rd_err_set(err, RD_EINVAL, "features[%zu].bins[%u].lower: missing or not a number", j,
                                  i);
            rc = (i > 1 ? rd_buf_putc(b, ',') : 0) | put_num(b, lo->u.n);
        }
    }
    rc |= rd_buf_puts(b, "],\"woe\":[");
    for (uint32_t i = 0; i < bins->len && rc == 0; i++) {
        const rd_value *w = rd_value_get(&bins->u.items[i], "woe", 3);
        if (!w || w->type != RD_VNUMBER)
            return rd_err_set(err, RD_EINVAL, "features[%zu].%s[%u].woe: missing or not a number", j,
                              levels ? "levels" : "bins", i);
        rc = (i ? rd_buf_putc(b, ',') : 0) | put_num(b, w->u.n);
    }
    rc |= rd_buf_putc(b, ']');
    return rc == 0 ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

static int put_extra_woe(rd_buf *b, const rd_value *f, const char *key, const char *as)
{
    const rd_value *o = rd_value_get(f, key, strlen(key)), *w = o ? rd_value_get(o, "woe", 3) : NULL;
    if (!w || w->type != RD_VNUMBER)
        return 0;
    return rd_buf_printf(b, ",\"%s\":", as) | put_num(b, w->u.n);
}

static int scorecard_spec(const rd_value *root, rd_buf *b, rd_err *err)
{
    const rd_value *fs = rd_value_get(root, "features", 8);
    if (root->type != RD_VOBJECT || !fs || fs->type != RD_VARRAY || fs->len == 0)
        return rd_err_set(err, RD_EINVAL, "features: missing or not a non-empty array");
    int rc = rd_buf_puts(b, "{\"dtype\":\"float64\",\"features\":[");
    for (size_t j = 0; j < fs->len && rc == 0; j++) {
        const rd_value *f = &fs->u.items[j], *name = str_field(f, "name"), *kind = str_field(f, "kind");
        if (!name || !kind || (strcmp(kind->u.s, "numeric") != 0 && strcmp(kind->u.s, "categorical") != 0))
            return rd_err_set(err, RD_EINVAL, "features[%zu]: needs a name and kind numeric or categorical",
                              j);
        bool levels = kind->u.s[0] == 'c';
        const rd_value *bins = rd_value_get(f, levels ? "levels" : "bins", levels ? 6 : 4);
        if (!bins || bins->type != RD_VARRAY || bins->len == 0)
            return rd_err_set(err, RD_EINVAL, "features[%zu].%s: missing or empty", j,
                              levels ? "levels" : "bins");
        rc = (j ? rd_buf_putc(b, ',') : 0) | rd_buf_puts(b, "{\"name\":") |
             rd_json_write_string(b, name->u.s, name->len) | rd_buf_puts(b, ",\"kind\":\"woe\"");
        int lrc = rc == 0 ? put_woe_list(b, bins, levels, j, err) : RD_OK;
        if (lrc != RD_OK)
            return lrc;
        rc |= put_extra_woe(b, f, "missing", "missing_woe") | put_extra_woe(b, f, "unknown", "unknown_woe") |
              rd_buf_putc(b, '}');
    }
    rc |= rd_buf_puts(b, "]}\n");
    return rc == 0 ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

int rd_pipeline_spec_from_scorecard(const char *json, size_t len, rd_buf *out, rd_err *err)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value root;
    rd_err_clear(err);
    int rc = rd_json_parse(json, len, NULL, &a, &root, err);
    if (rc == RD_OK)
        rc = scorecard_spec(&root, out, err);
    rd_arena_deinit(&a);
    return rc;
}
