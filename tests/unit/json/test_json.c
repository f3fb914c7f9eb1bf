/* JSON: the parser accepts exactly RFC 8259 (what JavaScript's JSON.parse accepts, given
 * UTF-8), refuses the rest with RD_EPARSE naming line and column, enforces every limit
 * with RD_ELIMIT, reads numbers as the nearest double (as JSON.parse and strtod do), keeps
 * NULs inside strings, never reads past len, and leaves *out untouched on any failure,
 * out-of-memory included. The writer's output is byte for byte Node's JSON.stringify for
 * the same documents, and parse -> write -> parse is the identity. */
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

static rd_arena arena;

static int setup(void **state)
{
    (void)state;
    rd_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_arena_deinit(&arena);
    rd_set_allocator(NULL, NULL);
    return 0;
}

/* Parse len bytes from a heap copy of exactly len bytes (no NUL after it), so ASan
 * reports any read past the end. */
static int parse_exact(const char *text, size_t len, const rd_json_limits *lim, rd_value *out, rd_err *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, text, len);
    int rc = rd_json_parse(copy, len, lim, &arena, out, err);
    free(copy);
    return rc;
}

static rd_value parse_ok_n(const char *text, size_t len, const rd_json_limits *lim)
{
    rd_value v;
    rd_err err;
    int rc = parse_exact(text, len, lim, &v, &err);
    if (rc != RD_OK)
        fail_msg("parse of \"%.*s\" failed: %d %s", (int)len, text, rc, err.msg);
    return v;
}

static rd_value parse_ok(const char *text) { return parse_ok_n(text, strlen(text), NULL); }

static const rd_value sentinel = {.type = RD_VSTRING, .len = 12345, .u.s = "sentinel"};

/* Parse and check for a refusal with code, *out untouched and err filled; print what
 * differs and return 1, or return 0. Tables use it to list every offender at once. */
static rd_err last_err;

static int refused(const char *text, size_t len, const rd_json_limits *lim, int code)
{
    rd_value out = sentinel;
    memset(&last_err, 0, sizeof(last_err));
    int rc = parse_exact(text, len, lim, &out, &last_err);
    if (rc != code || last_err.code != code || last_err.msg[0] == '\0' ||
        memcmp(&out, &sentinel, sizeof(out)) != 0) {
        print_error("parse of \"%.*s\": got %d (%s), want %d\n", (int)len, text, rc, rc ? last_err.msg : "ok",
                    code);
        return 1;
    }
    return 0;
}

/* Expect a refusal; returns the message for further checks. */
static const char *expect_fail_n(const char *text, size_t len, const rd_json_limits *lim, int code)
{
    assert_int_equal(refused(text, len, lim, code), 0);
    return last_err.msg;
}

/* Every string of a table refused with code. */
static void expect_all_fail(const char *const *texts, size_t n, int code)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += refused(texts[i], strlen(texts[i]), NULL, code);
    assert_int_equal(bad, 0);
}

static const char *expect_fail(const char *text, int code)
{
    return expect_fail_n(text, strlen(text), NULL, code);
}

/* RD_EPARSE whose message starts with "line L, column C". */
static void expect_parse_error_at(const char *text, int line, int col)
{
    const char *msg = expect_fail(text, RD_EPARSE);
    char want[64];
    snprintf(want, sizeof(want), "line %d, column %d", line, col);
    if (strncmp(msg, want, strlen(want)) != 0)
        fail_msg("parse of \"%s\": message \"%s\" does not start with \"%s\"", text, msg, want);
}

/* ---- strictness ---- */

static void test_rejects_non_json(void **state)
{
    (void)state;
    /* Each is a SyntaxError for JSON.parse. */
    static const char *bad[] = {
        "NaN",
        "[NaN]",
        "Infinity",
        "-Infinity",
        "[Infinity]",
        "nan",
        "[-NaN]",
        "infinity",
        "// c\n1",
        "[1] // c",
        "/* c */ 1",
        "[1 /* c */]",
        "# c\n1",
        "[1,]",
        "{\"a\":1,}",
        "[,1]",
        "[1,,2]",
        "{,}",
        "'a'",
        "['a']",
        "{\"a\":'b'}",
        "{a:1}",
        "{1:1}",
        "True",
        "FALSE",
        "Null",
        "nul",
        "undefined",
        "+1",
        ".5",
        "0x10",
        "1e",
        "1e+",
        "-",
        "[-]",
        "1.5.",
        "--1",
        "\"\\x41\"",
        "\"\\U0041\"",
        "\"\\'\"",
        "\"\\a\"",
        "\"\\u12G4\"",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "[1 2]",
        "{\"a\"}",
        "[}",
        "{]",
        "\xef\xbb\xbf"
        "1", /* a byte order mark is not whitespace to JSON.parse */
        "\f1",
        "\v1",
        "1\f",
    };
    expect_all_fail(bad, sizeof(bad) / sizeof(bad[0]), RD_EPARSE);
}

