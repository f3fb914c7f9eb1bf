#!/usr/bin/env bash
# The decision path through riskd serve, with curl: shadow scoring compared against the two
# bundles scored offline by `riskd score` on the same rows; fault injection proving that a
# slow model is cut off at the deadline and answered by the fallback rules, and that a failing
# model's circuit breaker opens, admits half-open trials, re-opens, and closes once the model
# heals, in that order in /metrics; refusals of bad fallback rules, shadow flags and faults;
# the compat POST /score route.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }

# ---- fixtures: two logistic regressions on one pipeline; v1.0 carries its own fallback rules
lr_fixture
cat >"$T/lr2.json" <<'J'
{"type":"logistic_regression","features":["age","home=own"],"coef":[-0.03,-1.2],"intercept":0.6,"means":[40,0.5]}
J
cat >"$T/fb-bundle.json" <<'J'
{"version":"bundle-1","rules":[
 {"name":"young","when":{"<":[{"var":"features.age"},25]},"risk_level":"high","decision":"reject","reason":"FB_YOUNG"},
 {"name":"default","risk_level":"medium","decision":"review","reason":"FB_REVIEW"}]}
J
cat >"$T/fb-service.json" <<'J'
{"version":"service-1","rules":[{"name":"default","score":null,"risk_level":"high","decision":"reject","reason":"FB_SERVICE"}]}
J
mkdir -p "$T/bundles"
"$BIN" bundle build --name demo_lr_v1.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --label bad --samples 5 --reasons 2 --fallback "$T/fb-bundle.json" --out "$T/bundles/demo_lr_v1.0" >"$T/out" 2>&1
check "build with fallback rules" 0 $? "built and verified" "$T/out"
"$BIN" bundle build --name demo_lr_v1.1 --model "$T/lr2.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --label bad --samples 5 --reasons 2 --out "$T/bundles/demo_lr_v1.1" >"$T/out" 2>&1
check "build the challenger" 0 $? "built and verified" "$T/out"
"$BIN" bundle verify "$T/bundles/demo_lr_v1.0" >"$T/out" 2>&1
check "verify compiles the fallback rules" 0 $? "4 files match their checksums, 5 sample rows re-predicted, 2 fallback rules compiled" "$T/out"
grep -q '"fallback.json": "[0-9a-f]\{64\}"' "$T/bundles/demo_lr_v1.0/manifest.json"
check "the rules are checksummed" 0 $?
cp -r "$T/bundles/demo_lr_v1.0" "$T/tampered"
sed -i 's/"reject"/"approve"/' "$T/tampered/fallback.json"
"$BIN" bundle verify "$T/tampered" >"$T/out" 2>&1
check "edited rules fail their checksum" 1 $? "fallback.json: checksum mismatch" "$T/out"

cat >"$T/flags.json" <<'J'
{"flags":{
 "model-route":{"state":"ENABLED","variants":{"champion":"demo_lr_v1.0","challenger":"demo_lr_v1.1","none":""},
   "defaultVariant":"champion","targeting":{"if":[{"==":[{"var":"segment"},"staff"]},"challenger",
                                                  {"==":[{"var":"segment"},"lost"]},"none",null]}},
 "model-shadow":{"state":"ENABLED","variants":{"on":{"bundles":["demo_lr_v1.1"]},"off":{"bundles":[]}},
   "defaultVariant":"on","targeting":{"if":[{"==":[{"var":"segment"},"quiet"]},"off",null]}}}}
J

serve() { start --flags "$T/flags.json" --bundles "$T/bundles" "$@"; } # start, stop: lib.sh
score() { # BODY [CONTEXT]: POST /v1/score, body in $T/r, status echoed
    curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "$U/v1/score"
}
metric() { # NAME{LABELS} (a literal prefix of the line): its value, or "" when absent
    curl -s "$U/metrics" | grep -v '^#' | grep -F "$1" | head -1 | awk '{print $NF}'
}

