/* JSONLogic: the compiler and the evaluator of the standard operators.
 *
 * Invariants: a compiled tree is immutable; its depth is at most opts.max_depth, which
 * bounds the evaluator's recursion; literal sub-trees are folded into single LIT nodes at
 * compile time, so evaluating a constant costs nothing; every value the evaluator makes
 * (strings from cat, arrays from merge or map) lives in the caller's scratch arena. */
#include "logic_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_NODES 100000u

static const char *const op_names[] = {
#define RD__OP_NAME(name, text) text,
    RD__LOGIC_OPS(RD__OP_NAME)
#undef RD__OP_NAME
};

/* ---------------------------------------------------------------- compile */

struct comp {
    rd_logic *l;
    int max_depth;
    size_t max_nodes;
    size_t nodes;
    char path[200]; /* JSON path of the node being compiled, for messages */
    size_t path_len;
    rd_err *err;
};

static int op_lookup(const char *name, uint32_t len)
{
    for (int i = RD__OP_VAR; i < RD__OP_COUNT; i++)
        if (strlen(op_names[i]) == len && memcmp(op_names[i], name, len) == 0)
            return i;
    return -1;
}

/* Append ".key" (key non-NULL) or "[idx]" to the path; returns the old length to restore. */
static size_t path_push(struct comp *cp, const char *key, size_t idx)
{
    size_t old = cp->path_len;
    if (cp->path_len < sizeof(cp->path) - 1) {
        int n = key ? snprintf(cp->path + old, sizeof(cp->path) - old, ".%s", key)
                    : snprintf(cp->path + old, sizeof(cp->path) - old, "[%zu]", idx);
        cp->path_len = n > 0 ? old + (size_t)n : old;
        if (cp->path_len >= sizeof(cp->path))
            cp->path_len = sizeof(cp->path) - 1;
    }
    return old;
}

static int compile_node(struct comp *cp, const rd_value *v, int depth, rd__lnode *out);

static int compile_kids(struct comp *cp, const rd_value *items, uint32_t n, int depth, rd__lnode *out,
                        bool *all_lit)
{
    rd__lnode *kids = n ? rd_arena_alloc(&cp->l->arena, n * sizeof(*kids)) : NULL;
    if (n && !kids)
        return rd_err_set(cp->err, RD_ENOMEM, "out of memory");
    *all_lit = true;
    for (uint32_t i = 0; i < n; i++) {
        size_t mark = path_push(cp, NULL, i);
        int rc = compile_node(cp, &items[i], depth + 1, &kids[i]);
        cp->path_len = mark;
        cp->path[mark] = '\0';
        if (rc != RD_OK)
            return rc;
        if (kids[i].op != RD__OP_LIT)
            *all_lit = false;
    }
    out->n = n;
    out->kids = kids;
    return RD_OK;
}

static int compile_literal(struct comp *cp, const rd_value *v, rd__lnode *out)
{
    out->op = RD__OP_LIT;
    out->n = 0;
    out->kids = NULL;
    if (rd_value_copy(&cp->l->arena, v, &out->lit) != RD_OK)
        return rd_err_set(cp->err, RD_ENOMEM, "out of memory");
    return RD_OK;
}

static int compile_node(struct comp *cp, const rd_value *v, int depth, rd__lnode *out)
{
    if (depth > cp->max_depth)
        return rd_err_set(cp->err, RD_ELIMIT, "%s: rule nested deeper than %d", cp->path, cp->max_depth);
    if (++cp->nodes > cp->max_nodes)
        return rd_err_set(cp->err, RD_ELIMIT, "rule has more than %zu nodes", cp->max_nodes);
    memset(out, 0, sizeof(*out));
    bool all_lit;
    if (v->type == RD_VARRAY) {
        int rc = compile_kids(cp, v->u.items, v->len, depth, out, &all_lit);
        if (rc != RD_OK)
            return rc;
        if (all_lit)
            return compile_literal(cp, v, out);
        out->op = RD__OP_ARRAY;
        return RD_OK;
    }
    if (v->type != RD_VOBJECT || v->len != 1)
        return compile_literal(cp, v, out);

    const rd_member *m = &v->u.members[0];
    int op = op_lookup(m->key, m->key_len);
    if (op < 0)
        return rd_err_set(cp->err, RD_EPARSE, "%s: unknown operator \"%s\"", cp->path, m->key);
    size_t mark = path_push(cp, m->key, 0);
    int rc = m->val.type == RD_VARRAY ? compile_kids(cp, m->val.u.items, m->val.len, depth, out, &all_lit)
                                      : compile_kids(cp, &m->val, 1, depth, out, &all_lit);
    cp->path_len = mark;
    cp->path[mark] = '\0';
    out->op = (uint8_t)op;
    return rc;
}

