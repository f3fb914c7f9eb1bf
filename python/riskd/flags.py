"""riskd.Flags: a flagd flag set evaluated in process by libriskd, the engine `riskd serve`
answers OFREP with, so a notebook resolves a flag exactly as the service does.

    import riskd
    flags = riskd.Flags("examples/flags/routing.json")
    r = flags.evaluate("credit-model-route", {"targetingKey": "u1"}, default="champion")
    r.value, r.variant, r.reason          # 'champion', 'champion', 'TARGETING_MATCH'

OpenFeature semantics: the default's Python type is the type asked for (bool: boolean, str:
string, int: integer, float: float, dict or list: object; None: the flag's own, no check).
Whenever the flag yields no value (a disabled flag, a code default, an error: FLAG_NOT_FOUND,
TYPE_MISMATCH, PARSE_ERROR, ...) the Resolution's value is the default; an error is reason
"ERROR" with error_code and error_message, not an exception. Exceptions (RiskdError) are for
the caller's own mistakes: a flag file that cannot be read or parsed, a context that is not
a JSON object.
"""
import ctypes
import dataclasses
import json
import os
from typing import Any, Optional

from . import _lib
from ._lib import Err, RiskdError, check, fn, path_bytes, take_text

P = ctypes.c_void_p
_open = fn("rd_embed_flags_open", ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(P),
           _lib.PErr)
_parse = fn("rd_embed_flags_parse", ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
            ctypes.POINTER(P), _lib.PErr)
_free = fn("rd_embed_flags_free", None, P)
_keys = fn("rd_embed_flags_keys", ctypes.c_int, P, ctypes.POINTER(P), _lib.PErr)
_eval = fn("rd_embed_flags_evaluate", ctypes.c_int, P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
           ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int64, ctypes.POINTER(P), _lib.PErr)

TYPES = ("boolean", "string", "integer", "float", "object")


@dataclasses.dataclass(frozen=True)
class Resolution:
    """OpenFeature resolution details. value: the flag's value, or the default when it gave
    none; variant None when none; reason STATIC, DEFAULT, TARGETING_MATCH, DISABLED or ERROR;
    error_code (FLAG_NOT_FOUND, PARSE_ERROR, TYPE_MISMATCH, GENERAL, INVALID_CONTEXT) and
    error_message None unless reason is ERROR; flag_metadata the set's metadata merged with
    the flag's (a dict, never None)."""
    key: str
    value: Any
    variant: Optional[str]
    reason: str
    error_code: Optional[str] = None
    error_message: Optional[str] = None
    flag_metadata: dict = dataclasses.field(default_factory=dict)


def type_of(default):
    """The OpenFeature type a default asks for (None: the flag's own)."""
    if default is None:
        return None
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, str):
        return "string"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "float"
    if isinstance(default, (dict, list, tuple)):
        return "object"
    try:  # numpy scalars
        import numpy as np
        if isinstance(default, np.bool_):
            return "boolean"
        if isinstance(default, np.integer):
            return "integer"
        if isinstance(default, np.floating):
            return "float"
    except ImportError:  # pragma: no cover
        pass
    raise RiskdError("INVALID_ARGUMENT", f"default: a bool, str, int, float, dict or list (or None), "
                                         f"not {_typename(default)}")


def _text(x, what):
    """bytes of JSON text, str as UTF-8."""
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    if isinstance(x, str):
        return x.encode("utf-8", "surrogatepass")
    raise RiskdError("INVALID_ARGUMENT", f"{what}: JSON text (str or bytes), not {_typename(x)}")


