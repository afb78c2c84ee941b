"""Helpers for the interoperability tests: what a refresh published, without provenance, so two homes loaded from
equivalent batches (comma/';'/tab CSVs, a REDCap export, a FHIR bundle) can be compared table by table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipeline.config import Paths

#: Columns that say where a row came from (which batch, run or file), not what it says.
PROVENANCE = ("batch_id", "run_id", "warehouse_run_id", "content_hash")
#: Warehouse tables compared: the loaded contract tables and everything derived from them.
WAREHOUSE = ("clients", "sessions", "measures", "goals", "scores", "scale_reliability", "client_change")


def _tables(path: Path, names: tuple[str, ...] | None = None) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        found = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        return {name: con.sql(f'SELECT * FROM "{name}"').pl() for name in found if names is None or name in names}


def outcome_snapshot(paths: Paths) -> dict[str, pl.DataFrame]:
    """The warehouse's contract and outcome tables and every published aggregate table, provenance dropped and
    rows sorted, keyed ``warehouse.<table>`` / ``aggregate.<table>``."""
    frames = {f"warehouse.{k}": v for k, v in _tables(paths.warehouse, WAREHOUSE).items()}
    frames |= {f"aggregate.{k}": v for k, v in _tables(paths.published / "aggregate.duckdb").items()}
    return {name: f.drop(PROVENANCE, strict=False).sort(pl.all(), nulls_last=True) for name, f in frames.items()}


def assert_same_outcomes(expected: Paths, found: Paths) -> None:
    """Every compared table is equal, row for row and value for value (floats exactly)."""
    want, got = outcome_snapshot(expected), outcome_snapshot(found)
    assert sorted(want) == sorted(got)
    assert want["warehouse.scores"].height > 0 and want["warehouse.client_change"].height > 0
    for name, frame in want.items():
        assert frame.equals(got[name]), f"{name} differs"
