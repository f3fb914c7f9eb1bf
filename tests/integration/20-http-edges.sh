#!/usr/bin/env bash
# riskd serve's HTTP edges and CORS, against curl and Node's fetch.
# (a) A body refused before it is read (413 by Content-Length or by its running size, 415, 401
#     client certificate) is read and dropped so the client reads the answer: Node's fetch,
#     100 sequential 8 MB POSTs to OFREP and /v1/score (tests/interop/http_edges.mjs, run from
#     here); curl with Expect: 100-continue gets 413 and sends no byte of the body; without it,
#     the whole body is read and the connection kept; the bounds (linger_max_bytes,
#     linger_timeout_ms) close the connection; nesting and value limits are 400, not 413.
# (b) CORS (cors_origins, cors_credentials) on the OFREP and scoring routes: preflights allowed
#     and denied, the headers of actual answers (errors and 304 included), "*", credentials,
#     the routes CORS does not cover, the configuration refused, and nothing without it.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

lr_fixture
mkdir -p "$T/bundles"
"$BIN" bundle build --name demo_lr_v1.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --label bad --samples 5 --reasons 2 --out "$T/bundles/demo_lr_v1.0" --created-by ci >"$T/out" 2>&1
check "build the bundle" 0 $? "built and verified" "$T/out"
cat >"$T/flags.json" <<'J'
{"flags":{"new-ui":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}}}
J
head -c 8388608 /dev/zero | tr '\0' 'a' >"$T/big"
SCORE='{"features":{"age":40,"home":"own"}}'

# post NAME WANT PATH FILE [curl args]: the body of FILE with Content-Type $CT (default JSON);
# the answer's body in $T/r, headers in $T/h, curl's -w figures in $T/w (code, bytes sent), its
# trace in $T/v
post() {
    local name=$1 want=$2 path=$3 file=$4
    shift 4
    rm -f "$T/r" "$T/h"
    curl -sv -o "$T/r" -D "$T/h" -w '%{http_code} %{size_upload}' -H "Content-Type: ${CT:-application/json}" \
        --data-binary "@$file" "$U$path" "$@" >"$T/w" 2>"$T/v"
    touch "$T/r" "$T/h"
    check "$name (HTTP $want)" "$want" "$(cut -d' ' -f1 "$T/w")"
}
has() { # NAME PATTERN [FILE]: FILE (default the last body) matches
    grep -qiE -- "$2" "${3:-$T/r}"
    check "$1" 0 $? "$2" "${3:-$T/r}"
}
hasnt() { # NAME PATTERN [FILE]
    ! grep -qiE -- "$2" "${3:-$T/r}"
    check "$1" 0 $?
}
sent() { cut -d' ' -f2 "$T/w"; }

# ---- (a) the edges
# Node's fetch: 100 tries per route, the deep bodies on every JSON route, memory, figures.
node "$ROOT/tests/interop/http_edges.mjs" >"$T/node.out" 2>&1
node_rc=$?
sed 's/^/  node: /' "$T/node.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/node.out" | tail -n 1)
np=$(grep -oE '^[0-9]+' <<<"$line")
nf=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
pass=$((pass + ${np:-0}))
fail=$((fail + ${nf:-1}))
[ "$node_rc" != 0 ] && [ "${nf:-1}" = 0 ] && fail=$((fail + 1))

