"""Recovery by design: a refresh killed at any point, then run again, ends exactly where a clean run ends.

For every fault point (`pipeline.faults.POINTS`, in the order a refresh passes them) a real `ifs-outcomes refresh`
process is killed there — `os._exit`, so no `finally`, rollback or atexit runs, as with kill -9 or a power cut —
and a second refresh of the same batch runs. Warehouse tables, published files and quarantine files are then
compared with a home where the same refresh ran once without a fault. The batch loaded is a corrected re-export of
an earlier batch with the same id (so its quarantine folder replaces the earlier one) touching a few clients (so
outcomes are updated incrementally); a removal is interrupted the same way and repaired by a refresh that has
nothing new to load.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from pipeline import faults, io, synth
from pipeline.config import Paths
from pipeline.stages import refresh_batches

AS_OF = dt.date(2026, 10, 31)
WAREHOUSE_TABLES = ("clients", "sessions", "measures", "goals", "quarantine", "scores", "scale_reliability",
                    "client_change")  # fmt: skip
#: Columns that name a run (random per run) or a time: equal content is compared without them.
VOLATILE = {"run_id", "warehouse_run_id", "data_version", "built_at", "started_at", "finished_at"}


def _cli(*args: str | Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != faults.FAULT_ENV}
    if fault:
        env[faults.FAULT_ENV] = fault
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def _with_bad_rows(folder: Path, batch_id: str, bad_sessions: int) -> Path:
    """Give the batch an id and break the duration of a few sessions (quarantined with their answers)."""
    sessions = pl.read_csv(folder / "sessions.csv", infer_schema=False)
    attended = sessions.with_row_index("_i").filter(pl.col("status") == "attended")["_i"].head(bad_sessions)
    sessions.with_columns(
        pl.when(pl.int_range(pl.len()).is_in(attended.implode())).then(pl.lit("999")).otherwise("duration_min")
        .alias("duration_min")
    ).write_csv(folder / "sessions.csv")  # fmt: skip
    (folder / "batch.toml").write_text(f'batch_id = "{batch_id}"\nexported_at = {AS_OF}\n', encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`first`: 60 clients with 3 bad sessions; `resent`: the same export id, corrected for 2 of those sessions,
    with 6 new clients; `other`: an unrelated batch (removed in the removal scenario)."""
    root = tmp_path_factory.mktemp("recovery_batches")
    synth.write_batch(root / "all", n_clients=66, seed=31, as_of=AS_OF)
    tables = {name: pl.read_csv(root / "all" / f"{name}.csv", infer_schema=False) for name in
              ("clients", "sessions", "measures", "goals")}  # fmt: skip
    ids = tables["clients"]["client_id"].to_list()
    first_ids, new_ids = ids[:60], ids[60:]
    (root / "first").mkdir()
    (root / "resent").mkdir()
    for name, frame in tables.items():
        frame.filter(pl.col("client_id").is_in(first_ids)).write_csv(root / "first" / f"{name}.csv")
        frame.filter(pl.col("client_id").is_in(first_ids[:4] + new_ids)).write_csv(root / "resent" / f"{name}.csv")
    _with_bad_rows(root / "first", "weekly-export", 3)
    _with_bad_rows(root / "resent", "weekly-export", 1)
    synth.write_batch(root / "other", n_clients=12, seed=32, as_of=AS_OF)
    return {"first": root / "first", "resent": root / "resent", "other": root / "other"}


