/* What the analyses share: reading the decision log's records and CSV columns, a string map,
 * and JSON helpers. Internal to src/lib/analysis. */
#ifndef RISKD_ANALYSIS_INT_H
#define RISKD_ANALYSIS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/analysis.h"
#include "riskd/csv.h"
#include "riskd/value.h"

/* ---- a map from strings to indices (open addressing; keys copied) */
typedef struct an_map {
    size_t cap, n;
    char **keys;
    uint32_t *lens;
    size_t *vals;
} an_map;
int an_map_init(an_map *m, size_t hint);
void an_map_free(an_map *m);
/* The value of key, or NULL. */
size_t *an_map_get(const an_map *m, const char *key, size_t len);
/* Insert key -> val (or replace its value); RD_ENOMEM. */
int an_map_put(an_map *m, const char *key, size_t len, size_t val);

/* ---- the decision log */

/* Call fn for each record of kind ("primary", "shadow" or NULL: both) decided in the source's
 * window, parsed (the value lives in a per-row arena, reset after the call), with row->label the
 * label of outcome (NULL: none). A record that does not parse is counted in *skipped (may be
 * NULL) and not passed. Progress every 4096 rows. */
typedef int (*an_rec_fn)(void *ud, const rd_log_row *row, const rd_value *rec);
int an_log_each(const rd_an_source *src, const char *kind, const char *outcome, an_rec_fn fn, void *ud,
                uint64_t *skipped, rd_err *err);

/* The outcome definition to join: src->outcome when set (RD_ENOTFOUND when none is recorded
 * under that name, naming those that are), else the only one recorded, or NULL when none is
 * (RD_EINVAL when several are: "--outcome: choose one of dpd30, fpd"). *out in arena. */
int an_outcome(const rd_an_source *src, rd_arena *a, const char **out, rd_err *err);

/* Members of a record. */
const rd_value *an_get(const rd_value *o, const char *key);
const char *an_str(const rd_value *o, const char *key); /* NULL unless a string */
double an_num(const rd_value *o, const char *key);      /* NaN unless a number */

/* "log:DIR" / the path, in arena. */
const char *an_source_name(const rd_an_source *src, rd_arena *a);

/* ---- CSV */

/* The index of column name in c (opened from path); RD_EINVAL naming the option that asked for
 * it (what: "--variant-col") and listing the file's columns, with a did-you-mean. */
int an_csv_column(const rd_csv *c, const char *path, const char *what, const char *name, int *idx,
                  rd_err *err);

/* A decision as the reports count it: approve / review / reject (case-sensitive, as riskd logs
 * them); -1 for another spelling. */
int an_decision(const char *s);
/* A label field: "" -> -1 (not known yet), "0" -> 0, "1" -> 1, anything else -2. */
int an_label(const char *s);
/* A number field (strtod, whole field, finite): false otherwise. */
bool an_number(const char *s, double *out);

/* ---- JSON output */
void an_json_num(rd_buf *b, double v);      /* null for NaN or an infinity; 17 significant digits */
void an_json_str(rd_buf *b, const char *s); /* null for NULL */
void an_json_key(rd_buf *b, const char *k); /* "k": */
/* The members every report opens with: {"report", "riskd", "source", "from", "to" (null: open). */
void an_json_head(rd_buf *b, const char *kind, const char *source, int64_t from_ms, int64_t to_ms);
/* ,"k":v  for a count, a number (null when not finite), a string (null for NULL). */
void an_json_u64_m(rd_buf *b, const char *k, uint64_t v);
void an_json_num_m(rd_buf *b, const char *k, double v);
void an_json_str_m(rd_buf *b, const char *k, const char *v);

char *an_strdup(rd_arena *a, const char *s);

/* ---- HTML (html.c) */
/* s (NULL: "") as HTML text, safe in element content and in a quoted attribute. */
void an_html_text(rd_buf *b, const char *s);
/* json as the content of a <script type="application/json"> element: '<', '>', '&', U+2028,
 * U+2029 and control characters but tab, newline and return as \uXXXX escapes, so nothing in
 * it can end the element; JSON.parse of the result gives the value json held. */
void an_html_json(rd_buf *b, const char *json, size_t len);

#endif
