/* The training reference (src/lib/bundle/reference.c and write_reference in build.c): what
 * bundle build writes (format 2: quantiles, n, unseen), what rd_bundle_reference gives for a
 * format-2 and a format-1 file, and every structural refusal, named by file and field. Each
 * variant of reference.json is written into a built bundle with its checksum refreshed and
 * the manifest sealed again, so only the reference is at fault. */
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
#include "riskd/hash.h"

static char tdir[64], bdir[128];

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *tpath(const char *name)
{
    static char p[4][160];
    static int next;
    char *s = p[next++ % 4];
    snprintf(s, 160, "%s/%s", tdir, name);
    return s;
}

/* A logistic regression on age (number) and home (category) built from data into
 * tdir/t_lr_v1.0 (bdir). */
static void build(const char *data)
{
    snprintf(tdir, sizeof tdir, "/tmp/riskd-ref-XXXXXX");
    assert_non_null(mkdtemp(tdir));
    spit(tpath("m.json"), "{\"type\":\"logistic_regression\",\"features\":[\"age\",\"home=own\"],"
                          "\"coef\":[-0.1,-1],\"intercept\":2,\"means\":[40,0.5]}");
    spit(tpath("p.json"),
         "{\"inputs\":[{\"name\":\"age\",\"type\":\"number\"},{\"name\":\"home\",\"type\":\"category\"}],"
         "\"features\":[{\"name\":\"age\",\"kind\":\"numeric\",\"source\":\"age\"},"
         "{\"name\":\"home=own\",\"source\":\"home\",\"kind\":\"one_hot\",\"level\":\"own\"}]}");
    spit(tpath("d.csv"), data);
    snprintf(bdir, sizeof bdir, "%s/t_lr_v1.0", tdir);
    rd_bundle_build_opts o = {.name = "t_lr_v1.0",
                              .model_path = tpath("m.json"),
                              .pipeline_path = tpath("p.json"),
                              .data_path = tpath("d.csv"),
                              .label = "y",
                              .out_dir = bdir,
                              .reasons = 1};
    rd_err err;
    if (rd_bundle_build(&o, &err) != RD_OK)
        fail_msg("build: %s", err.msg);
}

static void remove_all(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    assert_int_equal(system(cmd), 0);
}

static rd_bundle *load_ok(void)
{
    rd_bundle *b;
    rd_err err;
    if (rd_bundle_load(bdir, &b, &err) != RD_OK)
        fail_msg("load: %s", err.msg);
    return b;
}

/* Replace reference.json, refresh its checksum in the manifest and seal it again. */
static void set_reference(const char *text)
{
    char path[200], hex[RD_SHA256_HEX];
    snprintf(path, sizeof path, "%s/reference.json", bdir);
    spit(path, text);
    rd_sha256_hex(text, strlen(text), hex);
    snprintf(path, sizeof path, "%s/manifest.json", bdir);
    char *m = slurp(path), *at = strstr(m, "\"reference.json\": \"");
    assert_non_null(at);
    memcpy(at + strlen("\"reference.json\": \""), hex, 64);
    spit(path, m);
    rd_err err;
    if (rd_bundle_seal(bdir, hex, &err) != RD_OK)
        fail_msg("seal: %s", err.msg);
}

static void expect_refused(const char *text, const char *want)
{
    set_reference(text);
    rd_bundle *b = NULL;
    rd_err err;
    int rc = rd_bundle_load(bdir, &b, &err);
    if (rc == RD_OK)
        rd_bundle_free(b);
    if (rc == RD_OK || !strstr(err.msg, want))
        fail_msg("want a refusal with \"%s\", got %d: %s", want, rc, rc ? err.msg : "(loaded)");
}

static const char *DATA8 =
    "age,home,y\n20,rent,1\n25,own,1\n30,,1\n35,own,0\n,rent,0\n50,own,0\n60,rent,0\n70,own,0\n";

