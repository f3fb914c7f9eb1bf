/* The auth module: the role matrix (every role against every admin action, and docs/api.md
 * against the generated table), scopes and role names, the token format and its 256 bits,
 * authentication and each way it is refused (with messages that never hold the secret), the
 * store keeping a hash and never the token, the first admin only at the console, who may add
 * and revoke, the last admin kept, the last-use mark, and the failure limiter: its limit, its
 * audit entries aggregated per source and minute, its bound, and its thread-safety. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "riskd/arena.h"
#include "riskd/auth.h"
#include "riskd/store.h"

#define T0 1796601600000LL /* 2026-12-07T00:00:00Z */

static char dir[64];
static rd_store *st;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-auth-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &st, &err), RD_OK);
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

/* ------------------------------------------------------------------ helpers */

static const rd_principal console = {.user = "console", .console = true};

/* The first admin, "root", made at the console; its token into token. */
static void first_admin(char token[RD_TOKEN_MAX])
{
    rd_err err;
    assert_int_equal(rd_user_add(st, &console, "root", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, T0, token, &err),
                     RD_OK);
}

static rd_principal login(const char *token, int64_t now_ms)
{
    rd_principal p;
    rd_err err;
    if (rd_auth_authenticate(st, token, now_ms, &p, &err) != RD_OK)
        fail_msg("authenticate: %s", err.msg);
    return p;
}

/* A user with role, added by the admin holding admin_token; its token into token. */
static void add_user(const char *admin_token, const char *name, rd_role role, uint32_t scopes,
                     int64_t expires_ms, char token[RD_TOKEN_MAX])
{
    rd_principal a = login(admin_token, T0);
    rd_err err;
    if (rd_user_add(st, &a, name, role, scopes, expires_ms, T0, token, &err) != RD_OK)
        fail_msg("add %s: %s", name, err.msg);
}

/* Authenticate and expect a refusal whose message starts with why and holds no secret. */
static void refused(const char *token, int64_t now_ms, int code, const char *why)
{
    rd_principal p;
    rd_err err;
    assert_int_equal(rd_auth_authenticate(st, token, now_ms, &p, &err), code);
    if (strncmp(err.msg, why, strlen(why)))
        fail_msg("message \"%s\" does not start with \"%s\"", err.msg, why);
    if (strlen(token) > 20)
        assert_null(strstr(err.msg, token + 17)); /* the secret */
}

typedef struct audit_rows {
    size_t n;
    char action[16][32], actor[16][32], object[16][80], detail[16][512];
} audit_rows;

static int keep_row(void *ud, const rd_audit_row *r)
{
    audit_rows *a = ud;
    if (a->n < 16) {
        snprintf(a->action[a->n], sizeof a->action[0], "%s", r->action);
        snprintf(a->actor[a->n], sizeof a->actor[0], "%s", r->actor);
        snprintf(a->object[a->n], sizeof a->object[0], "%s", r->object);
        snprintf(a->detail[a->n], sizeof a->detail[0], "%s", r->detail);
    }
    a->n++;
    return 0;
}

static audit_rows *audit_from(int64_t from_seq)
{
    static audit_rows a;
    memset(&a, 0, sizeof a);
    rd_err err;
    assert_int_equal(rd_store_audit_scan(st, from_seq, 0, false, keep_row, &a, &err), RD_OK);
    return &a;
}

static int64_t audit_next(void)
{
    int64_t seq;
    char hash[RD_SHA256_HEX];
    rd_err err;
    assert_int_equal(rd_store_audit_last(st, &seq, hash, &err), RD_OK);
    return seq + 1;
}

/* ------------------------------------------------------------------ the matrix */

