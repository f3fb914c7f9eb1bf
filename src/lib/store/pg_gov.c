/* The governance tables on PostgreSQL (schema 3, pg.c): the audit chain, users, tokens, change
 * requests, published versions and settings; the rules live in the auth, audit and change
 * modules, as on SQLite (sqlite_gov.c, whose semantics these mirror call for call).
 *
 * Invariants:
 *   - rd_store_begin is BEGIN then pg_advisory_xact_lock(RD_PG_LOCK_GOV): every governance
 *     writer on every node waits for the one before to commit, as SQLite's BEGIN IMMEDIATE
 *     makes them, so audit_last then audit_insert inside one transaction keeps the chain
 *     linear and no approval rule is decided on rows another node is changing;
 *   - a number derived from the rows (a version, a change request's id) is computed under that
 *     lock: a call made outside a transaction takes it for itself;
 *   - the audit table refuses UPDATE, DELETE and TRUNCATE by trigger (rd_audit_verify trusts
 *     none of that and recomputes the chain);
 *   - lists read their rows whole before calling back (a callback may call the store: the
 *     rollout status lists transitions per rollout); the audit scan streams, the chain being
 *     as long as the service's history. */
#include <stdio.h>
#include <string.h>

#include "pg_int.h"
#include "riskd/arena.h"

/* ------------------------------------------------------------------ transactions */

int rd__pg_begin(rd_store *base, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    bool nested;
    int rc = rd__pg_tx_begin(s, RD_PG_LOCK_GOV, &nested, err);
    if (!rc && nested) /* the front opens at depth 0 only: a stray transaction is a bug here */
        return rd__pg_tx_end(
            s, true, rd_err_set(err, RD_EINTERNAL, "%s: a transaction was already open", s->base.name), err);
    return rc;
}

int rd__pg_commit(rd_store *base, rd_err *err) { return rd__pg_tx_end((pg_store *)base, false, RD_OK, err); }

void rd__pg_rollback(rd_store *base) { rd__pg_tx_end((pg_store *)base, false, RD_ECONFLICT, NULL); }

/* Run a write that derives a number from the rows under the governance lock: the caller's
 * transaction holds it; outside one, a transaction of its own takes it. */
static int locked_begin(pg_store *s, bool *own, bool *nested, rd_err *err)
{
    *own = false; /* read by locked_end whatever happens */
    *nested = false;
    if (s->base.tx_depth > 0)
        return RD_OK;
    int rc = rd__pg_tx_begin(s, RD_PG_LOCK_GOV, nested, err);
    *own = rc == RD_OK; /* a failed begin has ended what it opened: nothing for locked_end */
    return rc;
}

static int locked_end(pg_store *s, bool own, bool nested, int rc, rd_err *err)
{
    return own ? rd__pg_tx_end(s, nested, rc, err) : rc;
}

/* ------------------------------------------------------------------ audit */

