/* Values: lookup, equality and the number formats the flag engine depends on.
 *
 * Number formatting decides variant keys and `fractional` bucketing keys, so it must be
 * exactly JavaScript's / Go's: the shortest digit string that reads back to the same
 * double, then laid out by each language's rules. */
#include "riskd/value.h"

#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"

const char *rd_vtype_name(rd_vtype t)
{
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

const rd_value *rd_value_get(const rd_value *obj, const char *key, size_t key_len)
{
    if (!obj || obj->type != RD_VOBJECT)
        return NULL;
    /* Scan backwards so a repeated key resolves to its last occurrence. */
    for (uint32_t i = obj->len; i-- > 0;) {
        const rd_member *m = &obj->u.members[i];
        if (m->key_len == key_len && rd_mem_eq(m->key, key, key_len))
            return &m->val;
    }
    return NULL;
}

static bool object_covers(const rd_value *a, const rd_value *b)
{
    for (uint32_t i = 0; i < a->len; i++) {
        const rd_member *m = &a->u.members[i];
        const rd_value *o = rd_value_get(b, m->key, m->key_len);
        if (!o || !rd_value_equal(rd_value_get(a, m->key, m->key_len), o))
            return false;
    }
    return true;
}

bool rd_value_equal(const rd_value *a, const rd_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case RD_VNULL: return true;
    case RD_VBOOL: return a->u.b == b->u.b;
    case RD_VNUMBER: return a->u.n == b->u.n;
    case RD_VSTRING: return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    case RD_VARRAY:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!rd_value_equal(&a->u.items[i], &b->u.items[i]))
                return false;
        return true;
    case RD_VOBJECT:
        /* Both directions, so objects with repeated keys compare symmetrically. */
        return a->len == b->len && object_covers(a, b) && object_covers(b, a);
    }
    return false;
}

/* Write n with prec significant digits to tmp ("d.ddde[+-]xx") and say whether it reads back
 * as n. From 15 digits on, the nearest decimal may miss while its neighbour on the other side
 * of n still reads back (powers of two sit at the edge of their binade); glibc's printf
 * honours the rounding mode, which gives both neighbours. */
static bool round_trips(double n, int prec, char tmp[40])
{
    snprintf(tmp, 40, "%.*e", prec - 1, n);
    if (strtod(tmp, NULL) == n)
        return true;
    if (prec < 15)
        return false;
    char alt[40];
    int mode = fegetround();
    for (int dir = 0; dir < 2; dir++) {
        fesetround(dir ? FE_DOWNWARD : FE_UPWARD);
        snprintf(alt, sizeof(alt), "%.*e", prec - 1, n);
        fesetround(mode);
        if (strcmp(alt, tmp) != 0 && strtod(alt, NULL) == n) {
            memcpy(tmp, alt, sizeof(alt));
            return true;
        }
    }
    return false;
}

/* Shortest decimal digits of a finite, non-zero |n|: writes the digits (no dot) to d and
 * returns their count; *point is the decimal exponent such that n = 0.d1d2... x 10^point. */
static int shortest_digits(double n, char *d, int *point)
{
    char tmp[40];
    if (n < 0)
        n = -n;
    /* Integers below 2^53 are their own shortest form: skip the round-trip search. */
    if (n < 9007199254740992.0 && n == floor(n)) {
        int len = snprintf(tmp, sizeof(tmp), "%.0f", n);
        int k = len;
        while (k > 1 && tmp[k - 1] == '0')
            k--;
        memcpy(d, tmp, (size_t)k);
        *point = len;
        return k;
    }
    /* Whether a decimal reads back to n is monotone in the number of digits (the nearest
     * p+1-digit decimal is at least as close as the nearest p-digit one), so when 15 digits
     * do not, nothing shorter does: computed values, which need 16 or 17, cost three tries
     * instead of seventeen (printf and strtod are most of a score response's formatting). */
    int start = round_trips(n, 15, tmp) ? 1 : 16;
    for (int prec = start; prec <= 17; prec++) {
        if (round_trips(n, prec, tmp) || prec == 17) {
            /* tmp is "d.ddde[+-]xx" */
            int k = 0;
            char *e = strchr(tmp, 'e');
            for (char *p = tmp; p < e; p++)
                if (*p != '.')
                    d[k++] = *p;
            while (k > 1 && d[k - 1] == '0')
                k--;
            *point = atoi(e + 1) + 1;
            return k;
        }
    }
    return 0; /* not reached */
}

