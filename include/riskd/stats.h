/* Statistics (shared/reference/rollout-monitoring.md §2.3-2.7): the distribution functions
 * and the tests every report, monitor and rollout gate of riskd uses, each checked against
 * scipy 1.10 and statsmodels 0.13 to 1e-12 relative (tests/interop/stats_vs_scipy.py), or the
 * documented reason where scipy itself is less accurate.
 *
 *   distributions    normal, Student t, chi-squared, Kolmogorov (limit and finite n), on own
 *                    regularized incomplete gamma and beta functions
 *   tests            two-proportion z, Wilson and Newcombe intervals, Welch t, chi-squared
 *                    goodness of fit (SRM), two-sample KS (as scipy.stats.ks_2samp),
 *                    Holm-Bonferroni, PSI with its noise floor, asymptotic confidence
 *                    sequences, sample sizes
 *
 * Every function is pure and thread-safe and never aborts: an argument outside a function's
 * domain gives NaN (or RD_EINVAL, or an INCONCLUSIVE verdict saying why). */
#ifndef RISKD_STATS_H
#define RISKD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskd/err.h"

/* ------------------------------------------------------------------ special functions */

/* Regularized incomplete gamma P(a, x) and Q(a, x) = 1 - P (a > 0, x >= 0), and the
 * regularized incomplete beta I_x(a, b) (a, b > 0, x in [0, 1]); NaN outside. */
RD_API double rd_gamma_p(double a, double x);
RD_API double rd_gamma_q(double a, double x);
RD_API double rd_beta_inc(double a, double b, double x);

/* ------------------------------------------------------------------ distributions */

/* Standard normal: cdf, survival (accurate far in the tail: sf(40) ~ 3.7e-350 underflows to
 * subnormals and 0 as scipy's does), and the quantile ppf (isf(p) = -ppf(p)). */
RD_API double rd_norm_cdf(double x);
RD_API double rd_norm_sf(double x);
RD_API double rd_norm_ppf(double p);
RD_API double rd_norm_isf(double p);
/* Student t with df > 0 (scipy.stats.t): cdf, sf, and the quantile. */
RD_API double rd_t_cdf(double x, double df);
RD_API double rd_t_sf(double x, double df);
RD_API double rd_t_ppf(double p, double df);
/* Chi-squared with df > 0: cdf, sf (scipy.stats.chi2) and the inverse survival function. */
RD_API double rd_chi2_cdf(double x, double df);
RD_API double rd_chi2_sf(double x, double df);
RD_API double rd_chi2_isf(double p, double df);
/* The Kolmogorov distribution (scipy.special.kolmogorov: the limit of sqrt(n) D_n's survival)
 * and the finite-n two-sided one-sample statistic D_n (scipy.stats.kstwo.sf(d, n)). */
RD_API double rd_kolmogorov_sf(double x);
RD_API double rd_kstwo_sf(double d, double n);

/* ------------------------------------------------------------------ tests */

/* Two-proportion z-test (statsmodels proportions_ztest, pooled; two-sided): arm 1 x1 of n1
 * against arm 0 x0 of n0. diff = p1 - p0; its CI at 1 - alpha with the unpooled standard
 * error. ok false (fields NaN) when n0 or n1 is 0 or x > n; z and p are NaN when the pooled
 * rate is 0 or 1 (no variance). enough: every arm has >= 10 successes and >= 10 failures
 * (§2.6: below that a report says "insufficient data"). */
typedef struct rd_ztest {
    bool ok, enough;
    double p1, p0, diff, se_unpooled, lo, hi, z, p;
} rd_ztest;
RD_API void rd_ztest_2prop(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0, double alpha, rd_ztest *out);

/* Wilson score interval of x successes of n at level 1 - alpha (statsmodels
 * proportion_confint(x, n, alpha, method="wilson"), the same arithmetic in the same order, so
 * the bounds agree bit for bit: tests/interop/stats_vs_scipy.py). Never clipped: the bounds
 * lie in [0, 1] but for rounding. lo and hi are NaN when n is 0, x > n, or alpha is outside
 * (0, 1). */
RD_API void rd_wilson(uint64_t x, uint64_t n, double alpha, double *lo, double *hi);

