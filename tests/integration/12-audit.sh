#!/usr/bin/env bash
# The audit chain read back by `riskd audit` (verify, head, export, list): a chain of 20 entries
# (appended by the test tool build/<mode>/tests/tools/audit_append, since no riskd command
# writes one on its own yet) verifies intact, and an independent verifier in Python
# (tests/interop/audit_verify.py, written from docs/governance.md alone) agrees with it; the
# triggers refuse UPDATE and DELETE through the sqlite3 shell; and on copies of the store with
# the triggers dropped, verify names the first bad seq of an edit (7), a deletion (9), a swap
# (5) and a forged insertion (11), and of a tail cut off (18) against an anchor kept before,
# while without the anchor a cut tail verifies (the documented limit). Arguments, anchors and
# usage errors get their exit codes.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
VERIFY=$(dirname "$0")/../interop/audit_verify.py
TOOL=$(dirname "$BIN")/tests/tools/audit_append
[ -x "$TOOL" ] || TOOL=build/release/tests/tools/audit_append
[ -x "$TOOL" ] || { echo "$TOOL missing (make builds it)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 missing (scripts/deps.sh installs it)"; exit 1; }
D=$T/data

# ---- a chain of 20: details with non-ASCII text, quotes and control characters, keys that
# sort differently by UTF-16 and by code point, numbers JavaScript prints its own way
$PY - >"$T/entries.jsonl" <<'P'
import json
actions = ["change.propose", "change.approve", "flags.publish", "rollout.rollback", "user.add"]
for i in range(1, 21):
    d = {"i": i, "note": "entry %d" % i}
    if i == 3:
        d.update({"text": "caf\u00e9 \"quoted\" back\\slash\nnew line\ttab\u0001\u001f\u007f \u2028 \U0001F600",
                  "\uffff": 1, "\U0001F600": 2, "numbers": [1.0, 1e21, 1.5e-7, 0.000001, -0.0, 2**60, 123.456]})
    print(json.dumps({"ts_ms": 1796619600000 + 1000 * i, "actor": ["alice", "bob", "controller"][i % 3],
                      "action": actions[i % 5], "object": "change/%d" % i,
                      "before_sha256": "" if i % 2 else "ab" * 32, "after_sha256": "cd" * 32, "detail": d},
                     ensure_ascii=i != 3))
P
"$TOOL" "$D" <"$T/entries.jsonl" >"$T/out" 2>&1
check "20 entries appended" 0 $? "^20$" "$T/out"

"$BIN" audit verify --data-dir "$D" >"$T/verify.txt" 2>&1
check "riskd audit verify: intact" 0 $? "^audit chain intact: 20 entries, head seq 20 hash [0-9a-f]{64}$" "$T/verify.txt"
"$BIN" audit verify --data-dir "$D" --json >"$T/out" 2>&1
check "  --json" 0 $? '^\{"intact":true,"entries":20,"head_seq":20,"head_hash":"[0-9a-f]{64}","first_bad":null,"problem":null\}$' "$T/out"
"$BIN" audit head --data-dir "$D" >"$T/out" 2>&1
check "riskd audit head" 0 $? "^seq 20 hash [0-9a-f]{64}$" "$T/out"
H=$(awk '{print $4}' "$T/out")
"$BIN" audit head --data-dir "$D" --json >"$T/anchor.json" 2>&1
check "riskd audit head --json: the anchor file" 0 $? "^\\{\"seq\":20,\"hash\":\"$H\"\\}$" "$T/anchor.json"
"$BIN" audit verify --data-dir "$D" --anchor "$T/anchor.json" >"$T/out" 2>&1
check "verify --anchor" 0 $? "^audit chain intact: 20 entries" "$T/out"
"$BIN" audit verify --data-dir "$D" --head "$H" --seq 20 >"$T/out" 2>&1
check "verify --head --seq" 0 $? "^audit chain intact" "$T/out"
"$BIN" audit verify --data-dir "$D" --head "$H" --seq 19 >"$T/out" 2>&1
check "verify --head with the wrong seq: rewritten" 5 $? "^audit chain broken at seq 19: .*differs from the anchor" "$T/out"