static void test_matrix(void **state)
{
    (void)state;
    /* the role matrix written out once more, so a change to it must be made here too */
    static const uint32_t want[RD_ROLE_COUNT] = {
        [RD_ROLE_VIEWER] = RD_PERM_VIEW,
        [RD_ROLE_ENGINEER] = RD_PERM_VIEW | RD_PERM_PROPOSE,
        [RD_ROLE_MANAGER] = RD_PERM_VIEW | RD_PERM_PROPOSE | RD_PERM_APPROVE | RD_PERM_PUBLISH |
                            RD_PERM_ROLLBACK | RD_PERM_VIEW_DECISIONS | RD_PERM_ERASE,
        [RD_ROLE_OPERATOR] = RD_PERM_VIEW | RD_PERM_PUBLISH | RD_PERM_ROLLBACK,
        [RD_ROLE_ADMIN] = RD_PERM_USERS,
        [RD_ROLE_ANALYST] = RD_PERM_VIEW | RD_PERM_VIEW_DECISIONS,
    };
    size_t n;
    const rd_admin_action_def *defs = rd_admin_actions(&n);
    assert_int_equal(n, RD_ACT_COUNT);
    for (size_t i = 0; i < n; i++) {
        const rd_admin_action_def *d = &defs[i];
        assert_int_equal(d->action, i); /* in rd_admin_action order */
        /* one permission each; none only for the console's session actions (the caller's own) */
        bool session = !strcmp(d->path, "/v1/admin/session");
        assert_true(session ? d->perm == 0 : d->perm && !(d->perm & (d->perm - 1)));
        assert_string_not_equal(rd_perm_name(d->perm), "unknown");
        assert_int_equal(strncmp(d->path, "/v1/admin/", 10), 0);
        assert_true(!strcmp(d->method, "GET") || !strcmp(d->method, "POST") || !strcmp(d->method, "PUT") ||
                    (session && !strcmp(d->method, "DELETE")));
        assert_true(d->what && *d->what);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(d->name, defs[j].name);
            assert_false(!strcmp(d->method, defs[j].method) && !strcmp(d->path, defs[j].path));
        }
        for (int r = 0; r < RD_ROLE_COUNT; r++) {
            assert_int_equal(rd_role_perms((rd_role)r), want[r]);
            bool allowed = session || (want[r] & d->perm) != 0;
            if (rd_role_allows((rd_role)r, d->action) != allowed)
                fail_msg("%s %s: %s", rd_role_name((rd_role)r), d->name, allowed ? "refused" : "allowed");
        }
    }
    /* a few the design names */
    assert_true(rd_role_allows(RD_ROLE_MANAGER, RD_ACT_CHANGE_APPROVE));
    assert_false(rd_role_allows(RD_ROLE_ENGINEER, RD_ACT_CHANGE_APPROVE));
    assert_true(rd_role_allows(RD_ROLE_OPERATOR, RD_ACT_ROLLBACK));
    assert_false(rd_role_allows(RD_ROLE_ADMIN, RD_ACT_CHANGE_PUBLISH));
    assert_false(rd_role_allows(RD_ROLE_ADMIN, RD_ACT_CHANGES_LIST));
    assert_true(rd_role_allows(RD_ROLE_ANALYST, RD_ACT_DECISIONS_READ));
    assert_false(rd_role_allows(RD_ROLE_ANALYST, RD_ACT_DECISIONS_ERASE));
    assert_false(rd_role_allows(RD_ROLE_COUNT, RD_ACT_USERS_LIST));
    assert_false(rd_role_allows(RD_ROLE_MANAGER, RD_ACT_COUNT));
    assert_string_equal(defs[RD_ACT_CHANGE_APPROVE].path, "/v1/admin/changes/{id}/approve");
    assert_string_equal(defs[RD_ACT_ROLLOUT_RESUME].path, "/v1/admin/rollouts/{flag}/resume");
    assert_string_equal(defs[RD_ACT_SESSION_CLOSE].method, "DELETE");
    assert_string_equal(rd_perm_name(0), "none");
}

/* docs/api.md holds the generated table exactly, as a block of its own. */
static void test_matrix_in_docs(void **state)
{
    (void)state;
    rd_buf md;
    rd_buf_init(&md);
    assert_int_equal(rd_auth_matrix_markdown(&md), RD_OK);
    char *doc;
    size_t len;
    rd_err err;
    if (rd_file_read("docs/api.md", 0, &doc, &len, &err) != RD_OK &&
        rd_file_read("../../../../docs/api.md", 0, &doc, &len, &err) != RD_OK)
        fail_msg("%s", err.msg);
    const char *at = strstr(doc, rd_buf_cstr(&md));
    if (!at)
        fail_msg("docs/api.md lacks the role matrix as rd_auth_matrix_markdown writes it:\n%s",
                 rd_buf_cstr(&md));
    assert_true(at - doc >= 2 && at[-1] == '\n' && at[-2] == '\n'); /* a blank line before */
    const char *end = at + md.len;
    assert_true(*end == '\0' || *end == '\n'); /* and after: no row of the docs' own */
    size_t rows = 0;
    for (const char *p = rd_buf_cstr(&md); (p = strchr(p, '\n')); p++)
        rows++;
    assert_int_equal(rows, RD_ACT_COUNT + 2);
    rd_free(doc);
    rd_buf_deinit(&md);
}

