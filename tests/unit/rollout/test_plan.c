/* Rollout plans: the example plans parse to what they say (defaults resolved, the plan's gates
 * merged into each stage); every refusal class with the message that names the stage and the
 * field; the check against a flag set (variants, candidate-first fractional out of 100000,
 * shadow variants, loaded bundles); reachability warnings; the targeting each stage writes,
 * and that widening it never moves an applicant back to the control. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/rollout.h"

static rd_plan *load_example(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "examples/rollout/%s", name);
    rd_plan *p = NULL;
    rd_err err = {0};
    int rc = rd_plan_load(path, &p, &err);
    if (rc != RD_OK)
        fail_msg("%s: %s", path, err.msg);
    return p;
}

static const rd_gate *find_gate(const rd_stage *s, rd_gate_metric m)
{
    for (size_t i = 0; i < s->ngates; i++)
        if (s->gates[i].metric == m)
            return &s->gates[i];
    return NULL;
}

static void test_metrics_and_ops(void **state)
{
    (void)state;
    for (int m = 0; m < RD_M_COUNT; m++)
        assert_int_equal(rd_gate_metric_parse(rd_gate_metric_name((rd_gate_metric)m)), m);
    assert_string_equal(rd_gate_metric_name(RD_M_REJECT_RATE), "reject_rate");
    assert_string_equal(rd_gate_metric_name(RD_M_BAD_RATE), "bad_rate");
    assert_int_equal(rd_gate_metric_parse("rejct_rate"), -1);
    assert_int_equal(rd_gate_metric_parse(NULL), -1);
    assert_true(rd_gate_op_holds(RD_OP_LT, 1, 2));
    assert_false(rd_gate_op_holds(RD_OP_LT, 2, 2));
    assert_true(rd_gate_op_holds(RD_OP_LE, 2, 2));
    assert_true(rd_gate_op_holds(RD_OP_GT, 3, 2));
    assert_false(rd_gate_op_holds(RD_OP_GT, 2, 2));
    assert_true(rd_gate_op_holds(RD_OP_GE, 2, 2));
    assert_false(rd_gate_op_holds(RD_OP_GE, NAN, 2)); /* no data never passes */
    char b[24];
    assert_string_equal(rd_duration_format(500, b, sizeof b), "500ms");
    assert_string_equal(rd_duration_format(90000, b, sizeof b), "90s");
    assert_string_equal(rd_duration_format(600000, b, sizeof b), "10m");
    assert_string_equal(rd_duration_format(7200000, b, sizeof b), "2h");
    assert_string_equal(rd_duration_format(172800000, b, sizeof b), "2d");
    assert_string_equal(rd_duration_format(0, b, sizeof b), "0ms");
}

static void test_examples(void **state)
{
    (void)state;
    rd_plan *p = load_example("credit-canary.json");
    assert_string_equal(p->name, "credit-canary");
    assert_string_equal(p->route_flag, "credit-model-route");
    assert_string_equal(p->shadow_flag, "credit-model-shadow");
    assert_string_equal(p->shadow_on, "challenger");
    assert_string_equal(p->shadow_off, "none");
    assert_string_equal(p->control, "credit_xgb_v1.0");
    assert_string_equal(p->control_variant, "champion");
    assert_string_equal(p->candidate, "credit_xgb_v1.1");
    assert_string_equal(p->candidate_variant, "challenger");
    assert_int_equal(p->interval_ms, 60000);
    assert_int_equal(p->nstages, 7);
    static const char *const names[] = {"shadow", "internal", "0.1%", "5%", "20%", "50%", "100%"};
    static const uint32_t weights[] = {0, 0, 100, 5000, 20000, 50000, 100000};
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(p->stages[i].name, names[i]);
        assert_int_equal(p->stages[i].candidate, weights[i]);
        assert_true(p->stages[i].deadline_ms >= p->stages[i].hold_ms);
    }
    const rd_stage *sh = &p->stages[0], *in = &p->stages[1], *five = &p->stages[3];
    assert_true(sh->shadow);
    assert_int_equal(sh->hold_ms, 86400000);
    assert_int_equal(sh->deadline_ms, 3 * 86400000LL);
    assert_int_equal(sh->min_samples, 5000);
    /* the stage's own gates first, then the plan's */
    assert_int_equal(sh->gates[0].metric, RD_M_SHADOW_AGREEMENT);
    assert_true(sh->gates[0].has_pass && sh->gates[0].has_fail);
    assert_int_equal(sh->gates[0].pass_op, RD_OP_GT);
    assert_true(sh->gates[0].pass == 0.95);
    assert_int_equal(sh->gates[0].fail_op, RD_OP_LE);
    assert_true(sh->gates[0].fail == 0.9);
    assert_int_equal(sh->gates[0].min_samples, 5000); /* the stage's */
    const rd_gate *rej = find_gate(sh, RD_M_REJECT_RATE);
    assert_non_null(rej);
    assert_int_equal(rej->compare, RD_CMP_RATIO);
    assert_int_equal(find_gate(sh, RD_M_ERROR_RATE)->compare, RD_CMP_DIFFERENCE);
    const rd_gate *srm = find_gate(sh, RD_M_SRM);
    assert_non_null(srm);
    assert_false(srm->has_pass || srm->has_fail);
    assert_true(srm->alpha == 0.001);
    /* the segment stage: no srm (the segment is not assigned by weight), no shadow agreement */
    assert_true(in->has_segment);
    assert_string_equal(in->segment, "{\"$ref\":\"internal_staff\"}");
    assert_null(find_gate(in, RD_M_SRM));
    assert_null(find_gate(in, RD_M_SHADOW_AGREEMENT));
    assert_null(find_gate(in, RD_M_SCORE_PSI));
    assert_int_equal(find_gate(in, RD_M_REJECT_RATE)->min_samples, 200);
    assert_null(find_gate(&p->stages[2], RD_M_SHADOW_AGREEMENT));
    const rd_gate *bad = find_gate(five, RD_M_BAD_RATE);
    assert_non_null(bad);
    assert_string_equal(bad->outcome, "fpd");
    assert_true(bad->alpha == 0.05);
    assert_true(bad->nstar == 5000);
    assert_int_equal(bad->min_samples, 300);
    assert_null(find_gate(&p->stages[2], RD_M_BAD_RATE));
    /* the SHA-256 of the file's bytes */
    char *text;
    size_t len;
    char sha[RD_SHA256_HEX];
    assert_int_equal(rd_file_read("examples/rollout/credit-canary.json", 0, &text, &len, NULL), RD_OK);
    rd_sha256_hex(text, len, sha);
    assert_string_equal(p->sha256, sha);
    rd_free(text);
    rd_plan_free(p);

    p = load_example("credit-drill.json");
    assert_int_equal(p->interval_ms, 1000);
    assert_int_equal(p->nstages, 4);
    assert_int_equal(p->stages[1].candidate, 10000);
    assert_int_equal(p->stages[1].hold_ms, 15000);
    for (size_t i = 0; i < p->nstages; i++) {
        assert_int_equal(p->stages[i].min_samples, 200);
        assert_null(find_gate(&p->stages[i], RD_M_BAD_RATE));
    }
    rd_plan_free(p);
}

/* A plan: name, arms and route flag, then extra top-level members and the stages. */
static char *plan_text(const char *extra, const char *stages)
{
    static char buf[8192];
    snprintf(
        buf, sizeof buf,
        "{\"name\":\"t\",\"route_flag\":\"route\",\"control\":{\"bundle\":\"m_x_v1.0\",\"variant\":\"old\"},"
        "\"candidate\":{\"bundle\":\"m_x_v1.1\",\"variant\":\"new\"}%s%s,\"stages\":[%s]}",
        *extra ? "," : "", extra, stages);
    return buf;
}

#define ST(name, w, more) "{\"name\":\"" name "\",\"candidate_weight\":" #w ",\"hold\":\"1h\"" more "}"

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *hold;
        int64_t ms;
    } ok[] = {{"\"500ms\"", 500},   {"\"30s\"", 30000},    {"\"10m\"", 600000}, {"\"2h\"", 7200000},
              {"\"1d\"", 86400000}, {"\"1.5h\"", 5400000}, {"90", 90000},       {"0.25", 250}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char st[256];
        snprintf(st, sizeof st, "{\"name\":\"a\",\"candidate_weight\":0,\"hold\":%s}", ok[i].hold);
        rd_plan *p;
        rd_err err = {0};
        int rc = rd_plan_parse(plan_text("", st), strlen(plan_text("", st)), &p, &err);
        if (rc != RD_OK)
            fail_msg("%s: %s", ok[i].hold, err.msg);
        assert_int_equal(p->stages[0].hold_ms, ok[i].ms);
        assert_int_equal(p->stages[0].deadline_ms, 2 * ok[i].ms); /* the default deadline */
        rd_plan_free(p);
    }
}

