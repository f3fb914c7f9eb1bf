/* riskd serve: the HTTP service. Internal to src/server/; only this directory includes
 * libmicrohttpd.
 *
 * The pieces: config (defaults < file < RISKD_* environment < command line, validated in one
 * place), log (one JSON object per line on stderr), snapshot (the flags and bundles in force,
 * immutable and refcounted, rebuilt aside on reload and swapped in), metrics (atomic counters
 * rendered as Prometheus text), http (libmicrohttpd glue, limits, routing, the run loop with
 * its signals and file watching), tls (HTTPS and client certificates through GnuTLS, the
 * certificate reloaded when its files change) and the routes (OFREP, scoring, outcomes,
 * health/ready/metrics). */
#ifndef RISKD_SERVER_H
#define RISKD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/auth.h"
#include "riskd/bundle.h"
#include "riskd/decide.h"
#include "riskd/dlog.h"
#include "riskd/err.h"
#include "riskd/flags.h"
#include "riskd/monitor.h"
#include "riskd/notify.h"
#include "riskd/value.h"

/* ------------------------------------------------------------------ config */

#define SRV_PATH_MAX 1024
#define SRV_MAX_KEYS 64 /* trusted bundle keys in bundle_pubkey */

typedef enum srv_log_level { SRV_DEBUG = 0, SRV_INFO, SRV_WARN, SRV_ERROR } srv_log_level;

/* The options every store handle of the server is opened with (its node name). */
extern rd_store_opts srv_store_opts;

