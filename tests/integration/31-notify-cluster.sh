#!/usr/bin/env bash
# Notifications with several nodes on one PostgreSQL (docs/notifications.md, "One delivering
# node"): two nodes carry the same sinks; exactly one holds the notify leadership and delivers.
# A change made through the other node is delivered once; a breaker that trips on the node that
# does not deliver reaches the receiver through the store, once; kill -9 of the delivering node:
# the other takes the leadership and delivers the next change, and nothing is delivered twice
# but under one idempotency key.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PY=/usr/bin/python3
# the receiver is on loopback: never through a proxy the environment names
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
CHECK=tests/integration/notify_check.py

pg_database notify
RPID=
cleanup() {
    kill -TERM "$RPID" 2>/dev/null
    nodes_cleanup
}
trap cleanup EXIT

mkdir -p "$T/bundles"
src=examples/models/credit_xgb_v1.0
"$BIN" bundle build --name credit_xgb_v1.0 --model "$src/model.json" --pipeline "$src/pipeline.json" \
    --data examples/data/credit_data.csv --label Status --positive bad --fallback "$src/fallback.json" \
    --out "$T/bundles/credit_xgb_v1.0" >/dev/null
printf '%s\n' '{"flags":{"model-route":{"state":"ENABLED","variants":{"a":"credit_xgb_v1.0"},"defaultVariant":"a"},' \
    '"greet":{"state":"ENABLED","variants":{"hi":"hello","bye":"goodbye"},"defaultVariant":"hi"}}}' >"$T/f1.json"
"$BIN" flags import "$T/f1.json" --store "$URL" >/dev/null 2>&1
check "the flag set imported" 0 $?
"$BIN" user add admin1 --role admin --store "$URL" >"$T/admin.tok" 2>/dev/null
for u in mgr1 mgr2; do
    "$BIN" user add "$u" --role manager --store "$URL" --token-file "$T/admin.tok" >"$T/$u.tok" 2>/dev/null
done
check "two managers" 0 $?

$PY tests/integration/notify_receiver.py --port 0 --port-file "$T/port" --log "$T/recv.log" 2>"$T/recv.err" &
RPID=$!
wait_by 10 test -s "$T/port"
P=$(cat "$T/port")

startn() {
    start_node "$1" --store "$URL" --flags store --bundles "$T/bundles" --route-flag model-route \
        --fault credit_xgb_v1.0:error_rate=1 --breaker-min-calls 4 --breaker-open-ms 60000 \
        --notify "webhook name=hook url=http://127.0.0.1:$P/hook" \
        --notify-poll-ms 200 --notify-backoff-ms 50 --notify-backoff-max-ms 300
}
for i in 1 2; do
    startn "$i"
    check "node $i starts with the sink" 0 $?
done
leader() { # the node that delivers (0: none or both)
    local l=0 n=0
    for i in "$@"; do
        if curl -s "${URLS[$i]}/ready" | grep -q '"notify":{"leader":true'; then
            l=$i
            n=$((n + 1))
        fi
    done
    [ "$n" = 1 ] && echo "$l" || echo 0
}
one_leader() { [ "$(leader 1 2)" != 0 ]; }
wait_by 20 one_leader
check "exactly one node holds the notify leadership" 0 $?
L=$(leader 1 2)
O=$((3 - L))

api() { # NODE METHOD PATH TOKENFILE BODY: the status; the body in $T/r
    curl -s -o "$T/r" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $(cat "$4")" \
        -H 'Content-Type: application/json' -d "$5" "${URLS[$1]}$3"
}
propose() { # NODE TITLE: a change through NODE's admin API
    local body
    body=$($PY -c 'import json,sys; print(json.dumps({"kind":"flags","target":"store","payload":sys.argv[1],"title":sys.argv[2]}))' \
        "$(sed "s/\"defaultVariant\":\"hi\"}/\"defaultVariant\":\"bye\",\"metadata\":{\"n\":\"$2\"}}/" "$T/f1.json")" "$2")
    api "$1" POST /v1/admin/changes "$T/mgr1.tok" "$body"
}
arrived() { [ "$($PY "$CHECK" "$T/recv.log" --path /hook --count 2>/dev/null || echo 0)" -ge "$1" ]; }

st=$(propose "$O" "through the node that does not deliver")
check "a change proposed on node $O" 201 "$st"
wait_by 20 arrived 1
check "… delivered by node $L" 0 $?

for _ in 1 2 3 4 5; do
    curl -s -o /dev/null -X POST "${URLS[$O]}/v1/score" -H 'Content-Type: application/json' \
        -d '{"context":{"targetingKey":"a1"},"features":{"Seniority":9,"Home":"rent","Time":60,"Age":30,"Marital":"married","Records":"no","Job":"freelance","Expenses":73,"Income":129,"Assets":0,"Debt":0,"Amount":800,"Price":846}}'
done
wait_by 20 arrived 2
check "a breaker tripped on node $O reaches the receiver through the store" 0 $?
$PY "$CHECK" "$T/recv.log" --path /hook --unique --expect-types change.proposed,breaker.opened >"$T/out" 2>&1
check "… in order, once each" 0 $? "ids: 2 unique, 2 deliveries" "$T/out"
$PY - "$T/recv.log" "n$O" >"$T/out" 2>&1 <<'PYEOF'
import base64, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ev = [json.loads(base64.b64decode(r["body_b64"])) for r in rows if r["path"] == "/hook"]
br = [e for e in ev if e["type"] == "breaker.opened"][0]
assert br["node"] == sys.argv[2], br
print("node ok")
PYEOF
check "… naming the node it tripped on" 0 $? "node ok" "$T/out"

kill -9 "${PIDS[$L]}"
wait "${PIDS[$L]}" 2>/dev/null
st=$(propose "$O" "after the leader died")
check "a change after the delivering node was killed" 201 "$st"
took_over() { [ "$(leader "$O")" = "$O" ]; }
wait_by 30 took_over
check "node $O takes the notify leadership" 0 $?
wait_by 30 arrived 3
check "… and delivers the change" 0 $?
$PY "$CHECK" "$T/recv.log" --path /hook --unique --expect-types change.proposed,breaker.opened,change.proposed >"$T/out" 2>&1
check "… in order; a redelivery, if any, under the same key" 0 $? "ids: 3 unique" "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
