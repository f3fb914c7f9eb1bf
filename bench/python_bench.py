#!/usr/bin/python3
"""make bench, the Python binding (issue 17): scoring a DataFrame of N raw applications three
ways on this machine, interleaved rounds, the median of each:

  riskd        bundle.score(df, reasons=0): riskd's compiled pipeline, model and bands over
               the frame's columns, on every core (python/riskd)
  riskd+4      the same with 4 reason codes per row (TreeSHAP)
  xgboost      XGBClassifier.predict_proba on the matrix bundle.prepare made (not timed): the
               model alone, the floor of any Python path
  pandas       the feature code of bench/peers/score_fastapi.py (get_dummies, reindex, float32)
               on the frame, then predict_proba: the usual notebook path, the skew-prone one

and says how many rows the pandas path scores otherwise than riskd (training-serving skew).

    bench/python_bench.py BUNDLE_DIR DATA.csv [ROUNDS]   (prints a Markdown table)
"""
import os
import statistics
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))


def main():
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    import riskd
    from score_fastapi import Scorer

    bundle_dir, data = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    b = riskd.Bundle(bundle_dir)
    cats = [i["name"] for i in b.inputs if i["type"] == "category"]
    df = pd.read_csv(data, dtype={c: "object" for c in cats})
    df = df[[c for c in df.columns if c in b.input_names]]
    n = len(df)
    x = b.prepare(df)  # not timed
    peer = Scorer(os.path.join(bundle_dir, "model.json"), os.path.join(bundle_dir, "pipeline.json"), None, b.name)
    peer.model.set_params(n_jobs=os.cpu_count())
    peer.booster.set_param({"nthread": os.cpu_count()})
    xf = pd.DataFrame(x.astype(np.float32), columns=b.features)

    def pandas_path():
        enc = pd.get_dummies(df[peer.inputs], columns=peer.categorical, prefix_sep="=")
        enc = enc.reindex(columns=peer.feature_names, fill_value=0).astype(np.float32)
        return peer.model.predict_proba(enc)[:, 1]

    cases = {
        "riskd bundle.score (pipeline + model + bands)": lambda: b.score(df, reasons=0)["score"].to_numpy(),
        "riskd bundle.score, 4 reason codes (TreeSHAP)": lambda: b.score(df, reasons=4)["score"].to_numpy(),
        "XGBClassifier.predict_proba on the prepared matrix": lambda: peer.model.predict_proba(xf)[:, 1],
        "pandas features (score_fastapi.py) + predict_proba": pandas_path,
    }
    times = {k: [] for k in cases}
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(rounds):
            print(f"  round {r + 1}/{rounds}", end="\r", file=sys.stderr)
            for name, fn in cases.items():
                t0 = time.perf_counter()
                results[name] = fn()
                times[name].append(time.perf_counter() - t0)
    print(file=sys.stderr)
    names = list(cases)
    print(f"| {n:,} rows from a DataFrame | seconds (median of {rounds}) | rows/s "
          f"| its time ÷ riskd's, median (min–max) of the rounds |")
    print("| --- | ---: | ---: | ---: |")
    for name in names:
        t = statistics.median(times[name])
        # a round's ratio: the cases ran one after the other within it
        ratios = [a / b for a, b in zip(times[name], times[names[0]])]
        spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
        print(f"| {name} | {t:.3f} | {n / t:,.0f} | {statistics.median(ratios):.2f}x{spread} |")
    ours = np.float32(results[names[0]])
    same_model = int(np.sum(np.float32(results[names[2]]) != ours))
    skew = int(np.sum(np.float32(results[names[3]]) != ours))
    print()
    print(f"rows scored otherwise than riskd: predict_proba on riskd's matrix {same_model:,}; "
          f"the pandas feature path {skew:,} of {n:,}")


if __name__ == "__main__":
    main()
