"""The score stage: scores, scale reliability and change per episode (DESIGN 5.1-5.3), kept in the warehouse.

`refresh_outcomes` brings the three tables (`DERIVED_TABLES`, the product `outcomes`) up to date with the loaded
data: nothing when its recovery record (`derived_state`) matches, only the clients the loads since touched when
that is exact (same registry, settings and code, no batch removed, at most `engine.incremental_max_share` of the
clients), else a full rebuild — each in one transaction with the record, so an interruption leaves the old tables
and the old record. Scoring, pairing and the baselines' moments are SQL over the warehouse (`sql/scoring/`, the
twins of `pipeline.score` and `pipeline.change`, checked against them in `tests/test_score_sql.py`); only the
pairs and a few numbers per scale reach Python, where `pipeline.change` decides reliable change and categories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline import io
from pipeline.change import PAIR_COLUMNS, PAIR_KEY, build_client_change
from pipeline.faults import fault_point
from pipeline.load import runs_after
from pipeline.score import assign_bands, scale_facts_frame, scale_items_frame
from pipeline.settings import Settings
from schemas.registry import Registry

#: The tables of the product `outcomes` (rebuilt or updated together, atomically); `baseline_answers` keeps what
#: Cronbach's alpha is summed from, so an incremental refresh replaces only its touched clients' rows.
DERIVED_TABLES = ("scores", "scale_reliability", "client_change", "baseline_answers")
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


#: What the reference definitions read of the answers (the researcher API and the tests).
ANSWER_COLUMNS = "client_id, session_id, instrument, administered_on, item, value"

ScoreSink = Callable[[pl.DataFrame], None]


def _registry_tables(con: io.duckdb.DuckDBPyConnection, registry: Registry) -> None:
    """The registry as the small tables scoring joins (`_scale_items`, `_scale_facts`)."""
    for name, frame in (("_scale_items", scale_items_frame(registry)), ("_scale_facts", scale_facts_frame(registry))):
        con.register("_frame", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _frame")
        con.unregister("_frame")


def _score_parts(
    con: io.duckdb.DuckDBPyConnection, registry: Registry, settings: Settings, affected: bool
) -> Iterator[str]:
    """Score the answers in SQL (`sql/scoring/scored.sql`), whole clients at a time (`engine.scoring_part_rows`
    each; the clients in ``_affected`` only, when ``affected``): after each step, the temp table ``_scores_part``
    holds that part's rows of the `scores` table, and its SELECT (in `SCORE_COLUMNS` order) is yielded."""
    _registry_tables(con, registry)
    where = "client_id IN (SELECT client_id FROM _affected)" if affected else "TRUE"
    rows = con.execute(f"SELECT count(*) FROM measures WHERE {where}").fetchall()[0][0]
    parts = max(1, -(-rows // settings.engine.scoring_part_rows))
    scored = io.sql_text("scoring", "scored")
    for part in range(parts):
        clients = where if parts == 1 else f"{where} AND hash(client_id) % {parts} = {part}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE _scored AS {scored.replace('{clients}', clients)}")
        distinct = io.query_pl(
            con, "SELECT DISTINCT instrument, scale, score FROM _scored WHERE score IS NOT NULL"
        )  # a few thousand values: the registry's own `band_of` labels them (`assign_bands`)
        con.register("_frame", assign_bands(distinct, registry))
        con.execute("CREATE OR REPLACE TEMP TABLE _bands AS SELECT * FROM _frame")
        con.unregister("_frame")
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _scores_part AS
               SELECT s.client_id, s.instrument, s.administered_on, s.session_id, s.scale, s.score, s.pomp, b.band,
                      s.source, s.n_items, s.n_answered, s.prorated, s.incomplete_reason,
                      ?::VARCHAR AS registry_version
               FROM _scored AS s
               LEFT JOIN _bands AS b ON b.instrument = s.instrument AND b.scale = s.scale AND b.score = s.score""",
            [registry.version],
        )
        yield "SELECT * FROM _scores_part"
    for name in ("_scored", "_bands", "_scores_part"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _pairs(
    con: io.duckdb.DuckDBPyConnection, settings: Settings, scores: str = "scores", affected: bool = False
) -> pl.DataFrame:
    """Baseline and latest per episode × scale (`sql/scoring/pairs.sql`) from the ``scores`` table — of the clients
    in ``_affected`` only, when ``affected`` — one row per pair (a few per client), sorted by `PAIR_KEY`."""
    where = "client_id IN (SELECT client_id FROM _affected)" if affected else "TRUE"
    sql = io.sql_text("scoring", "pairs").replace("FROM scores", f"FROM {scores}").replace("{clients}", where)
    return io.query(con, f"SELECT * FROM ({sql}) ORDER BY {', '.join(PAIR_KEY)}", {
        "window_days": settings.outcomes.baseline_window_days
    })  # fmt: skip


def _keep_baseline_answers(con: io.duckdb.DuckDBPyConnection, pairs: pl.DataFrame, table: str, replace: bool) -> None:
    """Write the complete baselines' answers of ``pairs`` into ``table`` (`sql/scoring/baseline_answers.sql`):
    the whole table (``replace``), or added to it after the caller removed the touched clients' rows."""
    baselines = pairs.filter(pl.col("baseline_date").is_not_null()).select(
        "client_id", "instrument", pl.col("baseline_date").alias("administered_on")
    )
    con.register("_frame", baselines.unique())
    con.execute("CREATE OR REPLACE TEMP TABLE _baselines AS SELECT * FROM _frame")
    con.unregister("_frame")
    sql = io.sql_text("scoring", "baseline_answers")
    temp = "TEMP " if table.startswith("_") else ""  # a scratch copy (`derive_outcomes`, read-only connections)
    con.execute(f"CREATE OR REPLACE {temp}TABLE {table} AS {sql}" if replace else f"INSERT INTO {table} {sql}")
    con.execute("DROP TABLE IF EXISTS _baselines")


def _variance(n: int, total: float, squares: float) -> float:
    """The sample variance (n − 1) from a count, a sum and a sum of squares."""
    return (float(squares) - float(total) ** 2 / n) / (n - 1)


def reliability_from_moments(moments: pl.DataFrame, registry: Registry) -> pl.DataFrame:
    """`pipeline.change.reliability_from_baselines` from the per-item moments of `sql/scoring/baseline_moments.sql`
    instead of the item matrices: α = k/(k − 1)·(1 − Σ var(item) / var(total)) over the complete baselines."""
    rows = []
    for inst in registry.instruments.values():
        for scale in inst.scales.values():
            part = moments.filter((pl.col("instrument") == inst.id) & (pl.col("scale") == scale.id))
            n = int(part["n"][0]) if part.height else 0
            k = len(scale.items)
            alpha = None
            if part.height == k and k >= 2 and n >= 3:
                total_var = _variance(n, part["total_sum"][0], part["total_squares"][0])
                if total_var > 0:
                    by_item = {r["item"]: r for r in part.iter_rows(named=True)}
                    item_var = sum(
                        _variance(n, by_item[i]["item_sum"], by_item[i]["item_squares"]) for i in scale.items
                    )
                    alpha = float(k / (k - 1) * (1 - item_var / total_var))
            used = scale.reliability if scale.reliability is not None else alpha
            rows.append(
                {
                    "instrument": inst.id,
                    "scale": scale.id,
                    "n_baseline_complete": n,
                    "alpha_estimated": alpha,
                    "reliability_published": scale.reliability,
                    "reliability_published_source": scale.reliability_source or None,
                    "reliability_used": used,
                    "reliability_source": "published"
                    if scale.reliability is not None
                    else ("estimated" if alpha is not None else None),
                    "registry_version": registry.version,
                }
            )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "alpha_estimated": pl.Float64,
            "reliability_published": pl.Float64,
            "reliability_used": pl.Float64,
        },
    )


