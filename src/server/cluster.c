/* Several nodes on one store (issue 16): each node learns of a change another node published.
 *
 * One thread per node: it listens for the store's change notifications (PostgreSQL NOTIFY
 * riskd_changes, rd_store_watch). An "auth" one (RD_AUTH_NOTIFY: a token revoked, a user
 * disabled) empties the token cache, so the change holds here at once rather than at the
 * cache's next check; any other marks the store due and polls, so the flag set in force is
 * re-read within the notification's round trip. A periodic check
 * (store_check_ms) catches a notification that was lost (a dropped connection, a node that was
 * down); after a reconnect the store is checked at once, since notifications sent meanwhile
 * are gone. The thread also pings the store, so /ready and /metrics say whether it is up.
 *
 * Nothing here decides what serves: srv_state_poll reads the store's newest flag set and
 * builds the snapshot as for a file. With the store away, the snapshot in force keeps serving. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "riskd/change.h"
#include "riskd/clock.h"
#include "riskd/json.h"
#include "server.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define PING_MS        1000

static struct {
    const srv_config *cfg;
    srv_state *state;
    rd_store *store; /* this thread's: pings */
    rd_store_watch *watch;
    bool want_watch; /* notifications wanted: C.watch, or opened at the first reconnect (a lazy start) */
    pthread_t thread;
    bool running;
    int wake; /* eventfd: stop */
    atomic_bool stop, up, listening;
    atomic_uint_fast64_t notifications, checks, reconnects, reloads[3];
    atomic_int_fast64_t version; /* the flag set version in force (flags = store) */
} C = {.wake = -1};

static int64_t mono_ms(void) { return rd_clock_ns() / 1000000; }

enum { CAUSE_NOTIFY = 0, CAUSE_CHECK, CAUSE_RECONNECT };
static const char *const cause_names[] = {"notify", "check", "reconnect"};

/* Poll now with the store due; count and log when the flag set in force changed. */
static void reload(int cause)
{
    srv_state_store_due(C.state);
    srv_reload_store();
    srv_snapshot *s = srv_state_acquire(C.state);
    int64_t v = s->flags_version, was = atomic_exchange(&C.version, v);
    srv_snapshot_unref(s);
    if (v == was)
        return;
    atomic_fetch_add(&C.reloads[cause], 1);
    char ver[32];
    snprintf(ver, sizeof ver, "%lld", (long long)v);
    srv_log(SRV_INFO, "flag set from the store", "#version", ver, "cause", cause_names[cause], NULL);
}

static void set_up(bool up)
{
    if (atomic_exchange(&C.up, up) != up)
        srv_log(up ? SRV_INFO : SRV_ERROR,
                up ? "the store is reachable again" : "the store is unreachable: serving the last good state",
                "store", rd_store_name(C.store), NULL);
}

/* Drain what the watch received (*any: something that serves changed); false when its
 * connection is lost. */
static bool take_notifications(bool *any)
{
    for (;;) {
        char what[256];
        bool got;
        rd_err e;
        if (rd_store_watch_next(C.watch, what, sizeof what, &got, &e) != RD_OK) {
            if (atomic_exchange(&C.listening, false))
                srv_log(SRV_WARN, "lost the store's change notifications: reconnecting", "error", e.msg,
                        NULL);
            return false;
        }
        if (!got)
            return true;
        atomic_fetch_add(&C.notifications, 1);
        if (!strcmp(what, RD_AUTH_NOTIFY))
            srv_auth_cache_clear(); /* users and tokens: nothing to reload */
        else if (!strcmp(what, "notify"))
            srv_notify_kick(); /* an event in the outbox: nothing to reload */
        else
            *any = true;
    }
}

static bool try_reconnect(int *backoff_ms)
{
    rd_err e;
    atomic_fetch_add(&C.reconnects, 1);
    int rc =
        C.watch ? rd_store_watch_reconnect(C.watch, &e) : rd_store_watch_open(C.cfg->store, &C.watch, &e);
    if (rc == RD_OK) {
        *backoff_ms = BACKOFF_MIN_MS;
        atomic_store(&C.listening, true);
        srv_log(SRV_INFO, "listening for the store's change notifications again", NULL);
        return true;
    }
    *backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
    return false;
}

