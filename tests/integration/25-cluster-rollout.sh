#!/usr/bin/env bash
# A staged rollout with several nodes on one PostgreSQL (issue 16, "Leadership"): two nodes
# run the same plan (examples/rollout/credit-drill.json, sped up) on the routing flag of the
# flag set kept in the store, under traffic to both. Exactly one node leads (runs the
# controller); the rollout advances; the leader is killed -9 and the other node takes the
# controller over (within 10 s), the next transition is made once and the rollout is promoted;
# no transition is recorded twice; then a manual rollback through the surviving node's admin
# API puts every node back on the control model. The nodes share no file: the flag set and the
# bundles (each node's verified cache, --bundles store) come from the store. The stages written
# are versions of the flag set in the store, on the audit chain, which verifies.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PY=/usr/bin/python3
SPEED=${RISKD_ROLLOUT_SPEED:-5}
RATE=${RISKD_SIM_RATE:-600}

pg_database rollout
trap 'touch "$T/stop"; nodes_cleanup' EXIT
psql_q() { psql -At "$URL" -c "$1"; }

mkdir -p "$T/bundles"
for v in 1.0 1.1; do
    src=examples/models/credit_xgb_v$v
    "$BIN" bundle build --name "credit_xgb_v$v" --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data examples/data/credit_data.csv --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$T/bundles/credit_xgb_v$v" >/dev/null
done
"$BIN" flags import examples/flags/routing.json --store "$URL" >/dev/null 2>&1
check "the routing flag set imported" 0 $?
"$BIN" user add admin1 --role admin --store "$URL" >"$T/admin.tok" 2>/dev/null
"$BIN" user add op1 --role operator --store "$URL" --token-file "$T/admin.tok" >"$T/op1.tok" 2>/dev/null
"$BIN" user add erin --role engineer --store "$URL" --token-file "$T/admin.tok" >"$T/erin.tok" 2>/dev/null
"$BIN" user add mia --role manager --store "$URL" --token-file "$T/admin.tok" >"$T/mia.tok" 2>/dev/null
# the bundles travel through the store too: each node fetches and verifies them (--bundles store)
for v in 1.0 1.1; do
    id=$("$BIN" change propose --bundle "$T/bundles/credit_xgb_v$v" --store "$URL" --token-file "$T/erin.tok") &&
        "$BIN" change approve "$id" --store "$URL" --token-file "$T/mia.tok" >/dev/null &&
        "$BIN" change publish "$id" --store "$URL" --token-file "$T/op1.tok" >/dev/null
    check "bundle credit_xgb_v$v published into the store" 0 $?
done
cp examples/rollout/credit-drill.json "$T/drill.json"

for i in 1 2; do
    start_node "$i" --store "$URL" --flags store --bundles store --route-flag credit-model-route \
        --shadow-flag credit-model-shadow --rollout "$T/drill.json" --rollout-speed "$SPEED" \
        --monitor-bucket-ms 10000 --store-check-ms 1000
    check "node $i starts with the rollout" 0 $?
done

leader_of() { # NODE: true/false as /ready says
    curl -s "${URLS[$1]}/ready" | $PY -c 'import json,sys; print(str(json.load(sys.stdin).get("rollout_leader")).lower())' 2>/dev/null
}
LEADER=
one_leader() {
    local a b
    a=$(leader_of 1)
    b=$(leader_of 2)
    [ "$a" = true ] && [ "$b" = false ] && LEADER=1 && return 0
    [ "$a" = false ] && [ "$b" = true ] && LEADER=2 && return 0
    return 1
}
wait_for() { # SECONDS CMD...: by the clock (a hang guard, not a time test)
    local until=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$until" ]; do "$@" && return 0; sleep 0.2; done
    return 1
}
wait_for 15 one_leader
check "exactly one node leads the rollout controller" 0 $?
OTHER=$((3 - LEADER))
[ "$($PY -c "print(sum(1 for l in open('$T/n1.err') if 'rollout leadership taken' in l) + sum(1 for l in open('$T/n2.err') if 'rollout leadership taken' in l))")" = 1 ]
check "... and said so in its log, the other did not" 0 $?

for i in 1 2; do
    $PY tests/integration/traffic.py "${URLS[$i]}" --rate "$RATE" --seconds 600 --stop "$T/stop" --prefix "n$i" \
        >"$T/traffic$i.json" 2>&1 &
    EXTRA_PIDS+=($!)
done
stage_of() { # NODE: the stage index /v1/rollouts says
    curl -s "${URLS[$1]}/v1/rollouts" | $PY -c 'import json,sys; r=json.load(sys.stdin)["rollouts"][0]; print(r["stage_index"], r["state"])' 2>/dev/null
}
past_first() { read -r st state < <(stage_of "$LEADER"); [ "${st:-0}" -ge 1 ]; }
wait_for 120 past_first
check "the rollout advances past its first stage (leader node $LEADER)" 0 $?
follows() { read -r st state < <(stage_of "$OTHER"); [ "${st:-0}" -ge 1 ]; }
wait_for 10 follows
check "the other node's status follows the leader's writes" 0 $?

