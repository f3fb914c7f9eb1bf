/* The standard JSONLogic operators with the semantics of Go flagd's engine
 * (github.com/diegoholiveira/jsonlogic v3.9.1, the version flagd pins).
 *
 * Go's engine has three coercions, and which one an operator uses decides results:
 *   truthy   null false 0 -0 "" [] {} are false; NaN is true;
 *   tnum     (arithmetic, substr, in, missing_some) null/bool/array/object are an error,
 *            a string that is not a number is 0;
 *   jsnum    (== < and friends) null 0, bools 0/1, a blank string 0, a string that is not a
 *            number NaN, arrays and objects NaN;
 *   tstr     (cat, substr) null "", numbers in Go's 'f' format, bools/arrays/objects an error.
 * Where Go's engine panics, flagd reports PARSE_ERROR: here the operator returns RD_EPARSE.
 * Two of its behaviours are deliberately not copied (docs/formats.md): `if` re-applying a
 * branch's object value as a rule, and filter/some/none substituting the outer context's
 * variables before the element's. Both evaluate data as code. */
#include "logic_int.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rd__logic_fail(rd__ev *c, const char *op, const char *why)
{
    rd_err_set(c->err, RD_EPARSE, "%s: %s", op, why);
    return RD_EPARSE; /* spelled out so callers (and the analyzer) see it is never RD_OK */
}

/* ---------------------------------------------------------------- coercions */

