"""engagement_summary — sessions, attendance, cadence, endings, lapse and dropout (all time).

Purpose: do clients come, keep coming, and how do episodes end?
Grain: one row per dimension × level.
Inputs: episodes.
Reference: DESIGN 5.7; docs/indicators.md §10. Dropout rate = (unplanned endings + lapsed) / (ended + lapsed);
consultation → intake conversion = episodes with an intake / all episodes; attendance = attended / scheduled
treatment sessions; cadence = median over episodes of the median days between attended treatment sessions.
Missing data: consultation-only episodes count in `episodes` and `consultation_only` only; an episode with fewer
than two attended sessions has no cadence (`episodes_with_cadence` counts those that do).
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart, with_rates
from pipeline.marts.rollup import rollup

LAYOUT = TableLayout(
    keys=("dimension", "level"),
    counts=(
        "episodes", "consultation_only", "with_intake", "scheduled", "attended", "cancelled", "no_show", "ended",
        "planned", "unplanned", "other_endings", "lapsed", "dropouts", "dropout_denominator", "episodes_with_cadence",
    ),
    rates=(("attendance_rate", "attended", "scheduled"), ("dropout_rate", "dropouts", "dropout_denominator"),
           ("conversion_rate", "with_intake", "episodes")),
    statistics=(("median_cadence_days", "episodes_with_cadence"), ("mean_duration_min", "with_intake")),
    row_sums=(  # `~` marks an unpublished remainder, itself a count of people
        ("episodes", ("consultation_only", "with_intake")),
        ("scheduled", ("attended", "cancelled", "no_show")),
        ("ended", ("planned", "unplanned", "other_endings")),
        ("dropouts", ("unplanned", "lapsed")),
        ("dropout_denominator", ("ended", "lapsed")),
        ("with_intake", ("ended", "lapsed", "~open_and_attending")),
        ("with_intake", ("episodes_with_cadence", "~without_cadence")),
    ),
)  # fmt: skip

AGGREGATES = [
    "count(*) AS episodes",
    "count(*) FILTER (WHERE consultation_only) AS consultation_only",
    "count(*) FILTER (WHERE NOT consultation_only) AS with_intake",
    "coalesce(sum(scheduled), 0) AS scheduled",
    "coalesce(sum(attended), 0) AS attended",
    "coalesce(sum(cancelled), 0) AS cancelled",
    "coalesce(sum(no_show), 0) AS no_show",
    "count(*) FILTER (WHERE NOT consultation_only AND ended) AS ended",
    "count(*) FILTER (WHERE NOT consultation_only AND ending = 'planned') AS planned",
    "count(*) FILTER (WHERE NOT consultation_only AND ending = 'unplanned') AS unplanned",
    "count(*) FILTER (WHERE NOT consultation_only AND ending = 'other') AS other_endings",
    "count(*) FILTER (WHERE lapsed) AS lapsed",
    "count(*) FILTER (WHERE NOT consultation_only AND (ending = 'unplanned' OR lapsed)) AS dropouts",
    "count(*) FILTER (WHERE NOT consultation_only AND (ended OR lapsed)) AS dropout_denominator",
    "count(median_gap_days) AS episodes_with_cadence",
    "median(median_gap_days) AS median_cadence_days",
    "avg(mean_duration_min) AS mean_duration_min",
]


def build(ctx: Context) -> pl.DataFrame:
    table = rollup(ctx.con, "SELECT * FROM episodes", AGGREGATES, ctx.params)
    table = table.with_columns(pl.col(list(LAYOUT.counts)).cast(pl.Int64))
    return with_rates(table, LAYOUT)


MART = Mart("engagement_summary", "aggregate", build, LAYOUT)
