/* RFC 3339 times (clock.h): the text of unix ms and back, the bounds of four-digit years, and
 * the refusal of what is not exactly that form (a missing Z, a month 13, a short fraction). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "riskd/clock.h"

static void test_text(void **state)
{
    (void)state;
    char t[32];
    assert_true(rd_time_text(0, t));
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    assert_true(rd_time_text(1765000000123, t));
    assert_string_equal(t, "2025-12-06T05:46:40.123Z");
    assert_true(rd_time_text(RD_TIME_MAX_MS, t));
    assert_string_equal(t, "9999-12-31T23:59:59.999Z");
    assert_false(rd_time_text(RD_TIME_MAX_MS + 1, t));
    assert_string_equal(t, "");
    assert_false(rd_time_text(-1, t));
}

static void test_parse(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(rd_time_parse("2025-12-06T05:46:40.123Z", 24, &ms));
    assert_int_equal(ms, 1765000000123);
    assert_true(rd_time_parse("2025-12-06T05:46:40Z", 20, &ms));
    assert_int_equal(ms, 1765000000000);
    /* every text rd_time_text writes reads back to its ms */
    for (int64_t t = 0; t < RD_TIME_MAX_MS; t += 9876543210987) {
        char s[32];
        assert_true(rd_time_text(t, s));
        assert_true(rd_time_parse(s, strlen(s), &ms));
        assert_int_equal(ms, t);
    }
    static const char *const bad[] = {
        "2025-12-06T05:46:40.123",  "2025-12-06 05:46:40.123Z",  "2025-13-06T05:46:40.123Z",
        "2025-12-06T24:46:40.123Z", "2025-12-06T05:46:40.12Z",   "1969-12-31T23:59:59.999Z",
        "2025-12-06T05:46:40.1x3Z", "2025-12-06T05:46:40+00:00", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(rd_time_parse(bad[i], strlen(bad[i]), &ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_text), cmocka_unit_test(test_parse)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
