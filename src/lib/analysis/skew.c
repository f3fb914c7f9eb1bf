/* Training-serving skew (rollout-monitoring.md §2.9): the online decision log joined row by row
 * to an offline CSV of the same applications by request id, the bundle's pipeline run on both
 * sides' raw values, the prepared vectors compared.
 *
 * Invariants: the offline file is read whole first and kept in memory (id -> its input fields);
 * the log is streamed once, each primary record looked up by its request id. A numeric input's
 * prepared values differ when |online - offline| > 1e-9 + 1e-6 |offline|, a categorical input's
 * when they are not exactly equal; missing against present always differs. An input is one
 * line however many prepared columns it makes (one-hot), naming the columns that differed. A
 * row one side's pipeline refuses is not compared, except that the refusal names an input
 * whose value the other side accepted: then that input differs in that row. Scores are compared
 * only for decisions made by this very bundle (the same digest). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"
#include "riskd/json.h"
#include "riskd/riskd.h"

#define TOL_ABS   1e-9
#define TOL_REL   1e-6
#define SCORE_TOL 1e-6

void rd_skew_opts_default(rd_skew_opts *o)
{
    *o = (rd_skew_opts){.threshold = 0.001, .min_rows = 1000, .max_examples = 20};
}

/* The offline rows: fields[row][i] is input i's field (NULL when the file has no such column). */
typedef struct offline {
    size_t n, cap;
    char ***fields;
    char **ids;
    size_t *lines;
    bool *matched;
    an_map by_id;
} offline;

typedef struct skew_ctx {
    const rd_bundle *b;
    const rd_pipeline *p;
    const rd_skew_opts *o;
    rd_arena *a;    /* the result's */
    rd_arena work;  /* the offline rows */
    size_t nin, nf; /* inputs, prepared columns */
    offline off;
    const char *digest;
    double *x_on, *x_off;
    bool *fdiff;     /* per column, this row */
    bool *coldiff;   /* per column, any row */
    rd_member *mem;  /* the offline record's members */
    uint64_t *cmp_n; /* per input */
    uint64_t *mis_n;
    double *maxd;
    rd_skew_result *r;
    rd_skew_example *ex;
} skew_ctx;

static bool differs(bool numeric, double on, double off)
{
    if (isnan(on) || isnan(off))
        return isnan(on) != isnan(off);
    if (!numeric)
        return on != off;
    return fabs(on - off) > TOL_ABS + TOL_REL * fabs(off);
}

/* ---------------------------------------------------------------- the offline file */

static int off_push(skew_ctx *c, rd_csv *csv, char **f, const int *col, int id_col, rd_err *err)
{
    offline *o = &c->off;
    const char *id = f[id_col];
    size_t line = rd_csv_line(csv);
    if (!*id)
        return rd_err_set(err, RD_EINVAL, "%s: line %zu: the request id (%s) is empty", c->o->offline, line,
                          c->o->id_col);
    size_t *seen = an_map_get(&o->by_id, id, strlen(id));
    if (seen)
        return rd_err_set(err, RD_EINVAL, "%s: line %zu: request id %s appears again (first on line %zu)",
                          c->o->offline, line, id, o->lines[*seen]);
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        char ***nf = rd_realloc(o->fields, cap * sizeof *nf);
        if (nf)
            o->fields = nf;
        char **ni = rd_realloc(o->ids, cap * sizeof *ni);
        if (ni)
            o->ids = ni;
        size_t *nl = rd_realloc(o->lines, cap * sizeof *nl);
        if (nl)
            o->lines = nl;
        if (!nf || !ni || !nl)
            return rd_err_set(err, RD_ENOMEM, "out of memory");
        o->cap = cap;
    }
    char **row = rd_arena_alloc(&c->work, c->nin * sizeof *row + 1);
    char *idc = rd_arena_strndup(&c->work, id, strlen(id));
    if (!row || !idc)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nin; i++) {
        row[i] = NULL;
        if (col[i] >= 0 && !(row[i] = rd_arena_strndup(&c->work, f[col[i]], strlen(f[col[i]]))))
            return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    o->fields[o->n] = row;
    o->ids[o->n] = idc;
    o->lines[o->n] = line;
    if (an_map_put(&o->by_id, id, strlen(id), o->n) != RD_OK)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    o->n++;
    return RD_OK;
}

