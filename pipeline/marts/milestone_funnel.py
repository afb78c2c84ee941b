"""milestone_funnel — how far episodes travel through the five goals of IFS work, in order, and deviations.

Purpose: the IFS process as a funnel: protector trust → exile contact with permission → unburdening → protector
release → self-leadership (seed 001).
Grain: one row per period_type × period × dimension × level (period: the month/quarter the episode started, its
first attended treatment session — a start cohort).
Inputs: milestones (per episode: stage reached, deviations, session of each milestone), episodes.
Reference: DESIGN 5.6; docs/indicators.md §8. reached_m{k} = episodes with stage_reached >= k (non-increasing);
reach_rate_m{k} = reached_m{k} / episodes; episodes_{kind} = episodes with at least one deviation of that kind.
Missing data: episodes without an attended treatment session have no milestones row and are not counted.
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart
from pipeline.marts.rollup import rollup

MILESTONES = (1, 2, 3, 4, 5)
MILESTONE_NAMES = {1: "protector trust", 2: "exile contact with permission", 3: "unburdening",
                   4: "protector release", 5: "self-leadership"}  # fmt: skip
DEVIATION_KINDS = ("m2_before_m1", "m3_before_m2", "m4_before_m3", "m5_before_m4", "exile_contact_without_permission")

LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    hierarchy=("period", "parent_period"),
    counts=("episodes", *(f"reached_m{k}" for k in MILESTONES), *(f"episodes_{kind}" for kind in DEVIATION_KINDS)),
    rates=tuple((f"reach_rate_m{k}", f"reached_m{k}", "episodes") for k in MILESTONES),
    statistics=(("median_session_m1", "reached_m1"), ("median_session_m2", "reached_m2")),
    row_sums=(  # the funnel nests: each step's remainder (`~`, unpublished) is the episodes that stopped there
        ("episodes", ("reached_m1", "~stage_0")),
        *((f"reached_m{k}", (f"reached_m{k + 1}", f"~stage_{k}")) for k in MILESTONES[:-1]),
        *(("episodes", (f"episodes_{kind}", f"~without_{kind}")) for kind in DEVIATION_KINDS),
    ),
)

SOURCE = """
    SELECT m.*, e.practice, e.service, e.modality, e.location, e.cohort
    FROM milestones AS m JOIN episodes AS e USING (client_id)
"""
AGGREGATES = [
    "count(*) AS episodes",
    *[f"count(*) FILTER (WHERE stage_reached >= {k}) AS reached_m{k}" for k in MILESTONES],
    *[f"count(*) FILTER (WHERE {kind} > 0) AS episodes_{kind}" for kind in DEVIATION_KINDS],
    "median(m1_session)::DOUBLE AS median_session_m1",
    "median(m2_session)::DOUBLE AS median_session_m2",
]


def build(ctx: Context) -> pl.DataFrame:
    table = rollup(ctx.con, SOURCE, AGGREGATES, ctx.params, period_date="first_session_date")
    return table.with_columns(
        pl.when(pl.col("episodes") > 0).then(pl.col(f"reached_m{k}") / pl.col("episodes")).alias(f"reach_rate_m{k}")
        for k in MILESTONES
    )


MART = Mart("milestone_funnel", "aggregate", build, LAYOUT)