/* The length of the Unicode white space character at s (Go's unicode.IsSpace), or 0. */
static size_t space_len(const unsigned char *s, size_t n)
{
    if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
        return 2;
    if (n >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
        return 3;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
        return 3;
    if (n >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
        return 3;
    return 0;
}

/* Go's strings.TrimSpace: narrows [*s, *s + *n). */
static void trim_space(const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t len = *n, k;
    while (len && (k = space_len(p, len)) != 0)
        p += k, len -= k;
    /* Trailing: step back over whole UTF-8 sequences. */
    while (len) {
        size_t start = len - 1;
        while (start > 0 && (p[start] & 0xC0) == 0x80 && len - start < 4)
            start--;
        if (space_len(p + start, len - start) != len - start)
            break;
        len = start;
    }
    *s = (const char *)p;
    *n = len;
}

static bool digits_with_underscores(const char *s, size_t n)
{
    /* Go's underscoreOK for base 10: an underscore only between two digits. */
    for (size_t i = 0; i < n; i++)
        if (s[i] == '_' &&
            (i == 0 || i + 1 == n || s[i - 1] < '0' || s[i - 1] > '9' || s[i + 1] < '0' || s[i + 1] > '9'))
            return false;
    return true;
}

/* Go's strconv.ParseFloat(s, 64): false on a syntax error. Accepts what Go does: a sign,
 * decimal digits with an optional fraction and exponent (".5", "5."), underscores between
 * digits, "inf"/"infinity"/"nan" in any case, hexadecimal with a 'p' exponent. */
static bool go_parse_float(const char *s, size_t n, double *out)
{
    char buf[128];
    size_t k = 0, i = 0;
    if (n == 0 || n >= sizeof(buf))
        return false;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    size_t rest = n - i;
    if ((rest == 3 && !strncasecmp(s + i, "inf", 3)) || (rest == 8 && !strncasecmp(s + i, "infinity", 8))) {
        *out = neg ? -(double)INFINITY : (double)INFINITY;
        return true;
    }
    if (rest == 3 && i == 0 && !strncasecmp(s, "nan", 3)) {
        *out = (double)NAN;
        return true;
    }
    if (!digits_with_underscores(s + i, rest))
        return false;
    bool hex = rest > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
    bool digits = false, pexp = false;
    for (size_t j = 0; j < n; j++) {
        char ch = s[j];
        if (ch == '_')
            continue;
        if ((ch >= '0' && ch <= '9') || (hex && j > i + 1 && strchr("abcdefABCDEF", ch) && !pexp))
            digits = true;
        else if (hex && (ch == 'p' || ch == 'P'))
            pexp = true;
        else if (!strchr("+-.eExX", ch))
            return false;
        buf[k++] = ch;
    }
    buf[k] = '\0';
    if (!digits || (hex && !pexp))
        return false;
    char *end;
    double d = strtod(buf, &end);
    if (*end)
        return false;
    *out = d;
    return true;
}

/* typing.ToNumber: arithmetic's coercion. */
static int tnum(rd__ev *c, const char *op, const rd_value *v, double *out)
{
    switch (v->type) {
    case RD_VNUMBER: *out = v->u.n; return RD_OK;
    case RD_VSTRING:
        if (!go_parse_float(v->u.s, v->len, out))
            *out = 0;
        return RD_OK;
    default: return rd__logic_fail(c, op, "needs numbers or numeric strings");
    }
}

/* javascript.ToNumber: the comparisons' coercion. */
static inline double jsnum(const rd_value *v)
{
    switch (v->type) {
    case RD_VNULL: return 0;
    case RD_VBOOL: return v->u.b ? 1 : 0;
    case RD_VNUMBER: return v->u.n;
    case RD_VSTRING: {
        const char *s = v->u.s;
        size_t n = v->len;
        double d;
        trim_space(&s, &n);
        if (n == 0)
            return 0;
        return go_parse_float(v->u.s, v->len, &d) ? d : (double)NAN;
    }
    default: return (double)NAN;
    }
}

/* typing.ToString: cat's and substr's coercion, appended to b. */
static int tstr(rd__ev *c, const char *op, const rd_value *v, rd_strb *b)
{
    char num[RD_NUM_FIXED_BUF];
    switch (v->type) {
    case RD_VNULL: return RD_OK;
    case RD_VSTRING: rd_strb_add(b, v->u.s, v->len); return RD_OK;
    case RD_VNUMBER: rd_strb_add(b, num, rd_num_format_fixed(v->u.n, num)); return RD_OK;
    default: return rd__logic_fail(c, op, "cannot make a string of a boolean, array or object");
    }
}

/* ---------------------------------------------------------------- equality and order */

/* Go's `equals`: null equals only null, strings compare as bytes, the rest as numbers. */
static inline bool go_equals(const rd_value *a, const rd_value *b)
{
    if (a->type == RD_VNULL || b->type == RD_VNULL)
        return a->type == b->type;
    if (a->type == RD_VSTRING && b->type == RD_VSTRING)
        return a->len == b->len && rd_mem_eq(a->u.s, b->u.s, a->len);
    return jsnum(a) == jsnum(b);
}

static bool go_strict_equals(const rd_value *a, const rd_value *b)
{
    if (a->type == RD_VNULL || b->type == RD_VNULL)
        return a->type == b->type;
    if (a->type != b->type || a->type == RD_VARRAY || a->type == RD_VOBJECT)
        return false;
    return go_equals(a, b);
}

static inline bool go_less(const rd_value *a, const rd_value *b)
{
    if (a->type == RD_VNUMBER && b->type == RD_VNUMBER)
        return a->u.n < b->u.n;
    if (a->type == RD_VSTRING && b->type == RD_VSTRING) {
        size_t n = a->len < b->len ? a->len : b->len;
        int r = memcmp(a->u.s, b->u.s, n);
        return r < 0 || (r == 0 && a->len < b->len);
    }
    return jsnum(a) < jsnum(b);
}

/* a OP b for <, <=, >, >= (greater is less with the operands swapped). */
static bool compare_pair(int op, const rd_value *a, const rd_value *b)
{
    switch (op) {
    case RD__OP_LT: return go_less(a, b);
    case RD__OP_LE: return go_less(a, b) || go_equals(a, b);
    case RD__OP_GT: return go_less(b, a);
    default: return go_less(b, a) || go_equals(b, a);
    }
}

int rd__op_compare(int op, const rd_value *a, uint32_t n, rd_value *out)
{
    bool r;
    switch (op) {
    case RD__OP_EQ: r = n >= 2 && go_equals(&a[0], &a[1]); break;
    case RD__OP_NE: r = !(n >= 2 && go_equals(&a[0], &a[1])); break;
    case RD__OP_SEQ: r = n >= 2 && go_strict_equals(&a[0], &a[1]); break;
    case RD__OP_SNE: r = !(n >= 2 && go_strict_equals(&a[0], &a[1])); break;
    default:
        /* Two arguments compare; three mean "between" (all four operators, as in Go). */
        r = n >= 2 && compare_pair(op, &a[0], &a[1]) && (n != 3 || compare_pair(op, &a[1], &a[2]));
    }
    *out = rd_value_bool(r);
    return RD_OK;
}

/* ---------------------------------------------------------------- var and missing */

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

/* An array index as Go's getVar computes it: int(ToNumber(segment)), so a segment that is
 * not a number is index 0. Returns -1 when out of range. */
static long seg_index(const char *s, size_t n, uint32_t len)
{
    double d;
    if (!go_parse_float(s, n, &d))
        d = 0;
    if (!(d > -1 && d < (double)len)) /* also rejects NaN */
        return -1;
    return (long)d;
}

/* `$flagd`, `$flagd.flagKey`, `$flagd.timestamp` at the top of the context. */
static int flagd_lookup(rd__ev *c, const char *rest, size_t n, bool *found, rd_value *out)
{
    *found = true;
    if (n == 0) {
        rd_value root;
        int rc = enriched_root(c, c->root, &root);
        if (rc == RD_OK)
            *out = *rd_value_get(&root, "$flagd", 6);
        return rc;
    }
    if (n == 7 && memcmp(rest, "flagKey", 7) == 0) {
        *out = rd_value_string(c->env->flag_key, c->env->flag_key_len);
        return RD_OK;
    }
    if (n == 9 && memcmp(rest, "timestamp", 9) == 0) {
        *out = rd_value_number((double)c->env->timestamp);
        return RD_OK;
    }
    *found = false;
    return RD_OK;
}

/* Walk the dotted path p in data. Empty segments are skipped and a null on the way means
 * not found, as in Go's getVar. */
static int lookup(rd__ev *c, const rd_value *data, const char *p, size_t n, bool *found, rd_value *out)
{
    const rd_value *cur = data;
    bool at_root = data == c->root && c->env->flagd;
    size_t i = 0;
    *found = false;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '.')
            j++;
        if (j > i) {
            if (at_root && j - i == 6 && memcmp(p + i, "$flagd", 6) == 0)
                return flagd_lookup(c, p + j + (j < n), j < n ? n - j - 1 : 0, found, out);
            at_root = false;
            if (cur->type == RD_VOBJECT) {
                cur = rd_value_get(cur, p + i, j - i);
            } else if (cur->type == RD_VARRAY) {
                long k = seg_index(p + i, j - i, cur->len);
                cur = k >= 0 ? &cur->u.items[k] : NULL;
            } else {
                cur = NULL;
            }
            if (!cur || cur->type == RD_VNULL)
                return RD_OK;
        }
        i = j + 1;
    }
    *found = true;
    *out = *cur;
    return RD_OK;
}

