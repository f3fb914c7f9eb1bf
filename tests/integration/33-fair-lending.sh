#!/usr/bin/env bash
# Fair-lending gates (issue 21, docs/plans/guardrails.md §6), simulated over HTTP with a stream of
# credit applications (tests/integration/traffic.py) against the example bundles, with the
# decline fault setting the approval rate per age band in each arm (every applicant approved but
# a share of the under-25s):
#   (f1) the candidate approves the under-25s at 0.70 of the others' rate, the control at 0.95:
#        the adverse-impact gate rolls it back, and the transition records its figures, which equal
#        a direct computation in Python (statsmodels for Newcombe's interval) to 1e-12;
#   (f2) the candidate approves them at the control's rate: it passes and is promoted;
#   (f3) a gate on a segment almost nobody is in (65 and over) is inconclusive, never passed: the
#        rollout holds past its deadline and alerts.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3
TRAFFIC="$(dirname "$0")/traffic.py"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SPEED=${RISKD_ROLLOUT_SPEED:-5}
RATE=${RISKD_SIM_RATE:-800}
TPID=
trap 'kill $TPID $PID 2>/dev/null; wait 2>/dev/null; [ "${RISKD_KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT

if ! $PY -c "import statsmodels" 2>/dev/null; then
    echo "skipped: python3-statsmodels not installed (scripts/deps.sh installs it)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

mkdir -p "$T/bundles"
for v in 1.0 1.1; do
    src=$ROOT/examples/models/credit_xgb_v$v
    "$BIN" bundle build --name credit_xgb_v$v --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data "$ROOT/examples/data/credit_data.csv" --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$T/bundles/credit_xgb_v$v" >"$T/out" 2>&1
    check "build credit_xgb_v$v" 0 $? "built and verified" "$T/out"
done

# plan SEGMENT MIN: a 50% stage judged by the adverse impact ratio of SEGMENT against 25 and over
plan() {
    cat <<J
{
  "name": "fair-drill",
  "route_flag": "credit-model-route",
  "shadow": { "flag": "credit-model-shadow", "on": "challenger", "off": "none" },
  "control": { "bundle": "credit_xgb_v1.0", "variant": "champion" },
  "candidate": { "bundle": "credit_xgb_v1.1", "variant": "challenger" },
  "interval": "1s",
  "segments": [
    { "name": "age_under_25", "rule": { "<": [{ "var": "features.Age" }, 25] } },
    { "name": "age_65_plus", "rule": { ">=": [{ "var": "features.Age" }, 65] } },
    { "name": "age_25_plus", "rule": { ">=": [{ "var": "features.Age" }, 25] }, "reference": true }
  ],
  "stages": [
    {
      "name": "50%", "candidate_weight": 50000, "hold": "20s", "deadline": "40s", "min_samples": 200,
      "gates": [
        { "metric": "adverse_impact_ratio", "segment": "$1", "pass": { ">=": 0.8 }, "fail": { "<": 0.8 },
          "min_samples": $2 },
        { "metric": "segment_approve_rate", "segment": "$1", "compare": "difference",
          "pass": { ">=": -0.1 }, "fail": { "<": -0.15 }, "min_samples": $2 }
      ]
    },
    { "name": "100%", "candidate_weight": 100000, "hold": "1s" }
  ]
}
J
}

