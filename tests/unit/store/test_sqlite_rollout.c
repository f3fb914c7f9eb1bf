/* Rollout state in the store: a row written, read back and listed; rd_rollout_put's
 * compare-and-swap on the version (a stale writer and a second creator both get RD_ECONFLICT,
 * and nothing they wrote lands); the state names; transitions appended and listed newest
 * first, by flag, with a limit; everything kept across a reopen. */
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

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-rollout-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
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
    rd_err err = {0};
    if (rd_store_open(dir, NULL, &s, &err) != RD_OK)
        fail_msg("%s", err.msg);
    return s;
}

static void test_states(void **state)
{
    (void)state;
    static const char *const names[] = {"running", "holding", "paused", "promoted", "rolled_back"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(rd_rollout_state_name((rd_rollout_state)i), names[i]);
        assert_int_equal(rd_rollout_state_parse(names[i]), i);
    }
    assert_int_equal(rd_rollout_state_parse("rolledback"), -1);
    assert_int_equal(rd_rollout_state_parse(NULL), -1);
}

static rd_rollout_row sample_row(void)
{
    rd_rollout_row r = {
        .state = RD_ROLLOUT_RUNNING, .stage = 0, .stage_started_ms = 1000, .updated_ms = 1000};
    strcpy(r.flag, "credit-model-route");
    strcpy(r.plan_name, "credit-canary");
    strcpy(r.plan_path, "examples/rollout/credit-canary.json");
    memset(r.plan_sha, 'a', 64);
    strcpy(r.flags_path, "examples/flags/routing.json");
    strcpy(r.stage_name, "shadow");
    r.plan_json = "{\"name\":\"credit-canary\"}";
    return r;
}

typedef struct listed {
    int n;
    char flags[4][64];
    int64_t versions[4];
} listed;

static int collect_rows(void *ud, const rd_rollout_row *r)
{
    listed *l = ud;
    snprintf(l->flags[l->n], sizeof l->flags[0], "%.60s", r->flag);
    l->versions[l->n++] = r->version;
    return 0;
}

static void test_put_get_cas(void **state)
{
    (void)state;
    rd_store *s = open_store();
    rd_err err = {0};
    rd_rollout_row got;
    assert_int_equal(rd_rollout_get(s, "credit-model-route", &got, &err), RD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no rollout on flag \"credit-model-route\""));

    rd_rollout_row a = sample_row();
    assert_int_equal(rd_rollout_put(s, &a, &err), RD_OK); /* version 0: created */
    assert_int_equal(a.version, 1);
    assert_int_equal(rd_rollout_get(s, "credit-model-route", &got, &err), RD_OK);
    assert_string_equal(got.plan_name, "credit-canary");
    assert_string_equal(got.plan_path, "examples/rollout/credit-canary.json");
    assert_int_equal(strlen(got.plan_sha), 64);
    assert_string_equal(got.flags_path, "examples/flags/routing.json");
    assert_int_equal(got.state, RD_ROLLOUT_RUNNING);
    assert_string_equal(got.stage_name, "shadow");
    assert_int_equal(got.stage_started_ms, 1000);
    assert_int_equal(got.version, 1);
    assert_string_equal(got.plan_json, "{\"name\":\"credit-canary\"}");

    /* two writers read version 1; the first advances, the second is refused */
    rd_rollout_row b = got;
    b.plan_json = NULL; /* borrowed from got */
    got.stage = 1;
    strcpy(got.stage_name, "internal");
    got.updated_ms = 2000;
    assert_int_equal(rd_rollout_put(s, &got, &err), RD_OK);
    assert_int_equal(got.version, 2);
    b.state = RD_ROLLOUT_ROLLED_BACK;
    assert_int_equal(rd_rollout_put(s, &b, &err), RD_ECONFLICT);
    assert_non_null(
        strstr(err.msg, "rollout \"credit-model-route\" changed since it was read (version 1, now 2)"));
    assert_int_equal(b.version, 1); /* untouched on failure */
    rd_rollout_row again;
    assert_int_equal(rd_rollout_get(s, "credit-model-route", &again, &err), RD_OK);
    assert_int_equal(again.state, RD_ROLLOUT_RUNNING); /* the loser's rollback did not land */
    assert_int_equal(again.stage, 1);
    assert_int_equal(again.updated_ms, 2000);
    assert_int_equal(again.version, 2);
    rd_rollout_row_free(&again);
    rd_rollout_row_free(&got);
    assert_null(got.plan_json);

    /* a second creation of the same flag */
    rd_rollout_row c = sample_row();
    assert_int_equal(rd_rollout_put(s, &c, &err), RD_ECONFLICT);
    assert_non_null(strstr(err.msg, "already exists (version 2)"));
    c.version = -1;
    assert_int_equal(rd_rollout_put(s, &c, &err), RD_EINVAL);

    /* another flag; the list is by flag */
    rd_rollout_row d = sample_row();
    strcpy(d.flag, "a-route");
    d.updated_ms = 0; /* 0: now */
    assert_int_equal(rd_rollout_put(s, &d, &err), RD_OK);
    assert_true(d.updated_ms > 1600000000000LL);
    listed l = {0};
    assert_int_equal(rd_rollout_list(s, collect_rows, &l, &err), RD_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.flags[0], "a-route");
    assert_string_equal(l.flags[1], "credit-model-route");
    assert_int_equal(l.versions[1], 2);
    rd_store_close(s);

    /* kept across a reopen */
    s = open_store();
    assert_int_equal(rd_rollout_get(s, "a-route", &got, &err), RD_OK);
    assert_int_equal(got.version, 1);
    rd_rollout_row_free(&got);
    rd_store_close(s);
}

