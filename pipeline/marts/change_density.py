"""change_density — paired episodes counted on a baseline × latest grid: the Jacobson plot for aggregate readers.

Purpose: show where episodes start and end on each scale without a point per client.
Grain: one row per population × instrument × scale × dimension × level × cell (`all`, the total, or `b<i>-l<j>`).
Populations as in outcome_summary (`episodes.outcome_population`): finished_treatment (all time: every period
together) and in_treatment (at the as-of date); lapsed and short episodes are in neither.
Inputs: client_change (paired episodes, each scale's reliable-change threshold and cutoff), episodes, the
registry's scale ranges; parameter `outcomes.density_bins` (8).
Reference: DESIGN 5.3, 6 ("density plots use bins of at least k"); docs/indicators.md §5.
Each scale's range (registry min..max) is cut into equal bins per axis (the top bin closed); the `all` row is the
total the cells add up to, so complementary suppression protects every cell. The threshold and cutoff travel
with the grid so the plot can draw the band and the lines without client-level data.
Missing data: only paired episodes; a scale not in the registry has no grid.
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart
from pipeline.marts.rollup import rollup

LAYOUT = TableLayout(
    keys=("population", "instrument", "scale", "dimension", "level", "cell", "parent_cell"),
    counts=("episodes",),
    hierarchy=("cell", "parent_cell"),
)

SOURCE = """
    SELECT e.outcome_population AS population, c.instrument, c.scale,
        least(greatest(floor((c.baseline_score - r.scale_min) / ((r.scale_max - r.scale_min) / $bins::INTEGER)), 0),
              $bins::INTEGER - 1)::BIGINT AS baseline_bin,
        least(greatest(floor((c.latest_score - r.scale_min) / ((r.scale_max - r.scale_min) / $bins::INTEGER)), 0),
              $bins::INTEGER - 1)::BIGINT AS latest_bin,
        e.practice, e.service, e.modality, e.location, e.cohort
    FROM client_change AS c
    JOIN registry_scales AS r USING (instrument, scale)
    JOIN episodes AS e USING (client_id)
    WHERE c.paired AND e.outcome_population IN ('finished_treatment', 'in_treatment')
"""
FACTS = """
    SELECT c.instrument, c.scale, any_value(r.scale_min) AS scale_min, any_value(r.scale_max) AS scale_max,
           max(c.rc_threshold) AS rc_threshold, max(c.cutoff) AS cutoff,
           any_value(c.higher_is_better) AS higher_is_better
    FROM client_change AS c JOIN registry_scales AS r USING (instrument, scale)
    WHERE c.paired GROUP BY c.instrument, c.scale
"""


def build(ctx: Context) -> pl.DataFrame:
    bins = ctx.settings.outcomes.density_bins
    count = ["count(*)::BIGINT AS episodes"]
    cells = rollup(ctx.con, SOURCE, count, {**ctx.params, "bins": bins},
                   by=("population", "instrument", "scale", "baseline_bin", "latest_bin"))  # fmt: skip
    cells = cells.with_columns(
        pl.format("b{}-l{}", "baseline_bin", "latest_bin").alias("cell"), pl.lit("all").alias("parent_cell")
    )
    by = ("population", "instrument", "scale")
    totals = rollup(ctx.con, SOURCE, count, {**ctx.params, "bins": bins}, by=by).with_columns(
        pl.lit("all").alias("cell"), pl.lit(None, pl.String).alias("parent_cell"),
        pl.lit(None, pl.Int64).alias("baseline_bin"), pl.lit(None, pl.Int64).alias("latest_bin"),
    )  # fmt: skip
    facts = ctx.query(FACTS)
    width = (pl.col("scale_max") - pl.col("scale_min")) / bins

    def edge(column: str, offset: int) -> pl.Expr:
        return pl.col("scale_min") + (pl.col(column) + offset) * width

    table = pl.concat([totals, cells.select(totals.columns)]).join(facts, on=["instrument", "scale"])
    return table.with_columns(
        edge("baseline_bin", 0).alias("baseline_low"), edge("baseline_bin", 1).alias("baseline_high"),
        edge("latest_bin", 0).alias("latest_low"), edge("latest_bin", 1).alias("latest_high"),
    ).sort("population", "instrument", "scale", "dimension", "level", "cell")  # fmt: skip


MART = Mart("change_density", "aggregate", build, LAYOUT)