start --flags "$T/flags.json" --bundles "$T/bundles" || exit 1
# Expect: 100-continue with a Content-Length over the limit: 413 at once, no body sent.
post "Expect: 100-continue, 8 MB announced" 413 /v1/score "$T/big" -H 'Expect: 100-continue'
check "... and not a byte of the body sent" 0 "$(sent)"
hasnt "... no 100 Continue" '^< HTTP/1.1 100' "$T/v"
has "... the 413 names the limit" '"code":"LIMIT_EXCEEDED","message":"request body is larger than 1000000 bytes \(max_body_bytes\)"'
# Without Expect: the whole body is sent, read and dropped, the answer read, the connection kept.
post "8 MB without Expect" 413 /ofrep/v1/evaluate/flags "$T/big" -H 'Expect:' --next -s -o /dev/null "$U/health"
check "... the whole body sent (read by the server)" 8388608 "$(sent)"
has "... OFREP's error shape" '^\{"errorCode":"GENERAL","errorDetails":"request body is larger than 1000000 bytes'
has "... the connection kept for the next request" 'Re-using existing connection' "$T/v"
post "8 MB chunked (too large while read)" 413 /v1/score "$T/big" -H 'Expect:' -H 'Transfer-Encoding: chunked'
has "... its 413" '"code":"LIMIT_EXCEEDED"'
head -c 500000 "$T/big" >"$T/mid"
CT=text/plain post "415 for a body that is not JSON" 415 /v1/score "$T/mid" -H 'Expect:'
check "... the body read and dropped" 500000 "$(sent)"
has "... its code" '"code":"UNSUPPORTED_MEDIA_TYPE"'
CT=text/plain post "415 with Expect: 100-continue" 415 /v1/score "$T/mid" -H 'Expect: 100-continue'
check "... no byte of the body sent" 0 "$(sent)"
post "404 for 8 MB to no route: the route comes first" 404 /v1/nothing "$T/big" -H 'Expect:'
post "a 200 KB body nested 100,000 deep" 400 /v1/score <(printf '%.0s[' $(seq 1 100000); printf '%.0s]' $(seq 1 100000))
has "... LIMIT_EXCEEDED naming max_json_depth" '"code":"LIMIT_EXCEEDED","message":"request body: .*nesting too deep \(max_json_depth = 32\)'
post "still serving" 200 /v1/score <(echo "$SCORE")
curl -s "$U/metrics" >"$T/m"
has "413 counted for /v1/score" '^riskd_http_requests_total\{route="/v1/score",code="413"\} [1-9]' "$T/m"
has "400 counted for /v1/score" '^riskd_http_requests_total\{route="/v1/score",code="400"\} [1-9]' "$T/m"
stop
check "stopped cleanly (no sanitizer report)" 0 $?

# The bounds: past linger_max_bytes or linger_timeout_ms the connection is closed unanswered.
start --flags "$T/flags.json" --max-body-bytes 100000 --linger-max-bytes 1000000 || exit 1
post "chunked past max_body_bytes + linger_max_bytes: closed" 000 /v1/score "$T/big" -H 'Expect:' -H 'Transfer-Encoding: chunked'
has "... logged" 'a refused body goes on past the lingering bound.*"dropped_bytes":[0-9]{7}' "$T/serve.err"
post "8 MB announced past the bound: answered at once (then closed)" 413 /v1/score "$T/big" -H 'Expect: 100-continue'
post "still serving" 200 /ofrep/v1/evaluate/flags <(echo '{}')
stop
check "stopped cleanly (no sanitizer report)" 0 $?
start --flags "$T/flags.json" --linger-timeout-ms 300 || exit 1
t0=$(date +%s%N)
post "a slow 8 MB body (1 MB/s) past linger_timeout_ms: closed" 000 /v1/score "$T/big" -H 'Expect:' --limit-rate 1M --max-time 30
echo "  figure: closed after $((($(date +%s%N) - t0) / 1000000)) ms (linger_timeout_ms 300; the whole body would take 8 s)"
check "... after about linger_timeout_ms, not the whole body" 1 "$([ "$(sent)" -lt 4000000 ] && echo 1)"
post "still serving" 200 /ofrep/v1/evaluate/flags <(echo '{}')
stop
check "stopped cleanly (no sanitizer report)" 0 $?

# mtls: the 401 for a missing client certificate is decided on the headers; the 8 MB body that
# follows is read and dropped under TLS too, and the 401 read.
C=$T/certs
"$ROOT/scripts/dev-certs.sh" "$C" >"$T/out" 2>&1
check "dev-certs.sh" 0 $?
start --flags "$T/flags.json" --tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-client-ca "$C/ca.pem" || exit 1
post "mtls: 8 MB without a client certificate" 401 /ofrep/v1/evaluate/flags "$T/big" -H 'Expect:' --cacert "$C/ca.pem"
check "... the whole body sent (read and dropped)" 8388608 "$(sent)"
has "... CLIENT_CERT_REQUIRED" '"code":"CLIENT_CERT_REQUIRED"'
post "mtls: with Expect: 100-continue, no body sent" 401 /ofrep/v1/evaluate/flags "$T/big" --cacert "$C/ca.pem" \
    -H 'Expect: 100-continue'
