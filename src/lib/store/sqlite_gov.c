/* The governance tables of the SQLite store (schema 3): the audit chain, users, tokens, change
 * requests, published versions and settings. The rules live in the auth, audit and change
 * modules; this file only keeps rows.
 *
 * The audit table refuses UPDATE and DELETE by trigger, so a mistake or a careless tool cannot
 * rewrite it; whoever drops the triggers can, which is why `riskd audit verify` recomputes the
 * chain instead of trusting them. Statements are prepared per call: governance writes are rare. */
#include <stdio.h>
#include <string.h>

#include "riskd/arena.h"
#include "sqlite_int.h"

const char rd__sq_schema_3[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, object TEXT NOT NULL, before_sha256 TEXT NOT NULL, after_sha256 TEXT NOT NULL,"
    " detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;"
    "CREATE TABLE users(name TEXT PRIMARY KEY, role TEXT NOT NULL, disabled INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, created_by TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, user TEXT NOT NULL, hash TEXT NOT NULL, scopes INTEGER NOT "
    "NULL,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, revoked_ms INTEGER NOT NULL,"
    " last_used_ms INTEGER NOT NULL, created_by TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX tokens_user ON tokens(user);"
    "CREATE TABLE changes(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT "
    "NULL,"
    " title TEXT NOT NULL, author TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " revision INTEGER NOT NULL, base_sha TEXT NOT NULL, payload_sha TEXT NOT NULL, editors TEXT NOT NULL,"
    " approvals TEXT NOT NULL, history TEXT NOT NULL, published_ms INTEGER NOT NULL,"
    " published_by TEXT NOT NULL, version INTEGER NOT NULL);"
    "CREATE INDEX changes_state ON changes(state, id);"
    "CREATE TABLE versions(kind TEXT NOT NULL, target TEXT NOT NULL, version INTEGER NOT NULL,"
    " sha TEXT NOT NULL, replaced_sha TEXT NOT NULL, how TEXT NOT NULL, change_id INTEGER NOT NULL,"
    " author TEXT NOT NULL, approvers TEXT NOT NULL, published_by TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
    " PRIMARY KEY(kind, target, version)) WITHOUT ROWID;"
    "CREATE INDEX versions_sha ON versions(kind, target, sha);"
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "UPDATE riskd_meta SET value = '3' WHERE key = 'schema';"
    "COMMIT;";

/* ------------------------------------------------------------------ helpers */

static int prep(sq_store *s, const char *sql, sqlite3_stmt **st, rd_err *err)
{
    return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? RD_OK : rd__sq_fail(s, err, sql);
}

static void col(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", v ? v : "");
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    return rd_strndup(v ? v : "", v ? (size_t)sqlite3_column_bytes(st, i) : 0);
}

static void bind(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

/* Step a write statement to its end; finalizes it. */
static int step_done(sq_store *s, sqlite3_stmt *st, const char *what, rd_err *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, what);
    sqlite3_finalize(st);
    return rc;
}

/* Step a query expected to give at most one row: RD_OK with a row, RD_ENOTFOUND without. */
static int step_row(sq_store *s, sqlite3_stmt *st, const char *what, rd_err *err)
{
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        return RD_OK;
    return step == SQLITE_DONE ? RD_ENOTFOUND : rd__sq_fail(s, err, what);
}

/* ------------------------------------------------------------------ transactions */

int rd__sq_begin(rd_store *base, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
               ? RD_OK
               : rd__sq_fail(s, err, "starting a transaction");
}

int rd__sq_commit(rd_store *base, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return RD_OK;
    int rc = rd__sq_fail(s, err, "committing");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void rd__sq_rollback(rd_store *base)
{
    sq_store *s = (sq_store *)base;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ------------------------------------------------------------------ audit */

int rd__sq_audit_insert(rd_store *base, const rd_audit_row *r, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s,
                  "INSERT INTO audit(seq, ts_ms, actor, action, object, before_sha256, after_sha256, detail,"
                  " prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?,?)",
                  &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_int64(st, 2, r->ts_ms);
    bind(st, 3, r->actor);
    bind(st, 4, r->action);
    bind(st, 5, r->object);
    bind(st, 6, r->before_sha256);
    bind(st, 7, r->after_sha256);
    bind(st, 8, r->detail);
    bind(st, 9, r->prev_hash);
    bind(st, 10, r->hash);
    return step_done(s, st, "appending to the audit chain", err);
}

int rd__sq_audit_last(rd_store *base, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &st, err);
    if (rc)
        return rc;
    *seq = 0;
    hash[0] = '\0';
    rc = step_row(s, st, "reading the audit chain", err);
    if (rc == RD_OK) {
        *seq = sqlite3_column_int64(st, 0);
        col(st, 1, hash, RD_SHA256_HEX);
    }
    sqlite3_finalize(st);
    return rc == RD_ENOTFOUND ? RD_OK : rc;
}

int rd__sq_audit_count(rd_store *base, uint64_t *n, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT count(*) FROM audit", &st, err);
    if (rc)
        return rc;
    rc = step_row(s, st, "counting the audit chain", err);
    *n = rc == RD_OK ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == RD_ENOTFOUND ? RD_OK : rc;
}

int rd__sq_audit_scan(rd_store *base, int64_t from_seq, size_t limit, bool desc,
                      int (*fn)(void *, const rd_audit_row *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT seq, ts_ms, actor, action, object, before_sha256, after_sha256, detail, prev_hash, hash"
             " FROM audit WHERE seq >= ? ORDER BY seq %s LIMIT ?",
             desc ? "DESC" : "ASC");
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, from_seq);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_audit_row r = {
            .seq = sqlite3_column_int64(st, 0),
            .ts_ms = sqlite3_column_int64(st, 1),
            .actor = (const char *)sqlite3_column_text(st, 2),
            .action = (const char *)sqlite3_column_text(st, 3),
            .object = (const char *)sqlite3_column_text(st, 4),
            .before_sha256 = (const char *)sqlite3_column_text(st, 5),
            .after_sha256 = (const char *)sqlite3_column_text(st, 6),
            .detail = (const char *)sqlite3_column_text(st, 7),
            .prev_hash = (const char *)sqlite3_column_text(st, 8),
            .hash = (const char *)sqlite3_column_text(st, 9),
        };
        rc = fn(ud, &r);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "reading the audit chain");
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ users and tokens */

static void read_user(sqlite3_stmt *st, rd_user_row *u)
{
    memset(u, 0, sizeof *u);
    col(st, 0, u->name, sizeof u->name);
    col(st, 1, u->role, sizeof u->role);
    u->disabled = sqlite3_column_int(st, 2) != 0;
    u->created_ms = sqlite3_column_int64(st, 3);
    col(st, 4, u->created_by, sizeof u->created_by);
}

int rd__sq_user_get(rd_store *base, const char *name, rd_user_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc =
        prep(s, "SELECT name, role, disabled, created_ms, created_by FROM users WHERE name = ?", &st, err);
    if (rc)
        return rc;
    bind(st, 1, name);
    rc = step_row(s, st, "reading a user", err);
    if (rc == RD_OK)
        read_user(st, out);
    sqlite3_finalize(st);
    return rc == RD_ENOTFOUND ? rd_err_set(err, RD_ENOTFOUND, "no user \"%s\"", name) : rc;
}

int rd__sq_user_put(rd_store *base, const rd_user_row *u, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(
        s, "INSERT OR REPLACE INTO users(name, role, disabled, created_ms, created_by) VALUES(?,?,?,?,?)",
        &st, err);
    if (rc)
        return rc;
    bind(st, 1, u->name);
    bind(st, 2, u->role);
    sqlite3_bind_int(st, 3, u->disabled);
    sqlite3_bind_int64(st, 4, u->created_ms);
    bind(st, 5, u->created_by);
    return step_done(s, st, "writing a user", err);
}

int rd__sq_user_list(rd_store *base, int (*fn)(void *, const rd_user_row *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc =
        prep(s, "SELECT name, role, disabled, created_ms, created_by FROM users ORDER BY name", &st, err);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_user_row u;
        read_user(st, &u);
        rc = fn(ud, &u);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "listing users");
    sqlite3_finalize(st);
    return rc;
}

#define TOKEN_COLS "id, user, hash, scopes, created_ms, expires_ms, revoked_ms, last_used_ms, created_by"

/* The columns a token is read with: a read-only handle on a database before schema 5 (not
 * migrated) has no parent column, and its tokens are no sessions. */
static const char *token_cols(const sq_store *s)
{
    return s->schema && s->schema < 5 ? TOKEN_COLS ", ''" : TOKEN_COLS ", parent";
}

static void read_token(sqlite3_stmt *st, rd_token_row *t)
{
    memset(t, 0, sizeof *t);
    col(st, 0, t->id, sizeof t->id);
    col(st, 1, t->user, sizeof t->user);
    col(st, 2, t->hash, sizeof t->hash);
    t->scopes = (uint32_t)sqlite3_column_int64(st, 3);
    t->created_ms = sqlite3_column_int64(st, 4);
    t->expires_ms = sqlite3_column_int64(st, 5);
    t->revoked_ms = sqlite3_column_int64(st, 6);
    t->last_used_ms = sqlite3_column_int64(st, 7);
    col(st, 8, t->created_by, sizeof t->created_by);
    col(st, 9, t->parent, sizeof t->parent);
}

int rd__sq_token_get(rd_store *base, const char *id, rd_token_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM tokens WHERE id = ?", token_cols(s));
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    bind(st, 1, id);
    rc = step_row(s, st, "reading a token", err);
    if (rc == RD_OK)
        read_token(st, out);
    sqlite3_finalize(st);
    return rc == RD_ENOTFOUND ? rd_err_set(err, RD_ENOTFOUND, "no token with id %s", id) : rc;
}

int rd__sq_token_put(rd_store *base, const rd_token_row *t, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s, "INSERT OR REPLACE INTO tokens(" TOKEN_COLS ", parent) VALUES(?,?,?,?,?,?,?,?,?,?)", &st,
                  err);
    if (rc)
        return rc;
    bind(st, 1, t->id);
    bind(st, 2, t->user);
    bind(st, 3, t->hash);
    sqlite3_bind_int64(st, 4, t->scopes);
    sqlite3_bind_int64(st, 5, t->created_ms);
    sqlite3_bind_int64(st, 6, t->expires_ms);
    sqlite3_bind_int64(st, 7, t->revoked_ms);
    sqlite3_bind_int64(st, 8, t->last_used_ms);
    bind(st, 9, t->created_by);
    bind(st, 10, t->parent);
    return step_done(s, st, "writing a token", err);
}

