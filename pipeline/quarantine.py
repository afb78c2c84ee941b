"""Quarantine files: the rows a batch held back, exactly as received, with their reasons — for the practice to fix
and resend (DESIGN 3).

They are written under ``quarantine/.pending/<run>`` before the batch's load commits (`stage_quarantine_files`) and
moved to ``quarantine/<batch_id>/`` after it (`place_quarantine_files`), with a ``MANIFEST.json`` naming the batch
and the run; `finish_quarantine_files` (every refresh) puts in place what a committed load left staged, drops what
never committed, and removes the folders of batches taken back. Every path goes through `io.contained`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from pipeline import io
from pipeline.config import Paths
from pipeline.faults import fault_point
from pipeline.ingest import ROW
from pipeline.load import ACTIVE_LOADS
from pipeline.validate import ValidationResult
from schemas.inputs import RULES

MANIFEST = "MANIFEST.json"


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
