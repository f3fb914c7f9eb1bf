/* The Kolmogorov distributions and the two-sample KS test: the limit distribution
 * (scipy.special.kolmogorov), the finite-n two-sided one-sample statistic D_n
 * (scipy.stats.kstwo.sf, Simard and L'Ecuyer's choice of methods as scipy's _ksstats.kolmogn
 * makes it), the one-sided Smirnov tail it needs (scipy.special.smirnov), and
 * scipy.stats.ks_2samp's two-sided p-value: exact lattice-path counts when both samples hold at
 * most 10,000 values, kstwo.sf(d, round(n m / (n + m))) otherwise or when the exact count fails.
 *
 * Methods and switch points follow scipy 1.10 so that the p-values agree with it; where scipy
 * works in double-double (cephes smirnov) this file uses long double and logarithms, which
 * agree to ~1e-14. Invariants: pure and thread-safe (scratch memory from rd_malloc, freed
 * before return), never abort; NaN outside the domain or when out of memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "riskd/arena.h"
#include "riskd/stats.h"

#define E128  128
#define EP128 0x1p128
#define EM128 0x1p-128

static double clip01(double p) { return p < 0 ? 0 : p > 1 ? 1 : p; }

/* ---------------------------------------------------------------- the limit */

/* sf(x) = 2 sum (-1)^(k-1) e^(-2 k^2 x^2) above 0.82 (four terms), below it 1 - cdf with the
 * cdf's theta-function form sqrt(2 pi)/x sum e^(-(2k-1)^2 pi^2 / (8 x^2)) (cephes kolmogorov). */
double rd_kolmogorov_sf(double x)
{
    if (isnan(x))
        return x;
    if (x <= 0 || x <= M_PI / sqrt(746.0 * 8))
        return 1.0;
    double p = 1.0;
    if (x <= 0.82) {
        double w = sqrt(2 * M_PI) / x, logu8 = -M_PI * M_PI / (x * x), u = exp(logu8 / 8);
        if (u == 0) {
            p = exp(logu8 / 8 + log(w));
        } else {
            double u8 = exp(logu8), u8cub = pow(u8, 3);
            p = 1 + u8cub * p;
            p = 1 + u8 * u8 * p;
            p = 1 + u8 * p;
            p = w * u * p;
        }
        return clip01(1 - p);
    }
    double v = exp(-2 * x * x), vsq = v * v, v3 = pow(v, 3);
    p = 1 - v3 * v3 * v * p;
    p = 1 - v3 * vsq * p;
    p = 1 - v3 * p;
    return clip01(2 * v * p);
}

/* ---------------------------------------------------------------- Smirnov (one-sided) */

/* The upper tail of the one-sided statistic D_n^+ by the Birnbaum-Tingey sum
 * x sum_{j=0}^{floor(n(1-x))} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1), whose terms are all
 * positive: each is formed in long double logarithms (no overflow of C(n, j), no underflow of
 * the powers), the sum is exact to ~1e-15. The special cases are cephes smirnov's. */
static double smirnov_sf(int n, double x)
{
    if (!(n > 0 && x >= 0.0 && x <= 1.0))
        return (double)NAN;
    if (n == 1)
        return 1 - x;
    if (x == 0.0)
        return 1.0;
    if (x == 1.0)
        return 0.0;
    long double nx = (long double)n * x;
    long double fl = floorl(nx);
    if (fl == 0 || (fl == 1 && nx == fl)) /* x <= 1/n */
        return (double)(1 - (long double)x * powl(1 + (long double)x, n - 1));
    if (-2.0 * n * x * x < -7.451332191019412076235e2)
        return 0;
    if (fl >= n - 1) /* x >= 1 - 1/n */
        return (double)powl(1 - (long double)x, n);
    if (n > 1000000) {
        double logp = -pow(6.0 * n * x + 1, 2) / 18.0 / n;
        return logp < -M_LN2 ? exp(logp) : 1 + expm1(logp);
    }
    /* j runs while 1 - x - j/n > 0 */
    int last = n - (int)fl - (nx == fl ? 1 : 0);
    /* ln C(n, j) is a running sum of logs that grows to ~n: compensated (Kahan), or its
       rounding would cost ~1e-11 by n = 1e6 */
    long double lnc = 0, comp = 0, sum = 0, lx = (long double)x;
    for (int j = 0; j <= last && j < n; j++) {
        long double a = (long double)(n - j) / n - lx, b = lx + (long double)j / n;
        if (!(a > 0))
            break;
        long double lt = lnc + (n - j) * logl(a) + (j - 1) * logl(b);
        sum += expl(lt);
        long double inc = logl((long double)(n - j) / (j + 1)) - comp, next = lnc + inc;
        comp = (next - lnc) - inc;
        lnc = next;
    }
    return clip01((double)(lx * sum));
}

