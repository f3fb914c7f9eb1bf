/* Erasure of one applicant's records (src/lib/dlog/erase.c, the store's sqlite_erase.c): the
 * role, the retention floor (refused, nothing erased, the message saying from when), who may
 * move the floor, the counts, the shadows and outcomes that go with the decisions, the other
 * applicants untouched, the audit entry that names the applicant by a hash only, the key's
 * bytes gone from the database and WAL files, and the tombstone that keeps the records in
 * flight (drained later) out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/auth.h"
#include "riskd/dlog.h"
#include "riskd/hash.h"

#define DAY_MS 86400000LL
#define NOW    1800000000000LL /* 2027-01-15 */
/* distinctive, so a byte search of the files finds only it */
#define ALICE "applicant-alice-7f3e9c"
#define BOB   "applicant-bob-51d0aa"

static char dir[64];
static rd_store *s;

static rd_principal principal(const char *user, rd_role role)
{
    rd_principal p = {.role = role, .perms = rd_role_perms(role), .scopes = RD_SCOPE_ADMIN};
    snprintf(p.user, sizeof p.user, "%s", user);
    return p;
}

static void log_row(const char *rid, const char *kind, const char *key, int64_t ts_ms)
{
    char rec[512];
    if (!strcmp(kind, "shadow"))
        snprintf(rec, sizeof rec, "{\"v\":1,\"kind\":\"shadow\",\"request_id\":\"%s\",\"source\":\"model\"}",
                 rid);
    else
        snprintf(rec, sizeof rec,
                 "{\"v\":1,\"kind\":\"primary\",\"request_id\":\"%s\",\"context\":{\"targetingKey\":\"%s\"},"
                 "\"features\":{\"age\":40},\"variant\":\"a\",\"decision\":\"approve\",\"score\":0.25}",
                 rid, key);
    rd_log_row r = {.ts_ms = ts_ms,
                    .request_id = rid,
                    .kind = kind,
                    .model_version = "demo_lr_v1.0",
                    .record = rec,
                    .record_len = strlen(rec)};
    rd_err err;
    assert_int_equal(rd_store_log_append(s, &r, 1, &err), RD_OK);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-erase-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &s, &err), RD_OK);
    /* alice: three decisions, 100 to 400 days old, two of them scored in shadow, one labelled */
    log_row("a-1", "primary", ALICE, NOW - 400 * DAY_MS);
    log_row("a-1", "shadow", NULL, NOW - 400 * DAY_MS);
    log_row("a-2", "primary", ALICE, NOW - 200 * DAY_MS);
    log_row("b-1", "primary", BOB, NOW - 150 * DAY_MS);
    log_row("b-1", "shadow", NULL, NOW - 150 * DAY_MS);
    log_row("a-3", "primary", ALICE, NOW - 100 * DAY_MS);
    log_row("a-3", "shadow", NULL, NOW - 100 * DAY_MS);
    log_row("junk", "primary", "x", NOW); /* replaced below by a record that is not JSON */
    rd_outcome o[] = {{"a-2", "dpd30", 1, 0}, {"b-1", "dpd30", 0, 0}};
    rd_outcome_result res[2];
    assert_int_equal(rd_store_outcomes_put(s, o, 2, NOW - 50 * DAY_MS, res, &err), RD_OK);
    assert_int_equal(res[0], RD_OUTCOME_NEW);
    rd_log_row bad = {
        .ts_ms = NOW, .request_id = "junk2", .kind = "primary", .record = "not json {", .record_len = 10};
    assert_int_equal(rd_store_log_append(s, &bad, 1, &err), RD_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

typedef struct counts {
    const char *key;
    int primaries, shadows; /* of request ids a-* (alice) or b-* */
} counts;

static int count_row(void *ud, const rd_log_row *r)
{
    counts *c = ud;
    if (r->request_id[0] != c->key[10]) /* 'a' or 'b' after "applicant-" */
        return 0;
    if (!strcmp(r->kind, "primary"))
        c->primaries++;
    else
        c->shadows++;
    return 0;
}

static counts count(const char *key)
{
    counts c = {key, 0, 0};
    rd_err err;
    assert_int_equal(rd_store_log_scan(s, NULL, count_row, &c, &err), RD_OK);
    return c;
}

static int audit_row(void *ud, const rd_audit_row *r)
{
    rd_buf *b = ud;
    rd_buf_printf(b, "%s|%s|%s|%s\n", r->actor, r->action, r->object, r->detail);
    return 0;
}

static void audit_text(rd_buf *b)
{
    rd_err err;
    rd_buf_reset(b);
    assert_int_equal(rd_store_audit_scan(s, 0, 0, false, audit_row, b, &err), RD_OK);
    rd_buf_cstr(b);
}

/* How many times needle's bytes are in the file. */
static int occurrences(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int hits = 0;
    for (size_t i = 0; i + strlen(needle) <= n; i++)
        hits += !memcmp(buf + i, needle, strlen(needle));
    return hits;
}

static void test_roles(void **state)
{
    (void)state;
    rd_err err;
    rd_principal eng = principal("erin", RD_ROLE_ENGINEER), console = {.console = true};
    assert_int_equal(rd_dlog_erase(s, &eng, ALICE, NOW, NULL, NULL, &err), RD_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "the role lacks the erase permission"));
    assert_int_equal(rd_dlog_erase(s, &console, ALICE, NOW, NULL, NULL, &err), RD_EUNAUTH);
    rd_principal mgr = principal("mia", RD_ROLE_MANAGER), adm = principal("root", RD_ROLE_ADMIN);
    assert_int_equal(rd_dlog_retention_set(s, &mgr, 0, NOW, &err),
                     RD_EFORBIDDEN); /* erasing, not the floor */
    assert_int_equal(rd_dlog_erase(s, &adm, ALICE, NOW, NULL, NULL, &err),
                     RD_EFORBIDDEN); /* the floor, not erasing */
    assert_int_equal(rd_dlog_retention_set(s, &adm, -1, NOW, &err), RD_EINVAL);
    assert_int_equal(rd_dlog_erase(s, &mgr, "", NOW, NULL, NULL, &err), RD_EINVAL);
    assert_int_equal(count(ALICE).primaries, 3);
}

