/* The store's conformance suite: one list of cases, run against every backend through the
 * public interface (store.h, rollout.h, audit.h): SQLite in a temporary directory, and
 * PostgreSQL in a fresh database per case when RISKD_PG_URL names a server (scripts/run-tests.sh
 * starts one; without it the PostgreSQL half is skipped, saying "skipped: postgresql not
 * installed").
 *
 * Both backends key the log on each record's identity (rd_log_row.uid, given at submission):
 * a batch logged twice stores nothing new, and distinct records that share every other field
 * are all kept; a row without one is stored each time. Both skip an erased applicant's older
 * primary decisions (the tombstone), and both migrate a schema-3 database with its rows (and a
 * schema-4 one's tokens, which gain a parent: none; a schema-5 one gains the outbox).
 * Both keep the notification outbox (schema 6) alike: events appended inside a transaction only,
 * once per uid, read in id order by a cursor that misses none another handle commits meanwhile
 * (ids never go back, not even after a prune emptied it), and sinks' cursors moved by
 * compare-and-swap.
 * Both keep the exposure caps (schema 7) alike: a reservation never takes a stage past its cap,
 * not even from two handles racing, and the ledger stays whole (what the slices hold net equals
 * what the stage has reserved).
 * Where the backends differ by design, the case says which answer each gives: SQLite has no
 * push (watch_open gives NULL) and no node column. The outcome statistics are also compared
 * across the two backends, to the bit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "riskd/audit.h"
#include "riskd/clock.h"
#include "riskd/hash.h"
#include "riskd/rollout.h"
#include "riskd/store.h"

/* ------------------------------------------------------------------ the backends */

typedef struct backend {
    const char *name;
    bool pg;
    bool absent;    /* PostgreSQL without a server: every case skips */
    char base[512]; /* RISKD_PG_URL */
    char dir[64];   /* SQLite: the case's directory */
    char db[64];    /* PostgreSQL: the case's database */
    char url[600];  /* the case's store */
    char own[64];   /* a cluster of the case's own (test_outage), destroyed at teardown */
    int cases;
} backend;

static backend sqlite_b = {.name = "sqlite"}, pg_b = {.name = "postgresql", .pg = true};
static backend *current; /* the group being run */

/* base with its database replaced by db. */
static void url_with_db(const char *base, const char *db, char *out, size_t cap)
{
    const char *scheme = strstr(base, "://");
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *query = strchr(base, '?');
    int head = slash ? (int)(slash - base) : query ? (int)(query - base) : (int)strlen(base);
    snprintf(out, cap, "%.*s/%s%s", head, base, db, query ? query : "");
}

/* Run sql on a database of the test cluster (db NULL: the one RISKD_PG_URL names). */
static void pg_sql(const char *db, const char *sql)
{
    char url[600];
    if (db)
        url_with_db(pg_b.base, db, url, sizeof url);
    else
        snprintf(url, sizeof url, "%s", pg_b.base);
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("%s: %s", url, PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

static int group_setup(void **state)
{
    backend *b = current;
    if (b->pg) {
        const char *url = getenv("RISKD_PG_URL");
        if (!url || !*url) {
            printf(
                "skipped: postgresql not installed (RISKD_PG_URL is not set: scripts/run-tests.sh starts a "
                "cluster)\n");
            b->absent = true;
        } else {
            snprintf(b->base, sizeof b->base, "%s", url);
        }
    }
    *state = b;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return 0;
}

static int case_setup(void **state)
{
    backend *b = *state;
    if (b->absent)
        return 0;
    b->cases++;
    if (b->pg) {
        char sql[128];
        snprintf(b->db, sizeof b->db, "conf_%ld_%d", (long)getpid(), b->cases);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", b->db);
        pg_sql(NULL, sql);
        url_with_db(b->base, b->db, b->url, sizeof b->url);
    } else {
        strcpy(b->dir, "/tmp/riskd-conf-XXXXXX");
        assert_non_null(mkdtemp(b->dir));
        snprintf(b->url, sizeof b->url, "sqlite:%s", b->dir);
    }
    return 0;
}

static int case_teardown(void **state)
{
    backend *b = *state;
    if (b->absent)
        return 0;
    if (b->own[0]) { /* also when the case failed half-way */
        char cmd[128];
        snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh destroy %s >/dev/null 2>&1", b->own);
        if (system(cmd) != 0)
            fprintf(stderr, "could not destroy %s\n", b->own);
        b->own[0] = '\0';
    }
    if (b->pg) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", b->db);
        pg_sql(NULL, sql);
    } else {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
        assert_int_equal(system(cmd), 0);
    }
    return 0;
}

/* The case's backend, or a skip. */
static backend *want(void **state)
{
    backend *b = *state;
    if (b->absent)
        skip();
    return b;
}

static rd_store *open_opts(const backend *b, const rd_store_opts *o)
{
    rd_store *s;
    rd_err err;
    if (rd_store_open(b->url, o, &s, &err) != RD_OK)
        fail_msg("open %s: %s", b->url, err.msg);
    return s;
}

static rd_store *open_store(const backend *b) { return open_opts(b, NULL); }

#define OK(call)                                                                                             \
    do {                                                                                                     \
        rd_err err_;                                                                                         \
        int rc_ = (call);                                                                                    \
        if (rc_ != RD_OK)                                                                                    \
            fail_msg("%s: %d: %s", #call, rc_, err_.msg);                                                    \
    } while (0)
/* OK() with the error record named err_ inside the call */
#define E (&err_)

/* ------------------------------------------------------------------ the decision log */

typedef struct seen {
    int n;
    int64_t ids[64];
    int64_t ts[64];
    char req[64][32];
    char kind[64][16];
    char model[64][32]; /* "<null>" for NULL */
    char rec[64][64];
    size_t rec_len[64];
    int label[64];
    int stop_after;
} seen;

static int collect(void *ud, const rd_log_row *r)
{
    seen *s = ud;
    if (s->n < 64) {
        s->ids[s->n] = r->id;
        s->ts[s->n] = r->ts_ms;
        snprintf(s->req[s->n], sizeof s->req[0], "%s", r->request_id);
        snprintf(s->kind[s->n], sizeof s->kind[0], "%s", r->kind);
        snprintf(s->model[s->n], sizeof s->model[0], "%s", r->model_version ? r->model_version : "<null>");
        snprintf(s->rec[s->n], sizeof s->rec[0], "%.*s", (int)r->record_len, r->record);
        s->rec_len[s->n] = r->record_len;
        s->label[s->n] = r->label;
    }
    s->n++;
    return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static int scan(rd_store *st, rd_log_filter f, seen *out)
{
    rd_err err;
    memset(out, 0, sizeof *out);
    return rd_store_log_scan(st, &f, collect, out, &err);
}

/* The node column of request id req's rows, in id order (PostgreSQL: a scan gives it). */
static int node_row(void *ud, const rd_log_row *r)
{
    char(*node)[16] = ud;
    for (int i = 0; i < 3; i++)
        if (!node[i][0]) {
            snprintf(node[i], 16, "%s", r->node ? r->node : "<null>");
            break;
        }
    return 0;
}

static void node_of(rd_store *st, const char *req, char node[3][16])
{
    rd_err err;
    memset(node, 0, 3 * 16);
    assert_int_equal(rd_store_log_scan(st, &(rd_log_filter){.request_id = req}, node_row, node, &err), RD_OK);
}

static rd_log_row row(int64_t ts, const char *req, const char *kind, const char *model, const char *rec)
{
    return (rd_log_row){.ts_ms = ts,
                        .request_id = req,
                        .kind = kind,
                        .model_version = model,
                        .record = rec,
                        .record_len = strlen(rec)};
}

#define DAY INT64_C(86400000)
#define T0  INT64_C(1796515200000) /* 2026-12-05T00:00:00Z */

/* A uid of its own for r (the writer gives them at submission: a boot id and a sequence). */
static void give_uid(rd_log_row *r, uint32_t n)
{
    memset(r->uid, 0xa5, sizeof r->uid);
    memcpy(r->uid + 12, &n, 4);
}

/* review16 #10: records that share request id, node, kind, model and time are distinct when
 * their uids are (a client that reuses a customer id inside one batch, decided within one
 * millisecond): all kept; the same batch again stores nothing new; a row without a uid is
 * stored each time; the node stored is the row's when it names one. */
static void test_log_uid(void **state)
{
    backend *b = want(state);
    rd_store *st = open_opts(b, &(rd_store_opts){.node = "node-b"});
    rd_log_row rows[3];
    for (int i = 0; i < 3; i++) {
        rows[i] = row(T0 + 5, "cust-42", "primary", "m_x_v1.0", "{\"a\":1}");
        give_uid(&rows[i], (uint32_t)i + 1);
    }
    rows[0].node = "node-a"; /* spooled on node-a, drained by this handle */
    OK(rd_store_log_append(st, rows, 3, E));
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "cust-42"}, &s), RD_OK);
    assert_int_equal(s.n, 3);
    OK(rd_store_log_append(st, rows, 3, E)); /* re-sent */
    OK(rd_store_log_append(st, rows + 1, 1, E));
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "cust-42"}, &s), RD_OK);
    assert_int_equal(s.n, 3);
    rd_log_row bare = row(T0 + 6, "bare", "primary", "m", "{}"); /* no uid: no identity to match */
    OK(rd_store_log_append(st, &bare, 1, E));
    OK(rd_store_log_append(st, &bare, 1, E));
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "bare"}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(rd_store_node(st), "node-b");
    if (b->pg) {
        char node[3][16];
        node_of(st, "cust-42", node);
        assert_string_equal(node[0], "node-a");
        assert_string_equal(node[1], "node-b");
        assert_string_equal(node[2], "node-b");
    }
    rd_store_close(st);
}

/* review16 #12: a tombstone skips the erased applicant's primary decisions made before the
 * erasure, on any append after it (a spool drained later); the rest is stored. */
static void test_log_tombstone(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    char hex[RD_SHA256_HEX];
    rd_sha256_hex("app-9", 5, hex);
    rd_err err;
    assert_int_equal(rd_store_erasure_mark(st, "app-9", T0, &err), RD_EINVAL); /* a hash, not a key */
    OK(rd_store_erasure_mark(st, hex, T0 + 100, E));
    OK(rd_store_begin(st, E));                      /* as the erasure does: inside its transaction */
    OK(rd_store_erasure_mark(st, hex, T0 + 50, E)); /* an older date never moves it back */
    OK(rd_store_commit(st, E));
    static const char app9[] = "{\"context\":{\"targetingKey\":\"app-9\"},\"features\":{\"x\":1}}";
    rd_log_row rows[] = {
        row(T0 + 60, "t1", "primary", "m", app9),  /* before the erasure: skipped */
        row(T0 + 99, "t2", "primary", "m", app9),  /* skipped: 50 did not replace 100 */
        row(T0 + 100, "t3", "primary", "m", app9), /* at it: a new decision, kept */
        row(T0 + 60, "t4", "primary", "m", "{\"context\":{\"targetingKey\":\"app-8\"}}"),
        row(T0 + 60, "t5", "primary", "m", "app-9 not json"),
        row(T0 + 60, "t6", "primary", "m", "{\"context\":{\"targetingKey\":{\"k\":\"app-9\"}}}"),
        row(T0 + 60, "t7", "shadow", "m", app9),
        row(T0 + 200, "t8", "primary", "m", app9),
    };
    OK(rd_store_log_append(st, rows, 8, E));
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 6);
    const char *kept[] = {"t3", "t4", "t5", "t6", "t7", "t8"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(s.req[i], kept[i]);
    rd_store_close(st);
}

/* A schema-3 database (the log keyed by its fields, no tombstones) is migrated at open with
 * its rows, and then keys by uid. */
static void test_migrate_4(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_log_row r[] = {row(T0 + 1, "old-1", "primary", "m", "{}"), row(T0 + 2, "old-2", "shadow", NULL, "{}")};
    OK(rd_store_log_append(st, r, 2, E));
    rd_store_close(st);
    if (b->pg) {
        pg_sql(b->db, "DROP TABLE exposure_stages, exposure_slices;"
                      " DROP TABLE notify_events, notify_sinks, notify_failures;"
                      " ALTER TABLE decisions DROP COLUMN uid; DROP TABLE erasures;"
                      " DROP FUNCTION riskd_erased(text, bigint); ALTER TABLE tokens DROP COLUMN parent;"
                      " CREATE UNIQUE INDEX decisions_key ON decisions(ts_ms, request_id, node, kind,"
                      " (coalesce(model_version, '')));"
                      " UPDATE riskd_meta SET value = '3' WHERE key = 'schema'");
    } else {
        char path[128];
        snprintf(path, sizeof path, "%s/riskd.db", b->dir);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "DROP TABLE exposure_stages; DROP TABLE exposure_slices;"
                                      " DROP TABLE notify_events; DROP TABLE notify_sinks;"
                                      " DROP TABLE notify_failures;"
                                      " DROP INDEX decisions_uid; ALTER TABLE decisions DROP COLUMN uid;"
                                      " DROP TABLE erasures; ALTER TABLE tokens DROP COLUMN parent;"
                                      " UPDATE riskd_meta SET value = '3' WHERE key = 'schema'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
    st = open_store(b);
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.req[1], "old-2");
    rd_log_row n[2] = {row(T0 + 1, "old-1", "primary", "m", "{}"),
                       row(T0 + 1, "old-1", "primary", "m", "{}")};
    give_uid(&n[0], 1);
    give_uid(&n[1], 2);
    OK(rd_store_log_append(st, n, 2, E));
    OK(rd_store_log_append(st, n, 2, E));
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "old-1"}, &s), RD_OK);
    assert_int_equal(s.n, 3); /* the old row, and the two new ones once */
    rd_store_close(st);
}

static void test_log_append_scan(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_log_row rows[] = {
        row(T0 + 1000, "r1", "primary", "m_x_v1.0", "{\"a\":1}"),
        row(T0 + 2000, "r1", "shadow", "m_x_v1.1", "{\"b\":2}"),
        row(T0 + DAY + 5, "r2", "primary", NULL, "{\"c\":3}"),
        row(T0 - 1, "r3", "primary", "m_x_v1.0", "not json"), /* another day, before the others */
    };
    OK(rd_store_log_append(st, rows, 4, E));
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 4);
    for (int i = 1; i < 4; i++)
        assert_true(s.ids[i - 1] < s.ids[i]); /* id order: the append's order, whatever the day */
    assert_string_equal(s.req[0], "r1");
    assert_string_equal(s.kind[1], "shadow");
    assert_string_equal(s.model[2], "<null>"); /* NULL stays NULL */
    assert_string_equal(s.rec[3], "not json");
    assert_int_equal(s.rec_len[3], 8);
    assert_int_equal(s.ts[3], T0 - 1);
    assert_int_equal(s.label[0], -1); /* no outcome asked for */
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "r1"}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "r1", .kind = "shadow"}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(scan(st, (rd_log_filter){.kind = "primary"}, &s), RD_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(scan(st, (rd_log_filter){.from_ms = T0 + 2000, .to_ms = T0 + DAY + 5}, &s), RD_OK);
    assert_int_equal(s.n, 1); /* [from, to) */
    assert_string_equal(s.rec[0], "{\"b\":2}");
    assert_int_equal(scan(st, (rd_log_filter){.from_ms = T0}, &s), RD_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(scan(st, (rd_log_filter){.to_ms = T0}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(scan(st, (rd_log_filter){.model_version = "m_x_v1.0"}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(scan(st, (rd_log_filter){.model_version = "m_x_v1.0", .from_ms = T0}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "nobody"}, &s), RD_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(rd_store_log_append(st, rows, 0, NULL), RD_OK); /* nothing: nothing done */
    rd_store_close(st);
    /* reopened: everything committed is there */
    st = open_store(b);
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 4);
    rd_store_close(st);
}

static void test_log_outcome_join(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_log_row rows[] = {
        row(T0 + 1, "a", "primary", "m", "{\"source\":\"model\",\"score\":0.5}"),
        row(T0 + 2, "a", "shadow", "m2", "{}"),
        row(T0 + 3, "b", "primary", "m", "{}"),
        row(T0 + 4, "c", "primary", "m", "{}"),
    };
    OK(rd_store_log_append(st, rows, 4, E));
    rd_outcome o[] = {{"a", "dpd30", 1, 0}, {"b", "dpd30", 0, 0}, {"c", "fpd", 1, 0}};
    rd_outcome_result res[3];
    OK(rd_store_outcomes_put(st, o, 3, T0 + 10, res, E));
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){.outcome = "dpd30"}, &s), RD_OK);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.label[0], 1);
    assert_int_equal(s.label[1], 1); /* joined by request id: a shadow row too */
    assert_int_equal(s.label[2], 0);
    assert_int_equal(s.label[3], -1); /* no dpd30 for c */
    assert_int_equal(scan(st, (rd_log_filter){.outcome = "fpd", .kind = "primary"}, &s), RD_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.label[2], 1);
    assert_int_equal(s.label[0], -1);
    rd_store_close(st);
}

