/* Web console sessions (src/lib/auth/session.c): opening one from a token with the admin scope
 * (and refusing others), the expiry capped by the parent's and by max_age, the idle time, the
 * session ending with its parent's revocation and its user's disabling, closing it, the CSRF
 * token (derived, compared, refused when wrong, empty or another session's), the session's
 * token refused as a bearer token, users.list counting sessions apart, and no secret in any
 * audit entry or error message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "riskd/arena.h"
#include "riskd/auth.h"
#include "riskd/clock.h"
#include "riskd/store.h"

#define T0  1796601600000LL /* 2026-12-07T00:00:00Z */
#define MIN 60000LL
#define H   (60 * MIN)

static char dir[64];
static rd_store *st;
static char root[RD_TOKEN_MAX], mgr[RD_TOKEN_MAX];
/* every secret made in a case, to look for in audit entries and messages */
static char secrets[16][RD_TOKEN_MAX];
static size_t nsecrets;

static void remember(const char *token)
{
    assert_true(nsecrets < 16);
    snprintf(secrets[nsecrets++], RD_TOKEN_MAX, "%s", token);
}

/* No remembered secret in text (the part after "rdk_<id>_", and the whole token). */
static void no_secret(const char *text)
{
    for (size_t i = 0; i < nsecrets; i++)
        if (strstr(text, secrets[i] + 17))
            fail_msg("a secret in \"%s\"", text);
}

static rd_principal login(const char *token, int64_t now_ms)
{
    rd_principal p;
    rd_err err;
    if (rd_auth_authenticate(st, token, now_ms, &p, &err) != RD_OK)
        fail_msg("authenticate: %s", err.msg);
    return p;
}

