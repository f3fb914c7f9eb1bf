/* Web console sessions: a short-lived child token of a user's token, and its CSRF token.
 *
 * Invariants: a session is a token row like any other (so revocation, expiry, the user's
 * disabling, the last-use mark and the store's notifications apply to it unchanged) whose
 * parent column names the token it was opened with; it holds the admin scope alone and never
 * outlives its parent. It works only through rd_session_authenticate, which also requires the
 * parent to work and the session to have been used within the idle time; rd_auth_authenticate
 * refuses it, so a session's token is no bearer token. No secret reaches an audit entry or an
 * error: both name tokens by their ids. The CSRF token is recomputed from the session's token
 * on each request (an HMAC keyed by its secret), so nothing about it is stored. */
#include <nettle/hmac.h>
#include <stdio.h>
#include <string.h>

#include "auth_int.h"
#include "riskd/audit.h"

#define CSRF_LABEL "riskd-csrf-v1"

static int64_t max_age_of(const rd_session_opts *o)
{
    return o && o->max_age_ms > 0 ? o->max_age_ms : RD_SESSION_MAX_MS_DEFAULT;
}

static int64_t idle_of(const rd_session_opts *o)
{
    return o && o->idle_ms > 0 ? o->idle_ms : RD_SESSION_IDLE_MS_DEFAULT;
}

/* ------------------------------------------------------------------ opening */

/* The session's row and its session.open entry, in the caller's transaction. */
static int open_in_tx(rd_store *s, const rd_principal *parent, int64_t now_ms, int64_t expires_ms,
                      char fresh[RD_TOKEN_MAX], rd_token_row *t, rd_err *err)
{
    *t = (rd_token_row){.scopes = RD_SCOPE_ADMIN, .created_ms = now_ms, .expires_ms = expires_ms};
    snprintf(t->user, sizeof t->user, "%s", parent->user);
    snprintf(t->created_by, sizeof t->created_by, "%s", parent->user);
    snprintf(t->parent, sizeof t->parent, "%s", parent->token_id);
    int rc = rd__auth_token_insert(s, t, fresh, err);
    if (rc)
        return rc;
    char object[32], when[40];
    snprintf(object, sizeof object, "token/%s", t->id);
    rd__auth_time(expires_ms, when, sizeof when);
    rd_buf d;
    rd_buf_init(&d);
    rd__auth_json_member(&d, "user", parent->user);
    rd__auth_json_member(&d, "parent", parent->token_id);
    rd__auth_json_member(&d, "expires", when);
    rc = rd__auth_audit(s, parent, "session.open", object, &d, now_ms, err);
    rd_buf_deinit(&d);
    return rc;
}

int rd_session_open(rd_store *s, const char *parent_token, int64_t now_ms, const rd_session_opts *o,
                    char token[RD_TOKEN_MAX], rd_principal *who, rd_err *err)
{
    rd_principal p;
    int rc = rd_auth_authenticate(s, parent_token, now_ms, &p, err);
    if (rc)
        return rc;
    if (!(p.scopes & RD_SCOPE_ADMIN)) {
        char have[64];
        return rd_err_set(err, RD_EFORBIDDEN,
                          "%s may not open a console session with token %s: the token lacks the admin scope"
                          " (it has: %s)",
                          p.user, p.token_id, rd_scopes_format(p.scopes, have, sizeof have));
    }
    /* never longer than the parent: revoking or letting the parent lapse is the way to end access */
    int64_t expires_ms = now_ms + max_age_of(o);
    if (p.expires_ms && p.expires_ms < expires_ms)
        expires_ms = p.expires_ms;
    if ((rc = rd_store_begin(s, err)))
        return rc;
    char fresh[RD_TOKEN_MAX];
    rd_token_row t;
    rc = rd__auth_finish(s, open_in_tx(s, &p, now_ms, expires_ms, fresh, &t, err), err);
    if (rc == RD_OK) {
        memcpy(token, fresh, RD_TOKEN_MAX);
        *who = p;
        who->scopes = RD_SCOPE_ADMIN;
        snprintf(who->token_id, sizeof who->token_id, "%s", t.id);
        who->expires_ms = expires_ms;
        who->session = true;
    }
    explicit_bzero(fresh, sizeof fresh);
    return rc;
}

/* ------------------------------------------------------------------ authenticating */

/* The parent of session t must still work: there, not revoked, not expired (its user is the
 * session's, checked already). Its secret is not at hand and need not be: the session's own
 * secret was checked. */
static int parent_works(rd_store *s, const rd_token_row *t, int64_t now_ms, rd_err *err)
{
    rd_token_row p;
    int rc = rd_store_token_get(s, t->parent, &p, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_EUNAUTH,
                          "unknown token: session %s was opened with token %s, which is gone", t->id,
                          t->parent);
    if (rc)
        return rc;
    char when[40];
    if (p.revoked_ms) {
        rd__auth_time(p.revoked_ms, when, sizeof when);
        return rd_err_set(err, RD_EUNAUTH,
                          "revoked: session %s ended: token %s it was opened with was revoked at %s", t->id,
                          p.id, when);
    }
    if (p.expires_ms && p.expires_ms <= now_ms) {
        rd__auth_time(p.expires_ms, when, sizeof when);
        return rd_err_set(err, RD_EUNAUTH,
                          "expired: session %s ended: token %s it was opened with expired at %s", t->id, p.id,
                          when);
    }
    return RD_OK;
}

