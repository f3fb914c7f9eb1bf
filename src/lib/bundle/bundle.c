/* Loading, checking and scoring a bundle.
 *
 * Invariants after rd_bundle_load: every file the manifest lists was read once, its SHA-256
 * matched, and the model, pipeline and training reference were built from those same bytes
 * (the reference's inputs matched to the pipeline's by name, docs/formats.md); the pipeline's
 * features equal the manifest's (and the model's, when it names them); the risk bands cover
 * every score. The bundle is then read only. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle_int.h"
#include "riskd/text.h"
#include "riskd/clock.h"
#include "riskd/hash.h"
#include "riskd/json.h"

#define MAX_MANIFEST_BYTES  (16u << 20)
#define MAX_PIPELINE_BYTES  (16u << 20)
#define MAX_REFERENCE_BYTES (64u << 20)

/* ---------------------------------------------------------------- names */

int rd_bundle_name_parse(const char *name, char *product, size_t product_cap, char *model_type,
                         size_t type_cap, unsigned *major, unsigned *minor, rd_err *err)
{
    const char *v = strrchr(name, '_');
    if (!v || v[1] != 'v')
        return rd_err_set(err, RD_EINVAL, "bundle name \"%s\": must end in _v{major}.{minor}", name);
    /* Plain integers: one version, one spelling (v01.0 and v1.00 would name v1.0 again). */
    const char *dot = strchr(v + 2, '.');
    if ((v[2] == '0' && isdigit((unsigned char)v[3])) ||
        (dot && dot[1] == '0' && isdigit((unsigned char)dot[2])))
        return rd_err_set(err, RD_EINVAL,
                          "bundle name \"%s\": versions are plain integers, without leading zeros (v1.0, "
                          "not v01.0 or v1.00)",
                          name);
    char *end;
    unsigned long ma = strtoul(v + 2, &end, 10), mi;
    if (!isdigit((unsigned char)v[2]) || *end != '.' || !isdigit((unsigned char)end[1]) || ma > 99999)
        return rd_err_set(err, RD_EINVAL, "bundle name \"%s\": must end in _v{major}.{minor}", name);
    mi = strtoul(end + 1, &end, 10);
    if (*end || mi > 99999)
        return rd_err_set(err, RD_EINVAL, "bundle name \"%s\": must end in _v{major}.{minor}", name);
    const char *t = v;
    while (t > name && t[-1] != '_')
        t--;
    if (t == name || !islower((unsigned char)name[0]) || !islower((unsigned char)*t))
        return rd_err_set(
            err, RD_EINVAL,
            "bundle name \"%s\": must be {product}_{model_type}_v{major}.{minor}, product and model "
            "type starting with a lower-case letter",
            name);
    for (const char *p = name; p < v; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !(*p == '_' && p[1] != '_'))
            return rd_err_set(err, RD_EINVAL, "bundle name \"%s\": only a-z, 0-9 and single _ before _v",
                              name);
    size_t plen = (size_t)(t - 1 - name), tlen = (size_t)(v - t);
    if (plen >= product_cap || tlen >= type_cap)
        return rd_err_set(err, RD_EINVAL, "bundle name \"%s\": too long", name);
    memcpy(product, name, plen);
    product[plen] = '\0';
    memcpy(model_type, t, tlen);
    model_type[tlen] = '\0';
    *major = (unsigned)ma;
    *minor = (unsigned)mi;
    return RD_OK;
}

/* ---------------------------------------------------------------- manifest */

static const rd_value *get(const rd_value *o, const char *key)
{
    return o && key && o->type == RD_VOBJECT ? rd_value_get(o, key, strlen(key)) : NULL;
}

static const char *get_str(const rd_value *o, const char *key)
{
    const rd_value *v = get(o, key);
    return v && v->type == RD_VSTRING ? v->u.s : NULL;
}

/* A bound of a band: a number, or null/absent for unbounded (NaN). */
static int bound(const rd_value *band, const char *key, double *out)
{
    const rd_value *v = get(band, key);
    if (!v || v->type == RD_VNULL) {
        *out = (double)NAN;
        return 0;
    }
    if (v->type != RD_VNUMBER || !isfinite(v->u.n))
        return -1;
    *out = v->u.n;
    return 0;
}

