/* riskd ab (rd_ab): from a CSV, the counts, the z-test, Welch t and Holm against statsmodels /
 * scipy values computed for the same rows (reference numbers below); an insufficient
 * comparison carries no number; malformed rows are refused naming the line. From the log:
 * only the routing flag's decisions, the control from the kept flag set's defaultVariant, SRM
 * per flag revision against the fractional weights (resolved through $ref), labels joined from
 * the outcomes, --stage keeping the spans of the rollout's stage, and the series over time. */
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
#include "riskd/hash.h"
#include "riskd/rollout.h"

#define near(a, b, tol) assert_true(fabs((a) - (b)) <= (tol)*fmax(1, fabs(b)))

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-ab-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* 200 decisions per arm: A approves 100, B 130; scores 0.001 i + 0.05 (i % 7) (+0.01 for B);
   labels on the approved: A bad when i % 5 == 0, B when i % 4 == 0. */
static const char *write_csv(const char *name, int bad_line)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("arm,verdict,pd,bad\n", f);
    int line = 1;
    for (int arm = 0; arm < 2; arm++)
        for (int i = 0; i < 200; i++) {
            int approve_below = arm ? 130 : 100;
            const char *d = i < approve_below ? "approve" : i % 2 ? "review" : "reject";
            int label = i < approve_below ? (arm ? i % 4 == 0 : i % 5 == 0) : -1;
            double score = 0.001 * i + 0.05 * (i % 7) + (arm ? 0.01 : 0);
            if (++line == bad_line)
                d = "Approve";
            fprintf(f, "%s,%s,%.17g,%s\n", arm ? "B" : "A", d, score, label < 0 ? "" : label ? "1" : "0");
        }
    fclose(f);
    return path;
}

static const rd_ab_compare *find_cmp(const rd_ab_result *r, rd_ab_metric m)
{
    for (size_t i = 0; i < r->ncompare; i++)
        if (r->compare[i].metric == m)
            return &r->compare[i];
    fail();
    return NULL;
}

static void csv_against_statsmodels(void **state)
{
    (void)state;
    rd_an_source src = {.csv = write_csv("d.csv", 0)};
    rd_ab_opts o;
    rd_ab_opts_default(&o);
    o.variant_col = "arm";
    o.decision_col = "verdict";
    o.score_col = "pd";
    o.label_col = "bad";
    o.min_bads = 50;
    o.weights = "A=70,B=30";
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    rd_err err;
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    assert_string_equal(r.control, "A");
    assert_int_equal(r.nvariants, 2);
    assert_int_equal(r.variants[1].units, 200);
    assert_int_equal(r.variants[1].approve, 130);
    assert_int_equal(r.variants[1].approved_bads, 33);
    const rd_ab_compare *ap = find_cmp(&r, RD_AB_APPROVAL), *ms = find_cmp(&r, RD_AB_MEAN_SCORE),
                        *br = find_cmp(&r, RD_AB_BAD_RATE);
    /* statsmodels proportions_ztest([130, 100], [200, 200]) */
    near(ap->stat, 3.034330424545042, 1e-12);
    near(ap->p, 0.0024107023750756166, 1e-12);
    near(ap->diff, 0.15, 1e-12);
    assert_true(ap->lo < 0.15 && ap->hi > 0.15);
    /* scipy ttest_ind(B, A, equal_var=False) */
    near(ms->stat, 0.8614971282917747, 1e-9);
    near(ms->p, 0.3894830274011405, 1e-9);
    /* proportions_ztest([33, 20], [130, 100]) */
    near(br->stat, 0.9613149888319571, 1e-12);
    near(br->p, 0.33639381368876853, 1e-12);
    /* multipletests([...], method="holm") */
    near(ap->p_holm, 0.0072321071252268495, 1e-12);
    near(ms->p_holm, 0.6727876273775371, 1e-9);
    near(br->p_holm, 0.6727876273775371, 1e-9);
    assert_true(ap->significant);
    assert_false(ms->significant);
    assert_non_null(strstr(ap->sentence, "B approves 15.0 pp more than A"));
    /* SRM: 200/200 against 70/30: chisquare -> 76.19, p 2.6e-18 */
    assert_int_equal(r.nsrm, 1);
    near(r.srm[0].chi2, 76.19047619047619, 1e-12);
    assert_string_equal(r.srm[0].verdict, "fail");
    rd_buf b;
    rd_buf_init(&b);
    rd_ab_json(&b, &r);
    assert_non_null(strstr(rd_buf_cstr(&b), "\"metric\":\"approval_rate\",\"status\":\"ok\""));
    rd_buf_deinit(&b);
    rd_arena_deinit(&a);
}

