#!/usr/bin/python3
"""The stats module of libriskd (src/lib/stats/) against scipy 1.10 and statsmodels 0.13, on
random cases drawn with a fixed seed plus the edges the issue names: tiny samples, ties,
p-values below 1e-300, zero successes, identical samples, huge df.

  rd_gamma_p, _q, rd_beta_inc        scipy.special.gammainc, gammaincc, betainc
  rd_norm_cdf, _sf, _ppf, _isf       scipy.stats.norm
  rd_t_cdf, _sf, _ppf                scipy.stats.t
  rd_chi2_cdf, _sf, _isf             scipy.stats.chi2
  rd_kolmogorov_sf, rd_kstwo_sf      scipy.special.kolmogorov, scipy.stats.kstwo.sf
  rd_ztest_2prop                     statsmodels proportions_ztest; confint_proportions_2indep
                                     (method "wald") for the unpooled CI
  rd_wilson                          statsmodels proportion_confint(method="wilson")
  rd_ci_2prop                        statsmodels confint_proportions_2indep(compare="diff"),
                                     method "newcomb" (named: its docstring warns the default
                                     may change) and "wald"
  rd_welch_t                         scipy.stats.ttest_ind(equal_var=False) and its from-stats
                                     form; the CI and the delta-method lift by their formulas
  rd_chisquare                       scipy.stats.chisquare
  rd_holm                            statsmodels multipletests(method="holm")
  rd_ks_2samp, rd_ks_2samp_p         scipy.stats.ks_2samp (two-sided, method "auto")

Agreement is 1e-12 relative everywhere but in three places where scipy itself is the less
accurate side; each check says why and what it compares instead:
  * t.ppf: scipy's stdtrit is cdflib's cdft, a root search with tolerance ~1e-8 that stops at
    |t| = 1e100 and is off by up to 400% below p ~ 1e-160 (p 4.6e-240, df 57: scipy -468869,
    riskd -111317, and scipy's own t.cdf(-111317, 57) gives back 4.6e-240). Checked: scipy's
    t.cdf of our quantile gives back p to 1e-12 (for |t| > 1e150, where cdflib's t^2
    overflows, our t_cdf, itself checked against scipy), and against t.ppf to 1e-7 where
    p > 1e-100 and |t| < 1e99. Welch's CI uses the same quantile: 1e-7 there too.
  * kstwo.sf computed as 1 - cdf (Durbin, Pomeranz, Pelz-Good regions) and ks_2samp's exact
    n != m count (1 - the inside share): both sides form the sf from a cdf near 1, so they agree
    to ~1e-16 absolute, not relative: compared as |a - b| <= 1e-12 |b| + 1e-15.
  * Wilson, Newcombe and Wald bounds that are 0 or nearly (x = 0, equal rates) are the
    difference of two nearly equal numbers: |a - b| <= 1e-12 |b| + 1e-15, as for kstwo.
  * betainc with a + b > 171 (cephes forms ln B(a, b) as lgam(a) + lgam(b) - lgam(a + b), which
    cancels; riskd uses Stirling's series on the difference): 1e-11 on those cases.
    (mpmath is not installed here to show the third digit; the t distribution, where this
    matters, agrees with cdflib's bratio to 1e-12, which computes it as riskd does.)

Usage: /usr/bin/python3 tests/interop/stats_vs_scipy.py  (RISKD_LIB: the library, default
build/release/libriskd.so; -v prints the worst case of each function). Ends with
"N passed, N failed"; exit 1 on failure.
"""
import ctypes
import math
import os
import sys
import warnings

import numpy as np
from scipy import special, stats
from scipy.stats import _stats_py
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

warnings.simplefilter("ignore")
REL = 1e-12
VERBOSE = "-v" in sys.argv
lib = ctypes.CDLL(os.environ.get("RISKD_LIB", "build/release/libriskd.so"))
D, SZ, U64, I = ctypes.c_double, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_int
PD = ctypes.POINTER(D)


class Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 256)]


class ZTest(ctypes.Structure):
    _fields_ = [("ok", ctypes.c_bool), ("enough", ctypes.c_bool)] + [
        (n, D) for n in ("p1", "p0", "diff", "se_unpooled", "lo", "hi", "z", "p")]


