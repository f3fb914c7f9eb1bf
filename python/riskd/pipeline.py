"""The pipeline spec (pipeline.json, docs/formats.md "Pipeline spec") from a pandas DataFrame.

    pipe = riskd.Pipeline.from_frame(df, label="Status", overrides={"Age": {"min": 18}})
    x = pipe.prepare(df)            # the matrix, from the C library's pipeline
    booster = xgb.train(params, xgb.DMatrix(x, label=y, feature_names=pipe.feature_names))

A Pipeline only writes the spec; it never encodes a row itself. `prepare` hands the rows to
libriskd (rd_embed_pipeline_apply), the very code `riskd serve`, `riskd score` and a bundle's
`prepare` run, so a model trained on `pipe.prepare(df)` sees in training what it will see in
production. A model trained on another encoding (pd.get_dummies, say) must name its features
as the pipeline does, in the same order: the exporters refuse a model whose feature names
differ from the pipeline's, and the bundle builder checks them again.

Inference from the dtypes, column by column (the label and `exclude` are left out):
- int and float columns: a `number` input and a `numeric` feature of the same name (a missing
  value is NaN, XGBoost's missing);
- object, string and category columns: a `category` input whose levels are the sorted levels
  seen (non-empty strings), and one `one_hot` feature per level, named "col=level" (a missing
  or unseen level sets them all to 0);
- bool columns: a `number` input bounded to [0, 1] and a `numeric` feature, True being 1. The
  pipeline takes numbers, not JSON true/false: send 0 or 1 to the service. (`prepare` and the
  exporters' CSV writer turn a bool column into 0 and 1.)
- other dtypes (datetimes, timedeltas, ...) are refused, naming the column: derive a number
  from them, or exclude them.

`overrides` maps a column to {"type": "number"|"category", "levels": [...], "min", "max",
"required", "drop"}. `dtype` is the spec's: "float32" (XGBoost's, the default) or "float64"
(for a linear model trained on doubles); `max_missing` and `unknown_inputs` are the spec's
record checks.
"""
import copy
import ctypes
import json
import math
import os

from . import _lib
from ._lib import RiskdError

_OVERRIDE_KEYS = {"type", "levels", "min", "max", "required", "drop"}
_CHUNK_ROWS = 50000

_apply = _lib.fn("rd_embed_pipeline_apply", _lib.c_int, _lib.c_char_p, _lib.c_size_t, _lib.c_char_p,
                 _lib.c_size_t, _lib.c_size_t, _lib.c_size_t, _lib.c_void_p, _lib.PErr)


def _invalid(msg):
    return RiskdError("INVALID_ARGUMENT", msg)


def _pandas():
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - Debian's python3-pandas is a dependency
        raise ImportError("riskd.Pipeline needs pandas (python3-pandas)") from e
    return pd


def _kind_of(series):
    """number, category, bool or None (a dtype no input can hold)."""
    pd = _pandas()
    t = series.dtype
    if pd.api.types.is_bool_dtype(t):
        return "bool"
    if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_complex_dtype(t):
        return "number"
    if (pd.api.types.is_object_dtype(t) or pd.api.types.is_string_dtype(t)
            or isinstance(t, pd.CategoricalDtype)):
        return "category"
    return None


def _observed_levels(series, col):
    values = series.dropna()
    bad = [v for v in values.unique() if not isinstance(v, str)]
    if bad:
        raise _invalid(
            f"column {col!r}: a category input takes strings, and it holds {type(bad[0]).__name__} "
            f"values ({bad[0]!r}): convert it (df[{col!r}].astype(str)) or override its type "
            f"to number")
    return sorted({v for v in values if v != ""})