int rd__sq_token_mark_used(rd_store *base, const char *id, int64_t used_ms, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s, "UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1 AND last_used_ms < ?2", &st, err);
    if (rc)
        return rc;
    bind(st, 1, id);
    sqlite3_bind_int64(st, 2, used_ms);
    return step_done(s, st, "marking a token used", err);
}

int rd__sq_token_list(rd_store *base, const char *user, int (*fn)(void *, const rd_token_row *), void *ud,
                      rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM tokens WHERE ?1 IS NULL OR user = ?1 ORDER BY created_ms, id",
             token_cols(s));
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (user)
        bind(st, 1, user);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_token_row t;
        read_token(st, &t);
        rc = fn(ud, &t);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "listing tokens");
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ change requests */

static const char change_cols[] = "id, kind, target, state, title, author, created_ms, updated_ms, revision,"
                                  " base_sha, payload_sha, editors, approvals, history, published_ms,"
                                  " published_by, version";

static int read_change(sqlite3_stmt *st, rd_change_row *r, rd_err *err)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    col(st, 1, r->kind, sizeof r->kind);
    col(st, 2, r->target, sizeof r->target);
    col(st, 3, r->state, sizeof r->state);
    col(st, 4, r->title, sizeof r->title);
    col(st, 5, r->author, sizeof r->author);
    r->created_ms = sqlite3_column_int64(st, 6);
    r->updated_ms = sqlite3_column_int64(st, 7);
    r->revision = sqlite3_column_int64(st, 8);
    col(st, 9, r->base_sha, sizeof r->base_sha);
    col(st, 10, r->payload_sha, sizeof r->payload_sha);
    r->editors_json = col_dup(st, 11);
    r->approvals_json = col_dup(st, 12);
    r->history_json = col_dup(st, 13);
    r->published_ms = sqlite3_column_int64(st, 14);
    col(st, 15, r->published_by, sizeof r->published_by);
    r->version = sqlite3_column_int64(st, 16);
    if (r->editors_json && r->approvals_json && r->history_json)
        return RD_OK;
    rd_store_change_row_free(r);
    return rd_err_set(err, RD_ENOMEM, "out of memory");
}