typedef struct refusal {
    const char *extra, *stages, *msg;
} refusal;

static void test_refusals(void **state)
{
    (void)state;
    static const refusal cases[] = {
        /* the document */
        {"", "", "stages: must be a non-empty array"},
        {"\"rout_flag\":1", ST("a", 0, ""), "rout_flag: not a key of a plan (did you mean \"route_flag\"?)"},
        {"\"zzz\":1", ST("a", 0, ""), "zzz: not a key of a plan (its keys: name, description, route_flag"},
        {"\"interval\":\"500ms\"", ST("a", 0, ""), "interval: must be at least 1s"},
        {"\"interval\":\"1 minute\"", ST("a", 0, ""), "interval: \"1 minute\" is not a duration"},
        {"\"shadow\":{\"flag\":\"route\",\"on\":\"a\",\"off\":\"b\"}", ST("a", 0, ""),
         "shadow.flag: \"route\" is the routing flag"},
        {"\"shadow\":{\"flag\":\"s\",\"on\":\"a\"}", ST("a", 0, ""), "shadow.off: missing"},
        /* stages */
        {"", ST("a", 0, ",\"hld\":\"1h\""),
         "stages[0] (\"a\").hld: not a key of a stage (did you mean \"hold\"?)"},
        {"", "{\"candidate_weight\":0,\"hold\":\"1h\"}", "stages[0].name: missing"},
        {"", ST("a", 0, "") "," ST("a", 10, ""), "stages[1] (\"a\").name: stages[0] has the same name"},
        {"", ST("a", 100001, ""),
         "stages[0] (\"a\").candidate_weight: 100001 is not an integer from 0 to 100000"},
        {"", ST("a", -1, ""), "stages[0] (\"a\").candidate_weight: -1 is not an integer from 0 to 100000"},
        {"", ST("a", 0.5, ""), "stages[0] (\"a\").candidate_weight: 0.5 is not an integer"},
        {"", "{\"name\":\"a\",\"hold\":\"1h\"}", "stages[0] (\"a\").candidate_weight: missing"},
        {"", ST("a", 5000, "") "," ST("b", 100, ""),
         "stages[1] (\"b\").candidate_weight: 100 is less than the previous stage's 5000 (\"a\")"},
        {"", ST("a", 0, ",\"segment\":\"staff\""), "stages[0] (\"a\").segment: must be a JSONLogic object"},
        {"", ST("a", 0, ",\"segment\":[1]"), "stages[0] (\"a\").segment: must be a JSONLogic object"},
        {"", ST("a", 0, ",\"segment\":{}"), "stages[0] (\"a\").segment: must be a JSONLogic object (e.g."},
        {"", "{\"name\":\"a\",\"candidate_weight\":0,\"hold\":\"0s\"}",
         "stages[0] (\"a\").hold: must be more than 0"},
        {"", "{\"name\":\"a\",\"candidate_weight\":0}", "stages[0] (\"a\").hold: missing"},
        {"", ST("a", 0, ",\"deadline\":0"), "stages[0] (\"a\").deadline: must be more than 0"},
        {"", ST("a", 0, ",\"deadline\":\"30m\""),
         "stages[0] (\"a\").deadline: 30m is shorter than the hold (1h): the stage could never pass"},
        {"", "{\"name\":\"a\",\"candidate_weight\":0,\"hold\":\"-1s\"}",
         "stages[0] (\"a\").hold: \"-1s\" is not a"},
        {"", ST("a", 0, ",\"shadow\":true"),
         "stages[0] (\"a\").shadow: true, but the plan has no \"shadow\" flag"},
        /* gates */
        {"",
         ST("a", 0, "") "," ST("5%", 5000, ",\"gates\":[{\"metric\":\"rejct_rate\",\"pass\":{\"<\":0.1}}]"),
         "stages[1] (\"5%\").gates[0].metric: \"rejct_rate\" is not a metric (did you mean "
         "\"reject_rate\"?)"},
        {"\"gates\":[{\"metric\":\"happiness\",\"pass\":{\"<\":1}}]", ST("a", 0, ""),
         "gates[0].metric: \"happiness\" is not a metric (the metrics: shadow_agreement"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"<\":0.1},\"windw\":\"stage\"}]"),
         "stages[0] (\"a\").gates[0].windw: not a key of a gate (did you mean \"window\"?)"},
        {"", ST("a", 0, ",\"gates\":[{\"pass\":{\"<\":0.1}}]"), "stages[0] (\"a\").gates[0].metric: missing"},
        {"\"shadow\":{\"flag\":\"s\",\"on\":\"a\",\"off\":\"b\"}",
         ST("a", 0,
            ",\"shadow\":true,\"gates\":[{\"metric\":\"shadow_agreement\",\"compare\":\"ratio\",\"pass\":{\">"
            "\":0.9}}]"),
         "stages[0] (\"a\").gates[0].compare: shadow_agreement has no counterpart on the control arm, so no "
         "ratio"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"srm\",\"compare\":\"difference\"}]"),
         "stages[0] (\"a\").gates[0].compare: srm has no counterpart on the control arm, so no difference"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"bad_rate\",\"compare\":\"ratio\",\"outcome\":\"fpd\"}]"),
         "gates[0].compare: bad_rate has no counterpart on the control arm, so no ratio (its test already"},
        {"",
         ST("a", 0,
            ",\"gates\":[{\"metric\":\"breaker_open_seconds\",\"compare\":\"ratio\",\"pass\":{\"<\":1}}]"),
         "gates[0].compare: breaker_open_seconds has no counterpart on the control arm"},
        {"",
         ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"compare\":\"relative\",\"pass\":{\"<\":1}}]"),
         "gates[0].compare: \"relative\" is not a comparison (absolute, ratio or difference)"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"srm\",\"pass\":{\">\":0.001}}]"),
         "stages[0] (\"a\").gates[0].pass: srm is judged by its test (alpha), not by thresholds"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"bad_rate\",\"outcome\":\"fpd\",\"fail\":{\">\":0.1}}]"),
         "gates[0].fail: bad_rate is judged by its test (alpha), not by thresholds"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"bad_rate\"}]"),
         "stages[0] (\"a\").gates[0].outcome: missing (bad_rate needs the outcome definition"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"outcome\":\"fpd\",\"pass\":{\"<\":1}}]"),
         "gates[0].outcome: only bad_rate reads outcomes"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"alpha\":0.05,\"pass\":{\"<\":1}}]"),
         "gates[0].alpha: only srm, bad_rate and segment_approve_rate take a significance level"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"srm\",\"alpha\":2}]"),
         "gates[0].alpha: must be a number between 0"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\"}]"),
         "stages[0] (\"a\").gates[0].pass: missing"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"=\":0.1}}]"),
         "gates[0].pass: \"=\" is not an operator (<, <=, > or >=)"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"<\":0.1,\">\":0}}]"),
         "gates[0].pass: must be an object with one operator"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"<\":\"0.1\"}}]"),
         "gates[0].pass.<: must be a number, not string"},
        {"",
         ST("a", 0, ",\"gates\":[{\"metric\":\"reject_rate\",\"pass\":{\"<\":0.2},\"fail\":{\">\":0.1}}]"),
         "stages[0] (\"a\").gates[0]: pass {\"<\": 0.2} and fail {\">\": 0.1} overlap: 0.15 would both pass "
         "and fail"},
        {"",
         ST("a", 0, ",\"gates\":[{\"metric\":\"reject_rate\",\"pass\":{\"<=\":0.2},\"fail\":{\">=\":0.2}}]"),
         "gates[0]: pass {\"<=\": 0.2} and fail {\">=\": 0.2} overlap: 0.2 would both pass and fail"},
        {"",
         ST("a", 0, ",\"gates\":[{\"metric\":\"reject_rate\",\"pass\":{\"<\":0.2},\"fail\":{\"<\":0.5}}]"),
         "gates[0]: pass {\"<\": 0.2} and fail {\"<\": 0.5} overlap"},
        {"\"gates\":[{\"metric\":\"shadow_agreement\",\"pass\":{\">\":0.95}}]", ST("a", 0, ""),
         "gates[0].metric: shadow_agreement needs the plan's \"shadow\" flag"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"shadow_agreement\",\"pass\":{\">\":0.95}}]"),
         "stages[0] (\"a\").gates[0].metric: shadow_agreement needs a shadow stage"},
        {"", ST("a", 0, ",\"segment\":{\"$ref\":\"staff\"},\"gates\":[{\"metric\":\"srm\"}]"),
         "stages[0] (\"a\").gates[0].metric: srm cannot judge a stage with a segment"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"approve_rate\",\"pass\":{\">\":95}}]"),
         "gates[0].pass: 95 is outside 0..1: approve_rate is a share (write 0.95 for 95%)"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"latency_p99_ms\",\"pass\":{\"<\":-1}}]"),
         "gates[0].pass: -1: latency_p99_ms is never negative"},
        {"",
         ST("a", 0,
            ",\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"<\":1}},{\"metric\":\"error_rate\",\"pass\":{"
            "\"<\":0.5}}]"),
         "stages[0] (\"a\").gates[1].metric: a second error_rate gate of the same comparison"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"<\":1},\"window\":\"day\"}]"),
         "gates[0].window: \"day\" is not a window (stage or sliding)"},
        {"", ST("a", 0, ",\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"<\":1},\"failure_limit\":-1}]"),
         "gates[0].failure_limit: -1 is not an integer"},
        {"", ST("a", 0, ",\"gates\":{\"metric\":\"srm\"}"),
         "stages[0] (\"a\").gates: must be an array of gates"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *text = plan_text(cases[i].extra, cases[i].stages);
        rd_plan *p = NULL;
        rd_err err = {0};
        int rc = rd_plan_parse(text, strlen(text), &p, &err);
        if (rc == RD_OK) {
            rd_plan_free(p);
            fail_msg("case %zu accepted: %s", i, text);
        }
        if (rc != RD_EINVAL || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, message\n  %s\nlacks\n  %s", i, rc, err.msg, cases[i].msg);
    }
    /* not JSON at all: the parser's line and column */
    rd_plan *p;
    rd_err err;
    assert_int_equal(rd_plan_parse("{\"name\":", 8, &p, &err), RD_EPARSE);
    assert_non_null(strstr(err.msg, "line 1"));
    /* a file: the path leads the message */
    assert_int_equal(rd_plan_load("/nonexistent/plan.json", &p, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/plan.json"));
}

/* What is allowed around the refusals: score_psi relative to the control, a fail omitted,
 * a gap between pass and fail, equal weights from stage to stage. */
static void test_accepted(void **state)
{
    (void)state;
    const char *text = plan_text(
        "\"gates\":[{\"metric\":\"score_psi\",\"compare\":\"ratio\",\"pass\":{\"<\":2}},"
        "{\"metric\":\"score_ks\",\"compare\":\"difference\",\"pass\":{\"<\":0.05},\"fail\":{\">=\":0.1},"
        "\"window\":\"sliding\",\"failure_limit\":2,\"min_samples\":50}]",
        ST("a", 100, "") "," ST("b", 100, ",\"min_samples\":10"));
    rd_plan *p;
    rd_err err = {0};
    if (rd_plan_parse(text, strlen(text), &p, &err) != RD_OK)
        fail_msg("%s", err.msg);
    const rd_gate *g = &p->stages[1].gates[0];
    assert_int_equal(g->metric, RD_M_SCORE_PSI);
    assert_int_equal(g->compare, RD_CMP_RATIO);
    assert_true(g->has_pass);
    assert_false(g->has_fail);
    assert_int_equal(g->min_samples, 10); /* the stage's */
    g = &p->stages[1].gates[1];
    assert_true(g->sliding);
    assert_int_equal(g->failure_limit, 2);
    assert_int_equal(g->min_samples, 50); /* its own */
    assert_false(p->shadow_flag[0]);
    rd_plan_free(p);
}

/* ---------------------------------------------------------------- against a flag set */

static rd_flagset *flags_with(const char *route_targeting, const char *shadow_variants)
{
    static char buf[4096];
    snprintf(
        buf, sizeof buf,
        "{\"$evaluators\":{\"internal_staff\":{\"in\":[{\"var\":\"segment\"},[\"staff\"]]}},\"flags\":{"
        "\"credit-model-route\":{\"state\":\"ENABLED\",\"variants\":{\"champion\":\"credit_xgb_v1.0\","
        "\"challenger\":\"credit_xgb_v1.1\"},\"defaultVariant\":\"champion\"%s%s},"
        "\"credit-model-shadow\":{\"state\":\"ENABLED\",\"variants\":%s,\"defaultVariant\":\"challenger\"}}}",
        route_targeting ? ",\"targeting\":" : "", route_targeting ? route_targeting : "", shadow_variants);
    rd_flagset *fs;
    rd_err err = {0};
    if (rd_flagset_parse(buf, strlen(buf), NULL, &fs, &err) != RD_OK)
        fail_msg("%s\n%s", err.msg, buf);
    return fs;
}

#define SHADOW_OK "{\"challenger\":{\"bundles\":[\"credit_xgb_v1.1\"]},\"none\":{\"bundles\":[]}}"

static void check_plan(const rd_plan *p, rd_flagset *fs, const char *const *bundles, size_t n, bool reshuffle,
                       const char *msg)
{
    rd_err err = {0};
    int rc = rd_plan_check(p, fs, bundles, n, reshuffle, &err);
    if (!msg && rc != RD_OK)
        fail_msg("refused: %s", err.msg);
    if (msg && (rc != RD_EINVAL || !strstr(err.msg, msg)))
        fail_msg("rc %d, message\n  %s\nlacks\n  %s", rc, err.msg, msg);
    rd_flagset_unref(fs);
}

static void test_check(void **state)
{
    (void)state;
    rd_plan *p = load_example("credit-canary.json");
    const char *loaded[] = {"credit_xgb_v1.0", "credit_xgb_v1.1"};
    const char *frac = "{\"fractional\":[[\"challenger\",10000],[\"champion\",90000]]}";
    const char *iff =
        "{\"if\":[{\"$ref\":\"internal_staff\"},\"challenger\",{\"fractional\":[[\"challenger\","
        "10000],[\"champion\",90000]]}]}";
    check_plan(p, flags_with(frac, SHADOW_OK), loaded, 2, false, NULL);
    check_plan(p, flags_with(iff, SHADOW_OK), loaded, 2, false, NULL);
    check_plan(p, flags_with(NULL, SHADOW_OK), loaded, 2, false, NULL); /* no buckets yet */
    check_plan(p, NULL, loaded, 2, false, NULL);
    check_plan(p, flags_with(frac, SHADOW_OK), NULL, 0, false, NULL);
    /* the 90/10 list: champion first, out of 100 */
    const char *old = "{\"fractional\":[[\"champion\",90],[\"challenger\",10]]}";
    check_plan(
        p, flags_with(old, SHADOW_OK), NULL, 0, false,
        "route_flag: the fractional of \"credit-model-route\" lists \"champion\" first and totals 100: a "
        "stage change would move applicants between models; rewrite it candidate-first out of 100000 "
        "([[\"challenger\", 10000], [\"champion\", 90000]]), or pass --reshuffle");
    check_plan(p, flags_with(old, SHADOW_OK), NULL, 0, true, NULL);
    check_plan(p, flags_with("{\"fractional\":[[\"champion\",90000],[\"challenger\",10000]]}", SHADOW_OK),
               NULL, 0, false, "lists \"champion\" first: a stage change would move");
    check_plan(
        p, flags_with("{\"fractional\":[[\"challenger\",1],[\"champion\",9]]}", SHADOW_OK), NULL, 0, false,
        "totals 10: a stage change would move applicants between models; rewrite it candidate-first out "
        "of 100000 ([[\"challenger\", 10000], [\"champion\", 90000]])");
    check_plan(
        p,
        flags_with("{\"fractional\":[{\"var\":\"email\"},[\"challenger\",10000],[\"champion\",90000]]}",
                   SHADOW_OK),
        NULL, 0, false, "buckets by its own key");
    check_plan(p, flags_with("{\"if\":[{\"$ref\":\"internal_staff\"},\"challenger\",null]}", SHADOW_OK), NULL,
               0, false, "route_flag: the targeting of \"credit-model-route\" is not a fractional split");
    /* the variants */
    rd_plan *q = load_example("credit-canary.json");
    strcpy(q->route_flag, "credit-model-rout");
    check_plan(q, flags_with(frac, SHADOW_OK), NULL, 0, false,
               "route_flag: \"credit-model-rout\" is not a flag of the flag set (did you mean "
               "\"credit-model-route\"?)");
    strcpy(q->route_flag, "credit-model-route");
    strcpy(q->control_variant, "champ");
    check_plan(
        q, flags_with(frac, SHADOW_OK), NULL, 0, false,
        "control.variant: the routing flag \"credit-model-route\" has no variant \"champ\" (its variants: "
        "\"champion\", \"challenger\")");
    strcpy(q->control_variant, "champion");
    strcpy(q->candidate, "credit_xgb_v1.2");
    check_plan(q, flags_with(frac, SHADOW_OK), NULL, 0, false,
               "candidate.bundle: the routing flag's variant \"challenger\" names \"credit_xgb_v1.1\", not "
               "\"credit_xgb_v1.2\"");
    rd_plan_free(q);
    /* the shadow flag */
    check_plan(
        p, flags_with(frac, "{\"challenger\":{\"bundles\":[\"credit_xgb_v1.1\"]},\"off\":{\"bundles\":[]}}"),
        NULL, 0, false, "shadow.off: the shadow flag \"credit-model-shadow\" has no variant \"none\"");
    check_plan(
        p, flags_with(frac, "{\"challenger\":{\"bundles\":[\"credit_xgb_v1.0\"]},\"none\":{\"bundles\":[]}}"),
        NULL, 0, false,
        "shadow.on: the shadow flag's variant \"challenger\" does not list the candidate "
        "\"credit_xgb_v1.1\"");
    /* the bundles */
    check_plan(p, NULL, loaded, 1, false,
               "candidate.bundle: \"credit_xgb_v1.1\" is not loaded (the bundles: \"credit_xgb_v1.0\")");
    check_plan(p, NULL, loaded, 0, false,
               "control.bundle: \"credit_xgb_v1.0\" is not loaded (no bundle is loaded)");
    rd_plan_free(p);
}

/* ---------------------------------------------------------------- reachability */

typedef struct warnings {
    size_t n;
    char msg[8][512];
} warnings;

static void collect(void *ud, const char *msg)
{
    warnings *w = ud;
    if (w->n < 8)
        snprintf(w->msg[w->n], sizeof w->msg[0], "%s", msg);
    w->n++;
}

static void test_reachability(void **state)
{
    (void)state;
    rd_plan *p = load_example("credit-drill.json");
    warnings w = {0};
    assert_int_equal(rd_plan_reachability(p, 50, collect, &w), 0); /* a drill at 50 rps reaches every stage */
    assert_int_equal(rd_plan_reachability(p, 10, collect, &w), 4);
    assert_string_equal(w.msg[0],
                        "stage \"shadow\": at 10 rps the candidate sees ~10/s (in shadow), 300 in its 30s "
                        "deadline: fewer than the 1000 rows PSI needs");
    assert_string_equal(w.msg[1],
                        "stage \"10%\": at 10 rps the candidate sees ~1/s, 60 in its 1m deadline: fewer than "
                        "min_samples 200");
    rd_plan_free(p);

    p = load_example("credit-canary.json");
    memset(&w, 0, sizeof w);
    assert_int_equal(rd_plan_reachability(p, 5, collect, &w), 1);
    assert_string_equal(w.msg[0],
                        "stage \"internal\": the candidate sees only its segment's requests, which cannot "
                        "be estimated from the request rate: check that min_samples 200 arrive within its "
                        "7d deadline");
    memset(&w, 0, sizeof w);
    rd_plan_reachability(p, 0.05, collect, &w);
    assert_string_equal(w.msg[1],
                        "stage \"0.1%\": at 0.05 rps the candidate sees ~0.18/h, 30 in its 7d deadline: "
                        "fewer than min_samples 1000 and the 1000 rows PSI needs");
    assert_int_equal(rd_plan_reachability(p, 0.05, NULL, NULL), w.n); /* no callback: counted all the same */
    rd_plan_free(p);
}

/* ---------------------------------------------------------------- plan segments (fair lending) */

/* The three age bands of docs/plans/guardrails.md §2.1, the oldest the reference. */
#define SEGS                                                                                                 \
    "\"segments\":[{\"name\":\"age_18_24\",\"rule\":{\"<\":[{\"var\":\"features.Age\"},25]}},"               \
    "{\"name\":\"age_25_34\",\"rule\":{\"and\":[{\">=\":[{\"var\":\"features.Age\"},25]},"                   \
    "{\"<\":[{\"var\":\"features.Age\"},35]}]}},"                                                            \
    "{\"name\":\"age_35_plus\",\"rule\":{\">=\":[{\"var\":\"features.Age\"},35]},\"reference\":true}]"
/* The gates of §2.1. */
#define SEG_GATES                                                                                            \
    "\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"pass\":{\">=\":0.8},"       \
    "\"fail\":{\"<\":0.8}},"                                                                                 \
    "{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"compare\":\"difference\","             \
    "\"pass\":{\">=\":-0.05},\"fail\":{\"<\":-0.1}},"                                                        \
    "{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"compare\":\"difference\","             \
    "\"pass\":{\">=\":-0.05},\"fail\":{\"<\":-0.1},\"alpha\":0.05}]"

static rd_plan *parse_ok(const char *text)
{
    rd_plan *p = NULL;
    rd_err err = {0};
    if (rd_plan_parse(text, strlen(text), &p, &err) != RD_OK)
        fail_msg("%s\n%s", err.msg, text);
    return p;
}

static void test_segments(void **state)
{
    (void)state;
    rd_plan *p =
        parse_ok(plan_text(SEGS "," SEG_GATES, ST("10%", 10000, ",\"hold\":\"15s\",\"min_samples\":200")));
    assert_int_equal(p->nsegments, 3);
    assert_string_equal(p->segments[0].name, "age_18_24");
    assert_string_equal(p->segments[1].name, "age_25_34");
    assert_string_equal(p->segments[2].name, "age_35_plus");
    /* compact JSON, as Python's json.dumps(rule, separators=(",", ":")) writes it */
    assert_string_equal(p->segments[0].rule, "{\"<\":[{\"var\":\"features.Age\"},25]}");
    assert_string_equal(
        p->segments[1].rule,
        "{\"and\":[{\">=\":[{\"var\":\"features.Age\"},25]},{\"<\":[{\"var\":\"features.Age\"},35]}]}");
    assert_string_equal(p->segments[2].rule, "{\">=\":[{\"var\":\"features.Age\"},35]}");
    assert_false(p->segments[0].reference || p->segments[1].reference);
    assert_true(p->segments[2].reference);
    assert_int_equal(p->reference, 2);

    const rd_stage *s = &p->stages[0];
    assert_int_equal(s->ngates, 3);
    const rd_gate *air = &s->gates[0], *aird = &s->gates[1], *sar = &s->gates[2];
    assert_int_equal(air->metric, RD_M_ADVERSE_IMPACT_RATIO);
    assert_string_equal(rd_gate_metric_name(RD_M_ADVERSE_IMPACT_RATIO), "adverse_impact_ratio");
    assert_int_equal(air->compare, RD_CMP_ABSOLUTE);
    assert_string_equal(air->segment, "age_18_24");
    assert_string_equal(air->reference, "age_35_plus"); /* the plan's reference */
    assert_int_equal(air->seg, 0);
    assert_int_equal(air->ref, 2);
    assert_false(air->interval);
    assert_true(air->has_pass && air->has_fail);
    assert_int_equal(air->pass_op, RD_OP_GE);
    assert_true(air->pass == 0.8);
    assert_int_equal(air->fail_op, RD_OP_LT);
    assert_true(air->fail == 0.8);
    assert_int_equal(air->min_samples, RD_SEGMENT_MIN_DEFAULT); /* per group and arm, not the stage's 200 */
    assert_int_equal(RD_SEGMENT_MIN_DEFAULT, 100);

    assert_int_equal(aird->metric, RD_M_ADVERSE_IMPACT_RATIO);
    assert_int_equal(aird->compare, RD_CMP_DIFFERENCE);
    assert_true(aird->pass == -0.05 && aird->fail == -0.1);
    assert_int_equal(aird->seg, 0);
    assert_int_equal(aird->ref, 2);
    assert_false(aird->interval); /* only segment_approve_rate has an interval */

    assert_int_equal(sar->metric, RD_M_SEGMENT_APPROVE_RATE);
    assert_string_equal(rd_gate_metric_name(RD_M_SEGMENT_APPROVE_RATE), "segment_approve_rate");
    assert_int_equal(sar->compare, RD_CMP_DIFFERENCE);
    assert_string_equal(sar->segment, "age_18_24");
    assert_string_equal(sar->reference, "");
    assert_int_equal(sar->seg, 0);
    assert_int_equal(sar->ref, -1);
    assert_true(sar->interval); /* the default with compare difference */
    assert_true(sar->alpha == 0.05);
    assert_int_equal(sar->min_samples, 100);
    rd_plan_free(p);

    /* the explicit keys: a reference by name, judge value, alpha 0.5, min_samples, ratio; a
       second gate of the same metric on another segment is no duplicate */
    p = parse_ok(plan_text(
        SEGS ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"reference\":"
             "\"age_25_34\",\"compare\":\"ratio\",\"pass\":{\">=\":0.9},\"min_samples\":30},"
             "{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_25_34\",\"pass\":{\">=\":0.8}},"
             "{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"pass\":{\">=\":0.8}},"
             "{\"metric\":\"segment_approve_rate\",\"segment\":\"age_25_34\",\"compare\":\"difference\","
             "\"judge\":\"value\",\"pass\":{\">\":-0.1}},"
             "{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"compare\":\"difference\","
             "\"judge\":\"interval\",\"alpha\":0.5,\"pass\":{\">\":-0.1},\"fail\":{\"<=\":-0.2}},"
             "{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"pass\":{\">\":0.3}},"
             "{\"metric\":\"reject_rate\",\"pass\":{\"<\":0.5}}]",
        ST("a", 100, "")));
    s = &p->stages[0];
    assert_int_equal(s->ngates, 7);
    assert_string_equal(s->gates[0].reference, "age_25_34");
    assert_int_equal(s->gates[0].ref, 1);
    assert_int_equal(s->gates[0].compare, RD_CMP_RATIO);
    assert_int_equal(s->gates[0].min_samples, 30);
    assert_int_equal(s->gates[1].seg, 1);
    assert_int_equal(s->gates[1].ref, 2);
    assert_false(s->gates[3].interval);
    assert_true(s->gates[4].interval);
    assert_true(s->gates[4].alpha == 0.5);
    assert_false(s->gates[5].interval); /* absolute: judged on the value */
    assert_int_equal(s->gates[5].compare, RD_CMP_ABSOLUTE);
    assert_true(s->gates[5].alpha == 0.05);
    assert_int_equal(s->gates[6].seg, -1); /* not a segment gate */
    assert_int_equal(s->gates[6].ref, -1);
    assert_string_equal(s->gates[6].segment, "");
    rd_plan_free(p);

    /* no segments: no reference, every gate's indexes -1 */
    p = parse_ok(plan_text("\"gates\":[{\"metric\":\"error_rate\",\"pass\":{\"<\":0.1}}]",
                           ST("a", 0, ",\"gates\":[{\"metric\":\"srm\"}]")));
    assert_int_equal(p->nsegments, 0);
    assert_int_equal(p->reference, -1);
    for (size_t i = 0; i < p->stages[0].ngates; i++) {
        assert_int_equal(p->stages[0].gates[i].seg, -1);
        assert_int_equal(p->stages[0].gates[i].ref, -1);
        assert_false(p->stages[0].gates[i].interval);
    }
    rd_plan_free(p);

    /* segments without a reference are fine as long as no ratio needs one */
    p = parse_ok(plan_text("\"segments\":[{\"name\":\"A.b-9_\",\"rule\":{\"==\":[1,1]},\"reference\":false}]",
                           ST("a", 0, "")));
    assert_int_equal(p->reference, -1);
    assert_false(p->segments[0].reference);
    rd_plan_free(p);
}

/* A plan gate of a segment metric reaches the stages whose candidate arm is a randomised sample
 * (weight > 0, no routing segment) and that list no gate of the same metric and segment. */
static void test_segment_inheritance(void **state)
{
    (void)state;
    rd_plan *p = parse_ok(plan_text(
        SEGS ",\"gates\":[{\"metric\":\"reject_rate\",\"compare\":\"ratio\",\"pass\":{\"<\":1.2}},"
             "{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"pass\":{\">=\":0.8}},"
             "{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"compare\":\"difference\","
             "\"pass\":{\">=\":-0.05},\"fail\":{\"<\":-0.1}}]",
        ST("zero", 0, ",\"min_samples\":200") "," ST("staff", 0, ",\"segment\":{\"$ref\":\"staff\"}") "," ST(
            "10%", 10000,
            ",\"min_samples\":200") "," ST("10%+staff", 10000,
                                           ",\"segment\":{\"$ref\":\"staff\"}") "," ST("50%", 50000,
                                                                                       ",\"gates\":[{"
                                                                                       "\"metric\":\"segment_"
                                                                                       "approve_rate\","
                                                                                       "\"segment\":\"age_18_"
                                                                                       "24\",\"pass\":{\">="
                                                                                       "\":0.3},"
                                                                                       "\"min_samples\":500}"
                                                                                       "]") "," ST("100%",
                                                                                                   100000,
                                                                                                   ",\"gates"
                                                                                                   "\":[{"
                                                                                                   "\"metric"
                                                                                                   "\":"
                                                                                                   "\"segment"
                                                                                                   "_approve_"
                                                                                                   "rate\","
                                                                                                   "\"segment"
                                                                                                   "\":"
                                                                                                   "\"age_25_"
                                                                                                   "34\","
                                                                                                   "\"compare"
                                                                                                   "\":"
                                                                                                   "\"ratio\""
                                                                                                   ",\"pass\""
                                                                                                   ":{\">=\":"
                                                                                                   "0.9}}"
                                                                                                   "]")));
    static const size_t ngates[] = {1, 1, 3, 1, 3, 4};
    for (size_t i = 0; i < p->nstages; i++) {
        if (p->stages[i].ngates != ngates[i])
            fail_msg("stage %s: %zu gates, not %zu", p->stages[i].name, p->stages[i].ngates, ngates[i]);
        assert_int_equal(p->stages[i].gates[0].metric,
                         i == 4 || i == 5 ? RD_M_SEGMENT_APPROVE_RATE : RD_M_REJECT_RATE);
    }
    /* 10%: the plan's, in its order; the segment gates keep their own minimum, not the stage's 200 */
    const rd_stage *s = &p->stages[2];
    assert_int_equal(s->gates[0].min_samples, 200);
    assert_int_equal(s->gates[1].metric, RD_M_ADVERSE_IMPACT_RATIO);
    assert_int_equal(s->gates[1].min_samples, 100);
    assert_int_equal(s->gates[2].metric, RD_M_SEGMENT_APPROVE_RATE);
    assert_int_equal(s->gates[2].min_samples, 100);
    /* 50%: its own segment_approve_rate on age_18_24 replaces the plan's */
    s = &p->stages[4];
    assert_int_equal(s->gates[0].compare, RD_CMP_ABSOLUTE);
    assert_int_equal(s->gates[0].min_samples, 500);
    assert_false(s->gates[0].interval);
    assert_int_equal(s->gates[1].metric, RD_M_REJECT_RATE);
    assert_int_equal(s->gates[2].metric, RD_M_ADVERSE_IMPACT_RATIO);
    /* 100%: its own is on another segment, so the plan's on age_18_24 still applies */
    s = &p->stages[5];
    assert_int_equal(s->gates[0].seg, 1);
    assert_int_equal(s->gates[3].metric, RD_M_SEGMENT_APPROVE_RATE);
    assert_int_equal(s->gates[3].seg, 0);
    assert_true(s->gates[3].interval);
    /* no reachability estimate from a segment gate's per-group minimum */
    warnings w = {0};
    rd_plan_free(p);
    p = parse_ok(plan_text(SEGS "," SEG_GATES, ST("a", 10, "")));
    assert_int_equal(rd_plan_reachability(p, 0.001, collect, &w), 0);
    rd_plan_free(p);
}

static void test_segment_refusals(void **state)
{
    (void)state;
    static const refusal cases[] = {
        /* the segments */
        {"\"segments\":{\"name\":\"a\"}", ST("a", 0, ""), "segments: must be an array of"},
        {"\"segments\":[{\"name\":\"age 18\",\"rule\":{\"==\":[1,1]}}]", ST("a", 0, ""),
         "segments[0].name: \"age 18\" has a character outside A-Z a-z 0-9 _ . -"},
        {"\"segments\":[{\"name\":\"\",\"rule\":{\"==\":[1,1]}}]", ST("a", 0, ""),
         "segments[0].name: must not be empty"},
        {"\"segments\":[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
         "\"rule\":{"
         "\"==\":[1,1]}}]",
         ST("a", 0, ""), "segments[0].name: longer than 63 bytes"},
        {"\"segments\":[{\"rule\":{\"==\":[1,1]}}]", ST("a", 0, ""), "segments[0].name: missing"},
        {"\"segments\":[{\"name\":\"a\",\"rule\":{\"==\":[1,1]}},{\"name\":\"a\",\"rule\":{\"==\":[1,1]}}]",
         ST("a", 0, ""), "segments[1] (\"a\").name: segments[0] has the same name"},
        {"\"segments\":[{\"name\":\"a\",\"rule\":{\"==\":[1,1]},\"reference\":true},{\"name\":\"b\",\"rule\":"
         "{"
         "\"==\":[1,1]},\"reference\":true}]",
         ST("a", 0, ""),
         "segments[1] (\"b\").reference: segments[0] (\"a\") is already the reference (at most one)"},
        {"\"segments\":[{\"name\":\"a\",\"rule\":{\"==\":[1,1]},\"reference\":1}]", ST("a", 0, ""),
         "segments[0] (\"a\").reference: must be true or false"},
        {"\"segments\":[{\"name\":\"a\"}]", ST("a", 0, ""), "segments[0] (\"a\").rule: missing"},
        {"\"segments\":[{\"name\":\"a\",\"rule\":[1]}]", ST("a", 0, ""),
         "segments[0] (\"a\").rule: must be a JSONLogic object, not array"},
        {"\"segments\":[{\"name\":\"a\",\"rule\":{}}]", ST("a", 0, ""),
         "segments[0] (\"a\").rule: must be a JSONLogic object, not an empty object"},
        {"\"segments\":[{\"name\":\"a\",\"rul\":{\"==\":[1,1]}}]", ST("a", 0, ""),
         "segments[0] (\"a\").rul: not a key of a segment (did you mean \"rule\"?)"},
        /* an unknown operator, with its path inside the rule */
        {"\"segments\":[{\"name\":\"a\",\"rule\":{\"betwen\":[1,2]}}]", ST("a", 0, ""),
         "segments[0] (\"a\").rule: $: unknown operator \"betwen\""},
        {"\"segments\":[{\"name\":\"a\",\"rule\":{\"and\":[true,{\"betwen\":[1,2]}]}}]", ST("a", 0, ""),
         "segments[0] (\"a\").rule: $.and[1]: unknown operator \"betwen\""},
        /* the gate keys */
        {SEGS, ST("a", 10, ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"pass\":{\">=\":0.8}}]"),
         "stages[0] (\"a\").gates[0].segment: missing (adverse_impact_ratio judges one of the plan's"},
        {SEGS, ST("a", 10, ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"pass\":{\">=\":0.8}}]"),
         "gates[0].segment: missing (segment_approve_rate judges"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"approve_rate\",\"segment\":\"age_18_24\",\"pass\":{\">=\":0.8}}]"),
         "gates[0].segment: only adverse_impact_ratio and segment_approve_rate judge a segment"},
        {SEGS, ST("a", 10, ",\"gates\":[{\"metric\":\"srm\",\"reference\":\"age_18_24\"}]"),
         "gates[0].reference: only adverse_impact_ratio and segment_approve_rate judge a segment"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"reference\":"
            "\"age_35_plus\",\"pass\":{\">=\":0.8}}]"),
         "gates[0].reference: only adverse_impact_ratio divides by a reference segment"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"judge\":"
            "\"value\",\"pass\":{\">=\":0.8}}]"),
         "gates[0].judge: only segment_approve_rate is judged on an interval"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_2\",\"pass\":{\">=\":0.8}}"
            "]"),
         "gates[0].segment: \"age_18_2\" is not a segment of the plan (did you mean \"age_18_24\"?)"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"women\",\"pass\":{\">=\":0.8}}]"),
         "gates[0].segment: \"women\" is not a segment of the plan (its segments: age_18_24, age_25_34, "
         "age_35_plus)"},
        {"",
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"x\",\"pass\":{\">=\":0.8}}]"),
         "gates[0].segment: \"x\" is not a segment of the plan (it declares none: add \"segments\")"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"reference\":"
            "\"old\","
            "\"pass\":{\">=\":0.8}}]"),
         "gates[0].reference: \"old\" is not a segment of the plan"},
        {"\"segments\":[{\"name\":\"a\",\"rule\":{\"==\":[1,1]}},{\"name\":\"b\",\"rule\":{\"==\":[1,1]}}]",
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"a\",\"pass\":{\">=\":0.8}}]"),
         "stages[0] (\"a\").gates[0].reference: adverse_impact_ratio needs a reference segment: mark one "
         "\"reference\": true or give \"reference\""},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_35_plus\",\"pass\":{\">=\":0."
            "8}}]"),
         "gates[0].segment: \"age_35_plus\" is also the reference"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"reference\":"
            "\"age_18_24\",\"pass\":{\">=\":0.8}}]"),
         "gates[0].segment: \"age_18_24\" is also the reference"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"judge\":\"ci\","
            "\"pass\":{\">=\":0.8}}]"),
         "gates[0].judge: \"ci\" is not a judgement (value or interval)"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"judge\":"
            "\"interval\",\"pass\":{\">=\":0.8},\"fail\":{\"<\":0.5}}]"),
         "gates[0].judge: the interval is of the difference with the control"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"compare\":"
            "\"difference\",\"pass\":{\">=\":-0.05}}]"),
         "stages[0] (\"a\").gates[0].fail: missing (judged on an interval, a gate needs fail"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"alpha\":0.05,"
            "\"pass\":{\">=\":0.8}}]"),
         "gates[0].alpha: only srm, bad_rate and segment_approve_rate take a significance level"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"alpha\":0.6,"
            "\"pass\":{\">=\":0.8}}]"),
         "gates[0].alpha: must be a number between 0 and 0.5"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"alpha\":0,"
            "\"pass\":{\">=\":0.8}}]"),
         "gates[0].alpha: must be a number between 0 and 0.5"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"min_samples\":0,"
            "\"pass\":{\">=\":0.8}}]"),
         "gates[0].min_samples: must be at least 1 (applicants per group and arm; default 100)"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_18_24\",\"pass\":{\">=\":80}}"
            "]"),
         "gates[0].pass: 80 is outside 0..1: segment_approve_rate is a share"},
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"pass\":{\">=\":-1}}"
            "]"),
         "gates[0].pass: -1: adverse_impact_ratio is never negative"},
        /* duplicates: the same metric, comparison, segment and reference */
        {SEGS,
         ST("a", 10,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"pass\":{\">=\":0.8}"
            "},"
            "{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"reference\":\"age_35_plus\","
            "\"pass\":{\">=\":0.7}}]"),
         "stages[0] (\"a\").gates[1].metric: a second adverse_impact_ratio gate of the same comparison on "
         "segment \"age_18_24\" (stages[0] (\"a\").gates[0])"},
        {SEGS
         ",\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":\"age_25_34\",\"pass\":{\">=\":0.3}},"
         "{\"metric\":\"segment_approve_rate\",\"segment\":\"age_25_34\",\"pass\":{\">=\":0.4}}]",
         ST("a", 10, ""),
         "gates[1].metric: a second segment_approve_rate gate of the same comparison on segment"},
        /* not in a stage whose candidate arm is no randomised sample */
        {SEGS,
         ST("a", 0,
            ",\"gates\":[{\"metric\":\"adverse_impact_ratio\",\"segment\":\"age_18_24\",\"pass\":{\">=\":0.8}"
            "}]"),
         "stages[0] (\"a\").gates[0].metric: adverse_impact_ratio cannot judge a stage where the candidate "
         "approves nothing"},
        {SEGS,
         ST("a", 500,
            ",\"segment\":{\"$ref\":\"staff\"},\"gates\":[{\"metric\":\"segment_approve_rate\",\"segment\":"
            "\"age_18_24\",\"pass\":{\">=\":0.3}}]"),
         "stages[0] (\"a\").gates[0].metric: segment_approve_rate cannot judge a stage with a segment"},
        /* the list of metrics names the new ones */
        {"\"gates\":[{\"metric\":\"happiness\",\"pass\":{\"<\":1}}]", ST("a", 0, ""),
         "srm, bad_rate, adverse_impact_ratio, segment_approve_rate)"},
        {"", ST("a", 10, ",\"gates\":[{\"metric\":\"adverse_impact_rato\",\"pass\":{\"<\":1}}]"),
         "\"adverse_impact_rato\" is not a metric (did you mean \"adverse_impact_ratio\"?)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *text = plan_text(cases[i].extra, cases[i].stages);
        rd_plan *p = NULL;
        rd_err err = {0};
        int rc = rd_plan_parse(text, strlen(text), &p, &err);
        if (rc == RD_OK) {
            rd_plan_free(p);
            fail_msg("case %zu accepted: %s", i, text);
        }
        if (rc != RD_EINVAL || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, message\n  %s\nlacks\n  %s", i, rc, err.msg, cases[i].msg);
    }
    /* at most RD_PLAN_MAX_SEGMENTS */
    char extra[4096] = "\"segments\":[";
    for (int i = 0; i <= RD_PLAN_MAX_SEGMENTS; i++)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                 "%s{\"name\":\"s%d\",\"rule\":{\"==\":[1,1]}}", i ? "," : "", i);
    strcat(extra, "]");
    rd_plan *p = NULL;
    rd_err err = {0};
    const char *text = plan_text(extra, ST("a", 0, ""));
    assert_int_equal(rd_plan_parse(text, strlen(text), &p, &err), RD_EINVAL);
    assert_string_equal(err.msg, "segments: 17 segments, more than 16");
    /* sixteen are fine */
    strcpy(strstr(extra, ",{\"name\":\"s16\""), "]");
    p = parse_ok(plan_text(extra, ST("a", 0, "")));
    assert_int_equal(p->nsegments, RD_PLAN_MAX_SEGMENTS);
    rd_plan_free(p);
}

