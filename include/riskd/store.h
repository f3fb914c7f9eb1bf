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
#define RD_STORE_SCHEMA 7

typedef struct rd_store_opts {
    const char *node; /* this process's name in a shared store (the decision log's node column,
                         leadership); NULL: the host name */
    bool read_only;   /* open an existing store for reading (export, replay) */
    bool sync_full;   /* every commit reaches the disk (synchronous=FULL); else NORMAL, which WAL
                         keeps safe through a process crash (only a power loss can drop the last
                         commits) */
    bool lazy;        /* PostgreSQL: a database that cannot be reached at open is not an error; the
                         handle connects (and checks the schema) at its first call, each failing
                         with RD_ESTORE until then (a node that starts during an outage). SQLite:
                         no effect */
    int timeout_ms;   /* a shared store (PostgreSQL): the longest a call waits for the database
                         without a byte of answer, after which it fails with RD_ESTORE ("no
                         answer from the database within N s") and the connection is dropped; the
                         server's statement_timeout is a second less. 0: 10 s. A scan's rows and
                         pruning's statements run without the statement_timeout */
} rd_store_opts;

/* Open url: "sqlite:DIR" or a plain directory (created when missing, unless read_only), or
 * "postgresql://..." / "postgres://..." (a libpq connection URI; several nodes share it).
 * Errors name the file or the database: RD_EIO (cannot create, read or write), RD_EINVAL (not
 * a riskd database, or one from a newer riskd), RD_ESTORE (the database cannot be reached). */
RD_API int rd_store_open(const char *url, const rd_store_opts *o, rd_store **out, rd_err *err);
RD_API void rd_store_close(rd_store *s);
/* "DIR/riskd.db" or "postgresql://user@host:port/db" (never a password), for messages. */
RD_API const char *rd_store_name(const rd_store *s);
/* Whether several nodes may share this store (PostgreSQL: true; SQLite: false). */
RD_API bool rd_store_shared(const rd_store *s);
/* This process's name in the store (rd_store_opts.node, or the host name): the node a decision
 * record is logged under unless the row names its own. Valid until rd_store_close. */
RD_API const char *rd_store_node(const rd_store *s);

/* ------------------------------------------------------------------ several nodes (issue 16)
 *
 * A backend that serves several nodes reports a lost connection as RD_ESTORE ("the store is
 * unreachable"), on any call; the handle reconnects on a later call (with backoff: calls
 * within the backoff fail fast with RD_ESTORE instead of waiting for a connect timeout). */

/* Whether the store answers now (reconnecting when it was lost): RD_OK or RD_ESTORE. */
RD_API int rd_store_ping(rd_store *s, rd_err *err);
/* Tell every node that something they serve changed (what: "flags", "bundle", "rollout",
 * ...; at most 200 bytes). Inside a transaction it is delivered at commit, and only if the
 * transaction commits (PostgreSQL: NOTIFY riskd_changes); SQLite: nothing (one node, and the
 * periodic check covers other processes). */
RD_API int rd_store_notify(rd_store *s, const char *what, rd_err *err);

/* A change watch: the notifications rd_store_notify sends, from any node. It holds its own
 * connection, made from the same URL. */
typedef struct rd_store_watch rd_store_watch;
/* *out = NULL (and RD_OK) when the backend has no push (SQLite): poll instead. */
RD_API int rd_store_watch_open(const char *url, rd_store_watch **out, rd_err *err);
/* The descriptor to poll for POLLIN (-1 while disconnected). */
RD_API int rd_store_watch_fd(const rd_store_watch *w);
/* Without blocking: the next notification received (*got, its payload in what), or *got
 * false. RD_ESTORE when the connection is lost: call rd_store_watch_reconnect (notifications
 * sent meanwhile are lost: the caller re-reads what it serves after a reconnect). */
RD_API int rd_store_watch_next(rd_store_watch *w, char *what, size_t cap, bool *got, rd_err *err);
RD_API int rd_store_watch_reconnect(rd_store_watch *w, rd_err *err);
RD_API void rd_store_watch_close(rd_store_watch *w);

/* Leadership: at most one process holding this store handle's lock named role ("rollout",
 * "retention") at a time, across nodes (PostgreSQL: a session advisory lock, freed when the
 * holder's connection dies; SQLite: an flock on DIR/role.leader). Call it periodically:
 * *held says whether this handle holds it now; a handle that lost its connection has lost the
 * lock and says so (false) until it wins it again. */