static void csv_insufficient_and_bad_rows(void **state)
{
    (void)state;
    rd_an_source src = {.csv = write_csv("d.csv", 0)};
    rd_ab_opts o;
    rd_ab_opts_default(&o); /* min_bads 100: 53 bads are not enough */
    o.variant_col = "arm";
    o.decision_col = "verdict";
    o.score_col = "pd";
    o.label_col = "bad";
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    rd_err err;
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    const rd_ab_compare *br = find_cmp(&r, RD_AB_BAD_RATE);
    assert_false(br->status.ok);
    assert_true(isnan(br->p) && isnan(br->diff) && isnan(br->p_holm));
    assert_non_null(strstr(br->status.note, "53 bads among the approved, need 100"));
    assert_int_equal(r.nsrm, 0); /* no --weights */

    src.csv = write_csv("bad.csv", 7);
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "line 7: verdict: expected approve, review or reject"));
    src.csv = write_csv("d.csv", 0);
    o.variant_col = "variant";
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "--variant-col variant names no column"));
    o.variant_col = "arm";
    o.control = "C";
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "--control C is no variant"));
    rd_arena_deinit(&a);
}

/* ---------------------------------------------------------------- the log */

static const char flagset1[] =
    "{\"$evaluators\":{\"split\":{\"fractional\":[[\"cand\",25],[\"ctl\",75]]}},\"flags\":{\"route\":{"
    "\"state\":\"ENABLED\",\"variants\":{\"ctl\":\"m_v1.0\",\"cand\":\"m_v1.1\"},\"defaultVariant\":\"ctl\","
    "\"targeting\":{\"if\":[{\"==\":[{\"var\":\"staff\"},true]},\"cand\",{\"$ref\":\"split\"}]},"
    "\"metadata\":{\"stage\":\"quarter\"}}}}";
static const char flagset2[] =
    "{\"flags\":{\"route\":{\"state\":\"ENABLED\",\"variants\":{\"ctl\":\"m_v1.0\",\"cand\":\"m_v1.1\"},"
    "\"defaultVariant\":\"ctl\",\"targeting\":{\"fractional\":[[\"cand\",50],[\"ctl\",50]]}}}}";

static void log_one(rd_store *s, int i, int64_t ts, const char *sha, const char *flag, const char *variant,
                    const char *decision, double score)
{
    char rec[1024], id[32];
    snprintf(id, sizeof id, "r-%d", i);
    snprintf(
        rec, sizeof rec,
        "{\"v\":1,\"kind\":\"primary\",\"request_id\":\"%s\",\"ts_ms\":%lld,\"flags\":{\"sha256\":\"%s\","
        "\"route_flag\":\"%s\"},\"routed\":true,\"variant\":\"%s\",\"bundle\":{\"name\":\"m\",\"digest\":"
        "\"d\"},"
        "\"source\":\"model\",\"score\":%.17g,\"decision\":\"%s\",\"features\":{}}",
        id, (long long)ts, sha, flag, variant, score, decision);
    rd_log_row row = {.ts_ms = ts,
                      .request_id = id,
                      .kind = "primary",
                      .model_version = "m",
                      .record = rec,
                      .record_len = strlen(rec)};
    rd_err err;
    assert_int_equal(rd_store_log_append(s, &row, 1, &err), RD_OK);
}

static rd_store *make_log(char sha1[RD_SHA256_HEX], char sha2[RD_SHA256_HEX])
{
    rd_store *s;
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &s, &err), RD_OK);
    assert_int_equal(rd_store_blob_put(s, flagset1, strlen(flagset1), sha1, &err), RD_OK);
    assert_int_equal(rd_store_blob_put(s, flagset2, strlen(flagset2), sha2, &err), RD_OK);
    /* revision 1 at 1e12 + [0, 400 s): 100 cand, 300 ctl (25/75: passes); revision 2 at
       1e12 + [1000 s, 1400 s): 300 cand, 100 ctl against 50/50 (fails); another flag's decisions
       are not counted */
    int64_t t0 = 1000000000000;
    for (int i = 0; i < 400; i++)
        log_one(s, i, t0 + i * 1000, sha1, "route", i % 4 == 0 ? "cand" : "ctl", i % 2 ? "approve" : "reject",
                0.1 + 0.001 * (i % 50));
    for (int i = 0; i < 400; i++)
        log_one(s, 400 + i, t0 + 1000000 + i * 1000, sha2, "route", i % 4 != 0 ? "cand" : "ctl",
                i % 3 ? "approve" : "review", 0.2 + 0.001 * (i % 50));
    for (int i = 0; i < 50; i++)
        log_one(s, 800 + i, t0 + i, sha2, "other", "x", "approve", 0.5);
    rd_outcome oc[2] = {{.request_id = "r-1", .outcome = "dpd30", .label = 1},
                        {.request_id = "r-3", .outcome = "dpd30", .label = 0}};
    rd_outcome_result res[2];
    assert_int_equal(rd_store_outcomes_put(s, oc, 2, t0, res, &err), RD_OK);
    return s;
}