static void test_names(void **state)
{
    (void)state;
    for (int r = 0; r < RD_ROLE_COUNT; r++)
        assert_int_equal(rd_role_parse(rd_role_name((rd_role)r)), r);
    assert_int_equal(rd_role_parse("Admin"), -1);
    assert_int_equal(rd_role_parse("root"), -1);
    assert_int_equal(rd_role_parse(NULL), -1);
    assert_string_equal(rd_role_name(RD_ROLE_COUNT), "unknown");
    assert_string_equal(rd_perm_name(RD_PERM_VIEW_DECISIONS), "view_decisions");
    assert_string_equal(rd_perm_name(RD_PERM_APPROVE), "approve");
    assert_string_equal(rd_perm_name(RD_PERM_VIEW | RD_PERM_PROPOSE), "unknown");
    assert_true(rd__auth_user_name_ok("alice"));
    assert_true(rd__auth_user_name_ok("9.bob_x-y"));
    assert_false(rd__auth_user_name_ok(""));
    assert_false(rd__auth_user_name_ok("Alice"));
    assert_false(rd__auth_user_name_ok("-alice"));
    assert_false(rd__auth_user_name_ok("al ice"));
    assert_false(rd__auth_user_name_ok("console"));
    char longest[64];
    memset(longest, 'a', 63);
    longest[63] = '\0';
    assert_true(rd__auth_user_name_ok(longest));
    char too_long[65];
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    assert_false(rd__auth_user_name_ok(too_long));
}

static void test_scopes(void **state)
{
    (void)state;
    uint32_t s = 0;
    rd_err err;
    assert_int_equal(rd_scopes_parse("admin,score", &s, &err), RD_OK);
    assert_int_equal(s, RD_SCOPE_ADMIN | RD_SCOPE_SCORE);
    assert_int_equal(rd_scopes_parse(" pin , outcomes ", &s, &err), RD_OK);
    assert_int_equal(s, RD_SCOPE_PIN | RD_SCOPE_OUTCOMES);
    char buf[64];
    assert_string_equal(
        rd_scopes_format(RD_SCOPE_PIN | RD_SCOPE_ADMIN | RD_SCOPE_OUTCOMES | RD_SCOPE_SCORE, buf, sizeof buf),
        "admin,score,outcomes,pin");
    assert_int_equal(
        rd_scopes_parse(rd_scopes_format(RD_SCOPE_SCORE | RD_SCOPE_PIN, buf, sizeof buf), &s, &err), RD_OK);
    assert_int_equal(s, RD_SCOPE_SCORE | RD_SCOPE_PIN);
    s = 99;
    assert_int_equal(rd_scopes_parse("admin,scroe", &s, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "\"scroe\""));
    assert_int_equal(s, 99); /* untouched on failure */
    assert_int_equal(rd_scopes_parse("", &s, &err), RD_EINVAL);
    assert_int_equal(rd_scopes_parse("admin,,score", &s, &err), RD_EINVAL);
    assert_int_equal(rd_scopes_parse("admin,", &s, &err), RD_EINVAL);
    assert_int_equal(rd_scopes_parse("ADMIN", &s, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "\"ADMIN\""));
}

/* ------------------------------------------------------------------ tokens */

static int b64url_value(char c)
{
    const char *set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = strchr(set, c);
    return c && p ? (int)(p - set) : -1;
}

static void test_token_format(void **state)
{
    (void)state;
    char a[RD_TOKEN_MAX], b[RD_TOKEN_MAX], ida[RD_TOKEN_ID_MAX], idb[RD_TOKEN_ID_MAX], id[RD_TOKEN_ID_MAX];
    rd_err err;
    assert_int_equal(rd__auth_token_new(a, ida, &err), RD_OK);
    assert_int_equal(rd__auth_token_new(b, idb, &err), RD_OK);
    assert_int_equal(strlen(a), 4 + 12 + 1 + 43);
    assert_int_equal(strncmp(a, "rdk_", 4), 0);
    assert_int_equal(strlen(ida), 12);
    assert_int_equal(strspn(ida, "0123456789abcdef"), 12);
    assert_memory_equal(a + 4, ida, 12);
    assert_int_equal(a[16], '_');
    /* 43 base64url characters carry 258 bits; the last two are zero: exactly 256 random bits */
    for (size_t i = 17; i < 60; i++)
        assert_true(b64url_value(a[i]) >= 0);
    assert_int_equal(b64url_value(a[59]) & 3, 0);
    assert_string_not_equal(a, b);
    assert_string_not_equal(ida, idb);
    assert_true(rd__auth_token_parse(a, id));
    assert_string_equal(id, ida);

    /* the shape is checked strictly */
    char t[RD_TOKEN_MAX + 8];
    const struct {
        size_t at;
        char c;
    } breaks[] = {{0, 'R'}, {3, '-'}, {4, 'A'}, {15, 'g'}, {16, '-'}, {17, '+'}, {40, '/'}, {59, '='}};
    for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
        strcpy(t, a);
        t[breaks[i].at] = breaks[i].c;
        if (rd__auth_token_parse(t, id))
            fail_msg("accepted with '%c' at %zu", breaks[i].c, breaks[i].at);
    }
    strcpy(t, a);
    t[59] = '\0';
    assert_false(rd__auth_token_parse(t, id)); /* short */
    strcpy(t, a);
    strcat(t, "A");
    assert_false(rd__auth_token_parse(t, id)); /* long */
    strcpy(t, a);
    strcat(t, "\n");
    assert_false(rd__auth_token_parse(t, id));
    assert_false(rd__auth_token_parse("", id));
    assert_false(rd__auth_token_parse(NULL, id));
}