int rd_session_authenticate(rd_store *s, const char *token, int64_t now_ms, const rd_session_opts *o,
                            rd_principal *out, rd_err *err)
{
    rd_token_row t;
    rd_principal p;
    int rc = rd__auth_check_token(s, token, now_ms, &t, &p, err);
    if (rc)
        return rc;
    if (!t.parent[0])
        return rd_err_set(
            err, RD_EUNAUTH,
            "not a session: token %s is no console session's (POST /v1/admin/session opens one)", t.id);
    if ((rc = parent_works(s, &t, now_ms, err)))
        return rc;
    /* the mark is kept to the minute (rd__auth_mark_used), so idle means idle for that much more */
    int64_t last = t.last_used_ms > t.created_ms ? t.last_used_ms : t.created_ms;
    if (now_ms - last > idle_of(o)) {
        char when[40];
        rd__auth_time(last, when, sizeof when);
        return rd_err_set(err, RD_EUNAUTH, "expired: session %s was idle for more than %lld s (last used %s)",
                          t.id, (long long)(idle_of(o) / 1000), when);
    }
    rd__auth_mark_used(s, &t, now_ms);
    *out = p;
    return RD_OK;
}

/* ------------------------------------------------------------------ closing */

static int close_in_tx(rd_store *s, const char *token, int64_t now_ms, rd_err *err)
{
    char id[RD_TOKEN_ID_MAX];
    if (!rd__auth_token_parse(token, id))
        return rd_err_set(err, RD_EUNAUTH, "malformed token: not a console session's token");
    rd_token_row t;
    int rc = rd_store_token_get(s, id, &t, err);
    if (rc == RD_ENOTFOUND)
        return rd_err_set(err, RD_EUNAUTH, "unknown token: no session has id %s", id);
    if (rc)
        return rc;
    char hash[RD_SHA256_HEX];
    rd_sha256_hex(token, strlen(token), hash);
    if (!rd__auth_hash_equal(hash, t.hash))
        return rd_err_set(err, RD_EUNAUTH, "wrong secret: the token with id %s has another secret", t.id);
    if (!t.parent[0])
        return rd_err_set(
            err, RD_EUNAUTH,
            "not a session: token %s is no console session's (revoke a token with token.revoke)", t.id);
    if (t.revoked_ms || (t.expires_ms && t.expires_ms <= now_ms))
        return RD_OK; /* over already: nothing changes, nothing to audit */
    t.revoked_ms = now_ms;
    if ((rc = rd_store_token_put(s, &t, err)) || (rc = rd_store_notify(s, RD_AUTH_NOTIFY, err)))
        return rc;
    rd_principal actor = {.role = RD_ROLE_VIEWER};
    snprintf(actor.user, sizeof actor.user, "%s", t.user);
    char object[32];
    snprintf(object, sizeof object, "token/%s", t.id);
    rd_buf d;
    rd_buf_init(&d);
    rd__auth_json_member(&d, "user", t.user);
    rd__auth_json_member(&d, "parent", t.parent);
    rc = rd__auth_audit(s, &actor, "session.close", object, &d, now_ms, err);
    rd_buf_deinit(&d);
    return rc;
}

int rd_session_close(rd_store *s, const char *token, int64_t now_ms, rd_err *err)
{
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    return rd__auth_finish(s, close_in_tx(s, token, now_ms, err), err);
}

/* ------------------------------------------------------------------ CSRF */

int rd_csrf_token(const char *session_token, char out[RD_CSRF_MAX])
{
    char id[RD_TOKEN_ID_MAX];
    if (!rd__auth_token_parse(session_token, id))
        return RD_EINVAL;
    /* keyed by the secret alone (what follows "rdk_<id>_"): the id is public */
    const char *secret = session_token + 5 + RD__TOKEN_ID_HEX;
    struct hmac_sha256_ctx c;
    hmac_sha256_set_key(&c, RD__TOKEN_SECRET_LEN, (const uint8_t *)secret);
    hmac_sha256_update(&c, sizeof CSRF_LABEL - 1, (const uint8_t *)CSRF_LABEL);
    uint8_t mac[SHA256_DIGEST_SIZE];
    hmac_sha256_digest(&c, sizeof mac, mac);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof mac; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15u];
    }
    out[2 * sizeof mac] = '\0';
    explicit_bzero(&c, sizeof c); /* it holds the key, derived from the secret */
    explicit_bzero(mac, sizeof mac);
    return RD_OK;
}

bool rd_csrf_check(const char *session_token, const char *candidate)
{
    char want[RD_CSRF_MAX];
    if (!candidate || strnlen(candidate, RD_CSRF_MAX) != RD_CSRF_MAX - 1 ||
        rd_csrf_token(session_token, want))
        return false;
    /* every byte compared whatever came before: the time taken tells nothing of a guess */
    unsigned char diff = 0;
    for (size_t i = 0; i < RD_CSRF_MAX - 1; i++)
        diff |= (unsigned char)(want[i] ^ candidate[i]);
    explicit_bzero(want, sizeof want);
    return diff == 0;
}
