"""Self-leadership (seed goal 5, DESIGN 5.5): the Self score, clinician-rated Self-energy and polarization.

Purpose: does Self lead more over the episode?
Grain: `self_leadership` — one row per episode with any Self measure; `self_leadership_points` — one row per
episode × measure × session number (the trajectory's raw points, aggregated at publish).
Inputs: `scores` (IFS Self total, else the 8 Cs check-in, as POMP 0-100), attended treatment sessions' ratings.
Definitions: baseline = first point, latest = last point, change = latest − baseline; slope = OLS slope per
session number over the episode's points (null with fewer than 3); `ifs_self_reliably_improved` from
`client_change`. The **Self-leadership index** (0-100) is practice-defined: a weighted mean of the Self POMP,
Self-energy × 10 and (10 − polarization) × 10 with weights in `IndicatorSettings.index_weights`, renormalised over
the components an episode has. It is labelled practice-defined wherever shown.
"""

from __future__ import annotations

import polars as pl

from pipeline.change import session_numbers, treatment_sessions
from pipeline.settings import DEFAULTS, IndicatorSettings

INDEX_LABEL = "Self-leadership index (practice-defined; not a validated measure)"
MEASURES = ("self_score_pomp", "clinician_self_energy", "polarization")


def self_points(scores: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """client_id, measure, session_number, value: the Self score (POMP) at each administration of the episode's
    Self scale, and the clinician ratings at each attended treatment session."""
    self_scores = scores.filter(
        pl.col("instrument").is_in(["ifs_self", "self_energy_8c"]) & pl.col("pomp").is_not_null()
    )
    chosen = (
        self_scores.with_columns((pl.col("instrument") != "ifs_self").cast(pl.Int8).alias("_rank"))
        .group_by("client_id")
        .agg(pl.col("instrument").sort_by("_rank").first().alias("self_scale"))
    )
    own = self_scores.join(chosen, on="client_id").filter(pl.col("instrument") == pl.col("self_scale"))
    points_self = own.with_columns(session_numbers(own, sessions, "administered_on").alias("session_number")).select(
        "client_id", measure=pl.lit("self_score_pomp"), session_number="session_number", value="pomp"
    )
    treatment = treatment_sessions(sessions)
    ratings = [
        treatment.filter(pl.col(column).is_not_null()).select(
            "client_id", measure=pl.lit(name), session_number="session_number", value=pl.col(column).cast(pl.Float64)
        )
        for name, column in (("clinician_self_energy", "self_energy"), ("polarization", "polarization"))
    ]
    out = pl.concat([p.with_columns(pl.col("session_number").cast(pl.Int64)) for p in (points_self, *ratings)])
    # one value per episode, measure and session number (the last administration up to it)
    return (
        out.group_by("client_id", "measure", "session_number", maintain_order=True)
        .last()
        .sort("client_id", "measure", "session_number")
    )


def self_leadership(
    points: pl.DataFrame, client_change: pl.DataFrame, settings: IndicatorSettings = DEFAULTS.indicators
) -> pl.DataFrame:
    """One row per episode: baseline, latest, change and slope per measure, the index at both ends."""
    x, y = pl.col("session_number").cast(pl.Float64), pl.col("value")
    per = points.group_by("client_id", "measure").agg(
        y.first().alias("baseline"),
        y.last().alias("latest"),
        pl.len().alias("n_points"),
        pl.when(pl.len() >= settings.slope_min_points).then(pl.cov(x, y) / x.var()).alias("slope_per_session"),
    )
    wide = per.pivot(on="measure", index="client_id", values=["baseline", "latest", "n_points", "slope_per_session"])
    for measure in MEASURES:
        for stat in ("baseline", "latest", "n_points", "slope_per_session"):
            if f"{stat}_{measure}" not in wide.columns:
                wide = wide.with_columns(pl.lit(None, pl.Float64).alias(f"{stat}_{measure}"))
    wide = wide.with_columns((pl.col(f"latest_{m}") - pl.col(f"baseline_{m}")).alias(f"change_{m}") for m in MEASURES)
    w_self, w_energy, w_polar = settings.index_weights
    for end in ("baseline", "latest"):
        parts = [
            (pl.col(f"{end}_self_score_pomp"), w_self),
            (pl.col(f"{end}_clinician_self_energy") * 10, w_energy),
            ((10 - pl.col(f"{end}_polarization")) * 10, w_polar),
        ]
        weighted = pl.sum_horizontal([(p * w).fill_null(0) for p, w in parts])
        weights = pl.sum_horizontal([pl.when(p.is_not_null()).then(w).otherwise(0.0) for p, w in parts])
        wide = wide.with_columns(pl.when(weights > 0).then(weighted / weights).alias(f"index_{end}"))
    improved = client_change.filter((pl.col("instrument") == "ifs_self") & pl.col("paired")).select(
        "client_id", pl.col("reliably_improved").alias("ifs_self_reliably_improved")
    )
    return (
        wide.join(improved, on="client_id", how="left")
        .with_columns(
            (pl.col("index_latest") - pl.col("index_baseline")).alias("index_change"),
            pl.lit(INDEX_LABEL).alias("index_label"),
        )
        .sort("client_id")
    )
