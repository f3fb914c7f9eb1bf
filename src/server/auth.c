/* Authentication inside riskd serve: bearer tokens for the admin API (always) and for the
 * scoring side (auth = on), the failed-authentication limiter, and a cache of tokens checked.
 *
 * Invariants: a token is checked against the store on one of AUTH_CONNS handles of its own,
 * never on the admin store under A.lock: an admin request holds that lock for as long as its
 * governance transaction waits (on PostgreSQL, for every node's), and scoring must not wait
 * with it. The library (include/riskd/auth.h) decides whether a token is good. A token is never
 * written anywhere: not to a log line, an error message, a metric label or the cache (which
 * keys on the token's SHA-256). The cache is a fixed table of CACHE_SLOTS entries under
 * CACHE_LOCKS striped locks, so a scoring request with a token costs one SHA-256 and one
 * uncontended lock, never the store; an entry older than SRV_AUTH_RECHECK_MS is checked against
 * the store again, so a revocation made elsewhere without a notification (the CLI on SQLite)
 * takes effect within that time, and one made through an admin API or on a shared store at
 * once (srv_auth_cache_clear, here or from the store's notification). A check that was under
 * way while the cache was emptied does not put its answer back (A.gen).
 *
 * While the store is unreachable, the cache keeps the scoring side working (ADR 0011: scoring
 * never depends on the store): a token the store vouched for less than auth_stale_ms ago is
 * admitted for the score and pin scopes, counted and logged once per outage. A token the store
 * never vouched for, or refused (forgotten at once), or expired since, is not admitted.
 *
 * The limiter counts failures per source (the client's address) and minute; a source over its
 * limit is refused before its token is looked at. A token the cache knows as good is not
 * refused by it: the limit is there to stop guessing, and a caller that holds a valid token is
 * not guessing (a shared NAT address with someone guessing keeps its good clients working). */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "riskd/clock.h"
#include "riskd/hash.h"
#include "server.h"

#define CACHE_SLOTS    4096 /* a power of two */
#define CACHE_LOCKS    64
#define AUTH_CONNS     2 /* store handles for token checks: a slow check holds one, not every miss */
#define FLUSH_EVERY_MS 5000
#define MAX_HEADER     256 /* an Authorization header longer than this holds no token of ours */

typedef struct cache_entry {
    char key[RD_SHA256_HEX]; /* SHA-256 of the token; "" for an empty slot */
    int64_t checked_ms;      /* when the store last said it is good */
    rd_principal who;
} cache_entry;

typedef struct auth_conn {
    pthread_mutex_t lock;
    rd_store *store;
} auth_conn;

static struct {
    const srv_config *cfg;
    pthread_mutex_t lock; /* the admin store */
    rd_store *store;
    auth_conn conns[AUTH_CONNS];
    atomic_uint next_conn;
    rd_auth_limiter *limiter;
    int64_t flushed_ms; /* main thread only */
    cache_entry *cache;
    pthread_mutex_t cache_locks[CACHE_LOCKS];
    atomic_uint_fast64_t gen; /* bumped by every srv_auth_cache_clear */
    atomic_bool away;         /* the last token check found the store unreachable */
    bool started;
} A = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const reason_names[SRV_AUTH_NREASONS] = {
    "missing", "not_bearer", "malformed", "unknown",      "wrong_secret",
    "revoked", "expired",    "disabled",  "rate_limited", "other",
};

const char *srv_auth_reason_name(srv_auth_reason r)
{
    return (unsigned)r < SRV_AUTH_NREASONS ? reason_names[r] : "other";
}

/* The library's refusals start with their reason before a colon (auth.h). */
static srv_auth_reason reason_of(const char *msg)
{
    static const struct {
        const char *prefix;
        srv_auth_reason r;
    } map[] = {
        {"malformed", SRV_AUTH_MALFORMED},       {"unknown", SRV_AUTH_UNKNOWN},
        {"wrong secret", SRV_AUTH_WRONG_SECRET}, {"revoked", SRV_AUTH_REVOKED},
        {"expired", SRV_AUTH_EXPIRED},           {"user disabled", SRV_AUTH_DISABLED},
        {"disabled", SRV_AUTH_DISABLED},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strncmp(msg, map[i].prefix, strlen(map[i].prefix)))
            return map[i].r;
    return SRV_AUTH_OTHER;
}