def _change(
    con: io.duckdb.DuckDBPyConnection,
    registry: Registry,
    settings: Settings,
    scores: str = "scores",
    baseline_answers: str = "baseline_answers",
    affected: bool = False,
) -> dict[str, pl.DataFrame]:
    """`scale_reliability` and `client_change` from the scores in the warehouse: pairs and the baselines' answers
    in SQL, then the small aggregated inputs (pairs, a few numbers per scale) through `pipeline.change`.

    With ``affected``, only the clients in ``_affected`` are re-paired and their kept baseline answers replaced;
    every other pair is read back from `client_change` (pairs are per client). What spans clients — alpha summed
    over every kept baseline, the baseline SD of the paired episodes, each row's reliable change — is recomputed
    for all, so the result equals a rebuild."""
    pairs = _pairs(con, settings, scores, affected)
    if affected:
        kept = io.query_pl(
            con,
            f"SELECT {', '.join(PAIR_COLUMNS)} FROM client_change "
            "WHERE client_id NOT IN (SELECT client_id FROM _affected)",
        ).with_columns(pl.lit(None, pl.Date).alias("first_session"))
        con.execute(f"DELETE FROM {baseline_answers} WHERE client_id IN (SELECT client_id FROM _affected)")
        _keep_baseline_answers(con, pairs, baseline_answers, replace=False)
        pairs = pl.concat([pairs, kept.select(pairs.columns)], how="vertical_relaxed").sort(PAIR_KEY)
    else:
        _keep_baseline_answers(con, pairs, baseline_answers, replace=True)
    moments = io.query_pl(
        con, io.sql_text("scoring", "baseline_moments").replace("FROM baseline_answers", f"FROM {baseline_answers}")
    )
    reliability = reliability_from_moments(moments, registry)
    return {"scale_reliability": reliability, "client_change": build_client_change(pairs, reliability, registry)}


