#!/usr/bin/python3
"""riskd.export and riskd.Pipeline against the training libraries.

Models are trained here, on the shared credit data, with XGBoost and scikit-learn; each is
exported to a bundle, and for every row the bundle's prediction must be the training
library's own: XGBoost bit for bit (float32 predict_proba[:, 1]), scikit-learn within 1e-12
relative. The WOE scorecard's reference is computed here from its bins with numpy, not with
riskd. Bad inputs must raise riskd.RiskdError saying what is wrong.

    /usr/bin/python3 tests/python/test_export.py
Env: RISKD_LIB (the library), RISKD_SHARED (default ../shared from the repo root).
"""
import ctypes
import json
import os
import sys
import tempfile
import traceback
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))

try:
    import numpy as np
    import pandas as pd
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression
except ImportError as e:
    print(f"skipped: Debian's Python packages are missing ({e})")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)

import riskd  # noqa: E402
from riskd import RiskdError  # noqa: E402

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)  # the refusal tests' quick fits

SHARED = os.environ.get("RISKD_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
DATA = os.path.join(SHARED, "data", "credit_data.csv")
if not os.path.exists(DATA):
    DATA = os.path.join(ROOT, "examples", "data", "credit_data.csv")

passed = failed = skipped = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        print(f"ok   {name}")
        passed += 1
    except Exception:  # noqa: BLE001 - every failure is reported, the rest go on
        print(f"FAIL {name}")
        traceback.print_exc(file=sys.stdout)
        failed += 1


def skip(name, why):
    global skipped
    print(f"skip {name}: {why}")
    skipped += 1


def raises(fn, *needles, code="INVALID_ARGUMENT", exc=RiskdError):
    try:
        fn()
    except exc as e:
        msg = str(e)
        for n in needles:
            assert n in msg, f"{n!r} not in the message: {msg}"
        if code is not None:
            assert getattr(e, "code", None) == code, f"code {getattr(e, 'code', None)}, not {code}: {msg}"
        return e
    raise AssertionError(f"no {exc.__name__} raised")


def bundle_scores(b, df):
    """What the bundle decides for df's rows: predict on its prepared matrix when the Bundle
    has it, and the score of each decision (both, when both exist, must agree)."""
    s = np.asarray(b.score(df)["score"], dtype=np.float64)
    if hasattr(b, "predict"):
        p = np.asarray(b.predict(b.prepare(df)), dtype=np.float64).reshape(-1)
        assert np.array_equal(p, s), "predict(prepare(df)) and score(df) differ"
    return s


# ---------------------------------------------------------------------- data and models
df = pd.read_csv(DATA, keep_default_na=False, na_values=[""])
y = (df["Status"] == "bad").to_numpy(dtype=np.int64)
rng = np.random.RandomState(17)
is_test = rng.rand(len(df)) < 0.25
train, test = df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)
y_train, y_test = y[~is_test], y[is_test]
raw = df.drop(columns="Status")
CATS = ["Home", "Marital", "Records", "Job"]
NUMS = [c for c in raw.columns if c not in CATS]

tmp = tempfile.mkdtemp(prefix="riskd-test-export-")
os.chdir(tmp)


def dummies(frame, pipe):
    """The reference encoding, by pandas: numbers as they are, one column per level."""
    return pd.get_dummies(frame.drop(columns=["Status"], errors="ignore"), prefix_sep="=").reindex(
        columns=pipe.feature_names, fill_value=0).astype("float64")


pipe32 = riskd.Pipeline.from_frame(train, label="Status", overrides={"Age": {"min": 18, "max": 120}})


