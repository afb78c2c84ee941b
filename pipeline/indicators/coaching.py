"""Coaching (DESIGN 5.8): Goal Attainment Scaling, commitment follow-through, resistance, choice points.

Purpose: is coaching moving the client towards their goals, and when does the need for healing outgrow the
capacity for growth (seed 002's *choice point*)?
Grain: `gas_scores` — one row per episode × rating date; `coaching` — one row per coaching episode.
Inputs: `goals`; attended treatment sessions' resistance and commitments; PHQ-9/GAD-7 caseness from `scores`.
Definitions:
- GAS T = 50 + 10·Σwᵢxᵢ / √((1 − ρ)Σwᵢ² + ρ(Σwᵢ)²), ρ = 0.3, over the goals rated that day (Kiresuk &
  Sherman 1968); 50 = goals attained as expected;
- follow-through = Σ commitments kept / Σ commitments set in the previous attended session;
- resistance trend = OLS slope of resistance per attended session (≥ 3 ratings);
- choice point (practice-defined; thresholds in `IndicatorSettings`): the first attended session where the
  mean resistance over it and the two attended sessions before it is ≥ 7 **and** (follow-through over those
  sessions < 50% **or** the latest PHQ-9 or GAD-7 on or before it at caseness);
- what followed: `referred_to_therapy` (ended so), `continued_coaching` (≥ 3 further attended sessions),
  `ended_otherwise`, or `too_early` (open, fewer than 3 sessions since).
Coaching episodes are those with service = coaching.
"""

from __future__ import annotations

import math

import polars as pl

from pipeline.change import treatment_sessions
from pipeline.settings import DEFAULTS, IndicatorSettings

CHOICE_POINT_LABEL = "choice point (practice-defined thresholds)"
FOLLOWED = ("referred_to_therapy", "continued_coaching", "ended_otherwise", "too_early")


def gas_t_scores(goals: pl.DataFrame, rho: float = DEFAULTS.indicators.gas_rho) -> pl.DataFrame:
    """One GAS T-score per episode and rating date."""
    w, x = pl.col("weight").cast(pl.Float64), pl.col("attainment").cast(pl.Float64)
    return (
        goals.group_by("client_id", "rated_on")
        .agg((w * x).sum().alias("_wx"), (w * w).sum().alias("_w2"), w.sum().alias("_w"), pl.len().alias("goals_rated"))
        .with_columns(
            (50 + 10 * pl.col("_wx") / ((1 - rho) * pl.col("_w2") + rho * pl.col("_w") ** 2).sqrt()).alias("gas_t")
        )
        .select("client_id", "rated_on", "goals_rated", "gas_t")
        .sort("client_id", "rated_on")
    )


def coaching_episodes(
    clients: pl.DataFrame, sessions: pl.DataFrame, goals: pl.DataFrame, caseness: pl.DataFrame,
    settings: IndicatorSettings = DEFAULTS.indicators,
) -> pl.DataFrame:  # fmt: skip
    """One row per coaching episode: GAS baseline/latest/change, follow-through, resistance slope, choice point
    and what followed. ``caseness`` has client_id, administered_on, clinical (PHQ-9 or GAD-7 rows)."""
    coaching = clients.filter(pl.col("service") == "coaching").select("client_id", "discharge_date", "discharge_reason")
    attended = (
        treatment_sessions(sessions)
        .join(coaching.select("client_id"), on="client_id", how="semi")
        .rename({"session_number": "n"})
        .with_columns(pl.col("commitments_set").shift(1).over("client_id").alias("set_before"))
    )
    window = 3
    rolling = attended.with_columns(
        pl.col("resistance")
        .cast(pl.Float64)
        .rolling_mean(window, min_samples=window)
        .over("client_id")
        .alias("resistance_3"),
        # commitments kept only count against commitments set in a previous attended session
        pl.when(pl.col("set_before").is_not_null())
        .then(pl.col("commitments_kept"))
        .cast(pl.Float64)
        .rolling_sum(window, min_samples=1)
        .over("client_id")
        .alias("_kept3"),
        pl.col("set_before").cast(pl.Float64).rolling_sum(window, min_samples=1).over("client_id").alias("_set3"),
    ).with_columns(pl.when(pl.col("_set3") > 0).then(pl.col("_kept3") / pl.col("_set3")).alias("follow_through_3"))
    latest_caseness = (
        caseness.rename({"administered_on": "session_date"})
        .group_by("client_id", "session_date")
        .agg(pl.col("clinical").any())
        .sort("session_date")
    )
    with_case = (
        rolling.sort("session_date")
        .join_asof(latest_caseness, on="session_date", by="client_id", strategy="backward", check_sortedness=False)
        .sort("client_id", "n")
    )
    hit = (pl.col("resistance_3") >= settings.choice_point_resistance) & (
        (pl.col("follow_through_3") < settings.choice_point_follow_through).fill_null(False)
        | pl.col("clinical").fill_null(False)
    )
    points = (
        with_case.filter(hit)
        .group_by("client_id")
        .agg(
            pl.col("session_date").first().alias("choice_point_date"), pl.col("n").first().alias("choice_point_session")
        )
    )
    x, r = pl.col("n").cast(pl.Float64), pl.col("resistance").cast(pl.Float64)
    per = attended.group_by("client_id").agg(
        pl.col("n").max().alias("attended_sessions"),
        # Undefined (null, not NaN) when no commitment was set: 0/0 is not a follow-through of anything.
        pl.when(pl.col("set_before").sum() > 0)
        .then(pl.col("commitments_kept").filter(pl.col("set_before").is_not_null()).sum() / pl.col("set_before").sum())
        .alias("follow_through"),
        pl.when(r.count() >= settings.slope_min_points)
        .then(pl.cov(x, r) / x.filter(r.is_not_null()).var())
        .alias("resistance_slope"),
    )
    gas = (
        gas_t_scores(goals, settings.gas_rho)
        .group_by("client_id")
        .agg(
            pl.col("gas_t").first().alias("gas_t_baseline"),
            pl.col("gas_t").last().alias("gas_t_latest"),
            pl.len().alias("gas_ratings"),
        )
    )
    out = (
        coaching.join(per, on="client_id", how="left")
        .join(gas, on="client_id", how="left")
        .join(points, on="client_id", how="left")
    )
    followed = (
        pl.when(pl.col("choice_point_date").is_null()).then(None)
        .when(pl.col("discharge_reason") == "referred_to_therapy").then(pl.lit("referred_to_therapy"))
        .when(pl.col("attended_sessions") - pl.col("choice_point_session") >= settings.choice_point_continued_sessions)
        .then(pl.lit("continued_coaching"))
        .when(pl.col("discharge_date").is_not_null()).then(pl.lit("ended_otherwise"))
        .otherwise(pl.lit("too_early"))
    )  # fmt: skip
    return out.with_columns(
        (pl.col("gas_t_latest") - pl.col("gas_t_baseline")).alias("gas_t_change"),
        followed.alias("after_choice_point"),
        pl.lit(CHOICE_POINT_LABEL).alias("choice_point_label"),
    ).sort("client_id")


def gas_t(weights: list[float], attainments: list[float], rho: float = 0.3) -> float:
    """The Kiresuk-Sherman formula for one rating (used to document and test the vectorised version)."""
    num = sum(w * x for w, x in zip(weights, attainments, strict=True))
    den = math.sqrt((1 - rho) * sum(w * w for w in weights) + rho * sum(weights) ** 2)
    return 50 + 10 * num / den
