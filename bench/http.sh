#!/usr/bin/env bash
# make bench, over HTTP (the end of bench/run.sh): `riskd serve` beside the services people
# run today, on this machine, driven by wrk with the same requests:
#   - OFREP single-flag evaluation vs a flagd-style Node service (node http + cluster, one
#     worker per core, @openfeature/flagd-core): bench/peers/ofrep_flagd_core.mjs;
#   - POST /v1/score with the shared 300-tree credit model vs FastAPI + uvicorn + XGBoost +
#     pandas (two workers, one per core, each on its own SO_REUSEPORT socket: uvicorn's shared
#     socket leaves one worker with most connections, see the peer's docstring):
#     bench/peers/score_fastapi.py.
# riskd runs with --log-level warn (the peers keep no access log).
# Closed-loop rows (each connection sends its next request when the answer is in) give the
# maximum throughput; their latency at high connection counts is connections / throughput
# (Little's law), not a property of the server. Fixed-rate rows offer a set rate instead
# (bench/http/common.lua, wrk's delay() hook) and their latency is the one to compare.
# Both sides run one after the other for each case, alternating which goes first, while the
# other side sits idle; after every run the script waits until both servers are idle again
# (a saturated server is left with queued requests when wrk stops). wrk runs on the same cores (-t2); every server and wrk started here
# is killed on exit.
#
# Environment (defaults):
#   BENCH_HTTP_SECONDS=10        each timed case
#   BENCH_HTTP_WARMUP=2          a warm-up run per server before its section (JIT, caches)
#   BENCH_HTTP_TIMEOUT=10        wrk --timeout, seconds: slower answers are counted as
#                                timeouts and left out of the latency figures
#   BENCH_HTTP_OFREP_CONNS="100 1000 5000"   BENCH_HTTP_OFREP_RATE=20000 at
#   BENCH_HTTP_OFREP_RATE_CONNS=1000
#   BENCH_HTTP_SCORE_CONNS="1 64 1000"       BENCH_HTTP_SCORE_RATES="100 2000" at
#   BENCH_HTTP_SCORE_RATE_CONNS=64
#   BENCH_HTTP_SHADOW_ROUNDS=3   shadow on vs off: interleaved rounds (median and spread)
#   BENCH_HTTP_SHADOW_RATE=1000  the fixed rate of the shadow section, at 64 connections
#   RISKD_SHARED=../shared       the shared data (the score section is skipped without it)
#   RISKD_BIN=build/riskd
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_HTTP_SECONDS:-10}
warmup=${BENCH_HTTP_WARMUP:-2}
timeout=${BENCH_HTTP_TIMEOUT:-10}
ofrep_conns=${BENCH_HTTP_OFREP_CONNS:-100 1000 5000}
ofrep_rate=${BENCH_HTTP_OFREP_RATE:-20000}
ofrep_rate_conns=${BENCH_HTTP_OFREP_RATE_CONNS:-1000}
score_conns=${BENCH_HTTP_SCORE_CONNS:-1 64 1000}
score_rates=${BENCH_HTTP_SCORE_RATES:-100 2000}
score_rate_conns=${BENCH_HTTP_SCORE_RATE_CONNS:-64}
shadow_rounds=${BENCH_HTTP_SHADOW_ROUNDS:-3}
shadow_rate=${BENCH_HTTP_SHADOW_RATE:-1000}
SHARED=${RISKD_SHARED:-../shared}
RISKD=${RISKD_BIN:-build/riskd}
PY=/usr/bin/python3
out=build/bench
results=$out/http.jsonl
logs=$out/http-logs
mkdir -p "$out" "$logs"
: >"$results"

