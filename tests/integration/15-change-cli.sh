#!/usr/bin/env bash
# riskd change / rollback / flags export --git end to end on a data directory: users made with
# riskd user; a flag change proposed by an engineer (its id alone on stdout), shown with its
# diff, refused to its author, to an editor and to a second token of the same manager,
# approved by another manager, published by an operator (the file now holds the new bytes),
# rolled back by the operator alone (the old bytes again, audited); the refusals (a file that
# does not parse, a draft, a stale revision, a file edited by hand since the proposal); the
# Git export (a commit and a tag per version, the bytes of each). Then the HTTP side against
# a stand-in server that answers as the admin API contract says (the request bodies, the
# bearer token, the exit code of each error status), and a real server when it has the admin
# API.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
skipped=0
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # not a version manager's shim: 2 s a start on a busy machine
skip() {
    echo "skipped: $1"
    skipped=$((skipped + 1))
}

D=$T/data
F=$T/flags.json
cat >"$F" <<'J'
{"flags":{
  "credit-cutoff":{"state":"ENABLED","variants":{"strict":600,"loose":560},"defaultVariant":"strict"},
  "old-banner":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}
}}
J
cp "$F" "$T/v0.json"
cat >"$T/v1.json" <<'J'
{"flags":{
  "credit-cutoff":{"state":"ENABLED","variants":{"strict":600,"loose":560},"defaultVariant":"loose"},
  "new-ui":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}
}}
J
sed 's/"loose"}/"loose","metadata":{"owner":"risk"}}/' "$T/v1.json" >"$T/v1b.json"
sed 's/"defaultVariant":"on"/"defaultVariant":"off"/' "$T/v1.json" >"$T/v2.json"

# ---------------------------------------------------------------- usage
"$BIN" --help >"$T/out" 2>&1; check "riskd --help lists change" 0 $? "change +change requests" "$T/out"
check "riskd --help lists rollback" 0 0 "rollback +put a served file back" "$T/out"
"$BIN" change --help >"$T/out" 2>&1; check "change --help" 0 $? "propose +--flags NEW.json" "$T/out"
for c in propose edit submit withdraw approve reject publish list show versions settings; do
    "$BIN" change $c --help >"$T/out" 2>&1; check "change $c --help" 0 $? "usage: riskd change $c" "$T/out"
done
"$BIN" rollback --help >"$T/out" 2>&1; check "rollback --help" 0 $? "usage: riskd rollback" "$T/out"
"$BIN" flags export --help >"$T/out" 2>&1; check "flags export --help" 0 $? "flags/vN" "$T/out"
"$BIN" change >"$T/out" 2>&1; check "change without a command" 2 $? "usage" "$T/out"
"$BIN" change frob >"$T/out" 2>&1; check "change frob" 2 $? 'unknown command "frob"' "$T/out"
"$BIN" change show 1 >"$T/out" 2>&1; check "neither --server nor --data-dir" 2 $? "give --server URL" "$T/out"
"$BIN" change show 1 --server http://x --data-dir "$D" >"$T/out" 2>&1; check "both" 2 $? "not both" "$T/out"
"$BIN" change show --data-dir "$D" >"$T/out" 2>&1; check "show without an id" 2 $? "give its ID" "$T/out"
"$BIN" change approve 1 --title x --data-dir "$D" >"$T/out" 2>&1
check "an option of another command" 2 $? "--title does not apply" "$T/out"
"$BIN" change approve 1 --revision two --data-dir "$D" >"$T/out" 2>&1
check "--revision not a number" 2 $? "--revision must be a positive number" "$T/out"
"$BIN" change reject 1 --data-dir "$D" >"$T/out" 2>&1; check "reject without a reason" 2 $? "--reason" "$T/out"
"$BIN" change settings --approvals flags=9 --data-dir "$D" >"$T/out" 2>&1
check "settings: out of range" 2 $? 'flags=9" is not KIND=N' "$T/out"
"$BIN" change list --limit 0 --data-dir "$D" >"$T/out" 2>&1; check "--limit 0" 2 $? "from 1 to 10000" "$T/out"

