/* The decision log: every decision recorded (docs/formats.md, "Decision log"), written off
 * the request path by a writer thread with group commit, and replayed bit for bit.
 *
 *   rd_dlog_record_json   the log record of one decision (primary or shadow)
 *   rd_dlog_redact        log_redact: inputs logged only as a keyed hash, or not at all
 *   rd_dlog               the writer: a bounded queue, one transaction per batch, two
 *                         durability modes (async: answered before the commit; ack: the
 *                         caller waits for the commit its record is in)
 *   rd_dlog_keep_*        what served a decision, kept in the store by SHA-256, so a decision
 *                         can be replayed after the flag file and the bundles have moved on
 *   rd_replay             re-runs logged decisions from what was kept and compares them
 *   rd_dlog_erase         one applicant's records erased (outside the retention floor), audited
 *   rd_outcomes_from_*    outcome batches (labels that arrive late) read from JSON or CSV,
 *                         strictly, for rd_store_outcomes_put */
#ifndef RISKD_DLOG_H
#define RISKD_DLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/decide.h"
#include "riskd/err.h"
#include "riskd/store.h"
#include "riskd/value.h"

/* ------------------------------------------------------------------ redaction */

/* Personal data in the log (docs/governance.md, "Personal data in the decision log"): the
 * inputs log_redact names are logged as a keyed hash or not at all. The decision itself is
 * made on the real values; only the logged copy is redacted. */
typedef struct rd_dlog_redact rd_dlog_redact;

#define RD_REDACT_MAX      64 /* names in one log_redact */
#define RD_REDACT_KEY_MIN  32 /* bytes of the HMAC key, at least */
#define RD_REDACT_HASH_MAX 77 /* "hmac-sha256:" + 64 hex digits + NUL */

/* Compile log_redact: a comma-separated list of input names (top-level members of the
 * request's "features" and "context", white space around a name ignored), each "name" (logged
 * as "hmac-sha256:" + the lowercase hex of HMAC-SHA256(key, the value's canonical JSON, RFC
 * 8785)) or "name:drop" (not logged at all); "name:hash" is the same as "name". key_file: the
 * HMAC key, the file's bytes as they are (at least RD_REDACT_KEY_MIN; `head -c 32 /dev/urandom`),
 * required when a name is hashed. spec NULL or "" gives *out NULL: nothing redacted. RD_EINVAL
 * naming the item (an empty or repeated name, an unknown mode, targetingKey: the applicant's
 * identity for routing and erasure, logged as given) or the missing or short key (naming
 * log_redact_key_file); RD_EIO when the key file cannot be read; RD_ENOMEM. The result is
 * immutable: share it between threads. */
RD_API int rd_dlog_redact_new(const char *spec, const char *key_file, rd_dlog_redact **out, rd_err *err);
RD_API void rd_dlog_redact_free(rd_dlog_redact *r);
/* The names, as "ssn:drop,email" (buf of cap bytes; "" for r NULL), for logs and messages. */
RD_API const char *rd_dlog_redact_describe(const rd_dlog_redact *r, char *buf, size_t cap);
/* The keyed hash of v as the log stores it into out ("hmac-sha256:" + 64 hex digits): what an
 * investigator computes to ask "was this email's application logged?" without the log keeping
 * the email. RD_EINVAL without a key (or for a NaN), RD_ENOMEM. Thread-safe. */
RD_API int rd_dlog_redact_hash(const rd_dlog_redact *r, const rd_value *v, char out[RD_REDACT_HASH_MAX],
                               rd_err *err);

/* ------------------------------------------------------------------ records */

/* What a record says beyond the decision itself. */
typedef struct rd_dlog_meta {
    const char *node;             /* the node that decided (host name) */
    int64_t ts_ms;                /* unix ms of the decision */
    const rd_value *context;      /* as received (NULL: none) */
    const rd_value *features;     /* as received; NULL for a shadow record (its primary has them) */
    bool lenient;                 /* the flag set was parsed leniently */
    const rd_dlog_redact *redact; /* log_redact (borrowed); NULL: the inputs are logged as received */
} rd_dlog_meta;

