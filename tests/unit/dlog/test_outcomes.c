/* Outcome batches read from JSON and CSV (src/lib/dlog/outcomes.c): every field form the API
 * documents, RFC 3339 times with offsets, fractions and leap days, and each refusal with the
 * item (or line) and field it names; the statistics' JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/dlog.h"
#include "riskd/json.h"

static rd_arena arena;

static int setup(void **state)
{
    (void)state;
    rd_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_arena_deinit(&arena);
    return 0;
}

/* Parse text and read it as a batch (max_items 0: no limit). */
static int from_json(const char *text, size_t max_items, rd_outcome **o, size_t *n, rd_err *err)
{
    rd_value v;
    assert_int_equal(rd_json_parse(text, strlen(text), NULL, &arena, &v, err), RD_OK);
    return rd_outcomes_from_value(&v, max_items, &arena, o, n, err);
}

static void test_json_ok(void **state)
{
    (void)state;
    rd_outcome *o;
    size_t n;
    rd_err err;
    const char *body =
        "[{\"request_id\":\"app-1\",\"label\":1,\"outcome\":\"dpd30\"},"
        " {\"request_id\":42,\"label\":0,\"outcome\":\"fpd\",\"observed_at\":null},"
        " {\"outcome\":\"default\",\"label\":1,\"request_id\":\"x\","
        "\"observed_at\":\"2026-03-01T10:30:00.250+02:00\"},"
        " {\"request_id\":\"y\",\"label\":0,\"outcome\":\"dpd-90_b\",\"observed_at\":1767225600000},"
        " {\"request_id\":-7,\"label\":0,\"outcome\":\"a\",\"observed_at\":\"2024-02-29t23:59:59.9991z\"}]";
    assert_int_equal(from_json(body, 5, &o, &n, &err), RD_OK);
    assert_int_equal(n, 5);
    assert_string_equal(o[0].request_id, "app-1");
    assert_string_equal(o[0].outcome, "dpd30");
    assert_int_equal(o[0].label, 1);
    assert_int_equal(o[0].observed_ms, 0);
    assert_string_equal(o[1].request_id, "42"); /* as the decision log writes a numeric id */
    assert_int_equal(o[1].label, 0);
    assert_int_equal(o[1].observed_ms, 0);
    assert_int_equal(o[2].observed_ms, 1772353800250); /* 08:30:00.250Z */
    assert_string_equal(o[3].outcome, "dpd-90_b");
    assert_int_equal(o[3].observed_ms, 1767225600000);
    assert_string_equal(o[4].request_id, "-7");
    assert_int_equal(o[4].observed_ms, 1709251199999); /* the fraction truncated to ms */

    assert_int_equal(from_json("[]", 0, &o, &n, &err), RD_OK);
    assert_int_equal(n, 0);
}

typedef struct refusal {
    const char *body;
    int code;
    const char *msg; /* a part of the message */
} refusal;

