/* Linear models: plain logistic regression and the WOE logistic scorecard.
 *
 * Both read a vector of numbers and compute margin = intercept + sum_j coef_j * x_j in
 * feature order, in double. For the scorecard the inputs are the WOE values of the
 * attributes (the pipeline bins raw values into them), and the model adds the points
 * scaling: points_j = offset/n - factor*(coef_j*woe_j + intercept/n), whose sum is
 * offset - factor*margin.
 *
 * Reason impacts: a scorecard's are the points lost against the best attribute of each
 * characteristic (max_points_j - points_j, the convention of the reference scorecard); a
 * logistic regression's are coef_j * (x_j - mean_j), its exact Shapley values when the
 * features are independent. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_int.h"
#include "riskd/arena.h"
#include "riskd/json.h"

struct rd__linear {
    double intercept;
    double *coef;       /* nfeat */
    double *means;      /* nfeat, logistic regression; zeros when the file gives none */
    double *max_points; /* nfeat, scorecards */
    double offset, factor;
};

static int num_at(const rd_value *o, const char *key, double *out)
{
    const rd_value *v = rd_value_get(o, key, strlen(key));
    if (!v || v->type != RD_VNUMBER || !isfinite(v->u.n))
        return -1;
    *out = v->u.n;
    return 0;
}

static int alloc_linear(rd_model *m, size_t n, rd_err *err)
{
    m->nfeat = n;
    m->nout = 1;
    m->lin = rd_calloc(1, sizeof(*m->lin));
    m->feature_names = rd_calloc(n ? n : 1, sizeof(char *));
    if (m->lin) {
        m->lin->coef = rd_calloc(n ? n : 1, sizeof(double));
        m->lin->means = rd_calloc(n ? n : 1, sizeof(double));
        m->lin->max_points = rd_calloc(n ? n : 1, sizeof(double));
    }
    if (!m->lin || !m->feature_names || !m->lin->coef || !m->lin->means || !m->lin->max_points)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    return RD_OK;
}

