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
grep -q '"home": {"type":"category","missing":0,"levels":{"rent":134,"own":66}}' "$B/reference.json"
check "reference: category input counted" 0 $?
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

# Scoring: id column, quoting, bad rows reported by line, exit 3; --strict stops.
printf 'id,home,age\n"a,1",own,30\nb,rent,abc\nc,boat,50\nd,own\ne,,\n' >"$T/apps.csv"
"$BIN" score --bundle "$B" --in "$T/apps.csv" --out "$T/s.csv" --id id >"$T/out" 2>&1
check "score with bad rows exits 3" 3 $? "3 rows scored \(0 by fallback rules\), 2 rejected" "$T/out"
grep -q 'apps.csv:3: age: "abc" is not a number' "$T/out"; check "bad value names its line" 0 $?
grep -q 'apps.csv:5: 2 fields, the header has 3' "$T/out"; check "ragged row names its line" 0 $?
head -1 "$T/s.csv" | grep -qx 'id,score,risk_level,model_version,reason_1,reason_2,decision,source'; check "score header" 0 $?
[ "$(wc -l <"$T/s.csv")" = 4 ]; check "good rows all scored, in order" 0 $?
grep -q '^"a,1",' "$T/s.csv"; check "id quoted on output" 0 $?
grep -qE '^e,[0-9.e-]+,[a-z]+,demo_lr_v1.0,' "$T/s.csv"; check "all inputs missing still scores" 0 $?
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
corrupt "output kind" 'output.kind "score" needs a scorecard model' \
    'sed -i "s/\"kind\": \"probability\"/\"kind\": \"score\"/" "$C/manifest.json"; reseal'

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
else
    echo "skipped: shared data not present (credit bundles)"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
