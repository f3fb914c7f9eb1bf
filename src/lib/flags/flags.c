/* flagd flag sets.
 *
 * Invariants: a flag set is built completely in its own arena and never changed after
 * rd_flagset_parse returns, so readers need no lock; every flag's metadata is merged with
 * the set's at parse time; `$ref`s are resolved at parse time; every targeting rule is
 * compiled at parse time (or, in lenient mode, the flag records why it could not be). */
#include "riskd/flags.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/logic.h"
#include "riskd/text.h"

#define MAX_REF_DEPTH 16

typedef struct flag {
    const char *key;
    uint32_t key_len;
    bool disabled;
    const rd_member *variants; /* variant name -> value */
    uint32_t nvariants;
    const rd_member *default_variant; /* NULL: the caller's default */
    bool plain_names;                 /* no variant name holds a character Go's JSON escapes */
    rd_logic *targeting;              /* NULL: no targeting */
    const char *broken;               /* lenient mode: why targeting could not compile */
    rd_value metadata;                /* merged: set metadata, then the flag's */
    rd_value targeting_src;           /* as written ($refs unresolved); RD_VNULL when none */
} flag;

struct rd_flagset {
    _Atomic long refs;
    rd_arena arena;
    flag *flags;
    size_t nflags;
    uint32_t *index; /* open addressing: slot -> flag index + 1, 0 = empty */
    size_t index_mask;
    rd_value metadata;
};

static const rd_value empty_object = {.type = RD_VOBJECT, .len = 0};

/* The index's hash: eight bytes at a time, multiply-mixed. Flag keys are short, and this
 * runs on every evaluation. */
static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15u ^ len, w;
    for (; len >= 8; key += 8, len -= 8) {
        memcpy(&w, key, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9u;
        h ^= h >> 31;
    }
    w = 0;
    for (size_t i = 0; i < len; i++) /* a loop, not a variable-length memcpy call */
        w |= (uint64_t)(unsigned char)key[i] << (8 * i);
    h = (h ^ w) * 0x94D049BB133111EBu;
    return h ^ (h >> 29);
}

/* ---------------------------------------------------------------- names */

const char *rd_reason_name(rd_reason r)
{
    static const char *n[] = {"STATIC", "DEFAULT", "TARGETING_MATCH", "DISABLED", "ERROR"};
    return (unsigned)r < 5 ? n[r] : "UNKNOWN";
}

const char *rd_flag_error_name(rd_flag_error e)
{
    static const char *n[] = {"",        "FLAG_NOT_FOUND", "PARSE_ERROR", "TYPE_MISMATCH",
                              "GENERAL", "INVALID_CONTEXT"};
    return (unsigned)e < 6 ? n[e] : "GENERAL";
}

static const char *const type_names[] = {"any", "boolean", "string", "integer", "float", "object"};

const char *rd_flag_type_name(rd_flag_type t) { return (unsigned)t < 6 ? type_names[t] : "any"; }

int rd_flag_type_parse(const char *name, rd_flag_type *out)
{
    for (int i = 0; i < 6; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (rd_flag_type)i;
            return RD_OK;
        }
    return RD_EINVAL;
}

/* ---------------------------------------------------------------- parsing */

struct parse {
    rd_flagset *fs;
    const rd_flagset_opts *opts;
    const rd_value *evaluators; /* object or NULL */
    rd_err *err;
};

static bool is_key(const rd_member *m, const char *k)
{
    return m->key_len == strlen(k) && memcmp(m->key, k, m->key_len) == 0;
}

RD_PRINTF(3, 4) static int bad(struct parse *p, const char *flag_key, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (flag_key)
        return rd_err_set(p->err, RD_EINVAL, "flags.%s.%s", flag_key, msg);
    return rd_err_set(p->err, RD_EINVAL, "%s", msg);
}

/* Metadata values must be strings, numbers or booleans (schema). Lenient mode drops the
 * others, as flagd only warns about them. */
static int check_metadata(struct parse *p, const char *flag_key, const rd_value *md, rd_value *out)
{
    if (md->type != RD_VOBJECT) {
        if (p->opts->lenient) {
            *out = empty_object;
            return RD_OK;
        }
        return bad(p, flag_key, "metadata: must be an object, not %s", rd_vtype_name(md->type));
    }
    rd_member *m = rd_arena_alloc(&p->fs->arena, (md->len ? md->len : 1) * sizeof(*m));
    if (!m)
        return rd_err_set(p->err, RD_ENOMEM, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < md->len; i++) {
        const rd_member *e = &md->u.members[i];
        rd_vtype t = e->val.type;
        if (t == RD_VSTRING || t == RD_VNUMBER || t == RD_VBOOL)
            m[k++] = *e;
        else if (!p->opts->lenient) {
            char what[160];
            snprintf(what, sizeof(what), "%.100s: must be a string, number or boolean, not %s", e->key,
                     rd_vtype_name(t));
            return bad(p, flag_key, "metadata.%s", what);
        }
    }
    *out = (rd_value){.type = RD_VOBJECT, .len = k, .u.members = m};
    return RD_OK;
}

