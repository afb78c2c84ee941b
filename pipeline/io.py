"""The only module that touches files and DuckDB.

Keeping I/O at the edge lets every other stage be a plain function of frames, testable on tiny inline data.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

TABLE_SUFFIXES = (".csv", ".parquet")
#: Separators a CSV input may use besides the comma (much of Europe exports ';', some tools tabs).
OTHER_SEPARATORS = (";", "\t")
#: Columns whose numbers may be written with a decimal comma (``2,5``) in a ';'-separated file: the contract's only
#: decimal column. Integers and dates never carry a comma, so nothing else is touched.
DECIMAL_COMMA_COLUMNS = ("value",)
_DECIMAL_COMMA = r"^(\s*[+-]?\d*),(\d+\s*)$"
WAREHOUSE_TABLES = ("clients", "sessions", "measures", "goals", "quarantine", "runs", "derived_state")


class UnreadableFile(Exception):
    """A batch file cannot be read as CSV or Parquet at all."""


class WarehouseBusy(Exception):
    """Another process holds the warehouse's write lock."""


class UnsafePath(ValueError):
    """A path built from input would not lie strictly inside its parent folder."""


def contained(parent: Path, *names: str) -> Path:
    """``parent / names…``, refused unless it resolves strictly inside ``parent``.

    Every path built from input (a batch id, a period, a table name) goes through here before anything is written
    or removed there: ``..``, ``.``, an absolute path, a separator or a symlink pointing out of the home can never
    turn a write or a delete into one of the home itself or of anything outside it.
    """
    for name in names:
        if not name or name in (".", "..") or any(c in name for c in ("/", "\\", "\0")):
            raise UnsafePath(f"{name!r} is not a plain file or folder name")
    path = parent.joinpath(*names)
    base = parent.resolve()
    resolved = path.resolve()
    if resolved == base or base not in resolved.parents:
        raise UnsafePath(f"{path} does not resolve inside {parent}")
    return path


def remove_tree(parent: Path, name: str) -> None:
    """Remove ``parent/name`` (a folder or a file) if present — only ever strictly inside ``parent``."""
    target = contained(parent, name)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)


#: Names of temporary files and folders the pipeline writes: ``.<name>.<pid>.tmp<suffix>``, ``<batch>-<pid>``.
_TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)\.tmp(?:\.duckdb)?(?:\.wal)?$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folders: list[Path]) -> list[Path]:
    """Remove the temporary files an interrupted run of the pipeline left in ``folders`` (and their subfolders):
    those named like ours whose process is gone. A live process's files (a report being written now) are kept."""
    removed: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*.tmp*"):
            match = _TEMPORARY.match(path.name)
            if match and not _alive(int(match["pid"])) and (path.is_file() or path.is_symlink()):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def fsync_folder(folder: Path) -> None:
    """Make a folder's entries (new or renamed files) durable, as the atomic publish does."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def read_table_as_text(path: Path) -> pl.DataFrame:
    """Read a CSV or Parquet input with every column as text.

    Parsing is ours, not the reader's, so a bad value becomes a quarantined row with rule `type` instead of a
    failed read or a silently inferred type. Surrounding whitespace is stripped and empty strings are nulls.
    """
    try:
        frame = _scan_raw_text(path).collect()
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(_reason(exc)) from exc
    return _normalized(frame)


def csv_separator(path: Path) -> str:
    """The file's field separator: ',' unless the header and first lines are clearly ';'- or tab-separated.

    The standard library's sniffer judges the first lines; its answer is taken only when the header holds more of
    that separator than commas, so a comma file (even one whose `presenting_themes` hold ';') always reads as before.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return ","
    lines = head.splitlines()[:20]
    if not lines:
        return ","
    try:
        separator = csv.Sniffer().sniff("\n".join(lines), delimiters="," + "".join(OTHER_SEPARATORS)).delimiter
    except csv.Error:
        return ","
    header = lines[0]
    return separator if separator in OTHER_SEPARATORS and header.count(separator) > header.count(",") else ","


