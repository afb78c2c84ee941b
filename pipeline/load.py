"""Load: write one validated batch into the warehouse as a single transaction.

Valid rows replace earlier rows with the same key (a corrected re-export wins); rows absent from a later
export are kept (erasure is an explicit command). Quarantine reasons and the run ledger row are written in the
same transaction, so a failure anywhere leaves the warehouse exactly as it was. DuckDB 2.0 silently rolls back
a COMMIT of an aborted transaction, so every error is caught, rolled back and re-raised, and the commit is
verified by reading the ledger row back.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import duckdb
import polars as pl

from pipeline import io
from pipeline.faults import fault_point
from pipeline.ingest import ROW
from pipeline.staging import StagedAnswers
from pipeline.validate import Loaded, TableResult, ValidationResult, decimal_point
from schemas.compile import compile_table, quoted
from schemas.inputs import TABLES, TABLES_BY_NAME

_KEYS = {spec.name: spec.key for spec in TABLES}


class CommitNotApplied(RuntimeError):
    """The transaction reported success but its ledger row is not there (DuckDB's silent rollback)."""


@dataclass
class RunRecord:
    """One row of the `runs` ledger."""

    run_id: str
    batch_id: str
    batch_path: str
    content_hash: str
    file_hashes: dict[str, str]
    as_of: dt.date | None
    started_at: dt.datetime
    finished_at: dt.datetime
    status: str
    counts: dict[str, dict[str, int]]
    quarantine_by_rule: dict[str, int]
    message: str | None
    code_version: str
    schema_version: str
    registry_version: str

    def params(self) -> list[object]:
        return [
            self.run_id,
            self.batch_id,
            self.batch_path,
            self.content_hash,
            json.dumps(self.file_hashes, sort_keys=True),
            self.as_of,
            self.started_at,
            self.finished_at,
            self.status,
            json.dumps(self.counts, sort_keys=True),
            json.dumps(self.quarantine_by_rule, sort_keys=True),
            self.message,
            self.code_version,
            self.schema_version,
            self.registry_version,
        ]


INSERT_RUN = "INSERT INTO runs VALUES (" + ", ".join(["?"] * 15) + ")"


def record_run(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    """Append a ledger row on its own (rejected and already-loaded batches change no data table)."""
    con.execute(INSERT_RUN, run.params())


def _replace(con: duckdb.DuckDBPyConnection, table: str, incoming: pl.DataFrame) -> None:
    """Delete rows whose key arrives again, then insert. ``table`` and keys come from the contract only."""
    key = _KEYS[table]
    con.register("incoming", incoming)
    try:
        match = " AND ".join(f"t.{k} = i.{k}" for k in key)
        con.execute(f"DELETE FROM {table} AS t USING incoming AS i WHERE {match}")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
    finally:
        con.unregister("incoming")


def cleared_rows(staged: StagedAnswers, database: str) -> str:
    """SELECT of the typed answers the fast path cleared, from the scratch database attached as ``database``
    (every row but those of the clients in the table ``_uncleared``, which were judged in Python)."""
    spec = TABLES_BY_NAME["measures"]
    compiled = compile_table(spec)
    typed = {c: compiled.typed[c].replace('"value"', decimal_point(staged)) for c in spec.columns}
    return f"""SELECT {", ".join(f"{expr} AS {quoted(c)}" for c, expr in typed.items())}
        FROM {database}.answers AS a
        WHERE a.client_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM _uncleared AS s WHERE s.client_id = a.client_id)"""


def read_cleared(result: TableResult) -> pl.DataFrame:
    """The typed answers a staged file's verdict cleared, as a frame (for tests and small files only)."""
    assert result.staged is not None and result.uncleared is not None
    with duckdb.connect() as con:
        con.execute("ATTACH ? AS _staged (READ_ONLY)", [str(result.staged.db)])
        con.register("_uncleared", result.uncleared)
        return con.sql(cleared_rows(result.staged, "_staged")).pl()


def _replace_from_staged(con: duckdb.DuckDBPyConnection, table: str, staged: StagedAnswers, run: RunRecord) -> None:
    """`_replace` for the rows the fast path cleared, read by DuckDB from the scratch database they were staged in
    (attached as ``_staged``): never through Python's memory, and straight into an empty table."""
    key = _KEYS[table]
    cleared = cleared_rows(staged, "_staged")
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)").fetchall()[0][0]:
        match = " AND ".join(f"t.{k} = i.{k}" for k in key)
        con.execute(f"DELETE FROM {table} AS t USING (SELECT {', '.join(key)} FROM ({cleared})) AS i WHERE {match}")
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT *, ? AS batch_id, ? AS run_id FROM ({cleared})", [run.batch_id, run.run_id]
    )