/* Set metadata overlaid with the flag's: the flag's keys win. */
static int merge_metadata(struct parse *p, const rd_value *set, const rd_value *own, rd_value *out)
{
    rd_member *m = rd_arena_alloc(&p->fs->arena, (set->len + own->len + 1) * sizeof(*m));
    if (!m)
        return rd_err_set(p->err, RD_ENOMEM, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < set->len; i++)
        if (!rd_value_get(own, set->u.members[i].key, set->u.members[i].key_len))
            m[k++] = set->u.members[i];
    for (uint32_t i = 0; i < own->len; i++)
        m[k++] = own->u.members[i];
    *out = (rd_value){.type = RD_VOBJECT, .len = k, .u.members = m};
    return RD_OK;
}

/* Replace every {"$ref":"name"} in v by the named evaluator (itself resolved, up to
 * MAX_REF_DEPTH levels). An unknown name is an error, or left in place in lenient mode
 * (where it then fails to compile, as in flagd). Sub-trees without refs are shared. */
static int resolve_refs(struct parse *p, const char *flag_key, const rd_value *v, int depth, rd_value *out)
{
    if (v->type == RD_VOBJECT && v->len == 1 && is_key(&v->u.members[0], "$ref") &&
        v->u.members[0].val.type == RD_VSTRING) {
        const rd_value *name = &v->u.members[0].val;
        const rd_value *target = rd_value_get(p->evaluators, name->u.s, name->len);
        if (!target) {
            if (p->opts->lenient) {
                *out = *v;
                return RD_OK;
            }
            return bad(p, flag_key, "targeting: $ref to unknown evaluator \"%s\"", name->u.s);
        }
        if (depth >= MAX_REF_DEPTH)
            return bad(p, flag_key, "targeting: $ref \"%s\" nests too deep (a cycle?)", name->u.s);
        return resolve_refs(p, flag_key, target, depth + 1, out);
    }
    if (v->type != RD_VARRAY && v->type != RD_VOBJECT) {
        *out = *v;
        return RD_OK;
    }
    rd_value copy = *v;
    if (v->type == RD_VARRAY) {
        rd_value *items = rd_arena_alloc(&p->fs->arena, (v->len ? v->len : 1) * sizeof(*items));
        if (!items)
            return rd_err_set(p->err, RD_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < v->len; i++) {
            int rc = resolve_refs(p, flag_key, &v->u.items[i], depth, &items[i]);
            if (rc != RD_OK)
                return rc;
        }
        copy.u.items = items;
    } else {
        rd_member *m = rd_arena_alloc(&p->fs->arena, (v->len ? v->len : 1) * sizeof(*m));
        if (!m)
            return rd_err_set(p->err, RD_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < v->len; i++) {
            m[i] = v->u.members[i];
            int rc = resolve_refs(p, flag_key, &v->u.members[i].val, depth, &m[i].val);
            if (rc != RD_OK)
                return rc;
        }
        copy.u.members = m;
    }
    *out = copy;
    return RD_OK;
}

/* No byte that Go's JSON encoder would escape (or that starts U+2028/U+2029). */
static bool plain_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == '"' || ch == '\\' || ch == '<' || ch == '>' || ch == '&' || ch == 0xE2)
            return false;
    }
    return true;
}

static int parse_variants(struct parse *p, flag *f, const rd_value *v)
{
    if (!v)
        return bad(p, f->key, "variants: %s", "missing");
    if (v->type != RD_VOBJECT || v->len == 0)
        return bad(p, f->key, "variants: %s", "must be an object with at least one variant");
    rd_vtype first = v->u.members[0].val.type;
    for (uint32_t i = 0; i < v->len && !p->opts->lenient; i++) {
        const rd_member *m = &v->u.members[i];
        rd_vtype t = m->val.type;
        char what[200];
        if (t == RD_VNULL || t == RD_VARRAY) {
            snprintf(what, sizeof(what),
                     "%.100s: a variant must be a boolean, string, number or object, not %s", m->key,
                     rd_vtype_name(t));
            return bad(p, f->key, "variants.%s", what);
        }
        if (t != first) {
            snprintf(what, sizeof(what), "%.100s: is a %s but \"%.40s\" is a %s (all variants need one type)",
                     m->key, rd_vtype_name(t), v->u.members[0].key, rd_vtype_name(first));
            return bad(p, f->key, "variants.%s", what);
        }
        if (m->key_len == 0)
            return bad(p, f->key, "variants: %s", "a variant name must not be empty");
    }
    f->variants = v->u.members;
    f->nvariants = v->len;
    f->plain_names = true;
    for (uint32_t i = 0; i < v->len; i++)
        f->plain_names &= plain_chars(v->u.members[i].key, v->u.members[i].key_len);
    return RD_OK;
}

