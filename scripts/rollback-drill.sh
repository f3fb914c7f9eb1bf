#!/usr/bin/env bash
# The rollback drill (make drill; a short form runs in make test): riskd serve with
# require_approval, the example bundles and a flag file routing everyone to the champion,
# under steady /v1/score traffic (tests/integration/score_load.py). A bad change (everyone to
# the challenger) is proposed by an engineer, approved by a manager and published by an
# operator through the admin API; then the operator rolls it back with one command.
# Prints a Markdown table: how long the rollback command took, and from its start until every
# answer came from the old version (target <= 1 s; shared/TESTING.md: a figure, not a test).
# Exits non-zero when a request failed, or an answer to a request sent after the rollback
# returned came from the bad version.
#   RISKD_DRILL_SECONDS  traffic before the bad change and after the rollback (default 3)
#   RISKD_DRILL_ROUNDS   publish-and-rollback rounds (default 3; the figure is their median)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RISKD_BIN:-build/riskd}
PY=/usr/bin/python3
SECS=${RISKD_DRILL_SECONDS:-3}
ROUNDS=${RISKD_DRILL_ROUNDS:-3}
W=$(mktemp -d)
spid=
lpid=
cleanup() {
    [ -n "$lpid" ] && kill "$lpid" 2>/dev/null
    [ -n "$spid" ] && kill "$spid" 2>/dev/null
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
# good.json: everyone to the champion; bad.json: everyone to the challenger
$PY - "$W" <<'EOF'
import json, sys
w = sys.argv[1]
f = json.load(open("examples/flags/routing.json"))
route = f["flags"]["credit-model-route"]
for name, cand in (("good", 0), ("bad", 100000)):
    route["targeting"] = {"fractional": [["challenger", cand], ["champion", 100000 - cand]]}
    json.dump(f, open(f"{w}/{name}.json", "w"), indent=2)
EOF
cp "$W/good.json" "$W/flags.json"

D=$W/data
"$BIN" user add admin1 --role admin --data-dir "$D" >"$W/admin.tok"
for u in erin:engineer mia:manager otto:operator; do
    "$BIN" user add "${u%%:*}" --role "${u##*:}" --data-dir "$D" --token-file "$W/admin.tok" >"$W/${u%%:*}.tok"
done

"$BIN" serve --listen 127.0.0.1:0 --data-dir "$D" --flags "$W/flags.json" --bundles "$W/bundles" \
    --route-flag credit-model-route --require-approval --log-level warn >"$W/out" 2>"$W/err" &
spid=$!
url=
for _ in $(seq 1 200); do
    url=$(sed -n 's/^listening on //p' "$W/out")
    [ -n "$url" ] && break
    sleep 0.05
done
[ -n "$url" ] || { echo "rollback drill: the server did not start" >&2; cat "$W/err" >&2; exit 1; }

ch() { "$BIN" change "$@" --server "$url"; }
now_ns() { date +%s%N; }
fails=0
: >"$W/times"
for round in $(seq 1 "$ROUNDS"); do
    rm -f "$W/stop"
    $PY tests/integration/score_load.py "$url" "$W/load.$round" --stop "$W/stop" --threads 2 &
    lpid=$!
    sleep "$SECS"
    id=$(ch propose --flags "$W/bad.json" --title "drill round $round: everyone to the challenger" \
        --token-file "$W/erin.tok")
    ch approve "$id" --token-file "$W/mia.tok" >/dev/null
    ch publish "$id" --token-file "$W/otto.tok" >/dev/null
    sleep 1
    t0=$(now_ns)
    "$BIN" rollback --server "$url" --token-file "$W/otto.tok" --reason "drill round $round" >/dev/null
    t1=$(now_ns)
    sleep "$SECS"
    touch "$W/stop"
    wait "$lpid"
    lpid=
    # the answers: failures, wrong versions after the rollback returned, and the time until
    # every answer came from the old version
    if ! $PY - "$W/load.$round" "$t0" "$t1" >>"$W/times" <<'EOF'; then
import sys
log, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [l.split() for l in open(log)]
failed = [r for r in rows if r[2] != "200"]
bad = [r for r in rows if r[3] == "credit_xgb_v1.1"]
late = [r for r in bad if int(r[0]) >= t1]
if not bad:
    print("drill: the bad change never served", file=sys.stderr)
    sys.exit(1)
last_bad = max(int(r[1]) for r in bad)  # the last answer from the bad version
effect_ms = max(0, last_bad - t0) / 1e6
print(f"{(t1 - t0) / 1e6:.1f} {effect_ms:.1f} {len(rows)} {len(failed)} {len(late)} {len(bad)}")
if failed or late:
    print(f"drill: {len(failed)} failed requests, {len(late)} answers from the bad version after the rollback",
          file=sys.stderr)
    sys.exit(1)
EOF
        fails=$((fails + 1))
    fi
done

$PY - "$W/times" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
if not rows:
    sys.exit(0)
cmd = [r[0] for r in rows]
eff = [r[1] for r in rows]
print("| rollback drill (require_approval, /v1/score under load) | median | min | max | target |")
print("| --- | --- | --- | --- | --- |")
print(f"| `riskd rollback` command, start to exit | {statistics.median(cmd):.0f} ms | {min(cmd):.0f} ms | {max(cmd):.0f} ms | |")
print(f"| rollback start to the last answer from the bad version | {statistics.median(eff):.0f} ms | {min(eff):.0f} ms | {max(eff):.0f} ms | <= 1000 ms |")
print(f"| requests answered / failed / bad version after the rollback | {int(sum(r[2] for r in rows))} / {int(sum(r[3] for r in rows))} / {int(sum(r[4] for r in rows))} | | | 0 failed |")
EOF
[ "$fails" = 0 ]