/* ---------------------------------------------------------------- exposure caps (§2.1) */

/* Caps in the first stages of a three-stage plan (the last never has one). */
#define CAP_STAGES(a, b)                                                                                     \
    ST("shadow", 0, "") "," ST("5%", 5000, a) "," ST("20%", 20000, b) "," ST("100%", 100000, "")

static void test_exposure_caps(void **state)
{
    (void)state;
    /* the §2.1 example: units worked out by hand (150000 / 0.01 = 15,000,000 cents) */
    rd_plan *p =
        parse_ok(plan_text("\"exposure\":{\"amount_field\":\"features.Amount\",\"unit\":0.01,\"slice\":0.1}",
                           CAP_STAGES(",\"max_approved_amount\":150000,\"max_approved_count\":2500",
                                      ",\"max_approved_amount\":0.07")));
    assert_true(p->exposure.on);
    assert_string_equal(p->exposure.amount_field, "features.Amount");
    assert_true(p->exposure.unit == 0.01 && p->exposure.slice == 0.1);
    assert_false(p->stages[0].caps.has_amount || p->stages[0].caps.has_count);
    const rd_stage_caps *c = &p->stages[1].caps;
    assert_true(c->has_amount && c->has_count);
    assert_true(c->max_amount == 150000);
    assert_int_equal(c->max_amount_units, 15000000);
    assert_int_equal(c->max_count, 2500);
    c = &p->stages[2].caps;
    assert_true(c->has_amount && !c->has_count);
    assert_int_equal(c->max_amount_units, 7); /* 0.07 / 0.01 = 7.000000000000001 in doubles: still 7 */
    assert_int_equal(c->max_count, 0);
    assert_false(p->stages[3].caps.has_amount || p->stages[3].caps.has_count);
    rd_plan_free(p);

    /* other units: exact decimals stay exact, the rest rounds down (Python: q = m / u; r = round(q);
     * r if abs(q - r) <= 1e-9 * r else floor(q)) */
    static const struct {
        const char *unit, *max;
        int64_t units;
    } conv[] = {{"0.01", "0.29", 29},     /* 28.999999999999996 */
                {"0.01", "10.005", 1000}, /* 1000.5000000000001: not a whole number of cents */
                {"0.5", "2000000", 4000000},
                {"1", "9007199254740992", 9007199254740992}, /* 2^53: the largest */
                {"1000000", "2500000", 2}};
    for (size_t i = 0; i < sizeof conv / sizeof *conv; i++) {
        char ex[128], st[512];
        snprintf(ex, sizeof ex, "\"exposure\":{\"amount_field\":\"context.loan.amount\",\"unit\":%s}",
                 conv[i].unit);
        snprintf(st, sizeof st,
                 "{\"name\":\"5%%\",\"candidate_weight\":5000,\"hold\":\"1h\",\"max_approved_amount\":%s},"
                 "{\"name\":\"100%%\",\"candidate_weight\":100000,\"hold\":\"1h\"}",
                 conv[i].max);
        p = parse_ok(plan_text(ex, st));
        assert_string_equal(p->exposure.amount_field, "context.loan.amount");
        assert_true(p->exposure.slice == 0.05); /* the default */
        if (p->stages[0].caps.max_amount_units != conv[i].units)
            fail_msg("%s at unit %s: %lld units, not %lld", conv[i].max, conv[i].unit,
                     (long long)p->stages[0].caps.max_amount_units, (long long)conv[i].units);
        rd_plan_free(p);
    }

    /* an exposure with only the defaults, no caps: on, unit 0.01, slice 0.05 */
    p = parse_ok(plan_text("\"exposure\":{}", CAP_STAGES("", "")));
    assert_true(p->exposure.on);
    assert_string_equal(p->exposure.amount_field, "");
    assert_true(p->exposure.unit == 0.01 && p->exposure.slice == 0.05);
    rd_plan_free(p);
    /* a count cap needs no exposure block: the defaults apply, and no amount field */
    p = parse_ok(plan_text("", CAP_STAGES(",\"max_approved_count\":1", "")));
    assert_true(p->exposure.on);
    assert_string_equal(p->exposure.amount_field, "");
    assert_true(p->exposure.unit == 0.01 && p->exposure.slice == 0.05);
    assert_true(p->stages[1].caps.has_count && !p->stages[1].caps.has_amount);
    assert_int_equal(p->stages[1].caps.max_count, 1);
    rd_plan_free(p);
    /* neither: off, nothing resolved */
    p = parse_ok(plan_text("", CAP_STAGES("", "")));
    assert_false(p->exposure.on);
    assert_true(p->exposure.unit == 0 && p->exposure.slice == 0);
    rd_plan_free(p);
    /* weight 0 with a routing segment serves the segment: a cap is fine there */
    p = parse_ok(plan_text("", ST("staff", 0, ",\"segment\":{\"==\":[1,1]},\"max_approved_count\":10") "," ST(
                                   "100%", 100000, "")));
    assert_int_equal(p->stages[0].caps.max_count, 10);
    rd_plan_free(p);
}

