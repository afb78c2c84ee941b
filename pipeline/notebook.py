"""Loading published or exported data as polars frames, for notebooks: ``from pipeline import load_published``.

The chart functions are ``pipeline.charts`` and the statistics are ``pipeline.change`` (``effect_sizes``,
``analyze_change`` …), all taking and returning polars frames.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline import io
from pipeline.config import Paths


def load_published(home: Path | str = "data", file: str = "aggregate") -> dict[str, pl.DataFrame]:
    """Every table of `<home>/published/<file>.duckdb` (file = aggregate or clinical), read-only."""
    path = Paths(Path(home)).published_file(file)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `make run` or `ifs-outcomes refresh` first")
    return io.read_all_tables(path)


def load_export(folder: Path | str) -> dict[str, pl.DataFrame]:
    """Every Parquet table of a research package written by `ifs-outcomes export`."""
    paths = sorted(Path(folder).glob("*.parquet"))
    if not paths:
        raise FileNotFoundError(f"no Parquet tables in {folder}: is it a research package?")
    return {p.stem: pl.read_parquet(p) for p in paths}
