"""THE ordered list of stages, and the two runs built from them: `validate` (no writes) and `refresh`.

ingest → validate → load (→ score → indicators → publish → report, as those stages land). Each batch is its
own transaction, in the order given; the exit code of several batches is the highest.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path

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
from pipeline.config import Paths
from pipeline.ingest import ROW, Batch, BatchIdentity, BatchRejected, identify, read_batch
from pipeline.load import (
    RunRecord,
    latest_loaded_run,
    load_batch,
    loaded_content_hashes,
    read_loaded_context,
    record_run,
    warehouse_as_of,
)
from pipeline.publish import build_publication, publish
from pipeline.score import build_scores
from pipeline.stage_timing import stage
from pipeline.summary import BatchSummary, RunSummary
from pipeline.validate import Loaded, ValidationResult, validate_batch
from schemas.inputs import CONTRACT_VERSION, RULES
from schemas.registry import Registry, default_registry

STAGES: tuple[str, ...] = ("ingest", "validate", "load", "score", "change", "indicators", "publish")
#: Tables derived from the loaded data on every refresh that loads something (rebuilt whole, atomically).
DERIVED_TABLES = ("scores", "scale_reliability", "client_change")

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
        batch_path=str(path),
        content_hash=content_hash,
        file_hashes=file_hashes,
        as_of=as_of,
        started_at=started,
        finished_at=_now(),
        status=status,
        counts=counts or {},
        quarantine_by_rule=by_rule or {},
        message=message,
        code_version=code_version(),
        schema_version=CONTRACT_VERSION,
        registry_version=registry.version,
    )


def _rejected_summary(path: Path, exc: BatchRejected, batch_id: str = "", content_hash: str = "") -> BatchSummary:
    return BatchSummary(
        batch_id=batch_id or path.name,
        status="rejected",
        content_hash=content_hash,
        path=str(path),
        errors=[{"rule": exc.rule, "file": exc.file, "column": exc.column, "message": exc.message}],
    )


def _validated_summary(batch: Batch, result: ValidationResult, loaded: bool) -> BatchSummary:
    quarantined = result.any_quarantined
    status = ("loaded" if loaded else "validated") + ("_with_quarantine" if quarantined else "")
    return BatchSummary(
        batch_id=batch.batch_id,
        status=status,
        content_hash=batch.content_hash,
        path=str(batch.path),
        as_of=batch.as_of,
        tables={name: r.counts() for name, r in result.tables.items()},
        quarantine_by_rule=result.quarantine_by_rule(),
        warnings=batch.warnings,
    )


def write_quarantine_files(paths: Paths, batch_id: str, result: ValidationResult) -> list[str]:
    """Per table: the quarantined rows exactly as received (fix and resend) and a reasons file beside them."""
    folder = paths.quarantine / batch_id
    if folder.exists():
        shutil.rmtree(folder)
    written: list[str] = []
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
        written += [str(folder / f"{name}.csv"), str(folder / f"{name}_reasons.csv")]
    return written


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
) -> RunSummary:
    """Judge each batch against the contract and the warehouse as it stands; write nothing."""
    registry = registry or default_registry()
    loaded, _ = _loaded_context(paths)
    summaries: list[BatchSummary] = []
    for folder in folders:
        progress(f"{folder.name}: reading")
        with tempfile.TemporaryDirectory(prefix="ifs-outcomes-validate-") as staging:
            try:
                batch = read_batch(folder, run_date, Path(staging))
                progress(f"{batch.batch_id}: validating")
                result = validate_batch(batch, loaded, registry, spill=Path(staging) / "valid")
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
) -> RunSummary:
    """Ingest, validate and load each batch in order, each in its own transaction."""
    registry = registry or default_registry()
    summaries: list[BatchSummary] = []
    with io.warehouse(paths.warehouse) as con:
        for folder in folders:
            summaries.append(_refresh_one(con, paths, folder, run_date, registry, progress))
        loaded_runs = [b.run_id for b in summaries if b.status.startswith("loaded") and b.run_id]
        derived = io.has_tables(con, DERIVED_TABLES)
        stale = bool(loaded_runs) or not derived
        if stale:
            progress("scoring and computing change")
            with stage("score"):
                affected = clients_touched_by(con, loaded_runs) if derived and _scored_with(con, registry) else None
                if affected is not None and affected.height <= INCREMENTAL_MAX_SHARE * _client_count(con):
                    update_outcomes(con, registry, affected)
                else:
                    rebuild_outcomes(con, registry)
        as_of = warehouse_as_of(con)
        run_id = latest_loaded_run(con)
        current = all(
            io.published_warehouse_run(paths.published / f"{name}.duckdb") == run_id
            for name in ("aggregate", "clinical")
        )
        published: list[str] = []
        if as_of is not None and run_id is not None and (stale or not current):
            progress("computing indicators and publishing")
            with stage("indicators"):
                publication = build_publication(con, as_of, registry.version, code_version(), warehouse_run_id=run_id)
            with stage("publish"):
                published = publish(paths, publication)
        with stage("checkpoint"):
            con.execute("CHECKPOINT")
    return RunSummary(batches=summaries, as_of=as_of, published=published)


def _refresh_one(
    con: io.duckdb.DuckDBPyConnection,
    paths: Paths,
    folder: Path,
    run_date: dt.date,
    registry: Registry,
    progress: Progress,
) -> BatchSummary:
    started = _now()
    progress(f"{folder.name}: reading")
    try:
        ident = identify(folder, run_date)
    except BatchRejected as exc:
        record_run(
            con,
            _run_record(folder.name, folder, "", {}, None, started, "rejected", registry, message=exc.message),
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
            path=str(folder),
            run_id=run.run_id,
            as_of=ident.as_of,
            warnings=list(ident.warnings),
        )
    staging = paths.staging / f"{ident.batch_id}-{os.getpid()}"
    try:
        return _load_one(con, paths, folder, ident, staging, run_date, registry, progress, started)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
) -> BatchSummary:
    try:
        with stage("read"):
            batch = read_batch(folder, run_date, staging)
        progress(f"{batch.batch_id}: validating")
        with stage("validate"):
            result = validate_batch(batch, read_loaded_context(con), registry, spill=staging / "valid")
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
        load_batch(con, result, run)
        summary.run_id = run.run_id
        summary.quarantine_files = write_quarantine_files(paths, batch.batch_id, result)
    return summary


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


def rebuild_outcomes(con: io.duckdb.DuckDBPyConnection, registry: Registry) -> None:
    """Replace `scores`, `scale_reliability` and `client_change` in one transaction (readers see all old or
    all new); scores are written part by part as `derive_outcomes` produces them, never all in memory."""
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
    except BaseException:
        con.rollback()
        raise
    con.commit()


#: A load touching at most this share of the warehouse's clients rescores only those clients (`update_outcomes`).
INCREMENTAL_MAX_SHARE = 0.2


def _client_count(con: io.duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM clients").fetchall()[0][0])


def _scored_with(con: io.duckdb.DuckDBPyConnection, registry: Registry) -> bool:
    """Whether every stored score is from this registry version (else everything is rescored, not a part)."""
    query = "SELECT count(*) FROM scores WHERE registry_version IS DISTINCT FROM ?"
    return int(con.execute(query, [registry.version]).fetchall()[0][0]) == 0


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


def update_outcomes(con: io.duckdb.DuckDBPyConnection, registry: Registry, affected: pl.DataFrame) -> None:
    """`rebuild_outcomes` for a load that touched only ``affected`` clients: the same tables, in one transaction.

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
        except BaseException:
            con.rollback()
            raise
        con.commit()
    finally:
        con.unregister("_affected")


def raw_batches(paths: Paths) -> list[Path]:
    """Batch folders under ``<home>/raw``, in name order (name them by export date to load in order)."""
    if not paths.raw.exists():
        return []
    return sorted(p for p in paths.raw.iterdir() if p.is_dir() and not p.name.startswith("."))
