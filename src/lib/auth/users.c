/* Users and tokens: who may add, disable, re-role and issue, each change audited.
 *
 * Invariants: every change is made inside one store transaction together with its audit
 * entries, so a change without its entry (or an entry without its change) never commits; a
 * new token reaches the caller's buffer only once that transaction has committed; the store
 * always keeps at least one active admin once it has had one (disabling or re-roling the last
 * is refused), so users can always be managed without going back to the console; a change that
 * can stop a token working notifies every node (RD_AUTH_NOTIFY) in that same transaction. */
#include <stdio.h>
#include <string.h>

#include "auth_int.h"
#include "riskd/audit.h"
#include "riskd/clock.h"

#define ID_TRIES 4 /* fresh ids drawn before giving up (a clash of 48 random bits is already rare) */

/* ------------------------------------------------------------------ helpers */

int rd__auth_audit(rd_store *s, const rd_principal *actor, const char *action, const char *object,
                   rd_buf *detail, int64_t now_ms, rd_err *err)
{
    rd_buf_putc(detail, '}');
    if (detail->oom)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    rd_audit_entry e = {
        .ts_ms = now_ms,
        .actor = rd_principal_name(actor),
        .action = action,
        .object = object,
        .detail_json = rd_buf_cstr(detail),
    };
    return rd_audit_append(s, &e, NULL, err);
}

int rd__auth_finish(rd_store *s, int rc, rd_err *err)
{
    if (rc == RD_OK)
        return rd_store_commit(s, err);
    rd_store_rollback(s);
    return rc;
}

typedef struct admins {
    const char *except; /* not counted (the user about to stop being an active admin) */
    size_t n;
} admins;

static int count_admin(void *ud, const rd_user_row *u)
{
    admins *a = ud;
    if (!u->disabled && !strcmp(u->role, "admin") && (!a->except || strcmp(u->name, a->except) != 0))
        a->n++;
    return 0;
}

static int active_admins(rd_store *s, const char *except, size_t *n, rd_err *err)
{
    admins a = {.except = except};
    int rc = rd_store_user_list(s, count_admin, &a, err);
    *n = a.n;
    return rc;
}

static int check_name(const char *name, rd_err *err)
{
    if (rd__auth_user_name_ok(name))
        return RD_OK;
    return rd_err_set(
        err, RD_EINVAL,
        "user name \"%.64s\": must be 1 to 63 of a-z, 0-9, '.', '_', '-' starting with a letter or"
        " digit, and not console, anonymous or controller",
        name ? name : "");
}

static int check_token_args(uint32_t scopes, int64_t expires_ms, int64_t now_ms, rd_err *err)
{
    if (!scopes || (scopes & ~(uint32_t)(RD_SCOPE_ADMIN | RD_SCOPE_SCORE | RD_SCOPE_OUTCOMES | RD_SCOPE_PIN)))
        return rd_err_set(err, RD_EINVAL,
                          "a token needs one or more of the scopes admin, score, outcomes, pin");
    if (expires_ms && expires_ms <= now_ms) {
        char when[40];
        rd__auth_time(expires_ms, when, sizeof when);
        return rd_err_set(err, RD_EINVAL, "the expiry %s is not in the future", when);
    }
    return RD_OK;
}

/* Whether making name stop being an active admin would leave none: RD_EFORBIDDEN then. */
static int keep_an_admin(rd_store *s, const rd_user_row *u, rd_err *err)
{
    if (u->disabled || strcmp(u->role, "admin") != 0)
        return RD_OK;
    size_t others;
    int rc = active_admins(s, u->name, &others, err);
    if (rc || others)
        return rc;
    return rd_err_set(err, RD_EFORBIDDEN,
                      "%s is the last active admin: add or enable another admin first, or nobody could manage"
                      " users",
                      u->name);
}

