"""Exporters: a trained model, its pipeline and its training data into a riskd bundle.

    bundle = riskd.export.xgboost(clf, pipe, df, label="Status", positive="bad",
                                  name="credit_xgb_v2.0")
    bundle.score(new_applications)

Each exporter writes the model in the format riskd reads (docs/formats.md, "Models"), the
pipeline as pipeline.json and the data as CSV into a temporary directory, then builds the
bundle with the builder `riskd bundle build` runs (rd_bundle_build, through rd_embed_build):
the same checks, the same reference, metrics, bands and samples, the same refusals. The
bundle is then opened with riskd.Bundle, which verifies it, and returned.

- xgboost(model, pipeline, data, label, name, ...): an xgboost.Booster, XGBClassifier or
  XGBRegressor. The booster's feature names must be the pipeline's, in order.
- sklearn(model, pipeline, data, label, name, ...): a binary LogisticRegression (exported as
  the logistic_regression format, with the training means missing values take), or a
  riskd.export.WoeScorecard (exported as a woe_logistic_scorecard; pipeline may be None: the
  builder derives it from the bins).
- lightgbm(model, pipeline, data, label, name, ...): a lightgbm.Booster or LGBMClassifier;
  raises MissingDependency when lightgbm cannot be imported.

Common arguments: data is a DataFrame or the path of a CSV (raw applications, with the label
column); label the outcome column (None: no metrics); positive the label value of the
positive (bad) class, as the CSV writes it; name {product}_{model_type}_v{major}.{minor};
out_dir the bundle directory (default ./name; its base name must be name); risk_bands a list
of {level, min, max, decision}; reasons, samples, test_data (a holdout, DataFrame or CSV path),
fallback (rules, a dict or a path), output_kind, deadline_ms, created_by as for `riskd bundle
build`; overwrite=True replaces an existing bundle directory (only one holding a
manifest.json), the new bundle being built aside first. Warnings of the build (an AUC below
0.5, an input missing in most rows) are issued as riskd.export.BuildWarning and kept in the
manifest's checks.warnings.

Errors are riskd.RiskdError (code INVALID_ARGUMENT for arguments the exporter refuses before
building; the builder's own code and message otherwise).
"""
import ctypes
import csv
import json
import math
import os
import shutil
import tempfile
import warnings

from . import _lib
from ._lib import RiskdError
from .pipeline import Pipeline

__all__ = ["xgboost", "sklearn", "lightgbm", "WoeScorecard", "BuildWarning", "MissingDependency",
           "check_name"]

_rd_build = _lib.fn("rd_embed_build", _lib.c_int, _lib.c_char_p, _lib.c_size_t, ctypes.POINTER(ctypes.c_void_p),
                 _lib.PErr)
_name_parse = _lib.fn("rd_bundle_name_parse", _lib.c_int, _lib.c_char_p, _lib.c_char_p, _lib.c_size_t,
                      _lib.c_char_p, _lib.c_size_t, ctypes.POINTER(ctypes.c_uint),
                      ctypes.POINTER(ctypes.c_uint), _lib.PErr)


class BuildWarning(UserWarning):
    """What the bundle builder warned of (also in the manifest's checks.warnings)."""


class MissingDependency(RiskdError, ImportError):
    """The training library an exporter needs cannot be imported."""

    def __init__(self, message):
        RiskdError.__init__(self, "USAGE", message)


def _invalid(msg):
    return RiskdError("INVALID_ARGUMENT", msg)


def check_name(name):
    """Split a bundle name by the rule {product}_{model_type}_v{major}.{minor} (libriskd's
    rd_bundle_name_parse): (product, model_type, major, minor), or RiskdError saying which
    part breaks the rule."""
    if not isinstance(name, str):
        raise _invalid(f"the bundle name is a string such as credit_xgb_v1.0, not {type(name).__name__}")
    product, mtype = ctypes.create_string_buffer(128), ctypes.create_string_buffer(64)
    major, minor, err = ctypes.c_uint(), ctypes.c_uint(), _lib.Err()
    rc = _name_parse(name.encode(), product, 128, mtype, 64, ctypes.byref(major), ctypes.byref(minor),
                     ctypes.byref(err))
    _lib.check(rc, err)
    return product.value.decode(), mtype.value.decode(), major.value, minor.value


