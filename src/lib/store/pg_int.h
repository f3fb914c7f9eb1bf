/* Internals of the PostgreSQL backend, shared by its files: pg.c (open, close, migrations, the
 * ops table), pg_conn.c (the connection, errors, parameters, queries, transactions), pg_log.c
 * (the decision log and blobs), pg_nodes.c (ping, notify, watch, leadership), pg_gov.c,
 * pg_outcomes.c, pg_rollout.c, pg_erase.c, pg_notify.c and pg_exposure.c.
 *
 * One handle holds one libpq connection, used by one thread at a time (store.h). Every call
 * goes through rd__pg_ready first, which reconnects a lost connection (never inside an open
 * transaction: half a transaction is never replayed) with a backoff, so a node whose database
 * is away fails fast with RD_ESTORE instead of waiting for a connect timeout on every call. */
#ifndef RISKD_PG_INT_H
#define RISKD_PG_INT_H

#include <libpq-fe.h>

#include "store_int.h"

/* Advisory lock keys: "riskd" in ASCII in the high bytes, then what the lock serialises. The
 * leadership locks use the two-int form (another key space): the class below, and a hash of
 * the role's name. */
#define RD_PG_LOCK_MIGRATE  INT64_C(0x7269736b64000001) /* session lock: one node migrates at a time */
#define RD_PG_LOCK_GOV      INT64_C(0x7269736b64000002) /* xact lock: rd_store_begin, like BEGIN IMMEDIATE */
#define RD_PG_LOCK_OUTCOMES INT64_C(0x7269736b64000003) /* xact lock: an outcome batch */
#define RD_PG_LEADER_CLASS  0x72697364                  /* "risd" */

/* The type OIDs riskd binds (pg_type.dat; stable across PostgreSQL versions). */
enum {
    RD_PG_BOOL = 16,
    RD_PG_BYTEA = 17,
    RD_PG_INT8 = 20,
    RD_PG_INT4 = 23,
    RD_PG_TEXT = 25,
    RD_PG_FLOAT8 = 701,
    RD_PG_TEXT_ARRAY = 1009,
    RD_PG_INT8_ARRAY = 1016,
    RD_PG_UUID = 2950,
    RD_PG_UUID_ARRAY = 2951,
};

#define RD_PG_TIMEOUT_MS 10000  /* rd_store_opts.timeout_ms 0: the wait for each answer */
#define RD_PG_PING_MS    3000   /* a ping's wait (at most the handle's): "SELECT 1" is no work */
#define RD_PG_IDLE_TX_MS 60000  /* idle_in_transaction_session_timeout: a stuck client's locks go */
#define RD_PG_PRUNE_MS   300000 /* pruning's wait for each answer (a count, a detach, a delete) */

#define RD_PG_DAY_CACHE 16 /* decision-log partitions a handle remembers as existing */
#define RD_PG_LEADERS   4  /* leadership roles a handle can hold at once */

typedef struct pg_store {
    rd_store base;
    PGconn *conn;
    char *uri;             /* the connection URI (with any password): side connections for DDL */
    bool read_only;        /* every transaction is read-only (set at each connect) */
    bool busy;             /* a streaming query holds the connection (a call from its callback) */
    bool broken;           /* a statement saw the server go: reset before the next call */
    bool unchecked;        /* opened lazily while unreachable: the schema is checked at the first connect */
    int schema;            /* the database's schema version once checked (0: not yet); a read-only
                              handle is not migrated */
    bool late;             /* the last statement's deadline passed (s->lost says so) */
    int timeout_ms;        /* the longest wait for an answer without a byte from the server */
    int local_tx;          /* transactions this backend opened and has not ended (never reconnect then) */
    uint64_t gen;          /* bumped at every (re)connect: session locks and prepared statements die with a
                              connection */
    uint64_t prepared_gen; /* the connection generation that holds the prepared statements */
    int64_t retry_at_ms;   /* monotonic: no reconnect attempt before this (backoff) */
    int backoff_ms;        /* 0: the last attempt succeeded; else 1 s doubling to 10 s */
    char lost[256];        /* why the connection was lost, for fail-fast messages */
    char state[6];         /* the SQLSTATE of the last failed statement ("" when the server was lost) */
    int64_t days[RD_PG_DAY_CACHE]; /* partitions known to exist (UTC day numbers) */
    size_t ndays, day_next;
    struct {
        char role[32];
        int32_t key;  /* the second half of the two-int advisory key */
        uint64_t gen; /* the connection that took it */
    } leader[RD_PG_LEADERS];
} pg_store;