static void test_log_stop(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    enum { N = 3000 };
    rd_log_row *rows = calloc(N, sizeof *rows);
    char(*ids)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], 16, "s%d", i);
        rows[i] = row(T0 + i, ids[i], "primary", "m", "{\"x\":\"0123456789012345678901234567890123456789\"}");
    }
    OK(rd_store_log_append(st, rows, N, E));
    seen s = {.stop_after = 10};
    rd_log_filter all = {0};
    rd_err err;
    assert_int_equal(rd_store_log_scan(st, &all, collect, &s, &err), 7); /* the callback's stop, returned */
    assert_int_equal(s.n, 10);
    /* the handle is usable at once after a stopped scan */
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "s2999"}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof s);
    assert_int_equal(rd_store_log_scan(st, &all, collect, &s, &err), RD_OK);
    assert_int_equal(s.n, N);
    free(rows);
    free(ids);
    rd_store_close(st);
}

/* Newest first: by time then id, descending, whatever the append order; pages of `limit` rows
 * through the cursor (the last row's time and id) meet every row once; the filters still apply. */
static void test_log_newest_first(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    enum { N = 50 };
    rd_log_row rows[N];
    char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], 16, "n%d", i);
        /* times out of append order, a few equal (ids break the ties), two days */
        int64_t ts = T0 + (int64_t)((i * 37) % N) / 2 * 1000 + (i % 7 == 0 ? DAY : 0);
        rows[i] = row(ts, ids[i], i % 5 ? "primary" : "shadow", "m", "{}");
    }
    OK(rd_store_log_append(st, rows, N, E));
    seen all;
    assert_int_equal(scan(st, (rd_log_filter){.newest_first = true}, &all), RD_OK);
    assert_int_equal(all.n, N);
    for (int i = 1; i < N; i++)
        assert_true(all.ts[i - 1] > all.ts[i] || (all.ts[i - 1] == all.ts[i] && all.ids[i - 1] > all.ids[i]));
    /* pages of 7 through the cursor: the same rows in the same order */
    rd_log_filter f = {.newest_first = true, .limit = 7};
    int got = 0;
    for (int page = 0; page < 20; page++) {
        seen s;
        assert_int_equal(scan(st, f, &s), RD_OK);
        assert_true(s.n <= 7);
        for (int i = 0; i < s.n; i++, got++)
            assert_int_equal(s.ids[i], all.ids[got]);
        if (s.n < 7)
            break;
        f.before_ms = s.ts[s.n - 1];
        f.before_id = s.ids[s.n - 1];
    }
    assert_int_equal(got, N);
    /* with a time range and a kind: newest first inside them */
    seen s;
    assert_int_equal(
        scan(st,
             (rd_log_filter){
                 .newest_first = true, .kind = "shadow", .from_ms = T0, .to_ms = T0 + DAY, .limit = 3},
             &s),
        RD_OK);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < s.n; i++) {
        assert_string_equal(s.kind[i], "shadow");
        assert_true(s.ts[i] >= T0 && s.ts[i] < T0 + DAY);
        assert_true(i == 0 || s.ts[i - 1] >= s.ts[i]);
    }
    /* in id order (the default), limit still holds */
    assert_int_equal(scan(st, (rd_log_filter){.limit = 4}, &s), RD_OK);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.req[0], "n0");
    rd_store_close(st);
}

static void test_log_batches(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    /* a batch of several INSERTs on PostgreSQL (1,000 rows each): one transaction, ids in order */
    enum { N = 2500 };
    rd_log_row *rows = calloc(N, sizeof *rows);
    char(*ids)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], 16, "q%d", i);
        rows[i] = row(T0 + (i % 3) * DAY, ids[i], "primary", "m", "{}");
        give_uid(&rows[i], 1000 + i);
    }
    OK(rd_store_log_append(st, rows, N, E));
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "q2499"}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    int64_t last = s.ids[0];
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "q0"}, &s), RD_OK);
    assert_true(s.ids[0] < last);
    /* sent again (a lost acknowledgement, a spool drained twice): each row's uid is in the
       store, nothing is stored twice */
    OK(rd_store_log_append(st, rows, N, E));
    uint64_t n = 0;
    OK(rd_store_log_prune(st, INT64_MAX, &n, E));
    assert_int_equal(n, N);
    if (b->pg) { /* all or none: a row PostgreSQL refuses (not UTF-8) in the third chunk */
        rows[2100].record = "\xff\xfe";
        rows[2100].record_len = 2;
        rd_err err;
        assert_int_equal(rd_store_log_append(st, rows, N, &err), RD_EIO);
        assert_non_null(strstr(err.msg, "22021")); /* the SQL state, in the message */
        assert_int_equal(scan(st, (rd_log_filter){.request_id = "q0"}, &s), RD_OK);
        assert_int_equal(s.n, 0);
    }
    free(rows);
    free(ids);
    rd_store_close(st);
}

static void test_log_prune(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_log_row rows[] = {
        row(T0 - 2 * DAY + 5, "p1", "primary", "m", "{}"), row(T0 - DAY, "p2", "primary", "m", "{}"),
        row(T0 - DAY + 100, "p3", "shadow", "m", "{}"),    row(T0 + 10, "p4", "primary", "m", "{}"),
        row(T0 + 5000, "p5", "primary", "m", "{}"),        row(T0 + DAY, "p6", "primary", "m", "{}"),
    };
    OK(rd_store_log_append(st, rows, 6, E));
    uint64_t n = 99;
    OK(rd_store_log_prune(st, T0 + 11, &n, E)); /* two whole days and part of the third */
    assert_int_equal(n, 4);
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.req[0], "p5");
    OK(rd_store_log_prune(st, T0 + 11, &n, E));
    assert_int_equal(n, 0);
    /* inside a transaction too */
    OK(rd_store_begin(st, E));
    OK(rd_store_log_prune(st, T0 + DAY, &n, E)); /* the whole of T0's day: PostgreSQL drops it there */
    OK(rd_store_commit(st, E));
    assert_int_equal(n, 1);
    /* a day pruned away is written again without trouble */
    OK(rd_store_log_append(st, rows, 1, E));
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "p1"}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 2); /* p1 and p6 */
    rd_store_close(st);
}

/* PostgreSQL: a new day's partition is made while another session reads the log (an export
 * holding its lock on the parent): neither the writer nor the reader waits for the other. */
static void test_log_partition_locks(void **state)
{
    backend *b = want(state);
    if (!b->pg)
        skip(); /* no partitions */
    rd_store *st = open_store(b);
    rd_log_row r = row(T0, "l1", "primary", "m", "{}");
    OK(rd_store_log_append(st, &r, 1, E));
    char url[600];
    url_with_db(b->base, b->db, url, sizeof url);
    PGconn *reader = PQconnectdb(url);
    assert_int_equal(PQstatus(reader), CONNECTION_OK);
    /* a writer that waited for the reader would wait for ever: the server ends the reader's
       session after 5 s, and the time check below fails instead of the case hanging */
    PGresult *res = PQexec(reader, "SET idle_in_transaction_session_timeout = '5s'");
    PQclear(res);
    res = PQexec(reader, "BEGIN");
    PQclear(res);
    res = PQexec(reader, "SELECT count(*) FROM decisions");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    int64_t t0 = rd_clock_ns();
    r = row(T0 + 10 * DAY, "l2", "primary", "m", "{}"); /* a day without a partition yet */
    OK(rd_store_log_append(st, &r, 1, E));
    assert_true(rd_clock_ns() - t0 < INT64_C(3000000000)); /* not held until the reader ends */
    res = PQexec(reader, "COMMIT");
    PQclear(res);
    PQfinish(reader);
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    rd_store_close(st);
}

/* Two nodes logging the first rows of the same new days at the same moment: both make the
 * partition (one wins, the other finds it), neither fails. */
typedef struct racer {
    const backend *b;
    pthread_barrier_t *go;
    const char *node;
    int failed;
    char msg[512];
} racer;

static void *race_days(void *ud)
{
    racer *r = ud;
    rd_store_opts o = {.node = r->node};
    rd_store *st;
    rd_err err;
    int rc = rd_store_open(r->b->url, &o, &st, &err);
    for (int d = 0; d < 12; d++) {
        pthread_barrier_wait(r->go);
        rd_log_row row_ = row(T0 + (100 + d) * DAY, "race", "primary", "m", "{}");
        if (rc == RD_OK && rd_store_log_append(st, &row_, 1, &err) != RD_OK) {
            r->failed++;
            snprintf(r->msg, sizeof r->msg, "%s", err.msg);
        }
    }
    if (rc == RD_OK)
        rd_store_close(st);
    else
        snprintf(r->msg, sizeof r->msg, "%s", err.msg), r->failed = 12;
    return NULL;
}

static void test_partition_race(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    racer r[2] = {{b, &go, "node-a", 0, ""}, {b, &go, "node-b", 0, ""}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_days, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < 2; i++)
        if (r[i].failed)
            fail_msg("%s: %d appends failed: %s", r[i].node, r[i].failed, r[i].msg);
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){.request_id = "race"}, &s), RD_OK);
    assert_int_equal(s.n, 24); /* two nodes' rows: the node is part of the key */
    rd_store_close(st);
}

/* ------------------------------------------------------------------ blobs */

static void test_blobs(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    char h1[RD_SHA256_HEX], h2[RD_SHA256_HEX], h3[RD_SHA256_HEX];
    OK(rd_store_blob_put(st, "hello", 5, h1, E));
    assert_string_equal(h1, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    OK(rd_store_blob_put(st, "hello", 5, h2, E)); /* kept once */
    assert_string_equal(h1, h2);
    assert_true(rd_store_blob_has(st, h1));
    const char bin[] = {0, 1, 2, (char)0xff, 0, 'x'};
    OK(rd_store_blob_put(st, bin, sizeof bin, h3, E));
    char *data;
    size_t len;
    OK(rd_store_blob_get(st, h1, &data, &len, E));
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    rd_free(data);
    OK(rd_store_blob_get(st, h3, &data, &len, E));
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(data, bin, sizeof bin);
    assert_int_equal(data[len], '\0');
    rd_free(data);
    OK(rd_store_blob_put(st, "", 0, h2, E));
    OK(rd_store_blob_get(st, h2, &data, &len, E));
    assert_int_equal(len, 0);
    rd_free(data);
    const char *none = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_false(rd_store_blob_has(st, none));
    rd_err err;
    assert_int_equal(rd_store_blob_get(st, none, &data, &len, &err), RD_ENOTFOUND);
    rd_store_close(st);
}

/* ------------------------------------------------------------------ outcomes */

static uint64_t lcg_state;

static double lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return (double)(lcg_state >> 11) / 9007199254740992.0;
}

/* 400 decisions on two variants with scores of 17 digits, shadows, a fallback share; labels
 * that depend on the score. */
static void outcome_data(rd_store *st)
{
    enum { N = 400 };
    static char ids[N][16], recs[N][256], shadow_recs[N][64];
    rd_log_row rows[2 * N];
    lcg_state = 42;
    for (int i = 0; i < N; i++) {
        double score = lcg();
        bool fallback = i % 17 == 0;
        snprintf(ids[i], sizeof ids[i], "o%d", i);
        snprintf(recs[i], sizeof recs[i],
                 "{\"variant\":\"%s\",\"source\":\"%s\",\"score\":%.17g,\"decision\":\"%s\"}",
                 i % 2 ? "champion" : "challenger", fallback ? "fallback" : "model", score,
                 score < 0.6 ? "approve" : "reject");
        snprintf(shadow_recs[i], sizeof shadow_recs[i], "{\"source\":\"model\",\"score\":0.5}");
        rows[2 * i] = row(T0 + i * 1000, ids[i], "primary", i % 5 ? "m_v1" : "m_v2", recs[i]);
        rows[2 * i + 1] = row(T0 + i * 1000 + 1, ids[i], "shadow", "m_v3", shadow_recs[i]);
    }
    OK(rd_store_log_append(st, rows, 2 * N, E));
    rd_outcome o[N];
    rd_outcome_result res[N];
    lcg_state = 7;
    for (int i = 0; i < N; i++) {
        double u = lcg();
        o[i] = (rd_outcome){ids[i], "dpd30", u < 0.35 + 0.3 * (i % 3 == 0) ? 1 : 0, i % 4 ? T0 + i : 0};
    }
    OK(rd_store_outcomes_put(st, o, N, T0 + DAY, res, E));
    for (int i = 0; i < N; i++)
        assert_int_equal(res[i], RD_OUTCOME_NEW);
}

static void stats_of(rd_store *st, const char *model, const char *variant, int64_t from, int64_t to,
                     rd_outcome_stats *out)
{
    OK(rd_store_outcome_stats(st, model, variant, "dpd30", from, to, 5, out, E));
}

static void assert_same_stats(const rd_outcome_stats *a, const rd_outcome_stats *b)
{
    assert_int_equal(a->labelled, b->labelled);
    assert_int_equal(a->bads, b->bads);
    assert_int_equal(a->approved, b->approved);
    assert_int_equal(a->approved_bads, b->approved_bads);
    assert_memory_equal(&a->bad_rate_approved, &b->bad_rate_approved, sizeof(double)); /* to the bit */
    assert_memory_equal(&a->ks, &b->ks, sizeof(double));
}

static int add_name(void *ud, const char *name)
{
    char *names = ud;
    strcat(names, name);
    strcat(names, ",");
    return 0;
}

