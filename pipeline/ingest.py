"""Ingest: read one batch folder, establish its identity and as-of date, and reject it whole when it must be.

A batch is rejected — nothing loads — only when it cannot be judged row by row: a required file or column is
missing, a column is not in the contract, a file is unreadable, or anything looks like a direct identifier.
Messages name the file, the column and the rule, and how many values matched — never the values themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline import io
from schemas.inputs import TABLES, TABLES_BY_NAME, TableSpec

ROW = "_row"  # 1-based data row number in the source file (row 1 is the first row after the header)
#: An answers file larger than this is split by client into parts of about this size (bounded memory).
PARTITION_BYTES = 48 * 2**20
BATCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
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

#: Shapes of direct identifiers in values. Bare digit strings are valid pseudonyms and are not matched.
IDENTIFIER_VALUE_PATTERNS: dict[str, str] = {
    "e-mail addresses": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "formatted phone numbers": (
        r"\(\d{3}\)\s*\d{3}[-.\s]\d{4}|\+\d{1,3}[\s.-]?\(?\d{2,4}\)?[\s.-]\d{3}[\s.-]\d{3,4}|^\d{3}-\d{3}-\d{4}$"
    ),
    "dashed US social security numbers": r"^\d{3}-\d{2}-\d{4}$",
    "URLs": r"(?i)\b(https?://|ftp://|www\.)",
}


_ANY_IDENTIFIER = "|".join(f"(?:{pattern})" for pattern in IDENTIFIER_VALUE_PATTERNS.values())


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
    #: A large answers file is not held in memory: it is split by client into these Parquet parts (text, ROW),
    #: and ``tables["measures"]`` is empty. Judged and loaded one part at a time (`validate`, `load`).
    measure_parts: list[Path] = field(default_factory=list)

    def measure_frames(self) -> Iterator[pl.DataFrame]:
        """The answers, one client-partitioned text frame at a time (one frame when not partitioned).

        A partitioned file's values are checked for direct identifiers here, part by part, so this raises
        `BatchRejected` like `read_batch` does — before anything of the batch is written.
        """
        if not self.measure_parts:
            yield self.tables["measures"]
            return
        spec = TABLES_BY_NAME["measures"]
        for part in self.measure_parts:
            frame = conform_text(io.read_part_as_text(part), spec, ROW).sort(ROW)
            check_identifier_values(self.files["measures"], frame)
            yield frame


@dataclass(frozen=True)
class BatchIdentity:
    batch_id: str
    content_hash: str
    file_hashes: dict[str, str]
    as_of: dt.date
    source: str
    files: dict[str, Path]
    warnings: tuple[str, ...]


def _table_file(folder: Path, spec: TableSpec) -> Path | None:
    found = [
        folder / f"{spec.name}{suffix}" for suffix in io.TABLE_SUFFIXES if (folder / f"{spec.name}{suffix}").exists()
    ]
    if len(found) > 1:
        raise BatchRejected(
            f"{folder.name}: both {found[0].name} and {found[1].name} exist (rule ambiguous_file); "
            "keep exactly one of them and resend.",
            rule="ambiguous_file",
            file=found[0].name,
        )
    if not found:
        if spec.optional_file:
            return None
        raise BatchRejected(
            f"{folder.name}: required file {spec.name}.csv (or {spec.name}.parquet) is missing (rule missing_file); "
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
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def identify(folder: Path, run_date: dt.date) -> BatchIdentity:
    """Find the batch's files and compute its identity without reading any table (cheap, for idempotence)."""
    if not folder.is_dir():
        raise BatchRejected(
            f"{folder}: not a folder (rule not_a_folder); pass the folder that holds clients.csv, sessions.csv "
            "and measures.csv.",
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
    if toml_path.exists():
        try:
            meta = io.read_toml(toml_path)
        except Exception as exc:
            raise BatchRejected(
                f"batch.toml: cannot be read as TOML (rule unreadable_file: {str(exc).splitlines()[0][:120]}); "
                "fix the file or remove it.",
                rule="unreadable_file",
                file="batch.toml",
            ) from exc
        used.append(toml_path)
    file_hashes = {p.name: io.sha256_file(p) for p in used}
    digest = hashlib.sha256()
    for name in sorted(file_hashes):
        digest.update(f"{name}\0{file_hashes[name]}\n".encode())
    content_hash = digest.hexdigest()

    warnings = [f"batch.toml: key '{k}' is not used" for k in sorted(set(meta) - BATCH_TOML_KEYS)]
    known = {p.name for p in used}
    warnings += [
        f"{p.name}: not part of the contract; ignored"
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name not in known and p.name not in QUIET_FILES and not p.name.startswith(".")
    ]
    batch_id = str(meta.get("batch_id") or f"{folder.resolve().name}-{content_hash[:8]}")
    if not BATCH_ID_PATTERN.match(batch_id):
        raise BatchRejected(
            "batch.toml: batch_id must be 1-100 letters, digits, '.', '_' or '-' (rule pattern); fix it and resend.",
            rule="pattern",
            file="batch.toml",
            column="batch_id",
        )
    as_of = _as_date(meta.get("exported_at"), run_date)
    if as_of is None:
        raise BatchRejected(
            "batch.toml: exported_at is not an ISO date such as 2026-10-31 (rule type); fix it and resend.",
            rule="type",
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
    )


def identifier_like_column(name: str) -> bool:
    lowered = name.lower()
    words = set(re.split(r"[^a-z0-9]+", lowered))
    return bool(words & IDENTIFIER_NAME_WORDS) or any(f in lowered for f in IDENTIFIER_NAME_FRAGMENTS)


def check_columns(file_name: str, columns: list[str], spec: TableSpec) -> None:
    """Reject on identifier-like, unknown or missing columns, in that order (privacy first)."""
    for column in columns:
        if identifier_like_column(column):
            raise BatchRejected(
                f"{file_name}: column '{column}' looks like a direct identifier (rule identifier_column); "
                "remove it from the export — no names, contact details, birth dates or notes may enter the pipeline.",
                rule="identifier_column",
                file=file_name,
                column=column,
            )
    allowed = set(spec.columns)
    for column in columns:
        if column not in allowed:
            raise BatchRejected(
                f"{file_name}: column '{column}' is not in the data contract (rule unknown_column); "
                "remove or rename it (see docs/data-contract.md) and resend.",
                rule="unknown_column",
                file=file_name,
                column=column,
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


def check_identifier_values(file_name: str, frame: pl.DataFrame) -> None:
    """Reject when any value is shaped like a direct identifier; count matches, never show them."""
    columns = [c for c in frame.columns if c != ROW]
    if not columns or frame.height == 0:
        return
    # One pass with every pattern at once finds the columns that need a closer look (nearly always none).
    suspect = frame.select(pl.col(c).str.contains(_ANY_IDENTIFIER).any().alias(c) for c in columns)
    columns = [c for c in columns if suspect[c][0]]
    if not columns:
        return
    counts = frame.select(
        pl.col(c).str.contains(pattern).fill_null(False).sum().alias(f"{kind}\0{c}")
        for kind, pattern in IDENTIFIER_VALUE_PATTERNS.items()
        for c in columns
    ).row(0, named=True)
    for key, count in counts.items():
        if count:
            kind, column = key.split("\0")
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
        f"{path.name}: cannot be read as {path.suffix[1:].upper()} (rule unreadable_file: {exc}); "
        "export it again as UTF-8 CSV with a header row, or as Parquet.",
        rule="unreadable_file",
        file=path.name,
    )


def read_batch(folder: Path, run_date: dt.date, staging: Path | None = None) -> Batch:
    """Identify and read a batch as text frames holding exactly the contract's columns.

    With a ``staging`` folder, an answers file over `PARTITION_BYTES` is split there by client instead of read
    whole (see `Batch.measure_parts`; its identifier check happens as the parts are read); the caller removes
    the folder when done.
    """
    ident = identify(folder, run_date)
    tables: dict[str, pl.DataFrame] = {}
    file_names: dict[str, str] = {}
    measure_parts: list[Path] = []
    for spec in TABLES:
        path = ident.files.get(spec.name)
        if path is None:
            frame = pl.DataFrame(schema=dict.fromkeys(spec.columns, pl.String))
            file_names[spec.name] = f"{spec.name}.csv"
        elif spec.name == "measures" and staging is not None and path.stat().st_size > PARTITION_BYTES:
            file_names[spec.name] = path.name
            try:
                check_columns(path.name, io.text_columns(path), spec)
                parts = -(-path.stat().st_size // PARTITION_BYTES)
                measure_parts = io.partition_as_text(path, staging / spec.name, parts, "client_id", ROW)
            except io.UnreadableFile as exc:
                raise _unreadable(path, exc) from exc
            frame = pl.DataFrame(schema=dict.fromkeys(spec.columns, pl.String))
        else:
            file_names[spec.name] = path.name
            try:
                frame = io.read_table_as_text(path)
            except io.UnreadableFile as exc:
                raise _unreadable(path, exc) from exc
            check_columns(path.name, frame.columns, spec)
            check_identifier_values(path.name, frame)
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
        measure_parts=measure_parts,
    )
