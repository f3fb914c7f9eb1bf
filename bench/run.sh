#!/usr/bin/env bash
# make bench: riskd beside its peers on this machine, in one run, as a Markdown table.
# Each side runs BENCH_ROUNDS times (default 3), interleaved so both meet the same machine
# noise, and the table shows the median. BENCH_SECONDS sets each timed case (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_QUICK=1: a two-minute version for development (1 s cases, one round, 200,000 rows, the
# in-process benchmarks, then an HTTP smoke: one round of 2 s cases, OFREP at 100 connections and at the
# fixed rate, /v1/score bare, production and FastAPI at 64 connections and 2,000 req/s, with the
# production server's evidence; no streams, drill or reports).
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
    : "${BENCH_SECONDS:=1}" "${BENCH_MODEL_ROWS:=200000}" "${BENCH_LOG_RECORDS:=100000}"
    : "${BENCH_STORE_RECORDS:=50000}" "${BENCH_REPLAY_ROWS:=20000}" "${BENCH_ROUNDS:=1}"
fi
secs=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-3}
out=build/bench
mkdir -p "$out"
: >"$out/flags-riskd.jsonl"
: >"$out/flags-flagd-core.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
echo "flag evaluation in-process: same flags and contexts (bench/flags/), ${secs}s per case, median of $rounds rounds"
for r in $(seq "$rounds"); do
    printf '  round %d/%d\r' "$r" "$rounds" >&2
    build/release/bench/flags_bench bench/flags/flags.json bench/flags/contexts.json "$secs" >>"$out/flags-riskd.jsonl"
    BENCH_SECONDS=$secs node bench/flags/flagd_core_bench.mjs >>"$out/flags-flagd-core.jsonl"
done
echo >&2
node bench/report.mjs "$out/flags-riskd.jsonl" "$out/flags-flagd-core.jsonl"

# Model prediction: riskd against XGBoost's C API (libxgboost from Debian) on 1M synthetic
# credit applications (shared/tools/gen_synthetic.py), the shared 300-tree credit model.
SHARED=${RISKD_SHARED:-../shared}
PY_BENCH=/usr/bin/python3
if [ -f "$SHARED/data/models/credit_xgb.json" ]; then
    rows=${BENCH_MODEL_ROWS:-1000000}
    synth=$out/synth_$rows.csv
    [ -f "$synth" ] || /usr/bin/python3 "$SHARED/tools/gen_synthetic.py" --rows "$rows" --out "$synth" >&2
    echo
    echo "model prediction: $rows synthetic applications, credit_xgb.json (300 trees), through the pipeline first (not timed), $rounds rounds"
    : >"$out/model.jsonl"
    for r in $(seq "$rounds"); do
        build/release/bench/model_bench "$SHARED/data/models/credit_xgb.json" \
            "$SHARED/data/models/credit_xgb.features.json" "$synth" >>"$out/model.jsonl"
    done
    node bench/report_model.mjs "$out/model.jsonl"
    # A deeper model (issue 18): 500 trees of depth 8 trained here (bench/train_deep.py, Debian's
    # python3-xgboost), the same applications and the same comparison.
    deep=$out/credit_xgb_deep.json
    [ -f "$deep" ] || $PY_BENCH bench/train_deep.py "$SHARED" "$deep" >&2
    echo
    echo "model prediction, a deeper model: 500 trees of depth 8 trained at bench time, the same $rows applications"
    : >"$out/model-deep.jsonl"
    for r in $(seq "$rounds"); do
        BENCH_SHAP_ROWS=500 build/release/bench/model_bench "$deep" "$SHARED/data/models/credit_xgb.features.json" \
            "$synth" >>"$out/model-deep.jsonl"
    done
    node bench/report_model.mjs "$out/model-deep.jsonl"
else
    echo "model benchmark skipped: shared data not present"
fi