static size_t nonfinite(double n, char *buf)
{
    const char *s = isnan(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
    size_t len = strlen(s);
    memcpy(buf, s, len + 1);
    return len;
}

size_t rd_num_format(double n, char *buf)
{
    if (!isfinite(n))
        return nonfinite(n, buf);
    /* Integers (most features, counts) in plain digits: what the shortest form gives for
     * them, without the printf round trips. */
    if (fabs(n) < 1e15 && n == (double)(int64_t)n && n != 0) { /* range first: the cast is UB beyond */
        char tmp[24];
        int64_t v = (int64_t)n;
        uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
        int len = 0;
        do
            tmp[len++] = (char)('0' + (int)(u % 10));
        while (u /= 10);
        char *p = buf;
        if (v < 0)
            *p++ = '-';
        while (len)
            *p++ = tmp[--len];
        *p = '\0';
        return (size_t)(p - buf);
    }
    if (n == 0) {
        buf[0] = '0';
        buf[1] = '\0';
        return 1;
    }
    char d[24];
    int point;
    int k = shortest_digits(n, d, &point);
    char *p = buf;
    if (n < 0)
        *p++ = '-';
    if (k <= point && point <= 21) {
        memcpy(p, d, (size_t)k);
        p += k;
        for (int i = k; i < point; i++)
            *p++ = '0';
    } else if (0 < point && point <= 21) {
        memcpy(p, d, (size_t)point);
        p += point;
        *p++ = '.';
        memcpy(p, d + point, (size_t)(k - point));
        p += k - point;
    } else if (-6 < point && point <= 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = point; i < 0; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)k);
        p += k;
    } else {
        *p++ = d[0];
        if (k > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)(k - 1));
            p += k - 1;
        }
        p += sprintf(p, "e%c%d", point - 1 >= 0 ? '+' : '-', abs(point - 1));
    }
    *p = '\0';
    return (size_t)(p - buf);
}

size_t rd_num_format_fixed(double n, char *buf)
{
    if (!isfinite(n)) /* Go prints NaN, +Inf, -Inf */
        return (size_t)sprintf(buf, "%s", isnan(n) ? "NaN" : n > 0 ? "+Inf" : "-Inf");
    if (n == 0) {
        /* Go keeps the sign of negative zero. */
        return (size_t)sprintf(buf, "%s", signbit(n) ? "-0" : "0");
    }
    char d[24];
    int point;
    int k = shortest_digits(n, d, &point);
    char *p = buf;
    if (n < 0)
        *p++ = '-';
    if (point <= 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = point; i < 0; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)k);
        p += k;
    } else if (k <= point) {
        memcpy(p, d, (size_t)k);
        p += k;
        for (int i = k; i < point; i++)
            *p++ = '0';
    } else {
        memcpy(p, d, (size_t)point);
        p += point;
        *p++ = '.';
        memcpy(p, d + point, (size_t)(k - point));
        p += k - point;
    }
    *p = '\0';
    return (size_t)(p - buf);
}

int rd_value_copy(rd_arena *arena, const rd_value *src, rd_value *dst)
{
    rd_value v = *src;
    switch (src->type) {
    case RD_VSTRING:
        v.u.s = rd_arena_strndup(arena, src->u.s, src->len);
        if (!v.u.s)
            return RD_ENOMEM;
        break;
    case RD_VARRAY: {
        rd_value *items = src->len ? rd_arena_alloc(arena, src->len * sizeof(*items)) : NULL;
        if (src->len && !items)
            return RD_ENOMEM;
        for (uint32_t i = 0; i < src->len; i++)
            if (rd_value_copy(arena, &src->u.items[i], &items[i]) != RD_OK)
                return RD_ENOMEM;
        v.u.items = items;
        break;
    }
    case RD_VOBJECT: {
        rd_member *m = src->len ? rd_arena_alloc(arena, src->len * sizeof(*m)) : NULL;
        if (src->len && !m)
            return RD_ENOMEM;
        for (uint32_t i = 0; i < src->len; i++) {
            m[i].key = rd_arena_strndup(arena, src->u.members[i].key, src->u.members[i].key_len);
            m[i].key_len = src->u.members[i].key_len;
            if (!m[i].key || rd_value_copy(arena, &src->u.members[i].val, &m[i].val) != RD_OK)
                return RD_ENOMEM;
        }
        v.u.members = m;
        break;
    }
    default: break;
    }
    *dst = v;
    return RD_OK;
}
