/* Notifications inside `riskd serve` (include/riskd/notify.h, docs/notifications.md): one
 * thread per node.
 *
 * Every node writes events: changes and rollout transitions into the outbox with the change
 * (the library does it), and its own node events (a breaker trip, the store away, the decision
 * log's backlog, the certificate's expiry, drift) through a fixed ring that a request thread
 * fills without blocking, then the spool file, then the outbox. One node delivers: the holder of
 * the store's "notify" leadership runs the sinks' cursors. The library makes every decision;
 * this file wires it to the service: the thread, the watchers, the metrics. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "riskd/clock.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/riskd.h"
#include "server.h"

#define RING_SLOTS       256
#define LEADER_CHECK_MS  1000
#define WATCH_MS         1000
#define CERT_CHECK_MS    3600000
#define PRUNE_MS         3600000
#define DELIVER_BUDGET   2000
#define MAX_DRIFT_ALARMS 256

/* A node event as raised: fixed sizes, so raising never allocates. */
typedef struct ring_ev {
    char type[32], object_kind[16], object_id[160], alert_key[224], summary[320], data[768];
    bool firing, has_alert;
    int64_t ts_ms;
} ring_ev;

typedef struct sink_metrics {
    char name[64], kind[16];
    uint64_t sent, failed, attempts_ok, attempts_retry, attempts_fail;
    int64_t pending, oldest_pending_ms, last_ok_ms;
} sink_metrics;

/* A drift alarm that fired (the key names the series, statistic and input). */
typedef struct drift_alarm {
    char key[224];
    bool firing, seen;
} drift_alarm;

static struct {
    const srv_config *cfg;
    srv_notify_transport tr;
    void *tr_ud;
    const rd_dlog *dlog;
    rd_notify_sink *sinks[SRV_MAX_SINKS];
    size_t n;
    rd_store *store;
    rd_notifier *nt;
    char spool[SRV_PATH_MAX + 16];
    char node[128];
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_int efd; /* kicked from other threads (the rollouts', the admin routes') */
    /* the ring (static: node events raised before the thread starts are kept) */
    pthread_mutex_t ring_lock;
    ring_ev ring[RING_SLOTS];
    size_t head, count;
    atomic_ullong dropped_queue, dropped_spool, spool_bad;
    atomic_bool leader;
    atomic_ullong spool_events;
    /* metrics, written by the thread */
    pthread_mutex_t stats_lock;
    sink_metrics stats[SRV_MAX_SINKS];
    /* watchers' state (the thread's) */
    int64_t store_down_since;
    bool store_alarm, backlog_alarm;
    uint64_t refused_seen;
    int cert_band;
    drift_alarm drift[MAX_DRIFT_ALARMS];
    size_t ndrift;
    bool store_failing; /* the thread's own last store call failed with RD_ESTORE */
} N = {.ring_lock = PTHREAD_MUTEX_INITIALIZER,
       .stats_lock = PTHREAD_MUTEX_INITIALIZER,
       .efd = -1,
       .cert_band = -1};

/* ------------------------------------------------------------------ raising */

void srv_notify_raise(const char *type, const char *object_kind, const char *object_id, const char *alert_key,
                      bool firing, const char *summary, const char *data_json)
{
    pthread_mutex_lock(&N.ring_lock);
    if (N.count == RING_SLOTS) {
        pthread_mutex_unlock(&N.ring_lock);
        atomic_fetch_add(&N.dropped_queue, 1);
        return;
    }
    ring_ev *e = &N.ring[(N.head + N.count++) % RING_SLOTS];
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->object_kind, sizeof e->object_kind, "%s", object_kind);
    snprintf(e->object_id, sizeof e->object_id, "%s", object_id ? object_id : "");
    snprintf(e->alert_key, sizeof e->alert_key, "%s", alert_key ? alert_key : "");
    snprintf(e->summary, sizeof e->summary, "%s", summary ? summary : "");
    snprintf(e->data, sizeof e->data, "%s", data_json ? data_json : "{}");
    e->has_alert = alert_key != NULL;
    e->firing = firing;
    e->ts_ms = rd_clock_unix_ms();
    pthread_mutex_unlock(&N.ring_lock);
    srv_notify_kick();
}

