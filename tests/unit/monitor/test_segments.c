/* The monitor's exposure and segment counters (docs/plans/guardrails.md §5, §6.1): decisions
 * excluded from the gate metrics (and capped ones) counted apart, with every gate figure equal
 * to that of a series that never saw them; per-segment applicants and approvals from the
 * caller's bits, since a mark and over the window, invalid across a replaced set; exact counts
 * from two threads recording at once (this binary runs under TSan too); the JSON members. The
 * expected counts come from plain loops over the same inputs, not from the monitor. */
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

static rd_monitor_segments *segset(size_t n, const char *const *names)
{
    rd_monitor_segments *g;
    rd_err err;
    assert_int_equal(rd_monitor_segments_new(names, n, &g, &err), RD_OK);
    return g;
}

static void rec(rd_monitor_series *s, const char *decision, uint32_t bits)
{
    rd_monitor_obs o = {
        .answered = true, .score = 0.3, .decision = decision, .latency_ms = 2.0, .segments = bits};
    rd_monitor_record(s, &o);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

static const rd_value *member(const rd_value *o, const char *key)
{
    const rd_value *v = rd_value_get(o, key, strlen(key));
    assert_non_null(v);
    return v;
}

/* Excluded and capped decisions: counted apart, and every figure the gates read (n, rates, PSI,
 * KS, the histogram, latency, segments) equal to a series that was given only the others. */
static void test_excluded_capped(void **state)
{
    (void)state;
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "challenger", RD_ROLE_PRIMARY);
    rd_monitor_series *ref = rd_monitor_series_get(m, B, "reference", RD_ROLE_PRIMARY);
    const char *names[] = {"young", "old"};
    rd_monitor_segments *g = segset(2, names);
    rd_monitor_attach_segments(m, s, g);
    rd_monitor_attach_segments(m, ref, g); /* one set on two series: freed once, with m */
    uint64_t x = 88172645463325252ULL, excluded = 0, capped = 0;
    for (int i = 0; i < 1500; i++) {
        double sc = (double)(xorshift(&x) % 1000) / 1000.0;
        const char *d = sc < 0.4 ? "approve" : sc < 0.7 ? "review" : "reject";
        rd_monitor_obs o = {.answered = true,
                            .score = sc,
                            .decision = d,
                            .latency_ms = 1.0 + (double)(i % 7),
                            .segments = (uint32_t)(x & 3)};
        rd_monitor_record(s, &o);
        rd_monitor_record(ref, &o);
        if (i % 5 == 0) { /* closed: either decision, far-off scores and latencies */
            rd_monitor_obs e = {.answered = true,
                                .score = 0.999,
                                .decision = i % 10 ? "reject" : "approve",
                                .latency_ms = 900,
                                .segments = 3,
                                .excluded = true};
            rd_monitor_record(s, &e);
            excluded++;
        }
        if (i % 50 == 0) { /* the candidate's approval answered by the control */
            rd_monitor_obs c = {.answered = true,
                                .score = 0.01,
                                .decision = "approve",
                                .latency_ms = 900,
                                .segments = 1,
                                .excluded = true,
                                .capped = true};
            rd_monitor_record(s, &c);
            excluded++, capped++;
        }
    }
    rd_monitor_obs c_only = {.answered = true, .decision = "approve", .score = 0.5, .capped = true};
    rd_monitor_record(s, &c_only); /* capped implies excluded */
    excluded++, capped++;
    rd_monitor_obs failed = {.answered = false, .excluded = true};
    rd_monitor_record(s, &failed); /* a failed request is a failure, not an exclusion */
    rd_monitor_record(ref, &failed);
    assert_int_equal(excluded, 300 + 30 + 1);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st, rt;
    rd_err err;
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, &err), RD_OK);
    assert_int_equal(rd_monitor_stats_since(ref, NULL, 0, &a, &rt, &err), RD_OK);
    assert_int_equal(st.excluded, excluded);
    assert_int_equal(st.capped, capped);
    assert_int_equal(rt.excluded, 0);
    assert_int_equal(rt.capped, 0);
    assert_int_equal(st.n, 1500);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.n, rt.n);
    assert_int_equal(st.approve, rt.approve);
    assert_int_equal(st.review, rt.review);
    assert_int_equal(st.reject, rt.reject);
    assert_int_equal(st.model, rt.model);
    assert_true(st.approve_rate == rt.approve_rate);
    assert_true(st.reject_rate == rt.reject_rate);
    assert_true(st.error_rate == rt.error_rate);
    assert_true(isfinite(st.psi) && st.psi == rt.psi);
    assert_true(st.psi_floor == rt.psi_floor);
    assert_true(isfinite(st.ks) && st.ks == rt.ks);
    assert_int_equal(st.psi_bins, rt.psi_bins);
    for (size_t i = 0; i < st.psi_bins; i++)
        assert_int_equal(st.score_counts[i], rt.score_counts[i]);
    assert_true(st.latency_p99 == rt.latency_p99 && st.latency_p99 < 10);
    assert_int_equal(st.nsegments, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(st.segments[i].name, names[i]);
        assert_int_equal(st.segments[i].n, rt.segments[i].n);
        assert_int_equal(st.segments[i].approve, rt.segments[i].approve);
    }
    /* the JSON members */
    rd_buf b;
    rd_buf_init(&b);
    rd_monitor_stats_json(&b, &st);
    rd_value v;
    assert_int_equal(rd_json_parse(rd_buf_cstr(&b), b.len, NULL, &a, &v, &err), RD_OK);
    assert_true(member(&v, "excluded")->u.n == (double)excluded);
    assert_true(member(&v, "capped")->u.n == (double)capped);
    assert_true(member(&v, "n")->u.n == 1500);
    const rd_value *segs = member(&v, "segments");
    assert_int_equal(segs->type, RD_VARRAY);
    assert_int_equal(segs->len, 2);
    assert_null(rd_value_get(&v, "segments_note", 13));
    rd_buf_deinit(&b);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

