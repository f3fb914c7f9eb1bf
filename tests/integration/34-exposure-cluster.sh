#!/usr/bin/env bash
# One exposure cap shared by two nodes on one PostgreSQL (issue 21, docs/formats.md "Exposure
# caps"): both run the same plan, whose 5% stage may approve at most CAP of features.Amount,
# under traffic to both, the candidate approving everyone. Each node reserves slices of the cap
# from the store and spends them locally; checked from the shared decision log and the store: the
# candidate's approvals over both nodes never exceed the cap, both nodes held a share, the excess
# was answered by the control on both, and the reservations stay within the cap.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PY=/usr/bin/python3
RATE=${RISKD_SIM_RATE:-300}
CAP=${RISKD_CAP:-120000}

pg_database exposure
trap 'touch "$T/stop"; nodes_cleanup' EXIT

mkdir -p "$T/bundles"
for v in 1.0 1.1; do
    src=examples/models/credit_xgb_v$v
    "$BIN" bundle build --name "credit_xgb_v$v" --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data examples/data/credit_data.csv --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$T/bundles/credit_xgb_v$v" >/dev/null
done
"$BIN" flags import examples/flags/routing.json --store "$URL" >/dev/null 2>&1
check "the routing flag set imported" 0 $?
cat >"$T/cap.json" <<J
{
  "name": "cap-cluster",
  "route_flag": "credit-model-route",
  "shadow": { "flag": "credit-model-shadow", "on": "challenger", "off": "none" },
  "control": { "bundle": "credit_xgb_v1.0", "variant": "champion" },
  "candidate": { "bundle": "credit_xgb_v1.1", "variant": "challenger" },
  "interval": "1s",
  "exposure": { "amount_field": "features.Amount" },
  "stages": [
    { "name": "5%", "candidate_weight": 5000, "hold": "30m", "deadline": "60m", "min_samples": 1000000,
      "max_approved_amount": $CAP },
    { "name": "100%", "candidate_weight": 100000, "hold": "1s" }
  ]
}
J
for i in 1 2; do
    start_node "$i" --store "$URL" --flags store --bundles "$T/bundles" --route-flag credit-model-route \
        --shadow-flag credit-model-shadow --rollout "$T/cap.json" --store-check-ms 1000 \
        --fault credit_xgb_v1.0:score=0.05 --fault credit_xgb_v1.1:score=0.05
    check "node $i starts with the capped rollout" 0 $?
done
for i in 1 2; do
    $PY tests/integration/traffic.py "${URLS[$i]}" --rate "$RATE" --batch 20 --seconds 600 --stop "$T/stop" \
        --prefix "n$i" --seed "$i" >"$T/traffic$i.json" 2>&1 &
    EXTRA_PIDS+=($!)
done
capped_on() { # NODE: its exposure status has capped would-be approvals
    local c
    c=$(curl -s "${URLS[$1]}/v1/rollouts" |
        $PY -c 'import json,sys; print(((json.load(sys.stdin)["rollouts"][0].get("exposure") or {}).get("node") or {}).get("capped") or 0)' 2>/dev/null)
    [ "${c:-0}" -ge 10 ]
}
both_capped() { capped_on 1 && capped_on 2; }
wait_by 180 both_capped
check "the cap reached: both nodes answer the candidate's would-be approvals by the control" 0 $?
touch "$T/stop"
for p in "${EXTRA_PIDS[@]}"; do wait "$p" 2>/dev/null; done
EXTRA_PIDS=()
sleep 1.5 # the last reports (every second)

"$BIN" rollout status --store "$URL" >"$T/status" 2>&1
check "riskd rollout status: used of the cap, held by the two nodes" 0 $? "5% +used [0-9.]+ of $CAP.00 features.Amount" "$T/status"
$PY - "$URL" "$CAP" >"$T/out" 2>&1 <<'P'
import json, subprocess, sys
url, cap = sys.argv[1], float(sys.argv[2])
def q(sql):
    return subprocess.run(["psql", "-At", "-F", "\t", url, "-c", sql], check=True, capture_output=True,
                          text=True).stdout.splitlines()
charged = {}
capped = {}
for line in q("SELECT node, record FROM decisions WHERE kind = 'primary'"):
    node, rec = line.split("\t", 1)
    r = json.loads(rec)
    x = r.get("exposure") or {}
    if x.get("stage") != "5%":
        continue
    if x.get("state") == "charged":
        assert r["bundle"]["name"] == "credit_xgb_v1.1" and r["decision"] == "approve", r
        charged[node] = charged.get(node, 0.0) + r["features"]["Amount"]
    if x.get("state") == "capped":
        assert r["source"] == "control" and r["control"]["reason"] == "exposure_cap", r
        capped[node] = capped.get(node, 0) + 1
total = sum(charged.values())
assert total <= cap, (charged, cap)
assert len(charged) == 2 and len(capped) == 2, (charged, capped)
cap_u, reserved = [int(v) for v in q("SELECT cap_amount, reserved_amount FROM exposure_stages WHERE stage = '5%'")[0].split("\t")]
assert reserved <= cap_u, (reserved, cap_u)
nodes = q("SELECT DISTINCT node FROM exposure_slices WHERE stage = '5%'")
assert len(nodes) == 2, nodes
print("shared cap ok: %.2f of %.0f approved (%s), answered by the control %s" % (
    total, cap, ", ".join("%s %.2f" % kv for kv in sorted(charged.items())), capped))
P
check "the log: both nodes' approvals together never exceed the cap; the rest answered by the control on both" 0 $? \
    "shared cap ok" "$T/out"
head -1 "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
