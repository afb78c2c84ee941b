"""period_comparison — each finished-treatment figure against the previous period of the same type, with the 95% CI
of the difference.

Purpose: did this quarter (or month) do better than the last? The pages that show a period show this beside it;
pages never compute, so the differences and their intervals are published here.
Grain: one row per source × period_type × period × dimension × level × instrument × scale × metric. `source` is the
table the figures come from: outcome_summary (population finished_treatment; metrics recovery_rate,
reliable_improvement_rate, reliable_recovery_rate, reliable_deterioration_rate, mean_change) or nhs_outcomes
(instrument `nhs_talking_therapies`, scale = the measure pair; the four composite rates). Quarters and months only
(`all` has no previous period); the previous period is the calendar one before (2026-Q2 for 2026-Q3, 2026-08 for
2026-09), empty values when it has no row.
Inputs: the *published* outcome_summary and nhs_outcomes — a derived table (`DerivedMart`): every value here is a
function of values those tables publish, so a hidden value stays hidden (`<column>_suppressed` is carried over, and
a difference or interval that needs a hidden value is hidden).
Reference: difference of proportions — Newcombe's hybrid score interval (Newcombe 1998, method 10), computed by
statsmodels `confint_proportions_2indep(method="newcomb")`; difference of mean changes — Welch's t interval from each
period's mean, SD of change and n. The two periods' episodes are different people (an episode finishes once), so
the samples are independent.
Missing data: no interval when either side is hidden, either denominator is 0, or (means) either n is under 2.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from pipeline.marts.base import DerivedMart
from schemas.published import PROTECT_COLUMN

KEYS = ("source", "period_type", "period", "dimension", "level", "instrument", "scale", "metric")
#: Per source: (metric, numerator, denominator); a metric without a numerator is a mean (`mean_change`, n = paired).
METRICS: dict[str, tuple[tuple[str, str | None, str], ...]] = {
    "outcome_summary": (
        ("recovery_rate", "recovery", "clinical_baseline"),
        ("reliable_improvement_rate", "reliably_improved", "categorised"),
        ("reliable_recovery_rate", "recovered", "clinical_baseline"),
        ("reliable_deterioration_rate", "reliably_deteriorated", "categorised"),
        ("mean_change", None, "paired"),
    ),
    "nhs_outcomes": (
        ("recovery_rate", "recovery", "caseness"),
        ("reliable_improvement_rate", "reliable_improvement", "paired"),
        ("reliable_recovery_rate", "reliable_recovery", "caseness"),
        ("reliable_deterioration_rate", "reliable_deterioration", "paired"),
    ),
}
PROTECTED = ("numerator", "denominator", "value", "spread", "previous_numerator", "previous_denominator",
             "previous_value", "difference", "difference_ci_low", "difference_ci_high")  # fmt: skip
PROPORTION_CI = "Newcombe hybrid score (method 10)"
MEAN_CI = "Welch t"


def previous_period(period: pl.Expr, period_type: pl.Expr) -> pl.Expr:
    """The calendar period before: 2026-Q1 → 2025-Q4, 2026-01 → 2025-12."""
    year = period.str.slice(0, 4).cast(pl.Int32)
    quarter = period.str.slice(6, 1).cast(pl.Int32, strict=False)
    month = period.str.slice(5, 2).cast(pl.Int32, strict=False)
    prev_quarter = pl.format("{}-Q{}", pl.when(quarter == 1).then(year - 1).otherwise(year),
                             pl.when(quarter == 1).then(4).otherwise(quarter - 1))  # fmt: skip
    prev_month = pl.format("{}-{}", pl.when(month == 1).then(year - 1).otherwise(year),
                           pl.when(month == 1).then(12).otherwise(month - 1).cast(pl.String).str.zfill(2))  # fmt: skip
    return pl.when(period_type == "quarter").then(prev_quarter).otherwise(prev_month)


def _flag(table: pl.DataFrame, column: str | None) -> pl.Expr:
    if column is None or f"{column}_suppressed" not in table.columns:
        return pl.lit(False)
    return pl.col(f"{column}_suppressed")


def _protects(table: pl.DataFrame, column: str | None) -> pl.Expr:
    """The source hid ``column`` only to protect another cell (its `hidden_to_protect` names it)."""
    if column is None or PROTECT_COLUMN not in table.columns:
        return pl.lit(False)
    return pl.col(PROTECT_COLUMN).fill_null("").str.split(" ").list.contains(column)


def _long(source: str, table: pl.DataFrame) -> pl.DataFrame:
    """One row per period row and metric: its numerator, denominator, value (and SD of change for means)."""
    if "population" in table.columns:
        table = table.filter(pl.col("population") == "finished_treatment")
    table = table.filter(pl.col("period_type").is_in(["quarter", "month"]))
    if source == "nhs_outcomes":
        table = table.with_columns(instrument=pl.lit("nhs_talking_therapies"), scale=pl.col("measures"))
    frames = []
    for metric, numerator, denominator in METRICS[source]:
        spread = "sd_change" if numerator is None else None
        frames.append(
            table.select(
                pl.lit(source).alias("source"),
                "period_type",
                "period",
                "dimension",
                "level",
                "instrument",
                "scale",
                pl.lit(metric).alias("metric"),
                (pl.col(numerator) if numerator else pl.lit(None)).cast(pl.Int64).alias("numerator"),
                pl.col(denominator).cast(pl.Int64).alias("denominator"),
                pl.col(metric).cast(pl.Float64).alias("value"),
                (pl.col(spread) if spread else pl.lit(None)).cast(pl.Float64).alias("spread"),
                _flag(table, numerator).alias("numerator_suppressed"),
                _flag(table, denominator).alias("denominator_suppressed"),
                _flag(table, metric).alias("value_suppressed"),
                _flag(table, spread).alias("spread_suppressed"),
                _protects(table, numerator).alias("numerator_protects"),
                _protects(table, denominator).alias("denominator_protects"),
                _protects(table, metric).alias("value_protects"),
                _protects(table, spread).alias("spread_protects"),
            )
        )
    return pl.concat(frames)


def _proportion_ci(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    x1, n1 = frame["numerator"].to_numpy(), frame["denominator"].to_numpy()
    x0, n0 = frame["previous_numerator"].to_numpy(), frame["previous_denominator"].to_numpy()
    low, high = np.full(frame.height, np.nan), np.full(frame.height, np.nan)
    ok = (frame["metric"] != "mean_change").to_numpy() & ~np.isnan(np.array([x1, n1, x0, n0], dtype=float)).any(axis=0)
    ok &= np.nan_to_num(np.array(n1, dtype=float)) > 0
    ok &= np.nan_to_num(np.array(n0, dtype=float)) > 0
    if ok.any():
        lo, hi = confint_proportions_2indep(
            x1[ok].astype(float), n1[ok].astype(float), x0[ok].astype(float), n0[ok].astype(float),
            method="newcomb", compare="diff",
        )  # fmt: skip
        low[ok], high[ok] = lo, hi
    return low, high


def _mean_ci(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    n1 = frame["denominator"].to_numpy().astype(float)
    n0 = frame["previous_denominator"].to_numpy().astype(float)
    s1, s0 = frame["spread"].to_numpy().astype(float), frame["previous_spread"].to_numpy().astype(float)
    diff = (frame["value"] - frame["previous_value"]).to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v0 = s1**2 / n1, s0**2 / n0
        se = np.sqrt(v1 + v0)
        df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
        half = stats.t.ppf(0.975, df) * se
    ok = (frame["metric"] == "mean_change").to_numpy() & (n1 >= 2) & (n0 >= 2) & np.isfinite(half)
    return np.where(ok, diff - half, np.nan), np.where(ok, diff + half, np.nan)


def derive(tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """The comparison of every quarter and month with the one before, from the tables as published."""
    current = pl.concat([_long(source, tables[source]) for source in METRICS])
    current = current.with_columns(previous_period=previous_period(pl.col("period"), pl.col("period_type")))
    measured = ["numerator", "denominator", "value", "spread"]
    previous = current.select(
        *[c for c in KEYS if c != "period"], pl.col("period").alias("previous_period"),
        *[pl.col(c).alias(f"previous_{c}") for c in measured],
        *[pl.col(f"{c}_suppressed").alias(f"previous_{c}_suppressed") for c in measured],
        *[pl.col(f"{c}_protects").alias(f"previous_{c}_protects") for c in measured],
    )  # fmt: skip
    joined = current.join(previous, on=[*(c for c in KEYS if c != "period"), "previous_period"], how="left")
    joined = joined.with_columns(
        pl.col(f"previous_{c}_{flag}").fill_null(False) for c in measured for flag in ("suppressed", "protects")
    )
    prop_low, prop_high = _proportion_ci(joined)
    mean_low, mean_high = _mean_ci(joined)
    is_mean = pl.col("metric") == "mean_change"
    hidden_inputs = {
        # What each derived value needs: hidden when any of it is hidden.
        "difference": ["value", "previous_value"],
        "difference_ci_low": ["numerator", "denominator", "previous_numerator", "previous_denominator"],
        "spread_ci": ["value", "previous_value", "spread", "previous_spread", "denominator", "previous_denominator"],
    }
    out = joined.with_columns(
        difference=pl.col("value") - pl.col("previous_value"),
        difference_ci_low=pl.when(is_mean).then(pl.Series(mean_low)).otherwise(pl.Series(prop_low)).fill_nan(None),
        difference_ci_high=pl.when(is_mean).then(pl.Series(mean_high)).otherwise(pl.Series(prop_high)).fill_nan(None),
    )
    any_hidden = {k: pl.any_horizontal([pl.col(f"{c}_suppressed") for c in v]) for k, v in hidden_inputs.items()}
    ci_hidden = pl.when(is_mean).then(any_hidden["spread_ci"]).otherwise(any_hidden["difference_ci_low"])
    out = out.with_columns(
        difference_suppressed=any_hidden["difference"],
        difference_ci_low_suppressed=ci_hidden,
        difference_ci_high_suppressed=ci_hidden,
    ).with_columns(
        pl.when(pl.col(f"{c}_suppressed")).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("difference", "difference_ci_low", "difference_ci_high")
    )
    out = out.with_columns(
        ci_method=pl.when(pl.col("difference_ci_low").is_null()).then(None)
        .when(is_mean).then(pl.lit(MEAN_CI)).otherwise(pl.lit(PROPORTION_CI))
    )  # fmt: skip
    # Hidden only to protect another cell: hidden, and none of what it is made of is hidden as small.
    made_of = {c: [c] for c in (*measured, *(f"previous_{m}" for m in measured))}
    either_ci = sorted({*hidden_inputs["difference_ci_low"], *hidden_inputs["spread_ci"]})
    made_of |= {"difference": hidden_inputs["difference"], "difference_ci_low": either_ci,
                "difference_ci_high": either_ci}  # fmt: skip
    protects = {
        c: pl.col(f"{c}_suppressed")
        & ~pl.any_horizontal([pl.col(f"{i}_suppressed") & ~pl.col(f"{i}_protects") for i in made_of[c]])
        for c in PROTECTED
    }
    reasons = pl.concat_list([pl.when(e).then(pl.lit(c)) for c, e in protects.items()]).list.drop_nulls()
    out = out.with_columns(
        pl.when(reasons.list.len() > 0).then(reasons.list.join(" ")).otherwise(None).alias(PROTECT_COLUMN)
    )
    return out.select(*KEYS, "previous_period", *PROTECTED, "ci_method",
                      *(f"{c}_suppressed" for c in PROTECTED), PROTECT_COLUMN).sort(list(KEYS))  # fmt: skip


MART = DerivedMart("period_comparison", ("outcome_summary", "nhs_outcomes"), derive)
