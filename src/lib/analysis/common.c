/* What the analyses share (analysis_int.h): the log's records, CSV columns, a string map, JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/riskd.h"
#include "riskd/text.h"

/* ---------------------------------------------------------------- map */

int an_map_init(an_map *m, size_t hint)
{
    size_t cap = 64;
    while (cap < hint * 2)
        cap *= 2;
    *m = (an_map){.cap = cap};
    m->keys = rd_calloc(cap, sizeof(char *));
    m->lens = rd_calloc(cap, sizeof(uint32_t));
    m->vals = rd_calloc(cap, sizeof(size_t));
    if (!m->keys || !m->lens || !m->vals) {
        an_map_free(m);
        return RD_ENOMEM;
    }
    return RD_OK;
}

void an_map_free(an_map *m)
{
    if (m->keys)
        for (size_t i = 0; i < m->cap; i++)
            rd_free(m->keys[i]);
    rd_free(m->keys);
    rd_free(m->lens);
    rd_free(m->vals);
    *m = (an_map){0};
}

static size_t slot(const an_map *m, const char *key, size_t len)
{
    size_t i = rd_murmur3_32(key, len, 0x5eed) & (m->cap - 1);
    while (m->keys[i] && !(m->lens[i] == len && !memcmp(m->keys[i], key, len)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

size_t *an_map_get(const an_map *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    size_t i = slot(m, key, len);
    return m->keys[i] ? &m->vals[i] : NULL;
}

static int grow(an_map *m)
{
    an_map g;
    if (an_map_init(&g, m->cap) != RD_OK)
        return RD_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = slot(&g, m->keys[i], m->lens[i]);
            g.keys[j] = m->keys[i];
            g.lens[j] = m->lens[i];
            g.vals[j] = m->vals[i];
            m->keys[i] = NULL;
        }
    g.n = m->n;
    an_map_free(m);
    *m = g;
    return RD_OK;
}

int an_map_put(an_map *m, const char *key, size_t len, size_t val)
{
    if (len > UINT32_MAX)
        return RD_ELIMIT;
    if ((m->n + 1) * 2 > m->cap && grow(m) != RD_OK)
        return RD_ENOMEM;
    size_t i = slot(m, key, len);
    if (!m->keys[i]) {
        if (!(m->keys[i] = rd_strndup(key, len)))
            return RD_ENOMEM;
        m->lens[i] = (uint32_t)len;
        m->n++;
    }
    m->vals[i] = val;
    return RD_OK;
}

/* ---------------------------------------------------------------- the log */

typedef struct each_ctx {
    const rd_an_source *src;
    an_rec_fn fn;
    void *ud;
    rd_arena arena;
    uint64_t rows, *skipped;
} each_ctx;

static int each_row(void *ud, const rd_log_row *row)
{
    each_ctx *c = ud;
    rd_arena_reset(&c->arena);
    rd_value rec;
    rd_err perr;
    int rc = RD_OK;
    if (rd_json_parse(row->record, row->record_len, NULL, &c->arena, &rec, &perr) != RD_OK ||
        rec.type != RD_VOBJECT) {
        if (c->skipped)
            (*c->skipped)++;
    } else {
        rc = c->fn(c->ud, row, &rec);
    }
    if (++c->rows % 4096 == 0 && c->src->progress)
        c->src->progress(c->src->ud, c->rows, 0);
    return rc;
}

int an_log_each(const rd_an_source *src, const char *kind, const char *outcome, an_rec_fn fn, void *ud,
                uint64_t *skipped, rd_err *err)
{
    each_ctx c = {.src = src, .fn = fn, .ud = ud, .skipped = skipped};
    rd_arena_init(&c.arena, 0);
    rd_log_filter f = {.from_ms = src->from_ms, .to_ms = src->to_ms, .kind = kind, .outcome = outcome};
    int rc = rd_store_log_scan(src->store, &f, each_row, &c, err);
    if (!rc && src->progress)
        src->progress(src->ud, c.rows, c.rows);
    rd_arena_deinit(&c.arena);
    return rc;
}

typedef struct names_ctx {
    rd_buf list;
    size_t n;
    const char *want;
    bool found;
    char first[80];
} names_ctx;

static int one_name(void *ud, const char *name)
{
    names_ctx *c = ud;
    if (c->want && !strcmp(c->want, name))
        c->found = true;
    if (c->n == 0)
        snprintf(c->first, sizeof c->first, "%s", name);
    rd_buf_printf(&c->list, "%s%s", c->n ? ", " : "", name);
    c->n++;
    return 0;
}

int an_outcome(const rd_an_source *src, rd_arena *a, const char **out, rd_err *err)
{
    *out = NULL;
    if (!src->store)
        return RD_OK;
    names_ctx c = {.want = src->outcome};
    rd_buf_init(&c.list);
    int rc = rd_store_outcome_names(src->store, NULL, one_name, &c, err);
    if (!rc) {
        if (src->outcome && !c.found)
            rc = rd_err_set(err, RD_ENOTFOUND, "--outcome %s: no outcome of that name is recorded (%s%s)",
                            src->outcome, c.n ? "recorded: " : "none is", rd_buf_cstr(&c.list));
        else if (src->outcome)
            *out = an_strdup(a, src->outcome);
        else if (c.n == 1)
            *out = an_strdup(a, c.first);
        else if (c.n > 1)
            rc = rd_err_set(err, RD_EINVAL,
                            "several outcome definitions are recorded: choose one with --outcome (%s)",
                            rd_buf_cstr(&c.list));
    }
    rd_buf_deinit(&c.list);
    return rc;
}

const rd_value *an_get(const rd_value *o, const char *key)
{
    return o && o->type == RD_VOBJECT ? rd_value_get(o, key, strlen(key)) : NULL;
}

const char *an_str(const rd_value *o, const char *key)
{
    const rd_value *v = an_get(o, key);
    return v && v->type == RD_VSTRING ? v->u.s : NULL;
}

double an_num(const rd_value *o, const char *key)
{
    const rd_value *v = an_get(o, key);
    return v && v->type == RD_VNUMBER ? v->u.n : (double)NAN;
}

const char *an_source_name(const rd_an_source *src, rd_arena *a)
{
    if (!src->store)
        return an_strdup(a, src->csv ? src->csv : "-");
    const char *n = rd_store_name(src->store);
    return an_strdup(a, n ? n : "log");
}

/* ---------------------------------------------------------------- CSV */

int an_csv_column(const rd_csv *c, const char *path, const char *what, const char *name, int *idx,
                  rd_err *err)
{
    *idx = rd_csv_find(c, name);
    if (*idx >= 0)
        return RD_OK;
    rd_buf cols;
    rd_buf_init(&cols);
    const char *near = NULL;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < rd_csv_num_columns(c); i++) {
        const char *col = rd_csv_column(c, i);
        rd_buf_printf(&cols, "%s%s", i ? ", " : "", col);
        if (rd_near_miss(name, col) && rd_edit_distance(name, col) < best) { /* the nearest */
            near = col;
            best = rd_edit_distance(name, col);
        }
    }
    int rc =
        rd_err_set(err, RD_EINVAL, "%s: %s %s names no column%s%s%s (columns: %s)", path, what, name,
                   near ? " (did you mean " : "", near ? near : "", near ? "?)" : "", rd_buf_cstr(&cols));
    rd_buf_deinit(&cols);
    return rc;
}

int an_decision(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "approve"))
        return 0;
    if (!strcmp(s, "review"))
        return 1;
    if (!strcmp(s, "reject"))
        return 2;
    return -1;
}