typedef struct srv_config {
    char flags[SRV_PATH_MAX];    /* flag set file, "" for none */
    char bundles[SRV_PATH_MAX];  /* directory of bundle directories, "" for none (bundles = store:
                                    DATA_DIR/bundle-cache, resolved in validate) */
    char listen[256];            /* HOST:PORT, port 0 = the kernel picks */
    char data_dir[SRV_PATH_MAX]; /* state directory (created if missing) */
    char store[SRV_PATH_MAX];    /* the store's URL: postgresql://... (several nodes), else sqlite:DATA_DIR
                                    (resolved in validate) */
    int store_check_ms;       /* how often the store's newest flag set is checked (a missed notification) */
    int store_timeout_ms;     /* rd_store_opts.timeout_ms: a shared store's longest wait for an answer */
    bool store_watch;         /* listen for the store's change notifications (default on) */
    bool bundles_store;       /* bundles = store: the bundles the store publishes, fetched into the
                                 cache by rd_bundle_cache_sync when the store is due */
    char route_flag[256];     /* the flag whose string value names the bundle */
    char default_bundle[256]; /* used when no routing flag answers; "" = none */
    int threads;              /* HTTP worker threads; 0 = one per core */
    size_t max_body_bytes;    /* request body limit (413 above) */
    size_t max_batch;         /* rows per /v1/score/batch */
    int max_json_depth;       /* nesting of a request body */
    size_t max_json_fields;   /* values in a request body */
    size_t max_connections;   /* open connections at once */
    size_t sse_max_streams;   /* OFREP event streams open at once (0: no streams, none advertised) */
    int sse_heartbeat_s;      /* a comment line on every stream this often */
    int sse_inactivity_s;     /* advertised: a hidden client closes its stream after this */
    int reasons;              /* reason codes per decision when a request names none */
    int reload_interval_ms;   /* how often the flag file and bundles are checked */
    int drain_timeout_ms;     /* SIGTERM: longest wait for in-flight requests */
    int connection_timeout_s; /* an idle keep-alive connection is closed after this */
    srv_log_level log_level;
    int64_t fixed_time;               /* $flagd.timestamp for every evaluation; 0 = now */
    bool lenient;                     /* accept what flagd accepts (see rd_flagset_opts) */
    bool require_signed_bundles;      /* refuse a bundle whose signature no trusted key made */
    bool ready_on_refusal;            /* /ready stays 200 while a refused reload is in force */
    bool route_flag_set;              /* route_flag was given (file, RISKD_ROUTE_FLAG, argument) */
    char bundle_pubkey[SRV_PATH_MAX]; /* the trusted public keys (base64, one a line) */
    char source[SRV_PATH_MAX];        /* the config file read, "" for none */
    /* the decision path (include/riskd/decide.h) */
    char shadow_flag[256];       /* object flag {"bundles": [...]}; "" = no shadow */
    int shadow_threads;          /* shadow worker threads */
    size_t shadow_queue;         /* decisions waiting for shadow scoring; more are dropped */
    int deadline_ms;             /* per decision; 0 = none; a bundle's serving.deadline_ms wins */
    char fallback[SRV_PATH_MAX]; /* service-wide fallback rules; "" = none */
    char breaker[16];            /* window | consecutive | off */
    int breaker_window_ms, breaker_min_calls, breaker_failure_percent, breaker_open_ms, breaker_open_max_ms,
        breaker_half_open_calls, breaker_half_open_timeout_ms, breaker_fail_max, breaker_reset_ms;
#define SRV_MAX_FAULTS 16
    rd_fault faults[SRV_MAX_FAULTS]; /* --fault, repeatable (a drill tool) */
    size_t nfaults;
    bool compat_routes; /* POST /score, the textbook service's route */
    /* governance (include/riskd/auth.h, change.h) */
    bool require_approval; /* serve only published versions of the flags, bundles and plans */
    bool auth;             /* the scoring side's rules: outcomes and pinning need a token (the admin API
                              always needs one, whatever this says) */
    bool auth_scoring;     /* /v1/score, /v1/score/batch, /score and OFREP need a token (score scope) */
    char allow_pinning[8]; /* on | off | auto ("bundle" in a score request) */
    bool pinning;          /* allow_pinning resolved: auto is on without auth, off with it */
    int auth_max_failures; /* failed authentications per source a minute before 429 */
    int auth_stale_ms;     /* with the store unreachable, a token it vouched for at most this long ago
                              still admits scoring and OFREP (0: never) */
    /* the decision log (include/riskd/dlog.h), in data_dir/riskd.db */
    bool log;                /* record every decision (default on) */
    char log_durability[16]; /* async | ack */
    char log_on_full[16];    /* reject | drop */
    char unknown_inputs[16]; /* reject | warn | ignore: features naming no input of the pipeline */
    int unknown_policy;      /* rd_unknown_policy of unknown_inputs */
    size_t log_queue;        /* records waiting for the writer */
    int log_retention_days;  /* 0: keep every decision */
    char node[128];          /* this node's name in the records (default: the host name) */
    /* log_redact: inputs logged as a keyed hash or not at all (rd_dlog_redact_new), and the key */
    char log_redact[1024], log_redact_key_file[SRV_PATH_MAX];
    /* the spool of records a shared store cannot take while it is away: "" (DATA_DIR/dlog.spool
       when the store is shared, none on SQLite), "off", or a path; and its bound */
    char log_spool[SRV_PATH_MAX];
    size_t log_spool_max_bytes;
    /* monitoring and rollouts (include/riskd/monitor.h, include/riskd/rollout.h) */
#define SRV_MAX_ROLLOUTS 8
    char rollouts[SRV_MAX_ROLLOUTS][SRV_PATH_MAX]; /* plan files, one per routing flag */
    size_t nrollouts;
    int rollout_speed; /* hold times, intervals and deadlines divided by it */
    /* notifications (notify.c, include/riskd/notify.h): sink specs, checked in validate */
#define SRV_MAX_SINKS     16
#define SRV_SINK_SPEC_MAX 2048
    char notify[SRV_MAX_SINKS][SRV_SINK_SPEC_MAX];
    size_t nnotify;
    char notify_console_url[512]; /* base of the console links in notifications, "" none */
    int notify_timeout_ms;        /* per delivery attempt */
    int notify_max_attempts;      /* then the event is recorded as failed for that sink */
    int notify_backoff_ms, notify_backoff_max_ms;
    int notify_poll_ms;         /* the outbox is looked at least this often */
    int notify_retention_days;  /* events kept in the outbox */
    int notify_alert_hold_s;    /* Alertmanager endsAt of a firing alarm */
    int notify_store_down_s;    /* store.unavailable after this long */
    int notify_backlog_percent; /* dlog.backlog when the log queue is this full */
    char notify_drift_psi[32];  /* drift.alarm over this PSI (and its noise floor); "off" */
    double drift_psi;           /* notify_drift_psi parsed (0: off) */
    int notify_cert_days;       /* cert.expiring this many days before */
    size_t notify_spool_max_bytes;
    bool monitor;          /* statistics per bundle, variant and role */
    int monitor_bucket_ms; /* the sliding window's bucket */
    int monitor_buckets;   /* buckets in the window */
    int monitor_history;   /* buckets of decision counts for rates over time */
    /* TLS (tls.c): HTTPS only when tls_cert is set */
    char tls_cert[SRV_PATH_MAX];      /* PEM server certificate (chain), "" = plain HTTP */
    char tls_key[SRV_PATH_MAX];       /* PEM private key of tls_cert */
    char tls_client_ca[SRV_PATH_MAX]; /* PEM CA bundle client certificates must chain to; "" = none */
    char mtls[16];                    /* all | admin (routes under /v1/admin/); "" without tls_client_ca */
    /* CORS (cors.c) on the OFREP and scoring routes: the origins allowed, normalised at load
       (srv_cors_normalize), "*", or "" for none (no CORS headers, OPTIONS answered 405) */
    char cors_origins[4096];
    bool cors_credentials; /* Access-Control-Allow-Credentials: true (refused with "*") */
    /* the web console (/ui/) and its sign-in (session.c, docs/api.md "Console sessions") */
    bool console;                  /* off: /ui/ answers 404, the session actions are refused */
    int console_session_max_s;     /* a session's longest life (never past its parent token's) */
    int console_session_idle_s;    /* a session unused this long ends */
    char console_cookie_secure[8]; /* auto (on with tls_cert) | on (TLS ended at a proxy) | off */
    bool cookie_secure;            /* console_cookie_secure resolved: Secure and the __Host- name */
    /* a body refused before it is read (413, 415, 401) is read and dropped, up to these bounds,
       so the client can read the answer: a close with unread data resets the connection */
    size_t linger_max_bytes; /* 0: answer at once and close */
    int linger_timeout_ms;
    /* the flagd sync service (sync.c): gRPC flagd.sync.v1 on its own port */
    char sync_listen[256];       /* HOST:PORT, "" = off; port 0 = the kernel picks */
    size_t sync_max_streams;     /* SyncFlags streams open at once; more are refused RESOURCE_EXHAUSTED */
    size_t sync_max_connections; /* sync connections open at once (default 2 x sync_max_streams); more
                                    are closed at accept */
} srv_config;

/* The breaker options the configuration gives (on_transition unset). */
void srv_config_breaker(const srv_config *cfg, rd_breaker_opts *o);

/* Fill cfg from the defaults, the config file (--config or RISKD_CONFIG), the RISKD_*
 * environment and argv (after "serve"), in that order, then validate it. *check_only is set
 * by --check-config, *help by --help. Errors name the file and line or the variable or the
 * option. */
int srv_config_load(int argc, char **argv, srv_config *cfg, bool *check_only, bool *help, rd_err *err);
/* The notification settings only (defaults, --config FILE, RISKD_ variables, the options in argv,
 * which may be any of serve's): for riskd notify, which serves nothing. */
