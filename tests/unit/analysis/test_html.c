/* The HTML report: the JSON's escaping into its script element and rd_report_html per kind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis_int.h"
#include "riskd/analysis.h"

static const char *esc(rd_buf *b, const char *json, size_t len)
{
    rd_buf_reset(b);
    an_html_json(b, json, len);
    return rd_buf_cstr(b);
}

static void test_json_escape(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    assert_string_equal(esc(&b, "{\"a\":1}", 7), "{\"a\":1}");
    const char *hostile = "[\"</script><script>alert(1)</script>\",\"<!--\",\"</SCRIPT \",\"a&b>c\"]";
    assert_string_equal(
        esc(&b, hostile, strlen(hostile)),
        "[\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\",\"\\u003c!--\","
        "\"\\u003c/SCRIPT \",\"a\\u0026b\\u003ec\"]");
    /* U+2028 and U+2029 (E2 80 A8 / A9), other E2 sequences kept, a cut sequence at the end kept */
    const char ls[] = "\"x\xe2\x80\xa8y\xe2\x80\xa9z\xe2\x80\x94\xe2\x80\"";
    assert_string_equal(esc(&b, ls, sizeof(ls) - 1), "\"x\\u2028y\\u2029z\xe2\x80\x94\xe2\x80\"");
    /* control characters but tab, newline and return; a NUL inside the length */
    const char ctl[] = "\"a\x01\x1f\"\t\r\n\0";
    assert_string_equal(esc(&b, ctl, sizeof(ctl) - 1), "\"a\\u0001\\u001f\"\t\r\n\\u0000");
    assert_string_equal(esc(&b, "", 0), "");
    rd_buf_deinit(&b);
}

static void test_html_text(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    an_html_text(&b, "<a href=\"x\">'&'</a>");
    assert_string_equal(rd_buf_cstr(&b), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    rd_buf_reset(&b);
    an_html_text(&b, NULL);
    assert_string_equal(rd_buf_cstr(&b), "");
    rd_buf_deinit(&b);
}

/* The content of the data block: between its opening tag and the next "</script". */
static const char *data_block(const char *page, size_t *len)
{
    const char *open = "<script type=\"application/json\" id=\"report-data\">";
    const char *s = strstr(page, open);
    assert_non_null(s);
    s += strlen(open);
    const char *e = strstr(s, "</script>");
    assert_non_null(e);
    *len = (size_t)(e - s);
    return s;
}

static void render_kind(const char *kind, const char *json, const char *want_inside)
{
    rd_buf b;
    rd_buf_init(&b);
    rd_report_html(&b, kind, json, strlen(json));
    assert_int_equal(b.oom, 0);
    const char *page = rd_buf_cstr(&b);
    assert_true(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    assert_null(strstr(page, "@@KIND@@"));
    assert_null(strstr(page, "@@DATA@@"));
    char want[64];
    snprintf(want, sizeof(want), "data-kind=\"%s\"", kind);
    assert_non_null(strstr(page, want));
    size_t n;
    const char *d = data_block(page, &n);
    /* the data block holds the JSON (escaped) and no '<' at all, so no "</script" or "<!--" */
    assert_null(memchr(d, '<', n));
    assert_true(n >= strlen(json));
    char *copy = strndup(d, n);
    assert_non_null(strstr(copy, want_inside));
    free(copy);
    /* self-contained: no URL to fetch (the CSP's own words aside) */
    assert_null(strstr(page, "src=\"http"));
    assert_null(strstr(page, "href=\"http"));
    assert_null(strstr(page, "@import"));
    /* exactly two script elements: the data and the renderer */
    size_t scripts = 0;
    for (const char *p = page; (p = strstr(p, "</script>")) != NULL; p++) {
        scripts++;
    }
    assert_int_equal(scripts, 2);
    rd_buf_deinit(&b);
}

static void test_each_kind(void **state)
{
    (void)state;
    render_kind("ab",
                "{\"report\":\"ab\",\"flag\":\"route</script><script>alert(1)</script>\",\"variants\":[]}",
                "\"flag\":\"route\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\"");
    render_kind("drift",
                "{\"report\":\"drift\",\"score\":{\"psi\":null,\"psi_note\":\"<!-- x\"},\"inputs\":[]}",
                "\"psi\":null,\"psi_note\":\"\\u003c!-- x\"");
    render_kind("skew", "{\"report\":\"skew\",\"examples\":[{\"online_raw\":\"\\\"</SCRIPT >\\\"\"}]}",
                "\"online_raw\":\"\\\"\\u003c/SCRIPT \\u003e\\\"\"");
    render_kind("swapset", "{\"report\":\"swapset\",\"challenger_rule\":\"score < 0.12\",\"cells\":[]}",
                "\"challenger_rule\":\"score \\u003c 0.12\"");
}

static void test_odd_inputs(void **state)
{
    (void)state;
    rd_buf b;
    rd_buf_init(&b);
    /* no JSON: the page says so (data null); a kind that is markup is escaped */
    rd_report_html(&b, "<b>\"x\"", NULL, 0);
    const char *page = rd_buf_cstr(&b);
    size_t n;
    const char *d = data_block(page, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(d, "null", 4);
    assert_non_null(strstr(page, "data-kind=\"&lt;b&gt;&quot;x&quot;\""));
    assert_null(strstr(page, "<b>"));
    rd_buf_reset(&b);
    rd_report_html(&b, NULL, "{}", 2);
    assert_non_null(strstr(rd_buf_cstr(&b), "data-kind=\"\""));
    rd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_html_text),
        cmocka_unit_test(test_each_kind),
        cmocka_unit_test(test_odd_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
