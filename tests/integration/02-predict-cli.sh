#!/usr/bin/env bash
# riskd predict end to end: a small hand-made XGBoost model, column mapping by name, missing
# values, every refusal with its exit code, and (when the shared data is there) the credit
# model's margins equal to XGBoost's, byte for byte as printed.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

cat >"$T/m.json" <<'J'
{"learner":{"feature_names":["a","b"],"learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"2","num_target":"1"},
 "objective":{"name":"binary:logistic"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],"trees":[
 {"tree_param":{"num_nodes":"3"},"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[1,0,0],
  "split_conditions":[10,-1,1],"default_left":[1,0,0],"split_type":[0,0,0],"sum_hessian":[2,1,1]}]}}}}
J
printf 'id,b,a\n1,5,0\n2,15,0\n3,,0\n' >"$T/x.csv"
"$BIN" predict --model "$T/m.json" --in "$T/x.csv" --out "$T/p.csv" --output raw >"$T/out" 2>&1
check "predict raw" 0 $?
printf 'prediction\n-1\n1\n-1\n' | cmp -s - "$T/p.csv"; check "raw values, columns by name, missing goes default" 0 $?
"$BIN" predict --model "$T/m.json" --in "$T/x.csv" --out - >"$T/out" 2>&1
check "probability to stdout" 0 $? "^0.268941432$" "$T/out"
"$BIN" predict --help >"$T/out" 2>&1; check "--help" 0 $? "usage: riskd predict" "$T/out"
"$BIN" predict --model "$T/m.json" >"$T/out" 2>&1; check "missing --in/--out" 2 $? "usage" "$T/out"
"$BIN" predict --model "$T/m.json" --in "$T/x.csv" --out - --output logit >"$T/out" 2>&1
check "bad --output" 2 $? "raw or probability" "$T/out"
printf 'a\n1\n' >"$T/nob.csv"
"$BIN" predict --model "$T/m.json" --in "$T/nob.csv" --out - >"$T/out" 2>&1
check "missing column" 1 $? 'no column "b"' "$T/out"
printf 'a,b\n1,2\n1,abc\n' >"$T/bad.csv"
"$BIN" predict --model "$T/m.json" --in "$T/bad.csv" --out - >"$T/out" 2>&1
check "non-numeric value names its line" 1 $? 'bad.csv:3: column "b": "abc" is not a finite number' "$T/out"
printf 'a,b\n1,2,3\n' >"$T/ragged.csv"
"$BIN" predict --model "$T/m.json" --in "$T/ragged.csv" --out - >"$T/out" 2>&1
check "ragged row" 1 $? "3 fields, the header has 2" "$T/out"
printf '{"learner":' >"$T/trunc.json"
"$BIN" predict --model "$T/trunc.json" --in "$T/x.csv" --out - >"$T/out" 2>&1
check "truncated model" 1 $? "trunc.json: line 1, column 12: unexpected end of input" "$T/out"
"$BIN" predict --model "$T/none.json" --in "$T/x.csv" --out - >"$T/out" 2>&1
check "missing model file" 4 $? "none.json" "$T/out"
printf 'tree\nversion=v9\n' >"$T/junk.txt"
"$BIN" predict --model "$T/junk.txt" --in "$T/x.csv" --out - >"$T/out" 2>&1
check "not a model" 1 $? "junk.txt" "$T/out"

if [ -f "$SHARED/data/models/credit_xgb.json" ]; then
    "$BIN" predict --model "$SHARED/data/models/credit_xgb.json" --in "$SHARED/data/reference/credit_xgb_test_matrix.csv" \
        --out "$T/credit.csv" --output raw --threads 2 >"$T/out" 2>&1
    check "credit model" 0 $?
    { echo prediction; cut -d, -f16 "$SHARED/data/reference/credit_test_predictions.csv" | tail -n +2; } >"$T/want.csv"
    cmp -s "$T/want.csv" "$T/credit.csv"; check "credit margins print exactly as XGBoost's" 0 $?
else
    echo "skipped: shared data not present"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
