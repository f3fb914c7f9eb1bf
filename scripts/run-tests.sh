#!/usr/bin/env bash
# Run every test suite of riskd and close with one line "N passed, N failed".
# Each suite's full output goes to build/test-logs/<suite>.log; this prints one line per
# suite, and the log of any suite that failed.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export RISKD_SHARED=${RISKD_SHARED:-$ROOT/../shared}
LOGS=build/test-logs
mkdir -p "$LOGS"
# One line per suite "name passed failed skipped": two streams of suites run at once (below),
# so the totals are summed from this file at the end, not kept in variables.
RESULTS=$LOGS/results
: >"$RESULTS"

# Read counts from a suite's output: cmocka's [ PASSED ]/[ FAILED ] lines, or the plain
# closing line "N passed, N failed[, N skipped]".
count() {
    local log=$1 rc=$2 p f s line
    line=$(grep -E '^([a-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
        f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
        s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || true)
    else
        # cmocka: summed over the groups (the store's conformance suite runs one per backend)
        p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | awk '{n += $NF} END {print n + 0}')
        f=$(grep -oE '^\[  FAILED  \] [0-9]+' "$log" | awk '{n += $NF} END {print n + 0}')
        s=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$log" | awk '{n += $(NF - 1)} END {print n + 0}')
        if [ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ]; then f=1; fi # no result at all: it crashed
    fi
    s=${s:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi # a non-zero exit always counts as a failure
    echo "$p $f $s"
}

# A suite that hangs is stopped after SUITE_TIMEOUT seconds (then killed 10 s later) and
# counted as failed, so one stuck test cannot take the whole run past CI's limit.
SUITE_TIMEOUT=${RISKD_SUITE_TIMEOUT:-420}

run_suite() {
    local name=$1
    shift
    local log="$LOGS/$name.log"
    mkdir -p "$(dirname "$log")"
    local t0=$SECONDS
    timeout --kill-after=10 "$SUITE_TIMEOUT" "$@" >"$log" 2>&1
    local rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "TIMEOUT: $name ran past ${SUITE_TIMEOUT}s" >>"$log"
    fi
    read -r p f s < <(count "$log" "$rc")
    echo "$name $p $f $s" >>"$RESULTS"
    local out
    out=$(printf '%-44s %5d passed %3d failed %3d skipped  (%ds)' "$name" "$p" "$f" "$s" $((SECONDS - t0)))
    if [ "$f" != 0 ]; then
        out+=$'\n'"---- $log (last 40 lines) ----"$'\n'"$(tail -n 40 "$log")"$'\n'"----"
    fi
    echo "$out" # one write, so the two streams' lines do not interleave mid-line
}

# One throw-away PostgreSQL cluster for the whole run (scripts/pg-cluster.sh): suites take a fresh
# database of it with `scripts/pg-cluster.sh createdb "$RISKD_PG_DIR" NAME`; a suite that stops
# PostgreSQL (an outage) starts its own. Without the server, RISKD_PG_URL stays unset and the
# suites that need it say "skipped: postgresql not installed".
RISKD_PG_DIR=$(mktemp -d /tmp/riskd-pg.XXXXXX)
if url=$(scripts/pg-cluster.sh start "$RISKD_PG_DIR" 2>"$LOGS/pg-cluster.log"); then
    export RISKD_PG_DIR RISKD_PG_URL=$url
else
    cat "$LOGS/pg-cluster.log"
    rm -rf "$RISKD_PG_DIR"
    unset RISKD_PG_DIR
fi
trap '[ -n "${RISKD_PG_DIR:-}" ] && scripts/pg-cluster.sh destroy "$RISKD_PG_DIR"' EXIT

rm -rf build/reports # the reports the release integration tests write, rendered by the browser test

