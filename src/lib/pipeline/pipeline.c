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

typedef enum { IN_NUMBER, IN_CATEGORY } in_type;
typedef enum { F_NUMERIC, F_ONE_HOT, F_WOE } feat_kind;

typedef struct input {
    const char *name;
    uint32_t name_len;
    in_type type;
    double min, max;        /* NaN when unbounded */
    const rd_value *levels; /* array of strings, or NULL: any level */
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

static int find_input(const rd_pipeline *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->ninputs; i++)
        if (p->inputs[i].name_len == len && memcmp(p->inputs[i].name, name, len) == 0)
            return (int)i;
    return -1;
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
        input *in = &p->inputs[p->ninputs++];
        *in = (input){.name = name->u.s, .name_len = name->len, .min = (double)NAN, .max = (double)NAN};
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

int rd_pipeline_apply(const rd_pipeline *p, const rd_value *record, double *out, rd_pipeline_report *report,
                      rd_err *err)
{
    rd_pipeline_report rep = {0};
    if (!record || record->type != RD_VOBJECT)
        return rd_err_set(err, RD_ETYPE, "a record must be an object of input values");
    for (size_t i = 0; i < p->nfeatures; i++) {
        const feature *f = &p->features[i];
        const input *in = &p->inputs[f->input];
        const rd_value *v = rd_value_get(record, in->name, in->name_len);
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
        const rd_value *v = rd_value_get(record, in->name, in->name_len);
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