void srv_notify_kick(void)
{
    int fd = atomic_load(&N.efd);
    if (fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(fd, &one, sizeof one);
        (void)w;
    }
}

/* Move the ring into the spool, oldest first (one fsync per event: they are rare). */
static void flush_ring(void)
{
    for (;;) {
        ring_ev e;
        pthread_mutex_lock(&N.ring_lock);
        bool any = N.count > 0;
        if (any) {
            e = N.ring[N.head];
            N.head = (N.head + 1) % RING_SLOTS;
            N.count--;
        }
        pthread_mutex_unlock(&N.ring_lock);
        if (!any)
            return;
        rd_notify_event ev = {.type = e.type,
                              .ts_ms = e.ts_ms,
                              .node = N.node,
                              .actor = "riskd",
                              .object_kind = e.object_kind,
                              .object_id = e.object_id,
                              .summary = e.summary,
                              .alert_key = e.has_alert ? e.alert_key : NULL,
                              .alert_state = e.has_alert ? (e.firing ? "firing" : "resolved") : NULL,
                              .data_json = e.data};
        rd_buf b;
        rd_buf_init(&b);
        rd_err err;
        int rc = rd_notify_event_json(&ev, &b, &err);
        if (!rc)
            rc = rd_notify_spool_append(N.spool, b.data, b.len, N.cfg->notify_spool_max_bytes, &err);
        if (rc == RD_ELIMIT)
            atomic_fetch_add(&N.dropped_spool, 1);
        if (rc)
            srv_log(SRV_ERROR, "notification dropped", "type", e.type, "error", err.msg, NULL);
        rd_buf_deinit(&b);
    }
}

/* ------------------------------------------------------------------ delivery */

static sink_metrics *metrics_of(const rd_notify_sink *k)
{
    for (size_t i = 0; i < N.n; i++)
        if (N.sinks[i] == k)
            return &N.stats[i];
    return NULL;
}

static void on_attempt(void *ud, const rd_notify_sink *k, const char *type, const char *uid,
                       rd_notify_verdict v, bool gave_up, const char *why, const rd_notify_response *r)
{
    (void)ud;
    pthread_mutex_lock(&N.stats_lock);
    sink_metrics *m = metrics_of(k);
    if (m) {
        m->attempts_ok += v == RD_NOTIFY_OK;
        m->attempts_retry += v == RD_NOTIFY_RETRY;
        m->attempts_fail += v == RD_NOTIFY_FAIL;
        m->sent += v == RD_NOTIFY_OK;
        m->failed += gave_up;
    }
    pthread_mutex_unlock(&N.stats_lock);
    char status[16], ms[24];
    snprintf(status, sizeof status, "%d", r->status);
    snprintf(ms, sizeof ms, "%lld", (long long)r->elapsed_ms);
    if (v == RD_NOTIFY_OK)
        srv_log(SRV_DEBUG, "notification delivered", "sink", rd_notify_sink_name(k), "type", type, "id", uid,
                "#status", status, "#ms", ms, NULL);
    else /* the sink's name, never its URL: the error text is the library's class of failure */
        srv_log(gave_up ? SRV_ERROR : SRV_WARN,
                gave_up ? "notification failed: given up (riskd notify list --failed)"
                        : "notification not delivered: retrying",
                "sink", rd_notify_sink_name(k), "type", type, "id", uid, "#status", status, "error", why,
                NULL);
}

static void copy_stats(void)
{
    rd_notifier_sink_stats st[SRV_MAX_SINKS];
    size_t n = N.nt ? rd_notifier_stats(N.nt, st, SRV_MAX_SINKS) : 0;
    pthread_mutex_lock(&N.stats_lock);
    for (size_t i = 0; i < n && i < N.n; i++) {
        N.stats[i].pending = st[i].pending;
        N.stats[i].oldest_pending_ms = st[i].oldest_pending_ms;
        if (st[i].last_ok_ms)
            N.stats[i].last_ok_ms = st[i].last_ok_ms;
    }
    pthread_mutex_unlock(&N.stats_lock);
}