static int cmp_band(const void *a, const void *b)
{
    const rd__band *x = a, *y = b;
    if (isnan(x->min) || isnan(y->min))
        return isnan(y->min) - isnan(x->min);
    return (x->min > y->min) - (x->min < y->min);
}

int rd__bands_parse(rd_bundle *b, const rd_value *arr, const char *where, rd_err *err)
{
    if (!arr || arr->type != RD_VARRAY || arr->len == 0 || arr->len > 64)
        return rd_err_set(err, RD_EINVAL, "%s: must be an array of 1 to 64 bands", where);
    b->bands = rd_arena_alloc(&b->arena, arr->len * sizeof(rd__band));
    if (!b->bands)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    b->nbands = arr->len;
    for (uint32_t i = 0; i < arr->len; i++) {
        const rd_value *o = &arr->u.items[i];
        rd__band *d = &b->bands[i];
        d->level = get_str(o, "level");
        d->decision = get_str(o, "decision");
        if (!d->level || !*d->level)
            return rd_err_set(err, RD_EINVAL, "%s[%u].level: missing or not a non-empty string", where, i);
        if (get(o, "decision") && !d->decision)
            return rd_err_set(err, RD_EINVAL, "%s[%u].decision: not a string", where, i);
        if (bound(o, "min", &d->min) != 0 || bound(o, "max", &d->max) != 0)
            return rd_err_set(err, RD_EINVAL, "%s[%u]: min and max must be finite numbers or null", where, i);
        if (!isnan(d->min) && !isnan(d->max) && !(d->min < d->max))
            return rd_err_set(err, RD_EINVAL, "%s[%u]: min must be below max", where, i);
    }
    qsort(b->bands, b->nbands, sizeof(rd__band), cmp_band);
    if (!isnan(b->bands[0].min) || !isnan(b->bands[b->nbands - 1].max))
        return rd_err_set(err, RD_EINVAL,
                          "%s: the bands must cover every score (the lowest min and the highest max null)",
                          where);
    for (size_t i = 1; i < b->nbands; i++)
        if (!(b->bands[i - 1].max == b->bands[i].min))
            return rd_err_set(err, RD_EINVAL,
                              "%s: band \"%s\" ends at %g but the next one (\"%s\") starts at %g", where,
                              b->bands[i - 1].level, b->bands[i - 1].max, b->bands[i].level, b->bands[i].min);
    return RD_OK;
}

/* The path of a file the manifest lists, refused when it is not there. */
static int listed_path(const char *dir, const char *file, char *path, size_t cap, rd_err *err)
{
    snprintf(path, cap, "%s/%s", dir, file);
    if (access(path, F_OK) != 0)
        return rd_err_set(err, RD_EINVAL, "%s: listed in the manifest but missing", file);
    return RD_OK;
}

static int check_sum(const char *file, const char *want, const char *got, rd_err *err)
{
    if (strcmp(want, got) == 0)
        return RD_OK;
    return rd_err_set(err, RD_EINVAL,
                      "%s: checksum mismatch (the manifest says sha256 %.16s..., the file is %.16s...)", file,
                      want, got);
}

/* Read a file the manifest lists and check its checksum; the bytes returned are the ones
 * hashed, so what is parsed is what was verified. */
static int read_checked(const char *dir, const rd_value *files, const char *file, size_t max, char **text,
                        size_t *len, rd_err *err)
{
    const char *want = get_str(files, file);
    if (!want)
        return rd_err_set(err, RD_EINVAL, "manifest.json: files: \"%s\" has no checksum", file);
    char path[4096], hex[RD_SHA256_HEX];
    int rc = listed_path(dir, file, path, sizeof(path), err);
    if (rc == RD_OK)
        rc = rd_file_read(path, max, text, len, err);
    if (rc != RD_OK)
        return rc;
    rd_sha256_hex(*text, *len, hex);
    if ((rc = check_sum(file, want, hex, err)) != RD_OK)
        rd_free(*text);
    return rc;
}

static bool plain_file_name(const char *s)
{
    return *s && *s != '.' && !strchr(s, '/') && !strchr(s, '\\') && strlen(s) < 256;
}

