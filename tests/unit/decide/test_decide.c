/* The decision path: fallback rules (parse, refusals, order), circuit breakers driven with a
 * test clock (window and consecutive modes, half-open trials, doubling open time), fault
 * specs, and rd_decide over two real bundles (routing, pinning, shadows, deadlines, faults,
 * fallback), plus the checks that refuse a decider as a whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/clock.h"
#include "riskd/decide.h"
#include "riskd/dlog.h"
#include "riskd/exposure.h"
#include "riskd/hash.h"
#include "riskd/json.h"
#include "riskd/rollout.h"
#include "riskd/store.h"

#include "fixture.h"

#define MS 1000000LL

/* ------------------------------------------------------------------ helpers */

static rd_value parse(rd_arena *a, const char *json)
{
    rd_value v;
    rd_err err;
    assert_int_equal(rd_json_parse(json, strlen(json), NULL, a, &v, &err), RD_OK);
    return v;
}

static int fb_parse(const char *json, rd_err *err)
{
    rd_fallback *f = NULL;
    int rc = rd_fallback_parse(json, strlen(json), &f, err);
    rd_fallback_unref(f);
    return rc;
}

static void expect_refused(const char *json, const char *msg)
{
    rd_err err;
    int rc = fb_parse(json, &err);
    assert_true(rc == RD_EINVAL || rc == RD_EPARSE); /* EPARSE: a `when` that does not compile */
    if (!strstr(err.msg, msg))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
}

/* ------------------------------------------------------------------ fallback rules */

static const char rules[] =
    "{\"version\":\"v7\",\"rules\":["
    "{\"name\":\"thin\",\"when\":{\"<\":[{\"var\":\"features.age\"},21]},\"score\":0.9,\"risk_level\":"
    "\"high\","
    "\"decision\":\"reject\",\"reason\":\"FB_THIN\"},"
    "{\"name\":\"staff\",\"when\":{\"==\":[{\"var\":\"context.segment\"},\"staff\"]},\"risk_level\":\"low\","
    "\"decision\":\"approve\",\"reason\":\"FB_STAFF\"},"
    "{\"name\":\"typed\",\"when\":{\"in\":[\"x\",{\"var\":\"features.nolist\"}]},\"risk_level\":\"low\","
    "\"decision\":\"approve\",\"reason\":\"FB_TYPED\"},"
    "{\"risk_level\":\"medium\",\"decision\":\"review\",\"reason\":\"FB_DEFAULT\"}]}";

static void test_fallback_order(void **state)
{
    (void)state;
    rd_fallback *f;
    rd_err err;
    assert_int_equal(rd_fallback_parse(rules, strlen(rules), &f, &err), RD_OK);
    assert_string_equal(rd_fallback_version(f), "v7");
    assert_int_equal(rd_fallback_count(f), 4);
    assert_int_equal(strlen(rd_fallback_sha256(f)), 64);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value young = parse(&a, "{\"age\":19}"), old = parse(&a, "{\"age\":40,\"nolist\":5}");
    rd_value staff = parse(&a, "{\"segment\":\"staff\"}");
    rd_fallback_result r;
    rd_fallback_eval(f, &young, &staff, &a, &r); /* the first rule that fires wins */
    assert_string_equal(r.name, "thin");
    assert_true(r.has_score);
    assert_true(r.score == 0.9);
    assert_string_equal(r.decision, "reject");
    rd_fallback_eval(f, &old, &staff, &a, &r);
    assert_string_equal(r.reason, "FB_STAFF");
    assert_false(r.has_score);
    rd_fallback_eval(f, &old, NULL, &a, &r); /* no context; "in" over a number: not a match */
    assert_string_equal(r.name, "rules[3]");
    assert_string_equal(r.decision, "review");
    rd_value adult = parse(&a, "{\"age\":30}");
    rd_fallback_eval(f, &adult, NULL, &a, &r); /* no list to look in: "in" is false, the default answers */
    assert_int_equal(r.rule, 3);
    /* JSONLogic's rule, documented in docs/formats.md: a missing value compares as null, and
     * null < 21 holds, so a rule on a number fires when the number is missing */
    rd_fallback_eval(f, NULL, NULL, &a, &r);
    assert_string_equal(r.name, "thin");
    rd_arena_deinit(&a);
    rd_fallback_unref(f);
}

static void test_fallback_refusals(void **state)
{
    (void)state;
    expect_refused("[]", "not a JSON object");
    expect_refused("{\"rules\":[]}", "rules: required");
    expect_refused("{\"rulez\":[]}", "unknown key \"rulez\"");
    /* no default: the last rule has a condition */
    expect_refused("{\"rules\":[{\"name\":\"a\",\"when\":true,\"risk_level\":\"h\",\"decision\":\"reject\","
                   "\"reason\":\"R\"}]}",
                   "rules[0] (\"a\"): the last rule has a \"when\"");
    /* a catch-all before the end hides the rules after it */
    expect_refused(
        "{\"rules\":[{\"name\":\"early\",\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"},"
        "{\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"}]}",
        "rules[0] (\"early\"): has no \"when\"");
    expect_refused("{\"rules\":[{\"risk_level\":\"low\",\"decision\":\"approve\",\"reason\":\"R\"}]}",
                   "the default rule approves");
    expect_refused(
        "{\"rules\":[{\"name\":\"bad\",\"when\":{\"=~\":[1,2]},\"risk_level\":\"h\",\"decision\":"
        "\"reject\",\"reason\":\"R\"},{\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"}]}",
        "rules[0] (\"bad\"): when:");
    expect_refused(
        "{\"rules\":[{\"when\":{\"<\":[{\"var\":\"age\"},21]},\"risk_level\":\"h\",\"decision\":"
        "\"reject\",\"reason\":\"R\"},{\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"}]}",
        "{\"var\": \"age\"} reads nothing");
    expect_refused(
        "{\"rules\":[{\"when\":{\"missing\":[\"bureau_score\"]},\"risk_level\":\"h\",\"decision\":"
        "\"reject\",\"reason\":\"R\"},{\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"}]}",
        "{\"missing\": \"bureau_score\"} reads nothing");
    expect_refused("{\"rules\":[{\"when\":{\"missing_some\":[1,[\"features.a\",\"b\"]]},\"risk_level\":\"h\","
                   "\"decision\":\"reject\",\"reason\":\"R\"},{\"risk_level\":\"h\",\"decision\":\"reject\","
                   "\"reason\":\"R\"}]}",
                   "{\"missing_some\": \"b\"} reads nothing");
    expect_refused(
        "{\"rules\":[{\"when\":{\"var\":5},\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":"
        "\"R\"},{\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"}]}",
        "a path of \"var\" must be a string");
    expect_refused("{\"rules\":[{\"risk_level\":\"h\",\"decision\":\"decline\",\"reason\":\"R\"}]}",
                   "\"decline\" is not approve, review or reject");
    expect_refused(
        "{\"rules\":[{\"whne\":true,\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"}]}",
        "unknown key \"whne\"");
    expect_refused("{\"rules\":[{\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"\"}]}",
                   "reason: required");
    expect_refused(
        "{\"rules\":[{\"score\":\"0.5\",\"risk_level\":\"h\",\"decision\":\"reject\",\"reason\":\"R\"}]}",
        "score: must be a number or null");
    rd_err err;
    assert_int_equal(fb_parse("{\"rules\":[", &err), RD_EPARSE);
}

