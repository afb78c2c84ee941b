"""IFS process milestones: given/expected on tiny hand-built episodes, and the Kaplan-Meier curve."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from pipeline.indicators.ifs_process import DEVIATION_KINDS, ifs_milestones, milestone_curve

BASE: dict[str, Any] = {
    "kind": "regular", "status": "attended", "protector_trust": 3, "unblending": "none", "exile_contact": False,
    "protector_permission": None, "unburdening": "none", "protector_release": "none",
}  # fmt: skip


def _episode(client: str, sessions: list[dict[str, Any]], start: dt.date = dt.date(2026, 1, 5)) -> list[dict[str, Any]]:
    return [
        {
            **BASE,
            "client_id": client,
            "session_id": f"{client}{i}",
            "session_date": start + dt.timedelta(days=7 * i),
            **s,
        }
        for i, s in enumerate(sessions)
    ]


def _run(rows: list[dict[str, Any]], self_events: pl.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    frame = pl.DataFrame(rows)
    return {r["client_id"]: r for r in ifs_milestones(frame, self_events).iter_rows(named=True)}


TRUST = {"protector_trust": 7, "unblending": "partial"}
EXILE = {"exile_contact": True, "protector_permission": True}


def test_protector_trust_boundary() -> None:
    out = _run(
        _episode("A", [{}, {"protector_trust": 6, "unblending": "full"}, TRUST])
        + _episode("B", [{"protector_trust": 10, "unblending": "none"}, {"protector_trust": 8, "unblending": None}])
    )
    assert (out["A"]["m1_session"], out["A"]["m1_days"], out["A"]["stage_reached"]) == (3, 14, 1)
    assert out["B"]["m1_session"] is None and out["B"]["stage_reached"] == 0


def test_milestones_in_order_same_session_counts() -> None:
    out = _run(
        _episode(
            "A",
            [TRUST | EXILE, {"unburdening": "partial"}, {"protector_release": "complete"}, {"unburdening": "complete"}],
        )
    )
    a = out["A"]
    assert [a[f"m{k}_session"] for k in range(1, 6)] == [1, 1, 2, 3, None]
    assert a["stage_reached"] == 4 and all(a[k] == 0 for k in DEVIATION_KINDS)


def test_exile_contact_before_trust_is_a_deviation_and_waits_for_m1() -> None:
    out = _run(_episode("A", [EXILE, {"exile_contact": True, "protector_permission": False}, TRUST, {}, EXILE]))
    a = out["A"]
    assert a["m2_before_m1"] == 1 and a["exile_contact_without_permission"] == 1
    assert (a["m1_session"], a["m2_session"], a["stage_reached"]) == (3, 5, 2)


def test_later_milestone_without_earlier_never_counts() -> None:
    out = _run(_episode("A", [{"unburdening": "complete"}, {"protector_release": "partial"}, {}]))
    a = out["A"]
    assert a["stage_reached"] == 0 and a["m3_session"] is None
    assert (a["m3_before_m2"], a["m4_before_m3"]) == (1, 1)


def test_m5_from_self_events_and_censoring() -> None:
    rows = _episode("A", [TRUST, EXILE, {"unburdening": "partial"}, {"protector_release": "partial"}, {}, {}])
    events = pl.DataFrame({"client_id": ["A", "A"], "session_number": [2, 5]})
    a = _run(rows, events)["A"]
    assert a["m5_session"] == 5 and a["m5_before_m4"] == 1 and a["stage_reached"] == 5
    assert (a["last_session"], a["last_days"]) == (6, 35)


def test_consultations_and_missed_sessions_are_not_counted() -> None:
    rows = _episode("A", [{"kind": "consultation", **TRUST}, {"status": "no_show", **TRUST}, {}, TRUST])
    a = _run(rows)["A"]
    assert (a["m1_session"], a["last_session"], a["first_session_date"]) == (2, 2, dt.date(2026, 1, 19))


def test_kaplan_meier_with_censoring() -> None:
    milestones = pl.DataFrame(
        {"m1_session": [1, 2, 2, None, None, 5], "last_session": [4, 6, 3, 3, 4, 8],
         "m1_days": [0, 7, 7, None, None, 28], "last_days": [21, 35, 14, 14, 21, 49]}
    )  # fmt: skip
    curve = milestone_curve(milestones, 1)
    # KM: t=1: 1/6 -> S=5/6; t=2: 2 of 5 -> S=5/6*3/5=1/2; censored at 3 and 4; t=5: 1 of 1 (at risk: 5,8) ...
    assert curve["time"].to_list() == [1, 2, 5]
    assert curve["at_risk"].to_list() == [6, 5, 1]
    assert curve["cumulative_reached"].to_list() == pytest.approx([1 / 6, 1 / 2, 1.0])
    assert milestone_curve(milestones, 1, min_at_risk=2)["time"].to_list() == [1, 2]
    assert milestone_curve(milestones, 1, unit="days")["time"].to_list() == [0, 7, 28]