class Welch(ctypes.Structure):
    _fields_ = [("ok", ctypes.c_bool)] + [
        (n, D) for n in ("diff", "se", "t", "df", "p", "lo", "hi", "rel", "rel_se", "rel_lo", "rel_hi")]


def fn(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


C = {n: fn(n, D, *([D] * k)) for n, k in [
    ("rd_gamma_p", 2), ("rd_gamma_q", 2), ("rd_beta_inc", 3), ("rd_norm_cdf", 1), ("rd_norm_sf", 1),
    ("rd_norm_ppf", 1), ("rd_norm_isf", 1), ("rd_t_cdf", 2), ("rd_t_sf", 2), ("rd_t_ppf", 2),
    ("rd_chi2_cdf", 2), ("rd_chi2_sf", 2), ("rd_chi2_isf", 2), ("rd_kolmogorov_sf", 1), ("rd_kstwo_sf", 2)]}
rd_ztest = fn("rd_ztest_2prop", None, U64, U64, U64, U64, D, ctypes.POINTER(ZTest))
rd_wilson = fn("rd_wilson", None, U64, U64, D, PD, PD)
rd_ci_2prop = fn("rd_ci_2prop", None, U64, U64, U64, U64, D, I, PD, PD)
RD_CI = {"newcomb": 0, "wald": 1}  # enum rd_ci_method
rd_welch = fn("rd_welch_t", None, D, D, D, D, D, D, D, ctypes.POINTER(Welch))
rd_chisquare = fn("rd_chisquare", None, PD, PD, SZ, I, PD, PD)
rd_holm = fn("rd_holm", None, PD, SZ, PD)
rd_ks_2samp = fn("rd_ks_2samp", I, PD, SZ, PD, SZ, PD, PD, ctypes.POINTER(Err))
rd_ks_2samp_p = fn("rd_ks_2samp_p", D, D, U64, U64)

passed = failed = 0
worst = {}


def relerr(got, want):
    if (math.isnan(got) and math.isnan(want)) or got == want:
        return 0.0
    if math.isnan(got) or math.isnan(want) or math.isinf(got) or math.isinf(want):
        return math.inf
    return abs(got - want) / abs(want) if want != 0 else abs(got)


def check(name, got, want, rel=REL, absol=0.0, case=""):
    """One comparison; got and want may be scalars or equal-length sequences."""
    global passed, failed
    gs, ws = np.atleast_1d(np.asarray(got, float)), np.atleast_1d(np.asarray(want, float))
    bad, w = False, 0.0
    for g, v in zip(gs, ws):
        e = relerr(float(g), float(v))
        ok = e <= rel or (absol > 0 and abs(g - v) <= rel * abs(v) + absol)
        bad |= not ok
        if e > w and not (math.isinf(e) and ok):
            w = e
    if w >= worst.get(name, (-1.0,))[0]:
        worst[name] = (w, case, gs.tolist()[:4], ws.tolist()[:4])
    if bad or len(gs) != len(ws):
        failed += 1
        print(f"FAIL {name} {case}: got {gs.tolist()[:6]}, want {ws.tolist()[:6]}")
    else:
        passed += 1


rng = np.random.default_rng(20261207)


def logu(lo, hi):
    return 10 ** rng.uniform(lo, hi)


# ---------------------------------------------------------------- special functions
for i in range(300):
    a = logu(-3, 4)
    x = a * logu(-1, 0.6) if i % 3 else a * rng.uniform(0.7, 1.3)  # a third near a ~ x (Temme)
    check("gamma_p", C["rd_gamma_p"](a, x), special.gammainc(a, x), case=f"a={a!r} x={x!r}")
    check("gamma_q", C["rd_gamma_q"](a, x), special.gammaincc(a, x), case=f"a={a!r} x={x!r}")
for a, x in [(1e-3, 1e-300), (0.5, 800.0), (10, 1000.0), (1e4, 1e4), (250.0, 251.5), (3, 0.0)]:
    check("gamma_p", C["rd_gamma_p"](a, x), special.gammainc(a, x), case=f"edge a={a} x={x}")
    check("gamma_q", C["rd_gamma_q"](a, x), special.gammaincc(a, x), case=f"edge a={a} x={x}")
for i in range(250):
    big = i % 5 == 0
    a, b = (logu(1.5, 3), logu(-1.5, 3)) if big else (logu(-2, 1.9), logu(-2, 1.9))
    x = rng.uniform() if i % 2 else rng.uniform() ** 8
    # cephes cancels in ln B(a, b) once a + b > 171 (see the opening comment): 1e-11 there
    check("beta_inc", C["rd_beta_inc"](a, b, x), special.betainc(a, b, x), rel=1e-11 if a + b > 171 else REL,
          case=f"a={a!r} b={b!r} x={x!r}")

# ---------------------------------------------------------------- normal
for x in np.concatenate([rng.uniform(-40, 40, 200), [0.0, 1e-300, -38.5, 37.0, 8.0, -8.0]]):
    check("norm_cdf", C["rd_norm_cdf"](x), stats.norm.cdf(x), absol=1e-320, case=f"x={x!r}")
    check("norm_sf", C["rd_norm_sf"](x), stats.norm.sf(x), absol=1e-320, case=f"x={x!r}")
for p in np.concatenate([10 ** rng.uniform(-300, 0, 200), [1e-320, 0.5, 1 - 1e-16, 0.0, 1.0]]):
    check("norm_ppf", C["rd_norm_ppf"](p), stats.norm.ppf(p), case=f"p={p!r}")
    check("norm_isf", C["rd_norm_isf"](p), stats.norm.isf(p), case=f"p={p!r}")

# ---------------------------------------------------------------- Student's t
for i in range(400):
    df = logu(-1, 12) if i % 4 == 0 else logu(-1, 4)
    x = rng.normal() * logu(-3, 2.5)
    check("t_cdf", C["rd_t_cdf"](x, df), stats.t.cdf(x, df), case=f"x={x!r} df={df!r}")
    check("t_sf", C["rd_t_sf"](x, df), stats.t.sf(x, df), case=f"x={x!r} df={df!r}")
for x, df in [(-40.0, 300.0), (-1e160, 1.5), (-1e30, 25.0), (1e-9, 1e15), (-3.0, math.inf), (0.0, 2.0)]:
    check("t_cdf", C["rd_t_cdf"](x, df), stats.t.cdf(x, df), case=f"edge x={x} df={df}")  # p < 1e-300 too
for i in range(200):
    df, p = logu(-1, 7), (10 ** rng.uniform(-300, 0) if i % 2 else rng.uniform())
    got = C["rd_t_ppf"](p, df)
    if math.isfinite(got):  # round trip through scipy's own cdf (see the opening comment) ...
        back = stats.t.cdf(got, df)
        if abs(got) > 1e150:  # ... but cdflib squares t, which overflows there: our cdf, checked above
            back = C["rd_t_cdf"](got, df)
        check("t_ppf_roundtrip", back, p, rel=1e-12, case=f"p={p!r} df={df!r}")
    want = stats.t.ppf(p, df)
    if p > 1e-100 and abs(want) < 1e99:  # cdflib's search is off by far more in the far tails
        check("t_ppf_vs_cdflib", got, want, rel=1e-7, case=f"p={p!r} df={df!r}")

# ---------------------------------------------------------------- chi-squared
for i in range(250):
    df, x = logu(-1, 5), 0.0
    x = df * logu(-1.5, 0.8) if i % 4 else df + rng.normal() * math.sqrt(2 * df)
    check("chi2_cdf", C["rd_chi2_cdf"](x, df), stats.chi2.cdf(x, df), case=f"x={x!r} df={df!r}")
    check("chi2_sf", C["rd_chi2_sf"](x, df), stats.chi2.sf(x, df), case=f"x={x!r} df={df!r}")
for i in range(200):
    df, p = logu(-1, 5), (10 ** rng.uniform(-300, 0) if i % 2 else rng.uniform())
    check("chi2_isf", C["rd_chi2_isf"](p, df), stats.chi2.isf(p, df), case=f"p={p!r} df={df!r}")
check("chi2_sf", C["rd_chi2_sf"](1500.0, 1.0), stats.chi2.sf(1500.0, 1.0), case="p ~ 1e-330")

# ---------------------------------------------------------------- Kolmogorov
for x in np.concatenate([rng.uniform(0, 4, 100), [0.04, 0.05, 0.82, 0.8200001, 19.0, 27.3]]):
    check("kolmogorov_sf", C["rd_kolmogorov_sf"](x), special.kolmogorov(x), case=f"x={x!r}")


def kstwo_region(n, x):
    t = n * x
    if t <= 1 or t >= n - 1 or x >= 0.5:
        return "closed"
    nx2 = t * x
    if n <= 140:
        return "smirnov" if nx2 > 4 else "cdf"
    return "smirnov" if nx2 >= 2.2 else "cdf"


for i in range(400):
    n = int(logu(0, 6.3))
    x = min(1.0, rng.uniform() ** 2 if i % 3 == 0 else rng.uniform(0.2, 4) / math.sqrt(n))
    # 1 - cdf on both sides: ~1e-16 absolute (opening comment)
    absol = 1e-15 if kstwo_region(n, x) == "cdf" else 0.0
    check("kstwo_sf", C["rd_kstwo_sf"](x, n), stats.kstwo.sf(x, n), absol=absol, case=f"n={n} x={x!r}")

# ---------------------------------------------------------------- z-test
zt = ZTest()
for i in range(150):
    n1, n0 = int(logu(0, 6)), int(logu(0, 6))
    x1, x0 = int(rng.binomial(n1, rng.uniform())), int(rng.binomial(n0, rng.uniform()))
    if i < 6:  # zero successes, all successes, single units
        x1, x0 = [(0, 0), (n1, n0), (0, n0), (n1, 0), (0, 1 if n0 else 0), (1, 1)][i]
        n1, n0 = (1, 1) if i == 5 else (n1, n0)
    rd_ztest(x1, n1, x0, n0, 0.05, ctypes.byref(zt))
    case = f"{x1}/{n1} vs {x0}/{n0}"
    pp = (x1 + x0) / (n1 + n0)
    if 0 < pp < 1:
        z, p = proportions_ztest([x1, x0], [n1, n0])
        check("ztest", [zt.z, zt.p], [z, p], case=case)
    else:
        check("ztest_novar", [zt.z, zt.p], [math.nan, math.nan], case=case)
    lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff", alpha=0.05)
    check("ztest_ci", [zt.diff, zt.lo, zt.hi], [x1 / n1 - x0 / n0, lo, hi], rel=1e-12, absol=1e-15, case=case)
    enough = min(x1, n1 - x1, x0, n0 - x0) >= 10
    check("ztest_enough", float(zt.enough), float(enough), case=case)

# ---------------------------------------------------------------- Wilson, Newcombe, Wald
# A generator of its own, so that the cases of the other sections stay those they were.
rci = np.random.default_rng(20261208)
lo_, hi_ = D(), D()


def ci_count(n):
    """x of n: the edges 0 and n often, else a binomial draw at a rate spread over (0, 1)."""
    r = rci.uniform()
    if r < 0.15:
        return 0
    if r < 0.3:
        return n
    p = rci.uniform() ** 3 if r < 0.5 else 1 - rci.uniform() ** 3 if r < 0.7 else rci.uniform()
    return int(rci.binomial(n, p))


def ci_alpha():
    return 0.05 if rci.uniform() < 0.3 else float(10 ** rci.uniform(-6, math.log10(0.5)))


for i in range(1000):
    n = int(10 ** rci.uniform(0, 7)) if i % 10 else int(rci.integers(1, 6))  # 1 to 1e7, a tenth at 1-5
    x, a = ci_count(n), ci_alpha()
    rd_wilson(x, n, a, ctypes.byref(lo_), ctypes.byref(hi_))
    lo, hi = proportion_confint(x, n, alpha=a, method="wilson")
    check("wilson", [lo_.value, hi_.value], [lo, hi], absol=1e-15, case=f"{x}/{n} alpha={a!r}")
for i in range(1000):
    n1, n0 = (int(10 ** rci.uniform(0, 7)) if i % 10 else int(rci.integers(1, 6)) for _ in range(2))
    x1, x0, a = ci_count(n1), ci_count(n0), ci_alpha()
    for m in ("newcomb", "wald"):
        rd_ci_2prop(x1, n1, x0, n0, a, RD_CI[m], ctypes.byref(lo_), ctypes.byref(hi_))
        lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method=m, compare="diff", alpha=a)
        check(f"ci_2prop_{m}", [lo_.value, hi_.value], [lo, hi], absol=1e-15,
              case=f"{x1}/{n1} vs {x0}/{n0} alpha={a!r}")
