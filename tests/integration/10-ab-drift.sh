#!/usr/bin/env bash
# riskd ab and riskd drift on a decision log the service itself made (analysis_fixture.sh: two
# example credit bundles routed 50/50, the challenger in shadow, outcomes imported), checked
# against an independent computation from `riskd log export` with statsmodels and scipy (the
# counts, rates, z-tests, Welch t, Holm, SRM, PSI and KS); then the same report from a CSV of
# decisions made elsewhere, drift against a CSV with one input shifted (named first, alarmed),
# and the bad inputs: an unknown flag or control, a CSV without a column, a decision or label
# spelled otherwise, too few rows (every statistic "insufficient data" with the count it needs).
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/analysis_fixture.sh
. "$(dirname "$0")/analysis_fixture.sh"
PY=/usr/bin/python3
$PY -c 'import scipy.stats, statsmodels' 2>/dev/null ||
    { echo "scipy or statsmodels missing (scripts/deps.sh installs python3-scipy, python3-statsmodels)"; exit 1; }

analysis_log || { echo "FAIL: could not make the decision log"; echo "0 passed, 1 failed"; exit 1; }
D=$T/data
"$BIN" log export --data-dir "$D" --format jsonl --out "$T/log.jsonl" >/dev/null 2>&1

# ---- ab from the log, against statsmodels / scipy on the exported records
# --min-bads 50: the example data has 99 bads among the approved, under the default 100
"$BIN" ab --data-dir "$D" --flag model-route --min-bads 50 --json >"$T/ab.json" 2>"$T/ab.err"
check "ab from the log" 0 $? '"report":"ab"' "$T/ab.json"
schema_ok "ab from the log" ab "$T/ab.json"
"$BIN" ab --data-dir "$D" --flag model-route >"$T/ab.txt" 2>&1
grep -q "bad rate among approved not yet measurable (insufficient data: 99 bads among the approved, need 100)" "$T/ab.txt"
check "ab: the bad rate with 99 bads says it needs 100" 0 $?
check "ab: the table names the control and a sentence" 0 $? "control: champion" "$T/ab.txt"
grep -qE "challenger approves [0-9.]+ pp (more|fewer) than champion" "$T/ab.txt"
check "ab: the approval difference in plain words" 0 $?
$PY - "$T/ab.json" "$T/log.jsonl" "$T/outcomes.csv" >"$T/ab.check" 2>&1 <<'P'
import csv, json, math, sys
import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.multitest import multipletests
rep = json.load(open(sys.argv[1]))
labels = {r["request_id"]: int(r["label"]) for r in csv.DictReader(open(sys.argv[3]))}
arms = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["kind"] != "primary":
        continue
    a = arms.setdefault(r["variant"], {"n": 0, "app": 0, "scores": [], "al": 0, "ab": 0})
    a["n"] += 1
    a["app"] += r["decision"] == "approve"
    if r["source"] == "model":
        a["scores"].append(r["score"])
    if r["decision"] == "approve" and r["request_id"] in labels:
        a["al"] += 1
        a["ab"] += labels[r["request_id"]]
bad = []
def close(what, got, want, tol=1e-9):
    if got is None or want is None or not math.isclose(got, want, rel_tol=tol, abs_tol=1e-12):
        bad.append("%s: riskd %r, reference %r" % (what, got, want))
v = {x["name"]: x for x in rep["variants"]}
assert rep["control"] == "champion" and rep["variants"][0]["name"] == "champion", rep["control"]
assert rep["outcome"] == "dpd90", rep["outcome"]
for name, a in arms.items():
    x = v[name]
    if (x["units"], x["approve"], x["approved_labelled"], x["approved_bads"]) != (a["n"], a["app"], a["al"], a["ab"]):
        bad.append("%s counts: %r vs %r" % (name, x, a))
    close(name + " mean score", x["mean_score"], float(np.mean(a["scores"])))
    close(name + " sd score", x["sd_score"], float(np.std(a["scores"], ddof=1)))