/* ------------------------------------------------------------------ breakers */

static int transitions;
static void count_transition(void *ud, const char *bundle, rd_breaker_state from, rd_breaker_state to)
{
    (void)ud;
    (void)from;
    (void)to;
    assert_string_equal(bundle, "b_x_v1.0");
    transitions++;
}

static void calls(rd_breaker *b, int64_t now, int n, bool ok)
{
    for (int i = 0; i < n; i++) {
        int t = rd_breaker_allow(b, now);
        assert_int_equal(t, 1);
        rd_breaker_record(b, t, ok, now);
    }
}

static void test_breaker_window(void **state)
{
    (void)state;
    rd_breaker_opts o;
    rd_breaker_opts_default(&o);
    o.on_transition = count_transition;
    transitions = 0;
    rd_breaker *b = rd_breaker_new(&o, "b_x_v1.0");
    int64_t t = 1000 * 1000 * MS;
    calls(b, t, 9, false); /* 9 failures: below the 20-call minimum */
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_CLOSED);
    calls(b, t, 10, true);
    calls(b, t, 1, false); /* 10 of 20 failed: 50% opens it */
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    assert_int_equal(rd_breaker_allow(b, t + 4999 * MS), 0); /* open 5 s */
    /* half-open after 5 s: ten trials, the eleventh call refused */
    int64_t h = t + 5000 * MS;
    int tk = 0;
    for (int i = 0; i < 10; i++)
        assert_true((tk = rd_breaker_allow(b, h)) >= 2);
    assert_int_equal(rd_breaker_allow(b, h), 0);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_HALF_OPEN);
    for (int i = 0; i < 4; i++)
        rd_breaker_record(b, tk, false, h); /* 4 of 10 failed: can still close */
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_HALF_OPEN);
    rd_breaker_record(b, tk, false, h); /* the fifth: 50% can no longer pass, re-open */
    int stale = tk;
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    assert_int_equal(rd_breaker_allow(b, h + 9999 * MS), 0); /* re-opened for twice as long */
    h += 10000 * MS;
    for (int i = 0; i < 10; i++)
        assert_true((tk = rd_breaker_allow(b, h)) >= 2);
    assert_true(tk != stale);
    for (int i = 0; i < 10; i++)
        rd_breaker_record(b, stale, true, h); /* the last period's late trials count for nothing */
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_HALF_OPEN);
    for (int i = 0; i < 10; i++)
        rd_breaker_record(b, tk, i < 4, h); /* 6 failures: re-open, 20 s */
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    assert_int_equal(rd_breaker_allow(b, h + 19999 * MS), 0);
    h += 20000 * MS;
    for (int i = 0; i < 10; i++)
        assert_true((tk = rd_breaker_allow(b, h)) >= 2);
    for (int i = 0; i < 10; i++)
        rd_breaker_record(b, tk, i != 0, h); /* 1 of 10 failed: closes */
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_CLOSED);
    assert_int_equal(rd_breaker_transitions(b, RD_BREAKER_OPEN), 3);
    assert_int_equal(rd_breaker_transitions(b, RD_BREAKER_HALF_OPEN), 3);
    assert_int_equal(rd_breaker_transitions(b, RD_BREAKER_CLOSED), 1);
    assert_int_equal(transitions, 7);
    /* closing reset the open time and the window: 5 s again after the next opening */
    calls(b, h, 20, false);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    assert_true(rd_breaker_allow(b, h + 5000 * MS) >= 2);
    rd_breaker_free(b);
}

static void test_breaker_window_slides(void **state)
{
    (void)state;
    rd_breaker_opts o;
    rd_breaker_opts_default(&o);
    rd_breaker *b = rd_breaker_new(&o, "b_x_v1.0");
    int64_t t = 50 * 1000 * MS;
    calls(b, t, 19, false);
    /* 11 s later the old failures have left the window: one more failure is 1 of 1 */
    calls(b, t + 11000 * MS, 1, false);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_CLOSED);
    rd_breaker_free(b);
}

static void test_breaker_half_open_timeout(void **state)
{
    (void)state;
    rd_breaker_opts o;
    rd_breaker_opts_default(&o);
    o.min_calls = 1;
    rd_breaker *b = rd_breaker_new(&o, "b_x_v1.0");
    int64_t t = 9 * 1000 * MS;
    calls(b, t, 1, false);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    int tk = rd_breaker_allow(b, t + 5000 * MS); /* one trial, never finished */
    assert_true(tk >= 2);
    assert_int_equal(rd_breaker_allow(b, t + 15001 * MS), 0); /* 10 s later: re-opened */
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    /* a trial that finishes 12 s into its half-open period re-opens it too (open 10 s now) */
    assert_true((tk = rd_breaker_allow(b, t + 25002 * MS)) >= 2);
    rd_breaker_record(b, tk, true, t + 37003 * MS);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    rd_breaker_free(b);
}

static void test_breaker_consecutive(void **state)
{
    (void)state;
    rd_breaker_opts o;
    rd_breaker_opts_default(&o);
    o.mode = RD_BREAKER_CONSECUTIVE;
    rd_breaker *b = rd_breaker_new(&o, "b_x_v1.0");
    int64_t t = 7 * 1000 * MS;
    calls(b, t, 4, false);
    calls(b, t, 1, true); /* a success resets the count */
    calls(b, t, 4, false);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_CLOSED);
    calls(b, t, 1, false);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_OPEN);
    assert_int_equal(rd_breaker_allow(b, t + 59999 * MS), 0);
    int tk = rd_breaker_allow(b, t + 60000 * MS); /* one trial */
    assert_true(tk >= 2);
    assert_int_equal(rd_breaker_allow(b, t + 60000 * MS), 0);
    rd_breaker_record(b, tk, true, t + 60000 * MS);
    assert_int_equal(rd_breaker_get_state(b), RD_BREAKER_CLOSED);
    rd_breaker_free(b);
}