/* Read the offline file: the id column, the inputs' columns (refused when none is one; the
 * inputs it lacks are named in the result), every row kept. */
static int off_read(skew_ctx *c, const rd_an_source *src, rd_err *err)
{
    rd_csv *csv;
    int rc = rd_csv_open(c->o->offline, &csv, err);
    if (rc)
        return rc;
    int id_col = -1;
    size_t ncols = rd_csv_num_columns(csv);
    const char **cols = rd_calloc(ncols + 1, sizeof *cols);
    int *col = rd_calloc(c->nin + 1, sizeof *col);
    char note[512];
    if (!cols || !col) {
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = an_csv_column(csv, c->o->offline, "--id", c->o->id_col, &id_col, err)) != RD_OK)
        goto out;
    for (size_t i = 0; i < ncols; i++)
        cols[i] = rd_csv_column(csv, i);
    if ((rc = rd_pipeline_check_columns(c->p, cols, ncols, note, sizeof note, err)) != RD_OK) {
        rd_err_prefix(err, "%s", c->o->offline);
        goto out;
    }
    rd_buf miss;
    rd_buf_init(&miss);
    for (size_t i = 0; i < c->nin; i++) {
        col[i] = rd_csv_find(csv, rd_pipeline_input_name(c->p, i));
        if (col[i] < 0)
            rd_buf_printf(&miss, "%s%s", miss.len ? ", " : "", rd_pipeline_input_name(c->p, i));
    }
    c->r->missing_inputs = miss.len ? an_strdup(c->a, rd_buf_cstr(&miss)) : NULL;
    rd_buf_deinit(&miss);
    char **f;
    uint64_t size = rd_csv_size(csv);
    while ((rc = rd_csv_next(csv, &f, err)) == 1) {
        if ((rc = off_push(c, csv, f, col, id_col, err)) != RD_OK)
            goto out;
        if (c->off.n % 4096 == 0 && src->progress)
            src->progress(src->ud, rd_csv_offset(csv), size);
    }
    if (rc < 0) {
        rd_err_prefix(err, "%s: line %zu", c->o->offline, rd_csv_line(csv));
        goto out;
    }
    rc = RD_OK;
    if (!c->off.n)
        rc = rd_err_set(err, RD_EINVAL, "%s: no rows", c->o->offline);
    else if (!(c->off.matched = rd_calloc(c->off.n, sizeof *c->off.matched)))
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
out:
    rd_free(cols);
    rd_free(col);
    rd_csv_close(csv);
    return rc;
}

/* ---------------------------------------------------------------- the log */

/* The input a pipeline refusal names ("Age: 300 is outside [18, 120]"), or -1. */
static long refused_input(const skew_ctx *c, const char *msg)
{
    const char *colon = strchr(msg, ':');
    if (!colon)
        return -1;
    return rd_pipeline_find_input(c->p, msg, (size_t)(colon - msg));
}

static const char *raw_json(rd_arena *a, const rd_value *v)
{
    if (!v)
        return NULL;
    rd_buf b;
    rd_buf_init(&b);
    rd_json_write(&b, v);
    const char *s = an_strdup(a, rd_buf_cstr(&b));
    rd_buf_deinit(&b);
    return s;
}

static const char *raw_field(rd_arena *a, const char *s)
{
    if (!s)
        return NULL;
    rd_value v = rd_value_string(s, (uint32_t)strlen(s));
    return raw_json(a, &v);
}

