/* The store on SQLite (Debian's libsqlite3): one database DIR/riskd.db in WAL mode.
 *
 * Schema 1:
 *   riskd_meta(key PRIMARY KEY, value)       ('app', 'riskd'), ('schema', '1')
 *   decisions(id INTEGER PRIMARY KEY, ts_ms, request_id, kind, model_version, record)
 *     indexed by ts_ms and by request_id
 *   blobs(sha256 PRIMARY KEY, data) WITHOUT ROWID
 * Schema 2 adds (see sqlite_int.h for the columns):
 *   outcomes, outcome_changes               labels that arrive late, joined to decisions
 *   rollouts, rollout_transitions           staged rollouts and every stage change
 * Schema 3 adds the governance tables (sqlite_gov.c): audit (append-only by trigger), users,
 *   tokens, changes, versions, settings
 * Schema 4 adds decisions.uid (each record's identity, unique: a batch appended again stores
 *   nothing new) and erasures(key_sha256, erased_ms), the erasure tombstones (sqlite_erase.c)
 * Schema 5 adds tokens.parent: a console session's token names the token it was opened with
 * Schema 6 adds the notification outbox (sqlite_notify.c):
 *   notify_events(id INTEGER PRIMARY KEY AUTOINCREMENT, uid UNIQUE, ts_ms, type, node, object,
 *     body, stored_ms)                       one row per event, indexed by stored_ms (pruning)
 *   notify_sinks(name PRIMARY KEY, kind, last_id, attempts, next_ms, last_error, last_ok_ms,
 *     updated_ms) WITHOUT ROWID              one cursor per sink
 *   notify_failures(sink, event_id, failed_ms, attempts, status, error) WITHOUT ROWID
 *                                            the events a sink gave up on
 * Schema 7 adds the exposure caps (sqlite_exposure.c):
 *   exposure_stages(flag, stage, stage_started_ms, plan_sha, field, unit, cap_amount, cap_count,
 *     reserved_amount, reserved_count, exhausted_ms, created_ms, updated_ms) WITHOUT ROWID
 *                                            one row per stage instance: its caps (NULL: none)
 *                                            and what the nodes reserved of them
 *   exposure_slices(flag, stage, stage_started_ms, node, boot, reserved_*, returned_*, spent_*,
 *     capped, state, opened_ms, updated_ms) WITHOUT ROWID, indexed by (node, state)
 *                                            one node process's part of a stage's caps
 * Migrations run at open, in one transaction each, from the version found to RD_STORE_SCHEMA. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "sqlite_int.h"

int rd__sq_fail(sq_store *s, rd_err *err, const char *what)
{
    int code = sqlite3_errcode(s->db);
    int rc = code == SQLITE_NOMEM                              ? RD_ENOMEM
             : code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? RD_EINVAL
                                                               : RD_EIO;
    return rd_err_set(err, rc, "%s: %s: %s", s->base.name, what, sqlite3_errmsg(s->db));
}

static int exec(sq_store *s, const char *sql, rd_err *err)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? RD_OK : rd__sq_fail(s, err, sql);
}

static const char schema_1[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE riskd_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE decisions(id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, model_version TEXT, record TEXT NOT NULL);"
    "CREATE INDEX decisions_ts ON decisions(ts_ms);"
    "CREATE INDEX decisions_request ON decisions(request_id);"
    "CREATE TABLE blobs(sha256 TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;"
    "INSERT INTO riskd_meta VALUES('app', 'riskd'), ('schema', '1');"
    "COMMIT;";

static const char schema_2[] =
    "BEGIN IMMEDIATE;"
    /* one label per (request, outcome definition); the decision it joins is copied in at
       arrival, so the statistics need no JSON; a replaced label leaves a row in outcome_changes */
    "CREATE TABLE outcomes(request_id TEXT NOT NULL, outcome TEXT NOT NULL, label INTEGER NOT NULL,"
    " observed_ms INTEGER, received_ms INTEGER NOT NULL, decided_ms INTEGER, model_version TEXT,"
    " variant TEXT, decision TEXT, score REAL, PRIMARY KEY(request_id, outcome)) WITHOUT ROWID;"
    "CREATE INDEX outcomes_model ON outcomes(model_version, outcome, decided_ms);"
    "CREATE TABLE outcome_changes(id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL,"
    " outcome TEXT NOT NULL, old_label INTEGER, new_label INTEGER NOT NULL, old_observed_ms INTEGER,"
    " new_observed_ms INTEGER);"
    "CREATE TABLE rollouts(flag TEXT PRIMARY KEY, plan_name TEXT NOT NULL, plan_path TEXT NOT NULL,"
    " plan_sha TEXT NOT NULL, plan_json TEXT NOT NULL, flags_path TEXT NOT NULL, state TEXT NOT NULL,"
    " stage INTEGER NOT NULL, stage_name TEXT NOT NULL, stage_started_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, version INTEGER NOT NULL, status TEXT);"
    "CREATE TABLE rollout_transitions(id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, flag TEXT NOT NULL,"
    " from_stage INTEGER NOT NULL, to_stage INTEGER NOT NULL, from_state TEXT NOT NULL,"
    " to_state TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, actor TEXT NOT NULL,"
    " gates TEXT, flags_sha TEXT NOT NULL);"
    "CREATE INDEX rollout_transitions_flag ON rollout_transitions(flag, id);"
    "UPDATE riskd_meta SET value = '2' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_4[] =
    "BEGIN IMMEDIATE;"
    /* the identity each record got when it was submitted (rd_log_row.uid): a batch appended
       again stores nothing new, as on PostgreSQL (rows logged before, and rows appended without
       one, have NULL: never a conflict) */
    "ALTER TABLE decisions ADD COLUMN uid BLOB;"
    "CREATE UNIQUE INDEX decisions_uid ON decisions(uid);"
    /* erasure tombstones (sqlite_erase.c) */
    "CREATE TABLE erasures(key_sha256 TEXT PRIMARY KEY, erased_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX erasures_ms ON erasures(erased_ms);"
    "UPDATE riskd_meta SET value = '4' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_5[] =
    "BEGIN IMMEDIATE;"
    /* a console session is a token of its own whose parent is the token it was opened with
       (src/lib/auth/session.c); '' for every other token, and for those issued before */
    "ALTER TABLE tokens ADD COLUMN parent TEXT NOT NULL DEFAULT '';"
    "UPDATE riskd_meta SET value = '5' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_6[] =
    "BEGIN IMMEDIATE;"
    /* the notification outbox (sqlite_notify.c): AUTOINCREMENT, so ids never go back, not even
       after a prune emptied the table (the sinks' cursors hold ids) */
    "CREATE TABLE notify_events(id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE,"
    " ts_ms INTEGER NOT NULL, type TEXT NOT NULL, node TEXT NOT NULL, object TEXT NOT NULL,"
    " body TEXT NOT NULL, stored_ms INTEGER NOT NULL);"
    "CREATE INDEX notify_events_stored ON notify_events(stored_ms);"
    "CREATE TABLE notify_sinks(name TEXT PRIMARY KEY, kind TEXT NOT NULL, last_id INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '', last_ok_ms INTEGER NOT NULL DEFAULT 0,"
    " updated_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE notify_failures(sink TEXT NOT NULL, event_id INTEGER NOT NULL, failed_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, status INTEGER NOT NULL, error TEXT NOT NULL,"
    " PRIMARY KEY(sink, event_id)) WITHOUT ROWID;"
    "UPDATE riskd_meta SET value = '6' WHERE key = 'schema';"
    "COMMIT;";