/* ------------------------------------------------------------------ parameters */

#define RD_PG_MAX_PARAMS 20

/* A statement's parameters, built on the stack; integers are sent as text, bytes in binary. */
typedef struct pg_params {
    int n;
    Oid type[RD_PG_MAX_PARAMS];
    const char *val[RD_PG_MAX_PARAMS];
    int len[RD_PG_MAX_PARAMS];
    int fmt[RD_PG_MAX_PARAMS];
    char num[RD_PG_MAX_PARAMS][32];
} pg_params;

void rd__pg_text(pg_params *p, const char *v); /* NULL: SQL NULL */
void rd__pg_int(pg_params *p, int64_t v);
void rd__pg_double(pg_params *p, double v);
void rd__pg_null(pg_params *p, Oid type);
void rd__pg_bin(pg_params *p, Oid type, const void *data, size_t len); /* borrowed until the call */

/* ------------------------------------------------------------------ connection and errors */

/* Whether a failed result (or the connection, res NULL) means the server is unreachable, or
 * busy in a way that waiting cures: CONNECTION_BAD, no SQLSTATE at all, SQLSTATE class 08, 53,
 * 57 or 58, 25006, 40001, 40P01 or 55P03 (docs/formats.md). */
bool rd__pg_lost(PGconn *c, const PGresult *res);
/* The best words for a failure, on one line: the server's primary message, else libpq's (the
 * connection's when res is NULL). */
void rd__pg_message(PGconn *c, const PGresult *res, char *out, size_t cap);
/* Fill err from a failed result (cleared here; NULL: the connection's message): RD_ESTORE
 * "NAME: the database is unreachable: MESSAGE" or RD_EIO "NAME: WHAT: SQLSTATE: MESSAGE". */
int rd__pg_fail(pg_store *s, PGresult *res, const char *what, rd_err *err);
/* The connection usable now: RD_OK, or RD_ESTORE (lost inside a transaction, within the
 * backoff, or the reconnect failed). A reconnect bumps s->gen. */
int rd__pg_ready(pg_store *s, rd_err *err);
/* The session settings every connection needs (read-only, the notice sink). */
/* The schema checked, and migrated when it is older (pg.c): at open, or at the first connect of a
 * handle opened lazily. */
int rd__pg_migrate(pg_store *s, rd_err *err);
int rd__pg_session(pg_store *s, rd_err *err);
/* A new connection to uri with riskd's defaults (connect_timeout 3 s, keepalives) under what
 * the URI sets, and the server-side budgets for timeout_ms (statement_timeout, lock_timeout,
 * idle_in_transaction_session_timeout, the server's keepalives) before the URI's own options;
 * *name receives "postgresql://user@host:port/db". NULL only without memory. */
PGconn *rd__pg_connect(const char *uri, int timeout_ms, char *name, size_t cap);

/* ------------------------------------------------------------------ waiting with a deadline
 *
 * No libpq call that waits for the server is made directly (PQexec, PQgetResult on a busy
 * connection, PQprepare ...): a statement is sent with a PQsend* function and its answer read
 * by these, which poll the socket and give up after timeout_ms without a byte. */

/* Put c in libpq's non-blocking mode (false: it failed): a PQsend* call then never waits for
 * the server to take what it sends; the rest is flushed by rd__pg_answer's poll. */
bool rd__pg_nonblocking(PGconn *c);
/* The answer to what was sent (sent: the PQsend* call's return), as PQexec gives it (the last
 * result, or the first error). NULL when sending or the connection failed (PQerrorMessage),
 * or when the deadline passed (*late). */
