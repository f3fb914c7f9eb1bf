#!/usr/bin/env bash
# riskd rollout validate end to end: the example plans against the example flag file and the
# example bundles (built here); broken copies of each (a routing flag listing the control
# first, a changed total, a bundle not loaded or not loadable, a misspelt metric, a segment
# naming no evaluator, a narrowing stage), each refused with the stage and field named;
# reachability warnings; --json; usage errors. validate never writes the flag file.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

CANARY=examples/rollout/credit-canary.json
DRILL=examples/rollout/credit-drill.json
FLAGS=examples/flags/routing.json

# The example bundles, built from the example models and data as `make demo` builds them.
mkdir -p "$T/bundles"
for n in credit_xgb_v1.0 credit_xgb_v1.1; do
    "$BIN" bundle build --name "$n" --model "examples/models/$n/model.json" \
        --pipeline "examples/models/$n/pipeline.json" --data examples/data/credit_data.csv --label Status \
        --positive bad --fallback "examples/models/$n/fallback.json" --out "$T/bundles/$n" >"$T/out" 2>&1
    check "build $n" 0 $? "built and verified" "$T/out"
done

# ---------------------------------------------------------------- usage
"$BIN" --help >"$T/out" 2>&1; check "riskd --help lists rollout" 0 $? "rollout" "$T/out"
"$BIN" rollout --help >"$T/out" 2>&1; check "rollout --help" 0 $? "validate PLAN" "$T/out"
"$BIN" rollout validate --help >"$T/out" 2>&1; check "rollout validate --help" 0 $? "--expected-rps" "$T/out"
"$BIN" rollout >"$T/out" 2>&1; check "rollout without a subcommand" 2 $? "usage" "$T/out"
"$BIN" rollout frobnicate >"$T/out" 2>&1; check "unknown subcommand" 2 $? 'unknown subcommand "frobnicate"' "$T/out"
"$BIN" rollout validate >"$T/out" 2>&1; check "validate without a plan" 2 $? "exactly one PLAN" "$T/out"
"$BIN" rollout validate "$CANARY" --expected-rps fast >"$T/out" 2>&1
check "--expected-rps not a number" 2 $? "--expected-rps: must be a positive number" "$T/out"
"$BIN" rollout validate "$CANARY" --bogus >"$T/out" 2>&1; check "unknown option" 2 $? "usage" "$T/out"
"$BIN" rollout validate "$T/none.json" >"$T/out" 2>&1; check "plan file missing" 4 $? "none.json" "$T/out"

# ---------------------------------------------------------------- the examples
sha_before=$(sha256sum "$FLAGS")
"$BIN" rollout validate "$CANARY" --flags "$FLAGS" --bundles "$T/bundles" --expected-rps 5 >"$T/out" 2>"$T/err"
check "canary: ok" 0 $? 'ok: plan "credit-canary"' "$T/out"
check "canary: the 0.1% stage" 0 0 '^  2 +0\.1% +0\.1% +2d +7d +1000$' "$T/out"
check "canary: the shadow stage" 0 0 '^  0 +shadow +0% \+ shadow +1d +3d +5000$' "$T/out"
check "canary: the internal stage's segment" 0 0 'segment \{"\$ref":"internal_staff"\}' "$T/out"
check "canary: gates listed" 0 0 'gate reject_rate ratio vs control: pass < 1.2, fail >= 1.5' "$T/out"
check "canary: bad_rate from 5%" 0 0 'gate bad_rate \(fpd\): sequential test, alpha 0.05' "$T/out"
check "canary: the segment stage cannot be estimated" 0 0 \
    'warning: stage "internal": the candidate sees only its segment' "$T/err"
[ "$(sha256sum "$FLAGS")" = "$sha_before" ]; check "validate leaves the flag file alone" 0 $?

"$BIN" rollout validate "$DRILL" --flags "$FLAGS" --bundles "$T/bundles" --expected-rps 50 >"$T/out" 2>"$T/err"
check "drill: ok" 0 $? 'ok: plan "credit-drill" .*4 stages, evaluated every 1s' "$T/out"
[ ! -s "$T/err" ]; check "drill at 50 rps: no warning" 0 $?
"$BIN" rollout validate "$DRILL" --expected-rps 10 >"$T/out" 2>"$T/err"
check "drill at 10 rps: warned, still ok" 0 $? \
    'stage "10%": at 10 rps the candidate sees ~1/s, 60 in its 1m deadline: fewer than min_samples 200' "$T/err"
check "drill at 10 rps: PSI rows" 0 0 'stage "shadow": .*fewer than the 1000 rows PSI needs' "$T/err"