int an_label(const char *s)
{
    if (!s || !*s)
        return -1;
    if (!strcmp(s, "0"))
        return 0;
    if (!strcmp(s, "1"))
        return 1;
    return -2;
}

bool an_number(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---------------------------------------------------------------- JSON */

void an_json_num(rd_buf *b, double v)
{
    if (!isfinite(v)) {
        rd_buf_puts(b, "null");
        return;
    }
    char tmp[32];
    rd_num_format(v, tmp);
    rd_buf_puts(b, tmp);
}

void an_json_str(rd_buf *b, const char *s)
{
    if (!s)
        rd_buf_puts(b, "null");
    else
        rd_json_write_string(b, s, strlen(s));
}

void an_json_key(rd_buf *b, const char *k)
{
    rd_json_write_string(b, k, strlen(k));
    rd_buf_putc(b, ':');
}

void an_json_head(rd_buf *b, const char *kind, const char *source, int64_t from_ms, int64_t to_ms)
{
    rd_buf_printf(b, "{\"report\":\"%s\",\"riskd\":\"%s\",\"source\":", kind, rd_version());
    an_json_str(b, source);
    an_json_num_m(b, "from", from_ms ? (double)from_ms : (double)NAN);
    an_json_num_m(b, "to", to_ms ? (double)to_ms : (double)NAN);
}

void an_json_u64_m(rd_buf *b, const char *k, uint64_t v)
{
    rd_buf_putc(b, ',');
    an_json_key(b, k);
    rd_buf_printf(b, "%llu", (unsigned long long)v);
}

void an_json_num_m(rd_buf *b, const char *k, double v)
{
    rd_buf_putc(b, ',');
    an_json_key(b, k);
    an_json_num(b, v);
}

void an_json_str_m(rd_buf *b, const char *k, const char *v)
{
    rd_buf_putc(b, ',');
    an_json_key(b, k);
    an_json_str(b, v);
}

char *an_strdup(rd_arena *a, const char *s) { return s ? rd_arena_strndup(a, s, strlen(s)) : NULL; }
