/* The PostgreSQL backend's connection: connecting with riskd's defaults, telling a lost server
 * from a failed statement, reconnecting with a backoff, parameters, queries (whole or streamed
 * row by row) and the transactions of one call.
 *
 * Invariants:
 *   - a connection is reset only between transactions: a lost connection inside one (the
 *     caller's, s->base.tx_depth, or a call's own, s->local_tx) fails it, and nothing of it
 *     is replayed on the new connection;
 *   - after a failed reconnect, calls fail fast with RD_ESTORE until the backoff (1 s doubling
 *     to 10 s) has passed, so a node whose database is away does not wait a connect timeout
 *     on every call;
 *   - every PGresult is cleared here or handed to the caller, who clears it;
 *   - libpq's notices (NOTICE: relation already exists, skipping) are dropped: the library
 *     never prints;
 *   - no call waits on the database without a deadline: every statement is sent without
 *     blocking (the connection is in libpq's non-blocking mode) and its answer is awaited with
 *     poll() for at most s->timeout_ms without a byte coming or going. A server that stops
 *     answering without closing (a stopped process or VM, a frozen disk: its kernel still
 *     acknowledges, so no TCP timeout fires) thus fails the call with RD_ESTORE ("no answer
 *     from the database within N s"); the statement is cancelled from a thread of its own
 *     (PQcancel itself waits for the server without a limit), the connection is marked lost
 *     and the reconnect waits for the backoff. The server holds the same budget on its side
 *     (statement_timeout, lock_timeout: the options rd__pg_connect sends). */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "riskd/arena.h"
#include "riskd/clock.h"

/* ------------------------------------------------------------------ parameters */

static int slot(pg_params *p, Oid type)
{
    int i = p->n < RD_PG_MAX_PARAMS ? p->n++ : RD_PG_MAX_PARAMS - 1; /* callers stay far below */
    p->type[i] = type;
    p->val[i] = NULL;
    p->len[i] = 0;
    p->fmt[i] = 0;
    return i;
}

void rd__pg_text(pg_params *p, const char *v)
{
    int i = slot(p, RD_PG_TEXT);
    p->val[i] = v;
}

void rd__pg_int(pg_params *p, int64_t v)
{
    int i = slot(p, RD_PG_INT8);
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->val[i] = p->num[i];
}

void rd__pg_double(pg_params *p, double v)
{
    int i = slot(p, RD_PG_FLOAT8);
    /* 17 significant digits: float8in reads back the very double */
    snprintf(p->num[i], sizeof p->num[i], "%.17g", v);
    p->val[i] = p->num[i];
}

void rd__pg_null(pg_params *p, Oid type) { slot(p, type); }

void rd__pg_bin(pg_params *p, Oid type, const void *data, size_t len)
{
    int i = slot(p, type);
    p->val[i] = data ? data : "";
    p->len[i] = (int)len;
    p->fmt[i] = 1;
}

/* ------------------------------------------------------------------ connecting */

static void ignore_notice(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
}

/* "postgresql://user@host:port/db" from what uri sets (never its password). */
static void name_of(const char *uri, char *name, size_t cap)
{
    const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &msg);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    snprintf(name, cap, "postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "", host ? host : "",
             port ? ":" : "", port ? port : "", db ? db : "");
    PQconninfoFree(opts);
    PQfreemem(msg);
}

/* The server-side budgets, then the URI's own options (or PGOPTIONS when it has none: an
 * options keyword given here would hide it), which win: the server applies -c switches in
 * order. statement_timeout stays a second below the client's wait, so that a live but slow
 * server answers with its own cancel (57014: the connection is kept); lock_timeout is half of
 * it (55P03 names the wait). The keepalives and tcp_user_timeout are the server's: a host that
 * died or froze is noticed by the server within about 25 s, and the session's advisory locks
 * (leadership, a governance transaction's) go with it instead of after the kernel's 2 h;
 * idle_in_transaction_session_timeout frees them from a client alive but stuck inside a
 * transaction. */
static void server_options(const char *uri, int timeout_ms, char *out, size_t cap)
{
    const char *own = NULL;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &msg);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "options") && o->val && *o->val)
            own = o->val;
    if (!own)
        own = getenv("PGOPTIONS");
    int stmt = timeout_ms > 2000 ? timeout_ms - 1000 : timeout_ms / 2;
    snprintf(out, cap,
             "-c statement_timeout=%d -c lock_timeout=%d -c idle_in_transaction_session_timeout=%d"
             " -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
             " -c tcp_user_timeout=10000%s%s",
             stmt, timeout_ms / 2, RD_PG_IDLE_TX_MS, own ? " " : "", own ? own : "");
    PQconninfoFree(opts);
    PQfreemem(msg);
}