/* Append the record of a primary decision d, made by decider dec, as one JSON object. With
 * m->redact, the members of context and features it names are hashed or left out, and the
 * record's "redacted" member lists those that were there ({"ssn":"drop","email":"hash"}). A
 * value that cannot be hashed (out of memory) sets b->oom: the record is refused, never
 * written in clear. */
RD_API void rd_dlog_record_json(rd_buf *b, const rd_decider *dec, const rd_decision *d,
                                const rd_dlog_meta *m);
/* Append the record of a shadow score: bundle shadow scored the primary decision's row
 * (request_id, the primary's) with rc (RD_OK: sc holds the score). */
RD_API void rd_dlog_shadow_json(rd_buf *b, const char *request_id, const char *primary,
                                const rd_bundle *shadow, int rc, const rd_score *sc, const rd_dlog_meta *m);

/* ------------------------------------------------------------------ the writer */

typedef enum rd_dlog_durability { RD_DLOG_ASYNC = 0, RD_DLOG_ACK } rd_dlog_durability;

typedef enum rd_dlog_level { RD_DLOG_INFO = 0, RD_DLOG_WARN, RD_DLOG_ERROR } rd_dlog_level;

/* The spool's bound when spool_path is given and spool_max_bytes is 0. */
#define RD_DLOG_SPOOL_MAX_DEFAULT ((size_t)1 << 30)

typedef struct rd_dlog_opts {
    rd_dlog_durability durability;
    size_t queue;     /* records waiting for the writer (default 65536) */
    size_t batch_max; /* records per transaction at most (default 4096) */
    /* Called by the writer thread after each commit with the sequence number of the last
     * record committed (ack mode resumes the requests waiting for it); may be NULL. */
    void (*on_commit)(void *ud, uint64_t committed);
    void *ud;
    /* The spool (docs/formats.md, "Decision log spool"): a local file the batches go to while
     * the store is unreachable (rd_store_log_append fails with RD_ESTORE; any other error
     * fails the batch as without a spool). A spooled record is committed (it is on the local
     * disk, fsynced): rd_dlog_wait says true, on_commit is called. While records wait there,
     * new batches go behind them, so the store receives the decisions in the order they were
     * made; the writer drains it from its head, batch_max records a transaction, when the store
     * answers again (tried after 1 s, the wait doubling to 10 s). A spool left by a previous run
     * is drained first. NULL: no spool. The path is borrowed for rd_dlog_new only. */
    const char *spool_path;
    /* The bytes waiting in the spool at most (default RD_DLOG_SPOOL_MAX_DEFAULT): past it,
     * records fail as without a spool (counted failed, rd_dlog_wait false). */
    size_t spool_max_bytes;
    /* What the writer has to report: the store lost and found again, the spool drained, a
     * torn tail dropped, the spool full (at most once a minute), a record the store refused for
     * good. msg is borrowed for the call. Called from the writer thread, and from rd_dlog_new's
     * caller for what opening the spool found. May be NULL. */
    void (*on_log)(void *ud, rd_dlog_level level, const char *msg);
} rd_dlog_opts;

typedef struct rd_dlog rd_dlog;

/* The writer over store s (which it uses alone from now on: open another handle for other
 * threads). With o->spool_path, the spool is opened (created when missing) and locked for this
 * process first: RD_EIO when it cannot be created, read or locked (another process has it), or
 * when the kernel gives no random bytes (the writer's boot id), RD_EINVAL when the file is not
 * a spool. */
RD_API int rd_dlog_new(rd_store *s, const rd_dlog_opts *o, rd_dlog **out, rd_err *err);
/* Commit what is queued (into the spool when records wait there), stop the writer, free (the
 * store stays the caller's). A spool the store is taking is drained for up to 3 s more; what is
 * left waits in the file for the next run. */
