/* Exposure caps on SQLite (schema 7, sqlite.c): exposure_stages, one row per stage instance
 * (flag, stage, stage_started_ms) with its caps and what has been reserved of them;
 * exposure_slices, one row per node process (node, boot) holding a part of a stage's caps.
 *
 * Invariants (the front, store.c, keeps the rules; these statements keep the rows):
 *   - a stage's reserved grows only through an UPDATE guarded by reserved + grant <= cap, run
 *     inside a governance transaction (BEGIN IMMEDIATE: one writer at a time) after the grant
 *     was computed from the row read in it;
 *   - a slice's returned grows only while it leaves spent <= reserved - returned, and its spent
 *     only up to reserved - returned; both columns only grow (a late report never lowers one);
 *   - no CHECK holds reserved <= cap: a cap lowered by a plan edit must be storable;
 *   - a read-only handle on a database before schema 7 (not migrated) lists nothing.
 * Statements are prepared per call: a node reserves about once per slice. */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

static bool before_7(const sq_store *s) { return s->schema && s->schema < 7; }

static int prep(sq_store *s, const char *sql, sqlite3_stmt **st, const char *what, rd_err *err)
{
    return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? RD_OK : rd__sq_fail(s, err, what);
}

static void col(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Step a write to its end and finalize it; *changed (may be NULL): whether it changed a row. */
static int step_done(sq_store *s, sqlite3_stmt *st, bool *changed, const char *what, rd_err *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, what);
    sqlite3_finalize(st);
    if (!rc && changed)
        *changed = sqlite3_changes(s->db) > 0;
    return rc;
}

static void bind_slice(sqlite3_stmt *st, const rd__slice_key *k)
{
    sqlite3_bind_text(st, 1, k->flag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->stage, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, k->started_ms);
    sqlite3_bind_text(st, 4, k->node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, k->boot, -1, SQLITE_STATIC);
}

#define SLICE_KEY "flag = ?1 AND stage = ?2 AND stage_started_ms = ?3 AND node = ?4 AND boot = ?5"

/* ------------------------------------------------------------------ stages */

#define STAGE_COLS                                                                                           \
    "st.flag, st.stage, st.stage_started_ms, st.plan_sha, st.field, st.unit, st.cap_amount, st.cap_count,"   \
    " st.reserved_amount, st.reserved_count, st.exhausted_ms, st.created_ms, st.updated_ms"

static void read_stage(sqlite3_stmt *st, rd_exposure_stage_row *r)
{
    memset(r, 0, sizeof *r);
    col(st, 0, r->flag, sizeof r->flag);
    col(st, 1, r->stage, sizeof r->stage);
    r->stage_started_ms = sqlite3_column_int64(st, 2);
    col(st, 3, r->plan_sha, sizeof r->plan_sha);
    col(st, 4, r->field, sizeof r->field);
    r->unit = sqlite3_column_double(st, 5);
    r->has_amount = sqlite3_column_type(st, 6) != SQLITE_NULL;
    r->cap_amount = sqlite3_column_int64(st, 6);
    r->has_count = sqlite3_column_type(st, 7) != SQLITE_NULL;
    r->cap_count = sqlite3_column_int64(st, 7);
    r->reserved_amount = sqlite3_column_int64(st, 8);
    r->reserved_count = sqlite3_column_int64(st, 9);
    r->exhausted_ms = sqlite3_column_int64(st, 10);
    r->created_ms = sqlite3_column_int64(st, 11);
    r->updated_ms = sqlite3_column_int64(st, 12);
}

static void bind_cap(sqlite3_stmt *st, int i, bool has, int64_t cap)
{
    if (has)
        sqlite3_bind_int64(st, i, cap);
    else
        sqlite3_bind_null(st, i);
}

