/* Fallback rules: parsed and compiled once, evaluated in order.
 *
 * Invariants after rd_fallback_parse: there is at least one rule; only the last has no
 * `when`, and it does not approve; every `when` compiled; every string the result borrows
 * lives in the set's arena. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "riskd/fallback.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/logic.h"

typedef struct rule {
    const char *name, *risk_level, *decision, *reason;
    bool has_score;
    double score;
    rd_logic *when; /* NULL: the default */
} rule;

struct rd_fallback {
    atomic_int refs;
    rd_arena arena;
    const char *version;
    char sha256[RD_SHA256_HEX];
    const char *text; /* the bytes compiled (what the decision log keeps) */
    size_t len;
    rule *rules;
    size_t n;
    const char **features; /* the names read as features.NAME, distinct, first use first */
    size_t nfeatures, features_cap;
};

static const rd_value *get(const rd_value *o, const char *key)
{
    return o && o->type == RD_VOBJECT ? rd_value_get(o, key, strlen(key)) : NULL;
}

/* Every key of o must be one of names (NULL-terminated). */
static int only_keys(const rd_value *o, const char *const *names, const char *where, rd_err *err)
{
    for (uint32_t i = 0; i < o->len; i++) {
        const char *k = o->u.members[i].key;
        size_t j = 0;
        while (names[j] && strcmp(names[j], k) != 0)
            j++;
        if (!names[j] || o->u.members[i].key_len != strlen(k))
            return rd_err_set(err, RD_EINVAL, "%sunknown key \"%.64s\"", where, k);
    }
    return RD_OK;
}

/* A var that reads nothing the rule is given is a rule that silently never fires. */
/* A path the rule reads: it must name something under features or context. */
static bool reads_something(const char *path)
{
    return !strncmp(path, "features.", 9) || !strncmp(path, "context.", 8) || !strcmp(path, "features") ||
           !strcmp(path, "context");
}

static int bad_path(const char *op, const rd_value *a, rd_err *err)
{
    if (a->type != RD_VSTRING)
        return rd_err_set(err, RD_EINVAL,
                          "when: a path of \"%s\" must be a string (features.NAME or context.NAME)", op);
    return rd_err_set(err, RD_EINVAL,
                      "when: {\"%s\": \"%.64s\"} reads nothing: write features.NAME or context.NAME", op,
                      a->u.s);
}

/* The paths of var, missing and missing_some. A path that reads nothing is a rule that
 * silently never fires (var) or always fires (missing): refused. */
static int check_paths(const rd_member *m, rd_err *err)
{
    const rd_value *v = &m->val;
    if (!strcmp(m->key, "var")) {
        const rd_value *a = v->type == RD_VARRAY && v->len ? &v->u.items[0] : v;
        if (a->type != RD_VSTRING || !reads_something(a->u.s))
            return bad_path("var", a, err);
    } else if (!strcmp(m->key, "missing") || !strcmp(m->key, "missing_some")) {
        const rd_value *list = v;
        if (!strcmp(m->key, "missing_some"))
            list = v->type == RD_VARRAY && v->len == 2 ? &v->u.items[1] : NULL;
        if (list && list->type == RD_VSTRING && !reads_something(list->u.s))
            return bad_path(m->key, list, err);
        for (uint32_t i = 0; list && list->type == RD_VARRAY && i < list->len; i++) {
            const rd_value *a = &list->u.items[i];
            if (a->type == RD_VOBJECT)
                continue; /* computed paths are checked where they are computed */
            if (a->type != RD_VSTRING || !reads_something(a->u.s))
                return bad_path(m->key, a, err);
        }
    }
    return RD_OK;
}

static int check_vars(const rd_value *v, int depth, rd_err *err)
{
    if (depth > 64)
        return RD_OK; /* the compiler refuses it with its own message */
    if (v->type == RD_VARRAY) {
        for (uint32_t i = 0; i < v->len; i++)
            if (check_vars(&v->u.items[i], depth + 1, err))
                return err->code;
        return RD_OK;
    }
    if (v->type != RD_VOBJECT)
        return RD_OK;
    for (uint32_t i = 0; i < v->len; i++) {
        const rd_member *m = &v->u.members[i];
        if (check_paths(m, err) || check_vars(&m->val, depth + 1, err))
            return err->code;
    }
    return RD_OK;
}

