/* Flag sets: every refusal names the flag and the JSON path of the fault and leaves the
 * output untouched; evaluation gives each OpenFeature reason and error code as flagd does
 * (flagd-ofrep.md §1.6); metadata merges with the flag's keys winning; `$ref`s resolve. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "riskd/riskd.h"

static rd_arena scratch;

static int setup(void **state)
{
    (void)state;
    rd_arena_init(&scratch, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_arena_deinit(&scratch);
    return 0;
}

static rd_flagset *load(const char *json, bool lenient)
{
    rd_flagset_opts o = {.lenient = lenient};
    rd_flagset *fs = NULL;
    rd_err err;
    if (rd_flagset_parse(json, strlen(json), &o, &fs, &err) != RD_OK)
        fail_msg("flag set refused: %s", err.msg);
    return fs;
}

static void expect_refusal(const char *json, bool lenient, int code, const char *msg)
{
    rd_flagset_opts o = {.lenient = lenient};
    rd_flagset *fs = (rd_flagset *)(uintptr_t)0x1;
    rd_err err;
    int rc = rd_flagset_parse(json, strlen(json), &o, &fs, &err);
    if (rc != code || strcmp(err.msg, msg) != 0)
        fail_msg("%s\n got %d \"%s\"\nwant %d \"%s\"", json, rc, rc ? err.msg : "", code, msg);
    assert_ptr_equal(fs, (rd_flagset *)(uintptr_t)0x1); /* untouched */
}

static void test_refusals_name_flag_and_path(void **state)
{
    (void)state;
    expect_refusal("{\"flags\":", false, RD_EPARSE, "line 1, column 10: unexpected end of input");
    expect_refusal("[]", false, RD_EINVAL, "the flag set must be a JSON object, not array");
    expect_refusal("{}", false, RD_EINVAL, "flags: missing");
    expect_refusal("{\"flags\":{\"f\":true}}", false, RD_EINVAL, "flags.f: must be an object, not boolean");
    expect_refusal("{\"flags\":1}", false, RD_EINVAL, "flags: must be an object or an array, not number");
    expect_refusal("{\"flags\":{\"f\":{\"variants\":{\"a\":1}}}}", false, RD_EINVAL,
                   "flags.f.state: missing (ENABLED or DISABLED)");
    expect_refusal("{\"flags\":{\"f\":{\"state\":\"ON\",\"variants\":{\"a\":1}}}}", true, RD_EINVAL,
                   "flags.f.state: must be \"ENABLED\" or \"DISABLED\"");
    expect_refusal("{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{}}}}", false, RD_EINVAL,
                   "flags.f.variants: must be an object with at least one variant");
    expect_refusal("{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":\"x\"}}}}", false,
                   RD_EINVAL,
                   "flags.f.variants.b: is a string but \"a\" is a number (all variants need one type)");
    expect_refusal("{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":[1]}}}}", false, RD_EINVAL,
                   "flags.f.variants.a: a variant must be a boolean, string, number or object, not array");
    expect_refusal(
        "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"b\"}}}", true,
        RD_EINVAL, "flags.f.defaultVariant: \"b\" is not one of the variants");
    expect_refusal("{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":1}}}",
                   true, RD_EINVAL, "flags.f.defaultVariant: must be a string or null, not number");
    expect_refusal("{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"targeting\":{\"if\":[{"
                   "\"bogus\":1},"
                   "\"a\"]}}}}",
                   false, RD_EPARSE, "flags.f.targeting.if[0]: unknown operator \"bogus\"");
    expect_refusal("{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"targeting\":{\"$ref\":"
                   "\"nope\"}}}}",
                   false, RD_EINVAL, "flags.f.targeting: $ref to unknown evaluator \"nope\"");
    expect_refusal(
        "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"metadata\":{\"m\":[1]}}}}", false,
        RD_EINVAL, "flags.f.metadata.m: must be a string, number or boolean, not array");
    expect_refusal("{\"flags\":[{\"key\":\"f\",\"state\":\"ENABLED\",\"variants\":{\"a\":1}},"
                   "{\"key\":\"f\",\"state\":\"ENABLED\",\"variants\":{\"a\":1}}]}",
                   false, RD_EINVAL, "flags.f: defined twice");
    expect_refusal("{\"flags\":[{\"state\":\"ENABLED\",\"variants\":{\"a\":1}}]}", false, RD_EINVAL,
                   "flags[0].key: missing or not a non-empty string");
    expect_refusal("{\"flags\":{},\"$evaluators\":[]}", false, RD_EINVAL, "$evaluators: must be an object");
    expect_refusal(
        "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"targeting\":{\"$ref\":\"x\"}}},"
        "\"$evaluators\":{\"x\":{\"$ref\":\"x\"}}}",
        false, RD_EINVAL, "flags.f.targeting: $ref \"x\" nests too deep (a cycle?)");
}

