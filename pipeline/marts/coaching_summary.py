"""coaching_summary — coaching episodes: GAS T-scores, commitment follow-through, choice points and what followed.

Purpose: is coaching moving clients towards their goals, and how often does the need for healing outgrow the
capacity for growth (seed 002's choice point)?
Grain: one row per period_type × period × dimension × level (every dimension but service; period: the
month/quarter the episode started — its first attended treatment session, else its intake).
Inputs: coaching_episodes, episodes.
Reference: DESIGN 5.8; docs/indicators.md §11 (the choice point is practice-defined: settings section coaching).
Missing data: an episode without GAS ratings counts in `coaching_episodes` only for GAS; follow-through only
where commitments were set. Consultation-only episodes (no intake: coaching never started) are not counted, so every
episode has a start and the months of a quarter add up to it.
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart
from pipeline.marts.rollup import DIMENSIONS, rollup

FOLLOWED = ("referred_to_therapy", "continued_coaching", "ended_otherwise", "too_early")
LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    hierarchy=("period", "parent_period"),
    counts=("coaching_episodes", "with_gas", "with_follow_through", "choice_points", *FOLLOWED),
    statistics=(
        ("mean_gas_t_baseline", "with_gas"), ("mean_gas_t_latest", "with_gas"), ("mean_gas_t_change", "with_gas"),
        ("mean_follow_through", "with_follow_through"),
    ),
    rates=(("choice_point_rate", "choice_points", "coaching_episodes"),),
    row_sums=(("choice_points", FOLLOWED),),
)  # fmt: skip

SOURCE = """
    SELECT c.*, coalesce(e.first_attended_date, k.intake_date) AS started,
           e.practice, e.service, e.modality, e.location, e.cohort
    FROM coaching_episodes AS c JOIN episodes AS e USING (client_id) JOIN clients AS k USING (client_id)
    WHERE NOT e.consultation_only
"""
AGGREGATES = [
    "count(*) AS coaching_episodes",
    "count(gas_t_latest) AS with_gas",
    "count(follow_through) AS with_follow_through",
    "count(choice_point_date) AS choice_points",
    *[f"count(*) FILTER (WHERE after_choice_point = '{f}') AS {f}" for f in FOLLOWED],
    "avg(gas_t_baseline) AS mean_gas_t_baseline",
    "avg(gas_t_latest) AS mean_gas_t_latest",
    "avg(gas_t_change) AS mean_gas_t_change",
    "avg(follow_through) AS mean_follow_through",
]


def build(ctx: Context) -> pl.DataFrame:
    dimensions = tuple(d for d in DIMENSIONS if d != "service")  # every coaching episode has service coaching
    table = rollup(ctx.con, SOURCE, AGGREGATES, ctx.params, period_date="started", dimensions=dimensions)
    return table.with_columns(
        pl.col(list(LAYOUT.counts)).cast(pl.Int64),
        pl.when(pl.col("coaching_episodes") > 0)
        .then(pl.col("choice_points") / pl.col("coaching_episodes"))
        .alias("choice_point_rate"),
    )


MART = Mart("coaching_summary", "aggregate", build, LAYOUT)