static void test_authenticate(void **state)
{
    (void)state;
    char root[RD_TOKEN_MAX], bob[RD_TOKEN_MAX], tmp[RD_TOKEN_MAX], id[RD_TOKEN_ID_MAX];
    rd_err err;
    bool on = true;
    assert_int_equal(rd_auth_enabled(st, &on, &err), RD_OK);
    assert_false(on);
    first_admin(root);
    assert_int_equal(rd_auth_enabled(st, &on, &err), RD_OK);
    assert_true(on);

    rd_principal p = login(root, T0 + 1);
    assert_string_equal(p.user, "root");
    assert_int_equal(p.role, RD_ROLE_ADMIN);
    assert_int_equal(p.perms, RD_PERM_USERS);
    assert_int_equal(p.scopes, RD_SCOPE_ADMIN);
    assert_memory_equal(p.token_id, root + 4, 12);
    assert_false(p.console);
    assert_string_equal(rd_principal_name(&p), "root");
    assert_string_equal(rd_principal_name(&console), "console");
    assert_string_equal(rd_principal_name(NULL), "console");

    add_user(root, "bob", RD_ROLE_ENGINEER, RD_SCOPE_ADMIN | RD_SCOPE_SCORE, T0 + 3600000, bob);
    p = login(bob, T0 + 3599999);
    assert_int_equal(p.perms, RD_PERM_VIEW | RD_PERM_PROPOSE);
    assert_int_equal(p.scopes, RD_SCOPE_ADMIN | RD_SCOPE_SCORE);

    refused(bob, T0 + 3600000, RD_EUNAUTH, "expired:");
    refused("rdk_nothex000000_abc", T0, RD_EUNAUTH, "malformed token");
    refused("", T0, RD_EUNAUTH, "malformed token");
    assert_int_equal(rd__auth_token_new(tmp, id, &err), RD_OK);
    refused(tmp, T0, RD_EUNAUTH, "unknown token");
    /* the right id with another secret */
    memcpy(tmp + 4, root + 4, 12);
    refused(tmp, T0, RD_EUNAUTH, "wrong secret");
    strcpy(tmp, root);
    tmp[59] = tmp[59] == 'A' ? 'Q' : 'A';
    refused(tmp, T0, RD_EUNAUTH, "wrong secret");

    /* a disabled user's tokens stop at once, and work again once enabled */
    rd_principal admin = login(root, T0);
    assert_int_equal(rd_user_disable(st, &admin, "bob", true, T0 + 10, &err), RD_OK);
    refused(bob, T0 + 20, RD_EUNAUTH, "user disabled");
    assert_int_equal(rd_user_disable(st, &admin, "bob", false, T0 + 30, &err), RD_OK);
    login(bob, T0 + 40);

    /* a revoked token */
    assert_memory_equal(p.token_id, bob + 4, 12);
    assert_int_equal(rd_token_revoke(st, &admin, p.token_id, T0 + 50, &err), RD_OK);
    refused(bob, T0 + 60, RD_EUNAUTH, "revoked");
    assert_int_equal(rd_token_revoke(st, &admin, p.token_id, T0 + 70, &err), RD_OK); /* again: nothing */
    assert_int_equal(rd_token_revoke(st, &admin, "000000000000", T0, &err), RD_ENOTFOUND);
}

/* A byte search through the database files (the WAL too). */
static bool db_holds(const char *needle)
{
    const char *names[] = {"riskd.db", "riskd.db-wal"};
    bool found = false;
    for (size_t i = 0; i < 2 && !found; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *data;
        size_t len;
        if (rd_file_read(path, 0, &data, &len, NULL) != RD_OK)
            continue;
        found = memmem(data, len, needle, strlen(needle)) != NULL;
        rd_free(data);
    }
    return found;
}

