#!/usr/bin/python3
"""What a data team runs today for `riskd drift` and `riskd ab`: the peer of both in `make bench`.

    analysis_pandas.py drift --db DIR/riskd.db --bundle BUNDLE_DIR
    analysis_pandas.py ab --db DIR/riskd.db --flag KEY

Reads the very SQLite database riskd reads, the pandas way: pd.read_sql of the decisions (and
of the outcomes, merged on request_id), json.loads of each record, frames of the fields used.
Then the same statistics as riskd (docs/reports.md, shared/reference/rollout-monitoring.md):

drift  the primary decisions against the bundle's reference.json: per input and for the score,
       PSI on the reference's bins (numbers: the cuts plus a missing bin; categories: the
       levels, unseen, missing; a zero share replaced by 1e-4) with its noise floor
       (1/n + 1/m) chi2.isf(0.001, bins - 1) over the bins holding a row on either side; KS drift scipy.stats.ks_2samp(reference
       quantiles, values) with its critical value; missing and unseen rates. Inputs are read as
       riskd's pipeline reads them (null and "" missing, numbers possibly strings). The score is
       the logged one when the bundle itself decided (its digest, source model), else the
       bundle's XGBoost model scores the features (xgboost, the one-hot frame of pipeline.json,
       float32), as riskd does.
ab     the primary decisions routed by the flag: per variant units, approvals, mean and sd of the
       score, bad rate among the approved (the only outcome recorded); against the control (the
       flag's defaultVariant, from the flag file kept in the database): statsmodels
       proportions_ztest for approval and bad rates, scipy ttest_ind(equal_var=False) for the
       score, statsmodels multipletests(holm), scipy chisquare for SRM on the fractional weights.

Prints one line of JSON with the key numbers (compared with riskd's by bench/analysis_check.py).
"""
import argparse
import json
import math
import os
import sqlite3
import sys

import numpy as np
import pandas as pd
from scipy import stats

PSI_EPS = 1e-4
PSI_ALPHA = 0.001
KS_ALPHA = 0.001


def num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def psi(ref, cur):
    e = np.asarray(ref, float) / np.sum(ref)
    a = np.asarray(cur, float) / np.sum(cur)
    e[e == 0] = PSI_EPS
    a[a == 0] = PSI_EPS
    return float(np.sum((a - e) * np.log(a / e)))


def live(ref, cur):
    """The bins holding a row on either side (an empty one adds nothing to PSI, nor to its df)."""
    return sum(1 for r, c in zip(ref, cur) if r > 0 or c > 0)


def psi_floor(n, m, nbins):
    return (1 / n + 1 / m) * float(stats.chi2.isf(PSI_ALPHA, nbins - 1))


def ks_critical(n, m):
    return math.sqrt(-math.log(KS_ALPHA / 2) / 2) * math.sqrt((n + m) / (n * m))


def numeric_stats(x, missing, dist, missing_bin, ref_missing):
    """x: float values (NaN where missing or not a number)."""
    vals = x[~np.isnan(x)]
    cur = np.bincount(np.searchsorted(dist["cuts"], vals, side="right"), minlength=len(dist["counts"]))
    ref = list(dist["counts"])
    cur = list(cur)
    if missing_bin:
        ref.append(ref_missing)
        cur.append(int(missing))
    n, m = float(np.sum(ref)), float(np.sum(cur))
    d = stats.ks_2samp(dist["quantiles"], vals).statistic
    return {"psi": psi(ref, cur), "psi_floor": psi_floor(n, m, live(ref, cur)), "ks": float(d),
            "ks_critical": ks_critical(dist["n"], len(vals))}


def drift(a):
    bdir = a.bundle
    ref = json.load(open(os.path.join(bdir, "reference.json")))
    digest = json.load(open(os.path.join(bdir, "manifest.json")))["digest"]
    con = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True)
    df = pd.read_sql("SELECT record FROM decisions WHERE kind = 'primary' ORDER BY id", con)
    con.close()
    feats, own, scores = [], [], []
    for s in df.pop("record"):
        r = json.loads(s)
        feats.append(r["features"])
        mine = r["bundle"]["digest"] == digest and r["source"] == "model"
        own.append(mine)
        scores.append(r["score"] if mine else np.nan)
    del df
    X = pd.DataFrame.from_records(feats)
    del feats
    own = np.array(own)
    score = np.array(scores, dtype=float)
    del scores
    # the rows another bundle decided: scored by this bundle's model
    import xgboost as xgb
    pipe = json.load(open(os.path.join(bdir, "pipeline.json")))
    model = [f for f in os.listdir(bdir) if f.startswith("model.")][0]
    booster = xgb.Booster(model_file=os.path.join(bdir, model))
    other = X.loc[~own]
    cols = {}
    for f in pipe["features"]:
        src = other[f["source"]] if f["source"] in other else pd.Series(np.nan, index=other.index)
        if f["kind"] == "numeric":
            cols[f["name"]] = pd.to_numeric(src.replace("", np.nan), errors="coerce").astype(np.float32)
        else:
            cols[f["name"]] = (src == f["level"]).astype(np.float32)
    F = pd.DataFrame(cols)
    if len(F):
        score[~own] = booster.predict(xgb.DMatrix(F, missing=np.nan)).astype(np.float64)

    out = {"rows": int(len(X)), "scores_logged": int(own.sum()), "scores_computed": int((~own).sum()), "vars": {}}
    s = numeric_stats(score, 0, ref["score"], False, 0)
    s["missing_rate"] = 0.0
    out["vars"]["score"] = s
    for name, r in ref["inputs"].items():
        col = X[name] if name in X else pd.Series([None] * len(X))
        missing = col.isna() | (col == "")
        if r["type"] == "number":
            x = pd.to_numeric(col.where(~missing), errors="coerce").to_numpy(dtype=float)
            v = numeric_stats(x, int(missing.sum()), r, True, r["missing"])
        else:
            levels = list(r["levels"])
            present = col[~missing]
            counts = present.value_counts()
            cur = [int(counts.get(lv, 0)) for lv in levels]
            unseen = int(len(present) - sum(cur))
            cur += [unseen, int(missing.sum())]
            refc = list(r["levels"].values()) + [r.get("unseen", 0), r["missing"]]
            v = {"psi": psi(refc, cur), "psi_floor": psi_floor(float(sum(refc)), float(sum(cur)), live(refc, cur)),
                 "unseen_rate": unseen / len(col)}
        v["missing_rate"] = float(missing.mean())
        out["vars"][name] = v
    return out


