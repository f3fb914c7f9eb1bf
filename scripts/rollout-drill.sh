#!/usr/bin/env bash
# The rollout drill (make drill; make bench prints the same figures): riskd serve with the
# example bundles and examples/rollout/credit-drill.json at real speed (RISKD_DRILL_SPEED,
# default 1), driven by a stream of applications (tests/integration/traffic.py).
#   1. a healthy candidate walks every stage: the time of each stage change;
#   2. a candidate whose calls are faulted (it rejects everyone, --fault ...:score=0.99):
#      - from the gate evaluation that saw the breach to the flag file holding control-only
#        (target <= 2 s): the evaluation's time is the transition's ts_ms in the store, the
#        file is watched every 5 ms;
#      - from the fault's first request to the rollback in the flag file (target <= 15 s).
# Prints a Markdown table; exits non-zero when a run fails (not when a target is missed: the
# figure is the result).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RISKD_BIN:-build/riskd}
PY=/usr/bin/python3
SPEED=${RISKD_DRILL_SPEED:-1}
RATE=${RISKD_DRILL_RATE:-1000}
QUICK=${BENCH_QUICK:-0}
W=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

mkdir -p "$W/bundles"
for v in 1.0 1.1; do
    src=examples/models/credit_xgb_v$v
    "$BIN" bundle build --name credit_xgb_v$v --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data examples/data/credit_data.csv --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$W/bundles/credit_xgb_v$v" >/dev/null
done

# serve NAME [ARGS]: riskd serve with the drill plan; its URL in $url, its pid in $spid
serve() {
    local name=$1
    shift
    rm -rf "$W/$name"
    mkdir -p "$W/$name"
    cp examples/flags/routing.json "$W/$name/flags.json"
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$W/$name/data" --flags "$W/$name/flags.json" \
        --bundles "$W/bundles" --route-flag credit-model-route --shadow-flag credit-model-shadow \
        --rollout examples/rollout/credit-drill.json --rollout-speed "$SPEED" --reload-interval-ms 200 \
        --log-level warn "$@" >"$W/$name/out" 2>"$W/$name/err" &
    spid=$!
    pids+=("$spid")
    url=
    for _ in $(seq 1 200); do
        url=$(sed -n 's/^listening on //p' "$W/$name/out")
        [ -n "$url" ] && return 0
        sleep 0.05
    done
    echo "rollout drill: the server did not start" >&2
    cat "$W/$name/err" >&2
    exit 1
}

state() { curl -s "$url/v1/rollouts" | $PY -c "import json,sys; print(json.load(sys.stdin)['rollouts'][0]['state'])"; }

# 1. the healthy walk
serve healthy
t0=$(date +%s%3N)
$PY tests/integration/traffic.py "$url" --rate "$RATE" --seconds 900 --stop "$W/stop1" --prefix h >"$W/t1.json" &
pids+=($!)
bound=$((QUICK == 1 ? 300 : 900))
while [ "$(state)" != promoted ]; do
    case $(state) in rolled_back | paused) echo "rollout drill: the healthy walk ended $(state)" >&2; exit 1 ;; esac
    [ $(($(date +%s%3N) - t0)) -gt $((bound * 1000)) ] && { echo "rollout drill: not promoted in ${bound}s" >&2; exit 1; }
    sleep 0.2
done
touch "$W/stop1"
walk=$($PY - "$W/healthy/data/riskd.db" "$t0" <<'P'
import sqlite3, sys
t0 = int(sys.argv[2])
rows = sqlite3.connect(sys.argv[1]).execute("SELECT ts_ms, reason, to_stage FROM rollout_transitions ORDER BY id").fetchall()
print("; ".join("%s to stage %d at %.1f s" % (r, s, (ts - t0) / 1000) for ts, r, s in rows if r in ("advance", "promote")))
print("%.1f" % ((rows[-1][0] - t0) / 1000))
P
)
kill "$spid"

# 2. the faulted candidate
serve faulted --fault credit_xgb_v1.1:score=0.99
flags=$W/faulted/flags.json
$PY tests/integration/traffic.py "$url" --rate "$RATE" --seconds 300 --stop "$W/stop2" --prefix f >"$W/t2.json" &
tpid=$!
pids+=("$tpid")
# watch the flag file: the first moment it holds control-only
seen=$($PY - "$flags" <<'P'
import json, sys, time
t_end = time.time() + 300
while time.time() < t_end:
    try:
        f = json.load(open(sys.argv[1]))["flags"]
        t = f["credit-model-route"]["targeting"]
        # control-only and the shadow off: the shadow stage routes control-only too
        if '["challenger", 0]' in json.dumps(t) and "if" not in t and f["credit-model-shadow"]["defaultVariant"] == "none":
            print(int(time.time() * 1000))
            break
    except (ValueError, KeyError, OSError):
        pass
    time.sleep(0.005)
P
)
touch "$W/stop2"
wait "$tpid" || true
[ -n "$seen" ] || { echo "rollout drill: the faulted candidate was not rolled back" >&2; exit 1; }
read -r eval_ms first_ms < <($PY - "$W/faulted/data/riskd.db" "$W/t2.json" <<'P'
import json, sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT ts_ms FROM rollout_transitions WHERE to_state='rolled_back'").fetchone()
print(r[0], json.load(open(sys.argv[2]))["first_ms"])
P
)
breach=$($PY -c "print('%.3f' % (($seen - $eval_ms) / 1000))")
fault=$($PY -c "print('%.1f' % (($seen - $first_ms) / 1000))")
kill "$spid"

echo
echo "rollout drill: examples/rollout/credit-drill.json, speed x$SPEED, ~$RATE applications/s over HTTP"
echo
echo "| figure | measured | target |"
echo "| --- | ---: | ---: |"
echo "| healthy candidate: start to promoted (100%) | $(tail -1 <<<"$walk") s | - |"
echo "| faulted candidate: breach's first gate evaluation to the flag file control-only | $breach s | 2 s |"
echo "| faulted candidate: the fault's first request to the rollback in the flag file | $fault s | 15 s |"
echo
echo "stage changes: $(head -1 <<<"$walk")"
