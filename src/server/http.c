/* The HTTP layer: libmicrohttpd (epoll, a pool of worker threads, keep-alive), request
 * limits, routing, responses, and the run loop (signals, file watching, draining).
 *
 * Invariants: each worker thread owns an arena (reset after every response), an output
 * buffer, and a reference to the snapshot it serves from, which it swaps for the new one at
 * the next request after a reload (one atomic load per request, no lock). A request's body
 * never exceeds max_body_bytes in memory. A request refused on its headers alone (a
 * Content-Length over max_body_bytes: 413; a body that is not JSON: 415; a client certificate
 * it lacks under mtls: 401; and whatever refusal comes first in the route's order) is decided
 * before its body is read, and so is a body that grows past the limit while it is read. The
 * rest of such a body is then read and dropped (never kept) within linger_max_bytes and
 * linger_timeout_ms, and the answer sent once it is all in: libmicrohttpd 0.9.75 accepts a
 * response only before the body (then it closes the connection right after the answer, and a
 * close with unread data makes the kernel reset the connection, so a client still sending
 * never reads the answer) or after it. A client that waits for "100 Continue" is answered at
 * once instead (it sends no body), and so is a body announced beyond the lingering bound;
 * past the bound while reading, the connection is closed. CORS headers (cors.c) are added to
 * every answer of the routes CORS covers, and preflights are answered here. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "riskd/change.h"
#include "riskd/json.h"
#include "riskd/parallel.h"
#include "notify_http.h"
#include "server.h"

/* What one HTTP request accumulates between the calls libmicrohttpd makes for it. */
typedef struct conn_req {
    rd_buf body;    /* the request's body; a held or refused answer's once that is decided */
    bool too_large; /* over max_body_bytes: announced, or found while reading */
    bool bad_type;  /* a body announced with a Content-Type that is not JSON */
    /* refused on the headers: the answer is kept in body (status, route... below) and sent
       when the request's body has been read and dropped */
    bool refused;
    uint64_t dropped;    /* bytes of body dropped since the refusal */
    double linger_until; /* monotonic seconds; 0: not lingering */
    double t0;
    const char *cert_refusal; /* the 401's code when the client certificate rule refuses it */
    const char *cert_why;     /* why the certificate is not valid (NULL: there is none) */
    const char *client_cn;    /* the verified client certificate's CN (the connection's) */
    /* an answer held until its decision's record is committed (log_durability = ack) */
    bool held;
    uint64_t seq;
    int status;
    srv_route route;
    const char *content_type, *error_code, *allow;
    int retry_after_s;
} conn_req;

/* Per worker thread. */
typedef struct worker {
    rd_arena arena;
    rd_buf out;
    rd_buf logbuf; /* decision records being written */
    srv_snapshot *snap;
    uint64_t gen;
} worker;

static struct {
    const srv_config *cfg;
    srv_state *state;
    rd_shadow *shadow;                 /* NULL without a shadow flag */
    rd_store *store;                   /* the main thread's: what served is kept; pruning */
    rd_store *wstore;                  /* the log writer's */
    rd_dlog *dlog;                     /* NULL: no decision log */
    rd_dlog_redact *redact;            /* log_redact; NULL: inputs logged as received */
    srv_outcomes outcomes;             /* its store NULL: no decision log */
    struct MHD_Daemon *_Atomic daemon; /* set by the main thread once the workers already run */
    pthread_key_t worker_key;
    atomic_bool draining;
    atomic_int inflight;
    atomic_size_t connections;
    time_t pruned;
    /* srv_state_poll and the main thread's store are used by one thread at a time: the main
       loop, or an admin request that published (srv_reload_now) */
    pthread_mutex_t poll_lock;
} G = {.poll_lock = PTHREAD_MUTEX_INITIALIZER};

static void worker_free(void *p)
{
    worker *w = p;
    srv_snapshot_unref(w->snap);
    rd_arena_deinit(&w->arena);
    rd_buf_deinit(&w->out);
    rd_buf_deinit(&w->logbuf);
    rd_free(w);
}

static worker *worker_get(void)
{
    worker *w = pthread_getspecific(G.worker_key);
    if (!w) {
        if (!(w = rd_calloc(1, sizeof *w)))
            return NULL;
        /* A request's parse tree and response scratch: bounded well above what the body
         * limit allows, so a hostile body fails cleanly instead of exhausting memory. */
        rd_arena_init(&w->arena, 64 * G.cfg->max_body_bytes + (64u << 20));
        rd_buf_init(&w->out);
        rd_buf_init(&w->logbuf);
        pthread_setspecific(G.worker_key, w);
    }
    uint64_t gen = srv_state_generation(G.state);
    if (gen != w->gen) {
        srv_snapshot_unref(w->snap);
        w->snap = srv_state_acquire(G.state);
        w->gen = w->snap->generation;
    }
    return w;
}

/* ------------------------------------------------------------------ routing */

typedef struct route_def {
    const char *path;
    const char *allow;
    void (*fn)(srv_req *);
    srv_route route;
    bool prefix; /* path is a prefix followed by a key */
    bool args;   /* the handler reads query parameters */
    bool tree;   /* path is a prefix of every path it routes (its handler routes them further) */
} route_def;

static const route_def routes[] = {
    {"/ofrep/v1/evaluate/flags", "POST", srv_route_ofrep_bulk, SRV_ROUTE_OFREP_BULK, false, true, false},
    {"/ofrep/v1/evaluate/flags/", "POST", srv_route_ofrep_bulk, SRV_ROUTE_OFREP_BULK, false, true, false},
    {"/ofrep/v1/evaluate/flags/", "POST", srv_route_ofrep_flag, SRV_ROUTE_OFREP_FLAG, true, false, false},
    {"/v1/score", "POST", srv_route_score, SRV_ROUTE_SCORE, false, false, false},
    {"/v1/score/batch", "POST", srv_route_score_batch, SRV_ROUTE_SCORE_BATCH, false, false, false},
    {"/health", "GET, HEAD", srv_route_health, SRV_ROUTE_HEALTH, false, false, false},
    {"/ready", "GET, HEAD", srv_route_ready, SRV_ROUTE_READY, false, false, false},
    {"/metrics", "GET, HEAD", srv_route_metrics, SRV_ROUTE_METRICS, false, false, false},
    {"/score", "POST", srv_route_compat_score, SRV_ROUTE_COMPAT_SCORE, false, false,
     false}, /* compat_routes only */
    {"/v1/outcomes", "POST", srv_route_outcomes, SRV_ROUTE_OUTCOMES, false, false, false},
    {"/v1/outcomes/stats", "GET, HEAD", srv_route_outcome_stats, SRV_ROUTE_OUTCOME_STATS, false, true, false},
    {"/v1/monitor", "GET, HEAD", srv_route_monitor, SRV_ROUTE_MONITOR, false, false, false},
    {"/v1/rollouts", "GET, HEAD", srv_route_rollouts, SRV_ROUTE_ROLLOUTS, false, false, false},
    {"/ofrep/v1/events", "GET", srv_route_events, SRV_ROUTE_EVENTS, false, false, false},
    {"/v1/flagsets", "GET, HEAD", srv_route_flagsets, SRV_ROUTE_FLAGSETS, false, false, false},
    {"/v1/flagsets/", "GET, HEAD", srv_route_flagsets, SRV_ROUTE_FLAGSETS, true, false, false},
    {"/ui", "GET, HEAD", srv_route_ui, SRV_ROUTE_UI, false, false, true},
    /* the admin API: its router (routes_admin.c) answers 404 and 405 from the action table */
    {SRV_ADMIN_PREFIX, "*", srv_route_admin, SRV_ROUTE_ADMIN, false, true, true},
};

