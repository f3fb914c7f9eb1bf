#!/usr/bin/python3
"""riskd.Bundle against the references: `riskd serve`'s POST /v1/score and `riskd score` on
every row of the shared credit data (4,454 rows), for three bundles: the shared XGBoost model
with its pipeline, an XGBoost model and a logistic regression trained here; plus the shared
WOE scorecard. The Python answer must be theirs bit for bit: scores, probabilities, bands,
decisions, reason codes (and impacts), missing and unknown inputs. Then .prepare against the
matrix XGBoost was trained on, .predict against XGBoost's own predictions, .contributions
against its pred_contribs, Dask's map_partitions, bad input, and an install into a venv.

    /usr/bin/python3 tests/python/test_bundle.py
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.need("numpy", "pandas", "xgboost", "sklearn")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import riskd  # noqa: E402

C = common.Checks()
DATA = os.path.join(common.SHARED, "data", "credit_data.csv")
MODELS = os.path.join(common.SHARED, "data", "models")
REF = os.path.join(common.SHARED, "data", "reference")
if not os.path.exists(DATA):
    print("skipped: shared data not present")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)

T = tempfile.mkdtemp(prefix="riskd-pytest-")
CAT = ["Home", "Marital", "Records", "Job"]


def read_credit(path=DATA):
    """The data set as a user reads it: empty fields are missing (NaN), categories are text."""
    return pd.read_csv(path, dtype={c: "object" for c in CAT})


df = read_credit()
N = len(df)
C.ok(N == 4454, f"credit_data.csv has {N} rows")

# ---------------------------------------------------------------- the bundles, built by the CLI


def build_all():
    out = {}
    out["credit_xgb_v1.0"] = common.build_bundle(T, "credit_xgb_v1.0", os.path.join(MODELS, "credit_xgb.json"),
                                                 os.path.join(MODELS, "credit_xgb.features.json"), DATA)
    out["credit_scorecard_v1.0"] = common.build_bundle(T, "credit_scorecard_v1.0",
                                                       os.path.join(MODELS, "credit_scorecard.json"), None, DATA)
    shared = riskd.Bundle(out["credit_xgb_v1.0"])
    x = shared.prepare(df)
    y = (df["Status"] == "bad").astype(int).to_numpy()
    # an XGBoost model trained here, on the matrix riskd's pipeline makes
    import xgboost as xgb
    clf = xgb.XGBClassifier(n_estimators=60, max_depth=3, learning_rate=0.1, tree_method="hist", n_jobs=2,
                            random_state=3)
    clf.fit(pd.DataFrame(x, columns=shared.features), y)
    clf.get_booster().save_model(os.path.join(T, "xgb_here.json"))
    out["credit_xgbhere_v1.0"] = common.build_bundle(T, "credit_xgbhere_v1.0", os.path.join(T, "xgb_here.json"),
                                                     os.path.join(MODELS, "credit_xgb.features.json"), DATA)
    # a logistic regression trained here (a missing input takes its mean, as riskd's format says)
    from sklearn.linear_model import LogisticRegression
    means = np.nanmean(x, axis=0)
    xi = np.where(np.isnan(x), means, x)
    lr = LogisticRegression(max_iter=2000, C=0.5).fit(xi, y)
    spec = {"type": "logistic_regression", "features": shared.features, "coef": lr.coef_[0].tolist(),
            "intercept": float(lr.intercept_[0]), "means": means.tolist()}
    with open(os.path.join(T, "lr.json"), "w") as f:
        json.dump(spec, f)
    out["credit_lr_v1.0"] = common.build_bundle(T, "credit_lr_v1.0", os.path.join(T, "lr.json"),
                                                os.path.join(MODELS, "credit_xgb.features.json"), DATA)
    return out, clf, lr, xi, x


DIRS, CLF, LR, XI, X = build_all()
BUNDLES = {name: riskd.Bundle(d) for name, d in DIRS.items()}
C.ok(all(b.samples_verified > 0 for b in BUNDLES.values()), "every bundle verified its samples on load")
C.ok(riskd.__version__ == common.run("--version").stdout.split()[-1],
     f"riskd.__version__ {riskd.__version__} is the riskd command's")
with open(os.path.join(common.ROOT, "python", "pyproject.toml")) as f:
    C.ok(f'version = "{riskd.__version__}"' in f.read(), "python/pyproject.toml's version is the library's")

# ---------------------------------------------------------------- Python = riskd score = /v1/score


def fmt(x, float32):
    """A score as the decision record prints it."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return None
    return repr(float(np.float32(x))) if float32 else repr(float(x))


