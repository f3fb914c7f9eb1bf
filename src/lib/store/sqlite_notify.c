/* The notification outbox of the SQLite store (schema 6, sqlite.c): notify_events, one row per
 * event whatever the sinks; notify_sinks, one cursor per sink; notify_failures, the events a
 * sink gave up on.
 *
 * Invariants:
 *   - ids never go back: notify_events.id is AUTOINCREMENT, so a prune that empties the table
 *     does not hand out again ids that a cursor has passed (a plain INTEGER PRIMARY KEY would
 *     restart at max(id) + 1);
 *   - the front appends inside a transaction only (BEGIN IMMEDIATE: one writer at a time), so
 *     ids are drawn in commit order;
 *   - a cursor changes only through a compare-and-swap on its last_id (sink_move);
 *   - a read-only handle on a database before schema 6 (not migrated) reads no events, no sinks
 *     and no failures.
 * Statements are prepared per call: events are a few an hour, not one per decision. */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

/* A read-only handle on a schema older than 6: the tables are not there. */
static bool before_6(const sq_store *s) { return s->schema && s->schema < 6; }

static int prep(sq_store *s, const char *sql, sqlite3_stmt **st, const char *what, rd_err *err)
{
    return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? RD_OK : rd__sq_fail(s, err, what);
}

static void col(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", v ? v : "");
}

static const char *text(sqlite3_stmt *st, int i)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    return v ? v : "";
}

/* Step a write to its end and finalize it. */
static int step_done(sq_store *s, sqlite3_stmt *st, const char *what, rd_err *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, what);
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ events */

int rd__sq_outbox_append(rd_store *base, const rd_notify_row *r, int64_t stored_ms, bool *added, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "INSERT INTO notify_events(uid, ts_ms, type, node, object, body, stored_ms)"
                  " VALUES(?,?,?,?,?,?,?) ON CONFLICT(uid) DO NOTHING",
                  &st, "adding an event to the outbox", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->uid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->ts_ms);
    sqlite3_bind_text(st, 3, r->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->object, -1, SQLITE_STATIC);
    sqlite3_bind_text64(st, 6, r->body, r->body_len, SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int64(st, 7, stored_ms);
    if ((rc = step_done(s, st, "adding an event to the outbox", err)) == RD_OK)
        *added = sqlite3_changes(s->db) == 1;
    return rc;
}

int rd__sq_outbox_scan(rd_store *base, int64_t after_id, size_t limit,
                       int (*fn)(void *, const rd_notify_row *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    if (before_6(s))
        return RD_OK;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "SELECT id, uid, ts_ms, stored_ms, type, node, object, body FROM notify_events"
                  " WHERE id > ? ORDER BY id LIMIT ?",
                  &st, "reading the outbox", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_notify_row r = {.id = sqlite3_column_int64(st, 0),
                           .ts_ms = sqlite3_column_int64(st, 2),
                           .stored_ms = sqlite3_column_int64(st, 3),
                           .type = text(st, 4),
                           .node = text(st, 5),
                           .object = text(st, 6),
                           .body = text(st, 7)};
        r.body_len = (size_t)sqlite3_column_bytes(st, 7);
        col(st, 1, r.uid, sizeof r.uid);
        rc = fn(ud, &r);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "reading the outbox");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_outbox_last_id(rd_store *base, int64_t *id, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    *id = 0;
    if (before_6(s))
        return RD_OK;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT coalesce(max(id), 0) FROM notify_events", &st, "reading the outbox", err);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else
        rc = rd__sq_fail(s, err, "reading the outbox");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_outbox_prune(rd_store *base, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s, "DELETE FROM notify_events WHERE stored_ms < ?", &st, "pruning the outbox", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, before_ms);
    if ((rc = step_done(s, st, "pruning the outbox", err)))
        return rc;
    *deleted = (uint64_t)sqlite3_changes64(s->db);
    if ((rc = prep(s, "DELETE FROM notify_failures WHERE failed_ms < ?", &st, "pruning the outbox", err)))
        return rc;
    sqlite3_bind_int64(st, 1, before_ms);
    return step_done(s, st, "pruning the outbox's failures", err);
}

/* ------------------------------------------------------------------ sinks */

#define SINK_COLS "name, kind, last_id, attempts, next_ms, last_ok_ms, updated_ms, last_error"

static void read_sink(sqlite3_stmt *st, rd_sink_row *r)
{
    memset(r, 0, sizeof *r);
    col(st, 0, r->name, sizeof r->name);
    col(st, 1, r->kind, sizeof r->kind);
    r->last_id = sqlite3_column_int64(st, 2);
    r->attempts = sqlite3_column_int(st, 3);
    r->next_ms = sqlite3_column_int64(st, 4);
    r->last_ok_ms = sqlite3_column_int64(st, 5);
    r->updated_ms = sqlite3_column_int64(st, 6);
    col(st, 7, r->last_error, sizeof r->last_error);
}

int rd__sq_sink_init(rd_store *base, const char *name, const char *kind, int64_t start_id, int64_t now_ms,
                     bool *created, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "INSERT INTO notify_sinks(name, kind, last_id, updated_ms) VALUES(?,?,?,?)"
                  " ON CONFLICT(name) DO NOTHING",
                  &st, "making a sink's cursor", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, start_id);
    sqlite3_bind_int64(st, 4, now_ms);
    if ((rc = step_done(s, st, "making a sink's cursor", err)) == RD_OK)
        *created = sqlite3_changes(s->db) == 1;
    return rc;
}

