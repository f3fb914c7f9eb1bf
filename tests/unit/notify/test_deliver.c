/* Delivery from the outbox, with a scripted transport standing in for the receivers: each sink
 * in id order; a new sink starts at the newest event; filters (events, kinds) skip without
 * blocking; a failing event is retried with a backoff that is stored (a new notifier, as after a
 * restart, keeps the schedule), Retry-After respected; a 404 or a WeCom error code is given up at
 * once, a 503 after the limit: a failure row, the cursor moved on, the next event delivered; an
 * answer lost in transit is posted again under the same idempotency key; two notifiers on one
 * store (a stale leader) never move a cursor back nor skip an event. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/notify.h"

static char dir[64];
static rd_store *st;

/* ------------------------------------------------------------------ the scripted receivers */

#define MAX_CALLS 64
typedef struct call {
    char path[64], id[40], type[48];
} call;

static struct {
    call calls[MAX_CALLS];
    int n;
    /* answers: status for the next calls to a path (0: the default), then 200 */
    const char *fail_path;
    int fail_status, fail_times;
    const char *fail_body;
    int64_t retry_after_ms;
    void (*during)(void); /* run inside the post (another node's turn) */
} R;

static const char *header(const rd_notify_request *rq, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; rq->headers[i]; i++)
        if (!strncmp(rq->headers[i], name, n) && rq->headers[i][n] == ':')
            return rq->headers[i] + n + 2;
    return "";
}

static int post(void *ud, const rd_notify_request *rq, int timeout_ms, rd_notify_response *res)
{
    (void)ud;
    (void)timeout_ms;
    const char *path = strstr(rq->url, "//");
    path = path ? strchr(path + 2, '/') : rq->url;
    assert_true(R.n < MAX_CALLS);
    call *c = &R.calls[R.n++];
    snprintf(c->path, sizeof c->path, "%s", path ? path : "");
    snprintf(c->id, sizeof c->id, "%s", header(rq, "Idempotency-Key"));
    snprintf(c->type, sizeof c->type, "%s", header(rq, "X-Riskd-Event"));
    assert_string_equal(c->id, header(rq, "X-Riskd-Event-Id"));
    memset(res, 0, sizeof *res);
    if (R.during) {
        void (*f)(void) = R.during;
        R.during = NULL;
        f();
    }
    if (R.fail_path && strstr(c->path, R.fail_path) && R.fail_times != 0) {
        if (R.fail_times > 0)
            R.fail_times--;
        res->status = R.fail_status;
        if (!R.fail_status)
            snprintf(res->transport_error, sizeof res->transport_error, "Timeout was reached");
        res->body = R.fail_body;
        res->body_len = R.fail_body ? strlen(R.fail_body) : 0;
        res->retry_after_ms = R.retry_after_ms;
        return 0;
    }
    res->status = 200;
    res->body = strstr(c->path, "wecom") ? "{\"errcode\":0,\"errmsg\":\"ok\"}" : "ok";
    res->body_len = strlen(res->body);
    return 0;
}

/* ------------------------------------------------------------------ fixtures */