/* The manifest's file list: plain names, each with a SHA-256. */
static int check_file_list(const rd_value *files, rd_err *err)
{
    if (!files || files->type != RD_VOBJECT || files->len == 0)
        return rd_err_set(err, RD_EINVAL, "manifest.json: files: missing or not an object of checksums");
    for (uint32_t i = 0; i < files->len; i++) {
        const rd_member *f = &files->u.members[i];
        if (!plain_file_name(f->key))
            return rd_err_set(err, RD_EINVAL,
                              "manifest.json: files: \"%s\" is not a plain file name in the bundle", f->key);
        if (f->val.type != RD_VSTRING || f->val.len != 64 || strspn(f->val.u.s, "0123456789abcdef") != 64)
            return rd_err_set(err, RD_EINVAL, "manifest.json: files.%s: not a SHA-256 in lower-case hex",
                              f->key);
    }
    return RD_OK;
}

/* The files the loader does not parse: each is hashed once here; those it parses (parsed, a
 * NULL-terminated list: the model, the pipeline, the reference, the fallback rules) were
 * hashed as they were read. */
static int check_other_files(const char *dir, const rd_value *files, const char *const *parsed, rd_err *err)
{
    for (uint32_t i = 0; i < files->len; i++) {
        const rd_member *f = &files->u.members[i];
        bool skip = false;
        for (size_t k = 0; parsed[k] && !skip; k++)
            skip = strcmp(f->key, parsed[k]) == 0;
        if (skip)
            continue;
        char path[4096], hex[RD_SHA256_HEX];
        int rc = listed_path(dir, f->key, path, sizeof(path), err);
        if (rc == RD_OK)
            rc = rd_sha256_file(path, hex, err);
        if (rc == RD_OK)
            rc = check_sum(f->key, f->val.u.s, hex, err);
        if (rc != RD_OK)
            return rc;
    }
    return RD_OK;
}

static int check_identity(rd_bundle *b, const rd_value *m, rd_err *err)
{
    const rd_value *fmt = get(m, "format");
    if (!fmt || fmt->type != RD_VNUMBER || fmt->u.n != 1)
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: format: must be 1 (this riskd reads bundle format 1)");
    b->name = get_str(m, "name");
    if (!b->name)
        return rd_err_set(err, RD_EINVAL, "manifest.json: name: missing or not a string");
    char product[128] = "", type[64] = "";
    unsigned major = 0, minor = 0;
    int rc = rd_bundle_name_parse(b->name, product, sizeof(product), type, sizeof(type), &major, &minor, err);
    if (rc != RD_OK) {
        rd_err_prefix(err, "manifest.json: name");
        return rc;
    }
    const char *p = get_str(m, "product"), *t = get_str(m, "model_type");
    const rd_value *v = get(m, "version"), *vma = get(v, "major"), *vmi = get(v, "minor");
    if (!p || strcmp(p, product) != 0 || !t || strcmp(t, type) != 0 || !vma || vma->type != RD_VNUMBER ||
        vma->u.n != major || !vmi || vmi->type != RD_VNUMBER || vmi->u.n != minor)
        return rd_err_set(
            err, RD_EINVAL,
            "manifest.json: product, model_type and version must match the name %s (%s, %s, %u.%u)", b->name,
            product, type, major, minor);
    return RD_OK;
}

static int check_features(const rd_bundle *b, const rd_value *feats, rd_err *err)
{
    size_t n = rd_pipeline_num_features(b->pipeline);
    if (!feats || feats->type != RD_VARRAY)
        return rd_err_set(err, RD_EINVAL, "manifest.json: features: missing or not an array");
    if (feats->len != n || rd_model_num_features(b->model) != n)
        return rd_err_set(err, RD_EINVAL,
                          "features: the manifest lists %u, the pipeline makes %zu, the model reads %zu",
                          feats->len, n, rd_model_num_features(b->model));
    for (size_t j = 0; j < n; j++) {
        const rd_value *f = &feats->u.items[j];
        const char *pn = rd_pipeline_feature_name(b->pipeline, j), *mn = rd_model_feature_name(b->model, j);
        if (f->type != RD_VSTRING || strcmp(f->u.s, pn) != 0)
            return rd_err_set(err, RD_EINVAL,
                              "features[%zu]: the manifest says %s, the pipeline makes \"%s\"", j,
                              f->type == RD_VSTRING ? f->u.s : "(not a string)", pn);
        if (mn && strcmp(mn, pn) != 0)
            return rd_err_set(err, RD_EINVAL,
                              "features[%zu]: the pipeline makes \"%s\", the model reads \"%s\"", j, pn, mn);
    }
    return RD_OK;
}