PGconn *rd__pg_connect(const char *uri, int timeout_ms, char *name, size_t cap)
{
    /* riskd's defaults first: the URI's own settings come after them, and libpq keeps the last
     * value given for a keyword (options excepted: server_options merges them). keepalives
     * notice a server that vanished without closing while the connection is idle;
     * tcp_user_timeout (ms) while data is unacknowledged, so a call on a partitioned network
     * fails with RD_ESTORE within 10 s instead of the kernel's ~15 min. */
    static const char *const keys[] = {"connect_timeout",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout",
                                       "application_name",
                                       "client_encoding",
                                       "dbname",
                                       "options",
                                       NULL};
    char options[1200];
    server_options(uri, timeout_ms, options, sizeof options);
    const char *vals[] = {"3", "1", "10", "5", "3", "10000", "riskd", "UTF8", uri, options, NULL};
    if (name)
        name_of(uri, name, cap);
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, ignore_notice, NULL); /* kept by PQreset */
    return c;
}

/* ------------------------------------------------------------------ waiting with a deadline */

static int64_t mono_ms(void) { return rd_clock_ns() / 1000000; }

static void *cancel_run(void *arg)
{
    char buf[256];
    PQcancel(arg, buf, sizeof buf); /* a failure only means the statement runs to its own timeout */
    PQfreeCancel(arg);
    return NULL;
}

void rd__pg_cancel(PGconn *c)
{
    /* PQcancel opens a connection of its own and reads until the server closes it, without a
     * limit: on a server that stopped answering it would block the caller as the statement did,
     * so it runs on a detached thread, which ends when the server answers or the connection
     * attempt fails (a thread per expired deadline: a lost connection waits for the backoff) */
    PGcancel *cc = PQgetCancel(c);
    pthread_attr_t a;
    pthread_t t;
    if (!cc)
        return;
    if (pthread_attr_init(&a) != 0) {
        PQfreeCancel(cc);
        return;
    }
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, cancel_run, cc) != 0)
        PQfreeCancel(cc);
    pthread_attr_destroy(&a);
}

/* Until libpq can hand over the next result without blocking: 1 (also when the connection
 * closed: the result is the error), or 0 when timeout_ms passed without a byte sent or
 * received, or -1 when the connection failed otherwise (PQerrorMessage says why).
 * What is left of the query is flushed on the way (non-blocking mode: nothing here waits but
 * poll). */
static int await_result(PGconn *c, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int out = PQflush(c);
        if (out < 0 || !PQconsumeInput(c))
            return PQsocket(c) < 0 ? 1 : -1; /* closed: PQgetResult gives the error without waiting */
        if (out == 0 && !PQisBusy(c))
            return 1;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = PQsocket(c), .events = (short)(POLLIN | (out ? POLLOUT : 0))};
        if (p.fd < 0)
            return -1;
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            deadline = mono_ms() + timeout_ms; /* the server is answering: a long answer is no hang */
    }
}

int rd__pg_answer_one(PGconn *c, int timeout_ms, PGresult **r)
{
    int w = await_result(c, timeout_ms);
    *r = w > 0 ? PQgetResult(c) : NULL;
    return w;
}

PGresult *rd__pg_answer(PGconn *c, bool sent, int timeout_ms, bool *late)
{
    PGresult *keep = NULL;
    *late = false;
    if (!sent)
        return NULL;
    for (;;) {
        int w = await_result(c, timeout_ms);
        if (w <= 0) {
            *late = w == 0;
            PQclear(keep);
            return NULL;
        }
        PGresult *r = PQgetResult(c);
        if (!r)
            return keep;
        /* as PQexec: the last result, unless an error came first (a script stops at it) */
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
    }
}

/* The connection stopped answering: cancel what runs, and mark the connection lost with the
 * wait named; the next call reconnects after the backoff's first step, not at once (a server
 * that hangs would make it wait connect_timeout on every call). */
static void expired(pg_store *s)
{
    rd__pg_cancel(s->conn);
    s->broken = true;
    s->late = true;
    snprintf(s->lost, sizeof s->lost, "no answer from the database within %d s",
             (s->timeout_ms + 999) / 1000);
    if (!s->backoff_ms) {
        s->backoff_ms = 1000;
        s->retry_at_ms = mono_ms() + s->backoff_ms;
    }
}

