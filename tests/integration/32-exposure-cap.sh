#!/usr/bin/env bash
# Exposure caps (issue 21, docs/plans/guardrails.md §3-§5), simulated over HTTP: the example
# bundles, a plan whose 5% stage may approve at most CAP of features.Amount, two streams of
# applications on two worker threads, the candidate approving everyone (--fault score=0.05) and so
# more of the under-25s than the control, which declines half of them (decline=0.5@Age<25),
# riskd killed -9 in the middle of the stage and restarted on the same data directory. Checked
# from the decision log and the store:
#   - the sum of the amounts the candidate approved in the stage never exceeds the cap;
#   - the would-be approvals past it were answered by the control (source control, reason
#     exposure_cap), before and after the restart;
#   - the store's reservations stay within the cap; the killed process's share is marked lost;
#   - the cap reached is recorded once; riskd rollout status and /metrics show used / cap.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3
TRAFFIC="$(dirname "$0")/traffic.py"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RATE=${RISKD_SIM_RATE:-400}
CAP=${RISKD_CAP:-150000}
TP=()
trap 'kill "${TP[@]}" $PID 2>/dev/null; wait 2>/dev/null; [ "${RISKD_KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT

mkdir -p "$T/bundles"
for v in 1.0 1.1; do
    src=$ROOT/examples/models/credit_xgb_v$v
    "$BIN" bundle build --name credit_xgb_v$v --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data "$ROOT/examples/data/credit_data.csv" --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$T/bundles/credit_xgb_v$v" >"$T/out" 2>&1
    check "build credit_xgb_v$v" 0 $? "built and verified" "$T/out"
done
cp "$ROOT/examples/flags/routing.json" "$T/flags.json"
cat >"$T/cap.json" <<J
{
  "name": "cap-drill",
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
"$BIN" rollout validate "$T/cap.json" --flags "$T/flags.json" --bundles "$T/bundles" >"$T/out" 2>&1
check "rollout validate: a plan with a cap" 0 $? "max_approved_amount|cap" "$T/out"

ARGS=(--flags "$T/flags.json" --bundles "$T/bundles" --route-flag credit-model-route --shadow-flag credit-model-shadow
    --rollout "$T/cap.json" --threads 2 --log-durability ack --reload-interval-ms 200
    --fault "credit_xgb_v1.0:score=0.05,decline=0.5@Age<25" --fault credit_xgb_v1.1:score=0.05)
json() { $PY -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
exposure() { # EXPR over the rollout's exposure status
    curl -s "$U/v1/rollouts" >"$T/rollouts.json"
    json "$T/rollouts.json" "(j['rollouts'][0].get('exposure') or {}).get('$1')"
}
traffic() { # PREFIX: two streams on two connections
    for s in a b; do
        $PY "$TRAFFIC" "$U" --rate "$RATE" --batch 20 --seconds 600 --stop "$T/stop-$1" --prefix "$1$s" --seed "$RANDOM" \
            >"$T/traffic-$1$s" 2>&1 &
        TP+=($!)
    done
}

# a misspelt amount field would cap every approval without a word: refused at the start
sed 's/features.Amount/features.Amunt/' "$T/cap.json" >"$T/cap-bad.json"
"$BIN" serve "${ARGS[@]/$T\/cap.json/$T/cap-bad.json}" --data-dir "$T/bad" --listen 127.0.0.1:0 --check-config >"$T/out" 2>&1
check "an amount field the pipeline does not have is refused" 1 $? "features.Amunt, which is no input .*did you mean features.Amount" "$T/out"

start "${ARGS[@]}" || exit 1
traffic r1
used_over() { # FRACTION: the store says that much of the cap is used
    local u
    u=$(exposure used_amount)
    [ -n "$u" ] && [ "$u" != None ] && $PY -c "import sys; sys.exit(0 if $u >= $1 * $CAP else 1)"
}
wait_by 120 used_over 0.3
check "a third of the cap used" 0 $?
touch "$T/stop-r1"
wait "${TP[@]}" 2>/dev/null
TP=()
kill -9 "$PID"
wait "$PID" 2>/dev/null
restart_ms=$(date +%s%3N)
start "${ARGS[@]}" || exit 1
check "restarted after kill -9 on the same data directory" 0 0
traffic r2
capped_some() {
    local c
    c=$(exposure capped)
    [ -n "$c" ] && [ "$c" != None ] && [ "$c" -ge 50 ]
}
wait_by 180 capped_some
check "the cap reached: would-be approvals answered by the control" 0 $?
touch "$T/stop-r2"
wait "${TP[@]}" 2>/dev/null
TP=()

"$BIN" rollout status --data-dir "$T/data" >"$T/status" 2>&1
check "riskd rollout status: used of the cap" 0 $? "5% +used [0-9.]+ of $CAP.00 features.Amount" "$T/status"
curl -s "$U/metrics" >"$T/metrics"
check "/metrics: the cap" 0 $? "^riskd_rollout_exposure_cap\{flag=\"credit-model-route\",stage=\"5%\",cap=\"amount\"\} $CAP" "$T/metrics"
check "/metrics: what was used" 0 0 "^riskd_rollout_exposure_used\{flag=\"credit-model-route\",stage=\"5%\",cap=\"amount\"\}" "$T/metrics"
stop

$PY - "$T/data/riskd.db" "$CAP" "$restart_ms" >"$T/out" 2>&1 <<'P'
import json, sqlite3, sys
db, cap, restart = sqlite3.connect(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
charged = 0.0
units = 0
capped_before = capped_after = 0
for ts, rec in db.execute("SELECT ts_ms, record FROM decisions WHERE kind = 'primary'"):
    r = json.loads(rec)
    x = r.get("exposure") or {}
    if x.get("stage") != "5%":
        continue
    if r.get("variant") == "challenger" and r.get("source") == "model" and r["bundle"]["name"] == "credit_xgb_v1.1" \
            and r.get("decision") == "approve":
        assert x.get("state") == "charged", r
        charged += r["features"]["Amount"]
        units += x["units"]
    if x.get("state") == "capped":
        assert r.get("source") == "control" and r["control"]["reason"] == "exposure_cap", r
        assert r["bundle"]["name"] == "credit_xgb_v1.0" and r["variant"] == "challenger", r
        assert r["control"]["decision"] == "approve", r
        if ts < restart:
            capped_before += 1
        else:
            capped_after += 1
assert charged <= cap, (charged, cap)
assert charged > 0.3 * cap, (charged, cap)
assert capped_after > 0, (capped_before, capped_after)
row = db.execute("SELECT cap_amount, reserved_amount FROM exposure_stages WHERE stage = '5%'").fetchone()
assert row[1] <= row[0], row
slices = db.execute("SELECT state FROM exposure_slices WHERE stage = '5%'").fetchall()
assert ("lost",) in slices, slices
caps = db.execute("SELECT count(*) FROM rollout_transitions WHERE reason = 'exposure_cap'").fetchone()[0]
assert caps == 1, caps
print("cap ok: %.2f of %.0f approved by the candidate (%d units), %d + %d answered by the control, slices %s" % (
    charged, cap, units, capped_before, capped_after, sorted(s[0] for s in slices)))
P
check "the log: the candidate's approvals never exceed the cap; the rest answered by the control" 0 $? "cap ok" "$T/out"
"$BIN" notify list --data-dir "$T/data" >"$T/events" 2>&1
check "the cap reached is announced (rollout.exposure_capped)" 0 $? "rollout.exposure_capped +rollout/credit-model-route +rollout credit-model-route reached its exposure cap" "$T/events"
head -1 "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
