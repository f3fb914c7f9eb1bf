/* Models: loading by format, accessors, and batch prediction over threads.
 *
 * Invariant: a loaded model is never written again; prediction reads it only. */
#include <stdlib.h>
#include <string.h>

#include "model_int.h"
#include "riskd/arena.h"
#include "riskd/json.h"
#include "riskd/parallel.h"

int rd_model_load_xgboost(const char *json, size_t len, rd_model **out, rd_err *err)
{
    return rd__xgboost_load(json, len, out, err);
}

int rd_model_load_lightgbm(const char *text, size_t len, rd_model **out, rd_err *err)
{
    return rd__lightgbm_load(text, len, out, err);
}

int rd_model_load_json(const char *json, size_t len, rd_model **out, rd_err *err)
{
    /* XGBoost models are the large ones: they are parsed once, by their loader (which reads
     * numbers as float32 and accepts XGBoost's bare NaN). Only a document it refuses is parsed
     * again, to see whether it is a linear model, which names its "type"; if not, the
     * XGBoost loader's error stands. */
    int rc = rd__xgboost_load(json, len, out, err);
    if (rc == RD_OK || rc == RD_ENOMEM)
        return rc;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value root;
    rd_err scratch;
    int prc = rd_json_parse(json, len, NULL, &a, &root, &scratch);
    if (prc == RD_ENOMEM) /* the XGBoost loader's complaint may be about a model it never saw whole */
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    else if (prc == RD_OK && root.type == RD_VOBJECT && rd__linear_type(&root))
        rc = rd__linear_load(&root, out, err);
    rd_arena_deinit(&a);
    return rc;
}

#define SAVE_JSON "riskd reads XGBoost's JSON format: save the model with `save_model('model.json')`"

/* The formats a model is often saved in that riskd does not read, told by their first bytes,
 * so the message says what to do rather than where the JSON parser stopped: UBJSON (XGBoost's
 * default since 2.1, `.ubj`: '{' then a type marker where JSON has a quote), a pickle or
 * joblib file (0x80, protocol 2 to 5), XGBoost's old binary format (`.model`, `.bin`: bytes
 * no text holds), a text dump (dump_model: "booster[0]:"). NULL when none of them. */
static const char *foreign_format(const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    if (len >= 2 && u[0] == '{' && strchr("iUIlL$#", u[1]) && u[1])
        return "an XGBoost UBJSON model (.ubj), not JSON: " SAVE_JSON;
    if (len >= 2 && u[0] == 0x80 && u[1] >= 2 && u[1] <= 5)
        return "a Python pickle (pickle.dump or joblib), not a model file: " SAVE_JSON;
    if (len >= 8 && memcmp(text, "booster[", 8) == 0)
        return "an XGBoost text dump (dump_model), which cannot be scored: " SAVE_JSON;
    for (size_t i = 0; i < len && i < 4096; i++)
        if (u[i] < 0x09 || (u[i] > 0x0d && u[i] < 0x20))
            return "a binary file (XGBoost's old binary format, .model or .bin?), not text: " SAVE_JSON
                   " (LightGBM: save_model('model.txt'))";
    return NULL;
}

int rd_model_load_buffer(const char *text, size_t len, rd_model **out, rd_err *err)
{
    const char *foreign = foreign_format(text, len);
    if (foreign)
        return rd_err_set(err, RD_EINVAL, "%s", foreign);
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        i++;
    if (i < len && text[i] == '{')
        return rd_model_load_json(text, len, out, err);
    if (len - i >= 4 && memcmp(text + i, "tree", 4) == 0 &&
        (len - i == 4 || text[i + 4] == '\n' || text[i + 4] == '\r')) /* LightGBM's first line */
        return rd__lightgbm_load(text, len, out, err);
    return rd_err_set(err, RD_EINVAL,
                      "not a model this version of riskd reads (XGBoost JSON, LightGBM text, scorecard "
                      "JSON); XGBoost: save the model with `save_model('model.json')`");
}

int rd_model_load_file(const char *path, rd_model **out, rd_err *err)
{
    char *text;
    size_t len;
    int rc = rd_file_read(path, RD_MODEL_MAX_BYTES, &text, &len, err);
    if (rc != RD_OK)
        return rc;
    rc = rd_model_load_buffer(text, len, out, err);
    rd_free(text);
    if (rc != RD_OK)
        rd_err_prefix(err, "%s", path);
    return rc;
}

void rd_model_free(rd_model *m)
{
    if (!m)
        return;
    if (m->feature_names)
        for (size_t i = 0; i < m->nfeat; i++)
            rd_free(m->feature_names[i]);
    rd_free(m->feature_names);
    rd_free(m->nodes);
    rd_free(m->cover);
    rd_free(m->tree_root);
    rd_free(m->tree_group);
    rd_free(m->base_margin);
    rd_free(m->cats);
    rd_free(m->cat_sets);
    if (m->ops && m->ops->free)
        m->ops->free(m);
    rd__shap_free(m->shap_fast);
    rd__forest_free(m->forest);
    rd_free(m);
}