int rd__pg_audit_insert(rd_store *base, const rd_audit_row *r, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_int(&p, r->seq);
    rd__pg_int(&p, r->ts_ms);
    const char *text[] = {r->actor,        r->action, r->object,    r->before_sha256,
                          r->after_sha256, r->detail, r->prev_hash, r->hash};
    for (size_t i = 0; i < sizeof text / sizeof *text; i++)
        rd__pg_text(&p, text[i] ? text[i] : "");
    return rd__pg_exec(
        s,
        "INSERT INTO audit(seq, ts_ms, actor, action, object, before_sha256, after_sha256, detail,"
        " prev_hash, hash) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &p, NULL, "appending to the audit chain", err);
}

int rd__pg_audit_last(rd_store *base, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    int rc = rd__pg_exec(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", NULL, &r,
                         "reading the audit chain", err);
    if (rc)
        return rc;
    *seq = 0;
    hash[0] = '\0';
    if (PQntuples(r) == 1) {
        *seq = rd__pg_i64(r, 0, 0);
        rd__pg_copy(r, 0, 1, hash, RD_SHA256_HEX);
    }
    PQclear(r);
    return RD_OK;
}

int rd__pg_audit_count(rd_store *base, uint64_t *n, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    int rc = rd__pg_exec(s, "SELECT count(*) FROM audit", NULL, &r, "counting the audit chain", err);
    if (rc)
        return rc;
    *n = (uint64_t)rd__pg_i64(r, 0, 0);
    PQclear(r);
    return RD_OK;
}

typedef struct audit_ctx {
    int (*fn)(void *, const rd_audit_row *);
    void *ud;
} audit_ctx;

static int audit_row(void *ud, const PGresult *r)
{
    audit_ctx *c = ud;
    rd_audit_row row = {
        .seq = rd__pg_i64(r, 0, 0),
        .ts_ms = rd__pg_i64(r, 0, 1),
        .actor = rd__pg_str(r, 0, 2),
        .action = rd__pg_str(r, 0, 3),
        .object = rd__pg_str(r, 0, 4),
        .before_sha256 = rd__pg_str(r, 0, 5),
        .after_sha256 = rd__pg_str(r, 0, 6),
        .detail = rd__pg_str(r, 0, 7),
        .prev_hash = rd__pg_str(r, 0, 8),
        .hash = rd__pg_str(r, 0, 9),
    };
    return c->fn(c->ud, &row);
}

int rd__pg_audit_scan(rd_store *base, int64_t from_seq, size_t limit, bool desc,
                      int (*fn)(void *, const rd_audit_row *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT seq, ts_ms, actor, action, object, before_sha256, after_sha256, detail, prev_hash, hash"
             " FROM audit WHERE seq >= $1 ORDER BY seq %s LIMIT $2",
             desc ? "DESC" : "ASC");
    pg_params p = {0};
    rd__pg_int(&p, from_seq);
    if (limit)
        rd__pg_int(&p, (int64_t)limit);
    else
        rd__pg_null(&p, RD_PG_INT8); /* LIMIT NULL: all */
    audit_ctx c = {fn, ud};
    return rd__pg_stream(s, sql, &p, audit_row, &c, "reading the audit chain", err);
}

/* ------------------------------------------------------------------ users and tokens */

static void read_user(const PGresult *r, int i, rd_user_row *u)
{
    memset(u, 0, sizeof *u);
    rd__pg_copy(r, i, 0, u->name, sizeof u->name);
    rd__pg_copy(r, i, 1, u->role, sizeof u->role);
    u->disabled = rd__pg_i64(r, i, 2) != 0;
    u->created_ms = rd__pg_i64(r, i, 3);
    rd__pg_copy(r, i, 4, u->created_by, sizeof u->created_by);
}

int rd__pg_user_get(rd_store *base, const char *name, rd_user_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, name);
    int rc = rd__pg_exec(s, "SELECT name, role, disabled, created_ms, created_by FROM users WHERE name = $1",
                         &p, &r, "reading a user", err);
    if (rc)
        return rc;
    bool found = PQntuples(r) == 1;
    if (found)
        read_user(r, 0, out);
    PQclear(r);
    return found ? RD_OK : rd_err_set(err, RD_ENOTFOUND, "no user \"%s\"", name);
}

int rd__pg_user_put(rd_store *base, const rd_user_row *u, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, u->name);
    rd__pg_text(&p, u->role);
    rd__pg_int(&p, u->disabled);
    rd__pg_int(&p, u->created_ms);
    rd__pg_text(&p, u->created_by);
    return rd__pg_exec(
        s,
        "INSERT INTO users(name, role, disabled, created_ms, created_by) VALUES($1, $2, $3, $4, $5)"
        " ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, disabled = EXCLUDED.disabled,"
        " created_ms = EXCLUDED.created_ms, created_by = EXCLUDED.created_by",
        &p, NULL, "writing a user", err);
}

int rd__pg_user_list(rd_store *base, int (*fn)(void *, const rd_user_row *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    int rc = rd__pg_exec(s, "SELECT name, role, disabled, created_ms, created_by FROM users ORDER BY name",
                         NULL, &r, "listing users", err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_user_row u;
        read_user(r, i, &u);
        rc = fn(ud, &u);
    }
    PQclear(r);
    return rc;
}

#define TOKEN_COLS "id, \"user\", hash, scopes, created_ms, expires_ms, revoked_ms, last_used_ms, created_by"

/* The columns a token is read with: a read-only handle on a database before schema 5 (not
 * migrated) has no parent column, and its tokens are no sessions. */
static const char *token_select(const pg_store *s)
{
    return s->schema && s->schema < 5 ? "SELECT " TOKEN_COLS ", '' FROM tokens"
                                      : "SELECT " TOKEN_COLS ", parent FROM tokens";
}

static void read_token(const PGresult *r, int i, rd_token_row *t)
{
    memset(t, 0, sizeof *t);
    rd__pg_copy(r, i, 0, t->id, sizeof t->id);
    rd__pg_copy(r, i, 1, t->user, sizeof t->user);
    rd__pg_copy(r, i, 2, t->hash, sizeof t->hash);
    t->scopes = (uint32_t)rd__pg_i64(r, i, 3);
    t->created_ms = rd__pg_i64(r, i, 4);
    t->expires_ms = rd__pg_i64(r, i, 5);
    t->revoked_ms = rd__pg_i64(r, i, 6);
    t->last_used_ms = rd__pg_i64(r, i, 7);
    rd__pg_copy(r, i, 8, t->created_by, sizeof t->created_by);
    rd__pg_copy(r, i, 9, t->parent, sizeof t->parent);
}

int rd__pg_token_get(rd_store *base, const char *id, rd_token_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, id);
    char sql[256];
    snprintf(sql, sizeof sql, "%s WHERE id = $1", token_select(s));
    int rc = rd__pg_exec(s, sql, &p, &r, "reading a token", err);
    if (rc)
        return rc;
    bool found = PQntuples(r) == 1;
    if (found)
        read_token(r, 0, out);
    PQclear(r);
    return found ? RD_OK : rd_err_set(err, RD_ENOTFOUND, "no token with id %s", id);
}

