/* The fixed-horizon tests of the A/B reports (shared/reference/rollout-monitoring.md §2.6):
 * the two-proportion z-test, the Wilson interval and the Newcombe and Wald intervals of a
 * difference of proportions (the segment gates' CI), Welch's t with the delta-method relative
 * lift, the chi-squared goodness of fit, Holm-Bonferroni, and the sample sizes.
 *
 * Each statistic repeats the reference's arithmetic in the reference's order (statsmodels
 * proportions_ztest, proportion_confint's "wilson", confint_proportions_2indep's "newcomb" and
 * "wald", scipy's _unequal_var_ttest_denom and _ttest_finish, scipy's chisquare,
 * statsmodels' multipletests), so the results agree to the last bits or nearly.
 *
 * Invariants: pure and thread-safe (rd_holm allocates a scratch array, nothing else does);
 * never abort; an argument outside a test's domain gives ok false or NaN fields. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"
#include "riskd/stats.h"

/* ---------------------------------------------------------------- two proportions */

void rd_ztest_2prop(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0, double alpha, rd_ztest *out)
{
    const double nan = (double)NAN;
    *out = (rd_ztest){
        .p1 = nan, .p0 = nan, .diff = nan, .se_unpooled = nan, .lo = nan, .hi = nan, .z = nan, .p = nan};
    if (n1 == 0 || n0 == 0 || x1 > n1 || x0 > n0)
        return;
    double dn1 = (double)n1, dn0 = (double)n0;
    out->ok = true;
    out->enough = x1 >= 10 && n1 - x1 >= 10 && x0 >= 10 && n0 - x0 >= 10;
    out->p1 = (double)x1 / dn1;
    out->p0 = (double)x0 / dn0;
    out->diff = out->p1 - out->p0;
    out->se_unpooled = sqrt(out->p1 * (1 - out->p1) / dn1 + out->p0 * (1 - out->p0) / dn0);
    double crit = rd_norm_isf(alpha / 2);
    out->lo = out->diff - crit * out->se_unpooled;
    out->hi = out->diff + crit * out->se_unpooled;
    /* pooled, as statsmodels: (x1 + x0) / (n1 + n0) in integers, then the sum of 1/n */
    double pp = (double)(x1 + x0) / (double)(n1 + n0);
    if (pp > 0 && pp < 1) {
        out->z = out->diff / sqrt(pp * (1 - pp) * (1.0 / dn1 + 1.0 / dn0));
        out->p = rd_norm_sf(fabs(out->z)) * 2;
    }
}

/* ---------------------------------------------------------------- intervals of proportions */

/* statsmodels 0.13.5 proportion_confint, method "wilson", line for line: q_ = count * 1. / nobs,
 * crit2 = crit**2, denom = 1 + crit2 / nobs, center = (q_ + crit2 / (2 * nobs)) / denom,
 * dist = crit * sqrt(q_ * (1. - q_) / nobs + crit2 / (4. * nobs**2)), dist /= denom. numpy
 * forms 2 * nobs and nobs**2 in int64 and then converts, which rounds the exact value once, as
 * the products of the exact double dn do (2 dn is exact; dn * dn rounds n^2 once), so the bits
 * match for every n below 3e9 (where numpy's nobs**2 would overflow). */
void rd_wilson(uint64_t x, uint64_t n, double alpha, double *lo, double *hi)
{
    *lo = *hi = (double)NAN;
    if (n == 0 || x > n || !(alpha > 0 && alpha < 1))
        return;
    double crit = rd_norm_isf(alpha / 2.), crit2 = crit * crit, dn = (double)n;
    double q = (double)x * 1. / dn;
    double denom = 1 + crit2 / dn;
    double center = (q + crit2 / (2 * dn)) / denom;
    double dist = crit * sqrt(q * (1. - q) / dn + crit2 / (4. * (dn * dn)));
    dist /= denom;
    *lo = center - dist;
    *hi = center + dist;
}

/* statsmodels 0.13.5 confint_proportions_2indep, compare "diff": "wald" (addone 0, so p1_ = p1)
 * and "newcomb" (d_low from arm 1's lower and arm 0's upper distance, d_upp the other way). */
void rd_ci_2prop(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0, double alpha, rd_ci_method m, double *lo,
                 double *hi)
{
    *lo = *hi = (double)NAN;
    if (n1 == 0 || n0 == 0 || x1 > n1 || x0 > n0 || !(alpha > 0 && alpha < 1))
        return;
    double dn1 = (double)n1, dn0 = (double)n0;
    double p1 = (double)x1 / dn1, p0 = (double)x0 / dn0, diff = p1 - p0;
    if (m == RD_CI_WALD) {
        double var = p1 * (1 - p1) / dn1 + p0 * (1 - p0) / dn0;
        double d_wald = rd_norm_isf(alpha / 2) * sqrt(var);
        *lo = diff - d_wald;
        *hi = diff + d_wald;
    } else if (m == RD_CI_NEWCOMBE) {
        double low1, upp1, low0, upp0;
        rd_wilson(x1, n1, alpha, &low1, &upp1);
        rd_wilson(x0, n0, alpha, &low0, &upp0);
        double a = p1 - low1, b = upp0 - p0, c = p0 - low0, d = upp1 - p1;
        double d_low = sqrt(a * a + b * b), d_upp = sqrt(c * c + d * d);
        *lo = diff - d_low;
        *hi = diff + d_upp;
    }
}