void srv_notify_opts(const srv_config *cfg, rd_notifier_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format.console_url = cfg->notify_console_url[0] ? cfg->notify_console_url : NULL;
    o->format.alert_hold_s = cfg->notify_alert_hold_s;
    o->format.version = rd_version();
    o->timeout_ms = cfg->notify_timeout_ms;
    o->max_attempts = cfg->notify_max_attempts;
    o->backoff_ms = cfg->notify_backoff_ms;
    o->backoff_max_ms = cfg->notify_backoff_max_ms;
}

/* Whether the thread's own store call failed because the store is away. */
static void store_result(int rc) { N.store_failing = rc == RD_ESTORE || rc == RD_EIO; }

static bool lead(int64_t now, int64_t *checked)
{
    if (now - *checked < LEADER_CHECK_MS)
        return atomic_load(&N.leader);
    *checked = now;
    bool held = false;
    rd_err e;
    if (rd_store_leader_try(N.store, "notify", &held, &e) != RD_OK)
        held = false;
    if (atomic_exchange(&N.leader, held) != held && N.n)
        srv_log(held ? SRV_INFO : SRV_WARN,
                held ? "notify leadership taken: this node delivers the notifications"
                     : "notify leadership lost: another node delivers the notifications",
                "node", N.node, NULL);
    return held;
}

/* Deliver what is due; *next_ms: when to come back. */
static void deliver(int64_t now, int64_t *next_ms)
{
    rd_err err;
    if (!N.nt) {
        rd_notifier_opts o;
        srv_notify_opts(N.cfg, &o);
        o.post = N.tr.post;
        o.post_ud = N.tr_ud;
        o.on_attempt = on_attempt;
        int rc = rd_notifier_new(N.store, N.sinks, N.n, &o, &N.nt, &err);
        store_result(rc);
        if (rc) {
            srv_log(SRV_WARN, "notifications wait for the store", "error", err.msg, NULL);
            return;
        }
    }
    size_t sent;
    int rc = rd_notifier_run(N.nt, now, DELIVER_BUDGET, next_ms, &sent, &err);
    store_result(rc);
    if (rc)
        srv_log(SRV_WARN, "notifications wait for the store", "error", err.msg, NULL);
    copy_stats();
}

static void drain_spool(void)
{
    if (!rd_notify_spool_count(N.spool)) {
        atomic_store(&N.spool_events, 0);
        return;
    }
    size_t drained, bad;
    rd_err err;
    int rc = rd_notify_spool_drain(N.spool, N.store, 256, &drained, &bad, &err);
    store_result(rc);
    if (bad) {
        atomic_fetch_add(&N.spool_bad, bad);
        srv_log(SRV_ERROR, "notification spool: lines that are no event set aside", "file", N.spool, NULL);
    }
    if (rc && !N.store_failing)
        srv_log(SRV_ERROR, "notification spool not drained", "file", N.spool, "error", err.msg, NULL);
    atomic_store(&N.spool_events, rd_notify_spool_count(N.spool));
}

static void prune(int64_t now)
{
    uint64_t deleted = 0;
    rd_err err;
    int rc = rd_store_outbox_prune(N.store, now - (int64_t)N.cfg->notify_retention_days * 86400000LL,
                                   &deleted, &err);
    store_result(rc);
    if (rc)
        srv_log(SRV_WARN, "notification outbox not pruned", "error", err.msg, NULL);
}

/* ------------------------------------------------------------------ watchers */

/* store.unavailable once the store has been away notify_store_down_s; store.available after. */
static void watch_store(int64_t now)
{
    bool down = srv_cluster_store_down() || N.store_failing;
    if (!down) {
        N.store_down_since = 0;
        if (N.store_alarm) {
            N.store_alarm = false;
            char s[300];
            snprintf(s, sizeof s, "the store %s answers again on %s", rd_store_name(N.store), N.node);
            char key[200];
            snprintf(key, sizeof key, "store/%s", N.node);
            srv_notify_raise("store.available", "node", N.node, key, false, s, "{}");
        }
        return;
    }
    if (!N.store_down_since)
        N.store_down_since = now;
    if (N.store_alarm || now - N.store_down_since < (int64_t)N.cfg->notify_store_down_s * 1000)
        return;
    N.store_alarm = true;
    char s[400], data[400], key[200];
    snprintf(s, sizeof s, "the store %s is unreachable from %s: serving the last good state",
             rd_store_name(N.store), N.node);
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_puts(&d, "{\"store\":");
    rd_json_write_string(&d, rd_store_name(N.store), strlen(rd_store_name(N.store)));
    rd_buf_printf(&d, ",\"down_since_ms\":%lld,\"seconds\":%lld}", (long long)N.store_down_since,
                  (long long)((now - N.store_down_since) / 1000));
    snprintf(data, sizeof data, "%s", rd_buf_cstr(&d));
    rd_buf_deinit(&d);
    snprintf(key, sizeof key, "store/%s", N.node);
    srv_notify_raise("store.unavailable", "node", N.node, key, true, s, data);
}