int rd__auth_token_insert(rd_store *s, rd_token_row *t, char fresh[RD_TOKEN_MAX], rd_err *err)
{
    int rc = RD_ENOTFOUND;
    for (int i = 0; i < ID_TRIES && rc != RD_OK; i++) {
        if ((rc = rd__auth_token_new(fresh, t->id, err)))
            return rc;
        rd_token_row other;
        rc = rd_store_token_get(s, t->id, &other, err);
        if (rc == RD_OK)
            rc = RD_ECONFLICT; /* that id is taken: draw again */
        else if (rc == RD_ENOTFOUND)
            rc = RD_OK;
        else
            return rc;
    }
    if (rc)
        return rd_err_set(err, RD_EINTERNAL, "no free token id after %d random draws", ID_TRIES);
    rd_sha256_hex(fresh, strlen(fresh), t->hash);
    return rd_store_token_put(s, t, err);
}

/* Make a token for user and record it (row and audit entry) in the caller's transaction;
 * the token text goes to fresh only. */
static int issue(rd_store *s, const rd_principal *actor, const char *user, uint32_t scopes,
                 int64_t expires_ms, int64_t now_ms, char fresh[RD_TOKEN_MAX], rd_err *err)
{
    rd_token_row t = {.scopes = scopes, .created_ms = now_ms, .expires_ms = expires_ms};
    snprintf(t.user, sizeof t.user, "%s", user);
    snprintf(t.created_by, sizeof t.created_by, "%s", rd_principal_name(actor));
    int rc = rd__auth_token_insert(s, &t, fresh, err);
    if (rc)
        return rc;
    char object[32], scope_text[64], when[40];
    snprintf(object, sizeof object, "token/%s", t.id);
    rd_buf d;
    rd_buf_init(&d);
    rd__auth_json_member(&d, "user", user);
    rd__auth_json_member(&d, "scopes", rd_scopes_format(scopes, scope_text, sizeof scope_text));
    if (expires_ms) {
        rd__auth_time(expires_ms, when, sizeof when);
        rd__auth_json_member(&d, "expires", when);
    } else {
        rd_buf_puts(&d, ",\"expires\":null");
    }
    rc = rd__auth_audit(s, actor, "token.issue", object, &d, now_ms, err);
    rd_buf_deinit(&d);
    return rc;
}

/* Hand a committed token to the caller, leaving no other copy on the stack. */
static void hand_over(int rc, char fresh[RD_TOKEN_MAX], char token[RD_TOKEN_MAX])
{
    if (rc == RD_OK)
        memcpy(token, fresh, RD_TOKEN_MAX);
    explicit_bzero(fresh, RD_TOKEN_MAX);
}

/* ------------------------------------------------------------------ users */

static int count_any(void *ud, const rd_user_row *u)
{
    (void)u;
    ++*(size_t *)ud;
    return 1; /* one is enough */
}

int rd_auth_enabled(rd_store *s, bool *on, rd_err *err)
{
    size_t n = 0;
    int rc = rd_store_user_list(s, count_any, &n, err);
    if (rc < 0)
        return rc;
    *on = n > 0;
    return RD_OK;
}

/* Who may add name with role: the console only for the first admin, else a user manager. */
static int may_add(rd_store *s, const rd_principal *actor, rd_role role, rd_err *err)
{
    if (actor && !actor->console)
        return rd_principal_require(actor, RD_PERM_USERS, "add users", err);
    size_t n;
    int rc = active_admins(s, NULL, &n, err);
    if (rc)
        return rc;
    if (n)
        return rd_err_set(err, RD_EFORBIDDEN,
                          "an admin exists, so users are added with an admin's token (the CLI's --token-file,"
                          " RISKD_TOKEN_FILE or RISKD_TOKEN; the admin API)");
    if (role != RD_ROLE_ADMIN)
        return rd_err_set(err, RD_EFORBIDDEN,
                          "the first user must be an admin (role admin), made at the console; that admin then"
                          " adds the others with its token");
    return RD_OK;
}