static void example(skew_ctx *c, const char *id, size_t input, const rd_value *features, const char *field,
                    long column)
{
    if (c->r->nexamples >= c->o->max_examples)
        return;
    const char *name = rd_pipeline_input_name(c->p, input);
    rd_skew_example *e = &c->ex[c->r->nexamples++];
    *e = (rd_skew_example){
        .request_id = an_strdup(c->a, id),
        .input = name,
        .online_raw = raw_json(c->a, an_get(features, name)),
        .offline_raw = raw_field(c->a, field),
        .column = column >= 0 ? rd_pipeline_feature_name(c->p, (size_t)column) : NULL,
        .online = column >= 0 ? c->x_on[column] : (double)NAN,
        .offline = column >= 0 ? c->x_off[column] : (double)NAN,
    };
}

/* One side refused the row and the other did not: the input the refusal names differs. */
static void one_refused(skew_ctx *c, const char *id, const rd_value *features, char **row, const char *msg)
{
    long in = refused_input(c, msg);
    if (in < 0)
        return;
    c->cmp_n[in]++;
    c->mis_n[in]++;
    example(c, id, (size_t)in, features, row[in], -1);
}

static void compare_rows(skew_ctx *c, const char *id, const rd_value *features, char **row)
{
    for (size_t j = 0; j < c->nf; j++) {
        size_t in = rd_pipeline_feature_input(c->p, j);
        bool numeric = rd_pipeline_input_is_number(c->p, in);
        double on = c->x_on[j], off = c->x_off[j];
        c->fdiff[j] = differs(numeric, on, off);
        if (numeric && !isnan(on) && !isnan(off) && !(fabs(on - off) <= c->maxd[in])) /* numbers only */
            c->maxd[in] = fabs(on - off);
    }
    for (size_t i = 0; i < c->nin; i++) {
        long first = -1;
        for (size_t j = 0; j < c->nf; j++)
            if (c->fdiff[j] && rd_pipeline_feature_input(c->p, j) == i) {
                c->coldiff[j] = true;
                if (first < 0)
                    first = (long)j;
            }
        c->cmp_n[i]++;
        if (first >= 0) {
            c->mis_n[i]++;
            example(c, id, i, features, row[i], first);
        }
    }
}

static void compare_score(skew_ctx *c, const rd_value *rec, const rd_pipeline_report *rep)
{
    const char *digest = an_str(an_get(rec, "bundle"), "digest");
    const char *source = an_str(rec, "source");
    double logged = an_num(rec, "score");
    if (!digest || strcmp(digest, c->digest) != 0 || !source || strcmp(source, "model") != 0 ||
        !isfinite(logged))
        return;
    rd_score sc = {.report = *rep};
    rd_err e;
    if (rd_bundle_score_prepared(c->b, c->x_off, 0, 0, &sc, &e) != RD_OK)
        return;
    double d = fabs(logged - sc.score);
    c->r->score_compared++;
    if (d > c->r->score_max_diff || isnan(c->r->score_max_diff))
        c->r->score_max_diff = d;
    if (d > SCORE_TOL)
        c->r->score_differing++;
}

static int on_rec(void *ud, const rd_log_row *lr, const rd_value *rec)
{
    skew_ctx *c = ud;
    c->r->online_rows++;
    if (!lr->request_id)
        return 0;
    size_t *at = an_map_get(&c->off.by_id, lr->request_id, strlen(lr->request_id));
    if (!at)
        return 0;
    c->off.matched[*at] = true;
    c->r->joined++;
    char **row = c->off.fields[*at];
    const rd_value *features = an_get(rec, "features");
    static const rd_value empty = {.type = RD_VOBJECT};
    rd_pipeline_report rep_on, rep_off;
    rd_err e_on, e_off;
    int rc_on = rd_bundle_prepare(c->b, features ? features : &empty, c->x_on, &rep_on, &e_on);
    uint32_t n = 0;
    for (size_t i = 0; i < c->nin; i++)
        if (row[i]) {
            const char *name = rd_pipeline_input_name(c->p, i);
            c->mem[n++] = (rd_member){.key = name,
                                      .key_len = (uint32_t)strlen(name),
                                      .val = rd_value_string(row[i], (uint32_t)strlen(row[i]))};
        }
    rd_value off = {.type = RD_VOBJECT, .len = n, .u.members = c->mem};
    int rc_off = rd_bundle_prepare(c->b, &off, c->x_off, &rep_off, &e_off);
    c->r->refused_online += rc_on != RD_OK;
    c->r->refused_offline += rc_off != RD_OK;
    if (rc_on && !rc_off)
        one_refused(c, lr->request_id, features, row, e_on.msg);
    else if (!rc_on && rc_off)
        one_refused(c, lr->request_id, features, row, e_off.msg);
    if (rc_on || rc_off)
        return 0;
    compare_rows(c, lr->request_id, features, row);
    compare_score(c, rec, &rep_off);
    return 0;
}

