/* The distributions: the standard normal (cdf, sf, ppf, isf), Student's t (cdf, sf, ppf) and
 * chi-squared (cdf, sf, isf), on the special functions of special.c.
 *
 * The normal follows Cephes' ndtr and ndtri (scipy.stats.norm's own). Student's t is the
 * incomplete beta of df / (df + t^2) with 1 - x passed exactly as t^2 / (df + t^2), as scipy's
 * cdflib cumt does; chi-squared is the incomplete gamma of df / 2 at x / 2 (scipy's chdtr and
 * chdtrc). The quantiles of t and chi-squared are found by a safeguarded Newton iteration on the
 * logarithm of the tail, so that a far tail (1e-300) keeps full relative accuracy.
 *
 * Invariants: pure and thread-safe, never abort; NaN outside the domain. */
#include <math.h>

#include "riskd/stats.h"
#include "stats_int.h"

/* ---------------------------------------------------------------- normal */

double rd_norm_cdf(double a)
{
    if (isnan(a))
        return a;
    double x = a * M_SQRT1_2, z = fabs(x);
    if (z < M_SQRT1_2)
        return 0.5 + 0.5 * rd__erf(x);
    double y = 0.5 * rd__erfc(z);
    return x > 0 ? 1.0 - y : y;
}

double rd_norm_sf(double x) { return rd_norm_cdf(-x); }

static double polevl(double x, const double *c, int n)
{
    double y = c[0];
    for (int i = 1; i <= n; i++)
        y = y * x + c[i];
    return y;
}

static double p1evl(double x, const double *c, int n)
{
    double y = x + c[0];
    for (int i = 1; i < n; i++)
        y = y * x + c[i];
    return y;
}

/* Cephes ndtri: for |p - 1/2| <= 3/8 a rational function of (p - 1/2)^2; in the tails of
 * z = sqrt(-2 ln p), one set for z in [2, 8) and one beyond. */
static const double NP0[5] = {-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
                              1.39312609387279679503E1, -1.23916583867381258016E0};
static const double NQ0[8] = {1.95448858338141759834E0,  4.67627912898881538453E0, 8.63602421390890590575E1,
                              -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
                              1.59056225126211695515E1,  -1.18331621121330003142E0};
static const double NP1[9] = {
    4.05544892305962419923E0,   3.15251094599893866154E1,   5.71628192246421288162E1,
    4.40805073893200834700E1,   1.46849561928858024014E1,   2.18663306850790267539E0,
    -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4};
static const double NQ1[8] = {1.57799883256466749731E1,   4.53907635128879210584E1,
                              4.13172038254672030440E1,   1.50425385692907503408E1,
                              2.50464946208309415979E0,   -1.42182922854787788574E-1,
                              -3.80806407691578277194E-2, -9.33259480895457427372E-4};
static const double NP2[9] = {
    3.23774891776946035970E0,  6.91522889068984211695E0,  3.93881025292474443415E0,
    1.33303460815807542389E0,  2.01485389549179081538E-1, 1.23716634817820021358E-2,
    3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9};
static const double NQ2[8] = {6.02427039364742014255E0,  3.67983563856160859403E0,  1.37702099489081330271E0,
                              2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
                              2.89247864745380683936E-6, 6.79019408009981274425E-9};

double rd_norm_ppf(double p)
{
    if (isnan(p) || p < 0.0 || p > 1.0)
        return (double)NAN;
    if (p == 0.0)
        return -(double)INFINITY;
    if (p == 1.0)
        return (double)INFINITY;
    const double e2 = 0.13533528323661269189; /* exp(-2) */
    bool lower = true;
    double y = p;
    if (y > 1.0 - e2) {
        y = 1.0 - y;
        lower = false;
    }
    if (y > e2) {
        y -= 0.5;
        double y2 = y * y;
        return (y + y * (y2 * polevl(y2, NP0, 4) / p1evl(y2, NQ0, 8))) * 2.50662827463100050242E0;
    }
    double x = sqrt(-2.0 * log(y)), x0 = x - log(x) / x, z = 1.0 / x;
    double x1 = x < 8.0 ? z * polevl(z, NP1, 8) / p1evl(z, NQ1, 8) : z * polevl(z, NP2, 8) / p1evl(z, NQ2, 8);
    x = x0 - x1;
    return lower ? -x : x;
}

