#!/usr/bin/python3
"""The committed fuzz corpora (tests/fuzz/corpus) through the Python binding: every input must
give a result or a RiskdError (or ValueError); anything else (SystemError, a ctypes error, a
segfault, an abort) fails, naming the file.

  fuzz_flagset                   each file as a flag set: riskd.Flags(bytes), strict and lenient,
                                 fractional v2 and v3; what parses has every flag evaluated
  fuzz_json, fuzz_pipeline       each file (a pipeline input: the record after its NUL) as an
                                 evaluation context (JSON text, and the parsed dict) for every flag
                                 of a flag set with every operator; and as records for
                                 riskd.Bundle.score (one dict, a list) when the package has Bundle
  fuzz_xgboost, fuzz_scorecard,  each file as the model of a copy of a built bundle (manifest
  fuzz_lightgbm                  checksums and digest made to match, so the model is parsed):
                                 riskd.Bundle must load it or raise RiskdError; what loads scores

Each corpus runs in a child process, so a crash is a signal exit of the child: the parent
names the file being run (the child writes it before each input) and starts a new child
after it. Run: /usr/bin/python3 tests/python/test_fuzz_binding.py (RISKD_LIB, RISKD_BIN).
"""
import decimal
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
BIN = os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "release", "riskd"))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
CORPORA = ["fuzz_flagset", "fuzz_json", "fuzz_pipeline", "fuzz_xgboost", "fuzz_scorecard", "fuzz_lightgbm"]
MODEL_CORPORA = {"fuzz_xgboost": ("model.json", "xgboost"), "fuzz_scorecard": ("scorecard.json", "scorecard"),
                 "fuzz_lightgbm": ("model.txt", "lightgbm")}

# A flag set with every operator riskd knows, for the contexts.
FLAGS = {
    "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@bank.example"]}},
    "metadata": {"flagSetId": "fuzz"},
    "flags": {
        "frac": {"state": "ENABLED", "variants": {"a": 1, "b": 2, "c": 3}, "defaultVariant": "a",
                 "targeting": {"fractional": [["a", 30], ["b", 30], ["c", 40]]}},
        "frac-seeded": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a",
                        "targeting": {"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]},
                                                     ["a", 50], ["b", 50]]}},
        "ops": {"state": "ENABLED", "variants": {"y": True, "n": False}, "defaultVariant": "n",
                "targeting": {"if": [{"or": [{"$ref": "staff"}, {"in": [{"var": "tier"}, ["gold", "x"]]},
                                             {"sem_ver": [{"var": "version"}, "^", "1.2.0"]},
                                             {"starts_with": [{"var": "name"}, "a"]},
                                             {">": [{"var": "age"}, 30]}, {"<=": [{"var": "n"}, {"var": "m"}]},
                                             {"==": [{"var": "a.b.c"}, 1]}, {"!": {"var": "z"}},
                                             {"some": [{"var": "list"}, {"==": [{"var": ""}, 2]}]},
                                             {"substr": [{"var": "s"}, 1, 2]}, {"merge": [{"var": "l"}, [1]]},
                                             {"%": [{"var": "n"}, 3]}, {"max": [{"var": "n"}, 1]},
                                             {"<": [1, {"var": "$flagd.timestamp"}]}]}, "y", "n"]}},
        "object": {"state": "ENABLED", "variants": {"o": {"k": [1, {"x": None}]}, "p": {}}, "defaultVariant": "o",
                   "targeting": {"if": [{"==": [{"var": "targetingKey"}, "p"]}, "p", None]}},
        "off": {"state": "DISABLED", "variants": {"a": 1.5}, "defaultVariant": "a"},
    },
}
DEFAULTS = [None, True, "s", 3, 2.5, {"d": 1}]


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------- a bundle's digest (RFC 8785)

def js_number(x):
    """A number as ECMAScript's Number#toString prints it."""
    if isinstance(x, bool):
        raise TypeError("bool")
    if isinstance(x, int) and abs(x) < 10**21:
        return str(x)
    x = float(x)
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    d = decimal.Decimal(repr(abs(x)))
    _, digits, exp = d.as_tuple()
    s = "".join(map(str, digits)).rstrip("0")
    exp += len(digits) - len(s) if digits else 0
    k = len(s)
    n = k + exp
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + s
    else:
        e = n - 1
        out = (s if k == 1 else s[0] + "." + s[1:]) + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return sign + out


def canonical(v):
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return js_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v[k]) for k in keys) + "}"
    raise TypeError(type(v).__name__)


def manifest_digest(m):
    m = {k: v for k, v in m.items() if k != "digest"}
    return sha256(canonical(m).encode("utf-8"))


