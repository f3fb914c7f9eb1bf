#!/usr/bin/env bash
# require_approval = on (docs/governance.md, "What serves"): the first start adopts what is in
# force as version 1 of each file and bundle; a hand edit of the flag file and a bundle copied
# into the bundle directory are refused on reload (logged, /ready says why, the last good
# state keeps serving); the same file published through a change request (the CLI on the data
# directory, the server not told) is then taken at the next poll; a bundle registration
# likewise; and a restart adopts nothing more.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PY=/usr/bin/python3
D=$T/data

mkdir -p "$T/bundles" "$T/staging"
build() { # VERSION DEST
    local src=examples/models/credit_xgb_v$1
    "$BIN" bundle build --name "credit_xgb_v$1" --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data examples/data/credit_data.csv --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$2/credit_xgb_v$1" >/dev/null
}
build 1.0 "$T/bundles"
build 1.1 "$T/staging"
cp examples/flags/routing.json "$T/flags.json"
cp "$T/flags.json" "$T/flags.orig"
# the edit: the decline letter for everyone
$PY -c "
import json,sys
f=json.load(open('$T/flags.json'))
f['flags']['new-decline-letter']['defaultVariant']='on'
f['flags']['new-decline-letter'].pop('targeting',None)
json.dump(f,open('$T/flags.edit','w'),indent=2)"
# routing.json names credit_xgb_v1.1 as the challenger: the service starts with v1.0 alone
$PY -c "
import json
for p in ('$T/flags.json','$T/flags.orig','$T/flags.edit'):
    f=json.load(open(p)); r=f['flags']['credit-model-route']; r.pop('targeting',None); r['variants'].pop('challenger')
    f['flags'].pop('credit-model-shadow'); json.dump(f,open(p,'w'),indent=2)"
cp "$T/flags.json" "$T/flags.orig"

"$BIN" user add admin1 --role admin --data-dir "$D" >"$T/admin.tok"
for u in erin:engineer mia:manager otto:operator; do
    "$BIN" user add "${u%%:*}" --role "${u##*:}" --data-dir "$D" --token-file "$T/admin.tok" >"$T/${u%%:*}.tok"
done

ofrep() { # the decline letter flag's value
    curl -s -X POST -H 'Content-Type: application/json' -d '{"context":{"targetingKey":"a1"}}' \
        "$U/ofrep/v1/evaluate/flags/new-decline-letter" | $PY -c 'import json,sys; print(json.load(sys.stdin)["value"])'
}
wait_for() { wait_by 60 "$@"; } # CMD...: until it succeeds
letter_is() { [ "$(ofrep)" = "$1" ]; }

start --flags "$T/flags.json" --bundles "$T/bundles" --route-flag credit-model-route --require-approval \
    --reload-interval-ms 100
check "serve starts with require_approval" 0 $?
"$BIN" audit export --data-dir "$D" --format jsonl >"$T/audit.jsonl"
check "the first start adopts the flag file" 0 $? '"action":"flags.adopt"' "$T/audit.jsonl"
check "... and the bundle" 0 0 '"action":"bundle.adopt"' "$T/audit.jsonl"
check "serves the adopted flags" 0 0 False <(ofrep)
# an OFREP event stream watches: a refused edit sends nothing, a publish sends its ETag
curl -sN --max-time 120 "$U/ofrep/v1/events" >"$T/events" 2>/dev/null &
EPID=$!
events() { grep -c '^data: {"type":"refetchEvaluation"' "$T/events"; }

# a hand edit: refused, logged, the last good flags keep serving
cp "$T/flags.edit" "$T/flags.json"
wait_for grep -q 'reload refused.*require_approval' "$T/serve.err"
check "a hand edit of the flag file is refused and logged" 0 $? 'not its published version' "$T/serve.err"
check "the last good flags keep serving" 0 0 False <(ofrep)
curl -s -o "$T/ready" -w '%{http_code}' "$U/ready" >"$T/ready.code"
check "/ready says why" 0 0 'require_approval' "$T/ready"
n_refusals=$(grep -c 'reload refused' "$T/serve.err")
sleep 0.5
check "refused once, not at every poll" "$n_refusals" "$(grep -c 'reload refused' "$T/serve.err")"
check "a refused edit sends no change event" 0 "$(events)"