def _scan_raw_text(path: Path) -> pl.LazyFrame:
    """Every column as text, as stored (no stripping: see `read_part_as_text`); in a ';' file, decimal commas in
    `DECIMAL_COMMA_COLUMNS` become points."""
    if path.suffix == ".csv":
        separator = csv_separator(path)
        frame = pl.scan_csv(path, separator=separator, infer_schema=False, encoding="utf8", raise_if_empty=False)
        if separator == ";":
            columns = [c for c in DECIMAL_COMMA_COLUMNS if c in frame.collect_schema()]
            frame = frame.with_columns(pl.col(columns).str.replace(_DECIMAL_COMMA, "${1}.${2}"))
    else:
        frame = pl.scan_parquet(path)
    schema = frame.collect_schema()
    return frame.with_columns(pl.col(c).cast(pl.String) for c, t in schema.items() if t != pl.String)


def _normalized(frame: pl.DataFrame) -> pl.DataFrame:
    """Surrounding whitespace stripped, empty strings as nulls (every text column)."""
    return frame.with_columns(pl.col(pl.String).str.strip_chars().replace("", None))


def text_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet input, without reading its rows."""
    try:
        return list(_scan_raw_text(path).collect_schema().names())
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(_reason(exc)) from exc


#: Rows per file that `partition_as_text` writes before starting the next one (bounds its memory).
PART_FILE_ROWS = 400_000


def partition_as_text(path: Path, folder: Path, parts: int, by: str, row_index: str) -> list[Path]:
    """Stream a large input into ``parts`` folders of Parquet text files, split by a hash of column ``by``.

    Every row keeps its 1-based row number in the source (``row_index``) and every row sharing a value of
    ``by`` lands in the same part, so rules keyed by it can be judged one part at a time. Polars' streaming
    engine writes files of at most `PART_FILE_ROWS` rows as it goes, so memory stays bounded (without that
    limit, or with the whitespace stripping in the stream, it held ~6 GB for 25M rows). Read a part back with
    `read_part_as_text`, which applies `read_table_as_text`'s text handling.
    """
    folder.mkdir(parents=True, exist_ok=True)
    part = (pl.col(by).hash() % parts).fill_null(0).alias("_part")
    target = pl.PartitionBy(folder, key="_part", include_key=False, max_rows_per_file=PART_FILE_ROWS)
    try:
        _scan_raw_text(path).with_row_index(row_index, offset=1).with_columns(part).sink_parquet(target, mkdir=True)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(_reason(exc)) from exc
    return sorted(p for p in folder.iterdir() if p.is_dir())


def read_part_as_text(part: Path) -> pl.DataFrame:
    """One part (a folder of Parquet files) written by `partition_as_text`, stripped like `read_table_as_text`."""
    return _normalized(pl.read_parquet(sorted(part.glob("*.parquet"))))


def _reason(exc: BaseException) -> str:
    """What kind of unreadable a file is, in fixed words: a reader's own message can quote the file's content."""
    text = str(exc).lower()
    if isinstance(exc, UnicodeDecodeError) or "utf-8" in text or "utf8" in text:
        return "it is not UTF-8 text"
    if "parquet" in text or "par1" in text or "thrift" in text:
        return "it is not a valid Parquet file"
    if "field" in text or "column" in text or "quote" in text:
        return "its rows do not have the same fields as its header"
    if isinstance(exc, OSError):
        return "it cannot be opened"
    return "its content cannot be parsed"


def write_csv_atomic(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_csv(tmp)
    os.replace(tmp, path)


#: A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): it starts with one of these.
_FORMULA_START = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?$"


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula, neutralised the OWASP way: prefixed with ``'``.

    For CSVs written for people (report tables, dashboard downloads). Numbers — negative ones and numbers held as
    text included — stay numbers; quarantine CSVs are round-trip files and keep values as received.
    """
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START) & ~pl.col(c).str.contains(_NUMBER))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, dtype in frame.schema.items()
        if dtype == pl.String
    )


def write_csv_for_people(frame: pl.DataFrame, path: Path) -> None:
    """`write_csv_atomic` of a table meant to be opened in a spreadsheet (see `spreadsheet_safe`)."""
    write_csv_atomic(spreadsheet_safe(frame), path)


