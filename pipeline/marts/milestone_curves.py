"""milestone_curves — the cumulative proportion of episodes reaching each IFS milestone, by attended sessions and by
days: cumulative incidence with ending treatment as a competing event (the default), and Kaplan-Meier as a labelled
sensitivity analysis.

Purpose: how many episodes reach each step of the IFS process (seed 001), and how soon?
Grain: one row per milestone × unit × method × time (a step of the curve).
Inputs: milestones (time to each milestone; the episode's last attended session), episodes (ended or lapsed).
Reference: DESIGN 5.6 and §0; docs/indicators.md §8. An episode that reached milestone k is an event at that time;
one that ended (discharged) or lapsed before reaching it has met a competing event at its last attended session —
it can no longer reach it; an open episode is censored there.
- `cumulative_incidence` (Aalen-Johansen): F(t) = Σ_{tⱼ ≤ t} S(tⱼ₋) · d₁ⱼ / nⱼ, S the all-cause event-free proportion;
  95% CI from the delta-method variance (Collett 2015, §12.2; SAS PROC LIFETEST) on the log(−log) scale.
- `kaplan_meier`: 1 − S₁(t) treating an ended episode as censored, as if it might still reach the milestone later —
  it overstates reach whenever episodes end early (kept as a sensitivity analysis); `scipy.stats.ecdf`.
Both are the computations SQL cannot do. Disclosure control as OpenSAFELY's Kaplan-Meier action does it: the curves
are computed from the counting process rounded to bands of k (`rounded_counting_process`: every step of the events,
competing ends, censorings and so of `at_risk` is 0 or a multiple of k after the first), a point is published only
while at least k episodes are at risk, and the event count per step is not published.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
from scipy import stats

from pipeline.disclosure import round_to_band
from pipeline.marts.base import Context, Mart
from pipeline.marts.milestone_funnel import MILESTONES

METHODS = ("cumulative_incidence", "kaplan_meier")
CURVE_SCHEMA = {"milestone": pl.Int64, "unit": pl.String, "method": pl.String, "time": pl.Float64,
                "at_risk": pl.Int64, "events": pl.Int64, "cumulative_reached": pl.Float64, "ci_low": pl.Float64,
                "ci_high": pl.Float64}  # fmt: skip


def _times(milestones: pl.DataFrame, k: int, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Per episode: the time and its kind — 1 reached milestone k, 2 ended first (competing), 0 censored (open)."""
    column, censor = (f"m{k}_session", "last_session") if unit == "session" else (f"m{k}_days", "last_days")
    reached = milestones[column].is_not_null().to_numpy()
    ended = milestones["ended"].fill_null(False).to_numpy() if "ended" in milestones.columns else np.zeros(len(reached))
    t = milestones.select(pl.coalesce(column, censor)).to_series().to_numpy().astype(float)
    kind = np.where(reached, 1, np.where(ended, 2, 0))
    return t, kind


def cumulative_incidence(t: np.ndarray, kind: np.ndarray, confidence: float = 0.95) -> pl.DataFrame:
    """Aalen-Johansen cumulative incidence of event 1 with event 2 competing (0 = censored), at every event time:
    time, at_risk, events (of kind 1), cumulative_reached, and the delta-method CI on the log(−log) scale."""
    times = np.unique(t[kind != 0])
    at_risk = np.array([(t >= x).sum() for x in times], dtype=float)
    d1 = np.array([((t == x) & (kind == 1)).sum() for x in times], dtype=float)
    d = np.array([((t == x) & (kind != 0)).sum() for x in times], dtype=float)
    survival = np.cumprod(1 - d / at_risk)
    lagged = np.concatenate([[1.0], survival[:-1]])
    cif = np.cumsum(lagged * d1 / at_risk)
    variance = np.empty(len(times))
    with np.errstate(divide="ignore", invalid="ignore"):
        all_cause = np.where(at_risk > d, d / (at_risk * (at_risk - d)), 0.0)
        for j in range(len(times)):
            gap = cif[j] - cif[: j + 1]
            variance[j] = (
                np.sum(gap**2 * all_cause[: j + 1])
                + np.sum(lagged[: j + 1] ** 2 * d1[: j + 1] * (at_risk[: j + 1] - d1[: j + 1]) / at_risk[: j + 1] ** 3)
                - 2 * np.sum(gap * lagged[: j + 1] * d1[: j + 1] / at_risk[: j + 1] ** 2)
            )
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        transformed = np.log(-np.log(cif))
        se = np.sqrt(np.maximum(variance, 0)) / (cif * np.abs(np.log(cif)))
        low, high = np.exp(-np.exp(transformed + z * se)), np.exp(-np.exp(transformed - z * se))
    return pl.DataFrame(
        {"time": times, "at_risk": at_risk.astype(np.int64), "events": d1.astype(np.int64), "cumulative_reached": cif,
         "ci_low": low, "ci_high": high},
    ).with_columns(pl.col("ci_low", "ci_high").fill_nan(None))  # fmt: skip


