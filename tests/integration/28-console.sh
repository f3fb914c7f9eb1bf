#!/usr/bin/env bash
# The web console's files (console/, src/server/console.c): what /ui serves and with which
# headers (a CSP without inline script, nosniff, ETags and 304, long caching only for
# content-hashed names), refusals with the API's error shape, and the build: no HTML-parsing
# sink in the sources, and two builds of the same sources byte-identical to what the binary
# embeds. The browser cases are tests/interop/console.mjs.
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
