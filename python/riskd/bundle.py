"""riskd.Bundle: a model bundle loaded, verified and decided in process by libriskd.

A row is decided by the library's rd_decide through the decider `riskd score` builds (the
bundle's pipeline, model, risk bands, reason codes and fallback rules), so the answer is the
batch CLI's and the service's, bit for bit. Frames go to the library as columns (numbers, or
codes into their levels), are decided on every core without the interpreter's lock, and
come back as columns.
"""
import collections
import ctypes
import json
import math
import os
import warnings

import numpy as np

from . import _lib
from ._lib import Err, RiskdError, check, fn, take_text, path_bytes

P = ctypes.c_void_p
_open = fn("rd_embed_bundle_open", ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
           ctypes.POINTER(P), ctypes.POINTER(ctypes.c_size_t), _lib.PErr)
_close = fn("rd_embed_bundle_free", None, P)
_info = fn("rd_embed_bundle_info", ctypes.c_int, P, ctypes.POINTER(P), _lib.PErr)
_check_cols = fn("rd_embed_check_columns", ctypes.c_int, P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                 ctypes.c_char_p, ctypes.c_size_t, _lib.PErr)
_decide_one = fn("rd_embed_decide_one", ctypes.c_int, P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                 ctypes.c_char_p, ctypes.POINTER(P), _lib.PErr)


class _Column(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("num", P), ("codes", P), ("levels", P), ("nlevels", ctypes.c_size_t)]


class _Input(ctypes.Structure):
    _fields_ = [("cols", ctypes.POINTER(_Column)), ("ncols", ctypes.c_size_t), ("json", ctypes.c_char_p),
                ("json_len", ctypes.c_size_t), ("n", ctypes.c_size_t)]


class _Out(ctypes.Structure):
    _fields_ = [("k", ctypes.c_size_t), ("rows", P), ("reason_code", P), ("reason_input", P),
                ("reason_impact", P), ("missing", P), ("unknown", P), ("errors", P)]


_decide = fn("rd_embed_decide", ctypes.c_int, P, ctypes.POINTER(_Input), ctypes.c_int, ctypes.POINTER(_Out),
             _lib.PErr)
_prepare = fn("rd_embed_prepare", ctypes.c_int, P, ctypes.POINTER(_Input), ctypes.c_int, P, P, P, _lib.PErr)
_predict = fn("rd_embed_predict", ctypes.c_int, P, P, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, P, _lib.PErr)
_contrib = fn("rd_embed_contributions", ctypes.c_int, P, P, ctypes.c_size_t, ctypes.c_int, P, _lib.PErr)

# rd_embed_row, field for field (include/riskd/embed.h)
ROW = np.dtype([("rc", "<i4"), ("source", "<i4"), ("score", "<f8"), ("probability", "<f8"),
                ("risk_level", "<u8"), ("decision", "<u8"), ("fallback_rule", "<u8"),
                ("fallback_reason", "<u8"), ("nreasons", "<u4"), ("nmissing", "<u4"), ("nunknown", "<u4"),
                ("pad", "<u4")])
assert ROW.itemsize == 72

_OUTPUTS = {"margin": 0, "raw": 0, "probability": 1, "points": 2}


def _ptr(a):
    return a.ctypes.data_as(P) if a is not None else None


def _strings(ptrs):
    """The C strings at an array of addresses (0: missing) as a pandas Categorical: each
    distinct one read once (a million rows hold a handful of levels and decisions)."""
    import pandas as pd
    ptrs = np.asarray(ptrs, dtype=np.uint64)
    codes, u = pd.factorize(ptrs)  # a hash, not a sort
    text = [None if p == 0 else ctypes.string_at(int(p)).decode("utf-8") for p in u]
    cats = sorted({t for t in text if t is not None})
    where = {t: i for i, t in enumerate(cats)}
    remap = np.array([where[t] if t is not None else -1 for t in text] + [-1], dtype=np.int32)
    return pd.Categorical.from_codes(remap[codes], categories=cats)