/* The interval of p1 - p0 (arm 1 x1 of n1 against arm 0 x0 of n0) at level 1 - alpha, as
 * statsmodels confint_proportions_2indep(x1, n1, x0, n0, method=..., compare="diff", alpha):
 *   RD_CI_NEWCOMBE  "newcomb", statsmodels' default: Newcombe's hybrid score interval, built
 *                   from the two arms' Wilson intervals; sound at small n and rates near 0 or 1
 *   RD_CI_WALD      "wald": diff -/+ z sqrt(p1 q1 / n1 + p0 q0 / n0), the interval
 *                   rd_ztest_2prop gives, which collapses to a point when both rates are 0 or 1
 * lo and hi are NaN when n1 or n0 is 0, x1 > n1 or x0 > n0, alpha is outside (0, 1), or the
 * method is not one of these. */
typedef enum rd_ci_method { RD_CI_NEWCOMBE = 0, RD_CI_WALD } rd_ci_method;
RD_API void rd_ci_2prop(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0, double alpha, rd_ci_method m,
                        double *lo, double *hi);

/* Welch's t (scipy.stats.ttest_ind(equal_var=False), two-sided) of arm 1 (mean m1, sample
 * variance v1 with ddof 1, n1 units) against arm 0: t, Welch-Satterthwaite df, p, the
 * difference m1 - m0 with its CI at 1 - alpha (t quantile), and the relative lift
 * (m1 - m0) / m0 with its delta-method CI (GrowthBook's details.mdx eqs 1-2; NaN when m0 is 0).
 * ok false when an arm has fewer than 2 units or a variance is not a number. */
typedef struct rd_welch {
    bool ok;
    double diff, se, t, df, p, lo, hi, rel, rel_se, rel_lo, rel_hi;
} rd_welch;
RD_API void rd_welch_t(double m1, double v1, double n1, double m0, double v0, double n0, double alpha,
                       rd_welch *out);

/* Chi-squared goodness of fit (scipy.stats.chisquare): observed counts against expected
 * (scaled to the observed total when their sums differ), df = k - 1 - ddof. */
RD_API void rd_chisquare(const double *observed, const double *expected, size_t k, int ddof, double *chi2,
                         double *p);

/* Holm-Bonferroni (statsmodels multipletests(method="holm")): adjusted p-values of n p-values
 * into adj (adj may be p). NaN p-values are left NaN and not counted. */
RD_API void rd_holm(const double *p, size_t n, double *adj);

/* Two-sample KS (scipy.stats.ks_2samp, two-sided, mode "auto": exact when both samples hold at
 * most 10,000 values, else asymptotic, as scipy does): the statistic and p-value of x (n) and
 * y (m), NaN values ignored. RD_EINVAL when a sample is empty; RD_ENOMEM. */
RD_API int rd_ks_2samp(const double *x, size_t n, const double *y, size_t m, double *d, double *p,
                       rd_err *err);
/* The same from the statistic d and the sample sizes alone (what a caller that counted on a grid
 * has). */
RD_API double rd_ks_2samp_p(double d, uint64_t n, uint64_t m);

/* Units per arm to detect the difference between rates p0 and p1 (two-sided alpha, power), the
 * classic formula (Fleiss, no continuity correction): the null's pooled variance under the
 * critical value, the arms' own variances under the power term,
 * (z_{1-alpha/2} sqrt(2 pbar (1 - pbar)) + z_power sqrt(p0 (1 - p0) + p1 (1 - p1)))^2 / (p1 - p0)^2,
 * rounded up (rollout-monitoring.md §2.6: 40% vs 38% -> 9,336; the cruder
 * (z_{1-alpha/2} + z_power)^2 2 pbar (1 - pbar) / (p1 - p0)^2 would give 9,337).
 * NaN when p0 == p1 or outside (0, 1). */
RD_API double rd_sample_size_2prop(double p0, double p1, double alpha, double power);
/* Units per arm for a difference delta of means with pooled standard deviation sd:
 * 2 (z_{1-alpha/2} + z_power)^2 sd^2 / delta^2, rounded up. */
RD_API double rd_sample_size_mean(double delta, double sd, double alpha, double power);

#define RD_PSI_EPS          1e-4  /* a zero share is replaced by this, on either side (§2.3) */
#define RD_PSI_MIN_ROWS     1000  /* PSI is computed from this many current rows (§2.3) */
#define RD_PSI_ALPHA        0.001 /* the noise floor's level */
#define RD_SRM_ALPHA        0.001 /* §2.5 */
#define RD_SRM_MIN_UNITS    8     /* §2.5: every arm needs this many units before SRM can fail */
#define RD_KS_ALPHA         0.001 /* §2.4 */
#define RD_KS_MIN_EFFECT    0.05  /* §2.4: D must also reach this */
#define RD_CS_DEFAULT_NSTAR 5000

