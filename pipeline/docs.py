"""Generated documentation: the data dictionary of the published tables (`make docs`)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb

from pipeline.config import Paths
from schemas.published import PUBLISHED, data_dictionary, kinds_of

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def data_dictionary_text(sample: Path = SAMPLE) -> str:
    """Publish the committed sample into a scratch home to read each column's type, then render the contract."""
    from pipeline.stages import refresh_batches

    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths(Path(tmp))
        refresh_batches(paths, [sample], dt.date(2026, 10, 31))
        frames = {}
        for spec in PUBLISHED:
            with duckdb.connect(str(paths.published / f"{spec.file}.duckdb"), read_only=True) as con:
                frames[(spec.file, spec.name)] = con.sql(f"SELECT * FROM {spec.name} LIMIT 0").pl()
    return data_dictionary(kinds_of(frames))
