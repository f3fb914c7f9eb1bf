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
#include <sys/stat.h>
#include <unistd.h>

#include "riskd/bundle.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/riskd.h"

static void expect_name(const char *name, int rc, const char *product, const char *type, unsigned ma,
                        unsigned mi)
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
    /* Versions are plain integers: one version, one spelling. */
    expect_name("credit_xgb_v10.20", RD_OK, "credit", "xgb", 10, 20);
    expect_name("credit_xgb_v0.10", RD_OK, "credit", "xgb", 0, 10);
    expect_name("credit_xgb_v01.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v1.00", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v1.01", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v00.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v+1.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v1.+0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v-1.0", RD_EINVAL, NULL, NULL, 0, 0);
    expect_name("credit_xgb_v 1.0", RD_EINVAL, NULL, NULL, 0, 0);
    char p[64], t[64];
    unsigned a, b;
    rd_err err;
    assert_int_equal(rd_bundle_name_parse("credit_xgb_v01.0", p, sizeof p, t, sizeof t, &a, &b, &err),
                     RD_EINVAL);
    assert_non_null(strstr(err.msg, "plain integers"));
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
    write_text("m.json",
               "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\",\"home=rent\"],"
               "\"coef\":[-0.1,-1,1],\"intercept\":2,\"means\":[40,0.5,0.5]}");
    write_text(
        "p.json",
        "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\"},{\"name\":\"home\",\"type\":\"category\"}],"
        "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\",\"source\":\"age\"},"
        "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"},"
        "{\"name\":\"home=rent\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"rent\"}]}");
    write_text("d.csv", "age,home,y\n30,own,0\n50,rent,1\n45,,1\n20,rent,0\n60,own,0\n");
    char m[128], p[128], d[128], out[128];
    snprintf(m, sizeof(m), "%s/m.json", dir);
    snprintf(p, sizeof(p), "%s/p.json", dir);
    snprintf(d, sizeof(d), "%s/d.csv", dir);
    snprintf(out, sizeof(out), "%s/t_lr_v2.1", dir);
    rd_bundle_build_opts o = {.name = "t_lr_v2.1",
                              .model_path = m,
                              .pipeline_path = p,
                              .data_path = d,
                              .label = "y",
                              .out_dir = out,
                              .reasons = 2,
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

/* ---------------------------------------------------------------- build checks (issue 11) */

static char cdir[64];
static char msgs[8][256];
static size_t nmsgs;

static void on_warn(void *ud, const char *msg)
{
    (void)ud;
    if (nmsgs < 8)
        snprintf(msgs[nmsgs++], sizeof(msgs[0]), "%s", msg);
}

static void cwrite(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", cdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *cpath(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 128, "%s/%s", cdir, name);
    return p;
}

/* A logistic regression on age and home, as in test_build_and_score; data d.csv: 8 rows,
 * riskier when young (AUC 1 with y as the label). */
static rd_bundle_build_opts base_opts(void)
{
    static int n;
    static char out[8][160];
    char *o = out[n++ % 8];
    char parent[128];
    snprintf(parent, sizeof parent, "%s/out%d", cdir, n);
    mkdir(parent, 0755);
    snprintf(o, 160, "%s/t_lr_v1.0", parent); /* the directory is named as the bundle */
    nmsgs = 0;
    return (rd_bundle_build_opts){.name = "t_lr_v1.0",
                                  .model_path = cpath("m.json"),
                                  .pipeline_path = cpath("p.json"),
                                  .data_path = cpath("d.csv"),
                                  .label = "y",
                                  .out_dir = o,
                                  .warn = on_warn};
}

static void expect_refused(const rd_bundle_build_opts *o, const char *part)
{
    rd_err err;
    int rc = rd_bundle_build(o, &err);
    if (rc != RD_EINVAL || !strstr(err.msg, part))
        fail_msg("want RD_EINVAL with \"%s\", got %d: %s", part, rc, err.msg);
    assert_int_equal(access(o->out_dir, F_OK), -1); /* nothing built */
}

static rd_bundle *expect_built(const rd_bundle_build_opts *o)
{
    rd_err err;
    rd_bundle *b;
    if (rd_bundle_build(o, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
    if (rd_bundle_load(o->out_dir, &b, &err) != RD_OK)
        fail_msg("load: %s", err.msg);
    return b;
}

static void setup_checks(void)
{
    snprintf(cdir, sizeof(cdir), "/tmp/riskd-checks-XXXXXX");
    assert_non_null(mkdtemp(cdir));
    cwrite("m.json", "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\"],"
                     "\"coef\":[-0.1,-1],\"intercept\":2,\"means\":[40,0.5]}");
    cwrite("p.json",
           "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\"},{\"name\":\"home\",\"type\":\"category\"}],"
           "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\",\"source\":\"age\"},"
           "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"}]}");
    cwrite("d.csv", "age,home,y\n20,rent,1\n25,own,1\n30,rent,1\n35,own,0\n40,rent,0\n50,own,0\n60,rent,0\n"
                    "70,own,0\n");
}

static void teardown_checks(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cdir);
    assert_int_equal(system(cmd), 0);
}

