/* JSON: a strict RFC 8259 parser that builds rd_value directly in the caller's arena, and
 * the writer.
 *
 * Why not json-c: its strict mode still accepts "1.", "00", raw control characters in
 * strings, single-quoted keys and overlong UTF-8; it clamps integers beyond 64 bits; it cuts
 * keys at \u0000 and does not count empty containers against the depth limit (all found by
 * tests/unit/json). Bad input must get a precise error here, so the grammar is checked by
 * hand, in one pass, with no tree other than the result.
 *
 * Invariants: recursion depth is at most limits.max_depth (checked before descending);
 * container items are gathered on one shared stack and copied to the arena when the
 * container closes; on failure nothing is written to *out. */
#include "riskd/json.h"

#include "riskd/hash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BYTES (16u << 20)
#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_NODES 1000000u

struct parser {
    const char *s;
    size_t len, pos;
    int depth, max_depth;
    bool float32;
    size_t nodes, max_nodes;
    rd_arena *arena;
    rd_member *stack; /* items of the open containers, innermost last */
    size_t top, cap;
    rd_err *err;
};

static int perr(struct parser *p, int code, const char *what)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)p->s[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    return rd_err_set(p->err, code, "line %d, column %d: %s", line, col, what);
}

static int oom(struct parser *p) { return rd_err_set(p->err, RD_ENOMEM, "out of memory"); }

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int push(struct parser *p, const rd_member *m)
{
    if (p->top == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        rd_member *n = rd_realloc(p->stack, cap * sizeof(*n));
        if (!n)
            return oom(p);
        p->stack = n;
        p->cap = cap;
    }
    p->stack[p->top++] = *m;
    return RD_OK;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 when invalid: no overlong
 * forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t k = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return k;
}

static int hex4(struct parser *p, size_t at, unsigned *out)
{
    if (at + 4 > p->len)
        return -1;
    unsigned v = 0;
    for (size_t i = at; i < at + 4; i++) {
        char c = p->s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the escaped string body s[from, to) into d (large enough: decoding only shrinks). */
static int decode_escapes(struct parser *p, size_t from, size_t to, char *d, size_t *out_len)
{
    size_t k = 0;
    for (size_t j = from; j < to;) {
        char c = p->s[j];
        if (c != '\\') {
            d[k++] = c;
            j++;
            continue;
        }
        char e = p->s[j + 1];
        j += 2;
        switch (e) {
        case '"': d[k++] = '"'; break;
        case '\\': d[k++] = '\\'; break;
        case '/': d[k++] = '/'; break;
        case 'b': d[k++] = '\b'; break;
        case 'f': d[k++] = '\f'; break;
        case 'n': d[k++] = '\n'; break;
        case 'r': d[k++] = '\r'; break;
        case 't': d[k++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, j, &cp) != 0) {
                p->pos = j - 2;
                return perr(p, RD_EPARSE, "invalid \\u escape");
            }
            j += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && j + 6 <= to && p->s[j] == '\\' && p->s[j + 1] == 'u' &&
                hex4(p, j + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* a lone surrogate has no UTF-8 form: replaced, as Go does */
            }
            k += put_utf8(d + k, cp);
            break;
        }
        default: p->pos = j - 2; return perr(p, RD_EPARSE, "invalid escape in string");
        }
    }
    *out_len = k;
    return RD_OK;
}