RD_API int rd_store_leader_try(rd_store *s, const char *role, bool *held, rd_err *err);
RD_API void rd_store_leader_release(rd_store *s, const char *role);

/* ------------------------------------------------------------------ the decision log */

/* A decision record's identity, given when it is submitted (rd_dlog_submit): 16 bytes, shown as
 * a UUID. All zero: none. */
#define RD_LOG_UID_BYTES 16

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
    /* The record's identity, which makes an append idempotent (a row whose uid the store
     * holds is not stored again: a batch re-sent after a lost acknowledgement, or drained from
     * a spool twice); all zero: none, the row is stored each time it is appended. A scan
     * leaves it zero. */
    uint8_t uid[RD_LOG_UID_BYTES];
    /* The node that submitted it: appended, NULL means this handle's (rd_store_node); a scan
     * gives the stored one on PostgreSQL, NULL on SQLite (one node: no node column). */
    const char *node;
} rd_log_row;

typedef struct rd_log_filter {
    int64_t from_ms, to_ms;    /* [from, to); 0: open */
    const char *model_version; /* NULL: any */
    const char *request_id;    /* NULL: any */
    const char *kind;          /* NULL: any */
    const char *outcome;       /* join this outcome definition's label to each row (NULL: none) */
    /* Newest first: by decision time then id, descending (else in id order), from the row
     * before the cursor (before_ms, before_id) in that order when before_id is set: a page's
     * last row is the next page's cursor. Served by the time index without sorting the range,
     * so the latest rows of a large log come at once. */
    bool newest_first;
    int64_t before_ms, before_id;
    size_t limit; /* at most this many rows (0: all) */
} rd_log_filter;

/* Append rows in one transaction (all or none). A row whose uid the store holds already is
 * skipped; so is a primary decision of an erased applicant made before the erasure (its
 * record's context.targetingKey has a tombstone, rd_store_erasure_mark, dated after the row's
 * ts_ms): a record that was in flight (queued, or in some node's spool) when the erasure ran
 * is never stored. */
RD_API int rd_store_log_append(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err);
/* Call fn for each row that matches f, in id order (or newest first), streaming (constant memory); a non-zero
 * return from fn stops the scan and is returned. The row is valid during the call only. */
RD_API int rd_store_log_scan(rd_store *s, const rd_log_filter *f, int (*fn)(void *ud, const rd_log_row *r),
                             void *ud, rd_err *err);
/* Delete the rows decided before before_ms; *deleted receives their number. */
RD_API int rd_store_log_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);

/* One applicant's records (erasure: include/riskd/dlog.h, rd_dlog_erase, holds the rules). */
typedef struct rd_applicant_row {
    int64_t id, ts_ms;
    const char *request_id;
} rd_applicant_row;
/* Call fn for each primary decision whose record's context.targetingKey is targeting_key,
 * with after_id < id <= the last id logged when the scan starts; *last_id receives that id, so
 * a second scan from it sees only what was logged since (a short one, inside the erasing
 * transaction). A non-zero return of fn stops the scan and is returned. */
RD_API int rd_store_applicant_scan(rd_store *s, const char *targeting_key, int64_t after_id,
                                   int (*fn)(void *ud, const rd_applicant_row *r), void *ud, int64_t *last_id,
                                   rd_err *err);
typedef struct rd_applicant_erased {
    uint64_t decisions, shadows, outcomes;
} rd_applicant_erased;
/* Delete the primary decisions ids[0..n) and, for each of request_ids[0..nreq) that no
 * primary decision holds any more, its shadow scores, outcomes and outcome changes; the
 * deleted bytes overwritten with zeros (SQLite: secure_delete). Part of the caller's
 * transaction when it holds one. */
RD_API int rd_store_applicant_erase(rd_store *s, const int64_t *ids, size_t n, const char *const *request_ids,
                                    size_t nreq, rd_applicant_erased *out, rd_err *err);
/* Record that the applicant whose context.targetingKey has the SHA-256 key_sha256 (64 hex
 * digits, as the erasure's audit entry names it) was erased at erased_ms: from now on an
 * appended primary decision of that applicant made before erased_ms is not stored (a second
 * erasure moves the date on, never back). Part of the caller's transaction when it holds one.
 * RD_EINVAL for a key that is not 64 lowercase hex digits. */
RD_API int rd_store_erasure_mark(rd_store *s, const char *key_sha256, int64_t erased_ms, rd_err *err);
/* After an erasure: fold the write-ahead log into the database and truncate it, so no copy of
 * an erased page stays in it. *complete is false when another connection's open read kept it
 * from finishing (the next checkpoint will). Outside a transaction only. */
