#!/usr/bin/python3
"""riskd.Log against `riskd log export`, the reference, never against itself.

A decision log is made by `riskd score --log` (the example credit bundles built by `riskd
bundle build`, the example data with an id column: 4 x 4,454 applications by v1.0 and 1,000
by v1.1), then read with riskd.Log and compared row by row with `riskd log export` (jsonl:
every field of each record; csv: the columns the CLI derives, ts, reasons joined by |, scores
by value), for the whole log and for each filter (since, until, model_version, kind,
request_id) against the same CLI options. Chunked reads (1, 7, 1000 rows, interleaved
iterators, a filter changed mid-way) equal the whole read; a chunked pass holds one chunk (its
peak memory in a child process is far below the log's size). Errors: a missing directory, one
without a riskd.db, a file that is not a riskd database, a bad filter -> RiskdError with the
CLI's refusal; under governance the token rules of `riskd log export`.

Run: /usr/bin/python3 tests/python/test_log.py (RISKD_LIB, RISKD_BIN).
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
BIN = os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "release", "riskd"))
DATA = os.path.join(ROOT, "examples", "data", "credit_data.csv")
REPS = 2  # the example data twice: 8,908 decisions by v1.0; a chunk must cost well under the log

passed = failed = skipped = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return ok


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, timeout=120, **kw)


def build_log(tmp):
    """The decision log: returns the data directory."""
    bundles = os.path.join(tmp, "bundles")
    os.makedirs(bundles)
    for v in ("1.0", "1.1"):
        src = os.path.join(ROOT, "examples", "models", f"credit_xgb_v{v}")
        p = run("bundle", "build", "--name", f"credit_xgb_v{v}", "--model", f"{src}/model.json", "--pipeline",
                f"{src}/pipeline.json", "--data", DATA, "--label", "Status", "--positive", "bad", "--fallback",
                f"{src}/fallback.json", "--out", os.path.join(bundles, f"credit_xgb_v{v}"))
        if p.returncode:
            raise RuntimeError(f"bundle build {v}: {p.stderr.decode()[-500:]}")
    with open(DATA, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    big = os.path.join(tmp, "apps.csv")
    with open(big, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["app_id"] + head)
        for rep in range(REPS):
            for i, r in enumerate(body):
                w.writerow([f"app-{rep}-{i:05d}"] + r)
    small = os.path.join(tmp, "apps-small.csv")
    with open(small, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["app_id"] + head)
        for i, r in enumerate(body[:1000]):
            w.writerow([f"ch-{i:05d}"] + r)
    data = os.path.join(tmp, "data")
    for v, inp in (("1.0", big), ("1.1", small)):
        p = run("score", "--bundle", os.path.join(bundles, f"credit_xgb_v{v}"), "--in", inp, "--out", "/dev/null",
                "--log", data, "--id", "app_id", "--threads", "2")
        if p.returncode not in (0, 3):
            raise RuntimeError(f"score {v}: exit {p.returncode} {p.stderr.decode()[-500:]}")
    return data


def export(data, *opts, fmt="jsonl", env=None):
    p = run("log", "export", "--data-dir", data, "--format", fmt, *opts, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode().strip()


def compare_jsonl(df, text, label):
    """Every row of df against the export's records, row by row, field by field."""
    recs = [json.loads(line) for line in text.splitlines() if line]
    if not check(f"{label}: {len(df)} rows, as many as `riskd log export` ({len(recs)})", len(df) == len(recs)):
        return
    bad = []
    cols = list(df.columns)
    for i, (rec, row) in enumerate(zip(recs, df.itertuples(index=False, name=None))):
        r = dict(zip(cols, row))
        want = {
            "ts_ms": rec["ts_ms"], "request_id": rec["request_id"], "kind": rec["kind"], "node": rec.get("node"),
            "model_version": (rec.get("bundle") or {}).get("name"), "variant": rec.get("variant"),
            "source": rec.get("source"), "fallback_reason": (rec.get("fallback") or {}).get("reason"),
            "score": rec.get("score"), "probability": rec.get("probability"), "risk_level": rec.get("risk_level"),
            "decision": rec.get("decision"), "latency_ms": rec.get("latency_ms"),
            "reasons": tuple(x["code"] for x in rec.get("reasons") or []),
            "reason_impacts": tuple(x.get("impact") for x in rec.get("reasons") or []),
        }
        for k, v in (rec.get("features") or {}).items():
            want["f_" + k] = v
        diffs = [k for k, v in want.items() if not _same(r.get(k), v)]
        extra = [c for c in cols if c.startswith("f_") and c[2:] not in (rec.get("features") or {})
                 and not _missing(r[c])]
        if diffs or extra:
            bad.append(f"row {i} ({rec['request_id']}): {', '.join(f'{k}={r.get(k)!r} vs {want[k]!r}' for k in diffs)}"
                       f"{' extra ' + str(extra) if extra else ''}")
    for b in bad[:5]:
        print(f"     {b}")
    check(f"{label}: every row equals the export's record field by field (ts, request_id, kind, node, "
          "model_version, source, score, probability, risk_level, decision, reasons, latency_ms, f_ inputs)",
          not bad, f"{len(bad)} rows differ")