static void test_outcomes(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_log_row rows[] = {
        row(T0 + 1, "r1", "primary", "m_a",
            "{\"variant\":\"v\",\"source\":\"model\",\"score\":0.25,"
            "\"decision\":\"approve\"}"),
        row(T0 + 2, "r1", "shadow", "m_b", "{\"source\":\"model\",\"score\":0.9}"),
        row(T0 + 3, "s1", "shadow", "m_b", "{}"),
    };
    OK(rd_store_log_append(st, rows, 3, E));
    rd_outcome o[] = {{"r1", "dpd30", 1, 0}, {"nope", "dpd30", 1, 0}, {"s1", "dpd30", 0, 0}};
    rd_outcome_result res[3];
    OK(rd_store_outcomes_put(st, o, 3, T0 + 100, res, E));
    assert_int_equal(res[0], RD_OUTCOME_NEW);
    assert_int_equal(res[1], RD_OUTCOME_UNKNOWN_REQ);
    assert_int_equal(res[2], RD_OUTCOME_UNKNOWN_REQ); /* a shadow is no decision */
    OK(rd_store_outcomes_put(st, o, 1, T0 + 200, res, E));
    assert_int_equal(res[0], RD_OUTCOME_SAME);
    o[0].label = 0;
    OK(rd_store_outcomes_put(st, o, 1, T0 + 300, res, E));
    assert_int_equal(res[0], RD_OUTCOME_CHANGED);
    o[0].observed_ms = T0 + 5;
    OK(rd_store_outcomes_put(st, o, 1, T0 + 400, res, E));
    assert_int_equal(res[0], RD_OUTCOME_CHANGED); /* the observation time changed */
    /* a batch is all or none: a bad entry refuses it whole */
    rd_outcome bad[] = {{"r1", "fpd", 1, 0}, {"r1", "fpd", 7, 0}};
    rd_err err;
    assert_int_equal(rd_store_outcomes_put(st, bad, 2, T0, res, &err), RD_EINVAL);
    rd_outcome_stats s;
    stats_of(st, "m_a", NULL, 0, 0, &s);
    assert_int_equal(s.labelled, 1);
    assert_int_equal(s.bads, 0);
    assert_int_equal(s.approved, 1);
    assert_true(s.bad_rate_approved == 0.0);
    assert_true(isnan(s.ks));
    char names[256] = "";
    OK(rd_store_outcome_names(st, NULL, add_name, names, E));
    assert_string_equal(names, "dpd30,");
    rd_store_close(st);
}

static void test_outcome_stats(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    outcome_data(st);
    rd_outcome_stats all, v1, champ, window;
    stats_of(st, "m_v1", NULL, 0, 0, &v1);
    stats_of(st, "m_v1", "champion", 0, 0, &champ);
    stats_of(st, "m_v1", NULL, T0 + 100000, T0 + 200000, &window);
    stats_of(st, "m_v2", NULL, 0, 0, &all);
    assert_int_equal(v1.labelled, 320);
    assert_int_equal(champ.labelled, 160);
    assert_true(window.labelled > 0 && window.labelled < 100);
    assert_false(isnan(v1.ks));
    assert_true(v1.ks > 0 && v1.ks < 1);
    assert_true(v1.bads > 0 && v1.approved > 0 && v1.approved_bads > 0);
    assert_false(isnan(v1.bad_rate_approved));
    rd_outcome_stats none;
    OK(rd_store_outcome_stats(st, "m_v1", NULL, "dpd30", 0, 0, 100000, &none, E));
    assert_true(isnan(none.ks)); /* fewer bads than asked for */
    if (b->pg) {                 /* the same data on SQLite gives the same statistics, to the bit */
        char dir[] = "/tmp/riskd-conf-XXXXXX", url[64], cmd[64];
        assert_non_null(mkdtemp(dir));
        snprintf(url, sizeof url, "sqlite:%s", dir);
        rd_store *sq;
        OK(rd_store_open(url, NULL, &sq, E));
        outcome_data(sq);
        rd_outcome_stats x;
        stats_of(sq, "m_v1", NULL, 0, 0, &x);
        assert_same_stats(&x, &v1);
        stats_of(sq, "m_v1", "champion", 0, 0, &x);
        assert_same_stats(&x, &champ);
        stats_of(sq, "m_v1", NULL, T0 + 100000, T0 + 200000, &x);
        assert_same_stats(&x, &window);
        stats_of(sq, "m_v2", NULL, 0, 0, &x);
        assert_same_stats(&x, &all);
        rd_store_close(sq);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
    char names[256] = "";
    OK(rd_store_outcome_names(st, "m_v2", add_name, names, E));
    assert_string_equal(names, "dpd30,");
    names[0] = '\0';
    OK(rd_store_outcome_names(st, "m_v3", add_name, names, E));
    assert_string_equal(names, ""); /* shadows are never joined */
    rd_store_close(st);
}

/* ------------------------------------------------------------------ erasure */

typedef struct found {
    int n;
    int64_t ids[16];
    const char *req[16];
    char reqbuf[16][16];
} found;

static int add_found(void *ud, const rd_applicant_row *r)
{
    found *f = ud;
    f->ids[f->n] = r->id;
    snprintf(f->reqbuf[f->n], sizeof f->reqbuf[0], "%s", r->request_id);
    f->req[f->n] = f->reqbuf[f->n];
    f->n++;
    return 0;
}

static void test_applicant(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_log_row rows[] = {
        row(T0 + 1, "e1", "primary", "m", "{\"context\":{\"targetingKey\":\"app-1\"}}"),
        row(T0 + 2, "e1", "shadow", "m2", "{\"context\":{\"targetingKey\":\"app-1\"}}"),
        row(T0 + 3, "e2", "primary", "m", "{\"context\":{\"targetingKey\":\"app-2\"}}"),
        row(T0 + 4, "e3", "primary", "m", "{\"context\":{\"targetingKey\":\"app-1\"},\"x\":1}"),
        row(T0 + 5, "e4", "primary", "m", "{\"note\":\"app-1\"}"),               /* the text, not the key */
        row(T0 + 6, "e5", "primary", "m", "app-1 {not json"),                    /* not JSON */
        row(T0 + 7, "e6", "primary", "m", "{\"context\":{\"targetingKey\":1}}"), /* not a string */
    };
    OK(rd_store_log_append(st, rows, 7, E));
    rd_outcome o[] = {{"e1", "dpd30", 1, 0}};
    rd_outcome_result res[1];
    OK(rd_store_outcomes_put(st, o, 1, T0 + 10, res, E));
    found f = {0};
    int64_t last = 0;
    OK(rd_store_applicant_scan(st, "app-1", 0, add_found, &f, &last, E));
    assert_int_equal(f.n, 2);
    assert_string_equal(f.req[0], "e1");
    assert_string_equal(f.req[1], "e3");
    found key1 = {0};
    OK(rd_store_applicant_scan(st, "1", 0, add_found, &key1, &last, E));
    assert_int_equal(key1.n, 0); /* a number is not the key "1" */
    rd_log_row later = row(T0 + 8, "e7", "primary", "m", "{\"context\":{\"targetingKey\":\"app-1\"}}");
    OK(rd_store_log_append(st, &later, 1, E));
    int64_t last2;
    OK(rd_store_applicant_scan(st, "app-1", last, add_found, &f, &last2, E)); /* only what came since */
    assert_int_equal(f.n, 3);
    assert_string_equal(f.req[2], "e7");
    assert_true(last2 > last);
    found quoted = {0};
    rd_log_row q = row(T0 + 9, "e8", "primary", "m", "{\"context\":{\"targetingKey\":\"a\\\"b\"}}");
    OK(rd_store_log_append(st, &q, 1, E));
    OK(rd_store_applicant_scan(st, "a\"b", 0, add_found, &quoted, &last2, E)); /* escaped in the text */
    assert_int_equal(quoted.n, 1);
    rd_applicant_erased e;
    OK(rd_store_begin(st, E));
    OK(rd_store_applicant_erase(st, f.ids, (size_t)f.n, f.req, (size_t)f.n, &e, E));
    OK(rd_store_commit(st, E));
    assert_int_equal(e.decisions, 3);
    assert_int_equal(e.shadows, 1);
    assert_int_equal(e.outcomes, 1);
    bool complete = false;
    OK(rd_store_scrub(st, &complete, E));
    assert_true(complete);
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 5); /* e2, e4, e5, e6, e8 */
    rd_store_close(st);
}

/* ------------------------------------------------------------------ rollouts */

static rd_rollout_row rollout(const char *flag)
{
    rd_rollout_row r = {.state = RD_ROLLOUT_RUNNING, .stage = 0, .stage_started_ms = T0, .updated_ms = T0};
    snprintf(r.flag, sizeof r.flag, "%s", flag);
    snprintf(r.plan_name, sizeof r.plan_name, "plan");
    snprintf(r.plan_path, sizeof r.plan_path, "/etc/riskd/plan.json");
    snprintf(r.plan_sha, sizeof r.plan_sha, "%064d", 1);
    snprintf(r.flags_path, sizeof r.flags_path, "/etc/riskd/flags.json");
    snprintf(r.stage_name, sizeof r.stage_name, "shadow");
    r.plan_json = "{\"name\":\"plan\"}";
    return r;
}

typedef struct names_seen {
    char text[512];
} names_seen;

static int rollout_one(void *ud, const rd_rollout_row *r)
{
    names_seen *n = ud;
    char one[300];
    snprintf(one, sizeof one, "%s:%lld:%s,", r->flag, (long long)r->version, r->plan_json);
    strcat(n->text, one);
    return 0;
}

static int transition_one(void *ud, const rd_transition *t)
{
    names_seen *n = ud;
    char one[300];
    snprintf(one, sizeof one, "%.40s %d>%d %.20s %.40s;", t->flag, t->from_stage, t->to_stage, t->reason,
             t->gates_json ? t->gates_json : "null");
    strcat(n->text, one);
    return 0;
}

static void test_rollouts(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_rollout_row r = rollout("route-b"), r2 = rollout("Route-a"), got;
    rd_err err;
    assert_int_equal(rd_rollout_get(st, "route-b", &got, &err), RD_ENOTFOUND);
    OK(rd_rollout_put(st, &r, E));
    assert_int_equal(r.version, 1);
    rd_rollout_row again = rollout("route-b");
    assert_int_equal(rd_rollout_put(st, &again, &err), RD_ECONFLICT); /* it exists */
    assert_non_null(strstr(err.msg, "already exists"));
    r.stage = 1;
    r.state = RD_ROLLOUT_HOLDING;
    OK(rd_rollout_put(st, &r, E));
    assert_int_equal(r.version, 2);
    again.version = 1; /* stale */
    assert_int_equal(rd_rollout_put(st, &again, &err), RD_ECONFLICT);
    assert_non_null(strstr(err.msg, "now 2"));
    OK(rd_rollout_get(st, "route-b", &got, E));
    assert_int_equal(got.stage, 1);
    assert_int_equal(got.state, RD_ROLLOUT_HOLDING);
    assert_int_equal(got.version, 2);
    assert_string_equal(got.plan_json, "{\"name\":\"plan\"}");
    rd_rollout_row_free(&got);
    OK(rd_rollout_put(st, &r2, E));
    names_seen n = {""};
    OK(rd_rollout_list(st, rollout_one, &n, E));
    assert_string_equal(n.text, "Route-a:1:{\"name\":\"plan\"},route-b:2:{\"name\":\"plan\"},"); /* bytes */
    char *json;
    assert_int_equal(rd_rollout_get_status(st, "route-b", &json, &err), RD_ENOTFOUND);
    OK(rd_rollout_set_status(st, "route-b", "{\"ok\":true}", E));
    OK(rd_rollout_get_status(st, "route-b", &json, E));
    assert_string_equal(json, "{\"ok\":true}");
    rd_free(json);
    rd_transition t = {.ts_ms = T0, .from_stage = 0, .to_stage = 1};
    snprintf(t.flag, sizeof t.flag, "route-b");
    snprintf(t.from_state, sizeof t.from_state, "running");
    snprintf(t.to_state, sizeof t.to_state, "running");
    snprintf(t.reason, sizeof t.reason, "advance");
    snprintf(t.detail, sizeof t.detail, "gates passed");
    snprintf(t.actor, sizeof t.actor, "controller");
    snprintf(t.flags_sha, sizeof t.flags_sha, "%064d", 2);
    OK(rd_transition_append(st, &t, E));
    t.to_stage = 2;
    t.gates_json = "{\"g\":1}";
    OK(rd_transition_append(st, &t, E));
    snprintf(t.flag, sizeof t.flag, "Route-a");
    OK(rd_transition_append(st, &t, E));
    memset(&n, 0, sizeof n);
    OK(rd_transition_list(st, "route-b", 0, transition_one, &n, E));
    assert_string_equal(n.text, "route-b 0>2 advance {\"g\":1};route-b 0>1 advance null;"); /* newest first */
    memset(&n, 0, sizeof n);
    OK(rd_transition_list(st, NULL, 2, transition_one, &n, E));
    assert_string_equal(n.text, "Route-a 0>2 advance {\"g\":1};route-b 0>2 advance {\"g\":1};");
    rd_store_close(st);
}

/* ------------------------------------------------------------------ governance */

static int audit_collect(void *ud, const rd_audit_row *r)
{
    names_seen *n = ud;
    char one[32];
    snprintf(one, sizeof one, "%lld%s,", (long long)r->seq, r->actor);
    strcat(n->text, one);
    return 0;
}

static void test_audit(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    int64_t seq = -1;
    char hash[RD_SHA256_HEX];
    OK(rd_store_audit_last(st, &seq, hash, E));
    assert_int_equal(seq, 0);
    assert_string_equal(hash, "");
    const char *actors[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) {
        rd_audit_entry e = {.ts_ms = T0 + i,
                            .actor = actors[i],
                            .action = "flags.publish",
                            .object = "flags:/x",
                            .detail_json = "{\"n\":1}"};
        OK(rd_audit_append(st, &e, &seq, E));
        assert_int_equal(seq, i + 1);
    }
    uint64_t count;
    OK(rd_store_audit_count(st, &count, E));
    assert_int_equal(count, 5);
    OK(rd_store_audit_last(st, &seq, hash, E));
    assert_int_equal(seq, 5);
    assert_int_equal(strlen(hash), 64);
    names_seen n = {""};
    OK(rd_store_audit_scan(st, 0, 0, false, audit_collect, &n, E));
    assert_string_equal(n.text, "1a,2b,3c,4d,5e,");
    memset(&n, 0, sizeof n);
    OK(rd_store_audit_scan(st, 2, 2, false, audit_collect, &n, E));
    assert_string_equal(n.text, "2b,3c,");
    memset(&n, 0, sizeof n);
    OK(rd_store_audit_scan(st, 0, 3, true, audit_collect, &n, E));
    assert_string_equal(n.text, "5e,4d,3c,");
    rd_audit_verify_result v;
    OK(rd_audit_verify(st, 5, hash, NULL, NULL, &v, E));
    assert_int_equal(v.entries, 5);
    assert_int_equal(v.first_bad, 0);
    /* a row already there is refused (the chain's seq is its key) */
    rd_audit_row dup = {.seq = 3,
                        .ts_ms = T0,
                        .actor = "x",
                        .action = "x",
                        .object = "x",
                        .detail = "{}",
                        .prev_hash = hash,
                        .hash = hash,
                        .before_sha256 = "",
                        .after_sha256 = ""};
    rd_err err;
    assert_int_equal(rd_store_audit_insert(st, &dup, &err), RD_EIO);
    rd_store_close(st);
}

static int user_one(void *ud, const rd_user_row *u)
{
    names_seen *n = ud;
    strcat(n->text, u->name);
    strcat(n->text, u->disabled ? "(off)," : ",");
    return 0;
}

