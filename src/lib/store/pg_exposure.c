/* Exposure caps on PostgreSQL (schema 7, pg.c), with the semantics of sqlite_exposure.c:
 * exposure_stages, one row per stage instance with its caps and what has been reserved of them;
 * exposure_slices, one row per node process (node, boot) holding a part of a stage's caps.
 *
 * Invariants:
 *   - a stage's reserved grows only through an UPDATE guarded by reserved + grant <= cap, run
 *     inside a governance transaction (RD_PG_LOCK_GOV: one reserver at a time on every node)
 *     after the grant was computed from the row read in it; under READ COMMITTED the UPDATE
 *     re-reads the row, so even a writer outside the lock could not push reserved past the cap;
 *   - a slice's returned grows only while it leaves spent <= reserved - returned, and its spent
 *     only up to reserved - returned; both only grow (GREATEST: a late report never lowers one);
 *   - lists read their rows whole before calling back (fn may call the store);
 *   - a read-only handle on a database before schema 7 (not migrated) lists nothing.
 * A lost connection is RD_ESTORE through rd__pg_exec, like every other statement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

/* Whether the tables are missing: a read-only handle on a schema older than 7. */
static int before_7(pg_store *s, bool *old, rd_err *err)
{
    int rc = rd__pg_ready(s, err);
    *old = !rc && s->schema && s->schema < 7;
    return rc;
}

static void slice_params(pg_params *p, const rd__slice_key *k)
{
    rd__pg_text(p, k->flag);
    rd__pg_text(p, k->stage);
    rd__pg_int(p, k->started_ms);
    rd__pg_text(p, k->node);
    rd__pg_text(p, k->boot);
}

#define SLICE_KEY "flag = $1 AND stage = $2 AND stage_started_ms = $3 AND node = $4 AND boot = $5"

/* Run a write; *applied (may be NULL): whether it changed a row. */
static int run_write(pg_store *s, const char *sql, const pg_params *p, bool *applied, const char *what,
                     rd_err *err)
{
    PGresult *r;
    int rc = rd__pg_exec(s, sql, p, &r, what, err);
    if (rc)
        return rc;
    if (applied)
        *applied = rd__pg_changes(r) > 0;
    PQclear(r);
    return RD_OK;
}

/* ------------------------------------------------------------------ stages */

#define STAGE_COLS                                                                                           \
    "st.flag, st.stage, st.stage_started_ms, st.plan_sha, st.field, st.unit, st.cap_amount, st.cap_count,"   \
    " st.reserved_amount, st.reserved_count, st.exhausted_ms, st.created_ms, st.updated_ms"

static void read_stage(const PGresult *r, int i, rd_exposure_stage_row *row)
{
    memset(row, 0, sizeof *row);
    rd__pg_copy(r, i, 0, row->flag, sizeof row->flag);
    rd__pg_copy(r, i, 1, row->stage, sizeof row->stage);
    row->stage_started_ms = rd__pg_i64(r, i, 2);
    rd__pg_copy(r, i, 3, row->plan_sha, sizeof row->plan_sha);
    rd__pg_copy(r, i, 4, row->field, sizeof row->field);
    /* float8out gives the shortest text that reads back the very double (PostgreSQL 12+) */
    row->unit = strtod(PQgetvalue(r, i, 5), NULL);
    row->has_amount = !PQgetisnull(r, i, 6);
    row->cap_amount = rd__pg_i64(r, i, 6);
    row->has_count = !PQgetisnull(r, i, 7);
    row->cap_count = rd__pg_i64(r, i, 7);
    row->reserved_amount = rd__pg_i64(r, i, 8);
    row->reserved_count = rd__pg_i64(r, i, 9);
    row->exhausted_ms = rd__pg_i64(r, i, 10);
    row->created_ms = rd__pg_i64(r, i, 11);
    row->updated_ms = rd__pg_i64(r, i, 12);
}

static void cap_param(pg_params *p, bool has, int64_t cap)
{
    if (has)
        rd__pg_int(p, cap);
    else
        rd__pg_null(p, RD_PG_INT8);
}

int rd__pg_exposure_stage_put(rd_store *base, const rd_exposure_stage_row *st, int64_t now_ms,
                              rd_exposure_stage_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, st->flag);
    rd__pg_text(&p, st->stage);
    rd__pg_int(&p, st->stage_started_ms);
    rd__pg_text(&p, st->plan_sha);
    rd__pg_text(&p, st->field);
    rd__pg_double(&p, st->unit);
    cap_param(&p, st->has_amount, st->cap_amount);
    cap_param(&p, st->has_count, st->cap_count);
    rd__pg_int(&p, now_ms);
    PGresult *r;
    int rc = rd__pg_exec(
        s,
        "INSERT INTO exposure_stages AS st(flag, stage, stage_started_ms, plan_sha, field, unit,"
        " cap_amount, cap_count, created_ms, updated_ms) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9,"
        " $9) ON CONFLICT (flag, stage, stage_started_ms) DO UPDATE SET"
        " plan_sha = EXCLUDED.plan_sha, field = EXCLUDED.field, unit = EXCLUDED.unit,"
        " cap_amount = EXCLUDED.cap_amount, cap_count = EXCLUDED.cap_count,"
        " updated_ms = EXCLUDED.updated_ms RETURNING " STAGE_COLS,
        &p, &r, "recording an exposure stage", err);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        read_stage(r, 0, out);
    else
        rc = rd_err_set(err, RD_EIO, "%s: recording an exposure stage: no row came back", s->base.name);
    PQclear(r);
    return rc;
}

