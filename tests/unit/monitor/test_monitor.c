/* The monitor's online accumulation (src/lib/monitor/monitor.c): counts and rates, fallback
 * reasons, marks (a stage's start), the sliding window, per-input missing and unseen levels,
 * score PSI and KS from the counters equal to the statistics computed directly on the same
 * scores, a bundle reloaded with another digest, and counting from several threads at once. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../decide/fixture.h"
#include "riskd/json.h"
#include "riskd/monitor.h"

#define assert_near(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static rd_bundle *B;

static int setup(void **state)
{
    (void)state;
    fixture_new();
    B = fixture_bundle("demo_lr_v1.0", "lr.json", NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_bundle_free(B);
    fixture_free();
    return 0;
}

static rd_monitor *monitor(int bucket_ms)
{
    rd_monitor_opts o;
    rd_monitor_opts_default(&o);
    o.bucket_ms = bucket_ms;
    o.buckets = 3;
    rd_monitor *m;
    rd_err err;
    assert_int_equal(rd_monitor_new(&o, &m, &err), RD_OK);
    return m;
}

/* The features {"age": age, "home": home} (home NULL: absent), parsed into a. */
static const rd_value *features(rd_arena *a, double age, const char *home)
{
    char text[128];
    if (home)
        snprintf(text, sizeof text, "{\"age\":%g,\"home\":\"%s\"}", age, home);
    else
        snprintf(text, sizeof text, "{\"age\":%g}", age);
    rd_value *v = rd_arena_alloc(a, sizeof *v);
    rd_err err;
    assert_int_equal(rd_json_parse(text, strlen(text), NULL, a, v, &err), RD_OK);
    return v;
}

static void record(rd_monitor_series *s, double score, const char *decision)
{
    rd_monitor_obs o = {.answered = true, .score = score, .decision = decision, .latency_ms = 2.0};
    rd_monitor_record(s, &o);
}

static void test_counts_and_rates(void **state)
{
    (void)state;
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "champion", RD_ROLE_PRIMARY);
    assert_non_null(s);
    assert_ptr_equal(rd_monitor_series_get(m, B, "champion", RD_ROLE_PRIMARY), s);
    assert_ptr_not_equal(rd_monitor_series_get(m, B, "champion", RD_ROLE_SHADOW), s);
    for (int i = 0; i < 6; i++)
        record(s, 0.2, "approve");
    for (int i = 0; i < 3; i++)
        record(s, 0.7, "reject");
    rd_monitor_obs fb = {.answered = true,
                         .fallback = true,
                         .fallback_reason = 1,
                         .score = (double)NAN,
                         .decision = "review",
                         .latency_ms = 200};
    rd_monitor_record(s, &fb);
    rd_monitor_obs failed = {.answered = false};
    rd_monitor_record(s, &failed);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    rd_err err;
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, &err), RD_OK);
    assert_int_equal(st.n, 10);
    assert_int_equal(st.approve, 6);
    assert_int_equal(st.reject, 3);
    assert_int_equal(st.review, 1);
    assert_int_equal(st.fallback, 1);
    assert_int_equal(st.timeout, 1);
    assert_int_equal(st.failed, 1);
    assert_near(st.reject_rate, 0.3, 1e-15);
    assert_near(st.fallback_rate, 0.1, 1e-15);
    assert_near(st.error_rate, 1.0 / 11.0, 1e-15);
    /* ten answers: 9 at 2 ms, one at 200 ms; p50 within the 2 ms bin (8 bins per doubling) */
    assert_true(st.latency_p50 > 2.0 / 1.1 && st.latency_p50 <= 2.0 * 1.1);
    assert_true(st.latency_p99 > 100);
    assert_true(isnan(st.psi));
    assert_non_null(strstr(st.psi_note, "PSI needs"));
    rd_buf b;
    rd_buf_init(&b);
    rd_monitor_stats_json(&b, &st);
    rd_value v;
    assert_int_equal(rd_json_parse(rd_buf_cstr(&b), b.len, NULL, &a, &v, &err), RD_OK); /* valid JSON */
    rd_buf_deinit(&b);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