static void test_store_keeps_a_hash(void **state)
{
    (void)state;
    char root[RD_TOKEN_MAX], eve[RD_TOKEN_MAX];
    int64_t seq = audit_next();
    first_admin(root);
    add_user(root, "eve", RD_ROLE_VIEWER, RD_SCOPE_ADMIN, 0, eve);
    char hash[RD_SHA256_HEX];
    rd_sha256_hex(eve, strlen(eve), hash);
    assert_true(db_holds(hash));
    assert_true(db_holds("eve"));
    assert_false(db_holds(eve + 17));
    assert_false(db_holds(root + 17));
    /* nor does any audit entry hold a token: user.add and token.issue name its id */
    audit_rows *a = audit_from(seq);
    assert_int_equal(a->n, 4);
    const char *actions[] = {"user.add", "token.issue", "user.add", "token.issue"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(a->action[i], actions[i]);
        assert_null(strstr(a->detail[i], "rdk_"));
        assert_null(strstr(a->detail[i], eve + 17));
    }
    assert_string_equal(a->actor[0], "console");
    assert_string_equal(a->object[0], "user/root");
    assert_non_null(strstr(a->detail[0], "\"role\":\"admin\""));
    assert_non_null(strstr(a->detail[0], "\"by\":\"console\""));
    char object[32];
    snprintf(object, sizeof object, "token/%.12s", eve + 4);
    assert_string_equal(a->actor[3], "root");
    assert_string_equal(a->object[3], object);
    assert_non_null(strstr(a->detail[3], "\"user\":\"eve\""));
    assert_non_null(strstr(a->detail[3], "\"scopes\":\"admin\""));
    assert_non_null(strstr(a->detail[3], "\"expires\":null"));
}

/* ------------------------------------------------------------------ who may add */

static void test_first_admin_at_console(void **state)
{
    (void)state;
    char root[RD_TOKEN_MAX], tok[RD_TOKEN_MAX], eng[RD_TOKEN_MAX], sc[RD_TOKEN_MAX];
    rd_err err;
    strcpy(tok, "untouched");
    /* the first user must be an admin */
    assert_int_equal(rd_user_add(st, &console, "alice", RD_ROLE_MANAGER, RD_SCOPE_ADMIN, 0, T0, tok, &err),
                     RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "must be an admin"));
    assert_string_equal(tok, "untouched");
    bool on = true;
    assert_int_equal(rd_auth_enabled(st, &on, &err), RD_OK);
    assert_false(on); /* nothing was written */
    assert_int_equal(rd_user_add(st, NULL, "root", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, T0, root, &err), RD_OK);

    /* then the console may add nobody, not even another admin */
    assert_int_equal(rd_user_add(st, &console, "root2", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, T0, tok, &err),
                     RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "admin's token"));
    assert_int_equal(rd_user_add(st, NULL, "root2", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, T0, tok, &err),
                     RD_EFORBIDDEN);
    assert_string_equal(tok, "untouched");

    /* an engineer cannot add users; an admin can, with a token holding the admin scope */
    add_user(root, "eng", RD_ROLE_ENGINEER, RD_SCOPE_ADMIN, 0, eng);
    rd_principal e = login(eng, T0);
    assert_int_equal(rd_user_add(st, &e, "mallory", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, T0, tok, &err),
                     RD_EFORBIDDEN);
    assert_string_equal(err.msg, "eng (engineer) may not add users: the role lacks the users permission");
    assert_int_equal(rd_token_issue(st, &e, "eng", RD_SCOPE_ADMIN, 0, T0, tok, &err), RD_EFORBIDDEN);

    rd_principal a = login(root, T0);
    assert_int_equal(rd_token_issue(st, &a, "root", RD_SCOPE_SCORE, 0, T0, sc, &err), RD_OK);
    rd_principal score_only = login(sc, T0);
    assert_int_equal(rd_user_add(st, &score_only, "mallory", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, T0, tok, &err),
                     RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "lacks the admin scope"));
    assert_string_equal(tok, "untouched");

    /* the library's own checks of the arguments */
    assert_int_equal(rd_user_add(st, &a, "eng", RD_ROLE_VIEWER, RD_SCOPE_ADMIN, 0, T0, tok, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "exists"));
    assert_int_equal(rd_user_add(st, &a, "Bad Name", RD_ROLE_VIEWER, RD_SCOPE_ADMIN, 0, T0, tok, &err),
                     RD_EINVAL);
    assert_int_equal(rd_user_add(st, &a, "x", RD_ROLE_VIEWER, 0, 0, T0, tok, &err), RD_EINVAL);
    assert_int_equal(rd_user_add(st, &a, "x", RD_ROLE_VIEWER, RD_SCOPE_ADMIN, T0, T0, tok, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not in the future"));
    assert_int_equal(rd_user_add(st, &a, "x", RD_ROLE_COUNT, RD_SCOPE_ADMIN, 0, T0, tok, &err), RD_EINVAL);
    assert_string_equal(tok, "untouched");

    /* the console needs a token for everything else */
    assert_int_equal(rd_user_disable(st, &console, "eng", true, T0, &err), RD_EUNAUTH);
    assert_int_equal(rd_token_revoke(st, NULL, "000000000000", T0, &err), RD_EUNAUTH);
}

static void test_last_admin_kept(void **state)
{
    (void)state;
    char root[RD_TOKEN_MAX], ops[RD_TOKEN_MAX];
    rd_err err;
    first_admin(root);
    rd_principal a = login(root, T0);
    assert_int_equal(rd_user_disable(st, &a, "root", true, T0, &err), RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "last active admin"));
    assert_int_equal(rd_user_set_role(st, &a, "root", RD_ROLE_MANAGER, T0, &err), RD_EFORBIDDEN);
    add_user(root, "ops", RD_ROLE_ADMIN, RD_SCOPE_ADMIN, 0, ops);
    int64_t seq = audit_next();
    assert_int_equal(rd_user_set_role(st, &a, "ops", RD_ROLE_OPERATOR, T0, &err), RD_OK);
    assert_int_equal(rd_user_set_role(st, &a, "ops", RD_ROLE_OPERATOR, T0, &err), RD_OK); /* no change */
    assert_int_equal(rd_user_set_role(st, &a, "ops", RD_ROLE_ADMIN, T0, &err), RD_OK);
    assert_int_equal(rd_user_disable(st, &a, "root", true, T0, &err), RD_OK); /* ops is still an admin */
    audit_rows *r = audit_from(seq);
    assert_int_equal(r->n, 3);
    assert_string_equal(r->action[0], "user.role");
    assert_non_null(strstr(r->detail[0], "\"from\":\"admin\""));
    assert_non_null(strstr(r->detail[0], "\"to\":\"operator\""));
    assert_string_equal(r->action[2], "user.disable");
    assert_string_equal(r->object[2], "user/root");
    assert_int_equal(rd_user_set_role(st, &a, "nobody", RD_ROLE_VIEWER, T0, &err), RD_ENOTFOUND);
}