/* PSI = sum (a_i - e_i) ln(a_i / e_i) over nbins, e_i = ref[i] / sum(ref), a_i = cur[i] /
 * sum(cur), a share that is 0 replaced by eps (no renormalisation). NaN when either total is 0. */
RD_API double rd_psi(const double *ref, const double *cur, size_t nbins, double eps);
/* What PSI reaches by noise alone with probability alpha, for n reference and m current rows
 * over nbins bins: (1/n + 1/m) * chi2.isf(alpha, nbins - 1). NaN when nbins < 2 or n or m is
 * not above 0. */
RD_API double rd_psi_noise_floor(double n, double m, size_t nbins, double alpha);

/* KS drift against a reference given by K sorted quantiles q[0..K-1] (repeats allowed): the
 * statistic scipy.stats.ks_2samp(q, current) computes, from the current sample counted on the
 * grid of the distinct quantiles u_0 < ... < u_{J-1}: cell 2j+1 holds values equal to u_j,
 * cell 2j values strictly between u_{j-1} and u_j (cell 0: below u_0, cell 2J: above u_{J-1}).
 * That is exact: the ECDF difference can only peak at a grid point or just before one. */
typedef struct rd_ks_grid {
    size_t k;    /* quantiles */
    size_t j;    /* distinct values */
    double *u;   /* j distinct values, ascending */
    double *cdf; /* cdf[i]: share of the K quantiles <= u[i] */
} rd_ks_grid;
/* Build the grid of q (sorted ascending, k >= 1); RD_EINVAL when q is not sorted or not finite. */
RD_API int rd_ks_grid_init(rd_ks_grid *g, const double *q, size_t k, rd_err *err);
RD_API void rd_ks_grid_free(rd_ks_grid *g);
/* The cell of x, in [0, 2j]; NaN has none (returns SIZE_MAX). */
RD_API size_t rd_ks_cell(const rd_ks_grid *g, double x);
/* D from cells[2j + 1] counts (m = their sum); NaN when m == 0. */
RD_API double rd_ks_stat(const rd_ks_grid *g, const uint64_t *cells);
/* The large-sample critical value c(alpha) sqrt((n + m) / (n m)), c(alpha) = sqrt(-ln(alpha/2)/2). */
RD_API double rd_ks_critical(double n, double m, double alpha);
/* KS discrimination: max_s |F_bad(s) - F_good(s)| over n scored outcomes (label 1 = bad,
 * 0 = good; other labels and NaN scores are skipped); NaN when either class is empty (or out
 * of memory). scipy.stats.ks_2samp(bad_scores, good_scores).statistic. */
RD_API double rd_ks_discrimination(const double *score, const int *label, size_t n);

/* Sample ratio mismatch (§2.5): Pearson chi2 of the observed counts against the weights,
 * df = arms with weight > 0, minus 1; p = chi2.sf (scipy.stats.chisquare). */
typedef enum rd_verdict { RD_VERDICT_PASS = 0, RD_VERDICT_FAIL, RD_VERDICT_INCONCLUSIVE } rd_verdict;
RD_API const char *rd_verdict_name(rd_verdict v);
typedef struct rd_srm_result {
    double chi2, p;
    rd_verdict verdict; /* FAIL: p < alpha with every weighted arm >= min units, or any unit in a
                           0-weight arm; INCONCLUSIVE: an arm below min units, a weight that is
                           negative or not a number, no weighted arm; one weighted arm: PASS, p 1 */
    char why[160];
} rd_srm_result;
RD_API void rd_srm(const uint64_t *observed, const double *weights, size_t k, double alpha,
                   rd_srm_result *out);

/* Asymptotic confidence sequence half-width (§2.7) for an estimate with standard error se
 * after n units, tuned for nstar units, at level alpha; one_sided: harm only (rho from 2 alpha).
 * NaN when se < 0, n or nstar is not above 0, or alpha (2 alpha one-sided) is outside (0, 1). */
RD_API double rd_cs_halfwidth(double se, double n, double nstar, double alpha, bool one_sided);
/* One-sided sequential test that the candidate's rate of bad (x1 of n1) exceeds the control's
 * (x0 of n0): delta = p1 - p0, se unpooled, n = n1 + n0; FAIL when delta - halfwidth > 0, PASS
 * otherwise, INCONCLUSIVE (NaN fields) when an arm has no units or x > n. nstar <= 0:
 * RD_CS_DEFAULT_NSTAR. */
typedef struct rd_seq_result {
    double delta, se, halfwidth, lower;
    rd_verdict verdict;
} rd_seq_result;
RD_API void rd_seq_rate_harm(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0, double nstar, double alpha,
                             rd_seq_result *out);

#endif