static void test_exposure_refusals(void **state)
{
    (void)state;
#define FA "\"exposure\":{\"amount_field\":\"features.Amount\"}"
    static const refusal cases[] = {
        /* the block */
        {"\"exposure\":1", ST("a", 0, ""), "exposure: must be an object, not number"},
        {"\"exposure\":{\"amount_feld\":\"features.A\"}", ST("a", 0, ""),
         "exposure.amount_feld: not a key of exposure (did you mean \"amount_field\"?)"},
        {"\"exposure\":{\"slise\":0.1}", ST("a", 0, ""),
         "exposure.slise: not a key of exposure (did you mean \"slice\"?)"},
        {"\"exposure\":{\"zzz\":0.1}", ST("a", 0, ""),
         "exposure.zzz: not a key of exposure (its keys: amount_field, unit, slice)"},
        {"\"exposure\":{\"amount_field\":\"Amount\"}", ST("a", 0, ""),
         "exposure.amount_field: \"Amount\" must be \"context.<path>\" or \"features.<path>\""},
        {"\"exposure\":{\"amount_field\":\"features.\"}", ST("a", 0, ""),
         "exposure.amount_field: \"features.\" must be"},
        {"\"exposure\":{\"amount_field\":\"context.a..b\"}", ST("a", 0, ""),
         "exposure.amount_field: \"context.a..b\" must be"},
        {"\"exposure\":{\"amount_field\":\"context.a.\"}", ST("a", 0, ""),
         "exposure.amount_field: \"context.a.\" must be"},
        {"\"exposure\":{\"amount_field\":\"\"}", ST("a", 0, ""), "exposure.amount_field: must not be empty"},
        {"\"exposure\":{\"amount_field\":7}", ST("a", 0, ""), "exposure.amount_field: must be a string"},
        {"\"exposure\":{\"unit\":0}", ST("a", 0, ""),
         "exposure.unit: must be a number more than 0 and at most 1e+06"},
        {"\"exposure\":{\"unit\":1000000.5}", ST("a", 0, ""), "exposure.unit: must be a number more than 0"},
        {"\"exposure\":{\"unit\":\"0.01\"}", ST("a", 0, ""), "exposure.unit: must be a number"},
        {"\"exposure\":{\"slice\":0}", ST("a", 0, ""),
         "exposure.slice: must be a number more than 0 and at most 1"},
        {"\"exposure\":{\"slice\":1.5}", ST("a", 0, ""),
         "exposure.slice: must be a number more than 0 and at most 1"},
        {"\"exposure\":{\"slice\":-0.1}", ST("a", 0, ""), "exposure.slice: must be a number more than 0"},
        /* the stage keys' values */
        {FA, CAP_STAGES(",\"max_approved_amout\":5", ""),
         "stages[1] (\"5%\").max_approved_amout: not a key of a stage (did you mean "
         "\"max_approved_amount\"?)"},
        {FA, CAP_STAGES(",\"max_approved_amount\":0", ""),
         "stages[1] (\"5%\").max_approved_amount: must be a number more than 0"},
        {FA, CAP_STAGES(",\"max_approved_amount\":-3", ""),
         "stages[1] (\"5%\").max_approved_amount: must be a number more than 0"},
        {FA, CAP_STAGES(",\"max_approved_amount\":\"100\"", ""),
         "stages[1] (\"5%\").max_approved_amount: must be a number more than 0"},
        {FA, CAP_STAGES("", ",\"max_approved_amount\":0.001"),
         "stages[2] (\"20%\").max_approved_amount: 0.001 is less than one unit of 0.01 (exposure.unit)"},
        {"\"exposure\":{\"amount_field\":\"features.Amount\",\"unit\":1}",
         CAP_STAGES(",\"max_approved_amount\":9007199254740994", ""),
         "stages[1] (\"5%\").max_approved_amount: 9007199254740994 is more than 2^53 units of 1 "
         "(exposure.unit)"},
        {FA, CAP_STAGES(",\"max_approved_amount\":1e300", ""),
         "stages[1] (\"5%\").max_approved_amount: 1.0000000000000001e+300 is more than 2^53 units of 0.01"},
        {FA, CAP_STAGES(",\"max_approved_count\":0", ""),
         "stages[1] (\"5%\").max_approved_count: 0 is not an integer from 1 to 9007199254740991"},
        {FA, CAP_STAGES(",\"max_approved_count\":2.5", ""),
         "stages[1] (\"5%\").max_approved_count: 2.5 is not an integer from 1"},
        {FA, CAP_STAGES(",\"max_approved_count\":\"5\"", ""),
         "stages[1] (\"5%\").max_approved_count: must be a number, not string"},
        /* where a cap cannot work */
        {FA, ST("shadow", 0, ",\"max_approved_count\":5") "," ST("100%", 100000, ""),
         "stages[0] (\"shadow\").max_approved_count: a shadow stage approves nothing"},
        {FA,
         ST("shadow", 0, ",\"max_approved_amount\":5,\"max_approved_count\":5") "," ST("100%", 100000, ""),
         "stages[0] (\"shadow\").max_approved_amount: a shadow stage approves nothing"},
        {FA, ST("5%", 5000, "") "," ST("100%", 100000, ",\"max_approved_count\":5"),
         "stages[1] (\"100%\").max_approved_count: not in the last stage: its entry is the promotion"},
        {FA, ST("5%", 5000, "") "," ST("10%", 10000, ",\"max_approved_amount\":5"),
         "stages[1] (\"10%\").max_approved_amount: not in the last stage"},
        {FA, ST("only", 5000, ",\"max_approved_count\":5"),
         "stages[0] (\"only\").max_approved_count: not in the last stage"},
        /* an amount cap needs the field; a count cap does not */
        {"", CAP_STAGES(",\"max_approved_amount\":150000", ""),
         "stages[1] (\"5%\").max_approved_amount: needs the plan's exposure.amount_field"},
        {"\"exposure\":{\"unit\":1}",
         CAP_STAGES("", ",\"max_approved_amount\":150000,\"max_approved_count\":3"),
         "stages[2] (\"20%\").max_approved_amount: needs the plan's exposure.amount_field"},
    };
#undef FA
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *text = plan_text(cases[i].extra, cases[i].stages);
        rd_plan *p = NULL;
        rd_err err = {0};
        int rc = rd_plan_parse(text, strlen(text), &p, &err);
        if (rc == RD_OK) {
            rd_plan_free(p);
            fail_msg("case %zu accepted: %s", i, text);
        }
        if (rc != RD_EINVAL || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, message\n  %s\nlacks\n  %s", i, rc, err.msg, cases[i].msg);
    }
}