def write_text_atomic(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(obj: Any, path: Path) -> None:
    write_text_atomic(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


def warehouse_ddl() -> list[tuple[str, str]]:
    """(table, CREATE statement) for every warehouse table, from ``pipeline/sql/warehouse/*.sql``."""
    folder = resources.files("pipeline") / "sql" / "warehouse"
    return [(name, (folder / f"{name}.sql").read_text(encoding="utf-8")) for name in WAREHOUSE_TABLES]


def sql_text(layer: str, name: str) -> str:
    """The text of ``pipeline/sql/<layer>/<name>.sql`` (one table per file, header first; ``layer`` may be '')."""
    folder = resources.files("pipeline") / "sql"
    return (folder / layer / f"{name}.sql" if layer else folder / f"{name}.sql").read_text(encoding="utf-8")


_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def bound(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement names (DuckDB refuses any it does not use); a missing one is a bug."""
    names = set(_PARAMETER.findall(sql))
    missing = names - set(params)
    if missing:
        raise KeyError(f"SQL parameters without a value: {sorted(missing)}")
    return {name: params[name] for name in names}


def create_temp_table(con: duckdb.DuckDBPyConnection, name: str, sql: str, params: dict[str, Any]) -> None:
    """``CREATE OR REPLACE TEMP TABLE name AS <sql>`` with bound parameters (``name`` is a code constant)."""
    if not name.isidentifier():
        raise ValueError(f"not a table name: {name!r}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", bound(sql, params))


def query(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """`query_pl` with named parameters, passing only those the statement uses."""
    return con.sql(sql, params=bound(sql, params or {})).pl()


def _is_lock_error(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def connect_warehouse(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (and create if needed) the warehouse file with every table present."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if _is_lock_error(exc):
            raise WarehouseBusy(str(path)) from exc
        raise
    if not read_only:
        for _, ddl in warehouse_ddl():
            con.execute(ddl)
    return con


@contextlib.contextmanager
def warehouse(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect_warehouse(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All of the block or nothing: any exception rolls back and is raised again. (DuckDB 2.0 silently rolls back
    a COMMIT of an aborted transaction, so an error must never reach the commit; callers that must know the commit
    applied read a row of it back, as the load does.)"""
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def has_tables(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> bool:
    found = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return set(names) <= found


def create_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame], replace: bool) -> None:
    """CREATE [OR REPLACE] TABLE name AS the frame, for each; names are code constants, checked anyway."""
    verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE"
    for name, frame in tables.items():
        if not name.isidentifier():
            raise ValueError(f"not a table name: {name!r}")
        con.register("_frame", frame)
        con.execute(f"{verb} {name} AS SELECT * FROM _frame")
        con.unregister("_frame")


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """The same frame with its text in fresh buffers.

    Polars' string columns are views: a small frame filtered or grouped out of a large one keeps the large
    one's text buffers alive (measured: ~450 MB per scoring part of 3.6M answers). Keep only compacted frames.
    """
    copied = pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest()))
    assert isinstance(copied, pl.DataFrame)
    return copied


def write_duckdb_atomic(path: Path, tables: dict[str, pl.DataFrame]) -> None:
    """Build a DuckDB file under a temporary name beside ``path`` and rename it into place.

    A reader sees the old file or the new one, never a half-written one, and the writer never locks the file
    readers use (STACK-NOTES §2, the atomic swap). The temporary file is removed if anything fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.duckdb")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            create_tables(con, tables, replace=False)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def published_meta(path: Path) -> dict[str, Any] | None:
    """The `publication` row of a published file — what it was built from (None when missing or unreadable)."""
    if not path.exists():
        return None
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS pub (READ_ONLY)", [str(path)])
        frame = query_pl(con, "SELECT * FROM pub.publication")
        return frame.row(0, named=True) if frame.height else None
    except duckdb.Error:
        return None
    finally:
        con.close()


def read_all_tables(path: Path) -> dict[str, pl.DataFrame]:
    """Every table of a DuckDB file (a published file), read-only, as polars frames."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        return {name: query_pl(con, f'SELECT * FROM "{name}"') for name in names}


def query_pl(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Run a query and return polars (DuckDB 2.0: relations bind parameters; connections have no .pl())."""
    return con.sql(sql, params=params or []).pl()