static const route_def *find_route(const char *url)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (routes[i].route == SRV_ROUTE_COMPAT_SCORE && !G.cfg->compat_routes)
            continue;
        size_t n = strlen(routes[i].path);
        if (routes[i].tree && !strncmp(url, routes[i].path, n))
            return &routes[i];
        if (routes[i].prefix ? !strncmp(url, routes[i].path, n) && url[n] && !strchr(url + n, '/')
                             : !strcmp(url, routes[i].path))
            return &routes[i];
    }
    return NULL;
}

static bool method_allowed(const route_def *d, const char *method)
{
    if (!strcmp(d->allow, "*"))
        return true;
    if (!strcmp(d->allow, "POST") || !strcmp(d->allow, "GET"))
        return !strcmp(method, d->allow);
    return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* application/json, with parameters (charset) or a +json suffix type. */
static bool is_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ')
        n--;
    if (n == 16 && !strncasecmp(ct, "application/json", 16))
        return true;
    return n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5);
}

/* The OFREP key: the path segment percent-decoded into the arena (a malformed escape is
 * kept as it is), with its length, so a decoded NUL or '/' is part of the key. */
static void decode_key(srv_req *r, const char *seg)
{
    size_t n = strlen(seg);
    char *key = strchr(seg, '%') ? srv_percent_decode(r->arena, seg, n, &n) : NULL;
    r->flag_key = key ? key : seg; /* nothing to decode (or no memory): the key as sent */
    r->flag_key_len = n;
}

/* The query parameters, percent-decoded into the arena (libmicrohttpd leaves the escapes:
 * keep_escapes), for the routes that read them. */
typedef struct args_ctx {
    srv_req *r;
    srv_arg *v;
} args_ctx;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    args_ctx *x = cls;
    srv_req *r = x->r;
    if (r->nargs == SRV_MAX_ARGS) {
        r->args_overflow = true;
        return MHD_NO;
    }
    const char *k = srv_percent_decode(r->arena, key, strlen(key), NULL),
               *v = srv_percent_decode(r->arena, value ? value : "", value ? strlen(value) : 0, NULL);
    if (!k || !v) {
        r->args_overflow = true; /* out of memory: the route refuses the request */
        return MHD_NO;
    }
    x->v[r->nargs++] = (srv_arg){k, v};
    return MHD_YES;
}

static void collect_args(srv_req *r, struct MHD_Connection *c)
{
    args_ctx x = {r, rd_arena_alloc(r->arena, SRV_MAX_ARGS * sizeof(srv_arg))};
    if (!x.v) {
        r->args_overflow = true;
        return;
    }
    r->args = x.v;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &x);
}

/* The scoring side's tokens (auth = on): outcomes need the outcomes scope, and with
 * auth_scoring the score routes and OFREP the score scope. false with the refusal written. */
static bool scoring_auth(srv_req *r)
{
    const srv_config *cfg = r->cfg;
    switch (r->route) {
    case SRV_ROUTE_OUTCOMES:
        return !cfg->auth || !srv_auth_require(r, RD_SCOPE_OUTCOMES, false, "record outcomes");
    case SRV_ROUTE_SCORE:
    case SRV_ROUTE_SCORE_BATCH:
    case SRV_ROUTE_COMPAT_SCORE:
    case SRV_ROUTE_OFREP_FLAG:
    case SRV_ROUTE_OFREP_BULK:
    case SRV_ROUTE_FLAGSETS:
        /* not the event stream: it carries no flag data (an ETag that changed), and a browser's
           EventSource cannot send a token, so under auth_scoring the OFREP web provider would lose
           its change events and fall silent (the limit and CORS still apply) */
        return !cfg->auth_scoring || !srv_auth_require(r, RD_SCOPE_SCORE, false, "score or evaluate flags");
    default: return true;
    }
}

/* mtls: NULL when url may be served on connection c, else the code of the 401. With mtls =
 * admin, only the routes under SRV_ADMIN_PREFIX (or that path itself without its slash) need a
 * certificate; the URL is matched as the router sees it (not percent-decoded), so a request
 * the prefix misses is one no admin route can match either. */
static const char *client_cert_refusal(struct MHD_Connection *c, const char *url, conn_req *cr)
{
    if (!G.cfg->tls_client_ca[0])
        return NULL;
    srv_tls_client st = srv_tls_client_check(c, &cr->client_cn, &cr->cert_why);
    if (st == SRV_TLS_CLIENT_VALID)
        return NULL;
    size_t n = strlen(SRV_ADMIN_PREFIX) - 1;
    bool admin = !strncmp(url, SRV_ADMIN_PREFIX, n) && (url[n] == '/' || url[n] == 0);
    if (!strcmp(G.cfg->mtls, "admin") && !admin)
        return NULL;
    return st == SRV_TLS_CLIENT_NONE ? "CLIENT_CERT_REQUIRED" : "CLIENT_CERT_INVALID";
}

static void reply_cert_refusal(srv_req *r, const conn_req *cr, const char *url)
{
    r->route = SRV_ROUTE_OTHER; /* refused before routing: always our error shape */
    if (cr->cert_why)
        srv_reply_error(r, 401, cr->cert_refusal, "%s needs a valid client certificate: %s", url,
                        cr->cert_why);
    else
        srv_reply_error(r, 401, cr->cert_refusal, "%s needs a client certificate signed by a trusted CA",
                        url);
}

/* A CORS preflight: OPTIONS with an Origin on a route CORS covers, cors_origins set. */
static bool is_preflight(struct MHD_Connection *c, const char *url, const char *method)
{
    return !strcmp(method, "OPTIONS") && G.cfg->cors_origins[0] &&
           srv_cors_covers(url, G.cfg->compat_routes) &&
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
}

/* Answer a preflight: 204 (send_reply adds the headers) when the origin is allowed, else 403
 * in our error shape (the browser shows no body; a person debugging with curl reads it). */
static void preflight(srv_req *r, struct MHD_Connection *c, const route_def *d)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"),
               *method = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Method"),
               *headers = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");
    bool origin_ok = srv_cors_allowed(r->cfg->cors_origins, origin);
    char bad[128];
    /* what the browser would refuse after a 204 is refused here, by name: a person debugging with
       curl reads why, where the browser's console says only that the preflight failed */
    bool method_ok = !method || method_allowed(d, method),
         headers_ok = srv_cors_headers_ok(headers, bad, sizeof bad);
    srv_metrics_cors(true, origin_ok && method_ok && headers_ok);
    if (origin_ok && method_ok && headers_ok) {
        r->status = 204;
        return;
    }
    r->route = SRV_ROUTE_OTHER; /* our error shape, OFREP's route or not */
    if (!origin_ok)
        srv_reply_error(r, 403, "CORS_ORIGIN_DENIED", "origin %.200s is not allowed (cors_origins)", origin);
    else if (!method_ok)
        srv_reply_error(r, 403, "CORS_REQUEST_DENIED", "%s: method %.20s is not allowed (allowed: %s)",
                        r->path, method, d->allow);
    else
        srv_reply_error(r, 403, "CORS_REQUEST_DENIED", "request header %s is not allowed (allowed: %s)", bad,
                        SRV_CORS_ALLOW_HEADERS);
    r->route = d->route;
}

