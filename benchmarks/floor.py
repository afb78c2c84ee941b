"""The floor: the least work that gives the headline answer, done by plain DuckDB on the same files.

Read the sessions and item answers, sum the items of each administration, take each client's first and last
total per instrument, and the mean change; write those tables to a DuckDB file. No validation, no
quarantine, no proration, no reverse items, no disclosure control — the full refresh is judged by how close
it comes to this (issue 7: ≤ 3× its wall time).

Run as its own process (``python -m benchmarks.floor BATCH OUT.duckdb``) so its time and peak memory are its own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb

from pipeline.stage_timing import stage


def _source(batch: Path, name: str) -> str:
    parquet = batch / f"{name}.parquet"
    return f"read_parquet('{parquet}')" if parquet.exists() else f"read_csv('{batch / f'{name}.csv'}')"


def run_floor(batch: Path, out: Path) -> dict[str, int]:
    """The floor's job; returns its output row counts."""
    out.unlink(missing_ok=True)
    con = duckdb.connect(str(out))
    try:
        con.execute(
            f"""CREATE TABLE totals AS
                SELECT m.client_id, m.instrument, m.administered_on, sum(m.value) AS total,
                       min(s.session_date) AS session_date
                FROM {_source(batch, "measures")} m
                LEFT JOIN (SELECT session_id, session_date FROM {_source(batch, "sessions")}) s USING (session_id)
                GROUP BY ALL"""
        )
        con.execute(
            """CREATE TABLE client_change AS
               SELECT client_id, instrument,
                      arg_min(total, administered_on) AS first_total,
                      arg_max(total, administered_on) AS last_total,
                      arg_max(total, administered_on) - arg_min(total, administered_on) AS change,
                      count(*) AS administrations
               FROM totals GROUP BY ALL HAVING count(*) >= 2"""
        )
        con.execute(
            """CREATE TABLE mean_change AS
               SELECT instrument, avg(change) AS mean_change, count(*) AS clients FROM client_change GROUP BY ALL"""
        )
        return {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            for name in ("totals", "client_change", "mean_change")
        }
    finally:
        con.close()


def main(argv: list[str]) -> int:
    batch, out = Path(argv[0]), Path(argv[1])
    started = time.perf_counter()
    with stage("floor"):
        counts = run_floor(batch, out)
    print(f"floor: {counts} in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
