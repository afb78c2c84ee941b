"""engagement_by_period — treatment sessions, intakes and endings by month and quarter.

Purpose: how busy is the practice, and how do attendance, intakes and endings move month by month?
Grain: one row per period_type × period × dimension × level.
Inputs: treatment sessions (warehouse sessions, not consultations, every status), episodes (intake, discharge,
ending, dimensions).
Reference: DESIGN 5.2 (session-level figures use the session's month) and 5.7; docs/indicators.md §10.
Sessions count by session date, intakes by intake date, endings (of episodes with an intake) by discharge date.
Missing data: consultation-only episodes have no intake or ending here.
"""

from __future__ import annotations

import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart
from pipeline.marts.rollup import rollup

LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    counts=("scheduled", "attended", "cancelled", "no_show", "intakes", "planned_endings", "unplanned_endings",
            "other_endings"),
    rates=(("attendance_rate", "attended", "scheduled"),),
    row_sums=(("scheduled", ("attended", "cancelled", "no_show")),),
    hierarchy=("period", "parent_period"),
)  # fmt: skip

SOURCE = """
    WITH events AS (
        SELECT client_id, session_date AS event_date, 1 AS scheduled, (status = 'attended')::INT AS attended,
               (status = 'cancelled')::INT AS cancelled, (status = 'no_show')::INT AS no_show, 0 AS intakes,
               0 AS planned_endings, 0 AS unplanned_endings, 0 AS other_endings
        FROM sessions WHERE kind <> 'consultation'
        UNION ALL
        SELECT client_id, intake_date, 0, 0, 0, 0, 1, 0, 0, 0 FROM clients WHERE intake_date IS NOT NULL
        UNION ALL
        SELECT client_id, discharge_date, 0, 0, 0, 0, 0, (ending = 'planned')::INT, (ending = 'unplanned')::INT,
               (ending = 'other')::INT
        FROM episodes WHERE ended AND NOT consultation_only
    )
    SELECT v.*, e.practice, e.service, e.modality, e.location, e.cohort
    FROM events AS v JOIN episodes AS e USING (client_id)
"""


def build(ctx: Context) -> pl.DataFrame:
    aggregates = [f"coalesce(sum({c}), 0)::BIGINT AS {c}" for c in LAYOUT.counts]
    table = rollup(ctx.con, SOURCE, aggregates, ctx.params, period_date="event_date")
    return table.with_columns(
        pl.when(pl.col("scheduled") > 0).then(pl.col("attended") / pl.col("scheduled")).alias("attendance_rate")
    )


MART = Mart("engagement_by_period", "aggregate", build, LAYOUT)
