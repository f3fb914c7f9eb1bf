/* JSON: parse text into rd_value (in an arena) under limits, and write rd_value as JSON.
 * This module is the only user of json-c. */
#ifndef RISKD_JSON_H
#define RISKD_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/value.h"

/* Limits checked while parsing; 0 in a field means the default below. */
typedef struct rd_json_limits {
    size_t max_bytes; /* default 16 MiB */
    int max_depth;    /* nesting of arrays/objects, default 64 */
    size_t max_nodes; /* values in the document, default 1,000,000 */
    /* Read numbers with a fraction or exponent as float32 (strtof, one rounding), for
     * formats that write float32 values as shortest text (XGBoost JSON): strtod then a
     * cast would round twice. Integers are still read exactly. */
    bool float32;
} rd_json_limits;

/* Parse len bytes of strict JSON (RFC 8259: no NaN/Infinity, no comments, valid UTF-8, no
 * trailing text) into *out, every string, item and member allocated in arena.
 * Errors: RD_EPARSE (message gives line and column), RD_ELIMIT (which limit), RD_ENOMEM.
 * On failure *out is untouched (the arena may hold garbage until its reset).
 * Thread-safe with distinct arenas. */
RD_API int rd_json_parse(const char *text, size_t len, const rd_json_limits *limits, rd_arena *arena,
                         rd_value *out, rd_err *err);

/* Append v as compact JSON to b (numbers as JavaScript prints them; NaN and infinities,
 * which JSON cannot hold, as null). Returns RD_OK or RD_ENOMEM. */
RD_API int rd_json_write(rd_buf *b, const rd_value *v);

/* Append the n bytes at s as a JSON string literal, quoted and escaped. */
RD_API int rd_json_write_string(rd_buf *b, const char *s, size_t n);

/* Append v in the canonical form of RFC 8785 (JCS): no whitespace, object members sorted by
 * their keys' UTF-16 code units, numbers as ECMAScript's Number#toString prints them (-0 as
 * 0), strings with only '"', '\\' and the control characters escaped (\b \f \n \r \t, the
 * others \u00xx). Two documents that mean the same JSON give the same bytes, so a hash of
 * them is a hash of the meaning. v's depth must be bounded (a parsed value's is); keys
 * must be unique (a parsed object's are). RD_EINVAL for NaN or an infinity (JSON has none),
 * RD_ENOMEM; b then holds a partial text. Thread-safe. */
RD_API int rd_json_write_canonical(rd_buf *b, const rd_value *v);

#endif
