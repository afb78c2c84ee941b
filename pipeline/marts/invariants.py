"""Reconciliation invariants, checked on the unsuppressed (internal) tables before anything is published: totals
match the warehouse, numerators fit their denominators, the milestone funnel never increases, parts add up to
their whole, and every table's grain is unique. A failure stops publishing (a bug: exit 3)."""

from __future__ import annotations

import polars as pl

from pipeline import io
from pipeline.disclosure import Link
from pipeline.marts.base import DerivedMart, Mart
from pipeline.marts.milestone_funnel import MILESTONES


class InvariantBroken(AssertionError):
    """An internal table does not reconcile with the warehouse: publishing stops (a bug, exit 3)."""


def check_invariants(
    con: io.duckdb.DuckDBPyConnection,
    tables: dict[str, pl.DataFrame],
    marts: tuple[Mart | DerivedMart, ...],
    links: tuple[Link, ...] = (),
) -> None:
    problems = []
    n_clients = con.execute("SELECT count(*) FROM clients").fetchall()[0][0]
    n_treatment = con.execute("SELECT count(*) FROM sessions WHERE kind <> 'consultation'").fetchall()[0][0]
    overall = tables["engagement_summary"].filter(pl.col("dimension") == "overall").row(0, named=True)
    if overall["episodes"] != n_clients:
        problems.append(f"engagement episodes {overall['episodes']} != clients {n_clients}")
    if overall["scheduled"] != n_treatment:
        problems.append(f"engagement sessions {overall['scheduled']} != treatment sessions {n_treatment}")
    monthly = tables["engagement_by_period"].filter(
        (pl.col("dimension") == "overall") & (pl.col("period_type") == "month")
    )
    if monthly["scheduled"].sum() != n_treatment:
        problems.append(f"monthly sessions {monthly['scheduled'].sum()} != treatment sessions {n_treatment}")
    funnel = tables["milestone_funnel"]
    for k in MILESTONES[1:]:
        if (funnel[f"reached_m{k}"] > funnel[f"reached_m{k - 1}"]).any():
            problems.append(f"funnel increases at M{k}")
    for mart in marts:
        layout = mart.layout
        if layout is None:
            continue
        table = tables[mart.name]
        for rate, num, den in layout.rates:
            if (table[num] > table[den]).any():
                problems.append(f"{mart.name}: {num} > {den} ({rate})")
        for total, parts in layout.row_sums:
            published = [p for p in parts if not p.startswith("~")]
            remainder = len(published) < len(parts)  # an unpublished remainder: the parts may fall short, never over
            gap = table.select(pl.col(total).fill_null(0) - sum(pl.col(p).fill_null(0) for p in published)).to_series()
            if ((gap < 0) if remainder else (gap != 0)).any():
                problems.append(f"{mart.name}: {' + '.join(parts)} != {total}")
        if table.select(pl.struct(list(layout.keys)).is_duplicated().any()).item():
            problems.append(f"{mart.name}: grain {layout.keys} is not unique")
    for link in links:
        left = tables[link.table].filter(link.where) if link.where is not None else tables[link.table]
        right = tables[link.other].filter(link.other_where) if link.other_where is not None else tables[link.other]
        joined = left.select(*link.on, pl.col(link.column).alias("_a")).join(
            right.select(*link.on, pl.col(link.other_column).alias("_b")), on=list(link.on), how="full",
            nulls_equal=True,
        )  # fmt: skip
        if (joined["_a"].fill_null(0) != joined["_b"].fill_null(0)).any():
            problems.append(f"{link.table}.{link.column} != {link.other}.{link.other_column}")
    outcomes = tables["outcome_summary"]
    if (outcomes["categorised"] > outcomes["paired"]).any():
        problems.append("outcome_summary: more episodes categorised than paired")
    if problems:
        raise InvariantBroken("; ".join(problems))