static void log_srm_per_revision(void **state)
{
    (void)state;
    char sha1[RD_SHA256_HEX], sha2[RD_SHA256_HEX];
    rd_store *s = make_log(sha1, sha2);
    rd_an_source src = {.store = s};
    rd_ab_opts o;
    rd_ab_opts_default(&o);
    o.flag = "route";
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    rd_err err;
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    assert_string_equal(r.control, "ctl"); /* the defaultVariant */
    assert_string_equal(r.outcome, "dpd30");
    assert_int_equal(r.rows, 800);
    assert_int_equal(r.variants[0].units, 400);
    assert_int_equal(r.variants[0].labelled, 2);
    assert_int_equal(r.nsrm, 2);
    assert_string_equal(r.srm[0].stage, "quarter");
    assert_string_equal(r.srm[0].verdict, "pass");
    near(r.srm[0].chi2, 0.0, 1e-12);
    assert_string_equal(r.srm[1].verdict, "fail");
    assert_non_null(strstr(r.srm[1].stage, "flags "));
    /* the series: the cumulative difference over the span, its last point holding every unit */
    assert_true(r.npoints > 1 && r.npoints <= 60);
    assert_int_equal(r.points[r.npoints - 1].units + r.points[r.npoints - 1].control_units, 800);

    o.flag = "nope";
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "e.g. route"));
    rd_arena_deinit(&a);
    rd_store_close(s);
}

static void log_stage_spans(void **state)
{
    (void)state;
    char sha1[RD_SHA256_HEX], sha2[RD_SHA256_HEX];
    rd_store *s = make_log(sha1, sha2);
    static const char plan[] =
        "{\"name\":\"p\",\"route_flag\":\"route\",\"control\":{\"bundle\":\"m_v1.0\",\"variant\":\"ctl\"},"
        "\"candidate\":{\"bundle\":\"m_v1.1\",\"variant\":\"cand\"},\"stages\":["
        "{\"name\":\"quarter\",\"candidate_weight\":25000,\"hold\":\"1m\"},"
        "{\"name\":\"half\",\"candidate_weight\":50000,\"hold\":\"1m\"}]}";
    rd_rollout_row row = {.state = RD_ROLLOUT_RUNNING, .stage = 1};
    snprintf(row.flag, sizeof row.flag, "route");
    snprintf(row.plan_name, sizeof row.plan_name, "p");
    snprintf(row.stage_name, sizeof row.stage_name, "half");
    row.plan_json = (char *)plan;
    rd_err err;
    int rc = rd_rollout_put(s, &row, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, RD_OK);
    int64_t t0 = 1000000000000;
    rd_transition t1 = {.ts_ms = t0, .from_stage = -1, .to_stage = 0},
                  t2 = {.ts_ms = t0 + 900000, .from_stage = 0, .to_stage = 1};
    snprintf(t1.flag, sizeof t1.flag, "route");
    snprintf(t2.flag, sizeof t2.flag, "route");
    snprintf(t1.to_state, sizeof t1.to_state, "running");
    snprintf(t2.to_state, sizeof t2.to_state, "running");
    assert_int_equal(rd_transition_append(s, &t1, &err), RD_OK);
    assert_int_equal(rd_transition_append(s, &t2, &err), RD_OK);
    rd_an_source src = {.store = s};
    rd_ab_opts o;
    rd_ab_opts_default(&o);
    o.flag = "route";
    o.stage = "half";
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    assert_int_equal(r.rows, 400); /* revision 2 only */
    assert_int_equal(r.nsrm, 1);
    o.stage = "quarter";
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    assert_int_equal(r.rows, 400);
    assert_string_equal(r.srm[0].stage, "quarter");
    o.stage = "full";
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "stages: quarter, half"));
    rd_arena_deinit(&a);
    rd_store_close(s);
}

