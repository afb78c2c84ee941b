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


SCORE_COLUMNS = [
    "client_id", "instrument", "administered_on", "session_id", "scale", "score", "pomp", "band", "source",
    "n_items", "n_answered", "prorated", "incomplete_reason", "registry_version",
]  # fmt: skip


def scale_facts_frame(registry: Registry) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"instrument": inst.id, "scale": scale.id, "scale_min": scale.min, "scale_max": scale.max,
             "n_items_registry": len(scale.items)}
            for inst in registry.instruments.values()
            for scale in inst.scales.values()
        ]
    )  # fmt: skip


def build_scores(measures: pl.DataFrame, registry: Registry) -> pl.DataFrame:
    """The `scores` table: one row per administration × scale.

    Source of the score, in order: the items when all are answered (``items``); else a supplied scale score
    (``supplied``); else the items prorated within the allowance (``prorated``); else null with
    ``incomplete_reason = 'too_many_missing_items'``. POMP and the severity band follow the final score.
    """
    computed = score_items(measures, registry)
    accepted = scale_facts_frame(registry)
    supplied = (
        measures.join(accepted.select("instrument", pl.col("scale").alias("item")), on=["instrument", "item"])
        .filter(pl.col("value").is_not_null())
        .group_by([*ADMIN_KEY, "item"])
        .agg(pl.col("value").first().alias("supplied"))
        .rename({"item": "scale"})
    )
    sessions = measures.group_by(ADMIN_KEY).agg(pl.col("session_id").drop_nulls().first())
    merged = (
        computed.join(supplied, on=[*ADMIN_KEY, "scale"], how="full", coalesce=True)
        .join(accepted, on=["instrument", "scale"], how="left")
        .join(sessions, on=ADMIN_KEY, how="left")
    )
    complete = pl.col("n_answered") == pl.col("n_items")
    source = (
        pl.when(complete.fill_null(False))
        .then(pl.lit("items"))
        .when(pl.col("supplied").is_not_null())
        .then(pl.lit("supplied"))
        .when(pl.col("score").is_not_null())
        .then(pl.lit("prorated"))
    )
    final = pl.when(source == "supplied").then(pl.col("supplied")).otherwise(pl.col("score"))
    scored = merged.with_columns(source.alias("source"), final.alias("score")).with_columns(
        (100 * (pl.col("score") - pl.col("scale_min")) / (pl.col("scale_max") - pl.col("scale_min"))).alias("pomp"),
        pl.col("n_items").fill_null(pl.col("n_items_registry")),
        pl.col("n_answered").fill_null(0),
        (pl.col("source") == "prorated").fill_null(False).alias("prorated"),
        pl.when(pl.col("score").is_null()).then(pl.lit("too_many_missing_items")).alias("incomplete_reason"),
        pl.lit(registry.version).alias("registry_version"),
    )
    return assign_bands(scored, registry).select(SCORE_COLUMNS).sort([*ADMIN_KEY, "scale"])


def assign_bands(scores: pl.DataFrame, registry: Registry) -> pl.DataFrame:
    """Severity band per score, by `Scale.band_of` (the registry's one definition), looked up once per distinct
    (instrument, scale, score)."""
    distinct = scores.select("instrument", "scale", "score").unique().drop_nulls()
    labels = [
        registry[inst].scales[scale].band_of(score) if inst in registry and scale in registry[inst].scales else None
        for inst, scale, score in distinct.iter_rows()
    ]
    lookup = distinct.with_columns(pl.Series("band", labels, dtype=pl.String))
    return scores.join(lookup, on=["instrument", "scale", "score"], how="left")


def baseline_item_matrix(
    measures: pl.DataFrame, baselines: pl.DataFrame, registry: Registry
) -> dict[tuple[str, str], pl.DataFrame]:
    """Per (instrument, scale): the reversal-adjusted item answers of each episode's baseline administration,
    complete rows only (for Cronbach's alpha)."""
    spec = scale_items_frame(registry)
    items = (
        measures.join(baselines.select(ADMIN_KEY).unique(), on=ADMIN_KEY, how="semi")
        .join(spec, on=["instrument", "item"], how="inner")
        .with_columns(
            pl.when(pl.col("reverse"))
            .then(pl.col("item_min") + pl.col("item_max") - pl.col("value"))
            .otherwise(pl.col("value"))
            .alias("_v")
        )
    )
    out: dict[tuple[str, str], pl.DataFrame] = {}
    for (instrument, scale), part in items.group_by("instrument", "scale"):
        wide = part.pivot(on="item", index=ADMIN_KEY, values="_v", aggregate_function="first").drop_nulls()
        expected = [i for i in registry[str(instrument)].scales[str(scale)].items]
        if all(c in wide.columns for c in expected):
            out[(str(instrument), str(scale))] = wide.select(expected)
    return out