# ---- export, and the Python verifier agrees word for word
"$BIN" audit export --data-dir "$D" --format jsonl >"$T/export.jsonl" 2>"$T/err"
check "riskd audit export" 0 $? "." "$T/export.jsonl"
[ "$(wc -l <"$T/export.jsonl")" = 20 ]
check "  one line per entry" 0 $?
grep -q '"seq":3,' "$T/export.jsonl" && grep -q 'café' "$T/export.jsonl"
check "  non-ASCII text as UTF-8, not escaped" 0 $?
$PY "$VERIFY" "$T/export.jsonl" >"$T/py.txt" 2>&1
check "audit_verify.py: intact" 0 $? "^audit chain intact: 20 entries" "$T/py.txt"
cmp -s "$T/verify.txt" "$T/py.txt"
check "  says what riskd audit verify says" 0 $? "." "$T/py.txt"
$PY "$VERIFY" --anchor "$T/anchor.json" <"$T/export.jsonl" >"$T/out" 2>&1
check "  with the anchor" 0 $? "^audit chain intact" "$T/out"
"$BIN" audit export --data-dir "$D" --from 15 --out "$T/tail.jsonl" >"$T/out" 2>&1
check "export --from 15 --out FILE" 0 $?
[ "$(wc -l <"$T/tail.jsonl")" = 6 ] && head -1 "$T/tail.jsonl" | grep -q '"seq":15,'
check "  entries 15 to 20" 0 $?
"$BIN" audit list --data-dir "$D" --limit 3 >"$T/out" 2>&1
check "riskd audit list" 0 $? "^ +seq +time +actor +action +object +detail$" "$T/out"
[ "$(wc -l <"$T/out")" = 4 ] && sed -n 2p "$T/out" | grep -qE '^ +20  2026-12-07T05:00:20.000Z  controller '
check "  the newest 3, newest first" 0 $? "." "$T/out"

# ---- the triggers refuse UPDATE and DELETE
# (the shell's exit status for a failed statement varies by version: any but 0)
sqlite3 "$D/riskd.db" "UPDATE audit SET actor = 'mallory' WHERE seq = 1" >"$T/out" 2>&1
check "UPDATE refused by the trigger" 1 "$(($? != 0))" "append-only" "$T/out"
sqlite3 "$D/riskd.db" "DELETE FROM audit WHERE seq = 20" >"$T/out" 2>&1
check "DELETE refused by the trigger" 1 "$(($? != 0))" "append-only" "$T/out"
"$BIN" audit verify --data-dir "$D" >"$T/out" 2>&1
check "  the chain unchanged" 0 $? "intact: 20 entries" "$T/out"