PGresult *rd__pg_answer(PGconn *c, bool sent, int timeout_ms, bool *late);
/* The next result in *r (NULL: the query is over): 1, or 0 when the deadline passed, or -1
 * when the connection failed (*r NULL either way). */
int rd__pg_answer_one(PGconn *c, int timeout_ms, PGresult **r);
/* rd__pg_answer on the handle's connection with its deadline; a deadline that passed marks the
 * connection lost (s->late, s->lost "no answer from the database within N s"), cancels the
 * statement and starts the backoff: rd__pg_fail(s, NULL, ...) then reports RD_ESTORE. */
PGresult *rd__pg_run(pg_store *s, bool sent);
PGresult *rd__pg_exec_raw(pg_store *s, const char *sql); /* several statements: a script */
PGresult *rd__pg_exec_params(pg_store *s, const char *sql, const pg_params *p, int result_fmt);
/* Ask the server to stop what c runs, from a detached thread (PQcancel waits without a limit). */
void rd__pg_cancel(PGconn *c);
/* Statements that may rightly run long (a scan, pruning): no statement_timeout on the server
 * and each answer awaited up to timeout_ms (when longer than the handle's), until
 * rd__pg_relimit(saved). */
int rd__pg_unlimit(pg_store *s, int timeout_ms, int *saved, rd_err *err);
void rd__pg_relimit(pg_store *s, int saved);

/* ------------------------------------------------------------------ queries */

/* Run sql (one statement) with p (NULL: no parameters). *res (NULL: discarded) receives the
 * result, to PQclear; result_fmt 1 asks for binary columns. Errors as rd__pg_fail. */
int rd__pg_query(pg_store *s, const char *sql, const pg_params *p, int result_fmt, PGresult **res,
                 const char *what, rd_err *err);
int rd__pg_exec(pg_store *s, const char *sql, const pg_params *p, PGresult **res, const char *what,
                rd_err *err);
/* Run a query row by row in constant memory: fn(ud, row) for each (a one-row result); a
 * non-zero return of fn cancels the query and is returned. No store call from fn. */
int rd__pg_stream(pg_store *s, const char *sql, const pg_params *p, int (*fn)(void *, const PGresult *),
                  void *ud, const char *what, rd_err *err);
/* A statement's number of rows changed (INSERT, UPDATE, DELETE). */
uint64_t rd__pg_changes(const PGresult *r);

/* Columns of row i: NULL (or 0, or "") for SQL NULL. */
const char *rd__pg_str(const PGresult *r, int i, int col);
int64_t rd__pg_i64(const PGresult *r, int i, int col);
void rd__pg_copy(const PGresult *r, int i, int col, char *dst, size_t cap);
char *rd__pg_dup(const PGresult *r, int i, int col); /* "" for NULL; NULL without memory */

/* ------------------------------------------------------------------ transactions */

/* One call's transaction: BEGIN (and pg_advisory_xact_lock(lock) when lock != 0) or, inside
 * the caller's transaction, a savepoint (*nested). Each success is ended by exactly one
 * rd__pg_tx_end; a failure has left nothing open (s->local_tx counts what is open). */
int rd__pg_tx_begin(pg_store *s, int64_t lock, bool *nested, rd_err *err);
/* Commit (rc == RD_OK) or roll back; returns rc, or the commit's error. */
int rd__pg_tx_end(pg_store *s, bool nested, int rc, rd_err *err);
/* COMMIT, an aborted transaction's answer ("ROLLBACK") counted as the failure it is. */
int rd__pg_commit_now(pg_store *s, rd_err *err);
/* Best effort: ROLLBACK (nested: to the call's savepoint) while the connection lives. */
void rd__pg_rollback_now(pg_store *s, bool nested);

/* ------------------------------------------------------------------ the ops, by file */

/* pg_log.c: the decision log and blobs. */
int rd__pg_log_append(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err);
int rd__pg_log_scan(rd_store *s, const rd_log_filter *f, int (*fn)(void *, const rd_log_row *), void *ud,
                    rd_err *err);
