/* The special functions and distributions of src/lib/stats (special.c, dist.c, kolmogorov.c)
 * where they have a closed form: P(1, x) = 1 - e^-x, I_x(a, 1) = x^a, the Cauchy and df = 2
 * Student t, chi-squared with 2 df, the one-sample KS statistic for n = 1, and the edges of the
 * domain (NaN, never an abort). tests/interop/stats_vs_scipy.py compares with scipy. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "riskd/stats.h"

#define NEAR(got, want, rel)                                                                                 \
    do {                                                                                                     \
        double g_ = (got), w_ = (want);                                                                      \
        if (!(fabs(g_ - w_) <= (rel)*fmax(fabs(w_), 1e-300)))                                                \
            fail_msg("%s = %.17g, want %.17g", #got, g_, w_);                                                \
    } while (0)

static void test_special(void **state)
{
    (void)state;
    for (double x = 0.01; x < 50; x *= 1.7) {
        NEAR(rd_gamma_p(1, x), -expm1(-x), 1e-14);
        NEAR(rd_gamma_q(1, x), exp(-x), 1e-14);
    }
    for (double x = 0.05; x < 1; x += 0.1) {
        NEAR(rd_beta_inc(2.5, 1, x), pow(x, 2.5), 1e-14);
        NEAR(rd_beta_inc(1, 1, x), x, 1e-15);
    }
    assert_true(isnan(rd_gamma_p(-1, 1)) && isnan(rd_gamma_q(1, -1)) && isnan(rd_beta_inc(1, 1, 1.5)));
    assert_true(isnan(rd_gamma_p((double)NAN, 1)) && isnan(rd_beta_inc(0, 1, 0.5)));
    assert_true(rd_gamma_p(3, 0) == 0 && rd_gamma_q(3, (double)INFINITY) == 0);
}

static void test_normal(void **state)
{
    (void)state;
    NEAR(rd_norm_cdf(0), 0.5, 0);
    NEAR(rd_norm_ppf(0.975), 1.959963984540054, 1e-15);
    NEAR(rd_norm_isf(0.025), 1.959963984540054, 1e-15);
    NEAR(rd_norm_sf(1.959963984540054), 0.025, 1e-15);
    /* far tail: sf(37) ~ 5.7e-300 still relative-accurate; sf(40) underflows to 0 as scipy's */
    NEAR(rd_norm_sf(37), 5.7255712225239266e-300, 1e-13);
    assert_true(rd_norm_sf(40) < 1e-320);
    assert_true(isinf(rd_norm_ppf(0)) && isnan(rd_norm_ppf(1.5)) && isnan(rd_norm_cdf((double)NAN)));
}

static void test_student(void **state)
{
    (void)state;
    for (double x = -30; x < 30; x += 1.3) {
        NEAR(rd_t_cdf(x, 1), 0.5 + atan(x) / M_PI, 1e-13);
        NEAR(rd_t_cdf(x, 2), 0.5 + x / (2 * sqrt(2 + x * x)), 1e-13);
    }
    NEAR(rd_t_sf(-1e30, 1), 1, 0);
    NEAR(rd_t_cdf(-1e30, 1), 1 / (M_PI * 1e30), 1e-13); /* Cauchy tail */
    NEAR(rd_t_ppf(0.975, 1), 12.706204736174698, 1e-13);
    NEAR(rd_t_ppf(0.025, 2), -0.95 / sqrt(2 * 0.025 * 0.975), 1e-13); /* (2p - 1) / sqrt(2p(1 - p)) */
    /* a huge df is the normal, continuously */
    NEAR(rd_t_cdf(-1.5, 1e12), rd_norm_cdf(-1.5), 1e-11);
    NEAR(rd_t_cdf(-1.5, (double)INFINITY), rd_norm_cdf(-1.5), 0);
    assert_true(isnan(rd_t_cdf(1, 0)) && isnan(rd_t_ppf(2, 3)) && rd_t_ppf(0.5, 7) == 0);
}

static void test_chi2(void **state)
{
    (void)state;
    for (double x = 0.1; x < 1400; x *= 2.1)
        NEAR(rd_chi2_sf(x, 2), exp(-x / 2), 1e-13);
    NEAR(rd_chi2_isf(0.05, 2), -2 * log(0.05), 1e-14);
    NEAR(rd_chi2_isf(1e-300, 2), -2 * log(1e-300), 1e-14);
    NEAR(rd_chi2_cdf(rd_chi2_isf(0.9, 0.3), 0.3), 0.1, 1e-13);
    assert_true(rd_chi2_sf(-1, 3) == 1 && isnan(rd_chi2_isf(0.5, 0)) && isinf(rd_chi2_isf(0, 4)));
}

static void test_kolmogorov(void **state)
{
    (void)state;
    NEAR(rd_kolmogorov_sf(1), 0.26999967167735456, 1e-14);
    NEAR(rd_kolmogorov_sf(0.5), 0.9639452436648751, 1e-14);
    assert_true(rd_kolmogorov_sf(0) == 1 && isnan(rd_kolmogorov_sf((double)NAN)));
    /* n = 1: D_1 = max(u, 1 - u) >= 1/2, P(D_1 > d) = 2 (1 - d) */
    NEAR(rd_kstwo_sf(0.7, 1), 0.6, 1e-15);
    assert_true(rd_kstwo_sf(0.3, 1) == 1 && rd_kstwo_sf(1, 5) == 0 && isnan(rd_kstwo_sf(0.3, 2.5)));
}

static void test_ks_2samp(void **state)
{
    (void)state;
    double x[] = {1, 2, 3, 4, (double)NAN}, y[] = {1, 2, 3, 4}, d, p;
    assert_int_equal(rd_ks_2samp(x, 5, y, 4, &d, &p, NULL), RD_OK);
    assert_true(d == 0 && p == 1);
    /* disjoint samples of 3 and 3: D = 1, p = 2 / C(6, 3) = 0.1 */
    double a[] = {1, 2, 3}, b[] = {4, 5, 6};
    assert_int_equal(rd_ks_2samp(a, 3, b, 3, &d, &p, NULL), RD_OK);
    NEAR(d, 1, 0);
    NEAR(p, 0.1, 1e-15);
    NEAR(rd_ks_2samp_p(1, 3, 3), 0.1, 1e-15);
    double nan1[] = {(double)NAN};
    rd_err err;
    assert_int_equal(rd_ks_2samp(nan1, 1, b, 3, &d, &p, &err), RD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special), cmocka_unit_test(test_normal),     cmocka_unit_test(test_student),
        cmocka_unit_test(test_chi2),    cmocka_unit_test(test_kolmogorov), cmocka_unit_test(test_ks_2samp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
