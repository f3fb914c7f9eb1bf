/* The training reference (reference.json, docs/formats.md): parsed once when a bundle loads
 * into an rd_reference in the bundle's arena, read only after.
 *
 * Invariants of a parsed reference: inputs[i] describes the pipeline's input i (by name; an
 * input the file does not describe has n 0 and one empty bin); every dist has ncuts + 1
 * counts, cuts strictly ascending and finite, counts finite and >= 0, quantiles ascending
 * and finite; missing, n, rows, unseen and level counts are finite and >= 0. A format-1
 * file (deciles, cuts and counts only) loads with nquantiles 0 and has_unseen false; a
 * format-2 file must carry quantiles, n and (categories) unseen. Anything else is refused
 * with the field that is wrong. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bundle_int.h"
#include "riskd/json.h"
#include "riskd/text.h"

#define MAX_REFERENCE_NODES 8000000

typedef struct ref_parse {
    rd_arena *a; /* where the reference goes (the bundle's) */
    int format;
    rd_err *err;
} ref_parse;

static const rd_value *member(const rd_value *o, const char *key)
{
    return o && o->type == RD_VOBJECT ? rd_value_get(o, key, strlen(key)) : NULL;
}

/* A count-like number: finite and >= 0. Absent: RD_OK with *present false (when present is
 * not NULL) or an error. */
static int count_field(ref_parse *r, const rd_value *o, const char *key, const char *where, bool *present,
                       double *out)
{
    const rd_value *v = member(o, key);
    if (present)
        *present = v != NULL;
    if (!v && present)
        return RD_OK;
    if (!v)
        return rd_err_set(r->err, RD_EINVAL, "%s%s%s: missing", where, *where ? "." : "", key);
    if (v->type != RD_VNUMBER || !isfinite(v->u.n) || v->u.n < 0)
        return rd_err_set(r->err, RD_EINVAL, "%s%s%s: must be a number >= 0", where, *where ? "." : "", key);
    *out = v->u.n;
    return RD_OK;
}

/* An array of finite numbers into the arena; *present false when absent (present != NULL). */
static int number_array(ref_parse *r, const rd_value *o, const char *key, const char *where, bool *present,
                        const double **out, size_t *n)
{
    const rd_value *v = member(o, key);
    if (present)
        *present = v != NULL;
    if (!v && present)
        return RD_OK;
    if (!v || v->type != RD_VARRAY)
        return rd_err_set(r->err, RD_EINVAL, "%s.%s: %s", where, key, v ? "must be an array" : "missing");
    double *d = rd_arena_alloc(r->a, (v->len + 1) * sizeof(double));
    if (!d)
        return rd_err_set(r->err, RD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < v->len; i++) {
        const rd_value *x = &v->u.items[i];
        if (x->type != RD_VNUMBER || !isfinite(x->u.n))
            return rd_err_set(r->err, RD_EINVAL, "%s.%s[%u]: not a finite number", where, key, i);
        d[i] = x->u.n;
    }
    *out = d;
    *n = v->len;
    return RD_OK;
}

/* cuts, counts, and quantiles (required from format 2) of a score or numeric input. */
static int parse_dist(ref_parse *r, const rd_value *o, const char *where, rd_ref_dist *d)
{
    size_t ncounts = 0;
    bool has_q = false;
    int rc = number_array(r, o, "cuts", where, NULL, &d->cuts, &d->ncuts);
    if (rc == RD_OK)
        rc = number_array(r, o, "counts", where, NULL, &d->counts, &ncounts);
    if (rc == RD_OK)
        rc = number_array(r, o, "quantiles", where, &has_q, &d->quantiles, &d->nquantiles);
    if (rc != RD_OK)
        return rc;
    if (!has_q && r->format >= 2)
        return rd_err_set(r->err, RD_EINVAL, "%s.quantiles: missing (format 2 stores them)", where);
    for (size_t i = 1; i < d->ncuts; i++)
        if (!(d->cuts[i] > d->cuts[i - 1]))
            return rd_err_set(r->err, RD_EINVAL, "%s.cuts: not ascending (cuts[%zu] = %.17g after %.17g)",
                              where, i, d->cuts[i], d->cuts[i - 1]);
    if (ncounts != d->ncuts + 1)
        return rd_err_set(r->err, RD_EINVAL,
                          "%s.counts: %zu counts for %zu cuts (must be one more, a bin each)", where, ncounts,
                          d->ncuts);
    for (size_t i = 0; i < ncounts; i++)
        if (d->counts[i] < 0)
            return rd_err_set(r->err, RD_EINVAL, "%s.counts[%zu]: negative (%g)", where, i, d->counts[i]);
    for (size_t i = 1; i < d->nquantiles; i++)
        if (d->quantiles[i] < d->quantiles[i - 1])
            return rd_err_set(r->err, RD_EINVAL,
                              "%s.quantiles: not sorted (quantiles[%zu] = %.17g after %.17g)", where, i,
                              d->quantiles[i], d->quantiles[i - 1]);
    return RD_OK;
}