int rd__bundle_set_output(rd_bundle *b, const char *kind, const char *where, rd_err *err)
{
    const char *obj = rd_model_objective(b->model);
    bool scorecard = rd_model_num_outputs(b->model, RD_OUTPUT_SCORE) == 1;
    if (rd_model_num_outputs(b->model, RD_OUTPUT_PROBABILITY) != 1 ||
        rd_model_num_outputs(b->model, RD_OUTPUT_RAW) != 1)
        return rd_err_set(err, RD_EINVAL,
                          "the model (objective \"%s\") has %zu output groups; a bundle needs one (a binary, "
                          "regression or ranking model)",
                          obj, rd_model_num_outputs(b->model, RD_OUTPUT_RAW));
    b->probability = strcmp(kind, "probability") == 0;
    b->margin = strcmp(kind, "margin") == 0;
    b->points = strcmp(kind, "score") == 0 && scorecard;
    if (!b->probability && !b->margin && strcmp(kind, "score") != 0)
        return rd_err_set(err, RD_EINVAL, "%s: \"%s\" is not \"probability\", \"score\" or \"margin\"", where,
                          kind);
    if (b->probability && !rd_model_outputs_probability(b->model))
        return rd_err_set(
            err, RD_EINVAL,
            "%s: the model's objective \"%s\" does not output a probability: declare the output "
            "kind \"score\" or \"margin\" (--output-kind), or train with binary:logistic",
            where, obj);
    if (!b->probability && !b->margin && !scorecard && rd_model_outputs_probability(b->model))
        return rd_err_set(err, RD_EINVAL,
                          "%s: \"score\" is a scorecard's points or the output of a model that gives no "
                          "probability; objective \"%s\" gives one: declare \"probability\" or \"margin\"",
                          where, obj);
    return RD_OK;
}

static int check_output(rd_bundle *b, const rd_value *m, rd_err *err)
{
    const char *kind = get_str(get(m, "output"), "kind");
    if (!kind)
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: output.kind: must be \"probability\", \"score\" or \"margin\"");
    int rc = rd__bundle_set_output(b, kind, "manifest.json: output.kind", err);
    if (rc != RD_OK)
        return rc;
    rc = rd__bands_parse(b, get(m, "risk_bands"), "manifest.json: risk_bands", err);
    if (rc != RD_OK)
        return rc;
    const rd_value *rcodes = get(m, "reason_codes"), *count = get(rcodes, "count");
    if (!count || count->type != RD_VNUMBER || count->u.n < 0 || count->u.n > RD_BUNDLE_MAX_REASONS ||
        count->u.n != floor(count->u.n))
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: reason_codes.count: must be an integer from 0 to %d",
                          RD_BUNDLE_MAX_REASONS);
    b->nreasons = (size_t)count->u.n;
    b->reason_map = get(rcodes, "map");
    if (b->reason_map && b->reason_map->type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "manifest.json: reason_codes.map: must be an object");
    for (uint32_t i = 0; b->reason_map && i < b->reason_map->len; i++) {
        const rd_member *e = &b->reason_map->u.members[i];
        size_t k = 0, nin = rd_pipeline_num_inputs(b->pipeline);
        while (k < nin && strcmp(rd_pipeline_input_name(b->pipeline, k), e->key) != 0)
            k++;
        if (k == nin || e->val.type != RD_VSTRING)
            return rd_err_set(err, RD_EINVAL, "manifest.json: reason_codes.map.%s: %s", e->key,
                              k == nin ? "not an input of the pipeline" : "not a string");
    }
    b->samples = get(m, "samples");
    if (b->samples && b->samples->type != RD_VARRAY)
        return rd_err_set(err, RD_EINVAL, "manifest.json: samples: must be an array");
    return RD_OK;
}