static void test_json_refusals(void **state)
{
    (void)state;
    static const refusal cases[] = {
        {"{\"request_id\":\"a\"}", RD_ETYPE, "an outcome batch is an array"},
        {"[1]", RD_ETYPE, "[0]: an outcome must be an object, not number"},
        {"[{\"request_id\":\"a\",\"label\":2,\"outcome\":\"fpd\"}]", RD_EINVAL,
         "[0].label: expected the number 0 (good) or 1 (bad), got 2"},
        {"[{\"request_id\":\"a\",\"label\":0,\"outcome\":\"fpd\"},{\"request_id\":\"b\",\"label\":\"1\","
         "\"outcome\":\"fpd\"}]",
         RD_ETYPE, "[1].label: expected the number 0 (good) or 1 (bad), got the string \"1\""},
        {"[{\"request_id\":\"a\",\"label\":true,\"outcome\":\"fpd\"}]", RD_ETYPE, "got boolean"},
        {"[{\"request_id\":\"a\",\"label\":0.5,\"outcome\":\"fpd\"}]", RD_EINVAL, "got 0.5"},
        {"[{\"request_id\":\"a\",\"lable\":1,\"outcome\":\"fpd\"}]", RD_EINVAL,
         "[0].lable: not a field of an outcome (did you mean \"label\"?)"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"note\":1}]", RD_EINVAL,
         "[0].note: not a field of an outcome (request_id, label, outcome, observed_at)"},
        {"[{\"label\":1,\"outcome\":\"fpd\"}]", RD_EINVAL, "[0].request_id: required"},
        {"[{\"request_id\":\"a\",\"label\":1}]", RD_EINVAL, "[0].outcome: required"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"DPD30\"}]", RD_EINVAL,
         "[0].outcome: \"DPD30\" is not a name of lower-case letters"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"\"}]", RD_EINVAL, "[0].outcome: empty"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":7}]", RD_ETYPE, "[0].outcome: expected a string"},
        {"[{\"request_id\":\"\",\"label\":1,\"outcome\":\"fpd\"}]", RD_EINVAL, "[0].request_id: empty"},
        {"[{\"request_id\":\" a\",\"label\":1,\"outcome\":\"fpd\"}]", RD_EINVAL,
         "leading or trailing spaces"},
        {"[{\"request_id\":1.5,\"label\":1,\"outcome\":\"fpd\"}]", RD_EINVAL,
         "[0].request_id: a number must be"},
        {"[{\"request_id\":null,\"label\":1,\"outcome\":\"fpd\"}]", RD_ETYPE,
         "[0].request_id: expected a string or an integer, got null"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"2026-02-29T00:00:00Z\"}]",
         RD_EINVAL, "[0].observed_at: \"2026-02-29T00:00:00Z\" is not an RFC 3339 time"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"2026-03-01T08:30:00\"}]",
         RD_EINVAL, "is not an RFC 3339 time"}, /* no zone */
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"2026-03-01\"}]", RD_EINVAL,
         "is not an RFC 3339 time"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"1767225600000\"}]",
         RD_EINVAL, "or send unix milliseconds as a number"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":1767225600}]", RD_EINVAL,
         "[0].observed_at: 1767225600 is before 1973 as unix milliseconds (seconds? multiply by 1000)"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":1767225600000.5}]",
         RD_EINVAL, "is not a time in unix milliseconds"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"1970-01-01T00:00:00."
         "001Z\"}]",
         RD_EINVAL, "[0].observed_at: \"1970-01-01T00:00:00.001Z\" is before 1973"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":true}]", RD_ETYPE,
         "[0].observed_at: expected an RFC 3339 time or unix milliseconds, got boolean"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"2026-03-01T24:00:00Z\"}]",
         RD_EINVAL, "not an RFC 3339 time"},
        {"[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"2026-03-01T08:00:00+2:"
         "00\"}]",
         RD_EINVAL, "not an RFC 3339 time"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rd_outcome *o = (rd_outcome *)&arena; /* untouched on failure */
        size_t n = 77;
        rd_err err = {0};
        int rc = from_json(cases[i].body, 0, &o, &n, &err);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: %s\n  got %d \"%s\"\n  want %d \"%s\"", i, cases[i].body, rc, err.msg,
                     cases[i].code, cases[i].msg);
        assert_ptr_equal(o, (rd_outcome *)&arena);
        assert_int_equal(n, 77);
    }
    rd_outcome *o;
    size_t n;
    rd_err err;
    assert_int_equal(
        from_json("[{\"request_id\":\"a\",\"label\":1,\"outcome\":\"f\"},{\"request_id\":\"b\",\"label\":1,"
                  "\"outcome\":\"f\"},{\"request_id\":\"c\",\"label\":1,\"outcome\":\"f\"}]",
                  2, &o, &n, &err),
        RD_ELIMIT);
    assert_non_null(strstr(err.msg, "at most 2 outcomes, this one 3"));
    /* names and ids at their limits */
    char body[1024], id[300], name[80];
    memset(id, 'i', 256);
    id[256] = 0;
    memset(name, 'n', 64);
    name[64] = 0;
    snprintf(body, sizeof body, "[{\"request_id\":\"%s\",\"label\":1,\"outcome\":\"%s\"}]", id, name);
    assert_int_equal(from_json(body, 0, &o, &n, &err), RD_OK);
    snprintf(body, sizeof body, "[{\"request_id\":\"%si\",\"label\":1,\"outcome\":\"%s\"}]", id, name);
    assert_int_equal(from_json(body, 0, &o, &n, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "[0].request_id: longer than 256 bytes"));
    snprintf(body, sizeof body, "[{\"request_id\":\"%s\",\"label\":1,\"outcome\":\"%sn\"}]", id, name);
    assert_int_equal(from_json(body, 0, &o, &n, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "[0].outcome: longer than 64 bytes"));
}

