/* The flag set a node keeps in its data directory (change.h, rd_flags_kept_write/read), so that
 * it can start while the store is unreachable: written and read back byte for byte with its
 * version and SHA-256; replaced whole by the next; none kept is RD_ENOTFOUND; a copy whose text
 * was edited, whose header was damaged, or that was kept from another store is refused with
 * RD_EINVAL, naming the file and what is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "riskd/change.h"
#include "riskd/hash.h"

static const char store[] = "postgresql://riskd@db1:5432/riskd";
static const char v1[] = "{\"flags\":{\"greet\":{\"state\":\"ENABLED\",\"variants\":{\"hi\":\"hello\"},"
                         "\"defaultVariant\":\"hi\"}}}\n";
static const char v2[] = "{\"flags\":{}}"; /* no final newline: kept as it is */

static int setup(void **state)
{
    char *dir = malloc(64);
    snprintf(dir, 64, "/tmp/riskd-kept.XXXXXX");
    assert_non_null(mkdtemp(dir));
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", (char *)*state);
    assert_int_equal(system(cmd), 0);
    free(*state);
    return 0;
}

static void keep(const char *dir, int64_t version, const char *text)
{
    char sha[RD_SHA256_HEX];
    rd_sha256_hex(text, strlen(text), sha);
    rd_err e;
    assert_int_equal(rd_flags_kept_write(dir, store, version, sha, text, strlen(text), &e), RD_OK);
}

static int read_kept(const char *dir, const char *name, char **text, int64_t *version, rd_err *e)
{
    size_t len;
    char sha[RD_SHA256_HEX];
    return rd_flags_kept_read(dir, name, text, &len, sha, version, e);
}

static void test_round_trip(void **state)
{
    const char *dir = *state;
    char *text;
    int64_t version;
    rd_err e;
    assert_int_equal(read_kept(dir, store, &text, &version, &e), RD_ENOTFOUND);
    keep(dir, 1, v1);
    assert_int_equal(read_kept(dir, store, &text, &version, &e), RD_OK);
    assert_string_equal(text, v1);
    assert_int_equal(version, 1);
    rd_free(text);
    keep(dir, 7, v2); /* replaced whole */
    assert_int_equal(read_kept(dir, store, &text, &version, &e), RD_OK);
    assert_string_equal(text, v2);
    assert_int_equal(version, 7);
    rd_free(text);
}

/* Rewrite the kept file through a sed expression. */
static void edit(const char *dir, const char *expr)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sed -i '%s' %s/flags.kept", expr, dir);
    assert_int_equal(system(cmd), 0);
}

static void refused(const char *dir, const char *name, const char *why)
{
    char *text = NULL;
    int64_t version;
    rd_err e;
    assert_int_equal(read_kept(dir, name, &text, &version, &e), RD_EINVAL);
    assert_null(text);
    if (!strstr(e.msg, why) || !strstr(e.msg, "flags.kept"))
        fail_msg("message \"%s\" lacks \"%s\" or the file", e.msg, why);
}

static void test_refusals(void **state)
{
    const char *dir = *state;
    keep(dir, 3, v1);
    refused(dir, "postgresql://riskd@db2:5432/riskd",
            "kept from the store postgresql://riskd@db1:5432/riskd");
    edit(dir, "$ s/hello/HELLO/");
    refused(dir, store, "damaged (its text does not match its sha256)");
    keep(dir, 3, v1);
    edit(dir, "3 s/^version 3$/version three/");
    refused(dir, store, "a damaged header (version \"three\")");
    keep(dir, 3, v1);
    edit(dir, "4 d");
    refused(dir, store, "a damaged header");
    keep(dir, 3, v1);
    edit(dir, "1 s/^riskd kept flag set 1$/something else/");
    refused(dir, store, "not a kept flag set");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
