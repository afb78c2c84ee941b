"""milestone_curves — Kaplan-Meier cumulative proportion of episodes reaching each milestone, by attended sessions
and by days.

Purpose: how soon do episodes reach each step of the IFS process (seed 001)?
Grain: one row per milestone × unit × time (a step of the curve).
Inputs: milestones (time to each milestone; the censoring point = the episode's last attended session).
Reference: DESIGN 5.6, 6; docs/indicators.md §8. Kaplan-Meier by `scipy.stats.ecdf` on right-censored data (the one
computation SQL cannot do); a point is published only while at least k episodes are at risk, and the event count
per step is not published.
Missing data: an episode that has not reached a milestone is censored at its last attended session.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
from scipy import stats

from pipeline.marts.base import Context, Mart
from pipeline.marts.milestone_funnel import MILESTONES

CURVE_SCHEMA = {"milestone": pl.Int64, "unit": pl.String, "time": pl.Float64, "at_risk": pl.Int64,
                "events": pl.Int64, "cumulative_reached": pl.Float64, "ci_low": pl.Float64,
                "ci_high": pl.Float64}  # fmt: skip


def milestone_curve(milestones: pl.DataFrame, k: int, unit: str = "session", min_at_risk: int = 1) -> pl.DataFrame:
    """Kaplan-Meier cumulative proportion reaching milestone k by time (sessions or days), censored at the
    episode's last attended session; points only while at least ``min_at_risk`` episodes are at risk."""
    column, censor = (f"m{k}_session", "last_session") if unit == "session" else (f"m{k}_days", "last_days")
    times = milestones.select(
        pl.coalesce(pl.col(column), pl.col(censor)).alias("t"), pl.col(column).is_not_null().alias("event")
    )
    t = times["t"].to_numpy().astype(float)
    event = times["event"].to_numpy()
    if not event.any():
        return pl.DataFrame(schema=CURVE_SCHEMA)
    result = stats.ecdf(stats.CensoredData(uncensored=t[event], right=t[~event]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the CI is undefined where S reaches 0: NaN, not an error
        ci = result.sf.confidence_interval(0.95)
    points = result.sf.quantiles
    at_risk = np.array([(t >= q).sum() for q in points])
    n_events = np.array([((t == q) & event).sum() for q in points])
    frame = pl.DataFrame(
        {"milestone": k, "unit": unit, "time": points, "at_risk": at_risk, "events": n_events,
         "cumulative_reached": 1 - result.sf.probabilities, "ci_low": 1 - ci.high.probabilities,
         "ci_high": 1 - ci.low.probabilities},
        schema=CURVE_SCHEMA,
    )  # fmt: skip
    return frame.filter(pl.col("events") > 0).filter(pl.col("at_risk") >= min_at_risk)


def build(ctx: Context) -> pl.DataFrame:
    milestones = ctx.query("SELECT * FROM milestones ORDER BY client_id")
    k = ctx.settings.disclosure.k
    curves = [milestone_curve(milestones, m, unit=u, min_at_risk=k) for m in MILESTONES for u in ("session", "days")]
    return pl.concat(curves).drop("events")


MART = Mart("milestone_curves", "aggregate", build)