static const char *set =
    "{\"metadata\":{\"flagSetId\":\"risk\",\"version\":\"9\"},"
    "\"$evaluators\":{\"is_vip\":{\"in\":[{\"var\":\"tier\"},[\"gold\",\"platinum\"]]},"
    "                 "
    "\"vip_or_staff\":{\"or\":[{\"$ref\":\"is_vip\"},{\"ends_with\":[{\"var\":\"email\"},\"@bank.com\"]}]}},"
    "\"flags\":{"
    " \"static\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"on\","
    "            \"metadata\":{\"version\":\"10\",\"owner\":\"risk-eng\"}},"
    " \"code-default\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true},\"defaultVariant\":null},"
    " \"off\":{\"state\":\"DISABLED\",\"variants\":{\"on\":true},\"defaultVariant\":\"on\"},"
    " \"vip\":{\"state\":\"ENABLED\",\"variants\":{\"yes\":\"Y\",\"no\":\"N\"},\"defaultVariant\":\"no\","
    "         \"targeting\":{\"if\":[{\"$ref\":\"vip_or_staff\"},\"yes\",null]}},"
    " \"vip-nodefault\":{\"state\":\"ENABLED\",\"variants\":{\"yes\":\"Y\"},"
    "         \"targeting\":{\"if\":[{\"$ref\":\"is_vip\"},\"yes\",null]}},"
    " \"bad-variant\":{\"state\":\"ENABLED\",\"variants\":{\"one\":1},\"defaultVariant\":\"one\","
    "         \"targeting\":{\"if\":[true,{\"cat\":[\"thr\",\"ee\"]},\"one\"]}},"
    " \"shorthand\":{\"state\":\"ENABLED\",\"variants\":{\"true\":\"T\",\"false\":\"F\",\"2\":\"two\"},"
    "         "
    "\"defaultVariant\":\"false\",\"targeting\":{\"if\":[{\"var\":\"n\"},{\"+\":[1,{\"var\":\"n\"}]},"
    "         {\"==\":[1,1]}]}},"
    " \"numbers\":{\"state\":\"ENABLED\",\"variants\":{\"int\":3,\"frac\":3.14,\"big\":9007199254740992},"
    "         \"defaultVariant\":\"int\",\"targeting\":{\"var\":\"pick\"}},"
    " \"inf\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"a\",\"targeting\":{\"/"
    "\":[1,0]}}"
    "}}";

struct want {
    const char *flag;
    rd_flag_type type;
    const char *ctx;
    const char *value; /* JSON, or NULL for no value */
    const char *variant;
    rd_reason reason;
    rd_flag_error error;
};

static void check(const rd_flagset *fs, const struct want *w)
{
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_value ctx;
    rd_err err;
    assert_int_equal(rd_json_parse(w->ctx, strlen(w->ctx), NULL, &a, &ctx, &err), RD_OK);
    rd_resolution r;
    rd_flag_eval(fs, w->flag, strlen(w->flag), w->type, &ctx, 1700000000, &scratch, &r);
    rd_buf b;
    rd_buf_init(&b);
    if (r.has_value)
        rd_json_write(&b, &r.value);
    const char *got = r.has_value ? rd_buf_cstr(&b) : NULL;
    if (r.reason != w->reason || r.error != w->error || (got == NULL) != (w->value == NULL) ||
        (got && strcmp(got, w->value)) || (r.variant == NULL) != (w->variant == NULL) ||
        (r.variant && strcmp(r.variant, w->variant)))
        fail_msg("%s %s: got %s/%s value=%s variant=%s, want %s/%s value=%s variant=%s", w->flag, w->ctx,
                 rd_reason_name(r.reason), rd_flag_error_name(r.error), got ? got : "-",
                 r.variant ? r.variant : "-", rd_reason_name(w->reason), rd_flag_error_name(w->error),
                 w->value ? w->value : "-", w->variant ? w->variant : "-");
    assert_true((r.error == RD_FLAG_OK) == (r.error_message == NULL));
    rd_buf_deinit(&b);
    rd_arena_deinit(&a);
    rd_arena_reset(&scratch);
}