check "... no byte of the body sent" 0 "$(sent)"
post "mtls: with the client certificate, 413 read" 413 /ofrep/v1/evaluate/flags "$T/big" -H 'Expect:' \
    --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key"
stop
check "stopped cleanly (no sanitizer report)" 0 $?

# ---- (b) CORS
# preflight NAME WANT PATH ORIGIN [curl args]: OPTIONS with Origin and the method asked for
preflight() {
    local name=$1 want=$2 path=$3 origin=$4
    shift 4
    rm -f "$T/r" "$T/h"
    local got
    got=$(curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -X OPTIONS -H "Origin: $origin" \
        -H 'Access-Control-Request-Method: POST' "$@" "$U$path")
    touch "$T/r" "$T/h"
    check "$name (HTTP $want)" "$want" "$got"
}
cat >"$T/riskd.conf" <<'C'
cors_origins = https://app.example, HTTP://LocalHost:5173, https://pages.example:443
C
start --config "$T/riskd.conf" --flags "$T/flags.json" --bundles "$T/bundles" || exit 1
A=https://app.example
preflight "preflight, allowed origin, OFREP bulk" 204 /ofrep/v1/evaluate/flags $A \
    -H 'Access-Control-Request-Headers: content-type,if-none-match'
has "... Allow-Origin: the origin" "^Access-Control-Allow-Origin: $A"$'\r'"?$" "$T/h"
has "... Allow-Methods: the route's + OPTIONS" '^Access-Control-Allow-Methods: POST, OPTIONS' "$T/h"
has "... Allow-Headers" '^Access-Control-Allow-Headers: Content-Type, Authorization, If-None-Match' "$T/h"
has "... Max-Age" '^Access-Control-Max-Age: [0-9]+' "$T/h"
has "... Vary: Origin" '^Vary: Origin' "$T/h"
hasnt "... no credentials" '^Access-Control-Allow-Credentials' "$T/h"
check "... no body" 0 "$(wc -c <"$T/r")"
preflight "preflight, OFREP single flag" 204 /ofrep/v1/evaluate/flags/new-ui $A
preflight "preflight, /v1/score" 204 /v1/score http://localhost:5173
has "... the origin normalised at load (case)" '^Access-Control-Allow-Origin: http://localhost:5173' "$T/h"
preflight "preflight, /v1/score/batch" 204 /v1/score/batch https://pages.example
has "... the default port dropped at load" '^Access-Control-Allow-Origin: https://pages.example' "$T/h"
preflight "preflight, a denied origin" 403 /ofrep/v1/evaluate/flags https://evil.example
has "... CORS_ORIGIN_DENIED" '^\{"error":\{"code":"CORS_ORIGIN_DENIED","message":"origin https://evil.example is not allowed'
hasnt "... no Allow-Origin" '^Access-Control-Allow' "$T/h"
preflight "preflight, an origin only a prefix of an allowed one" 403 /v1/score https://app.example.evil.test
preflight "preflight, an allowed origin with another port" 403 /v1/score https://app.example:8443
preflight "preflight, /score without compat_routes: no route" 404 /score $A
preflight "preflight on a route CORS does not cover" 405 /v1/outcomes $A
has "... today's Allow" '^Allow: POST' "$T/h"
hasnt "... no CORS header" '^Access-Control' "$T/h"
preflight "OPTIONS /health" 405 /health $A
curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -X OPTIONS "$U/ofrep/v1/evaluate/flags" >"$T/w"
check "OPTIONS without Origin is no preflight (HTTP 405)" 405 "$(cat "$T/w")"

