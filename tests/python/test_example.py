#!/usr/bin/python3
"""examples/python/credit_notebook.py runs to its end: it trains XGBoost, exports a bundle,
scores a DataFrame with it and checks riskd serve's /v1/score gives XGBoost's scores bit for
bit (its own assertions compare with XGBoost's predict_proba and with the server).

    /usr/bin/python3 tests/python/test_example.py
Env: RISKD_LIB, RISKD_BIN (default build/release/riskd)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK = os.path.join(ROOT, "examples", "python", "credit_notebook.py")

try:
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import xgboost  # noqa: F401
except ImportError as e:
    print(f"skipped: Debian's Python packages are missing ({e})")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)

passed = failed = 0
binary = os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "release", "riskd"))
env = dict(os.environ, RISKD_BIN=binary)
try:
    r = subprocess.run([sys.executable, NOTEBOOK], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    out, rc = r.stdout + r.stderr, r.returncode
except subprocess.TimeoutExpired as e:
    out, rc = f"timed out: {e}", -1
lines = r.stdout.splitlines() if rc != -1 else []
checks = [
    ("the notebook exits 0", rc == 0),
    ("bundle.score gives XGBoost's scores bit for bit", any(l.startswith("bundle.score: ") for l in lines)),
    ("riskd serve gives the notebook's scores bit for bit", any(l.startswith("riskd serve: ") for l in lines)),
    ("it ends with ok", bool(lines) and lines[-1] == "ok"),
]
for name, ok in checks:
    print(f"{'ok  ' if ok else 'FAIL'} {name}")
    passed += ok
    failed += not ok
if failed:
    print(out)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