RD_API int rd_store_scrub(rd_store *s, bool *complete, rd_err *err);

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

/* ------------------------------------------------------------------ governance (schema 3; 5: tokens.parent)
 *
 * What the auth, audit and change modules keep (include/riskd/auth.h, audit.h, change.h).
 * Callers use those modules; the rows here are their storage. */

/* A write transaction (SQLite: BEGIN IMMEDIATE, so two processes serialise): a governance
 * change and its audit entry commit together. Nested calls count; only the outermost commits.
 * rd_store_rollback undoes the whole transaction, at any depth. */
RD_API int rd_store_begin(rd_store *s, rd_err *err);
RD_API int rd_store_commit(rd_store *s, rd_err *err);
RD_API void rd_store_rollback(rd_store *s);

/* The audit table (audit.h holds the rules; the store only keeps rows, in seq order). */
typedef struct rd_audit_row {
    int64_t seq, ts_ms;
    const char *actor, *action, *object, *before_sha256, *after_sha256, *detail, *prev_hash, *hash;
} rd_audit_row;
RD_API int rd_store_audit_insert(rd_store *s, const rd_audit_row *r, rd_err *err);
/* The last row's seq and hash (0 and "" when empty). */
RD_API int rd_store_audit_last(rd_store *s, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err);
RD_API int rd_store_audit_count(rd_store *s, uint64_t *n, rd_err *err);
/* Rows with seq >= from_seq in seq order (newest first when desc), at most limit (0: all). */
RD_API int rd_store_audit_scan(rd_store *s, int64_t from_seq, size_t limit, bool desc,
                               int (*fn)(void *ud, const rd_audit_row *r), void *ud, rd_err *err);

/* Users and tokens (auth.h holds the rules). */
typedef struct rd_user_row {
    char name[64];
    char role[16];
    bool disabled;
    int64_t created_ms;
    char created_by[64];
} rd_user_row;
RD_API int rd_store_user_get(rd_store *s, const char *name, rd_user_row *out, rd_err *err); /* RD_ENOTFOUND */
RD_API int rd_store_user_put(rd_store *s, const rd_user_row *u, rd_err *err); /* insert or replace */
RD_API int rd_store_user_list(rd_store *s, int (*fn)(void *ud, const rd_user_row *u), void *ud, rd_err *err);

typedef struct rd_token_row {
    char id[16];
    char user[64];
    char hash[RD_SHA256_HEX]; /* SHA-256 of the whole token */
    uint32_t scopes;
    int64_t created_ms, expires_ms, revoked_ms, last_used_ms;
    char created_by[64];
    char parent[16]; /* a console session's token (schema 5): the id of the token it was opened
                        with, which must stay active for it to work; "" for any other token */
} rd_token_row;
RD_API int rd_store_token_get(rd_store *s, const char *id, rd_token_row *out, rd_err *err); /* RD_ENOTFOUND */
RD_API int rd_store_token_put(rd_store *s, const rd_token_row *t, rd_err *err); /* insert or replace */
/* Mark token id used at used_ms, unless it holds a later mark: one statement that writes only
 * last_used_ms, so a revocation committed meanwhile is kept. It is no governance write: it takes
 * no transaction of its own (PostgreSQL: no governance lock, so it never waits for a publish on
 * any node; SQLite: it waits for another connection's write transaction, as every write does).
 * RD_OK when no token has id (nothing to mark). */
RD_API int rd_store_token_mark_used(rd_store *s, const char *id, int64_t used_ms, rd_err *err);
/* user NULL: every token. */
RD_API int rd_store_token_list(rd_store *s, const char *user, int (*fn)(void *ud, const rd_token_row *t),
                               void *ud, rd_err *err);

/* Change requests (change.h holds the rules). Strings the store returns live in the row until
 * rd_store_change_row_free. */