def bundle_with_model(base, work, name, data, fmt):
    """A copy of bundle base in work whose model is data (file name, format), manifest made to match."""
    d = os.path.join(work, os.path.basename(base))
    if os.path.isdir(d):
        shutil.rmtree(d)
    shutil.copytree(base, d)
    m = json.load(open(os.path.join(d, "manifest.json"), encoding="utf-8"))
    old = m["model"]["file"]
    os.remove(os.path.join(d, old))
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    m["model"]["file"] = name
    m["model"]["format"] = fmt
    files = {k: v for k, v in m["files"].items() if k != old}
    files[name] = sha256(data)
    m["files"] = files
    m["digest"] = manifest_digest(m)
    with open(os.path.join(d, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(m, f, ensure_ascii=False)
    return d


# ---------------------------------------------------------------- the child: one corpus

def child(corpus, start_after, base_bundle, progress):
    import riskd
    from riskd import Flags, RiskdError
    ok_exc = (RiskdError, ValueError)
    bundle_cls = getattr(riskd, "Bundle", None)
    has_bundle = bundle_cls is not None and hasattr(bundle_cls, "score")
    files = sorted(os.listdir(os.path.join(CORPUS, corpus)))
    if start_after:
        files = files[files.index(start_after) + 1:]
    stats = {"inputs": 0, "results": 0, "refused": 0, "bad": [], "bundle": has_bundle}
    fl = Flags(FLAGS, timestamp=1767225600)
    keys = fl.keys() + ["missing"]
    bundle = None
    if has_bundle and corpus in ("fuzz_json", "fuzz_pipeline") and base_bundle:
        bundle = bundle_cls(base_bundle)
    work = tempfile.mkdtemp(prefix="riskd-fuzz-binding-")

    def attempt(label, fn):
        try:
            fn()
            stats["results"] += 1
        except ok_exc:
            stats["refused"] += 1
        except Exception as e:  # anything else is a binding bug
            stats["bad"].append(f"{label}: {e.__class__.__name__}: {str(e)[:200]}")

    def eval_all(f, ctx):
        for k in f.keys()[:40] + ["missing"]:
            for d in DEFAULTS:
                attempt(f"evaluate {k!r} default {d!r}", lambda: f.evaluate(k, ctx, d))

    try:
        for name in files:
            with open(progress, "w") as p:
                p.write(name)
            data = open(os.path.join(CORPUS, corpus, name), "rb").read()
            stats["inputs"] += 1
            where = f"{corpus}/{name}"
            if corpus == "fuzz_flagset":
                for kw in ({}, {"lenient": True}, {"lenient": True, "fractional": 3}):
                    try:
                        f = Flags(data, **kw)
                    except ok_exc:
                        stats["refused"] += 1
                        continue
                    except Exception as e:
                        stats["bad"].append(f"{where}: Flags({kw}): {e.__class__.__name__}: {str(e)[:200]}")
                        continue
                    stats["results"] += 1
                    for ctx in (None, {}, {"targetingKey": "u1", "email": "a@bank.example", "age": 40},
                                '{"targetingKey": 5, "tier": [1]}'):
                        eval_all(f, ctx)
                    f.close()
            elif corpus in ("fuzz_json", "fuzz_pipeline"):
                texts = [data]
                if corpus == "fuzz_pipeline" and b"\0" in data:
                    texts = [data.split(b"\0", 1)[1], data.split(b"\0", 1)[0]]
                for t in texts:
                    for k in keys:
                        attempt(f"{where}: evaluate {k!r} with the bytes as context",
                                lambda: fl.evaluate(k, t, "dflt"))
                    try:
                        v = json.loads(t)
                    except (ValueError, UnicodeDecodeError):
                        continue
                    if isinstance(v, dict):
                        for k in keys:
                            for d in DEFAULTS:
                                attempt(f"{where}: evaluate {k!r} with the dict, default {d!r}",
                                        lambda: fl.evaluate(k, v, d))
                    if bundle is not None:
                        if isinstance(v, dict):
                            attempt(f"{where}: Bundle.score(dict)", lambda: bundle.score(v))
                            attempt(f"{where}: Bundle.score([dict, dict], errors='keep')",
                                    lambda: bundle.score([v, v], errors="keep"))
                        elif isinstance(v, list):
                            attempt(f"{where}: Bundle.score(list)", lambda: bundle.score(v, errors="keep"))
                    try:  # the bytes as a flag set too
                        Flags(t, lenient=True).close()
                        stats["results"] += 1
                    except ok_exc:
                        stats["refused"] += 1
                    except Exception as e:
                        stats["bad"].append(f"{where}: Flags(bytes): {e.__class__.__name__}: {str(e)[:200]}")
            elif corpus in MODEL_CORPORA:
                if not has_bundle or not base_bundle:
                    continue
                fname, fmt = MODEL_CORPORA[corpus]
                d = bundle_with_model(base_bundle, work, fname, data, fmt)

                def load_and_score():
                    b = bundle_cls(d)
                    try:
                        samples = [s["record"] for s in json.load(open(os.path.join(d, "manifest.json")))["samples"]]
                        b.score(samples[:4], errors="keep")
                        b.score(samples[0])
                    finally:
                        b.close()
                attempt(f"{where}: Bundle(model)", load_and_score)
            if len(stats["bad"]) > 20:
                break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(stats))
    sys.stdout.flush()


# ---------------------------------------------------------------- the parent

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


def skip(name, why):
    global skipped
    skipped += 1
    print(f"skip {name}: {why}")


def build_base(tmp):
    """credit_xgb_v1.0 built by `riskd bundle build` (the reference bundle the models go into)."""
    if not os.access(BIN, os.X_OK):
        return None
    src = os.path.join(ROOT, "examples", "models", "credit_xgb_v1.0")
    out = os.path.join(tmp, "bundles", "credit_xgb_v1.0")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    p = subprocess.run([BIN, "bundle", "build", "--name", "credit_xgb_v1.0", "--model", f"{src}/model.json",
                        "--pipeline", f"{src}/pipeline.json", "--data",
                        os.path.join(ROOT, "examples", "data", "credit_data.csv"), "--label", "Status", "--positive",
                        "bad", "--fallback", f"{src}/fallback.json", "--out", out], capture_output=True, timeout=120)
    return out if p.returncode == 0 else None


def run_corpus(corpus, base, tmp):
    progress = os.path.join(tmp, f"{corpus}.progress")
    start = ""
    total = {"inputs": 0, "results": 0, "refused": 0, "bad": [], "bundle": False}
    crashes = []
    for _ in range(50):  # a new child after each crash
        if os.path.exists(progress):
            os.remove(progress)
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", corpus, start, base or "", progress],
                           capture_output=True, timeout=300)
        last = open(progress).read() if os.path.exists(progress) else ""
        if p.returncode == 0:
            try:
                st = json.loads(p.stdout.decode().strip().splitlines()[-1])
            except (ValueError, IndexError):
                crashes.append(f"the child printed no summary: {p.stdout.decode()[-300:]} {p.stderr.decode()[-300:]}")
                break
            for k in ("inputs", "results", "refused"):
                total[k] += st[k]
            total["bad"] += st["bad"]
            total["bundle"] = st["bundle"]
            break
        how = f"signal {signal.Signals(-p.returncode).name}" if p.returncode < 0 else f"exit {p.returncode}"
        crashes.append(f"{corpus}/{last or '?'}: the interpreter died ({how}): {p.stderr.decode()[-400:]}")
        if not last:
            break
        start = last
    return total, crashes


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        corpus, start, base, progress = sys.argv[2:6]
        child(corpus, start or None, base or None, progress)
        return 0
    try:
        import riskd
    except ImportError as e:
        print(f"skipped: riskd cannot be imported: {e}")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    tmp = tempfile.mkdtemp(prefix="riskd-test-fuzz-binding-")
    try:
        has_bundle = getattr(riskd, "Bundle", None) is not None and hasattr(riskd.Bundle, "score")
        base = build_base(tmp) if has_bundle else None
        if has_bundle:
            m = json.load(open(os.path.join(base, "manifest.json"))) if base else {}
            check("the digest made here is riskd bundle build's (so a model swapped in is parsed, not refused "
                  "for its digest)", base is not None and manifest_digest(m) == m.get("digest"))
            if base:
                model = open(os.path.join(base, "model.json"), "rb").read()
                try:
                    riskd.Bundle(bundle_with_model(base, tmp, "model.json", model, "xgboost")).close()
                    check("the bundle's own model swapped in the same way loads (the swap is sound)", True)
                except riskd.RiskdError as e:
                    check("the bundle's own model swapped in the same way loads (the swap is sound)", False, repr(e))
        for corpus in CORPORA:
            d = os.path.join(CORPUS, corpus)
            if not os.path.isdir(d):
                skip(corpus, "no corpus")
                continue
            if corpus in MODEL_CORPORA and not has_bundle:
                skip(f"{corpus} through riskd.Bundle", "riskd.Bundle is not in this package yet")
                continue
            t0 = time.monotonic()
            total, crashes = run_corpus(corpus, base, tmp)
            for c in crashes[:10]:
                print(f"     {c}")
            for b in total["bad"][:10]:
                print(f"     {b}")
            extra = "" if corpus not in ("fuzz_json", "fuzz_pipeline") else \
                (", Bundle.score too" if total["bundle"] else ", Bundle.score skipped: no riskd.Bundle yet")
            check(f"{corpus}: {total['inputs']} files, {total['results']} results and {total['refused']} "
                  f"RiskdError/ValueError, nothing else{extra} ({time.monotonic() - t0:.0f} s)",
                  not crashes and not total["bad"] and total["inputs"] == len(os.listdir(d)),
                  f"{len(crashes)} crashes, {len(total['bad'])} other exceptions")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
