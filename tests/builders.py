"""Tiny hand-built batches for given/expected tests: every row valid until a test breaks one on purpose."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.ingest import read_batch
from pipeline.validate import Loaded, ValidationResult, validate_batch
from schemas.inputs import TABLES_BY_NAME
from schemas.registry import default_registry

AS_OF = dt.date(2026, 10, 31)
Rows = dict[str, list[dict[str, Any]]]

PHQ9_ITEMS = [1, 2, 1, 2, 1, 1, 2, 1, 0]  # total 11
GAD7_ITEMS = [2, 1, 1, 2, 1, 1, 1]  # total 9


def _items(client: str, session: str | None, instrument: str, date: str, values: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "client_id": client,
            "session_id": session,
            "instrument": instrument,
            "administered_on": date,
            "item": f"{instrument}_{i}",
            "value": v,
        }
        for i, v in enumerate(values, start=1)
    ]


def valid_rows() -> Rows:
    """Two episodes: a helping professional in therapy (open) and a coaching client (discharged)."""
    clients = [
        {
            "client_id": "C0001",
            "practice_id": "PR01",
            "clinician_id": "CL01",
            "service": "therapy",
            "intake_date": "2026-01-05",
            "age_band": "35-44",
            "gender": "woman",
            "helping_professional": "true",
            "profession": "therapist",
            "presenting_themes": "burnout;imposter",
            "discharge_date": None,
            "discharge_reason": None,
        },
        {
            "client_id": "C0002",
            "practice_id": "PR01",
            "clinician_id": "CL02",
            "service": "coaching",
            "intake_date": "2026-02-01",
            "age_band": None,
            "gender": None,
            "helping_professional": "false",
            "profession": None,
            "presenting_themes": None,
            "discharge_date": "2026-06-01",
            "discharge_reason": "completed",
        },
    ]
    base_session = {c: None for c in TABLES_BY_NAME["sessions"].columns}
    sessions = [
        {
            **base_session,
            "session_id": "S0001",
            "client_id": "C0001",
            "clinician_id": "CL01",
            "session_date": "2025-12-28",
            "kind": "consultation",
            "status": "attended",
            "modality": "telehealth",
            "duration_min": "30",
        },
        {
            **base_session,
            "session_id": "S0002",
            "client_id": "C0001",
            "clinician_id": "CL01",
            "session_date": "2026-01-05",
            "kind": "intake",
            "status": "attended",
            "modality": "in_person",
            "location_id": "LOC1",
            "duration_min": "50",
            "focus_goal": "1",
            "self_energy": "4",
            "protector_trust": "3",
            "polarization": "7",
            "unblending": "partial",
            "exile_contact": "false",
        },
        {
            **base_session,
            "session_id": "S0003",
            "client_id": "C0001",
            "clinician_id": "CL01",
            "session_date": "2026-01-12",
            "kind": "regular",
            "status": "cancelled",
            "modality": "in_person",
            "location_id": "LOC1",
        },
        {
            **base_session,
            "session_id": "S0004",
            "client_id": "C0002",
            "clinician_id": "CL02",
            "session_date": "2026-02-01",
            "kind": "intake",
            "status": "attended",
            "modality": "telehealth",
            "duration_min": "50",
            "resistance": "5",
            "commitments_set": "2",
            "commitments_kept": "0",
        },
    ]
    phq9_total = {
        "client_id": "C0001", "session_id": "S0002", "instrument": "phq9", "administered_on": "2026-01-05",
        "item": "total", "value": sum(PHQ9_ITEMS),
    }  # fmt: skip
    measures = [
        *_items("C0001", "S0002", "phq9", "2026-01-05", PHQ9_ITEMS),  # source rows 1-9
        phq9_total,  # row 10
        *_items("C0001", None, "gad7", "2026-01-02", GAD7_ITEMS),  # rows 11-17: before intake, no session
        *_items("C0002", "S0004", "gad7", "2026-02-01", GAD7_ITEMS),  # rows 18-24
    ]
    goals = [
        {
            "client_id": "C0002",
            "goal_id": "G001",
            "weight": "2",
            "set_on": "2026-02-01",
            "rated_on": "2026-02-01",
            "attainment": "-1",
        },
        {
            "client_id": "C0002",
            "goal_id": "G002",
            "weight": None,
            "set_on": "2026-02-01",
            "rated_on": "2026-02-01",
            "attainment": "0",
        },
    ]
    return {"clients": clients, "sessions": sessions, "measures": measures, "goals": goals}


def write_batch(folder: Path, rows: Rows, as_of: dt.date | None = AS_OF, fmt: str = "csv") -> Path:
    """Write rows (values as given; None = empty) as a batch folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in rows.items():
        columns = list(dict.fromkeys(k for row in table for k in row)) or TABLES_BY_NAME[name].columns
        frame = pl.DataFrame(
            {c: [None if r.get(c) is None else str(r[c]) for r in table] for c in columns},
            schema=dict.fromkeys(columns, pl.String),
        )
        if fmt == "csv":
            frame.write_csv(folder / f"{name}.csv")
        else:
            frame.write_parquet(folder / f"{name}.parquet")
    if as_of is not None:
        (folder / "batch.toml").write_text(f"exported_at = {as_of.isoformat()}\n", encoding="utf-8")
    return folder


def mutate(rows: Rows, table: str, index: int, **changes: Any) -> Rows:
    out = copy.deepcopy(rows)
    out[table][index].update(changes)
    return out


def validate_rows(folder: Path, rows: Rows, loaded: Loaded | None = None) -> ValidationResult:
    write_batch(folder, rows)
    return validate_batch(read_batch(folder, AS_OF), loaded or Loaded(), default_registry())


def rules_of(result: ValidationResult, table: str) -> dict[int, set[str]]:
    """source row -> rules broken, for one table."""
    out: dict[int, set[str]] = {}
    for row, rule in result.tables[table].violations.select("_row", "rule").iter_rows():
        out.setdefault(row, set()).add(rule)
    return out
