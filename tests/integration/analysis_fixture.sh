# Shared by the report tests (sourced after lib.sh): a decision log made by the service itself.
#
# analysis_log: the two example XGBoost credit bundles (built from examples/ into $T/bundles),
# routed 50/50 by the flag model-route (a fractional split; its defaultVariant champion), the
# challenger scoring every request in shadow (flag model-shadow); every application of the
# example credit data set (4,454 rows, request ids app-1 ...) decided through
# POST /v1/score/batch, then the server stopped once the shadow scores are logged, and the
# data set's Status imported as the outcome dpd90 (bad = 1) for every request. Leaves the log in
# $T/data, the bundles in $T/bundles, the applications in $T/apps.csv (request_id + inputs).
analysis_log() {
    local py=/usr/bin/python3 data=examples/data/credit_data.csv v
    mkdir -p "$T/bundles"
    for v in 1.0 1.1; do
        "$BIN" bundle build --name credit_xgb_v$v --model examples/models/credit_xgb_v$v/model.json \
            --pipeline examples/models/credit_xgb_v$v/pipeline.json --data "$data" --label Status --positive bad \
            --out "$T/bundles/credit_xgb_v$v" >"$T/build.out" 2>&1 || { cat "$T/build.out"; return 1; }
    done
    cat >"$T/flags.json" <<'J'
{"flags":{
 "model-route":{"state":"ENABLED","variants":{"champion":"credit_xgb_v1.0","challenger":"credit_xgb_v1.1"},
   "defaultVariant":"champion","targeting":{"fractional":[["challenger",50],["champion",50]]},
   "metadata":{"stage":"half"}},
 "model-shadow":{"state":"ENABLED","variants":{"on":{"bundles":["credit_xgb_v1.1"]}},"defaultVariant":"on"}}}
J
    start --flags "$T/flags.json" --bundles "$T/bundles" --route-flag model-route --shadow-flag model-shadow \
        --shadow-queue 8192 || return 1
    $py - "$data" "$U" "$T" <<'P' || return 1
import csv, http.client, json, sys, urllib.parse
path, url, tmp = sys.argv[1:4]
num = {"Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"}
rows, out = [], []
with open(path, newline="") as f:
    for i, r in enumerate(csv.DictReader(f), 1):
        feats = {k: (None if v == "" else float(v) if k in num else v) for k, v in r.items() if k != "Status"}
        rows.append({"request_id": "app-%d" % i, "context": {"targetingKey": "c%d" % i}, "features": feats})
        out.append(("app-%d" % i, r))
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
for k in range(0, len(rows), 500):
    c.request("POST", "/v1/score/batch", json.dumps(rows[k:k + 500]), {"Content-Type": "application/json"})
    resp = c.getresponse()
    body = resp.read()
    if resp.status != 200:
        sys.exit("batch %d: %d %s" % (k, resp.status, body[:200]))
cols = [k for k in out[0][1] if k != "Status"]
with open(tmp + "/apps.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["request_id"] + cols)
    for rid, r in out:
        w.writerow([rid] + [r[k] for k in cols])
with open(tmp + "/outcomes.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["request_id", "label", "outcome"])
    for rid, r in out:
        w.writerow([rid, 1 if r["Status"] == "bad" else 0, "dpd90"])
P
    # the shadow scores are logged off the request path: wait for them (a bound for a hang only:
    # under ASan beside the other test stream, scoring 4,454 rows in shadow takes a while)
    local m
    for _ in $(seq 1 3600); do
        m=$(curl -s "$U/metrics" | grep -E '^riskd_(shadow_pending|log_queue) ' | awk '{s += $2} END {print s + 0}')
        [ "$m" = 0 ] && break
        sleep 0.05
    done
    stop
    "$BIN" outcomes import "$T/outcomes.csv" --data-dir "$T/data" >"$T/import.out" 2>&1 ||
        { cat "$T/import.out"; return 1; }
}

# schema_ok NAME KIND FILE: FILE (a report's --json output) is valid against docs/schema/KIND.json
# (python3-jsonschema), and is kept in $RISKD_REPORT_DIR (when set) as KIND.json for the browser
# test (tests/interop/report_html.mjs renders the real reports too).
schema_ok() {
    /usr/bin/python3 tests/interop/report_html.py validate "docs/schema/$2.json" "$3" >"$T/schema.out" 2>&1
    check "$1: valid against docs/schema/$2.json" 0 $?
    [ "$fail" = 0 ] || head -5 "$T/schema.out"
    if [ -n "${RISKD_REPORT_DIR:-}" ]; then
        mkdir -p "$RISKD_REPORT_DIR"
        cp "$3" "$RISKD_REPORT_DIR/$2.json"
    fi
}