int rd__sq_change_get(rd_store *base, int64_t id, rd_change_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM changes WHERE id = ?", change_cols);
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = step_row(s, st, "reading a change request", err);
    if (rc == RD_OK)
        rc = read_change(st, out, err);
    sqlite3_finalize(st);
    return rc == RD_ENOTFOUND ? rd_err_set(err, RD_ENOTFOUND, "no change request %lld", (long long)id) : rc;
}

int rd__sq_change_put(rd_store *base, rd_change_row *r, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[512];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO changes(%s) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
             change_cols);
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    if (r->id)
        sqlite3_bind_int64(st, 1, r->id);
    else
        sqlite3_bind_null(st, 1);
    bind(st, 2, r->kind);
    bind(st, 3, r->target);
    bind(st, 4, r->state);
    bind(st, 5, r->title);
    bind(st, 6, r->author);
    sqlite3_bind_int64(st, 7, r->created_ms);
    sqlite3_bind_int64(st, 8, r->updated_ms);
    sqlite3_bind_int64(st, 9, r->revision);
    bind(st, 10, r->base_sha);
    bind(st, 11, r->payload_sha);
    bind(st, 12, r->editors_json ? r->editors_json : "[]");
    bind(st, 13, r->approvals_json ? r->approvals_json : "[]");
    bind(st, 14, r->history_json ? r->history_json : "[]");
    sqlite3_bind_int64(st, 15, r->published_ms);
    bind(st, 16, r->published_by);
    sqlite3_bind_int64(st, 17, r->version);
    rc = step_done(s, st, "writing a change request", err);
    if (!rc && !r->id)
        r->id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int rd__sq_change_list(rd_store *base, const char *state, size_t limit,
                       int (*fn)(void *, const rd_change_row *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM changes WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2", change_cols);
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    if (state)
        bind(st, 1, state);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_change_row r;
        if ((rc = read_change(st, &r, err)))
            break;
        rc = fn(ud, &r);
        rd_store_change_row_free(&r);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "listing change requests");
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ versions */

static const char version_cols[] =
    "kind, target, version, sha, replaced_sha, how, change_id, author, approvers, published_by, ts_ms";

static void read_version(sqlite3_stmt *st, rd_version_row *v)
{
    memset(v, 0, sizeof *v);
    col(st, 0, v->kind, sizeof v->kind);
    col(st, 1, v->target, sizeof v->target);
    v->version = sqlite3_column_int64(st, 2);
    col(st, 3, v->sha, sizeof v->sha);
    col(st, 4, v->replaced_sha, sizeof v->replaced_sha);
    col(st, 5, v->how, sizeof v->how);
    v->change_id = sqlite3_column_int64(st, 6);
    col(st, 7, v->author, sizeof v->author);
    col(st, 8, v->approvers, sizeof v->approvers);
    col(st, 9, v->published_by, sizeof v->published_by);
    v->ts_ms = sqlite3_column_int64(st, 10);
}

int rd__sq_version_append(rd_store *base, rd_version_row *v, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[512];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO versions(%s) SELECT ?1, ?2, coalesce(max(version), 0) + 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
        " ?10 FROM versions WHERE kind = ?1 AND target = ?2 RETURNING version",
        version_cols);
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    bind(st, 1, v->kind);
    bind(st, 2, v->target);
    bind(st, 3, v->sha);
    bind(st, 4, v->replaced_sha);
    bind(st, 5, v->how);
    sqlite3_bind_int64(st, 6, v->change_id);
    bind(st, 7, v->author);
    bind(st, 8, v->approvers);
    bind(st, 9, v->published_by);
    sqlite3_bind_int64(st, 10, v->ts_ms);
    rc = step_row(s, st, "recording a published version", err);
    if (rc == RD_OK)
        v->version = sqlite3_column_int64(st, 0);
    if (rc == RD_OK && sqlite3_step(st) != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "recording a published version");
    sqlite3_finalize(st);
    return rc == RD_ENOTFOUND ? rd_err_set(err, RD_EIO, "%s: no version recorded", s->base.name) : rc;
}

