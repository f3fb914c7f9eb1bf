"""What the Python tests share: paths, the skip rule, a check counter, the CLI and a server.

RISKD_LIB, RISKD_BIN and RISKD_SHARED say where the library, the riskd command and the shared
data are (defaults: the tree's release build and ../shared)."""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "release", "riskd"))
SHARED = os.environ.get("RISKD_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
sys.path.insert(0, os.path.join(ROOT, "python"))


def need(*modules):
    """Skip the whole script (one line, a zero exit) when a Debian Python package is missing."""
    missing = []
    for m in modules:
        try:
            __import__(m)
        except ImportError:
            missing.append(m)
    if missing:
        deb = {"sklearn": "python3-sklearn", "dask": "python3-dask", "xgboost": "python3-xgboost"}
        pk = " ".join(deb.get(m, "python3-" + m) for m in missing)
        print(f"skipped: Debian's Python packages missing ({pk}; scripts/deps.sh installs them)")
        print("0 passed, 0 failed, 1 skipped")
        sys.exit(0)


class Checks:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""))
        return cond

    def skip(self, what):
        self.skipped += 1
        print(f"skip {what}")

    def raises(self, fn, code, what, contains=None):
        """fn() must raise riskd.RiskdError with this code (and text)."""
        import riskd
        try:
            fn()
        except riskd.RiskdError as e:
            good = e.code == code and (contains is None or contains in str(e))
            return self.ok(good, what, f"got {e.code}: {e}")
        except Exception as e:  # noqa: BLE001 - anything else is the failure being tested for
            return self.ok(False, what, f"raised {type(e).__name__}: {e}")
        return self.ok(False, what, "no exception")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        sys.exit(1 if self.failed else 0)


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, **kw)


def build_bundle(out_dir, name, model, pipeline=None, data=None, label="Status", positive="bad", extra=()):
    args = ["bundle", "build", "--name", name, "--model", model, "--data", data, "--label", label,
            "--positive", positive, "--out", os.path.join(out_dir, name), *extra]
    if pipeline:
        args += ["--pipeline", pipeline]
    r = run(*args)
    if r.returncode != 0:
        raise RuntimeError(f"riskd bundle build {name}: {r.stderr}")
    return os.path.join(out_dir, name)


class Server:
    """riskd serve on a kernel-chosen loopback port; stopped with SIGTERM."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="riskd-py-")
        self.out = open(os.path.join(self.dir, "serve.out"), "w+")
        self.err = open(os.path.join(self.dir, "serve.err"), "w+")
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                                      os.path.join(self.dir, "data"), *args], stdout=self.out, stderr=self.err)
        self.url = None
        for _ in range(400):
            self.out.seek(0)
            for line in self.out.read().splitlines():
                if line.startswith("listening on "):
                    self.url = line[len("listening on "):].strip()
            if self.url or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.url:
            self.err.seek(0)
            raise RuntimeError("riskd serve did not start: " + self.err.read()[-2000:])
        hostport = self.url.split("//", 1)[1].rstrip("/")
        self.host, self.port = hostport.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)

    def post(self, path, body):
        data = json.dumps(body).encode()
        self.conn.request("POST", path, data, {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"null")

    def stop(self):
        self.conn.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)