# ---------------------------------------------------------------------- writing the inputs
def _pandas():
    import pandas as pd
    return pd


def _cell(v):
    """A value as riskd's CSV reader should read it: "" missing, numbers exactly (repr:
    the shortest text that reads back to the same double), bools 1 and 0."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if v != v:
            return ""
        if math.isinf(v):
            raise _invalid("the data holds an infinity, which riskd reads as no number")
        return repr(v)
    if isinstance(v, int):
        return str(v)
    try:  # pandas.NA, NaT
        if _pandas().isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)


def _label_cells(series):
    """The label as text: an integral float column (1.0, after a NaN made it float) as 1."""
    pd = _pandas()
    if pd.api.types.is_float_dtype(series.dtype):
        vals = series.tolist()
        if all(v != v or float(v).is_integer() for v in vals):
            return ["" if v != v else str(int(v)) for v in vals]
    if pd.api.types.is_bool_dtype(series.dtype):
        return ["1" if v else "0" for v in series.tolist()]
    return [_cell(v) for v in series.tolist()]


def _write_csv(df, path, columns, label):
    """df's columns (the pipeline's inputs present, and the label) as CSV, every value
    exactly: what the builder reads is what the model saw."""
    names = [str(c) for c in df.columns]
    cols, header = [], []
    for c in columns + ([label] if label is not None else []):
        if c in names and c not in header:
            s = df[df.columns[names.index(c)]]
            cols.append(_label_cells(s) if c == label else [_cell(v) for v in s.tolist()])
            header.append(c)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(zip(*cols))


def _data_path(data, tmp, base, pipe_inputs, label, what):
    pd = _pandas()
    if isinstance(data, pd.DataFrame):
        if label is not None and label not in [str(c) for c in data.columns]:
            raise _invalid(f"{what}: the label {label!r} is not a column of the frame (its columns: "
                           f"{', '.join(map(str, data.columns))})")
        if len(data) == 0:
            raise _invalid(f"{what}: the frame has no rows")
        path = os.path.join(tmp, base)
        _write_csv(data, path, pipe_inputs, label)
        return path
    if isinstance(data, (str, os.PathLike)):
        if not os.path.isfile(data):
            raise _invalid(f"{what}: {os.fspath(data)}: no such file")
        return os.path.abspath(data)
    raise _invalid(f"{what}: a pandas DataFrame or the path of a CSV, not {type(data).__name__}")


def _frame_of(data):
    """data as a DataFrame of strings, as riskd's CSV reader would see a file."""
    pd = _pandas()
    if isinstance(data, pd.DataFrame):
        return data
    return pd.read_csv(data, dtype=str, keep_default_na=False, na_values=[""])


