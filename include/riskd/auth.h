/* Who may do what (shared/DESIGN.md §6, docs/governance.md).
 *
 *   roles         viewer, engineer, manager, operator, admin, analyst: each a fixed set of
 *                 permissions (the role matrix, one table: rd_role_perms)
 *   admin actions every route of the admin API with the one permission it needs
 *                 (rd_admin_actions: the server routes from it, docs/api.md renders it, the
 *                 role x action test iterates it)
 *   users, tokens a token is "rdk_" + a 12-hex id + "_" + 43 base64url characters of a
 *                 256-bit random secret; the store keeps its SHA-256 only, so it is shown once.
 *                 A token carries its user's role and scopes of its own; it can expire and be
 *                 revoked. A token is never written to a log, an audit entry or an error.
 *   principal     an authenticated caller: the user, the role's permissions, the token's scopes
 *   limiter       failed authentications per source: rate limited, and audited aggregated per
 *                 source and minute (an unauthenticated caller cannot flood the audit chain)
 *   sessions      the web console's sign-in: a short-lived child token of a user's token (its
 *                 parent), held by the browser in an HttpOnly cookie, with a CSRF token derived
 *                 from it; it works only while its parent does, and only as that cookie
 *
 * Governance is on for a data directory once it has a user: from then on the library refuses
 * user, token and change-request operations without a principal, except the creation of the
 * first admin (made at the console: rd_user_add with no actor while no admin is active). */
#ifndef RISKD_AUTH_H
#define RISKD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/arena.h"
#include "riskd/err.h"
#include "riskd/hash.h"
#include "riskd/store.h"

/* ------------------------------------------------------------------ roles and permissions */

typedef enum rd_role {
    RD_ROLE_VIEWER = 0, /* view */
    RD_ROLE_ENGINEER,   /* view, propose */
    RD_ROLE_MANAGER,    /* view, propose, approve, publish, rollback, view_decisions, erase */
    RD_ROLE_OPERATOR,   /* view, publish, rollback */
    RD_ROLE_ADMIN,      /* users and tokens only */
    RD_ROLE_ANALYST,    /* view, view_decisions (reads applicants' inputs; changes nothing) */
    RD_ROLE_COUNT
} rd_role;

enum {
    RD_PERM_VIEW = 1u << 0,     /* flags, change requests, rollouts, audit, users' names */
    RD_PERM_PROPOSE = 1u << 1,  /* create, edit, submit, withdraw a change request */
    RD_PERM_APPROVE = 1u << 2,  /* approve or reject someone else's change request */
    RD_PERM_PUBLISH = 1u << 3,  /* apply an approved change to what serves */
    RD_PERM_ROLLBACK = 1u << 4, /* back to the previous published version; rollout pause, resume, rollback */
    RD_PERM_USERS = 1u << 5,    /* users, roles, tokens; the governance settings */
    RD_PERM_VIEW_DECISIONS = 1u << 6, /* applicants' inputs in the decision log (export, replay output) */
    RD_PERM_ERASE = 1u << 7,          /* erase one applicant's records (outside the retention floor) */
};
#define RD_PERM_COUNT 8

RD_API const char *rd_role_name(rd_role r);
RD_API int rd_role_parse(const char *name); /* -1: none ("did you mean" is the caller's) */
RD_API uint32_t rd_role_perms(rd_role r);
RD_API const char *rd_perm_name(uint32_t perm); /* one bit: "view", "propose", ...; 0: "none" */

/* Token scopes: what a token may be used for besides its role. */
enum {
    RD_SCOPE_ADMIN = 1u << 0,    /* the admin API and the governance CLI, with the role's permissions */
    RD_SCOPE_SCORE = 1u << 1,    /* /v1/score, /v1/score/batch, OFREP when auth_scoring = on */
    RD_SCOPE_OUTCOMES = 1u << 2, /* POST /v1/outcomes when auth is on */
    RD_SCOPE_PIN = 1u << 3,      /* "bundle" in a score request (bypasses routing): allow_pinning */
};
#define RD_SCOPES_DEFAULT RD_SCOPE_ADMIN
/* "admin,score" -> bits; RD_EINVAL naming the unknown scope. */
RD_API int rd_scopes_parse(const char *list, uint32_t *out, rd_err *err);
/* bits -> "admin,score" into buf (at least 64 bytes); returns buf. */
RD_API const char *rd_scopes_format(uint32_t scopes, char *buf, size_t cap);

/* ------------------------------------------------------------------ the admin actions */