/* dlog.backlog when the decision log's queue is notify_backlog_percent full or refused records
 * since the last look; cleared below half of that. */
static void watch_backlog(void)
{
    if (!N.dlog || !N.cfg->log_queue)
        return;
    rd_dlog_stats st;
    rd_dlog_get_stats(N.dlog, &st);
    uint64_t refused = srv_metrics_log_backlog_refusals();
    bool refusing = refused > N.refused_seen;
    N.refused_seen = refused;
    double pct = 100.0 * (double)st.queued / (double)N.cfg->log_queue;
    char key[200];
    snprintf(key, sizeof key, "dlog/%s", N.node);
    if (!N.backlog_alarm && (pct >= N.cfg->notify_backlog_percent || refusing)) {
        N.backlog_alarm = true;
        char s[300], data[300];
        snprintf(s, sizeof s, "the decision log of %s is backing up: %zu of %zu records queued%s", N.node,
                 st.queued, N.cfg->log_queue, refusing ? ", requests refused" : "");
        snprintf(data, sizeof data,
                 "{\"queued\":%zu,\"capacity\":%zu,\"percent\":%.1f,\"refused\":%llu,\"spool_records\":%llu,"
                 "\"store_down\":%s}",
                 st.queued, N.cfg->log_queue, pct, (unsigned long long)refused,
                 (unsigned long long)st.spool_records, st.store_down ? "true" : "false");
        srv_notify_raise("dlog.backlog", "node", N.node, key, true, s, data);
    } else if (N.backlog_alarm && pct < N.cfg->notify_backlog_percent / 2.0 && !refusing) {
        N.backlog_alarm = false;
        char s[300], data[120];
        snprintf(s, sizeof s, "the decision log of %s caught up: %zu records queued", N.node, st.queued);
        snprintf(data, sizeof data, "{\"queued\":%zu,\"capacity\":%zu}", st.queued, N.cfg->log_queue);
        srv_notify_raise("dlog.backlog_cleared", "node", N.node, key, false, s, data);
    }
}

/* cert.expiring once per band (14, 7, 3, 1, 0 days left), each with an identity derived from the
 * node, the certificate and the band: raised again after a restart, it is stored once. */
static void watch_cert(int64_t now)
{
    int64_t not_after;
    char subject[256];
    if (!N.tr.cert_not_after || !N.tr.cert_not_after(&not_after, subject, sizeof subject))
        return;
    int64_t days = (not_after - now) / 86400000LL;
    int cap = N.cfg->notify_cert_days;
    int band = days <= 0 ? 0 : days <= 1 ? 1 : days <= 3 ? 3 : days <= 7 ? 7 : days <= cap ? cap : -1;
    if (band < 0 || band == N.cert_band)
        return;
    N.cert_band = band;
    char s[640], data[600], key[300], when[32], seed[600];
    rd_notify_event ev = {0};
    time_t t = (time_t)(not_after / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(s, sizeof s, "the TLS certificate of %s (%s) ends %s: %lld days left", N.node, subject, when,
             (long long)days);
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_puts(&d, "{\"subject\":");
    rd_json_write_string(&d, subject, strlen(subject));
    rd_buf_printf(&d, ",\"not_after\":\"%s\",\"days_left\":%lld,\"band\":%d,\"file\":", when, (long long)days,
                  band);
    rd_json_write_string(&d, N.cfg->tls_cert, strlen(N.cfg->tls_cert));
    rd_buf_putc(&d, '}');
    snprintf(data, sizeof data, "%s", rd_buf_cstr(&d));
    rd_buf_deinit(&d);
    snprintf(key, sizeof key, "cert/%s", N.node);
    snprintf(seed, sizeof seed, "%s|%s|%lld|%d", N.node, subject, (long long)not_after, band);
    char hex[RD_SHA256_HEX];
    rd_sha256_hex(seed, strlen(seed), hex);
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        ev.uid[i] = (uint8_t)v;
    }
    ev.uid[6] = (uint8_t)((ev.uid[6] & 0x0f) | 0x80); /* UUIDv8: derived, not random */
    ev.uid[8] = (uint8_t)((ev.uid[8] & 0x3f) | 0x80);
    ev.type = "cert.expiring";
    ev.ts_ms = now;
    ev.node = N.node;
    ev.actor = "riskd";
    ev.object_kind = "certificate";
    ev.object_id = subject;
    ev.summary = s;
    ev.alert_key = key;
    ev.alert_state = "firing";
    ev.data_json = data;
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    if (rd_notify_event_json(&ev, &b, &err) ||
        rd_notify_spool_append(N.spool, b.data, b.len, N.cfg->notify_spool_max_bytes, &err))
        srv_log(SRV_ERROR, "notification dropped", "type", "cert.expiring", "error", err.msg, NULL);
    rd_buf_deinit(&b);
}