static int token_one(void *ud, const rd_token_row *t)
{
    names_seen *n = ud;
    strcat(n->text, t->id);
    strcat(n->text, ",");
    return 0;
}

static int token_parent(void *ud, const rd_token_row *t)
{
    names_seen *n = ud;
    strcat(n->text, t->id);
    strcat(n->text, ":");
    strcat(n->text, t->parent);
    strcat(n->text, ",");
    return 0;
}

typedef struct mark_job {
    rd_store *st;
    atomic_int rc; /* 1 until the mark returns */
} mark_job;

static void *mark_in_thread(void *arg)
{
    mark_job *j = arg;
    atomic_store(&j->rc, rd_store_token_mark_used(j->st, "tok1", T0 + 20, NULL));
    return NULL;
}

/* The last-use mark is no governance write: on PostgreSQL it must not wait for the governance
 * lock, which another node's publish (here another handle's transaction) holds. */
static void mark_beside_governance(backend *b, rd_store *st)
{
    rd_store *gov = open_store(b);
    OK(rd_store_begin(gov, E));
    mark_job j = {.st = st, .rc = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, mark_in_thread, &j), 0);
    for (int i = 0; i < 1000 && atomic_load(&j.rc) == 1; i++) /* 10 s at most: a hang guard */
        usleep(10000);
    int rc = atomic_load(&j.rc);
    rd_store_rollback(gov); /* frees a mark that did wait, so the thread ends either way */
    pthread_join(t, NULL);
    rd_store_close(gov);
    assert_int_equal(rc, RD_OK); /* 1: it waited for the governance transaction */
    rd_token_row tg;
    OK(rd_store_token_get(st, "tok1", &tg, E));
    assert_int_equal(tg.last_used_ms, T0 + 20);
}

static void test_users_tokens(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_user_row u = {.created_ms = T0}, got;
    rd_err err;
    assert_int_equal(rd_store_user_get(st, "bob", &got, &err), RD_ENOTFOUND);
    const char *names[] = {"bob", "Alice", "alice", "_x"};
    for (int i = 0; i < 4; i++) {
        snprintf(u.name, sizeof u.name, "%s", names[i]);
        snprintf(u.role, sizeof u.role, "viewer");
        snprintf(u.created_by, sizeof u.created_by, "root");
        OK(rd_store_user_put(st, &u, E));
    }
    snprintf(u.name, sizeof u.name, "bob");
    snprintf(u.role, sizeof u.role, "admin");
    u.disabled = true;
    OK(rd_store_user_put(st, &u, E)); /* replaced */
    OK(rd_store_user_get(st, "bob", &got, E));
    assert_string_equal(got.role, "admin");
    assert_true(got.disabled);
    assert_int_equal(got.created_ms, T0);
    assert_string_equal(got.created_by, "root");
    names_seen n = {""};
    OK(rd_store_user_list(st, user_one, &n, E));
    assert_string_equal(n.text, "Alice,_x,alice,bob(off),"); /* byte order */
    rd_token_row t = {.scopes = 0x80000001u, .created_ms = T0, .expires_ms = T0 + DAY};
    const char *ids[] = {"tok2", "tok1", "tok3"};
    for (int i = 0; i < 3; i++) {
        snprintf(t.id, sizeof t.id, "%s", ids[i]);
        snprintf(t.user, sizeof t.user, "%s", i == 2 ? "alice" : "bob");
        snprintf(t.hash, sizeof t.hash, "%064d", i);
        snprintf(t.created_by, sizeof t.created_by, "root");
        t.created_ms = T0 + (i == 2 ? -1 : 0);
        snprintf(t.parent, sizeof t.parent, "%s", i == 1 ? "tok2" : ""); /* tok1: a console session */
        OK(rd_store_token_put(st, &t, E));
    }
    rd_token_row tg;
    OK(rd_store_token_get(st, "tok2", &tg, E));
    assert_string_equal(tg.parent, "");
    OK(rd_store_token_get(st, "tok1", &tg, E));
    assert_string_equal(tg.parent, "tok2");
    assert_int_equal(tg.scopes, 0x80000001u);
    assert_string_equal(tg.user, "bob");
    assert_int_equal(tg.expires_ms, T0 + DAY);
    assert_int_equal(tg.revoked_ms, 0);
    tg.revoked_ms = T0 + 5;
    tg.last_used_ms = T0 + 6;
    OK(rd_store_token_put(st, &tg, E));
    OK(rd_store_token_get(st, "tok1", &tg, E));
    assert_int_equal(tg.revoked_ms, T0 + 5);
    assert_int_equal(tg.last_used_ms, T0 + 6);
    assert_int_equal(rd_store_token_get(st, "nope", &tg, &err), RD_ENOTFOUND);
    /* the last-use mark: that column alone (the revocation kept), never back in time, nothing for
       an unknown id */
    OK(rd_store_token_mark_used(st, "tok1", T0 + 9, E));
    OK(rd_store_token_mark_used(st, "tok1", T0 + 7, E));
    OK(rd_store_token_mark_used(st, "nope", T0 + 9, E));
    OK(rd_store_token_get(st, "tok1", &tg, E));
    assert_int_equal(tg.last_used_ms, T0 + 9);
    assert_int_equal(tg.revoked_ms, T0 + 5);
    assert_string_equal(tg.hash, "0000000000000000000000000000000000000000000000000000000000000001");
    assert_string_equal(tg.parent, "tok2"); /* kept by a replace and by the mark */
    if (b->pg) /* SQLite has one writer at a time: its mark waits for a write transaction */
        mark_beside_governance(b, st);
    memset(&n, 0, sizeof n);
    OK(rd_store_token_list(st, NULL, token_one, &n, E));
    assert_string_equal(n.text, "tok3,tok1,tok2,"); /* created_ms, then id */
    memset(&n, 0, sizeof n);
    OK(rd_store_token_list(st, "bob", token_one, &n, E));
    assert_string_equal(n.text, "tok1,tok2,");
    memset(&n, 0, sizeof n);
    OK(rd_store_token_list(st, NULL, token_parent, &n, E));
    assert_string_equal(n.text, "tok3:,tok1:tok2,tok2:,"); /* the list reads the parent too */
    rd_store_close(st);
}

static void case_sql(const backend *b, const char *sql);

/* A schema-4 database (tokens without a parent) is migrated at open with its tokens, which are
 * no sessions; a read-only handle, which does not migrate, reads them as such before that. */
static void test_migrate_5(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_token_row t = {.id = "old1", .user = "bob", .scopes = 1, .created_ms = T0, .created_by = "root"};
    snprintf(t.hash, sizeof t.hash, "%064d", 7);
    OK(rd_store_token_put(st, &t, E));
    rd_store_close(st);
    case_sql(
        b, "DROP TABLE exposure_stages; DROP TABLE exposure_slices;"
           " DROP TABLE notify_events; DROP TABLE notify_sinks; DROP TABLE notify_failures;"
           " ALTER TABLE tokens DROP COLUMN parent; UPDATE riskd_meta SET value = '4' WHERE key = 'schema'");
    rd_store_opts ro = {.read_only = true};
    st = open_opts(b, &ro);
    rd_token_row tg;
    memset(&tg, 'x', sizeof tg);
    OK(rd_store_token_get(st, "old1", &tg, E));
    assert_string_equal(tg.parent, "");
    names_seen n = {""};
    OK(rd_store_token_list(st, NULL, token_parent, &n, E));
    assert_string_equal(n.text, "old1:,");
    rd_store_close(st);
    st = open_store(b); /* migrates */
    OK(rd_store_token_get(st, "old1", &tg, E));
    assert_string_equal(tg.parent, "");
    assert_string_equal(tg.user, "bob");
    snprintf(t.id, sizeof t.id, "new1");
    snprintf(t.parent, sizeof t.parent, "old1");
    OK(rd_store_token_put(st, &t, E));
    OK(rd_store_token_get(st, "new1", &tg, E));
    assert_string_equal(tg.parent, "old1");
    rd_store_close(st);
}

static int change_one(void *ud, const rd_change_row *c)
{
    names_seen *n = ud;
    char one[128];
    snprintf(one, sizeof one, "%lld:%s:%s,", (long long)c->id, c->state, c->approvals_json);
    strcat(n->text, one);
    return 0;
}

static void test_changes(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_change_row c = {.created_ms = T0, .updated_ms = T0, .revision = 1}, got;
    snprintf(c.kind, sizeof c.kind, "flags");
    snprintf(c.target, sizeof c.target, "/etc/riskd/flags.json");
    snprintf(c.state, sizeof c.state, "open");
    snprintf(c.title, sizeof c.title, "raise the limit");
    snprintf(c.author, sizeof c.author, "alice");
    snprintf(c.payload_sha, sizeof c.payload_sha, "%064d", 9);
    c.editors_json = "[\"alice\"]";
    OK(rd_store_change_put(st, &c, E));
    assert_int_equal(c.id, 1);
    c.id = 0;
    OK(rd_store_change_put(st, &c, E));
    assert_int_equal(c.id, 2);
    c.approvals_json = "[{\"user\":\"bob\",\"revision\":1,\"ts_ms\":5,\"token\":\"t\"}]";
    c.history_json = "[{\"event\":\"approve\"}]";
    snprintf(c.state, sizeof c.state, "approved");
    c.revision = 2;
    OK(rd_store_change_put(st, &c, E)); /* replaces 2 */
    assert_int_equal(c.id, 2);
    OK(rd_store_change_get(st, 2, &got, E));
    assert_string_equal(got.state, "approved");
    assert_int_equal(got.revision, 2);
    assert_string_equal(got.editors_json, "[\"alice\"]");
    assert_string_equal(got.approvals_json, c.approvals_json);
    assert_string_equal(got.history_json, "[{\"event\":\"approve\"}]");
    assert_string_equal(got.base_sha, "");
    assert_string_equal(got.title, "raise the limit");
    rd_store_change_row_free(&got);
    OK(rd_store_change_get(st, 1, &got, E));
    assert_string_equal(got.approvals_json, "[]"); /* none given: an empty list */
    rd_store_change_row_free(&got);
    rd_err err;
    assert_int_equal(rd_store_change_get(st, 3, &got, &err), RD_ENOTFOUND);
    c.id = 0;
    snprintf(c.state, sizeof c.state, "open");
    OK(rd_store_change_put(st, &c, E));
    assert_int_equal(c.id, 3);
    names_seen n = {""};
    OK(rd_store_change_list(st, NULL, 0, change_one, &n, E));
    assert_string_equal(n.text, "3:open:[{\"user\":\"bob\",\"revision\":1,\"ts_ms\":5,\"token\":\"t\"}],"
                                "2:approved:[{\"user\":\"bob\",\"revision\":1,\"ts_ms\":5,\"token\":\"t\"}],"
                                "1:open:[],");
    memset(&n, 0, sizeof n);
    OK(rd_store_change_list(st, "open", 1, change_one, &n, E));
    assert_string_equal(n.text, "3:open:[{\"user\":\"bob\",\"revision\":1,\"ts_ms\":5,\"token\":\"t\"}],");
    rd_store_close(st);
}

static int version_one(void *ud, const rd_version_row *v)
{
    names_seen *n = ud;
    char one[128];
    snprintf(one, sizeof one, "%.40s:%lld:%.2s,", v->target, (long long)v->version, v->sha);
    strcat(n->text, one);
    return 0;
}

static void test_versions_settings(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_version_row v = {.change_id = 4};
    snprintf(v.kind, sizeof v.kind, "flags");
    snprintf(v.how, sizeof v.how, "publish");
    snprintf(v.author, sizeof v.author, "alice");
    snprintf(v.approvers, sizeof v.approvers, "bob,carol");
    snprintf(v.published_by, sizeof v.published_by, "bob");
    const struct {
        const char *target, *sha;
        int64_t ts;
    } vs[] = {{"/a", "aa", T0 + 1}, {"/a", "bb", T0 + 3}, {"/b", "aa", T0 + 2}, {"/a", "aa", T0 + 4}};
    for (int i = 0; i < 4; i++) {
        snprintf(v.target, sizeof v.target, "%s", vs[i].target);
        snprintf(v.sha, sizeof v.sha, "%s%062d", vs[i].sha, 0);
        v.ts_ms = vs[i].ts;
        OK(rd_store_version_append(st, &v, E));
    }
    assert_int_equal(v.version, 3); /* /a's third */
    names_seen n = {""};
    OK(rd_store_version_list(st, "flags", "/a", 0, version_one, &n, E));
    assert_string_equal(n.text, "/a:3:aa,/a:2:bb,/a:1:aa,");
    memset(&n, 0, sizeof n);
    OK(rd_store_version_list(st, NULL, NULL, 3, version_one, &n, E)); /* every target: by time */
    assert_string_equal(n.text, "/a:3:aa,/a:2:bb,/b:1:aa,");
    rd_version_row got;
    char sha[RD_SHA256_HEX];
    snprintf(sha, sizeof sha, "aa%062d", 0);
    OK(rd_store_version_find(st, "flags", "/a", sha, &got, E));
    assert_int_equal(got.version, 3); /* the newest with that sha */
    assert_int_equal(got.change_id, 4);
    assert_string_equal(got.approvers, "bob,carol");
    assert_int_equal(got.ts_ms, T0 + 4);
    OK(rd_store_version_get(st, "flags", "/a", 2, &got, E));
    assert_string_equal(got.sha, "bb00000000000000000000000000000000000000000000000000000000000000");
    rd_err err;
    assert_int_equal(rd_store_version_get(st, "flags", "/a", 9, &got, &err), RD_ENOTFOUND);
    assert_int_equal(rd_store_version_find(st, "flags", "/c", sha, &got, &err), RD_ENOTFOUND);
    char value[8];
    assert_int_equal(rd_store_setting_get(st, "approvals.flags", value, sizeof value, &err), RD_ENOTFOUND);
    OK(rd_store_setting_put(st, "approvals.flags", "1", E));
    OK(rd_store_setting_put(st, "approvals.flags", "2", E));
    OK(rd_store_setting_get(st, "approvals.flags", value, sizeof value, E));
    assert_string_equal(value, "2");
    OK(rd_store_setting_put(st, "served.flags", "/etc/riskd/flags.json", E));
    OK(rd_store_setting_get(st, "served.flags", value, sizeof value, E));
    assert_string_equal(value, "/etc/ri"); /* cut to the room given */
    rd_store_close(st);
}

