#!/usr/bin/env python3
"""An independent verifier of riskd's audit chain, written from docs/governance.md ("The audit
chain") alone, with the standard library only: what a regulator's script would do.

    riskd audit export --data-dir DIR --format jsonl | python3 audit_verify.py [--anchor FILE] [-]

reads the entries (one JSON object per line, oldest first), recomputes every hash

    hash = SHA-256( prev_hash || JCS({action, actor, after_sha256, before_sha256, detail,
                                      object, seq, time}) )

and prints what `riskd audit verify` prints: "audit chain intact: N entries, head seq S hash H"
(exit 0) or "audit chain broken at seq N: PROBLEM" (exit 5); 1 for input that is not an export.
The integration test (tests/integration/12-audit.sh) checks that both agree, which is what
proves the recipe is documented correctly. The first bad seq follows the same rules as riskd's
(docs/governance.md, "What verify reports").
"""
import argparse
import decimal
import hashlib
import json
import sys

ZERO = "0" * 64


def es_number(x):
    """A number as ECMAScript's Number#toString writes it (RFC 8785, section 3.2.2.3)."""
    x = float(x)  # JSON numbers are doubles for JCS, integers too
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("JSON has no NaN or infinity")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + es_number(-x)
    _, digits, exp = decimal.Decimal(repr(x)).as_tuple()  # repr: the shortest round-trip digits
    s = "".join(map(str, digits)).rstrip("0")
    exp += len(digits) - len(s)
    k, n = len(s), exp + len(s)  # s * 10^(n-k)
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + s
    e = n - 1
    return (s if k == 1 else s[0] + "." + s[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def jcs(v):
    """RFC 8785 canonical JSON: members sorted by the UTF-16 code units of their keys, no white
    space, strings with only the quote, the backslash and the control characters escaped."""
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return es_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jcs(i) for i in v) + "]"
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(x) for k, x in items) + "}"
    raise TypeError(type(v))


def entry_hash(e, seq=None):
    """The hash of entry e, its content taken as seq (default: its own)."""
    body = {k: e[k] for k in ("action", "actor", "after_sha256", "before_sha256", "detail", "object", "time")}
    body["seq"] = e["seq"] if seq is None else seq
    return hashlib.sha256((e["prev_hash"] + jcs(body)).encode("utf-8")).hexdigest()


def content_ok(e):
    """What riskd checks before hashing: a detail object, a time, a hash of the right length."""
    return isinstance(e["detail"], dict) and e["time"] != "" and len(e["hash"]) == 64


def first_bad(entries, anchor=None):
    """(first bad seq or 0, problem, entries walked, head seq, head hash) by riskd's rules."""
    expect, prev1, prev2 = 1, ZERO, ZERO  # prev1, prev2: the stored hashes of the last two entries
    head, walked = (0, ZERO), 0
    moved = None  # (seq, its prev_hash): an entry hashed as seq + 1, judged by the next one
    for e in entries:
        walked += 1
        if moved:
            if e["hash"] == moved[1]:
                return moved[0], "seqs %d and %d are swapped (reordered)" % (moved[0], moved[0] + 1), walked, head
            return moved[0], "seq %d is missing (deleted), the rest renumbered" % moved[0], walked, head
        s = e["seq"]
        if s < expect:
            return 1, "seq %d comes before seq 1 (inserted)" % s, walked, head
        ok = content_ok(e)
        if s > expect:
            if ok and e["prev_hash"] == prev1 and entry_hash(e, expect) == e["hash"]:
                return expect, "seq %d: renumbered to seq %d (edited)" % (expect, s), walked, head
            return expect, "seq %d is missing (deleted)" % expect, walked, head
        if not ok:
            return s, "seq %d: its detail, time or hash is not what riskd writes (edited)" % s, walked, head
        if entry_hash(e) != e["hash"]:
            if entry_hash(e, s + 1) == e["hash"]:
                moved = (s, e["prev_hash"])
                continue
            if s > 1 and e["hash"] == prev1:
                return s, "seq %d is a copy of seq %d (inserted)" % (s, s - 1), walked, head
            if s > 1 and entry_hash(e, s - 1) == e["hash"]:
                what = "inserted" if e["prev_hash"] == prev2 else "reordered"
                return s - 1, "seq %d (%s)" % (s - 1, what), walked, head
            return s, "seq %d: its hash does not match its content (edited)" % s, walked, head
        if e["prev_hash"] != prev1:
            if s == 1:
                return 1, "seq 1: its prev_hash is not 64 zeros (deleted)", walked, head
            return s - 1, "seq %d does not link to seq %d (inserted)" % (s, s - 1), walked, head
        if anchor and s == anchor[0] and e["hash"] != anchor[1]:
            return s, "seq %d: its hash differs from the anchor's" % s, walked, head
        prev2, prev1 = prev1, e["hash"]
        expect, head = s + 1, (s, e["hash"])
    if moved:
        return moved[0], "seq %d is missing (deleted), the rest renumbered" % moved[0], walked, head
    if anchor and anchor[0] > head[0]:
        return head[0] + 1, "truncated: the anchor's seq %d is missing" % anchor[0], walked, head
    return 0, "", walked, head


def read_entries(f):
    for no, line in enumerate(f, 1):
        if not line.strip():
            continue
        e = json.loads(line)
        want = {"action", "actor", "after_sha256", "before_sha256", "detail", "hash", "object", "prev_hash",
                "seq", "time"}
        if not isinstance(e, dict) or set(e) != want or not isinstance(e["seq"], int):
            raise ValueError("line %d: not an audit entry" % no)
        yield e


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default="-", help="the export (default: stdin)")
    ap.add_argument("--anchor", help='a head kept elsewhere: {"seq": N, "hash": "..."}')
    a = ap.parse_args()
    anchor = None
    try:
        if a.anchor:
            with open(a.anchor) as f:
                j = json.load(f)
            anchor = (j["seq"], j["hash"])
        f = sys.stdin if a.file == "-" else open(a.file, encoding="utf-8")
        bad, problem, n, (seq, h) = first_bad(read_entries(f), anchor)
    except (ValueError, KeyError, TypeError) as ex:
        print("audit_verify: %s" % ex, file=sys.stderr)
        return 1
    if bad:
        print("audit chain broken at seq %d: %s" % (bad, problem))
        return 5
    print("audit chain intact: %d entries, head seq %d hash %s" % (n, seq, h))
    return 0


if __name__ == "__main__":
    sys.exit(main())