int srv_config_notify(int argc, char **argv, srv_config *cfg, rd_err *err);
extern const char srv_usage[];

/* ------------------------------------------------------------------ log */

void srv_log_init(srv_log_level min);
bool srv_log_enabled(srv_log_level level);
/* One line {"ts":..., "level":..., "msg":..., fields...}. fields is a list of key, value
 * pairs ended by NULL; a key starting with '#' takes a value that is already JSON (a number,
 * say), the '#' dropped; other values are strings and are escaped. */
void srv_log(srv_log_level level, const char *msg, ...) __attribute__((sentinel));

/* ------------------------------------------------------------------ metrics */

typedef struct srv_flag_stats srv_flag_stats;
typedef struct srv_model_stats srv_model_stats;

typedef enum srv_route {
    SRV_ROUTE_OFREP_FLAG = 0,
    SRV_ROUTE_OFREP_BULK,
    SRV_ROUTE_SCORE,
    SRV_ROUTE_SCORE_BATCH,
    SRV_ROUTE_HEALTH,
    SRV_ROUTE_READY,
    SRV_ROUTE_METRICS,
    SRV_ROUTE_COMPAT_SCORE,
    SRV_ROUTE_MONITOR,
    SRV_ROUTE_ROLLOUTS,
    SRV_ROUTE_OUTCOMES,
    SRV_ROUTE_OUTCOME_STATS,
    SRV_ROUTE_ADMIN, /* everything under /v1/admin/ (routes_admin.c routes it further) */
    SRV_ROUTE_EVENTS,
    SRV_ROUTE_FLAGSETS,
    SRV_ROUTE_UI, /* the web console: /ui and everything under /ui/ (console.c) */
    SRV_ROUTE_OTHER,
    SRV_ROUTE_COUNT
} srv_route;

int srv_metrics_init(void);
void srv_metrics_deinit(void);
/* The series of a flag or a model, created on first use and kept until deinit (so a reload
 * keeps counting in the same series). NULL when out of memory. */
srv_flag_stats *srv_metrics_flag(const char *key);
srv_model_stats *srv_metrics_model(const char *name);
void srv_metrics_request(srv_route route, int status, double seconds);
void srv_metrics_error(const char *code);
void srv_metrics_flag_eval(srv_flag_stats *s, rd_reason reason);
void srv_metrics_flag_unknown(void);
void srv_metrics_score(srv_model_stats *s, double probability);
/* A decision answered by fallback rules: by bundle ("" for none) and reason. */
typedef struct srv_fallback_stats srv_fallback_stats;
/* The fallback counters of a bundle ("" for the answers no bundle was picked for), created on
 * first use: resolved once per slot, so counting takes no lock. */
srv_fallback_stats *srv_metrics_fallback_series(const char *bundle);
void srv_metrics_fallback(srv_fallback_stats *s, rd_fallback_reason why);
/* Decisions refused because the log was full or failed (what: "backlog", "failed"), and
 * records dropped (log_on_full = drop, or a shadow record with the queue full). */
void srv_metrics_log_refused(const char *what);
void srv_metrics_log_dropped(void);
/* Outcomes received (POST /v1/outcomes), by what became of them: n[rd_outcome_result]. */
void srv_metrics_outcomes(const uint64_t n[4]);
/* Why a request's credentials were refused (the labels of riskd_auth_failures_total: a fixed
 * set, so a caller cannot grow the series). */
typedef enum srv_auth_reason {
    SRV_AUTH_MISSING = 0, /* no Authorization header */
    SRV_AUTH_NOT_BEARER,  /* a header that is not "Bearer <token>" */
    SRV_AUTH_MALFORMED,   /* not a token's shape */
    SRV_AUTH_UNKNOWN,     /* no such token id, or no such user */
    SRV_AUTH_WRONG_SECRET,
    SRV_AUTH_REVOKED,
    SRV_AUTH_EXPIRED,
    SRV_AUTH_DISABLED,     /* the user is disabled */
    SRV_AUTH_RATE_LIMITED, /* refused unchecked: too many failures from the source this minute */
    SRV_AUTH_OTHER,
    SRV_AUTH_NREASONS
} srv_auth_reason;
const char *srv_auth_reason_name(srv_auth_reason r);
/* An admin API request: action (-1: none matched) and the status answered. */
void srv_metrics_admin(int action, int status);
void srv_metrics_auth_failure(srv_auth_reason why);
/* A console-cookie request refused before its credentials were looked at (the labels of
 * riskd_console_refusals_total). */
typedef enum srv_console_refusal {
    SRV_CONSOLE_CSRF_REQUIRED = 0, /* a change without X-CSRF-Token */
    SRV_CONSOLE_CSRF_INVALID,      /* one that is not the session's */
    SRV_CONSOLE_CROSS_ORIGIN,      /* a foreign Origin, or Sec-Fetch-Site cross-site or same-site */
    SRV_CONSOLE_NREFUSALS
} srv_console_refusal;
void srv_metrics_console_refusal(srv_console_refusal why);
/* A cross-origin request on a CORS route: a preflight or an actual request, its origin allowed
 * or not. */
void srv_metrics_cors(bool preflight, bool allowed);
/* A token checked against the store (not taken from the cache). */
void srv_metrics_auth_store_check(void);
void srv_metrics_auth_stale(void);
void srv_metrics_reload(const char *what, bool ok);
/* A reload of what ("flags", "bundles", "fallback") refused with msg: /ready reports it until
 * a reload of what succeeds and clears it (msg NULL). */
