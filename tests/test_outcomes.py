"""The score and change stages inside `refresh`: given/expected on a tiny batch, invariants on the sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipeline import io
from pipeline.change import pair_baseline_latest, session_numbers
from pipeline.config import Paths
from pipeline.stages import refresh_batches
from tests.builders import AS_OF, GAD7_ITEMS, PHQ9_ITEMS, _items, valid_rows, write_batch


def _table(paths: Paths, sql: str) -> pl.DataFrame:
    with io.warehouse(paths.warehouse, read_only=True) as con:
        return io.query_pl(con, sql)


def _rows_with_follow_up() -> dict:
    rows = valid_rows()
    base = dict(rows["sessions"][1])
    for n, day in enumerate(["2026-01-19", "2026-01-26", "2026-02-02"], start=5):
        rows["sessions"].append({**base, "session_id": f"S000{n}", "session_date": day, "kind": "regular"})
    # PHQ-9 falls from 11 to 4 (7 points: reliably improved, and below caseness 10: recovered)
    rows["measures"] += _items("C0001", "S0007", "phq9", "2026-02-02", [1, 0, 1, 0, 1, 0, 1, 0, 0])
    # GAD-7 from 9 to 6 (3 points: not reliable with the NHS threshold of 4)
    rows["measures"] += _items("C0001", "S0006", "gad7", "2026-01-26", [1, 1, 1, 1, 1, 1, 0])
    # IFS Self: baseline late (first attended session 2026-01-05 + 14 days = 2026-01-19 is the last allowed day)
    rows["measures"] += _items("C0001", "S0006", "ifs_self", "2026-01-26", [3] * 9)
    rows["measures"] += _items("C0001", "S0007", "ifs_self", "2026-02-02", [4] * 9)
    # GAD-7 for C0002 with two items skipped: too many missing (allowance 1), so no score
    rows["measures"] += [
        {**m, "administered_on": "2026-03-01", "session_id": None, "value": None if i < 2 else m["value"]}
        for i, m in enumerate(_items("C0002", None, "gad7", "x", GAD7_ITEMS))
    ]
    return rows


@pytest.fixture
def loaded(tmp_path: Path, home: Paths) -> Paths:
    summary = refresh_batches(home, [write_batch(tmp_path / "b", _rows_with_follow_up())], AS_OF)
    assert summary.status == "loaded", summary.to_dict()
    return home


def test_scores_table(loaded: Paths) -> None:
    scores = _table(loaded, "SELECT * FROM scores ORDER BY client_id, instrument, administered_on")
    phq = scores.filter(pl.col("instrument") == "phq9")
    assert phq["score"].to_list() == [sum(PHQ9_ITEMS), 4.0]
    assert phq["source"].to_list() == ["items", "items"]  # complete items win over the supplied total
    assert phq["band"].to_list() == ["moderate", "minimal"]
    assert phq["pomp"][0] == pytest.approx(100 * 11 / 27)
    skipped = scores.filter((pl.col("client_id") == "C0002") & (pl.col("administered_on") == dt.date(2026, 3, 1)))
    assert skipped["score"].to_list() == [None] and skipped["incomplete_reason"].to_list() == ["too_many_missing_items"]
    assert scores.select(pl.struct("client_id", "instrument", "administered_on", "scale").is_unique().all()).item()
    assert set(scores["registry_version"]) == {scores["registry_version"][0]}


def test_client_change_table(loaded: Paths) -> None:
    change = _table(loaded, "SELECT * FROM client_change WHERE client_id = 'C0001'")
    by = {r["instrument"]: r for r in change.iter_rows(named=True)}
    phq = by["phq9"]
    assert (phq["baseline_score"], phq["latest_score"], phq["change"]) == (11.0, 4.0, -7.0)
    assert (phq["baseline_session_number"], phq["latest_session_number"], phq["n_administrations"]) == (1, 4, 2)
    assert phq["rc_rule"] == "points" and phq["rc_threshold"] == 6
    assert phq["reliably_improved"] and not phq["reliably_deteriorated"]
    assert (phq["clinical_baseline"], phq["clinical_latest"], phq["category"]) == (True, False, "recovered")
    gad = by["gad7"]
    assert gad["baseline_date"] == dt.date(2026, 1, 2)  # pre-intake administration is the baseline
    assert (gad["change"], gad["reliably_improved"], gad["category"]) == (-3.0, False, "unchanged")
    ifs = by["ifs_self"]
    assert ifs["baseline_date"] is None and not ifs["paired"] and ifs["category"] is None
    assert ifs["rc_rule"] == "jacobson_truax" and ifs["rc_sd"] == 7.34 and ifs["rc_sd_source"] == "registry"


def test_baseline_window_boundary() -> None:
    scores = pl.DataFrame(
        {"client_id": ["A", "A", "B", "B"], "instrument": "ifs_self", "scale": "total",
         "administered_on": [dt.date(2026, 1, 15), dt.date(2026, 2, 1), dt.date(2026, 1, 16), dt.date(2026, 2, 1)],
         "score": [20.0, 30.0, 20.0, 30.0]}
    )  # fmt: skip
    sessions = pl.DataFrame(
        {"client_id": ["A", "B", "B"],
         "session_date": [dt.date(2026, 1, 1), dt.date(2025, 12, 20), dt.date(2026, 1, 2)],
         "kind": ["intake", "consultation", "intake"], "status": ["attended", "attended", "attended"]}
    )  # fmt: skip
    pairs = pair_baseline_latest(scores, sessions).sort("client_id")
    # A: 2026-01-15 is exactly first session + 14 days -> baseline; B: consultations don't count, 01-16 = 01-02 + 14
    assert pairs["paired"].to_list() == [True, True]
    late = scores.with_columns(pl.col("administered_on") + pl.duration(days=1))
    assert pair_baseline_latest(late, sessions)["baseline_date"].to_list() == [None, None]


def test_session_numbers_count_attended_treatment_sessions() -> None:
    sessions = pl.DataFrame(
        {"client_id": ["A"] * 4, "session_date": [dt.date(2026, 1, d) for d in (1, 8, 15, 22)],
         "kind": ["consultation", "intake", "regular", "regular"],
         "status": ["attended", "attended", "no_show", "attended"]}
    )  # fmt: skip
    events = pl.DataFrame({"client_id": ["A"] * 4, "d": [dt.date(2026, 1, d) for d in (1, 8, 20, 30)]})
    assert session_numbers(events, sessions, "d").to_list() == [0, 1, 1, 2]


def test_invariants_on_the_sample(sample_batch: Path, home: Paths) -> None:
    refresh_batches(home, [sample_batch], dt.date(2026, 10, 31))
    change = _table(home, "SELECT * FROM client_change")
    assert change.select(pl.struct("client_id", "instrument", "scale").is_unique().all()).item()
    paired = change.filter("paired")
    assert (paired["latest_date"] > paired["baseline_date"]).all()
    assert paired["category"].null_count() == 0
    assert change.filter(~pl.col("paired"))["category"].null_count() == change.filter(~pl.col("paired")).height
    assert (paired["change"] == paired["latest_score"] - paired["baseline_score"]).all()
    # numerator <= denominator: reliably improved among paired
    assert paired["reliably_improved"].sum() <= paired.height
    clients = _table(home, "SELECT client_id FROM clients")
    assert set(change["client_id"]) <= set(clients["client_id"])
    reliability = _table(home, "SELECT * FROM scale_reliability")
    assert reliability.filter(pl.col("instrument") == "self_energy_8c")["reliability_source"].to_list() == ["estimated"]
    assert reliability["reliability_used"].null_count() == 0
