#!/usr/bin/env bash
# make bench: the OFREP event stream's fan-out (issue 15), `riskd serve` alone (flagd's OFREP
# has no event stream, flagd #2012: there is no peer to run beside it).
#   - bench/sse_fanout.c opens BENCH_SSE_STREAMS (5,000) streams to GET /ofrep/v1/events on one
#     epoll loop, waits until every stream has its response headers, then changes the flag
#     file BENCH_SSE_CHANGES times a round (rewritten through a rename, then SIGHUP) and
#     measures the time from the write to the LAST stream's refetchEvaluation event (target:
#     under 500 ms here);
#   - the OFREP request rate (wrk, POST /ofrep/v1/evaluate/flags/fractional-flag, closed loop
#     at BENCH_SSE_CONNS connections, the contexts of bench/flags/contexts.json) with no
#     stream open and with the streams open (held by the same tool), in BENCH_SSE_ROUNDS
#     interleaved rounds, the first side alternating: median [min-max] and the ratio.
# One riskd serves both sides (max_connections and sse_max_streams raised above the streams).
#
# Environment (defaults): BENCH_SSE_STREAMS=5000 BENCH_SSE_ROUNDS=3 BENCH_SSE_CHANGES=3
#   BENCH_SSE_SECONDS=5 (each wrk run) BENCH_SSE_CONNS=100 BENCH_SSE_HEARTBEAT_S=5 (riskd's
#   sse_heartbeat_s: the streams a round closed are freed by the next heartbeat, which the next
#   round waits for) RISKD_BIN=build/riskd
set -euo pipefail
cd "$(dirname "$0")/.."

streams=${BENCH_SSE_STREAMS:-5000}
[ "${BENCH_QUICK:-0}" = 1 ] && : "${BENCH_SSE_ROUNDS:=1}"
rounds=${BENCH_SSE_ROUNDS:-3}
changes=${BENCH_SSE_CHANGES:-3}
secs=${BENCH_SSE_SECONDS:-5}
conns=${BENCH_SSE_CONNS:-100}
heartbeat=${BENCH_SSE_HEARTBEAT_S:-5}
RISKD=${RISKD_BIN:-build/riskd}
FANOUT=build/release/bench/sse_fanout
out=build/bench
logs=$out/sse-logs
results=$out/sse.jsonl
mkdir -p "$logs"
: >"$results"

die() {
    echo "bench/sse.sh: $*" >&2
    exit 1
}
for tool in wrk curl node; do command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh installs it)"; done
[ -x "$RISKD" ] || die "$RISKD not found; run make first"
[ -x "$FANOUT" ] || die "$FANOUT not found; run make bench"

