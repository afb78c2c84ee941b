"""self_leadership_trajectory — the mean Self score (POMP), clinician-rated Self-energy and polarization by
attended session number, with a 95% confidence interval.

Purpose: does Self lead more as sessions go on (seed 001, goal 5)?
Grain: one row per period_type × period × dimension × level × measure × session_number (period: the month/quarter
the episode started — its first attended treatment session).
Inputs: self_points (each episode's Self scale by `intermediate/self_scale.sql`, the one rule), episodes;
parameter `self_leadership.trajectory_max_session` (40).
Reference: DESIGN 5.5; docs/indicators.md §9. CI = mean ± t(0.975, n − 1)·SD/√n (Student's t from scipy: the one
quantile SQL lacks); a point is published only where at least k episodes contribute.
Missing data: an episode contributes to a session number only where it has a point there.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.disclosure import TableLayout
from pipeline.marts.base import Context, Mart
from pipeline.marts.rollup import rollup

MEASURES = ("self_score_pomp", "clinician_self_energy", "polarization")
LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "measure", "session_number", "dimension", "level"),
    hierarchy=("period", "parent_period"),
    counts=("n",),
    statistics=(("mean", "n"), ("ci_low", "n"), ("ci_high", "n")),
)

SOURCE = """
    SELECT p.measure, p.session_number, p.value, e.first_attended_date,
           e.practice, e.service, e.modality, e.location, e.cohort
    FROM self_points AS p JOIN episodes AS e USING (client_id)
    WHERE p.session_number BETWEEN 1 AND $max_session::INTEGER
"""
AGGREGATES = ["count(*) AS n", "avg(value) AS mean", "stddev_samp(value) AS sd"]


def t975(n: np.ndarray) -> np.ndarray:
    """Student's t 97.5th percentile with n − 1 degrees of freedom (NaN where n < 2), for every n at once."""
    from scipy import stats

    n = np.asarray(n, dtype=float)
    return np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)


def build(ctx: Context) -> pl.DataFrame:
    params = {**ctx.params, "max_session": ctx.settings.self_leadership.trajectory_max_session}
    table = rollup(ctx.con, SOURCE, AGGREGATES, params, by=("measure", "session_number"),
                   period_date="first_attended_date")  # fmt: skip
    half = pl.col("sd") / pl.col("n").sqrt() * pl.Series("_t", t975(table["n"].to_numpy()), dtype=pl.Float64)
    return table.with_columns((pl.col("mean") - half).alias("ci_low"), (pl.col("mean") + half).alias("ci_high")).drop(
        "sd"
    )


MART = Mart("self_leadership_trajectory", "aggregate", build, LAYOUT)
