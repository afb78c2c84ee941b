"""The dashboard's only door to data: read-only, published files only, SQL in files with bound parameters.

- Aggregate mode (the default) knows one file, `published/aggregate.duckdb`. Its connection is in-memory with that
  file ATTACHed read-only and then `enable_external_access` switched off and the configuration locked, so no SQL
  sent through it — ours or anyone's — can open another file: the clinical file and the warehouse are out of
  reach, not merely unused.
- Clinical mode (started explicitly: ``ifs-outcomes dashboard --clinical``) also attaches `published/clinical.duckdb`.
- Connections are cached per published file *version* (inode and mtime change on every atomic swap), so a
  refresh is picked up on the next rerun without restarting, and the pipeline never waits for a lock.
- Queries live in `dashboards/sql/<file>/<name>.sql`, take named parameters (`$dimension`), and are cached per
  version. Pages render what comes back; they never compute an indicator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl
import streamlit as st

from pipeline.config import Paths
from pipeline.disclosure import mark_expr
from schemas.published import PROTECT_COLUMN

SQL_DIR = Path(__file__).parent / "sql"
MODE_VARIABLE = "IFS_OUTCOMES_DASHBOARD_MODE"
HOME_VARIABLE = "IFS_OUTCOMES_HOME"
FileKind = Literal["aggregate", "clinical"]
SUPPRESSED = "_suppressed"


class PublishedDataMissing(RuntimeError):
    """The published file does not exist yet (no refresh has run)."""


class ClinicalDataNotAllowed(PermissionError):
    """Aggregate mode asked for client-level data."""


@dataclass(frozen=True)
class Source:
    """Where the dashboard reads from, fixed when the server starts."""

    home: Path
    clinical: bool

    @property
    def aggregate_path(self) -> Path:
        return Paths(self.home).aggregate_file

    @property
    def internal_path(self) -> Path:
        """The aggregate tables without disclosure control: clinical mode only."""
        if not self.clinical:
            raise ClinicalDataNotAllowed(
                "the internal view is not available in aggregate mode; start the dashboard with --clinical"
            )
        return Paths(self.home).internal_file

    @property
    def clinical_path(self) -> Path:
        if not self.clinical:
            raise ClinicalDataNotAllowed(
                "client-level data is not available in aggregate mode; start the dashboard with --clinical"
            )
        return Paths(self.home).clinical_file


def source() -> Source:
    """The data source from the environment the `dashboard` command sets (read on every rerun, cheap)."""
    home = Path(os.environ.get(HOME_VARIABLE) or "data").resolve()
    return Source(home=home, clinical=os.environ.get(MODE_VARIABLE, "aggregate") == "clinical")


def clinical_mode() -> bool:
    return source().clinical


def _version(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise PublishedDataMissing(
            f"{path} does not exist yet: run `make run` (or `ifs-outcomes refresh --all`) first"
        ) from None
    return (stat.st_ino, stat.st_mtime_ns)


#: The session key of the clinical-mode choice of figures: "shareable" (the aggregate file) or "internal".
AUDIENCE_KEY = "audience"


def internal_view() -> bool:
    """Clinical mode with the practice's internal view chosen: the aggregate pages read `internal.duckdb` (every
    small number shown). Never in aggregate mode, whatever the session says."""
    return source().clinical and st.session_state.get(AUDIENCE_KEY) == "internal"


def _path(kind: FileKind) -> Path:
    src = source()
    if kind == "aggregate":
        return src.internal_path if internal_view() else src.aggregate_path
    return src.clinical_path


def _close(con: duckdb.DuckDBPyConnection) -> None:
    con.close()


@st.cache_resource(max_entries=4, on_release=_close)
def _connection(path: str, file_version: tuple[int, int], kind: FileKind) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with exactly one published file attached read-only (as `aggregate` or `clinical`, the
    schema name the SQL files use), then sealed against opening anything else."""
    del file_version  # part of the cache key only
    if kind not in ("aggregate", "clinical"):
        raise ValueError(f"unknown published file {kind!r}")
    con = duckdb.connect()
    con.execute(f"ATTACH ? AS {kind} (READ_ONLY)", [path])  # kind is one of two literals, never user input
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    macros = SQL_DIR / kind / "_macros.sql"
    if macros.exists():
        con.execute(macros.read_text(encoding="utf-8"))
    return con


def sql_text(kind: FileKind, name: str) -> str:
    return (SQL_DIR / kind / f"{name}.sql").read_text(encoding="utf-8")


@st.cache_data(ttl=3600, max_entries=512, show_spinner=False)
def _query(path: str, file_version: tuple[int, int], kind: FileKind, name: str, params: tuple) -> pl.DataFrame:
    cursor = _connection(path, file_version, kind).cursor()
    try:
        return cursor.sql(sql_text(kind, name), params=dict(params) or None).pl()
    finally:
        cursor.close()


def _run(kind: FileKind, name: str, params: dict[str, Any]) -> pl.DataFrame:
    path = _path(kind)
    return _query(str(path), _version(path), kind, name, tuple(sorted(params.items())))


def query(name: str, **params: Any) -> pl.DataFrame:
    """Run `dashboards/sql/aggregate/<name>.sql` with named parameters on the current published version."""
    return _run("aggregate", name, params)


def clinical_query(name: str, **params: Any) -> pl.DataFrame:
    """Run `dashboards/sql/clinical/<name>.sql`; refuses (ClinicalDataNotAllowed) in aggregate mode."""
    return _run("clinical", name, params)


def publication() -> dict[str, Any]:
    """What the numbers were computed with (as-of date, versions, the disclosure rule in force)."""
    rows = query("publication")
    return rows.row(0, named=True) if rows.height else {}


def disclosure_k() -> int:
    return int(publication().get("disclosure_k") or 11)


def for_display(frame: pl.DataFrame, k: int, percent: tuple[str, ...] = (), decimals: int = 2) -> pl.DataFrame:
    """The table as shown and downloaded: a hidden cell becomes its mark — ``<k`` a small count, ``n<k`` a rate or
    statistic with a small count behind it, ``‡`` hidden to protect another cell (never a number or 0) — rates
    become percentages, and the `_suppressed` companions are dropped. Presentation only — no value is computed."""
    flags = [c for c in frame.columns if c.endswith(SUPPRESSED) and c.removesuffix(SUPPRESSED) in frame.columns]
    columns: list[pl.Expr] = []
    for column in frame.columns:
        if column in flags:
            continue
        value = pl.col(column)
        dtype = frame.schema[column]
        if column in percent:
            text = pl.format("{}%", (value * 100).round(1))
        elif dtype.is_float():
            text = value.round(decimals).cast(pl.String)
        else:
            text = value.cast(pl.String) if f"{column}{SUPPRESSED}" in flags else value
        if f"{column}{SUPPRESSED}" in flags:
            # not published (no denominator) reads —; hidden reads <k, n<k or ‡ (disclosure.legend)
            text = mark_expr(column, k, dtype.is_integer(), text.cast(pl.String).fill_null("—"), frame.columns)
        columns.append(text.alias(column))
    return frame.select(columns).drop(PROTECT_COLUMN, strict=False)