static const rd_member *find_variant(const flag *f, const char *name, size_t len)
{
    for (uint32_t i = f->nvariants; i-- > 0;)
        if (f->variants[i].key_len == len && rd_mem_eq(f->variants[i].key, name, len))
            return &f->variants[i];
    return NULL;
}

static int check_targeting(struct parse *p, const flag *f, const rd_value *rule);

static int parse_targeting(struct parse *p, flag *f, const rd_value *t)
{
    if (!t || (t->type == RD_VOBJECT && t->len == 0))
        return RD_OK;
    if (t->type != RD_VOBJECT && !p->opts->lenient)
        return bad(p, f->key, "targeting: must be a JSONLogic object, not %s", rd_vtype_name(t->type));
    rd_value rule;
    int rc = resolve_refs(p, f->key, t, 0, &rule);
    if (rc != RD_OK)
        return rc;
    rd_logic_opts lo = {.max_depth = p->opts->max_rule_depth,
                        .fractional_version = p->opts->fractional_version};
    rd_err cerr;
    rc = rd_logic_compile(&rule, &lo, &f->targeting, &cerr);
    if (rc == RD_OK)
        return p->opts->lenient ? RD_OK : check_targeting(p, f, &rule);
    if (rc == RD_ENOMEM || !p->opts->lenient)
        return rd_err_set(p->err, rc, "flags.%s.targeting%s%s", f->key, cerr.msg[0] == '$' ? "" : ": ",
                          cerr.msg[0] == '$' ? cerr.msg + 1 : cerr.msg);
    char *why = rd_arena_strndup(&p->fs->arena, cerr.msg, strlen(cerr.msg));
    if (!why)
        return rd_err_set(p->err, RD_ENOMEM, "out of memory");
    f->broken = why;
    return RD_OK;
}

/* Strict mode: a key that looks like a misspelt key of a flag is refused (a "defaultvariant"
 * would otherwise leave the flag without its default, without a word). Other keys are notes
 * ("description", "owner"), as flagd reads them. */
static int check_flag_keys(struct parse *p, const flag *f, const rd_value *def)
{
    static const char *const keys[] = {"state", "variants", "defaultVariant", "targeting", "metadata"};
    for (uint32_t i = 0; i < def->len && !p->opts->lenient; i++) {
        const rd_member *m = &def->u.members[i];
        if (m->key_len != strlen(m->key))
            continue;
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            if (rd_near_miss(m->key, keys[k]))
                return bad(p, f->key, "%.64s: not a key of a flag (did you mean \"%s\"?)", m->key, keys[k]);
    }
    return RD_OK;
}

static int parse_flag(struct parse *p, flag *f, const rd_value *def)
{
    if (def->type != RD_VOBJECT)
        return rd_err_set(p->err, RD_EINVAL, "flags.%s: must be an object, not %s", f->key,
                          rd_vtype_name(def->type));
    int krc = check_flag_keys(p, f, def);
    if (krc != RD_OK)
        return krc;
    const rd_value *state = rd_value_get(def, "state", 5);
    if (!state)
        return bad(p, f->key, "state: %s", "missing (ENABLED or DISABLED)");
    if (state->type != RD_VSTRING ||
        (strcmp(state->u.s, "ENABLED") != 0 && strcmp(state->u.s, "DISABLED") != 0))
        return bad(p, f->key, "state: %s", "must be \"ENABLED\" or \"DISABLED\"");
    f->disabled = state->u.s[0] == 'D';
    int rc = parse_variants(p, f, rd_value_get(def, "variants", 8));
    if (rc != RD_OK)
        return rc;
    const rd_value *dv = rd_value_get(def, "defaultVariant", 14);
    if (dv && dv->type == RD_VSTRING) {
        f->default_variant = find_variant(f, dv->u.s, dv->len);
        if (!f->default_variant)
            return bad(p, f->key, "defaultVariant: \"%s\" is not one of the variants", dv->u.s);
    } else if (dv && dv->type != RD_VNULL) {
        return bad(p, f->key, "defaultVariant: must be a string or null, not %s", rd_vtype_name(dv->type));
    }
    const rd_value *md = rd_value_get(def, "metadata", 8);
    rd_value own = empty_object;
    if (md && (rc = check_metadata(p, f->key, md, &own)) != RD_OK)
        return rc;
    if ((rc = merge_metadata(p, &p->fs->metadata, &own, &f->metadata)) != RD_OK)
        return rc;
    const rd_value *t = rd_value_get(def, "targeting", 9);
    f->targeting_src = t ? *t : RD_NULL_VALUE;
    return parse_targeting(p, f, t);
}

