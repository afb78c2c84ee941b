"""Disclosure control: the one implementation, applied at publish and nowhere else (DESIGN 6; docs/indicators.md §12).

The shareable publication must not let anyone learn a count of 1 to k−1 people — not from the cell itself, and
not by working it out from everything else that is published. How:

1. **Relations are declared where each table is defined** (`TableLayout`): the levels of a breakdown add up to the
   overall row (`dimension`); months add up to their quarter and quarters to all time (`hierarchy`, whatever the
   period type); counts within a row add up (`row_sums`), where a part written `~name` is a remainder that is not
   published but is itself a count of people (episodes = paired + ~unpaired: the unpaired are protected too); and
   the same count published in two tables (`Link`).
2. **Primary suppression**: a count of 1..k−1 is hidden and shown `<k`; so is a zero that shares a relation with
   one (a zero is "fewer than k" too) — then a `<k` beside another `<k` may be 0, and a small total cannot pin its
   small parts (2 = 1 + 1).
3. **Complementary suppression**, until the audit passes: where a hidden small count (or a small unpublished
   remainder) could be pinned, the smallest suitable other cell of a relation that pins it is hidden too — a
   breakdown's cell before the practice's, a part before its total — and marked as hidden *to protect* another
   (shown ‡: not small, which the audit knows too).
4. **The audit — the project's own attacker** knows every published number, every relation and what each mark
   means (`<k`: 1..k−1, or 0..k−1 beside another `<k`; ‡: at least k; a remainder: at least 0). It bounds every
   hidden small count and small remainder by propagating bounds through all relations to a fixed point
   (`propagate`, vectorised), then exactly, with linear programmes (`scipy.optimize.linprog`, HiGHS) over each
   group of linked hidden cells (`audit_component`: batched LPs prove most cells free at once). A cell it pins
   (or, with `protection` above 1, bounds less than that far above its value) gets more complementary
   suppression, widening ring by ring; the loop ends when the audit passes. What no suppression can protect is
   reported (`AuditReport.at_most_suppression`, published in the publication's `disclosure_audit`).
5. **Rates and statistics**: a rate is hidden when its numerator or denominator is; a mean, SD, effect size or
   interval when its n is hidden or under k (g / d = J(n) would reveal a hidden n); a companion (a rate's
   confidence limits) with its rate.
6. **NHS style** (`rule = "nhs"`, k = 8): counts of 1..7 are suppressed and every other count is rounded to the
   nearest 5; the audit then knows shown counts only to ±2.

A hidden cell is stored as NULL with `<column>_suppressed` = true; `hidden_to_protect` lists, per row, the columns
hidden only to protect other cells. Curves are protected by rounding their counts (`round_to_band`, OpenSAFELY's
method), not by cell suppression. The marks are shown the same everywhere (`mark_expr`, `display`, `legend`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse

from schemas.published import PROTECT_COLUMN

SUPPRESSED_SUFFIX = "_suppressed"
RULES = ("cms", "nhs")
#: Components of hidden cells up to this size are also audited exactly (linear programmes); larger ones by peeling.
EXACT_AUDIT_CELLS = 100_000
#: Above this many hidden cells in a group, a count no batch LP could move is taken as pinned without bounding it
#: alone (an LP apiece costs seconds there); it gets more suppression and the group is audited again.
SINGLE_LP_CELLS = 1000
#: How many relations away from a failing cell complementary suppression looks before it settles for the most
#: suppression can do there (beyond three steps, hiding more has not widened a bound on any data we measured).
MAX_RADIUS = 3


@dataclass(frozen=True)
class DisclosurePolicy:
    """The rule in force; shown on the Methods page and recorded with every publication."""

    k: int = 11
    rounding: int | None = None
    protection: int | None = None
    rule: str = "cms"

    @property
    def upper_protection(self) -> int:
        """How far above a hidden small count the attacker's upper bound must reach (capped at the highest value
        the cell could have): 1 by default — no hidden count may be pinned to one value, nor bounded at its true
        value from above. A practice can demand more (`[disclosure] protection`), at the cost of more cells hidden:
        on the demo, 5 hides 27% more cells and leaves many more that no suppression can widen that far."""
        return self.protection if self.protection is not None else 1

    def describe(self) -> str:
        text = f"counts of 1 to {self.k - 1} are suppressed (shown as <{self.k})"
        if self.rounding:
            text += f"; other counts are rounded to the nearest {self.rounding}"
        return text + (
            "; further cells are hidden (shown as ‡) wherever a hidden count could otherwise be worked out — "
            f"pinned, or bounded within {self.upper_protection} of its value"
        )


@dataclass(frozen=True)
class TableLayout:
    """What the columns of one aggregate table mean, so that the rules know what to protect.

    The table's breakdowns are rows keyed by ``dimension`` (e.g. `service`) and ``level`` (e.g. `therapy`); rows
    whose dimension is ``overall`` are the totals that every other dimension's levels add up to, for the same
    values of the remaining keys (period, instrument, …).
    """

    keys: tuple[str, ...]
    counts: tuple[str, ...] = ()
    rates: tuple[tuple[str, str, str], ...] = ()  # (rate, numerator count, denominator count)
    statistics: tuple[tuple[str, str], ...] = ()  # (statistic, its n)
    #: (total, parts that add up to it); a part `~name` is an unpublished remainder, itself a count of people.
    row_sums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    dimension: str | None = "dimension"
    overall: str = "overall"
    #: (detail column, parent column): a row's parts are the rows whose parent equals its detail value, for the
    #: same other keys (months within their quarter, quarters within 'all').
    hierarchy: tuple[str, str] | None = None
    #: Keys that only say which level of the hierarchy a row is (period_type): not part of a family's identity.
    hierarchy_levels: tuple[str, ...] = ("period_type",)
    #: (column, the rate or statistic it is hidden with): a confidence limit of a rate reveals the rate.
    companions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Link:
    """The same count published in two tables: ``column`` of the rows of ``table`` where ``where`` holds equals
    ``other_column`` of the rows of ``other`` where ``other_where`` holds, matched on the key columns ``on``."""

    table: str
    column: str
    other: str
    other_column: str
    on: tuple[str, ...]
    where: pl.Expr | None = None
    other_where: pl.Expr | None = None


@dataclass
class AuditReport:
    """What disclosure control did to one publication (the closing numbers of a refresh)."""

    cells: int = 0
    primary: int = 0
    complementary: int = 0
    remainders_protected: int = 0
    zeros_hidden: int = 0
    at_most_suppression: int = 0
    components: int = 0
    linear_programmes: int = 0
    exact_components: int = 0
    peeling_failures: int = 0
    rounds: int = 0
    seconds: float = 0.0
    by_table: dict[str, dict[str, int]] = field(default_factory=dict)
    #: (table, column, row) of the counts no suppression can protect: the structure alone narrows them (a hidden
    #: small total of 2 with two hidden small parts: each is 1). Counted in `at_most_suppression`.
    unprotectable: list[tuple[str, str, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "cells": self.cells,
            "primary": self.primary,
            "complementary": self.complementary,
            "remainders_protected": self.remainders_protected,
            "zeros_hidden": self.zeros_hidden,
            "at_most_suppression": self.at_most_suppression,
            "components": self.components,
            "linear_programmes": self.linear_programmes,
            "exact_components": self.exact_components,
            "peeling_failures": self.peeling_failures,
            "rounds": self.rounds,
            "by_table": self.by_table,
        }  # fmt: skip  (no seconds: the publication must be the same on every run)


# --- the cells and their relations -------------------------------------------------------------------------------


class _Problem:
    """Every count cell of the publication (and every unpublished remainder) with the equations among them."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.virtual: list[bool] = []
        self.headline: list[int] = []  # 0 a breakdown's cell; +1 the practice as a whole; +1 all time
        self.dependents: list[int] = []  # how many rates and statistics of its row are hidden with it
        self.where: list[tuple[str, str, int]] = []  # (table, column, row)
        self.relations: list[tuple[np.ndarray, np.ndarray]] = []  # (cell ids, coefficients ±1): Σ c·x = 0
        self.offsets: dict[tuple[str, str], int] = {}

    def add_column(
        self,
        table: str,
        column: str,
        values: Sequence[int],
        headline: Sequence[int],
        virtual: bool = False,
        dependents: int = 0,
    ) -> int:
        offset = len(self.values)
        self.offsets[(table, column)] = offset
        self.values.extend(int(v) for v in values)
        self.headline.extend(headline)
        self.dependents.extend([dependents] * len(values))
        self.virtual.extend([virtual] * len(values))
        self.where.extend((table, column, r) for r in range(len(values)))
        return offset

    def relate(self, plus: Iterable[int], minus: Iterable[int]) -> None:
        """Σ plus − Σ minus = 0."""
        p, m = list(plus), list(minus)
        if not m or (not p and not m):
            return
        ids = np.array(p + m, dtype=np.int64)
        coefs = np.array([1] * len(p) + [-1] * len(m), dtype=np.int64)
        self.relations.append((ids, coefs))


