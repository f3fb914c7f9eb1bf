/* Prometheus metrics. Every counter is a relaxed atomic, so recording costs an atomic add
 * and never a lock; series for flags and models are created once, on first sight, under a
 * mutex and kept for the life of the process, so a reload keeps counting where it was.
 * Unknown flag keys share one series: a caller cannot grow the registry at will. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "riskd/json.h"
#include "server.h"

#define NREASONS (RD_REASON_ERROR + 1)
/* Seconds: 50 us to 5 s, for in-process evaluations and scorings on a loaded host. */
static const double lat_bounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,   0.05,   0.1,     0.25,   0.5,   1,      5};
#define NLAT   (sizeof lat_bounds / sizeof lat_bounds[0])
#define NSCORE 10 /* probability deciles */
static const int statuses[] = {200, 201, 204, 304, 308, 400, 401, 403, 404,
                               405, 409, 413, 415, 429, 500, 501, 503, 504};
#define NSTATUS (sizeof statuses / sizeof statuses[0])
static const char *const route_names[SRV_ROUTE_COUNT] = {"/ofrep/v1/evaluate/flags/{key}",
                                                         "/ofrep/v1/evaluate/flags",
                                                         "/v1/score",
                                                         "/v1/score/batch",
                                                         "/health",
                                                         "/ready",
                                                         "/metrics",
                                                         "/score",
                                                         "/v1/monitor",
                                                         "/v1/rollouts",
                                                         "/v1/outcomes",
                                                         "/v1/outcomes/stats",
                                                         "/v1/admin/",
                                                         "/ofrep/v1/events",
                                                         "/v1/flagsets",
                                                         "/ui/",
                                                         "other"};

/* A named series in a list; the first member of the flag and model series. */
typedef struct series {
    struct series *next;
    char *name;
} series;

struct srv_flag_stats {
    series s; /* the flag key */
    atomic_uint_fast64_t by_reason[NREASONS];
};

struct srv_model_stats {
    series s; /* the model version */
    atomic_uint_fast64_t scores;
    atomic_uint_fast64_t deciles[NSCORE];
    _Atomic double sum;
};

typedef struct route_stats {
    atomic_uint_fast64_t by_status[NSTATUS + 1]; /* the last slot: any other status */
    atomic_uint_fast64_t buckets[NLAT + 1];      /* the last: above every bound */
    _Atomic double sum;
} route_stats;

/* Fallback answers by bundle ("" when none could be picked) and reason. */
typedef struct fallback_series {
    series s;
    atomic_uint_fast64_t by_reason[RD_FB_UNAVAILABLE + 1];
} fallback_series;

/* What a reload is of (srv_metrics_reload, srv_metrics_refusal): the label of its series. */
static const char *const reload_what[] = {"flags", "bundles", "fallback", "rollout", "tls"};
#define NWHAT ((int)(sizeof reload_what / sizeof reload_what[0]))

typedef struct error_series {
    struct error_series *next;
    char code[48];
    atomic_uint_fast64_t n;
} error_series;

static struct {
    pthread_mutex_t lock;
    series *flags;                       /* srv_flag_stats */
    series *models;                      /* srv_model_stats */
    series *fallbacks;                   /* fallback_series */
    atomic_uint_fast64_t log_refused[2]; /* [backlog|failed] */
    atomic_uint_fast64_t log_dropped;
    atomic_uint_fast64_t outcomes[4]; /* by rd_outcome_result */
    /* the admin API by action (the last: no action matched) and status; authentication
       failures by reason */
    atomic_uint_fast64_t admin[RD_ACT_COUNT + 1][NSTATUS + 1];
    atomic_uint_fast64_t auth_failures[SRV_AUTH_NREASONS];
    atomic_uint_fast64_t auth_store_checks;
    atomic_uint_fast64_t auth_stale;
    atomic_uint_fast64_t console_refusals[SRV_CONSOLE_NREFUSALS];
    atomic_uint_fast64_t cors[2][2]; /* [preflight][origin allowed] */
    error_series *errors;
    atomic_uint_fast64_t unknown_flag;
    route_stats routes[SRV_ROUTE_COUNT];
    atomic_uint_fast64_t reloads[NWHAT][2]; /* [reload_what][refused|ok] */
    char *refusal[NWHAT];                   /* why the file in force is not the one on disk (lock) */
    double refused_at[NWHAT];               /* unix time of that refusal */
    atomic_uint_fast64_t routing[2];        /* routing failures [unanswered|answered by fallback rules] */
    uint64_t routing_gen;                   /* the snapshot whose routing failed unanswered, +1 (lock) */
    char routing_msg[256];                  /* the last unanswered routing failure (lock) */
    /* the flagd sync service: calls ended by method and gRPC status, streams open, pushes */
    atomic_uint_fast64_t sync_calls[SRV_SYNC_NMETHODS][SRV_GRPC_NCODES];
    atomic_int_fast64_t sync_streams;
    atomic_uint_fast64_t sync_pushes;
    double started;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER};

double srv_uptime_s(void) { return srv_now() - M.started; }

