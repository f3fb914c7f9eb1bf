/* Events and the spool: the envelope's fields, its UUIDv7 identity (version, variant, time
 * order), refusals (an unknown type, an alarm without its state, data that is no object), the
 * scrubbing of people's text (tokens, control characters, a cut on a UTF-8 boundary), the outbox
 * write refused outside a transaction and idempotent by identity, and the spool: appended lines
 * drained in order, a torn line dropped, a line that is no event set aside, a drain repeated
 * after a crash storing nothing twice, the bound. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/json.h"
#include "riskd/notify.h"

static char dir[64], spool[128];
static rd_store *st;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-notify-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(spool, sizeof spool, "%s/notify.spool", dir);
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

static rd_notify_event breaker(int64_t ts)
{
    return (rd_notify_event){.type = "breaker.opened",
                             .ts_ms = ts,
                             .node = "n1",
                             .actor = "riskd",
                             .object_kind = "bundle",
                             .object_id = "credit_xgb_v1.1",
                             .summary = "circuit breaker of credit_xgb_v1.1 opened",
                             .alert_key = "breaker/n1/credit_xgb_v1.1",
                             .alert_state = "firing",
                             .data_json =
                                 "{\"bundle\":\"credit_xgb_v1.1\",\"from\":\"closed\",\"to\":\"open\"}"};
}

static const char *str(const rd_value *o, const char *key)
{
    const rd_value *v = rd_value_get(o, key, strlen(key));
    assert_non_null(v);
    assert_int_equal(v->type, RD_VSTRING);
    return v->u.s;
}

static void test_envelope(void **state)
{
    (void)state;
    rd_notify_event e = breaker(1765000000123);
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_OK);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    assert_int_equal(rd_json_parse(b.data, b.len, NULL, &a, &v, &err), RD_OK);
    assert_string_equal(str(&v, "type"), "breaker.opened");
    assert_string_equal(str(&v, "time"), "2025-12-06T05:46:40.123Z");
    assert_string_equal(str(&v, "node"), "n1");
    assert_string_equal(str(rd_value_get(&v, "object", 6), "id"), "credit_xgb_v1.1");
    assert_string_equal(str(rd_value_get(&v, "alert", 5), "state"), "firing");
    assert_string_equal(str(rd_value_get(&v, "data", 4), "to"), "open");
    /* UUIDv7: the first 48 bits are the time, version 7, variant 10 */
    const char *id = str(&v, "id");
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '7');
    assert_non_null(strchr("89ab", id[19]));
    char ms[13];
    snprintf(ms, sizeof ms, "%.8s%.4s", id, id + 9);
    assert_int_equal(strtoll(ms, NULL, 16), 1765000000123LL);
    /* later events sort later */
    rd_buf c;
    rd_buf_init(&c);
    e.ts_ms++;
    assert_int_equal(rd_notify_event_json(&e, &c, &err), RD_OK);
    assert_true(strncmp(b.data + 7, c.data + 7, 36) < 0);
    rd_buf_deinit(&c);
    rd_arena_deinit(&a);
    rd_buf_deinit(&b);
}

static void test_refusals(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    rd_notify_event e = breaker(1000);
    e.type = "breaker.openned";
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "breaker.openned"));
    e = breaker(1000);
    e.alert_state = NULL;
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_EINVAL);
    e.alert_state = "burning";
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_EINVAL);
    e = breaker(1000);
    e.data_json = "[1,2]";
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "object"));
    e.data_json = "{\"a\":";
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_EPARSE);
    e = breaker(1000);
    e.object_id = NULL;
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_EINVAL);
    rd_buf_deinit(&b);
}

static const char *scrub(const char *in, size_t cap)
{
    static char out[512];
    rd_buf b;
    rd_buf_init(&b);
    rd_notify_scrub(in, cap, &b);
    snprintf(out, sizeof out, "%s", b.len ? rd_buf_cstr(&b) : "");
    rd_buf_deinit(&b);
    return out;
}

