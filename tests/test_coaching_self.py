"""Coaching (GAS, follow-through, choice points) and self-leadership: given/expected on tiny episodes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl
import pytest

from pipeline.indicators.coaching import coaching_episodes, gas_t, gas_t_scores
from pipeline.indicators.self_leadership import INDEX_LABEL, self_leadership

D0 = dt.date(2026, 1, 5)


def test_gas_t_formula() -> None:
    assert gas_t([1], [0]) == 50
    assert gas_t([1, 1], [1, 1]) == pytest.approx(50 + 20 / math.sqrt(0.7 * 2 + 0.3 * 4))
    goals = pl.DataFrame(
        {"client_id": ["A", "A", "A"], "goal_id": ["g1", "g2", "g1"], "weight": [2, 1, 2],
         "rated_on": [D0, D0, D0 + dt.timedelta(days=28)], "attainment": [-2, 1, 1]}
    )  # fmt: skip
    t = gas_t_scores(goals)
    assert t["gas_t"].to_list() == pytest.approx([gas_t([2, 1], [-2, 1]), gas_t([2], [1])])
    assert t["goals_rated"].to_list() == [2, 1]


def _coaching(cid: str, resistance: list[int], kept: list[int], reason: str | None = None) -> tuple[dict, list[dict]]:
    discharged = D0 + dt.timedelta(days=200) if reason else None
    client = {"client_id": cid, "service": "coaching", "discharge_date": discharged,
              "discharge_reason": reason}  # fmt: skip
    sessions = [
        {"client_id": cid, "session_id": f"{cid}{i}", "session_date": D0 + dt.timedelta(days=7 * i), "kind": "regular",
         "status": "attended", "resistance": r, "commitments_set": 2, "commitments_kept": k}
        for i, (r, k) in enumerate(zip(resistance, kept, strict=True))
    ]  # fmt: skip
    return client, sessions


def _run(episodes: list[tuple[dict, list[dict]]], caseness: pl.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    clients = pl.DataFrame([c for c, _ in episodes])
    sessions = pl.DataFrame([s for _, ss in episodes for s in ss])
    goals = pl.DataFrame(schema={"client_id": pl.String, "goal_id": pl.String, "weight": pl.Int64, "rated_on": pl.Date,
                                 "attainment": pl.Int64})  # fmt: skip
    case = (
        caseness
        if caseness is not None
        else pl.DataFrame(schema={"client_id": pl.String, "administered_on": pl.Date, "clinical": pl.Boolean})
    )
    return {r["client_id"]: r for r in coaching_episodes(clients, sessions, goals, case).iter_rows(named=True)}


def test_choice_points_and_what_followed() -> None:
    out = _run([
        _coaching("A", [5, 8, 8, 8, 6, 5, 4], [0, 0, 0, 0, 2, 2, 2]),  # mean exactly 7 at session 3 qualifies
        _coaching("B", [8, 8, 7, 3], [0, 1, 0, 2], reason="referred_to_therapy"),
        _coaching("C", [6, 7, 7, 6], [0, 0, 0, 0]),  # mean resistance never reaches 7 over three sessions
        _coaching("D", [8, 8, 8], [2, 2, 2]),  # follow-through fine, not at caseness
    ])  # fmt: skip
    assert (out["A"]["choice_point_session"], out["A"]["after_choice_point"]) == (3, "continued_coaching")
    assert (out["B"]["choice_point_session"], out["B"]["after_choice_point"]) == (3, "referred_to_therapy")
    assert out["C"]["choice_point_date"] is None and out["C"]["after_choice_point"] is None
    assert out["D"]["choice_point_date"] is None
    assert out["A"]["follow_through"] == pytest.approx(6 / 12)  # kept / set in the previous session (6 sessions)


def test_choice_point_through_caseness() -> None:
    caseness = pl.DataFrame({"client_id": ["D"], "administered_on": [D0], "clinical": [True]})
    out = _run([_coaching("D", [8, 8, 8, 8], [2, 2, 2, 2])], caseness)
    assert (out["D"]["choice_point_session"], out["D"]["after_choice_point"]) == (3, "too_early")


def test_self_leadership_index_and_slope() -> None:
    points = pl.DataFrame(
        {"client_id": ["A"] * 7 + ["B"] * 2,
         "measure": ["self_score_pomp"] * 3 + ["clinician_self_energy"] * 2 + ["polarization"] * 2
         + ["self_score_pomp"] * 2,
         "session_number": [1, 5, 9, 1, 9, 1, 9, 1, 5],
         "value": [20.0, 40.0, 60.0, 4.0, 8.0, 8.0, 2.0, 50.0, 55.0]}
    )  # fmt: skip
    change = pl.DataFrame(
        {"client_id": ["A"], "instrument": ["ifs_self"], "paired": [True], "reliably_improved": [True]}
    )
    out = {r["client_id"]: r for r in self_leadership(points, change).iter_rows(named=True)}
    a = out["A"]
    assert a["slope_per_session_self_score_pomp"] == pytest.approx(5.0)  # 20 -> 60 over 8 sessions
    assert a["index_baseline"] == pytest.approx(0.5 * 20 + 0.25 * 40 + 0.25 * 20)
    assert a["index_latest"] == pytest.approx(0.5 * 60 + 0.25 * 80 + 0.25 * 80)
    assert a["ifs_self_reliably_improved"] is True and a["index_label"] == INDEX_LABEL
    b = out["B"]
    assert b["slope_per_session_self_score_pomp"] is None  # two points: no slope
    assert b["index_baseline"] == pytest.approx(50.0)  # only the Self score: weights renormalised
    assert "practice-defined" in INDEX_LABEL
