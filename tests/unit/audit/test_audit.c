/* The audit chain (src/lib/audit/audit.c): entries appended and verified intact; the hash
 * against the documented byte recipe written out by hand; an entry appended inside a caller's
 * transaction that rolls back is gone with it; the triggers refuse UPDATE and DELETE; bad
 * entries are refused with nothing written; and verify names the first bad seq of an edited,
 * a deleted, a reordered and an inserted entry and of a tail cut off below an anchor. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/audit.h"

#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"
#define AB   "abababababababababababababababababababababababababababababababab"

static char dir[64];
static char db_dir[128]; /* the store's directory: dir, or a case's own under it */

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-audit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db_dir, sizeof db_dir, "%s", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static rd_store *open_store(void)
{
    rd_store *s;
    rd_err err;
    assert_int_equal(rd_store_open(db_dir, NULL, &s, &err), RD_OK);
    return s;
}

/* Entry i of a test chain: distinct actions, details and times. */
static int64_t append_nth(rd_store *s, int i)
{
    char action[32], detail[64];
    snprintf(action, sizeof action, "test.action%d", i);
    snprintf(detail, sizeof detail, "{\"i\": %d, \"note\": \"entry %d\"}", i, i);
    rd_audit_entry e = {.ts_ms = 1796619600000 + i,
                        .actor = "alice",
                        .action = action,
                        .object = "change/1",
                        .detail_json = detail};
    int64_t seq = 0;
    rd_err err;
    int rc = rd_audit_append(s, &e, &seq, &err);
    if (rc)
        fail_msg("append %d: %s", i, err.msg);
    return seq;
}

static uint64_t count(rd_store *s)
{
    uint64_t n;
    rd_err err;
    assert_int_equal(rd_store_audit_count(s, &n, &err), RD_OK);
    return n;
}

static rd_audit_verify_result verify(rd_store *s, int64_t anchor_seq, const char *anchor_hash)
{
    rd_audit_verify_result r;
    rd_err err;
    assert_int_equal(rd_audit_verify(s, anchor_seq, anchor_hash, NULL, NULL, &r, &err), RD_OK);
    return r;
}

/* Run SQL on the database behind the store's back (the store must be closed); returns the
 * SQLite code, and the message in msg. */
