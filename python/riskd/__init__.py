"""riskd in Python: the same compiled decision as `riskd serve` and `riskd score`.

    import riskd
    b = riskd.Bundle("build/demo/bundles/credit_xgb_v1.0")  # verified on load
    scores = b.score(df, reasons=4)                       # a DataFrame: score, risk_level, ...
    x = b.prepare(df)                                     # the model's input matrix (numpy)

The package is a thin ctypes layer over libriskd.so (riskd.LIBRARY says which file); every
rule (the pipeline, the model, bands, reasons, fallback rules) runs in the library.
"""
from ._lib import LIBRARY, RiskdError, version as __version__
from .bundle import Bundle, RiskdWarning
from .pipeline import Pipeline
from .flags import Flags, Resolution
from .log import Log
from . import export

__all__ = ["Bundle", "Pipeline", "Flags", "Resolution", "Log", "export", "RiskdError", "RiskdWarning", "LIBRARY",
           "__version__"]