def t_from_frame():
    spec = pipe32.spec
    assert spec["dtype"] == "float32"
    ins = {i["name"]: i for i in spec["inputs"]}
    assert list(ins) == list(raw.columns), list(ins)
    for c in CATS:
        levels = sorted(train[c].dropna().unique())
        assert ins[c] == {"name": c, "type": "category", "levels": levels}, ins[c]
    assert ins["Age"] == {"name": "Age", "type": "number", "min": 18, "max": 120}
    assert ins["Income"] == {"name": "Income", "type": "number"}
    names = []
    for c in raw.columns:
        names += [f"{c}={lv}" for lv in sorted(train[c].dropna().unique())] if c in CATS else [c]
    assert pipe32.feature_names == names, pipe32.feature_names
    assert "Status" not in pipe32.input_names


def t_from_frame_kinds():
    f = pd.DataFrame({"flag": [True, False, True], "n": [1.5, None, 2.0], "c": pd.Categorical(["b", "a", None]),
                      "s": ["x", "y", "x"], "id": [1, 2, 3], "lab": [0, 1, 0]})
    p = riskd.Pipeline.from_frame(f, label="lab", exclude=["id"], dtype="float64", max_missing=1,
                                  unknown_inputs="warn",
                                  overrides={"s": {"levels": ["x", "y", "z"], "required": True}})
    spec = p.spec
    assert spec["dtype"] == "float64" and spec["max_missing"] == 1 and spec["unknown_inputs"] == "warn"
    assert spec["inputs"][0] == {"name": "flag", "type": "number", "min": 0, "max": 1}, spec["inputs"][0]
    assert p.feature_names == ["flag", "n", "c=a", "c=b", "s=x", "s=y", "s=z"], p.feature_names
    assert spec["inputs"][3]["required"] is True
    x = p.prepare(f)
    want = np.array([[1, 1.5, 0, 1, 1, 0, 0], [0, np.nan, 1, 0, 0, 1, 0], [1, 2, 0, 0, 1, 0, 0]])
    assert np.array_equal(x, want, equal_nan=True), x
    p2 = riskd.Pipeline.from_frame(f, label="lab", overrides={"id": {"drop": True}, "flag": {"drop": True}})
    assert "id" not in p2.input_names and "flag" not in p2.input_names
    raises(lambda: riskd.Pipeline.from_frame(f, overrides={"n": {"mni": 0}}), "'mni'")
    raises(lambda: riskd.Pipeline.from_frame(f, overrides={"nope": {}}), "'nope' is not a column")
    raises(lambda: riskd.Pipeline.from_frame(f, overrides={"s": {"min": 0}}), "only a number input")
    raises(lambda: riskd.Pipeline.from_frame(f, dtype="float16"), "float32 or float64")
    raises(lambda: riskd.Pipeline.from_frame(f.assign(t=pd.Timestamp("2024-01-01"))), "'t'", "datetime")
    raises(lambda: riskd.Pipeline.from_frame(pd.DataFrame({"m": ["a", 3]})), "'m'", "strings")
    raises(lambda: p.prepare(f.assign(n=[1.0, np.inf, 2.0])), "'n'", "infinity")
    raises(lambda: p.prepare(f.assign(n=["1", "x", "2"])), "row 1", "n", code="TYPE_MISMATCH")
    raises(lambda: p.prepare(f.drop(columns="s")), "lacks the inputs", "'s'")


def t_prepare_is_reference():
    x = pipe32.prepare(df)
    ref = dummies(df, pipe32).to_numpy(dtype=np.float32).astype(np.float64)
    assert x.shape == (len(df), len(pipe32.feature_names))
    assert np.array_equal(x, ref, equal_nan=True)
    # A row the pipeline refuses names its row and input (the bound declared above).
    bad = df.head(3).copy()
    bad.loc[2, "Age"] = 7
    raises(lambda: pipe32.prepare(bad), "row 2", "Age")


def t_write_load():
    path = pipe32.write(os.path.join(tmp, "p.json"))
    assert riskd.Pipeline.load(path) == pipe32
    assert riskd.Pipeline.of(path).feature_names == pipe32.feature_names
    assert riskd.Pipeline.of(pipe32.spec) == pipe32