int rd__sq_version_list(rd_store *base, const char *kind, const char *target, size_t limit,
                        int (*fn)(void *, const rd_version_row *), void *ud, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM versions WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR target = ?2)"
             " ORDER BY CASE WHEN ?2 IS NULL THEN ts_ms ELSE version END DESC, version DESC LIMIT ?3",
             version_cols);
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    if (kind)
        bind(st, 1, kind);
    if (target)
        bind(st, 2, target);
    sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : -1);
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rd_version_row v;
        read_version(st, &v);
        rc = fn(ud, &v);
    }
    if (!rc && step != SQLITE_DONE)
        rc = rd__sq_fail(s, err, "listing published versions");
    sqlite3_finalize(st);
    return rc;
}

int rd__sq_version_find(rd_store *base, const char *kind, const char *target, const char *sha, int64_t n,
                        rd_version_row *out, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM versions WHERE kind = ?1 AND target = ?2 AND (?3 IS NULL OR sha = ?3)"
             " AND (?4 = 0 OR version = ?4) ORDER BY version DESC LIMIT 1",
             version_cols);
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    bind(st, 1, kind);
    bind(st, 2, target);
    if (sha)
        bind(st, 3, sha);
    sqlite3_bind_int64(st, 4, n);
    rc = step_row(s, st, "reading a published version", err);
    if (rc == RD_OK)
        read_version(st, out);
    sqlite3_finalize(st);
    if (rc == RD_ENOTFOUND)
        return n ? rd_err_set(err, RD_ENOTFOUND, "%s %s has no version %lld", kind, target, (long long)n)
                 : rd_err_set(err, RD_ENOTFOUND, "%s %s: never published%s%.12s", kind, target,
                              sha ? " with sha256 " : "", sha ? sha : "");
    return rc;
}

/* ------------------------------------------------------------------ settings */

int rd__sq_setting_get(rd_store *base, const char *key, char *value, size_t cap, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT value FROM settings WHERE key = ?", &st, err);
    if (rc)
        return rc;
    bind(st, 1, key);
    rc = step_row(s, st, "reading a setting", err);
    if (rc == RD_OK)
        col(st, 0, value, cap);
    sqlite3_finalize(st);
    return rc == RD_ENOTFOUND ? rd_err_set(err, RD_ENOTFOUND, "no setting %s", key) : rc;
}

int rd__sq_setting_put(rd_store *base, const char *key, const char *value, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int rc = prep(s, "INSERT OR REPLACE INTO settings(key, value) VALUES(?, ?)", &st, err);
    if (rc)
        return rc;
    bind(st, 1, key);
    bind(st, 2, value);
    return step_done(s, st, "writing a setting", err);
}
