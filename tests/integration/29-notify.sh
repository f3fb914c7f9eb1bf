#!/usr/bin/env bash
# Notifications end to end (docs/notifications.md): a local receiver
# (tests/integration/notify_receiver.py) stands in for a webhook, Slack, a WeCom group robot and
# Alertmanager; riskd serve runs with the four sinks, a rollout and a faulty bundle. Checked:
#   - the sink specs' refusals (never echoing the URL) and --check-config's redacted lines;
#   - every event reaches the sinks whose filters take it, in the payload shape of each kind,
#     in order, the webhook's HMAC verifying with its secret and failing with another
#     (tests/integration/notify_check.py); approvers routed by change kind (WeCom: flags only);
#   - the receiver down for a few seconds during a rollout rollback: everything arrives, in order,
#     once it is back, nothing counted as failed;
#   - kill -9 of riskd between a change and its delivery: delivered after the restart, exactly
#     once by idempotency key; and killed mid-delivery: delivered again with the same key;
#   - a sink that refuses for good: recorded as failed (riskd notify list --failed, the metric);
#   - riskd notify test; no token, feature value, request or secret in any payload or log line.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3
# the receiver is on loopback: never through a proxy the environment names
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RECV=$ROOT/tests/integration/notify_receiver.py
CHECK=$ROOT/tests/integration/notify_check.py

