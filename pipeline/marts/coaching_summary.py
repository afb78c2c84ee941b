"""coaching_summary — coaching episodes (coaching, and coaching and therapy combined): GAS T-scores, commitment
follow-through, choice points and the route that followed each.

Purpose: is coaching moving clients towards their goals, and how often does the need for healing outgrow the
capacity for growth (seed 002's choice point) — and then: a season of therapy, coaching and therapy combined, or
IFS healing sessions within coaching?
Grain: one row per period_type × period × dimension × level (period: the month/quarter the episode started — its
first attended treatment session, else its intake).
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

#: The routes that followed a choice point (seed 002's three first), in the order they are decided.
FOLLOWED = ("season_of_therapy", "coaching_and_therapy", "healing_within_coaching", "continued_coaching",
            "ended_otherwise", "too_early")  # fmt: skip
LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    hierarchy=("period", "parent_period"),
    counts=("coaching_episodes", "with_gas", "with_follow_through", "choice_points", *FOLLOWED),
    statistics=(
        ("mean_gas_t_baseline", "with_gas"), ("mean_gas_t_latest", "with_gas"), ("mean_gas_t_change", "with_gas"),
        ("mean_follow_through", "with_follow_through"),
    ),
    rates=(("choice_point_rate", "choice_points", "coaching_episodes"),),
    row_sums=(  # `~` marks an unpublished remainder, itself a count of people
        ("choice_points", FOLLOWED),
        ("coaching_episodes", ("choice_points", "~without_choice_point")),
        ("coaching_episodes", ("with_gas", "~without_gas")),
        ("coaching_episodes", ("with_follow_through", "~without_follow_through")),
    ),
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
    table = rollup(ctx.con, SOURCE, AGGREGATES, ctx.params, period_date="started", dimensions=DIMENSIONS)
    return table.with_columns(
        pl.col(list(LAYOUT.counts)).cast(pl.Int64),
        pl.when(pl.col("coaching_episodes") > 0)
        .then(pl.col("choice_points") / pl.col("coaching_episodes"))
        .alias("choice_point_rate"),
    )


MART = Mart("coaching_summary", "aggregate", build, LAYOUT)
