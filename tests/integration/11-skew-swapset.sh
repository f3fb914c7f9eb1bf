#!/usr/bin/env bash
# riskd skew and riskd swapset end to end: a server with two bundles routed 70/30 by a flag and
# two more scoring every request in shadow, 1200 decisions, their outcomes imported; then
#   skew: an offline CSV of the same applications is consistent (exit 0); the same CSV with one
#   input's encoding changed (home upper-cased; age in months) names that input and no other
#   (exit 5); a missing id column, ids that join nothing, an id twice, a bundle that does not
#   load, a file whose columns match no input are refused (exit 1); an input the file lacks is
#   named;
#   swapset: the 2x2 table, approval rates, bad rates and the constant-approval cut-off checked
#   against an independent computation in python from `riskd log export`, at the logged
#   decisions and at cut-offs, and from a CSV; several challengers, an unknown name, no shadow
#   records, a cut-off that is not a number, a missing column, a bad label are refused.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/analysis_fixture.sh
. "$(dirname "$0")/analysis_fixture.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3

# ---- three bundles: champion 1.0, challenger 1.1 (routed 30% too), a second shadow 1.2
lr_fixture
cat >"$T/lr2.json" <<'J'
{"type":"logistic_regression","features":["age","home=own"],"coef":[-0.03,-1.2],"intercept":0.6,"means":[40,0.5]}
J
cat >"$T/lr3.json" <<'J'
{"type":"logistic_regression","features":["age","home=own"],"coef":[-0.04,-0.5],"intercept":0.9,"means":[40,0.5]}
J
mkdir -p "$T/bundles"
for v in 1.0 1.1 1.2; do
    m=$T/lr.json
    [ $v = 1.1 ] && m=$T/lr2.json
    [ $v = 1.2 ] && m=$T/lr3.json
    "$BIN" bundle build --name demo_lr_v$v --model "$m" --pipeline "$T/pipe.json" --data "$T/data.csv" --label bad \
        --samples 5 --reasons 2 --out "$T/bundles/demo_lr_v$v" >"$T/out" 2>&1
    check "build demo_lr_v$v" 0 $? "built and verified" "$T/out"
done
cat >"$T/flags.json" <<'J'
{"flags":{"model-route":{"state":"ENABLED","variants":{"champion":"demo_lr_v1.0","challenger":"demo_lr_v1.1"},
   "defaultVariant":"champion","targeting":{"fractional":[["champion",70],["challenger",30]]}},
 "model-shadow":{"state":"ENABLED","variants":{"on":{"bundles":["demo_lr_v1.1","demo_lr_v1.2"]},"off":{"bundles":[]}},
   "defaultVariant":"on"}}}
J
$PY - "$T" <<'P'
import json, random, sys
r = random.Random(13)
apps = [{"request_id": "a-%d" % i, "context": {"targetingKey": "u%d" % i},
         "features": {"age": r.randint(18, 95), "home": r.choice(["own", "rent"])}} for i in range(1, 1201)]
json.dump(apps[:600], open(sys.argv[1] + "/b1.json", "w"))
json.dump(apps[600:], open(sys.argv[1] + "/b2.json", "w"))
with open(sys.argv[1] + "/offline.csv", "w") as f:  # the same applications, as the offline system holds them
    f.write("request_id,age,home,branch\n")
    for a in apps:
        f.write("%s,%d,%s,x\n" % (a["request_id"], a["features"]["age"], a["features"]["home"]))
with open(sys.argv[1] + "/offline-home.csv", "w") as f:  # one input re-encoded: home upper-cased
    f.write("request_id,age,home,branch\n")
    for a in apps:
        f.write("%s,%d,%s,x\n" % (a["request_id"], a["features"]["age"], a["features"]["home"].upper()))
with open(sys.argv[1] + "/offline-months.csv", "w") as f:  # age in months, 200 rows only
    f.write("request_id,home,age\n")
    for a in apps[:200]:
        f.write("%s,%s,%d\n" % (a["request_id"], a["features"]["home"], 12 * a["features"]["age"]))