/* ------------------------------------------------------------------ life */

int srv_auth_start(const srv_config *cfg, rd_err *err)
{
    A.cfg = cfg;
    if (!(A.limiter = rd_auth_limiter_new((unsigned)cfg->auth_max_failures)) ||
        !(A.cache = rd_calloc(CACHE_SLOTS, sizeof *A.cache))) {
        srv_auth_stop();
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    for (int i = 0; i < CACHE_LOCKS; i++)
        pthread_mutex_init(&A.cache_locks[i], NULL);
    for (int i = 0; i < AUTH_CONNS; i++)
        pthread_mutex_init(&A.conns[i].lock, NULL);
    A.started = true;
    int rc = rd_store_open(cfg->store, &srv_store_opts, &A.store, err);
    for (int i = 0; !rc && i < AUTH_CONNS; i++)
        rc = rd_store_open(cfg->store, &srv_store_opts, &A.conns[i].store, err);
    if (rc) {
        rd_err_prefix(err, "the admin API's store");
        srv_auth_stop();
        return rc;
    }
    A.flushed_ms = rd_clock_unix_ms();
    return RD_OK;
}

void srv_auth_stop(void)
{
    srv_auth_flush(true);
    rd_store_close(A.store);
    A.store = NULL;
    for (int i = 0; i < AUTH_CONNS; i++) {
        rd_store_close(A.conns[i].store);
        A.conns[i].store = NULL;
    }
    rd_auth_limiter_free(A.limiter);
    A.limiter = NULL;
    if (A.started) {
        for (int i = 0; i < CACHE_LOCKS; i++)
            pthread_mutex_destroy(&A.cache_locks[i]);
        for (int i = 0; i < AUTH_CONNS; i++)
            pthread_mutex_destroy(&A.conns[i].lock);
    }
    A.started = false;
    if (A.cache)
        explicit_bzero(A.cache, CACHE_SLOTS * sizeof *A.cache);
    rd_free(A.cache);
    A.cache = NULL;
}

rd_store *srv_admin_lock(void)
{
    pthread_mutex_lock(&A.lock);
    return A.store;
}

void srv_admin_unlock(void) { pthread_mutex_unlock(&A.lock); }

void srv_auth_flush(bool final)
{
    if (!A.limiter || !A.store)
        return;
    int64_t now = rd_clock_unix_ms();
    if (!final && now - A.flushed_ms < FLUSH_EVERY_MS)
        return;
    A.flushed_ms = now;
    /* At shutdown the minute under way counts as ended: its failures are written now rather
       than lost (its entry is dated the minute's end). */
    int64_t upto = final ? (now / 60000 + 1) * 60000 : now;
    rd_err err;
    pthread_mutex_lock(&A.lock);
    int rc = rd_auth_limiter_flush(A.limiter, A.store, upto, &err);
    pthread_mutex_unlock(&A.lock);
    if (rc)
        srv_log(SRV_ERROR, "failed authentications could not be audited (kept for the next try)", "error",
                err.msg, NULL);
}

/* ------------------------------------------------------------------ the cache */

static size_t slot_of(const char *key)
{
    char h[9];
    memcpy(h, key, 8);
    h[8] = '\0';
    return (size_t)strtoul(h, NULL, 16) & (CACHE_SLOTS - 1);
}

static pthread_mutex_t *lock_of(size_t slot) { return &A.cache_locks[slot % CACHE_LOCKS]; }

/* A principal the store vouched for less than max_age_ms ago, whose token has not expired
 * since (SRV_AUTH_RECHECK_MS; auth_stale_ms with the store away). */
static bool cache_get(const char *key, int64_t now, int64_t max_age_ms, rd_principal *out)
{
    size_t i = slot_of(key);
    bool hit = false;
    pthread_mutex_lock(lock_of(i));
    cache_entry *e = &A.cache[i];
    if (!strcmp(e->key, key) && now - e->checked_ms < max_age_ms && now >= e->checked_ms &&
        (!e->who.expires_ms || now < e->who.expires_ms)) {
        *out = e->who;
        hit = true;
    }
    pthread_mutex_unlock(lock_of(i));
    return hit;
}

/* who NULL: forget key (the store refused it). A slot taken by another token is overwritten:
 * the cache stays bounded, and a token pushed out costs one store check. gen: A.gen when the
 * check began; a good answer is dropped when the cache was emptied since (a revocation may have
 * committed after the store answered). */
static void cache_put(const char *key, uint64_t gen, int64_t now, const rd_principal *who)
{
    size_t i = slot_of(key);
    pthread_mutex_lock(lock_of(i));
    cache_entry *e = &A.cache[i];
    if (who && atomic_load(&A.gen) != gen) {
        /* stale answer: not kept */
    } else if (who) {
        snprintf(e->key, sizeof e->key, "%s", key);
        e->checked_ms = now;
        e->who = *who;
    } else if (!strcmp(e->key, key)) {
        memset(e, 0, sizeof *e);
    }
    pthread_mutex_unlock(lock_of(i));
}

void srv_auth_cache_clear(void)
{
    if (!A.cache)
        return;
    atomic_fetch_add(&A.gen, 1); /* before the slots: a check under way cannot put its answer back */
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        pthread_mutex_lock(lock_of(i));
        memset(&A.cache[i], 0, sizeof A.cache[i]);
        pthread_mutex_unlock(lock_of(i));
    }
}

