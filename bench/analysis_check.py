#!/usr/bin/python3
"""Are riskd's report and the pandas peer's numbers the same? (bench/analysis.sh)

    analysis_check.py drift|ab RISKD.json PEER.json

Counts must be equal; statistics equal to 1e-9 (relative; 1e-12 absolute near 0). Prints one
line: "riskd and pandas+scipy agree on N numbers" or a WARNING naming the first differences
(the bench goes on: the table is printed either way). Exit status 0 either way.
"""
import json
import math
import sys

TOL = 1e-9


def main():
    kind, rpath, ppath = sys.argv[1:4]
    r, p = json.load(open(rpath)), json.load(open(ppath))
    bad, n = [], 0

    def same(what, got, want, exact=False):
        nonlocal n
        n += 1
        if got is None or want is None:
            ok = got is None and want is None
        elif exact:
            ok = got == want
        else:
            ok = math.isclose(got, want, rel_tol=TOL, abs_tol=1e-12)
        if not ok:
            bad.append("%s: riskd %r, pandas %r" % (what, got, want))

    if kind == "drift":
        same("rows", r["rows"], p["rows"], True)
        same("scores logged", r["scores"]["logged"], p["scores_logged"], True)
        same("scores computed", r["scores"]["computed"], p["scores_computed"], True)
        for v in [r["score"]] + r["inputs"]:
            q = p["vars"].get(v["name"])
            if q is None:
                bad.append("%s: not in the peer's output" % v["name"])
                continue
            for k in ("psi", "psi_floor", "ks", "ks_critical", "missing_rate", "unseen_rate"):
                if k in q:
                    same("%s %s" % (v["name"], k), v[k], q[k])
    else:
        same("rows", r["rows"], p["rows"], True)
        same("control", r["control"], p["control"], True)
        for v in r["variants"]:
            q = p["variants"].get(v["name"])
            if q is None:
                bad.append("variant %s: not in the peer's output" % v["name"])
                continue
            for k in ("units", "approve", "approved_labelled", "approved_bads"):
                same("%s %s" % (v["name"], k), v[k], int(q[k]), True)
            for k in ("mean_score", "sd_score", "bad_rate_approved"):
                same("%s %s" % (v["name"], k), v[k], q[k])
        pc = {(k["variant"], k["metric"]): k for k in p["comparisons"]}
        all_ok = all(k["status"] == "ok" for k in r["comparisons"])
        # the comparison's variant is read from the peer's order: riskd's name field is not
        # trusted here (it has been wrong before); metric and order identify the comparison
        variants = [v["name"] for v in r["variants"][1:] for _ in range(3)]
        for k, var in zip(r["comparisons"], variants):
            q = pc.get((var, k["metric"]))
            if q is None or k["status"] != "ok":
                continue
            same("%s %s statistic" % (var, k["metric"]), k["statistic"], q["statistic"])
            same("%s %s p" % (var, k["metric"]), k["p"], q["p"])
            if all_ok:
                same("%s %s Holm p" % (var, k["metric"]), k["p_holm"], q["p_holm"])
        ps = {s["flags_sha"]: s for s in p["srm"]}
        for s in r["srm"]:
            q = ps.get(s["flags_sha"])
            if q is None:
                bad.append("SRM %s: not in the peer's output" % s["flags_sha"])
                continue
            same("SRM chi2", s["chi2"], q["chi2"])
            same("SRM p", s["p"], q["p"])
    if bad:
        print("WARNING: riskd %s and pandas+scipy differ on %d of %d numbers: %s" % (
            kind, len(bad), n, "; ".join(bad[:4])))
    else:
        print("%s: riskd and pandas+scipy agree on %d numbers (counts exactly, statistics to 1e-9)" % (kind, n))


if __name__ == "__main__":
    main()
