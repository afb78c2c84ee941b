"""What a hostile operator tried (issue 12): no input deletes data, dates cannot poison the warehouse, non-files and
identifiers in every common shape are refused by name, a busy warehouse has its own exit code, a bad batch can be
taken back, and CSVs for people are safe to open in a spreadsheet."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline import identifiers, io
from pipeline.config import Paths
from pipeline.stages import RemovalRefused, refresh_batches, remove_batch
from tests.builders import AS_OF, mutate, valid_rows, write_batch

DATA_TABLES = ("clients", "sessions", "measures", "goals", "quarantine")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str | Path) -> Result:
    """The real command line, in this process (the subprocess tests in test_cli.py cover the entry point)."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return Result(result.exit_code, result.stdout, result.stderr)


def counts(paths: Paths) -> dict[str, int]:
    with io.warehouse(paths.warehouse, read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in DATA_TABLES}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (the warehouse by its row counts: its bytes move on every open)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.parent.name != "warehouse" and "logs" not in p.parts
    }


@pytest.fixture(scope="module")
def loaded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a batch loaded, quarantine files written and both files published."""
    root = tmp_path_factory.mktemp("reliability")
    rows = mutate(valid_rows(), "goals", 0, weight="9")  # one quarantined goal: a quarantine folder exists
    summary = refresh_batches(Paths(root / "home"), [write_batch(root / "first", rows)], AS_OF)
    assert summary.batches[0].status == "loaded_with_quarantine" and summary.published
    return root / "home"


# --- containment ------------------------------------------------------------------------------------------------

PATH_SHAPED = [".", "..", "../x", "../../etc", "/tmp/elsewhere", "a/b", "a\\b", "~", "-1-1", ".hidden", "_x", " x",
               "x" * 101, "", "a\x00b", "quarantine/..", "..\\..", "%2e%2e"]  # fmt: skip


LEAVING = [n for n in PATH_SHAPED if n not in ("~", "-1-1", "_x", " x", "%2e%2e", "x" * 101, ".hidden")]


@pytest.mark.parametrize("name", LEAVING)
def test_contained_refuses_every_name_that_leaves_its_parent(name: str, tmp_path: Path) -> None:
    with pytest.raises(io.UnsafePath):
        io.contained(tmp_path, name)


def test_contained_refuses_a_symlink_out_of_its_parent(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "escape").symlink_to(tmp_path)
    with pytest.raises(io.UnsafePath):
        io.contained(tmp_path / "home", "escape")
    with pytest.raises(io.UnsafePath):
        io.remove_tree(tmp_path / "home", "escape")
    assert (tmp_path / "home").exists()


@pytest.mark.parametrize("batch_id", PATH_SHAPED)
def test_a_path_shaped_batch_id_never_writes_or_removes_anything(
    batch_id: str, loaded_home: Path, tmp_path: Path
) -> None:
    """The reported data loss: batch_id '..' removed the whole home. Every path-shaped id is refused before any
    write, and the home — warehouse, published files, quarantine files — is exactly as it was."""
    home = tmp_path / "home"
    shutil.copytree(loaded_home, home)
    before_files, before_counts = tree(tmp_path), counts(Paths(home))
    folder = write_batch(tmp_path / "batch", mutate(valid_rows(), "sessions", 2, status="maybe"))
    value = json.dumps(batch_id)  # a TOML basic string is a JSON string
    (folder / "batch.toml").write_text(f"batch_id = {value}\nexported_at = {AS_OF}\n", encoding="utf-8")
    before_files = tree(tmp_path)
    result = cli("refresh", folder, "--home", home, "--json", "--as-of", AS_OF)
    assert result.returncode == 2, result.stdout + result.stderr
    assert json.loads(result.stdout)["batches"][0]["errors"][0]["rule"] in ("pattern", "identifier_values")
    assert tree(tmp_path) == before_files
    assert counts(Paths(home)) == before_counts
    with pytest.raises(RemovalRefused, match="is not loaded"):
        remove_batch(Paths(home), batch_id, AS_OF)
    assert tree(tmp_path) == before_files and counts(Paths(home)) == before_counts


def test_a_folder_name_is_made_safe_for_the_default_batch_id(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "-my export (2)", valid_rows(), as_of=None)
    (folder / "batch.toml").write_text(f"exported_at = {AS_OF}\n", encoding="utf-8")
    summary = refresh_batches(Paths(tmp_path / "home"), [folder], AS_OF)
    assert summary.batches[0].status == "loaded"
    assert summary.batches[0].batch_id.startswith("my_export_2_-")


# --- dates --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exported_at", ["2062-10-31", "9999-12-31"])
def test_an_export_dated_after_the_run_date_is_rejected(exported_at: str, loaded_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(loaded_home, home)
    before = counts(Paths(home))
    folder = write_batch(tmp_path / "b", valid_rows(), as_of=None)
    (folder / "batch.toml").write_text(f"exported_at = {exported_at}\n", encoding="utf-8")
    result = cli("refresh", folder, "--home", home, "--json", "--report", "--as-of", "2026-12-01")
    assert result.returncode == 2, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["batches"][0]["errors"][0]["rule"] == "exported_at_after_run_date"
    assert summary["as_of"] == "2026-10-31" and counts(Paths(home)) == before


def test_an_export_dated_before_most_of_its_rows_is_rejected_on_a_new_home(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", valid_rows(), as_of=dt.date(2016, 10, 31))
    result = cli("refresh", folder, "--home", tmp_path / "home", "--json", "--as-of", "2026-12-01")
    assert result.returncode == 2, result.stdout + result.stderr
    [error] = json.loads(result.stdout)["batches"][0]["errors"]
    assert error["rule"] == "exported_at_before_data" and "2016-10-31" in error["message"]
    with io.warehouse(Paths(tmp_path / "home").warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM clients").fetchall() == [(0,)]


def test_a_few_rows_after_a_plausible_export_date_are_still_quarantined_one_by_one(tmp_path: Path) -> None:
    rows = mutate(valid_rows(), "goals", 1, rated_on="2026-11-15")
    summary = refresh_batches(Paths(tmp_path / "home"), [write_batch(tmp_path / "b", rows)], AS_OF)
    assert summary.batches[0].quarantine_by_rule == {"future_date": 1}


def test_the_run_date_is_as_of_and_the_as_of_date_never_passes_it(tmp_path: Path) -> None:
    """`--as-of` is the run date: a batch without exported_at takes it; the warehouse date never passes it."""
    paths = Paths(tmp_path / "home")
    folder = write_batch(tmp_path / "b", valid_rows(), as_of=None)
    summary = refresh_batches(paths, [folder], dt.date(2026, 9, 30))
    assert summary.as_of == dt.date(2026, 9, 30)
    later = refresh_batches(paths, [], dt.date(2026, 8, 31))  # a rerun dated earlier computes at its own date
    assert later.as_of == dt.date(2026, 8, 31)


def test_refresh_report_problems_are_usage_errors_not_bugs(tmp_path: Path) -> None:
    """The sample batch has no outcome in the default period (2026-Q3): the report is refused in one sentence."""
    folder = write_batch(tmp_path / "b", valid_rows())
    result = cli("refresh", folder, "--report", "--home", tmp_path / "home", "--as-of", AS_OF)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "The report was not written: no published outcomes for period '2026-Q3'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "home" / "logs").exists()


def test_remove_batch_repairs_a_home_poisoned_before_the_fix(tmp_path: Path) -> None:
    """A batch dated 2062 that loaded before dates were checked (here: with a run date in 2062) is taken back:
    rows, quarantine, ledger and the as-of date are repaired and everything derived is rebuilt."""
    paths = Paths(tmp_path / "home")
    good = write_batch(tmp_path / "good", valid_rows())
    refresh_batches(paths, [good], AS_OF)
    rows = valid_rows()
    for row in rows["clients"]:
        row["client_id"] = row["client_id"].replace("C", "X")
    for table in ("sessions", "measures", "goals"):
        for row in rows[table]:
            row["client_id"] = row["client_id"].replace("C", "X")
            if row.get("session_id"):
                row["session_id"] = row["session_id"].replace("S", "T")
    rows = mutate(rows, "goals", 0, weight="9")
    poisoned = write_batch(tmp_path / "poisoned", rows, as_of=dt.date(2062, 10, 31))
    (poisoned / "batch.toml").write_text('batch_id = "typo-2062"\nexported_at = 2062-10-31\n', encoding="utf-8")
    refresh_batches(paths, [poisoned], dt.date(2062, 10, 31))
    assert (paths.quarantine / "typo-2062").exists()
    result = cli("remove-batch", "typo-2062", "--home", paths.home, "--json", "--as-of", "2026-12-01")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["as_of"] == "2026-10-31" and summary["batches"][0]["status"] == "removed"
    assert summary["batches"][0]["tables"]["clients"]["removed"] == 2
    assert not (paths.quarantine / "typo-2062").exists()
    with io.warehouse(paths.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM clients WHERE client_id LIKE 'X%'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM quarantine").fetchall() == [(0,)]
        assert con.execute("SELECT status FROM runs WHERE batch_id = 'typo-2062' ORDER BY finished_at").fetchall() == [
            ("loaded_with_quarantine",),
            ("removed",),
        ]
    meta = io.published_meta(paths.published / "aggregate.duckdb")
    assert meta is not None and meta["as_of"] == AS_OF
    # taken back, the same export loads again if resent (it is not `already_loaded`)
    again = refresh_batches(paths, [poisoned], dt.date(2062, 10, 31))
    assert again.batches[0].status == "loaded_with_quarantine"


def test_remove_batch_refuses_to_orphan_later_rows_unless_cascading(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "home")
    refresh_batches(paths, [write_batch(tmp_path / "a", valid_rows())], AS_OF)
    later = valid_rows()
    later["clients"], later["goals"] = [], []
    later["sessions"] = [later["sessions"][2] | {"session_id": "S0099"}]
    later["measures"] = []
    refresh_batches(paths, [write_batch(tmp_path / "later", later)], AS_OF)
    first_id = refresh_batches(paths, [], AS_OF) and _batch_ids(paths)[0]
    with pytest.raises(RemovalRefused, match=r"1 rows of later batches .*--cascade"):
        remove_batch(paths, first_id, AS_OF)
    assert counts(paths)["sessions"] == 5
    summary = remove_batch(paths, first_id, AS_OF, cascade=True)
    assert summary.batches[0].tables["sessions"] == {"removed_dependent": 1, "removed": 4}
    assert counts(paths)["sessions"] == 0 and summary.as_of is not None


def _batch_ids(paths: Paths) -> list[str]:
    with io.warehouse(paths.warehouse, read_only=True) as con:
        return [r[0] for r in con.execute("SELECT batch_id FROM runs ORDER BY finished_at").fetchall()]


def test_removing_every_batch_unpublishes(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "home")
    refresh_batches(paths, [write_batch(tmp_path / "a", valid_rows())], AS_OF)
    assert (paths.published / "aggregate.duckdb").exists()
    remove_batch(paths, _batch_ids(paths)[0], AS_OF)
    assert not (paths.published / "aggregate.duckdb").exists() and not (paths.published / "clinical.duckdb").exists()


# --- non-files where a file belongs --------------------------------------------------------------------------------


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


NON_FILES = {
    "directory": lambda p: (p.unlink(), p.mkdir()),
    "dangling symlink": lambda p: (p.unlink(), p.symlink_to(p.parent / "nowhere.csv")),
    "symlink to a directory": lambda p: (p.unlink(), p.symlink_to(p.parent.parent)),
    "symlink to /dev/zero": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
    "fifo": _fifo,
}


@pytest.mark.parametrize("kind", list(NON_FILES))
@pytest.mark.parametrize("name", ["goals.csv", "measures.csv", "batch.toml"])
def test_a_non_file_where_a_file_belongs_rejects_the_batch(kind: str, name: str, tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    NON_FILES[kind](folder / name)
    result = cli("refresh", folder, "--home", tmp_path / "home", "--json", "--as-of", AS_OF)
    assert result.returncode == 2, result.stdout + result.stderr
    [error] = json.loads(result.stdout)["batches"][0]["errors"]
    assert error["rule"] == "unreadable_file" and error["file"] == name


# --- identifiers ------------------------------------------------------------------------------------------------

IDENTIFIERS = ["+44 20 7946 0958", "+33 1 42 68 53 00", "+49 30 123456", "+15551234567", "555.123.4567",
               "555 123 4567", "(555) 123-4567", "555-123-4567", "123 45 6789", "123-45-6789", "020 7946 0958",
               "jane.doe@example.org", "https://example.org/jane", "www.example.org"]  # fmt: skip
NOT_IDENTIFIERS = ["5551234567", "C0001", "2026-10-31", "31.10.2026", "-1.25", "12.345678", "0.33333333",
                   "S-0001", "1234-5678", "therapy", "self_energy_8c_calm"]  # fmt: skip


@pytest.mark.parametrize("value", IDENTIFIERS)
def test_identifier_shapes_are_recognised(value: str) -> None:
    assert identifiers.kind_of(value) is not None


@pytest.mark.parametrize("value", NOT_IDENTIFIERS)
def test_pseudonyms_numbers_and_dates_are_not_identifiers(value: str) -> None:
    assert identifiers.kind_of(value) is None


def test_national_formats_follow_the_phone_regions_setting() -> None:
    assert identifiers.kind_of("030 123456", ("US", "GB")) is None
    assert identifiers.kind_of("030 123456", ("DE",)) == identifiers.PHONE
    assert identifiers.kind_of("+49 30 123456", ()) == identifiers.PHONE  # a + number in every region


@pytest.mark.parametrize("value", IDENTIFIERS)
def test_an_identifier_in_any_column_rejects_the_batch_without_echoing_it(value: str, tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", mutate(valid_rows(), "sessions", 1, location_id=value))
    result = cli("refresh", folder, "--home", tmp_path / "home", "--json", "--as-of", AS_OF)
    assert result.returncode == 2
    [error] = json.loads(result.stdout)["batches"][0]["errors"]
    assert (error["rule"], error["column"]) == ("identifier_values", "location_id")
    _assert_nowhere(value, tmp_path / "home", result.stdout + result.stderr)


def test_an_identifier_in_batch_toml_rejects_the_batch(tmp_path: Path) -> None:
    """The reported leak: batch_id '123-45-6789' reached the published file, the report and its CSVs."""
    for key, value in [("batch_id", "123-45-6789"), ("source", "export by jane.doe@example.org")]:
        folder = write_batch(tmp_path / key, valid_rows())
        (folder / "batch.toml").write_text(f'{key} = "{value}"\nexported_at = {AS_OF}\n', encoding="utf-8")
        result = cli("refresh", folder, "--home", tmp_path / "home", "--json", "--report", "--as-of", AS_OF)
        assert result.returncode == 2
        assert json.loads(result.stdout)["batches"][0]["errors"][0]["rule"] == "identifier_values"
        _assert_nowhere(value, tmp_path / "home", result.stdout + result.stderr)
        _assert_nowhere(value.split()[-1], tmp_path / "home", result.stdout + result.stderr)


def test_a_headerless_export_never_echoes_its_first_row(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    lines = (folder / "clients.csv").read_text().splitlines()
    (folder / "clients.csv").write_text("\n".join([lines[1].replace("C0001", "jane.doe@example.org"), *lines[2:]]))
    result = cli("refresh", folder, "--home", tmp_path / "home", "--json", "--as-of", AS_OF)
    assert result.returncode == 2
    assert json.loads(result.stdout)["batches"][0]["errors"][0]["rule"] == "identifier_column"
    _assert_nowhere("jane.doe", tmp_path / "home", result.stdout + result.stderr)
    (folder / "clients.csv").write_text("\n".join(lines[1:]))  # no e-mail: still no echo of the row
    result = cli("refresh", folder, "--home", tmp_path / "home", "--json", "--as-of", AS_OF)
    assert json.loads(result.stdout)["batches"][0]["errors"][0]["rule"] == "missing_header"
    _assert_nowhere("PR01", tmp_path / "home", result.stdout + result.stderr)


def test_a_value_failing_any_rule_is_stored_masked(tmp_path: Path) -> None:
    """The reported leak: a name typed into a date field was stored raw in the warehouse's quarantine table."""
    rows = mutate(valid_rows(), "sessions", 2, session_date="Jane Doe")
    rows = mutate(rows, "measures", 0, value="Smith")
    summary = refresh_batches(Paths(tmp_path / "home"), [write_batch(tmp_path / "b", rows)], AS_OF)
    assert summary.batches[0].quarantine_by_rule["type"] == 2
    with io.warehouse(Paths(tmp_path / "home").warehouse, read_only=True) as con:
        values = [r[0] for r in con.execute("SELECT value FROM quarantine WHERE value IS NOT NULL").fetchall()]
    assert values and all(v.startswith("[masked: ") for v in values)
    assert "[masked: 8 chars, upper+lower+other]" in values