static int add_in_tx(rd_store *s, const rd_principal *actor, const char *name, rd_role role, uint32_t scopes,
                     int64_t expires_ms, int64_t now_ms, char fresh[RD_TOKEN_MAX], rd_err *err)
{
    int rc = may_add(s, actor, role, err);
    if (rc)
        return rc;
    rd_user_row u;
    rc = rd_store_user_get(s, name, &u, err);
    if (rc == RD_OK)
        return rd_err_set(err, RD_EINVAL, "user %s exists", name);
    if (rc != RD_ENOTFOUND)
        return rc;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.role, sizeof u.role, "%s", rd_role_name(role));
    u.created_ms = now_ms;
    snprintf(u.created_by, sizeof u.created_by, "%s", rd_principal_name(actor));
    if ((rc = rd_store_user_put(s, &u, err)))
        return rc;
    char object[80];
    snprintf(object, sizeof object, "user/%s", name);
    rd_buf d;
    rd_buf_init(&d);
    rd__auth_json_member(&d, "role", rd_role_name(role));
    rd__auth_json_member(&d, "by", rd_principal_name(actor));
    rc = rd__auth_audit(s, actor, "user.add", object, &d, now_ms, err);
    rd_buf_deinit(&d);
    return rc ? rc : issue(s, actor, name, scopes, expires_ms, now_ms, fresh, err);
}

int rd_user_add(rd_store *s, const rd_principal *actor, const char *name, rd_role role, uint32_t scopes,
                int64_t expires_ms, int64_t now_ms, char token[RD_TOKEN_MAX], rd_err *err)
{
    int rc = check_name(name, err);
    if (rc)
        return rc;
    if ((unsigned)role >= RD_ROLE_COUNT)
        return rd_err_set(err, RD_EINVAL, "unknown role %d", (int)role);
    if ((rc = check_token_args(scopes, expires_ms, now_ms, err)) || (rc = rd_store_begin(s, err)))
        return rc;
    char fresh[RD_TOKEN_MAX];
    rc = add_in_tx(s, actor, name, role, scopes, expires_ms, now_ms, fresh, err);
    rc = rd__auth_finish(s, rc, err);
    hand_over(rc, fresh, token);
    return rc;
}

/* Read name for a change by actor holding RD_PERM_USERS, in the caller's transaction. */
static int user_for_change(rd_store *s, const rd_principal *actor, const char *name, const char *doing,
                           rd_user_row *u, rd_err *err)
{
    int rc = rd_principal_require(actor, RD_PERM_USERS, doing, err);
    if (rc)
        return rc;
    return rd_store_user_get(s, name, u, err);
}

static int user_audit(rd_store *s, const rd_principal *actor, const char *action, const rd_user_row *u,
                      const char *from_role, int64_t now_ms, rd_err *err)
{
    /* every caller changes what the user's tokens may do: other nodes' caches forget them at commit */
    int rc = rd_store_notify(s, RD_AUTH_NOTIFY, err);
    if (rc)
        return rc;
    char object[80];
    snprintf(object, sizeof object, "user/%s", u->name);
    rd_buf d;
    rd_buf_init(&d);
    if (from_role) {
        rd__auth_json_member(&d, "from", from_role);
        rd__auth_json_member(&d, "to", u->role);
    }
    rd__auth_json_member(&d, "by", rd_principal_name(actor));
    rc = rd__auth_audit(s, actor, action, object, &d, now_ms, err);
    rd_buf_deinit(&d);
    return rc;
}

static int disable_in_tx(rd_store *s, const rd_principal *actor, const char *name, bool disabled,
                         int64_t now_ms, rd_err *err)
{
    rd_user_row u;
    int rc = user_for_change(s, actor, name, disabled ? "disable users" : "enable users", &u, err);
    if (rc || u.disabled == disabled)
        return rc; /* already so: nothing changes, nothing to audit */
    if (disabled && (rc = keep_an_admin(s, &u, err)))
        return rc;
    u.disabled = disabled;
    if ((rc = rd_store_user_put(s, &u, err)))
        return rc;
    return user_audit(s, actor, disabled ? "user.disable" : "user.enable", &u, NULL, now_ms, err);
}

