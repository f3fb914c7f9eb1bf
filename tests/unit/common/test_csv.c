/* The CSV reader: quoting, blank lines, CRLF, BOM, and every refusal with its line number. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/csv.h"
#include "riskd/riskd.h"

static char path[64];

static rd_csv *open_text(const char *text, rd_err *err, int *rc)
{
    snprintf(path, sizeof(path), "/tmp/riskd-csv-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    rd_csv *c = NULL;
    *rc = rd_csv_open(path, &c, err);
    unlink(path);
    return c;
}

static void test_quoting(void **state)
{
    (void)state;
    rd_err err;
    int rc;
    rd_csv *c = open_text(
        "\xef\xbb\xbfid,name,note\r\n1,\"a,b\",\"say \"\"hi\"\"\"\r\n\r\n2,,\"two\nlines\"\n3,x,", &err, &rc);
    assert_int_equal(rc, RD_OK);
    assert_int_equal(rd_csv_num_columns(c), 3);
    assert_string_equal(rd_csv_column(c, 0), "id");
    assert_int_equal(rd_csv_find(c, "note"), 2);
    assert_int_equal(rd_csv_find(c, "nope"), -1);
    char **f;
    assert_int_equal(rd_csv_next(c, &f, &err), 1);
    assert_string_equal(f[1], "a,b");
    assert_string_equal(f[2], "say \"hi\"");
    assert_int_equal(rd_csv_line(c), 2);
    assert_int_equal(rd_csv_next(c, &f, &err), 1);
    assert_int_equal(rd_csv_line(c), 4);
    assert_string_equal(f[1], "");
    assert_string_equal(f[2], "two\nlines");
    assert_int_equal(rd_csv_next(c, &f, &err), 1);
    assert_string_equal(f[0], "3");
    assert_string_equal(f[2], "");
    assert_int_equal(rd_csv_next(c, &f, &err), 0);
    assert_true(rd_csv_offset(c) == rd_csv_size(c));
    rd_csv_close(c);
}

/* A bad record is reported (rd_csv_line gives its line); the reader goes on with the next. */
static void test_bad_records(void **state)
{
    (void)state;
    rd_err err;
    int rc;
    rd_csv *c = open_text("a,b\n1\n1,2,3\n\"x\"y,2\n5,6\n\"open,7\n", &err, &rc);
    assert_int_equal(rc, RD_OK);
    char **f;
    assert_int_equal(rd_csv_next(c, &f, &err), RD_EPARSE);
    assert_string_equal(err.msg, "1 fields, the header has 2");
    assert_int_equal(rd_csv_line(c), 2);
    assert_int_equal(rd_csv_next(c, &f, &err), RD_EPARSE);
    assert_string_equal(err.msg, "3 fields, the header has 2");
    assert_int_equal(rd_csv_line(c), 3);
    assert_int_equal(rd_csv_next(c, &f, &err), RD_EPARSE);
    assert_string_equal(err.msg, "text after a closing quote in field 1");
    assert_int_equal(rd_csv_line(c), 4);
    assert_int_equal(rd_csv_next(c, &f, &err), 1);
    assert_string_equal(f[1], "6");
    assert_int_equal(rd_csv_next(c, &f, &err), RD_EPARSE);
    assert_string_equal(err.msg, "unterminated quoted field");
    assert_int_equal(rd_csv_line(c), 6);
    assert_int_equal(rd_csv_next(c, &f, &err), 0);
    rd_csv_close(c);
}

static void test_bad_headers(void **state)
{
    (void)state;
    rd_err err;
    int rc;
    assert_null(open_text("", &err, &rc));
    assert_int_equal(rc, RD_EPARSE);
    assert_non_null(strstr(err.msg, ": empty (a header line naming the columns is required)"));
    assert_null(open_text("a,,b\n", &err, &rc));
    assert_non_null(strstr(err.msg, ": line 1: column 2 has no name"));
    assert_null(open_text("a,b,a\n", &err, &rc));
    assert_non_null(strstr(err.msg, ": line 1: column \"a\" appears twice"));
    rd_csv *c = NULL;
    assert_int_equal(rd_csv_open("/nonexistent/x.csv", &c, &err), RD_EIO);
    assert_string_equal(err.msg, "/nonexistent/x.csv: No such file or directory");
}

static void test_record_limit(void **state)
{
    (void)state;
    size_t n = (1u << 20) + 100;
    char *text = malloc(n + 16);
    memcpy(text, "a\n", 2);
    memset(text + 2, 'x', n);
    memcpy(text + 2 + n, "\n1\n", 4);
    rd_err err;
    int rc;
    rd_csv *c = open_text(text, &err, &rc);
    free(text);
    char **f;
    assert_int_equal(rd_csv_next(c, &f, &err), RD_ELIMIT);
    assert_string_equal(err.msg, "record longer than 1048576 bytes");
    assert_int_equal(rd_csv_line(c), 2);
    assert_int_equal(rd_csv_next(c, &f, &err), 1);
    assert_string_equal(f[0], "1");
    rd_csv_close(c);
}

/* A NUL byte would cut a field short without a word: the record is refused instead. */
static void test_nul_byte(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "/tmp/riskd-csv-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "a,b\n1,x\0y\n2,z\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    rd_csv *c;
    rd_err err;
    assert_int_equal(rd_csv_open(path, &c, &err), RD_OK);
    unlink(path);
    char **f;
    assert_int_equal(rd_csv_next(c, &f, &err), RD_EPARSE);
    assert_string_equal(err.msg, "NUL byte in the record");
    assert_int_equal(rd_csv_line(c), 2);
    assert_int_equal(rd_csv_next(c, &f, &err), 1);
    assert_string_equal(f[1], "z");
    rd_csv_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),     cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_bad_headers), cmocka_unit_test(test_record_limit),
        cmocka_unit_test(test_nul_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