int rd__pg_token_put(rd_store *base, const rd_token_row *t, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, t->id);
    rd__pg_text(&p, t->user);
    rd__pg_text(&p, t->hash);
    rd__pg_int(&p, t->scopes);
    rd__pg_int(&p, t->created_ms);
    rd__pg_int(&p, t->expires_ms);
    rd__pg_int(&p, t->revoked_ms);
    rd__pg_int(&p, t->last_used_ms);
    rd__pg_text(&p, t->created_by);
    rd__pg_text(&p, t->parent);
    return rd__pg_exec(s,
                       "INSERT INTO tokens(" TOKEN_COLS
                       ", parent) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                       " ON CONFLICT (id) DO UPDATE SET \"user\" = EXCLUDED.\"user\", hash = EXCLUDED.hash,"
                       " scopes = EXCLUDED.scopes, created_ms = EXCLUDED.created_ms,"
                       " expires_ms = EXCLUDED.expires_ms, revoked_ms = EXCLUDED.revoked_ms,"
                       " last_used_ms = EXCLUDED.last_used_ms, created_by = EXCLUDED.created_by,"
                       " parent = EXCLUDED.parent",
                       &p, NULL, "writing a token", err);
}

/* Outside rd_store_begin: no governance lock (store.h). */
int rd__pg_token_mark_used(rd_store *base, const char *id, int64_t used_ms, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, id);
    rd__pg_int(&p, used_ms);
    return rd__pg_exec(s, "UPDATE tokens SET last_used_ms = $2 WHERE id = $1 AND last_used_ms < $2", &p, NULL,
                       "marking a token used", err);
}

int rd__pg_token_list(rd_store *base, const char *user, int (*fn)(void *, const rd_token_row *), void *ud,
                      rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, user);
    char sql[320];
    snprintf(sql, sizeof sql, "%s WHERE $1::text IS NULL OR \"user\" = $1 ORDER BY created_ms, id",
             token_select(s));
    int rc = rd__pg_exec(s, sql, &p, &r, "listing tokens", err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_token_row t;
        read_token(r, i, &t);
        rc = fn(ud, &t);
    }
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------ change requests */

#define CHANGE_COLS                                                                                          \
    "id, kind, target, state, title, author, created_ms, updated_ms, revision, base_sha, payload_sha,"       \
    " editors, approvals, history, published_ms, published_by, version"

static int read_change(const PGresult *r, int i, rd_change_row *c, rd_err *err)
{
    memset(c, 0, sizeof *c);
    c->id = rd__pg_i64(r, i, 0);
    rd__pg_copy(r, i, 1, c->kind, sizeof c->kind);
    rd__pg_copy(r, i, 2, c->target, sizeof c->target);
    rd__pg_copy(r, i, 3, c->state, sizeof c->state);
    rd__pg_copy(r, i, 4, c->title, sizeof c->title);
    rd__pg_copy(r, i, 5, c->author, sizeof c->author);
    c->created_ms = rd__pg_i64(r, i, 6);
    c->updated_ms = rd__pg_i64(r, i, 7);
    c->revision = rd__pg_i64(r, i, 8);
    rd__pg_copy(r, i, 9, c->base_sha, sizeof c->base_sha);
    rd__pg_copy(r, i, 10, c->payload_sha, sizeof c->payload_sha);
    c->editors_json = rd__pg_dup(r, i, 11);
    c->approvals_json = rd__pg_dup(r, i, 12);
    c->history_json = rd__pg_dup(r, i, 13);
    c->published_ms = rd__pg_i64(r, i, 14);
    rd__pg_copy(r, i, 15, c->published_by, sizeof c->published_by);
    c->version = rd__pg_i64(r, i, 16);
    if (c->editors_json && c->approvals_json && c->history_json)
        return RD_OK;
    rd_store_change_row_free(c);
    return rd_err_set(err, RD_ENOMEM, "out of memory");
}