static drift_alarm *drift_slot(const char *key)
{
    for (size_t i = 0; i < N.ndrift; i++)
        if (!strcmp(N.drift[i].key, key))
            return &N.drift[i];
    if (N.ndrift == MAX_DRIFT_ALARMS)
        return NULL;
    drift_alarm *a = &N.drift[N.ndrift++];
    snprintf(a->key, sizeof a->key, "%s", key);
    return a;
}

/* One statistic of one series: raise drift.alarm when it passes the threshold and its noise
 * floor (or the KS critical value), drift.cleared when it is back under. */
static void drift_check(const rd_monitor_stats *st, const char *statistic, const char *input, double value,
                        double floor, bool over)
{
    char key[224];
    snprintf(key, sizeof key, "drift/%s/%s/%s/%s%s%s", st->bundle, st->variant, st->role, statistic,
             input ? "/" : "", input ? input : "");
    drift_alarm *a = drift_slot(key);
    if (!a || a->firing == over)
        return;
    a->firing = over;
    char s[320], num[RD_NUM_BUF], fl[RD_NUM_BUF], thr[RD_NUM_BUF];
    rd_num_format(value, num);
    rd_num_format(isfinite(floor) ? floor : 0, fl);
    rd_num_format(N.cfg->drift_psi, thr);
    bool ks = !strcmp(statistic, "score_ks");
    if (over)
        snprintf(s, sizeof s, "%s of %s (variant %s%s%s) is %s, over %s (%s %s; %llu rows)", statistic,
                 st->bundle, st->variant, input ? ", input " : "", input ? input : "", num, ks ? fl : thr,
                 ks ? "critical value" : "noise floor", fl, (unsigned long long)st->n);
    else
        snprintf(s, sizeof s, "%s of %s (variant %s%s%s) is back under its threshold: %s", statistic,
                 st->bundle, st->variant, input ? ", input " : "", input ? input : "", num);
    rd_buf d;
    rd_buf_init(&d);
    rd_buf_puts(&d, "{\"bundle\":");
    rd_json_write_string(&d, st->bundle, strlen(st->bundle));
    rd_buf_puts(&d, ",\"variant\":");
    rd_json_write_string(&d, st->variant, strlen(st->variant));
    rd_buf_printf(&d, ",\"role\":\"%s\",\"statistic\":\"%s\"", st->role, statistic);
    if (input) {
        rd_buf_puts(&d, ",\"input\":");
        rd_json_write_string(&d, input, strlen(input));
    }
    rd_buf_printf(&d, ",\"value\":%s,\"%s\":%s", num, ks ? "critical" : "noise_floor", fl);
    if (!ks)
        rd_buf_printf(&d, ",\"threshold\":%s", thr);
    rd_buf_printf(&d, ",\"rows\":%llu,\"window_s\":%.0f}", (unsigned long long)st->n, st->seconds);
    srv_notify_raise(over ? "drift.alarm" : "drift.cleared", "bundle", st->bundle, key, over, s,
                     rd_buf_cstr(&d));
    rd_buf_deinit(&d);
}