# ---- shadow: every primary answered; the shadow's counts equal the offline comparison
serve --shadow-flag model-shadow --shadow-threads 2 || exit 1
python3 - "$T/data.csv" >"$T/batch.json" <<'P'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(json.dumps([{"request_id": r["id"], "context": {"targetingKey": r["id"]},
                   "features": {"age": int(r["age"]), "home": r["home"]}} for r in rows]))
P
curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/batch.json" \
    "$U/v1/score/batch" >"$T/code"
check "the batch is answered" 200 "$(cat "$T/code")"
grep -q '"count":200,"errors":0' "$T/r"; check "every primary answered" 0 $?
[ "$(grep -o '"source":"model"' "$T/r" | wc -l)" = 200 ]; check "all by the champion model" 0 $?
for _ in $(seq 1 200); do # the shadow work finishes off the callers' clock
    [ "$(metric 'riskd_shadow_pending ')" = 0 ] && [ "$(metric 'riskd_shadow_scores_total{primary="demo_lr_v1.0",shadow="demo_lr_v1.1"}')" = 200 ] && break
    sleep 0.05
done
"$BIN" score --bundle "$T/bundles/demo_lr_v1.0" --in "$T/data.csv" --out "$T/p.csv" --id id --reasons 0 2>/dev/null
"$BIN" score --bundle "$T/bundles/demo_lr_v1.1" --in "$T/data.csv" --out "$T/s.csv" --id id --reasons 0 2>/dev/null
# columns: id,score,risk_level,model_version,decision,source
read -r want_level want_decision want_out want_in < <(paste -d, "$T/p.csv" "$T/s.csv" | tail -n +2 | awk -F, '
    { l += ($3 == $9); d += ($5 == $11); o += ($5 == "approve" && $11 == "reject"); i += ($5 == "reject" && $11 == "approve") }
    END { print l, d, o, i }')
P='primary="demo_lr_v1.0",shadow="demo_lr_v1.1"'
check "shadow scores counted" 200 "$(metric "riskd_shadow_scores_total{$P}")"
check "risk-level agreement equals the offline comparison ($want_level)" "$want_level" "$(metric "riskd_shadow_agreement_total{$P,on=\"risk_level\"}")"
check "decision agreement equals the offline comparison ($want_decision)" "$want_decision" "$(metric "riskd_shadow_agreement_total{$P,on=\"decision\"}")"
check "approve->reject swaps ($want_out)" "$want_out" "$(metric "riskd_shadow_swaps_total{$P,primary_decision=\"approve\",shadow_decision=\"reject\"}")"
check "reject->approve swaps ($want_in)" "$want_in" "$(metric "riskd_shadow_swaps_total{$P,primary_decision=\"reject\",shadow_decision=\"approve\"}")"
[ "$want_decision" -lt 200 ]; check "the two models do disagree (the comparison is not vacuous)" 0 $?
check "nothing dropped" 0 "$(metric 'riskd_shadow_dropped_total ')"
check "the diff histogram counts every score" 200 "$(metric "riskd_shadow_probability_diff_count{$P}")"
score '{"context":{"segment":"quiet"},"features":{"age":40,"home":"own"}}' >/dev/null
sleep 0.2
check "a context the shadow flag leaves out is not shadowed" 200 "$(metric "riskd_shadow_scores_total{$P}")"
curl -s "$U/ready" >"$T/r"
grep -q '"shadow_flag":"model-shadow"' "$T/r"; check "ready names the shadow flag" 0 $?
stop
check "stop" 0 $?

# ---- deadline: a delay past it is cut off and the fallback rules answer, before the delay ends
cp "$T/fb-service.json" "$T/fb-live.json"
serve --deadline-ms 100 --fallback "$T/fb-live.json" --fault demo_lr_v1.1:delay_ms=3000 --reload-interval-ms 100 || exit 1
grep -q 'FAULT INJECTION' "$T/serve.err"; check "the fault is logged loudly at start" 0 $?
curl -s "$U/ready" >"$T/r"
grep -q '"name":"demo_lr_v1.1","breaker":"closed","fallback_rules":"service","deadline_ms":null,"fault":"delay_ms=3000"' "$T/r"
check "ready shows the fault and the rules that would answer" 0 $?
t0=$(date +%s%N)
code=$(score '{"context":{"segment":"staff"},"features":{"age":40,"home":"own"}}')
ms=$((($(date +%s%N) - t0) / 1000000))
check "timeout: answered" 200 "$code"
grep -q '"source":"fallback","fallback_reason":"timeout","fallback_rule":"default","fallback_rules":"service"' "$T/r"
check "timeout: fallback_reason timeout, the service's rules" 0 $?
grep -q '"model_version":"demo_lr_v1.1","variant":"challenger","reasons":\[{"feature":null,"code":"FB_SERVICE"' "$T/r"
check "timeout: the routed model and the rule's reason code" 0 $?
[ "$ms" -lt 2500 ]; check "answered before the 3000 ms delay would have ended (${ms} ms)" 0 $?
code=$(score '{"context":{"segment":"lost"},"features":{"age":40,"home":"own"}}')
check "no bundle picked: answered" 200 "$code"
grep -q '"source":"fallback","fallback_reason":"unavailable"' "$T/r"; check "fallback_reason unavailable" 0 $?
code=$(score '{"features":{"age":40,"home":"own"}}')
grep -q '"source":"model"' "$T/r"; check "the champion is not slowed" 0 $?
code=$(score '{"features":{"age":"forty"}}')
check "a bad record is still the caller's error, not a fallback" 400 "$code"
check "fallbacks counted by reason" 1 "$(metric 'riskd_fallback_total{bundle="demo_lr_v1.1",reason="timeout"}')"
# the service-wide rules are reloaded when their file changes; broken ones are refused
printf '{"rules":[{"risk_level":"low","decision":"approve","reason":"OOPS"}]}' >"$T/fb-next.json"
mv "$T/fb-next.json" "$T/fb-live.json"
for _ in $(seq 1 100); do
    [ "$(metric 'riskd_reloads_total{what="fallback",result="refused"}')" = 1 ] && break
    sleep 0.05
done
check "rules whose default approves are refused on reload" 1 "$(metric 'riskd_reloads_total{what="fallback",result="refused"}')"
score '{"context":{"segment":"lost"},"features":{"age":40,"home":"own"}}' >/dev/null
grep -q '"code":"FB_SERVICE"' "$T/r"; check "the last good rules keep answering" 0 $?
sed 's/service-1/service-2/; s/FB_SERVICE/FB_SERVICE_2/' "$T/fb-service.json" >"$T/fb-next.json"
mv "$T/fb-next.json" "$T/fb-live.json"
for _ in $(seq 1 100); do
    [ "$(metric 'riskd_reloads_total{what="fallback",result="ok"}')" = 1 ] && break
    sleep 0.05
done
score '{"context":{"segment":"lost"},"features":{"age":40,"home":"own"}}' >/dev/null
grep -q '"code":"FB_SERVICE_2"' "$T/r"; check "new rules are taken without a restart" 0 $?
curl -s "$U/ready" | grep -q '"fallback_rules":"service-2"'; check "ready shows their version" 0 $?
stop

# ---- breaker: failures open it, fallback answers at once, half-open trials, re-open, close
serve --fault demo_lr_v1.0:error_rate=1,for_ms=6000 --breaker-min-calls 4 --breaker-open-ms 1000 \
    --breaker-half-open-calls 2 || exit 1
started=$(date +%s%N)
B='bundle="demo_lr_v1.0"'
states=$(metric "riskd_breaker_state{$B}")
for i in 1 2 3 4; do
    score '{"features":{"age":40,"home":"own"}}' >/dev/null
    grep -q '"fallback_reason":"error","fallback_rule":"default","fallback_rules":"bundle"' "$T/r" ||
        { echo "FAIL: error $i not answered by the bundle's rules: $(head -c 300 "$T/r")"; fail=$((fail + 1)); }
done
states="$states $(metric "riskd_breaker_state{$B}")"
score '{"features":{"age":22,"home":"own"}}' >/dev/null
grep -q '"fallback_reason":"breaker_open","fallback_rule":"young"' "$T/r"
check "open: the fallback answers at once, rules in order" 0 $?
sleep 1.1
score '{"features":{"age":40,"home":"own"}}' >/dev/null # a half-open trial; the fault still fails it
grep -q '"fallback_reason":"error"' "$T/r"; check "half-open: a trial reaches the model" 0 $?
states="$states $(metric "riskd_breaker_state{$B}")"
# re-opened for twice as long (2 s); the fault ends 6 s after the start
while [ $((($(date +%s%N) - started) / 1000000)) -lt 6500 ]; do sleep 0.1; done
score '{"features":{"age":40,"home":"own"}}' >/dev/null
grep -q '"source":"model"' "$T/r"; check "healed: a trial succeeds" 0 $?
states="$states $(metric "riskd_breaker_state{$B}")"
score '{"features":{"age":40,"home":"own"}}' >/dev/null
states="$states $(metric "riskd_breaker_state{$B}")"
check "breaker states in order: closed, open, open (re-opened), half-open, closed" "0 1 1 2 0" "$states"
check "opened twice" 2 "$(metric "riskd_breaker_transitions_total{$B,to=\"open\"}")"
check "half-open twice" 2 "$(metric "riskd_breaker_transitions_total{$B,to=\"half_open\"}")"
check "closed once" 1 "$(metric "riskd_breaker_transitions_total{$B,to=\"closed\"}")"
grep -q '"msg":"circuit breaker opened' "$T/serve.err"; check "the opening is logged" 0 $?
stop

# ---- refusals: bad rules, a bad shadow flag, a fault naming no bundle
printf '{"rules":[{"name":"odd","when":{"=~":[1,2]},"risk_level":"h","decision":"reject","reason":"R"},{"risk_level":"h","decision":"reject","reason":"R"}]}' >"$T/fb-op.json"
printf '{"rules":[{"name":"only","when":true,"risk_level":"h","decision":"reject","reason":"R"}]}' >"$T/fb-nodefault.json"
printf '{"rules":[{"risk_level":"low","decision":"approve","reason":"R"}]}' >"$T/fb-approve.json"
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --fallback "$T/fb-op.json" --check-config >"$T/out" 2>&1
check "rules that are not JSONLogic are refused, naming the rule" 1 $? 'fb-op.json: rules\[0\] \("odd"\): when' "$T/out"
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --fallback "$T/fb-nodefault.json" --check-config >"$T/out" 2>&1
check "rules without a default are refused" 1 $? 'rules\[0\] \("only"\): the last rule has a "when"' "$T/out"
"$BIN" bundle build --name demo_lr_v2.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --fallback "$T/fb-approve.json" --out "$T/demo_lr_v2.0" >"$T/out" 2>&1
check "a bundle whose default rule approves is not built" 1 $? "the default rule approves" "$T/out"
[ ! -e "$T/demo_lr_v2.0" ]; check "and nothing is left" 0 $?
# rules over an input the pipeline does not have would silently never fire
printf '{"rules":[{"name":"young","when":{"<":[{"var":"features.agee"},25]},"risk_level":"h","decision":"reject","reason":"R"},{"risk_level":"h","decision":"review","reason":"R"}]}' >"$T/fb-typo.json"
mkdir -p "$T/tb"
"$BIN" bundle build --name demo_lr_v2.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --fallback "$T/fb-typo.json" --out "$T/tb/demo_lr_v2.0" >"$T/out" 2>&1
check "bundle rules over an input the pipeline lacks are refused" 1 $? \
    'the rules read features.agee, which is not an input of the bundle.s pipeline \(did you mean features.age\?\)' "$T/out"
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --fallback "$T/fb-typo.json" --check-config >"$T/out" 2>&1
check "service rules over an input no bundle has are refused" 1 $? \
    'the rules read features.agee, which is not an input of the loaded bundles. pipelines \(did you mean features.age\?\)' "$T/out"
sed 's/"on":{"bundles":\["demo_lr_v1.1"\]}/"on":{"bundle":"demo_lr_v1.1"}/' "$T/flags.json" >"$T/flags-bad.json"
"$BIN" serve --flags "$T/flags-bad.json" --bundles "$T/bundles" --shadow-flag model-shadow --check-config >"$T/out" 2>&1
check "a shadow flag value that is not {\"bundles\": [...]} is refused" 1 $? 'flags.model-shadow.variants.on: a shadow flag' "$T/out"
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --shadow-flag no-such-flag --check-config >"$T/out" 2>&1
check "a shadow flag that is not there is refused" 1 $? 'shadow_flag "no-such-flag" is not in the flag set' "$T/out"
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --fault demo_lr_v7.0:delay_ms=5 --check-config >"$T/out" 2>&1
check "a fault naming no loaded bundle is refused" 1 $? 'fault: "demo_lr_v7.0" is not a loaded bundle' "$T/out"
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --fault demo_lr_v1.0:delay=5 --check-config >"$T/out" 2>&1
check "a fault spec with an unknown setting is refused" 1 $? 'unknown setting' "$T/out"
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --breaker sometimes --check-config >"$T/out" 2>&1
check "an unknown breaker mode is refused" 1 $? 'breaker must be window, consecutive or off' "$T/out"

# a reload that would break the shadow flag is refused; the last good snapshot keeps serving
serve --shadow-flag model-shadow --reload-interval-ms 100 --ready-on-refusal || exit 1
cp "$T/flags-bad.json" "$T/flags.json.new" && mv "$T/flags.json.new" "$T/flags.json"
for _ in $(seq 1 100); do
    [ "$(metric 'riskd_reloads_total{what="flags",result="refused"}')" = 1 ] && break
    sleep 0.05
done
check "the bad shadow flag is refused on reload" 1 "$(metric 'riskd_reloads_total{what="flags",result="refused"}')"
code=$(score '{"features":{"age":40,"home":"own"}}')
check "the last good snapshot keeps serving" 200 "$code"
code=$(curl -s -o "$T/r" -w '%{http_code}' "$U/ready")
check "--ready-on-refusal: /ready stays 200" 200 "$code"
grep -q '^{"status":"degraded","refused":\[{"what":"flags","since":[0-9]*,"error":"[^"]*model-shadow' "$T/r"
check "--ready-on-refusal: its body still says degraded, and why" 0 $?
stop

# ---- unknown_inputs = warn: the names no input reads are decided on and listed, not refused
serve --unknown-inputs warn || exit 1
code=$(score '{"features":{"age":40,"home":"own","Income":900}}')
check "--unknown-inputs warn decides" 200 "$code"
grep -q '"unrecognised":\["Income"\]' "$T/r"; check "and lists the name no input reads" 0 $?
stop
"$BIN" serve --flags "$T/flags.json" --bundles "$T/bundles" --unknown-inputs drop --check-config >"$T/out" 2>&1
check "an unknown_inputs mode is refused" 1 $? 'unknown_inputs must be reject, warn or ignore, not "drop"' "$T/out"

# ---- a routing flag that names no bundle when it runs (issue 11): what strict mode cannot
# judge before (a computed variant name) is answered by the fallback rules and counted, and
# without rules the 503 turns /ready 503 too: never half the traffic failing with /ready green
cat >"$T/flags-computed.json" <<'J'
{"flags":{"model-route":{"state":"ENABLED","variants":{"champion":"demo_lr_v1.0","challenger":"demo_lr_v1.1"},
   "defaultVariant":"champion","targeting":{"if":[{"var":"arm"},{"cat":["champ",{"var":"arm"}]},null]}}}}
J
start --flags "$T/flags-computed.json" --bundles "$T/bundles" || exit 1
code=$(score '{"context":{"arm":"ion"},"features":{"age":40,"home":"own"}}')
check "a computed variant that exists routes" 200 "$code"
curl -s -o "$T/r" -w '%{http_code}' "$U/ready" >"$T/code"
check "/ready is ready" 200 "$(cat "$T/code")"
code=$(score '{"context":{"arm":"ionn"},"features":{"age":40,"home":"own"}}')
check "a computed variant that does not exist: 503 without fallback rules" 503 "$code"
grep -q '"code":"MODEL_UNAVAILABLE".*no fallback rules are configured' "$T/r"
check "the error says no rules answered" 0 $?
curl -s -o "$T/r" -w '%{http_code}' "$U/ready" >"$T/code"
check "and /ready turns 503" 503 "$(cat "$T/code")"
grep -q '"status":"degraded","error":{"code":"ROUTING_FAILED","message":"the routing flag model-route gave no bundle' "$T/r"
check "/ready says the routing failed and why" 0 $?
check "counted as unanswered" 1 "$(metric 'riskd_routing_failures_total{answered="error"}')"
stop
start --flags "$T/flags-computed.json" --bundles "$T/bundles" --fallback "$T/fb-service.json" || exit 1
code=$(score '{"context":{"arm":"ionn"},"features":{"age":40,"home":"own"}}')
check "with service fallback rules the same request is decided" 200 "$code"
grep -q '"source":"fallback","fallback_reason":"unavailable"' "$T/r"
check "by the fallback rules" 0 $?
check "counted as answered by fallback" 1 "$(metric 'riskd_routing_failures_total{answered="fallback"}')"
curl -s -o "$T/r" -w '%{http_code}' "$U/ready" >"$T/code"
check "/ready stays ready: every request was decided" 200 "$(cat "$T/code")"
stop

# ---- the textbook service's route, off unless compat_routes
serve || exit 1
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{"loan_id":"L1","features":{"age":40}}' "$U/score")
check "POST /score is off by default" 404 "$code"
stop
serve --compat-routes || exit 1
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"loan_id":"L1","features":{"age":30,"home":"rent"}}' "$U/score")
check "POST /score with compat_routes" 200 "$code"
grep -qE '^\{"loan_id":"L1","score":[0-9.e-]+,"risk_level":"(LOW|MEDIUM|HIGH)","model_version":"demo_lr_v1.0","reject_reasons":\[' "$T/r"
check "the textbook response: loan_id, score, risk_level upper-case, model_version, reject_reasons" 0 $?
grep -qE '"latency_ms":[0-9.]+\}$' "$T/r"; check "with latency_ms" 0 $?
want=$(curl -s -H 'Content-Type: application/json' --data-binary '{"features":{"age":30,"home":"rent"}}' "$U/v1/score" | grep -oE '"score":[0-9.e-]+')
grep -qF "$want" "$T/r"; check "the same score as /v1/score" 0 $?
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{"loan":"L1","features":{}}' "$U/score")
check "an unknown field is refused" 400 "$code"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{"features":{}}' "$U/score")
check "loan_id is required" 400 "$code"
stop

# ---- riskd score: the same fallback rules in a batch
printf 'id,age,home\n1,19,own\n' >"$T/one.csv"
"$BIN" score --bundle "$T/bundles/demo_lr_v1.0" --in "$T/one.csv" --out - --format jsonl --id id >"$T/out" 2>&1
check "riskd score --format jsonl writes the decision record" 0 $? '^\{"request_id":"1","score":[0-9.e-]+,"probability":' "$T/out"
"$BIN" score --bundle "$T/bundles/demo_lr_v1.1" --in "$T/one.csv" --out - --deadline-ms 1 --fallback "$T/fb-service.json" >"$T/out" 2>/dev/null
check "riskd score reads --fallback" 0 $?
"$BIN" score --bundle "$T/bundles/demo_lr_v1.0" --in "$T/one.csv" --out - --fallback "$T/fb-op.json" >"$T/out" 2>&1
check "riskd score refuses bad rules" 1 $? 'rules\[0\] \("odd"\)' "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