static void test_build_refuses_label_mistakes(void **state)
{
    (void)state;
    setup_checks();
    rd_bundle_build_opts o = base_opts();
    o.positive = "bad";
    expect_refused(&o,
                   "no row has y = \"bad\" (--positive); the column holds \"1\" (3 rows), \"0\" (5 rows)");
    cwrite("one.csv", "age,home,y\n20,rent,0\n30,own,0\n");
    o = base_opts();
    o.data_path = cpath("one.csv");
    expect_refused(&o, "the label y has one class: every labelled row is \"0\" (2 rows), none the positive");
    cwrite("allpos.csv", "age,home,y\n20,rent,1\n30,own,1\n");
    o.data_path = cpath("allpos.csv");
    expect_refused(&o, "the label y has one class: every labelled row is \"1\" (2 rows); AUC and KS need");
    o = base_opts();
    o.label = "Y";
    expect_refused(&o, "no label column \"Y\" (--label): the column \"y\" differs only in case");
    teardown_checks();
}

static void test_build_refuses_absent_inputs(void **state)
{
    (void)state;
    setup_checks();
    cwrite("lower.csv", "AGE,HOME,y\n20,rent,1\n30,own,0\n");
    rd_bundle_build_opts o = base_opts();
    o.data_path = cpath("lower.csv");
    expect_refused(&o,
                   "the pipeline's input \"age\" is not a column (2 of 2 inputs are not): the column \"AGE\" "
                   "differs only in case");
    cwrite("semi.csv", "age;home;y\n20;rent;1\n30;own;0\n");
    o = base_opts();
    o.data_path = cpath("semi.csv");
    o.label = NULL;
    expect_refused(&o, "the header is one column, \"age;home;y\": riskd reads comma-separated CSV; this file "
                       "looks separated by ';'");
    cwrite("nohome.csv", "age,y\n20,1\n30,0\n");
    o.data_path = cpath("nohome.csv");
    expect_refused(&o, "input \"home\" is not a column (1 of 2 inputs are not): the header has: age, y");
    teardown_checks();
}

/* binary:logitraw gives a margin: refused as a probability; built as a margin, its score is the
 * margin and the bands are over it. */