def ab(a):
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest
    con = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True)
    df = pd.read_sql("SELECT request_id, record FROM decisions WHERE kind = 'primary' ORDER BY id", con)
    oc = pd.read_sql("SELECT request_id, outcome, label FROM outcomes", con)
    names = sorted(oc["outcome"].unique())
    if len(names) > 1:
        sys.exit("several outcomes recorded: %s" % names)
    cols = {k: [] for k in ("route_flag", "flags_sha", "routed", "variant", "decision", "source", "score")}
    for s in df.pop("record"):  # the fields used, not 1M whole records (GBs of dicts)
        r = json.loads(s)
        f = r["flags"]
        cols["route_flag"].append(f["route_flag"])
        cols["flags_sha"].append(f["sha256"])
        cols["routed"].append(r.get("routed"))
        cols["variant"].append(r.get("variant"))
        cols["decision"].append(r["decision"])
        cols["source"].append(r["source"])
        cols["score"].append(r.get("score"))
    d = pd.DataFrame(cols)
    d["request_id"] = df["request_id"]
    del cols, df
    d = d[(d.route_flag == a.flag) & d.variant.notna() & (d.routed != False)]  # noqa: E712
    d = d.merge(oc[["request_id", "label"]], on="request_id", how="left")
    shas = list(d.flags_sha.unique())
    kept = {sha: json.loads(con.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()[0])
            for sha in shas}
    con.close()
    control = kept[shas[-1]]["flags"][a.flag]["defaultVariant"]
    d["approve"] = d.decision == "approve"
    d["scored"] = np.where(d.source == "model", d.score.astype(float), np.nan)
    g = d.groupby("variant")
    per = pd.DataFrame({
        "units": g.size(),
        "approve": g.approve.sum(),
        "mean_score": g.scored.mean(),
        "sd_score": g.scored.std(ddof=1),
    })
    appr = d[d.approve & d.label.notna()]
    per["approved_labelled"] = appr.groupby("variant").size()
    per["approved_bads"] = appr.groupby("variant").label.sum()
    per = per.fillna({"approved_labelled": 0, "approved_bads": 0})
    per["bad_rate_approved"] = per.approved_bads / per.approved_labelled
    c = per.loc[control]
    comps = []
    for v in per.index:
        if v == control:
            continue
        t = per.loc[v]
        z, p = proportions_ztest([t.approve, c.approve], [t.units, c.units])
        comps.append({"variant": v, "metric": "approval_rate", "statistic": float(z), "p": float(p)})
        w = stats.ttest_ind(d.scored[(d.variant == v)].dropna(), d.scored[(d.variant == control)].dropna(),
                            equal_var=False)
        comps.append({"variant": v, "metric": "mean_score", "statistic": float(w.statistic), "p": float(w.pvalue)})
        z, p = proportions_ztest([t.approved_bads, c.approved_bads], [t.approved_labelled, c.approved_labelled])
        comps.append({"variant": v, "metric": "bad_rate_approved", "statistic": float(z), "p": float(p)})
    holm = multipletests([k["p"] for k in comps], method="holm")[1]
    for k, h in zip(comps, holm):
        k["p_holm"] = float(h)
    srm = []
    for sha in shas:
        split = kept[sha]["flags"][a.flag]["targeting"]["fractional"]
        arms = [s[0] for s in split]
        w = np.array([s[1] for s in split], float)
        obs = d[d.flags_sha == sha].variant.value_counts().reindex(arms, fill_value=0).to_numpy()
        chi2, p = stats.chisquare(obs, w / w.sum() * obs.sum())
        srm.append({"flags_sha": sha, "chi2": float(chi2), "p": float(p)})
    return {"rows": int(len(d)), "control": control,
            "variants": {v: {k: num(x) for k, x in per.loc[v].items()} for v in per.index},
            "comparisons": comps, "srm": srm}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report", choices=["drift", "ab"])
    ap.add_argument("--db", required=True)
    ap.add_argument("--bundle")
    ap.add_argument("--flag")
    a = ap.parse_args()
    out = drift(a) if a.report == "drift" else ab(a)
    out["report"] = a.report
    print(json.dumps(out))


if __name__ == "__main__":
    main()
