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
static void assign_fn(rd__lnode *n);

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

/* A var whose path is a literal string ({"var":"a.b"} or {"var":["a.b", default]}) becomes
 * RD__OP_VARPATH with its segments split once (empty ones dropped, as Go's getVar skips
 * them), so evaluation only walks the context. */
static int compile_varpath(struct comp *cp, rd__lnode *n)
{
    if (n->n == 0 || n->kids[0].op != RD__OP_LIT || n->kids[0].lit.type != RD_VSTRING ||
        n->kids[0].lit.len == 0)
        return RD_OK;
    if (n->spread ? n->n != 1 : n->n > 2)
        return RD_OK;
    const rd_value *path = &n->kids[0].lit;
    uint32_t nseg = 0;
    for (uint32_t i = 0; i <= path->len; i++)
        if ((i == path->len || path->u.s[i] == '.') && i > 0 && path->u.s[i - 1] != '.')
            nseg++;
    rd_value *segs = rd_arena_alloc(&cp->l->arena, (nseg ? nseg : 1) * sizeof(*segs));
    rd__lnode *def = rd_arena_alloc(&cp->l->arena, sizeof(*def));
    _Atomic uint32_t *hints = rd_arena_alloc(&cp->l->arena, (nseg ? nseg : 1) * sizeof(*hints));
    if (!segs || !def || !hints)
        return rd_err_set(cp->err, RD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < (nseg ? nseg : 1); i++)
        atomic_init(&hints[i], 0);
    uint32_t k = 0, start = 0;
    for (uint32_t i = 0; i <= path->len; i++) {
        if (i == path->len || path->u.s[i] == '.') {
            if (i > start)
                segs[k++] = rd_value_string(path->u.s + start, i - start); /* not NUL-ended: use len */
            start = i + 1;
        }
    }
    if (n->n == 2 && !n->spread)
        *def = n->kids[1];
    else
        *def = (rd__lnode){.op = RD__OP_LIT, .lit = {.type = RD_VNULL}};
    n->op = RD__OP_VARPATH;
    n->hints = hints;
    n->lit = (rd_value){.type = RD_VARRAY, .len = nseg, .u.items = segs};
    n->kids = def;
    n->n = 1;
    return RD_OK;
}

