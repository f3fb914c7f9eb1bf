/* The monitoring statistics (src/lib/stats/drift.c, dist.c) on cases checked by hand or against a
 * closed form: PSI with empty bins, the §2.3 noise-floor table, the chi-squared tail where it
 * has a closed form, the KS grid with tied quantiles, KS discrimination with tied scores, SRM
 * with a 0-weight arm, and the §2.7 confidence-sequence costs. tests/interop/monitor_stats.py
 * compares the same functions with scipy on many random cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "riskd/monitor.h"

static void near(double got, double want, double rel)
{
    if (!(fabs(got - want) <= rel * fmax(fabs(want), 1e-300)))
        fail_msg("got %.17g, want %.17g (relative %.3g)", got, want, fabs(got - want) / fabs(want));
}

static void test_psi(void **state)
{
    (void)state;
    /* e = (.5, .5, 0 -> eps), a = (.25, .75, 0 -> eps): the third bin adds nothing, the others
     * .25 ln 2 + .25 ln 1.5 = .25 ln 3. */
    double ref[] = {50, 50, 0}, cur[] = {25, 75, 0};
    near(rd_psi(ref, cur, 3, RD_PSI_EPS), 0.25 * log(3), 1e-15);
    /* A bin empty in the reference only: its share is eps there, no renormalisation. */
    double r2[] = {100, 0}, c2[] = {50, 50};
    near(rd_psi(r2, c2, 2, RD_PSI_EPS), (0.5 - 1) * log(0.5) + (0.5 - 1e-4) * log(0.5 / 1e-4), 1e-15);
    /* ... and in the current window only: the symmetric value. */
    near(rd_psi(c2, r2, 2, RD_PSI_EPS), (1 - 0.5) * log(2) + (1e-4 - 0.5) * log(1e-4 / 0.5), 1e-15);
    /* Shares, not counts: the same distribution at another scale gives 0. */
    double r3[] = {10, 20, 30}, c3[] = {1, 2, 3};
    assert_true(fabs(rd_psi(r3, c3, 3, RD_PSI_EPS)) < 1e-16);
    double zero[] = {0, 0};
    assert_true(isnan(rd_psi(zero, c2, 2, RD_PSI_EPS)));
    assert_true(isnan(rd_psi(r2, zero, 2, RD_PSI_EPS)));
}

/* §2.3: critical values at alpha 0.001, B = 10, N = 100,000. */
static void test_noise_floor(void **state)
{
    (void)state;
    static const struct {
        double m, want, tol;
    } table[] = {{200, 0.140, 0.0005},
                 {500, 0.056, 0.0005},
                 {1000, 0.028, 0.0005},
                 {5000, 0.0059, 0.00005},
                 {20000, 0.0017, 0.00005}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        double v = rd_psi_noise_floor(100000, table[i].m, 10, RD_PSI_ALPHA);
        if (!(fabs(v - table[i].want) <= table[i].tol))
            fail_msg("M = %g: %.6f, the table says %g", table[i].m, v, table[i].want);
    }
    near(rd_psi_noise_floor(100000, 1000, 10, 0.001), (1e-5 + 1e-3) * 27.877164871256575, 1e-13);
    assert_true(isnan(rd_psi_noise_floor(100000, 0, 10, 0.001)));
    assert_true(isnan(rd_psi_noise_floor(100000, 1000, 1, 0.001)));
    assert_true(isnan(rd_psi_noise_floor(0, 1000, 10, 0.001)));
}