/* ---------------------------------------------------------------- the result */

static int by_rate(const void *pa, const void *pb)
{
    const rd_skew_input *a = pa, *b = pb;
    if (a->alarm != b->alarm)
        return a->alarm ? -1 : 1;
    double ra = isnan(a->rate) ? -1 : a->rate, rb = isnan(b->rate) ? -1 : b->rate;
    return ra > rb ? -1 : ra < rb ? 1 : 0;
}

static void pct(char *buf, size_t cap, double x) { snprintf(buf, cap, "%.*f%%", x < 0.01 ? 2 : 1, 100 * x); }

static void verdict(rd_skew_result *r)
{
    rd_buf v;
    rd_buf_init(&v);
    size_t nalarm = 0;
    for (size_t i = 0; i < r->ninputs; i++) {
        const rd_skew_input *in = &r->inputs[i];
        if (!in->alarm)
            continue;
        char a[32], t[32];
        pct(a, sizeof a, in->rate);
        pct(t, sizeof t, r->threshold);
        if (nalarm++ < 4)
            rd_buf_printf(&v, "%s%s differs in %s of %llu joined rows (threshold %s)", nalarm > 1 ? "; " : "",
                          in->name, a, (unsigned long long)in->compared, t);
    }
    if (nalarm > 4)
        rd_buf_printf(&v, "; %zu more inputs differ", nalarm - 4);
    if (r->score_differing)
        rd_buf_printf(&v, "%s%llu of %llu scores by this bundle differ by more than 1e-6", v.len ? "; " : "",
                      (unsigned long long)r->score_differing, (unsigned long long)r->score_compared);
    if (!v.len) {
        char t[32];
        pct(t, sizeof t, r->threshold);
        if (r->joined < r->min_rows)
            rd_buf_printf(&v,
                          "no difference found, but insufficient data: %llu joined rows needed to judge a "
                          "rate of %s, %llu joined",
                          (unsigned long long)r->min_rows, t, (unsigned long long)r->joined);
        else
            rd_buf_printf(&v, "consistent: no input differs in more than %s of %llu joined rows", t,
                          (unsigned long long)r->joined);
        if (r->score_compared)
            rd_buf_printf(&v, "; %llu scores by this bundle agree within 1e-6",
                          (unsigned long long)r->score_compared);
    }
    if (r->missing_inputs)
        rd_buf_printf(&v, "; NOT IN THE OFFLINE FILE: %s", r->missing_inputs);
    snprintf(r->verdict, sizeof r->verdict, "%s", rd_buf_cstr(&v));
    rd_buf_deinit(&v);
}

