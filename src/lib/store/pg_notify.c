/* The notification outbox on PostgreSQL (schema 6, pg.c), with the semantics of
 * sqlite_notify.c: notify_events (one row per event), notify_sinks (one cursor per sink),
 * notify_failures (the events a sink gave up on).
 *
 * Invariants:
 *   - ids come from an identity sequence (never handed out twice, not even after a prune) and
 *     the front appends inside a governance transaction only, which holds RD_PG_LOCK_GOV until
 *     it commits: one appender at a time on every node, so ids are drawn in commit order and a
 *     cursor never passes an id that a transaction still open could commit later;
 *   - the append is INSERT ... ON CONFLICT (uid) DO NOTHING: a spool drained twice, or an event
 *     raised again with its deterministic uid, stores one row, and the transaction goes on;
 *   - a cursor changes only through a compare-and-swap on its last_id (an UPDATE matching the
 *     last_id read, which under READ COMMITTED re-reads a row another node updated meanwhile
 *     and then matches nothing), so a stale leader's move fails instead of undoing a newer one;
 *   - lists read their rows whole before calling back (a deliverer may move a cursor from its
 *     callback), as pg_rollout.c does; a scan is bounded by its limit and the retention;
 *   - a read-only handle on a database before schema 6 (not migrated) reads no events, no sinks
 *     and no failures.
 * A lost connection is RD_ESTORE through rd__pg_exec, like every other statement. */
#include <stdio.h>
#include <string.h>

#include "pg_int.h"

/* Whether the tables are missing: a read-only handle on a schema older than 6. The connection
 * first (a handle opened lazily learns its schema at its first connect). */
static int before_6(pg_store *s, bool *old, rd_err *err)
{
    int rc = rd__pg_ready(s, err);
    *old = !rc && s->schema && s->schema < 6;
    return rc;
}

static void limit_param(pg_params *p, size_t limit)
{
    if (limit)
        rd__pg_int(p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    else
        rd__pg_null(p, RD_PG_INT8); /* LIMIT NULL: all */
}

/* ------------------------------------------------------------------ events */

int rd__pg_outbox_append(rd_store *base, const rd_notify_row *r, int64_t stored_ms, bool *added, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, r->uid);
    rd__pg_int(&p, r->ts_ms);
    rd__pg_text(&p, r->type);
    rd__pg_text(&p, r->node);
    rd__pg_text(&p, r->object);
    rd__pg_bin(&p, RD_PG_TEXT, r->body, r->body_len); /* its length, not a terminating NUL */
    rd__pg_int(&p, stored_ms);
    PGresult *res;
    int rc = rd__pg_exec(s,
                         "INSERT INTO notify_events(uid, ts_ms, type, node, object, body, stored_ms)"
                         " VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (uid) DO NOTHING",
                         &p, &res, "adding an event to the outbox", err);
    if (rc)
        return rc;
    *added = rd__pg_changes(res) == 1;
    PQclear(res);
    return RD_OK;
}

int rd__pg_outbox_scan(rd_store *base, int64_t after_id, size_t limit,
                       int (*fn)(void *, const rd_notify_row *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool old;
    int rc = before_6(s, &old, err);
    if (rc || old)
        return rc;
    pg_params p = {0};
    rd__pg_int(&p, after_id);
    limit_param(&p, limit);
    PGresult *r;
    if ((rc = rd__pg_exec(s,
                          "SELECT id, uid, ts_ms, stored_ms, type, node, object, body FROM notify_events"
                          " WHERE id > $1 ORDER BY id LIMIT $2",
                          &p, &r, "reading the outbox", err)))
        return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_notify_row row = {.id = rd__pg_i64(r, i, 0),
                             .ts_ms = rd__pg_i64(r, i, 2),
                             .stored_ms = rd__pg_i64(r, i, 3),
                             .type = PQgetvalue(r, i, 4),
                             .node = PQgetvalue(r, i, 5),
                             .object = PQgetvalue(r, i, 6),
                             .body = PQgetvalue(r, i, 7),
                             .body_len = (size_t)PQgetlength(r, i, 7)};
        rd__pg_copy(r, i, 1, row.uid, sizeof row.uid);
        rc = fn(ud, &row);
    }
    PQclear(r);
    return rc;
}

