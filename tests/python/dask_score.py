#!/usr/bin/python3
"""Score a CSV with Dask's map_partitions(bundle.score) on worker processes (the bundle pickled
and re-verified in each) and say whether the frame equals bundle.score on the whole: the
check test_bundle.py runs in a process of its own, since worker processes re-import __main__.

    dask_score.py BUNDLE_DIR DATA.csv   ->  prints "same" or the first difference"""
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))


def main():
    import dask.dataframe as dd
    import pandas as pd

    import riskd
    b = riskd.Bundle(sys.argv[1])
    df = pd.read_csv(sys.argv[2], dtype={c: "object" for c in ["Home", "Marital", "Records", "Job"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", riskd.RiskdWarning)
        whole = b.score(df)
        ddf = dd.from_pandas(df, npartitions=5)
        got = ddf.map_partitions(b.score, meta=whole.iloc[:0]).compute(scheduler="processes", num_workers=2)
    if got.equals(whole):
        print("same")
    else:
        diff = (got != whole).any(axis=1)
        print("differ:", int(diff.sum()), "rows, first", got[diff].head(1).to_dict())


if __name__ == "__main__":
    main()