# ---------------------------------------------------------------- users
"$BIN" user add admin1 --role admin --data-dir "$D" >"$T/admin1.tok" 2>"$T/err"
check "the first admin" 0 $?
grep -qE '^rdk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$' "$T/admin1.tok"; check "its token alone on stdout" 0 $?
for u in erin:engineer mia:manager noor:manager oscar:operator; do
    "$BIN" user add "${u%%:*}" --role "${u##*:}" --data-dir "$D" --token-file "$T/admin1.tok" >"$T/${u%%:*}.tok" 2>"$T/err"
    check "user ${u%%:*} (${u##*:})" 0 $?
done
"$BIN" user token mia --data-dir "$D" --token-file "$T/admin1.tok" >"$T/mia2.tok" 2>"$T/err"
check "a second token of mia" 0 $?
as() { # USER riskd-args...: run as USER (the token file $T/USER.tok), output in $T/out
    local who=$1
    shift
    "$BIN" "$@" --data-dir "$D" --token-file "$T/$who.tok" >"$T/out" 2>&1
}

# ---------------------------------------------------------------- propose, show
"$BIN" change propose --flags "$T/v1.json" --target "$F" --title "loosen the cut-off" --data-dir "$D" \
    --token-file "$T/erin.tok" >"$T/id" 2>"$T/err"
check "erin proposes" 0 $?
grep -qxE '[0-9]+' "$T/id"; check "the id alone on stdout" 0 $?
id=$(cat "$T/id")
cmp -s "$F" "$T/v0.json"; check "a proposal changes nothing yet" 0 $?
as erin change show "$id"; check "show" 0 $? "^change $id: flags, proposed, revision 1" "$T/out"
check "show: the title" 0 0 "title +loosen the cut-off" "$T/out"
check "show: approvals" 0 0 "approvals +0 of 1" "$T/out"
check "show: the changed flag, and what of it" 0 0 '~ credit-cutoff \(changed: defaultVariant\)$' "$T/out"
check "show: its before" 0 0 'before: .*"defaultVariant":"strict"' "$T/out"
check "show: its after" 0 0 'after: .*"defaultVariant":"loose"' "$T/out"
check "show: the added flag" 0 0 '\+ new-ui \(added\)' "$T/out"
check "show: the removed flag" 0 0 '- old-banner \(removed\)' "$T/out"
"$BIN" change show "$id" --json --payload --data-dir "$D" >"$T/out" 2>&1
check "show --json (no token: reading needs the data directory only)" 0 $?
$PY - "$T/out" "$T/v1.json" <<'P' >"$T/py" 2>&1
import json, sys
c = json.load(open(sys.argv[1]))
assert c["state"] == "proposed" and c["author"] == "erin" and c["revision"] == 1, c
assert c["diff"]["changed"]["credit-cutoff"]["after"]["defaultVariant"] == "loose", c["diff"]
assert c["diff"]["added"] == ["new-ui"] and c["diff"]["removed"] == ["old-banner"], c["diff"]
assert c["payload"] == open(sys.argv[2]).read()
print("json ok")
P
check "show --json: state, diff, payload" 0 $? "json ok" "$T/py"
as erin change list; check "list" 0 $? "^$id +flags +proposed +1 +0/1 +erin .*loosen the cut-off" "$T/out"
as erin change list --state published; check "list --state published: none" 0 $? "no change requests" "$T/out"

# ---------------------------------------------------------------- nobody approves their own change
as erin change approve "$id"; check "an engineer cannot approve" 7 $? "erin .*approve.*FORBIDDEN" "$T/out"
as noor change edit "$id" --flags "$T/v1b.json"; check "noor edits" 0 $? "is proposed \(revision 2" "$T/out"
as noor change approve "$id"; check "the editor cannot approve" 7 $? "noor edited change $id and may not approve" "$T/out"
as mia change approve "$id" --revision 1; check "a stale --revision" 1 $? "edited after you read it.*CONFLICT" "$T/out"
as mia change approve "$id" --revision 2 --note "reviewed"
check "mia approves" 0 $? "change $id is approved \(revision 2, 1 of 1 approvals\)" "$T/out"
as mia change approve "$id"; check "approving an approved change" 1 $? "CONFLICT" "$T/out"

