"""The marts: one module per published table, each with its Purpose / Grain / Inputs / Reference / Missing-data
header, built from the episode-level tables (`pipeline.intermediate`). Find any published number here by its
table's name: `pipeline/marts/<table>.py` (the client-level tables are together in `clinical.py`).

`MARTS` is the publication in order; `publish.py` only discloses, validates against `schemas/published.py` and
writes atomically.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipeline import intermediate, io
from pipeline.disclosure import Link
from pipeline.marts import (
    alerts,
    change_density,
    clinical,
    coaching_summary,
    data_quality,
    engagement_by_period,
    engagement_summary,
    milestone_curves,
    milestone_funnel,
    nhs_outcomes,
    outcome_summary,
    outcomes_by_theme,
    period_comparison,
    scale_methods,
    self_leadership_trajectory,
)
from pipeline.marts.base import Context, DerivedMart, Mart
from pipeline.marts.invariants import InvariantBroken, check_invariants
from pipeline.marts.revisions import record_revisions
from pipeline.settings import Settings
from schemas.registry import Registry

MARTS: tuple[Mart | DerivedMart, ...] = (
    outcome_summary.MART,
    nhs_outcomes.MART,
    period_comparison.MART,
    milestone_funnel.MART,
    milestone_curves.MART,
    engagement_summary.MART,
    engagement_by_period.MART,
    self_leadership_trajectory.MART,
    coaching_summary.MART,
    outcomes_by_theme.MART,
    change_density.MART,
    scale_methods.MART,
    data_quality.MART,
    data_quality.SUMMARY,
    *clinical.MARTS,
    alerts.MART,
)


#: The same count published in two tables (disclosure control hides it in both or neither): the grid total of
#: change_density is outcome_summary's paired, for each population's all-time (or as-of) row.
LINKS: tuple[Link, ...] = (
    Link(
        "change_density", "episodes", "outcome_summary", "paired",
        on=("population", "instrument", "scale", "dimension", "level"),
        where=pl.col("cell") == "all", other_where=pl.col("period_type").is_in(["all", "as_of"]),
    ),
)  # fmt: skip


def build_all(
    con: io.duckdb.DuckDBPyConnection,
    as_of: dt.date,
    settings: Settings,
    registry: Registry,
    published_with: str | None = None,
) -> dict[str, pl.DataFrame]:
    """Every published table before disclosure control (the internal tables), by name, checked for invariants.
    ``published_with`` (the warehouse run the publication reflects): record the closed periods' revisions in the
    warehouse and set them (`revisions.record_revisions`); without it `revision` stays empty (a read-only build)."""
    intermediate.build(con, as_of, settings, registry)
    ctx = Context(con, as_of, settings, registry, intermediate.parameters(as_of, settings))
    tables: dict[str, pl.DataFrame] = {}
    for mart in MARTS:
        tables[mart.name] = mart.derive(tables) if isinstance(mart, DerivedMart) else mart.build(ctx)
    check_invariants(con, tables, MARTS, LINKS)
    if published_with is not None:
        tables = record_revisions(con, tables, as_of, published_with)
    return tables


__all__ = ["LINKS", "MARTS", "Context", "DerivedMart", "InvariantBroken", "Mart", "build_all"]