# ---- tampering with the triggers dropped, each on its own copy
# tamper NAME SQL: copy the store to $T/NAME, run SQL there with the triggers dropped.
tamper() {
    rm -rf "${T:?}/$1"
    cp -r "$D" "$T/$1"
    sqlite3 "$T/$1/riskd.db" "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; $2"
}
# broken NAME SEQ WORD [ARGS]: riskd and the Python verifier both find the chain in $T/NAME
# broken first at SEQ, and riskd's problem names WORD.
broken() {
    local name=$1 seq=$2 word=$3
    shift 3
    "$BIN" audit verify --data-dir "$T/$name" "$@" >"$T/out" 2>&1
    check "$name: verify names seq $seq ($word)" 5 $? "^audit chain broken at seq $seq: .*$word" "$T/out"
    "$BIN" audit export --data-dir "$T/$name" >"$T/$name.jsonl"
    local anchor=()
    [ $# -gt 0 ] && anchor=(--anchor "$T/anchor.json")
    $PY "$VERIFY" "${anchor[@]}" "$T/$name.jsonl" >"$T/out" 2>&1
    check "$name: audit_verify.py names seq $seq" 5 $? "^audit chain broken at seq $seq: " "$T/out"
}

# (a) one character of the detail of seq 7
tamper edited "UPDATE audit SET detail = replace(detail, 'entry 7', 'entry 8') WHERE seq = 7"
broken edited 7 "edited"
# ... or only its form: the same meaning, not the canonical bytes
tamper reformatted "UPDATE audit SET detail = replace(detail, ',', ', ') WHERE seq = 4"
broken reformatted 4 "canonical"
# (b) seq 9 deleted: the gap is seq 9
tamper deleted "DELETE FROM audit WHERE seq = 9"
broken deleted 9 "deleted"
# ... and the later entries renumbered down to close the gap
tamper renumbered "DELETE FROM audit WHERE seq = 9; UPDATE audit SET seq = seq - 1 WHERE seq > 9"
broken renumbered 9 "deleted"
# (c) seq 5 and 6 swapped
tamper swapped "UPDATE audit SET seq = -5 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6;
                UPDATE audit SET seq = 6 WHERE seq = -5"
broken swapped 5 "reordered"
# (d) a forged seq 11: the later entries moved up one, the forgery chained to seq 10 and hashed
# right for its own content (the recipe is public); the old seq 11, now 12, gives it away
tamper inserted "UPDATE audit SET seq = seq + 100 WHERE seq >= 11; UPDATE audit SET seq = seq - 99 WHERE seq > 100"
$PY - "$T/inserted/riskd.db" "$VERIFY" <<'P'
import importlib.util, sqlite3, sys
spec = importlib.util.spec_from_file_location("audit_verify", sys.argv[2])
av = importlib.util.module_from_spec(spec)
spec.loader.exec_module(av)
db = sqlite3.connect(sys.argv[1])
prev = db.execute("SELECT hash FROM audit WHERE seq = 10").fetchone()[0]
e = {"seq": 11, "time": "2026-12-07T05:00:10.500Z", "actor": "mallory", "action": "flags.publish",
     "object": "flags:/etc/riskd/flags.json", "before_sha256": "", "after_sha256": "ef" * 32,
     "detail": {"note": "nothing to see"}, "prev_hash": prev}
e["hash"] = av.entry_hash(e)
db.execute("INSERT INTO audit VALUES(11, 1796619610500, ?, ?, ?, ?, ?, ?, ?, ?)",
           (e["actor"], e["action"], e["object"], e["before_sha256"], e["after_sha256"],
            av.jcs(e["detail"]), prev, e["hash"]))
db.commit()
P
broken inserted 11 "inserted"
# (e) the last 3 cut off: intact in itself (the documented limit), found against the anchor
tamper truncated "DELETE FROM audit WHERE seq > 17"
"$BIN" audit verify --data-dir "$T/truncated" >"$T/out" 2>&1
check "truncated: without an anchor verify cannot tell (documented)" 0 $? "intact: 17 entries, head seq 17" "$T/out"
broken truncated 18 "truncated: the anchor's seq 20 is missing" --anchor "$T/anchor.json"
"$BIN" audit verify --data-dir "$T/truncated" --anchor "$T/anchor.json" --json >"$T/out" 2>&1
check "  --json" 5 $? '"intact":false,.*"first_bad":18,"problem":"truncated' "$T/out"

# ---- usage and refusals
for sub in verify head export list; do
    "$BIN" audit $sub --help >"$T/out" 2>&1
    check "audit $sub --help" 0 $? "^usage: riskd audit verify" "$T/out"
done
"$BIN" audit --help >"$T/out" 2>&1
check "audit --help" 0 $? "^usage: riskd audit" "$T/out"
"$BIN" --help >"$T/out" 2>&1
check "riskd --help lists audit" 0 $? "^  audit " "$T/out"
"$BIN" audit >"$T/out" 2>&1
check "audit alone: usage" 2 $? "^usage: riskd audit" "$T/out"
"$BIN" audit rewrite --data-dir "$D" >"$T/out" 2>&1
check "an unknown subcommand: usage" 2 $?
"$BIN" audit verify >"$T/out" 2>&1
check "verify without --data-dir: usage" 2 $?
"$BIN" audit verify --data-dir "$D" --head "$H" >"$T/out" 2>&1
check "--head without --seq: usage" 2 $? "go together" "$T/out"
"$BIN" audit verify --data-dir "$D" --anchor "$T/anchor.json" --head "$H" --seq 20 >"$T/out" 2>&1
check "--anchor and --head: usage" 2 $? "not both" "$T/out"
"$BIN" audit verify --data-dir "$D" --head "${H^^}" --seq 20 >"$T/out" 2>&1
check "--head in upper case: usage" 2 $? "64 lowercase hex" "$T/out"
"$BIN" audit export --data-dir "$D" --format csv >"$T/out" 2>&1
check "export --format csv: usage" 2 $? "jsonl" "$T/out"
"$BIN" audit list --data-dir "$D" --limit ten >"$T/out" 2>&1
check "list --limit ten: usage" 2 $? "not a whole number" "$T/out"
"$BIN" audit head --data-dir "$D" --limit 3 >"$T/out" 2>&1
check "head --limit (another subcommand's option): usage" 2 $?
for bad in 'not json' '{"seq":20}' "{\"seq\":20,\"hash\":\"$H\",\"extra\":1}" "{\"seq\":-1,\"hash\":\"$H\"}" \
    "{\"seq\":2.5,\"hash\":\"$H\"}" "{\"seq\":\"20\",\"hash\":\"$H\"}" "{\"seq\":20,\"hash\":\"${H^^}\"}" "[20,\"$H\"]"; do
    printf '%s' "$bad" >"$T/bad-anchor.json"
    "$BIN" audit verify --data-dir "$D" --anchor "$T/bad-anchor.json" >"$T/out" 2>&1
    check "a malformed anchor refused: $bad" 1 $? "anchor|not JSON" "$T/out"
done
"$BIN" audit verify --data-dir "$D" --anchor "$T/no-such-anchor.json" >"$T/out" 2>&1
check "an anchor file that is not there: I/O" 4 $?
"$BIN" audit verify --data-dir "$T/nowhere" >"$T/out" 2>&1
check "a data directory that is not there: I/O" 4 $? "nowhere" "$T/out"
mkdir -p "$T/empty"
echo -n | "$TOOL" "$T/empty" >/dev/null 2>&1
"$BIN" audit verify --data-dir "$T/empty" >"$T/out" 2>&1
check "an empty chain is intact" 0 $? "^audit chain intact: 0 entries, head seq 0 hash 0{64}$" "$T/out"
"$BIN" audit head --data-dir "$T/empty" --json >"$T/out" 2>&1
check "  its head: seq 0 and 64 zeros" 0 $? '^\{"seq":0,"hash":"0{64}"\}$' "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