int rd__pg_log_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);
int rd__pg_blob_put(rd_store *s, const char *hex, const void *data, size_t len, rd_err *err);
bool rd__pg_blob_has(rd_store *s, const char *hex);
int rd__pg_blob_get(rd_store *s, const char *hex, char **data, size_t *len, rd_err *err);

/* pg_nodes.c: the several-node calls. */
int rd__pg_ping(rd_store *s, rd_err *err);
int rd__pg_notify(rd_store *s, const char *what, rd_err *err);
int rd__pg_watch_open(const char *where, rd_store_watch **out, rd_err *err);
int rd__pg_leader_try(rd_store *s, const char *role, bool *held, rd_err *err);
void rd__pg_leader_release(rd_store *s, const char *role);

/* pg_erase.c */
int rd__pg_applicant_scan(rd_store *s, const char *targeting_key, int64_t after_id,
                          int (*fn)(void *, const rd_applicant_row *), void *ud, int64_t *last_id,
                          rd_err *err);
int rd__pg_applicant_erase(rd_store *s, const int64_t *ids, size_t n, const char *const *request_ids,
                           size_t nreq, rd_applicant_erased *out, rd_err *err);
int rd__pg_scrub(rd_store *s, bool *complete, rd_err *err);
int rd__pg_erasure_mark(rd_store *s, const char *key_sha256, int64_t erased_ms, rd_err *err);

/* pg_rollout.c */
int rd__pg_rollout_set_status(rd_store *s, const char *flag, const char *json, rd_err *err);
int rd__pg_rollout_get_status(rd_store *s, const char *flag, char **json, rd_err *err);
int rd__pg_rollout_get(rd_store *s, const char *flag, rd_rollout_row *out, rd_err *err);
int rd__pg_rollout_put(rd_store *s, rd_rollout_row *row, rd_err *err);
int rd__pg_rollout_list(rd_store *s, int (*fn)(void *, const rd_rollout_row *), void *ud, rd_err *err);
int rd__pg_transition_append(rd_store *s, const rd_transition *t, rd_err *err);
int rd__pg_transition_list(rd_store *s, const char *flag, size_t limit,
                           int (*fn)(void *, const rd_transition *), void *ud, rd_err *err);

/* pg_notify.c: the notification outbox (schema 6) */
int rd__pg_outbox_append(rd_store *s, const rd_notify_row *r, int64_t stored_ms, bool *added, rd_err *err);
int rd__pg_outbox_scan(rd_store *s, int64_t after_id, size_t limit, int (*fn)(void *, const rd_notify_row *),
                       void *ud, rd_err *err);
int rd__pg_outbox_last_id(rd_store *s, int64_t *id, rd_err *err);
int rd__pg_outbox_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);
int rd__pg_sink_init(rd_store *s, const char *name, const char *kind, int64_t start_id, int64_t now_ms,
                     bool *created, rd_err *err);
int rd__pg_sink_get(rd_store *s, const char *name, rd_sink_row *out, rd_err *err);
int rd__pg_sink_list(rd_store *s, int (*fn)(void *, const rd_sink_row *), void *ud, rd_err *err);
int rd__pg_sink_move(rd_store *s, const char *name, int64_t from, const rd__sink_move *m, bool *moved,
                     rd_err *err);
int rd__pg_failure_put(rd_store *s, const rd_sink_failure *f, rd_err *err);
int rd__pg_sink_failures(rd_store *s, const char *sink, size_t limit,
                         int (*fn)(void *, const rd_sink_failure *), void *ud, rd_err *err);
int rd__pg_sink_delete(rd_store *s, const char *name, rd_err *err);

/* pg_exposure.c: exposure caps (schema 7) */
int rd__pg_exposure_stage_put(rd_store *s, const rd_exposure_stage_row *st, int64_t now_ms,
                              rd_exposure_stage_row *out, rd_err *err);
int rd__pg_exposure_stage_add(rd_store *s, const char *flag, const char *stage, int64_t started_ms,
                              int64_t da, int64_t dc, int64_t exhausted_ms, int64_t now_ms, bool *applied,
                              rd_err *err);
