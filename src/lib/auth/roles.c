/* Roles, permissions, scopes and the admin actions: the tables every check reads.
 *
 * Invariants: rd_role_perms is the only place a role's permissions are written down, and
 * rd_admin_actions the only place an admin route's permission is; rd_role_allows, the server's
 * router, docs/api.md (through rd_auth_matrix_markdown, compared by a test) and the role x
 * action test all read them, so the documentation cannot drift from what is enforced. */
#include <stdio.h>
#include <string.h>

#include "auth_int.h"

/* ------------------------------------------------------------------ roles and permissions */

static const char *const role_names[RD_ROLE_COUNT] = {
    [RD_ROLE_VIEWER] = "viewer",     [RD_ROLE_ENGINEER] = "engineer", [RD_ROLE_MANAGER] = "manager",
    [RD_ROLE_OPERATOR] = "operator", [RD_ROLE_ADMIN] = "admin",       [RD_ROLE_ANALYST] = "analyst",
};

/* The role matrix (shared/DESIGN.md §6). The admin manages users and nothing else: whoever
 * hands out roles should not also approve or publish, or one person could do both halves of
 * the four-eyes rule by making themselves a second user. */
static const uint32_t role_perms[RD_ROLE_COUNT] = {
    [RD_ROLE_VIEWER] = RD_PERM_VIEW,
    [RD_ROLE_ENGINEER] = RD_PERM_VIEW | RD_PERM_PROPOSE,
    [RD_ROLE_MANAGER] = RD_PERM_VIEW | RD_PERM_PROPOSE | RD_PERM_APPROVE | RD_PERM_PUBLISH |
                        RD_PERM_ROLLBACK | RD_PERM_VIEW_DECISIONS | RD_PERM_ERASE,
    [RD_ROLE_OPERATOR] = RD_PERM_VIEW | RD_PERM_PUBLISH | RD_PERM_ROLLBACK,
    [RD_ROLE_ADMIN] = RD_PERM_USERS,
    [RD_ROLE_ANALYST] = RD_PERM_VIEW | RD_PERM_VIEW_DECISIONS,
};

static const char *const perm_names[RD_PERM_COUNT] = {
    "view", "propose", "approve", "publish", "rollback", "users", "view_decisions", "erase",
};

const char *rd_role_name(rd_role r) { return (unsigned)r < RD_ROLE_COUNT ? role_names[r] : "unknown"; }

int rd_role_parse(const char *name)
{
    for (int r = 0; name && r < RD_ROLE_COUNT; r++)
        if (!strcmp(name, role_names[r]))
            return r;
    return -1;
}

uint32_t rd_role_perms(rd_role r) { return (unsigned)r < RD_ROLE_COUNT ? role_perms[r] : 0; }

const char *rd_perm_name(uint32_t perm)
{
    if (!perm)
        return "none";
    for (unsigned i = 0; i < RD_PERM_COUNT; i++)
        if (perm == 1u << i)
            return perm_names[i];
    return "unknown";
}

/* ------------------------------------------------------------------ scopes */

static const char *const scope_names[] = {"admin", "score", "outcomes", "pin"};
#define NSCOPES (sizeof scope_names / sizeof scope_names[0])

/* The bit of the scope spelt by the n bytes at s; 0 for none. */
static uint32_t scope_bit(const char *s, size_t n)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (strlen(scope_names[i]) == n && !memcmp(s, scope_names[i], n))
            return 1u << i;
    return 0;
}

int rd_scopes_parse(const char *list, uint32_t *out, rd_err *err)
{
    uint32_t bits = 0;
    const char *p = list ? list : "";
    for (;;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, ",");
        size_t len = n;
        while (len && p[len - 1] == ' ')
            len--;
        if (!len)
            return rd_err_set(err, RD_EINVAL,
                              "scopes \"%s\": an empty scope (scopes: admin, score, outcomes, pin)",
                              list ? list : "");
        uint32_t bit = scope_bit(p, len);
        if (!bit)
            return rd_err_set(err, RD_EINVAL, "unknown scope \"%.*s\" (scopes: admin, score, outcomes, pin)",
                              (int)(len > 64 ? 64 : len), p);
        bits |= bit;
        if (!p[n])
            break;
        p += n + 1;
    }
    *out = bits;
    return RD_OK;
}

const char *rd_scopes_format(uint32_t scopes, char *buf, size_t cap)
{
    size_t at = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < NSCOPES; i++) {
        if (!(scopes & (1u << i)))
            continue;
        int w = snprintf(buf + at, cap > at ? cap - at : 0, "%s%s", at ? "," : "", scope_names[i]);
        if (w < 0 || (size_t)w >= (cap > at ? cap - at : 0))
            break; /* truncated: cap is documented to be large enough */
        at += (size_t)w;
    }
    return buf;
}