/* ---------------------------------------------------------------- D_n: Durbin's matrix */

/* c = a b for m x m matrices. */
static void matmul(const double *a, const double *b, double *c, int m)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int l = 0; l < m; l++)
                s += a[i * m + l] * b[l * m + j];
            c[i * m + j] = s;
        }
}

/* P(D_n <= d) by Durbin's matrix with Marsaglia, Tsang and Wang's scaling: the (k, k) entry
 * of H^n times n!/n^n, k = ceil(n d). NaN when out of memory. */
static double kolmogn_dmtw(int n, double d)
{
    if (d >= 1.0)
        return 1.0;
    double nd = n * d;
    if (nd <= 0.5)
        return 0.0;
    int k = (int)ceil(nd), m = 2 * k - 1;
    double h = k - nd;
    size_t mm = (size_t)m * (size_t)m;
    double *buf = rd_malloc(4 * mm * sizeof(double) + 2 * (size_t)m * sizeof(double));
    if (!buf)
        return (double)NAN;
    double *H = buf, *P = buf + mm, *T = buf + 2 * mm, *T2 = buf + 3 * mm, *v = buf + 4 * mm, *w = v + m;
    memset(buf, 0, 4 * mm * sizeof(double));
    double fac = 1.0;
    for (int j = 1; j <= m; j++) {
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] = (1.0 - pow(h, j)) * fac;
    }
    double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;
    for (int i = 1; i < m; i++)
        for (int r = i - 1; r < m; r++)
            H[r * m + i] = w[r - (i - 1)];
    for (int r = 0; r < m; r++)
        H[(size_t)r * (size_t)m] = v[r];
    for (int c = 0; c < m; c++)
        H[(m - 1) * m + c] = v[m - 1 - c];
    for (int i = 0; i < m; i++)
        P[i * m + i] = 1.0;
    int expnt = 0, hexpnt = 0;
    for (int nn = n; nn > 0; nn /= 2) {
        if (nn % 2) {
            matmul(P, H, T, m);
            memcpy(P, T, mm * sizeof(double));
            expnt += hexpnt;
        }
        matmul(H, H, T2, m);
        memcpy(H, T2, mm * sizeof(double));
        hexpnt *= 2;
        if (fabs(H[(k - 1) * m + (k - 1)]) > EP128) {
            for (size_t i = 0; i < mm; i++)
                H[i] /= EP128;
            hexpnt += E128;
        }
    }
    double p = P[(k - 1) * m + (k - 1)];
    rd_free(buf);
    for (int i = 1; i <= n; i++) {
        p = i * p / n;
        if (fabs(p) < EM128) {
            p *= EP128;
            expnt -= E128;
        }
    }
    return clip01(ldexp(p, expnt));
}

/* ---------------------------------------------------------------- D_n: Pomeranz */

static void pomeranz_j1j2(int i, int n, int ll, int ceilf, int roundf, int *j1, int *j2)
{
    int a, b;
    if (i == 0) {
        a = -ll - ceilf - 1;
        b = ll + ceilf - 1;
    } else {
        int half = (i + 1) / 2;
        if ((i + 1) % 2 == 0) { /* i odd */
            if (half == n + 1) {
                a = n - ll - ceilf - 1;
                b = n + ll + ceilf - 1;
            } else {
                a = half - 1 - ll - roundf - 1;
                b = half + ll - 1 + ceilf - 1;
            }
        } else {
            a = half - 1 - ll - 1;
            b = half + ll + roundf - 1;
        }
    }
    *j1 = a + 2 > 0 ? a + 2 : 0;
    *j2 = b < n ? b : n;
}

/* P(D_n <= x) by Pomeranz's recursion (n <= 140), rows convolved with powers of g/n, 2g/n
 * and (1 - 2g)/n divided by factorials, g the distance of n x to the nearest integer. */