/* JSON strings, member names included, use double quotes only. */
static void test_rejects_single_quoted_keys(void **state)
{
    (void)state;
    static const char *bad[] = {"{'a':1}", "[1,{'x':2}]", "{\"a\":{'b':null}}"};
    expect_all_fail(bad, sizeof(bad) / sizeof(bad[0]), RD_EPARSE);
}

static void test_trailing_text_names_position(void **state)
{
    (void)state;
    expect_parse_error_at("1 2", 1, 3);
    expect_parse_error_at("{\"a\":1}x", 1, 8);
    expect_parse_error_at("[1]\n x", 2, 2);
    expect_parse_error_at("[1,2]\n\n  ]", 3, 3);
    expect_parse_error_at("\"a\" \"b\"", 1, 5);
    expect_parse_error_at("null null", 1, 6);
    expect_fail_n("1\0", 2, NULL, RD_EPARSE); /* a NUL is text too */
    /* Trailing whitespace of every kind JSON allows is fine. */
    rd_value v = parse_ok(" \t\r\n[1]\r\n\t ");
    assert_int_equal(v.type, RD_VARRAY);
}

static void test_truncated_input(void **state)
{
    (void)state;
    static const char *cut[] = {
        "",      "   ",     "{",   "[",    "[1,", "{\"a\":", "{\"a\"", "\"abc",
        "\"a\\", "\"\\u12", "tru", "fals", "nul", "-",       "1e",     "{\"a\":[1,{\"b\":"};
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        const char *msg = expect_fail(cut[i], RD_EPARSE);
        if (!strstr(msg, "unexpected end"))
            fail_msg("truncated \"%s\": message \"%s\" does not say \"unexpected end\"", cut[i], msg);
        if (strncmp(msg, "line ", 5) != 0 && strcmp(msg, "unexpected end of input") != 0)
            fail_msg("truncated \"%s\": message \"%s\" has no position", cut[i], msg);
    }
}

/* RFC 8259: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT );
 * frac = decimal-point 1*DIGIT. JSON.parse refuses each of these. */
static void test_rejects_malformed_numbers(void **state)
{
    (void)state;
    static const char *bad[] = {"1.", "[1.]", "1.e5", "[2.,3]", "-1.", "01", "00", "-01", "[00]", "-00.5"};
    expect_all_fail(bad, sizeof(bad) / sizeof(bad[0]), RD_EPARSE);
}

/* RFC 8259 §7: control characters U+0000-U+001F must be escaped inside strings. */
static void test_rejects_raw_control_chars(void **state)
{
    (void)state;
    static const char *bad[] = {"\"a\tb\"", "\"a\nb\"", "\"\x01\"", "\"\x1f\"", "{\"k\x02\":1}"};
    expect_all_fail(bad, sizeof(bad) / sizeof(bad[0]), RD_EPARSE);
    expect_fail_n("\"a\0b\"", 5, NULL, RD_EPARSE);
    /* DEL is not a control character for JSON. */
    rd_value v = parse_ok("\"\x7f\"");
    assert_int_equal(v.len, 1);
}

static void test_rejects_invalid_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\"\xff\"",     /* never valid */
        "\"\x80\"",     /* lone continuation byte */
        "\"\xc3\"",     /* truncated 2-byte sequence */
        "\"\xe2\x82\"", /* truncated 3-byte sequence */
        "\"\xfe\"",
        "\"\xf8\x88\x80\x80\x80\"", /* 5-byte form */
        "[\"ok\",\"\xc3\x28\"]",
        "{\"\xff\":1}",
    };
    expect_all_fail(bad, sizeof(bad) / sizeof(bad[0]), RD_EPARSE);
    /* Valid multi-byte text passes through unchanged. */
    rd_value v = parse_ok("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    assert_int_equal(v.len, 9);
    assert_memory_equal(v.u.s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
}

/* RFC 3629 forbids overlong forms, encoded surrogates and code points above U+10FFFF;
 * a "valid UTF-8" check must refuse them (an overlong NUL smuggles a NUL past filters). */
static void test_rejects_non_shortest_and_out_of_range_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\"\xc0\x80\"",         /* overlong U+0000 */
        "\"\xc1\xbf\"",         /* overlong U+007F */
        "\"\xe0\x80\x80\"",     /* overlong 3-byte */
        "\"\xf0\x80\x80\x80\"", /* overlong 4-byte */
        "\"\xed\xa0\x80\"",     /* U+D800 encoded */
        "\"\xed\xbf\xbf\"",     /* U+DFFF encoded */
        "\"\xf4\x90\x80\x80\"", /* U+110000 */
    };
    expect_all_fail(bad, sizeof(bad) / sizeof(bad[0]), RD_EPARSE);
}