def test_logs_of_internal_errors_are_redacted() -> None:
    text = 'ComputeError: could not parse "jane.doe@example.org" nor "+44 20 7946 0958" at row 12'
    assert identifiers.redact(text) == 'ComputeError: could not parse "[redacted]" nor "[redacted]" at row 12'


def _assert_nowhere(value: str, home: Path, output: str) -> None:
    """Not in the output, nor in any file under the home (database tables searched by query: they compress)."""
    assert value not in output
    for path in home.rglob("*") if home.exists() else []:
        if path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                for (table,) in con.execute("SHOW TABLES").fetchall():
                    text = con.execute(f'SELECT CAST(list("{table}") AS VARCHAR) FROM "{table}"').fetchall()[0][0]
                    assert value not in (text or ""), f"{value!r} in {path.name}.{table}"
        elif path.is_file() and not path.name.endswith(".wal"):
            assert value.encode() not in path.read_bytes(), f"{value!r} in {path}"


# --- a busy warehouse ------------------------------------------------------------------------------------------


def test_a_busy_warehouse_has_its_own_exit_code_decided_before_any_batch(loaded_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(loaded_home, home)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(120)", str(Paths(home).warehouse)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        folder = write_batch(tmp_path / "b", mutate(valid_rows(), "sessions", 2, status="maybe"))
        result = cli("refresh", folder, "--home", home, "--json", "--as-of", AS_OF)
        assert result.returncode == 75, result.stdout + result.stderr
        summary = json.loads(result.stdout)
        assert summary["status"] == "busy" and summary["exit_code"] == 75 and summary["batches"] == []
        assert "in use by another process" in result.stderr
        assert cli("validate", folder, "--home", home, "--as-of", AS_OF).returncode == 75
    finally:
        holder.kill()
        holder.wait()


# --- spreadsheets -----------------------------------------------------------------------------------------------


def test_csvs_for_people_neutralise_formulas_and_keep_numbers() -> None:
    frame = pl.DataFrame({"text": ["=1+1", "-1-1", "+cmd", "@SUM(A1)", "\tx", "plain", "-1.5", "+3", "-2e3", None],
                          "n": [1, -2, 3, 4, 5, 6, 7, 8, 9, 10]})  # fmt: skip
    safe = io.spreadsheet_safe(frame)
    expected = ["'=1+1", "'-1-1", "'+cmd", "'@SUM(A1)", "'\tx", "plain", "-1.5", "+3", "-2e3", None]
    assert safe["text"].to_list() == expected
    assert safe["n"].to_list() == frame["n"].to_list()


def test_report_csvs_go_through_the_spreadsheet_guard(published_sample: Paths, tmp_path: Path) -> None:
    from pipeline.report import write_report

    home = tmp_path / "home"
    shutil.copytree(published_sample.home, home)
    folder = write_report(Paths(home), "all")
    table = pl.read_csv(folder / "tables" / "headline_outcomes.csv", infer_schema=False)
    changes = [v for v in table["mean_change"].to_list() if v]
    assert any(v.startswith("-") for v in changes) and not any(v.startswith("'") for v in changes)
