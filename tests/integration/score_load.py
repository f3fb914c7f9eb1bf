#!/usr/bin/env python3
"""Steady /v1/score traffic that records every answer, for the rollback drill.

Each of --threads threads holds one keep-alive connection and sends single applications
(the example credit rows, random targeting keys) back to back until the stop file appears.
Every answer is one line of the log: send_ns recv_ns status model_version (wall clock, ns).

    score_load.py URL LOG --stop FILE [--threads 2] [--data examples/data/credit_data.csv] [--prefix d]

Request ids are PREFIX<thread>-<n>: a second run on the same node takes another prefix.
"""
import argparse
import csv
import http.client
import json
import os
import random
import threading
import time
import urllib.parse

NUMERIC = {"Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"}


def rows(path):
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            feats = {}
            for k, v in r.items():
                if k == "Status":
                    continue
                feats[k] = None if v == "" else float(v) if k in NUMERIC else v
            out.append(feats)
    return out


def worker(url, data, stop, lines, lock, seed, prefix):
    u = urllib.parse.urlparse(url)
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    mine = []
    n = 0
    while not os.path.exists(stop):
        n += 1
        body = json.dumps({"request_id": f"{prefix}{seed}-{n}", "context": {"targetingKey": f"a{rnd.randrange(10**9)}"},
                           "features": rnd.choice(data)})
        t0 = time.time_ns()
        try:
            conn.request("POST", "/v1/score", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            payload = r.read()
            status = r.status
            try:
                mv = json.loads(payload).get("model_version") or "-"
            except ValueError:
                mv = "-"
        except (OSError, http.client.HTTPException):
            status, mv = 0, "-"
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        mine.append(f"{t0} {time.time_ns()} {status} {mv}\n")
    with lock:
        lines.extend(mine)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("log")
    ap.add_argument("--stop", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="examples/data/credit_data.csv")
    ap.add_argument("--prefix", default="d")
    a = ap.parse_args()
    data = rows(a.data)
    lines, lock = [], threading.Lock()
    ts = [threading.Thread(target=worker, args=(a.url, data, a.stop, lines, lock, i, a.prefix)) for i in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(a.log, "w") as f:
        f.writelines(sorted(lines))


if __name__ == "__main__":
    main()
