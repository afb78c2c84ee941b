"""Scoring per the registry: reverse items, sum/mean, proration within the allowance, POMP."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.score import score_items
from schemas.registry import default_registry

DAY = dt.date(2026, 1, 5)


def _admin(instrument: str, values: dict[str, float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "client_id": "C0001",
            "instrument": instrument,
            "administered_on": DAY,
            "item": list(values),
            "value": list(values.values()),
        },
        schema_overrides={"value": pl.Float64},
    )


def _scores(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["scale"]: r for r in score_items(frame, default_registry()).iter_rows(named=True)}


def test_sum_and_pomp() -> None:
    s = _scores(_admin("phq9", {f"phq9_{i}": 1.0 for i in range(1, 10)}))["total"]
    assert (s["score"], s["prorated"], s["incomplete"]) == (9.0, False, False)
    assert abs(s["pomp"] - 100 * 9 / 27) < 1e-12


def test_proration_within_allowance_and_null_beyond() -> None:
    one_missing = {f"phq9_{i}": 2.0 for i in range(1, 9)} | {"phq9_9": None}
    s = _scores(_admin("phq9", one_missing))["total"]
    assert (s["score"], s["prorated"], s["n_answered"]) == (18.0, True, 8)
    two_missing = {f"phq9_{i}": 2.0 for i in range(1, 8)}
    s = _scores(_admin("phq9", two_missing))["total"]
    assert s["score"] is None and s["incomplete"] and not s["prorated"]


def test_reverse_items_and_subscales() -> None:
    values = {f"proqol5_{i}": 5.0 for i in range(1, 31)}
    s = _scores(_admin("proqol5", values))
    assert s["compassion_satisfaction"]["score"] == 50
    assert s["secondary_traumatic_stress"]["score"] == 50
    assert s["burnout"]["score"] == 5 * 5 + 5 * 1  # five reversed items count 1 each


def test_mean_scale() -> None:
    items = default_registry()["self_energy_8c"].item_ids
    s = _scores(_admin("self_energy_8c", dict(zip(items, [4.0, 6.0, 5.0, 5.0, 5.0, 5.0, None, 6.0], strict=True))))
    assert s["self_energy"]["score"] == (4 + 6 + 5 * 4 + 6) / 7 and s["self_energy"]["prorated"]


def test_supplied_scale_rows_are_ignored() -> None:
    frame = pl.concat([_admin("gad7", {f"gad7_{i}": 1.0 for i in range(1, 8)}), _admin("gad7", {"total": 99.0})])
    assert _scores(frame)["total"]["score"] == 7


@settings(max_examples=60, deadline=None)
@given(data=st.data(), instrument=st.sampled_from(["phq9", "gad7", "proqol5", "ifs_self", "self_energy_8c"]))
def test_scores_stay_in_range(data: st.DataObject, instrument: str) -> None:
    inst = default_registry()[instrument]
    values = {
        item: data.draw(st.one_of(st.none(), st.integers(int(inst.item_min), int(inst.item_max)).map(float)))
        for item in inst.item_ids
    }
    for scale_id, row in _scores(_admin(instrument, values)).items():
        scale = inst.scales[scale_id]
        if row["score"] is None:
            assert row["n_items"] - row["n_answered"] > scale.max_missing or row["n_answered"] == 0
        else:
            assert scale.min - 1e-9 <= row["score"] <= scale.max + 1e-9
            assert -1e-9 <= row["pomp"] <= 100 + 1e-9