static void test_reasons_and_errors(void **state)
{
    (void)state;
    rd_flagset *fs = load(set, false);
    static const struct want cases[] = {
        {"static", RD_FLAG_BOOLEAN, "{}", "true", "on", RD_REASON_STATIC, RD_FLAG_OK},
        {"static", RD_FLAG_STRING, "{}", NULL, NULL, RD_REASON_ERROR, RD_FLAG_TYPE_MISMATCH},
        {"code-default", RD_FLAG_BOOLEAN, "{}", NULL, NULL, RD_REASON_DEFAULT, RD_FLAG_OK},
        {"off", RD_FLAG_BOOLEAN, "{}", NULL, NULL, RD_REASON_DISABLED, RD_FLAG_OK},
        {"nope", RD_FLAG_BOOLEAN, "{}", NULL, NULL, RD_REASON_ERROR, RD_FLAG_NOT_FOUND},
        {"vip", RD_FLAG_STRING, "{\"tier\":\"gold\"}", "\"Y\"", "yes", RD_REASON_TARGETING_MATCH, RD_FLAG_OK},
        {"vip", RD_FLAG_STRING, "{\"email\":\"a@bank.com\"}", "\"Y\"", "yes", RD_REASON_TARGETING_MATCH,
         RD_FLAG_OK},
        {"vip", RD_FLAG_STRING, "{\"tier\":\"basic\"}", "\"N\"", "no", RD_REASON_DEFAULT, RD_FLAG_OK},
        {"vip-nodefault", RD_FLAG_STRING, "{}", NULL, NULL, RD_REASON_DEFAULT, RD_FLAG_OK},
        {"bad-variant", RD_FLAG_INTEGER, "{}", NULL, NULL, RD_REASON_ERROR, RD_FLAG_GENERAL},
        {"shorthand", RD_FLAG_STRING, "{}", "\"T\"", "true", RD_REASON_TARGETING_MATCH, RD_FLAG_OK},
        {"shorthand", RD_FLAG_STRING, "{\"n\":1}", "\"two\"", "2", RD_REASON_TARGETING_MATCH, RD_FLAG_OK},
        {"numbers", RD_FLAG_INTEGER, "{\"pick\":\"int\"}", "3", "int", RD_REASON_TARGETING_MATCH, RD_FLAG_OK},
        {"numbers", RD_FLAG_FLOAT, "{\"pick\":\"int\"}", "3", "int", RD_REASON_TARGETING_MATCH, RD_FLAG_OK},
        {"numbers", RD_FLAG_INTEGER, "{\"pick\":\"frac\"}", NULL, NULL, RD_REASON_ERROR,
         RD_FLAG_TYPE_MISMATCH},
        {"numbers", RD_FLAG_INTEGER, "{\"pick\":\"big\"}", NULL, NULL, RD_REASON_ERROR,
         RD_FLAG_TYPE_MISMATCH},
        {"numbers", RD_FLAG_ANY, "{\"pick\":\"frac\"}", "3.14", "frac", RD_REASON_TARGETING_MATCH,
         RD_FLAG_OK},
        {"numbers", RD_FLAG_OBJECT, "{\"pick\":\"int\"}", NULL, NULL, RD_REASON_ERROR, RD_FLAG_TYPE_MISMATCH},
        {"inf", RD_FLAG_INTEGER, "{}", NULL, NULL, RD_REASON_ERROR, RD_FLAG_PARSE_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check(fs, &cases[i]);
    rd_flagset_unref(fs);
}

static void test_metadata_merge(void **state)
{
    (void)state;
    rd_flagset *fs = load(set, false);
    rd_resolution r;
    rd_buf b;
    rd_buf_init(&b);
    rd_flag_eval(fs, "static", 6, RD_FLAG_BOOLEAN, NULL, 0, &scratch, &r);
    rd_json_write(&b, r.metadata);
    assert_string_equal(rd_buf_cstr(&b),
                        "{\"flagSetId\":\"risk\",\"version\":\"10\",\"owner\":\"risk-eng\"}");
    rd_buf_reset(&b);
    rd_flag_eval(fs, "missing", 7, RD_FLAG_BOOLEAN, NULL, 0, &scratch, &r);
    rd_json_write(&b, r.metadata);
    assert_string_equal(rd_buf_cstr(&b), "{\"flagSetId\":\"risk\",\"version\":\"9\"}");
    rd_buf_reset(&b);
    rd_flag_eval(fs, "off", 3, RD_FLAG_BOOLEAN, NULL, 0, &scratch, &r);
    rd_json_write(&b, r.metadata);
    assert_string_equal(rd_buf_cstr(&b), "{\"flagSetId\":\"risk\",\"version\":\"9\"}");
    rd_buf_deinit(&b);
    rd_flagset_unref(fs);
}

static void test_lenient_mode_matches_flagd(void **state)
{
    (void)state;
    const char *json =
        "{\"flags\":{"
        "\"broken\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"a\","
        "            \"targeting\":{\"invalid\":[1]}},"
        "\"dangling\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"a\","
        "            \"targeting\":{\"$ref\":\"nowhere\"}},"
        "\"fine\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":\"mixed\"},\"defaultVariant\":\"b\"}"
        "}}";
    rd_flagset *fs = load(json, true);
    static const struct want cases[] = {
        {"broken", RD_FLAG_INTEGER, "{}", NULL, NULL, RD_REASON_ERROR, RD_FLAG_PARSE_ERROR},
        {"dangling", RD_FLAG_INTEGER, "{}", NULL, NULL, RD_REASON_ERROR, RD_FLAG_PARSE_ERROR},
        {"fine", RD_FLAG_STRING, "{}", "\"mixed\"", "b", RD_REASON_STATIC, RD_FLAG_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check(fs, &cases[i]);
    assert_int_equal(rd_flagset_count(fs), 3);
    assert_string_equal(rd_flagset_key(fs, 2), "fine");
    assert_null(rd_flagset_key(fs, 3));
    rd_flagset_unref(fs);
}

static void test_array_form_and_refcount(void **state)
{
    (void)state;
    rd_flagset *fs = load("{\"flags\":[{\"key\":\"x\",\"state\":\"ENABLED\",\"variants\":{\"v\":\"s\"},"
                          "\"defaultVariant\":\"v\"}]}",
                          false);
    static const struct want w = {"x", RD_FLAG_STRING, "{}", "\"s\"", "v", RD_REASON_STATIC, RD_FLAG_OK};
    assert_ptr_equal(rd_flagset_ref(fs), fs);
    rd_flagset_unref(fs);
    check(fs, &w); /* still alive: one reference left */
    rd_flagset_unref(fs);
}

static void test_many_flags_lookup(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    rd_buf_puts(&b, "{\"flags\":{");
    for (int i = 0; i < 500; i++)
        rd_buf_printf(
            &b, "%s\"flag-%d\":{\"state\":\"ENABLED\",\"variants\":{\"v\":%d},\"defaultVariant\":\"v\"}",
            i ? "," : "", i, i);
    rd_buf_puts(&b, "}}");
    rd_flagset *fs = load(rd_buf_cstr(&b), false);
    for (int i = 0; i < 500; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "flag-%d", i);
        rd_resolution r;
        rd_flag_eval(fs, key, (size_t)n, RD_FLAG_INTEGER, NULL, 0, &scratch, &r);
        assert_int_equal(r.reason, RD_REASON_STATIC);
        assert_true(r.value.u.n == (double)i);
    }
    rd_resolution r;
    rd_flag_eval(fs, "flag-500", 8, RD_FLAG_INTEGER, NULL, 0, &scratch, &r);
    assert_int_equal(r.error, RD_FLAG_NOT_FOUND);
    rd_buf_deinit(&b);
    rd_flagset_unref(fs);
}

/* Many threads evaluating one shared flag set get exactly the single-threaded answers (the
 * set is immutable; each thread has its own scratch arena). Run under ASan in make test. */
struct worker {
    const rd_flagset *fs;
    const rd_value *ctxs;
    uint32_t nctx;
    const char *const *keys;
    size_t nkeys;
    const char **expected; /* variant (or reason name) per key x context */
    int mismatches;
};

static const char *outcome(const rd_resolution *r)
{
    return r->variant ? r->variant : rd_reason_name(r->reason);
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    rd_arena a;
    rd_arena_init(&a, 0);
    for (int round = 0; round < 200; round++)
        for (size_t k = 0; k < w->nkeys; k++)
            for (uint32_t i = 0; i < w->nctx; i++) {
                rd_resolution r;
                rd_flag_eval(w->fs, w->keys[k], strlen(w->keys[k]), RD_FLAG_ANY, &w->ctxs[i], 1700000000, &a,
                             &r);
                if (strcmp(outcome(&r), w->expected[k * w->nctx + i]) != 0)
                    w->mismatches++;
                rd_arena_reset(&a);
            }
    rd_arena_deinit(&a);
    return NULL;
}

static void test_concurrent_evaluation(void **state)
{
    (void)state;
    rd_flagset *fs = load(set, false);
    static const char *const keys[] = {"static",    "vip",     "vip-nodefault",
                                       "shorthand", "numbers", "bad-variant"};
    const char *ctx_json = "[{\"tier\":\"gold\",\"n\":1,\"pick\":\"frac\"},{\"email\":\"x@bank.com\"},"
                           "{\"tier\":\"basic\",\"pick\":\"int\"},{}]";
    rd_arena doc;
    rd_arena_init(&doc, 0);
    rd_value ctxs;
    rd_err err;
    assert_int_equal(rd_json_parse(ctx_json, strlen(ctx_json), NULL, &doc, &ctxs, &err), RD_OK);
    size_t nkeys = sizeof(keys) / sizeof(keys[0]);
    const char *expected[6 * 4];
    for (size_t k = 0; k < nkeys; k++)
        for (uint32_t i = 0; i < ctxs.len; i++) {
            rd_resolution r;
            rd_flag_eval(fs, keys[k], strlen(keys[k]), RD_FLAG_ANY, &ctxs.u.items[i], 1700000000, &scratch,
                         &r);
            expected[k * ctxs.len + i] = outcome(&r); /* variant names live in fs */
        }
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){fs, ctxs.u.items, ctxs.len, keys, nkeys, expected, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].mismatches, 0);
    }
    rd_arena_deinit(&doc);
    rd_flagset_unref(fs);
}

