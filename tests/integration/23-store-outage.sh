#!/usr/bin/env bash
# The database away (issue 16 §5): two nodes on a PostgreSQL of this test's own (the run's
# shared cluster is never stopped), scoring under steady load, PostgreSQL stopped for
# RISKD_DRILL_SECONDS (3 in make test, 30 in make drill) and started again. Asserted:
#   - not one score request fails, before, during or after (every answer 200);
#   - during the outage: OFREP answers from the last good flag set, /ready says degraded with
#     the store down but stays 200 (a load balancer keeps the node), an admin write is 503
#     STORE_UNAVAILABLE;
#   - after it: every decision answered is in the database once (count equal to the 200s
#     per node, no (node, request_id) twice), the spools drained, the audit chain verifies, a
#     change published after the outage reaches both nodes (their watches reconnected);
#   - then the database hangs instead (every PostgreSQL process stopped with SIGSTOP: the
#     connections stay open and nothing answers, as with a frozen VM or disk): scores stay 200,
#     /ready says the store down within seconds, the decision log spools (each call's deadline,
#     --store-timeout-ms, ends the wait with RD_ESTORE); resumed, the spools drain and every
#     decision is stored once; and a node sent SIGTERM during a hang ends within seconds.
# A third node scores with auth_scoring (review16 #2, #16):
#   - a token revoked through node 1 is refused on node 3 well before its cache's 5 s recheck
#     (the store's "auth" notification emptied it);
#   - with the governance lock held by another session (a publish stuck on some node), a fresh
#     score token is answered (its check and last-use mark take no governance lock), and so is
#     an admin read;
#   - during the outage, more than 5 s after its last check, that token still answers 200 on
#     OFREP and /v1/score (from the cache, auth_stale_ms), counted once per request and logged
#     once; a token issued but never used is refused 503 STORE_UNAVAILABLE.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PY=/usr/bin/python3
SECS=${RISKD_DRILL_SECONDS:-3}

pg_database outage own # a cluster of its own: this test stops it
trap nodes_cleanup EXIT
psql_n() { psql -At "$URL" -c "$1"; }

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
"$BIN" user add mgr1 --role manager --store "$URL" --token-file "$T/admin.tok" >"$T/mgr1.tok" 2>/dev/null
check "a manager" 0 $?

for i in 1 2; do
    start_node "$i" --store "$URL" --flags store --bundles "$T/bundles" --store-check-ms 1000 \
        --store-timeout-ms 4000
    check "node $i starts" 0 $?
done
start_node 3 --store "$URL" --flags store --bundles "$T/bundles" --store-check-ms 1000 --auth --auth-scoring
check "node 3 starts, scoring behind tokens" 0 $?
"$BIN" user add svc --role viewer --scopes score --store "$URL" --token-file "$T/admin.tok" >"$T/s1.tok" 2>/dev/null
for k in 2 3; do
    "$BIN" user token svc --scopes score --store "$URL" --token-file "$T/admin.tok" >"$T/s$k.tok" 2>/dev/null
done
[ -s "$T/s1.tok" ] && [ -s "$T/s2.tok" ] && [ -s "$T/s3.tok" ]
check "three score tokens" 0 $?

wait_for() { # CMD...: until it succeeds (60 s at most: a hang guard, not a time test)
    for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
    return 1
}

ofrep3() { # TOKENFILE: the status of an OFREP evaluation on node 3 (5 s at most; the body in $T/o3)
    curl -s -m 5 -o "$T/o3" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$1")" \
        -H 'Content-Type: application/json' -d '{"context":{}}' "${URLS[3]}/ofrep/v1/evaluate/flags/greet"
}
score3() { # TOKENFILE: the same for /v1/score (the body in $T/sc3)
    curl -s -m 5 -o "$T/sc3" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$1")" \
        -H 'Content-Type: application/json' -d @"$T/score.json" "${URLS[3]}/v1/score"
}
$PY -c 'import csv, json; r = next(csv.DictReader(open("examples/data/credit_data.csv"))); r.pop("Status")
num = {"Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"}
print(json.dumps({"features": {k: (float(v) if k in num else v) for k, v in r.items() if v != ""}}))' >"$T/score.json"
st=$(ofrep3 "$T/s3.tok")
check "node 3: a score token answers OFREP" 200 "$st"
t0=$(date +%s%3N)
st=$(curl -s -o "$T/r" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$T/admin.tok")" \
    "${URLS[1]}/v1/admin/tokens/$(cut -c5-16 "$T/s3.tok")/revoke")