PGresult *rd__pg_run(pg_store *s, bool sent)
{
    bool late;
    s->late = false;
    PGresult *r = rd__pg_answer(s->conn, sent, s->timeout_ms, &late);
    if (late)
        expired(s);
    return r;
}

bool rd__pg_nonblocking(PGconn *c) { return PQsetnonblocking(c, 1) == 0; }

PGresult *rd__pg_exec_raw(pg_store *s, const char *sql)
{
    return rd__pg_run(s, rd__pg_nonblocking(s->conn) && PQsendQuery(s->conn, sql));
}

PGresult *rd__pg_exec_params(pg_store *s, const char *sql, const pg_params *p, int result_fmt)
{
    return rd__pg_run(s,
                      rd__pg_nonblocking(s->conn) &&
                          PQsendQueryParams(s->conn, sql, p ? p->n : 0, p ? p->type : NULL, p ? p->val : NULL,
                                            p ? p->len : NULL, p ? p->fmt : NULL, result_fmt));
}

/* ------------------------------------------------------------------ errors */

bool rd__pg_lost(PGconn *c, const PGresult *res)
{
    if (!c || PQstatus(c) == CONNECTION_BAD)
        return true;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state || !*state)
        return true; /* libpq's own failure: it could not send or read */
    /* besides a lost connection and a shutdown, what waiting cures counts as "unreachable"
     * (RD_ESTORE: the decision log spools, admin writes answer 503): a read-only database (a
     * failover landing on a standby), a cancelled statement, a serialization failure or
     * deadlock, a lock not available, insufficient resources (disk full, too many
     * connections), an operator intervention or a system error */
    return !strncmp(state, "08", 2) || !strncmp(state, "53", 2) || !strncmp(state, "57", 2) ||
           !strncmp(state, "58", 2) || !strcmp(state, "25006") || !strcmp(state, "40001") ||
           !strcmp(state, "40P01") || !strcmp(state, "55P03");
}

/* msg on one line, without libpq's trailing newline and tab-indented hints. */
static void one_line(const char *msg, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = msg ? msg : ""; *p && n + 1 < cap; p++) {
        char c = *p == '\n' || *p == '\t' || *p == '\r' ? ' ' : *p;
        if (c == ' ' && (n == 0 || out[n - 1] == ' '))
            continue;
        out[n++] = c;
    }
    while (n && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

void rd__pg_message(PGconn *c, const PGresult *res, char *out, size_t cap)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m || !*m)
        m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m)
        m = c ? PQerrorMessage(c) : "out of memory";
    one_line(m, out, cap);
    if (!*out)
        snprintf(out, cap, "the connection failed");
}

int rd__pg_fail(pg_store *s, PGresult *res, const char *what, rd_err *err)
{
    char msg[sizeof s->lost];
    if (!res && s->late)
        snprintf(msg, sizeof msg, "%s", s->lost); /* the deadline passed: libpq has nothing to say */
    else
        rd__pg_message(s->conn, res, msg, sizeof msg);
    int rc;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->state, sizeof s->state, "%s", state ? state : "");
    if (rd__pg_lost(s->conn, res)) {
        s->state[0] = '\0';
        s->broken = true; /* even when libpq still says OK (57P01 comes before the close) */
        snprintf(s->lost, sizeof s->lost, "%s", msg);
        rc = rd_err_set(err, RD_ESTORE, "%s: the database is unreachable: %s", s->base.name, msg);
    } else {
        rc = rd_err_set(err, RD_EIO, "%s: %s: %s: %s", s->base.name, what, s->state, msg);
    }
    PQclear(res);
    return rc;
}

/* A statement without parameters on the connection as it is (no reconnect). */
static int raw_exec(pg_store *s, const char *sql, const char *what, rd_err *err)
{
    PGresult *r = rd__pg_exec_raw(s, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return RD_OK;
    }
    return rd__pg_fail(s, r, what, err);
}

int rd__pg_session(pg_store *s, rd_err *err)
{
    /* floats in the shortest text that reads back as the same double, whatever the server's
       configuration says (the outcome scores are compared to the bit) */
    int rc = raw_exec(s, "SET extra_float_digits = 3", "configuring the session", err);
    if (!rc && s->read_only)
        rc = raw_exec(s, "SET default_transaction_read_only = on", "opening read-only", err);
    return rc;
}

static int unreachable(pg_store *s, rd_err *err, const char *why)
{
    return rd_err_set(err, RD_ESTORE, "%s: the database is unreachable: %s", s->base.name, why);
}

/* A handle opened lazily, connected at last: the schema is checked (and migrated) before its
 * first statement; until that succeeds every call asks again (a foreign database stays refused). */