def _json_file(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")
    return path


def _out_dir(name, out_dir, overwrite):
    out = os.path.abspath(os.fspath(out_dir) if out_dir is not None else name)
    base = os.path.basename(out.rstrip("/"))
    if base != name:
        raise _invalid(f"{out}: the bundle directory must be named as the bundle, {name} (a server refuses "
                       f"a bundle whose directory says otherwise)")
    if os.path.lexists(out):
        if not overwrite:
            raise _invalid(f"{out}: exists; a bundle is never overwritten by default (choose a new version, or "
                           f"pass overwrite=True)")
        if not os.path.isfile(os.path.join(out, "manifest.json")):
            raise _invalid(f"{out}: exists and is not a bundle (no manifest.json): not replaced")
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise _invalid(f"{parent}: no such directory")
    return out


def _build(model_path, pipeline_path, data, label, name, out_dir, positive, risk_bands, reasons, samples,
           test_data, fallback, output_kind, overwrite, created_by, deadline_ms, inputs, tmp):
    """Write the rest, build aside, move into place, open."""
    from .bundle import Bundle

    out = _out_dir(name, out_dir, overwrite)
    data_path = _data_path(data, tmp, "train.csv", inputs, label, "data")
    test_path = None
    if test_data is not None:
        if label is None:
            raise _invalid("test_data needs label: the holdout's metrics are against it")
        test_path = _data_path(test_data, tmp, "test.csv", inputs, label, "test_data")
    fb_path = None
    if fallback is not None:
        fb_path = _json_file(fallback, os.path.join(tmp, "fallback.json")) if isinstance(fallback, (dict, list)) \
            else os.path.abspath(os.fspath(fallback))
    if risk_bands is not None and not isinstance(risk_bands, (list, tuple)):
        raise _invalid("risk_bands: a list of {level, min, max, decision}")
    for key, v in (("reasons", reasons), ("samples", samples), ("deadline_ms", deadline_ms)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise _invalid(f"{key}: an integer, not {v!r}")
    if positive is not None:
        positive = str(positive)
    stage = tempfile.mkdtemp(prefix=f".{name}.export-", dir=os.path.dirname(out))
    try:
        opts = {
            "name": name, "model_path": model_path, "pipeline_path": pipeline_path, "data_path": data_path,
            "label": label, "positive": positive, "risk_bands": list(risk_bands) if risk_bands else None,
            "out_dir": os.path.join(stage, name), "created_by": created_by, "samples": samples,
            "reasons": reasons, "fallback_path": fb_path, "deadline_ms": deadline_ms or None,
            "output_kind": output_kind, "test_data_path": test_path,
        }
        text = json.dumps(opts, allow_nan=False).encode()
        err, res = _lib.Err(), ctypes.c_void_p()
        rc = _rd_build(text, len(text), ctypes.byref(res), ctypes.byref(err))
        if rc != 0:
            raise _python_words(RiskdError(_lib.err_name(err.code or rc), err.msg.decode("utf-8", "replace"), rc),
                                tmp, stage)
        result = json.loads(_lib.take_text(res.value))
        for w in result["warnings"]:
            warnings.warn(w, BuildWarning, stacklevel=3)
        if os.path.lexists(out):  # overwrite: checked above
            os.rename(out, os.path.join(stage, "replaced"))
        os.rename(os.path.join(stage, name), out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Bundle(out)


_CLI_WORDS = [("--output-kind", "output_kind"), ("--risk-bands", "risk_bands"), ("--positive", "positive"),
              ("--label", "label"), ("--test-data", "test_data"), ("--fallback", "fallback"),
              ("--samples", "samples"), ("--reasons", "reasons")]


def _python_words(e, tmp, stage):
    """The builder's message in the exporter's terms: the files it names are the exporter's
    temporary copies (named by their base names), its options the keyword arguments."""
    msg = e.message
    for d in (os.path.join(stage, ""), os.path.join(tmp, "")):
        msg = msg.replace(d, "")
    for cli, py in _CLI_WORDS:
        msg = msg.replace(cli, py)
    return RiskdError(e.code, msg, e.status)


def _check_features(model_names, pipe, what):
    feats = pipe.feature_names
    if model_names is None:
        raise _invalid(
            f"the {what} has no feature names, so nothing says its features are the pipeline's: train it on "
            f"named features, e.g. xgb.DMatrix(pipeline.prepare(df), feature_names=pipeline.feature_names) or "
            f"a DataFrame with columns=pipeline.feature_names")
    model_names = list(model_names)
    if model_names == feats:
        return
    only_model = [n for n in model_names if n not in feats]
    only_pipe = [n for n in feats if n not in model_names]
    parts = []
    if only_model:
        parts.append(f"the {what}'s features not in the pipeline: {', '.join(map(repr, only_model[:10]))}"
                     f"{' ...' if len(only_model) > 10 else ''}")
    if only_pipe:
        parts.append(f"the pipeline's features not in the {what}: {', '.join(map(repr, only_pipe[:10]))}"
                     f"{' ...' if len(only_pipe) > 10 else ''}")
    if not parts:
        i = next(i for i, (a, b) in enumerate(zip(model_names, feats)) if a != b)
        parts.append(f"the same names in another order (feature {i}: {model_names[i]!r} in the {what}, "
                     f"{feats[i]!r} in the pipeline)")
    raise _invalid(f"the {what}'s features ({len(model_names)}) are not the pipeline's ({len(feats)}): "
                   + "; ".join(parts))


def _common(pipeline, tmp):
    pipe = Pipeline.of(pipeline)
    path = pipe.write(os.path.join(tmp, "pipeline.json"))
    return pipe, path


# ---------------------------------------------------------------------- XGBoost
def xgboost(model, pipeline, data, label, name, out_dir=None, positive="1", risk_bands=None, reasons=4,
            samples=20, test_data=None, fallback=None, output_kind=None, overwrite=False, created_by=None,
            deadline_ms=None):
    """An XGBoost model (Booster, XGBClassifier, XGBRegressor) as a bundle (riskd.Bundle)."""
    check_name(name)
    try:
        import xgboost as xgb
    except ImportError as e:
        raise MissingDependency(f"riskd.export.xgboost needs xgboost (python3-xgboost): {e}") from None
    if isinstance(model, xgb.XGBModel):
        booster = model.get_booster()
    elif isinstance(model, xgb.Booster):
        booster = model
    else:
        raise _invalid(f"riskd.export.xgboost takes an xgboost.Booster, XGBClassifier or XGBRegressor, not "
                       f"{type(model).__module__}.{type(model).__name__}")
    with tempfile.TemporaryDirectory(prefix="riskd-export-") as tmp:
        pipe, pipe_path = _common(pipeline, tmp)
        _check_features(booster.feature_names, pipe, "booster")
        model_path = os.path.join(tmp, "model.json")
        booster.save_model(model_path)
        return _build(model_path, pipe_path, data, label, name, out_dir, positive, risk_bands, reasons, samples,
                      test_data, fallback, output_kind, overwrite, created_by, deadline_ms, pipe.input_names, tmp)


# ---------------------------------------------------------------------- LightGBM
def lightgbm(model, pipeline, data, label, name, out_dir=None, positive="1", risk_bands=None, reasons=4,
             samples=20, test_data=None, fallback=None, output_kind=None, overwrite=False, created_by=None,
             deadline_ms=None):
    """A LightGBM model (Booster, LGBMClassifier, LGBMRegressor) as a bundle: its text format."""
    check_name(name)
    try:
        import lightgbm as lgb
    except ImportError as e:
        raise MissingDependency(f"riskd.export.lightgbm needs lightgbm, which cannot be imported here ({e}); "
                                f"install it, or save the model with Booster.save_model and run `riskd bundle "
                                f"build --model model.txt`") from None
    if isinstance(model, lgb.LGBMModel):
        booster = model.booster_
    elif isinstance(model, lgb.Booster):
        booster = model
    else:
        raise _invalid(f"riskd.export.lightgbm takes a lightgbm.Booster or LGBMModel, not "
                       f"{type(model).__module__}.{type(model).__name__}")
    names = booster.feature_name()
    if names and all(n == f"Column_{i}" for i, n in enumerate(names)):
        names = None  # LightGBM's names for unnamed columns
    with tempfile.TemporaryDirectory(prefix="riskd-export-") as tmp:
        pipe, pipe_path = _common(pipeline, tmp)
        _check_features(names, pipe, "booster")
        model_path = os.path.join(tmp, "model.txt")
        booster.save_model(model_path)
        return _build(model_path, pipe_path, data, label, name, out_dir, positive, risk_bands, reasons, samples,
                      test_data, fallback, output_kind, overwrite, created_by, deadline_ms, pipe.input_names, tmp)


# ---------------------------------------------------------------------- scikit-learn
class WoeScorecard:
    """A WOE logistic scorecard, trained as the shared reference scorecard is
    (shared/tools/train_models.py): each numeric column binned at its quantiles, each category
    column by level; the weight of evidence of each bin,
    ln(((good+s)/(G+s*k)) / ((bad+s)/(B+s*k))) with s = smoothing and k the bins seen; a
    LogisticRegression on the WOE values, fitted on libriskd's WOE matrix (the pipeline the
    bundle will run); points scaled to base_points at good:bad odds base_odds, pdo points to
    double the odds.

        card = WoeScorecard().fit(df, y, numeric=[...], categorical=[...])
        card.predict_proba(df)[:, 1], card.points(df)
        riskd.export.sklearn(card, None, df, "Status", "credit_sc_v1.0", positive="bad")

    y is 1 for the positive (bad) class. A missing value has its own bin (its WOE from
    training, 0 when none was missing); an unseen level weighs 0."""

    def __init__(self, quantiles=(0.2, 0.4, 0.6, 0.8), C=1.0, max_iter=1000, smoothing=0.5, base_points=600.0,
                 base_odds=50.0, pdo=20.0):
        self.quantiles = tuple(quantiles)
        self.C, self.max_iter, self.smoothing = C, max_iter, smoothing
        self.base_points, self.base_odds, self.pdo = base_points, base_odds, pdo
        self.characteristics_ = None
        self.lr_ = None

    def fit(self, df, y, numeric=None, categorical=None):
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        pd = _pandas()
        y = np.asarray(y).astype(np.int64)
        if set(np.unique(y)) - {0, 1} or len(np.unique(y)) != 2:
            raise _invalid("WoeScorecard.fit: y must hold 0 and 1 (1: the positive, bad class)")
        if numeric is None and categorical is None:
            numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
            categorical = [c for c in df.columns if c not in numeric]
        numeric, categorical = list(numeric or []), list(categorical or [])
        bad = y == 1
        chars = []
        for c in [c for c in df.columns if c in numeric or c in categorical]:
            col = df[c]
            if c in numeric:
                v = pd.to_numeric(col).to_numpy(dtype=np.float64)
                seen = v[~np.isnan(v)]
                if not len(seen):
                    raise _invalid(f"WoeScorecard.fit: {c!r} has no value")
                cuts = sorted({float(q) for q in np.quantile(seen, self.quantiles)})
                cuts = [q for q in cuts if q > seen.min()]
                keys = np.where(np.isnan(v), -1, np.searchsorted(np.array(cuts), v, side="right"))
                bins = list(range(len(cuts) + 1))
            else:
                vals = col.tolist()
                missing = [x is None or (isinstance(x, float) and x != x) or x == "" for x in vals]
                levels = sorted({str(x) for x, m in zip(vals, missing) if not m})
                index = {lv: i for i, lv in enumerate(levels)}
                keys = np.array([-1 if m else index[str(x)] for x, m in zip(vals, missing)])
                bins = list(range(len(levels)))
            tab = self._woe_table(keys, bad)
            entry = {"name": str(c), "kind": "numeric" if c in numeric else "categorical"}
            stats = [tab.get(i, (0, 0, 0.0)) for i in bins]
            if c in numeric:
                entry["cuts"] = cuts
                entry["bins"] = [{"lower": None if i == 0 else cuts[i - 1], "upper": None if i == len(cuts) else cuts[i],
                                  "n": n, "n_bad": nb, "woe": w} for i, (n, nb, w) in zip(bins, stats)]
            else:
                entry["levels"] = [{"level": lv, "n": n, "n_bad": nb, "woe": w}
                                   for lv, (n, nb, w) in zip(levels, stats)]
            n, nb, w = tab.get(-1, (0, 0, 0.0))
            entry["missing"] = {"n": n, "n_bad": nb, "woe": w}
            if c in categorical:
                entry["unknown"] = {"woe": 0.0}
            chars.append(entry)
        if not chars:
            raise _invalid("WoeScorecard.fit: no numeric or categorical column")
        self.characteristics_ = chars
        self.lr_ = LogisticRegression(C=self.C, solver="lbfgs", max_iter=self.max_iter)
        self.lr_.fit(self.woe(df), y)
        return self

    def _woe_table(self, keys, bad):
        good_tot, bad_tot = float((~bad).sum()), float(bad.sum())
        seen = sorted(set(keys.tolist()))
        k, s = len(seen), self.smoothing
        out = {}
        for key in seen:
            m = keys == key
            g, b = float((~bad[m]).sum()), float(bad[m].sum())
            out[key] = (int(m.sum()), int(b), math.log(((g + s) / (good_tot + s * k)) / ((b + s) / (bad_tot + s * k))))
        return out

    def _fitted(self):
        if self.characteristics_ is None:
            raise _invalid("the WoeScorecard is not fitted")

    def pipeline(self):
        """The pipeline of the binning: one woe feature per characteristic (what `riskd
        bundle build` derives from a scorecard without a pipeline)."""
        self._fitted()
        feats = []
        for ch in self.characteristics_:
            f = {"name": ch["name"], "source": ch["name"], "kind": "woe"}
            if ch["kind"] == "numeric":
                f["cuts"] = list(ch["cuts"])
                f["woe"] = [b["woe"] for b in ch["bins"]]
            else:
                f["levels"] = [lv["level"] for lv in ch["levels"]]
                f["woe"] = [lv["woe"] for lv in ch["levels"]]
                f["unknown_woe"] = ch["unknown"]["woe"]
            f["missing_woe"] = ch["missing"]["woe"]
            feats.append(f)
        return Pipeline({"dtype": "float64", "features": feats})

    def woe(self, df):
        """The WOE matrix of df's rows, computed by libriskd's pipeline."""
        self._fitted()
        return self.pipeline().prepare(_woe_frame(df, self.characteristics_))

    def predict_proba(self, df):
        return self.lr_.predict_proba(self.woe(df))

    @property
    def factor(self):
        return self.pdo / math.log(2.0)

    @property
    def offset(self):
        return self.base_points - self.factor * math.log(self.base_odds)

    def points(self, df):
        """offset - factor * margin: what the bundle's score is (higher is safer)."""
        return self.offset - self.factor * self.lr_.decision_function(self.woe(df))

    def to_json(self):
        """The scorecard in the woe_logistic_scorecard format (docs/formats.md)."""
        self._fitted()
        coef = [float(c) for c in self.lr_.coef_[0]]
        b0 = float(self.lr_.intercept_[0])
        n = len(coef)
        factor, offset = self.factor, self.offset
        chars = json.loads(json.dumps(self.characteristics_))
        for ch, c in zip(chars, coef):
            ch["coef"] = c
            bins = ch["bins"] if ch["kind"] == "numeric" else ch["levels"]
            allb = bins + [ch["missing"]] + ([ch["unknown"]] if "unknown" in ch else [])
            for b in allb:
                b["points"] = offset / n - factor * (c * b["woe"] + b0 / n)
            ch["max_points"] = max(b["points"] for b in allb)
        return {
            "type": "woe_logistic_scorecard",
            "intercept": b0,
            "scaling": {"base_points": self.base_points, "base_odds_good_bad": self.base_odds, "pdo": self.pdo,
                        "factor": factor, "offset": offset},
            "features": chars,
            "sklearn": {"C": self.C, "solver": "lbfgs", "smoothing": self.smoothing},
        }


def _woe_frame(df, chars):
    """df's characteristic columns as the pipeline reads them: numbers as numbers, levels as
    strings."""
    pd = _pandas()
    out = {}
    for ch in chars:
        col = df[ch["name"]]
        if ch["kind"] == "numeric":
            out[ch["name"]] = pd.to_numeric(col)
        else:
            out[ch["name"]] = col.map(lambda x: None if x is None or (isinstance(x, float) and x != x) else str(x))
    return pd.DataFrame(out, index=df.index)


def _logistic_json(model, pipe, data, means):
    import numpy as np
    if len(getattr(model, "classes_", ())) != 2 or model.coef_.shape[0] != 1:
        raise _invalid("riskd.export.sklearn: only a binary LogisticRegression (two classes) is exported")
    names = getattr(model, "feature_names_in_", None)
    _check_features(None if names is None else [str(n) for n in names], pipe, "LogisticRegression")
    feats = pipe.feature_names
    if means is None:
        x = pipe.prepare(_frame_of(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(x, axis=0)
        means = np.where(np.isnan(means), 0.0, means)  # a feature never seen: no imputation to speak of
    means = [float(m) for m in means]
    if len(means) != len(feats) or not all(math.isfinite(m) for m in means):
        raise _invalid(f"means: {len(feats)} finite numbers, one per feature")
    return {
        "type": "logistic_regression",
        "features": feats,
        "coef": [float(c) for c in model.coef_[0]],
        "intercept": float(model.intercept_[0]),
        "means": means,
    }


def sklearn(model, pipeline, data, label, name, out_dir=None, positive="1", risk_bands=None, reasons=4, samples=20,
            test_data=None, fallback=None, output_kind=None, overwrite=False, created_by=None, deadline_ms=None,
            means=None):
    """A scikit-learn LogisticRegression, or a riskd.export.WoeScorecard, as a bundle.

    LogisticRegression: binary, fitted on named features equal to the pipeline's (a DataFrame
    with columns=pipeline.feature_names). A missing value takes its feature's mean, so fit it on
    a matrix imputed with the same means: by default the means of the training data through
    the pipeline (np.nanmean of pipeline.prepare(data)); means= gives others (a SimpleImputer's
    statistics_, say). Use a float64 pipeline for a model trained on doubles.

    WoeScorecard: pipeline None (derived from the bins) or one whose features are the
    characteristics; output_kind defaults to score (points, higher is safer)."""
    check_name(name)
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as e:
        raise MissingDependency(f"riskd.export.sklearn needs scikit-learn (python3-sklearn): {e}") from None
    with tempfile.TemporaryDirectory(prefix="riskd-export-") as tmp:
        if isinstance(model, WoeScorecard):
            model._fitted()
            card = model.to_json()
            if pipeline is None:
                pipe, pipe_path = model.pipeline(), None
            else:
                pipe, pipe_path = _common(pipeline, tmp)
                _check_features([c["name"] for c in card["features"]], pipe, "scorecard")
            model_path = _json_file(card, os.path.join(tmp, "scorecard.json"))
        elif isinstance(model, LogisticRegression):
            if not hasattr(model, "coef_"):
                raise _invalid("the LogisticRegression is not fitted")
            if pipeline is None:
                raise _invalid("a LogisticRegression needs its pipeline (riskd.Pipeline, a spec dict or a path)")
            pipe, pipe_path = _common(pipeline, tmp)
            classes = [str(c) for c in model.classes_]
            if positive is not None and str(positive) in classes and classes[1] != str(positive):
                raise _invalid(f"the model's positive class (classes_[1], whose probability it gives) is "
                               f"{classes[1]!r}, not positive={positive!r}")
            model_path = _json_file(_logistic_json(model, pipe, data, means), os.path.join(tmp, "model.json"))
        else:
            kind = f"{type(model).__module__}.{type(model).__name__}"
            hint = ""
            if kind.startswith("sklearn.pipeline"):
                hint = (": export the pipeline's final LogisticRegression with a riskd.Pipeline that encodes "
                        "the inputs as its steps did (riskd runs its own pipeline, not scikit-learn's "
                        "transformers)")
            raise _invalid(f"riskd.export.sklearn takes a binary LogisticRegression or a "
                           f"riskd.export.WoeScorecard, not {kind}{hint}")
        return _build(model_path, pipe_path, data, label, name, out_dir, positive, risk_bands, reasons, samples,
                      test_data, fallback, output_kind, overwrite, created_by, deadline_ms, pipe.input_names, tmp)