static char dir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

typedef struct calls {
    int n;
    uint64_t last_done, last_total;
} calls;

static void on_progress(void *ud, uint64_t done, uint64_t total)
{
    calls *c = ud;
    c->n++;
    c->last_done = done;
    c->last_total = total;
}

static void test_csv(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-outcomes-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rd_outcome *o;
    size_t n;
    rd_err err;
    calls c = {0};
    const char *ok = "\xef\xbb\xbfoutcome,request_id,observed_at,label\n"
                     "dpd30,app-1,,1\n"
                     "\n"
                     "fpd,\"app,2\",2026-03-01T08:30:00.250Z,0\r\n"
                     "fpd,42,1767225600000,1\n";
    const char *path = write_file("ok.csv", ok);
    assert_int_equal(rd_outcomes_from_csv(path, &arena, on_progress, &c, &o, &n, &err), RD_OK);
    assert_int_equal(n, 3);
    assert_string_equal(o[0].request_id, "app-1");
    assert_string_equal(o[0].outcome, "dpd30");
    assert_int_equal(o[0].label, 1);
    assert_int_equal(o[0].observed_ms, 0);
    assert_string_equal(o[1].request_id, "app,2");
    assert_int_equal(o[1].observed_ms, 1772353800250);
    assert_int_equal(o[1].label, 0);
    assert_string_equal(o[2].request_id, "42");
    assert_int_equal(o[2].observed_ms, 1767225600000);
    assert_true(c.n >= 1);
    assert_int_equal(c.last_done, strlen(ok));
    assert_int_equal(c.last_total, strlen(ok));

    /* observed_at is optional; a header alone is an empty batch */
    path = write_file("min.csv", "request_id,label,outcome\n");
    assert_int_equal(rd_outcomes_from_csv(path, &arena, NULL, NULL, &o, &n, &err), RD_OK);
    assert_int_equal(n, 0);

    static const refusal cases[] = {
        {"request_id,lable,outcome\na,1,fpd\n", RD_EINVAL,
         "line 1: column lable: not a field of an outcome (did you mean \"label\"?)"},
        {"request_id,label,outcome,amount\na,1,fpd,3\n", RD_EINVAL, "line 1: column amount: not a field"},
        {"request_id,label\na,1\n", RD_EINVAL, "line 1: no column outcome"},
        {"request_id,label,outcome\na,1,fpd\nb,1,fpd\nc,x,fpd\n", RD_EINVAL,
         "line 4: label: expected 0 (good) or 1 (bad), got \"x\""},
        {"request_id,label,outcome\na,,fpd\n", RD_EINVAL,
         "line 2: label: expected 0 (good) or 1 (bad), got \"\""},
        {"request_id,label,outcome\na,1.0,fpd\n", RD_EINVAL, "line 2: label"},
        {"request_id,label,outcome\n,1,fpd\n", RD_EINVAL, "line 2: request_id: empty"},
        {"request_id,label,outcome\na ,1,fpd\n", RD_EINVAL,
         "line 2: request_id: \"a \" has leading or trailing"},
        {"request_id,label,outcome\na,1,FPD\n", RD_EINVAL, "line 2: outcome: \"FPD\""},
        {"request_id,label,outcome,observed_at\na,1,fpd,yesterday\n", RD_EINVAL,
         "line 2: observed_at: \"yesterday\" is not an RFC 3339 time like 2026-03-01T08:30:00Z, nor unix "
         "milliseconds"},
        {"request_id,label,outcome,observed_at\na,1,fpd,1767225600\n", RD_EINVAL,
         "line 2: observed_at: 1767225600 is before 1973"},
        {"request_id,label,outcome\na,1,fpd\nb,1\n", RD_EPARSE, "line 3: 2 fields, the header has 3"},
        {"request_id,label,outcome\na,1,\"fpd\n", RD_EPARSE, "line 2: unterminated quoted field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        path = write_file("bad.csv", cases[i].body);
        o = (rd_outcome *)&arena;
        n = 77;
        int rc = rd_outcomes_from_csv(path, &arena, NULL, NULL, &o, &n, &err);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].msg) ||
            strncmp(err.msg, path, strlen(path)) != 0)
            fail_msg("case %zu: %s\n  got %d \"%s\"\n  want %d \"%s\"", i, cases[i].body, rc, err.msg,
                     cases[i].code, cases[i].msg);
        assert_ptr_equal(o, (rd_outcome *)&arena);
        assert_int_equal(n, 77);
    }
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none.csv", dir);
    assert_int_equal(rd_outcomes_from_csv(missing, &arena, NULL, NULL, &o, &n, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "none.csv"));

    /* many records: the growth path and the progress calls */
    snprintf(missing, sizeof missing, "%s/many.csv", dir);
    FILE *f = fopen(missing, "w");
    assert_non_null(f);
    fputs("request_id,label,outcome\n", f);
    for (int i = 0; i < 10000; i++)
        fprintf(f, "r-%d,%d,dpd30\n", i, i % 3 == 0);
    fclose(f);
    c = (calls){0};
    assert_int_equal(rd_outcomes_from_csv(missing, &arena, on_progress, &c, &o, &n, &err), RD_OK);
    assert_int_equal(n, 10000);
    assert_string_equal(o[9999].request_id, "r-9999");
    assert_int_equal(o[9999].label, 1);
    assert_int_equal(c.n, 3); /* at 4096, 8192 and the end */

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Out of memory: reading a CSV batch with the n-th allocation failing, for every n until it
 * succeeds, says RD_ENOMEM and leaks nothing (ASan checks); the read that succeeds is whole. */
