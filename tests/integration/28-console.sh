#!/usr/bin/env bash
# The web console's files (console/, src/server/console.c): what /ui serves and with which
# headers (a CSP without inline script, nosniff, ETags and 304, long caching only for
# content-hashed names), refusals with the API's error shape, and the build: no HTML-parsing
# sink in the sources, and two builds of the same sources byte-identical to what the binary
# embeds. Console sessions (docs/api.md, "Console sessions"): the sign-in cycle and the cookie's
# flags (with and without TLS), the cookie on /v1/admin/ only and never beside an Authorization
# header, every change in the action table refused without the CSRF token, with a wrong one
# and from another origin (nothing changed) and answered as for a bearer token with it, the
# session ending with its parent, its user and signing out, console = off. The browser cases
# are tests/interop/console.mjs.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

mkdir -p "$T/flags"
cat >"$T/flags/f.json" <<'J'
{"flags":{"on":{"state":"ENABLED","variants":{"a":true,"b":false},"defaultVariant":"a"}}}
J
start --flags "$T/flags/f.json"

# /ui: a permanent redirect to /ui/, whose relative names then resolve
code=$(curl -s -o /dev/null -D "$T/h" -w '%{http_code}' "$U/ui")
check "/ui redirects" 308 "$code" '^[Ll]ocation: /ui/' "$T/h"

# the index: HTML, no cache without revalidation, the security headers
code=$(curl -s -o "$T/index" -D "$T/h" -w '%{http_code}' "$U/ui/")
check "/ui/ is the index" 200 "$code" '^Content-Type: text/html; charset=utf-8' "$T/h"
check "index: a CSP that allows scripts from the server only" 0 0 \
    "^Content-Security-Policy: default-src 'none'; script-src 'self';" "$T/h"
grep -qi "^Content-Security-Policy:.*unsafe-" "$T/h"
check "index: the CSP allows nothing unsafe" 1 $?
check "index: nosniff" 0 0 '^X-Content-Type-Options: nosniff' "$T/h"
check "index: no framing" 0 0 "frame-ancestors 'none'" "$T/h"
check "index: revalidated each load" 0 0 '^Cache-Control: no-cache' "$T/h"
etag=$(sed -n 's/^ETag: \(".*"\)\r$/\1/p' "$T/h")
check "index: an ETag" 0 "$([ -n "$etag" ] && echo 0 || echo 1)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$U/ui/")
check "index: If-None-Match answers 304" 304 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/ui/index.html")
check "/ui/index.html is the index too" 200 "$code"
# every <script> has a src: the CSP would block an inline one, and the console must not rely on it
n_inline=$(grep -o '<script[^>]*>' "$T/index" | grep -vc 'src=')
check "index: no inline script" 0 "$n_inline"

# the assets the index names: their types, immutable caching, ETags, HEAD
assets=$(grep -o '/ui/assets/[^"]*' "$T/index")
check "index names a script and a style sheet" 2 "$(echo "$assets" | grep -cE '\.(js|css)$')"
for a in $assets; do
    case $a in *.js) want='text/javascript; charset=utf-8' ;; *.css) want='text/css; charset=utf-8' ;; esac
    code=$(curl -s -o "$T/asset" -D "$T/h" -w '%{http_code}' "$U$a")
    check "$a: served" 200 "$code" "^Content-Type: $want" "$T/h"
    check "$a: cached for a year (its name holds its hash)" 0 0 '^Cache-Control: public, max-age=31536000, immutable' "$T/h"
    check "$a: the CSP on every answer" 0 0 '^Content-Security-Policy: ' "$T/h"
    etag=$(sed -n 's/^ETag: \(".*"\)\r$/\1/p' "$T/h")
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: W/$etag" "$U$a")
    check "$a: a weak If-None-Match answers 304" 304 "$code"
    size=$(stat -c %s "$T/asset")
    code=$(curl -s -I -o "$T/h" -w '%{http_code}' "$U$a")
    check "$a: HEAD" 200 "$code" "^Content-Length: $size" "$T/h"
    # what the built directory holds is what is served
    cmp -s "$T/asset" "build/gen/console/${a#/ui/}"
    check "$a: the bytes of the build" 0 $?
