/* The several-node calls on PostgreSQL (store.h): ping, change notifications (NOTIFY
 * riskd_changes, and a watch: a second connection that LISTENs), and leadership (a session
 * advisory lock per role, held by the store handle's connection).
 *
 * Invariants:
 *   - a leadership lock is remembered with the connection generation that took it: a
 *     reconnect (s->gen bumped) has lost every session lock, so the role is reported not held
 *     and tried again; a held role is checked in pg_locks at each call, which also notices a
 *     connection that died since;
 *   - a notification sent inside a transaction is delivered at its commit, and never if it
 *     rolls back (PostgreSQL's NOTIFY semantics);
 *   - a watch never blocks: next reads what the socket holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "riskd/arena.h"

int rd__pg_ping(rd_store *base, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    /* "SELECT 1" is no work: a server that does not answer it within a few seconds is down for
       the caller (/ready), whatever the handle's deadline for real statements */
    int keep = s->timeout_ms;
    if (s->timeout_ms > RD_PG_PING_MS)
        s->timeout_ms = RD_PG_PING_MS;
    int rc = rd__pg_exec(s, "SELECT 1", NULL, NULL, "ping", err);
    /* a connection that looked alive but was not (the server restarted since): reconnect now,
       unless a transaction was open on it (a deadline that passed has started the backoff) */
    if (rc == RD_ESTORE && s->base.tx_depth == 0 && s->local_tx == 0 && s->backoff_ms == 0)
        rc = rd__pg_exec(s, "SELECT 1", NULL, NULL, "ping", err);
    s->timeout_ms = keep;
    return rc;
}

int rd__pg_notify(rd_store *base, const char *what, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = {0};
    rd__pg_text(&p, what);
    return rd__pg_exec(s, "SELECT pg_notify('riskd_changes', $1)", &p, NULL, "sending a change notification",
                       err);
}

/* ------------------------------------------------------------------ leadership */

/* The role's key: FNV-1a of its name, in the int4 range advisory locks take. */
static int32_t role_key(const char *role)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)role; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (int32_t)(h & 0x7fffffff);
}

static int role_slot(pg_store *s, const char *role)
{
    for (int i = 0; i < RD_PG_LEADERS; i++)
        if (s->leader[i].role[0] && !strcmp(s->leader[i].role, role))
            return i;
    return -1;
}

/* Whether this session still holds the lock (it may have died, or been unlocked elsewhere). */
static int still_held(pg_store *s, int32_t key, bool *held, rd_err *err)
{
    pg_params p = {0};
    PGresult *r;
    rd__pg_int(&p, RD_PG_LEADER_CLASS);
    rd__pg_int(&p, key);
    int rc = rd__pg_exec(s,
                         "SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory'"
                         " AND pid = pg_backend_pid() AND granted AND classid = $1::bigint::oid"
                         " AND objid = $2::bigint::oid AND objsubid = 2",
                         &p, &r, "checking leadership", err);
    if (rc)
        return rc;
    *held = rd__pg_i64(r, 0, 0) > 0;
    PQclear(r);
    return RD_OK;
}

int rd__pg_leader_try(rd_store *base, const char *role, bool *held, rd_err *err)
{
    pg_store *s = (pg_store *)base;
    int i = role_slot(s, role), rc = rd__pg_ready(s, err);
    *held = false;
    if (rc)
        return rc; /* the lock went with the connection; the reconnect that succeeds says so */
    if (i >= 0 && s->leader[i].gen == s->gen) {
        if ((rc = still_held(s, s->leader[i].key, held, err)) || *held)
            return rc;
    }
    if (i >= 0)
        s->leader[i].role[0] = '\0'; /* lost with its connection: try again below */
    for (i = 0; i < RD_PG_LEADERS && s->leader[i].role[0]; i++)
        ;
    if (i == RD_PG_LEADERS || strlen(role) >= sizeof s->leader[0].role)
        return rd_err_set(err, RD_ELIMIT, "leadership: too many roles, or role \"%s\" too long", role);
    int32_t key = role_key(role);
    pg_params p = {0};
    PGresult *r;
    rd__pg_int(&p, RD_PG_LEADER_CLASS);
    rd__pg_int(&p, key);
    if ((rc = rd__pg_exec(s, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", &p, &r, "taking leadership",
                          err)))
        return rc;
    *held = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (*held) {
        snprintf(s->leader[i].role, sizeof s->leader[i].role, "%s", role);
        s->leader[i].key = key;
        s->leader[i].gen = s->gen;
    }
    return RD_OK;
}