static void test_build_output_kinds(void **state)
{
    (void)state;
    setup_checks();
    const char *xgb =
        "{\"learner\":{\"attributes\":{},\"feature_names\":[\"age\",\"home=own\"],\"feature_types\":[],"
        "\"learner_model_param\":{\"base_score\":\"0\",\"num_class\":\"0\",\"num_feature\":\"2\","
        "\"num_target\":\"1\"},\"objective\":{\"name\":\"binary:logitraw\"},\"gradient_booster\":{\"name\":"
        "\"gbtree\",\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\",\"num_trees\":\"1\"},"
        "\"tree_info\":[0],\"trees\":[{\"base_weights\":[0,2,-2],\"categories\":[],\"categories_nodes\":[],"
        "\"categories_segments\":[],\"categories_sizes\":[],\"default_left\":[1,0,0],\"id\":0,"
        "\"left_children\":[1,-1,-1],\"loss_changes\":[1,0,0],\"parents\":[2147483647,0,0],"
        "\"right_children\":[2,-1,-1],\"split_conditions\":[33,2,-2],\"split_indices\":[0,0,0],"
        "\"split_type\":[0,0,0],\"sum_hessian\":[8,3,5],\"tree_param\":{\"num_deleted\":\"0\","
        "\"num_feature\":\"2\",\"num_nodes\":\"3\",\"size_leaf_vector\":\"0\"}}]}}},\"version\":[1,7,4]}";
    cwrite("x.json", xgb);
    rd_bundle_build_opts o = base_opts();
    o.model_path = cpath("x.json");
    expect_refused(&o, "x.json: output kind: the model's objective \"binary:logitraw\" does not output a "
                       "probability: declare the output kind \"score\" or \"margin\" (--output-kind)");
    o.output_kind = "margin";
    o.risk_bands = "[{\"level\":\"low\",\"max\":2.5},{\"level\":\"high\",\"min\":2.5}]";
    expect_refused(
        &o, "the cut at 2.5 between \"low\" and \"high\" is outside the training scores (margin -2 to 2)");
    o = base_opts();
    o.model_path = cpath("x.json");
    o.output_kind = "margin";
    o.risk_bands = "[{\"level\":\"low\",\"max\":0},{\"level\":\"high\",\"min\":0,\"decision\":\"reject\"}]";
    rd_bundle *b = expect_built(&o);
    assert_false(rd_bundle_score_is_probability(b));
    assert_false(rd_bundle_score_is_points(b));
    const rd_value *kind = rd_value_get(rd_value_get(rd_bundle_manifest(b), "output", 6), "kind", 4);
    assert_string_equal(kind->u.s, "margin");
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value rec;
    rd_err err;
    assert_int_equal(rd_json_parse("{\"age\":20}", 10, NULL, &a, &rec, &err), RD_OK);
    rd_score sc;
    assert_int_equal(rd_bundle_score(b, &rec, 0, &sc, &err), RD_OK);
    assert_true(sc.score == 2.0); /* the margin, not a sigmoid of it */
    assert_string_equal(sc.risk_level, "high");
    rd_arena_deinit(&a);
    rd_bundle_free(b);
    /* a multi-class model: one output group is needed, whatever the kind */
    char multi[8192];
    const char *tree = strstr(xgb, "{\"base_weights\""), *tree_end = strstr(tree, "}}]") + 2;
    snprintf(
        multi, sizeof(multi),
        "{\"learner\":{\"attributes\":{},\"feature_names\":[\"age\",\"home=own\"],\"feature_types\":[],"
        "\"learner_model_param\":{\"base_score\":\"0.5\",\"num_class\":\"2\",\"num_feature\":\"2\","
        "\"num_target\":\"1\"},\"objective\":{\"name\":\"multi:softmax\"},\"gradient_booster\":{\"name\":"
        "\"gbtree\",\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\",\"num_trees\":\"2\"},"
        "\"tree_info\":[0,1],\"trees\":[%.*s,%.*s]}}},\"version\":[1,7,4]}",
        (int)(tree_end - tree), tree, (int)(tree_end - tree), tree);
    cwrite("multi.json", multi);
    for (int k = 0; k < 3; k++) {
        o = base_opts();
        o.model_path = cpath("multi.json");
        o.output_kind = k == 0 ? NULL : k == 1 ? "score" : "margin";
        expect_refused(&o, "the model (objective \"multi:softmax\") has 2 output groups; a bundle needs one");
    }
    /* "score" is for points and outputs that are no probability: a logistic regression gives one */
    o = base_opts();
    o.output_kind = "score";
    expect_refused(&o, "objective \"logistic_regression\" gives one: declare \"probability\" or \"margin\"");
    o.output_kind = "logit";
    expect_refused(&o, "\"logit\" is not \"probability\", \"score\" or \"margin\"");
    /* probability bands written as percentages */
    o = base_opts();
    o.risk_bands = "[{\"level\":\"low\",\"max\":20},{\"level\":\"high\",\"min\":20}]";
    expect_refused(&o, "band \"high\" starts at 20, but the score is a probability (0 to 1)");
    teardown_checks();
}

