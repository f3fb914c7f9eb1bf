/* Internals of the store: the backend interface (shared/STYLE.md §10). A backend fills one
 * rd_store_ops and embeds struct rd_store at the start of its own handle. */
#ifndef RISKD_STORE_INT_H
#define RISKD_STORE_INT_H

#include "riskd/rollout.h"
#include "riskd/store.h"

typedef struct rd_store_ops {
    const char *scheme; /* "sqlite" */
    int (*open)(const char *where, const rd_store_opts *o, rd_store **out, rd_err *err);
    void (*close)(rd_store *s);
    int (*log_append)(rd_store *s, const rd_log_row *rows, size_t n, rd_err *err);
    int (*log_scan)(rd_store *s, const rd_log_filter *f, int (*fn)(void *, const rd_log_row *), void *ud,
                    rd_err *err);
    int (*log_prune)(rd_store *s, int64_t before_ms, uint64_t *deleted, rd_err *err);
    int (*blob_put)(rd_store *s, const char *hex, const void *data, size_t len, rd_err *err);
    bool (*blob_has)(rd_store *s, const char *hex);
    int (*blob_get)(rd_store *s, const char *hex, char **data, size_t *len, rd_err *err);
    /* the rollout controller's last evaluation */
    int (*rollout_set_status)(rd_store *s, const char *flag, const char *json, rd_err *err);
    int (*rollout_get_status)(rd_store *s, const char *flag, char **json, rd_err *err);

    /* rollouts and their transitions (include/riskd/rollout.h; SQLite: sqlite_rollout.c) */
    int (*rollout_get)(rd_store *s, const char *flag, rd_rollout_row *out, rd_err *err);
    int (*rollout_put)(rd_store *s, rd_rollout_row *row, rd_err *err);
    int (*rollout_list)(rd_store *s, int (*fn)(void *, const rd_rollout_row *), void *ud, rd_err *err);
    int (*transition_append)(rd_store *s, const rd_transition *t, rd_err *err);
    int (*transition_list)(rd_store *s, const char *flag, size_t limit,
                           int (*fn)(void *, const rd_transition *), void *ud, rd_err *err);
} rd_store_ops;

struct rd_store {
    const rd_store_ops *ops;
    char name[1100];
};

extern const rd_store_ops rd__sqlite_store;
int rd__sq_rollout_set_status(rd_store *s, const char *flag, const char *json, rd_err *err);
int rd__sq_rollout_get_status(rd_store *s, const char *flag, char **json, rd_err *err);

#endif