/* The training reference (the manifest's "reference", reference.json by default; its checksum
 * is required): read once, checked on the bytes parsed. */
static int load_reference(rd_bundle *b, const char *dir, const rd_value *files, const char *ref_file,
                          rd_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_checked(dir, files, ref_file, MAX_REFERENCE_BYTES, &text, &len, err);
    if (rc != RD_OK)
        return rc;
    rc = rd__reference_parse(text, len, b->pipeline, &b->arena, &b->reference, err);
    rd_free(text);
    if (rc != RD_OK)
        rd_err_prefix(err, "%s", ref_file);
    return rc;
}

/* fallback.json, when the manifest names one ("fallback") or lists one in files: read once,
 * its checksum checked on the bytes compiled. */
static int load_fallback(rd_bundle *b, const char *dir, const rd_value *files, const char **fb_file,
                         rd_err *err)
{
    const rd_value *named = get(&b->manifest, "fallback");
    if (named && named->type != RD_VSTRING)
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: fallback: must be the name of a file in the bundle");
    *fb_file = named ? named->u.s : get_str(files, "fallback.json") ? "fallback.json" : NULL;
    if (!*fb_file)
        return RD_OK;
    char *text = NULL;
    size_t len = 0;
    int rc = read_checked(dir, files, *fb_file, RD_FALLBACK_MAX_BYTES, &text, &len, err);
    if (rc)
        return rc;
    rc = rd_fallback_parse(text, len, &b->fallback, err);
    rd_free(text);
    if (!rc)
        rc = rd_bundle_check_rules(b->fallback, (const rd_pipeline *const *)&b->pipeline, 1, err);
    if (rc)
        rd_err_prefix(err, "%s", *fb_file);
    return rc;
}

/* Rules that read an input no pipeline has would silently never fire (or always, through
 * missing): each name must be an input of one of the pipelines. */
int rd_bundle_check_rules(const rd_fallback *rules, const rd_pipeline *const *pipelines, size_t n,
                          rd_err *err)
{
    for (size_t i = 0; rules && i < rd_fallback_num_features(rules); i++) {
        const char *name = rd_fallback_feature(rules, i);
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = rd_pipeline_find_input(pipelines[k], name, strlen(name)) >= 0;
        if (found || n == 0)
            continue;
        const char *near = NULL;
        for (size_t k = 0; k < n && !near; k++)
            for (size_t j = 0; j < rd_pipeline_num_inputs(pipelines[k]) && !near; j++)
                if (rd_near_miss(name, rd_pipeline_input_name(pipelines[k], j)))
                    near = rd_pipeline_input_name(pipelines[k], j);
        return rd_err_set(err, RD_EINVAL,
                          "the rules read features.%.64s, which is not an input of the %s%s%s%s", name,
                          n == 1 ? "bundle's pipeline" : "loaded bundles' pipelines",
                          near ? " (did you mean features." : "", near ? near : "", near ? "?)" : "");
    }
    return RD_OK;
}

/* The manifest's "serving" settings: {"deadline_ms": N}. */
static int check_serving(rd_bundle *b, const rd_value *s, rd_err *err)
{
    if (!s)
        return RD_OK;
    if (s->type != RD_VOBJECT)
        return rd_err_set(err, RD_EINVAL, "manifest.json: serving: must be an object");
    for (uint32_t i = 0; i < s->len; i++) {
        const rd_member *m = &s->u.members[i];
        if (strcmp(m->key, "deadline_ms") != 0)
            return rd_err_set(err, RD_EINVAL,
                              "manifest.json: serving: unknown key \"%.64s\" (it has deadline_ms)", m->key);
        if (m->val.type != RD_VNUMBER || !(m->val.u.n >= 1 && m->val.u.n <= 600000) ||
            m->val.u.n != floor(m->val.u.n))
            return rd_err_set(err, RD_EINVAL,
                              "manifest.json: serving.deadline_ms: an integer from 1 to 600000");
        b->deadline_ms = (int)m->val.u.n;
    }
    return RD_OK;
}