/* Per-segment counts equal a plain count of the same bits; bits past the set, bits before a
 * set was attached, and bits evaluated for another set are not counted. */
static void test_segment_counts(void **state)
{
    (void)state;
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    assert_null(rd_monitor_series_segments(s));
    rec(s, "approve", 7); /* no set yet: ignored */
    const char *names[] = {"age_18_24", "age_25_34", "age_35_plus", "renter"};
    rd_monitor_segments *g = segset(4, names);
    const char *other_names[] = {"x"};
    rd_monitor_segments *other = segset(1, other_names);
    assert_int_equal(rd_monitor_segments_count(g), 4);
    assert_string_equal(rd_monitor_segments_name(g, 3), "renter");
    assert_null(rd_monitor_segments_name(g, 4));
    rd_monitor_attach_segments(m, s, g);
    assert_ptr_equal(rd_monitor_series_segments(s), g);
    uint64_t n[4] = {0}, ap[4] = {0}, x = 42;
    for (int i = 0; i < 1000; i++) {
        uint32_t bits =
            (uint32_t)(1u << (xorshift(&x) % 3)) | (x & 8 ? 8u : 0u) | 0xfff0u; /* high bits: none */
        const char *d = x % 5 < 2 ? "approve" : "reject";
        rd_monitor_obs o = {.answered = true, .score = 0.2, .decision = d, .latency_ms = 1, .segments = bits};
        if (i % 3 == 0)
            o.segment_set = g; /* evaluated for this set: counted */
        rd_monitor_record(s, &o);
        for (int k = 0; k < 4; k++)
            if (bits >> k & 1) {
                n[k]++;
                ap[k] += d[0] == 'a';
            }
        o.segment_set = other; /* evaluated for a set the series no longer has: not counted */
        rd_monitor_record(s, &o);
    }
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.nsegments, 4);
    assert_string_equal(st.segments_note, "");
    uint64_t total = 0;
    for (int k = 0; k < 4; k++) {
        assert_string_equal(st.segments[k].name, names[k]);
        assert_int_equal(st.segments[k].n, n[k]);
        assert_int_equal(st.segments[k].approve, ap[k]);
        assert_true(st.segments[k].approve_rate == (double)ap[k] / (double)n[k]);
        total += n[k];
    }
    assert_int_equal(n[0] + n[1] + n[2], 1000); /* the age bands partition the applicants */
    assert_true(total > 1000);
    rd_buf b;
    rd_buf_init(&b);
    rd_monitor_stats_json(&b, &st);
    rd_value v;
    assert_int_equal(rd_json_parse(rd_buf_cstr(&b), b.len, NULL, &a, &v, NULL), RD_OK);
    const rd_value *segs = member(&v, "segments");
    assert_int_equal(segs->len, 4);
    for (uint32_t k = 0; k < 4; k++) {
        const rd_value *e = &segs->u.items[k];
        const rd_value *nm = member(e, "name");
        assert_int_equal(nm->len, strlen(names[k]));
        assert_memory_equal(nm->u.s, names[k], nm->len);
        assert_true(member(e, "n")->u.n == (double)n[k]);
        assert_true(member(e, "approve")->u.n == (double)ap[k]);
        assert_true(member(e, "approve_rate")->u.n == (double)ap[k] / (double)n[k]);
    }
    rd_buf_deinit(&b);
    rd_arena_deinit(&a);
    rd_monitor_segments_free(other); /* never attached: the caller's */
    rd_monitor_free(m);
}