static void test_unpaired_surrogate_escapes(void **state)
{
    (void)state;
    /* json-c accepts a lone \uD800 / \uDC00; what it must never produce is the invalid
     * UTF-8 encoding of a surrogate (ED A0 80). The accepted form is U+FFFD, as Go does. */
    static const char *lone[] = {"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800x\"", "\"\\ud800\\u0041\""};
    for (size_t i = 0; i < sizeof(lone) / sizeof(lone[0]); i++) {
        rd_value v;
        rd_err err;
        int rc = parse_exact(lone[i], strlen(lone[i]), NULL, &v, &err);
        if (rc == RD_EPARSE)
            continue;
        assert_int_equal(rc, RD_OK);
        assert_int_equal(v.type, RD_VSTRING);
        assert_true(v.len >= 3);
        assert_memory_equal(v.u.s, "\xef\xbf\xbd", 3);
        for (uint32_t k = 0; k < v.len; k++)
            assert_int_not_equal((unsigned char)v.u.s[k], 0xed);
    }
    /* A proper pair decodes to the 4-byte character. */
    rd_value v = parse_ok("\"\\ud83d\\ude00\"");
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.u.s, "\xf0\x9f\x98\x80", 4);
}

/* ---- limits ---- */

static void test_depth_limit(void **state)
{
    (void)state;
    rd_json_limits lim = {.max_depth = 3};
    const char *ok[] = {"[[[1]]]", "{\"a\":{\"b\":{\"c\":1}}}", "[[[]]]", "[{\"a\":[]}]", "1", "[]"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        parse_ok_n(ok[i], strlen(ok[i]), &lim);
    const char *deep[] = {"[[[[1]]]]", "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}", "[[[[[[[[[[1]]]]]]]]]]"};
    for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++)
        expect_fail_n(deep[i], strlen(deep[i]), &lim, RD_ELIMIT);

    /* The default is 64. */
    char doc[200];
    for (int depth = 64; depth <= 65; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            doc[n++] = '[';
        doc[n++] = '0';
        for (int i = 0; i < depth; i++)
            doc[n++] = ']';
        if (depth == 64)
            parse_ok_n(doc, n, NULL);
        else
            expect_fail_n(doc, n, NULL, RD_ELIMIT);
    }
}

/* max_depth is the nesting of arrays and objects, whether or not the innermost is empty. */
static void test_depth_limit_counts_empty_containers(void **state)
{
    (void)state;
    rd_json_limits three = {.max_depth = 3}, one = {.max_depth = 1};
    parse_ok_n("[1]", 3, &one);
    int bad = refused("[[[[]]]]", 8, &three, RD_ELIMIT);
    bad += refused("[[[{}]]]", 8, &three, RD_ELIMIT);
    bad += refused("{\"a\":{\"b\":{\"c\":{}}}}", 20, &three, RD_ELIMIT);
    bad += refused("[[]]", 4, &one, RD_ELIMIT);
    bad += refused("{\"a\":[]}", 8, &one, RD_ELIMIT);
    assert_int_equal(bad, 0);
}

static void test_node_limit(void **state)
{
    (void)state;
    rd_json_limits lim = {.max_nodes = 3};
    parse_ok_n("[1,2]", 5, &lim);              /* array + 2 items */
    parse_ok_n("{\"a\":1,\"b\":2}", 13, &lim); /* keys are not values */
    parse_ok_n("[[[]]]", 6, &lim);
    expect_fail_n("[1,2,3]", 7, &lim, RD_ELIMIT);
    expect_fail_n("{\"a\":1,\"b\":2,\"c\":3}", 19, &lim, RD_ELIMIT);
    expect_fail_n("[[[[]]]]", 8, &lim, RD_ELIMIT);
    lim.max_nodes = 1;
    parse_ok_n("\"x\"", 3, &lim);
    expect_fail_n("[0]", 3, &lim, RD_ELIMIT);
}