static void test_transactions(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    char value[16];
    rd_err err;
    OK(rd_store_begin(st, E));
    OK(rd_store_begin(st, E)); /* nested: counted */
    OK(rd_store_setting_put(st, "k", "1", E));
    OK(rd_store_commit(st, E)); /* the inner: nothing yet */
    rd_store *other = open_store(b);
    assert_int_equal(rd_store_setting_get(other, "k", value, sizeof value, &err), RD_ENOTFOUND);
    OK(rd_store_commit(st, E));
    OK(rd_store_setting_get(other, "k", value, sizeof value, E));
    assert_string_equal(value, "1");
    /* rollback undoes it all */
    OK(rd_store_begin(st, E));
    OK(rd_store_setting_put(st, "k", "2", E));
    rd_log_row r = row(T0, "tx", "primary", "m", "{}");
    /* the outcomes and the log commit on their own, never inside a caller's transaction (the log
       last: SQLite's failed BEGIN there rolls the caller's transaction back at once) */
    rd_outcome o = {"tx", "dpd30", 1, 0};
    rd_outcome_result res;
    assert_int_equal(rd_store_outcomes_put(st, &o, 1, T0, &res, &err), RD_EIO);
    assert_int_equal(rd_store_log_append(st, &r, 1, &err), RD_EIO);
    rd_store_rollback(st);
    OK(rd_store_setting_get(st, "k", value, sizeof value, E));
    assert_string_equal(value, "1");
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 0);
    /* an inner rollback: the outer commit fails, nothing written */
    OK(rd_store_begin(st, E));
    OK(rd_store_setting_put(st, "k", "3", E));
    OK(rd_store_begin(st, E));
    rd_store_rollback(st);
    assert_int_equal(rd_store_begin(st, &err), RD_ECONFLICT); /* no new level on an undone transaction */
    assert_int_equal(rd_store_commit(st, &err), RD_ECONFLICT);
    OK(rd_store_setting_get(other, "k", value, sizeof value, E));
    assert_string_equal(value, "1");
    assert_int_equal(rd_store_commit(st, &err), RD_EINTERNAL); /* no transaction any more */
    /* a statement that fails inside the transaction: the caller rolls back, and the handle goes on */
    OK(rd_store_begin(st, E));
    rd_audit_row dup = {.seq = 1,
                        .ts_ms = 1,
                        .actor = "x",
                        .action = "x",
                        .object = "x",
                        .detail = "{}",
                        .prev_hash = "",
                        .hash = "",
                        .before_sha256 = "",
                        .after_sha256 = ""};
    OK(rd_store_audit_insert(st, &dup, E));
    assert_int_equal(rd_store_audit_insert(st, &dup, &err), RD_EIO);
    rd_store_rollback(st);
    uint64_t count;
    OK(rd_store_audit_count(st, &count, E));
    assert_int_equal(count, 0);
    rd_store_close(other);
    rd_store_close(st);
}

static void test_read_only(void **state)
{
    backend *b = want(state);
    rd_store_opts ro = {.read_only = true};
    rd_store *st;
    rd_err err;
    assert_int_not_equal(rd_store_open(b->url, &ro, &st, &err), RD_OK); /* nothing there yet */
    st = open_store(b);
    OK(rd_store_setting_put(st, "k", "1", E));
    rd_log_row r = row(T0, "ro", "primary", "m", "{}");
    OK(rd_store_log_append(st, &r, 1, E));
    rd_store_close(st);
    st = open_opts(b, &ro);
    char value[8];
    OK(rd_store_setting_get(st, "k", value, sizeof value, E));
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    assert_int_not_equal(rd_store_setting_put(st, "k", "2", &err), RD_OK);
    r.request_id = "ro2";
    assert_int_not_equal(rd_store_log_append(st, &r, 1, &err), RD_OK);
    char hex[RD_SHA256_HEX];
    assert_int_not_equal(rd_store_blob_put(st, "x", 1, hex, &err), RD_OK);
    rd_store_close(st);
    st = open_store(b);
    OK(rd_store_setting_get(st, "k", value, sizeof value, E));
    assert_string_equal(value, "1");
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 1);
    rd_store_close(st);
}

