#!/usr/bin/python3
"""Check what notify_receiver.py logged (tests/integration/29-notify.sh, scripts/notify-drill.sh).

  notify_check.py LOG [--path P] [--secret F] [--other-secret G] [--expect-types T1,T2,...]
                  [--unique] [--expect-ids N] [--forbid STR]... [--forbid-file F]...
  notify_check.py --self-test

LOG is the receiver's JSON lines. --path P looks at the requests to P only (the query string is
not part of it); without it, at every request. Checks:

  shape       always, by the path's sink kind: /hook* the webhook envelope (keys id, type,
              version, time, node, object, summary, data; X-Riskd-Event, X-Riskd-Event-Id and
              Idempotency-Key agree with it); /slack* text and blocks; /wecom* msgtype markdown,
              markdown.content at most 4096 bytes of UTF-8; .../api/v2/alerts a non-empty JSON
              array of alerts with labels.alertname, startsAt and endsAt (RFC 3339). Every kind:
              X-Riskd-Event and X-Riskd-Event-Id present, Idempotency-Key equal to the id,
              Content-Type JSON. Other paths: no shape check.
  --secret F  every webhook request carries X-Riskd-Signature = "sha256=" + hex HMAC-SHA256 of
              the body under F's content (less one trailing newline), compared in constant time
  --other-secret G   and none verifies under G
  --expect-types     the types (X-Riskd-Event) of the distinct event ids, in the order each id
              first arrived, are exactly this list
  --unique    prints "ids: N unique, M deliveries" and each id delivered more than once
              (duplicates are allowed: delivery is at least once)
  --expect-ids N     exactly N distinct event ids
  --forbid STR, --forbid-file F (its content less trailing whitespace)
              none of these appears in any body or logged header: not as bytes, not inside a
              JSON string once unescaped, not base64-encoded (standard or URL-safe alphabet, at
              any alignment; for strings of 6 bytes or more)

Exit 0 when every check passes; 1 with one line per failure; 2 for wrong arguments.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import tempfile

ENVELOPE_KEYS = ("id", "type", "version", "time", "node", "object", "summary", "data")
WECOM_MAX_BYTES = 4096
BASE64_MIN_LEN = 6  # shorter strings have base64 forms too short to mean anything


def kind_of(path):
    """The sink kind a receiver path stands for, or None."""
    if path.endswith("/api/v2/alerts"):
        return "alertmanager"
    for prefix, kind in (("/hook", "webhook"), ("/slack", "slack"), ("/wecom", "wecom")):
        if path.startswith(prefix):
            return kind
    return None


def header(entry, name):
    """A logged header's value by name (case-insensitive), or None."""
    for k, v in entry.get("headers", {}).items():
        if k.lower() == name.lower():
            return v
    return None


def read_secret(path):
    """The key as riskd reads a secret_file: the content less one trailing \\n or \\r\\n."""
    with open(path, "rb") as f:
        key = f.read()
    if key.endswith(b"\r\n"):
        return key[:-2]
    return key[:-1] if key.endswith(b"\n") else key


def signature(key, body):
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def rfc3339(s):
    """Whether s is an RFC 3339 time with a zone (Alertmanager's startsAt/endsAt)."""
    if not isinstance(s, str) or "T" not in s:
        return False
    try:
        t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return False
    return t.tzinfo is not None


def check_webhook(doc, entry, say):
    if not isinstance(doc, dict):
        return say("not a JSON object")
    missing = [k for k in ENVELOPE_KEYS if k not in doc]
    if missing:
        say("envelope lacks %s" % ", ".join(missing))
    if "object" in doc and not (isinstance(doc["object"], dict) and "kind" in doc["object"] and "id" in doc["object"]):
        say("envelope object is not {kind, id}")
    if "data" in doc and not isinstance(doc["data"], dict):
        say("envelope data is not an object")
    if "id" in doc and header(entry, "X-Riskd-Event-Id") != doc["id"]:
        say("X-Riskd-Event-Id %r is not the envelope's id %r" % (header(entry, "X-Riskd-Event-Id"), doc["id"]))
    if "type" in doc and header(entry, "X-Riskd-Event") != doc["type"]:
        say("X-Riskd-Event %r is not the envelope's type %r" % (header(entry, "X-Riskd-Event"), doc["type"]))