done

# refusals: the API's error shape
code=$(curl -s -o "$T/body" -w '%{http_code}' "$U/ui/assets/main-NOPE.js")
check "an unknown asset: 404" 404 "$code" '"code":"NOT_FOUND"' "$T/body"
code=$(curl -s --path-as-is -o "$T/body" -w "%{http_code}" "$U/ui/../v1/score")
check "a path out of /ui/ is not served from it" 0 "$([ "$code" != 200 ] && echo 0 || echo 1)"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$U/uix")
check "/uix is not the console" 404 "$code"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' "$U/ui/")
check "POST /ui/: 405" 405 "$code" '"code":"METHOD_NOT_ALLOWED"' "$T/body"

# the requests are counted under their own route
curl -s "$U/metrics" >"$T/metrics"
check "metrics: the console's route" 0 0 'riskd_http_requests_total\{route="/ui/",code="200"\} [1-9]' "$T/metrics"
check "metrics: its redirect" 0 0 'riskd_http_requests_total\{route="/ui/",code="308"\} 1' "$T/metrics"
stop
check "the server stops cleanly" 0 $?

# ---- console sessions (docs/api.md, "Console sessions"): signing in opens a child token held in
# an HttpOnly cookie; the cookie works on /v1/admin/ only, without an Authorization header, and a
# change made with it needs the session's CSRF token and this server's origin
PY=/usr/bin/python3
"$BIN" user add root --role admin --data-dir "$T/data" >"$T/tok.root" 2>"$T/out"
check "the first admin" 0 $?
ROOT=$(cat "$T/tok.root")
start --flags "$T/flags/f.json" --auth --auth-scoring --auth-max-failures 100000 --log-level debug || exit 1
api() { # METHOD PATH [TOKEN] [BODY]: the status; the body into $T/r
    local h=()
    [ -n "${3:-}" ] && h=(-H "Authorization: Bearer $3")
    curl -s -o "$T/r" -w '%{http_code}' -X "$1" "${h[@]}" -H 'Content-Type: application/json' \
        ${4:+--data-binary "$4"} "$U$2"
}
jget() { $PY -c "import json,sys; j=json.load(open('$T/r')); print($1)"; }
for u in mgr1:manager eng1:engineer; do
    api POST /v1/admin/users "$ROOT" "{\"name\":\"${u%%:*}\",\"role\":\"${u#*:}\",\"scopes\":\"admin,score\"}" >/dev/null
    jget 'j["token"]' >"$T/tok.${u%%:*}"
done
MGR=$(cat "$T/tok.mgr1")
check "two users added" 0 "$([ -s "$T/tok.mgr1" ] && [ -s "$T/tok.eng1" ] && echo 0 || echo 1)"

# sign_in TOKEN NAME: POST /v1/admin/session; the cookie's value into $T/cookie.NAME, the answer's
# headers into $T/h; the status
sign_in() {
    local st
    st=$(curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "{\"token\":\"$1\"}" "$U/v1/admin/session")
    sed -n 's/^Set-Cookie: riskd_session=\([^;]*\);.*/\1/p' "$T/h" | tr -d '\r' >"$T/cookie.$2"
    echo "$st"
}
st=$(sign_in "$MGR" mgr1)
check "sign in: 201" 201 "$st" '"user":"mgr1"' "$T/r"
check "sign in: the role and permissions" 0 0 '"role":"manager","permissions":\["view","propose","approve","publish","rollback","view_decisions","erase"\]' "$T/r"
check "sign in: a CSRF token" 0 0 '"csrf_token":"[0-9a-f]{64}"' "$T/r"
check "sign in: the idle time" 0 0 '"idle_s":1800' "$T/r"
check "sign in: the cookie is HttpOnly, SameSite=Strict, Path=/" 0 0 \
    '^Set-Cookie: riskd_session=rdk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict[[:cntrl:]]?$' "$T/h"
