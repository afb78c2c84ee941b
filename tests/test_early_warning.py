"""Early warning flags: given/expected on hand-built episodes, including the pooling and item-9 rules."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipeline.indicators.early_warning import CAVEAT, not_on_track, phq9_item9

D0 = dt.date(2026, 1, 5)


def _frames(changes: list[float], bands: list[str] | None = None) -> tuple[pl.DataFrame, ...]:
    """Episodes E00.. each with a baseline PHQ-9 of 15 and one administration at session number 3."""
    ids = [f"E{i:02d}" for i in range(len(changes))]
    bands = bands or ["moderately severe"] * len(changes)
    day3 = D0 + dt.timedelta(days=14)
    scores = pl.DataFrame(
        {"client_id": ids * 2, "instrument": "phq9", "scale": "total",
         "administered_on": [D0] * len(ids) + [day3] * len(ids),
         "score": [15.0] * len(ids) + [15.0 + c for c in changes], "band": bands + [None] * len(ids)}
    )  # fmt: skip
    pairs = pl.DataFrame(
        {"client_id": ids, "instrument": "phq9", "scale": "total", "baseline_date": D0, "baseline_score": 15.0}
    )
    sessions = pl.DataFrame(
        {"client_id": [c for c in ids for _ in range(3)],
         "session_date": [D0 + dt.timedelta(days=7 * k) for _ in ids for k in range(3)],
         "kind": "regular", "status": "attended"}
    )  # fmt: skip
    direction = pl.DataFrame({"instrument": ["phq9"], "scale": ["total"], "higher_is_better": [False]})
    return scores, pairs, sessions, direction


def _verdicts(changes: list[float], bands: list[str] | None = None) -> dict[str, dict]:
    out = not_on_track(*_frames(changes, bands))
    return {r["client_id"]: r for r in out.iter_rows(named=True)}


def test_worst_fifth_of_the_others_is_not_on_track() -> None:
    # 40 episodes: E00 got 5 points worse, everyone else improved by 0..-9 points
    changes = [5.0] + [-(i % 10) for i in range(1, 40)]
    v = _verdicts(changes)
    assert v["E00"]["not_on_track"] is True and v["E00"]["reference_n"] == 39
    assert v["E00"]["session_number"] == 3 and v["E00"]["better_change"] == -5.0
    improved_most = [k for k, r in v.items() if r["better_change"] == 9.0]
    assert all(v[k]["not_on_track"] is False for k in improved_most)


def test_boundary_exactly_a_fifth_worse_is_on_track() -> None:
    # 31 episodes: 6 changed by +3 (worst), E06 by +2: exactly 6 of the 30 others (20%) are worse -> on track
    changes = [3.0] * 6 + [2.0] + [-5.0] * 24
    v = _verdicts(changes)
    assert v["E06"]["not_on_track"] is False
    assert v["E00"]["not_on_track"] is True  # nobody worse than the worst


def test_small_cells_pool_bands_and_tiny_pools_are_not_assessed() -> None:
    changes = [4.0] + [-3.0] * 34
    bands = ["mild"] * 5 + ["severe"] * 30
    v = _verdicts(changes, bands)
    assert v["E00"]["reference_pooled"] is True and v["E00"]["reference_n"] == 34 and v["E00"]["not_on_track"] is True
    assert v["E10"]["reference_pooled"] is False and v["E10"]["reference_n"] == 29
    few = _verdicts([4.0] + [-3.0] * 10)
    assert few["E00"]["not_on_track"] is None  # 11 episodes: not assessed


def test_item9_positive_zero_and_skipped() -> None:
    rows = []
    for client, value in (("A", 1.0), ("B", 0.0), ("C", None)):
        rows += [
            {"client_id": client, "instrument": "phq9", "administered_on": D0, "item": f"phq9_{i}", "value": 1.0}
            for i in range(1, 9)
        ]
        rows.append(
            {"client_id": client, "instrument": "phq9", "administered_on": D0, "item": "phq9_9", "value": value}
        )
    rows.append(
        {
            "client_id": "A",
            "instrument": "phq9",
            "administered_on": D0 - dt.timedelta(days=7),
            "item": "phq9_9",
            "value": 3.0,
        }
    )
    out = {r["client_id"]: r for r in phq9_item9(pl.DataFrame(rows)).iter_rows(named=True)}
    assert (out["A"]["item9_positive"], out["A"]["item9_value"]) == (True, 1.0)  # the latest, not the earlier 3
    assert (out["B"]["item9_positive"], out["B"]["item9_unanswered"]) == (False, False)
    assert (out["C"]["item9_positive"], out["C"]["item9_unanswered"]) == (False, True)
    assert "not a safety system" in CAVEAT