# ------------------------------------------------------------------ processes and cleanup
# Every server runs in its own session (setsid), so stopping it stops its workers too.
servers=()
wrk_pid=
stop_server() {
    local pid=$1 i
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    [ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null
    for pid in "${servers[@]}"; do stop_server "$pid"; done
    servers=()
    [ -n "${pg_dir:-}" ] && scripts/pg-cluster.sh destroy "$pg_dir" # the log bench's PostgreSQL
    pg_dir=
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# As many descriptors as the hard limit allows: 5,000 connections need 5,000 on each side.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null || true; else ulimit -n "$hard"; fi
fds=$(ulimit -n)

# a progress line on a terminal, overwritten by the next one
progress() {
    if [ -t 2 ]; then printf '\r  %-66s\r' "$1" >&2; fi
}
die() { echo "bench/http.sh: $*" >&2; exit 1; }
for tool in wrk curl node; do command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh installs it)"; done
[ -x "$RISKD" ] || die "$RISKD not found; run make first"
"$RISKD" serve --help >/dev/null 2>&1 || die "$RISKD has no 'serve' command"
serve_help=$("$RISKD" serve --help 2>&1)
riskd_opts=()
# the peers keep no access log and no state: riskd logs warnings only, its state in build/bench
grep -q -- '--log-level' <<<"$serve_help" && riskd_opts+=(--log-level warn)
grep -q -- '--data-dir' <<<"$serve_help" && riskd_opts+=(--data-dir "$out/riskd-data")

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# CPU time (clock ticks) used so far by every process of the running servers' sessions
cpu_ticks() {
    local sid p v t=0
    for sid in "${servers[@]}"; do
        for p in $(pgrep -s "$sid"); do
            v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
            t=$((t + ${v:-0}))
        done
    done
    echo "$t"
}

# settle: waits until the servers are idle (at most 2 ticks, 20 ms of CPU, in each of two 0.2 s
# windows). A closed-loop run leaves requests queued in a server that cannot keep up (1,000
# connections: up to 1,000 requests, seconds of work for the peers); the next run, on either
# side, must not share the cores with that backlog.
settle() {
    local prev now quiet=0 i
    prev=$(cpu_ticks)
    for i in $(seq 300); do
        sleep 0.2
        now=$(cpu_ticks)
        if [ $((now - prev)) -le 2 ]; then
            quiet=$((quiet + 1))
            [ "$quiet" -ge 2 ] && return 0
        else
            quiet=0
        fi
        prev=$now
    done
    echo "bench/http.sh: the servers were still busy 60 s after a run" >&2
}

# start NAME CMD...: starts a server in its own session, stdout and stderr in http-logs/NAME.*
start() {
    local name=$1
    shift
    setsid "$@" >"$logs/$name.out" 2>"$logs/$name.err" &
    servers+=($!)
    last_pid=$!
}

# wait_ready NAME PID URL [BODY]: polls URL (GET, or POST with BODY) until it answers 2xx
wait_ready() {
    local name=$1 pid=$2 url=$3 body=${4:-} i
    for i in $(seq 600); do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logs/$name.err" >&2; die "$name exited before it was ready"; }
        if [ -n "$body" ]; then
            curl -sf -o /dev/null -m 5 -H 'Content-Type: application/json' -d "$body" "$url" && return 0
        else
            curl -sf -o /dev/null -m 5 "$url" && return 0
        fi
        sleep 0.05
    done
    die "$name not ready after 30 s ($url)"
}

# start_riskd NAME ARGS...: riskd on a port the kernel picks; sets riskd_url
start_riskd() {
    local name=$1 i port=
    shift
    start "$name" "$RISKD" serve --listen 127.0.0.1:0 "${riskd_opts[@]}" "$@"
    for i in $(seq 600); do
        port=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$logs/$name.out")
        [ -n "$port" ] && break
        kill -0 "$last_pid" 2>/dev/null || { tail -n 20 "$logs/$name.err" >&2; die "$name exited at start"; }
        sleep 0.05
    done
    [ -n "$port" ] || die "$name printed no 'listening on' line in 30 s"
    riskd_url=http://127.0.0.1:$port
    riskd_pid=$last_pid
    wait_ready "$name" "$riskd_pid" "$riskd_url/health"
}

# same_answer WHAT BODY URL_A URL_B FIELDS: the two services answer BODY alike (a warning,
# not a failure, when they do not: the tables would compare different work)
same_answer() {
    local what=$1 body=$2 a b
    a=$(curl -s -m 10 -H 'Content-Type: application/json' -d "$body" "$3") || true
    b=$(curl -s -m 10 -H 'Content-Type: application/json' -d "$body" "$4") || true
    # shellcheck disable=SC2016 # JavaScript template literals
    node -e '
        const [what, a, b, fields] = [process.argv[1], process.argv[2], process.argv[3], process.argv[4].split(",")];
        let x, y;
        try { x = JSON.parse(a); y = JSON.parse(b); } catch { console.log(`warning: ${what}: answers are not JSON:\n  riskd: ${a}\n  peer:  ${b}`); process.exit(0); }
        const pick = (o) => fields.map((f) => {
            const v = f === "reasons" ? (o.reasons || []).map((r) => r.feature) : o[f];
            return typeof v === "number" ? Number(v.toPrecision(6)) : v; });
        if (JSON.stringify(pick(x)) !== JSON.stringify(pick(y)))
            console.log(`warning: ${what}: riskd and the peer answer differently:\n  riskd: ${a}\n  peer:  ${b}`);
    ' "$what" "$a" "$b" "$5"
}

# run SECTION IMPL PID MODE CONNS RATE SCRIPT URL [ARGS...]: one wrk run, one line in http.jsonl
run() {
    local section=$1 impl=$2 pid=$3 mode=$4 conns=$5 rate=$6 script=$7 url=$8 line rc
    shift 8
    local threads=$((conns < 2 ? conns : 2))
    local head="{\"section\":\"$section\",\"impl\":\"$impl\",\"mode\":\"$mode\",\"connections\":$conns,"
    local failed="${head}\"offered_rps\":${rate:-null},\"failed\""
    progress "$(printf '%s %s %s, %d connections%s' "$section" "$impl" "$mode" "$conns" "${rate:+ at $rate req/s}")"
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "${failed}:\"server exited\"}" >>"$results"
        return 0
    fi
    if [ "$conns" -gt $((fds - 64)) ]; then
        echo "${failed}:\"open files limit $fds\"}" >>"$results"
        return 0
    fi
    WRK_RATE=$rate WRK_THREADS=$threads wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout "${timeout}s" \
        -s "$script" "$url" -- "$@" >"$logs/wrk.out" 2>&1 &
    wrk_pid=$!
    rc=0
    wait "$wrk_pid" || rc=$?
    wrk_pid=
    settle
    line=$(grep '^{"requests"' "$logs/wrk.out" | tail -n 1 || true)
    if [ -n "$line" ]; then
        echo "${head}${line#\{}" >>"$results"
    else
        echo "${failed}:\"wrk exit $rc: $(tail -n 1 "$logs/wrk.out" | sed 's/["\\]//g')\"}" >>"$results"
    fi
}

