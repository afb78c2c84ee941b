"""THE ordered stages (`STAGES`), the one runner that runs them, and the commands built from it: `validate` (no
writes), `refresh` and `remove-batch`.

Per batch, each in its own transaction, in the order given: ingest (identify; an export loaded before is skipped)
→ read → validate → load (the quarantine files staged before the commit, put in place after). Then, for the
warehouse as a whole: score → indicators → publish → checkpoint (→ report, when asked). Every stage is a named
function of the run's state in `STAGES`; `run_stages` times each (`stage_timing`) and reports its progress. The exit
code of several batches is the highest.

**Recovery by design.** Every derived product records the state of the loaded data it reflects: the outcome tables
in the warehouse's `derived_state` row (`pipeline.outcomes`), each published file in its `publication` row, each
batch's quarantine folder in its `MANIFEST.json` (`pipeline.quarantine`). The warehouse stages run on every refresh —
also one with nothing new to load — and rebuild only what lags, so a refresh interrupted anywhere and run again ends
exactly where a clean run ends (`tests/test_recovery.py` kills a refresh at every point of `pipeline.faults.POINTS`).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import polars as pl

from pipeline import identifiers, io, marts
from pipeline.config import PUBLISHED_FILES, Paths
from pipeline.faults import fault_point
from pipeline.ingest import Batch, BatchIdentity, BatchRejected, folder_label, identify, read_batch
from pipeline.load import (
    ACTIVE_LOADS,
    RunRecord,
    data_version,
    load_batch,
    loaded_content_hashes,
    read_loaded_context,
    record_run,
    warehouse_as_of,
)
from pipeline.outcomes import DerivedState, refresh_outcomes
from pipeline.package_data import checkout_root
from pipeline.progress import Count, Progress, as_progress
from pipeline.publish import Publication, disclose, publication_meta, publish
from pipeline.quarantine import finish_quarantine_files, place_quarantine_files, stage_quarantine_files
from pipeline.settings import DEFAULTS, Settings
from pipeline.stage_timing import stage as timed
from pipeline.staging import limit
from pipeline.summary import BatchSummary, RunSummary
from pipeline.validate import Loaded, ValidationResult, validate_batch
from schemas.inputs import CONTRACT_VERSION
from schemas.registry import Registry, registry_with

#: What the commands take as progress: a `pipeline.progress.Progress`, or a callback of each step's message.
ProgressLike = Progress | Callable[[str], None] | None


@cache
def code_version() -> str:
    """Package version plus the git commit when run from a checkout (recorded with every run). An installed wheel
    never asks git: its folder may sit inside some other repository (a venv in a project), whose commit says
    nothing about this code."""
    version = metadata.version("ifs-outcomes")
    root = checkout_root()
    if root is None:
        return version
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=root,
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


# --- validate: no writes ------------------------------------------------------------------------------------------


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
    progress: ProgressLike = None,
    settings: Settings = DEFAULTS,
) -> RunSummary:
    """Judge each batch against the contract and the warehouse as it stands; write nothing."""
    registry = registry or registry_with(settings.instrument_folders(paths.home))
    shown = as_progress(progress)
    loaded, _ = _loaded_context(paths)
    summaries: list[BatchSummary] = []
    for folder in folders:
        shown.step(f"{folder.name}: reading")
        with tempfile.TemporaryDirectory(prefix="ifs-outcomes-validate-") as staging:
            try:
                batch = read_batch(folder, run_date, Path(staging), settings)
                shown.done(_rows_read(batch) if shown.counts else None)
                shown.step(f"{batch.batch_id}: validating")
                result = validate_batch(batch, loaded, registry, spill=Path(staging) / "valid", settings=settings)
                shown.done(_rows_judged(result) if shown.counts else None)
            except BatchRejected as exc:
                shown.done(Count(note="rejected"))
                summaries.append(_rejected_summary(folder, exc))
                continue
            summaries.append(_validated_summary(batch, result, loaded=False))
    shown.close()
    return RunSummary(batches=summaries, as_of=None)


# --- the state of a run, the stages, the runner ------------------------------------------------------------------


@dataclass
class Run:
    """Everything a refresh knows as it goes: what it was given, the batch in hand, and what it has built."""

    con: io.duckdb.DuckDBPyConnection
    paths: Paths
    run_date: dt.date
    registry: Registry
    settings: Settings
    progress: Progress = field(default_factory=Progress)
    with_report: bool = False
    # the batch in hand (batch stages)
    folder: Path | None = None
    started: dt.datetime = field(default_factory=lambda: _now())
    ident: BatchIdentity | None = None
    batch: Batch | None = None
    result: ValidationResult | None = None
    summary: BatchSummary | None = None
    #: Set by a batch stage when the batch needs no further stage (rejected, or loaded before).
    batch_done: bool = False
    # the warehouse (warehouse stages)
    version: str | None = None
    rescored: bool = False
    as_of: dt.date | None = None
    tables: dict[str, pl.DataFrame] | None = None
    publication: Publication | None = None
    published: list[str] = field(default_factory=list)
    report: str | None = None
    report_error: str | None = None

    def reject(self, exc: BatchRejected) -> None:
        """Record the batch's rejection in the ledger; no data table changes."""
        assert self.folder is not None
        ident = self.ident
        run = _run_record(
            ident.batch_id if ident else folder_label(self.folder), self.folder, ident.content_hash if ident else "",
            ident.file_hashes if ident else {}, ident.as_of if ident else None, self.started, "rejected",
            self.registry, message=exc.message,
        )  # fmt: skip
        record_run(self.con, run)
        self.summary = _rejected_summary(self.folder, exc, *((ident.batch_id, ident.content_hash) if ident else ()))
        self.batch_done = True


