#!/usr/bin/env bash
# make bench: riskd beside its peers on this machine, in one run, as a Markdown table.
# Each side runs BENCH_ROUNDS times (default 3), interleaved so both meet the same machine
# noise, and the table shows the median. BENCH_SECONDS sets each timed case (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
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
if [ -f "$SHARED/data/models/credit_xgb.json" ]; then
    rows=${BENCH_MODEL_ROWS:-1000000}
    synth=$out/synth_$rows.csv
    [ -f "$synth" ] || /usr/bin/python3 "$SHARED/tools/gen_synthetic.py" --rows "$rows" --out "$synth" >&2
    echo
    echo "model prediction: $rows synthetic applications, credit_xgb.json (300 trees), through the pipeline first (not timed)"
    build/release/bench/model_bench "$SHARED/data/models/credit_xgb.json" \
        "$SHARED/data/models/credit_xgb.features.json" "$synth" >"$out/model.jsonl"
    node bench/report_model.mjs "$out/model.jsonl"
else
    echo "model benchmark skipped: shared data not present"
fi

# Over HTTP: riskd serve beside a flagd-style OFREP service and a FastAPI scoring service.
bench/http.sh
