/* The feature pipeline: encodings, missing and unknown values, and every refusal (of a spec,
 * and of a record) with its message. tests/conformance/pipeline_credit.c proves the shared
 * credit spec against the matrix XGBoost was fed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "riskd/riskd.h"
#include "riskd/pipeline.h"
#include "riskd/text.h"

static const char *spec =
    "{\"dtype\":\"float32\",\"inputs\":[{\"name\":\"age\",\"type\":\"number\",\"min\":18,\"max\":120},"
    "{\"name\":\"home\",\"type\":\"category\",\"levels\":[\"own\",\"rent\",\"other\"]}],"
    "\"features\":[{\"name\":\"age\",\"source\":\"age\",\"kind\":\"numeric\"},"
    "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"},"
    "{\"name\":\"home=rent\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"rent\"},"
    "{\"name\":\"income\",\"kind\":\"numeric\"}]}";

static rd_arena arena;

static rd_pipeline *load(const char *json)
{
    rd_pipeline *p = NULL;
    rd_err err;
    if (rd_pipeline_parse(json, strlen(json), &p, &err) != RD_OK)
        fail_msg("spec refused: %s", err.msg);
    return p;
}

static int apply(const rd_pipeline *p, const char *record_json, double *x, rd_pipeline_report *rep,
                 rd_err *err)
{
    rd_value rec;
    assert_int_equal(rd_json_parse(record_json, strlen(record_json), NULL, &arena, &rec, err), RD_OK);
    return rd_pipeline_apply(p, &rec, x, rep, err);
}

static void test_encodings(void **state)
{
    (void)state;
    rd_pipeline *p = load(spec);
    assert_int_equal(rd_pipeline_num_features(p), 4);
    assert_int_equal(rd_pipeline_num_inputs(p), 3); /* income inferred */
    assert_string_equal(rd_pipeline_input_name(p, 2), "income");
    double x[4];
    rd_pipeline_report rep;
    rd_err err;
    assert_int_equal(apply(p, "{\"age\":30.1,\"home\":\"rent\",\"income\":\"1234.5\"}", x, &rep, &err),
                     RD_OK);
    assert_true(x[0] == (double)30.1f); /* float32 spec */
    assert_true(x[1] == 0 && x[2] == 1);
    assert_true(x[3] == 1234.5);
    assert_int_equal(rep.missing, 0);
    assert_int_equal(rep.unknown, 0);
    /* missing: absent, null, "" -> NaN / all zeros; unknown level -> all zeros, counted */
    assert_int_equal(apply(p, "{\"age\":null,\"home\":\"castle\",\"income\":\"\"}", x, &rep, &err), RD_OK);
    assert_true(isnan(x[0]) && isnan(x[3]));
    assert_true(x[1] == 0 && x[2] == 0);
    assert_int_equal(rep.missing, 2);
    assert_int_equal(rep.unknown, 1);
    assert_int_equal(apply(p, "{}", x, &rep, &err), RD_OK);
    assert_int_equal(rep.missing, 3);
    rd_pipeline_free(p);
}

static void expect_record_error(const rd_pipeline *p, const char *rec, int code, const char *msg)
{
    double x[8];
    rd_err err;
    int rc = apply(p, rec, x, NULL, &err);
    if (rc != code || strcmp(err.msg, msg) != 0)
        fail_msg("%s: got %d \"%s\", want %d \"%s\"", rec, rc, rc ? err.msg : "", code, msg);
}

static void test_record_errors(void **state)
{
    (void)state;
    rd_pipeline *p = load(spec);
    expect_record_error(p, "{\"age\":\"old\"}", RD_ETYPE, "age: \"old\" is not a number");
    expect_record_error(p, "{\"age\":true}", RD_ETYPE, "age: expected a number, got boolean");
    expect_record_error(p, "{\"age\":12}", RD_EINVAL, "age: 12 is outside [18, 120]");
    expect_record_error(p, "{\"home\":3}", RD_ETYPE, "home: expected a category (a string), got number");
    expect_record_error(p, "[1]", RD_ETYPE, "a record must be an object of input values");
    rd_pipeline_free(p);
}

