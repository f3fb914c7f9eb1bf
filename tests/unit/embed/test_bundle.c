/* rd_embed_bundle_*: a small logistic bundle built here, decided through the embedding calls
 * from columns and from JSON records (refused rows carry their error, the others are decided,
 * missing and unknown inputs are marked), one record into the /v1/score record, the pipeline
 * and the model alone. The answers are checked against rd_bundle_score on the same record; the
 * Python tests (tests/python/test_bundle.py) check them against riskd score and the server. */
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

#include "riskd/arena.h"
#include "riskd/bundle.h"
#include "riskd/embed.h"
#include "riskd/json.h"

static char dir[64], bundle[128];

static void write_text(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/riskd-embed-bundle-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_text("m.json", "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\"],"
                         "\"coef\":[-0.1,-1],\"intercept\":2,\"means\":[40,0.5]}");
    write_text("p.json",
               "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\",\"min\":18}],"
               "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\"},"
               "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"}]}");
    write_text("d.csv", "age,home,y\n30,own,0\n50,rent,1\n45,,1\n20,rent,0\n60,own,0\n33,own,1\n");
    char opts[1024];
    snprintf(bundle, sizeof(bundle), "%s/t_lr_v1.0", dir);
    snprintf(opts, sizeof(opts),
             "{\"name\":\"t_lr_v1.0\",\"model_path\":\"%s/m.json\",\"pipeline_path\":\"%s/p.json\","
             "\"data_path\":\"%s/d.csv\",\"label\":\"y\",\"out_dir\":\"%s\",\"reasons\":2}",
             dir, dir, dir, bundle);
    char *res = NULL;
    rd_err err;
    if (rd_embed_build(opts, strlen(opts), &res, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
    rd_embed_free(res);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* The reference: the bundle's own rd_bundle_score of the record in JSON. */
static double reference(const char *json)
{
    rd_bundle *b;
    rd_err err;
    assert_int_equal(rd_bundle_load(bundle, &b, &err), RD_OK);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v;
    assert_int_equal(rd_json_parse(json, strlen(json), NULL, &a, &v, &err), RD_OK);
    rd_score s;
    assert_int_equal(rd_bundle_score(b, &v, 2, &s, &err), RD_OK);
    rd_arena_deinit(&a);
    rd_bundle_free(b);
    return s.score;
}

static void test_open_info(void **state)
{
    (void)state;
    rd_embed_bundle *eb;
    size_t checked = 0;
    rd_err err;
    assert_int_equal(rd_embed_bundle_open(bundle, NULL, 0, &eb, &checked, &err), RD_OK);
    assert_true(checked > 0);
    char *info = NULL;
    assert_int_equal(rd_embed_bundle_info(eb, &info, &err), RD_OK);
    assert_non_null(strstr(info, "\"name\":\"t_lr_v1.0\""));
    assert_non_null(strstr(info, "\"features\":[\"age\",\"home=own\"]"));
    assert_non_null(strstr(info, "{\"name\":\"home\",\"type\":\"category\""));
    assert_non_null(strstr(info, "\"reference\":{\"format\":"));
    rd_embed_free(info);
    rd_embed_bundle_free(eb);
    /* nothing there, a deadline out of range, a fallback file that is not there */
    assert_int_equal(rd_embed_bundle_open("/nonexistent/x_y_v1.0", NULL, 0, &eb, NULL, &err), RD_EIO);
    assert_int_equal(rd_embed_bundle_open(bundle, NULL, -1, &eb, NULL, &err), RD_EINVAL);
    assert_int_equal(rd_embed_bundle_open(bundle, "/nonexistent/fb.json", 0, &eb, NULL, &err), RD_EIO);
}

static void test_columns(void **state)
{
    (void)state;
    rd_embed_bundle *eb;
    rd_err err;
    assert_int_equal(rd_embed_bundle_open(bundle, NULL, 0, &eb, NULL, &err), RD_OK);
    enum { N = 5 };
    const double age[N] = {30, NAN, 7, 45, INFINITY};
    const char *const levels[] = {"own", "rent", "villa"};
    const int32_t home[N] = {0, 1, 0, 2, -1};
    rd_embed_column cols[] = {{.name = "age", .num = age},
                              {.name = "home", .codes = home, .levels = levels, .nlevels = 3}};
    rd_embed_input in = {.cols = cols, .ncols = 2, .n = N};
    rd_embed_row rows[N];
    const char *codes[N * 2];
    int32_t inputs[N * 2];
    double impacts[N * 2];
    uint64_t missing[N], unknown[N];
    char *errors[N];
    rd_embed_out out = {.k = 2,
                        .rows = rows,
                        .reason_code = codes,
                        .reason_input = inputs,
                        .reason_impact = impacts,
                        .missing = missing,
                        .unknown = unknown,
                        .errors = errors};
    for (int threads = 1; threads <= 2; threads++) {
        assert_int_equal(rd_embed_decide(eb, &in, threads, &out, &err), RD_OK);
        assert_int_equal(rows[0].rc, RD_OK);
        assert_true(rows[0].score == reference("{\"age\":30,\"home\":\"own\"}"));
        assert_null(errors[0]);
        /* age missing: decided (the mean), and marked */
        assert_int_equal(rows[1].rc, RD_OK);
        assert_true(rows[1].score == reference("{\"home\":\"rent\"}"));
        assert_int_equal(missing[1], 1);
        assert_int_equal(rows[1].nmissing, 1);
        /* below the input's min: refused, with the pipeline's message */
        assert_int_equal(rows[2].rc, RD_EINVAL);
        assert_non_null(errors[2]);
        assert_non_null(strstr(errors[2], "age"));
        assert_true(isnan(rows[2].score));
        /* a level the pipeline does not know: decided as missing, marked unknown */
        assert_int_equal(rows[3].rc, RD_OK);
        assert_int_equal(unknown[3], 2);
        assert_true(rows[3].score == reference("{\"age\":45,\"home\":\"villa\"}"));
        /* infinity is no value riskd decides */
        assert_int_equal(rows[4].rc, RD_EINVAL);
        assert_non_null(strstr(errors[4], "inf"));
        for (int i = 0; i < N; i++)
            rd_embed_free(errors[i]);
    }
    /* a code past the levels is the row's error, not a read past the array */
    const int32_t wild[N] = {3, 0, 0, 0, 0};
    cols[1].codes = wild;
    assert_int_equal(rd_embed_decide(eb, &in, 1, &out, &err), RD_OK);
    assert_int_equal(rows[0].rc, RD_EINVAL);
    assert_non_null(strstr(errors[0], "past"));
    for (int i = 0; i < N; i++)
        rd_embed_free(errors[i]);
    /* a column with neither numbers nor codes */
    rd_embed_column none[] = {{.name = "age"}};
    rd_embed_input bad = {.cols = none, .ncols = 1, .n = 1};
    assert_int_equal(rd_embed_decide(eb, &bad, 1, &out, &err), RD_EUSAGE);
    out.k = 17;
    assert_int_equal(rd_embed_decide(eb, &in, 1, &out, &err), RD_EINVAL);
    rd_embed_bundle_free(eb);
}

static void test_json(void **state)
{
    (void)state;
    rd_embed_bundle *eb;
    rd_err err;
    assert_int_equal(rd_embed_bundle_open(bundle, NULL, 0, &eb, NULL, &err), RD_OK);
    const char *json = "[{\"age\":30,\"home\":\"own\"},{\"agee\":30},3,{\"age\":\"51\",\"home\":null}]";
    rd_embed_row rows[4];
    char *errors[4];
    rd_embed_out out = {.k = 0, .rows = rows, .errors = errors};
    rd_embed_input in = {.json = json, .json_len = strlen(json), .n = 4};
    assert_int_equal(rd_embed_decide(eb, &in, 0, &out, &err), RD_OK);
    assert_true(rows[0].score == reference("{\"age\":30,\"home\":\"own\"}"));
    assert_int_equal(rows[1].rc, RD_EINVAL); /* a name that is no input: refused, as the service does */
    assert_non_null(strstr(errors[1], "agee"));
    assert_int_equal(rows[2].rc, RD_ETYPE);
    assert_true(rows[3].score == reference("{\"age\":51}"));
    for (int i = 0; i < 4; i++)
        rd_embed_free(errors[i]);
    in.n = 3; /* the count disagrees */
    assert_int_equal(rd_embed_decide(eb, &in, 0, &out, &err), RD_EUSAGE);
    in = (rd_embed_input){.json = "{\"age\":1}", .json_len = 9, .n = 1};
    assert_int_equal(rd_embed_decide(eb, &in, 0, &out, &err), RD_ETYPE);
    in = (rd_embed_input){.json = "[{\"age\":", .json_len = 8, .n = 1};
    assert_int_equal(rd_embed_decide(eb, &in, 0, &out, &err), RD_EPARSE);

    char *rec = NULL;
    const char *one = "{\"age\":30,\"home\":\"own\"}";
    assert_int_equal(rd_embed_decide_one(eb, one, strlen(one), 2, "a-1", &rec, &err), RD_OK);
    assert_memory_equal(rec, "{\"request_id\":\"a-1\",\"score\":", 28);
    assert_null(strstr(rec, "latency_ms"));
    assert_int_equal(rec[strlen(rec) - 1], '}');
    rd_embed_free(rec);
    assert_int_equal(rd_embed_decide_one(eb, "{}", 2, 2, NULL, &rec, &err), RD_EINVAL);
    assert_int_equal(rd_embed_decide_one(eb, "[]", 2, 2, NULL, &rec, &err), RD_ETYPE);
    assert_int_equal(rd_embed_decide_one(eb, one, strlen(one), 99, NULL, &rec, &err), RD_EINVAL);
    rd_embed_bundle_free(eb);
}

static void test_alone(void **state)
{
    (void)state;
    rd_embed_bundle *eb;
    rd_err err;
    assert_int_equal(rd_embed_bundle_open(bundle, NULL, 0, &eb, NULL, &err), RD_OK);
    const char *json = "[{\"age\":30,\"home\":\"own\"},{\"age\":3}]";
    rd_embed_input in = {.json = json, .json_len = strlen(json), .n = 2};
    double x[4], p[2], c[6];
    int32_t rc[2];
    char *errors[2];
    assert_int_equal(rd_embed_prepare(eb, &in, 1, x, rc, errors, &err), RD_OK);
    assert_true(x[0] == 30 && x[1] == 1);
    assert_int_equal(rc[1], RD_EINVAL);
    assert_true(isnan(x[2]) && isnan(x[3]));
    rd_embed_free(errors[1]);
    assert_int_equal(rd_embed_predict(eb, x, 1, 1, 1, p, &err), RD_OK);
    assert_true(p[0] == reference("{\"age\":30,\"home\":\"own\"}"));
    assert_int_equal(rd_embed_predict(eb, x, 1, 2, 1, p, &err), RD_EINVAL); /* no points */
    assert_int_equal(rd_embed_contributions(eb, x, 1, 1, c, &err), RD_OK);
    /* a linear model's terms and bias sum to its margin: 2 - 0.1 * 30 - 1 */
    assert_true(fabs(c[0] + c[1] + c[2] - (2 - 0.1 * 30 - 1)) < 1e-12);
    rd_embed_bundle_free(eb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_info),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