static const char *manifest_warning(const rd_bundle *b, uint32_t i)
{
    const rd_value *w = rd_value_get(rd_value_get(rd_bundle_manifest(b), "checks", 6), "warnings", 8);
    assert_non_null(w);
    return i < w->len ? w->u.items[i].u.s : NULL;
}

static void test_build_warnings_and_test_data(void **state)
{
    (void)state;
    setup_checks();
    rd_bundle_build_opts o = base_opts();
    o.positive = "0"; /* the label inverted: AUC 0 */
    rd_bundle *b = expect_built(&o);
    assert_int_equal(nmsgs, 1);
    assert_non_null(strstr(msgs[0],
                           "d.csv: AUC 0.000 is below 0.5: the model ranks the positive class (y = \"0\") "
                           "as safer than the rest; is the label inverted?"));
    assert_string_equal(manifest_warning(b, 0), msgs[0]);
    assert_null(manifest_warning(b, 1));
    rd_bundle_free(b);
    cwrite("sparse.csv", "age,home,y\n20,,1\n25,,1\n30,rent,1\n35,,0\n40,own,0\n");
    o = base_opts();
    o.data_path = cpath("sparse.csv");
    b = expect_built(&o);
    assert_int_equal(nmsgs, 1);
    assert_non_null(strstr(msgs[0], "sparse.csv: input \"home\" is missing in 60.0% of the rows (3 of 5)"));
    assert_string_equal(manifest_warning(b, 0), msgs[0]);
    rd_bundle_free(b);
    /* a clean build: no warnings, an empty list; the holdout's metrics beside the training's */
    cwrite("t.csv", "age,home,y\n22,rent,0\n28,own,1\n65,own,0\n");
    o = base_opts();
    o.test_data_path = cpath("t.csv");
    b = expect_built(&o);
    assert_int_equal(nmsgs, 0);
    assert_null(manifest_warning(b, 0));
    const rd_value *m = rd_bundle_manifest(b),
                   *tm = rd_value_get(rd_value_get(m, "training", 8), "metrics", 7),
                   *hm = rd_value_get(rd_value_get(m, "test", 4), "metrics", 7);
    assert_non_null(tm);
    assert_non_null(hm);
    assert_true(rd_value_get(tm, "auc", 3)->u.n == 1.0);
    assert_true(rd_value_get(tm, "n", 1)->u.n == 8);
    assert_string_equal(rd_value_get(tm, "sample", 6)->u.s, "train");
    assert_true(rd_value_get(hm, "auc", 3)->u.n == 0.5); /* 28 (bad) ranks between 22 and 65 */
    assert_true(rd_value_get(hm, "n", 1)->u.n == 3);
    assert_string_equal(rd_value_get(hm, "sample", 6)->u.s, "test");
    assert_true(rd_value_get(rd_value_get(m, "test", 4), "rows", 4)->u.n == 3);
    rd_bundle_free(b);
    /* the holdout is checked like the training data */
    o = base_opts();
    o.test_data_path = cpath("one.csv");
    cwrite("one.csv", "age,home,y\n20,rent,0\n30,own,0\n");
    expect_refused(&o, "one.csv: the label y has one class");
    o = base_opts();
    o.label = NULL;
    o.test_data_path = cpath("t.csv");
    rd_err err;
    assert_int_equal(rd_bundle_build(&o, &err), RD_EUSAGE);
    assert_non_null(strstr(err.msg, "--test-data needs --label"));
    teardown_checks();
}