"$BIN" change propose --flags "$T/v2.json" --target "$F" --data-dir "$D" --token-file "$T/mia.tok" >"$T/id2" 2>"$T/err"
check "mia proposes" 0 $?
id2=$(cat "$T/id2")
as mia change approve "$id2"; check "the author cannot approve" 7 $? "mia wrote change $id2 and may not approve it" "$T/out"
as mia2 change approve "$id2"; check "nor with a second token" 7 $? "mia wrote change $id2.*FORBIDDEN" "$T/out"
as mia change withdraw "$id2" --reason "later"; check "mia withdraws it" 0 $? "is withdrawn" "$T/out"

# ---------------------------------------------------------------- publish
as erin change publish "$id"; check "an engineer cannot publish" 7 $? "FORBIDDEN" "$T/out"
as oscar change publish "$id"; check "oscar publishes" 0 $? "^published change $id as version 1$" "$T/out"
cmp -s "$F" "$T/v1b.json"; check "the flag file holds the new bytes" 0 $?
as oscar change versions; check "versions" 0 $? "^flags +1 +publish +$id +erin +mia +oscar " "$T/out"
as oscar change publish "$id"; check "publishing twice" 1 $? "is published.*CONFLICT" "$T/out"

# ---------------------------------------------------------------- refusals
printf '{"flags": {' >"$T/trunc.json"
as erin change propose --flags "$T/trunc.json" --target "$F"; check "a file that does not parse" 1 $? \
    "would be refused: line 1, column .*INVALID_ARGUMENT" "$T/out"
echo '{"flags":{"x":{"state":"ENABLED","variants":{"a":1},"defaultVariant":"b"}}}' >"$T/schema.json"
as erin change propose --flags "$T/schema.json" --target "$F"; check "a file that fails the flagd schema" 1 $? \
    'would be refused: flags.x.defaultVariant' "$T/out"
as erin change propose --flags "$T/v1b.json" --target "$F"; check "the file in force" 1 $? "nothing to change" "$T/out"
as erin change propose --flags "$T/none.json" --target "$F"; check "a missing file" 4 $? "none.json" "$T/out"
"$BIN" change propose --flags "$T/v2.json" --target "$F" --draft --data-dir "$D" --token-file "$T/erin.tok" \
    >"$T/id3" 2>"$T/err"
check "a draft" 0 $?
id3=$(cat "$T/id3")
as mia change approve "$id3"; check "approving a draft" 1 $? "is a draft: its author submits it first" "$T/out"
as erin change submit "$id3"; check "erin submits" 0 $? "is proposed" "$T/out"
as mia change approve "$id3"; check "mia approves the submitted one" 0 $? "is approved" "$T/out"
cp "$F" "$T/keep.json"
echo " " >>"$F"
as oscar change publish "$id3"; check "publish after a hand edit" 1 $? "propose it again" "$T/out"
grep -q '^ $' "$F"; check "the hand-edited file is left alone" 0 $?
cp "$T/keep.json" "$F"
as oscar change publish "$id3"; check "publish once the file is back" 0 $? "as version 2$" "$T/out"
cmp -s "$F" "$T/v2.json"; check "version 2 serves" 0 $?
as noor change reject "$id3" --reason x; check "rejecting a published change" 1 $? "CONFLICT" "$T/out"

# ---------------------------------------------------------------- rollback
as erin rollback --target "$F"; check "an engineer cannot roll back" 7 $? "roll back.*FORBIDDEN" "$T/out"
as oscar rollback --target "$F" --reason "bad cut-off"
check "oscar rolls back alone" 0 $? "^rolled back flags .*flags.json: now version 3$" "$T/out"
cmp -s "$F" "$T/v1b.json"; check "the file is back to version 1's bytes" 0 $?
as oscar rollback --target "$F" --to 1; check "already there" 1 $? "already holds that version" "$T/out"
"$BIN" change versions --json --data-dir "$D" >"$T/versions.json" 2>&1
check "versions --json" 0 $?
$PY -c "import json,sys; v=json.load(open('$T/versions.json')); assert [x['how'] for x in v]==['rollback','publish','publish'], v; print('ok')" >"$T/py" 2>&1
check "versions: rollback, publish, publish" 0 $? ok "$T/py"