# warm SCRIPT URL ARGS...: an unrecorded run at 64 connections
warm() {
    local script=$1 url=$2
    shift 2
    [ "$warmup" = 0 ] && return 0
    wrk -t2 -c64 -d"${warmup}s" --timeout "${timeout}s" -s "$script" "$url" -- "$@" >/dev/null 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || true
    wrk_pid=
    settle
}

# pair SECTION N MODE CONNS RATE SCRIPT PATH ARGS...: riskd and the peer, one after the
# other, the first alternating with N
pair() {
    local section=$1 n=$2 mode=$3 conns=$4 rate=$5 script=$6 path=$7
    shift 7
    if [ $((n % 2)) = 0 ]; then
        run "$section" riskd "$riskd_pid" "$mode" "$conns" "$rate" "$script" "$riskd_url$path" "$@"
        run "$section" "$peer_name" "$peer_pid" "$mode" "$conns" "$rate" "$script" "$peer_url$path" "$@"
    else
        run "$section" "$peer_name" "$peer_pid" "$mode" "$conns" "$rate" "$script" "$peer_url$path" "$@"
        run "$section" riskd "$riskd_pid" "$mode" "$conns" "$rate" "$script" "$riskd_url$path" "$@"
    fi
}

echo
echo "HTTP: riskd serve beside its peers, wrk -t2 on the same $(nproc) cores, ${secs}s per case (open files: $fds)"

# ------------------------------------------------------------------ OFREP
flags=bench/flags/flags.json
flag=fractional-flag
contexts=bench/flags/contexts.json
opath=/ofrep/v1/evaluate/flags/$flag
start_riskd riskd-ofrep --flags "$flags"
peer_name=flagd-core
port=$(free_port)
start flagd-core node bench/peers/ofrep_flagd_core.mjs --flags "$flags" --port "$port" --workers 2
peer_pid=$last_pid
peer_url=http://127.0.0.1:$port
body="{\"context\":$(sed -n '2{s/,[[:space:]]*$//;p}' "$contexts")}"
wait_ready flagd-core "$peer_pid" "$peer_url$opath" "$body"
same_answer "OFREP $flag" "$body" "$riskd_url$opath" "$peer_url$opath" key,value,variant,reason
warm bench/http/ofrep.lua "$riskd_url$opath" "$contexts"
warm bench/http/ofrep.lua "$peer_url$opath" "$contexts"
n=0
for c in $ofrep_conns; do
    pair ofrep $n closed "$c" "" bench/http/ofrep.lua "$opath" "$contexts"
    n=$((n + 1))