void srv_metrics_refusal(const char *what, const char *msg);
/* Decisions refused because the decision log was full (LOG_BACKLOG), since the start. */
uint64_t srv_metrics_log_backlog_refusals(void);
/* The refusals in force as a JSON array into b; returns how many. */
size_t srv_metrics_refusals(rd_buf *b);
/* A decision of snapshot generation whose routing flag named no loaded bundle: answered by
 * fallback rules, or not (then /ready fails until the next snapshot). */
void srv_metrics_routing_failure(uint64_t generation, bool answered, const char *msg);
bool srv_metrics_routing_failed(uint64_t generation, char *msg, size_t cap);
/* The flagd sync service (sync.c): a call ended (method: srv_sync_method, code: its gRPC status),
 * SyncFlags streams opened (+1) or closed (-1), flag sets pushed to streams after a change. */
void srv_metrics_sync_call(int method, int code);
void srv_metrics_sync_streams(int delta);
void srv_metrics_sync_pushes(uint64_t n);
struct srv_snapshot;
/* Append the Prometheus text exposition of every series to b: the counters, and what the
 * snapshot's breakers and the shadow pool (may be NULL) hold now. */
void srv_metrics_render(rd_buf *b, const struct srv_snapshot *snap, rd_shadow *shadow, rd_dlog *dlog,
                        size_t connections, int inflight);

/* ------------------------------------------------------------------ snapshot */

/* What the server keeps beside each served bundle (its rd_slot's user data). */
typedef struct srv_slot_info {
    srv_model_stats *stats;
    srv_fallback_stats *fallbacks;
    char *fingerprint; /* names, sizes and mtimes of its files when it was loaded */
    /* the monitor's series of this bundle per routing variant and role, resolved on first use
       (append-only: readers take nseries with acquire and never lock) */
#define SRV_SERIES_CACHE 8
    pthread_mutex_t series_lock;
    _Atomic size_t nseries;
    struct {
        char variant[64];
        rd_monitor_role role;
        rd_monitor_series *s;
    } series[SRV_SERIES_CACHE];
} srv_slot_info;

/* What serves requests: immutable once published. The decider (include/riskd/decide.h) holds
 * the flags, the bundles and the routing; the snapshot adds the metric series. */
/* A flag file's bytes, shared by the snapshots that serve them (refcounted). */
typedef struct srv_text {
    atomic_int refs;
    size_t len;
    char data[]; /* NUL-terminated */
} srv_text;

typedef struct srv_snapshot {
    atomic_int refs;
    uint64_t generation;
    char flags_sha[65]; /* the flag file's SHA-256 ("" without flags) */
    /* the flag set as it serves, for the sync clients (GET /v1/flagsets/{id}, gRPC sync, the OFREP
       event streams): its bytes (NULL without flags), the time these bytes first served, and its
       id (metadata.flagSetId, else the file's name without directory and extension) */
    srv_text *flags_text;
    int64_t flags_since_ms;
    int64_t flags_version; /* flags = store: the version of the flag set in force (else 0) */
    char flagset_id[128];
    rd_decider *dec;
    rd_flagset *flags;           /* the decider's (borrowed); NULL: no flag file configured */
    srv_flag_stats **flag_stats; /* one per flag, in the flag set's order */
} srv_snapshot;

void srv_snapshot_unref(srv_snapshot *s);
/* Whether selector names the flag set s serves: NULL or "" (the one served), its id, or
 * "flagSetId=<id>" (flagd's form). False when s serves no flags. */
bool srv_flagset_selected(const srv_snapshot *s, const char *selector);
/* The flag set's ETag: its SHA-256, quoted ("" without flags). */
void srv_flagset_etag(const srv_snapshot *s, char out[68]);
/* Index of flag key in s->flags, or -1. */
long srv_snapshot_flag_index(const srv_snapshot *s, const char *key, size_t len);

/* The watcher: the files' fingerprints as last loaded or refused, and the snapshot in force. */
typedef struct srv_state srv_state;

/* Load the first snapshot. Errors (a flag file or a bundle refused, routing to a bundle that
 * is not there) are fatal at start. With store (the main thread's handle, may be NULL), every
 * flag set, bundle and fallback rule file that serves is kept in it for replay; one that
 * cannot be kept is refused like one that does not load. */
int srv_state_new(const srv_config *cfg, rd_store *store, srv_state **out, rd_err *err);
void srv_state_free(srv_state *st);
/* Check the files; if anything changed (or force), build a new snapshot aside and publish it.
 * A file that is refused is logged and counted, and the last good snapshot keeps serving. */
void srv_state_poll(srv_state *st, bool force);
/* flags or bundles = store: the next poll asks the store whether its flag set or bundles changed
 * (a notification arrived, or the periodic check is due); between these, polls do not touch the
 * store. */
void srv_state_store_due(srv_state *st);
/* The snapshot in force, with a reference for the caller; srv_snapshot_unref when done. */
srv_snapshot *srv_state_acquire(srv_state *st);
/* Generation of the snapshot in force (one atomic load: lets a thread keep its reference
 * until something changes). */
uint64_t srv_state_generation(srv_state *st);
/* Called on the publishing thread, after a snapshot serves whose flag set differs (by content)
 * from the previous one's. It must not block: it wakes whoever pushes the change (the OFREP event
 * streams, the gRPC sync streams). Registered before the first poll; at most SRV_MAX_LISTENERS. */
#define SRV_MAX_LISTENERS 4
typedef void (*srv_flags_listener)(void *ud, const srv_snapshot *s);
void srv_state_listen(srv_state *st, srv_flags_listener fn, void *ud);

/* ------------------------------------------------------------------ http */

/* The outcome store: a handle of its own on DATA_DIR/riskd.db (the log writer's is the
 * writer's alone, the main thread's keeps what served), shared by the HTTP threads under lock. */
typedef struct srv_outcomes {
    pthread_mutex_t lock;
    rd_store *store;
} srv_outcomes;

