#!/usr/bin/env bash
# make bench: riskd beside its peers on this machine, in one run, as a Markdown table.
# BENCH_SECONDS sets the timed length of each case (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-2}
out=build/bench
mkdir -p "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
echo "flag evaluation, in-process, same flags and contexts (bench/flags/), ${secs}s per case"
build/release/bench/flags_bench bench/flags/flags.json bench/flags/contexts.json "$secs" >"$out/flags-riskd.jsonl"
BENCH_SECONDS=$secs node bench/flags/flagd_core_bench.mjs >"$out/flags-flagd-core.jsonl"
node bench/report.mjs "$out/flags-riskd.jsonl" "$out/flags-flagd-core.jsonl"