/* From format 2, the counts of a numeric distribution are its n values. */
static int check_total(ref_parse *r, const rd_ref_dist *d, double n, const char *where)
{
    double sum = 0;
    for (size_t i = 0; i <= d->ncuts; i++)
        sum += d->counts[i];
    if (r->format >= 2 && sum != n)
        return rd_err_set(r->err, RD_EINVAL, "%s.counts: they add up to %.17g, but n is %.17g", where, sum,
                          n);
    return RD_OK;
}

static int parse_levels(ref_parse *r, const rd_value *o, const char *where, rd_ref_input *in)
{
    const rd_value *lv = member(o, "levels");
    if (!lv || lv->type != RD_VOBJECT)
        return rd_err_set(r->err, RD_EINVAL, "%s.levels: %s", where,
                          lv ? "must be an object of counts" : "missing");
    const char **names = rd_arena_alloc(r->a, (lv->len + 1) * sizeof(char *));
    double *counts = rd_arena_alloc(r->a, (lv->len + 1) * sizeof(double));
    if (!names || !counts)
        return rd_err_set(r->err, RD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < lv->len; i++) {
        const rd_member *m = &lv->u.members[i];
        if (m->val.type != RD_VNUMBER || !isfinite(m->val.u.n) || m->val.u.n < 0)
            return rd_err_set(r->err, RD_EINVAL, "%s.levels.%.64s: must be a count (a number >= 0)", where,
                              m->key);
        if (!(names[i] = rd_arena_strndup(r->a, m->key, m->key_len)))
            return rd_err_set(r->err, RD_ENOMEM, "out of memory");
        counts[i] = m->val.u.n;
    }
    in->nlevels = lv->len;
    in->levels = names;
    in->level_counts = counts;
    int rc = count_field(r, o, "unseen", where, &in->has_unseen, &in->unseen);
    if (rc == RD_OK && !in->has_unseen && r->format >= 2)
        rc = rd_err_set(r->err, RD_EINVAL, "%s.unseen: missing (format 2 stores it)", where);
    return rc;
}