/* root (admin), made at the console, and mgr (manager) with the admin and score scopes. */
static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-session-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &st, &err), RD_OK);
    nsecrets = 0;
    const rd_principal console = {.user = "console", .console = true};
    assert_int_equal(rd_user_add(st, &console, "root", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, T0, root, &err),
                     RD_OK);
    rd_principal a = login(root, T0);
    assert_int_equal(
        rd_user_add(st, &a, "mgr", RD_ROLE_MANAGER, RD_SCOPE_ADMIN | RD_SCOPE_SCORE, 0, T0, mgr, &err),
        RD_OK);
    remember(root);
    remember(mgr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Open a session with parent at now_ms; its token into token. */
static rd_principal open_session(const char *parent, int64_t now_ms, const rd_session_opts *o,
                                 char token[RD_TOKEN_MAX])
{
    rd_principal who;
    rd_err err;
    if (rd_session_open(st, parent, now_ms, o, token, &who, &err) != RD_OK)
        fail_msg("session open: %s", err.msg);
    remember(token);
    return who;
}

/* The session is refused at now_ms with code, its message starting with why (and no secret). */
static void refused(const char *token, int64_t now_ms, const rd_session_opts *o, const char *why)
{
    rd_principal p;
    rd_err err;
    assert_int_equal(rd_session_authenticate(st, token, now_ms, o, &p, &err), RD_EUNAUTH);
    if (strncmp(err.msg, why, strlen(why)))
        fail_msg("message \"%s\" does not start with \"%s\"", err.msg, why);
    no_secret(err.msg);
}

static void works(const char *token, int64_t now_ms, const rd_session_opts *o)
{
    rd_principal p;
    rd_err err;
    if (rd_session_authenticate(st, token, now_ms, o, &p, &err) != RD_OK)
        fail_msg("session at +%lld ms: %s", (long long)(now_ms - T0), err.msg);
    assert_true(p.session);
}

static void token_id_of(const char *token, char id[RD_TOKEN_ID_MAX])
{
    assert_true(rd__auth_token_parse(token, id));
}

typedef struct audit_seen {
    size_t n, sessions_opened, sessions_closed;
    char last_object[80], last_detail[512], last_actor[64];
} audit_seen;

static int audit_one(void *ud, const rd_audit_row *r)
{
    audit_seen *a = ud;
    a->n++;
    no_secret(r->object);
    no_secret(r->detail);
    no_secret(r->actor);
    if (!strcmp(r->action, "session.open"))
        a->sessions_opened++;
    if (!strcmp(r->action, "session.close"))
        a->sessions_closed++;
    snprintf(a->last_object, sizeof a->last_object, "%s", r->object);
    snprintf(a->last_detail, sizeof a->last_detail, "%s", r->detail);
    snprintf(a->last_actor, sizeof a->last_actor, "%s", r->actor);
    return 0;
}

/* The whole chain read, every entry checked for secrets. */
static audit_seen audit(void)
{
    audit_seen a = {0};
    rd_err err;
    assert_int_equal(rd_store_audit_scan(st, 0, 0, false, audit_one, &a, &err), RD_OK);
    return a;
}

/* ------------------------------------------------------------------ cases */

static void test_open(void **state)
{
    (void)state;
    char s1[RD_TOKEN_MAX], sid[RD_TOKEN_ID_MAX], pid[RD_TOKEN_ID_MAX];
    rd_principal who = open_session(mgr, T0 + MIN, NULL, s1);
    token_id_of(s1, sid);
    token_id_of(mgr, pid);
    assert_string_equal(who.user, "mgr");
    assert_int_equal(who.role, RD_ROLE_MANAGER);
    assert_int_equal(who.perms, rd_role_perms(RD_ROLE_MANAGER));
    assert_int_equal(who.scopes, RD_SCOPE_ADMIN); /* the admin scope alone: no score, no pin */
    assert_true(who.session);
    assert_string_equal(who.token_id, sid);
    assert_int_equal(who.expires_ms, T0 + MIN + RD_SESSION_MAX_MS_DEFAULT);
    /* the row: the same user, its parent named */
    rd_token_row t;
    rd_err err;
    assert_int_equal(rd_store_token_get(st, sid, &t, &err), RD_OK);
    assert_string_equal(t.parent, pid);
    assert_string_equal(t.user, "mgr");
    assert_int_equal(t.scopes, RD_SCOPE_ADMIN);
    assert_int_equal(t.created_ms, T0 + MIN);
    /* audited with both ids, never a secret */
    audit_seen a = audit();
    assert_int_equal(a.sessions_opened, 1);
    char object[32];
    snprintf(object, sizeof object, "token/%s", sid);
    assert_string_equal(a.last_object, object);
    assert_string_equal(a.last_actor, "mgr");
    assert_non_null(strstr(a.last_detail, pid));
    /* it works as a session, not as a bearer token */
    works(s1, T0 + 2 * MIN, NULL);
    rd_principal p;
    assert_int_equal(rd_auth_authenticate(st, s1, T0 + 2 * MIN, &p, &err), RD_EUNAUTH);
    assert_int_equal(strncmp(err.msg, "session token:", 14), 0);
    no_secret(err.msg);
    /* and a bearer token is not a session */
    refused(mgr, T0 + 2 * MIN, NULL, "not a session:");
    /* any role opens one for itself: an admin too */
    char s2[RD_TOKEN_MAX];
    who = open_session(root, T0 + 2 * MIN, NULL, s2);
    assert_string_equal(who.user, "root");
    assert_int_equal(who.role, RD_ROLE_ADMIN);
    /* two sessions of one user are apart */
    assert_string_not_equal(s1, s2);
}

static void test_open_refused(void **state)
{
    (void)state;
    rd_principal a = login(root, T0), who;
    char score_only[RD_TOKEN_MAX], s[RD_TOKEN_MAX], s2[RD_TOKEN_MAX];
    rd_err err;
    assert_int_equal(rd_token_issue(st, &a, "mgr", RD_SCOPE_SCORE, 0, T0, score_only, &err), RD_OK);
    remember(score_only);
    audit_seen before = audit();
    /* a token without the admin scope */
    assert_int_equal(rd_session_open(st, score_only, T0 + 1, NULL, s, &who, &err), RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "lacks the admin scope"));
    no_secret(err.msg);
    /* malformed, unknown, a wrong secret */
    assert_int_equal(rd_session_open(st, "rdk_nope", T0 + 1, NULL, s, &who, &err), RD_EUNAUTH);
    assert_int_equal(strncmp(err.msg, "malformed", 9), 0);
    char forged[RD_TOKEN_MAX];
    snprintf(forged, sizeof forged, "%s", mgr);
    forged[20] = forged[20] == 'A' ? 'B' : 'A';
    assert_int_equal(rd_session_open(st, forged, T0 + 1, NULL, s, &who, &err), RD_EUNAUTH);
    assert_int_equal(strncmp(err.msg, "wrong secret", 12), 0);
    no_secret(err.msg);
    /* a session does not open another: its token is no bearer token */
    open_session(mgr, T0 + 1, NULL, s);
    assert_int_equal(rd_session_open(st, s, T0 + 2, NULL, s2, &who, &err), RD_EUNAUTH);
    assert_int_equal(strncmp(err.msg, "session token:", 14), 0);
    no_secret(err.msg);
    /* a refusal writes nothing */
    audit_seen after = audit();
    assert_int_equal(after.n, before.n + 1); /* the one session opened */
}

