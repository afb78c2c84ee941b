"""Publish: build the client-level and the disclosure-controlled aggregate files (DESIGN sections 6 and 7).

- ``<home>/published/clinical.duckdb`` — client-level indicators (pseudonymous) for clinicians' own caseloads;
- ``<home>/published/aggregate.duckdb`` — aggregates only, every table through `apply_disclosure_control`.

Both are built under a temporary name and renamed into place. Aggregates are fixed roll-ups — overall and each
dimension on its own (practice, service, modality, location, cohort) — so a dashboard that only filters
published rows cannot create a new small cell. Reconciliation invariants are checked on the internal
(unsuppressed) tables before disclosure control runs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from pipeline import io
from pipeline.change import CATEGORIES, clinical_expr, effect_sizes
from pipeline.config import Paths
from pipeline.disclosure import DisclosurePolicy, TableLayout, apply_disclosure_control
from pipeline.indicators.coaching import FOLLOWED, coaching_episodes
from pipeline.indicators.early_warning import build_alerts
from pipeline.indicators.ifs_process import DEVIATION_KINDS, MILESTONES, ifs_milestones, milestone_curve
from pipeline.indicators.self_leadership import self_leadership, self_points
from pipeline.settings import DEFAULTS, IndicatorSettings
from schemas.published import conform

DIMENSIONS = ("practice", "service", "modality", "location", "cohort")
#: Episode-level tables are also cut by the month and quarter the episode started (a start cohort).
START_PERIOD = ["period_type", "period", "parent_period"]
OVERALL = ("overall", "all")


class InvariantBroken(AssertionError):
    """An internal table does not reconcile with the warehouse: publishing stops (a bug, exit 3)."""


@dataclass(frozen=True)
class Publication:
    clinical: dict[str, pl.DataFrame]
    aggregate: dict[str, pl.DataFrame]


# --- roll-ups ------------------------------------------------------------------------------------------------


def rollup(
    frame: pl.DataFrame, by: Sequence[str], aggregations: Sequence[pl.Expr], dimensions: Sequence[str] = DIMENSIONS
) -> pl.DataFrame:
    """Aggregate overall and by each dimension on its own: rows keyed by ``dimension`` and ``level``."""
    parts = [
        frame.group_by(list(by), maintain_order=True)
        .agg(*aggregations)
        .with_columns(pl.lit(OVERALL[0]).alias("dimension"), pl.lit(OVERALL[1]).alias("level"))
        if by
        else frame.select(*aggregations).with_columns(
            pl.lit(OVERALL[0]).alias("dimension"), pl.lit(OVERALL[1]).alias("level")
        )
    ]
    for dim in dimensions:
        grouped = (
            frame.filter(pl.col(dim).is_not_null())
            .group_by([*by, dim], maintain_order=True)
            .agg(*aggregations)
            .with_columns(pl.lit(dim).alias("dimension"), pl.col(dim).cast(pl.String).alias("level"))
            .drop(dim)
        )
        parts.append(grouped)
    out = pl.concat(parts, how="diagonal_relaxed")
    return out.select([*by, "dimension", "level", *[c for c in out.columns if c not in (*by, "dimension", "level")]])


PERIOD_TYPES = ("all", "quarter", "month")


def _period_copy(frame: pl.DataFrame, date_column: str, period_type: str) -> pl.DataFrame:
    """The rows with period ``period_type`` ('all', their quarter or their month) and its parent period."""
    month = pl.col(date_column).dt.strftime("%Y-%m")
    quarter = pl.format("{}-Q{}", pl.col(date_column).dt.year(), pl.col(date_column).dt.quarter())
    period, parent = {
        "all": (pl.lit("all"), pl.lit(None, pl.String)),
        "quarter": (quarter, pl.lit("all")),
        "month": (month, quarter),
    }[period_type]
    copy = frame.with_columns(period_type=pl.lit(period_type), period=period, parent_period=parent)
    return copy.filter(pl.col("period").is_not_null())


def period_rollup(
    frame: pl.DataFrame,
    date_column: str,
    by: Sequence[str],
    aggregations: Sequence[pl.Expr],
    dimensions: Sequence[str] = DIMENSIONS,
) -> pl.DataFrame:
    """Roll-ups of the rows copied into three periods each — 'all', their quarter and their month (with the
    parent of each period) — overall and by each dimension, keyed by ``START_PERIOD`` and ``by``.

    One period type at a time, so the three copies of the frame are never held at once (at 100k clients the
    copies were 3 GB of the self-leadership trajectory's peak); rows come in the order a roll-up of all three
    copies stacked would give them (dimension, then period type, then first appearance).
    """
    parts = [
        rollup(_period_copy(frame, date_column, t), [*START_PERIOD, *by], aggregations, dimensions)
        for t in PERIOD_TYPES
    ]
    dimension_rank = {d: i for i, d in enumerate((OVERALL[0], *dimensions))}
    period_rank = {t: i for i, t in enumerate(PERIOD_TYPES)}
    return (
        pl.concat(parts, how="diagonal_relaxed")
        .with_columns(
            pl.col("dimension").replace_strict(dimension_rank, return_dtype=pl.Int64).alias("_d"),
            pl.col("period_type").replace_strict(period_rank, return_dtype=pl.Int64).alias("_p"),
        )
        .sort("_d", "_p", maintain_order=True)
        .drop("_d", "_p")
    )


# --- the episode frame -----------------------------------------------------------------------------------------


def episode_frame(con: io.duckdb.DuckDBPyConnection, as_of: dt.date, settings: IndicatorSettings) -> pl.DataFrame:
    """One row per episode with its dimensions and engagement facts (pipeline/sql/intermediate)."""
    engagement = con.sql(
        io.sql_text("intermediate", "episode_engagement"), params={"as_of": as_of, "lapse_days": settings.lapse_days}
    ).pl()
    # Every episode sits in exactly one level of every dimension ("none" where it has no modality or in-person
    # location), so the levels of a dimension add up to the overall row and nothing is silently left out.
    return engagement.with_columns(
        pl.col("practice_id").alias("practice"),
        pl.col("modality").fill_null("none"),
        pl.col("location").fill_null("none"),
        pl.when(pl.col("helping_professional"))
        .then(pl.lit("helping_professional"))
        .otherwise(pl.lit("other_clients"))
        .alias("cohort"),
    )


# --- aggregate tables --------------------------------------------------------------------------------------------


OUTCOME_LAYOUT = TableLayout(
    keys=("period_type", "period", "dimension", "level", "instrument", "scale"),
    counts=("episodes", "paired", *CATEGORIES, "reliably_improved", "reliably_deteriorated", "clinical_baseline"),
    rates=(
        ("paired_rate", "paired", "episodes"),
        ("reliable_improvement_rate", "reliably_improved", "paired"),
        ("reliable_deterioration_rate", "reliably_deteriorated", "paired"),
        ("recovery_rate", "recovered", "clinical_baseline"),
    ),
    statistics=(
        ("mean_baseline", "paired"), ("mean_latest", "paired"), ("mean_change", "paired"), ("sd_baseline", "paired"),
        ("d", "paired"), ("g", "paired"), ("d_ci_low", "paired"), ("d_ci_high", "paired"),
    ),
    row_sums=(("paired", CATEGORIES),),
    hierarchy=("period", "parent_period"),
)  # fmt: skip


def outcome_summary(client_change: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """Pre/post outcomes per instrument scale: completeness, categories, reliable change, recovery, effect size.

    Denominators: `episodes` = episodes with a baseline; `paired` = those with a later administration too;
    recovery among paired episodes clinical at baseline. Period = month/quarter of the latest administration
    (of the baseline for unpaired episodes). d is the pre-SD standardized mean change, positive = better; its
    bootstrap CI is computed for period 'all' only.
    """
    with_baseline = client_change.filter(pl.col("baseline_date").is_not_null())
    frame = with_baseline.join(episodes.select("client_id", *DIMENSIONS), on="client_id", how="left").with_columns(
        pl.coalesce("latest_date", "baseline_date").alias("_period_date"),
        pl.when(pl.col("higher_is_better")).then(1.0).otherwise(-1.0).alias("_s"),
    )
    paired = pl.col("paired")
    aggregations = [
        pl.len().cast(pl.Int64).alias("episodes"),
        paired.sum().alias("paired"),
        *[(paired & (pl.col("category") == c)).sum().alias(c) for c in CATEGORIES],
        (paired & pl.col("reliably_improved")).sum().alias("reliably_improved"),
        (paired & pl.col("reliably_deteriorated")).sum().alias("reliably_deteriorated"),
        (paired & pl.col("clinical_baseline")).sum().alias("clinical_baseline"),
        pl.col("baseline_score").filter(paired).mean().alias("mean_baseline"),
        pl.col("latest_score").filter(paired).mean().alias("mean_latest"),
        pl.col("change").filter(paired).mean().alias("mean_change"),
        pl.col("baseline_score").filter(paired).std().alias("sd_baseline"),
        (pl.col("_s").first() * pl.col("change").filter(paired).mean() / pl.col("baseline_score").filter(paired).std())
        .alias("d"),
    ]  # fmt: skip
    table = period_rollup(frame, "_period_date", ["instrument", "scale"], aggregations)
    n = pl.col("paired")
    table = table.with_columns(
        (pl.col("d") * (1 - 3 / (4 * (n - 1) - 1))).alias("g"),
        *[
            pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).alias(rate)
            for rate, num, den in OUTCOME_LAYOUT.rates
        ],
    )
    cis = _effect_size_cis(frame)
    table = table.join(cis, on=["period_type", "dimension", "level", "instrument", "scale"], how="left")
    for column in ("paired", *CATEGORIES, "reliably_improved", "reliably_deteriorated", "clinical_baseline"):
        table = table.with_columns(pl.col(column).cast(pl.Int64))
    return table.sort("period_type", "period", "dimension", "level", "instrument", "scale")


def _effect_size_cis(frame: pl.DataFrame) -> pl.DataFrame:
    rows = []
    paired = frame.filter("paired")
    for dim in ("overall", *DIMENSIONS):
        groups = (
            [((OVERALL[1],), paired)] if dim == "overall" else paired.filter(pl.col(dim).is_not_null()).group_by(dim)
        )
        for (level,), part in groups:
            for (instrument, scale), cell in part.group_by("instrument", "scale"):
                es = effect_sizes(
                    cell["baseline_score"].to_numpy(), cell["latest_score"].to_numpy(),
                    higher_is_better=bool(cell["higher_is_better"][0]), n_resamples=1000, intervals=("d",),
                )  # fmt: skip
                rows.append(
                    {"period_type": "all", "dimension": dim, "level": str(level), "instrument": instrument,
                     "scale": scale, "d_ci_low": es["d_ci"][0], "d_ci_high": es["d_ci"][1]}
                )  # fmt: skip
    schema = {"period_type": pl.String, "dimension": pl.String, "level": pl.String, "instrument": pl.String,
              "scale": pl.String, "d_ci_low": pl.Float64, "d_ci_high": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


#: Bins per axis of the change-density grid (the aggregate Jacobson plot).
DENSITY_BINS = 8

DENSITY_LAYOUT = TableLayout(
    keys=("instrument", "scale", "dimension", "level", "cell", "parent_cell"),
    counts=("episodes",),
    hierarchy=("cell", "parent_cell"),
)


def change_density(client_change: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """Paired episodes counted on a baseline × latest grid: the Jacobson plot for aggregate readers.

    Each scale's range (registry min..max) is cut into `DENSITY_BINS` equal bins per axis; a cell is the episodes
    whose baseline and latest scores fall in it (the top bin is closed). One row per scale and breakdown has
    cell 'all' — the total the cells add up to — so complementary suppression protects every cell, and a
    bin with 1..k−1 episodes is never shown. The scale's reliable-change threshold and clinical cutoff travel
    with the grid so the plot can draw the band and the lines without client-level data.
    """
    from schemas.registry import default_registry

    registry = default_registry()
    bounds = pl.DataFrame(
        [
            {"instrument": i.id, "scale": s.id, "scale_min": float(s.min), "scale_max": float(s.max)}
            for i in registry.instruments.values()
            for s in i.scales.values()
        ]
    )
    paired = (
        client_change.filter(pl.col("paired"))
        .join(bounds, on=["instrument", "scale"], how="inner")
        .join(episodes.select("client_id", *DIMENSIONS), on="client_id", how="left")
    )
    width = (pl.col("scale_max") - pl.col("scale_min")) / DENSITY_BINS

    def bin_of(score: str) -> pl.Expr:
        return ((pl.col(score) - pl.col("scale_min")) / width).floor().clip(0, DENSITY_BINS - 1).cast(pl.Int64)

    cells = paired.with_columns(
        bin_of("baseline_score").alias("baseline_bin"), bin_of("latest_score").alias("latest_bin")
    )
    scale_facts = cells.group_by("instrument", "scale").agg(
        pl.col("scale_min").first(), pl.col("scale_max").first(), pl.col("rc_threshold").max(),
        pl.col("cutoff").max(), pl.col("higher_is_better").first(),
    )  # fmt: skip
    per_cell = rollup(
        cells, ["instrument", "scale", "baseline_bin", "latest_bin"], [pl.len().cast(pl.Int64).alias("episodes")]
    ).with_columns(pl.format("b{}-l{}", "baseline_bin", "latest_bin").alias("cell"), pl.lit("all").alias("parent_cell"))
    totals = rollup(cells, ["instrument", "scale"], [pl.len().cast(pl.Int64).alias("episodes")]).with_columns(
        pl.lit("all").alias("cell"), pl.lit(None, pl.String).alias("parent_cell"),
        pl.lit(None, pl.Int64).alias("baseline_bin"), pl.lit(None, pl.Int64).alias("latest_bin"),
    )  # fmt: skip
    table = pl.concat([totals, per_cell], how="diagonal_relaxed").join(scale_facts, on=["instrument", "scale"])
    return table.with_columns(
        (
            pl.col("scale_min") + pl.col("baseline_bin") * (pl.col("scale_max") - pl.col("scale_min")) / DENSITY_BINS
        ).alias("baseline_low"),
        (
            pl.col("scale_min")
            + (pl.col("baseline_bin") + 1) * (pl.col("scale_max") - pl.col("scale_min")) / DENSITY_BINS
        ).alias("baseline_high"),
        (pl.col("scale_min") + pl.col("latest_bin") * (pl.col("scale_max") - pl.col("scale_min")) / DENSITY_BINS).alias(
            "latest_low"
        ),
        (
            pl.col("scale_min")
            + (pl.col("latest_bin") + 1) * (pl.col("scale_max") - pl.col("scale_min")) / DENSITY_BINS
        ).alias("latest_high"),
    ).sort("instrument", "scale", "dimension", "level", "cell")


FUNNEL_LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    hierarchy=("period", "parent_period"),
    counts=("episodes", *(f"reached_m{k}" for k in MILESTONES), *(f"episodes_{kind}" for kind in DEVIATION_KINDS)),
    rates=tuple((f"reach_rate_m{k}", f"reached_m{k}", "episodes") for k in MILESTONES),
    statistics=(("median_session_m1", "reached_m1"), ("median_session_m2", "reached_m2")),
)


def milestone_funnel(milestones: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """Episodes reaching each milestone in order (non-increasing M1..M5), and episodes with each deviation kind.

    Denominator: episodes with at least one attended treatment session. Period: the month/quarter the episode
    started (its first attended treatment session) — a start cohort.
    """
    frame = milestones.join(episodes.select("client_id", *DIMENSIONS), on="client_id", how="left")
    aggregations = [
        pl.len().cast(pl.Int64).alias("episodes"),
        *[(pl.col("stage_reached") >= k).sum().cast(pl.Int64).alias(f"reached_m{k}") for k in MILESTONES],
        *[(pl.col(kind) > 0).sum().cast(pl.Int64).alias(f"episodes_{kind}") for kind in DEVIATION_KINDS],
        pl.col("m1_session").median().alias("median_session_m1"),
        pl.col("m2_session").median().alias("median_session_m2"),
    ]
    table = period_rollup(frame, "first_session_date", [], aggregations)
    return table.with_columns(
        pl.when(pl.col("episodes") > 0).then(pl.col(f"reached_m{k}") / pl.col("episodes")).alias(f"reach_rate_m{k}")
        for k in MILESTONES
    )


def milestone_curves(milestones: pl.DataFrame, k_disclosure: int) -> pl.DataFrame:
    """Kaplan-Meier cumulative reach per milestone, overall, by sessions and by days; a point is published only
    while at least k episodes are at risk, and the event count per step is not published."""
    curves = [
        milestone_curve(milestones, k, unit=unit, min_at_risk=k_disclosure)
        for k in MILESTONES
        for unit in ("session", "days")
    ]
    return pl.concat(curves).drop("events")


ENGAGEMENT_LAYOUT = TableLayout(
    keys=("dimension", "level"),
    counts=(
        "episodes", "consultation_only", "with_intake", "scheduled", "attended", "cancelled", "no_show", "ended",
        "planned", "unplanned", "other_endings", "lapsed", "dropouts", "dropout_denominator", "episodes_with_cadence",
    ),
    rates=(("attendance_rate", "attended", "scheduled"), ("dropout_rate", "dropouts", "dropout_denominator"),
           ("conversion_rate", "with_intake", "episodes")),
    statistics=(("median_cadence_days", "episodes_with_cadence"), ("mean_duration_min", "with_intake")),
    row_sums=(
        ("scheduled", ("attended", "cancelled", "no_show")),
        ("ended", ("planned", "unplanned", "other_endings")),
    ),
)  # fmt: skip


def engagement_summary(episodes: pl.DataFrame) -> pl.DataFrame:
    """Sessions and endings (DESIGN 5.7). Dropout rate = (unplanned endings + lapsed) / (ended + lapsed);
    consultation -> intake conversion = episodes with an intake / all episodes. Period: all time (this version)."""
    treated = ~pl.col("consultation_only")
    aggregations = [
        pl.len().cast(pl.Int64).alias("episodes"),
        pl.col("consultation_only").sum().alias("consultation_only"),
        treated.sum().alias("with_intake"),
        pl.col("scheduled").sum().alias("scheduled"),
        pl.col("attended").sum().alias("attended"),
        pl.col("cancelled").sum().alias("cancelled"),
        pl.col("no_show").sum().alias("no_show"),
        (treated & pl.col("ended")).sum().alias("ended"),
        (treated & (pl.col("ending") == "planned")).sum().alias("planned"),
        (treated & (pl.col("ending") == "unplanned")).sum().alias("unplanned"),
        (treated & (pl.col("ending") == "other")).sum().alias("other_endings"),
        pl.col("lapsed").sum().alias("lapsed"),
        (treated & ((pl.col("ending") == "unplanned") | pl.col("lapsed"))).sum().alias("dropouts"),
        (treated & (pl.col("ended") | pl.col("lapsed"))).sum().alias("dropout_denominator"),
        pl.col("median_gap_days").is_not_null().sum().alias("episodes_with_cadence"),
        pl.col("median_gap_days").median().alias("median_cadence_days"),
        pl.col("mean_duration_min").mean().alias("mean_duration_min"),
    ]
    table = rollup(episodes, [], aggregations)
    counts = [c for c in ENGAGEMENT_LAYOUT.counts]
    table = table.with_columns(pl.col(counts).cast(pl.Int64))
    return table.with_columns(
        pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).alias(rate)
        for rate, num, den in ENGAGEMENT_LAYOUT.rates
    )


MONTHLY_LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    counts=(
        "scheduled",
        "attended",
        "cancelled",
        "no_show",
        "intakes",
        "planned_endings",
        "unplanned_endings",
        "other_endings",
    ),
    rates=(("attendance_rate", "attended", "scheduled"),),
    row_sums=(("scheduled", ("attended", "cancelled", "no_show")),),
    hierarchy=("period", "parent_period"),
)


def engagement_by_period(sessions: pl.DataFrame, clients: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """Session-level figures by the session's month and quarter (DESIGN 5.2): treatment sessions scheduled,
    attended, cancelled, no-show; intakes by intake month; endings by discharge month."""
    treatment = sessions.filter(pl.col("kind") != "consultation").select(
        "client_id",
        pl.col("session_date").alias("_date"),
        pl.lit(1).alias("scheduled"),
        (pl.col("status") == "attended").cast(pl.Int64).alias("attended"),
        (pl.col("status") == "cancelled").cast(pl.Int64).alias("cancelled"),
        (pl.col("status") == "no_show").cast(pl.Int64).alias("no_show"),
    )
    intakes = clients.filter(pl.col("intake_date").is_not_null()).select(
        "client_id", pl.col("intake_date").alias("_date"), pl.lit(1).alias("intakes")
    )
    ending = episodes.filter(pl.col("ended") & ~pl.col("consultation_only")).select(
        "client_id",
        pl.col("discharge_date").alias("_date"),
        (pl.col("ending") == "planned").cast(pl.Int64).alias("planned_endings"),
        (pl.col("ending") == "unplanned").cast(pl.Int64).alias("unplanned_endings"),
        (pl.col("ending") == "other").cast(pl.Int64).alias("other_endings"),
    )
    events = pl.concat([treatment, intakes, ending], how="diagonal").with_columns(
        pl.col(list(MONTHLY_LAYOUT.counts)).fill_null(0)
    )
    frame = events.join(episodes.select("client_id", *DIMENSIONS), on="client_id", how="left")
    aggregations = [pl.col(c).sum().cast(pl.Int64).alias(c) for c in MONTHLY_LAYOUT.counts]
    table = period_rollup(frame, "_date", [], aggregations)
    return table.with_columns(
        pl.when(pl.col("scheduled") > 0).then(pl.col("attended") / pl.col("scheduled")).alias("attendance_rate")
    ).sort("period_type", "period", "dimension", "level")


def data_quality(con: io.duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rows received, loaded, quarantined and collapsed per batch and table, and quarantined rows per rule.
    These count rows, not people, and are exempt from disclosure control (DESIGN 6)."""
    from pipeline.load import ACTIVE_LOADS

    runs = io.query_pl(
        con, f"SELECT batch_id, status, as_of, counts, quarantine_by_rule FROM ({ACTIVE_LOADS}) ORDER BY finished_at"
    )
    rows: list[dict[str, Any]] = []
    for run in runs.iter_rows(named=True):
        for table, counts in json.loads(run["counts"]).items():
            base = {"batch_id": run["batch_id"], "as_of": run["as_of"], "table_name": table, "rule": None}
            rows += [{**base, "measure": k, "rows": v} for k, v in counts.items()]
        for rule, n in json.loads(run["quarantine_by_rule"]).items():
            rows.append(
                {
                    "batch_id": run["batch_id"],
                    "as_of": run["as_of"],
                    "table_name": None,
                    "measure": "quarantined_by_rule",
                    "rule": rule,
                    "rows": n,
                }
            )
    schema = {
        "batch_id": pl.String,
        "as_of": pl.Date,
        "table_name": pl.String,
        "measure": pl.String,
        "rule": pl.String,
        "rows": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


TRAJECTORY_LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "measure", "session_number", "dimension", "level"),
    hierarchy=("period", "parent_period"),
    counts=("n",),
    statistics=(("mean", "n"), ("ci_low", "n"), ("ci_high", "n")),
)
MAX_TRAJECTORY_SESSION = 40


