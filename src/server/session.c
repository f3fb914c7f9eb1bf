/* The web console's sign-in over HTTP (docs/api.md, "Console sessions"): the session cookie,
 * the CSRF and origin checks, and the session actions. The rules (who may open a session, how
 * long it lives, when it ends, what the CSRF token is) are the library's (src/lib/auth/session.c);
 * this file translates.
 *
 * Invariants: the cookie is read on the admin API only (srv_route_admin), never when the
 * request has an Authorization header (a bearer caller is unchanged, and needs no CSRF token:
 * a browser never attaches that header by itself, so it cannot be forged cross-site), and never
 * with console = off. A request the cookie would authenticate is refused before its token is
 * looked up in the store when its Origin is not this server's or its Sec-Fetch-Site names
 * another site, and, for a change (any method but GET), when its X-CSRF-Token is missing or is
 * not the session's: a forged request never reaches the store. The cookie is HttpOnly,
 * SameSite=Strict, Path=/, without Max-Age (it ends with the browser session), with Secure and
 * the __Host- name when cookie_secure. A session's token leaves the server once, in the
 * Set-Cookie of session.open; no answer's body holds it. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "riskd/clock.h"
#include "riskd/json.h"
#include "server.h"

#define COOKIE_NAME        "riskd_session"
#define COOKIE_NAME_SECURE "__Host-riskd_session"

static const char *const no_store[] = {"Cache-Control", "no-store", NULL};

static const char *cookie_name(const srv_config *cfg)
{
    return cfg->cookie_secure ? COOKIE_NAME_SECURE : COOKIE_NAME;
}

const char *srv_session_cookie(srv_req *r)
{
    if (!r->cfg->console || !r->cookie)
        return NULL;
    const char *name = cookie_name(r->cfg), *value = NULL;
    size_t nl = strlen(name), len = 0;
    int seen = 0;
    for (const char *p = r->cookie; *p;) {
        p += strspn(p, " \t;");
        size_t n = strcspn(p, ";");
        if (n > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            value = p + nl + 1;
            len = n - nl - 1;
            seen++;
        }
        p += n;
    }
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    /* the name twice (one set for another path or by a sibling host): which one is the browser's
       own cannot be told, so neither is used (the console then signs in again) */
    if (seen != 1 || !len || len >= RD_TOKEN_MAX)
        return NULL;
    return rd_arena_strndup(r->arena, value, len);
}

/* The Set-Cookie header: the session's token, or (NULL) an expired cookie that signs out. */
static void set_cookie(srv_req *r, const char *token)
{
    char *v = rd_arena_alloc(r->arena, 256);
    const char **h = rd_arena_alloc(r->arena, 3 * sizeof *h);
    if (!v || !h)
        return; /* out of memory: no cookie; the page finds it is not signed in */
    snprintf(v, 256, "%s=%s; Path=/; %sHttpOnly; SameSite=Strict%s", cookie_name(r->cfg), token ? token : "",
             token ? "" : "Max-Age=0; ", r->cfg->cookie_secure ? "; Secure" : "");
    h[0] = "Set-Cookie";
    h[1] = v;
    h[2] = NULL;
    r->headers[0] = h;
}

/* ------------------------------------------------------------------ the checks before the store */

/* Whether r comes from this server's own pages: no Origin (a same-origin GET, or not a browser),
 * or an Origin equal to scheme://Host, the scheme https when cookie_secure. */
static bool same_origin(const srv_req *r)
{
    if (!r->origin)
        return true;
    if (!r->host)
        return false;
    char want[SRV_ORIGIN_MAX + 16], a[SRV_ORIGIN_MAX + 16], b[SRV_ORIGIN_MAX + 16];
    snprintf(want, sizeof want, "%s://%s", r->cfg->cookie_secure ? "https" : "http", r->host);
    rd_err err;
    if (strchr(r->origin, ',') || srv_cors_normalize(want, a, sizeof a, &err) ||
        srv_cors_normalize(r->origin, b, sizeof b, &err))
        return false;
    return !strcmp(a, b);
}

static bool refuse(srv_req *r, srv_console_refusal why, const char *code, const char *msg)
{
    srv_metrics_console_refusal(why);
    srv_reply_error(r, 403, code, "%s", msg);
    return true;
}

/* Origin and Sec-Fetch-Site: the request must come from the console's own pages. A sibling host
 * (same-site) is refused too: it is another origin, and may be someone else's. */