def same_number(ours, theirs, float32, exact_float=True):
    """A number of ours against one a record printed: for float32 models the record prints the
    float (%.9g); a score is that float exactly, an impact (summed in double) rounds to it."""
    if theirs is None:
        return ours is None or np.isnan(ours)
    if float32:
        return np.float32(ours) == np.float32(theirs) and (
            not exact_float or np.float64(ours) == np.float64(np.float32(ours)))
    return float(ours) == float(theirs)


def cli_records(d, k):
    r = common.run("score", "--bundle", d, "--in", DATA, "--out", "-", "--format", "jsonl", "--reasons", str(k))
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return [json.loads(line) for line in r.stdout.splitlines()]


def features_of(row):
    """A data frame row as a client sends it: numbers as numbers, text as text, missing left out."""
    out = {}
    for k, v in row.items():
        if k == "Status" or v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        out[k] = v.item() if isinstance(v, np.generic) else v
    return out


def compare(name, ours, records, via):
    """Our frame against decision records (the CLI's or the server's), row by row."""
    b = BUNDLES[name]
    f32 = b.float32
    bad = []
    for i, rec in enumerate(records):
        o = ours.iloc[i]
        probs_ok = same_number(o.probability, rec["probability"], f32)
        reasons = tuple(r["code"] for r in rec["reasons"])
        impacts_ok = all(same_number(a, r["impact"], f32, False) for a, r in zip(o.reason_impacts, rec["reasons"]))
        good = (same_number(o.score, rec["score"], f32) and probs_ok and o.risk_level == rec["risk_level"]
                and o.decision == rec["decision"] and o.reasons == reasons and impacts_ok
                and len(o.reason_impacts) == len(reasons) and list(o.missing) == rec["missing"]
                and list(o.unknown) == rec["unknown"] and o.source == rec["source"]
                and o.model_version == rec["model_version"])
        if not good:
            bad.append((i, dict(o), rec))
    C.ok(not bad and len(records) == len(ours), f"{name}: Python = {via} on {len(records)} rows",
         f"{len(bad)} rows differ, first {bad[:1]}")


FEATURES = [features_of(r) for r in df.to_dict("records")]  # each row as a client sends it, made once
server = common.Server("--bundles", T, "--deadline-ms", "60000")
try:
    for name, b in BUNDLES.items():
        k = 4
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", riskd.RiskdWarning)  # Status is not an input
            ours = b.score(df, reasons=k, impacts=True)
        compare(name, ours, cli_records(DIRS[name], k), "riskd score")
        answers = []
        for i in range(N):
            st, body = server.post("/v1/score", {"request_id": f"r{i}", "features": FEATURES[i],
                                                 "reasons": k, "bundle": name})
            if st != 200:
                answers.append({"error": body})
                continue
            answers.append(body)
        ok_answers = [a for a in answers if "error" not in a]
        C.ok(len(ok_answers) == N, f"{name}: the server answered all {N} rows",
             str([a for a in answers if "error" in a][:1]))
        if len(ok_answers) == N:
            compare(name, ours, answers, "POST /v1/score")
        # one dict at a time: the very record the server answers (but for latency)
        diff = []
        for i in range(0, N, 37):
            mine = b.score(FEATURES[i], reasons=k, request_id=f"r{i}")
            theirs = {key: v for key, v in answers[i].items() if key != "latency_ms"}
            if mine != theirs:
                diff.append((i, mine, theirs))
        C.ok(not diff, f"{name}: score(dict) is the record /v1/score answers ({len(range(0, N, 37))} rows)",
             str(diff[:1]))
        # a list of dicts decides as the frame does
        recs = FEATURES[:200]
        as_list = b.score(recs, reasons=k)
        cols = ["score", "probability", "risk_level", "decision", "reasons", "missing", "unknown", "source"]
        C.ok(as_list[cols].astype(object).reset_index(drop=True).equals(
            ours[cols].iloc[:200].astype(object).reset_index(drop=True)),
             f"{name}: a list of dicts decides as the frame does")