int rd_user_disable(rd_store *s, const rd_principal *actor, const char *name, bool disabled, int64_t now_ms,
                    rd_err *err)
{
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    return rd__auth_finish(s, disable_in_tx(s, actor, name, disabled, now_ms, err), err);
}

static int role_in_tx(rd_store *s, const rd_principal *actor, const char *name, rd_role role, int64_t now_ms,
                      rd_err *err)
{
    rd_user_row u;
    int rc = user_for_change(s, actor, name, "change roles", &u, err);
    if (rc || !strcmp(u.role, rd_role_name(role)))
        return rc;
    if (role != RD_ROLE_ADMIN && (rc = keep_an_admin(s, &u, err)))
        return rc;
    char from[sizeof u.role];
    memcpy(from, u.role, sizeof from);
    snprintf(u.role, sizeof u.role, "%s", rd_role_name(role));
    if ((rc = rd_store_user_put(s, &u, err)))
        return rc;
    return user_audit(s, actor, "user.role", &u, from, now_ms, err);
}

int rd_user_set_role(rd_store *s, const rd_principal *actor, const char *name, rd_role role, int64_t now_ms,
                     rd_err *err)
{
    if ((unsigned)role >= RD_ROLE_COUNT)
        return rd_err_set(err, RD_EINVAL, "unknown role %d", (int)role);
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    return rd__auth_finish(s, role_in_tx(s, actor, name, role, now_ms, err), err);
}

/* ------------------------------------------------------------------ listing */

typedef struct user_vec {
    rd_user_row *v;
    size_t n, cap;
} user_vec;

static int collect_user(void *ud, const rd_user_row *u)
{
    user_vec *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        rd_user_row *v = rd_realloc(l->v, cap * sizeof *v);
        if (!v)
            return RD_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *u;
    return 0;
}

typedef struct active {
    int64_t now_ms;
    size_t n, sessions;
} active;

/* Tokens and console sessions apart: a user who signs in to the console every day would
 * otherwise seem to hold a dozen tokens. A session past its idle time still counts here (the
 * idle time is the server's setting); it ends at its next use or its expiry. */
static int count_active(void *ud, const rd_token_row *t)
{
    active *a = ud;
    if (!t->revoked_ms && (!t->expires_ms || t->expires_ms > a->now_ms)) {
        if (t->parent[0])
            a->sessions++;
        else
            a->n++;
    }
    return 0;
}

int rd_user_list(rd_store *s, int (*fn)(void *ud, const rd_user_info *u), void *ud, rd_err *err)
{
    /* the users are read first and their tokens counted after, so no scan is open while fn runs */
    user_vec l = {0};
    int rc = rd_store_user_list(s, collect_user, &l, err);
    if (rc == RD_ENOMEM)
        rd_err_set(err, RD_ENOMEM, "out of memory");
    int64_t now_ms = rd_clock_unix_ms();
    for (size_t i = 0; i < l.n && !rc; i++) {
        active a = {.now_ms = now_ms};
        if ((rc = rd_store_token_list(s, l.v[i].name, count_active, &a, err)))
            break;
        rd_user_info info = {.disabled = l.v[i].disabled,
                             .created_ms = l.v[i].created_ms,
                             .active_tokens = a.n,
                             .active_sessions = a.sessions};
        snprintf(info.name, sizeof info.name, "%s", l.v[i].name);
        snprintf(info.created_by, sizeof info.created_by, "%s", l.v[i].created_by);
        int role = rd_role_parse(l.v[i].role);
        info.role = role < 0 ? RD_ROLE_VIEWER : (rd_role)role; /* the store only holds known roles */
        rc = fn(ud, &info);
    }
    rd_free(l.v);
    return rc;
}

typedef struct token_cb {
    int (*fn)(void *ud, const rd_token_info *t);
    void *ud;
} token_cb;

