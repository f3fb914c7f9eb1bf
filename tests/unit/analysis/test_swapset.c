/* Swap sets (src/lib/analysis/swapset.c): from CSV files (cut-offs both ways, labels 0/1/empty,
 * the constant-approval cut-off, the minimum labelled) and from a store whose log holds primary
 * and shadow records written here (logged decisions, several challengers, unknown names, no
 * shadows, outcomes joined); every refusal with what it names; the JSON. */
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
static rd_arena arena;

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

static int setup(void **state)
{
    (void)state;
    rd_arena_init(&arena, 0);
    snprintf(dir, sizeof dir, "/tmp/riskd-swap-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_arena_deinit(&arena);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void expect(int rc, int code, const rd_err *err, const char *part)
{
    if (rc != code || !strstr(err->msg, part))
        fail_msg("want %d with \"%s\", got %d: %s", code, part, rc, err->msg);
}

/* ---------------------------------------------------------------- CSV */

static const char pairs_csv[] = "id,a,b,bad\n"
                                "1,0.1,0.1,0\n"  /* keep_in */
                                "2,0.2,0.6,1\n"  /* swap_out */
                                "3,0.3,0.2,\n"   /* keep_in, unlabelled */
                                "4,0.7,0.3,1\n"  /* swap_in */
                                "5,0.8,0.9,1\n"  /* keep_out */
                                "6,0.9,,0\n"     /* no challenger score: unpaired */
                                "7,0.6,0.8,0\n"; /* keep_out */

static int csv_run(const char *file, rd_swap_opts *o, rd_swap_result *r, rd_err *err)
{
    rd_an_source src = {.csv = path(file)};
    return rd_swapset(&src, o, &arena, r, err);
}

static rd_swap_opts csv_opts(void)
{
    rd_swap_opts o;
    rd_swap_opts_default(&o);
    o.champion_col = "a";
    o.challenger_col = "b";
    o.label_col = "bad";
    o.champion_cutoff = 0.5;
    o.challenger_cutoff = 0.5;
    o.min_labelled = 1;
    return o;
}

static void test_csv(void **state)
{
    (void)state;
    write_text("p.csv", pairs_csv);
    rd_swap_opts o = csv_opts();
    rd_swap_result r;
    rd_err err;
    assert_int_equal(csv_run("p.csv", &o, &r, &err), RD_OK);
    assert_int_equal(r.units, 6);
    assert_int_equal(r.unpaired, 1);
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].count, 2);
    assert_int_equal(r.cell[RD_SWAP_OUT].count, 1);
    assert_int_equal(r.cell[RD_SWAP_IN].count, 1);
    assert_int_equal(r.cell[RD_SWAP_KEEP_OUT].count, 2);
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].labelled, 1);
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].bads, 0);
    assert_true(r.cell[RD_SWAP_KEEP_OUT].bad_rate == 0.5);
    assert_true(fabs(r.cell[RD_SWAP_KEEP_IN].mean_champion - 0.2) < 1e-12);
    assert_true(fabs(r.cell[RD_SWAP_KEEP_OUT].mean_challenger - 0.85) < 1e-12);
    assert_true(fabs(r.cell[RD_SWAP_KEEP_IN].share - 2.0 / 6) < 1e-12);
    assert_true(r.champion_approval == 0.5 && r.challenger_approval == 0.5);
    /* 3 approved by the champion: the challenger's scores sorted 0.1 0.2 0.3 0.6 0.8 0.9, s[3] */
    assert_true(r.constant_cutoff == 0.6);
    assert_false(r.challenger_above);
    assert_string_equal(r.champion_rule, "score < 0.5");
    assert_string_equal(r.champion, "a");
    assert_null(r.outcome);

    /* approve at or above: the cells turn over; s[n - k] */
    o.approve_above = true;
    assert_int_equal(csv_run("p.csv", &o, &r, &err), RD_OK);
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].count, 2);
    assert_int_equal(r.cell[RD_SWAP_KEEP_OUT].count, 2);
    assert_string_equal(r.challenger_rule, "score >= 0.5");
    assert_true(r.constant_cutoff == 0.6); /* 3 approved: s[6 - 3] */
    o.champion_cutoff = 0;                 /* everyone approved by the champion: k = n, the lowest score */
    assert_int_equal(csv_run("p.csv", &o, &r, &err), RD_OK);
    assert_true(r.constant_cutoff == 0.1);
    o.champion_cutoff = 5; /* no one: just above the highest */
    assert_int_equal(csv_run("p.csv", &o, &r, &err), RD_OK);
    assert_true(r.constant_cutoff > 0.9 && r.constant_cutoff == nextafter(0.9, 1));

    /* too few labelled: the bad rate is null, with a note */
    o = csv_opts();
    o.min_labelled = 2;
    assert_int_equal(csv_run("p.csv", &o, &r, &err), RD_OK);
    assert_true(isnan(r.cell[RD_SWAP_IN].bad_rate));
    assert_string_equal(r.cell[RD_SWAP_IN].note, "insufficient data: 2 labelled needed, 1 labelled");
    assert_true(r.cell[RD_SWAP_KEEP_OUT].bad_rate == 0.5);
    rd_buf b;
    rd_buf_init(&b);
    rd_swapset_json(&b, &r);
    rd_value v;
    assert_int_equal(rd_json_parse(b.data, b.len, NULL, &arena, &v, &err), RD_OK);
    const rd_value *cells = rd_value_get(&v, "cells", 5);
    assert_int_equal(cells->len, 4);
    assert_true(rd_value_get(&cells->u.items[2], "bad_rate", 8)->type == RD_VNULL);
    assert_string_equal(rd_value_get(&cells->u.items[1], "cell", 4)->u.s, "swap_out");
    rd_buf_reset(&b);
    rd_swapset_text(&b, &r);
    assert_non_null(strstr(rd_buf_cstr(&b), "swap_in   decline    approve"));
    rd_buf_deinit(&b);
}

