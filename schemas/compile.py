"""The input contract compiled to SQL: the Pandera models (`schemas.inputs`) stay the one declaration; this reads
them and writes the DuckDB expressions that *clear* rows.

A compiled predicate is a fast path, not a second judge: a row it clears is one the Pandera model (with the
parsing of `pipeline.validate`) would certainly pass, with the same typed values; a row it does not clear is
judged by Pandera itself, so every rule name, masked value and echo rule stays Pandera's. The compiled forms are
therefore deliberately *narrower* than the contract — canonical text only (``12``, ``2.5``, ``2026-10-31``,
lower-case booleans, no surrounding whitespace) — and anything unusual takes the slow, exact path. The
differential test (`tests/test_compiled_contract.py`) runs both on random batches and asserts identical verdicts.

Pandera's built-in checks (``str_matches``, ``isin``, ``in_range``, ``ge``/``le``…) and dtypes compile here;
custom checks compile from the SQL twin written beside each in `schemas.inputs` (`SQL_TWINS`); a check with
neither refuses to compile (`ContractNotCompiled`), so a new rule can never be skipped by the fast path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandera.polars as pa
import polars as pl

from schemas.inputs import SQL_TWINS, TableSpec

#: Surrounding characters polars' `str.strip_chars()` removes (Unicode White_Space), as an RE2 class.
_SPACE = r"[\s\pZ\x{0B}\x{85}]"
#: Canonical text of each parsed dtype: a strict subset of what `pipeline.validate._parse` accepts.
_CANONICAL = {
    pl.Int64: r"-?[0-9]{1,18}",
    pl.Float64: r"-?[0-9]{1,15}(\.[0-9]{1,15})?",
    pl.Date: r"[12][0-9]{3}-[0-9]{2}-[0-9]{2}",
}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


class ContractNotCompiled(RuntimeError):
    """A Pandera check has no SQL form: add its twin to `schemas.inputs.SQL_TWINS` (a bug, not bad input)."""


def literal(value: Any) -> str:
    """A SQL literal for a constant of the contract (never for input data)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def quoted(name: str) -> str:
    """A column name of the contract, checked and quoted (the only identifiers templated into SQL)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a contract column name: {name!r}")
    return f'"{name}"'


def _typed(text: str, dtype: type[pl.DataType]) -> str:
    if dtype == pl.Int64:
        return f"TRY_CAST({text} AS BIGINT)"
    if dtype == pl.Float64:
        return f"TRY_CAST({text} AS DOUBLE)"
    if dtype == pl.Date:
        return f"TRY_CAST({text} AS DATE)"
    if dtype == pl.Boolean:
        return f"CASE WHEN {text} IN ({', '.join(map(literal, _TRUE))}) THEN TRUE " \
            f"WHEN {text} IN ({', '.join(map(literal, _FALSE))}) THEN FALSE END"  # fmt: skip
    return text


def _canonical(text: str, dtype: type[pl.DataType]) -> str:
    """The raw text is in the canonical form of its dtype (so it parses, to the same value, on both paths)."""
    if dtype in _CANONICAL:
        shape = f"regexp_full_match({text}, {literal(_CANONICAL[dtype])})"
        return f"({shape} AND {_typed(text, dtype)} IS NOT NULL)"
    if dtype == pl.Boolean:
        return f"{text} IN ({', '.join(map(literal, _TRUE + _FALSE))})"
    return f"NOT regexp_matches({text}, {literal(f'^{_SPACE}|{_SPACE}$')})"


def _builtin(check: pa.Check, value: str) -> str:
    stats = check.statistics or {}
    name = check.name
    if name == "str_matches":
        return f"regexp_matches({value}, {literal(stats['pattern'])})"
    if name == "isin":
        return f"{value} IN ({', '.join(literal(v) for v in stats['allowed_values'])})"
    if name == "in_range":
        lo = f"{value} {'>=' if stats.get('include_min', True) else '>'} {literal(stats['min_value'])}"
        hi = f"{value} {'<=' if stats.get('include_max', True) else '<'} {literal(stats['max_value'])}"
        return f"({lo} AND {hi})"
    comparisons = {"greater_than_or_equal_to": ">=", "less_than_or_equal_to": "<=", "greater_than": ">",
                   "less_than": "<", "equal_to": "=", "not_equal_to": "<>"}  # fmt: skip
    if name in comparisons:
        return f"{value} {comparisons[name]} {literal(stats['value'])}"
    raise ContractNotCompiled(f"check {name!r} has no SQL form")


def _twin(name: str, typed: dict[str, str]) -> str:
    if name not in SQL_TWINS:
        raise ContractNotCompiled(f"custom check {name!r} has no SQL twin in schemas.inputs.SQL_TWINS")
    return "(" + SQL_TWINS[name].format(**typed) + ")"


@dataclass(frozen=True)
class CompiledTable:
    """A table's contract as SQL over a relation of its raw text columns (named as the contract's columns)."""

    name: str
    #: column -> its typed value (parsed from the text, the table's default filled in).
    typed: dict[str, str]
    #: column -> what that column alone must satisfy (canonical text, required, its checks, not in the future).
    columns: dict[str, str]
    #: The cross-column rules (the twins of the model's dataframe checks), over the typed values.
    rows: tuple[str, ...]
    #: Columns that must be unique on their own (Pandera's ``unique=True``; checked across rows, not here).
    unique: tuple[str, ...]

    def clean(self, skip: tuple[str, ...] = ()) -> str:
        """The row passes every rule of its Pandera model (``$as_of`` bound for the future-date rule); the
        column terms of ``skip`` are left out — for columns the caller clears elsewhere, e.g. on distinct ids."""
        terms = [t for c, t in self.columns.items() if c not in skip] + list(self.rows)
        return "coalesce(" + "\n    AND ".join(terms or ["TRUE"]) + ", FALSE)"


def compile_table(spec: TableSpec, as_of: str = "$as_of") -> CompiledTable:
    """Compile ``spec``'s model plus the future-date rule (``as_of``: a SQL expression, a bound parameter)."""
    schema = spec.model.to_schema()
    defaults = dict(spec.defaults)
    text = {c: quoted(c) for c in schema.columns}
    typed: dict[str, str] = {}
    for column, col in schema.columns.items():
        value = _typed(text[column], col.dtype.type)
        if column in defaults:
            value = f"coalesce({value}, {literal(defaults[column])})"
        typed[column] = value
    columns: dict[str, str] = {}
    for column, col in schema.columns.items():
        raw, value = text[column], typed[column]
        terms: list[str] = []
        if not (col.dtype.type == pl.String and any(_excludes_blanks(c) for c in col.checks)):
            terms.append(f"({raw} IS NULL OR {_canonical(raw, col.dtype.type)})")
        if not col.nullable:
            terms.append(f"{value} IS NOT NULL")
        for check in col.checks:
            if check.name in _BUILTINS:  # Pandera's built-in checks skip nulls
                terms.append(f"({value} IS NULL OR {_builtin(check, value)})")
            else:  # a twin says itself what a null means
                terms.append(_twin(check.name, {"column": value}))
        if column in spec.date_columns_not_future:
            terms.append(f"coalesce({value} <= {as_of}, TRUE)")
        columns[column] = "(" + " AND ".join(terms or ["TRUE"]) + ")"
    rows = tuple(_twin(check.name, typed) for check in schema.checks)
    unique = tuple(c for c, col in schema.columns.items() if col.unique)
    return CompiledTable(spec.name, typed, columns, rows, unique)


_BUILTINS = frozenset(
    {"str_matches", "isin", "in_range", "greater_than_or_equal_to", "less_than_or_equal_to", "greater_than",
     "less_than", "equal_to", "not_equal_to"}
)  # fmt: skip


def _excludes_blanks(check: pa.Check) -> bool:
    """A check no text with surrounding blanks can pass (so the blank test is redundant for that column)."""
    stats = check.statistics or {}
    if check.name == "isin":
        return all(isinstance(v, str) and v == v.strip() and v for v in stats["allowed_values"])
    if check.name == "str_matches":
        pattern = str(stats["pattern"])
        return (
            pattern.startswith("^[")
            and pattern.endswith("$")
            and not any(token in pattern for token in (" ", "\\s", "\\S", "\\W", "\\D", "[^", ".", "|"))
        )
    return False
