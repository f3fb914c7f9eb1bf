#!/usr/bin/env bash
# The riskd flags CLI end to end: exit codes, error messages, bad input of every kind, and
# that a rejected request line neither stops the run nor changes the order of results.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

cat >"$T/good.json" <<'J'
{"metadata":{"flagSetId":"cli"},"flags":{
 "on":{"state":"ENABLED","variants":{"y":true,"n":false},"defaultVariant":"y"},
 "route":{"state":"ENABLED","variants":{"a":"A","b":"B"},"defaultVariant":"a",
          "targeting":{"if":[{"==":[{"var":"tier"},"gold"]},"b",null]}}}}
J

"$BIN" --help >"$T/out" 2>&1; check "riskd --help" 0 $? "flags" "$T/out"
"$BIN" flags --help >"$T/out" 2>&1; check "flags --help" 0 $? "validate FILE" "$T/out"
"$BIN" >"$T/out" 2>&1; check "no command" 2 $? "usage" "$T/out"
"$BIN" frobnicate >"$T/out" 2>&1; check "unknown command" 2 $? "unknown command" "$T/out"
"$BIN" --version >"$T/out" 2>&1; check "--version" 0 $? "riskd [0-9]+\.[0-9]+" "$T/out"
"$BIN" flags validate "$T/good.json" >"$T/out" 2>&1; check "validate good" 0 $? "ok, 2 flags" "$T/out"
"$BIN" flags validate "$T/missing.json" >"$T/out" 2>&1; check "validate missing file" 4 $? "No such file" "$T/out"
"$BIN" flags validate >"$T/out" 2>&1; check "validate without file" 2 $? "exactly one FILE" "$T/out"

# Bad flag files: each refused (exit 1) with the fault named.
bad() { # name, content, message pattern
    printf '%s' "$2" >"$T/bad.json"
    "$BIN" flags validate "$T/bad.json" >"$T/out" 2>&1
    check "refuse $1" 1 $? "$3" "$T/out"
}
bad "truncated file" '{"flags":{"a":{"state":"ENA' "line 1, column [0-9]+: unexpected end of input"
bad "NaN" '{"flags":{"a":{"state":"ENABLED","variants":{"x":NaN}}}}' "NaN and Infinity are not JSON"
bad "trailing garbage" '{"flags":{}} x' "unexpected text after the JSON value"
bad "empty file" '' "unexpected end of input"
bad "binary" $'\x01\x02\xff' "unexpected character"
bad "bad default variant" '{"flags":{"a":{"state":"ENABLED","variants":{"x":1},"defaultVariant":"y"}}}' \
    'flags\.a\.defaultVariant: "y" is not one of the variants'
bad "unknown operator" '{"flags":{"a":{"state":"ENABLED","variants":{"x":1},"targeting":{"and":[{"=~":[1,1]}]}}}}' \
    'flags\.a\.targeting\.and\[0\]: unknown operator "=~"'
bad "deep nesting" "$(printf '%0.s[' $(seq 200))" "nesting too deep"
head -c 70000000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
"$BIN" flags validate "$T/huge.json" >"$T/out" 2>&1; check "refuse huge file" 1 $? "larger than" "$T/out"

# A lenient load accepts flagd's broken flags and reports them per evaluation.
printf '%s' '{"flags":{"b":{"state":"ENABLED","variants":{"x":1},"defaultVariant":"x","targeting":{"bogus":[]}}}}' >"$T/lenient.json"
"$BIN" flags validate --lenient "$T/lenient.json" >"$T/out" 2>&1; check "lenient accepts" 0 $? "ok, 1 flags" "$T/out"
"$BIN" flags eval --lenient --flags "$T/lenient.json" --flag b >"$T/out" 2>&1
check "lenient flag is a PARSE_ERROR" 0 $? '"reason":"ERROR","errorCode":"PARSE_ERROR"' "$T/out"

# Evaluation: one line, a stream with bad lines in it, stdin.
"$BIN" flags eval --flags "$T/good.json" --flag route --type string --default '"z"' --context '{"tier":"gold"}' >"$T/out" 2>&1
check "eval one" 0 $? '"value":"B","variant":"b","reason":"TARGETING_MATCH"' "$T/out"
"$BIN" flags eval --flags "$T/good.json" --flag route --type nope >"$T/out" 2>&1; check "bad --type" 2 $? "--type" "$T/out"
"$BIN" flags eval --flags "$T/good.json" --flag route --context '[1]' >"$T/out" 2>&1; check "bad --context" 2 $? "--context" "$T/out"
cat >"$T/req.jsonl" <<'J'
{"flag":"on","type":"boolean","default":false}
not json at all
{"flag":"route","type":"string","default":"z","context":{"tier":"gold"}}
{"flag":42}

{"flag":"nope","type":"boolean","default":true}
{"flag":"route","type":"integer","default":0}
J
"$BIN" flags eval --flags "$T/good.json" --requests "$T/req.jsonl" >"$T/out" 2>"$T/err"
check "stream with bad lines exits 3" 3 $? "2 of 7 requests rejected" "$T/err"
[ "$(wc -l <"$T/out")" = 6 ]; check "one result per request line" 0 $?
sed -n 2p "$T/out" >"$T/l2"; check "line 2 rejected in place" 0 0 '"errorCode":"INVALID_CONTEXT","errorMessage":"line 2: line 1, column 1' "$T/l2"
sed -n 3p "$T/out" >"$T/l3"; check "line 3 evaluated after a bad line" 0 0 '"value":"B"' "$T/l3"
sed -n 5p "$T/out" >"$T/l5"; check "missing flag" 0 0 '"value":true,"variant":null,"reason":"ERROR","errorCode":"FLAG_NOT_FOUND"' "$T/l5"
sed -n 6p "$T/out" >"$T/l6"; check "type mismatch keeps the default" 0 0 '"value":0,.*"TYPE_MISMATCH"' "$T/l6"
printf '{"flag":"on"}\n' | "$BIN" flags eval --flags "$T/good.json" --requests - >"$T/out" 2>&1
check "requests from stdin" 0 $? '"value":true' "$T/out"
"$BIN" flags eval --flags "$T/good.json" --requests "$T/none.jsonl" >"$T/out" 2>&1; check "missing requests file" 4 $? "none.jsonl" "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