static int load_parts(rd_bundle *b, const char *dir, rd_err *err)
{
    const rd_value *m = &b->manifest, *files = get(m, "files");
    int rc = check_identity(b, m, err);
    if (rc == RD_OK)
        rc = check_file_list(files, err);
    const char *model_file = get_str(get(m, "model"), "file"), *pipe_file = get_str(m, "pipeline");
    if (rc == RD_OK && (!model_file || !pipe_file))
        rc = rd_err_set(err, RD_EINVAL, "manifest.json: model.file and pipeline: missing or not strings");
    const char *ref_file = get_str(m, "reference") ? get_str(m, "reference") : "reference.json";
    if (rc == RD_OK && !get_str(files, ref_file))
        rc = rd_err_set(err, RD_EINVAL, "manifest.json: files: the reference (%s) has no checksum", ref_file);
    char *text = NULL;
    size_t len = 0;
    if (rc == RD_OK &&
        (rc = read_checked(dir, files, model_file, RD_MODEL_MAX_BYTES, &text, &len, err)) == RD_OK) {
        rc = rd_model_load_buffer(text, len, &b->model, err);
        rd_free(text);
        if (rc != RD_OK)
            rd_err_prefix(err, "%s", model_file);
    }
    if (rc == RD_OK &&
        (rc = read_checked(dir, files, pipe_file, MAX_PIPELINE_BYTES, &text, &len, err)) == RD_OK) {
        rc = rd_pipeline_parse(text, len, &b->pipeline, err);
        rd_free(text);
        if (rc != RD_OK)
            rd_err_prefix(err, "%s", pipe_file);
    }
    if (rc == RD_OK)
        b->pipeline_sha = get_str(files, pipe_file);
    if (rc == RD_OK)
        rc = load_reference(b, dir, files, ref_file, err);
    const char *fb_file = NULL;
    if (rc == RD_OK)
        rc = load_fallback(b, dir, files, &fb_file, err);
    const char *parsed[] = {model_file, pipe_file, ref_file, fb_file, NULL};
    if (rc == RD_OK)
        rc = check_other_files(dir, files, parsed, err);
    if (rc == RD_OK)
        rc = check_serving(b, get(m, "serving"), err);
    if (rc == RD_OK)
        rc = check_features(b, get(m, "features"), err);
    if (rc == RD_OK)
        rc = check_output(b, m, err);
    return rc;
}

int rd_bundle_load(const char *dir, rd_bundle **out, rd_err *err)
{
    rd_bundle *b = rd_calloc(1, sizeof(*b));
    if (!b)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_arena_init(&b->arena, 0);
    char path[4096], *text = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    int rc = rd_file_read(path, MAX_MANIFEST_BYTES, &text, &len, err);
    if (rc == RD_OK) {
        rc = rd_json_parse(text, len, NULL, &b->arena, &b->manifest, err);
        rd_free(text);
        if (rc != RD_OK)
            rd_err_prefix(err, "manifest.json");
        else if (b->manifest.type != RD_VOBJECT)
            rc = rd_err_set(err, RD_EINVAL, "manifest.json: not a JSON object");
    }
    /* The digest first: an edited manifest is refused as edited, whatever else it breaks. */
    if (rc == RD_OK)
        rc = rd__bundle_check_digest(b, err);
    if (rc == RD_OK)
        rc = load_parts(b, dir, err);
    if (rc == RD_OK)
        rc = rd__bundle_read_signature(b, dir, err);
    if (rc != RD_OK) {
        if (rc != RD_EIO) /* an I/O message already names the full path */
            rd_err_prefix(err, "%s", dir);
        rd_bundle_free(b);
        return rc;
    }
    *out = b;
    return RD_OK;
}

void rd_bundle_free(rd_bundle *b)
{
    if (!b)
        return;
    rd_model_free(b->model);
    rd_pipeline_free(b->pipeline);
    rd_fallback_unref(b->fallback);
    rd_arena_deinit(&b->arena);
    rd_free(b);
}