/* The checks that need no body, in the order a request meets them: the route, the method (or
 * a CORS preflight), the credentials, then the body's announced size and type. true when the
 * request is answered (r holds the answer): refused, or a preflight. */
static bool refuse_by_headers(srv_req *r, struct MHD_Connection *c, const char *url, const char *method,
                              conn_req *cr, const route_def **def)
{
    const route_def *d = find_route(url);
    *def = d;
    r->route = d ? d->route : SRV_ROUTE_OTHER;
    if (d && d->prefix) /* the OFREP flag key, the flag set id */
        decode_key(r, url + strlen(d->path));
    if (!d) {
        srv_reply_error(r, 404, "NOT_FOUND", "no route %s %s", method, url);
        return true;
    }
    if (is_preflight(c, url, method)) {
        preflight(r, c, d);
        return true;
    }
    if (!method_allowed(d, method)) {
        srv_reply_error(r, 405, "METHOD_NOT_ALLOWED", "%s %s: allowed: %s", method, url, d->allow);
        return true;
    }
    if (!scoring_auth(r))
        return true;
    if (cr->too_large) {
        srv_reply_error(r, 413, "LIMIT_EXCEEDED", "request body is larger than %zu bytes (max_body_bytes)",
                        r->cfg->max_body_bytes);
        return true;
    }
    if (cr->bad_type || (cr->body.len && !is_json(MHD_lookup_connection_value(
                                             c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))) {
        srv_reply_error(r, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
        return true;
    }
    return false;
}

/* Validate the request line and headers; the route's handler runs only if all is well. */
static void dispatch(srv_req *r, struct MHD_Connection *c, const char *url, const char *method, conn_req *cr,
                     const route_def **def)
{
    if (refuse_by_headers(r, c, url, method, cr, def))
        return;
    if ((*def)->args)
        collect_args(r, c);
    (*def)->fn(r);
}

void srv_http_cors_headers(struct MHD_Connection *c, const char *url, struct MHD_Response *resp)
{
    const srv_config *cfg = G.cfg;
    if (!cfg->cors_origins[0] || !url || !srv_cors_covers(url, cfg->compat_routes))
        return;
    /* The answer depends on the Origin sent: a cache must not give one origin's to another. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return; /* not a cross-origin request: nothing to allow */
    bool ok = srv_cors_allowed(cfg->cors_origins, origin);
    srv_metrics_cors(false, ok);
    if (!ok)
        return; /* the browser keeps the answer from the page */
    MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                            strcmp(cfg->cors_origins, "*") ? origin : "*");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "ETag, Retry-After");
    if (cfg->cors_credentials)
        MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
}

/* The headers of an allowed preflight's 204: the origin, the route's methods, the headers a
 * caller may send, how long the browser may keep the answer. */
static void preflight_headers(struct MHD_Connection *c, const char *allow, struct MHD_Response *resp)
{
    const srv_config *cfg = G.cfg;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    char methods[64];
    snprintf(methods, sizeof methods, "%s, OPTIONS", allow);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                            strcmp(cfg->cors_origins, "*") ? origin : "*");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", methods);
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", SRV_CORS_ALLOW_HEADERS);
    MHD_add_response_header(resp, "Access-Control-Max-Age", SRV_CORS_MAX_AGE_S);
    if (cfg->cors_credentials)
        MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
}