static double kolmogn_pomeranz(int n, double x)
{
    double t = n * x;
    int ll = (int)floor(t);
    double f = t - ll, g = fmin(f, 1.0 - f);
    int ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0, npwrs = 2 * (ll + 1);
    double *buf = rd_malloc(6 * (size_t)npwrs * sizeof(double));
    if (!buf)
        return (double)NAN;
    double *gp = buf, *tg = gp + npwrs, *og = tg + npwrs, *va = og + npwrs, *vb = va + npwrs,
           *conv = vb + npwrs;
    gp[0] = tg[0] = og[0] = 1.0;
    double g1 = g / n, g2 = 2 * g / n, g3 = (1 - 2 * g) / n;
    for (int m = 1; m < npwrs; m++) {
        gp[m] = gp[m - 1] * g1 / m;
        tg[m] = tg[m - 1] * g2 / m;
        og[m] = og[m - 1] * g3 / m;
    }
    double *V0 = va, *V1 = vb;
    memset(va, 0, 2 * (size_t)npwrs * sizeof(double));
    V1[0] = 1;
    int V0s = 0, V1s = 0, expnt = 0, j1, j2;
    pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
    for (int i = 1; i < 2 * n + 2; i++) {
        int k1 = j1;
        double *sw = V0;
        V0 = V1;
        V1 = sw;
        int s = V0s;
        V0s = V1s;
        V1s = s;
        memset(V1, 0, (size_t)npwrs * sizeof(double));
        pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
        const double *pw = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? tg : og);
        int ln2 = j2 - k1 + 1;
        if (ln2 > 0) {
            /* numpy's convolve of the window V0[k1 - V0s:][:ln2] with pw[:ln2], slices cut at
               the arrays' ends as numpy cuts them */
            int off = k1 - V0s, la = ln2 < npwrs - off ? ln2 : npwrs - off, lb = ln2 < npwrs ? ln2 : npwrs;
            const double *a = V0 + off;
            int cstart = j1 - k1, clen = j2 - j1 + 1;
            if (clen > npwrs)
                clen = npwrs;
            for (int c = 0; c < clen; c++) { /* the full convolution's entry cstart + c */
                int idx = cstart + c;
                double acc = 0;
                for (int q = idx - (lb - 1) > 0 ? idx - (lb - 1) : 0; q <= idx && q < la; q++)
                    acc += a[q] * pw[idx - q];
                conv[c] = acc;
            }
            double mx = 0;
            for (int c = 0; c < clen; c++) {
                V1[c] = conv[c];
                mx = fmax(mx, V1[c]);
            }
            if (mx > 0 && mx < EM128) {
                for (int c = 0; c < npwrs; c++)
                    V1[c] *= EP128;
                expnt -= E128;
            }
            V1s = V0s + j1 - k1;
        }
    }
    double ans = V1[n - V1s];
    rd_free(buf);
    for (int m = 1; m <= n; m++) {
        if (fabs(ans) > EP128) {
            ans *= EM128;
            expnt += E128;
        }
        ans *= m;
    }
    return clip01(ldexp(ans, expnt));
}

/* ---------------------------------------------------------------- D_n: Pelz-Good */

/* P(D_n <= x) by the Pelz-Good asymptotic series in 1/sqrt(n) (the Li-Chien/Korolyuk terms
 * K0..K3 in their theta-function form for small z = x sqrt(n)). */
static double kolmogn_pelzgood(int n, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    const double pi2 = M_PI * M_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2, sqrt2pi = sqrt(2 * M_PI);
    double z = sqrt((double)n) * x, z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    double qlog = -pi2 / 8 / z2;
    if (qlog < -708)
        return 0.0;
    double q = exp(qlog);
    double k1a = -z2, k1b = pi2 / 4, k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4,
           k2c = pi4 * (1 - 2 * z2) / 16, k3d = pi6 * (5 - 30 * z2) / 64,
           k3c = pi4 * (-60 * z2 + 212 * z4) / 16, k3b = pi2 * (135 * z4 - 96 * z6) / 4,
           k3a = -30 * z6 - 90 * z4 * z4;
    double K[4] = {0, 0, 0, 0};
    int maxk = (int)ceil(16 * z / M_PI);
    for (int k = maxk; k > 0; k--) {
        double m = 2 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2, qp = pow(q, 8 * k);
        double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; i++)
            K[i] = K[i] * qp + c[i];
    }
    double div[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
    for (int i = 0; i < 4; i++)
        K[i] = K[i] * q * sqrt2pi / div[i];
    q = exp(-pi2 / 2 / z2);
    double k2extra = 0, k3extra = 0, sqrt3z = sqrt(3.0) * z;
    for (int k = maxk; k > 0; k--) { /* numpy sums these in the same (descending) order */
        double ks2 = (double)k * k, qk = pow(q, ks2), kspi = M_PI * k;
        k2extra += ks2 * qk;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qk;
    }
    K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
    K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
    double sum = 0;
    for (int i = 0; i < 4; i++)
        sum += K[i] / pow((double)n, i / 2.0);
    return sum;
}

