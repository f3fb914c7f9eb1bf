/* The monitor and the rollout controllers inside `riskd serve`: one thread ticks the
 * monitor's window and each controller (include/riskd/rollout.h), watches the plan files
 * (an edit is checked; a bad one is refused and the running plan kept), follows the
 * breakers, and serves GET /v1/monitor, GET /v1/rollouts and their /metrics series. The
 * library makes every decision; this file only wires it to the service. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "riskd/clock.h"
#include "riskd/json.h"
#include "riskd/monitor.h"
#include "riskd/rollout.h"
#include "riskd/change.h"
#include "server.h"

#define MAX_BREAKERS 64
#define MAX_REASONS  16

typedef struct plan_watch {
    struct timespec mtime;
    off_t size;
    char sha[RD_SHA256_HEX];
} plan_watch;

static struct {
    const srv_config *cfg;
    srv_state *state;
    rd_shadow *shadow;
    rd_monitor *mon;
    rd_store *store;
    rd_controller *ctl[SRV_MAX_ROLLOUTS];
    rd_exposure *exp[SRV_MAX_ROLLOUTS]; /* each rollout's caps on this node (NULL: the plan has none) */
    plan_watch watch[SRV_MAX_ROLLOUTS];
    size_t n;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    pthread_mutex_t lock; /* breakers and reasons */
    struct {
        char bundle[128];
        int64_t since_ms;
    } br[MAX_BREAKERS];
    size_t nbr;
    struct {
        char flag[256];
        char reason[64];
        uint64_t n;
    } reasons[MAX_REASONS];
    size_t nreasons;
    /* leadership (several nodes on one store): only the holder of the store's "rollout" lock
       evaluates gates and moves stages; the others keep their monitors and follow the store */
    atomic_bool leader;
    int64_t leader_checked_ms;
    /* srv_rollouts_reload_now: plan re-reads asked for, and done, by the rollout thread */
    atomic_uint_fast64_t reload_asked, reload_done;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER};

rd_monitor *srv_monitor(void) { return R.mon; }

/* ------------------------------------------------------------------ series per slot */