/* A string starting at the opening quote. Decoded text is never longer than its source. */
static int parse_string(struct parser *p, const char **out, uint32_t *out_len)
{
    size_t start = ++p->pos, i = start;
    bool escapes = false;
    for (;;) {
        if (i >= p->len) {
            p->pos = i;
            return perr(p, RD_EPARSE, "unexpected end of input in a string");
        }
        unsigned char c = (unsigned char)p->s[i];
        if (c == '"')
            break;
        if (c < 0x20) {
            p->pos = i;
            return perr(p, RD_EPARSE, "control character in string (escape it)");
        }
        if (c == '\\') {
            escapes = true;
            i += 2;
            continue;
        }
        if (c < 0x80) { /* ASCII, the common case: a byte of its own, no UTF-8 sequence to check */
            i++;
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)p->s + i, p->len - i);
        if (!k) {
            p->pos = i;
            return perr(p, RD_EPARSE, "invalid UTF-8 in string");
        }
        i += k;
    }
    size_t n = i - start;
    if (n > UINT32_MAX)
        return perr(p, RD_ELIMIT, "string too long");
    char *d = rd_arena_alloc(p->arena, n + 1);
    if (!d)
        return oom(p);
    size_t k = n;
    int rc = RD_OK;
    if (!escapes)
        memcpy(d, p->s + start, n);
    else if ((rc = decode_escapes(p, start, i, d, &k)) != RD_OK)
        return rc;
    d[k] = '\0';
    p->pos = i + 1;
    *out = d;
    *out_len = (uint32_t)k;
    return RD_OK;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* A malformed number, or the input ended inside one. */
static int num_err(struct parser *p, size_t at, const char *what)
{
    p->pos = at;
    return perr(p, RD_EPARSE, at >= p->len ? "unexpected end of input" : what);
}

static int parse_number(struct parser *p, rd_value *out)
{
    size_t start = p->pos, i = p->pos;
    if (i < p->len && p->s[i] == '-')
        i++;
    if (i < p->len && p->s[i] == '0') {
        i++;
    } else if (i < p->len && is_digit(p->s[i])) {
        while (i < p->len && is_digit(p->s[i]))
            i++;
    } else {
        return num_err(p, i, "invalid number");
    }
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return num_err(p, i, "invalid number: a digit must follow the decimal point");
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return num_err(p, i, "invalid number: the exponent needs digits");
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    if (i < p->len && is_digit(p->s[i])) {
        p->pos = i;
        return perr(p, RD_EPARSE, "invalid number: leading zeros are not allowed");
    }
    char buf[128];
    char *tmp = i - start < sizeof(buf) ? buf : rd_arena_alloc(p->arena, i - start + 1);
    if (!tmp)
        return oom(p);
    memcpy(tmp, p->s + start, i - start);
    tmp[i - start] = '\0';
    double d = p->float32 && strpbrk(tmp, ".eE") ? (double)strtof(tmp, NULL) : strtod(tmp, NULL);
    if (!isfinite(d))
        return perr(p, RD_EPARSE, "number out of range");
    p->pos = i;
    *out = rd_value_number(d);
    return RD_OK;
}

static int parse_value(struct parser *p, rd_value *out);

/* JSON.parse and Go keep the last value of a repeated key, in the key's first position:
 * do the same, so a context means one thing whichever engine reads it. Small objects are
 * checked pairwise, large ones through a temporary hash table (no quadratic blow-up). */
static size_t dedupe_members(struct parser *p, rd_member *m, size_t n)
{
    size_t k = 0;
    if (n <= 16) {
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < k && !(m[j].key_len == m[i].key_len && memcmp(m[j].key, m[i].key, m[i].key_len) == 0))
                j++;
            if (j < k)
                m[j].val = m[i].val;
            else
                m[k++] = m[i];
        }
        return k;
    }
    size_t cap = 32;
    while (cap < n * 2)
        cap *= 2;
    size_t *slot = rd_calloc(cap, sizeof(*slot)); /* index + 1 into the kept members */
    if (!slot)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t h = rd_murmur3_32(m[i].key, m[i].key_len, 0) & (cap - 1);
        while (slot[h] && !(m[slot[h] - 1].key_len == m[i].key_len &&
                            memcmp(m[slot[h] - 1].key, m[i].key, m[i].key_len) == 0))
            h = (h + 1) & (cap - 1);
        if (slot[h]) {
            m[slot[h] - 1].val = m[i].val;
        } else {
            m[k] = m[i];
            slot[h] = ++k;
        }
    }
    rd_free(slot);
    (void)p;
    return k;
}