check("Pipeline.from_frame: numbers, sorted levels as one-hot features, overrides", t_from_frame)
check("Pipeline.from_frame: bool, category, string dtypes, drop, required, bad overrides", t_from_frame_kinds)
check("Pipeline.prepare (libriskd) is the pandas one-hot encoding, float32-rounded", t_prepare_is_reference)
check("Pipeline.write / load / of", t_write_load)

# ---------------------------------------------------------------------- XGBoost
clf = xgb.XGBClassifier(n_estimators=60, max_depth=3, learning_rate=0.1, tree_method="exact", n_jobs=1,
                        random_state=7)
clf.fit(dummies(train, pipe32), y_train)
BANDS = [{"level": "low", "min": None, "max": 0.2, "decision": "approve"},
         {"level": "medium", "min": 0.2, "max": 0.5, "decision": "review"},
         {"level": "high", "min": 0.5, "max": None, "decision": "reject"}]


def t_xgb_classifier():
    b = riskd.export.xgboost(clf, pipe32, train, "Status", "credit_xgb_v1.0", positive="bad", test_data=test,
                             risk_bands=BANDS, reasons=3, samples=10)
    assert b.name == "credit_xgb_v1.0" and os.path.isdir(os.path.join(tmp, "credit_xgb_v1.0"))
    m = b.manifest
    assert b.digest == m["digest"] and len(b.digest) == 64
    assert m["features"] == pipe32.feature_names
    assert m["risk_bands"] == BANDS, m["risk_bands"]
    assert m["reason_codes"]["count"] == 3 and len(m["samples"]) == 10
    assert m["training"]["positive"] == "bad" and m["training"]["rows"] == len(train)
    assert m["test"]["rows"] == len(test)
    want = clf.predict_proba(dummies(df, pipe32))[:, 1]
    got = bundle_scores(b, df)
    assert want.dtype == np.float32
    assert np.array_equal(got.astype(np.float32), want), np.max(np.abs(got - want))


def t_xgb_booster():
    x = pipe32.prepare(train)
    dtrain = xgb.DMatrix(x, label=y_train, feature_names=pipe32.feature_names, missing=np.nan)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.05, "subsample": 0.8,
                         "seed": 3, "nthread": 1, "tree_method": "hist"}, dtrain, num_boost_round=80)
    path = os.path.join(tmp, "spec.json")
    pipe32.write(path)
    data = os.path.join(tmp, "train.csv")
    train.to_csv(data, index=False)
    b = riskd.export.xgboost(booster, path, data, "Status", "credit_xgb_v1.1", positive="bad")
    want = booster.predict(xgb.DMatrix(pipe32.prepare(df), feature_names=pipe32.feature_names, missing=np.nan))
    got = bundle_scores(b, df)
    assert np.array_equal(got.astype(np.float32), want), np.max(np.abs(got - want))


def t_xgb_refusals():
    other = riskd.Pipeline.from_frame(train, label="Status", overrides={"Debt": {"drop": True}})
    e = raises(lambda: riskd.export.xgboost(clf, other, train, "Status", "credit_xgb_v9.0", positive="bad"),
               "'Debt'", "not in the pipeline")
    spec = pipe32.spec
    spec["features"][0], spec["features"][1] = spec["features"][1], spec["features"][0]
    raises(lambda: riskd.export.xgboost(clf, spec, train, "Status", "credit_xgb_v9.0", positive="bad"),
           "another order", "'Seniority'")
    unnamed = xgb.train({"nthread": 1}, xgb.DMatrix(pipe32.prepare(train)[:200], label=y_train[:200]), 2)
    raises(lambda: riskd.export.xgboost(unnamed, pipe32, train, "Status", "credit_xgb_v9.0"), "no feature names")
    raises(lambda: riskd.export.xgboost(clf, pipe32, train.drop(columns="Status"), "Status", "credit_xgb_v9.0",
                                        positive="bad"), "label 'Status' is not a column")
    for bad in ("credit-xgb_v1.0", "credit_xgb_1.0", "credit_xgb_v01.0", "Credit_xgb_v1.0"):
        raises(lambda: riskd.export.xgboost(clf, pipe32, train, "Status", bad, positive="bad"))
    raises(lambda: riskd.export.xgboost(clf, pipe32, train, "Status", "credit_xgb_v1.0", positive="bad"),
           "exists", "overwrite=True")
    raises(lambda: riskd.export.xgboost(clf, pipe32, train, "Status", "credit_xgb_v9.0",
                                        out_dir=os.path.join(tmp, "elsewhere"), positive="bad"),
           "must be named as the bundle")
    raises(lambda: riskd.export.xgboost("model.json", pipe32, train, "Status", "credit_xgb_v9.0"),
           "xgboost.Booster")
    # The builder's own refusals come through: a positive value the label never takes.
    raises(lambda: riskd.export.xgboost(clf, pipe32, train, "Status", "credit_xgb_v9.0", positive="1"), "Status")
    assert not os.path.exists(os.path.join(tmp, "credit_xgb_v9.0"))
    assert not [n for n in os.listdir(tmp) if n.startswith(".credit_xgb")], os.listdir(tmp)
    del e