typedef struct users_seen {
    size_t n;
    rd_user_info u[4];
} users_seen;

static int keep_user(void *ud, const rd_user_info *u)
{
    users_seen *s = ud;
    if (s->n < 4)
        s->u[s->n] = *u;
    s->n++;
    return 0;
}

typedef struct tokens_seen {
    size_t n;
    rd_token_info t[8];
} tokens_seen;

static int keep_token(void *ud, const rd_token_info *t)
{
    tokens_seen *s = ud;
    if (s->n < 8)
        s->t[s->n] = *t;
    s->n++;
    return 0;
}

static void test_revoke_and_lists(void **state)
{
    (void)state;
    char root[RD_TOKEN_MAX], amy[RD_TOKEN_MAX], amy2[RD_TOKEN_MAX], ben[RD_TOKEN_MAX];
    rd_err err;
    first_admin(root);
    add_user(root, "amy", RD_ROLE_ANALYST, RD_SCOPE_SCORE, 0, amy);
    add_user(root, "ben", RD_ROLE_MANAGER, RD_SCOPE_ADMIN, 0, ben);
    rd_principal a = login(root, T0);
    assert_int_equal(rd_token_issue(st, &a, "amy", RD_SCOPE_ADMIN, 0, T0, amy2, &err), RD_OK);

    /* anyone may revoke their own token (even one without the admin scope), not another's */
    rd_principal pa = login(amy, T0), pb = login(ben, T0);
    assert_int_equal(rd_token_revoke(st, &pb, pa.token_id, T0, &err), RD_EFORBIDDEN);
    assert_int_equal(rd_token_revoke(st, &pa, pb.token_id, T0, &err), RD_EFORBIDDEN);
    int64_t seq = audit_next();
    assert_int_equal(rd_token_revoke(st, &pa, pa.token_id, T0 + 5, &err), RD_OK);
    audit_rows *r = audit_from(seq);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->action[0], "token.revoke");
    assert_string_equal(r->actor[0], "amy");

    users_seen us = {0};
    assert_int_equal(rd_user_list(st, keep_user, &us, &err), RD_OK);
    assert_int_equal(us.n, 3);
    assert_string_equal(us.u[0].name, "amy");
    assert_int_equal(us.u[0].role, RD_ROLE_ANALYST);
    assert_int_equal(us.u[0].active_tokens, 1); /* one of two revoked */
    assert_string_equal(us.u[0].created_by, "root");
    assert_string_equal(us.u[2].name, "root");
    assert_string_equal(us.u[2].created_by, "console");

    tokens_seen ts = {0};
    assert_int_equal(rd_token_list(st, "amy", keep_token, &ts, &err), RD_OK);
    assert_int_equal(ts.n, 2);
    assert_int_equal(ts.t[0].revoked_ms + ts.t[1].revoked_ms, T0 + 5);
    memset(&ts, 0, sizeof ts);
    assert_int_equal(rd_token_list(st, NULL, keep_token, &ts, &err), RD_OK);
    assert_int_equal(ts.n, 4);

    /* a disabled user is issued no token */
    assert_int_equal(rd_user_disable(st, &a, "ben", true, T0, &err), RD_OK);
    assert_int_equal(rd_token_issue(st, &a, "ben", RD_SCOPE_ADMIN, 0, T0, amy2, &err), RD_EINVAL);
    assert_int_equal(rd_token_issue(st, &a, "nobody", RD_SCOPE_ADMIN, 0, T0, amy2, &err), RD_ENOTFOUND);
}