/* One member of "inputs", matched to the pipeline's input of that name. */
static int parse_input(ref_parse *r, const rd_pipeline *p, const rd_member *m, double rows, rd_ref_input *ins)
{
    char where[160];
    snprintf(where, sizeof(where), "inputs.%.120s", m->key);
    long k = rd_pipeline_find_input(p, m->key, m->key_len);
    if (k < 0) {
        const char *near = NULL;
        for (size_t j = 0; j < rd_pipeline_num_inputs(p) && !near; j++)
            if (rd_near_miss(m->key, rd_pipeline_input_name(p, j)))
                near = rd_pipeline_input_name(p, j);
        return rd_err_set(r->err, RD_EINVAL, "%s: not an input of the bundle's pipeline%s%s%s", where,
                          near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    }
    rd_ref_input *in = &ins[k];
    if (m->val.type != RD_VOBJECT)
        return rd_err_set(r->err, RD_EINVAL, "%s: must be an object", where);
    const char *type = NULL;
    const rd_value *t = member(&m->val, "type");
    if (t && t->type == RD_VSTRING)
        type = t->u.s;
    if (!type || (strcmp(type, "number") != 0 && strcmp(type, "category") != 0))
        return rd_err_set(r->err, RD_EINVAL, "%s.type: must be \"number\" or \"category\"", where);
    in->numeric = strcmp(type, "number") == 0;
    if (in->numeric != rd_pipeline_input_is_number(p, (size_t)k))
        return rd_err_set(r->err, RD_EINVAL, "%s.type: \"%s\", but the pipeline reads it as a %s", where,
                          type, in->numeric ? "category" : "number");
    bool has_n;
    int rc = count_field(r, &m->val, "missing", where, NULL, &in->missing);
    if (rc == RD_OK)
        rc = count_field(r, &m->val, "n", where, &has_n, &in->n);
    if (rc != RD_OK)
        return rc;
    if (!has_n && r->format >= 2)
        return rd_err_set(r->err, RD_EINVAL, "%s.n: missing (format 2 stores it)", where);
    if (!has_n) /* format 1: every row without a value was counted missing */
        in->n = fmax(0, rows - in->missing);
    if (!in->numeric)
        return parse_levels(r, &m->val, where, in);
    in->dist.missing = in->missing;
    rc = parse_dist(r, &m->val, where, &in->dist);
    return rc == RD_OK ? check_total(r, &in->dist, in->n, where) : rc;
}

static int parse_score(ref_parse *r, const rd_value *doc, rd_reference *ref)
{
    const rd_value *s = member(doc, "score");
    if (!s || s->type != RD_VOBJECT)
        return rd_err_set(r->err, RD_EINVAL, "score: %s", s ? "must be an object" : "missing");
    const rd_value *kind = member(s, "kind");
    if (!kind || kind->type != RD_VSTRING)
        return rd_err_set(r->err, RD_EINVAL, "score.kind: missing or not a string");
    if (!(ref->score_kind = rd_arena_strndup(r->a, kind->u.s, kind->len)))
        return rd_err_set(r->err, RD_ENOMEM, "out of memory");
    bool has_n;
    double n = ref->rows;
    int rc = count_field(r, s, "n", "score", &has_n, &n);
    if (rc == RD_OK && !has_n && r->format >= 2)
        rc = rd_err_set(r->err, RD_EINVAL, "score.n: missing (format 2 stores it)");
    if (rc == RD_OK)
        rc = parse_dist(r, s, "score", &ref->score);
    if (rc == RD_OK)
        rc = check_total(r, &ref->score, n, "score");
    ref->score.missing = fmax(0, ref->rows - n);
    return rc;
}

static int parse_doc(ref_parse *r, const rd_value *doc, const rd_pipeline *p, rd_reference *ref)
{
    if (doc->type != RD_VOBJECT)
        return rd_err_set(r->err, RD_EINVAL, "not a JSON object");
    const rd_value *f = member(doc, "format");
    if (!f || f->type != RD_VNUMBER || (f->u.n != 1 && f->u.n != 2))
        return rd_err_set(r->err, RD_EINVAL,
                          "format: must be 1 or 2 (this riskd reads reference formats 1 and 2)");
    r->format = ref->format = (int)f->u.n;
    int rc = count_field(r, doc, "rows", "", NULL, &ref->rows);
    if (rc == RD_OK)
        rc = parse_score(r, doc, ref);
    if (rc != RD_OK)
        return rc;
    const rd_value *inputs = member(doc, "inputs");
    if (!inputs || inputs->type != RD_VOBJECT)
        return rd_err_set(r->err, RD_EINVAL, "inputs: %s", inputs ? "must be an object" : "missing");
    size_t nin = rd_pipeline_num_inputs(p);
    rd_ref_input *ins = rd_arena_alloc(r->a, (nin + 1) * sizeof(rd_ref_input));
    static const double empty_bin[1] = {0};
    if (!ins)
        return rd_err_set(r->err, RD_ENOMEM, "out of memory");
    for (size_t i = 0; i < nin; i++) { /* an input the file does not describe: no values, one empty bin */
        ins[i] = (rd_ref_input){.name = rd_pipeline_input_name(p, i),
                                .numeric = rd_pipeline_input_is_number(p, i),
                                .dist = {.counts = empty_bin}};
    }
    /* The parser keeps one member per key (the last), so each input is described once. */
    for (uint32_t i = 0; i < inputs->len && rc == RD_OK; i++)
        rc = parse_input(r, p, &inputs->u.members[i], ref->rows, ins);
    ref->ninputs = nin;
    ref->inputs = ins;
    return rc;
}

int rd__reference_parse(const char *text, size_t len, const rd_pipeline *p, rd_arena *a,
                        const rd_reference **out, rd_err *err)
{
    rd_arena tmp;
    rd_arena_init(&tmp, 0);
    rd_json_limits lim = {.max_bytes = len + 1, .max_nodes = MAX_REFERENCE_NODES};
    rd_value doc;
    int rc = rd_json_parse(text, len, &lim, &tmp, &doc, err);
    rd_reference *ref = NULL;
    if (rc == RD_OK) {
        ref = rd_arena_alloc(a, sizeof(*ref));
        if (ref) {
            *ref = (rd_reference){0};
            ref_parse r = {.a = a, .err = err};
            rc = parse_doc(&r, &doc, p, ref);
        } else {
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        }
    }
    rd_arena_deinit(&tmp);
    if (rc == RD_OK)
        *out = ref;
    return rc;
}