"$BIN" rollout validate "$CANARY" --flags "$FLAGS" --expected-rps 5 --json >"$T/out" 2>/dev/null
check "--json: exit 0" 0 $?
python3 - "$T/out" <<'P' >"$T/py" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["plan"]["name"] == "credit-canary", d
st = d["plan"]["stages"]
assert [s["name"] for s in st] == ["shadow", "internal", "0.1%", "5%", "20%", "50%", "100%"]
assert st[2]["candidate_percent"] == 0.1 and st[2]["candidate_weight"] == 100
assert st[2]["targeting"] == {"fractional": [["challenger", 100], ["champion", 99900]]}
assert st[1]["targeting"]["if"][0] == {"$ref": "internal_staff"}
assert st[0]["gates"][0] == {"metric": "shadow_agreement", "compare": "absolute", "pass": {">": 0.95},
                             "fail": {"<=": 0.9}, "failure_limit": 0, "min_samples": 5000, "window": "stage"}
assert len(d["warnings"]) == 1 and "internal" in d["warnings"][0]
assert d["checked"] == {"flags": "examples/flags/routing.json", "bundles": None, "reshuffle": False}
print("json ok")
P
check "--json: the plan as checked" 0 $? "json ok" "$T/py"

# ---------------------------------------------------------------- broken copies
refused() { # name, pattern, riskd arguments...
    local name=$1 pattern=$2
    shift 2
    "$BIN" rollout validate "$@" >"$T/out" 2>&1
    check "refuse $name" 1 $? "$pattern" "$T/out"
}

# the routing flag as it was before rollouts: the control first, out of 100
sed 's/\["challenger", 10000\], \["champion", 90000\]/["champion", 90], ["challenger", 10]/' "$FLAGS" >"$T/old.json"
refused "the 90/10 list" 'route_flag: the fractional of "credit-model-route" lists "champion" first and totals 100: a stage change would move applicants between models; rewrite it candidate-first out of 100000 \(\[\["challenger", 10000\], \["champion", 90000\]\]\), or pass --reshuffle' \
    "$CANARY" --flags "$T/old.json"
sed 's/\["challenger", 10000\], \["champion", 90000\]/["champion", 90000], ["challenger", 10000]/' "$FLAGS" >"$T/reordered.json"
refused "reordered variants" 'route_flag: the fractional of "credit-model-route" lists "champion" first: a stage change' \
    "$CANARY" --flags "$T/reordered.json"
sed 's/\["challenger", 10000\], \["champion", 90000\]/["challenger", 10], ["champion", 90]/' "$FLAGS" >"$T/total.json"
refused "a changed total" 'route_flag: the fractional of "credit-model-route" totals 100: ' "$DRILL" --flags "$T/total.json"
"$BIN" rollout validate "$CANARY" --flags "$T/total.json" --reshuffle >"$T/out" 2>&1
check "--reshuffle accepts the changed total" 0 $? 'ok: plan "credit-canary"' "$T/out"
sed 's/"none"/"off"/g' "$FLAGS" >"$T/shadow.json"
refused "a shadow flag without the off variant" 'shadow.off: the shadow flag "credit-model-shadow" has no variant "none"' \
    "$CANARY" --flags "$T/shadow.json"

mkdir -p "$T/one"
cp -r "$T/bundles/credit_xgb_v1.0" "$T/one/"
refused "a bundle not loaded" 'candidate.bundle: "credit_xgb_v1.1" is not loaded \(the bundles: "credit_xgb_v1.0"\)' \
    "$CANARY" --bundles "$T/one"
cp -r "$T/bundles/credit_xgb_v1.1" "$T/one/"
echo '{}' >"$T/one/credit_xgb_v1.1/manifest.json"
refused "a bundle that does not load" 'candidate.bundle: "credit_xgb_v1.1" is not loaded: .*credit_xgb_v1.1' \
    "$CANARY" --bundles "$T/one"

edit() { # python expression on p (the plan), output file
    python3 -c "import json,sys; p=json.load(open('$CANARY')); $1; json.dump(p, open('$2','w'), indent=1)"
}
edit "p['stages'][3]['gates'][0]['metric']='rejct_rate'" "$T/metric.json"
refused "an unknown metric" 'stages\[3\] \("5%"\)\.gates\[0\]\.metric: "rejct_rate" is not a metric \(did you mean "reject_rate"\?\)' \
    "$T/metric.json"
