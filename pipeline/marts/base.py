"""What every mart is: a named published table, the function that builds it from the episode-level tables, and
(for aggregate tables) what its columns mean to disclosure control."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from statsmodels.stats.proportion import proportion_confint

from pipeline import io
from pipeline.disclosure import TableLayout
from pipeline.settings import Settings
from schemas.registry import Registry


@dataclass(frozen=True)
class Context:
    """What a mart is built from: the warehouse connection with the episode-level tables (`pipeline.intermediate`)
    built on it, the as-of date, the settings and the registry, and the parameters the SQL binds."""

    con: io.duckdb.DuckDBPyConnection
    as_of: dt.date
    settings: Settings
    registry: Registry
    params: dict[str, Any]

    def query(self, sql: str, **extra: Any) -> pl.DataFrame:
        return io.query(self.con, sql, {**self.params, **extra})


@dataclass(frozen=True)
class Mart:
    """One published table: ``file`` is `aggregate` (disclosure-controlled with ``layout``; no layout = exempt,
    rows not people) or `clinical` (client-level)."""

    name: str
    file: Literal["aggregate", "clinical"]
    build: Callable[[Context], pl.DataFrame]
    layout: TableLayout | None = None


@dataclass(frozen=True)
class DerivedMart:
    """A published table computed from other published tables only — after disclosure control, from what they
    publish (a hidden value stays hidden: whatever needs it is hidden too), so it needs no layout of its own. Built
    from the internal tables it is the practice's exact version."""

    name: str
    sources: tuple[str, ...]
    derive: Callable[[Mapping[str, pl.DataFrame]], pl.DataFrame]
    file: Literal["aggregate", "clinical"] = "aggregate"
    layout: None = None


#: How every published proportion's 95% CI is computed (`with_rates`).
RATE_CI_METHOD = "Wilson score"


def with_rates(table: pl.DataFrame, layout: TableLayout, with_ci: tuple[str, ...] = ()) -> pl.DataFrame:
    """Every rate of ``layout`` as numerator / denominator (empty when the denominator is 0) — the one place a
    published rate is divided — and, for the rates in ``with_ci``, its 95% Wilson score interval as
    `<rate>_ci_low` / `<rate>_ci_high` (Wilson 1927; statsmodels `proportion_confint`): it stays inside 0..1 and
    keeps its coverage at small n and at 0% or 100%, where the Wald interval collapses."""
    out = table.with_columns(
        pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).alias(rate) for rate, num, den in layout.rates
    )
    for rate, num, den in layout.rates:
        if rate not in with_ci:
            continue
        count = out[num].cast(pl.Float64).fill_null(0).to_numpy()
        nobs = out[den].cast(pl.Float64).fill_null(0).to_numpy()
        ok = nobs > 0
        low, high = np.full(len(count), np.nan), np.full(len(count), np.nan)
        if ok.any():
            low[ok], high[ok] = proportion_confint(count[ok], nobs[ok], alpha=0.05, method="wilson")
        out = out.with_columns(
            pl.Series(f"{rate}_ci_low", low).fill_nan(None), pl.Series(f"{rate}_ci_high", high).fill_nan(None)
        )
    return out