/* ---------------------------------------------------------------- stage targeting */

static void test_stage_targeting(void **state)
{
    (void)state;
    rd_plan *p = load_example("credit-canary.json");
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_plan_stage_targeting(p, &p->stages[3], false, &b), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "{\"fractional\":[[\"challenger\",5000],[\"champion\",95000]]}");
    rd_buf_reset(&b);
    assert_int_equal(rd_plan_stage_targeting(p, &p->stages[1], false, &b), RD_OK);
    assert_string_equal(rd_buf_cstr(&b),
                        "{\"if\":[{\"$ref\":\"internal_staff\"},\"challenger\",{\"fractional\":[["
                        "\"challenger\",0],[\"champion\",100000]]}]}");
    rd_buf_reset(&b);
    assert_int_equal(rd_plan_stage_targeting(p, &p->stages[1], true, &b), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "{\"fractional\":[[\"challenger\",0],[\"champion\",100000]]}");
    rd_buf_reset(&b);
    assert_int_equal(rd_plan_stage_targeting(p, &p->stages[6], false, &b), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "{\"fractional\":[[\"challenger\",100000],[\"champion\",0]]}");
    rd_buf_deinit(&b);
    rd_plan_free(p);
}

/* Monotone widening (§2.1): each stage's targeting, written into the example flag file and
 * evaluated for 20000 applicants, keeps everyone the candidate had in the stage before, and
 * gives it about its weight. */