RD_API void rd_dlog_free(rd_dlog *l);
/* Queue a record (copied). *seq receives its sequence number (1, 2, ...): it is committed
 * once rd_dlog_committed(l) >= *seq. The record gets its identity here (row->uid, unless the
 * caller gave one: a UUID of this writer's random boot id and *seq) and its node (row->node,
 * else the store's, rd_store_node); they go with it into the spool, so the store keeps it once
 * however often it is sent, and two distinct decisions are two rows. RD_ELIMIT when the queue
 * is full: the caller refuses the decision or drops the record, as configured. Thread-safe,
 * never blocks on the disk. */
RD_API int rd_dlog_submit(rd_dlog *l, const rd_log_row *row, uint64_t *seq);
RD_API uint64_t rd_dlog_committed(const rd_dlog *l);
/* Block until rd_dlog_committed(l) >= seq, or the writer failed (false then). */
RD_API bool rd_dlog_wait(rd_dlog *l, uint64_t seq);
/* Without blocking: 1 when the record seq is committed, 0 while it waits, -1 when the
 * transaction that held it failed. */
RD_API int rd_dlog_status(rd_dlog *l, uint64_t seq);

typedef struct rd_dlog_stats {
    uint64_t submitted, committed, failed; /* records; committed counts the spooled ones too */
    uint64_t commits;                      /* transactions */
    size_t queued;
    double commit_seconds; /* summed over the transactions */
    /* the spool: records written to it, records of it the store took, records of it the store
     * refused for good (an error other than RD_ESTORE, three times: dropped, logged) */
    uint64_t spooled, drained, undeliverable;
    uint64_t spool_bytes, spool_records; /* waiting in the spool now */
    bool store_down;                     /* the writer's last store call failed with RD_ESTORE */
} rd_dlog_stats;
RD_API void rd_dlog_get_stats(const rd_dlog *l, rd_dlog_stats *st);

/* ------------------------------------------------------------------ what served */

/* Keep the bundle in dir (its manifest and every file it lists, skipping those already kept);
 * digest is rd_bundle_digest of the bundle loaded from it. */
RD_API int rd_dlog_keep_bundle(rd_store *s, const char *dir, const char *digest, rd_err *err);
/* Lay the bundle kept under digest out in the existing directory dir again: every file its
 * manifest lists, signature (a blob key; NULL or "" for none) as RD_BUNDLE_SIGNATURE_FILE, and
 * the manifest last, sealed with its digest. Every blob is checked against its key and every
 * file written through a temp name, fsynced, then renamed (layouts racing into one directory
 * each see whole files). It does not load the bundle: load it after. RD_ENOTFOUND ("fallback.json
 * (sha256 ...) is not in the store"), RD_EINVAL (a damaged blob, a manifest naming a path),
 * RD_EIO, the store's errors. */
RD_API int rd_dlog_lay_out_bundle(rd_store *s, const char *digest, const char *signature, const char *dir,
                                  rd_err *err);
/* Keep a file's bytes (a flag set, fallback rules); hex receives the SHA-256. */
RD_API int rd_dlog_keep_text(rd_store *s, const char *text, size_t len, char hex[RD_SHA256_HEX], rd_err *err);

/* ------------------------------------------------------------------ replay */

typedef struct rd_replay rd_replay;

/* work_dir: where kept bundles are laid out again to be loaded (created when missing). */
RD_API int rd_replay_new(rd_store *s, const char *work_dir, rd_replay **out, rd_err *err);
RD_API void rd_replay_free(rd_replay *r);

typedef struct rd_replay_result {
    bool identical;
    bool fallback;   /* the decision was the fallback rules': they were replayed, not the model */
    char diff[1024]; /* what differs, "" when identical */
    /* not replayable: "inputs redacted: ssn, email" (identical false, diff ""); "" otherwise */
    char not_replayable[256];
} rd_replay_result;