def check_slack(doc, entry, say):
    if not isinstance(doc, dict):
        return say("not a JSON object")
    if not isinstance(doc.get("text"), str) or not doc["text"]:
        say("slack payload has no text")
    if not isinstance(doc.get("blocks"), list) or not doc["blocks"]:
        say("slack payload has no blocks")


def check_wecom(doc, entry, say):
    if not isinstance(doc, dict):
        return say("not a JSON object")
    if doc.get("msgtype") != "markdown":
        say("wecom msgtype is %r, not markdown" % doc.get("msgtype"))
    md = doc.get("markdown")
    content = md.get("content") if isinstance(md, dict) else None
    if not isinstance(content, str) or not content:
        return say("wecom payload has no markdown.content")
    n = len(content.encode("utf-8"))
    if n > WECOM_MAX_BYTES:
        say("wecom markdown.content is %d bytes (at most %d)" % (n, WECOM_MAX_BYTES))


def check_alertmanager(doc, entry, say):
    if not isinstance(doc, list) or not doc:
        return say("not a non-empty JSON array of alerts")
    for i, a in enumerate(doc):
        if not isinstance(a, dict):
            say("alert %d is not an object" % i)
            continue
        labels = a.get("labels")
        if not isinstance(labels, dict) or not isinstance(labels.get("alertname"), str) or not labels["alertname"]:
            say("alert %d has no labels.alertname" % i)
        for k in ("startsAt", "endsAt"):
            if not rfc3339(a.get(k)):
                say("alert %d: %s is %r, not an RFC 3339 time" % (i, k, a.get(k)))


SHAPES = {"webhook": check_webhook, "slack": check_slack, "wecom": check_wecom, "alertmanager": check_alertmanager}


def check_shape(entry, body, say):
    """The checks every request to a sink path gets, then its kind's payload shape."""
    kind = kind_of(entry["path"])
    if kind is None:
        return
    eid = header(entry, "X-Riskd-Event-Id")
    if not eid:
        say("no X-Riskd-Event-Id")
    elif header(entry, "Idempotency-Key") != eid:
        say("Idempotency-Key %r is not the event id %r" % (header(entry, "Idempotency-Key"), eid))
    if not header(entry, "X-Riskd-Event"):
        say("no X-Riskd-Event")
    if not (header(entry, "Content-Type") or "").startswith("application/json"):
        say("Content-Type is %r" % header(entry, "Content-Type"))
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return say("the body is not JSON (%s)" % e)
    SHAPES[kind](doc, entry, say)


def base64_forms(needle):
    """The base64 text any encoding of a byte string containing needle must contain: at each of
    the three alignments, the characters that needle's bytes alone decide, in both alphabets."""
    if len(needle) < BASE64_MIN_LEN:
        return set()
    forms = set()
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + needle).rstrip(b"=")
        head = (8 * k + 5) // 6  # characters that hold a bit of the prefix
        tail = 1 if (8 * (k + len(needle))) % 6 else 0  # the last one, when it holds padding bits
        core = enc[head:len(enc) - tail]
        forms.add(core)
        forms.add(core.replace(b"+", b"-").replace(b"/", b"_"))
    return forms


def json_strings(doc):
    """Every string (keys too) in a parsed JSON document, iteratively."""
    out, todo = [], [doc]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            out.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return out


def check_forbidden(entry, body, needles, say):
    texts = [body] + [("%s: %s" % kv).encode() for kv in entry.get("headers", {}).items()]
    try:
        texts += [s.encode("utf-8") for s in json_strings(json.loads(body.decode("utf-8")))]
    except (UnicodeDecodeError, ValueError):
        pass
    for label, needle in needles:
        if any(needle in t for t in texts):
            say("holds %s" % label)
        elif any(f in t for f in base64_forms(needle) for t in texts):
            say("holds %s, base64-encoded" % label)


def first_arrivals(entries):
    """(id, type) of each distinct event id, in the order each first arrived."""
    seen, out = set(), []
    for e in entries:
        eid = header(e, "X-Riskd-Event-Id")
        if eid is not None and eid not in seen:
            seen.add(eid)
            out.append((eid, header(e, "X-Riskd-Event")))
    return out