def _ingest(run: Run) -> None:
    """Identify the batch (its files, content hash, id and as-of date); an export loaded before is skipped."""
    assert run.folder is not None
    limit(run.con, run.settings, run.paths.warehouse_dir / ".duckdb-tmp")
    run.ident = identify(run.folder, run.run_date, run.settings)
    if run.ident.content_hash in loaded_content_hashes(run.con):
        ident = run.ident
        record = _run_record(
            ident.batch_id, run.folder, ident.content_hash, ident.file_hashes, ident.as_of, run.started,
            "already_loaded", run.registry,
        )  # fmt: skip
        record_run(run.con, record)
        run.summary = BatchSummary(
            batch_id=ident.batch_id, status="already_loaded", content_hash=ident.content_hash,
            path=identifiers.redact(str(run.folder)), run_id=record.run_id, as_of=ident.as_of,
            warnings=list(ident.warnings),
        )  # fmt: skip
        run.batch_done = True


def _staging(run: Run) -> Path:
    assert run.ident is not None
    return io.contained(run.paths.staging, f"{run.ident.batch_id}-{os.getpid()}")


def _read(run: Run) -> None:
    """Read the batch's tables as text (a large answers file staged in DuckDB, see `pipeline.staging`)."""
    assert run.folder is not None
    run.batch = read_batch(run.folder, run.run_date, _staging(run), run.settings)
    fault_point("batch:read")


def _validate(run: Run) -> None:
    """Judge every row against the contract and the warehouse as it stands."""
    assert run.batch is not None
    run.result = validate_batch(run.batch, read_loaded_context(run.con), run.registry, settings=run.settings)
    fault_point("batch:validated")


def _load(run: Run) -> None:
    """Load the batch in one transaction (its quarantine files staged before the commit, put in place after)."""
    assert run.batch is not None and run.result is not None and run.folder is not None
    batch, result = run.batch, run.result
    summary = _validated_summary(batch, result, loaded=True)
    record = _run_record(
        batch.batch_id, run.folder, batch.content_hash, batch.file_hashes, batch.as_of, run.started, summary.status,
        run.registry, counts=summary.tables, by_rule=summary.quarantine_by_rule,
    )  # fmt: skip
    stage_quarantine_files(run.paths, batch.batch_id, record.run_id, result)
    fault_point("quarantine:staged")
    load_batch(run.con, result, record)
    fault_point("load:committed")
    summary.run_id = record.run_id
    summary.quarantine_files = place_quarantine_files(run.paths, record.run_id)
    fault_point("quarantine:published")
    run.summary = summary
    run.batch = run.result = None  # the batch's frames (1.5M sessions at tier L) are not held through scoring


def _expected_publication(run: Run) -> dict[str, Any]:
    return {
        "warehouse_run_id": run.version,
        "as_of": run.as_of,
        "registry_version": run.registry.version,
        "settings_fingerprint": run.settings.fingerprint(),
        "code_version": code_version(),
    }


def _score(run: Run) -> None:
    """Scores, reliability and change brought up to the loaded data (nothing if current; see `pipeline.outcomes`)."""
    limit(run.con, run.settings, run.paths.warehouse_dir / ".duckdb-tmp")
    run.version = data_version(run.con)
    run.as_of = warehouse_as_of(run.con, run.run_date)
    if run.version is None:
        return
    state = DerivedState(run.version, run.registry.version, run.settings.fingerprint(), code_version())
    run.rescored = refresh_outcomes(run.con, run.registry, run.settings, state)