int rd_logic_compile(const rd_value *rule, const rd_logic_opts *opts, rd_logic **out, rd_err *err)
{
    rd_logic *l = rd_calloc(1, sizeof(*l));
    if (!l)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_arena_init(&l->arena, 0);
    l->fractional_version = opts && opts->fractional_version ? opts->fractional_version : 2;
    if (l->fractional_version != 2 && l->fractional_version != 3) {
        rd_logic_free(l);
        return rd_err_set(err, RD_EINVAL, "fractional version must be 2 or 3");
    }
    struct comp cp = {
        .path = "$",
        .path_len = 1,
        .l = l,
        .max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH,
        .max_nodes = opts && opts->max_nodes ? opts->max_nodes : DEFAULT_MAX_NODES,
        .err = err,
    };
    rd__lnode *root = rd_arena_alloc(&l->arena, sizeof(*root));
    int rc = root ? compile_node(&cp, rule, 1, root) : rd_err_set(err, RD_ENOMEM, "out of memory");
    if (rc != RD_OK) {
        rd_logic_free(l);
        return rc;
    }
    l->root = root;
    *out = l;
    return RD_OK;
}

void rd_logic_free(rd_logic *l)
{
    if (!l)
        return;
    rd_arena_deinit(&l->arena);
    rd_free(l);
}

/* ---------------------------------------------------------------- scratch helpers */

int rd__sb_value(rd_strb *b, rd__ev *c, rd_value *out)
{
    if (!b->p)
        rd_strb_add(b, "", 0);
    if (b->oom)
        return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    *out = rd_value_string(b->p, (uint32_t)b->len);
    return RD_OK;
}

static rd_value *scratch_items(rd__ev *c, size_t n)
{
    rd_value *items = rd_arena_alloc(c->scratch, (n ? n : 1) * sizeof(rd_value));
    if (!items)
        rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    return items;
}

/* The engine cannot go on with these inputs (Go's engine would panic or error). */
static int fail(rd__ev *c, const char *op, const char *why)
{
    return rd_err_set(c->err, RD_EPARSE, "%s: %s", op, why);
}

/* ---------------------------------------------------------------- coercions */

bool rd__logic_truthy(const rd_value *v)
{
    switch (v->type) {
    case RD_VNULL: return false;
    case RD_VBOOL: return v->u.b;
    case RD_VNUMBER: return v->u.n != 0 && !isnan(v->u.n);
    case RD_VSTRING:
    case RD_VARRAY:
    case RD_VOBJECT: /* an empty object is falsy, as in Go's engine */ return v->len > 0;
    }
    return false;
}

/* JavaScript's ToNumber on a string: surrounding white space ignored, "" is 0, otherwise
 * the whole text must be a decimal literal (or Infinity). */
static double str_to_number(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                 s[n - 1] == '\f' || s[n - 1] == '\v'))
        n--;
    if (n == 0)
        return 0;
    char tmp[64];
    if (n >= sizeof(tmp))
        return NAN;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++) /* strtod also takes hex, nan and inf spellings JS does not */
        if (!strchr("0123456789+-.eE", tmp[i]))
            return strcmp(tmp, "Infinity") == 0 || strcmp(tmp, "+Infinity") == 0 ? (double)INFINITY
                   : strcmp(tmp, "-Infinity") == 0                               ? -(double)INFINITY
                                                                                 : (double)NAN;
    char *end;
    double d = strtod(tmp, &end);
    return *end ? (double)NAN : d;
}

