/* The drift and guard statistics of monitoring and rollouts (shared/reference/
 * rollout-monitoring.md §2.3-2.5, §2.7): PSI and its noise floor, KS drift on the reference's
 * quantile grid, KS discrimination, sample ratio mismatch and the asymptotic confidence
 * sequence of the sequential harm test.
 *
 * Invariants: every function here is pure and thread-safe; none aborts on any input: an
 * argument outside a statistic's domain gives NaN (or RD_EINVAL, or an INCONCLUSIVE verdict
 * saying why). The chi-squared tail and quantile come from dist.c. Each statistic is checked
 * against an independent reference (scipy, numpy) to 1e-12 relative by
 * tests/interop/monitor_stats.py. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"
#include "riskd/stats.h"

/* ---------------------------------------------------------------- PSI */

double rd_psi(const double *ref, const double *cur, size_t nbins, double eps)
{
    double rt = 0, ct = 0, psi = 0;
    for (size_t i = 0; i < nbins; i++) {
        rt += ref[i];
        ct += cur[i];
    }
    if (!(rt > 0) || !(ct > 0) || !isfinite(rt) || !isfinite(ct))
        return (double)NAN;
    for (size_t i = 0; i < nbins; i++) {
        double e = ref[i] / rt, a = cur[i] / ct;
        if (e == 0)
            e = eps;
        if (a == 0)
            a = eps;
        psi += (a - e) * log(a / e);
    }
    return psi;
}

double rd_psi_noise_floor(double n, double m, size_t nbins, double alpha)
{
    if (nbins < 2 || !(n > 0) || !(m > 0))
        return (double)NAN;
    return (1.0 / n + 1.0 / m) * rd_chi2_isf(alpha, (double)(nbins - 1));
}

/* ---------------------------------------------------------------- KS */

int rd_ks_grid_init(rd_ks_grid *g, const double *q, size_t k, rd_err *err)
{
    if (k == 0)
        return rd_err_set(err, RD_EINVAL, "KS grid: no quantiles");
    for (size_t i = 0; i < k; i++) {
        if (!isfinite(q[i]))
            return rd_err_set(err, RD_EINVAL, "KS grid: quantile %zu is not a finite number", i);
        if (i > 0 && q[i] < q[i - 1])
            return rd_err_set(err, RD_EINVAL, "KS grid: quantiles not ascending (%zu: %.17g after %.17g)", i,
                              q[i], q[i - 1]);
    }
    size_t j = 1;
    for (size_t i = 1; i < k; i++)
        j += q[i] != q[i - 1];
    double *u = rd_malloc(j * sizeof(double)), *cdf = rd_malloc(j * sizeof(double));
    if (!u || !cdf) {
        rd_free(u);
        rd_free(cdf);
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < k; i++)
        if (i + 1 == k || q[i + 1] != q[i]) { /* the last of a run of equal quantiles */
            u[at] = q[i];
            cdf[at++] = (double)(i + 1) / (double)k;
        }
    *g = (rd_ks_grid){.k = k, .j = j, .u = u, .cdf = cdf};
    return RD_OK;
}

void rd_ks_grid_free(rd_ks_grid *g)
{
    if (!g)
        return;
    rd_free(g->u);
    rd_free(g->cdf);
    *g = (rd_ks_grid){0};
}