static int index_build(struct parse *p)
{
    rd_flagset *fs = p->fs;
    size_t cap = 8;
    while (cap < fs->nflags * 2)
        cap *= 2;
    fs->index = rd_arena_alloc(&fs->arena, cap * sizeof(*fs->index));
    if (!fs->index)
        return rd_err_set(p->err, RD_ENOMEM, "out of memory");
    memset(fs->index, 0, cap * sizeof(*fs->index));
    fs->index_mask = cap - 1;
    for (size_t i = 0; i < fs->nflags; i++) {
        size_t s = key_hash(fs->flags[i].key, fs->flags[i].key_len) & fs->index_mask;
        while (fs->index[s]) {
            const flag *o = &fs->flags[fs->index[s] - 1];
            if (o->key_len == fs->flags[i].key_len && memcmp(o->key, fs->flags[i].key, o->key_len) == 0) {
                if (!p->opts->lenient)
                    return rd_err_set(p->err, RD_EINVAL, "flags.%s: defined twice", fs->flags[i].key);
                break; /* the later definition wins, as in flagd */
            }
            s = (s + 1) & fs->index_mask;
        }
        fs->index[s] = (uint32_t)i + 1;
    }
    return RD_OK;
}

/* The flags as (key, definition) pairs, from the object form or the array form. */
static int collect_flags(struct parse *p, const rd_value *flags)
{
    rd_flagset *fs = p->fs;
    if (!flags)
        return rd_err_set(p->err, RD_EINVAL, "flags: missing");
    if (flags->type != RD_VOBJECT && flags->type != RD_VARRAY)
        return rd_err_set(p->err, RD_EINVAL, "flags: must be an object or an array, not %s",
                          rd_vtype_name(flags->type));
    fs->nflags = flags->len;
    fs->flags = rd_arena_alloc(&fs->arena, (flags->len ? flags->len : 1) * sizeof(flag));
    if (!fs->flags)
        return rd_err_set(p->err, RD_ENOMEM, "out of memory");
    memset(fs->flags, 0, (flags->len ? flags->len : 1) * sizeof(flag));
    for (uint32_t i = 0; i < flags->len; i++) {
        flag *f = &fs->flags[i];
        const rd_value *def;
        if (flags->type == RD_VOBJECT) {
            f->key = flags->u.members[i].key;
            f->key_len = flags->u.members[i].key_len;
            def = &flags->u.members[i].val;
        } else {
            def = &flags->u.items[i];
            const rd_value *k = rd_value_get(def, "key", 3);
            if (!k || k->type != RD_VSTRING || k->len == 0)
                return rd_err_set(p->err, RD_EINVAL, "flags[%u].key: missing or not a non-empty string", i);
            f->key = k->u.s;
            f->key_len = k->len;
        }
        if (f->key_len == 0)
            return rd_err_set(p->err, RD_EINVAL, "flags: a flag key must not be empty");
        int rc = parse_flag(p, f, def);
        if (rc != RD_OK)
            return rc;
    }
    return index_build(p);
}

static int parse_root(struct parse *p, const rd_value *root)
{
    if (root->type != RD_VOBJECT)
        return rd_err_set(p->err, RD_EINVAL, "the flag set must be a JSON object, not %s",
                          rd_vtype_name(root->type));
    static const char *const keys[] = {"flags", "$evaluators", "metadata", "$schema"};
    for (uint32_t i = 0; i < root->len && !p->opts->lenient; i++) {
        const rd_member *m = &root->u.members[i];
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            if (!is_key(m, keys[k]) && m->key_len == strlen(m->key) && rd_near_miss(m->key, keys[k]))
                return rd_err_set(p->err, RD_EINVAL, "%.64s: not a key of a flag set (did you mean \"%s\"?)",
                                  m->key, keys[k]);
    }
    const rd_value *ev = rd_value_get(root, "$evaluators", 11);
    if (ev && ev->type != RD_VOBJECT)
        return rd_err_set(p->err, RD_EINVAL, "$evaluators: must be an object");
    p->evaluators = ev;
    const rd_value *md = rd_value_get(root, "metadata", 8);
    p->fs->metadata = empty_object;
    if (md) {
        int rc = check_metadata(p, NULL, md, &p->fs->metadata);
        if (rc != RD_OK)
            return rc;
    }
    return collect_flags(p, rd_value_get(root, "flags", 5));
}

static void flagset_free(rd_flagset *fs)
{
    for (size_t i = 0; fs->flags && i < fs->nflags; i++)
        rd_logic_free(fs->flags[i].targeting);
    rd_arena_deinit(&fs->arena);
    rd_free(fs);
}

