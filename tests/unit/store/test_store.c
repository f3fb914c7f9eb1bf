/* The store through its interface (the cases a PostgreSQL backend must pass too): the log
 * appended in one transaction, scanned with every filter in id order, a scan stopped by its
 * callback, pruned by time; blobs kept once by SHA-256; a reopened store keeps everything;
 * and the refusals: a read-only store that does not exist, a foreign or newer database. */
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
#include "riskd/store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

typedef struct seen {
    int n;
    int64_t ids[16];
    char last_record[64];
    int stop_after;
} seen;

static int collect(void *ud, const rd_log_row *r)
{
    seen *s = ud;
    s->ids[s->n++] = r->id;
    snprintf(s->last_record, sizeof s->last_record, "%.*s", (int)r->record_len, r->record);
    return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static int scan(rd_store *st, rd_log_filter f, seen *out)
{
    rd_err err;
    memset(out, 0, sizeof *out);
    return rd_store_log_scan(st, &f, collect, out, &err);
}

static void test_log(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "sqlite:%s/a", dir);
    rd_store *st;
    rd_err err;
    assert_int_equal(rd_store_open(path, NULL, &st, &err), RD_OK);
    rd_log_row rows[] = {
        {.ts_ms = 1000,
         .request_id = "r1",
         .kind = "primary",
         .model_version = "m_x_v1.0",
         .record = "{\"a\":1}",
         .record_len = 7},
        {.ts_ms = 2000,
         .request_id = "r1",
         .kind = "shadow",
         .model_version = "m_x_v1.1",
         .record = "{\"b\":2}",
         .record_len = 7},
        {.ts_ms = 3000,
         .request_id = "r2",
         .kind = "primary",
         .model_version = NULL,
         .record = "{\"c\":3}",
         .record_len = 7},
    };
    assert_int_equal(rd_store_log_append(st, rows, 3, &err), RD_OK);
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 3);
    assert_true(s.ids[0] < s.ids[1] && s.ids[1] < s.ids[2]);
    assert_string_equal(s.last_record, "{\"c\":3}");
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "r1"}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "r1", .kind = "shadow"}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(scan(st, (rd_log_filter){.from_ms = 2000, .to_ms = 3000}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(scan(st, (rd_log_filter){.model_version = "m_x_v1.0"}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    rd_log_filter all = {0};
    assert_int_equal(rd_store_log_scan(st, &all, collect, &s, &err), 7); /* the callback's stop */
    assert_int_equal(s.n, 2);
    uint64_t gone;
    assert_int_equal(rd_store_log_prune(st, 2500, &gone, &err), RD_OK);
    assert_int_equal(gone, 2);
    rd_store_close(st);
    /* reopened (a plain directory is the SQLite store too): what was committed is there */
    snprintf(path, sizeof path, "%s/a", dir);
    rd_store_opts ro = {.read_only = true};
    assert_int_equal(rd_store_open(path, &ro, &st, &err), RD_OK);
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    rd_store_close(st);
}

static void test_blobs(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/b", dir);
    rd_store *st;
    rd_err err;
    assert_int_equal(rd_store_open(path, NULL, &st, &err), RD_OK);
    char h1[RD_SHA256_HEX], h2[RD_SHA256_HEX];
    assert_int_equal(rd_store_blob_put(st, "hello", 5, h1, &err), RD_OK);
    assert_string_equal(h1, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_int_equal(rd_store_blob_put(st, "hello", 5, h2, &err), RD_OK); /* kept once */
    assert_string_equal(h1, h2);
    assert_true(rd_store_blob_has(st, h1));
    char *data;
    size_t len;
    assert_int_equal(rd_store_blob_get(st, h1, &data, &len, &err), RD_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    rd_free(data);
    const char *none = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_false(rd_store_blob_has(st, none));
    assert_int_equal(rd_store_blob_get(st, none, &data, &len, &err), RD_ENOTFOUND);
    rd_store_close(st);
}

static void test_refusals(void **state)
{
    (void)state;
    char path[128], cmd[1024];
    rd_store *st;
    rd_err err;
    rd_store_opts ro = {.read_only = true};
    snprintf(path, sizeof path, "%s/none", dir);
    assert_int_equal(rd_store_open(path, &ro, &st, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "none"));
    assert_int_equal(rd_store_open("mysql://db/riskd", NULL, &st, &err), RD_EINVAL);
    /* a foreign database: a table of someone else's */
    snprintf(path, sizeof path, "%s/foreign", dir);
    snprintf(
        cmd, sizeof cmd,
        "mkdir -p %s && sqlite3 %s/riskd.db 'CREATE TABLE orders(id)' 2>/dev/null || "
        "python3 -c \"import sqlite3; sqlite3.connect('%s/riskd.db').execute('CREATE TABLE orders(id)')\"",
        path, path, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rd_store_open(path, NULL, &st, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not a riskd database"));
    /* a newer schema */
    snprintf(path, sizeof path, "%s/newer", dir);
    assert_int_equal(rd_store_open(path, NULL, &st, &err), RD_OK);
    rd_store_close(st);
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import sqlite3; c = sqlite3.connect('%s/riskd.db'); c.execute(\\\"UPDATE "
             "riskd_meta SET value "
             "= '99' WHERE key = 'schema'\\\"); c.commit()\"",
             path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rd_store_open(path, NULL, &st, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "schema version 99 is newer"));
}

/* rd_store_opts.lazy (a node starting during an outage): a PostgreSQL that cannot be reached
 * is refused at open without it, and with it the handle opens and each call fails with
 * RD_ESTORE naming the database; a malformed URL is refused either way (not an outage). */
static void test_lazy_open(void **state)
{
    (void)state;
    const char *url = "postgresql://riskd@127.0.0.1:1/nowhere?connect_timeout=2";
    rd_store *s = NULL;
    rd_err e;
    assert_int_equal(rd_store_open(url, &(rd_store_opts){0}, &s, &e), RD_ESTORE);
    assert_null(s);
    assert_int_equal(rd_store_open(url, &(rd_store_opts){.lazy = true}, &s, &e), RD_OK);
    assert_non_null(s);
    assert_int_equal(rd_store_ping(s, &e), RD_ESTORE);
    assert_non_null(strstr(e.msg, "127.0.0.1:1/nowhere"));
    char v[16];
    assert_int_equal(rd_store_setting_get(s, "served.flags", v, sizeof v, &e), RD_ESTORE);
    rd_store_close(s);
    s = NULL;
    assert_int_equal(rd_store_open("postgresql://riskd@127.0.0.1:1/x?nosuchoption=1",
                                   &(rd_store_opts){.lazy = true}, &s, &e),
                     RD_EINVAL);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_blobs),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_lazy_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