static void test_byte_limit(void **state)
{
    (void)state;
    rd_json_limits lim = {.max_bytes = 9};
    parse_ok_n("[1,2,3,4]", 9, &lim);
    const char *msg = expect_fail_n("[1,2,3,45]", 10, &lim, RD_ELIMIT);
    assert_non_null(strstr(msg, "9"));
    /* Whitespace counts: the limit is on bytes read, not on the value. */
    expect_fail_n("[1,2,3,4] ", 10, &lim, RD_ELIMIT);
}

/* ---- values ---- */

static void test_scalars_at_end_of_input(void **state)
{
    (void)state;
    rd_value v = parse_ok("12");
    assert_int_equal(v.type, RD_VNUMBER);
    assert_true(v.u.n == 12.0);
    v = parse_ok("-0.5e3");
    assert_true(v.u.n == -500.0);
    v = parse_ok("0");
    assert_true(v.u.n == 0.0);
    v = parse_ok("1E2");
    assert_true(v.u.n == 100.0);
    v = parse_ok("5e-324");
    assert_true(v.u.n == 5e-324);
    v = parse_ok("1e-400"); /* underflows to 0, like JSON.parse */
    assert_true(v.u.n == 0.0);
    v = parse_ok("false");
    assert_int_equal(v.type, RD_VBOOL);
    assert_false(v.u.b);
    v = parse_ok("true");
    assert_true(v.u.b);
    v = parse_ok("null");
    assert_int_equal(v.type, RD_VNULL);
    v = parse_ok("\"\"");
    assert_int_equal(v.type, RD_VSTRING);
    assert_int_equal(v.len, 0);
    assert_string_equal(v.u.s, "");
}

static void test_negative_zero(void **state)
{
    (void)state;
    /* JSON.parse("-0") and Go's json both give -0, as they do for "-0.0". */
    rd_value v = parse_ok("-0.0");
    assert_true(v.u.n == 0.0 && signbit(v.u.n));
    v = parse_ok("-0");
    assert_true(v.u.n == 0.0 && signbit(v.u.n));
}

/* A JSON number is the double nearest its decimal value, as in JSON.parse; strtod is
 * the reference for that rounding. Integers beyond 64 bits must not saturate. */