static int setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    strcpy(dir, "/tmp/riskd-deliver-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rd_err err;
    rd_store_opts o = {.node = "n1"};
    assert_int_equal(rd_store_open(dir, &o, &st, &err), RD_OK);
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

static rd_notify_sink *sink(const char *spec)
{
    rd_notify_sink *k;
    rd_err err;
    assert_int_equal(rd_notify_sink_parse(spec, 1, &k, &err), RD_OK);
    return k;
}

/* Raise an event in a transaction of its own; its type decides its shape. */
static void raise_event(const char *type, const char *change_kind, int64_t ts)
{
    char data[96];
    snprintf(data, sizeof data, "{\"change_kind\":\"%s\"}", change_kind ? change_kind : "");
    bool alarm = rd_notify_type_alarm(type);
    rd_notify_event e = {.type = type,
                         .ts_ms = ts,
                         .actor = "erin",
                         .object_kind = "change",
                         .object_id = "7",
                         .summary = type,
                         .alert_key = alarm ? "k/1" : NULL,
                         .alert_state = alarm ? "firing" : NULL,
                         .data_json = change_kind ? data : NULL};
    rd_err err;
    assert_int_equal(rd_store_begin(st, &err), RD_OK);
    assert_int_equal(rd_notify_enqueue(st, &e, &err), RD_OK);
    assert_int_equal(rd_store_commit(st, &err), RD_OK);
}

static rd_notifier_opts opts(int max_attempts)
{
    rd_notifier_opts o = {
        .post = post, .max_attempts = max_attempts, .backoff_ms = 1000, .backoff_max_ms = 8000};
    return o;
}

static size_t run(rd_notifier *nt, int64_t now, int64_t *next)
{
    size_t sent;
    int64_t nx;
    rd_err err;
    assert_int_equal(rd_notifier_run(nt, now, 0, next ? next : &nx, &sent, &err), RD_OK);
    return sent;
}

static void expect_calls(const char *path, const char *const *types, int n)
{
    int got = 0;
    for (int i = 0; i < R.n; i++)
        if (!strcmp(R.calls[i].path, path)) {
            assert_true(got < n);
            assert_string_equal(R.calls[i].type, types[got]);
            got++;
        }
    assert_int_equal(got, n);
}

/* ------------------------------------------------------------------ cases */

static void test_order_and_filters(void **state)
{
    (void)state;
    raise_event("change.proposed", "flags", 1000); /* before the sinks existed: not sent */
    rd_notify_sink *k[2] = {sink("webhook url=http://h/hook events=change.*"),
                            sink("slack url=http://h/slack kinds=flags name=slack")};
    rd_err err;
    assert_int_equal(rd_notify_sinks_check(k, 2, &err), RD_OK);
    rd_notifier *nt;
    rd_notifier_opts o = opts(5);
    assert_int_equal(rd_notifier_new(st, k, 2, &o, &nt, &err), RD_OK);
    raise_event("breaker.opened", NULL, 2000);
    raise_event("change.proposed", "flags", 2001);
    raise_event("change.proposed", "bundle", 2002);
    raise_event("rollout.rolled_back", NULL, 2003);
    assert_int_equal(run(nt, 10000, NULL), 5);
    expect_calls("/hook", (const char *const[]){"change.proposed", "change.proposed"}, 2);
    expect_calls("/slack", (const char *const[]){"breaker.opened", "change.proposed", "rollout.rolled_back"},
                 3);
    /* the same event carries the same key to every sink */
    assert_string_equal(R.calls[0].id, R.calls[3].id);
    assert_int_equal(run(nt, 10001, NULL), 0); /* nothing twice */
    rd_notifier_sink_stats s[2];
    assert_int_equal(rd_notifier_stats(nt, s, 2), 2);
    assert_int_equal(s[0].sent, 2);
    assert_int_equal(s[1].sent, 3);
    assert_int_equal(s[1].pending, 0);
    rd_notifier_free(nt);
    rd_notify_sink_free(k[0]);
    rd_notify_sink_free(k[1]);
}

static void test_retry_backoff_kept(void **state)
{
    (void)state;
    rd_notify_sink *k = sink("webhook url=http://h/hook");
    rd_err err;
    assert_int_equal(rd_notify_sinks_check(&k, 1, &err), RD_OK);
    rd_notifier *nt;
    rd_notifier_opts o = opts(10);
    assert_int_equal(rd_notifier_new(st, &k, 1, &o, &nt, &err), RD_OK);
    raise_event("change.approved", "flags", 1000);
    raise_event("change.published", "flags", 1001);
    R.fail_path = "/hook";
    R.fail_status = 503;
    R.fail_times = 2;
    int64_t next;
    assert_int_equal(run(nt, 100000, &next), 0);
    assert_int_equal(R.n, 1);
    assert_true(next >= 100000 + 500 && next <= 100000 + 1000 + 50); /* d = 1 s: [d/2, d] */
    rd_sink_row row;
    assert_int_equal(rd_store_sink_get(st, "webhook", &row, &err), RD_OK);
    assert_int_equal(row.attempts, 1);
    assert_non_null(strstr(row.last_error, "503"));
    assert_int_equal(run(nt, 100000, NULL), 0);
    assert_int_equal(R.n, 1); /* not before its time */
    /* a new notifier (a restart, another leader) keeps the schedule */
    rd_notifier_free(nt);
    assert_int_equal(rd_notifier_new(st, &k, 1, &o, &nt, &err), RD_OK);
    assert_int_equal(run(nt, 100000, NULL), 0);
    assert_int_equal(R.n, 1);
    assert_int_equal(run(nt, next, &next), 0); /* second failure: d = 2 s */
    assert_int_equal(R.n, 2);
    assert_int_equal(rd_store_sink_get(st, "webhook", &row, &err), RD_OK);
    assert_int_equal(row.attempts, 2);
    assert_true(row.next_ms - row.updated_ms >= 1000);
    assert_int_equal(run(nt, next, NULL), 2); /* then both, in order */
    expect_calls(
        "/hook",
        (const char *const[]){"change.approved", "change.approved", "change.approved", "change.published"},
        4);
    assert_int_equal(rd_store_sink_get(st, "webhook", &row, &err), RD_OK);
    assert_int_equal(row.attempts, 0);
    assert_true(row.last_ok_ms > 0);
    /* Retry-After raises the wait */
    raise_event("change.rejected", "flags", 1002);
    R.fail_times = 1;
    R.retry_after_ms = 6000;
    assert_int_equal(run(nt, 200000, &next), 0);
    assert_true(next >= 206000);
    rd_notifier_free(nt);
    rd_notify_sink_free(k);
}

typedef struct failures {
    int n;
    rd_sink_failure f[8];
} failures;

static int take_failure(void *ud, const rd_sink_failure *f)
{
    failures *c = ud;
    if (c->n < 8)
        c->f[c->n] = *f;
    c->n++;
    return 0;
}

static failures failed(const char *sink_name)
{
    failures c = {0};
    rd_err err;
    assert_int_equal(rd_store_sink_failures(st, sink_name, 0, take_failure, &c, &err), RD_OK);
    return c;
}

static void test_give_up(void **state)
{
    (void)state;
    rd_notify_sink *k[2] = {sink("webhook url=http://h/gone"), sink("wecom url=http://h/wecom")};
    rd_err err;
    assert_int_equal(rd_notify_sinks_check(k, 2, &err), RD_OK);
    rd_notifier *nt;
    rd_notifier_opts o = opts(3);
    assert_int_equal(rd_notifier_new(st, k, 2, &o, &nt, &err), RD_OK);
    raise_event("change.proposed", "flags", 1000);
    raise_event("change.approved", "flags", 1001);
    /* a 404 is given up at once; the next event goes */
    R.fail_path = "/gone";
    R.fail_status = 404;
    R.fail_times = 1;
    run(nt, 100000, NULL);
    rd_notifier_sink_stats s[2];
    rd_notifier_stats(nt, s, 2);
    assert_int_equal(s[0].failed, 1);
    assert_int_equal(s[0].sent, 1);
    assert_int_equal(s[1].sent, 2);
    failures c = failed("webhook");
    assert_int_equal(c.n, 1);
    assert_int_equal(c.f[0].status, 404);
    assert_int_equal(c.f[0].attempts, 1);
    assert_null(strstr(c.f[0].error, "http://")); /* never the URL */
    /* WeCom says no inside a 200: errcode 93000 is given up, 45009 (too often) retried */
    raise_event("change.rejected", "flags", 1002);
    R.fail_path = "/wecom";
    R.fail_status = 200;
    R.fail_body = "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}";
    R.fail_times = 1;
    run(nt, 100001, NULL);
    c = failed("wecom");
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.f[0].error, "93000"));
    raise_event("change.withdrawn", "flags", 1003);
    R.fail_body = "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}";
    R.fail_times = 1;
    int64_t next;
    run(nt, 100002, &next);
    assert_int_equal(failed("wecom").n, 1);
    run(nt, next, NULL);
    assert_int_equal(failed("wecom").n, 1);
    rd_notifier_stats(nt, s, 2);
    assert_int_equal(s[1].sent, 3);
    /* a 503 every time: given up after the limit (3 attempts), the cursor past it */
    raise_event("change.published", "flags", 1004);
    raise_event("change.rolled_back", "flags", 1005);
    R.fail_path = "/gone";
    R.fail_status = 503;
    R.fail_body = NULL;
    R.fail_times = 3;
    for (int i = 0; i < 3; i++)
        run(nt, 200000 + 100000 * i, NULL);
    c = failed("webhook");
    assert_int_equal(c.n, 2);
    assert_int_equal(c.f[0].attempts, 3); /* newest first */
    assert_int_equal(c.f[0].status, 503);
    /* the next one went at once, and nothing is left */
    assert_string_equal(R.calls[R.n - 1].type, "change.rolled_back");
    assert_string_equal(R.calls[R.n - 1].path, "/gone");
    int before = R.n;
    run(nt, 600000, NULL);
    assert_int_equal(R.n, before);
    rd_notifier_free(nt);
    rd_notify_sink_free(k[0]);
    rd_notify_sink_free(k[1]);
}