post "actual request, allowed origin" 200 /ofrep/v1/evaluate/flags <(echo '{}') -H "Origin: $A"
has "... Allow-Origin" "^Access-Control-Allow-Origin: $A" "$T/h"
has "... Expose-Headers: ETag, Retry-After" '^Access-Control-Expose-Headers: ETag, Retry-After' "$T/h"
has "... Vary: Origin" '^Vary: Origin' "$T/h"
etag=$(sed -n 's/^ETag: //ip' "$T/h" | tr -d '\r')
post "304 (If-None-Match)" 304 /ofrep/v1/evaluate/flags <(echo '{}') -H "Origin: $A" -H "If-None-Match: $etag"
has "... carries Allow-Origin" "^Access-Control-Allow-Origin: $A" "$T/h"
post "a scoring error (400)" 400 /v1/score <(echo '{"features":{"age":"x"}}') -H "Origin: $A"
has "... carries Allow-Origin" "^Access-Control-Allow-Origin: $A" "$T/h"
post "8 MB, 413 after the body is dropped" 413 /v1/score "$T/big" -H "Origin: $A" -H 'Expect:'
has "... carries Allow-Origin (the page can read the 413)" "^Access-Control-Allow-Origin: $A" "$T/h"
post "an unknown OFREP path (404)" 404 /ofrep/v1/nothing <(echo '{}') -H "Origin: $A"
has "... carries Allow-Origin (all of /ofrep/v1/ is covered)" "^Access-Control-Allow-Origin: $A" "$T/h"
post "actual request, a denied origin" 200 /v1/score <(echo "$SCORE") -H 'Origin: https://evil.example'
hasnt "... no Allow-Origin" '^Access-Control-Allow' "$T/h"
has "... Vary: Origin" '^Vary: Origin' "$T/h"
post "no Origin (not cross-origin)" 200 /v1/score <(echo "$SCORE")
hasnt "... no Allow-Origin" '^Access-Control-Allow' "$T/h"
curl -s -o "$T/r" -D "$T/h" -H "Origin: $A" "$U/health"
check "a route CORS does not cover" 0 $?
hasnt "... no CORS header" '^(Access-Control|Vary)' "$T/h"
curl -s "$U/metrics" >"$T/m"
has "preflights counted" '^riskd_cors_requests_total\{kind="preflight",result="allowed"\} 4$' "$T/m"
has "refused preflights counted" '^riskd_cors_requests_total\{kind="preflight",result="denied"\} 3$' "$T/m"
has "actual requests counted" '^riskd_cors_requests_total\{kind="actual",result="allowed"\} 5$' "$T/m"
has "denied actual requests counted" '^riskd_cors_requests_total\{kind="actual",result="denied"\} 1$' "$T/m"
has "204 counted" '^riskd_http_requests_total\{route="/ofrep/v1/evaluate/flags",code="204"\} 1$' "$T/m"
# what the browser would refuse after a 204 is refused by name (a curl user reads why)
opt() { # WANT PATH METHOD [HEADERS]: a preflight asking for METHOD and HEADERS
    rm -f "$T/r" "$T/h"
    curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' -X OPTIONS -H "Origin: $A" -H "Access-Control-Request-Method: $3" \
        ${4:+-H "Access-Control-Request-Headers: $4"} "$U$2" >"$T/w"
    touch "$T/r"
    check "preflight $3 $2 ${4:-} (HTTP $1)" "$1" "$(cat "$T/w")"
}
opt 204 /ofrep/v1/events GET
has "... the event stream's GET" '^Access-Control-Allow-Methods: GET, OPTIONS' "$T/h"
opt 204 /ofrep/v1/evaluate/flags POST 'Content-Type, AUTHORIZATION,If-None-Match'
opt 403 /ofrep/v1/evaluate/flags DELETE
has "... CORS_REQUEST_DENIED naming the method" '"code":"CORS_REQUEST_DENIED","message":"/ofrep/v1/evaluate/flags: method DELETE is not allowed \(allowed: POST\)"' "$T/r"
hasnt "... no Allow-Origin" '^Access-Control-Allow' "$T/h"
opt 403 /ofrep/v1/events POST
opt 403 /ofrep/v1/evaluate/flags POST 'content-type, x-api-key'
has "... CORS_REQUEST_DENIED naming the header" '"code":"CORS_REQUEST_DENIED","message":"request header x-api-key is not allowed' "$T/r"
stop
check "stopped cleanly (no sanitizer report)" 0 $?