/* The member of obj named key, trying the hinted index first and remembering where it was
 * found. Objects here come from the JSON parser, which keeps one member per key, so the
 * first match is the only one. */
static inline const rd_value *member_hinted(const rd_value *obj, const rd_value *key, _Atomic uint32_t *hint)
{
    const rd_member *m = obj->u.members;
    uint32_t h = atomic_load_explicit(hint, memory_order_relaxed);
    if (h < obj->len && m[h].key_len == key->len && rd_mem_eq(m[h].key, key->u.s, key->len))
        return &m[h].val;
    for (uint32_t i = obj->len; i-- > 0;)
        if (m[i].key_len == key->len && rd_mem_eq(m[i].key, key->u.s, key->len)) {
            atomic_store_explicit(hint, i, memory_order_relaxed);
            return &m[i].val;
        }
    return NULL;
}

int rd__op_varpath(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    const rd_value *segs = n->lit.u.items, *cur = data;
    uint32_t nseg = n->lit.len;
    if (nseg == 0) /* a path of dots only: the whole scope, as for "" */
        return rd__op_var(c, &(rd_value){.type = RD_VSTRING, .len = 0, .u.s = ""}, 1, false, data, out);
    if (data == c->root && c->env->flagd && segs[0].len == 6 && rd_mem_eq(segs[0].u.s, "$flagd", 6)) {
        bool found = false;
        int rc = RD_OK;
        if (nseg <= 2)
            rc = flagd_lookup(c, nseg == 2 ? segs[1].u.s : "", nseg == 2 ? segs[1].len : 0, &found, out);
        if (rc != RD_OK || found)
            return rc;
        return rd__logic_ev(c, &n->kids[0], data, out);
    }
    for (uint32_t i = 0; i < nseg && cur; i++) {
        if (cur->type == RD_VOBJECT) {
            cur = member_hinted(cur, &segs[i], &n->hints[i]);
        } else if (cur->type == RD_VARRAY) {
            long k = seg_index(segs[i].u.s, segs[i].len, cur->len);
            cur = k >= 0 ? &cur->u.items[k] : NULL;
        } else {
            cur = NULL;
        }
        if (cur && cur->type == RD_VNULL)
            cur = NULL;
    }
    if (cur) {
        *out = *cur;
        return RD_OK;
    }
    return rd__logic_ev(c, &n->kids[0], data, out);
}

