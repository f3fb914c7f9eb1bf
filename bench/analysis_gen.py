#!/usr/bin/python3
"""A decision log of N primary decisions for `make bench`, grown from one the service made.

    bench/analysis_gen.py FIXTURE_DB OUT_DIR [--decisions 1000000] [--outcome-share 0.5]

FIXTURE_DB is a real riskd.db: the example bundles served routed 50/50 with a shadow and the
example credit data's outcomes imported (tests/integration/analysis_fixture.sh). It is copied
to OUT_DIR/riskd.db (SQLite's backup API: schema, riskd_meta, the kept flag file and bundles,
its own decisions and outcomes, all as riskd wrote them), and its primary records are then
replicated, in turn, until the log holds N primary decisions. A replica is its template's
record byte for byte except "request_id" (bench-0000001 ...: new and unique) and "ts_ms"
(increasing, 86 ms apart: a day of traffic per million); the columns ts_ms, request_id, kind
and model_version follow. A share of the replicas (every one whose deterministic draw falls
under --outcome-share) gets its template's outcome row under the new request id, as
`riskd outcomes import` would have joined it (decided_ms the replica's time).

Rows go in with python's sqlite3, 100,000 per transaction, in the order riskd appends them.
Prints one line: what it made and how long it took.
"""
import argparse
import json
import os
import random
import sqlite3
import sys
import time

BATCH = 100_000
STEP_MS = 86


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixture_db")
    ap.add_argument("out_dir")
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--outcome-share", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    t0 = time.time()
    os.makedirs(a.out_dir, exist_ok=True)
    path = os.path.join(a.out_dir, "riskd.db")
    tmp = path + ".tmp"
    for p in (tmp, tmp + "-journal", path, path + "-wal", path + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    src = sqlite3.connect("file:%s?mode=ro" % a.fixture_db, uri=True)
    db = sqlite3.connect(tmp, isolation_level=None)
    src.backup(db)
    src.close()
    # bulk load: a rollback journal (not WAL, which would write every page twice), no fsync
    # until the end; riskd turns WAL back on when it opens the file for writing
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")

    tmpl = []
    for rid, ts, kind, mv, rec in db.execute(
            "SELECT request_id, ts_ms, kind, model_version, record FROM decisions "
            "WHERE kind = 'primary' ORDER BY id"):
        mid = '"request_id":%s,"ts_ms":%d' % (json.dumps(rid), ts)
        at = rec.find(mid)
        if at < 0 or rec.find(mid, at + 1) >= 0:
            sys.exit("analysis_gen: %s: record of %s does not hold %s once" % (a.fixture_db, rid, mid))
        tmpl.append((rid, mv, rec[:at], rec[at + len(mid):]))
    if not tmpl:
        sys.exit("analysis_gen: %s has no primary decision" % a.fixture_db)
    outcomes = {}
    for row in db.execute("SELECT request_id, outcome, label, observed_ms, received_ms, decided_ms, "
                          "model_version, variant, decision, score FROM outcomes"):
        outcomes.setdefault(row[0], []).append(row)
    (last_ts,) = db.execute("SELECT max(ts_ms) FROM decisions").fetchone()

    need = a.decisions - len(tmpl)
    rng = random.Random(a.seed)
    made = labelled = 0
    while made < need:
        n = min(BATCH, need - made)
        drows, orows = [], []
        for i in range(made, made + n):
            rid0, mv, pre, post = tmpl[i % len(tmpl)]
            rid = "bench-%07d" % (i + 1)
            ts = last_ts + (i + 1) * STEP_MS
            drows.append((ts, rid, mv, '%s"request_id":"%s","ts_ms":%d%s' % (pre, rid, ts, post)))
            if rng.random() < a.outcome_share:
                for o in outcomes.get(rid0, ()):
                    orows.append((rid, o[1], o[2], None, ts + 90 * 86_400_000, ts) + o[6:])
        db.execute("BEGIN")
        db.executemany("INSERT INTO decisions(ts_ms, request_id, kind, model_version, record) "
                       "VALUES (?, ?, 'primary', ?, ?)", drows)
        db.executemany("INSERT INTO outcomes(request_id, outcome, label, observed_ms, received_ms, "
                       "decided_ms, model_version, variant, decision, score) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", orows)
        db.execute("COMMIT")
        made += n
        labelled += len(orows)
        print("  analysis_gen: %d of %d decisions\r" % (len(tmpl) + made, a.decisions), end="",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    os.replace(tmp, path)
    print("analysis_gen: %s: %d primary decisions (%d served by riskd, %d replicas), %d replica outcomes, "
          "%.0f MB, %.0f s" % (path, a.decisions, len(tmpl), made, labelled, os.path.getsize(path) / 1e6,
                              time.time() - t0))


if __name__ == "__main__":
    main()
