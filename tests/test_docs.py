"""The worked example in docs/data-contract.md is a real batch: it loads as the page says."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.ingest import read_batch
from pipeline.validate import Loaded, validate_batch
from schemas.registry import default_registry
from tests.builders import AS_OF
from tests.conftest import ROOT


def _example_files() -> dict[str, str]:
    text = (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    example = text.split("## A worked example", 1)[1]
    blocks = re.findall(r"`(\w+)\.csv`[^\n]*\n\n```csv\n(.*?)```", example, flags=re.S)
    return {
        name: "".join(line for line in body.splitlines(keepends=True) if line.strip() != "…") for name, body in blocks
    }


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, body in files.items():
        (folder / f"{name}.csv").write_text(body, encoding="utf-8")
    (folder / "batch.toml").write_text("exported_at = 2026-10-31\n", encoding="utf-8")
    return folder


def test_worked_example_loads_cleanly(tmp_path: Path) -> None:
    files = _example_files()
    assert set(files) == {"clients", "sessions", "measures"}
    result = validate_batch(read_batch(_write(tmp_path / "ok", files), AS_OF), Loaded(), default_registry())
    assert {n: t.quarantined_count for n, t in result.tables.items()} == dict.fromkeys(result.tables, 0)


def test_worked_example_no_show_with_duration_is_quarantined(tmp_path: Path) -> None:
    files = _example_files()
    files["sessions"] = files["sessions"].replace("no_show,in_person,LOC-NORTH,\n", "no_show,in_person,LOC-NORTH,50\n")
    result = validate_batch(read_batch(_write(tmp_path / "bad", files), AS_OF), Loaded(), default_registry())
    assert result.tables["sessions"].violations["rule"].to_list() == ["duration_iff_attended"]
    assert result.tables["sessions"].loaded == 3
