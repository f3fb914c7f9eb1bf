/* The decision log and the blobs on PostgreSQL.
 *
 * Invariants:
 *   - decisions is partitioned by UTC day of ts_ms: decisions_YYYYMMDD holds
 *     [day * 86400000, (day + 1) * 86400000). log_append makes the partitions its rows need
 *     before inserting (and tomorrow's, when a row is of today, so that midnight does not wait
 *     for the lock a new partition takes on the parent); the days known to exist are cached
 *     in the handle, and a row whose partition another node dropped (23514) empties the cache
 *     and the batch is tried once more;
 *   - a batch is all or none: one INSERT of up to CHUNK rows (the columns as binary arrays,
 *     unnest()ed), several in one transaction; ON CONFLICT DO NOTHING on the unique key
 *     (ts_ms, uid), the identity each record got when it was submitted, makes a batch re-sent
 *     after a lost acknowledgement, or drained from a spool, store each row once (a row without
 *     one has a NULL uid: stored each time); the node stored is the row's (the one that
 *     submitted it, which a spool keeps), else the handle's;
 *   - a primary decision of an applicant erased after it was made (a tombstone in erasures) is
 *     not inserted: the records in flight when the erasure ran (queued, spooled on any node)
 *     do not bring the erased data back. The JSON is read only for rows older than the newest
 *     tombstone (one lookup per statement), so live traffic pays nothing;
 *   - ids come from the parent's identity sequence, in each batch's row order;
 *   - partitions are made (CREATE TABLE, then ATTACH) and pruned (DETACH CONCURRENTLY, then
 *     DROP) with locks that let the inserts of every node and a long scan go on;
 *   - log_prune removes the partitions wholly before the cutoff and deletes the rest of the
 *     boundary day, counting rows either way (not one transaction: a failure half-way leaves
 *     the rest for the next prune);
 *   - blobs are content-addressed: storing the same bytes again is a no-op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "riskd/arena.h"
#include "riskd/clock.h"

#define DAY_MS INT64_C(86400000)
#define CHUNK  1000 /* rows per INSERT (~1 MB of records) */

/* ------------------------------------------------------------------ days and partitions */

static int64_t day_of(int64_t ms) { return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS); }