static void test_marks(void **state)
{
    (void)state;
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    for (int i = 0; i < 5; i++)
        record(s, 0.2, "approve");
    rd_monitor_mark *k = rd_monitor_mark_take(s);
    for (int i = 0; i < 4; i++)
        record(s, 0.9, "reject");
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_stats_since(s, k, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.n, 4);
    assert_int_equal(st.reject, 4);
    assert_int_equal(st.approve, 0);
    rd_monitor_mark_free(k);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

static void test_window(void **state)
{
    (void)state;
    rd_monitor *m = monitor(100); /* window: 3 buckets of 100 ms */
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    int64_t t = 1000000;
    rd_monitor_tick(m, t);
    for (int i = 0; i < 7; i++)
        record(s, 0.2, "approve"); /* in the bucket after t */
    rd_monitor_tick(m, t + 100);
    for (int i = 0; i < 2; i++)
        record(s, 0.9, "reject");
    rd_monitor_tick(m, t + 200);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_window_stats(s, t + 250, &a, &st, NULL), RD_OK);
    assert_int_equal(st.n, 9); /* all within 300 ms */
    rd_monitor_tick(m, t + 300);
    rd_monitor_tick(m, t + 400);
    assert_int_equal(rd_monitor_window_stats(s, t + 420, &a, &st, NULL), RD_OK);
    assert_int_equal(st.n, 2); /* the 7 approvals before t + 100 left the window */
    assert_int_equal(st.reject, 2);
    rd_monitor_tick(m, t + 500);
    assert_int_equal(rd_monitor_window_stats(s, t + 520, &a, &st, NULL), RD_OK);
    assert_int_equal(st.n, 0);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

/* Rates over time: each bucket's own counts (not cumulative), oldest first; the history keeps
 * its last opts.history buckets, longer than the window. */
static void test_history(void **state)
{
    (void)state;
    rd_monitor_opts o;
    rd_monitor_opts_default(&o);
    o.bucket_ms = 100;
    o.buckets = 2;
    o.history = 4;
    rd_monitor *m;
    rd_err err;
    assert_int_equal(rd_monitor_new(&o, &m, &err), RD_OK);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    rd_monitor_point p[8];
    assert_int_equal(rd_monitor_history(s, p, 8), 0); /* no tick yet: no bucket */
    int64_t t = 1000000;
    rd_monitor_tick(m, t);
    assert_int_equal(rd_monitor_history(s, p, 8), 0); /* one snapshot: still no bucket */
    for (int k = 1; k <= 6; k++) { /* bucket k: k approvals and one reject */
        for (int i = 0; i < k; i++)
            record(s, 0.2, "approve");
        record(s, 0.9, "reject");
        rd_monitor_tick(m, t + 100 * k);
    }
    size_t n = rd_monitor_history(s, p, 8);
    assert_int_equal(n, 4); /* the last four buckets: 3, 4, 5, 6 */
    for (size_t i = 0; i < n; i++) {
        uint64_t k = 3 + i;
        assert_int_equal(p[i].n, k + 1);
        assert_int_equal(p[i].approve, k);
        assert_int_equal(p[i].reject, 1);
        assert_int_equal(p[i].t_ms, t + 100 * (int64_t)k);
        assert_true(p[i].seconds == 0.1);
    }
    assert_int_equal(rd_monitor_history(s, p, 2), 2); /* the newest two */
    assert_int_equal(p[1].approve, 6);
    rd_buf b;
    rd_buf_init(&b);
    assert_int_equal(rd_monitor_history_json(&b, s), RD_OK);
    assert_non_null(strstr(rd_buf_cstr(&b), "\"n\":7,\"approve_rate\":0.857142857142857"));
    rd_buf_deinit(&b);
    rd_monitor_free(m);
    o.history = -1;
    assert_int_equal(rd_monitor_new(&o, &m, &err), RD_EINVAL);
}

static void test_inputs(void **state)
{
    (void)state;
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    rd_arena a;
    rd_arena_init(&a, 0);
    const char *homes[] = {"own", "rent", NULL, "villa"};
    for (int i = 0; i < 8; i++) {
        rd_monitor_obs o = {.answered = true,
                            .score = 0.3,
                            .decision = "approve",
                            .features = features(&a, 20 + i, homes[i % 4])};
        rd_monitor_record(s, &o);
    }
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.ninputs, 2);
    const rd_monitor_input_stats *home = !strcmp(st.inputs[0].name, "home") ? &st.inputs[0] : &st.inputs[1];
    const rd_monitor_input_stats *age = home == &st.inputs[0] ? &st.inputs[1] : &st.inputs[0];
    assert_string_equal(home->name, "home");
    assert_int_equal(home->n, 8);
    assert_int_equal(home->missing, 2);
    assert_int_equal(home->unknown, 2);
    assert_int_equal(age->missing, 0);
    assert_int_equal(age->n, 8);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

/* PSI and KS from the monitor equal rd_psi / rd_ks_stat on counts made directly here. */
static void test_psi_ks_from_counters(void **state)
{
    (void)state;
    const rd_reference *ref = rd_bundle_reference(B);
    assert_non_null(ref);
    assert_true(ref->score.nquantiles > 0);
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    size_t nb = ref->score.ncuts + 1;
    double cur[64] = {0};
    rd_ks_grid g;
    assert_int_equal(rd_ks_grid_init(&g, ref->score.quantiles, ref->score.nquantiles, NULL), RD_OK);
    uint64_t *cells = calloc(2 * g.j + 1, sizeof *cells);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double sc = (double)(x % 1000) / 1000.0;
        record(s, sc, "approve");
        size_t b = 0;
        while (b < ref->score.ncuts && ref->score.cuts[b] <= sc)
            b++;
        cur[b]++;
        cells[rd_ks_cell(&g, sc)]++;
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, NULL), RD_OK);
    double psi = rd_psi(ref->score.counts, cur, nb, RD_PSI_EPS);
    assert_true(isfinite(st.psi));
    assert_near(st.psi, psi, 1e-12 * fabs(psi));
    assert_near(st.psi_floor, rd_psi_noise_floor(ref->rows, 5000, nb, RD_PSI_ALPHA), 1e-15);
    assert_near(st.ks, rd_ks_stat(&g, cells), 1e-15);
    assert_near(st.ks_critical, rd_ks_critical(ref->rows, 5000, RD_KS_ALPHA), 1e-15);
    free(cells);
    rd_ks_grid_free(&g);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