/* Run sql on the case's database, whichever backend holds it. */
static void case_sql(const backend *b, const char *sql)
{
    if (b->pg) {
        pg_sql(b->db, sql);
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/riskd.db", b->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

static void test_refusals(void **state)
{
    backend *b = want(state);
    rd_store *st;
    rd_err err;
    case_sql(b, "CREATE TABLE orders(id integer)");
    assert_int_equal(rd_store_open(b->url, NULL, &st, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not a riskd database"));
    case_sql(b, "DROP TABLE orders");
    st = open_store(b);
    rd_store_close(st);
    case_sql(b, "UPDATE riskd_meta SET value = '99' WHERE key = 'schema'");
    assert_int_equal(rd_store_open(b->url, NULL, &st, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "schema version 99 is newer"));
    /* the message names the database (and never a password) */
    assert_non_null(strstr(err.msg, b->pg ? b->db : "riskd.db"));
    if (b->pg) {
        assert_int_equal(strncmp(err.msg, "postgresql://", 13), 0);
        /* the audit table is append-only */
        char now_schema[80];
        snprintf(now_schema, sizeof now_schema, "UPDATE riskd_meta SET value = '%d' WHERE key = 'schema'",
                 RD_STORE_SCHEMA);
        case_sql(b, now_schema);
        st = open_store(b);
        rd_audit_entry e = {.actor = "a", .action = "x.y", .object = "o"};
        OK(rd_audit_append(st, &e, NULL, E));
        rd_store_close(st);
        PGconn *c;
        char url[600];
        url_with_db(b->base, b->db, url, sizeof url);
        c = PQconnectdb(url);
        const char *sql[] = {"UPDATE audit SET actor = 'b'", "DELETE FROM audit", "TRUNCATE audit"};
        for (int i = 0; i < 3; i++) {
            PGresult *r = PQexec(c, sql[i]);
            assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
            assert_non_null(strstr(PQresultErrorMessage(r), "append-only"));
            PQclear(r);
        }
        PQfinish(c);
    }
}

/* ------------------------------------------------------------------ several nodes */

static void test_status(void **state)
{
    backend *b = want(state);
    rd_store_opts o = {.node = "node-a"};
    rd_store *st = open_opts(b, &o);
    OK(rd_store_ping(st, E));
    assert_int_equal(rd_store_shared(st), b->pg);
    if (b->pg) {
        char want_name[600];
        url_with_db(b->base, b->db, want_name, sizeof want_name);
        assert_string_equal(rd_store_name(st), want_name);
    } else {
        assert_non_null(strstr(rd_store_name(st), "/riskd.db"));
    }
    /* another node's rows with the same request id, kind and time are its own */
    rd_log_row r = row(T0, "same", "primary", "m", "{}");
    OK(rd_store_log_append(st, &r, 1, E));
    rd_store_opts o2 = {.node = "node-b"};
    rd_store *st2 = open_opts(b, &o2);
    OK(rd_store_log_append(st2, &r, 1, E));
    seen s;
    assert_int_equal(scan(st, (rd_log_filter){0}, &s), RD_OK);
    assert_int_equal(s.n, 2);
    rd_store_close(st2);
    rd_store_close(st);
    rd_err err;
    if (b->pg) {
        rd_store *x;
        assert_int_equal(rd_store_open("postgresql://riskd:secret@127.0.0.1:1/riskd", NULL, &x, &err),
                         RD_ESTORE);
        assert_non_null(
            strstr(err.msg, "postgresql://riskd@127.0.0.1:1/riskd: the database is unreachable: "));
        assert_null(strstr(err.msg, "secret"));
        assert_int_equal(rd_store_open("postgres://riskd@127.0.0.1:1/riskd", NULL, &x, &err), RD_ESTORE);
        assert_int_equal(rd_store_open("postgresql://x?nonsense=1", NULL, &x, &err), RD_EINVAL);
    }
    rd_store *x;
    assert_int_equal(rd_store_open("mysql://db/riskd", NULL, &x, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "postgresql://"));
}

static void test_leadership(void **state)
{
    backend *b = want(state);
    rd_store *a = open_store(b), *c = open_store(b);
    bool held;
    OK(rd_store_leader_try(a, "rollout", &held, E));
    assert_true(held);
    OK(rd_store_leader_try(a, "rollout", &held, E)); /* asked again: still */
    assert_true(held);
    OK(rd_store_leader_try(c, "rollout", &held, E));
    assert_false(held);
    OK(rd_store_leader_try(c, "retention", &held, E)); /* another role */
    assert_true(held);
    rd_store_leader_release(a, "rollout");
    OK(rd_store_leader_try(c, "rollout", &held, E)); /* handed over */
    assert_true(held);
    OK(rd_store_leader_try(a, "rollout", &held, E));
    assert_false(held);
    rd_store_close(c); /* the holder goes: the lock is free (PostgreSQL: soon, as its session ends) */
    int64_t deadline = rd_clock_ns() + INT64_C(5000000000);
    do {
        OK(rd_store_leader_try(a, "rollout", &held, E));
        if (!held)
            usleep(20000);
    } while (!held && rd_clock_ns() < deadline);
    assert_true(held);
    rd_store_close(a);
}

/* The next notification within ms, or "" when none comes. */
static void watch_wait(rd_store_watch *w, int ms, char *what, size_t cap)
{
    int64_t deadline = rd_clock_ns() + (int64_t)ms * 1000000;
    what[0] = '\0';
    for (;;) {
        bool got;
        OK(rd_store_watch_next(w, what, cap, &got, E));
        if (got)
            return;
        int left = (int)((deadline - rd_clock_ns()) / 1000000);
        if (left <= 0) {
            what[0] = '\0';
            return;
        }
        struct pollfd p = {.fd = rd_store_watch_fd(w), .events = POLLIN};
        poll(&p, 1, left);
    }
}

static void test_notify_watch(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_store_watch *w;
    OK(rd_store_watch_open(b->url, &w, E));
    rd_err err;
    assert_int_equal(rd_store_notify(st, NULL, &err), RD_EINVAL);
    if (!b->pg) {
        assert_null(w); /* no push: the caller polls */
        OK(rd_store_notify(st, "flags", E));
        rd_store_close(st);
        return;
    }
    assert_non_null(w);
    assert_true(rd_store_watch_fd(w) >= 0);
    char what[64];
    OK(rd_store_begin(st, E));
    OK(rd_store_notify(st, "rolled-back", E));
    rd_store_rollback(st);
    OK(rd_store_begin(st, E));
    OK(rd_store_notify(st, "flags", E));
    watch_wait(w, 200, what, sizeof what);
    assert_string_equal(what, ""); /* not before the commit */
    OK(rd_store_commit(st, E));
    OK(rd_store_notify(st, "bundle", E)); /* outside a transaction: at once */
    watch_wait(w, 5000, what, sizeof what);
    assert_string_equal(what, "flags"); /* the rolled-back one never came */
    watch_wait(w, 5000, what, sizeof what);
    assert_string_equal(what, "bundle");
    watch_wait(w, 100, what, sizeof what);
    assert_string_equal(what, "");
    /* the watch's connection killed: the watch says so, reconnects and receives again */
    pg_sql(b->db,
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN riskd_changes'"
           " AND datname = current_database()");
    int64_t deadline = rd_clock_ns() + INT64_C(5000000000);
    int rc = RD_OK;
    while (rc == RD_OK && rd_clock_ns() < deadline) {
        bool got;
        rc = rd_store_watch_next(w, what, sizeof what, &got, &err);
        if (rc == RD_OK)
            usleep(10000);
    }
    assert_int_equal(rc, RD_ESTORE);
    OK(rd_store_watch_reconnect(w, E));
    OK(rd_store_notify(st, "rollout", E));
    watch_wait(w, 5000, what, sizeof what);
    assert_string_equal(what, "rollout");
    rd_store_watch_close(w);
    rd_store_close(st);
}

/* The store handle's own connection killed: the call that meets it fails with RD_ESTORE, the
 * next reconnects; inside a transaction nothing of it is replayed; leadership is lost with it. */
static void test_reconnect(void **state)
{
    backend *b = want(state);
    if (!b->pg)
        skip(); /* an embedded file has no connection to lose */
    rd_store_opts o = {.node = "reconnect-node"};
    rd_store *st = open_opts(b, &o);
    bool held;
    OK(rd_store_leader_try(st, "rollout", &held, E));
    assert_true(held);
    const char *kill_it = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'riskd' AND datname = current_database()"
                          " AND pid <> pg_backend_pid()";
    pg_sql(b->db, kill_it);
    usleep(100000);
    rd_err err;
    char value[8];
    int rc = rd_store_setting_get(st, "k", value, sizeof value, &err);
    assert_int_equal(rc, RD_ESTORE);
    assert_non_null(strstr(err.msg, "the database is unreachable"));
    assert_int_equal(rd_store_setting_get(st, "k", value, sizeof value, &err), RD_ENOTFOUND); /* back */
    OK(rd_store_leader_try(st, "rollout", &held, E)); /* a new session: the lock was lost, taken again */
    assert_true(held);
    /* inside a transaction: it fails, and is not replayed */
    OK(rd_store_begin(st, E));
    OK(rd_store_setting_put(st, "k", "1", E));
    pg_sql(b->db, kill_it);
    usleep(100000);
    assert_int_equal(rd_store_setting_put(st, "k2", "2", &err), RD_ESTORE);
    assert_int_equal(rd_store_setting_put(st, "k3", "3", &err), RD_ESTORE); /* still inside it */
    rd_store_rollback(st);
    assert_int_equal(rd_store_setting_get(st, "k", value, sizeof value, &err), RD_ENOTFOUND);
    assert_int_equal(rd_store_setting_get(st, "k2", value, sizeof value, &err), RD_ENOTFOUND);
    OK(rd_store_ping(st, E));
    /* a write that opens its own transaction and meets the lost connection at BEGIN: it leaves
       no transaction behind (counted as ended twice, it once left the handle believing it was
       below every transaction for good: ping stopped reconnecting and a lost connection inside
       a later call's own transaction was reset and the rest of the call run outside it) */
    pg_sql(b->db, kill_it);
    usleep(100000);
    rd_version_row v = {.change_id = 1, .ts_ms = T0};
    snprintf(v.kind, sizeof v.kind, "flags");
    snprintf(v.target, sizeof v.target, "/a");
    snprintf(v.sha, sizeof v.sha, "%064d", 0);
    assert_int_equal(rd_store_version_append(st, &v, &err), RD_ESTORE);
    OK(rd_store_ping(st, E)); /* reconnects */
    pg_sql(b->db, kill_it);
    usleep(100000);
    OK(rd_store_ping(st, E)); /* meets the dead connection, and reconnects at once */
    rd_store_close(st);
}

/* A server that stops answering without closing the connection (its backend stopped, as a
 * frozen VM or disk leaves it: the kernel still acknowledges, no TCP timeout fires): a call
 * fails with RD_ESTORE naming the wait within the handle's deadline instead of never, the next
 * ones fail fast within the backoff, and the store answers again once the backend does. The
 * server-side budget: a governance transaction waits lock_timeout (half the deadline) for the
 * lock another session holds, then fails with RD_ESTORE (55P03) instead of waiting for good. */
static void test_deadline(void **state)
{
    backend *b = want(state);
    if (!b->pg)
        skip(); /* an embedded file answers or fails: it cannot hang on a peer */
    rd_store_opts o = {.timeout_ms = 3000};
    rd_store *st = open_opts(b, &o);
    OK(rd_store_setting_put(st, "k", "1", E));
    PGconn *c = PQconnectdb(b->url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT pg_advisory_lock(x'7269736b64000002'::bigint)"); /* RD_PG_LOCK_GOV */
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    rd_err err;
    int64_t t0 = rd_clock_ns();
    assert_int_equal(rd_store_begin(st, &err), RD_ESTORE);
    assert_true(rd_clock_ns() - t0 < INT64_C(10000000000));
    assert_non_null(strstr(err.msg, "lock timeout"));
    /* the URL's own options are kept after riskd's, and win */
    char url[700];
    snprintf(url, sizeof url, "%s%coptions=-c%%20lock_timeout%%3D50", b->url,
             strchr(b->url, '?') ? '&' : '?');
    rd_store *own;
    OK(rd_store_open(url, &o, &own, E));
    t0 = rd_clock_ns();
    assert_int_equal(rd_store_begin(own, &err), RD_ESTORE);
    assert_true(rd_clock_ns() - t0 < INT64_C(1000000000));
    rd_store_close(own);
    PQclear(PQexec(c, "SELECT pg_advisory_unlock_all()"));
    OK(rd_store_begin(st, E)); /* the connection was kept: a live server answered */
    rd_store_rollback(st);

    r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE application_name = 'riskd'"
                  " AND datname = current_database() AND pid <> pg_backend_pid()");
    assert_int_equal(PQntuples(r), 1);
    pid_t pid = (pid_t)atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    char value[8];
    t0 = rd_clock_ns();
    int rc = rd_store_setting_get(st, "k", value, sizeof value, &err);
    int64_t waited = rd_clock_ns() - t0;
    kill(pid, SIGCONT);
    assert_int_equal(rc, RD_ESTORE);
    assert_non_null(strstr(err.msg, "no answer from the database within 3 s"));
    assert_true(waited > INT64_C(2000000000) && waited < INT64_C(10000000000));
    assert_int_equal(rd_store_setting_get(st, "k", value, sizeof value, &err), RD_ESTORE);
    assert_non_null(strstr(err.msg, "next attempt in")); /* within the backoff: no wait */
    usleep(1100000);
    OK(rd_store_ping(st, E)); /* a new connection */
    OK(rd_store_setting_get(st, "k", value, sizeof value, E));
    assert_string_equal(value, "1");
    PQfinish(c);
    rd_store_close(st);
}

/* The first line a shell command prints; false when it fails. */
static bool sh(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return false;
    out[0] = '\0';
    if (!fgets(out, (int)cap, f))
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return pclose(f) == 0;
}

/* The server stopped and started again (a cluster of the case's own: the run's is shared):
 * calls fail with RD_ESTORE, fast within the backoff, and work again once it is back; a watch
 * says the same and reconnects. */
static void test_outage(void **state)
{
    backend *b = want(state);
    if (!b->pg)
        skip(); /* an embedded file has no server to lose */
    char dir[] = "/tmp/riskd-conf-pg-XXXXXX", cmd[256], url[512];
    assert_non_null(mkdtemp(dir));
    snprintf(b->own, sizeof b->own, "%s", dir);
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh start %s 2>&1", dir);
    if (!sh(cmd, url, sizeof url))
        fail_msg("%s: %s", cmd, url);
    rd_store *st;
    rd_store_watch *w;
    OK(rd_store_open(url, NULL, &st, E));
    OK(rd_store_watch_open(url, &w, E));
    OK(rd_store_setting_put(st, "k", "1", E));
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh stop %s fast", dir);
    assert_true(sh(cmd, url, sizeof url));
    rd_err err;
    char value[8], what[32];
    assert_int_equal(rd_store_setting_get(st, "k", value, sizeof value, &err), RD_ESTORE);
    assert_non_null(strstr(err.msg, ": the database is unreachable: "));
    assert_int_equal(rd_store_ping(st, &err), RD_ESTORE); /* a reconnect tried, and failed */
    int64_t t0 = rd_clock_ns();
    assert_int_equal(rd_store_setting_get(st, "k", value, sizeof value, &err), RD_ESTORE);
    assert_true(rd_clock_ns() - t0 < INT64_C(100000000)); /* within the backoff: no attempt */
    assert_non_null(strstr(err.msg, "next attempt in"));
    rd_log_row r = row(T0, "out", "primary", "m", "{}");
    assert_int_equal(rd_store_log_append(st, &r, 1, &err), RD_ESTORE);
    bool got;
    int rc = RD_OK;
    for (int i = 0; i < 100 && rc == RD_OK; i++) {
        rc = rd_store_watch_next(w, what, sizeof what, &got, &err);
        usleep(10000);
    }
    assert_int_equal(rc, RD_ESTORE);
    assert_int_equal(rd_store_watch_reconnect(w, &err), RD_ESTORE);
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster.sh restart %s", dir);
    assert_true(sh(cmd, url, sizeof url));
    int64_t deadline = rd_clock_ns() + INT64_C(15000000000);
    while ((rc = rd_store_ping(st, &err)) == RD_ESTORE && rd_clock_ns() < deadline)
        usleep(100000);
    assert_int_equal(rc, RD_OK);
    OK(rd_store_setting_get(st, "k", value, sizeof value, E));
    assert_string_equal(value, "1");
    OK(rd_store_log_append(st, &r, 1, E));
    OK(rd_store_watch_reconnect(w, E));
    OK(rd_store_notify(st, "flags", E));
    watch_wait(w, 5000, what, sizeof what);
    assert_string_equal(what, "flags");
    rd_store_watch_close(w);
    rd_store_close(st);
}

typedef struct appender {
    const backend *b;
    int n, failed;
    char msg[512];
} appender;

static void *append_audit(void *ud)
{
    appender *a = ud;
    rd_store *st;
    rd_err err;
    if (rd_store_open(a->b->url, NULL, &st, &err) != RD_OK) {
        snprintf(a->msg, sizeof a->msg, "%s", err.msg);
        a->failed = a->n;
        return NULL;
    }
    for (int i = 0; i < a->n; i++) {
        rd_audit_entry e = {.actor = "writer", .action = "test.append", .object = "o", .detail_json = "{}"};
        if (rd_audit_append(st, &e, NULL, &err) != RD_OK) {
            a->failed++;
            snprintf(a->msg, sizeof a->msg, "%s", err.msg);
        }
    }
    rd_store_close(st);
    return NULL;
}

static void test_concurrent_audit(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b); /* the schema first, so the threads only append */
    appender a[2] = {{b, 200, 0, ""}, {b, 200, 0, ""}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, append_audit, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++)
        if (a[i].failed)
            fail_msg("%d appends failed: %s", a[i].failed, a[i].msg);
    uint64_t count;
    OK(rd_store_audit_count(st, &count, E));
    assert_int_equal(count, 400);
    rd_audit_verify_result v;
    OK(rd_audit_verify(st, 0, NULL, NULL, NULL, &v, E));
    assert_int_equal(v.entries, 400);
    assert_int_equal(v.first_bad, 0);
    assert_int_equal(v.head_seq, 400);
    rd_store_close(st);
}

/* Two handles open a fresh store at once: the schema is made once, both work. */
static void *open_close(void *ud)
{
    const backend *b = ud;
    rd_store *st;
    rd_err err;
    if (rd_store_open(b->url, NULL, &st, &err) != RD_OK)
        return strdup(err.msg);
    rd_store_close(st);
    return NULL;
}

static void test_concurrent_open(void **state)
{
    backend *b = want(state);
    if (!b->pg)
        skip(); /* SQLite serves one node: two processes making a new directory's schema at the same
                   moment can see each other's half (the second fails "table riskd_meta already exists") */
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, open_close, b), 0);
    for (int i = 0; i < 3; i++) {
        void *msg;
        pthread_join(t[i], &msg);
        if (msg)
            fail_msg("open: %s", (char *)msg);
    }
    rd_store *st = open_store(b);
    OK(rd_store_setting_put(st, "k", "v", E));
    rd_store_close(st);
}

/* ------------------------------------------------------------------ notifications (schema 6) */

/* A canonical lowercase UUID made from n (version 4 and variant bits in place). */
static void uid_of(char out[37], uint32_t n) { snprintf(out, 37, "00000000-0000-4000-8000-%012x", n); }

static rd_notify_row event(uint32_t n, const char *type, const char *object, const char *body)
{
    rd_notify_row r = {.ts_ms = T0 + n, .type = type, .node = "n1", .object = object, .body = body};
    r.body_len = strlen(body);
    uid_of(r.uid, n);
    return r;
}

typedef struct events_seen {
    int n;
    int64_t id[32], ts[32], stored[32];
    char uid[32][37], type[32][32], node[32][32], object[32][32], body[32][64];
    size_t body_len[32];
    int stop_after; /* > 0: return 7 after this many rows */
} events_seen;

static int event_collect(void *ud, const rd_notify_row *r)
{
    events_seen *e = ud;
    assert_true(e->n < 32);
    int i = e->n++;
    e->id[i] = r->id;
    e->ts[i] = r->ts_ms;
    e->stored[i] = r->stored_ms;
    snprintf(e->uid[i], sizeof e->uid[i], "%s", r->uid);
    snprintf(e->type[i], sizeof e->type[i], "%s", r->type);
    snprintf(e->node[i], sizeof e->node[i], "%s", r->node);
    snprintf(e->object[i], sizeof e->object[i], "%s", r->object);
    assert_true(r->body_len < sizeof e->body[i]);
    memcpy(e->body[i], r->body, r->body_len);
    e->body[i][r->body_len] = '\0';
    e->body_len[i] = r->body_len;
    return e->stop_after && e->n == e->stop_after ? 7 : 0;
}

static events_seen events_after(rd_store *st, int64_t after, size_t limit)
{
    events_seen e = {0};
    OK(rd_store_outbox_scan(st, after, limit, event_collect, &e, E));
    return e;
}

/* Append r in a transaction of its own; *added as the store says. */
static void append_in_tx(rd_store *st, const rd_notify_row *r, bool *added)
{
    OK(rd_store_begin(st, E));
    OK(rd_store_outbox_append(st, r, added, E));
    OK(rd_store_commit(st, E));
}

static void test_outbox(void **state)
{
    backend *b = want(state);
    rd_store_opts o = {.node = "node-a"};
    rd_store *st = open_opts(b, &o);
    int64_t last = -1;
    OK(rd_store_outbox_last_id(st, &last, E));
    assert_int_equal(last, 0);
    assert_int_equal(events_after(st, 0, 0).n, 0);

    /* outside a transaction: refused, nothing stored */
    rd_notify_row e1 = event(1, "change.proposed", "change/12", "{\"n\":1}");
    rd_err err;
    bool added = true;
    assert_int_equal(rd_store_outbox_append(st, &e1, &added, &err), RD_EINTERNAL);
    assert_non_null(strstr(err.msg, "transaction"));
    assert_true(added); /* untouched */
    assert_int_equal(events_after(st, 0, 0).n, 0);

    int64_t before = rd_clock_unix_ms();
    OK(rd_store_begin(st, E));
    OK(rd_store_outbox_append(st, &e1, &added, E));
    assert_true(added);
    /* the body is body_len bytes, not up to a NUL */
    rd_notify_row e2 = event(2, "change.approved", "change/12", "{\"n\":2}TRAILING");
    e2.body_len = 7;
    e2.node = NULL; /* the handle's node */
    OK(rd_store_outbox_append(st, &e2, &added, E));
    assert_true(added);
    rd_notify_row e3 = event(3, "rollout.rolled_back", "rollout/credit", "{\"n\":3}");
    OK(rd_store_outbox_append(st, &e3, NULL, E));   /* added may be NULL */
    OK(rd_store_outbox_append(st, &e1, &added, E)); /* its uid is there: skipped */
    assert_false(added);
    rd_notify_row bad = event(4, "x.y", "o", "{}");
    bad.uid[0] = 'G';
    assert_int_equal(rd_store_outbox_append(st, &bad, &added, &err), RD_EINVAL);
    snprintf(bad.uid, sizeof bad.uid, "%s", "0000000-0000-4000-8000-000000000004"); /* 35 characters */
    assert_int_equal(rd_store_outbox_append(st, &bad, &added, &err), RD_EINVAL);
    uid_of(bad.uid, 4);
    bad.uid[24] = 'A'; /* upper case: not canonical */
    assert_int_equal(rd_store_outbox_append(st, &bad, &added, &err), RD_EINVAL);
    OK(rd_store_commit(st, E));
    int64_t after = rd_clock_unix_ms();

    events_seen e = events_after(st, 0, 0);
    assert_int_equal(e.n, 3);
    assert_true(e.id[0] > 0 && e.id[0] < e.id[1] && e.id[1] < e.id[2]);
    const char *types[] = {"change.proposed", "change.approved", "rollout.rolled_back"};
    const char *bodies[] = {"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"};
    for (int i = 0; i < 3; i++) {
        char uid[37];
        uid_of(uid, (uint32_t)i + 1);
        assert_string_equal(e.uid[i], uid);
        assert_string_equal(e.type[i], types[i]);
        assert_string_equal(e.body[i], bodies[i]);
        assert_int_equal(e.body_len[i], 7);
        assert_int_equal(e.ts[i], T0 + i + 1);
        assert_true(e.stored[i] >= before && e.stored[i] <= after);
    }
    assert_string_equal(e.node[0], "n1");
    assert_string_equal(e.node[1], "node-a");
    assert_string_equal(e.object[2], "rollout/credit");
    int64_t id1 = e.id[0], id2 = e.id[1], id3 = e.id[2];

    /* order and limit */
    e = events_after(st, 0, 2);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.id[1], id2);
    e = events_after(st, id1, 0);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.id[0], id2);
    assert_int_equal(events_after(st, id3, 0).n, 0);
    e = (events_seen){.stop_after = 1};
    assert_int_equal(rd_store_outbox_scan(st, 0, 0, event_collect, &e, &err), 7); /* fn's stop is returned */
    assert_int_equal(e.n, 1);

    /* one by id */
    e = (events_seen){0};
    OK(rd_store_outbox_get(st, id2, event_collect, &e, E));
    assert_int_equal(e.n, 1);
    assert_string_equal(e.type[0], "change.approved");
    assert_int_equal(rd_store_outbox_get(st, id3 + 100, event_collect, &e, &err), RD_ENOTFOUND);
    assert_int_equal(rd_store_outbox_get(st, 0, event_collect, &e, &err), RD_ENOTFOUND);
    assert_int_equal(e.n, 1);
    OK(rd_store_outbox_last_id(st, &last, E));
    assert_int_equal(last, id3);

    /* a transaction rolled back stores nothing; a later one's ids come after, and a uid stored
       in an earlier transaction is skipped */
    rd_notify_row e5 = event(5, "change.published", "change/12", "{\"n\":5}");
    OK(rd_store_begin(st, E));
    OK(rd_store_outbox_append(st, &e5, &added, E));
    rd_store_rollback(st);
    assert_int_equal(events_after(st, id3, 0).n, 0);
    OK(rd_store_begin(st, E));
    OK(rd_store_outbox_append(st, &e2, &added, E));
    assert_false(added);
    OK(rd_store_outbox_append(st, &e5, &added, E));
    assert_true(added);
    OK(rd_store_commit(st, E));
    e = events_after(st, id3, 0);
    assert_int_equal(e.n, 1);
    assert_true(e.id[0] > id3);
    int64_t id5 = e.id[0];

    /* prune by the time stored */
    usleep(5000);
    int64_t mid = rd_clock_unix_ms();
    usleep(5000);
    rd_notify_row e6 = event(6, "breaker.opened", "bundle/b", "{\"n\":6}");
    append_in_tx(st, &e6, &added);
    uint64_t deleted = 99;
    OK(rd_store_outbox_prune(st, mid, &deleted, E));
    assert_int_equal(deleted, 4);
    e = events_after(st, 0, 0);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.type[0], "breaker.opened");
    int64_t id6 = e.id[0];
    assert_true(id6 > id5);
    OK(rd_store_outbox_prune(st, rd_clock_unix_ms() + 60000, &deleted, E));
    assert_int_equal(deleted, 1);
    OK(rd_store_outbox_last_id(st, &last, E));
    assert_int_equal(last, 0);
    /* an emptied outbox never hands out an id a cursor has passed */
    rd_notify_row e7 = event(7, "breaker.closed", "bundle/b", "{\"n\":7}");
    append_in_tx(st, &e7, &added);
    OK(rd_store_outbox_last_id(st, &last, E));
    assert_true(last > id6);
    rd_store_close(st);
}

