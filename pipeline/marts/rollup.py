"""Roll-ups over the episode dimensions and the periods, in one DuckDB pass (`GROUPING SETS`).

Every aggregate table is a fixed set of roll-ups — overall, and each dimension on its own — so that a dashboard
that only filters published rows can never create a new small cell (DESIGN 6). Tables that follow episodes over
time are also cut by period: every row is counted in `all`, its quarter and its month (with the period each adds
up to, `parent_period`), which is the hierarchy disclosure control protects. Only code constants are templated
into the SQL (column names, aggregate expressions); values are bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from pipeline import io

#: The episode dimensions (columns of the `episodes` table), in the order their rows are published.
DIMENSIONS: tuple[str, ...] = ("practice", "service", "modality", "location", "cohort")
PERIOD_TYPES: tuple[str, ...] = ("all", "quarter", "month")
PERIOD_KEYS: tuple[str, ...] = ("period_type", "period", "parent_period")
OVERALL = ("overall", "all")


def _periods(date_column: str) -> str:
    return f"""CROSS JOIN LATERAL (VALUES
        ('all', 'all', NULL),
        ('quarter', quarter_of({date_column}), 'all'),
        ('month', month_of({date_column}), quarter_of({date_column}))
    ) AS p(period_type, period, parent_period)"""


def rollup_sql(
    source: str,
    aggregates: Sequence[str],
    by: Sequence[str] = (),
    period_date: str | None = None,
    dimensions: Sequence[str] = DIMENSIONS,
) -> str:
    """The roll-up of ``source`` (a SELECT carrying the ``dimensions`` columns): one row per (period,) ``by`` values,
    `dimension` and `level` — overall and by each dimension on its own — with the ``aggregates`` (SQL expressions
    with their aliases). With ``period_date``, rows are also cut by `period_type`, `period`, `parent_period`: all
    time and quarters for every breakdown, months for the practice as a whole only (a month of one location or
    practice is mostly counts of a few people: published, they would be hidden, or hide others, almost all); a row
    without a date counts in `all` only. A row whose dimension value is null is left out of that dimension."""
    keys = [*(PERIOD_KEYS if period_date else ()), *by]
    grouping_sets = ", ".join(f"({', '.join([*keys, *extra])})" for extra in ([], *([d] for d in dimensions)))
    dimension = " ".join(f"WHEN grouping({d}) = 0 THEN '{d}'" for d in dimensions)
    level = " ".join(f"WHEN grouping({d}) = 0 THEN CAST({d} AS VARCHAR)" for d in dimensions)
    dropped = " AND ".join(f"NOT (grouping({d}) = 0 AND {d} IS NULL)" for d in dimensions) or "true"
    if period_date and dimensions:  # months for the practice as a whole only (DESIGN 6: no sparse month × group)
        broken_down = " OR ".join(f"grouping({d}) = 0" for d in dimensions)
        dropped += f" AND NOT (period_type = 'month' AND ({broken_down}))"
    return f"""
        SELECT {"".join(f"{k}, " for k in keys)}
            CASE {dimension} ELSE '{OVERALL[0]}' END AS dimension,
            CASE {level} ELSE '{OVERALL[1]}' END AS level,
            {", ".join(aggregates)}
        FROM ({source}) AS src
        {_periods(period_date) if period_date else ""}
        {"WHERE p.period IS NOT NULL" if period_date else ""}
        GROUP BY GROUPING SETS ({grouping_sets})
        HAVING {dropped}
    """


def rollup(
    con: io.duckdb.DuckDBPyConnection,
    source: str,
    aggregates: Sequence[str],
    params: dict[str, Any],
    by: Sequence[str] = (),
    period_date: str | None = None,
    dimensions: Sequence[str] = DIMENSIONS,
) -> pl.DataFrame:
    """`rollup_sql` run on ``con`` with the bound ``params``, in a fixed row order (dimension as published, then
    period type, period and the ``by`` keys)."""
    sql = rollup_sql(source, aggregates, by, period_date, dimensions)
    frame = io.query(con, sql, params)
    dimension_rank = {d: i for i, d in enumerate((OVERALL[0], *dimensions))}
    period_rank = {t: i for i, t in enumerate(PERIOD_TYPES)}
    order = [pl.col("dimension").replace_strict(dimension_rank, return_dtype=pl.Int64)]
    if period_date:
        order += [pl.col("period_type").replace_strict(period_rank, return_dtype=pl.Int64), pl.col("period")]
    order += [pl.col(k) for k in by] + [pl.col("level")]
    return frame.sort(order, nulls_last=False)