P
post() { curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$2" "$U$1"; }
metric() { curl -s "$U/metrics" | grep -v '^#' | grep -F "$1" | head -1 | awk '{print $NF}'; }
D=$T/data

start --flags "$T/flags.json" --bundles "$T/bundles" --shadow-flag model-shadow --log-durability ack \
    --shadow-queue 8192 || exit 1  # every shadow score kept: the swap-set checks need them all
check "600 decisions" 200 "$(post /v1/score/batch "$T/b1.json")"
check "600 more" 200 "$(post /v1/score/batch "$T/b2.json")"
for _ in $(seq 1 400); do # the shadow work finishes off the callers' clock
    [ "$(metric 'riskd_shadow_pending ')" = 0 ] && break
    sleep 0.05
done
check "no shadow score dropped" 0 "$(metric 'riskd_shadow_dropped_total ')"
stop

"$BIN" log export --data-dir "$D" --out "$T/log.jsonl" 2>/dev/null
check "log export" 0 $?
# labels: bad with a probability rising with the champion's score; 1000 of the 1200 labelled
$PY - "$T" <<'P'
import json, random, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/log.jsonl")]
r = random.Random(7)
with open(sys.argv[1] + "/dpd30.csv", "w") as f:
    f.write("request_id,label,outcome\n")
    for x in recs:
        if x["kind"] == "primary" and int(x["request_id"][2:]) <= 1000:
            f.write("%s,%d,dpd30\n" % (x["request_id"], r.random() < min(1.0, 1.5 * x["score"])))
P
"$BIN" outcomes import "$T/dpd30.csv" --data-dir "$D" >"$T/out" 2>&1
check "import 1000 outcomes" 0 $? "1000 outcomes: 1000 new" "$T/out"

# ---------------------------------------------------------------- skew
B10=$T/bundles/demo_lr_v1.0
skew() { "$BIN" skew --data-dir "$D" --bundle "$B10" "$@" >"$T/out" 2>"$T/err"; }
skew --offline "$T/offline.csv" --id request_id
check "skew: the same applications are consistent" 0 $? "^OK: consistent: no input differs in more than 0.10% of 1200 joined rows" "$T/out"
grep -qE "scores by this bundle: [0-9]+ compared, 0 differ" "$T/out"; check "skew: the champion's scores agree" 0 $? "." "$T/out"
skew --offline "$T/offline.csv" --id request_id --json
check "skew --json" 0 $?
schema_ok "skew --json" skew "$T/out"
$PY - "$T/out" "$T/log.jsonl" >"$T/py" 2>&1 <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(sys.argv[2])]
prim = [x for x in recs if x["kind"] == "primary"]
mine = [x for x in prim if x["bundle"]["name"] == "demo_lr_v1.0"]
assert r["report"] == "skew" and r["joined"] == 1200 and r["online_rows"] == 1200, r
assert r["offline_rows"] == 1200 and r["unmatched_offline"] == 0 and not r["differences"]
assert r["missing_inputs"] == [] and r["examples"] == []
assert r["score"]["compared"] == len(mine) and r["score"]["differing"] == 0, (r["score"], len(mine))
assert sorted(i["name"] for i in r["inputs"]) == ["age", "home"]
assert all(i["mismatches"] == 0 and i["compared"] == 1200 and not i["alarm"] for i in r["inputs"])
print("ok")
P
check "skew --json: counts as the log holds them" 0 $? "^ok$" "$T/py"

skew --offline "$T/offline-home.csv" --id request_id
check "skew: home upper-cased differs: exit 5" 5 $? "^DIFFERENCES: home differs in" "$T/out"
grep -qE "^  home .* DIFFERS \(columns: home=own\)" "$T/out"; check "skew: the one-hot column named" 0 $? "." "$T/out"
grep -qE "^  age +1200 +0 +0\.00% +0 +ok" "$T/out"; check "skew: age does not differ" 0 $? "." "$T/out"
grep -qE 'a-[0-9]+  home: online "own", offline "OWN"  -> home=own 1 vs 0' "$T/out"; check "skew: an example with both raw values" 0 $? "." "$T/out"
skew --offline "$T/offline-home.csv" --id request_id --json
$PY - "$T/out" "$T/offline.csv" >"$T/py" 2>&1 <<'P'
import csv, json, sys
r = json.load(open(sys.argv[1]))
own = sum(1 for x in csv.DictReader(open(sys.argv[2])) if x["home"] == "own")
alarms = [i["name"] for i in r["inputs"] if i["alarm"]]
assert alarms == ["home"], alarms
home = r["inputs"][0]
assert home["name"] == "home" and home["mismatches"] == own and home["columns"] == "home=own", (home, own)
assert abs(home["rate"] - own / 1200) < 1e-12 and home["max_diff"] is None  # a category: no numeric difference
assert r["inputs"][1]["mismatches"] == 0
assert len(r["examples"]) == 20 and all(e["input"] == "home" for e in r["examples"])
assert r["differences"] and r["score"]["differing"] > 0
print("ok")
P
check "skew --json: exactly the own rows of home differ" 0 $? "^ok$" "$T/py"