/* Note the input a path reads (features.NAME), once. */
static int note_feature(rd_fallback *f, const char *path)
{
    if (strncmp(path, "features.", 9) != 0 || !path[9])
        return RD_OK;
    const char *name = path + 9;
    for (size_t i = 0; i < f->nfeatures; i++)
        if (!strcmp(f->features[i], name))
            return RD_OK;
    if (f->nfeatures == f->features_cap) {
        size_t cap = f->features_cap ? 2 * f->features_cap : 8;
        const char **v = rd_arena_alloc(&f->arena, cap * sizeof *v); // NOLINT(bugprone-sizeof-expression)
        if (!v)
            return RD_ENOMEM;
        if (f->nfeatures)
            memcpy(v, f->features, f->nfeatures * sizeof *v); // NOLINT(bugprone-sizeof-expression)
        f->features = v;
        f->features_cap = cap;
    }
    f->features[f->nfeatures++] = name; /* borrowed from the parsed rules, in f's arena */
    return RD_OK;
}

/* The inputs a rule reads through var, missing and missing_some with literal paths. */
static int note_features(rd_fallback *f, const rd_value *v, int depth)
{
    if (depth > 64)
        return RD_OK;
    int rc = RD_OK;
    if (v->type == RD_VARRAY) {
        for (uint32_t i = 0; i < v->len && !rc; i++)
            rc = note_features(f, &v->u.items[i], depth + 1);
        return rc;
    }
    if (v->type != RD_VOBJECT)
        return RD_OK;
    for (uint32_t i = 0; i < v->len && !rc; i++) {
        const rd_member *m = &v->u.members[i];
        const rd_value *a = &m->val;
        if (!strcmp(m->key, "var")) {
            const rd_value *p = a->type == RD_VARRAY && a->len ? &a->u.items[0] : a;
            if (p->type == RD_VSTRING)
                rc = note_feature(f, p->u.s);
        } else if (!strcmp(m->key, "missing") || !strcmp(m->key, "missing_some")) {
            const rd_value *list =
                !strcmp(m->key, "missing_some") && a->type == RD_VARRAY && a->len == 2 ? &a->u.items[1] : a;
            if (list->type == RD_VSTRING)
                rc = note_feature(f, list->u.s);
            for (uint32_t k = 0; list->type == RD_VARRAY && k < list->len && !rc; k++)
                if (list->u.items[k].type == RD_VSTRING)
                    rc = note_feature(f, list->u.items[k].u.s);
        }
        if (!rc)
            rc = note_features(f, a, depth + 1);
    }
    return rc;
}

size_t rd_fallback_num_features(const rd_fallback *f) { return f->nfeatures; }
const char *rd_fallback_feature(const rd_fallback *f, size_t i)
{
    return i < f->nfeatures ? f->features[i] : NULL;
}

static const char *req_str(const rd_value *r, const char *key, rd_err *err)
{
    const rd_value *v = get(r, key);
    if (!v || v->type != RD_VSTRING || v->len == 0 || memchr(v->u.s, 0, v->len)) {
        rd_err_set(err, RD_EINVAL, "%s: required, a non-empty string", key);
        return NULL;
    }
    return v->u.s;
}

static int parse_rule(rd_fallback *f, const rd_value *r, size_t i, bool last, rd_err *err)
{
    static const char *const keys[] = {"name", "when", "score", "risk_level", "decision", "reason", NULL};
    rule *out = &f->rules[i];
    if (r->type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "not an object");
    if (only_keys(r, keys, "", err))
        return err->code;
    const rd_value *name = get(r, "name"), *when = get(r, "when"), *score = get(r, "score");
    if (name && (name->type != RD_VSTRING || !name->len))
        return rd_err_set(err, RD_EINVAL, "name: must be a non-empty string");
    if (!(out->risk_level = req_str(r, "risk_level", err)) ||
        !(out->decision = req_str(r, "decision", err)) || !(out->reason = req_str(r, "reason", err)))
        return err->code;
    if (strcmp(out->decision, "approve") != 0 && strcmp(out->decision, "review") != 0 &&
        strcmp(out->decision, "reject") != 0)
        return rd_err_set(err, RD_EINVAL, "decision: \"%.32s\" is not approve, review or reject",
                          out->decision);
    if (score && score->type != RD_VNULL && (score->type != RD_VNUMBER || !isfinite(score->u.n)))
        return rd_err_set(err, RD_EINVAL, "score: must be a number or null");
    out->has_score = score && score->type == RD_VNUMBER;
    out->score = out->has_score ? score->u.n : 0;
    if (name) {
        out->name = name->u.s;
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "rules[%zu]", i);
        if (!(out->name = rd_arena_strndup(&f->arena, buf, strlen(buf))))
            return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    if (!when) {
        if (!last)
            return rd_err_set(err, RD_EINVAL,
                              "has no \"when\": only the final default rule may, the rules after it "
                              "would never apply");
        if (!strcmp(out->decision, "approve"))
            return rd_err_set(err, RD_EINVAL,
                              "the default rule approves: it decides for every applicant no rule looked "
                              "at, so it must review or reject");
        return RD_OK;
    }
    if (last)
        return rd_err_set(err, RD_EINVAL,
                          "the last rule has a \"when\": a final default rule without one is required, so "
                          "every request gets an answer");
    if (check_vars(when, 0, err))
        return err->code;
    if (note_features(f, when, 0))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = rd_logic_compile(when, NULL, &out->when, err);
    if (rc)
        rd_err_prefix(err, "when");
    return rc;
}