riskd_pid=
fanout_pid=
wrk_pid=
cleanup() {
    [ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null
    [ -n "$fanout_pid" ] && kill -TERM "$fanout_pid" 2>/dev/null
    if [ -n "$riskd_pid" ]; then
        kill -TERM "$riskd_pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$riskd_pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$riskd_pid" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    riskd_pid=
    fanout_pid=
    wrk_pid=
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# streams + wrk's connections + riskd's own files, on both sides of loopback
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null || true; else ulimit -n "$hard"; fi
fds=$(ulimit -n)
[ "$fds" -ge $((streams + conns + 256)) ] || die "open files limit $fds is below $((streams + conns + 256))"

help=$("$RISKD" serve --help 2>&1)
grep -q -- '--sse-max-streams' <<<"$help" || die "$RISKD has no --sse-max-streams (no OFREP event stream in this build)"

# Two flag sets that differ in one flag: each change writes the one not being served.
flags_a=$out/sse-flags-a.json
flags_b=$out/sse-flags-b.json
served=$out/sse-flags.json
cp bench/flags/flags.json "$flags_a"
node -e '
    const fs = require("fs");
    const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    j.flags["sse-bench"] = { state: "ENABLED", variants: { a: "a", b: "b" }, defaultVariant: "b" };
    fs.writeFileSync(process.argv[2], JSON.stringify(j, null, 2) + "\n");' "$flags_a" "$flags_b"
cp "$flags_a" "$served"

"$RISKD" serve --listen 127.0.0.1:0 --flags "$served" --log-level warn --data-dir "$out/riskd-data" \
    --max-connections $((streams + conns + 1000)) --sse-max-streams $((streams + 100)) \
    --sse-heartbeat-s "$heartbeat" \
    >"$logs/riskd.out" 2>"$logs/riskd.err" &
riskd_pid=$!
port=
for _ in $(seq 600); do
    port=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$logs/riskd.out")
    [ -n "$port" ] && break
    kill -0 "$riskd_pid" 2>/dev/null || { tail -n 20 "$logs/riskd.err" >&2; die "riskd exited at start"; }
    sleep 0.05
done
[ -n "$port" ] || die "riskd printed no 'listening on' line in 30 s"
url=http://127.0.0.1:$port
opath=/ofrep/v1/evaluate/flags/fractional-flag
contexts=bench/flags/contexts.json
curl -sf -o /dev/null -m 5 "$url/health" || die "riskd is not healthy"
curl -s -m 5 -H 'Content-Type: application/json' -d '{"context":{"targetingKey":"u"}}' "$url/ofrep/v1/evaluate/flags" |
    grep -q '"eventStreams"' || die "the bulk answer advertises no eventStreams"

# wrk_run ROUND STREAMS: one closed-loop run, one line in sse.jsonl
wrk_run() {
    local line rc=0
    wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s bench/http/ofrep.lua "$url$opath" -- "$contexts" \
        >"$logs/wrk.out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || rc=$?
    wrk_pid=
    line=$(grep '^{"requests"' "$logs/wrk.out" | tail -n 1 || true)
    if [ -n "$line" ]; then
        echo "{\"section\":\"sse-rate\",\"round\":$1,\"streams\":$2,\"connections\":$conns,${line#\{}" >>"$results"
    else
        echo "{\"section\":\"sse-rate\",\"round\":$1,\"streams\":$2,\"failed\":\"wrk exit $rc\"}" >>"$results"
    fi
    sleep 0.5 # the closed loop's last requests drain
}

# with_streams ROUND: the streams opened and the changes measured, then wrk while they are held
with_streams() {
    local r=$1 f=$logs/fanout-$1.out
    "$FANOUT" --port "$port" --streams "$streams" --flags "$served" --flags-a "$flags_a" --flags-b "$flags_b" \
        --pid "$riskd_pid" --changes "$changes" --hold --timeout-s 30 >"$f" 2>"$logs/fanout-$r.err" &
    fanout_pid=$!
    for _ in $(seq 1200); do
        grep -q '"case":"hold"' "$f" && break
        kill -0 "$fanout_pid" 2>/dev/null || break
        sleep 0.05
    done
    if grep -q '"case":"hold"' "$f"; then
        wrk_run "$r" "$streams"
    else
        echo "{\"section\":\"sse-rate\",\"round\":$r,\"streams\":$streams,\"failed\":\"the streams were not held\"}" >>"$results"
    fi
    kill -TERM "$fanout_pid" 2>/dev/null || true
    wait "$fanout_pid" 2>/dev/null || true
    fanout_pid=
    sed "s/^{/{\"section\":\"sse-fanout\",\"round\":$r,/" "$f" >>"$results"
    drained
}

# drained: waits until riskd holds no stream. A suspended stream's connection is not watched,
# so riskd learns that its client left only when it next writes to it (the heartbeat): up to
# sse_heartbeat_s after the tool closed them.
drained() {
    local n=
    for _ in $(seq $((heartbeat * 10 + 100))); do
        n=$(curl -s -m 5 "$url/metrics" | sed -n 's/^riskd_sse_streams \([0-9]*\)$/\1/p')
        [ "$n" = 0 ] && return 0
        sleep 0.1
    done
    echo "bench/sse.sh: riskd still counts ${n:-?} streams $((heartbeat + 10)) s after their clients closed them" >&2
}

# warm-up, not recorded
wrk -t2 -c64 -d2s -s bench/http/ofrep.lua "$url$opath" -- "$contexts" >/dev/null 2>&1 || true
echo
echo "OFREP event stream: $streams streams on GET /ofrep/v1/events (bench/sse_fanout.c, one epoll loop),"
echo "$changes flag changes a round (file rewritten + SIGHUP), and POST $opath at $conns connections"
echo "(wrk -t2, ${secs}s, closed loop) without and with the streams open; $rounds interleaved rounds, the same $(nproc) cores;"
echo "riskd: --max-connections $((streams + conns + 1000)) --sse-max-streams $((streams + 100)) --sse-heartbeat-s $heartbeat"
for r in $(seq "$rounds"); do
    if [ -t 2 ]; then printf '  round %d/%d\r' "$r" "$rounds" >&2; fi
    if [ $((r % 2)) = 1 ]; then
        wrk_run "$r" 0
        with_streams "$r"
    else
        with_streams "$r"
        wrk_run "$r" 0
    fi
done
if [ -t 2 ]; then printf '%40s\r' '' >&2; fi
echo
node bench/report_sse.mjs "$results"