static void test_segments_new_refused(void **state)
{
    (void)state;
    rd_monitor_segments *g = NULL;
    rd_err err;
    const char *dup[] = {"a", "b", "a"};
    assert_int_equal(rd_monitor_segments_new(dup, 3, &g, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "\"a\" named twice"));
    assert_int_equal(rd_monitor_segments_new(dup, 0, &g, &err), RD_EINVAL);
    const char *many[RD_MONITOR_MAX_SEGMENTS + 1];
    char buf[RD_MONITOR_MAX_SEGMENTS + 1][16];
    for (int i = 0; i <= RD_MONITOR_MAX_SEGMENTS; i++) {
        snprintf(buf[i], sizeof buf[i], "s%d", i);
        many[i] = buf[i];
    }
    assert_int_equal(rd_monitor_segments_new(many, RD_MONITOR_MAX_SEGMENTS + 1, &g, &err), RD_EINVAL);
    assert_int_equal(rd_monitor_segments_new(many, RD_MONITOR_MAX_SEGMENTS, &g, &err), RD_OK);
    rd_monitor_segments_free(g);
    const char *empty[] = {""};
    assert_int_equal(rd_monitor_segments_new(empty, 1, &g, &err), RD_EINVAL);
    char longname[65];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    const char *lng[] = {longname};
    assert_int_equal(rd_monitor_segments_new(lng, 1, &g, &err), RD_EINVAL);
    longname[63] = '\0';
    assert_int_equal(rd_monitor_segments_new(lng, 1, &g, &err), RD_OK);
    rd_monitor_segments_free(g);
}

/* Since a mark; the same set again changes nothing; another set makes every span begun before
 * it invalid (counts 0, rates NaN, a note), and spans begun after count under the new names. */
static void test_segment_marks(void **state)
{
    (void)state;
    rd_monitor *m = monitor(60000);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    const char *n1[] = {"young", "old"}, *n2[] = {"renter", "owner"};
    rd_monitor_segments *g1 = segset(2, n1), *g2 = segset(2, n2);
    rd_monitor_attach_segments(m, s, g1);
    for (int i = 0; i < 10; i++)
        rec(s, "approve", 1);
    rd_monitor_mark *k = rd_monitor_mark_take(s);
    for (int i = 0; i < 5; i++)
        rec(s, i < 3 ? "approve" : "reject", 1);
    rec(s, "reject", 2);
    rd_monitor_attach_segments(m, s, g1); /* the same set: no-op */
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_stats_since(s, k, 0, &a, &st, NULL), RD_OK);
    assert_string_equal(st.segments_note, "");
    assert_int_equal(st.segments[0].n, 5);
    assert_int_equal(st.segments[0].approve, 3);
    assert_int_equal(st.segments[1].n, 1);
    assert_int_equal(st.segments[1].approve, 0);
    assert_true(st.segments[1].approve_rate == 0.0);
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.segments[0].n, 15);
    assert_int_equal(st.segments[0].approve, 13);

    rd_monitor_attach_segments(m, s, g2); /* redefined */
    assert_ptr_equal(rd_monitor_series_segments(s), g2);
    rd_monitor_mark *k2 = rd_monitor_mark_take(s);
    for (int i = 0; i < 4; i++)
        rec(s, "approve", 2);
    assert_int_equal(rd_monitor_stats_since(s, k, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.nsegments, 2);
    assert_string_equal(st.segments[1].name, "owner");
    assert_non_null(strstr(st.segments_note, "segments redefined at "));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(st.segments[i].n, 0);
        assert_true(isnan(st.segments[i].approve_rate));
    }
    assert_int_equal(st.n, 10); /* the other counters are unaffected */
    rd_buf b;
    rd_buf_init(&b);
    rd_monitor_stats_json(&b, &st);
    rd_value v;
    assert_int_equal(rd_json_parse(rd_buf_cstr(&b), b.len, NULL, &a, &v, NULL), RD_OK);
    assert_int_equal(member(&v, "segments_note")->type, RD_VSTRING);
    assert_int_equal(member(&member(&v, "segments")->u.items[0], "approve_rate")->type, RD_VNULL);
    rd_buf_deinit(&b);
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, NULL), RD_OK);
    assert_true(st.segments_note[0] != '\0'); /* since the series began: before the change */
    assert_int_equal(rd_monitor_stats_since(s, k2, 0, &a, &st, NULL), RD_OK);
    assert_string_equal(st.segments_note, "");
    assert_int_equal(st.segments[0].n, 0);
    assert_int_equal(st.segments[1].n, 4);
    assert_int_equal(st.segments[1].approve, 4);
    rd_monitor_mark_free(k);
    rd_monitor_mark_free(k2);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

