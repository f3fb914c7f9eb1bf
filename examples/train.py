#!/usr/bin/python3
"""Train the two example credit models that `make demo` serves.

    /usr/bin/python3 examples/train.py [--data examples/data/credit_data.csv] [--out examples/models]

Writes, for the champion (credit_xgb_v1.0) and the challenger (credit_xgb_v1.1):

    examples/models/credit_xgb_v1.X/model.json      XGBoost JSON (Booster.save_model)
    examples/models/credit_xgb_v1.X/pipeline.json   the riskd feature spec (numeric + one_hot)

and prints the test AUC of each. Needs Debian 12's python3-xgboost (1.7.4), python3-pandas
and python3-numpy. The run is deterministic: a seeded stratified split, fixed XGBoost seeds,
one thread and the `exact` tree method, so the same packages give byte-identical files.
"""

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd
import xgboost as xgb

LABEL = "Status"
POSITIVE = "bad"
SPLIT_SEED = 20261123
TEST_FRACTION = 0.25

# The raw inputs in the data set's column order: (name, kind, levels or bounds).
# Category levels are those of the data set; a level outside them is "unknown" to the
# pipeline and, like a missing value, sets all of that input's one-hot features to 0.
INPUTS = [
    ("Seniority", "number", {"min": 0, "max": 80}),
    ("Home", "category", ["ignore", "other", "owner", "parents", "priv", "rent"]),
    ("Time", "number", {"min": 0, "max": 600}),
    ("Age", "number", {"min": 18, "max": 120}),
    ("Marital", "category", ["divorced", "married", "separated", "single", "widow"]),
    ("Records", "category", ["no", "yes"]),
    ("Job", "category", ["fixed", "freelance", "others", "partime"]),
    ("Expenses", "number", {"min": 0}),
    ("Income", "number", {"min": 0}),
    ("Assets", "number", {"min": 0}),
    ("Debt", "number", {"min": 0}),
    ("Amount", "number", {"min": 0}),
    ("Price", "number", {"min": 0}),
]

MODELS = {
    # The champion: small and quick.
    "credit_xgb_v1.0": {
        "rounds": 100,
        "params": {"max_depth": 3, "eta": 0.1, "subsample": 1.0, "colsample_bytree": 1.0},
    },
    # The challenger: more, deeper trees at a lower learning rate, with row and column sampling
    # and larger leaves.
    "credit_xgb_v1.1": {
        "rounds": 300,
        "params": {
            "max_depth": 4,
            "eta": 0.03,
            "subsample": 0.7,
            "colsample_bytree": 0.8,
            "min_child_weight": 3,
        },
    },
}

COMMON_PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "tree_method": "exact",
    "min_child_weight": 1,
    "lambda": 1.0,
    "base_score": 0.5,
    "seed": 7,
    "nthread": 1,
}


def pipeline_spec():
    """The riskd pipeline spec: declared inputs, then the model's features in order."""
    inputs, features = [], []
    for name, kind, extra in INPUTS:
        if kind == "number":
            inputs.append({"name": name, "type": "number", **extra})
            features.append({"name": name, "source": name, "kind": "numeric"})
        else:
            inputs.append({"name": name, "type": "category", "levels": list(extra)})
            for level in extra:
                features.append(
                    {"name": f"{name}={level}", "source": name, "kind": "one_hot", "level": level}
                )
    return {"dtype": "float32", "inputs": inputs, "features": features}


def check_inputs(df):
    """Refuse data the declared inputs would refuse, so the spec and the data agree."""
    for name, kind, extra in INPUTS:
        col = df[name]
        if kind == "number":
            values = pd.to_numeric(col, errors="raise").dropna()
            if "min" in extra and (values < extra["min"]).any():
                sys.exit(f"train.py: {name} has values below {extra['min']}")
            if "max" in extra and (values > extra["max"]).any():
                sys.exit(f"train.py: {name} has values above {extra['max']}")
        else:
            unknown = set(col.dropna()) - set(extra)
            if unknown:
                sys.exit(f"train.py: {name} has undeclared levels {sorted(unknown)}")


