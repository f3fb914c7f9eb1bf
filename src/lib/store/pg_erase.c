/* One applicant's records in the PostgreSQL store: found by the record's
 * context.targetingKey, erased with the semantics of sqlite_erase.c (rd_dlog_erase holds the
 * rules).
 *
 * Finding reads every primary record, as on SQLite (no index on the key: logging a decision
 * pays for no extra index); a substring test on the text comes first, so only the records that
 * hold the key are parsed as JSON (riskd_json: a record that is not JSON matches nothing), and
 * only a string key matches (SQLite compares json_extract's text with the key).
 *
 * Records in flight: ids come from one sequence that several nodes draw from, so a row of a
 * batch still uncommitted when the first scan reads max(id) can commit later with a smaller id
 * than that last id, and records wait in queues and spools (hours of them after an outage).
 * The tombstone closes both (review16 #12): erasure_mark, the first statement of the erasing
 * transaction, locks the erasures table ACCESS EXCLUSIVE, which waits for every log insert
 * that has read it (each does, holding ACCESS SHARE until its commit) and holds back the next
 * ones, so the second scan sees every row inserted before, and every insert after the commit
 * sees the tombstone and skips the applicant's older primary decisions (pg_log.c). The log's
 * inserts on every node wait for the erasing transaction: a short one (the second scan reads
 * only what came since the first).
 *
 * Scrub: PostgreSQL has no write-ahead log of riskd's to fold in and truncate, as SQLite's
 * checkpoint does; an erased row's bytes stay in its table's pages until VACUUM reuses them,
 * and in the server's WAL segments until they are recycled, which riskd does not control (a
 * VACUUM would not zero them either). So scrub has nothing it can do, and says it is complete. */
#include <stdio.h>
#include <string.h>

#include "pg_int.h"

/* Whether the log's writer writes key as it is (no quote, backslash or control character to
 * escape): then the substring test cannot miss a record that holds it. */
static bool written_as_is(const char *key)
{
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\')
            return false;
    return true;
}

typedef struct found_ctx {
    int (*fn)(void *, const rd_applicant_row *);
    void *ud;
} found_ctx;

static int found_row(void *ud, const PGresult *r)
{
    found_ctx *c = ud;
    rd_applicant_row row = {
        .id = rd__pg_i64(r, 0, 0), .ts_ms = rd__pg_i64(r, 0, 1), .request_id = rd__pg_str(r, 0, 2)};
    return c->fn(c->ud, &row);
}

int rd__pg_applicant_scan(rd_store *base, const char *key, int64_t after_id,
                          int (*fn)(void *, const rd_applicant_row *), void *ud, int64_t *last_id,
                          rd_err *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    int rc = rd__pg_exec(s, "SELECT coalesce(max(id), 0) FROM decisions", NULL, &r,
                         "finding an applicant's decisions", err);
    if (rc)
        return rc;
    int64_t last = rd__pg_i64(r, 0, 0);
    PQclear(r);
    /* CASE: the JSON is read only for the records the substring test let through */
    static const char sql[] =
        "SELECT id, ts_ms, request_id FROM decisions WHERE id > $1 AND id <= $2 AND kind = 'primary'"
        " AND CASE WHEN $3::text IS NOT NULL AND strpos(record, $3) = 0 THEN false"
        " ELSE (SELECT CASE WHEN json_typeof(j #> '{context,targetingKey}') = 'string'"
        " THEN j #>> '{context,targetingKey}' END FROM (SELECT riskd_json(record) AS j) x) = $4 END"
        " ORDER BY id";
    pg_params p = {0};
    rd__pg_int(&p, after_id);
    rd__pg_int(&p, last);
    rd__pg_text(&p, written_as_is(key) ? key : NULL);
    rd__pg_text(&p, key);
    found_ctx c = {fn, ud};
    if ((rc = rd__pg_stream(s, sql, &p, found_row, &c, "finding an applicant's decisions", err)))
        return rc;
    *last_id = last;
    return RD_OK;
}

/* Run a delete with $1 bound to an id (text NULL) or a request id; *changes receives its rows. */
static int run(pg_store *s, const char *sql, int64_t id, const char *text, uint64_t *changes, rd_err *err)
{
    pg_params p = {0};
    PGresult *r;
    if (text)
        rd__pg_text(&p, text);
    else
        rd__pg_int(&p, id);
    int rc = rd__pg_exec(s, sql, &p, &r, "erasing an applicant's records", err);
    if (!rc) {
        *changes += rd__pg_changes(r);
        PQclear(r);
    }
    return rc;
}

int rd__pg_applicant_erase(rd_store *base, const int64_t *ids, size_t n, const char *const *request_ids,
                           size_t nreq, rd_applicant_erased *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const sql[] = {
        "DELETE FROM decisions WHERE id = $1 AND kind = 'primary'",
        /* what hangs on a request id goes with the last primary decision holding it */
        "DELETE FROM decisions WHERE request_id = $1 AND kind = 'shadow'"
        " AND NOT EXISTS (SELECT 1 FROM decisions WHERE request_id = $1 AND kind = 'primary')",
        "DELETE FROM outcomes WHERE request_id = $1"
        " AND NOT EXISTS (SELECT 1 FROM decisions WHERE request_id = $1 AND kind = 'primary')",
        "DELETE FROM outcome_changes WHERE request_id = $1"
        " AND NOT EXISTS (SELECT 1 FROM decisions WHERE request_id = $1 AND kind = 'primary')",
    };
    bool nested;
    int rc = rd__pg_tx_begin(s, 0, &nested, err);
    if (rc)
        return rc;
    rd_applicant_erased e = {0};
    uint64_t changes = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = run(s, sql[0], ids[i], NULL, &e.decisions, err);
    for (size_t i = 0; !rc && i < nreq; i++)
        if (!(rc = run(s, sql[1], 0, request_ids[i], &e.shadows, err)) &&
            !(rc = run(s, sql[2], 0, request_ids[i], &e.outcomes, err)))
            rc = run(s, sql[3], 0, request_ids[i], &changes, err);
    if ((rc = rd__pg_tx_end(s, nested, rc, err)))
        return rc;
    *out = e;
    return RD_OK;
}

int rd__pg_scrub(rd_store *base, bool *complete, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    (void)err;
    /* see the file's comment: nothing of riskd's to fold in; inside a transaction the answer is
       SQLite's (the caller's commit comes first) */
    *complete = s->base.tx_depth == 0;
    return RD_OK;
}

int rd__pg_erasure_mark(rd_store *base, const char *key_sha256, int64_t erased_ms, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool nested;
    int rc = rd__pg_tx_begin(s, 0, &nested, err);
    if (rc)
        return rc;
    pg_params p = {0};
    rd__pg_text(&p, key_sha256);
    rd__pg_int(&p, erased_ms);
    rc = rd__pg_exec(s, "LOCK TABLE erasures IN ACCESS EXCLUSIVE MODE", NULL, NULL, "recording an erasure",
                     err);
    if (!rc)
        rc = rd__pg_exec(s,
                         "INSERT INTO erasures(key_sha256, erased_ms) VALUES($1, $2) ON CONFLICT (key_sha256)"
                         " DO UPDATE SET erased_ms = greatest(erasures.erased_ms, excluded.erased_ms)",
                         &p, NULL, "recording an erasure", err);
    return rd__pg_tx_end(s, nested, rc, err);
}