/* Go's getVar. listed: a holds the argument list [path, default?] (the rule gave an array, or
 * an expression that evaluated to one), whose path must be a string; otherwise a[0] is the
 * path itself: a string, a number, null, or again such a list. */
int rd__op_var(rd__ev *c, const rd_value *a, uint32_t n, bool listed, const rd_value *data, rd_value *out)
{
    static const rd_value null_value = {.type = RD_VNULL};
    const rd_value *path = n ? &a[0] : &null_value, *def = &null_value;
    char num[RD_NUM_FIXED_BUF];
    if (!listed && path->type == RD_VARRAY) {
        n = path->len;
        a = path->u.items;
        listed = true;
    }
    if (listed) {
        if (n == 0)
            return rd__op_var(c, &(rd_value){.type = RD_VSTRING, .len = 0, .u.s = ""}, 1, false, data, out);
        if (a[0].type != RD_VSTRING)
            return rd__logic_fail(c, "var", "the path must be a string");
        path = &a[0];
        if (n == 2)
            def = &a[1];
    }
    if (path->type == RD_VNULL) {
        *out = data->type == RD_VOBJECT || data->type == RD_VARRAY ? null_value : *data;
        return RD_OK;
    }
    if (path->type == RD_VSTRING && path->len == 0) {
        if (data == c->root && c->env->flagd)
            return enriched_root(c, data, out);
        *out = *data;
        return RD_OK;
    }
    const char *p;
    size_t len;
    if (path->type == RD_VSTRING) {
        p = path->u.s;
        len = path->len;
    } else if (path->type == RD_VNUMBER) {
        len = rd_num_format_fixed(path->u.n, num);
        p = num;
    } else {
        return rd__logic_fail(c, "var", "the path must be a string or a number");
    }
    bool found;
    int rc = lookup(c, data, p, len, &found, out);
    if (rc == RD_OK && !found)
        *out = *def;
    return rc;
}

/* The entries of keys whose value is null or absent ("" and false are present). */
static int missing_keys(rd__ev *c, const rd_value *keys, uint32_t n, const rd_value *data, rd_value *out)
{
    rd_value *items = rd__scratch_items(c, n);
    if (!items)
        return RD_ENOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        rd_value v = RD_NULL_VALUE;
        int rc = rd__op_var(c, &keys[i], 1, false, data, &v);
        if (rc != RD_OK)
            return rc;
        if (v.type == RD_VNULL)
            items[k++] = keys[i];
    }
    *out = (rd_value){.type = RD_VARRAY, .len = k, .u.items = items};
    return RD_OK;
}

int rd__op_missing(rd__ev *c, const rd_value *a, uint32_t n, const rd_value *data, rd_value *out)
{
    return missing_keys(c, a, n, data, out);
}

int rd__op_missing_some(rd__ev *c, const rd_value *a, uint32_t n, const rd_value *data, rd_value *out)
{
    double need;
    int rc;
    if (n < 2 || a[1].type != RD_VARRAY)
        return rd__logic_fail(c, "missing_some", "expects [count, [keys]]");
    if ((rc = tnum(c, "missing_some", &a[0], &need)) != RD_OK)
        return rc;
    if ((rc = missing_keys(c, a[1].u.items, a[1].len, data, out)) != RD_OK)
        return rc;
    if (!((double)(a[1].len - out->len) < trunc(need)))
        *out = (rd_value){.type = RD_VARRAY, .len = 0, .u.items = NULL};
    return RD_OK;
}

