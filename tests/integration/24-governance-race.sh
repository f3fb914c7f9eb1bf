#!/usr/bin/env bash
# Two nodes on one PostgreSQL, governance writes racing (issue 16, "Concurrency"): for
# RISKD_DRILL_SECONDS (3 in make test, 60 in make drill) changes are proposed and, at once on
# both nodes, approved twice by one manager, once by another, approved by their author and
# edited by him, while tokens are issued and revoked; two approvals are required. No approval
# rule is bypassed (tests/integration/cluster_race.py lists the rules checked), no answer is a
# 500, and the audit chain both nodes appended to verifies.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PY=/usr/bin/python3
pg_database race
trap nodes_cleanup EXIT
printf '%s\n' '{"flags":{"greet":{"state":"ENABLED","variants":{"hi":"hello","bye":"goodbye","yo":"hey"},"defaultVariant":"hi"}}}' >"$T/f1.json"
"$BIN" flags import "$T/f1.json" --store "$URL" >/dev/null 2>&1
check "the flag set imported" 0 $?
"$BIN" user add admin --role admin --store "$URL" >"$T/admin.tok" 2>/dev/null
for u in mgr1 mgr2 mgr3; do
    "$BIN" user add "$u" --role manager --store "$URL" --token-file "$T/admin.tok" >"$T/$u.tok" 2>/dev/null
done
"$BIN" change settings --approvals flags=2 --store "$URL" --token-file "$T/admin.tok" >/dev/null 2>&1
check "users, and two approvals required" 0 $?

for i in 1 2; do
    start_node "$i" --store "$URL" --flags store
    check "node $i starts" 0 $?
done

$PY tests/integration/cluster_race.py --nodes "${URLS[1]}" "${URLS[2]}" --tokens "$T" \
    --seconds "${RISKD_DRILL_SECONDS:-3}" >"$T/race.out" 2>&1
check "no approval rule bypassed by a race, no 500" 0 $? ' 0 violations' "$T/race.out"
cat "$T/race.out" | tail -n 5
"$BIN" audit verify --store "$URL" >"$T/verify" 2>&1
check "the audit chain both nodes appended to verifies" 0 $? 'intact' "$T/verify"
cat "$T/verify"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