typedef struct trans {
    int n;
    int64_t ids[8];
    char reasons[8][64];
    char gates[8][64];
} trans;

static int collect_trans(void *ud, const rd_transition *t)
{
    trans *c = ud;
    c->ids[c->n] = t->id;
    snprintf(c->reasons[c->n], sizeof c->reasons[0], "%s", t->reason);
    snprintf(c->gates[c->n], sizeof c->gates[0], "%s", t->gates_json ? t->gates_json : "(null)");
    c->n++;
    return 0;
}

static int stop_at_first(void *ud, const rd_transition *t)
{
    (void)t;
    (*(int *)ud)++;
    return 42;
}

static void test_transitions(void **state)
{
    (void)state;
    rd_store *s = open_store();
    rd_err err = {0};
    static const char *const reasons[] = {"start", "advance", "rollback"};
    for (int i = 0; i < 3; i++) {
        rd_transition t = {
            .ts_ms = 1000 + i, .from_stage = i, .to_stage = i + 1, .gates_json = i ? "[{\"g\":1}]" : NULL};
        strcpy(t.flag, "credit-model-route");
        strcpy(t.from_state, "running");
        strcpy(t.to_state, i == 2 ? "rolled_back" : "running");
        strcpy(t.reason, reasons[i]);
        strcpy(t.detail, "gates passed");
        strcpy(t.actor, "controller");
        memset(t.flags_sha, 'b', 64);
        assert_int_equal(rd_transition_append(s, &t, &err), RD_OK);
    }
    rd_transition o = {.ts_ms = 5, .to_stage = 1};
    strcpy(o.flag, "other");
    strcpy(o.from_state, "running");
    strcpy(o.to_state, "paused");
    strcpy(o.reason, "pause");
    strcpy(o.actor, "cli:ann");
    assert_int_equal(rd_transition_append(s, &o, &err), RD_OK);

    trans c = {0};
    assert_int_equal(rd_transition_list(s, "credit-model-route", 0, collect_trans, &c, &err), RD_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.reasons[0], "rollback"); /* newest first */
    assert_string_equal(c.reasons[2], "start");
    assert_true(c.ids[0] > c.ids[1] && c.ids[1] > c.ids[2]);
    assert_string_equal(c.gates[0], "[{\"g\":1}]");
    assert_string_equal(c.gates[2], "(null)");
    memset(&c, 0, sizeof c);
    assert_int_equal(rd_transition_list(s, "credit-model-route", 2, collect_trans, &c, &err), RD_OK);
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof c);
    assert_int_equal(rd_transition_list(s, NULL, 0, collect_trans, &c, &err), RD_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.reasons[0], "pause");
    int calls = 0;
    assert_int_equal(rd_transition_list(s, NULL, 0, stop_at_first, &calls, &err), 42);
    assert_int_equal(calls, 1);
    rd_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test_setup_teardown(test_put_get_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transitions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
