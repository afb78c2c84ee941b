"""Given/expected test of pipeline/sql/intermediate/episode_engagement.sql on an in-memory DuckDB."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipeline import io

AS_OF = dt.date(2026, 10, 31)
D = dt.date


def _client(cid: str, intake: dt.date | None, discharge: dt.date | None = None, reason: str | None = None) -> tuple:
    return (cid, "PR01", "CL01", "therapy", intake, None, None, False, None, None, discharge, reason, "b", "r")


def _session(sid: str, cid: str, day: dt.date, kind: str = "regular", status: str = "attended",
             modality: str = "in_person", location: str | None = "L1") -> tuple:  # fmt: skip
    duration = 50 if status == "attended" else None
    loc = location if modality == "in_person" else None
    return (sid, cid, "CL01", day, kind, status, modality, loc, duration, *([None] * 13), "b", "r")


@pytest.fixture
def engagement() -> dict[str, dict]:
    con = duckdb.connect()
    for _, ddl in io.warehouse_ddl():
        con.execute(ddl)
    clients = [
        _client("A", D(2026, 1, 5), D(2026, 3, 1), "completed"),
        _client("B", D(2026, 8, 1)),  # open, last attended exactly 42 days before as-of: not lapsed
        _client("C", D(2026, 8, 1)),  # open, 43 days: lapsed
        _client("E", None),  # consultation only
        _client("F", D(2026, 2, 1), D(2026, 4, 1), "lost_contact"),
        _client("G", D(2026, 2, 1), D(2026, 4, 1), "other"),
    ]
    sessions = [
        _session("A0", "A", D(2025, 12, 28), kind="consultation", modality="telehealth"),
        _session("A1", "A", D(2026, 1, 5), kind="intake", location="L2"),
        _session("A2", "A", D(2026, 1, 12), location="L2"),
        _session("A3", "A", D(2026, 1, 19), location="L1"),
        _session("A4", "A", D(2026, 1, 26), modality="telehealth"),
        _session("A5", "A", D(2026, 2, 2), status="no_show"),
        _session("A6", "A", D(2026, 2, 9), status="cancelled"),
        _session("B1", "B", AS_OF - dt.timedelta(days=42), kind="intake"),
        _session("C1", "C", AS_OF - dt.timedelta(days=43), kind="intake", modality="telehealth"),
        _session("C2", "C", AS_OF - dt.timedelta(days=50), modality="in_person"),
        _session("E1", "E", D(2026, 5, 1), kind="consultation"),
    ]
    con.executemany("INSERT INTO clients VALUES (" + ",".join("?" * 14) + ")", clients)
    con.executemany("INSERT INTO sessions VALUES (" + ",".join("?" * 24) + ")", sessions)
    rows = con.sql(io.sql_text("intermediate", "episode_engagement"), params={"as_of": AS_OF, "lapse_days": 42}).pl()
    return {r["client_id"]: r for r in rows.iter_rows(named=True)}


def test_counts_and_rates(engagement: dict[str, dict]) -> None:
    a = engagement["A"]
    assert (a["scheduled"], a["attended"], a["cancelled"], a["no_show"]) == (6, 4, 1, 1)
    assert a["attendance_rate"] == pytest.approx(4 / 6)
    assert a["consultations_attended"] == 1  # consultations are counted apart, never as treatment
    assert a["median_gap_days"] == 7
    assert a["first_attended_date"] == D(2026, 1, 5) and a["mean_duration_min"] == 50


def test_modality_and_location(engagement: dict[str, dict]) -> None:
    a = engagement["A"]
    assert (a["in_person_attended"], a["telehealth_attended"]) == (3, 1)
    assert a["modality"] == "in_person"  # exactly 75% in person
    assert a["location"] == "L2"  # two sessions at L2, one at L1
    assert engagement["C"]["modality"] == "mixed"  # 50/50
    assert engagement["E"]["modality"] is None and engagement["E"]["attended"] == 0


def test_endings_and_lapse_boundary(engagement: dict[str, dict]) -> None:
    assert [engagement[c]["ending"] for c in "AFG"] == ["planned", "unplanned", "other"]
    assert engagement["B"]["lapsed"] is False and engagement["C"]["lapsed"] is True
    assert engagement["A"]["lapsed"] is False  # ended episodes are not lapsed
    assert engagement["E"]["lapsed"] is False and engagement["E"]["consultation_only"] is True


def test_grain_on_the_sample(sample_batch, home) -> None:  # type: ignore[no-untyped-def]
    from pipeline.stages import refresh_batches

    refresh_batches(home, [sample_batch], AS_OF)
    with io.warehouse(home.warehouse, read_only=True) as con:
        rows = con.sql(
            io.sql_text("intermediate", "episode_engagement"), params={"as_of": AS_OF, "lapse_days": 42}
        ).pl()
        n_clients = con.execute("SELECT count(*) FROM clients").fetchall()[0][0]
        n_treatment = con.execute("SELECT count(*) FROM sessions WHERE kind <> 'consultation'").fetchall()[0][0]
    assert rows.height == n_clients and rows["client_id"].is_unique().all()
    assert rows["scheduled"].sum() == n_treatment  # reconciles with the warehouse
    assert (rows["attended"] + rows["cancelled"] + rows["no_show"] == rows["scheduled"]).all()
    assert (rows["attended"] <= rows["scheduled"]).all()
    assert rows.filter(pl.col("consultation_only"))["lapsed"].sum() == 0