# outside the domain: NaN bounds, riskd's own rule (stats.h), where statsmodels warns or returns garbage
for x, n, a in [(0, 0, 0.05), (3, 2, 0.05), (1, 2, 0.0), (1, 2, 1.0), (1, 2, math.nan)]:
    rd_wilson(x, n, a, ctypes.byref(lo_), ctypes.byref(hi_))
    check("wilson_domain", [lo_.value, hi_.value], [math.nan, math.nan], case=f"{x}/{n} alpha={a!r}")
    for m in ("newcomb", "wald"):
        rd_ci_2prop(x, n, 1, 2, a, RD_CI[m], ctypes.byref(lo_), ctypes.byref(hi_))
        check("ci_2prop_domain", [lo_.value, hi_.value], [math.nan, math.nan], case=f"{m} {x}/{n} alpha={a!r}")

# ---------------------------------------------------------------- Welch
wl = Welch()
for i in range(150):
    n1, n0 = int(logu(0.31, 4.5)), int(logu(0.31, 4.5))
    a = rng.normal(rng.uniform(-1, 1), logu(-2, 2), n1)
    b = rng.normal(rng.uniform(-1, 1), logu(-2, 2), n0)
    if i % 10 == 1:
        a, b = np.round(a), np.round(b)  # ties
    if i % 10 == 2:
        b = a.copy()  # identical samples
    if i % 10 == 3:
        a, b = np.full(n1, 3.0), np.full(n0, 2.5)  # no variance at all
    m1, v1, m0, v0 = a.mean(), a.var(ddof=1), b.mean(), b.var(ddof=1)
    rd_welch(m1, v1, n1, m0, v0, n0, 0.05, ctypes.byref(wl))
    r = stats.ttest_ind(a, b, equal_var=False)
    case = f"n1={n1} n0={n0} i={i}"
    check("welch_t_p", [wl.t, wl.p], [r.statistic, r.pvalue], case=case)
    df, den = _stats_py._unequal_var_ttest_denom(v1, n1, v0, n0)
    check("welch_df_se", [wl.df, wl.se], [df, den], case=case)
    crit = stats.t.isf(0.025, df)  # the CI only; its quantile is cdflib's (1e-8, opening comment)
    check("welch_ci", [wl.lo, wl.hi], [(m1 - m0) - crit * den, (m1 - m0) + crit * den], rel=1e-7, case=case)
    if m0 != 0:
        rel_se = math.sqrt(v0 * m1 * m1 / (m0 ** 4 * n0) + v1 / (m0 * m0 * n1))  # details.mdx eq 2
        check("welch_lift", [wl.rel, wl.rel_se], [(m1 - m0) / m0, rel_se], rel=1e-12, absol=1e-300, case=case)