grep -qi '^Set-Cookie:.*Max-Age' "$T/h"
check "sign in: a browser-session cookie (no Max-Age)" 1 $?
grep -qi '^Set-Cookie:.*Secure' "$T/h"
check "sign in: not Secure over plain HTTP" 1 $?
check "sign in: not cached" 0 0 '^Cache-Control: no-store' "$T/h"
C=$(cat "$T/cookie.mgr1")
grep -qF -- "${C#rdk_*_}" "$T/r"
check "sign in: the body holds no session token" 1 $?
[ "$C" != "$MGR" ]
check "the session is a token of its own" 0 $?
CSRF=$(jget 'j["csrf_token"]')

cget() { # PATH [COOKIE] [curl args...]: GET with the cookie; the status
    local p=$1 c=${2:-$C}
    shift $(($# < 2 ? $# : 2))
    curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -H "Cookie: other=1; riskd_session=$c; x=y" "$@" "$U$p"
}
st=$(cget /v1/admin/session)
check "GET session with the cookie: 200" 200 "$st" '"user":"mgr1","role":"manager"' "$T/r"
check "GET session: the same CSRF token" 0 0 "\"csrf_token\":\"$CSRF\"" "$T/r"
grep -q 'rdk_' "$T/r"
check "GET session: no token in the body" 1 $?
st=$(curl -s -o "$T/r" -w '%{http_code}' "$U/v1/admin/session")
check "GET session without a cookie: 200 {\"user\":null}, not 401" 200 "$st" '^\{"user":null\}$' "$T/r"
st=$(cget /v1/admin/changes)
check "the cookie authenticates an admin GET" 200 "$st"
st=$(cget /v1/admin/users)
check "... with the role's permissions (a manager lists no users)" 403 "$st" '"code":"FORBIDDEN"' "$T/r"
st=$(cget /v1/admin/changes "$C" -H "Authorization: Bearer rdk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
check "an Authorization header wins over the cookie" 401 "$st"
st=$(cget /v1/admin/changes "$C" -H "Origin: http://evil.example")
check "an admin GET from another origin: 403 CROSS_ORIGIN" 403 "$st" '"code":"CROSS_ORIGIN"' "$T/r"
st=$(curl -s -o "$T/r" -w '%{http_code}' -H "Authorization: Bearer $C" "$U/v1/admin/changes")
check "the session's token is no bearer token" 401 "$st" 'session token' "$T/r"
st=$(curl -s -o "$T/r" -w '%{http_code}' -H "Cookie: riskd_session=$C; riskd_session=$C" "$U/v1/admin/session")
check "the cookie given twice is none" 200 "$st" '^\{"user":null\}$' "$T/r"
# the scoring side never reads the cookie (auth_scoring: a token is needed there)
st=$(curl -s -o "$T/r" -w '%{http_code}' -H "Cookie: riskd_session=$C" -X POST -H 'Content-Type: application/json' \
    -d '{"context":{}}' "$U/ofrep/v1/evaluate/flags/on")
check "OFREP ignores the cookie" 401 "$st"
st=$(curl -s -o "$T/r" -w '%{http_code}' -H "Cookie: riskd_session=$C" -X POST -H 'Content-Type: application/json' \
    -d '{"features":{}}' "$U/v1/score")
check "/v1/score ignores the cookie" 401 "$st" '"code":"UNAUTHENTICATED"' "$T/r"
st=$(curl -s -o "$T/r" -w '%{http_code}' -H "Cookie: riskd_session=$C" -X POST -H 'Content-Type: application/json' \
    -d '{"outcomes":[]}' "$U/v1/outcomes")
check "/v1/outcomes ignores the cookie" 401 "$st"
# signing in is refused from another origin (login CSRF), with a bad token, without the admin scope
st=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' -H "Origin: http://evil.example" \
    --data-binary "{\"token\":\"$MGR\"}" "$U/v1/admin/session")
check "sign in from another origin: 403" 403 "$st" '"code":"CROSS_ORIGIN"' "$T/r"
st=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' -H "Sec-Fetch-Site: cross-site" \
    --data-binary "{\"token\":\"$MGR\"}" "$U/v1/admin/session")
check "sign in with Sec-Fetch-Site: cross-site: 403" 403 "$st" '"code":"CROSS_ORIGIN"' "$T/r"
st=$(sign_in "rdk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" bad)
check "sign in with an unknown token: 401" 401 "$st" '"code":"UNAUTHENTICATED"' "$T/r"
check "... and no cookie" 0 "$([ -s "$T/cookie.bad" ] && echo 1 || echo 0)"
api POST /v1/admin/users/eng1/tokens "$ROOT" '{"scopes":"score"}' >/dev/null
st=$(sign_in "$(jget 'j["token"]')" score)
check "sign in with a token without the admin scope: 403" 403 "$st" 'lacks the admin scope' "$T/r"
st=$(api POST /v1/admin/session "" '{"tokn":"x"}')
check "sign in: an unknown member" 400 "$st" '"code":"INVALID_ARGUMENT"' "$T/r"

# every change in the action table, made with the cookie: refused without the CSRF token, with
# a wrong one and from another origin, and nothing changed; with the right one, the answer the
# role gets with a bearer token (allowed: no 401 or 403; not allowed: 403 FORBIDDEN)
"$BIN" auth matrix --json >"$T/matrix.json"
st=$(sign_in "$ROOT" root)
ROOT_CSRF=$(jget 'j["csrf_token"]')
$PY - "$T/matrix.json" "$U" "mgr1=manager=$C=$CSRF" "root=admin=$(cat "$T/cookie.root")=$ROOT_CSRF" \
    "$T/flags/f.json" "$MGR" "$ROOT" >"$T/csrf.out" <<'P'
import json, sys, urllib.request, urllib.error
matrix, url = json.load(open(sys.argv[1])), sys.argv[2]
sessions = [a.split("=", 3) for a in sys.argv[3:5]]
flags = sys.argv[5]
fill = {"{id}": "999999", "{name}": "nobody", "{flag}": "model-route"}
bodies = {
    "user.add": {"name": "made-by-cookie", "role": "viewer"},
    "settings.set": {"approvals": {"flags": 2}},
    "change.propose": {"kind": "flags", "target": flags, "payload": open(flags).read(), "title": "csrf"},
    "change.edit": {"title": "csrf"},
    "rollback": {"kind": "flags", "target": flags, "reason": "csrf"},
    "decisions.erase": {"targeting_key": "u1", "reason": "csrf"},
}
def state(mgr=sys.argv[6], root=sys.argv[7]):
    """What a change would touch: the audit chain's head, the users, the changes, the settings."""
    out = []
    for path, tok in (("/v1/admin/audit/verify", mgr), ("/v1/admin/users", root), ("/v1/admin/changes", mgr)):
        req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + tok})
        with urllib.request.urlopen(req) as r:
            j = json.loads(r.read())
        out.append(j["head_seq"] if isinstance(j, dict) else [(x.get("name"), x.get("id"), x.get("disabled"), x.get("state")) for x in j])
    return out
def call(method, path, cookie, csrf=None, origin=None, body=None, bearer=None):
    req = urllib.request.Request(url + path, method=method)
    if cookie:
        req.add_header("Cookie", "riskd_session=" + cookie)
    if csrf is not None:
        req.add_header("X-CSRF-Token", csrf)
    if origin:
        req.add_header("Origin", origin)
    data = json.dumps(body if body is not None else {}).encode()
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data) as r:
            st, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        st, text = e.code, e.read()
    try:
        code = json.loads(text).get("error", {}).get("code") if text else None
    except Exception:
        code = None
    return st, code