static enum MHD_Result send_reply(struct MHD_Connection *c, srv_req *r, const route_def *d)
{
    struct MHD_Response *resp =
        r->stream ? srv_events_response(c, r->stream_slot)
        : r->static_body
            ? MHD_create_response_from_buffer(r->static_len, (void *)r->static_body, MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(r->out->len, r->out->len ? r->out->data : (void *)"",
                                              MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (r->status != 304 && r->status != 204)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    const char *allow = r->allow ? r->allow : d ? d->allow : NULL;
    if (r->method && r->path && is_preflight(c, r->path, r->method)) {
        if (r->status == 204 && allow)
            preflight_headers(c, allow, resp);
        else /* refused (403), or no such route: counted already, nothing allowed */
            MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    } else {
        srv_http_cors_headers(c, r->path, resp);
    }
    if (r->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->last_modified_s > 0) {
        char date[64];
        time_t t = (time_t)r->last_modified_s;
        struct tm tm;
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, date);
    }
    if (r->status == 405 && allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    for (size_t i = 0; i < sizeof r->headers / sizeof r->headers[0]; i++)
        for (const char *const *hd = r->headers[i]; hd && hd[0]; hd += 2)
            MHD_add_response_header(resp, hd[0], hd[1]);
    if (r->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if ((r->status == 429 || r->status == 503) && r->retry_after_s > 0) {
        char s[16];
        snprintf(s, sizeof s, "%d", r->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, s);
    }
    /* a stream's connection is not reused once the stream ends (at a drain): it was one long answer */
    if (r->stream || atomic_load_explicit(&G.draining, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void access_log(const srv_req *r, const char *method, const char *url, double secs)
{
    if (!srv_log_enabled(SRV_DEBUG))
        return;
    char st[16], ms[32];
    snprintf(st, sizeof st, "%d", r->status);
    snprintf(ms, sizeof ms, "%.3f", secs * 1e3);
    srv_log(SRV_DEBUG, "request", "method", method, "path", url, "#status", st, "#latency_ms", ms, "error",
            r->error_code, "client_cn", r->client_cn, NULL);
}

/* ------------------------------------------------------------------ answers held for a commit */

/* Connections suspended until the log commits their record; the writer thread resumes them. */
#define MAX_HELD 65536
static struct {
    pthread_mutex_t lock;
    struct held {
        struct MHD_Connection *c;
        uint64_t seq;
    } * v;
    size_t n;
} H = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The writer committed every record up to committed: resume who waited for one of them. */
static void on_commit(void *ud, uint64_t committed)
{
    (void)ud;
    pthread_mutex_lock(&H.lock);
    for (size_t i = 0; i < H.n;) {
        if (H.v[i].seq <= committed) {
            MHD_resume_connection(H.v[i].c);
            H.v[i] = H.v[--H.n];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&H.lock);
}

/* Keep the answer r in the connection's state (its body in cr->body) to send later. */
static void save_reply(conn_req *cr, const srv_req *r, const route_def *d)
{
    rd_buf_reset(&cr->body);
    rd_buf_append(&cr->body, r->out->data ? r->out->data : "", r->out->len);
    cr->status = r->status;
    cr->route = r->route;
    cr->content_type = r->content_type;
    cr->error_code = r->error_code;
    cr->allow = r->allow ? r->allow : d ? d->allow : NULL;
    cr->retry_after_s = r->retry_after_s;
}

/* Hold the answer r until record r->ack_seq is committed: the body is kept in the connection's
 * state and the connection suspended (no thread waits). false when it is committed already,
 * or the answer cannot be held (then it is sent now, after a blocking wait). */
static bool hold(struct MHD_Connection *c, conn_req *cr, srv_req *r)
{
    pthread_mutex_lock(&H.lock);
    if (!H.v && !(H.v = rd_calloc(MAX_HELD, sizeof *H.v))) {
        pthread_mutex_unlock(&H.lock);
        rd_dlog_wait(G.dlog, r->ack_seq);
        return false;
    }
    if (rd_dlog_status(G.dlog, r->ack_seq) != 0 || H.n == MAX_HELD) {
        pthread_mutex_unlock(&H.lock);
        if (rd_dlog_wait(G.dlog, r->ack_seq) == false) {
            srv_metrics_log_refused("failed");
            rd_buf_reset(r->out);
            srv_reply_error(r, 503, "LOG_FAILED", "the decision log could not commit this decision's record");
        }
        return false;
    }
    save_reply(cr, r, NULL);
    cr->held = true;
    cr->seq = r->ack_seq;
    H.v[H.n++] = (struct held){c, r->ack_seq};
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&H.lock);
    return true;
}

/* Send the answer kept in cr: one held for its record's commit (the connection is resumed: 503
 * LOG_FAILED if the commit failed), or one refused on the headers whose body is now read. */
static enum MHD_Result send_saved(struct MHD_Connection *c, conn_req *cr, const char *url, const char *method)
{
    bool held = cr->held;
    cr->held = cr->refused = false;
    worker *w = worker_get();
    if (!w)
        return MHD_NO;
    srv_req r = {.cfg = G.cfg,
                 .arena = &w->arena,
                 .out = &w->out,
                 .method = method,
                 .path = url,
                 .status = cr->status,
                 .route = cr->route,
                 .content_type = cr->content_type,
                 .error_code = cr->error_code,
                 .allow = cr->allow,
                 .retry_after_s = cr->retry_after_s};
    rd_buf_reset(&w->out);
    if (cr->body.oom || (held && rd_dlog_status(G.dlog, cr->seq) < 0)) {
        if (held)
            srv_metrics_log_refused("failed");
        srv_reply_error(&r, 503, held ? "LOG_FAILED" : "OUT_OF_MEMORY",
                        held ? "the decision log could not commit this decision's record"
                             : "the response could not be kept");
    } else {
        rd_buf_append(&w->out, cr->body.data ? cr->body.data : "", cr->body.len);
    }
    enum MHD_Result ret = send_reply(c, &r, NULL);
    double secs = srv_now() - cr->t0;
    srv_metrics_request(r.route, r.status, secs);
    if (r.status >= 400 && r.error_code)
        srv_metrics_error(r.error_code);
    access_log(&r, method, url, secs);
    rd_buf_reset(&w->out);
    return ret;
}

static void release_worker(worker *w);

/* The client's address as text ("127.0.0.1", "::1"): the limiter's key. */
static void client_address(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* The request as the routes see it, from the connection and what was read. */
static void req_init(srv_req *r, worker *w, struct MHD_Connection *c, const char *url, const char *method,
                     conn_req *cr, const char *source)
{
    *r = (srv_req){
        .method = method,
        .path = url,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE),
        .origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"),
        .host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
        .fetch_site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site"),
        .csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token"),
        .source = source,
        .cfg = G.cfg,
        .snap = w->snap,
        .shadow = G.shadow,
        .dlog = G.dlog,
        .redact = G.redact,
        .outcomes = G.outcomes.store ? &G.outcomes : NULL,
        .logbuf = &w->logbuf,
        .arena = &w->arena,
        .body = rd_buf_cstr(&cr->body),
        .len = cr->body.len,
        .if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .t0 = cr->t0,
        .client_cn = cr->client_cn,
        .status = 200,
        .out = &w->out,
        .content_type = "application/json",
    };
    rd_buf_reset(&w->out);
}

/* Send r's answer now, count it and log it; the worker's scratch is released. */
static enum MHD_Result finish(struct MHD_Connection *c, srv_req *r, const route_def *d, conn_req *cr,
                              worker *w)
{
    enum MHD_Result ret = send_reply(c, r, d);
    double secs = srv_now() - cr->t0;
    srv_metrics_request(r->route, r->status, secs);
    if (r->status >= 400 && r->error_code)
        srv_metrics_error(r->error_code);
    access_log(r, r->method, r->path, secs);
    release_worker(w);
    return ret;
}

static enum MHD_Result respond(struct MHD_Connection *c, const char *url, const char *method, conn_req *cr)
{
    worker *w = worker_get();
    if (!w)
        return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
    char source[INET6_ADDRSTRLEN + 8];
    client_address(c, source, sizeof source);
    srv_req r;
    req_init(&r, w, c, url, method, cr, source);
    const route_def *d = NULL;
    dispatch(&r, c, url, method, cr, &d);
    if (w->out.oom)
        srv_reply_error(&r, 503, "OUT_OF_MEMORY", "the response could not be built");
    if (r.ack_seq && hold(c, cr, &r)) {
        release_worker(w);
        return MHD_YES; /* answered when the commit resumes the connection */
    }
    return finish(c, &r, d, cr, w);
}

/* After each request: a large batch leaves a large arena chunk and output buffer; give the
 * memory back rather than keep each thread's peak for good. */
static void release_worker(worker *w)
{
    if (w->arena.peak_bytes > (4u << 20)) {
        size_t limit = w->arena.limit_bytes;
        rd_arena_deinit(&w->arena);
        rd_arena_init(&w->arena, limit);
    } else {
        rd_arena_reset(&w->arena);
    }
    if (w->out.cap > (1u << 20))
        rd_buf_deinit(&w->out);
    if (w->logbuf.cap > (1u << 20))
        rd_buf_deinit(&w->logbuf);
}

/* The body's length as announced: its Content-Length, UINT64_MAX for one of unknown length
 * (chunked, or a Content-Length that is no number), 0 for none. */
static uint64_t announced_length(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ? UINT64_MAX
                                                                                                  : 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno || end == cl ? UINT64_MAX : (uint64_t)n;
}

/* The client waits for "100 Continue" before it sends its body (HTTP/1.1). */
static bool expects_continue(struct MHD_Connection *c, const char *version)
{
    const char *e = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return e && !strcasecmp(e, "100-continue") && !strcmp(version, MHD_HTTP_VERSION_1_1);
}

/* Start reading and dropping the rest of a refused body: the deadline, and libmicrohttpd's idle
 * timeout shortened to it, so a client that stops sending is not waited for either. */
static void linger_start(struct MHD_Connection *c, conn_req *cr)
{
    cr->linger_until = srv_now() + G.cfg->linger_timeout_ms / 1e3;
    unsigned s = (unsigned)((G.cfg->linger_timeout_ms + 999) / 1000);
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, s ? s : 1u);
}

/* The answer is sent: a kept-alive connection gets its usual idle timeout back. */
static void linger_end(struct MHD_Connection *c, conn_req *cr)
{
    if (cr->linger_until > 0)
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)G.cfg->connection_timeout_s);
    cr->linger_until = 0;
}

/* n more bytes of a refused body, dropped. MHD_NO (libmicrohttpd closes the connection, the
 * answer unsent) past linger_max_bytes or linger_timeout_ms. */
static enum MHD_Result drop(conn_req *cr, size_t n)
{
    cr->dropped += n;
    if (cr->dropped <= G.cfg->linger_max_bytes && srv_now() <= cr->linger_until)
        return MHD_YES;
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)cr->dropped);
    srv_log(SRV_INFO, "closing: a refused body goes on past the lingering bound", "#dropped_bytes", b, NULL);
    return MHD_NO;
}

/* First call, the headers in: a request refused on them alone is answered now if no body will
 * come (the client waits for 100 Continue, which then is never sent) or if it is announced
 * beyond the lingering bound (the connection is closed after the answer); otherwise the answer
 * is kept and sent once the body has been read and dropped. */
static enum MHD_Result refuse_early(struct MHD_Connection *c, const char *url, const char *method,
                                    const char *version, conn_req *cr)
{
    worker *w = worker_get();
    if (!w)
        return MHD_NO;
    char source[INET6_ADDRSTRLEN + 8];
    client_address(c, source, sizeof source);
    srv_req r;
    req_init(&r, w, c, url, method, cr, source);
    const route_def *d = NULL;
    if (cr->cert_refusal)
        reply_cert_refusal(&r, cr, url);
    else
        refuse_by_headers(&r, c, url, method, cr, &d); /* too_large or bad_type: always refused */
    uint64_t len = announced_length(c);
    const srv_config *cfg = G.cfg;
    if ((len && expects_continue(c, version)) || !cfg->linger_max_bytes || !cfg->linger_timeout_ms ||
        (len != UINT64_MAX && len > cfg->linger_max_bytes))
        return finish(c, &r, d, cr, w);
    save_reply(cr, &r, d);
    cr->refused = true;
    if (len)
        linger_start(c, cr);
    release_worker(w);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls)
{
    (void)cls;
    conn_req *cr = *con_cls;
    if (cr && cr->held)
        return send_saved(c, cr, url, method); /* resumed: its record is committed (or failed) */
    if (!cr) {
        if (!(cr = rd_calloc(1, sizeof *cr)))
            return MHD_NO;
        rd_buf_init(&cr->body);
        cr->t0 = srv_now();
        *con_cls = cr;
        atomic_fetch_add(&G.inflight, 1);
        cr->cert_refusal = client_cert_refusal(c, url, cr);
        uint64_t len = announced_length(c);
        cr->too_large = len != UINT64_MAX && len > G.cfg->max_body_bytes;
        cr->bad_type =
            len && !is_json(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
        if (cr->cert_refusal || cr->too_large || cr->bad_type)
            return refuse_early(c, url, method, version, cr);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0; /* consumed, whether kept or dropped */
        if (cr->refused || cr->too_large)
            return drop(cr, n);
        if (cr->body.len + n > G.cfg->max_body_bytes) {
            /* found while reading (no Content-Length): what was kept goes, the rest is dropped */
            cr->too_large = true;
            rd_buf_deinit(&cr->body);
            linger_start(c, cr);
            return drop(cr, n);
        }
        return rd_buf_append(&cr->body, upload, n) ? MHD_NO : MHD_YES;
    }
    linger_end(c, cr);
    if (cr->refused)
        return send_saved(c, cr, url, method);
    return respond(c, url, method, cr);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_req *cr = *con_cls;
    if (!cr)
        return;
    rd_buf_deinit(&cr->body);
    rd_free(cr);
    *con_cls = NULL;
    atomic_fetch_sub(&G.inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = 0;
    /* a client that left mid-answer (an event stream's, a reset): routine, not a warning */
    srv_log(strncmp(msg, "Failed to send", 14) ? SRV_WARN : SRV_DEBUG, "http", "detail", msg, NULL);
}

/* Counted here: libmicrohttpd's own count, with a thread pool, is summed into one shared
 * field by whichever thread asks (a data race between two /metrics requests). */
size_t srv_http_connections(void) { return atomic_load_explicit(&G.connections, memory_order_relaxed); }

int srv_http_inflight(void) { return atomic_load(&G.inflight); }

bool srv_http_draining(void) { return atomic_load_explicit(&G.draining, memory_order_relaxed); }

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add_explicit(&G.connections, 1, memory_order_relaxed);
        srv_tls_connection_started(c, socket_context);
    } else {
        atomic_fetch_sub_explicit(&G.connections, 1, memory_order_relaxed);
        srv_tls_connection_closed(socket_context);
    }
}

/* The path reaches the router as sent: the flag key is decoded by the OFREP route itself,
 * with its length (a %2F stays inside the key, a %00 cannot cut it short). */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls;
    (void)c;
    return strlen(uri);
}