/* ------------------------------------------------------------------ checking */

static int refuse(srv_auth_fail *f, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(srv_auth_fail *f, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    f->status = status;
    f->code = code;
    return -1;
}

/* A failure the limiter counts: why is the library's message (its reason before the colon). */
static int unauthenticated(srv_req *r, srv_auth_reason reason, const char *why, srv_auth_fail *f)
{
    rd_auth_limiter_fail(A.limiter, r->source, why, rd_clock_unix_ms());
    srv_metrics_auth_failure(reason);
    return refuse(f, 401, "UNAUTHENTICATED", "%s", why);
}

/* The limiter's verdict on r's source at now: -1 with the 429 in f when it is over its limit. */
static int limited(srv_req *r, int64_t now, srv_auth_fail *f)
{
    if (rd_auth_limiter_allow(A.limiter, r->source, now))
        return 0;
    srv_metrics_auth_failure(SRV_AUTH_RATE_LIMITED);
    f->retry_after_s = (int)(60 - (now / 1000) % 60);
    return refuse(f, 429, "TOO_MANY_ATTEMPTS",
                  "too many failed authentications from %s this minute (auth_max_failures %d): try again "
                  "in %d s",
                  r->source ? r->source : "this address", A.cfg->auth_max_failures, f->retry_after_s);
}

/* The token of "Bearer <token>" into tok (NUL-terminated); the reason when there is none. */
static srv_auth_reason bearer(const char *h, char *tok, size_t cap)
{
    if (!h)
        return SRV_AUTH_MISSING;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return SRV_AUTH_NOT_BEARER;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (!n || n >= cap)
        return SRV_AUTH_MALFORMED;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)h[i]))
            return SRV_AUTH_MALFORMED;
    memcpy(tok, h, n);
    tok[n] = '\0';
    return SRV_AUTH_NREASONS; /* none: a token */
}

/* Take a token-check handle: a free one if any, else wait for one. */
static auth_conn *conn_take(void)
{
    for (int i = 0; i < AUTH_CONNS; i++)
        if (pthread_mutex_trylock(&A.conns[i].lock) == 0)
            return &A.conns[i];
    auth_conn *c = &A.conns[atomic_fetch_add(&A.next_conn, 1) % AUTH_CONNS];
    pthread_mutex_lock(&c->lock);
    return c;
}