class Flags:
    """A flagd flag set: Flags(path), Flags(dict) (the file's JSON as a dict) or Flags(bytes or
    str of JSON text: Flags.from_text). lenient=True accepts what flagd accepts (a flag whose
    targeting cannot compile evaluates to ERROR/PARSE_ERROR) instead of refusing the file, as
    `riskd serve --lenient`; fractional=2 (flagd's bucketing, the default) or 3.
    timestamp: what $flagd.timestamp reads (unix seconds; None: now), as `riskd serve
    --fixed-time`. A file that cannot be read raises RiskdError IO_ERROR; one that is not JSON
    PARSE_ERROR; one the flagd schema refuses INVALID_ARGUMENT (the message names the flag and
    JSON path)."""

    def __init__(self, source, lenient=False, fractional=2, timestamp=None):
        self._h = None
        self.lenient = bool(lenient)
        if fractional not in (2, 3):
            raise RiskdError("INVALID_ARGUMENT", f"fractional: 2 or 3, not {fractional!r}")
        self.fractional = fractional
        self.timestamp = self._timestamp(timestamp)
        h = P()
        err = Err()
        if isinstance(source, dict):
            try:
                text = json.dumps(source, allow_nan=False, ensure_ascii=False).encode("utf-8")
            except (TypeError, ValueError) as e:
                raise RiskdError("PARSE_ERROR", f"flag set: {e}") from None
            rc = _parse(text, len(text), int(self.lenient), fractional, ctypes.byref(h), ctypes.byref(err))
            self.source = "<dict>"
        elif isinstance(source, (bytes, bytearray, memoryview)):
            text = bytes(source)
            rc = _parse(text, len(text), int(self.lenient), fractional, ctypes.byref(h), ctypes.byref(err))
            self.source = "<bytes>"
        elif isinstance(source, (str, os.PathLike)):
            rc = _open(path_bytes(source), int(self.lenient), fractional, ctypes.byref(h), ctypes.byref(err))
            self.source = os.fspath(source)
        else:
            raise RiskdError("INVALID_ARGUMENT", f"a flag file path, a dict or JSON bytes, not {_typename(source)}")
        check(rc, err)
        self._h = h

    @classmethod
    def from_text(cls, text, **kw):
        """A flag set from its JSON text (str or bytes)."""
        return cls(_text(text, "flag set"), **kw)

    @staticmethod
    def _timestamp(t):
        if t is None:
            return 0
        if isinstance(t, bool) or not isinstance(t, int) or t <= 0:
            raise RiskdError("INVALID_ARGUMENT", f"timestamp: unix seconds above 0 (None: now), not {t!r}")
        return t

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

    def _handle(self):
        if not self._h:
            raise RiskdError("INVALID_ARGUMENT", "the flag set is closed")
        return self._h

    def __repr__(self):
        n = len(self.keys()) if self._h else "closed"
        return f"riskd.Flags({self.source!r}, {n} flags)"

    def keys(self):
        """The flag keys, in the file's order."""
        out = P()
        err = Err()
        check(_keys(self._handle(), ctypes.byref(out), ctypes.byref(err)), err)
        return json.loads(take_text(out))

    def __contains__(self, key):
        return key in self.keys()

    def __len__(self):
        return len(self.keys())

    def details(self, key, context=None, type=None, timestamp=None):
        """The library's answer as a dict {"key", "value" (absent when the caller's default
        applies), "variant", "reason", "errorCode", "errorMessage", "flagMetadata"}: OFREP's
        fields, before any default. type: one of TYPES or None (no type check)."""
        if type is not None and type not in TYPES:
            raise RiskdError("INVALID_ARGUMENT", f"type: one of {', '.join(TYPES)} (or None), not {type!r}")
        kb = _text(key, "key") if isinstance(key, (bytes, str)) else None
        if kb is None:
            raise RiskdError("INVALID_ARGUMENT", f"key: a str, not {_typename(key)}")
        if context is None:
            ctx = b""
        elif isinstance(context, (bytes, bytearray, memoryview, str)):
            ctx = _text(context, "context")  # JSON text, as an OFREP body's context
        elif isinstance(context, dict):
            try:
                ctx = json.dumps(context, ensure_ascii=False, default=_json_default).encode("utf-8", "surrogatepass")
            except (TypeError, ValueError) as e:
                raise RiskdError("INVALID_ARGUMENT", f"context: {e}") from None
        else:
            raise RiskdError("INVALID_ARGUMENT", f"context: a dict (or JSON text), not {_typename(context)}")
        ts = self.timestamp if timestamp is None else self._timestamp(timestamp)
        out = P()
        err = Err()
        rc = _eval(self._handle(), kb, len(kb), type.encode() if type else None, ctx, len(ctx), ts,
                   ctypes.byref(out), ctypes.byref(err))
        check(rc, err)
        return json.loads(take_text(out))

    def evaluate(self, key, context=None, default=None, type=None, timestamp=None):
        """Resolve flag key for context (a dict, e.g. {"targetingKey": "u1", ...}, or JSON
        text) as OpenFeature does: the type asked for is the default's (type= overrides it),
        and the Resolution's value is the default whenever the flag gives none."""
        t = type if type is not None else type_of(default)
        d = self.details(key, context, t, timestamp)
        has = "value" in d
        value = d["value"] if has else default
        if has and d["reason"] != "ERROR":
            if t == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif t == "integer" and isinstance(value, float):
                value = int(value)
        return Resolution(key=d["key"], value=value, variant=d["variant"], reason=d["reason"],
                          error_code=d["errorCode"], error_message=d["errorMessage"],
                          flag_metadata=d["flagMetadata"])

    def evaluate_boolean(self, key, default, context=None):
        return self._typed(key, default, context, "boolean", bool)

    def evaluate_string(self, key, default, context=None):
        return self._typed(key, default, context, "string", str)

    def evaluate_integer(self, key, default, context=None):
        return self._typed(key, default, context, "integer", int)

    def evaluate_float(self, key, default, context=None):
        return self._typed(key, default, context, "float", (int, float))

    def evaluate_object(self, key, default, context=None):
        return self._typed(key, default, context, "object", (dict, list))

    def _typed(self, key, default, context, t, cls):
        if default is not None and (not isinstance(default, cls) or (t != "boolean" and isinstance(default, bool))):
            raise RiskdError("INVALID_ARGUMENT", f"evaluate_{t}: the default must be of that type, "
                                                 f"not {_typename(default)}")
        return self.evaluate(key, context, default, type=t)


def _typename(v):
    return v.__class__.__name__


def _json_default(v):
    try:
        import numpy as np
        if isinstance(v, np.generic):
            return v.item()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"{v.__class__.__name__} is not a JSON value")