/* What bundle build writes and the loader reads back: format 2. */
static void test_built_reference(void **state)
{
    (void)state;
    build(DATA8);
    rd_bundle *b = load_ok();
    const rd_reference *r = rd_bundle_reference(b);
    assert_non_null(r);
    assert_int_equal(r->format, 2);
    assert_true(r->rows == 8);
    assert_string_equal(r->score_kind, "probability");
    assert_int_equal(r->score.nquantiles, 8); /* fewer than 1,000 scores: all of them */
    for (size_t i = 1; i < 8; i++)
        assert_true(r->score.quantiles[i] >= r->score.quantiles[i - 1]);
    assert_true(r->score.missing == 0);
    assert_int_equal(r->ninputs, 2);
    const rd_ref_input *age = &r->inputs[0], *home = &r->inputs[1];
    assert_string_equal(age->name, "age");
    assert_true(age->numeric);
    assert_true(age->n == 7 && age->missing == 1 && age->dist.missing == 1);
    double want[] = {20, 25, 30, 35, 50, 60, 70};
    assert_int_equal(age->dist.nquantiles, 7);
    for (size_t i = 0; i < 7; i++)
        assert_true(age->dist.quantiles[i] == want[i]);
    double total = 0;
    for (size_t i = 0; i <= age->dist.ncuts; i++)
        total += age->dist.counts[i];
    assert_true(total == 7);
    assert_string_equal(home->name, "home");
    assert_false(home->numeric);
    assert_true(home->n == 7 && home->missing == 1);
    assert_int_equal(home->nlevels, 2);
    assert_string_equal(home->levels[0], "rent");
    assert_true(home->level_counts[0] == 3);
    assert_string_equal(home->levels[1], "own");
    assert_true(home->level_counts[1] == 4);
    assert_true(home->has_unseen);
    assert_true(home->unseen == 0);
    rd_bundle_free(b);
    remove_all();
}

/* 1,500 values 1..1500: 1,000 quantiles at (i + 0.5) / 1000, linear between order statistics:
 * 1 + 1499 (i + 0.5) / 1000. */
static void test_built_quantiles(void **state)
{
    (void)state;
    char *data = malloc(1500 * 24 + 32);
    assert_non_null(data);
    size_t at = (size_t)sprintf(data, "age,home,y\n");
    for (int i = 1500; i >= 1; i--) /* written in reverse: the quantiles come from the sorted values */
        at += (size_t)sprintf(data + at, "%d,%s,%d\n", i, i % 3 ? "own" : "rent", i % 7 == 0);
    build(data);
    free(data);
    rd_bundle *b = load_ok();
    const rd_reference *r = rd_bundle_reference(b);
    const rd_ref_dist *d = &r->inputs[0].dist;
    assert_int_equal(d->nquantiles, 1000);
    for (size_t i = 0; i < 1000; i++) {
        double q = 1 + 1499 * ((double)i + 0.5) / 1000;
        if (fabs(d->quantiles[i] - q) > 1e-12 * q)
            fail_msg("quantiles[%zu] = %.17g, want %.17g", i, d->quantiles[i], q);
    }
    assert_true(r->inputs[0].n == 1500);
    assert_int_equal(r->score.nquantiles, 1000);
    assert_true(r->inputs[1].level_counts[0] + r->inputs[1].level_counts[1] == 1500);
    rd_bundle_free(b);
    remove_all();
}

static const char *F1 =
    "{\"format\": 1, \"rows\": 8,\n"
    " \"score\": {\"kind\":\"probability\",\"deciles\":[0.1,0.2,0.2,0.3,0.4,0.5,0.6,0.7,0.8],"
    "\"cuts\":[0.2,0.5],\"counts\":[3,3,2]},\n"
    " \"inputs\": {\"age\": {\"type\":\"number\",\"missing\":1,\"cuts\":[30,50],\"counts\":[2,2,3]},\n"
    "            \"home\": {\"type\":\"category\",\"missing\":1,\"levels\":{\"rent\":3,\"own\":4}}}}\n";