/* The civil date of a day number (days since 1970-01-01; H. Hinnant's civil_from_days). */
static void civil(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* "decisions_YYYYMMDD" for a day of the years 0..9999; false outside them. */
static bool partition_name(int64_t day, char name[32])
{
    int64_t y;
    int m, d;
    civil(day, &y, &m, &d);
    if (y < 0 || y > 9999)
        return false;
    snprintf(name, 32, "decisions_%04d%02d%02d", (int)y, m, d);
    return true;
}

/* The day a partition's name gives, checked (a table someone else attached does not count). */
static bool partition_day(const char *name, int64_t *day)
{
    if (strncmp(name, "decisions_", 10) != 0 || strlen(name) != 18 || strspn(name + 10, "0123456789") != 8)
        return false;
    int v = atoi(name + 10), y = v / 10000, m = v / 100 % 100, d = v % 100;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    *day = days_from_civil(y, m, d);
    char again[32];
    return partition_name(*day, again) && !strcmp(again, name); /* 20260231 is no day */
}

static bool day_known(const pg_store *s, int64_t day)
{
    for (size_t i = 0; i < s->ndays; i++)
        if (s->days[i] == day)
            return true;
    return false;
}

static void day_remember(pg_store *s, int64_t day)
{
    if (s->ndays < RD_PG_DAY_CACHE) {
        s->days[s->ndays++] = day;
        return;
    }
    s->days[s->day_next] = day; /* the oldest entry goes */
    s->day_next = (s->day_next + 1) % RD_PG_DAY_CACHE;
}

static void day_forget(pg_store *s, int64_t day)
{
    for (size_t i = 0; i < s->ndays; i++)
        if (s->days[i] == day)
            s->days[i] = INT64_MIN; /* no row has that day */
}

/* A failure on a side connection: RD_ESTORE when the server is unreachable, else RD_EIO with
 * the SQL state (the handle's own connection is not marked lost: it may be fine). */
static int side_fail(pg_store *s, PGconn *c, PGresult *r, const char *what, rd_err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char line[256];
    rd__pg_message(c, r, line, sizeof line);
    int rc = rd__pg_lost(c, r)
                 ? rd_err_set(err, RD_ESTORE, "%s: the database is unreachable: %s", s->base.name, line)
                 : rd_err_set(err, RD_EIO, "%s: %s: %s: %s", s->base.name, what, state, line);
    PQclear(r);
    return rc;
}

/* Run sql (text p1: $1) on the side connection: RD_OK, or the failure with *state its SQLSTATE. */
static int side_exec(pg_store *s, PGconn *c, const char *sql, const char *p1, bool *found, char state[6],
                     rd_err *err)
{
    bool late;
    PGresult *r = rd__pg_answer(
        c,
        rd__pg_nonblocking(c) && PQsendQueryParams(c, sql, p1 ? 1 : 0, NULL, p1 ? &p1 : NULL, NULL, NULL, 0),
        s->timeout_ms, &late);
    if (late) {
        rd__pg_cancel(c);
        snprintf(state, 6, "%s", "");
        return rd_err_set(err, RD_ESTORE,
                          "%s: the database is unreachable: no answer from the database within %d s",
                          s->base.name, (s->timeout_ms + 999) / 1000);
    }
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (found)
            *found = PQntuples(r) > 0;
        PQclear(r);
        return RD_OK;
    }
    const char *e = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, 6, "%s", e ? e : "");
    return side_fail(s, c, r, "making a partition of the decision log", err);
}

/* Make a day's partition when missing: CREATE TABLE IF NOT EXISTS ... (LIKE decisions), then
 * ATTACH PARTITION unless attached. Attaching takes a SHARE UPDATE EXCLUSIVE lock on the parent,
 * which neither the inserts of every node nor a long scan (an export) conflict with, where
 * CREATE TABLE ... PARTITION OF would wait for the scan to end with every insert queued behind
 * it. Run on a connection of its own: DDL in the writer's session slows every later insert of
 * that session (measured: up to half the rows per second), and a failure here must not touch
 * the handle's session. Two nodes at once: the loser's CREATE fails (42P07 or 23505) or its
 * ATTACH finds the table attached; tried again, it finds the winner's work done. */
static int make_partition(pg_store *s, int64_t day, rd_err *err)
{
    char name[32], create[96], attach[160], state[6] = "";
    if (!partition_name(day, name))
        return rd_err_set(err, RD_EINVAL, "%s: a decision time of day %lld is outside the years 0..9999",
                          s->base.name, (long long)day);
    snprintf(create, sizeof create, "CREATE TABLE IF NOT EXISTS %s (LIKE decisions)", name);
    snprintf(attach, sizeof attach,
             "ALTER TABLE decisions ATTACH PARTITION %s FOR VALUES FROM (%lld) TO (%lld)", name,
             (long long)day * DAY_MS, ((long long)day + 1) * DAY_MS);
    PGconn *c = rd__pg_connect(s->uri, s->timeout_ms, NULL, 0);
    if (!c)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = PQstatus(c) == CONNECTION_OK ? RD_EIO : side_fail(s, c, NULL, "connecting", err);
    for (int attempt = 0; rc == RD_EIO && attempt < 3; attempt++) {
        bool attached = false;
        rc = side_exec(s, c, create, NULL, NULL, state, err);
        if (!rc)
            rc = side_exec(s, c, "SELECT 1 FROM pg_catalog.pg_inherits WHERE inhrelid = to_regclass($1)",
                           name, &attached, state, err);
        if (!rc && !attached)
            rc = side_exec(s, c, attach, NULL, NULL, state, err);
    }
    PQfinish(c);
    if (!rc)
        day_remember(s, day);
    return rc;
}