if "$BIN" audit --help >/dev/null 2>&1; then
    "$BIN" audit export --format jsonl --data-dir "$D" >"$T/audit.jsonl" 2>"$T/err"
    check "audit export" 0 $?
    grep -q '"action":"version.rollback"' "$T/audit.jsonl"; check "the rollback is audited" 0 $?
    grep -q '"action":"change.publish"' "$T/audit.jsonl"; check "the publish is audited" 0 $?
    grep -q '"action":"change.approve"' "$T/audit.jsonl"; check "the approval is audited" 0 $?
    "$BIN" audit verify --data-dir "$D" >"$T/out" 2>&1
    check "audit verify" 0 $?
else
    skip "riskd audit is not in this build: the audit entries are not checked from the command line"
fi

# ---------------------------------------------------------------- settings
as mia change settings --approvals flags=2; check "a manager cannot set the approvals" 7 $? "FORBIDDEN" "$T/out"
as admin1 change settings --approvals flags=2,rollout=1
check "the admin sets them" 0 $? "approvals required: flags=2 bundle=1 rollout=1" "$T/out"
"$BIN" change settings --data-dir "$D" >"$T/out" 2>&1; check "settings shown" 0 $? "flags=2" "$T/out"
"$BIN" change propose --flags "$T/v2.json" --target "$F" --data-dir "$D" --token-file "$T/erin.tok" >"$T/id4" 2>&1
id4=$(cat "$T/id4")
as mia change approve "$id4"; check "one of two approvals" 0 $? "is proposed \(revision 1, 1 of 2 approvals\)" "$T/out"
as oscar change publish "$id4"; check "publish with one of two" 1 $? "only an approved change" "$T/out"
as noor change approve "$id4"; check "two of two" 0 $? "is approved \(revision 1, 2 of 2" "$T/out"
as noor change publish "$id4"; check "a manager publishes" 0 $? "as version 4$" "$T/out"

# ---------------------------------------------------------------- Git export
G=$T/git
"$BIN" flags export --git "$G" --data-dir "$D" --target "$F" >"$T/out" 2>&1
check "flags export --git" 0 $? "^added 4 versions to " "$T/out"
n=$($PY -c "import json; print(len([v for v in json.load(open('$T/versions.json'))]) + 1)")
[ "$(git -C "$G" tag -l 'flags/*' | wc -l)" = "$n" ]; check "a tag per version ($n)" 0 $?
[ "$(git -C "$G" rev-list --count HEAD)" = "$n" ]; check "a commit per version" 0 $?
git -C "$G" show flags/v1:flags.json | cmp -s - "$T/v1b.json"; check "flags/v1 holds version 1's bytes" 0 $?
git -C "$G" show flags/v2:flags.json | cmp -s - "$T/v2.json"; check "flags/v2 holds version 2's bytes" 0 $?
git -C "$G" show flags/v3:flags.json | cmp -s - "$T/v1b.json"; check "flags/v3 (the rollback)" 0 $?
git -C "$G" show flags/v4:flags.json | cmp -s - "$F"; check "flags/v4 is what serves" 0 $?
git -C "$G" log -1 --format=%B flags/v1 >"$T/msg"
check "v1's message: the change" 0 0 "change-request: $id" "$T/msg"
check "v1's message: the author" 0 0 "author: erin" "$T/msg"
check "v1's message: the approver" 0 0 "approved-by: mia" "$T/msg"
check "v1's message: the publisher" 0 0 "published-by: oscar" "$T/msg"
git -C "$G" log -1 --format=%B flags/v4 >"$T/msg"; check "v4: both approvers" 0 0 "approved-by: mia,noor" "$T/msg"
git -C "$G" log -1 --format=%B flags/v3 >"$T/msg"; check "v3: a rollback by oscar" 0 0 "rollback by oscar" "$T/msg"
"$BIN" flags export --git "$G" --data-dir "$D" --target "$F" >"$T/out" 2>&1
check "again: nothing added" 0 $? "^added 0 versions to " "$T/out"
"$BIN" flags export --data-dir "$D" >"$T/out" 2>&1; check "export without --git" 2 $? "--git DIR" "$T/out"
"$BIN" flags export --git "$T/g2" --data-dir "$D" --target "$T/v0.json" >"$T/out" 2>&1
check "export of a file never published" 1 $? "no published version" "$T/out"

