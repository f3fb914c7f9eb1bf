#!/usr/bin/env bash
# make demo: for now the flag engine on the example flag set; the scoring service joins it
# when `riskd serve` lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/riskd
flags=examples/flags/routing.json
echo "== riskd flags validate $flags"
$bin flags validate "$flags"
echo
echo "== which model serves each applicant (fractional rollout + whitelist)"
for who in applicant-1 applicant-2 applicant-3 applicant-42 vip-7; do
    $bin flags eval --flags "$flags" --flag credit-model-route --type string --default '"credit_xgb_v1.0"' \
        --context "{\"targetingKey\":\"$who\",\"segment\":\"$( [ "$who" = vip-7 ] && echo staff || echo retail)\"}"
done
echo
echo "The HTTP service (riskd serve, OFREP and /v1/score) is coming with the server issue."
echo "Try more: build/riskd flags eval --help"
