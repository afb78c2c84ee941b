"""Scoring: item answers to scale scores, per the instrument registry (DESIGN 5.1).

Purpose: one scale score per administration, the single place a score is computed (validation's
`total_mismatch` rule and every indicator call this).
Grain: one row per (client_id, instrument, administered_on, scale).
Inputs: item-level answers in long format; the instrument registry.
Rules: reverse items as ``min + max − value``; ``sum`` or ``mean`` over the scale's items; when 1..max_missing
items are missing (skipped or absent), prorate as the mean of the answered items × the item count (for ``mean``
scales the mean of the answered items) and flag ``prorated``; with more missing the score is null and
``incomplete``. POMP = 100·(score − min)/(max − min).
"""

from __future__ import annotations

import polars as pl

from schemas.registry import Registry

ADMIN_KEY = ["client_id", "instrument", "administered_on"]


def scale_items_frame(registry: Registry) -> pl.DataFrame:
    """One row per (instrument, scale, item) with everything scoring needs."""
    rows = [
        {
            "instrument": inst.id,
            "scale": scale.id,
            "item": item,
            "reverse": item in inst.reverse_items,
            "item_min": inst.item_min,
            "item_max": inst.item_max,
            "n_items": len(scale.items),
            "method": scale.method,
            "max_missing": scale.max_missing,
            "scale_min": scale.min,
            "scale_max": scale.max,
        }
        for inst in registry.instruments.values()
        for scale in inst.scales.values()
        for item in scale.items
    ]
    return pl.DataFrame(rows, schema_overrides={"n_items": pl.Int64, "max_missing": pl.Int64})


def score_items(items: pl.DataFrame, registry: Registry) -> pl.DataFrame:
    """Scale scores from item answers.

    ``items`` needs ``client_id, instrument, administered_on, item, value``; rows that are not items of a
    registered scale (supplied scale scores, unknown ids) are ignored. Returns one row per administration and
    scale with ``score`` (null when incomplete), ``pomp``, ``n_items``, ``n_answered``, ``prorated`` and
    ``incomplete``.
    """
    spec = scale_items_frame(registry)
    joined = items.select([*ADMIN_KEY, "item", "value"]).join(spec, on=["instrument", "item"], how="inner")
    adjusted = (
        pl.when(pl.col("reverse"))
        .then(pl.col("item_min") + pl.col("item_max") - pl.col("value"))
        .otherwise(pl.col("value"))
    )
    per_scale = (
        joined.with_columns(adjusted.alias("_v"))
        .group_by([*ADMIN_KEY, "scale"])
        .agg(
            pl.col("_v").count().alias("n_answered"),
            pl.col("_v").sum().alias("_sum"),
            pl.col("_v").mean().alias("_mean"),
            pl.first("n_items", "method", "max_missing", "scale_min", "scale_max"),
        )
    )
    n_missing = pl.col("n_items") - pl.col("n_answered")
    usable = n_missing <= pl.col("max_missing")
    raw_score = (
        pl.when(pl.col("method") == "mean")
        .then(pl.col("_mean"))
        .when(n_missing == 0)
        .then(pl.col("_sum"))
        .otherwise(pl.col("_mean") * pl.col("n_items"))
    )
    score = pl.when(usable & (pl.col("n_answered") > 0)).then(raw_score).otherwise(None)
    return (
        per_scale.with_columns(score.cast(pl.Float64).alias("score"))
        .with_columns(
            (100 * (pl.col("score") - pl.col("scale_min")) / (pl.col("scale_max") - pl.col("scale_min"))).alias("pomp"),
            ((n_missing > 0) & pl.col("score").is_not_null()).alias("prorated"),
            pl.col("score").is_null().alias("incomplete"),
        )
        .select([*ADMIN_KEY, "scale", "score", "pomp", "n_items", "n_answered", "prorated", "incomplete"])
        .sort([*ADMIN_KEY, "scale"])
    )