double rd_norm_isf(double p) { return -rd_norm_ppf(p); }

/* ---------------------------------------------------------------- safeguarded Newton */

/* The logarithm of a tail (upper or lower) at x = e^u, and its derivative in u. */
typedef double (*lntail_fn)(double u, double df, bool upper, double *slope);

/* The u = ln x where ln tail(x) = target: Newton steps kept inside a bracket that every
 * evaluation narrows (bisection, or doubling an open side, when a step would leave it). The
 * tail is monotone in u, decreasing for the upper tail; its log is nearly linear in u in the
 * far tails, where Newton converges in a few steps. NaN when the tail cannot be computed. */
static double solve_log_tail(lntail_fn f, double df, bool upper, double target, double u)
{
    double lo = -(double)INFINITY, hi = (double)INFINITY;
    for (int it = 0; it < 400; it++) {
        double slope, lt = f(u, df, upper, &slope), d = lt - target;
        if (isnan(lt))
            return (double)NAN;
        if (d == 0)
            return u;
        if ((d > 0) == upper) /* the root lies above u (upper tail too big, lower too small) */
            lo = u;
        else
            hi = u;
        double next = u - d / slope;
        if (!isfinite(next) || !(next > lo && next < hi))
            next = isinf(lo)   ? hi - 2 * fmax(1, fabs(hi))
                   : isinf(hi) ? lo + 2 * fmax(1, fabs(lo))
                               : (lo + hi) / 2;
        if (fabs(next - u) <= 1e-16 * fmax(1, fabs(u)) || next == lo || next == hi)
            return next;
        u = next;
    }
    return u;
}

/* ---------------------------------------------------------------- Student's t */

/* The lower tail at x < 0 (or upper at x > 0): I_z(df/2, 1/2) / 2, z = df / (df + x^2), with
 * 1 - z = x^2 / (df + x^2) exact to rounding (no cancellation for a huge df). */
static double t_tail(double x, double df)
{
    double tt = x * x;
    if (!isfinite(tt) || !(df / tt > 1e-290)) {
        /* z = df / x^2 is subnormal or below: the series' leading term z^a / (a B(a, 1/2)),
           in logarithms (the next term is z times smaller) */
        double a = 0.5 * df, lz = log(df) - 2 * log(fabs(x));
        return 0.5 * exp(a * lz - log(a) - rd__lbeta(a, 0.5));
    }
    return 0.5 * rd__beta_inc2(0.5 * df, 0.5, df / (df + tt), tt / (df + tt));
}

double rd_t_cdf(double x, double df)
{
    if (isnan(x) || isnan(df) || !(df > 0))
        return (double)NAN;
    if (isinf(df))
        return rd_norm_cdf(x);
    if (x == 0)
        return 0.5;
    if (isinf(x))
        return x < 0 ? 0.0 : 1.0;
    double tail = t_tail(x, df);
    return x < 0 ? tail : 1.0 - tail;
}

double rd_t_sf(double x, double df) { return rd_t_cdf(-x, df); }

/* ln of the upper tail at t = e^u and its slope -t pdf(t) / sf(t), the density
 * (1 + t^2/df)^(-(df+1)/2) / (sqrt(df) B(df/2, 1/2)). */
static double t_lntail(double u, double df, bool upper, double *slope)
{
    (void)upper;
    double t = exp(u), sf = t_tail(t, df);
    double lpdf = -0.5 * (df + 1) * log1p(t * t / df) - 0.5 * log(df) - rd__lbeta(0.5 * df, 0.5);
    *slope = -t * exp(lpdf) / sf;
    return log(sf);
}