static void test_chi2(void **state)
{
    (void)state;
    /* df 2: Q(x) = exp(-x/2); df 1: Q(x) = erfc(sqrt(x/2)). */
    near(rd_chi2_sf(10, 2), exp(-5), 1e-14);
    near(rd_chi2_sf(700, 2), exp(-350), 1e-13);
    near(rd_chi2_sf(3, 1), erfc(sqrt(1.5)), 1e-14);
    near(rd_chi2_isf(1e-6, 2), -2 * log(1e-6), 1e-14);
    near(rd_chi2_isf(0.75, 2), -2 * log(0.75), 1e-14);
    near(rd_chi2_isf(1e-200, 2), -2 * log(1e-200), 1e-14);
    near(rd_chi2_isf(0.001, 9), 27.877164871256575, 1e-14); /* scipy.stats.chi2.isf */
    near(rd_chi2_sf(rd_chi2_isf(0.05, 3.5), 3.5), 0.05, 1e-13);
    near(rd_chi2_sf(rd_chi2_isf(1 - 1e-9, 0.5), 0.5), 1 - 1e-9, 1e-15);
    /* a large df: the Newton iteration on ln Q still lands (GSL's inverse, used before, did not) */
    near(rd_chi2_sf(rd_chi2_isf(0.001, 1e6), 1e6), 0.001, 1e-9);
    assert_true(rd_chi2_sf(0, 3) == 1);
    assert_true(rd_chi2_sf(-1, 3) == 1);
    assert_true(rd_chi2_sf((double)INFINITY, 3) == 0);
    assert_true(rd_chi2_sf(1e6, 3) == 0);
    assert_true(rd_chi2_isf(0, 3) == (double)INFINITY);
    assert_true(rd_chi2_isf(1, 3) == 0);
    assert_true(isnan(rd_chi2_sf(1, 0)));
    assert_true(isnan(rd_chi2_sf(1, -2)));
    assert_true(isnan(rd_chi2_sf((double)NAN, 2)));
    assert_true(isnan(rd_chi2_isf(1.5, 3)));
    assert_true(isnan(rd_chi2_isf(-0.1, 3)));
    assert_true(isnan(rd_chi2_isf(0.5, (double)INFINITY)));
}

/* Quantiles with ties: 1, 2, 2, 2, 3, 5, 5, 8 -> u = 1, 2, 3, 5, 8 with the reference ECDF
 * 1/8, 4/8, 5/8, 7/8, 1 at them. */
