#!/usr/bin/env python3
"""A stream of credit applications for riskd serve, over HTTP (POST /v1/score/batch).

Rows are drawn from a credit CSV (the example data set by default) with applicant ids as
targeting keys, at a steady rate of decisions per second, in batches on one keep-alive
connection, until a duration passes or a stop file appears. Used by the rollout simulation
(tests/integration/09-rollout.sh) and the drill (scripts/rollout-drill.sh).

    traffic.py URL --rate 800 --seconds 30 [--keys random|pool:K1,K2,...] [--stop FILE]

Prints one JSON line at the end: {"sent", "answered", "errors", "first_ms", "last_ms"}.
"""
import argparse
import csv
import http.client
import json
import os
import random
import sys
import time
import urllib.parse

NUMERIC = {"Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"}


def load_rows(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            feats = {}
            for k, v in r.items():
                if k == "Status":
                    continue
                if v == "":
                    feats[k] = None
                elif k in NUMERIC:
                    feats[k] = float(v)
                else:
                    feats[k] = v
            rows.append(feats)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../examples/data/credit_data.csv"))
    ap.add_argument("--rate", type=float, default=500, help="decisions per second")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--stop", help="stop when this file exists")
    ap.add_argument("--keys", default="random", help="random, or pool:K1,K2,... (a skewed population)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--prefix", default="sim")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rows = load_rows(a.data)
    pool = a.keys[5:].split(",") if a.keys.startswith("pool:") else None
    u = urllib.parse.urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    sent = answered = errors = 0
    first = last = None
    t0 = time.monotonic()
    n = 0
    while True:
        now = time.monotonic()
        if now - t0 >= a.seconds or (a.stop and os.path.exists(a.stop)):
            break
        due = (now - t0) * a.rate  # decisions that should have been sent by now
        if sent >= due:
            time.sleep(min(0.01, (sent - due + 1) / a.rate))
            continue
        items = []
        for _ in range(a.batch):
            n += 1
            key = rng.choice(pool) if pool else "app-%d" % rng.randrange(10_000_000)
            items.append({"request_id": "%s-%d" % (a.prefix, n),
                          "context": {"targetingKey": key, "segment": "retail", "channel": "web"},
                          "features": rng.choice(rows)})
        body = json.dumps(items)
        ms = int(time.time() * 1000)
        if first is None:
            first = ms
        try:
            conn.request("POST", "/v1/score/batch", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status == 200:
                out = json.loads(data)
                res = out.get("results", out) if isinstance(out, dict) else out
                answered += sum(1 for r in res if isinstance(r, dict) and "error" not in r)
                errors += sum(1 for r in res if isinstance(r, dict) and "error" in r)
            else:
                errors += len(items)
        except (OSError, http.client.HTTPException):
            errors += len(items)
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        sent += len(items)
        last = ms
    print(json.dumps({"sent": sent, "answered": answered, "errors": errors, "first_ms": first, "last_ms": last}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
