"""Each row-level contract rule: a good row passes, a row breaking it is quarantined with that rule named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipeline.validate import Loaded
from tests.builders import mutate, rules_of, valid_rows, validate_rows


def test_valid_batch_has_no_quarantine(tmp_path: Path) -> None:
    result = validate_rows(tmp_path / "b", valid_rows())
    for name, table in result.tables.items():
        assert table.quarantined_count == 0, (name, table.violations)
        assert table.loaded == table.received
    goals = result.tables["goals"].valid
    assert goals.filter(pl.col("goal_id") == "G002")["weight"].item() == 1  # weight defaults to 1


# (table, row index, changes, expected rule) — the row must be quarantined with exactly that rule among its rules.
CASES: list[tuple[str, int, dict[str, Any], str]] = [
    # clients
    ("clients", 0, {"helping_professional": "maybe"}, "type"),
    ("clients", 0, {"intake_date": "05/01/2026"}, "type"),
    ("clients", 0, {"service": None}, "required"),
    ("clients", 0, {"service": "therapyy"}, "enum"),
    ("clients", 0, {"gender": "female"}, "enum"),
    ("clients", 0, {"age_band": "30-39"}, "enum"),
    ("clients", 0, {"presenting_themes": "burnout;bogus"}, "enum"),
    ("clients", 0, {"client_id": "C1"}, "pattern"),
    ("clients", 0, {"practice_id": "PR 01"}, "pattern"),
    ("clients", 0, {"intake_date": "2026-11-30"}, "future_date"),
    ("clients", 0, {"profession": None}, "profession_iff_helping_professional"),
    ("clients", 1, {"profession": "nurse"}, "profession_iff_helping_professional"),
    ("clients", 1, {"discharge_reason": None}, "discharge_reason_iff_discharge_date"),
    ("clients", 0, {"discharge_reason": "completed"}, "discharge_reason_iff_discharge_date"),
    ("clients", 1, {"discharge_date": "2026-01-15"}, "discharge_before_intake"),
    ("clients", 1, {"discharge_reason": "graduated"}, "enum"),
    # sessions
    ("sessions", 1, {"duration_min": "fifty"}, "type"),
    ("sessions", 1, {"duration_min": "50.5"}, "type"),
    ("sessions", 1, {"exile_contact": "sometimes"}, "type"),
    ("sessions", 1, {"duration_min": "500"}, "in_range"),
    ("sessions", 1, {"self_energy": "11"}, "in_range"),
    ("sessions", 1, {"focus_goal": "0"}, "in_range"),
    ("sessions", 3, {"commitments_set": "21"}, "in_range"),
    ("sessions", 1, {"status": "done"}, "enum"),
    ("sessions", 1, {"kind": "followup"}, "enum"),
    ("sessions", 1, {"modality": "phone"}, "enum"),
    ("sessions", 1, {"unblending": "some"}, "enum"),
    ("sessions", 1, {"session_id": "S2"}, "pattern"),
    ("sessions", 1, {"session_date": None}, "required"),
    ("sessions", 1, {"session_date": "2026-11-02"}, "future_date"),
    ("sessions", 1, {"location_id": None}, "location_iff_in_person"),
    ("sessions", 3, {"location_id": "LOC1"}, "location_iff_in_person"),
    ("sessions", 1, {"duration_min": None}, "duration_iff_attended"),
    ("sessions", 2, {"duration_min": "50"}, "duration_iff_attended"),
    ("sessions", 2, {"self_energy": "5"}, "process_only_if_attended"),
    ("sessions", 2, {"session_date": "2026-01-01"}, "session_before_intake"),
    ("sessions", 3, {"session_date": "2026-07-01"}, "session_after_discharge"),
    ("sessions", 1, {"client_id": "C9999"}, "orphan_client"),
    # measures
    ("measures", 0, {"value": "three"}, "type"),
    ("measures", 0, {"value": "nan"}, "type"),
    ("measures", 0, {"administered_on": "2026-13-01"}, "type"),
    ("measures", 0, {"value": "4"}, "in_range"),
    ("measures", 0, {"value": "-1"}, "in_range"),
    ("measures", 9, {"value": "28"}, "in_range"),
    ("measures", 0, {"instrument": "phq8"}, "unknown_instrument"),
    ("measures", 0, {"item": "phq9_10"}, "unknown_item"),
    ("measures", 0, {"item": None}, "required"),
    ("measures", 10, {"administered_on": "2026-11-01"}, "future_date"),
    ("measures", 10, {"administered_on": "2025-11-30"}, "before_intake_window"),
    ("measures", 10, {"client_id": "C9999"}, "orphan_client"),
    ("measures", 0, {"session_id": "S9999"}, "orphan_session"),
    ("measures", 0, {"session_id": "S0004"}, "session_client_mismatch"),
    ("measures", 9, {"value": "12"}, "total_mismatch"),
    ("measures", 0, {"session_id": "bad id"}, "pattern"),
    # goals
    ("goals", 0, {"weight": "5"}, "in_range"),
    ("goals", 0, {"attainment": "3"}, "in_range"),
    ("goals", 0, {"attainment": "1.5"}, "type"),
    ("goals", 0, {"attainment": None}, "required"),
    ("goals", 0, {"rated_on": "2026-01-15"}, "rated_before_set"),
    ("goals", 0, {"rated_on": "2026-12-01"}, "future_date"),
    ("goals", 0, {"client_id": "C9999"}, "orphan_client"),
]


@pytest.mark.parametrize(
    ("table", "index", "changes", "rule"), CASES, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_quarantines_the_row(tmp_path: Path, table: str, index: int, changes: dict[str, Any], rule: str) -> None:
    result = validate_rows(tmp_path / "b", mutate(valid_rows(), table, index, **changes))
    broken = rules_of(result, table)
    assert rule in broken.get(index + 1, set()), broken
    t = result.tables[table]
    assert t.received == t.loaded + t.quarantined_count + t.duplicates


def test_every_rule_of_a_row_is_recorded(tmp_path: Path) -> None:
    result = validate_rows(
        tmp_path / "b", mutate(valid_rows(), "sessions", 1, duration_min="500", status="done", location_id=None)
    )
    assert rules_of(result, "sessions")[2] >= {"in_range", "enum", "location_iff_in_person"}


def test_type_failure_is_not_also_reported_as_missing(tmp_path: Path) -> None:
    result = validate_rows(tmp_path / "b", mutate(valid_rows(), "sessions", 1, duration_min="fifty"))
    assert rules_of(result, "sessions")[2] == {"type"}


def test_parent_quarantined_cascades_to_children(tmp_path: Path) -> None:
    result = validate_rows(tmp_path / "b", mutate(valid_rows(), "clients", 0, service="bogus"))
    assert result.tables["clients"].quarantined_count == 1
    sessions = result.tables["sessions"]
    assert sessions.valid["client_id"].to_list() == ["C0002"]
    assert all("parent_quarantined" in r for r in rules_of(result, "sessions").values())
    measures = rules_of(result, "measures")
    assert len(measures) == 17 and all("parent_quarantined" in r for r in measures.values())


def test_measures_of_a_quarantined_session_are_parent_quarantined(tmp_path: Path) -> None:
    result = validate_rows(tmp_path / "b", mutate(valid_rows(), "sessions", 1, duration_min="500"))
    measures = rules_of(result, "measures")
    assert sorted(measures) == list(range(1, 11))  # the 9 PHQ-9 items and the supplied total linked to S0002
    assert all(r == {"parent_quarantined"} for r in measures.values())


def test_total_mismatch_quarantines_the_whole_administration(tmp_path: Path) -> None:
    result = validate_rows(tmp_path / "b", mutate(valid_rows(), "measures", 9, value="12"))
    assert sorted(rules_of(result, "measures")) == list(range(1, 11))


def test_total_with_incomplete_items_is_not_compared(tmp_path: Path) -> None:
    rows = mutate(valid_rows(), "measures", 0, value=None)  # a skipped item: the total cannot be checked
    rows = mutate(rows, "measures", 9, value="12")
    assert validate_rows(tmp_path / "b", rows).tables["measures"].quarantined_count == 0


def test_exact_duplicates_collapse_and_are_counted(tmp_path: Path) -> None:
    rows = valid_rows()
    rows["measures"].append(dict(rows["measures"][3]))
    rows["sessions"].append(dict(rows["sessions"][0]))
    result = validate_rows(tmp_path / "b", rows)
    assert result.tables["measures"].counts() == {"received": 25, "loaded": 24, "quarantined": 0, "duplicates": 1}
    assert result.tables["sessions"].counts() == {"received": 5, "loaded": 4, "quarantined": 0, "duplicates": 1}


def test_conflicting_duplicates_quarantine_every_copy(tmp_path: Path) -> None:
    rows = valid_rows()
    rows["clients"].append({**rows["clients"][1], "service": "combined"})
    rows["measures"].append({**rows["measures"][17], "value": 3})
    result = validate_rows(tmp_path / "b", rows)
    assert {k for k, v in rules_of(result, "clients").items() if "conflicting_duplicate" in v} == {2, 3}
    assert {k for k, v in rules_of(result, "measures").items() if "conflicting_duplicate" in v} == {18, 25}
    # the duplicated client's children are held back too
    assert result.tables["goals"].quarantined_count == 2


def test_masked_values_for_pattern_and_enum(tmp_path: Path) -> None:
    result = validate_rows(tmp_path / "b", mutate(valid_rows(), "clients", 1, client_id="ab", gender="female"))
    values = result.tables["clients"].violations.filter(pl.col("rule").is_in(["pattern", "enum"]))["value"].to_list()
    assert values and all(v.startswith("[masked: ") for v in values)
    assert "ab" not in values and "female" not in values
    assert "[masked: 6 chars, lower]" in values


def test_conflicts_with_loaded(tmp_path: Path) -> None:
    """A new client row whose intake moves after an already-loaded session is held back with its children."""
    loaded = Loaded(
        clients=pl.DataFrame(
            {"client_id": ["C0001"], "intake_date": [None], "discharge_date": [None]},
            schema={"client_id": pl.String, "intake_date": pl.Date, "discharge_date": pl.Date},
        ),
        sessions=pl.DataFrame(
            {
                "session_id": ["S0777"],
                "client_id": ["C0001"],
                "session_date": [dt.date(2026, 1, 3)],
                "kind": ["regular"],
            }
        ).with_columns(pl.col("session_date").cast(pl.Date)),
    )
    result = validate_rows(tmp_path / "b", valid_rows(), loaded=loaded)
    assert rules_of(result, "clients") == {1: {"conflicts_with_loaded"}}
    # a session resent in the same batch does not count as already loaded
    rows = valid_rows()
    base = dict(rows["sessions"][2])
    rows["sessions"].append({**base, "session_id": "S0777", "session_date": "2026-01-19"})
    assert "conflicts_with_loaded" not in str(rules_of(validate_rows(tmp_path / "c", rows, loaded=loaded), "clients"))


def test_client_already_loaded_is_a_valid_parent(tmp_path: Path) -> None:
    rows = valid_rows()
    rows["clients"] = [rows["clients"][1]]
    rows["sessions"] = [s for s in rows["sessions"] if s["client_id"] == "C0002"]
    rows["measures"] += [{**m, "client_id": "C0003", "session_id": None} for m in rows["measures"][17:]]
    loaded = Loaded(
        clients=pl.DataFrame(
            {"client_id": ["C0003"], "intake_date": [None], "discharge_date": [None]},
            schema={"client_id": pl.String, "intake_date": pl.Date, "discharge_date": pl.Date},
        ),
    )
    rows["measures"] = [m for m in rows["measures"] if m["client_id"] != "C0001"]
    result = validate_rows(tmp_path / "b", rows, loaded=loaded)
    assert result.tables["measures"].quarantined_count == 0


def test_type_failure_does_not_hide_another_missing_value(tmp_path: Path) -> None:
    result = validate_rows(tmp_path / "b", mutate(valid_rows(), "sessions", 1, duration_min="fifty", kind=None))
    assert rules_of(result, "sessions")[2] == {"type", "required"}
