/* JSONLogic compiler and evaluator: compile-time errors with their JSON path, limits,
 * flagd's operators against the published reference vectors (flagd-ofrep.md §2.2-2.4), the
 * context enrichment, and that evaluation allocates nothing once warmed up. The general
 * operators are proven by the official suite (tests/conformance/jsonlogic_suite.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/riskd.h"

static rd_arena doc, scratch;

static int setup(void **state)
{
    (void)state;
    rd_arena_init(&doc, 0);
    rd_arena_init(&scratch, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_arena_deinit(&doc);
    rd_arena_deinit(&scratch);
    return 0;
}

static rd_value parse(const char *json)
{
    rd_value v;
    rd_err err;
    rd_json_limits lim = {.max_depth = 200};
    if (rd_json_parse(json, strlen(json), &lim, &doc, &v, &err) != RD_OK)
        fail_msg("bad test JSON %s: %s", json, err.msg);
    return v;
}

/* Evaluate rule over data as flag `flag_key` would; returns the result as compact JSON. */
static const char *eval_as(const char *rule, const char *data, const char *flag_key, int version)
{
    static rd_buf out;
    rd_value r = parse(rule), d = parse(data), v;
    rd_logic_opts o = {.fractional_version = version};
    rd_logic *l;
    rd_err err;
    assert_int_equal(rd_logic_compile(&r, &o, &l, &err), RD_OK);
    rd_logic_env env = {.flagd = true,
                        .flag_key = flag_key,
                        .flag_key_len = (uint32_t)strlen(flag_key),
                        .timestamp = 1700000000};
    rd_buf_reset(&out);
    if (rd_logic_eval(l, &d, &env, &scratch, &v, &err) == RD_OK)
        rd_json_write(&out, &v);
    else
        rd_buf_printf(&out, "error: %s", err.msg);
    rd_logic_free(l);
    return rd_buf_cstr(&out);
}

static const char *eval(const char *rule, const char *data) { return eval_as(rule, data, "flag", 2); }

static void test_unknown_operator_names_path(void **state)
{
    (void)state;
    rd_value r = parse("{\"if\":[{\"==\":[1,1]},{\"frobnicate\":[1]},2]}");
    rd_logic *l = NULL;
    rd_err err;
    assert_int_equal(rd_logic_compile(&r, NULL, &l, &err), RD_EPARSE);
    assert_null(l);
    assert_string_equal(err.msg, "$.if[1]: unknown operator \"frobnicate\"");
}

static void test_depth_limit(void **state)
{
    (void)state;
    char rule[4096] = "";
    for (int i = 0; i < 70; i++)
        strcat(rule, "{\"!\":");
    strcat(rule, "true");
    for (int i = 0; i < 70; i++)
        strcat(rule, "}");
    rd_value r = parse(rule);
    rd_logic *l;
    rd_err err;
    assert_int_equal(rd_logic_compile(&r, NULL, &l, &err), RD_ELIMIT);
    assert_non_null(strstr(err.msg, "nested deeper than 64"));
    rd_logic_opts o = {.max_depth = 100};
    assert_int_equal(rd_logic_compile(&r, &o, &l, &err), RD_OK);
    rd_logic_free(l);
}