/* ---------------------------------------------------------------- Welch */

void rd_welch_t(double m1, double v1, double n1, double m0, double v0, double n0, double alpha, rd_welch *out)
{
    const double nan = (double)NAN;
    *out = (rd_welch){.diff = nan,
                      .se = nan,
                      .t = nan,
                      .df = nan,
                      .p = nan,
                      .lo = nan,
                      .hi = nan,
                      .rel = nan,
                      .rel_se = nan,
                      .rel_lo = nan,
                      .rel_hi = nan};
    if (!(n1 >= 2) || !(n0 >= 2) || !(v1 >= 0) || !(v0 >= 0) || isnan(m1) || isnan(m0))
        return;
    out->ok = true;
    double vn1 = v1 / n1, vn0 = v0 / n0, s = vn1 + vn0;
    out->df = s * s / (vn1 * vn1 / (n1 - 1) + vn0 * vn0 / (n0 - 1));
    if (isnan(out->df)) /* both variances 0: any df will do (scipy takes 1) */
        out->df = 1;
    out->se = sqrt(s);
    out->diff = m1 - m0;
    out->t = out->diff / out->se;
    out->p = rd_t_cdf(-fabs(out->t), out->df) * 2;
    double crit = -rd_t_ppf(alpha / 2, out->df);
    out->lo = out->diff - crit * out->se;
    out->hi = out->diff + crit * out->se;
    if (m0 != 0) { /* GrowthBook details.mdx eqs 1-2: the delta method on (m1 - m0) / m0 */
        out->rel = out->diff / m0;
        double m02 = m0 * m0;
        out->rel_se = sqrt(v0 * m1 * m1 / (m02 * m02 * n0) + v1 / (m02 * n1));
        out->rel_lo = out->rel - crit * out->rel_se;
        out->rel_hi = out->rel + crit * out->rel_se;
    }
}

/* ---------------------------------------------------------------- chi-squared */

void rd_chisquare(const double *observed, const double *expected, size_t k, int ddof, double *chi2, double *p)
{
    double osum = 0, esum = 0, stat = 0;
    for (size_t i = 0; i < k; i++) {
        osum += observed[i];
        esum += expected ? expected[i] : 0;
    }
    /* no expected counts: uniform; expected counts of another total: scaled to the observed */
    double scale = expected && esum != osum ? osum / esum : 1;
    for (size_t i = 0; i < k; i++) {
        double e = expected ? expected[i] * scale : osum / (double)k, d = observed[i] - e;
        stat += d * d / e;
    }
    double df = (double)k - 1 - ddof;
    *chi2 = k > 0 ? stat : (double)NAN;
    *p = df > 0 ? rd_chi2_sf(stat, df) : (double)NAN;
}

/* ---------------------------------------------------------------- Holm */

typedef struct ranked {
    double p;
    size_t at;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* Ascending, the i-th smallest of m p-values is multiplied by m - i, then a running maximum
 * keeps the adjusted values monotone, capped at 1. */
void rd_holm(const double *p, size_t n, double *adj)
{
    ranked *r = rd_malloc(n * sizeof(ranked) + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (r && !isnan(p[i]))
            r[m++] = (ranked){p[i], i};
    for (size_t i = 0; i < n; i++)
        adj[i] = (double)NAN; /* p may be adj: every p was copied above */
    if (!r)
        return;
    qsort(r, m, sizeof(ranked), cmp_ranked);
    double run = -(double)INFINITY;
    for (size_t i = 0; i < m; i++) {
        run = fmax(run, r[i].p * (double)(m - i));
        adj[r[i].at] = fmin(run, 1.0);
    }
    rd_free(r);
}

/* ---------------------------------------------------------------- sample sizes */

/* The classic formula for two proportions (Fleiss, without continuity correction): the
 * critical value under the null with the pooled variance 2 pbar (1 - pbar), the power term
 * with the arms' own variances: n = (z_a sqrt(2 pbar qbar) + z_b sqrt(p0 q0 + p1 q1))^2 / d^2. */
double rd_sample_size_2prop(double p0, double p1, double alpha, double power)
{
    if (!(p0 > 0 && p0 < 1) || !(p1 > 0 && p1 < 1) || p0 == p1 || !(alpha > 0 && alpha < 1) ||
        !(power > 0 && power < 1))
        return (double)NAN;
    double pbar = (p0 + p1) / 2, za = rd_norm_isf(alpha / 2), zb = rd_norm_ppf(power), d = p1 - p0;
    double s = za * sqrt(2 * pbar * (1 - pbar)) + zb * sqrt(p0 * (1 - p0) + p1 * (1 - p1));
    return ceil(s * s / (d * d));
}

double rd_sample_size_mean(double delta, double sd, double alpha, double power)
{
    if (!(delta != 0) || !isfinite(delta) || !(sd > 0) || !isfinite(sd) || !(alpha > 0 && alpha < 1) ||
        !(power > 0 && power < 1))
        return (double)NAN;
    double z = rd_norm_isf(alpha / 2) + rd_norm_ppf(power);
    return ceil(2 * z * z * sd * sd / (delta * delta));
}
