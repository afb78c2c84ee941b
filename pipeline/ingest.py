"""Ingest: read one batch folder, establish its identity and as-of date, and reject it whole when it must be.

A batch is rejected — nothing loads — only when it cannot be judged row by row: a required file or column is
missing, a column is not in the contract, a file is unreadable, or anything looks like a direct identifier.
Messages name the file, the column and the rule, and how many values matched — never the values themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import stat
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline import identifiers, io
from pipeline.settings import DEFAULTS, Settings
from pipeline.staging import StagedAnswers, stage_answers
from schemas.inputs import TABLES, TableSpec

ROW = "_row"  # 1-based data row number in the source file (row 1 is the first row after the header)
#: A batch id names a folder under the home: it starts with a letter or digit, so it is never '.', '..' or an option.
BATCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
BATCH_TOML_KEYS = {"batch_id", "exported_at", "source"}
#: Files that may sit in a batch folder without a note (the generator's answer key is never read).
QUIET_FILES = {"ground_truth.json", "README.md", "README.txt"}

#: Words that make a column name look like a direct identifier (matched as whole words of the name).
IDENTIFIER_NAME_WORDS = {
    "name",
    "names",
    "firstname",
    "lastname",
    "fullname",
    "surname",
    "email",
    "mail",
    "phone",
    "telephone",
    "mobile",
    "address",
    "street",
    "postcode",
    "zipcode",
    "zip",
    "ssn",
    "dob",
    "birth",
    "birthdate",
    "birthday",
    "notes",
    "note",
}
#: Fragments that flag a column name even inside a longer word (e.g. `dateofbirth`, `homephone`).
IDENTIFIER_NAME_FRAGMENTS = ("email", "phone", "birth", "address")


class BatchRejected(Exception):
    """The whole batch is refused; ``rule`` is a stable name, ``message`` one sentence plus what to do next."""

    def __init__(self, message: str, *, rule: str, file: str | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.file = file
        self.column = column


@dataclass
class Batch:
    path: Path
    batch_id: str
    content_hash: str
    file_hashes: dict[str, str]
    as_of: dt.date
    source: str
    files: dict[str, str]  # table -> file name, for messages
    tables: dict[str, pl.DataFrame]  # table -> text frame with contract columns and ROW
    warnings: list[str] = field(default_factory=list)
    #: Whether the as-of date is the export's own ``exported_at`` (else it is the run date).
    dated_by_export: bool = True
    #: Regions whose national phone formats count as identifiers (settings `identifiers.phone_regions`).
    phone_regions: tuple[str, ...] = identifiers.DEFAULT_PHONE_REGIONS
    #: A large answers file is not held in memory: it is staged in DuckDB (`pipeline.staging`), judged and loaded
    #: there, and ``tables["measures"]`` is empty.
    staged: StagedAnswers | None = None


@dataclass(frozen=True)
class BatchIdentity:
    batch_id: str
    content_hash: str
    file_hashes: dict[str, str]
    as_of: dt.date
    source: str
    files: dict[str, Path]
    warnings: tuple[str, ...]
    dated_by_export: bool = True


def folder_label(folder: Path) -> str:
    """A batch folder as named in messages: its name, unless the name itself looks like an identifier."""
    return "the batch folder" if identifiers.kind_of(folder.name) else folder.name


def _regular_file(path: Path, label: str) -> bool:
    """Whether ``path`` is there, as a regular file (following symlinks); anything else there rejects the batch.

    A folder, a dangling link, a device or a pipe where a file belongs cannot be read as a table — and a pipe or
    ``/dev/zero`` would never end — so it is refused by name before anything reads it.
    """
    if not path.exists() and not path.is_symlink():
        return False
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = 0
    if not stat.S_ISREG(mode):
        raise BatchRejected(
            f"{label}: {path.name} is not a regular file (rule unreadable_file); replace it with the exported "
            "file and resend.",
            rule="unreadable_file",
            file=path.name,
        )
    return True


def _table_file(folder: Path, spec: TableSpec) -> Path | None:
    label = folder_label(folder)
    found = [
        folder / f"{spec.name}{suffix}"
        for suffix in io.TABLE_SUFFIXES
        if _regular_file(folder / f"{spec.name}{suffix}", label)
    ]
    if len(found) > 1:
        raise BatchRejected(
            f"{label}: both {found[0].name} and {found[1].name} exist (rule ambiguous_file); "
            "keep exactly one of them and resend.",
            rule="ambiguous_file",
            file=found[0].name,
        )
    if not found:
        if spec.optional_file:
            return None
        raise BatchRejected(
            f"{label}: required file {spec.name}.csv (or {spec.name}.parquet) is missing (rule missing_file); "
            "add it to the export and resend.",
            rule="missing_file",
            file=f"{spec.name}.csv",
        )
    return found[0]


def _as_date(value: object, fallback: dt.date) -> dt.date | None:
    if value is None:
        return fallback
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _toml_strings(value: object, key: str) -> Iterator[tuple[str, str]]:
    """Every text in a batch.toml value (nested tables and lists too), with the key it sits under."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield key, str(k)
            yield from _toml_strings(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _toml_strings(v, key)


def _check_toml_identifiers(meta: dict[str, object], regions: tuple[str, ...]) -> None:
    for key, text in _toml_strings(meta, ""):
        kind = identifiers.kind_of(text, regions)
        if kind is not None:
            raise BatchRejected(
                f"batch.toml: a value of '{key if identifiers.kind_of(key, regions) is None else 'a key'}' is shaped "
                f"like {kind} (rule identifier_values); remove direct identifiers from batch.toml and resend.",
                rule="identifier_values",
                file="batch.toml",
                column=key if identifiers.kind_of(key, regions) is None else None,
            )


def default_batch_id(folder: Path, content_hash: str) -> str:
    """``<folder name>-<8 hex digits of the content hash>``, the name made safe for a folder under the home."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", folder.resolve().name).lstrip("._-")[:80]
    if not name or identifiers.kind_of(folder.resolve().name) is not None:
        name = "batch"
    return f"{name}-{content_hash[:8]}"


def identify(folder: Path, run_date: dt.date, settings: Settings = DEFAULTS) -> BatchIdentity:
    """Find the batch's files and compute its identity without reading any table (cheap, for idempotence).

    The as-of date is ``exported_at`` from batch.toml, else the run date; an export dated after the run date is
    refused (a typo in the year would otherwise move every date-based indicator into the future for good).
    """
    regions = settings.identifiers.phone_regions
    if not folder.is_dir():
        raise BatchRejected(
            f"{folder if identifiers.kind_of(str(folder)) is None else 'the batch path'}: not a folder "
            "(rule not_a_folder); pass the folder that holds clients.csv, sessions.csv and measures.csv.",
            rule="not_a_folder",
        )
    files: dict[str, Path] = {}
    for spec in TABLES:
        path = _table_file(folder, spec)
        if path is not None:
            files[spec.name] = path
    used = sorted(files.values())
    toml_path = folder / "batch.toml"
    meta: dict[str, object] = {}
    if _regular_file(toml_path, folder_label(folder)):
        try:
            meta = io.read_toml(toml_path)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise BatchRejected(
                'batch.toml: cannot be read as TOML (rule unreadable_file); fix the file (key = "value" lines, '
                "UTF-8) or remove it.",
                rule="unreadable_file",
                file="batch.toml",
            ) from exc
        _check_toml_identifiers(meta, regions)
        used.append(toml_path)
    try:
        file_hashes = {p.name: io.sha256_file(p) for p in used}
    except OSError as exc:
        raise BatchRejected(
            f"{folder_label(folder)}: a file of the batch cannot be read (rule unreadable_file); check its "
            "permissions and resend.",
            rule="unreadable_file",
        ) from exc
    digest = hashlib.sha256()
    for name in sorted(file_hashes):
        digest.update(f"{name}\0{file_hashes[name]}\n".encode())
    content_hash = digest.hexdigest()

    warnings = [
        f"batch.toml: key '{k}' is not used" if identifiers.shown_name(k).startswith("column '") else
        "batch.toml: a key is not used"
        for k in sorted(set(meta) - BATCH_TOML_KEYS)
    ]  # fmt: skip
    known = {p.name for p in used}
    warnings += [
        f"{p.name}: not part of the contract; ignored"
        if identifiers.kind_of(p.name, regions) is None
        else "a file that is not part of the contract was ignored"
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name not in known and p.name not in QUIET_FILES and not p.name.startswith(".")
    ]
    given_id = meta.get("batch_id")
    if given_id is not None and (not isinstance(given_id, str) or not BATCH_ID_PATTERN.match(given_id)):
        raise BatchRejected(
            "batch.toml: batch_id must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(rule pattern); fix it and resend.",
            rule="pattern",
            file="batch.toml",
            column="batch_id",
        )
    batch_id = given_id or default_batch_id(folder, content_hash)
    as_of = _as_date(meta.get("exported_at"), run_date)
    if as_of is None:
        raise BatchRejected(
            "batch.toml: exported_at is not an ISO date such as 2026-10-31 (rule type); fix it and resend.",
            rule="type",
            file="batch.toml",
            column="exported_at",
        )
    if as_of > run_date:
        raise BatchRejected(
            f"batch.toml: exported_at {as_of} is after the run date {run_date} (rule exported_at_after_run_date); "
            "correct the export date (or pass --as-of when running for a later date) and resend.",
            rule="exported_at_after_run_date",
            file="batch.toml",
            column="exported_at",
        )
    return BatchIdentity(
        batch_id=batch_id,
        content_hash=content_hash,
        file_hashes=file_hashes,
        as_of=as_of,
        source=str(meta.get("source", "")),
        files=files,
        warnings=tuple(warnings),
        dated_by_export=meta.get("exported_at") is not None,
    )


def identifier_like_column(name: str) -> bool:
    lowered = name.lower()
    words = set(re.split(r"[^a-z0-9]+", lowered))
    return bool(words & IDENTIFIER_NAME_WORDS) or any(f in lowered for f in IDENTIFIER_NAME_FRAGMENTS)


def check_columns(
    file_name: str, columns: list[str], spec: TableSpec, regions: tuple[str, ...] = identifiers.DEFAULT_PHONE_REGIONS
) -> None:
    """Reject on identifier-like, unknown or missing columns, in that order (privacy first).

    A name is repeated in a message only when it reads like a column name: a headerless export puts a row of
    data where the names belong, and that row may hold an identifier.
    """
    for column in columns:
        kind = identifiers.kind_of(column, regions)
        if kind is not None or identifier_like_column(column):
            shown = identifiers.shown_name(column, regions)
            raise BatchRejected(
                f"{file_name}: {shown} looks like a direct identifier (rule identifier_column); "
                "remove it from the export — no names, contact details, birth dates or notes may enter the pipeline.",
                rule="identifier_column",
                file=file_name,
                column=column if kind is None else None,
            )
    allowed = set(spec.columns)
    known = [c for c in columns if c in allowed]
    if columns and len(known) * 2 < len(columns) and len(known) < len(spec.required_columns):
        raise BatchRejected(
            f"{file_name}: the first row does not look like a header — {len(known)} of its {len(columns)} names are "
            "contract columns (rule missing_header); export the file with its header row and resend.",
            rule="missing_header",
            file=file_name,
        )
    for column in columns:
        if column not in allowed:
            shown = identifiers.shown_name(column, regions)
            raise BatchRejected(
                f"{file_name}: {shown} is not in the data contract (rule unknown_column); "
                "remove or rename it (see docs/data-contract.md) and resend.",
                rule="unknown_column",
                file=file_name,
                column=column if shown.startswith("column '") else None,
            )
    for column in spec.required_columns:
        if column not in columns:
            raise BatchRejected(
                f"{file_name}: required column '{column}' is missing (rule missing_column); "
                "add it (see docs/data-contract.md) and resend.",
                rule="missing_column",
                file=file_name,
                column=column,
            )


def check_identifier_values(
    file_name: str, frame: pl.DataFrame, regions: tuple[str, ...] = identifiers.DEFAULT_PHONE_REGIONS
) -> None:
    """Reject when any value is shaped like a direct identifier; count matches, never show them.

    The patterns run over each column's distinct values first (most columns hold a handful: enums, ratings,
    dates), and over every value only when one is found, for the count."""
    columns = [c for c in frame.columns if c != ROW]
    if not any(identifiers.count_by_column(frame.select(pl.col(c).unique()), [c], regions) for c in columns):
        return
    found = identifiers.count_by_column(frame, columns, regions)
    if found:
        column, kind, count = found[0]
        raise BatchRejected(
            f"{file_name}: column '{column}' has {count} value(s) shaped like {kind} "
            "(rule identifier_values); remove direct identifiers from the export and resend.",
            rule="identifier_values",
            file=file_name,
            column=column,
        )


def conform_text(frame: pl.DataFrame, spec: TableSpec, *keep: str) -> pl.DataFrame:
    """Exactly the contract's columns in its order (absent optional ones as nulls), plus ``keep``."""
    missing = [c for c in spec.columns if c not in frame.columns]
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing).select(*keep, *spec.columns)