int rd__pg_exposure_slice_grant(rd_store *s, const rd__slice_key *k, int64_t ga, int64_t gc, int64_t now_ms,
                                rd_err *err);
int rd__pg_exposure_slice_return(rd_store *s, const rd__slice_key *k, int64_t a, int64_t c, bool close,
                                 int64_t now_ms, bool *applied, rd_err *err);
int rd__pg_exposure_slice_report(rd_store *s, const rd__slice_key *k, int64_t sa, int64_t sc, int64_t capped,
                                 int64_t now_ms, bool *applied, rd_err *err);
int rd__pg_exposure_slice_get(rd_store *s, const rd__slice_key *k, rd__slice_row *out, rd_err *err);
int rd__pg_exposure_orphans(rd_store *s, const char *node, const char *boot, int64_t now_ms, rd_err *err);
int rd__pg_exposure_list(rd_store *s, const char *flag,
                         int (*fn)(void *, const rd_exposure_stage_row *, const rd_exposure_totals *),
                         void *ud, rd_err *err);

/* pg_outcomes.c */
int rd__pg_outcomes_put(rd_store *s, const rd_outcome *o, size_t n, int64_t now_ms,
                        rd_outcome_result *results, rd_err *err);
int rd__pg_outcome_counts(rd_store *s, const rd__outcome_query *q, rd_outcome_stats *out, rd_err *err);
int rd__pg_outcome_scores(rd_store *s, const rd__outcome_query *q, int (*fn)(void *, double, int), void *ud,
                          rd_err *err);
int rd__pg_outcome_names(rd_store *s, const char *model_version, int (*fn)(void *, const char *), void *ud,
                         rd_err *err);

/* pg_gov.c */
int rd__pg_begin(rd_store *s, rd_err *err);
int rd__pg_commit(rd_store *s, rd_err *err);
void rd__pg_rollback(rd_store *s);
int rd__pg_audit_insert(rd_store *s, const rd_audit_row *r, rd_err *err);
int rd__pg_audit_last(rd_store *s, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err);
int rd__pg_audit_count(rd_store *s, uint64_t *n, rd_err *err);
int rd__pg_audit_scan(rd_store *s, int64_t from_seq, size_t limit, bool desc,
                      int (*fn)(void *, const rd_audit_row *), void *ud, rd_err *err);
int rd__pg_user_get(rd_store *s, const char *name, rd_user_row *out, rd_err *err);
int rd__pg_user_put(rd_store *s, const rd_user_row *u, rd_err *err);
int rd__pg_user_list(rd_store *s, int (*fn)(void *, const rd_user_row *), void *ud, rd_err *err);
int rd__pg_token_get(rd_store *s, const char *id, rd_token_row *out, rd_err *err);
int rd__pg_token_put(rd_store *s, const rd_token_row *t, rd_err *err);
int rd__pg_token_mark_used(rd_store *s, const char *id, int64_t used_ms, rd_err *err);
int rd__pg_token_list(rd_store *s, const char *user, int (*fn)(void *, const rd_token_row *), void *ud,
                      rd_err *err);
int rd__pg_change_get(rd_store *s, int64_t id, rd_change_row *out, rd_err *err);
int rd__pg_change_put(rd_store *s, rd_change_row *row, rd_err *err);
int rd__pg_change_list(rd_store *s, const char *state, size_t limit, int (*fn)(void *, const rd_change_row *),
                       void *ud, rd_err *err);
int rd__pg_version_append(rd_store *s, rd_version_row *v, rd_err *err);
int rd__pg_version_list(rd_store *s, const char *kind, const char *target, size_t limit,
                        int (*fn)(void *, const rd_version_row *), void *ud, rd_err *err);
int rd__pg_version_find(rd_store *s, const char *kind, const char *target, const char *sha, int64_t n,
                        rd_version_row *out, rd_err *err);
int rd__pg_setting_get(rd_store *s, const char *key, char *value, size_t cap, rd_err *err);
int rd__pg_setting_put(rd_store *s, const char *key, const char *value, rd_err *err);

#endif
