"""The input data contract (DESIGN section 3) as Pandera models on polars frames.

Each model holds the rules that one row can be judged on by itself: types, required values, ranges, enums,
identifier patterns and cross-column rules. Rules that need context — the batch's as-of date, the instrument
registry, other tables, or what is already loaded — live in ``pipeline.validate`` and produce the same kind of
named violation. Check names are the stable rule names that appear in the quarantine; ``RULE_COLUMNS`` says
which columns a cross-column rule is about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandera.polars as pa
import polars as pl

#: Version of this input contract; recorded with every run.
CONTRACT_VERSION = "1.0"

PSEUDONYM_PATTERN = r"^[A-Za-z0-9_-]{4,64}$"

SERVICES = ["therapy", "coaching", "combined"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
GENDERS = ["woman", "man", "nonbinary", "other"]
PROFESSIONS = [
    "therapist",
    "counselor",
    "psychologist",
    "social_worker",
    "physician",
    "nurse",
    "coach",
    "other_helping",
]
THEMES = [
    "burnout",
    "compassion_fatigue",
    "secondary_trauma",
    "imposter",
    "caretaking",
    "attachment",
    "anxiety",
    "depression",
    "trauma",
    "relationships",
    "career",
    "other",
]
DISCHARGE_REASONS = [
    "completed",
    "mutual_agreement",
    "client_withdrew",
    "lost_contact",
    "referred_to_therapy",
    "referred_to_coaching",
    "other",
]
SESSION_KINDS = ["consultation", "intake", "regular", "closing"]
SESSION_STATUSES = ["attended", "cancelled", "no_show"]
MODALITIES = ["in_person", "telehealth"]
UNBLENDING = ["none", "partial", "full"]
PROGRESS = ["none", "partial", "complete"]

#: Clinician-recorded process columns: optional, and null unless the session was attended.
PROCESS_COLUMNS = [
    "focus_goal",
    "self_energy",
    "protector_trust",
    "polarization",
    "unblending",
    "exile_contact",
    "protector_permission",
    "exile_witnessed",
    "unburdening",
    "protector_release",
    "resistance",
    "commitments_set",
    "commitments_kept",
]


def _pseudonym(**kwargs: Any) -> Any:
    return pa.Field(str_matches=PSEUDONYM_PATTERN, **kwargs)


def _iff(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """True when both conditions hold or neither does (nulls count as false)."""
    return a.fill_null(False) == b.fill_null(False)


class Clients(pa.DataFrameModel):
    """One row per episode of care (a client's engagement with one practice)."""

    client_id: str = _pseudonym(unique=True)
    practice_id: str = _pseudonym()
    clinician_id: str = _pseudonym()
    service: str = pa.Field(isin=SERVICES)
    intake_date: dt.date = pa.Field(nullable=True)
    age_band: str = pa.Field(nullable=True, isin=AGE_BANDS)
    gender: str = pa.Field(nullable=True, isin=GENDERS)
    helping_professional: bool = pa.Field()
    profession: str = pa.Field(nullable=True, isin=PROFESSIONS)
    presenting_themes: str = pa.Field(nullable=True)
    discharge_date: dt.date = pa.Field(nullable=True)
    discharge_reason: str = pa.Field(nullable=True, isin=DISCHARGE_REASONS)

    @pa.check("presenting_themes", name="enum")
    def themes_known(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Every ';'-separated theme is one of THEMES (blanks around separators are tolerated)."""
        tokens = pl.col(data.key).str.split(";").list.eval(pl.element().str.strip_chars())
        return data.lazyframe.select(tokens.list.eval(pl.element().is_in(THEMES)).list.all().fill_null(True))

    @pa.dataframe_check(name="profession_iff_helping_professional")
    def profession_iff_helping(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_iff(pl.col("helping_professional"), pl.col("profession").is_not_null()))

    @pa.dataframe_check(name="discharge_reason_iff_discharge_date")
    def reason_iff_discharge(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            _iff(pl.col("discharge_date").is_not_null(), pl.col("discharge_reason").is_not_null())
        )

    @pa.dataframe_check(name="discharge_before_intake")
    def discharge_after_intake(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("discharge_date") >= pl.col("intake_date")).fill_null(True))

    class Config:
        strict = True


def _rating(lo: int, hi: int) -> Any:
    return pa.Field(nullable=True, in_range={"min_value": lo, "max_value": hi})


class Sessions(pa.DataFrameModel):
    """One row per scheduled session."""

    session_id: str = _pseudonym(unique=True)
    client_id: str = _pseudonym()
    clinician_id: str = _pseudonym()
    session_date: dt.date = pa.Field()
    kind: str = pa.Field(isin=SESSION_KINDS)
    status: str = pa.Field(isin=SESSION_STATUSES)
    modality: str = pa.Field(isin=MODALITIES)
    location_id: str = _pseudonym(nullable=True)
    duration_min: int = _rating(1, 240)
    focus_goal: int = _rating(1, 5)
    self_energy: int = _rating(0, 10)
    protector_trust: int = _rating(0, 10)
    polarization: int = _rating(0, 10)
    unblending: str = pa.Field(nullable=True, isin=UNBLENDING)
    exile_contact: bool = pa.Field(nullable=True)
    protector_permission: bool = pa.Field(nullable=True)
    exile_witnessed: bool = pa.Field(nullable=True)
    unburdening: str = pa.Field(nullable=True, isin=PROGRESS)
    protector_release: str = pa.Field(nullable=True, isin=PROGRESS)
    resistance: int = _rating(0, 10)
    commitments_set: int = _rating(0, 20)
    commitments_kept: int = _rating(0, 20)

    @pa.dataframe_check(name="location_iff_in_person")
    def location_iff_in_person(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_iff(pl.col("modality") == "in_person", pl.col("location_id").is_not_null()))

    @pa.dataframe_check(name="duration_iff_attended")
    def duration_iff_attended(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_iff(pl.col("status") == "attended", pl.col("duration_min").is_not_null()))

    @pa.dataframe_check(name="process_only_if_attended")
    def process_only_if_attended(cls, data: pa.PolarsData) -> pl.LazyFrame:
        any_process = pl.any_horizontal([pl.col(c).is_not_null() for c in PROCESS_COLUMNS])
        return data.lazyframe.select((pl.col("status") == "attended").fill_null(False) | ~any_process)

    class Config:
        strict = True


class Measures(pa.DataFrameModel):
    """Self-report questionnaires, one row per item answer (long format); null value = skipped."""

    client_id: str = _pseudonym()
    session_id: str = _pseudonym(nullable=True)
    instrument: str = pa.Field()
    administered_on: dt.date = pa.Field()
    item: str = pa.Field()
    value: float = pa.Field(nullable=True)

    class Config:
        strict = True


class Goals(pa.DataFrameModel):
    """Coaching Goal Attainment Scaling ratings."""

    client_id: str = _pseudonym()
    goal_id: str = _pseudonym()
    weight: int = pa.Field(in_range={"min_value": 1, "max_value": 4})
    set_on: dt.date = pa.Field()
    rated_on: dt.date = pa.Field()
    attainment: int = pa.Field(in_range={"min_value": -2, "max_value": 2})

    @pa.dataframe_check(name="rated_before_set")
    def rated_after_set(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("rated_on") >= pl.col("set_on")).fill_null(True))

    class Config:
        strict = True


def _sql_iff(a: str, b: str) -> str:
    """The SQL twin of `_iff`."""
    return f"coalesce({a}, FALSE) = coalesce({b}, FALSE)"


_THEME = "(" + "|".join(THEMES) + ")"
#: The SQL twin of every custom check above, by check name, over the typed columns (``{column}`` for a column
#: check's own column). `schemas.compile` builds the fast path from these; each may be *stricter* than its Pandera
#: version (a row it does not clear is judged by Pandera), never looser — `tests/test_compiled_contract.py`.
SQL_TWINS: dict[str, str] = {
    # themes_known: the strict form has no blanks around the separators.
    "enum": "{column} IS NULL OR regexp_full_match({column}, '" + _THEME + "(;" + _THEME + ")*')",
    "profession_iff_helping_professional": _sql_iff("{helping_professional}", "{profession} IS NOT NULL"),
    "discharge_reason_iff_discharge_date": _sql_iff("{discharge_date} IS NOT NULL", "{discharge_reason} IS NOT NULL"),
    "discharge_before_intake": "coalesce({discharge_date} >= {intake_date}, TRUE)",
    "location_iff_in_person": _sql_iff("{modality} = 'in_person'", "{location_id} IS NOT NULL"),
    "duration_iff_attended": _sql_iff("{status} = 'attended'", "{duration_min} IS NOT NULL"),
    "process_only_if_attended": "coalesce({status} = 'attended', FALSE) OR ("
    + " AND ".join("{" + c + "} IS NULL" for c in PROCESS_COLUMNS)
    + ")",
    "rated_before_set": "coalesce({rated_on} >= {set_on}, TRUE)",
}


@dataclass(frozen=True)
class TableSpec:
    """How one input table is read, keyed and checked."""

    name: str
    model: type[pa.DataFrameModel]
    key: tuple[str, ...]
    required_columns: tuple[str, ...]
    date_columns_not_future: tuple[str, ...]
    defaults: tuple[tuple[str, object], ...] = ()
    optional_file: bool = False

    @property
    def columns(self) -> list[str]:
        return list(self.model.to_schema().columns)

    @property
    def dtypes(self) -> dict[str, pl.DataType]:
        return {name: col.dtype.type for name, col in self.model.to_schema().columns.items()}

    def schema(self, as_of: dt.date) -> pa.DataFrameSchema:
        """The model plus the batch-dependent rule that dates are not after the as-of date."""
        schema = self.model.to_schema()
        for column in self.date_columns_not_future:
            existing = list(schema.columns[column].checks)
            schema = schema.update_column(column, checks=[*existing, not_after(as_of)])
        return schema


def not_after(as_of: dt.date) -> pa.Check:
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col(data.key) <= pl.lit(as_of)).fill_null(True))

    return pa.Check(check, name="future_date")


CLIENTS = TableSpec(
    name="clients",
    model=Clients,
    key=("client_id",),
    required_columns=(
        "client_id",
        "practice_id",
        "clinician_id",
        "service",
        "intake_date",
        "helping_professional",
    ),
    date_columns_not_future=("intake_date", "discharge_date"),
)
SESSIONS = TableSpec(
    name="sessions",
    model=Sessions,
    key=("session_id",),
    required_columns=(
        "session_id",
        "client_id",
        "clinician_id",
        "session_date",
        "kind",
        "status",
        "modality",
    ),
    date_columns_not_future=("session_date",),
)
MEASURES = TableSpec(
    name="measures",
    model=Measures,
    key=("client_id", "instrument", "administered_on", "item"),
    required_columns=("client_id", "instrument", "administered_on", "item", "value"),
    date_columns_not_future=("administered_on",),
)
GOALS = TableSpec(
    name="goals",
    model=Goals,
    key=("client_id", "goal_id", "rated_on"),
    required_columns=("client_id", "goal_id", "set_on", "rated_on", "attainment"),
    date_columns_not_future=("set_on", "rated_on"),
    defaults=(("weight", 1),),
    optional_file=True,
)

#: The input tables in dependency order: a table's parents come before it.
TABLES: tuple[TableSpec, ...] = (CLIENTS, SESSIONS, MEASURES, GOALS)
TABLES_BY_NAME = {t.name: t for t in TABLES}

#: Columns a cross-table or cross-column rule is about (for the quarantine's `column` field).
RULE_COLUMNS: dict[str, str] = {
    "profession_iff_helping_professional": "helping_professional,profession",
    "discharge_reason_iff_discharge_date": "discharge_date,discharge_reason",
    "discharge_before_intake": "intake_date,discharge_date",
    "location_iff_in_person": "modality,location_id",
    "duration_iff_attended": "status,duration_min",
    "process_only_if_attended": "status," + ",".join(PROCESS_COLUMNS),
    "rated_before_set": "set_on,rated_on",
}

#: Human descriptions of every rule name that can appear in the quarantine, for messages and docs.
RULES: dict[str, str] = {
    "type": "the value cannot be read as the column's type (integer, number, date YYYY-MM-DD, or true/false)",
    "required": "a required value is empty",
    "in_range": "the value is outside the allowed range",
    "enum": "the value is not one of the allowed values",
    "pattern": "the identifier does not match ^[A-Za-z0-9_-]{4,64}$",
    "future_date": "the date is after the batch's as-of date",
    "profession_iff_helping_professional": "profession must be given exactly when helping_professional is true",
    "discharge_reason_iff_discharge_date": "discharge_reason must be given exactly when discharge_date is",
    "discharge_before_intake": "discharge_date is before intake_date",
    "location_iff_in_person": "location_id must be given exactly when modality is in_person",
    "duration_iff_attended": "duration_min must be given exactly when status is attended",
    "process_only_if_attended": "process columns must be empty unless status is attended",
    "session_before_intake": "a non-consultation session is before the client's intake_date (or the client has none)",
    "session_after_discharge": "the session is after the client's discharge_date",
    "rated_before_set": "rated_on is before set_on",
    "unknown_instrument": "the instrument is not in the registry",
    "disabled_instrument": "the instrument is switched off in the registry (enabled = false in its file)",
    "unknown_item": "the item is not an item or scale id of that instrument",
    "before_intake_window": "administered more than 30 days before the client's intake_date",
    "orphan_client": "the client_id is neither in this batch nor already loaded",
    "orphan_session": "the session_id is neither in this batch nor already loaded",
    "session_client_mismatch": "the session belongs to a different client",
    "parent_quarantined": "the row's client (or session) is quarantined in this batch",
    "conflicting_duplicate": "the same key appears more than once with different values",
    "total_mismatch": "a supplied scale score disagrees with the score computed from its items",
    "conflicts_with_loaded": "the client row would make already-loaded sessions invalid",
}