static void test_floor_then_erase(void **state)
{
    (void)state;
    rd_err err;
    rd_principal mgr = principal("mia", RD_ROLE_MANAGER), adm = principal("root", RD_ROLE_ADMIN);
    int days;
    assert_int_equal(rd_dlog_retention_get(s, &days, &err), RD_OK);
    assert_int_equal(days, RD_RETENTION_FLOOR_DEFAULT);
    /* the newest is 100 days old: inside 760 days; nothing erased, the day it can be named */
    rd_dlog_erased e;
    assert_int_equal(rd_dlog_erase(s, &mgr, ALICE, NOW, "customer request", &e, &err), RD_ECONFLICT);
    assert_non_null(strstr(err.msg, "inside the retention floor of 760 days"));
    assert_non_null(strstr(err.msg, "can be erased from 2028-11-"));
    assert_null(strstr(err.msg, ALICE));
    assert_int_equal(count(ALICE).primaries, 3);
    /* 150 days: still inside (the newest counts) */
    assert_int_equal(rd_dlog_retention_set(s, &adm, 150, NOW, &err), RD_OK);
    assert_int_equal(rd_dlog_erase(s, &mgr, ALICE, NOW, NULL, &e, &err), RD_ECONFLICT);
    assert_int_equal(rd_dlog_retention_set(s, &adm, 90, NOW, &err), RD_OK);
    assert_int_equal(rd_dlog_retention_get(s, &days, &err), RD_OK);
    assert_int_equal(days, 90);
    assert_int_equal(rd_dlog_erase(s, &mgr, ALICE, NOW, "customer request", &e, &err), RD_OK);
    assert_int_equal(e.decisions, 3);
    assert_int_equal(e.shadows, 2);
    assert_int_equal(e.outcomes, 1);
    assert_int_equal(e.oldest_ms, NOW - 400 * DAY_MS);
    assert_int_equal(e.newest_ms, NOW - 100 * DAY_MS);
    char hex[RD_SHA256_HEX], object[80];
    rd_sha256_hex(ALICE, strlen(ALICE), hex);
    snprintf(object, sizeof object, "applicant/%s", hex);
    assert_string_equal(e.object, object);
    assert_true(e.scrubbed);
    counts a = count(ALICE), b = count(BOB);
    assert_int_equal(a.primaries + a.shadows, 0);
    assert_int_equal(b.primaries, 1); /* bob untouched, his shadow and outcome too */
    assert_int_equal(b.shadows, 1);
    rd_outcome_stats st;
    assert_int_equal(rd_store_outcome_stats(s, "demo_lr_v1.0", NULL, "dpd30", 0, 0, 1, &st, &err), RD_OK);
    assert_int_equal(st.labelled, 1);
    /* audited: the floor changes and the erasure, by hash; the key nowhere */
    rd_buf t;
    rd_buf_init(&t);
    audit_text(&t);
    assert_non_null(strstr(
        t.data, "root|settings.retention_floor|setting/retention_floor_days|{\"from\":760,\"to\":150}"));
    char want[256];
    snprintf(want, sizeof want, "mia|decisions.erase|%s|", object);
    assert_non_null(strstr(t.data, want));
    assert_non_null(strstr(t.data, "\"count\":3"));
    assert_non_null(strstr(t.data, "\"reason\":\"customer request\""));
    assert_non_null(strstr(t.data, "\"floor_days\":90"));
    assert_null(strstr(t.data, ALICE));
    rd_buf_deinit(&t);
    /* once erased, nothing to erase */
    assert_int_equal(rd_dlog_erase(s, &mgr, ALICE, NOW, NULL, &e, &err), RD_ENOTFOUND);
    /* the bytes are gone from the files, not only from the table */
    char db[128], wal[128];
    snprintf(db, sizeof db, "%s/riskd.db", dir);
    snprintf(wal, sizeof wal, "%s/riskd.db-wal", dir);
    assert_int_equal(occurrences(db, ALICE) + occurrences(wal, ALICE), 0);
    assert_true(occurrences(db, BOB) + occurrences(wal, BOB) > 0);
}