/* Re-run one logged decision from what was kept (the flag set, the bundle, the fallback rules
 * by their SHA-256) and compare: score and probability bits, risk level, decision, variant,
 * reasons and impacts, source. Errors (RD_ENOTFOUND: something the record names was not
 * kept; RD_EINVAL: a record that is not one) are not differences. A decision whose inputs were
 * redacted (a primary record with a "redacted" member, or a shadow score whose primary has
 * one) is not re-run: out->not_replayable says which inputs; neither identical nor a
 * difference. */
RD_API int rd_replay_one(rd_replay *r, const rd_log_row *row, rd_replay_result *out, rd_err *err);

/* The kept bundle with that digest (the "digest" of a record's "bundle"), laid out under the
 * work directory and loaded once: *out is borrowed from r, valid until rd_replay_free or until
 * 64 other bundles have been loaded through r. RD_EINVAL: digest is not a SHA-256;
 * RD_ENOTFOUND: the store did not keep it; RD_EIO. */
RD_API int rd_replay_bundle(rd_replay *r, const char *digest, const rd_bundle **out, rd_err *err);

/* ------------------------------------------------------------------ erasure */

struct rd_principal;

/* The retention floor when the store has no setting: 760 days, about 25 months (Regulation B,
 * 12 CFR 1002.12(b): a creditor keeps an application's records for 25 months). */
#define RD_RETENTION_FLOOR_DEFAULT 760
#define RD_RETENTION_FLOOR_MAX     36500

/* The retention floor in force (the store's setting "retention_floor_days", else the default). */
RD_API int rd_dlog_retention_get(rd_store *s, int *days, rd_err *err);
/* Set the retention floor to days (0 .. RD_RETENTION_FLOOR_MAX). who needs RD_PERM_USERS (the
 * governance settings: an admin, not the manager who erases). Audited ("settings.retention_floor",
 * detail {from, to}) in the same transaction. RD_EINVAL, RD_EUNAUTH, RD_EFORBIDDEN, RD_EIO. */
RD_API int rd_dlog_retention_set(rd_store *s, const struct rd_principal *who, int days, int64_t now_ms,
                                 rd_err *err);

typedef struct rd_dlog_erased {
    uint64_t decisions;           /* primary records erased */
    uint64_t shadows;             /* shadow scores of those decisions erased */
    uint64_t outcomes;            /* outcome rows (and their recorded changes) erased */
    int64_t oldest_ms, newest_ms; /* the decisions' times */
    char object[80];              /* the audit entry's object: "applicant/" + SHA-256 hex of the key */
    bool scrubbed;                /* the WAL was checkpointed and truncated: no old copy is left */
} rd_dlog_erased;

/* Erase one applicant's records: every primary decision whose record's context.targetingKey is
 * targeting_key, the shadow scores logged under those decisions' request ids, and the outcomes
 * joined to them, in one transaction with its audit entry ("decisions.erase", object
 * "applicant/" + SHA-256 hex of targeting_key, never the key itself; detail {count, shadows,
 * outcomes, oldest, newest, floor_days, reason}). The deleted bytes are overwritten (SQLite
 * secure_delete) and the WAL checkpointed and truncated after the commit, so the key's text
 * is gone from the files (unless another connection holds a read transaction open at that
 * moment: then the WAL keeps the old pages until the next checkpoint). A tombstone (that
 * SHA-256 and now_ms, rd_store_erasure_mark) commits with them: a primary decision of the
 * applicant made before now_ms that reaches the store later (queued, or in any node's spool
 * when the erasure ran) is not stored. who needs RD_PERM_ERASE.
 * reason (may be NULL) is kept in the audit entry. out (may be NULL) receives the counts.
 * Errors: RD_EUNAUTH, RD_EFORBIDDEN (the role); RD_EINVAL (an empty key); RD_ENOTFOUND (no
 * decision of that applicant); RD_ECONFLICT when any of the decisions was made less than the
 * retention floor (rd_dlog_retention_get) before now_ms: nothing is erased, and the message
 * says from which day the records can be; RD_EIO. Safe beside a running server: SQLite's WAL
 * and the busy timeout serialise the writers. */