rd_model_kind rd_model_get_kind(const rd_model *m) { return m->kind; }
size_t rd_model_num_features(const rd_model *m) { return m->nfeat; }
const char *rd_model_feature_name(const rd_model *m, size_t i)
{
    return m->feature_names && i < m->nfeat ? m->feature_names[i] : NULL;
}
size_t rd_model_num_outputs(const rd_model *m, rd_output kind)
{
    if (kind == RD_OUTPUT_SCORE)
        return m->kind == RD_MODEL_SCORECARD;
    if (m->kind == RD_MODEL_LIGHTGBM) /* one value per class, raw or transformed */
        return m->nout;
    return kind == RD_OUTPUT_PROBABILITY && m->transform == RD__T_ARGMAX ? 1 : m->nout;
}
bool rd_model_is_float32(const rd_model *m) { return m->float32; }
const char *rd_model_objective(const rd_model *m) { return m->objective; }
bool rd_model_outputs_probability(const rd_model *m) { return m->probability; }

void rd_model_predict(const rd_model *m, const double *x, rd_output kind, double *out)
{
    if (kind == RD_OUTPUT_SCORE && m->kind != RD_MODEL_SCORECARD)
        return; /* no points: rd_model_num_outputs said 0 */
    m->ops->predict(m, x, kind, out, 0);
}

int rd_model_predict_until(const rd_model *m, const double *x, rd_output kind, double *out, int64_t deadline,
                           rd_err *err)
{
    if (kind == RD_OUTPUT_SCORE && m->kind != RD_MODEL_SCORECARD)
        return RD_OK;
    int rc = m->ops->predict(m, x, kind, out, deadline);
    if (rc == RD_ETIMEOUT)
        return rd_err_set(err, rc, "the %s model ran past its deadline", m->ops->format);
    if (rc != RD_OK)
        return rd_err_set(err, rc, "out of memory");
    return RD_OK;
}

struct batch {
    const rd_model *m;
    const double *x;
    double *out;
    rd_output kind;
};

static void batch_run(void *ud, size_t from, size_t to)
{
    const struct batch *b = ud;
    size_t nf = b->m->nfeat, no = rd_model_num_outputs(b->m, b->kind);
    if (b->m->ops->predict_rows) {
        b->m->ops->predict_rows(b->m, b->x + from * nf, to - from, b->kind, b->out + from * no);
        return;
    }
    for (size_t r = from; r < to; r++)
        rd_model_predict(b->m, b->x + r * nf, b->kind, b->out + r * no);
}

int rd_model_predict_batch(const rd_model *m, const double *x, size_t nrows, rd_output kind, double *out,
                           int threads, rd_err *err)
{
    if (!m || (!x && nrows) || (!out && nrows))
        return rd_err_set(err, RD_EINVAL, "predict: no model, input or output");
    if (rd_model_num_outputs(m, kind) == 0)
        return RD_OK; /* points from a tree model: none, as rd_model_predict (nothing is written) */
    struct batch b = {m, x, out, kind};
    rd_parallel_for(nrows, threads, 256, batch_run, &b);
    return RD_OK;
}

int rd_model_impacts(const rd_model *m, const double *x, double *impact, rd_err *err)
{
    if (!m || !x || !impact)
        return rd_err_set(err, RD_EINVAL, "impacts: no model, input or output");
    return m->ops->impacts(m, x, impact, err);
}

int rd__tree_impacts(const rd_model *m, const double *x, double *impact, rd_err *err)
{
    if (m->nout != 1)
        return rd_err_set(err, RD_EINVAL,
                          "impacts: reason codes need a binary or regression model, this one has %zu "
                          "output groups",
                          m->nout);
    double stack[257], *c = m->nfeat < 256 ? stack : rd_malloc((m->nfeat + 1) * sizeof(double));
    if (!c)
        return rd_err_set(err, RD_ENOMEM, "impacts: out of memory");
    int rc = rd_model_contributions(m, x, c, err);
    if (rc == RD_OK)
        memcpy(impact, c, m->nfeat * sizeof(double));
    if (c != stack)
        rd_free(c);
    return rc;
}

size_t rd_reasons_top(const double *impact, size_t n, size_t k, rd_reason_code *out)
{
    size_t got = 0;
    for (size_t j = 0; j < n; j++) {
        if (!(impact[j] > 0.0))
            continue;
        /* insertion into the kept top k: a later index never passes an equal impact */
        size_t at = got;
        while (at > 0 && out[at - 1].impact < impact[j])
            at--;
        if (at >= k)
            continue;
        size_t last = got < k ? got : k - 1;
        memmove(out + at + 1, out + at, (last - at) * sizeof(*out));
        out[at] = (rd_reason_code){(uint32_t)j, impact[j]};
        if (got < k)
            got++;
    }
    return got;
}