def kaplan_meier(t: np.ndarray, kind: np.ndarray) -> pl.DataFrame:
    """1 − Kaplan-Meier of event 1, every other end censored (`scipy.stats.ecdf` on right-censored data)."""
    event = kind == 1
    result = stats.ecdf(stats.CensoredData(uncensored=t[event], right=t[~event]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the CI is undefined where S reaches 0: NaN, not an error
        ci = result.sf.confidence_interval(0.95)
    points = result.sf.quantiles
    return pl.DataFrame(
        {"time": points, "at_risk": np.array([(t >= q).sum() for q in points], dtype=np.int64),
         "events": np.array([((t == q) & event).sum() for q in points], dtype=np.int64),
         "cumulative_reached": 1 - result.sf.probabilities, "ci_low": 1 - ci.high.probabilities,
         "ci_high": 1 - ci.low.probabilities}
    ).with_columns(pl.col("ci_low", "ci_high").fill_nan(None))  # fmt: skip


def rounded_counting_process(t: np.ndarray, kind: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """The episodes as the curve may publish them (OpenSAFELY's `kaplan-meier-function`): per kind (reached,
    ended first, censored) the cumulative count over time rounded with `round_to_band` to the middle of a band of
    ``base``, so that every step of every count is 0 or a multiple of ``base`` (the first: the middle of the band
    1..base) — a step of the curve or of its at-risk number cannot reveal 1..base−1 people; the estimators then
    run on these counts as if they were the data. The information lost is tested (within 3 points of the exact
    curve on a practice-sized sample: tests/test_disclosure.py)."""
    times = np.unique(t)
    out_t, out_kind = [], []
    for c in (0, 1, 2):
        per_time = np.array([((t == x) & (kind == c)).sum() for x in times], dtype=np.int64)
        rounded = np.diff(round_to_band(np.cumsum(per_time), base), prepend=0)
        out_t.append(np.repeat(times, rounded))
        out_kind.append(np.full(int(rounded.sum()), c))
    return np.concatenate(out_t), np.concatenate(out_kind)


def milestone_curve(
    milestones: pl.DataFrame,
    k: int,
    unit: str = "session",
    method: str = "cumulative_incidence",
    min_at_risk: int = 1,
    rounding: int | None = None,
) -> pl.DataFrame:
    """One milestone's curve; points only while at least ``min_at_risk`` episodes are at risk; with ``rounding``,
    from the rounded counting process (`rounded_counting_process`)."""
    t, kind = _times(milestones, k, unit)
    if rounding:
        t, kind = rounded_counting_process(t, kind, rounding)
    if not (kind == 1).any():
        return pl.DataFrame(schema=CURVE_SCHEMA)
    curve = cumulative_incidence(t, kind) if method == "cumulative_incidence" else kaplan_meier(t, kind)
    return (
        curve.filter((pl.col("events") > 0) & (pl.col("at_risk") >= min_at_risk))
        .with_columns(milestone=pl.lit(k, pl.Int64), unit=pl.lit(unit), method=pl.lit(method))
        .select(list(CURVE_SCHEMA))
        .cast(CURVE_SCHEMA)  # type: ignore[arg-type]
    )


def build(ctx: Context) -> pl.DataFrame:
    milestones = ctx.query(
        "SELECT m.*, e.ended OR e.lapsed AS ended FROM milestones AS m JOIN episodes AS e USING (client_id) "
        "ORDER BY client_id"
    )
    k = ctx.settings.disclosure.k
    curves = [
        milestone_curve(milestones, m, unit=u, method=method, min_at_risk=k, rounding=k)
        for m in MILESTONES
        for u in ("session", "days")
        for method in METHODS
    ]
    return pl.concat(curves).drop("events")


MART = Mart("milestone_curves", "aggregate", build)