# p-values below 1e-300 (t ~ 38.5, df ~ 10,000; one subnormal), and a huge df
for m1, n in [(0.77, 5000), (0.78, 5000), (0.01, 5e7)]:
    rd_welch(m1, 1.0, n, 0.0, 1.0, n, 0.05, ctypes.byref(wl))
    r = stats.ttest_ind_from_stats(m1, 1.0, n, 0.0, 1.0, n, equal_var=False)
    check("welch_t_p", [wl.t, wl.p], [r.statistic, r.pvalue], case=f"m1={m1} n={n} p={r.pvalue:.3g}")

# ---------------------------------------------------------------- chi-squared goodness of fit
o2, p2 = D(), D()
for i in range(60):
    k = int(rng.integers(2, 12))
    obs = rng.poisson(logu(0, 4), k).astype(float)
    exp = rng.uniform(0.5, 2, k) * obs.sum() / k + 1
    exp = exp / exp.sum() * obs.sum()
    if i % 3 == 0:
        exp = None
    ddof = int(rng.integers(0, 2)) if k > 3 else 0
    earg = None if exp is None else exp.ctypes.data_as(PD)
    rd_chisquare(obs.ctypes.data_as(PD), earg, k, ddof, ctypes.byref(o2), ctypes.byref(p2))
    r = stats.chisquare(obs, exp, ddof=ddof)
    check("chisquare", [o2.value, p2.value], [r.statistic, r.pvalue], rel=1e-12, absol=1e-300, case=f"k={k}")

