/* A bundle in another language's process: loaded and verified, decided through rd_decide
 * over rows that come as columns (a data frame) or as JSON records (dicts), on all cores.
 *
 * The decider is the one `riskd score` builds (one slot, no breaker, the bundle's or the
 * given fallback rules), so a row decides here exactly as it does in the batch CLI and, the
 * same pipeline and model being compiled in, as in the service. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/decide.h"
#include "riskd/embed.h"
#include "riskd/json.h"
#include "riskd/parallel.h"

struct rd_embed_bundle {
    rd_decider *dec;
    const rd_bundle *b; /* the decider's */
    size_t nf, nin, words;
};

static int make_decider(rd_bundle *b, const char *fallback_path, int deadline_ms, rd_decider **out,
                        rd_err *err)
{
    rd_fallback *fb = NULL;
    int rc = fallback_path ? rd_fallback_load_file(fallback_path, &fb, err) : RD_OK;
    rd_breaker_opts bo;
    rd_breaker_opts_default(&bo);
    bo.mode = RD_BREAKER_OFF;
    rd_slot *slot = NULL;
    if (rc == RD_OK)
        rc = rd_slot_new(b, &bo, NULL, NULL, &slot, err);
    else
        rd_bundle_free(b); /* the slot takes it only when made */
    if (rc == RD_OK) {
        rd_decide_opts o = {.deadline_ms = deadline_ms, .fallback = fb};
        rc = rd_decider_new(&o, NULL, &slot, 1, out, err);
    }
    rd_slot_unref(slot);
    rd_fallback_unref(fb);
    return rc;
}