/* The partitions the rows need, made when not known. */
static int ensure_days(pg_store *s, const rd_log_row *rows, size_t n, rd_err *err)
{
    int64_t now = day_of(rd_clock_unix_ms());
    for (size_t i = 0; i < n; i++) {
        int64_t day = day_of(rows[i].ts_ms);
        if (day_known(s, day))
            continue;
        int rc = make_partition(s, day, err);
        if (rc)
            return rc;
        rd_err ignored; /* tomorrow's is a courtesy: today's rows do not need it */
        if (day == now && !day_known(s, day + 1))
            make_partition(s, day + 1, &ignored);
    }
    return RD_OK;
}

/* ------------------------------------------------------------------ append */

/* A one-dimensional binary array (array_recv's format) being built. */
static void put32(rd_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    rd_buf_append(b, x, 4);
}

static void array_start(rd_buf *b, uint32_t elem, size_t n)
{
    put32(b, 1);           /* dimensions */
    put32(b, 0);           /* flags (nulls are told by a length of -1 anyway) */
    put32(b, elem);        /* element type */
    put32(b, (uint32_t)n); /* length */
    put32(b, 1);           /* lower bound */
}

static void array_text(rd_buf *b, const char *v, size_t len)
{
    if (!v) {
        put32(b, UINT32_MAX); /* -1: NULL */
        return;
    }
    put32(b, (uint32_t)len);
    rd_buf_append(b, v, len);
}

static void array_i64(rd_buf *b, int64_t v)
{
    put32(b, 8);
    put32(b, (uint32_t)((uint64_t)v >> 32));
    put32(b, (uint32_t)v);
}

/* A uid, or NULL when it is all zero (none). */
static void array_uid(rd_buf *b, const uint8_t uid[RD_LOG_UID_BYTES])
{
    static const uint8_t none[RD_LOG_UID_BYTES];
    if (!memcmp(uid, none, sizeof none)) {
        put32(b, UINT32_MAX);
        return;
    }
    put32(b, RD_LOG_UID_BYTES);
    rd_buf_append(b, uid, RD_LOG_UID_BYTES);
}

/* The tombstone test last: OR stops at the first true, and the newest erasure's time is an
 * InitPlan read once per statement, so a row made after every erasure (all live traffic) never
 * reaches riskd_erased, which parses the record. */
static const char insert_sql[] =
    "INSERT INTO decisions(ts_ms, request_id, kind, model_version, record, node, uid)"
    " SELECT t, r, k, m, c, coalesce(n, $8), i FROM unnest($1::bigint[], $2::text[], $3::text[],"
    " $4::text[], $5::text[], $6::text[], $7::uuid[]) AS u(t, r, k, m, c, n, i)"
    " WHERE k <> 'primary' OR t >= (SELECT coalesce(max(erased_ms), -9223372036854775807) FROM erasures)"
    " OR NOT riskd_erased(c, t) ON CONFLICT DO NOTHING";

enum { NCOL = 7 }; /* the array parameters; the handle's node is the last */

/* The insert statement, prepared once per connection. */
static int prepare_insert(pg_store *s, rd_err *err)
{
    if (s->prepared_gen == s->gen)
        return RD_OK;
    static const Oid types[] = {RD_PG_INT8_ARRAY, RD_PG_TEXT_ARRAY, RD_PG_TEXT_ARRAY, RD_PG_TEXT_ARRAY,
                                RD_PG_TEXT_ARRAY, RD_PG_TEXT_ARRAY, RD_PG_UUID_ARRAY, RD_PG_TEXT};
    PGresult *r = rd__pg_run(s, rd__pg_nonblocking(s->conn) &&
                                    PQsendPrepare(s->conn, "rd_log_insert", insert_sql, NCOL + 1, types));
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return rd__pg_fail(s, r, "preparing the decision log's insert", err);
    PQclear(r);
    s->prepared_gen = s->gen;
    return RD_OK;
}