static void test_last_used(void **state)
{
    (void)state;
    char root[RD_TOKEN_MAX];
    rd_err err;
    first_admin(root);
    tokens_seen ts = {0};
    login(root, T0 + 1000);
    assert_int_equal(rd_token_list(st, "root", keep_token, &ts, &err), RD_OK);
    assert_int_equal(ts.t[0].last_used_ms, T0 + 1000);
    login(root, T0 + 59000); /* within the minute: no write */
    memset(&ts, 0, sizeof ts);
    assert_int_equal(rd_token_list(st, "root", keep_token, &ts, &err), RD_OK);
    assert_int_equal(ts.t[0].last_used_ms, T0 + 1000);
    login(root, T0 + 61000);
    memset(&ts, 0, sizeof ts);
    assert_int_equal(rd_token_list(st, "root", keep_token, &ts, &err), RD_OK);
    assert_int_equal(ts.t[0].last_used_ms, T0 + 61000);

    /* a read-only store authenticates, and only the mark is lost */
    char ro_url[80];
    snprintf(ro_url, sizeof ro_url, "%s", dir);
    rd_store_opts ro = {.read_only = true};
    rd_store *r;
    assert_int_equal(rd_store_open(ro_url, &ro, &r, &err), RD_OK);
    rd_principal p;
    assert_int_equal(rd_auth_authenticate(r, root, T0 + 200000, &p, &err), RD_OK);
    rd_store_close(r);
}