static void expect_spec_error(const char *json, const char *msg)
{
    rd_pipeline *p = (rd_pipeline *)(uintptr_t)1;
    rd_err err;
    int rc = rd_pipeline_parse(json, strlen(json), &p, &err);
    if (rc == RD_OK || strcmp(err.msg, msg) != 0)
        fail_msg("%s: got %d \"%s\", want \"%s\"", json, rc, rc ? err.msg : "", msg);
    assert_ptr_equal(p, (rd_pipeline *)(uintptr_t)1);
}

static void test_spec_errors(void **state)
{
    (void)state;
    expect_spec_error("[]", "a pipeline spec is a JSON object");
    expect_spec_error("{}", "features: missing or not a non-empty array");
    expect_spec_error("{\"features\":[{\"name\":\"a\",\"kind\":\"log\"}]}",
                      "features[0].kind: must be \"numeric\", \"one_hot\" or \"woe\"");
    expect_spec_error("{\"features\":[{\"name\":\"a\",\"kind\":\"one_hot\"}]}",
                      "features[0].level: a one_hot feature needs its level");
    expect_spec_error(
        "{\"inputs\":[{\"name\":\"a\",\"type\":\"number\"}],"
        "\"features\":[{\"name\":\"a=x\",\"source\":\"a\",\"kind\":\"one_hot\",\"level\":\"x\"}]}",
        "features[0].source: a one_hot feature needs a category input");
    expect_spec_error("{\"inputs\":[{\"name\":\"a\",\"type\":\"date\"}],\"features\":[{\"name\":\"a\","
                      "\"kind\":\"numeric\"}]}",
                      "inputs[0].type: must be \"number\" or \"category\"");
    expect_spec_error(
        "{\"inputs\":[{\"name\":\"a\",\"type\":\"number\"},{\"name\":\"a\",\"type\":\"number\"}],"
        "\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
        "inputs[1].name: declared twice");
    expect_spec_error("{\"dtype\":\"int8\",\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
                      "dtype: must be \"float32\" or \"float64\"");
}

static const char *woe_spec =
    "{\"features\":[{\"name\":\"age\",\"kind\":\"woe\",\"cuts\":[25,40],\"woe\":[-0.5,0.1,0.7],"
    "\"missing_woe\":-0.9},"
    "{\"name\":\"home\",\"kind\":\"woe\",\"levels\":[\"own\",\"rent\"],\"woe\":[0.6,-0.4],"
    "\"missing_woe\":-1.5,\"unknown_woe\":0.05}]}";

/* A bin holds the values from its lower cut (included) to the next (excluded). */
/* rd_pipeline_check (issue 11): records the pipeline cannot decide soundly are refused with
 * the inputs named; the spec's required, max_missing and unknown_inputs are honoured, and a
 * misspelt key of the spec is refused rather than ignored. */
static int check_rec(const rd_pipeline *p, const char *record_json, rd_unknown_policy u,
                     rd_pipeline_report *rep, rd_err *err)
{
    rd_value rec;
    assert_int_equal(rd_json_parse(record_json, strlen(record_json), NULL, &arena, &rec, err), RD_OK);
    return rd_pipeline_check(p, &rec, u, rep, err);
}

static void expect_record(const rd_pipeline *p, const char *rec, rd_unknown_policy u, const char *msg)
{
    rd_err err;
    rd_pipeline_report rep;
    int rc = check_rec(p, rec, u, &rep, &err);
    if (!msg) {
        if (rc != RD_OK)
            fail_msg("%s refused: %s", rec, err.msg);
        return;
    }
    if (rc != RD_EINVAL || strcmp(err.msg, msg) != 0)
        fail_msg("%s: got %d \"%s\", want \"%s\"", rec, rc, rc ? err.msg : "", msg);
}

