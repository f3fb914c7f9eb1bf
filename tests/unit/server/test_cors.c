/* CORS rules (src/server/cors.c): which cors_origins values load and their normal form, which
 * Origin headers a list allows (exact, ignoring case; "*" alone; never by prefix), and which
 * paths CORS covers. cors.c is pure (no libmicrohttpd) but is the server's, not libriskd's:
 * its source is compiled into this test, the library linked for rd_buf. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../../src/server/cors.c"

/* list normalises to want (NULL: refused, with a message naming the entry). */
static void norm(const char *list, const char *want)
{
    char out[512];
    rd_err err = {0};
    strcpy(out, "untouched");
    int rc = srv_cors_normalize(list, out, sizeof out, &err);
    if (want) {
        if (rc != RD_OK)
            fail_msg("\"%s\" refused: %s", list, err.msg);
        assert_string_equal(out, want);
    } else {
        if (rc != RD_EINVAL)
            fail_msg("\"%s\" accepted as \"%s\"", list, out);
        assert_string_equal(out, "untouched"); /* written only on success */
        assert_true(err.msg[0] != '\0');
    }
}

static void test_normal_forms(void **state)
{
    (void)state;
    norm("https://app.example", "https://app.example");
    norm(" https://a.example ,http://b.example:8080 ", "https://a.example,http://b.example:8080");
    norm("HTTPS://App.Example", "https://app.example");
    norm("https://a.example:443,http://b.example:80", "https://a.example,http://b.example");
    norm("http://a.example:443", "http://a.example:443"); /* not http's default */
    norm("https://a.example:8443", "https://a.example:8443");
    norm("http://127.0.0.1:5173", "http://127.0.0.1:5173");
    norm("http://[::1]:8080", "http://[::1]:8080");
    norm("app-scheme+x://local_host", "app-scheme+x://local_host");
    norm("*", "*");
    norm(" * ", "*");
    norm("", "");
}

static void test_refused(void **state)
{
    (void)state;
    norm("https://a.example/", NULL);      /* trailing slash */
    norm("https://a.example/app", NULL);   /* path */
    norm("https://a.example?x", NULL);     /* query */
    norm("https://a.example#f", NULL);     /* fragment */
    norm("https://u@a.example", NULL);     /* user info */
    norm("a.example", NULL);               /* no scheme */
    norm("//a.example", NULL);             /* no scheme */
    norm("https:/a.example", NULL);        /* one slash */
    norm("https://", NULL);                /* no host */
    norm("https://:8080", NULL);           /* no host */
    norm("https://.a.example", NULL);      /* a dot first */
    norm("https://a.example.", NULL);      /* a dot last */
    norm("https://a.example:", NULL);      /* empty port */
    norm("https://a.example:0", NULL);     /* port 0 */
    norm("https://a.example:65536", NULL); /* port out of range */
    norm("https://a.example:123456", NULL);
    norm("https://a.example:080", NULL); /* a leading zero: not what a browser sends */
    norm("https://a.example:8x", NULL);
    norm("http://[::1", NULL);
    norm("http://[]", NULL);
    norm("http://[zz]", NULL);
    norm("https://*.example", NULL); /* no pattern inside an origin */
    norm("null", NULL);
    norm("*,https://a.example", NULL);
    norm("https://a.example,*", NULL);
    norm("https://a.example,,https://b.example", NULL);
    norm("https://a.example,", NULL);
    norm("https://a exa.example", NULL);
    char long_origin[400] = "https://";
    memset(long_origin + 8, 'a', 300);
    norm(long_origin, NULL);
}

static void test_too_long_for_the_buffer(void **state)
{
    (void)state;
    char out[16];
    rd_err err = {0};
    assert_int_equal(srv_cors_normalize("https://a.example", out, sizeof out, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 15 bytes"));
    assert_int_equal(srv_cors_normalize("https://a.examp", out, sizeof out, &err), RD_OK);
}

static void test_allowed(void **state)
{
    (void)state;
    const char *list = "https://app.example,http://localhost:5173";
    assert_true(srv_cors_allowed(list, "https://app.example"));
    assert_true(srv_cors_allowed(list, "http://localhost:5173"));
    assert_true(srv_cors_allowed(list, "HTTPS://APP.EXAMPLE"));
    assert_false(srv_cors_allowed(list, "https://app.example.evil.test"));
    assert_false(srv_cors_allowed(list, "https://app.exampl"));
    assert_false(srv_cors_allowed(list, "https://app.example:8443"));
    assert_false(srv_cors_allowed(list, "http://app.example"));
    assert_false(srv_cors_allowed(list, "http://localhost"));
    assert_false(srv_cors_allowed(list, "https://app.example,http://localhost:5173"));
    assert_false(srv_cors_allowed(list, "null"));
    assert_false(srv_cors_allowed(list, ""));
    assert_false(srv_cors_allowed(list, NULL));
    assert_true(srv_cors_allowed("*", "https://any.example"));
    assert_true(srv_cors_allowed("*", "null"));
    assert_false(srv_cors_allowed("*", NULL));
    assert_false(srv_cors_allowed("", "https://app.example"));
    assert_false(srv_cors_allowed(NULL, "https://app.example"));
}

static void test_headers(void **state)
{
    (void)state;
    char bad[32];
    assert_true(srv_cors_headers_ok(NULL, bad, sizeof bad));
    assert_true(srv_cors_headers_ok("", bad, sizeof bad));
    assert_true(srv_cors_headers_ok("content-type", bad, sizeof bad));
    assert_true(srv_cors_headers_ok("Content-Type, AUTHORIZATION ,if-none-match", bad, sizeof bad));
    assert_true(srv_cors_headers_ok(" , content-type,", bad, sizeof bad));
    assert_false(srv_cors_headers_ok("content-type,x-api-key", bad, sizeof bad));
    assert_string_equal(bad, "x-api-key");
    assert_false(srv_cors_headers_ok("content-typ", bad, sizeof bad));
    assert_string_equal(bad, "content-typ");
    assert_false(srv_cors_headers_ok("content-type-x", bad, sizeof bad));
    assert_false(srv_cors_headers_ok("cookie", bad, sizeof bad));
}

static void test_covers(void **state)
{
    (void)state;
    assert_true(srv_cors_covers("/ofrep/v1/evaluate/flags", false));
    assert_true(srv_cors_covers("/ofrep/v1/evaluate/flags/new-ui", false));
    assert_true(srv_cors_covers("/ofrep/v1/events", false));
    assert_true(srv_cors_covers("/v1/score", false));
    assert_true(srv_cors_covers("/v1/score/batch", false));
    assert_false(srv_cors_covers("/score", false));
    assert_true(srv_cors_covers("/score", true));
    assert_false(srv_cors_covers("/ofrep/v1", false));
    assert_false(srv_cors_covers("/ofrep/v2/evaluate/flags", false));
    assert_false(srv_cors_covers("/v1/scores", false));
    assert_false(srv_cors_covers("/v1/outcomes", true));
    assert_false(srv_cors_covers("/v1/admin/flags", true));
    assert_false(srv_cors_covers("/health", true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_forms),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_too_long_for_the_buffer),
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_covers),
        cmocka_unit_test(test_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