/* Over the window: the counts of the buckets it covers; a set replaced inside the window
 * invalidates it until the replacement has left the window. */
static void test_segment_window(void **state)
{
    (void)state;
    rd_monitor *m = monitor(100); /* window: 3 buckets of 100 ms */
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    const char *n1[] = {"young", "old"}, *n2[] = {"renter"};
    rd_monitor_segments *g1 = segset(2, n1), *g2 = segset(1, n2);
    rd_monitor_attach_segments(m, s, g1);
    int64_t t = 1000000;
    rd_monitor_tick(m, t);
    for (int i = 0; i < 7; i++)
        rec(s, "approve", 1);
    rd_monitor_obs e = {
        .answered = true, .decision = "approve", .score = 0.2, .excluded = true, .segments = 1};
    rd_monitor_record(s, &e);
    rd_monitor_tick(m, t + 100);
    for (int i = 0; i < 3; i++)
        rec(s, i ? "reject" : "approve", 3);
    rd_monitor_tick(m, t + 200);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    assert_int_equal(rd_monitor_window_stats(s, t + 250, &a, &st, NULL), RD_OK);
    assert_int_equal(st.excluded, 1);
    assert_int_equal(st.segments[0].n, 10);
    assert_int_equal(st.segments[0].approve, 8);
    assert_int_equal(st.segments[1].n, 3);
    assert_int_equal(st.segments[1].approve, 1);
    rd_monitor_tick(m, t + 300);
    rd_monitor_tick(m, t + 400);
    assert_int_equal(rd_monitor_window_stats(s, t + 420, &a, &st, NULL), RD_OK);
    assert_int_equal(st.excluded, 0); /* left the window with the 7 approvals */
    assert_int_equal(st.segments[0].n, 3);
    assert_int_equal(st.segments[0].approve, 1);
    assert_string_equal(st.segments_note, "");

    rd_monitor_attach_segments(m, s, g2);
    for (int i = 0; i < 2; i++)
        rec(s, "approve", 1);
    assert_int_equal(rd_monitor_window_stats(s, t + 450, &a, &st, NULL), RD_OK);
    assert_int_equal(st.nsegments, 1);
    assert_true(st.segments_note[0] != '\0');
    assert_int_equal(st.segments[0].n, 0);
    rd_monitor_tick(m, t + 500); /* the first snapshot after the change */
    for (int i = 0; i < 3; i++)
        rec(s, i ? "approve" : "reject", 1);
    rd_monitor_tick(m, t + 600);
    rd_monitor_tick(m, t + 700);
    assert_int_equal(rd_monitor_window_stats(s, t + 720, &a, &st, NULL), RD_OK);
    assert_true(st.segments_note[0] != '\0'); /* still from the t + 400 snapshot, before it */
    rd_monitor_tick(m, t + 800);
    assert_int_equal(rd_monitor_window_stats(s, t + 820, &a, &st, NULL), RD_OK);
    assert_string_equal(st.segments_note, ""); /* the window now starts at t + 500 */
    assert_int_equal(st.segments[0].n, 3);
    assert_int_equal(st.segments[0].approve, 2);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

typedef struct th_arg {
    rd_monitor_series *s;
    const rd_monitor_segments *g;
    uint64_t seed;
    int n;
} th_arg;

/* The decision, bits and exclusion of draw i of a stream: shared by the threads and the count
 * they are checked against. */
static void draw(uint64_t *x, uint32_t *bits, bool *approve, bool *excluded, bool *capped)
{
    uint64_t r = xorshift(x);
    *bits = (uint32_t)(r & 0xffff); /* all 16 segments */
    *approve = (r >> 16) % 3 == 0;
    *excluded = (r >> 20) % 10 == 0;
    *capped = *excluded && (r >> 24) % 2 == 0;
}

static void *hammer(void *p)
{
    th_arg *a = p;
    uint64_t x = a->seed;
    for (int i = 0; i < a->n; i++) {
        uint32_t bits;
        bool approve, excluded, capped;
        draw(&x, &bits, &approve, &excluded, &capped);
        rd_monitor_obs o = {.answered = true,
                            .score = 0.25,
                            .decision = approve ? "approve" : "reject",
                            .latency_ms = 1,
                            .segments = bits,
                            .segment_set = a->g,
                            .excluded = excluded,
                            .capped = capped};
        rd_monitor_record(a->s, &o);
    }
    return NULL;
}

static void test_threads_exact(void **state)
{
    (void)state;
    rd_monitor *m = monitor(100);
    rd_monitor_series *s = rd_monitor_series_get(m, B, "", RD_ROLE_PRIMARY);
    const char *names[RD_MONITOR_MAX_SEGMENTS];
    char buf[RD_MONITOR_MAX_SEGMENTS][16];
    for (int i = 0; i < RD_MONITOR_MAX_SEGMENTS; i++) {
        snprintf(buf[i], sizeof buf[i], "seg%d", i);
        names[i] = buf[i];
    }
    rd_monitor_segments *g = segset(RD_MONITOR_MAX_SEGMENTS, names);
    rd_monitor_attach_segments(m, s, g);
    rd_monitor_mark *k0 = rd_monitor_mark_take(s);
    th_arg args[2] = {{s, g, 0x9e3779b97f4a7c15ULL, 40000}, {s, g, 0xd1b54a32d192ed03ULL, 40000}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
    rd_arena a;
    rd_arena_init(&a, 0);
    rd_monitor_stats st;
    for (int i = 0; i < 40; i++) { /* snapshots, marks, stats and re-attaching while they count */
        rd_monitor_tick(m, 1000 + i * 100);
        rd_monitor_attach_segments(m, s, g);
        rd_monitor_mark_free(rd_monitor_mark_take(s));
        assert_int_equal(rd_monitor_window_stats(s, 1000 + i * 100, &a, &st, NULL), RD_OK);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    uint64_t n = 0, approve = 0, excluded = 0, capped = 0, sn[RD_MONITOR_MAX_SEGMENTS] = {0},
             sa[RD_MONITOR_MAX_SEGMENTS] = {0};
    for (int th = 0; th < 2; th++) {
        uint64_t x = args[th].seed;
        for (int i = 0; i < args[th].n; i++) {
            uint32_t bits;
            bool ap, ex, cp;
            draw(&x, &bits, &ap, &ex, &cp);
            if (ex) {
                excluded++;
                capped += cp;
                continue;
            }
            n++;
            approve += ap;
            for (int j = 0; j < RD_MONITOR_MAX_SEGMENTS; j++)
                if (bits >> j & 1) {
                    sn[j]++;
                    sa[j] += ap;
                }
        }
    }
    assert_int_equal(rd_monitor_stats_since(s, k0, 0, &a, &st, NULL), RD_OK);
    assert_string_equal(st.segments_note, "");
    assert_int_equal(st.n, n);
    assert_int_equal(st.approve, approve);
    assert_int_equal(st.excluded, excluded);
    assert_int_equal(st.capped, capped);
    assert_int_equal(st.n + st.excluded, 80000);
    assert_int_equal(st.nsegments, RD_MONITOR_MAX_SEGMENTS);
    for (int j = 0; j < RD_MONITOR_MAX_SEGMENTS; j++) {
        assert_int_equal(st.segments[j].n, sn[j]);
        assert_int_equal(st.segments[j].approve, sa[j]);
    }
    rd_monitor_tick(m, 100000); /* the window, long after: everything since the oldest snapshot */
    assert_int_equal(rd_monitor_stats_since(s, NULL, 0, &a, &st, NULL), RD_OK);
    assert_int_equal(st.segments[5].n, sn[5]);
    rd_monitor_mark_free(k0);
    rd_arena_deinit(&a);
    rd_monitor_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_excluded_capped),      cmocka_unit_test(test_segment_counts),
        cmocka_unit_test(test_segments_new_refused), cmocka_unit_test(test_segment_marks),
        cmocka_unit_test(test_segment_window),       cmocka_unit_test(test_threads_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