int rd__pg_change_get(rd_store *base, int64_t id, rd_change_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_int(&p, id);
    int rc = rd__pg_exec(s, "SELECT " CHANGE_COLS " FROM changes WHERE id = $1", &p, &r,
                         "reading a change request", err);
    if (rc)
        return rc;
    rc = PQntuples(r) == 1 ? read_change(r, 0, out, err)
                           : rd_err_set(err, RD_ENOTFOUND, "no change request %lld", (long long)id);
    PQclear(r);
    return rc;
}

/* id 0 takes the next one, as SQLite's INTEGER PRIMARY KEY does (the largest + 1). */
static const char change_put_sql[] =
    "INSERT INTO changes(" CHANGE_COLS ")"
    " SELECT coalesce($1, (SELECT coalesce(max(id), 0) + 1 FROM changes)), $2, $3, $4, $5, $6, $7, $8, $9, "
    "$10,"
    " $11, $12, $13, $14, $15, $16, $17"
    " ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, target = EXCLUDED.target, state = EXCLUDED.state,"
    " title = EXCLUDED.title, author = EXCLUDED.author, created_ms = EXCLUDED.created_ms,"
    " updated_ms = EXCLUDED.updated_ms, revision = EXCLUDED.revision, base_sha = EXCLUDED.base_sha,"
    " payload_sha = EXCLUDED.payload_sha, editors = EXCLUDED.editors, approvals = EXCLUDED.approvals,"
    " history = EXCLUDED.history, published_ms = EXCLUDED.published_ms,"
    " published_by = EXCLUDED.published_by, version = EXCLUDED.version RETURNING id";

int rd__pg_change_put(rd_store *base, rd_change_row *c, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    if (c->id)
        rd__pg_int(&p, c->id);
    else
        rd__pg_null(&p, RD_PG_INT8);
    rd__pg_text(&p, c->kind);
    rd__pg_text(&p, c->target);
    rd__pg_text(&p, c->state);
    rd__pg_text(&p, c->title);
    rd__pg_text(&p, c->author);
    rd__pg_int(&p, c->created_ms);
    rd__pg_int(&p, c->updated_ms);
    rd__pg_int(&p, c->revision);
    rd__pg_text(&p, c->base_sha);
    rd__pg_text(&p, c->payload_sha);
    rd__pg_text(&p, c->editors_json ? c->editors_json : "[]");
    rd__pg_text(&p, c->approvals_json ? c->approvals_json : "[]");
    rd__pg_text(&p, c->history_json ? c->history_json : "[]");
    rd__pg_int(&p, c->published_ms);
    rd__pg_text(&p, c->published_by);
    rd__pg_int(&p, c->version);
    bool own, nested;
    PGresult *r = NULL;
    int rc = locked_begin(s, &own, &nested, err);
    if (!rc)
        rc = rd__pg_exec(s, change_put_sql, &p, &r, "writing a change request", err);
    if ((rc = locked_end(s, own, nested, rc, err)) == RD_OK && !c->id)
        c->id = rd__pg_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int rd__pg_change_list(rd_store *base, const char *state, size_t limit,
                       int (*fn)(void *, const rd_change_row *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, state);
    if (limit)
        rd__pg_int(&p, (int64_t)limit);
    else
        rd__pg_null(&p, RD_PG_INT8);
    int rc = rd__pg_exec(s,
                         "SELECT " CHANGE_COLS " FROM changes WHERE $1::text IS NULL OR state = $1"
                         " ORDER BY id DESC LIMIT $2",
                         &p, &r, "listing change requests", err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_change_row c;
        if ((rc = read_change(r, i, &c, err)))
            break;
        rc = fn(ud, &c);
        rd_store_change_row_free(&c);
    }
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------ versions */

#define VERSION_COLS                                                                                         \
    "kind, target, version, sha, replaced_sha, how, change_id, author, approvers, published_by, ts_ms"

static void read_version(const PGresult *r, int i, rd_version_row *v)
{
    memset(v, 0, sizeof *v);
    rd__pg_copy(r, i, 0, v->kind, sizeof v->kind);
    rd__pg_copy(r, i, 1, v->target, sizeof v->target);
    v->version = rd__pg_i64(r, i, 2);
    rd__pg_copy(r, i, 3, v->sha, sizeof v->sha);
    rd__pg_copy(r, i, 4, v->replaced_sha, sizeof v->replaced_sha);
    rd__pg_copy(r, i, 5, v->how, sizeof v->how);
    v->change_id = rd__pg_i64(r, i, 6);
    rd__pg_copy(r, i, 7, v->author, sizeof v->author);
    rd__pg_copy(r, i, 8, v->approvers, sizeof v->approvers);
    rd__pg_copy(r, i, 9, v->published_by, sizeof v->published_by);
    v->ts_ms = rd__pg_i64(r, i, 10);
}

int rd__pg_version_append(rd_store *base, rd_version_row *v, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, v->kind);
    rd__pg_text(&p, v->target);
    rd__pg_text(&p, v->sha);
    rd__pg_text(&p, v->replaced_sha);
    rd__pg_text(&p, v->how);
    rd__pg_int(&p, v->change_id);
    rd__pg_text(&p, v->author);
    rd__pg_text(&p, v->approvers);
    rd__pg_text(&p, v->published_by);
    rd__pg_int(&p, v->ts_ms);
    bool own, nested;
    PGresult *r = NULL;
    int rc = locked_begin(s, &own, &nested, err);
    if (!rc)
        rc =
            rd__pg_exec(s,
                        "INSERT INTO versions(" VERSION_COLS ") SELECT $1, $2, coalesce(max(version), 0) + 1,"
                        " $3, $4, $5, $6, $7, $8, $9, $10 FROM versions WHERE kind = $1 AND target = $2"
                        " RETURNING version",
                        &p, &r, "recording a published version", err);
    if ((rc = locked_end(s, own, nested, rc, err)) == RD_OK)
        v->version = rd__pg_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int rd__pg_version_list(rd_store *base, const char *kind, const char *target, size_t limit,
                        int (*fn)(void *, const rd_version_row *), void *ud, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, kind);
    rd__pg_text(&p, target);
    if (limit)
        rd__pg_int(&p, (int64_t)limit);
    else
        rd__pg_null(&p, RD_PG_INT8);
    int rc = rd__pg_exec(s,
                         "SELECT " VERSION_COLS " FROM versions WHERE ($1::text IS NULL OR kind = $1)"
                         " AND ($2::text IS NULL OR target = $2)"
                         " ORDER BY CASE WHEN $2::text IS NULL THEN ts_ms ELSE version END DESC, version DESC"
                         " LIMIT $3",
                         &p, &r, "listing published versions", err);
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        rd_version_row v;
        read_version(r, i, &v);
        rc = fn(ud, &v);
    }
    PQclear(r);
    return rc;
}

