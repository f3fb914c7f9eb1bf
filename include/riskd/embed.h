/* riskd inside another language's process: the calls the Python package (python/riskd) makes
 * through ctypes. Plain C types cross the boundary (JSON text, flat arrays, NUL-terminated
 * strings), so a binding never mirrors the library's structs; every rule stays here. A
 * bundle opened here decides through rd_decide with the same decider `riskd score` builds, so
 * a notebook, the batch CLI and the service run the same compiled code on the same row.
 *
 * Text the library hands to the caller is allocated with malloc and freed with
 * rd_embed_free. Errors are codes with a message (rd_err), which the binding raises. */
#ifndef RISKD_EMBED_H
#define RISKD_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/err.h"

/* Free text or an array the library allocated for the caller (NULL is fine). */
RD_API void rd_embed_free(void *p);

/* ------------------------------------------------------------------ bundles (bundle.c) */

typedef struct rd_embed_bundle rd_embed_bundle;

/* Load the bundle in dir and verify it as `riskd bundle verify` does (checksums, digest, the
 * embedded samples re-predicted); *checked receives the samples re-scored. fallback_path: rules
 * for a bundle that has none (NULL: none); deadline_ms: a row's deadline (0: none, the
 * bundle's serving.deadline_ms applies when it sets one). No circuit breaker: a batch must not
 * switch to the fallback rules because of how fast earlier rows went. */
RD_API int rd_embed_bundle_open(const char *dir, const char *fallback_path, int deadline_ms,
                                rd_embed_bundle **out, size_t *checked, rd_err *err);
RD_API void rd_embed_bundle_free(rd_embed_bundle *eb);

/* What the binding needs to know of the bundle, as a JSON object (rd_embed_free):
 * {"name", "digest", "float32", "has_probability", "points", "output_kind", "num_reasons",
 *  "num_features", "features": [names], "inputs": [{"name", "type": "number"|"category",
 *  "required", "levels": [...] (categories)}], "mask_words", "manifest": {...},
 *  "reference": {...} or null (reference.json as loaded), "signed"}. */
RD_API int rd_embed_bundle_info(const rd_embed_bundle *eb, char **json, rd_err *err);

/* A column of a frame: numbers (NaN: a missing value), or codes into levels (-1: missing). */
typedef struct rd_embed_column {
    const char *name;
    const double *num;
    const int32_t *codes;
    const char *const *levels;
    size_t nlevels;
} rd_embed_column;

/* The rows to decide: ncols columns of n rows, or (cols NULL) JSON text holding an array of
 * n record objects, each read as POST /v1/score reads "features". */
typedef struct rd_embed_input {
    const rd_embed_column *cols;
    size_t ncols;
    const char *json;
    size_t json_len;
    size_t n;
} rd_embed_input;

/* A frame's column names against the pipeline's inputs, as `riskd score` checks a header:
 * RD_EINVAL when none is an input or a required input is absent (the message names them);
 * note receives what the rows will lack ("" when nothing). */
RD_API int rd_embed_check_columns(const rd_embed_bundle *eb, const char *const *names, size_t n, char *note,
                                  size_t note_cap, rd_err *err);

/* One decision, flat (a numpy structured array views an array of them). */
typedef struct rd_embed_row {
    int32_t rc;     /* RD_OK, or the error that refused the row (errors[i] says why) */
    int32_t source; /* 0: the model answered, 1: fallback rules */
    double score;   /* NaN when none (a fallback rule without a score) */
    double probability;
    const char *risk_level; /* borrowed from the bundle or its rules; NULL: none */
    const char *decision;
    const char *fallback_rule;   /* source 1: the rule that answered */
    const char *fallback_reason; /* source 1: timeout, error, breaker_open, unavailable */
    uint32_t nreasons;
    uint32_t nmissing, nunknown;
    uint32_t pad;
} rd_embed_row;

/* Where decisions go: arrays of n rows (k reason slots each). NULL arrays are skipped. */
typedef struct rd_embed_out {
    size_t k;                 /* reason codes wanted per row (0..16) */
    rd_embed_row *rows;       /* n */
    const char **reason_code; /* n * k; NULL past a row's nreasons */
    int32_t *reason_input;    /* n * k: the pipeline input; -1 for a rule's reason or none */
    double *reason_impact;    /* n * k; NaN when none */
    uint64_t *missing;        /* n * mask_words: bit i set when input i was missing */
    uint64_t *unknown;        /* n * mask_words: ... when input i's level is not known */
    char **errors;            /* n: why a row was refused (rd_embed_free), NULL otherwise */
} rd_embed_out;

