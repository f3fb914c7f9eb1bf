/* Model bundles: a directory holding a model, its pipeline, its training reference and a
 * manifest with the checksums of them all (docs/formats.md, "Bundle"). A bundle is loaded
 * whole or not at all: every checksum is verified against the very bytes that are parsed,
 * and the model, pipeline and manifest must agree on the features.
 *
 * Named {product}_{model_type}_v{major}.{minor}, e.g. credit_xgb_v1.0: a minor version
 * changes features or parameters, a major one the label, the sample or the architecture. */
#ifndef RISKD_BUNDLE_H
#define RISKD_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/csv.h"
#include "riskd/err.h"
#include "riskd/fallback.h"
#include "riskd/model.h"
#include "riskd/pipeline.h"
#include "riskd/value.h"

typedef struct rd_bundle rd_bundle;

#define RD_BUNDLE_MAX_REASONS 16

/* Split a bundle name into its parts: product ([a-z0-9_], starting with a letter),
 * model_type ([a-z0-9], starting with a letter), major and minor (0..99999). RD_EINVAL with
 * the rule broken. */
RD_API int rd_bundle_name_parse(const char *name, char *product, size_t product_cap, char *model_type,
                                size_t type_cap, unsigned *major, unsigned *minor, rd_err *err);

/* Load the bundle in directory dir. Errors name the file and the fault:
 * "credit_xgb_v1.0/model.json: checksum mismatch (...)". */
RD_API int rd_bundle_load(const char *dir, rd_bundle **out, rd_err *err);
RD_API void rd_bundle_free(rd_bundle *b);

RD_API const char *rd_bundle_name(const rd_bundle *b);
/* The bundle's digest: the SHA-256 (hex) of its manifest.json as loaded, which lists the
 * SHA-256 of every other file: what a decision record names to say which bundle decided. */
RD_API const char *rd_bundle_digest(const rd_bundle *b);
RD_API const rd_model *rd_bundle_model(const rd_bundle *b);
RD_API const rd_pipeline *rd_bundle_pipeline(const rd_bundle *b);
/* The parsed manifest (borrowed). */
RD_API const rd_value *rd_bundle_manifest(const rd_bundle *b);
/* Whether the score is scorecard points (higher is safer) rather than a probability. */
RD_API bool rd_bundle_score_is_points(const rd_bundle *b);
/* Whether the score is a probability of the positive class (output.kind "probability"),
 * rather than points, a margin or another model output ("score" of a regression or ranking
 * model, higher riskier): only then do scores lie in [0, 1]. */
RD_API bool rd_bundle_score_is_probability(const rd_bundle *b);
/* Reason codes per decision the manifest asks for. */
RD_API size_t rd_bundle_num_reasons(const rd_bundle *b);

/* One decision's outcome. */
typedef struct rd_score {
    double score;           /* what the bands are over: the probability of the positive class, the
                               points, the margin or the model's output (the manifest's output.kind) */
    double probability;     /* the probability of the positive class; for a model that gives none
                               (output.kind score or margin of a regression, ranking,
                               binary:logitraw ...) the model's output */
    const char *risk_level; /* the risk band's level (borrowed from the bundle) */
    const char *decision;   /* the band's decision, or NULL when the band names none */
    rd_pipeline_report report;
    size_t nreasons;
    rd_reason_code reasons[RD_BUNDLE_MAX_REASONS]; /* index: the pipeline input */
} rd_score;

/* Score one raw record (an object of input values): pipeline, model, risk band, and the
 * top k reasons (k <= RD_BUNDLE_MAX_REASONS; 0 skips them, TreeSHAP being the costly
 * part). A record the pipeline refuses gives its error (RD_ETYPE, RD_EINVAL). Thread-safe. */
RD_API int rd_bundle_score(const rd_bundle *b, const rd_value *record, size_t k, rd_score *out, rd_err *err);

/* Score one record in two steps, so a record prepared once can be scored by several
 * bundles that share the pipeline (shadows), and the model alone runs under a deadline:
 * rd_bundle_prepare fills x[rd_bundle_num_features] and the report (RD_ETYPE, RD_EINVAL for a
 * record the pipeline refuses: the caller's fault); rd_bundle_score_prepared predicts, bands
 * and explains x, keeping out->report as prepare left it. deadline: monotonic ns (0: none);
 * RD_ETIMEOUT when it passes, RD_ENOMEM (the model's fault), RD_EINVAL for an output or impact
 * that is not a finite number (inputs at the edge of the doubles: the record's fault). rd_bundle_score is the
 * two in one. */
