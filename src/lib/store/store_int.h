/* Internals of the store: the backend interface (shared/STYLE.md §10). A backend fills one
 * rd_store_ops and embeds struct rd_store at the start of its own handle. */
#ifndef RISKD_STORE_INT_H
#define RISKD_STORE_INT_H

#include "riskd/rollout.h"
#include "riskd/store.h"

/* Which outcomes a statistic covers (rd_store_outcome_stats' arguments). */
typedef struct rd__outcome_query {
    const char *model_version; /* required */
    const char *variant;       /* NULL: any */
    const char *outcome;       /* required */
    int64_t from_ms, to_ms;    /* the decisions' time, [from, to); 0: open */
} rd__outcome_query;

/* What a sink's cursor becomes when it moves (rd_store_sink_advance, _retry, _fail). */
typedef struct rd__sink_move {
    int64_t to;        /* the new last_id */
    int attempts;      /* failed attempts at the event after it */
    int64_t next_ms;   /* not before this time */
    const char *error; /* last_error, at most 255 bytes of whole UTF-8 characters */
    int64_t ok_ms;     /* > 0: the new last_ok_ms; else it is kept */
    int64_t now_ms;    /* updated_ms */
} rd__sink_move;

/* A node's slice of a stage instance (schema 7): the key every slice call names. */
typedef struct rd__slice_key {
    const char *flag, *stage;
    int64_t started_ms;
    const char *node, *boot;
} rd__slice_key;

/* A slice's counters, read to word a refusal (rd_store_exposure_return, _report). */
typedef struct rd__slice_row {
    int64_t reserved_amount, reserved_count, returned_amount, returned_count, spent_amount, spent_count;
    char state[8];
} rd__slice_row;

