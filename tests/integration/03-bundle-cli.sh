#!/usr/bin/env bash
# riskd bundle build | verify | inspect and riskd score end to end: a small logistic
# regression bundle made here (every refusal of a corrupt, truncated or mismatched bundle,
# bad rows, --strict, quoting), and, when the shared data is there, bundles of the credit
# scorecard and XGBoost model whose scores equal the reference outputs.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lr_fixture

B="$T/demo_lr_v1.0"
"$BIN" bundle build --name demo_lr_v1.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --label bad --samples 5 --reasons 2 --out "$B" --created-by ci >"$T/out" 2>&1
check "build" 0 $? "built and verified" "$T/out"
for f in manifest.json model.json pipeline.json reference.json; do
    [ -s "$B/$f" ]; check "build wrote $f" 0 $?
done
[ ! -e "$T/demo_lr_v1.0.tmp-"* ]; check "no temporary directory left" 0 $?
grep -q '"age": {"type":"number","missing":0,"cuts":\[' "$B/reference.json"; check "reference: number input binned" 0 $?
grep -q '"home": {"type":"category","missing":0,"levels":{"rent":134,"own":66},"unseen":0,"n":200}' "$B/reference.json"
check "reference: category input counted" 0 $?
grep -q '^  "format": 2,$' "$B/reference.json"; check "reference: format 2" 0 $?
grep -qE '"age": \{.*"counts":\[[0-9,]+\],"n":200,"quantiles":\[18,18,18,19,19,19,19,20,' "$B/reference.json"
check "reference: number input's quantiles (fewer than 1000 values: all of them, sorted)" 0 $?
grep -qE '"score": \{"kind":"probability","deciles":\[.*\],"cuts":\[.*\],"counts":\[.*\],"n":200,"quantiles":\[' "$B/reference.json"
check "reference: score quantiles" 0 $?
"$BIN" bundle build --name demo_lr_v1.1 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --reasons 4x --out "$T/x" >"$T/out" 2>&1
check "--reasons 4x refused" 2 $? "--reasons: 1 to 16" "$T/out"
"$BIN" bundle verify "$B" >"$T/out" 2>&1
check "verify" 0 $? "demo_lr_v1.0: ok \(3 files match their checksums, 5 sample rows re-predicted, no fallback rules" "$T/out"
"$BIN" bundle inspect "$B" >"$T/out" 2>&1
check "inspect" 0 $? "^objective +logistic_regression" "$T/out"
grep -qE '"auc":0\.[0-9]+' "$T/out"; check "inspect shows the training AUC" 0 $?
"$BIN" bundle inspect "$B" --json >"$T/out" 2>&1
check "inspect --json" 0 $? '^\{"format":1,"name":"demo_lr_v1.0"' "$T/out"
"$BIN" bundle build --name demo_lr_v1.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --out "$B" >"$T/out" 2>&1
check "never overwrites a bundle" 1 $? "exists; a bundle is never overwritten" "$T/out"
"$BIN" bundle build --name Demo_v1 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --out "$T/x" >"$T/out" 2>&1
check "bad name" 1 $? 'must end in _v\{major\}.\{minor\}' "$T/out"
"$BIN" bundle build --name demo_lr_v1.1 --model "$T/lr.json" --data "$T/data.csv" --out "$T/demo_lr_v1.1" >"$T/out" 2>&1
check "pipeline required" 1 $? "a pipeline spec is required" "$T/out"
printf 'id,age,home,bad\n1,17,own,0\n' >"$T/young.csv"
"$BIN" bundle build --name demo_lr_v1.1 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/young.csv" \
    --out "$T/demo_lr_v1.1" >"$T/out" 2>&1
check "a bad data row fails the build with its line" 1 $? "young.csv: line 2: age: 17 is outside \[18, 120\]" "$T/out"
[ ! -e "$T/demo_lr_v1.1" ]; check "failed build leaves nothing" 0 $?
echo '[{"level":"low","min":null,"max":0.3},{"level":"high","min":0.4,"max":null}]' >"$T/gap.json"
"$BIN" bundle build --name demo_lr_v1.1 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --risk-bands "$T/gap.json" --out "$T/demo_lr_v1.1" >"$T/out" 2>&1
check "bands with a gap" 1 $? 'band "low" ends at 0.3 but the next one \("high"\) starts at 0.4' "$T/out"

# Build checks (issue 11, docs/mistakes.md): each mistake refused with what to do, exit 1,
# nothing left behind; each warning on stderr and in the manifest.
build() { # expected exit, name, pattern, extra arguments...
    local want=$1 name=$2 pat=$3
    shift 3
    rm -rf "$T/x" && mkdir -p "$T/x"
    "$BIN" bundle build --name demo_lr_v1.1 --model "$T/lr.json" --pipeline "$T/pipe.json" \
        --out "$T/x/demo_lr_v1.1" "$@" >"$T/out" 2>&1
    check "$name" "$want" $? "$pat" "$T/out"
    if [ "$want" != 0 ]; then [ ! -e "$T/x/demo_lr_v1.1" ]; check "$name: nothing built" 0 $?; fi
}
build 1 "the label among the pipeline's inputs (leakage)" 'the label age is also an input of the pipeline' \
    --data "$T/data.csv" --label age --positive 30
