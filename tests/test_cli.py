"""The CLI as a user runs it: real subprocesses, exit codes, the --json summary, help for every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import mutate, valid_rows, write_batch


def cli(*args: str | Path, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if home is not None:
        env["IFS_OUTCOMES_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_refresh_json_then_already_loaded(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    first = cli("refresh", folder, "--json", home=tmp_path / "home")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "loaded" and summary["exit_code"] == 0 and summary["as_of"] == "2026-10-31"
    [batch] = summary["batches"]
    assert set(batch) >= {
        "batch_id",
        "status",
        "content_hash",
        "tables",
        "quarantine_by_rule",
        "quarantine_files",
        "errors",
    }
    assert batch["tables"]["measures"] == {"received": 24, "loaded": 24, "quarantined": 0, "duplicates": 0}
    assert (tmp_path / "home" / "warehouse" / "warehouse.duckdb").exists()
    second = cli("refresh", folder, "--json", home=tmp_path / "home")
    assert second.returncode == 0 and json.loads(second.stdout)["status"] == "already_loaded"


def test_quarantine_exit_1_with_counts_by_rule(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", mutate(valid_rows(), "measures", 0, value="7"))
    result = cli("refresh", folder, "--json", "--home", tmp_path / "home")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "loaded_with_quarantine"
    assert summary["batches"][0]["quarantine_by_rule"] == {"in_range": 1}
    assert summary["batches"][0]["quarantine_files"]


def test_rejected_exit_2_one_sentence_no_traceback(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    (folder / "sessions.csv").write_text(
        (folder / "sessions.csv").read_text().replace("session_id,", "session_id_typo,", 1), encoding="utf-8"
    )
    result = cli("refresh", folder, home=tmp_path / "home")
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "sessions.csv: column 'session_id_typo' is not in the data contract (rule unknown_column)" in result.stdout


def test_validate_writes_nothing(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", mutate(valid_rows(), "goals", 0, weight="9"))
    result = cli("validate", folder, "--json", home=tmp_path / "home")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["status"] == "validated_with_quarantine"
    assert not (tmp_path / "home").exists()


def test_internal_error_exit_3_with_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "warehouse" / "warehouse.duckdb").mkdir(parents=True)  # a folder where the database file should be
    result = cli("refresh", write_batch(tmp_path / "b", valid_rows()), home=home)
    assert result.returncode == 3
    assert "Internal error" in result.stderr and "Traceback" not in result.stderr
    logs = list((home / "logs").glob("error-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert cli("refresh", home=tmp_path / "home").returncode == 2
    assert cli("refresh", tmp_path, "--as-of", "31/10/2026", home=tmp_path / "home").returncode == 2
    assert cli("frobnicate").returncode == 2


@pytest.mark.parametrize("command", ["", "demo", "validate", "refresh", "quickstart"])
def test_help(command: str) -> None:
    result = cli(*([command] if command else []), "--help")
    assert result.returncode == 0 and "Usage" in result.stdout


def test_demo_then_refresh_loads_without_quarantine(tmp_path: Path) -> None:
    demo = cli("demo", "--out", tmp_path / "demo", "--clients", "25", "--seed", "3", "--format", "parquet")
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "demo" / "measures.parquet").exists() and (tmp_path / "demo" / "ground_truth.json").exists()
    result = cli("refresh", tmp_path / "demo", "--json", home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["batches"][0]["warnings"] == []
