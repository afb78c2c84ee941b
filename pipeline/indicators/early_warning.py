"""Early warning (client-level): not on track, reliable deterioration, PHQ-9 item 9 (DESIGN 5.10).

Purpose: help clinicians review their own caseload. These flags come from batch data that may be weeks old: they
support review, they are NOT a safety system, and every view that shows them says so (`CAVEAT`).
Grain: `alerts` — one row per episode × instrument × scale with a baseline and a later administration, for
PHQ-9 and every other scale; plus the item-9 columns on PHQ-9 rows.
Inputs: `scores`, the baseline of each episode (`pair_baseline_latest`), `client_change`, item answers, sessions.
Definitions:
- not on track, from session number 3 on: at its latest administration the episode's change from baseline
  (signed so that larger = better, s·change) is lower than that of at least 80% of the *other* episodes with an
  administration at the same session number, instrument scale and baseline severity band — i.e. fewer than 20%
  of the others changed strictly less favourably. Severity bands are pooled when that cell has fewer than 30
  episodes; with fewer than 30 pooled the episode is not assessed (`reference_n` says how many);
- reliable deterioration: `client_change.reliably_deteriorated` (the scale's rule, DESIGN 5.3);
- PHQ-9 item 9 at the latest PHQ-9: a value > 0 is `item9_positive`; a skipped item 9 is `item9_unanswered`,
  never a risk flag.
"""

from __future__ import annotations

import polars as pl

from pipeline.change import PAIR_KEY, session_numbers

CAVEAT = (
    "Flags come from exported batch data that may be weeks old. They support clinical review; they are not a "
    "safety system and do not replace clinical judgement or a risk assessment."
)
MIN_SESSION_NUMBER = 3
MIN_REFERENCE = 30
WORST_SHARE = 0.2
VERDICT_SCHEMA = {
    **dict.fromkeys(PAIR_KEY, pl.String), "session_number": pl.Int64, "better_change": pl.Float64,
    "reference_n": pl.Int64, "reference_pooled": pl.Boolean, "not_on_track": pl.Boolean,
}  # fmt: skip


def not_on_track(
    scores: pl.DataFrame, pairs: pl.DataFrame, sessions: pl.DataFrame, higher_is_better: pl.DataFrame
) -> pl.DataFrame:
    """Per episode × scale at its latest administration (session number ≥ 3): the not-on-track verdict."""
    baselines = pairs.filter(pl.col("baseline_date").is_not_null()).select(*PAIR_KEY, "baseline_date", "baseline_score")
    bands = scores.select(
        *PAIR_KEY, pl.col("administered_on").alias("baseline_date"), pl.col("band").alias("baseline_band")
    )
    admins = (
        scores.filter(pl.col("score").is_not_null())
        .join(baselines, on=PAIR_KEY, how="inner")
        .filter(pl.col("administered_on") > pl.col("baseline_date"))
        .join(bands, on=[*PAIR_KEY, "baseline_date"], how="left")
        .join(higher_is_better, on=["instrument", "scale"], how="left")
    )
    if admins.height == 0:
        return pl.DataFrame(schema=VERDICT_SCHEMA)
    admins = admins.with_columns(session_numbers(admins, sessions, "administered_on").alias("session_number"))
    sign = pl.when(pl.col("higher_is_better")).then(1.0).otherwise(-1.0)
    admins = (
        admins.with_columns((sign * (pl.col("score") - pl.col("baseline_score"))).alias("better_change"))
        .sort(*PAIR_KEY, "administered_on")
        .group_by(*PAIR_KEY, "session_number", maintain_order=True)
        .last()  # one value per episode and session number: its last administration up to then
        .filter(pl.col("session_number") >= MIN_SESSION_NUMBER)
        .with_columns(pl.col("baseline_band").fill_null("(no bands)"))
    )
    cell = ["instrument", "scale", "session_number", "baseline_band"]
    pooled = ["instrument", "scale", "session_number"]
    ranked = (
        admins.with_columns(
            pl.len().over(cell).alias("_n_cell"),
            (pl.col("better_change").rank("min").over(cell) - 1).alias("_worse_cell"),
            pl.len().over(pooled).alias("_n_pooled"),
            (pl.col("better_change").rank("min").over(pooled) - 1).alias("_worse_pooled"),
        )
        .with_columns(
            (pl.col("_n_cell") < MIN_REFERENCE).alias("reference_pooled"),
        )
        .with_columns(
            pl.when(pl.col("reference_pooled"))
            .then(pl.col("_n_pooled") - 1)
            .otherwise(pl.col("_n_cell") - 1)
            .alias("reference_n"),
            pl.when(pl.col("reference_pooled"))
            .then(pl.col("_worse_pooled"))
            .otherwise(pl.col("_worse_cell"))
            .alias("_worse"),
        )
    )
    verdict = pl.when(pl.col("reference_n") + 1 >= MIN_REFERENCE).then(
        pl.col("_worse") / pl.col("reference_n") < WORST_SHARE
    )
    latest = ranked.sort("session_number").group_by(PAIR_KEY, maintain_order=True).last()
    return latest.select(
        *PAIR_KEY, "session_number", "better_change", pl.col("reference_n").cast(pl.Int64), "reference_pooled",
        verdict.alias("not_on_track"),
    )  # fmt: skip