typedef struct failures_seen {
    int n;
    rd_sink_failure f[8];
} failures_seen;

static int failure_collect(void *ud, const rd_sink_failure *f)
{
    failures_seen *s = ud;
    assert_true(s->n < 8);
    s->f[s->n++] = *f;
    return 0;
}

static failures_seen failures_of(rd_store *st, const char *sink, size_t limit)
{
    failures_seen s = {0};
    OK(rd_store_sink_failures(st, sink, limit, failure_collect, &s, E));
    return s;
}

static int sink_one(void *ud, const rd_sink_row *r)
{
    names_seen *n = ud;
    char line[128];
    snprintf(line, sizeof line, "%s:%s:%lld,", r->name, r->kind, (long long)r->last_id);
    strcat(n->text, line);
    return 0;
}

static void test_sinks(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_err err;
    bool created = false;
    int64_t before = rd_clock_unix_ms();
    OK(rd_store_sink_init(st, "ops", "webhook", 5, &created, E));
    assert_true(created);
    OK(rd_store_sink_init(st, "ops", "slack", 9, &created, E)); /* it has a cursor: kept */
    assert_false(created);
    rd_sink_row r;
    memset(&r, 'x', sizeof r);
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_string_equal(r.name, "ops");
    assert_string_equal(r.kind, "webhook");
    assert_int_equal(r.last_id, 5);
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.next_ms, 0);
    assert_int_equal(r.last_ok_ms, 0);
    assert_string_equal(r.last_error, "");
    assert_true(r.updated_ms >= before && r.updated_ms <= rd_clock_unix_ms());
    assert_int_equal(rd_store_sink_get(st, "nope", &r, &err), RD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope"));
    OK(rd_store_sink_init(st, "alpha", "slack", 0, NULL, E));
    OK(rd_store_sink_init(st, "Zeta", "wecom", 3, NULL, E));
    names_seen n = {""};
    OK(rd_store_sink_list(st, sink_one, &n, E));
    assert_string_equal(n.text, "Zeta:wecom:3,alpha:slack:0,ops:webhook:5,"); /* byte order */
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    assert_int_equal(rd_store_sink_init(st, longname, "webhook", 0, NULL, &err), RD_EINVAL);
    assert_int_equal(rd_store_sink_init(st, "", "webhook", 0, NULL, &err), RD_EINVAL);
    assert_int_equal(rd_store_sink_init(st, "x", "a-kind-much-too-long", 0, NULL, &err), RD_EINVAL);

    /* advance: a compare-and-swap on last_id */
    OK(rd_store_sink_advance(st, "ops", 5, 8, T0 + 1, T0 + 2, E));
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_int_equal(r.last_id, 8);
    assert_int_equal(r.last_ok_ms, T0 + 1);
    assert_int_equal(r.updated_ms, T0 + 2);
    assert_int_equal(rd_store_sink_advance(st, "ops", 5, 9, T0 + 3, T0 + 3, &err), RD_ECONFLICT);
    assert_non_null(strstr(err.msg, "at 8, not 5"));
    assert_int_equal(rd_store_sink_advance(st, "ops", 8, 7, 0, T0 + 3, &err), RD_EINVAL); /* never back */
    assert_int_equal(rd_store_sink_advance(st, "nope", 0, 1, 0, T0 + 3, &err), RD_ECONFLICT);
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_int_equal(r.last_id, 8);
    assert_int_equal(r.updated_ms, T0 + 2);

    /* retry: the attempts at the event after the cursor, which stays */
    OK(rd_store_sink_retry(st, "ops", 8, 2, T0 + 5000, "HTTP 503: busy", T0 + 4, E));
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_int_equal(r.last_id, 8);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.next_ms, T0 + 5000);
    assert_string_equal(r.last_error, "HTTP 503: busy");
    assert_int_equal(r.last_ok_ms, T0 + 1);
    assert_int_equal(r.updated_ms, T0 + 4);
    assert_int_equal(rd_store_sink_retry(st, "ops", 7, 3, T0 + 9000, "late", T0 + 5, &err), RD_ECONFLICT);
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_int_equal(r.attempts, 2);
    /* a long error is cut on a character boundary ("é" is two bytes) */
    char accents[601] = "";
    for (int i = 0; i < 300; i++)
        strcat(accents, "\xc3\xa9");
    OK(rd_store_sink_retry(st, "ops", 8, 3, T0 + 6000, accents, T0 + 6, E));
    OK(rd_store_sink_get(st, "ops", &r, E));
    size_t len = strlen(r.last_error);
    assert_int_equal(len, 254);
    assert_memory_equal(r.last_error, accents, len);
    /* a delivery: attempts, backoff and error cleared; ok_ms 0 keeps the last success */
    OK(rd_store_sink_advance(st, "ops", 8, 9, 0, T0 + 7, E));
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_int_equal(r.last_id, 9);
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.next_ms, 0);
    assert_string_equal(r.last_error, "");
    assert_int_equal(r.last_ok_ms, T0 + 1);

    /* fail: a failure row and the cursor moved past the event, together */
    rd_sink_failure f = {
        .sink = "ops", .event_id = 12, .failed_ms = 1500, .attempts = 5, .status = 503, .error = "HTTP 503"};
    OK(rd_store_sink_fail(st, &f, 9, E));
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_int_equal(r.last_id, 12);
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.updated_ms, 1500);
    assert_string_equal(r.last_error, "HTTP 503");
    failures_seen fs = failures_of(st, "ops", 0);
    assert_int_equal(fs.n, 1);
    assert_string_equal(fs.f[0].sink, "ops");
    assert_int_equal(fs.f[0].event_id, 12);
    assert_int_equal(fs.f[0].failed_ms, 1500);
    assert_int_equal(fs.f[0].attempts, 5);
    assert_int_equal(fs.f[0].status, 503);
    assert_string_equal(fs.f[0].error, "HTTP 503");
    f.event_id = 13;
    assert_int_equal(rd_store_sink_fail(st, &f, 9, &err), RD_ECONFLICT); /* the cursor is at 12 */
    assert_int_equal(failures_of(st, NULL, 0).n, 1);                     /* and no row was written */
    assert_int_equal(rd_store_sink_fail(st, &f, 13, &err), RD_EINVAL);   /* not past the cursor */
    /* a conflict inside the caller's transaction leaves that transaction whole */
    OK(rd_store_begin(st, E));
    OK(rd_store_sink_init(st, "beta", "webhook", 0, NULL, E));
    assert_int_equal(rd_store_sink_fail(st, &f, 9, &err), RD_ECONFLICT);
    OK(rd_store_commit(st, E));
    OK(rd_store_sink_get(st, "beta", &r, E));
    f.failed_ms = 1600;
    OK(rd_store_sink_fail(st, &f, 12, E));
    rd_sink_failure g = {.sink = "alpha",
                         .event_id = 3,
                         .failed_ms = 1700,
                         .attempts = 1,
                         .status = 0,
                         .error = "connection refused"};
    OK(rd_store_sink_fail(st, &g, 0, E));
    fs = failures_of(st, NULL, 0); /* newest first */
    assert_int_equal(fs.n, 3);
    assert_string_equal(fs.f[0].sink, "alpha");
    assert_int_equal(fs.f[0].status, 0);
    assert_int_equal(fs.f[1].event_id, 13);
    assert_int_equal(fs.f[2].event_id, 12);
    fs = failures_of(st, "ops", 0);
    assert_int_equal(fs.n, 2);
    assert_int_equal(fs.f[0].event_id, 13);
    fs = failures_of(st, NULL, 1);
    assert_int_equal(fs.n, 1);
    assert_string_equal(fs.f[0].sink, "alpha");
    assert_int_equal(failures_of(st, "beta", 0).n, 0);

    /* failures are pruned with the events, by the time they were recorded */
    uint64_t deleted = 99;
    OK(rd_store_outbox_prune(st, 1650, &deleted, E));
    assert_int_equal(deleted, 0);
    fs = failures_of(st, NULL, 0);
    assert_int_equal(fs.n, 1);
    assert_string_equal(fs.f[0].sink, "alpha");

    /* delete: the cursor and its failures */
    OK(rd_store_sink_delete(st, "alpha", E));
    assert_int_equal(rd_store_sink_get(st, "alpha", &r, &err), RD_ENOTFOUND);
    assert_int_equal(failures_of(st, NULL, 0).n, 0);
    OK(rd_store_sink_delete(st, "alpha", E)); /* gone already: nothing to do */
    memset(&n, 0, sizeof n);
    OK(rd_store_sink_list(st, sink_one, &n, E));
    assert_string_equal(n.text, "Zeta:wecom:3,beta:webhook:0,ops:webhook:13,");
    rd_store_close(st);
}

/* A schema-5 database (no outbox) is migrated at open; a read-only handle, which does not
 * migrate, reads no events, no sinks and no failures before that. */
static void test_migrate_6(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    OK(rd_store_setting_put(st, "k", "kept", E));
    rd_store_close(st);
    case_sql(b, "DROP TABLE exposure_stages; DROP TABLE exposure_slices;"
                " DROP TABLE notify_events; DROP TABLE notify_sinks; DROP TABLE notify_failures;"
                " UPDATE riskd_meta SET value = '5' WHERE key = 'schema'");
    rd_store_opts ro = {.read_only = true};
    st = open_opts(b, &ro);
    int64_t last = -1;
    OK(rd_store_outbox_last_id(st, &last, E));
    assert_int_equal(last, 0);
    assert_int_equal(events_after(st, 0, 0).n, 0);
    events_seen e = {0};
    rd_err err;
    assert_int_equal(rd_store_outbox_get(st, 1, event_collect, &e, &err), RD_ENOTFOUND);
    rd_sink_row r;
    assert_int_equal(rd_store_sink_get(st, "ops", &r, &err), RD_ENOTFOUND);
    names_seen n = {""};
    OK(rd_store_sink_list(st, sink_one, &n, E));
    assert_string_equal(n.text, "");
    assert_int_equal(failures_of(st, NULL, 0).n, 0);
    rd_store_close(st);
    st = open_store(b); /* migrates */
    char value[8];
    OK(rd_store_setting_get(st, "k", value, sizeof value, E));
    assert_string_equal(value, "kept");
    bool added = false;
    rd_notify_row e1 = event(1, "change.proposed", "change/1", "{}");
    append_in_tx(st, &e1, &added);
    assert_true(added);
    OK(rd_store_sink_init(st, "ops", "webhook", 0, NULL, E));
    e = events_after(st, 0, 0);
    assert_int_equal(e.n, 1);
    OK(rd_store_sink_advance(st, "ops", 0, e.id[0], T0, T0, E));
    rd_store_close(st);
    st = open_opts(b, &ro); /* now current: a read-only handle reads it all */
    assert_int_equal(events_after(st, 0, 0).n, 1);
    OK(rd_store_sink_get(st, "ops", &r, E));
    assert_int_equal(r.last_id, e.id[0]);
    rd_store_close(st);
}

/* Two handles append in governance transactions (each holding its transaction open a while
 * between its two appends) while a third reads with a cursor, as a sink does: every committed
 * event is seen once, and none turns up later behind the cursor (an id drawn before a commit
 * that came after the cursor passed it would be skipped, and missing below). */
typedef struct outbox_writer {
    const backend *b;
    int id, txs;
    int failed;
    char msg[512];
    atomic_int done;
} outbox_writer;

static void *outbox_write(void *ud)
{
    outbox_writer *w = ud;
    rd_store *st;
    rd_err err;
    if (rd_store_open(w->b->url, NULL, &st, &err) != RD_OK) {
        snprintf(w->msg, sizeof w->msg, "%s", err.msg);
        w->failed = 1;
        atomic_store(&w->done, 1);
        return NULL;
    }
    for (int i = 0; i < w->txs && !w->failed; i++) {
        int rc = rd_store_begin(st, &err);
        for (int k = 0; !rc && k < 2; k++) {
            rd_notify_row r = event((uint32_t)(w->id * 100000 + i * 2 + k), "x.y", "o", "{}");
            rc = rd_store_outbox_append(st, &r, NULL, &err);
            if (!rc && k == 0)
                usleep((useconds_t)(i % 4) * 300); /* an id drawn, not yet committed */
        }
        if (rc || i % 10 == 9)
            rd_store_rollback(st); /* every tenth on purpose: a gap, never seen */
        else
            rc = rd_store_commit(st, &err);
        if (rc) {
            snprintf(w->msg, sizeof w->msg, "%s", err.msg);
            w->failed = 1;
        }
    }
    rd_store_close(st);
    atomic_store(&w->done, 1);
    return NULL;
}

typedef struct id_list {
    int64_t *ids;
    size_t n, cap;
    int64_t cursor;
} id_list;

static int id_take(void *ud, const rd_notify_row *r)
{
    id_list *l = ud;
    assert_true(r->id > l->cursor);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->ids = realloc(l->ids, l->cap * sizeof *l->ids);
        assert_non_null(l->ids);
    }
    l->ids[l->n++] = r->id;
    l->cursor = r->id;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_outbox_concurrent(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b); /* the schema first, so the threads only append */
    outbox_writer w[2] = {{.b = b, .id = 1, .txs = 100}, {.b = b, .id = 2, .txs = 100}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, outbox_write, &w[i]), 0);
    id_list cur = {0};
    while (!atomic_load(&w[0].done) || !atomic_load(&w[1].done)) { /* a sink's cursor, small batches */
        OK(rd_store_outbox_scan(st, cur.cursor, 7, id_take, &cur, E));
        usleep(200);
    }
    size_t during = cur.n;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++)
        if (w[i].failed)
            fail_msg("writer %d: %s", i + 1, w[i].msg);
    OK(rd_store_outbox_scan(st, cur.cursor, 0, id_take, &cur, E)); /* what is left */
    id_list all = {0};
    OK(rd_store_outbox_scan(st, 0, 0, id_take, &all, E));
    assert_int_equal(all.n, 2 * 90 * 2); /* every tenth transaction was rolled back */
    assert_int_equal(cur.n, all.n);      /* ids only grow along the cursor (id_take): each seen once */
    qsort(cur.ids, cur.n, sizeof *cur.ids, cmp_id);
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal(cur.ids[i], all.ids[i]);
    assert_true(during > 0); /* the cursor did read while the writers wrote */
    free(cur.ids);
    free(all.ids);
    rd_store_close(st);
}

/* ------------------------------------------------------------------ exposure caps (schema 7) */

static rd_exposure_stage_row xstage(const char *flag, const char *stage, int64_t started, bool has_amount,
                                    int64_t cap_amount, bool has_count, int64_t cap_count)
{
    rd_exposure_stage_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.flag, sizeof r.flag, "%s", flag);
    snprintf(r.stage, sizeof r.stage, "%s", stage);
    r.stage_started_ms = started;
    snprintf(r.plan_sha, sizeof r.plan_sha, "%064d", 7);
    snprintf(r.field, sizeof r.field, "features.Amount");
    r.unit = 0.01;
    r.has_amount = has_amount;
    r.cap_amount = cap_amount;
    r.has_count = has_count;
    r.cap_count = cap_count;
    return r;
}

typedef struct xseen {
    int n;
    rd_exposure_stage_row st[8];
    rd_exposure_totals t[8];
} xseen;