kill -KILL "${PIDS[$LEADER]}"
wait "${PIDS[$LEADER]}" 2>/dev/null
t0=$SECONDS
took_over() { [ "$(leader_of "$OTHER")" = true ]; }
wait_for 30 took_over
check "node $OTHER takes the controller over after the leader's kill -9 ($((SECONDS - t0)) s; target 10 s)" 0 $?
# the new leader decides the next transitions: promotion, or a gate's rollback when the machine
# is loaded enough to breach the latency gate (both are the controller doing its job; what
# matters here is that each transition is made once, by one node)
ended() { read -r st state < <(stage_of "$OTHER"); [ "$state" = promoted ] || [ "$state" = rolled_back ]; }
wait_for 180 ended
check "the new leader carries the rollout to its end (promoted or rolled back by a gate)" 0 $?
read -r _ END < <(stage_of "$OTHER")
touch "$T/stop"

psql_q "SELECT from_stage || '>' || to_stage || ':' || reason FROM rollout_transitions ORDER BY id" >"$T/transitions"
check "the transitions are recorded" 0 $? 'promote|rollback|deadline' "$T/transitions"
psql_q "SELECT reason || ': ' || detail FROM rollout_transitions ORDER BY id DESC LIMIT 1" # why it ended
dups=$(sort "$T/transitions" | uniq -d | wc -l)
check "no transition recorded twice ($(tr '\n' ' ' <"$T/transitions"))" 0 "$dups"
starts=$(grep -c ':start$' "$T/transitions")
check "the rollout started once, though two nodes started it" 1 "$starts"

if [ "$END" = promoted ]; then
    st=$(curl -s -o "$T/r" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$T/op1.tok")" \
        -H 'Content-Type: application/json' -d '{"reason":"drill"}' "${URLS[$OTHER]}/v1/admin/rollouts/credit-model-route/rollback")
    check "a manual rollback through node $OTHER's admin API" 200 "$st"
fi
# the transitions through the admin API (the console's timeline): the store's, newest first, with gates
st=$(curl -s -o "$T/tr" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/erin.tok")" \
    "${URLS[$OTHER]}/v1/admin/rollouts/credit-model-route/transitions?limit=100")
check "the transitions over the admin API" 200 "$st" '"transitions":\[\{"ts_ms"' "$T/tr"
n_api=$($PY -c "import json; print(len(json.load(open('$T/tr'))['transitions']))")
n_db=$(psql_q "SELECT count(*) FROM rollout_transitions")
check "... all of them, newest first" "$n_db" "$n_api"
$PY -c "import json; t=json.load(open('$T/tr'))['transitions']; assert all(a['ts_ms'] >= b['ts_ms'] for a, b in zip(t, t[1:])); assert any(x['gates'] for x in t if x['reason'] in ('advance', 'rollback', 'promote'))"
check "... in time order, with the gates that decided" 0 $?
st=$(curl -s -o "$T/r" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/erin.tok")" \
    "${URLS[$OTHER]}/v1/admin/rollouts/no-such-flag/transitions")
check "the transitions of no rollout: 404" 404 "$st"
st=$(curl -s -o "$T/r" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/erin.tok")" \
    "${URLS[$OTHER]}/v1/rollouts")
check "the status lists the plan's stages" 200 "$st" '"plan_stages":\[\{"name":' "$T/r"
control() { # every applicant on the control model again
    curl -s -X POST -H 'Content-Type: application/json' -d '{"context":{"targetingKey":"a42","segment":"retail"}}' \
        "${URLS[$OTHER]}/ofrep/v1/evaluate/flags/credit-model-route" | grep -q '"value":"credit_xgb_v1.0"'
}
wait_for 10 control
check "... routes everyone back to the control model" 0 $?
"$BIN" audit verify --store "$URL" >"$T/verify" 2>&1
check "the stages are on the audit chain, which verifies" 0 $? 'intact' "$T/verify"
n=$("$BIN" change versions --store "$URL" 2>/dev/null | grep -c ' rollout ')
[ "$n" -ge 2 ]
check "each stage written is a version of the flag set in the store ($n)" 0 $?

# promote over the admin API: the publish permission (an engineer may not), every applicant on
# the candidate model after the answer
st=$(curl -s -o "$T/r" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$T/erin.tok")" \
    -H 'Content-Type: application/json' -d '{"reason":"drill"}' "${URLS[$OTHER]}/v1/admin/rollouts/credit-model-route/promote")
check "an engineer may not promote" 403 "$st" 'publish' "$T/r"
st=$(curl -s -o "$T/r" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$T/op1.tok")" \
    -H 'Content-Type: application/json' -d '{"reason":"drill"}' "${URLS[$OTHER]}/v1/admin/rollouts/credit-model-route/promote")
check "an operator promotes through the admin API" 200 "$st" '"command":"promote","state":"promoted"' "$T/r"
candidate() {
    curl -s -X POST -H 'Content-Type: application/json' -d '{"context":{"targetingKey":"a42","segment":"retail"}}' \
        "${URLS[$OTHER]}/ofrep/v1/evaluate/flags/credit-model-route" | grep -q '"value":"credit_xgb_v1.1"'
}
wait_for 10 candidate
check "... routes everyone to the candidate model" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
