"""ifs-outcomes: outcome measurement for IFS therapy and coaching practices.

The notebook API: ``from pipeline import analyze_change, long_to_wide, effect_sizes, ...`` gives the same
functions the pipeline uses, taking and returning polars frames (imported lazily, so the CLI starts fast).
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "analyze_change": "pipeline.change",
    "long_to_wide": "pipeline.change",
    "reliable_change_index": "pipeline.change",
    "reliable_change_flags": "pipeline.change",
    "point_change_flags": "pipeline.change",
    "clinical_cutoff": "pipeline.change",
    "is_clinical": "pipeline.change",
    "categorize": "pipeline.change",
    "effect_sizes": "pipeline.change",
    "nhs_talking_therapies": "pipeline.change",
    "cronbach_alpha": "pipeline.change",
    "pair_baseline_latest": "pipeline.change",
    "build_client_change": "pipeline.change",
    "score_items": "pipeline.score",
    "build_scores": "pipeline.score",
    "generate": "pipeline.synth",
    "load_registry": "schemas.registry",
    "load_published": "pipeline.notebook",
    "load_export": "pipeline.notebook",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
