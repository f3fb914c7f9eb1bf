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
# Every case runs in BENCH_HTTP_ROUNDS interleaved rounds: in each round every side runs it
# once, one after the other while the others sit idle, the first side rotating from round to
# round and case to case; after every run the script waits until all servers are idle again
# (a saturated server is left with queued requests when wrk stops). The tables give each
# figure as the median of the rounds with their min-max, and each ratio as the median (min-max)
# of the rounds' ratios. Every server and wrk started here is killed on exit.
#
# wrk runs on the same two cores as the servers (-t2). Each run records the cores the server
# (its session), wrk and everything else on the machine kept busy meanwhile (from /proc), and
# the tables print them beside each fixed-rate round, so a slow round can be told from a round
# another job shared. What sharing the cores does to the fixed-rate figures (measured here with
# perf sched, OFREP at 20,000 req/s over 1,000 connections): riskd's two workers need ~0.4 of a
# core (~20 us a request), wrk's two threads ~0.6; four threads, each woken thousands of times
# a second, take turns on two cores, and a request waits for a core twice (the worker that
# answers it, the wrk thread that reads the answer): the 99th percentile of one such wait was
# 0.4-1.6 ms, against the 20 us of work. So the p50 stays ~0.2 ms while the p99 is those waits:
# ~1-2.5 ms with the machine otherwise idle, 4-15 ms while another job keeps a core busy.
# wrk's delay() hook waits whole milliseconds, so requests leave in bursts each millisecond,
# and a stalled client catches its missed send slots up at once (the schedule is absolute): a
# client stall arrives at the server as a burst. Tried and not kept: a 100 us scheduler slice
# for the HTTP workers (sched_setattr, Linux 6.12+) gave a median p99 of 2.1 ms against 3.6
# over 10 rounds here, but doubled the closed-loop p99 of /v1/score while another job was busy
# and cost ~4% of its throughput; riskd --threads 1, wrk -t1, and riskd and wrk pinned to a
# core each were no better within the noise.
#
# /v1/score runs three services: riskd bare (one bundle, no flags, --no-log --no-monitor: the
# scoring path alone), riskd as a production deployment runs it (the decision log on SQLite,
# async; monitoring; one shadow model for every request; a rollout in progress: a controller
# holding a plan at its 10% stage, the candidate deciding a tenth of the traffic, gates
# evaluated every 5 s) and the FastAPI peer. After each production run the server's own
# /metrics and /v1/rollouts are read (bench/http/evidence.mjs) and printed with the table: a
# run in which any of the four did nothing is reported as a defect and fails the bench.
#
# Environment (defaults):
#   BENCH_HTTP_SECONDS=5         each timed case
#   BENCH_HTTP_ROUNDS=3          interleaved rounds of every case (BENCH_HTTP_SHADOW_ROUNDS,
#                                the older name, is read when this is unset)
#   BENCH_HTTP_WARMUP=2          a warm-up run per server before its section (JIT, caches)
#   BENCH_HTTP_TIMEOUT=10        wrk --timeout, seconds: slower answers are counted as
#                                timeouts and left out of the latency figures
#   BENCH_HTTP_OFREP_CONNS="100 1000 5000"   BENCH_HTTP_OFREP_RATE=20000 at
#   BENCH_HTTP_OFREP_RATE_CONNS=1000
#   BENCH_HTTP_SCORE_CONNS="1 64 1000"       BENCH_HTTP_SCORE_RATES="100 2000" at
#   BENCH_HTTP_SCORE_RATE_CONNS=64
#   BENCH_HTTP_PROD_CONNS=64     the production server runs the closed loop at these
#                                connections and every fixed rate (its targets: 64, 2,000 req/s)
#   BENCH_HTTP_SHADOW_RATE=1000  the fixed rate of the shadow, log and monitor sections, at 64
#                                connections
#   BENCH_HTTP_QUIET_WAIT=20     before a fixed-rate run, wait up to this many seconds for the
#                                rest of the machine to be quiet (under 0.15 of a core busy
#                                outside the servers for 1 s; 0: do not wait); the run goes
#                                ahead either way, with the wait and the cores busy recorded
#   BENCH_HTTP_SECTIONS="ofrep score shadow log monitor"   the sections to run
#   RISKD_SHARED=../shared       the shared data (the score sections are skipped without it)
#   RISKD_BIN=build/riskd
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_HTTP_SECONDS:-5}
rounds=${BENCH_HTTP_ROUNDS:-${BENCH_HTTP_SHADOW_ROUNDS:-3}}
warmup=${BENCH_HTTP_WARMUP:-2}
timeout=${BENCH_HTTP_TIMEOUT:-10}
ofrep_conns=${BENCH_HTTP_OFREP_CONNS:-100 1000 5000}
ofrep_rate=${BENCH_HTTP_OFREP_RATE:-20000}
ofrep_rate_conns=${BENCH_HTTP_OFREP_RATE_CONNS:-1000}
score_conns=${BENCH_HTTP_SCORE_CONNS:-1 64 1000}
score_rates=${BENCH_HTTP_SCORE_RATES:-100 2000}
score_rate_conns=${BENCH_HTTP_SCORE_RATE_CONNS:-64}
prod_conns=${BENCH_HTTP_PROD_CONNS:-64}
sections=${BENCH_HTTP_SECTIONS:-ofrep score shadow log monitor}
quiet_wait=${BENCH_HTTP_QUIET_WAIT:-20}
shadow_rate=${BENCH_HTTP_SHADOW_RATE:-1000}
SHARED=${RISKD_SHARED:-../shared}
RISKD=${RISKD_BIN:-build/riskd}
PY=/usr/bin/python3