c, t = arms["champion"], arms["challenger"]
cmp = {k["metric"]: k for k in rep["comparisons"]}
ap = cmp["approval_rate"]
z, p = proportions_ztest([t["app"], c["app"]], [t["n"], c["n"]])
close("approval z", ap["statistic"], z)
close("approval p", ap["p"], p)
p1, p0 = t["app"] / t["n"], c["app"] / c["n"]
se = math.sqrt(p1 * (1 - p1) / t["n"] + p0 * (1 - p0) / c["n"])
q = stats.norm.ppf(0.975)
close("approval diff", ap["diff"], p1 - p0)
close("approval ci lo", ap["ci"][0], p1 - p0 - q * se)
close("approval ci hi", ap["ci"][1], p1 - p0 + q * se)
ms = cmp["mean_score"]
tt = stats.ttest_ind(t["scores"], c["scores"], equal_var=False)
close("welch t", ms["statistic"], tt.statistic)
close("welch p", ms["p"], tt.pvalue)
br = cmp["bad_rate_approved"]
z, p = proportions_ztest([t["ab"], c["ab"]], [t["al"], c["al"]])
close("bad rate z", br["statistic"], z)
close("bad rate p", br["p"], p)
ps = [k["p"] for k in rep["comparisons"]]
adj = multipletests(ps, method="holm")[1]
for k, a in zip(rep["comparisons"], adj):
    close("holm " + k["metric"], k["p_holm"], float(a))
srm = rep["srm"]
assert len(srm) == 1 and srm[0]["stage"] == "half", srm
obs = {a["variant"]: a["observed"] for a in srm[0]["arms"]}
chi2, p = stats.chisquare([obs["champion"], obs["challenger"]])
close("srm chi2", srm[0]["chi2"], chi2)
close("srm p", srm[0]["p"], p)
assert srm[0]["verdict"] == ("fail" if p < 0.001 else "pass"), srm[0]
assert len(rep["series"]) >= 1 and rep["score_hist"]["edges"], "series / score_hist"
# the names point into the result, not at the freed reading state (they once printed garbage)
for k in rep["comparisons"] + rep["series"]:
    if k["variant"] != "challenger":
        bad.append("a comparison or series point names variant %r" % k["variant"])
for b in bad:
    print("MISMATCH", b)
print("checked", len(rep["comparisons"]), "comparisons,", len(bad), "mismatches")
sys.exit(1 if bad else 0)
P
check "ab: counts, z-tests, Welch t, Holm and SRM equal statsmodels/scipy on the exported log" 0 $? "0 mismatches" "$T/ab.check"
cat "$T/ab.check" | grep MISMATCH | head -5

# ---- ab from a CSV of decisions made elsewhere (the same decisions), and --weights SRM
$PY - "$T/log.jsonl" "$T/outcomes.csv" >"$T/decisions.csv" <<'P'
import csv, json, sys
labels = {r["request_id"]: r["label"] for r in csv.DictReader(open(sys.argv[2]))}
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(["arm", "verdict", "pd", "bad"])
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["kind"] == "primary":
        w.writerow([r["variant"], r["decision"], r["score"] if r["source"] == "model" else "", labels.get(r["request_id"], "")])
P
"$BIN" ab --in "$T/decisions.csv" --variant-col arm --decision-col verdict --score-col pd --label-col bad \
    --control champion --weights champion=50,challenger=50 --min-bads 50 --json >"$T/abcsv.json" 2>"$T/abcsv.err"
check "ab from a CSV" 0 $? '"report":"ab"' "$T/abcsv.json"
schema_ok "ab from a CSV" ab "$T/abcsv.json"
$PY - "$T/ab.json" "$T/abcsv.json" <<'P'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["variants"] == b["variants"], "variants differ"
for x, y in zip(a["comparisons"], b["comparisons"]):
    for k in ("diff", "p", "p_holm", "statistic"):
        assert x[k] == y[k], (x["metric"], k, x[k], y[k])
assert b["srm"][0]["p"] == a["srm"][0]["p"], "srm"
P
check "ab: the CSV gives the very numbers the log gives" 0 $?
"$BIN" ab --in "$T/decisions.csv" --variant-col arm --decision-col verdict --score-col pd \
    --control champion --weights champion=90,challenger=10 --json >"$T/srm.json" 2>&1
$PY -c "import json,sys; s=json.load(open(sys.argv[1]))['srm'][0]; sys.exit(0 if s['verdict']=='fail' else 1)" "$T/srm.json"
check "ab: units split 50/50 against weights 90/10 fail SRM" 0 $?