static int check_late(pg_store *s, rd_err *err)
{
    s->unchecked = false; /* the migration's own statements come through rd__pg_ready */
    int rc = rd__pg_migrate(s, err);
    if (rc)
        s->unchecked = true;
    return rc;
}

int rd__pg_ready(pg_store *s, rd_err *err)
{
    if (s->busy)
        return rd_err_set(err, RD_EINTERNAL,
                          "%s: a store call from a scan's callback (the scan holds the "
                          "connection)",
                          s->base.name);
    if (PQstatus(s->conn) == CONNECTION_OK && !s->broken)
        return s->unchecked ? check_late(s, err) : RD_OK;
    if (s->base.tx_depth > 0 || s->local_tx > 0)
        return unreachable(s, err, "the connection was lost inside a transaction (rolled back)");
    int64_t now = mono_ms();
    if (now < s->retry_at_ms) {
        char why[400];
        snprintf(why, sizeof why, "%s (next attempt in %lld ms)", s->lost, (long long)(s->retry_at_ms - now));
        return unreachable(s, err, why);
    }
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        s->backoff_ms = s->backoff_ms ? (s->backoff_ms >= 5000 ? 10000 : 2 * s->backoff_ms) : 1000;
        s->retry_at_ms = mono_ms() + s->backoff_ms;
        rd__pg_message(s->conn, NULL, s->lost, sizeof s->lost);
        return unreachable(s, err, s->lost);
    }
    /* a new session: its locks and prepared statements are gone (s->gen tells the holders) */
    s->broken = false;
    s->backoff_ms = 0;
    s->retry_at_ms = 0;
    s->gen++;
    int rc = rd__pg_session(s, err);
    return rc || !s->unchecked ? rc : check_late(s, err);
}

/* ------------------------------------------------------------------ queries */

int rd__pg_query(pg_store *s, const char *sql, const pg_params *p, int result_fmt, PGresult **res,
                 const char *what, rd_err *err)
{
    if (res)
        *res = NULL;
    int rc = rd__pg_ready(s, err);
    if (rc)
        return rc;
    PGresult *r = rd__pg_exec_params(s, sql, p, result_fmt);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return rd__pg_fail(s, r, what, err);
    if (res)
        *res = r;
    else
        PQclear(r);
    return RD_OK;
}

int rd__pg_exec(pg_store *s, const char *sql, const pg_params *p, PGresult **res, const char *what,
                rd_err *err)
{
    return rd__pg_query(s, sql, p, 0, res, what, err);
}

int rd__pg_unlimit(pg_store *s, int timeout_ms, int *saved, rd_err *err)
{
    *saved = s->timeout_ms;
    int rc = rd__pg_exec(s, "SET statement_timeout = 0", NULL, NULL, "lifting the statement timeout", err);
    if (!rc && timeout_ms > s->timeout_ms)
        s->timeout_ms = timeout_ms;
    return rc;
}

void rd__pg_relimit(pg_store *s, int saved)
{
    s->timeout_ms = saved;
    /* an aborted transaction's rollback undoes the SET by itself; a lost session had it alone */
    if (s->broken || PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) == PQTRANS_INERROR)
        return;
    PGresult *r = rd__pg_exec_raw(s, "RESET statement_timeout"); /* back to the connection's */
    if (PQresultStatus(r) != PGRES_COMMAND_OK && rd__pg_lost(s->conn, r))
        s->broken = true;
    PQclear(r);
}

/* The rows of what was sent, one by one, each awaited with the deadline. */
static int stream_rows(pg_store *s, int (*fn)(void *, const PGresult *), void *ud, const char *what,
                       rd_err *err)
{
    int rc = RD_OK;
    bool stopped = false;
    for (;;) {
        PGresult *r;
        int w = rd__pg_answer_one(s->conn, s->timeout_ms, &r);
        if (w <= 0) { /* no answer in time, or the connection failed: the rows are not all here */
            if (w == 0)
                expired(s);
            s->busy = false;
            return rc ? rc : rd__pg_fail(s, NULL, what, err);
        }
        if (!r)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !rc && !stopped) {
            if ((rc = fn(ud, r)) != 0) {
                stopped = true;
                rd__pg_cancel(s->conn); /* the rows are not wanted any more */
            }
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !stopped && !rc) {
            s->busy = false;
            rc = rd__pg_fail(s, r, what, err);
            s->busy = true;
            if (s->broken) /* lost: libpq has no more to give */
                break;
            continue; /* cleared; read the rest until libpq says the query is over */
        }
        PQclear(r); /* after a stop: the rows in flight, then the cancel's 57014 */
    }
    s->busy = false;
    return rc;
}