def _publication_lags(run: Run) -> bool:
    if run.version is None or run.as_of is None:
        return False
    expected = _expected_publication(run)
    return run.rescored or not all(
        _matches(io.published_meta(run.paths.published_file(name)), expected) for name in PUBLISHED_FILES
    )


def _indicators(run: Run) -> None:
    """Every published table computed from the warehouse (the marts), when a publication lags the data."""
    if run.version is not None and run.as_of is None:
        for name in PUBLISHED_FILES:  # every batch was taken back: nothing may stay published
            io.remove_tree(run.paths.published, run.paths.published_file(name).name)
    if not _publication_lags(run):
        return
    assert run.as_of is not None and run.version is not None
    run.tables = marts.build_all(run.con, run.as_of, run.settings, run.registry, published_with=run.version)
    meta = publication_meta(run.as_of, run.version, run.registry.version, code_version(), run.settings)
    run.publication = disclose(run.tables, meta, run.settings)
    fault_point("publish:built")


def _publish(run: Run) -> None:
    """Both published files swapped in atomically."""
    if run.publication is None:
        return
    run.published = publish(run.paths, run.publication)
    fault_point("publish:written")


def _checkpoint(run: Run) -> None:
    run.con.execute("CHECKPOINT")
    fault_point("refresh:finished")


def _report(run: Run) -> None:
    """The default-period report (`--report`); one it cannot write is a usage problem, said in one sentence."""
    if not run.with_report or not run.paths.aggregate_file.exists():
        return
    from pipeline.report import ReportError, write_report

    try:
        run.report = str(write_report(run.paths) / "report.html")
    except ReportError as exc:
        run.report_error = f"The report was not written: {exc}"


# --- what each stage handled, for the progress display (read from what the stage left; nothing recomputed) ---


def _rows_read(batch: Batch) -> Count:
    """Rows of every table; a large answers file staged in DuckDB (`Batch.staged`, its frame empty) by the count
    staging took, without reading a row again."""
    rows = sum(frame.height for frame in batch.tables.values())
    return Count(rows + (batch.staged.rows if batch.staged is not None else 0))


def _rows_judged(result: ValidationResult) -> Count:
    counts = [table.counts() for table in result.tables.values()]
    quarantined = sum(c["quarantined"] for c in counts)
    return Count(sum(c["received"] for c in counts), note=f"{quarantined:,} quarantined" if quarantined else "")


def _ingested(run: Run) -> Count | None:
    return Count(note="already loaded") if run.summary is not None and run.batch_done else None


def _read_count(run: Run) -> Count | None:
    return _rows_read(run.batch) if run.batch is not None else None


def _validated_count(run: Run) -> Count | None:
    return _rows_judged(run.result) if run.result is not None else None


def _loaded_count(run: Run) -> Count | None:
    if run.summary is None:
        return None
    return Count(sum(counts["loaded"] for counts in run.summary.tables.values()))


def _scored_count(run: Run) -> Count:
    if not run.rescored:
        return Count(note="up to date" if run.version is not None else "nothing loaded")
    return Count(int(run.con.execute("SELECT count(*) FROM scores").fetchall()[0][0]), "scores")


def _indicators_count(run: Run) -> Count:
    if not run.tables:
        return Count(note="up to date" if run.version is not None else "nothing loaded")
    episodes = run.tables.get("episode_engagement")
    if episodes is not None:
        return Count(episodes.height, "episodes")
    return Count(sum(frame.height for frame in run.tables.values()), "rows", note=f"{len(run.tables)} tables")


def _published_count(run: Run) -> Count:
    return Count(len(run.published), "files") if run.published else Count(note="up to date")


def _report_count(run: Run) -> Count | None:
    if run.report_error:
        return Count(note="not written")
    return Count(note=Path(run.report).parent.name) if run.report else None


@dataclass(frozen=True)
class Stage:
    """One stage: its name (timed under it), what progress says, the function, whether it runs per batch, what it
    handled (shown when it ends), and whether it is shown at all (it runs regardless, returning at once when it
    has nothing to do)."""

    name: str
    label: str
    run: Callable[[Run], None]
    scope: Literal["batch", "warehouse"]
    count: Callable[[Run], Count | None] = lambda run: None
    shown: Callable[[Run], bool] = lambda run: True


#: THE stages of a refresh, in order.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", "identifying", _ingest, "batch", _ingested),
    Stage("read", "reading", _read, "batch", _read_count),
    Stage("validate", "validating", _validate, "batch", _validated_count),
    Stage("load", "loading", _load, "batch", _loaded_count),
    Stage("score", "scoring and computing change", _score, "warehouse", _scored_count),
    Stage("indicators", "computing indicators", _indicators, "warehouse", _indicators_count),
    Stage("publish", "publishing", _publish, "warehouse", _published_count),
    Stage("checkpoint", "checkpointing", _checkpoint, "warehouse"),
    Stage("report", "writing the report", _report, "warehouse", _report_count, lambda run: run.with_report),
)