void rd__pg_leader_release(rd_store *base, const char *role)
{
    pg_store *s = (pg_store *)base;
    int i = role_slot(s, role);
    if (i < 0)
        return;
    if (s->leader[i].gen == s->gen && PQstatus(s->conn) == CONNECTION_OK && !s->broken && !s->busy) {
        pg_params p = {0};
        rd__pg_int(&p, RD_PG_LEADER_CLASS);
        rd__pg_int(&p, s->leader[i].key);
        rd_err ignored; /* a lost connection has freed it already */
        rd__pg_exec(s, "SELECT pg_advisory_unlock($1::int4, $2::int4)", &p, NULL, "giving up leadership",
                    &ignored);
    }
    s->leader[i].role[0] = '\0';
}

/* ------------------------------------------------------------------ the watch */

typedef struct pg_watch {
    rd_store_watch base;
    PGconn *conn;
    char name[1100];
} pg_watch;

static int watch_lost(pg_watch *w, rd_err *err)
{
    char msg[320];
    rd__pg_message(w->conn, NULL, msg, sizeof msg);
    return rd_err_set(err, RD_ESTORE, "%s: the database is unreachable: %s", w->name, msg);
}

static int listen_now(pg_watch *w, rd_err *err)
{
    bool late;
    PGresult *r =
        rd__pg_answer(w->conn, rd__pg_nonblocking(w->conn) && PQsendQuery(w->conn, "LISTEN riskd_changes"),
                      RD_PG_TIMEOUT_MS, &late);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (late) {
        rd__pg_cancel(w->conn);
        return rd_err_set(err, RD_ESTORE,
                          "%s: the database is unreachable: no answer from the database within %d s", w->name,
                          RD_PG_TIMEOUT_MS / 1000);
    }
    return ok ? RD_OK : watch_lost(w, err);
}

static int watch_fd(const rd_store_watch *base)
{
    const pg_watch *w = (const pg_watch *)base;
    return PQstatus(w->conn) == CONNECTION_OK ? PQsocket(w->conn) : -1;
}

static int watch_next(rd_store_watch *base, char *what, size_t cap, bool *got, rd_err *err)
{
    pg_watch *w = (pg_watch *)base;
    *got = false;
    if (PQstatus(w->conn) != CONNECTION_OK || !PQconsumeInput(w->conn) || PQstatus(w->conn) != CONNECTION_OK)
        return watch_lost(w, err);
    PGnotify *n = PQnotifies(w->conn);
    if (!n)
        return RD_OK;
    if (cap)
        snprintf(what, cap, "%s", n->extra ? n->extra : "");
    *got = true;
    PQfreemem(n);
    return RD_OK;
}

static int watch_reconnect(rd_store_watch *base, rd_err *err)
{
    pg_watch *w = (pg_watch *)base;
    PQreset(w->conn);
    if (PQstatus(w->conn) != CONNECTION_OK)
        return watch_lost(w, err);
    return listen_now(w, err);
}

static void watch_close(rd_store_watch *base)
{
    pg_watch *w = (pg_watch *)base;
    PQfinish(w->conn);
    rd_free(w);
}

static const rd_store_watch_ops watch_ops = {watch_fd, watch_next, watch_reconnect, watch_close};

int rd__pg_watch_open(const char *where, rd_store_watch **out, rd_err *err)
{
    size_t n = strlen(where);
    char *uri = rd_malloc(n + sizeof "postgresql:");
    pg_watch *w = uri ? rd_calloc(1, sizeof *w) : NULL;
    if (!w) {
        rd_free(uri);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    snprintf(uri, n + sizeof "postgresql:", "postgresql:%s", where);
    w->base.ops = &watch_ops;
    w->conn = rd__pg_connect(uri, RD_PG_TIMEOUT_MS, w->name, sizeof w->name);
    rd_free(uri);
    int rc = !w->conn                             ? rd_err_set(err, RD_ENOMEM, "out of memory")
             : PQstatus(w->conn) != CONNECTION_OK ? watch_lost(w, err)
                                                  : listen_now(w, err);
    if (rc) {
        watch_close(&w->base);
        return rc;
    }
    *out = &w->base;
    return RD_OK;
}
