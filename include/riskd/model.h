/* Models: tree ensembles and scorecards compiled into flat arrays, predicting exactly what
 * the training library predicts.
 *
 * A model is immutable once loaded, so any number of threads may predict with it at once.
 * Today: XGBoost JSON (1.7 layout and the 2.x/3.x changes) and LightGBM text (model.txt v2-v4).
 * Scorecards and TreeSHAP reason codes come next (issue 3). */
#ifndef RISKD_MODEL_H
#define RISKD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/err.h"

typedef struct rd_model rd_model;

typedef enum rd_model_kind {
    RD_MODEL_XGBOOST = 1,
    RD_MODEL_LIGHTGBM = 2,
    RD_MODEL_SCORECARD = 3, /* WOE logistic scorecard: inputs are WOE values (the pipeline bins) */
    RD_MODEL_LOGISTIC = 4,  /* plain logistic regression */
} rd_model_kind;

typedef enum rd_output {
    RD_OUTPUT_RAW = 0,     /* the margin: sum of leaves plus the base margin */
    RD_OUTPUT_PROBABILITY, /* the objective's transform of the margin (sigmoid, softmax, exp, ...) */
    RD_OUTPUT_SCORE,       /* scorecards only: the points, offset - factor * margin (higher is safer);
                              rd_model_num_outputs is 0 for the other models */
} rd_output;

/* Load an XGBoost JSON model (the text of a model saved with save_model("x.json")).
 * On success *out is owned by the caller (rd_model_free). Errors name the JSON path of the
 * fault: RD_EPARSE (not JSON), RD_EINVAL (not a model XGBoost could have written, or a
 * feature this loader does not support yet, e.g. "gblinear"), RD_ELIMIT, RD_ENOMEM. */
RD_API int rd_model_load_xgboost(const char *json, size_t len, rd_model **out, rd_err *err);
/* Load a LightGBM text model (the text of a model saved with save_model("model.txt"), versions
 * v2 to v4: numerical splits with every missing type, categorical bitset splits, linear leaves,
 * multi-class, average_output (random forest) and every LightGBM objective's output transform).
 * Predictions are LightGBM's, bit for bit, computed in double (rd_model_is_float32 is false):
 * - x[f] is feature f of the model (feature_names order). Inputs with |x| <= 1e-35 count as 0,
 *   as in every LightGBM input path; NaN is missing.
 * - A categorical feature takes the category's integer code. A model trained from pandas
 *   `category` columns lists their categories in the file's last line,
 *   pandas_categorical:[["R11","R21",...],...] (one list per categorical column, in column
 *   order): the code of a value is its position in its list, and a value not in the list must
 *   be passed as NaN (it goes right, as LightGBM sends it). The loader does not read that line.
 * - RD_OUTPUT_RAW is LightGBM's raw_score: the sum of the trees, also for average_output (random
 *   forest) models, whose RD_OUTPUT_PROBABILITY averages before the transform, as LightGBM does.
 *   rd_model_num_outputs is the class count for both kinds.
 * On success *out is owned by the caller (rd_model_free). Errors name the tree, the key and
 * the line of the fault ("tree 3: left_child has 5 entries, num_leaves-1 is 6"): RD_EINVAL for
 * anything LightGBM would not have written (a bad count, a child that is not a node or leaf of
 * its tree, a cycle, a tree deeper than 1024 levels, an unknown objective, a file that ends
 * with neither "end of trees" nor a tree_sizes line to count its trees), RD_ENOMEM. Thread-safe. */
RD_API int rd_model_load_lightgbm(const char *text, size_t len, rd_model **out, rd_err *err);
/* Load a JSON model: a scorecard ("type": "woe_logistic_scorecard", the format of
 * docs/formats.md), a logistic regression ("type": "logistic_regression": features, coef,
 * intercept, optional means), or else an XGBoost model. */
RD_API int rd_model_load_json(const char *json, size_t len, rd_model **out, rd_err *err);

/* Load a model file, choosing the format from its content (a JSON object: rd_model_load_json;
 * LightGBM: the first line is "tree"). */