const char *rd_bundle_name(const rd_bundle *b) { return b->name; }
const char *rd_bundle_digest(const rd_bundle *b) { return b->digest; }
const rd_model *rd_bundle_model(const rd_bundle *b) { return b->model; }
const rd_pipeline *rd_bundle_pipeline(const rd_bundle *b) { return b->pipeline; }
const rd_value *rd_bundle_manifest(const rd_bundle *b) { return &b->manifest; }
bool rd_bundle_score_is_points(const rd_bundle *b) { return b->points; }
bool rd_bundle_score_is_probability(const rd_bundle *b) { return b->probability; }
bool rd_bundle_has_probability(const rd_bundle *b) { return rd_model_outputs_probability(b->model); }
size_t rd_bundle_num_reasons(const rd_bundle *b) { return b->nreasons; }
const rd_fallback *rd_bundle_fallback(const rd_bundle *b) { return b->fallback; }
const rd_reference *rd_bundle_reference(const rd_bundle *b) { return b->reference; }
int rd_bundle_deadline_ms(const rd_bundle *b) { return b->deadline_ms; }
size_t rd_bundle_num_features(const rd_bundle *b) { return rd_model_num_features(b->model); }
bool rd_bundle_same_pipeline(const rd_bundle *a, const rd_bundle *b)
{
    return a == b || (a->pipeline_sha && b->pipeline_sha && !strcmp(a->pipeline_sha, b->pipeline_sha));
}

void rd_bundle_band(const rd_bundle *b, double score, const char **level, const char **decision)
{
    const rd__band *band = &b->bands[b->nbands - 1];
    for (size_t i = 0; i < b->nbands; i++)
        if (isnan(b->bands[i].max) || score < b->bands[i].max) {
            band = &b->bands[i];
            break;
        }
    *level = band->level;
    *decision = band->decision;
}

const char *rd_bundle_reason_name(const rd_bundle *b, uint32_t input)
{
    return rd_pipeline_input_name(b->pipeline, input);
}

const char *rd_bundle_reason_code(const rd_bundle *b, uint32_t input)
{
    const char *name = rd_pipeline_input_name(b->pipeline, input),
               *code = name ? get_str(b->reason_map, name) : NULL;
    return code ? code : name;
}

/* ---------------------------------------------------------------- scoring */

#define STACK_FEATURES ((size_t)256)

/* Impacts per model feature summed per pipeline input (one-hot features of one input add
 * up: SHAP values are additive), then the top k. */
static int reasons(const rd_bundle *b, const double *x, double *impact, size_t k, rd_score *out, rd_err *err)
{
    size_t nf = rd_model_num_features(b->model), nin = rd_pipeline_num_inputs(b->pipeline);
    int rc = rd_model_impacts(b->model, x, impact, err);
    if (rc != RD_OK)
        return rc;
    double *per_input = impact + nf;
    memset(per_input, 0, nin * sizeof(double));
    for (size_t j = 0; j < nf; j++)
        per_input[rd_pipeline_feature_input(b->pipeline, j)] += impact[j];
    for (size_t i = 0; i < nin; i++)
        if (!isfinite(per_input[i]))
            return rd_err_set(err, RD_EINVAL, "%s: its impact is not a finite number for this value",
                              rd_pipeline_input_name(b->pipeline, i));
    out->nreasons = rd_reasons_top(per_input, nin, k, out->reasons);
    return RD_OK;
}

int rd_bundle_prepare(const rd_bundle *b, const rd_value *record, double *x, rd_pipeline_report *report,
                      rd_err *err)
{
    return rd_pipeline_apply(b->pipeline, record, x, report, err);
}

