/* The hypothesis tests of src/lib/stats/tests.c on cases checked by hand or against values
 * printed by statsmodels 0.13 / scipy 1.10: the z-test's pooled statistic and unpooled CI,
 * Wilson's interval and the Newcombe and Wald intervals of a difference of proportions, Welch's
 * t and the delta-method lift, Holm with ties and NaN, chi-squared goodness of fit and the §2.6
 * sample size. tests/interop/stats_vs_scipy.py covers many random cases. */
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

/* The Wilson and two-proportion intervals against Debian's statsmodels 0.13.5, printed by
 * (/usr/bin/python3):
 *
 *   from statsmodels.stats.proportion import proportion_confint, confint_proportions_2indep
 *   for x, n, a in [(0, 1, 0.05), (1, 1, 0.05), (0, 20, 0.05), (20, 20, 0.05), (3, 7, 0.05),
 *                   (92, 131, 0.05), (620, 640, 0.05), (123457, 10000000, 0.05), (1, 3, 1e-6),
 *                   (37, 50, 0.5)]:
 *       lo, hi = proportion_confint(x, n, alpha=a, method="wilson")
 *       print(f"{{{x}, {n}, {a!r}, {float(lo)!r}, {float(hi)!r}}},")
 *   for x1, n1, x0, n0, a in [(92, 131, 620, 640, 0.05), (0, 10, 0, 12, 0.05), (5, 5, 9, 9, 0.05),
 *                             (0, 1, 1, 1, 0.05), (3, 7, 40, 50, 0.01),
 *                             (123457, 10000000, 120000, 9000000, 0.05), (56, 70, 48, 80, 0.2)]:
 *       for m in ("newcomb", "wald"):
 *           lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method=m, compare="diff", alpha=a)
 *           print(f"{{{x1}, {n1}, {x0}, {n0}, {a!r}, RD_CI_{'NEWCOMBE' if m == 'newcomb' else 'WALD'}, "
 *                 f"{float(lo)!r}, {float(hi)!r}}},")
 *
 * Compared at 1e-12 relative (a bound of exactly 0 must come out exactly 0, as it does when the
 * arithmetic is statsmodels' own). */
static const struct {
    uint64_t x, n;
    double alpha, lo, hi;
} wilson_cases[] = {
    {0, 1, 0.05, 0.0, 0.7934506856227627},
    {1, 1, 0.05, 0.2065493143772374, 1.0},
    {0, 20, 0.05, 0.0, 0.1611251580528194},
    {20, 20, 0.05, 0.8388748419471804, 0.9999999999999999},
    {3, 7, 0.05, 0.15821985525146964, 0.7495416354723428},
    {92, 131, 0.05, 0.6191346229115295, 0.773919564306045},
    {620, 640, 0.05, 0.952225602183865, 0.9796808349986718},
    {123457, 10000000, 0.05, 0.012277447334612742, 0.01241432732602577},
    {1, 3, 1e-06, 0.013032446669659248, 0.9498316618939795},
    {37, 50, 0.5, 0.6961287568575901, 0.7795432328707067},
};

static const struct {
    uint64_t x1, n1, x0, n0;
    double alpha;
    rd_ci_method m;
    double lo, hi;
} ci2_cases[] = {
    {92, 131, 620, 640, 0.05, RD_CI_NEWCOMBE, -0.35033073257864944, -0.19294911309823182},
    {92, 131, 620, 640, 0.05, RD_CI_WALD, -0.3459127890435502, -0.18700705828469416},
    {0, 10, 0, 12, 0.05, RD_CI_NEWCOMBE, -0.24249400665524096, 0.27753279986288926},
    {0, 10, 0, 12, 0.05, RD_CI_WALD, 0.0, 0.0},
    {5, 5, 9, 9, 0.05, RD_CI_NEWCOMBE, -0.43448246478317476, 0.29914504841954426},
    {5, 5, 9, 9, 0.05, RD_CI_WALD, 0.0, 0.0},
    {0, 1, 1, 1, 0.05, RD_CI_NEWCOMBE, -1.0, 0.12210872068194178},
    {0, 1, 1, 1, 0.05, RD_CI_WALD, -1.0, -1.0},
    {3, 7, 40, 50, 0.01, RD_CI_NEWCOMBE, -0.7011960618471023, 0.049113566616554805},
    {3, 7, 40, 50, 0.01, RD_CI_WALD, -0.874773713006064, 0.13191657014892105},
    {123457, 10000000, 120000, 9000000, 0.05, RD_CI_NEWCOMBE, -0.0010891459484619016, -0.0008861748105008102},
    {123457, 10000000, 120000, 9000000, 0.05, RD_CI_WALD, -0.001089118155625472, -0.0008861485110411978},
    {56, 70, 48, 80, 0.2, RD_CI_NEWCOMBE, 0.10430593976377465, 0.2896655946541277},
    {56, 70, 48, 80, 0.2, RD_CI_WALD, 0.10682746161744322, 0.2931725383825569},
};