static int finish(skew_ctx *c, rd_err *err)
{
    rd_skew_result *r = c->r;
    for (size_t i = 0; i < c->off.n; i++)
        r->unmatched_offline += !c->off.matched[i];
    if (!r->joined)
        return rd_err_set(
            err, RD_EINVAL,
            "none of the %zu ids in %s matches a decision in the window (%llu primary decisions "
            "read; ids such as %s in the file)",
            c->off.n, c->o->offline, (unsigned long long)r->online_rows, c->off.ids[0]);
    r->ninputs = c->nin;
    r->inputs = rd_arena_alloc(c->a, c->nin * sizeof *r->inputs + 1);
    if (!r->inputs)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nin; i++) {
        rd_skew_input *in = &r->inputs[i];
        *in = (rd_skew_input){.name = rd_pipeline_input_name(c->p, i),
                              .compared = c->cmp_n[i],
                              .mismatches = c->mis_n[i],
                              .rate = c->cmp_n[i] ? (double)c->mis_n[i] / (double)c->cmp_n[i] : (double)NAN,
                              .max_diff = c->maxd[i]};
        /* over min_rows joined rows, the rate judges (§2.9); below, only mismatches that already
           exceed the threshold's share of min_rows (the rate over min_rows rows could not fall
           under it) */
        in->alarm = in->compared >= r->min_rows ? in->rate > r->threshold
                                                : (double)in->mismatches > r->threshold * (double)r->min_rows;
        rd_buf cols;
        rd_buf_init(&cols);
        for (size_t j = 0; j < c->nf; j++)
            if (c->coldiff[j] && rd_pipeline_feature_input(c->p, j) == i)
                rd_buf_printf(&cols, "%s%s", cols.len ? ", " : "", rd_pipeline_feature_name(c->p, j));
        in->columns = cols.len ? an_strdup(c->a, rd_buf_cstr(&cols)) : NULL;
        rd_buf_deinit(&cols);
        char note[160] = "";
        if (c->off.n && !c->off.fields[0][i] && r->missing_inputs)
            snprintf(note, sizeof note, "not in %s: every offline value is missing", c->o->offline);
        else if (!in->alarm && in->compared < r->min_rows)
            snprintf(note, sizeof note, "insufficient data: %llu joined rows needed, %llu compared",
                     (unsigned long long)r->min_rows, (unsigned long long)in->compared);
        in->note = note[0] ? an_strdup(c->a, note) : NULL;
        r->differences |= in->alarm;
    }
    qsort(r->inputs, r->ninputs, sizeof *r->inputs, by_rate);
    r->differences |= r->score_differing > 0;
    verdict(r);
    return RD_OK;
}

int rd_skew(const rd_an_source *src, const rd_bundle *b, const rd_skew_opts *o, rd_arena *a,
            rd_skew_result *out, rd_err *err)
{
    if (!src->store)
        return rd_err_set(err, RD_EINVAL, "skew reads the decision log: a data directory is needed");
    if (!o->offline || !o->id_col)
        return rd_err_set(err, RD_EINVAL, "skew needs the offline file and its request-id column");
    rd_skew_result r = {.bundle = rd_bundle_name(b),
                        .digest = rd_bundle_digest(b),
                        .source = an_source_name(src, a),
                        .offline = an_strdup(a, o->offline),
                        .id_col = an_strdup(a, o->id_col),
                        .from_ms = src->from_ms,
                        .to_ms = src->to_ms,
                        .threshold = o->threshold,
                        .min_rows = o->min_rows,
                        .score_max_diff = (double)NAN};
    skew_ctx c = {.b = b, .p = rd_bundle_pipeline(b), .o = o, .a = a, .digest = rd_bundle_digest(b), .r = &r};
    c.nin = rd_pipeline_num_inputs(c.p);
    c.nf = rd_bundle_num_features(b);
    rd_arena_init(&c.work, 0);
    int rc = an_map_init(&c.off.by_id, 1024);
    c.x_on = rd_calloc(c.nf + 1, sizeof(double));
    c.x_off = rd_calloc(c.nf + 1, sizeof(double));
    c.fdiff = rd_calloc(c.nf + 1, sizeof(bool));
    c.coldiff = rd_calloc(c.nf + 1, sizeof(bool));
    c.mem = rd_calloc(c.nin + 1, sizeof *c.mem);
    c.cmp_n = rd_calloc(c.nin + 1, sizeof *c.cmp_n);
    c.mis_n = rd_calloc(c.nin + 1, sizeof *c.mis_n);
    c.maxd = rd_calloc(c.nin + 1, sizeof *c.maxd);
    c.ex = rd_arena_alloc(a, (o->max_examples + 1) * sizeof *c.ex);
    if (rc || !c.x_on || !c.x_off || !c.fdiff || !c.coldiff || !c.mem || !c.cmp_n || !c.mis_n || !c.maxd ||
        !c.ex) {
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c.nin; i++)
        c.maxd[i] = (double)NAN;
    if ((rc = off_read(&c, src, err)) != RD_OK)
        goto out;
    r.offline_rows = c.off.n;
    uint64_t skipped = 0;
    if ((rc = an_log_each(src, "primary", NULL, on_rec, &c, &skipped, err)) != RD_OK)
        goto out;
    r.examples = c.ex;
    if ((rc = finish(&c, err)) != RD_OK)
        goto out;
    *out = r;
out:
    an_map_free(&c.off.by_id);
    rd_free(c.off.fields);
    rd_free(c.off.ids);
    rd_free(c.off.lines);
    rd_free(c.off.matched);
    rd_free(c.x_on);
    rd_free(c.x_off);
    rd_free(c.fdiff);
    rd_free(c.coldiff);
    rd_free(c.mem);
    rd_free(c.cmp_n);
    rd_free(c.mis_n);
    rd_free(c.maxd);
    rd_arena_deinit(&c.work);
    return rc;
}