static void test_escaped_key(void **state)
{
    (void)state;
    /* a key the writer escapes (a quote): found without the substring shortcut */
    log_row("q-1", "primary", "o\\\"brien", NOW - 900 * DAY_MS);
    rd_principal mgr = principal("mia", RD_ROLE_MANAGER);
    rd_dlog_erased e;
    rd_err err;
    assert_int_equal(rd_dlog_erase(s, &mgr, "o\"brien", NOW, NULL, &e, &err), RD_OK);
    assert_int_equal(e.decisions, 1);
    assert_int_equal(rd_dlog_erase(s, &mgr, "o\"brie", NOW, NULL, &e, &err), RD_ENOTFOUND);
}

/* review16 #12: records in flight when the erasure ran (another node's spool, drained later)
 * are not stored when they arrive: the applicant's decisions made before the erasure are
 * skipped, a later decision of theirs and other applicants' records are kept. A refused
 * erasure leaves no tombstone. */
static void test_in_flight(void **state)
{
    (void)state;
    rd_principal mgr = principal("mia", RD_ROLE_MANAGER), adm = principal("root", RD_ROLE_ADMIN);
    rd_dlog_erased e;
    rd_err err;
    assert_int_equal(rd_dlog_erase(s, &mgr, ALICE, NOW, NULL, &e, &err), RD_ECONFLICT); /* the floor */
    log_row("a-4", "primary", ALICE, NOW - 120 * DAY_MS);
    assert_int_equal(count(ALICE).primaries, 4);
    assert_int_equal(rd_dlog_retention_set(s, &adm, 90, NOW, &err), RD_OK);
    assert_int_equal(rd_dlog_erase(s, &mgr, ALICE, NOW, NULL, &e, &err), RD_OK);
    assert_int_equal(e.decisions, 4);
    /* drained from a spool after the erasure: decided before it */
    log_row("a-5", "primary", ALICE, NOW - 95 * DAY_MS);
    log_row("a-6", "primary", ALICE, NOW - 1);
    log_row("b-2", "primary", BOB, NOW - 95 * DAY_MS);
    assert_int_equal(count(ALICE).primaries, 0);
    assert_int_equal(count(BOB).primaries, 2);
    /* the applicant comes back after the erasure: a new decision, kept */
    log_row("a-7", "primary", ALICE, NOW + 1000);
    assert_int_equal(count(ALICE).primaries, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floor_then_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