static void test_check_records(void **state)
{
    (void)state;
    rd_pipeline *p = load(spec);
    expect_record(p, "{\"age\":30,\"home\":\"own\",\"income\":10}", RD_UNKNOWN_DEFAULT, NULL);
    expect_record(p, "{\"age\":30}", RD_UNKNOWN_DEFAULT, NULL); /* no max_missing: some may miss */
    expect_record(
        p, "{}", RD_UNKNOWN_DEFAULT,
        "none of the pipeline's 3 inputs is given (\"age\", \"home\", \"income\"): nothing to decide on");
    expect_record(
        p, "{\"age\":null,\"home\":\"\"}", RD_UNKNOWN_IGNORE,
        "none of the pipeline's 3 inputs is given (\"age\", \"home\", \"income\"): nothing to decide on");
    expect_record(p, "{\"Age\":30,\"home\":\"own\"}", RD_UNKNOWN_DEFAULT,
                  "unknown input \"Age\": the pipeline's inputs are \"age\", \"home\", \"income\"");
    expect_record(p, "{\"Age\":30,\"home\":\"own\"}", RD_UNKNOWN_IGNORE, NULL);
    rd_pipeline_report rep;
    rd_err err;
    assert_int_equal(check_rec(p, "{\"Age\":30,\"home\":\"own\",\"id\":7}", RD_UNKNOWN_WARN, &rep, &err),
                     RD_OK);
    assert_int_equal(rep.nunrecognised, 2);
    assert_string_equal(rep.unrecognised[0], "Age");
    assert_string_equal(rep.unrecognised[1], "id");
    rd_pipeline_free(p);

    /* the spec's own rules */
    p = load("{\"max_missing\":1,\"unknown_inputs\":\"warn\",\"inputs\":[{\"name\":\"a\",\"type\":\"number\","
             "\"required\":true},{\"name\":\"b\",\"type\":\"number\"},{\"name\":\"c\",\"type\":\"number\"}],"
             "\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"},{\"name\":\"b\",\"kind\":\"numeric\"},"
             "{\"name\":\"c\",\"kind\":\"numeric\"}]}");
    expect_record(p, "{\"a\":1,\"b\":2,\"zz\":3}", RD_UNKNOWN_DEFAULT, NULL); /* the spec says warn */
    expect_record(p, "{\"a\":1,\"b\":2,\"zz\":3}", RD_UNKNOWN_REJECT,
                  "unknown input \"zz\": the pipeline's inputs are \"a\", \"b\", \"c\"");
    expect_record(p, "{\"b\":2,\"c\":3}", RD_UNKNOWN_DEFAULT, "required input missing: \"a\"");
    expect_record(p, "{\"a\":1}", RD_UNKNOWN_DEFAULT,
                  "2 of 3 inputs are missing (\"b\", \"c\"); the pipeline allows at most 1");
    assert_true(rd_pipeline_input_required(p, 0));
    assert_false(rd_pipeline_input_required(p, 1));
    rd_pipeline_free(p);
    p = load(
        "{\"max_missing\":\"34%\",\"inputs\":[{\"name\":\"a\",\"type\":\"number\"},{\"name\":\"b\",\"type\":"
        "\"number\"},{\"name\":\"c\",\"type\":\"number\"}],\"features\":[{\"name\":\"a\",\"kind\":"
        "\"numeric\"},"
        "{\"name\":\"b\",\"kind\":\"numeric\"},{\"name\":\"c\",\"kind\":\"numeric\"}]}");
    expect_record(p, "{\"a\":1,\"b\":2}", RD_UNKNOWN_DEFAULT, NULL);
    expect_record(p, "{\"a\":1}", RD_UNKNOWN_DEFAULT,
                  "2 of 3 inputs are missing (\"b\", \"c\"); the pipeline allows at most 1");
    rd_pipeline_free(p);

    /* past 1,024 inputs the check keeps its bits on the heap */
    rd_buf big;
    rd_buf_init(&big);
    rd_buf_puts(&big, "{\"features\":[");
    for (int i = 0; i < 1100; i++)
        rd_buf_printf(&big, "%s{\"name\":\"x%d\",\"kind\":\"numeric\"}", i ? "," : "", i);
    rd_buf_puts(&big, "]}");
    p = load(rd_buf_cstr(&big));
    expect_record(p, "{\"x1099\":1,\"x0\":null}", RD_UNKNOWN_DEFAULT, NULL);
    expect_record(
        p, "{\"x1100\":1}", RD_UNKNOWN_IGNORE,
        "none of the pipeline's 1100 inputs is given (\"x0\", \"x1\", \"x2\", \"x3\", \"x4\", \"x5\", "
        "\"x6\", \"x7\", \"x8\", \"x9\", \"x10\", \"x11\", \"x12\", \"x13\", \"x14\", \"x15\", \"x16\", "
        "\"x17\", \"x18\", \"x19\", \"x20\", \"x21\", \"x22\", \"x23\", \"x24\", ...): "
        "nothing to decide on");
    rd_pipeline_free(p);
    rd_buf_deinit(&big);

    /* misspelt keys are refused; other keys are notes (the shared specs carry "model", "target") */
    expect_spec_error("{\"max_mising\":1,\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
                      "\"max_mising\": not a key of a pipeline spec (did you mean \"max_missing\"?)");
    expect_spec_error("{\"Features\":[],\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
                      "\"Features\": not a key of a pipeline spec (did you mean \"features\"?)");
    expect_spec_error("{\"inputs\":[{\"name\":\"a\",\"type\":\"number\",\"requried\":true}],"
                      "\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
                      "inputs[0].requried: not a key of inputs (did you mean \"required\"?)");
    expect_spec_error("{\"inputs\":[{\"name\":\"a\",\"type\":\"number\",\"required\":\"yes\"}],"
                      "\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
                      "inputs[0].required: must be true or false");
    expect_spec_error("{\"max_missing\":\"lots\",\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
                      "max_missing: \"lots\" is not a share such as \"40%\"");
    expect_spec_error(
        "{\"max_missing\":-1,\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
        "max_missing: must be a count of inputs (an integer >= 0) or a share (\"40%\", or 0.4)");
    expect_spec_error("{\"unknown_inputs\":\"drop\",\"features\":[{\"name\":\"a\",\"kind\":\"numeric\"}]}",
                      "unknown_inputs: must be \"reject\", \"warn\" or \"ignore\"");
    rd_pipeline_free(load("{\"model\":\"m.json\",\"target\":{\"column\":\"y\"},\"features\":[{\"name\":\"a\","
                          "\"kind\":\"numeric\"}]}"));
}