/* ------------------------------------------------------------------ the decision log */

/* The writer's reports (the store lost and back, the spool drained or full) in the service log. */
static void on_dlog_log(void *ud, rd_dlog_level level, const char *msg)
{
    (void)ud;
    srv_log(level == RD_DLOG_ERROR  ? SRV_ERROR
            : level == RD_DLOG_WARN ? SRV_WARN
                                    : SRV_INFO,
            msg, "what", "decision log", NULL);
}

/* log_spool: a shared store can be away while this node keeps deciding, so its records wait in
 * DATA_DIR/dlog.spool (or the path given); SQLite is a local file that never is: no spool. */
static const char *spool_path(const srv_config *cfg, rd_store *s, char *buf, size_t cap)
{
    if (!strcmp(cfg->log_spool, "off"))
        return NULL;
    if (!rd_store_shared(s)) {
        if (cfg->log_spool[0])
            srv_log(SRV_INFO, "log_spool is not used: the store is not shared (SQLite is never unreachable)",
                    "store", rd_store_name(s), NULL);
        return NULL;
    }
    if (cfg->log_spool[0])
        return cfg->log_spool;
    snprintf(buf, cap, "%s/dlog.spool", cfg->data_dir);
    return buf;
}

/* Three handles on DATA_DIR/riskd.db: the writer thread's, the main thread's (keeping what
 * served, pruning) and the outcomes' (POST /v1/outcomes, GET /v1/outcomes/stats, from any HTTP
 * thread, under its lock); SQLite's WAL lets them work at once. */
static int open_log(const srv_config *cfg, rd_err *err)
{
    rd_store_opts so = {.node = srv_store_opts.node,
                        .sync_full = !strcmp(cfg->log_durability, "ack"),
                        .lazy = srv_store_opts.lazy,
                        .timeout_ms = srv_store_opts.timeout_ms};
    int rc = rd_store_open(cfg->store, &so, &G.store, err);
    if (!rc)
        rc = rd_store_open(cfg->store, &so, &G.wstore, err);
    if (!rc)
        rc = rd_store_open(cfg->store, &so, &G.outcomes.store, err);
    char spool[SRV_PATH_MAX + 16];
    rd_dlog_opts o = {.durability = !strcmp(cfg->log_durability, "ack") ? RD_DLOG_ACK : RD_DLOG_ASYNC,
                      .queue = cfg->log_queue,
                      .on_commit = on_commit,
                      .spool_path = rc ? NULL : spool_path(cfg, G.wstore, spool, sizeof spool),
                      .spool_max_bytes = cfg->log_spool_max_bytes,
                      .on_log = on_dlog_log};
    if (!rc)
        rc = rd_dlog_new(G.wstore, &o, &G.dlog, err);
    if (!rc)
        rc = rd_dlog_redact_new(cfg->log_redact, cfg->log_redact_key_file, &G.redact, err);
    char redacted[1100];
    if (!rc)
        srv_log(SRV_INFO, "decision log", "store", rd_store_name(G.store), "durability", cfg->log_durability,
                "on_full", cfg->log_on_full, "redact",
                rd_dlog_redact_describe(G.redact, redacted, sizeof redacted), "spool", o.spool_path, NULL);
    return rc;
}