def self_leadership_trajectory(points: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """Mean Self score (POMP), clinician-rated Self-energy and polarization by attended session number, with a
    t-based 95% CI; a point is published only where at least k episodes contribute."""
    frame = (
        points.filter(pl.col("session_number").is_between(1, MAX_TRAJECTORY_SESSION))
        .select("client_id", "measure", "session_number", "value")
        .join(episodes.select("client_id", "first_attended_date", *DIMENSIONS), on="client_id", how="left")
    )
    aggregations = [
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("value").mean().alias("mean"),
        pl.col("value").std().alias("_sd"),
    ]
    table = period_rollup(frame, "first_attended_date", ["measure", "session_number"], aggregations)
    table = table.with_columns(pl.Series("_t", _t975(table["n"].to_numpy()), dtype=pl.Float64))
    half = pl.col("_sd") / pl.col("n").sqrt() * pl.col("_t")
    return table.with_columns((pl.col("mean") - half).alias("ci_low"), (pl.col("mean") + half).alias("ci_high")).drop(
        "_sd", "_t"
    )


def _t975(n: np.ndarray) -> np.ndarray:
    """Student's t 97.5th percentile with n − 1 degrees of freedom (NaN where n < 2), for every n at once."""
    from scipy import stats

    n = n.astype(float)
    return np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)