/* ---------------------------------------------------------------- D_n: the dispatch */

/* ln(n! / n^n) by Stirling's series (n > 140). */
static double log_nfact_div_npown(double n)
{
    static const double c[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3, -1.9175269175269175269e-3,
                               8.4175084175084175084e-4,  -5.952380952380952381e-4, 7.9365079365079365079e-4,
                               -2.7777777777777777778e-3, 8.3333333333333333333e-2};
    double rn = 1.0 / n, y = rn / n, p = 0;
    for (int i = 0; i < 8; i++)
        p = p * y + c[i];
    return log(n) / 2 - n + log(2 * M_PI) / 2 + rn * p;
}

/* scipy's _kolmogn(n, x, cdf=False): Ruben-Gambino's closed forms at the ends, twice the
 * Smirnov tail where it is exact (x >= 1/2) or the tail is small, Durbin's matrix or Pomeranz
 * for small n, else Durbin or Pelz-Good for the cdf. */
double rd_kstwo_sf(double x, double dn)
{
    if (isnan(x) || isnan(dn) || !(dn > 0) || dn != floor(dn) || dn > 2147483647.0)
        return (double)NAN;
    int n = (int)dn;
    if (x >= 1.0)
        return 0.0;
    if (x <= 0.0)
        return 1.0;
    double t = n * x;
    if (t <= 1.0) {
        if (t <= 0.5)
            return 1.0;
        double prob;
        if (n <= 140) {
            prob = 1.0;
            for (int i = 1; i <= n; i++)
                prob *= i * (1.0 / n) * (2 * t - 1);
        } else {
            prob = exp(log_nfact_div_npown(n) + n * log(2 * t - 1));
        }
        return clip01(1.0 - prob);
    }
    if (t >= n - 1)
        return clip01(2 * pow(1.0 - x, n));
    if (x >= 0.5)
        return clip01(2 * smirnov_sf(n, x));
    double nx2 = t * x, cdf;
    if (n <= 140) {
        if (nx2 <= 0.754693)
            return clip01(1.0 - kolmogn_dmtw(n, x));
        if (nx2 <= 4)
            return clip01(1.0 - kolmogn_pomeranz(n, x));
        return clip01(2 * smirnov_sf(n, x));
    }
    if (nx2 >= 370.0)
        return 0.0;
    if (nx2 >= 2.2)
        return clip01(2 * smirnov_sf(n, x));
    if (n <= 100000 && n * pow(x, 1.5) <= 1.4)
        cdf = kolmogn_dmtw(n, x);
    else
        cdf = kolmogn_pelzgood(n, x);
    return clip01(1.0 - cdf);
}