/* ---------------------------------------------------------------- arithmetic */

int rd__op_arith(rd__ev *c, int op, const rd_value *a, uint32_t n, rd_value *out)
{
    static const char *const names[] = {
        [RD__OP_ADD] = "+", [RD__OP_SUB] = "-",   [RD__OP_MUL] = "*",  [RD__OP_DIV] = "/",
        [RD__OP_MOD] = "%", [RD__OP_MAX] = "max", [RD__OP_MIN] = "min"};
    const char *name = names[op];
    double r = 0, x;
    int rc;
    if (op == RD__OP_MOD && n < 2)
        return rd__logic_fail(c, name, "needs two arguments");
    if (n == 0) {
        *out =
            op == RD__OP_MAX || op == RD__OP_MIN ? RD_NULL_VALUE : rd_value_number(op == RD__OP_MUL ? 1 : 0);
        return RD_OK;
    }
    if ((rc = tnum(c, name, &a[0], &r)) != RD_OK)
        return rc;
    if (op == RD__OP_ADD)
        r = 0 + r;
    if (op == RD__OP_SUB && n == 1)
        r = -1 * r;
    uint32_t last = op == RD__OP_MOD ? 2 : n;
    for (uint32_t i = 1; i < last; i++) {
        if ((rc = tnum(c, name, &a[i], &x)) != RD_OK)
            return rc;
        switch (op) {
        case RD__OP_ADD: r += x; break;
        case RD__OP_SUB: r -= x; break;
        case RD__OP_MUL: r *= x; break;
        case RD__OP_DIV: r /= x; break;
        case RD__OP_MOD: r = fmod(r, x); break;
        case RD__OP_MAX: r = x > r ? x : r; break; /* Go keeps the first on ties and NaN */
        default: r = x < r ? x : r; break;
        }
    }
    *out = rd_value_number(r);
    return RD_OK;
}

/* ---------------------------------------------------------------- strings */

int rd__op_cat(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    rd_strb b;
    rd_strb_init(&b, c->scratch);
    for (uint32_t i = 0; i < n; i++) {
        int rc = tstr(c, "cat", &a[i], &b);
        if (rc != RD_OK)
            return rc;
    }
    int rc = rd__sb_value(&b, c, out);
    if (rc == RD_OK && n >= 2) { /* Go trims the joined result of two or more arguments */
        const char *s = out->u.s;
        size_t len = out->len;
        trim_space(&s, &len);
        if (s + len < out->u.s + out->len) {
            char *t = rd_arena_strndup(c->scratch, s, len);
            if (!t)
                return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
            s = t;
        }
        *out = rd_value_string(s, (uint32_t)len);
    }
    return rc;
}

/* Byte offset of code point cp in s (or len). */
static size_t rune_offset(const char *s, size_t len, long cp)
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