class Pipeline:
    """A riskd pipeline spec: `spec` (a dict, a copy), `feature_names` (the model's features,
    in order), `input_names`, `write(path)`, `prepare(df)` (the matrix, computed by libriskd)."""

    def __init__(self, spec):
        if isinstance(spec, Pipeline):
            spec = spec.spec
        if not isinstance(spec, dict):
            raise _invalid(f"a pipeline spec is a dict (pipeline.json), not {type(spec).__name__}")
        feats = spec.get("features")
        if not isinstance(feats, list) or not feats:
            raise _invalid("the pipeline spec has no features (a non-empty list)")
        for i, f in enumerate(feats):
            if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
                raise _invalid(f"pipeline spec: features[{i}] has no name")
        self._spec = copy.deepcopy(spec)
        self._text = json.dumps(self._spec, indent=1, allow_nan=False).encode() + b"\n"

    # ------------------------------------------------------------------ making one
    @classmethod
    def from_frame(cls, df, label=None, exclude=(), overrides=None, dtype="float32", max_missing=None,
                   unknown_inputs=None):
        """The spec of df's columns (but label and exclude), inferred from the dtypes as the
        module says, with overrides per column."""
        pd = _pandas()
        if not isinstance(df, pd.DataFrame):
            raise _invalid(f"Pipeline.from_frame takes a pandas DataFrame, not {type(df).__name__}")
        if dtype not in ("float32", "float64"):
            raise _invalid(f"dtype: float32 or float64, not {dtype!r}")
        if isinstance(exclude, str):
            exclude = (exclude,)
        columns = [str(c) for c in df.columns]
        if len(set(columns)) != len(columns):
            raise _invalid("the frame has duplicate column names")
        overrides = dict(overrides or {})
        for col, o in overrides.items():
            if col not in columns:
                raise _invalid(f"overrides: {col!r} is not a column (the columns: {', '.join(columns)})")
            if not isinstance(o, dict):
                raise _invalid(f"overrides[{col!r}]: a dict of type, levels, min, max, required, drop")
            unknown = set(o) - _OVERRIDE_KEYS
            if unknown:
                raise _invalid(f"overrides[{col!r}]: unknown key {sorted(unknown)[0]!r} (the keys: "
                               f"{', '.join(sorted(_OVERRIDE_KEYS))})")
        for col in ([label] if label is not None else []) + list(exclude):
            if col not in columns:
                raise _invalid(f"{col!r} is not a column (the columns: {', '.join(columns)})")

        inputs, features = [], []
        for col, name in zip(df.columns, columns):
            o = overrides.get(name, {})
            if name == label or name in exclude or o.get("drop"):
                continue
            kind = _kind_of(df[col])
            want = o.get("type")
            if want not in (None, "number", "category"):
                raise _invalid(f"overrides[{name!r}].type: number or category, not {want!r}")
            if kind is None and want is None:
                raise _invalid(f"column {name!r} has dtype {df[col].dtype}, which no input holds: derive a "
                               f"number from it, or exclude it")
            inp = {"name": name}
            if kind == "bool" and want in (None, "number"):
                inp.update(type="number", min=0, max=1)
                features.append({"name": name, "source": name, "kind": "numeric"})
            elif want == "number" or (want is None and kind == "number"):
                if kind == "category":
                    raise _invalid(f"overrides[{name!r}]: type number for a column of strings: convert it "
                                   f"(pd.to_numeric) first, so the model and the pipeline read the same numbers")
                inp["type"] = "number"
                features.append({"name": name, "source": name, "kind": "numeric"})
            else:
                if kind != "category":
                    raise _invalid(f"overrides[{name!r}]: type category for a {df[col].dtype} column: "
                                   f"convert it to strings (df[{name!r}].astype(str)) first")
                levels = o.get("levels")
                if levels is None:
                    levels = _observed_levels(df[col], name)
                elif (not isinstance(levels, (list, tuple)) or not all(isinstance(v, str) and v for v in levels)
                      or len(set(levels)) != len(levels)):
                    raise _invalid(f"overrides[{name!r}].levels: a list of distinct non-empty strings")
                if not levels:
                    raise _invalid(f"column {name!r}: no level seen (every value missing): exclude it or "
                                   f"give its levels")
                inp.update(type="category", levels=list(levels))
                for lv in levels:
                    features.append({"name": f"{name}={lv}", "source": name, "kind": "one_hot", "level": lv})
            for key in ("min", "max"):
                if key in o:
                    if inp["type"] != "number":
                        raise _invalid(f"overrides[{name!r}].{key}: only a number input has bounds")
                    v = o[key]
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                        raise _invalid(f"overrides[{name!r}].{key}: a finite number")
                    inp[key] = v
            if "required" in o:
                if not isinstance(o["required"], bool):
                    raise _invalid(f"overrides[{name!r}].required: True or False")
                if o["required"]:
                    inp["required"] = True
            inputs.append(inp)
        if not features:
            raise _invalid("no column is left to be an input")
        spec = {"dtype": dtype, "inputs": inputs, "features": features}
        if max_missing is not None:
            spec["max_missing"] = max_missing
        if unknown_inputs is not None:
            if unknown_inputs not in ("reject", "warn", "ignore"):
                raise _invalid(f"unknown_inputs: reject, warn or ignore, not {unknown_inputs!r}")
            spec["unknown_inputs"] = unknown_inputs
        p = cls(spec)
        p._check()
        return p

    @classmethod
    def load(cls, path):
        """A pipeline.json file."""
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    @classmethod
    def of(cls, pipeline):
        """A Pipeline from a Pipeline, a spec dict or the path of a pipeline.json."""
        if isinstance(pipeline, Pipeline):
            return pipeline
        if isinstance(pipeline, dict):
            return cls(pipeline)
        if isinstance(pipeline, (str, bytes, os.PathLike)):
            return cls.load(pipeline)
        raise _invalid(f"a pipeline is a riskd.Pipeline, a spec dict or the path of a pipeline.json, not "
                       f"{type(pipeline).__name__}")

    # ------------------------------------------------------------------ what it holds
    @property
    def spec(self):
        """The spec, as a dict (a copy)."""
        return copy.deepcopy(self._spec)

    @property
    def feature_names(self):
        """The model's features, in the order the pipeline produces them."""
        return [f["name"] for f in self._spec["features"]]

    @property
    def inputs(self):
        """The raw inputs: [{name, type, ...}], declared or inferred from the features."""
        declared = {i["name"]: i for i in self._spec.get("inputs", []) if isinstance(i, dict) and "name" in i}
        out = list(declared.values())
        for f in self._spec["features"]:
            src = f.get("source", f["name"])
            if src not in declared:
                number = f.get("kind") == "numeric" or (f.get("kind") == "woe" and "cuts" in f)
                declared[src] = {"name": src, "type": "number" if number else "category"}
                out.append(declared[src])
        return copy.deepcopy(out)

    @property
    def input_names(self):
        return [i["name"] for i in self.inputs]

    def to_json(self):
        return self._text.decode()

    def write(self, path):
        """Write the spec as pipeline.json (UTF-8, indented)."""
        with open(path, "wb") as f:
            f.write(self._text)
        return path

    def __repr__(self):
        return f"riskd.Pipeline({len(self.inputs)} inputs, {len(self._spec['features'])} features)"

    def __eq__(self, other):
        return isinstance(other, Pipeline) and self._spec == other._spec

    # ------------------------------------------------------------------ the C pipeline
    def _check(self):
        """Parse the spec with libriskd (RiskdError naming the fault)."""
        self.prepare(None)

    def records(self, df):
        """The rows of df as the records the pipeline reads (JSON-ready dicts of input values):
        NaN and None missing, bools 0 and 1, categories as strings."""
        pd = _pandas()
        cols = {}
        names = [str(c) for c in df.columns]
        absent = [i["name"] for i in self.inputs if i["name"] not in names]
        if absent:
            raise _invalid(f"the frame lacks the inputs {', '.join(map(repr, absent))} (add them as empty "
                           f"columns if every row lacks them)")
        for inp in self.inputs:
            s = df[df.columns[names.index(inp["name"])]]
            if inp["type"] == "number":
                if pd.api.types.is_bool_dtype(s.dtype):
                    s = s.astype("float64")
                if pd.api.types.is_numeric_dtype(s.dtype):
                    v = s.to_numpy(dtype="float64", na_value=float("nan"))
                    vals = [None if x != x else x for x in v.tolist()]
                else:  # text read from a CSV, say: numeric strings, read by the pipeline as a CSV field is
                    vals = [_number_cell(inp["name"], x) for x in s.tolist()]
                if any(isinstance(x, float) and math.isinf(x) for x in vals):
                    raise _invalid(f"column {inp['name']!r} holds an infinity, which no input takes")
            else:
                vals = [None if (x is None or (isinstance(x, float) and x != x) or x is pd.NA) else
                        x if isinstance(x, str) else _not_a_level(inp["name"], x) for x in s.tolist()]
            cols[inp["name"]] = vals
        keys = list(cols)
        return [dict(zip(keys, row)) for row in zip(*cols.values())] if keys else [{} for _ in range(len(df))]

    def prepare(self, df):
        """The model's input matrix of df's rows (numpy float64, one column per feature in
        feature order, NaN missing), computed by libriskd's pipeline: what a bundle built
        with this pipeline feeds its model. A row the pipeline refuses (a value that is not
        a number, a bound broken) raises RiskdError naming the row (0-based) and the input."""
        import numpy as np
        nf = len(self._spec["features"])
        spec = self._text
        if df is None:  # only parse the spec
            x = np.empty((0, nf))
            _lib_call(spec, b"[]", 0, nf, x)
            return x
        recs = self.records(df)
        x = np.empty((len(recs), nf), dtype=np.float64)
        for start in range(0, len(recs), _CHUNK_ROWS):
            chunk = recs[start:start + _CHUNK_ROWS]
            text = json.dumps(chunk, allow_nan=False, separators=(",", ":")).encode()
            try:
                _lib_call(spec, text, len(chunk), nf, x[start:start + len(chunk)])
            except RiskdError as e:
                if start and e.message.startswith("row "):
                    head, _, rest = e.message.partition(": ")
                    e = RiskdError(e.code, f"row {int(head[4:]) + start}: {rest}", e.status)
                raise e from None
        return x


def _number_cell(name, x):
    if x is None or x is _pandas().NA or (isinstance(x, float) and x != x):
        return None
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, (int, float, str)):
        return x
    if hasattr(x, "item"):  # a numpy scalar
        return _number_cell(name, x.item())
    raise _invalid(f"column {name!r}: a number input takes numbers or numeric text, not {type(x).__name__} ({x!r})")


def _not_a_level(name, x):
    raise _invalid(f"column {name!r}: a category input takes strings, not {type(x).__name__} ({x!r})")


def _lib_call(spec, rows, n, nf, x):
    err = _lib.Err()
    ptr = x.ctypes.data if x.size else None
    rc = _apply(spec, len(spec), rows, len(rows), n, nf, ptr, ctypes.byref(err))
    _lib.check(rc, err)
