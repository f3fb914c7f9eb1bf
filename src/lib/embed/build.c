/* Building a bundle from the binding (riskd.export): the options of rd_bundle_build as one
 * JSON object, so a Python exporter builds with the very builder `riskd bundle build` runs and
 * never mirrors its struct. Every field is checked before anything is built: an unknown field
 * (a misspelt "pipline_path" would otherwise be dropped and the build go on without it) and a
 * field of the wrong type are refused, naming the field. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/bundle.h"
#include "riskd/embed.h"
#include "riskd/json.h"
#include "riskd/pipeline.h"

/* The string fields, each at its place in rd_bundle_build_opts. */
typedef struct str_field {
    const char *key;
    size_t offset;
} str_field;

static const str_field str_fields[] = {
    {"name", offsetof(rd_bundle_build_opts, name)},
    {"model_path", offsetof(rd_bundle_build_opts, model_path)},
    {"pipeline_path", offsetof(rd_bundle_build_opts, pipeline_path)},
    {"data_path", offsetof(rd_bundle_build_opts, data_path)},
    {"label", offsetof(rd_bundle_build_opts, label)},
    {"positive", offsetof(rd_bundle_build_opts, positive)},
    {"out_dir", offsetof(rd_bundle_build_opts, out_dir)},
    {"created_by", offsetof(rd_bundle_build_opts, created_by)},
    {"fallback_path", offsetof(rd_bundle_build_opts, fallback_path)},
    {"output_kind", offsetof(rd_bundle_build_opts, output_kind)},
    {"test_data_path", offsetof(rd_bundle_build_opts, test_data_path)},
};

/* The integer fields and their ranges (those of `riskd bundle build`). */
typedef struct int_field {
    const char *key;
    double min, max;
} int_field;

static const int_field int_fields[] = {
    {"samples", 1, 1000},
    {"reasons", 1, RD_BUNDLE_MAX_REASONS},
    {"deadline_ms", 0, 600000},
};

/* The warnings the build gives, as a JSON array in the making. */
typedef struct warned {
    rd_buf *b;
    size_t n;
} warned;

static void on_warn(void *ud, const char *msg)
{
    warned *w = ud;
    if (w->n++)
        rd_buf_putc(w->b, ',');
    rd_json_write_string(w->b, msg, strlen(msg));
}

static int set_string(rd_bundle_build_opts *o, const rd_member *m, rd_err *err)
{
    for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
        if (strcmp(m->key, str_fields[i].key) != 0)
            continue;
        if (m->val.type == RD_VNULL)
            return RD_OK; /* not given: the builder's default */
        if (m->val.type != RD_VSTRING)
            return rd_err_set(err, RD_EINVAL, "bundle build options: \"%s\" must be a string or null, not %s",
                              m->key, rd_vtype_name(m->val.type));
        if (strlen(m->val.u.s) != m->val.len)
            return rd_err_set(err, RD_EINVAL, "bundle build options: \"%s\" holds a NUL character", m->key);
        *(const char **)((char *)o + str_fields[i].offset) = m->val.u.s;
        return RD_OK;
    }
    return RD_ENOTFOUND;
}

static int set_int(rd_bundle_build_opts *o, const rd_member *m, rd_err *err)
{
    for (size_t i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++) {
        const int_field *f = &int_fields[i];
        if (strcmp(m->key, f->key) != 0)
            continue;
        if (m->val.type == RD_VNULL)
            return RD_OK;
        double v = m->val.type == RD_VNUMBER ? m->val.u.n : (double)NAN;
        if (!(v == floor(v) && v >= f->min && v <= f->max)) /* NaN: not a number */
            return rd_err_set(err, RD_EINVAL, "bundle build options: \"%s\" must be an integer from %g to %g",
                              f->key, f->min, f->max);
        if (i == 0)
            o->samples = (size_t)v;
        else if (i == 1)
            o->reasons = (size_t)v;
        else
            o->deadline_ms = (int)v;
        return RD_OK;
    }
    return RD_ENOTFOUND;
}

static int set_bands(rd_bundle_build_opts *o, const rd_member *m, rd_buf *bands, rd_err *err)
{
    if (strcmp(m->key, "risk_bands") != 0)
        return RD_ENOTFOUND;
    if (m->val.type == RD_VNULL)
        return RD_OK; /* the default bands, from the score quantiles */
    if (m->val.type != RD_VARRAY)
        return rd_err_set(
            err, RD_EINVAL,
            "bundle build options: \"risk_bands\" must be an array of bands (a JSON value, not text), "
            "not %s",
            rd_vtype_name(m->val.type));
    if (rd_json_write(bands, &m->val) != RD_OK || bands->oom)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    o->risk_bands = rd_buf_cstr(bands);
    return RD_OK;
}