static int x_collect(void *ud, const rd_exposure_stage_row *st, const rd_exposure_totals *t)
{
    xseen *x = ud;
    assert_true(x->n < 8);
    x->st[x->n] = *st;
    x->t[x->n] = *t;
    /* the ledger is whole: what the slices hold net is what the stage has reserved */
    assert_int_equal(t->reserved_amount, st->reserved_amount);
    assert_int_equal(t->reserved_count, st->reserved_count);
    x->n++;
    return 0;
}

static xseen x_list(rd_store *st, const char *flag)
{
    xseen x;
    memset(&x, 0, sizeof x);
    OK(rd_store_exposure_list(st, flag, x_collect, &x, E));
    return x;
}

/* (amount, count) granted by one reservation. */
static void x_reserve(rd_store *st, const rd_exposure_stage_row *s, const char *node, const char *boot,
                      int64_t want_a, int64_t want_c, bool mark, int64_t now, int64_t got_a, int64_t got_c)
{
    int64_t a = -1, c = -1;
    OK(rd_store_exposure_reserve(st, s, node, boot, want_a, want_c, mark, now, &a, &c, E));
    assert_int_equal(a, got_a);
    assert_int_equal(c, got_c);
}

static void test_exposure(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    rd_err err;
    int64_t a, c;
    assert_int_equal(x_list(st, NULL).n, 0);
    /* A: 1000 units and 5 approvals; two nodes reserve up to the caps and no further */
    rd_exposure_stage_row A = xstage("credit", "10%", T0, true, 1000, true, 5);
    x_reserve(st, &A, "n1", "bootA", 400, 2, false, T0 + 1, 400, 2);
    x_reserve(st, &A, "n2", "bootB", 700, 2, false, T0 + 2, 600, 2); /* 1000 - 400 left */
    x_reserve(st, &A, "n1", "bootA", 10, 3, true, T0 + 3, 0, 1);     /* the amount is dry: exhausted */
    x_reserve(st, &A, "n2", "bootB", 1, 1, true, T0 + 4, 0, 0);      /* exhausted_ms keeps the first */
    xseen x = x_list(st, "credit");
    assert_int_equal(x.n, 1);
    assert_int_equal(x.st[0].reserved_amount, 1000);
    assert_int_equal(x.st[0].reserved_count, 5);
    assert_int_equal(x.st[0].exhausted_ms, T0 + 3);
    assert_int_equal(x.st[0].created_ms, T0 + 1);
    assert_int_equal(x.st[0].updated_ms, T0 + 4);
    assert_string_equal(x.st[0].field, "features.Amount");
    assert_true(x.st[0].unit == 0.01);
    assert_true(x.st[0].has_amount && x.st[0].has_count);
    assert_int_equal(x.t[0].nodes, 2);
    assert_int_equal(x.t[0].held_amount, 1000);
    assert_int_equal(x.t[0].held_count, 5);

    /* the two caps are independent: B caps only the count, C only the amount (another flag) */
    rd_exposure_stage_row B = xstage("credit", "50%", T0 + 100, false, 0, true, 2);
    x_reserve(st, &B, "n1", "bootA", 1000000000, 3, false, T0 + 5, 1000000000, 2);
    rd_exposure_stage_row C = xstage("other", "5%", T0 + 50, true, 10, false, 0);
    x_reserve(st, &C, "n1", "bootA", 0, 7, false, T0 + 6, 0, 7);
    x_reserve(st, &C, "n1", "bootA", 20, 0, false, T0 + 7, 10, 0);
    x_reserve(st, &C, "n1", "bootA", 0, 0, true, T0 + 8, 0, 0); /* nothing wanted: not exhausted */
    x = x_list(st, NULL);
    assert_int_equal(x.n, 3); /* oldest stage first */
    assert_string_equal(x.st[0].stage, "10%");
    assert_string_equal(x.st[1].flag, "other");
    assert_false(x.st[1].has_count);
    assert_int_equal(x.st[1].reserved_amount, 10);
    assert_int_equal(x.st[1].reserved_count, 7);
    assert_int_equal(x.st[1].exhausted_ms, 0);
    assert_string_equal(x.st[2].stage, "50%");
    assert_false(x.st[2].has_amount);
    assert_int_equal(x.st[2].reserved_amount, 1000000000);
    assert_int_equal(x.st[2].reserved_count, 2);
    x = x_list(st, "credit");
    assert_int_equal(x.n, 2);

    /* return: the stage's room comes back */
    OK(rd_store_exposure_return(st, "credit", "10%", T0, "n2", "bootB", 100, 1, false, T0 + 9, E));
    x_reserve(st, &A, "n1", "bootA", 150, 0, false, T0 + 10, 100, 0); /* n1: 500 units, 3 approvals */
    assert_int_equal(
        rd_store_exposure_return(st, "credit", "10%", T0, "n1", "bootA", 501, 0, false, T0, &err),
        RD_ECONFLICT);
    assert_int_equal(rd_store_exposure_return(st, "credit", "10%", T0, "n9", "bootA", 1, 0, false, T0, &err),
                     RD_ENOTFOUND);
    assert_int_equal(rd_store_exposure_return(st, "credit", "10%", T0, "n1", "bootA", -1, 0, false, T0, &err),
                     RD_EINVAL);

    /* report: monotonic max, never more than the slice holds */
    OK(rd_store_exposure_report(st, "credit", "10%", T0, "n1", "bootA", 300, 1, 2, T0 + 11, E));
    OK(rd_store_exposure_report(st, "credit", "10%", T0, "n1", "bootA", 200, 0, 1, T0 + 12, E));
    assert_int_equal(rd_store_exposure_report(st, "credit", "10%", T0, "n1", "bootA", 501, 0, 0, T0, &err),
                     RD_ECONFLICT);
    assert_int_equal(rd_store_exposure_report(st, "credit", "10%", T0, "n9", "bootA", 1, 0, 0, T0, &err),
                     RD_ENOTFOUND);
    x = x_list(st, "credit");
    assert_int_equal(x.t[0].spent_amount, 300);
    assert_int_equal(x.t[0].spent_count, 1);
    assert_int_equal(x.t[0].capped, 2);
    /* what was reported spent is never given back: 500 - 300 left */
    assert_int_equal(rd_store_exposure_return(st, "credit", "10%", T0, "n1", "bootA", 201, 0, true, T0, &err),
                     RD_ECONFLICT);
    OK(rd_store_exposure_return(st, "credit", "10%", T0, "n1", "bootA", 200, 2, true, T0 + 13, E));
    OK(rd_store_exposure_report(st, "credit", "10%", T0, "n2", "bootB", 50, 0, 0, T0 + 14, E));

    /* orphans: n2 restarted (bootC); its slice of bootB is lost, n1's (another node) untouched */
    OK(rd_store_exposure_orphans(st, "n2", "bootC", T0 + 15, E));
    x = x_list(st, "credit");
    assert_int_equal(x.st[0].reserved_amount, 800); /* n1 500 - 200, n2 600 - 100 */
    assert_int_equal(x.st[0].reserved_count, 2);    /* n1 3 - 2, n2 2 - 1 */
    assert_int_equal(x.t[0].spent_amount, 350);
    assert_int_equal(x.t[0].spent_count, 1);
    assert_int_equal(x.t[0].held_amount, 0); /* n1 closed, n2 lost */
    assert_int_equal(x.t[0].held_count, 0);
    assert_int_equal(x.t[0].lost_amount, 450); /* 600 - 100 - 50 */
    assert_int_equal(x.t[0].lost_count, 1);
    assert_int_equal(x.t[0].nodes, 0);
    assert_int_equal(x.t[1].nodes, 1); /* B: n1's slice is still open */
    x_reserve(st, &A, "n2", "bootC", 100, 1, false, T0 + 16, 100, 1);
    x = x_list(st, "credit");
    assert_int_equal(x.st[0].reserved_amount, 900);
    assert_int_equal(x.t[0].held_amount, 100);
    assert_int_equal(x.t[0].lost_amount, 450);
    assert_int_equal(x.t[0].nodes, 1);

    /* nested in the caller's transaction: its rollback undoes the reservation */
    OK(rd_store_begin(st, E));
    x_reserve(st, &A, "n4", "bootD", 50, 0, false, T0 + 17, 50, 0);
    rd_store_rollback(st);
    x = x_list(st, "credit");
    assert_int_equal(x.st[0].reserved_amount, 900);
    assert_int_equal(x.t[0].nodes, 1);

    /* a lowered cap is stored (the newest plan wins) and grants nothing more */
    rd_exposure_stage_row A2 = A;
    A2.cap_amount = 500;
    snprintf(A2.plan_sha, sizeof A2.plan_sha, "%064d", 8);
    x_reserve(st, &A2, "n2", "bootC", 10, 0, false, T0 + 18, 0, 0);
    x = x_list(st, "credit");
    assert_int_equal(x.st[0].cap_amount, 500);
    assert_int_equal(x.st[0].reserved_amount, 900);
    assert_string_equal(x.st[0].plan_sha, A2.plan_sha);

    /* refusals */
    rd_exposure_stage_row bad = A;
    bad.unit = 0;
    assert_int_equal(rd_store_exposure_reserve(st, &bad, "n1", "b", 1, 0, false, T0, &a, &c, &err),
                     RD_EINVAL);
    assert_int_equal(rd_store_exposure_reserve(st, &A, "", "b", 1, 0, false, T0, &a, &c, &err), RD_EINVAL);
    assert_int_equal(rd_store_exposure_reserve(st, &A, "n1", "b", -1, 0, false, T0, &a, &c, &err), RD_EINVAL);
    bad = A;
    bad.has_count = true;
    bad.cap_count = -1;
    assert_int_equal(rd_store_exposure_reserve(st, &bad, "n1", "b", 1, 0, false, T0, &a, &c, &err),
                     RD_EINVAL);
    rd_store_close(st);

    rd_store_opts ro = {.read_only = true};
    st = open_opts(b, &ro);
    assert_int_equal(x_list(st, NULL).n, 3);
    rd_store_close(st);
}

/* Two handles (two nodes) reserve small slices at once until nothing is left: together they were
 * granted exactly the caps, never more. */
typedef struct x_racer {
    const backend *b;
    const rd_exposure_stage_row *stage;
    const char *node;
    pthread_barrier_t *start;
    int64_t amount, count;
    int rounds, failed;
    char msg[512];
} x_racer;

static void *x_race(void *ud)
{
    x_racer *r = ud;
    rd_store *st;
    rd_err err;
    if (rd_store_open(r->b->url, NULL, &st, &err) != RD_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", err.msg);
        r->failed = 1;
        pthread_barrier_wait(r->start);
        return NULL;
    }
    pthread_barrier_wait(r->start); /* both open: the race starts together */
    for (;;) {
        int64_t a = 0, c = 0;
        if (rd_store_exposure_reserve(st, r->stage, r->node, "boot", 7, 1, true, T0 + r->rounds, &a, &c,
                                      &err)) {
            snprintf(r->msg, sizeof r->msg, "%s", err.msg);
            r->failed = 1;
            break;
        }
        r->rounds++;
        r->amount += a;
        r->count += c;
        if (!a && !c)
            break;
        usleep(100); /* as a node does between slices: the other gets its turns */
    }
    rd_store_close(st);
    return NULL;
}

static void test_exposure_concurrent(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b); /* the schema first, so the threads only reserve */
    rd_exposure_stage_row S = xstage("credit", "race", T0, true, 1000, true, 150);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    x_racer r[2] = {{.b = b, .stage = &S, .node = "n1", .start = &start},
                    {.b = b, .stage = &S, .node = "n2", .start = &start}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, x_race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < 2; i++)
        if (r[i].failed)
            fail_msg("node %d: %s", i + 1, r[i].msg);
    assert_int_equal(r[0].amount + r[1].amount, 1000); /* 142 grants of 7 and one of 6 */
    assert_int_equal(r[0].count + r[1].count, 150);
    /* (whether both threads got grants is the scheduler's: the totals are the point) */
    xseen x = x_list(st, "credit");
    assert_int_equal(x.n, 1);
    assert_int_equal(x.st[0].reserved_amount, 1000);
    assert_int_equal(x.st[0].reserved_count, 150);
    assert_int_equal(x.t[0].held_amount, 1000);
    assert_true(x.t[0].nodes >= 1 && x.t[0].nodes <= 2);
    assert_true(x.st[0].exhausted_ms > 0);
    rd_store_close(st);
}

/* A schema-6 database (no exposure tables) is migrated at open; a read-only handle, which does
 * not migrate, lists nothing before that. */
static void test_migrate_7(void **state)
{
    backend *b = want(state);
    rd_store *st = open_store(b);
    OK(rd_store_setting_put(st, "k", "kept", E));
    rd_store_close(st);
    case_sql(b, "DROP TABLE exposure_stages; DROP TABLE exposure_slices;"
                " UPDATE riskd_meta SET value = '6' WHERE key = 'schema'");
    rd_store_opts ro = {.read_only = true};
    st = open_opts(b, &ro);
    assert_int_equal(x_list(st, NULL).n, 0);
    assert_int_equal(x_list(st, "credit").n, 0);
    assert_int_equal(events_after(st, 0, 0).n, 0); /* schema 6's outbox is there, empty */
    rd_store_close(st);
    st = open_store(b); /* migrates */
    char value[8];
    OK(rd_store_setting_get(st, "k", value, sizeof value, E));
    assert_string_equal(value, "kept");
    rd_exposure_stage_row S = xstage("credit", "10%", T0, true, 100, false, 0);
    x_reserve(st, &S, "n1", "boot", 60, 1, false, T0, 60, 1);
    rd_store_close(st);
    st = open_opts(b, &ro); /* now current: a read-only handle lists it */
    xseen x = x_list(st, NULL);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.st[0].reserved_amount, 60);
    assert_int_equal(x.t[0].held_amount, 60);
    rd_store_close(st);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, case_setup, case_teardown)

int main(void)
{
    const struct CMUnitTest cases[] = {
        CASE(test_log_append_scan),
        CASE(test_log_outcome_join),
        CASE(test_log_stop),
        CASE(test_log_newest_first),
        CASE(test_log_batches),
        CASE(test_log_uid),
        CASE(test_log_tombstone),
        CASE(test_migrate_4),
        CASE(test_log_prune),
        CASE(test_log_partition_locks),
        CASE(test_partition_race),
        CASE(test_blobs),
        CASE(test_outcomes),
        CASE(test_outcome_stats),
        CASE(test_applicant),
        CASE(test_rollouts),
        CASE(test_audit),
        CASE(test_users_tokens),
        CASE(test_migrate_5),
        CASE(test_changes),
        CASE(test_versions_settings),
        CASE(test_transactions),
        CASE(test_read_only),
        CASE(test_refusals),
        CASE(test_status),
        CASE(test_leadership),
        CASE(test_notify_watch),
        CASE(test_reconnect),
        CASE(test_deadline),
        CASE(test_outage),
        CASE(test_concurrent_audit),
        CASE(test_concurrent_open),
        CASE(test_outbox),
        CASE(test_sinks),
        CASE(test_migrate_6),
        CASE(test_outbox_concurrent),
        CASE(test_exposure),
        CASE(test_exposure_concurrent),
        CASE(test_migrate_7),
    };
    current = &sqlite_b;
    int failed =
        _cmocka_run_group_tests("sqlite", cases, sizeof cases / sizeof *cases, group_setup, group_teardown);
    current = &pg_b;
    failed += _cmocka_run_group_tests("postgresql", cases, sizeof cases / sizeof *cases, group_setup,
                                      group_teardown);
    return failed != 0;
}