def _missing(v):
    return v is None or (isinstance(v, float) and v != v)


def _same(a, b):
    if _missing(a) and _missing(b):
        return True
    if hasattr(a, "item"):
        a = a.item()
    return a == b and type(a) is type(b) if not isinstance(b, (int, float)) or isinstance(b, bool) else a == b


def compare_csv(df, text, label):
    rows = list(csv.DictReader(io.StringIO(text)))
    bad = []
    if len(rows) != len(df):
        bad.append(f"{len(rows)} CSV rows, {len(df)} in the frame")
    for i, (c, r) in enumerate(zip(rows, df.to_dict("records"))):
        ts = r["ts"].strftime("%Y-%m-%dT%H:%M:%S.") + f"{r['ts'].microsecond // 1000:03d}Z"
        got = {"ts": ts, "request_id": r["request_id"], "kind": r["kind"], "node": r["node"] or "",
               "model_version": r["model_version"] or "", "variant": r["variant"] or "", "source": r["source"],
               "fallback_reason": r["fallback_reason"] or "", "risk_level": r["risk_level"] or "",
               "decision": r["decision"] or "", "reasons": "|".join(r["reasons"])}
        diffs = [k for k, v in got.items() if c[k] != v]
        for k in ("score", "probability", "latency_ms"):
            if (c[k] == "") != _missing(r[k]) or (c[k] != "" and float(c[k]) != r[k]):
                diffs.append(k)
        if diffs:
            bad.append(f"row {i}: {diffs}: CSV {c}, frame {got}")
    for b in bad[:5]:
        print(f"     {b}")
    check(f"{label}: equal to `riskd log export --format csv` column by column", not bad, f"{len(bad)} differ")


def frames_equal(a, b):
    import pandas as pd
    try:
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=True)
        return True, ""
    except AssertionError as e:
        return False, str(e)[:400]


