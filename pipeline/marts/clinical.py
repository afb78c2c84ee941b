"""The client-level tables of `published/clinical.duckdb`, for clinicians' own caseloads (never shared).

- client_change — baseline and latest score, reliable change, clinical status and category per episode × scale
  (the warehouse's table: `change.build_client_change`, DESIGN 5.2-5.3). Grain: episode × instrument × scale.
- client_scores — every scored administration with its session number and severity band: a client's trajectory.
  Grain: episode × instrument × scale × administration.
- milestones — when each IFS milestone was reached in order, stage reached, deviations
  (`intermediate/milestones.sql`, DESIGN 5.6). Grain: episode with an attended treatment session.
- self_leadership — Self score, Self-energy and polarization per episode, and the practice-defined index
  (`intermediate/self_leadership.sql`, DESIGN 5.5). Grain: episode with a Self point.
- coaching — GAS, follow-through, resistance trend and the choice point per coaching episode
  (`intermediate/coaching_episodes.sql`, DESIGN 5.8). Grain: coaching episode.
- episode_engagement — engagement facts and dimensions per episode (`intermediate/episodes.sql`). Grain: episode.
- alerts — in `pipeline/marts/alerts.py`.
Missing data: as in each source's header.
"""

from __future__ import annotations

import polars as pl

from pipeline.marts.base import Context, Mart

INDEX_LABEL = "Self-leadership index (practice-defined; not a validated measure)"
CHOICE_POINT_LABEL = "choice point (practice-defined thresholds)"


def client_change(ctx: Context) -> pl.DataFrame:
    return ctx.query("SELECT * FROM client_change ORDER BY client_id, instrument, scale")


def client_scores(ctx: Context) -> pl.DataFrame:
    return ctx.query(
        "SELECT client_id, instrument, scale, administered_on, session_number, score, pomp, band "
        "FROM scored_administrations ORDER BY client_id, instrument, scale, administered_on"
    )


def milestones(ctx: Context) -> pl.DataFrame:
    return ctx.query("SELECT * FROM milestones ORDER BY client_id")


def self_leadership(ctx: Context) -> pl.DataFrame:
    return ctx.query("SELECT *, $label AS index_label FROM self_leadership ORDER BY client_id", label=INDEX_LABEL)


def coaching(ctx: Context) -> pl.DataFrame:
    return ctx.query(
        "SELECT *, $label AS choice_point_label FROM coaching_episodes ORDER BY client_id", label=CHOICE_POINT_LABEL
    )


def episode_engagement(ctx: Context) -> pl.DataFrame:
    return ctx.query("SELECT * EXCLUDE (practice) FROM episodes ORDER BY client_id")


MARTS = (
    Mart("client_change", "clinical", client_change),
    Mart("client_scores", "clinical", client_scores),
    Mart("milestones", "clinical", milestones),
    Mart("self_leadership", "clinical", self_leadership),
    Mart("coaching", "clinical", coaching),
    Mart("episode_engagement", "clinical", episode_engagement),
)