static void test_fractional_v2_vectors(void **state)
{
    (void)state;
    /* Explicit bucketing strings hash as they are (no flag key). */
    const char *lower_upper[][2] = {{"ejOoVL", "lower"},
                                    {"bY9fO-", "lower"},
                                    {"SI7p-", "lower"},
                                    {"6LvT0", "upper"},
                                    {"ceQdGm", "upper"}};
    for (size_t i = 0; i < 5; i++) {
        char rule[200];
        snprintf(rule, sizeof(rule), "{\"fractional\":[\"%s\",[\"lower\",50],[\"upper\",50]]}",
                 lower_upper[i][0]);
        char want[32];
        snprintf(want, sizeof(want), "\"%s\"", lower_upper[i][1]);
        assert_string_equal(eval(rule, "{}"), want);
    }
    /* The default key is flagKey + targetingKey (flagd-ofrep.md §6.2 oracle output). */
    const char *route = "{\"fractional\":[[\"champion\",50],[\"challenger\",30],[\"shadow\",20]]}";
    const char *want[][2] = {{"user-1", "shadow"},        {"user-2", "challenger"}, {"user-3", "shadow"},
                             {"user-4", "champion"},      {"user-5", "challenger"}, {"user-6", "challenger"},
                             {"applicant-42", "champion"}};
    for (size_t i = 0; i < 7; i++) {
        char data[64], w[32];
        snprintf(data, sizeof(data), "{\"targetingKey\":\"%s\"}", want[i][0]);
        snprintf(w, sizeof(w), "\"%s\"", want[i][1]);
        assert_string_equal(eval_as(route, data, "model-route", 2), w);
    }
    /* UTF-8 bytes are hashed, as Go flagd does (the JS oracle differs here). */
    assert_string_equal(
        eval_as("{\"fractional\":[{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"email\"}]},"
                "[\"a\",1],[\"b\",1]]}",
                "{\"email\":\"zo\xc3\xab@bank.com\"}", "by-email", 2),
        "\"a\"");
}

static void test_fractional_fallbacks(void **state)
{
    (void)state;
    const char *ab = "[\"a\",1],[\"b\",1]";
    char rule[200];
    snprintf(rule, sizeof(rule), "{\"fractional\":[%s]}", ab);
    assert_string_equal(eval(rule, "{}"), "null");                      /* no targetingKey */
    assert_string_equal(eval(rule, "{\"targetingKey\":\"\"}"), "null"); /* empty */
    assert_string_equal(eval(rule, "{\"targetingKey\":123}"), "null");  /* not a string */
    assert_string_equal(eval("{\"fractional\":[\"k\",[\"a\",0],[\"b\",0]]}", "{}"), "null");
    assert_string_equal(eval("{\"fractional\":[\"k\",[\"a\",50.5],[\"b\",1]]}", "{}"), "null");
    assert_string_equal(eval("{\"fractional\":[\"k\",[\"a\",2147483647],[\"b\",1]]}", "{}"), "null");
    assert_string_equal(eval("{\"fractional\":[\"k\",[\"a\",-5],[\"b\",1]]}", "{}"), "\"b\"");
    assert_string_equal(eval("{\"fractional\":[\"k\",[\"only\"]]}", "{}"), "\"only\"");
    assert_string_equal(eval("{\"fractional\":[\"k\",[[1],1]]}", "{}"), "null"); /* variant must be scalar */
    assert_string_equal(eval("{\"fractional\":[]}", "{}"), "null");
    /* Go drops a null bucketBy and falls back to the default key. */
    assert_string_equal(
        eval_as("{\"fractional\":[{\"var\":\"missing\"},[\"champion\",50],[\"challenger\",30],"
                "[\"shadow\",20]]}",
                "{\"targetingKey\":\"user-1\"}", "model-route", 2),
        "\"shadow\"");
    /* Nested expressions as variants and weights are evaluated first. */
    assert_string_equal(
        eval("{\"fractional\":[\"k\",[{\"if\":[true,\"x\",\"y\"]},{\"+\":[0,1]}],[\"z\",0]]}", "{}"),
        "\"x\"");
}