static void test_new_digest(void **state)
{
    (void)state;
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "v", RD_ROLE_PRIMARY);
    record(s, 0.2, "approve");
    /* the same name, another model: a new digest */
    char out[160], moved[160];
    snprintf(out, sizeof out, "%s/demo_lr_v1.0", dir);
    snprintf(moved, sizeof moved, "%s/before", dir);
    assert_int_equal(rename(out, moved), 0); /* B is loaded: its directory can go */
    rd_bundle *b2 = fixture_bundle("demo_lr_v1.0", "lr2.json", NULL, 0);
    assert_string_not_equal(rd_bundle_digest(b2), rd_bundle_digest(B));
    rd_monitor_series *s2 = rd_monitor_series_get(m, b2, "v", RD_ROLE_PRIMARY);
    assert_ptr_not_equal(s2, s);
    assert_ptr_equal(rd_monitor_series_get(m, b2, "v", RD_ROLE_PRIMARY), s2);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_stats_since(s2, NULL, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.n, 0); /* its statistics restart */
    record(s, 0.2, "approve"); /* a thread still holding the old series may count in it */
    rd_arena_deinit(&a);
    rd_bundle_free(B);
    B = b2;
    rd_monitor_free(m);
}

typedef struct th_arg {
    rd_monitor_series *s;
    int n;
} th_arg;

static void *hammer(void *p)
{
    th_arg *a = p;
    for (int i = 0; i < a->n; i++)
        record(a->s, (i % 10) / 10.0, i % 3 ? "approve" : "reject");
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    rd_monitor *m = monitor(100);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    pthread_t t[4];
    th_arg arg = {s, 20000};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &arg), 0);
    for (int i = 0; i < 50; i++)
        rd_monitor_tick(m, 1000 + i * 100); /* windows snapshot while the threads count */
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.n, 80000);
    assert_int_equal(st.approve + st.reject, 80000);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_rates),
        cmocka_unit_test(test_marks),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_psi_ks_from_counters),
        cmocka_unit_test(test_new_digest),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
