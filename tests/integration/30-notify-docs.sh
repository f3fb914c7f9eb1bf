#!/usr/bin/env bash
# shellcheck disable=SC2016 # the sed and awk programs mean their $ and backquotes literally
# The notification docs against the code: docs/notifications-examples.md is what the test tool
# build/<mode>/tests/tools/notify_examples prints (one event of every type through the real
# formatters; regenerate with `build/release/tests/tools/notify_examples >
# docs/notifications-examples.md`), and every type it knows has its row in the catalogue table
# of docs/notifications.md, which lists no type the code does not raise. Python checks what the
# tool printed on its own terms: every JSON body parses and is laid out as json.dumps(indent=2)
# lays it out, every webhook signature is the HMAC-SHA256 (Python's hmac) of the compact body
# under the documented secret, the byte-for-byte example included, and every Alertmanager alert's
# name is one the documented route (alertname=~"Riskd.*") takes.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DOC=$ROOT/docs/notifications-examples.md
GUIDE=$ROOT/docs/notifications.md
TOOL=$(dirname "$BIN")/tests/tools/notify_examples
[ -x "$TOOL" ] || TOOL=build/release/tests/tools/notify_examples
[ -x "$TOOL" ] || { echo "$TOOL missing (make builds it)"; exit 1; }

# ---- the examples file is the tool's output
"$TOOL" >"$T/examples.md" 2>"$T/err"
check "notify_examples prints every type's example" 0 $? "^## notify.test$" "$T/examples.md"
diff -u "$DOC" "$T/examples.md" >"$T/diff" 2>&1
check "docs/notifications-examples.md is the tool's output (regenerate it: $TOOL > docs/notifications-examples.md)" 0 $?
[ -s "$T/diff" ] && head -40 "$T/diff"
"$TOOL" --bogus >"$T/out" 2>&1
check "notify_examples: a usage error" 2 $? "usage: notify_examples" "$T/out"

# ---- the catalogue table of docs/notifications.md: every type, and only types the code has
"$TOOL" --types >"$T/types" 2>&1
check "notify_examples --types" 0 $? "^change.proposed$" "$T/types"
# the rows between the table's header ("| type | when raised ...") and the next blank line
awk '/^\| type \| when raised/ {on = 1; next} on && /^$/ {exit} on' "$GUIDE" |
    sed -n 's/^| `\([a-z_.]*\)` |.*/\1/p' >"$T/table"
missing=$(grep -vxFf "$T/table" "$T/types" | tr '\n' ' ')
[ -z "$missing" ]
check "every type is in docs/notifications.md's catalogue table${missing:+ (missing: $missing)}" 0 $?
stale=$(grep -vxFf "$T/types" "$T/table" | tr '\n' ' ')
[ -z "$stale" ] && [ -s "$T/table" ]
check "the catalogue table lists no type the code lacks${stale:+ (stale: $stale)}" 0 $?
[ "$(wc -l <"$T/types")" = "$(grep -c '^## [a-z_]*\.[a-z_]*$' "$DOC")" ]
check "the examples file has a section for every type" 0 $?

# ---- the examples on Python's terms
$PY - "$DOC" >"$T/py" 2>&1 <<'P'
import hashlib, hmac, json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
secret = re.search(r"hook\.key holds (\S+)", text).group(1).encode()
problems = []
bodies = 0
for b in re.findall(r"```json\n(.*?)\n```", text, re.S):
    bodies += 1
    v = json.loads(b)
    if json.dumps(v, indent=2, ensure_ascii=False) != b:
        problems.append("not json.dumps(indent=2) layout: " + b[:80])
sigs = 0
for sec in re.split(r"\n(?=### )", text):
    if not sec.startswith("### Webhook"):
        continue
    sig = re.search(r"X-Riskd-Signature: (sha256=[0-9a-f]{64})", sec).group(1)
    body = json.loads(re.search(r"```json\n(.*?)\n```", sec, re.S).group(1))
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    want = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
    sigs += 1
    if not hmac.compare_digest(sig, want):
        problems.append("signature of %s: %s, Python's hmac says %s" % (body["type"], sig, want))
last = text[text.index("## The signature, byte for byte"):]
raw = re.search(r"```text\n(.*?)\n```", last, re.S).group(1).encode()
sig = re.search(r"X-Riskd-Signature: (sha256=[0-9a-f]{64})", last).group(1)
if sig != "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest():
    problems.append("the byte-for-byte signature does not verify")
names = set()
for sec in re.split(r"\n(?=### )", text):
    if sec.startswith("### Alertmanager"):
        for alert in json.loads(re.search(r"```json\n(.*?)\n```", sec, re.S).group(1)):
            names.add(alert["labels"]["alertname"])
if not names or any(not n.startswith("Riskd") for n in names):
    problems.append("alert names outside Riskd.*: %s" % sorted(names))
print("\n".join(problems) or "ok: %d bodies, %d webhook signatures, %d alert names" % (bodies, sigs, len(names)))
P
check "the examples: JSON laid out as Python does, signatures Python's hmac verifies, alert names Riskd*" 0 $? \
    "^ok: [0-9]+ bodies, 25 webhook signatures" "$T/py"

# ---- the receiver snippets of docs/notifications.md ("Verifying the webhook signature"), run
# against the byte-for-byte example: the right key verifies, another key and no header do not
sed -n '/^## The signature, byte for byte/,$p' "$DOC" | sed -n '/^```text$/,/^```$/p' | sed '1d;$d' |
    tr -d '\n' >"$T/body"
sed -n 's/^X-Riskd-Signature: //p' "$DOC" | tail -1 >"$T/sig"
printf 'riskd-example-secret\n' >"$T/hook.key"
snippet() { # LANG: the first block fenced as LANG in that section of the guide
    awk -v lang="$1" '/^### Verifying the webhook signature/ {on = 1; next} on && /^##/ {exit}
        on && $0 == "```" lang {code = 1; next} code && /^```$/ {exit} code' "$GUIDE"
}
snippet python >"$T/verify.py"
cat >>"$T/verify.py" <<'PY'

import sys
body = open(sys.argv[1], "rb").read()
sig = open(sys.argv[2]).read().strip()
key = secret_key(sys.argv[3])
print(verify(body, sig, key), verify(body, sig, b"another secret"), verify(body, None, key))
PY
$PY "$T/verify.py" "$T/body" "$T/sig" "$T/hook.key" >"$T/out" 2>&1
check "the Python snippet verifies the example's signature and refuses another key" 0 $? "^True False False$" "$T/out"
if command -v node >/dev/null; then
    snippet js >"$T/verify.js"
    cat >>"$T/verify.js" <<'JS'

const fs = require("node:fs");
const [body, sig] = [fs.readFileSync(process.argv[2]), fs.readFileSync(process.argv[3], "utf8").trim()];
const key = Buffer.from("riskd-example-secret");
console.log(verify(body, sig, key), verify(body, sig, Buffer.from("another secret")), verify(body, undefined, key));
JS
    node "$T/verify.js" "$T/body" "$T/sig" >"$T/out" 2>&1
    check "the Node.js snippet verifies the example's signature and refuses another key" 0 $? \
        "^true false false$" "$T/out"
else
    echo "skip: node missing (scripts/deps.sh installs it): the Node.js snippet is not run"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