static int set_name(rd_model *m, size_t j, const rd_value *name, const char *where, rd_err *err)
{
    if (!name || name->type != RD_VSTRING || name->len == 0)
        return rd_err_set(err, RD_EINVAL, "%s[%zu]: the feature name is missing or not a non-empty string",
                          where, j);
    for (size_t i = 0; i < j; i++)
        if (strcmp(m->feature_names[i], name->u.s) == 0)
            return rd_err_set(err, RD_EINVAL, "%s[%zu]: feature \"%s\" appears twice", where, j, name->u.s);
    m->feature_names[j] = rd_strndup(name->u.s, name->len);
    return m->feature_names[j] ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

static double points_of(const struct rd__linear *l, size_t n, size_t j, double woe)
{
    return l->offset / (double)n - l->factor * (l->coef[j] * woe + l->intercept / (double)n);
}

/* The WOE values one characteristic can take: its bins or levels, its missing bin and (for
 * categories) the unknown bin. Each must be a finite number; the best gives max_points. */
static int scorecard_feature(rd_model *m, size_t j, size_t n, const rd_value *f, rd_err *err)
{
    struct rd__linear *l = m->lin;
    const rd_value *kind = rd_value_get(f, "kind", 4);
    bool numeric = kind && kind->type == RD_VSTRING && strcmp(kind->u.s, "numeric") == 0;
    if (!numeric && !(kind && kind->type == RD_VSTRING && strcmp(kind->u.s, "categorical") == 0))
        return rd_err_set(err, RD_EINVAL, "features[%zu].kind: must be \"numeric\" or \"categorical\"", j);
    if (num_at(f, "coef", &l->coef[j]) != 0)
        return rd_err_set(err, RD_EINVAL, "features[%zu].coef: missing or not a finite number", j);
    const char *list = numeric ? "bins" : "levels";
    const rd_value *bins = rd_value_get(f, list, strlen(list));
    if (!bins || bins->type != RD_VARRAY || bins->len == 0)
        return rd_err_set(err, RD_EINVAL, "features[%zu].%s: missing or not a non-empty array", j, list);
    if (numeric) {
        const rd_value *cuts = rd_value_get(f, "cuts", 4);
        if (!cuts || cuts->type != RD_VARRAY || cuts->len + 1 != bins->len)
            return rd_err_set(err, RD_EINVAL,
                              "features[%zu].cuts: must be an array of %u numbers (one fewer than bins)", j,
                              bins->len ? bins->len - 1 : 0);
    }
    double best = -INFINITY, woe;
    for (uint32_t i = 0; i < bins->len; i++) {
        if (num_at(&bins->u.items[i], "woe", &woe) != 0)
            return rd_err_set(err, RD_EINVAL, "features[%zu].%s[%u].woe: missing or not a finite number", j,
                              list, i);
        best = fmax(best, points_of(l, n, j, woe));
    }
    const char *extra[2] = {"missing", "unknown"};
    for (int e = 0; e < 2; e++) {
        const rd_value *b = rd_value_get(f, extra[e], strlen(extra[e]));
        if (!b && (e == 0 || numeric))
            continue;
        if (!b || num_at(b, "woe", &woe) != 0)
            return rd_err_set(err, RD_EINVAL, "features[%zu].%s.woe: missing or not a finite number", j,
                              extra[e]);
        best = fmax(best, points_of(l, n, j, woe));
    }
    if (!rd_value_get(f, "unknown", 7) && !numeric)
        best = fmax(best, points_of(l, n, j, 0.0)); /* unknown levels weigh 0 */
    if (!rd_value_get(f, "missing", 7))
        best = fmax(best, points_of(l, n, j, 0.0)); /* no missing bin: missing weighs 0 */
    l->max_points[j] = best;
    return RD_OK;
}

static int load_scorecard(rd_model *m, const rd_value *root, rd_err *err)
{
    const rd_value *fs = rd_value_get(root, "features", 8), *sc = rd_value_get(root, "scaling", 7);
    if (!fs || fs->type != RD_VARRAY || fs->len == 0)
        return rd_err_set(err, RD_EINVAL, "features: missing or not a non-empty array");
    int rc = alloc_linear(m, fs->len, err);
    if (rc != RD_OK)
        return rc;
    struct rd__linear *l = m->lin;
    if (num_at(root, "intercept", &l->intercept) != 0)
        return rd_err_set(err, RD_EINVAL, "intercept: missing or not a finite number");
    if (!sc || num_at(sc, "offset", &l->offset) != 0 || num_at(sc, "factor", &l->factor) != 0)
        return rd_err_set(err, RD_EINVAL, "scaling: needs finite numbers offset and factor");
    for (size_t j = 0; j < fs->len && rc == RD_OK; j++) {
        const rd_value *f = &fs->u.items[j];
        if (f->type != RD_VOBJECT)
            return rd_err_set(err, RD_EINVAL, "features[%zu]: not an object", j);
        rc = set_name(m, j, rd_value_get(f, "name", 4), "features", err);
        if (rc == RD_OK)
            rc = scorecard_feature(m, j, fs->len, f, err);
    }
    m->kind = RD_MODEL_SCORECARD;
    m->transform = RD__T_SIGMOID;
    m->probability = true;
    snprintf(m->objective, sizeof(m->objective), "woe_logistic_scorecard");
    return rc;
}

static int numbers(const rd_value *a, size_t n, double *out, const char *key, rd_err *err)
{
    if (!a || a->type != RD_VARRAY || a->len != n)
        return rd_err_set(err, RD_EINVAL, "%s: must be an array of %zu numbers (one per feature)", key, n);
    for (size_t j = 0; j < n; j++) {
        if (a->u.items[j].type != RD_VNUMBER || !isfinite(a->u.items[j].u.n))
            return rd_err_set(err, RD_EINVAL, "%s[%zu]: not a finite number", key, j);
        out[j] = a->u.items[j].u.n;
    }
    return RD_OK;
}

static int load_logistic(rd_model *m, const rd_value *root, rd_err *err)
{
    const rd_value *fs = rd_value_get(root, "features", 8);
    if (!fs || fs->type != RD_VARRAY || fs->len == 0)
        return rd_err_set(err, RD_EINVAL, "features: missing or not a non-empty array of names");
    int rc = alloc_linear(m, fs->len, err);
    for (size_t j = 0; j < fs->len && rc == RD_OK; j++)
        rc = set_name(m, j, &fs->u.items[j], "features", err);
    if (rc == RD_OK)
        rc = numbers(rd_value_get(root, "coef", 4), fs->len, m->lin->coef, "coef", err);
    const rd_value *means = rd_value_get(root, "means", 5);
    if (rc == RD_OK && means)
        rc = numbers(means, fs->len, m->lin->means, "means", err);
    if (rc == RD_OK && num_at(root, "intercept", &m->lin->intercept) != 0)
        rc = rd_err_set(err, RD_EINVAL, "intercept: missing or not a finite number");
    m->kind = RD_MODEL_LOGISTIC;
    m->transform = RD__T_SIGMOID;
    m->probability = true;
    snprintf(m->objective, sizeof(m->objective), "logistic_regression");
    return rc;
}

bool rd__linear_type(const rd_value *root)
{
    const rd_value *t = rd_value_get(root, "type", 4);
    return t && t->type == RD_VSTRING &&
           (strcmp(t->u.s, "woe_logistic_scorecard") == 0 || strcmp(t->u.s, "logistic_regression") == 0);
}

int rd__linear_load(const rd_value *root, rd_model **out, rd_err *err)
{
    rd_model *m = rd_calloc(1, sizeof(*m));
    if (!m)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    m->ops = &rd__linear_ops; /* first: rd_model_free frees what a failed load left */
    const rd_value *t = rd_value_get(root, "type", 4);
    int rc = strcmp(t->u.s, "logistic_regression") == 0 ? load_logistic(m, root, err)
                                                        : load_scorecard(m, root, err);
    if (rc != RD_OK) {
        rd_model_free(m);
        return rc;
    }
    *out = m;
    return RD_OK;
}

void rd__linear_free(struct rd__linear *l)
{
    if (!l)
        return;
    rd_free(l->coef);
    rd_free(l->means);
    rd_free(l->max_points);
    rd_free(l);
}

/* A missing input (NaN) of a logistic regression takes the feature's mean, so it neither
 * raises nor lowers the risk; a scorecard's inputs are WOE values, never missing (the
 * pipeline puts missing values in their own bin). */
static double input(const rd_model *m, const double *x, size_t j)
{
    return isnan(x[j]) ? m->lin->means[j] : x[j];
}

static double margin(const rd_model *m, const double *x)
{
    const struct rd__linear *l = m->lin;
    double z = l->intercept;
    for (size_t j = 0; j < m->nfeat; j++)
        z += l->coef[j] * input(m, x, j);
    return z;
}

static int linear_predict(const rd_model *m, const double *x, rd_output kind, double *out, int64_t deadline)
{
    (void)deadline; /* one dot product: nothing to cut off */
    double z = margin(m, x);
    if (kind == RD_OUTPUT_RAW)
        out[0] = z;
    else if (kind == RD_OUTPUT_SCORE)
        out[0] = m->lin->offset - m->lin->factor * z;
    else
        out[0] = 1.0 / (1.0 + exp(-z));
    return RD_OK;
}

static int linear_impacts(const rd_model *m, const double *x, double *impact, rd_err *err)
{
    (void)err;
    const struct rd__linear *l = m->lin;
    for (size_t j = 0; j < m->nfeat; j++) {
        if (m->kind == RD_MODEL_SCORECARD)
            impact[j] = l->max_points[j] - points_of(l, m->nfeat, j, input(m, x, j));
        else
            impact[j] = l->coef[j] * (input(m, x, j) - l->means[j]);
    }
    return RD_OK;
}

static void linear_free(rd_model *m) { rd__linear_free(m->lin); }

const rd__model_ops rd__linear_ops = {
    .format = "linear", .predict = linear_predict, .impacts = linear_impacts, .free = linear_free};
