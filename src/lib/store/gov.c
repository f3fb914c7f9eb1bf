/* The store's front for the governance tables and the notification outbox: argument checks
 * and the transaction depth every backend would otherwise count itself. */
#include <string.h>

#include "riskd/arena.h"
#include "riskd/clock.h"
#include "store_int.h"

int rd_store_begin(rd_store *s, rd_err *err)
{
    if (s->tx_depth > 0) {
        if (s->tx_failed) /* the outer transaction is undone: writes now would autocommit */
            return rd_err_set(err, RD_ECONFLICT, "%s: the transaction was rolled back", s->name);
        s->tx_depth++;
        return RD_OK;
    }
    int rc = s->ops->begin(s, err);
    if (!rc) {
        s->tx_depth = 1;
        s->tx_failed = false;
    }
    return rc;
}

int rd_store_commit(rd_store *s, rd_err *err)
{
    if (s->tx_depth <= 0)
        return rd_err_set(err, RD_EINTERNAL, "%s: commit without a transaction", s->name);
    if (--s->tx_depth > 0)
        return RD_OK;
    if (s->tx_failed) {
        s->tx_failed = false;
        return rd_err_set(err, RD_ECONFLICT, "%s: the transaction was rolled back", s->name);
    }
    return s->ops->commit(s, err);
}

void rd_store_rollback(rd_store *s)
{
    if (s->tx_depth <= 0)
        return;
    if (!s->tx_failed) /* undo everything at once; the outer levels can only fail now */
        s->ops->rollback(s);
    s->tx_depth--;
    s->tx_failed = s->tx_depth > 0;
}

int rd_store_audit_insert(rd_store *s, const rd_audit_row *r, rd_err *err)
{
    return s->ops->audit_insert(s, r, err);
}

int rd_store_audit_last(rd_store *s, int64_t *seq, char hash[RD_SHA256_HEX], rd_err *err)
{
    return s->ops->audit_last(s, seq, hash, err);
}

int rd_store_audit_count(rd_store *s, uint64_t *n, rd_err *err) { return s->ops->audit_count(s, n, err); }

int rd_store_audit_scan(rd_store *s, int64_t from_seq, size_t limit, bool desc,
                        int (*fn)(void *, const rd_audit_row *), void *ud, rd_err *err)
{
    return s->ops->audit_scan(s, from_seq, limit, desc, fn, ud, err);
}

int rd_store_user_get(rd_store *s, const char *name, rd_user_row *out, rd_err *err)
{
    return s->ops->user_get(s, name, out, err);
}

int rd_store_user_put(rd_store *s, const rd_user_row *u, rd_err *err) { return s->ops->user_put(s, u, err); }

int rd_store_user_list(rd_store *s, int (*fn)(void *, const rd_user_row *), void *ud, rd_err *err)
{
    return s->ops->user_list(s, fn, ud, err);
}

int rd_store_token_get(rd_store *s, const char *id, rd_token_row *out, rd_err *err)
{
    return s->ops->token_get(s, id, out, err);
}

int rd_store_token_put(rd_store *s, const rd_token_row *t, rd_err *err)
{
    return s->ops->token_put(s, t, err);
}

int rd_store_token_mark_used(rd_store *s, const char *id, int64_t used_ms, rd_err *err)
{
    return s->ops->token_mark_used(s, id, used_ms, err);
}

int rd_store_token_list(rd_store *s, const char *user, int (*fn)(void *, const rd_token_row *), void *ud,
                        rd_err *err)
{
    return s->ops->token_list(s, user, fn, ud, err);
}

int rd_store_change_get(rd_store *s, int64_t id, rd_change_row *out, rd_err *err)
{
    return s->ops->change_get(s, id, out, err);
}

int rd_store_change_put(rd_store *s, rd_change_row *row, rd_err *err)
{
    return s->ops->change_put(s, row, err);
}