def _quarantine_rows(result: ValidationResult, run: RunRecord) -> pl.DataFrame:
    frames = [
        r.violations.select(
            run_id=pl.lit(run.run_id),
            batch_id=pl.lit(run.batch_id),
            table_name=pl.lit(name),
            source_row=pl.col(ROW).cast(pl.Int64),
            rule=pl.col("rule"),
            column_name=pl.col("column"),
            value=pl.col("value"),
        )
        for name, r in result.tables.items()
    ]
    return pl.concat(frames)


def load_batch(con: duckdb.DuckDBPyConnection, result: ValidationResult, run: RunRecord) -> None:
    """Write the batch's valid rows, its quarantine reasons and its ledger row, all or nothing."""
    staged = next((r for r in result.tables.values() if r.staged is not None), None)
    if staged is not None:
        assert staged.staged is not None and staged.uncleared is not None
        con.execute("ATTACH ? AS _staged (READ_ONLY)", [str(staged.staged.db)])
        con.register("_uncleared", staged.uncleared)
    try:
        _load(con, result, run)
    finally:
        if staged is not None:
            con.unregister("_uncleared")
            con.execute("DETACH _staged")
    found = con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run.run_id]).fetchall()
    if found[0][0] != 1:
        raise CommitNotApplied(f"run {run.run_id}: the commit did not apply; the warehouse is unchanged")


def _load(con: duckdb.DuckDBPyConnection, result: ValidationResult, run: RunRecord) -> None:
    with io.transaction(con):
        for spec in TABLES:
            valid = result.tables[spec.name].valid
            staged = result.tables[spec.name].staged
            if staged is not None:
                _replace_from_staged(con, spec.name, staged, run)
            if valid.height:
                _replace(
                    con,
                    spec.name,
                    valid.with_columns(batch_id=pl.lit(run.batch_id), run_id=pl.lit(run.run_id)),
                )
        quarantine = _quarantine_rows(result, run)
        if quarantine.height:
            con.register("incoming_quarantine", quarantine)
            con.execute("INSERT INTO quarantine BY NAME SELECT * FROM incoming_quarantine")
            con.unregister("incoming_quarantine")
        record_run(con, run)
        fault_point("load:in_transaction")


def read_loaded_context(con: duckdb.DuckDBPyConnection) -> Loaded:
    """The slices of the warehouse that validating a new batch needs."""
    return Loaded(
        clients=con.sql("SELECT client_id, intake_date, discharge_date FROM clients").pl(),
        sessions=con.sql("SELECT session_id, client_id, session_date, kind FROM sessions").pl(),
    )


#: Loads that count: every load not taken back by a later `remove-batch` of the same batch id.
ACTIVE_LOADS = """
    SELECT * FROM runs AS r
    WHERE r.status IN ('loaded', 'loaded_with_quarantine')
      AND NOT EXISTS (SELECT 1 FROM runs AS x
                      WHERE x.batch_id = r.batch_id AND x.status = 'removed' AND x.finished_at > r.finished_at)
"""
#: Ledger statuses of runs that changed the loaded data.
DATA_CHANGING = ("loaded", "loaded_with_quarantine", "removed")


def loaded_content_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """content hash -> batch id of every batch that is loaded (with or without quarantine) and not removed."""
    rows = con.execute(
        f"SELECT content_hash, any_value(batch_id) FROM ({ACTIVE_LOADS}) GROUP BY content_hash"
    ).fetchall()
    return {h: b for h, b in rows}


def warehouse_as_of(con: duckdb.DuckDBPyConnection, run_date: dt.date | None = None) -> dt.date | None:
    """The date every indicator is computed at: the latest as-of date of any loaded batch, never after the run
    date (a home loaded before exports dated in the future were refused is not computed in the future)."""
    row = con.execute(f"SELECT max(as_of) FROM ({ACTIVE_LOADS})").fetchall()
    as_of: dt.date | None = row[0][0]
    return min(as_of, run_date) if as_of is not None and run_date is not None else as_of


def data_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run id of the latest run that changed the loaded data (a load or a removal): the state of the data
    that the recovery record compares every derived product against."""
    row = con.execute(
        "SELECT run_id FROM runs WHERE status IN ? ORDER BY finished_at DESC, run_id DESC LIMIT 1",
        [list(DATA_CHANGING)],
    ).fetchall()
    return row[0][0] if row else None


def runs_after(con: duckdb.DuckDBPyConnection, run_id: str | None) -> list[tuple[str, str]]:
    """(run_id, status) of every data-changing run after ``run_id`` (all of them for None), oldest first."""
    return [
        (r, s)
        for r, s in con.execute(
            """SELECT run_id, status FROM runs
               WHERE status IN ? AND finished_at > coalesce((SELECT finished_at FROM runs WHERE run_id = ?),
                                                           TIMESTAMP '0001-01-01')
               ORDER BY finished_at, run_id""",
            [list(DATA_CHANGING), run_id],
        ).fetchall()
    ]
