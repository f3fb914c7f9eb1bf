#!/usr/bin/env bash
# The admin HTTP API and authentication in riskd serve (docs/api.md, "The admin API"):
#   (a) the role x action matrix, generated from `riskd auth matrix --json`: every action by a
#       user of every role is refused 403 FORBIDDEN exactly when the matrix says so (and never
#       401); no token is 401 for every action; a token with only the score scope 403;
#   (b) no self-approval through HTTP: the author (with any of their tokens) and an editor are
#       refused; concurrent edits and approvals never leave an approval by an editor or of a
#       revision other than the current one;
#   (c) publish with require_approval = on: the flag file rewritten and served before the answer
#       leaves; rollback restores it; a hand edit is refused on reload (when that check is built);
#   (d) auth = on: outcomes, pinning and auth_scoring need tokens with the right scopes, health,
#       ready and metrics stay open; a pinned request is logged with its user;
#   (e) more than auth_max_failures bad tokens from one address in a minute: 429, then even a
#       good token from there (a limited source is refused before its token is looked at); the
#       failures are audited (auth.failed) at the latest when the server stops;
#   (f) no token, nor a token's secret, in the server's log (with the access log on), the audit
#       chain, a response body (but the ones that issued them) or /metrics.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3
D=$T/data
mkdir -p "$T/resp" "$T/issued"

# ---- fixtures: two bundles routed by a flag, and a flag to change through the API
lr_fixture
cat >"$T/lr2.json" <<'J'
{"type":"logistic_regression","features":["age","home=own"],"coef":[-0.03,-1.2],"intercept":0.6,"means":[40,0.5]}
J
mkdir -p "$T/bundles"
for v in 1.0 1.1; do
    m=$T/lr.json
    [ $v = 1.1 ] && m=$T/lr2.json
    "$BIN" bundle build --name demo_lr_v$v --model "$m" --pipeline "$T/pipe.json" --data "$T/data.csv" --label bad \
        --samples 5 --reasons 2 --out "$T/bundles/demo_lr_v$v" >"$T/out" 2>&1
    check "build demo_lr_v$v" 0 $? "built and verified" "$T/out"
done
flags() { # $1: the greeting's default variant
    printf '{"flags":{"model-route":{"state":"ENABLED","variants":{"champion":"demo_lr_v1.0","challenger":"demo_lr_v1.1"},"defaultVariant":"champion"},\n"greeting":{"state":"ENABLED","variants":{"hi":"hello","bye":"goodbye","x":"hand-edited"},"defaultVariant":"%s"}}}\n' "$1"
}
flags hi >"$T/flags.json"
cp "$T/flags.json" "$T/flags.orig"
FLAGS=$(realpath "$T/flags.json")

