#!/usr/bin/env bash
# Bundles kept in the store (docs/governance.md, "Several nodes: bundles kept in the store"):
# two `riskd serve --bundles store` nodes, each with its own data directory, share one SQLite
# store (--store sqlite:DIR) and nothing else. A bundle published through the CLI before they
# start (its directory removed after) is fetched by both into their caches; a second bundle
# proposed and published through node A's admin API is served by node B after its periodic
# check (--store-check-ms 300), pinned by a score request; its revocation (a rollback of its
# only registration) takes it off both; a new version whose blob is damaged in the store is
# refused by the nodes (logged once, naming the file) while the version cached before keeps
# serving, and is taken once the blob is whole again; require_approval on both nodes accepts
# what the cache holds, since it is published by construction; a cached file damaged while a
# node is down is fetched again when it starts.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3
S=$T/store # the shared store
mkdir -p "$T/src" "$S"

build() { # VERSION DEST [FALLBACK [MORE OPTIONS]]: the example's model of that version as a bundle
    local v=$1 dest=$2 src=examples/models/credit_xgb_v$1
    local fb=${3:-$src/fallback.json}
    shift $(($# < 3 ? $# : 3))
    "$BIN" bundle build --name "credit_xgb_v$v" --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data examples/data/credit_data.csv --label Status --positive bad --fallback "$fb" \
        --out "$dest/credit_xgb_v$v" "$@" >/dev/null
}
build 1.0 "$T/src"
build 1.1 "$T/src"
# the flags route every request to v1.0; v1.1 is reached by pinning ("bundle" in the request)
$PY -c "
import json
f=json.load(open('examples/flags/routing.json')); r=f['flags']['credit-model-route']
r.pop('targeting',None); r['variants'].pop('challenger'); f['flags'].pop('credit-model-shadow')
json.dump(f,open('$T/flags.json','w'),indent=2)"

"$BIN" user add admin1 --role admin --data-dir "$S" >"$T/admin.tok"
for u in erin:engineer mia:manager otto:operator; do
    "$BIN" user add "${u%%:*}" --role "${u##*:}" --data-dir "$S" --token-file "$T/admin.tok" >"$T/${u%%:*}.tok"
done
check "users made in the shared store" 0 $?

# the first bundle, through the CLI on the store; its directory is gone after: the store has it
id=$("$BIN" change propose --bundle "$T/src/credit_xgb_v1.0" --data-dir "$S" --token-file "$T/erin.tok")
check "propose credit_xgb_v1.0" 0 $?
"$BIN" change approve "$id" --data-dir "$S" --token-file "$T/mia.tok" >/dev/null &&
    "$BIN" change publish "$id" --data-dir "$S" --token-file "$T/otto.tok" >/dev/null
check "publish credit_xgb_v1.0" 0 $?
D10=$(sed -n 's/.*"digest": *"\([0-9a-f]*\)".*/\1/p' "$T/src/credit_xgb_v1.0/manifest.json")
rm -rf "$T/src/credit_xgb_v1.0"

# node NAME: riskd serve on a port of its own, with its own data directory; its URL in U_NAME
node() {
    local name=$1 url
    : >"$T/$name.out"
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$T/$name" --store "sqlite:$S" --bundles store \
        --flags "$T/flags.json" --route-flag credit-model-route --store-check-ms 300 --require-approval \
        --log-durability ack >"$T/$name.out" 2>"$T/$name.err" &
    eval "PID_$name=$!"
    for _ in $(seq 1 200); do
        url=$(sed -n 's/^listening on //p' "$T/$name.out")
        [ -n "$url" ] && eval "U_$name=$url" && return 0
        sleep 0.05
    done
    echo "node $name did not start:"
    tail -n 20 "$T/$name.err"
    return 1
}
node a || exit 1
node b || exit 1
check "two nodes start on the shared store with --bundles store" 0 0

wait_for() { wait_by 60 "$@"; } # CMD...: until it succeeds
digest_on() { # NODE BUNDLE: the digest /ready shows ("" when the bundle is not served)
    curl -s "$(eval echo "\$U_$1")/ready" | $PY -c "
import json,sys
print(next((b['digest'] for b in json.load(sys.stdin).get('bundles',[]) if b['name']=='$2'),''))"
}
serves() { [ "$(digest_on "$1" "$2")" = "$3" ]; }
score() { # NODE [BUNDLE]: the status of a score request (pinned to BUNDLE), its body in $T/r
    local body
    body=$($PY -c "
import json,sys
r=json.load(open('examples/requests/score-low-risk.json'))
if len(sys.argv) > 1: r['bundle']=sys.argv[1]
print(json.dumps(r))" "${@:2}")
    curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" \
        "$(eval echo "\$U_$1")/v1/score"
}
api() { # NODE METHOD PATH TOKENFILE [BODY]: the status, the body in $T/r
    local args=(-s -o "$T/r" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $(cat "$4")")
    [ $# -ge 5 ] && args+=(-H 'Content-Type: application/json' --data-binary "$5")
    curl "${args[@]}" "$(eval echo "\$U_$1")$3"
}
jget() { $PY -c "import json; j=json.load(open('$T/r')); print($1)"; }

for n in a b; do
    check "node $n serves credit_xgb_v1.0 from its cache" "$D10" "$(digest_on $n credit_xgb_v1.0)"
    check "... with a score" 200 "$(score $n)"
    [ -f "$T/$n/bundle-cache/credit_xgb_v1.0/manifest.json" ]
    check "... in $n's own cache (DATA_DIR/bundle-cache)" 0 $?
done

# the second bundle through node A's admin API (its directory is on A's disk)
st=$(api a POST /v1/admin/changes "$T/erin.tok" "{\"kind\":\"bundle\",\"target\":\"$T/src/credit_xgb_v1.1\",\"title\":\"the challenger\"}")
check "propose credit_xgb_v1.1 through node a's admin API" 201 "$st"
id=$(jget 'j["id"]')
st=$(api a POST "/v1/admin/changes/$id/approve" "$T/mia.tok" '{}')
check "approved" 200 "$st"
D11=$(sed -n 's/.*"digest": *"\([0-9a-f]*\)".*/\1/p' "$T/src/credit_xgb_v1.1/manifest.json")
rm -rf "$T/src/credit_xgb_v1.1" # kept in the store since it was proposed
st=$(api a POST "/v1/admin/changes/$id/publish" "$T/otto.tok")
check "published (its directory removed after the proposal)" 200 "$st"
check "node a serves it before the answer" "$D11" "$(digest_on a credit_xgb_v1.1)"
wait_for serves b credit_xgb_v1.1 "$D11"
check "node b serves it after its periodic check" 0 $?
check "a score pinned to credit_xgb_v1.1 on node b" 200 "$(score b credit_xgb_v1.1)"
check "... decided by it" 0 0 '"credit_xgb_v1.1"' "$T/r"
grep -q '"msg":"bundle cache: fetched from the store"' "$T/b.err"
check "node b logged the fetch" 0 $?

# revoked: a rollback of its only registration, on node b
st=$(api b POST /v1/admin/rollback "$T/otto.tok" '{"kind":"bundle","target":"credit_xgb_v1.1","reason":"not yet"}')
check "roll back (revoke) credit_xgb_v1.1 through node b" 200 "$st"
check "node b drops it before the answer" "" "$(digest_on b credit_xgb_v1.1)"
wait_for serves a credit_xgb_v1.1 ""
check "node a drops it after its periodic check" 0 $?
check "a score pinned to it is refused" 404 "$(score a credit_xgb_v1.1)"
[ ! -e "$T/a/bundle-cache/credit_xgb_v1.1" ] && [ ! -e "$T/b/bundle-cache/credit_xgb_v1.1" ]
check "... and it left both caches" 0 $?

# a new version of credit_xgb_v1.0 whose fallback rules blob is damaged in the store before it
# is published: refused by the nodes, logged once naming the file, the cached version serves
cp examples/models/credit_xgb_v1.0/fallback.json "$T/fallback.json"
printf '\n\n' >>"$T/fallback.json"
mkdir -p "$T/src2"
build 1.0 "$T/src2" "$T/fallback.json" --samples 5
D10b=$(sed -n 's/.*"digest": *"\([0-9a-f]*\)".*/\1/p' "$T/src2/credit_xgb_v1.0/manifest.json")
FB=$(sha256sum "$T/fallback.json" | cut -d' ' -f1)
id=$("$BIN" change propose --bundle "$T/src2/credit_xgb_v1.0" --data-dir "$S" --token-file "$T/erin.tok")
check "propose a new version of credit_xgb_v1.0" 0 $?
sqlite3 "$S/riskd.db" "UPDATE blobs SET data = X'7b7d' WHERE sha256 = '$FB'"
check "its fallback rules' blob damaged by hand" 0 $?
"$BIN" change approve "$id" --data-dir "$S" --token-file "$T/mia.tok" >/dev/null &&
    "$BIN" change publish "$id" --data-dir "$S" --token-file "$T/otto.tok" >/dev/null
check "published" 0 $?
refused() { grep -q "bundle cache: cannot take a bundle.*credit_xgb_v1.0.*fallback.json: the store's copy does not match" "$T/$1.err"; }
for n in a b; do
    wait_for refused $n
    check "node $n refuses it, naming the file" 0 $?
    check "... and serves the version cached before" "$D10" "$(digest_on $n credit_xgb_v1.0)"
    check "... with a score" 200 "$(score $n)"
done
reloads=$(grep -c '"msg":"reloaded"' "$T/b.err")
sleep 1 # three more periodic checks
check "logged once, not at every check" 1 "$(grep -c 'bundle cache: cannot take' "$T/b.err")"
check "... and no reload for nothing (the cache directory untouched)" "$reloads" "$(grep -c '"msg":"reloaded"' "$T/b.err")"
sqlite3 "$S/riskd.db" "UPDATE blobs SET data = readfile('$T/fallback.json') WHERE sha256 = '$FB'"
for n in a b; do
    wait_for serves $n credit_xgb_v1.0 "$D10b"
    check "the blob whole again: node $n serves the new version" 0 $?
done
ls "$T/a/bundle-cache" "$T/b/bundle-cache" | grep -q 'tmp-'
check "no work left in the caches" 1 $?

for n in a b; do
    eval "kill -TERM \$PID_$n; wait \$PID_$n"
    check "node $n stops cleanly" 0 $?
done
# a cached file damaged while the node was down: fetched again at the start, which succeeds
printf ' ' >>"$T/b/bundle-cache/credit_xgb_v1.0/model.json"
node b
check "node b restarts over a damaged cache" 0 $?
check "... serving the published version, fetched again" "$D10b" "$(digest_on b credit_xgb_v1.0)"
kill -TERM "$PID_b"
wait "$PID_b"
check "node b stops cleanly" 0 $?
"$BIN" audit verify --data-dir "$S" >"$T/verify"
check "the audit chain is intact" 0 $? 'intact' "$T/verify"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