def derive_outcomes(
    con: io.duckdb.DuckDBPyConnection, registry: Registry, write_scores: ScoreSink, settings: Settings
) -> dict[str, pl.DataFrame]:
    """The score and change stages over everything loaded, for callers outside a refresh (and the tests): `scores`
    handed to ``write_scores`` one client partition at a time (`engine.scoring_part_rows` answers each), and the
    returned `scale_reliability` and `client_change`. A refresh runs the same SQL straight into the warehouse."""
    frames = []
    for select in _score_parts(con, registry, settings, affected=False):
        frame = io.query_pl(con, select)
        write_scores(frame)
        frames.append(frame)
    con.register("_frame", pl.concat(frames))
    con.execute("CREATE OR REPLACE TEMP TABLE _all_scores AS SELECT * FROM _frame")
    con.unregister("_frame")
    try:
        return _change(con, registry, settings, scores="_all_scores", baseline_answers="_all_baseline_answers")
    finally:
        con.execute("DROP TABLE IF EXISTS _all_scores")
        con.execute("DROP TABLE IF EXISTS _all_baseline_answers")


def rebuild_outcomes(
    con: io.duckdb.DuckDBPyConnection, registry: Registry, state: DerivedState, settings: Settings
) -> None:
    """Replace `scores`, `scale_reliability` and `client_change` in one transaction with the recovery record
    ``state`` (readers see all old or all new). Scores are computed and written by DuckDB, part by part; only
    pairs and per-scale moments reach Python."""
    with io.transaction(con):
        for number, select in enumerate(_score_parts(con, registry, settings, affected=False)):
            con.execute(
                f"CREATE OR REPLACE TABLE scores AS {select}" if number == 0 else f"INSERT INTO scores {select}"
            )
        io.create_tables(con, _change(con, registry, settings), replace=True)
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
    """`rebuild_outcomes` for loads that touched only ``affected`` clients (incremental by episode): the same tables
    and recovery record, in one transaction.

    Only the affected clients' answers are rescored (their `scores` rows replaced), re-paired and their kept
    baseline answers replaced; what spans clients — the pairs' baseline SD, Cronbach's alpha summed over every
    kept baseline, the change categories — is recomputed from those small tables, so the result equals a full
    rebuild (`tests/test_partitioned.py`).
    """
    con.register("_frame", affected)
    con.execute("CREATE OR REPLACE TEMP TABLE _affected AS SELECT DISTINCT client_id FROM _frame")
    con.unregister("_frame")
    try:
        with io.transaction(con):
            con.execute("DELETE FROM scores WHERE client_id IN (SELECT client_id FROM _affected)")
            for select in _score_parts(con, registry, settings, affected=True):
                con.execute(f"INSERT INTO scores {select}")
            io.create_tables(con, _change(con, registry, settings, affected=True), replace=True)
            _record_state(con, state)
            fault_point("outcomes:in_transaction")
    finally:
        con.execute("DROP TABLE IF EXISTS _affected")