finally:
    server.stop()

# ---------------------------------------------------------------- threads, prepare, predict, contributions

b = BUNDLES["credit_xgb_v1.0"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", riskd.RiskdWarning)
    one = b.score(df, threads=1)
    many = b.score(df, threads=0)
C.ok(one.equals(many), "one thread and every core give the same frame")

test = pd.read_csv(os.path.join(REF, "credit_test_predictions.csv"), dtype={c: "object" for c in CAT})
matrix = pd.read_csv(os.path.join(REF, "credit_xgb_test_matrix.csv"))
feats = [c for c in matrix.columns if c in b.features]
C.ok(feats == b.features, "the reference matrix has the pipeline's features in its order",
     f"{matrix.columns[:5].tolist()} vs {b.features[:5]}")
xp = b.prepare(test[[c for c in test.columns if c in b.input_names]])
ref = matrix[b.features].to_numpy(dtype=np.float64).astype(np.float32)
same = np.array_equal(np.nan_to_num(xp.astype(np.float32), nan=-999.0), np.nan_to_num(ref, nan=-999.0))
C.ok(same and np.array_equal(np.isnan(xp), np.isnan(ref)),
     f".prepare on raw test rows = the matrix XGBoost was trained on ({len(xp)} rows)")
p = b.predict(xp)
C.ok(np.array_equal(p.astype(np.float32), test["xgb_prob"].to_numpy().astype(np.float32)),
     ".predict = XGBoost's recorded probabilities, as float32, every row")

import xgboost as xgb  # noqa: E402

booster = xgb.Booster()
booster.load_model(os.path.join(MODELS, "credit_xgb.json"))
dm = xgb.DMatrix(xp.astype(np.float32), missing=np.nan, feature_names=b.features)
C.ok(np.array_equal(b.predict(xp, output="margin").astype(np.float32),
                    booster.predict(dm, output_margin=True)), ".predict(output='margin') = XGBoost's margins")
contrib = b.contributions(xp)
theirs = booster.predict(dm, pred_contribs=True)
C.ok(contrib.shape == theirs.shape and np.allclose(contrib, theirs, rtol=1e-5, atol=1e-6),
     ".contributions = XGBoost's pred_contribs (float32 sums)", f"max diff {np.nanmax(np.abs(contrib - theirs))}")

here = BUNDLES["credit_xgbhere_v1.0"]
C.ok(np.array_equal(here.predict(X).astype(np.float32),
                    CLF.predict_proba(pd.DataFrame(X, columns=here.features))[:, 1]),
     "a model trained here: .predict = XGBClassifier.predict_proba, bit for bit")
lrb = BUNDLES["credit_lr_v1.0"]
ref_lr = LR.predict_proba(XI)[:, 1]
C.ok(np.allclose(lrb.predict(X), ref_lr, rtol=1e-12, atol=0),
     "a logistic regression trained here: .predict = predict_proba within 1e-12",
     f"max rel {np.max(np.abs(lrb.predict(X) - ref_lr) / ref_lr)}")

# ---------------------------------------------------------------- Dask: the same bits, partition by partition
try:
    import dask
    import dask.dataframe as dd
except ImportError:
    C.skip("dask: python3-dask not installed")
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", riskd.RiskdWarning)
        whole = b.score(df)
        ddf = dd.from_pandas(df, npartitions=7)
        got = ddf.map_partitions(b.score, meta=whole.iloc[:0]).compute(scheduler="threads")
        C.ok(got.equals(whole), "Dask map_partitions(bundle.score), threads: the same frame")
    r = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "dask_score.py"),
                        DIRS["credit_xgb_v1.0"], DATA], capture_output=True, text=True, timeout=300)
    C.ok(r.stdout.strip() == "same", "Dask map_partitions(bundle.score), worker processes (the bundle pickled, "
         "re-verified in each)", r.stdout + r.stderr[-800:])