# ---------------------------------------------------------------- HTTP: a stand-in for the admin API
# It answers by path as the contract says, and logs each request (method, path, the
# Authorization header, the body) as a JSON line.
cat >"$T/mock.py" <<'P'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
log = open(sys.argv[1], "a")
SHOW = {"id": 42, "kind": "flags", "target": "/srv/flags.json", "state": "proposed", "title": "t", "author": "erin",
        "revision": 1, "created_ms": 1, "updated_ms": 1, "base_sha256": "", "payload_sha256": "", "editors": ["erin"],
        "approvals": [], "approvals_required": 1, "history": [], "version": 0, "published_ms": 0,
        "published_by": "", "diff": {"added": [], "removed": [], "changed": {}}}
def err(status, code, msg):
    return status, {"error": {"code": code, "message": msg}}
ROUTES = {
    ("POST", "/v1/admin/changes"): (201, SHOW),
    ("POST", "/v1/admin/changes/42/approve"): err(403, "FORBIDDEN", "mia wrote change 42 and may not approve it: a second person must"),
    ("POST", "/v1/admin/changes/42/publish"): err(409, "CONFLICT", "change 42 was made against another version: propose it again on the current one"),
    ("POST", "/v1/admin/changes/42/submit"): err(401, "UNAUTHENTICATED", "unknown token"),
    ("POST", "/v1/admin/changes/42/reject"): err(404, "NOT_FOUND", "change 42: no such change"),
    ("POST", "/v1/admin/changes/42/withdraw"): (200, dict(SHOW, state="withdrawn")),
    ("GET", "/v1/admin/changes/42"): (200, SHOW),
    ("GET", "/v1/admin/changes/500"): err(500, "IO_ERROR", "the store is away"),
    ("POST", "/v1/admin/rollback"): (200, {"kind": "flags", "target": "/srv/flags.json", "version": 7}),
    ("PUT", "/v1/admin/settings"): (200, {"approvals": {"flags": 2, "bundle": 1, "rollout": 1}}),
}
class H(BaseHTTPRequestHandler):
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        path = self.path
        log.write(json.dumps({"method": self.command, "path": path, "auth": self.headers.get("Authorization"),
                              "ctype": self.headers.get("Content-Type"), "body": body}) + "\n")
        log.flush()
        base = path.split("?")[0]
        if base == "/v1/admin/changes" and self.command == "GET":
            status, out = 200, [SHOW]
        elif base == "/v1/admin/versions":
            status, out = 200, []
        else:
            status, out = ROUTES.get((self.command, base), err(404, "NOT_FOUND", "no route"))
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_PUT = handle_one
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
P
: >"$T/requests.jsonl"
$PY "$T/mock.py" "$T/requests.jsonl" >"$T/mock.port" 2>"$T/mock.err" &
MOCK=$!
for _ in $(seq 1 100); do [ -s "$T/mock.port" ] && break; sleep 0.05; done
M=http://127.0.0.1:$(cat "$T/mock.port")
echo "rdk_0123456789ab_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ" >"$T/http.tok"
hs() { # riskd-args...: against the stand-in, output in $T/out
    "$BIN" "$@" --server "$M" --token-file "$T/http.tok" >"$T/out" 2>&1
}
last() { # PYTHON-EXPRESSION on r, the last request: passes when it holds
    $PY -c "import json,sys; r=[json.loads(l) for l in open('$T/requests.jsonl')][-1]; b=json.loads(r['body']) if r['body'] else None; assert $1, r; print('ok')" >"$T/py" 2>&1
}
hs change propose --flags "$T/v1.json" --target /srv/flags.json --title "t t"
check "HTTP propose: the id alone" 0 $? "^42$" "$T/out"
last "r['method']=='POST' and r['path']=='/v1/admin/changes' and b=={'kind':'flags','target':'/srv/flags.json','payload':open('$T/v1.json').read(),'title':'t t','draft':False}"
check "HTTP propose: the body" 0 $? ok "$T/py"
last "r['auth']=='Bearer '+open('$T/http.tok').read().strip() and r['ctype']=='application/json'"
check "HTTP: the bearer token, JSON" 0 $? ok "$T/py"
hs change approve 42 --revision 3 --note "fine"; check "HTTP 403" 7 $? \
    "^riskd: mia wrote change 42 and may not approve it: a second person must \(FORBIDDEN\)$" "$T/out"
