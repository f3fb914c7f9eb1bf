/* The store: all of riskd's state in one place. Today SQLite (embedded, WAL mode, one
 * database DATA_DIR/riskd.db); the interface is an ops table (shared/STYLE.md §10) so a
 * PostgreSQL backend can follow without touching the callers.
 *
 * What it holds:
 *   - the decision log: one row per decision (primary or shadow), its searchable columns and
 *     the whole record as JSON (docs/formats.md, "Decision log");
 *   - blobs, content-addressed by SHA-256: every flag set, fallback rule file and bundle file
 *     that served a decision, so a decision can be replayed after they have moved on;
 *   - outcomes: labels that arrive late, one per request and outcome definition, joined to the
 *     primary decision with that request id.
 *
 * The schema is versioned (table riskd_meta) and migrated at open; a database from a newer
 * riskd, a foreign SQLite file or a corrupt one is refused with a message naming the file.
 * A store handle may be used by one thread at a time. */
#ifndef RISKD_STORE_H
#define RISKD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/err.h"
#include "riskd/hash.h"

typedef struct rd_store rd_store;

/* The schema version this riskd writes. */
#define RD_STORE_SCHEMA 2

typedef struct rd_store_opts {
    bool read_only; /* open an existing store for reading (export, replay) */
    bool sync_full; /* every commit reaches the disk (synchronous=FULL); else NORMAL, which WAL
                       keeps safe through a process crash (only a power loss can drop the last
                       commits) */
} rd_store_opts;

/* Open url: "sqlite:DIR" or a plain directory (created when missing, unless read_only).
 * Errors name the file: RD_EIO (cannot create, read or write), RD_EINVAL (not a riskd
 * database, or one from a newer riskd). */
RD_API int rd_store_open(const char *url, const rd_store_opts *o, rd_store **out, rd_err *err);
RD_API void rd_store_close(rd_store *s);
/* "sqlite:DIR/riskd.db", for messages. */
RD_API const char *rd_store_name(const rd_store *s);

/* ------------------------------------------------------------------ the decision log */

typedef struct rd_log_row {
    int64_t id;    /* assigned by the store (append ignores it) */
    int64_t ts_ms; /* unix ms of the decision */
    const char *request_id;
    const char *kind;          /* "primary" or "shadow" */
    const char *model_version; /* the bundle that decided, or NULL */
    const char *record;        /* the decision record, JSON */
    size_t record_len;
    int label; /* the label of the filter's outcome for this request id (0 good, 1 bad), -1 when
                  none is recorded or the filter names no outcome */
} rd_log_row;

typedef struct rd_log_filter {
    int64_t from_ms, to_ms;    /* [from, to); 0: open */
    const char *model_version; /* NULL: any */
    const char *request_id;    /* NULL: any */
    const char *kind;          /* NULL: any */
    const char *outcome;       /* join this outcome definition's label to each row (NULL: none) */
} rd_log_filter;

/* Append rows in one transaction (all or none). */
RD_API int rd_store_log_append(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err);
/* Call fn for each row that matches f, in id order, streaming (constant memory); a non-zero
 * return from fn stops the scan and is returned. The row is valid during the call only. */
RD_API int rd_store_log_scan(rd_store *s, const rd_log_filter *f, int (*fn)(void *ud, const rd_log_row *r),
                             void *ud, rd_err *err);
/* Delete the rows decided before before_ms; *deleted receives their number. */
RD_API int rd_store_log_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);

/* ------------------------------------------------------------------ blobs */

/* Keep data; hex receives its SHA-256 (the key). Storing the same bytes again costs a lookup. */
RD_API int rd_store_blob_put(rd_store *s, const void *data, size_t len, char hex[RD_SHA256_HEX], rd_err *err);
/* Whether the blob is kept (a cheap lookup: lets a caller skip reading a large file). */
RD_API bool rd_store_blob_has(rd_store *s, const char *hex);
/* The blob's bytes (NUL-terminated, rd_free them); RD_ENOTFOUND when it is not kept. */
RD_API int rd_store_blob_get(rd_store *s, const char *hex, char **data, size_t *len, rd_err *err);

/* ------------------------------------------------------------------ outcomes */

/* A label that arrived late for a decision (POST /v1/outcomes, riskd outcomes import). */
typedef struct rd_outcome {
    const char *request_id;
    const char *outcome; /* the definition: "fpd", "dpd30", "dpd90", "default", ... */
    int label;           /* 1 = bad, 0 = good */
    int64_t observed_ms; /* when it was observed (unix ms); 0: not given */
} rd_outcome;

typedef enum rd_outcome_result {
    RD_OUTCOME_NEW = 0,     /* recorded */
    RD_OUTCOME_SAME,        /* the same label was already recorded: nothing changed (idempotent) */
    RD_OUTCOME_CHANGED,     /* replaced an earlier label; the change is kept in outcome_changes */
    RD_OUTCOME_UNKNOWN_REQ, /* no primary decision has that request id: not recorded */
} rd_outcome_result;
RD_API const char *rd_outcome_result_name(rd_outcome_result r);

/* Record n outcomes in one transaction, each joined to the primary decision with its request
 * id (its bundle, variant, decision, score and time copied in); results[i] says what became of
 * outcome i. now_ms: the arrival time. */
RD_API int rd_store_outcomes_put(rd_store *s, const rd_outcome *o, size_t n, int64_t now_ms,
                                 rd_outcome_result *results, rd_err *err);

/* Bads a realised KS needs (issue 12): below it the statistic is noise, and not computed. */
#define RD_OUTCOME_MIN_BADS 100

typedef struct rd_outcome_stats {
    uint64_t labelled, bads;          /* every labelled decision of the bundle */
    uint64_t approved, approved_bads; /* those the bundle approved */
    double bad_rate_approved;         /* approved_bads / approved; NaN when none */
    double ks;                        /* realised KS discrimination (rd_ks_discrimination
                                         of the scores); NaN with fewer than min_bads bads */
} rd_outcome_stats;

/* The outcome statistics of decisions by model_version (and variant, NULL: any) decided in
 * [from_ms, to_ms) (0: open), for one outcome definition. The KS is computed from the
 * decisions a model scored (a fallback answer has no model score): min_bads counts the bads
 * among those, and both classes must be there. RD_EINVAL without model_version or outcome;
 * RD_ENOMEM; RD_EIO. */
RD_API int rd_store_outcome_stats(rd_store *s, const char *model_version, const char *variant,
                                  const char *outcome, int64_t from_ms, int64_t to_ms, uint64_t min_bads,
                                  rd_outcome_stats *out, rd_err *err);
/* The outcome definitions recorded for model_version (NULL: any), each once, fn per name. */
RD_API int rd_store_outcome_names(rd_store *s, const char *model_version,
                                  int (*fn)(void *ud, const char *name), void *ud, rd_err *err);

#endif