# ---------------------------------------------------------------- bad input: a clear exception, never a crash

row = df.drop(columns=["Status"]).iloc[:50].copy()
C.raises(lambda: b.score(row.rename(columns=str.lower)), "INVALID_ARGUMENT", "columns re-cased: refused, named",
         "seniority")
C.raises(lambda: b.score(pd.DataFrame({"x": [1, 2]})), "INVALID_ARGUMENT", "a frame with no input column")
C.raises(lambda: b.score(pd.concat([row, row[["Age"]]], axis=1)), "INVALID_ARGUMENT", "a column repeated: refused",
         "Age")
bad = row.copy()
bad["Home"] = 3
C.raises(lambda: b.score(bad), "TYPE_MISMATCH", "a category given as numbers: TYPE_MISMATCH naming it", "Home")
bad = row.copy()
bad["Age"] = bad["Age"] > 30
C.raises(lambda: b.score(bad), "TYPE_MISMATCH", "a number given as booleans", "Age")
bad = row.copy().astype({"Age": "object"})
bad.loc[bad.index[7], "Age"] = "thirty"
try:
    b.score(bad)
    C.ok(False, "a number that does not parse: raised")
except riskd.RiskdError as e:
    C.ok(e.row == bad.index[7] and "Age" in e.message, "a number that does not parse: raised, naming the row",
         f"{e.row} {e}")
kept = b.score(bad, errors="keep")
C.ok(kept.error.notna().sum() == 1 and np.isnan(kept.score.iloc[7]) and pd.isna(kept.source.iloc[7])
     and kept.error.iloc[7] and kept.score.notna().sum() == 49,
     "errors='keep': the refused row carries its error, the others are decided")
bad = row.copy()
bad.loc[bad.index[3], "Income"] = np.inf
C.raises(lambda: b.score(bad), "INVALID_ARGUMENT", "an infinite value: refused", "Income")
bad = row.copy()
bad.loc[bad.index[2], "Home"] = "Own"
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    s = b.score(bad)
said = [str(x.message) for x in w if issubclass(x.category, riskd.RiskdWarning)]
C.ok(s.unknown.iloc[2] == ("Home",) and any("'Home'" in m and "Own" in m for m in said),
     "an unknown level: decided as missing, listed in unknown, and warned", str(said))
# NaN where the pipeline forbids it: Age required
with open(os.path.join(MODELS, "credit_xgb.features.json")) as f:
    spec = json.load(f)
spec.setdefault("inputs", [])
spec["inputs"] = [i for i in spec["inputs"] if i.get("name") != "Age"] + [{"name": "Age", "type": "number",
                                                                        "required": True}]
with open(os.path.join(T, "req.json"), "w") as f:
    json.dump(spec, f)
req_dir = common.build_bundle(T, "credit_req_v1.0", os.path.join(MODELS, "credit_xgb.json"),
                              os.path.join(T, "req.json"), DATA)