static void test_csv_refusals(void **state)
{
    (void)state;
    write_text("p.csv", pairs_csv);
    rd_swap_opts o = csv_opts();
    rd_swap_result r;
    rd_err err;
    o.challenger_col = "bb";
    expect(csv_run("p.csv", &o, &r, &err), RD_EINVAL, &err,
           "--challenger-col bb names no column (did you mean b?)");
    o = csv_opts();
    o.label_col = "label";
    expect(csv_run("p.csv", &o, &r, &err), RD_EINVAL, &err, "--label-col label");
    o = csv_opts();
    o.challenger_cutoff = (double)NAN;
    expect(csv_run("p.csv", &o, &r, &err), RD_EINVAL, &err, "needs both cut-offs");
    write_text("lab.csv", "a,b,bad\n0.1,0.2,1\n0.3,0.4,yes\n");
    o = csv_opts();
    expect(csv_run("lab.csv", &o, &r, &err), RD_EINVAL, &err, "lab.csv: line 3: bad: \"yes\" is not a label");
    write_text("num.csv", "a,b,bad\n0.1,0.2,1\n0.3,high,0\n");
    expect(csv_run("num.csv", &o, &r, &err), RD_EINVAL, &err, "num.csv: line 3: b: \"high\" is not a number");
    write_text("none.csv", "a,b,bad\n,0.2,1\n");
    expect(csv_run("none.csv", &o, &r, &err), RD_EINVAL, &err, "no row with both scores");
}

/* ---------------------------------------------------------------- log */

static rd_store *store;

typedef struct rec {
    const char *id, *kind, *bundle;
    double score;
    const char *decision;
} rec;

static void append(const rec *recs, size_t n)
{
    rd_buf b;
    rd_buf_init(&b);
    rd_log_row rows[32];
    size_t at[32];
    assert_true(n <= 32);
    for (size_t i = 0; i < n; i++) {
        at[i] = b.len;
        rd_buf_printf(&b,
                      "{\"v\":1,\"kind\":\"%s\",\"request_id\":\"%s\",\"bundle\":{\"name\":\"%s\",\"digest\":"
                      "\"%064d\"},\"source\":\"model\",\"score\":%.17g,\"decision\":\"%s\"}",
                      recs[i].kind, recs[i].id, recs[i].bundle, 0, recs[i].score, recs[i].decision);
    }
    const char *base = rd_buf_cstr(&b);
    for (size_t i = 0; i < n; i++)
        rows[i] = (rd_log_row){.ts_ms = 1767225600000 + (int64_t)i,
                               .request_id = recs[i].id,
                               .kind = recs[i].kind,
                               .model_version = recs[i].bundle,
                               .record = base + at[i],
                               .record_len = (i + 1 < n ? at[i + 1] : b.len) - at[i]};
    rd_err err;
    assert_int_equal(rd_store_log_append(store, rows, n, &err), RD_OK);
    rd_buf_deinit(&b);
}

static int log_run(rd_swap_opts *o, int64_t from_ms, rd_swap_result *r, rd_err *err)
{
    rd_an_source src = {.store = store, .from_ms = from_ms};
    return rd_swapset(&src, o, &arena, r, err);
}