static double to_number(const rd_value *v)
{
    switch (v->type) {
    case RD_VNULL: return 0;
    case RD_VBOOL: return v->u.b ? 1 : 0;
    case RD_VNUMBER: return v->u.n;
    case RD_VSTRING: return str_to_number(v->u.s, v->len);
    case RD_VARRAY:
        if (v->len == 0)
            return 0;
        if (v->len == 1 && v->u.items[0].type != RD_VARRAY && v->u.items[0].type != RD_VOBJECT)
            return v->u.items[0].type == RD_VNULL ? 0 : to_number(&v->u.items[0]);
        return NAN;
    case RD_VOBJECT: return NAN;
    }
    return NAN;
}

/* JavaScript's parseFloat: the longest decimal prefix after leading white space. */
static double parse_float(rd__ev *c, const rd_value *v)
{
    (void)c;
    if (v->type == RD_VNUMBER)
        return v->u.n;
    if (v->type != RD_VSTRING)
        return v->type == RD_VARRAY && v->len ? parse_float(c, &v->u.items[0]) : (double)NAN;
    const char *s = v->u.s;
    size_t n = v->len;
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
        n--;
    }
    char tmp[64];
    size_t k = 0;
    while (k < n && k < sizeof(tmp) - 1 && strchr("0123456789+-.eE", s[k]))
        k++;
    memcpy(tmp, s, k);
    tmp[k] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    return end == tmp ? (double)NAN : d;
}

/* JavaScript's ToString, appended to b. Numbers in JavaScript's format. */
static void to_string(rd_strb *b, const rd_value *v)
{
    char num[RD_NUM_BUF];
    switch (v->type) {
    case RD_VNULL: rd_strb_add(b, "null", 4); break;
    case RD_VBOOL: rd_strb_add(b, v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
    case RD_VNUMBER: rd_strb_add(b, num, rd_num_format(v->u.n, num)); break;
    case RD_VSTRING: rd_strb_add(b, v->u.s, v->len); break;
    case RD_VARRAY:
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                rd_strb_add(b, ",", 1);
            if (v->u.items[i].type != RD_VNULL)
                to_string(b, &v->u.items[i]);
        }
        break;
    case RD_VOBJECT: rd_strb_add(b, "[object Object]", 15); break;
    }
}

static int string_of(rd__ev *c, const rd_value *v, rd_value *out)
{
    if (v->type == RD_VSTRING) {
        *out = *v;
        return RD_OK;
    }
    rd_strb b;
    rd_strb_init(&b, c->scratch);
    to_string(&b, v);
    return rd__sb_value(&b, c, out);
}

/* ---------------------------------------------------------------- equality and order */

static bool strict_equal(const rd_value *a, const rd_value *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == RD_VARRAY || a->type == RD_VOBJECT)
        return a->u.items == b->u.items && a->len == b->len; /* identity, as in JavaScript */
    return rd_value_equal(a, b);
}

/* JavaScript's abstract equality (==) over JSON values. */
static bool loose_equal(rd__ev *c, const rd_value *a, const rd_value *b)
{
    if (a->type == b->type)
        return strict_equal(a, b);
    if (a->type == RD_VNULL || b->type == RD_VNULL)
        return false;
    if (a->type == RD_VBOOL || b->type == RD_VBOOL || a->type == RD_VNUMBER || b->type == RD_VNUMBER) {
        /* Objects and arrays become strings first, then everything becomes a number. */
        rd_value pa = *a, pb = *b;
        if (pa.type == RD_VARRAY || pa.type == RD_VOBJECT)
            string_of(c, a, &pa);
        if (pb.type == RD_VARRAY || pb.type == RD_VOBJECT)
            string_of(c, b, &pb);
        return to_number(&pa) == to_number(&pb);
    }
    /* string vs array/object, array vs object: compare as strings */
    rd_value sa, sb;
    if (string_of(c, a, &sa) != RD_OK || string_of(c, b, &sb) != RD_OK)
        return false;
    return sa.len == sb.len && memcmp(sa.u.s, sb.u.s, sa.len) == 0;
}