build 1 "--positive absent from the label" \
    'data.csv: no row has bad = "yes" \(--positive\); the column holds "0" \(150 rows\), "1" \(50 rows\): give --positive' \
    --data "$T/data.csv" --label bad --positive yes
sed 's/,[01]$/,0/' "$T/data.csv" >"$T/one.csv"
build 1 "a label with one class" 'one.csv: the label bad has one class: every labelled row is "0" \(200 rows\), none the positive' \
    --data "$T/one.csv" --label bad
sed 's/,[01]$/,1/' "$T/data.csv" >"$T/allpos.csv"
build 1 "a label with only positives" 'allpos.csv: the label bad has one class: every labelled row is "1" \(200 rows\)' \
    --data "$T/allpos.csv" --label bad
sed 's/,[01]$/,/' "$T/data.csv" >"$T/nolabel.csv"
build 1 "a label empty in every row" 'nolabel.csv: the label column "bad" is empty in every row' --data "$T/nolabel.csv" --label bad
build 1 "label column in another case" 'no label column "Bad" \(--label\): the column "bad" differs only in case' \
    --data "$T/data.csv" --label Bad
sed '1s/age/Age/' "$T/data.csv" >"$T/case.csv"
build 1 "input column in another case" \
    'case.csv: the pipeline.s input "age" is not a column \(1 of 2 inputs are not\): the column "Age" differs only in case' \
    --data "$T/case.csv"
tr ',' ';' <"$T/data.csv" >"$T/semi.csv"
build 1 "semicolon-separated data" \
    'semi.csv: the pipeline.s input "age" is not a column \(2 of 2 inputs are not\): the header is one column, "id;age;home;bad": riskd reads comma-separated CSV; this file looks separated by .;.' \
    --data "$T/semi.csv"
sed '1s/home/hom/' "$T/data.csv" >"$T/typo.csv"
build 1 "input column misspelt" 'input "home" is not a column \(1 of 2 inputs are not\): did you mean the column "hom"\?' \
    --data "$T/typo.csv"
cut -d, -f1,2,4 "$T/data.csv" >"$T/nohome.csv"
build 1 "input column absent" 'input "home" is not a column \(1 of 2 inputs are not\): the header has: id, age, bad' \
    --data "$T/nohome.csv"
echo '[{"level":"low","min":null,"max":0.5},{"level":"high","min":0.3,"max":null}]' >"$T/overlap.json"
build 1 "bands that overlap" 'band "low" ends at 0.5 but the next one \("high"\) starts at 0.3' --data "$T/data.csv" \
    --risk-bands "$T/overlap.json"
echo '[{"level":"low","min":null,"max":20},{"level":"high","min":20,"max":null}]' >"$T/pct.json"
build 1 "probability bands written as percentages" \
    'band "high" starts at 20, but the score is a probability \(0 to 1\): no score falls in band "high"' \
    --data "$T/data.csv" --risk-bands "$T/pct.json"
echo '[{"level":"low","min":null,"max":0},{"level":"high","min":0,"max":null}]' >"$T/zero.json"
build 1 "a probability band below 0" 'band "low" ends at 0, but the score is a probability' --data "$T/data.csv" \
    --risk-bands "$T/zero.json"
echo '[{"level":"high","min":0.4,"max":null,"decision":"reject"},{"level":"low","min":null,"max":0.4}]' >"$T/unsorted.json"
build 0 "bands in any order that cover every score" "built and verified" --data "$T/data.csv" --risk-bands "$T/unsorted.json"
build 0 "margin bands on the margin's scale" "built and verified" --data "$T/data.csv" --output-kind margin \
    --risk-bands "$T/zero.json"
grep -q '"output": {"kind": "margin"' "$T/x/demo_lr_v1.1/manifest.json"; check "manifest: output.kind margin" 0 $?
build 1 "probability bands on a margin" \
    'the cut at 0.9 between "low" and "high" is outside the training scores \(margin -[0-9.]+ to [0-9.]+\): set the cuts on that scale \(were they written for a probability\?\)' \
    --data "$T/data.csv" --output-kind margin --risk-bands <(echo '[{"level":"low","max":0.9},{"level":"high","min":0.9}]')
build 1 "score declared for a model that gives a probability" \
    '"score" is a scorecard.s points or the output of a model that gives no probability; objective "logistic_regression" gives one' \
    --data "$T/data.csv" --output-kind score
build 2 "unknown output kind" '--output-kind: probability, score or margin, not "logit"' --data "$T/data.csv" \
    --output-kind logit
build 0 "inverted label: built, with a warning" "built and verified, with 1 warning" --data "$T/data.csv" \
    --label bad --positive 0
