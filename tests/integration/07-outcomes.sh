#!/usr/bin/env bash
# Outcomes that arrive late, joined to the decision log: POST /v1/outcomes records new labels,
# answers the same batch again "same" (nothing changes), replaces a changed label and keeps the
# change, counts and names unknown request ids without refusing the batch, refuses a malformed
# batch whole (400, nothing recorded; 413 over max_batch), and answers 503 LOG_OFF without a
# decision log; riskd outcomes import does the same from a CSV (exit 3 for unknown ids, a bad
# line refuses the file); riskd outcomes stats and GET /v1/outcomes/stats report the counts,
# the bad rate among approved and the realised KS per variant, checked against an independent
# computation (scipy.stats.ks_2samp on the scores read back from riskd log export) once there
# are 100 bads, and "needs 100 bads" below.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3
$PY -c 'import scipy.stats' || { echo "scipy missing (scripts/deps.sh installs python3-scipy)"; exit 1; }

# ---- two bundles routed 70/30 by a flag, as in 06-log.sh
lr_fixture
cat >"$T/lr2.json" <<'J'
{"type":"logistic_regression","features":["age","home=own"],"coef":[-0.03,-1.2],"intercept":0.6,"means":[40,0.5]}
J
mkdir -p "$T/bundles"
for v in 1.0 1.1; do
    m=$T/lr.json
    [ $v = 1.1 ] && m=$T/lr2.json
    "$BIN" bundle build --name demo_lr_v$v --model "$m" --pipeline "$T/pipe.json" --data "$T/data.csv" --label bad \
        --samples 5 --reasons 2 --out "$T/bundles/demo_lr_v$v" >"$T/out" 2>&1
    check "build demo_lr_v$v" 0 $? "built and verified" "$T/out"
done
cat >"$T/flags.json" <<'J'
{"flags":{"model-route":{"state":"ENABLED","variants":{"champion":"demo_lr_v1.0","challenger":"demo_lr_v1.1"},
   "defaultVariant":"champion","targeting":{"fractional":[["champion",70],["challenger",30]]}}}}
J
$PY - >"$T/batch.json" <<'P'
import json, random
r = random.Random(12)
print(json.dumps([{"request_id": "a-%d" % i, "context": {"targetingKey": "u%d" % i},
                   "features": {"age": r.randint(18, 95), "home": r.choice(["own", "rent"])}}
                  for i in range(1, 901)]))
P
post() { # PATH BODY-FILE: POST, body in $T/r, status echoed
    curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$2" "$U$1"
}
metric() { curl -s "$U/metrics" | grep -v '^#' | grep -F "$1" | head -1 | awk '{print $NF}'; }
count_outcomes() { $PY -c "import sqlite3; print(sqlite3.connect('$D/riskd.db').execute('SELECT count(*) FROM outcomes').fetchone()[0])"; }
D=$T/data

# ack: a decision is committed before it is answered, so its outcome always finds it
start --flags "$T/flags.json" --bundles "$T/bundles" --log-durability ack || exit 1
check "900 decisions" 200 "$(post /v1/score/batch "$T/batch.json")"
cp "$T/r" "$T/decided.json"
echo '{"request_id":4242,"features":{"age":30,"home":"own"}}' >"$T/one.json"
check "a decision with a numeric request id" 200 "$(post /v1/score "$T/one.json")"

# labels: bad with a probability that rises with the score (so the KS means something)
$PY - "$T/decided.json" "$T" <<'P'
import json, random, sys
res = json.load(open(sys.argv[1]))["results"]
r = random.Random(5)
labels = {x["request_id"]: int(r.random() < min(1.0, 1.6 * x["score"])) for x in res}
json.dump(labels, open(sys.argv[2] + "/labels.json", "w"))
json.dump([{"request_id": k, "label": v, "outcome": "dpd30"} for k, v in labels.items()],
          open(sys.argv[2] + "/dpd30.json", "w"))
P

# ---- new, then the same again, then changed
check "POST /v1/outcomes" 200 "$(post /v1/outcomes "$T/dpd30.json")"
grep -q '^{"received":900,"new":900,"same":0,"changed":0,"unknown_request":0,"unknown_request_ids":\[\]}$' "$T/r"
check "900 new" 0 $?
check "the same batch again" 200 "$(post /v1/outcomes "$T/dpd30.json")"
grep -q '"received":900,"new":0,"same":900,"changed":0,"unknown_request":0' "$T/r"; check "900 same: idempotent" 0 $?
$PY - "$T" <<'P'
import json, sys
labels = json.load(open(sys.argv[1] + "/labels.json"))
flip = ["a-1", "a-2", "a-3"]
for k in flip: labels[k] = 1 - labels[k]
json.dump(labels, open(sys.argv[1] + "/labels.json", "w"))
json.dump([{"request_id": k, "label": labels[k], "outcome": "dpd30", "observed_at": "2026-03-01T08:30:00Z"} for k in flip],
          open(sys.argv[1] + "/changed.json", "w"))
