"""The IFS process: milestones M1-M5 per episode, stage reached, sequence deviations, time to milestone.

Purpose: how far each episode travels through the five goals of IFS work (seed 001), in order.
Grain: `milestones` — one row per episode with at least one attended treatment session.
Inputs: attended treatment sessions (intake, regular, closing) with clinician-rated process markers; the
Self-score change events of `self_leadership_events` (M5).
Reference: DESIGN 5.6. Milestone events, each at the first qualifying attended session:
  M1 protector trust   protector_trust ≥ 7 (config) and unblending partial or full
  M2 exile contact     exile_contact with protector_permission
  M3 unburdening       unburdening partial or complete
  M4 protector release protector_release partial or complete
  M5 self-leadership   the Self score (IFS Self Scale total, else the 8 Cs check-in) reliably improved over
                       baseline at an administration, and still at the next administration if there is one
Milestone k is reached at the first qualifying event on or after the session where k−1 was reached (the same
session is in order). Stage reached = the highest k with M1..Mk reached in order. A qualifying event for k
before k−1 was reached is a sequence deviation (`m{k}_before_m{k-1}`), and so is an exile contact recorded
with protector_permission = false (`exile_contact_without_permission`; an empty permission is not counted).
Deviations are counted, not judged.
Missing data: a null marker never qualifies. Episodes with no attended treatment session have no row.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from pipeline.change import treatment_sessions
from pipeline.settings import DEFAULTS, IndicatorSettings

MILESTONES = (1, 2, 3, 4, 5)
DEVIATION_KINDS = (
    "m2_before_m1", "m3_before_m2", "m4_before_m3", "m5_before_m4", "exile_contact_without_permission",
)  # fmt: skip
MILESTONE_NAMES = {
    1: "protector trust",
    2: "exile contact with permission",
    3: "unburdening",
    4: "protector release",
    5: "self-leadership",
}


def qualifying_events(sessions: pl.DataFrame, settings: IndicatorSettings = DEFAULTS.indicators) -> pl.DataFrame:
    """Attended treatment sessions in order, numbered, with a boolean per milestone event M1-M4."""
    treatment = treatment_sessions(sessions)
    trusted = (pl.col("protector_trust") >= settings.protector_trust_min) & pl.col("unblending").is_in(
        ["partial", "full"]
    )
    without_permission = pl.col("exile_contact") & (pl.col("protector_permission") == False)  # noqa: E712
    return treatment.select(
        "client_id",
        "session_date",
        "session_number",
        q1=trusted.fill_null(False),
        q2=(pl.col("exile_contact") & pl.col("protector_permission")).fill_null(False),
        q3=pl.col("unburdening").is_in(["partial", "complete"]).fill_null(False),
        q4=pl.col("protector_release").is_in(["partial", "complete"]).fill_null(False),
        no_permission=without_permission.fill_null(False),
    )


def ifs_milestones(
    sessions: pl.DataFrame, self_events: pl.DataFrame | None = None, settings: IndicatorSettings = DEFAULTS.indicators
) -> pl.DataFrame:
    """One row per episode: for k in 1..5 `m{k}_date`, `m{k}_session` (attended treatment sessions up to and
    including it) and `m{k}_days` (days from the first attended treatment session); `stage_reached`; the
    censoring point (`last_session`, `last_days`); and one count column per deviation kind.

    ``self_events`` has client_id and session_number of the sessions at which M5's event occurred.
    """
    events = qualifying_events(sessions, settings)
    if self_events is not None and self_events.height:
        q5 = self_events.select("client_id", "session_number").unique().with_columns(pl.lit(True).alias("q5"))
        events = events.join(q5, on=["client_id", "session_number"], how="left").with_columns(
            pl.col("q5").fill_null(False)
        )
    else:
        events = events.with_columns(pl.lit(False).alias("q5"))
    return _walk(events).sort("client_id")


def _walk(events: pl.DataFrame) -> pl.DataFrame:
    """Every episode's sessions in order, at once: milestone k is reached at the first row, at or after the row
    where k−1 was reached, whose event k is true; an event k on an earlier row is a deviation."""
    client = "client_id"
    position = pl.int_range(pl.len()).over(client)
    frame = events.with_columns(position.alias("_i"))
    reached_at: list[str] = []
    deviations: list[pl.Expr] = []
    for k in MILESTONES:
        previous = pl.col(reached_at[-1]) if reached_at else None
        eligible = pl.col(f"q{k}") if previous is None else pl.col(f"q{k}") & (pl.col("_i") >= previous)
        frame = frame.with_columns(pl.when(eligible).then(pl.col("_i")).min().over(client).alias(f"_r{k}"))
        if previous is not None:
            early = pl.col(f"q{k}") & (previous.is_null() | (pl.col("_i") < previous))
            deviations.append(early.sum().cast(pl.Int64).alias(f"m{k}_before_m{k - 1}"))
        reached_at.append(f"_r{k}")
    first_date = pl.col("session_date").first()
    per_milestone = []
    for k in MILESTONES:
        at = pl.col("_i") == pl.col(f"_r{k}")
        date = pl.col("session_date").filter(at).first()
        per_milestone += [
            date.alias(f"m{k}_date"),
            pl.col("session_number").filter(at).first().cast(pl.Int64).alias(f"m{k}_session"),
            (date - first_date).dt.total_days().cast(pl.Int64).alias(f"m{k}_days"),
        ]
    out = frame.group_by(client, maintain_order=True).agg(
        *per_milestone,
        pl.sum_horizontal(pl.col(c).first().is_not_null() for c in reached_at).cast(pl.Int64).alias("stage_reached"),
        first_date.alias("first_session_date"),
        pl.col("session_number").last().cast(pl.Int64).alias("last_session"),
        (pl.col("session_date").last() - first_date).dt.total_days().cast(pl.Int64).alias("last_days"),
        *deviations,
        pl.col("no_permission").sum().cast(pl.Int64).alias("exile_contact_without_permission"),
    )
    schema: dict[str, Any] = {"client_id": pl.String}
    for k in MILESTONES:
        schema |= {f"m{k}_date": pl.Date, f"m{k}_session": pl.Int64, f"m{k}_days": pl.Int64}
    schema |= {
        "stage_reached": pl.Int64,
        "first_session_date": pl.Date,
        "last_session": pl.Int64,
        "last_days": pl.Int64,
    }
    schema |= {kind: pl.Int64 for kind in DEVIATION_KINDS}
    return out.select(pl.col(c).cast(t) for c, t in schema.items())


def milestone_curve(milestones: pl.DataFrame, k: int, unit: str = "session", min_at_risk: int = 1) -> pl.DataFrame:
    """Kaplan-Meier cumulative proportion reaching milestone k by time (sessions or days), censored at the
    episode's last attended session; points are kept only while at least ``min_at_risk`` episodes are at risk
    (publish with the disclosure k). Uses ``scipy.stats.ecdf`` on right-censored data."""
    column, censor = (f"m{k}_session", "last_session") if unit == "session" else (f"m{k}_days", "last_days")
    times = milestones.select(
        pl.coalesce(pl.col(column), pl.col(censor)).alias("t"), pl.col(column).is_not_null().alias("event")
    )
    t = times["t"].to_numpy().astype(float)
    event = times["event"].to_numpy()
    schema = {"milestone": pl.Int64, "unit": pl.String, "time": pl.Float64, "at_risk": pl.Int64, "events": pl.Int64,
              "cumulative_reached": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64}  # fmt: skip
    if not event.any():
        return pl.DataFrame(schema=schema)
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
        schema=schema,
    )  # fmt: skip
    return frame.filter(pl.col("events") > 0).filter(pl.col("at_risk") >= min_at_risk)


def self_leadership_events(
    scores: pl.DataFrame, pairs: pl.DataFrame, client_change: pl.DataFrame, sessions: pl.DataFrame
) -> pl.DataFrame:
    """M5 events: administrations of the episode's Self scale (IFS Self total, else the 8 Cs) after baseline
    that are reliably improved over baseline, and still so at the next administration if there is one.
    Returns client_id, session_number, administered_on. The threshold is the scale's `rc_threshold` in
    `client_change` (Jacobson-Truax critical difference), strictly exceeded."""
    from pipeline.change import session_numbers

    scale_rank = {"ifs_self": 0, "self_energy_8c": 1}
    baselines = pairs.filter(pl.col("instrument").is_in(list(scale_rank)) & pl.col("baseline_date").is_not_null())
    if baselines.height == 0:
        return pl.DataFrame(schema={"client_id": pl.String, "session_number": pl.Int64, "administered_on": pl.Date})
    chosen = (
        baselines.with_columns(pl.col("instrument").replace_strict(scale_rank).alias("_rank"))
        .sort("client_id", "_rank")
        .unique("client_id", keep="first")
        .select("client_id", "instrument", "scale", "baseline_date", "baseline_score")
    )
    thresholds = (
        client_change.filter(pl.col("rc_threshold").is_not_null())
        .select("instrument", "scale", "rc_threshold", "higher_is_better")
        .unique(["instrument", "scale"])
    )
    later = (
        scores.filter(pl.col("score").is_not_null())
        .join(chosen, on=["client_id", "instrument", "scale"], how="inner")
        .join(thresholds, on=["instrument", "scale"], how="inner")
        .filter(pl.col("administered_on") > pl.col("baseline_date"))
        .sort("client_id", "administered_on")
    )
    sign = pl.when(pl.col("higher_is_better")).then(1).otherwise(-1)
    improved = (sign * (pl.col("score") - pl.col("baseline_score"))) > pl.col("rc_threshold")
    flagged = later.with_columns(improved.alias("_imp")).with_columns(
        pl.col("_imp").shift(-1).over("client_id").alias("_next")
    )
    hits = flagged.filter(pl.col("_imp") & pl.col("_next").fill_null(True))
    return hits.select(
        "client_id", session_numbers(hits, sessions, "administered_on").alias("session_number"), "administered_on"
    ).filter(pl.col("session_number") > 0)