def _families(frame: pl.DataFrame, layout: TableLayout) -> list[tuple[int, list[int]]]:
    """(row of the total, rows of its parts) for every breakdown and every hierarchy step of a table."""
    out: list[tuple[int, list[int]]] = []
    indexed = frame.with_row_index("_r")
    if layout.dimension is not None and layout.dimension in frame.columns:
        dim = layout.dimension
        others = [k for k in layout.keys if k not in (dim, "level")]
        grouped = indexed.with_columns(_g=pl.struct(others) if others else pl.lit(0))
        totals = grouped.filter(pl.col(dim) == layout.overall).select("_g", pl.col("_r").alias("_total"))
        parts = (
            grouped.filter(pl.col(dim) != layout.overall)
            .group_by("_g", dim, maintain_order=True)
            .agg(pl.col("_r").alias("_parts"))
            .join(totals, on="_g")
        )
        out += list(zip(parts["_total"].to_list(), parts["_parts"].to_list(), strict=True))
    if layout.hierarchy is not None:
        detail, parent = layout.hierarchy
        others = [k for k in layout.keys if k not in (detail, parent, *layout.hierarchy_levels)]
        grouped = indexed.with_columns(_g=pl.struct(others) if others else pl.lit(0))
        children = (
            grouped.filter(pl.col(parent).is_not_null())
            .group_by("_g", parent, maintain_order=True)
            .agg(pl.col("_r").alias("_parts"))
        )
        totals = grouped.select("_g", pl.col(detail).alias(parent), pl.col("_r").alias("_total"))
        joined = children.join(totals, on=["_g", parent])
        out += list(zip(joined["_total"].to_list(), joined["_parts"].to_list(), strict=True))
    return out


def _headline(frame: pl.DataFrame, layout: TableLayout) -> list[int]:
    """How much of a headline each row is: +1 for the practice as a whole, +1 for all time (or as of today)."""
    score = pl.lit(0)
    if layout.dimension is not None and layout.dimension in frame.columns:
        score = score + (pl.col(layout.dimension) == layout.overall).cast(pl.Int32)
    if "period_type" in frame.columns:
        score = score + pl.col("period_type").is_in(["all", "as_of"]).cast(pl.Int32)
    return frame.with_columns(score.fill_null(0).alias("_h"))["_h"].to_list()


