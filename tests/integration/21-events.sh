#!/usr/bin/env bash
# OFREP change events and the flag set as a document, with curl: the bulk response advertises
# the stream; GET /ofrep/v1/events gets one refetchEvaluation per flag set change (the new
# ETag), heartbeats, nothing for a refused or unchanged file; the stream limit answers 503;
# a re-fetch naming another flag set is never a 304; GET /v1/flagsets/{id} serves the bytes in
# force with an ETag; SIGTERM ends every stream cleanly.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }

flags() { # VARIANT: a flag set whose default variant is VARIANT
    printf '{"flags":{"route":{"state":"ENABLED","variants":{"a":"m_v1.0","b":"m_v1.1"},"defaultVariant":"%s"},
 "on":{"state":"ENABLED","variants":{"y":true,"n":false},"defaultVariant":"y"}},
 "metadata":{"flagSetId":"risk","version":"1"}}\n' "$1"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
get() { # PATH [curl args]: the status; the body in $T/r, the headers in $T/h
    local path=$1
    shift
    rm -f "$T/r"
    curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' --max-time 10 "$@" "$U$path"
}
bulk() { # [curl args]
    rm -f "$T/r"
    curl -s -o "$T/r" -D "$T/h" -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
        -d '{"context":{"targetingKey":"u1"}}' "$@" "$U/ofrep/v1/evaluate/flags$Q"
}
metric() { curl -s "$U/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
wait_for() { # CMD...: poll until CMD succeeds (20 s at most)
    for _ in $(seq 1 200); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
streams_are() { [ "$(metric riskd_sse_streams)" = "$1" ]; }
refused_reloads() { [ "$(metric 'riskd_reloads_total{what="flags",result="refused"}')" -ge "$1" ] 2>/dev/null; }
events_in() { grep -c '^data: {"type":"refetchEvaluation"' "$1"; }
all_have() { # N: every stream file has at least N events
    for f in "$T"/s?.txt; do [ "$(events_in "$f")" -ge "$1" ] || return 1; done
}

flags a >"$T/flags.json"

# ---- configuration
"$BIN" serve --flags "$T/flags.json" --max-connections 100 --sse-max-streams 100 --check-config >"$T/out" 2>&1
check "sse_max_streams not below max_connections is refused" 1 $? "sse_max_streams \(100\) must be below max_connections \(100\)" "$T/out"
"$BIN" serve --flags "$T/flags.json" --sse-heartbeat-s 0 --check-config >"$T/out" 2>&1
check "sse_heartbeat_s 0 is refused" 1 $? "sse_heartbeat_s" "$T/out"
"$BIN" serve --help >"$T/out" 2>&1
check "--help documents the streams" 0 $? "--sse-max-streams N" "$T/out"

# ---- the flag set as a document
start --flags "$T/flags.json" --reload-interval-ms 100 --sse-heartbeat-s 1 --sse-max-streams 3 --max-connections 50 ||
    exit 1
Q=
code=$(get /v1/flagsets/risk)
check "GET /v1/flagsets/risk: 200" 0 $([ "$code" = 200 ]; echo $?)
cmp -s "$T/r" "$T/flags.json"
check "the body is the flag file's bytes" 0 $?
grep -qi "^etag: \"$(sha "$T/flags.json")\"" "$T/h"
check "its ETag is the file's SHA-256" 0 $?
grep -qi '^last-modified: ' "$T/h"
check "it says Last-Modified" 0 $?
etag1="\"$(sha "$T/flags.json")\""
code=$(get /v1/flagsets/risk -H "If-None-Match: W/$etag1")
check "If-None-Match with the ETag: 304" 0 $([ "$code" = 304 ] && [ ! -s "$T/r" ]; echo $?)
code=$(get /v1/flagsets/flagSetId%3Drisk)
check "flagd's selector form flagSetId=risk names it too" 0 $([ "$code" = 200 ]; echo $?)
code=$(get /v1/flagsets/other)
check "an unknown flag set: 404" 0 $([ "$code" = 404 ]; echo $?) '"code":"FLAGSET_NOT_FOUND".*serves `risk`' "$T/r"
code=$(get /v1/flagsets/risk -X POST)
check "POST /v1/flagsets/risk: 405" 0 $([ "$code" = 405 ]; echo $?) "METHOD_NOT_ALLOWED" "$T/r"
code=$(get /v1/flagsets)
check "GET /v1/flagsets lists it" 0 $([ "$code" = 200 ]; echo $?) '"id":"risk","etag":"\\"[0-9a-f]{64}\\"","flags":2' "$T/r"

# ---- the bulk response advertises the stream
code=$(bulk)
check "bulk: 200" 0 $([ "$code" = 200 ]; echo $?) \
    '"eventStreams":\[\{"type":"sse","endpoint":\{"requestUri":"/ofrep/v1/events"\},"inactivityDelaySec":120\}\]' "$T/r"
betag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: //p' "$T/h" | tr -d '\r')
code=$(get /ofrep/v1/events -X POST)
check "POST /ofrep/v1/events: 405" 0 $([ "$code" = 405 ]; echo $?)

# ---- three streams, the fourth refused
for i in 1 2 3; do
    curl -sN --max-time 60 -D "$T/s$i.h" "$U/ofrep/v1/events" >"$T/s$i.txt" 2>/dev/null &
    eval "C$i=$!"
done
wait_for streams_are 3
check "three streams open (riskd_sse_streams)" 0 $?
code=$(get /ofrep/v1/events)
check "a fourth stream: 503 TOO_MANY_STREAMS" 0 $([ "$code" = 503 ]; echo $?) '"code":"TOO_MANY_STREAMS"' "$T/r"
grep -qi '^retry-after: ' "$T/h"
check "... with Retry-After" 0 $?
grep -q '^retry: 2000' "$T/s1.txt"
check "a stream starts with its retry hint" 0 $? "^retry" "$T/s1.txt"
grep -qi '^content-type: text/event-stream' "$T/s1.h" && grep -qi '^cache-control: no-cache' "$T/s1.h"
check "a stream is text/event-stream, not cached" 0 $?

# ---- a change reaches every stream
t0=$(date +%s%N)
flags b >"$T/flags.json.new" && mv "$T/flags.json.new" "$T/flags.json"
wait_for all_have 1
check "a flag change reaches all three streams" 0 $?
t1=$(date +%s%N)
echo "figure: flag file written -> last of 3 streams has its event: $(((t1 - t0) / 1000000)) ms (reload_interval_ms 100)"
etag2="\"$(sha "$T/flags.json")\""
grep -qF "data: {\"type\":\"refetchEvaluation\",\"etag\":\"\\\"${etag2:1:64}\\\"\",\"lastModified\":" "$T/s2.txt"
check "the event carries the new flag set's ETag" 0 $? "refetchEvaluation" "$T/s2.txt"
for f in "$T"/s?.txt; do
    grep '^data: ' "$f" | head -1 | sed 's/^data: //' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["type"]=="refetchEvaluation" and isinstance(d["lastModified"], int)' ||
        echo "bad event JSON in $f"
done >"$T/out" 2>&1
[ ! -s "$T/out" ]
check "every event is JSON with an integer lastModified" 0 $?
cat "$T/out"

# ---- a re-fetch naming a flag set
Q="?flagConfigEtag=$(printf %s "$etag1" | sed 's/"/%22/g')"
code=$(bulk -H "If-None-Match: $betag")
check "a re-fetch naming the old flag set is not a 304" 0 $([ "$code" = 200 ]; echo $?)
code=$(bulk)
betag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: //p' "$T/h" | tr -d '\r')
Q="?flagConfigEtag=$(printf %s "$etag2" | sed 's/"/%22/g')"
code=$(bulk -H "If-None-Match: $betag")
check "a re-fetch naming the flag set in force can be a 304" 0 $([ "$code" = 304 ]; echo $?)
Q="?flagConfigEtag=${etag2:1:64}&flagConfigLastModified=$(($(date +%s) + 3600))"
code=$(bulk -H "If-None-Match: $betag")
check "a lastModified newer than the flag set here: 200, not 304" 0 $([ "$code" = 200 ]; echo $?)
Q="?flagConfigLastModified=yesterday"
code=$(bulk -H "If-None-Match: $betag")
check "an unreadable lastModified: 200, never a 304 on a guess" 0 $([ "$code" = 200 ]; echo $?)
Q=

# ---- what is not a change
wait_for grep -q '^: ping' "$T/s3.txt"
check "heartbeats arrive" 0 $?
kill -HUP "$PID"
echo '{"flags": {"broken": ' >"$T/flags.json.new" && mv "$T/flags.json.new" "$T/flags.json"
wait_for refused_reloads 1
check "the broken file is refused" 0 $?
sleep 0.3
check "SIGHUP with the same file, then a broken file: no event" 0 $([ "$(events_in "$T/s1.txt")" = 1 ]; echo $?)
code=$(get /v1/flagsets/risk)
check "the refused file is not served as the flag set" 0 $([ "$code" = 200 ] && [ "$(sha "$T/r")" = "${etag2:1:64}" ]; echo $?)

# ---- a client that goes away is forgotten at the next heartbeat
kill "$C3"
wait "$C3" 2>/dev/null
wait_for streams_are 2
check "a stream whose client left is closed (riskd_sse_streams 2)" 0 $?

# ---- SIGTERM ends the streams cleanly
stop
check "SIGTERM with streams open: exit 0" 0 $?
wait "$C1"
check "the stream ended cleanly (curl exit 0: the chunked body was terminated)" 0 $?
wait "$C2"

# ---- a client that leaves frees its slot at once, not at the next heartbeat (10 minutes here)
flags a >"$T/flags.json"
start --flags "$T/flags.json" --sse-heartbeat-s 600 --sse-max-streams 2 --max-connections 50 || exit 1
for i in 4 5; do
    curl -sN --max-time 60 "$U/ofrep/v1/events" >"$T/s$i.txt" 2>/dev/null &
    eval "C$i=$!"
done
wait_for streams_are 2
check "two streams open, the limit" 0 $?
code=$(get /ofrep/v1/events)
check "a third: 503" 0 $([ "$code" = 503 ]; echo $?)
t0=$(date +%s%N)
kill "$C4" "$C5"
wait "$C4" "$C5" 2>/dev/null
wait_for streams_are 0
check "both clients left: their streams are closed without waiting for a heartbeat" 0 $?
echo "figure: clients closed -> riskd_sse_streams 0: $((($(date +%s%N) - t0) / 1000000)) ms (heartbeat 600 s)"
curl -sN --max-time 1 -o "$T/s6.txt" -w '%{http_code}' "$U/ofrep/v1/events" >"$T/code" 2>/dev/null
check "a new stream takes a freed slot" 0 $(grep -q '^200$' "$T/code" && grep -q '^retry: 2000' "$T/s6.txt"; echo $?)
stop
check "stops cleanly" 0 $?

# ---- auth_scoring: OFREP needs a token, the event stream does not (no flag data; EventSource sends none)
start --flags "$T/flags.json" --auth --auth-scoring || exit 1
code=$(bulk)
check "auth_scoring: the bulk evaluation without a token is 401" 0 $([ "$code" = 401 ]; echo $?)
code=$(curl -s -o "$T/s7.txt" -D "$T/s7.h" -w '%{http_code}' --max-time 1 "$U/ofrep/v1/events")
check "auth_scoring: the event stream opens without one" 0 $([ "$code" = 200 ] && grep -q '^retry: 2000' "$T/s7.txt"; echo $?)
grep -qi '^connection: close' "$T/s7.h"
check "a stream's connection is not reused once it ends" 0 $?
code=$(get /v1/flagsets/risk)
check "auth_scoring: the flag set document needs a token (it holds the rules)" 0 $([ "$code" = 401 ]; echo $?)
stop
check "stops cleanly" 0 $?

# ---- streams off
start --flags "$T/flags.json" --sse-max-streams 0 || exit 1
code=$(bulk)
check "sse_max_streams 0: no eventStreams in the bulk response" 1 $(grep -q eventStreams "$T/r"; echo $?)
code=$(get /ofrep/v1/events)
check "sse_max_streams 0: GET /ofrep/v1/events is 404" 0 $([ "$code" = 404 ]; echo $?)
stop
check "stops cleanly" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
