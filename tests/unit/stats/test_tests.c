/* The hypothesis tests of src/lib/stats/tests.c on cases checked by hand or against values
 * printed by statsmodels 0.13 / scipy 1.10: the z-test's pooled statistic and unpooled CI,
 * Welch's t and the delta-method lift, Holm with ties and NaN, chi-squared goodness of fit and
 * the §2.6 sample size. tests/interop/stats_vs_scipy.py covers many random cases. */
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

static void test_ztest(void **state)
{
    (void)state;
    rd_ztest z;
    /* statsmodels: proportions_ztest([400, 380], [1000, 1000]) -> z 0.9168911414554787,
       p 0.35919968642903977 */
    rd_ztest_2prop(400, 1000, 380, 1000, 0.05, &z);
    assert_true(z.ok && z.enough);
    NEAR(z.diff, 0.02, 1e-12);
    NEAR(z.z, 0.9168911414554787, 1e-13);
    NEAR(z.p, 0.35919968642903977, 1e-13);
    double se = sqrt(0.4 * 0.6 / 1000 + 0.38 * 0.62 / 1000);
    NEAR(z.se_unpooled, se, 1e-14);
    NEAR(z.lo, 0.02 - 1.959963984540054 * se, 1e-13);
    NEAR(z.hi, 0.02 + 1.959963984540054 * se, 1e-13);
    /* zero successes in both arms: no variance, z and p NaN, the rest defined */
    rd_ztest_2prop(0, 50, 0, 60, 0.05, &z);
    assert_true(z.ok && !z.enough && isnan(z.z) && isnan(z.p) && z.diff == 0);
    rd_ztest_2prop(5, 4, 1, 10, 0.05, &z);
    assert_false(z.ok);
    assert_true(isnan(z.diff));
    rd_ztest_2prop(1, 10, 1, 0, 0.05, &z);
    assert_false(z.ok);
    /* 9 failures in an arm: not enough for a report */
    rd_ztest_2prop(91, 100, 50, 100, 0.05, &z);
    assert_true(z.ok && !z.enough);
}

static void test_welch(void **state)
{
    (void)state;
    rd_welch w;
    /* scipy: ttest_ind_from_stats(10.5, sqrt(4), 30, 10, sqrt(9), 40, equal_var=False) */
    rd_welch_t(10.5, 4, 30, 10, 9, 40, 0.05, &w);
    assert_true(w.ok);
    double vn1 = 4.0 / 30, vn0 = 9.0 / 40, se = sqrt(vn1 + vn0);
    double df = (vn1 + vn0) * (vn1 + vn0) / (vn1 * vn1 / 29 + vn0 * vn0 / 39);
    NEAR(w.se, se, 1e-15);
    NEAR(w.df, df, 1e-14);
    NEAR(w.t, 0.5 / se, 1e-15);
    NEAR(w.p, 2 * rd_t_sf(0.5 / se, df), 1e-15);
    NEAR(w.hi - w.diff, -rd_t_ppf(0.025, df) * se, 1e-14);
    NEAR(w.rel, 0.05, 1e-14);
    NEAR(w.rel_se, sqrt(9 * 10.5 * 10.5 / (1e4 * 40) + 4 / (100.0 * 30)), 1e-14);
    /* both variances 0: df 1 as scipy; a difference gives t = inf and p 0 */
    rd_welch_t(2, 0, 5, 1, 0, 5, 0.05, &w);
    assert_true(w.ok && w.df == 1 && isinf(w.t) && w.p == 0);
    rd_welch_t(2, 1, 1, 1, 1, 5, 0.05, &w);
    assert_false(w.ok);
    rd_welch_t(2, 1, 5, 0, 1, 5, 0.05, &w);
    assert_true(w.ok && isnan(w.rel) && isnan(w.rel_lo));
}

static void test_holm(void **state)
{
    (void)state;
    /* statsmodels multipletests([0.01, 0.04, 0.03, 0.005], method="holm")[1]
       -> [0.03, 0.06, 0.06, 0.02] */
    double p[] = {0.01, 0.04, 0.03, 0.005}, adj[4];
    rd_holm(p, 4, adj);
    NEAR(adj[0], 0.03, 1e-15);
    NEAR(adj[1], 0.06, 1e-15);
    NEAR(adj[2], 0.06, 1e-15);
    NEAR(adj[3], 0.02, 1e-15);
    /* NaN stays NaN and does not count; in place; capped at 1 */
    double q[] = {0.5, (double)NAN, 0.2, 0.9};
    rd_holm(q, 4, q);
    NEAR(q[2], 0.6, 1e-15);
    NEAR(q[0], 1.0, 0);
    NEAR(q[3], 1.0, 0);
    assert_true(isnan(q[1]));
    /* ties: both get the larger multiplier */
    double t[] = {0.01, 0.01, 0.5}, ta[3];
    rd_holm(t, 3, ta);
    NEAR(ta[0], 0.03, 1e-15);
    NEAR(ta[1], 0.03, 1e-15);
    rd_holm(t, 0, ta);
}

static void test_chisquare(void **state)
{
    (void)state;
    double obs[] = {16, 18, 16, 14, 12, 12}, chi2, p;
    /* scipy.stats.chisquare([16, 18, 16, 14, 12, 12]) -> (2.0, 0.8491450360846096) */
    rd_chisquare(obs, NULL, 6, 0, &chi2, &p);
    NEAR(chi2, 2.0, 1e-15);
    NEAR(p, 0.8491450360846096, 1e-14);
    /* expected of another total: scaled (halved here), the same statistic */
    double e2[] = {32, 32, 32, 32, 32, 32};
    rd_chisquare(obs, e2, 6, 0, &chi2, &p);
    NEAR(chi2, 2.0, 1e-15);
    rd_chisquare(obs, NULL, 6, 5, &chi2, &p);
    assert_true(isnan(p));
}

/* §2.6: 40% vs 38% at alpha 0.05 and power 0.8 needs 9,336 per arm. */
static void test_sample_size(void **state)
{
    (void)state;
    assert_true(rd_sample_size_2prop(0.38, 0.40, 0.05, 0.8) == 9336);
    assert_true(rd_sample_size_2prop(0.40, 0.38, 0.05, 0.8) == 9336);
    assert_true(isnan(rd_sample_size_2prop(0.4, 0.4, 0.05, 0.8)));
    assert_true(isnan(rd_sample_size_2prop(0, 0.4, 0.05, 0.8)));
    /* means: 2 (1.959964 + 0.841621)^2 = 15.7 units per arm for delta = sd */
    assert_true(rd_sample_size_mean(1, 1, 0.05, 0.8) == 16);
    assert_true(rd_sample_size_mean(0.1, 1, 0.05, 0.8) == 1570);
    assert_true(isnan(rd_sample_size_mean(0, 1, 0.05, 0.8)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ztest),     cmocka_unit_test(test_welch),       cmocka_unit_test(test_holm),
        cmocka_unit_test(test_chisquare), cmocka_unit_test(test_sample_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