int rd__sq_exposure_stage_put(rd_store *base, const rd_exposure_stage_row *r, int64_t now_ms,
                              rd_exposure_stage_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc =
        prep(s,
             "INSERT INTO exposure_stages(flag, stage, stage_started_ms, plan_sha, field, unit, cap_amount,"
             " cap_count, created_ms, updated_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?9)"
             " ON CONFLICT(flag, stage, stage_started_ms) DO UPDATE SET plan_sha = excluded.plan_sha,"
             " field = excluded.field, unit = excluded.unit, cap_amount = excluded.cap_amount,"
             " cap_count = excluded.cap_count, updated_ms = excluded.updated_ms",
             &st, "recording an exposure stage", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->flag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->stage, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->stage_started_ms);
    sqlite3_bind_text(st, 4, r->plan_sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->field, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, r->unit);
    bind_cap(st, 7, r->has_amount, r->cap_amount);
    bind_cap(st, 8, r->has_count, r->cap_count);
    sqlite3_bind_int64(st, 9, now_ms);
    if ((rc = step_done(s, st, NULL, "recording an exposure stage", err)))
        return rc;
    if ((rc = prep(s,
                   "SELECT " STAGE_COLS " FROM exposure_stages st"
                   " WHERE flag = ?1 AND stage = ?2 AND stage_started_ms = ?3",
                   &st, "reading an exposure stage", err)))
        return rc;
    sqlite3_bind_text(st, 1, r->flag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->stage, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->stage_started_ms);
    if (sqlite3_step(st) == SQLITE_ROW)
        read_stage(st, out);
    else
        rc = rd__sq_fail(s, err, "reading an exposure stage");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_exposure_stage_add(rd_store *base, const char *flag, const char *stage, int64_t started_ms,
                              int64_t da, int64_t dc, int64_t exhausted_ms, int64_t now_ms, bool *applied,
                              rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "UPDATE exposure_stages SET reserved_amount = reserved_amount + ?4,"
                  " reserved_count = reserved_count + ?5,"
                  " exhausted_ms = CASE WHEN ?6 > 0 AND exhausted_ms = 0 THEN ?6 ELSE exhausted_ms END,"
                  " updated_ms = ?7 WHERE flag = ?1 AND stage = ?2 AND stage_started_ms = ?3"
                  " AND (?4 <= 0 OR cap_amount IS NULL OR reserved_amount + ?4 <= cap_amount)"
                  " AND (?5 <= 0 OR cap_count IS NULL OR reserved_count + ?5 <= cap_count)",
                  &st, "reserving exposure", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, flag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, stage, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, started_ms);
    sqlite3_bind_int64(st, 4, da);
    sqlite3_bind_int64(st, 5, dc);
    sqlite3_bind_int64(st, 6, exhausted_ms);
    sqlite3_bind_int64(st, 7, now_ms);
    return step_done(s, st, applied, "reserving exposure", err);
}

/* ------------------------------------------------------------------ slices */

int rd__sq_exposure_slice_grant(rd_store *base, const rd__slice_key *k, int64_t ga, int64_t gc,
                                int64_t now_ms, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "INSERT INTO exposure_slices(flag, stage, stage_started_ms, node, boot, reserved_amount,"
                  " reserved_count, state, opened_ms, updated_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,'open',?8,?8)"
                  " ON CONFLICT(flag, stage, stage_started_ms, node, boot) DO UPDATE SET"
                  " reserved_amount = reserved_amount + excluded.reserved_amount,"
                  " reserved_count = reserved_count + excluded.reserved_count, state = 'open',"
                  " updated_ms = excluded.updated_ms",
                  &st, "recording an exposure slice", err);
    if (rc)
        return rc;
    bind_slice(st, k);
    sqlite3_bind_int64(st, 6, ga);
    sqlite3_bind_int64(st, 7, gc);
    sqlite3_bind_int64(st, 8, now_ms);
    return step_done(s, st, NULL, "recording an exposure slice", err);
}

int rd__sq_exposure_slice_return(rd_store *base, const rd__slice_key *k, int64_t a, int64_t c, bool close,
                                 int64_t now_ms, bool *applied, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "UPDATE exposure_slices SET returned_amount = returned_amount + ?6,"
                  " returned_count = returned_count + ?7,"
                  " state = CASE WHEN ?8 THEN 'closed' ELSE state END, updated_ms = ?9 WHERE " SLICE_KEY
                  " AND returned_amount + ?6 + spent_amount <= reserved_amount"
                  " AND returned_count + ?7 + spent_count <= reserved_count",
                  &st, "returning exposure", err);
    if (rc)
        return rc;
    bind_slice(st, k);
    sqlite3_bind_int64(st, 6, a);
    sqlite3_bind_int64(st, 7, c);
    sqlite3_bind_int(st, 8, close);
    sqlite3_bind_int64(st, 9, now_ms);
    return step_done(s, st, applied, "returning exposure", err);
}

int rd__sq_exposure_slice_report(rd_store *base, const rd__slice_key *k, int64_t sa, int64_t sc,
                                 int64_t capped, int64_t now_ms, bool *applied, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "UPDATE exposure_slices SET spent_amount = max(spent_amount, ?6),"
                  " spent_count = max(spent_count, ?7), capped = max(capped, ?8), updated_ms = ?9"
                  " WHERE " SLICE_KEY " AND ?6 <= reserved_amount - returned_amount"
                  " AND ?7 <= reserved_count - returned_count",
                  &st, "reporting exposure", err);
    if (rc)
        return rc;
    bind_slice(st, k);
    sqlite3_bind_int64(st, 6, sa);
    sqlite3_bind_int64(st, 7, sc);
    sqlite3_bind_int64(st, 8, capped);
    sqlite3_bind_int64(st, 9, now_ms);
    return step_done(s, st, applied, "reporting exposure", err);
}