/* The receiver got the post and its answer was lost (the process died, the connection broke):
 * the event is posted again, with the same key. */
static void test_lost_answer(void **state)
{
    (void)state;
    rd_notify_sink *k = sink("webhook url=http://h/hook");
    rd_err err;
    assert_int_equal(rd_notify_sinks_check(&k, 1, &err), RD_OK);
    rd_notifier *nt;
    rd_notifier_opts o = opts(5);
    assert_int_equal(rd_notifier_new(st, &k, 1, &o, &nt, &err), RD_OK);
    raise_event("change.proposed", "flags", 1000);
    R.fail_path = "/hook";
    R.fail_status = 0; /* a transport error: no answer */
    R.fail_times = 1;
    int64_t next;
    run(nt, 100000, &next);
    run(nt, next, NULL);
    assert_int_equal(R.n, 2);
    assert_string_equal(R.calls[0].id, R.calls[1].id);
    rd_notifier_free(nt);
    rd_notify_sink_free(k);
}

/* Another node delivers while this one waits on its post (a stale leader): the cursor is
 * compared and swapped, so it never goes back and nothing is skipped. */
static rd_notify_sink *other_sink;
static void other_node(void)
{
    rd_store *s2;
    rd_err err;
    rd_store_opts so = {.node = "n2"};
    assert_int_equal(rd_store_open(dir, &so, &s2, &err), RD_OK);
    rd_notifier *nt;
    rd_notifier_opts o = opts(5);
    assert_int_equal(rd_notifier_new(s2, &other_sink, 1, &o, &nt, &err), RD_OK);
    size_t sent;
    int64_t next;
    assert_int_equal(rd_notifier_run(nt, 100000, 0, &next, &sent, &err), RD_OK);
    assert_int_equal(sent, 2);
    rd_notifier_free(nt);
    rd_store_close(s2);
}