int rd_bundle_score_prepared(const rd_bundle *b, const double *x, size_t k, int64_t deadline, rd_score *out,
                             rd_err *err)
{
    size_t nf = rd_model_num_features(b->model), nin = rd_pipeline_num_inputs(b->pipeline);
    rd_pipeline_report report = out->report; /* the caller's, from prepare */
    memset(out, 0, sizeof(*out));
    out->report = report;
    if (k > RD_BUNDLE_MAX_REASONS)
        k = RD_BUNDLE_MAX_REASONS;
    int rc = rd_model_predict_until(b->model, x, RD_OUTPUT_PROBABILITY, &out->probability, deadline, err);
    if (rc != RD_OK)
        return rc;
    out->score = out->probability;
    if (b->points)
        rd_model_predict(b->model, x, RD_OUTPUT_SCORE, &out->score);
    else if (b->margin)
        rd_model_predict(b->model, x, RD_OUTPUT_RAW, &out->score);
    /* Inputs at the edge of the doubles (no bounds in the spec) can overflow a linear
     * model's sum: an answer that is not a number is refused, never returned. */
    if (!isfinite(out->score) || !isfinite(out->probability))
        return rd_err_set(err, RD_EINVAL, "the model's output is not a finite number for these values");
    rd_bundle_band(b, out->score, &out->risk_level, &out->decision);
    if (k == 0)
        return RD_OK;
    if (deadline && rd_clock_ns() > deadline)
        return rd_err_set(err, RD_ETIMEOUT, "the deadline passed before the reason codes");
    double stack[2 * STACK_FEATURES], *impact = stack;
    if (nf + nin > 2 * STACK_FEATURES && !(impact = rd_malloc((nf + nin) * sizeof(double))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rc = reasons(b, x, impact, k, out, err);
    if (impact != stack)
        rd_free(impact);
    return rc;
}

int rd_bundle_score(const rd_bundle *b, const rd_value *record, size_t k, rd_score *out, rd_err *err)
{
    size_t nf = rd_model_num_features(b->model);
    double stack[STACK_FEATURES], *x = stack;
    memset(out, 0, sizeof(*out));
    if (nf > STACK_FEATURES && !(x = rd_malloc(nf * sizeof(double))))
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = rd_bundle_prepare(b, record, x, &out->report, err);
    if (rc == RD_OK)
        rc = rd_bundle_score_prepared(b, x, k, 0, out, err);
    if (x != stack)
        rd_free(x);
    return rc;
}

void rd_bundle_csv_record(const rd_csv *c, char **fields, rd_member *members, rd_value *out)
{
    size_t n = rd_csv_num_columns(c);
    for (size_t i = 0; i < n; i++)
        members[i] = (rd_member){rd_csv_column(c, i), (uint32_t)strlen(rd_csv_column(c, i)),
                                 rd_value_string(fields[i], (uint32_t)strlen(fields[i]))};
    *out = (rd_value){.type = RD_VOBJECT, .len = (uint32_t)n, .u.members = members};
}

/* ---------------------------------------------------------------- verify */

static bool same_score(const rd_bundle *b, double got, double want)
{
    if (rd_model_is_float32(b->model) && !b->points)
        return (float)got == (float)want;
    return fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want));
}

static int verify_sample(const rd_bundle *b, uint32_t i, const rd_value *s, rd_err *err)
{
    const rd_value *rec = get(s, "record"), *want = get(s, "score"), *wr = get(s, "reasons");
    if (!rec || !want || want->type != RD_VNUMBER || !wr || wr->type != RD_VARRAY)
        return rd_err_set(err, RD_EINVAL, "manifest.json: samples[%u]: needs record, score and reasons", i);
    rd_score sc;
    int rc = rd_bundle_score(b, rec, b->nreasons, &sc, err);
    if (rc != RD_OK) {
        rd_err_prefix(err, "manifest.json: samples[%u]", i);
        return rc;
    }
    if (!same_score(b, sc.score, want->u.n))
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: samples[%u]: score re-predicted as %.17g, recorded %.17g", i,
                          sc.score, want->u.n);
    bool same = wr->len == sc.nreasons;
    for (size_t r = 0; same && r < sc.nreasons; r++)
        same = wr->u.items[r].type == RD_VSTRING &&
               strcmp(wr->u.items[r].u.s, rd_bundle_reason_name(b, sc.reasons[r].index)) == 0;
    if (!same)
        return rd_err_set(err, RD_EINVAL,
                          "manifest.json: samples[%u]: the reason codes differ from the recorded ones", i);
    return RD_OK;
}

int rd_bundle_verify(const rd_bundle *b, size_t *checked, rd_err *err)
{
    *checked = 0;
    if (!b->samples || b->samples->len == 0)
        return rd_err_set(err, RD_EINVAL, "manifest.json: samples: none to verify");
    for (uint32_t i = 0; i < b->samples->len; i++) {
        int rc = verify_sample(b, i, &b->samples->u.items[i], err);
        if (rc != RD_OK) {
            rd_err_prefix(err, "%s", b->name);
            return rc;
        }
        (*checked)++;
    }
    return RD_OK;
}