edit "p['gates'][0]['compare']='ratoi'" "$T/compare.json"
refused "an unknown comparison in the plan's gates" 'gates\[0\]\.compare: "ratoi" is not a comparison' "$T/compare.json"
edit "p['stages'][2]['hld']=p['stages'][2].pop('hold')" "$T/key.json"
refused "a misspelt key" 'stages\[2\] \("0.1%"\)\.hld: not a key of a stage \(did you mean "hold"\?\)' "$T/key.json"
edit "p['stages'][4]['candidate_weight']=1000" "$T/narrow.json"
refused "a narrowing stage" 'stages\[4\] \("20%"\)\.candidate_weight: 1000 is less than the previous stage.s 5000 \("5%"\)' \
    "$T/narrow.json"
edit "p['stages'][0]['gates'][0]['fail']={'<=': 0.97}" "$T/overlap.json"
refused "overlapping pass and fail" 'stages\[0\] \("shadow"\)\.gates\[0\]: pass \{">": 0.95\} and fail \{"<=": 0.97\} overlap' \
    "$T/overlap.json"
edit "p['stages'][5]['deadline']='1d'" "$T/deadline.json"
refused "a deadline before the hold" 'stages\[5\] \("50%"\)\.deadline: 1d is shorter than the hold \(7d\)' "$T/deadline.json"
edit "p['stages'][1]['segment']={'\$ref': 'internal_stuff'}" "$T/ref.json"
refused "a segment naming no evaluator" 'stages\[1\] \("internal"\)\.segment: the flag file this stage writes would be refused: flags.credit-model-route.targeting: \$ref to unknown evaluator "internal_stuff"' \
    "$T/ref.json" --flags "$FLAGS"
edit "p['candidate']['bundle']='credit_xgb_v1.2'" "$T/bundle.json"
refused "a candidate the routing flag does not name" 'candidate.bundle: the routing flag.s variant "challenger" names "credit_xgb_v1.1", not "credit_xgb_v1.2"' \
    "$T/bundle.json" --flags "$FLAGS"
edit "p['route_flag']='credit-model-rout'" "$T/route.json"
refused "a misspelt routing flag" 'route_flag: "credit-model-rout" is not a flag of the flag set \(did you mean "credit-model-route"\?\)' \
    "$T/route.json" --flags "$FLAGS"
printf '{"name": "x",' >"$T/trunc.json"
refused "a truncated plan" 'trunc.json: line 1, column' "$T/trunc.json"

# exposure caps: the units and the field printed (text and JSON); a cap where it cannot work refused
edit "p['exposure']={'amount_field':'features.Amount'}; p['stages'][3].update(max_approved_amount=150000, max_approved_count=2500); p['stages'][4]['max_approved_amount']=0.07" "$T/caps.json"
"$BIN" rollout validate "$T/caps.json" >"$T/out" 2>&1
check "caps: text" 0 $? "caps: approved amount 150000 \(15000000 units of 0\.01\), 2500 approvals" "$T/out"
check "caps: exposure line" 0 0 "exposure: amount from features.Amount, unit 0.01" "$T/out"
"$BIN" rollout validate "$T/caps.json" --json >"$T/out" 2>/dev/null
python3 -c "
import json; d=json.load(open('$T/out'))['plan']
assert d['exposure']=={'amount_field':'features.Amount','unit':0.01,'slice':0.05}, d['exposure']
s=d['stages']
assert s[3]['caps']=={'max_approved_amount':150000,'max_amount_units':15000000,'max_approved_count':2500}, s[3]['caps']
assert s[4]['caps']=={'max_approved_amount':0.07,'max_amount_units':7,'max_approved_count':None}, s[4]['caps']
assert s[0]['caps'] is None and s[6]['caps'] is None
print('caps json ok')" >"$T/py" 2>&1
check "caps: JSON" 0 $? "caps json ok" "$T/py"
edit "p['stages'][6]['max_approved_count']=5" "$T/caplast.json"
refused "a cap in the last stage" 'stages\[6\] \("100%"\)\.max_approved_count: not in the last stage' "$T/caplast.json"
edit "p['stages'][3]['max_approved_amount']=5" "$T/capfield.json"
refused "an amount cap without exposure.amount_field" 'stages\[3\] \("5%"\)\.max_approved_amount: needs the plan.s exposure.amount_field' "$T/capfield.json"

"$BIN" rollout validate "$T/metric.json" --json >"$T/out" 2>/dev/null
check "--json refusal: exit 1" 1 $?
python3 -c "import json,sys; d=json.load(open('$T/out')); assert d['ok'] is False and d['error']['code']=='INVALID_ARGUMENT' and 'rejct_rate' in d['error']['message']; print('json refusal ok')" >"$T/py" 2>&1
check "--json refusal: the error as JSON" 0 $? "json refusal ok" "$T/py"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