int rd_flagset_parse(const char *json, size_t len, const rd_flagset_opts *opts, rd_flagset **out, rd_err *err)
{
    static const rd_flagset_opts defaults = {0};
    if (!json || !out)
        return rd_err_set(err, RD_EINVAL, "no flag set given");
    rd_flagset *fs = rd_calloc(1, sizeof(*fs));
    if (!fs)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    atomic_init(&fs->refs, 1);
    rd_arena_init(&fs->arena, 0);
    struct parse p = {.fs = fs, .opts = opts ? opts : &defaults, .err = err};
    rd_json_limits lim = {.max_bytes = p.opts->max_bytes, .max_depth = 128};
    rd_value root;
    int rc = rd_json_parse(json, len, &lim, &fs->arena, &root, err);
    if (rc == RD_OK)
        rc = parse_root(&p, &root);
    if (rc != RD_OK) {
        flagset_free(fs);
        return rc;
    }
    *out = fs;
    return RD_OK;
}

rd_flagset *rd_flagset_ref(rd_flagset *fs)
{
    if (fs)
        atomic_fetch_add_explicit(&fs->refs, 1, memory_order_relaxed);
    return fs;
}

void rd_flagset_unref(rd_flagset *fs)
{
    if (fs && atomic_fetch_sub_explicit(&fs->refs, 1, memory_order_acq_rel) == 1)
        flagset_free(fs);
}

size_t rd_flagset_count(const rd_flagset *fs) { return fs->nflags; }

const char *rd_flagset_key(const rd_flagset *fs, size_t i)
{
    return i < fs->nflags ? fs->flags[i].key : NULL;
}

int rd_flagset_variants(const rd_flagset *fs, size_t i, rd_value *out)
{
    if (i >= fs->nflags)
        return RD_ENOTFOUND;
    *out = (rd_value){.type = RD_VOBJECT, .len = fs->flags[i].nvariants, .u.members = fs->flags[i].variants};
    return RD_OK;
}

const rd_value *rd_flagset_metadata(const rd_flagset *fs) { return &fs->metadata; }

int rd_flagset_targeting(const rd_flagset *fs, size_t i, rd_value *out)
{
    if (i >= fs->nflags)
        return RD_ENOTFOUND;
    *out = fs->flags[i].targeting_src;
    return RD_OK;
}

/* ---------------------------------------------------------------- evaluation */

static const flag *flag_find(const rd_flagset *fs, const char *key, size_t len)
{
    size_t s = key_hash(key, len) & fs->index_mask;
    for (;;) {
        uint32_t i = fs->index[s];
        if (!i)
            return NULL;
        const flag *f = &fs->flags[i - 1];
        if (f->key_len == len && rd_mem_eq(f->key, key, len))
            return f;
        s = (s + 1) & fs->index_mask;
    }
}

long rd_flagset_find(const rd_flagset *fs, const char *key, size_t key_len)
{
    const flag *f = flag_find(fs, key, key_len);
    return f ? (long)(f - fs->flags) : -1;
}

static void set_error(rd_resolution *out, rd_flag_error e, const char *msg)
{
    out->has_value = false;
    out->variant = NULL;
    out->reason = RD_REASON_ERROR;
    out->error = e;
    out->error_message = msg;
}

static void set_variant(rd_resolution *out, const rd_member *v, rd_reason reason)
{
    out->has_value = true;
    out->value = v->val;
    out->variant = v->key;
    out->reason = reason;
}

/* Go's json.Marshal of v, with every '"' then deleted: how flagd turns a targeting result
 * into a variant name. Go escapes HTML characters and control bytes, sorts object keys. */
static void go_encode(rd_strb *b, const rd_value *v);

static void go_string(rd_strb *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (ch == '\\')
            esc = "\\\\";
        else if (ch == '"')
            esc = "\\"; /* the escaped quote's backslash survives the quote deletion */
        else if (ch == '\n')
            esc = "\\n";
        else if (ch == '\r')
            esc = "\\r";
        else if (ch == '\t')
            esc = "\\t";
        else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
            snprintf(u, sizeof(u), "\\u00%c%c", hex[ch >> 4], hex[ch & 15]);
            esc = u;
        } else if (ch == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
            rd_strb_add(b, s + start, i - start);
            rd_strb_add(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            i += 2;
            start = i + 1;
            continue;
        }
        if (!esc)
            continue;
        rd_strb_add(b, s + start, i - start);
        rd_strb_add(b, esc, strlen(esc));
        start = i + 1;
    }
    rd_strb_add(b, s + start, n - start);
}

