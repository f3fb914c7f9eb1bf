"""riskd.Log: the decision log of a data directory (or a PostgreSQL store) read into pandas,
as `riskd log export` reads it: the store opened read-only, the same filter, oldest first.

    import riskd
    log = riskd.Log("/var/lib/riskd")
    df = log.read(since="2026-12-01", kind="primary")     # one DataFrame
    for chunk in log.chunks(100_000):                      # a DataFrame per chunk, bounded memory
        ...

Columns, one row per decision (docs: "Decision log" in docs/formats.md for the record):

    id               the store's row id (the order; a chunk's cursor)
    ts               the decision's time, pandas Timestamp (UTC, ms)
    ts_ms            the same, unix milliseconds
    request_id, kind ("primary" or "shadow"), node, model_version (the bundle that decided,
    the record's bundle.name), variant, source ("model" or "fallback"), fallback_reason,
    score, probability, risk_level, decision, latency_ms
    reasons          tuple of the reason codes, in order (`riskd log export --format csv`
                     joins them with |)
    reason_impacts   tuple of their impacts (None where a rule's reason has none)
    label            the label of outcome=NAME joined (0 good, 1 bad; <NA> none): only with outcome=
    f_<input>        one column per input of the record's "features", as logged (a CSV row's
                     features are the text of its fields; a JSON request's are its values; a
                     redacted input is the keyed hash), missing where a record lacks it
    record           (only when asked for in columns=) the whole record as a dict

columns= keeps those columns (and "record" adds the dict); features="dict" puts the inputs in
one column "features" (a dict per row) instead of f_ columns.
"""
import ctypes
import datetime as _dt
import json
import os

from . import _lib
from ._lib import Err, RiskdError, check, fn, path_bytes, take_text

P = ctypes.c_void_p
_open = fn("rd_embed_log_open", ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(P),
           _lib.PErr)
_free = fn("rd_embed_log_free", None, P)
_read = fn("rd_embed_log_read", ctypes.c_int, P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int64, ctypes.c_size_t,
           ctypes.POINTER(P), ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_int64),
           ctypes.POINTER(ctypes.c_bool), _lib.PErr)

BASE_COLUMNS = ["id", "ts", "ts_ms", "request_id", "kind", "node", "model_version", "variant", "source",
                "fallback_reason", "score", "probability", "risk_level", "decision", "reasons", "reason_impacts",
                "latency_ms"]
DEFAULT_CHUNK = 100_000


def _ms(t, what):
    """unix ms from int ms, a datetime (naive: UTC), a pandas Timestamp, or an ISO date/time text."""
    if t is None:
        return None
    if isinstance(t, bool):
        raise RiskdError("INVALID_ARGUMENT", f"{what}: a time, not {t!r}")
    if isinstance(t, int):
        if t < 0:
            raise RiskdError("INVALID_ARGUMENT", f"{what}: unix milliseconds from 0, not {t}")
        return t
    if isinstance(t, str):
        s = t.strip()
        if s.isdigit():
            return int(s)
        try:
            t = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise RiskdError("INVALID_ARGUMENT", f"{what}: {t!r} is not a UTC date, a time like "
                                                 "2026-12-01T08:30:00Z, or unix ms") from None
    if hasattr(t, "to_pydatetime"):  # pandas Timestamp
        t = t.to_pydatetime()
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return int(round(t.timestamp() * 1000))
    if isinstance(t, _dt.date):
        return int(_dt.datetime(t.year, t.month, t.day, tzinfo=_dt.timezone.utc).timestamp() * 1000)
    raise RiskdError("INVALID_ARGUMENT", f"{what}: a time (unix ms, datetime, ISO text), not {t.__class__.__name__}")