int rd__pg_stream(pg_store *s, const char *sql, const pg_params *p, int (*fn)(void *, const PGresult *),
                  void *ud, const char *what, rd_err *err)
{
    /* a scan runs as long as its rows keep coming (an export of the whole log): no statement
     * timeout on the server, and the deadline is for each row */
    int saved, rc = rd__pg_ready(s, err);
    if (rc || (rc = rd__pg_unlimit(s, 0, &saved, err)))
        return rc;
    s->late = false;
    if (!rd__pg_nonblocking(s->conn) ||
        !PQsendQueryParams(s->conn, sql, p ? p->n : 0, p ? p->type : NULL, p ? p->val : NULL,
                           p ? p->len : NULL, p ? p->fmt : NULL, 0))
        rc = rd__pg_fail(s, NULL, what, err);
    if (!rc) {
        PQsetSingleRowMode(s->conn);
        s->busy = true;
        rc = stream_rows(s, fn, ud, what, err);
    }
    rd__pg_relimit(s, saved);
    return rc;
}

uint64_t rd__pg_changes(const PGresult *r) { return strtoull(PQcmdTuples((PGresult *)r), NULL, 10); }

const char *rd__pg_str(const PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

int64_t rd__pg_i64(const PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? 0 : strtoll(PQgetvalue(r, i, col), NULL, 10);
}

void rd__pg_copy(const PGresult *r, int i, int col, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, i, col) ? "" : PQgetvalue(r, i, col));
}

char *rd__pg_dup(const PGresult *r, int i, int col)
{
    bool null = PQgetisnull(r, i, col);
    return rd_strndup(null ? "" : PQgetvalue(r, i, col), null ? 0 : (size_t)PQgetlength(r, i, col));
}

/* ------------------------------------------------------------------ transactions */

int rd__pg_tx_begin(pg_store *s, int64_t lock, bool *nested, rd_err *err)
{
    *nested = false; /* on failure nothing is left open: the caller must not call rd__pg_tx_end */
    int rc = rd__pg_ready(s, err);
    if (rc)
        return rc;
    *nested = PQtransactionStatus(s->conn) != PQTRANS_IDLE;
    if ((rc = rd__pg_exec(s, *nested ? "SAVEPOINT rd_call" : "BEGIN", NULL, NULL, "starting a transaction",
                          err)))
        return rc;
    s->local_tx++;
    if (lock) {
        pg_params p = {0};
        rd__pg_int(&p, lock);
        rc = rd__pg_exec(s, "SELECT pg_advisory_xact_lock($1)", &p, NULL, "taking the store's write lock",
                         err);
        if (rc)
            return rd__pg_tx_end(s, *nested, rc, err);
    }
    return RD_OK;
}

int rd__pg_commit_now(pg_store *s, rd_err *err)
{
    PGresult *r;
    int rc = rd__pg_exec(s, "COMMIT", NULL, &r, "committing", err);
    if (rc)
        return rc;
    /* COMMIT of a transaction a failed statement aborted answers ROLLBACK, not an error */
    bool rolled_back = !strcmp(PQcmdStatus(r), "ROLLBACK");
    PQclear(r);
    return rolled_back ? rd_err_set(err, RD_EIO,
                                    "%s: committing: a statement of the transaction failed: "
                                    "it was rolled back",
                                    s->base.name)
                       : RD_OK;
}

void rd__pg_rollback_now(pg_store *s, bool nested)
{
    if (s->broken || PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) == PQTRANS_IDLE)
        return; /* a lost connection took the transaction with it */
    PGresult *r =
        rd__pg_exec_raw(s, nested ? "ROLLBACK TO SAVEPOINT rd_call; RELEASE SAVEPOINT rd_call" : "ROLLBACK");
    if (PQresultStatus(r) != PGRES_COMMAND_OK && rd__pg_lost(s->conn, r))
        s->broken = true;
    PQclear(r);
}

int rd__pg_tx_end(pg_store *s, bool nested, int rc, rd_err *err)
{
    if (!rc)
        rc = nested ? rd__pg_exec(s, "RELEASE SAVEPOINT rd_call", NULL, NULL, "committing", err)
                    : rd__pg_commit_now(s, err);
    if (rc)
        rd__pg_rollback_now(s, nested);
    assert(s->local_tx > 0); /* one end per successful rd__pg_tx_begin */
    s->local_tx--;
    return rc;
}