static void drift_series(void *ud, rd_monitor_series *s)
{
    int64_t now = *(int64_t *)ud;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    if (rd_monitor_window_stats(s, now, &a, &st, NULL) == RD_OK) {
        double thr = N.cfg->drift_psi;
        if (!isnan(st.psi))
            drift_check(&st, "score_psi", NULL, st.psi, st.psi_floor,
                        st.psi > thr && !(st.psi <= st.psi_floor));
        if (!isnan(st.ks))
            drift_check(&st, "score_ks", NULL, st.ks, st.ks_critical, st.ks_alarm);
        for (size_t i = 0; i < st.ninputs; i++) {
            const rd_monitor_input_stats *in = &st.inputs[i];
            if (!isnan(in->psi))
                drift_check(&st, "input_psi", in->name, in->psi, in->psi_floor,
                            in->psi > thr && !(in->psi <= in->psi_floor));
        }
    }
    rd_arena_deinit(&a);
}

/* Every node sees a sample of the same traffic: only the delivering node watches drift, so N
 * nodes do not send N alarms. */
static void watch_drift(int64_t now)
{
    rd_monitor *m = srv_monitor();
    if (m && N.cfg->drift_psi > 0)
        rd_monitor_foreach(m, drift_series, &now);
}

/* ------------------------------------------------------------------ the thread */

static void *run(void *arg)
{
    (void)arg;
    int64_t leader_checked = 0, last_watch = 0, last_cert = 0, last_prune = 0, next_due = 0;
    int64_t drift_every = N.cfg->monitor_bucket_ms / (N.cfg->rollout_speed > 0 ? N.cfg->rollout_speed : 1);
    int64_t last_drift = rd_clock_unix_ms();
    if (drift_every < 1000)
        drift_every = 1000;
    while (!atomic_load(&N.stop)) {
        int64_t now = rd_clock_unix_ms();
        int64_t wait = N.cfg->notify_poll_ms;
        if (next_due > now && next_due - now < wait)
            wait = next_due - now;
        if (next_due && next_due <= now)
            wait = 0;
        struct pollfd p = {.fd = atomic_load(&N.efd), .events = POLLIN};
        if (poll(&p, 1, (int)(wait > 0 ? wait : 0)) > 0) {
            uint64_t v;
            ssize_t r = read(p.fd, &v, sizeof v);
            (void)r;
        }
        if (atomic_load(&N.stop))
            break;
        now = rd_clock_unix_ms();
        flush_ring();
        if (now - last_watch >= WATCH_MS) {
            last_watch = now;
            watch_store(now);
            watch_backlog();
        }
        if (now - last_cert >= CERT_CHECK_MS || !last_cert) {
            last_cert = now;
            watch_cert(now);
        }
        drain_spool();
        bool leading = lead(now, &leader_checked);
        if (leading && now - last_drift >= drift_every) {
            last_drift = now;
            watch_drift(now);
        }
        next_due = 0;
        if (leading && N.n) {
            int64_t next = INT64_MAX;
            deliver(now, &next);
            next_due = next == INT64_MAX ? 0 : next;
        }
        if (leading && now - last_prune >= PRUNE_MS) {
            last_prune = now;
            prune(now);
        }
    }
    flush_ring(); /* what was raised up to the stop waits in the spool for the next start */
    return NULL;
}

int srv_notify_sinks(const srv_config *cfg, rd_notify_sink **sinks, size_t *n, rd_err *err)
{
    *n = 0;
    int rc = RD_OK;
    for (size_t i = 0; i < cfg->nnotify && !rc; i++)
        if (!(rc = rd_notify_sink_parse(cfg->notify[i], (int)i + 1, &sinks[i], err)))
            (*n)++;
    if (!rc)
        rc = rd_notify_sinks_check(sinks, *n, err);
    for (size_t i = 0; !rc && i < *n; i++) {
        const char *w = rd_notify_sink_warnings(sinks[i]);
        if (w && *w)
            srv_log(SRV_WARN, "notification sink", "sink", rd_notify_sink_name(sinks[i]), "warning", w, NULL);
    }
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            rd_notify_sink_free(sinks[i]);
        *n = 0;
    }
    return rc;
}