static const char schema_7[] =
    "BEGIN IMMEDIATE;"
    /* exposure caps (sqlite_exposure.c), in integer units of the plan's unit: no CHECK on
       reserved <= cap (a cap lowered by a plan edit must be storable); the guard is the
       reservation's UPDATE. Kept forever: small rows, no personal data, evidence of the caps */
    "CREATE TABLE exposure_stages(flag TEXT NOT NULL, stage TEXT NOT NULL, stage_started_ms INTEGER NOT NULL,"
    " plan_sha TEXT NOT NULL, field TEXT NOT NULL, unit REAL NOT NULL, cap_amount INTEGER, cap_count INTEGER,"
    " reserved_amount INTEGER NOT NULL DEFAULT 0, reserved_count INTEGER NOT NULL DEFAULT 0,"
    " exhausted_ms INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(flag, stage, stage_started_ms)) WITHOUT ROWID;"
    "CREATE TABLE exposure_slices(flag TEXT NOT NULL, stage TEXT NOT NULL, stage_started_ms INTEGER NOT NULL,"
    " node TEXT NOT NULL, boot TEXT NOT NULL, reserved_amount INTEGER NOT NULL DEFAULT 0,"
    " reserved_count INTEGER NOT NULL DEFAULT 0, returned_amount INTEGER NOT NULL DEFAULT 0,"
    " returned_count INTEGER NOT NULL DEFAULT 0, spent_amount INTEGER NOT NULL DEFAULT 0,"
    " spent_count INTEGER NOT NULL DEFAULT 0, capped INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL,"
    " opened_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(flag, stage, stage_started_ms, node, boot)) WITHOUT ROWID;"
    "CREATE INDEX exposure_slices_node ON exposure_slices(node, state);"
    "UPDATE riskd_meta SET value = '7' WHERE key = 'schema';"
    "COMMIT;";