/* JavaScript's a < b (or a <= b when or_equal): strings compare by code points when both
 * are strings (after arrays and objects become strings), numbers otherwise. */
static bool less(rd__ev *c, const rd_value *a, const rd_value *b, bool or_equal)
{
    rd_value pa = *a, pb = *b;
    if (pa.type == RD_VARRAY || pa.type == RD_VOBJECT)
        string_of(c, a, &pa);
    if (pb.type == RD_VARRAY || pb.type == RD_VOBJECT)
        string_of(c, b, &pb);
    if (pa.type == RD_VSTRING && pb.type == RD_VSTRING) {
        size_t n = pa.len < pb.len ? pa.len : pb.len;
        int r = memcmp(pa.u.s, pb.u.s, n);
        if (r == 0)
            r = pa.len < pb.len ? -1 : pa.len > pb.len ? 1 : 0;
        return or_equal ? r <= 0 : r < 0;
    }
    double x = to_number(&pa), y = to_number(&pb);
    return or_equal ? x <= y : x < y;
}

/* ---------------------------------------------------------------- var and missing */

static bool seg_index(const char *s, size_t n, uint32_t *idx)
{
    if (n == 0 || n > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *idx = v;
    return true;
}

/* The context as the rule sees it at the top: the caller's object with `$flagd` added. */
static int enriched_root(rd__ev *c, const rd_value *data, rd_value *out)
{
    rd_member *fm = rd_arena_alloc(c->scratch, 2 * sizeof(*fm));
    uint32_t n = data->type == RD_VOBJECT ? data->len : 0;
    rd_member *m = rd_arena_alloc(c->scratch, (n + 1) * sizeof(*m));
    if (!fm || !m)
        return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    fm[0] = (rd_member){"flagKey", 7, rd_value_string(c->env->flag_key, c->env->flag_key_len)};
    fm[1] = (rd_member){"timestamp", 9, rd_value_number((double)c->env->timestamp)};
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!(data->u.members[i].key_len == 6 && memcmp(data->u.members[i].key, "$flagd", 6) == 0))
            m[k++] = data->u.members[i];
    m[k++] = (rd_member){"$flagd", 6, {.type = RD_VOBJECT, .len = 2, .u.members = fm}};
    *out = (rd_value){.type = RD_VOBJECT, .len = k, .u.members = m};
    return RD_OK;
}

/* Look the dotted path up in data. Returns false when some step is missing. */
static bool lookup(rd__ev *c, const rd_value *data, const char *p, size_t n, rd_value *out)
{
    bool at_root = data == c->root && c->env->flagd;
    const rd_value *cur = data;
    rd_value tmp;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '.')
            j++;
        const char *seg = p + i;
        size_t len = j - i;
        if (at_root && len == 6 && memcmp(seg, "$flagd", 6) == 0) {
            if (j == n) {
                if (enriched_root(c, data, &tmp) != RD_OK)
                    return false;
                *out = *rd_value_get(&tmp, "$flagd", 6);
                return true;
            }
            const char *rest = p + j + 1;
            size_t rlen = n - j - 1;
            if (rlen == 7 && memcmp(rest, "flagKey", 7) == 0) {
                *out = rd_value_string(c->env->flag_key, c->env->flag_key_len);
                return true;
            }
            if (rlen == 9 && memcmp(rest, "timestamp", 9) == 0) {
                *out = rd_value_number((double)c->env->timestamp);
                return true;
            }
            return false;
        }
        at_root = false;
        uint32_t idx;
        if (cur->type == RD_VOBJECT) {
            cur = rd_value_get(cur, seg, len);
        } else if (cur->type == RD_VARRAY && seg_index(seg, len, &idx)) {
            cur = idx < cur->len ? &cur->u.items[idx] : NULL;
        } else {
            cur = NULL;
        }
        if (!cur)
            return false;
        i = j + 1;
    }
    *out = *cur;
    return true;
}

