"""A large answers file staged in DuckDB: read once, in one pass, into a scratch database beside the batch's
staging folder, then judged there (`pipeline.validate`) and loaded from there (`pipeline.load`) — never held whole
in Python, never spilled through Parquet.

The scratch table keeps the file's text exactly as a reader gives it (no stripping: the slow path applies
`pipeline.io`'s text handling to the few rows it judges), and its ``rowid`` is the source row (an
order-preserving ``CREATE TABLE AS`` with no join; a ``row_number() OVER ()`` would serialise the read,
STACK-NOTES §7). A file DuckDB and polars might read differently — blank lines (polars makes them rows), a lone
carriage return, a line break inside a quoted value, anything DuckDB's strict reader refuses — is not staged
(`stage_answers` returns None) and takes the in-memory path, which judges it exactly as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline import io
from pipeline.settings import DEFAULTS, Settings
from schemas.compile import literal, quoted

SCRATCH_FILE = "answers.duckdb"
TABLE = "answers"


@dataclass(frozen=True)
class StagedAnswers:
    """An answers file staged in a scratch DuckDB file (table `answers`, the contract's columns as text)."""

    db: Path
    file_name: str
    rows: int
    #: A ';'-separated file: decimal commas in `value` are read as points (as `pipeline.io` does).
    decimal_comma: bool


def limit(con: duckdb.DuckDBPyConnection, settings: Settings, temp_directory: Path) -> None:
    """Bound a connection's memory by the settings (`engine.memory_limit_mb`, `engine.threads`), spilling to a
    folder inside the home — never to a ``.tmp`` under whatever the working directory is."""
    temp_directory.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{int(settings.engine.memory_limit_mb)}MiB'")
    con.execute("SET temp_directory = ?", [str(temp_directory)])
    if settings.engine.threads:
        con.execute(f"SET threads = {int(settings.engine.threads)}")


@contextlib.contextmanager
def scratch(db: Path, settings: Settings = DEFAULTS, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a scratch database, bounded like every other (spilling beside it); judging opens it
    read-only (temp tables only), so closing it writes nothing."""
    con = duckdb.connect(str(db), read_only=read_only)
    try:
        limit(con, settings, db.parent / "duckdb-tmp")
        yield con
    finally:
        con.close()


def _lines(path: Path) -> int | None:
    """The file's number of lines, or None when a carriage return stands alone (polars and DuckDB could split
    such a file differently). Byte counts only: about half a second for 1.5 GB."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            while chunk.endswith(b"\r"):  # never split a CRLF between two chunks
                more = fh.read(1)
                if not more:
                    return None
                chunk += more
            if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
                return None
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def stage_answers(
    path: Path, header: list[str], columns: list[str], folder: Path, settings: Settings = DEFAULTS
) -> StagedAnswers | None:
    """Read the answers file ``path`` (its ``header`` already checked against the contract) into a scratch
    database under ``folder``, every contract column as text in ``columns`` order (absent ones null, empty ones
    null); None when the file must take the in-memory path (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / SCRATCH_FILE
    db.unlink(missing_ok=True)
    present = set(header)
    select = ", ".join(
        f"nullif(CAST({quoted(c)} AS VARCHAR), '') AS {quoted(c)}" if c in present else f"NULL::VARCHAR AS {quoted(c)}"
        for c in columns
    )
    decimal_comma = False
    if path.suffix == ".csv":
        separator = io.csv_separator(path)
        lines = _lines(path)
        if lines is None or len(present) != len(header):
            return None
        decimal_comma = separator == ";"
        struct = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
        source = (
            f"read_csv(?, columns = {struct}, header = true, auto_detect = false, delim = {literal(separator)}, "
            "quote = '\"', escape = '\"', strict_mode = true, null_padding = false, encoding = 'utf-8')"
        )
    else:
        source = "read_parquet(?)"
    with scratch(db, settings) as con:
        con.execute("SET preserve_insertion_order = true")
        try:
            con.execute(f"CREATE TABLE {TABLE} AS SELECT {select} FROM {source}", [str(path)])
        except duckdb.Error:
            return None
        rows = int(con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0])
    if path.suffix == ".csv" and rows + 1 != lines:  # a blank line (polars reads it as a row) or a quoted newline
        return None
    return StagedAnswers(db=db, file_name=path.name, rows=rows, decimal_comma=decimal_comma)
