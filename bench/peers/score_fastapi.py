#!/usr/bin/python3
"""The scoring service most teams run today, as the peer of `riskd serve` in `make bench`.

FastAPI + uvicorn (uvloop and httptools when installed, as `uvicorn[standard]` gives), an
XGBoost model loaded with the sklearn wrapper, pandas for the one-row feature frame, and
XGBoost's own TreeSHAP (`pred_contribs=True`) for the reason codes. Same request and response
as riskd's `POST /v1/score`:

    {"request_id": "r1", "context": {"targetingKey": "app-1"},
     "features": {"Seniority": 9, "Home": "rent", "Income": null, ...}}
 -> {"request_id": "r1", "score": 0.12, "probability": 0.12, "risk_level": "low",
     "decision": "approve", "model_version": "credit_xgb_v1.0", "variant": null,
     "reasons": [{"feature": "Income", "code": "Income", "impact": 0.53}, ...],
     "missing": ["Income"], "unknown": [], "source": "model", "latency_ms": 0.9}

The feature spec is the format of shared/data/models/credit_xgb.features.json: numeric and
one_hot features, float32; a missing numeric input is NaN, a missing or unknown category
sets all of its one-hot features to 0. Reasons are the SHAP contributions summed per raw
input (one-hot features of one input add up), the largest positive first.

    /usr/bin/python3 bench/peers/score_fastapi.py --model credit_xgb.json \
        --features credit_xgb.features.json --port 8000 [--workers 2] \
        [--risk-bands bands.json] [--model-version credit_xgb_v1.0]

--risk-bands is a JSON array of {"level", "min", "max", "decision"} (riskd's format, or a
riskd bundle manifest.json, whose "risk_bands" are used). One worker process per core: each
worker runs XGBoost single-threaded so the workers do not fight over the cores.

--workers N is uvicorn's: N processes accepting on one shared listening socket. When many
connections open at once (a client pool starting, wrk), the kernel hands most of them to
whichever worker is awake, and one core does most of the work: on the 2-core bench machine,
100 req/s over 64 connections waited 130-600 ms on average, against 15 ms with the
connections spread. --reuse-port gives each worker its own SO_REUSEPORT socket on the same
port, so the kernel spreads connections evenly; bench/http.sh uses it.
"""
import argparse
import json
import math
import multiprocessing
import os
import signal
import socket
import time
from typing import Dict, List, Optional, Union

import numpy as np
import pandas as pd
import uvicorn
import xgboost as xgb
from fastapi import FastAPI
from pydantic import BaseModel

DEFAULT_BANDS = [
    {"level": "low", "min": None, "max": 0.15, "decision": "approve"},
    {"level": "medium", "min": 0.15, "max": 0.55, "decision": "review"},
    {"level": "high", "min": 0.55, "max": None, "decision": "reject"},
]
N_REASONS = 4


class ScoreRequest(BaseModel):
    request_id: Optional[str] = None
    context: Dict[str, object] = {}
    features: Dict[str, Union[float, str, None]]


class Reason(BaseModel):
    feature: str
    code: str
    impact: float


class ScoreResponse(BaseModel):
    request_id: Optional[str]
    score: float
    probability: float
    risk_level: str
    decision: str
    model_version: str
    variant: Optional[str] = None
    reasons: List[Reason]
    missing: List[str]
    unknown: List[str]
    source: str = "model"
    latency_ms: float


