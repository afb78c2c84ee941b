"""The score stage: scores, scale reliability and change per episode (DESIGN 5.1-5.3), kept in the warehouse.

`refresh_outcomes` brings the three tables (`DERIVED_TABLES`, the product `outcomes`) up to date with the loaded
data: nothing when its recovery record (`derived_state`) matches, only the clients the loads since touched when
that is exact (same registry, settings and code, no batch removed, at most `engine.incremental_max_share` of the
clients), else a full rebuild — each in one transaction with the record, so an interruption leaves the old tables
and the old record. Scoring itself is `pipeline.score`; pairing, reliability and change `pipeline.change`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline import io
from pipeline.change import (
    PAIR_COLUMNS,
    PAIR_KEY,
    baseline_items,
    build_client_change,
    pair_baseline_latest,
    reliability_from_baselines,
)
from pipeline.faults import fault_point
from pipeline.load import runs_after
from pipeline.score import build_scores
from pipeline.settings import Settings
from schemas.registry import Registry

#: The tables of the product `outcomes` (rebuilt or updated together, atomically).
DERIVED_TABLES = ("scores", "scale_reliability", "client_change")
OUTCOMES = "outcomes"


@dataclass(frozen=True)
class DerivedState:
    """What a derived product reflects: the data (its version), and what it was computed with."""

    data_version: str
    registry_version: str
    settings_fingerprint: str
    code_version: str

    def matches(self, row: dict[str, Any] | None) -> bool:
        return row is not None and all(row.get(k) == v for k, v in self.__dict__.items())


def _outcomes_state(con: io.duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    frame = io.query_pl(con, "SELECT * FROM derived_state WHERE product = ?", [OUTCOMES])
    return frame.row(0, named=True) if frame.height else None


def _record_state(con: io.duckdb.DuckDBPyConnection, state: DerivedState) -> None:
    con.execute(
        "INSERT OR REPLACE INTO derived_state VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [OUTCOMES, state.data_version, state.registry_version, state.settings_fingerprint, state.code_version],
    )


def refresh_outcomes(
    con: io.duckdb.DuckDBPyConnection, registry: Registry, settings: Settings, state: DerivedState
) -> bool:
    """Bring the outcome tables up to ``state``; returns whether anything was recomputed."""
    recorded = _outcomes_state(con)
    derived = io.has_tables(con, DERIVED_TABLES)
    if derived and state.matches(recorded):
        return False
    affected = _affected_since(con, recorded, state) if derived else None
    if affected is not None and affected.height <= settings.engine.incremental_max_share * _client_count(con):
        update_outcomes(con, registry, affected, state, settings)
    else:
        rebuild_outcomes(con, registry, state, settings)
    fault_point("outcomes:committed")
    return True


def _affected_since(
    con: io.duckdb.DuckDBPyConnection, recorded: dict[str, Any] | None, state: DerivedState
) -> pl.DataFrame | None:
    """The clients touched by the loads since the recorded state, when the outcomes may be updated for them alone:
    computed with the same registry, settings and code, and no batch removed since (else None: rebuild)."""
    if recorded is None or not all(
        recorded[k] == getattr(state, k) for k in ("registry_version", "settings_fingerprint", "code_version")
    ):
        return None
    later = runs_after(con, recorded["data_version"])
    if not later or any(status == "removed" for _, status in later):
        return None
    return clients_touched_by(con, [run_id for run_id, _ in later])


#: What scoring and pairing read of the answers and of the sessions.
ANSWER_COLUMNS = "client_id, session_id, instrument, administered_on, item, value"
SESSION_COLUMNS = "client_id, session_id, session_date, kind, status"

ScoreSink = Callable[[pl.DataFrame], None]


def derive_outcomes(
    con: io.duckdb.DuckDBPyConnection, registry: Registry, write_scores: ScoreSink, settings: Settings
) -> dict[str, pl.DataFrame]:
    """The score and change stages over everything loaded: `scores` (handed to ``write_scores`` one client
    partition at a time), and the returned `scale_reliability` and `client_change`.

    Scoring, pairing and the baseline item matrices are per client, so they run over client partitions of the
    answers (`engine.scoring_part_rows` each); only the much smaller pairs and matrices are held together.
    """
    n_measures = con.execute("SELECT count(*) FROM measures").fetchall()[0][0]
    parts = max(1, -(-n_measures // settings.engine.scoring_part_rows))
    partition = f"hash(client_id) % {parts}"
    sessions = io.query_pl(con, f"SELECT {SESSION_COLUMNS}, {partition} AS _part FROM sessions")
    pairs, baselines = [], []
    for part in range(parts):
        measures = io.query_pl(
            con,
            f"SELECT {ANSWER_COLUMNS} FROM measures WHERE {partition} = ?",
            [part],
        )
        scores = build_scores(measures, registry)
        part_pairs = pair_baseline_latest(
            scores, sessions.filter(pl.col("_part") == part).drop("_part"), settings.outcomes.baseline_window_days
        )
        write_scores(scores)
        pairs.append(io.compact(part_pairs))
        baselines.append(baseline_items(measures, part_pairs, registry))
        del measures, scores, part_pairs
    matrices = {key: pl.concat(m[key] for m in baselines if key in m) for key in {k for m in baselines for k in m}}
    reliability = reliability_from_baselines(matrices, registry)
    return {
        "scale_reliability": reliability,
        "client_change": build_client_change(pl.concat(pairs).sort(PAIR_KEY), reliability, registry),
    }


def rebuild_outcomes(
    con: io.duckdb.DuckDBPyConnection, registry: Registry, state: DerivedState, settings: Settings
) -> None:
    """Replace `scores`, `scale_reliability` and `client_change` in one transaction with the recovery record
    ``state`` (readers see all old or all new); scores are written part by part as `derive_outcomes` produces
    them, never all in memory."""
    written = [0]

    def write_scores(scores: pl.DataFrame) -> None:
        con.register("_scores", scores)
        verb = "CREATE OR REPLACE TABLE scores AS" if not written[0] else "INSERT INTO scores"
        con.execute(f"{verb} SELECT * FROM _scores")
        con.unregister("_scores")
        written[0] += 1

    with io.transaction(con):
        derived = derive_outcomes(con, registry, write_scores, settings)
        io.create_tables(con, derived, replace=True)
        _record_state(con, state)
        fault_point("outcomes:in_transaction")


def _client_count(con: io.duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM clients").fetchall()[0][0])


def clients_touched_by(con: io.duckdb.DuckDBPyConnection, run_ids: list[str]) -> pl.DataFrame:
    """Every client with a client, session, answer or goal row written by these runs (new or replacing)."""
    runs = pl.DataFrame({"run_id": run_ids}, schema={"run_id": pl.String})
    con.register("_runs", runs)
    try:
        return io.query_pl(
            con,
            " UNION ".join(
                f"SELECT client_id FROM {table} WHERE run_id IN (SELECT run_id FROM _runs)"
                for table in ("clients", "sessions", "measures", "goals")
            ),
        )
    finally:
        con.unregister("_runs")


def update_outcomes(
    con: io.duckdb.DuckDBPyConnection,
    registry: Registry,
    affected: pl.DataFrame,
    state: DerivedState,
    settings: Settings,
) -> None:
    """`rebuild_outcomes` for loads that touched only ``affected`` clients: the same tables and recovery record, in
    one transaction.

    Scores and pairs are per client, so only the affected clients are rescored and re-paired; every other
    client's pair is read back from `client_change`. What spans clients — Cronbach's alpha from all baselines,
    the baseline SD of the paired episodes — is recomputed over everyone, from the baseline answers only, so
    the result equals a full rebuild (`tests/test_partitioned.py`).
    """
    con.register("_affected", affected)
    try:
        measures = io.query_pl(
            con,
            f"SELECT {ANSWER_COLUMNS} FROM measures WHERE client_id IN (SELECT client_id FROM _affected)",
        )
        sessions = io.query_pl(
            con,
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE client_id IN (SELECT client_id FROM _affected)",
        )
        scores = build_scores(measures, registry)
        kept = io.query_pl(
            con,
            f"SELECT {', '.join(PAIR_COLUMNS)} FROM client_change "
            "WHERE client_id NOT IN (SELECT client_id FROM _affected)",
        ).with_columns(pl.lit(None, pl.Date).alias("first_session"))
        fresh = pair_baseline_latest(scores, sessions, settings.outcomes.baseline_window_days)
        pairs = pl.concat([fresh, kept.select(fresh.columns)], how="vertical_relaxed").sort(PAIR_KEY)
        baselines = (
            pairs.filter(pl.col("baseline_date").is_not_null())
            .select("client_id", "instrument", pl.col("baseline_date").alias("administered_on"))
            .unique()
        )
        con.register("_baselines", baselines)
        baseline_answers = io.query_pl(
            con,
            f"SELECT {ANSWER_COLUMNS} FROM measures JOIN _baselines USING (client_id, instrument, administered_on)",
        )
        con.unregister("_baselines")
        reliability = reliability_from_baselines(baseline_items(baseline_answers, pairs, registry), registry)
        client_change = build_client_change(pairs, reliability, registry)
        with io.transaction(con):
            con.execute("DELETE FROM scores WHERE client_id IN (SELECT client_id FROM _affected)")
            con.register("_scores", scores)
            con.execute("INSERT INTO scores SELECT * FROM _scores")
            con.unregister("_scores")
            io.create_tables(con, {"scale_reliability": reliability, "client_change": client_change}, replace=True)
            _record_state(con, state)
            fault_point("outcomes:in_transaction")
    finally:
        con.unregister("_affected")