static void close_log(void)
{
    rd_dlog_free(G.dlog);
    G.dlog = NULL;
    rd_store_close(G.wstore);
    rd_store_close(G.store);
    rd_store_close(G.outcomes.store);
    G.wstore = G.store = G.outcomes.store = NULL;
    rd_dlog_redact_free(G.redact);
    G.redact = NULL;
    rd_free(H.v);
    H.v = NULL;
    H.n = 0;
}

/* Shadow scores are logged as they come (dropped, and counted, when the log is full: a
 * shadow never costs a primary its record). */
void srv_log_shadow(void *ud, const rd_shadow_done *d)
{
    (void)ud;
    rd_monitor_series *ms = srv_slot_series(d->shadow, "", RD_ROLE_SHADOW);
    if (ms) {
        rd_monitor_obs o = {.answered = d->rc == RD_OK,
                            .latency_ms = (double)NAN,
                            .score = d->rc == RD_OK ? d->score->score : (double)NAN,
                            .decision = d->rc == RD_OK ? d->score->decision : NULL};
        rd_monitor_record(ms, &o);
    }
    if (!G.dlog)
        return;
    rd_buf b; /* per record: the shadow threads come and go, a thread-local buffer would leak */
    rd_buf_init(&b);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rd_dlog_meta m = {.node = G.cfg->node, .ts_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
    rd_dlog_shadow_json(&b, d->request_id, rd_slot_name(d->primary), rd_slot_bundle(d->shadow), d->rc,
                        d->score, &m);
    rd_log_row row = {.ts_ms = m.ts_ms,
                      .request_id = d->request_id,
                      .kind = "shadow",
                      .model_version = rd_slot_name(d->shadow),
                      .record = rd_buf_cstr(&b),
                      .record_len = b.len};
    uint64_t seq;
    if (b.oom || rd_dlog_submit(G.dlog, &row, &seq) != RD_OK)
        srv_metrics_log_dropped();
    rd_buf_deinit(&b);
}

/* Decisions older than log_retention_days go, once an hour. */
static void prune(void)
{
    G.pruned = time(NULL);
    if (!G.store || G.cfg->log_retention_days <= 0)
        return;
    uint64_t n;
    rd_err err;
    bool leader;
    /* one node prunes a shared log (the others would race it for the same rows) */
    if (rd_store_shared(G.store) && (rd_store_leader_try(G.store, "retention", &leader, &err) || !leader))
        return;
    int64_t before = ((int64_t)G.pruned - (int64_t)G.cfg->log_retention_days * 86400) * 1000;
    if (rd_store_log_prune(G.store, before, &n, &err)) {
        srv_log(SRV_ERROR, "pruning the decision log failed", "error", err.msg, NULL);
        return;
    }
    char s[32];
    snprintf(s, sizeof s, "%llu", (unsigned long long)n);
    srv_log(SRV_INFO, "decision log pruned", "#deleted", s, NULL);
}

/* ------------------------------------------------------------------ the run loop */

/* Bind HOST:PORT (the last colon splits; [v6]:port works too). Returns the socket or -1. */
static int listen_on(const char *listen_addr, char *bound, size_t bound_cap, rd_err *err)
{
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    size_t hl = (size_t)(colon - listen_addr);
    if (hl >= sizeof host)
        return rd_err_set(err, RD_EINVAL, "listen: host too long"), -1;
    memcpy(host, listen_addr, hl);
    host[hl] = 0;
    char *h = host;
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai;
    int gai = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai);
    if (gai)
        return rd_err_set(err, RD_EINVAL, "listen %s: %s", listen_addr, gai_strerror(gai)), -1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        rd_err_set(err, RD_EIO, "listen %s: %s", listen_addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
            port = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
            port = ntohs(s6->sin6_port);
        }
    }
    snprintf(bound, bound_cap, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
    return fd;
}

int srv_listen(const char *listen_addr, char *bound, size_t bound_cap, rd_err *err)
{
    return listen_on(listen_addr, bound, bound_cap, err);
}

/* Enough descriptors for the connection limit (the soft limit is often 1024). */
static void raise_nofile(size_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t target = (rlim_t)want + 64;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    if (target > rl.rlim_cur) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int mkdir_p(const char *path)
{
    char tmp[SRV_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static struct MHD_Daemon *start_daemon(int fd)
{
    int threads = G.cfg->threads ? G.cfg->threads : rd_num_cores();
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};
    if (srv_tls_on()) {
        flags |= MHD_USE_TLS;
        srv_tls_daemon_options(tls);
    }
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 1),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)G.cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)G.cfg->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
}

void srv_reload_now(void)
{
    if (!G.state)
        return;
    pthread_mutex_lock(&G.poll_lock);
    srv_log(SRV_INFO, "reloading now: a change was published or rolled back", NULL);
    srv_state_poll(G.state, true);
    pthread_mutex_unlock(&G.poll_lock);
}

void srv_reload_store(void)
{
    if (!G.state)
        return;
    pthread_mutex_lock(&G.poll_lock);
    srv_state_poll(G.state, false);
    pthread_mutex_unlock(&G.poll_lock);
}

static void poll_locked(bool force)
{
    pthread_mutex_lock(&G.poll_lock);
    srv_state_poll(G.state, force);
    pthread_mutex_unlock(&G.poll_lock);
}

/* The signals the main thread waits for: SIGTERM, SIGINT, SIGHUP and SIGUSR1. */
static void signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

/* Wait for signals, polling the files between them, until SIGTERM or SIGINT. */
static int wait_loop(void)
{
    sigset_t set;
    signal_set(&set);
    int ms = G.cfg->reload_interval_ms;
    for (;;) {
        struct timespec to = {ms / 1000, (long)(ms % 1000) * 1000000L};
        int sig = sigtimedwait(&set, NULL, &to);
        if (sig == SIGHUP) {
            srv_log(SRV_INFO, "SIGHUP: reloading", NULL);
            poll_locked(true);
            srv_tls_poll(true);
        } else if (sig == SIGUSR1) {
            poll_locked(false); /* the rollout controller rewrote the flag file */
        } else if (sig == SIGTERM || sig == SIGINT) {
            return sig;
        } else {
            poll_locked(false);
            srv_tls_poll(false);
            if (time(NULL) - G.pruned >= 3600) {
                pthread_mutex_lock(&G.poll_lock);
                prune();
                pthread_mutex_unlock(&G.poll_lock);
            }
        }
        srv_auth_flush(false); /* failed authentications of the minutes that ended, audited */
    }
}

/* Finish what is in flight, then stop. libmicrohttpd's quiesce is not used: with an epoll
 * thread pool it removes the listening socket from the workers' epoll sets from this thread
 * while a busy worker may do the same, and a failed removal aborts the process. Instead every
 * answer from now on says Connection: close, and the daemon is stopped once no request has
 * been in flight for two checks in a row (or at drain_timeout_ms). */