/* INSERT rows[0..n) in one statement. */
static int insert_chunk(pg_store *s, const rd_log_row *rows, size_t n, rd_buf col[NCOL], rd_err *err)
{
    for (int c = 0; c < NCOL; c++) {
        rd_buf_reset(&col[c]);
        array_start(&col[c], c == 0 ? RD_PG_INT8 : c == NCOL - 1 ? RD_PG_UUID : RD_PG_TEXT, n);
    }
    for (size_t i = 0; i < n; i++) {
        const rd_log_row *r = &rows[i];
        array_i64(&col[0], r->ts_ms);
        array_text(&col[1], r->request_id, strlen(r->request_id));
        array_text(&col[2], r->kind, strlen(r->kind));
        array_text(&col[3], r->model_version, r->model_version ? strlen(r->model_version) : 0);
        array_text(&col[4], r->record, r->record_len);
        array_text(&col[5], r->node, r->node ? strlen(r->node) : 0);
        array_uid(&col[6], r->uid);
    }
    for (int c = 0; c < NCOL; c++)
        if (col[c].oom)
            return rd_err_set(err, RD_ENOMEM, "out of memory");
    int rc = rd__pg_ready(s, err);
    if (!rc)
        rc = prepare_insert(s, err);
    if (rc)
        return rc;
    const char *val[NCOL + 1];
    int len[NCOL + 1], fmt[NCOL + 1];
    for (int c = 0; c < NCOL; c++) {
        val[c] = col[c].data;
        len[c] = (int)col[c].len;
        fmt[c] = 1;
    }
    val[NCOL] = s->base.node;
    len[NCOL] = 0;
    fmt[NCOL] = 0;
    PGresult *r =
        rd__pg_run(s, rd__pg_nonblocking(s->conn) &&
                          PQsendQueryPrepared(s->conn, "rd_log_insert", NCOL + 1, val, len, fmt, 0));
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return rd__pg_fail(s, r, "logging decisions", err);
    PQclear(r);
    return RD_OK;
}

static int append_once(pg_store *s, const rd_log_row *rows, size_t n, rd_buf col[NCOL], rd_err *err)
{
    int rc = ensure_days(s, rows, n, err);
    if (rc)
        return rc;
    /* one statement is atomic by itself; several share a transaction (all or none) */
    bool nested = false, tx = n > CHUNK;
    if (tx && (rc = rd__pg_tx_begin(s, 0, &nested, err)))
        return rc;
    for (size_t at = 0; !rc && at < n; at += CHUNK)
        rc = insert_chunk(s, rows + at, n - at < CHUNK ? n - at : CHUNK, col, err);
    return tx ? rd__pg_tx_end(s, nested, rc, err) : rc;
}

int rd__pg_log_append(rd_store *base, const rd_log_row *rows, size_t n, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    if (s->base.tx_depth > 0) /* as on SQLite: the log commits on its own, never in a caller's transaction */
        return rd_err_set(err, RD_EIO,
                          "%s: logging decisions: cannot start a transaction within a transaction",
                          s->base.name);
    rd_buf col[NCOL];
    for (int c = 0; c < NCOL; c++)
        rd_buf_init(&col[c]);
    int rc = rd__pg_ready(s, err);
    if (!rc)
        rc = append_once(s, rows, n, col, err);
    if (rc == RD_EIO && !strcmp(s->state, "23514")) { /* no partition: another node pruned a day */
        s->ndays = 0;
        s->day_next = 0;
        rc = append_once(s, rows, n, col, err);
    }
    for (int c = 0; c < NCOL; c++)
        rd_buf_deinit(&col[c]);
    return rc;
}

/* ------------------------------------------------------------------ scan */

typedef struct scan_ctx {
    pg_store *s;
    int (*fn)(void *, const rd_log_row *);
    void *ud;
    rd_err *err;
} scan_ctx;