int rd__sq_exposure_slice_get(rd_store *base, const rd__slice_key *k, rd__slice_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    if (before_7(s))
        return RD_ENOTFOUND;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "SELECT reserved_amount, reserved_count, returned_amount, returned_count, spent_amount,"
                  " spent_count, state FROM exposure_slices WHERE " SLICE_KEY,
                  &st, "reading an exposure slice", err);
    if (rc)
        return rc;
    bind_slice(st, k);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->reserved_amount = sqlite3_column_int64(st, 0);
        out->reserved_count = sqlite3_column_int64(st, 1);
        out->returned_amount = sqlite3_column_int64(st, 2);
        out->returned_count = sqlite3_column_int64(st, 3);
        out->spent_amount = sqlite3_column_int64(st, 4);
        out->spent_count = sqlite3_column_int64(st, 5);
        col(st, 6, out->state, sizeof out->state);
    } else {
        rc = step == SQLITE_DONE ? RD_ENOTFOUND : rd__sq_fail(s, err, "reading an exposure slice");
    }
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_exposure_orphans(rd_store *base, const char *node, const char *boot, int64_t now_ms, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "UPDATE exposure_slices SET state = 'lost', updated_ms = ?3"
                  " WHERE node = ?1 AND boot <> ?2 AND state = 'open'",
                  &st, "marking lost exposure slices", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, boot, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    return step_done(s, st, NULL, "marking lost exposure slices", err);
}

/* ------------------------------------------------------------------ the list */

int rd__sq_exposure_list(rd_store *base, const char *flag,
                         int (*fn)(void *, const rd_exposure_stage_row *, const rd_exposure_totals *),
                         void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    if (before_7(s))
        return RD_OK;
    sqlite3_stmt *st;
    int rc = prep(
        s,
        "SELECT " STAGE_COLS ", coalesce(sum(sl.spent_amount), 0), coalesce(sum(sl.spent_count), 0),"
        " coalesce(sum(CASE sl.state WHEN 'open' THEN sl.reserved_amount - sl.returned_amount - "
        "sl.spent_amount"
        " END), 0),"
        " coalesce(sum(CASE sl.state WHEN 'open' THEN sl.reserved_count - sl.returned_count - sl.spent_count"
        " END), 0),"
        " coalesce(sum(CASE sl.state WHEN 'lost' THEN sl.reserved_amount - sl.returned_amount - "
        "sl.spent_amount"
        " END), 0),"
        " coalesce(sum(CASE sl.state WHEN 'lost' THEN sl.reserved_count - sl.returned_count - sl.spent_count"
        " END), 0),"
        " coalesce(sum(sl.reserved_amount - sl.returned_amount), 0),"
        " coalesce(sum(sl.reserved_count - sl.returned_count), 0), coalesce(sum(sl.capped), 0),"
        " coalesce(sum(CASE sl.state WHEN 'open' THEN 1 END), 0)"
        " FROM exposure_stages st LEFT JOIN exposure_slices sl ON sl.flag = st.flag AND sl.stage = st.stage"
        " AND sl.stage_started_ms = st.stage_started_ms WHERE ?1 IS NULL OR st.flag = ?1"
        " GROUP BY st.flag, st.stage, st.stage_started_ms"
        " ORDER BY st.stage_started_ms, st.created_ms, st.flag, st.stage",
        &st, "listing the exposure stages", err);
    if (rc)
        return rc;
    if (flag)
        sqlite3_bind_text(st, 1, flag, -1, SQLITE_STATIC);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_exposure_stage_row r;
        read_stage(st, &r);
        rd_exposure_totals t = {.spent_amount = sqlite3_column_int64(st, 13),
                                .spent_count = sqlite3_column_int64(st, 14),
                                .held_amount = sqlite3_column_int64(st, 15),
                                .held_count = sqlite3_column_int64(st, 16),
                                .lost_amount = sqlite3_column_int64(st, 17),
                                .lost_count = sqlite3_column_int64(st, 18),
                                .reserved_amount = sqlite3_column_int64(st, 19),
                                .reserved_count = sqlite3_column_int64(st, 20),
                                .capped = (uint64_t)sqlite3_column_int64(st, 21),
                                .nodes = (size_t)sqlite3_column_int64(st, 22)};
        rc = fn(ud, &r, &t);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "listing the exposure stages");
    sqlite3_finalize(st);
    return rc;
}