# LightGBM (issue 18): Debian ships no LightGBM library to run beside riskd, so riskd's layout
# (src/lib/model/forest.c) against riskd's node walk of the same model, on the largest LightGBM
# test vector of the peer suite (shared/data/lightgbm, by trees x leaves): kddcup99, 130 trees of
# 3,745 leaves in all, 13 classes, categorical splits, up to 16 deep; its 504 test rows repeated.
lgbm_dir=$SHARED/data/lightgbm/leaves
echo
if [ -f "$lgbm_dir/lg_kddcup99.model" ] && [ -f "$lgbm_dir/kddcup99_test.tsv" ]; then
    lrows=${BENCH_MODEL_ROWS:-1000000}
    echo "LightGBM model prediction: lg_kddcup99.model (130 trees, 13 classes), its test rows repeated to $lrows, riskd's layout against its node walk, $rounds rounds"
    : >"$out/model-lgbm.jsonl"
    for r in $(seq "$rounds"); do
        build/release/bench/model_bench --lightgbm "$lgbm_dir/lg_kddcup99.model" "$lgbm_dir/kddcup99_test.tsv" \
            "$lrows" >>"$out/model-lgbm.jsonl"
    done
    node bench/report_model.mjs "$out/model-lgbm.jsonl"
else
    echo "LightGBM model benchmark skipped: peer suite not present ($SHARED/data/lightgbm)"
fi

# The decision log: the writer into SQLite (async and ack), and riskd replay of logged
# decisions (bench/log_bench.c; riskd score --log, then riskd replay, timed).
echo
echo "decision log: records committed into SQLite per second (two threads queueing a real ~1.1 KB record)"
rm -rf "$out/log-async" "$out/log-ack"
build/release/bench/log_bench "$out/log-async" "${BENCH_LOG_RECORDS:-500000}" async >"$out/log.jsonl"
build/release/bench/log_bench "$out/log-ack" "${BENCH_LOG_RECORDS:-500000}" ack >>"$out/log.jsonl"
if [ -f "$SHARED/data/models/credit_xgb.json" ]; then
    rrows=${BENCH_REPLAY_ROWS:-100000}
    rsynth=$out/synth_$rrows.csv
    [ -f "$rsynth" ] || /usr/bin/python3 "$SHARED/tools/gen_synthetic.py" --rows "$rrows" --out "$rsynth" >&2
    rbundle=$out/replay-bundles/credit_xgb_v1.0
    # a bundle cached by an older riskd (no digest, say) is rebuilt, not refused
    { build/riskd bundle verify "$rbundle" >/dev/null 2>&1 && grep -q '"quantiles"' "$rbundle/reference.json"; } ||
        { rm -rf "$rbundle"; mkdir -p "${rbundle%/*}"; false; } ||
        build/riskd bundle build --name credit_xgb_v1.0 \
        --model "$SHARED/data/models/credit_xgb.json" --pipeline "$SHARED/data/models/credit_xgb.features.json" \
        --data "$SHARED/data/credit_data.csv" --label Status --positive bad --out "$rbundle" >&2
    rm -rf "$out/replay-log"
    build/riskd score --bundle "$rbundle" --in "$rsynth" --out /dev/null --log "$out/replay-log" 2>/dev/null
    t0=$(date +%s%N)
    build/riskd replay --data-dir "$out/replay-log" >"$out/replay.txt"
    t1=$(date +%s%N)
    echo "{\"case\":\"replay\",\"records\":$rrows,\"seconds\":$(((t1 - t0) / 1000000))e-3,\"summary\":\"$(tail -1 "$out/replay.txt")\"}" >>"$out/log.jsonl"
fi
node bench/report_log.mjs "$out/log.jsonl"

# The decision log by store backend (issue 16): the same writer into SQLite and into PostgreSQL
# (a cluster of its own, started by the bench, fsync on), median of interleaved rounds
# (bench/store_log.c; the PostgreSQL column says "skipped" without the server).
echo
echo "decision log by store: records committed per second through the writer, SQLite beside PostgreSQL"
build/release/bench/store_log "${BENCH_STORE_RECORDS:-200000}" "$rounds" >"$out/store_log.txt"
grep -v '^{' "$out/store_log.txt"

