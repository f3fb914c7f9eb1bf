/* The dynamic value of contexts, rules and flag variants: null, bool, number, string,
 * array, object.
 *
 * A value is a small struct passed by value; strings, items and members it points to are
 * borrowed from whoever built them (an arena, a flag set), and live as long as that owner.
 * Values are immutable once built, so any number of threads may read a shared one. */
#ifndef RISKD_VALUE_H
#define RISKD_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "riskd/arena.h"
#include "riskd/err.h"

typedef enum rd_vtype {
    RD_VNULL = 0,
    RD_VBOOL,
    RD_VNUMBER,
    RD_VSTRING,
    RD_VARRAY,
    RD_VOBJECT,
} rd_vtype;

typedef struct rd_member rd_member;

typedef struct rd_value {
    rd_vtype type;
    uint32_t len; /* bytes of a string (no NUL counted), items of an array, members of an object */
    union {
        bool b;
        double n;
        const char *s; /* NUL-terminated, but may hold NULs: use len */
        const struct rd_value *items;
        const rd_member *members;
    } u;
} rd_value;

struct rd_member {
    const char *key; /* NUL-terminated */
    uint32_t key_len;
    rd_value val;
};

#define RD_NULL_VALUE ((rd_value){.type = RD_VNULL})

static inline rd_value rd_value_bool(bool b) { return (rd_value){.type = RD_VBOOL, .u.b = b}; }
static inline rd_value rd_value_number(double n) { return (rd_value){.type = RD_VNUMBER, .u.n = n}; }
/* Borrows s, which must stay alive as long as the value. */
static inline rd_value rd_value_string(const char *s, uint32_t len)
{
    return (rd_value){.type = RD_VSTRING, .len = len, .u.s = s};
}

/* Whether n bytes at a and b are equal. Inline, a word at a time: the keys and short strings
 * of the evaluation hot path cost less than a libc memcmp call. */
static inline bool rd_mem_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    uint32_t u, v;
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
    }
    if (n >= 4) { /* two overlapping 4-byte words cover 4..7 bytes */
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        if (u != v)
            return false;
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return u == v;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* "null", "boolean", "number", "string", "array", "object". */
RD_API const char *rd_vtype_name(rd_vtype t);

/* Member of an object by key (borrowed pointer into obj), NULL if absent or obj is not an
 * object. When a key repeats, the last one wins, as in JSON parsers that keep the last. */
RD_API const rd_value *rd_value_get(const rd_value *obj, const char *key, size_t key_len);

/* Deep structural equality; numbers compare as doubles, members in any order. */
RD_API bool rd_value_equal(const rd_value *a, const rd_value *b);

/* Deep-copy src into arena (strings, items and members included). RD_OK or RD_ENOMEM. */
RD_API int rd_value_copy(rd_arena *arena, const rd_value *src, rd_value *dst);

/* Largest magnitude an integer can have and stay exact in a double: 2^53 - 1. */
#define RD_MAX_SAFE_INTEGER 9007199254740991.0

/* Format a number the way JavaScript's Number#toString and Go's encoding/json do
 * (shortest round-trip digits; exponent form below 1e-6 and from 1e21). buf must hold
 * at least RD_NUM_BUF bytes. NaN and infinities give "NaN", "Infinity", "-Infinity".
 * Returns the length. */
#define RD_NUM_BUF 32
RD_API size_t rd_num_format(double n, char *buf);

/* Format a number as Go's strconv.FormatFloat(n, 'f', -1, 64): shortest digits, never an
 * exponent (1e21 -> "1000000000000000000000"). buf must hold RD_NUM_FIXED_BUF bytes. */
#define RD_NUM_FIXED_BUF 400
RD_API size_t rd_num_format_fixed(double n, char *buf);

#endif