/* ------------------------------------------------------------------ the admin actions */

static const rd_admin_action_def actions[RD_ACT_COUNT] = {
    {RD_ACT_USERS_LIST, "users.list", "GET", "/v1/admin/users", RD_PERM_USERS,
     "list users, their roles and active tokens"},
    {RD_ACT_USER_ADD, "user.add", "POST", "/v1/admin/users", RD_PERM_USERS,
     "add a user and issue its first token"},
    {RD_ACT_USER_DISABLE, "user.disable", "POST", "/v1/admin/users/{name}/disable", RD_PERM_USERS,
     "disable a user: its tokens stop working"},
    {RD_ACT_TOKEN_ISSUE, "token.issue", "POST", "/v1/admin/users/{name}/tokens", RD_PERM_USERS,
     "issue another token for a user"},
    {RD_ACT_TOKEN_REVOKE, "token.revoke", "POST", "/v1/admin/tokens/{id}/revoke", RD_PERM_USERS,
     "revoke a token (a user may also revoke their own)"},
    {RD_ACT_SETTINGS_SET, "settings.set", "PUT", "/v1/admin/settings", RD_PERM_USERS,
     "governance settings: approvals required per kind of change"},
    {RD_ACT_CHANGES_LIST, "changes.list", "GET", "/v1/admin/changes", RD_PERM_VIEW, "list change requests"},
    {RD_ACT_CHANGE_SHOW, "change.show", "GET", "/v1/admin/changes/{id}", RD_PERM_VIEW,
     "one change request, its diff and history"},
    {RD_ACT_CHANGE_PROPOSE, "change.propose", "POST", "/v1/admin/changes", RD_PERM_PROPOSE,
     "propose a change to flags, a rollout plan or a bundle promotion"},
    {RD_ACT_CHANGE_EDIT, "change.edit", "PUT", "/v1/admin/changes/{id}", RD_PERM_PROPOSE,
     "edit a change request (approvals of earlier revisions lapse)"},
    {RD_ACT_CHANGE_SUBMIT, "change.submit", "POST", "/v1/admin/changes/{id}/submit", RD_PERM_PROPOSE,
     "submit a draft for review"},
    {RD_ACT_CHANGE_WITHDRAW, "change.withdraw", "POST", "/v1/admin/changes/{id}/withdraw", RD_PERM_PROPOSE,
     "withdraw a change request"},
    {RD_ACT_CHANGE_APPROVE, "change.approve", "POST", "/v1/admin/changes/{id}/approve", RD_PERM_APPROVE,
     "approve someone else's change request"},
    {RD_ACT_CHANGE_REJECT, "change.reject", "POST", "/v1/admin/changes/{id}/reject", RD_PERM_APPROVE,
     "reject a change request"},
    {RD_ACT_CHANGE_PUBLISH, "change.publish", "POST", "/v1/admin/changes/{id}/publish", RD_PERM_PUBLISH,
     "apply an approved change to what serves"},
    {RD_ACT_VERSIONS_LIST, "versions.list", "GET", "/v1/admin/versions", RD_PERM_VIEW,
     "published versions of flags, plans and bundles"},
    {RD_ACT_ROLLBACK, "rollback", "POST", "/v1/admin/rollback", RD_PERM_ROLLBACK,
     "back to the previous published version"},
    {RD_ACT_AUDIT_LIST, "audit.list", "GET", "/v1/admin/audit", RD_PERM_VIEW, "the audit chain's entries"},
    {RD_ACT_AUDIT_VERIFY, "audit.verify", "GET", "/v1/admin/audit/verify", RD_PERM_VIEW,
     "recompute the audit chain's hashes"},
    {RD_ACT_ROLLOUTS_STATUS, "rollouts.status", "GET", "/v1/admin/rollouts", RD_PERM_VIEW,
     "the rollouts and their stages"},
    {RD_ACT_ROLLOUT_PAUSE, "rollout.pause", "POST", "/v1/admin/rollouts/{flag}/pause", RD_PERM_ROLLBACK,
     "pause a rollout at its stage"},
    {RD_ACT_ROLLOUT_RESUME, "rollout.resume", "POST", "/v1/admin/rollouts/{flag}/resume", RD_PERM_ROLLBACK,
     "resume a paused rollout"},
    {RD_ACT_ROLLOUT_ROLLBACK, "rollout.rollback", "POST", "/v1/admin/rollouts/{flag}/rollback",
     RD_PERM_ROLLBACK, "send a rollout's traffic back to the control"},
    {RD_ACT_DECISIONS_READ, "decisions.read", "GET", "/v1/admin/decisions", RD_PERM_VIEW_DECISIONS,
     "decisions with applicants' inputs"},
    {RD_ACT_DECISIONS_ERASE, "decisions.erase", "POST", "/v1/admin/decisions/erase", RD_PERM_ERASE,
     "erase one applicant's records"},
    {RD_ACT_DECISIONS_REPLAY, "decisions.replay", "POST", "/v1/admin/decisions/replay",
     RD_PERM_VIEW_DECISIONS, "re-run a request's logged decisions and compare"},
    {RD_ACT_FLAGS_SHOW, "flags.show", "GET", "/v1/admin/flags", RD_PERM_VIEW,
     "the flag set this node serves"},
    {RD_ACT_BUNDLES_LIST, "bundles.list", "GET", "/v1/admin/bundles", RD_PERM_VIEW,
     "the bundles loaded, with their manifests and breakers"},
    {RD_ACT_NODE_SHOW, "node.show", "GET", "/v1/admin/node", RD_PERM_VIEW,
     "this node: version, uptime, store, decision log"},
    {RD_ACT_ROLLOUT_TRANSITIONS, "rollout.transitions", "GET", "/v1/admin/rollouts/{flag}/transitions",
     RD_PERM_VIEW, "a rollout's transitions, newest first, with their gates"},
    {RD_ACT_ROLLOUT_PROMOTE, "rollout.promote", "POST", "/v1/admin/rollouts/{flag}/promote", RD_PERM_PUBLISH,
     "send all traffic to a rollout's candidate now"},
    {RD_ACT_MONITOR_SHOW, "monitor.show", "GET", "/v1/admin/monitor", RD_PERM_VIEW,
     "the monitor's statistics, with decision rates over time"},
    /* the web console's sign-in (docs/api.md, "Console sessions"): on the caller's own credentials */
    {RD_ACT_SESSION_OPEN, "session.open", "POST", "/v1/admin/session", 0,
     "sign in to the console with a token: a session cookie and its CSRF token"},
    {RD_ACT_SESSION_SHOW, "session.show", "GET", "/v1/admin/session", 0,
     "who the console's session (or the bearer token) is, and its CSRF token"},
    {RD_ACT_SESSION_CLOSE, "session.close", "DELETE", "/v1/admin/session", 0, "sign out of the console"},
};