skew --offline "$T/offline-months.csv" --id request_id
check "skew: age in months is named (refused offline: above max), 200 rows < min-rows" 5 $? "^DIFFERENCES: age differs in 100.0% of 200 joined rows" "$T/out"
grep -qE "^  home +0 +0 " "$T/out"; check "skew: home is not blamed" 0 $? "." "$T/out"
grep -q "rows the pipeline refused: 0 online, 200 offline" "$T/out"; check "skew: the refusals counted" 0 $? "." "$T/out"
grep -q "(1000 offline rows" "$T/out"; [ $? = 1 ]; check "skew: no unmatched rows claimed" 0 $?
head -101 "$T/offline.csv" >"$T/few.csv"
skew --offline "$T/few.csv" --id request_id
check "skew: 100 consistent rows are too few to judge: exit 0" 0 $? "insufficient data: 1000 joined rows needed to judge a rate of 0.10%, 100 joined" "$T/out"

cut -d, -f1,2 "$T/offline.csv" >"$T/noh.csv"
skew --offline "$T/noh.csv" --id request_id
check "skew: an input the file lacks differs, named" 5 $? "WARNING: inputs not in .*noh.csv .*: home" "$T/out"
grep -q "noh.csv has no column for: home" "$T/err"; check "skew: ... and said on stderr" 0 $? "." "$T/err"
skew --offline "$T/offline.csv" --id reqid
check "skew: no id column: exit 1, the columns listed" 1 $? "--id reqid names no column.*columns: request_id, age, home, branch" "$T/err"
skew --offline "$T/offline.csv" --id request_i
check "skew: a misspelt id column: did you mean" 1 $? "did you mean request_id" "$T/err"
sed 's/^a-/zz-/' "$T/offline.csv" >"$T/zz.csv"
skew --offline "$T/zz.csv" --id request_id
check "skew: ids that join nothing: exit 1" 1 $? "none of the 1200 ids in .*zz.csv matches a decision in the window" "$T/err"
{ cat "$T/few.csv"; sed -n 3p "$T/offline.csv"; } >"$T/dup.csv"
skew --offline "$T/dup.csv" --id request_id
check "skew: an id twice: exit 1, the lines named" 1 $? "dup.csv: line 102: request id a-2 appears again \(first on line 3\)" "$T/err"
"$BIN" skew --data-dir "$D" --bundle "$T/nope" --offline "$T/offline.csv" --id request_id >"$T/out" 2>"$T/err"
check "skew: a bundle that does not load: exit 1" 1 $? "--bundle .*nope" "$T/err"
sed '1s/.*/request_id,AGE,HOME,branch/' "$T/offline.csv" >"$T/upper.csv"
skew --offline "$T/upper.csv" --id request_id
check "skew: no column is an input: refused" 1 $? "upper.csv" "$T/err"
skew --offline "$T/offline.csv" --id request_id --threshold abc
check "skew: a threshold that is no rate: usage" 2 $? "--threshold" "$T/err"
skew --offline "$T/offline.csv" --id request_id --from 2099-01-01
check "skew: an empty window joins nothing" 1 $? "none of the 1200 ids" "$T/err"