int rd__pg_version_find(rd_store *base, const char *kind, const char *target, const char *sha, int64_t n,
                        rd_version_row *out, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, kind);
    rd__pg_text(&p, target);
    rd__pg_text(&p, sha);
    rd__pg_int(&p, n);
    int rc = rd__pg_exec(s,
                         "SELECT " VERSION_COLS " FROM versions WHERE kind = $1 AND target = $2"
                         " AND ($3::text IS NULL OR sha = $3) AND ($4 = 0 OR version = $4)"
                         " ORDER BY version DESC LIMIT 1",
                         &p, &r, "reading a published version", err);
    if (rc)
        return rc;
    bool found = PQntuples(r) == 1;
    if (found)
        read_version(r, 0, out);
    PQclear(r);
    if (found)
        return RD_OK;
    return n ? rd_err_set(err, RD_ENOTFOUND, "%s %s has no version %lld", kind, target, (long long)n)
             : rd_err_set(err, RD_ENOTFOUND, "%s %s: never published%s%.12s", kind, target,
                          sha ? " with sha256 " : "", sha ? sha : "");
}

/* ------------------------------------------------------------------ settings */

int rd__pg_setting_get(rd_store *base, const char *key, char *value, size_t cap, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    PGresult *r;
    rd__pg_text(&p, key);
    int rc = rd__pg_exec(s, "SELECT value FROM settings WHERE key = $1", &p, &r, "reading a setting", err);
    if (rc)
        return rc;
    bool found = PQntuples(r) == 1;
    if (found)
        rd__pg_copy(r, 0, 0, value, cap);
    PQclear(r);
    return found ? RD_OK : rd_err_set(err, RD_ENOTFOUND, "no setting %s", key);
}

int rd__pg_setting_put(rd_store *base, const char *key, const char *value, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, key);
    rd__pg_text(&p, value ? value : "");
    return rd__pg_exec(s,
                       "INSERT INTO settings(key, value) VALUES($1, $2)"
                       " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                       &p, NULL, "writing a setting", err);
}