/* ---------------------------------------------------------------- two samples */

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* floor(a / b) for b > 0 and any sign of a. */
static int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* n == m: the probability that a path leaves the band |x - y| < h, an alternating sum
 * (scipy's _compute_prob_outside_square). */
static double prob_outside_square(int64_t n, int64_t h)
{
    double P = 0.0;
    for (int64_t k = n / h; k >= 0; k--) {
        double p1 = 1.0;
        for (int64_t j = 0; j < h; j++)
            p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
        P = p1 * (1.0 - P);
    }
    return 2 * P;
}

/* n != m: 1 - the share of lattice paths staying strictly inside the band, by Hodges' inside
 * method in Viehmann's form that carries 1 - p (scipy's _compute_outer_prob_inside_method),
 * one sliding column of the path-count matrix. */
static double outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h)
{
    if (m < n) {
        int64_t t = m;
        m = n;
        n = t;
    }
    int64_t mg = m / g, ng = n / g, minj = 0, maxj = (h + mg - 1) / mg;
    if (maxj > n + 1)
        maxj = n + 1;
    int64_t curlen = maxj - minj, lenA = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
    double *A = rd_malloc((size_t)lenA * sizeof(double) + sizeof(double));
    if (!A)
        return (double)NAN;
    for (int64_t i = 0; i < lenA; i++)
        A[i] = i >= minj && i < maxj ? 0.0 : 1.0;
    double res = (double)NAN;
    for (int64_t i = 1; i <= m; i++) {
        int64_t lastminj = minj, lastlen = curlen;
        minj = floordiv(ng * i - h, mg) + 1;
        minj = minj < 0 ? 0 : minj > n ? n : minj;
        maxj = -floordiv(-(ng * i + h), mg); /* ceil */
        if (maxj > n + 1)
            maxj = n + 1;
        if (maxj <= minj) {
            res = 1.0;
            goto done;
        }
        double val = minj == 0 ? 0.0 : 1.0;
        for (int64_t jj = 0; jj < maxj - minj; jj++) {
            int64_t j = jj + minj;
            val = (A[jj + minj - lastminj] * (double)i + val * (double)j) / (double)(i + j);
            A[jj] = val;
        }
        curlen = maxj - minj;
        for (int64_t c = curlen; c < curlen + (lastlen - curlen) && c < lenA; c++)
            A[c] = 1; /* carried-over elements */
    }
    res = A[maxj - minj - 1];
done:
    rd_free(A);
    return res;
}

double rd_ks_2samp_p(double d, uint64_t n, uint64_t m)
{
    if (isnan(d) || n == 0 || m == 0)
        return (double)NAN;
    if ((n > m ? n : m) <= 10000) {
        uint64_t g = gcd_u64(n, m);
        uint64_t ng = n / g; /* exact: g divides n */
        double lcm = (double)ng * (double)m, hd = nearbyint(d * lcm);
        int64_t h = (int64_t)hd;
        if (h == 0)
            return 1.0;
        double p = n == m ? prob_outside_square((int64_t)n, h)
                          : outer_prob_inside((int64_t)n, (int64_t)m, (int64_t)g, h);
        if (p >= 0 && p <= 1)
            return p;
        d = hd / lcm; /* the exact count failed: scipy goes on with the rounded statistic */
    }
    double big = (double)(n > m ? n : m), small = (double)(n > m ? m : n);
    return clip01(rd_kstwo_sf(d, nearbyint(big * small / (big + small))));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorted copy of the non-NaN values of v into out; returns their number. */
static size_t sorted_finite(const double *v, size_t n, double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            out[k++] = v[i];
    qsort(out, k, sizeof(double), cmp_double);
    return k;
}

/* The statistic as scipy forms it: both ECDFs (side="right") at every value of either sample,
 * each a count divided by its sample size, their largest difference either way. In exact mode
 * scipy reports it rounded to h / lcm(n, m), which is what rd_ks_2samp_p counts with. */
int rd_ks_2samp(const double *x, size_t n, const double *y, size_t m, double *d, double *p, rd_err *err)
{
    double *a = rd_malloc((n + m) * sizeof(double) + 1);
    if (!a)
        return rd_err_set(err, RD_ENOMEM, "out of memory");
    double *b = a + n;
    size_t na = sorted_finite(x, n, a), nb = sorted_finite(y, m, b);
    if (na == 0 || nb == 0) {
        rd_free(a);
        return rd_err_set(err, RD_EINVAL, "KS: an empty sample (no value that is a number)");
    }
    double maxs = 0, mins = 0;
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        double v = j >= nb || (i < na && a[i] <= b[j]) ? a[i] : b[j];
        while (i < na && a[i] <= v)
            i++;
        while (j < nb && b[j] <= v)
            j++;
        double diff = (double)i / (double)na - (double)j / (double)nb;
        maxs = fmax(maxs, diff);
        mins = fmax(mins, -diff);
    }
    rd_free(a);
    double stat = mins > maxs ? fmin(mins, 1) : maxs;
    if ((na > nb ? na : nb) <= 10000) {
        uint64_t g = gcd_u64(na, nb);
        uint64_t ng = na / g;
        double lcm = (double)ng * (double)nb;
        stat = nearbyint(stat * lcm) / lcm;
    }
    *d = stat;
    *p = rd_ks_2samp_p(stat, na, nb);
    return RD_OK;
}