/* Strict mode judges what targeting can return before it runs (issue 11): each case is
 * refused in strict mode with its message, and accepted in lenient mode as flagd does. */
#define FLAG(targeting)                                                                                      \
    "{\"flags\":{\"m\":{\"state\":\"ENABLED\",\"variants\":{\"red\":\"r\",\"green\":\"g\"},"                 \
    "\"defaultVariant\":\"red\",\"targeting\":" targeting "}}}"

static void strict_only(const char *json, const char *msg)
{
    expect_refusal(json, false, RD_EINVAL, msg);
    rd_flagset_unref(load(json, true));
}

static void test_strict_targeting_results(void **state)
{
    (void)state;
    strict_only(
        FLAG("{\"fractional\":[[\"red\",50],[\"gren\",50]]}"),
        "flags.m.targeting: fractional bucket 2 returns \"gren\", which is not a variant (the variants "
        "are \"red\", \"green\")");
    strict_only(
        FLAG("{\"fractional\":[[\"red\",\"50\"],[\"green\",50]]}"),
        "flags.m.targeting: fractional bucket 1: the weight must be a number (or a rule that computes "
        "one), not string (flagd sends every request to one bucket then)");
    strict_only(FLAG("{\"fractional\":[[\"red\",-5],[\"green\",50]]}"),
                "flags.m.targeting: fractional bucket 1: the weight must be an integer from 0 to 2147483647, "
                "not -5");
    strict_only(FLAG("{\"fractional\":[[\"red\",0.5],[\"green\",50]]}"),
                "flags.m.targeting: fractional bucket 1: the weight must be an integer from 0 to 2147483647, "
                "not 0.5");
    strict_only(FLAG("{\"fractional\":[[\"red\",0],[\"green\",0]]}"),
                "flags.m.targeting: fractional's weights are all 0: no request can be placed");
    strict_only(FLAG("{\"fractional\":[{\"var\":\"id\"}]}"),
                "flags.m.targeting: fractional has no bucket (write [\"variant\", weight], ...)");
    strict_only(FLAG("{\"fractional\":[\"user-1\",[\"red\",50],[\"green\",50]]}"),
                "flags.m.targeting: fractional's bucketing key is a constant, so every request lands in the "
                "same bucket (use {\"var\": ...}, or leave it out to bucket by targetingKey)");
    strict_only(FLAG("{\"fractional\":[[\"red\",50,1],[\"green\",50]]}"),
                "flags.m.targeting: fractional bucket 1 must be [\"variant\", weight], not an array of that "
                "length");
    strict_only(FLAG("{\"if\":[{\"==\":[{\"var\":\"t\"},\"a\"]},\"green\",\"blue\"]}"),
                "flags.m.targeting: the else branch at if[2] returns \"blue\", which is not a variant (the "
                "variants are \"red\", \"green\")");
    strict_only(FLAG("{\"if\":[{\"var\":\"a\"},\"grene\",{\"var\":\"b\"},\"red\",null]}"),
                "flags.m.targeting: the branch at if[1] returns \"grene\", which is not a variant (the "
                "variants are \"red\", \"green\")");
    strict_only(
        FLAG("{\"or\":[{\"var\":\"plan\"},\"silver\"]}"),
        "flags.m.targeting: the operand or[1] returns \"silver\", which is not a variant (the variants "
        "are \"red\", \"green\")");
    strict_only(
        FLAG("{\"var\":[\"plan\",\"gold\"]}"),
        "flags.m.targeting: the default of var returns \"gold\", which is not a variant (the variants "
        "are \"red\", \"green\")");
    strict_only(FLAG("{\"==\":[{\"var\":\"plan\"},\"gold\"]}"),
                "flags.m.targeting: the comparison == returns true, which is not a variant (the variants are "
                "\"red\", \"green\")");
    strict_only(
        "{\"$evaluators\":{\"half\":{\"fractional\":[[\"red\",1],[\"gren\",1]]}},"
        "\"flags\":{\"m\":{\"state\":\"ENABLED\",\"variants\":{\"red\":1,\"green\":2},"
        "\"defaultVariant\":\"red\",\"targeting\":{\"$ref\":\"half\"}}}}",
        "flags.m.targeting: fractional bucket 2 returns \"gren\", which is not a variant (the variants "
        "are \"red\", \"green\")");
    /* a misspelt key of a flag or of the set (other keys are notes, as flagd reads them) */
    strict_only("{\"flags\":{\"m\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultvariant\":\"a\"}}}",
                "flags.m.defaultvariant: not a key of a flag (did you mean \"defaultVariant\"?)");
    strict_only("{\"flags\":{\"m\":{\"state\":\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"a\","
                "\"targetting\":{\"if\":[true,\"a\",null]}}}}",
                "flags.m.targetting: not a key of a flag (did you mean \"targeting\"?)");
    strict_only("{\"$evaluator\":{},\"flags\":{}}",
                "$evaluator: not a key of a flag set (did you mean \"$evaluators\"?)");
    rd_flagset_unref(
        load("{\"$schema\":\"https://flagd.dev/schema/v0/flags.json\",\"flags\":{\"m\":{\"state\":"
             "\"ENABLED\",\"variants\":{\"a\":1},\"defaultVariant\":\"a\",\"description\":\"notes\"}}}",
             false));
    /* what strict mode accepts: every literal names a variant, weights computed or integers,
     * null (the default variant), results only known when the rule runs */
    const char *good[] = {
        FLAG("{\"fractional\":[[\"red\",50],[\"green\",50]]}"),
        FLAG("{\"fractional\":[{\"var\":\"id\"},[\"red\"],[\"green\",{\"if\":[{\"var\":\"x\"},10,0]}]]}"),
        FLAG("{\"if\":[{\"in\":[\"@bank.com\",{\"var\":\"email\"}]},\"green\",null]}"),
        FLAG("{\"if\":[{\"var\":\"a\"},{\"fractional\":[[\"red\",1],[\"green\",1]]},\"red\"]}"),
        FLAG("{\"cat\":[{\"var\":\"colour\"}]}"),
        FLAG("{\"or\":[{\"var\":\"plan\"},\"green\"]}"),
        "{\"flags\":{\"b\":{\"state\":\"ENABLED\",\"variants\":{\"true\":1,\"false\":0},"
        "\"defaultVariant\":\"false\",\"targeting\":{\"==\":[{\"var\":\"x\"},1]}}}}",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        rd_flagset_unref(load(good[i], false));
}

static void test_type_names(void **state)
{
    (void)state;
    rd_flag_type t;
    assert_int_equal(rd_flag_type_parse("integer", &t), RD_OK);
    assert_int_equal(t, RD_FLAG_INTEGER);
    assert_int_equal(rd_flag_type_parse("int", &t), RD_EINVAL);
    assert_string_equal(rd_reason_name(RD_REASON_TARGETING_MATCH), "TARGETING_MATCH");
    assert_string_equal(rd_flag_error_name(RD_FLAG_TYPE_MISMATCH), "TYPE_MISMATCH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_name_flag_and_path),
        cmocka_unit_test(test_reasons_and_errors),
        cmocka_unit_test(test_metadata_merge),
        cmocka_unit_test(test_lenient_mode_matches_flagd),
        cmocka_unit_test(test_array_form_and_refcount),
        cmocka_unit_test(test_many_flags_lookup),
        cmocka_unit_test(test_concurrent_evaluation),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_strict_targeting_results),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
