"""The attacker of the disclosure tests: reads only what is published (and the layouts, which are public: the
data dictionary says what adds up to what) and bounds every hidden count with linear programmes.

Written apart from `pipeline.disclosure` on purpose — its own equations, from the layouts by plain loops — so that
a relation the protection forgets is still one the attacker uses. It knows the rules as published: a `<k` is
1..k−1, or 0..k−1 where it shares a relation with another `<k` (zeros beside a small count are hidden too); a `‡`
is at least k; an unpublished remainder at least 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from pipeline.disclosure import SUPPRESSED_SUFFIX, DisclosurePolicy, Link, TableLayout
from schemas.published import PROTECT_COLUMN


@dataclass(frozen=True)
class Leak:
    table: str
    column: str
    row: int
    value: int
    low: float
    high: float


def _key(row: dict, columns: list[str]) -> tuple:
    return tuple(row[c] for c in columns)


def attack(
    published: Mapping[str, pl.DataFrame],
    truth: Mapping[str, pl.DataFrame],
    layouts: Mapping[str, TableLayout],
    policy: DisclosurePolicy,
    protection: int = 1,
    links: Sequence[Link] = (),
) -> list[Leak]:
    """Every hidden count of 1..k−1 (and every unpublished remainder of 1..k−1) that the attacker pins to one value
    or, with ``protection`` above 1, bounds less than that far above its true value (or below k − 1)."""
    k = policy.k
    var: dict[tuple[str, str, int], int] = {}
    lo: list[float] = []
    hi: list[float] = []
    true_value: list[int] = []
    target: list[bool] = []
    marked: set[int] = set()

    def cell(name: str, column: str, r: int) -> int | float:
        """A variable index for a hidden cell or remainder, else the published number (a float)."""
        if (name, column, r) in var:
            return var[(name, column, r)]
        table = published[name]
        value = truth[name][column][r]
        hidden = column.startswith("~") or bool(table[f"{column}{SUPPRESSED_SUFFIX}"][r])
        if not hidden:
            return float(table[column][r])
        protects = column in (table[PROTECT_COLUMN][r] or "").split()
        var[(name, column, r)] = len(lo)
        small = 1 <= int(value) <= k - 1
        if column.startswith("~"):
            lo.append(0.0), hi.append(np.inf)
        elif protects:
            lo.append(float(k)), hi.append(np.inf)
        else:  # shown as <k: 1..k−1 (0..k−1 if it shares a relation with another <k: decided below)
            lo.append(1.0), hi.append(float(k - 1))
            marked.add(len(lo) - 1)
        true_value.append(int(value))
        target.append(small)
        return var[(name, column, r)]

    equations: list[tuple[list[int | float], list[int | float]]] = []  # Σ left = Σ right
    for name, layout in layouts.items():
        frame = truth[name]
        rows = frame.to_dicts()
        remainders = {p for _, parts in layout.row_sums for p in parts if p.startswith("~")}
        for rem in remainders:  # the truth of a remainder: its total minus the published parts of its row sum
            total, parts = next((t, ps) for t, ps in layout.row_sums if rem in ps)
            values = [
                int(row[total] or 0) - sum(int(row[p] or 0) for p in parts if not p.startswith("~")) for row in rows
            ]
            frame = frame.with_columns(pl.Series(rem, values))
        truth = {**truth, name: frame}
        # breakdowns: each dimension's levels add up to the overall row with the same other keys
        if layout.dimension is not None and layout.dimension in frame.columns:
            others = [c for c in layout.keys if c not in (layout.dimension, "level")]
            totals = {_key(r, others): i for i, r in enumerate(rows) if r[layout.dimension] == layout.overall}
            groups: dict[tuple, list[int]] = defaultdict(list)
            for i, r in enumerate(rows):
                if r[layout.dimension] != layout.overall and _key(r, others) in totals:
                    groups[(_key(r, others), r[layout.dimension])].append(i)
            for (key, _), members in groups.items():
                for column in layout.counts:
                    equations.append(([cell(name, column, totals[key])], [cell(name, column, i) for i in members]))
        # hierarchy: detail rows add up to the row whose detail value is their parent
        if layout.hierarchy is not None:
            detail, parent = layout.hierarchy
            others = [c for c in layout.keys if c not in (detail, parent, *layout.hierarchy_levels)]
            by_value = {(_key(r, others), r[detail]): i for i, r in enumerate(rows)}
            children: dict[int, list[int]] = defaultdict(list)
            for i, r in enumerate(rows):
                if r[parent] is not None and (_key(r, others), r[parent]) in by_value:
                    children[by_value[(_key(r, others), r[parent])]].append(i)
            for total, members in children.items():
                for column in layout.counts:
                    equations.append(([cell(name, column, total)], [cell(name, column, i) for i in members]))
        for total, parts in layout.row_sums:
            for i in range(len(rows)):
                equations.append(([cell(name, total, i)], [cell(name, p, i) for p in parts]))

    for link in links:  # the same count in two tables
        left = truth[link.table].with_row_index("_a")
        right = truth[link.other].with_row_index("_b")
        left = left.filter(link.where) if link.where is not None else left
        right = right.filter(link.other_where) if link.other_where is not None else right
        pairs = left.select(*link.on, "_a").join(right.select(*link.on, "_b"), on=list(link.on), nulls_equal=True)
        for a, b_row in pairs.select("_a", "_b").iter_rows():
            equations.append(([cell(link.table, link.column, a)], [cell(link.other, link.other_column, b_row)]))

    # The published rule: a zero sharing a relation with a hidden small count is hidden as <k too — so a <k
    # beside another <k may be 0; a lone one is at least 1.
    for left, right in equations:
        together = [x for x in (*left, *right) if not isinstance(x, float) and x in marked]
        if len(together) > 1:
            for x in together:
                lo[x] = 0.0
    n = len(lo)
    targets = [j for j in range(n) if target[j]]
    if not targets:
        return []
    a_rows, a_cols, a_data, b = [], [], [], []
    for left, right in equations:
        constant = 0.0
        entries: dict[int, float] = defaultdict(float)
        for sign, side in ((1.0, left), (-1.0, right)):
            for x in side:
                if isinstance(x, float):
                    constant -= sign * x
                else:
                    entries[x] += sign
        if not any(entries.values()):
            continue
        r = len(b)
        for j, a in entries.items():
            if a:
                a_rows.append(r), a_cols.append(j), a_data.append(a)
        b.append(constant)
    a_eq = sparse.csr_matrix((a_data, (a_rows, a_cols)), shape=(len(b), n))
    bounds = np.array([(low, None if np.isinf(high) else high) for low, high in zip(lo, hi, strict=True)])
    b_vec = np.array(b)
    # variables linked by equations form components; each target is bounded within its own
    _, component = connected_components(sparse.csr_matrix((a_eq.T @ a_eq) != 0), directed=False)
    where = {j: key for key, j in var.items()}
    leaks = []
    by_component: dict[int, list[int]] = defaultdict(list)
    for j in targets:
        by_component[int(component[j])].append(j)
    for comp, members_targets in by_component.items():
        members = np.flatnonzero(component == comp)
        rows_used = np.unique(a_eq[:, members].nonzero()[0])
        sub = a_eq[rows_used][:, members] if len(rows_used) else None
        rhs = b_vec[rows_used] if len(rows_used) else None
        at = {j: int(np.flatnonzero(members == j)[0]) for j in members_targets}

        def solve(c: np.ndarray) -> np.ndarray | None:
            result = linprog(c, A_eq=sub, b_eq=rhs, bounds=bounds[members].tolist(), method="highs")  # noqa: B023
            assert result.status in (0, 3), "the attacker's system is infeasible: a relation is wrong"
            return np.asarray(result.x) if result.status == 0 else None

        # Feasible points that move many targets at once (each one's move capped at 1, so one LP frees every
        # target that can move alongside the others): a target seen away from its true value is not pinned.
        free: set[int] = set()
        for direction in (1.0, -1.0):
            while True:
                pending = [j for j in members_targets if j not in free]
                if not pending:
                    break
                m, nm = len(pending), len(members)
                # variables (x, s): s_j ≤ direction·(x_j − v_j), s_j ≤ 1; maximise Σ s
                pick = sparse.csr_matrix(
                    (-direction * np.ones(m), (np.arange(m), [at[j] for j in pending])), shape=(m, nm)
                )
                a_ub = sparse.hstack([pick, sparse.identity(m)]).tocsr()
                b_ub = -direction * np.array([true_value[j] for j in pending], dtype=float)
                a_eq2 = sparse.hstack([sub, sparse.csr_matrix((sub.shape[0], m))]) if sub is not None else None
                s_bounds = [(-1e6, 1.0)] * m
                result = linprog(
                    np.concatenate([np.zeros(nm), -np.ones(m)]),
                    A_ub=a_ub,
                    b_ub=b_ub,
                    A_eq=a_eq2,
                    b_eq=rhs,
                    bounds=bounds[members].tolist() + s_bounds,
                    method="highs",
                )
                assert result.status in (0, 3), "the attacker's system is infeasible: a relation is wrong"
                if result.status != 0:
                    break
                x = result.x
                moved = {j for j in pending if abs(x[at[j]] - true_value[j]) >= 0.5}
                if not moved:
                    break
                free |= moved
        for j in members_targets:
            if j in free and protection <= 1:
                continue
            found = []
            for sign in (1.0, -1.0):
                c = np.zeros(len(members))
                c[at[j]] = sign
                x = solve(c)
                found.append(float(x[at[j]]) if x is not None else -sign * np.inf)  # None: unbounded
            low, high = found
            short = protection > 1 and high < min(true_value[j] + protection, k - 1) - 1e-6
            if high - low < 0.5 or short:
                leaks.append(Leak(*where[j], true_value[j], low, high))
    return leaks