# ---- helpers
n=0
# api METHOD PATH TOKEN [BODY]: the status echoed, the body in $T/r and kept in $T/resp/ (the
# token-leak check reads them all)
api() {
    local args=(-s -o "$T/r" -w '%{http_code}' -X "$1")
    [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    rm -f "$T/r"
    curl "${args[@]}" "$U$2"
    touch "$T/r"
    n=$((n + 1))
    cp "$T/r" "$T/resp/$n"
}
# issue PATH TOKEN BODY FILE: a call that issues a token (201): the token into FILE; its response
# is the one place a token may appear, kept apart
issue() {
    local st
    st=$(curl -s -o "$T/issued/last" -w '%{http_code}' -X POST -H "Authorization: Bearer $2" \
        -H 'Content-Type: application/json' --data-binary "$3" "$U$1")
    cp "$T/issued/last" "$T/issued/$(basename "$4")"
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/issued/last" >"$4" 2>/dev/null
    [ "$st" = 201 ] && [ -s "$4" ]
}
jget() { # EXPR: a Python expression over the last body j
    $PY -c "import json,sys; j=json.load(open('$T/r')); print($1)"
}
ofrep() { # KEY [TOKEN]: the flag's value
    local h=()
    [ $# -ge 2 ] && h=(-H "Authorization: Bearer $2")
    curl -s "${h[@]}" -X POST -H 'Content-Type: application/json' -d '{"context":{}}' \
        "$U/ofrep/v1/evaluate/flags/$1" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("value"))'
}

# ---- the first admin, at the console; the other users through the API
"$BIN" user add admin1 --role admin --data-dir "$D" >"$T/tok.admin1" 2>"$T/out"
check "the first admin at the console" 0 $?
grep -qE '^rdk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$' "$T/tok.admin1"
check "riskd user add prints the token alone" 0 $?
ADMIN=$(cat "$T/tok.admin1")

start --flags "$T/flags.json" --bundles "$T/bundles" --require-approval --auth-max-failures 100000 \
    --log-level debug --log-durability ack || exit 1
for u in viewer1:viewer eng1:engineer mgr1:manager mgr2:manager op1:operator analyst1:analyst; do
    issue /v1/admin/users "$ADMIN" "{\"name\":\"${u%%:*}\",\"role\":\"${u#*:}\"}" "$T/tok.${u%%:*}"
    check "admin1 adds ${u%%:*} (${u#*:})" 0 $?
done
ROLE_USERS="viewer=viewer1 engineer=eng1 manager=mgr1 operator=op1 admin=admin1 analyst=analyst1"
issue /v1/admin/users/eng1/tokens "$ADMIN" '{"scopes":"score"}' "$T/tok.eng1-score"
check "a token with only the score scope" 0 $?

st=$(api GET /v1/admin/users "$ADMIN")
check "GET /v1/admin/users" 200 "$st"
check "seven users listed" 7 "$(jget 'len(j)')"
st=$(api POST /v1/admin/users "$ADMIN" '{"name":"x1","rol":"viewer"}')
check "an unknown member: 400" 400 "$st" 'unknown member \\"rol\\" \(did you mean \\"role\\"\?\)' "$T/r"
st=$(api POST /v1/admin/users "$ADMIN" '{"name":7,"role":"viewer"}')
check "a wrong type: 400 naming the member" 400 "$st" 'name: expected a string' "$T/r"
st=$(api POST /v1/admin/users "$ADMIN" '{"name":"x1","role":"veiwer"}')
check "an unknown role: did you mean" 400 "$st" 'did you mean viewer' "$T/r"
st=$(api DELETE /v1/admin/users "$ADMIN")
check "another method: 405" 405 "$st"
curl -s -D "$T/h" -o /dev/null -X DELETE -H "Authorization: Bearer $ADMIN" "$U/v1/admin/users"
grep -qi '^Allow: GET, POST' "$T/h"
check "405 says Allow: GET, POST" 0 $?
st=$(api GET /v1/admin/nothing "$ADMIN")
check "no such admin route: 404" 404 "$st"
curl -s -D "$T/h" -o /dev/null "$U/v1/admin/users"
grep -qi '^WWW-Authenticate: Bearer' "$T/h"
check "401 says WWW-Authenticate: Bearer" 0 $?

# ---- (a) the role x action matrix, generated from riskd auth matrix --json
"$BIN" auth matrix --json >"$T/matrix.json"
check "riskd auth matrix --json" 0 $?
"$BIN" auth matrix --markdown >"$T/matrix.md"
check "riskd auth matrix --markdown" 0 $? '^\| `change.approve` \| `POST /v1/admin/changes/\{id\}/approve`' "$T/matrix.md"
flags bye >"$T/flags.new"
TOKDIR=$T $PY - "$T/matrix.json" "$U" "$ROLE_USERS" "$FLAGS" "$T/flags.new" "$T/resp/matrix" >"$T/matrix.out" <<'P'
import json, os, sys, urllib.request, urllib.error
matrix, url, role_users, flags, new = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
keep = sys.argv[6]
os.makedirs(keep, exist_ok=True)
tok = lambda u: open(os.environ["TOKDIR"] + "/tok." + u).read().strip()
users = dict(kv.split("=") for kv in role_users.split())
# placeholders with plausible values that no refusal of the library's own can hit: an id and a
# name nobody has, a flag with no rollout (so "allowed" means: anything but 401 and 403)
fill = {"{id}": "999999", "{name}": "nobody", "{flag}": "model-route"}
payload = open(new).read()
bodies = {  # minimal bodies; an action not named here gets {}
    "user.add": {"name": "matrix-made", "role": "viewer"},
    "settings.set": {"approvals": {"flags": 1}},
    "change.propose": {"kind": "flags", "target": flags, "payload": payload, "title": "matrix"},
    "change.edit": {"title": "matrix"},
    "rollback": {"kind": "flags", "target": flags, "reason": "matrix"},
    "decisions.erase": {"targeting_key": "u1", "reason": "matrix"},
}
query = {"decisions.read": "?request_id=nothing", "versions.list": "?kind=flags"}
def call(method, path, token, body):
    req = urllib.request.Request(url + path, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    data = None
    if method in ("POST", "PUT"):
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data) as r:
            st, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        st, text = e.code, e.read()
    call.n += 1
    open("%s/%d" % (keep, call.n), "wb").write(text)
    try:
        code = json.loads(text).get("error", {}).get("code") if text else None
    except Exception:
        code = None
    return st, code
call.n = 0
ok = bad = 0
def check(name, good):
    global ok, bad
    if good:
        ok += 1
    else:
        bad += 1
        print("FAIL: " + name)
for a in matrix:
    if a["permission"] is None:  # the console's session actions: no permission (28-console.sh)
        continue
    path = a["path"]
    for k, v in fill.items():
        path = path.replace(k, v)
    path += query.get(a["action"], "")
    body = bodies.get(a["action"], {})
    for role, allowed in a["allowed"].items():
        st, code = call(a["method"], path, tok(users[role]), body)
        if allowed:
            check("%s as %s: allowed, got %d %s" % (a["action"], role, st, code), st not in (401, 403))
        else:
            check("%s as %s: not allowed, got %d %s" % (a["action"], role, st, code), st == 403 and code == "FORBIDDEN")
    st, code = call(a["method"], path, None, body)
    check("%s without a token: got %d %s" % (a["action"], st, code), st == 401 and code == "UNAUTHENTICATED")
    st, code = call(a["method"], path, tok("eng1-score"), body)
    check("%s with a score-only token: got %d %s" % (a["action"], st, code), st == 403 and code == "FORBIDDEN")
print("matrix: %d actions x %d roles, %d passed, %d failed" % (len([a for a in matrix if a["permission"]]), len(matrix[0]["allowed"]), ok, bad))
P
cat "$T/matrix.out"
mp=$(sed -n 's/^matrix: .*, \([0-9]*\) passed.*/\1/p' "$T/matrix.out")
mf=$(sed -n 's/^matrix: .* \([0-9]*\) failed$/\1/p' "$T/matrix.out")
pass=$((pass + ${mp:-0}))
fail=$((fail + ${mf:-1}))
[ "${mp:-0}" -ge 200 ]
check "the matrix ran its checks (25 actions x (6 roles + no token + score-only token))" 0 $?

# the 403 names the role and the missing permission
st=$(api POST /v1/admin/changes/1/approve "$(cat "$T/tok.eng1")" '{}')
check "an engineer approving: 403 naming the role and permission" 403 "$st" \
    'eng1 \(engineer\) may not change.approve: the role lacks the approve permission' "$T/r"
st=$(api GET /v1/admin/changes "$(cat "$T/tok.eng1-score")")
check "a score-only token: 403 naming the scope" 403 "$st" 'lacks the admin scope' "$T/r"
st=$(api POST /v1/admin/decisions/erase "$(cat "$T/tok.mgr1")" '{"targeting_key":"u1","reason":"test"}')
check "decisions erase: an applicant with no records is 404, the key not echoed" 404 "$st" '"code":"NOT_FOUND"' "$T/r"
check "... the erase message names the applicant by hash only" 0 "$(grep -c '"u1"\|key u1' "$T/r")"

# ---- (b) no self-approval through the HTTP API
MGR1=$(cat "$T/tok.mgr1")
MGR2=$(cat "$T/tok.mgr2")
ENG=$(cat "$T/tok.eng1")
OP=$(cat "$T/tok.op1")
propose() { # TOKEN VARIANT: a flags change to the greeting's default; its id echoed
    local body
    body=$($PY -c 'import json,sys; print(json.dumps({"kind":"flags","target":sys.argv[1],"payload":sys.argv[2],"title":"greeting"}))' \
        "$FLAGS" "$(flags "$2")")
    api POST /v1/admin/changes "$1" "$body" >"$T/st"
    [ "$(cat "$T/st")" = 201 ] && jget 'j["id"]'
}
payload_json() { $PY -c 'import json,sys; print(json.dumps({"payload":sys.argv[1]}))' "$(flags "$1")"; }
A=$(propose "$MGR1" bye)
check "a manager proposes (201)" 0 $?
st=$(api POST "/v1/admin/changes/$A/approve" "$MGR1" '{}')
check "the author approving: 403" 403 "$st" 'mgr1 wrote change' "$T/r"
issue /v1/admin/users/mgr1/tokens "$ADMIN" '{"scopes":"admin"}' "$T/tok.mgr1-second"
check "a second token for the author" 0 $?
st=$(api POST "/v1/admin/changes/$A/approve" "$(cat "$T/tok.mgr1-second")" '{}')
check "the author with a second token: 403" 403 "$st" 'mgr1 wrote change' "$T/r"
st=$(api PUT "/v1/admin/changes/$A" "$MGR2" "$(payload_json x)")
check "mgr2 edits" 200 "$st"
check "the edit bumped the revision" 2 "$(jget 'j["revision"]')"
st=$(api POST "/v1/admin/changes/$A/approve" "$MGR2" '{}')
check "an approver who edited: 403" 403 "$st" 'mgr2 edited change' "$T/r"
st=$(api POST "/v1/admin/changes/$A/approve" "$(cat "$T/tok.viewer1")" '{}')
check "a viewer approving: 403" 403 "$st"
st=$(api POST "/v1/admin/changes/$A/approve" "$OP" '{"revision":1}')
check "an operator cannot approve either" 403 "$st"
st=$(api POST "/v1/admin/changes/$A/withdraw" "$MGR1" '{"reason":"replaced"}')
check "the author withdraws" 200 "$st"
st=$(api POST "/v1/admin/changes/$A/approve" "$MGR2" '{"nte":"x"}')
check "an unknown member of approve: 400" 400 "$st" 'did you mean \\"note\\"' "$T/r"

# concurrent edits and approvals: each round a new change by eng1, then at once mgr2 edits it and
# approves it, and mgr1 approves the revision it read (1) and, again, whatever is current
rounds=12
EDIT=$(payload_json x)
for i in $(seq 1 $rounds); do
    C=$(propose "$ENG" bye) || { check "round $i: propose" 0 1; continue; }
    echo "$C" >>"$T/race.ids"
    curl -s -o "$T/resp/race-e$i" -X PUT -H "Authorization: Bearer $MGR2" -H 'Content-Type: application/json' \
        --data-binary "$EDIT" "$U/v1/admin/changes/$C" &
    p1=$!
    curl -s -o "$T/resp/race-a$i" -X POST -H "Authorization: Bearer $MGR2" -H 'Content-Type: application/json' \
        -d '{}' "$U/v1/admin/changes/$C/approve" &
    p2=$!
    curl -s -o "$T/resp/race-b$i" -X POST -H "Authorization: Bearer $MGR1" -H 'Content-Type: application/json' \
        -d '{"revision":1}' "$U/v1/admin/changes/$C/approve" &
    p3=$!
    curl -s -o "$T/resp/race-c$i" -X POST -H "Authorization: Bearer $MGR1" -H 'Content-Type: application/json' \
        -d '{"note":"current"}' "$U/v1/admin/changes/$C/approve" &
    p4=$!
    wait $p1 $p2 $p3 $p4 # (not a bare wait: the server is a child too)
done
bad=0
approved=0
for C in $(cat "$T/race.ids"); do
    api GET "/v1/admin/changes/$C" "$ADMIN" >/dev/null
    api GET "/v1/admin/changes/$C" "$MGR1" >"$T/st"
    v=$($PY - "$T/r" <<'P'
import json, sys
c = json.load(open(sys.argv[1]))
eds = set(c["editors"])
apps = c["approvals"]
wrong = [a for a in apps if a["user"] in eds or a["revision"] != c["revision"]]
print("bad" if wrong or (c["state"] == "approved" and not apps) else c["state"])
P
    )
    [ "$v" = bad ] && { bad=$((bad + 1)); cat "$T/r"; echo; }
    [ "$v" = approved ] && approved=$((approved + 1))
done
check "$rounds concurrent rounds: never an approval by an editor or of another revision" 0 $bad
echo "  ($approved of $rounds rounds ended approved)"

# ---- (c) publish with require_approval = on, rollback, a hand edit
check "the greeting before" hello "$(ofrep greeting)"
P=$(propose "$ENG" bye)
check "eng1 proposes the greeting's change" 0 $?
st=$(api GET "/v1/admin/changes/$P?payload=1" "$MGR1")
check "show with its payload and diff" 200 "$st" '"diff":' "$T/r"
st=$(api POST "/v1/admin/changes/$P/publish" "$OP" '{}')
check "publishing before an approval: refused" 409 "$st"
st=$(api POST "/v1/admin/changes/$P/approve" "$MGR1" '{"revision":1,"note":"looks right"}')
check "mgr1 approves revision 1" 200 "$st"
check "approved" approved "$(jget 'j["state"]')"
st=$(api POST "/v1/admin/changes/$P/publish" "$OP" '{}')
check "op1 publishes" 200 "$st"
check "published" published "$(jget 'j["state"]')"
printf '%s' "$(flags bye)" | cmp -s "$T/flags.json" -
check "the flag file is rewritten with the change's payload" 0 $?
check "OFREP serves the new version right after the publish answer" goodbye "$(ofrep greeting)"
st=$(api GET "/v1/admin/versions?kind=flags&target=$FLAGS" "$(cat "$T/tok.viewer1")")
check "GET versions" 200 "$st" '"how":"publish"' "$T/r"
st=$(api POST /v1/admin/rollback "$MGR1" "{\"kind\":\"flags\",\"target\":\"$FLAGS\",\"reason\":\"test\"}")
check "rollback through the API" 200 "$st" '"version":[0-9]+' "$T/r"
cmp -s "$T/flags.json" "$T/flags.orig"
check "the flag file is restored" 0 $?
check "OFREP serves the old version right after the rollback answer" hello "$(ofrep greeting)"
if grep -q rd_change_served_ok src/server/*.c 2>/dev/null; then
    before=$(grep -cE 'never published|not its published version' "$T/serve.err")
    flags x >"$T/flags.hand" && mv "$T/flags.hand" "$T/flags.json"
    for _ in $(seq 1 100); do # the next poll (reload_interval_ms, 1 s) refuses it
        [ "$(grep -cE 'never published|not its published version' "$T/serve.err")" -gt "$before" ] && break
        sleep 0.05
    done
    grep -E 'never published|not its published version' "$T/serve.err" | tail -1 >"$T/out"
    check "a hand edit of the flag file is refused on reload, with a JSON log line" 0 $? '^\{"ts":.*"level":"error"' "$T/out"
    check "the published version keeps serving" hello "$(ofrep greeting)"
    cp "$T/flags.orig" "$T/flags.json"
else
    echo "skipped: require_approval reload check not on this branch"
fi
st=$(api GET /v1/admin/audit "$(cat "$T/tok.viewer1")")
check "GET audit" 200 "$st" '"action":"change.publish"|"action":"flags.publish"|publish' "$T/r"
st=$(api GET "/v1/admin/audit?from=1&limit=5" "$(cat "$T/tok.viewer1")")
check "GET audit from seq 1" 200 "$st"
check "five entries in seq order" "[1, 2, 3, 4, 5]" "$(jget '[e["seq"] for e in j]')"
st=$(api GET /v1/admin/audit/verify "$(cat "$T/tok.viewer1")")
check "GET audit/verify" 200 "$st" '"intact":true' "$T/r"
st=$(api GET "/v1/admin/changes?state=publshed" "$MGR1")
check "a misspelt state: did you mean" 400 "$st" 'did you mean published' "$T/r"
st=$(api GET "/v1/admin/changes?state=published&limt=3" "$MGR1")
check "an unknown parameter: did you mean" 400 "$st" 'did you mean limit' "$T/r"
st=$(api PUT /v1/admin/settings "$ADMIN" '{"approvals":{"flags":2}}')
check "settings: two approvals for flags" 200 "$st" '"approvals":\{"flags":2,"bundle":1,"rollout":1\}' "$T/r"
st=$(api PUT /v1/admin/settings "$ADMIN" '{"approvals":{"flag":2}}')
check "settings: a misspelt kind" 400 "$st" 'did you mean flags' "$T/r"
api PUT /v1/admin/settings "$ADMIN" '{"approvals":{"flags":1}}' >/dev/null

# a decision, read back with view_decisions (and audited)
curl -s -o "$T/r" -H 'Content-Type: application/json' -d '{"request_id":"dec-1","features":{"age":30,"home":"own"}}' \
    "$U/v1/score"
st=$(api GET "/v1/admin/decisions?request_id=dec-1" "$(cat "$T/tok.analyst1")")
check "an analyst reads a decision" 200 "$st" '"request_id":"dec-1"' "$T/r"
st=$(api GET "/v1/admin/decisions" "$(cat "$T/tok.analyst1")")
check "decisions without a filter: 400" 400 "$st"
# newest first, a page at a time through the cursor; replayed from what was kept
for id in dec-2 dec-3; do
    curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"request_id\":\"$id\",\"features\":{\"age\":41,\"home\":\"rent\"}}" \
        "$U/v1/score"
done
AN=$(cat "$T/tok.analyst1")
st=$(api GET "/v1/admin/decisions?order=newest&limit=1" "$AN")
check "the latest decision, newest first" 200 "$st" '^\{"decisions":\[\{.*"request_id":"dec-3".*\],"next":"[0-9]+\.[0-9]+"\}$' "$T/r"
next=$(jget 'j["next"]')
st=$(api GET "/v1/admin/decisions?order=newest&limit=1&before=$next" "$AN")
check "the page after it, through the cursor" 200 "$st" '"request_id":"dec-2"' "$T/r"
st=$(api GET "/v1/admin/audit?limit=1" "$(cat "$T/tok.viewer1")")
check "the page's read is audited with its cursor and the rows it sent" 200 "$st" \
    "\"detail\":\\{\"before\":\"$next\",\"count\":1,\"first\":\"[0-9]+\\.[0-9]+\",\"from_ms\":0,\"last\":\"[0-9]+\\.[0-9]+\",\"order\":\"newest\"" "$T/r"
st=$(api GET "/v1/admin/decisions?order=newest&before=%201.5" "$AN")
check "a cursor with a space: 400" 400 "$st" 'digits' "$T/r"
st=$(api GET "/v1/admin/decisions?order=newest&request_id=dec-1" "$AN")
check "newest first narrowed to a request: the last page says so" 200 "$st" '"request_id":"dec-1".*"next":null\}$' "$T/r"
st=$(api GET "/v1/admin/decisions?order=oldest" "$AN")
check "an unknown order: 400" 400 "$st" 'expected newest or log' "$T/r"
st=$(api GET "/v1/admin/decisions?request_id=dec-1&before=1.2" "$AN")
check "a cursor without order=newest: 400" 400 "$st" 'order=newest' "$T/r"
st=$(api GET "/v1/admin/decisions?order=newest&before=12" "$AN")
check "a malformed cursor: 400" 400 "$st" 'MS.ID' "$T/r"
st=$(api POST /v1/admin/decisions/replay "$AN" '{"request_id":"dec-1"}')
check "a decision replayed through the API: identical" 200 "$st" '^\{"request_id":"dec-1","results":\[\{"kind":"primary".*"identical":true,"truncated":false\}$' "$T/r"
st=$(api POST /v1/admin/decisions/replay "$AN" '{"request_id":"nobody"}')
check "replaying a request the log does not hold: 404" 404 "$st" 'nobody' "$T/r"
st=$(api POST /v1/admin/decisions/replay "$AN" '{"request":"dec-1"}')
check "replay: a misspelt member" 400 "$st" 'request_id' "$T/r"
st=$(api POST /v1/admin/decisions/replay "$(cat "$T/tok.viewer1")" '{"request_id":"dec-1"}')
check "a viewer may not replay (applicants' inputs)" 403 "$st"
st=$(api GET "/v1/admin/audit?limit=5" "$(cat "$T/tok.viewer1")")
check "the replay is audited" 200 "$st" '"action":"decisions.replay"' "$T/r"

# what this node serves, for the console: the flag set, the bundles with their manifests, the node
VW=$(cat "$T/tok.viewer1")
st=$(api GET /v1/admin/flags "$VW")
check "flags.show: the flag set's document" 200 "$st" '^\{"id":".*","etag":"\\".*"document":\{' "$T/r"
check "... the file as it serves" "$(jget 'sorted(j["document"]["flags"])')" \
    "$($PY -c "import json; print(sorted(json.load(open('$FLAGS'))['flags']))")"
st=$(api GET /v1/admin/bundles "$VW")
check "bundles.list: breakers and manifests" 200 "$st" '"breaker":"closed".*"manifest":\{"product":' "$T/r"
check "... each file's SHA-256" 0 "$(jget '0 if all(len(h) == 64 for b in j for h in b["manifest"]["files"].values()) else 1')"
st=$(api GET /v1/admin/node "$VW")
check "node.show" 200 "$st" '"version":"[0-9]+\.[0-9]+\.[0-9]+".*"log":\{"submitted":[1-9]' "$T/r"
st=$(api GET "/v1/admin/node?x=1" "$VW")
check "node.show takes no parameter" 400 "$st"
st=$(api GET /v1/admin/monitor "$VW")
check "monitor.show: the window, the total and rates over time per series" 200 "$st" \
    '"series":\[\{"window":.*"total":.*"history":\[.*"history_bucket_s":60' "$T/r"
st=$(api GET /v1/admin/rollouts/credit-model-route/transitions "$VW")
check "the transitions of a flag no rollout runs: 404" 404 "$st"

# token revocation and a disabled user take effect at once
issue /v1/admin/users/viewer1/tokens "$ADMIN" '{}' "$T/tok.viewer1-b"
VB=$(cat "$T/tok.viewer1-b")
check "a second viewer token works" 200 "$(api GET /v1/admin/changes "$VB")"
TID=$(cut -c5-16 "$T/tok.viewer1-b")
st=$(api POST "/v1/admin/tokens/$TID/revoke" "$ADMIN" '{}')
check "revoke it" 200 "$st" '"revoked":true' "$T/r"
st=$(api GET /v1/admin/changes "$VB")
check "the revoked token: 401" 401 "$st" 'revoked' "$T/r"
st=$(api POST /v1/admin/users/analyst1/disable "$ADMIN" '{}')
check "disable analyst1" 200 "$st" '"disabled":true' "$T/r"
st=$(api GET /v1/admin/changes "$(cat "$T/tok.analyst1")")
check "a disabled user's token: 401" 401 "$st" 'disabled' "$T/r"
st=$(api POST /v1/admin/users/analyst1/disable "$ADMIN" '{"disabled":false}')
check "enable analyst1 again" 200 "$st" '"disabled":false' "$T/r"

curl -s "$U/metrics" >"$T/metrics.1"
grep -q '^riskd_admin_requests_total{action="change.approve",code="403"} [1-9]' "$T/metrics.1"
check "metrics: admin requests by action and code" 0 $?
grep -q '^riskd_auth_failures_total{reason="missing"} [1-9]' "$T/metrics.1"
check "metrics: authentication failures by reason" 0 $?
grep -q 'Authorization\|authorization' "$T/serve.err"
check "the access log has no Authorization header" 1 $?
grep -q '"msg":"request".*"/v1/admin/' "$T/serve.err"
check "the access log is on (so the leak check below means something)" 0 $?
stop
check "stopped" 0 $?
cp "$T/serve.err" "$T/serve.err.1"

# ---- (d) auth = on: outcomes, pinning, auth_scoring
start --flags "$T/flags.json" --bundles "$T/bundles" --auth --allow-pinning on --log-durability ack || exit 1
issue /v1/admin/users "$ADMIN" '{"name":"svc","role":"viewer","scopes":"score"}' "$T/tok.svc"
check "a service user with the score scope" 0 $?
issue /v1/admin/users/svc/tokens "$ADMIN" '{"scopes":"outcomes"}' "$T/tok.svc-outcomes"
check "an outcomes token" 0 $?
issue /v1/admin/users/svc/tokens "$ADMIN" '{"scopes":"score,pin"}' "$T/tok.svc-pin"
check "a pin token" 0 $?
SVC=$(cat "$T/tok.svc")
OUT='[{"request_id":"dec-1","outcome":"dpd30","label":1}]'
check "outcomes without a token: 401" 401 "$(api POST /v1/outcomes '' "$OUT")"
check "outcomes with a score-only token: 403" 403 "$(api POST /v1/outcomes "$SVC" "$OUT")"
grep -q 'lacks the outcomes scope' "$T/r"
check "the 403 names the scope" 0 $?
check "outcomes with the outcomes scope: 200" 200 "$(api POST /v1/outcomes "$(cat "$T/tok.svc-outcomes")" "$OUT")"
SCORE='{"request_id":"p-1","features":{"age":30,"home":"own"}}'
PIN='{"request_id":"p-2","bundle":"demo_lr_v1.1","features":{"age":30,"home":"own"}}'
check "scoring needs no token (auth_scoring off)" 200 "$(api POST /v1/score '' "$SCORE")"
check "pinning without a token: 401" 401 "$(api POST /v1/score '' "$PIN")"
check "pinning with a score token: 403" 403 "$(api POST /v1/score "$SVC" "$PIN")"
check "pinning with the pin scope: 200" 200 "$(api POST /v1/score "$(cat "$T/tok.svc-pin")" "$PIN")"
grep -q '"model_version":"demo_lr_v1.1"\|demo_lr_v1.1' "$T/r"
check "the pinned bundle answered" 0 $?
grep -q '"msg":"pinned score request","user":"svc".*"request_id":"p-2","bundle":"demo_lr_v1.1"' "$T/serve.err"
check "a pinned request is logged with its user" 0 $?
st=$(api POST /v1/score/batch '' "[$SCORE,$PIN]")
check "a batch with a pinned row, no token: 200" 200 "$st"
check "... the pinned row refused 401, the other decided" "UNAUTHENTICATED 1" \
    "$(jget 'j["results"][1]["error"]["code"] + " " + str(j["errors"])')"
missing() { curl -s "$U/metrics" | awk '$1 == "riskd_auth_failures_total{reason=\"missing\"}" { print $2 }'; }
m0=$(missing)
st=$(api POST /v1/score/batch '' "[$PIN,$PIN,$PIN]")
check "three pinned rows without a token: each refused" "200 3" "$st $(jget 'j["errors"]')"
check "... one failed authentication counted, not three" 1 $(($(missing) - m0))
stop
cp "$T/serve.err" "$T/serve.err.2"

start --flags "$T/flags.json" --bundles "$T/bundles" --auth || exit 1
check "allow_pinning auto is off with auth: 403 even with the pin scope" 403 \
    "$(api POST /v1/score "$(cat "$T/tok.svc-pin")" "$PIN")"
grep -q 'allow_pinning = auto' "$T/r"
check "... saying why" 0 $?
stop
cp "$T/serve.err" "$T/serve.err.3"

"$BIN" serve --flags "$T/flags.json" --auth-scoring --check-config >"$T/out" 2>&1
check "auth_scoring without auth is refused" 1 $? 'auth_scoring needs auth' "$T/out"
"$BIN" serve --flags "$T/flags.json" --allow-pinning maybe --check-config >"$T/out" 2>&1
check "allow_pinning must be on, off or auto" 1 $? 'allow_pinning must be on, off or auto' "$T/out"

start --flags "$T/flags.json" --bundles "$T/bundles" --auth --auth-scoring || exit 1
check "auth_scoring: score without a token 401" 401 "$(api POST /v1/score '' "$SCORE")"
check "auth_scoring: score with an outcomes token 403" 403 "$(api POST /v1/score "$(cat "$T/tok.svc-outcomes")" "$SCORE")"
check "auth_scoring: score with the score scope 200" 200 "$(api POST /v1/score "$SVC" "$SCORE")"
check "auth_scoring: batch without a token 401" 401 "$(api POST /v1/score/batch '' "[$SCORE]")"
check "auth_scoring: OFREP without a token 401" 401 "$(api POST /ofrep/v1/evaluate/flags/greeting '' '{}')"
check "auth_scoring: OFREP with the score scope" hello "$(ofrep greeting "$SVC")"
check "auth_scoring: OFREP bulk with the score scope 200" 200 "$(api POST /ofrep/v1/evaluate/flags "$SVC" '{}')"
for p in /health /ready /metrics; do
    check "$p stays open" 200 "$(api GET $p '')"
done
# the hot path: a token is checked against the store once, then taken from the cache (for 5 s)
checks() { curl -s "$U/metrics" | awk '$1 == "riskd_auth_store_checks_total" { print $2 }'; }
c0=$(checks)
ok=0
for _ in $(seq 1 40); do [ "$(api POST /v1/score "$SVC" "$SCORE")" = 200 ] && ok=$((ok + 1)); done
c1=$(checks)
check "40 scored requests with one token" 40 $ok
[ -n "$c0" ] && [ $((c1 - c0)) -le 1 ]
check "... checked against the store $((c1 - c0)) time(s) (the cache), not 40" 0 $?
# a revocation through the API reaches the scoring side's cache at once
issue /v1/admin/users/svc/tokens "$ADMIN" '{"scopes":"score"}' "$T/tok.svc-b"
SB=$(cat "$T/tok.svc-b")
check "a new score token works" 200 "$(api POST /v1/score "$SB" "$SCORE")"
api POST "/v1/admin/tokens/$(cut -c5-16 "$T/tok.svc-b")/revoke" "$ADMIN" '{}' >/dev/null
check "revoked: refused at once, the cache notwithstanding" 401 "$(api POST /v1/score "$SB" "$SCORE")"
stop
cp "$T/serve.err" "$T/serve.err.4"

# ---- (e) more than auth_max_failures bad tokens from 127.0.0.1 in a minute
# The limiter refuses a limited source before looking at its token, so the good token is
# refused too (429) until the minute ends; this runs last, on a server of its own.
# (Right at a minute's end the counts would start again: wait past it when it is near.)
[ $(($(date +%s) % 60)) -ge 55 ] && sleep $((61 - $(date +%s) % 60))
start --flags "$T/flags.json" --auth-max-failures 5 || exit 1
BAD=rdk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
for i in 1 2 3 4 5; do
    check "bad token $i: 401" 401 "$(api GET /v1/admin/users "$BAD")"
done
check "the sixth bad token: 429" 429 "$(api GET /v1/admin/users "$BAD")"
grep -q TOO_MANY_ATTEMPTS "$T/r"
check "... TOO_MANY_ATTEMPTS" 0 $?
curl -s -D "$T/h" -o /dev/null -H "Authorization: Bearer $BAD" "$U/v1/admin/users"
grep -qiE '^Retry-After: [0-9]+' "$T/h"
check "429 says Retry-After" 0 $?
check "a good token from the limited address: 429 as well" 429 "$(api GET /v1/admin/users "$ADMIN")"
curl -s "$U/metrics" >"$T/metrics.2"
grep -q '^riskd_auth_failures_total{reason="rate_limited"} [1-9]' "$T/metrics.2"
check "metrics: rate_limited counted" 0 $?
stop
check "stopped (the limiter's minute audited on the way out)" 0 $?
cp "$T/serve.err" "$T/serve.err.5"
start --flags "$T/flags.json" || exit 1
st=$(api GET "/v1/admin/audit?limit=1000" "$(cat "$T/tok.viewer1")")
check "audit list after the failures" 200 "$st"
check "an auth.failed entry for 127.0.0.1 with 5 failures and refusals" yes "$(jget '"yes" if any(e["action"] == "auth.failed" and e["object"] == "source/127.0.0.1" and e["detail"]["failures"] >= 5 and e["detail"]["refused"] >= 1 for e in j) else json.dumps([e for e in j if e["action"] == "auth.failed"])')"
cp "$T/r" "$T/audit.json"
curl -s "$U/metrics" >"$T/metrics.3"
stop
cp "$T/serve.err" "$T/serve.err.6"

# ---- (f) no token, nor a token's secret, anywhere it does not belong
AUDIT=$T/audit.json
if "$BIN" audit --help >/dev/null 2>&1; then
    "$BIN" audit export --format jsonl --data-dir "$D" >"$T/audit.jsonl" 2>"$T/out" && AUDIT=$T/audit.jsonl
fi
cat "$T"/tok.* | sort -u >"$T/all-tokens"
nt=$(wc -l <"$T/all-tokens")
[ "$nt" -ge 10 ]
check "$nt tokens to look for" 0 $?
hits=0
while read -r tok; do
    secret=${tok:17}
    for pat in "$tok" "$secret"; do
        h=$(cat "$T"/serve.err* "$AUDIT" "$T"/metrics.* | grep -cF -- "$pat")
        h2=$(grep -rlF -- "$pat" "$T/resp" | wc -l)
        hits=$((hits + h + h2))
        [ $((h + h2)) -gt 0 ] && echo "LEAK: ${tok:0:16}... in $(grep -rlF -- "$pat" "$T/resp" "$T"/serve.err* "$AUDIT" "$T"/metrics.* | head -3)"
    done
done <"$T/all-tokens"
check "no token nor secret in the log, the audit chain, $(find "$T/resp" -type f | wc -l) response bodies or /metrics" 0 "$hits"
grep -lF "$(cat "$T/tok.eng1")" "$T"/issued/* >/dev/null
check "(the issuing responses do hold them: the check can see a token)" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