static void test_big_integers(void **state)
{
    (void)state;
    static const char *ints[] = {
        "9007199254740993",       /* 2^53 + 1 */
        "9223372036854775807",    /* INT64_MAX */
        "9223372036854775808",    /* 2^63 */
        "-9223372036854775808",   /* INT64_MIN */
        "18446744073709551615",   /* UINT64_MAX */
        "18446744073709551616",   /* 2^64 */
        "36893488147419103232",   /* 2^65 */
        "100000000000000000000",  /* 1e20 */
        "-100000000000000000000", /* -1e20 */
        "-18446744073709551616",  /* -2^64 */
        "123456789012345678901234567890",
        "99999999999999999999999",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        rd_value v = parse_ok(ints[i]);
        double want = strtod(ints[i], NULL);
        if (v.type != RD_VNUMBER || v.u.n != want) {
            print_error("%s parsed as %.17g, want %.17g\n", ints[i], v.u.n, want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_number_out_of_range(void **state)
{
    (void)state;
    expect_fail("1e400", RD_EPARSE);
    expect_fail("-1e400", RD_EPARSE);
    expect_fail("1.7976931348623159e308", RD_EPARSE); /* rounds to Infinity in JSON.parse */
    expect_fail("{\"a\":[1,1e999]}", RD_EPARSE);
    rd_value v = parse_ok("1.7976931348623157e308");
    assert_true(v.u.n == 1.7976931348623157e308);
}

static void test_number_out_of_range_names_position(void **state)
{
    (void)state;
    /* json.h: RD_EPARSE messages give line and column, so a bad number in a long file
     * can be found. */
    const char *msg = expect_fail("{\n  \"a\": 1e400\n}", RD_EPARSE);
    if (strncmp(msg, "line 2", 6) != 0)
        fail_msg("message \"%s\" does not give the line of 1e400", msg);
    msg = expect_fail("[NaN]", RD_EPARSE);
    if (strncmp(msg, "line 1, column", 14) != 0)
        fail_msg("message \"%s\" does not give the position of NaN", msg);
}

static void test_strings_keep_nul(void **state)
{
    (void)state;
    rd_value v = parse_ok("\"a\\u0000b\"");
    assert_int_equal(v.type, RD_VSTRING);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.u.s, "a\0b", 4); /* and NUL-terminated after len */
    v = parse_ok("[\"\\u0000\"]");
    assert_int_equal(v.u.items[0].len, 1);
    assert_int_equal(v.u.items[0].u.s[0], '\0');
    v = parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"");
    assert_int_equal(v.len, 10);
    assert_memory_equal(v.u.s, "\"\\/\b\f\n\r\t\xc3\xa9", 10);
}

static void test_keys_keep_nul(void **state)
{
    (void)state;
    /* JSON.parse keeps "a\u0000b" and "a" as two different keys. Silently cutting the
     * key at the NUL changes the document (and here merges the two members). */
    rd_value v;
    rd_err err;
    const char *doc = "{\"a\\u0000b\":1,\"a\":2}";
    int rc = parse_exact(doc, strlen(doc), NULL, &v, &err);
    if (rc == RD_EPARSE)
        return; /* refusing such keys outright would also be honest */
    assert_int_equal(rc, RD_OK);
    assert_int_equal(v.len, 2);
    const rd_value *x = rd_value_get(&v, "a\0b", 3);
    const rd_value *y = rd_value_get(&v, "a", 1);
    assert_non_null(x);
    assert_non_null(y);
    assert_true(x->u.n == 1.0);
    assert_true(y->u.n == 2.0);
}

static void test_duplicate_keys_and_empties(void **state)
{
    (void)state;
    rd_value v = parse_ok("{\"a\":1,\"b\":0,\"a\":2}");
    assert_int_equal(v.type, RD_VOBJECT);
    const rd_value *a = rd_value_get(&v, "a", 1);
    assert_non_null(a);
    assert_true(a->u.n == 2.0); /* the last one wins, as in JSON.parse */
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_json_write(&b, &v), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "{\"a\":2,\"b\":0}"); /* JSON.stringify(JSON.parse(...)) */
    rd_buf_deinit(&b);

    v = parse_ok("{}");
    assert_int_equal(v.type, RD_VOBJECT);
    assert_int_equal(v.len, 0);
    v = parse_ok(" [ ] ");
    assert_int_equal(v.type, RD_VARRAY);
    assert_int_equal(v.len, 0);
    v = parse_ok("[{},[],\"\",{\"\":{}}]");
    assert_int_equal(v.len, 4);
    assert_int_equal(v.u.items[0].type, RD_VOBJECT);
    assert_int_equal(v.u.items[0].len, 0);
    assert_int_equal(v.u.items[1].type, RD_VARRAY);
    const rd_value *e = rd_value_get(&v.u.items[3], "", 0);
    assert_non_null(e);
    assert_int_equal(e->type, RD_VOBJECT);
}

static void test_non_nul_terminated_input(void **state)
{
    (void)state;
    /* parse_exact already copies every input into an exact-size heap block; these are the
     * inputs where a tokener most wants to look one byte further. */
    static const char *ok[] = {"12",  "-0.5e3", "false",         "true",    "null", "0",
                               "1e5", "[1,2]",  "{\"a\":\"b\"}", "\"abc\"", "1 ",   "[1]\n"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        parse_ok(ok[i]);
    static const char *bad[] = {"tru", "\"ab", "-", "1e", "[1,2] x", "{\"a\":1", "\"\\u00"};
    expect_all_fail(bad, sizeof(bad) / sizeof(bad[0]), RD_EPARSE);
    /* A prefix of a longer buffer: only len bytes are the document. */
    rd_value v = parse_ok_n("123456", 3, NULL);
    assert_true(v.u.n == 123.0);
    v = parse_ok_n("[1,2]garbage", 5, NULL);
    assert_int_equal(v.len, 2);
}

/* ---- out of memory ---- */

struct failing {
    size_t n;
    size_t fail_at;
};

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
    struct failing *f = ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (++f->n == f->fail_at)
        return NULL;
    return realloc(ptr, size);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    /* A document big enough to need several arena chunks. */
    rd_buf doc;
    rd_buf_init(&doc);
    rd_buf_puts(&doc, "{\"list\":[");
    for (int i = 0; i < 400; i++)
        rd_buf_printf(&doc, "%s{\"k%d\":\"value number %d\",\"n\":%d.5}", i ? "," : "", i, i, i);
    rd_buf_puts(&doc, "]}");
    assert_false(doc.oom);

    struct failing f = {0};
    int succeeded = 0;
    for (size_t at = 1; at < 100 && !succeeded; at++) {
        rd_arena a;
        rd_arena_init(&a, 0);
        f.n = 0;
        f.fail_at = at;
        rd_set_allocator(failing_alloc, &f);
        rd_value out = sentinel;
        rd_err err;
        int rc = rd_json_parse(doc.data, doc.len, NULL, &a, &out, &err);
        rd_set_allocator(NULL, NULL);
        if (rc == RD_OK) {
            succeeded = 1;
            assert_int_equal(out.type, RD_VOBJECT);
        } else {
            assert_int_equal(rc, RD_ENOMEM);
            assert_int_equal(err.code, RD_ENOMEM);
            assert_memory_equal(&out, &sentinel, sizeof(out));
        }
        rd_arena_deinit(&a);
    }
    assert_true(succeeded);

    /* An arena limit below the document's needs is reported the same way. */
    rd_arena small;
    rd_arena_init(&small, 1024);
    rd_value out = sentinel;
    rd_err err;
    assert_int_equal(rd_json_parse(doc.data, doc.len, NULL, &small, &out, &err), RD_ENOMEM);
    assert_memory_equal(&out, &sentinel, sizeof(out));
    rd_arena_deinit(&small);

    /* The writer reports a failed growth and its buffer reads as "". */
    rd_value v = parse_ok_n(doc.data, doc.len, NULL);
    rd_buf w;
    rd_buf_init(&w);
    f.n = 0;
    f.fail_at = 2;
    rd_set_allocator(failing_alloc, &f);
    int rc = rd_json_write(&w, &v);
    rd_set_allocator(NULL, NULL);
    assert_int_equal(rc, RD_ENOMEM);
    assert_true(w.oom);
    assert_string_equal(rd_buf_cstr(&w), "");
    rd_buf_deinit(&w);
    rd_buf_deinit(&doc);
}

/* ---- writer ---- */

static const char *write_value(rd_buf *b, const rd_value *v)
{
    rd_buf_reset(b);
    assert_int_equal(rd_json_write(b, v), RD_OK);
    return rd_buf_cstr(b);
}

static void test_write_string_escapes(void **state)
{
    (void)state;
    /* JSON.stringify of the string holding code units 0..127, from Node. */
    static const char want[] =
        "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
        "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d"
        "\\u001e\\u001f !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`"
        "abcdefghijklmnopqrstuvwxyz{|}~\x7f\"";
    char all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)i;
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_json_write_string(&b, all, sizeof(all)), RD_OK);
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, sizeof(want) - 1);

    /* Non-ASCII passes through as UTF-8, U+2028 included (JSON.stringify leaves it). */
    rd_buf_reset(&b);
    const char *u = "\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8";
    assert_int_equal(rd_json_write_string(&b, u, strlen(u)), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "\"\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8\"");

    rd_buf_reset(&b);
    assert_int_equal(rd_json_write_string(&b, "", 0), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "\"\"");

    /* Invalid UTF-8 becomes U+FFFD byte by byte, so the output always parses: a stray byte,
     * a character cut short at the end (a truncated message), an overlong form, a surrogate.
     * The service found it: an error message cut at its buffer's end made a reply not JSON. */
    rd_buf_reset(&b);
    const char *bad = "a\xff"
                      "b\xc0\xaf"
                      "c\xed\xa0\x80"
                      "d\xc3";
    assert_int_equal(rd_json_write_string(&b, bad, strlen(bad)), RD_OK);
    assert_string_equal(rd_buf_cstr(&b), "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\"");

    /* Keys are escaped like strings. */
    static const rd_member m[] = {{"a\"b\n\0", 5, {.type = RD_VNULL}}};
    rd_value obj = {.type = RD_VOBJECT, .len = 1, .u.members = m};
    assert_string_equal(write_value(&b, &obj), "{\"a\\\"b\\n\\u0000\":null}");
    rd_buf_deinit(&b);
}