static void test_ks_grid(void **state)
{
    (void)state;
    double q[] = {1, 2, 2, 2, 3, 5, 5, 8};
    rd_ks_grid g;
    rd_err err;
    assert_int_equal(rd_ks_grid_init(&g, q, 8, &err), RD_OK);
    assert_int_equal(g.k, 8);
    assert_int_equal(g.j, 5);
    double u[] = {1, 2, 3, 5, 8}, cdf[] = {0.125, 0.5, 0.625, 0.875, 1};
    for (size_t i = 0; i < 5; i++) {
        assert_true(g.u[i] == u[i]);
        assert_true(g.cdf[i] == cdf[i]);
    }
    static const struct {
        double x;
        size_t cell;
    } cells[] = {{0.5, 0}, {1, 1}, {1.5, 2}, {2, 3},  {2.5, 4},    {3, 5},     {4, 6},
                 {5, 7},   {6, 8}, {8, 9},   {9, 10}, {-1e300, 0}, {1e300, 10}};
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
        if (rd_ks_cell(&g, cells[i].x) != cells[i].cell)
            fail_msg("x = %g: cell %zu, want %zu", cells[i].x, rd_ks_cell(&g, cells[i].x), cells[i].cell);
    assert_int_equal(rd_ks_cell(&g, (double)INFINITY), 10);
    assert_int_equal(rd_ks_cell(&g, -(double)INFINITY), 0);
    assert_true(rd_ks_cell(&g, (double)NAN) == SIZE_MAX);

    /* Current 2, 2, 2, 2: D at 2 = |4/8 - 1|. */
    uint64_t c1[11] = {0};
    c1[3] = 4;
    assert_true(rd_ks_stat(&g, c1) == 0.5);
    /* Current 1.5, 1.5, 6, 9: just before 2 the reference is at 1/8 and the current at 2/4
     * (.375), at 5 7/8 against 2/4 (.375); at no point more. */
    uint64_t c2[11] = {0};
    c2[2] = 2;
    c2[8] = 1;
    c2[10] = 1;
    near(rd_ks_stat(&g, c2), 0.375, 1e-15);
    /* The reference itself: D 0. */
    uint64_t c3[11] = {0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0};
    assert_true(rd_ks_stat(&g, c3) == 0);
    uint64_t none[11] = {0};
    assert_true(isnan(rd_ks_stat(&g, none)));
    rd_ks_grid_free(&g);
    assert_null(g.u);

    /* One quantile; refusals. */
    double one[] = {7};
    assert_int_equal(rd_ks_grid_init(&g, one, 1, &err), RD_OK);
    assert_int_equal(g.j, 1);
    assert_int_equal(rd_ks_cell(&g, 7), 1);
    rd_ks_grid_free(&g);
    double unsorted[] = {1, 3, 2};
    assert_int_equal(rd_ks_grid_init(&g, unsorted, 3, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not ascending"));
    double inf[] = {1, (double)INFINITY};
    assert_int_equal(rd_ks_grid_init(&g, inf, 2, &err), RD_EINVAL);
    assert_non_null(strstr(err.msg, "not a finite number"));
    assert_int_equal(rd_ks_grid_init(&g, one, 0, &err), RD_EINVAL);

    /* §2.4: N = 100,000, M = 5,000, alpha 0.001 -> 0.028; c(alpha) as tabled. */
    near(rd_ks_critical(100000, 5000, 0.001), 0.028, 0.01);
    near(rd_ks_critical(1, 1, 0.05) / sqrt(2), 1.3581, 1e-4);
    near(rd_ks_critical(1, 1, 0.01) / sqrt(2), 1.6276, 1e-4);
    near(rd_ks_critical(1, 1, 0.001) / sqrt(2), 1.9495, 1e-4);
    assert_true(isnan(rd_ks_critical(0, 10, 0.05)));
}

static void test_ks_discrimination(void **state)
{
    (void)state;
    /* bad .9 .8 .5, good .1 .5 .3 .2 (a tie at .5 across the classes); label 2 and a NaN
     * score are skipped. At .3: bad 0, good 3/4. */
    double s[] = {0.9, 0.1, 0.8, 0.5, 0.5, 0.3, 0.2, 0.05, (double)NAN};
    int l[] = {1, 0, 1, 1, 0, 0, 0, 2, 1};
    near(rd_ks_discrimination(s, l, 9), 0.75, 1e-15);
    /* Perfect separation: 1. */
    double s2[] = {0.1, 0.2, 0.8, 0.9};
    int l2[] = {0, 0, 1, 1};
    assert_true(rd_ks_discrimination(s2, l2, 4) == 1);
    /* All scores tied: 0. */
    double s3[] = {0.5, 0.5, 0.5};
    int l3[] = {0, 1, 0};
    assert_true(rd_ks_discrimination(s3, l3, 3) == 0);
    int l4[] = {0, 0, 0};
    assert_true(isnan(rd_ks_discrimination(s3, l4, 3)));
    assert_true(isnan(rd_ks_discrimination(s3, l4, 0)));
}

static void test_srm(void **state)
{
    (void)state;
    rd_srm_result r;
    /* Units in a 0-weight arm fail by themselves; the weighted arms alone are in ratio. */
    uint64_t o1[] = {500, 500, 3};
    double w1[] = {50, 50, 0};
    rd_srm(o1, w1, 3, RD_SRM_ALPHA, &r);
    assert_int_equal(r.verdict, RD_VERDICT_FAIL);
    assert_non_null(strstr(r.why, "arm 2 has weight 0 but 3 units"));
    assert_true(r.chi2 == 0);
    assert_true(r.p == 1);
    /* A 0-weight arm with no units does not count in df: 1000 vs 850 at 1:1 is df 1,
     * chi2 = 2 * 75^2 / 925, p = erfc(sqrt(chi2 / 2)) = 4.88e-4 < 0.001. */
    uint64_t o2[] = {1000, 850, 0};
    double w2[] = {1, 1, 0};
    rd_srm(o2, w2, 3, RD_SRM_ALPHA, &r);
    near(r.chi2, 2 * 75.0 * 75.0 / 925.0, 1e-14);
    near(r.p, erfc(sqrt(r.chi2 / 2)), 1e-13);
    assert_int_equal(r.verdict, RD_VERDICT_FAIL);
    assert_non_null(strstr(r.why, "df 1"));
    /* Three arms, df 2: p = exp(-chi2 / 2). 90:5:5 weights, in ratio. */
    uint64_t o3[] = {900, 50, 50};
    double w3[] = {90, 5, 5};
    rd_srm(o3, w3, 3, RD_SRM_ALPHA, &r);
    assert_true(r.chi2 == 0);
    assert_int_equal(r.verdict, RD_VERDICT_PASS);
    uint64_t o3b[] = {900, 70, 30};
    rd_srm(o3b, w3, 3, RD_SRM_ALPHA, &r);
    near(r.chi2, 0 + 400.0 / 50 + 400.0 / 50, 1e-14);
    near(r.p, exp(-8), 1e-13);
    assert_int_equal(r.verdict, RD_VERDICT_FAIL);
    /* A weighted arm under 8 units: inconclusive, whatever p. */
    uint64_t o4[] = {1000, 7};
    double w4[] = {1, 1};
    rd_srm(o4, w4, 2, RD_SRM_ALPHA, &r);
    assert_int_equal(r.verdict, RD_VERDICT_INCONCLUSIVE);
    assert_true(r.p < 1e-100);
    assert_non_null(strstr(r.why, "arm 1 has 7 units, fewer than 8"));
    uint64_t o5[] = {8, 8};
    rd_srm(o5, w4, 2, RD_SRM_ALPHA, &r);
    assert_int_equal(r.verdict, RD_VERDICT_PASS);
    /* No units at all; a bad weight. */
    uint64_t o6[] = {0, 0};
    rd_srm(o6, w4, 2, RD_SRM_ALPHA, &r);
    assert_int_equal(r.verdict, RD_VERDICT_INCONCLUSIVE);
    assert_true(isnan(r.chi2));
    double w7[] = {1, -1};
    rd_srm(o5, w7, 2, RD_SRM_ALPHA, &r);
    assert_int_equal(r.verdict, RD_VERDICT_INCONCLUSIVE);
    assert_non_null(strstr(r.why, "arm 1: weight -1"));
    /* One weighted arm: nothing to compare. */
    uint64_t o8[] = {50, 0};
    double w8[] = {1, 0};
    rd_srm(o8, w8, 2, RD_SRM_ALPHA, &r);
    assert_int_equal(r.verdict, RD_VERDICT_PASS);
    assert_string_equal(rd_verdict_name(RD_VERDICT_PASS), "pass");
    assert_string_equal(rd_verdict_name(RD_VERDICT_FAIL), "fail");
    assert_string_equal(rd_verdict_name(RD_VERDICT_INCONCLUSIVE), "inconclusive");
}

/* §2.7: for N* = 5,000, at N = N* the one-sided bound is 2.78 standard errors (1.645 fixed),
 * the two-sided one 3.04 (1.96). */
static void test_confidence_sequence(void **state)
{
    (void)state;
    double n = 5000, se = 1 / sqrt(n); /* se * sqrt(n) = 1: the half-width in standard errors * se */
    double one = rd_cs_halfwidth(se, n, n, 0.05, true), two = rd_cs_halfwidth(se, n, n, 0.05, false);
    assert_true(fabs(one / se - 2.78) < 0.005);
    assert_true(fabs(two / se - 3.04) < 0.005);
    /* The formula by hand: a = 0.1, l = -2 ln a, rho^2 = (l + ln(l + 1)) / n. */
    double l = -2 * log(0.1), r2 = (l + log(l + 1)) / n, nr = n * r2 + 1;
    near(one, se * sqrt(n) * sqrt(2 * nr / (n * n * r2) * log(1 + sqrt(nr) / 0.1)), 1e-15);
    assert_true(rd_cs_halfwidth(0, n, n, 0.05, true) == 0);
    assert_true(isnan(rd_cs_halfwidth(se, 0, n, 0.05, true)));
    assert_true(isnan(rd_cs_halfwidth(se, n, 0, 0.05, true)));
    assert_true(isnan(rd_cs_halfwidth(se, n, n, 0.5, true))); /* 2 alpha = 1 */
    assert_true(isnan(rd_cs_halfwidth(-1, n, n, 0.05, true)));

    rd_seq_result r;
    /* 6% bad against 3% over 1,000 each: the lower bound clears 0. */
    rd_seq_rate_harm(60, 1000, 30, 1000, 5000, 0.05, &r);
    near(r.delta, 0.03, 1e-12);
    near(r.se, sqrt(0.06 * 0.94 / 1000 + 0.03 * 0.97 / 1000), 1e-15);
    near(r.halfwidth, rd_cs_halfwidth(r.se, 2000, 5000, 0.05, true), 1e-15);
    near(r.lower, 0.003314122685901408, 1e-9);
    assert_int_equal(r.verdict, RD_VERDICT_FAIL);
    /* 5% against 4%: not enough. */
    rd_seq_rate_harm(50, 1000, 40, 1000, 5000, 0.05, &r);
    assert_true(r.lower < 0);
    assert_int_equal(r.verdict, RD_VERDICT_PASS);
    /* nstar 0: the default 5,000. */
    rd_seq_result d;
    rd_seq_rate_harm(50, 1000, 40, 1000, 0, 0.05, &d);
    assert_true(d.halfwidth == r.halfwidth);
    rd_seq_rate_harm(5, 10, 0, 0, 5000, 0.05, &r);
    assert_int_equal(r.verdict, RD_VERDICT_INCONCLUSIVE);
    assert_true(isnan(r.delta));
    rd_seq_rate_harm(11, 10, 0, 10, 5000, 0.05, &r);
    assert_int_equal(r.verdict, RD_VERDICT_INCONCLUSIVE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_noise_floor),
        cmocka_unit_test(test_chi2),
        cmocka_unit_test(test_ks_grid),
        cmocka_unit_test(test_ks_discrimination),
        cmocka_unit_test(test_srm),
        cmocka_unit_test(test_confidence_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