def _unreadable(path: Path, exc: io.UnreadableFile) -> BatchRejected:
    return BatchRejected(
        f"{path.name}: cannot be read as {path.suffix[1:].upper()} — {exc} (rule unreadable_file); "
        "export it again as UTF-8 CSV with a header row, or as Parquet.",
        rule="unreadable_file",
        file=path.name,
    )


def read_batch(folder: Path, run_date: dt.date, staging: Path | None = None, settings: Settings = DEFAULTS) -> Batch:
    """Identify and read a batch as text frames holding exactly the contract's columns.

    With a ``staging`` folder, an answers file over the setting `engine.partition_mb` is staged in DuckDB there
    instead of read whole (see `Batch.staged`; its identifier check happens as it is judged); the caller removes
    the folder when done.
    """
    ident = identify(folder, run_date, settings)
    regions = settings.identifiers.phone_regions
    part_bytes = max(1, int(settings.engine.partition_mb * 2**20))
    tables: dict[str, pl.DataFrame] = {}
    file_names: dict[str, str] = {}
    staged: StagedAnswers | None = None
    for spec in TABLES:
        path = ident.files.get(spec.name)
        if path is None:
            frame = pl.DataFrame(schema=dict.fromkeys(spec.columns, pl.String))
            file_names[spec.name] = f"{spec.name}.csv"
        elif spec.name == "measures" and staging is not None and path.stat().st_size > part_bytes:
            file_names[spec.name] = path.name
            try:
                header = io.text_columns(path)
            except io.UnreadableFile as exc:
                raise _unreadable(path, exc) from exc
            check_columns(path.name, header, spec, regions)
            staged = stage_answers(path, header, spec.columns, staging / spec.name, settings)
            frame = pl.DataFrame(schema=dict.fromkeys(spec.columns, pl.String))
            if staged is None:  # a file DuckDB might read differently from polars: read in memory, as always
                frame = _read_in_memory(path, spec, regions)
        else:
            file_names[spec.name] = path.name
            frame = _read_in_memory(path, spec, regions)
        tables[spec.name] = conform_text(frame, spec).with_row_index(ROW, offset=1)
    return Batch(
        path=folder,
        batch_id=ident.batch_id,
        content_hash=ident.content_hash,
        file_hashes=ident.file_hashes,
        as_of=ident.as_of,
        source=ident.source,
        files=file_names,
        tables=tables,
        warnings=list(ident.warnings),
        dated_by_export=ident.dated_by_export,
        phone_regions=regions,
        staged=staged,
    )


def _read_in_memory(path: Path, spec: TableSpec, regions: tuple[str, ...]) -> pl.DataFrame:
    try:
        frame = io.read_table_as_text(path)
    except io.UnreadableFile as exc:
        raise _unreadable(path, exc) from exc
    check_columns(path.name, frame.columns, spec, regions)
    check_identifier_values(path.name, frame, regions)
    return frame