json() { $PY -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
state() {
    curl -s "$U/v1/rollouts" >"$T/rollouts.json"
    json "$T/rollouts.json" "j['rollouts'][0]['state']"
}
wait_state() { # STATE SECONDS
    local until=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$until" ]; do
        [ "$(state)" = "$1" ] && return 0
        sleep 0.2
    done
    return 1
}
run() { # NAME PLAN-ARGS FAULTS...: a fresh data directory, the server, the traffic
    local name=$1 seg=$2 min=$3
    shift 3
    kill $TPID 2>/dev/null
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$T/data"
    cp "$ROOT/examples/flags/routing.json" "$T/flags.json"
    plan "$seg" "$min" >"$T/$name.json"
    start --flags "$T/flags.json" --bundles "$T/bundles" --route-flag credit-model-route \
        --shadow-flag credit-model-shadow --rollout "$T/$name.json" --rollout-speed "$SPEED" \
        --monitor-bucket-ms 10000 --reload-interval-ms 200 "$@" || exit 1
    $PY "$TRAFFIC" "$U" --rate "$RATE" --seconds 600 --prefix "$name" >"$T/$name.traffic" 2>&1 &
    TPID=$!
}

CTRL=credit_xgb_v1.0:score=0.05,decline=0.05@Age\<25

# ---------------------------------------------------------------- the plan
"$BIN" rollout validate "$(plan age_under_25 100 >"$T/p.json"; echo "$T/p.json")" --flags "$ROOT/examples/flags/routing.json" \
    --bundles "$T/bundles" >"$T/out" 2>&1
check "rollout validate: a plan with segments" 0 $? "held and used lawfully" "$T/out"

"$BIN" rollout validate "$ROOT/examples/rollout/credit-guarded.json" --flags "$ROOT/examples/flags/routing.json" \
    --bundles "$T/bundles" >"$T/out" 2>&1
check "the example plan with both guardrails validates" 0 $? "adverse_impact_ratio of age_under_25" "$T/out"

# ---------------------------------------------------------------- (f1) 0.70 against 0.95: rolled back
run f1 age_under_25 100 --fault "$CTRL" --fault "credit_xgb_v1.1:score=0.05,decline=0.3@Age<25"
wait_state rolled_back 120
check "(f1) the candidate approving the under-25s at 0.7x is rolled back" 0 $?
kill $TPID 2>/dev/null
$PY - "$T/data/riskd.db" >"$T/out" 2>&1 <<'P'
import json, sqlite3, sys
from statsmodels.stats.proportion import confint_proportions_2indep
row = sqlite3.connect(sys.argv[1]).execute(
    "SELECT gates, detail FROM rollout_transitions WHERE to_state = 'rolled_back'").fetchone()
gates = json.loads(row[0])
air = [g for g in gates if g["metric"] == "adverse_impact_ratio"][0]
assert air["verdict"] == "fail" and air["segment"] == "age_under_25" and air["reference"] == "age_25_plus", air
f = air["figures"]
c, k = f["candidate"], f["control"]
def close(a, b):
    assert abs(a - b) <= 1e-12 * abs(b) + 1e-15, (a, b)
cr, crr = c["approve"] / c["n"], c["reference_approve"] / c["reference_n"]
kr, krr = k["approve"] / k["n"], k["reference_approve"] / k["reference_n"]
close(c["approve_rate"], cr); close(k["approve_rate"], kr)
close(c["air"], cr / crr); close(k["air"], kr / krr)
close(f["air_difference"], cr / crr - kr / krr)
close(f["difference"], cr - kr)
lo, hi = confint_proportions_2indep(c["approve"], c["n"], k["approve"], k["n"], method="newcomb", compare="diff",
                                    alpha=0.05)
close(f["lo"], lo); close(f["hi"], hi)
assert 0.4 < c["air"] < 0.8 and 0.8 < k["air"] <= 1.1, (c["air"], k["air"])
assert air["value"] == c["air"], air
print("figures ok: candidate AIR %.4f, control AIR %.4f, difference %.4f [%.4f, %.4f]" % (
    c["air"], k["air"], f["difference"], lo, hi))
print("detail:", row[1])
P
check "(f1) the figures recorded equal Python's and statsmodels' to 1e-12" 0 $? "figures ok" "$T/out"
head -2 "$T/out"
# the A/B report's fair-lending table from the same log: the counts equal Python's over the records
"$BIN" ab --data-dir "$T/data" --flag credit-model-route --segments "$T/f1.json" --json >"$T/ab.json" 2>"$T/ab.err"
check "(f1) riskd ab --segments" 0 $?
"$BIN" ab --data-dir "$T/data" --flag credit-model-route --segments "$T/f1.json" --html "$T/ab.html" >"$T/ab.txt" 2>&1
check "(f1) … its text table" 0 $? "segments of plan fair-drill .*held and used lawfully" "$T/ab.txt"
grep -q "Segments (fair lending" "$T/ab.html"
check "(f1) … and its HTML" 0 $?
$PY - "$T/data/riskd.db" "$T/ab.json" >"$T/out" 2>&1 <<'P'
import json, sqlite3, sys
from statsmodels.stats.proportion import confint_proportions_2indep
n = {}
for (rec,) in sqlite3.connect(sys.argv[1]).execute("SELECT record FROM decisions WHERE kind = 'primary'"):
    r = json.loads(rec)
    if not r.get("routed") or r.get("flags", {}).get("route_flag") != "credit-model-route":
        continue
    age = r["features"]["Age"]
    seg = "age_under_25" if age < 25 else "age_25_plus"
    k = (seg, r["variant"])
    c = n.setdefault(k, [0, 0])
    c[0] += 1
    c[1] += r["decision"] == "approve"
ab = json.load(open(sys.argv[2]))["segments"]
def close(a, b):
    assert abs(a - b) <= 1e-12 * abs(b) + 1e-15, (a, b)
young = [g for g in ab["segments"] if g["name"] == "age_under_25"][0]
for v in young["variants"]:
    assert [v["n"], v["approve"]] == n[("age_under_25", v["variant"])], (v, n)
m = young["comparisons"][0]
cand, ctrl = m["variant"], young["variants"][0]["variant"]
cs, cr, ks, kr = n[("age_under_25", cand)], n[("age_25_plus", cand)], n[("age_under_25", ctrl)], n[("age_25_plus", ctrl)]
close(m["candidate"]["air"], (cs[1] / cs[0]) / (cr[1] / cr[0]))
close(m["control"]["air"], (ks[1] / ks[0]) / (kr[1] / kr[0]))
lo, hi = confint_proportions_2indep(cs[1], cs[0], ks[1], ks[0], method="newcomb", compare="diff", alpha=0.05)
close(m["lo"], lo); close(m["hi"], hi)
assert m["four_fifths"] is True, m
print("ab segments ok")
P
check "(f1) the report's counts equal the log's, its ratios and interval Python's and statsmodels'" 0 $? "ab segments ok" "$T/out"
"$BIN" notify list --data-dir "$T/data" --json >"$T/events" 2>&1
grep -q '"metric":"adverse_impact_ratio"' "$T/events"
check "(f1) the rollback's notification carries the failing gate and its figures" 0 $?

# ---------------------------------------------------------------- (f2) equal rates: promoted
run f2 age_under_25 100 --fault "$CTRL" --fault "credit_xgb_v1.1:score=0.05,decline=0.05@Age<25"
wait_state promoted 180
check "(f2) a candidate with equal rates passes and is promoted" 0 $?
kill $TPID 2>/dev/null

# ---------------------------------------------------------------- (f3) too few: inconclusive
run f3 age_65_plus 100000 --fault "$CTRL" --fault "credit_xgb_v1.1:score=0.05,decline=0.3@Age<25"
verdict() {
    state >/dev/null
    [ "$(json "$T/rollouts.json" "[g['verdict'] for g in j['rollouts'][0]['gates'] if g['metric'] == 'adverse_impact_ratio'][0]")" = inconclusive ]
}
wait_by 60 verdict
check "(f3) a gate on a segment with too few applicants is inconclusive" 0 $?
alerted() { state >/dev/null; [ -n "$(json "$T/rollouts.json" "j['rollouts'][0].get('alert') or ''")" ]; }
wait_by 60 alerted
check "(f3) past its deadline the rollout holds and alerts" 0 $?
s=$(state)
[ "$s" != promoted ] && [ "$s" != rolled_back ] && [ "$(json "$T/rollouts.json" "j['rollouts'][0]['stage_index']")" = 0 ]
check "(f3) never advanced nor rolled back (state $s)" 0 $?
json "$T/rollouts.json" "[g['note'] for g in j['rollouts'][0]['gates'] if g['metric'] == 'adverse_impact_ratio'][0]" >"$T/note"
check "(f3) the note names the group short of applicants" 0 0 "inconclusive: age_65_plus .* has [0-9]+ applicants, 100000 needed" "$T/note"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