json() { $PY -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
metric() { curl -s "$U/metrics" | awk -v m="$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'; }

mkdir -p "$T/bundles"
for v in 1.0 1.1; do
    src=$ROOT/examples/models/credit_xgb_v$v
    "$BIN" bundle build --name credit_xgb_v$v --model "$src/model.json" --pipeline "$src/pipeline.json" \
        --data "$ROOT/examples/data/credit_data.csv" --label Status --positive bad --fallback "$src/fallback.json" \
        --out "$T/bundles/credit_xgb_v$v" >"$T/out" 2>&1
    check "build credit_xgb_v$v" 0 $? "built and verified" "$T/out"
done
cp "$ROOT/examples/flags/routing.json" "$T/flags.json"
# the change requests target a flag file of their own (the served one is the rollout's)
echo '{"flags":{"cutoff":{"state":"ENABLED","variants":{"strict":600,"loose":560},"defaultVariant":"strict"}}}' >"$T/cut.json"
sed 's/"defaultVariant":"strict"/"defaultVariant":"loose"/' "$T/cut.json" >"$T/cut-v1.json"
sed 's/"loose":560/"loose":550/' "$T/cut-v1.json" >"$T/cut-v2.json"
head -c 32 /dev/urandom | base64 >"$T/hook.key"
head -c 32 /dev/urandom | base64 >"$T/other.key"
chmod 600 "$T/hook.key" "$T/other.key"

# ---------------------------------------------------------------- the receiver
RPID=
receiver() { # [PORT] [ARGS...]: start it (on PORT, else a port of the kernel's, kept in $P)
    local port=${1:-0}
    shift || true
    rm -f "$T/port"
    $PY "$RECV" --port "$port" --port-file "$T/port" --log "$T/recv.log" "$@" 2>>"$T/recv.err" &
    RPID=$!
    wait_by 10 test -s "$T/port" || { echo "receiver did not start"; cat "$T/recv.err"; exit 1; }
    P=$(cat "$T/port")
}
receiver_stop() { kill -TERM "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
# on any exit: the receiver and the server stopped (they would hold the caller's pipes), then the scratch
trap 'kill -TERM $RPID $PID 2>/dev/null; wait 2>/dev/null; [ "${RISKD_KEEP_TMP:-0}" = 1 ] || rm -rf "$T"' EXIT
receiver

# the sinks: the URLs carry a secret (as Slack's and WeCom's do) that must never be printed
Q='?key=SECRETPATH'
sinks() {
    SINKS=(--notify "webhook name=webhook url=http://127.0.0.1:$P/hook$Q secret_file=$T/hook.key events=change.*,rollout.*"
        --notify "slack url=http://127.0.0.1:$P/slack$Q"
        --notify "wecom url=http://127.0.0.1:$P/wecom$Q events=change.proposed kinds=flags name=risk-managers"
        --notify "alertmanager url=http://127.0.0.1:$P/am$Q"
        --notify "webhook name=bad url=http://127.0.0.1:$P/gone$Q events=change.withdrawn"
        --notify-backoff-ms 50 --notify-backoff-max-ms 300 --notify-poll-ms 200 --notify-max-attempts 40)
}
sinks
serve_args=(--flags "$T/flags.json" --bundles "$T/bundles" --route-flag credit-model-route
    --shadow-flag credit-model-shadow --rollout "$ROOT/examples/rollout/credit-drill.json"
    --fault credit_xgb_v1.0:error_rate=1,for_ms=8000 --breaker-min-calls 4 --breaker-open-ms 300
    --log-queue 8 --notify-backlog-percent 50 --reload-interval-ms 200)

# ---------------------------------------------------------------- refusals, --check-config
"$BIN" notify --help >"$T/out" 2>&1; check "notify --help" 0 $? "usage: riskd notify test SINK" "$T/out"
"$BIN" notify >"$T/out" 2>&1; check "notify without a command" 2 $? "usage" "$T/out"
"$BIN" serve --help >"$T/out" 2>&1; check "serve --help: the notify options" 0 $? "--notify SPEC" "$T/out"
cc() { "$BIN" serve "${serve_args[@]}" --data-dir "$T/cc" --listen 127.0.0.1:0 --check-config "$@" >"$T/out" 2>&1; }
cc --notify "webhok url=http://127.0.0.1:1/x$Q"; check "an unknown kind" 1 $? 'notify #1.*webhook' "$T/out"
cc --notify "slack url=http://127.0.0.1:1/x$Q evnts=change.*"; check "an unknown key, did you mean" 1 $? 'events' "$T/out"
cc --notify "slack url=http://127.0.0.1:1/x$Q events=chnge.*"; check "a glob matching no event type" 1 $? 'chnge' "$T/out"
cc --notify "slack url=ftp://127.0.0.1/x$Q"; check "not an http URL" 1 $? 'notify #1 \(slack\)' "$T/out"
cc --notify "alertmanager url=http://127.0.0.1:1/am$Q events=change.*"; check "alertmanager refuses change events" 1 $? 'alertmanager' "$T/out"
cc --notify "webhook url=http://127.0.0.1:1/x$Q secret_file=$T/none.key"; check "a missing secret file" 4 $? 'none.key' "$T/out"
: >"$T/empty.key"
cc --notify "webhook url=http://127.0.0.1:1/x$Q secret_file=$T/empty.key"; check "an empty secret" 1 $? 'empty' "$T/out"
cc --notify "slack url=http://127.0.0.1:1/a$Q name=team" --notify "slack url=http://127.0.0.1:1/b$Q name=team"
check "two sinks with one name" 1 $? 'slack' "$T/out"
cc --notify-drift-psi much; check "notify_drift_psi not a number" 1 $? 'notify_drift_psi' "$T/out"
"$BIN" serve "${serve_args[@]}" --data-dir "$T/cc" --listen 127.0.0.1:0 --check-config \
    --notify "webhok url=http://127.0.0.1:1/x$Q" --notify "slack url=http://127.0.0.1:1/x$Q evnts=x" >"$T/refusals" 2>&1
cc "${SINKS[@]}"; check "--check-config with the sinks" 0 $? "^notify +webhook \(name webhook\): http://127.0.0.1:$P/" "$T/out"
check "--check-config: the named WeCom sink" 0 0 "^notify +wecom \(name risk-managers\)" "$T/out"
cat "$T/out" >>"$T/refusals"
grep -q SECRETPATH "$T/refusals"; check "no refusal and no --check-config line shows the URL's secret" 1 $?

# ---------------------------------------------------------------- users
D=$T/data
"$BIN" user add admin1 --role admin --data-dir "$D" >"$T/admin1.tok" 2>"$T/err"
check "the first admin" 0 $?
for u in erin:engineer mia:manager oscar:operator; do
    "$BIN" user add "${u%%:*}" --role "${u##*:}" --data-dir "$D" --token-file "$T/admin1.tok" >"$T/${u%%:*}.tok" 2>"$T/err"
    check "user ${u%%:*}" 0 $?
done
as() { # USER riskd-args...: as USER, output in $T/out
    local who=$1
    shift
    "$BIN" "$@" --data-dir "$D" --token-file "$T/$who.tok" >"$T/out" 2>&1
}
propose() { # FILE TITLE: erin proposes; the id in $id
    "$BIN" change propose --flags "$1" --target "$T/cut.json" --title "$2" --data-dir "$D" \
        --token-file "$T/erin.tok" >"$T/id" 2>"$T/err"
    id=$(cat "$T/id")
}

# arrived PATH N: at least N distinct events at PATH
arrived() { [ "$($PY "$CHECK" "$T/recv.log" --path "$1" --count 2>/dev/null || echo 0)" -ge "$2" ]; }

# ---------------------------------------------------------------- the events reach the sinks
start "${serve_args[@]}" "${SINKS[@]}" || exit 1
wait_by 20 arrived /slack 1; check "rollout.started reaches Slack" 0 $?
# paused: the plan's own deadline (no traffic) would hold it at a time of its choosing
as oscar rollout pause --flag credit-model-route --reason "until the drill"
check "the rollout paused" 0 $?
propose "$T/cut-v1.json" "loosen the cut-off"; check "erin proposes" 0 $?
as mia change approve "$id" --note "reviewed"; check "mia approves" 0 $?
as oscar change publish "$id"; check "oscar publishes" 0 $?
as oscar rollback --target "$T/cut.json" --reason "too loose"; check "oscar rolls the file back" 0 $?
wait_by 20 arrived /hook 6; check "six events at the webhook" 0 $?
# a server of its own for the breaker: the fault's 8 s run from its start, not from this test's
# earlier steps (which take a minute under a sanitizer on a busy machine)
stop
start "${serve_args[@]}" "${SINKS[@]}" || exit 1
APP='{"request_id":"req-SENTINEL-77","context":{"targetingKey":"app-1","segment":"retail"},"features":{"Seniority":9,"Home":"rent","Time":60,"Age":30,"Marital":"married","Records":"no","Job":"freelance","Expenses":73,"Income":129,"Assets":0,"Debt":0,"Amount":800,"Price":846}}'
score() { curl -s -o "$T/r" -X POST "$U/v1/score" -H 'Content-Type: application/json' --data "$APP"; }
for i in 1 2 3 4 5; do score; done
wait_by 20 arrived /am/api/v2/alerts 1; check "breaker.opened reaches Alertmanager" 0 $?
# the fault ends 8 s after the start: a half-open trial then closes the breaker
healed() { score; arrived /am/api/v2/alerts 2; }
wait_by 30 healed; check "breaker.closed resolves it" 0 $?
# a batch far over the decision log's queue (8): refused LOG_BACKLOG, the backlog announced, then cleared
$PY -c "import json,sys; print(json.dumps([json.loads(sys.argv[1])] * 400))" "$APP" >"$T/batch.json"
curl -s -o "$T/r" -X POST "$U/v1/score/batch" -H 'Content-Type: application/json' --data @"$T/batch.json"
wait_by 20 arrived /am/api/v2/alerts 4; check "dlog.backlog and dlog.backlog_cleared reach Alertmanager" 0 $?
wait_by 20 arrived /slack 10; check "ten events on Slack" 0 $?

$PY "$CHECK" "$T/recv.log" --path /hook --secret "$T/hook.key" --other-secret "$T/other.key" \
    --expect-types rollout.started,rollout.paused,change.proposed,change.approved,change.published,change.rolled_back >"$T/out" 2>&1
check "webhook: the envelope, in order, signed (and not with another secret)" 0 $?
$PY "$CHECK" "$T/recv.log" --path /slack \
    --expect-types rollout.started,rollout.paused,change.proposed,change.approved,change.published,change.rolled_back,breaker.opened,breaker.closed,dlog.backlog,dlog.backlog_cleared >"$T/out" 2>&1
check "slack: text and blocks, every event, in order" 0 $?
$PY "$CHECK" "$T/recv.log" --path /wecom --expect-types change.proposed >"$T/out" 2>&1
check "wecom: markdown, the flag change's proposal only (approver routing)" 0 $?
$PY "$CHECK" "$T/recv.log" --path /am/api/v2/alerts --expect-types breaker.opened,breaker.closed,dlog.backlog,dlog.backlog_cleared >"$T/out" 2>&1
check "alertmanager: the alarms only, as alerts" 0 $?
$PY - "$T/recv.log" >"$T/out" 2>&1 <<'P'
import base64, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def hdr(r, name):
    return {k.lower(): v for k, v in r["headers"].items()}.get(name.lower())
def bodies(path):
    return [json.loads(base64.b64decode(r["body_b64"])) for r in rows if r["path"] == path]
hook = bodies("/hook")
pa = [e for e in hook if e["type"] == "rollout.paused"][0]
assert pa["object"] == {"kind": "rollout", "id": "credit-model-route"} and pa["actor"] == "oscar", pa
pr = [e for e in hook if e["type"] == "change.proposed"][0]
assert pr["actor"] == "erin" and pr["data"]["change_kind"] == "flags", pr
assert pr["data"]["approvals_required"] >= 1 and "loosen the cut-off" in pr["summary"], pr
ap = [e for e in hook if e["type"] == "change.approved"][0]
assert ap["actor"] == "mia" and ap["data"]["approvals"] == 1, ap
assert "token" not in json.dumps(ap["data"]), ap
am = bodies("/am/api/v2/alerts")
opened, closed = [a for b in am for a in b if a["labels"]["alertname"] == "RiskdBreakerOpen"]
assert opened["labels"].get("bundle") == "credit_xgb_v1.0", opened
assert opened["endsAt"] > opened["startsAt"], opened
assert closed["labels"] == opened["labels"] and closed["endsAt"] == closed["startsAt"], (opened, closed)
backlog = [a for b in am for a in b if a["labels"]["alertname"] == "RiskdDecisionLogBacklog"]
assert len(backlog) == 2 and backlog[0]["labels"] == backlog[1]["labels"], backlog
assert backlog[1]["endsAt"] == backlog[1]["startsAt"], backlog
idem = [r for r in rows if r["path"] == "/hook"]
assert idem and all(hdr(r, "Idempotency-Key") == hdr(r, "X-Riskd-Event-Id") for r in idem), idem[0]
print("payloads ok")
P
check "payloads: the pause, proposal, approval, the breaker alert, idempotency keys" 0 $? "payloads ok" "$T/out"

# ---------------------------------------------------------------- a sink that refuses for good
propose "$T/cut-v2.json" "later"; as erin change withdraw "$id" --reason "not now"
check "a change withdrawn (the bad sink's event)" 0 $?
wait_by 20 sh -c "\"$BIN\" notify list --failed --data-dir \"$D\" | grep -q change.withdrawn"
check "riskd notify list --failed shows it" 0 $?
"$BIN" notify list --failed --data-dir "$D" >"$T/out" 2>&1
check "… with the sink and the HTTP status" 0 $? "change.withdrawn .* bad +1 +404" "$T/out"
check "riskd_notifications_failed_total of the bad sink" 1 "$(metric 'riskd_notifications_failed_total{sink="bad",kind="webhook"}')"
check "no other sink failed" 0 "$(metric 'riskd_notifications_failed_total{sink="webhook",kind="webhook"}')"
"$BIN" notify list --data-dir "$D" >"$T/out" 2>&1
check "riskd notify list: the outbox and the cursors" 0 $? "^risk-managers +wecom" "$T/out"

# ---------------------------------------------------------------- the receiver down, then back
n0=$($PY "$CHECK" "$T/recv.log" --path /hook --count)
receiver_stop
as oscar rollout rollback --flag credit-model-route --reason "ci drill"
check "a rollout rolled back while the receiver is down" 0 $?
propose "$T/cut-v2.json" "while the receiver is down"; check "a change while the receiver is down" 0 $?
as mia change approve "$id"; check "… approved" 0 $?
as mia change reject "$id" --reason "on second thoughts"; check "… and rejected" 0 $?
propose "$T/cut-v2.json" "second while down"; as erin change withdraw "$id" --reason "dup"
check "another, withdrawn" 0 $?
sleep 2 # the outage: the attempts fail and back off
receiver "$P"
wait_by 30 arrived /hook $((n0 + 6)); check "after the outage the webhook gets the six events" 0 $?
$PY "$CHECK" "$T/recv.log" --path /hook --unique --expect-types rollout.started,rollout.paused,change.proposed,change.approved,change.published,change.rolled_back,change.proposed,change.withdrawn,rollout.rolled_back,change.proposed,change.approved,change.rejected,change.proposed,change.withdrawn >"$T/out" 2>&1
check "… in order" 0 $?
check "… once each" 0 0 "ids: 14 unique, 14 deliveries" "$T/out"
wait_by 30 arrived /am/api/v2/alerts 5; check "… and the rollback reaches Alertmanager" 0 $?
$PY - "$T/recv.log" >"$T/out" 2>&1 <<'P'
import base64, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
hook = [json.loads(base64.b64decode(r["body_b64"])) for r in rows if r["path"] == "/hook"]
rb = [e for e in hook if e["type"] == "rollout.rolled_back"][0]
assert rb["object"] == {"kind": "rollout", "id": "credit-model-route"}, rb
assert rb["actor"] == "oscar" and rb["alert"]["state"] == "firing", rb
assert rb["data"]["reason"] == "rollback" and "ci drill" in rb["data"]["detail"], rb
am = [a for r in rows if r["path"] == "/am/api/v2/alerts" for a in json.loads(base64.b64decode(r["body_b64"]))]
alert = [a for a in am if a["labels"]["alertname"] == "RiskdRolloutRolledBack"][0]
assert alert["labels"]["flag"] == "credit-model-route" and alert["labels"]["severity"] == "critical", alert
print("rollback ok")
P
check "… with its reason, actor and alert" 0 $? "rollback ok" "$T/out"
check "nothing counted as failed by the outage" 0 "$(metric 'riskd_notifications_failed_total{sink="webhook",kind="webhook"}')"

# ---------------------------------------------------------------- kill -9 before the delivery
receiver_stop
n0=$($PY "$CHECK" "$T/recv.log" --path /hook --count)
propose "$T/cut-v2.json" "made before a crash"; check "a change, the receiver down" 0 $?
kill -9 "$PID"; wait "$PID" 2>/dev/null
receiver "$P"
start "${serve_args[@]}" "${SINKS[@]}" || exit 1
wait_by 30 arrived /hook $((n0 + 1)); check "kill -9: the event is delivered after the restart" 0 $?
$PY "$CHECK" "$T/recv.log" --path /hook --unique >"$T/out" 2>&1; check "… exactly once by idempotency key" 0 $?

# ---------------------------------------------------------------- kill -9 during the delivery
receiver_stop
receiver "$P" --delay-first-s 4
n0=$(wc -l <"$T/recv.log")
propose "$T/cut-v2.json" "made during a delivery"
wait_by 20 sh -c "[ \$(wc -l <\"$T/recv.log\") -gt $n0 ]"; check "the receiver got the post" 0 $?
kill -9 "$PID"; wait "$PID" 2>/dev/null
start "${serve_args[@]}" "${SINKS[@]}" || exit 1
# twice: the post the kill cut, and the one after the restart, under one idempotency key
posted_twice() {
    $PY - "$T/recv.log" "$n0" <<'P'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
ids = collections.Counter({k.lower(): v for k, v in r["headers"].items()}.get("idempotency-key")
                          for r in rows if r["path"] == "/hook")
sys.exit(0 if ids and max(ids.values()) >= 2 else 1)
P
}
wait_by 30 posted_twice; check "killed mid-delivery: the event is posted again, with the same idempotency key" 0 $?
$PY "$CHECK" "$T/recv.log" --path /hook --unique >"$T/out" 2>&1
check "… the receiver counts it once" 0 $? "ids: [0-9]+ unique" "$T/out"

# ---------------------------------------------------------------- riskd notify test
"$BIN" notify test webhook "${SINKS[@]}" >"$T/out" 2>&1
check "riskd notify test webhook" 0 $? "^sent notify.test [0-9a-f-]{36} to webhook: HTTP 200 in [0-9]+ ms$" "$T/out"
"$BIN" notify test bad "${SINKS[@]}" >"$T/out" 2>&1
check "riskd notify test to a refusing sink: exit 4, the status" 4 $? "HTTP 404" "$T/out"
"$BIN" notify test nosuch "${SINKS[@]}" >"$T/out" 2>&1
check "riskd notify test: an unknown sink" 1 $? 'no sink named "nosuch"' "$T/out"
"$BIN" notify test "slack url=http://127.0.0.1:$P/slack$Q" >"$T/out" 2>&1
check "riskd notify test with a whole spec" 0 $? "to slack: HTTP 200" "$T/out"
cat "$T/out" >>"$T/cli.out"
$PY "$CHECK" "$T/recv.log" --path /hook --secret "$T/hook.key" >"$T/out" 2>&1
check "the test event is signed" 0 $?

# ---------------------------------------------------------------- a certificate near its end
stop
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=riskd-expiring \
        -keyout "$T/tls.key" -out "$T/tls.crt" >/dev/null 2>&1
    start "${serve_args[@]}" "${SINKS[@]}" --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" || exit 1
    n0=$($PY "$CHECK" "$T/recv.log" --path /am/api/v2/alerts --count)
    wait_by 20 arrived /am/api/v2/alerts $((n0 + 1)); check "cert.expiring at the start, two days before the end" 0 $?
    $PY - "$T/recv.log" >"$T/out" 2>&1 <<'P'
import base64, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
am = [a for r in rows if r["path"] == "/am/api/v2/alerts" for a in json.loads(base64.b64decode(r["body_b64"]))]
c = [a for a in am if a["labels"]["alertname"] == "RiskdCertificateExpiring"][0]
assert c["labels"]["subject"] == "CN=riskd-expiring" and c["labels"]["severity"] == "critical", c
assert c["endsAt"] > c["startsAt"], c
print("cert ok")
P
    check "… critical, the subject and the certificate's end" 0 $? "cert ok" "$T/out"
    curl -sk "$U/metrics" >"$T/metrics"
    check "the metrics over TLS: the sinks' series" 0 $? 'riskd_notifications_sent_total\{sink="slack",kind="slack"\} [1-9]' "$T/metrics"
else
    echo "skipped: openssl missing (the certificate case)"
fi

# ---------------------------------------------------------------- nothing secret out
forbid=()
for u in admin1 erin mia oscar; do forbid+=(--forbid "$(cat "$T/$u.tok")" --forbid "$(cut -d_ -f2 "$T/$u.tok")"); done
$PY "$CHECK" "$T/recv.log" "${forbid[@]}" --forbid SENTINEL --forbid '"Expenses":73' --forbid SECRETPATH \
    --forbid-file "$T/hook.key" >"$T/out" 2>&1
check "no token, token id, request id, feature value, URL secret or key in any payload" 0 $?
grep -lE "SECRETPATH|$(head -c 20 "$T/hook.key" | sed 's/[+/]/./g')" "$T/serve.err" "$T/out" "$T/cli.out" >"$T/leaks" 2>/dev/null
check "no log line or CLI output holds the URL's secret or the key" 1 $?
kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