/* A bundle built before format 2: no quantiles, no unseen, no n. */
static void test_format1(void **state)
{
    (void)state;
    build(DATA8);
    set_reference(F1);
    rd_bundle *b = load_ok();
    const rd_reference *r = rd_bundle_reference(b);
    assert_int_equal(r->format, 1);
    assert_true(r->rows == 8);
    assert_int_equal(r->score.ncuts, 2);
    assert_true(r->score.cuts[1] == 0.5 && r->score.counts[2] == 2);
    assert_int_equal(r->score.nquantiles, 0);
    const rd_ref_input *age = &r->inputs[0], *home = &r->inputs[1];
    assert_true(age->numeric);
    assert_int_equal(age->dist.nquantiles, 0);
    assert_true(age->n == 7); /* rows - missing */
    assert_true(age->dist.counts[0] == 2 && age->dist.counts[2] == 3);
    assert_false(home->has_unseen);
    assert_true(home->unseen == 0);
    assert_int_equal(home->nlevels, 2);
    assert_true(home->n == 7);
    rd_bundle_free(b);
    remove_all();
}

static const char *F2_HEAD =
    "{\"format\": 2, \"rows\": 8,\n"
    " \"score\": {\"kind\":\"probability\",\"cuts\":[0.2,0.5],\"counts\":[3,3,2],\"n\":8,"
    "\"quantiles\":[0.1,0.2,0.2,0.3,0.5,0.6,0.7,0.9]},\n \"inputs\": {";
static const char *F2_HOME =
    "\"home\": {\"type\":\"category\",\"missing\":1,\"levels\":{\"rent\":3,\"own\":4},"
    "\"unseen\":0,\"n\":7}";
static const char *F2_AGE =
    "\"age\": {\"type\":\"number\",\"missing\":1,\"cuts\":[30,50],\"counts\":[2,2,3],\"n\":7,"
    "\"quantiles\":[20,25,30,35,50,60,70]}";

