/* Models: tree ensembles and scorecards compiled into flat arrays, predicting exactly what
 * the training library predicts.
 *
 * A model is immutable once loaded, so any number of threads may predict with it at once.
 * Today: XGBoost JSON (1.7 layout and the 2.x/3.x changes). LightGBM text, scorecards and
 * TreeSHAP reason codes come next (issue 3). */
#ifndef RISKD_MODEL_H
#define RISKD_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "riskd/err.h"

typedef struct rd_model rd_model;

typedef enum rd_model_kind {
    RD_MODEL_XGBOOST = 1,
} rd_model_kind;

typedef enum rd_output {
    RD_OUTPUT_RAW = 0,     /* the margin: sum of leaves plus the base margin */
    RD_OUTPUT_PROBABILITY, /* the objective's transform of the margin (sigmoid, softmax, exp, ...) */
} rd_output;

/* Load an XGBoost JSON model (the text of a model saved with save_model("x.json")).
 * On success *out is owned by the caller (rd_model_free). Errors name the JSON path of the
 * fault: RD_EPARSE (not JSON), RD_EINVAL (not a model XGBoost could have written, or a
 * feature this loader does not support yet, e.g. "gblinear"), RD_ELIMIT, RD_ENOMEM. */
RD_API int rd_model_load_xgboost(const char *json, size_t len, rd_model **out, rd_err *err);
/* Load a model file, choosing the format from its content. */
RD_API int rd_model_load_file(const char *path, rd_model **out, rd_err *err);
RD_API void rd_model_free(rd_model *m);

RD_API rd_model_kind rd_model_get_kind(const rd_model *m);
/* Inputs the model reads (feature vectors have this length). */
RD_API size_t rd_model_num_features(const rd_model *m);
/* Name of feature i (borrowed), or NULL when the model stores none. */
RD_API const char *rd_model_feature_name(const rd_model *m, size_t i);
/* Values per prediction of the given kind: 1 for regression and binary models, the class
 * count for multi-class ones (1 for the predicted class of multi:softmax probabilities). */
RD_API size_t rd_model_num_outputs(const rd_model *m, rd_output kind);
/* Whether the model computes in float32 (XGBoost) rather than double: print its outputs
 * with %.9g of the float, the others with %.17g. */
RD_API bool rd_model_is_float32(const rd_model *m);
/* The objective as the training library names it ("binary:logistic"). */
RD_API const char *rd_model_objective(const rd_model *m);

/* Predict one row: x holds rd_model_num_features values, NaN meaning missing; out receives
 * rd_model_num_outputs(m, kind) values. Allocates nothing for up to 16 outputs; thread-safe. */
RD_API void rd_model_predict(const rd_model *m, const double *x, rd_output kind, double *out);

/* Predict nrows rows stored row after row (x[r * num_features + f]) into out
 * (out[r * num_outputs + k]), with up to threads threads (0: one per core). */
RD_API int rd_model_predict_batch(const rd_model *m, const double *x, size_t nrows, rd_output kind,
                                  double *out, int threads, rd_err *err);

/* TreeSHAP contributions (exact path-dependent TreeSHAP over the covers stored in the model,
 * as XGBoost's pred_contribs): out receives, per output group, num_features values and then
 * the bias (the expected margin), so (num_features + 1) * groups values; each group's sum is
 * its margin. RD_EINVAL when the model stores no covers. Thread-safe; allocates scratch. */
RD_API int rd_model_contributions(const rd_model *m, const double *x, double *out, rd_err *err);

#endif