# ---------------------------------------------------------------- Holm
for i in range(60):
    n = int(rng.integers(1, 25))
    p = rng.uniform(size=n) ** 4
    if i % 4 == 0:
        p[rng.integers(0, n)] = math.nan
    if i % 5 == 0:
        p = np.round(p, 2)  # ties
    adj = np.empty(n)
    rd_holm(p.ctypes.data_as(PD), n, adj.ctypes.data_as(PD))
    want = np.full(n, math.nan)
    ok = ~np.isnan(p)
    if ok.any():
        want[ok] = multipletests(p[ok], method="holm")[1]  # NaN: left out, as documented
    check("holm", adj, want, case=f"n={n}")

# ---------------------------------------------------------------- two-sample KS
d2, pk, er = D(), D(), Err()


def ks_case(a, b, case):
    a, b = np.ascontiguousarray(a, float), np.ascontiguousarray(b, float)
    rc = rd_ks_2samp(a.ctypes.data_as(PD), len(a), b.ctypes.data_as(PD), len(b), ctypes.byref(d2),
                     ctypes.byref(pk), ctypes.byref(er))
    r = stats.ks_2samp(a, b)
    # the exact n != m count is 1 - an inside share: ~1e-16 absolute (opening comment)
    check("ks_2samp", [rc, d2.value, pk.value], [0, r.statistic, r.pvalue], absol=1e-15, case=case)


