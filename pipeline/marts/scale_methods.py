"""scale_methods — how each scale's numbers were computed: the reliable-change rule and its parameters, the
clinical cutoff, the reliability used, whether the instrument is validated.

Purpose: the Methods page and the report print each rule from here — they never decide one again.
Grain: one row per instrument × scale in the registry.
Inputs: the instrument registry; client_change (the rule each scale's flags followed, with its parameters);
scale_reliability (alpha from the practice's baselines beside the published reliability).
Reference: DESIGN 4, 5.3; docs/indicators.md §2, §4-5.
Missing data: a scale without paired episodes has its registry rule and no data-derived SD; the SD and threshold
derived from the practice's own paired episodes are statistics of those episodes (hidden below k).
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart

LAYOUT = TableLayout(
    keys=("instrument", "scale"),
    counts=("paired", "n_baseline_complete"),
    statistics=(("rc_sd", "paired"), ("rc_threshold", "paired"), ("alpha_estimated", "n_baseline_complete")),
    dimension=None,
)

SQL = """
    WITH rules AS (
        SELECT instrument, scale, any_value(rc_rule) AS rc_rule, any_value(rc_threshold) AS rc_threshold,
               any_value(rc_sd) AS rc_sd, any_value(rc_sd_source) AS rc_sd_source,
               any_value(cutoff) AS cutoff, any_value(cutoff_source) AS cutoff_source,
               count(*) FILTER (WHERE paired) AS paired
        FROM client_change GROUP BY instrument, scale
    )
    SELECT i.instrument, i.scale, coalesce(r.paired, 0) AS paired, r.rc_rule, r.rc_threshold, r.rc_sd,
           r.rc_sd_source, coalesce(r.cutoff, i.caseness_cutoff) AS cutoff,
           coalesce(r.cutoff_source, CASE WHEN i.caseness_cutoff IS NOT NULL THEN 'caseness' END) AS cutoff_source,
           s.reliability_used AS reliability, s.reliability_source, s.alpha_estimated, s.n_baseline_complete
    FROM registry_facts AS i
    LEFT JOIN rules AS r USING (instrument, scale)
    LEFT JOIN scale_reliability AS s USING (instrument, scale)
"""


def build(ctx: Context) -> pl.DataFrame:
    facts = pl.DataFrame(
        [
            {"instrument": i.id, "scale": s.id, "instrument_name": i.name, "scale_label": s.label,
             "validated": i.validated, "items": len(s.items), "scale_min": float(s.min), "scale_max": float(s.max),
             "higher_is_better": s.higher_is_better, "rc_points": s.rc_points, "caseness_cutoff": s.caseness_cutoff,
             "citation": i.citation}
            for i in ctx.registry.instruments.values()
            for s in i.scales.values()
        ],
        schema_overrides={"rc_points": pl.Float64, "caseness_cutoff": pl.Float64},
    )  # fmt: skip
    ctx.con.register("registry_facts", facts)
    try:
        rules = ctx.query(SQL)
    finally:
        ctx.con.unregister("registry_facts")
    return (
        facts.drop("rc_points", "caseness_cutoff")
        .join(rules, on=["instrument", "scale"], how="left")
        .sort("instrument", "scale")
    )


MART = Mart("scale_methods", "aggregate", build, LAYOUT)