typedef struct rd_change_row {
    int64_t id; /* assigned by rd_store_change_put when 0 */
    char kind[16];
    char target[1024];
    char state[16];
    char title[256];
    char author[64];
    int64_t created_ms, updated_ms;
    int64_t revision;                /* 1, bumped by every edit */
    char base_sha[RD_SHA256_HEX];    /* what the target held when proposed ("" for none) */
    char payload_sha[RD_SHA256_HEX]; /* the payload, a blob */
    char *editors_json;              /* ["alice", ...]: the author and everyone who edited */
    char *approvals_json;            /* [{"user","revision","ts_ms","token"}] of the current revision */
    char *history_json;              /* [{"ts_ms","actor","event","revision","note"}] */
    int64_t published_ms;
    char published_by[64];
    int64_t version; /* the version publishing made (0: not published) */
} rd_change_row;
RD_API int rd_store_change_get(rd_store *s, int64_t id, rd_change_row *out, rd_err *err); /* RD_ENOTFOUND */
RD_API int rd_store_change_put(rd_store *s, rd_change_row *row, rd_err *err);
/* state NULL: every state; newest first; at most limit (0: all). */
RD_API int rd_store_change_list(rd_store *s, const char *state, size_t limit,
                                int (*fn)(void *ud, const rd_change_row *r), void *ud, rd_err *err);
RD_API void rd_store_change_row_free(rd_change_row *row);

/* Published versions of a target: each flag file, plan file or bundle name numbered from 1. */
typedef struct rd_version_row {
    char kind[16];                    /* flags | rollout | bundle */
    char target[1024];                /* the flag file's path, the plan file's path, the bundle's name */
    int64_t version;                  /* assigned by rd_store_version_append */
    char sha[RD_SHA256_HEX];          /* what it holds (a blob for flags and plans) */
    char replaced_sha[RD_SHA256_HEX]; /* what it held before ("" for the first) */
    char how[16];                     /* publish | rollback | rollout (the controller's stage writes) */
    int64_t change_id;                /* the change request (0: none) */
    char author[64], approvers[256], published_by[64];
    int64_t ts_ms;
} rd_version_row;
RD_API int rd_store_version_append(rd_store *s, rd_version_row *v, rd_err *err);
/* Newest first, at most limit (0: all). */
RD_API int rd_store_version_list(rd_store *s, const char *kind, const char *target, size_t limit,
                                 int (*fn)(void *ud, const rd_version_row *v), void *ud, rd_err *err);
/* The newest version of target whose sha is sha (RD_ENOTFOUND: never published). */
RD_API int rd_store_version_find(rd_store *s, const char *kind, const char *target, const char *sha,
                                 rd_version_row *out, rd_err *err);
/* Version number n of target (RD_ENOTFOUND). */
RD_API int rd_store_version_get(rd_store *s, const char *kind, const char *target, int64_t n,
                                rd_version_row *out, rd_err *err);

/* Settings (key, value) the governance keeps: "approvals.flags" = "1", "served.flags" = path. */
RD_API int rd_store_setting_get(rd_store *s, const char *key, char *value, size_t cap,
                                rd_err *err); /* RD_ENOTFOUND */
RD_API int rd_store_setting_put(rd_store *s, const char *key, const char *value, rd_err *err);

/* ------------------------------------------------------------------ notifications (schema 6)
 *
 * The outbox (notify.h, docs/notifications.md): one row per event, whatever the sinks, and one
 * cursor per sink. Events are appended inside a store transaction only (the governance lock), so
 * ids are allocated in commit order and a cursor that delivers in id order never skips a row
 * that becomes visible later. */
typedef struct rd_notify_row {
    int64_t id;         /* assigned by the store (append ignores it) */
    char uid[37];       /* the event's UUID (its idempotency key), lowercase canonical form */
    int64_t ts_ms;      /* the event's time */
    int64_t stored_ms;  /* when it reached the outbox */
    const char *type;   /* "change.proposed", ... */
    const char *node;   /* the node that raised it (append: NULL is this handle's, rd_store_node) */
    const char *object; /* "change/12", "rollout/credit-model-route", ... */
    const char *body;   /* the event's JSON envelope */
    size_t body_len;
} rd_notify_row;
/* Inside a transaction only (rd_store_begin; RD_EINTERNAL otherwise). A row whose uid the store
 * holds already is not stored again (*added false; added may be NULL). stored_ms is the store's
 * clock at the append (r->stored_ms is ignored). RD_EINVAL: a uid not in the canonical form, no
 * type, object or body, a NUL byte in the body. */
RD_API int rd_store_outbox_append(rd_store *s, const rd_notify_row *r, bool *added, rd_err *err);
/* Rows with id > after_id, in id order, at most limit (0: all); a row is valid during fn, which
 * may call the store (a deliverer moves its cursor from it). A non-zero return of fn stops the
 * scan and is returned. */
RD_API int rd_store_outbox_scan(rd_store *s, int64_t after_id, size_t limit,
                                int (*fn)(void *ud, const rd_notify_row *r), void *ud, rd_err *err);
