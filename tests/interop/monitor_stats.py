#!/usr/bin/python3
"""The monitoring statistics of libriskd (src/lib/stats/drift.c, dist.c) against independent
references, to 1e-12 relative, on random cases drawn with a fixed seed (sizes from a handful
to tens of thousands, tied and discrete values, skewed arms):

  rd_psi                 a direct numpy evaluation of the formula (shared/reference §2.3)
  rd_psi_noise_floor     (1/n + 1/m) * scipy.stats.chi2.isf(alpha, B - 1)
  rd_chi2_sf, _isf       scipy.stats.chi2.sf, .isf
  rd_ks_grid + rd_ks_cell + rd_ks_stat
                         scipy.stats.ks_2samp(q, current).statistic, q the reference quantiles
  rd_ks_discrimination   scipy.stats.ks_2samp(bad, good).statistic
  rd_srm                 scipy.stats.chisquare(observed, f_exp) over the weighted arms
  rd_cs_halfwidth, rd_seq_rate_harm
                         a direct Python evaluation of the §2.7 formulas

Usage: /usr/bin/python3 tests/interop/monitor_stats.py  (RISKD_LIB: the library, default
build/release/libriskd.so). One line per check, then "N passed, N failed"; exit 1 on failure.
"""
import ctypes
import math
import os
import sys

import numpy as np
from scipy import stats

REL = 1e-12
TINY = 1e-290  # below this a p-value is subnormal or nearly so: compared as "both tiny"

lib = ctypes.CDLL(os.environ.get("RISKD_LIB", "build/release/libriskd.so"))


class Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class KsGrid(ctypes.Structure):
    _fields_ = [("k", ctypes.c_size_t), ("j", ctypes.c_size_t),
                ("u", ctypes.POINTER(ctypes.c_double)), ("cdf", ctypes.POINTER(ctypes.c_double))]


class SrmResult(ctypes.Structure):
    _fields_ = [("chi2", ctypes.c_double), ("p", ctypes.c_double), ("verdict", ctypes.c_int),
                ("why", ctypes.c_char * 160)]


class SeqResult(ctypes.Structure):
    _fields_ = [("delta", ctypes.c_double), ("se", ctypes.c_double), ("halfwidth", ctypes.c_double),
                ("lower", ctypes.c_double), ("verdict", ctypes.c_int)]


D, SZ, U64 = ctypes.c_double, ctypes.c_size_t, ctypes.c_uint64
PD, PU64 = ctypes.POINTER(D), ctypes.POINTER(U64)