def main():
    try:
        import pandas as pd
    except ImportError:
        print("skipped: pandas (python3-pandas) is not installed")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    if not os.access(BIN, os.X_OK):
        print(f"skipped: {BIN} not built")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    import riskd
    from riskd import Log, RiskdError

    tmp = tempfile.mkdtemp(prefix="riskd-test-log-")
    try:
        data = build_log(tmp)
        log = Log(data)
        df = log.read()
        rc, text, err = export(data)
        check("riskd log export of the log", rc == 0, err)
        compare_jsonl(df, text, "the whole log")
        rc, text, err = export(data, fmt="csv")
        compare_csv(df, text, "the whole log")
        check(f"{4454 * REPS + 1000:,} decisions: {4454 * REPS:,} by credit_xgb_v1.0, 1,000 by credit_xgb_v1.1",
              len(df) == 4454 * REPS + 1000 and (df.model_version == "credit_xgb_v1.1").sum() == 1000, str(len(df)))
        check("ids increase, ts is UTC", df["id"].is_monotonic_increasing and str(df["ts"].dt.tz) == "UTC")

        # filters against the CLI's options
        ts = sorted(set(df.ts_ms))
        mid = ts[len(ts) // 2]
        rid = df.request_id.iloc[len(df) // 2 + 345]
        cases = [
            ("model_version=credit_xgb_v1.1", {"model_version": "credit_xgb_v1.1"},
             ["--model-version", "credit_xgb_v1.1"]),
            ("kind=primary", {"kind": "primary"}, ["--kind", "primary"]),
            (f"request_id={rid}", {"request_id": rid}, ["--request-id", rid]),
            ("since (ms)", {"since": mid}, ["--from", str(mid)]),
            ("until (ms)", {"until": mid}, ["--to", str(mid)]),
            ("since and until as datetimes, model_version", {"since": pd.Timestamp(ts[1], unit="ms", tz="UTC"),
                                                              "until": pd.Timestamp(ts[-1], unit="ms").to_pydatetime(),
                                                              "model_version": "credit_xgb_v1.0"},
             ["--from", str(ts[1]), "--to", str(ts[-1]), "--model-version", "credit_xgb_v1.0"]),
        ]
        for label, kw, opts in cases:
            got = log.read(**kw)
            rc, text, err = export(data, *opts)
            if check(f"filter {label}: the CLI exports it ({len(got)} rows)", rc == 0, err):
                compare_jsonl(got, text, f"filter {label}")
        got = log.read(kind="shadow")
        rc, _, err = export(data, "--kind", "shadow")
        check("kind=shadow: an empty frame where the CLI finds no decision (exit 1)",
              len(got) == 0 and rc == 1 and "no decision" in err and list(got.columns)[:3] == ["id", "ts", "ts_ms"],
              f"{len(got)} rows, CLI {rc} {err}")
        got = log.read(since="2000-01-01", until="2000-01-02")
        check("a range before the log: empty", len(got) == 0)

        # chunks
        for k in (1, 7, 1000, 100000):
            if k == 1:
                parts = []
                it = log.chunks(1, model_version="credit_xgb_v1.1")
                parts = list(it)
                ok, why = frames_equal(pd.concat(parts, ignore_index=True), log.read(model_version="credit_xgb_v1.1"))
                check("chunks(1) of the v1.1 rows: 1,000 frames of one row, together the whole read",
                      ok and len(parts) == 1000 and all(len(p) == 1 for p in parts), why)
                continue
            parts = list(log.chunks(k))
            ok, why = frames_equal(pd.concat(parts, ignore_index=True), df)
            sizes_ok = all(len(p) == k for p in parts[:-1]) and 0 < len(parts[-1]) <= k
            check(f"chunks({k}): {len(parts)} frames of at most {k}, together equal to read()", ok and sizes_ok, why)
        ok, why = frames_equal(log.read(chunksize=333), df)
        check("read(chunksize=333) equals read()", ok, why)
        a, b = log.chunks(5000), log.chunks(3000, kind="primary")
        pa, pb = [], []
        for _ in range(20):
            for it, acc in ((a, pa), (b, pb)):
                x = next(it, None)
                if x is not None:
                    acc.append(x)
        pa += list(a)
        pb += list(b)
        ok1, why1 = frames_equal(pd.concat(pa, ignore_index=True), df)
        ok2, why2 = frames_equal(pd.concat(pb, ignore_index=True), df)
        check("two chunk iterators interleaved on one Log: each equals the whole read", ok1 and ok2, why1 + why2)
        raw = [r for chunk in log.rows(chunksize=4096) for r in chunk]
        check("rows(): the store's rows, the records as logged", len(raw) == len(df) and
              [r["id"] for r in raw] == list(df["id"]) and all(isinstance(r["record"], dict) for r in raw[:10]))
        f2 = log.read(columns=["request_id", "score", "f_Income", "record"], features="dict")
        check("columns= keeps those; features='dict' and the record dict", list(f2.columns) ==
              ["request_id", "score", "f_Income", "record"] and f2["record"].iloc[0]["request_id"] ==
              df.request_id.iloc[0])
        f3 = log.read(features="dict", model_version="credit_xgb_v1.1")
        check("features='dict': one dict column", "features" in f3.columns and isinstance(f3.features.iloc[0], dict)
              and f3.features.iloc[0] == json.loads(export(data, "--model-version", "credit_xgb_v1.1")[1]
                                                    .splitlines()[0])["features"])

        # bounded memory: a chunked pass in a child, its peak RSS against the log's size
        size = os.path.getsize(os.path.join(data, "riskd.db"))
        child = (
            "import sys\n"
            "def hwm():  # VmHWM: the peak of this image (ru_maxrss would carry the parent's over exec)\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM:'):\n"
            "            return int(line.split()[1]) * 1024\n"
            f"sys.path.insert(0, {os.path.join(ROOT, 'python')!r})\n"
            "import riskd\n"
            f"l = riskd.Log({data!r})\n"
            "next(l.rows(chunksize=500))\n"
            "r0 = hwm()\n"
            "n = sum(len(c) for c in l.rows(chunksize=500))\n"
            "r1 = hwm()\n"
            "kept = [r for c in l.rows(chunksize=500) for r in c]\n"
            "r2 = hwm()\n"
            "print(n, r1 - r0, r2 - r1)\n")
        p = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120)
        try:
            n, grew, kept = map(int, p.stdout.split())
        except ValueError:
            n, grew, kept = -1, -1, -1
        check(f"a chunked pass (500 rows) over the {size >> 20} MiB log grows the peak memory by "
              f"{grew / 2**20:.1f} MiB, keeping every row {kept / 2**20:.0f} MiB (a chunk's cost, not the log's: "
              "under a quarter)", n == len(df) and 0 <= grew < kept / 4 and kept > size,
              p.stdout.decode() + p.stderr.decode()[-300:])

        # errors: the CLI's refusals
        for label, d, code in (("a directory that does not exist", os.path.join(tmp, "nope"), "IO_ERROR"),
                               ("a directory without riskd.db", tmp, "IO_ERROR")):
            rc, _, err = export(d)
            try:
                Log(d)
                check(f"{label}: RiskdError", False, "opened")
            except RiskdError as e:
                check(f"{label}: RiskdError {code}, as the CLI refuses it (exit {rc})",
                      e.code == code and rc == 4 and e.message in err, f"{e!r} CLI {err!r}")
        notdb = os.path.join(tmp, "notdb")
        os.makedirs(notdb)
        with open(os.path.join(notdb, "riskd.db"), "wb") as f:
            f.write(b"this is not a database\n" * 100)
        rc, _, err = export(notdb)
        try:
            Log(notdb)
            check("not a riskd database: RiskdError", False, "opened")
        except RiskdError as e:
            check(f"not a riskd database: RiskdError {e.code}, the CLI's refusal (exit {rc})",
                  rc == 1 and e.message in err, f"{e!r} CLI {err!r}")
        for label, kw in (("kind=other", {"kind": "other"}), ("since after until", {"since": 5, "until": 3}),
                          ("since not a time", {"since": "yesterday"}), ("since negative", {"since": -1}),
                          ("model_version not a str", {"model_version": 3}), ("chunksize 0", {"chunksize": 0}),
                          ("no such column", {"columns": ["nope"]})):
            try:
                log.read(**kw)
                check(f"read({label}): RiskdError INVALID_ARGUMENT", False, "read")
            except RiskdError as e:
                check(f"read({label}): RiskdError INVALID_ARGUMENT", e.code == "INVALID_ARGUMENT", repr(e))
        log.close()
        try:
            log.read()
            check("a closed Log: RiskdError", False, "read")
        except RiskdError as e:
            check("a closed Log: RiskdError", e.code == "INVALID_ARGUMENT", repr(e))

        # governance: a copy of the log with users
        gov = os.path.join(tmp, "gov")
        shutil.copytree(data, gov)
        p = run("user", "add", "root", "--role", "admin", "--data-dir", gov)
        admin = p.stdout.decode().strip()
        tokfile = os.path.join(tmp, "admin.token")
        with open(tokfile, "w") as f:
            f.write(admin)
        analyst = run("user", "add", "ann", "--role", "analyst", "--data-dir", gov, "--token-file",
                      tokfile).stdout.decode().strip()
        viewer = run("user", "add", "vic", "--role", "viewer", "--data-dir", gov, "--token-file",
                     tokfile).stdout.decode().strip()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RISKD_TOKEN")}
        for label, tok, want in (("no token", None, "UNAUTHENTICATED"), ("a viewer's token", viewer, "FORBIDDEN"),
                                 ("an unknown token", "rdk_000000000000_" + "x" * 40, "UNAUTHENTICATED"),
                                 ("an analyst's token", analyst, None)):
            rc, text2, err = export(gov, env=dict(env, **({"RISKD_TOKEN": tok} if tok else {})))
            saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RISKD_TOKEN")}
            try:
                g = Log(gov, token=tok)
                got = g.read(model_version="credit_xgb_v1.1")
                check(f"governance, {label}: read as the CLI exports ({rc})", want is None and rc == 0 and
                      len(got) == 1000, f"CLI {rc} {err}")
                g.close()
            except RiskdError as e:
                check(f"governance, {label}: RiskdError {want}, as the CLI refuses (exit {rc})",
                      e.code == want and rc == 7, f"{e!r} CLI {rc} {err}")
            finally:
                os.environ.update(saved)
        check("riskd.Log is exported", riskd.Log is Log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