# ---- too little data: every statistic says what it needs, never a number
head -41 "$T/decisions.csv" >"$T/few.csv"
"$BIN" ab --in "$T/few.csv" --variant-col arm --decision-col verdict --score-col pd --label-col bad \
    --control champion --json >"$T/few.json" 2>&1
$PY - "$T/few.json" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
for k in r["comparisons"]:
    assert k["status"] == "insufficient" and k["p"] is None and k["diff"] is None, k
    assert "insufficient data" in k["note"] and "need" in k["note"], k["note"]
P
check "ab: 40 decisions: every comparison insufficient, with the count it needs" 0 $?
schema_ok "ab with too little data" ab "$T/few.json"

# ---- bad input
"$BIN" ab --data-dir "$D" --flag model-rout >"$T/o" 2>&1
check "ab: an unknown flag is refused, naming the flag that routed" 1 $? "model-rout routed no decision.*model-route" "$T/o"
"$BIN" ab --data-dir "$D" --flag model-route --control nobody >"$T/o" 2>&1
check "ab: an unknown control is refused, listing the variants" 1 $? "nobody is no variant.*champion" "$T/o"
"$BIN" ab --data-dir "$D" --flag model-route --outcome fpd >"$T/o" 2>&1
check "ab: an unknown outcome is refused, listing those recorded" 1 $? "fpd.*dpd90" "$T/o"
"$BIN" ab --in "$T/decisions.csv" --variant-col variant --decision-col verdict --score-col pd >"$T/o" 2>&1
check "ab: a CSV without the column (did you mean)" 1 $? "--variant-col variant names no column.*columns: arm" "$T/o"
sed 's/,approve,/,APPROVED,/' "$T/decisions.csv" >"$T/bad.csv"
"$BIN" ab --in "$T/bad.csv" --variant-col arm --decision-col verdict --score-col pd >"$T/o" 2>&1
check "ab: a decision spelled otherwise names the line" 1 $? "line [0-9]+: verdict: expected approve, review or reject" "$T/o"
sed '5s/,[01]$/,yes/' "$T/decisions.csv" >"$T/bad.csv"
"$BIN" ab --in "$T/bad.csv" --variant-col arm --decision-col verdict --score-col pd --label-col bad >"$T/o" 2>&1
check "ab: a label other than 0/1/empty names the line" 1 $? "line 5: bad: expected 0" "$T/o"
"$BIN" ab --data-dir "$D" >"$T/o" 2>&1
check "ab: the log without --flag is a usage error" 2 $? "needs --flag" "$T/o"
"$BIN" ab --in "$T/decisions.csv" --variant-col arm --decision-col verdict --score-col pd --weights champion=1,x=1 >"$T/o" 2>&1
check "ab: weights naming no variant" 1 $? "x is no variant" "$T/o"
"$BIN" ab --in "$T/decisions.csv" --variant-col arm --decision-col verdict --score-col pd --weights champion=50 >"$T/o" 2>&1
check "ab: weights leaving a variant out" 1 $? "challenger has decisions but no weight" "$T/o"
"$BIN" ab --in "$T/decisions.csv" --variant-col arm --decision-col verdict --score-col pd --weights champion=5,champion=1,challenger=5 >"$T/o" 2>&1
check "ab: a variant weighted twice" 2 $? "given twice" "$T/o"

# ---- drift from the log, against an independent PSI / KS from reference.json
"$BIN" drift --bundle "$T/bundles/credit_xgb_v1.0" --data-dir "$D" --json >"$T/drift.json" 2>"$T/drift.err"
check "drift from the log" 0 $? '"report":"drift"' "$T/drift.json"
schema_ok "drift from the log" drift "$T/drift.json"
$PY - "$T/drift.json" "$T/bundles/credit_xgb_v1.0/reference.json" "$T/log.jsonl" "$T/bundles/credit_xgb_v1.0/manifest.json" >"$T/drift.check" 2>&1 <<'P'
import json, math, sys
import numpy as np
from scipy import stats
rep, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
digest = json.load(open(sys.argv[4]))["digest"]
feats, scores = [], []
for line in open(sys.argv[3]):
    r = json.loads(line)
    if r["kind"] == "primary":
        feats.append(r["features"])
        if r["bundle"]["digest"] == digest and r["source"] == "model":
            scores.append(r["score"])
        else:
            scores.append(None)