int rd_embed_bundle_open(const char *dir, const char *fallback_path, int deadline_ms, rd_embed_bundle **out,
                         size_t *checked, rd_err *err)
{
    if (!dir || !out)
        return rd_err_set(err, RD_EUSAGE, "rd_embed_bundle_open: no directory");
    if (deadline_ms < 0 || deadline_ms > 600000)
        return rd_err_set(err, RD_EINVAL, "deadline_ms: 0 to 600000, not %d", deadline_ms);
    rd_bundle *b;
    int rc = rd_bundle_load(dir, &b, err);
    if (rc)
        return rc;
    size_t n = 0;
    if ((rc = rd_bundle_verify(b, &n, err))) {
        rd_err_prefix(err, "%s: does not verify", rd_bundle_name(b));
        rd_bundle_free(b);
        return rc;
    }
    rd_embed_bundle *eb = rd_calloc(1, sizeof *eb);
    if (!eb) {
        rd_bundle_free(b);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    if ((rc = make_decider(b, fallback_path, deadline_ms, &eb->dec, err))) {
        rd_free(eb);
        return rc;
    }
    eb->b = rd_slot_bundle(rd_decider_slot(eb->dec, 0));
    eb->nf = rd_bundle_num_features(eb->b);
    eb->nin = rd_pipeline_num_inputs(rd_bundle_pipeline(eb->b));
    eb->words = (eb->nin + 63) / 64;
    if (checked)
        *checked = n;
    *out = eb;
    return RD_OK;
}

void rd_embed_bundle_free(rd_embed_bundle *eb)
{
    if (!eb)
        return;
    rd_decider_unref(eb->dec);
    rd_free(eb);
}

/* ------------------------------------------------------------------ info */

static void put_key(rd_buf *o, const char *k)
{
    rd_json_write_string(o, k, strlen(k));
    rd_buf_putc(o, ':');
}

static void put_str(rd_buf *o, const char *s)
{
    if (s)
        rd_json_write_string(o, s, strlen(s));
    else
        rd_buf_puts(o, "null");
}

static void put_num(rd_buf *o, double x)
{
    char buf[RD_NUM_BUF];
    if (isfinite(x)) {
        rd_num_format(x, buf);
        rd_buf_puts(o, buf);
    } else {
        rd_buf_puts(o, "null");
    }
}

static void put_nums(rd_buf *o, const double *x, size_t n)
{
    rd_buf_putc(o, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            rd_buf_putc(o, ',');
        put_num(o, x[i]);
    }
    rd_buf_putc(o, ']');
}

static void put_dist(rd_buf *o, const rd_ref_dist *d)
{
    rd_buf_puts(o, "{\"cuts\":");
    put_nums(o, d->cuts, d->ncuts);
    rd_buf_puts(o, ",\"counts\":");
    put_nums(o, d->counts, d->ncuts + 1);
    rd_buf_puts(o, ",\"missing\":");
    put_num(o, d->missing);
    rd_buf_puts(o, ",\"quantiles\":");
    put_nums(o, d->quantiles, d->nquantiles);
    rd_buf_putc(o, '}');
}

static void put_reference(rd_buf *o, const rd_reference *r)
{
    if (!r) {
        rd_buf_puts(o, "null");
        return;
    }
    rd_buf_printf(o, "{\"format\":%d,\"rows\":", r->format);
    put_num(o, r->rows);
    rd_buf_puts(o, ",\"score_kind\":");
    put_str(o, r->score_kind);
    rd_buf_puts(o, ",\"score\":");
    put_dist(o, &r->score);
    rd_buf_puts(o, ",\"inputs\":[");
    for (size_t i = 0; i < r->ninputs; i++) {
        const rd_ref_input *in = &r->inputs[i];
        rd_buf_puts(o, i ? ",{\"name\":" : "{\"name\":");
        put_str(o, in->name);
        rd_buf_printf(o, ",\"numeric\":%s,\"n\":", in->numeric ? "true" : "false");
        put_num(o, in->n);
        rd_buf_puts(o, ",\"missing\":");
        put_num(o, in->missing);
        if (in->numeric) {
            rd_buf_puts(o, ",\"dist\":");
            put_dist(o, &in->dist);
        } else {
            rd_buf_puts(o, ",\"levels\":[");
            for (size_t l = 0; l < in->nlevels; l++) {
                if (l)
                    rd_buf_putc(o, ',');
                put_str(o, in->levels[l]);
            }
            rd_buf_puts(o, "],\"level_counts\":");
            put_nums(o, in->level_counts, in->nlevels);
            if (in->has_unseen) {
                rd_buf_puts(o, ",\"unseen\":");
                put_num(o, in->unseen);
            }
        }
        rd_buf_putc(o, '}');
    }
    rd_buf_puts(o, "]}");
}

static const char *output_kind(const rd_bundle *b)
{
    const rd_value *out = rd_value_get(rd_bundle_manifest(b), "output", 6);
    const rd_value *k = out ? rd_value_get(out, "kind", 4) : NULL;
    return k && k->type == RD_VSTRING ? k->u.s : "probability";
}

static void put_inputs(rd_buf *o, const rd_bundle *b)
{
    const rd_pipeline *p = rd_bundle_pipeline(b);
    const rd_reference *ref = rd_bundle_reference(b);
    rd_buf_puts(o, "[");
    for (size_t i = 0; i < rd_pipeline_num_inputs(p); i++) {
        bool num = rd_pipeline_input_is_number(p, i);
        rd_buf_puts(o, i ? ",{\"name\":" : "{\"name\":");
        put_str(o, rd_pipeline_input_name(p, i));
        rd_buf_printf(o, ",\"type\":\"%s\",\"required\":%s", num ? "number" : "category",
                      rd_pipeline_input_required(p, i) ? "true" : "false");
        /* the levels a category knows: the reference's, which the pipeline was built from */
        if (!num && ref && i < ref->ninputs && !ref->inputs[i].numeric) {
            rd_buf_puts(o, ",\"levels\":[");
            for (size_t l = 0; l < ref->inputs[i].nlevels; l++) {
                if (l)
                    rd_buf_putc(o, ',');
                put_str(o, ref->inputs[i].levels[l]);
            }
            rd_buf_putc(o, ']');
        }
        rd_buf_putc(o, '}');
    }
    rd_buf_putc(o, ']');
}

int rd_embed_bundle_info(const rd_embed_bundle *eb, char **json, rd_err *err)
{
    const rd_bundle *b = eb->b;
    const rd_model *m = rd_bundle_model(b);
    rd_buf o;
    rd_buf_init(&o);
    rd_buf_puts(&o, "{");
    put_key(&o, "name");
    put_str(&o, rd_bundle_name(b));
    rd_buf_puts(&o, ",");
    put_key(&o, "digest");
    put_str(&o, rd_bundle_digest(b));
    rd_buf_printf(&o,
                  ",\"float32\":%s,\"has_probability\":%s,\"points\":%s,\"num_reasons\":%zu,"
                  "\"num_features\":%zu,\"mask_words\":%zu,\"signed\":%s,\"output_kind\":",
                  rd_model_is_float32(m) && !rd_bundle_score_is_points(b) ? "true" : "false",
                  rd_bundle_has_probability(b) ? "true" : "false",
                  rd_bundle_score_is_points(b) ? "true" : "false", rd_bundle_num_reasons(b), eb->nf,
                  eb->words, rd_bundle_signed(b) ? "true" : "false");
    put_str(&o, output_kind(b));
    rd_buf_puts(&o, ",\"model_kind\":");
    static const char *const kinds[] = {"", "xgboost", "lightgbm", "scorecard", "logistic"};
    rd_model_kind mk = rd_model_get_kind(m);
    put_str(&o, mk >= 1 && mk <= 4 ? kinds[mk] : "unknown");
    rd_buf_puts(&o, ",\"objective\":");
    put_str(&o, rd_model_objective(m));
    rd_buf_puts(&o, ",\"features\":[");
    for (size_t i = 0; i < eb->nf; i++) {
        if (i)
            rd_buf_putc(&o, ',');
        put_str(&o, rd_pipeline_feature_name(rd_bundle_pipeline(b), i));
    }
    rd_buf_puts(&o, "],\"inputs\":");
    put_inputs(&o, b);
    rd_buf_puts(&o, ",\"manifest\":");
    rd_json_write(&o, rd_bundle_manifest(b));
    rd_buf_puts(&o, ",\"reference\":");
    put_reference(&o, rd_bundle_reference(b));
    rd_buf_putc(&o, '}');
    if (o.oom) {
        rd_buf_deinit(&o);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    *json = strdup(rd_buf_cstr(&o));
    rd_buf_deinit(&o);
    return *json ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}

int rd_embed_check_columns(const rd_embed_bundle *eb, const char *const *names, size_t n, char *note,
                           size_t note_cap, rd_err *err)
{
    return rd_pipeline_check_columns(rd_bundle_pipeline(eb->b), names, n, note, note_cap, err);
}

/* ------------------------------------------------------------------ rows */

/* The input as records: a JSON array parsed once, or the columns read row by row. */
typedef struct rows {
    const rd_embed_bundle *eb;
    const rd_embed_input *in;
    rd_value array; /* the JSON input, parsed */
    rd_unknown_policy unknown;
} rows;

static int rows_open(rows *r, const rd_embed_bundle *eb, const rd_embed_input *in, rd_arena *a, rd_err *err)
{
    *r = (rows){.eb = eb, .in = in, .unknown = RD_UNKNOWN_IGNORE};
    if (in->cols) {
        for (size_t c = 0; c < in->ncols; c++) {
            const rd_embed_column *col = &in->cols[c];
            if (!col->name || (!col->num == !col->codes) || (col->codes && !col->levels && col->nlevels))
                return rd_err_set(err, RD_EUSAGE, "column %zu: numbers or codes with their levels", c);
        }
        return RD_OK;
    }
    if (!in->json)
        return rd_err_set(err, RD_EUSAGE, "no rows: columns or JSON records");
    /* the rows a caller handed over whole: no limit but the memory's */
    rd_json_limits lim = {.max_bytes = in->json_len + 1, .max_depth = 64, .max_nodes = (size_t)-1 / 2};
    int rc = rd_json_parse(in->json, in->json_len, &lim, a, &r->array, err);
    if (rc)
        return rc;
    if (r->array.type != RD_VARRAY)
        return rd_err_set(err, RD_ETYPE, "records: an array of objects, not %s",
                          rd_vtype_name(r->array.type));
    if (r->array.len != in->n)
        return rd_err_set(err, RD_EUSAGE, "records: %u given, %zu expected", r->array.len, in->n);
    /* the service refuses a record naming no input unless the pipeline says otherwise */
    r->unknown = RD_UNKNOWN_DEFAULT;
    return RD_OK;
}

/* Row i as a record object (its members in a); RD_ETYPE / RD_EINVAL for a row no record can be. */
static int row_get(const rows *r, size_t i, rd_arena *a, rd_value *out, rd_err *err)
{
    const rd_embed_input *in = r->in;
    if (!in->cols) {
        const rd_value *v = &r->array.u.items[i];
        if (v->type != RD_VOBJECT)
            return rd_err_set(err, RD_ETYPE, "a record is an object of inputs, not %s",
                              rd_vtype_name(v->type));
        *out = *v;
        return RD_OK;
    }
    rd_member *m = rd_arena_alloc(a, (in->ncols ? in->ncols : 1) * sizeof *m);
    if (!m)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t c = 0; c < in->ncols; c++) {
        const rd_embed_column *col = &in->cols[c];
        rd_value v = {.type = RD_VNULL};
        if (col->num) {
            double x = col->num[i];
            if (isinf(x))
                return rd_err_set(err, RD_EINVAL, "%s: %s is not a value riskd decides", col->name,
                                  x > 0 ? "inf" : "-inf");
            if (!isnan(x)) /* NaN: the frame's missing value */
                v = rd_value_number(x);
        } else {
            int32_t k = col->codes[i];
            if (k >= 0 && (size_t)k >= col->nlevels)
                return rd_err_set(err, RD_EINVAL, "%s: code %d past its %zu levels", col->name, (int)k,
                                  col->nlevels);
            if (k >= 0 && col->levels[k])
                v = rd_value_string(col->levels[k], (uint32_t)strlen(col->levels[k]));
        }
        m[c] = (rd_member){col->name, (uint32_t)strlen(col->name), v};
    }
    *out = (rd_value){.type = RD_VOBJECT, .len = (uint32_t)in->ncols, .u.members = m};
    return RD_OK;
}

static void set_error(char **errors, size_t i, const rd_err *e)
{
    if (errors)
        errors[i] = strdup(e->msg[0] ? e->msg : rd_strerror(e->code));
}

static void set_mask(uint64_t *mask, const uint32_t *idx, uint32_t n)
{
    for (uint32_t j = 0; j < n && j < RD_PIPELINE_REPORT_MAX; j++)
        mask[idx[j] / 64] |= (uint64_t)1 << (idx[j] % 64);
}

/* ------------------------------------------------------------------ deciding */

typedef struct decide_job {
    const rows *r;
    rd_embed_out *out;
} decide_job;

static void fill(const rd_embed_bundle *eb, const rd_decision *d, rd_embed_out *o, size_t i)
{
    rd_embed_row *row = &o->rows[i];
    bool model = d->source == RD_SOURCE_MODEL;
    row->source = model ? 0 : 1;
    if (model) {
        row->score = d->score.score;
        row->probability = rd_bundle_has_probability(eb->b) ? d->score.probability : (double)NAN;
        row->risk_level = d->score.risk_level;
        row->decision = d->score.decision;
        row->nreasons = (uint32_t)(d->score.nreasons < o->k ? d->score.nreasons : o->k);
    } else {
        row->score = d->fallback.has_score ? d->fallback.score : (double)NAN;
        row->probability = NAN;
        row->risk_level = d->fallback.risk_level;
        row->decision = d->fallback.decision;
        row->fallback_rule = d->fallback.name;
        row->fallback_reason = rd_fallback_reason_name(d->fallback_reason);
        row->nreasons = d->fallback.reason && o->k ? 1 : 0;
    }
    for (size_t j = 0; j < o->k; j++) {
        size_t at = i * o->k + j;
        const char *code = NULL;
        int32_t input = -1;
        double impact = NAN;
        if (model && j < row->nreasons) {
            input = (int32_t)d->score.reasons[j].index;
            code = rd_bundle_reason_code(eb->b, d->score.reasons[j].index);
            impact = d->score.reasons[j].impact;
        } else if (!model && j == 0) {
            code = d->fallback.reason;
        }
        if (o->reason_code)
            o->reason_code[at] = code;
        if (o->reason_input)
            o->reason_input[at] = input;
        if (o->reason_impact)
            o->reason_impact[at] = impact;
    }
    if (d->prepared) {
        const rd_pipeline_report *rep = &d->score.report;
        row->nmissing = rep->missing;
        row->nunknown = rep->unknown;
        if (o->missing)
            set_mask(o->missing + i * eb->words, rep->missing_inputs, rep->missing);
        if (o->unknown)
            set_mask(o->unknown + i * eb->words, rep->unknown_inputs, rep->unknown);
    }
}

static void decide_share(void *ud, size_t from, size_t to)
{
    const decide_job *j = ud;
    const rows *r = j->r;
    rd_arena scratch;
    rd_arena_init(&scratch, 0);
    for (size_t i = from; i < to; i++) {
        rd_embed_row *row = &j->out->rows[i];
        *row = (rd_embed_row){.score = NAN, .probability = NAN};
        if (j->out->missing)
            memset(j->out->missing + i * r->eb->words, 0, r->eb->words * sizeof(uint64_t));
        if (j->out->unknown)
            memset(j->out->unknown + i * r->eb->words, 0, r->eb->words * sizeof(uint64_t));
        rd_err err;
        rd_value rec;
        rd_decision d;
        int rc = row_get(r, i, &scratch, &rec, &err);
        if (rc == RD_OK) {
            rd_value id = rd_value_number((double)i);
            rd_decide_req q = {
                .features = &rec, .reasons = (int)j->out->k, .request_id = &id, .unknown_inputs = r->unknown};
            rc = rd_decide(r->eb->dec, &q, &scratch, &d, &err);
        }
        if (rc == RD_OK) {
            fill(r->eb, &d, j->out, i);
        } else {
            row->rc = rc;
            for (size_t k = 0; k < j->out->k; k++) {
                if (j->out->reason_code)
                    j->out->reason_code[i * j->out->k + k] = NULL;
                if (j->out->reason_input)
                    j->out->reason_input[i * j->out->k + k] = -1;
                if (j->out->reason_impact)
                    j->out->reason_impact[i * j->out->k + k] = NAN;
            }
            set_error(j->out->errors, i, &err);
        }
        if (j->out->errors && rc == RD_OK)
            j->out->errors[i] = NULL;
        rd_arena_reset(&scratch);
    }
    rd_arena_deinit(&scratch);
}

int rd_embed_decide(const rd_embed_bundle *eb, const rd_embed_input *in, int threads, rd_embed_out *out,
                    rd_err *err)
{
    if (!eb || !in || !out || !out->rows)
        return rd_err_set(err, RD_EUSAGE, "rd_embed_decide: no bundle, input or output");
    if (out->k > RD_BUNDLE_MAX_REASONS)
        return rd_err_set(err, RD_EINVAL, "reasons: 0 to %d, not %zu", RD_BUNDLE_MAX_REASONS, out->k);
    rd_arena a;
    rd_arena_init(&a, 0);
    rows r;
    int rc = rows_open(&r, eb, in, &a, err);
    if (rc == RD_OK) {
        decide_job j = {&r, out};
        rd_parallel_for(in->n, threads, 64, decide_share, &j);
    }
    rd_arena_deinit(&a);
    return rc;
}

int rd_embed_decide_one(const rd_embed_bundle *eb, const char *json, size_t len, int k,
                        const char *request_id, char **record, rd_err *err)
{
    if (k < -1 || k > RD_BUNDLE_MAX_REASONS)
        return rd_err_set(err, RD_EINVAL, "reasons: 0 to %d, not %d", RD_BUNDLE_MAX_REASONS, k);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value rec, id = request_id ? rd_value_string(request_id, (uint32_t)strlen(request_id)) : (rd_value){0};
    rd_decision d;
    int rc = rd_json_parse(json, len, NULL, &a, &rec, err);
    if (rc == RD_OK && rec.type != RD_VOBJECT)
        rc = rd_err_set(err, RD_ETYPE, "a record is an object of inputs, not %s", rd_vtype_name(rec.type));
    if (rc == RD_OK) {
        rd_decide_req q = {.features = &rec, .reasons = k, .request_id = request_id ? &id : NULL};
        rc = rd_decide(eb->dec, &q, &a, &d, err);
    }
    if (rc == RD_OK) {
        rd_buf b;
        rd_buf_init(&b);
        d.t0_ns = 0;
        rd_decision_write_json(&b, &d);
        /* latency is the service's notion: a record decided in process carries none */
        const char *s = rd_buf_cstr(&b), *lat = strstr(s, ",\"latency_ms\":");
        size_t n = lat ? (size_t)(lat - s) : b.len;
        *record = b.oom ? NULL : malloc(n + 2);
        if (*record) {
            memcpy(*record, s, n);
            strcpy(*record + n, lat ? "}" : "");
        } else {
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        }
        rd_buf_deinit(&b);
    }
    rd_arena_deinit(&a);
    return rc;
}

/* ------------------------------------------------------------------ the pipeline and the model alone */

typedef struct prep_job {
    const rows *r;
    double *x;
    int32_t *rc;
    char **errors;
} prep_job;

static void prepare_share(void *ud, size_t from, size_t to)
{
    const prep_job *j = ud;
    const rd_embed_bundle *eb = j->r->eb;
    rd_arena scratch;
    rd_arena_init(&scratch, 0);
    for (size_t i = from; i < to; i++) {
        rd_err err;
        rd_value rec;
        rd_pipeline_report rep;
        double *x = j->x + i * eb->nf;
        int rc = row_get(j->r, i, &scratch, &rec, &err);
        if (rc == RD_OK)
            rc = rd_pipeline_check(rd_bundle_pipeline(eb->b), &rec, j->r->unknown, &rep, &err);
        if (rc == RD_OK)
            rc = rd_bundle_prepare(eb->b, &rec, x, &rep, &err);
        if (rc != RD_OK)
            for (size_t f = 0; f < eb->nf; f++)
                x[f] = NAN;
        j->rc[i] = rc;
        if (j->errors)
            j->errors[i] = NULL;
        if (rc != RD_OK)
            set_error(j->errors, i, &err);
        rd_arena_reset(&scratch);
    }
    rd_arena_deinit(&scratch);
}

int rd_embed_prepare(const rd_embed_bundle *eb, const rd_embed_input *in, int threads, double *x, int32_t *rc,
                     char **errors, rd_err *err)
{
    if (!eb || !in || !x || !rc)
        return rd_err_set(err, RD_EUSAGE, "rd_embed_prepare: no bundle, input or output");
    rd_arena a;
    rd_arena_init(&a, 0);
    rows r;
    int e = rows_open(&r, eb, in, &a, err);
    if (e == RD_OK) {
        prep_job j = {&r, x, rc, errors};
        rd_parallel_for(in->n, threads, 64, prepare_share, &j);
    }
    rd_arena_deinit(&a);
    return e;
}

int rd_embed_predict(const rd_embed_bundle *eb, const double *x, size_t n, int kind, int threads, double *out,
                     rd_err *err)
{
    const rd_model *m = rd_bundle_model(eb->b);
    if (kind < RD_OUTPUT_RAW || kind > RD_OUTPUT_SCORE || rd_model_num_outputs(m, (rd_output)kind) == 0)
        return rd_err_set(err, RD_EINVAL, "output %d: this model gives raw (0) or probability (1)%s", kind,
                          rd_model_num_outputs(m, RD_OUTPUT_SCORE) ? " or points (2)" : "");
    return rd_model_predict_batch(m, x, n, (rd_output)kind, out, threads, err);
}

typedef struct contrib_job {
    const rd_embed_bundle *eb;
    const double *x;
    double *out;
    int rc;
    rd_err err; /* the first failure */
} contrib_job;

/* A logistic regression's exact Shapley values, coef_j * (x_j - mean_j) (rd_model_impacts), and
 * the bias that makes them sum to the margin, as TreeSHAP's do. */
static int linear_terms(const rd_model *m, const double *x, size_t nf, double *out, rd_err *err)
{
    int rc = rd_model_impacts(m, x, out, err);
    if (rc != RD_OK)
        return rc;
    double margin, sum = 0;
    rd_model_predict(m, x, RD_OUTPUT_RAW, &margin);
    for (size_t f = 0; f < nf; f++)
        sum += out[f];
    out[nf] = margin - sum;
    return RD_OK;
}

static void contrib_share(void *ud, size_t from, size_t to)
{
    contrib_job *j = ud;
    size_t nf = j->eb->nf;
    const rd_model *m = rd_bundle_model(j->eb->b);
    bool linear = rd_model_get_kind(m) == RD_MODEL_LOGISTIC;
    for (size_t i = from; i < to; i++) {
        rd_err err;
        const double *x = j->x + i * nf;
        double *out = j->out + i * (nf + 1);
        int rc = linear ? linear_terms(m, x, nf, out, &err) : rd_model_contributions(m, x, out, &err);
        if (rc != RD_OK) {
            /* one message is enough: the model, not the row, lacks what it takes */
            if (__atomic_exchange_n(&j->rc, rc, __ATOMIC_ACQ_REL) == RD_OK)
                j->err = err;
            return;
        }
    }
}

int rd_embed_contributions(const rd_embed_bundle *eb, const double *x, size_t n, int threads, double *out,
                           rd_err *err)
{
    const rd_model *m = rd_bundle_model(eb->b);
    if (rd_model_get_kind(m) == RD_MODEL_SCORECARD)
        return rd_err_set(err, RD_EINVAL,
                          "contributions: a scorecard explains itself in points lost (score with reasons)");
    if (rd_model_num_outputs(m, RD_OUTPUT_RAW) != 1)
        return rd_err_set(err, RD_EINVAL, "contributions: a model with one output, not %zu",
                          rd_model_num_outputs(m, RD_OUTPUT_RAW));
    contrib_job j = {.eb = eb, .x = x, .out = out};
    rd_parallel_for(n, threads, 16, contrib_share, &j);
    if (j.rc != RD_OK) {
        if (err)
            *err = j.err;
        return j.rc;
    }
    return RD_OK;
}
