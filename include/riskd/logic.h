/* JSONLogic, compiled once into a tree and evaluated many times, with flagd's custom
 * operators (fractional, sem_ver, starts_with, ends_with).
 *
 * Semantics follow Go flagd's engine (github.com/diegoholiveira/jsonlogic) wherever the
 * engines differ; docs/formats.md lists every such choice. Evaluation never calls malloc
 * once the scratch arena has grown to the rule's needs, and a compiled rule is immutable,
 * so many threads may evaluate one rule at once, each with its own scratch arena. */
#ifndef RISKD_LOGIC_H
#define RISKD_LOGIC_H

#include <stdbool.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/value.h"

typedef struct rd_logic rd_logic;

typedef struct rd_logic_opts {
    int max_depth;          /* nesting of operations, default 64; recursion is bounded by it */
    size_t max_nodes;       /* operations and literals, default 100,000 */
    int fractional_version; /* 2 (default, flagd today) or 3 (CBOR-hashed bucketing keys) */
} rd_logic_opts;

/* flagd's context enrichment: while evaluating, `$flagd.flagKey` and `$flagd.timestamp` read
 * these (overriding any `$flagd` the caller sent) when flagd is true. */
typedef struct rd_logic_env {
    bool flagd;
    const char *flag_key; /* borrowed for the call */
    uint32_t flag_key_len;
    int64_t timestamp; /* unix seconds */
} rd_logic_env;

/* Compile a rule. Literals are copied, so rule need not outlive the result. On success
 * *out is owned by the caller (rd_logic_free). Errors: RD_EPARSE for an unknown operator
 * (the message names it and its JSON path), RD_ELIMIT for depth or size, RD_ENOMEM. */
RD_API int rd_logic_compile(const rd_value *rule, const rd_logic_opts *opts, rd_logic **out, rd_err *err);
RD_API void rd_logic_free(rd_logic *l);

/* Evaluate l over data. The result may point into l, data or scratch: it is valid until
 * scratch is reset and as long as l and data live. env may be NULL.
 * Errors: RD_EPARSE when the engine fails on these inputs (Go's engine panics or errors,
 * which flagd reports as PARSE_ERROR), RD_ENOMEM when scratch cannot grow. */
RD_API int rd_logic_eval(const rd_logic *l, const rd_value *data, const rd_logic_env *env, rd_arena *scratch,
                         rd_value *out, rd_err *err);

/* JSONLogic's truthiness: null, false, 0, -0, "", [] and {} are false; anything else true. */
RD_API bool rd_logic_truthy(const rd_value *v);

#endif
