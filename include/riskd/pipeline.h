/* The feature pipeline: a declarative spec (pipeline.json) that turns a raw application
 * record into the model's feature vector, the same code for online scoring, batch scoring
 * and notebooks.
 *
 * Spec (a JSON object; docs/formats.md):
 *   {"dtype": "float32"|"float64", "max_missing": 2 | "40%", "unknown_inputs": "reject"|"warn"|"ignore",
 *    "inputs":   [{"name": "Age", "type": "number", "min": 18, "max": 120, "required": true},
 *                 {"name": "Home", "type": "category", "levels": ["owner", "rent", ...]}],   (optional)
 *    "features": [{"name": "Age", "source": "Age", "kind": "numeric"},
 *                 {"name": "Home=rent", "source": "Home", "kind": "one_hot", "level": "rent"}]}
 * Inputs not declared are inferred from the features (numeric -> number, one_hot ->
 * category). A missing value (absent, null, or "") is not an error: a numeric feature becomes
 * NaN (the model's missing rule applies), a one-hot group all zeros. An unknown category
 * level is counted and encodes like a missing one. A value of the wrong type, a number that
 * does not parse, or one outside [min, max] is an error for that record.
 *
 * A pipeline is immutable once parsed; many threads may apply one at once. */
#ifndef RISKD_PIPELINE_H
#define RISKD_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/value.h"

typedef struct rd_pipeline rd_pipeline;

/* Parse a spec. On success *out is the caller's (rd_pipeline_free); on failure err names the
 * JSON path of the fault ("features[3].level: missing"). */
RD_API int rd_pipeline_parse(const char *json, size_t len, rd_pipeline **out, rd_err *err);
RD_API int rd_pipeline_load_file(const char *path, rd_pipeline **out, rd_err *err);
RD_API void rd_pipeline_free(rd_pipeline *p);

RD_API size_t rd_pipeline_num_features(const rd_pipeline *p);
/* Name of output feature i (borrowed). */
RD_API const char *rd_pipeline_feature_name(const rd_pipeline *p, size_t i);
RD_API size_t rd_pipeline_num_inputs(const rd_pipeline *p);
/* Name of raw input i (borrowed). */
RD_API const char *rd_pipeline_input_name(const rd_pipeline *p, size_t i);
/* The raw input output feature i is made from (one-hot features of one input share it, so
 * reason codes can be summed per input). */
RD_API size_t rd_pipeline_feature_input(const rd_pipeline *p, size_t i);
/* Whether raw input i is a number (else a category). */
RD_API bool rd_pipeline_input_is_number(const rd_pipeline *p, size_t i);

/* Write the pipeline spec of a WOE scorecard (the scorecard JSON of docs/formats.md) to out:
 * one input per characteristic, one "woe" feature binning it exactly as the scorecard does,
 * in the scorecard's feature order. */
RD_API int rd_pipeline_spec_from_scorecard(const char *json, size_t len, rd_buf *out, rd_err *err);

/* What applying the pipeline to one record saw. */
#define RD_PIPELINE_REPORT_MAX       32
#define RD_PIPELINE_UNRECOGNISED_MAX 8
typedef struct rd_pipeline_report {
    uint32_t missing; /* inputs absent, null or "" */
    uint32_t unknown; /* category levels the spec does not list */
    /* which inputs, in input order: the first RD_PIPELINE_REPORT_MAX of each */
    uint32_t missing_inputs[RD_PIPELINE_REPORT_MAX];
    uint32_t unknown_inputs[RD_PIPELINE_REPORT_MAX];
    /* rd_pipeline_check: names in the record that are no input (borrowed from the record) */
    uint32_t nunrecognised;
    const char *unrecognised[RD_PIPELINE_UNRECOGNISED_MAX];
} rd_pipeline_report;

/* What to do with a record's names that are no input of the pipeline. DEFAULT: the spec's
 * unknown_inputs, else reject. */
typedef enum rd_unknown_policy {
    RD_UNKNOWN_DEFAULT = 0,
    RD_UNKNOWN_REJECT,
    RD_UNKNOWN_WARN,
    RD_UNKNOWN_IGNORE,
} rd_unknown_policy;

/* The spec's unknown_inputs, or RD_UNKNOWN_DEFAULT when it sets none. */
RD_API rd_unknown_policy rd_pipeline_unknown_policy(const rd_pipeline *p);
/* The index of the input named name (len bytes), or -1: a hash lookup. */
RD_API long rd_pipeline_find_input(const rd_pipeline *p, const char *name, size_t len);
/* Whether raw input i is declared "required". */
RD_API bool rd_pipeline_input_required(const rd_pipeline *p, size_t i);

/* Refuse a record the pipeline cannot decide soundly (RD_EINVAL, the message naming the
 * inputs): names that are no input (unless the policy, or the spec's, is warn or ignore;
 * warn lists them in report->unrecognised), no input given at all, a required input missing,
 * more inputs missing than the spec's max_missing. Allocates nothing up to 1,024 inputs. */
RD_API int rd_pipeline_check(const rd_pipeline *p, const rd_value *record, rd_unknown_policy unknown,
                             rd_pipeline_report *report, rd_err *err);

/* Turn record (an object: input name -> number, numeric string, or level) into
 * out[rd_pipeline_num_features]. report may be NULL. Errors: RD_ETYPE or RD_EINVAL, the
 * message naming the input and the value's fault; out is then undefined. Allocates nothing. */
RD_API int rd_pipeline_apply(const rd_pipeline *p, const rd_value *record, double *out,
                             rd_pipeline_report *report, rd_err *err);

/* A batch's header against the inputs (a CSV's columns): RD_EINVAL when no column is an input
 * (a ';'-separated file, a re-cased header: the columns and the inputs they probably meant are
 * named) or a required input is not a column. Otherwise note (note_cap bytes) says what the
 * rows will lack: inputs missing in every row, columns not used ("" when nothing). */
RD_API int rd_pipeline_check_columns(const rd_pipeline *p, const char *const *cols, size_t ncols, char *note,
                                     size_t note_cap, rd_err *err);

#endif