int rd__pg_outbox_last_id(rd_store *base, int64_t *id, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool old;
    *id = 0;
    int rc = before_6(s, &old, err);
    if (rc || old)
        return rc;
    PGresult *r;
    /* the primary key's last entry, not a sequence's value: a rolled-back append drew one too */
    if ((rc = rd__pg_exec(s, "SELECT coalesce(max(id), 0) FROM notify_events", NULL, &r, "reading the outbox",
                          err)))
        return rc;
    *id = rd__pg_i64(r, 0, 0);
    PQclear(r);
    return RD_OK;
}

int rd__pg_outbox_prune(rd_store *base, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_int(&p, before_ms);
    PGresult *r;
    int rc =
        rd__pg_exec(s, "DELETE FROM notify_events WHERE stored_ms < $1", &p, &r, "pruning the outbox", err);
    if (rc)
        return rc;
    *deleted = rd__pg_changes(r);
    PQclear(r);
    return rd__pg_exec(s, "DELETE FROM notify_failures WHERE failed_ms < $1", &p, NULL,
                       "pruning the outbox's failures", err);
}

/* ------------------------------------------------------------------ sinks */

#define SINK_COLS "name, kind, last_id, attempts, next_ms, last_ok_ms, updated_ms, last_error"

static void read_sink(const PGresult *r, int i, rd_sink_row *row)
{
    memset(row, 0, sizeof *row);
    rd__pg_copy(r, i, 0, row->name, sizeof row->name);
    rd__pg_copy(r, i, 1, row->kind, sizeof row->kind);
    row->last_id = rd__pg_i64(r, i, 2);
    row->attempts = (int)rd__pg_i64(r, i, 3);
    row->next_ms = rd__pg_i64(r, i, 4);
    row->last_ok_ms = rd__pg_i64(r, i, 5);
    row->updated_ms = rd__pg_i64(r, i, 6);
    rd__pg_copy(r, i, 7, row->last_error, sizeof row->last_error);
}

int rd__pg_sink_init(rd_store *base, const char *name, const char *kind, int64_t start_id, int64_t now_ms,
                     bool *created, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, name);
    rd__pg_text(&p, kind);
    rd__pg_int(&p, start_id);
    rd__pg_int(&p, now_ms);
    PGresult *r;
    int rc = rd__pg_exec(s,
                         "INSERT INTO notify_sinks(name, kind, last_id, updated_ms) VALUES($1, $2, $3, $4)"
                         " ON CONFLICT (name) DO NOTHING",
                         &p, &r, "making a sink's cursor", err);
    if (rc)
        return rc;
    *created = rd__pg_changes(r) == 1;
    PQclear(r);
    return RD_OK;
}

int rd__pg_sink_get(rd_store *base, const char *name, rd_sink_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool old;
    int rc = before_6(s, &old, err);
    if (rc || old)
        return rc ? rc : RD_ENOTFOUND;
    pg_params p = {0};
    rd__pg_text(&p, name);
    PGresult *r;
    if ((rc = rd__pg_exec(s, "SELECT " SINK_COLS " FROM notify_sinks WHERE name = $1", &p, &r,
                          "reading a sink", err)))
        return rc;
    bool found = PQntuples(r) == 1;
    if (found)
        read_sink(r, 0, out);
    PQclear(r);
    return found ? RD_OK : RD_ENOTFOUND;
}