static void test_wilson(void **state)
{
    (void)state;
    double lo, hi;
    for (size_t i = 0; i < sizeof wilson_cases / sizeof wilson_cases[0]; i++) {
        rd_wilson(wilson_cases[i].x, wilson_cases[i].n, wilson_cases[i].alpha, &lo, &hi);
        NEAR(lo, wilson_cases[i].lo, 1e-12);
        NEAR(hi, wilson_cases[i].hi, 1e-12);
    }
    /* outside the domain: NaN bounds, never a crash or a clipped guess */
    const struct {
        uint64_t x, n;
        double alpha;
    } bad[] = {{0, 0, 0.05}, {5, 4, 0.05}, {1, 2, 0.0}, {1, 2, 1.0}, {1, 2, -0.1}, {1, 2, 1.5}, {1, 2, NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lo = hi = 0.5;
        rd_wilson(bad[i].x, bad[i].n, bad[i].alpha, &lo, &hi);
        assert_true(isnan(lo) && isnan(hi));
    }
}

static void test_ci_2prop(void **state)
{
    (void)state;
    double lo, hi;
    for (size_t i = 0; i < sizeof ci2_cases / sizeof ci2_cases[0]; i++) {
        rd_ci_2prop(ci2_cases[i].x1, ci2_cases[i].n1, ci2_cases[i].x0, ci2_cases[i].n0, ci2_cases[i].alpha,
                    ci2_cases[i].m, &lo, &hi);
        NEAR(lo, ci2_cases[i].lo, 1e-12);
        NEAR(hi, ci2_cases[i].hi, 1e-12);
    }
    /* the Wald interval is rd_ztest_2prop's, to the bit: the same statsmodels formula */
    rd_ztest z;
    rd_ztest_2prop(400, 1000, 380, 1000, 0.05, &z);
    rd_ci_2prop(400, 1000, 380, 1000, 0.05, RD_CI_WALD, &lo, &hi);
    assert_true(lo == z.lo && hi == z.hi);
    const struct {
        uint64_t x1, n1, x0, n0;
        double alpha;
        rd_ci_method m;
    } bad[] = {{0, 0, 1, 2, 0.05, RD_CI_NEWCOMBE}, {1, 2, 0, 0, 0.05, RD_CI_WALD},
               {3, 2, 1, 2, 0.05, RD_CI_NEWCOMBE}, {1, 2, 3, 2, 0.05, RD_CI_WALD},
               {1, 2, 1, 2, 0.0, RD_CI_NEWCOMBE},  {1, 2, 1, 2, 1.0, RD_CI_WALD},
               {1, 2, 1, 2, NAN, RD_CI_NEWCOMBE},  {1, 2, 1, 2, 0.05, (rd_ci_method)7}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lo = hi = 0.5;
        rd_ci_2prop(bad[i].x1, bad[i].n1, bad[i].x0, bad[i].n0, bad[i].alpha, bad[i].m, &lo, &hi);
        assert_true(isnan(lo) && isnan(hi));
    }
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
        cmocka_unit_test(test_ztest),       cmocka_unit_test(test_wilson), cmocka_unit_test(test_ci_2prop),
        cmocka_unit_test(test_welch),       cmocka_unit_test(test_holm),   cmocka_unit_test(test_chisquare),
        cmocka_unit_test(test_sample_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