done
[ "$ofrep_rate" != 0 ] && pair ofrep $n rate "$ofrep_rate_conns" "$ofrep_rate" bench/http/ofrep.lua "$opath" "$contexts"
progress ''
cleanup
echo
echo "OFREP single evaluation: POST $opath (fractional rollout: 4 variants by targetingKey),"
echo "1,024 users rotated (bench/flags/contexts.json); riskd serve --flags $flags vs a flagd-style"
echo "Node service: node:http + cluster (2 workers) + @openfeature/flagd-core 4.0.1 (bench/peers/ofrep_flagd_core.mjs)"
echo
node bench/report_http.mjs "$results" ofrep

# ------------------------------------------------------------------ /v1/score
model=$SHARED/data/models/credit_xgb.json
spec=$SHARED/data/models/credit_xgb.features.json
data=$SHARED/data/credit_data.csv
if [ ! -f "$model" ] || [ ! -f "$spec" ] || [ ! -f "$data" ]; then
    echo
    echo "HTTP /v1/score benchmark skipped: shared data not present ($SHARED/data)"
    exit 0
fi
$PY -c 'import fastapi, uvicorn, xgboost, pandas, sklearn' 2>/dev/null ||
    die "the FastAPI peer needs python3-fastapi python3-uvicorn python3-xgboost python3-pandas python3-sklearn (scripts/deps.sh)"
bundles=$out/bundles
bundle=$bundles/credit_xgb_v1.0
# absent, or cached by an older riskd (a reference without quantiles: no KS for the monitor)
if ! "$RISKD" bundle verify "$bundle" >/dev/null 2>&1 || ! grep -q '"quantiles"' "$bundle/reference.json"; then
    rm -rf "$bundle"
    mkdir -p "$bundles"
    "$RISKD" bundle build --name credit_xgb_v1.0 --model "$model" --pipeline "$spec" --data "$data" \
        --label Status --positive bad --out "$bundle" >&2
fi
bodies=$out/score_bodies.jsonl
if [ ! -s "$bodies" ] || [ "$data" -nt "$bodies" ] || [ bench/http/score_bodies.mjs -nt "$bodies" ]; then
    node bench/http/score_bodies.mjs "$data" "$bodies" 2>/dev/null
fi
spath=/v1/score
start_riskd riskd-score --bundles "$bundles"
peer_name=fastapi
port=$(free_port)
start fastapi $PY bench/peers/score_fastapi.py --model "$model" --features "$spec" --port "$port" \
    --workers 2 --reuse-port --risk-bands "$bundle/manifest.json" --model-version credit_xgb_v1.0
peer_pid=$last_pid
peer_url=http://127.0.0.1:$port
body=$(sed -n 1p "$bodies")
wait_ready riskd-score "$riskd_pid" "$riskd_url$spath" "$body"
wait_ready fastapi "$peer_pid" "$peer_url$spath" "$body"
for i in 1 3 30; do
    same_answer "/v1/score row $i" "$(sed -n "${i}p" "$bodies")" "$riskd_url$spath" "$peer_url$spath" \
        request_id,probability,risk_level,decision,model_version,reasons
done
warm bench/http/score.lua "$riskd_url$spath" "$bodies"
warm bench/http/score.lua "$peer_url$spath" "$bodies"
n=0
for c in $score_conns; do
    pair score $n closed "$c" "" bench/http/score.lua "$spath" "$bodies"
    n=$((n + 1))
done
for r in $score_rates; do
    pair score $n rate "$score_rate_conns" "$r" bench/http/score.lua "$spath" "$bodies"
    n=$((n + 1))
done
progress ''
cleanup
echo
echo "/v1/score: credit_xgb.json (300 trees) on $(wc -l <"$bodies") raw applications rotated"
echo "(credit_data.csv), 4 reason codes each; riskd serve --bundles (bundle credit_xgb_v1.0) vs"
echo "FastAPI 0.92 + uvicorn 0.17 (uvloop, httptools; 2 workers, each on its own SO_REUSEPORT socket)"
echo "+ pandas + XGBoost 1.7.4 predict_proba and pred_contribs (bench/peers/score_fastapi.py)"
echo
node bench/report_http.mjs "$results" score

