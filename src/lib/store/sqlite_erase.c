/* One applicant's records in the SQLite store: found by the record's context.targetingKey,
 * erased so that their bytes are gone from the files (rd_dlog_erase holds the rules).
 *
 * Finding reads every record (the log has no index on the key, so that logging a decision
 * costs no extra b-tree); a plain substring test on the text comes first, so only the records
 * that hold the key are parsed. The long scan runs outside the erasing transaction: the caller
 * scans up to the last id, then, holding the write lock, scans only what was logged since.
 *
 * Erasing sets secure_delete for its statements, so SQLite overwrites the deleted cells and
 * freed pages with zeros instead of leaving them in free space; rd__sq_scrub then checkpoints
 * the WAL and truncates it, which removes the older copies of those pages. */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

/* Whether the log's writer (rd_json_write_string) writes key as it is: no quote, backslash or
 * control character to escape. Then the substring test cannot miss a record that holds it. */
static bool written_as_is(const char *key)
{
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\')
            return false;
    return true;
}

int rd__sq_applicant_scan(rd_store *base, const char *key, int64_t after_id,
                          int (*fn)(void *, const rd_applicant_row *), void *ud, int64_t *last_id,
                          rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM decisions", -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "finding an applicant's decisions");
    int64_t last = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (last < 0)
        return rd__sq_fail(s, err, "finding an applicant's decisions");
    /* CASE, not AND: SQLite does not promise to skip json_extract on a record that is not JSON
     * (which would fail the whole statement) */
    static const char sql[] =
        "SELECT id, ts_ms, request_id FROM decisions WHERE id > ?1 AND id <= ?2 AND kind = 'primary'"
        " AND (?3 IS NULL OR instr(record, ?3) > 0)"
        " AND CASE WHEN json_valid(record) THEN json_extract(record, '$.context.targetingKey') END = ?4"
        " ORDER BY id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "finding an applicant's decisions");
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int64(st, 2, last);
    if (written_as_is(key))
        sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
    int rc = RD_OK, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_applicant_row r = {.id = sqlite3_column_int64(st, 0),
                              .ts_ms = sqlite3_column_int64(st, 1),
                              .request_id = (const char *)sqlite3_column_text(st, 2)};
        rc = fn(ud, &r);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "finding an applicant's decisions");
    sqlite3_finalize(st);
    if (!rc)
        *last_id = last;
    return rc;
}

/* Run sql with ?1 bound to an id (text NULL) or a text; *changes receives the rows changed. */
static int run(sq_store *s, sqlite3_stmt *st, int64_t id, const char *text, uint64_t *changes, rd_err *err)
{
    if (text)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "erasing an applicant's records");
    sqlite3_reset(st);
    if (!rc)
        *changes += (uint64_t)sqlite3_changes64(s->db);
    return rc;
}

/* secure_delete's value now (0 or 1; -1 when it cannot be read). */
static int secure_delete(sq_store *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA secure_delete", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

int rd__sq_applicant_erase(rd_store *base, const int64_t *ids, size_t n, const char *const *request_ids,
                           size_t nreq, rd_applicant_erased *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    static const char *const sql[] = {
        "DELETE FROM decisions WHERE id = ?1 AND kind = 'primary'",
        /* what hangs on a request id goes with the last primary decision holding it */
        "DELETE FROM decisions WHERE request_id = ?1 AND kind = 'shadow'"
        " AND NOT EXISTS (SELECT 1 FROM decisions WHERE request_id = ?1 AND kind = 'primary')",
        "DELETE FROM outcomes WHERE request_id = ?1"
        " AND NOT EXISTS (SELECT 1 FROM decisions WHERE request_id = ?1 AND kind = 'primary')",
        "DELETE FROM outcome_changes WHERE request_id = ?1"
        " AND NOT EXISTS (SELECT 1 FROM decisions WHERE request_id = ?1 AND kind = 'primary')",
    };
    enum { NSQL = sizeof sql / sizeof *sql };
    int was = secure_delete(s);
    if (was < 0)
        return rd__sq_fail(s, err, "reading secure_delete");
    if (sqlite3_exec(s->db, "PRAGMA secure_delete = ON; SAVEPOINT rd_erase", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = rd__sq_fail(s, err, "starting an erasure");
        sqlite3_exec(s->db, was ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF", NULL, NULL,
                     NULL);
        return rc;
    }
    sqlite3_stmt *st[NSQL] = {0};
    int rc = RD_OK;
    for (size_t i = 0; !rc && i < NSQL; i++)
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &st[i], NULL) != SQLITE_OK)
            rc = rd__sq_fail(s, err, "erasing an applicant's records");
    rd_applicant_erased e = {0};
    uint64_t changes = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = run(s, st[0], ids[i], NULL, &e.decisions, err);
    for (size_t i = 0; !rc && i < nreq; i++)
        if (!(rc = run(s, st[1], 0, request_ids[i], &e.shadows, err)) &&
            !(rc = run(s, st[2], 0, request_ids[i], &e.outcomes, err)))
            rc = run(s, st[3], 0, request_ids[i], &changes, err);
    for (size_t i = 0; i < NSQL; i++)
        sqlite3_finalize(st[i]);
    if (!rc && sqlite3_exec(s->db, "RELEASE rd_erase", NULL, NULL, NULL) != SQLITE_OK)
        rc = rd__sq_fail(s, err, "erasing an applicant's records");
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK TO rd_erase; RELEASE rd_erase", NULL, NULL, NULL);
    sqlite3_exec(s->db, was ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    if (!rc)
        *out = e;
    return rc;
}

int rd__sq_scrub(rd_store *base, bool *complete, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    *complete = false;
    if (!sqlite3_get_autocommit(s->db))
        return RD_OK; /* inside a transaction: the caller's commit comes first */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "checkpointing");
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *complete = sqlite3_column_int(st, 0) == 0; /* busy: 0 when every frame was folded in */
    sqlite3_finalize(st);
    /* SQLITE_BUSY: another connection is checkpointing; the pages go with its checkpoint */
    return step == SQLITE_ROW || step == SQLITE_BUSY ? RD_OK : rd__sq_fail(s, err, "checkpointing");
}