int rd_store_change_list(rd_store *s, const char *state, size_t limit,
                         int (*fn)(void *, const rd_change_row *), void *ud, rd_err *err)
{
    return s->ops->change_list(s, state, limit, fn, ud, err);
}

void rd_store_change_row_free(rd_change_row *row)
{
    rd_free(row->editors_json);
    rd_free(row->approvals_json);
    rd_free(row->history_json);
    row->editors_json = row->approvals_json = row->history_json = NULL;
}

int rd_store_version_append(rd_store *s, rd_version_row *v, rd_err *err)
{
    return s->ops->version_append(s, v, err);
}

int rd_store_version_list(rd_store *s, const char *kind, const char *target, size_t limit,
                          int (*fn)(void *, const rd_version_row *), void *ud, rd_err *err)
{
    return s->ops->version_list(s, kind, target, limit, fn, ud, err);
}

int rd_store_version_find(rd_store *s, const char *kind, const char *target, const char *sha,
                          rd_version_row *out, rd_err *err)
{
    return s->ops->version_find(s, kind, target, sha, 0, out, err);
}

int rd_store_version_get(rd_store *s, const char *kind, const char *target, int64_t n, rd_version_row *out,
                         rd_err *err)
{
    if (n <= 0)
        return rd_err_set(err, RD_EINVAL, "version %lld: versions count from 1", (long long)n);
    return s->ops->version_find(s, kind, target, NULL, n, out, err);
}

int rd_store_setting_get(rd_store *s, const char *key, char *value, size_t cap, rd_err *err)
{
    return s->ops->setting_get(s, key, value, cap, err);
}

int rd_store_setting_put(rd_store *s, const char *key, const char *value, rd_err *err)
{
    return s->ops->setting_put(s, key, value, err);
}

/* ------------------------------------------------------------------ notifications (schema 6)
 *
 * The outbox's one invariant lives here: an event is appended inside a store transaction only.
 * Such a transaction holds the governance lock until it commits (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: RD_PG_LOCK_GOV), so an id is drawn only after every earlier appender committed: no
 * row becomes visible later with a smaller id than one a cursor has passed, and a sink that
 * delivers in id order never skips one. The cursors move by compare-and-swap on last_id, so a
 * stale leader's move fails (RD_ECONFLICT) instead of undoing a newer one. */

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/* A UUID in its canonical lowercase form (8-4-4-4-12 hex digits). */
static bool uuid_ok(const char *u)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !is_hex(u[i]))
            return false;
    }
    return u[36] == '\0';
}

/* src into dst (cap bytes), cut before cap on a character boundary, so a PostgreSQL text column
 * never receives half a UTF-8 sequence; NULL: "". */
