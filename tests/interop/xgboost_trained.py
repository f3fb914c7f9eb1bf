#!/usr/bin/python3
"""riskd's XGBoost predictor against XGBoost itself, on models trained here and now.

    RISKD_BIN=build/riskd python3 tests/interop/xgboost_trained.py

The shared credit model (binary:logistic, numeric features, base_score 0.5) is covered by
the conformance test. This trains small models with Debian's python3-xgboost (1.7.4) on the
other shared data sets to cover what that model does not: native categorical splits
(partition-based and one-hot, pandas category dtype, hist), multi:softprob and
multi:softmax, reg:squarederror, count:poisson, reg:gamma, reg:tweedie, binary:logitraw,
missing values (NaN in training and test rows, rows whose path meets a missing split
feature), the dart booster, base_score other than 0.5 and models without feature names.

For each case: train (nthread=1, fixed seeds), save the model JSON, reload it, and write
the input matrix riskd reads (floats as repr(), so they read back exactly; empty = NaN;
categorical columns as the category codes XGBoost compares, i.e. pandas' cat.codes with -1
as missing). Extra rows put numeric split features exactly on, just below and (in double)
just around a split condition, and categorical features on odd codes (negative,
fractional, past the split's bitset, past 2^24). XGBoost's own predict(output_margin=True)
and predict() of the reloaded model are compared bit for bit with `riskd predict --output
raw` and `--output probability` (riskd prints %.9g of a float32; parsed with
numpy.float32). Every file stays in build/xgb-trained/ for inspection.

Output: one line per case, then "N passed, N failed"; exit 1 on any failure. Without the
shared data: "skipped: shared data not present" and every case skipped. Without
python3-xgboost: "skipped: python3-xgboost not installed", "0 passed, 0 failed, 1 skipped",
exit 0.
"""
import os
import subprocess
import sys
import time

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-xgboost lives in its dist-packages


def import_or_skip():
    """Import numpy, pandas and xgboost; else re-run under Debian's python3 (a pyenv or venv
    python3 first on PATH does not see python3-xgboost); else print the skip lines."""
    missing = None
    for pkg, module in (("python3-xgboost", "xgboost"), ("python3-pandas", "pandas")):
        try:
            __import__(module)
        except ImportError:
            missing = missing or pkg  # xgboost first: without numpy it fails too
    if missing is None:
        return
    here = os.path.realpath(sys.executable or "")
    if (os.environ.get("RISKD_XGB_REEXEC") != "1" and os.access(SYSTEM_PYTHON, os.X_OK)
            and here != os.path.realpath(SYSTEM_PYTHON)):
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import numpy, pandas, xgboost"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            env = dict(os.environ, RISKD_XGB_REEXEC="1")
            sys.stdout.flush()
            os.execve(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv, env)
    print(f"skipped: {missing} not installed")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)


import_or_skip()

import json  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RISKD = os.environ.get("RISKD_BIN") or os.path.join(ROOT, "build", "riskd")
SHARED = os.environ.get("RISKD_SHARED") or os.path.join(ROOT, "..", "shared")
DATA = os.path.join(SHARED, "data")
WORK = os.path.join(ROOT, "build", "xgb-trained")
F32 = np.float32
NTHREAD = 1


# ------------------------------------------------------------------ data helpers

def load(name):
    return pd.read_csv(os.path.join(DATA, name), keep_default_na=False, na_values=[""])