static bool cross_origin(srv_req *r)
{
    if (!same_origin(r)) {
        srv_metrics_console_refusal(SRV_CONSOLE_CROSS_ORIGIN);
        srv_reply_error(
            r, 403, "CROSS_ORIGIN",
            "origin %.200s is not this server's: the console's session works from its own pages only",
            r->origin);
        return true;
    }
    if (r->fetch_site &&
        (!strcasecmp(r->fetch_site, "cross-site") || !strcasecmp(r->fetch_site, "same-site")))
        return refuse(
            r, SRV_CONSOLE_CROSS_ORIGIN, "CROSS_ORIGIN",
            "Sec-Fetch-Site says the request comes from another site: the console's session works from "
            "its own pages only");
    return false;
}

bool srv_session_refused(srv_req *r, const char *token, bool needs_csrf)
{
    if (cross_origin(r))
        return true;
    if (!needs_csrf)
        return false;
    if (!r->csrf || !*r->csrf)
        return refuse(r, SRV_CONSOLE_CSRF_REQUIRED, "CSRF_REQUIRED",
                      "a change made with the console's session needs its CSRF token in X-CSRF-Token (GET "
                      "/v1/admin/session gives it)");
    if (!rd_csrf_check(token, r->csrf))
        return refuse(r, SRV_CONSOLE_CSRF_INVALID, "CSRF_INVALID",
                      "X-CSRF-Token is not this session's CSRF token (GET /v1/admin/session gives it)");
    return false;
}

/* ------------------------------------------------------------------ answers */

static void reply_fail(srv_req *r, const srv_auth_fail *f)
{
    srv_reply_error(r, f->status, f->code, "%s", f->msg);
    r->retry_after_s = f->retry_after_s;
}

/* {"user":null}: not signed in, answered 200 (a 401 would be a console error in the browser for
 * a page that only asks). clear: the cookie expired too. */
static void anonymous(srv_req *r, bool clear)
{
    if (clear)
        set_cookie(r, NULL);
    rd_buf_puts(r->out, "{\"user\":null}");
    r->status = 200;
}

/* Who r->who is; with token (a session's), its CSRF token and the idle time too. */
static void who_json(srv_req *r, const char *token)
{
    const rd_principal *p = &r->who;
    rd_buf *b = r->out;
    rd_buf_puts(b, "{\"user\":");
    rd_json_write_string(b, p->user, strlen(p->user));
    rd_buf_puts(b, ",\"role\":");
    const char *role = rd_role_name(p->role);
    rd_json_write_string(b, role, strlen(role));
    rd_buf_puts(b, ",\"permissions\":[");
    for (unsigned i = 0, n = 0; i < RD_PERM_COUNT; i++)
        if (p->perms & (1u << i))
            rd_buf_printf(b, "%s\"%s\"", n++ ? "," : "", rd_perm_name(1u << i));
    rd_buf_printf(b, "],\"session\":%s", token ? "true" : "false");
    if (p->expires_ms)
        rd_buf_printf(b, ",\"expires_ms\":%lld", (long long)p->expires_ms);
    else
        rd_buf_puts(b, ",\"expires_ms\":null");
    char csrf[RD_CSRF_MAX];
    if (token && rd_csrf_token(token, csrf) == RD_OK)
        rd_buf_printf(b, ",\"csrf_token\":\"%s\",\"idle_s\":%d", csrf, r->cfg->console_session_idle_s);
    rd_buf_putc(b, '}');
}

/* ------------------------------------------------------------------ the actions */

/* The parent token from the body {"token": "..."}; NULL with the 400 written. */
static const char *body_token(srv_req *r)
{
    rd_value v;
    rd_err err;
    if (!r->len) {
        srv_reply_error(r, 400, "INVALID_ARGUMENT", "token: required ({\"token\": \"rdk_...\"})");
        return NULL;
    }
    if (srv_req_json(r, &v, &err) < 0)
        return NULL;
    if (v.type != RD_VOBJECT) {
        srv_reply_error(r, 400, "INVALID_ARGUMENT", "the body must be a JSON object, not %s",
                        rd_vtype_name(v.type));
        return NULL;
    }
    const char *token = NULL;
    for (uint32_t i = 0; i < v.len; i++) {
        const rd_member *m = &v.u.members[i];
        if (strcmp(m->key, "token") != 0) {
            srv_reply_error(r, 400, "INVALID_ARGUMENT", "unknown member \"%.64s\" (this request takes token)",
                            m->key);
            return NULL;
        }
        if (m->val.type != RD_VSTRING || strlen(m->val.u.s) != m->val.len) {
            srv_reply_error(r, 400, "TYPE_MISMATCH", "token: expected a string");
            return NULL;
        }
        token = m->val.u.s;
    }
    if (!token)
        srv_reply_error(r, 400, "INVALID_ARGUMENT", "token: required ({\"token\": \"rdk_...\"})");
    return token;
}