const rd_admin_action_def *rd_admin_actions(size_t *n)
{
    if (n)
        *n = RD_ACT_COUNT;
    return actions;
}

bool rd_role_allows(rd_role r, rd_admin_action a)
{
    if ((unsigned)a >= RD_ACT_COUNT)
        return false;
    return (rd_role_perms(r) & actions[a].perm) == actions[a].perm;
}

int rd_auth_matrix_markdown(rd_buf *out)
{
    rd_buf_puts(out, "| action | method and path | permission |");
    for (int r = 0; r < RD_ROLE_COUNT; r++)
        rd_buf_printf(out, " %s |", role_names[r]);
    rd_buf_puts(out, " what it does |\n| --- | --- | --- |");
    for (int r = 0; r < RD_ROLE_COUNT; r++)
        rd_buf_puts(out, " :-: |");
    rd_buf_puts(out, " --- |\n");
    for (size_t i = 0; i < RD_ACT_COUNT; i++) {
        const rd_admin_action_def *d = &actions[i];
        rd_buf_printf(out, "| `%s` | `%s %s` | %s |", d->name, d->method, d->path, rd_perm_name(d->perm));
        for (int r = 0; r < RD_ROLE_COUNT; r++)
            rd_buf_puts(out, rd_role_allows((rd_role)r, d->action) ? " ✓ |" : " — |");
        rd_buf_printf(out, " %s |\n", d->what);
    }
    return out->oom ? RD_ENOMEM : RD_OK;
}

/* ------------------------------------------------------------------ principals */

const char *rd_principal_name(const rd_principal *p) { return !p || p->console ? "console" : p->user; }

int rd_principal_require(const rd_principal *p, uint32_t perm, const char *doing, rd_err *err)
{
    if (!p || p->console)
        return rd_err_set(err, RD_EUNAUTH,
                          "%s needs a user's token: without one, the console may only create the first admin",
                          doing);
    if ((p->perms & perm) != perm)
        return rd_err_set(err, RD_EFORBIDDEN, "%s (%s) may not %s: the role lacks the %s permission", p->user,
                          rd_role_name(p->role), doing, rd_perm_name(perm));
    if (!(p->scopes & RD_SCOPE_ADMIN)) {
        char have[64];
        return rd_err_set(err, RD_EFORBIDDEN,
                          "%s may not %s with token %s: the token lacks the admin scope (it has: %s)",
                          p->user, doing, p->token_id, rd_scopes_format(p->scopes, have, sizeof have));
    }
    return RD_OK;
}