/* ---------------------------------------------------------------- writers */

void rd_skew_json(rd_buf *b, const rd_skew_result *r)
{
    an_json_head(b, "skew", r->source, r->from_ms, r->to_ms);
    an_json_str_m(b, "bundle", r->bundle);
    an_json_str_m(b, "digest", r->digest);
    an_json_str_m(b, "offline", r->offline);
    an_json_str_m(b, "id_column", r->id_col);
    an_json_u64_m(b, "online_rows", r->online_rows);
    an_json_u64_m(b, "offline_rows", r->offline_rows);
    an_json_u64_m(b, "joined", r->joined);
    an_json_u64_m(b, "unmatched_offline", r->unmatched_offline);
    an_json_u64_m(b, "refused_online", r->refused_online);
    an_json_u64_m(b, "refused_offline", r->refused_offline);
    an_json_num_m(b, "threshold", r->threshold);
    an_json_u64_m(b, "min_rows", r->min_rows);
    rd_buf_puts(b, ",\"missing_inputs\":[");
    if (r->missing_inputs) { /* "A, B" -> ["A","B"] */
        const char *s = r->missing_inputs;
        for (bool first = true; *s; first = false) {
            size_t n = strcspn(s, ",");
            if (!first)
                rd_buf_putc(b, ',');
            rd_json_write_string(b, s, n);
            s += n;
            s += strspn(s, ", ");
        }
    }
    rd_buf_puts(b, "],\"inputs\":[");
    for (size_t i = 0; i < r->ninputs; i++) {
        const rd_skew_input *in = &r->inputs[i];
        rd_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        an_json_str(b, in->name);
        an_json_u64_m(b, "compared", in->compared);
        an_json_u64_m(b, "mismatches", in->mismatches);
        an_json_num_m(b, "rate", in->rate);
        an_json_num_m(b, "max_diff", in->max_diff);
        rd_buf_printf(b, ",\"alarm\":%s", in->alarm ? "true" : "false");
        an_json_str_m(b, "columns", in->columns);
        an_json_str_m(b, "note", in->note);
        rd_buf_putc(b, '}');
    }
    rd_buf_puts(b, "],\"score\":{\"compared\":");
    rd_buf_printf(b, "%llu", (unsigned long long)r->score_compared);
    an_json_u64_m(b, "differing", r->score_differing);
    an_json_num_m(b, "max_diff", r->score_max_diff);
    rd_buf_puts(b, "},\"examples\":[");
    for (size_t i = 0; i < r->nexamples; i++) {
        const rd_skew_example *e = &r->examples[i];
        rd_buf_puts(b, i ? ",{\"request_id\":" : "{\"request_id\":");
        an_json_str(b, e->request_id);
        an_json_str_m(b, "input", e->input);
        an_json_str_m(b, "online_raw", e->online_raw);
        an_json_str_m(b, "offline_raw", e->offline_raw);
        an_json_str_m(b, "column", e->column);
        an_json_num_m(b, "online", e->online);
        an_json_num_m(b, "offline", e->offline);
        rd_buf_putc(b, '}');
    }
    rd_buf_printf(b, "],\"differences\":%s", r->differences ? "true" : "false");
    an_json_str_m(b, "verdict", r->verdict);
    rd_buf_putc(b, '}');
}

