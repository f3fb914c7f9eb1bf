/* The rollout controller's last evaluation, kept beside its row (rollouts.status) so that
 * `riskd rollout status`, another process, shows what the controller saw. */
#include <string.h>

#include "riskd/arena.h"
#include "sqlite_int.h"

int rd__sq_rollout_set_status(rd_store *base, const char *flag, const char *json, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "UPDATE rollouts SET status = ? WHERE flag = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return rd__sq_fail(s, err, "preparing the status update");
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, flag, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? RD_OK : rd__sq_fail(s, err, "writing the rollout's status");
}

int rd__sq_rollout_get_status(rd_store *base, const char *flag, char **json, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    *json = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT status FROM rollouts WHERE flag = ?", -1, &st, NULL) != SQLITE_OK)
        return rd__sq_fail(s, err, "preparing the status query");
    sqlite3_bind_text(st, 1, flag, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        *json = rd_strndup(t, strlen(t));
        rc = *json ? RD_OK : rd_err_set(err, RD_ENOMEM, "out of memory");
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = rd_err_set(err, RD_ENOTFOUND, "rollout %s: no evaluation recorded yet", flag);
    } else {
        rc = rd__sq_fail(s, err, "reading the rollout's status");
    }
    sqlite3_finalize(st);
    return rc;
}