/* Decide n rows on up to threads threads (0: one per core) as `riskd score` does: rows are
 * independent, a refused row sets its rc and errors[i] and the others go on. Returns RD_OK
 * when every row was attempted; an error for the input as a whole (JSON that is not an
 * array of n objects, a column with neither numbers nor codes). Releases no lock it does not
 * hold: call it without the interpreter's lock. */
RD_API int rd_embed_decide(const rd_embed_bundle *eb, const rd_embed_input *in, int threads,
                           rd_embed_out *out, rd_err *err);

/* One record (a JSON object) decided into the decision record POST /v1/score answers, without
 * latency_ms (rd_embed_free); request_id NULL: one is made. k -1: the bundle's count. A refused
 * record is the error. */
RD_API int rd_embed_decide_one(const rd_embed_bundle *eb, const char *json, size_t len, int k,
                               const char *request_id, char **record, rd_err *err);

/* The pipeline alone: n rows into x[n * num_features] (NaN: missing). rc[i] and errors[i] as
 * rd_embed_decide's (errors may be NULL). */
RD_API int rd_embed_prepare(const rd_embed_bundle *eb, const rd_embed_input *in, int threads, double *x,
                            int32_t *rc, char **errors, rd_err *err);

/* The model alone on a prepared matrix x[n * num_features]: out[n * outputs] of kind 0 raw
 * margin, 1 probability (the objective's transform), 2 scorecard points. */
RD_API int rd_embed_predict(const rd_embed_bundle *eb, const double *x, size_t n, int kind, int threads,
                            double *out, rd_err *err);

/* Each row's contributions to the margin: out[n * (num_features + 1)], the bias last, summing
 * to the margin: TreeSHAP for trees (rd_model_contributions, XGBoost's pred_contribs), the exact
 * Shapley values coef_j * (x_j - mean_j) for a logistic regression. RD_EINVAL for a scorecard
 * (its reasons are points lost: rd_embed_decide) and for multi-class models. */
RD_API int rd_embed_contributions(const rd_embed_bundle *eb, const double *x, size_t n, int threads,
                                  double *out, rd_err *err);

/* ------------------------------------------------------------ building bundles (build.c) */

/* Build a bundle with rd_bundle_build, the builder of `riskd bundle build`, from a JSON
 * object of its options: "name", "model_path", "pipeline_path", "data_path", "label",
 * "positive", "out_dir" (default: name), "created_by", "fallback_path", "output_kind",
 * "test_data_path" (strings), "samples" (1..1000), "reasons" (1..16), "deadline_ms"
 * (0..600000) (integers) and "risk_bands" (an array of bands, as a JSON value); null or absent
 * is the builder's default. An unknown field or one of the wrong type is refused (RD_EINVAL
 * naming it) before anything is built. On success *result receives (rd_embed_free)
 * {"dir": out_dir, "digest": the bundle's digest, "warnings": [what the build warned of]};
 * on failure the builder's error (RD_EINVAL saying what to do, RD_EIO, ...). */
RD_API int rd_embed_build(const char *opts_json, size_t len, char **result, rd_err *err);

/* The pipeline alone, without a model: the n records of rows (a JSON array of objects, each
 * read as POST /v1/score reads "features") through the pipeline of spec (pipeline.json text)
 * into x[n * num_features], in the spec's feature order (NaN: missing). What a model is
 * trained on before there is a bundle, so training and serving see the same matrix. RD_EINVAL
 * when num_features is not the spec's count or rows is not an array of n records; a record the
 * pipeline refuses fails the call, its error prefixed "row I: " (0-based). */
RD_API int rd_embed_pipeline_apply(const char *spec, size_t spec_len, const char *rows, size_t rows_len,
                                   size_t n, size_t num_features, double *x, rd_err *err);

/* ------------------------------------------------------------------ flags (flags.c) */