int rd__pg_exposure_stage_add(rd_store *base, const char *flag, const char *stage, int64_t started_ms,
                              int64_t da, int64_t dc, int64_t exhausted_ms, int64_t now_ms, bool *applied,
                              rd_err *err)
{
    pg_params p = {0};
    rd__pg_text(&p, flag);
    rd__pg_text(&p, stage);
    rd__pg_int(&p, started_ms);
    rd__pg_int(&p, da);
    rd__pg_int(&p, dc);
    rd__pg_int(&p, exhausted_ms);
    rd__pg_int(&p, now_ms);
    return run_write((pg_store *)base,
                     "UPDATE exposure_stages SET reserved_amount = reserved_amount + $4,"
                     " reserved_count = reserved_count + $5,"
                     " exhausted_ms = CASE WHEN $6 > 0 AND exhausted_ms = 0 THEN $6 ELSE exhausted_ms END,"
                     " updated_ms = $7 WHERE flag = $1 AND stage = $2 AND stage_started_ms = $3"
                     " AND ($4 <= 0 OR cap_amount IS NULL OR reserved_amount + $4 <= cap_amount)"
                     " AND ($5 <= 0 OR cap_count IS NULL OR reserved_count + $5 <= cap_count)",
                     &p, applied, "reserving exposure", err);
}

/* ------------------------------------------------------------------ slices */

int rd__pg_exposure_slice_grant(rd_store *base, const rd__slice_key *k, int64_t ga, int64_t gc,
                                int64_t now_ms, rd_err *err)
{
    pg_params p = {0};
    slice_params(&p, k);
    rd__pg_int(&p, ga);
    rd__pg_int(&p, gc);
    rd__pg_int(&p, now_ms);
    return run_write(
        (pg_store *)base,
        "INSERT INTO exposure_slices AS sl(flag, stage, stage_started_ms, node, boot, reserved_amount,"
        " reserved_count, state, opened_ms, updated_ms) VALUES($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8)"
        " ON CONFLICT (flag, stage, stage_started_ms, node, boot) DO UPDATE SET"
        " reserved_amount = sl.reserved_amount + EXCLUDED.reserved_amount,"
        " reserved_count = sl.reserved_count + EXCLUDED.reserved_count, state = 'open',"
        " updated_ms = EXCLUDED.updated_ms",
        &p, NULL, "recording an exposure slice", err);
}

int rd__pg_exposure_slice_return(rd_store *base, const rd__slice_key *k, int64_t a, int64_t c, bool close,
                                 int64_t now_ms, bool *applied, rd_err *err)
{
    pg_params p = {0};
    slice_params(&p, k);
    rd__pg_int(&p, a);
    rd__pg_int(&p, c);
    rd__pg_int(&p, close);
    rd__pg_int(&p, now_ms);
    return run_write(
        (pg_store *)base,
        "UPDATE exposure_slices SET returned_amount = returned_amount + $6,"
        " returned_count = returned_count + $7,"
        " state = CASE WHEN $8 <> 0 THEN 'closed' ELSE state END, updated_ms = $9 WHERE " SLICE_KEY
        " AND returned_amount + $6 + spent_amount <= reserved_amount"
        " AND returned_count + $7 + spent_count <= reserved_count",
        &p, applied, "returning exposure", err);
}

int rd__pg_exposure_slice_report(rd_store *base, const rd__slice_key *k, int64_t sa, int64_t sc,
                                 int64_t capped, int64_t now_ms, bool *applied, rd_err *err)
{
    pg_params p = {0};
    slice_params(&p, k);
    rd__pg_int(&p, sa);
    rd__pg_int(&p, sc);
    rd__pg_int(&p, capped);
    rd__pg_int(&p, now_ms);
    return run_write(
        (pg_store *)base,
        "UPDATE exposure_slices SET spent_amount = GREATEST(spent_amount, $6),"
        " spent_count = GREATEST(spent_count, $7), capped = GREATEST(capped, $8), updated_ms = $9"
        " WHERE " SLICE_KEY " AND $6 <= reserved_amount - returned_amount"
        " AND $7 <= reserved_count - returned_count",
        &p, applied, "reporting exposure", err);
}