/* Resolve a var path value (string, number, or null/"" for the whole scope). */
static int var_get(rd__ev *c, const rd_value *path, const rd_value *data, bool *found, rd_value *out)
{
    char num[RD_NUM_BUF];
    const char *p;
    size_t n;
    if (path->type == RD_VNULL || (path->type == RD_VSTRING && path->len == 0)) {
        *found = true;
        if (data == c->root && c->env->flagd)
            return enriched_root(c, data, out);
        *out = *data;
        return RD_OK;
    }
    if (path->type == RD_VSTRING) {
        p = path->u.s;
        n = path->len;
    } else if (path->type == RD_VNUMBER) {
        n = rd_num_format(path->u.n, num);
        p = num;
    } else {
        *found = false;
        return RD_OK;
    }
    *found = lookup(c, data, p, n, out);
    return RD_OK;
}

static int op_var(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value path = RD_NULL_VALUE, v;
    if (n->n > 0) {
        int rc = rd__logic_ev(c, &n->kids[0], data, &path);
        if (rc != RD_OK)
            return rc;
    }
    bool found;
    int rc = var_get(c, &path, data, &found, &v);
    if (rc != RD_OK)
        return rc;
    if (found) {
        *out = v;
        return RD_OK;
    }
    if (n->n > 1)
        return rd__logic_ev(c, &n->kids[1], data, out);
    *out = RD_NULL_VALUE;
    return RD_OK;
}

/* The keys (of keys[0..n)) whose value is missing, null or "". */
static int missing_keys(rd__ev *c, const rd_value *keys, uint32_t n, const rd_value *data, rd_value *out)
{
    rd_value *items = scratch_items(c, n);
    if (!items)
        return RD_ENOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool found;
        rd_value v;
        int rc = var_get(c, &keys[i], data, &found, &v);
        if (rc != RD_OK)
            return rc;
        if (!found || v.type == RD_VNULL || (v.type == RD_VSTRING && v.len == 0))
            items[k++] = keys[i];
    }
    *out = (rd_value){.type = RD_VARRAY, .len = k, .u.items = items};
    return RD_OK;
}

static int op_missing(rd__ev *c, const rd_value *a, uint32_t n, const rd_value *data, rd_value *out)
{
    if (n >= 1 && a[0].type == RD_VARRAY)
        return missing_keys(c, a[0].u.items, a[0].len, data, out);
    return missing_keys(c, a, n, data, out);
}

static int op_missing_some(rd__ev *c, const rd_value *a, uint32_t n, const rd_value *data, rd_value *out)
{
    if (n < 2 || a[1].type != RD_VARRAY)
        return fail(c, "missing_some", "expects [count, [keys]]");
    int rc = missing_keys(c, a[1].u.items, a[1].len, data, out);
    if (rc == RD_OK && (double)(a[1].len - out->len) >= to_number(&a[0]))
        *out = (rd_value){.type = RD_VARRAY, .len = 0, .u.items = NULL};
    return rc;
}

/* ---------------------------------------------------------------- arithmetic and strings */

static int op_arith(rd__ev *c, int op, const rd_value *a, uint32_t n, rd_value *out)
{
    double r;
    switch (op) {
    case RD__OP_ADD:
        r = 0;
        for (uint32_t i = 0; i < n; i++)
            r += parse_float(c, &a[i]);
        break;
    case RD__OP_MUL:
        if (n == 0)
            return fail(c, "*", "needs at least one argument");
        r = parse_float(c, &a[0]);
        for (uint32_t i = 1; i < n; i++)
            r *= parse_float(c, &a[i]);
        break;
    case RD__OP_SUB:
        if (n == 0)
            return fail(c, "-", "needs at least one argument");
        r = n == 1 ? -to_number(&a[0]) : to_number(&a[0]) - to_number(&a[1]);
        break;
    case RD__OP_DIV:
        if (n < 2)
            return fail(c, "/", "needs two arguments");
        r = to_number(&a[0]) / to_number(&a[1]);
        break;
    case RD__OP_MOD:
        if (n < 2)
            return fail(c, "%", "needs two arguments");
        r = fmod(to_number(&a[0]), to_number(&a[1]));
        break;
    default: { /* max, min */
        if (n == 0) {
            *out = RD_NULL_VALUE;
            return RD_OK;
        }
        r = to_number(&a[0]);
        for (uint32_t i = 1; i < n && !isnan(r); i++) {
            double x = to_number(&a[i]);
            if (isnan(x) || (op == RD__OP_MAX ? x > r : x < r))
                r = x;
        }
    }
    }
    *out = rd_value_number(r);
    return RD_OK;
}