# The Python binding (issue 17): 1M raw applications from a DataFrame through bundle.score, beside
# XGBClassifier.predict_proba on the prepared matrix and the pandas feature code of
# bench/peers/score_fastapi.py + predict_proba (bench/python_bench.py; Debian's Python).
if [ -f "$SHARED/data/models/credit_xgb.json" ] && [ -d "${rbundle:-}" ]; then
    echo
    echo "Python: scoring a DataFrame of ${BENCH_MODEL_ROWS:-1000000} synthetic applications, credit_xgb.json (300 trees), $(nproc) cores"
    echo
    $PY_BENCH bench/python_bench.py "$rbundle" "$out/synth_${BENCH_MODEL_ROWS:-1000000}.csv" "$rounds"
fi

# The monitor on the scoring path (issue 12: at most 5% of /v1/score): rd_monitor_record per
# decision beside rd_bundle_score of the same request (bench/monitor_bench.c).
if [ -f "$SHARED/data/models/credit_xgb.json" ]; then
    echo
    echo "monitor: rd_monitor_record per decision (counts, score bins, KS cell, latency, 13 input bins)"
    echo "beside scoring the same application (300 trees, 4 reasons); the over-HTTP figure is below"
    echo
    echo "| threads | monitor ns/decision | scoring ns/decision | monitor ÷ scoring |"
    echo "| ---: | ---: | ---: | ---: |"
    build/release/bench/monitor_bench "$rbundle" | $PY_BENCH -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print("| %d | %.0f | %.0f | %.2f%% |" % (r["threads"], r["ns_per_decision"], r["score_ns_per_decision"], 100 * r["share_of_scoring"]))'
fi

if [ "$quick" = 1 ]; then
    BENCH_HTTP_ROUNDS=${BENCH_HTTP_ROUNDS:-1} BENCH_HTTP_SECONDS=${BENCH_HTTP_SECONDS:-2} \
        BENCH_HTTP_WARMUP=${BENCH_HTTP_WARMUP:-1} BENCH_HTTP_OFREP_CONNS=${BENCH_HTTP_OFREP_CONNS:-100} \
        BENCH_HTTP_SCORE_CONNS=${BENCH_HTTP_SCORE_CONNS:-64} BENCH_HTTP_SCORE_RATES=${BENCH_HTTP_SCORE_RATES:-2000} \
        BENCH_HTTP_SECTIONS=${BENCH_HTTP_SECTIONS:-ofrep score} bench/http.sh
    echo
    echo "BENCH_QUICK=1: one round of the HTTP smoke (figures without spreads); the shadow, log and monitor"
    echo "sections over HTTP, the event-stream, rollout-drill and report benchmarks are skipped"
    exit 0
fi

# Over HTTP: riskd serve beside a flagd-style OFREP service and a FastAPI scoring service.
bench/http.sh

# The OFREP event stream (issue 15): 5,000 streams, the time from a flag change to the last
# stream's event, and the OFREP request rate with and without the streams open.
RISKD_BIN=build/release/riskd bench/sse.sh

# The rollout controller's time targets (issue 12): the drill plan sped up x5 (hold times,
# intervals and deadlines divided), the rollback times measured as in make drill.
echo
RISKD_DRILL_SPEED=${BENCH_ROLLOUT_SPEED:-5} RISKD_BIN=build/release/riskd scripts/rollout-drill.sh

# The reports over the decision log (issue 13): riskd drift and riskd ab over 1M logged
# decisions beside pandas + scipy + statsmodels on the same database (bench/analysis.sh).
RISKD_BIN=build/release/riskd bench/analysis.sh

# The web console (issue 19: each page under 300 ms): every page loaded in Chromium over a log of
# 1M decisions inserted in bulk (bench/console.mjs), from a blank tab to its data drawn.
echo
RISKD_BIN=build/release/riskd node bench/console.mjs