bad = []
def psi(refc, cur):
    e, a = np.array(refc, float) / sum(refc), np.array(cur, float) / sum(cur)
    e[e == 0] = 1e-4
    a[a == 0] = 1e-4
    return float(np.sum((a - e) * np.log(a / e)))
def close(what, got, want, tol=1e-9):
    if got is None or not math.isclose(got, want, rel_tol=tol, abs_tol=1e-12):
        bad.append("%s: riskd %r, reference %r" % (what, got, want))
assert rep["rows"] == len(feats), (rep["rows"], len(feats))
for v in rep["inputs"]:
    name, r = v["name"], ref["inputs"][v["name"]]
    vals = [f.get(name) for f in feats]
    if r["type"] == "number":
        x = [float(t) for t in vals if t is not None]
        cur = list(np.bincount(np.searchsorted(r["cuts"], x, side="right"), minlength=len(r["counts"])))
        cur.append(sum(t is None for t in vals))
        close(name + " psi", v["psi"], psi(r["counts"] + [r["missing"]], cur))
        d = stats.ks_2samp(r["quantiles"], x).statistic
        close(name + " ks", v["ks"], d)
    else:
        levels = list(r["levels"])
        cur = [sum(t == l for t in vals) for l in levels]
        cur.append(sum(t is not None and t not in levels for t in vals))
        cur.append(sum(t is None for t in vals))
        close(name + " psi", v["psi"], psi(list(r["levels"].values()) + [r.get("unseen", 0), r["missing"]], cur))
ps = [v["psi"] for v in rep["inputs"]]
assert ps == sorted(ps, reverse=True), "inputs not sorted by PSI"
# the score: logged for this bundle's decisions; the others are scored by riskd (checked by count)
assert rep["scores"]["logged"] == sum(s is not None for s in scores), rep["scores"]
for b in bad:
    print("MISMATCH", b)
print("checked", len(rep["inputs"]), "inputs,", len(bad), "mismatches")
sys.exit(1 if bad else 0)
P
check "drift: per-input PSI and KS equal numpy/scipy on the exported log" 0 $? "0 mismatches" "$T/drift.check"
grep MISMATCH "$T/drift.check" | head -5
"$BIN" drift --bundle "$T/bundles/credit_xgb_v1.0" --data-dir "$D" >"$T/drift.txt" 2>&1
check "drift: the table" 0 $? "^score " "$T/drift.txt"

# ---- drift from a CSV with one input shifted: named first and alarmed
$PY - "$T/apps.csv" >"$T/shifted.csv" <<'P'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
w.writeheader()
for r in rows:
    if r["Income"]:
        r["Income"] = str(float(r["Income"]) * 1.6)
    w.writerow(r)
P
"$BIN" drift --bundle "$T/bundles/credit_xgb_v1.0" --in "$T/shifted.csv" --json --check >"$T/shift.json" 2>&1
check "drift --check: a shifted input exits 5" 5 $?
$PY - "$T/shift.json" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
first = r["inputs"][0]
assert first["name"] == "Income" and first["psi_alarm"] and first["band"] in ("moderate", "major"), first["name"]
others = [v["name"] for v in r["inputs"][1:] if v["psi_alarm"] or v["ks_alarm"]]
assert not others, others
P
check "drift: Income (x1.6) is first, alarmed, and no other input is" 0 $?
"$BIN" drift --bundle "$T/bundles/credit_xgb_v1.0" --in "$T/apps.csv" --check >"$T/o" 2>&1
check "drift --check: the training population itself passes" 0 $?

# ---- drift: bad input and too few rows
head -201 "$T/apps.csv" >"$T/few_apps.csv"
"$BIN" drift --bundle "$T/bundles/credit_xgb_v1.0" --in "$T/few_apps.csv" --json >"$T/few.json" 2>&1
$PY - "$T/few.json" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
for v in [r["score"]] + r["inputs"]:
    assert v["psi"] is None and "insufficient data: 1000 rows needed, 200" in v["psi_note"], v