static void copy_utf8(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap) : 0;
    if (n == cap) { /* too long: back off to the start of the character at the cut */
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A sink's name: what its cursor is keyed by. */
static int check_name(const char *what, const char *name, size_t cap, rd_err *err)
{
    if (!name || !*name)
        return rd_err_set(err, RD_EINVAL, "notification sink: the %s is empty", what);
    if (strlen(name) >= cap)
        return rd_err_set(err, RD_EINVAL, "notification sink \"%.32s...\": the %s is longer than %zu bytes",
                          name, what, cap - 1);
    return RD_OK;
}

int rd_store_outbox_append(rd_store *s, const rd_notify_row *r, bool *added, rd_err *err)
{
    if (s->tx_depth <= 0)
        return rd_err_set(
            err, RD_EINTERNAL,
            "%s: an event goes into the outbox inside a store transaction only (rd_store_begin): "
            "its id must follow commit order",
            s->name);
    if (s->tx_failed)
        return rd_err_set(err, RD_ECONFLICT, "%s: the transaction was rolled back", s->name);
    if (!uuid_ok(r->uid))
        return rd_err_set(err, RD_EINVAL, "outbox: event id \"%.36s\" is not a lowercase UUID", r->uid);
    if (!r->type || !*r->type || !r->object || !r->body)
        return rd_err_set(err, RD_EINVAL, "outbox: event %s has no type, object or body", r->uid);
    if (memchr(r->body, '\0', r->body_len))
        return rd_err_set(err, RD_EINVAL, "outbox: event %s: its body holds a NUL byte", r->uid);
    rd_notify_row row = *r;
    if (!row.node || !*row.node)
        row.node = s->node;
    bool ignored;
    return s->ops->outbox_append(s, &row, rd_clock_unix_ms(), added ? added : &ignored, err);
}

int rd_store_outbox_scan(rd_store *s, int64_t after_id, size_t limit,
                         int (*fn)(void *, const rd_notify_row *), void *ud, rd_err *err)
{
    return s->ops->outbox_scan(s, after_id, limit, fn, ud, err);
}

typedef struct one_event {
    int64_t id;
    bool found;
    int (*fn)(void *, const rd_notify_row *);
    void *ud;
} one_event;

static int event_of(void *ud, const rd_notify_row *r)
{
    one_event *o = ud;
    if (r->id != o->id)
        return RD_OK; /* the next one: id itself is not stored */
    o->found = true;
    return o->fn(o->ud, r);
}

int rd_store_outbox_get(rd_store *s, int64_t id, int (*fn)(void *, const rd_notify_row *), void *ud,
                        rd_err *err)
{
    one_event o = {.id = id, .fn = fn, .ud = ud};
    int rc = id > 0 ? s->ops->outbox_scan(s, id - 1, 1, event_of, &o, err) : RD_OK;
    if (!rc && !o.found)
        rc = rd_err_set(err, RD_ENOTFOUND, "%s: no event %lld in the outbox", s->name, (long long)id);
    return rc;
}

int rd_store_outbox_last_id(rd_store *s, int64_t *id, rd_err *err)
{
    int64_t v = 0;
    int rc = s->ops->outbox_last_id(s, &v, err);
    if (!rc)
        *id = v;
    return rc;
}

int rd_store_outbox_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    uint64_t n = 0;
    int rc = s->ops->outbox_prune(s, before_ms, &n, err);
    if (!rc && deleted)
        *deleted = n;
    return rc;
}

int rd_store_sink_init(rd_store *s, const char *name, const char *kind, int64_t start_id, bool *created,
                       rd_err *err)
{
    rd_sink_row r;
    int rc = check_name("name", name, sizeof r.name, err);
    if (!rc)
        rc = check_name("kind", kind, sizeof r.kind, err);
    if (!rc && start_id < 0)
        rc = rd_err_set(err, RD_EINVAL, "notification sink \"%s\": start id %lld is negative", name,
                        (long long)start_id);
    bool made = false;
    if (!rc)
        rc = s->ops->sink_init(s, name, kind, start_id, rd_clock_unix_ms(), &made, err);
    if (!rc && created)
        *created = made;
    return rc;
}

int rd_store_sink_get(rd_store *s, const char *name, rd_sink_row *out, rd_err *err)
{
    rd_sink_row r;
    int rc = check_name("name", name, sizeof r.name, err);
    if (!rc)
        rc = s->ops->sink_get(s, name, &r, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_ENOTFOUND, "%s: no notification sink \"%s\"", s->name, name);
    if (!rc)
        *out = r;
    return rc;
}

int rd_store_sink_list(rd_store *s, int (*fn)(void *, const rd_sink_row *), void *ud, rd_err *err)
{
    return s->ops->sink_list(s, fn, ud, err);
}