typedef enum rd_admin_action {
    RD_ACT_USERS_LIST = 0,
    RD_ACT_USER_ADD,
    RD_ACT_USER_DISABLE,
    RD_ACT_TOKEN_ISSUE,
    RD_ACT_TOKEN_REVOKE,
    RD_ACT_SETTINGS_SET, /* required approvals per kind */
    RD_ACT_CHANGES_LIST,
    RD_ACT_CHANGE_SHOW,
    RD_ACT_CHANGE_PROPOSE,
    RD_ACT_CHANGE_EDIT,
    RD_ACT_CHANGE_SUBMIT,
    RD_ACT_CHANGE_WITHDRAW,
    RD_ACT_CHANGE_APPROVE,
    RD_ACT_CHANGE_REJECT,
    RD_ACT_CHANGE_PUBLISH,
    RD_ACT_VERSIONS_LIST,
    RD_ACT_ROLLBACK,
    RD_ACT_AUDIT_LIST,
    RD_ACT_AUDIT_VERIFY,
    RD_ACT_ROLLOUTS_STATUS,
    RD_ACT_ROLLOUT_PAUSE,
    RD_ACT_ROLLOUT_RESUME,
    RD_ACT_ROLLOUT_ROLLBACK,
    RD_ACT_DECISIONS_READ,
    RD_ACT_DECISIONS_ERASE,
    RD_ACT_DECISIONS_REPLAY,
    RD_ACT_FLAGS_SHOW,
    RD_ACT_BUNDLES_LIST,
    RD_ACT_NODE_SHOW,
    RD_ACT_ROLLOUT_TRANSITIONS,
    RD_ACT_ROLLOUT_PROMOTE,
    RD_ACT_MONITOR_SHOW,
    RD_ACT_SESSION_OPEN, /* the web console's sign-in: no permission (any user, for itself) */
    RD_ACT_SESSION_SHOW,
    RD_ACT_SESSION_CLOSE,
    RD_ACT_COUNT
} rd_admin_action;

typedef struct rd_admin_action_def {
    rd_admin_action action;
    const char *name;   /* "change.approve" */
    const char *method; /* "POST" */
    const char *path;   /* "/v1/admin/changes/{id}/approve" ({x}: one path segment) */
    uint32_t perm;      /* the one permission it needs; 0 for the session actions, which act on the
                           caller's own credentials and need none (every role may) */
    const char *what;   /* a short description, for the docs */
} rd_admin_action_def;

/* The table, in rd_admin_action order (n receives RD_ACT_COUNT). */
RD_API const rd_admin_action_def *rd_admin_actions(size_t *n);
RD_API bool rd_role_allows(rd_role r, rd_admin_action a);
/* The role x action matrix as the Markdown table docs/api.md holds (a test compares them). */
RD_API int rd_auth_matrix_markdown(rd_buf *out);

/* ------------------------------------------------------------------ principals */

#define RD_USER_MAX     64 /* a user name: [a-z0-9][a-z0-9._-]{0,62} */
#define RD_TOKEN_ID_MAX 16 /* the public id: 12 hex digits */
#define RD_TOKEN_MAX    72 /* "rdk_" + id + "_" + secret + NUL */

typedef struct rd_principal {
    char user[RD_USER_MAX];
    rd_role role;
    uint32_t perms;  /* rd_role_perms(role) */
    uint32_t scopes; /* the token's */
    char token_id[RD_TOKEN_ID_MAX];
    int64_t expires_ms; /* the token's expiry (0: never): a principal kept by a cache lapses with it */
    bool console;       /* the local console without a token: only for creating the first admin */
    bool session;       /* token_id is a web console session's (rd_session_open) */
} rd_principal;

/* "alice" (or "console") for audit entries and messages. */
RD_API const char *rd_principal_name(const rd_principal *p);
/* RD_EFORBIDDEN with "alice (engineer) may not approve: the role lacks the approve permission"
 * unless p has perm (and the admin scope). */
RD_API int rd_principal_require(const rd_principal *p, uint32_t perm, const char *doing, rd_err *err);

/* Check token against the store at now_ms: RD_EUNAUTH when it is malformed, unknown, revoked,
 * expired, its user is disabled, or it is a console session's ("session token: ...", which
 * works only through rd_session_authenticate) (the message says which, never the token); RD_EIO,
 * RD_ESTORE (the store is unreachable: nothing is known about the token). Marks the token's
 * last use (at most once a minute, rd_store_token_mark_used: no governance transaction, so it
 * never waits for one; a read-only, busy or unreachable store only loses the mark). The message
 * starts with the reason and a colon ("unknown token: ...", "expired: ..."):
 * rd_auth_limiter_fail's why. */
