#!/usr/bin/python3
"""make bench (issue 18): a deeper XGBoost model than the shared one, trained here with Debian's
python3-xgboost: 500 trees of depth 8 on the shared credit data, the matrix made by riskd's own
pipeline (the shared credit_xgb.features.json through riskd.Pipeline), so model_bench can feed
it the synthetic applications through the same pipeline.

    bench/train_deep.py SHARED_DIR OUT.json"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))


def main():
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    import riskd
    shared, out = sys.argv[1], sys.argv[2]
    pipe = riskd.Pipeline.load(os.path.join(shared, "data", "models", "credit_xgb.features.json"))
    cats = [i["name"] for i in pipe.inputs if i.get("type") == "category"]
    df = pd.read_csv(os.path.join(shared, "data", "credit_data.csv"), dtype={c: "object" for c in cats})
    x = pipe.prepare(df)
    d = xgb.DMatrix(x.astype(np.float32), label=(df["Status"] == "bad").astype(int), missing=np.nan,
                    feature_names=pipe.feature_names)
    params = {"max_depth": 8, "eta": 0.05, "objective": "binary:logistic", "tree_method": "hist", "nthread": 2,
              "seed": 1, "min_child_weight": 0}
    xgb.train(params, d, 500).save_model(out)


if __name__ == "__main__":
    main()