def feature_matrix(df, spec):
    """The float32 matrix riskd's pipeline produces: NaN for a missing number, one-hot 0/1."""
    cols = []
    for f in spec["features"]:
        src = df[f["source"]]
        if f["kind"] == "numeric":
            cols.append(pd.to_numeric(src).to_numpy(dtype=np.float64))
        else:
            cols.append((src == f["level"]).to_numpy(dtype=np.float64))
    return np.column_stack(cols).astype(np.float32)


def split(labels):
    """A seeded stratified split: TEST_FRACTION of each class goes to the test set."""
    rng = np.random.RandomState(SPLIT_SEED)
    is_test = np.zeros(len(labels), dtype=bool)
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        is_test[idx[: int(round(len(idx) * TEST_FRACTION))]] = True
    return ~is_test, is_test


def auc(y, p):
    """Area under the ROC curve (Mann-Whitney U, ties counted as one half)."""
    ranks = pd.Series(p).rank(method="average").to_numpy()
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def replace_if_changed(tmp, path):
    """Move tmp onto path, unless path already holds the same bytes: then an unchanged model
    keeps its time stamp, and scripts/demo.sh does not rebuild its bundle."""
    with open(tmp, "rb") as f:
        new = f.read()
    try:
        with open(path, "rb") as f:
            if f.read() == new:
                os.remove(tmp)
                return
    except FileNotFoundError:
        pass
    os.replace(tmp, path)


def write_json(path, obj):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    replace_if_changed(path + ".tmp", path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(here, "data", "credit_data.csv"))
    ap.add_argument("--out", default=os.path.join(here, "models"))
    args = ap.parse_args()

    # Only an empty field is missing ("NA" and the like are not in this file, and would be
    # values to riskd's CSV reader too).
    df = pd.read_csv(args.data, keep_default_na=False, na_values=[""], dtype=str)
    if set(df[LABEL]) - {"bad", "good"}:
        sys.exit(f"train.py: {LABEL} must be bad or good")
    check_inputs(df)

    spec = pipeline_spec()
    names = [f["name"] for f in spec["features"]]
    X = feature_matrix(df, spec)
    y = (df[LABEL] == POSITIVE).to_numpy(dtype=np.int32)
    train, test = split(y)
    print(
        f"{os.path.relpath(args.data)}: {len(df)} rows, {len(names)} features; "
        f"train {train.sum()} rows, test {test.sum()} rows (bad rate {y.mean():.3f})"
    )

    dtrain = xgb.DMatrix(X[train], label=y[train], feature_names=names, missing=np.nan)
    dtest = xgb.DMatrix(X[test], label=y[test], feature_names=names, missing=np.nan)
    for name, cfg in MODELS.items():
        params = {**COMMON_PARAMS, **cfg["params"]}
        booster = xgb.train(params, dtrain, num_boost_round=cfg["rounds"], verbose_eval=False)
        outdir = os.path.join(args.out, name)
        os.makedirs(outdir, exist_ok=True)
        model_path = os.path.join(outdir, "model.json")
        booster.save_model(model_path + ".tmp.json")
        replace_if_changed(model_path + ".tmp.json", model_path)
        write_json(os.path.join(outdir, "pipeline.json"), spec)
        auc_test = auc(y[test], booster.predict(dtest))
        auc_train = auc(y[train], booster.predict(dtrain))
        print(
            f"{name}: {cfg['rounds']} trees, depth {params['max_depth']}, eta {params['eta']}: "
            f"test AUC {auc_test:.4f} (train {auc_train:.4f}), "
            f"model.json {os.path.getsize(model_path)} bytes"
        )


if __name__ == "__main__":
    main()