/* One row by id (RD_ENOTFOUND); fn as for a scan. */
RD_API int rd_store_outbox_get(rd_store *s, int64_t id, int (*fn)(void *ud, const rd_notify_row *r), void *ud,
                               rd_err *err);
/* The largest id stored (0: none). */
RD_API int rd_store_outbox_last_id(rd_store *s, int64_t *id, rd_err *err);
/* Delete rows stored before before_ms, and the failures (rd_store_sink_failures) recorded
 * before it; *deleted (may be NULL) counts the rows. */
RD_API int rd_store_outbox_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);

/* A sink's cursor: the last event it is done with (delivered, skipped or failed). */
typedef struct rd_sink_row {
    char name[64], kind[16];
    int64_t last_id;    /* done with every event up to this id */
    int attempts;       /* failed attempts at the event after last_id */
    int64_t next_ms;    /* not before this time (backoff) */
    int64_t last_ok_ms; /* the last delivery (0: none) */
    int64_t updated_ms;
    char last_error[256];
} rd_sink_row;
/* Create the cursor at start_id unless the sink has one (a new sink starts at the newest event:
 * no flood of history); *created (may be NULL) says which. A name is 1 to 63 bytes, a kind 1 to
 * 15 (RD_EINVAL). */
RD_API int rd_store_sink_init(rd_store *s, const char *name, const char *kind, int64_t start_id,
                              bool *created, rd_err *err);
RD_API int rd_store_sink_get(rd_store *s, const char *name, rd_sink_row *out, rd_err *err); /* RD_ENOTFOUND */
RD_API int rd_store_sink_list(rd_store *s, int (*fn)(void *ud, const rd_sink_row *r), void *ud, rd_err *err);
/* Compare and swap: last_id from -> to, attempts 0, next_ms 0, last_error "", last_ok_ms = ok_ms
 * when ok_ms > 0, updated_ms = now_ms. RD_ECONFLICT when the cursor is no longer at from (another
 * node moved it, or the sink has no cursor); RD_EINVAL when to < from (a cursor never goes back). */
RD_API int rd_store_sink_advance(rd_store *s, const char *name, int64_t from, int64_t to, int64_t ok_ms,
                                 int64_t now_ms, rd_err *err);
/* A failed attempt at the event after last_id == at (RD_ECONFLICT otherwise): attempts, next_ms
 * and the error (never a URL; cut to 255 bytes on a character boundary) recorded. */
RD_API int rd_store_sink_retry(rd_store *s, const char *name, int64_t at, int attempts, int64_t next_ms,
                               const char *error, int64_t now_ms, rd_err *err);
/* Give up on event_id: a failure row and the cursor moved from `at` to event_id (attempts and
 * next_ms 0, last_error the failure's error, updated_ms its failed_ms), in one transaction: nested
 * in the caller's when it holds one. RD_ECONFLICT as for advance (nothing written, the caller's
 * transaction left whole); RD_EINVAL unless event_id > at. */
typedef struct rd_sink_failure {
    char sink[64];
    int64_t event_id;
    int64_t failed_ms;
    int attempts;
    int status; /* the last HTTP status (0: none, a transport error) */
    char error[256];
} rd_sink_failure;
RD_API int rd_store_sink_fail(rd_store *s, const rd_sink_failure *f, int64_t at, rd_err *err);
/* Failures, newest first; sink NULL: every sink; at most limit (0: all). */
RD_API int rd_store_sink_failures(rd_store *s, const char *sink, size_t limit,
                                  int (*fn)(void *ud, const rd_sink_failure *f), void *ud, rd_err *err);
/* Delete the cursor (and its failures) of a sink no longer configured. */
RD_API int rd_store_sink_delete(rd_store *s, const char *name, rd_err *err);

/* ------------------------------------------------------------------ exposure caps (schema 7)
 *
 * A rollout stage's caps on what its candidate approves (docs/plans/guardrails.md §3): the
 * amount (in integer units of the plan's `unit`) and the number of approvals. Each node holds
 * slices of a cap, reserved here in a governance transaction and spent on the scoring path
 * without the store; what a node held when it died is "lost", never given back (the safe side).
 * A stage instance is keyed by (flag, stage, stage_started_ms), a node's slice of it by
 * (node, boot), boot being the node process's incarnation. Invariants: for each stage,
 * Σ over its slices of (reserved − returned) = the stage's reserved; each grant keeps the
 * stage's reserved ≤ its cap at the time it is made; each slice's spent ≤ reserved − returned.
 * A read-only handle on a schema-6 database lists nothing. */
