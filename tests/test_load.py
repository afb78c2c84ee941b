"""Loading: idempotence, replacement by corrected re-exports, quarantine files, and all-or-nothing transactions."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline import io, load
from pipeline.config import Paths
from pipeline.stages import refresh_batches
from tests.builders import AS_OF, mutate, valid_rows, write_batch
from tests.test_rejections import table_counts


def _query(paths: Paths, sql: str) -> list[tuple[object, ...]]:
    with io.warehouse(paths.warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_same_batch_twice_changes_nothing(tmp_path: Path, home: Paths) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    first = refresh_batches(home, [folder], AS_OF)
    assert first.status == "loaded"
    counts = table_counts(home)
    assert counts == {"clients": 2, "sessions": 4, "measures": 24, "goals": 2, "quarantine": 0}
    second = refresh_batches(home, [folder], AS_OF)
    assert second.status == "already_loaded" and second.exit_code == 0
    assert second.batches[0].content_hash == first.batches[0].content_hash
    assert table_counts(home) == counts
    assert _query(home, "SELECT status FROM runs ORDER BY started_at") == [("loaded",), ("already_loaded",)]


def test_batch_identity_from_folder_name_and_hash(tmp_path: Path, home: Paths) -> None:
    summary = refresh_batches(home, [write_batch(tmp_path / "march", valid_rows())], AS_OF)
    batch = summary.batches[0]
    assert batch.batch_id == f"march-{batch.content_hash[:8]}"
    (tmp_path / "named").mkdir()
    folder = write_batch(tmp_path / "named", valid_rows())
    (folder / "batch.toml").write_text('batch_id = "2026-10-export"\nexported_at = 2026-10-31\n', encoding="utf-8")
    assert refresh_batches(home, [folder], AS_OF).batches[0].batch_id == "2026-10-export"


def test_as_of_falls_back_to_run_date(tmp_path: Path, home: Paths) -> None:
    folder = write_batch(tmp_path / "b", valid_rows(), as_of=None)
    summary = refresh_batches(home, [folder], AS_OF)
    assert summary.batches[0].as_of == AS_OF and summary.as_of == AS_OF


def test_corrected_re_export_replaces_rows_and_keeps_absent_ones(tmp_path: Path, home: Paths) -> None:
    refresh_batches(home, [write_batch(tmp_path / "a", valid_rows())], AS_OF)
    rows = mutate(valid_rows(), "clients", 0, gender="nonbinary")
    rows = mutate(rows, "measures", 10, value="3")  # gad7_1 for C0001
    rows["clients"] = rows["clients"][:1]
    rows["sessions"] = rows["sessions"][:2]
    rows["measures"] = rows["measures"][10:17]
    rows["goals"] = []
    summary = refresh_batches(home, [write_batch(tmp_path / "b", rows)], AS_OF)
    assert summary.status == "loaded"
    assert table_counts(home) == {"clients": 2, "sessions": 4, "measures": 24, "goals": 2, "quarantine": 0}
    assert _query(home, "SELECT gender FROM clients WHERE client_id = 'C0001'") == [("nonbinary",)]
    assert _query(home, "SELECT value FROM measures WHERE client_id = 'C0001' AND item = 'gad7_1'") == [(3.0,)]
    batches = _query(home, "SELECT DISTINCT batch_id FROM measures ORDER BY 1")
    assert len(batches) == 2  # unchanged rows keep the batch that loaded them
    assert len(_query(home, "SELECT * FROM runs WHERE status = 'loaded'")) == 2


def test_quarantine_is_stored_and_written_for_resending(tmp_path: Path, home: Paths) -> None:
    rows = mutate(valid_rows(), "sessions", 1, duration_min="500", status="done")
    summary = refresh_batches(home, [write_batch(tmp_path / "b", rows)], AS_OF)
    batch = summary.batches[0]
    assert summary.exit_code == 1 and batch.status == "loaded_with_quarantine"
    assert batch.tables["sessions"] == {"received": 4, "loaded": 3, "quarantined": 1, "duplicates": 0}
    assert batch.tables["measures"]["quarantined"] == 10
    assert batch.quarantine_by_rule == {"enum": 1, "in_range": 1, "parent_quarantined": 10}
    stored = _query(home, "SELECT table_name, source_row, rule, column_name, value FROM quarantine ORDER BY 1, 2, 3")
    # every failing value is stored masked, whatever its rule: the warehouse never holds a mistyped identifier
    assert ("sessions", 2, "in_range", "duration_min", "[masked: 3 chars, digit]") in stored
    assert ("sessions", 2, "enum", "status", "[masked: 4 chars, lower]") in stored
    folder = home.quarantine / batch.batch_id
    resend = pl.read_csv(folder / "sessions.csv", infer_schema=False)
    assert resend.columns == pl.read_csv(tmp_path / "b" / "sessions.csv", infer_schema=False).columns
    assert resend["session_id"].to_list() == ["S0002"] and resend["duration_min"].to_list() == ["500"]
    reasons = pl.read_csv(folder / "sessions_reasons.csv")
    assert set(reasons["rule"]) == {"in_range", "enum"} and set(reasons["source_row"]) == {2}
    assert str(folder / "sessions.csv") in batch.quarantine_files
    # fixing the file and resending it loads the held-back rows (its measures come back with their parent)
    fixed = resend.with_columns(duration_min=pl.lit("50"), status=pl.lit("attended"))
    resend_folder = tmp_path / "resend"
    resend_folder.mkdir()
    fixed.write_csv(resend_folder / "sessions.csv")
    pl.read_csv(tmp_path / "b" / "clients.csv", infer_schema=False).write_csv(resend_folder / "clients.csv")
    pl.read_csv(folder / "measures.csv", infer_schema=False).write_csv(resend_folder / "measures.csv")
    again = refresh_batches(home, [resend_folder], AS_OF)
    assert again.status == "loaded", again.to_dict()
    assert table_counts(home)["sessions"] == 4 and table_counts(home)["measures"] == 24


@pytest.mark.parametrize("fail_on", ["clients", "sessions", "measures", "goals"])
def test_failure_between_table_writes_leaves_the_warehouse_unchanged(
    tmp_path: Path, home: Paths, monkeypatch: pytest.MonkeyPatch, fail_on: str
) -> None:
    refresh_batches(home, [write_batch(tmp_path / "a", valid_rows())], AS_OF)
    before = table_counts(home)
    runs_before = _query(home, "SELECT count(*) FROM runs")
    real_replace = load._replace

    def failing(con, table, incoming):  # type: ignore[no-untyped-def]
        real_replace(con, table, incoming)
        if table == fail_on:
            raise RuntimeError("injected failure after writing " + table)

    monkeypatch.setattr(load, "_replace", failing)
    rows = mutate(valid_rows(), "clients", 0, gender="man")
    for row in rows["measures"]:
        row["administered_on"] = "2026-01-06" if row["instrument"] == "phq9" else row["administered_on"]
    with pytest.raises(RuntimeError, match="injected"):
        refresh_batches(home, [write_batch(tmp_path / "b", rows)], AS_OF)
    assert table_counts(home) == before
    assert _query(home, "SELECT count(*) FROM runs") == runs_before
    assert _query(home, "SELECT gender FROM clients WHERE client_id = 'C0001'") == [("woman",)]
