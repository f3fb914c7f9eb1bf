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
                      "features[0].kind: must be \"numeric\" or \"one_hot\"");
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
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_record_errors),
        cmocka_unit_test(test_spec_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
