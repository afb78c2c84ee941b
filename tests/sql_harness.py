"""Given/expected tests of the SQL models: a real in-memory DuckDB with the warehouse's tables, a few rows in them,
and the episode-level tables (`pipeline.intermediate`) built on top — exactly as the publish stage builds them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import duckdb
import polars as pl

from pipeline import intermediate, io
from pipeline.marts.base import Context
from pipeline.settings import DEFAULTS, Settings
from schemas.registry import default_registry

AS_OF = dt.date(2026, 10, 31)
D0 = dt.date(2026, 1, 5)

CLIENT: dict[str, Any] = {"practice_id": "PR01", "clinician_id": "CL01", "service": "therapy", "intake_date": D0,
                          "helping_professional": False}  # fmt: skip
SESSION: dict[str, Any] = {"clinician_id": "CL01", "kind": "regular", "status": "attended", "modality": "telehealth",
                           "duration_min": 50}  # fmt: skip
#: What the outcome tables need of a score and of an episode's change (the rest of their columns are not read).
SCORE: dict[str, Any] = {"instrument": "phq9", "scale": "total", "pomp": None, "band": None}


def with_settings(**sections: dict[str, Any]) -> Settings:
    """The defaults with some values changed, e.g. ``with_settings(engagement={"lapse_days": 30})``."""
    return dataclasses.replace(
        DEFAULTS, **{name: dataclasses.replace(getattr(DEFAULTS, name), **values) for name, values in sections.items()}
    )


def warehouse(
    clients: list[dict[str, Any]] = (),  # type: ignore[assignment]
    sessions: list[dict[str, Any]] = (),  # type: ignore[assignment]
    measures: list[dict[str, Any]] = (),  # type: ignore[assignment]
    goals: list[dict[str, Any]] = (),  # type: ignore[assignment]
    scores: list[dict[str, Any]] = (),  # type: ignore[assignment]
    client_change: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding the given rows (defaults fill what a test does not care about)."""
    con = duckdb.connect()
    for _, ddl in io.warehouse_ddl():
        con.execute(ddl)
    rows = {
        "clients": [{**CLIENT, **c} for c in clients],
        "sessions": [{**SESSION, "session_id": f"{s['client_id']}-{i}", **s} for i, s in enumerate(sessions)],
        "measures": list(measures),
        "goals": [{"weight": 1, **g} for g in goals],
    }
    for table, records in rows.items():
        if records:
            frame = pl.DataFrame(records).with_columns(batch_id=pl.lit("b"), run_id=pl.lit("r"))
            con.register("_rows", frame)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
            con.unregister("_rows")
    score_schema = {"client_id": pl.String, "instrument": pl.String, "scale": pl.String, "administered_on": pl.Date,
                    "score": pl.Float64, "pomp": pl.Float64, "band": pl.String}  # fmt: skip
    con.register("_scores", pl.DataFrame([{**SCORE, **s} for s in scores], schema=score_schema))
    con.execute("CREATE TABLE scores AS SELECT * FROM _scores")
    change_schema = {"client_id": pl.String, "instrument": pl.String, "scale": pl.String,
                     "higher_is_better": pl.Boolean, "baseline_date": pl.Date, "baseline_score": pl.Float64,
                     "latest_date": pl.Date, "latest_score": pl.Float64, "paired": pl.Boolean, "change": pl.Float64,
                     "reliably_improved": pl.Boolean, "reliably_deteriorated": pl.Boolean, "rc_rule": pl.String,
                     "rc_threshold": pl.Float64, "rc_sd": pl.Float64, "rc_sd_source": pl.String,
                     "cutoff": pl.Float64, "cutoff_source": pl.String, "clinical_baseline": pl.Boolean,
                     "clinical_latest": pl.Boolean,
                     "category": pl.String, "latest_session_number": pl.Int64}  # fmt: skip
    con.register("_change", pl.DataFrame(list(client_change), schema=change_schema))
    con.execute("CREATE TABLE client_change AS SELECT * FROM _change")
    return con


def build(con: duckdb.DuckDBPyConnection, settings: Settings = DEFAULTS, as_of: dt.date = AS_OF) -> Context:
    """Build the episode-level tables on ``con``; the mart context over them."""
    registry = default_registry()
    intermediate.build(con, as_of, settings, registry)
    return Context(con, as_of, settings, registry, intermediate.parameters(as_of, settings))


def rows(con: duckdb.DuckDBPyConnection, table: str, key: str = "client_id") -> dict[Any, dict[str, Any]]:
    """A built table as {key: row}."""
    return {r[key]: r for r in io.query_pl(con, f"SELECT * FROM {table}").iter_rows(named=True)}


def weeks(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=7 * i) for i in range(n)]


def finished_episode(
    client_id: str, discharge: dt.date = dt.date(2026, 6, 30), attended: int = 2, **client: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A client discharged on ``discharge`` after ``attended`` weekly attended treatment sessions ending on it — in
    the finished-treatment population when ``attended`` ≥ 2 (outcomes.finished_min_attended)."""
    dates = [discharge - dt.timedelta(days=7 * i) for i in reversed(range(attended))]
    row = {"client_id": client_id, "intake_date": min([*dates, discharge]), "discharge_date": discharge,
           "discharge_reason": "completed", **client}  # fmt: skip
    return row, [{"client_id": client_id, "session_date": d} for d in dates]


def finished_warehouse(
    ids: str | list[str],
    client_change: list[dict[str, Any]] = (),
    **client: Any,  # type: ignore[assignment]
) -> duckdb.DuckDBPyConnection:
    """A warehouse of finished-treatment episodes (discharged 2026-06-30 after two attended sessions)."""
    clients, sessions = [], []
    for cid in ids:
        row, visits = finished_episode(cid, **client)
        clients.append(row)
        sessions += visits
    return warehouse(clients, sessions, client_change=client_change)