static int scan_row(void *ud, const PGresult *r)
{
    scan_ctx *c = ud;
    rd_log_row row = {.id = rd__pg_i64(r, 0, 0),
                      .ts_ms = rd__pg_i64(r, 0, 1),
                      .request_id = rd__pg_str(r, 0, 2),
                      .kind = rd__pg_str(r, 0, 3),
                      .model_version = rd__pg_str(r, 0, 4),
                      .record = rd__pg_str(r, 0, 5),
                      .record_len = (size_t)PQgetlength(r, 0, 5),
                      .label = PQgetisnull(r, 0, 6) ? -1 : atoi(PQgetvalue(r, 0, 6)),
                      .node = rd__pg_str(r, 0, 7)};
    return c->fn(c->ud, &row);
}

int rd__pg_log_scan(rd_store *base, const rd_log_filter *f, int (*fn)(void *, const rd_log_row *), void *ud,
                    rd_err *err)
{
    pg_store *s = (pg_store *)base;
    /* only the conditions asked for: the time range prunes partitions */
    char sql[768];
    /* newest first: the time key's leading ts_ms, backwards, across the partitions (a merge
       append), then id among equal times */
    snprintf(sql, sizeof sql,
             "SELECT d.id, d.ts_ms, d.request_id, d.kind, d.model_version, d.record, %s, d.node FROM "
             "decisions d%s "
             "WHERE true%s%s%s%s%s%s ORDER BY %s%s",
             f->outcome ? "o.label" : "NULL::integer",
             f->outcome ? " LEFT JOIN outcomes o ON o.request_id = d.request_id AND o.outcome = $6" : "",
             f->from_ms ? " AND d.ts_ms >= $1" : "", f->to_ms ? " AND d.ts_ms < $2" : "",
             f->model_version ? " AND d.model_version = $3" : "",
             f->request_id ? " AND d.request_id = $4" : "", f->kind ? " AND d.kind = $5" : "",
             f->newest_first && f->before_id ? " AND d.ts_ms <= $7 AND (d.ts_ms, d.id) < ($7, $8)" : "",
             f->newest_first ? "d.ts_ms DESC, d.id DESC" : "d.id", f->limit ? " LIMIT $9" : "");
    pg_params p = {0};
    rd__pg_int(&p, f->from_ms);
    rd__pg_int(&p, f->to_ms);
    rd__pg_text(&p, f->model_version);
    rd__pg_text(&p, f->request_id);
    rd__pg_text(&p, f->kind);
    rd__pg_text(&p, f->outcome);
    rd__pg_int(&p, f->before_ms);
    rd__pg_int(&p, f->before_id);
    rd__pg_int(&p, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit);
    scan_ctx c = {s, fn, ud, err};
    return rd__pg_stream(s, sql, &p, scan_row, &c, "reading the decision log", err);
}

/* ------------------------------------------------------------------ prune */

/* The partitions (name, and whether a detach of it was interrupted). */
static int partitions(pg_store *s, PGresult **parts, rd_err *err)
{
    return rd__pg_exec(
        s,
        "SELECT c.relname, i.inhdetachpending FROM pg_catalog.pg_inherits i"
        " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'decisions'::regclass"
        " ORDER BY 1",
        NULL, parts, "listing the decision log's partitions", err);
}

/* Count a whole partition's rows and remove it. Outside a transaction it is detached
 * CONCURRENTLY first (a SHARE UPDATE EXCLUSIVE lock: the writers of every node go on; it waits
 * for the scans that use it), then dropped alone; inside the caller's transaction (where
 * CONCURRENTLY cannot run) it is dropped there, which locks the parent until the commit. */
