"""THE ordered stages, and the runs built from them: `validate` (no writes), `refresh` and `remove-batch`.

Per batch: ingest → validate → stage its quarantine files → load (one transaction) → put its quarantine files in
place. Then, for the warehouse as a whole, `bring_up_to_date`: score (outcomes) → indicators → publish. Each batch is
its own transaction, in the order given; the exit code of several batches is the highest.

**Recovery by design.** Every derived product records the state of the loaded data it reflects: the outcome tables
in the warehouse's `derived_state` row (written in their own transaction), each published file in its
`publication` row, each batch's quarantine folder in its `MANIFEST.json` (its files are written under
`quarantine/.pending/<run>` before the load commits and moved into place after). `bring_up_to_date` runs on every
refresh — also one with nothing new to load — compares each product with the data and rebuilds what lags, so a
refresh interrupted anywhere and run again ends exactly where a clean run ends (`tests/test_recovery.py` kills a
refresh at every point of `pipeline.faults.POINTS`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import identifiers, io
from pipeline.change import (
    PAIR_COLUMNS,
    PAIR_KEY,
    baseline_items,
    build_client_change,
    pair_baseline_latest,
    reliability_from_baselines,
)
from pipeline.config import Paths
from pipeline.faults import fault_point
from pipeline.ingest import ROW, Batch, BatchIdentity, BatchRejected, identify, read_batch
from pipeline.load import (
    ACTIVE_LOADS,
    RunRecord,
    data_version,
    load_batch,
    loaded_content_hashes,
    read_loaded_context,
    record_run,
    runs_after,
    warehouse_as_of,
)
from pipeline.publish import PUBLISHED_FILES, build_publication, publish
from pipeline.score import build_scores
from pipeline.settings import DEFAULTS, Settings
from pipeline.stage_timing import stage
from pipeline.summary import BatchSummary, RunSummary
from pipeline.validate import Loaded, ValidationResult, validate_batch
from schemas.inputs import CONTRACT_VERSION, RULES
from schemas.registry import Registry, default_registry

STAGES: tuple[str, ...] = ("ingest", "validate", "load", "score", "change", "indicators", "publish")
#: Tables derived from the loaded data (rebuilt or updated together, atomically): the product `outcomes`.
DERIVED_TABLES = ("scores", "scale_reliability", "client_change")
OUTCOMES = "outcomes"
MANIFEST = "MANIFEST.json"

Progress = Callable[[str], None]


def _no_progress(_: str) -> None:
    return None


@cache
def code_version() -> str:
    """Package version plus the git commit when run from a checkout (recorded with every run)."""
    version = metadata.version("ifs-outcomes")
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{version}+{sha}" if sha else version


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _run_record(
    batch_id: str,
    path: Path,
    content_hash: str,
    file_hashes: dict[str, str],
    as_of: dt.date | None,
    started: dt.datetime,
    status: str,
    registry: Registry,
    counts: dict[str, dict[str, int]] | None = None,
    by_rule: dict[str, int] | None = None,
    message: str | None = None,
) -> RunRecord:
    return RunRecord(
        run_id=uuid.uuid4().hex,
        batch_id=batch_id,
        batch_path=identifiers.redact(str(path)),
        content_hash=content_hash,
        file_hashes=file_hashes,
        as_of=as_of,
        started_at=started,
        finished_at=_now(),
        status=status,
        counts=counts or {},
        quarantine_by_rule=by_rule or {},
        message=identifiers.redact(message) if message else None,
        code_version=code_version(),
        schema_version=CONTRACT_VERSION,
        registry_version=registry.version,
    )


def _rejected_summary(path: Path, exc: BatchRejected, batch_id: str = "", content_hash: str = "") -> BatchSummary:
    from pipeline.ingest import folder_label

    return BatchSummary(
        batch_id=batch_id or folder_label(path),
        status="rejected",
        content_hash=content_hash,
        path=identifiers.redact(str(path)),
        errors=[{"rule": exc.rule, "file": exc.file, "column": exc.column, "message": exc.message}],
    )


def _validated_summary(batch: Batch, result: ValidationResult, loaded: bool) -> BatchSummary:
    quarantined = result.any_quarantined
    status = ("loaded" if loaded else "validated") + ("_with_quarantine" if quarantined else "")
    return BatchSummary(
        batch_id=batch.batch_id,
        status=status,
        content_hash=batch.content_hash,
        path=identifiers.redact(str(batch.path)),
        as_of=batch.as_of,
        tables={name: r.counts() for name, r in result.tables.items()},
        quarantine_by_rule=result.quarantine_by_rule(),
        warnings=batch.warnings,
    )


# --- quarantine files: staged before the load commits, put in place after --------------------------------------


def stage_quarantine_files(paths: Paths, batch_id: str, run_id: str, result: ValidationResult) -> Path:
    """Per table, the quarantined rows exactly as received (fix and resend) and a reasons file beside them, written
    under ``quarantine/.pending/<run>`` with a manifest naming the batch and the run (see `place_quarantine_files`).
    """
    folder = io.contained(paths.quarantine_pending, run_id)
    io.remove_tree(paths.quarantine_pending, run_id)
    folder.mkdir(parents=True)
    files: list[str] = []
    for name, r in result.tables.items():
        if not r.quarantined_count:
            continue
        rows = r.quarantined.drop(ROW)
        reasons = r.violations.join(
            r.quarantined.select(ROW).with_row_index("quarantine_file_row", offset=1), on=ROW
        ).select(
            "quarantine_file_row",
            pl.col(ROW).alias("source_row"),
            "rule",
            "column",
            pl.col("rule").replace_strict(RULES, default="").alias("explanation"),
        )
        io.write_csv_atomic(rows, folder / f"{name}.csv")
        io.write_csv_atomic(reasons, folder / f"{name}_reasons.csv")
        files += [f"{name}.csv", f"{name}_reasons.csv"]
    io.write_json({"batch_id": batch_id, "run_id": run_id, "files": files}, folder / MANIFEST)
    io.fsync_folder(folder)
    return folder


def place_quarantine_files(paths: Paths, run_id: str) -> list[str]:
    """Move a committed run's staged quarantine files to ``quarantine/<batch>``, replacing the batch's earlier
    ones (a batch without quarantined rows leaves no folder). Safe to repeat after an interruption anywhere."""
    pending = io.contained(paths.quarantine_pending, run_id)
    manifest = json.loads((pending / MANIFEST).read_text(encoding="utf-8"))
    batch_id = str(manifest["batch_id"])
    target = io.contained(paths.quarantine, batch_id)
    aside = f".replaced-{run_id}"
    if target.exists() and not io.contained(paths.quarantine, aside).exists():
        os.replace(target, io.contained(paths.quarantine, aside))
    fault_point("quarantine:replacing")
    written = [str(target / f) for f in manifest["files"]]
    if manifest["files"]:
        os.replace(pending, target)
        io.fsync_folder(paths.quarantine)
    else:
        io.remove_tree(paths.quarantine_pending, run_id)
    io.remove_tree(paths.quarantine, aside)
    return written


def finish_quarantine_files(con: io.duckdb.DuckDBPyConnection, paths: Paths) -> None:
    """Recovery: put in place the staged files of every committed run that is its batch's latest load, and drop
    the staged files of runs that never committed or were superseded, and folders left aside."""
    if not paths.quarantine_pending.is_dir():
        pending: list[str] = []
    else:
        pending = sorted(p.name for p in paths.quarantine_pending.iterdir())
    latest = {
        run_id
        for (run_id,) in con.execute(
            f"SELECT arg_max(run_id, finished_at) FROM ({ACTIVE_LOADS}) GROUP BY batch_id"
        ).fetchall()
    }
    for run_id in pending:
        if run_id in latest and (paths.quarantine_pending / run_id / MANIFEST).is_file():
            place_quarantine_files(paths, run_id)
        else:
            io.remove_tree(paths.quarantine_pending, run_id)
    if not paths.quarantine.is_dir():
        return
    for aside in paths.quarantine.glob(".replaced-*"):
        io.remove_tree(paths.quarantine, aside.name)
    for folder in paths.quarantine.iterdir():
        manifest = folder / MANIFEST
        if folder.name.startswith(".") or not manifest.is_file():
            continue  # not written by this version of the pipeline: left as it is
        if json.loads(manifest.read_text(encoding="utf-8")).get("run_id") not in latest:
            io.remove_tree(paths.quarantine, folder.name)  # its batch was removed, or reloaded without quarantine


# --- the runs --------------------------------------------------------------------------------------------------


def _loaded_context(paths: Paths) -> tuple[Loaded, dict[str, str]]:
    if not paths.warehouse.exists():
        return Loaded(), {}
    with io.warehouse(paths.warehouse, read_only=True) as con:
        return read_loaded_context(con), loaded_content_hashes(con)


def validate_batches(
    paths: Paths,
    folders: Sequence[Path],
    run_date: dt.date,
    registry: Registry | None = None,
    progress: Progress = _no_progress,
    settings: Settings = DEFAULTS,
) -> RunSummary:
    """Judge each batch against the contract and the warehouse as it stands; write nothing."""
    registry = registry or default_registry()
    loaded, _ = _loaded_context(paths)
    summaries: list[BatchSummary] = []
    for folder in folders:
        progress(f"{folder.name}: reading")
        with tempfile.TemporaryDirectory(prefix="ifs-outcomes-validate-") as staging:
            try:
                batch = read_batch(folder, run_date, Path(staging), settings)
                progress(f"{batch.batch_id}: validating")
                result = validate_batch(batch, loaded, registry, spill=Path(staging) / "valid", settings=settings)
            except BatchRejected as exc:
                summaries.append(_rejected_summary(folder, exc))
                continue
            summaries.append(_validated_summary(batch, result, loaded=False))
    return RunSummary(batches=summaries, as_of=None)


def refresh_batches(
    paths: Paths,
    folders: Sequence[Path],
    run_date: dt.date,
    registry: Registry | None = None,
    progress: Progress = _no_progress,
    settings: Settings = DEFAULTS,
) -> RunSummary:
    """Ingest, validate and load each batch in order, each in its own transaction; then bring every derived
    product up to date (also when nothing new was loaded: that is how an interrupted refresh recovers).

    Opening the warehouse decides first whether it is busy (`io.WarehouseBusy`), before any batch is read.
    """
    registry = registry or default_registry()
    with io.warehouse(paths.warehouse) as con:
        fault_point("refresh:started")
        io.remove_stale_temporaries([paths.published, paths.quarantine, paths.reports, paths.warehouse_dir])
        _remove_stale_staging(paths)
        finish_quarantine_files(con, paths)
        summaries = [_refresh_one(con, paths, folder, run_date, registry, progress, settings) for folder in folders]
        as_of, published = bring_up_to_date(con, paths, run_date, registry, settings, progress)
    return RunSummary(batches=summaries, as_of=as_of, published=published)


def _remove_stale_staging(paths: Paths) -> None:
    """Scratch folders of batches whose process is gone (named ``<batch>-<pid>``)."""
    if not paths.staging.is_dir():
        return
    for folder in paths.staging.iterdir():
        pid = folder.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) != os.getpid():
            io.remove_tree(paths.staging, folder.name)


def _refresh_one(
    con: io.duckdb.DuckDBPyConnection,
    paths: Paths,
    folder: Path,
    run_date: dt.date,
    registry: Registry,
    progress: Progress,
    settings: Settings,
) -> BatchSummary:
    started = _now()
    progress(f"{folder.name}: reading")
    try:
        ident = identify(folder, run_date, settings)
    except BatchRejected as exc:
        from pipeline.ingest import folder_label

        record_run(
            con,
            _run_record(folder_label(folder), folder, "", {}, None, started, "rejected", registry, message=exc.message),
        )
        return _rejected_summary(folder, exc)
    if ident.content_hash in loaded_content_hashes(con):
        run = _run_record(
            ident.batch_id,
            folder,
            ident.content_hash,
            ident.file_hashes,
            ident.as_of,
            started,
            "already_loaded",
            registry,
        )
        record_run(con, run)
        return BatchSummary(
            batch_id=ident.batch_id,
            status="already_loaded",
            content_hash=ident.content_hash,
            path=identifiers.redact(str(folder)),
            run_id=run.run_id,
            as_of=ident.as_of,
            warnings=list(ident.warnings),
        )
    staging = io.contained(paths.staging, f"{ident.batch_id}-{os.getpid()}")
    try:
        return _load_one(con, paths, folder, ident, staging, run_date, registry, progress, started, settings)
    finally:
        io.remove_tree(paths.staging, staging.name)


def _load_one(
    con: io.duckdb.DuckDBPyConnection,
    paths: Paths,
    folder: Path,
    ident: BatchIdentity,
    staging: Path,
    run_date: dt.date,
    registry: Registry,
    progress: Progress,
    started: dt.datetime,
    settings: Settings,
) -> BatchSummary:
    try:
        with stage("read"):
            batch = read_batch(folder, run_date, staging, settings)
        fault_point("batch:read")
        progress(f"{batch.batch_id}: validating")
        with stage("validate"):
            result = validate_batch(
                batch, read_loaded_context(con), registry, spill=staging / "valid", settings=settings
            )
        fault_point("batch:validated")
    except BatchRejected as exc:
        record_run(
            con,
            _run_record(
                ident.batch_id,
                folder,
                ident.content_hash,
                ident.file_hashes,
                ident.as_of,
                started,
                "rejected",
                registry,
                message=exc.message,
            ),
        )
        return _rejected_summary(folder, exc, ident.batch_id, ident.content_hash)
    summary = _validated_summary(batch, result, loaded=True)
    progress(f"{batch.batch_id}: loading")
    run = _run_record(
        batch.batch_id,
        folder,
        batch.content_hash,
        batch.file_hashes,
        batch.as_of,
        started,
        summary.status,
        registry,
        counts=summary.tables,
        by_rule=summary.quarantine_by_rule,
    )
    with stage("load"):
        stage_quarantine_files(paths, batch.batch_id, run.run_id, result)
        fault_point("quarantine:staged")
        load_batch(con, result, run)
        fault_point("load:committed")
        summary.run_id = run.run_id
        summary.quarantine_files = place_quarantine_files(paths, run.run_id)
        fault_point("quarantine:published")
    return summary


# --- bringing every derived product up to date -----------------------------------------------------------------


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
        "INSERT OR REPLACE INTO derived_state VALUES (?, ?, ?, ?, ?, ?)",
        [OUTCOMES, state.data_version, state.registry_version, state.settings_fingerprint, state.code_version, _now()],
    )


def bring_up_to_date(
    con: io.duckdb.DuckDBPyConnection,
    paths: Paths,
    run_date: dt.date,
    registry: Registry,
    settings: Settings,
    progress: Progress = _no_progress,
) -> tuple[dt.date | None, list[str]]:
    """Rebuild whatever lags the loaded data — outcome tables, then the published files — and return the as-of
    date and the files published. Nothing is rebuilt when everything is current."""
    version = data_version(con)
    if version is None:
        return None, []
    state = DerivedState(version, registry.version, settings.fingerprint(), code_version())
    recorded = _outcomes_state(con)
    derived = io.has_tables(con, DERIVED_TABLES)
    rescored = not (derived and state.matches(recorded))
    if rescored:
        progress("scoring and computing change")
        with stage("score"):
            affected = _affected_since(con, recorded, state) if derived else None
            if affected is not None and affected.height <= INCREMENTAL_MAX_SHARE * _client_count(con):
                update_outcomes(con, registry, affected, state)
            else:
                rebuild_outcomes(con, registry, state)
        fault_point("outcomes:committed")
    as_of = warehouse_as_of(con, run_date)
    expected = {
        "warehouse_run_id": version,
        "as_of": as_of,
        "registry_version": registry.version,
        "settings_fingerprint": settings.fingerprint(),
        "code_version": code_version(),
    }
    published: list[str] = []
    current = not rescored and all(
        _matches(io.published_meta(paths.published / f"{name}.duckdb"), expected) for name in PUBLISHED_FILES
    )
    if as_of is None:
        for name in PUBLISHED_FILES:  # every batch was removed: nothing may stay published
            io.remove_tree(paths.published, f"{name}.duckdb")
    elif not current:
        progress("computing indicators and publishing")
        with stage("indicators"):
            publication = build_publication(
                con, as_of, registry.version, code_version(), warehouse_run_id=version,
                settings_fingerprint=settings.fingerprint(), settings=settings.indicators,
            )  # fmt: skip
        fault_point("publish:built")
        with stage("publish"):
            published = publish(paths, publication)
        fault_point("publish:written")
    with stage("checkpoint"):
        con.execute("CHECKPOINT")
    fault_point("refresh:finished")
    return as_of, published


def _matches(meta: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    return meta is not None and all(meta.get(k) == v for k, v in expected.items())


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

#: Answers are scored this many at a time (whole clients per part), so memory does not grow with the warehouse.
SCORING_PART_ROWS = 4_000_000

ScoreSink = Callable[[pl.DataFrame], None]


def derive_outcomes(
    con: io.duckdb.DuckDBPyConnection, registry: Registry, write_scores: ScoreSink
) -> dict[str, pl.DataFrame]:
    """The score and change stages over everything loaded: `scores` (handed to ``write_scores`` one client
    partition at a time), and the returned `scale_reliability` and `client_change`.

    Scoring, pairing and the baseline item matrices are per client, so they run over client partitions of the
    answers (`SCORING_PART_ROWS` each); only the much smaller pairs and matrices are held together.
    """
    n_measures = con.execute("SELECT count(*) FROM measures").fetchall()[0][0]
    parts = max(1, -(-n_measures // SCORING_PART_ROWS))
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
        part_pairs = pair_baseline_latest(scores, sessions.filter(pl.col("_part") == part).drop("_part"))
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


def rebuild_outcomes(con: io.duckdb.DuckDBPyConnection, registry: Registry, state: DerivedState) -> None:
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

    con.begin()
    try:
        derived = derive_outcomes(con, registry, write_scores)
        io.create_tables(con, derived, replace=True)
        _record_state(con, state)
        fault_point("outcomes:in_transaction")
    except BaseException:
        con.rollback()
        raise
    con.commit()


#: A load touching at most this share of the warehouse's clients rescores only those clients (`update_outcomes`).
INCREMENTAL_MAX_SHARE = 0.2


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
    con: io.duckdb.DuckDBPyConnection, registry: Registry, affected: pl.DataFrame, state: DerivedState
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
        fresh = pair_baseline_latest(scores, sessions)
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
        con.begin()
        try:
            con.execute("DELETE FROM scores WHERE client_id IN (SELECT client_id FROM _affected)")
            con.register("_scores", scores)
            con.execute("INSERT INTO scores SELECT * FROM _scores")
            con.unregister("_scores")
            io.create_tables(con, {"scale_reliability": reliability, "client_change": client_change}, replace=True)
            _record_state(con, state)
            fault_point("outcomes:in_transaction")
        except BaseException:
            con.rollback()
            raise
        con.commit()
    finally:
        con.unregister("_affected")


class RemovalRefused(Exception):
    """`remove-batch` cannot go ahead; the message is one sentence plus what to do next."""


#: Rows that depend on a removed batch's clients or sessions, per table: (table, SQL condition on alias t).
_DEPENDENTS = {
    "sessions": "t.client_id IN (SELECT client_id FROM _gone_clients)",
    "measures": "t.client_id IN (SELECT client_id FROM _gone_clients) "
    "OR t.session_id IN (SELECT session_id FROM _gone_sessions)",
    "goals": "t.client_id IN (SELECT client_id FROM _gone_clients)",
}


def remove_batch(
    paths: Paths,
    batch_id: str,
    run_date: dt.date,
    registry: Registry | None = None,
    settings: Settings = DEFAULTS,
    cascade: bool = False,
    progress: Progress = _no_progress,
) -> RunSummary:
    """Take a loaded batch back: its rows, its quarantine and its effect on the as-of date, recorded in the ledger
    (status `removed`), then everything derived is rebuilt. Rows of later batches that belong to its clients or
    sessions are removed too only with ``cascade`` (otherwise the removal is refused, naming them).

    Rows the batch replaced when it loaded (an earlier export of the same keys) are not restored: resend that
    export to bring them back.
    """
    from pipeline.ingest import BATCH_ID_PATTERN

    registry = registry or default_registry()
    shown = f"'{batch_id}'" if BATCH_ID_PATTERN.match(batch_id) and not identifiers.kind_of(batch_id) else "that id"
    if not paths.warehouse.exists():
        raise RemovalRefused(f"there is no warehouse under {paths.home} yet, so batch {shown} is not loaded")
    started = _now()
    with io.warehouse(paths.warehouse) as con:
        loaded = con.execute(f"SELECT count(*) FROM ({ACTIVE_LOADS}) WHERE batch_id = ?", [batch_id]).fetchall()
        if not loaded[0][0]:
            raise RemovalRefused(
                f"batch {shown} is not loaded in {paths.warehouse}; list the loaded batches with "
                "`ifs-outcomes batches` and pass one of their ids"
            )
        con.execute("CREATE TEMP TABLE _gone_clients AS SELECT client_id FROM clients WHERE batch_id = ?", [batch_id])
        con.execute(
            "CREATE TEMP TABLE _gone_sessions AS SELECT session_id FROM sessions WHERE batch_id = ?", [batch_id]
        )
        try:
            dependents = {
                table: dict(
                    con.execute(
                        f"SELECT batch_id, count(*) FROM {table} AS t WHERE t.batch_id <> ? AND ({condition}) "
                        "GROUP BY batch_id ORDER BY batch_id",
                        [batch_id],
                    ).fetchall()
                )
                for table, condition in _DEPENDENTS.items()
            }
            dependent_rows = sum(n for per_batch in dependents.values() for n in per_batch.values())
            if dependent_rows and not cascade:
                where = "; ".join(
                    f"{table}: " + ", ".join(f"{n:,} of batch {b}" for b, n in per_batch.items())
                    for table, per_batch in dependents.items()
                    if per_batch
                )
                raise RemovalRefused(
                    f"{dependent_rows:,} rows of later batches belong to clients or sessions of batch {shown} "
                    f"({where}); "
                    f"run `ifs-outcomes remove-batch {batch_id} --cascade` to remove them too, or remove those "
                    "batches first"
                )
            counts: dict[str, dict[str, int]] = {}
            con.begin()
            try:
                for table, condition in _DEPENDENTS.items():
                    n = con.execute(
                        f"DELETE FROM {table} AS t WHERE t.batch_id <> ? AND ({condition})", [batch_id]
                    ).fetchall()[0][0]
                    counts.setdefault(table, {})["removed_dependent"] = int(n)
                for table in ("goals", "measures", "sessions", "clients"):
                    n = con.execute(f"DELETE FROM {table} WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
                    counts.setdefault(table, {})["removed"] = int(n)
                n = con.execute("DELETE FROM quarantine WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
                counts["quarantine"] = {"removed": int(n)}
                run = _run_record(
                    batch_id, Path(""), "", {}, None, started, "removed", registry, counts=counts,
                    message=f"removed with remove-batch{' --cascade' if cascade else ''}",
                )  # fmt: skip
                record_run(con, run)
            except BaseException:
                con.rollback()
                raise
            con.commit()
        finally:
            con.execute("DROP TABLE IF EXISTS _gone_clients")
            con.execute("DROP TABLE IF EXISTS _gone_sessions")
        finish_quarantine_files(con, paths)
        as_of, published = bring_up_to_date(con, paths, run_date, registry, settings, progress)
    summary = BatchSummary(batch_id=batch_id, status="removed", content_hash="", path="", run_id=run.run_id)
    summary.tables = counts
    return RunSummary(batches=[summary], as_of=as_of, published=published)


def raw_batches(paths: Paths) -> list[Path]:
    """Batch folders under ``<home>/raw``, in name order (name them by export date to load in order)."""
    if not paths.raw.exists():
        return []
    return sorted(p for p in paths.raw.iterdir() if p.is_dir() and not p.name.startswith("."))