static void test_expiry(void **state)
{
    (void)state;
    rd_principal a = login(root, T0);
    char parent[RD_TOKEN_MAX], s[RD_TOKEN_MAX];
    rd_err err;
    /* a parent that expires in an hour: the session ends with it, however long max_age is */
    assert_int_equal(rd_token_issue(st, &a, "mgr", RD_SCOPE_ADMIN, T0 + H, T0, parent, &err), RD_OK);
    remember(parent);
    rd_session_opts o = {.max_age_ms = 12 * H, .idle_ms = 24 * H};
    rd_principal who = open_session(parent, T0, &o, s);
    assert_int_equal(who.expires_ms, T0 + H);
    works(s, T0 + H - 1, &o);
    refused(s, T0 + H, &o, "expired:");
    /* a parent that never expires: max_age caps it */
    o.max_age_ms = 2 * H;
    who = open_session(mgr, T0, &o, s);
    assert_int_equal(who.expires_ms, T0 + 2 * H);
    works(s, T0 + 2 * H - 1, &o);
    refused(s, T0 + 2 * H, &o, "expired:");
    /* max_age 0: the default (12 h) */
    rd_session_opts d = {0};
    who = open_session(mgr, T0, &d, s);
    assert_int_equal(who.expires_ms, T0 + 12 * H);
}

static void test_idle(void **state)
{
    (void)state;
    rd_session_opts o = {.idle_ms = 30 * MIN};
    char s[RD_TOKEN_MAX];
    open_session(mgr, T0, &o, s);
    works(s, T0 + 29 * MIN, &o);            /* marks it used then */
    works(s, T0 + 29 * MIN + 30 * MIN, &o); /* 30 min after that use: still */
    refused(s, T0 + 59 * MIN + 30 * MIN + 1, &o, "expired:");
    /* the message says idle, and the default is 30 min too */
    rd_principal p;
    rd_err err;
    assert_int_equal(rd_session_authenticate(st, s, T0 + 59 * MIN + 31 * MIN, NULL, &p, &err), RD_EUNAUTH);
    assert_non_null(strstr(err.msg, "idle for more than 1800 s"));
    /* a session never used counts from its opening */
    char s2[RD_TOKEN_MAX];
    open_session(mgr, T0, &o, s2);
    refused(s2, T0 + 31 * MIN, &o, "expired:");
}

