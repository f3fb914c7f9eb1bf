#!/usr/bin/env bash
# Personal data in the decision log (docs/governance.md): log_redact keeps inputs as a keyed hash
# (the HMAC-SHA256 Python computes) or not at all, in serve and in score --log, while the
# decisions use the real values; replay counts such decisions as not replayable, naming the
# inputs, and exits 0; under governance export needs view_decisions (an engineer: exit 7),
# replay shows a role without it the summary only; an erasure is refused by role (7) and inside
# the retention floor (1, saying from when), allowed once an admin sets the floor to 0, beside
# a running server: the applicant's decisions, shadows and outcomes gone, the others kept, one
# audit entry naming the applicant by SHA-256, and the key's bytes in neither the database nor
# its WAL file.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh installs it)"; exit 1; }
PY=/usr/bin/python3
D=$T/data
KEYF=$T/redact.key
APPLICANT=cust-4471-zq # the applicant erased: a distinctive text, so a byte search finds only it
EMAIL=jo.private@example.test
SSN=123-45-6789

lr_fixture
mkdir -p "$T/bundles"
"$BIN" bundle build --name demo_lr_v1.0 --model "$T/lr.json" --pipeline "$T/pipe.json" --data "$T/data.csv" --label bad \
    --samples 5 --reasons 2 --out "$T/bundles/demo_lr_v1.0" >"$T/out" 2>&1
check "build the bundle" 0 $? "built and verified" "$T/out"
head -c 32 /dev/urandom >"$KEYF"
hmac() { # value (a JSON string's text): the hash log_redact stores, computed by Python
    $PY -c 'import hashlib, hmac, json, sys
k = open(sys.argv[1], "rb").read()
print("hmac-sha256:" + hmac.new(k, json.dumps(sys.argv[2], ensure_ascii=False, separators=(",", ":")).encode(), hashlib.sha256).hexdigest())' "$KEYF" "$1"
}
hits() { # text, files...: how many times text's bytes are in the files (0 for a missing file)
    local n=0 f c
    for f in "${@:2}"; do
        [ -f "$f" ] || continue
        c=$(grep -c -a -F -- "$1" "$f")
        n=$((n + c))
    done
    echo "$n"
}
score() { # request_id, targetingKey, features JSON[, more context JSON]
    curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"request_id\":\"$1\",\"context\":{\"targetingKey\":\"$2\"${4:+,$4}},\"features\":$3}" "$U/v1/score"
}

# ---- refused at start without the key, naming the option
"$BIN" serve --listen 127.0.0.1:0 --bundles "$T/bundles" --data-dir "$T/x" --log-redact email >"$T/out" 2>&1
check "log_redact hashing without log_redact_key_file: refused" 1 $? "log_redact_key_file" "$T/out"
"$BIN" serve --listen 127.0.0.1:0 --bundles "$T/bundles" --data-dir "$T/x" --log-redact targetingKey:drop \
    --check-config >"$T/out" 2>&1
check "targetingKey cannot be redacted" 1 $? "targetingKey cannot be redacted" "$T/out"

# ---- serve with log_redact: the answers use the real values, the log keeps hashes
RISKD_LOG_REDACT="email, ssn:drop, phone" start --bundles "$T/bundles" --log-redact-key-file "$KEYF" \
    --unknown-inputs warn || exit 1
check "p-1 scored" 200 "$(score p-1 $APPLICANT "{\"age\":30,\"home\":\"own\",\"ssn\":\"$SSN\"}" "\"email\":\"$EMAIL\"")"
cp "$T/r" "$T/p1.answer"
check "p-2 scored" 200 "$(score p-2 $APPLICANT '{"age":31,"home":"rent"}' "\"email\":\"$EMAIL\"")"
check "o-1 scored (another applicant, nothing to redact)" 200 "$(score o-1 cust-9000-aa '{"age":50,"home":"own"}')"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '[{"request_id":"p-1","label":1,"outcome":"dpd30"},{"request_id":"o-1","label":0,"outcome":"dpd30"}]' "$U/v1/outcomes")
check "outcomes recorded" 200 "$code"
stop
"$BIN" log export --data-dir "$D" >"$T/all.jsonl" 2>"$T/out"
check "export" 0 $?
check "three decisions logged" 3 "$(grep -c '"kind":"primary"' "$T/all.jsonl")"
check "the email is nowhere in the export" 0 "$(hits "$EMAIL" "$T/all.jsonl")"
check "the SSN is nowhere in the export" 0 "$(hits "$SSN" "$T/all.jsonl")"
check "the email's HMAC-SHA256 (as Python computes it) is logged for p-1 and p-2" 2 "$(hits "\"email\":\"$(hmac "$EMAIL")\"" "$T/all.jsonl")"
grep '"request_id":"p-1"' "$T/all.jsonl" | grep -q '"redacted":{"email":"hash","ssn":"drop"}'
check "the record says what was redacted" 0 $?
grep '"request_id":"p-2"' "$T/all.jsonl" | grep -q '"redacted":{"email":"hash"}'
check "... only what the request had" 0 $?
grep '"request_id":"o-1"' "$T/all.jsonl" | grep -q '"redacted"'
check "a record with nothing to redact has no redacted member" 1 $?
"$BIN" log hash --log-redact-key-file "$KEYF" "$EMAIL" >"$T/out"
check "riskd log hash agrees with Python" 0 $? "^$(hmac "$EMAIL")$" "$T/out"
check "the database files hold neither the email nor the SSN" 00 \
    "$(hits "$EMAIL" "$D/riskd.db" "$D/riskd.db-wal")$(hits "$SSN" "$D/riskd.db" "$D/riskd.db-wal")"
