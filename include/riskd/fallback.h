/* Fallback rules: what answers when a model cannot (its deadline passed, it failed, its
 * circuit breaker is open, or the bundle routed to is not loaded).
 *
 * A rule file is a JSON object (docs/formats.md, "Fallback rules"):
 *   {"version": "2026-12-01",
 *    "rules": [{"name": "thin-file", "when": <JSONLogic>, "score": null, "risk_level": "HIGH",
 *               "decision": "review", "reason": "FALLBACK_THIN_FILE"},
 *              ...,
 *              {"name": "default", "risk_level": "HIGH", "decision": "reject",
 *               "reason": "FALLBACK_DEFAULT"}]}
 * Rules are tried in order; the first whose `when` is truthy answers. `when` reads
 * {"features": {...}, "context": {...}}: every `var` must start with "features." or
 * "context." (a bare name would read nothing, and the rule would never fire, silently). The
 * last rule has no `when` and answers everything else; it may not approve, since it decides
 * for applicants no rule looked at. Unknown keys are refused, so a misspelled "whne" cannot
 * turn a rule into a catch-all. Compiled once; immutable and refcounted, so any number of
 * threads evaluate one set at once. */
#ifndef RISKD_FALLBACK_H
#define RISKD_FALLBACK_H

#include <stdbool.h>
#include <stddef.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/value.h"

typedef struct rd_fallback rd_fallback;

/* The largest rule file read (1 MiB). */
#define RD_FALLBACK_MAX_BYTES (1u << 20)

/* Parse and compile a rule file. Errors name the rule and the fault:
 * "rules[2] (\"thin-file\"): when: unknown operator \"=~\"". *out has one reference. */
RD_API int rd_fallback_parse(const char *json, size_t len, rd_fallback **out, rd_err *err);
RD_API int rd_fallback_load_file(const char *path, rd_fallback **out, rd_err *err);
RD_API rd_fallback *rd_fallback_ref(rd_fallback *f);
RD_API void rd_fallback_unref(rd_fallback *f);

/* The file's "version" ("" when it names none) and the SHA-256 of its bytes (hex), which a
 * decision records so a replay knows exactly which rules answered. */
RD_API const char *rd_fallback_version(const rd_fallback *f);
RD_API const char *rd_fallback_sha256(const rd_fallback *f);
/* The very bytes that were compiled (their SHA-256 is rd_fallback_sha256): what the decision
 * log keeps, so a replay reads the rules that decided, not the file as it is now. */
RD_API const char *rd_fallback_text(const rd_fallback *f, size_t *len);
RD_API size_t rd_fallback_count(const rd_fallback *f);
/* The inputs the rules read (features.NAME in var, missing, missing_some), distinct, in first
 * use order: a bundle checks them against its pipeline, so a rule over a misspelt input,
 * which would silently never fire, is refused. */
RD_API size_t rd_fallback_num_features(const rd_fallback *f);
RD_API const char *rd_fallback_feature(const rd_fallback *f, size_t i);

/* The rule that answered. Strings are borrowed from the rule set. */
typedef struct rd_fallback_result {
    size_t rule;      /* its index */
    const char *name; /* its name ("rules[3]" when it has none) */
    bool has_score;   /* false: the rule gives no score (null) */
    double score;
    const char *risk_level; /* "HIGH" */
    const char *decision;   /* "approve", "review" or "reject" */
    const char *reason;     /* the reason code sent with the decision */
} rd_fallback_result;

/* Evaluate the rules over features and context (either may be NULL: read as null). A rule
 * whose `when` fails to evaluate (a type the operator refuses) does not fire: the next rule
 * is tried, and the default always answers. scratch holds temporaries. Never fails. */
RD_API void rd_fallback_eval(const rd_fallback *f, const rd_value *features, const rd_value *context,
                             rd_arena *scratch, rd_fallback_result *out);

#endif
