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
PGD=${RISKD_PG_DIR:-}
if [ -z "$PGD" ]; then
    PGD=$(mktemp -d /tmp/riskd-pg.XXXXXX) # the server runs as postgres: not under $T (0700)
    if ! scripts/pg-cluster.sh start "$PGD" >/dev/null 2>"$T/pg.err"; then
        cat "$T/pg.err"
        rm -rf "$PGD"
        echo "0 passed, 0 failed, 1 skipped"
        exit 0
    fi
    OWN_PG=1
fi
URL=$(scripts/pg-cluster.sh createdb "$PGD" "race_$$")
printf '%s\n' '{"flags":{"greet":{"state":"ENABLED","variants":{"hi":"hello","bye":"goodbye","yo":"hey"},"defaultVariant":"hi"}}}' >"$T/f1.json"
"$BIN" flags import "$T/f1.json" --store "$URL" >/dev/null 2>&1
check "the flag set imported" 0 $?
"$BIN" user add admin --role admin --store "$URL" >"$T/admin.tok" 2>/dev/null
for u in mgr1 mgr2 mgr3; do
    "$BIN" user add "$u" --role manager --store "$URL" --token-file "$T/admin.tok" >"$T/$u.tok" 2>/dev/null
done
"$BIN" change settings --approvals flags=2 --store "$URL" --token-file "$T/admin.tok" >/dev/null 2>&1
check "users, and two approvals required" 0 $?

PIDS=()
URLS=()
for i in 1 2; do
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$T/n$i" --store "$URL" --flags store --node "n$i" \
        >"$T/n$i.out" 2>"$T/n$i.err" &
    PIDS[$i]=$!
    for _ in $(seq 1 200); do
        URLS[$i]=$(sed -n 's/^listening on //p' "$T/n$i.out")
        [ -n "${URLS[$i]}" ] && break
        sleep 0.05
    done
    [ -n "${URLS[$i]}" ]
    check "node $i starts" 0 $?
done
trap 'kill -TERM "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; [ -n "${OWN_PG:-}" ] && scripts/pg-cluster.sh destroy "$PGD"; [ "${RISKD_KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT

$PY tests/integration/cluster_race.py --nodes "${URLS[1]}" "${URLS[2]}" --tokens "$T" \
    --seconds "${RISKD_DRILL_SECONDS:-3}" >"$T/race.out" 2>&1
check "no approval rule bypassed by a race, no 500" 0 $? ' 0 violations' "$T/race.out"
cat "$T/race.out" | tail -n 5
"$BIN" audit verify --store "$URL" >"$T/verify" 2>&1
check "the audit chain both nodes appended to verifies" 0 $? 'intact' "$T/verify"
cat "$T/verify"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