def t_xgb_overwrite_and_warnings():
    old = riskd.Bundle(os.path.join(tmp, "credit_xgb_v1.0")).digest
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        # positive="good": the model ranks the other class, so the builder warns of its AUC.
        b = riskd.export.xgboost(clf, pipe32, train, "Status", "credit_xgb_v1.0", positive="good",
                                 overwrite=True, created_by="test_export")
    msgs = [str(x.message) for x in w if issubclass(x.category, riskd.export.BuildWarning)]
    assert any("AUC" in m for m in msgs), msgs
    assert b.digest != old and b.manifest["created_by"] == "test_export"
    assert b.manifest["checks"]["warnings"] == msgs
    os.makedirs(os.path.join(tmp, "notabundle_x_v1.0"))
    raises(lambda: riskd.export.xgboost(clf, pipe32, train, "Status", "notabundle_x_v1.0", overwrite=True),
           "not a bundle")


check("xgboost: XGBClassifier -> bundle; every row bit for bit (float32 predict_proba[:, 1])", t_xgb_classifier)
check("xgboost: Booster on pipeline.prepare, spec and data as paths; every row bit for bit", t_xgb_booster)
check("xgboost: refused: features not the pipeline's (named), order, unnamed, no label, bad names, existing dir",
      t_xgb_refusals)
check("xgboost: overwrite=True replaces a bundle; builder warnings as BuildWarning", t_xgb_overwrite_and_warnings)

# ---------------------------------------------------------------------- scikit-learn
pipe64 = riskd.Pipeline.from_frame(train, label="Status", dtype="float64")


def t_logistic():
    xt = dummies(train, pipe64)
    means = np.nanmean(xt.to_numpy(), axis=0)
    lr = LogisticRegression(C=0.5, max_iter=20000).fit(xt.fillna(dict(zip(xt.columns, means))), y_train)
    b = riskd.export.sklearn(lr, pipe64, train, "Status", "credit_lr_v1.0", positive="bad")
    m = json.load(open(os.path.join(tmp, "credit_lr_v1.0", "model.json")))
    assert m["type"] == "logistic_regression" and m["features"] == pipe64.feature_names
    assert np.allclose(m["means"], means, rtol=1e-14, atol=0), "means are the training data's"
    xa = dummies(df, pipe64)
    want = lr.predict_proba(xa.fillna(dict(zip(xa.columns, means))))[:, 1]
    got = bundle_scores(b, df)
    rel = np.max(np.abs(got - want) / np.abs(want))
    assert rel <= 1e-12, rel
    # The data as a CSV file: the same means, read from the text as the builder reads it.
    path = os.path.join(tmp, "lr-train.csv")
    train.to_csv(path, index=False)
    riskd.export.sklearn(lr, pipe64, path, "Status", "credit_lr_v1.1", positive="bad")
    m2 = json.load(open(os.path.join(tmp, "credit_lr_v1.1", "model.json")))
    assert np.allclose(m2["means"], means, rtol=1e-14, atol=0)