static int op_cat(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    rd_strb b;
    rd_strb_init(&b, c->scratch);
    for (uint32_t i = 0; i < n; i++)
        to_string(&b, &a[i]);
    return rd__sb_value(&b, c, out);
}

/* JavaScript's String#substr over UTF-16 is approximated by code points. */
static size_t utf8_offset(const char *s, size_t len, long cp)
{
    size_t i = 0;
    while (i < len && cp > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        cp--;
    }
    return i;
}

static long utf8_count(const char *s, size_t len)
{
    long n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static int op_substr(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    if (n < 1)
        return fail(c, "substr", "needs a string");
    rd_value s;
    int rc = string_of(c, &a[0], &s);
    if (rc != RD_OK)
        return rc;
    long total = utf8_count(s.u.s, s.len);
    double st = n > 1 ? to_number(&a[1]) : 0;
    long start = isnan(st) ? 0 : (long)st;
    if (start < 0)
        start = total + start < 0 ? 0 : total + start;
    if (start > total)
        start = total;
    long count = total - start;
    if (n > 2) {
        double ln = to_number(&a[2]);
        long l = isnan(ln) ? 0 : (long)ln;
        count = l < 0 ? count + l : (l < count ? l : count);
        if (count < 0)
            count = 0;
    }
    size_t from = utf8_offset(s.u.s, s.len, start);
    size_t to = from + utf8_offset(s.u.s + from, s.len - from, count);
    *out = rd_value_string(s.u.s + from, (uint32_t)(to - from));
    if (to < s.len) { /* keep the NUL-termination promise of rd_value strings */
        char *p = rd_arena_strndup(c->scratch, s.u.s + from, to - from);
        if (!p)
            return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
        out->u.s = p;
    }
    return RD_OK;
}

static int op_in(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    bool r = false;
    if (n >= 2 && a[1].type == RD_VSTRING) {
        rd_value needle;
        int rc = string_of(c, &a[0], &needle);
        if (rc != RD_OK)
            return rc;
        r = memmem(a[1].u.s, a[1].len, needle.u.s, needle.len) != NULL || needle.len == 0;
    } else if (n >= 2 && a[1].type == RD_VARRAY) {
        for (uint32_t i = 0; i < a[1].len && !r; i++)
            r = strict_equal(&a[0], &a[1].u.items[i]);
    }
    *out = rd_value_bool(r);
    return RD_OK;
}

static int op_merge(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += a[i].type == RD_VARRAY ? a[i].len : 1;
    rd_value *items = scratch_items(c, total);
    if (!items)
        return RD_ENOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (a[i].type == RD_VARRAY) {
            for (uint32_t j = 0; j < a[i].len; j++)
                items[k++] = a[i].u.items[j];
        } else {
            items[k++] = a[i];
        }
    }
    *out = (rd_value){.type = RD_VARRAY, .len = (uint32_t)k, .u.items = items};
    return RD_OK;
}

/* ---------------------------------------------------------------- iteration */