def _tuples(mat, to_tuple):
    """One tuple per row of mat, made once per distinct row; rows of zeros (no reason, nothing
    missing: most rows) share the empty tuple."""
    import pandas as pd
    n = mat.shape[0]
    out = np.empty(n, dtype=object)
    out.fill(())
    if n == 0 or mat.shape[1] == 0:
        return out
    rows = np.ascontiguousarray(mat)
    live = np.flatnonzero(rows.any(axis=1))
    if not len(live):
        return out
    sub = rows[live]
    if sub.shape[1] == 1:
        codes, u = pd.factorize(sub[:, 0])
        made = np.empty(len(u), dtype=object)
        made[:] = [to_tuple(np.array([v], dtype=sub.dtype)) for v in u]
    else:
        view = sub.view(np.dtype((np.void, sub.dtype.itemsize * sub.shape[1]))).reshape(len(sub))
        u, first, codes = np.unique(view, return_index=True, return_inverse=True)
        made = np.empty(len(u), dtype=object)
        made[:] = [to_tuple(sub[i]) for i in first]
    out[live] = made[codes.reshape(-1)]
    return out


class RiskdWarning(UserWarning):
    """What riskd decided but wants said: levels it does not know, columns it does not use."""

    __module__ = "riskd"


def _factorize(values):
    import pandas as pd
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int32), list(uniques)


def _is_series(rows):
    return hasattr(rows, "to_dict") and hasattr(rows, "dtype") and hasattr(rows, "index") and not _is_frame(rows)


def _is_frame(rows):
    return hasattr(rows, "columns") and hasattr(rows, "dtypes") and hasattr(rows, "iloc")


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not a value a record holds")