rd_monitor_series *srv_slot_series(const rd_slot *slot, const char *variant, rd_monitor_role role)
{
    if (!R.mon || !slot)
        return NULL;
    srv_slot_info *in = rd_slot_user(slot);
    if (!variant)
        variant = "";
    size_t n = atomic_load_explicit(&in->nseries, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (in->series[i].role == role && !strcmp(in->series[i].variant, variant))
            return in->series[i].s;
    rd_monitor_series *s = NULL;
    pthread_mutex_lock(&in->series_lock);
    n = atomic_load_explicit(&in->nseries, memory_order_relaxed);
    for (size_t i = 0; i < n && !s; i++)
        if (in->series[i].role == role && !strcmp(in->series[i].variant, variant))
            s = in->series[i].s;
    if (!s) {
        s = rd_monitor_series_get(R.mon, rd_slot_bundle(slot), variant, role);
        if (s && n < SRV_SERIES_CACHE && strlen(variant) < sizeof in->series[n].variant) {
            snprintf(in->series[n].variant, sizeof in->series[n].variant, "%s", variant);
            in->series[n].role = role;
            in->series[n].s = s;
            atomic_store_explicit(&in->nseries, n + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&in->series_lock);
    return s;
}

/* ------------------------------------------------------------------ controller callbacks */

typedef struct pair_ctx {
    const char *primary, *shadow;
    uint64_t scored, same;
} pair_ctx;

static void pair_one(void *ud, const rd_shadow_pair_stats *p)
{
    pair_ctx *c = ud;
    if (!strcmp(p->primary, c->primary) && !strcmp(p->shadow, c->shadow)) {
        c->scored += p->scored;
        c->same += p->same_decision;
    }
}

static void shadow_pair(void *ud, const char *primary, const char *shadow, uint64_t *scored, uint64_t *same)
{
    (void)ud;
    pair_ctx c = {primary, shadow, 0, 0};
    if (R.shadow)
        rd_shadow_foreach(R.shadow, pair_one, &c);
    *scored = c.scored;
    *same = c.same;
}

static double breaker_open_seconds(void *ud, const char *bundle)
{
    (void)ud;
    double s = 0;
    pthread_mutex_lock(&R.lock);
    for (size_t i = 0; i < R.nbr; i++)
        if (!strcmp(R.br[i].bundle, bundle) && R.br[i].since_ms)
            s = (double)(rd_clock_unix_ms() - R.br[i].since_ms) / 1000.0;
    pthread_mutex_unlock(&R.lock);
    return s;
}

/* Follow each bundle's breaker: when it left the closed state. */
static void breakers_update(void)
{
    srv_snapshot *snap = srv_state_acquire(R.state);
    if (!snap)
        return;
    int64_t now = rd_clock_unix_ms();
    pthread_mutex_lock(&R.lock);
    for (size_t i = 0; i < rd_decider_count(snap->dec); i++) {
        rd_slot *sl = rd_decider_slot(snap->dec, i);
        rd_breaker *b = rd_slot_breaker(sl);
        bool open = b && rd_breaker_get_state(b) != RD_BREAKER_CLOSED;
        size_t j = 0;
        while (j < R.nbr && strcmp(R.br[j].bundle, rd_slot_name(sl)) != 0)
            j++;
        if (j == R.nbr) {
            if (j == MAX_BREAKERS)
                continue;
            snprintf(R.br[j].bundle, sizeof R.br[j].bundle, "%s", rd_slot_name(sl));
            R.br[j].since_ms = 0;
            R.nbr++;
        }
        if (!open)
            R.br[j].since_ms = 0;
        else if (!R.br[j].since_ms)
            R.br[j].since_ms = now;
    }
    pthread_mutex_unlock(&R.lock);
    srv_snapshot_unref(snap);
}

static void flags_written(void *ud)
{
    (void)ud;
    if (R.state) /* flags = store: the next poll asks the store, not only the files */
        srv_state_store_due(R.state);
    kill(getpid(), SIGUSR1); /* the main thread re-reads the flag file now */
}

static void on_transition(void *ud, const rd_transition *t)
{
    (void)ud;
    char from[16], to[16];
    snprintf(from, sizeof from, "%d", t->from_stage);
    snprintf(to, sizeof to, "%d", t->to_stage);
    srv_log(!strcmp(t->to_state, "rolled_back") ? SRV_WARN : SRV_INFO, "rollout transition", "flag", t->flag,
            "reason", t->reason, "from_state", t->from_state, "to_state", t->to_state, "#from_stage", from,
            "#to_stage", to, "detail", t->detail, "actor", t->actor, "flags_sha256", t->flags_sha, NULL);
    pthread_mutex_lock(&R.lock);
    size_t i = 0;
    while (i < R.nreasons &&
           (strcmp(R.reasons[i].flag, t->flag) != 0 || strcmp(R.reasons[i].reason, t->reason) != 0))
        i++;
    if (i == R.nreasons && i < MAX_REASONS) {
        snprintf(R.reasons[i].flag, sizeof R.reasons[i].flag, "%s", t->flag);
        snprintf(R.reasons[i].reason, sizeof R.reasons[i].reason, "%s", t->reason);
        R.nreasons++;
    }
    if (i < R.nreasons)
        R.reasons[i].n++;
    pthread_mutex_unlock(&R.lock);
    srv_notify_kick(); /* its notification is in the outbox */
}

static void on_alert(void *ud, const char *flag, const char *msg)
{
    (void)ud;
    srv_log(SRV_WARN, "rollout alert", "flag", flag, "alert", msg, NULL);
}

/* ------------------------------------------------------------------ plans */

/* Check plan against what serves now. */
static int check_plan(const rd_plan *p, const char *path, rd_err *err)
{
    /* require_approval: the plan must be its published version (a plan approved as a whole;
       one edited in place is refused, the running one kept) */
    if (R.cfg->require_approval && R.store) {
        bool ok;
        char why[400];
        int rc = rd_change_served_ok(R.store, RD_CHANGE_ROLLOUT, path, p->sha256, &ok, why, sizeof why, err);
        if (rc)
            return rc;
        if (!ok)
            return rd_err_set(err, RD_EFORBIDDEN, "require_approval: %s", why);
    }
    srv_snapshot *snap = srv_state_acquire(R.state);
    const char *names[256];
    size_t n = 0;
    for (size_t i = 0; i < rd_decider_count(snap->dec) && n < 256; i++)
        names[n++] = rd_slot_name(rd_decider_slot(snap->dec, i));
    int rc = rd_plan_check(p, snap->flags, names, n, false, err);
    /* what the plan reads of a request (the cap's amount, the segments' fields) exists in it */
    const rd_slot *cand = rd_decider_find(snap->dec, p->candidate, strlen(p->candidate));
    if (!rc && cand)
        rc = rd_plan_check_inputs(p, rd_bundle_pipeline(rd_slot_bundle(cand)), err);
    srv_snapshot_unref(snap);
    return rc;
}

int srv_rollouts_check(const srv_config *cfg, srv_state *st, rd_err *err)
{
    R.cfg = cfg;
    R.state = st;
    for (size_t i = 0; i < cfg->nrollouts; i++) {
        rd_plan *p = NULL;
        int rc = rd_plan_load(cfg->rollouts[i], &p, err);
        if (!rc)
            rc = check_plan(p, cfg->rollouts[i], err);
        if (rc) {
            rd_plan_free(p);
            rd_err_prefix(err, "rollout %s", cfg->rollouts[i]);
            return rc;
        }
        printf("rollout    %s: %s, flag %s, %s -> %s, %zu stages\n", cfg->rollouts[i], p->name, p->route_flag,
               p->control, p->candidate, p->nstages);
        rd_plan_free(p);
    }
    return RD_OK;
}

static bool plan_changed(size_t i, bool update)
{
    struct stat st;
    const char *path = R.cfg->rollouts[i];
    if (stat(path, &st) != 0)
        return false;
    plan_watch *w = &R.watch[i];
    bool same = st.st_mtim.tv_sec == w->mtime.tv_sec && st.st_mtim.tv_nsec == w->mtime.tv_nsec &&
                st.st_size == w->size;
    if (update || !same) {
        w->mtime = st.st_mtim;
        w->size = st.st_size;
    }
    return !same;
}

/* A plan file that changed: adopted when it checks, else refused with the running plan kept. */
static void plan_reload(size_t i)
{
    if (!plan_changed(i, true))
        return;
    const char *path = R.cfg->rollouts[i];
    rd_plan *p = NULL;
    rd_err err;
    int rc = rd_plan_load(path, &p, &err);
    if (rc == RD_OK && !strcmp(p->sha256, R.watch[i].sha)) {
        rd_plan_free(p);
        return; /* touched, not changed */
    }
    if (rc == RD_OK)
        rc = check_plan(p, path, &err);
    char sha[RD_SHA256_HEX];
    snprintf(sha, sizeof sha, "%s", rc == RD_OK ? p->sha256 : "");
    if (rc == RD_OK)
        /* every node takes the edit; the leader alone writes it (a stale leader's write is
           refused by the row's fence) */
        rc = rd_controller_replace_plan(R.ctl[i], p, atomic_load(&R.leader), &err); /* takes p */
    else
        rd_plan_free(p);
    srv_metrics_reload("rollout", rc == RD_OK);
    if (rc) {
        srv_log(SRV_ERROR, "rollout plan edit refused: the running plan is kept", "plan", path, "error",
                err.msg, NULL);
        char why[sizeof err.msg + 64];
        snprintf(why, sizeof why, "%.60s: %s", path, err.msg); /* the path cut: the message is the news */
        srv_metrics_refusal("rollout", why);
    } else {
        snprintf(R.watch[i].sha, sizeof R.watch[i].sha, "%s", sha);
        srv_log(SRV_INFO, "rollout plan edit adopted", "plan", path, "plan_sha256", sha, NULL);
        srv_metrics_refusal("rollout", NULL);
    }
}

#define LEADER_CHECK_MS 1000

/* Whether this node runs the controllers now: asked of the store once a second. A node that
 * lost its connection lost the lock with it (the store says so), and another node takes over
 * within a check; the row's version, checked under the governance lock in the transaction of
 * each transition, keeps a stale leader's transition from landing (any part of it). */
static bool lead(int64_t now)
{
    if (now - R.leader_checked_ms < LEADER_CHECK_MS)
        return atomic_load(&R.leader);
    R.leader_checked_ms = now;
    bool held = false;
    rd_err e;
    if (rd_store_leader_try(R.store, "rollout", &held, &e) != RD_OK)
        held = false;
    if (atomic_exchange(&R.leader, held) != held)
        srv_log(held ? SRV_INFO : SRV_WARN,
                held ? "rollout leadership taken: this node runs the rollout controller"
                     : "rollout leadership lost: another node runs the rollout controller",
                "node", R.cfg->node, NULL);
    return held;
}

static void *run(void *arg)
{
    (void)arg;
    int step_ms = 100;
    int64_t last_watch = 0;
    while (!atomic_load(&R.stop)) {
        int64_t now = rd_clock_unix_ms();
        rd_monitor_tick(R.mon, now);
        if (R.n)
            breakers_update();
        uint64_t asked = atomic_load(&R.reload_asked);
        if (now - last_watch >= R.cfg->reload_interval_ms || asked != atomic_load(&R.reload_done)) {
            last_watch = now;
            for (size_t i = 0; i < R.n; i++)
                plan_reload(i);
            atomic_store(&R.reload_done, asked);
        }
        bool checked = now - R.leader_checked_ms >= LEADER_CHECK_MS; /* lead() asks the store now */
        bool leading = R.n && lead(now);
        for (size_t i = 0; checked && !leading && i < R.n; i++)
            rd_controller_follow(R.ctl[i]); /* once a second, as leadership is asked: what the leader did */
        for (size_t i = 0; i < R.n; i++) {  /* every node holds its own share of a cap */
            rd_err err;
            if (rd_controller_exposure_sync(R.ctl[i], now, &err))
                srv_log(SRV_WARN, "exposure caps: the store did not answer (spending what this node holds)",
                        "flag", rd_controller_flag(R.ctl[i]), "error", err.msg, NULL);
        }
        for (size_t i = 0; leading && i < R.n; i++) {
            rd_err err;
            if (rd_controller_tick(R.ctl[i], now, &err))
                srv_log(SRV_ERROR, "rollout evaluation failed", "flag", rd_controller_flag(R.ctl[i]), "error",
                        err.msg, NULL);
        }
        struct timespec ts = {0, (long)step_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static bool plan_has_caps(const rd_plan *p)
{
    for (size_t i = 0; i < p->nstages; i++)
        if (p->stages[i].caps.has_amount || p->stages[i].caps.has_count)
            return true;
    return false;
}

rd_exposure *srv_rollouts_exposure(void)
{
    for (size_t i = 0; R.running && i < R.n; i++)
        if (R.exp[i] && !strcmp(rd_controller_flag(R.ctl[i]), R.cfg->route_flag))
            return R.exp[i];
    return NULL;
}

/* ------------------------------------------------------------------ life */

int srv_monitor_start(const srv_config *cfg, rd_err *err)
{
    R.cfg = cfg;
    if (!cfg->monitor)
        return RD_OK;
    rd_monitor_opts o;
    rd_monitor_opts_default(&o);
    o.bucket_ms = cfg->monitor_bucket_ms / (cfg->rollout_speed > 0 ? cfg->rollout_speed : 1);
    if (o.bucket_ms < 100)
        o.bucket_ms = 100;
    o.buckets = cfg->monitor_buckets;
    o.history = cfg->monitor_history;
    return rd_monitor_new(&o, &R.mon, err);
}

int srv_rollouts_start(const srv_config *cfg, srv_state *st, rd_shadow *shadow, rd_err *err)
{
    R.cfg = cfg;
    R.state = st;
    R.shadow = shadow;
    if (!R.mon)
        return RD_OK;
    int rc = RD_OK;
    if (cfg->nrollouts) {
        if ((rc = rd_store_open(cfg->store, &srv_store_opts, &R.store, err)))
            return rc;
        if (cfg->rollout_speed > 1) {
            char speed[32];
            snprintf(speed, sizeof speed, "%d", cfg->rollout_speed);
            srv_log(SRV_WARN,
                    "ROLLOUT SPEED: every hold time, interval and deadline is divided (a drill or a test)",
                    "#speed", speed, NULL);
        }
    }
    rd_controller_env env = {.monitor = R.mon,
                             .store = R.store,
                             .data_dir = cfg->data_dir,
                             .flags_path = cfg->flags,
                             .speed = cfg->rollout_speed,
                             .shadow_pair = shadow_pair,
                             .breaker_open_seconds = breaker_open_seconds,
                             .flags_written = flags_written,
                             .on_transition = on_transition,
                             .on_alert = on_alert};
    for (size_t i = 0; i < cfg->nrollouts && rc == RD_OK; i++) {
        rd_plan *p = NULL;
        if ((rc = rd_plan_load(cfg->rollouts[i], &p, err)) || (rc = check_plan(p, cfg->rollouts[i], err))) {
            rd_plan_free(p);
            rd_err_prefix(err, "rollout %s", cfg->rollouts[i]);
            break;
        }
        size_t dup = R.n;
        for (size_t j = 0; j < R.n; j++)
            if (!strcmp(rd_controller_flag(R.ctl[j]), p->route_flag))
                dup = j;
        if (dup < R.n) {
            rc = rd_err_set(err, RD_EINVAL, "rollout %s: flag %s already has a rollout (%s): one per flag",
                            cfg->rollouts[i], p->route_flag, cfg->rollouts[dup]);
            rd_plan_free(p);
            break;
        }
        if (strcmp(p->route_flag, cfg->route_flag) != 0)
            srv_log(SRV_WARN, "the rollout's routing flag is not the service's route_flag", "plan",
                    cfg->rollouts[i], "flag", p->route_flag, "route_flag", cfg->route_flag, NULL);
        snprintf(R.watch[i].sha, sizeof R.watch[i].sha, "%s", p->sha256);
        plan_changed(i, true);
        env.ud = NULL;
        env.exposure = NULL;
        R.exp[R.n] = NULL;
        if (p->exposure.on || plan_has_caps(p)) {
            rd_exposure_env xe = {.store = R.store, .node = rd_store_node(R.store)};
            if ((rc = rd_exposure_new(p, &xe, rd_clock_unix_ms(), &R.exp[R.n], err))) {
                rd_plan_free(p);
                rd_err_prefix(err, "rollout %s: exposure caps", cfg->rollouts[i]);
                break;
            }
            env.exposure = R.exp[R.n];
        }
        if ((rc = rd_controller_new(p, cfg->rollouts[i], &env, rd_clock_unix_ms(), &R.ctl[R.n], err))) {
            rd_exposure_free(R.exp[R.n]);
            R.exp[R.n] = NULL;
            break;
        }
        /* before the first request: the first slice reserved, so nothing is capped for nothing */
        rd_err xerr;
        if (R.exp[R.n] && rd_controller_exposure_sync(R.ctl[R.n], rd_clock_unix_ms(), &xerr))
            srv_log(
                SRV_WARN,
                "exposure caps: no slice reserved at the start (spending nothing until the store answers)",
                "plan", cfg->rollouts[i], "error", xerr.msg, NULL);
        R.n++;
    }
    if (rc) {
        srv_rollouts_stop();
        return rc;
    }
    atomic_store(&R.stop, false);
    if (pthread_create(&R.thread, NULL, run, NULL) != 0) {
        srv_rollouts_stop();
        return rd_err_set(err, RD_ENOMEM, "cannot start the rollout thread");
    }
    R.running = true;
    return RD_OK;
}

void srv_rollouts_reload_now(int wait_ms)
{
    if (!R.running || !R.n)
        return;
    uint64_t asked = atomic_fetch_add(&R.reload_asked, 1) + 1;
    int64_t until = rd_clock_unix_ms() + wait_ms;
    while (atomic_load(&R.reload_done) < asked && rd_clock_unix_ms() < until) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void srv_rollouts_stop(void)
{
    if (R.running) {
        atomic_store(&R.stop, true);
        pthread_join(R.thread, NULL);
        R.running = false;
    }
    for (size_t i = 0; i < R.n; i++) /* what this node holds and did not spend goes back */
        if (R.exp[i])
            rd_exposure_close(R.exp[i], rd_clock_unix_ms());
    for (size_t i = 0; i < R.n; i++) {
        rd_controller_free(R.ctl[i]);
        rd_exposure_free(R.exp[i]);
        R.exp[i] = NULL;
    }
    R.n = 0;
    rd_store_close(R.store);
    R.store = NULL;
}

void srv_monitor_stop(void)
{
    rd_monitor_free(R.mon);
    R.mon = NULL;
}

/* ------------------------------------------------------------------ HTTP */

void srv_route_rollouts(srv_req *r)
{
    int64_t now = rd_clock_unix_ms();
    rd_buf_printf(r->out, "{\"speed\":%d,\"rollouts\":[", R.cfg ? R.cfg->rollout_speed : 1);
    for (size_t i = 0; i < R.n; i++) {
        if (i)
            rd_buf_putc(r->out, ',');
        rd_controller_status_json(R.ctl[i], now, r->out);
    }
    rd_buf_puts(r->out, "]}");
}

typedef struct mon_ctx {
    rd_buf *b;
    size_t n;
    int64_t now;
    bool metrics;
    bool history; /* each series' rates over time */
} mon_ctx;

static void series_json(void *ud, rd_monitor_series *s)
{
    mon_ctx *c = ud;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats w, t;
    if (rd_monitor_window_stats(s, c->now, &a, &w, NULL) == RD_OK &&
        rd_monitor_stats_since(s, NULL, c->now, &a, &t, NULL) == RD_OK) {
        rd_buf_puts(c->b, c->n++ ? ",{\"window\":" : "{\"window\":");
        rd_monitor_stats_json(c->b, &w);
        rd_buf_puts(c->b, ",\"total\":");
        rd_monitor_stats_json(c->b, &t);
        if (c->history) {
            rd_buf_puts(c->b, ",\"history\":");
            rd_monitor_history_json(c->b, s);
        }
        rd_buf_putc(c->b, '}');
    }
    rd_arena_deinit(&a);
}

void srv_route_monitor(srv_req *r) { srv_monitor_json(r, false); }

void srv_monitor_json(srv_req *r, bool history)
{
    if (!R.mon) {
        srv_reply_error(r, 404, "MONITOR_OFF", "monitoring is off (monitor = off)");
        return;
    }
    mon_ctx c = {.b = r->out, .now = rd_clock_unix_ms(), .history = history};
    rd_buf_printf(r->out, "{\"window_s\":%g,\"series\":[",
                  (double)R.cfg->monitor_bucket_ms * R.cfg->monitor_buckets / 1000.0 /
                      (R.cfg->rollout_speed > 0 ? R.cfg->rollout_speed : 1));
    rd_monitor_foreach(R.mon, series_json, &c);
    rd_buf_puts(r->out, "]");
    if (history)
        rd_buf_printf(r->out, ",\"history_bucket_s\":%g",
                      (double)R.cfg->monitor_bucket_ms / 1000.0 /
                          (R.cfg->rollout_speed > 0 ? R.cfg->rollout_speed : 1));
    rd_buf_putc(r->out, '}');
}

/* ------------------------------------------------------------------ /metrics */

/* A label value as Prometheus text wants it: \\, \" and \\n escaped (a variant or an input
 * name may hold anything). */
static void label(rd_buf *b, const char *key, const char *v, bool first)
{
    rd_buf_printf(b, "%s%s=\"", first ? "" : ",", key);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            rd_buf_putc(b, '\\');
        if (*v == '\n')
            rd_buf_puts(b, "\\n");
        else
            rd_buf_putc(b, *v);
    }
    rd_buf_putc(b, '"');
}

static void series_labels(rd_buf *b, const rd_monitor_stats *st)
{
    label(b, "bundle", st->bundle, true);
    label(b, "variant", st->variant, false);
    label(b, "role", st->role, false);
}

static void gauge(rd_buf *b, const char *name, const rd_monitor_stats *st, double v)
{
    rd_buf_printf(b, "%s{", name);
    series_labels(b, st);
    rd_buf_puts(b, "} ");
    if (isfinite(v))
        rd_buf_printf(b, "%.17g\n", v);
    else
        rd_buf_puts(b, "NaN\n");
}

/* The window's statistics of every series, computed once per scrape. */
#define MAX_SCRAPED 256
typedef struct met_ctx {
    rd_arena *a;
    int64_t now;
    size_t n;
    rd_monitor_stats st[MAX_SCRAPED];
} met_ctx;

static void series_collect(void *ud, rd_monitor_series *s)
{
    met_ctx *c = ud;
    if (c->n < MAX_SCRAPED && rd_monitor_window_stats(s, c->now, c->a, &c->st[c->n], NULL) == RD_OK)
        c->n++;
}

static const struct {
    const char *name, *help;
} monitor_gauges[] = {
    {"riskd_monitor_decisions", "Decisions in the sliding window, by bundle, routing variant and role."},
    {"riskd_monitor_approve_rate", "Share of decisions approved in the sliding window."},
    {"riskd_monitor_review_rate", "Share of decisions sent to review in the sliding window."},
    {"riskd_monitor_reject_rate", "Share of decisions rejected in the sliding window."},
    {"riskd_monitor_fallback_rate", "Share of decisions answered by fallback rules in the sliding window."},
    {"riskd_monitor_error_rate", "Share of decisions the model failed (fallback on error, or refused)."},
    {"riskd_monitor_timeout_rate", "Share of decisions past their deadline (fallback on timeout)."},
    {"riskd_monitor_score_psi", "Score PSI against the bundle's training deciles (NaN below 1000 rows)."},
    {"riskd_monitor_score_psi_noise_floor",
     "The PSI noise alone reaches at alpha 0.001 for this window's rows."},
    {"riskd_monitor_score_ks", "Score KS drift against the bundle's training quantiles."},
    {"riskd_monitor_latency_p99_ms", "99th percentile of the decision latency in the sliding window, ms."},
};

static double gauge_value(const rd_monitor_stats *st, size_t k)
{
    switch (k) {
    case 0: return (double)st->n;
    case 1: return st->approve_rate;
    case 2: return st->review_rate;
    case 3: return st->reject_rate;
    case 4: return st->fallback_rate;
    case 5: return st->error_rate;
    case 6: return st->timeout_rate;
    case 7: return st->psi;
    case 8: return st->psi_floor;
    case 9: return st->ks;
    default: return st->latency_p99;
    }
}

static double jnum_of(const rd_value *o, const char *key)
{
    const rd_value *v = o ? rd_value_get(o, key, strlen(key)) : NULL;
    return v && v->type == RD_VNUMBER ? v->u.n : (double)NAN;
}

static void exposure_gauge(rd_buf *b, const char *name, const char *flag, const char *stage, const char *cap,
                           double v)
{
    if (isnan(v))
        return;
    char n[RD_NUM_BUF];
    rd_num_format(v, n);
    rd_buf_printf(b, "%s{flag=\"%s\",stage=\"%s\"", name, flag, stage);
    if (cap)
        rd_buf_printf(b, ",cap=\"%s\"", cap);
    rd_buf_printf(b, "} %s\n", n);
}

/* The exposure caps (docs/formats.md, "Exposure caps"): each rollout's stage in force, as its
 * ledger last saw it (the store's totals, this node's purse). */
static void exposure_metrics(rd_buf *b)
{
    static const char *const heads[] = {
        "# HELP riskd_rollout_exposure_cap The stage's cap: the amount (in the field's currency) or the "
        "approvals.\n"
        "# TYPE riskd_rollout_exposure_cap gauge\n",
        "# HELP riskd_rollout_exposure_used The candidate's approvals charged against the cap, every node.\n"
        "# TYPE riskd_rollout_exposure_used gauge\n",
        "# HELP riskd_rollout_exposure_reserved The cap reserved by the nodes (used, held and lost).\n"
        "# TYPE riskd_rollout_exposure_reserved gauge\n",
        "# HELP riskd_exposure_node_left What this node holds of the cap and has not spent.\n"
        "# TYPE riskd_exposure_node_left gauge\n",
        "# HELP riskd_exposure_capped_total The candidate's would-be approvals this node answered by the "
        "control.\n"
        "# TYPE riskd_exposure_capped_total counter\n"};
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_buf j;
    rd_buf_init(&j);
    rd_value st[SRV_MAX_ROLLOUTS];
    const char *flags[SRV_MAX_ROLLOUTS];
    size_t n = 0;
    for (size_t i = 0; i < R.n; i++) {
        if (!R.exp[i])
            continue;
        rd_buf_reset(&j);
        rd_controller_exposure_json(R.ctl[i], &j);
        if (rd_json_parse(j.data, j.len, NULL, &a, &st[n], NULL) == RD_OK && st[n].type == RD_VOBJECT)
            flags[n++] = rd_controller_flag(R.ctl[i]);
    }
    for (int h = 0; n && h < 5; h++) {
        rd_buf_puts(b, heads[h]);
        for (size_t i = 0; i < n; i++) {
            const rd_value *s = &st[i], *sv = rd_value_get(s, "stage", 5), *node = rd_value_get(s, "node", 4);
            const char *stage = sv && sv->type == RD_VSTRING ? sv->u.s : "";
            static const char *const keys[3][2] = {{"cap_amount", "cap_count"},
                                                   {"used_amount", "used_count"},
                                                   {"reserved_amount", "reserved_count"}};
            static const char *const names[3] = {"riskd_rollout_exposure_cap", "riskd_rollout_exposure_used",
                                                 "riskd_rollout_exposure_reserved"};
            if (h < 3) {
                exposure_gauge(b, names[h], flags[i], stage, "amount", jnum_of(s, keys[h][0]));
                exposure_gauge(b, names[h], flags[i], stage, "count", jnum_of(s, keys[h][1]));
            } else if (h == 3) {
                exposure_gauge(b, "riskd_exposure_node_left", flags[i], stage, "amount",
                               jnum_of(node, "left_amount"));
                exposure_gauge(b, "riskd_exposure_node_left", flags[i], stage, "count",
                               jnum_of(node, "left_count"));
            } else {
                exposure_gauge(b, "riskd_exposure_capped_total", flags[i], stage, NULL,
                               jnum_of(node, "capped"));
            }
        }
    }
    rd_buf_deinit(&j);
    rd_arena_deinit(&a);
}

void srv_rollouts_metrics(rd_buf *b)
{
    exposure_metrics(b);
    if (R.mon) {
        rd_arena a;
        rd_arena_init(&a, 0);
        met_ctx *c = rd_calloc(1, sizeof *c);
        if (c) {
            c->a = &a;
            c->now = rd_clock_unix_ms();
            rd_monitor_foreach(R.mon, series_collect, c);
            size_t ng = sizeof monitor_gauges / sizeof *monitor_gauges;
            for (size_t g = 0; g < ng; g++) {
                rd_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", monitor_gauges[g].name,
                              monitor_gauges[g].help, monitor_gauges[g].name);
                for (size_t i = 0; i < c->n; i++)
                    gauge(b, monitor_gauges[g].name, &c->st[i], gauge_value(&c->st[i], g));
            }
            rd_buf_puts(b, "# HELP riskd_monitor_input_psi PSI of each input against the training reference "
                           "(NaN below 1000 rows).\n# TYPE riskd_monitor_input_psi gauge\n");
            for (size_t i = 0; i < c->n; i++)
                for (size_t k = 0; k < c->st[i].ninputs; k++) {
                    rd_buf_puts(b, "riskd_monitor_input_psi{");
                    series_labels(b, &c->st[i]);
                    label(b, "input", c->st[i].inputs[k].name, false);
                    rd_buf_puts(b, "} ");
                    if (isfinite(c->st[i].inputs[k].psi))
                        rd_buf_printf(b, "%.17g\n", c->st[i].inputs[k].psi);
                    else
                        rd_buf_puts(b, "NaN\n");
                }
            rd_free(c);
        }
        rd_arena_deinit(&a);
    }
    if (!R.n)
        return;
    rd_buf_puts(b, "# HELP riskd_rollout_stage The rollout's current stage (index into its plan's stages).\n"
                   "# TYPE riskd_rollout_stage gauge\n");
    for (size_t i = 0; i < R.n; i++) {
        rd_rollout_state state;
        int stage;
        rd_controller_state(R.ctl[i], &state, &stage);
        rd_buf_puts(b, "riskd_rollout_stage{");
        label(b, "flag", rd_controller_flag(R.ctl[i]), true);
        rd_buf_printf(b, ",state=\"%s\"} %d\n", rd_rollout_state_name(state), stage);
    }
    rd_buf_puts(b,
                "# HELP riskd_rollout_transitions_total Stage changes, rollbacks, holds and manual commands, "
                "by reason.\n# TYPE riskd_rollout_transitions_total counter\n");
    pthread_mutex_lock(&R.lock);
    for (size_t i = 0; i < R.nreasons; i++) {
        rd_buf_puts(b, "riskd_rollout_transitions_total{");
        label(b, "flag", R.reasons[i].flag, true);
        rd_buf_printf(b, ",reason=\"%s\"} %llu\n", R.reasons[i].reason, (unsigned long long)R.reasons[i].n);
    }
    pthread_mutex_unlock(&R.lock);
}

/* /ready's "rollouts": [{flag, state, stage}] and the speed when it is not 1. */
void srv_rollouts_ready_json(rd_buf *b)
{
    if (R.cfg && R.cfg->rollout_speed > 1)
        rd_buf_printf(b, ",\"rollout_speed\":%d", R.cfg->rollout_speed);
    if (!R.n)
        return;
    rd_buf_printf(b, ",\"rollout_leader\":%s,\"rollouts\":[", atomic_load(&R.leader) ? "true" : "false");
    for (size_t i = 0; i < R.n; i++) {
        rd_rollout_state state;
        int stage;
        rd_controller_state(R.ctl[i], &state, &stage);
        rd_buf_printf(b, "%s{\"flag\":\"%s\",\"state\":\"%s\",\"stage_index\":%d}", i ? "," : "",
                      rd_controller_flag(R.ctl[i]), rd_rollout_state_name(state), stage);
    }
    rd_buf_putc(b, ']');
}