grep -q '"score":' "$T/p1.answer"; check "the answer is the decision on the real values" 0 $?
"$BIN" replay --data-dir "$D" >"$T/replay" 2>&1
check "replay: redacted decisions are not replayable, and exit 0" 0 $? \
    "^replayed 3 decisions: 1 identical, 0 different, 2 not replayable \(1 with inputs redacted: email, ssn; 1 with inputs redacted: email\)" "$T/replay"
grep -q '^decision [0-9]* (p-1, primary): not replayable: inputs redacted: email, ssn$' "$T/replay"
check "the line names the decision and the inputs" 0 $?

# ---- riskd score --log with --log-redact: the batch log too
{ echo "id,age,home,email"; echo "1,30,own,a1@example.test"; echo "2,40,rent,a2@example.test"; } >"$T/apps.csv"
"$BIN" score --bundle "$T/bundles/demo_lr_v1.0" --in "$T/apps.csv" --out /dev/null --id id --log "$T/batch" \
    --log-redact email:drop 2>"$T/out"
check "score --log --log-redact" 0 $?
"$BIN" log export --data-dir "$T/batch" >"$T/batch.jsonl"
check "batch: the email column is not logged" 0 "$(hits '@example.test' "$T/batch.jsonl")"
check "batch: the records say so" 2 "$(grep -c '"redacted":{"email":"drop"}' "$T/batch.jsonl")"
"$BIN" score --bundle "$T/bundles/demo_lr_v1.0" --in "$T/apps.csv" --out /dev/null --log-redact email >"$T/out" 2>&1
check "score: --log-redact needs --log" 2 $? "needs --log" "$T/out"

# ---- governance: users and their roles
"$BIN" user add root --role admin --data-dir "$D" >"$T/root.token" 2>"$T/out"
check "the first admin" 0 $?
for u in mia:manager erin:engineer ann:analyst; do
    "$BIN" user add "${u%%:*}" --role "${u#*:}" --data-dir "$D" --token-file "$T/root.token" >"$T/${u%%:*}.token" 2>"$T/out"
    check "add ${u%%:*} (${u#*:})" 0 $?
done
"$BIN" log export --data-dir "$D" --token-file "$T/erin.token" >"$T/out" 2>&1
check "export: an engineer is refused" 7 $? "the role lacks the view_decisions permission" "$T/out"
"$BIN" log export --data-dir "$D" >"$T/out" 2>&1
check "export: no token is refused" 7 $?
"$BIN" log export --data-dir "$D" --token-file "$T/ann.token" >"$T/out" 2>&1
check "export: an analyst reads" 0 $? '"request_id":"p-1"' "$T/out"
RISKD_TOKEN_FILE=$T/mia.token "$BIN" log export --data-dir "$D" --format csv >"$T/out" 2>&1
check "export: a manager reads (RISKD_TOKEN_FILE)" 0 $? ",p-1,primary," "$T/out"
"$BIN" replay --data-dir "$D" --token-file "$T/erin.token" >"$T/replay" 2>&1
check "replay: an engineer sees the summary" 0 $? "^replayed 3 decisions: 1 identical" "$T/replay"
grep -q '^decision ' "$T/replay"; check "... and no single decision" 1 $?
"$BIN" replay --data-dir "$D" --token-file "$T/ann.token" >"$T/replay" 2>&1
check "replay: an analyst sees the decisions" 0 $? "^decision [0-9]* \(p-1, primary\): not replayable" "$T/replay"