grep -qE 'riskd: warning: .*data.csv: AUC 0.475 is below 0.5: the model ranks the positive class \(bad = "0"\) as safer than the rest; is the label inverted\?' "$T/out"
check "inverted label: warned on stderr" 0 $?
grep -q '"checks": {"warnings": \[$' "$T/x/demo_lr_v1.1/manifest.json" && grep -q 'AUC 0.475 is below 0.5' "$T/x/demo_lr_v1.1/manifest.json"
check "inverted label: warning in the manifest" 0 $?
"$BIN" bundle inspect "$T/x/demo_lr_v1.1" >"$T/out" 2>&1
check "inspect shows the warnings" 0 $? '^warnings +.*AUC 0.475 is below 0.5' "$T/out"
awk -F, 'NR > 1 && NR % 4 != 0 { $3 = "" } 1' OFS=, "$T/data.csv" >"$T/sparse.csv"
build 0 "mostly missing input: built, with a warning" "built and verified, with 1 warning" --data "$T/sparse.csv"
grep -q 'riskd: warning: .*sparse.csv: input "home" is missing in 75.0% of the rows (150 of 200)' "$T/out"
check "mostly missing input: warned on stderr" 0 $?
grep -q 'input \\"home\\" is missing in 75.0% of the rows' "$T/x/demo_lr_v1.1/manifest.json"
check "mostly missing input: warning in the manifest" 0 $?
build 0 "no warnings: an empty list" "built and verified$" --data "$T/data.csv" --label bad
grep -q '"checks": {"warnings": \[\]}' "$T/x/demo_lr_v1.1/manifest.json"; check "manifest: checks.warnings empty" 0 $?
grep -q '"metrics": {"auc":0.525333,"ks":0.093333,"positive_rate":0.250000,"n":200,"sample":"train"}' "$T/x/demo_lr_v1.1/manifest.json"
check "manifest: training metrics say their sample and n" 0 $?
! grep -q '"test"' "$T/x/demo_lr_v1.1/manifest.json"; check "manifest: no test block without --test-data" 0 $?
head -151 "$T/data.csv" >"$T/train.csv"
{ head -1 "$T/data.csv"; tail -50 "$T/data.csv"; } >"$T/holdout.csv"
build 0 "--test-data" "built and verified" --data "$T/train.csv" --label bad --test-data "$T/holdout.csv"
grep -qE '"training": \{"data_file": "train.csv", .*"rows": 150, .*"n":150,"sample":"train"\}' "$T/x/demo_lr_v1.1/manifest.json"
check "--test-data: training metrics on the training rows" 0 $?
grep -qE '^  "test": \{"data_file": "holdout.csv", "data_sha256": "[0-9a-f]{64}", "rows": 50, "labelled": 50, "metrics": \{"auc":0\.[0-9]+,"ks":0\.[0-9]+,"positive_rate":0.260000,"n":50,"sample":"test"\}\}' \
    "$T/x/demo_lr_v1.1/manifest.json"
check "--test-data: metrics on the holdout, said so" 0 $?
"$BIN" bundle inspect "$T/x/demo_lr_v1.1" >"$T/out" 2>&1
check "inspect shows the test metrics" 0 $? '^test metrics +\{"auc":0\.[0-9]+.*"n":50,"sample":"test"\}' "$T/out"
build 1 "--test-data: the holdout is checked too" 'one.csv: the label bad has one class' --data "$T/data.csv" \
    --label bad --test-data "$T/one.csv"
build 1 "--test-data: its columns too" 'semi.csv: no label column "bad" \(--label\): the header is one column' --data "$T/data.csv" \
    --label bad --test-data "$T/semi.csv"
build 2 "--test-data needs --label" "--test-data needs --label" --data "$T/data.csv" --test-data "$T/holdout.csv"

# Models riskd does not read say how to save one it does.
printf '{L\0\0\0\0\0\0\0\007learner{' >"$T/m.ubj"
printf '\200\004\225\020\0\0\0' >"$T/m.pkl"
printf 'binf\0\0\0?\0\0\0\0' >"$T/m.bin"
for m in m.ubj m.pkl m.bin; do
    "$BIN" bundle build --name demo_lr_v1.1 --model "$T/$m" --pipeline "$T/pipe.json" --data "$T/data.csv" \
        --out "$T/x/demo_lr_v1.1" >"$T/out" 2>&1
    check "model $m: say how to save JSON" 1 $? "$m: .*riskd reads XGBoost's JSON format: save the model with \`save_model\('model.json'\)\`" "$T/out"
done
grep -q "UBJSON" "$T/out" || grep -q "binary file" "$T/out"; check "the binary model is called so" 0 $?
"$BIN" predict --model "$T/m.ubj" --in "$T/data.csv" --out - >"$T/out" 2>&1
check "predict: UBJSON named" 1 $? "m.ubj: an XGBoost UBJSON model \(.ubj\), not JSON" "$T/out"
"$BIN" predict --model "$T/m.pkl" --in "$T/data.csv" --out - >"$T/out" 2>&1
check "predict: pickle named" 1 $? "m.pkl: a Python pickle" "$T/out"