static void fmt_num(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.6g", v);
}

void rd_skew_text(rd_buf *b, const rd_skew_result *r)
{
    rd_buf_printf(b, "skew: %s (%.12s...) against %s, joined by %s\n", r->bundle, r->digest, r->offline,
                  r->id_col);
    rd_buf_printf(b, "  %llu primary decisions read from %s, %llu offline rows, %llu joined",
                  (unsigned long long)r->online_rows, r->source, (unsigned long long)r->offline_rows,
                  (unsigned long long)r->joined);
    if (r->unmatched_offline)
        rd_buf_printf(b, " (%llu offline rows matched no decision)",
                      (unsigned long long)r->unmatched_offline);
    rd_buf_putc(b, '\n');
    if (r->refused_online || r->refused_offline)
        rd_buf_printf(b, "  rows the pipeline refused: %llu online, %llu offline\n",
                      (unsigned long long)r->refused_online, (unsigned long long)r->refused_offline);
    if (r->missing_inputs)
        rd_buf_printf(b, "  WARNING: inputs not in %s (every offline value missing): %s\n", r->offline,
                      r->missing_inputs);
    size_t w = 5;
    for (size_t i = 0; i < r->ninputs; i++)
        if (strlen(r->inputs[i].name) > w)
            w = strlen(r->inputs[i].name);
    if (w > 40)
        w = 40;
    rd_buf_printf(b, "\n  %-*s %10s %10s %9s %12s  %s\n", (int)w, "input", "compared", "mismatch", "rate",
                  "max diff", "");
    for (size_t i = 0; i < r->ninputs; i++) {
        const rd_skew_input *in = &r->inputs[i];
        char rate[32], md[32];
        if (isnan(in->rate))
            snprintf(rate, sizeof rate, "-");
        else
            pct(rate, sizeof rate, in->rate);
        fmt_num(md, sizeof md, in->max_diff);
        rd_buf_printf(b, "  %-*.*s %10llu %10llu %9s %12s  %s", (int)w, (int)w, in->name,
                      (unsigned long long)in->compared, (unsigned long long)in->mismatches, rate, md,
                      in->alarm        ? "DIFFERS"
                      : in->mismatches ? ""
                                       : "ok");
        if (in->columns)
            rd_buf_printf(b, "%s(columns: %s)", in->alarm ? " " : "", in->columns);
        if (in->note)
            rd_buf_printf(b, " [%s]", in->note);
        rd_buf_putc(b, '\n');
    }
    char md[32];
    fmt_num(md, sizeof md, r->score_max_diff);
    if (r->score_compared)
        rd_buf_printf(
            b, "\n  scores by this bundle: %llu compared, %llu differ by more than 1e-6 (max diff %s)\n",
            (unsigned long long)r->score_compared, (unsigned long long)r->score_differing, md);
    else
        rd_buf_puts(b, "\n  scores: no joined decision was made by this bundle (digest), none compared\n");
    if (r->nexamples) {
        rd_buf_puts(b, "\n  first mismatching rows:\n");
        for (size_t i = 0; i < r->nexamples; i++) {
            const rd_skew_example *e = &r->examples[i];
            char on[32], off[32];
            fmt_num(on, sizeof on, e->online);
            fmt_num(off, sizeof off, e->offline);
            rd_buf_printf(b, "    %s  %s: online %s, offline %s", e->request_id, e->input,
                          e->online_raw ? e->online_raw : "(absent)",
                          e->offline_raw ? e->offline_raw : "(absent)");
            if (e->column)
                rd_buf_printf(b, "  -> %s %s vs %s", e->column, on, off);
            else
                rd_buf_puts(b, "  -> refused on one side");
            rd_buf_putc(b, '\n');
        }
    }
    rd_buf_printf(b, "\n%s: %s\n", r->differences ? "DIFFERENCES" : "OK", r->verdict);
}