static int token_row_to_info(void *ud, const rd_token_row *t)
{
    token_cb *cb = ud;
    rd_token_info info = {
        .scopes = t->scopes,
        .created_ms = t->created_ms,
        .expires_ms = t->expires_ms,
        .revoked_ms = t->revoked_ms,
        .last_used_ms = t->last_used_ms,
    };
    snprintf(info.id, sizeof info.id, "%s", t->id);
    snprintf(info.user, sizeof info.user, "%s", t->user);
    snprintf(info.created_by, sizeof info.created_by, "%s", t->created_by);
    snprintf(info.parent, sizeof info.parent, "%s", t->parent);
    return cb->fn(cb->ud, &info);
}

int rd_token_list(rd_store *s, const char *user, int (*fn)(void *ud, const rd_token_info *t), void *ud,
                  rd_err *err)
{
    token_cb cb = {fn, ud};
    return rd_store_token_list(s, user, token_row_to_info, &cb, err);
}

/* ------------------------------------------------------------------ tokens */

static int issue_in_tx(rd_store *s, const rd_principal *actor, const char *name, uint32_t scopes,
                       int64_t expires_ms, int64_t now_ms, char fresh[RD_TOKEN_MAX], rd_err *err)
{
    rd_user_row u;
    int rc = user_for_change(s, actor, name, "issue tokens", &u, err);
    if (rc)
        return rc;
    if (u.disabled)
        return rd_err_set(err, RD_EINVAL, "%s is disabled: enable the user before issuing it a token", name);
    return issue(s, actor, name, scopes, expires_ms, now_ms, fresh, err);
}

int rd_token_issue(rd_store *s, const rd_principal *actor, const char *name, uint32_t scopes,
                   int64_t expires_ms, int64_t now_ms, char token[RD_TOKEN_MAX], rd_err *err)
{
    int rc = check_token_args(scopes, expires_ms, now_ms, err);
    if (rc || (rc = rd_store_begin(s, err)))
        return rc;
    char fresh[RD_TOKEN_MAX];
    rc = issue_in_tx(s, actor, name, scopes, expires_ms, now_ms, fresh, err);
    rc = rd__auth_finish(s, rc, err);
    hand_over(rc, fresh, token);
    return rc;
}

static int revoke_in_tx(rd_store *s, const rd_principal *actor, const char *id, int64_t now_ms, rd_err *err)
{
    rd_token_row t;
    int rc = rd_store_token_get(s, id, &t, err);
    if (rc)
        return rc;
    /* anyone may revoke their own token, with whatever scopes it has: giving up access is safe */
    bool own = actor && !actor->console && !strcmp(actor->user, t.user);
    if (!own && (rc = rd_principal_require(actor, RD_PERM_USERS, "revoke other users' tokens", err)))
        return rc;
    if (t.revoked_ms)
        return RD_OK; /* already revoked: nothing changes */
    t.revoked_ms = now_ms;
    if ((rc = rd_store_token_put(s, &t, err)) || (rc = rd_store_notify(s, RD_AUTH_NOTIFY, err)))
        return rc; /* the notification: other nodes' caches forget the token at commit */
    char object[32];
    snprintf(object, sizeof object, "token/%s", t.id);
    rd_buf d;
    rd_buf_init(&d);
    rd__auth_json_member(&d, "user", t.user);
    rd__auth_json_member(&d, "by", rd_principal_name(actor));
    rc = rd__auth_audit(s, actor, "token.revoke", object, &d, now_ms, err);
    rd_buf_deinit(&d);
    return rc;
}

int rd_token_revoke(rd_store *s, const rd_principal *actor, const char *id, int64_t now_ms, rd_err *err)
{
    if (!actor || actor->console)
        return rd_principal_require(actor, RD_PERM_USERS, "revoke tokens", err);
    int rc = rd_store_begin(s, err);
    if (rc)
        return rc;
    return rd__auth_finish(s, revoke_in_tx(s, actor, id, now_ms, err), err);
}
