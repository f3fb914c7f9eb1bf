#!/usr/bin/env bash
# make demo: build the two example credit bundles (champion credit_xgb_v1.0, challenger
# credit_xgb_v1.1), start `riskd serve` on a port the kernel picks, and show with curl:
# scoring and champion/challenger routing, OFREP flag evaluation (single, bulk with ETag),
# an error, and the metrics. The server is stopped on exit, whatever happens.
#
# Needs build/riskd (make), curl, and python3 or node to pretty-print JSON. Works in a pipe.
# Writes only under build/demo/: bundles/, data/, serve.log (the server's JSON logs).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/riskd
conf=examples/riskd.conf
data=examples/data/credit_data.csv
requests=examples/requests
demo=build/demo
bundles=$demo/bundles
log=$demo/serve.log
START_TIMEOUT=15 # seconds for the server to print its address
READY_TIMEOUT=30 # seconds for GET /ready to answer 200

if [ -t 1 ]; then
    bold=$'\033[1m' dim=$'\033[2m' red=$'\033[31m' reset=$'\033[0m'
else
    bold='' dim='' red='' reset=''
fi
heading() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
shown() { printf '%s$ %s%s\n' "$dim" "$*" "$reset"; } # the equivalent command, for the reader
die() {
    printf '%sdemo: %s%s\n' "$red" "$*" "$reset" >&2
    exit 1
}

[ -x "$bin" ] || die "$bin not found: run make first"
command -v curl >/dev/null 2>&1 || die "curl not found (scripts/deps.sh installs it)"
if [ -x /usr/bin/python3 ]; then
    py=/usr/bin/python3
elif command -v python3 >/dev/null 2>&1; then
    py=python3
else
    py=''
fi
command -v node >/dev/null 2>&1 && node=node || node=''
[ -n "$py$node" ] || die "neither python3 nor node found to pretty-print JSON"

# Pretty-print the JSON on stdin; anything that is not JSON is printed as it is.
pretty() {
    local body
    body=$(cat)
    if [ -z "$body" ]; then
        echo "(empty body)"
    elif [ -n "$py" ]; then
        printf '%s' "$body" | "$py" -m json.tool --indent 2 2>/dev/null || printf '%s\n' "$body"
    else
        printf '%s' "$body" | "$node" -e '
            let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
                try { console.log(JSON.stringify(JSON.parse(s), null, 2)); }
                catch (e) { console.log(s); } });'
    fi
}

# ---------------------------------------------------------------- the bundles
heading "model bundles: build (when missing or older than their inputs) and verify"
mkdir -p "$bundles"
for version in 1.0 1.1; do
    name=credit_xgb_v$version
    src=examples/models/$name
    out=$bundles/$name
    inputs=("$src/model.json" "$src/pipeline.json" "$src/fallback.json" "$data")
    for f in "${inputs[@]}"; do
        [ -f "$f" ] || die "$f is missing (examples/train.py writes the models)"
    done
    rebuild=0
    if [ ! -f "$out/manifest.json" ]; then
        rebuild=1
    else
        for f in "${inputs[@]}"; do [ "$f" -nt "$out/manifest.json" ] && rebuild=1; done
        # A bundle this build of riskd refuses (e.g. made by an older one) is rebuilt too.
        [ $rebuild = 1 ] || "$bin" bundle verify "$out" >/dev/null 2>&1 || rebuild=1
    fi
    if [ $rebuild = 1 ]; then
        [ -d "$out" ] && echo "$out is out of date: rebuilding it"
        rm -rf "$out"
        "$bin" bundle build --name "$name" --model "$src/model.json" --pipeline "$src/pipeline.json" \
            --data "$data" --label Status --positive bad --fallback "$src/fallback.json" \
            --created-by "make demo" --out "$out"
    fi
    "$bin" bundle verify "$out"
    "$bin" bundle inspect "$out" | sed -n 's/^metrics *\(.*\)/  training metrics (all rows): \1/p'
