/* Outcomes in the store through its interface (the cases a PostgreSQL backend must pass too):
 * the join to the latest primary decision (its bundle, variant, decision and score copied in;
 * no score for a fallback answer; shadows never joined), idempotence (the same label again
 * changes nothing), a changed label replaced and kept in outcome_changes, unknown request ids
 * counted and not recorded, a batch all or nothing; the statistics: counts by model, variant,
 * outcome and time, the bad rate among approved, the realised KS (ties as scipy's ks_2samp)
 * only from min_bads bads, and the outcome names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskd/arena.h"
#include "riskd/store.h"

static char dir[64];
static rd_store *st;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/riskd-outcomes-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rd_err err;
    assert_int_equal(rd_store_open(dir, NULL, &st, &err), RD_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Log one decision as the decision log writes it (the fields the join reads). */
static void decide(const char *id, const char *kind, int64_t ts, const char *model, const char *variant,
                   const char *source, double score, const char *decision)
{
    char rec[512], sc[40], var[64];
    if (isnan(score))
        snprintf(sc, sizeof sc, "null");
    else
        snprintf(sc, sizeof sc, "%.17g", score);
    if (variant)
        snprintf(var, sizeof var, "\"%s\"", variant);
    else
        snprintf(var, sizeof var, "null");
    snprintf(rec, sizeof rec,
             "{\"v\":1,\"kind\":\"%s\",\"request_id\":\"%s\",\"ts_ms\":%lld,\"variant\":%s,\"source\":\"%s\","
             "\"score\":%s,\"decision\":\"%s\"}",
             kind, id, (long long)ts, var, source, sc, decision);
    rd_log_row row = {.ts_ms = ts,
                      .request_id = id,
                      .kind = kind,
                      .model_version = model,
                      .record = rec,
                      .record_len = strlen(rec)};
    rd_err err;
    assert_int_equal(rd_store_log_append(st, &row, 1, &err), RD_OK);
}