/* Move the top n stack entries into the arena as the items or members of a container. */
static int close_container(struct parser *p, size_t base, bool object, rd_value *out)
{
    size_t n = p->top - base;
    if (n > UINT32_MAX)
        return perr(p, RD_ELIMIT, "too many items");
    if (object) {
        rd_member *m = n ? rd_arena_alloc(p->arena, n * sizeof(*m)) : NULL;
        if (n && !m)
            return oom(p);
        if (n)
            memcpy(m, p->stack + base, n * sizeof(*m));
        n = dedupe_members(p, m, n);
        if (n == (size_t)-1)
            return oom(p);
        *out = (rd_value){.type = RD_VOBJECT, .len = (uint32_t)n, .u.members = m};
    } else {
        rd_value *items = n ? rd_arena_alloc(p->arena, n * sizeof(*items)) : NULL;
        if (n && !items)
            return oom(p);
        for (size_t i = 0; i < n; i++)
            items[i] = p->stack[base + i].val;
        *out = (rd_value){.type = RD_VARRAY, .len = (uint32_t)n, .u.items = items};
    }
    p->top = base;
    return RD_OK;
}

static int parse_container(struct parser *p, bool object, rd_value *out)
{
    if (++p->depth > p->max_depth)
        return perr(p, RD_ELIMIT, "nesting too deep");
    char close = object ? '}' : ']';
    size_t base = p->top;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            rd_member m = {.key = NULL, .key_len = 0};
            int rc;
            skip_ws(p);
            if (object) {
                if (p->pos >= p->len || p->s[p->pos] != '"')
                    return perr(p, RD_EPARSE,
                                p->pos >= p->len ? "unexpected end of input" : "expected a string key");
                if ((rc = parse_string(p, &m.key, &m.key_len)) != RD_OK)
                    return rc;
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':')
                    return perr(p, RD_EPARSE, p->pos >= p->len ? "unexpected end of input" : "expected ':'");
                p->pos++;
            }
            if ((rc = parse_value(p, &m.val)) != RD_OK || (rc = push(p, &m)) != RD_OK)
                return rc;
            skip_ws(p);
            if (p->pos >= p->len)
                return perr(p, RD_EPARSE, "unexpected end of input");
            if (p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            if (p->s[p->pos] != ',')
                return perr(p, RD_EPARSE, object ? "expected ',' or '}'" : "expected ',' or ']'");
            p->pos++;
        }
    }
    p->depth--;
    return close_container(p, base, object, out);
}

static int parse_literal(struct parser *p, const char *word, rd_value v, rd_value *out)
{
    size_t n = strlen(word), have = p->len - p->pos;
    if (have < n && memcmp(p->s + p->pos, word, have) == 0) {
        p->pos = p->len;
        return perr(p, RD_EPARSE, "unexpected end of input");
    }
    if (have < n || memcmp(p->s + p->pos, word, n) != 0)
        return perr(p, RD_EPARSE, "unexpected character");
    p->pos += n;
    *out = v;
    return RD_OK;
}