# ------------------------------------------------------------------ /v1/score with a shadow
# The same service twice, the second with one shadow model (a second bundle of the same
# model, listed by the shadow flag for every request): what shadow scoring costs the primary.
# Closed loop and a fixed rate at 64 connections; the shadow server's dropped shadow work
# (its queue full) is read from /metrics after each run and printed beside the figures.
shadow_dir=$out/shadow-bundles
if ! "$RISKD" bundle verify "$shadow_dir/credit_xgb_v1.1" >/dev/null 2>&1 ||
    ! "$RISKD" bundle verify "$shadow_dir/credit_xgb_v1.0" >/dev/null 2>&1; then
    rm -rf "$shadow_dir"
    mkdir -p "$shadow_dir"
    cp -r "$bundle" "$shadow_dir/credit_xgb_v1.0"
    "$RISKD" bundle build --name credit_xgb_v1.1 --model "$model" --pipeline "$spec" --data "$data" \
        --label Status --positive bad --out "$shadow_dir/credit_xgb_v1.1" >&2
fi
cat >"$out/shadow-flags.json" <<'J'
{"flags":{
 "model-route":{"state":"ENABLED","variants":{"champion":"credit_xgb_v1.0"},"defaultVariant":"champion"},
 "model-shadow":{"state":"ENABLED","variants":{"on":{"bundles":["credit_xgb_v1.1"]},"off":{"bundles":[]}},
   "defaultVariant":"on"}}}
J
start_riskd riskd-noshadow --bundles "$shadow_dir" --flags "$out/shadow-flags.json"
off_url=$riskd_url off_pid=$riskd_pid
start_riskd riskd-shadow --bundles "$shadow_dir" --flags "$out/shadow-flags.json" --shadow-flag model-shadow
on_url=$riskd_url on_pid=$riskd_pid
warm bench/http/score.lua "$off_url$spath" "$bodies"
warm bench/http/score.lua "$on_url$spath" "$bodies"
dropped() { curl -s "$on_url/metrics" | sed -n 's/^riskd_shadow_dropped_total \([0-9]*\)$/\1/p'; }
shadow_run() { # ROUND MODE RATE
    local before
    before=$(dropped)
    run shadow riskd+shadow "$on_pid" "$2" 64 "$3" bench/http/score.lua "$on_url$spath" "$bodies"
    echo "{\"section\":\"shadow-drops\",\"round\":$1,\"mode\":\"$2\",\"dropped\":$(($(dropped) - before))}" >>"$results"
}
for r in $(seq "$shadow_rounds"); do
    for m in closed rate; do
        rate=
        [ "$m" = rate ] && rate=$shadow_rate
        if [ $((r % 2)) = 0 ]; then
            run shadow riskd "$off_pid" "$m" 64 "$rate" bench/http/score.lua "$off_url$spath" "$bodies"
            shadow_run "$r" "$m" "$rate"
        else
            shadow_run "$r" "$m" "$rate"
            run shadow riskd "$off_pid" "$m" 64 "$rate" bench/http/score.lua "$off_url$spath" "$bodies"
        fi
    done
done
progress ''
cleanup
echo
echo "/v1/score with one shadow model (the same 300-tree model as a second bundle, every request) vs"
echo "without, 64 connections, median of $shadow_rounds interleaved rounds [min-max]"
echo
node bench/report_shadow.mjs "$results"