static void test_log(void **state)
{
    (void)state;
    char sdir[128];
    snprintf(sdir, sizeof sdir, "%s/data", dir);
    rd_err err;
    assert_int_equal(rd_store_open(sdir, NULL, &store, &err), RD_OK);
    rd_swap_opts o;
    rd_swap_opts_default(&o);
    o.min_labelled = 1;
    rd_swap_result r;
    expect(log_run(&o, 0, &r, &err), RD_EINVAL, &err, "no shadow records in the window");
    static const rec recs[] = {
        {"q-1", "primary", "champ_lr_v1.0", 0.1, "approve"},
        {"q-1", "shadow", "chal_lr_v1.0", 0.2, "approve"},
        {"q-1", "shadow", "other_lr_v1.0", 0.9, "reject"},
        {"q-2", "primary", "champ_lr_v1.0", 0.2, "approve"},
        {"q-2", "shadow", "chal_lr_v1.0", 0.7, "reject"},
        {"q-3", "primary", "champ_lr_v1.0", 0.6, "review"},
        {"q-3", "shadow", "chal_lr_v1.0", 0.3, "approve"},
        {"q-4", "primary", "champ_lr_v1.0", 0.8, "reject"},
        {"q-4", "shadow", "chal_lr_v1.0", 0.9, "review"},
        {"q-5", "primary", "champ_lr_v1.0", 0.3, "approve"},
        {"q-6", "primary", "chal_lr_v1.0", 0.4, "approve"}, /* the challenger deciding: not a pair */
        {"q-7", "primary", "other_lr_v1.0", 0.4, "approve"},
    };
    append(recs, sizeof recs / sizeof *recs);
    expect(log_run(&o, 0, &r, &err), RD_EINVAL, &err,
           "several bundles score in shadow: choose one with --challenger (chal_lr_v1.0, other_lr_v1.0)");
    o.challenger = "nope_lr_v1.0";
    expect(log_run(&o, 0, &r, &err), RD_EINVAL, &err,
           "--challenger nope_lr_v1.0: no shadow record of that bundle");
    o.challenger = "chal_lr_v1.0";
    o.champion = "nope_lr_v2.0";
    expect(log_run(&o, 0, &r, &err), RD_EINVAL, &err,
           "--champion nope_lr_v2.0: no primary decision of that bundle in the window (bundles that decided: "
           "champ_lr_v1.0, other_lr_v1.0)");
    o.champion = "other_lr_v1.0";
    expect(log_run(&o, 0, &r, &err), RD_EINVAL, &err,
           "none of the 1 decisions of other_lr_v1.0 has a shadow score");
    o.champion = NULL;
    assert_int_equal(log_run(&o, 0, &r, &err), RD_OK);
    assert_string_equal(r.champion, "champ_lr_v1.0");
    assert_string_equal(r.challenger, "chal_lr_v1.0");
    assert_string_equal(r.champion_rule, "logged decision");
    assert_null(r.outcome);
    assert_int_equal(r.units, 4);
    assert_int_equal(r.unpaired, 1); /* q-5 */
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].count, 1);
    assert_int_equal(r.cell[RD_SWAP_OUT].count, 1);
    assert_int_equal(r.cell[RD_SWAP_IN].count, 1); /* review declines */
    assert_int_equal(r.cell[RD_SWAP_KEEP_OUT].count, 1);
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].labelled, 0);
    assert_true(isnan(r.cell[RD_SWAP_KEEP_IN].bad_rate));
    /* the champion approved 2: the challenger's scores 0.2 0.3 0.7 0.9, s[2] */
    assert_true(r.constant_cutoff == 0.7);
    /* cut-offs without a work directory: taken for probabilities */
    o.champion_cutoff = 0.25;
    o.challenger_cutoff = 0.5;
    assert_int_equal(log_run(&o, 0, &r, &err), RD_OK);
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].count, 1);  /* q-1 */
    assert_int_equal(r.cell[RD_SWAP_OUT].count, 1);      /* q-2 */
    assert_int_equal(r.cell[RD_SWAP_IN].count, 1);       /* q-3 */
    assert_int_equal(r.cell[RD_SWAP_KEEP_OUT].count, 1); /* q-4 */
    assert_string_equal(r.challenger_rule, "score < 0.5");

    /* outcomes joined: labels for q-1 and q-3 */
    rd_outcome oc[] = {{.request_id = "q-1", .outcome = "dpd30", .label = 1},
                       {.request_id = "q-3", .outcome = "dpd30", .label = 0}};
    rd_outcome_result res[2];
    assert_int_equal(rd_store_outcomes_put(store, oc, 2, 1767225700000, res, &err), RD_OK);
    rd_swap_opts_default(&o);
    o.challenger = "chal_lr_v1.0";
    o.min_labelled = 1;
    assert_int_equal(log_run(&o, 0, &r, &err), RD_OK);
    assert_string_equal(r.outcome, "dpd30");
    assert_int_equal(r.cell[RD_SWAP_KEEP_IN].labelled, 1);
    assert_true(r.cell[RD_SWAP_KEEP_IN].bad_rate == 1);
    assert_true(r.cell[RD_SWAP_IN].bad_rate == 0);
    assert_true(isnan(r.cell[RD_SWAP_OUT].bad_rate));
    /* a window with nothing in it */
    expect(log_run(&o, 4102444800000, &r, &err), RD_EINVAL, &err, "no shadow records in the window");
    rd_store_close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_refusals),
        cmocka_unit_test(test_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