/* A query parameter of the request's URL, percent-decoded ("" when it has no value). */
typedef struct srv_arg {
    const char *key, *value;
} srv_arg;
#define SRV_MAX_ARGS 16

/* Per-request context the routes see. */
typedef struct srv_req {
    const srv_config *cfg;
    const srv_snapshot *snap;
    rd_arena *arena;  /* reset after the response */
    const char *body; /* the request body (NUL-terminated), len bytes */
    size_t len;
    const char *if_none_match;
    srv_route route;
    rd_shadow *shadow;    /* the shadow pool, NULL when no shadow flag is configured */
    rd_dlog *dlog;        /* the decision log's writer, NULL when the log is off */
    rd_buf *logbuf;       /* the worker's buffer for records */
    uint64_t ack_seq;     /* log_durability = ack: the answer waits for this record's commit */
    const char *flag_key; /* OFREP single: the percent-decoded key */
    size_t flag_key_len;
    srv_outcomes *outcomes; /* NULL when the decision log is off */
    const srv_arg *args;    /* the query parameters (routes that read them), in the arena */
    size_t nargs;
    bool args_overflow; /* more than SRV_MAX_ARGS were sent */
    double t0;          /* monotonic seconds at the start */
    /* authentication (auth.c): never logged, never echoed */
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* the URL's path as sent (the admin router reads it) */
    const char *authorization; /* the Authorization header; NULL when none */
    const char *cookie;        /* the Cookie header (read on the admin API only: session.c); NULL */
    const char *origin;        /* the Origin header; NULL when none */
    const char *host;          /* the Host header; NULL when none */
    const char *fetch_site;    /* the Sec-Fetch-Site header; NULL when none */
    const char *csrf;          /* the X-CSRF-Token header; NULL when none */
    const char *source;        /* the client's address ("127.0.0.1"), the limiter's key */
    rd_principal who;          /* the caller, once authenticated (authed) */
    bool authed;
    struct srv_auth_fail *auth_refused; /* the refusal, once refused (a batch asks once) */
    /* the subject CN of the client certificate verified against tls_client_ca, NULL when the
       connection has none (or not a valid one); borrowed until the response is sent */
    const char *client_cn;
    /* log_redact (NULL: the inputs are logged as received) */
    const rd_dlog_redact *redact;
    /* the response the route fills */
    int status;
    rd_buf *out; /* body */
    const char *content_type;
    char etag[72];             /* "" for none */
    const char *error_code;    /* the stable code when status >= 400, for the metrics */
    const char *allow;         /* 405: the Allow header (NULL: the route table's) */
    int retry_after_s;         /* 429: the Retry-After header */
    long long last_modified_s; /* the Last-Modified header (unix seconds), 0 for none */
    bool stream;               /* the answer is an event stream (srv_events_response), not out */
    const void *static_body;   /* a static body served instead of out (the console's files) */
    size_t static_len;
    const char *const *headers[2]; /* more headers: NULL-terminated name, value lists */
    uint32_t stream_slot;          /* ... in the slot srv_route_events reserved for it */
} srv_req;

/* Parse the body as JSON under the configured limits. On failure the route's error reply
 * is already written (400 PARSE_ERROR; 400 LIMIT_EXCEEDED naming max_json_depth or
 * max_json_fields; 503 OUT_OF_MEMORY) and -1 is returned. */