double rd_t_ppf(double p, double df)
{
    if (isnan(p) || isnan(df) || !(df > 0) || p < 0 || p > 1)
        return (double)NAN;
    if (isinf(df))
        return rd_norm_ppf(p);
    if (p == 0 || p == 1)
        return p == 0 ? -(double)INFINITY : (double)INFINITY;
    if (p == 0.5)
        return 0;
    double q = p < 0.5 ? p : 1.0 - p; /* the upper tail of |t| */
    /* First guess: the normal quantile with the first Cornish-Fisher term, or the far tail's
     * power law sf(t) ~ df^(df/2 - 1) t^-df / B(df/2, 1/2) when that is larger. */
    double z = -rd_norm_ppf(q), g = z + (z * z * z + z) / (4 * df);
    double gp = exp((0.5 * df - 1) * log(df) / df - (log(q) + rd__lbeta(0.5 * df, 0.5)) / df);
    g = fmax(g, isfinite(gp) ? gp : 0);
    if (!(g > 0) || !isfinite(g))
        g = 1;
    double t = exp(solve_log_tail(t_lntail, df, true, log(q), log(g)));
    return p < 0.5 ? -t : t;
}

/* ---------------------------------------------------------------- chi-squared */

double rd_chi2_cdf(double x, double df)
{
    if (isnan(x) || isnan(df) || !(df > 0))
        return (double)NAN;
    if (x <= 0)
        return 0;
    return rd_gamma_p(df / 2.0, x / 2.0);
}

double rd_chi2_sf(double x, double df)
{
    if (isnan(x) || isnan(df) || !(df > 0))
        return (double)NAN;
    if (x <= 0)
        return 1;
    return rd_gamma_q(df / 2.0, x / 2.0);
}

/* ln of a chi-squared tail at x = e^u and its slope +-x pdf(x) / tail, x pdf(x) being
 * (x/2)^(df/2) e^(-x/2) / Gamma(df/2). */
static double chi2_lntail(double u, double df, bool upper, double *slope)
{
    double x = exp(u), a = df / 2, tail = upper ? rd_chi2_sf(x, df) : rd_chi2_cdf(x, df);
    double xpdf = exp(a * log(x / 2) - x / 2 - rd__lgam(a));
    *slope = (upper ? -xpdf : xpdf) / tail;
    return log(tail);
}

/* A first guess: Wilson-Hilferty (the cube of a normal), or, when that is not positive (small
 * df, p near 1), the leading term of the lower tail P(x) ~ (x/2)^(df/2) / Gamma(df/2 + 1). */
static double chi2_isf_guess(double p, double df)
{
    double h = 2.0 / (9.0 * df), z = rd_norm_isf(p), c = 1 - h + z * sqrt(h), x = df * c * c * c;
    if (c > 0 && x > 0 && isfinite(x))
        return x;
    double a = df / 2, lp = p > 0.5 ? log1p(-p) : log(p);
    x = 2 * exp((lp + rd__lgam(a + 1)) / a);
    return x > 0 && isfinite(x) ? x : 1;
}

/* Solves ln Q(x) = ln p for p <= 1/2 and ln P(x) = ln(1 - p) above (1 - p is exact for p in
 * [1/2, 1]), so a far upper tail and an x near 0 both come out to full accuracy. */
double rd_chi2_isf(double p, double df)
{
    if (isnan(p) || p < 0 || p > 1 || !(df > 0) || !isfinite(df))
        return (double)NAN;
    if (p == 0)
        return (double)INFINITY;
    if (p == 1)
        return 0;
    bool upper = p <= 0.5;
    double u =
        solve_log_tail(chi2_lntail, df, upper, upper ? log(p) : log(1 - p), log(chi2_isf_guess(p, df)));
    return exp(u);
}