static int parse_rules(rd_fallback *f, const rd_value *root, rd_err *err)
{
    static const char *const keys[] = {"version", "description", "rules", NULL};
    if (root->type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "not a JSON object {\"rules\": [...]}");
    if (only_keys(root, keys, "", err))
        return err->code;
    const rd_value *v = get(root, "version"), *rules = get(root, "rules");
    if (v && v->type != RD_VSTRING)
        return rd_err_set(err, RD_EINVAL, "version: must be a string");
    f->version = v ? v->u.s : "";
    if (!rules || rules->type != RD_VARRAY || rules->len == 0)
        return rd_err_set(err, RD_EINVAL, "rules: required, a non-empty array ending with a default rule");
    if (!(f->rules = rd_calloc(rules->len, sizeof(rule))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < rules->len; i++) {
        f->n = i + 1; /* what to free */
        int rc = parse_rule(f, &rules->u.items[i], i, i + 1 == rules->len, err);
        if (rc) {
            const rd_value *name = get(&rules->u.items[i], "name");
            if (name && name->type == RD_VSTRING)
                rd_err_prefix(err, "rules[%u] (\"%.40s\")", i, name->u.s);
            else
                rd_err_prefix(err, "rules[%u]", i);
            return rc;
        }
    }
    return RD_OK;
}

int rd_fallback_parse(const char *json, size_t len, rd_fallback **out, rd_err *err)
{
    rd_fallback *f = rd_calloc(1, sizeof *f);
    if (!f)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    atomic_init(&f->refs, 1);
    rd_arena_init(&f->arena, 0);
    rd_sha256_hex(json, len, f->sha256);
    f->len = len;
    if (!(f->text = rd_arena_strndup(&f->arena, json, len))) {
        rd_fallback_unref(f);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    rd_value root;
    int rc = rd_json_parse(json, len, NULL, &f->arena, &root, err);
    if (rc == RD_OK)
        rc = parse_rules(f, &root, err);
    if (rc != RD_OK) {
        rd_fallback_unref(f);
        return rc;
    }
    *out = f;
    return RD_OK;
}

int rd_fallback_load_file(const char *path, rd_fallback **out, rd_err *err)
{
    char *text;
    size_t len;
    int rc = rd_file_read(path, RD_FALLBACK_MAX_BYTES, &text, &len, err);
    if (rc)
        return rc;
    rc = rd_fallback_parse(text, len, out, err);
    rd_free(text);
    if (rc && rc != RD_EIO)
        rd_err_prefix(err, "%s", path);
    return rc;
}

rd_fallback *rd_fallback_ref(rd_fallback *f)
{
    if (f)
        atomic_fetch_add(&f->refs, 1);
    return f;
}

void rd_fallback_unref(rd_fallback *f)
{
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    for (size_t i = 0; i < f->n; i++)
        rd_logic_free(f->rules[i].when);
    rd_free(f->rules);
    rd_arena_deinit(&f->arena);
    rd_free(f);
}

const char *rd_fallback_version(const rd_fallback *f) { return f->version; }
const char *rd_fallback_sha256(const rd_fallback *f) { return f->sha256; }
const char *rd_fallback_text(const rd_fallback *f, size_t *len)
{
    *len = f->len;
    return f->text;
}
size_t rd_fallback_count(const rd_fallback *f) { return f->n; }

void rd_fallback_eval(const rd_fallback *f, const rd_value *features, const rd_value *context,
                      rd_arena *scratch, rd_fallback_result *out)
{
    rd_member m[2] = {{"features", 8, features ? *features : RD_NULL_VALUE},
                      {"context", 7, context ? *context : RD_NULL_VALUE}};
    rd_value data = {.type = RD_VOBJECT, .len = 2, .u.members = m};
    size_t i = 0;
    for (; i + 1 < f->n; i++) {
        rd_value v;
        rd_err e;
        if (rd_logic_eval(f->rules[i].when, &data, NULL, scratch, &v, &e) == RD_OK && rd_logic_truthy(&v))
            break;
    }
    const rule *r = &f->rules[i];
    *out = (rd_fallback_result){i, r->name, r->has_score, r->score, r->risk_level, r->decision, r->reason};
}
