"""data_quality — rows received, loaded, quarantined and collapsed per batch and table, and quarantined rows per
rule; data_quality_summary — the same totalled over the loaded batches.

Purpose: nothing is lost and nothing is silent — every received row is loaded, quarantined with its reasons, or
collapsed as an exact duplicate.
Grain: data_quality — one row per batch × load (a corrected re-export of the same batch id is a second load) × table ×
measure (× rule for `quarantined_by_rule`); data_quality_summary — one row.
Inputs: the run ledger's loads that are not taken back (`load.ACTIVE_LOADS`).
Reference: DESIGN 3 ("received = loaded + quarantined + duplicates"), 6 (these count rows, not people: exempt
from disclosure control).
Missing data: a batch with no quarantined row has no `quarantined_by_rule` rows.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from pipeline.load import ACTIVE_LOADS
from pipeline.marts.base import Context, Mart

SCHEMA = {"batch_id": pl.String, "load_number": pl.Int64, "as_of": pl.Date, "table_name": pl.String,
          "measure": pl.String, "rule": pl.String, "rows": pl.Int64}  # fmt: skip
MEASURES = ("received", "loaded", "quarantined", "duplicates")


def build(ctx: Context) -> pl.DataFrame:
    runs = ctx.query(
        f"SELECT batch_id, row_number() OVER (PARTITION BY batch_id ORDER BY finished_at, run_id) AS load_number, "
        f"as_of, counts, quarantine_by_rule FROM ({ACTIVE_LOADS}) ORDER BY finished_at, run_id"
    )
    rows: list[dict[str, Any]] = []
    for run in runs.iter_rows(named=True):
        base = {"batch_id": run["batch_id"], "load_number": run["load_number"], "as_of": run["as_of"]}
        for table, counts in json.loads(run["counts"]).items():
            rows += [{**base, "table_name": table, "measure": k, "rule": None, "rows": v} for k, v in counts.items()]
        rows += [
            {**base, "table_name": None, "measure": "quarantined_by_rule", "rule": rule, "rows": n}
            for rule, n in json.loads(run["quarantine_by_rule"]).items()
        ]
    return pl.DataFrame(rows, schema=SCHEMA)


def build_summary(ctx: Context) -> pl.DataFrame:
    """One row: batches loaded and rows received, loaded, quarantined and collapsed over all of them."""
    detail = build(ctx)
    totals = {m: int(detail.filter(pl.col("measure") == m)["rows"].sum() or 0) for m in MEASURES}
    return pl.DataFrame(
        [{"batches": detail["batch_id"].n_unique(), **totals}],
        schema={"batches": pl.Int64, **dict.fromkeys(MEASURES, pl.Int64)},
    )


MART = Mart("data_quality", "aggregate", build)
SUMMARY = Mart("data_quality_summary", "aggregate", build_summary)
