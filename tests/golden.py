"""Golden end-to-end output on data/sample: `make golden` rewrites it; only ever on purpose, with the diff read.

Run as ``python -m tests.golden``. The golden file holds what a refresh of the sample must produce: the summary
(without run ids and paths), a fingerprint of every warehouse table, of every table of both published files, and
the report's `summary.json` for the default period and for all time.

A published table's fingerprint is readable where it changes: its row count, and per column its type, how many
values are null and — numbers rounded to 6 decimals — their sum (numbers) or a short hash of the sorted values
(text, dates). Run ids, code versions and hashes of what is being compared are left out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import io
from pipeline.config import Paths
from pipeline.stages import refresh_batches

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
GOLDEN = Path(__file__).parent / "golden" / "sample_refresh.json"

FINGERPRINTS = {
    "clients": "SELECT service, helping_professional, count(*) AS n, count(intake_date) AS with_intake, "
    "count(discharge_date) AS discharged FROM clients GROUP BY ALL ORDER BY ALL",
    "sessions": "SELECT kind, status, modality, count(*) AS n, sum(duration_min) AS minutes FROM sessions "
    "GROUP BY ALL ORDER BY ALL",
    "measures": "SELECT instrument, count(*) AS n, count(value) AS answered, round(sum(value), 6) AS total "
    "FROM measures GROUP BY ALL ORDER BY ALL",
    "goals": "SELECT attainment, count(*) AS n, sum(weight) AS weight FROM goals GROUP BY ALL ORDER BY ALL",
    "scores": "SELECT instrument, scale, source, count(*) AS n, round(sum(score), 6) AS total, "
    "round(sum(pomp), 6) AS pomp FROM scores GROUP BY ALL ORDER BY ALL",
    "client_change": "SELECT instrument, scale, category, count(*) AS n, sum(paired::INT) AS paired, "
    "round(sum(change), 6) AS change, round(sum(rci), 6) AS rci FROM client_change GROUP BY ALL ORDER BY ALL",
    "scale_reliability": "SELECT instrument, scale, n_baseline_complete, round(alpha_estimated, 9), reliability_used "
    "FROM scale_reliability ORDER BY ALL",
}


#: Values that identify a run or a build rather than what was computed.
VOLATILE = {"warehouse_run_id", "code_version", "registry_version", "settings_fingerprint"}


def column_fingerprint(series: pl.Series) -> dict[str, Any]:
    """Type, nulls, and the sum (numbers) or a short hash of the sorted values (anything else)."""
    out: dict[str, Any] = {"type": str(series.dtype), "nulls": series.null_count()}
    values = series.drop_nulls()
    if series.dtype.is_numeric():
        total = values.cast(pl.Float64).fill_nan(None).sum()
        out["sum"] = f"{total:.6f}" if total is not None else None
        out["nans"] = int(values.cast(pl.Float64).is_nan().sum())
    else:
        text = "\n".join(sorted(str(v) for v in values.to_list()))
        out["hash"] = hashlib.sha256(text.encode()).hexdigest()[:12]
    return out


def table_fingerprint(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        "rows": frame.height,
        "columns": {c: column_fingerprint(frame[c]) for c in frame.columns if c not in VOLATILE},
    }


def golden_output() -> dict[str, Any]:
    from pipeline.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths(Path(tmp))
        summary = refresh_batches(paths, [SAMPLE], dt.date(2026, 10, 31)).to_dict()
        summary["published"] = [Path(p).name for p in summary["published"]]
        for batch in summary["batches"]:
            batch.pop("run_id")
            batch.pop("path")
        with io.warehouse(paths.warehouse, read_only=True) as con:
            tables = {
                name: [[str(v) for v in row] for row in con.execute(sql).fetchall()]
                for name, sql in FINGERPRINTS.items()
            }
        published = {
            f"{file}.{name}": table_fingerprint(frame)
            for file in ("aggregate", "clinical")
            for name, frame in sorted(io.read_all_tables(paths.published / f"{file}.duckdb").items())
        }
        reports = {}
        for period in (None, "all"):
            folder = write_report(paths, period)
            report = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            reports[period or "default"] = {k: v for k, v in report.items() if k not in VOLATILE}
    return {"summary": summary, "warehouse": tables, "published": published, "report_summary": reports}


def main() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(golden_output(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(ROOT)}; read `git diff {GOLDEN.relative_to(ROOT)}` before committing")


if __name__ == "__main__":
    sys.exit(main())