int rd__pg_sink_list(rd_store *base, int (*fn)(void *, const rd_sink_row *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool old;
    int rc = before_6(s, &old, err);
    if (rc || old)
        return rc;
    PGresult *r;
    if ((rc = rd__pg_exec(s, "SELECT " SINK_COLS " FROM notify_sinks ORDER BY name", NULL, &r,
                          "listing the sinks", err)))
        return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_sink_row row;
        read_sink(r, i, &row);
        rc = fn(ud, &row);
    }
    PQclear(r);
    return rc;
}

int rd__pg_sink_move(rd_store *base, const char *name, int64_t from, const rd__sink_move *m, bool *moved,
                     rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, name);
    rd__pg_int(&p, from);
    rd__pg_int(&p, m->to);
    rd__pg_int(&p, m->attempts);
    rd__pg_int(&p, m->next_ms);
    rd__pg_text(&p, m->error ? m->error : "");
    rd__pg_int(&p, m->ok_ms);
    rd__pg_int(&p, m->now_ms);
    PGresult *r;
    int rc = rd__pg_exec(s,
                         "UPDATE notify_sinks SET last_id = $3, attempts = $4, next_ms = $5, last_error = $6,"
                         " last_ok_ms = CASE WHEN $7 > 0 THEN $7 ELSE last_ok_ms END, updated_ms = $8"
                         " WHERE name = $1 AND last_id = $2",
                         &p, &r, "moving a sink's cursor", err);
    if (rc)
        return rc;
    *moved = rd__pg_changes(r) == 1;
    PQclear(r);
    return RD_OK;
}

int rd__pg_failure_put(rd_store *base, const rd_sink_failure *f, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, f->sink);
    rd__pg_int(&p, f->event_id);
    rd__pg_int(&p, f->failed_ms);
    rd__pg_int(&p, f->attempts);
    rd__pg_int(&p, f->status);
    rd__pg_text(&p, f->error);
    return rd__pg_exec(s,
                       "INSERT INTO notify_failures(sink, event_id, failed_ms, attempts, status, error)"
                       " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (sink, event_id) DO UPDATE SET"
                       " failed_ms = EXCLUDED.failed_ms, attempts = EXCLUDED.attempts,"
                       " status = EXCLUDED.status, error = EXCLUDED.error",
                       &p, NULL, "recording a failed delivery", err);
}

int rd__pg_sink_failures(rd_store *base, const char *sink, size_t limit,
                         int (*fn)(void *, const rd_sink_failure *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool old;
    int rc = before_6(s, &old, err);
    if (rc || old)
        return rc;
    pg_params p = {0};
    rd__pg_text(&p, sink);
    limit_param(&p, limit);
    PGresult *r;
    if ((rc = rd__pg_exec(s,
                          "SELECT sink, event_id, failed_ms, attempts, status, error FROM notify_failures"
                          " WHERE $1::text IS NULL OR sink = $1 ORDER BY failed_ms DESC, event_id DESC, sink"
                          " LIMIT $2",
                          &p, &r, "reading the failed deliveries", err)))
        return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_sink_failure f;
        memset(&f, 0, sizeof f);
        rd__pg_copy(r, i, 0, f.sink, sizeof f.sink);
        f.event_id = rd__pg_i64(r, i, 1);
        f.failed_ms = rd__pg_i64(r, i, 2);
        f.attempts = (int)rd__pg_i64(r, i, 3);
        f.status = (int)rd__pg_i64(r, i, 4);
        rd__pg_copy(r, i, 5, f.error, sizeof f.error);
        rc = fn(ud, &f);
    }
    PQclear(r);
    return rc;
}

int rd__pg_sink_delete(rd_store *base, const char *name, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, name);
    int rc = rd__pg_exec(s, "DELETE FROM notify_failures WHERE sink = $1", &p, NULL, "deleting a sink", err);
    return rc ? rc
              : rd__pg_exec(s, "DELETE FROM notify_sinks WHERE name = $1", &p, NULL, "deleting a sink", err);
}