# A mode's suites: unit, conformance, the flagd testbed, integration.
run_mode() {
    local mode=$1
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export CMOCKA_MESSAGE_OUTPUT=stdout
    for t in $(find "build/$mode/tests/unit" -type f -name 'test_*' ! -name '*.d' 2>/dev/null | sort); do
        case $mode:${t#build/$mode/tests/unit/} in
        # the PostgreSQL cases of the store's conformance suite and of the spool run under ASan
        # (the same code; the release build runs PostgreSQL in 22-27): SQLite's here
        release:store/test_conformance | release:dlog/test_spool)
            run_suite "unit/$mode/${t#build/$mode/tests/unit/}" env -u RISKD_PG_URL -u RISKD_PG_DIR "$t"
            continue
            ;;
        esac
        run_suite "unit/$mode/${t#build/$mode/tests/unit/}" "$t"
    done
    for t in $(find "build/$mode/tests/conformance" -type f ! -name '*.d' 2>/dev/null | sort); do
        run_suite "conformance/$mode/$(basename "$t")" "$t"
    done
    run_suite "conformance/$mode/flagd-testbed" env RISKD_BIN="$ROOT/build/$mode/riskd" node tests/interop/testbed.mjs
    run_suite "conformance/$mode/flagd-testbed-strict" env RISKD_BIN="$ROOT/build/$mode/riskd" node tests/interop/testbed.mjs --strict
    for t in tests/integration/[0-9]*.sh; do
        [ -f "$t" ] || continue
        # the longer several-node scenarios run once, in release: under ASan the same code paths
        # run in 22-cluster and in the store and spool unit tests (the 15-minute budget)
        case "$mode:$(basename "$t" .sh)" in
        asan:23-store-outage | asan:24-governance-race | asan:25-cluster-rollout | asan:26-bundles-store | asan:27-start-outage | asan:31-notify-cluster | asan:34-exposure-cluster) continue ;;
        # run twice already, under ASan and under ThreadSanitizer (its minute is mostly waiting
        # for the simulated traffic), as is the sync service (release and ThreadSanitizer)
        release:09-rollout | asan:19-sync) continue ;;
        esac
        rdir=""
        [ "$mode" = release ] && rdir=$ROOT/build/reports
        run_suite "integration/$mode/$(basename "$t" .sh)" env RISKD_BIN="$ROOT/build/$mode/riskd" RISKD_REPORT_DIR="$rdir" bash "$t"
    done
}

# Two streams at once on the machine's two cores (most suites wait on servers, sockets and
# sleeps more than they compute, and none asserts a tight time): the release build's suites
# and the interop tests in the foreground; ASan, TSan and the fuzz corpora in the background.
sanitized() {
    run_mode asan
    run_tsan
    run_fuzz_replay
    run_python test_log
}

# run_python NAME...: tests/python/NAME.py with Debian's Python over the release build.
run_python() {
    for n in "$@"; do
        run_suite "python/$n" env RISKD_LIB="$ROOT/build/release/libriskd.so" \
            RISKD_BIN="$ROOT/build/release/riskd" /usr/bin/python3 "tests/python/$n.py"
    done
}

run_tsan() {
# The unit tests again under ThreadSanitizer (the concurrent evaluation tests matter here).
for t in $(find build/tsan/tests/unit -type f -name 'test_*' ! -name '*.d' 2>/dev/null | sort); do
    case $t in
    # the store conformance suite's concurrency is the database's, not threads of ours, and
    # TreeSHAP runs on one thread: release and ASan only
    build/tsan/tests/unit/store/test_conformance | build/tsan/tests/unit/model/test_treeshap) continue ;;
    # the spool's writer thread on SQLite here; its PostgreSQL cases run in release and ASan
    build/tsan/tests/unit/dlog/test_spool)
        run_suite "unit/tsan/dlog/test_spool" env -u RISKD_PG_URL -u RISKD_PG_DIR "$t"
        continue
        ;;
    esac
    run_suite "unit/tsan/${t#build/tsan/tests/unit/}" "$t"
done

export TSAN_OPTIONS=halt_on_error=1
# ... and the decision log: the writer, commits resuming suspended connections (ack), replay.
run_suite "integration/tsan/06-log" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/06-log.sh
# ... and the notifier: node events raised on request threads into its ring, its metrics read by scrapes.
run_suite "integration/tsan/29-notify" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/29-notify.sh
# ... and the outcomes: HTTP threads sharing the outcome store's handle beside the log's writer.
run_suite "integration/tsan/07-outcomes" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/07-outcomes.sh

# ... and TLS: handshakes on the HTTP threads taking the credentials the main thread reloads.
run_suite "integration/tsan/12-tls" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/12-tls.sh

# ... and the flagd sync service: its thread beside the HTTP workers, the listener waking it, TLS sessions.
run_suite "integration/tsan/19-sync" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/19-sync.sh

# ... and the admin API: a publish reloading from an HTTP thread, the token cache, the limiter.
run_suite "integration/tsan/14-admin" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/14-admin.sh



}