static void test_parent_revoked(void **state)
{
    (void)state;
    char parent[RD_TOKEN_MAX], s[RD_TOKEN_MAX], other[RD_TOKEN_MAX], pid[RD_TOKEN_ID_MAX];
    rd_principal a = login(root, T0);
    rd_err err;
    assert_int_equal(rd_token_issue(st, &a, "mgr", RD_SCOPE_ADMIN, 0, T0, parent, &err), RD_OK);
    remember(parent);
    open_session(parent, T0, NULL, s);
    open_session(mgr, T0, NULL, other); /* opened with another token of the same user */
    works(s, T0 + MIN, NULL);
    token_id_of(parent, pid);
    rd_principal self = login(mgr, T0 + MIN);
    assert_int_equal(rd_token_revoke(st, &self, pid, T0 + 2 * MIN, &err), RD_OK);
    refused(s, T0 + 3 * MIN, NULL, "revoked:");
    works(other, T0 + 3 * MIN, NULL); /* only that parent's sessions end */
}

static void test_user_disabled(void **state)
{
    (void)state;
    char s[RD_TOKEN_MAX];
    open_session(mgr, T0, NULL, s);
    works(s, T0 + MIN, NULL);
    rd_principal a = login(root, T0 + MIN);
    rd_err err;
    assert_int_equal(rd_user_disable(st, &a, "mgr", true, T0 + 2 * MIN, &err), RD_OK);
    refused(s, T0 + 3 * MIN, NULL, "user disabled:");
    /* a role changed meanwhile applies at the session's next request */
    assert_int_equal(rd_user_disable(st, &a, "mgr", false, T0 + 4 * MIN, &err), RD_OK);
    assert_int_equal(rd_user_set_role(st, &a, "mgr", RD_ROLE_VIEWER, T0 + 4 * MIN, &err), RD_OK);
    rd_principal p;
    assert_int_equal(rd_session_authenticate(st, s, T0 + 5 * MIN, NULL, &p, &err), RD_OK);
    assert_int_equal(p.role, RD_ROLE_VIEWER);
    assert_int_equal(p.perms, RD_PERM_VIEW);
}

static void test_close(void **state)
{
    (void)state;
    char s[RD_TOKEN_MAX], sid[RD_TOKEN_ID_MAX];
    open_session(mgr, T0, NULL, s);
    token_id_of(s, sid);
    rd_err err;
    assert_int_equal(rd_session_close(st, s, T0 + MIN, &err), RD_OK);
    refused(s, T0 + 2 * MIN, NULL, "revoked:");
    audit_seen a = audit();
    assert_int_equal(a.sessions_closed, 1);
    assert_string_equal(a.last_actor, "mgr");
    char object[32];
    snprintf(object, sizeof object, "token/%s", sid);
    assert_string_equal(a.last_object, object);
    /* again: over already, nothing written */
    assert_int_equal(rd_session_close(st, s, T0 + 3 * MIN, &err), RD_OK);
    assert_int_equal(audit().n, a.n);
    /* a bearer token is not closed as a session; a wrong secret or garbage closes nothing */
    assert_int_equal(rd_session_close(st, mgr, T0 + 3 * MIN, &err), RD_EUNAUTH);
    assert_int_equal(strncmp(err.msg, "not a session:", 14), 0);
    no_secret(err.msg);
    char s2[RD_TOKEN_MAX], forged[RD_TOKEN_MAX];
    open_session(mgr, T0, NULL, s2);
    snprintf(forged, sizeof forged, "%s", s2);
    forged[30] = forged[30] == 'A' ? 'B' : 'A';
    assert_int_equal(rd_session_close(st, forged, T0 + 3 * MIN, &err), RD_EUNAUTH);
    no_secret(err.msg);
    assert_int_equal(rd_session_close(st, "", T0 + 3 * MIN, &err), RD_EUNAUTH);
    works(s2, T0 + 4 * MIN, NULL);
    login(mgr, T0 + 4 * MIN); /* the parent goes on */
}