COACHING_LAYOUT = TableLayout(
    keys=("period_type", "period", "parent_period", "dimension", "level"),
    hierarchy=("period", "parent_period"),
    counts=("coaching_episodes", "with_gas", "with_follow_through", "choice_points", *FOLLOWED),
    statistics=(
        ("mean_gas_t_baseline", "with_gas"), ("mean_gas_t_latest", "with_gas"), ("mean_gas_t_change", "with_gas"),
        ("mean_follow_through", "with_follow_through"),
    ),
    rates=(("choice_point_rate", "choice_points", "coaching_episodes"),),
    row_sums=(("choice_points", FOLLOWED),),
)  # fmt: skip


def coaching_summary(coaching: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """Coaching episodes: GAS T-scores, follow-through, choice points (practice-defined) and what followed."""
    frame = coaching.join(episodes.select("client_id", "first_attended_date", *DIMENSIONS), on="client_id", how="left")
    aggregations = [
        pl.len().alias("coaching_episodes"),
        pl.col("gas_t_latest").is_not_null().sum().alias("with_gas"),
        pl.col("follow_through").is_not_null().sum().alias("with_follow_through"),
        pl.col("choice_point_date").is_not_null().sum().alias("choice_points"),
        *[(pl.col("after_choice_point") == f).sum().alias(f) for f in FOLLOWED],
        pl.col("gas_t_baseline").mean().alias("mean_gas_t_baseline"),
        pl.col("gas_t_latest").mean().alias("mean_gas_t_latest"),
        pl.col("gas_t_change").mean().alias("mean_gas_t_change"),
        pl.col("follow_through").mean().alias("mean_follow_through"),
    ]
    table = period_rollup(
        frame, "first_attended_date", [], aggregations, dimensions=tuple(d for d in DIMENSIONS if d != "service")
    )
    table = table.with_columns(pl.col(list(COACHING_LAYOUT.counts)).cast(pl.Int64))
    return table.with_columns(
        pl.when(pl.col("coaching_episodes") > 0)
        .then(pl.col("choice_points") / pl.col("coaching_episodes"))
        .alias("choice_point_rate")
    )


THEME_LAYOUT = TableLayout(
    keys=("theme", "instrument", "scale"),
    counts=("paired", "reliably_improved", "recovered"),
    rates=(("reliable_improvement_rate", "reliably_improved", "paired"),),
    statistics=(("mean_change", "paired"),),
    dimension=None,
)


def outcomes_by_theme(client_change: pl.DataFrame, clients: pl.DataFrame) -> pl.DataFrame:
    """Paired outcomes per presenting theme (DESIGN 5.9). An episode with several themes counts under each, so
    themes overlap and do not add up to a total."""
    themes = (
        clients.select("client_id", pl.col("presenting_themes").str.split(";").alias("theme"))
        .explode("theme")
        .drop_nulls()
    )
    frame = client_change.filter("paired").join(themes, on="client_id", how="inner")
    return (
        frame.group_by("theme", "instrument", "scale")
        .agg(
            pl.len().cast(pl.Int64).alias("paired"),
            pl.col("reliably_improved").sum().cast(pl.Int64).alias("reliably_improved"),
            (pl.col("category") == "recovered").sum().cast(pl.Int64).alias("recovered"),
            pl.col("change").mean().alias("mean_change"),
        )
        .with_columns((pl.col("reliably_improved") / pl.col("paired")).alias("reliable_improvement_rate"))
        .sort("theme", "instrument", "scale")
    )


# --- invariants and the whole publication ------------------------------------------------------------------------


LAYOUTS = {
    "outcome_summary": OUTCOME_LAYOUT,
    "milestone_funnel": FUNNEL_LAYOUT,
    "engagement_summary": ENGAGEMENT_LAYOUT,
    "self_leadership_trajectory": TRAJECTORY_LAYOUT,
    "coaching_summary": COACHING_LAYOUT,
    "outcomes_by_theme": THEME_LAYOUT,
    "engagement_by_period": MONTHLY_LAYOUT,
    "change_density": DENSITY_LAYOUT,
}


def check_invariants(con: io.duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame]) -> None:
    """Reconciliation on the unsuppressed tables: totals match the warehouse, numerators fit denominators,
    the funnel does not increase, and every table's grain is unique."""
    n_clients = con.execute("SELECT count(*) FROM clients").fetchall()[0][0]
    n_treatment = con.execute("SELECT count(*) FROM sessions WHERE kind <> 'consultation'").fetchall()[0][0]
    overall = tables["engagement_summary"].filter(pl.col("dimension") == "overall").row(0, named=True)
    problems = []
    if overall["episodes"] != n_clients:
        problems.append(f"engagement episodes {overall['episodes']} != clients {n_clients}")
    if overall["scheduled"] != n_treatment:
        problems.append(f"engagement sessions {overall['scheduled']} != treatment sessions {n_treatment}")
    by_period = tables["engagement_by_period"].filter(
        (pl.col("dimension") == "overall") & (pl.col("period_type") == "month")
    )
    if by_period["scheduled"].sum() != n_treatment:
        problems.append(f"monthly sessions {by_period['scheduled'].sum()} != treatment sessions {n_treatment}")
    funnel = tables["milestone_funnel"]
    for k in MILESTONES[1:]:
        if (funnel[f"reached_m{k}"] > funnel[f"reached_m{k - 1}"]).any():
            problems.append(f"funnel increases at M{k}")
    outcomes = tables["outcome_summary"]
    for _, num, den in OUTCOME_LAYOUT.rates:
        if (outcomes[num] > outcomes[den]).any():
            problems.append(f"outcome_summary {num} > {den}")
    if (outcomes.select(sum(pl.col(c) for c in CATEGORIES) != pl.col("paired")).to_series()).any():
        problems.append("outcome categories do not add up to paired")
    coaching = tables["coaching_summary"]
    if (coaching.select(sum(pl.col(f) for f in FOLLOWED) != pl.col("choice_points")).to_series()).any():
        problems.append("coaching: what followed does not add up to the choice points")
    for name, layout in LAYOUTS.items():
        if tables[name].select(pl.struct(list(layout.keys)).is_duplicated().any()).item():
            problems.append(f"{name}: grain {layout.keys} is not unique")
    if problems:
        raise InvariantBroken("; ".join(problems))