# The knobs, checked before anything starts: a misspelt section or a word where a number goes
# would otherwise run nothing, or wait forever, and still exit 0.
knob_error() { echo "bench/http.sh: $1" >&2; exit 2; }
for v in secs rounds warmup timeout ofrep_rate ofrep_rate_conns score_rate_conns quiet_wait shadow_rate; do
    case ${!v} in '' | *[!0-9]*) knob_error "$v: expected a whole number, got \"${!v}\"" ;; esac
done
for v in ofrep_conns score_conns score_rates prod_conns; do
    for n in ${!v}; do
        case $n in *[!0-9]* | 0) knob_error "$v: expected positive whole numbers, got \"${!v}\"" ;; esac
    done
done
[ "$rounds" -ge 1 ] && [ "$secs" -ge 1 ] || knob_error "BENCH_HTTP_ROUNDS and BENCH_HTTP_SECONDS must be at least 1"
for sec in $sections; do
    case $sec in ofrep | score | shadow | log | monitor) ;; *) knob_error "BENCH_HTTP_SECTIONS: no section \"$sec\" (ofrep score shadow log monitor)" ;; esac
done
for n in $prod_conns; do
    case " $score_conns " in *" $n "*) ;; *) knob_error "BENCH_HTTP_PROD_CONNS: $n is not among BENCH_HTTP_SCORE_CONNS ($score_conns): the production row would be left out" ;; esac
done
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