static void *run(void *arg)
{
    (void)arg;
    int64_t now = mono_ms(), next_check = now + C.cfg->store_check_ms, next_ping = now, next_retry = 0;
    int backoff = BACKOFF_MIN_MS;
    while (!atomic_load(&C.stop)) {
        now = mono_ms();
        int64_t until = next_check < next_ping ? next_check : next_ping;
        if (C.want_watch && !atomic_load(&C.listening) && next_retry < until)
            until = next_retry;
        struct pollfd p[2] = {{.fd = C.wake, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
        if (C.watch && atomic_load(&C.listening))
            p[1].fd = rd_store_watch_fd(C.watch);
        int ms = until > now ? (int)(until - now) : 0;
        if (poll(p, 2, ms) < 0 && errno != EINTR)
            break;
        if (atomic_load(&C.stop))
            break;
        now = mono_ms();
        bool notified = false;
        if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !take_notifications(&notified))
            next_retry = now + backoff;
        if (notified)
            reload(CAUSE_NOTIFY);
        if (C.want_watch && !atomic_load(&C.listening) && now >= next_retry) {
            if (try_reconnect(&backoff)) {
                srv_auth_cache_clear();  /* a revocation's notification may be among those lost */
                reload(CAUSE_RECONNECT); /* what was sent meanwhile is lost: ask */
            } else
                next_retry = now + backoff;
        }
        if (now >= next_ping) {
            rd_err e;
            set_up(rd_store_ping(C.store, &e) == RD_OK);
            next_ping = now + PING_MS;
        }
        if (now >= next_check) {
            atomic_fetch_add(&C.checks, 1);
            reload(CAUSE_CHECK);
            next_check = now + C.cfg->store_check_ms;
        }
    }
    return NULL;
}

bool srv_cluster_needed(const srv_config *cfg)
{
    return rd_change_target_in_store(cfg->flags) || cfg->bundles_store ||
           strncmp(cfg->store, "sqlite:", 7) != 0;
}

int srv_cluster_start(const srv_config *cfg, srv_state *st, rd_err *err)
{
    C.cfg = cfg;
    C.state = st;
    if (!srv_cluster_needed(cfg))
        return RD_OK;
    srv_snapshot *s = srv_state_acquire(st);
    atomic_store(&C.version, s->flags_version);
    srv_snapshot_unref(s);
    atomic_store(&C.up, true);
    int rc = rd_store_open(cfg->store, &srv_store_opts, &C.store, err);
    if (!rc && cfg->store_watch && (rc = rd_store_watch_open(cfg->store, &C.watch, err)) == RD_ESTORE &&
        srv_store_opts.lazy) { /* a start during an outage: listening begins at the first reconnect */
        srv_log(SRV_WARN, "cannot listen for the store's change notifications yet: retrying", "error",
                err->msg, NULL);
        C.want_watch = true;
        atomic_store(&C.up, false);
        rc = RD_OK;
    } else if (!rc && C.watch) {
        C.want_watch = true;
        atomic_store(&C.listening, true);
    }
    if (!rc && (C.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        rc = rd_err_set(err, RD_EIO, "eventfd: %s", strerror(errno));
    atomic_store(&C.stop, false);
    if (!rc && pthread_create(&C.thread, NULL, run, NULL) != 0)
        rc = rd_err_set(err, RD_ENOMEM, "cannot start the store watcher thread");
    if (rc) {
        srv_cluster_stop();
        return rc;
    }
    C.running = true;
    char ms[16];
    snprintf(ms, sizeof ms, "%d", cfg->store_check_ms);
    srv_log(SRV_INFO, "following the store", "store", rd_store_name(C.store), "notifications",
            C.want_watch ? "listening" : "none (this store has no push)", "#check_ms", ms, NULL);
    return RD_OK;
}

void srv_cluster_stop(void)
{
    if (C.running) {
        atomic_store(&C.stop, true);
        uint64_t one = 1;
        if (write(C.wake, &one, sizeof one) < 0) { /* the thread also sees stop at its next timeout */
        }
        pthread_join(C.thread, NULL);
        C.running = false;
    }
    rd_store_watch_close(C.watch);
    C.watch = NULL;
    C.want_watch = false;
    rd_store_close(C.store);
    C.store = NULL;
    if (C.wake >= 0)
        close(C.wake);
    C.wake = -1;
}

bool srv_cluster_store_down(void) { return C.store && !atomic_load(&C.up); }

void srv_cluster_ready_json(rd_buf *b, const srv_snapshot *s)
{
    if (!C.store)
        return;
    rd_buf_puts(b, ",\"store\":{\"url\":");
    rd_json_write_string(b, rd_store_name(C.store), strlen(rd_store_name(C.store)));
    rd_buf_printf(b, ",\"up\":%s,\"notifications\":\"%s\"", atomic_load(&C.up) ? "true" : "false",
                  !C.want_watch               ? "none"
                  : atomic_load(&C.listening) ? "listening"
                                              : "reconnecting");
    if (rd_change_target_in_store(C.cfg->flags))
        rd_buf_printf(b, ",\"flags_version\":%lld", (long long)s->flags_version);
    rd_buf_putc(b, '}');
}

void srv_cluster_metrics(rd_buf *b)
{
    if (!C.store)
        return;
    rd_buf_printf(
        b,
        "# HELP riskd_store_up Whether the store answered its last ping (1) or not (0).\n"
        "# TYPE riskd_store_up gauge\nriskd_store_up %d\n"
        "# HELP riskd_store_notifications_total Change notifications received from the store.\n"
        "# TYPE riskd_store_notifications_total counter\nriskd_store_notifications_total %llu\n"
        "# HELP riskd_store_checks_total Periodic checks of the store's flag set.\n"
        "# TYPE riskd_store_checks_total counter\nriskd_store_checks_total %llu\n"
        "# HELP riskd_store_watch_reconnects_total Attempts to listen for notifications again.\n"
        "# TYPE riskd_store_watch_reconnects_total counter\nriskd_store_watch_reconnects_total %llu\n"
        "# HELP riskd_store_reloads_total New flag sets taken from the store, by what noticed them.\n"
        "# TYPE riskd_store_reloads_total counter\n",
        atomic_load(&C.up) ? 1 : 0, (unsigned long long)atomic_load(&C.notifications),
        (unsigned long long)atomic_load(&C.checks), (unsigned long long)atomic_load(&C.reconnects));
    for (int i = 0; i < 3; i++)
        rd_buf_printf(b, "riskd_store_reloads_total{cause=\"%s\"} %llu\n", cause_names[i],
                      (unsigned long long)atomic_load(&C.reloads[i]));
    if (rd_change_target_in_store(C.cfg->flags))
        rd_buf_printf(b,
                      "# HELP riskd_store_flags_version The version of the store's flag set in force.\n"
                      "# TYPE riskd_store_flags_version gauge\nriskd_store_flags_version %lld\n",
                      (long long)atomic_load(&C.version));
}