# ---------------------------------------------------------------- swapset
swap() { "$BIN" swapset "$@" >"$T/out" 2>"$T/err"; }
swap --data-dir "$D"
check "swapset: several challengers, none chosen: exit 1, listed" 1 $? "several bundles score in shadow: choose one with --challenger \(demo_lr_v1.1, demo_lr_v1.2\)" "$T/err"
swap --data-dir "$D" --challenger demo_lr_v9.9
check "swapset: an unknown challenger" 1 $? "--challenger demo_lr_v9.9: no shadow record of that bundle .*demo_lr_v1.1, demo_lr_v1.2" "$T/err"
swap --data-dir "$D" --challenger demo_lr_v1.1 --champion demo_lr_v7.0
check "swapset: an unknown champion" 1 $? "--champion demo_lr_v7.0: no primary decision of that bundle" "$T/err"
swap --data-dir "$D" --from 2099-01-01
check "swapset: no shadow records in the window" 1 $? "no shadow records in the window" "$T/err"
swap --data-dir "$D" --challenger demo_lr_v1.1 --champion-cutoff abc
check "swapset: a cut-off that is not a number: usage" 2 $? '--champion-cutoff: "abc" is not a number' "$T/err"
swap --data-dir "$D" --challenger demo_lr_v1.1
check "swapset: the text table" 0 $? "^  swap_in +decline +approve" "$T/out"
grep -q "approval rate: champion" "$T/out"; check "swapset: approval rates" 0 $? "." "$T/out"

# the independent computation: pairs from the exported log, labels from the imported file
cat >"$T/check.py" <<'P'
import csv, json, math, sys
out, logf, labf, c1, c2, minlab = sys.argv[1:7]
r = json.load(open(out))
recs = [json.loads(l) for l in open(logf)]
labels = {x["request_id"]: int(x["label"]) for x in csv.DictReader(open(labf))}
sh = {x["request_id"]: x for x in recs if x["kind"] == "shadow" and x["bundle"]["name"] == "demo_lr_v1.1"}
pairs = []
for x in recs:
    if x["kind"] != "primary" or x["bundle"]["name"] != "demo_lr_v1.0":
        continue
    s = sh.get(x["request_id"])
    a1 = x["decision"] == "approve" if c1 == "-" else x["score"] < float(c1)
    a2 = s["decision"] == "approve" if c2 == "-" else s["score"] < float(c2)
    pairs.append((x["score"], s["score"], a1, a2, labels.get(x["request_id"])))
assert r["units"] == len(pairs) and r["unpaired"] == 0, (r["units"], len(pairs))
assert r["champion"] == "demo_lr_v1.0" and r["challenger"] == "demo_lr_v1.1" and r["outcome"] == "dpd30"
want = {"keep_in": (True, True), "swap_out": (True, False), "swap_in": (False, True), "keep_out": (False, False)}
for cell in r["cells"]:
    ps = [p for p in pairs if (p[2], p[3]) == want[cell["cell"]]]
    lab = [p[4] for p in ps if p[4] is not None]
    assert cell["count"] == len(ps), (cell, len(ps))
    assert abs(cell["share"] - len(ps) / len(pairs)) < 1e-12
    if ps:
        assert abs(cell["mean_champion"] - sum(p[0] for p in ps) / len(ps)) < 1e-9
        assert abs(cell["mean_challenger"] - sum(p[1] for p in ps) / len(ps)) < 1e-9
    assert cell["labelled"] == len(lab) and cell["bads"] == sum(lab), cell
    if len(lab) >= int(minlab) and lab:
        assert abs(cell["bad_rate"] - sum(lab) / len(lab)) < 1e-12
    else:
        assert cell["bad_rate"] is None and cell["note"].startswith("insufficient data"), cell
k = sum(p[2] for p in pairs)
assert abs(r["champion_approval"] - k / len(pairs)) < 1e-12
assert abs(r["challenger_approval"] - sum(p[3] for p in pairs) / len(pairs)) < 1e-12
s = sorted(p[1] for p in pairs)
assert r["constant_cutoff"] == (s[k] if k < len(s) else math.nextafter(s[-1], math.inf)), (r["constant_cutoff"], s[k])
assert r["champion_rule"] == ("logged decision" if c1 == "-" else "score < " + c1)
print("ok", len(pairs), [c["count"] for c in r["cells"]])
P
swap --data-dir "$D" --challenger demo_lr_v1.1 --json
check "swapset --json" 0 $?
schema_ok "swapset --json" swapset "$T/out"
$PY "$T/check.py" "$T/out" "$T/log.jsonl" "$T/dpd30.csv" - - 30 >"$T/py" 2>&1
check "swapset at the logged decisions equals python's" 0 $? "^ok" "$T/py"
swap --data-dir "$D" --challenger demo_lr_v1.1 --champion demo_lr_v1.0 --champion-cutoff 0.3 --challenger-cutoff 0.25 --min-labelled 200 --json
check "swapset at cut-offs --json" 0 $?
$PY "$T/check.py" "$T/out" "$T/log.jsonl" "$T/dpd30.csv" 0.3 0.25 200 >"$T/py" 2>&1
check "swapset at cut-offs equals python's" 0 $? "^ok" "$T/py"
swap --data-dir "$D" --challenger demo_lr_v1.1 --min-labelled 100000
check "swapset: too few labelled: insufficient data in the text" 0 $? "insufficient data: 100000 labelled needed" "$T/out"