static void test_csrf(void **state)
{
    (void)state;
    char s1[RD_TOKEN_MAX], s2[RD_TOKEN_MAX], c1[RD_CSRF_MAX], c1b[RD_CSRF_MAX], c2[RD_CSRF_MAX];
    open_session(mgr, T0, NULL, s1);
    open_session(mgr, T0, NULL, s2);
    assert_int_equal(rd_csrf_token(s1, c1), RD_OK);
    assert_int_equal(rd_csrf_token(s1, c1b), RD_OK);
    assert_int_equal(rd_csrf_token(s2, c2), RD_OK);
    assert_string_equal(c1, c1b); /* derived: the same each time, nothing stored */
    assert_string_not_equal(c1, c2);
    assert_int_equal(strlen(c1), 64);
    assert_int_equal(strspn(c1, "0123456789abcdef"), 64);
    no_secret(c1);
    assert_null(strstr(c1, s1 + 17));
    /* right */
    assert_true(rd_csrf_check(s1, c1));
    assert_true(rd_csrf_check(s2, c2));
    /* wrong: another session's, one digit off, empty, missing, longer, shorter, upper case */
    assert_false(rd_csrf_check(s1, c2));
    assert_false(rd_csrf_check(s2, c1));
    char off[RD_CSRF_MAX + 1];
    snprintf(off, sizeof off, "%s", c1);
    off[63] = off[63] == '0' ? '1' : '0';
    assert_false(rd_csrf_check(s1, off));
    off[63] = c1[63];
    off[0] = off[0] == 'a' ? 'b' : 'a';
    assert_false(rd_csrf_check(s1, off));
    assert_false(rd_csrf_check(s1, ""));
    assert_false(rd_csrf_check(s1, NULL));
    snprintf(off, sizeof off, "%s0", c1);
    assert_false(rd_csrf_check(s1, off));
    snprintf(off, sizeof off, "%.63s", c1);
    assert_false(rd_csrf_check(s1, off));
    for (size_t i = 0; i < 64; i++)
        off[i] = (char)(c1[i] >= 'a' ? c1[i] - 32 : c1[i]);
    off[64] = '\0';
    if (strcmp(off, c1) != 0) /* any letter at all */
        assert_false(rd_csrf_check(s1, off));
    /* a session token of the wrong shape has none, and passes nothing */
    assert_int_equal(rd_csrf_token("rdk_short", c2), RD_EINVAL);
    assert_false(rd_csrf_check("rdk_short", c1));
    assert_false(rd_csrf_check("", ""));
    /* the token is bound to the secret, not only the id: another secret, another CSRF token */
    char forged[RD_TOKEN_MAX];
    snprintf(forged, sizeof forged, "%s", s1);
    forged[40] = forged[40] == 'A' ? 'B' : 'A';
    assert_false(rd_csrf_check(forged, c1));
}

typedef struct users_seen {
    size_t tokens, sessions;
} users_seen;

static int user_mgr(void *ud, const rd_user_info *u)
{
    users_seen *s = ud;
    if (!strcmp(u->name, "mgr")) {
        s->tokens = u->active_tokens;
        s->sessions = u->active_sessions;
    }
    return 0;
}

typedef struct tokens_seen {
    size_t n, sessions;
} tokens_seen;

static int token_one(void *ud, const rd_token_info *t)
{
    tokens_seen *s = ud;
    s->n++;
    if (t->parent[0])
        s->sessions++;
    return 0;
}

static void test_users_list(void **state)
{
    (void)state;
    char s1[RD_TOKEN_MAX], s2[RD_TOKEN_MAX];
    /* rd_user_list counts at the wall clock: sessions opened now, so they are active */
    int64_t now = rd_clock_unix_ms();
    open_session(mgr, now, NULL, s1);
    open_session(mgr, now, NULL, s2);
    rd_err err;
    assert_int_equal(rd_session_close(st, s2, now + 1, &err), RD_OK);
    users_seen u = {0};
    assert_int_equal(rd_user_list(st, user_mgr, &u, &err), RD_OK);
    assert_int_equal(u.tokens, 1); /* its token, not its sessions */
    assert_int_equal(u.sessions, 1);
    tokens_seen t = {0};
    assert_int_equal(rd_token_list(st, "mgr", token_one, &t, &err), RD_OK);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.sessions, 2); /* listed, and said apart */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csrf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