RD_API size_t rd_bundle_num_features(const rd_bundle *b);
RD_API int rd_bundle_prepare(const rd_bundle *b, const rd_value *record, double *x,
                             rd_pipeline_report *report, rd_err *err);
RD_API int rd_bundle_score_prepared(const rd_bundle *b, const double *x, size_t k, int64_t deadline,
                                    rd_score *out, rd_err *err);
/* The risk band of a score: its level and decision (NULL when the band names none). */
RD_API void rd_bundle_band(const rd_bundle *b, double score, const char **level, const char **decision);
/* Whether two bundles prepare records identically (the same pipeline file, by checksum). */
RD_API bool rd_bundle_same_pipeline(const rd_bundle *a, const rd_bundle *b);
/* The bundle's fallback rules (fallback.json), or NULL when it has none. */
RD_API const rd_fallback *rd_bundle_fallback(const rd_bundle *b);
/* The manifest's serving.deadline_ms, or 0 when it sets none (the service's applies). */
RD_API int rd_bundle_deadline_ms(const rd_bundle *b);

/* A CSV record (fields from rd_csv_next) as the object of strings keyed by column name that
 * rd_bundle_score takes, built in members (rd_csv_num_columns entries); it borrows fields. */
RD_API void rd_bundle_csv_record(const rd_csv *c, char **fields, rd_member *members, rd_value *out);

/* The input a reason names, and its code (the manifest's reason_codes map, else the name). */
RD_API const char *rd_bundle_reason_name(const rd_bundle *b, uint32_t input);
RD_API const char *rd_bundle_reason_code(const rd_bundle *b, uint32_t input);

/* Re-score the sample rows the manifest embeds and compare with their recorded outputs
 * (float32 models exactly, float64 ones within 1e-12 relative, reasons exactly). *checked
 * receives the number of samples. */
RD_API int rd_bundle_verify(const rd_bundle *b, size_t *checked, rd_err *err);

/* Building a bundle from a model, a pipeline spec and a data set. */
typedef struct rd_bundle_build_opts {
    const char *name;          /* {product}_{model_type}_v{major}.{minor} */
    const char *model_path;    /* XGBoost JSON, LightGBM text, scorecard or logistic JSON */
    const char *pipeline_path; /* pipeline.json; NULL for a scorecard: derived from its bins */
    const char *data_path;     /* CSV of raw applications (the training sample) */
    const char *label;         /* label column, or NULL: no training metrics */
    const char *positive;      /* the label value of the positive class (default "1") */
    const char *risk_bands;    /* JSON array of bands, or NULL: from the score quantiles */
    const char *out_dir;       /* the bundle directory to create (must not exist) */
    const char *created_by;    /* NULL: $USER */
    size_t samples;            /* sample rows embedded for verify (default 20) */
    size_t reasons;            /* reason codes per decision (default 4) */
    const char *fallback_path; /* fallback rules to pack as fallback.json, or NULL */
    int deadline_ms;           /* serving.deadline_ms in the manifest; 0: none */
    /* output.kind: "probability" (default; the model's objective must give one), "score"
     * (a scorecard's points, the default for a scorecard, or the output of a regression or
     * ranking model) or "margin" (the raw margin); NULL: the default */
    const char *output_kind;
    const char *test_data_path; /* a holdout CSV (needs label): metrics on it too, or NULL */
    /* progress over the data set, in bytes; may be NULL */
    void (*progress)(void *ud, uint64_t done, uint64_t total);
    void *progress_ud;
    /* each warning, as it is found (also recorded in the manifest's checks.warnings); may be
     * NULL. msg is borrowed for the call. */
    void (*warn)(void *ud, const char *msg);
    void *warn_ud;
} rd_bundle_build_opts;

/* Build the bundle into opts->out_dir (written aside, then renamed into place, then loaded
 * and verified). A row of the data set the pipeline refuses fails the build with its line.
 * Refused with RD_EINVAL and a message saying what to do (docs/mistakes.md): a pipeline input
 * or the label that is not a column of the data (near matches, a lower-cased header, a
 * file separated by ';' are named), a positive value the label never takes, a label with
 * one class, an output kind the model's objective does not give (a probability from
 * binary:logitraw, a regression, a ranking), risk bands with a gap or an overlap or cuts
 * outside the score's range ((0, 1] for a probability, the training scores' range for the
 * others). Warned (opts->warn and the manifest): an AUC below 0.5, an input missing in more
 * than half the rows. */
RD_API int rd_bundle_build(const rd_bundle_build_opts *opts, rd_err *err);

#endif