last "r['path']=='/v1/admin/changes/42/approve' and b=={'revision':3,'note':'fine'}"
check "HTTP approve: the body" 0 $? ok "$T/py"
hs change publish 42; check "HTTP 409" 1 $? "propose it again on the current one \(CONFLICT\)" "$T/out"
hs change submit 42; check "HTTP 401" 7 $? "unknown token \(UNAUTHENTICATED\)" "$T/out"
hs change reject 42 --reason no; check "HTTP 404" 1 $? "NOT_FOUND" "$T/out"
last "b=={'reason':'no'}"; check "HTTP reject: the body" 0 $? ok "$T/py"
hs change show 500; check "HTTP 500" 4 $? "the store is away \(IO_ERROR\)" "$T/out"
hs change withdraw 42 --reason "not now"; check "HTTP withdraw" 0 $? "change 42 is withdrawn" "$T/out"
hs change show 42; check "HTTP show" 0 $? "^change 42: flags, proposed, revision 1" "$T/out"
hs change list --state proposed --limit 5; check "HTTP list" 0 $? "^42 +flags +proposed" "$T/out"
last "r['method']=='GET' and r['path'] in ('/v1/admin/changes?limit=5&state=proposed','/v1/admin/changes?state=proposed&limit=5')"
check "HTTP list: the query" 0 $? ok "$T/py"
hs change versions --kind flags --target "/srv/my flags.json"; check "HTTP versions" 0 $? "no published versions" "$T/out"
last "r['path']=='/v1/admin/versions?limit=50&kind=flags&target=%2Fsrv%2Fmy%20flags.json'"
check "HTTP versions: the query escaped" 0 $? ok "$T/py"
hs rollback --to 2 --reason "bad"; check "HTTP rollback" 0 $? "^rolled back flags /srv/flags.json: now version 7$" "$T/out"
last "r['path']=='/v1/admin/rollback' and b=={'to':2,'reason':'bad'}"; check "HTTP rollback: the body" 0 $? ok "$T/py"
hs change settings --approvals flags=2; check "HTTP settings" 0 $? "flags=2 bundle=1" "$T/out"
last "r['method']=='PUT' and b=={'approvals':{'flags':2}}"; check "HTTP settings: the body" 0 $? ok "$T/py"
RISKD_TOKEN_FILE=$T/http.tok "$BIN" change show 42 --server "$M" >"$T/out" 2>&1
check "HTTP: RISKD_TOKEN_FILE" 0 $?
RISKD_TOKEN=rdk_0123456789ab_x "$BIN" change show 42 --server "$M" >"$T/out" 2>&1
check "HTTP: RISKD_TOKEN" 0 $?
last "r['auth']=='Bearer rdk_0123456789ab_x'"; check "HTTP: RISKD_TOKEN sent" 0 $? ok "$T/py"
env -u RISKD_TOKEN -u RISKD_TOKEN_FILE "$BIN" change show 42 --server "$M" >"$T/out" 2>&1
check "HTTP: no token" 7 $? "no token" "$T/out"
if grep -q "$(cut -c1-20 "$T/http.tok")" "$T/out" "$T/mock.err"; then fail=$((fail + 1)); echo "FAIL: a token was printed"; else pass=$((pass + 1)); fi
kill "$MOCK" 2>/dev/null
wait "$MOCK" 2>/dev/null
"$BIN" change show 42 --server "$M" --token-file "$T/http.tok" >"$T/out" 2>&1
check "HTTP: no server listening" 4 $? "IO_ERROR" "$T/out"
"$BIN" change show 42 --server "https://127.0.0.1:1" --token-file "$T/http.tok" --cacert "$T/none.pem" \
    --cert "$T/c.pem" --key "$T/k.pem" >"$T/out" 2>&1
check "HTTPS options accepted" 4 $?
"$BIN" change show 42 --data-dir "$D" --cacert x >"$T/out" 2>&1; check "--cacert with a data directory" 2 $? \
    "go with --server" "$T/out"

# ---------------------------------------------------------------- a real server, with the admin API
# The same store served: the CLI through the server prints what it prints on the data
# directory. Skipped when this build's server has no admin API (404 "no route").
F2=$T/served.json
cp "$T/v0.json" "$F2"
if ! start --flags "$F2"; then
    check "serve starts" 0 1