for i in range(70):
    n, m = int(logu(0, 3.5)), int(logu(0, 3.5))
    if i % 7 == 0:
        m = n
    a, b = rng.normal(0, 1, n), rng.normal(rng.uniform(0, 0.5), 1, m)
    if i % 7 == 1:
        a, b = np.round(a, 1), np.round(b, 1)
    ks_case(a, b, f"n={n} m={m} i={i}")
ks_case([1.0], [2.0], "one value each")
ks_case([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "identical samples")
ks_case(np.arange(50.0), np.arange(50.0) + 100, "disjoint")
ks_case(np.arange(3000.0), np.arange(3000.0) + 1500, "p below 1e-300")
ks_case(rng.normal(size=12000), rng.normal(0.02, 1, 300), "asymptotic (n > 10000)")
ks_case(rng.normal(size=20000), rng.normal(0.05, 1, 15000), "asymptotic, both large")
for i in range(100):
    n, m = int(logu(0, 3.3)), int(logu(0, 3.3))
    h = int(rng.integers(0, n * m // math.gcd(n, m) + 1))
    d = h / (n * m // math.gcd(n, m))
    got = rd_ks_2samp_p(d, n, m)
    g = math.gcd(n, m)
    ok, d2r, pr = _stats_py._attempt_exact_2kssamp(n, m, g, d, "two-sided")
    if not ok:
        en = n * m / (n + m)
        pr = stats.kstwo.sf(d, round(en))
    check("ks_2samp_p", got, np.clip(pr, 0, 1), absol=1e-15, case=f"d={d!r} n={n} m={m}")
check("ks_2samp_p", rd_ks_2samp_p(0.03, 200000, 150000),
      stats.kstwo.sf(0.03, round(200000 * 150000 / 350000)), case="asymptotic")

if VERBOSE:
    for name, (w, case, g, v) in sorted(worst.items()):
        print(f"worst {name:18s} {w:.3g}  {case}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