/* One value of a query on the database, as text ("NULL" for null). */
static void query(const char *sql, char *out, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/riskd.db", dir);
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(q, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "NULL");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void expect(const char *sql, const char *want)
{
    char got[256];
    query(sql, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s\n  got  %s\n  want %s", sql, got, want);
}

static void put(const rd_outcome *o, size_t n, rd_outcome_result *res)
{
    rd_err err;
    if (rd_store_outcomes_put(st, o, n, 5000, res, &err) != RD_OK)
        fail_msg("put: %s", err.msg);
}

static void test_join_and_idempotence(void **state)
{
    (void)state;
    decide("r1", "primary", 1000, "m_a_v1.0", "champion", "model", 0.1234567890123456789, "approve");
    decide("r1", "shadow", 1001, "m_a_v1.1", NULL, "model", 0.9, "reject");
    decide("r2", "primary", 1100, "m_a_v1.0", NULL, "fallback", 0.7, "review");
    decide("r3", "primary", 1200, "m_a_v1.0", "champion", "model", 0.3, "approve");
    decide("r3", "primary", 3000, "m_a_v1.1", "challenger", "model", 0.6, "reject"); /* the latest wins */
    decide("s1", "shadow", 1300, "m_a_v1.1", NULL, "model", 0.2, "approve");         /* a shadow only */

    rd_outcome o[] = {{"r1", "dpd30", 1, 0},
                      {"r2", "dpd30", 0, 1767225600000},
                      {"r3", "dpd30", 1, 0},
                      {"nope", "dpd30", 1, 0},
                      {"s1", "dpd30", 1, 0}};
    rd_outcome_result res[5];
    put(o, 5, res);
    assert_int_equal(res[0], RD_OUTCOME_NEW);
    assert_int_equal(res[1], RD_OUTCOME_NEW);
    assert_int_equal(res[2], RD_OUTCOME_NEW);
    assert_int_equal(res[3], RD_OUTCOME_UNKNOWN_REQ);
    assert_int_equal(res[4], RD_OUTCOME_UNKNOWN_REQ); /* a shadow score is no decision */
    assert_string_equal(rd_outcome_result_name(res[3]), "unknown_request");
    expect("SELECT count(*) FROM outcomes", "3");
    expect("SELECT model_version || '|' || variant || '|' || decision || '|' || decided_ms || '|' || "
           "received_ms || '|' || coalesce(observed_ms, 'none') FROM outcomes WHERE request_id = 'r1'",
           "m_a_v1.0|champion|approve|1000|5000|none");
    /* the score is the very double decided */
    char got[64];
    query("SELECT printf('%!.17g', score) FROM outcomes WHERE request_id = 'r1'", got, sizeof got);
    assert_true(strtod(got, NULL) == 0.1234567890123456789);
    /* a fallback answer: no model score, no variant */
    expect("SELECT coalesce(score, 'none') || '|' || coalesce(variant, 'none') || '|' || decision || '|' || "
           "observed_ms FROM outcomes WHERE request_id = 'r2'",
           "none|none|review|1767225600000");
    expect(
        "SELECT model_version || '|' || variant || '|' || decided_ms FROM outcomes WHERE request_id = 'r3'",
        "m_a_v1.1|challenger|3000");

    /* the same batch again: nothing changes */
    put(o, 5, res);
    assert_int_equal(res[0], RD_OUTCOME_SAME);
    assert_int_equal(res[1], RD_OUTCOME_SAME);
    assert_int_equal(res[2], RD_OUTCOME_SAME);
    assert_int_equal(res[3], RD_OUTCOME_UNKNOWN_REQ);
    expect("SELECT count(*) FROM outcome_changes", "0");
    expect("SELECT received_ms FROM outcomes WHERE request_id = 'r1'", "5000");

    /* a later label replaces the earlier one; so does a new observation time; both kept */
    rd_outcome c[] = {{"r1", "dpd30", 0, 0}, {"r2", "dpd30", 0, 1767225600001}, {"r1", "fpd", 1, 0}};
    rd_err err;
    assert_int_equal(rd_store_outcomes_put(st, c, 3, 6000, res, &err), RD_OK);
    assert_int_equal(res[0], RD_OUTCOME_CHANGED);
    assert_int_equal(res[1], RD_OUTCOME_CHANGED);
    assert_int_equal(res[2], RD_OUTCOME_NEW); /* another definition of the same request */
    expect("SELECT label || '|' || received_ms FROM outcomes WHERE request_id = 'r1' AND outcome = 'dpd30'",
           "0|6000");
    expect(
        "SELECT group_concat(ts_ms || ':' || request_id || ':' || outcome || ':' || old_label || '>' || "
        "new_label || ':' || coalesce(old_observed_ms, '-') || '>' || coalesce(new_observed_ms, '-'), ' ') "
        "FROM (SELECT * FROM outcome_changes ORDER BY id)",
        "6000:r1:dpd30:1>0:->- 6000:r2:dpd30:0>0:1767225600000>1767225600001");
    /* within one batch: the second of a pair sees the first */
    rd_outcome d[] = {{"r3", "default", 1, 0}, {"r3", "default", 1, 0}, {"r3", "default", 0, 0}};
    put(d, 3, res);
    assert_int_equal(res[0], RD_OUTCOME_NEW);
    assert_int_equal(res[1], RD_OUTCOME_SAME);
    assert_int_equal(res[2], RD_OUTCOME_CHANGED);
    expect("SELECT count(*) FROM outcome_changes", "3");
}

static void test_refusals(void **state)
{
    (void)state;
    decide("r1", "primary", 1000, "m_a_v1.0", "champion", "model", 0.25, "approve");
    rd_outcome_result res[2] = {7, 7};
    rd_err err;
    rd_outcome bad_label[] = {{"r1", "dpd30", 1, 0}, {"r1", "fpd", 2, 0}};
    assert_int_equal(rd_store_outcomes_put(st, bad_label, 2, 1, res, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "outcome 1: label 2"));
    rd_outcome no_name[] = {{"r1", "", 1, 0}};
    assert_int_equal(rd_store_outcomes_put(st, no_name, 1, 1, res, &err), RD_EINVAL);
    rd_outcome no_id[] = {{NULL, "fpd", 1, 0}};
    assert_int_equal(rd_store_outcomes_put(st, no_id, 1, 1, res, &err), RD_EINVAL);
    assert_int_equal(res[0], 7); /* results are written on success only */
    expect("SELECT count(*) FROM outcomes", "0");
    assert_int_equal(rd_store_outcomes_put(st, NULL, 0, 1, res, &err), RD_OK);

    /* a store that cannot be written: the error, and nothing of the batch */
    rd_store *ro;
    rd_store_opts o = {.read_only = true};
    assert_int_equal(rd_store_open(dir, &o, &ro, &err), RD_OK);
    rd_outcome good[] = {{"r1", "dpd30", 1, 0}, {"r1", "fpd", 1, 0}};
    assert_int_equal(rd_store_outcomes_put(ro, good, 2, 1, res, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "riskd.db"));
    assert_int_equal(res[0], 7);
    rd_store_close(ro);
    expect("SELECT count(*) FROM outcomes", "0");

    rd_outcome_stats s;
    assert_int_equal(rd_store_outcome_stats(st, NULL, NULL, "dpd30", 0, 0, 100, &s, &err), RD_EINVAL);
    assert_int_equal(rd_store_outcome_stats(st, "m", NULL, NULL, 0, 0, 100, &s, &err), RD_EINVAL);
}

/* max over the distinct scores t of |#bad <= t / nb - #good <= t / ng|, by brute force. */
static double ks_brute(const double *s, const int *l, size_t n)
{
    size_t nb = 0, ng = 0;
    for (size_t i = 0; i < n; i++)
        l[i] ? nb++ : ng++;
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = 0, g = 0;
        for (size_t j = 0; j < n; j++)
            if (s[j] <= s[i])
                l[j] ? b++ : g++;
        double x = fabs((double)b / (double)nb - (double)g / (double)ng);
        d = x > d ? x : d;
    }
    return d;
}

static void test_ks_ties(void **state)
{
    (void)state;
    /* bads at 1, 2, 2, 3 and goods at 2, 2, 4: scipy.stats.ks_2samp([1,2,2,3], [2,2,4]).statistic
     * is 1/3 (at 3); stepping through the tie at 2 one side first would give 3/4 or 2/3 */
    const double sc[] = {1, 2, 2, 3, 2, 2, 4};
    const int lab[] = {1, 1, 1, 1, 0, 0, 0};
    rd_outcome o[7];
    char ids[7][16];
    for (int i = 0; i < 7; i++) {
        snprintf(ids[i], sizeof ids[i], "t%d", i);
        decide(ids[i], "primary", 1000 + i, "m_t_v1.0", "a", "model", sc[i], "approve");
        o[i] = (rd_outcome){ids[i], "dpd30", lab[i], 0};
    }
    rd_outcome_result res[7];
    put(o, 7, res);
    rd_outcome_stats s;
    rd_err err;
    assert_int_equal(rd_store_outcome_stats(st, "m_t_v1.0", NULL, "dpd30", 0, 0, 4, &s, &err), RD_OK);
    assert_true(s.ks == 1.0 / 3.0); /* the rational 4/12, rounded once */
    assert_true(fabs(s.ks - ks_brute(sc, lab, 7)) < 1e-15);
    /* 5 bads needed: not computed */
    assert_int_equal(rd_store_outcome_stats(st, "m_t_v1.0", NULL, "dpd30", 0, 0, 5, &s, &err), RD_OK);
    assert_true(isnan(s.ks));
    assert_int_equal(s.bads, 4);
}

/* A reproducible sample: 400 decisions over two variants, scores on a 0.01 grid (many ties),
 * bads more likely at high scores. */
static void test_stats(void **state)
{
    (void)state;
    enum { N = 400 };
    static double sc[N];
    static int lab[N];
    static char ids[N][16];
    static rd_outcome o[N + 1];
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        double s = (double)((x >> 8) % 100) / 100.0;
        x = x * 1103515245u + 12345u;
        int bad = (double)((x >> 8) % 1000) / 1000.0 < s * 0.8;
        snprintf(ids[i], sizeof ids[i], "q%d", i);
        const char *variant = i % 2 ? "challenger" : "champion";
        bool fallback = i % 10 == 9; /* answered by fallback rules: no model score */
        decide(ids[i], "primary", 10000 + i, "m_s_v1.0", variant, fallback ? "fallback" : "model", s,
               s < 0.5   ? "approve"
               : s < 0.8 ? "review"
                         : "reject");
        sc[i] = s;
        lab[i] = bad;
        o[i] = (rd_outcome){ids[i], "dpd30", bad, 0};
    }
    decide("other", "primary", 10000, "m_o_v1.0", "champion", "model", 0.5, "approve");
    o[N] = (rd_outcome){"other", "fpd", 1, 0};
    static rd_outcome_result res[N + 1];
    put(o, N + 1, res);

    /* expected, computed here from the sample */
    uint64_t labelled = 0, bads = 0, approved = 0, approved_bads = 0, ch_bads = 0;
    static double ks_s[N];
    static int ks_l[N];
    size_t nk = 0, ch_nk = 0;
    static double ch_s[N];
    static int ch_l[N];
    for (int i = 0; i < N; i++) {
        labelled++;
        bads += (uint64_t)lab[i];
        if (sc[i] < 0.5) {
            approved++;
            approved_bads += (uint64_t)lab[i];
        }
        if (i % 10 != 9) {
            ks_s[nk] = sc[i];
            ks_l[nk++] = lab[i];
            if (i % 2) {
                ch_s[ch_nk] = sc[i];
                ch_l[ch_nk++] = lab[i];
            }
        }
        if (i % 2)
            ch_bads += (uint64_t)lab[i];
    }
    assert_true(bads >= 100);
    rd_outcome_stats s;
    rd_err err;
    assert_int_equal(rd_store_outcome_stats(st, "m_s_v1.0", NULL, "dpd30", 0, 0, 100, &s, &err), RD_OK);
    assert_int_equal(s.labelled, labelled);
    assert_int_equal(s.bads, bads);
    assert_int_equal(s.approved, approved);
    assert_int_equal(s.approved_bads, approved_bads);
    assert_true(s.bad_rate_approved == (double)approved_bads / (double)approved);
    assert_false(isnan(s.ks));
    assert_true(fabs(s.ks - ks_brute(ks_s, ks_l, nk)) < 1e-15);

    /* by variant */
    assert_int_equal(rd_store_outcome_stats(st, "m_s_v1.0", "challenger", "dpd30", 0, 0, 10, &s, &err),
                     RD_OK);
    assert_int_equal(s.labelled, N / 2);
    assert_int_equal(s.bads, ch_bads);
    assert_true(fabs(s.ks - ks_brute(ch_s, ch_l, ch_nk)) < 1e-15);
    /* by the decisions' time: [10000, 10010) */
    assert_int_equal(rd_store_outcome_stats(st, "m_s_v1.0", NULL, "dpd30", 10000, 10010, 100, &s, &err),
                     RD_OK);
    assert_int_equal(s.labelled, 10);
    assert_true(isnan(s.ks));
    assert_int_equal(rd_store_outcome_stats(st, "m_s_v1.0", NULL, "dpd30", 10390, 0, 100, &s, &err), RD_OK);
    assert_int_equal(s.labelled, 10);
    /* nothing: zero counts, no rate */
    assert_int_equal(rd_store_outcome_stats(st, "m_s_v1.0", NULL, "fpd", 0, 0, 100, &s, &err), RD_OK);
    assert_int_equal(s.labelled, 0);
    assert_true(isnan(s.bad_rate_approved));
    assert_true(isnan(s.ks));
}