static int op_iter(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value arr = RD_NULL_VALUE;
    if (n->n > 0) {
        int rc = rd__logic_ev(c, &n->kids[0], data, &arr);
        if (rc != RD_OK)
            return rc;
    }
    uint32_t len = arr.type == RD_VARRAY ? arr.len : 0;
    const rd__lnode *body = n->n > 1 ? &n->kids[1] : NULL;
    rd_value *items = NULL;
    if (n->op == RD__OP_MAP || n->op == RD__OP_FILTER) {
        if (!(items = scratch_items(c, len)))
            return RD_ENOMEM;
    }
    if (n->op == RD__OP_ALL && len == 0) {
        *out = rd_value_bool(false);
        return RD_OK;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < len; i++) {
        rd_value r = RD_NULL_VALUE;
        if (body) {
            int rc = rd__logic_ev(c, body, &arr.u.items[i], &r);
            if (rc != RD_OK)
                return rc;
        }
        bool t = rd__logic_truthy(&r);
        switch (n->op) {
        case RD__OP_MAP: items[k++] = r; break;
        case RD__OP_FILTER:
            if (t)
                items[k++] = arr.u.items[i];
            break;
        case RD__OP_ALL:
            if (!t) {
                *out = rd_value_bool(false);
                return RD_OK;
            }
            break;
        default: /* some, none */
            if (t) {
                *out = rd_value_bool(n->op == RD__OP_SOME);
                return RD_OK;
            }
        }
    }
    if (n->op == RD__OP_MAP || n->op == RD__OP_FILTER)
        *out = (rd_value){.type = RD_VARRAY, .len = k, .u.items = items};
    else
        *out = rd_value_bool(n->op != RD__OP_SOME);
    return RD_OK;
}

static int op_reduce(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value arr = RD_NULL_VALUE, acc = RD_NULL_VALUE;
    int rc = RD_OK;
    if (n->n > 0)
        rc = rd__logic_ev(c, &n->kids[0], data, &arr);
    if (rc == RD_OK && n->n > 2)
        rc = rd__logic_ev(c, &n->kids[2], data, &acc);
    if (rc != RD_OK)
        return rc;
    if (arr.type != RD_VARRAY || n->n < 2) {
        *out = acc;
        return RD_OK;
    }
    rd_member *scope = rd_arena_alloc(c->scratch, 2 * sizeof(*scope));
    if (!scope)
        return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    for (uint32_t i = 0; i < arr.len; i++) {
        scope[0] = (rd_member){"current", 7, arr.u.items[i]};
        scope[1] = (rd_member){"accumulator", 11, acc};
        rd_value sv = {.type = RD_VOBJECT, .len = 2, .u.members = scope};
        rc = rd__logic_ev(c, &n->kids[1], &sv, &acc);
        if (rc != RD_OK)
            return rc;
        /* The next iteration overwrites scope: keep the new accumulator's own storage. */
        if (i + 1 < arr.len && !(scope = rd_arena_alloc(c->scratch, 2 * sizeof(*scope))))
            return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    }
    *out = acc;
    return RD_OK;
}

/* ---------------------------------------------------------------- dispatch */

int rd__logic_ev_args(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value **out)
{
    rd_value *a = scratch_items(c, n->n);
    if (!a)
        return RD_ENOMEM;
    for (uint32_t i = 0; i < n->n; i++) {
        int rc = rd__logic_ev(c, &n->kids[i], data, &a[i]);
        if (rc != RD_OK)
            return rc;
    }
    *out = a;
    return RD_OK;
}

static int op_lazy(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value v = RD_NULL_VALUE;
    int rc;
    switch (n->op) {
    case RD__OP_IF:
    case RD__OP_TERNARY: {
        uint32_t i = 0;
        for (; i + 1 < n->n; i += 2) {
            if ((rc = rd__logic_ev(c, &n->kids[i], data, &v)) != RD_OK)
                return rc;
            if (rd__logic_truthy(&v))
                return rd__logic_ev(c, &n->kids[i + 1], data, out);
        }
        if (i < n->n)
            return rd__logic_ev(c, &n->kids[i], data, out);
        *out = RD_NULL_VALUE;
        return RD_OK;
    }
    default: /* or, and: the first deciding value, else the last */
        for (uint32_t i = 0; i < n->n; i++) {
            if ((rc = rd__logic_ev(c, &n->kids[i], data, &v)) != RD_OK)
                return rc;
            if (rd__logic_truthy(&v) == (n->op == RD__OP_OR))
                break;
        }
        *out = v;
        return RD_OK;
    }
}