P
check "drift: 200 rows: PSI insufficient with the count it needs" 0 $?
schema_ok "drift with too little data" drift "$T/few.json"
printf 'a,b\n1,2\n' >"$T/nothing.csv"
"$BIN" drift --bundle "$T/bundles/credit_xgb_v1.0" --in "$T/nothing.csv" >"$T/o" 2>&1
check "drift: a CSV whose columns match no input" 1 $? "no column is an input" "$T/o"
"$BIN" drift --bundle "$T/nope" --data-dir "$D" >"$T/o" 2>&1
check "drift: an unknown bundle" 1 $?
"$BIN" drift --bundle "$T/bundles/credit_xgb_v1.0" --data-dir "$D" --from 2001-01-01 --to 2001-01-02 >"$T/o" 2>&1
check "drift: an empty window" 1 $? "no application was decided in the window" "$T/o"

# ---- skew and swapset on the same log (tests/integration/11-skew-swapset.sh has the rest)
B10=$T/bundles/credit_xgb_v1.0
"$BIN" skew --data-dir "$D" --offline "$T/apps.csv" --id request_id --bundle "$B10" --json >"$T/skew.json" 2>"$T/o"
check "skew: the applications as the offline system holds them are consistent" 0 $?
schema_ok "skew on the credit log" skew "$T/skew.json"
sed 's/,rent,/,RENT,/' "$T/apps.csv" >"$T/apps_home.csv"
"$BIN" skew --data-dir "$D" --offline "$T/apps_home.csv" --id request_id --bundle "$B10" --json >"$T/skew2.json" 2>"$T/o"
check "skew: Home re-encoded offline: exit 5" 5 $?
$PY -c "
import json, sys
r = json.load(open(sys.argv[1]))
alarms = [i['name'] for i in r['inputs'] if i['alarm']]
sys.exit(0 if alarms == ['Home'] else 'alarms: %r' % alarms)" "$T/skew2.json"
check "skew: names Home and nothing else" 0 $?
$PY - "$T/apps.csv" >"$T/apps_3.csv" <<'P'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
w.writeheader()
for i, r in enumerate(rows):
    if i < 3 and r["Income"]:
        r["Income"] = str(float(r["Income"]) + 0.5)
    w.writerow(r)
P
"$BIN" skew --data-dir "$D" --offline "$T/apps_3.csv" --id request_id --bundle "$B10" --threshold 0.001 >"$T/o" 2>&1
rc=$?
grep -qE "Income +4454 +3 +0.07%" "$T/o"
check "skew: 3 rows of 4454 differ (0.07% < 0.1%): reported, no alarm" "0 0" "$rc $?"
"$BIN" swapset --data-dir "$D" --json >"$T/swap.json" 2>"$T/o"
check "swapset: champion against its shadow challenger" 0 $?
schema_ok "swapset on the credit log" swapset "$T/swap.json"
$PY - "$T/swap.json" "$T/log.jsonl" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(sys.argv[2])]
champ = {x["request_id"]: x for x in recs if x["kind"] == "primary" and x["bundle"]["name"] == "credit_xgb_v1.0"}
shad = {x["request_id"]: x for x in recs if x["kind"] == "shadow" and x["bundle"]["name"] == "credit_xgb_v1.1"}
pairs = [(champ[k]["decision"] == "approve", shad[k]["decision"] == "approve") for k in champ if k in shad]
want = [sum(1 for a, b in pairs if (a, b) == cell) for cell in ((True, True), (True, False), (False, True), (False, False))]
got = [c["count"] for c in r["cells"]]
assert r["champion"] == "credit_xgb_v1.0" and r["challenger"] == "credit_xgb_v1.1", r
assert got == want and r["units"] == len(pairs) == len(champ), (got, want, len(champ))
assert r["unpaired"] == 0, r["unpaired"]
P
check "swapset: the 2x2 table equals the pairs in the exported log, every champion decision paired" 0 $?

# ---- HTML reports (rendered in chromium by tests/interop/report_html.mjs)
"$BIN" ab --data-dir "$D" --flag model-route --html "$T/ab.html" >/dev/null 2>&1
check "ab --html writes a file" 0 $?
[ -s "$T/ab.html" ]
check "ab --html: not empty" 0 $?
if [ -n "${RISKD_REPORT_DIR:-}" ]; then # the full reports, for the browser test
    cp "$T/ab.json" "$RISKD_REPORT_DIR/ab.json"
    cp "$T/shift.json" "$RISKD_REPORT_DIR/drift.json"
fi

for cmd in ab drift; do
    "$BIN" $cmd --help >"$T/o" 2>&1
    check "$cmd --help" 0 $? "exit codes" "$T/o"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
