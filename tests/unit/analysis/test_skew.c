/* Training-serving skew (src/lib/analysis/skew.c): a bundle built on the fly, a store whose log
 * holds primary records written here, offline CSVs that agree, that re-encode one input, that
 * differ within and beyond the numeric tolerance; the min-rows rule at its edge; score
 * differences for the same bundle; every refusal with what it names; the JSON. */
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

#include "riskd/analysis.h"
#include "riskd/json.h"

static char dir[64];
static rd_bundle *bundle;
static rd_store *store;
static rd_arena arena;

#define NROWS 20

static const char *path(const char *name)
{
    static char p[4][128];
    static int n;
    char *s = p[n++ % 4];
    snprintf(s, 128, "%s/%s", dir, name);
    return s;
}

static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(path(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int age_of(int i) { return 20 + 3 * i; }
static const char *home_of(int i) { return i % 2 ? "own" : "rent"; }

/* NROWS primary decisions r-0 .. r-19 by the bundle, with their true scores; r-0's logged score
 * is off by 1e-3 when tamper. */
static void log_rows(bool tamper)
{
    rd_buf rec;
    rd_buf_init(&rec);
    rd_log_row rows[NROWS];
    char ids[NROWS][16];
    size_t at[NROWS];
    for (int i = 0; i < NROWS; i++) {
        char feat[128];
        snprintf(feat, sizeof feat, "{\"age\":%d,\"home\":\"%s\"}", age_of(i), home_of(i));
        rd_value v;
        rd_err err;
        assert_int_equal(rd_json_parse(feat, strlen(feat), NULL, &arena, &v, &err), RD_OK);
        rd_score sc;
        assert_int_equal(rd_bundle_score(bundle, &v, 0, &sc, &err), RD_OK);
        snprintf(ids[i], sizeof ids[i], "r-%d", i);
        at[i] = rec.len;
        rd_buf_printf(&rec,
                      "{\"v\":1,\"kind\":\"primary\",\"request_id\":\"%s\",\"features\":%s,"
                      "\"bundle\":{\"name\":\"t_lr_v1.0\",\"digest\":\"%s\"},\"source\":\"model\","
                      "\"score\":%.17g,\"decision\":\"approve\"}",
                      ids[i], feat, rd_bundle_digest(bundle), sc.score + (tamper && i == 0 ? 1e-3 : 0));
    }
    for (int i = 0; i < NROWS; i++)
        rows[i] = (rd_log_row){.ts_ms = 1767225600000 + i,
                               .request_id = ids[i],
                               .kind = "primary",
                               .model_version = "t_lr_v1.0",
                               .record_len = (i + 1 < NROWS ? at[i + 1] : rec.len) - at[i]};
    const char *base = rd_buf_cstr(&rec);
    for (int i = 0; i < NROWS; i++)
        rows[i].record = base + at[i];
    rd_err err;
    assert_int_equal(rd_store_log_append(store, rows, NROWS, &err), RD_OK);
    rd_buf_deinit(&rec);
}

static int setup(void **state)
{
    (void)state;
    rd_arena_init(&arena, 0);
    snprintf(dir, sizeof dir, "/tmp/riskd-skew-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_text("m.json",
               "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\",\"home=rent\"],"
               "\"coef\":[-0.05,-1,0.5],\"intercept\":1,\"means\":[40,0.5,0.5]}");
    write_text("p.json",
               "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\",\"min\":18,\"max\":120},"
               "{\"name\":\"home\",\"type\":\"category\",\"levels\":[\"own\",\"rent\"]}],"
               "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\",\"source\":\"age\"},"
               "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"},"
               "{\"name\":\"home=rent\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"rent\"}]}");
    write_text("d.csv", "age,home,y\n30,own,0\n50,rent,1\n45,,1\n20,rent,0\n60,own,0\n25,rent,1\n");
    char m[128], p[128], d[128], out[128];
    snprintf(m, sizeof m, "%s/m.json", dir);
    snprintf(p, sizeof p, "%s/p.json", dir);
    snprintf(d, sizeof d, "%s/d.csv", dir);
    snprintf(out, sizeof out, "%s/t_lr_v1.0", dir);
    rd_bundle_build_opts o = {.name = "t_lr_v1.0",
                              .model_path = m,
                              .pipeline_path = p,
                              .data_path = d,
                              .label = "y",
                              .out_dir = out};
    rd_err err;
    if (rd_bundle_build(&o, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
    assert_int_equal(rd_bundle_load(out, &bundle, &err), RD_OK);
    char sdir[128];
    snprintf(sdir, sizeof sdir, "%s/data", dir);
    assert_int_equal(rd_store_open(sdir, NULL, &store, &err), RD_OK);
    log_rows(false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_store_close(store);
    rd_bundle_free(bundle);
    rd_arena_deinit(&arena);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* An offline file of the logged applications: fn(i, age, home) may change row i's fields;
 * extra header columns after "id". */
typedef void (*edit_fn)(int i, char *age, size_t acap, char *home, size_t hcap);

static void offline(const char *name, const char *header, edit_fn fn)
{
    FILE *f = fopen(path(name), "w");
    assert_non_null(f);
    fprintf(f, "%s\n", header ? header : "id,age,home,extra");
    for (int i = 0; i < NROWS; i++) {
        char age[32], home[32];
        snprintf(age, sizeof age, "%d", age_of(i));
        snprintf(home, sizeof home, "%s", home_of(i));
        if (fn)
            fn(i, age, sizeof age, home, sizeof home);
        fprintf(f, "r-%d,%s,%s,z\n", i, age, home);
    }
    fclose(f);
}

static int run(const char *file, const char *id, uint64_t min_rows, rd_skew_result *r, rd_err *err)
{
    rd_an_source src = {.store = store};
    rd_skew_opts o;
    rd_skew_opts_default(&o);
    o.offline = path(file);
    o.id_col = id;
    o.min_rows = min_rows;
    o.max_examples = 3;
    return rd_skew(&src, bundle, &o, &arena, r, err);
}

static const rd_skew_input *input(const rd_skew_result *r, const char *name)
{
    for (size_t i = 0; i < r->ninputs; i++)
        if (!strcmp(r->inputs[i].name, name))
            return &r->inputs[i];
    fail_msg("no input %s", name);
    return NULL;
}

static void test_consistent(void **state)
{
    (void)state;
    offline("same.csv", NULL, NULL);
    rd_skew_result r;
    rd_err err;
    assert_int_equal(run("same.csv", "id", 10, &r, &err), RD_OK);
    assert_int_equal(r.online_rows, NROWS);
    assert_int_equal(r.joined, NROWS);
    assert_int_equal(r.unmatched_offline, 0);
    assert_false(r.differences);
    assert_null(r.missing_inputs);
    assert_int_equal(r.nexamples, 0);
    assert_int_equal(r.score_compared, NROWS);
    assert_int_equal(r.score_differing, 0);
    assert_true(r.score_max_diff == 0);
    assert_int_equal(input(&r, "age")->mismatches, 0);
    assert_true(input(&r, "age")->max_diff == 0);
    assert_non_null(strstr(r.verdict, "consistent"));
    /* too few rows to judge: no alarm, the verdict says so */
    assert_int_equal(run("same.csv", "id", 1000, &r, &err), RD_OK);
    assert_false(r.differences);
    assert_non_null(strstr(r.verdict, "insufficient data: 1000 joined rows needed"));
    assert_non_null(input(&r, "home")->note);
    /* the JSON parses and carries the counts */
    rd_buf b;
    rd_buf_init(&b);
    rd_skew_json(&b, &r);
    rd_value v;
    assert_int_equal(rd_json_parse(b.data, b.len, NULL, &arena, &v, &err), RD_OK);
    assert_true(rd_value_get(&v, "joined", 6)->u.n == NROWS);
    assert_true(rd_value_get(&v, "differences", 11)->type == RD_VBOOL);
    rd_buf_reset(&b);
    rd_skew_text(&b, &r);
    assert_non_null(strstr(rd_buf_cstr(&b), "OK: no difference found"));
    rd_buf_deinit(&b);
}

static void upper_home(int i, char *age, size_t acap, char *home, size_t hcap)
{
    (void)i, (void)age, (void)acap, (void)hcap;
    for (char *p = home; *p; p++)
        *p = (char)(*p - 'a' + 'A');
}

static void test_one_input_recoded(void **state)
{
    (void)state;
    offline("upper.csv", NULL, upper_home);
    rd_skew_result r;
    rd_err err;
    assert_int_equal(run("upper.csv", "id", 10, &r, &err), RD_OK);
    assert_true(r.differences);
    assert_string_equal(r.inputs[0].name, "home"); /* the alarming first */
    assert_true(r.inputs[0].alarm);
    assert_int_equal(r.inputs[0].mismatches, NROWS); /* every row: one of the two columns was 1 */
    assert_string_equal(r.inputs[0].columns, "home=own, home=rent");
    assert_false(input(&r, "age")->alarm);
    assert_int_equal(input(&r, "age")->mismatches, 0);
    assert_int_equal(r.nexamples, 3);
    assert_string_equal(r.examples[0].request_id, "r-0");
    assert_string_equal(r.examples[0].online_raw, "\"rent\"");
    assert_string_equal(r.examples[0].offline_raw, "\"RENT\"");
    assert_string_equal(r.examples[0].column, "home=rent");
    assert_true(r.examples[0].online == 1 && r.examples[0].offline == 0);
    assert_non_null(strstr(r.verdict, "home differs in 100.0% of 20 joined rows"));
}

static int edit_row;
static const char *edit_age;

static void one_age(int i, char *age, size_t acap, char *home, size_t hcap)
{
    (void)home, (void)hcap;
    if (i == edit_row)
        snprintf(age, acap, "%s", edit_age);
}

static void two_ages(int i, char *age, size_t acap, char *home, size_t hcap)
{
    (void)home, (void)hcap;
    if (i == 1 || i == 2)
        snprintf(age, acap, "%d", age_of(i) + 1);
}

static void test_tolerance_and_min_rows(void **state)
{
    (void)state;
    rd_skew_result r;
    rd_err err;
    /* within 1e-9 + 1e-6 |x|: the same */
    edit_row = 4, edit_age = "32.00001";
    offline("near.csv", NULL, one_age);
    assert_int_equal(run("near.csv", "id", 10, &r, &err), RD_OK);
    assert_int_equal(input(&r, "age")->mismatches, 0);
    assert_true(fabs(input(&r, "age")->max_diff - 1e-5) < 1e-12);
    /* beyond: differs */
    edit_age = "32.001";
    offline("far.csv", NULL, one_age);
    assert_int_equal(run("far.csv", "id", 10, &r, &err), RD_OK);
    assert_int_equal(input(&r, "age")->mismatches, 1);
    /* one mismatch in 20 rows, min_rows 1000, threshold 0.001: 1 is not > 1, not judged */
    assert_int_equal(run("far.csv", "id", 1000, &r, &err), RD_OK);
    assert_false(input(&r, "age")->alarm);
    assert_int_equal(r.score_differing, 1); /* but its score differs: r.differences */
    assert_true(r.differences);
    /* two mismatches exceed 0.001 x 1000: no number of further rows brings the rate under */
    offline("two.csv", NULL, two_ages);
    assert_int_equal(run("two.csv", "id", 1000, &r, &err), RD_OK);
    assert_true(input(&r, "age")->alarm);
    /* missing offline against present online */
    edit_row = 7, edit_age = "";
    offline("gap.csv", NULL, one_age);
    assert_int_equal(run("gap.csv", "id", 10, &r, &err), RD_OK);
    assert_int_equal(input(&r, "age")->mismatches, 1);
    assert_string_equal(r.examples[0].offline_raw, "\"\"");
    assert_true(isnan(r.examples[0].offline));
    /* outside the input's range offline: refused there, blamed on age */
    edit_row = 3, edit_age = "348";
    offline("months.csv", NULL, one_age);
    assert_int_equal(run("months.csv", "id", 10, &r, &err), RD_OK);
    assert_int_equal(r.refused_offline, 1);
    assert_int_equal(input(&r, "age")->mismatches, 1);
    assert_int_equal(input(&r, "home")->mismatches, 0);
    assert_null(r.examples[0].column);
}

static void test_score_differs(void **state)
{
    (void)state;
    rd_skew_result r;
    rd_err err;
    char sdir[128];
    snprintf(sdir, sizeof sdir, "%s/data", dir);
    rd_store_close(store);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rd_store_open(sdir, NULL, &store, &err), RD_OK);
    log_rows(true);
    offline("same2.csv", NULL, NULL);
    assert_int_equal(run("same2.csv", "id", 10, &r, &err), RD_OK);
    assert_int_equal(r.score_compared, NROWS);
    assert_int_equal(r.score_differing, 1);
    assert_true(fabs(r.score_max_diff - 1e-3) < 1e-9);
    assert_true(r.differences);
    assert_non_null(strstr(r.verdict, "1 of 20 scores by this bundle differ"));
}

static void expect(int rc, int code, const rd_err *err, const char *part)
{
    if (rc != code || !strstr(err->msg, part))
        fail_msg("want %d with \"%s\", got %d: %s", code, part, rc, err->msg);
}

static void test_refusals(void **state)
{
    (void)state;
    rd_skew_result r;
    rd_err err;
    offline("plain.csv", NULL, NULL);
    expect(run("plain.csv", "request_id", 10, &r, &err), RD_EINVAL, &err,
           "--id request_id names no column (columns: id, age, home, extra)");
    expect(run("plain.csv", "idd", 10, &r, &err), RD_EINVAL, &err, "did you mean id?");
    write_text("none.csv", "id,age,home\nx-1,30,own\nx-2,40,rent\n");
    expect(run("none.csv", "id", 10, &r, &err), RD_EINVAL, &err, "none of the 2 ids in");
    write_text("dup.csv", "id,age,home\nr-1,30,own\nr-2,40,rent\nr-1,30,own\n");
    expect(run("dup.csv", "id", 10, &r, &err), RD_EINVAL, &err,
           "line 4: request id r-1 appears again (first on line 2)");
    write_text("noinput.csv", "id,Agee,HOME\nr-1,30,own\n");
    expect(run("noinput.csv", "id", 10, &r, &err), RD_EINVAL, &err, "noinput.csv");
    write_text("empty.csv", "id,age,home\n");
    expect(run("empty.csv", "id", 10, &r, &err), RD_EINVAL, &err, "no rows");
    /* an input the file lacks: named, compared as missing offline, so it differs */
    write_text("nohome.csv", "id,age\nr-1,23\nr-2,26\n");
    assert_int_equal(run("nohome.csv", "id", 10, &r, &err), RD_OK);
    assert_string_equal(r.missing_inputs, "home");
    assert_true(input(&r, "home")->alarm);
    assert_non_null(strstr(input(&r, "home")->note, "every offline value is missing"));
    assert_int_equal(r.unmatched_offline, 0);
    assert_non_null(strstr(r.verdict, "NOT IN THE OFFLINE FILE: home"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consistent),
        cmocka_unit_test(test_one_input_recoded),
        cmocka_unit_test(test_tolerance_and_min_rows),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_score_differs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