RD_API int rd_auth_authenticate(rd_store *s, const char *token, int64_t now_ms, rd_principal *out,
                                rd_err *err);
/* Read a token from a file (trailing white space dropped); RD_EIO, RD_EUNAUTH when empty. The
 * CLI's --token-file, or RISKD_TOKEN_FILE / RISKD_TOKEN. */
RD_API int rd_token_read_file(const char *path, char token[RD_TOKEN_MAX], rd_err *err);

/* ------------------------------------------------------------------ users and tokens */

typedef struct rd_user_info {
    char name[RD_USER_MAX];
    rd_role role;
    bool disabled;
    int64_t created_ms;
    char created_by[RD_USER_MAX];
    size_t active_tokens;   /* not revoked, not expired; console sessions not counted */
    size_t active_sessions; /* console sessions not revoked nor expired (idle ones included) */
} rd_user_info;

typedef struct rd_token_info {
    char id[RD_TOKEN_ID_MAX];
    char user[RD_USER_MAX];
    uint32_t scopes;
    int64_t created_ms, expires_ms, revoked_ms, last_used_ms; /* 0: never */
    char created_by[RD_USER_MAX];
    char parent[RD_TOKEN_ID_MAX]; /* a console session's: the token it was opened with; "" else */
} rd_token_info;

/* The change notification (rd_store_notify) sent, at commit, by a change that can make a token
 * stop working: a revocation, a user disabled or enabled, a role changed. A server that caches
 * tokens empties its cache on it, so the change holds on every node at once. */
#define RD_AUTH_NOTIFY "auth"

/* Whether the store has any user (governance is on). */
RD_API int rd_auth_enabled(rd_store *s, bool *on, rd_err *err);

/* Add user name with role and issue its first token (scopes, expiring at expires_ms, 0:
 * never) into token. actor NULL (or console): allowed only while no admin is active, and only
 * for an admin (the first admin, made at the console); else actor needs RD_PERM_USERS.
 * Audited ("user.add", "token.issue"). RD_EINVAL (bad name, exists), RD_EFORBIDDEN. */
RD_API int rd_user_add(rd_store *s, const rd_principal *actor, const char *name, rd_role role,
                       uint32_t scopes, int64_t expires_ms, int64_t now_ms, char token[RD_TOKEN_MAX],
                       rd_err *err);
/* Disable (or enable again) a user: its tokens stop working at once. Audited. An admin cannot
 * disable the last active admin. */
RD_API int rd_user_disable(rd_store *s, const rd_principal *actor, const char *name, bool disabled,
                           int64_t now_ms, rd_err *err);
/* Change a user's role. Audited. */
RD_API int rd_user_set_role(rd_store *s, const rd_principal *actor, const char *name, rd_role role,
                            int64_t now_ms, rd_err *err);
RD_API int rd_user_list(rd_store *s, int (*fn)(void *ud, const rd_user_info *u), void *ud, rd_err *err);
/* Issue another token for name (actor: RD_PERM_USERS). Audited with the token's id only. */
RD_API int rd_token_issue(rd_store *s, const rd_principal *actor, const char *name, uint32_t scopes,
                          int64_t expires_ms, int64_t now_ms, char token[RD_TOKEN_MAX], rd_err *err);
/* Revoke token id (actor: RD_PERM_USERS, or the token's own user). Audited. */
RD_API int rd_token_revoke(rd_store *s, const rd_principal *actor, const char *id, int64_t now_ms,
                           rd_err *err);
RD_API int rd_token_list(rd_store *s, const char *user, int (*fn)(void *ud, const rd_token_info *t), void *ud,
                         rd_err *err);

/* ------------------------------------------------------------------ web console sessions
 *
 * A session is a token row of its own (tokens.parent names the token it was opened with): the
 * same user, the admin scope alone, an expiry no later than its parent's. The browser holds it
 * in an HttpOnly cookie; the server accepts it only on the admin API, only as that cookie, and
 * for a change only with the CSRF token derived from it (rd_csrf_check). It works while its
 * parent works (revoking the parent, or disabling the user, ends every session opened with it)
 * and while it is used (an idle time, measured from its last-use mark, which is kept to the
 * minute). A role changed meanwhile applies at the session's next request. */

