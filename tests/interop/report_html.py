#!/usr/bin/env python3
"""Helpers of tests/interop/report_html.mjs (not a suite by itself).

  report_html.py render LIB KIND IN.json OUT.html
      rd_report_html of libriskd (LIB: build/release/libriskd.so) over the bytes of IN.json.
  report_html.py validate SCHEMA.json DOC.json
      DOC against the JSON Schema (draft 2020-12) with python3-jsonschema; exit 0 when valid,
      1 with the errors on stdout when not, 3 when python3-jsonschema is not installed.
"""
import ctypes
import json
import sys


class RdBuf(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("cap", ctypes.c_size_t),
                ("oom", ctypes.c_int)]


def render(lib_path, kind, src, dst):
    lib = ctypes.CDLL(lib_path)
    lib.rd_buf_init.argtypes = [ctypes.POINTER(RdBuf)]
    lib.rd_buf_deinit.argtypes = [ctypes.POINTER(RdBuf)]
    lib.rd_report_html.argtypes = [ctypes.POINTER(RdBuf), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_report_html.restype = None
    with open(src, "rb") as f:
        data = f.read()
    buf = RdBuf()
    lib.rd_buf_init(ctypes.byref(buf))
    try:
        lib.rd_report_html(ctypes.byref(buf), kind.encode(), data, len(data))
        if buf.oom:
            print("rd_report_html: out of memory", file=sys.stderr)
            return 1
        out = ctypes.string_at(buf.data, buf.len) if buf.len else b""
    finally:
        lib.rd_buf_deinit(ctypes.byref(buf))
    with open(dst, "wb") as f:
        f.write(out)
    return 0


def validate(schema_path, doc_path):
    try:
        import jsonschema
    except ImportError:
        print("python3-jsonschema not installed")
        return 3
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(doc_path, encoding="utf-8") as f:
        doc = json.load(f)
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:20]:
        print("/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message)
    return 1 if errors else 0


def main(argv):
    if len(argv) == 6 and argv[1] == "render":
        return render(argv[2], argv[3], argv[4], argv[5])
    if len(argv) == 4 and argv[1] == "validate":
        return validate(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