/* ---------------------------------------------------------------- identity and signatures */

static char sdir[64], bdir[128];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* A small bundle in sdir/t_lr_v1.0 (bdir). */
static void build_small(void)
{
    snprintf(sdir, sizeof sdir, "/tmp/riskd-sign-XXXXXX");
    assert_non_null(mkdtemp(sdir));
    char m[128], p[128], d[128];
    snprintf(m, sizeof m, "%s/m.json", sdir);
    snprintf(p, sizeof p, "%s/p.json", sdir);
    snprintf(d, sizeof d, "%s/d.csv", sdir);
    const char *mt =
                   "{\"type\":\"logistic_regression\",\"features\":[\"age\"],\"coef\":[-0.1],\"intercept\":2,"
                   "\"means\":[40]}",
               *pt = "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\"}],"
                     "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\",\"source\":\"age\"}]}",
               *dt = "age,y\n30,0\n50,1\n45,1\n20,0\n60,0\n";
    spit(m, mt, strlen(mt));
    spit(p, pt, strlen(pt));
    spit(d, dt, strlen(dt));
    snprintf(bdir, sizeof bdir, "%s/t_lr_v1.0", sdir);
    rd_bundle_build_opts o = {.name = "t_lr_v1.0",
                              .model_path = m,
                              .pipeline_path = p,
                              .data_path = d,
                              .label = "y",
                              .out_dir = bdir,
                              .reasons = 1,
                              .risk_bands = "[{\"level\":\"ok\",\"max\":0.5,\"decision\":\"approve\"},"
                                            "{\"level\":\"bad\",\"min\":0.5,\"decision\":\"reject\"}]"};
    rd_err err;
    if (rd_bundle_build(&o, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
}

static void remove_small(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sdir);
    assert_int_equal(system(cmd), 0);
}

static int load_expect(const char *want_in_msg, rd_bundle **out)
{
    rd_err err;
    rd_bundle *b = NULL;
    int rc = rd_bundle_load(bdir, &b, &err);
    if (want_in_msg) {
        assert_int_equal(rc, RD_EINVAL);
        if (!strstr(err.msg, want_in_msg))
            fail_msg("\"%s\" lacks \"%s\"", err.msg, want_in_msg);
    } else if (rc != RD_OK) {
        fail_msg("load: %s", err.msg);
    }
    if (out)
        *out = b;
    else
        rd_bundle_free(b);
    return rc;
}

/* The digest is the SHA-256 of the manifest's canonical JSON without "digest": the same for
 * another spelling of the same manifest, other for any change of meaning. */
static void test_manifest_digest(void **state)
{
    (void)state;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value v1, v2, v3;
    const char *t1 = "{\"b\": 1, \"a\": [1.0, \"x\"], \"digest\": \"whatever\"}",
               *t2 = "{\"a\":[1,\"x\"],\"b\":1.00}", *t3 = "{\"a\":[1,\"x\"],\"b\":2}";
    assert_int_equal(rd_json_parse(t1, strlen(t1), NULL, &a, &v1, NULL), RD_OK);
    assert_int_equal(rd_json_parse(t2, strlen(t2), NULL, &a, &v2, NULL), RD_OK);
    assert_int_equal(rd_json_parse(t3, strlen(t3), NULL, &a, &v3, NULL), RD_OK);
    char h1[RD_SHA256_HEX], h2[RD_SHA256_HEX], h3[RD_SHA256_HEX], want[RD_SHA256_HEX];
    rd_buf c;
    rd_buf_init(&c);
    assert_int_equal(rd_bundle_manifest_digest(&v1, h1, &c, NULL), RD_OK);
    assert_string_equal(rd_buf_cstr(&c), "{\"a\":[1,\"x\"],\"b\":1}");
    rd_sha256_hex(c.data, c.len, want);
    assert_string_equal(h1, want);
    assert_int_equal(rd_bundle_manifest_digest(&v2, h2, NULL, NULL), RD_OK);
    assert_int_equal(rd_bundle_manifest_digest(&v3, h3, NULL, NULL), RD_OK);
    assert_string_equal(h1, h2);
    assert_string_not_equal(h1, h3);
    /* Setting the digest: replaced where it stands, or added last; the rest byte for byte. */
    rd_buf_reset(&c);
    assert_int_equal(rd_bundle_manifest_set_digest(t1, strlen(t1), "abc", &c, NULL), RD_OK);
    assert_string_equal(rd_buf_cstr(&c), "{\"b\": 1, \"a\": [1.0, \"x\"], \"digest\": \"abc\"}");
    rd_buf_reset(&c);
    const char *nested = "{\"x\": {\"digest\": \"inner\"}, \"s\": \"\\\"digest\\\":\"}\n";
    assert_int_equal(rd_bundle_manifest_set_digest(nested, strlen(nested), "abc", &c, NULL), RD_OK);
    assert_string_equal(
        rd_buf_cstr(&c),
        "{\"x\": {\"digest\": \"inner\"}, \"s\": \"\\\"digest\\\":\",\n  \"digest\": \"abc\"\n}\n");
    rd_buf_reset(&c);
    assert_int_equal(rd_bundle_manifest_set_digest("{}", 2, "abc", &c, NULL), RD_OK);
    assert_string_equal(rd_buf_cstr(&c), "{\n  \"digest\": \"abc\"\n}");
    rd_err err;
    assert_int_equal(rd_bundle_manifest_set_digest("{\"digest\": 5}", 13, "abc", &c, &err), RD_EINVAL);
    assert_int_equal(rd_bundle_manifest_set_digest("[1]", 3, "abc", &c, &err), RD_EINVAL);
    rd_buf_deinit(&c);
    rd_arena_deinit(&a);
}

/* A built manifest carries its digest; an edit of the manifest (the bands: everyone
 * approved) is refused at load, sealing it again is accepted, and a manifest without a
 * digest (built before) is refused with the way out. */
static void test_tampered_manifest(void **state)
{
    (void)state;
    build_small();
    rd_bundle *b;
    load_expect(NULL, &b);
    char digest[RD_SHA256_HEX], h[RD_SHA256_HEX];
    snprintf(digest, sizeof digest, "%s", rd_bundle_digest(b));
    const rd_value *d = rd_value_get(rd_bundle_manifest(b), "digest", 6);
    assert_non_null(d);
    assert_string_equal(d->u.s, digest);
    assert_int_equal(rd_bundle_manifest_digest(rd_bundle_manifest(b), h, NULL, NULL), RD_OK);
    assert_string_equal(h, digest);
    rd_bundle_free(b);

    char path[200];
    size_t len;
    snprintf(path, sizeof path, "%s/manifest.json", bdir);
    char *orig = strdup(slurp(path, &len));
    assert_non_null(orig);
    size_t olen = len;
    char *text = strdup(orig), *at = strstr(text, "\"decision\":\"reject\"");
    assert_non_null(at);
    memcpy(at, "\"decision\":\"accept\"", 19);
    spit(path, text, len);
    load_expect("manifest.json: digest mismatch (the manifest was edited after it was built", NULL);
    /* Whitespace is not meaning: the same manifest re-indented loads. */
    spit(path, orig, olen);
    char *wide = malloc(2 * olen + 1);
    assert_non_null(wide);
    size_t k = 0;
    for (size_t i = 0; i < olen; i++) {
        wide[k++] = orig[i];
        if (orig[i] == '\n')
            wide[k++] = ' ';
    }
    spit(path, wide, k);
    load_expect(NULL, NULL);
    free(wide);
    /* Sealed after a deliberate edit: loads, under another digest. */
    spit(path, text, len);
    rd_err err;
    assert_int_equal(rd_bundle_seal(bdir, h, &err), RD_OK);
    load_expect(NULL, &b);
    assert_string_equal(rd_bundle_digest(b), h);
    assert_string_not_equal(h, digest);
    rd_bundle_free(b);
    /* No digest at all. */
    at = strstr(orig, ",\n  \"digest\"");
    assert_non_null(at);
    strcpy(at, "\n}\n");
    spit(path, orig, strlen(orig));
    load_expect("manifest.json: no digest", NULL);
    load_expect("riskd bundle seal", NULL);
    /* A digest that is not one. */
    text = realloc(text, olen + 64);
    snprintf(text, olen + 64, "%.*s,\"digest\":\"xyz\"}", (int)(strrchr(orig, '}') - orig), orig);
    spit(path, text, strlen(text));
    load_expect("digest: not a SHA-256", NULL);
    free(text);
    free(orig);
    remove_small();
}

static void test_signatures(void **state)
{
    (void)state;
    build_small();
    rd_err err;
    rd_bundle_key pub1, sec1, pub2, sec2, read[4];
    assert_int_equal(rd_bundle_keygen(&pub1, &sec1, &err), RD_OK);
    assert_int_equal(rd_bundle_keygen(&pub2, &sec2, &err), RD_OK);
    assert_memory_not_equal(pub1.bytes, pub2.bytes, RD_BUNDLE_KEY_BYTES);
    /* Key files: base64 of the 32 bytes; never overwritten; several public keys, comments. */
    char kpath[200], ppath[200], path[200];
    size_t n;
    snprintf(kpath, sizeof kpath, "%s/k.key", sdir);
    snprintf(ppath, sizeof ppath, "%s/k.pub", sdir);
    assert_int_equal(rd_bundle_key_write(kpath, &sec1, true, &err), RD_OK);
    assert_int_equal(access(kpath, R_OK), 0);
    assert_int_equal(rd_bundle_key_write(kpath, &sec2, true, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "never overwritten"));
    assert_int_equal(rd_bundle_keys_read(kpath, read, 1, &n, &err), RD_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(read[0].bytes, sec1.bytes, RD_BUNDLE_KEY_BYTES);
    assert_int_equal(rd_bundle_key_write(ppath, &pub2, false, &err), RD_OK);
    size_t len;
    char both[256];
    snprintf(both, sizeof both, "# rotation\n%s\n  # the new one\n", slurp(ppath, &len));
    snprintf(path, sizeof path, "%s/both.pub", sdir);
    spit(path, both, strlen(both));
    assert_int_equal(rd_bundle_keys_read(path, read, 4, &n, &err), RD_OK);
    assert_int_equal(n, 1);
    spit(path, "# nothing\n\n", 11);
    assert_int_equal(rd_bundle_keys_read(path, read, 4, &n, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "no key"));
    spit(path, "AAAA\n", 5);
    assert_int_equal(rd_bundle_keys_read(path, read, 4, &n, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "both.pub:1: not an Ed25519 key"));

    /* Missing, good, wrong key, several keys, malformed, stale after a re-seal. */
    rd_bundle *b;
    load_expect(NULL, &b);
    assert_false(rd_bundle_signed(b));
    assert_int_equal(rd_bundle_verify_signature(b, &pub1, 1, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "t_lr_v1.0/signature.ed25519: missing"));
    rd_bundle_free(b);
    char hex[RD_SHA256_HEX];
    assert_int_equal(rd_bundle_sign(bdir, &sec1, hex, &err), RD_OK);
    load_expect(NULL, &b);
    assert_true(rd_bundle_signed(b));
    assert_string_equal(hex, rd_bundle_digest(b));
    assert_int_equal(rd_bundle_verify_signature(b, &pub1, 1, &err), RD_OK);
    assert_int_equal(rd_bundle_verify_signature(b, &pub2, 1, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "signature.ed25519: wrong"));
    rd_bundle_key two[2] = {pub2, pub1};
    assert_int_equal(rd_bundle_verify_signature(b, two, 2, &err), RD_OK);
    rd_bundle_free(b);
    snprintf(path, sizeof path, "%s/%s", bdir, RD_BUNDLE_SIGNATURE_FILE);
    char *sig = strdup(slurp(path, &len));
    assert_non_null(sig);
    spit(path, "not base64!\n", 12);
    load_expect(NULL, &b);
    assert_int_equal(rd_bundle_verify_signature(b, &pub1, 1, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "malformed"));
    rd_bundle_free(b);
    char first = sig[0];
    sig[0] = first == 'A' ? 'B' : 'A'; /* another signature, well formed */
    spit(path, sig, len);
    load_expect(NULL, &b);
    assert_int_equal(rd_bundle_verify_signature(b, &pub1, 1, &err), RD_EINVAL);
    rd_bundle_free(b);
    sig[0] = first;
    spit(path, sig, len);
    free(sig);
    /* The signature file is not part of the digest: signing changed nothing it covers. */
    load_expect(NULL, &b);
    assert_string_equal(rd_bundle_digest(b), hex);
    assert_int_equal(rd_bundle_verify_signature(b, &pub1, 1, &err), RD_OK);
    rd_bundle_free(b);
    /* A deliberate edit, sealed: the old signature no longer verifies. */
    char mpath[200];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", bdir);
    char *text = strdup(slurp(mpath, &len)), *at = strstr(text, "\"decision\":\"reject\"");
    assert_non_null(at);
    memcpy(at, "\"decision\":\"review\"", 19);
    spit(mpath, text, len);
    free(text);
    assert_int_equal(rd_bundle_seal(bdir, hex, &err), RD_OK);
    load_expect(NULL, &b);
    assert_int_equal(rd_bundle_verify_signature(b, &pub1, 1, &err), RD_EINVAL);
    rd_bundle_free(b);
    /* A bundle that does not load is not signed. */
    snprintf(path, sizeof path, "%s/pipeline.json", bdir);
    spit(path, "{}", 2);
    assert_int_equal(rd_bundle_sign(bdir, &sec1, hex, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    remove_small();
}

/* --out must be named as the bundle. */
static void test_build_directory_name(void **state)
{
    (void)state;
    build_small();
    char other[160], m[128], p[128], d[128];
    snprintf(other, sizeof other, "%s/t_lr_v1.1/", sdir); /* a trailing slash is the same name */
    snprintf(m, sizeof m, "%s/m.json", sdir);
    snprintf(p, sizeof p, "%s/p.json", sdir);
    snprintf(d, sizeof d, "%s/d.csv", sdir);
    rd_bundle_build_opts o = {
        .name = "t_lr_v2.0", .model_path = m, .pipeline_path = p, .data_path = d, .out_dir = other};
    rd_err err;
    assert_int_equal(rd_bundle_build(&o, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "must be named as the bundle, t_lr_v2.0 (its name is \"t_lr_v1.1\")"));
    assert_int_equal(access(other, F_OK), -1);
    o.name = "t_lr_v1.1";
    if (rd_bundle_build(&o, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
    remove_small();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_build_and_score),
        cmocka_unit_test(test_build_refuses_label_mistakes),
        cmocka_unit_test(test_build_refuses_absent_inputs),
        cmocka_unit_test(test_build_output_kinds),
        cmocka_unit_test(test_build_warnings_and_test_data),
        cmocka_unit_test(test_manifest_digest),
        cmocka_unit_test(test_tampered_manifest),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_build_directory_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