static void test_write_numbers(void **state)
{
    (void)state;
    const rd_value items[] = {
        rd_value_number(0.0),
        rd_value_number(-0.0),
        rd_value_number(1e21),
        rd_value_number(0.1),
        rd_value_number(1e-7),
        rd_value_number(-1.5e300),
        rd_value_number(1e20),
        rd_value_number(0.30000000000000004),
        rd_value_number((double)NAN),
        rd_value_number((double)INFINITY),
        rd_value_number(-(double)INFINITY),
    };
    rd_value arr = {.type = RD_VARRAY, .len = sizeof(items) / sizeof(items[0]), .u.items = items};
    rd_buf b;
    rd_buf_init(&b);
    /* JSON.stringify([0,-0,1e21,0.1,1e-7,-1.5e300,1e20,0.1+0.2,NaN,Infinity,-Infinity]) */
    assert_string_equal(
        write_value(&b, &arr),
        "[0,0,1e+21,0.1,1e-7,-1.5e+300,100000000000000000000,0.30000000000000004,null,null,null]");
    rd_buf_deinit(&b);
}

/* RFC 8785 (JCS), appendix B: IEEE 754 doubles and their canonical text. */
static void test_canonical_numbers(void **state)
{
    (void)state;
    static const struct {
        uint64_t bits;
        const char *text;
    } cases[] = {
        {0x0000000000000000, "0"},
        {0x8000000000000000, "0"},
        {0x0000000000000001, "5e-324"},
        {0x8000000000000001, "-5e-324"},
        {0x7fefffffffffffff, "1.7976931348623157e+308"},
        {0xffefffffffffffff, "-1.7976931348623157e+308"},
        {0x4340000000000000, "9007199254740992"},
        {0xc340000000000000, "-9007199254740992"},
        {0x4430000000000000, "295147905179352830000"},
        {0x44b52d02c7e14af5, "9.999999999999997e+22"},
        {0x44b52d02c7e14af6, "1e+23"},
        {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
        {0x444b1ae4d6e2ef4e, "999999999999999700000"},
        {0x444b1ae4d6e2ef4f, "999999999999999900000"},
        {0x444b1ae4d6e2ef50, "1e+21"},
        {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
        {0x3eb0c6f7a0b5ed8d, "0.000001"},
        {0x41b3de4355555553, "333333333.3333332"},
        {0x41b3de4355555554, "333333333.33333325"},
        {0x41b3de4355555555, "333333333.3333333"},
        {0x41b3de4355555556, "333333333.3333334"},
        {0x41b3de4355555557, "333333333.33333343"},
        {0xbecbf647612f3696, "-0.0000033333333333333333"},
        {0x43143ff3c1cb0959, "1424953923781206.2"},
    };
    rd_buf b;
    rd_buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double d;
        memcpy(&d, &cases[i].bits, sizeof d);
        rd_value v = rd_value_number(d);
        rd_buf_reset(&b);
        assert_int_equal(rd_json_write_canonical(&b, &v), RD_OK);
        assert_string_equal(rd_buf_cstr(&b), cases[i].text);
    }
    /* NaN and the infinities have no JSON form: refused, not written as null. */
    const double bad[] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
    for (size_t i = 0; i < 3; i++) {
        rd_value v = rd_value_number(bad[i]);
        assert_int_equal(rd_json_write_canonical(&b, &v), RD_EINVAL);
    }
    rd_buf_deinit(&b);
}

static const char *canonical_of(rd_buf *b, const char *json)
{
    rd_value v;
    assert_int_equal(rd_json_parse(json, strlen(json), NULL, &arena, &v, NULL), RD_OK);
    rd_buf_reset(b);
    assert_int_equal(rd_json_write_canonical(b, &v), RD_OK);
    return rd_buf_cstr(b);
}

/* RFC 8785's examples (section 3.2.2 and the reference implementation's test data): sorting
 * by UTF-16 code units (U+1F602, a surrogate pair, sorts before U+FB33), minimal escaping,
 * ECMAScript numbers, nesting, and a document that says the same thing differently. */
static void test_canonical_documents(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    assert_string_equal(
        canonical_of(
            &b, "{\n  \"numbers\": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],\n"
                "  \"escaping\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
                "  \"literals\": [null, true, false]\n}"),
        "{\"escaping\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"literals\":[null,true,false],"
        "\"numbers\":[1e+30,4.5,333333333.3333333,0.002,1e-27]}");
    assert_string_equal(
        canonical_of(&b, "{\"\\u20ac\": \"Euro Sign\", \"1\": \"One\", \"\\u0080\": \"Control\\u007f\","
                         " \"\\ud83d\\ude02\": \"Smiley\", \"\\u00f6\": \"Latin Small Letter O With "
                         "Diaeresis\", \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\","
                         " \"</script>\": \"Browser Challenge\"}"),
        "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\xc2\x80\":\"Control\x7f\","
        "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
        "\"\xf0\x9f\x98\x82\":\"Smiley\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
    assert_string_equal(canonical_of(&b, "[56, {\"d\": true, \"10\": null, \"1\": [ ]}]"),
                        "[56,{\"1\":[],\"10\":null,\"d\":true}]");
    assert_string_equal(
        canonical_of(&b, "{\"b\": \"\\b\\f\\n\\r\\t\\u0001\\u001F\", \"a\": {\"z\": 1, \"y\": 2.50}}"),
        "{\"a\":{\"y\":2.5,\"z\":1},\"b\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\"}");
    /* A prefix sorts first; a repeated key keeps its last value, as JSON.parse does. */
    assert_string_equal(canonical_of(&b, "{\"ab\": 1, \"a\": 2, \"a\": 3}"), "{\"a\":3,\"ab\":1}");
    char *first = strdup(canonical_of(&b, "{\"x\": [1.0, 1e2], \"k\": \"\\u00e9\"}"));
    assert_non_null(first);
    assert_string_equal(canonical_of(&b, "{ \"k\" : \"\xc3\xa9\" ,\n\"x\":[1,100.000]}"), first);
    free(first);
    /* Objects of more than 32 members sort through a heap array. */
    rd_buf big;
    rd_buf_init(&big);
    rd_buf_putc(&big, '{');
    for (int i = 99; i >= 0; i--)
        rd_buf_printf(&big, "%s\"k%02d\":%d", i == 99 ? "" : ",", i, i);
    rd_buf_putc(&big, '}');
    const char *out = canonical_of(&b, rd_buf_cstr(&big));
    assert_memory_equal(out, "{\"k00\":0,\"k01\":1,", 17);
    assert_non_null(strstr(out, "\"k98\":98,\"k99\":99}"));
    rd_buf_deinit(&big);
    rd_buf_deinit(&b);
}

static void test_round_trip(void **state)
{
    (void)state;
    /* Each document with Node's JSON.stringify(JSON.parse(doc)). Object keys are not
     * integer-like, so JavaScript keeps them in document order. */
    static const struct {
        const char *doc;
        const char *node;
    } rows[] = {
        {"{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},"
         "\"defaultVariant\":"
         "\"off\",\"targeting\":{\"if\":[{\"in\":[\"@x.com\",{\"var\":\"email\"}]},\"on\",null]}}},"
         "\"n\":[0,-0,1e21,1E-7,0.1,-1.5e300,123456789012345678]}",
         "{\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},"
         "\"defaultVariant\":"
         "\"off\",\"targeting\":{\"if\":[{\"in\":[\"@x.com\",{\"var\":\"email\"}]},\"on\",null]}}},"
         "\"n\":[0,0,1e+21,1e-7,0.1,-1.5e+300,123456789012345680]}"},
        {"[[],{},[[{}]],\"\",\"\\u0000\\u001f\\\"\\\\/"
         "\",{\"\xc3\xa9\":\"\\ud83d\\ude00\",\"k\":{\"k\":{\"k\":[null,true,"
         "false]}}}]",
         "[[],{},[[{}]],\"\",\"\\u0000\\u001f\\\"\\\\/"
         "\",{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\",\"k\":{\"k\":{\"k\":[null,"
         "true,false]}}}]"},
        {"  {\"x\" : [ 1 , 2 ] }  ", "{\"x\":[1,2]}"},
        {"\"\\u00e9\\t\"", "\"\xc3\xa9\\t\""},
    };
    rd_buf b;
    rd_buf_init(&b);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        rd_value v1 = parse_ok(rows[i].doc);
        const char *out = write_value(&b, &v1);
        if (strcmp(out, rows[i].node) != 0)
            fail_msg("write(parse(%s))\n got %s\nwant %s", rows[i].doc, out, rows[i].node);
        rd_value v2 = parse_ok_n(b.data, b.len, NULL);
        assert_true(rd_value_equal(&v1, &v2));
        /* And writing again gives the same bytes: the writer's output is a fixed point. */
        char *first = strdup(out);
        assert_non_null(first);
        assert_string_equal(write_value(&b, &v2), first);
        free(first);
    }
    rd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_non_json),
        cmocka_unit_test(test_rejects_single_quoted_keys),
        cmocka_unit_test(test_trailing_text_names_position),
        cmocka_unit_test(test_truncated_input),
        cmocka_unit_test(test_rejects_malformed_numbers),
        cmocka_unit_test(test_rejects_raw_control_chars),
        cmocka_unit_test(test_rejects_invalid_utf8),
        cmocka_unit_test(test_rejects_non_shortest_and_out_of_range_utf8),
        cmocka_unit_test(test_unpaired_surrogate_escapes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_depth_limit_counts_empty_containers),
        cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_byte_limit),
        cmocka_unit_test(test_scalars_at_end_of_input),
        cmocka_unit_test(test_negative_zero),
        cmocka_unit_test(test_big_integers),
        cmocka_unit_test(test_number_out_of_range),
        cmocka_unit_test(test_number_out_of_range_names_position),
        cmocka_unit_test(test_strings_keep_nul),
        cmocka_unit_test(test_keys_keep_nul),
        cmocka_unit_test(test_duplicate_keys_and_empties),
        cmocka_unit_test(test_non_nul_terminated_input),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_write_string_escapes),
        cmocka_unit_test(test_write_numbers),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_canonical_numbers),
        cmocka_unit_test(test_canonical_documents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
