/* The flag set kept in the store (change.h, "flags kept in the store"), on SQLite and, when the
 * test run has a PostgreSQL cluster (RISKD_PG_DIR), on a fresh PostgreSQL database: the import
 * refused twice and for a bad flag set; a change proposed against the store, published as the
 * next version (a compare-and-swap: a change made against an older version is refused); a
 * rollback; a rollout stage write (rd_flagtarget_update) with its own compare-and-swap; every
 * write a version and an audit entry, the chain verifying; on PostgreSQL, each publish
 * notifying a watch on another connection, and nothing for a refused one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/audit.h"
#include "riskd/change.h"
#include "riskd/hash.h"
#include "riskd/rollout.h"
#include "riskd/store.h"

static const char v1[] =
    "{\"flags\":{\"model-route\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"m_v1.0\",\"b\":"
    "\"m_v2.0\"},\"defaultVariant\":\"a\"}}}";
static const char v2[] =
    "{\"flags\":{\"model-route\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"m_v1.0\",\"b\":"
    "\"m_v2.0\"},\"defaultVariant\":\"b\"}}}";
static const char v3[] =
    "{\"flags\":{\"model-route\":{\"state\":\"DISABLED\",\"variants\":{\"a\":\"m_v1.0\",\"b\":"
    "\"m_v2.0\"},\"defaultVariant\":\"a\"}}}";

typedef struct fixture {
    char url[512];
    char dir[128]; /* sqlite's, removed at the end */
    rd_store *s;
} fixture;

static rd_principal who(const char *name, rd_role role)
{
    rd_principal p = {.role = role, .perms = rd_role_perms(role), .scopes = RD_SCOPE_ADMIN};
    snprintf(p.user, sizeof p.user, "%s", name);
    snprintf(p.token_id, sizeof p.token_id, "%.12s", name);
    return p;
}

static int setup_sqlite(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/riskd-sflags-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->dir);
    rd_err err;
    assert_int_equal(rd_store_open(f->url, NULL, &f->s, &err), RD_OK);
    *state = f;
    return 0;
}