def _clean(v):
    """NaN, a data frame's missing value, is null to the library, as in a frame."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.floating) and np.isnan(v):
        return None
    return v


def _records_json(records):
    try:
        return json.dumps([{k: _clean(v) for k, v in r.items()} if isinstance(r, dict) else r for r in records],
                          default=_json_default, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise RiskdError("TYPE_MISMATCH", f"records: {e}") from None


class Bundle:
    """A bundle directory, loaded and verified (checksums, digest, its samples re-scored), as
    `riskd bundle verify` does; a bundle that fails raises RiskdError and nothing is loaded.

    fallback: rules for a bundle that has none (a fallback.json path); deadline_ms: a row's
    deadline (0: none; the bundle's serving.deadline_ms applies when it sets one); threads:
    the default for score/prepare/predict (0: one per core)."""

    def __init__(self, path, fallback=None, deadline_ms=0, threads=0):
        self._h = None
        self.path = os.fspath(path)
        self._args = (self.path, fallback, deadline_ms, threads)
        h, checked, err = P(), ctypes.c_size_t(), Err()
        rc = _open(path_bytes(path), path_bytes(fallback) if fallback else None, int(deadline_ms),
                   ctypes.byref(h), ctypes.byref(checked), ctypes.byref(err))
        check(rc, err)
        self._h = h
        self.threads = int(threads)
        self.samples_verified = checked.value
        out, err = P(), Err()
        check(_info(self._h, ctypes.byref(out), ctypes.byref(err)), err)
        info = json.loads(take_text(out.value))
        self.info = info
        self.name = info["name"]
        self.digest = info["digest"]
        self.manifest = info["manifest"]
        self.reference = info["reference"]
        self.features = list(info["features"])
        self.inputs = info["inputs"]
        self.input_names = [i["name"] for i in self.inputs]
        self.float32 = info["float32"]
        self.num_reasons = info["num_reasons"]
        self._words = info["mask_words"]
        self._input_index = {n: i for i, n in enumerate(self.input_names)}

    def __reduce__(self):  # a Dask or Spark worker reloads (and re-verifies) the bundle
        return (Bundle, self._args)

    def close(self):
        if self._h:
            _close(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"riskd.Bundle({self.name!r}, digest={self.digest[:12]}..., library={_lib.LIBRARY!r})"

    def _handle(self):
        if not self._h:
            raise RiskdError("USAGE", f"{self.name}: the bundle is closed")
        return self._h

    # ------------------------------------------------------------------ rows in

    def _check_frame(self, df):
        names = list(df.columns)
        bad = [c for c in names if not isinstance(c, str)]
        if bad:
            raise RiskdError("INVALID_ARGUMENT", f"column names are the inputs' names, strings: not {bad[:3]!r}")
        dup = sorted(c for c, k in collections.Counter(names).items() if k > 1)
        if dup:
            raise RiskdError("INVALID_ARGUMENT", f"columns repeated: {', '.join(dup)}")
        arr = (ctypes.c_char_p * max(len(names), 1))(*[n.encode() for n in names])
        note = ctypes.create_string_buffer(400)
        err = Err()
        check(_check_cols(self._handle(), arr, len(names), note, len(note), ctypes.byref(err)), err)
        if note.value:
            warnings.warn(f"{self.name}: {note.value.decode()}", RiskdWarning, stacklevel=4)

    def _column(self, name, s, keep):
        """One input's column as numbers or as codes into levels (kept alive in keep)."""
        spec = self.inputs[self._input_index[name]]
        number = spec["type"] == "number"
        kind = s.dtype.kind
        if str(s.dtype) == "category":
            cats = s.cat.categories
            if len(cats) and not all(isinstance(c, str) for c in cats):
                if number and all(isinstance(c, (int, float, np.number)) and not isinstance(c, bool) for c in cats):
                    return self._numbers(name, s.astype("float64"), keep)
                raise self._dtype_error(name, spec, f"a category of {cats.dtype}")
            codes = np.ascontiguousarray(s.cat.codes.to_numpy(), dtype=np.int32)
            return self._codes(name, codes, list(cats), keep)
        if kind == "b":
            raise self._dtype_error(name, spec, "booleans")
        if kind in "iuf":
            if not number:
                if s.isna().all():
                    return self._codes(name, np.full(len(s), -1, dtype=np.int32), [], keep)
                raise self._dtype_error(name, spec, f"numbers ({s.dtype})")
            return self._numbers(name, s, keep)
        if kind in "OSU" or str(s.dtype) in ("string", "str"):
            import pandas as pd
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            if number and inferred in ("integer", "floating", "mixed-integer-float", "empty"):
                return self._numbers(name, s.astype("float64"), keep)
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            levels = []
            for u in uniques:
                if isinstance(u, str):
                    levels.append(u)
                elif number and isinstance(u, (int, float, np.number)) and not isinstance(u, (bool, np.bool_)):
                    levels.append(repr(float(u)))  # shortest text that reads back exactly
                else:
                    raise self._dtype_error(name, spec, f"a {type(u).__name__} ({u!r})")
            return self._codes(name, codes, levels, keep)
        raise self._dtype_error(name, spec, f"{s.dtype}")

    def _dtype_error(self, name, spec, got):
        if spec["type"] == "number":
            want = "a number: give it a numeric column (pd.to_numeric)"
        else:
            levels = spec.get("levels") or []
            want = "a category: give its levels as strings" + (f" ({', '.join(levels[:6])})" if levels else "")
        return RiskdError("TYPE_MISMATCH", f"column {name!r} holds {got}, but input {name!r} is {want}")

    def _numbers(self, name, s, keep):
        try:
            x = np.ascontiguousarray(s.to_numpy(dtype="float64", na_value=np.nan))
        except (TypeError, ValueError) as e:
            raise RiskdError("TYPE_MISMATCH", f"column {name!r}: {e}") from None
        keep.append(x)
        b = name.encode()
        keep.append(b)
        return _Column(b, _ptr(x), None, None, 0)

    def _codes(self, name, codes, levels, keep):
        enc = [l.encode("utf-8") for l in levels]
        arr = (ctypes.c_char_p * max(len(enc), 1))(*enc)
        codes = np.ascontiguousarray(codes, dtype=np.int32)
        b = name.encode()
        keep.extend([codes, enc, arr, b])
        return _Column(b, None, _ptr(codes), ctypes.cast(arr, P), len(enc))

    def _input(self, rows, keep):
        """(input struct, n, index, frame or None, single dict?)"""
        if isinstance(rows, dict):
            raise AssertionError("a dict is decided by _score_one")
        if _is_frame(rows):
            self._check_frame(rows)
            cols = [self._column(c, rows[c], keep) for c in rows.columns if c in self._input_index]
            carr = (_Column * max(len(cols), 1))(*cols)
            keep.append(carr)
            return _Input(carr, len(cols), None, 0, len(rows)), len(rows), rows.index, rows
        if isinstance(rows, (list, tuple)):
            text = _records_json(rows)
            keep.append(text)
            return _Input(None, 0, text, len(text), len(rows)), len(rows), None, None
        raise RiskdError("TYPE_MISMATCH",
                         f"rows: a pandas DataFrame, a list of dicts or one dict, not {type(rows).__name__}")

    # ------------------------------------------------------------------ deciding

    def score(self, rows, reasons=None, threads=None, errors="raise", request_id=None, impacts=False):
        """Decide rows as POST /v1/score and `riskd score` do.

        rows: a pandas DataFrame (columns by input name; other columns are ignored, and
        named in a warning), a list of dicts (each read as /v1/score reads "features": a
        name that is no input is refused) or one dict. NaN and None are missing values.
        reasons: reason codes per row (0..16; default the bundle's; 0 skips TreeSHAP).

        One dict gives the decision record /v1/score answers (a dict, no latency_ms). Many
        rows give a DataFrame (the frame's index) with the columns score, probability,
        risk_level, decision, model_version, reasons (tuple of codes), missing, unknown
        (tuples of input names), with impacts=True reason_impacts (tuple of numbers), source ("model" or "fallback"),
        fallback_reason, fallback_rule, and with errors="keep" error (why a row was
        refused, None otherwise; its other columns empty). errors="raise" (the default)
        raises the first refused row's RiskdError instead. For float32 models (XGBoost) the
        score is exactly the float the model computed: np.float32(score) loses nothing."""
        if errors not in ("raise", "keep"):
            raise RiskdError("INVALID_ARGUMENT", f"errors: 'raise' or 'keep', not {errors!r}")
        k = self.num_reasons if reasons is None else reasons
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k <= 16:
            raise RiskdError("INVALID_ARGUMENT", f"reasons: 0 to 16, not {k!r}")
        if _is_series(rows):  # one row of a frame (df.iloc[i]): one record
            rows = rows.to_dict()
        if isinstance(rows, dict):
            return self._score_one(rows, int(k), request_id)
        keep = []
        inp, n, index, frame = self._input(rows, keep)
        k = int(k)
        w = self._words
        out_rows = np.zeros(n, dtype=ROW)
        codes = np.zeros(n * k, dtype=np.uint64)
        inputs = np.full(n * k, -1, dtype=np.int32)
        imps = np.full(n * k, np.nan)
        missing = np.zeros(n * w, dtype=np.uint64)
        unknown = np.zeros(n * w, dtype=np.uint64)
        errs = np.zeros(n, dtype=np.uint64)
        out = _Out(k, _ptr(out_rows), _ptr(codes), _ptr(inputs), _ptr(imps), _ptr(missing), _ptr(unknown),
                   _ptr(errs))
        err = Err()
        rc = _decide(self._handle(), ctypes.byref(inp), self._threads(threads), ctypes.byref(out), ctypes.byref(err))
        messages = self._take_errors(errs)
        check(rc, err)
        refused = np.flatnonzero(out_rows["rc"])
        if len(refused) and errors == "raise":
            i = int(refused[0])
            label = index[i] if index is not None else i
            more = f" ({len(refused) - 1} more rows refused)" if len(refused) > 1 else ""
            raise RiskdError(_lib.err_name(int(out_rows["rc"][i])), messages[i] + more, int(out_rows["rc"][i]),
                             row=label)
        result = self._frame(out_rows, codes.reshape(n, k), imps.reshape(n, k), missing.reshape(n, w),
                             unknown.reshape(n, w), index, messages if errors == "keep" else None, impacts)
        self._warn_unknown(out_rows, unknown.reshape(n, w), frame, rows)
        return result

    def _threads(self, threads):
        t = self.threads if threads is None else threads
        if not isinstance(t, (int, np.integer)) or not 0 <= t <= 64:
            raise RiskdError("INVALID_ARGUMENT", f"threads: 0 (one per core) to 64, not {t!r}")
        return int(t)

    @staticmethod
    def _take_errors(errs):
        msgs = np.empty(len(errs), dtype=object)
        for i in np.flatnonzero(errs):
            msgs[i] = take_text(int(errs[i]))
        return msgs

    def _score_one(self, record, k, request_id):
        text = _records_json([record])[1:-1]
        out, err = P(), Err()
        rc = _decide_one(self._handle(), text, len(text), k, request_id.encode() if request_id else None,
                         ctypes.byref(out), ctypes.byref(err))
        check(rc, err)
        rec = json.loads(take_text(out.value))
        if request_id is None:
            rec.pop("request_id", None)
        return rec

    def _names_of(self, mask_row):
        out = []
        for wi, word in enumerate(mask_row):
            word = int(word)
            while word:
                b = (word & -word).bit_length() - 1
                out.append(self.input_names[wi * 64 + b])
                word &= word - 1
        return tuple(out)

    def _frame(self, rows, codes, impacts, missing, unknown, index, messages, with_impacts):
        n = len(rows)
        reasons = _tuples(codes, lambda r: tuple(ctypes.string_at(int(p)).decode() for p in r if p))
        import pandas as pd
        source = pd.Categorical.from_codes(np.where(rows["rc"] != 0, -1, rows["source"]).astype(np.int8),
                                           categories=["model", "fallback"])
        cols = {
            "score": rows["score"].copy(),
            "probability": rows["probability"].copy(),
            "risk_level": _strings(rows["risk_level"]),
            "decision": _strings(rows["decision"]),
            "model_version": pd.Categorical.from_codes(np.where(rows["rc"] != 0, -1, 0).astype(np.int8),
                                                       categories=[self.name]),
            "reasons": reasons,
            "missing": _tuples(missing, self._names_of),
            "unknown": _tuples(unknown, self._names_of),
            "source": source,
            "fallback_reason": _strings(rows["fallback_reason"]),
            "fallback_rule": _strings(rows["fallback_rule"]),
        }
        if with_impacts:
            nr = rows["nreasons"]
            imp = np.empty(n, dtype=object)
            imp[:] = [tuple(impacts[i, :nr[i]].tolist()) for i in range(n)]
            cols = {**{k: v for k, v in cols.items() if k != "missing" and k != "unknown" and k != "source"
                       and k != "fallback_reason" and k != "fallback_rule"},
                    "reason_impacts": imp, **{k: cols[k] for k in ("missing", "unknown", "source",
                                                                 "fallback_reason", "fallback_rule")}}
        if messages is not None:
            cols["error"] = messages
        return pd.DataFrame(cols, index=index if index is not None else pd.RangeIndex(n))

    def _warn_unknown(self, rows, unknown, frame, given):
        """As `riskd score` says at the end: each input some rows gave a level it does not know."""
        if not unknown.size or not unknown.any():
            return
        for wi in range(unknown.shape[1]):
            col = unknown[:, wi]
            for b in range(64):
                hit = np.flatnonzero((col >> np.uint64(b)) & np.uint64(1))
                if not len(hit):
                    continue
                name = self.input_names[wi * 64 + b]
                first = int(hit[0])
                if frame is not None:
                    example = frame[name].iloc[first]
                else:
                    example = given[first].get(name) if isinstance(given[first], dict) else None
                warnings.warn(f"{self.name}: {len(hit)} row{'s' if len(hit) > 1 else ''} gave {name!r} a level the "
                              f"pipeline does not know (e.g. {example!r}); decided as a missing value",
                              RiskdWarning, stacklevel=3)

    # ------------------------------------------------------------------ the pipeline and the model alone

    def prepare(self, rows, threads=None, errors="raise"):
        """The pipeline alone: rows (as for score) into the model's input matrix, a float64
        array (n, len(features)), NaN for missing values. A row the pipeline refuses raises
        (errors="raise") or leaves a row of NaN (errors="keep")."""
        if errors not in ("raise", "keep"):
            raise RiskdError("INVALID_ARGUMENT", f"errors: 'raise' or 'keep', not {errors!r}")
        if _is_series(rows):
            rows = rows.to_dict()
        if isinstance(rows, dict):
            rows = [rows]
        keep = []
        inp, n, index, _ = self._input(rows, keep)
        x = np.empty((n, len(self.features)), dtype=np.float64)
        rc = np.zeros(n, dtype=np.int32)
        errs = np.zeros(n, dtype=np.uint64)
        err = Err()
        r = _prepare(self._handle(), ctypes.byref(inp), self._threads(threads), _ptr(x), _ptr(rc), _ptr(errs),
                     ctypes.byref(err))
        messages = self._take_errors(errs)
        check(r, err)
        bad = np.flatnonzero(rc)
        if len(bad) and errors == "raise":
            i = int(bad[0])
            raise RiskdError(_lib.err_name(int(rc[i])), messages[i], int(rc[i]),
                             row=index[i] if index is not None else i)
        return x

    def _matrix(self, matrix):
        x = np.asarray(matrix, dtype=np.float64)
        if x.ndim == 1 and x.shape[0] == len(self.features):
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise RiskdError("INVALID_ARGUMENT", f"matrix: shape (n, {len(self.features)}) for the features "
                             f"{', '.join(self.features[:4])}..., not {x.shape}")
        return np.ascontiguousarray(x)

    def predict(self, matrix, output=None, threads=None):
        """The model alone on a prepared matrix: the probability (the default for a model
        that gives one), "margin", or "points" (the default for a scorecard). One value per
        row (a bundle's model has one output)."""
        if output is None:
            output = "points" if self.info["points"] else "probability"
        if output not in _OUTPUTS:
            raise RiskdError("INVALID_ARGUMENT", f"output: probability, margin or points, not {output!r}")
        x = self._matrix(matrix)
        n = x.shape[0]
        res = np.empty(n, dtype=np.float64)  # a bundle's model has one output (checked at load)
        err = Err()
        rc = _predict(self._handle(), _ptr(x), n, _OUTPUTS[output], self._threads(threads), _ptr(res),
                      ctypes.byref(err))
        check(rc, err)
        return res

    def contributions(self, matrix, threads=None):
        """Contributions to the margin, (n, len(features) + 1) with the bias last, each row
        summing to its margin: TreeSHAP for trees (XGBoost's pred_contribs), coef * (x - mean)
        for a logistic regression. A scorecard explains itself in points lost: score(reasons=k)."""
        x = self._matrix(matrix)
        n = x.shape[0]
        out = np.empty((n, len(self.features) + 1), dtype=np.float64)
        err = Err()
        rc = _contrib(self._handle(), _ptr(x), n, self._threads(threads), _ptr(out), ctypes.byref(err))
        check(rc, err)
        return out