# "*", credentials, compat_routes, auth_scoring: preflights never need a token
start --flags "$T/flags.json" --bundles "$T/bundles" --cors-origins '*' --compat-routes --auth --auth-scoring || exit 1
preflight "cors_origins = *: preflight" 204 /score https://any.example
has "... Allow-Origin: *" '^Access-Control-Allow-Origin: \*' "$T/h"
has "... /score's methods" '^Access-Control-Allow-Methods: POST, OPTIONS' "$T/h"
post "cors_origins = *: actual request without a token" 401 /ofrep/v1/evaluate/flags <(echo '{}') -H 'Origin: https://any.example'
has "... the 401 carries Allow-Origin: *" '^Access-Control-Allow-Origin: \*' "$T/h"
hasnt "... no credentials" '^Access-Control-Allow-Credentials' "$T/h"
stop
check "stopped cleanly (no sanitizer report)" 0 $?
RISKD_CORS_ORIGINS=https://app.example RISKD_CORS_CREDENTIALS=true start --flags "$T/flags.json" || exit 1
preflight "credentials: preflight" 204 /ofrep/v1/evaluate/flags $A
has "... Allow-Credentials: true" '^Access-Control-Allow-Credentials: true' "$T/h"
post "credentials: actual request" 200 /ofrep/v1/evaluate/flags <(echo '{}') -H "Origin: $A"
has "... Allow-Credentials: true" '^Access-Control-Allow-Credentials: true' "$T/h"
has "... Allow-Origin: the origin, never *" "^Access-Control-Allow-Origin: $A" "$T/h"
stop
check "stopped cleanly (no sanitizer report)" 0 $?

# without cors_origins: today's behaviour
start --flags "$T/flags.json" || exit 1
preflight "no cors_origins: OPTIONS is 405" 405 /ofrep/v1/evaluate/flags $A
has "... with Allow" '^Allow: POST' "$T/h"
post "no cors_origins: no CORS header" 200 /ofrep/v1/evaluate/flags <(echo '{}') -H "Origin: $A"
hasnt "... none" '^(Access-Control|Vary)' "$T/h"
stop
check "stopped cleanly (no sanitizer report)" 0 $?

# the configuration refused, naming the key and the bad value
refused() { # NAME PATTERN ARGS...
    local name=$1 pat=$2
    shift 2
    "$BIN" serve --flags "$T/flags.json" --check-config "$@" >"$T/out" 2>&1
    check "$name" 1 $? "$pat" "$T/out"
}
refused "* with credentials" 'cors_origins = \* with cors_credentials' --cors-origins '*' --cors-credentials
refused "credentials without origins" 'cors_credentials needs cors_origins' --cors-credentials
refused "a trailing slash" '--cors-origins: cors_origins: "https://a.example/" is not an origin' --cors-origins https://a.example/
refused "a path" '"https://a.example/app" is not an origin' --cors-origins https://a.example/app
refused "no scheme" '"a.example" is not an origin' --cors-origins 'https://b.example,a.example'
refused "a port out of range" '"https://a.example:70000" is not an origin' --cors-origins https://a.example:70000
refused "null" '"null" is not an origin' --cors-origins null
refused "user info" '"https://u@a.example" is not an origin' --cors-origins https://u@a.example
refused "* in a list" '\* allows every origin and goes alone' --cors-origins '*,https://a.example'
refused "an empty entry" 'an empty entry' --cors-origins 'https://a.example,,https://b.example'
RISKD_CORS_ORIGINS=ftp:/x refused "from the environment, named" '^riskd: serve: RISKD_CORS_ORIGINS: cors_origins: "ftp:/x"'
printf 'flags = %s\ncors_origins = https://a.example?x=1\n' "$T/flags.json" >"$T/bad.conf"
"$BIN" serve --config "$T/bad.conf" --check-config >"$T/out" 2>&1
check "from a file, with its line" 1 $? 'bad.conf:2: cors_origins: "https://a.example\?x=1" is not an origin' "$T/out"
"$BIN" serve --flags "$T/flags.json" --check-config --cors-origins 'https://A.example:443, http://[::1]:8080' \
    --cors-credentials >"$T/out" 2>&1
check "--check-config shows the origins normalised" 0 $? '^cors +https://a.example,http://\[::1\]:8080 \(with credentials\)' "$T/out"
"$BIN" serve --help >"$T/out" 2>&1
check "--help documents cors and lingering" 0 $? '--cors-origins LIST.*' "$T/out"
has "... and lingering" '--linger-max-bytes N' "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