struct failing {
    size_t n, fail_at;
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

/* Out of memory (the library's allocations; SQLite has its own): recording a batch and
 * computing a KS over 2000 scores (past the first growth of its arrays) with the n-th
 * allocation failing, for every n until they succeed: RD_ENOMEM, nothing recorded, no leak. */
static void test_oom(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char ids[N][16];
    static rd_outcome o[N];
    static rd_outcome_result res[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "o%d", i);
        decide(ids[i], "primary", 1000 + i, "m_o_v1.0", NULL, "model", (double)(i % 97) / 97.0, "approve");
        o[i] = (rd_outcome){ids[i], "dpd30", i % 3 == 0, 0};
    }
    struct failing f = {0};
    size_t at;
    for (at = 1; at < 50; at++) {
        f.n = 0;
        f.fail_at = at;
        rd_err err = {0};
        rd_set_allocator(failing_alloc, &f);
        int rc = rd_store_outcomes_put(st, o, N, 1, res, &err);
        rd_set_allocator(NULL, NULL);
        if (rc == RD_OK)
            break;
        assert_int_equal(rc, RD_ENOMEM);
        expect("SELECT count(*) FROM outcomes", "0");
    }
    assert_true(at > 1 && at < 50);
    for (at = 1; at < 50; at++) {
        f.n = 0;
        f.fail_at = at;
        rd_err err = {0};
        rd_outcome_stats s = {.labelled = 77};
        rd_set_allocator(failing_alloc, &f);
        int rc = rd_store_outcome_stats(st, "m_o_v1.0", NULL, "dpd30", 0, 0, 100, &s, &err);
        rd_set_allocator(NULL, NULL);
        if (rc == RD_OK) {
            assert_int_equal(s.labelled, N);
            assert_false(isnan(s.ks));
            break;
        }
        assert_int_equal(rc, RD_ENOMEM);
        assert_int_equal(err.code, RD_ENOMEM);
        assert_int_equal(s.labelled, 77); /* untouched */
    }
    assert_true(at > 1 && at < 50);
}