#define RD_SESSION_MAX_MS_DEFAULT  (12LL * 3600 * 1000) /* console_session_max_s 43200 */
#define RD_SESSION_IDLE_MS_DEFAULT (30LL * 60 * 1000)   /* console_session_idle_s 1800 */

typedef struct rd_session_opts {
    int64_t max_age_ms; /* the longest a session lives (0: RD_SESSION_MAX_MS_DEFAULT) */
    int64_t idle_ms;    /* unused this long, it ends (0: RD_SESSION_IDLE_MS_DEFAULT) */
} rd_session_opts;

/* Open a session with parent_token at now_ms: the parent must authenticate (rd_auth_authenticate:
 * RD_EUNAUTH saying why, never the token) and carry the admin scope (RD_EFORBIDDEN); any role
 * may open one for itself. A new token for the parent's user, with the admin scope alone,
 * expiring at the earlier of the parent's expiry and now + max_age, goes to token (the cookie's
 * value); who receives the session's principal (its token_id, expires_ms; session true). Audited
 * "session.open" with both tokens' ids (object token/<session id>), in one transaction with the
 * row. o may be NULL (the defaults). RD_EIO, RD_ESTORE from the store. */
RD_API int rd_session_open(rd_store *s, const char *parent_token, int64_t now_ms, const rd_session_opts *o,
                           char token[RD_TOKEN_MAX], rd_principal *who, rd_err *err);
/* Check a session's token (the cookie's value) at now_ms: as rd_auth_authenticate, and besides
 * it must be a session's ("not a session: ..."), its parent must still work ("revoked: ...",
 * "expired: ..."; the parent's user is the session's, so a disabled user is refused as such),
 * and it must have been used within o->idle_ms ("expired: ... idle ..."). Each refusal is
 * RD_EUNAUTH with its reason before a colon (rd_auth_limiter_fail's why). Marks the session
 * used (at most once a minute). o may be NULL. */
RD_API int rd_session_authenticate(rd_store *s, const char *token, int64_t now_ms, const rd_session_opts *o,
                                   rd_principal *out, rd_err *err);
/* Close the session whose token is token (its secret proves the caller holds it): revoked and
 * audited "session.close" (actor: its user) at now_ms, other nodes told (RD_AUTH_NOTIFY).
 * RD_OK when it is closed now or was over already (revoked, expired); RD_EUNAUTH when token is
 * malformed, unknown, has another secret or is no session's. */
RD_API int rd_session_close(rd_store *s, const char *token, int64_t now_ms, rd_err *err);

/* The CSRF token of a session: 64 hex digits of HMAC-SHA256 keyed by the session token's secret
 * over a fixed label, so it is bound to the session, needs nothing stored, and tells nothing of
 * the secret. RD_EINVAL when session_token has not a token's shape. Pure; thread-safe. */
#define RD_CSRF_MAX 65
RD_API int rd_csrf_token(const char *session_token, char out[RD_CSRF_MAX]);
/* Whether candidate (a request's X-CSRF-Token; NULL or "" is not) is session_token's CSRF token,
 * compared in time that does not depend on where they differ. */
RD_API bool rd_csrf_check(const char *session_token, const char *candidate);

/* ------------------------------------------------------------------ failed authentications */

typedef struct rd_auth_limiter rd_auth_limiter;

/* At most max_failures failed authentications per source a minute; then refused without a
 * check until the minute ends (0: never refused, only counted). At most 4096 sources are
 * tracked at once; failures from more are counted under the source "other", not limited. */
RD_API rd_auth_limiter *rd_auth_limiter_new(unsigned max_failures);
RD_API void rd_auth_limiter_free(rd_auth_limiter *l);
/* Whether source ("127.0.0.1") may try now; a refusal is counted here. Thread-safe. */
RD_API bool rd_auth_limiter_allow(rd_auth_limiter *l, const char *source, int64_t now_ms);
/* A failure from source (why: "unknown token", "expired", ...; only the part before a colon is
 * kept, so rd_auth_authenticate's message can be passed as it is). Thread-safe. */
RD_API void rd_auth_limiter_fail(rd_auth_limiter *l, const char *source, const char *why, int64_t now_ms);
/* Write one audit entry ("auth.failed", object = source, detail {minute, failures, refused,
 * reasons}) per source for each minute that has ended before now_ms, and forget them. */
RD_API int rd_auth_limiter_flush(rd_auth_limiter *l, rd_store *s, int64_t now_ms, rd_err *err);

#endif