def fn(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


rd_psi = fn("rd_psi", D, PD, PD, SZ, D)
rd_psi_noise_floor = fn("rd_psi_noise_floor", D, D, D, SZ, D)
rd_chi2_sf = fn("rd_chi2_sf", D, D, D)
rd_chi2_isf = fn("rd_chi2_isf", D, D, D)
rd_ks_grid_init = fn("rd_ks_grid_init", ctypes.c_int, ctypes.POINTER(KsGrid), PD, SZ, ctypes.POINTER(Err))
rd_ks_grid_free = fn("rd_ks_grid_free", None, ctypes.POINTER(KsGrid))
rd_ks_cell = fn("rd_ks_cell", SZ, ctypes.POINTER(KsGrid), D)
rd_ks_stat = fn("rd_ks_stat", D, ctypes.POINTER(KsGrid), PU64)
rd_ks_discrimination = fn("rd_ks_discrimination", D, PD, ctypes.POINTER(ctypes.c_int), SZ)
rd_srm = fn("rd_srm", None, PU64, PD, SZ, D, ctypes.POINTER(SrmResult))
rd_cs_halfwidth = fn("rd_cs_halfwidth", D, D, D, D, D, ctypes.c_bool)
rd_seq_rate_harm = fn("rd_seq_rate_harm", None, U64, U64, U64, U64, D, D, ctypes.POINTER(SeqResult))
rd_verdict_name = fn("rd_verdict_name", ctypes.c_char_p, ctypes.c_int)

passed = failed = 0


def check(name, got, want, tiny=0.0):
    """got within REL of want (both NaN, or both below tiny, also agree)."""
    global passed, failed
    if math.isnan(want):
        ok = math.isnan(got)
    elif abs(want) <= tiny:
        ok = abs(got) <= tiny * 1.0001
    else:
        ok = abs(got - want) <= REL * abs(want)
    rel = abs(got - want) / abs(want) if want and not math.isnan(want) else abs(got - want)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {got!r} vs {want!r} (rel {rel:.2e})")
    if ok:
        passed += 1
    else:
        failed += 1


def check_true(name, cond, detail=""):
    global passed, failed
    print(f"{'ok  ' if cond else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if cond:
        passed += 1
    else:
        failed += 1


def dptr(a):
    a = np.ascontiguousarray(a, dtype=np.float64)
    return a, a.ctypes.data_as(PD)


rng = np.random.default_rng(20240612)

# ---------------------------------------------------------------- PSI


def psi_numpy(ref, cur, eps):
    e = ref / ref.sum()
    a = cur / cur.sum()
    e = np.where(e == 0, eps, e)
    a = np.where(a == 0, eps, a)
    return float(np.sum((a - e) * np.log(a / e)))


for case in range(150):
    nb = int(rng.integers(2, 60))
    n = int(rng.choice([50, 1000, 100000, 3000000]))
    m = int(rng.choice([20, 200, 1000, 20000]))
    p = rng.dirichlet(np.full(nb, rng.choice([0.3, 1.0, 10.0])))
    ref = rng.multinomial(n, p).astype(float)
    shift = p if case % 3 == 0 else rng.dirichlet(np.full(nb, 1.0))
    cur = rng.multinomial(m, shift).astype(float)
    if case % 5 == 0:  # empty bins on both sides, some shared
        ref[rng.integers(0, nb)] = 0
        cur[rng.integers(0, nb)] = 0
    if ref.sum() == 0 or cur.sum() == 0:
        continue
    eps = 1e-4 if case % 7 else 1e-6
    r, rp = dptr(ref)
    c, cp = dptr(cur)
    check(f"psi[{case}] bins {nb} n {n} m {m}", rd_psi(rp, cp, nb, eps), psi_numpy(ref, cur, eps))

# ---------------------------------------------------------------- chi-squared, noise floor

for case in range(150):
    df = float(rng.choice([1, 2, 3, 4, 9, 10, 25, 99, 250, 1000])) if case % 2 else float(rng.uniform(0.5, 300))
    p = float(10 ** rng.uniform(-100, -0.3)) if case % 3 else float(rng.uniform(0.5, 1 - 1e-9))
    check(f"chi2_isf[{case}] p {p:.3g} df {df:g}", rd_chi2_isf(p, df), float(stats.chi2.isf(p, df)))
    x = float(stats.chi2.isf(p, df)) * (1 + rng.uniform(-0.1, 0.1))
    check(f"chi2_sf[{case}] x {x:.6g} df {df:g}", rd_chi2_sf(x, df), float(stats.chi2.sf(x, df)), TINY)

for case in range(80):
    n = float(rng.choice([1000, 4454, 100000, 1e6]))
    m = float(rng.choice([100, 200, 500, 1000, 5000, 20000, 123457]))
    nb = int(rng.integers(2, 120))
    alpha = float(rng.choice([0.001, 0.01, 0.05, 10 ** rng.uniform(-8, -0.5)]))
    want = (1 / n + 1 / m) * float(stats.chi2.isf(alpha, nb - 1))
    check(f"noise_floor[{case}] n {n:g} m {m:g} B {nb} alpha {alpha:.3g}", rd_psi_noise_floor(n, m, nb, alpha), want)

# ---------------------------------------------------------------- KS drift


def draw(kind, size):
    if kind == "normal":
        return rng.normal(0, 1, size)
    if kind == "skewed":
        return rng.lognormal(0, 1.2, size)
    if kind == "discrete":
        return rng.integers(0, 6, size).astype(float)
    if kind == "rounded":
        return np.round(rng.normal(600, 60, size), -1)
    return rng.beta(0.5, 3, size)  # scores in [0, 1], skewed


KINDS = ["normal", "skewed", "discrete", "rounded", "beta"]

for case in range(120):
    kind = KINDS[case % len(KINDS)]
    nref = int(rng.choice([5, 50, 999, 1000, 4454, 30000]))
    refs = np.sort(draw(kind, nref))
    if nref >= 1000:  # as bundle build stores them: 1,000 quantiles at (i + 0.5) / 1000, linear
        q = np.quantile(refs, (np.arange(1000) + 0.5) / 1000)
    else:  # fewer values than quantiles: the sorted values themselves
        q = refs
    m = int(rng.choice([1, 7, 100, 1000, 5000]))
    cur = draw(KINDS[(case + case // 5) % len(KINDS)] if case % 4 == 0 else kind, m)
    if case % 3 == 0:  # values on the grid itself: ties with the quantiles
        k = m // 2
        cur[:k] = rng.choice(q, k)
    if case % 6 == 1:
        cur = cur * 1.05 + 0.1
    g = KsGrid()
    err = Err()
    qa, qp = dptr(q)
    rc = rd_ks_grid_init(ctypes.byref(g), qp, len(q), ctypes.byref(err))
    if rc != 0:
        check_true(f"ks_grid[{case}] init", False, err.msg.decode())
        continue
    cells = (U64 * (2 * g.j + 1))()
    for x in cur:
        cells[rd_ks_cell(ctypes.byref(g), float(x))] += 1
    got = rd_ks_stat(ctypes.byref(g), cells)
    want = float(stats.ks_2samp(q, cur).statistic)
    check(f"ks_drift[{case}] {kind} K {len(q)} distinct {g.j} m {m}", got, want)
    rd_ks_grid_free(ctypes.byref(g))

# ---------------------------------------------------------------- KS discrimination

for case in range(100):
    n = int(rng.choice([4, 30, 500, 4454, 20000]))
    rate = float(rng.choice([0.02, 0.1, 0.3, 0.5]))
    label = (rng.random(n) < rate).astype(np.int32)
    label[0], label[-1] = 1, 0  # both classes present
    score = rng.normal(label * rng.uniform(0, 2), 1)
    if case % 3 == 0:
        score = np.round(score, 1)  # ties within and across the classes
    if case % 4 == 1:
        score = rng.integers(0, 5, n).astype(float) + label * (rng.random(n) < 0.3)
    if case % 5 == 2:
        label[rng.random(n) < 0.05] = 2  # not an outcome: skipped
    sa, sp = dptr(score)
    la = np.ascontiguousarray(label, dtype=np.int32)
    got = rd_ks_discrimination(sp, la.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), n)
    want = float(stats.ks_2samp(score[label == 1], score[label == 0]).statistic)
    check(f"ks_discrimination[{case}] n {n} bad rate {rate}", got, want)

# ---------------------------------------------------------------- SRM

for case in range(120):
    k = int(rng.integers(2, 7))
    w = rng.choice([1.0, 5.0, 50.0, 100.0, 99900.0], k)
    if case % 4 == 0:
        w[int(rng.integers(0, k))] = 0
        if (w > 0).sum() < 2:
            w[0] = w[1] = 50.0
    if case % 5 == 0:  # 100,000-unit stage weights (§2.1): 0.1 % vs 99.9 %
        w = np.zeros(k)
        w[0], w[1] = 100, 99900
    total = int(rng.choice([40, 1000, 20000, 1000000]))
    p = w / w.sum()
    if case % 3 == 1:  # a real mismatch
        p = p * rng.uniform(0.8, 1.2, k)
        p[w == 0] = 0
        p = p / p.sum()
    obs = rng.multinomial(total, p).astype(np.uint64)
    wa, wp = dptr(w)
    oa = np.ascontiguousarray(obs, dtype=np.uint64)
    r = SrmResult()
    rd_srm(oa.ctypes.data_as(PU64), wp, k, 0.001, ctypes.byref(r))
    pos = w > 0
    fo = obs[pos].astype(float)
    fe = w[pos] / w[pos].sum() * fo.sum()
    chi2, pv = stats.chisquare(fo, fe)
    check(f"srm[{case}] chi2 k {k} n {total}", r.chi2, float(chi2))
    check(f"srm[{case}] p k {k} n {total}", r.p, float(pv), TINY)
    want = "inconclusive" if (fo < 8).any() else "fail" if pv < 0.001 else "pass"
    got = rd_verdict_name(r.verdict).decode()
    check_true(f"srm[{case}] verdict", got == want, f"{got} ({r.why.decode()}), want {want}")

# ---------------------------------------------------------------- confidence sequences


def cs_py(se, n, nstar, alpha, one_sided):
    a = 2 * alpha if one_sided else alpha
    rho = math.sqrt((-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / nstar)
    f = 2 * (n * rho ** 2 + 1) / (n ** 2 * rho ** 2)
    if one_sided:
        return se * math.sqrt(n) * math.sqrt(f * math.log(1 + math.sqrt(n * rho ** 2 + 1) / (2 * alpha)))
    return se * math.sqrt(n) * math.sqrt(f * math.log(math.sqrt(n * rho ** 2 + 1) / alpha))


for case in range(100):
    se = float(10 ** rng.uniform(-5, 0))
    n = float(rng.choice([1, 10, 500, 5000, 123456, 1e7]))
    nstar = float(rng.choice([100, 5000, 1e5]))
    alpha = float(rng.choice([0.001, 0.01, 0.05, 0.1, rng.uniform(1e-6, 0.49)]))
    one = bool(case % 2)
    check(f"cs_halfwidth[{case}] n {n:g} n* {nstar:g} alpha {alpha:.3g} {'one' if one else 'two'}-sided",
          rd_cs_halfwidth(se, n, nstar, alpha, one), cs_py(se, n, nstar, alpha, one))

for case in range(60):
    n1, n0 = int(rng.choice([50, 1000, 30000])), int(rng.choice([50, 1000, 30000]))
    p0 = float(rng.choice([0.01, 0.05, 0.2]))
    x0 = int(rng.binomial(n0, p0))
    x1 = int(rng.binomial(n1, p0 * float(rng.choice([1.0, 1.2, 2.0]))))
    r = SeqResult()
    rd_seq_rate_harm(x1, n1, x0, n0, 5000, 0.05, ctypes.byref(r))
    q1, q0 = x1 / n1, x0 / n0
    se = math.sqrt(q1 * (1 - q1) / n1 + q0 * (1 - q0) / n0)
    lower = (q1 - q0) - cs_py(se, n1 + n0, 5000, 0.05, True)
    check(f"seq_rate_harm[{case}] {x1}/{n1} vs {x0}/{n0} lower", r.lower, lower)
    want = "fail" if lower > 0 else "pass"
    got = rd_verdict_name(r.verdict).decode()
    check_true(f"seq_rate_harm[{case}] verdict", got == want, f"{got}, want {want}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
