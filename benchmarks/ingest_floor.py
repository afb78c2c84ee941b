"""The ingest floor: read the four input files and persist them with their types into a DuckDB file — no rules,
no quarantine, no scoring. Parsing and persisting 25M answers alone is ~2.2× the headline floor (STACK-NOTES §7),
so a refresh that must at least do this is judged against it too (issue 16: full refresh ≤ 3× this).

Same engine limits as the pipeline (`engine.memory_limit_mb`, a temp folder beside the output). Run as its own
process (``python -m benchmarks.ingest_floor BATCH OUT.duckdb``) so its time and peak memory are its own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline.settings import DEFAULTS
from pipeline.stage_timing import stage
from pipeline.staging import limit
from schemas.compile import literal
from schemas.inputs import TABLES

_TYPES: dict[Any, str] = {
    pl.String: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.Date: "DATE",
    pl.Boolean: "BOOLEAN",
}


def run_ingest_floor(batch: Path, out: Path) -> dict[str, int]:
    """The ingest floor's job; returns the rows persisted per table."""
    out.unlink(missing_ok=True)
    con = duckdb.connect(str(out))
    try:
        limit(con, DEFAULTS, out.parent / "ingest-floor-tmp")
        counts: dict[str, int] = {}
        for spec in TABLES:
            csv, parquet = batch / f"{spec.name}.csv", batch / f"{spec.name}.parquet"
            if parquet.exists():
                source = "read_parquet(?)"
                path = parquet
            elif csv.exists():
                header = csv.open(encoding="utf-8").readline().strip().split(",")
                types = {c: _TYPES[spec.dtypes[c]] for c in header}
                struct = "{" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}"
                source = f"read_csv(?, columns = {struct}, header = true, auto_detect = false)"
                path = csv
            else:
                continue
            con.execute(f"CREATE TABLE {spec.name} AS SELECT * FROM {source}", [str(path)])
            counts[spec.name] = con.execute(f"SELECT count(*) FROM {spec.name}").fetchall()[0][0]
        con.execute("CHECKPOINT")
        return counts
    finally:
        con.close()


def main(argv: list[str]) -> int:
    batch, out = Path(argv[0]), Path(argv[1])
    started = time.perf_counter()
    with stage("ingest_floor"):
        counts = run_ingest_floor(batch, out)
    print(f"ingest floor: {counts} in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