def yes_no(df):
    """yes/no columns -> 1.0/0.0 (the numeric encodings)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and set(out[c].dropna().unique()) <= {"yes", "no"}:
            out[c] = (out[c] == "yes").astype(np.float64)
    return out


def split(n, seed, test_frac=0.3):
    perm = np.random.RandomState(seed).permutation(n)
    nt = int(round(n * test_frac))
    return np.sort(perm[nt:]), np.sort(perm[:nt])


def inject_nan(X, rate, seed):
    X = np.array(X, dtype=np.float64, copy=True)
    X[np.random.RandomState(seed).random_sample(X.shape) < rate] = np.nan
    return X


# Extra (never trained on) levels appended to each categorical dtype, so test rows can carry
# codes past every split's category bitset, including past its first 32-bit word.
FILLER_LEVELS = [f"zz_unseen_{i:02d}" for i in range(40)]


def as_categories(df, cols, train_idx):
    """pandas category dtype with the training levels (sorted) then FILLER_LEVELS."""
    out = df.copy()
    for c in cols:
        levels = sorted(df[c].iloc[train_idx].dropna().unique()) + FILLER_LEVELS
        out[c] = pd.Categorical(df[c], categories=levels)
    return out


def category_codes(df, cat_cols):
    """The float matrix XGBoost builds from a DataFrame: numeric columns as they are,
    category columns as cat.codes with -1 (missing) -> NaN (xgboost/data.py,
    _pandas_cat_null in 1.7.4)."""
    cols = []
    for c in df.columns:
        if c in cat_cols:
            codes = df[c].cat.codes.to_numpy().astype(np.float64)
            codes[codes == -1] = np.nan
            cols.append(codes)
        else:
            cols.append(df[c].to_numpy(dtype=np.float64))
    return np.column_stack(cols)


def odd_category_rows(X, cat_idx, seed):
    """Copies of test rows with categorical features on codes XGBoost never produces from
    pandas: negative, fractional, on and past the 32-bit bitset words, near 2^24, huge."""
    odd = [-1.0, -0.5, -1e-30, 0.0, 0.5, 1.999, 2.5, 5.0, 6.0, 31.0, 31.5, 32.0, 33.0, 45.0,
           63.0, 64.0, 1000.0, 16777215.0, 16777216.0, 16777217.0, 3e9, 1e30]
    rng = np.random.RandomState(seed)
    rows = []
    for j in cat_idx:
        for v in odd:
            r = X[rng.randint(len(X))].copy()
            r[j] = v
            rows.append(r)
    return np.array(rows)


# ------------------------------------------------------------------ model helpers

def model_trees(mj):
    gb = mj["learner"]["gradient_booster"]
    model = gb["gbtree"]["model"] if gb["name"] == "dart" else gb["model"]
    return model["trees"]


def threshold_rows(mj, X, cat_features, n_nodes, seed):
    """For n_nodes numeric splits: a test row with the split feature exactly on the
    condition, one float32 ulp below it, and two doubles between those two float32s (one
    rounds up to the condition, one down), so both `x < cond` and the double -> float32
    cast of the input are exercised."""
    splits = []
    for t in model_trees(mj):
        st = t.get("split_type") or [0] * len(t["left_children"])
        for i, left in enumerate(t["left_children"]):
            if left != -1 and st[i] == 0 and t["split_indices"][i] not in cat_features:
                splits.append((t["split_indices"][i], F32(t["split_conditions"][i])))
    rng = np.random.RandomState(seed)
    rows = []
    for k in rng.permutation(len(splits))[:n_nodes]:
        f, c = splits[k]
        lo = np.nextafter(c, F32(-np.inf))
        gap = float(c) - float(lo)
        for v in (float(c), float(lo), float(c) - gap / 4, float(c) - gap * 3 / 4):
            r = X[rng.randint(len(X))].copy()
            r[f] = v
            rows.append(r)
    return np.array(rows).reshape(-1, X.shape[1])


def path_stats(mj, X):
    """Rows whose path in at least one tree meets a missing (NaN) split feature."""
    hit = np.zeros(len(X), dtype=bool)
    for t in model_trees(mj):
        left = np.asarray(t["left_children"])
        right = np.asarray(t["right_children"])
        feat = np.asarray(t["split_indices"])
        cond = np.asarray(t["split_conditions"], dtype=np.float32)
        dleft = np.asarray(t["default_left"]).astype(bool)
        stype = np.asarray(t.get("split_type") or [0] * len(left))
        cats = {}
        for k, nid in enumerate(t.get("categories_nodes", [])):
            s = t["categories_segments"][k]
            cats[nid] = np.asarray(t["categories"][s:s + t["categories_sizes"][k]])
        node = np.zeros(len(X), dtype=np.int64)
        active = left[node] != -1
        while active.any():
            idx = np.nonzero(active)[0]
            n = node[idx]
            v = X[idx, feat[n]].astype(np.float32)
            miss = np.isnan(v)
            hit[idx[miss]] = True
            go_left = v < cond[n]
            for j in np.nonzero(stype[n] == 1)[0]:  # category in the set goes right
                x = v[j]
                valid = x >= 0 and x < 16777216
                go_left[j] = not (valid and int(x) in cats[n[j]])
            go_left = np.where(miss, dleft[n], go_left)
            node[idx] = np.where(go_left, left[n], right[n])
            active = left[node] != -1
    return int(hit.sum())


# ------------------------------------------------------------------ cases
#
# Each returns: params, rounds, dtrain, X_test (float64, NaN = missing, as XGBoost sees it),
# feature names (None: the model stores none), feature types, categorical feature indices,
# and optionally (pandas test frame, n rows of X_test it covers) to check the codes.

def case_credit_cat_partition():
    """credit_data, Status; Home/Marital/Records/Job as pandas categories (with their NaN),
    partition-based categorical splits (max_cat_to_onehot=1); NaN in Income/Assets/Debt."""
    df = load("credit_data.csv")
    y = (df["Status"] == "bad").astype(int).to_numpy()
    X = df.drop(columns=["Status"])
    cat_cols = ["Home", "Marital", "Records", "Job"]
    tr, te = split(len(df), 11)
    X = as_categories(X, cat_cols, tr)
    te_df = X.iloc[te].copy()
    # Test rows on levels training never saw (codes 6.. up to 45, past the first bitset word).
    rng = np.random.RandomState(12)
    for c in cat_cols:
        rows = rng.choice(len(te_df), 25, replace=False)
        te_df.iloc[rows, te_df.columns.get_loc(c)] = rng.choice(FILLER_LEVELS, 25)
    dtrain = xgb.DMatrix(X.iloc[tr], label=y[tr], enable_categorical=True, nthread=NTHREAD)
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 5,
              "eta": 0.3, "max_cat_to_onehot": 1, "subsample": 0.9, "seed": 3,
              "nthread": NTHREAD}
    names = list(X.columns)
    types = ["c" if c in cat_cols else "q" for c in names]
    cat_idx = [names.index(c) for c in cat_cols]
    Xt = category_codes(te_df, cat_cols)
    Xt = np.vstack([Xt, odd_category_rows(Xt, cat_idx, 13)])
    return params, 40, dtrain, Xt, names, types, cat_idx, (te_df, len(te_df))


def case_credit_cat_onehot_softprob():
    """credit_data, Job (4 classes) from the rest; Home/Marital/Records as categories split
    one-hot style (max_cat_to_onehot=8); multi:softprob."""
    df = load("credit_data.csv")
    df = df[df["Job"].notna()].reset_index(drop=True)
    jobs = sorted(df["Job"].unique())
    y = df["Job"].map({j: i for i, j in enumerate(jobs)}).to_numpy()
    X = df.drop(columns=["Job"])
    cat_cols = ["Status", "Home", "Marital", "Records"]
    tr, te = split(len(df), 21)
    X = as_categories(X, cat_cols, tr)
    te_df = X.iloc[te].copy()
    dtrain = xgb.DMatrix(X.iloc[tr], label=y[tr], enable_categorical=True, nthread=NTHREAD)
    params = {"objective": "multi:softprob", "num_class": len(jobs), "tree_method": "hist",
              "max_depth": 4, "eta": 0.3, "max_cat_to_onehot": 8, "colsample_bytree": 0.8,
              "seed": 5, "nthread": NTHREAD}
    names = list(X.columns)
    types = ["c" if c in cat_cols else "q" for c in names]
    cat_idx = [names.index(c) for c in cat_cols]
    Xt = category_codes(te_df, cat_cols)
    Xt = np.vstack([Xt, odd_category_rows(Xt, cat_idx, 23)])
    return params, 15, dtrain, Xt, names, types, cat_idx, (te_df, len(te_df))


def case_hmda_softmax_nonames():
    """HMDA, mhist (4 classes) from the rest as a bare numpy matrix (no feature names),
    10% NaN injected in training and test; multi:softmax, approx, base_score 0.2,
    num_parallel_tree 2."""
    df = yes_no(load("HMDA.csv"))
    y = df["mhist"].to_numpy().astype(int) - 1
    X = inject_nan(df.drop(columns=["mhist"]).to_numpy(dtype=np.float64), 0.10, 31)
    tr, te = split(len(df), 32)
    dtrain = xgb.DMatrix(X[tr], label=y[tr], missing=np.nan, nthread=NTHREAD)
    params = {"objective": "multi:softmax", "num_class": 4, "tree_method": "approx",
              "max_depth": 4, "eta": 0.3, "base_score": 0.2, "num_parallel_tree": 2,
              "subsample": 0.8, "colsample_bynode": 0.8, "seed": 7, "nthread": NTHREAD}
    return params, 10, dtrain, X[te], None, None, [], None


def case_hmda_logistic_base_score():
    """HMDA, deny; binary:logistic with base_score 0.12 (about the deny rate), exact,
    8% NaN injected."""
    df = yes_no(load("HMDA.csv"))
    y = df["deny"].to_numpy().astype(int)
    Xdf = df.drop(columns=["deny"])
    X = inject_nan(Xdf.to_numpy(dtype=np.float64), 0.08, 41)
    tr, te = split(len(df), 42)
    names = list(Xdf.columns)
    dtrain = xgb.DMatrix(X[tr], label=y[tr], missing=np.nan, feature_names=names,
                         nthread=NTHREAD)
    params = {"objective": "binary:logistic", "tree_method": "exact", "max_depth": 6,
              "eta": 0.2, "base_score": 0.12, "min_child_weight": 0.5, "seed": 9,
              "nthread": NTHREAD}
    return params, 40, dtrain, X[te], names, None, [], None


def case_german_logitraw_nonames():
    """GermanCredit, Class == Bad, bare numpy (no feature names), 5% NaN;
    binary:logitraw with the default base_score."""
    df = load("GermanCredit.csv")
    y = (df["Class"] == "Bad").astype(int).to_numpy()
    X = inject_nan(df.drop(columns=["Class"]).to_numpy(dtype=np.float64), 0.05, 51)
    tr, te = split(len(df), 52)
    dtrain = xgb.DMatrix(X[tr], label=y[tr], missing=np.nan, nthread=NTHREAD)
    params = {"objective": "binary:logitraw", "tree_method": "hist", "max_depth": 4,
              "eta": 0.2, "seed": 11, "nthread": NTHREAD}
    return params, 40, dtrain, X[te], None, None, [], None


def case_german_dart():
    """GermanCredit, Class == Bad; dart (rate_drop 0.15, normalize_type tree), 5% NaN."""
    df = load("GermanCredit.csv")
    y = (df["Class"] == "Bad").astype(int).to_numpy()
    Xdf = df.drop(columns=["Class"])
    X = inject_nan(Xdf.to_numpy(dtype=np.float64), 0.05, 61)
    tr, te = split(len(df), 62)
    names = list(Xdf.columns)
    dtrain = xgb.DMatrix(X[tr], label=y[tr], missing=np.nan, feature_names=names,
                         nthread=NTHREAD)
    params = {"booster": "dart", "objective": "binary:logistic", "tree_method": "hist",
              "max_depth": 4, "eta": 0.3, "rate_drop": 0.15, "skip_drop": 0.0,
              "normalize_type": "tree", "sample_type": "uniform", "base_score": 0.3,
              "seed": 13, "nthread": NTHREAD}
    return params, 30, dtrain, X[te], names, None, [], None


def creditcard(target, nan_rate, seed):
    df = yes_no(load("CreditCard.csv"))
    y = df[target].to_numpy(dtype=np.float64)
    Xdf = df.drop(columns=[target])
    X = inject_nan(Xdf.to_numpy(dtype=np.float64), nan_rate, seed)
    tr, te = split(len(df), seed + 1)
    names = list(Xdf.columns)
    dtrain = xgb.DMatrix(X[tr], label=y[tr], missing=np.nan, feature_names=names,
                         nthread=NTHREAD)
    return dtrain, X[te], names, y[tr]


def case_creditcard_squarederror():
    """CreditCard, income; reg:squarederror, exact, default base_score 0.5, 5% NaN."""
    dtrain, Xt, names, _ = creditcard("income", 0.05, 71)
    params = {"objective": "reg:squarederror", "tree_method": "exact", "max_depth": 5,
              "eta": 0.2, "seed": 15, "nthread": NTHREAD}
    return params, 40, dtrain, Xt, names, None, [], None


def case_creditcard_poisson():
    """CreditCard, reports (a count); count:poisson, hist, base_score = mean label, 5% NaN."""
    dtrain, Xt, names, ytr = creditcard("reports", 0.05, 81)
    params = {"objective": "count:poisson", "tree_method": "hist", "max_depth": 4,
              "eta": 0.2, "base_score": float(ytr.mean()), "seed": 17, "nthread": NTHREAD}
    return params, 40, dtrain, Xt, names, None, [], None


def case_creditcard_gamma():
    """CreditCard, income (> 0); reg:gamma, approx, base_score 3.4, 5% NaN."""
    dtrain, Xt, names, _ = creditcard("income", 0.05, 91)
    params = {"objective": "reg:gamma", "tree_method": "approx", "max_depth": 4,
              "eta": 0.3, "base_score": 3.4, "seed": 19, "nthread": NTHREAD}
    return params, 30, dtrain, Xt, names, None, [], None


def case_creditcard_tweedie_dart():
    """CreditCard, expenditure (>= 0, many zeros); reg:tweedie (variance power 1.4) on a
    dart booster (normalize_type forest, weighted sampling), 5% NaN."""
    dtrain, Xt, names, _ = creditcard("expenditure", 0.05, 101)
    params = {"booster": "dart", "objective": "reg:tweedie", "tweedie_variance_power": 1.4,
              "tree_method": "hist", "max_depth": 4, "eta": 0.3, "rate_drop": 0.2,
              "skip_drop": 0.0, "normalize_type": "forest", "sample_type": "weighted",
              "seed": 21, "nthread": NTHREAD}
    return params, 30, dtrain, Xt, names, None, [], None


CASES = [
    # name, builder, coverage checks the trained model must pass
    ("credit-cat-partition", case_credit_cat_partition, {"categorical", "missing"}),
    ("credit-cat-onehot-softprob", case_credit_cat_onehot_softprob,
     {"categorical", "missing", "multiclass"}),
    ("hmda-softmax-nonames", case_hmda_softmax_nonames,
     {"no-names", "missing", "multiclass", "base_score"}),
    ("hmda-logistic-base_score", case_hmda_logistic_base_score, {"missing", "base_score"}),
    ("german-logitraw-nonames", case_german_logitraw_nonames, {"no-names", "missing"}),
    ("german-dart", case_german_dart, {"dart", "missing", "base_score"}),
    ("creditcard-squarederror", case_creditcard_squarederror, {"missing"}),
    ("creditcard-poisson", case_creditcard_poisson, {"missing", "base_score"}),
    ("creditcard-gamma", case_creditcard_gamma, {"missing", "base_score"}),
    ("creditcard-tweedie-dart", case_creditcard_tweedie_dart, {"dart", "missing"}),
]


# ------------------------------------------------------------------ running a case

def write_matrix(path, X, names):
    with open(path, "w") as fh:
        fh.write(",".join(names) + "\n")
        for row in X:
            fh.write(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n")


def run_riskd(model, matrix, out, kind):
    p = subprocess.run([RISKD, "predict", "--model", model, "--in", matrix, "--out", out,
                        "--output", kind], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"riskd predict --output {kind} exited {p.returncode}: "
                           f"{p.stderr.strip()}")
    with open(out) as fh:
        header = fh.readline().strip().split(",")
        vals = [[F32(s) for s in line.rstrip("\n").split(",")] for line in fh if line.strip()]
    return header, np.array(vals, dtype=np.float32).reshape(len(vals), len(header))


def compare(ours, theirs):
    """Bit-exact: the float32 bit patterns must be equal. Returns (mismatches, max |diff|)."""
    theirs = np.asarray(theirs, dtype=np.float32).reshape(ours.shape)
    diff = ours.view(np.uint32) != theirs.view(np.uint32)
    with np.errstate(invalid="ignore"):
        absdiff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    absdiff = np.where(diff, absdiff, 0.0)
    return int(diff.sum()), float(np.nanmax(absdiff)) if absdiff.size else 0.0


def coverage_problems(checks, mj, X, cat_idx):
    learner = mj["learner"]
    trees = model_trees(mj)
    problems = []
    if "categorical" in checks:
        ncat = sum(len(t.get("categories_nodes", [])) for t in trees)
        if ncat == 0 or not cat_idx:
            problems.append("no categorical split")
    if "missing" in checks and path_stats(mj, X) == 0:
        problems.append("no row meets a missing split feature")
    if "multiclass" in checks and int(learner["learner_model_param"]["num_class"]) < 2:
        problems.append("not multi-class")
    if "no-names" in checks and learner.get("feature_names"):
        problems.append("the model has feature names")
    if "base_score" in checks and float(learner["learner_model_param"]["base_score"]) == 0.5:
        problems.append("base_score is 0.5")
    if "dart" in checks:
        w = learner["gradient_booster"].get("weight_drop", [])
        if not w or all(v == 1.0 for v in w):
            problems.append("no dart tree weight differs from 1")
    return problems


def run_case(name, builder, checks):
    (params, rounds, dtrain, Xt, names, types, cat_idx, pandas_check) = builder()
    bst = xgb.train(params, dtrain, rounds)
    model_path = os.path.join(WORK, f"{name}.json")
    bst.save_model(model_path)
    # Predict with the model as read back from the file: what riskd gets.
    model = xgb.Booster(model_file=model_path)
    model.set_param({"nthread": NTHREAD})
    with open(model_path) as fh:
        mj = json.load(fh)

    notes = []
    if pandas_check is not None:
        # The codes written for riskd must be what XGBoost makes of the DataFrame.
        te_df, n = pandas_check
        d_pd = xgb.DMatrix(te_df, enable_categorical=True, nthread=NTHREAD)
        m_pd = model.predict(d_pd, output_margin=True)
        d_np = xgb.DMatrix(Xt[:n], missing=np.nan, feature_names=names, feature_types=types,
                           enable_categorical=True, nthread=NTHREAD)
        m_np = model.predict(d_np, output_margin=True)
        if not np.array_equal(m_pd.view(np.uint32), m_np.view(np.uint32)):
            notes.append("category codes differ from what XGBoost makes of the DataFrame")

    cat_set = set(cat_idx)
    Xt = np.vstack([Xt, threshold_rows(mj, Xt, cat_set, 12, 7)])
    header = names or [f"f{j}" for j in range(Xt.shape[1])]
    matrix_path = os.path.join(WORK, f"{name}.input.csv")
    write_matrix(matrix_path, Xt, header)

    dtest = xgb.DMatrix(Xt, missing=np.nan, feature_names=names, feature_types=types,
                        enable_categorical=bool(cat_idx), nthread=NTHREAD)
    margin = model.predict(dtest, output_margin=True)
    pred = model.predict(dtest)
    np.savetxt(os.path.join(WORK, f"{name}.xgb-margin.csv"), margin.reshape(len(Xt), -1),
               fmt="%.9g", delimiter=",")
    np.savetxt(os.path.join(WORK, f"{name}.xgb-pred.csv"), pred.reshape(len(Xt), -1),
               fmt="%.9g", delimiter=",")

    mismatches, maxdiff = 0, 0.0
    for kind, want in (("raw", margin), ("probability", pred)):
        _, got = run_riskd(model_path, matrix_path,
                           os.path.join(WORK, f"{name}.riskd-{kind}.csv"), kind)
        if got.size != np.asarray(want).size:
            raise RuntimeError(f"--output {kind}: riskd gave {got.shape}, XGBoost "
                               f"{np.asarray(want).shape}")
        mm, md = compare(got, want)
        mismatches += mm
        maxdiff = max(maxdiff, md)
        if mm:
            notes.append(f"--output {kind}: {mm} values differ")
    notes += coverage_problems(checks, mj, Xt, cat_idx)
    info = (f"trees={len(model_trees(mj))} outputs={margin.reshape(len(Xt), -1).shape[1]} "
            f"rows_missing_on_path={path_stats(mj, Xt)}")
    return len(Xt), mismatches, maxdiff, info, notes


def main():
    if not os.access(RISKD, os.X_OK):
        print(f"riskd binary not found: {RISKD} (set RISKD_BIN)")
        print("0 passed, 1 failed")
        return 1
    if not os.path.isdir(DATA):
        print(f"skipped: shared data not present ({DATA})")
        print(f"0 passed, 0 failed, {len(CASES)} skipped")
        return 0
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    print(f"xgboost {xgb.__version__} (python {sys.version.split()[0]}), riskd {RISKD}")
    passed = failed = 0
    t_all = time.time()
    for name, builder, checks in CASES:
        t0 = time.time()
        try:
            rows, mm, md, info, notes = run_case(name, builder, checks)
        except Exception as e:  # a crash of one case is that case's failure
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed += 1
            continue
        ok = mm == 0 and not notes
        passed += ok
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: rows={rows} mismatches={mm} "
              f"max_abs_diff={md:.9g} {info} ({time.time() - t0:.1f}s)"
              + ("".join(f"\n     {n}" for n in notes)))
    print(f"total {time.time() - t_all:.1f}s; files in {os.path.relpath(WORK, ROOT)}/")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