# ---- from a CSV: the pairs python built, labels 0/1/empty
$PY - "$T" <<'P'
import csv, json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/log.jsonl")]
labels = {x["request_id"]: x["label"] for x in csv.DictReader(open(sys.argv[1] + "/dpd30.csv"))}
sh = {x["request_id"]: x for x in recs if x["kind"] == "shadow" and x["bundle"]["name"] == "demo_lr_v1.1"}
with open(sys.argv[1] + "/pairs.csv", "w") as f:
    f.write("id,champ,chall,bad\n")
    for x in recs:
        if x["kind"] == "primary" and x["bundle"]["name"] == "demo_lr_v1.0":
            f.write("%s,%r,%r,%s\n" % (x["request_id"], x["score"], sh[x["request_id"]]["score"], labels.get(x["request_id"], "")))
P
swap --in "$T/pairs.csv" --champion-col champ --challenger-col chall --label-col bad --champion-cutoff 0.3 --challenger-cutoff 0.25 --min-labelled 200 --json
check "swapset from a CSV" 0 $?
sed -i 's/"champion": "champ"/"champion": "demo_lr_v1.0"/; s/"challenger": "chall"/"challenger": "demo_lr_v1.1"/' "$T/out"
$PY - "$T/out" >"$T/out2" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["champion"] == "champ" and r["challenger"] == "chall" and r["outcome"] is None
r["champion"], r["challenger"], r["outcome"] = "demo_lr_v1.0", "demo_lr_v1.1", "dpd30"
print(json.dumps(r))
P
$PY "$T/check.py" "$T/out2" "$T/log.jsonl" "$T/dpd30.csv" 0.3 0.25 200 >"$T/py" 2>&1
check "swapset from a CSV equals python's" 0 $? "^ok" "$T/py"
swap --in "$T/pairs.csv" --champion-col champ --challenger-col chall --champion-cutoff 0.3 --challenger-cutoff 0.25 --approve-above --json
$PY - "$T/out" "$T/pairs.csv" >"$T/py" 2>&1 <<'P'
import csv, json, sys
r = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
a1 = [float(x["champ"]) >= 0.3 for x in rows]
a2 = [float(x["chall"]) >= 0.25 for x in rows]
keep_in = sum(1 for i in range(len(rows)) if a1[i] and a2[i])
assert r["cells"][0]["count"] == keep_in and r["challenger_above"] and r["challenger_rule"] == "score >= 0.25"
k = sum(a1); s = sorted(float(x["chall"]) for x in rows)
assert r["constant_cutoff"] == s[len(s) - k], (r["constant_cutoff"], s[len(s) - k])
print("ok")
P
check "swapset --approve-above" 0 $? "^ok$" "$T/py"
swap --in "$T/pairs.csv" --champion-col champ --challenger-col chal --champion-cutoff 0.3 --challenger-cutoff 0.25
check "swapset: a missing column, did you mean" 1 $? "--challenger-col chal names no column \(did you mean chall\?\)" "$T/err"
swap --in "$T/pairs.csv" --champion-col champ --challenger-col chall --champion-cutoff 0.3
check "swapset: a CSV without both cut-offs: usage" 2 $? "--challenger-cutoff" "$T/err"
sed '5s/,[01]*$/,2/' "$T/pairs.csv" >"$T/badlab.csv"
swap --in "$T/badlab.csv" --champion-col champ --challenger-col chall --label-col bad --champion-cutoff 0.3 --challenger-cutoff 0.25
check "swapset: a label of 2: the line named" 1 $? 'badlab.csv: line 5: bad: "2" is not a label' "$T/err"
swap --data-dir "$D" --challenger demo_lr_v1.1 --html "$T/swap.html"
check "swapset --html writes the page" 0 $?
[ -s "$T/swap.html" ]; check "the page is there" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