ok = bad = 0
def check(name, good):
    global ok, bad
    ok, bad = (ok + 1, bad) if good else (ok, bad + 1)
    if not good:
        print("FAIL: " + name)
changes = [a for a in matrix if a["method"] != "GET" and a["action"] != "session.open"]
def path_of(a):
    p = a["path"]
    for k, v in fill.items():
        p = p.replace(k, v)
    return p
before = state()
for user, role, cookie, csrf in sessions:
    for a in changes:
        p, body = path_of(a), bodies.get(a["action"], {})
        st, code = call(a["method"], p, cookie, body=body)
        check("%s as %s without X-CSRF-Token: %d %s" % (a["action"], user, st, code), st == 403 and code == "CSRF_REQUIRED")
        st, code = call(a["method"], p, cookie, csrf="", body=body)
        check("%s as %s with an empty X-CSRF-Token: %d %s" % (a["action"], user, st, code), st == 403 and code == "CSRF_REQUIRED")
        wrong = ("0" if csrf[0] != "0" else "1") + csrf[1:]
        st, code = call(a["method"], p, cookie, csrf=wrong, body=body)
        check("%s as %s with a wrong X-CSRF-Token: %d %s" % (a["action"], user, st, code), st == 403 and code == "CSRF_INVALID")
        other = [s for s in sessions if s[0] != user][0][3]
        st, code = call(a["method"], p, cookie, csrf=other, body=body)
        check("%s as %s with another session's X-CSRF-Token: %d %s" % (a["action"], user, st, code), st == 403 and code == "CSRF_INVALID")
        st, code = call(a["method"], p, cookie, csrf=csrf, origin="http://evil.example", body=body)
        check("%s as %s from another origin: %d %s" % (a["action"], user, st, code), st == 403 and code == "CROSS_ORIGIN")