def _build(tables: Mapping[str, pl.DataFrame], layouts: Mapping[str, TableLayout], links: Sequence[Link]) -> _Problem:
    problem = _Problem()
    for name, layout in layouts.items():
        frame = tables[name]
        headline = _headline(frame, layout)
        for column in layout.counts:
            dependents = sum(column in (num, den) for _, num, den in layout.rates) + sum(
                column == n for _, n in layout.statistics
            )
            values = frame[column].fill_null(0).cast(pl.Int64).to_list()
            problem.add_column(name, column, values, headline, dependents=dependents)
        for total, parts in layout.row_sums:
            for part in parts:
                if part.startswith("~"):
                    published = sum(
                        (frame[p].fill_null(0).cast(pl.Int64) for p in parts if not p.startswith("~")),
                        pl.Series([0] * frame.height, dtype=pl.Int64),
                    )
                    remainder = (frame[total].fill_null(0).cast(pl.Int64) - published).to_list()
                    if min(remainder, default=0) < 0:
                        raise ValueError(f"{name}: {total} is less than its parts {parts}")
                    problem.add_column(name, part, remainder, headline, virtual=True)
        families = _families(frame, layout)
        for column in layout.counts:
            base = problem.offsets[(name, column)]
            for total_row, part_rows in families:
                problem.relate([base + total_row], [base + r for r in part_rows])
        for total, parts in layout.row_sums:
            base_total = problem.offsets[(name, total)]
            bases = [problem.offsets[(name, p)] for p in parts]
            for r in range(frame.height):
                problem.relate([base_total + r], [b + r for b in bases])
    for link in links:
        left = tables[link.table].with_row_index("_a")
        right = tables[link.other].with_row_index("_b")
        if link.where is not None:
            left = left.filter(link.where)
        if link.other_where is not None:
            right = right.filter(link.other_where)
        pairs = left.select(*link.on, "_a").join(right.select(*link.on, "_b"), on=list(link.on), nulls_equal=True)
        a0, b0 = problem.offsets[(link.table, link.column)], problem.offsets[(link.other, link.other_column)]
        for a, b in pairs.select("_a", "_b").iter_rows():
            problem.relate([a0 + a], [b0 + b])
    return problem


# --- protection ------------------------------------------------------------------------------------------------