/* A variant of the split that got no unit is an arm of SRM with 0 units: a failure naming it,
 * never "one weighted arm: pass". */
static void log_srm_ghost_arm(void **state)
{
    (void)state;
    char sha1[RD_SHA256_HEX], sha2[RD_SHA256_HEX], sha3[RD_SHA256_HEX];
    rd_store *s = make_log(sha1, sha2);
    static const char flagset3[] = "{\"flags\":{\"route\":{\"state\":\"ENABLED\",\"variants\":{\"ctl\":\"a\","
                                   "\"cand\":\"b\",\"ghost\":\"c\"},"
                                   "\"defaultVariant\":\"ctl\",\"targeting\":{\"fractional\":[[\"cand\",50],["
                                   "\"ctl\",25],[\"ghost\",25]]}}}}";
    rd_err err;
    assert_int_equal(rd_store_blob_put(s, flagset3, strlen(flagset3), sha3, &err), RD_OK);
    for (int i = 0; i < 400; i++)
        log_one(s, 2000 + i, 1000000000000 + 5000000 + i, sha3, "route", i % 3 ? "cand" : "ctl", "approve",
                0.3);
    rd_an_source src = {.store = s};
    rd_ab_opts o;
    rd_ab_opts_default(&o);
    o.flag = "route";
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    assert_int_equal(r.nvariants, 3);
    assert_int_equal(r.nsrm, 3);
    assert_string_equal(r.srm[2].verdict, "fail");
    assert_non_null(strstr(r.srm[2].why, "ghost has 0 units where 100 were expected"));
    /* the ghost's comparisons are insufficient, not numbers */
    for (size_t i = 0; i < r.ncompare; i++)
        if (!strcmp(r.compare[i].variant, "ghost"))
            assert_false(r.compare[i].status.ok);
    rd_arena_deinit(&a);
    rd_store_close(s);
}

/* Scores that do not vary: no Welch t (it would divide by 0), a note instead. */
static void csv_constant_scores(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/c.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("arm,verdict,pd\n", f);
    for (int i = 0; i < 80; i++)
        fprintf(f, "%s,%s,0.5\n", i % 2 ? "A" : "B", i % 4 < 2 ? "approve" : "reject");
    fclose(f);
    rd_an_source src = {.csv = path};
    rd_ab_opts o;
    rd_ab_opts_default(&o);
    o.variant_col = "arm";
    o.decision_col = "verdict";
    o.score_col = "pd";
    o.control = "A";
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    rd_err err;
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    const rd_ab_compare *ms = find_cmp(&r, RD_AB_MEAN_SCORE);
    assert_false(ms->status.ok);
    assert_true(isnan(ms->p) && isnan(ms->stat));
    assert_non_null(strstr(ms->status.note, "do not vary"));
    /* --weights: every variant named once, a finite total above 0 */
    const char *bad[] = {"A=50", "A=50,A=10,B=50", "", "A=0,B=0", "A=1e308,B=1e308"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.weights = bad[i];
        assert_int_not_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    }
    rd_arena_deinit(&a);
}

/* ---------------------------------------------------------------- --segments */

static void log_aged(rd_store *s, int i, const char *sha, const char *variant, int age, bool approve)
{
    char rec[1024], id[32];
    snprintf(id, sizeof id, "s-%d", i);
    snprintf(rec, sizeof rec,
             "{\"v\":1,\"kind\":\"primary\",\"request_id\":\"%s\",\"ts_ms\":%d,\"flags\":{\"sha256\":\"%s\","
             "\"route_flag\":\"route\"},\"routed\":true,\"variant\":\"%s\",\"bundle\":{\"name\":\"m\","
             "\"digest\":\"d\"},\"source\":\"model\",\"score\":0.1,\"decision\":\"%s\","
             "\"context\":{\"region\":\"north\"},\"features\":{\"age\":%d}}",
             id, 1000 + i, sha, variant, approve ? "approve" : "reject", age);
    rd_log_row row = {
        .ts_ms = 1000 + i, .request_id = id, .kind = "primary", .record = rec, .record_len = strlen(rec)};
    rd_err err;
    assert_int_equal(rd_store_log_append(s, &row, 1, &err), RD_OK);
}

/* The fair-lending table against statsmodels: the candidate approves the under-25s at 0.70 (105
 * of 150) and the others all, the control at 0.95 (95 of 100) and the others all:
 *   confint_proportions_2indep(105, 150, 95, 100, method="newcomb", compare="diff", alpha=0.05)
 *   = (-0.33263406185422717, -0.15844805190983702) */