def phq9_item9(measures: pl.DataFrame) -> pl.DataFrame:
    """Item 9 at each episode's latest PHQ-9 administration: positive (> 0) or unanswered (skipped or absent)."""
    phq = measures.filter(pl.col("instrument") == "phq9")
    latest = phq.group_by("client_id").agg(pl.col("administered_on").max().alias("item9_date"))
    item9 = phq.filter(pl.col("item") == "phq9_9").select(
        "client_id", pl.col("administered_on").alias("item9_date"), pl.col("value").alias("item9_value")
    )
    out = latest.join(item9, on=["client_id", "item9_date"], how="left")
    return out.with_columns(
        (pl.col("item9_value") > 0).fill_null(False).alias("item9_positive"),
        pl.col("item9_value").is_null().alias("item9_unanswered"),
    )


def build_alerts(
    scores: pl.DataFrame, pairs: pl.DataFrame, client_change: pl.DataFrame, measures: pl.DataFrame,
    sessions: pl.DataFrame, clients: pl.DataFrame,
) -> pl.DataFrame:  # fmt: skip
    """The clinical `alerts` table: every paired episode × scale with its three flags and `any_flag`."""
    direction = client_change.select("instrument", "scale", "higher_is_better").unique(["instrument", "scale"])
    verdicts = not_on_track(scores, pairs, sessions, direction)
    base = client_change.filter("paired").select(
        *PAIR_KEY, "latest_date", "latest_session_number", "change", "reliably_deteriorated"
    )
    alerts = (
        base.join(
            verdicts.select(*PAIR_KEY, "reference_n", "reference_pooled", "not_on_track"), on=PAIR_KEY, how="left"
        )
        .join(phq9_item9(measures), on="client_id", how="left")
        .with_columns(
            pl.when(pl.col("instrument") == "phq9").then(pl.col(c)).alias(c)
            for c in ("item9_date", "item9_value", "item9_positive", "item9_unanswered")
        )
        .join(
            clients.select("client_id", pl.col("discharge_date").is_null().alias("episode_open")),
            on="client_id",
            how="left",
        )
    )
    flags = [
        pl.col("not_on_track").fill_null(False),
        pl.col("reliably_deteriorated").fill_null(False),
        pl.col("item9_positive").fill_null(False),
    ]
    return alerts.with_columns(pl.any_horizontal(flags).alias("any_flag"), pl.lit(CAVEAT).alias("caveat")).sort(
        PAIR_KEY
    )