req = riskd.Bundle(req_dir)
bad = row.copy()
bad.loc[bad.index[4], "Age"] = np.nan
C.raises(lambda: req.score(bad), "INVALID_ARGUMENT", "NaN where the pipeline requires a value: refused", "Age")
C.raises(lambda: req.score(row.drop(columns=["Age"])), "INVALID_ARGUMENT", "a required column missing", "Age")
C.raises(lambda: b.score({"Age": float("nan")}), "INVALID_ARGUMENT", "a dict of nothing but missing values")
C.raises(lambda: b.score({"Agee": 30, "Home": "rent"}), "INVALID_ARGUMENT", "a dict naming no input: refused",
         "Agee")
C.raises(lambda: b.score([{"Age": 30}, "x"]), "TYPE_MISMATCH", "a list holding a non-record")
C.raises(lambda: b.score({"Age": object()}), "TYPE_MISMATCH", "a value JSON cannot hold")
C.raises(lambda: b.score(42), "TYPE_MISMATCH", "rows of the wrong kind")
C.ok(b.score(row.iloc[5]) == b.score(features_of(row.iloc[5])), "a frame's row (a Series) is one record")
empty = b.score(row.iloc[:0])
C.ok(len(empty) == 0 and list(empty.columns) == list(b.score(row.iloc[:1]).columns) and
     b.prepare(row.iloc[:0]).shape == (0, len(b.features)), "an empty frame: an empty answer, the same columns")
C.raises(lambda: b.score(row, reasons=17), "INVALID_ARGUMENT", "reasons past 16")
C.raises(lambda: b.predict(np.zeros((3, 5))), "INVALID_ARGUMENT", "a matrix of the wrong width")
# a bundle that fails verification
tampered = os.path.join(T, "credit_xgb_v9.0")
shutil.copytree(DIRS["credit_xgb_v1.0"], tampered)
with open(os.path.join(tampered, "model.json"), "r+b") as f:
    f.seek(100)
    c = f.read(1)
    f.seek(100)
    f.write(b"7" if c != b"7" else b"8")
C.raises(lambda: riskd.Bundle(tampered), "INVALID_ARGUMENT", "a tampered bundle: refused on load", "checksum")
C.raises(lambda: riskd.Bundle(os.path.join(T, "nothing_here_v1.0")), "IO_ERROR", "no bundle there")
closed = riskd.Bundle(DIRS["credit_xgb_v1.0"])
closed.close()
C.raises(lambda: closed.score(row), "USAGE", "a closed bundle")

# ---------------------------------------------------------------- installed into a venv, the library beside it
venv = os.path.join(T, "venv")
src = os.path.join(T, "pysrc")
shutil.copytree(os.path.join(common.ROOT, "python"), src, ignore=shutil.ignore_patterns("*.egg-info", "build"))
lib = riskd.LIBRARY
shutil.copy(lib, os.path.join(src, "riskd", "libriskd.so"))
r = subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], capture_output=True, text=True)
if r.returncode != 0:
    C.skip(f"venv: {r.stderr.strip()[-200:]} (python3-venv)")
else:
    r = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--no-index", "--no-build-isolation", src],
                       capture_output=True, text=True)
    C.ok(r.returncode == 0, "pip install --no-build-isolation into a venv", r.stderr[-500:])
    env = {k: v for k, v in os.environ.items() if k not in ("RISKD_LIB", "PYTHONPATH")}
    r = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                        "import riskd,sys; b=riskd.Bundle(sys.argv[1]); print(riskd.LIBRARY); "
                        "print(b.score({'Age': 30, 'Income': 100, 'Home': 'rent'})['score'])",
                        DIRS["credit_xgb_v1.0"]], capture_output=True, text=True, env=env, cwd=T)
    lines = r.stdout.split()
    C.ok(r.returncode == 0 and lines and lines[0].startswith(venv) and lines[0].endswith("libriskd.so"),
         "the installed package loads the library beside it and scores", r.stdout + r.stderr[-500:])

shutil.rmtree(T, ignore_errors=True)
C.finish()