RD_API int rd_dlog_erase(rd_store *s, const struct rd_principal *who, const char *targeting_key,
                         int64_t now_ms, const char *reason, rd_dlog_erased *out, rd_err *err);

/* ------------------------------------------------------------------ outcomes */

/* Longest outcome name and request id an outcome may carry. */
#define RD_OUTCOME_NAME_MAX 64
#define RD_OUTCOME_ID_MAX   256

/* Read an outcome batch (POST /v1/outcomes' body) from v: an array of objects
 *   {"request_id": "app-1" | 42, "label": 0 | 1, "outcome": "dpd30", "observed_at": T}
 * request_id: a string (1 to RD_OUTCOME_ID_MAX bytes, no leading or trailing space) or an
 * integer (read as the decision log writes it: 42 -> "42"); label: the number 0 (good) or 1
 * (bad); outcome: the definition's name, 1 to RD_OUTCOME_NAME_MAX bytes of [a-z0-9_-];
 * observed_at (optional, null: not given): an RFC 3339 time ("2026-03-01T08:30:00Z",
 * "2026-03-01T10:30:00.250+02:00"; milliseconds kept) or unix milliseconds (a number); a
 * time before 1e11 ms (March 1973) is refused (a number that small is probably seconds).
 * Strict: any malformed item or unknown key (with a did-you-mean) refuses the whole batch,
 * the message naming the item and the field ("[3].label: expected the number 0 (good) or 1
 * (bad), got 2"); more than max_items items (0: no limit) is RD_ELIMIT. On success *out
 * receives n items, the array allocated in arena, the strings borrowed from v (which must
 * outlive them) or allocated in arena; on failure *out and *n are untouched. Errors:
 * RD_EINVAL, RD_ETYPE, RD_ELIMIT, RD_ENOMEM. Thread-safe with distinct arenas. */
RD_API int rd_outcomes_from_value(const rd_value *v, size_t max_items, rd_arena *arena, rd_outcome **out,
                                  size_t *n, rd_err *err);

/* Read an outcome file (riskd outcomes import): CSV (include/riskd/csv.h) whose header names
 * the columns request_id, label, outcome and optionally observed_at, in any order (another
 * column is refused, with a did-you-mean); label "0" or "1"; observed_at empty (not given),
 * an RFC 3339 time or unix milliseconds; the other fields as in rd_outcomes_from_value. The
 * whole file is read and checked before anything is returned: a bad record refuses it, the
 * message naming the file, the line and the field ("out.csv: line 7: label: ..."). path "-"
 * reads stdin. progress (may be NULL) is called every few thousand records with the bytes
 * read and the file's size (0 when unknown). On success *out receives n items in arena.
 * Errors: RD_EIO (the file cannot be read), RD_EPARSE, RD_EINVAL, RD_ELIMIT, RD_ENOMEM. */
RD_API int rd_outcomes_from_csv(const char *path, rd_arena *arena,
                                void (*progress)(void *ud, uint64_t done, uint64_t total), void *ud,
                                rd_outcome **out, size_t *n, rd_err *err);

/* Append the statistics of one outcome definition as a JSON object: {"outcome", "labelled",
 * "bads", "approved", "approved_bads", "bad_rate_approved" (null when nothing was approved),
 * "ks" (null when not computed), "ks_note" (why not, e.g. "needs 100 bads, has 37"; null when
 * computed)}. min_bads: the threshold the statistics were computed with. */
RD_API void rd_outcome_stats_json(rd_buf *b, const char *outcome, const rd_outcome_stats *st,
                                  uint64_t min_bads);
/* Why st->ks is not computed ("needs 100 bads, has 37"), "" when it is. */
RD_API void rd_outcome_ks_note(const rd_outcome_stats *st, uint64_t min_bads, char *buf, size_t cap);

#endif