# ------------------------------------------------------------------ /v1/score with the decision log
# The same service with the log off, async (the default) and ack, interleaved rounds; the
# log's refusals (a full queue answers 503) are counted from the errors column.
start_riskd riskd-nolog --bundles "$bundles" --no-log
nolog_url=$riskd_url nolog_pid=$riskd_pid
riskd_opts_saved=("${riskd_opts[@]}")
riskd_opts=(--log-level warn --data-dir "$out/log-async")
rm -rf "$out/log-async" "$out/log-ack"
start_riskd riskd-async --bundles "$bundles"
async_url=$riskd_url async_pid=$riskd_pid
riskd_opts=(--log-level warn --data-dir "$out/log-ack")
start_riskd riskd-ack --bundles "$bundles" --log-durability ack
ack_url=$riskd_url ack_pid=$riskd_pid
# ... and the log into PostgreSQL (several nodes, issue 16): a cluster of the bench's own with
# fsync on, as a real server runs (scripts/pg-cluster.sh starts test clusters with it off)
pg_dir=$(mktemp -d /tmp/riskd-bench-pg.XXXXXX)
pg_url=
if pg_url=$(scripts/pg-cluster.sh start "$pg_dir" 2>/dev/null) &&
    scripts/pg-cluster.sh psql "$pg_dir" -qAt -c 'ALTER SYSTEM SET fsync = on' -c 'SELECT pg_reload_conf()' >/dev/null; then
    riskd_opts=(--log-level warn --data-dir "$out/log-pg" --store "$pg_url")
    rm -rf "$out/log-pg"
    start_riskd riskd-pg --bundles "$bundles"
    pg_url_http=$riskd_url pg_pid=$riskd_pid
else
    echo "  /v1/score with the log on PostgreSQL: skipped (postgresql not installed)" >&2
    rm -rf "$pg_dir"
    pg_dir= pg_pid=
fi
riskd_opts=("${riskd_opts_saved[@]}")
for u in "$nolog_url" "$async_url" "$ack_url" ${pg_pid:+"$pg_url_http"}; do warm bench/http/score.lua "$u$spath" "$bodies"; done
for r in $(seq "$shadow_rounds"); do
    for m in closed rate; do
        rate=
        [ "$m" = rate ] && rate=$shadow_rate
        order=(off async ack ${pg_pid:+pg})
        [ $((r % 2)) = 0 ] && order=(${pg_pid:+pg} ack async off)
        for w in "${order[@]}"; do
            case $w in
            off) run log "riskd" "$nolog_pid" "$m" 64 "$rate" bench/http/score.lua "$nolog_url$spath" "$bodies" ;;
            async) run log "riskd+log" "$async_pid" "$m" 64 "$rate" bench/http/score.lua "$async_url$spath" "$bodies" ;;
            ack) run log "riskd+log(ack)" "$ack_pid" "$m" 64 "$rate" bench/http/score.lua "$ack_url$spath" "$bodies" ;;
            pg) run log "riskd+log(postgresql)" "$pg_pid" "$m" 64 "$rate" bench/http/score.lua "$pg_url_http$spath" "$bodies" ;;
            esac
        done
    done
done
progress ''
cleanup
echo
echo "/v1/score with the decision log (async, ack; async into PostgreSQL, fsync on, beside SQLite) vs without,"
echo "64 connections, median of $shadow_rounds interleaved rounds [min-max]"
echo
node bench/report_shadow.mjs "$results" log

# ------------------------------------------------------------------ /v1/score with monitoring
# The same service with the monitor off (--no-monitor) and on (the default: counters per
# bundle, score bins, KS cells, per-input bins on every decision), interleaved rounds; target:
# the difference within the spread and at most 5%.
start_riskd riskd-nomon --bundles "$bundles" --no-monitor
nomon_url=$riskd_url nomon_pid=$riskd_pid
start_riskd riskd-mon --bundles "$bundles"
mon_url=$riskd_url mon_pid=$riskd_pid
for u in "$nomon_url" "$mon_url"; do warm bench/http/score.lua "$u$spath" "$bodies"; done
for r in $(seq "$shadow_rounds"); do
    for m in closed rate; do
        rate=
        [ "$m" = rate ] && rate=$shadow_rate
        if [ $((r % 2)) = 0 ]; then
            run monitor riskd "$nomon_pid" "$m" 64 "$rate" bench/http/score.lua "$nomon_url$spath" "$bodies"
            run monitor riskd+monitor "$mon_pid" "$m" 64 "$rate" bench/http/score.lua "$mon_url$spath" "$bodies"
        else
            run monitor riskd+monitor "$mon_pid" "$m" 64 "$rate" bench/http/score.lua "$mon_url$spath" "$bodies"
            run monitor riskd "$nomon_pid" "$m" 64 "$rate" bench/http/score.lua "$nomon_url$spath" "$bodies"
        fi
    done
done
progress ''
cleanup
echo
echo "/v1/score with the monitor on vs off, 64 connections, median of $shadow_rounds interleaved rounds [min-max]"
echo
node bench/report_shadow.mjs "$results" monitor