def woe_reference(card, frame):
    """The WOE matrix from the card's bins, by numpy (the reference the bundle must match)."""
    cols = []
    for ch in card.characteristics_:
        v = frame[ch["name"]]
        if ch["kind"] == "numeric":
            x = pd.to_numeric(v).to_numpy(dtype=np.float64)
            idx = np.searchsorted(np.array(ch["cuts"], dtype=np.float64), x, side="right")
            w = np.array([b["woe"] for b in ch["bins"]])[np.minimum(idx, len(ch["bins"]) - 1)]
            cols.append(np.where(np.isnan(x), ch["missing"]["woe"], w))
        else:
            table = {lv["level"]: lv["woe"] for lv in ch["levels"]}
            cols.append(np.array([ch["missing"]["woe"] if pd.isna(s) else table.get(s, ch["unknown"]["woe"])
                                  for s in v]))
    return np.column_stack(cols)


def t_scorecard():
    card = riskd.export.WoeScorecard().fit(train.drop(columns="Status"), y_train, numeric=NUMS, categorical=CATS)
    assert [c["name"] for c in card.characteristics_] == list(raw.columns)
    w = woe_reference(card, df)
    assert np.array_equal(card.woe(df), w), "libriskd's WOE matrix is the numpy binning's"
    b = riskd.export.sklearn(card, None, train, "Status", "credit_sc_v1.0", positive="bad", test_data=test)
    assert b.manifest["output"]["kind"] == "score" and b.manifest["model"]["format"] == "scorecard"
    margin = card.lr_.intercept_[0] + w @ card.lr_.coef_[0]
    want = card.offset - card.factor * margin
    got = bundle_scores(b, df)
    rel = np.max(np.abs(got - want) / np.abs(want))
    assert rel <= 1e-12, rel
    dec = b.score(df)
    if "probability" in dec:
        p = card.lr_.predict_proba(w)[:, 1]
        assert np.max(np.abs(dec["probability"].to_numpy() - p) / p) <= 1e-12
    # The same card with its pipeline given explicitly.
    b2 = riskd.export.sklearn(card, card.pipeline(), train, "Status", "credit_sc_v1.1", positive="bad")
    assert np.array_equal(bundle_scores(b2, df), got)
    wrong = riskd.Pipeline.from_frame(train, label="Status")
    raises(lambda: riskd.export.sklearn(card, wrong, train, "Status", "credit_sc_v1.2", positive="bad"),
           "not the pipeline's")


def t_sklearn_refusals():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    lr = LogisticRegression().fit(dummies(train, pipe64).fillna(0), y_train)
    raises(lambda: riskd.export.sklearn(make_pipeline(StandardScaler(), LogisticRegression()), pipe64, train,
                                        "Status", "credit_lr_v9.0"), "sklearn.pipeline", "riskd.Pipeline")
    raises(lambda: riskd.export.sklearn(LogisticRegression(), pipe64, train, "Status", "credit_lr_v9.0"),
           "not fitted")
    raises(lambda: riskd.export.sklearn(lr, None, train, "Status", "credit_lr_v9.0"), "needs its pipeline")
    unnamed = LogisticRegression().fit(dummies(train, pipe64).fillna(0).to_numpy(), y_train)
    raises(lambda: riskd.export.sklearn(unnamed, pipe64, train, "Status", "credit_lr_v9.0"), "no feature names")
    labels = LogisticRegression().fit(dummies(train, pipe64).fillna(0), train["Status"])  # classes bad, good
    raises(lambda: riskd.export.sklearn(labels, pipe64, train, "Status", "credit_lr_v9.0", positive="bad"),
           "classes_[1]", "'good'")
    three = LogisticRegression(max_iter=50).fit(dummies(train, pipe64).fillna(0), train["Home"].fillna("x"))
    raises(lambda: riskd.export.sklearn(three, pipe64, train, "Status", "credit_lr_v9.0"), "binary")


