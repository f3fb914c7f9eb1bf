/* Internals of the SQLite backend, shared by its files (sqlite.c: the decision log and blobs;
 * the outcome, rollout, governance, notification and exposure tables in their own files). */
#ifndef RISKD_SQLITE_INT_H
#define RISKD_SQLITE_INT_H

#include <sqlite3.h>

#include "store_int.h"

typedef struct sq_store {
    rd_store base;
    sqlite3 *db;
    sqlite3_stmt *insert, *blob_has, *blob_get, *blob_put;
    sqlite3_stmt *newest_erasure; /* the newest tombstone's time (sqlite_erase.c) */
    int schema; /* the schema version of the open database (a read-only handle is not migrated) */
    struct {
        char role[32];
        int fd; /* the flock'd DIR/role.leader, -1: not held */
    } leader[4];
} sq_store;

/* Fill err from the connection's last error ("DB: what: message"); RD_EIO, RD_ENOMEM or
 * RD_EINVAL (corrupt). */
int rd__sq_fail(sq_store *s, rd_err *err, const char *what);

/* sqlite_rollout.c: the rollouts and rollout_transitions tables (schema 2). */
int rd__sq_rollout_get(rd_store *s, const char *flag, rd_rollout_row *out, rd_err *err);
int rd__sq_rollout_put(rd_store *s, rd_rollout_row *row, rd_err *err);
int rd__sq_rollout_list(rd_store *s, int (*fn)(void *, const rd_rollout_row *), void *ud, rd_err *err);
int rd__sq_transition_append(rd_store *s, const rd_transition *t, rd_err *err);
int rd__sq_transition_list(rd_store *s, const char *flag, size_t limit,
                           int (*fn)(void *, const rd_transition *), void *ud, rd_err *err);
/* The outcomes (sqlite_outcomes.c): the rd_store_ops entries of the same names. */
int rd__sq_outcomes_put(rd_store *s, const rd_outcome *o, size_t n, int64_t now_ms,
                        rd_outcome_result *results, rd_err *err);
int rd__sq_outcome_counts(rd_store *s, const rd__outcome_query *q, rd_outcome_stats *out, rd_err *err);
int rd__sq_outcome_scores(rd_store *s, const rd__outcome_query *q, int (*fn)(void *, double, int), void *ud,
                          rd_err *err);
int rd__sq_outcome_names(rd_store *s, const char *model_version, int (*fn)(void *, const char *), void *ud,
                         rd_err *err);

/* sqlite_erase.c: one applicant's records found and erased (rd_store_ops of the same names). */
int rd__sq_applicant_scan(rd_store *s, const char *targeting_key, int64_t after_id,
                          int (*fn)(void *, const rd_applicant_row *), void *ud, int64_t *last_id,
                          rd_err *err);
int rd__sq_applicant_erase(rd_store *s, const int64_t *ids, size_t n, const char *const *request_ids,
                           size_t nreq, rd_applicant_erased *out, rd_err *err);
int rd__sq_scrub(rd_store *s, bool *complete, rd_err *err);
int rd__sq_erasure_mark(rd_store *s, const char *key_sha256, int64_t erased_ms, rd_err *err);
/* The newest tombstone's erased_ms (INT64_MIN when none): a row made at or after it needs no
 * other look (the log's append asks once a transaction). */
int rd__sq_newest_erasure(sq_store *s, int64_t *ms, rd_err *err);
/* Whether r is a primary decision of an applicant erased after r->ts_ms (a tombstone). */
int rd__sq_erased(sq_store *s, const rd_log_row *r, bool *erased, rd_err *err);

/* sqlite_status.c: one node's answers to the several-node calls (store.h). */
int rd__sq_ping(rd_store *s, rd_err *err);
int rd__sq_notify(rd_store *s, const char *what, rd_err *err);
int rd__sq_leader_try(rd_store *s, const char *role, bool *held, rd_err *err);
void rd__sq_leader_release(rd_store *s, const char *role);

/* sqlite_notify.c: the notification outbox (schema 6), the rd_store_ops entries of the same names. */
int rd__sq_outbox_append(rd_store *s, const rd_notify_row *r, int64_t stored_ms, bool *added, rd_err *err);
int rd__sq_outbox_scan(rd_store *s, int64_t after_id, size_t limit, int (*fn)(void *, const rd_notify_row *),
                       void *ud, rd_err *err);
int rd__sq_outbox_last_id(rd_store *s, int64_t *id, rd_err *err);
int rd__sq_outbox_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);
int rd__sq_sink_init(rd_store *s, const char *name, const char *kind, int64_t start_id, int64_t now_ms,
                     bool *created, rd_err *err);