static void test_sem_ver(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *want;
    } cases[] = {
        {"[\"1.2.3\",\"=\",\"1.2.3\"]", "true"},
        {"[\"v1.2.3\",\"=\",\"1.2.3\"]", "true"},
        {"[\"1.2\",\"=\",\"1.2.0\"]", "true"},
        {"[\"1\",\"=\",\"1.0.0\"]", "true"},
        {"[\"1.2.3\",\"!=\",\"1.2.4\"]", "true"},
        {"[\"1.2.3\",\"<\",\"1.10.0\"]", "true"},
        {"[\"2.0.0-alpha\",\"<\",\"2.0.0\"]", "true"},
        {"[\"2.0.0-alpha.1\",\"<\",\"2.0.0-alpha.beta\"]", "true"},
        {"[\"2.0.0-alpha.2\",\"<\",\"2.0.0-alpha.10\"]", "true"},
        {"[\"1.0.0+build.1\",\"=\",\"1.0.0+build.2\"]", "true"},
        {"[\"1.5.0\",\">=\",\"1.5.0\"]", "true"},
        {"[\"1.5.0\",\">\",\"1.4.99\"]", "true"},
        {"[\"1.5.0\",\"<=\",\"1.4.0\"]", "false"},
        {"[\"1.9.0\",\"^\",\"1.0.0\"]", "true"},
        {"[\"2.0.0\",\"^\",\"1.0.0\"]", "false"},
        {"[\"1.2.9\",\"~\",\"1.2.0\"]", "true"},
        {"[\"1.3.0\",\"~\",\"1.2.0\"]", "false"},
        {"[2,\"=\",\"2.0.0\"]", "true"},
        {"[\"1.2.3\",\"===\",\"1.2.3\"]", "null"},
        {"[\"not-a-version\",\"=\",\"1.0.0\"]", "null"},
        {"[\"2.0.0.0\",\"=\",\"2.0.0\"]", "null"},
        {"[\"01.2.3\",\"=\",\"1.2.3\"]", "null"},
        {"[\"1.2-pre\",\"=\",\"1.2.0\"]", "null"},
        {"[\"1.2.3\",\"=\"]", "null"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rule[200];
        snprintf(rule, sizeof(rule), "{\"sem_ver\":%s}", cases[i].rule);
        const char *got = eval(rule, "{}");
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: got %s, want %s", rule, got, cases[i].want);
    }
}

static void test_string_affixes(void **state)
{
    (void)state;
    assert_string_equal(eval("{\"starts_with\":[{\"var\":\"e\"},\"ann\"]}", "{\"e\":\"ann@x\"}"), "true");
    assert_string_equal(eval("{\"ends_with\":[{\"var\":\"e\"},\"@x\"]}", "{\"e\":\"ann@x\"}"), "true");
    assert_string_equal(eval("{\"ends_with\":[{\"var\":\"e\"},\"@y\"]}", "{\"e\":\"ann@x\"}"), "false");
    assert_string_equal(eval("{\"starts_with\":[{\"var\":\"e\"},\"a\"]}", "{\"e\":123}"), "null");
    assert_string_equal(eval("{\"starts_with\":[{\"var\":\"missing\"},\"a\"]}", "{}"), "null");
    assert_string_equal(eval("{\"starts_with\":[\"abc\"]}", "{}"), "null");
    assert_string_equal(eval("{\"ends_with\":[\"ab\",\"abc\"]}", "{}"), "false");
}

static void test_flagd_enrichment(void **state)
{
    (void)state;
    assert_string_equal(eval_as("{\"var\":\"$flagd.flagKey\"}", "{}", "my-flag", 2), "\"my-flag\"");
    assert_string_equal(eval("{\"var\":\"$flagd.timestamp\"}", "{}"), "1700000000");
    /* The caller's $flagd is replaced, never merged. */
    assert_string_equal(eval("{\"var\":\"$flagd.flagKey\"}", "{\"$flagd\":{\"flagKey\":\"spoof\"}}"),
                        "\"flag\"");
    assert_string_equal(eval("{\"var\":\"$flagd.other\"}", "{\"$flagd\":{\"other\":1}}"), "null");
    assert_string_equal(eval("{\"var\":\"\"}", "{\"a\":1,\"$flagd\":5}"),
                        "{\"a\":1,\"$flagd\":{\"flagKey\":\"flag\",\"timestamp\":1700000000}}");
    /* Inside map the scope is the item, not the enriched context. */
    assert_string_equal(eval("{\"map\":[{\"var\":\"xs\"},{\"var\":\"\"}]}", "{\"xs\":[1,2]}"), "[1,2]");
}