/* Check tok against the store on a handle of its own (not A.lock). */
static int store_check(const char *tok, int64_t now, rd_principal *who, rd_err *err)
{
    auth_conn *c = conn_take();
    int rc = rd_auth_authenticate(c->store, tok, now, who, err);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Said once when token checks find the store unreachable, once when they reach it again: not
 * per request, which during an outage would be every scoring request. */
static void store_away(bool away, const char *why)
{
    if (atomic_exchange(&A.away, away) == away)
        return;
    if (!away) {
        srv_log(SRV_INFO, "tokens are checked against the store again", NULL);
        return;
    }
    char ms[16];
    snprintf(ms, sizeof ms, "%d", A.cfg->auth_stale_ms);
    srv_log(SRV_WARN,
            "tokens cannot be checked: the store is unreachable; scoring and OFREP admit tokens it vouched "
            "for within auth_stale_ms, from the cache, and refuse others (503)",
            "#auth_stale_ms", ms, "error", why, NULL);
}

rd_session_opts srv_session_opts(const srv_config *cfg)
{
    return (rd_session_opts){.max_age_ms = cfg->console_session_max_s * 1000LL,
                             .idle_ms = cfg->console_session_idle_s * 1000LL};
}

int srv_auth_limited(srv_req *r, srv_auth_fail *f)
{
    f->retry_after_s = 0;
    if (!A.limiter)
        return refuse(f, 503, "UNAVAILABLE", "authentication is not available in this process");
    return limited(r, rd_clock_unix_ms(), f);
}

int srv_auth_failed(srv_req *r, const char *why, srv_auth_fail *f)
{
    f->retry_after_s = 0;
    return unauthenticated(r, reason_of(why), why, f);
}

int srv_auth_session(srv_req *r, const char *token, srv_auth_fail *f)
{
    f->retry_after_s = 0;
    if (!A.limiter || !A.conns[AUTH_CONNS - 1].store)
        return refuse(f, 503, "UNAVAILABLE", "authentication is not available in this process");
    int64_t now = rd_clock_unix_ms();
    if (limited(r, now, f))
        return -1;
    rd_session_opts o = srv_session_opts(A.cfg);
    rd_err err;
    rd_principal who;
    srv_metrics_auth_store_check();
    auth_conn *c = conn_take();
    int rc = rd_session_authenticate(c->store, token, now, &o, &who, &err);
    pthread_mutex_unlock(&c->lock);
    store_away(rc == RD_ESTORE, rc == RD_ESTORE ? err.msg : "");
    if (rc == RD_EUNAUTH) {
        srv_auth_reason why = reason_of(err.msg);
        if (why == SRV_AUTH_MALFORMED || why == SRV_AUTH_UNKNOWN || why == SRV_AUTH_WRONG_SECRET)
            return unauthenticated(r, why, err.msg, f); /* a guess: the limiter counts it */
        /* the secret matched: a session that is over (idle, expired, its token revoked, its user
           disabled) is no guess, and counting it would let a console left open lock its
           address out, the CLI and the other users behind it included */
        srv_metrics_auth_failure(why);
        return refuse(f, 401, "UNAUTHENTICATED", "%s", err.msg);
    }
    if (rc) {
        if (rc != RD_ESTORE)
            srv_log(SRV_ERROR, "authentication failed", "error", err.msg, "code", rd_err_name(rc), NULL);
        return refuse(f, rd_err_http_status(rc), rd_err_name(rc), "authentication: %s", err.msg);
    }
    r->who = who;
    r->authed = true;
    return 0;
}

static int authenticate(srv_req *r, bool fresh, bool stale_ok, const char *doing, srv_auth_fail *f)
{
    if (!A.limiter || !A.store || !A.conns[AUTH_CONNS - 1].store)
        return refuse(f, 503, "UNAVAILABLE", "authentication is not available in this process");
    char tok[MAX_HEADER];
    srv_auth_reason why = bearer(r->authorization, tok, sizeof tok);
    int64_t now = rd_clock_unix_ms();
    char key[RD_SHA256_HEX] = "";
    if (why == SRV_AUTH_NREASONS) {
        rd_sha256_hex(tok, strlen(tok), key);
        if (!fresh && cache_get(key, now, SRV_AUTH_RECHECK_MS, &r->who)) {
            explicit_bzero(tok, sizeof tok);
            r->authed = true;
            return 0;
        }
    }
    if (limited(r, now, f)) {
        explicit_bzero(tok, sizeof tok);
        return -1;
    }
    if (why == SRV_AUTH_MISSING) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "missing token: %s needs \"Authorization: Bearer <token>\" (riskd user add issues one)",
                 doing);
        return unauthenticated(r, why, msg, f);
    }
    if (why == SRV_AUTH_NOT_BEARER)
        return unauthenticated(r, why,
                               "not a bearer token: the Authorization header must be \"Bearer <token>\"", f);
    if (why == SRV_AUTH_MALFORMED)
        return unauthenticated(
            r, why, "malformed token: the Authorization header holds no token of riskd's shape", f);
    rd_err err;
    rd_principal who;
    uint64_t gen = atomic_load(&A.gen);
    srv_metrics_auth_store_check();
    int rc = store_check(tok, now, &who, &err);
    explicit_bzero(tok, sizeof tok);
    store_away(rc == RD_ESTORE, rc == RD_ESTORE ? err.msg : "");
    if (rc == RD_EUNAUTH) {
        cache_put(key, gen, now, NULL);
        return unauthenticated(r, reason_of(err.msg), err.msg, f);
    }
    if (rc == RD_ESTORE && stale_ok && A.cfg->auth_stale_ms > 0 &&
        cache_get(key, now, A.cfg->auth_stale_ms, &r->who)) {
        srv_metrics_auth_stale();
        r->authed = true;
        return 0;
    }
    if (rc) {
        if (rc != RD_ESTORE) /* RD_ESTORE: said once per outage (store_away) */
            srv_log(SRV_ERROR, "authentication failed", "error", err.msg, "code", rd_err_name(rc), NULL);
        return refuse(f, rd_err_http_status(rc), rd_err_name(rc), "authentication: %s", err.msg);
    }
    cache_put(key, gen, now, &who);
    r->who = who;
    r->authed = true;
    return 0;
}

