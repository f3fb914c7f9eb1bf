/* rd_embed_build: the builder's options as JSON (unknown fields and wrong types refused by
 * name, a full build answering dir, digest and warnings); rd_embed_pipeline_apply: the
 * pipeline alone over a JSON array of records. tests/python/test_export.py drives both from
 * Python against the training libraries. */
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

#include "riskd/embed.h"

static char dir[64];

static void write_text(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_refused(const char *opts, int code, const char *needle)
{
    char *res = NULL;
    rd_err err;
    assert_int_equal(rd_embed_build(opts, strlen(opts), &res, &err), code);
    assert_null(res);
    if (!strstr(err.msg, needle))
        fail_msg("\"%s\" not in \"%s\"", needle, err.msg);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refused("{\"name\":\"a_b_v1.0\",\"pipline_path\":\"p.json\"}", RD_EINVAL,
                   "unknown field \"pipline_path\"");
    expect_refused("{\"samples\":\"20\"}", RD_EINVAL, "\"samples\" must be an integer");
    expect_refused("{\"samples\":0}", RD_EINVAL, "\"samples\" must be an integer from 1 to 1000");
    expect_refused("{\"reasons\":1.5}", RD_EINVAL, "\"reasons\"");
    expect_refused("{\"deadline_ms\":-1}", RD_EINVAL, "\"deadline_ms\"");
    expect_refused("{\"label\":1}", RD_EINVAL, "\"label\" must be a string or null, not number");
    expect_refused("{\"name\":\"a\\u0000b\"}", RD_EINVAL, "NUL");
    expect_refused("{\"risk_bands\":\"[]\"}", RD_EINVAL, "\"risk_bands\" must be an array");
    expect_refused("{\"output_kind\":\"odds\"}", RD_EINVAL, "probability, score or margin");
    expect_refused("[]", RD_EINVAL, "must be a JSON object");
    expect_refused("{\"name\":", RD_EPARSE, "bundle build options");
    /* Well-formed, and the builder's own refusal comes through. */
    expect_refused("{\"name\":\"a_b_v1.0\"}", RD_EINVAL, "required");
    expect_refused("{\"name\":\"a-b_v1.0\",\"model_path\":\"m\",\"data_path\":\"d\"}", RD_EINVAL, "a-b");
}

static void test_build(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/riskd-embed-build-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_text("m.json", "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\"],"
                         "\"coef\":[-0.1,-1],\"intercept\":2,\"means\":[40,0.5]}");
    write_text("p.json",
               "{\"features\":[{\"name\":\"age\",\"kind\":\"numeric\"},"
               "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"}]}");
    /* The label inverted: an AUC below 0.5, warned. */
    write_text("d.csv", "age,home,y\n30,own,0\n50,rent,1\n45,,1\n20,rent,0\n60,own,0\n");
    char opts[1024], out[128];
    snprintf(out, sizeof(out), "%s/t_lr_v1.0", dir);
    snprintf(
        opts, sizeof(opts),
        "{\"name\":\"t_lr_v1.0\",\"model_path\":\"%s/m.json\",\"pipeline_path\":\"%s/p.json\","
        "\"data_path\":\"%s/d.csv\",\"label\":\"y\",\"positive\":null,\"out_dir\":\"%s\",\"samples\":3,"
        "\"reasons\":2,\"deadline_ms\":40,\"risk_bands\":[{\"level\":\"ok\",\"max\":0.5},{\"level\":\"no\","
        "\"min\":0.5}],\"created_by\":\"unit\",\"fallback_path\":null,\"output_kind\":\"probability\","
        "\"test_data_path\":null}",
        dir, dir, dir, out);
    char *res = NULL;
    rd_err err;
    if (rd_embed_build(opts, strlen(opts), &res, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
    char want[256];
    snprintf(want, sizeof(want), "{\"dir\":\"%s\",\"digest\":\"", out);
    assert_memory_equal(res, want, strlen(want));
    assert_non_null(strstr(res, "\"warnings\":[\""));
    assert_non_null(strstr(res, "AUC"));
    rd_embed_free(res);
    /* Built once: the directory now exists, and is never overwritten. */
    res = NULL;
    assert_int_equal(rd_embed_build(opts, strlen(opts), &res, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "exists"));
    assert_null(res);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static const char spec[] =
    "{\"dtype\":\"float32\",\"inputs\":[{\"name\":\"age\",\"type\":\"number\",\"min\":18}],"
    "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\"},"
    "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"}]}";

static void test_pipeline_apply(void **state)
{
    (void)state;
    const char *rows = "[{\"age\":30.1,\"home\":\"own\"},{\"age\":null,\"home\":\"rent\"},{\"age\":\"40\"}]";
    double x[6];
    rd_err err;
    if (rd_embed_pipeline_apply(spec, strlen(spec), rows, strlen(rows), 3, 2, x, &err) != RD_OK)
        fail_msg("apply: %s", err.msg);
    assert_true(x[0] == (double)30.1f && x[1] == 1.0);
    assert_true(isnan(x[2]) && x[3] == 0.0);
    assert_true(x[4] == 40.0 && x[5] == 0.0);
    assert_int_equal(rd_embed_pipeline_apply(spec, strlen(spec), rows, strlen(rows), 2, 2, x, &err),
                     RD_EINVAL);
    assert_non_null(strstr(err.msg, "array of 2 records"));
    assert_int_equal(rd_embed_pipeline_apply(spec, strlen(spec), rows, strlen(rows), 3, 3, x, &err),
                     RD_EINVAL);
    assert_non_null(strstr(err.msg, "2 features, not 3"));
    const char *bad = "[{\"age\":30},{\"age\":7}]";
    assert_int_equal(rd_embed_pipeline_apply(spec, strlen(spec), bad, strlen(bad), 2, 2, x, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "row 1: age"));
    const char *text = "[{\"age\":\"x\"}]";
    assert_int_equal(rd_embed_pipeline_apply(spec, strlen(spec), text, strlen(text), 1, 2, x, &err),
                     RD_ETYPE);
    assert_int_equal(rd_embed_pipeline_apply("{", 1, "[]", 2, 0, 2, x, &err), RD_EPARSE);
    assert_non_null(strstr(err.msg, "pipeline spec"));
    assert_int_equal(rd_embed_pipeline_apply(spec, strlen(spec), "[]", 2, 0, 2, NULL, &err), RD_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_pipeline_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