# Scoring: id column, quoting, bad rows reported by line, exit 3; --strict stops.
printf 'id,home,age\n"a,1",own,30\nb,rent,abc\nc,boat,50\nd,own\ne,,\n' >"$T/apps.csv"
"$BIN" score --bundle "$B" --in "$T/apps.csv" --out "$T/s.csv" --id id >"$T/out" 2>&1
check "score with bad rows exits 3" 3 $? "2 rows scored \(0 by fallback rules\), 3 rejected" "$T/out"
grep -q 'apps.csv:3: age: "abc" is not a number' "$T/out"; check "bad value names its line" 0 $?
grep -q 'apps.csv:5: 2 fields, the header has 3' "$T/out"; check "ragged row names its line" 0 $?
head -1 "$T/s.csv" | grep -qx 'id,score,risk_level,model_version,reason_1,reason_2,decision,source'; check "score header" 0 $?
[ "$(wc -l <"$T/s.csv")" = 3 ]; check "good rows all scored, in order" 0 $?
grep -q '^"a,1",' "$T/s.csv"; check "id quoted on output" 0 $?
grep -q "apps.csv:6: none of the pipeline's 2 inputs is given" "$T/out"; check "a row with every input missing is refused, not decided" 0 $?
# a header the pipeline cannot read (issue 11): refused, naming the columns and the inputs
tr ',' ';' <"$T/data.csv" >"$T/semi-apps.csv"
"$BIN" score --bundle "$B" --in "$T/semi-apps.csv" --out "$T/s.csv" >"$T/out" 2>&1
check "a ';'-separated file is refused" 1 $? "semi-apps.csv: no column is an input of the pipeline .*riskd reads comma-separated CSV" "$T/out"
sed '1s/.*/\U&/' "$T/data.csv" >"$T/upper.csv"
"$BIN" score --bundle "$B" --in "$T/upper.csv" --out "$T/s.csv" >"$T/out" 2>&1
check "a re-cased header is refused, with the inputs meant" 1 $? '"AGE" \("age"\?\)' "$T/out"
sed '1s/home/hme/' "$T/data.csv" >"$T/typo.csv"
"$BIN" score --bundle "$B" --in "$T/typo.csv" --out "$T/s.csv" >"$T/out" 2>&1
check "a header missing an input scores, warning loudly" 0 $? 'warning: .*typo.csv: inputs missing in every row: "home"; columns not used: .*"hme" \("home"\?\)' "$T/out"
"$BIN" score --bundle "$B" --in "$T/typo.csv" --out "$T/s.csv" --id id >"$T/out" 2>&1
! grep -q '"id"' "$T/out"; check "the --id column is not called unused" 0 $?
"$BIN" score --bundle "$B" --in "$T/apps.csv" --out "$T/s.csv" --id id --rejects "$T/rej.csv" >"$T/out" 2>&1
check "--rejects" 3 $?
head -1 "$T/rej.csv" | grep -qx 'line,id,reason'; check "--rejects: its header" 0 $?
grep -q '^3,b,"age: ""abc"" is not a number' "$T/rej.csv"; check "--rejects: the line, the id and the reason" 0 $?
[ "$(wc -l <"$T/rej.csv")" = 4 ]; check "--rejects: every refused row" 0 $?
sed '2,$s/,own,/,Own,/; 2,$s/,own$/,Own/' "$T/data.csv" >"$T/levels.csv"
"$BIN" score --bundle "$B" --in "$T/levels.csv" --out "$T/s.csv" >"$T/out" 2>&1
check "levels spelt otherwise than in training: decided, and said so" 0 $? \
    'warning: .*levels.csv: [0-9]+ rows gave "home" a level the pipeline does not know \(e.g. "Own"\); it was decided as a missing value' "$T/out"
"$BIN" score --bundle "$B" --in "$T/apps.csv" --out "$T/s.csv" --id id --explain >"$T/out" 2>&1
check "--explain" 3 $?
head -1 "$T/s.csv" | grep -qx 'id,score,risk_level,model_version,reason_1,reason_2,decision,source,missing,unknown'
check "--explain: the missing and unknown columns" 0 $?
grep -qE '^c,[0-9.e-]+,[a-z]+,demo_lr_v1.0,.*,model,,home$' "$T/s.csv"; check "--explain: an unknown level named" 0 $?
"$BIN" score --bundle "$B" --in "$T/apps.csv" --out "$T/no/such/dir/s.csv" >"$T/out" 2>&1
check "cannot write says why" 4 $? "s.csv: cannot write: No such file or directory" "$T/out"
"$BIN" score --bundle "$B" --in "$T/apps.csv" --out "$T/s.csv" --strict >"$T/out" 2>&1
check "--strict stops at the first bad row" 1 $? "apps.csv:3:" "$T/out"
"$BIN" score --bundle "$B" --in - --out - --reasons 0 <"$T/data.csv" >"$T/s.csv" 2>"$T/out"
check "stdin to stdout" 0 $?
head -1 "$T/s.csv" | grep -qx 'id,score,risk_level,model_version,decision,source'; check "--reasons 0: no reason columns" 0 $?
[ "$(wc -l <"$T/s.csv")" = 201 ]; check "every row of stdin" 0 $?
"$BIN" score --bundle "$B" --in "$T/data.csv" --out - --threads 1 >"$T/s1.csv" 2>&1 &&
    "$BIN" score --bundle "$B" --in "$T/data.csv" --out - --threads 2 >"$T/s2.csv" 2>&1
