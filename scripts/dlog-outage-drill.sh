#!/usr/bin/env bash
# The decision log's outage drill (make drill; the short form is tests/unit/dlog/test_spool's
# PostgreSQL cases): records submitted at a steady rate into a throw-away PostgreSQL cluster,
# the server stopped for the middle third of the time and started again; every record must be
# acknowledged (spooled while the server is away) and be in the database once, in order, after
# the drain (tests/tools/dlog_outage.c prints the figures as Markdown tables).
#   RISKD_DRILL_SECONDS  the whole run (default 30: a 10 s outage)
#   RISKD_DRILL_RATE     records a second (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=${RISKD_TOOL:-build/release/tests/tools/dlog_outage}
d=$(mktemp -d /tmp/riskd-outage.XXXXXX)
trap 'scripts/pg-cluster.sh destroy "$d" >/dev/null 2>&1 || rm -rf "$d"' EXIT
if ! scripts/pg-cluster.sh start "$d" >/dev/null; then
    echo "skipped: postgresql not installed"
    exit 0
fi
"$TOOL" "$d" "${RISKD_DRILL_SECONDS:-30}" "${RISKD_DRILL_RATE:-2000}"