# ---- erasure, beside a running server
start --bundles "$T/bundles" || exit 1
check "the server serves on the governed store" 200 "$(score o-2 cust-9000-aa '{"age":60,"home":"rent"}')"
"$BIN" log erase --targeting-key $APPLICANT --data-dir "$D" --token-file "$T/erin.token" >"$T/out" 2>&1
check "erase: an engineer is refused" 7 $? "the role lacks the erase permission" "$T/out"
"$BIN" log erase --targeting-key $APPLICANT --data-dir "$D" --token-file "$T/ann.token" >"$T/out" 2>&1
check "erase: an analyst is refused" 7 $? "erase permission" "$T/out"
"$BIN" log erase --targeting-key $APPLICANT --data-dir "$D" --token-file "$T/mia.token" --reason "GDPR art. 17" >"$T/out" 2>&1
check "erase inside the retention floor: refused" 1 $? "inside the retention floor of 760 days.*can be erased from 20[0-9][0-9]-" "$T/out"
check "... nothing erased" 2 "$("$BIN" log export --data-dir "$D" --token-file "$T/mia.token" | grep -c "$APPLICANT")"
"$BIN" log retention --data-dir "$D" >"$T/out" 2>&1
check "the floor: 760 days by default" 0 $? "^retention floor: 760 days" "$T/out"
"$BIN" log retention --data-dir "$D" --days 0 --token-file "$T/mia.token" >"$T/out" 2>&1
check "a manager may not move the floor" 7 $? "users permission" "$T/out"
"$BIN" log retention --data-dir "$D" --days 0 --token-file "$T/root.token" >"$T/out" 2>&1
check "an admin sets the floor to 0" 0 $? "760 -> 0 days" "$T/out"
"$BIN" log erase --targeting-key $APPLICANT --data-dir "$D" --token-file "$T/mia.token" --reason "GDPR art. 17" >"$T/out" 2>&1
check "erase: allowed, counted" 0 $? "^erased 2 decisions of applicant/[0-9a-f]{64} \(0 shadow scores, 1 outcomes\)" "$T/out"
check "a decision after the erasure" 200 "$(score o-3 cust-9000-aa '{"age":61,"home":"rent"}')"
check "the key's bytes are in neither the database nor its WAL" 0 "$(hits "$APPLICANT" "$D/riskd.db" "$D/riskd.db-wal")"
stop
check "... nor after the server stopped" 0 "$(hits "$APPLICANT" "$D/riskd.db" "$D/riskd.db-wal")"
"$BIN" log export --data-dir "$D" --token-file "$T/mia.token" >"$T/after.jsonl"
check "the applicant's decisions are gone" 0 "$(grep -c '"request_id":"p-' "$T/after.jsonl")"
check "the other applicant's are kept" 3 "$(grep -c 'cust-9000-aa' "$T/after.jsonl")"
$PY - "$D/riskd.db" "$APPLICANT" >"$T/db.txt" <<'P'
import hashlib, json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print("outcomes", " ".join(r[0] for r in c.execute("SELECT request_id FROM outcomes ORDER BY request_id")))
rows = c.execute("SELECT actor, object, detail FROM audit WHERE action = 'decisions.erase'").fetchall()
print("entries", len(rows))
want = "applicant/" + hashlib.sha256(sys.argv[2].encode()).hexdigest()
for actor, obj, detail in rows:
    d = json.loads(detail)
    print("entry", actor, obj == want, d["count"], d["reason"], d["floor_days"])
print("floor", c.execute("SELECT count(*) FROM audit WHERE action = 'settings.retention_floor'").fetchone()[0])
print("key_in_audit", sum(sys.argv[2] in " ".join(map(str, r)) for r in c.execute("SELECT * FROM audit")))
P
check "the applicant's outcome is gone, the other's kept" 0 $? "^outcomes o-1$" "$T/db.txt"
check "one audit entry, by the manager, naming the applicant by SHA-256, with the reason" 0 $? \
    "^entry mia True 2 GDPR art. 17 0$" "$T/db.txt"
grep -q '^entries 1$' "$T/db.txt"; check "... only one" 0 $?
grep -q '^floor 1$' "$T/db.txt"; check "the floor's change is audited" 0 $?
grep -q '^key_in_audit 0$' "$T/db.txt"; check "the audit holds no targetingKey" 0 $?
"$BIN" log erase --targeting-key $APPLICANT --data-dir "$D" --token-file "$T/mia.token" >"$T/out" 2>&1
check "erasing again: nothing to erase" 1 $? "no decision" "$T/out"
"$BIN" audit verify --data-dir "$D" >"$T/out" 2>&1
check "the audit chain is intact after the erasure" 0 $? "^audit chain intact" "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