def run_stages(run: Run, scope: Literal["batch", "warehouse"]) -> None:
    """Run the stages of ``scope`` in order, each timed and shown (started, then ended with what it handled); a
    batch stage may end its batch early."""
    for step in STAGES:
        if step.scope != scope:
            continue
        if scope == "batch" and run.batch_done:
            return
        where = (
            f"{run.ident.batch_id if run.ident else run.folder.name if run.folder else ''}: "
            if scope == "batch"
            else ""
        )
        shown = step.shown(run)
        if shown:
            run.progress.step(f"{where}{step.label}")
        with timed(step.name):
            step.run(run)
        if shown:
            run.progress.done(step.count(run) if run.progress.counts else None)


def _refresh_one(run: Run, folder: Path) -> BatchSummary:
    """One batch through the batch stages; a rejection is recorded, never raised."""
    run.folder, run.started, run.ident, run.batch, run.result, run.summary = folder, _now(), None, None, None, None
    run.batch_done = False
    try:
        run_stages(run, "batch")
    except BatchRejected as exc:
        run.progress.done(Count(note="rejected"))
        run.reject(exc)
    finally:
        if run.ident is not None:
            io.remove_tree(run.paths.staging, _staging(run).name)
    assert run.summary is not None
    return run.summary


def refresh_batches(
    paths: Paths,
    folders: Sequence[Path],
    run_date: dt.date,
    registry: Registry | None = None,
    progress: ProgressLike = None,
    settings: Settings = DEFAULTS,
    with_report: bool = False,
) -> RunSummary:
    """Every batch through the batch stages, each in its own transaction; then the warehouse stages, which bring
    every derived product up to date (also when nothing new was loaded: that is how an interrupted refresh
    recovers).

    Opening the warehouse decides first whether it is busy (`io.WarehouseBusy`), before any batch is read.
    """
    with io.warehouse(paths.warehouse) as con:
        fault_point("refresh:started")
        io.remove_stale_temporaries([paths.published, paths.quarantine, paths.reports, paths.warehouse_dir])
        _remove_stale_staging(paths)
        finish_quarantine_files(con, paths)
        run = Run(
            con,
            paths,
            run_date,
            registry or registry_with(settings.instrument_folders(paths.home)),
            settings,
            as_progress(progress),
            with_report,
        )
        summaries = [_refresh_one(run, folder) for folder in folders]
        run_stages(run, "warehouse")
        run.progress.close()
    return RunSummary(
        batches=summaries, as_of=run.as_of, published=run.published, report=run.report, report_error=run.report_error
    )


def _matches(meta: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    return meta is not None and all(meta.get(k) == v for k, v in expected.items())


def _remove_stale_staging(paths: Paths) -> None:
    """Scratch folders of batches whose process is gone (named ``<batch>-<pid>``)."""
    if not paths.staging.is_dir():
        return
    for folder in paths.staging.iterdir():
        pid = folder.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) != os.getpid():
            io.remove_tree(paths.staging, folder.name)


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
    progress: ProgressLike = None,
) -> RunSummary:
    """Take a loaded batch back: its rows, its quarantine and its effect on the as-of date, recorded in the ledger
    (status `removed`), then everything derived is rebuilt. Rows of later batches that belong to its clients or
    sessions are removed too only with ``cascade`` (otherwise the removal is refused, naming them).

    Rows the batch replaced when it loaded (an earlier export of the same keys) are not restored: resend that
    export to bring them back.
    """
    from pipeline.ingest import BATCH_ID_PATTERN

    registry = registry or registry_with(settings.instrument_folders(paths.home))
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
            with io.transaction(con):
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
        finally:
            con.execute("DROP TABLE IF EXISTS _gone_clients")
            con.execute("DROP TABLE IF EXISTS _gone_sessions")
        finish_quarantine_files(con, paths)
        rebuild = Run(con, paths, run_date, registry, settings, as_progress(progress))
        run_stages(rebuild, "warehouse")
        rebuild.progress.close()
    summary = BatchSummary(batch_id=batch_id, status="removed", content_hash="", path="", run_id=run.run_id)
    summary.tables = counts
    return RunSummary(batches=[summary], as_of=rebuild.as_of, published=rebuild.published)


def raw_batches(paths: Paths) -> list[Path]:
    """Batch folders under ``<home>/raw``, in name order (name them by export date to load in order)."""
    if not paths.raw.exists():
        return []
    return sorted(p for p in paths.raw.iterdir() if p.is_dir() and not p.name.startswith("."))
