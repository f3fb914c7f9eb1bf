/* Errors: every code's stable name, message and HTTP status are the ones err.h documents
 * (and that HTTP error bodies promise clients); unknown codes still give a usable answer;
 * rd_err_set / rd_err_clear / rd_err_prefix fill the record, accept a NULL record, keep
 * the code, and truncate long messages to a NUL-terminated 255 characters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "riskd/err.h"

/* The table as documented in include/riskd/err.h, written out by hand so that a slip in
 * the X-macro (a swapped column, a wrong status) shows up here. */
static const struct {
    int code;
    int value;
    const char *name;
    int http;
    const char *msg;
} expected[] = {
    {RD_OK, 0, "OK", 200, "success"},
    {RD_EINVAL, -1, "INVALID_ARGUMENT", 400, "invalid argument"},
    {RD_ENOMEM, -2, "OUT_OF_MEMORY", 503, "out of memory"},
    {RD_EPARSE, -3, "PARSE_ERROR", 400, "malformed input"},
    {RD_ELIMIT, -4, "LIMIT_EXCEEDED", 413, "limit exceeded"},
    {RD_EIO, -5, "IO_ERROR", 500, "input/output error"},
    {RD_ENOTFOUND, -6, "NOT_FOUND", 404, "not found"},
    {RD_ETYPE, -7, "TYPE_MISMATCH", 400, "type mismatch"},
    {RD_EINTERNAL, -8, "INTERNAL", 500, "internal error"},
    {RD_ETIMEOUT, -9, "DEADLINE_EXCEEDED", 504, "deadline exceeded"},
    {RD_EUNAVAILABLE, -10, "MODEL_UNAVAILABLE", 503, "no model can answer"},
    {RD_ENOBUNDLE, -11, "BUNDLE_NOT_FOUND", 404, "bundle not loaded"},
    {RD_EUSAGE, -12, "USAGE", 400, "wrong arguments"},
};

static void test_codes_names_statuses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        assert_int_equal(expected[i].code, expected[i].value);
        assert_string_equal(rd_err_name(expected[i].code), expected[i].name);
        assert_int_equal(rd_err_http_status(expected[i].code), expected[i].http);
        assert_string_equal(rd_strerror(expected[i].code), expected[i].msg);
    }
}

static void test_unknown_code_is_usable(void **state)
{
    (void)state;
    static const int unknown[] = {1, -99, -1000, 2147483647};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *name = rd_err_name(unknown[i]);
        const char *msg = rd_strerror(unknown[i]);
        assert_non_null(name);
        assert_non_null(msg);
        assert_true(name[0] != '\0');
        assert_true(msg[0] != '\0');
        /* An unknown code is our fault, never the client's. */
        assert_int_equal(rd_err_http_status(unknown[i]), 500);
    }
}

/* One mapping from an error to the command's exit status (shared/DESIGN.md §4). */
static void test_exit_status(void **state)
{
    (void)state;
    assert_int_equal(rd_err_exit_status(RD_OK), 0);
    assert_int_equal(rd_err_exit_status(RD_EINVAL), 1);
    assert_int_equal(rd_err_exit_status(RD_EPARSE), 1);
    assert_int_equal(rd_err_exit_status(RD_EUSAGE), 2);
    assert_int_equal(rd_err_exit_status(RD_EIO), 4);
}

static void test_set_fills_and_returns_code(void **state)
{
    (void)state;
    rd_err err;
    memset(&err, 0x5a, sizeof(err));
    assert_int_equal(rd_err_set(&err, RD_EINVAL, "line %d: unknown operator \"%s\"", 3, "=~"), RD_EINVAL);
    assert_int_equal(err.code, RD_EINVAL);
    assert_string_equal(err.msg, "line 3: unknown operator \"=~\"");

    /* A NULL record is allowed and the code still comes back. */
    assert_int_equal(rd_err_set(NULL, RD_ELIMIT, "%s", "ignored"), RD_ELIMIT);
    rd_err_clear(NULL);
    rd_err_prefix(NULL, "ctx %d", 1);

    rd_err_clear(&err);
    assert_int_equal(err.code, RD_OK);
    assert_string_equal(err.msg, "");
}

static void test_set_truncates_long_message(void **state)
{
    (void)state;
    char long_msg[1000];
    for (size_t i = 0; i < sizeof(long_msg) - 1; i++)
        long_msg[i] = (char)('a' + (char)(i % 26));
    long_msg[sizeof(long_msg) - 1] = '\0';

    rd_err err;
    memset(&err, 0x5a, sizeof(err));
    rd_err_set(&err, RD_EPARSE, "%s", long_msg);
    assert_int_equal(err.code, RD_EPARSE);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    assert_memory_equal(err.msg, long_msg, sizeof(err.msg) - 1);
}

static void test_prefix_keeps_code(void **state)
{
    (void)state;
    rd_err err;
    rd_err_set(&err, RD_ENOTFOUND, "unknown operator");
    rd_err_prefix(&err, "flags.%s.targeting", "a");
    assert_int_equal(err.code, RD_ENOTFOUND);
    assert_string_equal(err.msg, "flags.a.targeting: unknown operator");

    /* Context added twice on the way up nests outermost first. */
    rd_err_prefix(&err, "%s", "bundle.json");
    assert_string_equal(err.msg, "bundle.json: flags.a.targeting: unknown operator");
    assert_int_equal(err.code, RD_ENOTFOUND);

    /* An empty message still gets the separator. */
    rd_err_set(&err, RD_EIO, "%s", "");
    rd_err_prefix(&err, "file");
    assert_string_equal(err.msg, "file: ");
}

static void test_prefix_truncates(void **state)
{
    (void)state;
    char old[601], prefix[101];
    memset(old, 'o', sizeof(old) - 1);
    old[sizeof(old) - 1] = '\0';
    memset(prefix, 'p', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';

    rd_err err;
    rd_err_set(&err, RD_ELIMIT, "%s", old);
    rd_err_prefix(&err, "%s", prefix);
    assert_int_equal(err.code, RD_ELIMIT);
    /* "ppp...(100): ooo..." cut to what fits in msg, NUL-terminated. */
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    assert_memory_equal(err.msg, prefix, 100);
    assert_memory_equal(err.msg + 100, ": ", 2);
    for (size_t i = 102; i < sizeof(err.msg) - 1; i++)
        assert_int_equal(err.msg[i], 'o');

    /* A prefix longer than the whole message still leaves a terminated string. */
    char huge[600];
    memset(huge, 'h', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    rd_err_set(&err, RD_EINVAL, "tail");
    rd_err_prefix(&err, "%s", huge);
    assert_int_equal(err.code, RD_EINVAL);
    assert_true(strlen(err.msg) < sizeof(err.msg));
    assert_int_equal(err.msg[0], 'h');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_names_statuses),
        cmocka_unit_test(test_unknown_code_is_usable),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_set_fills_and_returns_code),
        cmocka_unit_test(test_set_truncates_long_message),
        cmocka_unit_test(test_prefix_keeps_code),
        cmocka_unit_test(test_prefix_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