check("nothing changed: the audit chain's head, the users, the changes", state() == before)
print("refused %d changes x %d sessions x 5 ways, nothing changed" % (len(changes), len(sessions)))
for user, role, cookie, csrf in sessions:
    for a in changes:
        if a["action"] == "session.close":
            continue  # 28-console.sh signs out at the end
        st, code = call(a["method"], path_of(a), cookie, csrf=csrf, origin=url, body=bodies.get(a["action"], {}))
        if a["allowed"][role]:
            check("%s as %s with the CSRF token: allowed, got %d %s" % (a["action"], user, st, code), st not in (401, 403))
        else:
            check("%s as %s with the CSRF token: the role's 403, got %d %s" % (a["action"], user, st, code), st == 403 and code == "FORBIDDEN")
print("csrf: %d passed, %d failed" % (ok, bad))
P
cat "$T/csrf.out" | grep -v '^csrf:'
cp=$(sed -n 's/^csrf: \([0-9]*\) passed.*/\1/p' "$T/csrf.out")
cf=$(sed -n 's/^csrf: .* \([0-9]*\) failed$/\1/p' "$T/csrf.out")
pass=$((pass + ${cp:-0}))
fail=$((fail + ${cf:-1}))
[ "${cp:-0}" -ge 200 ]
check "the CSRF sweep ran (every change in the action table, two sessions)" 0 $?
api GET /v1/admin/users "$ROOT" >/dev/null
check "the user the root's session added with its CSRF token is there" 0 0 '"name":"made-by-cookie"' "$T/r"
check "users.list counts sessions apart from tokens" 0 0 '"name":"mgr1","role":"manager","disabled":false,"created_ms":[0-9]+,"created_by":"root","active_tokens":1,"active_sessions":1' "$T/r"

# the session ends with its parent token, its user, and signing out
api POST /v1/admin/users/mgr1/tokens "$ROOT" '{"scopes":"admin"}' >/dev/null
PARENT=$(jget 'j["token"]')
PARENT_ID=$(jget 'j["id"]')
sign_in "$PARENT" mgr1b >/dev/null
C2=$(cat "$T/cookie.mgr1b")
st=$(cget /v1/admin/changes "$C2")
check "a second session works" 200 "$st"
st=$(api POST "/v1/admin/tokens/$PARENT_ID/revoke" "$ROOT")
check "the parent token revoked" 200 "$st"
st=$(cget /v1/admin/session "$C2")
check "parent revoked: GET session says nobody" 200 "$st" '^\{"user":null\}$' "$T/r"
check "... and expires the cookie" 0 0 '^Set-Cookie: riskd_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict' "$T/h"
st=$(cget /v1/admin/changes "$C2")
check "parent revoked: the session is refused" 401 "$st" 'revoked: session' "$T/r"
st=$(cget /v1/admin/changes)
check "... the other session of that user goes on" 200 "$st"
sign_in "$(cat "$T/tok.eng1")" eng1 >/dev/null
C3=$(cat "$T/cookie.eng1")
st=$(cget /v1/admin/changes "$C3")
check "an engineer's session works" 200 "$st"
api POST /v1/admin/users/eng1/disable "$ROOT" '{}' >/dev/null
st=$(cget /v1/admin/changes "$C3")
check "user disabled: the session is refused" 401 "$st" 'user disabled' "$T/r"
st=$(curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -X DELETE -H "Cookie: riskd_session=$C" \
    -H "X-CSRF-Token: $CSRF" -H "Origin: $U" "$U/v1/admin/session")
