#!/usr/bin/python3
# %% [markdown]
# # From a notebook to production: a credit model with riskd
#
# Run from the repository root, with the library built (`make`):
#
#     /usr/bin/python3 examples/python/credit_notebook.py
#
# Each `# %%` cell can be pasted into a notebook as it is. We train an XGBoost model on the
# example credit applications, turn it into a riskd bundle, score a DataFrame with the bundle
# in this process, then start `riskd serve` with the same bundle and check that the service
# gives the same score, bit for bit, for the same applications: a notebook, a batch run and
# the service all run the same compiled pipeline and model.
#
# Needs Debian's python3-numpy, python3-pandas and python3-xgboost. Writes only to a temporary
# directory, removed at the end; the server it starts is stopped whatever happens.

# %%
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import pandas as pd
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))  # the riskd package of this tree
import riskd  # noqa: E402

RISKD = os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "release", "riskd"))
work = tempfile.mkdtemp(prefix="riskd-notebook-")
print(f"riskd {riskd.__version__} from {riskd.LIBRARY}; working in {work}")

# %% [markdown]
# ## The data
#
# 4,454 applications with their outcome, `Status` (`bad`: the loan defaulted). Only an empty
# field is missing: `keep_default_na=False` stops pandas from reading "NA" or "null" as
# missing, which riskd's CSV reader would read as text.

# %%
df = pd.read_csv(os.path.join(ROOT, "examples", "data", "credit_data.csv"), keep_default_na=False,
                 na_values=[""])
rng = np.random.RandomState(2024)
holdout = rng.rand(len(df)) < 0.2
train, new = df[~holdout].reset_index(drop=True), df[holdout].reset_index(drop=True)
print(f"{len(train)} applications to train on, {len(new)} new ones to score")

# %% [markdown]
# ## The pipeline
#
# `riskd.Pipeline.from_frame` writes the feature spec from the dtypes: each number column is a
# number input and a feature; each text column a category input with the levels seen, one-hot
# encoded into one feature per level ("Home=rent"). We bound Age: an application aged 7 is
# refused rather than scored.
#
# `pipe.prepare(train)` is the model's input matrix, computed by libriskd itself, so the model
# is trained on exactly what production will feed it. Its columns are `pipe.feature_names`.

# %%
pipe = riskd.Pipeline.from_frame(train, label="Status", overrides={"Age": {"min": 18, "max": 120}})
print(pipe, "features:", ", ".join(pipe.feature_names))
X = pd.DataFrame(pipe.prepare(train), columns=pipe.feature_names)
y = (train["Status"] == "bad").astype(int)

# %% [markdown]
# ## The model
#
# An XGBClassifier fitted on the named columns: the booster keeps the names, and the exporter
# refuses a model whose features are not the pipeline's, in the pipeline's order.

# %%
model = xgb.XGBClassifier(n_estimators=150, max_depth=3, learning_rate=0.1, subsample=0.9, random_state=7,
                          tree_method="exact", n_jobs=2)
model.fit(X, y)

# %% [markdown]
# ## The bundle
#
# `riskd.export.xgboost` saves the model, the pipeline and the training data, and builds the
# bundle with the same builder as `riskd bundle build`: the training reference for drift
# monitoring, AUC and KS, default risk bands, sample rows re-predicted on every load. The
# name says the product, the model type and the version.

# %%
bundle_dir = os.path.join(work, "bundles", "credit_xgb_v2.0")
os.makedirs(os.path.dirname(bundle_dir))
bundle = riskd.export.xgboost(model, pipe, train, label="Status", positive="bad", name="credit_xgb_v2.0",
                              out_dir=bundle_dir)
print(f"{bundle.name}: digest {bundle.digest[:16]}..., training AUC "
      f"{bundle.manifest['training']['metrics']['auc']:.3f}")

# %% [markdown]
# ## Scoring a DataFrame
#
# `bundle.score` decides each row as the service would: score, risk level, decision and the
# reasons. For an XGBoost model the score is XGBoost's own probability, a float32.

# %%
scores = bundle.score(new, reasons=3)
print(scores[["score", "risk_level", "decision"]].head())
expected = model.predict_proba(pd.DataFrame(pipe.prepare(new), columns=pipe.feature_names))[:, 1]
assert np.array_equal(np.asarray(scores["score"], dtype=np.float64).astype(np.float32), expected)
print(f"bundle.score: {len(new)} rows, every score XGBoost's bit for bit")

# %% [markdown]
# ## The same bundle, served
#
# `riskd serve` with a directory of bundles and the default bundle named; port 0 lets the
# kernel pick a free loopback port, which the server prints. Then each application is
# POSTed to /v1/score as JSON (`pipe.records` gives the rows as the service reads them:
# numbers, level strings, null for a missing value) and the answer's score compared with the
# DataFrame's.

# %%
server = subprocess.Popen([RISKD, "serve", "--bundles", os.path.dirname(bundle_dir), "--default-bundle",
                           bundle.name, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"),
                           "--threads", "2", "--log-level", "warn"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    line = server.stdout.readline()  # "listening on http://127.0.0.1:PORT"
    if not line.startswith("listening on "):
        raise SystemExit(f"riskd serve did not start: {line}{server.stderr.read()}")
    base = line.split()[-1]
    for _ in range(100):  # until the bundle is loaded
        try:
            with urllib.request.urlopen(base + "/ready", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.05)

    def post(path, body):
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    served = []
    for i, record in enumerate(pipe.records(new)):
        answer = post("/v1/score", {"request_id": f"nb-{i}", "features": record})
        served.append(answer["score"])
    print("one answer:", json.dumps(answer))
finally:
    server.terminate()
    server.wait(timeout=20)

served = np.array(served, dtype=np.float64)
assert np.array_equal(served.astype(np.float32), np.asarray(scores["score"], dtype=np.float64).astype(np.float32))
assert np.array_equal(served.astype(np.float32), expected)
print(f"riskd serve: {len(served)} applications, every score the notebook's bit for bit")

# %%
shutil.rmtree(work, ignore_errors=True)
print("ok")