int srv_req_json(srv_req *r, rd_value *out, rd_err *err);
/* Write the JSON error body {"error":{"code","message"}} with the status. */
void srv_reply_error(srv_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
double srv_now(void);
/* The n bytes at s percent-decoded into the arena (a malformed escape kept as it is), NUL-
 * terminated; *len (may be NULL) the decoded length, which a decoded NUL makes matter. NULL
 * when out of memory. */
char *srv_percent_decode(rd_arena *a, const char *s, size_t n, size_t *len);
/* Whether an If-None-Match header (may be NULL) names etag: weak comparison (W/ ignored), a list
 * is fine, "*" is not honoured (as flagd). */
bool srv_etag_matches(const char *header, const char *etag);

void srv_route_ofrep_flag(srv_req *r);
void srv_route_ofrep_bulk(srv_req *r);
void srv_route_score(srv_req *r);
void srv_route_score_batch(srv_req *r);
void srv_route_health(srv_req *r);
void srv_route_ready(srv_req *r);
void srv_route_metrics(srv_req *r);
void srv_route_compat_score(srv_req *r);
void srv_route_outcomes(srv_req *r);
void srv_route_outcome_stats(srv_req *r);
void srv_route_admin(srv_req *r);
void srv_route_events(srv_req *r);
void srv_route_flagsets(srv_req *r);
/* The bundles a decider holds as a JSON array: name, breaker, fallback rules, deadline, fault,
 * digest, signed (/ready's), and with manifest what the console shows of each manifest. */
void srv_bundles_json(rd_buf *b, const rd_decider *d, bool manifest);
/* Seconds since the service started (the metrics' uptime). */
double srv_uptime_s(void);
/* The web console: GET /ui (a redirect) and the files under /ui/ (console.c). */
void srv_route_ui(srv_req *r);

/* ------------------------------------------------------------------ OFREP event streams (routes_events.c) */

/* The pusher thread and the flag change listener; nothing with sse_max_streams = 0. */
int srv_events_start(const srv_config *cfg, srv_state *st, rd_err *err);
void srv_events_stop(void);
bool srv_events_on(void);
/* SIGTERM: every stream ends (its last bytes sent), new ones are refused. */
void srv_events_close_all(void);
size_t srv_events_open(void);
/* The response of a request srv_route_events marked as a stream (NULL when out of memory). */
struct MHD_Response;
struct MHD_Connection;
struct MHD_Response *srv_events_response(struct MHD_Connection *c, uint32_t slot);
/* A reserved slot given back: the answer is not a stream after all. */
void srv_events_unreserve(uint32_t slot);
/* ,"eventStreams":[...] for the bulk OFREP response, when streams are on. */
void srv_events_advertise(rd_buf *b);
void srv_events_metrics(rd_buf *b);

/* ------------------------------------------------------------------ authentication (auth.c) */

/* The admin API's state: its own store handle on DATA_DIR/riskd.db (read-write, shared by the
 * HTTP threads under a lock), the handles tokens are checked on (apart, so a check never waits
 * for an admin request), the failed-authentication limiter and the token cache. Made before the
 * HTTP daemon starts. */
int srv_auth_start(const srv_config *cfg, rd_err *err);
/* After the HTTP daemon stopped: the limiter's failures written (srv_auth_flush(true)), then
 * everything closed. */
void srv_auth_stop(void);
/* The admin store, locked (NULL when it is not open); srv_admin_unlock when done. */
rd_store *srv_admin_lock(void);
void srv_admin_unlock(void);
/* Write the limiter's failures of the minutes that ended as audit entries (auth.failed), at
 * most every few seconds (final: every minute kept, at shutdown). The main loop calls it. */
void srv_auth_flush(bool final);
/* Forget every cached token: a revocation or a disabled user made on this node takes effect at
 * once, and so does one made elsewhere when the store's notification (RD_AUTH_NOTIFY) arrives
 * (cluster.c); without one (SQLite, a lost notification) within SRV_AUTH_RECHECK_MS. */
#define SRV_AUTH_RECHECK_MS 5000
void srv_auth_cache_clear(void);

/* Why a request was refused for its credentials. */
typedef struct srv_auth_fail {
    int status;       /* 401, 403, 429, 500, 503 */
    const char *code; /* UNAUTHENTICATED, FORBIDDEN, TOO_MANY_ATTEMPTS, ... */
    char msg[320];
    int retry_after_s;
} srv_auth_fail;
/* Authenticate r's bearer token (once per request: r->who, r->authed) and require scope (0:
 * none). fresh: ask the store whatever the cache holds (the admin API); else a token checked
 * less than SRV_AUTH_RECHECK_MS ago is taken from the cache, and a source over its failure
 * limit is refused only when its token needs the store. With the store unreachable
 * (RD_ESTORE), a scoring-side scope (score, pin) is granted from the cache to a token the store
 * vouched for less than auth_stale_ms ago; any other token, scope or error is refused. 0, or
 * -1 with f filled. Thread-safe. */
int srv_auth_check(srv_req *r, uint32_t scope, bool fresh, const char *doing, srv_auth_fail *f);
/* srv_auth_check, the refusal written as r's error reply. */
int srv_auth_require(srv_req *r, uint32_t scope, bool fresh, const char *doing);
/* Authenticate r with a console session's token (its cookie's value): the limiter as for a
 * bearer token, then rd_session_authenticate on the store with the console_session_* settings
 * (never the cache: a session is checked at each request). r->who and r->authed on success; 0,
 * or -1 with f filled (401 UNAUTHENTICATED, 429, 503). Thread-safe. */
int srv_auth_session(srv_req *r, const char *token, srv_auth_fail *f);
/* The console_session_* settings as the library takes them. */
rd_session_opts srv_session_opts(const srv_config *cfg);
/* Whether r's source may try to authenticate now (429 in f when not), and a failure counted
 * against it (why: the library's message) with the 401 in f. */
int srv_auth_limited(srv_req *r, srv_auth_fail *f);
int srv_auth_failed(srv_req *r, const char *why, srv_auth_fail *f);

/* ------------------------------------------------------------------ console sessions (session.c) */

/* The session cookie's token from r's Cookie header (NULL: none, the console off, or the name
 * given twice, which is ambiguous). Read only for the admin API. */
const char *srv_session_cookie(srv_req *r);
/* For a request that would be authenticated by the cookie: refused (true, the 403 written) when
 * its Origin is foreign or Sec-Fetch-Site says cross-site or same-site, or, unless it is a GET
 * or HEAD, when X-CSRF-Token is missing (CSRF_REQUIRED) or not the session's (CSRF_INVALID).
 * Needs no store. */
bool srv_session_refused(srv_req *r, const char *token, bool needs_csrf);
/* The session actions: session.open, session.show, session.close (routes_admin.c routes them). */
void srv_route_session(srv_req *r, rd_admin_action action);

/* Reload the flags and bundles now (a publish or a rollback made through the admin API), from
 * any thread: serialised with the main loop's polling; returns once the new snapshot serves
 * (or was refused). */
void srv_reload_now(void);
/* Poll now (the store was marked due: srv_state_store_due), under the same lock as the main loop. */
void srv_reload_store(void);

/* ------------------------------------------------------------------ several nodes (cluster.c) */

/* Whether this server follows a store (flags = store, or a store several nodes share). */
bool srv_cluster_needed(const srv_config *cfg);
/* The store watcher: notifications, the periodic check, pings. RD_OK without a store to follow. */
int srv_cluster_start(const srv_config *cfg, srv_state *st, rd_err *err);
void srv_cluster_stop(void);
/* Whether the store is followed and did not answer its last ping. */
bool srv_cluster_store_down(void);
/* ,"store":{...} for /ready (nothing when no store is followed). */
void srv_cluster_ready_json(rd_buf *b, const srv_snapshot *s);
void srv_cluster_metrics(rd_buf *b);
/* The rollout thread re-reads the plan files at its next step (within ~100 ms); waits for it
 * at most wait_ms. */
void srv_rollouts_reload_now(int wait_ms);

/* ------------------------------------------------------------------ monitor and rollouts */

/* The monitor (monitor = on): made before the first snapshot serves. */
int srv_monitor_start(const srv_config *cfg, rd_err *err);
void srv_monitor_stop(void);
rd_monitor *srv_monitor(void);
/* The series of slot's bundle for variant ("" or NULL: not routed by a flag) and role; NULL
 * without a monitor. Lock-free once resolved. */
rd_monitor_series *srv_slot_series(const rd_slot *slot, const char *variant, rd_monitor_role role);
/* The controllers of cfg->rollouts (each plan checked against the snapshot in force) and the
 * thread that ticks them and the monitor. */
int srv_rollouts_start(const srv_config *cfg, srv_state *st, rd_shadow *shadow, rd_err *err);
void srv_rollouts_stop(void);
/* --check-config: each plan loads and checks against the snapshot of st (a line printed for
 * each); the first refusal in err. */
int srv_rollouts_check(const srv_config *cfg, srv_state *st, rd_err *err);

/* ------------------------------------------------------------------ notifications (notify.c) */

/* The HTTP client the notifier posts with (notify_http.c: libcurl), passed in by http.c so that
 * this file links without curl (the fuzz target). */
typedef struct srv_notify_transport {
    void *(*open)(void);
    void (*close)(void *ud);
    rd_notify_post_fn post;
    /* the TLS certificate's expiry (srv_tls_not_after; tls.c is not in the fuzz target either) */
    bool (*cert_not_after)(int64_t *not_after_ms, char *subject, size_t cap);
} srv_notify_transport;
/* Parse the sink specs of cfg into sinks (n of them, rd_notify_sink_free each); warnings logged. */
int srv_notify_sinks(const srv_config *cfg, rd_notify_sink **sinks, size_t *n, rd_err *err);
/* rd_notifier_opts from cfg (transport not set). */
void srv_notify_opts(const srv_config *cfg, rd_notifier_opts *o);
int srv_notify_start(const srv_config *cfg, const srv_notify_transport *t, const rd_dlog *dlog, rd_err *err);
void srv_notify_stop(void);
/* Look at the outbox now (an admin write, a rollout transition, a store notification). */
void srv_notify_kick(void);
/* A node event (no store transaction): copied into a fixed ring, never blocking or allocating;
 * the notifier spools it and drains the spool into the outbox. Safe before start (kept). */
void srv_notify_raise(const char *type, const char *object_kind, const char *object_id, const char *alert_key,
                      bool firing, const char *summary, const char *data_json);
void srv_notify_metrics(rd_buf *b);
void srv_notify_ready_json(rd_buf *b);
/* The TLS certificate's expiry (tls.c): false without TLS. */
bool srv_tls_not_after(int64_t *not_after_ms, char *subject, size_t cap);
void srv_rollouts_metrics(rd_buf *b);
/* The exposure caps of the rollout of the service's route_flag (NULL: none): what the scoring
 * routes pass to rd_decide. */
struct rd_exposure *srv_rollouts_exposure(void);
void srv_rollouts_ready_json(rd_buf *b);
void srv_route_monitor(srv_req *r);
/* GET /v1/admin/monitor: /v1/monitor's body with each series' rates over time ("history"). */
void srv_monitor_json(srv_req *r, bool history);
void srv_route_rollouts(srv_req *r);

/* The shadow pool's sink: logs a shadow score. */
void srv_log_shadow(void *ud, const rd_shadow_done *d);

/* ------------------------------------------------------------------ TLS (tls.c) */

struct MHD_Connection;
struct MHD_OptionItem;

/* With mtls = admin, the routes under this prefix need a client certificate. */
#define SRV_ADMIN_PREFIX "/v1/admin/"

/* What the client certificate of a connection is worth against tls_client_ca. */
typedef enum srv_tls_client {
    SRV_TLS_CLIENT_NONE = 0,
    SRV_TLS_CLIENT_INVALID,
    SRV_TLS_CLIENT_VALID
} srv_tls_client;

/* Load tls_cert, tls_key and tls_client_ca (nothing when tls_cert is ""). Errors name the
 * file: RD_EIO when it cannot be read, RD_EINVAL when it is no PEM of the right kind or the
 * key does not match the certificate. An expired certificate is logged, not refused. cfg is
 * borrowed until srv_tls_deinit. Main thread only. */
int srv_tls_init(const srv_config *cfg, rd_err *err);
/* Drop the credentials in force (after the daemon is stopped: connections hold references). */
void srv_tls_deinit(void);
bool srv_tls_on(void);
/* Reload the files if they changed since the last load or refusal and have held still for one
 * poll (a certificate and its key are replaced by two renames), or at once with force. Refused
 * files are logged and counted ("tls"); the last good credentials keep serving. Main thread. */
void srv_tls_poll(bool force);
/* --check-config: the TLS lines of the summary, on stdout. */
void srv_tls_describe(void);
/* The daemon's TLS options (priorities, certificate callback) into opt[0..2], END-terminated. */
void srv_tls_daemon_options(struct MHD_OptionItem *opt);
/* libmicrohttpd's connection notifications: per-connection TLS state in *socket_context. */
void srv_tls_connection_started(struct MHD_Connection *c, void **socket_context);
void srv_tls_connection_closed(void **socket_context);
/* The connection's client certificate checked against the CA in force (once per connection
 * and CA generation). *cn: its subject CN when valid, else NULL; *why: a reason when invalid.
 * Both borrowed until the connection closes. Called from the connection's worker thread. */
srv_tls_client srv_tls_client_check(struct MHD_Connection *c, const char **cn, const char **why);

/* ------------------------------------------------------------------ CORS (cors.c) */

#define SRV_ORIGIN_MAX 256 /* longest origin accepted in cors_origins */
/* What a preflight allows: the headers OFREP and the scoring routes read, and how long a
 * browser may keep the answer (7200 s: Chromium's cap; Firefox keeps it up to a day). */
#define SRV_CORS_ALLOW_HEADERS "Content-Type, Authorization, If-None-Match"
#define SRV_CORS_MAX_AGE_S     "7200"
/* Check and normalise a cors_origins value: "*", or a comma-separated list of origins
 * scheme://host[:port] (no path, no trailing slash). out (cap bytes) gets the normal form:
 * lower-case scheme and host, the scheme's default port dropped, no spaces. RD_EINVAL naming
 * the bad entry. Pure; thread-safe. */
int srv_cors_normalize(const char *list, char *out, size_t cap, rd_err *err);
/* Whether origin (a request's Origin header, may be NULL) is allowed by list (normalised,
 * may be "" or NULL: nothing is). Exact match, ignoring case; "*" allows every origin. */
bool srv_cors_allowed(const char *list, const char *origin);
/* Whether path gets CORS: anything under /ofrep/v1/, /v1/score, /v1/score/batch, and /score
 * with compat_routes. */
bool srv_cors_covers(const char *path, bool compat_routes);
/* Whether every header a preflight asks for (Access-Control-Request-Headers, a comma-separated
 * list; NULL or "" asks for none) is one riskd reads (SRV_CORS_ALLOW_HEADERS, any case); the
 * first other one into bad (cap bytes) when not. Pure. */
bool srv_cors_headers_ok(const char *requested, char *bad, size_t cap);
struct MHD_Response;
/* The CORS headers of an actual (non-preflight) answer to url on connection c, added to resp:
 * Vary: Origin on a covered route, and Access-Control-Allow-Origin, -Expose-Headers (ETag) and
 * -Allow-Credentials when the request's Origin is allowed. Nothing without cors_origins. For
 * routes that build their own response (streams); http.c calls it for every other answer. */
void srv_http_cors_headers(struct MHD_Connection *c, const char *url, struct MHD_Response *resp);
/* The TLS session of a connection of the gRPC sync service (sync.c): a GnuTLS server session on
 * fd presenting the credentials in force (a reload reaches new connections), offering ALPN "h2".
 * *session is a gnutls_session_t; its credentials are held until srv_tls_session_free. RD_OK, or
 * RD_ENOMEM/RD_EINTERNAL. Called from the sync thread only; TLS must be on. */
int srv_tls_session_new(int fd, void **session);
void srv_tls_session_free(void *session);
/* With mtls = all, the sync service needs a client certificate too: the handshaken session's
 * certificate checked against tls_client_ca; why (cap bytes) says what is wrong when not VALID. */
srv_tls_client srv_tls_session_client(void *session, char *why, size_t cap);

/* ------------------------------------------------------------------ flagd sync (sync.c) */

/* The gRPC methods of flagd.sync.v1.FlagSyncService, and the rest (unknown paths). */
typedef enum srv_sync_method {
    SRV_SYNC_SYNC_FLAGS = 0,
    SRV_SYNC_FETCH_ALL_FLAGS,
    SRV_SYNC_GET_METADATA,
    SRV_SYNC_OTHER,
    SRV_SYNC_NMETHODS
} srv_sync_method;
const char *srv_sync_method_name(srv_sync_method m);
/* The gRPC status codes' names ("OK", "NOT_FOUND", ...; "UNKNOWN" outside 0..16). */
#define SRV_GRPC_NCODES 17
const char *srv_grpc_code_name(int code);

/* Start the sync service when cfg->sync_listen is set (nothing otherwise): bind, print "sync listening
 * on HOST:PORT" on stdout, start its thread, and listen to st's flag set changes. Called once from
 * the main thread after srv_tls_init and before the HTTP daemon starts. Errors: RD_EIO when it cannot
 * listen, RD_ENOMEM. */
int srv_sync_start(const srv_config *cfg, srv_state *st, rd_err *err);
/* SIGTERM, without waiting: the thread told to end every SyncFlags stream (UNAVAILABLE, so clients
 * reconnect), send GOAWAY and close the connections once their last bytes are out, by
 * min(drain_timeout_ms, 5 s) from now. Called by the HTTP drain so both drain in parallel (main
 * thread). Safe when the service never started, and more than once. */
void srv_sync_begin_stop(void);
/* srv_sync_begin_stop if it was not called, then the thread joined and the connections gone. Before
 * srv_tls_deinit: the TLS sessions hold the credentials. Safe when the service never started. */
void srv_sync_stop(void);
/* After srv_state_free, when no listener can run any more: the wake-up eventfd closed (the flag set
 * listener writes to it from publishing threads, so it must outlive every publisher). */
void srv_sync_free(void);

/* Bind and listen on HOST:PORT (the last colon splits; [v6]:port works too), non-blocking; the
 * address bound ("127.0.0.1:41234") into bound. The socket, or -1 with err set (RD_EINVAL, RD_EIO). */
int srv_listen(const char *listen_addr, char *bound, size_t bound_cap, rd_err *err);

/* Open HTTP connections now. */
size_t srv_http_connections(void);
/* Requests being handled now (received headers, not yet completed). */
int srv_http_inflight(void);
/* SIGTERM or SIGINT came: draining (/ready answers 503 so the load balancer stops sending). */
bool srv_http_draining(void);

/* Run the service until SIGTERM or SIGINT: bind, serve, reload on change or SIGHUP, drain.
 * Returns a process exit code. */
int srv_run(const srv_config *cfg);
/* --check-config: load everything as serving would, print a summary, exit code. */
int srv_check(const srv_config *cfg);

#endif