int srv_auth_check(srv_req *r, uint32_t scope, bool fresh, const char *doing, srv_auth_fail *f)
{
    f->retry_after_s = 0;
    if (!r->authed && r->auth_refused) { /* refused once already: not counted twice */
        *f = *r->auth_refused;
        return -1;
    }
    /* the cache may stand in for an unreachable store on the scoring side only: an admin or an
       outcomes request changes the store, which must be there to answer it anyway */
    const uint32_t scoring = RD_SCOPE_SCORE | RD_SCOPE_PIN;
    bool stale_ok = !fresh && scope && !(scope & ~scoring);
    if (!r->authed && authenticate(r, fresh, stale_ok, doing, f)) {
        if ((r->auth_refused = rd_arena_alloc(r->arena, sizeof *r->auth_refused)))
            *r->auth_refused = *f;
        return -1;
    }
    if ((r->who.scopes & scope) != scope) {
        char have[64], want[64];
        return refuse(f, 403, "FORBIDDEN",
                      "%s may not %s with token %s: the token lacks the %s scope (it has: %s)", r->who.user,
                      doing, r->who.token_id, rd_scopes_format(scope, want, sizeof want),
                      rd_scopes_format(r->who.scopes, have, sizeof have));
    }
    return 0;
}

int srv_auth_require(srv_req *r, uint32_t scope, bool fresh, const char *doing)
{
    srv_auth_fail f;
    if (!srv_auth_check(r, scope, fresh, doing, &f))
        return 0;
    srv_reply_error(r, f.status, f.code, "%s", f.msg);
    r->retry_after_s = f.retry_after_s;
    return -1;
}