static void log_segments(void **state)
{
    (void)state;
    rd_store *s;
    rd_err err;
    char sha[RD_SHA256_HEX];
    assert_int_equal(rd_store_open(dir, NULL, &s, &err), RD_OK);
    assert_int_equal(rd_store_blob_put(s, flagset2, strlen(flagset2), sha, &err), RD_OK);
    int i = 0;
    for (int k = 0; k < 150; k++)
        log_aged(s, i++, sha, "cand", 20, k < 105);
    for (int k = 0; k < 250; k++)
        log_aged(s, i++, sha, "cand", 40, true);
    for (int k = 0; k < 100; k++)
        log_aged(s, i++, sha, "ctl", 21, k < 95);
    for (int k = 0; k < 200; k++)
        log_aged(s, i++, sha, "ctl", 50, true);
    static const char plan_text[] =
        "{\"name\":\"p\",\"route_flag\":\"route\",\"control\":{\"bundle\":\"m_v1.0\",\"variant\":\"ctl\"},"
        "\"candidate\":{\"bundle\":\"m_v1.1\",\"variant\":\"cand\"},"
        "\"segments\":[{\"name\":\"young\",\"rule\":{\"<\":[{\"var\":\"features.age\"},25]}},"
        "{\"name\":\"north\",\"rule\":{\"==\":[{\"var\":\"context.region\"},\"north\"]}},"
        "{\"name\":\"older\",\"rule\":{\">=\":[{\"var\":\"features.age\"},25]},\"reference\":true}],"
        "\"stages\":[{\"name\":\"10%\",\"candidate_weight\":10000,\"hold\":\"1m\"},"
        "{\"name\":\"100%\",\"candidate_weight\":100000,\"hold\":\"1m\"}]}";
    rd_plan *plan;
    assert_int_equal(rd_plan_parse(plan_text, strlen(plan_text), &plan, &err), RD_OK);
    rd_an_source src = {.store = s};
    rd_ab_opts o;
    rd_ab_opts_default(&o);
    o.flag = "route";
    o.segments = plan;
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_ab_result r;
    assert_int_equal(rd_ab(&src, &o, &a, &r, &err), RD_OK);
    const rd_ab_segments *ss = r.segments;
    assert_non_null(ss);
    assert_string_equal(ss->reference, "older");
    assert_int_equal(ss->n, 3);
    const rd_ab_segment *young = &ss->segs[0];
    assert_string_equal(young->arms[0].variant, "ctl");
    assert_int_equal(young->arms[0].n, 100);
    assert_int_equal(young->arms[0].approve, 95);
    assert_int_equal(young->arms[1].n, 150);
    assert_int_equal(young->arms[1].approve, 105);
    const rd_segment_figures *f = young->cmp[0].fig;
    assert_true(f->cand_air == 0.7 && f->ctrl_air == 0.95 && f->diff == -0.25);
    near(f->lo, -0.33263406185422717, 1e-12);
    near(f->hi, -0.15844805190983702, 1e-12);
    assert_true(young->cmp[0].four_fifths && f->sized);
    assert_int_equal(ss->segs[1].arms[1].n, 400); /* north: every record (a context rule) */
    rd_buf b;
    rd_buf_init(&b);
    rd_ab_json(&b, &r);
    assert_non_null(strstr(rd_buf_cstr(&b), "\"segments\":{\"plan\":\"p\",\"reference\":\"older\""));
    rd_buf_reset(&b);
    rd_ab_text(&b, &r);
    assert_non_null(strstr(rd_buf_cstr(&b), "held and used lawfully"));
    rd_buf_deinit(&b);
    /* a CSV carries no context or features: refused */
    rd_an_source csv = {.csv = "x.csv"};
    assert_int_equal(rd_ab(&csv, &o, &a, &r, &err), RD_EUSAGE);
    assert_non_null(strstr(err.msg, "--segments reads the decision log"));
    rd_plan_free(plan);
    rd_arena_deinit(&a);
    rd_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(csv_against_statsmodels, setup, teardown),
        cmocka_unit_test_setup_teardown(csv_insufficient_and_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(log_srm_per_revision, setup, teardown),
        cmocka_unit_test_setup_teardown(log_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(log_stage_spans, setup, teardown),
        cmocka_unit_test_setup_teardown(log_srm_ghost_arm, setup, teardown),
        cmocka_unit_test_setup_teardown(csv_constant_scores, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