cmp -s "$T/s1.csv" "$T/s2.csv"; check "threads do not change the output" 0 $?
"$BIN" score --bundle "$B" --in "$T/data.csv" --out - --id nope >"$T/out" 2>&1
check "unknown --id column" 1 $? 'no column "nope"' "$T/out"
"$BIN" score --bundle "$B" --in "$T/none.csv" --out - >"$T/out" 2>&1
check "missing input" 4 $? "none.csv" "$T/out"
"$BIN" score --bundle "$T/nowhere" --in "$T/data.csv" --out - >"$T/out" 2>&1
check "missing bundle" 4 $? "nowhere/manifest.json" "$T/out"
"$BIN" score --bundle "$B" --in "$T/data.csv" >"$T/out" 2>&1
check "score usage" 2 $? "usage: riskd score" "$T/out"
for c in "score" "bundle" "bundle build" "bundle verify" "bundle inspect" "bundle sign" "bundle keygen" "bundle seal"; do
    # shellcheck disable=SC2086
    "$BIN" $c --help >"$T/out" 2>&1
    check "$c --help" 0 $? "usage: riskd $c" "$T/out"
done

# Refusals: each corrupt, truncated or mismatched bundle names the file and the fault.
corrupt() { # name, pattern, command to damage the copy in $C
    C="$T/c/demo_lr_v1.0"
    rm -rf "$T/c" && mkdir -p "$T/c" && cp -r "$B" "$C"
    eval "$3"
    "$BIN" bundle verify "$C" >"$T/out" 2>&1
    check "refused: $1" 1 $? "$2" "$T/out"
}
reseal() { # after a deliberate edit of $C's manifest: its digest again, so the next check is reached
    "$BIN" bundle seal "$C" >/dev/null 2>&1
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
resum() { # refresh the manifest's checksum of file $1 in $C (a consistent but wrong bundle)
    sed -i "s/\"$1\": \"[0-9a-f]*\"/\"$1\": \"$(sha "$C/$1")\"/" "$C/manifest.json"
    reseal
}
corrupt "model changed" "model.json: checksum mismatch" 'sed -i "s/-0.05/-0.06/" "$C/model.json"'
corrupt "model truncated" "model.json: checksum mismatch" 'truncate -s 20 "$C/model.json"'
corrupt "model missing" "model.json: listed in the manifest but missing" 'rm "$C/model.json"'
corrupt "reference changed" "reference.json: checksum mismatch" 'echo " " >>"$C/reference.json"'
corrupt "truncated model with its checksum" "model.json: line 1, column 21: unexpected end of input" \
    'truncate -s 20 "$C/model.json"; resum model.json'
corrupt "model with other features" 'features\[1\]: the pipeline makes "home=own", the model reads "home"' \
    'sed -i "s/home=own/home/" "$C/model.json"; resum model.json'
corrupt "model predicting otherwise" "samples\[0\]: score re-predicted as" \
    'sed -i "s/-0.05/-0.06/" "$C/model.json"; resum model.json'
corrupt "pipeline not JSON" "pipeline.json: line 2, column 1: unexpected end of input" 'echo "{" >"$C/pipeline.json"; resum pipeline.json'
corrupt "manifest truncated" "manifest.json: line" 'truncate -s 100 "$C/manifest.json"'
corrupt "manifest not an object" "manifest.json: not a JSON object" 'echo "[]" >"$C/manifest.json"'
corrupt "manifest format" "format: must be 1" 'sed -i "s/\"format\": 1/\"format\": 2/" "$C/manifest.json"; reseal'
corrupt "name and version disagree" "must match the name demo_lr_v1.0" \
    'sed -i "s/\"minor\": 0/\"minor\": 1/" "$C/manifest.json"; reseal'
corrupt "file outside the bundle" '"../model.json" is not a plain file name' \
    'sed -i "s/\"files\": {/\"files\": {\"..\/model.json\": \"$(sha "$C/model.json")\", /" "$C/manifest.json"; reseal'
corrupt "checksum not hex" "files.model.json: not a SHA-256" \
    'sed -i "s/\"model.json\": \"[0-9a-f]*\"/\"model.json\": \"xyz\"/" "$C/manifest.json"; reseal'
corrupt "features listed otherwise" "features\[0\]: the manifest says agE" \
    'sed -i "s/\"features\": \[\"age\"/\"features\": [\"agE\"/" "$C/manifest.json"; reseal'
corrupt "reason count" "reason_codes.count: must be an integer from 0 to 16" \
    'sed -i "s/\"count\": 2/\"count\": 17/" "$C/manifest.json"; reseal'
corrupt "risk bands overlap" "risk_bands: band" \
    'sed -i "s/\"max\":[0-9.e-]*,\"decision\":\"approve\"/\"max\":0.99,\"decision\":\"approve\"/" "$C/manifest.json"; reseal'
corrupt "output kind" 'output.kind: "score" is a scorecard.s points or the output of a model that gives no probability' \
    'sed -i "s/\"kind\": \"probability\"/\"kind\": \"score\"/" "$C/manifest.json"; reseal'
corrupt "output kind unknown" 'output.kind: "logit" is not "probability", "score" or "margin"' \
    'sed -i "s/\"kind\": \"probability\"/\"kind\": \"logit\"/" "$C/manifest.json"; reseal'

# The bundle's identity: the manifest carries the digest of its canonical JSON, so a hand edit
# of the manifest itself (the bands: everyone approved) is found by verify, inspect and score.
digest=$(sed -n 's/^  "digest": "\([0-9a-f]\{64\}\)"$/\1/p' "$B/manifest.json")
[ ${#digest} = 64 ]; check "the manifest carries its digest" 0 $?
"$BIN" bundle inspect "$B" >"$T/out" 2>&1
check "inspect shows the digest" 0 $? "^digest +$digest$" "$T/out"
grep -qE '^signature +none$' "$T/out"; check "inspect: not signed" 0 $?
corrupt "bands edited by hand" "demo_lr_v1.0: manifest.json: digest mismatch \(the manifest was edited after it was built" \
    'sed -i "s/\"decision\":\"reject\"/\"decision\":\"approve\"/; s/\"decision\":\"review\"/\"decision\":\"approve\"/" "$C/manifest.json"'
"$BIN" score --bundle "$C" --in "$T/data.csv" --out - >"$T/out" 2>&1
check "score refuses the edited bundle too" 1 $? "digest mismatch" "$T/out"
"$BIN" bundle seal "$C" >"$T/out" 2>&1
check "seal: a deliberate edit accepted" 0 $? "manifest.json: sealed, digest [0-9a-f]{64}" "$T/out"
grep -q "demo_lr_v1.0: ok" "$T/out"; check "seal verifies" 0 $?
grep -q "$digest" "$T/out"; check "sealed under another digest" 1 $?
corrupt "manifest without its digest (built before)" 'manifest.json: no digest .*riskd bundle seal DIR' \
    'sed -i "/^  \"digest\": /d; s/^  \],$/  ]/" "$C/manifest.json"'
"$BIN" bundle verify "$C" >/dev/null 2>&1 || "$BIN" bundle seal "$C" >"$T/out" 2>&1
check "an old bundle sealed loads" 0 $? "demo_lr_v1.0: ok" "$T/out"
cp "$B/manifest.json" "$T/m.json"
tr -d ' \n' <"$T/m.json" >"$C/manifest.json" # the same manifest without its blanks: the same digest
"$BIN" bundle verify "$C" >"$T/out" 2>&1
check "whitespace is not meaning: same digest" 0 $? "^digest $digest$" "$T/out"

# Names: --out is the name, versions plain integers.
"$BIN" bundle build --name demo_lr_v1.1 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --out "$T/other" >"$T/out" 2>&1
check "--out other than --name refused" 1 $? 'other: the bundle directory must be named as the bundle, demo_lr_v1.1 \(its name is "other"\)' "$T/out"
[ ! -e "$T/other" ]; check "nothing written" 0 $?
"$BIN" bundle build --name demo_lr_v01.1 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --out "$T/demo_lr_v01.1" >"$T/out" 2>&1
check "v01.1 refused" 1 $? "versions are plain integers" "$T/out"
mkdir -p "$T/b"
"$BIN" bundle build --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" \
    --out "$T/b/demo_lr_v1.10/" >"$T/out" 2>&1
check "the name taken from --out" 0 $? "built and verified" "$T/out"
grep -q '"name": "demo_lr_v1.10"' "$T/b/demo_lr_v1.10/manifest.json"; check "named after its directory" 0 $?

# Signatures: keygen, sign, verify --pubkey; missing, malformed and wrong ones exit 6.
"$BIN" bundle keygen --out "$T/k" >"$T/out" 2>&1
check "keygen" 0 $? "k.pub: the public key" "$T/out"
[ "$(stat -c %a "$T/k.key")" = 600 ]; check "the secret key is private" 0 $?
"$BIN" bundle keygen --out "$T/k" >"$T/out" 2>&1
check "keygen never overwrites" 1 $? "exists; a key file is never overwritten" "$T/out"
"$BIN" bundle keygen --out "$T/other" >/dev/null 2>&1
S="$T/s/demo_lr_v1.0"
mkdir -p "$T/s" && cp -r "$B" "$S"
"$BIN" bundle verify "$S" --pubkey "$T/k.pub" >"$T/out" 2>&1
check "unsigned: verify --pubkey fails" 6 $? "signature.ed25519: missing: the bundle is not signed" "$T/out"
"$BIN" bundle sign "$S" --key "$T/k.key" >"$T/out" 2>&1
check "sign" 0 $? "signature.ed25519: signed digest $digest" "$T/out"
"$BIN" bundle verify "$S" --pubkey "$T/k.pub" >"$T/out" 2>&1
check "verify --pubkey: good signature" 0 $? "signature good" "$T/out"
"$BIN" bundle verify "$S" >"$T/out" 2>&1
check "verify without --pubkey says it is signed" 0 $? "signed: give --pubkey" "$T/out"
"$BIN" bundle verify "$S" --pubkey "$T/other.pub" >"$T/out" 2>&1
check "wrong key fails" 6 $? "signature.ed25519: wrong: made by none of the 1 trusted key" "$T/out"
cat "$T/other.pub" "$T/k.pub" >"$T/both.pub"
"$BIN" bundle verify "$S" --pubkey "$T/both.pub" >"$T/out" 2>&1
check "one of several trusted keys" 0 $? "signature good" "$T/out"
"$BIN" bundle verify "$S" --pubkey "$T/k.key.nope" >"$T/out" 2>&1
check "missing key file" 4 $? "k.key.nope" "$T/out"
echo "bm90IGEga2V5" >"$T/bad.pub"
"$BIN" bundle verify "$S" --pubkey "$T/bad.pub" >"$T/out" 2>&1
check "a key that is not one" 1 $? "bad.pub:1: not an Ed25519 key" "$T/out"
cp "$S/signature.ed25519" "$T/sig"
echo "garbage" >"$S/signature.ed25519"
"$BIN" bundle verify "$S" --pubkey "$T/k.pub" >"$T/out" 2>&1
check "malformed signature fails" 6 $? "signature.ed25519: malformed" "$T/out"
cp "$T/sig" "$S/signature.ed25519"
sed -i "s/\"decision\":\"reject\"/\"decision\":\"approve\"/" "$S/manifest.json" && "$BIN" bundle seal "$S" >/dev/null 2>&1
"$BIN" bundle verify "$S" --pubkey "$T/k.pub" >"$T/out" 2>&1
check "an edit re-sealed by someone without the key fails" 6 $? "signature.ed25519: wrong" "$T/out"
"$BIN" bundle sign "$S" --key "$T/k.pub.nope" >"$T/out" 2>&1
check "sign: missing key" 4 $? "k.pub.nope" "$T/out"
"$BIN" bundle sign "$S" >"$T/out" 2>&1
check "sign: --key required" 2 $? "usage: riskd bundle sign" "$T/out"

if [ -f "$SHARED/data/credit_data.csv" ]; then
    D="$SHARED/data"
    "$BIN" bundle build --name credit_scorecard_v1.0 --model "$D/models/credit_scorecard.json" \
        --data "$D/credit_data.csv" --label Status --positive bad --out "$T/credit_scorecard_v1.0" >"$T/out" 2>&1
    check "scorecard bundle" 0 $? "built and verified" "$T/out"
    "$BIN" score --bundle "$T/credit_scorecard_v1.0" --in "$D/reference/credit_test_predictions.csv" --out "$T/s.csv" --id row_id \
        >"$T/out" 2>&1
    check "scorecard scoring" 0 $?
    # points within 1e-12 and reasons equal to the reference's, row by row
    paste -d, <(cut -d, -f1,19,20 "$D/reference/credit_test_predictions.csv") "$T/s.csv" | awk -F, '
        NR > 1 { d = $2 - $5; if (d < 0) d = -d; r = $8; for (i = 9; i <= 11; i++) if ($i != "") r = r "|" $i;
                 if ($1 != $4 || d > 1e-12 || r != $3) { print "row " $1 ": " $5 " " r " vs " $2 " " $3; bad++ } }
        END { exit bad > 0 }'
    check "scorecard points and reasons equal the reference (1114 rows)" 0 $?
    "$BIN" bundle build --name credit_xgb_v1.0 --model "$D/models/credit_xgb.json" \
        --pipeline "$D/models/credit_xgb.features.json" --data "$D/credit_data.csv" --label Status --positive bad \
        --out "$T/credit_xgb_v1.0" >"$T/out" 2>&1
    check "XGBoost bundle" 0 $? "built and verified" "$T/out"
    "$BIN" score --bundle "$T/credit_xgb_v1.0" --in "$D/reference/credit_test_predictions.csv" --out "$T/s.csv" --id row_id \
        --reasons 0 >"$T/out" 2>&1
    check "XGBoost scoring" 0 $?
    paste -d, <(cut -d, -f1,17 "$D/reference/credit_test_predictions.csv") "$T/s.csv" |
        awk -F, 'NR > 1 && ($1 != $3 || $2 != $4) { print; bad++ } END { exit bad > 0 }'
    check "XGBoost probabilities byte-identical to the reference (1114 rows)" 0 $?
    # Objectives whose output is no probability (issue 11): refused as one, built as declared.
    xb() { # expected exit, name, pattern, objective, extra arguments...
        local want=$1 name=$2 pat=$3 obj=$4
        shift 4
        sed "s/\"name\":\"binary:logistic\"/\"name\":\"$obj\"/" "$D/models/credit_xgb.json" >"$T/obj.json"
        rm -rf "$T/credit_xgb_v1.1"
        "$BIN" bundle build --name credit_xgb_v1.1 --model "$T/obj.json" --pipeline "$D/models/credit_xgb.features.json" \
            --data "$D/credit_data.csv" --label Status --positive bad --out "$T/credit_xgb_v1.1" "$@" >"$T/out" 2>&1
        check "$name" "$want" $? "$pat" "$T/out"
    }
    for obj in binary:logitraw binary:hinge reg:squarederror rank:pairwise; do
        xb 1 "$obj refused as a probability" \
            "obj.json: output kind: the model's objective \"$obj\" does not output a probability: declare the output kind \"score\" or \"margin\" \(--output-kind\)" \
            "$obj"
        [ ! -e "$T/credit_xgb_v1.1" ]; check "$obj: nothing built" 0 $?
    done
    xb 0 "binary:logitraw built as a margin" "built and verified" binary:logitraw --output-kind margin
    grep -q '"output": {"kind": "margin"' "$T/credit_xgb_v1.1/manifest.json"; check "logitraw: manifest says margin" 0 $?
    grep -q '"score": {"kind":"margin"' "$T/credit_xgb_v1.1/reference.json"; check "logitraw: reference says margin" 0 $?
    xb 0 "reg:squarederror built as a score" "built and verified" reg:squarederror --output-kind score
    grep -q '"output": {"kind": "score"' "$T/credit_xgb_v1.1/manifest.json"; check "regression: manifest says score" 0 $?
    head -3 "$D/reference/credit_test_predictions.csv" >"$T/three.csv"
    "$BIN" score --bundle "$T/credit_xgb_v1.1" --in "$T/three.csv" --out - --format jsonl >"$T/out" 2>&1
    grep -q '"score":[-0-9.e]*,"probability":null,' "$T/out"
    check "a regression's output is not called a probability" 0 $?
    # A hand edit that labels the margin a probability is refused when the bundle loads.
    cp -r "$T/credit_xgb_v1.1" "$T/xo2" && sed -i 's/"kind": "score"/"kind": "probability"/' "$T/xo2/manifest.json"
    "$BIN" bundle seal "$T/xo2" >"$T/out" 2>&1 # sealed anew: the load itself must refuse it
    check "manifest calling a regression a probability" 1 $? \
        'output.kind: the model.s objective "reg:squarederror" does not output a probability' "$T/out"
    # A margin bundle scores the margin: equal to XGBoost's, and banded on its scale.
    "$BIN" bundle build --name credit_xgb_v2.0 --model "$D/models/credit_xgb.json" \
        --pipeline "$D/models/credit_xgb.features.json" --data "$D/credit_data.csv" --label Status --positive bad \
        --output-kind margin --out "$T/credit_xgb_v2.0" >"$T/out" 2>&1
    check "binary:logistic built as a margin" 0 $? "built and verified" "$T/out"
    "$BIN" score --bundle "$T/credit_xgb_v2.0" --in "$D/reference/credit_test_predictions.csv" --out "$T/s.csv" --id row_id \
        --reasons 0 >"$T/out" 2>&1
    check "margin scoring" 0 $?
    paste -d, <(cut -d, -f1,16 "$D/reference/credit_test_predictions.csv") "$T/s.csv" |
        awk -F, 'NR > 1 && ($1 != $3 || $2 != $4) { print; bad++ } END { exit bad > 0 }'
    check "margins byte-identical to XGBoost's (1114 rows)" 0 $?
    grep -q ',high,credit_xgb_v2.0,' "$T/s.csv" && grep -q ',low,credit_xgb_v2.0,' "$T/s.csv"
    check "margin bundle: bands over the margin" 0 $?
    # Scorecard points banded as a probability are refused.
    echo '[{"level":"high","min":null,"max":0.2},{"level":"low","min":0.2,"max":null}]' >"$T/pb.json"
    "$BIN" bundle build --name credit_scorecard_v1.1 --model "$D/models/credit_scorecard.json" \
        --data "$D/credit_data.csv" --label Status --positive bad --risk-bands "$T/pb.json" --out "$T/credit_scorecard_v1.1" >"$T/out" 2>&1
    check "probability bands on points" 1 $? \
        'the cut at 0.2 between "high" and "low" is outside the training scores \(points [0-9.]+ to [0-9.]+\): set the cuts on that scale \(were they written for a probability\?\)' \
        "$T/out"
    # --test-data on the holdout rows (the label as credit_data.csv has it)
    cut -d, -f2-15 "$D/reference/credit_test_predictions.csv" |
        sed '1s/label_bad$/Status/; 2,$s/,1$/,bad/; 2,$s/,0$/,good/' >"$T/holdout.csv"
    "$BIN" bundle build --name credit_xgb_v1.2 --model "$D/models/credit_xgb.json" \
        --pipeline "$D/models/credit_xgb.features.json" --data "$D/credit_data.csv" --label Status --positive bad \
        --test-data "$T/holdout.csv" --out "$T/credit_xgb_v1.2" >"$T/out" 2>&1
    check "XGBoost bundle with --test-data" 0 $? "built and verified" "$T/out"
    grep -qE '"test": \{"data_file": "holdout.csv", .*"rows": 1114, .*"n":1114,"sample":"test"' "$T/credit_xgb_v1.2/manifest.json"
    check "--test-data: 1114 holdout rows" 0 $?
    grep -q "\"auc\":0.846059,[^}]*\"sample\":\"test\"" "$T/credit_xgb_v1.2/manifest.json"
    check "--test-data: the holdout AUC is XGBoost's (reference/TRAINING.json auc_test 0.8460589)" 0 $?
else
    echo "skipped: shared data not present (credit bundles)"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