/* The format-2 text with one substring replaced (or, with from NULL, as it is). */
static const char *f2(const char *from, const char *to)
{
    static char text[2048], out[2048];
    snprintf(text, sizeof text, "%s%s,\n %s}}\n", F2_HEAD, F2_HOME, F2_AGE);
    if (!from)
        return text;
    char *at = strstr(text, from);
    assert_non_null(at);
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

static void test_format2_and_refusals(void **state)
{
    (void)state;
    build(DATA8);
    /* Inputs listed in another order than the pipeline's: matched by name. */
    set_reference(f2(NULL, NULL));
    rd_bundle *b = load_ok();
    const rd_reference *r = rd_bundle_reference(b);
    assert_int_equal(r->format, 2);
    assert_string_equal(r->inputs[0].name, "age");
    assert_int_equal(r->inputs[0].dist.nquantiles, 7);
    assert_true(r->inputs[0].dist.quantiles[6] == 70);
    assert_string_equal(r->inputs[1].name, "home");
    assert_true(r->inputs[1].has_unseen);
    rd_bundle_free(b);
    /* An input the reference does not describe: no values, one empty bin. */
    char text[2048];
    snprintf(text, sizeof text, "%s%s}}\n", F2_HEAD, F2_AGE);
    set_reference(text);
    b = load_ok();
    r = rd_bundle_reference(b);
    assert_int_equal(r->ninputs, 2);
    assert_string_equal(r->inputs[1].name, "home");
    assert_false(r->inputs[1].numeric);
    assert_true(r->inputs[1].n == 0);
    assert_int_equal(r->inputs[1].nlevels, 0);
    assert_int_equal(r->inputs[1].dist.ncuts, 0);
    assert_true(r->inputs[1].dist.counts[0] == 0);
    rd_bundle_free(b);

    expect_refused(f2("\"cuts\":[30,50]", "\"cuts\":[50,30]"),
                   "reference.json: inputs.age.cuts: not ascending (cuts[1] = 30 after 50)");
    expect_refused(f2("\"cuts\":[30,50]", "\"cuts\":[30,30]"),
                   "reference.json: inputs.age.cuts: not ascending");
    expect_refused(f2("\"counts\":[2,2,3]", "\"counts\":[2,5]"),
                   "reference.json: inputs.age.counts: 2 counts for 2 cuts (must be one more");
    expect_refused(f2("\"counts\":[2,2,3]", "\"counts\":[2,-1,6]"),
                   "reference.json: inputs.age.counts[1]: negative");
    expect_refused(f2("\"counts\":[3,3,2]", "\"counts\":[3,3,3]"),
                   "reference.json: score.counts: they add up to 9, but n is 8");
    expect_refused(f2("[20,25,30,35,50,60,70]", "[20,25,30,35,50,70,60]"),
                   "reference.json: inputs.age.quantiles: not sorted (quantiles[6] = 60 after 70)");
    /* JSON holds no infinity: the parser refuses one written as an overflowing number. */
    expect_refused(f2("[20,25,30,35,50,60,70]", "[20,25,30,35,50,60,1e999]"),
                   "reference.json: line 4, column 107: number out of range");
    expect_refused(f2("[20,25,30,35,50,60,70]", "[20,25,30,35,50,60,null]"),
                   "reference.json: inputs.age.quantiles[6]: not a finite number");
    expect_refused(f2("[0.1,0.2,0.2,0.3,0.5,0.6,0.7,0.9]", "[0.1,\"x\"]"),
                   "reference.json: score.quantiles[1]: not a finite number");
    expect_refused(f2(",\"quantiles\":[20,25,30,35,50,60,70]", ""),
                   "reference.json: inputs.age.quantiles: missing (format 2 stores them)");
    expect_refused(f2("\"unseen\":0,", ""),
                   "reference.json: inputs.home.unseen: missing (format 2 stores it)");
    expect_refused(f2("\"unseen\":0", "\"unseen\":-2"),
                   "reference.json: inputs.home.unseen: must be a number >= 0");
    expect_refused(f2("\"own\":4", "\"own\":-4"), "reference.json: inputs.home.levels.own: must be a count");
    expect_refused(f2("\"missing\":1,\"cuts\"", "\"missing\":\"1\",\"cuts\""),
                   "reference.json: inputs.age.missing: must be a number >= 0");
    expect_refused(f2("\"n\":7,\"quantiles\"", "\"quantiles\""), "reference.json: inputs.age.n: missing");
    expect_refused(f2("\"age\":", "\"agee\":"),
                   "reference.json: inputs.agee: not an input of the bundle's pipeline (did you mean age?)");
    expect_refused(f2("\"age\":", "\"salary\":"),
                   "reference.json: inputs.salary: not an input of the bundle's pipeline");
    expect_refused(f2("\"type\":\"category\"", "\"type\":\"number\""),
                   "reference.json: inputs.home.type: \"number\", but the pipeline reads it as a category");
    expect_refused(f2("\"format\": 2", "\"format\": 3"), "reference.json: format: must be 1 or 2");
    expect_refused(f2("\"rows\": 8", "\"rows\": -8"), "reference.json: rows: must be a number >= 0");
    expect_refused(f2("\"kind\":\"probability\",", ""),
                   "reference.json: score.kind: missing or not a string");
    expect_refused("{\"format\": 2, \"rows\": 8, \"inputs\": {}}", "reference.json: score: missing");
    expect_refused("[1, 2]", "reference.json: not a JSON object");
    expect_refused("{\"format\": 2,", "reference.json: line 1");
    /* format 1 needs cuts and counts as well */
    expect_refused(
        "{\"format\": 1, \"rows\": 8, \"score\": {\"kind\":\"score\",\"cuts\":[1]}, \"inputs\": {}}",
        "reference.json: score.counts: missing");
    remove_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_built_reference),
        cmocka_unit_test(test_built_quantiles),
        cmocka_unit_test(test_format1),
        cmocka_unit_test(test_format2_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