def _token(token):
    if token is not None:
        return token
    path = os.environ.get("RISKD_TOKEN_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as e:
            raise RiskdError("IO_ERROR", f"RISKD_TOKEN_FILE {path}: {e.strerror}") from None
    return os.environ.get("RISKD_TOKEN") or None


class Log:
    """The decision log of data_dir (DIR/riskd.db), or of the PostgreSQL store pg_url, opened
    read-only. A directory that does not exist, or holds no riskd database, raises RiskdError
    (IO_ERROR, INVALID_ARGUMENT for a file that is not a riskd database). Under governance
    (the store has users) it needs the token of a role with view_decisions (token=, else
    $RISKD_TOKEN_FILE, else $RISKD_TOKEN), as `riskd log export` does."""

    def __init__(self, data_dir=None, pg_url=None, token=None):
        if data_dir is None and pg_url is None:
            raise RiskdError("INVALID_ARGUMENT", "Log: give a data directory or pg_url")
        self._h = None
        self.data_dir = os.fspath(data_dir) if data_dir is not None else None
        self.pg_url = pg_url
        tok = _token(token)
        h = P()
        err = Err()
        rc = _open(path_bytes(data_dir) if data_dir is not None else None,
                   pg_url.encode() if pg_url else None, tok.encode() if tok else None, ctypes.byref(h),
                   ctypes.byref(err))
        check(rc, err)
        self._h = h

    def close(self):
        h, self._h = self._h, None
        if h:
            _free(h)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"riskd.Log({self.pg_url or self.data_dir!r})"

    def _handle(self):
        if not self._h:
            raise RiskdError("INVALID_ARGUMENT", "the log is closed")
        return self._h

    # ---------------------------------------------------------------- raw rows

    @staticmethod
    def _filter(since, until, model_version, kind, request_id, outcome):
        f = {}
        if since is not None:
            f["since"] = _ms(since, "since")
        if until is not None:
            f["until"] = _ms(until, "until")
        for k, v in (("model_version", model_version), ("kind", kind), ("request_id", request_id),
                     ("outcome", outcome)):
            if v is not None:
                if not isinstance(v, str):
                    raise RiskdError("INVALID_ARGUMENT", f"{k}: a str, not {v.__class__.__name__}")
                f[k] = v
        return json.dumps(f, sort_keys=True).encode("utf-8", "surrogatepass")

    def rows(self, since=None, until=None, model_version=None, kind=None, request_id=None, outcome=None,
             chunksize=DEFAULT_CHUNK):
        """Yield lists of raw rows, dicts {"id", "ts_ms", "request_id", "kind", "model_version",
        "label", "node", "record": the decision record as logged}, chunksize at a time."""
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise RiskdError("INVALID_ARGUMENT", f"chunksize: 1 or more, not {chunksize!r}")
        filt = self._filter(since, until, model_version, kind, request_id, outcome)
        after = 0
        while True:
            out = P()
            n = ctypes.c_size_t()
            nxt = ctypes.c_int64()
            done = ctypes.c_bool()
            err = Err()
            rc = _read(self._handle(), filt, len(filt), after, chunksize, ctypes.byref(out), ctypes.byref(n),
                       ctypes.byref(nxt), ctypes.byref(done), ctypes.byref(err))
            text = take_text(out)
            check(rc, err)
            if n.value:
                try:
                    yield [json.loads(line) for line in text.splitlines()]
                except ValueError as e:
                    raise RiskdError("PARSE_ERROR", f"a decision record after id {after} is not JSON: {e}") from None
            after = nxt.value
            if done.value:
                return

    # ---------------------------------------------------------------- frames

    def read(self, since=None, until=None, model_version=None, kind=None, request_id=None, outcome=None,
             chunksize=None, columns=None, features="columns"):
        """The decisions that match, oldest first, as one pandas DataFrame (columns: see the
        module's doc). since/until: [since, until), each unix ms, a datetime (naive: UTC), a
        date or ISO text. chunksize: rows per call to the library (memory while reading; the
        frame holds them all); use chunks() to keep only one chunk at a time."""
        import pandas as pd
        frames = list(self.chunks(DEFAULT_CHUNK if chunksize is None else chunksize, since=since, until=until, model_version=model_version,
                                  kind=kind, request_id=request_id, outcome=outcome, columns=columns,
                                  features=features))
        if not frames:
            return _frame([], columns, features, outcome is not None)
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True, sort=False)

    def chunks(self, chunksize=DEFAULT_CHUNK, since=None, until=None, model_version=None, kind=None,
               request_id=None, outcome=None, columns=None, features="columns"):
        """An iterator of DataFrames of at most chunksize decisions each, oldest first, in one
        pass over the log (the library holds one chunk at a time)."""
        if features not in ("columns", "dict"):
            raise RiskdError("INVALID_ARGUMENT", f"features: 'columns' or 'dict', not {features!r}")
        for rows in self.rows(since, until, model_version, kind, request_id, outcome, chunksize):
            yield _frame(rows, columns, features, outcome is not None)

    def __iter__(self):
        """Each decision's raw row (see rows())."""
        for chunk in self.rows():
            yield from chunk


def _get(d, *path):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _frame(rows, columns, features, with_label):
    import pandas as pd
    want_record = columns is not None and "record" in columns
    recs = []
    fkeys = {}
    for r in rows:
        rec = r["record"] if isinstance(r["record"], dict) else {}
        reasons = rec.get("reasons") if isinstance(rec.get("reasons"), list) else []
        row = {
            "id": r["id"],
            "ts_ms": r["ts_ms"],
            "request_id": r["request_id"],
            "kind": r["kind"],
            "node": rec.get("node", r.get("node")),
            "model_version": _get(rec, "bundle", "name") if _get(rec, "bundle", "name") is not None
            else r["model_version"],
            "variant": rec.get("variant"),
            "source": rec.get("source"),
            "fallback_reason": _get(rec, "fallback", "reason"),
            "score": rec.get("score"),
            "probability": rec.get("probability"),
            "risk_level": rec.get("risk_level"),
            "decision": rec.get("decision"),
            "reasons": tuple(x.get("code") if isinstance(x, dict) else None for x in reasons),
            "reason_impacts": tuple(x.get("impact") if isinstance(x, dict) else None for x in reasons),
            "latency_ms": rec.get("latency_ms"),
        }
        if with_label:
            row["label"] = r["label"]
        feats = rec.get("features") if isinstance(rec.get("features"), dict) else {}
        if features == "dict":
            row["features"] = feats
        else:
            for k, v in feats.items():
                fkeys.setdefault(k, None)
                row["f_" + k] = v
        if want_record:
            row["record"] = rec
        recs.append(row)
    cols = list(BASE_COLUMNS)
    cols.remove("ts")
    if with_label:
        cols.append("label")
    cols += ["features"] if features == "dict" else ["f_" + k for k in fkeys]
    if want_record:
        cols.append("record")
    df = pd.DataFrame.from_records(recs, columns=cols) if recs else pd.DataFrame(columns=cols)
    for c in ("score", "probability", "latency_ms"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    df["id"] = df["id"].astype("int64")
    df["ts_ms"] = df["ts_ms"].astype("int64")
    if with_label:
        df["label"] = df["label"].astype("Int64")
    df.insert(1, "ts", pd.to_datetime(df["ts_ms"], unit="ms", utc=True))
    if columns is not None:
        missing = [c for c in columns if c not in df.columns and not c.startswith("f_")]
        if missing:
            raise RiskdError("INVALID_ARGUMENT", f"columns: no such column {', '.join(map(repr, missing))} "
                                                 f"(have {', '.join(df.columns)})")
        df = df.reindex(columns=list(columns))
    return df
