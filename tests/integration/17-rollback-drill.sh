#!/usr/bin/env bash
# The rollback drill's short form (scripts/rollback-drill.sh; make drill runs the long one): a
# bad flag change published through change requests under /v1/score traffic, rolled back with
# one command. Asserted: no request failed, no answer to a request sent after the rollback
# returned came from the bad version, and the bad version did serve before it. The time the
# rollback took is a figure (printed), not a test.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
out=$T/drill.out
RISKD_DRILL_SECONDS=${RISKD_DRILL_SECONDS:-1} RISKD_DRILL_ROUNDS=1 RISKD_BIN=$BIN \
    bash scripts/rollback-drill.sh >"$out" 2>&1
check "rollback under load: no failed request, no bad answer after it" 0 $? "rollback start to the last answer" "$out"
check "the drill's figures" 0 0 "requests answered / failed / bad version after the rollback \| [0-9]+ / 0 / 0" "$out"
cat "$out"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