static void test_widening_keeps_applicants(void **state)
{
    (void)state;
    rd_plan *p = load_example("credit-canary.json");
    char *text;
    size_t len;
    assert_int_equal(rd_file_read("examples/flags/routing.json", 0, &text, &len, NULL), RD_OK);
    enum { N = 20000 };
    static bool had[N];
    memset(had, 0, sizeof had);
    rd_arena arena;
    rd_arena_init(&arena, 0);
    for (size_t i = 2; i < p->nstages; i++) {
        rd_buf t, out;
        rd_buf_init(&t);
        rd_buf_init(&out);
        rd_err err = {0};
        assert_int_equal(rd_plan_stage_targeting(p, &p->stages[i], false, &t), RD_OK);
        if (rd_flagfile_rewrite(text, len, p->route_flag, rd_buf_cstr(&t), NULL, NULL, &out, &err) != RD_OK)
            fail_msg("%s", err.msg);
        rd_flagset *fs;
        assert_int_equal(rd_flagset_parse(out.data, out.len, NULL, &fs, &err), RD_OK);
        size_t cand = 0;
        for (int k = 0; k < N; k++) {
            char ctx_text[96];
            int n = snprintf(ctx_text, sizeof ctx_text,
                             "{\"targetingKey\":\"app-%d\",\"segment\":\"retail\"}", k);
            rd_value ctx;
            assert_int_equal(rd_json_parse(ctx_text, (size_t)n, NULL, &arena, &ctx, NULL), RD_OK);
            rd_resolution r;
            rd_flag_eval(fs, p->route_flag, strlen(p->route_flag), RD_FLAG_STRING, &ctx, 0, &arena, &r);
            bool is_cand = r.variant && !strcmp(r.variant, "challenger");
            if (had[k] && !is_cand)
                fail_msg("stage %s moved app-%d back to the control", p->stages[i].name, k);
            had[k] = is_cand;
            cand += is_cand;
            rd_arena_reset(&arena);
        }
        double share = (double)cand / N, want = (double)p->stages[i].candidate / RD_ROLLOUT_TOTAL;
        if (fabs(share - want) > 0.01 + 3 * sqrt(want * (1 - want) / N))
            fail_msg("stage %s: candidate share %g, weight %g", p->stages[i].name, share, want);
        rd_flagset_unref(fs);
        rd_buf_deinit(&t);
        rd_buf_deinit(&out);
    }
    rd_arena_deinit(&arena);
    rd_free(text);
    rd_plan_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_and_ops),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_segment_inheritance),
        cmocka_unit_test(test_segment_refusals),
        cmocka_unit_test(test_exposure_caps),
        cmocka_unit_test(test_exposure_refusals),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_reachability),
        cmocka_unit_test(test_stage_targeting),
        cmocka_unit_test(test_widening_keeps_applicants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