def load(log):
    entries = []
    with open(log, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
                e["_body"] = base64.b64decode(e.get("body_b64", ""), validate=True)
                e["_line"] = n
            except ValueError as err:
                raise SystemExit("notify_check: %s line %d: not a receiver log line (%s)" % (log, n, err))
            entries.append(e)
    return entries


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="notify_check.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("log", nargs="?", help="the receiver's log (JSON lines)")
    ap.add_argument("--path", help="look at the requests to this path only")
    ap.add_argument("--secret", help="file: every webhook signature verifies with it")
    ap.add_argument("--other-secret", help="file: no webhook signature verifies with it")
    ap.add_argument("--expect-types", help="comma-separated types of the distinct ids, in arrival order")
    ap.add_argument("--unique", action="store_true", help="count distinct ids and deliveries")
    ap.add_argument("--expect-ids", type=int, help="exactly this many distinct ids")
    ap.add_argument("--count", action="store_true", help="print the number of distinct ids alone and exit")
    ap.add_argument("--forbid", action="append", default=[], metavar="STR", help="must appear nowhere")
    ap.add_argument("--forbid-file", action="append", default=[], metavar="F", help="its content must appear nowhere")
    ap.add_argument("--self-test", action="store_true", help="check this checker and exit")
    a = ap.parse_args(argv)
    if not a.self_test and not a.log:
        ap.error("LOG is required")
    return a


def run(argv, out=sys.stdout):
    """The checks; returns the exit code and prints one line per failure."""
    a = parse_args(argv)
    entries = load(a.log)
    if a.path is not None:
        entries = [e for e in entries if e.get("path") == a.path]
    failures = []
    if a.count:
        print(len(first_arrivals(entries)), file=out)
        return 0

    def sayer(e):
        return lambda msg: failures.append("%s line %d (%s): %s" % (a.log, e["_line"], e.get("path"), msg))

    needles = [("forbidden string #%d" % (i + 1), s.encode("utf-8")) for i, s in enumerate(a.forbid)]
    for f in a.forbid_file:
        with open(f, "rb") as fh:
            content = fh.read().rstrip()
        if content:
            needles.append(("the content of %s" % f, content))
    key = read_secret(a.secret) if a.secret else None
    other = read_secret(a.other_secret) if a.other_secret else None

    for e in entries:
        say, body = sayer(e), e["_body"]
        check_shape(e, body, say)
        if needles:
            check_forbidden(e, body, needles, say)
        if kind_of(e["path"]) == "webhook" and (key is not None or other is not None):
            sig = header(e, "X-Riskd-Signature")
            if sig is None:
                say("no X-Riskd-Signature")
            else:
                if key is not None and not hmac.compare_digest(signature(key, body).encode(), sig.encode()):
                    say("X-Riskd-Signature does not verify with %s" % a.secret)
                if other is not None and hmac.compare_digest(signature(other, body).encode(), sig.encode()):
                    say("X-Riskd-Signature verifies with the other secret %s too" % a.other_secret)

    where = "to %s" % a.path if a.path is not None else "in all"
    arrivals = first_arrivals(entries)
    if a.expect_types is not None:
        want = [t for t in a.expect_types.split(",") if t]
        got = [t for _, t in arrivals]
        if got != want:
            failures.append("%s: event types %s, in order of first arrival: %s; expected %s"
                            % (a.log, where, ",".join(map(str, got)) or "(none)", ",".join(want) or "(none)"))
    if a.expect_ids is not None and len(arrivals) != a.expect_ids:
        failures.append("%s: %d distinct event ids %s; expected %d" % (a.log, len(arrivals), where, a.expect_ids))
    if a.unique:
        counts = {}
        for e in entries:
            eid = header(e, "X-Riskd-Event-Id")
            if eid is not None:
                counts[eid] = counts.get(eid, 0) + 1
        print("ids: %d unique, %d deliveries" % (len(counts), sum(counts.values())), file=out)
        for eid, n in counts.items():
            if n > 1:
                print("  %s delivered %d times" % (eid, n), file=out)

    for f in failures:
        print("FAIL " + f, file=out)
    if not failures:
        print("ok: %d requests checked %s" % (len(entries), where), file=out)
    return 1 if failures else 0


# ------------------------------------------------------------------ self-test


def self_test():
    """Logs of sample payloads in a temporary directory, checked for passes and failures."""
    import io

    # The HMAC against RFC 4231 test case 2, an independent reference.
    assert hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest() == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    # base64_forms finds a needle at every alignment and in both alphabets.
    needle = b"rdk_0123456789ab_secret?>>"
    for k in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(b"x" * k + needle + b"tail")
            assert any(f in text for f in base64_forms(needle)), (k, enc)
    assert not any(f in base64.b64encode(b"harmless text here") for f in base64_forms(needle))

    d = tempfile.mkdtemp(prefix="notify_check.")
    results = []

    def write(name, content):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
        return p

    secret = write("hook.key", "s3cret-hook-key\n")
    other = write("other.key", "another-key\n")
    key = b"s3cret-hook-key"

    def envelope(i, typ, **extra):
        doc = {"id": "0193a4c2-0000-7000-8000-%012d" % i, "type": typ, "version": 1,
               "time": "2026-12-07T05:00:0%d.123Z" % i, "node": "n1", "actor": "alice",
               "object": {"kind": "change", "id": str(i)}, "summary": "alice did %d" % i, "data": {"n": i}}
        doc.update(extra)
        return doc

    def req(path, doc, sign_with=None, body=None, **hdrs):
        body = body if body is not None else json.dumps(doc, separators=(",", ":")).encode()
        eid = hdrs.pop("eid", doc["id"] if isinstance(doc, dict) and "id" in doc else "0193a4c2-0000-7000-8000-000000000001")
        typ = hdrs.pop("typ", doc["type"] if isinstance(doc, dict) and "type" in doc else "change.proposed")
        h = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "riskd/test",
             "X-Riskd-Event": typ, "X-Riskd-Event-Id": eid, "Idempotency-Key": eid}
        h.update(hdrs)
        if sign_with is not None:
            h["X-Riskd-Signature"] = signature(sign_with, body)
        return {"time": "2026-12-07T05:00:00.000Z", "method": "POST", "path": path, "query": "",
                "headers": h, "body_b64": base64.b64encode(body).decode(), "status": 200}

    def log(name, reqs):
        return write(name, "".join(json.dumps(r) + "\n" for r in reqs))

    e1, e2, e3 = envelope(1, "change.proposed"), envelope(2, "change.approved"), envelope(3, "change.published")
    slack = {"text": "[riskd] alice did 1", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]}
    wecom = {"msgtype": "markdown", "markdown": {"content": "**[riskd] 提案** alice did 1"}}
    am = [{"labels": {"alertname": "RiskdBreakerOpen", "node": "n1"}, "annotations": {"summary": "x"},
           "startsAt": "2026-12-07T03:12:45.123Z", "endsAt": "2026-12-07T04:12:45.123Z"}]
    good = log("good.log", [
        req("/hook", e1, key), req("/slack", slack, eid=e1["id"], typ=e1["type"]),
        req("/hook", e2, key), req("/hook", e1, key),  # a duplicate of e1: allowed
        req("/wecom", wecom, eid=e1["id"], typ=e1["type"]),
        req("/am/api/v2/alerts", am, eid=e3["id"], typ="breaker.opened"), req("/hook", e3, key),
        req("/other", None, body=b"not json at all"),  # unknown path: no shape check
    ])

    def expect(name, code, argv, contains=None):
        buf = io.StringIO()
        got = run(argv, out=buf)
        text = buf.getvalue()
        ok = got == code and (contains is None or contains in text)
        results.append(ok)
        print("%s %s (exit %d%s)" % ("ok  " if ok else "FAIL", name, got, "" if ok else ": " + text.strip()))

    expect("a good log passes every check", 0,
           [good, "--secret", secret, "--other-secret", other, "--forbid", "rdk_0123456789ab_zzzz",
            "--forbid-file", other])
    expect("order of first arrivals per path", 0,
           [good, "--path", "/hook", "--expect-types", "change.proposed,change.approved,change.published",
            "--expect-ids", "3"])
    expect("duplicates are counted, not failed", 0, [good, "--path", "/hook", "--unique"],
           "ids: 3 unique, 4 deliveries")
    expect("a wrong order fails", 1,
           [good, "--path", "/hook", "--expect-types", "change.approved,change.proposed,change.published"],
           "expected change.approved")
    expect("a missing type fails", 1, [good, "--path", "/hook", "--expect-types", "change.proposed,change.approved"])
    expect("a wrong id count fails", 1, [good, "--path", "/slack", "--expect-ids", "2"])
    expect("no requests to a path fails a list of types", 1,
           [good, "--path", "/nowhere", "--expect-types", "change.proposed"], "(none); expected change.proposed")
    expect("no requests to a path is zero ids", 0, [good, "--path", "/nowhere", "--expect-ids", "0",
                                                     "--expect-types", ""])
    expect("the other secret must not verify", 1, [good, "--other-secret", secret], "verifies with the other secret")
    expect("the wrong secret does not verify", 1, [good, "--secret", other], "does not verify")
    crlf = write("crlf.key", "s3cret-hook-key\r\n")
    expect("a secret file ending in CRLF gives the same key", 0, [good, "--path", "/hook", "--secret", crlf])

    cases = {
        "a tampered signed body fails": (
            [req("/hook", e1, body=json.dumps(e1).encode(), **{"X-Riskd-Signature": signature(key, b"{}")})],
            ["--secret", secret], "does not verify"),
        "an unsigned webhook fails with --secret": ([req("/hook", e1)], ["--secret", secret], "no X-Riskd-Signature"),
        "an envelope without data fails": (
            [req("/hook", {k: v for k, v in e1.items() if k != "data"})], [], "envelope lacks data"),
        "a header naming another id fails": ([req("/hook", e1, eid=e2["id"])], [], "is not the envelope's id"),
        "an Idempotency-Key other than the id fails": (
            [req("/hook", e1, **{"Idempotency-Key": "x"})], [], "Idempotency-Key"),
        "slack without blocks fails": ([req("/slack", {"text": "x"})], [], "no blocks"),
        "wecom of another msgtype fails": ([req("/wecom", {"msgtype": "text", "text": {"content": "x"}})], [],
                                           "not markdown"),
        "wecom content over 4096 bytes fails": (
            [req("/wecom", {"msgtype": "markdown", "markdown": {"content": "字" * 1366}})], [], "4098 bytes"),
        "alertmanager without endsAt fails": (
            [req("/am/api/v2/alerts", [{"labels": {"alertname": "X"}, "startsAt": "2026-12-07T03:12:45Z"}])], [],
            "endsAt"),
        "alertmanager as an object fails": ([req("/am/api/v2/alerts", {"labels": {}})], [], "array"),
        "a non-JSON body to a sink path fails": ([req("/slack", None, body=b"<html>")], [], "not JSON"),
        "a forbidden string fails": (
            [req("/hook", envelope(1, "change.proposed", summary="token rdk_0123456789ab_zzzz leaked"))],
            ["--forbid", "rdk_0123456789ab_zzzz"], "forbidden string #1"),
        "a forbidden string JSON-escaped fails": (
            [req("/hook", e1, body=b'{"summary":"a\\/b\\u0041CME-secret"}')], ["--forbid", "a/bACME-secret"],
            "forbidden string #1"),
        "a forbidden string base64-encoded fails": (
            [req("/hook", envelope(1, "change.proposed",
                                   data={"blob": base64.b64encode(b"xx" + b"rdk_0123456789ab_zzzz").decode()}))],
            ["--forbid", "rdk_0123456789ab_zzzz"], "base64-encoded"),
        "a forbidden file's content fails": (
            [req("/hook", envelope(1, "change.proposed", summary="key another-key here"))],
            ["--forbid-file", other], "the content of"),
        "a forbidden string in a header fails": (
            [req("/hook", e1, **{"User-Agent": "riskd rdk_0123456789ab_zzzz"})], ["--forbid", "rdk_0123456789ab_zzzz"],
            "forbidden string"),
    }
    for i, (name, (reqs, args, contains)) in enumerate(cases.items()):
        expect(name, 1, [log("case%d.log" % i, reqs)] + args, contains)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)
    failed = results.count(False)
    print("self-test: %d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


def main(argv):
    a = parse_args(argv)
    if a.self_test:
        return self_test()
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