done

# ---------------------------------------------------------------- the server
"$bin" serve --help >/dev/null 2>&1 || die "this build of riskd has no 'serve' command yet"

mkdir -p "$demo/data"
tmp=$(mktemp -d)
pid=''
cleanup() {
    local status=$?
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do # up to 10 s to drain and stop, then no more waiting
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "(server stopped; its logs are in $log)"
    fi
    rm -rf "$tmp"
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

heading "start the server on a free port"
shown "$bin serve --config $conf --listen 127.0.0.1:0 2>$log"
"$bin" serve --config "$conf" --listen 127.0.0.1:0 >"$tmp/stdout" 2>"$log" &
pid=$!

server_died() {
    echo "demo: the server exited; the end of $log:" >&2
    tail -n 20 "$log" >&2
    cat "$tmp/stdout" >&2
    exit 1
}

# Its first line on stdout: "listening on http://127.0.0.1:PORT".
url=''
deadline=$((SECONDS + START_TIMEOUT))
while [ -z "$url" ]; do
    url=$(sed -n 's|.*listening on \(http://[^ /]*\).*|\1|p' "$tmp/stdout" | head -n 1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || server_died
    [ $SECONDS -lt $deadline ] || die "no 'listening on' line from the server after ${START_TIMEOUT}s (see $log)"
    sleep 0.05
done
echo "listening on $url (pid $pid)"

# Poll GET /ready until the flags and bundles are loaded.
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
    code=$(curl -s --noproxy '*' --max-time 2 -o "$tmp/body" -w '%{http_code}' "$url/ready" || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || server_died
    if [ $SECONDS -ge $deadline ]; then
        echo "demo: GET /ready still answers ${code:-nothing} after ${READY_TIMEOUT}s:" >&2
        cat "$tmp/body" >&2 2>/dev/null || true
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 0.1
done

# http EXPECTED METHOD PATH [curl args...]: one request; prints the status and the pretty body
# (the headers are left in $tmp/headers). A status other than EXPECTED (a regex) is counted.
unexpected=0
http() {
    local expected=$1 method=$2 path=$3 code
    shift 3
    : >"$tmp/headers"; : >"$tmp/body" # curl leaves them alone when there is nothing to write
    code=$(curl -sS --noproxy '*' --max-time 10 -X "$method" -D "$tmp/headers" -o "$tmp/body" \
        -w '%{http_code}' "$@" "$url$path") || die "curl $method $path failed"
    if [[ $code =~ ^($expected)$ ]]; then
        echo "HTTP $code"
    else
        printf '%sHTTP %s (expected %s)%s\n' "$red" "$code" "$expected" "$reset"
        unexpected=$((unexpected + 1))
    fi
    pretty <"$tmp/body"
}
json=(-H 'Content-Type: application/json')
cj="curl -s -H 'Content-Type: application/json'" # the same, as the reader would type it

heading "GET /ready: flags and bundles are loaded"
http 200 GET /ready

# ---------------------------------------------------------------- scoring
score() { # HEADING FILE
    heading "$1"
    shown "$cj -d @$2 $url/v1/score"
    http 200 POST /v1/score "${json[@]}" --data-binary "@$2"
}
score "POST /v1/score: a low-risk applicant (retail, routed to the champion by the 90/10 split)" \
    "$requests/score-low-risk.json"
score "POST /v1/score: a high-risk applicant (past records, part-time job, no assets)" \
    "$requests/score-high-risk.json"
score "POST /v1/score: missing features (Marital absent, Income null) are imputed and listed" \
    "$requests/score-missing.json"
score "POST /v1/score: a staff member, routed to the challenger credit_xgb_v1.1 by segment" \
    "$requests/score-staff.json"

heading "POST /v1/score/batch: two applications in one call (app-1001 falls in the 10% canary)"
shown "$cj -d @$requests/score-batch.json $url/v1/score/batch"
http 200 POST /v1/score/batch "${json[@]}" --data-binary "@$requests/score-batch.json"

# ---------------------------------------------------------------- shadow
heading "shadow: the challenger scored every customer request above off the callers' clock"
shown "curl -s $url/metrics | grep riskd_shadow"
for _ in $(seq 50); do # the shadow queue drains in a few milliseconds
    curl -s --noproxy '*' "$url/metrics" | grep -q '^riskd_shadow_pending 0' && break
    sleep 0.1
done
curl -s --noproxy '*' "$url/metrics" | grep -E '^riskd_shadow_(scores_total|agreement_ratio|swaps_total|dropped_total)' ||
    { printf '%sno shadow metrics%s\n' "$red" "$reset"; unexpected=$((unexpected + 1)); }

# ---------------------------------------------------------------- OFREP
ofrep() { # HEADING FLAG CONTEXT [EXPECTED]
    heading "$1"
    local body="{\"context\":$3}"
    shown "$cj -d '$body' $url/ofrep/v1/evaluate/flags/$2"
    http "${4:-200}" POST "/ofrep/v1/evaluate/flags/$2" "${json[@]}" --data-binary "$body"
}
ofrep "OFREP, a string flag: which model scores applicant app-1005 (fractional: 10% to the challenger)" \
    credit-model-route '{"targetingKey":"app-1005","segment":"retail"}'
ofrep "OFREP, a boolean flag: the new decline letter for a web applicant" \
    new-decline-letter '{"targetingKey":"app-1001","channel":"web"}'
ofrep "OFREP, a number flag: the manual-review threshold for a large amount (>= 3000)" \
    manual-review-threshold '{"targetingKey":"app-1001","amount":4500}'
ofrep "OFREP, an object flag: the score policy of a thin-file (student) applicant" \
    score-policy '{"targetingKey":"app-1001","segment":"student"}'
ofrep "OFREP, a disabled flag: legacy-scorecard-fallback" \
    legacy-scorecard-fallback '{"targetingKey":"app-1001"}' '200|404'

bulk='{"context":{"targetingKey":"app-1001","segment":"retail","channel":"web","amount":1200}}'
heading "OFREP bulk: every flag for one context, with an ETag"
shown "$cj -i -d '$bulk' $url/ofrep/v1/evaluate/flags"
http 200 POST /ofrep/v1/evaluate/flags "${json[@]}" --data-binary "$bulk"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]:[[:space:]]*//p' "$tmp/headers" | tr -d '\r' | head -n 1)
if [ -n "$etag" ]; then
    echo "ETag: $etag"
    heading "OFREP bulk again with If-None-Match: nothing changed, so 304 and no body"
    shown "$cj -i -H 'If-None-Match: $etag' -d '$bulk' $url/ofrep/v1/evaluate/flags"
    http 304 POST /ofrep/v1/evaluate/flags "${json[@]}" -H "If-None-Match: $etag" --data-binary "$bulk"
else
    printf '%sno ETag header in the bulk response%s\n' "$red" "$reset"
    unexpected=$((unexpected + 1))
fi

# ---------------------------------------------------------------- errors and metrics
heading "a bad request: malformed JSON is refused with 400 and a JSON error"
shown "$cj -d '{\"request_id\": \"bad\", \"features\": {' $url/v1/score"
http 400 POST /v1/score "${json[@]}" --data-binary '{"request_id": "bad", "features": {'

heading "GET /metrics (Prometheus text): requests, scores by model version, flag evaluations"
shown "curl -s $url/metrics"
: >"$tmp/body"
code=$(curl -sS --noproxy '*' --max-time 10 -o "$tmp/body" -w '%{http_code}' "$url/metrics") ||
    die "curl GET /metrics failed"
if [ "$code" != 200 ]; then
    printf '%sHTTP %s (expected 200)%s\n' "$red" "$code" "$reset"
    unexpected=$((unexpected + 1))
fi
grep -E '^(# (HELP|TYPE) )?riskd_(http_requests_total|scores_total|flag_evaluations_total)[{ ]' "$tmp/body" ||
    head -n 20 "$tmp/body"
echo "... ($(wc -l <"$tmp/body") lines in all: latency and score histograms, reloads, uptime)"

# ---------------------------------------------------------------- a slow model: deadline + fallback
heading "a drill: a second server with 1 s of delay injected into both models, and a 100 ms deadline"
shown "$bin serve --config $conf --listen 127.0.0.1:0 --deadline-ms 100 --fault credit_xgb_v1.0:delay_ms=1000 --fault credit_xgb_v1.1:delay_ms=1000"
"$bin" serve --config "$conf" --listen 127.0.0.1:0 --deadline-ms 100 \
    --fault credit_xgb_v1.0:delay_ms=1000 --fault credit_xgb_v1.1:delay_ms=1000 >"$tmp/drill.out" 2>"$demo/drill.log" &
drill=$!
durl=''
for _ in $(seq 150); do
    durl=$(sed -n 's|.*listening on \(http://[^ /]*\).*|\1|p' "$tmp/drill.out" | head -n 1)
    [ -n "$durl" ] && break
    sleep 0.1
done
if [ -n "$durl" ]; then
    shown "$cj -d @$requests/score-high-risk.json $durl/v1/score"
    code=$(curl -s --noproxy '*' --max-time 10 -o "$tmp/body" -w '%{http_code}' "${json[@]}" \
        --data-binary "@$requests/score-high-risk.json" "$durl/v1/score")
    echo "HTTP $code: answered by the bundle's fallback rules within the deadline, not after the delay"
    pretty <"$tmp/body"
    grep -q '"fallback_reason":"timeout"' "$tmp/body" ||
        { printf '%sexpected a fallback answer%s\n' "$red" "$reset"; unexpected=$((unexpected + 1)); }
else
    printf '%sthe drill server did not start (see %s)%s\n' "$red" "$demo/drill.log" "$reset"
    unexpected=$((unexpected + 1))
fi
kill -TERM "$drill" 2>/dev/null || true
wait "$drill" 2>/dev/null || true

# ---------------------------------------------------------------- replay
# The first server is stopped (its log committed), then every decision it made is re-run.
heading "riskd replay: every decision above, re-run from what was kept, compared bit for bit"
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=''
shown "$bin replay --data-dir $demo/data"
"$bin" replay --data-dir "$demo/data" || { printf '%sreplay found differences%s\n' "$red" "$reset"; unexpected=$((unexpected + 1)); }
shown "$bin log export --data-dir $demo/data --format csv | head -4"
"$bin" log export --data-dir "$demo/data" --format csv | head -4 || true

# ---------------------------------------------------------------- what next
heading "try more"
cat <<EOF
Start the server yourself (Ctrl-C stops it; its JSON logs go to stderr):
    $bin serve --config $conf
Then, from another terminal:
    $cj -d @$requests/score-high-risk.json http://127.0.0.1:8080/v1/score
    $cj -d '{"context":{"targetingKey":"app-1005"}}' http://127.0.0.1:8080/ofrep/v1/evaluate/flags
    curl -s http://127.0.0.1:8080/metrics
The web console: http://127.0.0.1:8080/ui/ (the overview without signing in; to sign in, make a
user first: $bin user add alice --role manager --data-dir $demo/data, and paste the token it prints).
Edit examples/flags/routing.json (e.g. the 10%/90% split, out of 100000) and the running server picks it up.
Retrain the models: /usr/bin/python3 examples/train.py (the bundles are rebuilt on the next make demo).
EOF

if [ $unexpected -gt 0 ]; then
    die "$unexpected response(s) did not have the expected status"
fi