static int parse_value(struct parser *p, rd_value *out)
{
    if (++p->nodes > p->max_nodes)
        return rd_err_set(p->err, RD_ELIMIT, "more than %zu values", p->max_nodes);
    skip_ws(p);
    if (p->pos >= p->len)
        return perr(p, RD_EPARSE, "unexpected end of input");
    char c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[': return parse_container(p, c == '{', out);
    case '"': {
        const char *s = NULL;
        uint32_t n = 0;
        int rc = parse_string(p, &s, &n);
        if (rc == RD_OK)
            *out = rd_value_string(s, n);
        return rc;
    }
    case 't': return parse_literal(p, "true", rd_value_bool(true), out);
    case 'f': return parse_literal(p, "false", rd_value_bool(false), out);
    case 'n': return parse_literal(p, "null", RD_NULL_VALUE, out);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(p, out);
        return perr(p, RD_EPARSE,
                    (c == 'N' || c == 'I') ? "NaN and Infinity are not JSON" : "unexpected character");
    }
}

int rd_json_parse(const char *text, size_t len, const rd_json_limits *limits, rd_arena *arena, rd_value *out,
                  rd_err *err)
{
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES;
    struct parser p = {
        .s = text,
        .len = len,
        .max_depth = limits && limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH,
        .max_nodes = limits && limits->max_nodes ? limits->max_nodes : DEFAULT_MAX_NODES,
        .arena = arena,
        .err = err,
        .float32 = limits && limits->float32,
    };
    if (len > max_bytes)
        return rd_err_set(err, RD_ELIMIT, "document of %zu bytes exceeds the limit of %zu", len, max_bytes);
    rd_value v;
    int rc = parse_value(&p, &v);
    if (rc == RD_OK) {
        skip_ws(&p);
        if (p.pos < p.len)
            rc = perr(&p, RD_EPARSE, "unexpected text after the JSON value");
    }
    rd_free(p.stack);
    if (rc == RD_OK)
        *out = v;
    return rc;
}

/* ---- writing ---- */

int rd_json_write_string(rd_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    rd_buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80) {
            /* Valid UTF-8 passes; a byte that starts no valid sequence (a message cut in the
             * middle of a character, bytes from a caller) becomes U+FFFD, as Go's encoder
             * does, so the output is always valid JSON. */
            size_t k = utf8_seq((const unsigned char *)s + i, n - i);
            if (k) {
                i += k - 1;
                continue;
            }
            rd_buf_append(b, s + start, i - start);
            rd_buf_puts(b, "\\ufffd");
            start = i + 1;
            continue;
        }
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        rd_buf_append(b, s + start, i - start);
        start = i + 1;
        char esc[7] = {'\\', 0};
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
        }
        rd_buf_puts(b, esc);
    }
    rd_buf_append(b, s + start, n - start);
    return rd_buf_putc(b, '"');
}

int rd_json_write(rd_buf *b, const rd_value *v)
{
    char num[RD_NUM_BUF];
    switch (v->type) {
    case RD_VNULL: return rd_buf_puts(b, "null");
    case RD_VBOOL: return rd_buf_puts(b, v->u.b ? "true" : "false");
    case RD_VNUMBER:
        if (!isfinite(v->u.n))
            return rd_buf_puts(b, "null");
        return rd_buf_append(b, num, rd_num_format(v->u.n, num));
    case RD_VSTRING: return rd_json_write_string(b, v->u.s, v->len);
    case RD_VARRAY:
        rd_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                rd_buf_putc(b, ',');
            rd_json_write(b, &v->u.items[i]);
        }
        return rd_buf_putc(b, ']');
    case RD_VOBJECT:
        rd_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                rd_buf_putc(b, ',');
            rd_json_write_string(b, v->u.members[i].key, v->u.members[i].key_len);
            rd_buf_putc(b, ':');
            rd_json_write(b, &v->u.members[i].val);
        }
        return rd_buf_putc(b, '}');
    }
    return RD_EINTERNAL;
}

/* ---- canonical form (RFC 8785) ---- */

/* The next UTF-16 code unit of the UTF-8 key at s[*i..n): a code point above U+FFFF gives its
 * high surrogate, then (through *low) its low one. Keys come from the parser, so they are
 * valid UTF-8; a stray byte is taken as itself. */
