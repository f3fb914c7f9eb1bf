/* LightGBM text models against LightGBM's own predictions: the eleven public vectors of
 * shared/data/lightgbm (VECTORS.tsv: model, input rows and their format, the expected file and
 * whether it holds raw scores, transformed outputs or leaf indices; provenance in SOURCES.md).
 * Every predicted value must be within 1e-12 of LightGBM's (leaf indices equal). One line per
 * vector with its largest absolute error, then "N passed, N failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "riskd/riskd.h"
#include "riskd/arena.h"
#include "riskd/json.h"
#include "riskd/model.h"

#define TOLERANCE 1e-12

static const char *shared_dir(void)
{
    const char *s = getenv("RISKD_SHARED");
    return s && *s ? s : "../shared";
}

/* A growable array of doubles. */
struct vec {
    double *v;
    size_t n, cap;
};

static int push(struct vec *a, double x)
{
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 1024;
        double *p = realloc(a->v, c * sizeof(double));
        if (!p)
            return -1;
        a->v = p;
        a->cap = c;
    }
    a->v[a->n++] = x;
    return 0;
}

static char *read_text(const char *dir, const char *rel, size_t *len)
{
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    char *text;
    rd_err err;
    if (rd_file_read(path, 64u << 20, &text, len, &err) != RD_OK) {
        printf("  %s\n", err.msg);
        return NULL;
    }
    return text;
}

/* Whitespace-separated numbers, line by line; every line must hold width numbers (after
 * dropping the first column when skip_first). Returns the number of rows, or -1. */
static long read_delimited(char *text, size_t width, int skip_first, struct vec *out)
{
    long rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t got = 0;
        int col = 0;
        for (char *p = line; *p;) {
            while (*p == ' ' || *p == '\t' || *p == '\r')
                p++;
            if (!*p)
                break;
            char *end;
            double x = strtod(p, &end);
            if (end == p)
                return -1;
            p = end;
            if (col++ == 0 && skip_first)
                continue;
            got++;
            if (push(out, x))
                return -1;
        }
        if (got == 0 && col == 0)
            continue; /* blank line */
        if (got != width) {
            printf("  row %ld has %zu values, expected %zu\n", rows + 1, got, width);
            return -1;
        }
        rows++;
    }
    return rows;
}

/* libsvm: "label idx:value ...", absent features 0 (as LightGBM reads sparse rows). */
static long read_libsvm(char *text, size_t nf, struct vec *out)
{
    long rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = line, *end;
        strtod(p, &end); /* the label */
        if (end == p)
            continue;
        size_t base = out->n;
        for (size_t j = 0; j < nf; j++)
            if (push(out, 0.0))
                return -1;
        for (p = end; *p;) {
            while (*p == ' ' || *p == '\t' || *p == '\r')
                p++;
            if (!*p)
                break;
            long idx = strtol(p, &end, 10);
            if (end == p || *end != ':' || idx < 0 || (size_t)idx >= nf)
                return -1;
            p = end + 1;
            out->v[base + (size_t)idx] = strtod(p, &end);
            if (end == p)
                return -1;
            p = end;
        }
        rows++;
    }
    return rows;
}

/* A JSON number, or null as NaN (missing inputs in the boosters files). */
static int json_num(const rd_value *v, struct vec *out)
{
    if (v->type == RD_VNULL)
        return push(out, (double)NAN);
    if (v->type != RD_VNUMBER)
        return -1;
    return push(out, v->u.n);
}

/* An array of numbers, or of arrays of width numbers, flattened into out. Returns rows. */
static long json_matrix(const rd_value *a, size_t width, struct vec *out)
{
    if (!a || a->type != RD_VARRAY)
        return -1;
    for (uint32_t i = 0; i < a->len; i++) {
        const rd_value *r = &a->u.items[i];
        if (r->type != RD_VARRAY) {
            if (width != 1 || json_num(r, out))
                return -1;
            continue;
        }
        if (r->len != width)
            return -1;
        for (uint32_t j = 0; j < r->len; j++)
            if (json_num(&r->u.items[j], out))
                return -1;
    }
    return (long)a->len;
}

static long read_json(const char *text, size_t len, const char *key, size_t width, struct vec *out)
{
    rd_arena arena;
    rd_arena_init(&arena, 0);
    rd_json_limits lim = {.max_bytes = 64u << 20};
    rd_value root;
    rd_err err;
    long rows = -1;
    if (rd_json_parse(text, len, &lim, &arena, &root, &err) == RD_OK)
        rows = json_matrix(rd_value_get(&root, key, strlen(key)), width, out);
    else
        printf("  %s\n", err.msg);
    rd_arena_deinit(&arena);
    return rows;
}