typedef struct names {
    char v[8][16];
    int n;
} names;

static int add_name(void *ud, const char *name)
{
    names *s = ud;
    snprintf(s->v[s->n++], sizeof s->v[0], "%s", name);
    return s->n == 8 ? 9 : 0;
}

static void test_names(void **state)
{
    (void)state;
    decide("a", "primary", 1, "m_a_v1.0", NULL, "model", 0.1, "approve");
    decide("b", "primary", 1, "m_b_v1.0", NULL, "model", 0.1, "approve");
    rd_outcome o[] = {{"a", "fpd", 1, 0}, {"a", "dpd30", 0, 0}, {"b", "dpd90", 0, 0}, {"b", "fpd", 0, 0}};
    rd_outcome_result res[4];
    put(o, 4, res);
    names s = {0};
    rd_err err;
    assert_int_equal(rd_store_outcome_names(st, "m_a_v1.0", add_name, &s, &err), RD_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0], "dpd30");
    assert_string_equal(s.v[1], "fpd");
    s.n = 0;
    assert_int_equal(rd_store_outcome_names(st, NULL, add_name, &s, &err), RD_OK);
    assert_int_equal(s.n, 3); /* each once */
    s.n = 0;
    assert_int_equal(rd_store_outcome_names(st, "m_z_v1.0", add_name, &s, &err), RD_OK);
    assert_int_equal(s.n, 0);
    s.n = 7;
    assert_int_equal(rd_store_outcome_names(st, NULL, add_name, &s, &err), 9); /* the callback stops it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_and_idempotence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ks_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
