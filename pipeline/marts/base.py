"""What every mart is: a named published table, the function that builds it from the episode-level tables, and
(for aggregate tables) what its columns mean to disclosure control."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

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
