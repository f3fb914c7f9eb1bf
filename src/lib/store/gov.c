/* The store's front for the governance tables: argument checks and the transaction depth
 * every backend would otherwise count itself. */
#include <string.h>

#include "riskd/arena.h"
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
