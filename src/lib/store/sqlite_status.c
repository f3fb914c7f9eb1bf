/* The rollout controller's last evaluation, kept beside its row (rollouts.status) so that
 * `riskd rollout status`, another process, shows what the controller saw. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

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

/* ------------------------------------------------------------------ one node (store.h) */

int rd__sq_ping(rd_store *base, rd_err *err)
{
    (void)base;
    (void)err;
    return RD_OK; /* an embedded file: there is no connection to lose */
}

int rd__sq_notify(rd_store *base, const char *what, rd_err *err)
{
    (void)base;
    (void)what;
    (void)err;
    return RD_OK; /* one node: the server that wrote reloads itself; others poll */
}

/* DIR/role.leader beside DIR/riskd.db. */
static void leader_path(const sq_store *s, const char *role, char *out, size_t cap)
{
    const char *slash = strrchr(s->base.name, '/');
    int dir = slash ? (int)(slash - s->base.name) : 1;
    snprintf(out, cap, "%.*s/%s.leader", dir, slash ? s->base.name : ".", role);
}

int rd__sq_leader_try(rd_store *base, const char *role, bool *held, rd_err *err)
{
    sq_store *s = (sq_store *)base;
    size_t n = sizeof s->leader / sizeof *s->leader, i, free_slot = n;
    *held = false;
    for (i = 0; i < n; i++) {
        if (s->leader[i].role[0] && !strcmp(s->leader[i].role, role))
            return *held = true, RD_OK; /* an flock lasts as long as its descriptor */
        if (!s->leader[i].role[0] && free_slot == n)
            free_slot = i;
    }
    if (free_slot == n || strlen(role) >= sizeof s->leader[0].role)
        return rd_err_set(err, RD_ELIMIT, "leadership: too many roles, or role \"%s\" too long", role);
    char path[1200];
    leader_path(s, role, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        return e == EWOULDBLOCK ? RD_OK : rd_err_set(err, RD_EIO, "%s: %s", path, strerror(e));
    }
    snprintf(s->leader[free_slot].role, sizeof s->leader[free_slot].role, "%s", role);
    s->leader[free_slot].fd = fd;
    *held = true;
    return RD_OK;
}

void rd__sq_leader_release(rd_store *base, const char *role)
{
    sq_store *s = (sq_store *)base;
    for (size_t i = 0; i < sizeof s->leader / sizeof *s->leader; i++)
        if (s->leader[i].role[0] && !strcmp(s->leader[i].role, role)) {
            close(s->leader[i].fd); /* frees the flock */
            s->leader[i].role[0] = '\0';
            s->leader[i].fd = -1;
        }
}