static int member_cmp(const void *x, const void *y)
{
    const rd_member *a = *(const rd_member *const *)x, *b = *(const rd_member *const *)y;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int r = memcmp(a->key, b->key, n);
    return r ? r : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static void go_encode(rd_strb *b, const rd_value *v)
{
    char num[RD_NUM_BUF];
    switch (v->type) {
    case RD_VNULL: rd_strb_add(b, "null", 4); break;
    case RD_VBOOL: rd_strb_add(b, v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
    case RD_VNUMBER:
        if (v->u.n == 0 && signbit(v->u.n))
            rd_strb_add(b, "-0", 2);
        else
            rd_strb_add(b, num, rd_num_format(v->u.n, num));
        break;
    case RD_VSTRING: go_string(b, v->u.s, v->len); break;
    case RD_VARRAY:
        rd_strb_add(b, "[", 1);
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                rd_strb_add(b, ",", 1);
            go_encode(b, &v->u.items[i]);
        }
        rd_strb_add(b, "]", 1);
        break;
    case RD_VOBJECT: {
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        const rd_member **order = rd_arena_alloc(b->a, (v->len ? v->len : 1) * sizeof(*order));
        if (!order) {
            b->oom = 1;
            return;
        }
        for (uint32_t i = 0; i < v->len; i++)
            order[i] = &v->u.members[i];
        qsort(order, v->len, sizeof(*order), member_cmp); // NOLINT(bugprone-sizeof-expression)
        rd_strb_add(b, "{", 1);
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                rd_strb_add(b, ",", 1);
            go_string(b, order[i]->key, order[i]->key_len);
            rd_strb_add(b, ":", 1);
            go_encode(b, &order[i]->val);
        }
        rd_strb_add(b, "}", 1);
        break;
    }
    }
}

static bool plain_string(const rd_value *v) { return plain_chars(v->u.s, v->len); }

/* The variant named by a targeting result, or NULL. */
static const rd_member *result_variant(const flag *f, const rd_value *r, rd_arena *scratch, bool *oom)
{
    /* When every variant name is plain, a string result can only name one by being equal to
     * it (Go's encoding of any other string keeps a backslash): skip the scan of the result. */
    if (r->type == RD_VSTRING && (f->plain_names || plain_string(r)))
        return find_variant(f, r->u.s, r->len);
    if (r->type == RD_VBOOL)
        return find_variant(f, r->u.b ? "true" : "false", r->u.b ? 4 : 5);
    rd_strb b;
    rd_strb_init(&b, scratch);
    go_encode(&b, r);
    if (b.oom) {
        *oom = true;
        return NULL;
    }
    return find_variant(f, b.p ? b.p : "", b.len);
}

static bool type_matches(rd_flag_type t, const rd_value *v)
{
    switch (t) {
    case RD_FLAG_ANY: return true;
    case RD_FLAG_BOOLEAN: return v->type == RD_VBOOL;
    case RD_FLAG_STRING: return v->type == RD_VSTRING;
    case RD_FLAG_INTEGER:
        return v->type == RD_VNUMBER && fabs(v->u.n) <= RD_MAX_SAFE_INTEGER &&
               (double)(int64_t)v->u.n == v->u.n;
    case RD_FLAG_FLOAT: return v->type == RD_VNUMBER;
    case RD_FLAG_OBJECT: return v->type == RD_VOBJECT;
    }
    return false;
}

static void eval_targeting(const flag *f, const rd_value *ctx, int64_t ts, rd_arena *scratch,
                           rd_resolution *out)
{
    rd_logic_env env = {.flagd = true, .flag_key = f->key, .flag_key_len = f->key_len, .timestamp = ts};
    rd_value r;
    rd_err err;
    int rc = rd_logic_eval(f->targeting, ctx, &env, scratch, &r, &err);
    if (rc != RD_OK) {
        char *msg = rd_arena_strndup(scratch, err.msg, strlen(err.msg));
        set_error(out, rc == RD_ENOMEM ? RD_FLAG_GENERAL : RD_FLAG_PARSE_ERROR,
                  msg ? msg : "targeting evaluation failed");
        return;
    }
    if (r.type == RD_VNUMBER && !isfinite(r.u.n)) {
        set_error(out, RD_FLAG_PARSE_ERROR, "targeting returned a number JSON cannot hold");
        return;
    }
    if (r.type == RD_VNULL) {
        if (f->default_variant)
            set_variant(out, f->default_variant, RD_REASON_DEFAULT);
        else
            out->reason = RD_REASON_DEFAULT;
        return;
    }
    bool oom = false;
    const rd_member *v = result_variant(f, &r, scratch, &oom);
    if (v)
        set_variant(out, v, RD_REASON_TARGETING_MATCH);
    else
        set_error(out, RD_FLAG_GENERAL,
                  oom ? "evaluation scratch space exhausted"
                      : "targeting returned a value that names no variant");
}

void rd_flag_eval(const rd_flagset *fs, const char *key, size_t key_len, rd_flag_type type,
                  const rd_value *ctx, int64_t timestamp, rd_arena *scratch, rd_resolution *out)
{
    static const rd_value no_ctx = {.type = RD_VOBJECT, .len = 0};
    memset(out, 0, sizeof(*out));
    out->metadata = &fs->metadata;
    const flag *f = flag_find(fs, key, key_len);
    if (!f) {
        set_error(out, RD_FLAG_NOT_FOUND, "flag not found");
        return;
    }
    out->metadata = &f->metadata;
    if (f->disabled) {
        out->reason = RD_REASON_DISABLED;
        return;
    }
    if (f->broken) {
        set_error(out, RD_FLAG_PARSE_ERROR, f->broken);
        return;
    }
    if (f->targeting) {
        eval_targeting(f, ctx ? ctx : &no_ctx, timestamp ? timestamp : (int64_t)time(NULL), scratch, out);
    } else if (f->default_variant) {
        set_variant(out, f->default_variant, RD_REASON_STATIC);
    } else {
        out->reason = RD_REASON_DEFAULT;
    }
    if (out->has_value && !type_matches(type, &out->value)) {
        set_error(out, RD_FLAG_TYPE_MISMATCH, "the flag's value is not of the requested type");
    }
}