/* A batch's header against the inputs: refused when no column is one or a required one is
 * absent; otherwise the note says what the rows will lack. */
static void test_check_columns(void **state)
{
    (void)state;
    rd_pipeline *p =
        load("{\"inputs\":[{\"name\":\"age\",\"type\":\"number\",\"required\":true},"
             "{\"name\":\"home\",\"type\":\"category\"},{\"name\":\"income\",\"type\":\"number\"}],"
             "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\"},{\"name\":\"home=own\","
             "\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"},{\"name\":\"income\","
             "\"kind\":\"numeric\"}]}");
    char note[400];
    rd_err err;
    const char *all[] = {"id", "age", "home", "income"};
    assert_int_equal(rd_pipeline_check_columns(p, all, 4, note, sizeof note, &err), RD_OK);
    assert_string_equal(note, "columns not used: \"id\"");
    const char *some[] = {"age", "hme"};
    assert_int_equal(rd_pipeline_check_columns(p, some, 2, note, sizeof note, &err), RD_OK);
    assert_string_equal(
        note, "inputs missing in every row: \"home\", \"income\"; columns not used: \"hme\" (\"home\"?)");
    const char *semi[] = {"age;home;income"};
    assert_int_equal(rd_pipeline_check_columns(p, semi, 1, note, sizeof note, &err), RD_EINVAL);
    assert_string_equal(
        err.msg, "no column is an input of the pipeline (its inputs: \"age\", \"home\", \"income\"; the "
                 "columns: \"age;home;income\"): the header is one column holding ';' or a tab, and "
                 "riskd reads comma-separated CSV");
    const char *upper[] = {"AGE", "HOME", "INCOME"};
    assert_int_equal(rd_pipeline_check_columns(p, upper, 3, note, sizeof note, &err), RD_EINVAL);
    assert_non_null(
        strstr(err.msg, "the columns: \"AGE\" (\"age\"?), \"HOME\" (\"home\"?), \"INCOME\" (\"income\"?))"));
    const char *noage[] = {"home", "income", "Age"};
    assert_int_equal(rd_pipeline_check_columns(p, noage, 3, note, sizeof note, &err), RD_EINVAL);
    assert_string_equal(
        err.msg, "the required input \"age\" is not a column (the columns not used: \"Age\" (\"age\"?))");
    rd_pipeline_free(p);
    /* the near-miss rule behind the hints */
    assert_int_equal(rd_edit_distance("home", "hme"), 1);
    assert_int_equal(rd_edit_distance("home", "hmoe"), 2); /* a transposition: two edits */
    assert_int_equal(rd_edit_distance("a", "zzzzzz"), 3);
    assert_true(rd_near_miss("Age", "age"));
    assert_true(rd_near_miss("max_mising", "max_missing"));
    assert_false(rd_near_miss("age", "age"));
    assert_false(rd_near_miss("job", "age")); /* short names: one edit at most */
}