@pytest.fixture(scope="module")
def before(batches: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the first export (and an unrelated batch) loaded and published: where every scenario starts."""
    home = tmp_path_factory.mktemp("recovery_before") / "home"
    summary = refresh_batches(Paths(home), [batches["other"], batches["first"]], AS_OF)
    assert [b.status for b in summary.batches] == ["loaded", "loaded_with_quarantine"]
    return home


def _copy(home: Path, to: Path) -> Path:
    shutil.copytree(home, to)
    return to


def _frame_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows without run ids and times, in a fixed order (compared with a float tolerance by `_assert_same`)."""
    frame = frame.drop([c for c in frame.columns if c in VOLATILE])
    keys = [c for c, t in frame.schema.items() if not t.is_float()]
    return frame.sort(keys or frame.columns, nulls_last=True)


def _snapshot(home: Path) -> dict[str, Any]:
    """Everything a refresh leaves behind, without run ids and times."""
    paths = Paths(home)
    out: dict[str, Any] = {}
    with io.warehouse(paths.warehouse, read_only=True) as con:
        for table in WAREHOUSE_TABLES:
            out[f"warehouse.{table}"] = _frame_rows(io.query_pl(con, f"SELECT * FROM {table}"))
        out["warehouse.derived_state"] = _frame_rows(io.query_pl(con, "SELECT * FROM derived_state"))
        out["warehouse.loads"] = _frame_rows(
            io.query_pl(con, "SELECT batch_id, status, content_hash, counts FROM runs WHERE status <> 'already_loaded'")
        )
    for name in ("clinical", "aggregate"):
        path = paths.published / f"{name}.duckdb"
        tables = io.read_all_tables(path) if path.exists() else None
        out[f"published.{name}"] = None if tables is None else {t: _frame_rows(f) for t, f in tables.items()}
    files = {}
    for path in sorted(paths.home.rglob("*")):
        relative = str(path.relative_to(paths.home))
        if path.is_dir() or relative.startswith(("warehouse/", "published/", "logs/")):
            continue
        text = path.read_text(encoding="utf-8")
        files[relative] = re.sub(r'"run_id": "[0-9a-f]+"', '"run_id": "…"', text)
    out["files"] = files
    out["leftovers"] = sorted(
        str(p.relative_to(paths.home))
        for p in paths.home.rglob("*")
        if re.search(r"\.tmp|\.pending/.|\.replaced-|\.staging/.", str(p.relative_to(paths.home)))
    )
    return out


@pytest.fixture(scope="module")
def clean_refresh(before: Path, batches: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = _copy(before, tmp_path_factory.mktemp("recovery_clean") / "home")
    result = _cli("refresh", batches["resent"], "--home", home, "--as-of", AS_OF)
    assert result.returncode == 1, result.stdout + result.stderr  # loaded, with one quarantined session
    return _snapshot(home)


def _assert_same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal, floats to 1e-9: DuckDB's parallel aggregation may add partial sums in another order from one run to
    the next, so the last bits of a slope can differ between two clean runs too."""
    from polars.testing import assert_frame_equal

    assert found["leftovers"] == []
    assert found.keys() == expected.keys()

    def same(a: Any, b: Any, where: str) -> None:
        if isinstance(a, pl.DataFrame):
            assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
        elif isinstance(a, dict):
            assert a.keys() == b.keys(), where
            for k in a:
                same(a[k], b[k], f"{where}.{k}")
        else:
            assert a == b, f"{where} differs from a clean run"

    for key in expected:
        same(found[key], expected[key], key)


def test_every_fault_point_is_declared_and_passed() -> None:
    """The list the tests walk is the list the code calls: no point unlisted, none listed that is never passed."""
    called = set()
    for path in Path(faults.__file__).parent.rglob("*.py"):
        called |= set(re.findall(r'fault_point\("([^"]+)"\)', path.read_text(encoding="utf-8")))
    assert called == set(faults.POINTS)


@pytest.mark.slow
@pytest.mark.parametrize("point", faults.POINTS)
def test_a_refresh_killed_anywhere_recovers_on_the_next_refresh(
    point: str, before: Path, batches: dict[str, Path], clean_refresh: dict[str, Any], tmp_path: Path
) -> None:
    home = _copy(before, tmp_path / "home")
    killed = _cli("refresh", batches["resent"], "--home", home, "--as-of", AS_OF, fault=point)
    assert killed.returncode == faults.FAULT_EXIT, f"{point} was not reached: {killed.stdout}{killed.stderr}"
    rerun = refresh_batches(Paths(home), [batches["resent"]], AS_OF)
    assert rerun.exit_code in (0, 1)  # loaded now, or already loaded by the killed run (which committed)
    _assert_same(_snapshot(home), clean_refresh)


#: The points a removal passes after its transaction commits (it rebuilds through `bring_up_to_date`).
REMOVAL_POINTS = [p for p in faults.POINTS if p.startswith(("outcomes:", "publish:")) or p == "refresh:finished"]


@pytest.mark.slow
@pytest.mark.parametrize("point", REMOVAL_POINTS)
def test_a_removal_killed_while_rebuilding_is_repaired_by_a_refresh_with_nothing_to_load(
    point: str, before: Path, batches: dict[str, Path], tmp_path: Path
) -> None:
    clean = _copy(before, tmp_path / "clean")
    assert _cli("remove-batch", "weekly-export", "--home", clean, "--as-of", AS_OF).returncode == 0
    home = _copy(before, tmp_path / "home")
    killed = _cli("remove-batch", "weekly-export", "--home", home, "--as-of", AS_OF, fault=point)
    assert killed.returncode == faults.FAULT_EXIT, f"{point} was not reached: {killed.stdout}{killed.stderr}"
    rerun = _cli("refresh", "--all", "--home", home, "--as-of", AS_OF)  # <home>/raw is empty: nothing to load
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    _assert_same(_snapshot(home), _snapshot(clean))


def test_outcomes_that_lag_are_rebuilt_even_when_nothing_is_loaded(before: Path, tmp_path: Path) -> None:
    """The reported failure: loads committed, scoring never ran (here: a home from before the recovery record, with
    outcomes missing for 20 clients) — a refresh with nothing to load rescores and republishes."""
    home = _copy(before, tmp_path / "home")
    with duckdb.connect(str(home / "warehouse" / "warehouse.duckdb")) as con:
        expected = con.execute("SELECT count(*) FROM scores").fetchall()[0][0]
        con.execute("DELETE FROM scores WHERE client_id IN (SELECT client_id FROM clients LIMIT 20)")
        con.execute("DELETE FROM derived_state")
    summary = refresh_batches(Paths(home), [], AS_OF)
    assert summary.published, "the publication reflected stale outcomes and must be rebuilt"
    with duckdb.connect(str(home / "warehouse" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchall()[0][0] == expected


def test_stale_temporary_files_are_removed_by_the_next_run(before: Path, tmp_path: Path) -> None:
    home = _copy(before, tmp_path / "home")
    dead = 2**22 + 12345  # above the default pid_max: no process has it
    leftovers = [
        home / "published" / f".clinical.{dead}.tmp.duckdb",
        home / "published" / f".aggregate.{dead}.tmp.duckdb.wal",
        home / "quarantine" / "weekly-export" / f".sessions.csv.{dead}.tmp",
        home / "reports" / "2026-Q3" / f".report.html.{dead}.tmp",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half-written")
    (home / "warehouse" / ".staging" / f"weekly-export-{dead}").mkdir(parents=True)
    (home / "quarantine" / ".pending" / "0123456789abcdef").mkdir(parents=True)  # a run that never committed
    live = home / "reports" / "2026-Q3" / f".summary.json.{os.getpid()}.tmp"  # a live process's file stays
    live.write_bytes(b"being written")
    refresh_batches(Paths(home), [], AS_OF)
    assert not any(p.exists() for p in leftovers)
    assert live.exists()
    assert not (home / "warehouse" / ".staging" / f"weekly-export-{dead}").exists()
    assert not (home / "quarantine" / ".pending" / "0123456789abcdef").exists()
    assert json.loads((home / "quarantine" / "weekly-export" / "MANIFEST.json").read_text())["batch_id"] == (
        "weekly-export"
    )