class Scorer:
    def __init__(self, model_path: str, spec_path: str, bands_path: Optional[str], version: str):
        with open(spec_path) as f:
            spec = json.load(f)
        self.feature_names = [feat["name"] for feat in spec["features"]]
        self.inputs = list(dict.fromkeys(feat["source"] for feat in spec["features"]))
        self.numeric = [feat["source"] for feat in spec["features"] if feat["kind"] == "numeric"]
        self.categorical = [s for s in self.inputs if s not in self.numeric]
        self.levels = {s: {feat["level"] for feat in spec["features"] if feat["source"] == s}
                       for s in self.categorical}
        # model feature -> raw input, for summing SHAP contributions per input
        self.feature_input = pd.Series([feat["source"] for feat in spec["features"]],
                                       index=self.feature_names)
        self.model = xgb.XGBClassifier(n_jobs=1)
        self.model.load_model(model_path)
        self.booster = self.model.get_booster()
        self.booster.set_param({"nthread": 1})
        self.bands = DEFAULT_BANDS
        if bands_path:
            with open(bands_path) as f:
                b = json.load(f)
            self.bands = b["risk_bands"] if isinstance(b, dict) else b
        self.version = version

    def encode(self, raw: Dict[str, Union[float, str, None]]) -> pd.DataFrame:
        df = pd.DataFrame([raw], columns=self.inputs)  # an absent input is NaN
        df = pd.get_dummies(df, columns=self.categorical, prefix_sep="=")
        # unknown levels' columns are dropped, absent levels' columns are 0
        return df.reindex(columns=self.feature_names, fill_value=0).astype(np.float32)

    def band(self, p: float) -> dict:
        for b in self.bands:
            if (b["min"] is None or p >= b["min"]) and (b["max"] is None or p < b["max"]):
                return b
        return self.bands[-1]

    def score(self, req: ScoreRequest) -> ScoreResponse:
        t0 = time.perf_counter()
        X = self.encode(req.features)
        p = float(self.model.predict_proba(X)[0, 1])
        contribs = self.booster.predict(xgb.DMatrix(X, nthread=1), pred_contribs=True)[0, :-1]
        per_input = pd.Series(contribs, index=self.feature_names).groupby(self.feature_input, sort=False).sum()
        top = per_input[per_input > 0].sort_values(ascending=False, kind="stable").head(N_REASONS)
        band = self.band(p)
        missing = [c for c in self.inputs if req.features.get(c) is None
                   or (isinstance(req.features[c], float) and math.isnan(req.features[c]))]
        unknown = [c for c in self.categorical
                   if req.features.get(c) is not None and req.features[c] not in self.levels[c]]
        return ScoreResponse(
            request_id=req.request_id, score=p, probability=p,
            risk_level=band["level"], decision=band["decision"], model_version=self.version,
            reasons=[Reason(feature=k, code=k, impact=float(v)) for k, v in top.items()],
            missing=missing, unknown=unknown, latency_ms=(time.perf_counter() - t0) * 1e3)


def create_app() -> FastAPI:
    scorer = Scorer(os.environ["SCORE_MODEL"], os.environ["SCORE_FEATURES"],
                    os.environ.get("SCORE_RISK_BANDS") or None, os.environ["SCORE_MODEL_VERSION"])
    app = FastAPI(title="credit scoring")

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/v1/score", response_model=ScoreResponse)
    def score(req: ScoreRequest):
        return scorer.score(req)

    return app


def serve_reuse_port(host: str, port: int):
    """One worker on its own SO_REUSEPORT socket: the kernel spreads connections evenly."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(create_app, factory=True, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--features", required=True)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reuse-port", action="store_true",
                    help="one listening socket per worker (SO_REUSEPORT) instead of uvicorn's shared one")
    ap.add_argument("--risk-bands")
    ap.add_argument("--model-version")
    args = ap.parse_args()
    # the worker processes build the app from the factory; the settings go by environment
    os.environ["SCORE_MODEL"] = os.path.abspath(args.model)
    os.environ["SCORE_FEATURES"] = os.path.abspath(args.features)
    os.environ["SCORE_RISK_BANDS"] = os.path.abspath(args.risk_bands) if args.risk_bands else ""
    os.environ["SCORE_MODEL_VERSION"] = args.model_version or os.path.splitext(os.path.basename(args.model))[0]
    if not args.reuse_port:
        uvicorn.run("score_fastapi:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="warning", access_log=False,
                    app_dir=os.path.dirname(os.path.abspath(__file__)))
        return
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=serve_reuse_port, args=(args.host, args.port)) for _ in range(args.workers)]
    for w in workers:
        w.start()

    def stop(signum, frame):
        for w in workers:
            w.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