int rd__sq_sink_get(rd_store *s, const char *name, rd_sink_row *out, rd_err *err);
int rd__sq_sink_list(rd_store *s, int (*fn)(void *, const rd_sink_row *), void *ud, rd_err *err);
int rd__sq_sink_move(rd_store *s, const char *name, int64_t from, const rd__sink_move *m, bool *moved,
                     rd_err *err);
int rd__sq_failure_put(rd_store *s, const rd_sink_failure *f, rd_err *err);
int rd__sq_sink_failures(rd_store *s, const char *sink, size_t limit,
                         int (*fn)(void *, const rd_sink_failure *), void *ud, rd_err *err);
int rd__sq_sink_delete(rd_store *s, const char *name, rd_err *err);

/* sqlite_exposure.c: exposure caps (schema 7), the rd_store_ops entries of the same names. */
int rd__sq_exposure_stage_put(rd_store *s, const rd_exposure_stage_row *st, int64_t now_ms,
                              rd_exposure_stage_row *out, rd_err *err);
int rd__sq_exposure_stage_add(rd_store *s, const char *flag, const char *stage, int64_t started_ms,
                              int64_t da, int64_t dc, int64_t exhausted_ms, int64_t now_ms, bool *applied,
                              rd_err *err);
int rd__sq_exposure_slice_grant(rd_store *s, const rd__slice_key *k, int64_t ga, int64_t gc, int64_t now_ms,
                                rd_err *err);
int rd__sq_exposure_slice_return(rd_store *s, const rd__slice_key *k, int64_t a, int64_t c, bool close,
                                 int64_t now_ms, bool *applied, rd_err *err);
int rd__sq_exposure_slice_report(rd_store *s, const rd__slice_key *k, int64_t sa, int64_t sc, int64_t capped,
                                 int64_t now_ms, bool *applied, rd_err *err);
int rd__sq_exposure_slice_get(rd_store *s, const rd__slice_key *k, rd__slice_row *out, rd_err *err);
int rd__sq_exposure_orphans(rd_store *s, const char *node, const char *boot, int64_t now_ms, rd_err *err);
int rd__sq_exposure_list(rd_store *s, const char *flag,
                         int (*fn)(void *, const rd_exposure_stage_row *, const rd_exposure_totals *),
                         void *ud, rd_err *err);

/* sqlite_gov.c: the governance tables (schema 3) and their rd_store_ops entries. */
extern const char rd__sq_schema_3[];
int rd__sq_begin(rd_store *s, rd_err *err);
int rd__sq_commit(rd_store *s, rd_err *err);
void rd__sq_rollback(rd_store *s);
int rd__sq_audit_insert(rd_store *s, const rd_audit_row *r, rd_err *err);
int rd__sq_audit_last(rd_store *s, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err);
int rd__sq_audit_count(rd_store *s, uint64_t *n, rd_err *err);
int rd__sq_audit_scan(rd_store *s, int64_t from_seq, size_t limit, bool desc,
                      int (*fn)(void *, const rd_audit_row *), void *ud, rd_err *err);
int rd__sq_user_get(rd_store *s, const char *name, rd_user_row *out, rd_err *err);
int rd__sq_user_put(rd_store *s, const rd_user_row *u, rd_err *err);
int rd__sq_user_list(rd_store *s, int (*fn)(void *, const rd_user_row *), void *ud, rd_err *err);
int rd__sq_token_get(rd_store *s, const char *id, rd_token_row *out, rd_err *err);
int rd__sq_token_put(rd_store *s, const rd_token_row *t, rd_err *err);
int rd__sq_token_mark_used(rd_store *s, const char *id, int64_t used_ms, rd_err *err);
int rd__sq_token_list(rd_store *s, const char *user, int (*fn)(void *, const rd_token_row *), void *ud,
                      rd_err *err);
int rd__sq_change_get(rd_store *s, int64_t id, rd_change_row *out, rd_err *err);
int rd__sq_change_put(rd_store *s, rd_change_row *row, rd_err *err);
int rd__sq_change_list(rd_store *s, const char *state, size_t limit, int (*fn)(void *, const rd_change_row *),
                       void *ud, rd_err *err);
int rd__sq_version_append(rd_store *s, rd_version_row *v, rd_err *err);
int rd__sq_version_list(rd_store *s, const char *kind, const char *target, size_t limit,
                        int (*fn)(void *, const rd_version_row *), void *ud, rd_err *err);
int rd__sq_version_find(rd_store *s, const char *kind, const char *target, const char *sha, int64_t n,
                        rd_version_row *out, rd_err *err);
int rd__sq_setting_get(rd_store *s, const char *key, char *value, size_t cap, rd_err *err);
int rd__sq_setting_put(rd_store *s, const char *key, const char *value, rd_err *err);

#endif