static int raw_sql(const char *sql, char *msg, size_t cap)
{
    char path[160];
    snprintf(path, sizeof path, "%s/riskd.db", db_dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *e = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
    if (msg)
        snprintf(msg, cap, "%s", e ? e : "");
    sqlite3_free(e);
    sqlite3_close(db);
    return rc;
}

/* ------------------------------------------------------------------ cases */

typedef struct lines {
    int n;
    char first[1024];
} lines;

static int collect(void *ud, const char *json, size_t len)
{
    lines *l = ud;
    if (l->n++ == 0)
        snprintf(l->first, sizeof l->first, "%.*s", (int)len, json);
    return 0;
}

static void test_append_and_verify(void **state)
{
    (void)state;
    rd_store *s = open_store();
    rd_audit_verify_result r = verify(s, 0, NULL);
    assert_int_equal(r.first_bad, 0);
    assert_int_equal(r.entries, 0);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(append_nth(s, i), i);
    r = verify(s, 0, NULL);
    assert_int_equal(r.first_bad, 0);
    assert_int_equal(r.entries, 5);
    assert_int_equal(r.head_seq, 5);
    int64_t seq;
    char hash[RD_SHA256_HEX];
    rd_err err;
    assert_int_equal(rd_audit_head(s, &seq, hash, &err), RD_OK);
    assert_int_equal(seq, 5);
    assert_string_equal(hash, r.head_hash);
    r = verify(s, 5, hash); /* the anchor it just gave */
    assert_int_equal(r.first_bad, 0);

    lines l = {0};
    assert_int_equal(rd_audit_each(s, 0, 0, collect, &l, &err), RD_OK);
    assert_int_equal(l.n, 5);
    /* the ten members, keys sorted, the detail an object in its canonical form */
    assert_non_null(strstr(l.first, "{\"action\":\"test.action1\",\"actor\":\"alice\",\"after_sha256\":\"\","
                                    "\"before_sha256\":\"\",\"detail\":{\"i\":1,\"note\":\"entry 1\"},"
                                    "\"hash\":\""));
    assert_non_null(
        strstr(l.first, "\"prev_hash\":\"" ZERO "\",\"seq\":1,\"time\":\"2026-12-07T05:00:00.001Z\"}"));
    memset(&l, 0, sizeof l);
    assert_int_equal(rd_audit_each(s, 4, 0, collect, &l, &err), RD_OK);
    assert_int_equal(l.n, 2);
    memset(&l, 0, sizeof l);
    assert_int_equal(rd_audit_latest(s, 2, collect, &l, &err), RD_OK);
    assert_int_equal(l.n, 2);
    assert_non_null(strstr(l.first, "\"seq\":5,")); /* newest first */
    rd_store_close(s);
}

/* The recipe of docs/governance.md, spelled out as bytes: prev_hash, then the canonical JSON of
 * the eight members (keys sorted, no white space, the detail re-ordered and compacted, 0.5 and
 * 1 as JavaScript prints them, only the quote and the control characters escaped). */
static void test_hash_known_answer(void **state)
{
    (void)state;
    static const char preimage[] =
        ZERO "{\"action\":\"flags.publish\",\"actor\":\"alice\",\"after_sha256\":\"" AB "\","
             "\"before_sha256\":\"\",\"detail\":{\"a\":\"\xc3\xa9\\\"\\n\",\"n\":[1,0.5],\"z\":1},"
             "\"object\":\"flags:/etc/riskd/flags.json\",\"seq\":1,\"time\":\"2026-12-07T05:00:00.123Z\"}";
    char want[RD_SHA256_HEX], got[RD_SHA256_HEX];
    rd_sha256_hex(preimage, sizeof preimage - 1, want);
    /* the same, computed by Python's hashlib on that text: the SHA-256 itself is right too */
    assert_string_equal(want, "bf1dbba8c2e2442e7d681017be03d7a5076ca217b7c4cdffbdc760772c588153");
    rd_err err;
    assert_int_equal(rd_audit_hash(1, 1796619600123, "alice", "flags.publish", "flags:/etc/riskd/flags.json",
                                   "", AB, "{ \"z\": 1, \"n\": [1.0, 5e-1], \"a\": \"\\u00e9\\\"\\n\" }",
                                   ZERO, got, &err),
                     RD_OK);
    assert_string_equal(got, want);
    /* NULL strings are "", a NULL detail {} */
    char a[RD_SHA256_HEX], b[RD_SHA256_HEX];
    assert_int_equal(rd_audit_hash(2, 1, "x", "y", "z", NULL, NULL, NULL, want, a, &err), RD_OK);
    assert_int_equal(rd_audit_hash(2, 1, "x", "y", "z", "", "", "{}", want, b, &err), RD_OK);
    assert_string_equal(a, b);
    /* what cannot be hashed */
    assert_int_equal(rd_audit_hash(1, 1, "x", "y", "z", "", "", "[1]", ZERO, a, &err), RD_EINVAL);
    assert_int_equal(rd_audit_hash(1, 1, "x", "y", "z", "", "", "{}", "00", a, &err), RD_EINVAL);
    assert_int_equal(rd_audit_hash(0, 1, "x", "y", "z", "", "", "{}", ZERO, a, &err), RD_EINVAL);
    assert_int_equal(rd_audit_hash(1, -1, "x", "y", "z", "", "", "{}", ZERO, a, &err), RD_EINVAL);
}

static void test_transactions(void **state)
{
    (void)state;
    rd_store *s = open_store();
    rd_err err;
    /* the caller's transaction rolls back: the entry goes with it */
    assert_int_equal(rd_store_begin(s, &err), RD_OK);
    assert_int_equal(append_nth(s, 1), 1);
    rd_store_rollback(s);
    assert_int_equal(count(s), 0);
    /* ... commits: both entries are there, chained */
    assert_int_equal(rd_store_begin(s, &err), RD_OK);
    assert_int_equal(append_nth(s, 1), 1);
    assert_int_equal(append_nth(s, 2), 2);
    assert_int_equal(rd_store_commit(s, &err), RD_OK);
    assert_int_equal(count(s), 2);
    assert_int_equal(verify(s, 0, NULL).first_bad, 0);
    rd_store_close(s);
}

static void test_triggers(void **state)
{
    (void)state;
    rd_store *s = open_store();
    append_nth(s, 1);
    append_nth(s, 2);
    rd_store_close(s);
    char msg[256];
    assert_int_not_equal(raw_sql("UPDATE audit SET actor = 'mallory' WHERE seq = 1", msg, sizeof msg),
                         SQLITE_OK);
    assert_non_null(strstr(msg, "append-only"));
    assert_int_not_equal(raw_sql("DELETE FROM audit WHERE seq = 2", msg, sizeof msg), SQLITE_OK);
    assert_non_null(strstr(msg, "append-only"));
    s = open_store();
    assert_int_equal(count(s), 2);
    assert_int_equal(verify(s, 0, NULL).first_bad, 0);
    rd_store_close(s);
}

static void refused(rd_store *s, rd_audit_entry e, const char *why)
{
    rd_err err;
    int64_t seq = -7;
    assert_int_equal(rd_audit_append(s, &e, &seq, &err), RD_EINVAL);
    assert_int_equal(seq, -7);
    if (!strstr(err.msg, why))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, why);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    rd_store *s = open_store();
    rd_audit_entry ok = {.actor = "alice", .action = "a.b", .object = "o/1", .detail_json = "{}"}, e;
    e = ok, e.detail_json = "[1]";
    refused(s, e, "not an object");
    e = ok, e.detail_json = "{\"a\":";
    refused(s, e, "not JSON");
    char *big = malloc(70000);
    assert_non_null(big);
    memset(big, ' ', 69999);
    big[0] = '{', big[69998] = '}', big[69999] = 0;
    e = ok, e.detail_json = big;
    refused(s, e, "at most 65536");
    free(big);
    e = ok, e.detail_json = "{\"auth\":\"Bearer rdk_0123456789ab_c2VjcmV0c2VjcmV0\"}";
    refused(s, e, "must not hold a token");
    e = ok, e.detail_json = "{\"t\":\"\\u0072dk_0123456789AB_x\"}"; /* escaped: found in the canonical form */
    refused(s, e, "must not hold a token");
    e = ok, e.actor = "";
    refused(s, e, "needs its actor");
    e = ok, e.action = NULL;
    refused(s, e, "needs its action");
    e = ok, e.object = "\xff";
    refused(s, e, "not UTF-8");
    e = ok, e.before_sha256 = "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB";
    refused(s, e, "64 lowercase hex");
    e = ok, e.after_sha256 = "abc";
    refused(s, e, "64 lowercase hex");
    e = ok, e.ts_ms = -5;
    refused(s, e, "outside 1970..9999");
    assert_int_equal(count(s), 0);
    /* near misses that are fine: "rdk_" without the token's shape, a sha, no detail */
    e = ok, e.detail_json = "{\"note\":\"rdk_ is the token prefix; rdk_0123_ is not one\"}";
    e.after_sha256 = AB;
    int64_t seq;
    rd_err err;
    assert_int_equal(rd_audit_append(s, &e, &seq, &err), RD_OK);
    e = ok, e.detail_json = NULL;
    assert_int_equal(rd_audit_append(s, &e, &seq, &err), RD_OK);
    assert_int_equal(seq, 2);
    rd_audit_verify_result r;
    assert_int_equal(rd_audit_verify(s, 3, "00", NULL, NULL, &r, &err), RD_EINVAL); /* a malformed anchor */
    assert_int_equal(rd_audit_verify(s, 0, AB, NULL, NULL, &r, &err), RD_EINVAL);
    rd_store_close(s);
}

