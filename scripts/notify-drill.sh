#!/usr/bin/env bash
# The notifications drill (make drill; docs/notifications.md): the long forms of
# tests/integration/29-notify.sh's outage and crash cases, against a local receiver
# (tests/integration/notify_receiver.py).
#   1. A real automatic rollback: riskd serve with the drill plan and a faulted candidate
#      (--fault credit_xgb_v1.1:score=0.99) under a stream of applications. The receiver goes
#      down once rollout.started has arrived, stays down RISKD_DRILL_SECONDS (default 30) while
#      the controller rolls the candidate back, and comes back on the same port. Checked:
#      rollout.started then rollout.rolled_back, once each, in order, the rollback's failing
#      gate equal to the one the store's transition holds; the time from the receiver's return
#      to the rollback's arrival is printed.
#   2. kill -9 rounds (RISKD_DRILL_ROUNDS, default 5): a change, riskd killed 0-200 ms after the
#      command returns, restarted; every change's event arrives, none is lost, and the receiver
#      counts each once by its idempotency key.
# Prints a Markdown table; exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RISKD_BIN:-build/riskd}
PY=/usr/bin/python3
# the receiver is on loopback: never through a proxy the environment names
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
DOWN=${RISKD_DRILL_SECONDS:-30}
ROUNDS=${RISKD_DRILL_ROUNDS:-5}
RATE=${RISKD_DRILL_RATE:-1000}
W=$(mktemp -d)
pids=()
spid=
rpid=
cleanup() {
    for p in "${pids[@]}" $spid $rpid; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
die() {
    echo "notify drill: $*" >&2
    exit 1
}

mkdir -p "$W/bundles"
for v in 1.0 1.1; do
    src=examples/models/credit_xgb_v$v
    "$BIN" bundle build --name credit_xgb_v$v --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data examples/data/credit_data.csv --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$W/bundles/credit_xgb_v$v" >/dev/null
done
cp examples/flags/routing.json "$W/flags.json"
head -c 32 /dev/urandom | base64 >"$W/hook.key"
chmod 600 "$W/hook.key"

receiver() { # [PORT]
    rm -f "$W/port"
    $PY tests/integration/notify_receiver.py --port "${1:-0}" --port-file "$W/port" --log "$W/recv.log" \
        2>>"$W/recv.err" &
    rpid=$!
    for _ in $(seq 1 200); do [ -s "$W/port" ] && break; sleep 0.05; done
    [ -s "$W/port" ] || die "the receiver did not start"
    P=$(cat "$W/port")
}
receiver_stop() {
    kill "$rpid" 2>/dev/null || true
    wait "$rpid" 2>/dev/null || true
    rpid=
}
count() { $PY tests/integration/notify_check.py "$W/recv.log" --path /hook --count 2>/dev/null || echo 0; }
wait_count() { # N SECONDS
    local until=$((SECONDS + $2))
    while [ "$(count)" -lt "$1" ]; do
        [ "$SECONDS" -lt "$until" ] || return 1
        sleep 0.1
    done
}

serve() {
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$W/data" --flags "$W/flags.json" --bundles "$W/bundles" \
        --route-flag credit-model-route --shadow-flag credit-model-shadow \
        --rollout examples/rollout/credit-drill.json --fault credit_xgb_v1.1:score=0.99 --reload-interval-ms 200 \
        --notify "webhook name=webhook url=http://127.0.0.1:$P/hook secret_file=$W/hook.key" \
        --notify "alertmanager url=http://127.0.0.1:$P/am" \
        --notify-backoff-max-ms 5000 --notify-poll-ms 200 --log-level warn >"$W/out" 2>>"$W/err" &
    spid=$!
    url=
    for _ in $(seq 1 200); do
        url=$(sed -n 's/^listening on //p' "$W/out")
        [ -n "$url" ] && return 0
        sleep 0.05
    done
    cat "$W/err" >&2
    die "the server did not start"
}
state() { curl -s "$url/v1/rollouts" | $PY -c "import json,sys; print(json.load(sys.stdin)['rollouts'][0]['state'])"; }

# ---------------------------------------------------------------- 1. a rollback while the receiver is down
receiver
serve
wait_count 1 30 || die "rollout.started did not arrive"
receiver_stop
down_at=$SECONDS
$PY tests/integration/traffic.py "$url" --rate "$RATE" --seconds 600 --stop "$W/stop" --prefix d >"$W/t.json" &
pids+=($!)
down_ms=$(date +%s%3N)
until [ "$(state)" = rolled_back ]; do
    [ $((SECONDS - down_at)) -lt 300 ] || die "the faulted candidate was not rolled back in 300 s"
    sleep 0.2
done
touch "$W/stop"
rolled_after=$(($(date +%s%3N) - down_ms))
while [ $((SECONDS - down_at)) -lt "$DOWN" ]; do sleep 0.2; done
receiver "$P"
back_ms=$(date +%s%3N)
wait_count 2 120 || die "rollout.rolled_back did not arrive within 120 s of the receiver's return"
arrived_ms=$(date +%s%3N)
$PY tests/integration/notify_check.py "$W/recv.log" --path /hook --secret "$W/hook.key" --unique \
    --expect-types rollout.started,rollout.rolled_back >"$W/check" || { cat "$W/check" >&2; die "webhook"; }
grep -q "ids: 2 unique" "$W/check" || { cat "$W/check" >&2; die "not once each"; }
$PY - "$W/recv.log" "$W/data/riskd.db" <<'P' || die "the failing gate differs from the store's"
import base64, json, sqlite3, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ev = [json.loads(base64.b64decode(r["body_b64"])) for r in rows if r["path"] == "/hook"]
rb = [e for e in ev if e["type"] == "rollout.rolled_back"][0]
gates = sqlite3.connect(sys.argv[2]).execute(
    "SELECT gates FROM rollout_transitions WHERE to_state = 'rolled_back'").fetchone()[0]
want = [g for g in json.loads(gates) if g.get("verdict") == "fail"]
got = rb["data"]["failing_gates"]
assert want and [(g["metric"], g["value"]) for g in got] == [(g["metric"], g["value"]) for g in want], (got, want)
print("failing gate:", got[0]["metric"], got[0]["value"], got[0].get("fail"))
P
# Alertmanager's sink keeps its own backoff: it gets there within one more wait (5 s here)
am_until=$((SECONDS + 60))
until [ "$($PY tests/integration/notify_check.py "$W/recv.log" --path /am/api/v2/alerts --count)" -ge 1 ]; do
    [ "$SECONDS" -lt "$am_until" ] || die "the rollback did not reach Alertmanager"
    sleep 0.2
done
kill "$spid"
wait "$spid" 2>/dev/null || true
spid=

# ---------------------------------------------------------------- 2. kill -9 rounds
"$BIN" user add admin1 --role admin --data-dir "$W/data" >"$W/admin.tok" 2>/dev/null
"$BIN" user add erin --role engineer --data-dir "$W/data" --token-file "$W/admin.tok" >"$W/erin.tok" 2>/dev/null
echo '{"flags":{"cutoff":{"state":"ENABLED","variants":{"a":1,"b":2},"defaultVariant":"a"}}}' >"$W/cut.json"
before=$(count)
for i in $(seq 1 "$ROUNDS"); do
    serve
    sed "s/\"defaultVariant\":\"a\"/\"defaultVariant\":\"b\",\"metadata\":{\"round\":$i}/" "$W/cut.json" >"$W/cut-$i.json"
    "$BIN" change propose --flags "$W/cut-$i.json" --target "$W/cut.json" --title "round $i" --data-dir "$W/data" \
        --token-file "$W/erin.tok" >/dev/null
    sleep "0.$(printf '%03d' $((RANDOM % 200)))"
    kill -9 "$spid"
    wait "$spid" 2>/dev/null || true
    spid=
done
serve
wait_count $((before + ROUNDS)) 60 || die "$((before + ROUNDS - $(count))) of the $ROUNDS changes' events never arrived"
$PY tests/integration/notify_check.py "$W/recv.log" --path /hook --unique >"$W/check2"
deliveries=$(sed -n 's/^ids: \([0-9]*\) unique, \([0-9]*\) deliveries$/\2/p' "$W/check2")
unique=$(sed -n 's/^ids: \([0-9]*\) unique.*/\1/p' "$W/check2")
[ "$unique" = $((before + ROUNDS)) ] || die "$unique events, want $((before + ROUNDS))"

echo
echo "notifications drill: the receiver down ${DOWN} s during an automatic rollback; $ROUNDS kill -9 rounds"
echo
echo "| figure | measured |"
echo "| --- | ---: |"
echo "| receiver down (traffic starts) to the rollback seen in /v1/rollouts | ${rolled_after} ms |"
echo "| receiver back to rollout.rolled_back delivered | $(((arrived_ms - back_ms))) ms |"
echo "| kill -9 rounds: events of the changes delivered | $ROUNDS of $ROUNDS |"
echo "| deliveries at the receiver, all rounds | $deliveries ($unique unique ids: duplicates carry the same key) |"
