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
         "gates[0].alpha: only srm and bad_rate take a significance level"},
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
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_reachability),
        cmocka_unit_test(test_stage_targeting),
        cmocka_unit_test(test_widening_keeps_applicants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