check "that token revoked through node 1" 200 "$st"
refused3() { [ "$(ofrep3 "$T/s3.tok")" = 401 ]; }
wait_for refused3
lag=$(($(date +%s%3N) - t0))
echo "a revocation through node 1 reached node 3 in $lag ms"
[ "$lag" -lt 3000 ]
check "... refused on node 3 after $lag ms (the notification; its cache alone: 5 s)" 0 $?

# a governance transaction that does not end (a publish stuck on some node): held until the outage
gov=$(($(sed -n 's/^#define RD_PG_LOCK_GOV *INT64_C(\(0x[0-9a-f]*\)).*/\1/p' src/lib/store/pg_int.h)))
psql -q "$URL" -c "BEGIN; SELECT pg_advisory_xact_lock($gov); SELECT pg_sleep(60)" >/dev/null 2>&1 &
EXTRA_PIDS+=($!)
held() { [ "$(psql_n "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $((gov & 0xffffffff))")" = 1 ]; }
wait_for held
check "the governance lock held by another session" 0 $?
st=$(ofrep3 "$T/s1.tok")
t1=$(date +%s%3N) # the store vouched for s1 now: its cache entry is this old from here
check "... a fresh score token answered meanwhile" 200 "$st" '"value":"hello"' "$T/o3"
st=$(curl -s -m 5 -o "$T/r" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/mgr1.tok")" "${URLS[3]}/v1/admin/changes")
check "... and an admin read" 200 "$st"

LOADS=()
for i in 1 2; do
    $PY tests/integration/score_load.py "${URLS[$i]}" "$T/load$i.log" --stop "$T/stop" --threads 2 &
    LOADS[$i]=$!
    EXTRA_PIDS+=($!)
done
sleep 1
scripts/pg-cluster.sh stop "$PGD" fast
check "PostgreSQL stopped under load" 0 $?
down() { curl -s "${URLS[$1]}/ready" | grep -q '"up":false'; }
for i in 1 2; do
    wait_for down "$i"
    check "node $i sees the store down" 0 $?
done
st=$(curl -s -o "$T/ready" -w '%{http_code}' "${URLS[1]}/ready")
check "/ready: degraded, still 200" 200 "$st" '"status":"degraded"' "$T/ready"
st=$(curl -s -o "$T/ofrep" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"context":{}}' \
    "${URLS[2]}/ofrep/v1/evaluate/flags/greet")
check "OFREP answers from the last good flag set" 200 "$st" '"value":"hello"' "$T/ofrep"
body=$($PY -c 'import json,sys; print(json.dumps({"kind":"flags","target":"store","payload":open(sys.argv[1]).read().replace("\"hi\"}}}","\"bye\"}}}")}))' "$T/f1.json")
st=$(curl -s -o "$T/r" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$T/mgr1.tok")" \
    -H 'Content-Type: application/json' -d "$body" "${URLS[1]}/v1/admin/changes")
check "an admin write: 503 STORE_UNAVAILABLE" 503 "$st" '"code":"STORE_UNAVAILABLE"' "$T/r"
sleep "$SECS"
rest=$((6500 - ($(date +%s%3N) - t1))) # past the cache's 5 s recheck, with a margin
[ "$rest" -gt 0 ] && sleep "$(printf '%d.%03d' $((rest / 1000)) $((rest % 1000)))"
st=$(ofrep3 "$T/s1.tok")
check "node 3, $(($(date +%s%3N) - t1)) ms after the store last vouched for a token: OFREP still answers it" 200 "$st" \
    '"value":"hello"' "$T/o3"
st=$(score3 "$T/s1.tok")
check "... and /v1/score" 200 "$st" '"model_version"' "$T/sc3"
st=$(ofrep3 "$T/s2.tok")
check "... a token issued but never used: 503, the store unreachable" 503 "$st" 'the database is unreachable' "$T/o3"
st=$(score3 "$T/s2.tok")
check "... on /v1/score too" 503 "$st" 'STORE_UNAVAILABLE' "$T/sc3"
stale=$(node_metric 3 riskd_auth_stale_total)
check "... riskd_auth_stale_total counts the two admitted" 2 "$stale"
said=$(grep -c 'tokens cannot be checked: the store is unreachable' "$T/n3.err")
check "... logged once, not per request" 1 "$said"
sp=$(node_metric 1 riskd_dlog_spool_records)
[ "${sp%.*}" -gt 0 ]
check "node 1 spooled its decisions meanwhile ($sp waiting)" 0 $?
scripts/pg-cluster.sh restart "$PGD"
check "PostgreSQL back" 0 $?
sleep 1
touch "$T/stop"
wait "${LOADS[1]}" "${LOADS[2]}"
drained() { [ "$(node_metric "$1" riskd_dlog_spool_records)" = 0 ] && ! down "$1"; }
for i in 1 2; do
    wait_for drained "$i"
    check "node $i: the store up again, its spool drained" 0 $?