int srv_notify_start(const srv_config *cfg, const srv_notify_transport *t, const rd_dlog *dlog, rd_err *err)
{
    N.cfg = cfg;
    N.tr = *t;
    N.dlog = dlog;
    snprintf(N.spool, sizeof N.spool, "%s/notify.spool", cfg->data_dir);
    int rc = srv_notify_sinks(cfg, N.sinks, &N.n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < N.n; i++) {
        snprintf(N.stats[i].name, sizeof N.stats[i].name, "%s", rd_notify_sink_name(N.sinks[i]));
        snprintf(N.stats[i].kind, sizeof N.stats[i].kind, "%s",
                 rd_notify_kind_name(rd_notify_sink_kind(N.sinks[i])));
    }
    if ((rc = rd_store_open(cfg->store, &srv_store_opts, &N.store, err)))
        goto fail;
    snprintf(N.node, sizeof N.node, "%s", rd_store_node(N.store));
    /* every sink's cursor now, before this process can write an event: a new sink starts at the
       newest event, and one raised after the start (then a kill -9) is still delivered. A store
       away at the start: the notifier creates them when it reaches it. */
    int64_t last = 0;
    rd_err serr;
    int src = rd_store_outbox_last_id(N.store, &last, &serr);
    for (size_t i = 0; !src && i < N.n; i++)
        src = rd_store_sink_init(N.store, rd_notify_sink_name(N.sinks[i]),
                                 rd_notify_kind_name(rd_notify_sink_kind(N.sinks[i])), last, NULL, &serr);
    if (src)
        srv_log(SRV_WARN, "notification cursors wait for the store", "error", serr.msg, NULL);
    N.tr_ud = N.n && t->open ? t->open() : NULL;
    if (N.n && t->open && !N.tr_ud) {
        rc = rd_err_set(err, RD_ENOMEM, "cannot start the notifications' HTTP client");
        goto fail;
    }
    atomic_store(&N.efd, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (atomic_load(&N.efd) < 0) {
        rc = rd_err_set(err, RD_EIO, "eventfd: %s", strerror(errno));
        goto fail;
    }
    atomic_store(&N.stop, false);
    if (pthread_create(&N.thread, NULL, run, NULL) != 0) {
        rc = rd_err_set(err, RD_ENOMEM, "cannot start the notification thread");
        goto fail;
    }
    N.running = true;
    for (size_t i = 0; i < N.n; i++) {
        rd_buf d;
        rd_buf_init(&d);
        rd_notify_sink_describe(N.sinks[i], &d);
        srv_log(SRV_INFO, "notification sink", "sink", rd_notify_sink_name(N.sinks[i]), "to", rd_buf_cstr(&d),
                NULL);
        rd_buf_deinit(&d);
    }
    return RD_OK;
fail:
    srv_notify_stop();
    return rc;
}

void srv_notify_stop(void)
{
    if (N.running) {
        atomic_store(&N.stop, true);
        srv_notify_kick();
        pthread_join(N.thread, NULL);
        N.running = false;
    }
    int fd = atomic_exchange(&N.efd, -1);
    if (fd >= 0)
        close(fd);
    rd_notifier_free(N.nt);
    N.nt = NULL;
    if (N.tr_ud && N.tr.close)
        N.tr.close(N.tr_ud);
    N.tr_ud = NULL;
    if (N.store)
        rd_store_leader_release(N.store, "notify");
    rd_store_close(N.store);
    N.store = NULL;
    for (size_t i = 0; i < N.n; i++)
        rd_notify_sink_free(N.sinks[i]);
    N.n = 0;
}

/* ------------------------------------------------------------------ metrics and /ready */

void srv_notify_metrics(rd_buf *b)
{
    if (!N.cfg)
        return;
    rd_buf_printf(
        b,
        "# HELP riskd_notify_leader Whether this node delivers the notifications (1) or not (0).\n"
        "# TYPE riskd_notify_leader gauge\nriskd_notify_leader %d\n"
        "# HELP riskd_notification_spool_events Node events waiting in the spool for the store.\n"
        "# TYPE riskd_notification_spool_events gauge\nriskd_notification_spool_events %llu\n"
        "# HELP riskd_notifications_dropped_total Node events lost: the ring or the spool was full.\n"
        "# TYPE riskd_notifications_dropped_total counter\n"
        "riskd_notifications_dropped_total{reason=\"queue_full\"} %llu\n"
        "riskd_notifications_dropped_total{reason=\"spool_full\"} %llu\n",
        atomic_load(&N.leader) ? 1 : 0, (unsigned long long)atomic_load(&N.spool_events),
        (unsigned long long)atomic_load(&N.dropped_queue), (unsigned long long)atomic_load(&N.dropped_spool));
    if (!N.n)
        return;
    sink_metrics m[SRV_MAX_SINKS];
    pthread_mutex_lock(&N.stats_lock);
    memcpy(m, N.stats, sizeof m);
    size_t n = N.n;
    pthread_mutex_unlock(&N.stats_lock);
    int64_t now = rd_clock_unix_ms();
    static const char *const heads[] = {
        "# HELP riskd_notifications_sent_total Notifications delivered, by sink.\n"
        "# TYPE riskd_notifications_sent_total counter\n",
        "# HELP riskd_notifications_failed_total Notifications given up on (riskd notify list --failed).\n"
        "# TYPE riskd_notifications_failed_total counter\n",
        "# HELP riskd_notification_attempts_total Delivery attempts, by sink and result.\n"
        "# TYPE riskd_notification_attempts_total counter\n",
        "# HELP riskd_notification_pending Events after the sink's cursor (on the delivering node).\n"
        "# TYPE riskd_notification_pending gauge\n",
        "# HELP riskd_notification_oldest_pending_seconds Age of the oldest event the sink has not taken.\n"
        "# TYPE riskd_notification_oldest_pending_seconds gauge\n"};
    for (int h = 0; h < 5; h++) {
        rd_buf_puts(b, heads[h]);
        for (size_t i = 0; i < n; i++) {
            const char *nm = m[i].name, *kd = m[i].kind;
            switch (h) {
            case 0:
                rd_buf_printf(b, "riskd_notifications_sent_total{sink=\"%s\",kind=\"%s\"} %llu\n", nm, kd,
                              (unsigned long long)m[i].sent);
                break;
            case 1:
                rd_buf_printf(b, "riskd_notifications_failed_total{sink=\"%s\",kind=\"%s\"} %llu\n", nm, kd,
                              (unsigned long long)m[i].failed);
                break;
            case 2:
                rd_buf_printf(b,
                              "riskd_notification_attempts_total{sink=\"%s\",result=\"ok\"} %llu\n"
                              "riskd_notification_attempts_total{sink=\"%s\",result=\"retry\"} %llu\n"
                              "riskd_notification_attempts_total{sink=\"%s\",result=\"fail\"} %llu\n",
                              nm, (unsigned long long)m[i].attempts_ok, nm,
                              (unsigned long long)m[i].attempts_retry, nm,
                              (unsigned long long)m[i].attempts_fail);
                break;
            case 3:
                rd_buf_printf(b, "riskd_notification_pending{sink=\"%s\"} %lld\n", nm,
                              (long long)m[i].pending);
                break;
            default:
                rd_buf_printf(b, "riskd_notification_oldest_pending_seconds{sink=\"%s\"} %.3f\n", nm,
                              m[i].oldest_pending_ms && m[i].pending
                                  ? (double)(now - m[i].oldest_pending_ms) / 1000.0
                                  : 0.0);
            }
        }
    }
}

void srv_notify_ready_json(rd_buf *b)
{
    if (!N.cfg)
        return;
    rd_buf_printf(b, ",\"notify\":{\"leader\":%s,\"spool_events\":%llu,\"sinks\":[",
                  atomic_load(&N.leader) ? "true" : "false",
                  (unsigned long long)atomic_load(&N.spool_events));
    pthread_mutex_lock(&N.stats_lock);
    for (size_t i = 0; i < N.n; i++)
        rd_buf_printf(b,
                      "%s{\"name\":\"%s\",\"kind\":\"%s\",\"pending\":%lld,\"sent\":%llu,\"failed\":%llu,"
                      "\"last_ok_ms\":%lld}",
                      i ? "," : "", N.stats[i].name, N.stats[i].kind, (long long)N.stats[i].pending,
                      (unsigned long long)N.stats[i].sent, (unsigned long long)N.stats[i].failed,
                      (long long)N.stats[i].last_ok_ms);
    pthread_mutex_unlock(&N.stats_lock);
    rd_buf_puts(b, "]}");
}