/* Go flagd's engine (diegoholiveira/jsonlogic v3.9.1) where it differs from JSONLogic's JS
 * reference; each expectation was read off the Go source (docs/formats.md). "error" means the
 * engine fails, which flagd reports as PARSE_ERROR. */
static void test_go_engine_semantics(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *data, *want;
    } cases[] = {
        /* truthiness: {} is false, NaN is true */
        {"{\"!!\":[{}]}", "{}", "false"},
        {"{\"!!\":[{\"/\":[0,0]}]}", "{}", "true"},
        {"{\"!\":{\"var\":\"xs\"}}", "{\"xs\":[0]}", "true"},
        /* var: null means not found, defaults apply; empty segments are skipped */
        {"{\"var\":[\"a\",\"d\"]}", "{\"a\":null}", "\"d\""},
        {"{\"var\":\"a..b\"}", "{\"a\":{\"b\":1}}", "1"},
        {"{\"var\":\"xs.x\"}", "{\"xs\":[7,8]}", "7"},
        {"{\"var\":[1]}", "{}", "error"},
        /* missing: "" and false are present */
        {"{\"missing\":[\"a\",\"b\",\"c\"]}", "{\"a\":\"\",\"b\":false}", "[\"c\"]"},
        {"{\"missing\":[[\"a\",\"b\"]]}", "{}", "[]"},
        /* equality and order */
        {"{\"==\":[null,0]}", "{}", "false"},
        {"{\"==\":[[1],1]}", "{}", "false"},
        {"{\"==\":[1,\" 1\"]}", "{}", "false"},
        {"{\"==\":[0,\"  \"]}", "{}", "true"},
        {"{\"<=\":[null,0]}", "{}", "false"},
        {"{\"<\":[null,1]}", "{}", "true"},
        {"{\">\":[3,2,1]}", "{}", "true"},
        {"{\"===\":[[],[]]}", "{}", "false"},
        /* arithmetic: null and booleans are errors, bad strings are 0 */
        {"{\"+\":[1,null]}", "{}", "error"},
        {"{\"+\":[{\"var\":\"missing\"},1]}", "{}", "error"},
        {"{\"+\":[\"abc\",1]}", "{}", "1"},
        {"{\"*\":[]}", "{}", "1"},
        {"{\"-\":[10,2,3]}", "{}", "5"},
        {"{\"%\":[-7,3]}", "{}", "-1"},
        {"{\"max\":[]}", "{}", "null"},
        {"{\"max\":{\"var\":\"nums\"}}", "{\"nums\":[3,9,4]}", "9"},
        /* cat: Go's number format, trimmed when joining */
        {"{\"cat\":[\"a \",\"b \"]}", "{}", "\"a b\""},
        {"{\"cat\":[\" a \"]}", "{}", "\" a \""},
        {"{\"cat\":[1e21,\"x\"]}", "{}", "\"1000000000000000000000x\""},
        {"{\"cat\":[1e-7,\"x\"]}", "{}", "\"0.0000001x\""},
        {"{\"cat\":[\"a\",true]}", "{}", "error"},
        {"{\"cat\":[\"a\",null,\"b\"]}", "{}", "\"ab\""},
        /* substr counts code points; past the end gives the whole string */
        {"{\"substr\":[\"h\u00e9llo\",1,2]}", "{}", "\"\u00e9l\""},
        {"{\"substr\":[\"abc\",5]}", "{}", "\"abc\""},
        {"{\"substr\":[\"abcdef\",4,-3]}", "{}", "error"},
        {"{\"substr\":[\"jsonlogic\",4,-2]}", "{}", "\"log\""},
        /* in */
        {"{\"in\":[{\"var\":\"missing\"},\"abc\"]}", "{}", "error"},
        {"{\"in\":[1,[\"1\"]]}", "{}", "true"},
        {"{\"in\":[5,[[1,10]]]}", "{}", "true"},
        {"{\"in\":[\"1\",[1]]}", "{}", "false"},
        /* iteration and reduce */
        {"{\"all\":[[],{\"var\":\"\"}]}", "{}", "false"},
        {"{\"none\":[null,{\"var\":\"\"}]}", "{}", "true"},
        {"{\"map\":[{\"var\":\"x\"}]}", "{}", "[]"},
        {"{\"reduce\":[[1,null,2],{\"+\":[{\"var\":\"current\"},{\"var\":\"accumulator\"}]},0]}", "{}", "3"},
        {"{\"reduce\":[[1,2],{\"+\":[{\"var\":\"current\"},{\"var\":\"accumulator\"}]},null]}", "{}",
         "error"},
        {"{\"if\":true}", "{}", "error"},
        /* sem_ver: numbers through Go's %v */
        {"{\"sem_ver\":[1e6,\"=\",\"1000000.0.0\"]}", "{}", "null"},
        {"{\"sem_ver\":[\"1.2.0\",\"~\",\"1.2.9\"]}", "{}", "true"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = eval(cases[i].rule, cases[i].data);
        if (strncmp(got, "error", 5) == 0)
            got = "error";
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s on %s: got %s, want %s", cases[i].rule, cases[i].data, got, cases[i].want);
    }
}