class _Protector:
    """Primary and complementary suppression over one `_Problem`, with the audit."""

    def __init__(self, problem: _Problem, policy: DisclosurePolicy) -> None:
        self.p = problem
        self.k = policy.k
        self.rounding = policy.rounding
        self.protection = float(policy.upper_protection)
        self.value = np.array(problem.values, dtype=np.int64)
        self.virtual = np.array(problem.virtual, dtype=bool)
        n = len(self.value)
        self.primary = ~self.virtual & (self.value >= 1) & (self.value <= self.k - 1)
        self.hidden = self.primary.copy()
        # A zero that shares a relation with a hidden small count is hidden too, as "<k" (which it is: fewer than
        # k): then a "<k" beside another "<k" may be 0, and a small total cannot pin its small parts (2 = 1 + 1).
        self.zero_hidden = np.zeros(n, dtype=bool)
        # Targets an LP has shown can move: they stay free, because suppression only ever grows — a witness
        # point, with a newly hidden cell at its true value, still satisfies every equation and every bound.
        self.proven_free: set[int] = set()
        for ids, _ in problem.relations:
            if self.primary[ids].any():
                zeros = ids[(self.value[ids] == 0) & ~self.virtual[ids]]
                self.zero_hidden[zeros] = True
        self.hidden |= self.zero_hidden
        self._mark_neighbours()
        self.target = self.primary | (self.virtual & (self.value >= 1) & (self.value <= self.k - 1))
        self.of_cell: list[list[int]] = [[] for _ in range(n)]
        for i, (ids, _) in enumerate(problem.relations):
            for c in ids.tolist():
                self.of_cell[c].append(i)
        self.headline = np.array(problem.headline, dtype=np.int8)
        self.dependents = np.array(problem.dependents, dtype=np.int16)
        self.report = AuditReport(cells=int((~self.virtual).sum()))
        self.cap = self._caps()

    # The attacker's knowledge of each cell.
    def unknown(self) -> np.ndarray:
        return self.hidden | self.virtual | (self.rounding is not None and self.rounding > 1)

    def _mark_neighbours(self) -> None:
        """The "<k" cells that share a relation with another "<k" cell: the reader cannot tell them from a hidden
        zero (the rule above is public), so all the attacker knows of them is 0..k−1; any other "<k" is 1..k−1."""
        small = self.primary | self.zero_hidden
        self.maybe_zero = self.zero_hidden.copy()
        for ids, _ in self.p.relations:
            marked = ids[small[ids]]
            if len(marked) > 1:
                self.maybe_zero[marked] = True

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.where(self.virtual | self.maybe_zero, 0, np.where(self.primary, 1, self.k)).astype(float)
        hi = np.where(self.primary | self.zero_hidden, self.k - 1, np.inf).astype(float)
        if self.rounding and self.rounding > 1:  # a shown count is known to lie within ±half the base
            shown = ~self.virtual & ~self.hidden
            half = self.rounding // 2
            rounded = np.round(self.value / self.rounding) * self.rounding
            lo = np.where(shown, np.maximum(rounded - half, np.where(self.value == 0, 0, self.k)), lo)
            hi = np.where(shown, rounded + half, hi)
            zero = shown & (self.value == 0)
            lo, hi = np.where(zero, 0, lo), np.where(zero, 0, hi)
        return lo, hi

    def _caps(self) -> np.ndarray:
        """The highest value each target could have even if every non-zero cell were hidden: k − 1 for a count
        marked small, lower where it is a part of a small total beside other non-zero parts (a hidden small
        total of 4 + 5 bounds its parts by 9 and 8 whatever else is hidden)."""
        caps = np.where(self.primary, self.k - 1, np.inf).astype(float)
        floor = np.where(
            self.value <= 0, 0, np.where(self.virtual | self.maybe_zero, 0, np.where(self.primary, 1, self.k))
        )
        for ids, coefs in self.p.relations:
            totals = ids[coefs > 0]
            if len(totals) != 1 or not self.primary[totals[0]]:
                continue
            parts = ids[coefs < 0]
            used = float(floor[parts].sum())
            for c in parts[self.target[parts]].tolist():
                caps[c] = min(caps[c], self.k - 1 - (used - floor[c]))
        return caps

    def need(self, cell: int) -> float:
        """How far above its true value the attacker's upper bound must reach: the protection, capped at the
        highest value the cell could have under the most suppression (`_caps`); 0 at that cap (then the cell
        must only not be pinned)."""
        return float(max(0.0, min(self.protection, self.cap[cell] - self.value[cell])))

    def passes(self, cell: int, low: float, high: float) -> bool:
        """Protected: not pinned, and the upper bound at least `need` above the true value."""
        v = float(self.value[cell])
        pinned = high - low < 0.5
        return not pinned and high - v >= self.need(cell) - 1e-6

    def _candidate(self, relation: int, need: float) -> int | None:
        """The cell of a relation to hide next: a shown, non-zero, published cell — a part before the total (hiding
        a total costs a headline) — the smallest that brings at least ``need`` room (its value above k, which its
        mark tells the attacker), else the one that brings the most."""
        ids, coefs = self.p.relations[relation]
        shown = [(int(c), int(a)) for c, a in zip(ids.tolist(), coefs.tolist(), strict=True)
                 if not self.hidden[c] and not self.virtual[c] and self.value[c] > 0]  # fmt: skip
        if not shown:
            return None
        # Headlines last: a cell of a more overall row (the practice as a whole, all time) only when no cell of a
        # breakdown will do; then the cell fewest rates and statistics depend on (hiding `paired` hides the mean
        # change and the effect sizes); then parts before the total.
        cost = {c: (self.headline[c], self.dependents[c]) for c, _ in shown}
        least = min(cost.values())
        shown = [(c, a) for c, a in shown if cost[c] == least]
        parts = [c for c, a in shown if a < 0] or [c for c, _ in shown]
        fitting = [c for c in parts if self.value[c] - self.k >= need]
        if fitting:
            return min(fitting, key=lambda c: self.value[c])
        return max(parts, key=lambda c: self.value[c])

    def _local_range(
        self, relation: int, cell: int, lo: np.ndarray, hi: np.ndarray, unknown: np.ndarray
    ) -> tuple[float, float]:
        """The bounds of ``cell`` from this relation alone (every other unknown anywhere within its bounds)."""
        ids, coefs = self.p.relations[relation]
        known = ~unknown[ids]
        constant = -float((coefs[known] * self.value[ids[known]]).sum())
        mask = unknown[ids] & (ids != cell)
        others, signs = ids[mask], coefs[mask]
        c_t = float(coefs[ids == cell][0])
        # c_t·x = constant − Σ c_u x_u
        with np.errstate(invalid="ignore"):
            high = constant - float(np.where(signs > 0, signs * lo[others], signs * hi[others]).sum())
            low = constant - float(np.where(signs > 0, signs * hi[others], signs * lo[others]).sum())
        if c_t < 0:
            low, high = -high, -low
        return max(low, lo[cell]), min(high, hi[cell])

    def _hide(self, cell: int, lo: np.ndarray, hi: np.ndarray, unknown: np.ndarray) -> None:
        self.hidden[cell] = True
        unknown[cell] = True
        if self.value[cell] == 0:
            self.zero_hidden[cell] = True
            self._mark_neighbours()
            lo[:], hi[:] = self.bounds()
        else:
            lo[cell], hi[cell] = self.k, np.inf

    def local_pass(self) -> bool:
        """Hide more until no single relation, on its own, leaves a target unprotected; True if anything was
        hidden."""
        lo, hi = self.bounds()
        unknown = self.unknown()
        queue = list(range(len(self.p.relations)))
        queued = set(queue)
        changed = False
        while queue:
            i = queue.pop()
            queued.discard(i)
            ids, _ = self.p.relations[i]
            for t in ids[self.target[ids]].tolist():
                low, high = self._local_range(i, t, lo, hi, unknown)
                if self.passes(t, low, high):
                    continue
                pick = self._candidate(i, self.need(t) - (high - float(self.value[t])))
                if pick is None:
                    continue
                self._hide(pick, lo, hi, unknown)
                changed = True
                for j in self.of_cell[pick]:
                    if j not in queued:
                        queue.append(j)
                        queued.add(j)
                if i not in queued:
                    queue.append(i)
                    queued.add(i)
                break
        return changed

    def peeling_failures(self) -> list[int]:
        """Targets the peeling attacker (`propagate`) pins or bounds too far below."""
        lo, hi = self.propagate()
        targets = np.flatnonzero(self.target)
        value = self.value[targets].astype(float)
        need = np.minimum(self.protection, self.cap[targets] - value).clip(0)
        pinned = hi[targets] - lo[targets] < 0.5
        short = (hi[targets] - value < need - 1e-6) & (self.protection > 1)  # 1: only never pinned
        return targets[pinned | short].tolist()

    def propagate(self) -> tuple[np.ndarray, np.ndarray]:
        """The attacker who peels identities: every relation bounds each of its unknown cells by the bounds of the
        others (x_c = b − Σ others), round after round, to a fixed point; integral bounds. Outer bounds: what this
        attacker learns, whatever the published values."""
        lo, hi = self.bounds()
        unknown = self.unknown()
        rows, cols, coefs, b = self._entries(unknown)
        if len(rows) == 0:
            return lo, hi
        n_rel = len(b)
        for _ in range(100):
            lo_e, hi_e = lo[cols], hi[cols]
            low_term = np.where(coefs > 0, lo_e, -hi_e)  # the smallest a·x of each entry
            high_term = np.where(coefs > 0, hi_e, -lo_e)
            low_inf, high_inf = np.isinf(low_term), np.isinf(high_term)
            low_sum = np.bincount(rows, np.where(low_inf, 0.0, low_term), n_rel)
            high_sum = np.bincount(rows, np.where(high_inf, 0.0, high_term), n_rel)
            low_n = np.bincount(rows, low_inf, n_rel)
            high_n = np.bincount(rows, high_inf, n_rel)
            # a·x_c = b − Σ others: between b − (high activity of the others) and b − (low activity of the others)
            others_low_finite = low_n[rows] - low_inf == 0
            others_high_finite = high_n[rows] - high_inf == 0
            others_low = low_sum[rows] - np.where(low_inf, 0.0, low_term)
            others_high = high_sum[rows] - np.where(high_inf, 0.0, high_term)
            ax_high = np.where(others_low_finite, b[rows] - others_low, np.inf)
            ax_low = np.where(others_high_finite, b[rows] - others_high, -np.inf)
            new_hi = np.where(coefs > 0, ax_high, -ax_low)
            new_lo = np.where(coefs > 0, ax_low, -ax_high)
            hi2, lo2 = hi.copy(), lo.copy()
            np.minimum.at(hi2, cols, np.floor(new_hi + 1e-9))
            np.maximum.at(lo2, cols, np.ceil(new_lo - 1e-9))
            if np.array_equal(hi2, hi) and np.array_equal(lo2, lo):
                break
            lo, hi = lo2, hi2
        return lo, hi

    def _entries(self, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every relation as (row, unknown cell, coefficient) entries and its constant b (Σ over unknowns = b)."""
        if not hasattr(self, "_all_entries"):
            relations = self.p.relations
            rows = np.repeat(np.arange(len(relations)), [len(ids) for ids, _ in relations])
            cols = np.concatenate([ids for ids, _ in relations]) if relations else np.zeros(0, dtype=np.int64)
            coefs = np.concatenate([c for _, c in relations]) if relations else np.zeros(0, dtype=np.int64)
            self._all_entries = (rows, cols, coefs)
        rows, cols, coefs = self._all_entries
        known = ~unknown[cols]
        b = -np.bincount(rows[known], (coefs[known] * self.value[cols[known]]).astype(float), len(self.p.relations))
        return rows[~known], cols[~known], coefs[~known], b

    def components(self) -> list[tuple[np.ndarray, list[int]]]:
        """Groups of unknown cells linked by relations: (cells, relations)."""
        unknown = self.unknown()
        parent = np.arange(len(self.value))

        def find(x: int) -> int:
            root = x
            while parent[root] != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        active: list[int] = []
        for i, (ids, _) in enumerate(self.p.relations):
            u = ids[unknown[ids]]
            if len(u) == 0:
                continue
            active.append(i)
            r0 = find(int(u[0]))
            for c in u[1:].tolist():
                r = find(c)
                if r != r0:
                    parent[r] = r0
        groups: dict[int, list[int]] = defaultdict(list)
        for i in active:
            ids, _ = self.p.relations[i]
            u = ids[unknown[ids]]
            groups[find(int(u[0]))].append(i)
        out = []
        for relations in groups.values():
            cells = np.unique(np.concatenate([self.p.relations[i][0] for i in relations]))
            cells = cells[unknown[cells]]
            if self.target[cells].any():
                out.append((cells, relations))
        return out

    def audit_component(self, cells: np.ndarray, relations: list[int]) -> list[int]:
        """Targets of the component the attacker can narrow too far (LP bounds over the component's equations).

        One LP proves many targets at once: it maximises Σ min(x_t − v_t, need_t) over the pending targets (each
        one's progress capped at what it needs), so every target that can reach its need alongside the others
        does so in the same solution; rounds repeat on the rest until a round proves nothing new, and only those
        left are bounded one by one (and fail only if their own maximum falls short)."""
        lo, hi = self.bounds()
        unknown = self.unknown()
        index = {int(c): j for j, c in enumerate(cells.tolist())}
        rows, cols, data, b = [], [], [], []
        for r, i in enumerate(relations):
            ids, coefs = self.p.relations[i]
            known = ~unknown[ids]
            b.append(-float((coefs[known] * self.value[ids[known]]).sum()))
            for c, a in zip(ids[~known].tolist(), coefs[~known].tolist(), strict=True):
                rows.append(r)
                cols.append(index[c])
                data.append(float(a))
        n = len(cells)
        a_eq = sparse.csr_matrix((data, (rows, cols)), shape=(len(relations), n))
        x_bounds = np.column_stack([lo[cells], hi[cells]])
        truth = self.value[cells].astype(float)
        need = np.array([self.need(int(c)) for c in cells.tolist()])
        targets = np.flatnonzero(self.target[cells])
        pending = [j for j in targets.tolist() if need[j] > 0]
        at_cap = [j for j in targets.tolist() if need[j] <= 0]  # must only not be pinned

        from scipy.optimize import linprog  # imported when an audit runs: a second and a half at start-up

        def solve(objective: np.ndarray, a_ub: sparse.csr_matrix | None = None, b_ub: np.ndarray | None = None,
                  bounds: np.ndarray = x_bounds) -> np.ndarray | None:  # fmt: skip
            self.report.linear_programmes += 1
            a = a_eq if a_ub is None else sparse.hstack([a_eq, sparse.csr_matrix((a_eq.shape[0], len(objective) - n))])
            result = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a, b_eq=b, bounds=bounds, method="highs")
            return np.asarray(result.x) if result.status == 0 else None

        if self.protection <= 1:
            return self._pinned(cells, targets.tolist(), truth, x_bounds, solve)
        while pending:
            m = len(pending)
            # variables: x (n), s (m); s_t − x_t ≤ −v_t; s_t ≤ need_t; maximise Σ s
            a_ub = sparse.hstack([
                sparse.csr_matrix((-np.ones(m), (np.arange(m), pending)), shape=(m, n)), sparse.identity(m),
            ]).tocsr()  # fmt: skip
            b_ub = -truth[pending]
            s_bounds = np.column_stack([lo[cells][pending] - truth[pending], need[pending]])
            objective = np.concatenate([np.zeros(n), -np.ones(m)])
            x = solve(objective, a_ub, b_ub, np.vstack([x_bounds, s_bounds]))
            if x is None:
                break
            proven = x[:n] >= truth + need - 1e-6
            still = [j for j in pending if not proven[j]]
            stalled = len(pending) - len(still) < max(1, len(pending) // 20)
            pending = still
            if stalled:
                break
        failed = []
        for j in pending:
            objective = np.zeros(n)
            objective[j] = -1.0
            high = solve(objective)
            if high is not None and high[j] < truth[j] + need[j] - 1e-6:
                failed.append(int(cells[j]))
        # At their cap, they need only not be pinned: one LP pushes them all down together (each one below its
        # value is proven free); only those left are bounded one by one.
        if at_cap:
            objective = np.zeros(n)
            objective[at_cap] = 1.0
            x = solve(objective)
            if x is not None:
                at_cap = [j for j in at_cap if x[j] > truth[j] - 0.5]
        return failed + _pinned_one_by_one(cells, at_cap, truth, solve)

    def _pinned(
        self,
        cells: np.ndarray,
        targets: list[int],
        truth: np.ndarray,
        x_bounds: np.ndarray,
        solve: Callable[..., np.ndarray | None],
    ) -> list[int]:
        """The targets the component's equations pin to one value. Feasible points that move many targets at once
        (each move capped at 1 in one direction, so one LP frees every target that can move alongside the
        others, up, then down) prove most of them free; the rest are bounded one by one."""
        n = len(cells)
        free: set[int] = {j for j in targets if int(cells[j]) in self.proven_free}
        for direction in (1.0, -1.0):
            while True:
                pending = [j for j in targets if j not in free]
                if not pending:
                    break
                m = len(pending)
                # variables (x, s): s_j ≤ direction·(x_j − v_j), s_j ≤ 1; maximise Σ s
                a_ub = sparse.hstack([
                    sparse.csr_matrix((-direction * np.ones(m), (np.arange(m), pending)), shape=(m, n)),
                    sparse.identity(m),
                ]).tocsr()  # fmt: skip
                s_bounds = np.column_stack([np.full(m, -1e6), np.ones(m)])
                x = solve(np.concatenate([np.zeros(n), -np.ones(m)]), a_ub, -direction * truth[pending],
                          np.vstack([x_bounds, s_bounds]))  # fmt: skip
                if x is None:
                    break
                moved = {j for j in pending if abs(x[j] - truth[j]) >= 0.5}
                if not moved:
                    break
                free |= moved
        self.proven_free.update(int(cells[j]) for j in free)
        stuck = [j for j in targets if j not in free]
        if n > SINGLE_LP_CELLS:  # a big component: what no batch could move counts as pinned (more suppression
            return [int(cells[j]) for j in stuck]  # is cheaper than an LP apiece), and is audited again after it
        return _pinned_one_by_one(cells, stuck, truth, solve)

    def _ring(self, cell: int, radius: int, unknown: np.ndarray) -> list[int]:
        """The relations exactly ``radius`` steps from ``cell`` through unknown cells (1: its own relations)."""
        seen_cells, seen_relations = {cell}, set()
        frontier = [cell]
        ring: list[int] = []
        for _ in range(radius):
            ring = []
            for c in frontier:
                for i in self.of_cell[c]:
                    if i not in seen_relations:
                        seen_relations.add(i)
                        ring.append(i)
            frontier = []
            for i in ring:
                for c in self.p.relations[i][0].tolist():
                    if unknown[c] and c not in seen_cells:
                        seen_cells.add(c)
                        frontier.append(c)
            if not frontier and _ < radius - 1:
                return []
        return ring

    def protect(self) -> None:
        start = time.perf_counter()
        self.report.primary = int(self.primary.sum())
        passed: set[tuple[int, ...]] = set()
        radius: dict[int, int] = {}
        exhausted: set[int] = set()
        while True:
            self.report.rounds += 1
            if self.report.rounds == 1:
                self.local_pass()  # the cheap first protection, relation by relation
            failed = [t for t in self.peeling_failures() if t not in exhausted]
            if not failed:
                components = self.components()
                self.report.components = len(components)
                todo = [
                    (cells, relations) for cells, relations in components
                    if tuple(cells.tolist()) not in passed and len(cells) <= EXACT_AUDIT_CELLS
                    and any(self.target[c] and c not in self.proven_free for c in cells.tolist())
                ]  # fmt: skip
                for cells, relations in todo:
                    signature = tuple(cells.tolist())
                    found = [t for t in self.audit_component(cells, relations) if t not in exhausted]
                    if found:
                        failed += found
                    else:
                        passed.add(signature)
                self.report.exact_components = sum(len(c) <= EXACT_AUDIT_CELLS for c, _ in components)
            failed = [t for t in failed if t not in exhausted]
            if not failed:
                break
            lo, hi = self.bounds()
            unknown = self.unknown()
            for t in failed:
                if t in exhausted:
                    continue
                # A relation that narrows it on its own: hide a cell of it first.
                local = False
                for i in self.of_cell[t]:
                    low, high = self._local_range(i, t, lo, hi, unknown)
                    if not self.passes(t, low, high):
                        pick = self._candidate(i, self.need(t) - (high - float(self.value[t])))
                        if pick is not None:
                            self._hide(pick, lo, hi, unknown)
                            local = True
                if local:
                    continue
                # Widen the search each time a cell fails again: its own relations first, then those of the
                # hidden cells they reach (a complementary cell is only as free as its own relations let it be).
                radius[t] = radius.get(t, 0) + 1
                ring = self._ring(t, radius[t], unknown) if radius[t] <= MAX_RADIUS else []
                if not ring:  # every non-zero cell it is related to is hidden: hide the published zeros beside it,
                    # as "<k" (which a zero is: fewer than k); if there are none, the most suppression can do
                    zeros = [c for i in self.of_cell[t] for c in self.p.relations[i][0].tolist()
                             if not self.hidden[c] and not self.virtual[c] and self.value[c] == 0]  # fmt: skip
                    for c in zeros:
                        self._hide(c, lo, hi, unknown)
                    if not zeros:
                        exhausted.add(t)
                    continue
                for i in ring:
                    pick = self._candidate(i, self.need(t))
                    if pick is not None:
                        self._hide(pick, lo, hi, unknown)
        self.report.peeling_failures = len(self.peeling_failures())
        self.exhausted = exhausted
        self.report.complementary = int((self.hidden & ~self.primary & ~self.zero_hidden).sum())
        self.report.zeros_hidden = int(self.zero_hidden.sum())
        self.report.remainders_protected = int((self.virtual & self.target).sum())
        self.report.at_most_suppression = len(exhausted)
        self.report.seconds = time.perf_counter() - start


def _pinned_one_by_one(
    cells: np.ndarray, candidates: list[int], truth: np.ndarray, solve: Callable[..., np.ndarray | None]
) -> list[int]:
    """Of ``candidates`` (positions in ``cells``), those whose minimum and maximum over the component meet."""
    failed = []
    for j in candidates:
        objective = np.zeros(len(cells))
        objective[j] = 1.0
        low = solve(objective)
        if low is not None and low[j] < truth[j] - 0.5:
            continue
        objective[j] = -1.0
        high = solve(objective)
        if low is not None and high is not None and high[j] - low[j] < 0.5:
            failed.append(int(cells[j]))
    return failed


# --- the publication -------------------------------------------------------------------------------------------


def protect_publication(
    tables: Mapping[str, pl.DataFrame],
    layouts: Mapping[str, TableLayout],
    policy: DisclosurePolicy,
    links: Sequence[Link] = (),
) -> tuple[dict[str, pl.DataFrame], AuditReport]:
    """The publishable tables: every table in ``layouts`` protected together (links and all), suppressed cells
    NULL with ``<col>_suppressed`` flags and the row's ``hidden_to_protect``; the others unchanged."""
    # In key order, so that the cells chosen do not depend on the order the rows came in; given back in that order.
    original = tables
    tables = {
        **tables,
        **{n: tables[n].with_row_index("_order").sort(list(lay.keys), nulls_last=True) for n, lay in layouts.items()},
    }
    problem = _build(tables, layouts, links)
    protector = _Protector(problem, policy)
    protector.protect()
    out = dict(original)
    for t in sorted(getattr(protector, "exhausted", ())):
        name, column, r = problem.where[t]
        protector.report.unprotectable.append((name, column, int(tables[name]["_order"][r])))
    for name, layout in layouts.items():
        out[name] = _apply(tables[name], layout, policy, protector, name).sort("_order").drop("_order")
        hidden = {c: int(out[name][f"{c}{SUPPRESSED_SUFFIX}"].sum()) for c in layout.counts}
        protector.report.by_table[name] = {
            "cells": tables[name].height * len(layout.counts),
            "hidden": sum(hidden.values()),
            "primary": sum(int(tables[name][c].fill_null(0).is_between(1, policy.k - 1).sum()) for c in layout.counts),
        }
    return out, protector.report


def _apply(
    table: pl.DataFrame, layout: TableLayout, policy: DisclosurePolicy, protector: _Protector, name: str
) -> pl.DataFrame:
    k = policy.k
    flags: dict[str, pl.Series] = {}
    protect: dict[str, pl.Series] = {}
    for column in layout.counts:
        base = protector.p.offsets[(name, column)]
        rows = slice(base, base + table.height)
        flags[column] = pl.Series(protector.hidden[rows])
        protect[column] = pl.Series(protector.hidden[rows] & ~protector.primary[rows] & ~protector.zero_hidden[rows])
    out = table.with_columns(
        *(v.alias(f"{c}{SUPPRESSED_SUFFIX}") for c, v in flags.items()),
        *(v.alias(f"_protect_{c}") for c, v in protect.items()),
    )
    for rate, num, den in layout.rates:
        hidden = pl.col(f"{num}{SUPPRESSED_SUFFIX}") | pl.col(f"{den}{SUPPRESSED_SUFFIX}")
        small = pl.col(f"{num}{SUPPRESSED_SUFFIX}") & ~pl.col(f"_protect_{num}") | (
            pl.col(f"{den}{SUPPRESSED_SUFFIX}") & ~pl.col(f"_protect_{den}")
        )
        out = out.with_columns(hidden.alias(f"{rate}{SUPPRESSED_SUFFIX}"), (hidden & ~small).alias(f"_protect_{rate}"))
    for statistic, n in layout.statistics:
        below = pl.col(n).cast(pl.Int64).fill_null(0) < k
        hidden = below | pl.col(f"{n}{SUPPRESSED_SUFFIX}")
        out = out.with_columns(
            hidden.alias(f"{statistic}{SUPPRESSED_SUFFIX}"),
            (hidden & ~below & pl.col(f"_protect_{n}")).alias(f"_protect_{statistic}"),
        )
    for column, leader in layout.companions:
        out = out.with_columns(
            pl.col(f"{leader}{SUPPRESSED_SUFFIX}").alias(f"{column}{SUPPRESSED_SUFFIX}"),
            pl.col(f"_protect_{leader}").alias(f"_protect_{column}"),
        )
    protected = [*layout.counts, *(r[0] for r in layout.rates), *(s[0] for s in layout.statistics),
                 *(c[0] for c in layout.companions)]  # fmt: skip
    out = out.with_columns(
        pl.when(pl.col(f"{c}{SUPPRESSED_SUFFIX}")).then(None).otherwise(pl.col(c)).alias(c) for c in protected
    )
    if policy.rounding:
        m = policy.rounding
        out = out.with_columns(((pl.col(c) / m).round(0) * m).cast(table.schema[c]).alias(c) for c in layout.counts)
    reasons = pl.concat_list([pl.when(pl.col(f"_protect_{c}")).then(pl.lit(c)) for c in protected]).list.drop_nulls()
    out = out.with_columns(
        pl.when(reasons.list.len() > 0).then(reasons.list.join(" ")).otherwise(None).alias(PROTECT_COLUMN)
    )
    return out.drop([c for c in out.columns if c.startswith("_protect_")])


def apply_disclosure_control(table: pl.DataFrame, layout: TableLayout, policy: DisclosurePolicy) -> pl.DataFrame:
    """One table on its own (its relations only): `protect_publication` of a one-table publication."""
    tables, _ = protect_publication({"t": table}, {"t": layout}, policy)
    return tables["t"]


def round_to_band(counts: np.ndarray, k: int) -> np.ndarray:
    """OpenSAFELY's rounding of a cumulative count: up to the next multiple of k, then back by ⌊k/2⌋ (0 stays
    0), so that every step of the rounded cumulative count is a multiple of k (`kaplan-meier-function`,
    `roundmid_any`)."""
    counts = np.asarray(counts)
    return np.where(counts == 0, 0, np.ceil(counts / k) * k - k // 2).astype(np.int64)


#: The marks of hidden cells, everywhere they are shown (dashboard, report, CSVs): one legend.
PROTECT_MARK = "‡"


def small_mark(k: int, is_count: bool) -> str:
    """A hidden small count reads ``<k``; a rate or statistic hidden because a count behind it is small reads
    ``n<k`` (never ``<k``, which beside a percentage would read as "under k%")."""
    return f"<{k}" if is_count else f"n<{k}"


def legend(k: int) -> str:
    return (
        f"<{k}: fewer than {k} people (hidden). n<{k}: hidden because fewer than {k} people are behind it. "
        f"{PROTECT_MARK}: hidden so that a small number elsewhere cannot be worked out (it is not itself small)."
    )


def hidden_to_protect(row: Mapping[str, object] | None, column: str) -> bool:
    """The row's `hidden_to_protect` names the column: hidden only to protect another cell."""
    return row is not None and column in str(row.get(PROTECT_COLUMN) or "").split()


def display(
    value: object, suppressed: bool, policy: DisclosurePolicy, protects: bool = False, is_count: bool = True
) -> str:
    """How one cell is shown: ``<k``/``n<k`` when hidden as small, ``‡`` when hidden to protect another."""
    if suppressed:
        return PROTECT_MARK if protects else small_mark(policy.k, is_count)
    return "" if value is None else str(value)


def mark_expr(column: str, k: int, is_count: bool, shown: pl.Expr, columns: Iterable[str]) -> pl.Expr:
    """``shown`` (text), or the mark of the cell when ``<column>_suppressed`` says it is hidden (polars)."""
    flag = f"{column}{SUPPRESSED_SUFFIX}"
    if flag not in columns:
        return shown
    mark = pl.lit(small_mark(k, is_count))
    if PROTECT_COLUMN in columns:
        protects = pl.col(PROTECT_COLUMN).fill_null("").str.split(" ").list.contains(column)
        mark = pl.when(protects).then(pl.lit(PROTECT_MARK)).otherwise(mark)
    return pl.when(pl.col(flag)).then(mark).otherwise(shown)
