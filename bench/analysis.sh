#!/usr/bin/env bash
# riskd drift and riskd ab over a decision log of 1,000,000 primary decisions, beside the
# pandas + scipy + statsmodels script a data team runs for the same reports
# (bench/peers/analysis_pandas.py), on the same SQLite database. Called at the end of
# bench/run.sh; runs alone too: bash bench/analysis.sh (after make).
#
# The log: the example bundles served by riskd routed 50/50 with a shadow and the example
# outcomes imported (tests/integration/analysis_fixture.sh), then its primary records
# replicated to BENCH_ANALYSIS_ROWS (bench/analysis_gen.py), with outcomes for half of the
# replicas. Cached in build/bench/analysis-N/, keyed on the riskd version, the record writer,
# the store schema, the fixture, the examples and the generator.
#
# BENCH_ROUNDS (3) interleaved rounds of: riskd drift, peer drift, riskd ab, peer ab, each a whole
# process timed wall-clock (date +%s%N; CPU time and peak RSS from /usr/bin/time when present);
# the table shows medians. The reports' numbers are compared (bench/analysis_check.py): a
# difference prints a WARNING line, the bench goes on. BENCH_QUICK=1: 100,000 decisions.
set -euo pipefail
cd "$(dirname "$0")/.."
RISKD=${RISKD_BIN:-build/release/riskd}
PY=/usr/bin/python3
rounds=${BENCH_ROUNDS:-3}
if [ "${BENCH_QUICK:-0}" = 1 ]; then n=${BENCH_ANALYSIS_ROWS:-100000}; else n=${BENCH_ANALYSIS_ROWS:-1000000}; fi
out=build/bench
dir=$out/analysis-$n
res=$out/analysis-runs
echo
echo "reports over the decision log: riskd drift and riskd ab over $n logged decisions beside"
echo "pandas + scipy + statsmodels reading the same SQLite database (bench/peers/analysis_pandas.py)"
if ! missing=$($PY -c '
import importlib.util, sys
gone = [m for m in ("pandas", "scipy", "statsmodels", "xgboost") if importlib.util.find_spec(m) is None]
print(" ".join(gone)); sys.exit(1 if gone else 0)' 2>&1); then
    echo "analysis benchmark skipped: $missing missing for $PY (scripts/deps.sh installs python3-pandas," \
        "python3-scipy, python3-statsmodels, python3-xgboost)"
    exit 0
fi
if [ ! -x "$RISKD" ]; then
    echo "analysis benchmark skipped: $RISKD not built (make)"
    exit 0
fi

# ---- the log (cached)
key=$({
    "$RISKD" --version
    echo "$n"
    cat src/lib/dlog/record.c src/lib/store/sqlite.c src/lib/store/sqlite_outcomes.c bench/analysis_gen.py \
        tests/integration/analysis_fixture.sh examples/models/credit_xgb_v1.*/* examples/data/credit_data.csv
} | sha256sum | cut -c1-16)
if [ "$(cat "$dir/key" 2>/dev/null)" != "$key" ] || [ ! -f "$dir/data/riskd.db" ]; then
    echo "analysis: generating the $n-decision log in $dir ($([ -d "$dir" ] && echo "riskd, its record format or the recipe changed" || echo "first run"))"
    rm -rf "$dir"
    mkdir -p "$dir"
    # the fixture's recipe, as the tests run it: lib.sh's start/stop around analysis_log
    (
        export RISKD_BIN=$RISKD
        # shellcheck source=tests/integration/lib.sh
        . tests/integration/lib.sh
        trap - EXIT
        rmdir "$T"
        T=$dir/fixture
        mkdir -p "$T"
        # shellcheck source=tests/integration/analysis_fixture.sh
        . tests/integration/analysis_fixture.sh
        analysis_log
    ) >"$dir/fixture.log" 2>&1 || {
        echo "analysis benchmark skipped: the service could not make the fixture log:"
        tail -5 "$dir/fixture.log"
        exit 0
    }
    $PY bench/analysis_gen.py "$dir/fixture/data/riskd.db" "$dir/data" --decisions "$n"
    echo "$key" >"$dir/key"
else
    echo "analysis: the cached $n-decision log ($dir, key $key)"
fi
db=$dir/data/riskd.db
bundle=$dir/fixture/bundles/credit_xgb_v1.0

# ---- rounds
TIME=
[ -x /usr/bin/time ] && TIME=/usr/bin/time
rm -rf "$res"
mkdir -p "$res"
# one timed process: case side round outfile command...
timed() {
    local c=$1 side=$2 r=$3 o=$4 t0 t1 cpu=null rss=null
    shift 4
    t0=$(date +%s%N)
    if [ -n "$TIME" ]; then
        $TIME -f '%U %S %M' -o "$res/$c-$side-$r.time" "$@" >"$o" 2>"$res/$c-$side-$r.err" || {
            echo "WARNING: $c ($side) failed: $(tail -2 "$res/$c-$side-$r.err")"
            return 0
        }
    else
        "$@" >"$o" 2>"$res/$c-$side-$r.err" || {
            echo "WARNING: $c ($side) failed: $(tail -2 "$res/$c-$side-$r.err")"
            return 0
        }
    fi
    t1=$(date +%s%N)
    if [ -n "$TIME" ]; then
        read -r u s m < <(tail -1 "$res/$c-$side-$r.time")
        cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
        rss=$m
    fi
    echo "{\"case\":\"$c\",\"side\":\"$side\",\"round\":$r,\"rows\":$n,\"seconds\":$(((t1 - t0) / 1000000))e-3,\"cpu_seconds\":$cpu,\"rss_kb\":$rss}" >>"$res/rounds.jsonl"
}
cat "$db" >/dev/null # both sides start from the page cache
for r in $(seq "$rounds"); do
    printf '  round %d/%d: riskd drift  \r' "$r" "$rounds" >&2
    timed drift riskd "$r" "$res/drift-riskd.json" "$RISKD" drift --bundle "$bundle" --data-dir "$dir/data" --json
    printf '  round %d/%d: pandas drift \r' "$r" "$rounds" >&2
    timed drift peer "$r" "$res/drift-peer.json" $PY bench/peers/analysis_pandas.py drift --db "$db" --bundle "$bundle"
    printf '  round %d/%d: riskd ab     \r' "$r" "$rounds" >&2
    timed ab riskd "$r" "$res/ab-riskd.json" "$RISKD" ab --data-dir "$dir/data" --flag model-route --json
    printf '  round %d/%d: pandas ab    \r' "$r" "$rounds" >&2
    timed ab peer "$r" "$res/ab-peer.json" $PY bench/peers/analysis_pandas.py ab --db "$db" --flag model-route
done
echo >&2
for c in drift ab; do
    if [ -s "$res/$c-riskd.json" ] && [ -s "$res/$c-peer.json" ]; then
        $PY bench/analysis_check.py "$c" "$res/$c-riskd.json" "$res/$c-peer.json" ||
            echo "WARNING: could not compare the $c reports"
    fi
done
[ -s "$res/rounds.jsonl" ] && $PY bench/report_analysis.py "$res/rounds.jsonl"

# constant memory in log rows: the same drift over the fixture's 4,454 decisions
if [ -n "$TIME" ] && [ -d "$dir/fixture/data" ]; then
    $TIME -f '%M' -o "$res/small.time" "$RISKD" drift --bundle "$bundle" --data-dir "$dir/fixture/data" --json \
        >/dev/null 2>&1 && big=$(sed -n 's/.*"case":"drift","side":"riskd".*"rss_kb":\([0-9]*\).*/\1/p' "$res/rounds.jsonl" | sort -n | tail -1) &&
        echo "riskd drift peak RSS: $(($(tail -1 "$res/small.time") / 1024)) MiB over $(sqlite3 "$dir/fixture/data/riskd.db" "SELECT count(*) FROM decisions WHERE kind = 'primary'" 2>/dev/null || echo "4,454") decisions, $((big / 1024)) MiB over $n"
fi
exit 0