/* The schema version of the open database: 0 for an empty one; RD_EINVAL for a foreign one. */
static int schema_version(sq_store *s, int *version, rd_err *err)
{
    sqlite3_stmt *st;
    *version = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading the schema");
    int rc = sqlite3_step(st);
    int tables = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (tables < 0)
        return rd__sq_fail(s, err, "reading the schema");
    if (tables == 0)
        return RD_OK;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM riskd_meta WHERE key = 'schema'", -1, &st, NULL) !=
        SQLITE_OK)
        return rd_err_set(err, RD_EINVAL,
                          "%s: not a riskd database (it has %d tables but no riskd_meta): give riskd its own "
                          "data directory",
                          s->base.name, tables);
    rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (*version <= 0)
        return rd_err_set(err, RD_EINVAL, "%s: riskd_meta has no schema version", s->base.name);
    if (*version > RD_STORE_SCHEMA)
        return rd_err_set(
            err, RD_EINVAL,
            "%s: schema version %d is newer than this riskd's (%d): run the riskd that wrote it, "
            "or a newer one",
            s->base.name, *version, RD_STORE_SCHEMA);
    return RD_OK;
}

/* A read-only handle may hold an older schema (it is not migrated): the log's writes are not
 * prepared there (an append fails). */
static int prepare(sq_store *s, bool read_only, rd_err *err)
{
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } q[] = {
        {&s->insert, "INSERT INTO decisions(ts_ms, request_id, kind, model_version, record, uid)"
                     " VALUES(?,?,?,?,?,?) ON CONFLICT(uid) DO NOTHING"},
        {&s->newest_erasure, "SELECT max(erased_ms) FROM erasures"},
        {&s->blob_has, "SELECT 1 FROM blobs WHERE sha256 = ?"},
        {&s->blob_get, "SELECT data FROM blobs WHERE sha256 = ?"},
        {&s->blob_put, "INSERT OR IGNORE INTO blobs(sha256, data) VALUES(?, ?)"},
    };
    for (size_t i = read_only ? 2 : 0; i < sizeof q / sizeof *q; i++)
        if (sqlite3_prepare_v3(s->db, q[i].sql, -1, SQLITE_PREPARE_PERSISTENT, q[i].st, NULL) != SQLITE_OK)
            return rd__sq_fail(s, err, "preparing statements");
    return RD_OK;
}

static void sq_close(rd_store *base)
{
    sq_store *s = (sq_store *)base;
    sqlite3_finalize(s->insert);
    sqlite3_finalize(s->blob_has);
    sqlite3_finalize(s->blob_get);
    sqlite3_finalize(s->blob_put);
    sqlite3_finalize(s->newest_erasure);
    for (size_t i = 0; i < sizeof s->leader / sizeof *s->leader; i++)
        if (s->leader[i].role[0])
            rd__sq_leader_release(base, s->leader[i].role);
    sqlite3_close(s->db);
    rd_free(s);
}