/* ---------------------------------------------------------------- strict checks */

/* What targeting can return, judged before it ever runs (strict mode only, flagd accepts
 * all of this): every literal in a result position must name a variant, and every
 * `fractional` must split traffic the way its author meant. Without these a typo in a
 * bucket's variant name passes validation and fails half the evaluations later. */

#define CHECK_MAX_DEPTH 64

/* "a", "b", "c" for a message, cut short past ~120 bytes. */
static void variant_list(const flag *f, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < f->nvariants && n + 4 < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s\"%.40s\"", i ? ", " : "", f->variants[i].key);
        if (w < 0 || (size_t)w >= cap - n || n > 120) {
            snprintf(buf + n, cap - n, ", ...");
            return;
        }
        n += (size_t)w;
    }
}

static void literal_text(const rd_value *v, char *buf, size_t cap)
{
    char num[RD_NUM_BUF];
    switch (v->type) {
    case RD_VSTRING: snprintf(buf, cap, "\"%.60s\"", v->u.s); break;
    case RD_VBOOL: snprintf(buf, cap, "%s", v->u.b ? "true" : "false"); break;
    case RD_VNUMBER: snprintf(buf, cap, "%.*s", (int)rd_num_format(v->u.n, num), num); break;
    default: snprintf(buf, cap, "a %s", rd_vtype_name(v->type)); break;
    }
}

/* A literal that targeting returns as is: null (the default variant) or a variant's name. */
static int names_variant(struct parse *p, const flag *f, const rd_value *lit, const char *where)
{
    if (lit->type != RD_VSTRING && lit->type != RD_VBOOL && lit->type != RD_VNUMBER)
        return RD_OK;
    bool oom = false;
    if (result_variant(f, lit, &p->fs->arena, &oom))
        return RD_OK;
    if (oom)
        return rd_err_set(p->err, RD_ENOMEM, "out of memory");
    char what[80], names[160];
    literal_text(lit, what, sizeof what);
    variant_list(f, names, sizeof names);
    return bad(p, f->key, "targeting: %s returns %s, which is not a variant (the variants are %s)", where,
               what, names);
}

static bool is_op(const rd_value *v, const char *op)
{
    return v->type == RD_VOBJECT && v->len == 1 && is_key(&v->u.members[0], op);
}

/* The operators whose result is a boolean: at a result position they name the variants
 * "true" and "false". */