def client_scores(scores: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """Every scored administration with its attended session number: one client's trajectory (clinical only)."""
    from pipeline.change import session_numbers

    scored = scores.filter(pl.col("score").is_not_null()).sort("client_id", "instrument", "scale", "administered_on")
    return scored.with_columns(session_numbers(scored, sessions, "administered_on").alias("session_number"))


def client_caseness(scores: pl.DataFrame, client_change: pl.DataFrame) -> pl.DataFrame:
    """PHQ-9 and GAD-7 administrations at or beyond their caseness cutoff (for the coaching choice point)."""
    cutoffs = (
        client_change.filter(pl.col("instrument").is_in(["phq9", "gad7"]))
        .select("instrument", "scale", "cutoff", "higher_is_better")
        .unique()
    )
    return (
        scores.join(cutoffs, on=["instrument", "scale"], how="inner")
        .filter(pl.col("score").is_not_null() & pl.col("cutoff").is_not_null())
        .select(
            "client_id",
            "administered_on",
            clinical_expr(pl.col("score"), pl.col("cutoff"), pl.col("higher_is_better")).alias("clinical"),
        )
    )


def build_publication(
    con: io.duckdb.DuckDBPyConnection,
    as_of: dt.date,
    registry_version: str,
    code_version: str,
    settings: IndicatorSettings = DEFAULTS.indicators,
    policy: DisclosurePolicy | None = None,
    warehouse_run_id: str | None = None,
    settings_fingerprint: str = "",
) -> Publication:
    """Everything both published files hold, computed from the warehouse as it stands."""
    from pipeline.change import pair_baseline_latest
    from pipeline.indicators.ifs_process import self_leadership_events

    policy = policy or DisclosurePolicy(k=settings.disclosure_k)
    episodes = episode_frame(con, as_of, settings)
    client_change = io.query_pl(con, "SELECT * FROM client_change")
    scores = io.query_pl(
        con,
        "SELECT client_id, instrument, scale, administered_on, score, pomp, band FROM scores "
        "ORDER BY client_id, instrument, administered_on, scale",  # written by client partition: order it here
    )
    sessions = io.query_pl(con, "SELECT * FROM sessions")
    # The alerts read only PHQ-9 item 9 and the date of each episode's latest PHQ-9: fetch just those rows (an
    # item-less row per episode carries the latest date), not every PHQ-9 answer.
    measures = io.query_pl(
        con,
        """SELECT client_id, instrument, administered_on, item, value FROM measures
           WHERE instrument = 'phq9' AND item = 'phq9_9'
           UNION ALL
           SELECT client_id, 'phq9', max(administered_on), NULL, NULL FROM measures
           WHERE instrument = 'phq9' GROUP BY client_id""",
    )
    clients = io.query_pl(con, "SELECT * FROM clients")
    pairs = pair_baseline_latest(scores, sessions)
    milestones = ifs_milestones(sessions, self_leadership_events(scores, pairs, client_change, sessions), settings)
    points = self_points(scores, sessions)
    caseness = client_caseness(scores, client_change)
    coaching = coaching_episodes(clients, sessions, io.query_pl(con, "SELECT * FROM goals"), caseness, settings)
    internal = {
        "outcome_summary": outcome_summary(client_change, episodes),
        "milestone_funnel": milestone_funnel(milestones, episodes),
        "engagement_summary": engagement_summary(episodes),
        "self_leadership_trajectory": self_leadership_trajectory(points, episodes),
        "coaching_summary": coaching_summary(coaching, episodes),
        "outcomes_by_theme": outcomes_by_theme(client_change, clients),
        "engagement_by_period": engagement_by_period(sessions, clients, episodes),
        "change_density": change_density(client_change, episodes),
    }
    check_invariants(con, internal)
    meta = pl.DataFrame(
        {"as_of": [as_of], "warehouse_run_id": [warehouse_run_id], "registry_version": [registry_version],
         "code_version": [code_version], "settings_fingerprint": [settings_fingerprint],
         "disclosure_k": [policy.k], "disclosure_rule": [policy.describe()]}
    )  # fmt: skip
    aggregate = {name: apply_disclosure_control(table, LAYOUTS[name], policy) for name, table in internal.items()}
    aggregate["milestone_curves"] = milestone_curves(milestones, policy.k)
    aggregate["data_quality"] = data_quality(con)
    aggregate["publication"] = meta
    clinical = {
        "client_change": client_change,
        "client_scores": client_scores(scores, sessions),
        "milestones": milestones,
        "alerts": build_alerts(scores, pairs, client_change, measures, sessions, clients),
        "self_leadership": self_leadership(points, client_change, settings),
        "coaching": coaching,
        "episode_engagement": episodes.drop("practice"),
        "publication": meta,
    }
    return Publication(
        clinical={name: conform("clinical", name, frame) for name, frame in clinical.items()},
        aggregate={name: conform("aggregate", name, frame) for name, frame in aggregate.items()},
    )


#: The published files, each `<home>/published/<name>.duckdb`, in the order they are written.
PUBLISHED_FILES = ("clinical", "aggregate")


def publish(paths: Paths, publication: Publication) -> list[str]:
    """Write both files atomically; returns their paths. Each records the warehouse state it reflects, so a run
    interrupted between the two republishes both (`stages.bring_up_to_date`)."""
    from pipeline.faults import fault_point

    clinical = paths.published / "clinical.duckdb"
    aggregate = paths.published / "aggregate.duckdb"
    io.write_duckdb_atomic(clinical, publication.clinical)
    fault_point("publish:clinical_written")
    io.write_duckdb_atomic(aggregate, publication.aggregate)
    return [str(clinical), str(aggregate)]