int rd__sq_sink_get(rd_store *base, const char *name, rd_sink_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    if (before_6(s))
        return RD_ENOTFOUND;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT " SINK_COLS " FROM notify_sinks WHERE name = ?", &st, "reading a sink", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        read_sink(st, out);
    else
        rc = step == SQLITE_DONE ? RD_ENOTFOUND : rd__sq_fail(s, err, "reading a sink");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_sink_list(rd_store *base, int (*fn)(void *, const rd_sink_row *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    if (before_6(s))
        return RD_OK;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT " SINK_COLS " FROM notify_sinks ORDER BY name", &st, "listing the sinks", err);
    if (rc)
        return rc;
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_sink_row r;
        read_sink(st, &r);
        rc = fn(ud, &r);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "listing the sinks");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_sink_move(rd_store *base, const char *name, int64_t from, const rd__sink_move *m, bool *moved,
                     rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "UPDATE notify_sinks SET last_id = ?3, attempts = ?4, next_ms = ?5, last_error = ?6,"
                  " last_ok_ms = CASE WHEN ?7 > 0 THEN ?7 ELSE last_ok_ms END, updated_ms = ?8"
                  " WHERE name = ?1 AND last_id = ?2",
                  &st, "moving a sink's cursor", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, m->to);
    sqlite3_bind_int(st, 4, m->attempts);
    sqlite3_bind_int64(st, 5, m->next_ms);
    sqlite3_bind_text(st, 6, m->error ? m->error : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, m->ok_ms);
    sqlite3_bind_int64(st, 8, m->now_ms);
    if ((rc = step_done(s, st, "moving a sink's cursor", err)) == RD_OK)
        *moved = sqlite3_changes(s->db) == 1;
    return rc;
}

int rd__sq_failure_put(rd_store *base, const rd_sink_failure *f, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "INSERT OR REPLACE INTO notify_failures(sink, event_id, failed_ms, attempts, status, error)"
                  " VALUES(?,?,?,?,?,?)",
                  &st, "recording a failed delivery", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, f->sink, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->event_id);
    sqlite3_bind_int64(st, 3, f->failed_ms);
    sqlite3_bind_int(st, 4, f->attempts);
    sqlite3_bind_int(st, 5, f->status);
    sqlite3_bind_text(st, 6, f->error, -1, SQLITE_STATIC);
    return step_done(s, st, "recording a failed delivery", err);
}

int rd__sq_sink_failures(rd_store *base, const char *sink, size_t limit,
                         int (*fn)(void *, const rd_sink_failure *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    if (before_6(s))
        return RD_OK;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "SELECT sink, event_id, failed_ms, attempts, status, error FROM notify_failures"
                  " WHERE ?1 IS NULL OR sink = ?1 ORDER BY failed_ms DESC, event_id DESC, sink LIMIT ?2",
                  &st, "reading the failed deliveries", err);
    if (rc)
        return rc;
    if (sink)
        sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_sink_failure f;
        memset(&f, 0, sizeof f);
        col(st, 0, f.sink, sizeof f.sink);
        f.event_id = sqlite3_column_int64(st, 1);
        f.failed_ms = sqlite3_column_int64(st, 2);
        f.attempts = sqlite3_column_int(st, 3);
        f.status = sqlite3_column_int(st, 4);
        col(st, 5, f.error, sizeof f.error);
        rc = fn(ud, &f);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "reading the failed deliveries");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_sink_delete(rd_store *base, const char *name, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    static const char *const sql[] = {"DELETE FROM notify_failures WHERE sink = ?",
                                      "DELETE FROM notify_sinks WHERE name = ?"};
    int rc = RD_OK;
    for (size_t i = 0; !rc && i < sizeof sql / sizeof *sql; i++) {
        sqlite3_stmt *st;
        if ((rc = prep(s, sql[i], &st, "deleting a sink", err)))
            break;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = step_done(s, st, "deleting a sink", err);
    }
    return rc;
}
