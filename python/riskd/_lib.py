"""Loading libriskd and calling it: the one place that knows where the library is and how an
error crosses from C to Python.

The library is looked for, in order: $RISKD_LIB; libriskd.so beside this package (an
installed package, `make python`); the source tree's build/release/libriskd.so. `riskd.LIBRARY`
says which file was loaded.
"""
import ctypes
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


class RiskdError(Exception):
    """An error riskd reported: `code` is the stable name (INVALID_ARGUMENT, TYPE_MISMATCH,
    PARSE_ERROR, ...), `status` the C code, `message` riskd's own message, `row` the row (a
    frame's index label) it is about, or None."""

    __module__ = "riskd"


    def __init__(self, code, message, status=None, row=None):
        self.code = code
        self.message = message
        self.status = status
        self.row = row
        where = f"row {row}: " if row is not None else ""
        super().__init__(f"{code}: {where}{message}")


class Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


def _candidates():
    env = os.environ.get("RISKD_LIB")
    if env:
        return [("RISKD_LIB", env)]
    out = [("beside the package", os.path.join(_HERE, "libriskd.so"))]
    root = os.path.dirname(os.path.dirname(_HERE))
    out.append(("the build directory", os.path.join(root, "build", "release", "libriskd.so")))
    return out


def _stale(how, path):
    """A copy beside the package older than the tree's fresh build: said, not silently used."""
    if how != "beside the package":
        return
    fresh = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "build", "release", "libriskd.so")
    if os.path.exists(fresh) and os.path.getmtime(fresh) > os.path.getmtime(path):
        import warnings
        warnings.warn(f"riskd: loading {path}, older than {fresh}: run `make python` to refresh it",
                      stacklevel=3)


def _load():
    tried = []
    for how, path in _candidates():
        if os.path.exists(path):
            _stale(how, path)
            try:
                return ctypes.CDLL(path), os.path.abspath(path)
            except OSError as e:
                tried.append(f"{path} ({how}): {e}")
                continue
        tried.append(f"{path} ({how}): no such file")
    raise ImportError("riskd: libriskd.so not found; tried " + "; ".join(tried) +
                      ". Build it with `make` or point RISKD_LIB at it.")


lib, LIBRARY = _load()

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_size_t = ctypes.c_size_t
c_int = ctypes.c_int
c_double = ctypes.c_double
PErr = ctypes.POINTER(Err)


def fn(name, res, *args):
    """Declare a library function's signature once."""
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_err_name = fn("rd_err_name", c_char_p, c_int)
_free = fn("rd_embed_free", None, c_void_p)
version = fn("rd_version", c_char_p)().decode()


def err_name(code):
    return _err_name(code).decode()


def check(rc, err, row=None):
    """Raise the RiskdError a non-zero return carries."""
    if rc != 0:
        raise RiskdError(err_name(err.code or rc), err.msg.decode("utf-8", "replace"), rc, row)


def take_text(ptr):
    """Text the library allocated (char *), decoded and freed."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        _free(ptr)


def path_bytes(p):
    return os.fsencode(os.fspath(p))