int rd__pg_exposure_slice_get(rd_store *base, const rd__slice_key *k, rd__slice_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool old;
    int rc = before_7(s, &old, err);
    if (rc || old)
        return rc ? rc : RD_ENOTFOUND;
    pg_params p = {0};
    slice_params(&p, k);
    PGresult *r;
    if ((rc = rd__pg_exec(
             s,
             "SELECT reserved_amount, reserved_count, returned_amount, returned_count, spent_amount,"
             " spent_count, state FROM exposure_slices WHERE " SLICE_KEY,
             &p, &r, "reading an exposure slice", err)))
        return rc;
    bool found = PQntuples(r) == 1;
    if (found) {
        memset(out, 0, sizeof *out);
        out->reserved_amount = rd__pg_i64(r, 0, 0);
        out->reserved_count = rd__pg_i64(r, 0, 1);
        out->returned_amount = rd__pg_i64(r, 0, 2);
        out->returned_count = rd__pg_i64(r, 0, 3);
        out->spent_amount = rd__pg_i64(r, 0, 4);
        out->spent_count = rd__pg_i64(r, 0, 5);
        rd__pg_copy(r, 0, 6, out->state, sizeof out->state);
    }
    PQclear(r);
    return found ? RD_OK : RD_ENOTFOUND;
}

int rd__pg_exposure_orphans(rd_store *base, const char *node, const char *boot, int64_t now_ms, rd_err *err)
{
    pg_params p = {0};
    rd__pg_text(&p, node);
    rd__pg_text(&p, boot);
    rd__pg_int(&p, now_ms);
    return run_write((pg_store *)base,
                     "UPDATE exposure_slices SET state = 'lost', updated_ms = $3"
                     " WHERE node = $1 AND boot <> $2 AND state = 'open'",
                     &p, NULL, "marking lost exposure slices", err);
}

/* ------------------------------------------------------------------ the list */

int rd__pg_exposure_list(rd_store *base, const char *flag,
                         int (*fn)(void *, const rd_exposure_stage_row *, const rd_exposure_totals *),
                         void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool old;
    int rc = before_7(s, &old, err);
    if (rc || old)
        return rc;
    pg_params p = {0};
    rd__pg_text(&p, flag);
    PGresult *r;
    /* sums of bigint are numeric: cast back (each fits, being at most the caps' sums) */
    if ((rc = rd__pg_exec(
             s,
             "SELECT " STAGE_COLS ", coalesce(sum(sl.spent_amount), 0)::bigint,"
             " coalesce(sum(sl.spent_count), 0)::bigint,"
             " coalesce(sum(sl.reserved_amount - sl.returned_amount - sl.spent_amount)"
             " FILTER (WHERE sl.state = 'open'), 0)::bigint,"
             " coalesce(sum(sl.reserved_count - sl.returned_count - sl.spent_count)"
             " FILTER (WHERE sl.state = 'open'), 0)::bigint,"
             " coalesce(sum(sl.reserved_amount - sl.returned_amount - sl.spent_amount)"
             " FILTER (WHERE sl.state = 'lost'), 0)::bigint,"
             " coalesce(sum(sl.reserved_count - sl.returned_count - sl.spent_count)"
             " FILTER (WHERE sl.state = 'lost'), 0)::bigint,"
             " coalesce(sum(sl.reserved_amount - sl.returned_amount), 0)::bigint,"
             " coalesce(sum(sl.reserved_count - sl.returned_count), 0)::bigint,"
             " coalesce(sum(sl.capped), 0)::bigint, count(*) FILTER (WHERE sl.state = 'open')"
             " FROM exposure_stages st LEFT JOIN exposure_slices sl ON sl.flag = st.flag AND sl.stage = "
             "st.stage"
             " AND sl.stage_started_ms = st.stage_started_ms WHERE $1::text IS NULL OR st.flag = $1"
             " GROUP BY st.flag, st.stage, st.stage_started_ms"
             " ORDER BY st.stage_started_ms, st.created_ms, st.flag, st.stage",
             &p, &r, "listing the exposure stages", err)))
        return rc;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_exposure_stage_row row;
        read_stage(r, i, &row);
        rd_exposure_totals t = {.spent_amount = rd__pg_i64(r, i, 13),
                                .spent_count = rd__pg_i64(r, i, 14),
                                .held_amount = rd__pg_i64(r, i, 15),
                                .held_count = rd__pg_i64(r, i, 16),
                                .lost_amount = rd__pg_i64(r, i, 17),
                                .lost_count = rd__pg_i64(r, i, 18),
                                .reserved_amount = rd__pg_i64(r, i, 19),
                                .reserved_count = rd__pg_i64(r, i, 20),
                                .capped = (uint64_t)rd__pg_i64(r, i, 21),
                                .nodes = (size_t)rd__pg_i64(r, i, 22)};
        rc = fn(ud, &row, &t);
    }
    PQclear(r);
    return rc;
}