typedef struct rd_embed_flags rd_embed_flags;

/* A flagd flag set ($evaluators and $refs resolved), parsed as `riskd flags eval` and `riskd
 * serve --flags` parse it: lenient 0 refuses what the flagd schema forbids (riskd's default),
 * 1 accepts what flagd accepts (a flag whose targeting cannot compile then evaluates to ERROR /
 * PARSE_ERROR); fractional_version 2 (0: the default) or 3. Errors: RD_EIO (open: the file),
 * RD_EPARSE, RD_EINVAL (schema: the flag and JSON path), RD_ELIMIT, RD_ENOMEM. */
RD_API int rd_embed_flags_open(const char *path, int lenient, int fractional_version, rd_embed_flags **out,
                               rd_err *err);
RD_API int rd_embed_flags_parse(const char *json, size_t len, int lenient, int fractional_version,
                                rd_embed_flags **out, rd_err *err);
RD_API void rd_embed_flags_free(rd_embed_flags *f);
/* The flags in document order: their number, the i-th key (borrowed; NULL out of range), and
 * all keys as a JSON array (rd_embed_free). */
RD_API size_t rd_embed_flags_count(const rd_embed_flags *f);
RD_API const char *rd_embed_flags_key(const rd_embed_flags *f, size_t i);
RD_API int rd_embed_flags_keys(const rd_embed_flags *f, char **json, rd_err *err);

/* Evaluate flag key (key_len bytes) for the context (JSON text of an object; NULL, empty or
 * null: none) as type ("boolean", "string", "integer", "float", "object"; NULL: no type check,
 * as OFREP), timestamp what $flagd.timestamp reads (unix s; 0: now). *result (rd_embed_free):
 * {"key", "value" (left out when the caller's default applies), "variant", "reason",
 * "errorCode", "errorMessage", "flagMetadata"}; an unknown flag, a type mismatch or a flag that
 * fails is a result (reason ERROR, its errorCode), not an error. Errors: a context that is not
 * JSON (RD_EPARSE, RD_ELIMIT) or not an object (RD_EINVAL), an unknown type (RD_EINVAL).
 * Thread-safe. */
RD_API int rd_embed_flags_evaluate(const rd_embed_flags *f, const char *key, size_t key_len, const char *type,
                                   const char *context_json, size_t ctx_len, int64_t timestamp, char **result,
                                   rd_err *err);

/* ------------------------------------------------------------------ decision log (log.c) */

typedef struct rd_embed_log rd_embed_log;

/* The decision log of data_dir (DIR/riskd.db), or of the PostgreSQL store at pg_url when
 * given (data_dir is then ignored), opened read-only as `riskd log export` opens it. Under
 * governance (the store has a user) token must be one whose role has view_decisions
 * (RD_EUNAUTH without one, RD_EFORBIDDEN for a role without it). Errors: RD_EIO (no such
 * directory, no riskd.db), RD_EINVAL (not a riskd database), RD_ESTORE. */
RD_API int rd_embed_log_open(const char *data_dir, const char *pg_url, const char *token, rd_embed_log **out,
                             rd_err *err);
RD_API void rd_embed_log_free(rd_embed_log *l);

/* Up to max_rows (1 or more) decisions matching filter, a JSON object (NULL or empty: all)
 * {"since": ms, "until": ms ([since, until), 0 or null: open), "model_version", "kind",
 * "request_id", "outcome" (its label joined)}, with store id > after_id, oldest (lowest id)
 * first: *jsonl (rd_embed_free) holds one line per decision,
 * {"id","ts_ms","request_id","kind","model_version","label","node","record":{as logged}},
 * *nrows their number, *next_after the id to pass as after_id for the next chunk (after_id
 * when none), *done whether the log holds no more. Memory is bounded by the chunk: the scan
 * stays open between calls that continue it (same filter, after_id the last *next_after), so a
 * log of any size is read in one pass; another after_id or filter starts a new scan. A handle
 * serves one call at a time (calls on several threads wait for each other). */
RD_API int rd_embed_log_read(rd_embed_log *l, const char *filter_json, size_t filter_len, int64_t after_id,
                             size_t max_rows, char **jsonl, size_t *nrows, int64_t *next_after, bool *done,
                             rd_err *err);

#endif
