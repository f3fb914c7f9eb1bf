/* The store's front: picks the backend from the URL and dispatches to it. Callers never test
 * which backend they hold. */
#include <string.h>

#include "store_int.h"

static const rd_store_ops *const backends[] = {&rd__sqlite_store};

int rd_store_open(const char *url, const rd_store_opts *o, rd_store **out, rd_err *err)
{
    rd_store_opts def = {0};
    if (!o)
        o = &def;
    const char *colon = strchr(url, ':');
    for (size_t i = 0; colon && i < sizeof backends / sizeof(const rd_store_ops *); i++) {
        size_t n = strlen(backends[i]->scheme);
        if ((size_t)(colon - url) == n && !strncmp(url, backends[i]->scheme, n))
            return backends[i]->open(colon + 1, o, out, err);
    }
    if (colon && strstr(url, "://"))
        return rd_err_set(err, RD_EINVAL, "store \"%s\": this riskd stores in sqlite:DIR only", url);
    return rd__sqlite_store.open(url, o, out, err); /* a plain directory: the default backend */
}

void rd_store_close(rd_store *s)
{
    if (s)
        s->ops->close(s);
}

const char *rd_store_name(const rd_store *s) { return s->name; }

int rd_store_log_append(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err)
{
    return n ? s->ops->log_append(s, rows, n, err) : RD_OK;
}

int rd_store_log_scan(rd_store *s, const rd_log_filter *f, int (*fn)(void *, const rd_log_row *), void *ud,
                      rd_err *err)
{
    rd_log_filter all = {0};
    return s->ops->log_scan(s, f ? f : &all, fn, ud, err);
}

int rd_store_log_prune(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err)
{
    return s->ops->log_prune(s, before_ms, deleted, err);
}

int rd_store_blob_put(rd_store *s, const void *data, size_t len, char hex[RD_SHA256_HEX], rd_err *err)
{
    rd_sha256_hex(data, len, hex);
    return s->ops->blob_has(s, hex) ? RD_OK : s->ops->blob_put(s, hex, data, len, err);
}

bool rd_store_blob_has(rd_store *s, const char *hex) { return s->ops->blob_has(s, hex); }

int rd_store_blob_get(rd_store *s, const char *hex, char **data, size_t *len, rd_err *err)
{
    return s->ops->blob_get(s, hex, data, len, err);
}

/* ------------------------------------------------------------------ rollouts (rollout.h) */

static const char *const rollout_states[] = {"running", "holding", "paused", "promoted", "rolled_back"};

const char *rd_rollout_state_name(rd_rollout_state s)
{
    return (unsigned)s < sizeof rollout_states / sizeof *rollout_states ? rollout_states[s] : "unknown";
}

int rd_rollout_state_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof rollout_states / sizeof *rollout_states; i++)
        if (!strcmp(name, rollout_states[i]))
            return (int)i;
    return -1;
}

void rd_rollout_row_free(rd_rollout_row *row)
{
    if (row) {
        rd_free(row->plan_json);
        row->plan_json = NULL;
    }
}

int rd_rollout_get(rd_store *s, const char *flag, rd_rollout_row *out, rd_err *err)
{
    return s->ops->rollout_get(s, flag, out, err);
}

int rd_rollout_put(rd_store *s, rd_rollout_row *row, rd_err *err) { return s->ops->rollout_put(s, row, err); }

int rd_rollout_list(rd_store *s, int (*fn)(void *ud, const rd_rollout_row *r), void *ud, rd_err *err)
{
    return s->ops->rollout_list(s, fn, ud, err);
}

int rd_transition_append(rd_store *s, const rd_transition *t, rd_err *err)
{
    return s->ops->transition_append(s, t, err);
}

int rd_transition_list(rd_store *s, const char *flag, size_t limit,
                       int (*fn)(void *ud, const rd_transition *t), void *ud, rd_err *err)
{
    return s->ops->transition_list(s, flag, limit, fn, ud, err);
}

int rd_rollout_set_status(rd_store *s, const char *flag, const char *json, rd_err *err)
{
    return s->ops->rollout_set_status(s, flag, json, err);
}

int rd_rollout_get_status(rd_store *s, const char *flag, char **json, rd_err *err)
{
    return s->ops->rollout_get_status(s, flag, json, err);
}
