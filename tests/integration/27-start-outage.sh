#!/usr/bin/env bash
# A node that starts while the database is away (issue 16 §5, review16 #11): on a PostgreSQL of
# this test's own (stopped here), a node that served from the store before starts from the flag
# set it kept in its data directory (DATA_DIR/flags.kept): it serves OFREP and scores (the log
# spooled), /ready says degraded with the store down; a node that never served from this store
# is refused at start (a wrong URL is not served around). When the database is back, the node
# connects, its spool drains, and a change published after reaches it by notification. A kept
# copy that was damaged, or kept from another store, is refused by name.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PY=/usr/bin/python3

pg_database startout own # a cluster of its own: this test stops it
trap nodes_cleanup EXIT

mkdir -p "$T/bundles"
src=examples/models/credit_xgb_v1.0
"$BIN" bundle build --name credit_xgb_v1.0 --model "$src/model.json" --pipeline "$src/pipeline.json" \
    --data examples/data/credit_data.csv --label Status --positive bad --fallback "$src/fallback.json" \
    --out "$T/bundles/credit_xgb_v1.0" >/dev/null
flags() { # the greeting's default variant
    printf '{"flags":{"model-route":{"state":"ENABLED","variants":{"a":"credit_xgb_v1.0"},"defaultVariant":"a"},"greet":{"state":"ENABLED","variants":{"hi":"hello","bye":"goodbye"},"defaultVariant":"%s"}}}\n' "$1"
}
flags hi >"$T/f1.json"
"$BIN" flags import "$T/f1.json" --store "$URL" >/dev/null 2>&1
check "the flag set imported" 0 $?
"$BIN" user add admin1 --role admin --store "$URL" >"$T/admin.tok" 2>/dev/null
for u in mgr1 mgr2; do
    "$BIN" user add "$u" --role manager --store "$URL" --token-file "$T/admin.tok" >"$T/$u.tok" 2>/dev/null
done
check "two managers" 0 $?

# the periodic check every 10 minutes: what reaches the node after the outage comes by notification
node() { start_node 1 --store "$URL" --flags store --bundles "$T/bundles" --store-check-ms 600000 "$@"; }
greet() {
    curl -s -m 5 -X POST -H 'Content-Type: application/json' -d '{"context":{}}' \
        "${URLS[1]}/ofrep/v1/evaluate/flags/greet" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("value"))'
}
score() { # the HTTP status of one score
    curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        -d '{"request_id":"'"$1"'","context":{"targetingKey":"a1"},"features":{"Seniority":9,"Home":"rent","Time":60,"Age":30,"Marital":"married","Records":"no","Job":"fixed","Expenses":73,"Income":129,"Assets":0,"Debt":0,"Amount":800,"Price":846}}' \
        "${URLS[1]}/v1/score"
}

node
check "node 1 starts on the store" 0 $?
[ "$(greet)" = hello ] && [ "$(score before)" = 200 ]
check "... serves and scores" 0 $?
test -s "$T/n1/flags.kept"
check "... keeps the flag set it serves in its data directory" 0 $?
kill -TERM "${PIDS[1]}"
wait "${PIDS[1]}"
check "node 1 stopped" 0 $?

scripts/pg-cluster.sh stop "$PGD" fast
check "PostgreSQL stopped" 0 $?
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$T/fresh" --store "$URL" --flags store --bundles "$T/bundles" \
    >"$T/fresh.out" 2>&1
check "a node that never served from this store: refused at start, the database named" 4 $? \
    'the database is unreachable' "$T/fresh.out"

node
check "node 1 starts while the database is away" 0 $?
grep -q 'serving the flag set kept in the data directory","version":1' "$T/n1.err"
check "... from the flag set it kept (version 1), said in its log" 0 $?
[ "$(greet)" = hello ]
check "... OFREP answers from it" 0 $?
codes=""
for k in 1 2 3 4 5; do codes="$codes$(score "during-$k") "; done
[ "$codes" = "200 200 200 200 200 " ]
check "... five scores answered 200 (the log spooled): $codes" 0 $?
st=$(curl -s -o "$T/ready" -w '%{http_code}' "${URLS[1]}/ready")
check "... /ready: degraded, the store down, still 200" 200 "$st" '"status":"degraded".*"up":false' "$T/ready"
[ "$(node_metric 1 riskd_dlog_spooled_total)" -ge 5 ]
check "... the decisions spooled ($(node_metric 1 riskd_dlog_spooled_total))" 0 $?

scripts/pg-cluster.sh restart "$PGD" >/dev/null
check "PostgreSQL started again" 0 $?
up() { curl -s "${URLS[1]}/ready" | grep -q '"up":true,"notifications":"listening"'; }
wait_by 60 up
check "node 1 reconnects and listens" 0 $?
stored() { [ "$(psql -At "$URL" -c "SELECT count(*) FROM decisions WHERE request_id LIKE 'during-%'")" = 5 ]; }
wait_by 60 stored
check "the five decisions spooled during the outage are in the database" 0 $?

api() { # METHOD PATH TOKENFILE BODY: the status; the body in $T/r
    curl -s -o "$T/r" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $(cat "$3")" \
        -H 'Content-Type: application/json' -d "$4" "${URLS[1]}$2"
}
body=$($PY -c 'import json,sys; print(json.dumps({"kind":"flags","target":"store","payload":sys.argv[1],"title":"bye"}))' "$(flags bye)")
api POST /v1/admin/changes "$T/mgr1.tok" "$body" >/dev/null
id=$($PY -c "import json; print(json.load(open('$T/r'))['id'])")
api POST "/v1/admin/changes/$id/approve" "$T/mgr2.tok" '{}' >/dev/null
# published through the store, not this node: it learns of it from the notification
"$BIN" change publish "$id" --store "$URL" --token-file "$T/mgr2.tok" >"$T/publish.out" 2>&1
check "a change published after the outage, by another hand" 0 $?
bye() { [ "$(greet)" = goodbye ]; }
wait_by 30 bye
check "... served by node 1, from the notification" 0 $?
[ "$(sed -n 3p "$T/n1/flags.kept")" = "version 2" ]
check "... and kept (version 2)" 0 $?

# a damaged copy, or one kept from another store, is refused by name at a start during an outage
kill -TERM "${PIDS[1]}"
wait "${PIDS[1]}"
scripts/pg-cluster.sh stop "$PGD" fast >/dev/null
serve1() { "$BIN" serve --listen 127.0.0.1:0 --data-dir "$T/n1" --store "$URL" --flags store --bundles "$T/bundles" >"$T/$1" 2>&1; }
sed -i '$ s/goodbye/GOODBYE/' "$T/n1/flags.kept"
serve1 damaged.out
check "a damaged kept copy with the database away: the start refused, naming the file and the damage" 4 $? \
    'flags.kept: damaged \(its text does not match its sha256\)' "$T/damaged.out"
sed -i '$ s/GOODBYE/goodbye/; 2 s|^store .*|store postgresql://other@127.0.0.1:1/elsewhere|' "$T/n1/flags.kept"
serve1 other.out
check "a copy kept from another store: the start refused, naming both" 4 $? \
    'kept from the store postgresql://other@127.0.0.1:1/elsewhere, not postgresql://' "$T/other.out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