typedef struct rd_exposure_stage_row {
    char flag[256], stage[64];
    int64_t stage_started_ms;
    char plan_sha[RD_SHA256_HEX];            /* the plan the caps came from */
    char field[128];                         /* where the amount is read: "features.Amount" */
    double unit;                             /* the amount of one unit (> 0) */
    bool has_amount, has_count;              /* false: no such cap (unlimited) */
    int64_t cap_amount, cap_count;           /* units, approvals (when has_*) */
    int64_t reserved_amount, reserved_count; /* granted and not given back (used + held + lost) */
    int64_t exhausted_ms; /* when a node first found nothing left to reserve for an approval (0: never) */
    int64_t created_ms, updated_ms;
} rd_exposure_stage_row;

typedef struct rd_exposure_totals {          /* over a stage's slices */
    int64_t spent_amount, spent_count;       /* reported: the approvals charged ("used") */
    int64_t held_amount, held_count;         /* open slices: reserved − returned − spent */
    int64_t lost_amount, lost_count;         /* lost slices (a node that died): the same, never given back */
    int64_t reserved_amount, reserved_count; /* Σ(reserved − returned) over every slice: the stage's
                                                reserved when the ledger is whole */
    uint64_t capped;                         /* approvals answered by the control, reported */
    size_t nodes;                            /* open slices */
} rd_exposure_totals;

/* Reserve up to want_amount units and want_count approvals of stage's caps for (node, boot), in
 * one governance transaction (rd_store_begin: nested in the caller's when it holds one). The
 * stage row is inserted when missing, else its plan_sha, field, unit and caps become stage's
 * (the newest plan wins; its reserved_* and timestamps are ignored). Each grant is
 * min(want, cap − reserved), never negative, and the want itself for a dimension without a cap;
 * the stage's reserved grows by it through an UPDATE guarded by reserved + grant <= cap
 * (RD_ECONFLICT if it matches nothing: nothing written). The slice is upserted: reserved +=
 * grants, state open. mark_exhausted: a dimension wanted (> 0) whose grant is 0 sets the
 * stage's exhausted_ms to now_ms, unless it was set before. *got_amount, *got_count: the
 * grants, on success. RD_EINVAL: an empty or too long key, a negative want or cap, a unit not
 * > 0. */
RD_API int rd_store_exposure_reserve(rd_store *s, const rd_exposure_stage_row *stage, const char *node,
                                     const char *boot, int64_t want_amount, int64_t want_count,
                                     bool mark_exhausted, int64_t now_ms, int64_t *got_amount,
                                     int64_t *got_count, rd_err *err);
/* Give back what a slice holds unspent, in one transaction (nested as above): the stage's
 * reserved −= (amount, count), the slice's returned += them; close: its state becomes closed.
 * RD_ENOTFOUND: no such slice; RD_ECONFLICT: more than reserved − returned − spent (the last
 * report) of the slice, nothing written. */
RD_API int rd_store_exposure_return(rd_store *s, const char *flag, const char *stage,
                                    int64_t stage_started_ms, const char *node, const char *boot,
                                    int64_t amount, int64_t count, bool close, int64_t now_ms, rd_err *err);
/* What the node spent of its slice, and the approvals it capped, in one UPDATE (no governance
 * lock): each column becomes the larger of what it holds and what is given (a late report never
 * lowers it). RD_ENOTFOUND: no such slice; RD_ECONFLICT: a spent larger than reserved −
 * returned, nothing written. */
RD_API int rd_store_exposure_report(rd_store *s, const char *flag, const char *stage,
                                    int64_t stage_started_ms, const char *node, const char *boot,
                                    int64_t spent_amount, int64_t spent_count, uint64_t capped,
                                    int64_t now_ms, rd_err *err);
/* node's slices of other boots still open (a process of it that ended without giving back):
 * state lost. */
RD_API int rd_store_exposure_orphans(rd_store *s, const char *node, const char *boot, int64_t now_ms,
                                     rd_err *err);
/* The stage rows of flag (NULL: every flag), oldest stage first, each with its totals. A
 * non-zero return of fn stops the list and is returned; fn may call the store. */
RD_API int rd_store_exposure_list(rd_store *s, const char *flag,
                                  int (*fn)(void *ud, const rd_exposure_stage_row *st,
                                            const rd_exposure_totals *t),
                                  void *ud, rd_err *err);

#endif
