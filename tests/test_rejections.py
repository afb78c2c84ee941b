"""Whole-batch rejection: exit 2, one clear message naming file, column and rule, and no data table changed."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from pipeline import io
from pipeline.config import Paths
from pipeline.stages import refresh_batches
from tests.builders import AS_OF, mutate, valid_rows, write_batch

DATA_TABLES = ("clients", "sessions", "measures", "goals", "quarantine")


def table_counts(paths: Paths) -> dict[str, int]:
    with io.warehouse(paths.warehouse, read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in DATA_TABLES}


def _drop_file(folder: Path) -> None:
    (folder / "measures.csv").unlink()


def _drop_column(folder: Path) -> None:
    path = folder / "clients.csv"
    pl.read_csv(path, infer_schema=False).drop("service").write_csv(path)


def _add_column(name: str, table: str = "sessions", value: str = "x") -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / f"{table}.csv"
        pl.read_csv(path, infer_schema=False).with_columns(pl.lit(value).alias(name)).write_csv(path)

    return change


def _set_value(table: str, column: str, value: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / f"{table}.csv"
        frame = pl.read_csv(path, infer_schema=False)
        frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        ).write_csv(path)

    return change


def _garbage(name: str, data: bytes) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return change


def _both_formats(folder: Path) -> None:
    pl.read_csv(folder / "goals.csv", infer_schema=False).write_parquet(folder / "goals.parquet")


REJECTIONS: list[tuple[str, Callable[[Path], None], str, str, str | None, str | None]] = [
    # id, change, rule, file, column, forbidden text in the message
    ("missing_file", _drop_file, "missing_file", "measures.csv", None, None),
    ("missing_column", _drop_column, "missing_column", "clients.csv", "service", None),
    ("unknown_column", _add_column("favourite_colour"), "unknown_column", "sessions.csv", "favourite_colour", None),
    (
        "identifier_column_name",
        _add_column("client_name", "clients"),
        "identifier_column",
        "clients.csv",
        "client_name",
        None,
    ),
    ("identifier_column_email", _add_column("Email", "clients"), "identifier_column", "clients.csv", "Email", None),
    (
        "identifier_column_dob",
        _add_column("dateofbirth", "clients"),
        "identifier_column",
        "clients.csv",
        "dateofbirth",
        None,
    ),
    (
        "identifier_column_notes",
        _add_column("session_notes"),
        "identifier_column",
        "sessions.csv",
        "session_notes",
        None,
    ),
    (
        "email_value",
        _set_value("clients", "practice_id", "jane.doe@example.org"),
        "identifier_values",
        "clients.csv",
        "practice_id",
        "jane.doe",
    ),
    (
        "phone_value",
        _set_value("sessions", "location_id", "(555) 123-4567"),
        "identifier_values",
        "sessions.csv",
        "location_id",
        "555",
    ),
    (
        "intl_phone_value",
        _set_value("measures", "item", "+1 555 123 4567"),
        "identifier_values",
        "measures.csv",
        "item",
        "555",
    ),
    (
        "ssn_value",
        _set_value("clients", "client_id", "123-45-6789"),
        "identifier_values",
        "clients.csv",
        "client_id",
        "6789",
    ),
    (
        "url_value",
        _set_value("clients", "presenting_themes", "https://example.org/me"),
        "identifier_values",
        "clients.csv",
        "presenting_themes",
        "example",
    ),
    (
        "unreadable_csv",
        _garbage("sessions.csv", b"session_id,client_id\n\xff\xfe\x00bad"),
        "unreadable_file",
        "sessions.csv",
        None,
        None,
    ),
    (
        "unreadable_parquet",
        _garbage("goals.parquet", b"PAR1 not really"),
        "unreadable_file",
        "goals.parquet",
        None,
        None,
    ),
    ("ambiguous_file", _both_formats, "ambiguous_file", "goals.csv", None, None),
    ("bad_batch_toml", _garbage("batch.toml", b"exported_at = [unclosed"), "unreadable_file", "batch.toml", None, None),
]


@pytest.mark.parametrize(
    ("change", "rule", "file", "column", "forbidden"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_rejection(
    tmp_path: Path,
    home: Paths,
    change: Callable[[Path], None],
    rule: str,
    file: str,
    column: str | None,
    forbidden: str | None,
) -> None:
    refresh_batches(home, [write_batch(tmp_path / "first", valid_rows())], AS_OF)
    before = table_counts(home)
    folder = write_batch(tmp_path / "second", mutate(valid_rows(), "clients", 0, gender="man"))
    if file.endswith(".parquet"):
        (folder / "goals.csv").unlink()
    change(folder)
    summary = refresh_batches(home, [folder], AS_OF)
    assert summary.exit_code == 2 and summary.status == "rejected"
    [error] = summary.batches[0].errors
    assert error["rule"] == rule
    assert file in error["message"] and f"rule {rule}" in error["message"]
    if column:
        assert f"'{column}'" in error["message"]
    if forbidden:
        assert forbidden not in error["message"]
    assert table_counts(home) == before
    with io.warehouse(home.warehouse, read_only=True) as con:
        statuses = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()]
        messages = [r[0] or "" for r in con.execute("SELECT message FROM runs").fetchall()]
    assert statuses == ["loaded", "rejected"]
    if forbidden:
        assert not any(forbidden in m for m in messages)


def test_bare_digit_pseudonyms_are_not_identifiers(tmp_path: Path, home: Paths) -> None:
    rows = valid_rows()
    for table in ("clients", "sessions", "measures"):
        for row in rows[table]:
            if row.get("client_id") == "C0001":
                row["client_id"] = "5551234567"
    summary = refresh_batches(home, [write_batch(tmp_path / "b", rows)], AS_OF)
    assert summary.exit_code == 0, summary.to_dict()


def test_missing_optional_goals_file_is_fine(tmp_path: Path, home: Paths) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    (folder / "goals.csv").unlink()
    summary = refresh_batches(home, [folder], AS_OF)
    assert summary.exit_code == 0
    assert summary.batches[0].tables["goals"] == {"received": 0, "loaded": 0, "quarantined": 0, "duplicates": 0}


def test_not_a_folder(tmp_path: Path, home: Paths) -> None:
    summary = refresh_batches(home, [tmp_path / "nope"], AS_OF)
    assert summary.exit_code == 2 and summary.batches[0].errors[0]["rule"] == "not_a_folder"


def test_several_batches_exit_with_the_highest_code(tmp_path: Path, home: Paths) -> None:
    good = write_batch(tmp_path / "a", valid_rows())
    bad_rows = write_batch(tmp_path / "b", mutate(valid_rows(), "sessions", 1, duration_min="500"))
    shutil.copytree(good, tmp_path / "c")
    (tmp_path / "c" / "clients.csv").unlink()
    summary = refresh_batches(home, [good, bad_rows, tmp_path / "c"], dt.date(2026, 10, 31))
    assert [b.status for b in summary.batches] == ["loaded", "loaded_with_quarantine", "rejected"]
    assert summary.exit_code == 2 and summary.status == "rejected"