/* Fill o from the options object (its strings borrowed from the arena's value). */
static int read_opts(const rd_value *root, rd_bundle_build_opts *o, rd_buf *bands, rd_err *err)
{
    if (root->type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "bundle build options: must be a JSON object, not %s",
                          rd_vtype_name(root->type));
    for (uint32_t i = 0; i < root->len; i++) {
        const rd_member *m = &root->u.members[i];
        int rc = set_string(o, m, err);
        if (rc == RD_ENOTFOUND)
            rc = set_int(o, m, err);
        if (rc == RD_ENOTFOUND)
            rc = set_bands(o, m, bands, err);
        if (rc == RD_ENOTFOUND)
            return rd_err_set(
                err, RD_EINVAL,
                "bundle build options: unknown field \"%s\" (the fields: name, model_path, "
                "pipeline_path, data_path, label, positive, risk_bands, out_dir, created_by, samples, "
                "reasons, fallback_path, deadline_ms, output_kind, test_data_path)",
                m->key);
        if (rc != RD_OK)
            return rc;
    }
    if (o->output_kind && strcmp(o->output_kind, "probability") != 0 &&
        strcmp(o->output_kind, "score") != 0 && strcmp(o->output_kind, "margin") != 0)
        return rd_err_set(
            err, RD_EINVAL,
            "bundle build options: \"output_kind\" must be probability, score or margin, not \"%s\"",
            o->output_kind);
    if (!o->out_dir)
        o->out_dir = o->name; /* as `riskd bundle build --name NAME` without --out */
    return RD_OK;
}

/* {"dir": ..., "digest": ..., "warnings": [...]} into a malloc'd string (rd_embed_free). */
static int answer(const char *dir, const char *digest, rd_buf *warnings, char **result, rd_err *err)
{
    rd_buf b;
    rd_buf_init(&b);
    rd_buf_puts(&b, "{\"dir\":");
    rd_json_write_string(&b, dir, strlen(dir));
    rd_buf_puts(&b, ",\"digest\":");
    rd_json_write_string(&b, digest, strlen(digest));
    rd_buf_puts(&b, ",\"warnings\":[");
    rd_buf_append(&b, warnings->data ? warnings->data : "", warnings->len);
    rd_buf_puts(&b, "]}");
    char *out = b.oom ? NULL : malloc(b.len + 1);
    if (out) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    rd_buf_deinit(&b);
    if (!out)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    *result = out;
    return RD_OK;
}

int rd_embed_build(const char *opts_json, size_t len, char **result, rd_err *err)
{
    rd_err_clear(err);
    if (!opts_json || !result)
        return rd_err_set(err, RD_EINVAL, "bundle build options: none given");
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_buf bands, warnings;
    rd_buf_init(&bands);
    rd_buf_init(&warnings);
    rd_value root;
    rd_bundle_build_opts o = {0};
    warned w = {&warnings, 0};
    int rc = rd_json_parse(opts_json, len, NULL, &a, &root, err);
    if (rc != RD_OK)
        rd_err_prefix(err, "bundle build options");
    if (rc == RD_OK)
        rc = read_opts(&root, &o, &bands, err);
    if (rc == RD_OK) {
        o.warn = on_warn;
        o.warn_ud = &w;
        rc = rd_bundle_build(&o, err);
    }
    if (rc == RD_OK && warnings.oom)
        rc = rd_err_set(err, RD_ENOMEM, "out of memory");
    /* The digest of what was built: the bundle as it now loads. */
    rd_bundle *b = NULL;
    if (rc == RD_OK)
        rc = rd_bundle_load(o.out_dir, &b, err);
    if (rc == RD_OK)
        rc = answer(o.out_dir, rd_bundle_digest(b), &warnings, result, err);
    rd_bundle_free(b);
    rd_buf_deinit(&bands);
    rd_buf_deinit(&warnings);
    rd_arena_deinit(&a);
    return rc;
}

/* ---------------------------------------------------------------- the pipeline alone */

int rd_embed_pipeline_apply(const char *spec, size_t spec_len, const char *rows, size_t rows_len, size_t n,
                            size_t num_features, double *x, rd_err *err)
{
    rd_err_clear(err);
    if (!spec || !rows || (!x && n && num_features))
        return rd_err_set(err, RD_EINVAL, "pipeline apply: a spec, rows and an output are required");
    rd_pipeline *p = NULL;
    int rc = rd_pipeline_parse(spec, spec_len, &p, err);
    if (rc != RD_OK) {
        rd_err_prefix(err, "pipeline spec");
        return rc;
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value root;
    /* One document of n records: the defaults (16 MiB, 1,000,000 values) would cap a frame. */
    rd_json_limits lim = {.max_bytes = rows_len + 1, .max_depth = 64, .max_nodes = rows_len + 1};
    if (rd_pipeline_num_features(p) != num_features)
        rc = rd_err_set(err, RD_EINVAL, "pipeline apply: the spec has %zu features, not %zu",
                        rd_pipeline_num_features(p), num_features);
    if (rc == RD_OK && (rc = rd_json_parse(rows, rows_len, &lim, &a, &root, err)) != RD_OK)
        rd_err_prefix(err, "pipeline apply: the rows");
    if (rc == RD_OK && (root.type != RD_VARRAY || root.len != n))
        rc = rd_err_set(err, RD_EINVAL, "pipeline apply: the rows must be a JSON array of %zu records", n);
    for (size_t i = 0; i < n && rc == RD_OK; i++) {
        rc = rd_pipeline_apply(p, &root.u.items[i], x + i * num_features, NULL, err);
        if (rc != RD_OK)
            rd_err_prefix(err, "row %zu", i);
    }
    rd_arena_deinit(&a);
    rd_pipeline_free(p);
    return rc;
}