size_t rd_ks_cell(const rd_ks_grid *g, double x)
{
    if (isnan(x))
        return SIZE_MAX;
    size_t lo = 0, hi = g->j; /* the number of grid values below x lies in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->u[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->j && g->u[lo] == x ? 2 * lo + 1 : 2 * lo;
}

/* Both ECDFs are right-continuous steps; between two points where either jumps the difference
 * is constant, so its sup is reached at a jump point of one of them (the value there, counted
 * with side="right" as scipy does). At the reference's jumps u_j that is cdf[j] against the
 * current sample up to u_j; at current values strictly between u_{j-1} and u_j, the largest
 * of them (the others give a smaller current share against the same reference share) is
 * cdf[j-1] against the current sample before u_j. Values above u_{J-1} meet a reference
 * share of 1 and can only shrink the difference. */
double rd_ks_stat(const rd_ks_grid *g, const uint64_t *cells)
{
    uint64_t m = 0, cum = 0;
    for (size_t c = 0; c <= 2 * g->j; c++)
        m += cells[c];
    if (m == 0)
        return (double)NAN;
    double d = 0, dm = (double)m;
    for (size_t j = 0; j < g->j; j++) {
        if (cells[2 * j] > 0) {
            cum += cells[2 * j];
            d = fmax(d, fabs((j ? g->cdf[j - 1] : 0) - (double)cum / dm));
        }
        cum += cells[2 * j + 1];
        d = fmax(d, fabs(g->cdf[j] - (double)cum / dm));
    }
    return d;
}

double rd_ks_critical(double n, double m, double alpha)
{
    if (!(n > 0) || !(m > 0) || !(alpha > 0 && alpha < 1))
        return (double)NAN;
    return sqrt(-log(alpha / 2) / 2) * sqrt((n + m) / (n * m));
}

typedef struct scored {
    double s;
    int bad;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

double rd_ks_discrimination(const double *score, const int *label, size_t n)
{
    scored *v = rd_malloc(n * sizeof(scored) + 1);
    if (!v)
        return (double)NAN;
    size_t k = 0, nbad = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(score[i]) && (label[i] == 0 || label[i] == 1)) {
            v[k++] = (scored){score[i], label[i]};
            nbad += label[i] == 1;
        }
    double d = (double)NAN;
    if (nbad > 0 && nbad < k) {
        qsort(v, k, sizeof(scored), cmp_scored);
        /* the gap |b/nb - g/ng| as the integer |b ng - g nb| over nb ng, divided once at the end:
           the exact rational rounded once, the very double scipy's exact mode returns (it
           re-rounds D to h / lcm(nb, ng)), and within an ulp of its asymptotic mode's */
        uint64_t nb = nbad, ng = k - nbad, b = 0, g = 0, best = 0;
        for (size_t i = 0; i < k;) { /* after each group of equal scores: both ECDFs at that score */
            size_t e = i;
            for (; e < k && v[e].s == v[i].s; e++)
                *(v[e].bad ? &b : &g) += 1;
            uint64_t x = b * ng, y = g * nb, gap = x > y ? x - y : y - x;
            best = gap > best ? gap : best;
            i = e;
        }
        d = (double)best / ((double)nb * (double)ng);
    }
    rd_free(v);
    return d;
}

/* ---------------------------------------------------------------- SRM */

const char *rd_verdict_name(rd_verdict v)
{
    switch (v) {
    case RD_VERDICT_PASS: return "pass";
    case RD_VERDICT_FAIL: return "fail";
    case RD_VERDICT_INCONCLUSIVE: return "inconclusive";
    }
    return "unknown";
}

void rd_srm(const uint64_t *observed, const double *weights, size_t k, double alpha, rd_srm_result *out)
{
    *out = (rd_srm_result){.chi2 = (double)NAN, .p = (double)NAN, .verdict = RD_VERDICT_INCONCLUSIVE};
    double wsum = 0, total = 0;
    size_t arms = 0, zero_arm = SIZE_MAX, small_arm = SIZE_MAX;
    for (size_t i = 0; i < k; i++) {
        if (!(weights[i] >= 0) || !isfinite(weights[i])) {
            snprintf(out->why, sizeof(out->why), "arm %zu: weight %g is not a non-negative number", i,
                     weights[i]);
            return;
        }
        if (weights[i] > 0) {
            arms++;
            wsum += weights[i];
            total += (double)observed[i];
            if (observed[i] < RD_SRM_MIN_UNITS && small_arm == SIZE_MAX)
                small_arm = i;
        } else if (observed[i] > 0 && zero_arm == SIZE_MAX) {
            zero_arm = i;
        }
    }
    if (arms > 0 && total > 0) {
        double chi2 = 0;
        for (size_t i = 0; i < k; i++)
            if (weights[i] > 0) {
                double e = weights[i] / wsum * total, d = (double)observed[i] - e;
                chi2 += d * d / e;
            }
        out->chi2 = chi2;
        out->p = arms > 1 ? rd_chi2_sf(chi2, (double)(arms - 1)) : 1;
    }
    if (zero_arm != SIZE_MAX) {
        out->verdict = RD_VERDICT_FAIL;
        snprintf(out->why, sizeof(out->why), "arm %zu has weight 0 but %llu units", zero_arm,
                 (unsigned long long)observed[zero_arm]);
    } else if (arms == 0) {
        snprintf(out->why, sizeof(out->why), "no arm has a weight above 0");
    } else if (small_arm != SIZE_MAX) {
        snprintf(out->why, sizeof(out->why), "arm %zu has %llu units, fewer than %d", small_arm,
                 (unsigned long long)observed[small_arm], RD_SRM_MIN_UNITS);
    } else if (arms == 1) {
        out->verdict = RD_VERDICT_PASS;
        snprintf(out->why, sizeof(out->why), "one weighted arm: no ratio to check");
    } else if (isnan(out->p)) {
        snprintf(out->why, sizeof(out->why), "the chi-squared tail could not be computed (chi2 %g)",
                 out->chi2);
    } else {
        out->verdict = out->p < alpha ? RD_VERDICT_FAIL : RD_VERDICT_PASS;
        snprintf(out->why, sizeof(out->why), "p = %.3g %s %g (chi2 %.4g, df %zu)", out->p,
                 out->p < alpha ? "<" : ">=", alpha, out->chi2, arms - 1);
    }
}

/* ---------------------------------------------------------------- sequential tests */

double rd_cs_halfwidth(double se, double n, double nstar, double alpha, bool one_sided)
{
    double a = one_sided ? 2 * alpha : alpha;
    if (!(se >= 0) || !isfinite(se) || !(n > 0) || !(nstar > 0) || !(a > 0 && a < 1))
        return (double)NAN;
    double l = -2 * log(a), rho2 = (l + log(l + 1)) / nstar, nr = n * rho2 + 1,
           scale = 2 * nr / (n * n * rho2);
    double lg = one_sided ? log(1 + sqrt(nr) / (2 * alpha)) : log(sqrt(nr) / alpha);
    return se * sqrt(n) * sqrt(scale * lg);
}

void rd_seq_rate_harm(uint64_t x1, uint64_t n1, uint64_t x0, uint64_t n0, double nstar, double alpha,
                      rd_seq_result *out)
{
    *out = (rd_seq_result){.delta = (double)NAN,
                           .se = (double)NAN,
                           .halfwidth = (double)NAN,
                           .lower = (double)NAN,
                           .verdict = RD_VERDICT_INCONCLUSIVE};
    if (n1 == 0 || n0 == 0 || x1 > n1 || x0 > n0)
        return;
    double p1 = (double)x1 / (double)n1, p0 = (double)x0 / (double)n0;
    out->delta = p1 - p0;
    out->se = sqrt(p1 * (1 - p1) / (double)n1 + p0 * (1 - p0) / (double)n0);
    out->halfwidth = rd_cs_halfwidth(out->se, (double)n1 + (double)n0,
                                     nstar > 0 ? nstar : RD_CS_DEFAULT_NSTAR, alpha, true);
    out->lower = out->delta - out->halfwidth;
    if (!isnan(out->lower))
        out->verdict = out->lower > 0 ? RD_VERDICT_FAIL : RD_VERDICT_PASS;
}