static bool boolean_op(const rd_member *m)
{
    static const char *const ops[] = {"==", "===", "!=", "!==", "<",           "<=",        ">",
                                      ">=", "!",   "!!", "in",  "starts_with", "ends_with", "sem_ver"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (is_key(m, ops[i]))
            return true;
    return false;
}

/* Walk the result positions of v: what `if` branches, `fractional` buckets, `or`/`and`
 * operands and `var` defaults can hand back. Anything computed (cat, substr, var) can only be
 * judged when it runs. */
static int check_results(struct parse *p, const flag *f, const rd_value *v, const char *where, int depth)
{
    if (depth > CHECK_MAX_DEPTH || v->type == RD_VARRAY)
        return RD_OK;
    if (v->type != RD_VOBJECT)
        return names_variant(p, f, v, where);
    if (v->len != 1)
        return RD_OK;
    const rd_member *m = &v->u.members[0];
    const rd_value *args = m->val.type == RD_VARRAY ? m->val.u.items : &m->val;
    uint32_t n = m->val.type == RD_VARRAY ? m->val.len : 1;
    char w[96];
    int rc = RD_OK;
    if (is_key(m, "if") || is_key(m, "?:")) {
        for (uint32_t i = 0; i + 1 < n && rc == RD_OK; i += 2) {
            snprintf(w, sizeof w, "the branch at %s[%u]", m->key, i + 1);
            rc = check_results(p, f, &args[i + 1], w, depth + 1);
        }
        if (rc == RD_OK && n % 2 == 1) {
            snprintf(w, sizeof w, "the %s at %s[%u]", n == 1 ? "value" : "else branch", m->key, n - 1);
            rc = check_results(p, f, &args[n - 1], w, depth + 1);
        }
    } else if (is_key(m, "fractional")) {
        for (uint32_t i = 0, k = 0; i < n && rc == RD_OK; i++) {
            if (args[i].type != RD_VARRAY || args[i].len == 0)
                continue;
            snprintf(w, sizeof w, "fractional bucket %u", ++k);
            rc = check_results(p, f, &args[i].u.items[0], w, depth + 1);
        }
    } else if (is_key(m, "or") || is_key(m, "and")) {
        for (uint32_t i = 0; i < n && rc == RD_OK; i++) {
            if (args[i].type == RD_VBOOL || args[i].type == RD_VNULL)
                continue; /* a literal truth value there is a condition's operand */
            snprintf(w, sizeof w, "the operand %s[%u]", m->key, i);
            rc = check_results(p, f, &args[i], w, depth + 1);
        }
    } else if (is_key(m, "var") && m->val.type == RD_VARRAY && n >= 2) {
        rc = names_variant(p, f, &args[1], "the default of var");
    } else if (boolean_op(m)) {
        static const rd_value t = {.type = RD_VBOOL, .u.b = true}, fa = {.type = RD_VBOOL, .u.b = false};
        snprintf(w, sizeof w, "the comparison %s", m->key);
        if ((rc = names_variant(p, f, &t, w)) == RD_OK)
            rc = names_variant(p, f, &fa, w);
    }
    return rc;
}

/* One fractional split, as written: buckets [variant, weight] with integer weights >= 0 that
 * add up to more than 0, and no constant bucketing key (it would put everyone in one bucket). */
static int check_fractional(struct parse *p, const flag *f, const rd_value *a)
{
    if (a->type != RD_VARRAY)
        return bad(p, f->key, "targeting: fractional takes an array of buckets, not %s",
                   rd_vtype_name(a->type));
    uint32_t i = 0;
    if (a->len && a->u.items[0].type != RD_VARRAY) {
        rd_vtype t = a->u.items[0].type;
        if (t == RD_VSTRING || t == RD_VNUMBER || t == RD_VBOOL)
            return bad(p, f->key,
                       "targeting: fractional's bucketing key is a constant, so every request "
                       "lands in the same bucket (use {\"var\": ...}, or leave it out to bucket by "
                       "targetingKey)");
        i = 1;
    }
    if (i == a->len)
        return bad(p, f->key, "targeting: fractional has no bucket (write [\"variant\", weight], ...)");
    double total = 0;
    bool computed = false;
    for (uint32_t k = 1; i < a->len; i++, k++) {
        const rd_value *b = &a->u.items[i];
        if (b->type != RD_VARRAY || b->len < 1 || b->len > 2)
            return bad(p, f->key, "targeting: fractional bucket %u must be [\"variant\", weight], not %s", k,
                       b->type == RD_VARRAY ? "an array of that length" : rd_vtype_name(b->type));
        if (b->len == 1) {
            total += 1;
            continue;
        }
        const rd_value *w = &b->u.items[1];
        if (w->type == RD_VOBJECT) { /* computed when it runs (flagd's nested weights) */
            computed = true;
            continue;
        }
        if (w->type != RD_VNUMBER)
            return bad(p, f->key,
                       "targeting: fractional bucket %u: the weight must be a number (or a rule that "
                       "computes one), not %s%s",
                       k, rd_vtype_name(w->type),
                       w->type == RD_VSTRING ? " (flagd sends every request to one bucket then)" : "");
        if (!(w->u.n >= 0 && w->u.n <= 2147483647.0) || w->u.n != floor(w->u.n))
            return bad(p, f->key,
                       "targeting: fractional bucket %u: the weight must be an integer from 0 to "
                       "2147483647, not %g",
                       k, w->u.n);
        total += w->u.n;
    }
    if (total == 0 && !computed)
        return bad(p, f->key, "targeting: fractional's weights are all 0: no request can be placed");
    if (total > 2147483647.0)
        return bad(p, f->key, "targeting: fractional's weights add up to more than 2147483647");
    return RD_OK;
}

/* Every fractional in the rule, wherever it sits. */
static int check_splits(struct parse *p, const flag *f, const rd_value *v, int depth)
{
    if (depth > CHECK_MAX_DEPTH)
        return RD_OK;
    int rc = RD_OK;
    if (is_op(v, "fractional") && (rc = check_fractional(p, f, &v->u.members[0].val)) != RD_OK)
        return rc;
    if (v->type == RD_VARRAY)
        for (uint32_t i = 0; i < v->len && rc == RD_OK; i++)
            rc = check_splits(p, f, &v->u.items[i], depth + 1);
    else if (v->type == RD_VOBJECT)
        for (uint32_t i = 0; i < v->len && rc == RD_OK; i++)
            rc = check_splits(p, f, &v->u.members[i].val, depth + 1);
    return rc;
}

static int check_targeting(struct parse *p, const flag *f, const rd_value *rule)
{
    int rc = check_splits(p, f, rule, 0);
    return rc != RD_OK ? rc : check_results(p, f, rule, "the rule", 0);
}