def t_build_options():
    """rd_embed_build itself: unknown fields and wrong types are refused, naming them."""
    from riskd import _lib
    f = _lib.fn("rd_embed_build", ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_lib.Err))

    def build(opts):
        text = json.dumps(opts).encode() if not isinstance(opts, bytes) else opts
        err, res = _lib.Err(), ctypes.c_void_p()
        rc = f(text, len(text), ctypes.byref(res), ctypes.byref(err))
        _lib.check(rc, err)
        return json.loads(_lib.take_text(res.value))

    base = {"name": "credit_xgb_v9.9", "model_path": "x.json", "data_path": "x.csv"}
    raises(lambda: build({**base, "pipline_path": "p.json"}), '"pipline_path"', "unknown field")
    raises(lambda: build({**base, "samples": "20"}), '"samples"')
    raises(lambda: build({**base, "samples": 2.5}), '"samples"')
    raises(lambda: build({**base, "reasons": 17}), '"reasons"')
    raises(lambda: build({**base, "label": 1}), '"label"', "string")
    raises(lambda: build({**base, "risk_bands": json.dumps(BANDS)}), '"risk_bands"', "not text")
    raises(lambda: build({**base, "output_kind": "odds"}), '"output_kind"')
    raises(lambda: build([base]), "JSON object")
    raises(lambda: build(b"{\"name\": "), "bundle build options", code="PARSE_ERROR")
    # A good one: paths of the files a build needs.
    d = os.path.join(tmp, "opts")
    os.makedirs(d)
    booster = clf.get_booster()
    booster.save_model(os.path.join(d, "m.json"))
    pipe32.write(os.path.join(d, "p.json"))
    train.to_csv(os.path.join(d, "t.csv"), index=False)
    r = build({"name": "credit_xgb_v7.0", "model_path": os.path.join(d, "m.json"),
               "pipeline_path": os.path.join(d, "p.json"), "data_path": os.path.join(d, "t.csv"),
               "label": "Status", "positive": "bad", "risk_bands": BANDS, "out_dir": os.path.join(d, "credit_xgb_v7.0"),
               "samples": 5, "reasons": 2, "deadline_ms": 50, "created_by": None, "fallback_path": None,
               "output_kind": "probability", "test_data_path": None})
    assert r["dir"] == os.path.join(d, "credit_xgb_v7.0") and r["warnings"] == []
    m = json.load(open(os.path.join(d, "credit_xgb_v7.0", "manifest.json")))
    assert r["digest"] == m["digest"] and m["serving"]["deadline_ms"] == 50 and m["risk_bands"] == BANDS


check("sklearn: LogisticRegression -> logistic JSON with training means; every row within 1e-12", t_logistic)
check("sklearn: WoeScorecard -> scorecard (pipeline derived or given); points within 1e-12 of numpy's",
      t_scorecard)
check("sklearn: refused: sklearn Pipeline, unfitted, no pipeline, unnamed, flipped classes, multi-class",
      t_sklearn_refusals)
check("rd_embed_build: unknown field, wrong types refused by name; a full build answers dir, digest, warnings",
      t_build_options)

# ---------------------------------------------------------------------- LightGBM
try:
    import lightgbm  # noqa: F401
    have_lgb = True
except ImportError:
    have_lgb = False


def t_lightgbm_missing():
    e = raises(lambda: riskd.export.lightgbm(object(), pipe32, train, "Status", "credit_lgb_v1.0"), "lightgbm",
               code="USAGE", exc=ImportError)
    assert isinstance(e, RiskdError)


if have_lgb:
    skip("lightgbm: missing dependency is reported", "lightgbm is installed (its export is not tested here)")
else:
    check("lightgbm: without lightgbm, a MissingDependency (RiskdError and ImportError)", t_lightgbm_missing)

import shutil  # noqa: E402

os.chdir("/")
shutil.rmtree(tmp, ignore_errors=True)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
