"""Given/expected tests of the episode-level SQL tables (`pipeline/sql/intermediate/`): a few rows in a real DuckDB
warehouse, exact rows out — including a missing-data and a boundary case for each."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from tests.sql_harness import AS_OF, D0, build, rows, warehouse, weeks, with_settings

D = dt.date


# --- episodes: engagement facts and dimensions ----------------------------------------------------------------


def _engagement(**settings: Any) -> dict[str, dict[str, Any]]:
    clients = [
        {"client_id": "A", "intake_date": D(2026, 1, 5), "discharge_date": D(2026, 3, 1),
         "discharge_reason": "completed", "helping_professional": True, "profession": "nurse"},
        {"client_id": "B", "intake_date": D(2026, 8, 1)},  # open, last attended exactly 42 days before: not lapsed
        {"client_id": "C", "intake_date": D(2026, 8, 1)},  # open, 43 days: lapsed
        {"client_id": "E", "intake_date": None},  # consultation only
        {"client_id": "F", "intake_date": D(2026, 2, 1), "discharge_date": D(2026, 4, 1),
         "discharge_reason": "lost_contact"},
        {"client_id": "G", "intake_date": D(2026, 2, 1), "discharge_date": D(2026, 4, 1), "discharge_reason": "other"},
    ]  # fmt: skip

    def s(cid: str, day: dt.date, kind: str = "regular", status: str = "attended", modality: str = "in_person",
          location: str | None = "L1") -> dict[str, Any]:  # fmt: skip
        return {"client_id": cid, "session_date": day, "kind": kind, "status": status, "modality": modality,
                "location_id": location if modality == "in_person" else None,
                "duration_min": 50 if status == "attended" else None}  # fmt: skip

    sessions = [
        s("A", D(2025, 12, 28), kind="consultation", modality="telehealth"),
        s("A", D(2026, 1, 5), kind="intake", location="L2"),
        s("A", D(2026, 1, 12), location="L2"),
        s("A", D(2026, 1, 19), location="L1"),
        s("A", D(2026, 1, 26), modality="telehealth"),
        s("A", D(2026, 2, 2), status="no_show"),
        s("A", D(2026, 2, 9), status="cancelled"),
        s("B", AS_OF - dt.timedelta(days=42), kind="intake"),
        s("C", AS_OF - dt.timedelta(days=43), kind="intake", modality="telehealth"),
        s("C", AS_OF - dt.timedelta(days=50), modality="in_person"),
        s("E", D(2026, 5, 1), kind="consultation"),
    ]
    con = warehouse(clients, sessions)
    build(con, with_settings(engagement=settings) if settings else with_settings())
    return rows(con, "episodes")


def test_episode_counts_and_rates() -> None:
    a = _engagement()["A"]
    assert (a["scheduled"], a["attended"], a["cancelled"], a["no_show"]) == (6, 4, 1, 1)
    assert a["attendance_rate"] == pytest.approx(4 / 6)
    assert a["consultations_attended"] == 1  # consultations are counted apart, never as treatment
    assert a["median_gap_days"] == 7
    assert a["first_attended_date"] == D(2026, 1, 5) and a["mean_duration_min"] == 50


def test_episode_dimensions() -> None:
    e = _engagement()
    a = e["A"]
    assert (a["in_person_attended"], a["telehealth_attended"]) == (3, 1)
    assert a["modality"] == "in_person"  # exactly 75% in person: the boundary counts
    assert a["location"] == "L2"  # two sessions at L2, one at L1
    assert (a["practice"], a["cohort"]) == ("PR01", "helping_professional")
    assert e["C"]["modality"] == "mixed" and e["B"]["cohort"] == "other_clients"
    # missing data: no attended treatment session -> modality and location `none`, never null
    assert (e["E"]["modality"], e["E"]["location"], e["E"]["attended"]) == ("none", "none", 0)


def test_the_modality_share_setting_decides_modality() -> None:
    assert _engagement(modality_share=0.8)["A"]["modality"] == "mixed"  # 75% in person is below 80%


def test_endings_and_the_lapse_boundary() -> None:
    e = _engagement()
    assert [e[c]["ending"] for c in "AFG"] == ["planned", "unplanned", "other"]
    assert e["B"]["lapsed"] is False and e["C"]["lapsed"] is True
    assert e["A"]["lapsed"] is False  # ended episodes are not lapsed
    assert e["E"]["lapsed"] is False and e["E"]["consultation_only"] is True
    assert _engagement(lapse_days=41)["B"]["lapsed"] is True  # the setting moves the boundary


# --- treatment sessions and session numbers -----------------------------------------------------------------


def test_session_numbers_count_attended_treatment_sessions_on_or_before_a_date() -> None:
    sessions = [
        {"client_id": "A", "session_date": D0 - dt.timedelta(days=5), "kind": "consultation"},
        {"client_id": "A", "session_date": D0, "kind": "intake"},
        {"client_id": "A", "session_date": D0 + dt.timedelta(days=7), "status": "no_show", "duration_min": None},
        {"client_id": "A", "session_date": D0 + dt.timedelta(days=14)},
    ]
    scores = [{"client_id": "A", "administered_on": day, "score": 10.0} for day in
              (D0 - dt.timedelta(days=3), D0, D0 + dt.timedelta(days=10), D0 + dt.timedelta(days=14))]  # fmt: skip
    con = warehouse([{"client_id": "A"}], sessions, scores=scores)
    build(con)
    numbered = rows(con, "treatment_sessions", "session_date")
    assert [r["session_number"] for r in sorted(numbered.values(), key=lambda r: r["session_date"])] == [1, 2]
    found = rows(con, "scored_administrations", "administered_on")
    # before the first treatment session 0; on its day 1; the no-show does not count; on the second's day 2
    assert [found[d]["session_number"] for d in sorted(found)] == [0, 1, 1, 2]


# --- the Self scale, Self points and M5 events ----------------------------------------------------------------


def _self_change(cid: str, instrument: str, baseline: dt.date | None, score: float | None = 40.0) -> dict[str, Any]:
    scale = "total" if instrument == "ifs_self" else "self_energy"
    return {"client_id": cid, "instrument": instrument, "scale": scale, "higher_is_better": True,
            "baseline_date": baseline, "baseline_score": score if baseline else None, "paired": baseline is not None,
            "rc_rule": "jacobson_truax", "rc_threshold": 10.0}  # fmt: skip


def _self_score(cid: str, instrument: str, day: dt.date, score: float) -> dict[str, Any]:
    scale = "total" if instrument == "ifs_self" else "self_energy"
    return {
        "client_id": cid,
        "instrument": instrument,
        "scale": scale,
        "administered_on": day,
        "score": score,
        "pomp": score,
    }


def test_one_rule_decides_an_episodes_self_scale() -> None:
    """IFS Self with a baseline first, then the 8 Cs with a baseline, then whichever was given (IFS Self first)."""
    days = weeks(D0, 3)
    scores = [
        *(_self_score("A", i, d, 40) for i in ("ifs_self", "self_energy_8c") for d in days),  # both with baseline
        *(_self_score("B", "ifs_self", d, 40) for d in days[2:]),  # IFS Self only late: no baseline on it ...
        *(_self_score("B", "self_energy_8c", d, 40) for d in days),  # ... but the 8 Cs from the start
        *(_self_score("C", "ifs_self", d, 40) for d in days[2:]),  # neither has a baseline
        *(_self_score("C", "self_energy_8c", d, 40) for d in days[2:]),
        _self_score("D", "self_energy_8c", days[0], 40),  # only the 8 Cs
    ]
    change = [
        _self_change("A", "ifs_self", days[0]), _self_change("A", "self_energy_8c", days[0]),
        _self_change("B", "ifs_self", None), _self_change("B", "self_energy_8c", days[0]),
        _self_change("C", "ifs_self", None), _self_change("C", "self_energy_8c", None),
        _self_change("D", "self_energy_8c", days[0]),
    ]  # fmt: skip
    con = warehouse([{"client_id": c} for c in "ABCDE"], scores=scores, client_change=change)
    build(con)
    chosen = {cid: r["instrument"] for cid, r in rows(con, "self_scale").items()}
    assert chosen == {"A": "ifs_self", "B": "self_energy_8c", "C": "ifs_self", "D": "self_energy_8c"}  # E: none


def test_self_events_need_reliable_improvement_now_and_at_the_next_administration() -> None:
    days = weeks(D0, 6)
    sessions = [{"client_id": "A", "session_date": d} for d in days]
    # baseline 40; threshold 10 (Jacobson-Truax: strictly more); 50 is not reliable, 51 is, 49 breaks the run
    values = [40.0, 51.0, 49.0, 52.0, 55.0, 60.0]
    scores = [_self_score("A", "ifs_self", d, v) for d, v in zip(days, values, strict=True)]
    con = warehouse([{"client_id": "A"}], sessions, scores=scores, client_change=[_self_change("A", "ifs_self", D0)])
    build(con)
    events = sorted(r[0] for r in con.execute("SELECT session_number FROM self_events").fetchall())
    assert events == [4, 5, 6]  # 51 at session 2 is followed by 49: not held; the last one needs no next
    points = con.execute(
        "SELECT session_number, value FROM self_points WHERE measure = 'self_score_pomp' ORDER BY 1"
    ).fetchall()
    assert points == [(1, 40.0), (2, 51.0), (3, 49.0), (4, 52.0), (5, 55.0), (6, 60.0)]


# --- milestones ----------------------------------------------------------------------------------------------

TRUST = {"protector_trust": 7, "unblending": "partial"}
EXILE = {"exile_contact": True, "protector_permission": True}


def _milestones(
    episodes: dict[str, list[dict[str, Any]]], events: dict[str, list[int]] | None = None, trust_min: int = 7
) -> dict[str, dict[str, Any]]:
    sessions = [
        {"client_id": cid, "session_date": day, **marks}
        for cid, marks_list in episodes.items()
        for day, marks in zip(weeks(D0, len(marks_list)), marks_list, strict=True)
    ]
    con = warehouse([{"client_id": c} for c in episodes], sessions)
    build(con, with_settings(process={"protector_trust_min": trust_min}))
    if events:
        con.execute("DELETE FROM self_events")
        for cid, numbers in events.items():
            con.executemany("INSERT INTO self_events VALUES (?, ?)", [(cid, n) for n in numbers])
        from pipeline import io

        io.create_temp_table(con, "milestones", io.sql_text("intermediate", "milestones"), {"protector_trust_min": 7})
    return rows(con, "milestones")


def test_protector_trust_boundary_and_its_setting() -> None:
    episodes = {
        "A": [{}, {"protector_trust": 6, "unblending": "full"}, TRUST],
        "B": [{"protector_trust": 10, "unblending": "none"}, {"protector_trust": 8, "unblending": None}],
    }
    out = _milestones(episodes)
    assert (out["A"]["m1_session"], out["A"]["m1_days"], out["A"]["stage_reached"]) == (3, 14, 1)
    assert out["B"]["m1_session"] is None and out["B"]["stage_reached"] == 0  # a null marker never qualifies
    assert _milestones(episodes, trust_min=6)["A"]["m1_session"] == 2


def test_milestones_in_order_and_the_same_session_counts() -> None:
    out = _milestones({"A": [TRUST | EXILE, {"unburdening": "partial"}, {"protector_release": "complete"},
                             {"unburdening": "complete"}]})  # fmt: skip
    a = out["A"]
    assert [a[f"m{k}_session"] for k in range(1, 6)] == [1, 1, 2, 3, None]
    assert a["stage_reached"] == 4
    assert all(a[k] == 0 for k in ("m2_before_m1", "m3_before_m2", "m4_before_m3", "m5_before_m4"))


def test_exile_contact_before_trust_is_a_deviation_and_waits_for_m1() -> None:
    a = _milestones({"A": [EXILE, {"exile_contact": True, "protector_permission": False}, TRUST, {}, EXILE]})["A"]
    assert a["m2_before_m1"] == 1 and a["exile_contact_without_permission"] == 1
    assert (a["m1_session"], a["m2_session"], a["stage_reached"]) == (3, 5, 2)


def test_a_later_milestone_without_the_earlier_never_counts() -> None:
    a = _milestones({"A": [{"unburdening": "complete"}, {"protector_release": "partial"}, {}]})["A"]
    assert a["stage_reached"] == 0 and a["m3_session"] is None
    assert (a["m3_before_m2"], a["m4_before_m3"]) == (1, 1)


def test_m5_from_self_events_and_the_censoring_point() -> None:
    episode = [TRUST, EXILE, {"unburdening": "partial"}, {"protector_release": "partial"}, {}, {}]
    a = _milestones({"A": episode}, events={"A": [2, 5]})["A"]
    assert a["m5_session"] == 5 and a["m5_before_m4"] == 1 and a["stage_reached"] == 5
    assert (a["last_session"], a["last_days"]) == (6, 35)


def test_consultations_and_missed_sessions_are_not_counted() -> None:
    a = _milestones({"A": [{"kind": "consultation", **TRUST}, {"status": "no_show", "duration_min": None, **TRUST},
                           {}, TRUST]})["A"]  # fmt: skip
    assert (a["m1_session"], a["last_session"], a["first_session_date"]) == (2, 2, D0 + dt.timedelta(days=14))


# --- coaching ------------------------------------------------------------------------------------------------


def _coaching(
    episodes: dict[str, tuple[list[int], list[int], str | None]],
    caseness: dict[str, dt.date] | None = None,
    goals: list[dict[str, Any]] = (),  # type: ignore[assignment]
    **settings: Any,
) -> dict[str, dict[str, Any]]:
    clients, sessions = [], []
    for cid, (resistance, kept, reason) in episodes.items():
        clients.append({"client_id": cid, "service": "coaching", "discharge_reason": reason,
                        "discharge_date": D0 + dt.timedelta(days=200) if reason else None})  # fmt: skip
        sessions += [
            {"client_id": cid, "session_date": day, "resistance": r, "commitments_set": 2, "commitments_kept": k}
            for day, r, k in zip(weeks(D0, len(resistance)), resistance, kept, strict=True)
        ]
    scores, change = [], []
    for cid, day in (caseness or {}).items():
        scores.append({"client_id": cid, "administered_on": day, "score": 14.0})
        change.append({"client_id": cid, "instrument": "phq9", "scale": "total", "cutoff": 10.0,
                       "higher_is_better": False})  # fmt: skip
    con = warehouse(clients, sessions, goals=goals, scores=scores, client_change=change)
    build(con, with_settings(coaching=settings) if settings else with_settings())
    return rows(con, "coaching_episodes")


def test_choice_points_and_what_followed() -> None:
    out = _coaching({
        "A": ([5, 8, 8, 8, 6, 5, 4], [0, 0, 0, 0, 2, 2, 2], None),  # mean exactly 7 at session 3 qualifies
        "B": ([8, 8, 7, 3], [0, 1, 0, 2], "referred_to_therapy"),
        "C": ([6, 7, 7, 6], [0, 0, 0, 0], None),  # mean resistance never reaches 7 over three sessions
        "D": ([8, 8, 8], [2, 2, 2], None),  # follow-through fine, not at caseness
    })  # fmt: skip
    assert (out["A"]["choice_point_session"], out["A"]["after_choice_point"]) == (3, "continued_coaching")
    assert (out["B"]["choice_point_session"], out["B"]["after_choice_point"]) == (3, "season_of_therapy")
    assert out["C"]["choice_point_date"] is None and out["C"]["after_choice_point"] is None
    assert out["D"]["choice_point_date"] is None
    assert out["A"]["follow_through"] == pytest.approx(6 / 12)  # kept / set in the previous session (6 sessions)


def test_the_three_routes_after_a_choice_point() -> None:
    """The coaching seed's routes: a season of therapy (referred), coaching and therapy combined (a combined
    episode: assessed too), IFS healing sessions within coaching (a later session with exile contact or an
    unburdening) — before continued coaching and other endings."""
    resistance, kept = [8, 8, 8, 5, 5, 5], [0, 0, 0, 1, 1, 1]
    clients = [
        {"client_id": "T", "service": "coaching", "discharge_date": D0 + dt.timedelta(days=60),
         "discharge_reason": "referred_to_therapy"},
        {"client_id": "K", "service": "combined"},
        {"client_id": "H", "service": "coaching"},
        {"client_id": "U", "service": "coaching"},
        {"client_id": "O", "service": "coaching", "discharge_date": D0 + dt.timedelta(days=60),
         "discharge_reason": "client_withdrew"},
        {"client_id": "Y", "service": "therapy"},
    ]  # fmt: skip
    sessions = []
    for c in clients:
        n = 4 if c["client_id"] == "O" else len(resistance)
        for i, day in enumerate(weeks(D0, n)):
            extra = {}
            if c["client_id"] == "H" and i == 4:
                extra = {"exile_contact": True}
            if c["client_id"] == "U" and i == 5:
                extra = {"unburdening": "partial"}
            if c["client_id"] == "T" and i == 1:  # healing work before the choice point does not count
                extra = {"exile_contact": True}
            sessions.append({"client_id": c["client_id"], "session_date": day, "resistance": resistance[i],
                             "commitments_set": 2, "commitments_kept": kept[i], **extra})  # fmt: skip
    con = warehouse(clients, sessions)
    build(con)
    out = rows(con, "coaching_episodes")
    routes = {cid: row["after_choice_point"] for cid, row in out.items()}
    assert routes == {"T": "season_of_therapy", "K": "coaching_and_therapy", "H": "healing_within_coaching",
                      "U": "healing_within_coaching", "O": "ended_otherwise"}  # fmt: skip
    assert "Y" not in out and out["K"]["service"] == "combined"  # therapy episodes are not coaching episodes


def test_choice_point_through_caseness_and_the_settings() -> None:
    out = _coaching({"D": ([8, 8, 8, 8], [2, 2, 2, 2], None)}, caseness={"D": D0})
    assert (out["D"]["choice_point_session"], out["D"]["after_choice_point"]) == (3, "too_early")
    c = {"C": ([6, 7, 7, 6], [0] * 4, None)}
    assert _coaching(c, choice_point_resistance=6.5)["C"]["choice_point_session"] == 3
    assert _coaching(c, choice_point_window=2)["C"]["choice_point_session"] == 3


def test_gas_t_scores_by_the_kiresuk_sherman_formula() -> None:
    goals = [
        {"client_id": "A", "goal_id": "g1", "weight": 2, "set_on": D0, "rated_on": D0, "attainment": -2},
        {"client_id": "A", "goal_id": "g2", "weight": 1, "set_on": D0, "rated_on": D0, "attainment": 1},
        {"client_id": "A", "goal_id": "g1", "weight": 2, "set_on": D0, "rated_on": D0 + dt.timedelta(days=28),
         "attainment": 1},
    ]  # fmt: skip
    con = warehouse([{"client_id": "A", "service": "coaching"}], goals=goals)
    build(con)
    found = con.execute("SELECT goals_rated, gas_t FROM gas_scores ORDER BY rated_on").fetchall()
    first = 50 + 10 * (2 * -2 + 1 * 1) / math.sqrt(0.7 * (4 + 1) + 0.3 * 3**2)
    second = 50 + 10 * (2 * 1) / math.sqrt(0.7 * 4 + 0.3 * 2**2)
    assert [n for n, _ in found] == [2, 1]
    assert [t for _, t in found] == pytest.approx([first, second])
    coaching = rows(con, "coaching_episodes")["A"]
    assert coaching["gas_t_change"] == pytest.approx(second - first) and coaching["gas_ratings"] == 2


# --- self-leadership per episode --------------------------------------------------------------------------------


def test_self_leadership_index_and_slope() -> None:
    days = weeks(D0, 9)
    sessions = [{"client_id": "A", "session_date": d} for d in days]
    sessions[0] |= {"self_energy": 4, "polarization": 8}
    sessions[8] |= {"self_energy": 8, "polarization": 2}
    sessions += [{"client_id": "B", "session_date": d} for d in days[:5]]
    scores = [_self_score("A", "ifs_self", days[i], v) for i, v in ((0, 20.0), (4, 40.0), (8, 60.0))]
    scores += [_self_score("B", "ifs_self", days[i], v) for i, v in ((0, 50.0), (4, 55.0))]
    change = [_self_change("A", "ifs_self", days[0], 20.0) | {"reliably_improved": True},
              _self_change("B", "ifs_self", days[0], 50.0)]  # fmt: skip
    con = warehouse([{"client_id": "A"}, {"client_id": "B"}], sessions, scores=scores, client_change=change)
    build(con)
    out = rows(con, "self_leadership")
    a = out["A"]
    assert a["slope_per_session_self_score_pomp"] == pytest.approx(5.0)  # 20 -> 60 over 8 sessions
    assert a["index_baseline"] == pytest.approx(0.5 * 20 + 0.25 * 40 + 0.25 * 20)
    assert a["index_latest"] == pytest.approx(0.5 * 60 + 0.25 * 80 + 0.25 * 80)
    assert a["ifs_self_reliably_improved"] is True
    b = out["B"]
    assert b["slope_per_session_self_score_pomp"] is None  # two points: no slope
    assert b["index_baseline"] == pytest.approx(50.0)  # only the Self score: weights renormalised
    con2 = warehouse([{"client_id": "A"}], sessions[:9], scores=scores[:3], client_change=change[:1])
    build(con2, with_settings(self_leadership={"index_weights": (1.0, 0.0, 0.0)}))
    assert rows(con2, "self_leadership")["A"]["index_baseline"] == pytest.approx(20.0)  # the weights setting


# --- not on track and risk items ------------------------------------------------------------------------------


def _not_on_track(changes: list[float], bands: list[str] | None = None, **settings: Any) -> dict[str, dict[str, Any]]:
    """Episodes E00.. each with a baseline PHQ-9 of 15 and one administration at session number 3."""
    ids = [f"E{i:02d}" for i in range(len(changes))]
    bands = bands or ["moderately severe"] * len(changes)
    day3 = D0 + dt.timedelta(days=14)
    sessions = [{"client_id": c, "session_date": d} for c in ids for d in weeks(D0, 3)]
    scores = [
        {"client_id": c, "administered_on": D0, "score": 15.0, "band": b} for c, b in zip(ids, bands, strict=True)
    ]
    scores += [{"client_id": c, "administered_on": day3, "score": 15.0 + x} for c, x in zip(ids, changes, strict=True)]
    change = [{"client_id": c, "instrument": "phq9", "scale": "total", "higher_is_better": False, "baseline_date": D0,
               "baseline_score": 15.0, "paired": True} for c in ids]  # fmt: skip
    con = warehouse([{"client_id": c} for c in ids], sessions, scores=scores, client_change=change)
    build(con, with_settings(alerts=settings) if settings else with_settings())
    return rows(con, "not_on_track")


def test_worst_fifth_of_the_others_is_not_on_track() -> None:
    v = _not_on_track([5.0] + [-(i % 10) for i in range(1, 40)])  # E00 got 5 points worse, the rest improved 0..9
    assert v["E00"]["not_on_track"] is True and v["E00"]["reference_n"] == 39
    assert v["E00"]["session_number"] == 3 and v["E00"]["better_change"] == -5.0
    assert all(r["not_on_track"] is False for r in v.values() if r["better_change"] == 9.0)


def test_boundary_exactly_a_fifth_worse_is_on_track_and_the_share_setting() -> None:
    changes = [3.0] * 6 + [2.0] + [-5.0] * 24  # E06: exactly 6 of the 30 others (20%) are worse
    assert _not_on_track(changes)["E06"]["not_on_track"] is False
    assert _not_on_track(changes)["E00"]["not_on_track"] is True  # nobody worse than the worst
    assert _not_on_track(changes, worst_share=0.25)["E06"]["not_on_track"] is True


def test_small_cells_pool_bands_and_tiny_pools_are_not_assessed() -> None:
    v = _not_on_track([4.0] + [-3.0] * 34, ["mild"] * 5 + ["severe"] * 30)
    assert v["E00"]["reference_pooled"] is True and v["E00"]["reference_n"] == 34 and v["E00"]["not_on_track"] is True
    assert v["E10"]["reference_pooled"] is False and v["E10"]["reference_n"] == 29
    assert _not_on_track([4.0] + [-3.0] * 10)["E00"]["not_on_track"] is None  # 11 episodes: not assessed
    assert _not_on_track([4.0] + [-3.0] * 10, min_reference=10)["E00"]["not_on_track"] is True


def test_risk_items_positive_zero_and_skipped() -> None:
    measures = []
    for client, value in (("A", 1.0), ("B", 0.0), ("C", None)):
        measures += [{"client_id": client, "instrument": "phq9", "administered_on": D0, "item": f"phq9_{i}",
                      "value": 1.0} for i in range(1, 9)]  # fmt: skip
        measures.append({"client_id": client, "instrument": "phq9", "administered_on": D0, "item": "phq9_9",
                         "value": value})  # fmt: skip
    measures.append({"client_id": "A", "instrument": "phq9", "administered_on": D0 - dt.timedelta(days=7),
                     "item": "phq9_9", "value": 3.0})  # fmt: skip
    con = warehouse([{"client_id": c} for c in "ABC"], measures=measures)
    build(con)
    out = rows(con, "risk_answers")
    assert (out["A"]["risk_positive"], out["A"]["risk_value"]) == (True, 1.0)  # the latest, not the earlier 3
    assert (out["B"]["risk_positive"], out["B"]["risk_unanswered"]) == (False, False)
    assert (out["C"]["risk_positive"], out["C"]["risk_unanswered"]) == (False, True)  # skipped: not a risk flag
    assert out["A"]["risk_items"] == "phq9_9"  # from the registry's `risk`, not written in the SQL