run_fuzz_replay() {
# The fuzz corpora replayed through the libFuzzer builds (ASan+UBSan): no crash, no leak.
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    n=$(basename "$f")
    run_suite "fuzz-replay/$n" bash -c "'$f' -runs=0 tests/fuzz/corpus/$n && echo '1 passed, 0 failed'"
done
}

sanitized &
sanitized_pid=$!
run_mode release

run_suite "interop/differential-flagd-core" env RISKD_BIN="$ROOT/build/release/riskd" node tests/interop/differential.mjs
run_suite "interop/ofrep-sdk" env RISKD_BIN="$ROOT/build/release/riskd" node tests/interop/ofrep_sdk.mjs
# OFREP in headless Chromium: web SDK + OFREP web provider from another origin (CORS), change
# events over the stream (skipped without /usr/bin/chromium).
run_suite "interop/browser-ofrep" env RISKD_BIN="$ROOT/build/release/riskd" node tests/interop/browser_ofrep.mjs
run_suite "interop/console" env RISKD_BIN="$ROOT/build/release/riskd" node tests/interop/console.mjs
run_suite "interop/differential-ofrep" env RISKD_BIN="$ROOT/build/release/riskd" node tests/interop/differential.mjs --engine ofrep
# The flagd in-process provider syncing from riskd's gRPC sync service (sync_listen); 8 sets keep it
# near 13 s (the full 24 sets, ~98,000 evaluations: run it by hand with --engine inprocess).
run_suite "interop/differential-inprocess" env RISKD_BIN="$ROOT/build/release/riskd" node tests/interop/differential.mjs --engine inprocess --sets 8
run_suite "interop/xgboost-trained" env RISKD_BIN="$ROOT/build/release/riskd" python3 tests/interop/xgboost_trained.py
run_suite "interop/monitor-stats" env RISKD_LIB="$ROOT/build/release/libriskd.so" /usr/bin/python3 tests/interop/monitor_stats.py
# The HTML reports in Chromium (skipped without /usr/bin/chromium); screenshots in build/artifacts/.
# The reports the release integration tests wrote (build/reports/) are rendered too.
reports=()
for k in ab drift skew swapset; do
    [ -f "build/reports/$k.json" ] && reports+=("$k=build/reports/$k.json")
done
run_suite "interop/report-html" env RISKD_LIB="$ROOT/build/release/libriskd.so" node tests/interop/report_html.mjs
[ ${#reports[@]} -gt 0 ] &&
    run_suite "interop/report-html-real" env RISKD_LIB="$ROOT/build/release/libriskd.so" node tests/interop/report_html.mjs "${reports[@]}"
run_suite "interop/stats-vs-scipy" env RISKD_LIB="$ROOT/build/release/libriskd.so" /usr/bin/python3 tests/interop/stats_vs_scipy.py
# The Python package (python/riskd) over the release library, with Debian's Python: the same bits
# as riskd score and /v1/score, the exporters, the example notebook, flags (skipped without
# Debian's python3-numpy, -pandas, -sklearn, -xgboost). The log script runs in the
# other stream, which has the time.
run_python test_bundle test_example test_export test_flags test_fuzz_binding

# Four of the service's ThreadSanitizer runs in this stream, which has the time (the other one
# holds the ASan suites and the rest of TSan's): the whole run stays within its budget.
export TSAN_OPTIONS=halt_on_error=1
# The OFREP event streams under ThreadSanitizer: connections suspended and resumed across threads by the pusher.
run_suite "integration/tsan/21-events" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/21-events.sh
# ... the service under ThreadSanitizer: worker threads, snapshot swaps and metrics under load.
run_suite "integration/tsan/04-serve" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/04-serve.sh
# ... and the decision path: shadow workers, breakers shared by the HTTP threads.
run_suite "integration/tsan/05-decide" env RISKD_BIN="$ROOT/build/tsan/riskd" bash tests/integration/05-decide.sh
# ... and the rollout controller: its thread, the monitor's shards, the status readers.
run_suite "integration/tsan/09-rollout" env RISKD_BIN="$ROOT/build/tsan/riskd" RISKD_SIM_RATE=500 bash tests/integration/09-rollout.sh

wait "$sanitized_pid"

failed=$(awk '$3 != 0 {print $1}' "$RESULTS" | tr '\n' ' ')
[ -n "$failed" ] && echo "failed suites: $failed"
read -r total_pass total_fail total_skip < <(awk '{p += $2; f += $3; s += $4} END {print p + 0, f + 0, s + 0}' "$RESULTS")
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