/* ------------------------------------------------------------------ faults */

static void test_faults(void **state)
{
    (void)state;
    rd_fault f = {0};
    rd_err err;
    assert_int_equal(rd_fault_parse("credit_xgb_v1.0:delay_ms=300", &f, &err), RD_OK);
    assert_int_equal(rd_fault_parse("credit_xgb_v1.0:error_rate=0.25,score=0.5", &f, &err), RD_OK);
    assert_string_equal(f.bundle, "credit_xgb_v1.0");
    assert_int_equal(f.delay_ms, 300);
    assert_true(f.error_rate == 0.25);
    assert_true(f.has_score && f.score == 0.5);
    char d[64];
    rd_fault_describe(&f, d, sizeof d);
    assert_string_equal(d, "delay_ms=300,error_rate=0.25,score=0.5");
    const char *bad[] = {"nobundle",       ":delay_ms=1",    "b:",          "b:delay=1", "b:delay_ms=-1",
                         "b:delay_ms=1.5", "b:error_rate=2", "b:score=nan", "b:delay_ms"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rd_fault g = {0};
        assert_int_equal(rd_fault_parse(bad[i], &g, &err), RD_EINVAL);
    }
    assert_int_equal(rd_fault_parse("other_x_v1.0:delay_ms=1", &f, &err), RD_EINVAL); /* another bundle */
    /* decline=P@FEATURE<OP>N */
    rd_fault g = {0};
    assert_int_equal(rd_fault_parse("b:score=0.05,decline=0.3@Age<25", &g, &err), RD_OK);
    assert_true(g.decline == 0.3 && g.decline_op == 0 && g.decline_at == 25);
    assert_string_equal(g.decline_feature, "Age");
    rd_fault_describe(&g, d, sizeof d);
    assert_string_equal(d, "score=0.05,decline=0.3@Age<25");
    const char *ops[] = {"b:decline=1@x<=2.5", "b:decline=0@x>1", "b:decline=0.5@x>=-3",
                         "b:decline=0.5@x==7"};
    for (size_t i = 0; i < 4; i++) {
        rd_fault h = {0};
        assert_int_equal(rd_fault_parse(ops[i], &h, &err), RD_OK);
        assert_int_equal(h.decline_op, (int)i + 1);
    }
    const char *refused[] = {"b:decline=0.3",     "b:decline=1.5@Age<25", "b:decline=0.3@<25",
                             "b:decline=0.3@Age", "b:decline=0.3@Age!25", "b:decline=0.3@Age<young"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        rd_fault h = {0};
        assert_int_equal(rd_fault_parse(refused[i], &h, &err), RD_EINVAL);
        assert_non_null(strstr(err.msg, "decline"));
    }
}

/* ------------------------------------------------------------------ rd_decide */

static rd_slot *slots[2];
static rd_flagset *flags;
static const char *fs; /* the flag set's text */