RD_API int rd_model_load_file(const char *path, rd_model **out, rd_err *err);
/* The same for a model's text already in memory. */
RD_API int rd_model_load_buffer(const char *text, size_t len, rd_model **out, rd_err *err);
/* The largest model file riskd reads (512 MiB). */
#define RD_MODEL_MAX_BYTES (512u << 20)
RD_API void rd_model_free(rd_model *m);

RD_API rd_model_kind rd_model_get_kind(const rd_model *m);
/* Inputs the model reads (feature vectors have this length). */
RD_API size_t rd_model_num_features(const rd_model *m);
/* Name of feature i (borrowed), or NULL when the model stores none. */
RD_API const char *rd_model_feature_name(const rd_model *m, size_t i);
/* Values per prediction of the given kind: 1 for regression and binary models, the class
 * count for multi-class ones (1 for the predicted class of multi:softmax probabilities). */
RD_API size_t rd_model_num_outputs(const rd_model *m, rd_output kind);
/* Whether the model computes in float32 (XGBoost) rather than double (LightGBM): print its
 * outputs with %.9g of the float, the others with %.17g. */
RD_API bool rd_model_is_float32(const rd_model *m);
/* Whether RD_OUTPUT_PROBABILITY is a probability of the positive class: true for XGBoost's
 * binary:logistic and reg:logistic, LightGBM's binary and cross_entropy, scorecards and
 * logistic regressions; false for margins (binary:logitraw), classes (binary:hinge,
 * multi:softmax), regressions, rankings and multi-class models, whose output is some other
 * score (a bundle must then declare output.kind score or margin). */
RD_API bool rd_model_outputs_probability(const rd_model *m);
/* The objective as the training library names it ("binary:logistic"; LightGBM: its objective
 * line, "binary sigmoid:1", at most 47 characters, "" when the file has none). */
RD_API const char *rd_model_objective(const rd_model *m);

/* Predict one row: x holds rd_model_num_features values, NaN meaning missing; out receives
 * rd_model_num_outputs(m, kind) values. Allocates nothing for up to 16 outputs; thread-safe. */
RD_API void rd_model_predict(const rd_model *m, const double *x, rd_output kind, double *out);

/* rd_model_predict with a deadline (monotonic ns, rd_clock_ns; 0: none), checked between
 * blocks of trees so a slow model is cut off, not waited for: RD_ETIMEOUT past it. The
 * outputs are the same bits as rd_model_predict's. */
RD_API int rd_model_predict_until(const rd_model *m, const double *x, rd_output kind, double *out,
                                  int64_t deadline, rd_err *err);

/* Predict nrows rows stored row after row (x[r * num_features + f]) into out
 * (out[r * num_outputs + k]), with up to threads threads (0: one per core). */
RD_API int rd_model_predict_batch(const rd_model *m, const double *x, size_t nrows, rd_output kind,
                                  double *out, int threads, rd_err *err);

/* TreeSHAP contributions (exact path-dependent TreeSHAP over the covers stored in the model:
 * XGBoost's sum_hessian, as its pred_contribs; LightGBM's internal_count/leaf_count, as its
 * pred_contrib; LightGBM's raw margin is not averaged for average_output): out receives, per output group,
 * num_features values and then the bias (the expected margin), so (num_features + 1) * groups values; each
 * group's sum is its margin. RD_EINVAL when the model stores no covers. Thread-safe; allocates scratch. */
RD_API int rd_model_contributions(const rd_model *m, const double *x, double *out, rd_err *err);

/* How much each feature pushed the risk up for row x, one value per feature (positive:
 * riskier). Tree models: TreeSHAP contributions to the margin (binary and regression models);
 * scorecards: points lost against the best attribute (max_points - points, never negative);
 * logistic regression: coef * (x - mean). RD_EINVAL for multi-class models and trees without
 * covers.
 * Thread-safe. */
RD_API int rd_model_impacts(const rd_model *m, const double *x, double *impact, rd_err *err);

/* A reason code: the index of a feature (or input) and its impact. */
typedef struct rd_reason_code {
    uint32_t index;
    double impact;
} rd_reason_code;

/* The at most k largest positive impacts of n, largest first, ties by lower index (the
 * scorecard reason-code rule). Returns how many were written to out. */
RD_API size_t rd_reasons_top(const double *impact, size_t n, size_t k, rd_reason_code *out);

#endif
