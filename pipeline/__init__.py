"""ifs-outcomes: outcome measurement for IFS therapy and coaching practices.

The notebook API: ``from pipeline import analyze_change, long_to_wide, effect_sizes, ...`` gives the same
functions the pipeline uses, taking and returning polars frames (imported lazily, so the CLI starts fast).
``cs_distribution``, ``cs_statistical``, ``cs_combined``, ``cs_percentage`` and ``cs_anchor`` mirror the R
package clinicalsignificance, argument for argument where that makes sense (docs/indicators.md).
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
    "anchor_flags": "pipeline.change",
    "clinical_cutoff": "pipeline.change",
    "is_clinical": "pipeline.change",
    "categorize": "pipeline.change",
    "effect_sizes": "pipeline.change",
    "nhs_talking_therapies": "pipeline.change",
    "cronbach_alpha": "pipeline.change",
    "pair_baseline_latest": "pipeline.change",
    "build_client_change": "pipeline.change",
    **dict.fromkeys(
        [
            "cs_distribution",
            "cs_statistical",
            "cs_combined",
            "cs_percentage",
            "cs_anchor",
            "hlm_fit",
            "ha_reliability",
            "ha_cutoff",
            "ha_cs_indiv",
            "ha_group_level",
            "cutoff_status",
            "statistical_categories",
            "percentage_change",
            "percentage_change_flags",
            "anchor_group_category",
            "paired_mean_change_ci",
            "welch_difference_ci",
            "effect_sizes_by_group",
        ],
        "pipeline.change_approaches",
    ),
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