int srv_metrics_init(void)
{
    M.started = srv_now();
    return RD_OK;
}

static void free_series(series **head)
{
    for (series *x = *head, *n; x; x = n) {
        n = x->next;
        rd_free(x->name);
        rd_free(x);
    }
    *head = NULL;
}

void srv_metrics_deinit(void)
{
    for (int w = 0; w < NWHAT; w++) {
        rd_free(M.refusal[w]);
        M.refusal[w] = NULL;
    }
    free_series(&M.flags);
    free_series(&M.models);
    free_series(&M.fallbacks);
    for (error_series *e = M.errors, *n; e; e = n) {
        n = e->next;
        rd_free(e);
    }
    M.errors = NULL;
}

static void add_double(_Atomic double *d, double v)
{
    double old = atomic_load_explicit(d, memory_order_relaxed);
    while (
        !atomic_compare_exchange_weak_explicit(d, &old, old + v, memory_order_relaxed, memory_order_relaxed))
        ;
}

static inline void inc(atomic_uint_fast64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static inline uint64_t get(atomic_uint_fast64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

void srv_metrics_sync_call(int method, int code)
{
    if (method < 0 || method >= SRV_SYNC_NMETHODS)
        method = SRV_SYNC_OTHER;
    if (code < 0 || code >= SRV_GRPC_NCODES)
        code = 2; /* UNKNOWN */
    inc(&M.sync_calls[method][code]);
}
void srv_metrics_sync_streams(int delta)
{
    atomic_fetch_add_explicit(&M.sync_streams, delta, memory_order_relaxed);
}
void srv_metrics_sync_pushes(uint64_t n)
{
    atomic_fetch_add_explicit(&M.sync_pushes, n, memory_order_relaxed);
}

/* Only the series that counted something: 4 methods x 17 codes would be mostly zeros. */
static void render_sync(rd_buf *b)
{
    rd_buf_puts(b, "# HELP riskd_sync_requests_total flagd sync (gRPC) calls ended, by method and status.\n"
                   "# TYPE riskd_sync_requests_total counter\n");
    for (int m = 0; m < SRV_SYNC_NMETHODS; m++)
        for (int c = 0; c < SRV_GRPC_NCODES; c++) {
            uint64_t n = get(&M.sync_calls[m][c]);
            if (n)
                rd_buf_printf(b, "riskd_sync_requests_total{method=\"%s\",code=\"%s\"} %llu\n",
                              srv_sync_method_name((srv_sync_method)m), srv_grpc_code_name(c),
                              (unsigned long long)n);
        }
    rd_buf_printf(
        b,
        "# HELP riskd_sync_streams SyncFlags streams open.\n# TYPE riskd_sync_streams gauge\n"
        "riskd_sync_streams %lld\n"
        "# HELP riskd_sync_pushes_total Flag sets sent on SyncFlags streams after a change (one per "
        "stream).\n# TYPE riskd_sync_pushes_total counter\nriskd_sync_pushes_total %llu\n",
        (long long)atomic_load_explicit(&M.sync_streams, memory_order_relaxed),
        (unsigned long long)get(&M.sync_pushes));
}

/* The series called name in the list at *head, added (size bytes, zeroed) if absent;
 * NULL when out of memory. */
static series *series_get(series **head, const char *name, size_t size)
{
    pthread_mutex_lock(&M.lock);
    series *x;
    for (x = *head; x; x = x->next)
        if (!strcmp(x->name, name))
            break;
    if (!x && (x = rd_calloc(1, size))) {
        if ((x->name = rd_strndup(name, strlen(name)))) {
            x->next = *head;
            *head = x;
        } else {
            rd_free(x);
            x = NULL;
        }
    }
    pthread_mutex_unlock(&M.lock);
    return x;
}

srv_flag_stats *srv_metrics_flag(const char *key)
{
    return (srv_flag_stats *)series_get(&M.flags, key, sizeof(srv_flag_stats));
}

srv_model_stats *srv_metrics_model(const char *name)
{
    return (srv_model_stats *)series_get(&M.models, name, sizeof(srv_model_stats));
}

void srv_metrics_request(srv_route route, int status, double seconds)
{
    route_stats *r = &M.routes[route];
    size_t s = 0;
    while (s < NSTATUS && statuses[s] != status)
        s++;
    inc(&r->by_status[s]);
    size_t b = 0;
    while (b < NLAT && seconds > lat_bounds[b])
        b++;
    inc(&r->buckets[b]);
    add_double(&r->sum, seconds);
}

void srv_metrics_error(const char *code)
{
    /* A handful of stable codes: a list walk beats a hash here, and the lock is taken only
     * the first time a code is seen. */
    for (error_series *e = atomic_load_explicit((error_series * _Atomic *)&M.errors, memory_order_acquire); e;
         e = e->next)
        if (!strcmp(e->code, code)) {
            inc(&e->n);
            return;
        }
    pthread_mutex_lock(&M.lock);
    error_series *e;
    for (e = M.errors; e; e = e->next)
        if (!strcmp(e->code, code))
            break;
    if (!e && (e = rd_calloc(1, sizeof *e))) {
        snprintf(e->code, sizeof e->code, "%s", code);
        e->next = M.errors;
        atomic_store_explicit((error_series * _Atomic *)&M.errors, e, memory_order_release);
    }
    if (e)
        inc(&e->n);
    pthread_mutex_unlock(&M.lock);
}

void srv_metrics_flag_eval(srv_flag_stats *s, rd_reason reason)
{
    if (s && (unsigned)reason < NREASONS)
        inc(&s->by_reason[reason]);
}

void srv_metrics_flag_unknown(void) { inc(&M.unknown_flag); }

void srv_metrics_score(srv_model_stats *s, double probability)
{
    if (!s)
        return;
    if (!(probability >= 0 && probability <= 1))
        return; /* rd_bundle_score refuses non-finite outputs; this keeps the sum a number */
    inc(&s->scores);
    /* le is inclusive: 0.1 belongs to the le="0.1" bucket */
    int d = (int)ceil(probability * NSCORE) - 1;
    d = d < 0 ? 0 : d > NSCORE - 1 ? NSCORE - 1 : d;
    inc(&s->deciles[d]);
    add_double(&s->sum, probability);
}

srv_fallback_stats *srv_metrics_fallback_series(const char *bundle)
{
    return (srv_fallback_stats *)series_get(&M.fallbacks, bundle, sizeof(fallback_series));
}

void srv_metrics_fallback(srv_fallback_stats *s, rd_fallback_reason why)
{
    fallback_series *f = (fallback_series *)s;
    if (f && (unsigned)why <= RD_FB_UNAVAILABLE)
        inc(&f->by_reason[why]);
}

void srv_metrics_log_refused(const char *what) { inc(&M.log_refused[strcmp(what, "backlog") != 0]); }

uint64_t srv_metrics_log_backlog_refusals(void) { return (uint64_t)get(&M.log_refused[0]); }
void srv_metrics_log_dropped(void) { inc(&M.log_dropped); }

void srv_metrics_outcomes(const uint64_t n[4])
{
    for (int i = 0; i < 4; i++)
        if (n[i])
            atomic_fetch_add_explicit(&M.outcomes[i], n[i], memory_order_relaxed);
}

void srv_metrics_admin(int action, int status)
{
    size_t a = action >= 0 && action < RD_ACT_COUNT ? (size_t)action : RD_ACT_COUNT, s = 0;
    while (s < NSTATUS && statuses[s] != status)
        s++;
    inc(&M.admin[a][s]);
}

void srv_metrics_auth_store_check(void) { inc(&M.auth_store_checks); }
void srv_metrics_auth_stale(void) { inc(&M.auth_stale); }

void srv_metrics_console_refusal(srv_console_refusal why)
{
    if ((unsigned)why < SRV_CONSOLE_NREFUSALS)
        inc(&M.console_refusals[why]);
}

void srv_metrics_auth_failure(srv_auth_reason why)
{
    if ((unsigned)why < SRV_AUTH_NREASONS)
        inc(&M.auth_failures[why]);
}

/* The admin API's requests and the failed authentications (never a token, nor a user name:
   the labels are the action table's names, statuses and the fixed reasons). */
static void render_auth(rd_buf *b)
{
    size_t n;
    const rd_admin_action_def *acts = rd_admin_actions(&n);
    rd_buf_puts(b, "# HELP riskd_admin_requests_total Admin API requests by action and status.\n"
                   "# TYPE riskd_admin_requests_total counter\n");
    for (size_t a = 0; a <= RD_ACT_COUNT; a++)
        for (size_t s = 0; s <= NSTATUS; s++) {
            uint64_t v = get(&M.admin[a][s]);
            if (!v)
                continue;
            rd_buf_printf(b, "riskd_admin_requests_total{action=\"%s\",code=\"",
                          a < n ? acts[a].name : "none");
            if (s < NSTATUS)
                rd_buf_printf(b, "%d", statuses[s]);
            else
                rd_buf_puts(b, "other");
            rd_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
        }
    rd_buf_puts(b, "# HELP riskd_auth_failures_total Requests refused for their credentials, by reason "
                   "(rate_limited: refused unchecked).\n# TYPE riskd_auth_failures_total counter\n");
    for (int w = 0; w < SRV_AUTH_NREASONS; w++)
        rd_buf_printf(b, "riskd_auth_failures_total{reason=\"%s\"} %llu\n",
                      srv_auth_reason_name((srv_auth_reason)w), (unsigned long long)get(&M.auth_failures[w]));
    rd_buf_printf(
        b,
        "# HELP riskd_auth_store_checks_total Tokens checked against the store (the others came from "
        "the cache).\n# TYPE riskd_auth_store_checks_total counter\nriskd_auth_store_checks_total %llu\n"
        "# HELP riskd_auth_stale_total Scoring-side requests admitted with a token from the cache because "
        "the store was unreachable (auth_stale_ms).\n# TYPE riskd_auth_stale_total counter\n"
        "riskd_auth_stale_total %llu\n",
        (unsigned long long)get(&M.auth_store_checks), (unsigned long long)get(&M.auth_stale));
    static const char *const console_reasons[SRV_CONSOLE_NREFUSALS] = {"csrf_required", "csrf_invalid",
                                                                       "cross_origin"};
    rd_buf_puts(b, "# HELP riskd_console_refusals_total Admin requests with the console's session cookie "
                   "refused before their credentials were looked at, by reason.\n"
                   "# TYPE riskd_console_refusals_total counter\n");
    for (int w = 0; w < SRV_CONSOLE_NREFUSALS; w++)
        rd_buf_printf(b, "riskd_console_refusals_total{reason=\"%s\"} %llu\n", console_reasons[w],
                      (unsigned long long)get(&M.console_refusals[w]));
}

void srv_metrics_cors(bool preflight, bool allowed) { inc(&M.cors[preflight][allowed]); }

static void render_cors(rd_buf *b)
{
    rd_buf_puts(
        b, "# HELP riskd_cors_requests_total Cross-origin requests (an Origin header) on the CORS routes, "
           "by kind and whether the origin is allowed (denied: a preflight answered 403, an actual "
           "request answered without Access-Control-Allow-Origin).\n"
           "# TYPE riskd_cors_requests_total counter\n");
    for (int p = 1; p >= 0; p--)
        for (int a = 1; a >= 0; a--)
            rd_buf_printf(b, "riskd_cors_requests_total{kind=\"%s\",result=\"%s\"} %llu\n",
                          p ? "preflight" : "actual", a ? "allowed" : "denied",
                          (unsigned long long)get(&M.cors[p][a]));
}

static void render_outcomes(rd_buf *b)
{
    rd_buf_puts(b,
                "# HELP riskd_outcomes_total Outcomes received (POST /v1/outcomes), by what became of them.\n"
                "# TYPE riskd_outcomes_total counter\n");
    for (int i = 0; i < 4; i++)
        rd_buf_printf(b, "riskd_outcomes_total{result=\"%s\"} %llu\n",
                      rd_outcome_result_name((rd_outcome_result)i), (unsigned long long)get(&M.outcomes[i]));
}

/* The slot of what, in reload_what; an unknown name counts as "fallback" (index 2). */
static int what_index(const char *what)
{
    for (int w = 0; w < NWHAT; w++)
        if (!strcmp(what, reload_what[w]))
            return w;
    return 2;
}

void srv_metrics_reload(const char *what, bool ok) { inc(&M.reloads[what_index(what)][ok]); }

void srv_metrics_refusal(const char *what, const char *msg)
{
    int w = what_index(what);
    char *m = msg ? rd_strndup(msg, strlen(msg)) : NULL;
    pthread_mutex_lock(&M.lock);
    rd_free(M.refusal[w]);
    M.refusal[w] = m;
    M.refused_at[w] = (double)time(NULL);
    pthread_mutex_unlock(&M.lock);
}

size_t srv_metrics_refusals(rd_buf *b)
{
    const char *const *what = reload_what;
    size_t n = 0;
    rd_buf_putc(b, '[');
    pthread_mutex_lock(&M.lock);
    for (int w = 0; w < NWHAT; w++) {
        if (!M.refusal[w])
            continue;
        rd_buf_printf(b, "%s{\"what\":\"%s\",\"since\":%.0f,\"error\":", n++ ? "," : "", what[w],
                      M.refused_at[w]);
        rd_json_write_string(b, M.refusal[w], strlen(M.refusal[w]));
        rd_buf_putc(b, '}');
    }
    pthread_mutex_unlock(&M.lock);
    rd_buf_putc(b, ']');
    return n;
}

void srv_metrics_routing_failure(uint64_t generation, bool answered, const char *msg)
{
    inc(&M.routing[answered]);
    if (answered)
        return;
    pthread_mutex_lock(&M.lock);
    M.routing_gen = generation + 1;
    snprintf(M.routing_msg, sizeof M.routing_msg, "%s", msg);
    pthread_mutex_unlock(&M.lock);
}

bool srv_metrics_routing_failed(uint64_t generation, char *msg, size_t cap)
{
    pthread_mutex_lock(&M.lock);
    bool failed = M.routing_gen == generation + 1;
    if (failed)
        snprintf(msg, cap, "%s", M.routing_msg);
    pthread_mutex_unlock(&M.lock);
    return failed;
}

static void num(rd_buf *b, double v)
{
    char s[RD_NUM_BUF];
    rd_num_format(v, s);
    rd_buf_puts(b, s);
}

/* A label value, escaped as the exposition format asks (backslash, quote, newline). */
static void label(rd_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            rd_buf_putc(b, '\\');
        if (*s == '\n') {
            rd_buf_puts(b, "\\n");
            continue;
        }
        rd_buf_putc(b, *s);
    }
}

static void render_http(rd_buf *b)
{
    rd_buf_puts(b, "# HELP riskd_http_requests_total HTTP requests by route and status.\n"
                   "# TYPE riskd_http_requests_total counter\n");
    for (int r = 0; r < SRV_ROUTE_COUNT; r++)
        for (size_t s = 0; s <= NSTATUS; s++) {
            uint64_t n = get(&M.routes[r].by_status[s]);
            if (!n)
                continue;
            rd_buf_printf(b, "riskd_http_requests_total{route=\"%s\",code=\"", route_names[r]);
            if (s < NSTATUS)
                rd_buf_printf(b, "%d", statuses[s]);
            else
                rd_buf_puts(b, "other");
            rd_buf_printf(b, "\"} %llu\n", (unsigned long long)n);
        }
    rd_buf_puts(
        b, "# HELP riskd_http_request_duration_seconds Time from the request's arrival to its response.\n"
           "# TYPE riskd_http_request_duration_seconds histogram\n");
    for (int r = 0; r < SRV_ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (size_t i = 0; i <= NLAT; i++) {
            cum += get(&M.routes[r].buckets[i]);
            rd_buf_printf(b, "riskd_http_request_duration_seconds_bucket{route=\"%s\",le=\"", route_names[r]);
            if (i < NLAT)
                num(b, lat_bounds[i]);
            else
                rd_buf_puts(b, "+Inf");
            rd_buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
        }
        rd_buf_printf(b, "riskd_http_request_duration_seconds_sum{route=\"%s\"} ", route_names[r]);
        num(b, atomic_load_explicit(&M.routes[r].sum, memory_order_relaxed));
        rd_buf_printf(b, "\nriskd_http_request_duration_seconds_count{route=\"%s\"} %llu\n", route_names[r],
                      (unsigned long long)cum);
    }
}

static void render_domain(rd_buf *b)
{
    rd_buf_puts(b, "# HELP riskd_flag_evaluations_total Flag evaluations by flag and reason.\n"
                   "# TYPE riskd_flag_evaluations_total counter\n");
    for (srv_flag_stats *f = (srv_flag_stats *)M.flags; f; f = (srv_flag_stats *)f->s.next)
        for (int r = 0; r < NREASONS; r++) {
            uint64_t n = get(&f->by_reason[r]);
            if (!n)
                continue;
            rd_buf_puts(b, "riskd_flag_evaluations_total{flag=\"");
            label(b, f->s.name);
            rd_buf_printf(b, "\",reason=\"%s\"} %llu\n", rd_reason_name((rd_reason)r), (unsigned long long)n);
        }
    rd_buf_printf(b, "riskd_flag_evaluations_total{flag=\"\",reason=\"FLAG_NOT_FOUND\"} %llu\n",
                  (unsigned long long)get(&M.unknown_flag));
    rd_buf_puts(b, "# HELP riskd_scores_total Decisions scored, by model version.\n"
                   "# TYPE riskd_scores_total counter\n");
    for (srv_model_stats *m = (srv_model_stats *)M.models; m; m = (srv_model_stats *)m->s.next) {
        rd_buf_puts(b, "riskd_scores_total{model_version=\"");
        label(b, m->s.name);
        rd_buf_printf(b, "\"} %llu\n", (unsigned long long)get(&m->scores));
    }
    rd_buf_puts(b,
                "# HELP riskd_score_probability Distribution of the probability scored, by model version.\n"
                "# TYPE riskd_score_probability histogram\n");
    for (srv_model_stats *m = (srv_model_stats *)M.models; m; m = (srv_model_stats *)m->s.next) {
        uint64_t cum = 0;
        for (int d = 0; d < NSCORE; d++) {
            cum += get(&m->deciles[d]);
            rd_buf_puts(b, "riskd_score_probability_bucket{model_version=\"");
            label(b, m->s.name);
            if (d < NSCORE - 1)
                rd_buf_printf(b, "\",le=\"0.%d\"} %llu\n", d + 1, (unsigned long long)cum);
            else
                rd_buf_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        rd_buf_puts(b, "riskd_score_probability_sum{model_version=\"");
        label(b, m->s.name);
        rd_buf_puts(b, "\"} ");
        num(b, atomic_load_explicit(&m->sum, memory_order_relaxed));
        rd_buf_puts(b, "\nriskd_score_probability_count{model_version=\"");
        label(b, m->s.name);
        rd_buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
    }
}

static void render_fallbacks(rd_buf *b)
{
    rd_buf_puts(b, "# HELP riskd_fallback_total Decisions answered by fallback rules, by bundle and reason.\n"
                   "# TYPE riskd_fallback_total counter\n");
    for (fallback_series *f = (fallback_series *)M.fallbacks; f; f = (fallback_series *)f->s.next)
        for (int r = RD_FB_TIMEOUT; r <= RD_FB_UNAVAILABLE; r++) {
            rd_buf_puts(b, "riskd_fallback_total{bundle=\"");
            label(b, f->s.name);
            rd_buf_printf(b, "\",reason=\"%s\"} %llu\n", rd_fallback_reason_name((rd_fallback_reason)r),
                          (unsigned long long)get(&f->by_reason[r]));
        }
}

static void render_breakers(rd_buf *b, const srv_snapshot *snap)
{
    size_t n = snap && snap->dec ? rd_decider_count(snap->dec) : 0;
    rd_buf_puts(b, "# HELP riskd_breaker_state Circuit breaker per bundle: 0 closed, 1 open, 2 half_open.\n"
                   "# TYPE riskd_breaker_state gauge\n");
    for (size_t i = 0; i < n; i++) {
        const rd_slot *s = rd_decider_slot(snap->dec, i);
        rd_buf_puts(b, "riskd_breaker_state{bundle=\"");
        label(b, rd_slot_name(s));
        rd_buf_printf(b, "\"} %d\n", (int)rd_breaker_get_state(rd_slot_breaker(s)));
    }
    rd_buf_puts(b,
                "# HELP riskd_breaker_transitions_total Circuit breaker transitions per bundle, by the state "
                "entered.\n# TYPE riskd_breaker_transitions_total counter\n");
    for (size_t i = 0; i < n; i++) {
        const rd_slot *s = rd_decider_slot(snap->dec, i);
        for (int st = RD_BREAKER_CLOSED; st <= RD_BREAKER_HALF_OPEN; st++) {
            rd_buf_puts(b, "riskd_breaker_transitions_total{bundle=\"");
            label(b, rd_slot_name(s));
            rd_buf_printf(
                b, "\",to=\"%s\"} %llu\n", rd_breaker_state_name((rd_breaker_state)st),
                (unsigned long long)rd_breaker_transitions(rd_slot_breaker(s), (rd_breaker_state)st));
        }
    }
}

static void pair_labels(rd_buf *b, const char *metric, const rd_shadow_pair_stats *p)
{
    rd_buf_printf(b, "%s{primary=\"", metric);
    label(b, p->primary);
    rd_buf_puts(b, "\",shadow=\"");
    label(b, p->shadow);
    rd_buf_putc(b, '"');
}

#define MAX_PAIRS 64

typedef struct pairs {
    rd_shadow_pair_stats v[MAX_PAIRS];
    char names[MAX_PAIRS][2][128];
    size_t n;
} pairs;

static void collect_pair(void *ud, const rd_shadow_pair_stats *p)
{
    pairs *l = ud;
    if (l->n == MAX_PAIRS)
        return;
    rd_shadow_pair_stats *c = &l->v[l->n];
    *c = *p;
    snprintf(l->names[l->n][0], 128, "%s", p->primary);
    snprintf(l->names[l->n][1], 128, "%s", p->shadow);
    c->primary = l->names[l->n][0];
    c->shadow = l->names[l->n][1];
    l->n++;
}

/* One family: its HELP and TYPE, then one line per pair (a family's lines stay together). */
static void family(rd_buf *b, const pairs *l, const char *name, const char *type, const char *help,
                   const char *extra, uint64_t (*value)(const rd_shadow_pair_stats *))
{
    rd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < l->n; i++) {
        pair_labels(b, name, &l->v[i]);
        rd_buf_printf(b, "%s} %llu\n", extra, (unsigned long long)value(&l->v[i]));
    }
}

static uint64_t v_scored(const rd_shadow_pair_stats *p) { return p->scored; }
static uint64_t v_errors(const rd_shadow_pair_stats *p) { return p->errors; }
static uint64_t v_swap_out(const rd_shadow_pair_stats *p) { return p->swap_out; }
static uint64_t v_swap_in(const rd_shadow_pair_stats *p) { return p->swap_in; }

static void render_pairs(rd_buf *b, const pairs *l)
{
    family(b, l, "riskd_shadow_scores_total", "counter", "Shadow scores per (primary, shadow) pair.", "",
           v_scored);
    family(b, l, "riskd_shadow_errors_total", "counter", "Shadow scorings that failed, per pair.", "",
           v_errors);
    rd_buf_puts(b,
                "# HELP riskd_shadow_agreement_total Shadow scores that agree with the primary, on its risk "
                "level or its decision.\n# TYPE riskd_shadow_agreement_total counter\n");
    for (size_t i = 0; i < l->n; i++) {
        pair_labels(b, "riskd_shadow_agreement_total", &l->v[i]);
        rd_buf_printf(b, ",on=\"risk_level\"} %llu\n", (unsigned long long)l->v[i].same_risk_level);
        pair_labels(b, "riskd_shadow_agreement_total", &l->v[i]);
        rd_buf_printf(b, ",on=\"decision\"} %llu\n", (unsigned long long)l->v[i].same_decision);
    }
    rd_buf_puts(b, "# HELP riskd_shadow_agreement_ratio Agreement over the shadow scores so far.\n"
                   "# TYPE riskd_shadow_agreement_ratio gauge\n");
    for (size_t i = 0; i < l->n; i++) {
        const rd_shadow_pair_stats *p = &l->v[i];
        pair_labels(b, "riskd_shadow_agreement_ratio", p);
        rd_buf_puts(b, ",on=\"risk_level\"} ");
        num(b, p->scored ? (double)p->same_risk_level / (double)p->scored : 0);
        pair_labels(b, "\nriskd_shadow_agreement_ratio", p);
        rd_buf_puts(b, ",on=\"decision\"} ");
        num(b, p->scored ? (double)p->same_decision / (double)p->scored : 0);
        rd_buf_putc(b, '\n');
    }
    family(b, l, "riskd_shadow_swaps_total", "counter", "Swaps: one model approves where the other rejects.",
           ",primary_decision=\"approve\",shadow_decision=\"reject\"", v_swap_out);
    for (size_t i = 0; i < l->n; i++) { /* the same family, the other direction */
        pair_labels(b, "riskd_shadow_swaps_total", &l->v[i]);
        rd_buf_printf(b, ",primary_decision=\"reject\",shadow_decision=\"approve\"} %llu\n",
                      (unsigned long long)v_swap_in(&l->v[i]));
    }
    rd_buf_puts(b, "# HELP riskd_shadow_probability_diff The shadow's probability minus the primary's.\n"
                   "# TYPE riskd_shadow_probability_diff histogram\n");
    for (size_t k = 0; k < l->n; k++) {
        const rd_shadow_pair_stats *p = &l->v[k];
        for (size_t i = 0; i <= p->nbounds; i++) {
            pair_labels(b, "riskd_shadow_probability_diff_bucket", p);
            rd_buf_puts(b, ",le=\"");
            if (i < p->nbounds)
                num(b, p->bounds[i]);
            else
                rd_buf_puts(b, "+Inf");
            rd_buf_printf(b, "\"} %llu\n", (unsigned long long)(i < p->nbounds ? p->diff_le[i] : p->scored));
        }
        pair_labels(b, "riskd_shadow_probability_diff_sum", p);
        rd_buf_puts(b, "} ");
        num(b, p->diff_sum);
        pair_labels(b, "\nriskd_shadow_probability_diff_count", p);
        rd_buf_printf(b, "} %llu\n", (unsigned long long)p->scored);
    }
}

static void render_shadow(rd_buf *b, rd_shadow *sh)
{
    rd_buf_printf(b,
                  "# HELP riskd_shadow_dropped_total Shadow work dropped because the shadow queue was full.\n"
                  "# TYPE riskd_shadow_dropped_total counter\nriskd_shadow_dropped_total %llu\n",
                  (unsigned long long)(sh ? rd_shadow_dropped(sh) : 0));
    if (!sh)
        return;
    rd_buf_printf(b,
                  "# HELP riskd_shadow_pending Decisions queued or being scored in shadow.\n"
                  "# TYPE riskd_shadow_pending gauge\nriskd_shadow_pending %zu\n",
                  rd_shadow_pending(sh));
    pairs *l = rd_calloc(1, sizeof *l);
    if (!l)
        return;
    rd_shadow_foreach(sh, collect_pair, l);
    render_pairs(b, l);
    rd_free(l);
}

static void render_log(rd_buf *b, rd_dlog *dlog)
{
    rd_buf_printf(
        b,
        "# HELP riskd_log_refused_total Decisions refused (503) because the decision log was full "
        "(LOG_BACKLOG) or failed (LOG_FAILED).\n# TYPE riskd_log_refused_total counter\n"
        "riskd_log_refused_total{reason=\"backlog\"} %llu\nriskd_log_refused_total{reason=\"failed\"} "
        "%llu\n# HELP riskd_log_dropped_total Records not logged (log_on_full = drop, or a shadow score "
        "with the queue full).\n# TYPE riskd_log_dropped_total counter\nriskd_log_dropped_total %llu\n",
        (unsigned long long)get(&M.log_refused[0]), (unsigned long long)get(&M.log_refused[1]),
        (unsigned long long)get(&M.log_dropped));
    if (!dlog)
        return;
    rd_dlog_stats st;
    rd_dlog_get_stats(dlog, &st);
    rd_buf_printf(
        b,
        "# HELP riskd_log_records_total Decision records, by what became of them.\n"
        "# TYPE riskd_log_records_total counter\nriskd_log_records_total{state=\"queued\"} %llu\n"
        "riskd_log_records_total{state=\"committed\"} %llu\nriskd_log_records_total{state=\"failed\"} "
        "%llu\n# HELP riskd_log_queue Records waiting for the writer.\n# TYPE riskd_log_queue gauge\n"
        "riskd_log_queue %zu\n# HELP riskd_log_commits_total Transactions (group commits) of the log.\n"
        "# TYPE riskd_log_commits_total counter\nriskd_log_commits_total %llu\n"
        "# HELP riskd_log_commit_seconds_total Time spent committing.\n"
        "# TYPE riskd_log_commit_seconds_total counter\nriskd_log_commit_seconds_total ",
        (unsigned long long)st.submitted, (unsigned long long)st.committed, (unsigned long long)st.failed,
        st.queued, (unsigned long long)st.commits);
    num(b, st.commit_seconds);
    rd_buf_putc(b, '\n');
    rd_buf_printf(
        b,
        "# HELP riskd_dlog_spooled_total Decision records written to the spool while the store was "
        "unreachable.\n# TYPE riskd_dlog_spooled_total counter\nriskd_dlog_spooled_total %llu\n"
        "# HELP riskd_dlog_drained_total Spooled records the store took when it was back.\n"
        "# TYPE riskd_dlog_drained_total counter\nriskd_dlog_drained_total %llu\n"
        "# HELP riskd_dlog_undeliverable_total Spooled records the store refused for good (dropped, "
        "logged).\n# TYPE riskd_dlog_undeliverable_total counter\nriskd_dlog_undeliverable_total %llu\n"
        "# HELP riskd_dlog_spool_bytes Bytes waiting in the spool.\n# TYPE riskd_dlog_spool_bytes gauge\n"
        "riskd_dlog_spool_bytes %llu\n# HELP riskd_dlog_spool_records Records waiting in the spool.\n"
        "# TYPE riskd_dlog_spool_records gauge\nriskd_dlog_spool_records %llu\n"
        "# HELP riskd_dlog_store_up Whether the decision log's last call to the store reached it (1) or "
        "found it unreachable (0).\n# TYPE riskd_dlog_store_up gauge\nriskd_dlog_store_up %d\n",
        (unsigned long long)st.spooled, (unsigned long long)st.drained, (unsigned long long)st.undeliverable,
        (unsigned long long)st.spool_bytes, (unsigned long long)st.spool_records, st.store_down ? 0 : 1);
}

void srv_metrics_render(rd_buf *b, const srv_snapshot *snap, rd_shadow *shadow, rd_dlog *dlog,
                        size_t connections, int inflight)
{
    int64_t generation = snap ? (int64_t)snap->generation : 0;
    pthread_mutex_lock(&M.lock); /* the series lists; the counters themselves are atomic */
    render_http(b);
    render_domain(b);
    render_fallbacks(b);
    rd_buf_puts(b, "# HELP riskd_errors_total Error responses by stable error code.\n"
                   "# TYPE riskd_errors_total counter\n");
    for (error_series *e = M.errors; e; e = e->next)
        rd_buf_printf(b, "riskd_errors_total{code=\"%s\"} %llu\n", e->code, (unsigned long long)get(&e->n));
    pthread_mutex_unlock(&M.lock);
    render_breakers(b, snap);
    render_shadow(b, shadow);
    render_log(b, dlog);
    srv_rollouts_metrics(b);
    srv_events_metrics(b);
    srv_cluster_metrics(b);
    srv_notify_metrics(b);
    render_outcomes(b);
    render_auth(b);
    render_cors(b);
    render_sync(b);
    rd_buf_puts(b, "# HELP riskd_reloads_total Reloads of the flag file, of bundles, of the service-wide "
                   "fallback rules, of rollout plans and of the TLS files, by result.\n# TYPE "
                   "riskd_reloads_total counter\n");
    const char *const *what = reload_what;
    for (int w = 0; w < NWHAT; w++)
        for (int ok = 0; ok < 2; ok++)
            rd_buf_printf(b, "riskd_reloads_total{what=\"%s\",result=\"%s\"} %llu\n", what[w],
                          ok ? "ok" : "refused", (unsigned long long)get(&M.reloads[w][ok]));
    rd_buf_puts(b, "# HELP riskd_reload_failures_total Reloads refused (the last good state kept serving).\n"
                   "# TYPE riskd_reload_failures_total counter\n");
    for (int w = 0; w < NWHAT; w++)
        rd_buf_printf(b, "riskd_reload_failures_total{what=\"%s\"} %llu\n", what[w],
                      (unsigned long long)get(&M.reloads[w][0]));
    rd_buf_puts(b, "# HELP riskd_reload_refused Whether the file on disk was refused and an older one serves "
                   "(1), by file.\n# TYPE riskd_reload_refused gauge\n");
    pthread_mutex_lock(&M.lock);
    for (int w = 0; w < NWHAT; w++)
        rd_buf_printf(b, "riskd_reload_refused{what=\"%s\"} %d\n", what[w], M.refusal[w] != NULL);
    pthread_mutex_unlock(&M.lock);
    rd_buf_printf(
        b,
        "# HELP riskd_routing_failures_total Decisions whose routing flag named no loaded bundle, by "
        "whether fallback rules answered them.\n# TYPE riskd_routing_failures_total counter\n"
        "riskd_routing_failures_total{answered=\"fallback\"} %llu\n"
        "riskd_routing_failures_total{answered=\"error\"} %llu\n",
        (unsigned long long)get(&M.routing[1]), (unsigned long long)get(&M.routing[0]));
    rd_buf_printf(b,
                  "# HELP riskd_snapshot_generation Generation of the flags and bundles in force.\n"
                  "# TYPE riskd_snapshot_generation gauge\nriskd_snapshot_generation %lld\n"
                  "# HELP riskd_http_connections Open HTTP connections.\n"
                  "# TYPE riskd_http_connections gauge\nriskd_http_connections %zu\n"
                  "# HELP riskd_http_requests_in_flight Requests being handled.\n"
                  "# TYPE riskd_http_requests_in_flight gauge\nriskd_http_requests_in_flight %d\n"
                  "# HELP riskd_uptime_seconds Seconds since the service started.\n"
                  "# TYPE riskd_uptime_seconds gauge\nriskd_uptime_seconds ",
                  (long long)generation, connections, inflight);
    num(b, srv_now() - M.started);
    rd_buf_putc(b, '\n');
}