static void test_woe_bins(void **state)
{
    (void)state;
    rd_pipeline *p = load(woe_spec);
    assert_int_equal(rd_pipeline_num_inputs(p), 2);
    double x[2];
    rd_pipeline_report rep;
    rd_err err;
    static const struct {
        const char *rec;
        double age, home;
        unsigned missing, unknown;
    } cases[] = {
        {"{\"age\":24.999,\"home\":\"own\"}", -0.5, 0.6, 0, 0},
        {"{\"age\":25,\"home\":\"rent\"}", 0.1, -0.4, 0, 0},
        {"{\"age\":\"39.99\",\"home\":\"boat\"}", 0.1, 0.05, 0, 1},
        {"{\"age\":40,\"home\":\"\"}", 0.7, -1.5, 1, 0},
        {"{\"age\":1e9}", 0.7, -1.5, 1, 0},
        {"{\"age\":null,\"home\":null}", -0.9, -1.5, 2, 0},
        {"{\"age\":-1e300,\"home\":\"Own\"}", -0.5, 0.05, 0, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(apply(p, cases[i].rec, x, &rep, &err), RD_OK);
        assert_true(x[0] == cases[i].age);
        assert_true(x[1] == cases[i].home);
        assert_int_equal(rep.missing, cases[i].missing);
        assert_int_equal(rep.unknown, cases[i].unknown);
    }
    assert_int_equal(apply(p, "{\"age\":true}", x, &rep, &err), RD_ETYPE);
    assert_string_equal(err.msg, "age: expected a number, got boolean");
    assert_int_equal(apply(p, "{\"home\":3}", x, &rep, &err), RD_ETYPE);
    rd_pipeline_free(p);
}

static void test_woe_spec_errors(void **state)
{
    (void)state;
    expect_spec_error("{\"features\":[{\"name\":\"a\",\"kind\":\"woe\",\"cuts\":[1,1],\"woe\":[0,0,0]}]}",
                      "features[0].cuts: must be strictly ascending");
    expect_spec_error("{\"features\":[{\"name\":\"a\",\"kind\":\"woe\",\"cuts\":[1,2],\"woe\":[0,0]}]}",
                      "features[0].woe: must be an array of 3 finite numbers (one per bin)");
    expect_spec_error("{\"features\":[{\"name\":\"a\",\"kind\":\"woe\",\"levels\":[\"x\",1],\"woe\":[0,0]}]}",
                      "features[0].levels: must be an array of strings");
    expect_spec_error(
        "{\"features\":[{\"name\":\"a\",\"kind\":\"woe\",\"levels\":[\"x\",\"y\",\"x\"],\"woe\":[0,0,0]}]}",
        "features[0].levels: \"x\" is listed twice");
    expect_spec_error("{\"features\":[{\"name\":\"a\",\"kind\":\"woe\",\"woe\":[0]}]}",
                      "features[0].levels: a woe feature of a category input needs levels (and no cuts)");
    expect_spec_error("{\"inputs\":[{\"name\":\"a\",\"type\":\"number\"}],\"features\":[{\"name\":\"a\","
                      "\"kind\":\"woe\",\"levels\":[\"x\"],\"woe\":[0]}]}",
                      "features[0].cuts: a woe feature of a number input needs cuts (and no levels)");
    expect_spec_error("{\"features\":[{\"name\":\"a\",\"kind\":\"woe\",\"cuts\":[],\"woe\":[0],"
                      "\"missing_woe\":\"0\"}]}",
                      "features[0].missing_woe/.unknown_woe: must be finite numbers");
}

/* The spec derived from a scorecard bins exactly as the scorecard's bins say. */
static void test_spec_from_scorecard(void **state)
{
    (void)state;
    const char *sc = "{\"type\":\"woe_logistic_scorecard\",\"features\":["
                     "{\"name\":\"age\",\"kind\":\"numeric\",\"cuts\":[25],\"bins\":[{\"lower\":null,"
                     "\"upper\":25,\"woe\":-0.25},{\"lower\":25,\"upper\":null,\"woe\":0.5}],"
                     "\"missing\":{\"woe\":0.125}},"
                     "{\"name\":\"home\",\"kind\":\"categorical\",\"levels\":[{\"level\":\"own\",\"woe\":1}],"
                     "\"missing\":{\"woe\":-2},\"unknown\":{\"woe\":0}}]}";
    rd_buf b;
    rd_buf_init(&b);
    rd_err err;
    assert_int_equal(rd_pipeline_spec_from_scorecard(sc, strlen(sc), &b, &err), RD_OK);
    rd_pipeline *p = load(rd_buf_cstr(&b));
    double x[2];
    assert_int_equal(apply(p, "{\"age\":25,\"home\":\"own\"}", x, NULL, &err), RD_OK);
    assert_true(x[0] == 0.5 && x[1] == 1);
    assert_int_equal(apply(p, "{\"home\":\"x\"}", x, NULL, &err), RD_OK);
    assert_true(x[0] == 0.125 && x[1] == 0);
    rd_pipeline_free(p);
    rd_buf_reset(&b);
    const char *no_lower =
        "{\"features\":[{\"name\":\"a\",\"kind\":\"numeric\",\"bins\":[{\"woe\":0},{\"woe\":1}]}]}";
    assert_int_equal(rd_pipeline_spec_from_scorecard(no_lower, strlen(no_lower), &b, &err), RD_EINVAL);
    assert_string_equal(err.msg, "features[0].bins[1].lower: missing or not a number");
    rd_buf_deinit(&b);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodings),       cmocka_unit_test(test_record_errors),
        cmocka_unit_test(test_spec_errors),     cmocka_unit_test(test_woe_bins),
        cmocka_unit_test(test_woe_spec_errors), cmocka_unit_test(test_spec_from_scorecard),
        cmocka_unit_test(test_check_records),   cmocka_unit_test(test_check_columns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