typedef struct rd_store_ops {
    int (*open)(const char *where, const rd_store_opts *o, rd_store **out, rd_err *err);
    void (*close)(rd_store *s);
    int (*log_append)(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err);
    int (*log_scan)(rd_store *s, const rd_log_filter *f, int (*fn)(void *, const rd_log_row *), void *ud,
                    rd_err *err);
    int (*log_prune)(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);
    /* erasure of one applicant's records (SQLite: sqlite_erase.c) */
    int (*applicant_scan)(rd_store *s, const char *targeting_key, int64_t after_id,
                          int (*fn)(void *, const rd_applicant_row *), void *ud, int64_t *last_id,
                          rd_err *err);
    int (*applicant_erase)(rd_store *s, const int64_t *ids, size_t n, const char *const *request_ids,
                           size_t nreq, rd_applicant_erased *out, rd_err *err);
    int (*scrub)(rd_store *s, bool *complete, rd_err *err);
    /* the erasure's tombstone (the front checks the key) */
    int (*erasure_mark)(rd_store *s, const char *key_sha256, int64_t erased_ms, rd_err *err);
    int (*blob_put)(rd_store *s, const char *hex, const void *data, size_t len, rd_err *err);
    bool (*blob_has)(rd_store *s, const char *hex);
    int (*blob_get)(rd_store *s, const char *hex, char **data, size_t *len, rd_err *err);
    /* the rollout controller's last evaluation */
    int (*rollout_set_status)(rd_store *s, const char *flag, const char *json, rd_err *err);
    int (*rollout_get_status)(rd_store *s, const char *flag, char **json, rd_err *err);

    /* rollouts and their transitions (include/riskd/rollout.h; SQLite: sqlite_rollout.c) */
    int (*rollout_get)(rd_store *s, const char *flag, rd_rollout_row *out, rd_err *err);
    int (*rollout_put)(rd_store *s, rd_rollout_row *row, rd_err *err);
    int (*rollout_list)(rd_store *s, int (*fn)(void *, const rd_rollout_row *), void *ud, rd_err *err);
    int (*transition_append)(rd_store *s, const rd_transition *t, rd_err *err);
    int (*transition_list)(rd_store *s, const char *flag, size_t limit,
                           int (*fn)(void *, const rd_transition *), void *ud, rd_err *err);
    /* outcomes: the front checks the arguments; results are written on success only */
    int (*outcomes_put)(rd_store *s, const rd_outcome *o, size_t n, int64_t now_ms,
                        rd_outcome_result *results, rd_err *err);
    /* labelled, bads, approved, approved_bads of the query (the rest of out untouched) */
    int (*outcome_counts)(rd_store *s, const rd__outcome_query *q, rd_outcome_stats *out, rd_err *err);
    /* fn(ud, score, label) for each outcome of the query whose decision has a model score;
     * a non-zero return stops the scan and is returned. The front computes the KS from them,
     * so every backend gives the same statistic. */
    int (*outcome_scores)(rd_store *s, const rd__outcome_query *q, int (*fn)(void *, double, int), void *ud,
                          rd_err *err);
    int (*outcome_names)(rd_store *s, const char *model_version, int (*fn)(void *, const char *), void *ud,
                         rd_err *err);
    /* governance (schema 3; SQLite: sqlite_gov.c) */
    int (*begin)(rd_store *s, rd_err *err);
    int (*commit)(rd_store *s, rd_err *err);
    void (*rollback)(rd_store *s);
    int (*audit_insert)(rd_store *s, const rd_audit_row *r, rd_err *err);
    int (*audit_last)(rd_store *s, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err);
    int (*audit_count)(rd_store *s, uint64_t *n, rd_err *err);
    int (*audit_scan)(rd_store *s, int64_t from_seq, size_t limit, bool desc,
                      int (*fn)(void *, const rd_audit_row *), void *ud, rd_err *err);
    int (*user_get)(rd_store *s, const char *name, rd_user_row *out, rd_err *err);
    int (*user_put)(rd_store *s, const rd_user_row *u, rd_err *err);
    int (*user_list)(rd_store *s, int (*fn)(void *, const rd_user_row *), void *ud, rd_err *err);
    int (*token_get)(rd_store *s, const char *id, rd_token_row *out, rd_err *err);
    int (*token_put)(rd_store *s, const rd_token_row *t, rd_err *err);
    int (*token_mark_used)(rd_store *s, const char *id, int64_t used_ms, rd_err *err);
    int (*token_list)(rd_store *s, const char *user, int (*fn)(void *, const rd_token_row *), void *ud,
                      rd_err *err);
    int (*change_get)(rd_store *s, int64_t id, rd_change_row *out, rd_err *err);
    int (*change_put)(rd_store *s, rd_change_row *row, rd_err *err);
    int (*change_list)(rd_store *s, const char *state, size_t limit, int (*fn)(void *, const rd_change_row *),
                       void *ud, rd_err *err);
    int (*version_append)(rd_store *s, rd_version_row *v, rd_err *err);
    int (*version_list)(rd_store *s, const char *kind, const char *target, size_t limit,
                        int (*fn)(void *, const rd_version_row *), void *ud, rd_err *err);
    int (*version_find)(rd_store *s, const char *kind, const char *target, const char *sha, int64_t n,
                        rd_version_row *out, rd_err *err);
    int (*setting_get)(rd_store *s, const char *key, char *value, size_t cap, rd_err *err);
    int (*setting_put)(rd_store *s, const char *key, const char *value, rd_err *err);
    /* notifications (schema 6; SQLite: sqlite_notify.c, PostgreSQL: pg_notify.c). The front
     * (gov.c) checks the arguments, holds the rules (an append inside a transaction only, a
     * failure and its cursor move in one) and words the conflicts. A read-only handle on an
     * older schema reads no events, no sinks and no failures. */
    int (*outbox_append)(rd_store *s, const rd_notify_row *r, int64_t stored_ms, bool *added, rd_err *err);
    int (*outbox_scan)(rd_store *s, int64_t after_id, size_t limit, int (*fn)(void *, const rd_notify_row *),
                       void *ud, rd_err *err);
    int (*outbox_last_id)(rd_store *s, int64_t *id, rd_err *err);
    /* events stored, and failures recorded, before before_ms; *deleted counts the events */
    int (*outbox_prune)(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);
    int (*sink_init)(rd_store *s, const char *name, const char *kind, int64_t start_id, int64_t now_ms,
                     bool *created, rd_err *err);
    /* RD_ENOTFOUND (the front words it) */
    int (*sink_get)(rd_store *s, const char *name, rd_sink_row *out, rd_err *err);
    int (*sink_list)(rd_store *s, int (*fn)(void *, const rd_sink_row *), void *ud, rd_err *err);
    /* Compare and swap: the cursor of name set to m when its last_id is from (*moved), else
     * nothing written (*moved false: no such sink, or another last_id). */
    int (*sink_move)(rd_store *s, const char *name, int64_t from, const rd__sink_move *m, bool *moved,
                     rd_err *err);
    int (*failure_put)(rd_store *s, const rd_sink_failure *f, rd_err *err); /* replaces (sink, event_id) */
    int (*sink_failures)(rd_store *s, const char *sink, size_t limit,
                         int (*fn)(void *, const rd_sink_failure *), void *ud, rd_err *err);
    /* the cursor and its failures; the front holds a transaction around it */
    int (*sink_delete)(rd_store *s, const char *name, rd_err *err);
    /* exposure caps (schema 7; SQLite: sqlite_exposure.c, PostgreSQL: pg_exposure.c). The
     * front (store.c) checks the arguments, computes the grants and holds the transactions.
     * A read-only handle on an older schema lists nothing. */
    /* the stage row inserted, or its plan_sha, field, unit and caps replaced; *out: the row now */
    int (*exposure_stage_put)(rd_store *s, const rd_exposure_stage_row *st, int64_t now_ms,
                              rd_exposure_stage_row *out, rd_err *err);
    /* reserved += (da, dc), guarded for a positive delta by reserved + d <= cap (a NULL cap: no
     * guard); exhausted_ms > 0 sets it unless set; *applied false: no row matched */
    int (*exposure_stage_add)(rd_store *s, const char *flag, const char *stage, int64_t started_ms,
                              int64_t da, int64_t dc, int64_t exhausted_ms, int64_t now_ms, bool *applied,
                              rd_err *err);
    /* the slice inserted or its reserved += (ga, gc); state open */
    int (*exposure_slice_grant)(rd_store *s, const rd__slice_key *k, int64_t ga, int64_t gc, int64_t now_ms,
                                rd_err *err);
    /* returned += (a, c) when it leaves spent <= reserved - returned; close: state closed */
    int (*exposure_slice_return)(rd_store *s, const rd__slice_key *k, int64_t a, int64_t c, bool close,
                                 int64_t now_ms, bool *applied, rd_err *err);
    /* spent = max(spent, given) when given <= reserved - returned; capped = max(capped, given) */
    int (*exposure_slice_report)(rd_store *s, const rd__slice_key *k, int64_t sa, int64_t sc, int64_t capped,
                                 int64_t now_ms, bool *applied, rd_err *err);
    int (*exposure_slice_get)(rd_store *s, const rd__slice_key *k, rd__slice_row *out,
                              rd_err *err); /* RD_ENOTFOUND */
    int (*exposure_orphans)(rd_store *s, const char *node, const char *boot, int64_t now_ms, rd_err *err);
    int (*exposure_list)(rd_store *s, const char *flag,
                         int (*fn)(void *, const rd_exposure_stage_row *, const rd_exposure_totals *),
                         void *ud, rd_err *err);
    /* several nodes (store.h, issue 16) */
    bool shared;
    int (*ping)(rd_store *s, rd_err *err);
    int (*notify)(rd_store *s, const char *what, rd_err *err);
    int (*watch_open)(const char *where, rd_store_watch **out, rd_err *err); /* NULL: no push */
    int (*leader_try)(rd_store *s, const char *role, bool *held, rd_err *err);
    void (*leader_release)(rd_store *s, const char *role);
} rd_store_ops;

/* A watch's backend (PostgreSQL: pg.c) fills these and embeds struct rd_store_watch first. */
typedef struct rd_store_watch_ops {
    int (*fd)(const rd_store_watch *w);
    int (*next)(rd_store_watch *w, char *what, size_t cap, bool *got, rd_err *err);
    int (*reconnect)(rd_store_watch *w, rd_err *err);
    void (*close)(rd_store_watch *w);
} rd_store_watch_ops;

struct rd_store_watch {
    const rd_store_watch_ops *ops;
};

struct rd_store {
    const rd_store_ops *ops;
    int tx_depth;   /* rd_store_begin nesting */
    bool tx_failed; /* rolled back inside: the outer commit fails */
    char name[1100];
    char node[256]; /* rd_store_node: filled by the front after the backend's open */
};

extern const rd_store_ops rd__sqlite_store;
extern const rd_store_ops rd__pg_store; /* pg.c */
int rd__sq_rollout_set_status(rd_store *s, const char *flag, const char *json, rd_err *err);
int rd__sq_rollout_get_status(rd_store *s, const char *flag, char **json, rd_err *err);

#endif