static int setup(void **state)
{
    (void)state;
    fixture_new();
    put("fb.json",
        "{\"version\":\"b1\",\"rules\":[{\"risk_level\":\"high\",\"decision\":\"review\",\"reason\":"
        "\"FB_BUNDLE\"}]}");
    rd_err err;
    assert_int_equal(
        rd_slot_new(fixture_bundle("b_lr_v1.0", "lr.json", "fb.json", 0), NULL, NULL, NULL, &slots[0], &err),
        RD_OK);
    assert_int_equal(
        rd_slot_new(fixture_bundle("b_lr_v1.1", "lr2.json", NULL, 0), NULL, NULL, NULL, &slots[1], &err),
        RD_OK);
    fs =
        "{\"flags\":{"
        "\"route\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"b_lr_v1.0\",\"b\":\"b_lr_v1.1\",\"none\":"
        "\"\"},"
        "\"defaultVariant\":\"a\",\"targeting\":{\"if\":[{\"==\":[{\"var\":\"seg\"},\"staff\"]},\"b\","
        "{\"==\":[{\"var\":\"seg\"},\"x\"]},\"none\",null]}},"
        "\"shadow\":{\"state\":\"ENABLED\",\"variants\":{\"on\":{\"bundles\":[\"b_lr_v1.1\",\"b_lr_v1.0\"]},"
        "\"off\":{\"bundles\":[]}},\"defaultVariant\":\"on\",\"targeting\":{\"if\":[{\"==\":[{\"var\":"
        "\"seg\"},\"quiet\"]},\"off\",null]}},"
        "\"bad-shadow\":{\"state\":\"ENABLED\",\"variants\":{\"on\":{\"bundle\":\"b_lr_v1.1\"}},"
        "\"defaultVariant\":\"on\"},"
        "\"ghost-shadow\":{\"state\":\"ENABLED\",\"variants\":{\"on\":{\"bundles\":[\"b_lr_v9.9\"]}},"
        "\"defaultVariant\":\"on\"},"
        "\"bad-route\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"b_lr_v9.9\"},\"defaultVariant\":\"a\"}}}";
    assert_int_equal(rd_flagset_parse(fs, strlen(fs), NULL, &flags, &err), RD_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_slot_unref(slots[0]);
    rd_slot_unref(slots[1]);
    rd_flagset_unref(flags);
    fixture_free();
    return 0;
}

static rd_decider *decider(const rd_decide_opts *o)
{
    rd_decider *d;
    rd_err err;
    if (rd_decider_new(o, flags, slots, 2, &d, &err) != RD_OK)
        fail_msg("decider: %s", err.msg);
    return d;
}

static void test_decider_refusals(void **state)
{
    (void)state;
    rd_decider *d;
    rd_err err;
    struct {
        rd_decide_opts o;
        const char *msg;
    } cases[] = {
        {{.route_flag = "bad-route"},
         "flags.bad-route.variants.a routes to \"b_lr_v9.9\", which is not a loaded"},
        {{.route_flag = "route", .shadow_flag = "bad-shadow"},
         "flags.bad-shadow.variants.on: a shadow flag's values"},
        {{.route_flag = "route", .shadow_flag = "ghost-shadow"}, "\"b_lr_v9.9\" is not a loaded bundle"},
        {{.route_flag = "route", .shadow_flag = "nope"}, "shadow_flag \"nope\" is not in the flag set"},
        {{.route_flag = "route", .default_bundle = "b_lr_v2.0"}, "default_bundle \"b_lr_v2.0\" is not among"},
        {{.route_flag = "route", .faults = &(rd_fault){.bundle = "b_lr_v3.0", .delay_ms = 1}, .nfaults = 1},
         "fault: \"b_lr_v3.0\" is not a loaded bundle"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(rd_decider_new(&cases[i].o, flags, slots, 2, &d, &err), RD_EINVAL);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg);
    }
}

static int decide(const rd_decider *d, const char *ctx_json, const char *feat_json, const char *pin,
                  rd_arena *a, rd_decision *out)
{
    rd_value ctx = parse(a, ctx_json), feat = parse(a, feat_json);
    rd_decide_req q = {.context = &ctx,
                       .features = &feat,
                       .bundle = pin,
                       .bundle_len = pin ? strlen(pin) : 0,
                       .reasons = -1};
    rd_err err;
    return rd_decide(d, &q, a, out, &err);
}

static void test_decide_routes_and_shadows(void **state)
{
    (void)state;
    rd_decider *d = decider(&(rd_decide_opts){.route_flag = "route", .shadow_flag = "shadow"});
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_decision dec;
    assert_int_equal(decide(d, "{}", "{\"age\":30,\"home\":\"own\"}", NULL, &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.0");
    assert_string_equal(dec.variant, "a");
    assert_int_equal(dec.source, RD_SOURCE_MODEL);
    /* the same answer as the bundle scored alone */
    rd_score alone;
    rd_err err;
    rd_value rec = parse(&a, "{\"age\":30,\"home\":\"own\"}");
    assert_int_equal(rd_bundle_score(rd_slot_bundle(slots[0]), &rec, 2, &alone, &err), RD_OK);
    assert_true(alone.score == dec.score.score);
    assert_int_equal(dec.score.nreasons, alone.nreasons);
    /* shadows: the listed bundles minus the primary */
    assert_int_equal(dec.nshadows, 1);
    assert_string_equal(rd_slot_name(dec.shadows[0]), "b_lr_v1.1");
    assert_non_null(dec.x);
    assert_int_equal(decide(d, "{\"seg\":\"staff\"}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.1");
    assert_int_equal(decide(d, "{\"seg\":\"quiet\"}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.nshadows, 0);
    /* pinned: no routing, no shadow */
    assert_int_equal(decide(d, "{}", "{\"age\":30}", "b_lr_v1.1", &a, &dec), RD_OK);
    assert_false(dec.routed);
    assert_int_equal(dec.nshadows, 0);
    assert_int_equal(decide(d, "{}", "{\"age\":30}", "b_lr_v7.0", &a, &dec), RD_ENOBUNDLE);
    /* a record the pipeline refuses is the caller's error, never a fallback's answer */
    assert_int_equal(decide(d, "{}", "{\"age\":\"old\"}", NULL, &a, &dec), RD_ETYPE);
    assert_int_equal(decide(d, "{}", "{\"age\":7}", NULL, &a, &dec), RD_EINVAL); /* below min */
    /* the flag gives no bundle, two are loaded, no default, no service rules: unavailable */
    assert_int_equal(decide(d, "{\"seg\":\"x\"}", "{\"age\":30}", NULL, &a, &dec), RD_EUNAVAILABLE);
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

static void test_decide_fallbacks(void **state)
{
    (void)state;
    rd_err err;
    const char *svc =
        "{\"version\":\"s1\",\"rules\":[{\"risk_level\":\"high\",\"decision\":\"reject\",\"reason\":"
        "\"FB_SERVICE\"}]}";
    rd_fallback *fb;
    assert_int_equal(rd_fallback_parse(svc, strlen(svc), &fb, &err), RD_OK);
    rd_fault faults[2] = {{.bundle = "b_lr_v1.0", .error_rate = 1}, {.bundle = "b_lr_v1.1", .delay_ms = 300}};
    rd_decider *d = decider(&(rd_decide_opts){
        .route_flag = "route", .deadline_ms = 20, .fallback = fb, .faults = faults, .nfaults = 2});
    rd_fallback_unref(fb); /* the decider holds its own reference */
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_decision dec;
    /* errors on b_lr_v1.0: its own rules answer */
    assert_int_equal(decide(d, "{}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.source, RD_SOURCE_FALLBACK);
    assert_int_equal(dec.fallback_reason, RD_FB_ERROR);
    assert_true(dec.fallback_from_bundle);
    assert_string_equal(dec.fallback.reason, "FB_BUNDLE");
    /* a 300 ms delay on b_lr_v1.1 is cut off at the 20 ms deadline; the service's rules answer */
    int64_t t0 = rd_clock_ns();
    assert_int_equal(decide(d, "{\"seg\":\"staff\"}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_true(rd_clock_ns() - t0 < 300 * MS); /* answered before the delay would have ended */
    assert_int_equal(dec.fallback_reason, RD_FB_TIMEOUT);
    assert_false(dec.fallback_from_bundle);
    assert_string_equal(dec.fallback.reason, "FB_SERVICE");
    /* no bundle picked: the service's rules, reason unavailable */
    assert_int_equal(decide(d, "{\"seg\":\"x\"}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.fallback_reason, RD_FB_UNAVAILABLE);
    assert_null(dec.slot);
    /* the decision record says where the answer came from */
    rd_buf b;
    rd_buf_init(&b);
    rd_decision_write_json(&b, &dec);
    assert_non_null(strstr(rd_buf_cstr(&b), "\"source\":\"fallback\",\"fallback_reason\":\"unavailable\""));
    rd_buf_deinit(&b);
    /* errors open b_lr_v1.0's breaker once they are half of its calls in the window (the
     * earlier tests' successes count too): then the fallback answers at once */
    for (int i = 0; i < 400 && rd_breaker_get_state(rd_slot_breaker(slots[0])) == RD_BREAKER_CLOSED; i++)
        assert_int_equal(decide(d, "{}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_int_equal(rd_breaker_get_state(rd_slot_breaker(slots[0])), RD_BREAKER_OPEN);
    assert_int_equal(decide(d, "{}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.fallback_reason, RD_FB_BREAKER_OPEN);
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

static void test_decide_fixed_score_fault(void **state)
{
    (void)state;
    rd_fault f = {.bundle = "b_lr_v1.1", .has_score = true, .score = 0.75};
    rd_decider *d = decider(&(rd_decide_opts){.route_flag = "route", .faults = &f, .nfaults = 1});
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_decision dec;
    assert_int_equal(decide(d, "{\"seg\":\"staff\"}", "{\"age\":30}", NULL, &a, &dec), RD_OK);
    assert_true(dec.score.score == 0.75);
    assert_string_equal(dec.score.decision, "reject"); /* the bands apply to the injected score */
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

/* decline=P@COND: of the requests meeting the condition, those whose id draws under P are declined
 * (the same ids on every run); the others, and the requests outside the condition, untouched. */
static void test_decide_decline_fault(void **state)
{
    (void)state;
    rd_fault f = {0};
    rd_err err;
    assert_int_equal(rd_fault_parse("b_lr_v1.1:score=0.05,decline=0.5@age<25", &f, &err), RD_OK);
    rd_decider *d = decider(&(rd_decide_opts){.route_flag = "route", .faults = &f, .nfaults = 1});
    rd_arena a;
    rd_arena_init(&a, 0);
    int young = 0, young_declined = 0, want = 0;
    for (int i = 0; i < 400; i++) {
        char id[32], feat[64];
        snprintf(id, sizeof id, "req-%d", i);
        int age = i % 2 ? 20 : 40;
        snprintf(feat, sizeof feat, "{\"age\":%d,\"home\":\"own\"}", age);
        rd_value ctx = parse(&a, "{\"seg\":\"staff\"}"), fv = parse(&a, feat),
                 rid = rd_value_string(id, (uint32_t)strlen(id));
        rd_decide_req q = {.request_id = &rid, .context = &ctx, .features = &fv, .reasons = -1};
        rd_decision dec;
        assert_int_equal(rd_decide(d, &q, &a, &dec, &err), RD_OK);
        bool declined = !strcmp(dec.score.decision, "reject");
        if (age >= 25) {
            assert_false(declined);
            assert_true(dec.score.score == 0.05);
            continue;
        }
        young++;
        young_declined += declined;
        /* the definition: murmur3 (seed 0x5eed) of the id over 2^32, under the share */
        want += (double)rd_murmur3_32(id, strlen(id), 0x5eed) / 4294967296.0 < 0.5;
        if (declined)
            assert_true(dec.score.score == 0.99 && dec.score.probability == 0.99);
    }
    assert_int_equal(young_declined, want);
    assert_true(young_declined > young / 2 - 30 && young_declined < young / 2 + 30);
    rd_decider_unref(d);
    /* refused: a condition on a name that is no numeric input of the bundle's pipeline */
    rd_fault g = {0};
    assert_int_equal(rd_fault_parse("b_lr_v1.1:decline=0.5@agee<25", &g, &err), RD_OK);
    rd_decider *bad = NULL;
    assert_int_equal(rd_decider_new(&(rd_decide_opts){.route_flag = "route", .faults = &g, .nfaults = 1},
                                    flags, slots, 2, &bad, &err),
                     RD_EINVAL);
    assert_non_null(strstr(err.msg, "agee"));
    rd_arena_deinit(&a);
}

/* ------------------------------------------------------------------ exposure caps */

/* A plan built by hand (the plan format's exposure keys are parsed elsewhere): the routing flag
 * "route", control b_lr_v1.0 (variant a), candidate b_lr_v1.1 (variant b), a first stage "5%"
 * capping approvals at max_count and the amount (context.amount) at 1000.00, then "100%". */
static rd_plan *cap_plan(int64_t max_count)
{
    rd_plan *p = calloc(1, sizeof *p);
    strcpy(p->name, "capped");
    strcpy(p->route_flag, "route");
    strcpy(p->control, "b_lr_v1.0");
    strcpy(p->candidate, "b_lr_v1.1");
    strcpy(p->control_variant, "a");
    strcpy(p->candidate_variant, "b");
    p->nstages = 2;
    strcpy(p->stages[0].name, "5%");
    p->stages[0].candidate = 5000;
    strcpy(p->stages[1].name, "100%");
    p->stages[1].candidate = 100000;
    p->exposure.on = true;
    strcpy(p->exposure.amount_field, "context.amount");
    p->exposure.unit = 0.01;
    p->exposure.slice = 0.05;
    rd_stage_caps *c = &p->stages[0].caps;
    c->has_amount = true;
    c->max_amount = 1000;
    c->max_amount_units = 100000; /* 1000 / 0.01 */
    c->has_count = true;
    c->max_count = max_count;
    memset(p->sha256, 'a', 64);
    return p;
}

/* An exposure of plan in memory, following a running rollout at its first stage (started 5000). */
static rd_exposure *cap_exposure(const rd_plan *p)
{
    rd_exposure_env env = {NULL, NULL};
    rd_exposure *x = NULL;
    rd_err err;
    assert_int_equal(rd_exposure_new(p, &env, 1000, &x, &err), RD_OK);
    rd_rollout_row r;
    memset(&r, 0, sizeof r);
    strcpy(r.flag, p->route_flag);
    r.stage = 0;
    r.state = RD_ROLLOUT_RUNNING;
    r.stage_started_ms = 5000;
    rd_exposure_follow(x, p, &r);
    return x;
}

static int cap_decide(const rd_decider *d, rd_exposure *x, const char *id, const char *ctx_json,
                      const char *pin, rd_arena *a, rd_decision *out)
{
    rd_value ctx = parse(a, ctx_json), feat = parse(a, "{\"age\":30,\"home\":\"own\"}");
    rd_value *rid = rd_arena_alloc(a, sizeof *rid);
    *rid = rd_value_string(id, (uint32_t)strlen(id));
    rd_value *c = rd_arena_alloc(a, sizeof *c), *f = rd_arena_alloc(a, sizeof *f);
    *c = ctx;
    *f = feat;
    rd_decide_req q = {.request_id = rid,
                       .context = c,
                       .features = f,
                       .bundle = pin,
                       .bundle_len = pin ? strlen(pin) : 0,
                       .reasons = 0,
                       .exposure = x};
    rd_err err;
    int rc = rd_decide(d, &q, a, out, &err);
    if (rc)
        print_error("%s\n", err.msg);
    return rc;
}

#define CAND "{\"seg\":\"staff\",\"amount\":40}"

/* The first N candidate approvals are charged, the next answered by the control; a pinned
 * request is never capped; control decisions are peeked; a refund makes room again; a missing
 * amount never fits. Both bundles score 0.05 (a fault): every answer is an approval. */
static void test_decide_exposure_cap(void **state)
{
    (void)state;
    rd_fault f[2] = {{.bundle = "b_lr_v1.0", .has_score = true, .score = 0.05},
                     {.bundle = "b_lr_v1.1", .has_score = true, .score = 0.05}};
    rd_decider *d =
        decider(&(rd_decide_opts){.route_flag = "route", .shadow_flag = "shadow", .faults = f, .nfaults = 2});
    rd_plan *p = cap_plan(3);
    rd_exposure *x = cap_exposure(p);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_decision dec;

    /* a control decision while there is room: peeked open, nothing spent */
    assert_int_equal(cap_decide(d, x, "c-1", "{\"amount\":40}", NULL, &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.0");
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_OPEN);
    assert_int_equal(dec.control_reason, RD_CONTROL_NONE);

    rd_exposure_ticket first;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cap_decide(d, x, "k", CAND, NULL, &a, &dec), RD_OK);
        assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.1");
        assert_int_equal(dec.source, RD_SOURCE_MODEL);
        assert_int_equal(dec.control_reason, RD_CONTROL_NONE);
        assert_int_equal(dec.exposure.state, RD_EXPOSURE_CHARGED);
        assert_int_equal(dec.exposure.amount_units, 4000); /* 40.00 in cents */
        assert_int_equal(dec.exposure.count_units, 1);
        assert_int_equal(dec.nshadows, 1); /* b_lr_v1.0 in shadow */
        if (i == 0)
            first = dec.exposure;
    }

    /* the fourth: no approval left, the control answers */
    assert_int_equal(cap_decide(d, x, "req-4", CAND, NULL, &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.0");
    assert_int_equal(dec.source, RD_SOURCE_MODEL);
    assert_int_equal(dec.control_reason, RD_CONTROL_EXPOSURE_CAP);
    assert_string_equal(rd_control_reason_name(dec.control_reason), "exposure_cap");
    assert_non_null(dec.candidate);
    assert_string_equal(rd_slot_name(dec.candidate), "b_lr_v1.1");
    assert_int_equal(dec.candidate_source, RD_SOURCE_MODEL);
    assert_true(dec.candidate_score == 0.05);
    assert_string_equal(dec.score.decision, "approve");
    assert_true(dec.routed);
    assert_string_equal(dec.variant, "b"); /* the candidate's arm */
    assert_int_equal(dec.nshadows, 0);
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_CAPPED);
    assert_string_equal(dec.exposure.why, "no approval left on this node");
    assert_string_equal(dec.exposure.stage, "5%");
    assert_int_equal(dec.exposure.stage_started_ms, 5000);

    /* the API record: the exact members, up to latency_ms */
    rd_buf b;
    rd_buf_init(&b);
    rd_decision_write_json(&b, &dec);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"request_id\":\"req-4\",\"score\":0.05,\"probability\":0.05,\"risk_level\":\"low\","
             "\"decision\":\"approve\",\"model_version\":\"b_lr_v1.0\",\"variant\":\"b\",\"reasons\":[],"
             "\"missing\":[],\"unknown\":[],\"unrecognised\":[],\"source\":\"control\",\"control_reason\":"
             "\"exposure_cap\",\"candidate_version\":\"b_lr_v1.1\",\"model_digest\":\"%s\",\"latency_ms\":",
             rd_bundle_digest(rd_slot_bundle(slots[0])));
    assert_true(b.len > strlen(want));
    assert_memory_equal(b.data, want, strlen(want));
    b.len = 0;
    rd_decision_write_compat_json(&b, &dec, NULL);
    rd_buf_putc(&b, '\0');
    assert_non_null(strstr(b.data, ",\"decision\":\"approve\",\"source\":\"control\",\"latency_ms\":"));

    /* the log record: source control, then the control and exposure members */
    b.len = 0;
    rd_value ctx = parse(&a, CAND), feat = parse(&a, "{\"age\":30,\"home\":\"own\"}");
    rd_dlog_meta m = {.node = "n", .ts_ms = 1000, .context = &ctx, .features = &feat};
    rd_dlog_record_json(&b, d, &dec, &m);
    rd_buf_putc(&b, '\0');
    assert_non_null(strstr(b.data, ",\"bundle\":{\"name\":\"b_lr_v1.0\","));
    /* 0.05 with 17 significant digits, as the log writes every number that is not an integer */
    assert_non_null(strstr(b.data, ",\"source\":\"control\",\"score\":0.050000000000000003,"));
    snprintf(
        want, sizeof want,
        ",\"fallback\":null,\"control\":{\"reason\":\"exposure_cap\",\"candidate\":{\"name\":\"b_lr_v1.1\","
        "\"digest\":\"%s\"},\"source\":\"model\",\"score\":0.050000000000000003,\"decision\":\"approve\","
        "\"detail\":\"no approval left on this node\"},\"exposure\":{\"stage\":\"5%%\",\"stage_started_ms\":"
        "5000,\"state\":\"capped\",\"amount\":40,\"units\":4000},\"shadows\":[],\"latency_ms\":",
        rd_bundle_digest(rd_slot_bundle(slots[1])));
    if (!strstr(b.data, want))
        fail_msg("log record %s lacks %s", b.data, want);
    /* log_redact naming the amount's member: neither the amount nor its units */
    rd_dlog_redact *r;
    rd_err err;
    assert_int_equal(rd_dlog_redact_new("amount:drop", NULL, &r, &err), RD_OK);
    m.redact = r;
    b.len = 0;
    rd_dlog_record_json(&b, d, &dec, &m);
    rd_buf_putc(&b, '\0');
    assert_non_null(strstr(b.data, "\"state\":\"capped\",\"amount\":null,\"units\":null}"));
    assert_null(strstr(b.data, "\"units\":4000"));
    assert_null(strstr(b.data, "\"amount\":40"));
    rd_dlog_redact_free(r);

    /* a pinned request is never capped, nor counted */
    assert_int_equal(cap_decide(d, x, "p-1", CAND, "b_lr_v1.1", &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.1");
    assert_int_equal(dec.control_reason, RD_CONTROL_NONE);
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_NONE);

    /* a control decision now: its amount would not fit (no approval left): closed */
    assert_int_equal(cap_decide(d, x, "c-2", "{\"amount\":40}", NULL, &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.0");
    assert_int_equal(dec.control_reason, RD_CONTROL_NONE);
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_CLOSED);
    b.len = 0;
    rd_dlog_meta m2 = {.node = "n", .ts_ms = 1000};
    rd_dlog_record_json(&b, d, &dec, &m2);
    rd_buf_putc(&b, '\0');
    assert_non_null(strstr(b.data, ",\"source\":\"model\",\"score\":"));
    assert_non_null(strstr(b.data,
                           ",\"control\":null,\"exposure\":{\"stage\":\"5%\",\"stage_started_ms\":5000,"
                           "\"state\":\"closed\",\"amount\":40,\"units\":null},"));

    /* a refund (the answer refused after the charge) makes room for one more approval */
    rd_exposure_refund(x, &first);
    assert_int_equal(cap_decide(d, x, "k", CAND, NULL, &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.1");
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_CHARGED);
    assert_int_equal(cap_decide(d, x, "k", CAND, NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.control_reason, RD_CONTROL_EXPOSURE_CAP);
    rd_exposure_free(x);

    /* a missing amount cannot be counted: capped even with room left */
    x = cap_exposure(p);
    assert_int_equal(cap_decide(d, x, "k", "{\"seg\":\"staff\"}", NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.control_reason, RD_CONTROL_EXPOSURE_CAP);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.0");
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_CAPPED);
    b.len = 0;
    rd_dlog_record_json(&b, d, &dec, &m2);
    rd_buf_putc(&b, '\0');
    assert_non_null(strstr(b.data, "\"state\":\"capped\",\"amount\":null,\"units\":null}"));
    rd_exposure_free(x);
    /* the exposure of another routing flag's rollout changes nothing */
    strcpy(p->route_flag, "other");
    x = cap_exposure(p);
    assert_int_equal(cap_decide(d, x, "k", "{\"seg\":\"staff\"}", NULL, &a, &dec), RD_OK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.1");
    assert_int_equal(dec.control_reason, RD_CONTROL_NONE);
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_NONE);

    rd_buf_deinit(&b);
    rd_exposure_free(x);
    free(p);
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

/* Replay of a capped approval's record: source "control" is re-run pinned to the logged bundle
 * (the control), and the routing is checked against the candidate the flag named, so the record
 * replays identical. No faults: replay runs the real models (age 100, own: both approve). */
static void test_replay_control(void **state)
{
    (void)state;
    rd_err err;
    char data[160], work[160], bdir[160];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    rd_store *st;
    assert_int_equal(rd_store_open(data, NULL, &st, &err), RD_OK);
    for (int i = 0; i < 2; i++) {
        snprintf(bdir, sizeof bdir, "%s/%s", dir, rd_slot_name(slots[i]));
        assert_int_equal(rd_dlog_keep_bundle(st, bdir, rd_bundle_digest(rd_slot_bundle(slots[i])), &err),
                         RD_OK);
    }
    char sha[RD_SHA256_HEX];
    assert_int_equal(rd_dlog_keep_text(st, fs, strlen(fs), sha, &err), RD_OK);
    rd_decider *d = decider(&(rd_decide_opts){.route_flag = "route", .flags_sha256 = sha});
    rd_plan *p = cap_plan(1);
    rd_exposure *x = cap_exposure(p);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value ctx = parse(&a, CAND), feat = parse(&a, "{\"age\":100,\"home\":\"own\"}");
    rd_decision dec;
    rd_buf b[2];
    const char *ids[2] = {"r-1", "r-2"};
    rd_log_row rows[2];
    for (int i = 0; i < 2; i++) {
        rd_value rid = rd_value_string(ids[i], 3);
        rd_decide_req q = {
            .request_id = &rid, .context = &ctx, .features = &feat, .reasons = -1, .exposure = x};
        assert_int_equal(rd_decide(d, &q, &a, &dec, &err), RD_OK);
        assert_int_equal(dec.control_reason, i ? RD_CONTROL_EXPOSURE_CAP : RD_CONTROL_NONE);
        rd_buf_init(&b[i]);
        rd_dlog_meta m = {.node = "n", .ts_ms = 1000, .context = &ctx, .features = &feat};
        rd_dlog_record_json(&b[i], d, &dec, &m);
        rows[i] = (rd_log_row){.ts_ms = 1000,
                               .request_id = ids[i],
                               .kind = "primary",
                               .record = b[i].data,
                               .record_len = b[i].len};
    }
    assert_int_equal(rd_store_log_append(st, rows, 2, &err), RD_OK);
    rd_replay *rp;
    assert_int_equal(rd_replay_new(st, work, &rp, &err), RD_OK);
    for (int i = 0; i < 2; i++) {
        rd_replay_result res;
        if (rd_replay_one(rp, &rows[i], &res, &err) != RD_OK)
            fail_msg("replay %s: %s", ids[i], err.msg);
        if (!res.identical)
            fail_msg("replay %s differs: %s (%s)", ids[i], res.diff, rows[i].record);
    }
    rd_replay_free(rp);
    rd_store_close(st);
    rd_buf_deinit(&b[0]);
    rd_buf_deinit(&b[1]);
    rd_exposure_free(x);
    free(p);
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

/* A control that cannot answer with its model: its bundle's fallback rules answer the capped
 * request (never the candidate's approval), and the records say both. */
static void test_decide_exposure_cap_control_fails(void **state)
{
    (void)state;
    rd_fault f[2] = {{.bundle = "b_lr_v1.0", .error_rate = 1},
                     {.bundle = "b_lr_v1.1", .has_score = true, .score = 0.05}};
    rd_decider *d = decider(&(rd_decide_opts){.route_flag = "route", .faults = f, .nfaults = 2});
    rd_plan *p = cap_plan(1);
    rd_exposure *x = cap_exposure(p);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_decision dec;
    assert_int_equal(cap_decide(d, x, "k-1", CAND, NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.exposure.state, RD_EXPOSURE_CHARGED);
    assert_int_equal(cap_decide(d, x, "k-2", CAND, NULL, &a, &dec), RD_OK);
    assert_int_equal(dec.control_reason, RD_CONTROL_EXPOSURE_CAP);
    assert_int_equal(dec.source, RD_SOURCE_FALLBACK);
    assert_string_equal(rd_slot_name(dec.slot), "b_lr_v1.0");
    assert_true(dec.fallback_from_bundle);
    assert_string_equal(dec.fallback.reason, "FB_BUNDLE");
    assert_string_equal(dec.fallback.decision, "review");
    assert_string_equal(dec.variant, "b");
    rd_buf b;
    rd_buf_init(&b);
    rd_decision_write_json(&b, &dec);
    rd_buf_putc(&b, '\0');
    assert_non_null(
        strstr(b.data, ",\"decision\":\"review\",\"model_version\":\"b_lr_v1.0\",\"variant\":\"b\","));
    assert_non_null(strstr(b.data, ",\"source\":\"fallback\",\"fallback_reason\":\"error\","));
    assert_non_null(strstr(b.data, ",\"control_reason\":\"exposure_cap\",\"candidate_version\":\"b_lr_v1.1\","
                                   "\"model_digest\":"));
    b.len = 0;
    rd_dlog_meta m = {.node = "n", .ts_ms = 1000};
    rd_dlog_record_json(&b, d, &dec, &m);
    rd_buf_putc(&b, '\0');
    assert_non_null(strstr(b.data, ",\"source\":\"fallback\",\"score\":null,"));
    assert_non_null(
        strstr(b.data, ",\"control\":{\"reason\":\"exposure_cap\",\"candidate\":{\"name\":\"b_lr_v1.1\","));
    assert_non_null(strstr(b.data, "\"state\":\"capped\",\"amount\":40,\"units\":4000}"));
    rd_buf_deinit(&b);
    rd_exposure_free(x);
    free(p);
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

/* The shadow pool: every submitted decision scored, agreement counted per pair. */
static void pair_cb(void *ud, const rd_shadow_pair_stats *p)
{
    rd_shadow_pair_stats *out = ud;
    *out = *p;
}

static void test_shadow_pool(void **state)
{
    (void)state;
    rd_decider *d = decider(&(rd_decide_opts){.route_flag = "route", .shadow_flag = "shadow"});
    rd_shadow *sh;
    rd_err err;
    assert_int_equal(rd_shadow_new(2, 1000, &sh, &err), RD_OK);
    rd_arena a;
    rd_arena_init(&a, 0);
    int same = 0;
    for (int age = 18; age < 118; age++) {
        char feat[64];
        snprintf(feat, sizeof feat, "{\"age\":%d,\"home\":\"%s\"}", age, age % 2 ? "own" : "rent");
        rd_decision dec;
        assert_int_equal(decide(d, "{}", feat, NULL, &a, &dec), RD_OK);
        rd_value f = parse(&a, feat);
        rd_score other;
        assert_int_equal(rd_bundle_score(rd_slot_bundle(slots[1]), &f, 0, &other, &err), RD_OK);
        same += !strcmp(other.decision, dec.score.decision);
        assert_true(rd_shadow_submit(sh, d, &dec, &f));
        rd_arena_reset(&a); /* the job owns copies: the request's memory can go */
    }
    while (rd_shadow_pending(sh))
        usleep(1000);
    rd_shadow_pair_stats st = {0};
    rd_shadow_foreach(sh, pair_cb, &st);
    assert_string_equal(st.primary, "b_lr_v1.0");
    assert_string_equal(st.shadow, "b_lr_v1.1");
    assert_int_equal(st.scored, 100);
    assert_int_equal(st.same_decision, same);
    assert_true(same < 100); /* the two models do disagree somewhere */
    assert_int_equal(rd_shadow_dropped(sh), 0);
    rd_shadow_free(sh);
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

/* The queue under contention: producers on four threads (the HTTP workers) and two workers.
 * With room in the queue nothing is dropped, whatever the workers are doing; with a queue of 4,
 * what does not fit is dropped and counted: scored + dropped = submitted, never a lost job. */
typedef struct producer {
    rd_shadow *sh;
    rd_decider *d;
    rd_decision *dec;
    rd_value *feat;
    int n, rejected;
} producer;

static void *produce(void *ud)
{
    producer *p = ud;
    for (int i = 0; i < p->n; i++)
        p->rejected += !rd_shadow_submit(p->sh, p->d, &p->dec[i % 16], &p->feat[i % 16]);
    return NULL;
}

static void shadow_contention(size_t cap, int per_thread, bool expect_no_drop)
{
    rd_decider *d = decider(&(rd_decide_opts){.route_flag = "route", .shadow_flag = "shadow"});
    rd_shadow *sh;
    rd_err err;
    assert_int_equal(rd_shadow_new(2, cap, &sh, &err), RD_OK);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_decision dec[16];
    rd_value feat[16];
    for (int i = 0; i < 16; i++) {
        char f[64];
        snprintf(f, sizeof f, "{\"age\":%d,\"home\":\"own\"}", 20 + i);
        assert_int_equal(decide(d, "{}", f, NULL, &a, &dec[i]), RD_OK);
        feat[i] = parse(&a, f);
    }
    producer p[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (producer){sh, d, dec, feat, per_thread, 0};
        assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    }
    int rejected = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        rejected += p[i].rejected;
    }
    while (rd_shadow_pending(sh))
        usleep(1000);
    rd_shadow_pair_stats st = {0};
    rd_shadow_foreach(sh, pair_cb, &st);
    assert_int_equal(st.scored + rd_shadow_dropped(sh), 4 * per_thread);
    assert_int_equal(rd_shadow_dropped(sh), (uint64_t)rejected);
    if (expect_no_drop)
        assert_int_equal(rejected, 0);
    rd_shadow_free(sh);
    rd_decider_unref(d);
    rd_arena_deinit(&a);
}

static void test_shadow_contention(void **state)
{
    (void)state;
    shadow_contention(100000, 5000, true); /* room for all: not one dropped */
    shadow_contention(4, 5000, false);     /* a tiny queue: drops, each counted */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback_order),
        cmocka_unit_test(test_fallback_refusals),
        cmocka_unit_test(test_breaker_window),
        cmocka_unit_test(test_breaker_window_slides),
        cmocka_unit_test(test_breaker_half_open_timeout),
        cmocka_unit_test(test_breaker_consecutive),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_decider_refusals),
        cmocka_unit_test(test_decide_routes_and_shadows),
        cmocka_unit_test(test_shadow_pool),
        cmocka_unit_test(test_shadow_contention),
        cmocka_unit_test(test_decide_fixed_score_fault),
        cmocka_unit_test(test_decide_decline_fault),
        cmocka_unit_test(test_decide_exposure_cap),
        cmocka_unit_test(test_replay_control),
        cmocka_unit_test(test_decide_exposure_cap_control_fails),
        cmocka_unit_test(test_decide_fallbacks), /* last: it leaves b_lr_v1.0's breaker open */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