static void drain(void)
{
    atomic_store(&G.draining, true);
    srv_events_close_all(); /* a stream never finishes by itself */
    srv_sync_begin_stop();  /* the sync connections end meanwhile, joined in srv_run's out: */
    double until = srv_now() + G.cfg->drain_timeout_ms / 1e3;
    int idle = 0;
    while (idle < 2 && srv_now() < until) {
        idle = atomic_load(&G.inflight) == 0 ? idle + 1 : 0;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    char n[16];
    snprintf(n, sizeof n, "%d", atomic_load(&G.inflight));
    srv_log(SRV_INFO, "drained", "#unfinished_requests", n, NULL);
}

/* The data directory, or its nearest existing parent, must be writable (riskd.db lives there). */
static int check_data_dir(const char *dir, rd_err *err)
{
    char path[SRV_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (;;) {
        if (access(path, F_OK) == 0) {
            if (access(path, W_OK | X_OK) != 0)
                return rd_err_set(err, RD_EIO, "data_dir %s: cannot write in %s: %s", dir, path,
                                  strerror(errno));
            return RD_OK;
        }
        char *slash = strrchr(path, '/');
        if (!slash)
            return access(".", W_OK) == 0
                       ? RD_OK
                       : rd_err_set(err, RD_EIO, "data_dir %s: cannot write in .: %s", dir, strerror(errno));
        if (slash == path) {
            path[1] = 0;
        } else {
            *slash = 0;
        }
    }
}

/* Everything serve would refuse at start, checked before a word of "ok": the files, the
 * routing, the data directory, the listening address. */
/* The notification sinks as --check-config shows them: scheme, host and port, never the rest. */
static void print_sinks(const srv_config *cfg)
{
    rd_notify_sink *sinks[SRV_MAX_SINKS];
    size_t n;
    rd_err err;
    if (!cfg->nnotify || srv_notify_sinks(cfg, sinks, &n, &err))
        return; /* validate parsed them already */
    for (size_t i = 0; i < n; i++) {
        rd_buf b;
        rd_buf_init(&b);
        rd_notify_sink_describe(sinks[i], &b);
        printf("notify     %s\n", rd_buf_cstr(&b));
        rd_buf_deinit(&b);
        rd_notify_sink_free(sinks[i]);
    }
}

int srv_check(const srv_config *cfg)
{
    srv_log_init(cfg->log_level);
    srv_metrics_init();
    srv_state *st;
    rd_err err;
    srv_store_opts.node = cfg->node[0] ? cfg->node : NULL;
    srv_store_opts.timeout_ms = cfg->store_timeout_ms;
    if (srv_state_new(cfg, NULL, &st, &err)) {
        fprintf(stderr, "riskd: serve: %s\n", err.msg);
        srv_metrics_deinit();
        return rd_err_exit_status(err.code);
    }
    srv_snapshot *s = srv_state_acquire(st);
    const rd_decider *dec = s->dec;
    size_t n = rd_decider_count(dec);
    int rc = 0;
    char bound[128];
    int fd, sfd = -1;
    if (cfg->bundles[0] && !rd_decider_can_pick(dec)) {
        fprintf(
            stderr,
            "riskd: serve: %zu bundles and nothing picks one: add the routing flag %s to the flags or set "
            "default_bundle\n",
            n, cfg->route_flag);
        rc = 1;
    } else if (check_data_dir(cfg->data_dir, &err) ||
               (fd = listen_on(cfg->listen, bound, sizeof bound, &err)) < 0) {
        fprintf(stderr, "riskd: serve: %s\n", err.msg);
        rc = 4;
    } else if (cfg->sync_listen[0] && (sfd = listen_on(cfg->sync_listen, bound, sizeof bound, &err)) < 0) {
        /* listen's socket still open: both are bound at once, as serve binds them */
        close(fd);
        fprintf(stderr, "riskd: serve: sync_listen: %s\n", err.msg);
        rc = 4;
    } else {
        close(fd);
        if (cfg->sync_listen[0])
            close(sfd);
        if (srv_tls_init(cfg, &err)) {
            fprintf(stderr, "riskd: serve: %s\n", err.msg);
            rc = rd_err_exit_status(err.code);
        }
    }
    if (rc == 0 && cfg->nrollouts) {
        /* the plans first, to stdout with the rest only when they pass */
        fflush(stdout);
        int saved = dup(1), null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        int prc = srv_rollouts_check(cfg, st, &err);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        close(null);
        if (prc) {
            fprintf(stderr, "riskd: serve: %s\n", err.msg);
            rc = rd_err_exit_status(prc);
        }
    }
    if (rc == 0) {
        printf("configuration ok%s%s\n", cfg->source[0] ? ": " : "", cfg->source);
        if (cfg->nrollouts)
            srv_rollouts_check(cfg, st, &err);
        if (cfg->flags[0])
            printf("flags      %s: %zu flags\n", cfg->flags, rd_flagset_count(s->flags));
        if (cfg->bundles[0]) {
            printf("bundles    %s:", cfg->bundles);
            for (size_t i = 0; i < n; i++)
                printf(" %s", rd_slot_name(rd_decider_slot(dec, i)));
            printf("\nrouting    %s\ndefault    %s\nshadow     %s\n",
                   rd_decider_route_index(dec) >= 0 ? cfg->route_flag : "(none)",
                   rd_decider_default(dec) ? rd_slot_name(rd_decider_default(dec)) : "(none)",
                   rd_decider_shadow_index(dec) >= 0 ? cfg->shadow_flag : "(none)");
            printf("deadline   %d ms\nfallback   %s\nbreaker    %s\n", cfg->deadline_ms,
                   cfg->fallback[0] ? cfg->fallback : "(service-wide: none)", cfg->breaker);
            for (size_t i = 0; i < cfg->nfaults; i++) {
                char desc[128];
                rd_fault_describe(&cfg->faults[i], desc, sizeof desc);
                printf("fault      %s: %s (a drill)\n", cfg->faults[i].bundle, desc);
            }
        }
        printf("listen     %s\n", cfg->listen);
        if (cfg->cors_origins[0])
            printf("cors       %s%s\n", cfg->cors_origins,
                   cfg->cors_credentials ? " (with credentials)" : "");
        if (cfg->sync_listen[0])
            printf("sync       %s: flagd.sync.v1 gRPC (%s), at most %zu SyncFlags streams, %zu connections\n",
                   cfg->sync_listen, cfg->tls_cert[0] ? "TLS, ALPN h2" : "h2c", cfg->sync_max_streams,
                   cfg->sync_max_connections);
        else
            printf("sync       off\n");
        print_sinks(cfg);
        srv_tls_describe();
    }
    srv_tls_deinit();
    srv_snapshot_unref(s);
    srv_state_free(st);
    srv_metrics_deinit();
    return rc;
}

/* What starts before the HTTP daemon: TLS, the admin API's state (its store, the limiter, the token
 * cache) and the flagd sync service (when sync_listen is set). 0, or the exit code. */
static int start_services(const srv_config *cfg)
{
    rd_err err;
    if (srv_tls_init(cfg, &err)) {
        srv_log(SRV_ERROR, "cannot start: TLS", "error", err.msg, "code", rd_err_name(err.code), NULL);
        return rd_err_exit_status(err.code);
    }
    if (srv_auth_start(cfg, &err)) {
        srv_log(SRV_ERROR, "cannot start: the admin API", "error", err.msg, "code", rd_err_name(err.code),
                NULL);
        return rd_err_exit_status(err.code);
    }
    if (srv_sync_start(cfg, G.state, &err)) {
        srv_log(SRV_ERROR, "cannot start: the flagd sync service", "error", err.msg, NULL);
        return err.code == RD_EIO || err.code == RD_EINVAL ? 4 : 1;
    }
    if (srv_events_start(cfg, G.state, &err)) {
        srv_log(SRV_ERROR, "cannot start: the event streams", "error", err.msg, NULL);
        return 1;
    }
    return 0;
}

/* A node that served from the store before (its data directory keeps the flag set it served)
 * may start while the store is unreachable: its handles connect at their first use. A first
 * start still needs the store, so a wrong URL or password is refused at once, not served around. */
static bool kept_before(const srv_config *cfg)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" RD_FLAGS_KEPT_FILE, cfg->data_dir);
    return strncmp(cfg->store, "sqlite:", 7) != 0 && access(path, F_OK) == 0;
}

/* The notifier's HTTP client (notify_http.c: libcurl, only in the riskd binary). */
static void *notify_http_open(void)
{
    srv_notify_http *h = NULL;
    rd_err e;
    return srv_notify_http_new(&h, &e) == RD_OK ? h : NULL;
}
static void notify_http_close(void *ud) { srv_notify_http_free(ud); }

int srv_run(const srv_config *cfg)
{
    /* Signals go to the main thread's sigtimedwait only: blocked before any thread starts
     * (the log's writer, the shadow workers, the HTTP workers inherit the mask), or a SIGHUP
     * meant as "reload" could land on one of them and end the process. */
    sigset_t set;
    signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    G.cfg = cfg;
    srv_store_opts.node = cfg->node[0] ? cfg->node : NULL;
    srv_store_opts.lazy = kept_before(cfg);
    srv_store_opts.timeout_ms = cfg->store_timeout_ms;
    pthread_mutex_init(&G.outcomes.lock, NULL);
    srv_log_init(cfg->log_level);
    srv_metrics_init();
    rd_err err;
    if (mkdir_p(cfg->data_dir) < 0) {
        srv_log(SRV_ERROR, "cannot create the data directory", "path", cfg->data_dir, "error",
                strerror(errno), NULL);
        return 4;
    }
    if (cfg->log && open_log(cfg, &err)) {
        srv_log(SRV_ERROR, "cannot start: the decision log", "error", err.msg, "code", rd_err_name(err.code),
                NULL);
        close_log();
        srv_metrics_deinit();
        return rd_err_exit_status(err.code);
    }
    if (srv_monitor_start(cfg, &err)) {
        srv_log(SRV_ERROR, "cannot start the monitor", "error", err.msg, NULL);
        close_log();
        srv_metrics_deinit();
        return 1;
    }
    if (srv_state_new(cfg, G.store, &G.state, &err)) {
        srv_monitor_stop();
        close_log();
        srv_log(SRV_ERROR, "cannot start: refused", "error", err.msg, "code", rd_err_name(err.code), NULL);
        srv_metrics_deinit();
        return rd_err_exit_status(err.code);
    }
    for (size_t i = 0; i < cfg->nfaults; i++) { /* loudly: a drill must never pass unnoticed */
        char desc[128];
        rd_fault_describe(&cfg->faults[i], desc, sizeof desc);
        srv_log(SRV_WARN, "FAULT INJECTION: this bundle's calls are degraded on purpose (a drill)", "bundle",
                cfg->faults[i].bundle, "fault", desc, NULL);
    }
    if (cfg->shadow_flag[0] && rd_shadow_new(cfg->shadow_threads, cfg->shadow_queue, &G.shadow, &err)) {
        srv_log(SRV_ERROR, "cannot start the shadow workers", "error", err.msg, NULL);
        srv_state_free(G.state);
        close_log();
        srv_metrics_deinit();
        return 1;
    }
    if (G.shadow && (G.dlog || srv_monitor()))
        rd_shadow_set_sink(G.shadow, srv_log_shadow, NULL);
    /* before the rollouts: every sink's cursor exists before their first transition */
    srv_notify_transport transport = {.open = notify_http_open,
                                      .close = notify_http_close,
                                      .post = srv_notify_http_post,
                                      .cert_not_after = srv_tls_not_after};
    if (srv_notify_start(cfg, &transport, G.dlog, &err)) {
        srv_log(SRV_ERROR, "cannot start: notifications", "error", err.msg, "code", rd_err_name(err.code),
                NULL);
        rd_shadow_free(G.shadow);
        G.shadow = NULL;
        srv_state_free(G.state);
        srv_monitor_stop();
        close_log();
        srv_metrics_deinit();
        return rd_err_exit_status(err.code);
    }
    if (srv_rollouts_start(cfg, G.state, G.shadow, &err)) {
        srv_log(SRV_ERROR, "cannot start: rollout refused", "error", err.msg, "code", rd_err_name(err.code),
                NULL);
        srv_notify_stop();
        rd_shadow_free(G.shadow);
        G.shadow = NULL;
        srv_state_free(G.state);
        srv_monitor_stop();
        close_log();
        srv_metrics_deinit();
        return rd_err_exit_status(err.code);
    }
    prune();
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(cfg->max_connections);
    pthread_key_create(&G.worker_key, worker_free);

    char bound[300];
    int fd = -1, rc = 0;
    if ((rc = start_services(cfg)))
        goto out;
    if (srv_cluster_start(cfg, G.state, &err)) {
        srv_log(SRV_ERROR, "cannot start: following the store", "error", err.msg, "code",
                rd_err_name(err.code), NULL);
        rc = rd_err_exit_status(err.code);
        goto out;
    }
    fd = listen_on(cfg->listen, bound, sizeof bound, &err);
    if (fd < 0) {
        srv_log(SRV_ERROR, "cannot listen", "error", err.msg, NULL);
        rc = 4;
        goto out;
    }
    struct MHD_Daemon *d = start_daemon(fd);
    atomic_store(&G.daemon, d);
    if (!d) {
        srv_log(SRV_ERROR, "cannot start the HTTP daemon", "listen", bound, NULL);
        close(fd);
        rc = 4;
        goto out;
    }
    printf("listening on %s://%s\n", srv_tls_on() ? "https" : "http", bound);
    fflush(stdout);
    char threads[16];
    snprintf(threads, sizeof threads, "%d", cfg->threads ? cfg->threads : rd_num_cores());
    srv_log(SRV_INFO, "listening", "address", bound, "#threads", threads, "flags",
            cfg->flags[0] ? cfg->flags : NULL, "bundles", cfg->bundles[0] ? cfg->bundles : NULL, "config",
            cfg->source[0] ? cfg->source : NULL, "tls", srv_tls_on() ? "on" : "off", "mtls",
            cfg->mtls[0] ? cfg->mtls : NULL, NULL);
    int sig = wait_loop();
    srv_log(SRV_INFO, sig == SIGTERM ? "SIGTERM: draining" : "SIGINT: draining", NULL);
    drain();
    MHD_stop_daemon(d); /* joins the workers, whose snapshot references go with them */
    srv_log(SRV_INFO, "stopped", NULL);
out:
    srv_notify_stop();  /* before the cluster state its watcher reads; its ring goes to the spool */
    srv_cluster_stop(); /* before the state it polls */
    srv_events_stop();  /* after the daemon: no stream is left */
    srv_sync_stop();    /* before TLS: its sessions hold the credentials */
    srv_auth_stop();    /* after the daemon: the failed authentications of the minute under way audited */
    srv_tls_deinit();   /* after the daemon: every connection's reference is gone */
    srv_rollouts_stop();
    rd_shadow_free(G.shadow); /* finishes the queued shadow work: it holds deciders */
    G.shadow = NULL;
    close_log(); /* commits what is queued */
    srv_state_free(G.state);
    srv_sync_free();    /* after the state: no flag set listener can write to its eventfd */
    srv_monitor_stop(); /* after the slots that cache its series are gone */
    pthread_key_delete(G.worker_key);
    srv_metrics_deinit();
    return rc;
}