done
for i in 1 2; do
    total=$(wc -l <"$T/load$i.log")
    ok=$(awk '$3 == 200' "$T/load$i.log" | wc -l)
    [ "$total" -gt 0 ] && [ "$ok" = "$total" ]
    check "node $i: every score request answered 200 ($ok of $total)" 0 $?
    # when not: the other answers by status and error code, the first of each (for whoever reads CI)
    [ "$ok" = "$total" ] || awk '$3 != 200 {n[$3]++; if (!($3 in f)) f[$3] = $0} END {for (k in n) print "  status " k ": " n[k] " (first: " f[k] ")"}' "$T/load$i.log" | head -5
    logged() { [ "$(psql_n "SELECT count(*) FROM decisions WHERE node = 'n$i' AND kind = 'primary'")" = "$ok" ]; }
    wait_for logged
    check "node $i: the database holds every decision answered ($ok), once" 0 $?
done
dup=$(psql_n "SELECT count(*) FROM (SELECT node, request_id FROM decisions WHERE kind = 'primary' GROUP BY 1, 2 HAVING count(*) > 1) d")
check "no decision twice" 0 "$dup"

st=$(curl -s -o "$T/r" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$T/mgr1.tok")" \
    -H 'Content-Type: application/json' -d "$body" "${URLS[1]}/v1/admin/changes")
check "an admin write after the outage" 201 "$st"
"$BIN" audit verify --store "$URL" >"$T/verify" 2>&1
check "the audit chain verifies" 0 $? 'intact' "$T/verify"

# The database hangs: SIGSTOP to the postmaster and its children (no new backend either).
hang() {
    local pm
    pm=$(head -1 "$PGD/pg/postmaster.pid")
    kill -"$1" "$pm" $(pgrep -P "$pm")
}
secs_since() { echo $(($(date +%s) - $1)); }
sp0=$(node_metric 1 riskd_dlog_spooled_total)
rm -f "$T/stop"
for i in 1 2; do
    $PY tests/integration/score_load.py "${URLS[$i]}" "$T/hang$i.log" --stop "$T/stop" --threads 2 --prefix h &
    LOADS[$i]=$!
    EXTRA_PIDS+=($!)
done
sleep 1
hang STOP
t0=$(date +%s)
for i in 1 2; do
    wait_for down "$i"
    check "node $i: /ready says the store down while it hangs" 0 $?
done
dt=$(secs_since "$t0")
[ "$dt" -le 15 ]
check "... within 15 s (the ping's deadline; took $dt s)" 0 $?
spooling() { [ "$(node_metric 1 riskd_dlog_spooled_total)" -gt "${sp0%.*}" ]; }
wait_for spooling
check "node 1 spools its decisions while the store hangs ($(secs_since "$t0") s)" 0 $?
hang CONT
sleep 1
touch "$T/stop"
wait "${LOADS[1]}" "${LOADS[2]}"
for i in 1 2; do
    wait_for drained "$i"
    check "node $i: after the hang, its spool drained" 0 $?
    total=$(wc -l <"$T/hang$i.log")
    ok=$(awk '$3 == 200' "$T/hang$i.log" | wc -l)
    [ "$total" -gt 0 ] && [ "$ok" = "$total" ]
    check "node $i: every score request during the hang answered 200 ($ok of $total)" 0 $?
    all=$((ok + $(awk '$3 == 200' "$T/load$i.log" | wc -l)))
    logged() { [ "$(psql_n "SELECT count(*) FROM decisions WHERE node = 'n$i' AND kind = 'primary'")" = "$all" ]; }
    wait_for logged
    check "node $i: the database holds every decision answered ($all), once" 0 $?
done
dup=$(psql_n "SELECT count(*) FROM (SELECT node, request_id FROM decisions WHERE kind = 'primary' GROUP BY 1, 2 HAVING count(*) > 1) d")
check "no decision twice" 0 "$dup"

# SIGTERM while the database hangs, with decisions on their way to it: the node ends anyway.
hang STOP
$PY tests/integration/score_load.py "${URLS[2]}" "$T/term.log" --stop "$T/stop2" --threads 1 --prefix t &
sleep 1
touch "$T/stop2"
wait $!
t0=$(date +%s)
kill -TERM "${PIDS[2]}"
for _ in $(seq 1 300); do kill -0 "${PIDS[2]}" 2>/dev/null || break; sleep 0.1; done
! kill -0 "${PIDS[2]}" 2>/dev/null
check "node 2 ends on SIGTERM while the store hangs ($(secs_since "$t0") s, 30 at most)" 0 $?
hang CONT

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