elif [ "$(curl -s -o "$T/r" -w '%{http_code}' "$U/v1/admin/changes")" = 404 ]; then
    skip "riskd serve has no admin API in this build: server mode was checked against a stand-in only"
    stop
else
    sv() { # USER riskd-args...: through the server as USER, output in $T/out
        local who=$1
        shift
        "$BIN" "$@" --server "$U" --token-file "$T/$who.tok" >"$T/out" 2>&1
    }
    "$BIN" change propose --flags "$T/v1.json" --target "$F2" --title "through the server" --server "$U" \
        --token-file "$T/erin.tok" >"$T/id5" 2>"$T/err"
    check "server: propose" 0 $?
    id5=$(cat "$T/id5")
    grep -qxE '[0-9]+' "$T/id5"; check "server: the id alone" 0 $?
    sv erin change show "$id5"; check "server: show" 0 $? "^change $id5: flags, proposed" "$T/out"
    "$BIN" change show "$id5" --data-dir "$D" >"$T/out.dir" 2>&1
    cmp -s "$T/out" "$T/out.dir"; check "server: show prints what the data directory prints" 0 $?
    sv erin change approve "$id5"; check "server: an engineer cannot approve" 7 $? "FORBIDDEN" "$T/out"
    sv mia change approve "$id5" --revision 1; check "server: mia approves" 0 $? "1 of 2 approvals" "$T/out"
    sv mia2 change approve "$id5"; check "server: mia again, another token" 1 $? "CONFLICT" "$T/out"
    sv noor change approve "$id5"; check "server: noor approves" 0 $? "is approved" "$T/out"
    sv oscar change publish "$id5"; check "server: oscar publishes" 0 $? "^published change $id5 as version 1$" "$T/out"
    cmp -s "$F2" "$T/v1.json"; check "server: the served file holds the new bytes" 0 $?
    sv oscar rollback --target "$F2" --reason "through the server"
    check "server: rollback" 0 $? "^rolled back flags .*served.json: now version 2$" "$T/out"
    cmp -s "$F2" "$T/v0.json"; check "server: the old bytes again" 0 $?
    sv oscar change versions --target "$F2" --json
    "$BIN" change versions --target "$F2" --json --data-dir "$D" >"$T/out.dir" 2>&1
    cmp -s "$T/out" "$T/out.dir"; check "server: versions --json as on the data directory" 0 $?
    sv erin rollback --target "$F2"; check "server: an engineer cannot roll back" 7 $? "FORBIDDEN" "$T/out"
    sv erin change list --limit 100
    "$BIN" change list --limit 100 --data-dir "$D" >"$T/out.dir" 2>&1
    cmp -s "$T/out" "$T/out.dir"; check "server: list as on the data directory" 0 $?
    sv admin1 change settings --approvals bundle=2
    check "server: settings" 0 $? "^approvals required: flags=2 bundle=2 rollout=1$" "$T/out"
    sv mia change settings --approvals bundle=1; check "server: settings by a manager" 7 $? "FORBIDDEN" "$T/out"
    stop

    # HTTPS with client certificates on the admin routes (mtls = admin)
    C=$T/certs
    if ! command -v openssl >/dev/null || ! "$BIN" serve --help 2>&1 | grep -q -- --tls-client-ca; then
        skip "no openssl or no TLS in this build: --cacert, --cert and --key not tried"
    elif ! scripts/dev-certs.sh "$C" || ! start --flags "$F2" --tls-cert "$C/server.pem" --tls-key "$C/server.key" \
        --tls-client-ca "$C/ca.pem" --mtls admin; then
        check "TLS server starts" 0 1
    else
        sv erin change list; check "https: the server's CA unknown" 4 $? "IO_ERROR" "$T/out"
        sv erin change list --cacert "$C/ca.pem"; check "https: no client certificate" 7 $? "CLIENT_CERT_REQUIRED" "$T/out"
        sv erin change list --cacert "$C/ca.pem" --cert "$C/other-client.pem" --key "$C/other-client.key"
        check "https: a client certificate of another CA" 7 $? "CLIENT_CERT_INVALID" "$T/out"
        sv erin change list --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key"
        check "https: with the client certificate" 0 $? "^$id5 +flags +published" "$T/out"
        stop
    fi
fi

echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
