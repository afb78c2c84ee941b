"""Revisions of closed periods: how many times a finished-treatment figure changed after it was first published
for a period that had ended.

Purpose: a director compares quarters; a closed quarter's figures should stand. They change only when something about
that quarter's own episodes changes — late data (a questionnaire or a session exported after the quarter ended), a
discharge date a later export corrects or removes, a batch taken back, a changed setting — and then the row says so.
Grain: the rows of the finished-treatment tables (outcome_summary's `finished_treatment` rows, nhs_outcomes) whose
period is a quarter or month that ended before the as-of date.
Rule: at every publication each such row's figures (every column but the keys, `revision` and `lapsed`, which depends
on the as-of date by definition) are fingerprinted. The first time a closed row is published it is recorded with
revision 0; whenever its fingerprint differs from the recorded one the revision goes up by one. Open periods, `all`
and the in-treatment rows have no revision (empty). The record is the warehouse table `closed_period_revisions`,
written in one transaction with the publication's build: an interrupted refresh that rebuilds the same figures
finds the same fingerprints and changes nothing.
Reference: NHS Talking Therapies publishes quarterly figures once and marks later revisions the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import polars as pl

from pipeline import io

TABLE = "closed_period_revisions"
DDL = f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        table_name VARCHAR NOT NULL, row_key VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL,
        revision INTEGER NOT NULL, first_published_with VARCHAR, revised_with VARCHAR,
        PRIMARY KEY (table_name, row_key)
    )
"""
#: The tables whose closed periods carry a revision, with the columns that identify a row.
REVISED: dict[str, tuple[str, ...]] = {
    "outcome_summary": ("population", "period_type", "period", "dimension", "level", "instrument", "scale"),
    "nhs_outcomes": ("period_type", "period", "dimension", "level"),
}
#: Columns that are not the period's figures: they never make a revision.
NOT_FIGURES = ("revision", "lapsed", "parent_period")


def period_end(period: pl.Expr) -> pl.Expr:
    """The last day of a quarter (2026-Q3) or month (2026-09)."""
    year = period.str.slice(0, 4).cast(pl.Int32, strict=False)
    quarter = period.str.extract(r"Q(\d)$").cast(pl.Int32, strict=False)
    month = period.str.extract(r"-(\d\d)$").cast(pl.Int32, strict=False)
    last_month = pl.when(quarter.is_not_null()).then(quarter * 3).otherwise(month)
    return pl.date(year, last_month, 1).dt.month_end()


def _closed(table: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The finished-treatment rows of quarters and months that ended before the as-of date."""
    finished = pl.col("population") == "finished_treatment" if "population" in table.columns else pl.lit(True)
    periods = table.filter(finished & pl.col("period_type").is_in(["quarter", "month"]))
    return periods.filter(period_end(pl.col("period")) < as_of)


def _fingerprints(table: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
    """(row_key, fingerprint) per row: a stable hash of its figures (floats to 9 significant digits, so that
    summation order cannot revise a figure)."""
    figures = [c for c in table.columns if c not in keys and c not in NOT_FIGURES]
    out = []
    for row in table.select(*keys, *figures).iter_rows(named=True):
        values = [f"{v:.9g}" if isinstance(v, float) else v for v in (row[c] for c in figures)]
        key = json.dumps([row[k] for k in keys])
        digest = hashlib.sha256(json.dumps([figures, values], default=str).encode()).hexdigest()[:32]
        out.append((key, digest))
    return pl.DataFrame(out, schema={"row_key": pl.String, "fingerprint": pl.String}, orient="row")


def record_revisions(
    con: io.duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame], as_of: dt.date, published_with: str
) -> dict[str, pl.DataFrame]:
    """The tables with their `revision` column set from the warehouse's record, which is brought up to date (new
    closed rows recorded at 0, changed ones counted up) in one transaction."""
    out = dict(tables)
    with io.transaction(con):
        con.execute(DDL)
        for name, keys in REVISED.items():
            table = tables[name].with_row_index("_row")
            closed = _closed(table, as_of)
            current = _fingerprints(closed.drop("_row"), keys).with_columns(_row=closed["_row"])
            stored = io.query(
                con, f"SELECT row_key, fingerprint, revision FROM {TABLE} WHERE table_name = $t", {"t": name}
            )
            merged = current.join(stored, on="row_key", how="left", suffix="_stored")
            merged = merged.with_columns(
                pl.when(pl.col("revision").is_null()).then(0)
                .when(pl.col("fingerprint") != pl.col("fingerprint_stored")).then(pl.col("revision") + 1)
                .otherwise(pl.col("revision")).cast(pl.Int64).alias("revision"),
                (pl.col("fingerprint_stored").is_null() | (pl.col("fingerprint") != pl.col("fingerprint_stored")))
                .alias("_changed"),
            )  # fmt: skip
            changed = merged.filter(pl.col("_changed")).select(
                pl.lit(name).alias("table_name"), "row_key", "fingerprint", pl.col("revision").cast(pl.Int32),
                pl.lit(published_with).alias("first_published_with"), pl.lit(published_with).alias("revised_with"),
            )  # fmt: skip
            if changed.height:
                con.register("_changed", changed)
                con.execute(
                    f"""INSERT INTO {TABLE} SELECT * FROM _changed
                    ON CONFLICT (table_name, row_key) DO UPDATE SET fingerprint = excluded.fingerprint,
                        revision = excluded.revision, revised_with = excluded.revised_with"""
                )
                con.unregister("_changed")
            revision = merged.select("_row", "revision")
            out[name] = (
                table.drop("revision", strict=False)
                .join(revision, on="_row", how="left")
                .drop("_row")
                .select(
                    tables[name].columns if "revision" in tables[name].columns else [*tables[name].columns, "revision"]
                )
            )
    return out
