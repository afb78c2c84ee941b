"""outcome_summary — pre/post outcomes per instrument scale: completeness, change categories, reliable change,
recovery and effect size.

Purpose: are clients getting better, by service, modality, location, practice and cohort, month by month?
Grain: one row per period_type × period × dimension × level × instrument × scale.
Inputs: client_change (the warehouse's pairs, flags and categories) and episodes (dimensions).
Reference: DESIGN 5.2-5.4; docs/indicators.md §3-7. Rules used: pairing `change.pair_baseline_latest` (through
client_change), reliable change `client_change.reliably_improved` (the scale's rule: points or Jacobson-Truax),
categories `change.categorize`, clinical status `change.is_clinical`, direction in d `change.standardized_mean_change`.
Denominators: `episodes` = episodes with a baseline; `paired` = those with a later administration; reliable
improvement and deterioration among the paired episodes whose scale has a rule (`categorised`); recovery among
paired episodes clinical at baseline. Period = month/quarter of the latest administration (of the baseline for
unpaired episodes). d = s·mean change / SD of baseline (positive = better), g = J·d; d's CI (bootstrap BCa, or the
delta method above `outcomes.bootstrap_max_n` pairs) for all-time rows.
Missing data: an episode without a baseline is not counted; unpaired episodes count in `episodes` only; a scale
without a reliable-change rule (e.g. the SD of one paired baseline is undefined) has no categories and null flags:
`categorised` counts the paired episodes that have a category, which the categories add up to.
"""

from __future__ import annotations

import polars as pl

from pipeline.change import CATEGORIES, effect_sizes, hedges_g, standardized_mean_change
from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart
from pipeline.marts.rollup import DIMENSIONS, OVERALL, rollup

LAYOUT = TableLayout(
    keys=("period_type", "period", "dimension", "level", "instrument", "scale"),
    counts=("episodes", "paired", "categorised", *CATEGORIES, "reliably_improved", "reliably_deteriorated",
            "clinical_baseline"),
    rates=(
        ("paired_rate", "paired", "episodes"),
        ("reliable_improvement_rate", "reliably_improved", "categorised"),
        ("reliable_deterioration_rate", "reliably_deteriorated", "categorised"),
        ("recovery_rate", "recovered", "clinical_baseline"),
    ),
    statistics=(
        ("mean_baseline", "paired"), ("mean_latest", "paired"), ("mean_change", "paired"), ("sd_baseline", "paired"),
        ("d", "paired"), ("g", "paired"), ("d_ci_low", "paired"), ("d_ci_high", "paired"),
    ),
    row_sums=(("categorised", CATEGORIES),),
    hierarchy=("period", "parent_period"),
)  # fmt: skip

SOURCE = """
    SELECT c.*, coalesce(c.latest_date, c.baseline_date) AS period_date,
           e.practice, e.service, e.modality, e.location, e.cohort
    FROM client_change AS c JOIN episodes AS e USING (client_id)
    WHERE c.baseline_date IS NOT NULL
"""
AGGREGATES = [
    "count(*) AS episodes",
    "count(*) FILTER (WHERE paired) AS paired",
    "count(*) FILTER (WHERE paired AND category IS NOT NULL) AS categorised",
    *[f"count(*) FILTER (WHERE paired AND category = '{c}') AS {c}" for c in CATEGORIES],
    "count(*) FILTER (WHERE paired AND reliably_improved) AS reliably_improved",
    "count(*) FILTER (WHERE paired AND reliably_deteriorated) AS reliably_deteriorated",
    "count(*) FILTER (WHERE paired AND clinical_baseline) AS clinical_baseline",
    "avg(baseline_score) FILTER (WHERE paired) AS mean_baseline",
    "avg(latest_score) FILTER (WHERE paired) AS mean_latest",
    "avg(change) FILTER (WHERE paired) AS mean_change",
    "stddev_samp(baseline_score) FILTER (WHERE paired) AS sd_baseline",
    "bool_and(higher_is_better) AS higher_is_better",
]


def build(ctx: Context) -> pl.DataFrame:
    table = rollup(ctx.con, SOURCE, AGGREGATES, ctx.params, by=("instrument", "scale"), period_date="period_date")
    d = standardized_mean_change(table["mean_change"], table["sd_baseline"], table["higher_is_better"])
    table = table.with_columns(
        pl.Series("d", d, dtype=pl.Float64).fill_nan(None),
        pl.Series("g", hedges_g(d, table["paired"]), dtype=pl.Float64).fill_nan(None),
        *[pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).alias(rate) for rate, num, den in LAYOUT.rates],
    )
    cis = effect_size_cis(ctx)
    table = table.join(cis, on=["period_type", "dimension", "level", "instrument", "scale"], how="left")
    return table.drop("higher_is_better").sort(*LAYOUT.keys)


def effect_size_cis(ctx: Context) -> pl.DataFrame:
    """d's confidence interval for every all-time row, by `change.effect_sizes` on the paired episodes."""
    paired = ctx.query(
        "SELECT c.instrument, c.scale, c.baseline_score, c.latest_score, c.higher_is_better, "
        "e.practice, e.service, e.modality, e.location, e.cohort "
        "FROM client_change AS c JOIN episodes AS e USING (client_id) WHERE c.paired "
        "ORDER BY c.client_id, c.instrument, c.scale"
    )
    outcomes = ctx.settings.outcomes
    rows = []
    for dimension in (OVERALL[0], *DIMENSIONS):
        groups = paired.with_columns(pl.lit(OVERALL[1]).alias(OVERALL[0])).group_by(dimension, "instrument", "scale")
        for (level, instrument, scale), cell in groups:
            es = effect_sizes(
                cell["baseline_score"].to_numpy(), cell["latest_score"].to_numpy(),
                higher_is_better=bool(cell["higher_is_better"][0]), n_resamples=outcomes.bootstrap_resamples,
                seed=outcomes.bootstrap_seed, intervals=("d",), bootstrap_max_n=outcomes.bootstrap_max_n,
            )  # fmt: skip
            rows.append({"period_type": "all", "dimension": dimension, "level": str(level), "instrument": instrument,
                         "scale": scale, "d_ci_low": es["d_ci"][0], "d_ci_high": es["d_ci"][1]})  # fmt: skip
    schema = {"period_type": pl.String, "dimension": pl.String, "level": pl.String, "instrument": pl.String,
              "scale": pl.String, "d_ci_low": pl.Float64, "d_ci_high": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


MART = Mart("outcome_summary", "aggregate", build, LAYOUT)
