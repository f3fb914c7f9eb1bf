/* One applicant's records in the SQLite store: found by the record's context.targetingKey,
 * erased so that their bytes are gone from the files (rd_dlog_erase holds the rules).
 *
 * Finding reads every record (the log has no index on the key, so that logging a decision
 * costs no extra b-tree); a plain substring test on the text comes first, so only the records
 * that hold the key are parsed. The long scan runs outside the erasing transaction: the caller
 * scans up to the last id, then, holding the write lock, scans only what was logged since.
 *
 * Records in flight (queued when the erasure ran): the erasure records a tombstone (the key's
 * SHA-256 and the time) in its transaction; the log's append, which takes the same write lock,
 * skips a primary decision of that key made before then (rd__sq_erased). Only rows older than
 * the newest tombstone are looked at, so live traffic pays one lookup a transaction.
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

int rd__sq_erasure_mark(rd_store *base, const char *key_sha256, int64_t erased_ms, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "INSERT INTO erasures(key_sha256, erased_ms) VALUES(?1, ?2) ON CONFLICT(key_sha256)"
            " DO UPDATE SET erased_ms = max(erased_ms, excluded.erased_ms)",
            -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "recording an erasure");
    sqlite3_bind_text(st, 1, key_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, erased_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "recording an erasure");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_newest_erasure(sq_store *s, int64_t *ms, rd_err *err)
{
    sqlite3_stmt *st = s->newest_erasure;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *ms = sqlite3_column_type(st, 0) == SQLITE_NULL ? INT64_MIN : sqlite3_column_int64(st, 0);
    int rc = step == SQLITE_ROW ? RD_OK : rd__sq_fail(s, err, "reading the erasures");
    sqlite3_reset(st);
    return rc;
}

/* The key as the scan reads it: a string at context.targetingKey (CASE: json_type would fail
 * the statement on a record that is not JSON). */
static const char key_sql[] =
    "SELECT CASE WHEN json_valid(?1) THEN CASE WHEN json_type(?1,"
    " '$.context.targetingKey') = 'text' THEN json_extract(?1, '$.context.targetingKey')"
    " END END";

int rd__sq_erased(sq_store *s, const rd_log_row *r, bool *erased, rd_err *err)
{
    *erased = false;
    if (strcmp(r->kind, "primary") != 0)
        return RD_OK;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, key_sql, -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading the erasures");
    sqlite3_bind_text(st, 1, r->record, (int)r->record_len, SQLITE_STATIC);
    char hex[RD_SHA256_HEX] = "";
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        rd_sha256_hex(sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0), hex);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW)
        return rd__sq_fail(s, err, "reading the erasures");
    if (!hex[0])
        return RD_OK;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM erasures WHERE key_sha256 = ?1 AND erased_ms > ?2", -1, &st,
                           NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "reading the erasures");
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->ts_ms);
    step = sqlite3_step(st);
    *erased = step == SQLITE_ROW;
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "reading the erasures");
}