/* POST: a session opened with the body's token, its cookie set. No CSRF token exists yet; the
 * origin check (with SameSite=Strict) keeps another site from signing the browser in. */
static void session_open(srv_req *r)
{
    if (cross_origin(r))
        return;
    const char *parent = body_token(r);
    srv_auth_fail f;
    if (!parent)
        return;
    if (srv_auth_limited(r, &f)) {
        reply_fail(r, &f);
        return;
    }
    rd_session_opts o = srv_session_opts(r->cfg);
    char token[RD_TOKEN_MAX];
    rd_err err;
    rd_store *s = srv_admin_lock();
    int rc = s ? rd_session_open(s, parent, rd_clock_unix_ms(), &o, token, &r->who, &err)
               : rd_err_set(&err, RD_EUNAVAILABLE, "the admin store is not open");
    /* the session this browser held (someone else's on a shared machine) ends with the new one's
       start, not at its idle time: best effort, the new session stands either way */
    const char *held = rc == RD_OK ? srv_session_cookie(r) : NULL;
    rd_err ignored;
    if (held && s)
        rd_session_close(s, held, rd_clock_unix_ms(), &ignored);
    srv_admin_unlock();
    if (rc == RD_EUNAUTH) {
        srv_auth_failed(r, err.msg, &f);
        reply_fail(r, &f);
        return;
    }
    if (rc) {
        if (rc == RD_EIO || rc == RD_EINTERNAL)
            srv_log(SRV_ERROR, "console sign-in: the store failed", "error", err.msg, NULL);
        srv_reply_error(r, rc == RD_ENOMEM ? 503 : rd_err_http_status(rc), rd_err_name(rc), "%s", err.msg);
        return;
    }
    r->authed = true;
    set_cookie(r, token);
    who_json(r, token);
    explicit_bzero(token, sizeof token);
    r->status = 201;
}

/* GET: who the session (or the bearer token) is; {"user":null} without a working session. */
static void session_show(srv_req *r)
{
    if (r->authorization) { /* a bearer caller: who it is (no session, no CSRF token) */
        if (!srv_auth_require(r, 0, true, "the admin API"))
            who_json(r, NULL);
        return;
    }
    const char *token = srv_session_cookie(r);
    if (!token) {
        anonymous(r, false);
        return;
    }
    if (cross_origin(r))
        return;
    srv_auth_fail f;
    if (srv_auth_session(r, token, &f)) {
        if (f.status == 401) /* over (idle, expired, revoked): the browser drops its cookie */
            anonymous(r, true);
        else
            reply_fail(r, &f);
        return;
    }
    who_json(r, token);
}

/* DELETE: the session revoked, its cookie expired. A change like any other: CSRF and origin. */
static void session_close(srv_req *r)
{
    if (r->authorization) {
        srv_reply_error(
            r, 400, "INVALID_ARGUMENT",
            "DELETE /v1/admin/session signs the console's cookie out; a bearer token has no session "
            "(revoke it with POST /v1/admin/tokens/{id}/revoke)");
        return;
    }
    const char *token = srv_session_cookie(r);
    if (!token) {
        anonymous(r, true);
        return;
    }
    srv_auth_fail f;
    if (srv_session_refused(r, token, true))
        return;
    /* anyone can compute the CSRF token of a token they guess: the guesses count as failures */
    if (srv_auth_limited(r, &f)) {
        reply_fail(r, &f);
        return;
    }
    rd_err err;
    rd_store *s = srv_admin_lock();
    int rc = s ? rd_session_close(s, token, rd_clock_unix_ms(), &err)
               : rd_err_set(&err, RD_EUNAVAILABLE, "the admin store is not open");
    srv_admin_unlock();
    if (rc == RD_EUNAUTH) {
        srv_auth_failed(r, err.msg, &f); /* counted; the answer is the same: signed out */
        rd_buf_reset(r->out);
    } else if (rc) {
        srv_reply_error(r, rc == RD_ENOMEM ? 503 : rd_err_http_status(rc), rd_err_name(rc), "%s", err.msg);
        return;
    }
    anonymous(r, true);
}

void srv_route_session(srv_req *r, rd_admin_action action)
{
    r->headers[1] = no_store; /* an answer holds a CSRF token, or sets the cookie */
    if (!r->cfg->console) {
        srv_reply_error(r, 404, "NOT_FOUND", "%s: the console is off (console = off)", r->path);
        return;
    }
    if (action == RD_ACT_SESSION_OPEN)
        session_open(r);
    else if (action == RD_ACT_SESSION_SHOW)
        session_show(r);
    else
        session_close(r);
}