static unsigned utf16_next(const unsigned char *s, size_t n, size_t *i, unsigned *low)
{
    if (*low) {
        unsigned u = *low;
        *low = 0;
        return u;
    }
    unsigned c = s[*i];
    size_t k = c >= 0x80 ? utf8_seq(s + *i, n - *i) : 1;
    if (k <= 1) {
        (*i)++;
        return c;
    }
    unsigned cp = c & (k == 2 ? 0x1Fu : k == 3 ? 0x0Fu : 0x07u);
    for (size_t j = 1; j < k; j++)
        cp = (cp << 6) | (s[*i + j] & 0x3Fu);
    *i += k;
    if (cp < 0x10000)
        return cp;
    cp -= 0x10000;
    *low = 0xDC00 + (cp & 0x3FF);
    return 0xD800 + (cp >> 10);
}

/* Members compared as JCS orders them: by the UTF-16 code units of their keys. UTF-8 byte
 * order is code point order, which differs from UTF-16 order between U+E000..U+FFFF and the
 * supplementary planes, hence the decoding. */
static int cmp_member_utf16(const void *pa, const void *pb)
{
    const rd_member *a = *(const rd_member *const *)pa, *b = *(const rd_member *const *)pb;
    const unsigned char *x = (const unsigned char *)a->key, *y = (const unsigned char *)b->key;
    size_t i = 0, j = 0;
    unsigned lx = 0, ly = 0;
    while ((i < a->key_len || lx) && (j < b->key_len || ly)) {
        unsigned u = utf16_next(x, a->key_len, &i, &lx), v = utf16_next(y, b->key_len, &j, &ly);
        if (u != v)
            return u < v ? -1 : 1;
    }
    bool xe = i >= a->key_len && !lx, ye = j >= b->key_len && !ly;
    return xe && ye ? 0 : xe ? -1 : 1;
}

/* Recursion: as deep as v, which the parser bounds (max_depth). */
int rd_json_write_canonical(rd_buf *b, const rd_value *v)
{
    char num[RD_NUM_BUF];
    int rc = 0;
    switch (v->type) {
    case RD_VNULL:
    case RD_VBOOL:
    case RD_VSTRING: return rd_json_write(b, v) || b->oom ? RD_ENOMEM : RD_OK;
    case RD_VNUMBER:
        if (!isfinite(v->u.n))
            return RD_EINVAL;
        /* rd_num_format is ECMAScript's Number#toString: shortest round-trip digits, plain
         * from 1e-6 up to 1e21, "1e+21" and "1e-7" beyond, and 0 for -0. */
        return rd_buf_append(b, num, rd_num_format(v->u.n, num)) ? RD_ENOMEM : RD_OK;
    case RD_VARRAY:
        rc = rd_buf_putc(b, '[');
        for (uint32_t i = 0; rc == RD_OK && i < v->len; i++)
            if (!(rc = i ? rd_buf_putc(b, ',') : 0))
                rc = rd_json_write_canonical(b, &v->u.items[i]);
        return rc ? rc : rd_buf_putc(b, ']') ? RD_ENOMEM : RD_OK;
    case RD_VOBJECT: {
        typedef const rd_member *member_ptr;
        member_ptr stack[32], *m = stack;
        if (v->len > 32 && !(m = rd_malloc(v->len * sizeof(member_ptr))))
            return RD_ENOMEM;
        for (uint32_t i = 0; i < v->len; i++)
            m[i] = &v->u.members[i];
        qsort(m, v->len, sizeof(member_ptr), cmp_member_utf16);
        rc = rd_buf_putc(b, '{');
        for (uint32_t i = 0; rc == RD_OK && i < v->len; i++) {
            rc = (i ? rd_buf_putc(b, ',') : 0) | rd_json_write_string(b, m[i]->key, m[i]->key_len) |
                         rd_buf_putc(b, ':')
                     ? RD_ENOMEM
                     : rd_json_write_canonical(b, &m[i]->val);
        }
        if (m != stack)
            rd_free(m);
        return rc ? rc : rd_buf_putc(b, '}') ? RD_ENOMEM : RD_OK;
    }
    }
    return RD_EINTERNAL;
}
