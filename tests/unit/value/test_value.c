/* Values: rd_num_format prints exactly what JavaScript's String(x) prints (expectations
 * taken from Node), rd_num_format_fixed exactly what Go's strconv.FormatFloat(x, 'f', -1,
 * 64) prints; rd_value_get resolves repeated keys to the last one; rd_value_equal is deep,
 * symmetric, order-blind for members and compares numbers as doubles; rd_value_copy
 * yields a value that owes nothing to the source arena. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "riskd/json.h"
#include "riskd/value.h"

/* NAN and INFINITY are floats; spelled as doubles to keep -Wdouble-promotion quiet. */
#define D_NAN ((double)NAN)
#define D_INF ((double)INFINITY)

/* ---- number formatting ---- */

struct numcase {
    double n;
    const char *want;
};

/* Every `want` is Node 20's String(n) for the same literal. */
static const struct numcase js_cases[] = {
    {0.0, "0"},
    {-0.0, "0"},
    {1.0, "1"},
    {-1.0, "-1"},
    {-1.5, "-1.5"},
    {0.1, "0.1"},
    {0.30000000000000004, "0.30000000000000004"}, /* 0.1 + 0.2 */
    {1e21, "1e+21"},
    {-1e21, "-1e+21"},
    {999999999999999999999.0, "1e+21"},
    {1e20, "100000000000000000000"},
    {123456789012345680000.0, "123456789012345680000"},
    {1e-6, "0.000001"},
    {0.000001234, "0.000001234"},
    {1e-7, "1e-7"},
    {1.5e-7, "1.5e-7"},
    {2.5e-7, "2.5e-7"},
    {5e-7, "5e-7"},
    {1.23e-18, "1.23e-18"},
    {1e-300, "1e-300"},
    {5e-324, "5e-324"},
    {-5e-324, "-5e-324"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {9007199254740992.0, "9007199254740992"},   /* 2^53 */
    {9007199254740993.0, "9007199254740992"},   /* reads as 2^53 */
    {9007199254740991.0, "9007199254740991"},   /* RD_MAX_SAFE_INTEGER */
    {18014398509481984.0, "18014398509481984"}, /* 2^54 */
    {1.0 / 3.0, "0.3333333333333333"},
    {2.0 / 3.0, "0.6666666666666666"},
    {100.0, "100"},
    {1234.5678, "1234.5678"},
    {4.35, "4.35"},
    {123.456, "123.456"},
    {0.5, "0.5"},
    {1e15 + 0.3, "1000000000000000.2"},
    {1e100, "1e+100"},
};

/* Report every mismatch of a table, then fail once. */
static void check_js(const struct numcase *c, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char buf[RD_NUM_BUF];
        memset(buf, 'X', sizeof(buf));
        size_t len = rd_num_format(c[i].n, buf);
        if (strcmp(buf, c[i].want) != 0 || len != strlen(c[i].want)) {
            print_error("rd_num_format(%.17g): got \"%s\" (len %zu), want \"%s\"\n", c[i].n, buf, len,
                        c[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_num_format_js(void **state)
{
    (void)state;
    check_js(js_cases, sizeof(js_cases) / sizeof(js_cases[0]));
}

/* The integer fast path: integers print as digits; past its range (and past int64's, where
 * the cast would be undefined: the fuzzer's find 4e20) the shortest form takes over. */
static void test_num_format_integers(void **state)
{
    (void)state;
    const struct numcase c[] = {{1, "1"},
                                {-7, "-7"},
                                {129, "129"},
                                {999999999999999.0, "999999999999999"},
                                {1e15, "1000000000000000"},
                                {4e20, "400000000000000000000"},
                                {1e21, "1e+21"},
                                {-9.3e18, "-9300000000000000000"},
                                {0.5, "0.5"},
                                {-0.0, "0"}};
    check_js(c, sizeof(c) / sizeof(c[0]));
}

static void test_num_format_nonfinite(void **state)
{
    (void)state;
    const struct numcase c[] = {{D_NAN, "NaN"}, {-D_NAN, "NaN"}, {D_INF, "Infinity"}, {-D_INF, "-Infinity"}};
    check_js(c, sizeof(c) / sizeof(c[0]));
}

/* Powers of two whose shortest form has a neighbour that is closer than correct rounding
 * at the same precision (the gap below a power of two is half the gap above). Node prints
 * 16 digits for each; a "round at p digits, then check" search finds 17. */
static void test_num_format_powers_of_two(void **state)
{
    (void)state;
    const struct numcase c[] = {
        {0x1p-24, "5.960464477539063e-8"}, /* exact: 5.9604644775390625e-8 */
        {0x1p-44, "5.684341886080802e-14"},    {0x1p89, "6.189700196426902e+26"},
        {0x1p-1017, "7.120236347223045e-307"}, {-0x1p-24, "-5.960464477539063e-8"},
    };
    check_js(c, sizeof(c) / sizeof(c[0]));
}

static void check_fixed(const struct numcase *c, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char buf[RD_NUM_FIXED_BUF];
        size_t len = rd_num_format_fixed(c[i].n, buf);
        if (strcmp(buf, c[i].want) != 0 || len != strlen(c[i].want)) {
            print_error("rd_num_format_fixed(%.17g): got \"%s\" (len %zu), want \"%s\"\n", c[i].n, buf, len,
                        c[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* Every `want` is Go's strconv.FormatFloat(n, 'f', -1, 64). */
static void test_num_format_fixed_go(void **state)
{
    (void)state;
    const struct numcase c[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {1.0, "1"},
        {-1.5, "-1.5"},
        {0.1, "0.1"},
        {0.30000000000000004, "0.30000000000000004"},
        {123.456, "123.456"},
        {1e21, "1000000000000000000000"},
        {-1e21, "-1000000000000000000000"},
        {1e20, "100000000000000000000"},
        {123456789012345680000.0, "123456789012345680000"},
        {1e-6, "0.000001"},
        {1e-7, "0.0000001"},
        {1.5e-7, "0.00000015"},
        {9007199254740992.0, "9007199254740992"},
        {1.0 / 3.0, "0.3333333333333333"},
        {1234.5678, "1234.5678"},
        {6.02214076e23, "602214076000000000000000"},
        {D_NAN, "NaN"},
        {D_INF, "+Inf"},
        {-D_INF, "-Inf"},
    };
    check_fixed(c, sizeof(c) / sizeof(c[0]));
}

static void test_num_format_fixed_extremes(void **state)
{
    (void)state;
    static char want[RD_NUM_FIXED_BUF];
    /* 5e-324: "0." then 323 zeros then "5". */
    size_t n = 0;
    want[n++] = '0';
    want[n++] = '.';
    for (int i = 0; i < 323; i++)
        want[n++] = '0';
    want[n++] = '5';
    want[n] = '\0';
    const struct numcase tiny = {5e-324, want};
    check_fixed(&tiny, 1);

    /* The largest double: 17976931348623157 followed by 292 zeros, 309 digits. */
    n = 0;
    want[n++] = '-';
    memcpy(want + n, "17976931348623157", 17);
    n += 17;
    for (int i = 0; i < 292; i++)
        want[n++] = '0';
    want[n] = '\0';
    assert_int_equal(n, 310);
    const struct numcase big[] = {{1.7976931348623157e308, want + 1}, {-1.7976931348623157e308, want}};
    check_fixed(big, 2);

    /* 1e300 is exactly a 1 and 300 zeros in shortest form. */
    n = 0;
    want[n++] = '1';
    for (int i = 0; i < 300; i++)
        want[n++] = '0';
    want[n] = '\0';
    const struct numcase e300 = {1e300, want};
    check_fixed(&e300, 1);
}

static void test_num_format_fixed_powers_of_two(void **state)
{
    (void)state;
    const struct numcase c[] = {
        {0x1p-24, "0.00000005960464477539063"},
        {0x1p89, "618970019642690200000000000"},
    };
    check_fixed(c, sizeof(c) / sizeof(c[0]));
}

/* ---- lookup and equality ---- */

static const rd_member dup_members[] = {
    {"a", 1, {.type = RD_VNUMBER, .u.n = 1}}, {"b", 1, {.type = RD_VNUMBER, .u.n = 2}},
    {"a", 1, {.type = RD_VNUMBER, .u.n = 3}}, {"a\0b", 3, {.type = RD_VNUMBER, .u.n = 4}},
    {"", 0, {.type = RD_VNUMBER, .u.n = 5}},
};

static void test_get(void **state)
{
    (void)state;
    rd_value obj = {.type = RD_VOBJECT, .len = 5, .u.members = dup_members};
    const rd_value *v = rd_value_get(&obj, "a", 1);
    assert_non_null(v);
    assert_true(v->u.n == 3.0); /* the last "a" wins */
    v = rd_value_get(&obj, "b", 1);
    assert_non_null(v);
    assert_true(v->u.n == 2.0);
    v = rd_value_get(&obj, "a\0b", 3); /* keys are compared by length, not as C strings */
    assert_non_null(v);
    assert_true(v->u.n == 4.0);
    v = rd_value_get(&obj, "", 0);
    assert_non_null(v);
    assert_true(v->u.n == 5.0);
    assert_null(rd_value_get(&obj, "ab", 2));
    assert_null(rd_value_get(&obj, "c", 1));
    assert_null(rd_value_get(&obj, "a\0c", 3));
    /* A key is matched whole: "ab" (len 1) is "a". */
    v = rd_value_get(&obj, "ab", 1);
    assert_non_null(v);
    assert_true(v->u.n == 3.0);

    rd_value arr = {.type = RD_VARRAY, .len = 0};
    rd_value str = rd_value_string("a", 1);
    assert_null(rd_value_get(&arr, "a", 1));
    assert_null(rd_value_get(&str, "a", 1));
    assert_null(rd_value_get(NULL, "a", 1));
    rd_value empty = {.type = RD_VOBJECT, .len = 0};
    assert_null(rd_value_get(&empty, "a", 1));
}

static rd_arena arena;

static int arena_setup(void **state)
{
    (void)state;
    rd_arena_init(&arena, 0);
    return 0;
}

static int arena_teardown(void **state)
{
    (void)state;
    rd_arena_deinit(&arena);
    return 0;
}

static rd_value parse_in(rd_arena *a, const char *json)
{
    rd_value v;
    rd_err err;
    if (rd_json_parse(json, strlen(json), NULL, a, &v, &err) != RD_OK)
        fail_msg("parse %s: %s", json, err.msg);
    return v;
}

static rd_value parse(const char *json) { return parse_in(&arena, json); }

static void expect_equal(const char *x, const char *y, bool want)
{
    rd_value a = parse(x), b = parse(y);
    if (rd_value_equal(&a, &b) != want || rd_value_equal(&b, &a) != want)
        fail_msg("equal(%s, %s) should be %s both ways", x, y, want ? "true" : "false");
    if (!rd_value_equal(&a, &a) || !rd_value_equal(&b, &b))
        fail_msg("equal is not reflexive on %s / %s", x, y);
}

static void test_equal(void **state)
{
    (void)state;
    expect_equal("null", "null", true);
    expect_equal("true", "true", true);
    expect_equal("true", "false", false);
    expect_equal("1", "1.0", true);
    expect_equal("100", "1e2", true);
    expect_equal("0", "-0", true); /* as doubles, 0 == -0 */
    expect_equal("0.3", "0.30000000000000004", false);
    expect_equal("9007199254740993", "9007199254740992", true); /* same double */
    expect_equal("0", "false", false);
    expect_equal("null", "false", false);
    expect_equal("\"1\"", "1", false);
    expect_equal("\"\"", "null", false);
    expect_equal("[]", "{}", false);
    expect_equal("\"abc\"", "\"abc\"", true);
    expect_equal("\"abc\"", "\"abd\"", false);
    expect_equal("\"ab\"", "\"abc\"", false);
    expect_equal("\"a\\u0000b\"", "\"a\\u0000c\"", false); /* bytes after a NUL count */
    expect_equal("\"a\\u0000b\"", "\"a\\u0000b\"", true);
    expect_equal("\"\\u00e9\"", "\"\xc3\xa9\"", true);
    expect_equal("[1,2,3]", "[1,2,3]", true);
    expect_equal("[1,2,3]", "[3,2,1]", false); /* arrays are ordered */
    expect_equal("[1,2]", "[1,2,3]", false);
    expect_equal("{\"a\":1,\"b\":[1,{\"c\":null}]}", "{\"b\":[1,{\"c\":null}],\"a\":1}", true);
    expect_equal("{\"a\":1,\"b\":[1,{\"c\":null}]}", "{\"b\":[1,{\"c\":false}],\"a\":1}", false);
    expect_equal("{\"a\":1}", "{\"a\":1,\"b\":2}", false);
    expect_equal("{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":2}", false);
    expect_equal("{\"a\":{\"x\":[[]]}}", "{\"a\":{\"x\":[[]]}}", true);
    expect_equal("{\"a\":{\"x\":[[]]}}", "{\"a\":{\"x\":[{}]}}", false);

    /* NaN is not equal to itself as a double. */
    rd_value nan = rd_value_number(D_NAN);
    assert_false(rd_value_equal(&nan, &nan));
}

static void test_equal_symmetric_with_repeated_keys(void **state)
{
    (void)state;
    /* Values built by hand may repeat a key (rd_value_get defines what that means).
     * {"a":1,"a":1} and {"a":1,"b":2} have the same member count but are not the same
     * object: "b" is missing from the first. Equality must say so both ways. */
    static const rd_member twice_a[] = {
        {"a", 1, {.type = RD_VNUMBER, .u.n = 1}},
        {"a", 1, {.type = RD_VNUMBER, .u.n = 1}},
    };
    static const rd_member a_and_b[] = {
        {"a", 1, {.type = RD_VNUMBER, .u.n = 1}},
        {"b", 1, {.type = RD_VNUMBER, .u.n = 2}},
    };
    rd_value x = {.type = RD_VOBJECT, .len = 2, .u.members = twice_a};
    rd_value y = {.type = RD_VOBJECT, .len = 2, .u.members = a_and_b};
    assert_false(rd_value_equal(&y, &x));
    assert_false(rd_value_equal(&x, &y));
}

static void test_vtype_name(void **state)
{
    (void)state;
    assert_string_equal(rd_vtype_name(RD_VNULL), "null");
    assert_string_equal(rd_vtype_name(RD_VBOOL), "boolean");
    assert_string_equal(rd_vtype_name(RD_VNUMBER), "number");
    assert_string_equal(rd_vtype_name(RD_VSTRING), "string");
    assert_string_equal(rd_vtype_name(RD_VARRAY), "array");
    assert_string_equal(rd_vtype_name(RD_VOBJECT), "object");
}

/* ---- deep copy ---- */

static const char *copy_docs[] = {
    "null",
    "-0.5",
    "\"a\\u0000b\\u00e9\"",
    "[]",
    "{}",
    "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},"
    "\"targeting\":{\"if\":[{\"==\":[{\"var\":\"email\"},\"a@b.c\"]},\"on\",null]}}},"
    "\"list\":[1,2.5,-3e-7,\"x\",[[],{}],{\"k\\n\":\"v\\t\"}],\"\":\"\"}",
};

static void test_copy_outlives_source(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(copy_docs) / sizeof(copy_docs[0]); i++) {
        rd_arena src_arena, fresh_arena;
        rd_arena_init(&src_arena, 0);
        rd_arena_init(&fresh_arena, 0);
        rd_value src = parse_in(&src_arena, copy_docs[i]);
        rd_value dst;
        memset(&dst, 0, sizeof(dst));
        assert_int_equal(rd_value_copy(&arena, &src, &dst), RD_OK);

        /* Reuse the source arena's memory for garbage, then give it back entirely: a copy
         * that still pointed into it would now read 0xdd bytes (or freed memory, which
         * ASan reports). */
        size_t used = src_arena.used_bytes;
        rd_arena_reset(&src_arena);
        if (used) {
            void *junk = rd_arena_alloc(&src_arena, used);
            assert_non_null(junk);
            memset(junk, 0xdd, used);
        }
        rd_arena_deinit(&src_arena);

        rd_value fresh = parse_in(&fresh_arena, copy_docs[i]);
        if (!rd_value_equal(&dst, &fresh))
            fail_msg("copy of %s differs from a fresh parse", copy_docs[i]);
        rd_buf b1, b2;
        rd_buf_init(&b1);
        rd_buf_init(&b2);
        assert_int_equal(rd_json_write(&b1, &dst), RD_OK);
        assert_int_equal(rd_json_write(&b2, &fresh), RD_OK);
        assert_string_equal(rd_buf_cstr(&b1), rd_buf_cstr(&b2));
        rd_buf_deinit(&b1);
        rd_buf_deinit(&b2);
        rd_arena_deinit(&fresh_arena);
    }
}

static void test_copy_string_keeps_nul_and_len(void **state)
{
    (void)state;
    char src_bytes[] = {'x', '\0', 'y'};
    rd_value src = rd_value_string(src_bytes, 3);
    rd_value dst;
    assert_int_equal(rd_value_copy(&arena, &src, &dst), RD_OK);
    assert_int_equal(dst.type, RD_VSTRING);
    assert_int_equal(dst.len, 3);
    assert_ptr_not_equal(dst.u.s, src_bytes);
    assert_memory_equal(dst.u.s, "x\0y", 4); /* NUL-terminated after len */
    src_bytes[2] = 'z';
    assert_int_equal(dst.u.s[2], 'y');

    /* Hand-built object with a NUL inside a key. */
    static const rd_member m[] = {{"k\0v", 3, {.type = RD_VBOOL, .u.b = true}}};
    rd_value obj = {.type = RD_VOBJECT, .len = 1, .u.members = m};
    assert_int_equal(rd_value_copy(&arena, &obj, &dst), RD_OK);
    assert_ptr_not_equal(dst.u.members, m);
    assert_int_equal(dst.u.members[0].key_len, 3);
    assert_memory_equal(dst.u.members[0].key, "k\0v", 4);
    assert_true(rd_value_equal(&obj, &dst));
}

static void test_copy_out_of_memory(void **state)
{
    (void)state;
    rd_value src = parse(
        "{\"a\":[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",{\"b\":\"yyyyyyyyyyyyyyyy\"}],\"c\":\"z\"}");
    /* Every arena limit too small for the whole copy gives RD_ENOMEM and leaves dst alone. */
    int ok_at = -1;
    for (int limit = 16; limit <= 2048; limit += 16) {
        rd_arena small;
        rd_arena_init(&small, (size_t)limit);
        rd_value dst = {.type = RD_VBOOL, .len = 77};
        int rc = rd_value_copy(&small, &src, &dst);
        if (rc == RD_OK) {
            assert_true(rd_value_equal(&src, &dst));
            ok_at = limit;
            rd_arena_deinit(&small);
            break;
        }
        assert_int_equal(rc, RD_ENOMEM);
        assert_int_equal(dst.type, RD_VBOOL);
        assert_int_equal(dst.len, 77);
        rd_arena_deinit(&small);
    }
    assert_true(ok_at > 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_format_js),
        cmocka_unit_test(test_num_format_nonfinite),
        cmocka_unit_test(test_num_format_integers),
        cmocka_unit_test(test_num_format_powers_of_two),
        cmocka_unit_test(test_num_format_fixed_go),
        cmocka_unit_test(test_num_format_fixed_extremes),
        cmocka_unit_test(test_num_format_fixed_powers_of_two),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_equal_symmetric_with_repeated_keys),
        cmocka_unit_test(test_vtype_name),
        cmocka_unit_test(test_copy_outlives_source),
        cmocka_unit_test(test_copy_string_keeps_nul_and_len),
        cmocka_unit_test(test_copy_out_of_memory),
    };
    return cmocka_run_group_tests(tests, arena_setup, arena_teardown);
}