/* The cursor of name moved from `from` to m, or RD_ECONFLICT saying where it is now. */
static int sink_move(rd_store *s, const char *name, int64_t from, const rd__sink_move *m, rd_err *err)
{
    bool moved = false;
    int rc = s->ops->sink_move(s, name, from, m, &moved, err);
    if (rc || moved)
        return rc;
    rd_sink_row now;
    rd_err ignored;
    rc = s->ops->sink_get(s, name, &now, &ignored);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_ECONFLICT,
                          "%s: notification sink \"%s\" has no cursor (never made, or deleted)", s->name,
                          name);
    if (rc)
        return rd_err_set(err, RD_ECONFLICT, "%s: notification sink \"%s\": its cursor is no longer at %lld",
                          s->name, name, (long long)from);
    return rd_err_set(
        err, RD_ECONFLICT,
        "%s: notification sink \"%s\": its cursor is at %lld, not %lld (another node moved it): "
        "read it again",
        s->name, name, (long long)now.last_id, (long long)from);
}

int rd_store_sink_advance(rd_store *s, const char *name, int64_t from, int64_t to, int64_t ok_ms,
                          int64_t now_ms, rd_err *err)
{
    rd_sink_row r;
    int rc = check_name("name", name, sizeof r.name, err);
    if (rc)
        return rc;
    if (to < from)
        return rd_err_set(err, RD_EINVAL,
                          "notification sink \"%s\": a cursor never moves back (%lld to %lld)", name,
                          (long long)from, (long long)to);
    rd__sink_move m = {.to = to, .error = "", .ok_ms = ok_ms, .now_ms = now_ms};
    return sink_move(s, name, from, &m, err);
}

int rd_store_sink_retry(rd_store *s, const char *name, int64_t at, int attempts, int64_t next_ms,
                        const char *error, int64_t now_ms, rd_err *err)
{
    rd_sink_row r;
    int rc = check_name("name", name, sizeof r.name, err);
    if (rc)
        return rc;
    if (attempts < 0)
        return rd_err_set(err, RD_EINVAL, "notification sink \"%s\": %d attempts", name, attempts);
    char msg[sizeof r.last_error];
    copy_utf8(msg, sizeof msg, error);
    rd__sink_move m = {.to = at, .attempts = attempts, .next_ms = next_ms, .error = msg, .now_ms = now_ms};
    return sink_move(s, name, at, &m, err);
}

int rd_store_sink_fail(rd_store *s, const rd_sink_failure *f, int64_t at, rd_err *err)
{
    int rc = check_name("name", f->sink, sizeof f->sink, err);
    if (rc)
        return rc;
    if (f->event_id <= at || f->attempts < 0)
        return rd_err_set(err, RD_EINVAL,
                          "notification sink \"%s\": failure of event %lld after %lld (%d attempts)", f->sink,
                          (long long)f->event_id, (long long)at, f->attempts);
    rd_sink_failure row = *f;
    copy_utf8(row.error, sizeof row.error, f->error);
    /* the cursor keeps the error (the sink's status shows why the last event was given up) */
    rd__sink_move m = {.to = f->event_id, .error = row.error, .now_ms = f->failed_ms};
    if ((rc = rd_store_begin(s, err)))
        return rc;
    if ((rc = sink_move(s, f->sink, at, &m, err)) == RD_ECONFLICT) {
        rd_err ignored; /* nothing was written: the caller's transaction, if any, stays whole */
        rd_store_commit(s, &ignored);
        return rc;
    }
    if (!rc)
        rc = s->ops->failure_put(s, &row, err);
    if (rc) {
        rd_store_rollback(s);
        return rc;
    }
    return rd_store_commit(s, err);
}

int rd_store_sink_failures(rd_store *s, const char *sink, size_t limit,
                           int (*fn)(void *, const rd_sink_failure *), void *ud, rd_err *err)
{
    return s->ops->sink_failures(s, sink, limit, fn, ud, err);
}

int rd_store_sink_delete(rd_store *s, const char *name, rd_err *err)
{
    rd_sink_row r;
    int rc = check_name("name", name, sizeof r.name, err);
    if (rc || (rc = rd_store_begin(s, err)))
        return rc;
    if ((rc = s->ops->sink_delete(s, name, err))) {
        rd_store_rollback(s);
        return rc;
    }
    return rd_store_commit(s, err);
}