# put it back, then the same edit through a change request on the data directory
cp "$T/flags.orig" "$T/flags.json"
wait_for letter_is False
id=$("$BIN" change propose --flags "$T/flags.edit" --title "decline letter for all" --data-dir "$D" \
    --token-file "$T/erin.tok")
check "propose needs no target: the store knows the served file" 0 $?
"$BIN" change approve "$id" --data-dir "$D" --token-file "$T/mia.tok" >/dev/null
check "approved by a second person" 0 $?
"$BIN" change publish "$id" --data-dir "$D" --token-file "$T/otto.tok" >/dev/null
check "published by the operator" 0 $?
wait_for letter_is True
check "the published version serves (the server was not told)" 0 $?
cmp -s "$T/flags.json" "$T/flags.edit"
check "the flag file holds the published bytes" 0 $?
published_etag() { grep -qF "\"etag\":\"\\\"$(sha256sum "$T/flags.edit" | cut -d' ' -f1)\\\"\"" "$T/events"; }
wait_for published_etag
check "the publish reached the event stream with the published file's ETag" 0 $? "." "$T/events"
check "... one event: the restored file and the refused edit sent none" 1 "$(events)"
kill "$EPID" 2>/dev/null

# a bundle copied in by hand: refused; registered through a change request: served
cp -r "$T/staging/credit_xgb_v1.1" "$T/bundles/"
wait_for grep -q 'credit_xgb_v1.1.*require_approval\|require_approval.*credit_xgb_v1.1' "$T/serve.err"
check "a bundle copied in by hand is refused" 0 $?
curl -s "$U/ready" >"$T/ready"
grep -q '"name":"credit_xgb_v1.1"' "$T/ready"
check "... and not served" 1 $?
id=$("$BIN" change propose --bundle "$T/bundles/credit_xgb_v1.1" --data-dir "$D" --token-file "$T/erin.tok")
check "propose the bundle's registration" 0 $?
"$BIN" change approve "$id" --data-dir "$D" --token-file "$T/mia.tok" >/dev/null &&
    "$BIN" change publish "$id" --data-dir "$D" --token-file "$T/otto.tok" >/dev/null
check "registered" 0 $?
served() { curl -s "$U/ready" | grep -q '"name":"credit_xgb_v1.1"'; }
wait_for served
check "the registered bundle serves at the next poll" 0 $?
stop

# rollout commands on a governed data directory need a token with the permission
env -u RISKD_TOKEN -u RISKD_TOKEN_FILE "$BIN" rollout pause --data-dir "$D" --flag credit-model-route >/dev/null 2>"$T/e"
check "riskd rollout pause without a token is refused" 7 $?
"$BIN" rollout rollback --data-dir "$D" --flag credit-model-route --token-file "$T/erin.tok" >/dev/null 2>"$T/e"
check "... and by an engineer" 7 $? 'rollback permission' "$T/e"
"$BIN" rollout promote --data-dir "$D" --flag credit-model-route --token-file "$T/otto.tok" >/dev/null 2>"$T/e"
check "an operator gets past the check (then: no such rollout)" 1 $? 'no rollout' "$T/e"

# a restart adopts nothing: a hand edit made while it was down is refused at start
cp "$T/flags.orig" "$T/flags.json"
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$D" --flags "$T/flags.json" --bundles "$T/bundles" \
    --route-flag credit-model-route --require-approval >"$T/serve2.out" 2>"$T/serve2.err"
check "a restart refuses a flag file edited while it was down (exit 7: refused)" 7 $? 'not its published version' "$T/serve2.err"
"$BIN" audit verify --data-dir "$D" >"$T/verify"
check "the audit chain is intact" 0 $? 'intact' "$T/verify"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