/* The directory, created when missing (read-only: it must exist). */
static int ensure_dir(const char *dir, bool read_only, rd_err *err)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? RD_OK : rd_err_set(err, RD_EIO, "%s: not a directory", dir);
    if (read_only)
        return rd_err_set(err, RD_EIO, "%s: %s", dir, strerror(errno));
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return rd_err_set(err, RD_EINVAL, "%s: path too long", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return rd_err_set(err, RD_EIO, "%s: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return rd_err_set(err, RD_EIO, "%s: %s", dir, strerror(errno));
    return RD_OK;
}

static int configure(sq_store *s, const rd_store_opts *o, rd_err *err)
{
    sqlite3_busy_timeout(s->db, 5000);
    int version, rc = schema_version(s, &version, err);
    if (rc)
        return rc;
    s->schema = version;
    if (o->read_only)
        return version ? RD_OK : rd_err_set(err, RD_EINVAL, "%s: holds no riskd data", s->base.name);
    /* 16 KiB pages: a decision record is ~1 KB, so fewer pages (and WAL frames) per commit;
     * only a new database takes it (page_size must come before the first table) */
    if (version == 0 && (rc = exec(s, "PRAGMA page_size=16384", err)))
        return rc;
    if ((rc = exec(s, "PRAGMA journal_mode=WAL", err)) ||
        (rc = exec(s, o->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err)))
        return rc;
    if (version == 0 && (rc = exec(s, schema_1, err)))
        return rc;
    /* later schema versions migrate here, one transaction each */
    if (version < 2 && (rc = exec(s, schema_2, err)))
        return rc;
    if (version < 3 && (rc = exec(s, rd__sq_schema_3, err)))
        return rc;
    if (version < 4 && (rc = exec(s, schema_4, err)))
        return rc;
    if (version < 5 && (rc = exec(s, schema_5, err)))
        return rc;
    if (version < 6 && (rc = exec(s, schema_6, err)))
        return rc;
    if (version < 7 && (rc = exec(s, schema_7, err)))
        return rc;
    s->schema = RD_STORE_SCHEMA;
    return RD_OK;
}

static int sq_open(const char *dir, const rd_store_opts *o, rd_store **out, rd_err *err)
{
    int rc = ensure_dir(dir, o->read_only, err);
    if (rc)
        return rc;
    sq_store *s = rd_calloc(1, sizeof *s);
    if (!s)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    s->base.ops = &rd__sqlite_store;
    char path[1100];
    snprintf(path, sizeof path, "%s/riskd.db", dir);
    snprintf(s->base.name, sizeof s->base.name, "%s", path);
    if (o->read_only && access(path, F_OK) != 0) {
        rd_free(s);
        return rd_err_set(err, RD_EIO, "%s: %s (no decisions were logged here)", path, strerror(errno));
    }
    int flags = o->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        rc = rd__sq_fail(s, err, "open");
    if (!rc)
        rc = configure(s, o, err);
    if (!rc)
        rc = prepare(s, o->read_only, err);
    if (rc) {
        sq_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return RD_OK;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v, size_t len)
{
    return v ? sqlite3_bind_text(st, i, v, (int)len, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static bool has_uid(const rd_log_row *r)
{
    static const uint8_t none[RD_LOG_UID_BYTES];
    return memcmp(r->uid, none, sizeof none) != 0;
}

/* Under the write lock, so an erasure's tombstone is either seen here or its transaction comes
 * after this one (and its scan sees these rows). The row's node is in its record: SQLite keeps
 * no node column. */
static int sq_log_append(rd_store *base, const rd_log_row *rows, size_t n, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    int64_t newest = INT64_MIN;
    int rc = exec(s, "BEGIN IMMEDIATE", err);
    if (!rc)
        rc = rd__sq_newest_erasure(s, &newest, err);
    for (size_t i = 0; !rc && i < n; i++) {
        const rd_log_row *r = &rows[i];
        bool erased = false;
        if (r->ts_ms < newest && ((rc = rd__sq_erased(s, r, &erased, err)) || erased))
            continue;
        sqlite3_stmt *st = s->insert;
        sqlite3_bind_int64(st, 1, r->ts_ms);
        bind_text(st, 2, r->request_id, strlen(r->request_id));
        bind_text(st, 3, r->kind, strlen(r->kind));
        bind_text(st, 4, r->model_version, r->model_version ? strlen(r->model_version) : 0);
        bind_text(st, 5, r->record, r->record_len);
        if (has_uid(r))
            sqlite3_bind_blob(st, 6, r->uid, RD_LOG_UID_BYTES, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 6);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = rd__sq_fail(s, err, "logging a decision");
        sqlite3_reset(st);
    }
    if (!rc)
        return exec(s, "COMMIT", err);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int sq_log_scan(rd_store *base, const rd_log_filter *f, int (*fn)(void *, const rd_log_row *),
                       void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    /* only the conditions asked for, so SQLite picks the index that serves them */
    char sql[768];
    /* newest first walks the time index (ts_ms, rowid) backwards: no sort of the range */
    snprintf(sql, sizeof sql,
             "SELECT d.id, d.ts_ms, d.request_id, d.kind, d.model_version, d.record, %s FROM decisions d%s "
             "WHERE 1%s%s%s%s%s%s ORDER BY %s%s",
             f->outcome ? "o.label" : "NULL",
             f->outcome ? " LEFT JOIN outcomes o ON o.request_id = d.request_id AND o.outcome = ?6" : "",
             f->from_ms ? " AND d.ts_ms >= ?1" : "", f->to_ms ? " AND d.ts_ms < ?2" : "",
             f->model_version ? " AND d.model_version = ?3" : "",
             f->request_id ? " AND d.request_id = ?4" : "", f->kind ? " AND d.kind = ?5" : "",
             f->newest_first && f->before_id ? " AND (d.ts_ms, d.id) < (?7, ?8)" : "",
             f->newest_first ? "d.ts_ms DESC, d.id DESC" : "d.id", f->limit ? " LIMIT ?9" : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading the decision log");
    sqlite3_bind_int64(st, 1, f->from_ms);
    sqlite3_bind_int64(st, 2, f->to_ms);
    bind_text(st, 3, f->model_version, f->model_version ? strlen(f->model_version) : 0);
    bind_text(st, 4, f->request_id, f->request_id ? strlen(f->request_id) : 0);
    bind_text(st, 5, f->kind, f->kind ? strlen(f->kind) : 0);
    bind_text(st, 6, f->outcome, f->outcome ? strlen(f->outcome) : 0);
    sqlite3_bind_int64(st, 7, f->before_ms);
    sqlite3_bind_int64(st, 8, f->before_id);
    sqlite3_bind_int64(st, 9, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit);
    int rc = RD_OK, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_log_row r = {.id = sqlite3_column_int64(st, 0),
                        .ts_ms = sqlite3_column_int64(st, 1),
                        .request_id = (const char *)sqlite3_column_text(st, 2),
                        .kind = (const char *)sqlite3_column_text(st, 3),
                        .model_version = (const char *)sqlite3_column_text(st, 4),
                        .record = (const char *)sqlite3_column_text(st, 5),
                        .label = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6)};
        r.record_len = (size_t)sqlite3_column_bytes(st, 5);
        if (!r.request_id || !r.kind || !r.record)
            rc = rd_err_set(err, RD_EINVAL, "%s: decision %lld: a required column is null", s->base.name,
                            (long long)r.id);
        else
            rc = fn(ud, &r);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "reading the decision log");
    sqlite3_finalize(st);
    return rc;
}

static int sq_log_prune(rd_store *base, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    *deleted = 0;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM decisions WHERE ts_ms < ?", -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "pruning the decision log");
    sqlite3_bind_int64(st, 1, before_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "pruning the decision log");
    sqlite3_finalize(st);
    if (!rc)
        *deleted = (uint64_t)sqlite3_changes64(s->db);
    return rc;
}

static int sq_blob_put(rd_store *base, const char *hex, const void *data, size_t len, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->blob_put;
    sqlite3_bind_text(st, 1, hex, 64, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, data, len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "keeping a file");
    sqlite3_reset(st);
    return rc;
}

static bool sq_blob_has(rd_store *base, const char *hex)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->blob_has;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    bool has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return has;
}

static int sq_blob_get(rd_store *base, const char *hex, char **data, size_t *len, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->blob_get;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = RD_OK;
    if (step == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const void *p = sqlite3_column_blob(st, 0);
        if (!(*data = rd_malloc(n + 1))) {
            rc = rd_err_set(err, RD_ENOMEM, "out of memory");
        } else {
            if (n)
                memcpy(*data, p, n);
            (*data)[n] = '\0';
            *len = n;
        }
    } else if (step == SQLITE_DONE) {
        rc = rd_err_set(err, RD_ENOTFOUND, "%s: no kept file with sha256 %.16s...", s->base.name, hex);
    } else {
        rc = rd__sq_fail(s, err, "reading a kept file");
    }
    sqlite3_reset(st);
    return rc;
}

const rd_store_ops rd__sqlite_store = {
    .open = sq_open,
    .close = sq_close,
    .log_append = sq_log_append,
    .log_scan = sq_log_scan,
    .log_prune = sq_log_prune,
    .applicant_scan = rd__sq_applicant_scan,
    .applicant_erase = rd__sq_applicant_erase,
    .scrub = rd__sq_scrub,
    .erasure_mark = rd__sq_erasure_mark,
    .blob_put = sq_blob_put,
    .blob_has = sq_blob_has,
    .blob_get = sq_blob_get,
    .rollout_set_status = rd__sq_rollout_set_status,
    .rollout_get_status = rd__sq_rollout_get_status,
    .rollout_get = rd__sq_rollout_get,
    .rollout_put = rd__sq_rollout_put,
    .rollout_list = rd__sq_rollout_list,
    .transition_append = rd__sq_transition_append,
    .transition_list = rd__sq_transition_list,
    .outcomes_put = rd__sq_outcomes_put,
    .outcome_counts = rd__sq_outcome_counts,
    .outcome_scores = rd__sq_outcome_scores,
    .outcome_names = rd__sq_outcome_names,
    .begin = rd__sq_begin,
    .commit = rd__sq_commit,
    .rollback = rd__sq_rollback,
    .audit_insert = rd__sq_audit_insert,
    .audit_last = rd__sq_audit_last,
    .audit_count = rd__sq_audit_count,
    .audit_scan = rd__sq_audit_scan,
    .user_get = rd__sq_user_get,
    .user_put = rd__sq_user_put,
    .user_list = rd__sq_user_list,
    .token_get = rd__sq_token_get,
    .token_put = rd__sq_token_put,
    .token_mark_used = rd__sq_token_mark_used,
    .token_list = rd__sq_token_list,
    .change_get = rd__sq_change_get,
    .change_put = rd__sq_change_put,
    .change_list = rd__sq_change_list,
    .version_append = rd__sq_version_append,
    .version_list = rd__sq_version_list,
    .version_find = rd__sq_version_find,
    .setting_get = rd__sq_setting_get,
    .setting_put = rd__sq_setting_put,
    .outbox_append = rd__sq_outbox_append,
    .outbox_scan = rd__sq_outbox_scan,
    .outbox_last_id = rd__sq_outbox_last_id,
    .outbox_prune = rd__sq_outbox_prune,
    .sink_init = rd__sq_sink_init,
    .sink_get = rd__sq_sink_get,
    .sink_list = rd__sq_sink_list,
    .sink_move = rd__sq_sink_move,
    .failure_put = rd__sq_failure_put,
    .sink_failures = rd__sq_sink_failures,
    .sink_delete = rd__sq_sink_delete,
    .exposure_stage_put = rd__sq_exposure_stage_put,
    .exposure_stage_add = rd__sq_exposure_stage_add,
    .exposure_slice_grant = rd__sq_exposure_slice_grant,
    .exposure_slice_return = rd__sq_exposure_slice_return,
    .exposure_slice_report = rd__sq_exposure_slice_report,
    .exposure_slice_get = rd__sq_exposure_slice_get,
    .exposure_orphans = rd__sq_exposure_orphans,
    .exposure_list = rd__sq_exposure_list,
    .shared = false,
    .ping = rd__sq_ping,
    .notify = rd__sq_notify,
    .watch_open = NULL,
    .leader_try = rd__sq_leader_try,
    .leader_release = rd__sq_leader_release,
};
