/* The transition spool: appended lines drained into the store in order and removed; a torn
 * last line (a writer killed mid-line) is dropped without losing a complete line, and the next
 * append starts a line of its own; a store that cannot be written keeps the lines in the
 * spool; a transition the store already holds (a crash between its commit and the rewrite) is
 * not stored twice; rd_transition_record falls back to the spool and drains it first. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/rollout.h"

static char dir[64], spool[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-spool-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(spool, sizeof spool, "%s/rollout.spool", dir);
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

static rd_transition tr(int i)
{
    rd_transition t = {
        .ts_ms = 1000 + i, .from_stage = i, .to_stage = i + 1, .gates_json = "[{\"gate\":\"a\\\"b\"}]"};
    strcpy(t.flag, "credit-model-route");
    strcpy(t.from_state, "running");
    strcpy(t.to_state, "running");
    snprintf(t.reason, sizeof t.reason, "advance-%d", i);
    strcpy(t.detail, "gates passed: \"reject_rate\" 1.01 < 1.2\nnext line");
    strcpy(t.actor, "controller");
    memset(t.flags_sha, 'c', 64);
    return t;
}

typedef struct seen {
    int n;
    char reasons[16][64];
    char detail[512], gates[128];
} seen;

static int collect(void *ud, const rd_transition *t)
{
    seen *s = ud;
    if (s->n < 16)
        snprintf(s->reasons[s->n], sizeof s->reasons[0], "%s", t->reason);
    snprintf(s->detail, sizeof s->detail, "%s", t->detail);
    snprintf(s->gates, sizeof s->gates, "%s", t->gates_json ? t->gates_json : "(null)");
    s->n++;
    return 0;
}

static rd_store *open_store(bool read_only)
{
    rd_store *s;
    rd_err err = {0};
    char where[128];
    snprintf(where, sizeof where, "%s/db", dir);
    rd_store_opts o = {.read_only = read_only};
    if (rd_store_open(where, &o, &s, &err) != RD_OK)
        fail_msg("%s", err.msg);
    return s;
}

/* Oldest first, from the newest-first listing. */
static void stored(rd_store *s, seen *out)
{
    seen newest = {0};
    assert_int_equal(rd_transition_list(s, NULL, 0, collect, &newest, NULL), RD_OK);
    memset(out, 0, sizeof *out);
    for (int i = newest.n - 1; i >= 0; i--)
        strcpy(out->reasons[out->n++], newest.reasons[i]);
    strcpy(out->detail, newest.detail);
    strcpy(out->gates, newest.gates);
}

static void test_append_drain_in_order(void **state)
{
    (void)state;
    rd_err err = {0};
    assert_int_equal(rd_spool_pending(dir), 0);
    for (int i = 0; i < 3; i++) {
        rd_transition t = tr(i);
        assert_int_equal(rd_spool_append(dir, &t, &err), RD_OK);
    }
    assert_int_equal(rd_spool_pending(dir), 3);
    rd_store *s = open_store(false);
    size_t drained;
    assert_int_equal(rd_spool_drain(dir, s, &drained, &err), RD_OK);
    assert_int_equal(drained, 3);
    assert_int_equal(rd_spool_pending(dir), 0);
    assert_int_not_equal(access(spool, F_OK), 0); /* nothing left: the file is gone */
    seen got;
    stored(s, &got);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.reasons[0], "advance-0");
    assert_string_equal(got.reasons[2], "advance-2");
    assert_string_equal(got.detail,
                        "gates passed: \"reject_rate\" 1.01 < 1.2\nnext line"); /* escapes survive */
    assert_string_equal(got.gates, "[{\"gate\":\"a\\\"b\"}]");
    /* draining an empty spool is a no-op */
    assert_int_equal(rd_spool_drain(dir, s, &drained, &err), RD_OK);
    assert_int_equal(drained, 0);
    rd_store_close(s);
}

static void test_torn_line(void **state)
{
    (void)state;
    rd_err err = {0};
    rd_transition t0 = tr(0), t1 = tr(1), t2 = tr(2);
    assert_int_equal(rd_spool_append(dir, &t0, &err), RD_OK);
    assert_int_equal(rd_spool_append(dir, &t1, &err), RD_OK);
    FILE *f = fopen(spool, "ab"); /* a writer killed mid-line */
    fputs("{\"v\":1,\"ts_ms\":1002,\"from_st", f);
    fclose(f);
    assert_int_equal(rd_spool_pending(dir), 2); /* the torn line is not a transition */
    rd_store *s = open_store(false);
    size_t drained;
    assert_int_equal(rd_spool_drain(dir, s, &drained, &err), RD_OK);
    assert_int_equal(drained, 2);
    seen got;
    stored(s, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.reasons[1], "advance-1");

    /* torn again, then a complete append after it: the append keeps a line of its own */
    assert_int_equal(rd_spool_append(dir, &t0, &err), RD_OK);
    f = fopen(spool, "ab");
    fputs("{\"v\":1,\"ts_ms\":", f);
    fclose(f);
    assert_int_equal(rd_spool_append(dir, &t2, &err), RD_OK);
    assert_int_equal(rd_spool_pending(dir), 3); /* t0, the torn fragment (now a line), t2 */
    assert_int_equal(rd_spool_drain(dir, s, &drained, &err), RD_OK);
    assert_int_equal(drained, 2); /* t0 again (the store has it: not stored twice) and t2 */
    stored(s, &got);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.reasons[2], "advance-2");
    assert_int_equal(rd_spool_pending(dir), 0);
    rd_store_close(s);
}

static void test_store_unwritable_keeps_lines(void **state)
{
    (void)state;
    rd_err err = {0};
    rd_store *s = open_store(false); /* create it, then reopen read-only: every write fails */
    rd_store_close(s);
    rd_store *ro = open_store(true);
    for (int i = 0; i < 3; i++) {
        rd_transition t = tr(i);
        assert_int_equal(rd_spool_append(dir, &t, &err), RD_OK);
    }
    size_t drained = 99;
    assert_int_not_equal(rd_spool_drain(dir, ro, &drained, &err), RD_OK);
    assert_int_equal(drained, 0);
    assert_non_null(strstr(err.msg, "3 transitions left in the spool"));
    assert_int_equal(rd_spool_pending(dir), 3);
    /* rd_transition_record: the store refuses, so the spool takes it, after the others */
    rd_transition t3 = tr(3);
    assert_int_equal(rd_transition_record(ro, dir, &t3, &err), RD_OK);
    assert_int_equal(rd_spool_pending(dir), 4);
    rd_store_close(ro);
    /* no store at all */
    rd_transition t4 = tr(4);
    assert_int_equal(rd_transition_record(NULL, dir, &t4, &err), RD_OK);
    assert_int_equal(rd_spool_pending(dir), 5);
    /* the store is back: the next record drains the spool first, so the order holds */
    s = open_store(false);
    rd_transition t5 = tr(5);
    assert_int_equal(rd_transition_record(s, dir, &t5, &err), RD_OK);
    assert_int_equal(rd_spool_pending(dir), 0);
    seen got;
    stored(s, &got);
    assert_int_equal(got.n, 6);
    for (int i = 0; i < 6; i++) {
        char want[32];
        snprintf(want, sizeof want, "advance-%d", i);
        assert_string_equal(got.reasons[i], want);
    }
    rd_store_close(s);
    /* neither the store nor the spool: an error that names both */
    rd_transition t6 = tr(6);
    assert_int_equal(rd_transition_record(NULL, "/nonexistent/dir", &t6, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "not recorded: store: no store; spool: /nonexistent/dir"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_drain_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_unwritable_keeps_lines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