static void test_token_file(void **state)
{
    (void)state;
    char path[128], token[RD_TOKEN_MAX];
    rd_err err;
    snprintf(path, sizeof path, "%s/tok", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("  rdk_0123456789ab_secret\n\n", f);
    fclose(f);
    assert_int_equal(rd_token_read_file(path, token, &err), RD_OK);
    assert_string_equal(token, "rdk_0123456789ab_secret");
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(" \n", f);
    fclose(f);
    assert_int_equal(rd_token_read_file(path, token, &err), RD_EUNAUTH);
    assert_non_null(strstr(err.msg, path));
    snprintf(path, sizeof path, "%s/none", dir);
    assert_int_equal(rd_token_read_file(path, token, &err), RD_EIO);
    assert_non_null(strstr(err.msg, path));
}

/* ------------------------------------------------------------------ the limiter */

#define MIN(m) (T0 + (m)*60000LL)

static void test_limiter(void **state)
{
    (void)state;
    rd_auth_limiter *l = rd_auth_limiter_new(3);
    assert_non_null(l);
    rd_err err;
    int64_t seq = audit_next();
    /* minute 1: 10.0.0.1 fails three times and is then refused twice; 10.0.0.2 fails once */
    for (int i = 0; i < 3; i++) {
        assert_true(rd_auth_limiter_allow(l, "10.0.0.1", MIN(1) + i));
        rd_auth_limiter_fail(
            l, "10.0.0.1", i == 2 ? "expired: token 0123456789ab expired at x" : "unknown token", MIN(1) + i);
    }
    assert_false(rd_auth_limiter_allow(l, "10.0.0.1", MIN(1) + 10));
    assert_false(rd_auth_limiter_allow(l, "10.0.0.1", MIN(1) + 59999));
    assert_true(rd_auth_limiter_allow(l, "10.0.0.2", MIN(1) + 20));
    rd_auth_limiter_fail(l, "10.0.0.2", "malformed token: ...", MIN(1) + 20);
    /* minute 2: a new window */
    assert_true(rd_auth_limiter_allow(l, "10.0.0.1", MIN(2)));
    rd_auth_limiter_fail(l, "10.0.0.1", "wrong secret: ...", MIN(2) + 1);

    /* within minute 1 nothing has ended */
    assert_int_equal(rd_auth_limiter_flush(l, st, MIN(1) + 59999, &err), RD_OK);
    assert_int_equal(audit_from(seq)->n, 0);
    /* in minute 2: minute 1's two sources, one entry each */
    assert_int_equal(rd_auth_limiter_flush(l, st, MIN(2) + 5, &err), RD_OK);
    audit_rows *r = audit_from(seq);
    assert_int_equal(r->n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(r->action[i], "auth.failed");
        assert_string_equal(r->actor[i], "anonymous");
        assert_non_null(strstr(r->detail[i], "\"minute\":\"2026-12-07T00:01Z\""));
    }
    assert_string_equal(r->object[0], "source/10.0.0.1");
    assert_string_equal(r->detail[0], "{\"failures\":3,\"minute\":\"2026-12-07T00:01Z\",\"reasons\":"
                                      "{\"expired\":1,\"unknown token\":2},\"refused\":2}");
    assert_string_equal(r->object[1], "source/10.0.0.2");
    assert_non_null(strstr(r->detail[1], "\"reasons\":{\"malformed token\":1}"));
    assert_non_null(strstr(r->detail[1], "\"refused\":0"));
    /* flushed minutes are forgotten; minute 2 follows once it has ended */
    assert_int_equal(rd_auth_limiter_flush(l, st, MIN(2) + 6, &err), RD_OK);
    assert_int_equal(audit_from(seq)->n, 2);
    assert_int_equal(rd_auth_limiter_flush(l, st, MIN(10), &err), RD_OK);
    r = audit_from(seq);
    assert_int_equal(r->n, 3);
    assert_non_null(strstr(r->detail[2], "\"minute\":\"2026-12-07T00:02Z\""));
    assert_non_null(strstr(r->detail[2], "\"wrong secret\":1"));
    rd_auth_limiter_free(l);
}

/* A store that cannot be written keeps the counts for the next flush. */
static void test_limiter_flush_fails(void **state)
{
    (void)state;
    rd_auth_limiter *l = rd_auth_limiter_new(0); /* 0: counted, never refused */
    rd_err err;
    for (int i = 0; i < 10; i++) {
        assert_true(rd_auth_limiter_allow(l, "::1", MIN(1)));
        rd_auth_limiter_fail(l, "::1", "unknown token", MIN(1));
    }
    rd_store_opts ro = {.read_only = true};
    rd_store *r;
    assert_int_equal(rd_store_open(dir, &ro, &r, &err), RD_OK);
    assert_int_not_equal(rd_auth_limiter_flush(l, r, MIN(3), &err), RD_OK);
    rd_store_close(r);
    rd_auth_limiter_fail(l, "::1", "unknown token", MIN(1));
    int64_t seq = audit_next();
    assert_int_equal(rd_auth_limiter_flush(l, st, MIN(3), &err), RD_OK);
    audit_rows *a = audit_from(seq);
    assert_int_equal(a->n, 1);
    assert_non_null(strstr(a->detail[0], "\"failures\":11"));
    rd_auth_limiter_free(l);
}

typedef struct others {
    size_t entries;
    unsigned other_failures;
} others;

static int count_other(void *ud, const rd_audit_row *r)
{
    others *o = ud;
    o->entries++;
    if (!strcmp(r->object, "source/other"))
        assert_int_equal(sscanf(r->detail, "{\"failures\":%u", &o->other_failures), 1);
    return 0;
}

/* Many sources: at most 4096 tracked, the rest counted under "other", never refused one by one. */
static void test_limiter_bound(void **state)
{
    (void)state;
    rd_auth_limiter *l = rd_auth_limiter_new(1);
    char src[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(src, sizeof src, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        rd_auth_limiter_fail(l, src, "unknown token", MIN(1));
    }
    assert_false(rd_auth_limiter_allow(l, "10.0.0.0", MIN(1)));
    assert_true(rd_auth_limiter_allow(l, "10.0.19.135", MIN(1))); /* the 5000th: in "other" */
    int64_t seq = audit_next();
    rd_err err;
    assert_int_equal(rd_auth_limiter_flush(l, st, MIN(2), &err), RD_OK);
    others o = {0};
    assert_int_equal(rd_store_audit_scan(st, seq, 0, false, count_other, &o, &err), RD_OK);
    assert_int_equal(o.entries, 4096 + 1);
    assert_int_equal(o.other_failures, 5000 - 4096);
    rd_auth_limiter_free(l);
}

typedef struct worker {
    rd_auth_limiter *l;
    int id;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    char src[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(src, sizeof src, "10.0.%d.%d", w->id, i % 8);
        rd_auth_limiter_allow(w->l, src, MIN(1) + i);
        rd_auth_limiter_fail(w->l, src, i % 2 ? "unknown token" : "expired", MIN(1) + i);
    }
    return NULL;
}

static int sum_failures(void *ud, const rd_audit_row *r)
{
    unsigned n;
    assert_int_equal(sscanf(r->detail, "{\"failures\":%u", &n), 1);
    *(unsigned *)ud += n;
    return 0;
}

static void test_limiter_threads(void **state)
{
    (void)state;
    rd_auth_limiter *l = rd_auth_limiter_new(1000000);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){l, i};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int64_t seq = audit_next();
    rd_err err;
    assert_int_equal(rd_auth_limiter_flush(l, st, MIN(2), &err), RD_OK);
    unsigned total = 0;
    assert_int_equal(rd_store_audit_scan(st, seq, 0, false, sum_failures, &total, &err), RD_OK);
    assert_int_equal(total, 4000);
    rd_auth_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_matrix_in_docs),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_token_format),
        cmocka_unit_test_setup_teardown(test_authenticate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_keeps_a_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_admin_at_console, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_admin_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_and_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_flush_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