static int compile_node(struct comp *cp, const rd_value *v, int depth, rd__lnode *out)
{
    if (depth > cp->max_depth)
        return rd_err_set(cp->err, RD_ELIMIT, "%s: rule nested deeper than %d", cp->path, cp->max_depth);
    if (++cp->nodes > cp->max_nodes)
        return rd_err_set(cp->err, RD_ELIMIT, "rule has more than %zu nodes", cp->max_nodes);
    memset(out, 0, sizeof(*out));
    bool all_lit = false;
    if (v->type == RD_VARRAY) {
        int rc = compile_kids(cp, v->u.items, v->len, depth, out, &all_lit);
        if (rc != RD_OK)
            return rc;
        if (all_lit)
            return compile_literal(cp, v, out);
        out->op = RD__OP_ARRAY;
        assign_fn(out);
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
    out->spread = m->val.type != RD_VARRAY;
    out->op = (uint8_t)op;
    if (rc == RD_OK && op == RD__OP_VAR)
        rc = compile_varpath(cp, out);
    assign_fn(out);
    cp->path_len = mark;
    cp->path[mark] = '\0';
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

rd_value *rd__scratch_items(rd__ev *c, size_t n)
{
    rd_value *items = rd_arena_alloc(c->scratch, (n ? n : 1) * sizeof(rd_value));
    if (!items)
        rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    return items;
}

/* ---------------------------------------------------------------- dispatch */

int rd__logic_ev_args(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value **out)
{
    rd_value *a = rd__scratch_items(c, n->n);
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

/* if / ?: / or / and: lazy, over an argument array. */
static int op_lazy(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value v = RD_NULL_VALUE;
    int rc;
    if (n->spread)
        return rd__logic_fail(c, "if/and/or", "the arguments must be an array");
    if (n->op == RD__OP_IF || n->op == RD__OP_TERNARY) {
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
    for (uint32_t i = 0; i < n->n; i++) { /* the first deciding value, else the last */
        if ((rc = rd__logic_ev(c, &n->kids[i], data, &v)) != RD_OK)
            return rc;
        if (rd__logic_truthy(&v) == (n->op == RD__OP_OR))
            break;
    }
    *out = v;
    return RD_OK;
}

static int op_eager(rd__ev *c, const rd__lnode *n, const rd_value *a, uint32_t na, const rd_value *data,
                    rd_value *out)
{
    switch (n->op) {
    case RD__OP_MISSING: return rd__op_missing(c, a, na, data, out);
    case RD__OP_MISSING_SOME: return rd__op_missing_some(c, a, na, data, out);
    case RD__OP_NOT:
    case RD__OP_NOTNOT: {
        bool t = na > 0 && rd__logic_truthy(&a[0]);
        *out = rd_value_bool(n->op == RD__OP_NOT ? !t : t);
        return RD_OK;
    }
    case RD__OP_EQ:
    case RD__OP_NE:
    case RD__OP_SEQ:
    case RD__OP_SNE:
    case RD__OP_GT:
    case RD__OP_GE:
    case RD__OP_LT:
    case RD__OP_LE: return rd__op_compare(n->op, a, na, out);
    case RD__OP_CAT: return rd__op_cat(c, a, na, out);
    case RD__OP_SUBSTR: return rd__op_substr(c, a, na, out);
    case RD__OP_IN: return rd__op_in(c, a, na, out);
    case RD__OP_MERGE: return rd__op_merge(c, a, na, out);
    case RD__OP_FRACTIONAL: return rd__flagd_fractional(c, a, na, out);
    case RD__OP_SEM_VER: return rd__flagd_sem_ver(c, a, na, out);
    case RD__OP_STARTS_WITH:
    case RD__OP_ENDS_WITH: return rd__flagd_str_affix(c, a, na, n->op == RD__OP_STARTS_WITH, out);
    case RD__OP_ARRAY: *out = (rd_value){.type = RD_VARRAY, .len = na, .u.items = a}; return RD_OK;
    default: return rd__op_arith(c, n->op, a, na, out);
    }
}

static int ev_eager(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    /* Arguments live on the stack unless they become the result (an array literal). */
    rd_value stack_args[8], *a = stack_args;
    int rc = RD_OK;
    if (n->n > 8 || n->op == RD__OP_ARRAY)
        rc = rd__logic_ev_args(c, n, data, &a);
    else
        for (uint32_t i = 0; i < n->n && rc == RD_OK; i++)
            rc = rd__logic_ev(c, &n->kids[i], data, &a[i]);
    if (rc != RD_OK)
        return rc;
    const rd_value *args = a;
    uint32_t na = n->n;
    if (n->op == RD__OP_VAR)
        return rd__op_var(c, args, na, !n->spread, data, out);
    if (n->spread && n->n == 1 && a[0].type == RD_VARRAY) {
        na = a[0].len;
        args = a[0].u.items;
    }
    return op_eager(c, n, args, na, data, out);
}

static int ev_iter(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    if (n->spread)
        return rd__logic_fail(c, op_names[n->op], "the arguments must be an array");
    return n->op == RD__OP_REDUCE ? rd__op_reduce(c, n, data, out) : rd__op_iter(c, n, data, out);
}

/* Two-argument comparison of a context value with a literal: {"<":[{"var":"x"},30]}. */
static int ev_compare2(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value a[2];
    int rc = rd__logic_ev(c, &n->kids[0], data, &a[0]);
    if (rc == RD_OK)
        rc = rd__logic_ev(c, &n->kids[1], data, &a[1]);
    return rc == RD_OK ? rd__op_compare(n->op, a, 2, out) : rc;
}

/* {"in":[<expr>, ["a","b",...]]}: membership in a literal list of strings, the usual shape
 * of a whitelist. Same result as the general `in` (a string needle matches equal strings
 * only), without building an argument list. */
static int ev_in_strings(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value needle;
    int rc = rd__logic_ev(c, &n->kids[0], data, &needle);
    if (rc != RD_OK)
        return rc;
    const rd_value *list = &n->kids[1].lit;
    if (needle.type != RD_VSTRING) {
        rd_value a[2] = {needle, *list};
        return rd__op_in(c, a, 2, out);
    }
    bool hit = false;
    for (uint32_t i = 0; i < list->len && !hit; i++)
        hit = list->u.items[i].len == needle.len && rd_mem_eq(list->u.items[i].u.s, needle.u.s, needle.len);
    *out = rd_value_bool(hit);
    return RD_OK;
}

static bool all_strings(const rd_value *v)
{
    if (v->type != RD_VARRAY)
        return false;
    for (uint32_t i = 0; i < v->len; i++)
        if (v->u.items[i].type != RD_VSTRING)
            return false;
    return true;
}

/* Pick each node's evaluator once the tree is built. */
static void assign_fn(rd__lnode *n)
{
    switch (n->op) {
    case RD__OP_LIT: n->fn = NULL; break;
    case RD__OP_VARPATH: n->fn = rd__op_varpath; break;
    case RD__OP_IF:
    case RD__OP_TERNARY:
    case RD__OP_OR:
    case RD__OP_AND: n->fn = op_lazy; break;
    case RD__OP_MAP:
    case RD__OP_FILTER:
    case RD__OP_ALL:
    case RD__OP_NONE:
    case RD__OP_SOME:
    case RD__OP_REDUCE: n->fn = ev_iter; break;
    case RD__OP_EQ:
    case RD__OP_NE:
    case RD__OP_SEQ:
    case RD__OP_SNE:
    case RD__OP_LT:
    case RD__OP_LE:
    case RD__OP_GT:
    case RD__OP_GE: n->fn = n->n == 2 && !n->spread ? ev_compare2 : ev_eager; break;
    case RD__OP_IN:
        n->fn = n->n == 2 && !n->spread && n->kids[1].op == RD__OP_LIT && all_strings(&n->kids[1].lit)
                    ? ev_in_strings
                    : ev_eager;
        break;
    default: n->fn = ev_eager;
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

bool rd_logic_truthy(const rd_value *v) { return rd__logic_truthy(v); }
