/* Internals shared by the JSONLogic compiler, evaluator and flagd's operators. */
#ifndef RISKD_LOGIC_INT_H
#define RISKD_LOGIC_INT_H

#include "riskd/logic.h"

#include <stdatomic.h>

// clang-format off
#define RD__LOGIC_OPS(X) \
    X(LIT, "") \
    X(ARRAY, "") \
    X(VARPATH, "") \
    X(VAR, "var") \
    X(MISSING, "missing") \
    X(MISSING_SOME, "missing_some") \
    X(IF, "if") \
    X(TERNARY, "?:") \
    X(OR, "or") \
    X(AND, "and") \
    X(NOT, "!") \
    X(NOTNOT, "!!") \
    X(EQ, "==") \
    X(SEQ, "===") \
    X(NE, "!=") \
    X(SNE, "!==") \
    X(GT, ">") \
    X(GE, ">=") \
    X(LT, "<") \
    X(LE, "<=") \
    X(ADD, "+") \
    X(SUB, "-") \
    X(MUL, "*") \
    X(DIV, "/") \
    X(MOD, "%") \
    X(MAX, "max") \
    X(MIN, "min") \
    X(CAT, "cat") \
    X(SUBSTR, "substr") \
    X(IN, "in") \
    X(MERGE, "merge") \
    X(MAP, "map") \
    X(FILTER, "filter") \
    X(REDUCE, "reduce") \
    X(ALL, "all") \
    X(NONE, "none") \
    X(SOME, "some") \
    X(FRACTIONAL, "fractional") \
    X(SEM_VER, "sem_ver") \
    X(STARTS_WITH, "starts_with") \
    X(ENDS_WITH, "ends_with")
// clang-format on

enum {
#define RD__OP_ENUM(name, text) RD__OP_##name,
    RD__LOGIC_OPS(RD__OP_ENUM)
#undef RD__OP_ENUM
        RD__OP_COUNT
};

struct rd__ev;
struct rd__lnode;
/* How a node evaluates itself, chosen at compile time (specialised for common shapes). */
typedef int (*rd__evfn)(struct rd__ev *c, const struct rd__lnode *n, const rd_value *data, rd_value *out);

typedef struct rd__lnode {
    rd__evfn fn; /* NULL for RD__OP_LIT, which rd__logic_ev handles inline */
    uint8_t op;
    bool spread;                  /* the operator's argument was one expression, not an array: when it
                                     evaluates to an array, that array is the argument list (as in Go) */
    uint32_t n;                   /* children */
    const struct rd__lnode *kids; /* n nodes */
    rd_value lit;                 /* RD__OP_LIT: the value; RD__OP_VARPATH: the path's non-empty segments as
                                     strings, then kids[0] is the default */
    _Atomic uint32_t *hints;      /* RD__OP_VARPATH: per segment, the member index where the key was
                                     last found (callers send keys in a stable order). A hint is only
                                     ever checked, so a stale or racing one costs a scan, not a
                                     wrong answer; relaxed atomics keep concurrent updates defined. */
} rd__lnode;

struct rd_logic {
    rd_arena arena; /* nodes and literals */
    const rd__lnode *root;
    int fractional_version;
};

/* One evaluation's state; lives on the caller's stack. */
typedef struct rd__ev {
    const rd_logic *logic;
    const rd_value *root;    /* the context at the top of the rule */
    const rd_logic_env *env; /* never NULL */
    rd_arena *scratch;
    rd_err *err;
} rd__ev;

/* Evaluate a node over data (the current scope). Literals cost no call. */
static inline int rd__logic_ev(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    if (n->op == RD__OP_LIT) {
        *out = n->lit;
        return RD_OK;
    }
    return n->fn(c, n, data, out);
}
/* Evaluate all n children into a new array in scratch. */
int rd__logic_ev_args(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value **out);

/* Go's truthiness: null false 0 -0 "" [] {} are false; NaN is true. */
static inline bool rd__logic_truthy(const rd_value *v)
{
    switch (v->type) {
    case RD_VNULL: return false;
    case RD_VBOOL: return v->u.b;
    case RD_VNUMBER: return v->u.n != 0;
    default: return v->len > 0;
    }
}
int rd__logic_fail(rd__ev *c, const char *op, const char *why);
rd_value *rd__scratch_items(rd__ev *c, size_t n);

/* The standard operators (ops.c), given evaluated arguments a[0..n) unless they take a node. */
/* A `var` whose path was a literal string, split at compile time (RD__OP_VARPATH). */
int rd__op_varpath(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out);
int rd__op_var(rd__ev *c, const rd_value *a, uint32_t n, bool listed, const rd_value *data, rd_value *out);
int rd__op_missing(rd__ev *c, const rd_value *a, uint32_t n, const rd_value *data, rd_value *out);
int rd__op_missing_some(rd__ev *c, const rd_value *a, uint32_t n, const rd_value *data, rd_value *out);
int rd__op_compare(int op, const rd_value *a, uint32_t n, rd_value *out);
int rd__op_arith(rd__ev *c, int op, const rd_value *a, uint32_t n, rd_value *out);
int rd__op_cat(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out);
int rd__op_substr(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out);
int rd__op_in(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out);
int rd__op_merge(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out);
int rd__op_iter(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out);
int rd__op_reduce(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out);

/* flagd's operators, given their already-evaluated arguments (n values at a). */
int rd__flagd_fractional(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out);
int rd__flagd_sem_ver(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out);
int rd__flagd_str_affix(rd__ev *c, const rd_value *a, uint32_t n, bool prefix, rd_value *out);

/* The built string as a value, or RD_ENOMEM when the builder ran out of scratch space. */
int rd__sb_value(rd_strb *b, rd__ev *c, rd_value *out);

/* The CBOR core deterministic encoding of v (fractional v3), appended to b. */
void rd__cbor_encode(rd_strb *b, const rd_value *v);

#endif