struct vector {
    char *name, *model, *data, *format, *expected, *output;
    int skip_first;
};

/* Run one vector; returns 0 when every value is within TOLERANCE. */
static int run_vector(const char *dir, const struct vector *v)
{
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, v->model);
    rd_model *m;
    rd_err err;
    if (rd_model_load_file(path, &m, &err) != RD_OK) {
        printf("FAIL %s: %s\n", v->name, err.msg);
        return 1;
    }
    bool leaves = strcmp(v->output, "leaf_index") == 0, raw = strcmp(v->output, "raw") == 0;
    size_t nf = rd_model_num_features(m), width = leaves ? m->ntrees : rd_model_num_outputs(m, RD_OUTPUT_RAW);
    struct vec x = {0}, want = {0};
    size_t len;
    long rows = -1, wrows = -1;
    char *text = read_text(dir, v->data, &len);
    if (text && !strcmp(v->format, "json"))
        rows = read_json(text, len, "data", nf, &x);
    else if (text && !strcmp(v->format, "libsvm"))
        rows = read_libsvm(text, nf, &x);
    else if (text)
        rows = read_delimited(text, nf, v->skip_first, &x);
    rd_free(text);
    text = read_text(dir, v->expected, &len);
    if (text && !strcmp(v->format, "json"))
        wrows = read_json(text, len, raw ? "raw" : "proba", width, &want);
    else if (text)
        wrows = read_delimited(text, width, 0, &want);
    rd_free(text);
    int failed = 1;
    if (width > 64 && (!leaves || width > 256)) {
        printf("FAIL %s: %zu outputs per row, more than this test holds\n", v->name, width);
    } else if (rows <= 0 || rows != wrows) {
        printf("FAIL %s: %ld input rows, %ld expected rows\n", v->name, rows, wrows);
    } else {
        double maxerr = 0, out[64];
        uint32_t leaf[256];
        size_t bad = 0, same = 0;
        for (size_t r = 0; r < (size_t)rows; r++) {
            const double *row = x.v + r * nf;
            if (leaves)
                rd__lightgbm_leaves(m, row, leaf);
            else
                rd_model_predict(m, row, raw ? RD_OUTPUT_RAW : RD_OUTPUT_PROBABILITY, out);
            for (size_t k = 0; k < width; k++) {
                double got = leaves ? (double)leaf[k] : out[k], e = fabs(got - want.v[r * width + k]);
                if (!(e <= TOLERANCE) && bad++ < 5)
                    printf("  row %zu output %zu: %.17g, LightGBM %.17g\n", r, k, got, want.v[r * width + k]);
                maxerr = e > maxerr || isnan(e) ? e : maxerr;
                same += memcmp(&got, &want.v[r * width + k], sizeof(got)) == 0;
            }
        }
        failed = bad != 0;
        printf("%s %-30s %4ld rows x %3zu %-11s max abs error %.3g (%zu of %zu values bit-identical)\n",
               failed ? "FAIL" : "ok  ", v->name, rows, width, v->output, maxerr, same, (size_t)rows * width);
    }
    free(x.v);
    free(want.v);
    rd_model_free(m);
    return failed;
}

int main(void)
{
    char dir[2048];
    snprintf(dir, sizeof(dir), "%.2000s/data/lightgbm", shared_dir());
    size_t len;
    char path[2100];
    snprintf(path, sizeof(path), "%s/VECTORS.tsv", dir);
    FILE *probe = fopen(path, "r");
    if (!probe) {
        printf("skipped: peer suite not present (%s)\n0 passed, 0 failed, 1 skipped\n", path);
        return 0;
    }
    fclose(probe);
    char *tsv = read_text(dir, "VECTORS.tsv", &len);
    if (!tsv) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    int passed = 0, failed = 0;
    char *save = NULL;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[8], *p = line;
        int n = 0;
        line[strcspn(line, "\r")] = '\0';
        while (n < 8) {
            f[n++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (n < 7 || !strcmp(f[0], "name"))
            continue;
        struct vector v = {f[0], f[1], f[2], f[3], f[5], f[6], atoi(f[4])};
        if (run_vector(dir, &v))
            failed++;
        else
            passed++;
    }
    rd_free(tsv);
    if (passed + failed != 11) {
        printf("FAIL: VECTORS.tsv lists %d vectors, expected 11\n", passed + failed);
        failed++;
    }
    printf("lightgbm vectors (shared/data/lightgbm, within %.0e of LightGBM)\n%d passed, %d failed\n",
           TOLERANCE, passed, failed);
    return failed ? 1 : 0;
}