static void test_scrub(void **state)
{
    (void)state;
    assert_string_equal(scrub("token rdk_0123456789ab_Zm9vYmFyYmF6-_x9 pasted", 0),
                        "token rdk_\xe2\x80\xa6(redacted) pasted");
    assert_string_equal(scrub("rdk_0123 not a token", 0), "rdk_0123 not a token");
    assert_string_equal(scrub("a\nb\tc\x01"
                              "d\x7f",
                              0),
                        "a b cd");
    /* cut on a code point: "é" is two bytes, the ellipsis three */
    assert_string_equal(scrub("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 6), "\xc3\xa9\xe2\x80\xa6");
    assert_string_equal(scrub("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 7), "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    assert_string_equal(scrub("short", 300), "short");
}

typedef struct rows {
    int n;
    char types[32][40], uids[32][40];
} rows;

static int take(void *ud, const rd_notify_row *r)
{
    rows *o = ud;
    if (o->n < 32) {
        snprintf(o->types[o->n], 40, "%s", r->type);
        snprintf(o->uids[o->n], 40, "%s", r->uid);
    }
    o->n++;
    return 0;
}

static rows outbox(void)
{
    rows o = {0};
    rd_err err;
    assert_int_equal(rd_store_outbox_scan(st, 0, 0, take, &o, &err), RD_OK);
    return o;
}

static void test_enqueue(void **state)
{
    (void)state;
    rd_err err;
    rd_notify_event e = breaker(2000);
    assert_int_equal(rd_notify_enqueue(st, &e, &err), RD_EINTERNAL); /* no transaction */
    assert_int_equal(outbox().n, 0);
    memset(e.uid, 0, sizeof e.uid);
    e.uid[0] = 0x42;
    assert_int_equal(rd_store_begin(st, &err), RD_OK);
    assert_int_equal(rd_notify_enqueue(st, &e, &err), RD_OK);
    assert_int_equal(rd_notify_enqueue(st, &e, &err), RD_OK); /* the same identity: stored once */
    assert_int_equal(rd_store_commit(st, &err), RD_OK);
    rows o = outbox();
    assert_int_equal(o.n, 1);
    assert_string_equal(o.types[0], "breaker.opened");
    assert_int_equal(strncmp(o.uids[0], "42000000-", 9), 0);
    /* a transaction rolled back leaves no event */
    rd_notify_event f = breaker(3000);
    assert_int_equal(rd_store_begin(st, &err), RD_OK);
    assert_int_equal(rd_notify_enqueue(st, &f, &err), RD_OK);
    rd_store_rollback(st);
    assert_int_equal(outbox().n, 1);
    /* an envelope as spooled */
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_notify_event_json(&f, &b, &err), RD_OK);
    bool added = false;
    assert_int_equal(rd_store_begin(st, &err), RD_OK);
    assert_int_equal(rd_notify_enqueue_json(st, b.data, b.len, &added, &err), RD_OK);
    assert_true(added);
    assert_int_equal(rd_notify_enqueue_json(st, b.data, b.len, &added, &err), RD_OK);
    assert_false(added);
    assert_int_equal(rd_notify_enqueue_json(st, "{\"id\":\"x\"}", 10, &added, &err), RD_EINVAL);
    assert_int_equal(rd_store_commit(st, &err), RD_OK);
    assert_int_equal(outbox().n, 2);
    rd_buf_deinit(&b);
}

static void spool_event(int64_t ts)
{
    rd_notify_event e = breaker(ts);
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    assert_int_equal(rd_notify_event_json(&e, &b, &err), RD_OK);
    assert_int_equal(rd_notify_spool_append(spool, b.data, b.len, 0, &err), RD_OK);
    rd_buf_deinit(&b);
}

static void test_spool(void **state)
{
    (void)state;
    rd_err err;
    size_t drained, bad;
    assert_int_equal(rd_notify_spool_drain(spool, st, 0, &drained, &bad, &err), RD_OK); /* no file */
    assert_int_equal(drained, 0);
    for (int i = 0; i < 3; i++)
        spool_event(5000 + i);
    assert_int_equal(rd_notify_spool_count(spool), 3);
    /* a copy of the file as it was: a crash between the commit and the rewrite */
    char copy[160], cmd[400];
    snprintf(copy, sizeof copy, "%s.copy", spool);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", spool, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rd_notify_spool_drain(spool, st, 2, &drained, &bad, &err), RD_OK);
    assert_int_equal(drained, 2);
    assert_int_equal(rd_notify_spool_count(spool), 1);
    assert_int_equal(rd_notify_spool_drain(spool, st, 0, &drained, &bad, &err), RD_OK);
    assert_int_equal(drained, 1);
    assert_int_equal(access(spool, F_OK), -1); /* empty: removed */
    assert_int_equal(outbox().n, 3);
    assert_int_equal(rename(copy, spool), 0);
    assert_int_equal(rd_notify_spool_drain(spool, st, 0, &drained, &bad, &err), RD_OK);
    assert_int_equal(outbox().n, 3); /* drained again: nothing twice */
    /* a line that is no event is set aside; a torn last line is dropped; the rest goes in */
    spool_event(6000);
    int fd = open(spool, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"not\":\"an event\"}\n", 19), 19);
    close(fd);
    spool_event(6001);
    fd = open(spool, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "{\"id\":\"torn", 11), 11);
    close(fd);
    spool_event(6002); /* after a torn line: a line of its own */
    assert_int_equal(rd_notify_spool_drain(spool, st, 0, &drained, &bad, &err), RD_OK);
    assert_int_equal(drained, 3);
    assert_int_equal(bad, 2); /* the line that is no event and the torn one, closed by the next append */
    assert_int_equal(outbox().n, 6);
    char bad_path[160];
    snprintf(bad_path, sizeof bad_path, "%s.bad", spool);
    assert_int_equal(rd_notify_spool_count(bad_path), 2);
    /* a line with a newline is refused; the bound */
    assert_int_equal(rd_notify_spool_append(spool, "{\"a\":\n1}", 8, 0, &err), RD_EINVAL);
    assert_int_equal(rd_notify_spool_append(spool, "0123456789", 10, 8, &err), RD_ELIMIT);
    assert_int_equal(rd_notify_spool_count(spool), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_scrub),
        cmocka_unit_test_setup_teardown(test_enqueue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