check "sign out: 200 {\"user\":null}" 200 "$st" '^\{"user":null\}$' "$T/r"
check "sign out: the cookie expired" 0 0 '^Set-Cookie: riskd_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict' "$T/h"
st=$(cget /v1/admin/changes)
check "signed out: the session is refused" 401 "$st" 'revoked' "$T/r"
st=$(api DELETE /v1/admin/session "$MGR")
check "sign out with a bearer token: 400 (no session)" 400 "$st"
login_mgr=$(api GET /v1/admin/changes "$MGR")
check "the parent token goes on after its session signed out" 200 "$login_mgr"

# audited by ids; no session token anywhere it should not be
api GET "/v1/admin/audit?limit=1000" "$MGR" >/dev/null
cp "$T/r" "$T/audit.json"
check "session.open audited, by ids" 0 0 '"action":"session.open","actor":"mgr1",[^}]*"detail":\{"expires":"[^"]*","parent":"[0-9a-f]{12}","user":"mgr1"\}.*"object":"token/[0-9a-f]{12}"' "$T/audit.json"
check "session.close audited" 0 0 '"action":"session.close"' "$T/audit.json"
leaks=0
for c in "$C" "$C2" "$C3" "$(cat "$T/cookie.root")"; do
    s=${c#rdk_*_}
    grep -qF -- "$s" "$T/audit.json" "$T/serve.err" && leaks=$((leaks + 1))
done
check "no session's secret in the audit chain or the server's log" 0 "$leaks"
curl -s "$U/metrics" >"$T/metrics"
for reason in csrf_required csrf_invalid cross_origin; do
    check "metrics: refusals counted ($reason)" 0 0 "^riskd_console_refusals_total\{reason=\"$reason\"\} [1-9]" "$T/metrics"
done
check "metrics: sign-ins counted" 0 0 '^riskd_admin_requests_total\{action="session.open",code="201"\} [1-9]' "$T/metrics"
check "metrics: CSRF refusals as the action's 403" 0 0 '^riskd_admin_requests_total\{action="change.approve",code="403"\} [1-9]' "$T/metrics"
stop
check "the server stops cleanly" 0 $?

# console = off: no /ui/, no sign-in, and the cookie of a session still in the store is not read
RC=$(cat "$T/cookie.root")
start --flags "$T/flags/f.json" --no-console || exit 1
st=$(curl -s -o "$T/r" -w '%{http_code}' "$U/ui/")
check "console = off: /ui/ is 404" 404 "$st"
st=$(sign_in "$ROOT" off)
check "console = off: sign in is 404" 404 "$st" 'the console is off' "$T/r"
st=$(cget /v1/admin/users "$RC")
check "console = off: the cookie is not read" 401 "$st" 'missing token' "$T/r"
stop

# signing in on a browser that holds a session ends that session (a shared machine)
start --flags "$T/flags/f.json" --auth-max-failures 100000 || exit 1
sign_in "$MGR" first >/dev/null
CF=$(cat "$T/cookie.first")
st=$(curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -H 'Content-Type: application/json' -H "Cookie: riskd_session=$CF" \
    --data-binary "{\"token\":\"$MGR\"}" "$U/v1/admin/session")
check "a second sign-in on the same browser" 201 "$st" '"user":"mgr1"' "$T/r"
st=$(cget /v1/admin/changes "$CF")
check "... ends the session the browser held" 401 "$st" 'revoked' "$T/r"
stop

# a session that is over is no guess: its requests are refused without counting against the
# source's failed-authentication limit (a console left open past its idle time, several people
# behind one address, must not lock the CLI out); guessed tokens still count
start --flags "$T/flags/f.json" --auth-max-failures 3 || exit 1
api POST /v1/admin/users/mgr1/tokens "$ROOT" '{"scopes":"admin"}' >/dev/null
P3=$(jget 'j["token"]')
P3_ID=$(jget 'j["id"]')
sign_in "$P3" over >/dev/null
C3=$(cat "$T/cookie.over")
api POST "/v1/admin/tokens/$P3_ID/revoke" "$ROOT" >/dev/null
codes=""
for _ in 1 2 3 4 5 6; do codes="$codes $(cget /v1/admin/changes "$C3")"; done
check "a session that is over: 401 each time, never 429 ($codes)" " 401 401 401 401 401 401" "$codes"
st=$(api GET /v1/admin/users "$ROOT")
check "... and a token from the same address still works" 200 "$st"
codes=""
for _ in 1 2 3 4; do codes="$codes $(cget /v1/admin/changes "rdk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")"; done
check "guessed session tokens still count: the limit is reached ($codes)" " 401 401 401 429" "$codes"
stop

# TLS: the cookie is Secure, under the __Host- name, and the origin checked is https://
C_DIR=$T/certs
if scripts/dev-certs.sh "$C_DIR" >"$T/out" 2>&1; then
    start --flags "$T/flags/f.json" --tls-cert "$C_DIR/server.pem" --tls-key "$C_DIR/server.key" || exit 1
    st=$(curl -s --cacert "$C_DIR/ca.pem" -o "$T/r" -D "$T/h" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "{\"token\":\"$ROOT\"}" "$U/v1/admin/session")
    check "TLS: sign in" 201 "$st"
    check "TLS: the cookie is __Host-, Secure, HttpOnly, SameSite=Strict, Path=/" 0 0 \
        '^Set-Cookie: __Host-riskd_session=rdk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Secure[[:cntrl:]]?$' "$T/h"
    TC=$(sed -n 's/^Set-Cookie: __Host-riskd_session=\([^;]*\);.*/\1/p' "$T/h")
    TCSRF=$(jget 'j["csrf_token"]')
    st=$(curl -s --cacert "$C_DIR/ca.pem" -o "$T/r" -w '%{http_code}' -H "Cookie: __Host-riskd_session=$TC" "$U/v1/admin/session")
    check "TLS: the __Host- cookie works" 200 "$st" '"user":"root"' "$T/r"
    st=$(curl -s --cacert "$C_DIR/ca.pem" -o "$T/r" -w '%{http_code}' -H "Cookie: riskd_session=$TC" "$U/v1/admin/session")
    check "TLS: the cookie without the prefix is not read" 200 "$st" '^\{"user":null\}$' "$T/r"
    tpost() { # ORIGIN: a change with the cookie and its CSRF token; the status
        curl -s --cacert "$C_DIR/ca.pem" -o "$T/r" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
            -H "Cookie: __Host-riskd_session=$TC" -H "X-CSRF-Token: $TCSRF" -H "Origin: $1" \
            -d '{"name":"tls-made","role":"viewer"}' "$U/v1/admin/users"
    }
    st=$(tpost "${U/https:/http:}")
    check "TLS: an http:// origin is another origin" 403 "$st" '"code":"CROSS_ORIGIN"' "$T/r"
    st=$(tpost "$U")
    check "TLS: this server's https:// origin" 201 "$st"
    stop
else
    echo "FAIL: dev-certs.sh"; cat "$T/out"; fail=$((fail + 1))
fi

# the sources put nothing on a page through an HTML parser: markup in a flag's metadata or
# in a feature value is shown as text (dom.js builds elements and sets textContent)
sinks=$(grep -rnE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(.on' console/src || true)
check "console/src: no HTML-parsing sink" 0 "$([ -z "$sinks" ] && echo 0 || { echo "$sinks"; echo 1; })"

# reproducible: two builds of the same sources, byte for byte, and the same as the binary's
if [ -d console/node_modules/esbuild ]; then
    node console/build.mjs --out "$T/a.inc" && node console/build.mjs --out "$T/b.inc"
    cmp -s "$T/a.inc" "$T/b.inc"
    check "two builds are byte-identical" 0 $?
    cmp -s "$T/a.inc" build/gen/console_assets.inc
    check "the build is what the binary embeds" 0 $?
else
    echo "skipped: console/node_modules not installed (scripts/deps.sh)"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
