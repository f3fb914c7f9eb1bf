/* flagd flag sets: parse and validate, then evaluate flags to OpenFeature resolution
 * details (value, variant, reason, error code, metadata).
 *
 * A flag set is immutable once parsed and reference-counted: a server swaps in a new one
 * atomically and readers that still hold the old one finish with it safely. Evaluation
 * allocates nothing once the caller's scratch arena has grown to the rules' needs. */
#ifndef RISKD_FLAGS_H
#define RISKD_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/value.h"

typedef struct rd_flagset rd_flagset;

typedef enum rd_reason {
    RD_REASON_STATIC = 0,
    RD_REASON_DEFAULT,
    RD_REASON_TARGETING_MATCH,
    RD_REASON_DISABLED,
    RD_REASON_ERROR,
} rd_reason;

typedef enum rd_flag_error {
    RD_FLAG_OK = 0,
    RD_FLAG_NOT_FOUND,
    RD_FLAG_PARSE_ERROR,
    RD_FLAG_TYPE_MISMATCH,
    RD_FLAG_GENERAL,
    RD_FLAG_INVALID_CONTEXT,
} rd_flag_error;

/* The type the caller asks for. RD_FLAG_ANY skips the type check (OFREP carries no type). */
typedef enum rd_flag_type {
    RD_FLAG_ANY = 0,
    RD_FLAG_BOOLEAN,
    RD_FLAG_STRING,
    RD_FLAG_INTEGER, /* a number with no fractional part and |n| <= 2^53 - 1 */
    RD_FLAG_FLOAT,
    RD_FLAG_OBJECT,
} rd_flag_type;

typedef struct rd_flagset_opts {
    /* false (the default): reject the whole file on anything the flagd schema forbids.
     * true: accept what flagd accepts; a flag whose targeting does not compile evaluates
     * to ERROR / PARSE_ERROR instead, as in flagd. */
    bool lenient;
    int fractional_version; /* 2 (default) or 3 */
    size_t max_bytes;       /* default 16 MiB */
    int max_rule_depth;     /* default 64 */
} rd_flagset_opts;

/* Parse a flag set in flagd's format. On success *out holds one reference (release it with
 * rd_flagset_unref). On failure *out is untouched and err names the flag and the JSON path
 * of the first fault, e.g. `flags.new-ui.defaultVariant: "blue" is not a variant`.
 * Errors: RD_EPARSE, RD_EINVAL (schema), RD_ELIMIT, RD_ENOMEM. Thread-safe. */
RD_API int rd_flagset_parse(const char *json, size_t len, const rd_flagset_opts *opts, rd_flagset **out,
                            rd_err *err);
RD_API rd_flagset *rd_flagset_ref(rd_flagset *fs);
RD_API void rd_flagset_unref(rd_flagset *fs);

RD_API size_t rd_flagset_count(const rd_flagset *fs);
/* Key of the i-th flag in document order (borrowed, lives with fs). */
RD_API const char *rd_flagset_key(const rd_flagset *fs, size_t i);
/* Index of flag key (key_len bytes) in document order, or -1 when the set has no such flag.
 * A hash lookup. */
RD_API long rd_flagset_find(const rd_flagset *fs, const char *key, size_t key_len);
/* The variants of the i-th flag, name -> value, as *out (an object borrowing from fs);
 * RD_ENOTFOUND when i is out of range. */
RD_API int rd_flagset_variants(const rd_flagset *fs, size_t i, rd_value *out);
/* The targeting of the i-th flag as written in the file, its `$ref`s unresolved (a value
 * borrowing from fs), RD_VNULL when the flag has none; RD_ENOTFOUND when i is out of range. */
RD_API int rd_flagset_targeting(const rd_flagset *fs, size_t i, rd_value *out);
/* The flag set's own metadata object (borrowed). */
RD_API const rd_value *rd_flagset_metadata(const rd_flagset *fs);

/* OpenFeature resolution details. Pointers are borrowed from the flag set or the scratch
 * arena passed to rd_flag_eval, valid until that arena's reset while fs lives. */
typedef struct rd_resolution {
    bool has_value; /* false: the caller's default applies */
    rd_value value;
    const char *variant; /* NULL when none */
    rd_reason reason;
    rd_flag_error error;       /* RD_FLAG_OK unless reason is RD_REASON_ERROR */
    const char *error_message; /* NULL when error is RD_FLAG_OK */
    const rd_value *metadata;  /* an object, never NULL */
} rd_resolution;

/* Evaluate flag `key` for context ctx (an object, or NULL for none) as type. The context's
 * objects must not repeat a key (rd_json_parse guarantees it; it keeps the last value). timestamp is
 * what `$flagd.timestamp` reads (unix seconds; 0 means now). Never fails: every problem is
 * reported in out (reason ERROR with an error code). Thread-safe on a shared fs with one
 * scratch arena per thread. */
RD_API void rd_flag_eval(const rd_flagset *fs, const char *key, size_t key_len, rd_flag_type type,
                         const rd_value *ctx, int64_t timestamp, rd_arena *scratch, rd_resolution *out);

/* Names as OpenFeature spells them: "TARGETING_MATCH", "FLAG_NOT_FOUND", "boolean", ... */
RD_API const char *rd_reason_name(rd_reason r);
RD_API const char *rd_flag_error_name(rd_flag_error e);
RD_API const char *rd_flag_type_name(rd_flag_type t);
/* Parse a type name ("boolean", "string", "integer", "float", "object"); RD_EINVAL if unknown. */
RD_API int rd_flag_type_parse(const char *name, rd_flag_type *out);

#endif