hz=$(getconf CLK_TCK)
# CPU time (clock ticks) used so far by every process of the session SID (a server's)
sid_ticks() {
    local p v t=0
    for p in $(pgrep -s "$1"); do
        v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
# ... by every running server
cpu_ticks() {
    local sid t=0
    for sid in "${servers[@]}"; do t=$((t + $(sid_ticks "$sid"))); done
    echo "$t"
}
# ... by the whole machine (/proc/stat: user, nice, system, irq, softirq, steal)
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# ... by this script's waited-for children, into $child (bash's times, its second line; called
# without a subshell, whose times would be its own children's)
child_ticks() {
    times >"$logs/times"
    child=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
                           printf "%d\n", t * '"$hz"' }' "$logs/times")
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

# quiet: waits (at most quiet_wait seconds) until the machine outside the servers has been
# quiet for a second: under 0.15 of a core busy (/proc/stat less the servers' own ticks; this
# script's pollers count, ~0.02). Another job on the two cores is what turns a fixed-rate p99 of
# ~1 ms into 5 (see the header); waiting for a gap between its bursts measures the server, and
# the cores each run shared are recorded either way. Sets quiet_waited (seconds).
quiet() {
    local t0 b0 s0 b1 s1 other
    t0=$(date +%s)
    quiet_waited=0
    [ "$quiet_wait" = 0 ] && return 0
    while :; do
        b0=$(busy_ticks) s0=$(cpu_ticks)
        sleep 1
        b1=$(busy_ticks) s1=$(cpu_ticks)
        other=$(((b1 - b0) - (s1 - s0)))
        quiet_waited=$(($(date +%s) - t0 - 1))
        [ "$other" -lt $((hz * 15 / 100)) ] && return 0
        [ "$quiet_waited" -ge "$quiet_wait" ] && return 0
    done
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

# run SECTION IMPL PID MODE CONNS RATE SCRIPT URL [ARGS...]: one wrk run, one line in http.jsonl,
# with the round ($round) and the cores the server (its session), wrk and the rest of the
# machine kept busy during the run
round=0
run() {
    local section=$1 impl=$2 pid=$3 mode=$4 conns=$5 rate=$6 script=$7 url=$8 line rc
    shift 8
    local threads=$((conns < 2 ? conns : 2))
    local head="{\"section\":\"$section\",\"impl\":\"$impl\",\"round\":$round,\"mode\":\"$mode\",\"connections\":$conns,"
    local failed="${head}\"offered_rps\":${rate:-null},\"failed\""
    local t0 t1 b0 b1 s0 s1 w0 w1 cpu
    progress "$(printf '%s %s %s, %d connections%s, round %d' "$section" "$impl" "$mode" "$conns" "${rate:+ at $rate req/s}" "$round")"
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "${failed}:\"server exited\"}" >>"$results"
        return 0
    fi
    if [ "$conns" -gt $((fds - 64)) ]; then
        echo "${failed}:\"open files limit $fds\"}" >>"$results"
        return 0
    fi
    quiet_waited=0
    [ "$mode" = rate ] && quiet
    child_ticks
    s0=$(sid_ticks "$pid") w0=$child b0=$(busy_ticks) t0=$(date +%s%N)
    WRK_RATE=$rate WRK_THREADS=$threads wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout "${timeout}s" \
        -s "$script" "$url" -- "$@" >"$logs/wrk.out" 2>&1 &
    wrk_pid=$!
    rc=0
    wait "$wrk_pid" || rc=$?
    wrk_pid=
    t1=$(date +%s%N) b1=$(busy_ticks) s1=$(sid_ticks "$pid")
    child_ticks
    w1=$child
    # cores = ticks / (hz x seconds); "other" is whatever else ran: another job, the kernel's work
    # for the idle servers, this script's pollers
    cpu=$(awk -v s=$((s1 - s0)) -v w=$((w1 - w0)) -v b=$((b1 - b0)) -v ns=$((t1 - t0)) -v hz="$hz" \
        'BEGIN { d = hz * ns / 1e9; printf "\"cpu_cores\":{\"server\":%.2f,\"wrk\":%.2f,\"other\":%.2f},", s / d, w / d, (b - s - w) / d }')
    cpu="${cpu}\"quiet_waited_s\":$quiet_waited,"
    settle
    line=$(grep '^{"requests"' "$logs/wrk.out" | tail -n 1 || true)
    if [ -n "$line" ]; then
        echo "${head}${cpu}${line#\{}" >>"$results"
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

# rotate SECTION N MODE CONNS RATE SCRIPT PATH ARGS...: every side of sides[] that takes the case
# (takes NAME MODE CONNS) runs it, one after the other, the first rotating with N; side NAME is
# served at side_url[NAME] by side_pid[NAME]. The production server's runs are bracketed by its
# own counters (evidence).
declare -A side_pid side_url
sides=()
takes() { true; }
rotate() {
    local section=$1 n=$2 mode=$3 conns=$4 rate=$5 script=$6 path=$7 k name
    shift 7
    local todo=()
    for name in "${sides[@]}"; do takes "$name" "$mode" "$conns" && todo+=("$name"); done
    for ((k = 0; k < ${#todo[@]}; k++)); do
        name=${todo[$(((n + k) % ${#todo[@]}))]}
        [ "$name" = riskd+production ] && node bench/http/evidence.mjs snap "${side_url[$name]}" >"$logs/evidence.json"
        run "$section" "$name" "${side_pid[$name]}" "$mode" "$conns" "$rate" "$script" "${side_url[$name]}$path" "$@"
        if [ "$name" = riskd+production ]; then
            printf '{"section":"%s-evidence","round":%d,"mode":"%s","connections":%d,"offered_rps":%s,"evidence":%s}\n' \
                "$section" "$round" "$mode" "$conns" "${rate:-null}" \
                "$(node bench/http/evidence.mjs diff "${side_url[$name]}" "$logs/evidence.json")" >>"$results"
        fi
    done
}
want() { [[ " $sections " == *" $1 "* ]]; }

echo
echo "HTTP: riskd serve beside its peers, wrk -t2 on the same $(nproc) cores, ${secs}s per case," \
    "$rounds interleaved rounds (open files: $fds)"

# ------------------------------------------------------------------ OFREP
if want ofrep; then
    flags=bench/flags/flags.json
    flag=fractional-flag
    contexts=bench/flags/contexts.json
    opath=/ofrep/v1/evaluate/flags/$flag
    start_riskd riskd-ofrep --flags "$flags"
    side_pid[riskd]=$riskd_pid side_url[riskd]=$riskd_url
    port=$(free_port)
    start flagd-core node bench/peers/ofrep_flagd_core.mjs --flags "$flags" --port "$port" --workers 2
    side_pid[flagd-core]=$last_pid side_url[flagd-core]=http://127.0.0.1:$port
    sides=(riskd flagd-core)
    body="{\"context\":$(sed -n '2{s/,[[:space:]]*$//;p}' "$contexts")}"
    wait_ready flagd-core "${side_pid[flagd-core]}" "${side_url[flagd-core]}$opath" "$body"
    same_answer "OFREP $flag" "$body" "$riskd_url$opath" "${side_url[flagd-core]}$opath" key,value,variant,reason
    warm bench/http/ofrep.lua "$riskd_url$opath" "$contexts"
    warm bench/http/ofrep.lua "${side_url[flagd-core]}$opath" "$contexts"
    for round in $(seq "$rounds"); do
        n=$round
        for c in $ofrep_conns; do
            rotate ofrep $n closed "$c" "" bench/http/ofrep.lua "$opath" "$contexts"
            n=$((n + 1))
        done
        if [ "$ofrep_rate" != 0 ]; then
            rotate ofrep $n rate "$ofrep_rate_conns" "$ofrep_rate" bench/http/ofrep.lua "$opath" "$contexts"
        fi
    done
    progress ''
    cleanup
    echo
    echo "OFREP single evaluation: POST $opath (fractional rollout: 4 variants by targetingKey),"
    echo "1,024 users rotated (bench/flags/contexts.json); riskd serve --flags $flags vs a flagd-style"
    echo "Node service: node:http + cluster (2 workers) + @openfeature/flagd-core 4.0.1 (bench/peers/ofrep_flagd_core.mjs)"
    echo
    node bench/report_http.mjs "$results" ofrep
fi

# ------------------------------------------------------------------ /v1/score
model=$SHARED/data/models/credit_xgb.json
spec=$SHARED/data/models/credit_xgb.features.json
data=$SHARED/data/credit_data.csv
if ! want score && ! want shadow && ! want log && ! want monitor; then
    exit 0
fi
if [ ! -f "$model" ] || [ ! -f "$spec" ] || [ ! -f "$data" ]; then
    echo
    echo "HTTP /v1/score benchmark skipped: shared data not present ($SHARED/data)"
    exit 0
fi
$PY -c 'import fastapi, uvicorn, xgboost, pandas, sklearn' 2>/dev/null ||
    die "the FastAPI peer needs python3-fastapi python3-uvicorn python3-xgboost python3-pandas python3-sklearn (scripts/deps.sh)"
# build_bundle DIR NAME: the shared model as bundle NAME in DIR/NAME, unless a good one is there
# (absent, or cached by an older riskd: a reference without quantiles, no KS for the monitor)
build_bundle() {
    if ! "$RISKD" bundle verify "$1/$2" >/dev/null 2>&1 || ! grep -q '"quantiles"' "$1/$2/reference.json"; then
        rm -rf "${1:?}/$2"
        mkdir -p "$1"
        "$RISKD" bundle build --name "$2" --model "$model" --pipeline "$spec" --data "$data" \
            --label Status --positive bad --out "$1/$2" >&2
    fi
}
bundles=$out/bundles
bundle=$bundles/credit_xgb_v1.0
build_bundle "$bundles" credit_xgb_v1.0
bodies=$out/score_bodies.jsonl
if [ ! -s "$bodies" ] || [ "$data" -nt "$bodies" ] || [ bench/http/score_bodies.mjs -nt "$bodies" ]; then
    node bench/http/score_bodies.mjs "$data" "$bodies" 2>/dev/null
fi
spath=/v1/score
if want score; then
    # The production deployment: three bundles of the shared model (the control v1.0, the
    # candidate v1.1 of the rollout, v1.2 scored in shadow), a flag file routing a tenth of the
    # traffic to the candidate, the rollout controller running a plan held at that stage (a
    # day's hold), the decision log (SQLite, async) and the monitor on, as they are by default.
    prod=$out/production
    for v in 1.0 1.1 1.2; do build_bundle "$prod/bundles" "credit_xgb_v$v"; done
    rm -rf "$prod/data"
    cat >"$prod/flags.json" <<'J'
{"flags":{
 "model-route":{"state":"ENABLED","variants":{"champion":"credit_xgb_v1.0","challenger":"credit_xgb_v1.1"},
   "defaultVariant":"champion","targeting":{"fractional":[["challenger",10000],["champion",90000]]}},
 "model-shadow":{"state":"ENABLED","variants":{"on":{"bundles":["credit_xgb_v1.2"]},"off":{"bundles":[]}},
   "defaultVariant":"on"}}}
J
    cat >"$prod/rollout.json" <<'J'
{"name":"bench-rollout","description":"make bench: a rollout held at its 10% stage while the bench runs",
 "route_flag":"model-route",
 "control":{"bundle":"credit_xgb_v1.0","variant":"champion"},
 "candidate":{"bundle":"credit_xgb_v1.1","variant":"challenger"},
 "interval":"5s",
 "gates":[{"metric":"reject_rate","compare":"ratio","pass":{"<":1.2},"fail":{">=":1.5}},
          {"metric":"error_rate","compare":"difference","pass":{"<":0.002},"fail":{">=":0.01}},
          {"metric":"latency_p99_ms","pass":{"<":150},"fail":{">=":200}},
          {"metric":"srm"}],
 "stages":[{"name":"10%","candidate_weight":10000,"hold":"1d","min_samples":1000,
            "gates":[{"metric":"score_psi","pass":{"<":0.1},"fail":{">=":0.25}}]},
           {"name":"100%","candidate_weight":100000,"hold":"1d"}]}
J
    start_riskd riskd-score --bundles "$bundles" --no-log --no-monitor
    side_pid[riskd]=$riskd_pid side_url[riskd]=$riskd_url
    riskd_opts_saved=("${riskd_opts[@]}")
    riskd_opts=(--log-level warn --data-dir "$prod/data")
    start_riskd riskd-production --bundles "$prod/bundles" --flags "$prod/flags.json" --route-flag model-route \
        --shadow-flag model-shadow --rollout "$prod/rollout.json"
    riskd_opts=("${riskd_opts_saved[@]}")
    side_pid[riskd+production]=$riskd_pid side_url[riskd+production]=$riskd_url
    port=$(free_port)
    start fastapi $PY bench/peers/score_fastapi.py --model "$model" --features "$spec" --port "$port" \
        --workers 2 --reuse-port --risk-bands "$bundle/manifest.json" --model-version credit_xgb_v1.0
    side_pid[fastapi]=$last_pid side_url[fastapi]=http://127.0.0.1:$port
    sides=(riskd riskd+production fastapi)
    # the production server: the closed loop at prod_conns, every fixed rate
    takes() { [ "$1" != riskd+production ] || [ "$2" = rate ] || [[ " $prod_conns " == *" $3 "* ]]; }
    body=$(sed -n 1p "$bodies")
    for s in "${sides[@]}"; do wait_ready "$s" "${side_pid[$s]}" "${side_url[$s]}$spath" "$body"; done
    for i in 1 3 30; do
        same_answer "/v1/score row $i" "$(sed -n "${i}p" "$bodies")" "${side_url[riskd]}$spath" "${side_url[fastapi]}$spath" \
            request_id,probability,risk_level,decision,model_version,reasons
    done
    for s in "${sides[@]}"; do warm bench/http/score.lua "${side_url[$s]}$spath" "$bodies"; done
    for round in $(seq "$rounds"); do
        n=$round
        for c in $score_conns; do
            rotate score $n closed "$c" "" bench/http/score.lua "$spath" "$bodies"
            n=$((n + 1))
        done
        for r in $score_rates; do
            rotate score $n rate "$score_rate_conns" "$r" bench/http/score.lua "$spath" "$bodies"
            n=$((n + 1))
        done
    done
    takes() { true; }
    progress ''
    cleanup
    echo
    echo "/v1/score: credit_xgb.json (300 trees) on $(wc -l <"$bodies") raw applications rotated"
    echo "(credit_data.csv), 4 reason codes each; riskd serve --bundles (bundle credit_xgb_v1.0, --no-log"
    echo "--no-monitor: the scoring path alone) vs FastAPI 0.92 + uvicorn 0.17 (uvloop, httptools; 2 workers,"
    echo "each on its own SO_REUSEPORT socket) + pandas + XGBoost 1.7.4 predict_proba and pred_contribs"
    echo "(bench/peers/score_fastapi.py)"
    echo
    node bench/report_http.mjs "$results" score
    echo
    echo "/v1/score as a production deployment runs it: the decision log (SQLite, async), the monitor,"
    echo "one shadow model (every request), a rollout in progress (plan held at 10%, gates every 5 s),"
    echo "beside the bare path and FastAPI"
    echo
    node bench/report_http.mjs "$results" score production || evidence_missing=1
fi

# ------------------------------------------------------------------ /v1/score with a shadow
# The same service twice, the second with one shadow model (a second bundle of the same
# model, listed by the shadow flag for every request): what shadow scoring costs the primary.
# Closed loop and a fixed rate at 64 connections; the shadow server's dropped shadow work
# (its queue full) is read from /metrics after each run and printed beside the figures.
if want shadow; then
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
    for round in $(seq "$rounds"); do
        for m in closed rate; do
            rate=
            [ "$m" = rate ] && rate=$shadow_rate
            if [ $((round % 2)) = 0 ]; then
                run shadow riskd "$off_pid" "$m" 64 "$rate" bench/http/score.lua "$off_url$spath" "$bodies"
                shadow_run "$round" "$m" "$rate"
            else
                shadow_run "$round" "$m" "$rate"
                run shadow riskd "$off_pid" "$m" 64 "$rate" bench/http/score.lua "$off_url$spath" "$bodies"
            fi
        done
    done
    progress ''
    cleanup
    echo
    echo "/v1/score with one shadow model (the same 300-tree model as a second bundle, every request) vs"
    echo "without, 64 connections, median of $rounds interleaved rounds (min–max)"
    echo
    node bench/report_shadow.mjs "$results"
fi

# ------------------------------------------------------------------ /v1/score with the decision log
# The same service with the log off, async (the default) and ack, interleaved rounds; the
# log's refusals (a full queue answers 503) are counted from the errors column.
if want log; then
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
    for round in $(seq "$rounds"); do
        for m in closed rate; do
            rate=
            [ "$m" = rate ] && rate=$shadow_rate
            order=(off async ack ${pg_pid:+pg})
            [ $((round % 2)) = 0 ] && order=(${pg_pid:+pg} ack async off)
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
    echo "64 connections, median of $rounds interleaved rounds (min–max)"
    echo
    node bench/report_shadow.mjs "$results" log
fi

# ------------------------------------------------------------------ /v1/score with monitoring
# The same service with the monitor off (--no-monitor) and on (the default: counters per
# bundle, score bins, KS cells, per-input bins on every decision), interleaved rounds; target:
# the difference within the spread and at most 5%.
if want monitor; then
    start_riskd riskd-nomon --bundles "$bundles" --no-monitor
    nomon_url=$riskd_url nomon_pid=$riskd_pid
    start_riskd riskd-mon --bundles "$bundles"
    mon_url=$riskd_url mon_pid=$riskd_pid
    for u in "$nomon_url" "$mon_url"; do warm bench/http/score.lua "$u$spath" "$bodies"; done
    for round in $(seq "$rounds"); do
        for m in closed rate; do
            rate=
            [ "$m" = rate ] && rate=$shadow_rate
            if [ $((round % 2)) = 0 ]; then
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
    echo "/v1/score with the monitor on vs off, 64 connections, median of $rounds interleaved rounds (min–max)"
    echo
    node bench/report_shadow.mjs "$results" monitor
fi

[ -z "${evidence_missing:-}" ] || die "the production server did not run its whole path (evidence above)"