/* A fresh database on the run's cluster (scripts/pg-cluster.sh createdb). */
static int setup_pg(void **state)
{
    const char *pgdir = getenv("RISKD_PG_DIR");
    if (!pgdir || !*pgdir)
        return 0; /* the test itself skips */
    fixture *f = calloc(1, sizeof *f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh createdb '%s' sflags_%d", pgdir, (int)getpid());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(f->url, sizeof f->url, p));
    assert_int_equal(pclose(p), 0);
    f->url[strcspn(f->url, "\n")] = '\0';
    rd_err err;
    int rc = rd_store_open(f->url, NULL, &f->s, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    rd_store_close(f->s);
    if (f->dir[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
    }
    free(f);
    return 0;
}

static int64_t propose(rd_store *s, const rd_principal *p, const char *text)
{
    rd_change_spec spec = {
        .kind = RD_CHANGE_FLAGS, .target = RD_FLAGS_STORE, .payload = text, .payload_len = strlen(text)};
    int64_t id = 0;
    rd_err err;
    int rc = rd_change_propose(s, p, &spec, 1000, &id, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    return id;
}

static void read_current(rd_store *s, const char *want_text, int64_t want_version)
{
    char *text, sha[RD_SHA256_HEX];
    size_t len;
    int64_t version;
    rd_err err;
    assert_int_equal(rd_flags_store_read(s, &text, &len, sha, &version, &err), RD_OK);
    assert_int_equal(version, want_version);
    assert_int_equal(len, strlen(want_text));
    assert_memory_equal(text, want_text, len);
    rd_free(text);
}

/* Notifications a watch received (0 when the backend has none). */
static int drain_watch(rd_store_watch *w)
{
    int n = 0;
    for (int tries = 0; w && tries < 50; tries++) {
        char what[64];
        bool got;
        rd_err err;
        assert_int_equal(rd_store_watch_next(w, what, sizeof what, &got, &err), RD_OK);
        if (got) {
            n += strcmp(what, "notify") != 0; /* the outbox's wake-ups (notify.h) are not reloads */
            tries = 40; /* a few more polls for the rest */
            continue;
        }
        usleep(10000);
    }
    return n;
}

static void lifecycle(void **state)
{
    fixture *f = *state;
    if (!f) {
        print_message("skipped: postgresql not installed (no RISKD_PG_DIR cluster)\n");
        skip();
        return;
    }
    rd_store *s = f->s;
    rd_err err;
    rd_store_watch *w = NULL;
    assert_int_equal(rd_store_watch_open(f->url, &w, &err), RD_OK);
    char *text, sha[RD_SHA256_HEX];
    size_t len;
    int64_t version;
    assert_int_equal(rd_flags_store_read(s, &text, &len, sha, &version, &err), RD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "flags import"));
    /* a change cannot target an empty store */
    rd_principal m1 = who("mgr1", RD_ROLE_MANAGER), m2 = who("mgr2", RD_ROLE_MANAGER);
    rd_change_spec spec = {
        .kind = RD_CHANGE_FLAGS, .target = RD_FLAGS_STORE, .payload = v2, .payload_len = 10};
    int64_t id;
    assert_int_not_equal(rd_change_propose(s, &m1, &spec, 1000, &id, &err), RD_OK);
    /* import: a bad flag set refused; the first one version 1; a second import refused */
    assert_int_equal(rd_flags_store_import(s, "console", "{\"flags\":1}", 11, 1000, &version, &err),
                     RD_EINVAL);
    assert_int_equal(rd_flags_store_import(s, "console", v1, strlen(v1), 1000, &version, &err), RD_OK);
    assert_int_equal(version, 1);
    assert_int_equal(rd_flags_store_import(s, "console", v2, strlen(v2), 1000, &version, &err), RD_ECONFLICT);
    read_current(s, v1, 1);
    int notified = drain_watch(w);
    if (w)
        assert_int_equal(notified, 1); /* the import, once; not the refused ones */
    /* two changes on version 1: the first published wins, the second is refused (CAS) */
    int64_t a = propose(s, &m1, v2), b = propose(s, &m1, v3);
    assert_int_equal(rd_change_approve(s, &m2, a, 0, NULL, 1001, &err), RD_OK);
    assert_int_equal(rd_change_approve(s, &m2, b, 0, NULL, 1001, &err), RD_OK);
    int64_t pv;
    assert_int_equal(rd_change_publish(s, &m2, a, 1002, &pv, &err), RD_OK);
    assert_int_equal(pv, 2);
    read_current(s, v2, 2);
    assert_int_equal(rd_change_publish(s, &m2, b, 1003, &pv, &err), RD_ECONFLICT);
    read_current(s, v2, 2);
    if (w)
        assert_int_equal(drain_watch(w), 1); /* the refused publish rolled back its notification */
    /* a rollback: version 3 holds version 1's text */
    int rc = rd_change_rollback(s, &m2, RD_CHANGE_FLAGS, NULL, 0, "bad", 1004, &pv, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    assert_int_equal(pv, 3);
    read_current(s, v1, 3);
    /* a rollout stage write: against the version read, else refused */
    char now[RD_SHA256_HEX], stale[RD_SHA256_HEX], after[RD_SHA256_HEX];
    assert_int_equal(rd_flagtarget_sha(s, RD_FLAGS_STORE, now, &err), RD_OK);
    rd_sha256_hex(v2, strlen(v2), stale);
    assert_int_equal(rd_flagtarget_update(s, RD_FLAGS_STORE, stale, "model-route",
                                          "{\"fractional\":[[\"a\",50],[\"b\",50]]}", NULL, NULL, "canary",
                                          "controller", after, &err),
                     RD_ECONFLICT);
    assert_int_equal(rd_flagtarget_update(s, RD_FLAGS_STORE, now, "model-route",
                                          "{\"fractional\":[[\"a\",50],[\"b\",50]]}", NULL, NULL, "canary",
                                          "controller", after, &err),
                     RD_OK);
    assert_int_equal(rd_flags_store_read(s, &text, &len, sha, &version, &err), RD_OK);
    assert_int_equal(version, 4);
    assert_string_equal(sha, after);
    assert_non_null(strstr(text, "fractional"));
    rd_free(text);
    if (w)
        assert_int_equal(drain_watch(w), 2); /* the rollback and the stage */
    /* the served file's name is the store's: the change targets need no path */
    bool ok;
    char why[200];
    assert_int_equal(
        rd_change_served_ok(s, RD_CHANGE_FLAGS, RD_FLAGS_STORE, after, &ok, why, sizeof why, &err), RD_OK);
    assert_true(ok);
    rd_audit_verify_result rep;
    assert_int_equal(rd_audit_verify(s, 0, NULL, NULL, NULL, &rep, &err), RD_OK);
    assert_int_equal(rep.first_bad, 0);
    assert_true(rep.entries >= 6);
    rd_store_watch_close(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(lifecycle, setup_sqlite, teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(lifecycle, setup_pg, teardown, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