static long rune_count(const char *s, size_t len)
{
    long n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Go's int(x) of a float64 on amd64: out-of-range and NaN give the minimum. */
static long go_int(double d) { return (d > -9.2e18 && d < 9.2e18) ? (long)d : LONG_MIN; }

int rd__op_substr(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    if (n < 2)
        return rd__logic_fail(c, "substr", "needs a string and a start");
    rd_strb b;
    rd_value s;
    double from_d, len_d;
    int rc;
    rd_strb_init(&b, c->scratch);
    if ((rc = tstr(c, "substr", &a[0], &b)) != RD_OK || (rc = rd__sb_value(&b, c, &s)) != RD_OK ||
        (rc = tnum(c, "substr", &a[1], &from_d)) != RD_OK)
        return rc;
    long total = rune_count(s.u.s, s.len), from = go_int(from_d), to;
    if (from < 0 && from != LONG_MIN)
        from += total;
    if (from < 0 || from > total) {
        *out = s;
        return RD_OK;
    }
    long length = total;
    if (n == 3) {
        if ((rc = tnum(c, "substr", &a[2], &len_d)) != RD_OK)
            return rc;
        length = go_int(len_d);
    }
    if (length < 0)
        to = length == LONG_MIN ? -1 : total + length;
    else
        to = length > total - from ? total : from + length;
    if (to < from || to < 0)
        return rd__logic_fail(c, "substr", "the length ends before the start");
    size_t bf = rune_offset(s.u.s, s.len, from), bt = bf + rune_offset(s.u.s + bf, s.len - bf, to - from);
    char *p = rd_arena_strndup(c->scratch, s.u.s + bf, bt - bf);
    if (!p)
        return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
    *out = rd_value_string(p, (uint32_t)(bt - bf));
    return RD_OK;
}

/* ---------------------------------------------------------------- membership and merge */

/* One element of an `in` array against the needle, as Go's _in compares them. */
static int in_element(rd__ev *c, const rd_value *needle, const rd_value *e, bool *hit)
{
    double x, lo, hi;
    int rc;
    if (e->type == RD_VARRAY) { /* an inclusive range [lo, hi] */
        if (e->len < 2)
            return rd__logic_fail(c, "in", "a range needs two bounds");
        if ((rc = tnum(c, "in", needle, &x)) != RD_OK || (rc = tnum(c, "in", &e->u.items[0], &lo)) != RD_OK ||
            (rc = tnum(c, "in", &e->u.items[1], &hi)) != RD_OK)
            return rc;
        *hit = x >= lo && hi >= x;
        return RD_OK;
    }
    if (needle->type == RD_VNUMBER) {
        if ((rc = tnum(c, "in", e, &x)) != RD_OK)
            return rc;
        *hit = x == needle->u.n;
        return RD_OK;
    }
    if (needle->type == RD_VOBJECT && e->type == RD_VOBJECT)
        return rd__logic_fail(c, "in", "cannot compare objects");
    *hit = needle->type == e->type && needle->type != RD_VARRAY && needle->type != RD_VOBJECT &&
           go_equals(needle, e);
    return RD_OK;
}

int rd__op_in(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    if (n == 0)
        return rd__logic_fail(c, "in", "needs a value and a string or array");
    const rd_value *b = n > 1 ? &a[1] : NULL;
    bool r = false;
    if (b && b->type == RD_VSTRING) {
        if (a[0].type != RD_VSTRING)
            return rd__logic_fail(c, "in", "looking for a non-string in a string");
        r = a[0].len == 0 || memmem(b->u.s, b->len, a[0].u.s, a[0].len) != NULL;
    } else if (b && b->type == RD_VARRAY) {
        for (uint32_t i = 0; i < b->len && !r; i++) {
            int rc = in_element(c, &a[0], &b->u.items[i], &r);
            if (rc != RD_OK)
                return rc;
        }
    }
    *out = rd_value_bool(r);
    return RD_OK;
}

int rd__op_merge(rd__ev *c, const rd_value *a, uint32_t n, rd_value *out)
{
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += a[i].type == RD_VARRAY ? a[i].len : 1;
    rd_value *items = rd__scratch_items(c, total);
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

/* The array an iteration runs over; *skip set when Go returns early on a null subject. */
static int iter_subject(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *arr, bool *skip)
{
    *arr = RD_NULL_VALUE;
    *skip = false;
    int rc = n->n > 0 ? rd__logic_ev(c, &n->kids[0], data, arr) : RD_OK;
    if (rc != RD_OK)
        return rc;
    if (arr->type == RD_VARRAY)
        return RD_OK;
    bool quiet = n->op == RD__OP_ALL || n->op == RD__OP_SOME || n->op == RD__OP_NONE ? !rd__logic_truthy(arr)
                                                                                     : arr->type == RD_VNULL;
    if (!quiet)
        return rd__logic_fail(c, "iteration", "the subject must be an array");
    *skip = true;
    return RD_OK;
}

int rd__op_iter(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    bool quantifier = n->op == RD__OP_ALL || n->op == RD__OP_SOME || n->op == RD__OP_NONE;
    if (quantifier && n->n == 0)
        return rd__logic_fail(c, "all/some/none", "need an array and a condition");
    if (!quantifier && n->n < 2) {
        *out = (rd_value){.type = RD_VARRAY, .len = 0, .u.items = NULL};
        return RD_OK;
    }
    rd_value arr;
    bool skip;
    int rc = iter_subject(c, n, data, &arr, &skip);
    if (rc != RD_OK)
        return rc;
    uint32_t len = skip ? 0 : arr.len;
    const rd__lnode *body = n->n > 1 ? &n->kids[1] : NULL;
    if (quantifier && len > 0 && (!body || (body->op == RD__OP_LIT && body->lit.type != RD_VOBJECT)))
        return rd__logic_fail(c, "all/some/none", "the condition must be a rule");
    rd_value *items = NULL;
    if (!quantifier && !(items = rd__scratch_items(c, len)))
        return RD_ENOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < len; i++) {
        rd_value r;
        if ((rc = rd__logic_ev(c, body, &arr.u.items[i], &r)) != RD_OK)
            return rc;
        bool t = rd__logic_truthy(&r);
        if (n->op == RD__OP_MAP)
            items[k++] = r;
        else if (n->op == RD__OP_FILTER && t)
            items[k++] = arr.u.items[i];
        else if ((n->op == RD__OP_ALL && !t) || (n->op != RD__OP_ALL && quantifier && t)) {
            *out = rd_value_bool(n->op == RD__OP_SOME);
            return RD_OK;
        }
    }
    if (!quantifier)
        *out = (rd_value){.type = RD_VARRAY, .len = k, .u.items = items};
    else /* all: true unless empty; some: false; none: true */
        *out = rd_value_bool(n->op == RD__OP_ALL ? len > 0 : n->op == RD__OP_NONE);
    return RD_OK;
}

/* reduce's accumulator keeps the initial value's type after every step. */
static int coerce_like(rd__ev *c, const rd_value *like, rd_value *acc)
{
    double d;
    rd_strb b;
    int rc;
    switch (like->type) {
    case RD_VBOOL: *acc = rd_value_bool(rd__logic_truthy(acc)); return RD_OK;
    case RD_VNUMBER:
        if ((rc = tnum(c, "reduce", acc, &d)) == RD_OK)
            *acc = rd_value_number(d);
        return rc;
    default:
        rd_strb_init(&b, c->scratch);
        if ((rc = tstr(c, "reduce", acc, &b)) != RD_OK)
            return rc;
        return rd__sb_value(&b, c, acc);
    }
}

int rd__op_reduce(rd__ev *c, const rd__lnode *n, const rd_value *data, rd_value *out)
{
    rd_value init, arr;
    bool skip;
    int rc;
    if (n->n < 3) {
        *out = rd_value_number(0);
        return RD_OK;
    }
    if ((rc = rd__logic_ev(c, &n->kids[2], data, &init)) != RD_OK)
        return rc;
    if (init.type != RD_VBOOL && init.type != RD_VNUMBER && init.type != RD_VSTRING)
        return rd__logic_fail(c, "reduce", "the initial value must be a boolean, number or string");
    if ((rc = iter_subject(c, n, data, &arr, &skip)) != RD_OK)
        return rc;
    if (skip) {
        *out = rd_value_number(0);
        return RD_OK;
    }
    if (n->kids[1].op == RD__OP_LIT && n->kids[1].lit.type != RD_VOBJECT && arr.len)
        return rd__logic_fail(c, "reduce", "the reducer must be a rule");
    rd_value acc = init;
    for (uint32_t i = 0; i < arr.len; i++) {
        if (arr.u.items[i].type == RD_VNULL)
            continue; /* Go skips null elements */
        rd_member *scope = rd_arena_alloc(c->scratch, 2 * sizeof(*scope));
        if (!scope)
            return rd_err_set(c->err, RD_ENOMEM, "evaluation scratch space exhausted");
        scope[0] = (rd_member){"current", 7, arr.u.items[i]};
        scope[1] = (rd_member){"accumulator", 11, acc};
        rd_value sv = {.type = RD_VOBJECT, .len = 2, .u.members = scope};
        if ((rc = rd__logic_ev(c, &n->kids[1], &sv, &acc)) != RD_OK ||
            (rc = coerce_like(c, &init, &acc)) != RD_OK)
            return rc;
    }
    *out = acc;
    return RD_OK;
}