/* A chain of 10 in a new directory, the triggers dropped, then sql, then verify (with the
 * anchor taken first). */
static rd_audit_verify_result tampered(const char *sql, bool with_anchor)
{
    static int n;
    snprintf(db_dir, sizeof db_dir, "%s/case%d", dir, ++n);
    rd_store *s = open_store();
    for (int i = 1; i <= 10; i++)
        append_nth(s, i);
    int64_t seq;
    char hash[RD_SHA256_HEX];
    rd_err err;
    assert_int_equal(rd_audit_head(s, &seq, hash, &err), RD_OK);
    rd_store_close(s);
    char msg[256];
    assert_int_equal(raw_sql("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;", NULL, 0),
                     SQLITE_OK);
    if (raw_sql(sql, msg, sizeof msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    s = open_store();
    rd_audit_verify_result r = verify(s, with_anchor ? seq : 0, with_anchor ? hash : NULL);
    rd_store_close(s);
    return r;
}

static void expect_bad(rd_audit_verify_result r, int64_t seq, const char *word)
{
    print_message("  first_bad %lld: %s\n", (long long)r.first_bad, r.problem);
    if (r.first_bad != seq || !strstr(r.problem, word))
        fail_msg("first_bad %lld \"%s\", want %lld and \"%s\"", (long long)r.first_bad, r.problem,
                 (long long)seq, word);
}

static void test_tamper(void **state)
{
    (void)state;
    expect_bad(
        tampered("UPDATE audit SET detail = replace(detail, 'entry 7', 'entry 8') WHERE seq = 7", false), 7,
        "edited");
    expect_bad(tampered("UPDATE audit SET detail = '{\"i\": 4}' WHERE seq = 4", false), 4, "canonical");
    expect_bad(tampered("UPDATE audit SET ts_ms = ts_ms + 1 WHERE seq = 2", false), 2, "edited");
    expect_bad(tampered("DELETE FROM audit WHERE seq = 6", false), 6, "deleted");
    expect_bad(tampered("DELETE FROM audit WHERE seq = 1", false), 1, "deleted");
    expect_bad(
        tampered("DELETE FROM audit WHERE seq = 6; UPDATE audit SET seq = seq - 1 WHERE seq > 6", false), 6,
        "deleted");
    expect_bad(tampered("UPDATE audit SET seq = -5 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6;"
                        "UPDATE audit SET seq = 6 WHERE seq = -5",
                        false),
               5, "reordered");
    /* a copy of seq 3 inserted as seq 4, the later entries moved up one */
    static const char make_room[] = "UPDATE audit SET seq = seq + 100 WHERE seq >= 4;"
                                    "UPDATE audit SET seq = seq - 99 WHERE seq > 100;";
    char sql[1024];
    snprintf(
        sql, sizeof sql,
        "%s INSERT INTO audit SELECT 4, ts_ms, actor, action, object, before_sha256, after_sha256, detail,"
        " prev_hash, hash FROM audit WHERE seq = 3",
        make_room);
    expect_bad(tampered(sql, false), 4, "inserted");
    /* a forged seq 4 chained to seq 3 and hashed right for its own content: the next entry,
     * the old seq 4, gives it away. The chains are alike (same entries, same times), so seq 3's
     * hash is read from a chain of 3. */
    char h3[RD_SHA256_HEX], forged[RD_SHA256_HEX];
    rd_err err;
    snprintf(db_dir, sizeof db_dir, "%s/forge", dir);
    rd_store *s = open_store();
    for (int i = 1; i <= 3; i++)
        append_nth(s, i);
    assert_int_equal(rd_audit_head(s, &(int64_t){0}, h3, &err), RD_OK);
    rd_store_close(s);
    assert_int_equal(rd_audit_hash(4, 1796619600100, "mallory", "flags.publish", "flags:/x", "", "",
                                   "{\"forged\":true}", h3, forged, &err),
                     RD_OK);
    snprintf(sql, sizeof sql,
             "%s INSERT INTO audit VALUES(4, 1796619600100, 'mallory', 'flags.publish', 'flags:/x', '', '',"
             " '{\"forged\":true}', '%s', '%s')",
             make_room, h3, forged);
    expect_bad(tampered(sql, false), 4, "inserted");
    /* the tail cut: intact in itself, found only against the anchor */
    expect_bad(tampered("DELETE FROM audit WHERE seq > 7", false), 0, "");
    expect_bad(tampered("DELETE FROM audit WHERE seq > 7", true), 8,
               "truncated: the anchor's seq 10 is missing");
    expect_bad(tampered("DELETE FROM audit", true), 1, "truncated");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_verify, setup, teardown),
        cmocka_unit_test(test_hash_known_answer),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triggers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