static int drop_partition(pg_store *s, const char *name, bool pending, bool in_tx, uint64_t *deleted,
                          rd_err *err)
{
    char sql[128];
    PGresult *r;
    const char *what = "pruning the decision log";
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", name);
    int rc = rd__pg_exec(s, sql, NULL, &r, what, err);
    if (rc)
        return rc;
    uint64_t n = (uint64_t)rd__pg_i64(r, 0, 0);
    PQclear(r);
    if (!in_tx) {
        snprintf(sql, sizeof sql, "ALTER TABLE decisions DETACH PARTITION %s %s", name,
                 pending ? "FINALIZE" : "CONCURRENTLY");
        if ((rc = rd__pg_exec(s, sql, NULL, NULL, what, err)))
            return rc;
    }
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", name);
    if ((rc = rd__pg_exec(s, sql, NULL, NULL, what, err)) == RD_OK)
        *deleted += n;
    return rc;
}

static int delete_before(pg_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    pg_params p = {0};
    PGresult *r;
    rd__pg_int(&p, before_ms);
    int rc =
        rd__pg_exec(s, "DELETE FROM decisions WHERE ts_ms < $1", &p, &r, "pruning the decision log", err);
    if (!rc) {
        *deleted += rd__pg_changes(r);
        PQclear(r);
    }
    return rc;
}

static int prune(pg_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);

int rd__pg_log_prune(rd_store *base, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    *deleted = 0;
    /* a count, a detach and a delete over a day of rows may rightly take minutes */
    int saved, rc = rd__pg_ready(s, err);
    if (rc || (rc = rd__pg_unlimit(s, RD_PG_PRUNE_MS, &saved, err)))
        return rc;
    rc = prune(s, before_ms, deleted, err);
    rd__pg_relimit(s, saved);
    return rc;
}

static int prune(pg_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    uint64_t n = 0;
    PGresult *parts;
    int rc = partitions(s, &parts, err);
    if (rc)
        return rc;
    bool in_tx = PQtransactionStatus(s->conn) != PQTRANS_IDLE;
    for (int i = 0; !rc && i < PQntuples(parts); i++) {
        int64_t day;
        const char *name = PQgetvalue(parts, i, 0);
        if (!partition_day(name, &day) || (day + 1) * DAY_MS > before_ms)
            continue;
        day_forget(s, day);
        rc = drop_partition(s, name, !strcmp(PQgetvalue(parts, i, 1), "t"), in_tx, &n, err);
    }
    PQclear(parts);
    /* the boundary day, and any row a dropped partition did not hold */
    if (!rc && !(rc = delete_before(s, before_ms, &n, err)))
        *deleted = n;
    return rc;
}

/* ------------------------------------------------------------------ blobs */

int rd__pg_blob_put(rd_store *base, const char *hex, const void *data, size_t len, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, hex);
    rd__pg_bin(&p, RD_PG_BYTEA, data, len);
    return rd__pg_exec(s, "INSERT INTO blobs(sha256, data) VALUES($1, $2) ON CONFLICT DO NOTHING", &p, NULL,
                       "keeping a file", err);
}

bool rd__pg_blob_has(rd_store *base, const char *hex)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, hex);
    if (rd__pg_exec(s, "SELECT 1 FROM blobs WHERE sha256 = $1", &p, &r, "looking up a kept file", NULL))
        return false;
    bool has = PQntuples(r) > 0;
    PQclear(r);
    return has;
}

int rd__pg_blob_get(rd_store *base, const char *hex, char **data, size_t *len, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, hex);
    int rc =
        rd__pg_query(s, "SELECT data FROM blobs WHERE sha256 = $1", &p, 1, &r, "reading a kept file", err);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rd_err_set(err, RD_ENOTFOUND, "%s: no kept file with sha256 %.16s...", s->base.name, hex);
    }
    size_t n = (size_t)PQgetlength(r, 0, 0);
    char *out = rd_malloc(n + 1);
    if (out) {
        memcpy(out, PQgetvalue(r, 0, 0), n); /* binary result: the bytes themselves */
        out[n] = '\0';
        *data = out;
        *len = n;
    }
    PQclear(r);
    return out ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
}