static int op_eager(rd__ev *c, const rd__lnode *n, const rd_value *a, const rd_value *data, rd_value *out)
{
    static const rd_value none = {.type = RD_VNULL};
    const rd_value *x = n->n > 0 ? &a[0] : &none, *y = n->n > 1 ? &a[1] : &none;
    switch (n->op) {
    case RD__OP_MISSING: return op_missing(c, a, n->n, data, out);
    case RD__OP_MISSING_SOME: return op_missing_some(c, a, n->n, data, out);
    case RD__OP_NOT: *out = rd_value_bool(!rd__logic_truthy(x)); return RD_OK;
    case RD__OP_NOTNOT: *out = rd_value_bool(rd__logic_truthy(x)); return RD_OK;
    case RD__OP_EQ:
    case RD__OP_NE: *out = rd_value_bool(loose_equal(c, x, y) == (n->op == RD__OP_EQ)); return RD_OK;
    case RD__OP_SEQ:
    case RD__OP_SNE: *out = rd_value_bool(strict_equal(x, y) == (n->op == RD__OP_SEQ)); return RD_OK;
    case RD__OP_GT: *out = rd_value_bool(less(c, y, x, false)); return RD_OK;
    case RD__OP_GE: *out = rd_value_bool(less(c, y, x, true)); return RD_OK;
    case RD__OP_LT:
    case RD__OP_LE: {
        bool eq = n->op == RD__OP_LE;
        bool r = less(c, x, y, eq);
        if (n->n > 2)
            r = r && less(c, y, &a[2], eq);
        *out = rd_value_bool(r);
        return RD_OK;
    }
    case RD__OP_CAT: return op_cat(c, a, n->n, out);
    case RD__OP_SUBSTR: return op_substr(c, a, n->n, out);
    case RD__OP_IN: return op_in(c, a, n->n, out);
    case RD__OP_MERGE: return op_merge(c, a, n->n, out);
    case RD__OP_FRACTIONAL: return rd__flagd_fractional(c, a, n->n, out);
    case RD__OP_SEM_VER: return rd__flagd_sem_ver(c, a, n->n, out);
    case RD__OP_STARTS_WITH:
    case RD__OP_ENDS_WITH: return rd__flagd_str_affix(c, a, n->n, n->op == RD__OP_STARTS_WITH, out);
    case RD__OP_ARRAY: *out = (rd_value){.type = RD_VARRAY, .len = n->n, .u.items = a}; return RD_OK;
    default: return op_arith(c, n->op, a, n->n, out);
    }
}

int rd__logic_ev(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    switch (n->op) {
    case RD__OP_LIT: *out = n->lit; return RD_OK;
    case RD__OP_VAR: return op_var(c, n, data, out);
    case RD__OP_IF:
    case RD__OP_TERNARY:
    case RD__OP_OR:
    case RD__OP_AND: return op_lazy(c, n, data, out);
    case RD__OP_MAP:
    case RD__OP_FILTER:
    case RD__OP_ALL:
    case RD__OP_NONE:
    case RD__OP_SOME: return op_iter(c, n, data, out);
    case RD__OP_REDUCE: return op_reduce(c, n, data, out);
    default: {
        rd_value *a;
        int rc = rd__logic_ev_args(c, n, data, &a);
        return rc != RD_OK ? rc : op_eager(c, n, a, data, out);
    }
    }
}

int rd_logic_eval(const rd_logic *l, const rd_value *data, const rd_logic_env *env, rd_arena *scratch,
                  rd_value *out, rd_err *err)
{
    static const rd_logic_env no_env = {0};
    static const rd_value null_data = {.type = RD_VNULL};
    rd__ev c = {
        .logic = l,
        .root = data ? data : &null_data,
        .env = env ? env : &no_env,
        .scratch = scratch,
        .err = err,
    };
    return rd__logic_ev(&c, l->root, c.root, out);
}