static void *count_alloc(void *ud, void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    (*(int *)ud)++;
    return realloc(ptr, size);
}

static void test_eval_allocates_nothing_when_warm(void **state)
{
    (void)state;
    rd_value r = parse("{\"if\":[{\"in\":[{\"var\":\"user.country\"},[\"DE\",\"FR\"]]},"
                       "{\"cat\":[\"x-\",{\"var\":\"targetingKey\"}]},"
                       "{\"fractional\":[{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"targetingKey\"}]},"
                       "[\"a\",1],[\"b\",1]]}]}");
    rd_value d = parse("{\"targetingKey\":\"u-1\",\"user\":{\"country\":\"US\"}}");
    rd_logic *l;
    rd_err err;
    assert_int_equal(rd_logic_compile(&r, NULL, &l, &err), RD_OK);
    rd_logic_env env = {.flagd = true, .flag_key = "f", .flag_key_len = 1, .timestamp = 1};
    rd_value out;
    assert_int_equal(rd_logic_eval(l, &d, &env, &scratch, &out, &err), RD_OK);
    rd_arena_reset(&scratch);
    int allocs = 0;
    rd_set_allocator(count_alloc, &allocs);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rd_logic_eval(l, &d, &env, &scratch, &out, &err), RD_OK);
        rd_arena_reset(&scratch);
    }
    rd_set_allocator(NULL, NULL);
    assert_int_equal(allocs, 0);
    rd_logic_free(l);
}

static void test_scratch_limit_is_an_error_not_a_crash(void **state)
{
    (void)state;
    rd_arena tiny;
    rd_arena_init(&tiny, 64);
    rd_value r =
        parse("{\"cat\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"b\"]}");
    rd_value d = parse("{}"), out;
    rd_logic *l;
    rd_err err;
    assert_int_equal(rd_logic_compile(&r, NULL, &l, &err), RD_OK);
    assert_int_equal(rd_logic_eval(l, &d, NULL, &tiny, &out, &err), RD_ENOMEM);
    rd_logic_free(l);
    rd_arena_deinit(&tiny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_operator_names_path),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_fractional_v2_vectors),
        cmocka_unit_test(test_fractional_fallbacks),
        cmocka_unit_test(test_sem_ver),
        cmocka_unit_test(test_string_affixes),
        cmocka_unit_test(test_flagd_enrichment),
        cmocka_unit_test(test_go_engine_semantics),
        cmocka_unit_test(test_eval_allocates_nothing_when_warm),
        cmocka_unit_test(test_scratch_limit_is_an_error_not_a_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
