"""What the importers share: the report of what was set aside, reading source CSVs, and writing a contract batch.

A batch is written under a temporary name and renamed into place, so a refused or failed import never leaves a
half-written batch that a later `refresh --all` would load.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import io
from pipeline.ingest import BatchRejected, check_identifier_values
from pipeline.summary import EXIT_OK, EXIT_QUARANTINE, EXIT_REJECTED
from schemas.inputs import PSEUDONYM_PATTERN, TABLES_BY_NAME

PSEUDONYM = re.compile(PSEUDONYM_PATTERN)
#: How many places (row numbers, resource ids) the report shows per reason.
EXAMPLES = 5


class ImportRefused(Exception):
    """Nothing is written: ``message`` is one sentence naming file or resource, field and rule, and what to do."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


@dataclass
class ImportReport:
    """What an import wrote, and what it could not translate (counted per reason, with a few places to look)."""

    importer: str
    out: Path | None = None
    tables: dict[str, int] = field(default_factory=dict)
    set_aside: Counter[str] = field(default_factory=Counter)
    places: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: ImportRefused | None = None

    def set_aside_rows(self, reason: str, count: int, places: list[str] | None = None) -> None:
        """Count ``count`` source rows or resources of one reason (nothing happens for zero)."""
        if count <= 0:
            return
        self.set_aside[reason] += count
        shown = self.places.setdefault(reason, [])
        shown.extend(p for p in (places or [])[: EXAMPLES - len(shown)] if p not in shown)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return EXIT_REJECTED
        return EXIT_QUARANTINE if self.set_aside else EXIT_OK

    @property
    def status(self) -> str:
        return {EXIT_OK: "imported", EXIT_QUARANTINE: "imported_with_set_aside"}.get(self.exit_code, "refused")

    def to_dict(self) -> dict[str, Any]:
        return {
            "importer": self.importer,
            "status": self.status,
            "exit_code": self.exit_code,
            "out": str(self.out) if self.out else None,
            "tables": self.tables,
            "set_aside": dict(sorted(self.set_aside.items())),
            "set_aside_places": {k: self.places.get(k, []) for k in sorted(self.set_aside)},
            "notes": self.notes,
            "errors": [] if self.error is None else [{"rule": self.error.rule, "message": self.error.message}],
        }


def read_csv_text(path: Path, what: str) -> tuple[pl.DataFrame, str]:
    """A source CSV with every column as text (stripped, empty as null) and its sniffed separator."""
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file ({what}); check the path.", rule="missing_file")
    separator = io.csv_separator(path)
    try:
        frame = pl.read_csv(path, separator=separator, infer_schema=False, encoding="utf8", raise_if_empty=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ImportRefused(
            f"{path.name}: cannot be read as CSV (rule unreadable_file: {reason}); export the {what} again as UTF-8 "
            "CSV with a header row.",
            rule="unreadable_file",
        ) from exc
    return frame.with_columns(pl.col(pl.String).str.strip_chars().replace("", None)), separator


def decimal_commas_to_points(column: str) -> pl.Expr:
    """``2,5`` → ``2.5`` (for numbers in a ';'-separated source, the same rule as `pipeline.io`)."""
    return pl.col(column).str.replace(r"^([+-]?\d*),(\d+)$", "${1}.${2}")


def count_bad_pseudonyms(values: pl.Series) -> int:
    """Non-empty values that are not valid pseudonyms (``^[A-Za-z0-9_-]{4,64}$``)."""
    return int(values.drop_nulls().str.contains(PSEUDONYM_PATTERN).not_().sum())


def conform(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Exactly the contract table's columns, in its order, as text (absent optional columns empty)."""
    spec = TABLES_BY_NAME[name]
    unknown = [c for c in frame.columns if c not in spec.columns]
    if unknown:
        raise ValueError(f"{name}: not contract columns: {unknown}")
    frame = frame.with_columns(pl.col(c).cast(pl.String) for c in frame.columns)
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in spec.columns if c not in frame.columns).select(
        spec.columns
    )


def write_batch(
    out: Path,
    tables: dict[str, pl.DataFrame],
    *,
    source: str,
    exported_at: dt.date | None,
    batch_id: str | None = None,
) -> dict[str, int]:
    """Write the contract batch folder (``<table>.csv`` and ``batch.toml``); returns rows per table.

    Values shaped like direct identifiers refuse the import here, as `refresh` would refuse the batch, before
    anything is written.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ImportRefused(
            f"{out}: already exists and is not an empty folder (rule out_exists); give a new folder for each import.",
            rule="out_exists",
        )
    conformed = {name: conform(name, frame) for name, frame in tables.items()}
    for name, frame in conformed.items():
        try:
            check_identifier_values(f"{name}.csv", frame)
        except BatchRejected as exc:
            message = exc.message.replace("from the export and resend", "from the source and import again")
            raise ImportRefused(message, rule=exc.rule) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for name, frame in conformed.items():
            frame.write_csv(tmp / f"{name}.csv")
        lines = [f"batch_id = {json.dumps(batch_id)}"] if batch_id else []
        lines += [f"exported_at = {exported_at.isoformat()}"] if exported_at else []
        lines.append(f"source = {json.dumps(source)}")
        (tmp / "batch.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {name: frame.height for name, frame in conformed.items()}
