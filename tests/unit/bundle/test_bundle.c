/* Bundles: the name rule, and a bundle built, loaded and scored through the API (scores,
 * bands, reasons summed per input, the missing-value report). tests/integration/03-bundle-cli.sh
 * covers every refusal of a damaged bundle through the CLI. */
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

#include "riskd/bundle.h"
#include "riskd/json.h"
#include "riskd/riskd.h"

static void expect_name(const char *name, int rc, const char *product, const char *type, unsigned ma, unsigned mi)
{
    char p[64], t[64];
    unsigned a = 0, b = 0;
    rd_err err;
    assert_int_equal(rd_bundle_name_parse(name, p, sizeof(p), t, sizeof(t), &a, &b, &err), rc);
    if (rc == RD_OK) {
        assert_string_equal(p, product);
        assert_string_equal(t, type);
        assert_int_equal(a, ma);
        assert_int_equal(b, mi);
    }
}

static void test_names(void **state)
{
    (void)state;
    expect_name("credit_xgb_v1.0", RD_OK, "credit", "xgb", 1, 0);
    expect_name("consumer_apply_xgb_v3.12", RD_OK, "consumer_apply", "xgb", 3, 12);
    expect_name("a1_b2_v0.0", RD_OK, "a1", "b2", 0, 0);
    expect_name("credit_xgb", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v1", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v1.", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v1.0x", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("xgb_v1.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("Credit_xgb_v1.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit__xgb_v1.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("cr-edit_xgb_v1.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_1xgb_v1.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v100000.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("../x_y_v1.0", RD_EINVAL, NULL, NULL, 0, 0);
}

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

/* One-hot features of one input: their impacts are summed into one reason for the input. */
static void test_build_and_score(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/riskd-bundle-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_text("m.json", "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\",\"home=rent\"],"
                         "\"coef\":[-0.1,-1,1],\"intercept\":2,\"means\":[40,0.5,0.5]}");
    write_text("p.json", "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\"},{\"name\":\"home\",\"type\":\"category\"}],"
                         "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\",\"source\":\"age\"},"
                         "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"},"
                         "{\"name\":\"home=rent\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"rent\"}]}");
    write_text("d.csv", "age,home,y\n30,own,0\n50,rent,1\n45,,1\n20,rent,0\n60,own,0\n");
    char m[128], p[128], d[128], out[128];
    snprintf(m, sizeof(m), "%s/m.json", dir);
    snprintf(p, sizeof(p), "%s/p.json", dir);
    snprintf(d, sizeof(d), "%s/d.csv", dir);
    snprintf(out, sizeof(out), "%s/t_lr_v2.1", dir);
    rd_bundle_build_opts o = {.name = "t_lr_v2.1", .model_path = m, .pipeline_path = p, .data_path = d,
                              .label = "y", .out_dir = out, .reasons = 2,
                              .risk_bands = "[{\"level\":\"ok\",\"max\":0.5,\"decision\":\"approve\"},"
                                            "{\"level\":\"bad\",\"min\":0.5}]"};
    rd_err err;
    if (rd_bundle_build(&o, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
    rd_bundle *b;
    if (rd_bundle_load(out, &b, &err) != RD_OK)
        fail_msg("load: %s", err.msg);
    assert_string_equal(rd_bundle_name(b), "t_lr_v2.1");
    assert_int_equal(rd_bundle_num_reasons(b), 2);
    assert_false(rd_bundle_score_is_points(b));
    size_t n;
    assert_int_equal(rd_bundle_verify(b, &n, &err), RD_OK);
    assert_int_equal(n, 5);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value rec;
    const char *r1 = "{\"age\":20,\"home\":\"rent\"}";
    assert_int_equal(rd_json_parse(r1, strlen(r1), NULL, &a, &rec, &err), RD_OK);
    rd_score sc;
    assert_int_equal(rd_bundle_score(b, &rec, 4, &sc, &err), RD_OK);
    double z = 2 - 0.1 * 20 - 0 + 1;
    assert_true(fabs(sc.probability - 1 / (1 + exp(-z))) < 1e-15);
    assert_true(sc.score == sc.probability);
    assert_string_equal(sc.risk_level, "bad");
    assert_null(sc.decision);
    /* age: -0.1*(20-40) = 2; home: -1*(0-0.5) + 1*(1-0.5) = 1 */
    assert_int_equal(sc.nreasons, 2);
    assert_string_equal(rd_bundle_reason_name(b, sc.reasons[0].index), "age");
    assert_true(fabs(sc.reasons[0].impact - 2) < 1e-12);
    assert_string_equal(rd_bundle_reason_code(b, sc.reasons[1].index), "home");
    assert_true(fabs(sc.reasons[1].impact - 1) < 1e-12);
    const char *r2 = "{\"age\":\"x\"}";
    assert_int_equal(rd_json_parse(r2, strlen(r2), NULL, &a, &rec, &err), RD_OK);
    assert_int_equal(rd_bundle_score(b, &rec, 2, &sc, &err), RD_ETYPE);
    assert_string_equal(err.msg, "age: \"x\" is not a number");
    const char *r3 = "{\"age\":80}";
    assert_int_equal(rd_json_parse(r3, strlen(r3), NULL, &a, &rec, &err), RD_OK);
    assert_int_equal(rd_bundle_score(b, &rec, 0, &sc, &err), RD_OK);
    assert_int_equal(sc.report.missing, 1);
    assert_int_equal(sc.nreasons, 0);
    assert_string_equal(sc.risk_level, "ok");
    assert_string_equal(sc.decision, "approve");
    rd_arena_deinit(&a);
    rd_bundle_free(b);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_build_and_score),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