P
check "three later labels" 200 "$(post /v1/outcomes "$T/changed.json")"
grep -q '"received":3,"new":0,"same":0,"changed":3' "$T/r"; check "3 changed" 0 $?
$PY -c "
import sqlite3
c = sqlite3.connect('$D/riskd.db')
print(c.execute(\"SELECT count(*), group_concat(request_id) FROM outcome_changes WHERE outcome = 'dpd30' AND new_observed_ms = 1772353800000\").fetchone())" >"$T/out"
grep -q "^(3, 'a-1,a-2,a-3')$" "$T/out"; check "each change is kept in outcome_changes" 0 $? "." "$T/out"

# ---- unknown request ids: counted and named, the batch recorded
cat >"$T/mixed.json" <<'J'
[{"request_id":"nope-1","label":1,"outcome":"fpd"},{"request_id":"a-10","label":1,"outcome":"fpd","observed_at":1772353800000},
 {"request_id":"nope-2","label":0,"outcome":"fpd"},{"request_id":"nope-1","label":1,"outcome":"dpd30"},
 {"request_id":4242,"label":0,"outcome":"fpd","observed_at":null}]
J
check "a batch with unknown request ids is not refused" 200 "$(post /v1/outcomes "$T/mixed.json")"
grep -q '^{"received":5,"new":2,"same":0,"changed":0,"unknown_request":3,"unknown_request_ids":\["nope-1","nope-2"\]}$' "$T/r"
check "unknown ids counted, each named once; the others recorded (a numeric id too)" 0 $? "." "$T/r"
check "902 outcomes recorded" 902 "$(count_outcomes)"

# ---- malformed batches: refused whole, nothing recorded
bad() { # NAME STATUS CODE MESSAGE-PATTERN BODY
    printf '%s' "$5" >"$T/bad.json"
    code=$(post /v1/outcomes "$T/bad.json")
    check "$1: $2" "$2" "$code" "\"code\":\"$3\",\"message\":\".*$4" "$T/r"
}
ok='{"request_id":"a-20","label":1,"outcome":"fpd"}'
bad "a label of 2" 400 INVALID_ARGUMENT '\[1\]\.label: expected the number 0 \(good\) or 1 \(bad\), got 2' "[$ok,{\"request_id\":\"a-21\",\"label\":2,\"outcome\":\"fpd\"}]"
bad "a label as a string" 400 TYPE_MISMATCH '\[1\]\.label' "[$ok,{\"request_id\":\"a-21\",\"label\":\"1\",\"outcome\":\"fpd\"}]"
bad "a misspelt field" 400 INVALID_ARGUMENT 'lable: not a field of an outcome \(did you mean \\"label\\"\?\)' "[$ok,{\"request_id\":\"a-21\",\"lable\":1,\"outcome\":\"fpd\"}]"
bad "an upper-case outcome" 400 INVALID_ARGUMENT '\[1\]\.outcome: \\"FPD\\" is not a name' "[$ok,{\"request_id\":\"a-21\",\"label\":1,\"outcome\":\"FPD\"}]"
bad "an unreadable time" 400 INVALID_ARGUMENT '\[1\]\.observed_at: \\"yesterday\\" is not an RFC 3339 time' "[$ok,{\"request_id\":\"a-21\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":\"yesterday\"}]"
bad "unix seconds for ms" 400 INVALID_ARGUMENT 'seconds\? multiply by 1000' "[$ok,{\"request_id\":\"a-21\",\"label\":1,\"outcome\":\"fpd\",\"observed_at\":1772353800}]"
bad "no request id" 400 INVALID_ARGUMENT '\[1\]\.request_id: required' "[$ok,{\"label\":1,\"outcome\":\"fpd\"}]"
bad "not an array" 400 TYPE_MISMATCH 'an outcome batch is an array' "$ok"
bad "not JSON" 400 PARSE_ERROR 'request body' "[$ok,"
$PY -c "import json; print(json.dumps([{'request_id': 'a-%d' % i, 'label': 0, 'outcome': 'fpd'} for i in range(1001)]))" >"$T/big.json"
check "over max_batch" 413 "$(post /v1/outcomes "$T/big.json")" '"code":"LIMIT_EXCEEDED","message":".*at most 1000 outcomes, this one 1001' "$T/r"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: text/csv' --data-binary "$ok" "$U/v1/outcomes")
check "not JSON by its type" 415 "$code"
check "nothing of a refused batch was recorded" 902 "$(count_outcomes)"

check "metrics: new" 902 "$(metric 'riskd_outcomes_total{result="new"}')"
check "metrics: same" 900 "$(metric 'riskd_outcomes_total{result="same"}')"
check "metrics: changed" 3 "$(metric 'riskd_outcomes_total{result="changed"}')"
check "metrics: unknown_request" 3 "$(metric 'riskd_outcomes_total{result="unknown_request"}')"
check "metrics: the route's refusals" 9 "$(metric 'riskd_http_requests_total{route="/v1/outcomes",code="400"}')"

# ---- riskd outcomes import: fpd labels for 30 decisions (one recorded above already), 2 unknown ids
$PY - "$T" <<'P'
import json, sys
labels = json.load(open(sys.argv[1] + "/labels.json"))
ids = ["a-%d" % i for i in range(10, 40)]
with open(sys.argv[1] + "/fpd.csv", "w") as f:
    f.write("outcome,request_id,label,observed_at\n")
    for n, k in enumerate(ids):
        when = ["", "2026-03-01T08:30:00Z", "1772353800000", "2026-03-01T10:30:00.5+02:00"][n % 4]
        if k == "a-10": when = "1772353800000"  # as POSTed above: the same
        f.write("fpd,%s,%d,%s\n" % (k, labels[k], when))
    f.write("fpd,ghost-1,1,\nfpd,ghost-2,0,\n")
with open(sys.argv[1] + "/fpd-change.csv", "w") as f:
    f.write("request_id,label,outcome\n\"a-11\",%d,fpd\n" % (1 - labels["a-11"]))
P
# the file's labels differ from labels.json only where a-10 was POSTed with label 1
"$BIN" outcomes import "$T/fpd.csv" --data-dir "$D" >"$T/out" 2>"$T/err"
check "import: exit 3 when some outcomes name no decision" 3 $? "fpd.csv: 32 outcomes: [0-9]+ new, [0-9]+ same, [0-9]+ changed, 2 for unknown request ids" "$T/out"
grep -q '2 outcomes name a request id no decision in .* has, not recorded: ghost-1, ghost-2$' "$T/err"
check "import: the unknown ids are named" 0 $? "." "$T/err"
read -r n s c < <(sed -E 's/.*: ([0-9]+) new, ([0-9]+) same, ([0-9]+) changed.*/\1 \2 \3/' "$T/out")
[ $((n + s + c)) = 30 ] && [ "$n" = 29 ]; check "import: 29 new, a-10 already recorded ($n new, $s same, $c changed)" 0 $?
"$BIN" outcomes import "$T/fpd.csv" --data-dir "$D" >"$T/out" 2>/dev/null
check "import again: idempotent" 3 $? "32 outcomes: 0 new, 30 same, 0 changed, 2 for unknown" "$T/out"
"$BIN" outcomes import "$T/fpd-change.csv" --data-dir "$D" >"$T/out" 2>&1
check "import: a changed label, exit 0" 0 $? "1 outcomes: 0 new, 0 same, 1 changed, 0 for unknown" "$T/out"
before=$(count_outcomes)
printf 'request_id,label,outcome\na-50,1,fpd\na-51,0,fpd\na-52,0,fpd\na-53,x,fpd\n' >"$T/bad.csv"
"$BIN" outcomes import "$T/bad.csv" --data-dir "$D" >"$T/out" 2>&1
check "import: a bad line refuses the file" 1 $? 'bad.csv: line 5: label: expected 0 \(good\) or 1 \(bad\), got "x" \(nothing recorded\)' "$T/out"
printf 'request_id,lable,outcome\na-50,1,fpd\n' >"$T/bad.csv"
"$BIN" outcomes import "$T/bad.csv" --data-dir "$D" >"$T/out" 2>&1
check "import: a misspelt column" 1 $? 'column lable: not a field of an outcome \(did you mean "label"\?\)' "$T/out"
check "import: nothing of a refused file was recorded" "$before" "$(count_outcomes)"
"$BIN" outcomes import "$T/fpd.csv" --data-dir "$T/nowhere" >"$T/out" 2>&1
check "import: a data directory without a decision log" 4 $? "nowhere" "$T/out"
"$BIN" outcomes import "$T/fpd.csv" >"$T/out" 2>&1
check "import: --data-dir is required" 2 $? "usage: riskd outcomes" "$T/out"
"$BIN" outcomes --help >"$T/out"
check "outcomes --help" 0 $? "riskd outcomes import FILE.csv" "$T/out"

# ---- the statistics, against an independent computation from the exported log
"$BIN" log export --data-dir "$D" --kind primary --format jsonl --out "$T/log.jsonl"
check "export the decisions" 0 $?
cat >"$T/expect.py" <<'P'
# expected statistics from the decision log export and the labels sent (labels.json for dpd30;
# the fpd labels read from the database's own rows would not be independent, so fpd is
# rebuilt from what was sent: fpd.csv, fpd-change.csv and the POSTed a-10 and 4242)
import csv, json, sys
from scipy.stats import ks_2samp
t = sys.argv[1]
dec = {}
for line in open(t + "/log.jsonl"):
    r = json.loads(line)
    dec[str(r["request_id"])] = r
sent = {"dpd30": json.load(open(t + "/labels.json")), "fpd": {"a-10": 1, "4242": 0}}
for name in ("fpd.csv", "fpd-change.csv"):
    for row in csv.DictReader(open(t + "/" + name)):
        if row["request_id"] in dec:
            sent["fpd"][row["request_id"]] = int(row["label"])
out = {}
for outcome, labels in sent.items():
    for model in ("demo_lr_v1.0", "demo_lr_v1.1"):
        for variant in (None, "champion", "challenger"):
            rows = [(dec[k], v) for k, v in labels.items() if dec[k]["bundle"]["name"] == model
                    and (variant is None or dec[k]["variant"] == variant)]
            bads = sum(v for _, v in rows)
            appr = [(d, v) for d, v in rows if d["decision"] == "approve"]
            ab = sum(v for _, v in appr)
            bad_s = [d["score"] for d, v in rows if v == 1 and d["source"] == "model"]
            good_s = [d["score"] for d, v in rows if v == 0 and d["source"] == "model"]
            ks = float(ks_2samp(bad_s, good_s).statistic) if len(bad_s) >= 100 and good_s else None
            out["%s|%s|%s" % (outcome, model, variant or "")] = {
                "labelled": len(rows), "bads": bads, "approved": len(appr), "approved_bads": ab,
                "bad_rate_approved": ab / len(appr) if appr else None, "ks": ks}
json.dump(out, open(t + "/expected.json", "w"), indent=1)
P
$PY "$T/expect.py" "$T"
check "expected statistics computed (scipy)" 0 $?
cat >"$T/cmp.py" <<'P'
# compare one statistics object (or a CLI --json's list) with the expectation; exit 1 on a difference
import json, sys
exp = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
model, variant = got["model"], got.get("variant") or ""
items = got["outcomes"] if "outcomes" in got else [got]
bad = 0
for g in items:
    e = exp["%s|%s|%s" % (g["outcome"], model, variant)]
    for k, v in e.items():
        w = g[k]
        same = (v is None and w is None) or (v is not None and w is not None and abs(v - w) <= 1e-12 * max(1, abs(v)))
        if not same:
            print("%s %s: got %r, want %r" % (g["outcome"], k, w, v)); bad = 1
    if (g["ks"] is None) != (g["ks_note"] is not None):
        print("%s: ks and ks_note disagree" % g["outcome"]); bad = 1
print("items", len(items), "ks", [g["ks"] for g in items])
sys.exit(bad)
P
$PY -c "
import json
e = json.load(open('$T/expected.json'))
c = e['dpd30|demo_lr_v1.0|champion']
print('champion bads', c['bads'], 'ks', c['ks'])
assert c['bads'] >= 100 and c['ks'] is not None
assert e['fpd|demo_lr_v1.0|']['ks'] is None" >"$T/out"
check "the sample has >= 100 bads for the champion (the KS is computed)" 0 $? "champion bads" "$T/out"

get() { curl -s -o "$T/r" -w '%{http_code}' "$U$1"; }
for q in "model=demo_lr_v1.0&outcome=dpd30" "model=demo_lr_v1.0&outcome=dpd30&variant=champion" \
    "model=demo_lr_v1.1&outcome=dpd30&variant=challenger" "model=demo_lr_v1.0&outcome=fpd"; do
    check "GET /v1/outcomes/stats?$q" 200 "$(get "/v1/outcomes/stats?$q")"
    $PY "$T/cmp.py" "$T/expected.json" "$T/r" >"$T/out"
    check "  equals the independent computation" 0 $? "items 1" "$T/out"
done
get "/v1/outcomes/stats?model=demo_lr_v1.0&outcome=fpd" >/dev/null
grep -q '"ks":null,"ks_note":"needs 100 bads, has [0-9]*"' "$T/r"; check "ks null below 100 bads, with a note" 0 $?
grep -q '^{"model":"demo_lr_v1.0","variant":null,"from_ms":null,"to_ms":null,"min_bads":100,"outcome":"fpd","labelled":' "$T/r"
check "the answer's shape" 0 $? "." "$T/r"
check "a time range" 200 "$(get "/v1/outcomes/stats?model=demo_lr_v1.0&outcome=dpd30&from=1&to=2")" '"from_ms":1,"to_ms":2,"min_bads":100,"outcome":"dpd30","labelled":0,' "$T/r"
check "no outcome parameter" 400 "$(get "/v1/outcomes/stats?model=demo_lr_v1.0")" 'outcome: required' "$T/r"
check "a misspelt parameter" 400 "$(get "/v1/outcomes/stats?modle=demo_lr_v1.0&outcome=fpd")" 'modle: not a parameter \(did you mean model\?\)' "$T/r"
check "a bad time" 400 "$(get "/v1/outcomes/stats?model=m&outcome=fpd&from=yesterday")" 'from: .* unix milliseconds' "$T/r"
check "a percent-encoded value" 200 "$(get "/v1/outcomes/stats?model=demo_lr_v1%2E0&outcome=fpd")" '"model":"demo_lr_v1.0"' "$T/r"
code=$(curl -s -o "$T/r" -w '%{http_code}' -X POST "$U/v1/outcomes/stats")
check "POST on the stats route" 405 "$code"

"$BIN" outcomes stats --data-dir "$D" --model demo_lr_v1.0 --json >"$T/cli.json"
check "riskd outcomes stats --json" 0 $?
$PY "$T/cmp.py" "$T/expected.json" "$T/cli.json" >"$T/out"
check "  equals the independent computation, per outcome definition" 0 $? "items 2" "$T/out"
"$BIN" outcomes stats --data-dir "$D" --model demo_lr_v1.0 --variant champion --json >"$T/cli.json"
$PY "$T/cmp.py" "$T/expected.json" "$T/cli.json" >"$T/out"
check "riskd outcomes stats --variant champion" 0 $? "items 2" "$T/out"
"$BIN" outcomes stats --data-dir "$D" --model demo_lr_v1.0 >"$T/out"
check "riskd outcomes stats (text)" 0 $? '^fpd +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.-]+  needs 100 bads, has [0-9]+$' "$T/out"
grep -qE '^dpd30 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +0\.[0-9]{4}  0\.[0-9]{4}$' "$T/out"; check "  the realised KS of dpd30" 0 $? "." "$T/out"
"$BIN" outcomes stats --data-dir "$D" --model demo_lr_v1.0 --outcome dpd90 >"$T/out" 2>&1
check "an outcome never recorded is said" 1 $? 'no outcome "dpd90" is recorded for demo_lr_v1.0 \(recorded: dpd30 fpd\)' "$T/out"
"$BIN" outcomes stats --data-dir "$D" --model demo_lr_v9.9 >"$T/out" 2>&1
check "a model with no outcome is said" 1 $? "no outcome is recorded for demo_lr_v9.9" "$T/out"
"$BIN" outcomes stats --data-dir "$D" --model demo_lr_v1.0 --from 2026-12-02 --to 2026-12-01 >"$T/out" 2>&1
check "a range that holds no time is a usage error" 2 $? "must come before --to" "$T/out"
stop
check "stop" 0 $?

# ---- without a decision log there is nothing to join: 503 LOG_OFF
start --flags "$T/flags.json" --bundles "$T/bundles" --data-dir "$T/nolog" --no-log || exit 1
check "POST /v1/outcomes with the log off" 503 "$(post /v1/outcomes "$T/dpd30.json")" '"code":"LOG_OFF"' "$T/r"
check "GET /v1/outcomes/stats with the log off" 503 "$(get "/v1/outcomes/stats?model=demo_lr_v1.0&outcome=dpd30")" '"code":"LOG_OFF"' "$T/r"
stop

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