struct failing {
    size_t n, fail_at;
};

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
    struct failing *f = ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (++f->n == f->fail_at)
        return NULL;
    return realloc(ptr, size);
}

static void test_oom(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-outcomes-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/oom.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("request_id,label,outcome,observed_at\n", f);
    for (int i = 0; i < 5000; i++) /* past the first growth of the array */
        fprintf(f, "r-%d,%d,dpd30,2026-03-01T08:30:00Z\n", i, i % 2);
    fclose(f);
    struct failing fl = {0};
    size_t at;
    for (at = 1; at < 200; at++) {
        fl.n = 0;
        fl.fail_at = at;
        rd_arena a;
        rd_outcome *o = NULL;
        size_t n = 0;
        rd_err err = {0};
        rd_set_allocator(failing_alloc, &fl);
        rd_arena_init(&a, 0);
        int rc = rd_outcomes_from_csv(path, &a, NULL, NULL, &o, &n, &err);
        rd_arena_deinit(&a);
        rd_set_allocator(NULL, NULL);
        if (rc == RD_OK) {
            assert_int_equal(n, 5000);
            break;
        }
        if (rc != RD_ENOMEM)
            fail_msg("allocation %zu failed and the read said %s: %s", at, rd_err_name(rc), err.msg);
        assert_null(o);
    }
    assert_true(at > 3 && at < 200);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_stats_json(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    rd_outcome_stats st = {
        .labelled = 40, .bads = 3, .approved = 0, .bad_rate_approved = (double)NAN, .ks = (double)NAN};
    rd_outcome_stats_json(&b, "fpd", &st, 100);
    assert_string_equal(rd_buf_cstr(&b),
                        "{\"outcome\":\"fpd\",\"labelled\":40,\"bads\":3,\"approved\":0,\"approved_bads\":0,"
                        "\"bad_rate_approved\":null,\"ks\":null,\"ks_note\":\"needs 100 bads, has 3\"}");
    rd_buf_reset(&b);
    st = (rd_outcome_stats){.labelled = 400,
                            .bads = 120,
                            .approved = 200,
                            .approved_bads = 25,
                            .bad_rate_approved = 0.125,
                            .ks = 0.4375};
    rd_outcome_stats_json(&b, "dpd30", &st, 100);
    assert_string_equal(
        rd_buf_cstr(&b),
        "{\"outcome\":\"dpd30\",\"labelled\":400,\"bads\":120,\"approved\":200,\"approved_bads\":25,"
        "\"bad_rate_approved\":0.125,\"ks\":0.4375,\"ks_note\":null}");
    char note[200];
    st.ks = (double)NAN; /* enough bads, but too few of them scored by a model */
    rd_outcome_ks_note(&st, 100, note, sizeof note);
    assert_non_null(strstr(note, "among the decisions a model scored"));
    rd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_json, setup, teardown),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