static void test_two_nodes(void **state)
{
    (void)state;
    rd_notify_sink *k = sink("webhook url=http://h/hook");
    other_sink = k;
    rd_err err;
    assert_int_equal(rd_notify_sinks_check(&k, 1, &err), RD_OK);
    rd_notifier *nt;
    rd_notifier_opts o = opts(5);
    assert_int_equal(rd_notifier_new(st, &k, 1, &o, &nt, &err), RD_OK);
    raise_event("change.proposed", "flags", 1000);
    raise_event("change.approved", "flags", 1001);
    R.during = other_node;
    run(nt, 100000, NULL);
    /* this node posted the first, the other both; the first twice under one key, none skipped */
    assert_int_equal(R.n, 3);
    assert_string_equal(R.calls[0].id, R.calls[1].id);
    assert_string_equal(R.calls[2].type, "change.approved");
    rd_sink_row row;
    int64_t last;
    assert_int_equal(rd_store_sink_get(st, "webhook", &row, &err), RD_OK);
    assert_int_equal(rd_store_outbox_last_id(st, &last, &err), RD_OK);
    assert_int_equal(row.last_id, last);
    assert_int_equal(run(nt, 100001, NULL), 0);
    assert_int_equal(R.n, 3);
    rd_notifier_free(nt);
    rd_notify_sink_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_backoff_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_give_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_nodes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
