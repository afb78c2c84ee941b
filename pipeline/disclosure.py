"""Disclosure control: the one implementation, applied at publish and nowhere else (DESIGN section 6).

Rules, with k = 11 by default (the CMS small-cell rule):
- a count of 1..k−1 is suppressed (0 is shown: it reveals no one);
- a rate is suppressed when its numerator, its denominator, or denominator − numerator is 1..k−1;
- a mean, SD, effect size or confidence limit is suppressed when its n is under k (a mean reveals no count,
  so it stays shown when its n is hidden only to protect another cell);
- complementary suppression: within one published table, when a breakdown's cells add up to a shown total and
  exactly one of them is suppressed, the smallest other non-zero cell is suppressed too, so the hidden one
  cannot be recovered by subtraction; the same holds for count columns that add up within a row
  (attended + cancelled + no-show = scheduled). Repeated until nothing changes;
- optionally (the NHS style, ``rounding=5`` with ``k=8``) shown counts are rounded to the nearest multiple.

A suppressed cell is stored as NULL with a companion ``<column>_suppressed`` = true and displayed as ``<k``.
Reconciliation invariants are checked on the unsuppressed tables before this runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SUPPRESSED_SUFFIX = "_suppressed"


@dataclass(frozen=True)
class DisclosurePolicy:
    """The rule in force; shown on the Methods page and recorded with every publication."""

    k: int = 11
    rounding: int | None = None

    def describe(self) -> str:
        text = f"counts of 1 to {self.k - 1} are suppressed (shown as <{self.k})"
        if self.rounding:
            text += f"; other counts are rounded to the nearest {self.rounding}"
        return text


@dataclass(frozen=True)
class TableLayout:
    """What the columns of one aggregate table mean, so the rules know what to protect.

    The table's breakdowns are rows keyed by ``dimension`` (e.g. `service`) and ``level`` (e.g. `therapy`);
    rows whose dimension is ``overall`` are the totals that every other dimension's levels add up to, for the
    same values of the remaining keys (period, instrument, …).
    """

    keys: tuple[str, ...]
    counts: tuple[str, ...] = ()
    rates: tuple[tuple[str, str, str], ...] = ()  # (rate, numerator count, denominator count)
    statistics: tuple[tuple[str, str], ...] = ()  # (statistic, its n)
    row_sums: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (total count, parts that add up to it)
    dimension: str | None = "dimension"
    overall: str = "overall"
    #: (detail column, parent column): a row's parts are the rows whose parent equals its detail value, for the
    #: same other keys (months within their quarter, quarters within 'all').
    hierarchy: tuple[str, str] | None = None
    #: (column, the rate or statistic it is hidden with): a confidence limit of a rate reveals the rate.
    companions: tuple[tuple[str, str], ...] = ()


def _small(col: pl.Expr, k: int) -> pl.Expr:
    return (col >= 1) & (col <= k - 1)


def apply_disclosure_control(table: pl.DataFrame, layout: TableLayout, policy: DisclosurePolicy) -> pl.DataFrame:
    """Return the publishable table: suppressed cells NULL with ``<col>_suppressed`` flags beside them."""
    k = policy.k
    # Complementary suppression picks cells in row order: judge the rows in the order of the table's keys, so that
    # the cells hidden depend on the numbers only, never on how the table happened to be built (rows are returned
    # in the order given).
    table = table.with_row_index("_given").sort(list(layout.keys), nulls_last=False, maintain_order=True)
    flags = {
        c: table.select(_small(pl.col(c).cast(pl.Int64).fill_null(0), k).fill_null(False).alias(c))
        .to_series()
        .cast(pl.Boolean)
        for c in layout.counts
    }
    frame = table.with_row_index("_r")
    flags = _complementary(frame, layout, flags)
    out = frame
    for column, suppressed in flags.items():
        out = out.with_columns(pl.Series(f"{column}{SUPPRESSED_SUFFIX}", suppressed))
    for rate, num, den in layout.rates:
        flag = (
            _small(pl.col(num).fill_null(0), k)
            | _small(pl.col(den).fill_null(0), k)
            | _small((pl.col(den) - pl.col(num)).fill_null(0), k)
            | pl.col(f"{num}{SUPPRESSED_SUFFIX}")
            | pl.col(f"{den}{SUPPRESSED_SUFFIX}")
        )
        out = out.with_columns(flag.fill_null(False).cast(pl.Boolean).alias(f"{rate}{SUPPRESSED_SUFFIX}"))
    for statistic, n in layout.statistics:
        # A mean reveals no count, so only its own n matters (a rate would: it is hidden with its counts).
        out = out.with_columns((pl.col(n).cast(pl.Int64).fill_null(0) < k).alias(f"{statistic}{SUPPRESSED_SUFFIX}"))
    for column, leader in layout.companions:
        out = out.with_columns(pl.col(f"{leader}{SUPPRESSED_SUFFIX}").alias(f"{column}{SUPPRESSED_SUFFIX}"))
    protected = [*layout.counts, *(r[0] for r in layout.rates), *(s[0] for s in layout.statistics),
                 *(c[0] for c in layout.companions)]  # fmt: skip
    out = out.with_columns(
        pl.when(pl.col(f"{c}{SUPPRESSED_SUFFIX}")).then(None).otherwise(pl.col(c)).alias(c) for c in protected
    )
    if policy.rounding:
        m = policy.rounding
        out = out.with_columns(((pl.col(c) / m).round(0) * m).cast(table.schema[c]).alias(c) for c in layout.counts)
    return out.sort("_given").drop("_r", "_given")


def _complementary(frame: pl.DataFrame, layout: TableLayout, flags: dict[str, pl.Series]) -> dict[str, pl.Series]:
    """Secondary suppression until no suppressed cell is the only hidden part of a shown total."""
    flags = {c: f.clone() for c, f in flags.items()}
    families = _partition_families(frame, layout)
    changed = True
    while changed:
        changed = False
        for column in layout.counts:
            values = frame[column].fill_null(0).to_list()
            hidden = flags[column].to_list()
            for total_row, members in families:
                if hidden[total_row] or values[total_row] == 0:
                    continue
                if _protect(total_row, members, values, hidden):
                    changed = True
            flags[column] = pl.Series(column, hidden, dtype=pl.Boolean)
        for total_col, parts in layout.row_sums:
            total_hidden = flags[total_col].to_list()
            part_values = {p: frame[p].fill_null(0).to_list() for p in parts}
            part_hidden = {p: flags[p].to_list() for p in parts}
            for r in range(frame.height):
                if total_hidden[r]:
                    continue
                hidden_parts = [p for p in parts if part_hidden[p][r]]
                if len(hidden_parts) == 1:
                    candidates = [p for p in parts if not part_hidden[p][r] and part_values[p][r] > 0]
                    if candidates:
                        pick = min(candidates, key=lambda p: part_values[p][r])
                        part_hidden[pick][r] = True
                        changed = True
                    elif part_values[hidden_parts[0]][r] > 0:
                        total_hidden[r] = True  # nothing else to hide: the total itself must go
                        changed = True
            flags[total_col] = pl.Series(total_col, total_hidden, dtype=pl.Boolean)
            for p in parts:
                flags[p] = pl.Series(p, part_hidden[p], dtype=pl.Boolean)
    return flags


def _protect(total: int, members: list[int], values: list[int], hidden: list[bool]) -> bool:
    """If exactly one non-zero member is hidden, hide the smallest other non-zero member too — or, when every
    other member is zero, the total itself (it would equal the hidden cell)."""
    hidden_members = [m for m in members if hidden[m] and values[m] > 0]
    if len(hidden_members) != 1:
        return False
    candidates = [m for m in members if not hidden[m] and values[m] > 0]
    pick = min(candidates, key=lambda m: values[m]) if candidates else total
    hidden[pick] = True
    return True


def _partition_families(frame: pl.DataFrame, layout: TableLayout) -> list[tuple[int, list[int]]]:
    """(row index of the total, row indices of its parts) for every breakdown in the table.

    Families come in a fixed order — breakdowns before hierarchies; within each, by the first row of their group
    of other keys, then by their first part (breakdown) or their total's row (hierarchy) — because secondary
    suppression picks cells in that order.
    """
    families: list[pl.DataFrame] = []
    if layout.dimension is not None and layout.dimension in frame.columns:
        dim = layout.dimension
        others = [k for k in layout.keys if k not in (dim, "level")]
        keyed = _with_group(frame, others)
        totals = (
            keyed.filter(pl.col(dim) == layout.overall).group_by("_group").agg(pl.col("_r").first().alias("_total"))
        )
        members = (
            keyed.filter(pl.col(dim) != layout.overall)
            .group_by("_group", dim, maintain_order=True)
            .agg(pl.col("_r").min().alias("_order"), pl.col("_r").alias("_members"))
        )
        families.append(members.join(totals, on="_group").select(_FAMILY_COLUMNS).sort("_group", "_order"))
    if layout.hierarchy is not None:
        detail, parent = layout.hierarchy
        others = [k for k in layout.keys if k not in (detail, parent)]
        keyed = _with_group(frame, others)
        children = keyed.group_by("_group", parent, maintain_order=True).agg(pl.col("_r").alias("_members"))
        families.append(
            keyed.select("_group", pl.col("_r").alias("_total"), pl.col("_r").alias("_order"), detail)
            .join(children, left_on=["_group", detail], right_on=["_group", parent], nulls_equal=True)
            .select(_FAMILY_COLUMNS)
            .sort("_group", "_order")
        )
    if not families:
        return []
    ordered = pl.concat(families)  # every breakdown family first, then every hierarchy family
    return list(zip(ordered["_total"].to_list(), ordered["_members"].to_list(), strict=True))


_FAMILY_TYPES: dict[str, pl.DataType] = {
    "_group": pl.UInt32(), "_order": pl.UInt32(), "_total": pl.UInt32(), "_members": pl.List(pl.UInt32()),
}  # fmt: skip
_FAMILY_COLUMNS = [pl.col(c).cast(t) for c, t in _FAMILY_TYPES.items()]


def _with_group(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """``frame`` with ``_group``: the first row index of its group of ``keys`` (all rows one group if none)."""
    if not keys:
        return frame.with_columns(pl.lit(0, pl.UInt32).alias("_group"))
    return frame.with_columns(pl.col("_r").min().over(keys).cast(pl.UInt32).alias("_group"))


def display(value: object, suppressed: bool, policy: DisclosurePolicy) -> str:
    """How a cell is shown: ``<k`` for a suppressed cell, never a number or 0."""
    return f"<{policy.k}" if suppressed else ("" if value is None else str(value))
