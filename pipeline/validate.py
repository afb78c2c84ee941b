"""Validate: split every input row into valid or quarantined, with every rule it broke (DESIGN section 3).

Order of work per table: collapse exact duplicates (counted) → flag conflicting duplicates → parse text into
types (rule `type`) → the Pandera contract (types, ranges, enums, patterns, cross-column rules, future dates)
→ rules that need context: other tables of the batch, what is already loaded, and the instrument registry.
Tables are judged parents first, so a child of a quarantined row is quarantined as `parent_quarantined`.
Nothing here writes anything: ``validate`` and ``refresh`` share it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from pandera.errors import SchemaErrors

from pipeline import identifiers, io, staging
from pipeline.ingest import ROW, Batch, BatchRejected
from pipeline.score import ADMIN_KEY, scale_items_frame, score_items
from pipeline.settings import DEFAULTS, ContractSettings, Settings
from pipeline.staging import StagedAnswers
from schemas.compile import compile_table
from schemas.inputs import RULE_COLUMNS, TABLES, TABLES_BY_NAME, TableSpec
from schemas.registry import Registry

VIOLATION_SCHEMA = pl.Schema(
    {
        ROW: pl.UInt32(),
        "rule": pl.String(),
        "column": pl.String(),
        "value": pl.String(),
    }
)
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


class ContractDrift(RuntimeError):
    """Pandera reported a schema-level failure after parsing: the code and the contract disagree (a bug)."""


@dataclass
class TableResult:
    """The verdict on one input table of one batch."""

    name: str
    received: int
    duplicates: int
    valid: pl.DataFrame  # typed contract columns, ready to load
    quarantined: pl.DataFrame  # the quarantined rows as received (text), with ROW
    violations: pl.DataFrame  # ROW, rule, column, value (always masked: see `mask`)
    #: Valid rows left in DuckDB instead of held in ``valid`` (a staged answers file: the rows of every client the
    #: fast path cleared, see `pipeline.staging`), and their count.
    staged: StagedAnswers | None = None
    spilled: int = 0
    #: The raw client ids of a staged file whose rows were not cleared (judged here, in ``valid`` and
    #: ``quarantined``): every other row of the file is valid and loads from DuckDB.
    uncleared: pl.DataFrame | None = None

    @property
    def loaded(self) -> int:
        return self.valid.height + self.spilled

    @property
    def quarantined_count(self) -> int:
        return self.quarantined.height

    def counts(self) -> dict[str, int]:
        return {
            "received": self.received,
            "loaded": self.loaded,
            "quarantined": self.quarantined_count,
            "duplicates": self.duplicates,
        }


@dataclass
class Loaded:
    """What the warehouse already holds that validation of a new batch depends on."""

    clients: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"client_id": pl.String, "intake_date": pl.Date, "discharge_date": pl.Date}
        )
    )
    sessions: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={
                "session_id": pl.String,
                "client_id": pl.String,
                "session_date": pl.Date,
                "kind": pl.String,
            }
        )
    )


@dataclass
class ValidationResult:
    tables: dict[str, TableResult]

    def quarantine_by_rule(self) -> dict[str, int]:
        """Rows quarantined per rule (a row breaking two rules counts under both)."""
        counts: dict[str, int] = {}
        for result in self.tables.values():
            per_rule = result.violations.unique([ROW, "rule"]).group_by("rule").len()
            for rule, n in per_rule.iter_rows():
                counts[rule] = counts.get(rule, 0) + n
        return dict(sorted(counts.items()))

    @property
    def any_quarantined(self) -> bool:
        return any(r.quarantined_count for r in self.tables.values())


# --- parsing -------------------------------------------------------------------------------------------


def _parse(column: str, dtype: pl.DataType) -> pl.Expr:
    text = pl.col(column)
    if dtype == pl.Int64:
        integral = text.str.contains(r"^[+-]?\d+(\.0*)?$")
        return pl.when(integral).then(text.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False))
    if dtype == pl.Float64:
        number = text.cast(pl.Float64, strict=False)
        return pl.when(number.is_finite()).then(number)
    if dtype == pl.Boolean:
        lowered = text.str.to_lowercase()
        return pl.when(lowered.is_in(TRUE_WORDS)).then(True).when(lowered.is_in(FALSE_WORDS)).then(False)
    if dtype == pl.Date:
        return text.str.to_date("%Y-%m-%d", strict=False)
    return text


def parse_types(text: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed frame (ROW kept) and `type` violations for values that did not parse."""
    dtypes = spec.dtypes
    typed = text.with_columns(_parse(c, t).cast(t).alias(c) for c, t in dtypes.items() if t != pl.String)
    for column, default in spec.defaults:
        typed = typed.with_columns(pl.col(column).fill_null(pl.lit(default).cast(dtypes[column])))
    failures = [
        text.filter(pl.col(c).is_not_null() & typed[c].is_null()).select(
            ROW, rule=pl.lit("type"), column=pl.lit(c), value=pl.col(c)
        )
        for c, t in dtypes.items()
        if t != pl.String
    ]
    return typed, _concat(failures)


# --- helpers -----------------------------------------------------------------------------------------------


def _empty_violations() -> pl.DataFrame:
    return pl.DataFrame(schema=VIOLATION_SCHEMA)


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f.select(ROW, "rule", "column", pl.col("value").cast(pl.String)) for f in frames if f.height]
    if not frames:
        return _empty_violations()
    return pl.concat([f.cast(VIOLATION_SCHEMA) for f in frames])


def flag(frame: pl.DataFrame, condition: pl.Expr, rule: str, column: str, value: pl.Expr | None = None) -> pl.DataFrame:
    """Violations for the rows of ``frame`` (which must carry ROW) where ``condition`` is true."""
    return frame.filter(condition.fill_null(False)).select(
        ROW,
        rule=pl.lit(rule),
        column=pl.lit(column),
        value=(value if value is not None else pl.lit(None)).cast(pl.String),
    )


def _rule_of(check: str) -> str:
    if check == "not_nullable":
        return "required"
    if check.startswith("isin"):
        return "enum"
    if check.startswith(("in_range", "greater_than", "less_than", "equal_to", "not_equal_to")):
        return "in_range"
    if check.startswith("str_matches"):
        return "pattern"
    if check in ("field_uniqueness", "multiple_fields_uniqueness"):
        return "conflicting_duplicate"
    return check


def contract_violations(typed: pl.DataFrame, spec: TableSpec, as_of: dt.date) -> pl.DataFrame:
    """Run the Pandera model (lazy, so every failure is reported) and turn failures into violations."""
    schema = spec.schema(as_of)
    try:
        schema.validate(typed.drop(ROW), lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        if cases["index"].null_count():
            broken = cases.filter(pl.col("index").is_null()).select("column", "check").row(0)
            raise ContractDrift(f"{spec.name}: schema-level failure {broken} after parsing") from exc
        rows = typed[ROW]
        is_frame_check = pl.col("schema_context") == "DataFrameSchema"
        rule = pl.col("check").map_elements(_rule_of, return_dtype=pl.String)
        out = cases.select(
            pl.lit(rows.gather(cases["index"].cast(pl.UInt32))).alias(ROW),
            rule.alias("rule"),
            pl.when(is_frame_check).then(None).otherwise(pl.col("column")).alias("column"),
            pl.when(is_frame_check | (pl.col("check") == "not_nullable"))
            .then(None)
            .otherwise(pl.col("failure_case"))
            .alias("value"),
        )
        return out.with_columns(
            pl.when(pl.col("column").is_null())
            .then(pl.col("rule").replace_strict(RULE_COLUMNS, default=None))
            .otherwise(pl.col("column"))
            .alias("column")
        )
    return _empty_violations()


def mask(value: pl.Expr) -> pl.Expr:
    """Length and character classes only, so a mistyped identifier never lands in the warehouse.

    Every failing value is masked, whatever the rule: a name typed into a date field fails `type`, not `pattern`.
    The practice sees the value itself only in the quarantine CSV of its own export, which it can fix and resend.
    """
    classes = pl.concat_str(
        [
            pl.when(value.str.contains("[A-Z]")).then(pl.lit("upper")),
            pl.when(value.str.contains("[a-z]")).then(pl.lit("lower")),
            pl.when(value.str.contains("[0-9]")).then(pl.lit("digit")),
            pl.when(value.str.contains("[^A-Za-z0-9]")).then(pl.lit("other")),
        ],
        separator="+",
        ignore_nulls=True,
    )
    return pl.when(value.is_not_null()).then(pl.format("[masked: {} chars, {}]", value.str.len_chars(), classes))


# --- per table ---------------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    spec: TableSpec
    received: int
    duplicates: int
    text: pl.DataFrame  # deduplicated text rows with ROW
    typed: pl.DataFrame  # same rows, typed, with ROW
    violations: list[pl.DataFrame]

    def bad_rows(self) -> pl.Series:
        return _concat(self.violations)[ROW].unique()


def prepare(text: pl.DataFrame, spec: TableSpec, as_of: dt.date) -> _Prepared:
    """Everything that can be judged from the table alone."""
    columns = spec.columns
    deduped = text.filter(pl.struct(columns).is_first_distinct())
    conflicting = flag(deduped, pl.struct(list(spec.key)).is_duplicated(), "conflicting_duplicate", ",".join(spec.key))
    typed, type_failures = parse_types(deduped, spec)
    contract = contract_violations(typed, spec, as_of)
    # A value that failed to parse is null in the typed frame, and a value outside its enum means nothing: don't
    # also report the first as missing, nor judge a cross-column rule on either.
    echoes = pl.DataFrame(
        [(rule, c, cols) for rule, cols in RULE_COLUMNS.items() for c in cols.split(",")]
        + [("required", c, c) for c in columns],
        schema={"rule": pl.String, "_failed": pl.String, "column": pl.String},
        orient="row",
    )
    invalid = pl.concat(
        [type_failures.select(ROW, "column"), contract.filter(pl.col("rule") == "enum").select(ROW, "column")]
    )
    suppressed = invalid.rename({"column": "_failed"}).join(echoes, on="_failed").select(ROW, "rule", "column")
    contract = contract.join(suppressed.unique(), on=[ROW, "rule", "column"], how="anti")
    return _Prepared(
        spec=spec,
        received=text.height,
        duplicates=text.height - deduped.height,
        text=deduped,
        typed=typed,
        violations=[conflicting, type_failures, contract],
    )


def _finish(prep: _Prepared) -> TableResult:
    violations = (
        _concat(prep.violations)
        .unique([ROW, "rule", "column"], keep="first")
        .with_columns(mask(pl.col("value")).alias("value"))
        .sort(ROW, "rule", "column", nulls_last=True)
    )
    bad = violations[ROW].unique()
    is_bad = pl.col(ROW).is_in(bad.implode())
    valid = prep.typed.filter(~is_bad).sort(ROW).drop(ROW)
    quarantined = prep.text.filter(is_bad).sort(ROW)
    result = TableResult(
        name=prep.spec.name,
        received=prep.received,
        duplicates=prep.duplicates,
        valid=valid,
        quarantined=quarantined,
        violations=violations,
    )
    if result.received != result.loaded + result.quarantined_count + result.duplicates:
        raise AssertionError(f"{prep.spec.name}: counts do not reconcile: {result.counts()}")
    return result


def _ids(frame: pl.DataFrame, column: str) -> pl.Series:
    return frame[column].drop_nulls().unique().implode()


def validate_batch(
    batch: Batch,
    loaded: Loaded,
    registry: Registry,
    spill: Path | None = None,
    settings: Settings = DEFAULTS,
) -> ValidationResult:
    """Judge every row of the batch; parents (clients) before children (sessions, measures, goals).

    The answers of a staged file (`Batch.staged`) are judged in DuckDB by the compiled contract, and only the
    clients it does not clear are judged here (`judge_staged`); nothing is spilled (``spill`` is accepted for
    older callers and unused). A batch most of whose dated rows lie after its
    as-of date is refused whole (`check_as_of_plausible`): its date, not its rows, is wrong.
    """
    contract = settings.contract
    prep = {
        spec.name: prepare(batch.tables[spec.name], spec, batch.as_of) for spec in TABLES if spec.name != "measures"
    }
    clients, sessions, goals = prep["clients"], prep["sessions"], prep["goals"]

    # clients: a new version must not invalidate sessions already loaded and not resent in this batch.
    batch_session_ids = _ids(sessions.text, "session_id")
    kept_sessions = loaded.sessions.filter(~pl.col("session_id").is_in(batch_session_ids))
    candidates = clients.typed.filter(~pl.col(ROW).is_in(clients.bad_rows().implode()))
    conflicts = candidates.join(kept_sessions, on="client_id", how="inner").filter(
        session_outside_episode(pl.col("session_date"), pl.col("kind"), pl.col("intake_date"), pl.col("discharge_date"))
    )
    clients.violations.append(
        flag(conflicts.unique(ROW), pl.lit(True), "conflicts_with_loaded", "intake_date,discharge_date")
    )
    client_result = _finish(clients)

    batch_client_ids = _ids(clients.text, "client_id")
    quarantined_client_ids = _ids(client_result.quarantined, "client_id")
    known_client_ids = (
        pl.concat([clients.text["client_id"], loaded.clients["client_id"]]).drop_nulls().unique().implode()
    )
    episode = pl.concat(
        [
            client_result.valid.select("client_id", "intake_date", "discharge_date"),
            loaded.clients.filter(~pl.col("client_id").is_in(batch_client_ids)).select(
                "client_id", "intake_date", "discharge_date"
            ),
        ]
    )

    def client_rules(p: _Prepared) -> None:
        p.violations.append(flag(p.typed, ~pl.col("client_id").is_in(known_client_ids), "orphan_client", "client_id"))
        p.violations.append(
            flag(p.typed, pl.col("client_id").is_in(quarantined_client_ids), "parent_quarantined", "client_id")
        )

    # sessions
    client_rules(sessions)
    with_episode = sessions.typed.join(episode, on="client_id", how="inner")
    sessions.violations.append(
        flag(
            with_episode,
            (pl.col("kind") != "consultation")
            & (pl.col("intake_date").is_null() | (pl.col("session_date") < pl.col("intake_date"))),
            "session_before_intake",
            "session_date,intake_date",
        )
    )
    sessions.violations.append(
        flag(
            with_episode,
            pl.col("session_date") > pl.col("discharge_date"),
            "session_after_discharge",
            "session_date,discharge_date",
        )
    )
    session_result = _finish(sessions)

    # measures: a staged file is cleared by the compiled contract in DuckDB, the rest judged here
    session_index = _session_index(session_result, loaded)
    spec = TABLES_BY_NAME["measures"]

    def judge_measures(text: pl.DataFrame) -> TableResult:
        measures = prepare(text, spec, batch.as_of)
        client_rules(measures)
        _measure_rules(measures, registry, session_index, episode, contract)
        return _finish(measures)

    if batch.staged is not None:
        cleared = episode.filter(~pl.col("client_id").is_in(quarantined_client_ids))
        measure_result = judge_staged(batch, batch.staged, judge_measures, cleared, session_index, registry, settings)
    else:
        measure_result = judge_measures(batch.tables["measures"])

    # goals
    client_rules(goals)
    goal_result = _finish(goals)

    result = ValidationResult(tables={r.name: r for r in (client_result, session_result, measure_result, goal_result)})
    check_as_of_plausible(batch, result, contract.exported_at_max_share_after)
    return result


#: Tables whose every row carries a required date (the rows an as-of date is judged against).
DATED_TABLES = ("sessions", "measures", "goals")


def check_as_of_plausible(batch: Batch, result: ValidationResult, max_share: float) -> None:
    """Refuse a batch when more than ``max_share`` of its dated rows are after its as-of date.

    A few rows dated after a plausible export date are quarantined one by one (`future_date`); most of them means
    the date is wrong (``exported_at = 2016-10-31`` for 2026), and loading would quarantine the practice's data.
    """
    dated = sum(result.tables[t].received - result.tables[t].duplicates for t in DATED_TABLES)
    future = sum(
        result.tables[t].violations.filter(pl.col("rule") == "future_date")[ROW].n_unique() for t in DATED_TABLES
    )
    if dated and future / dated > max_share:
        where = f"exported_at {batch.as_of} in batch.toml" if batch.dated_by_export else f"the run date {batch.as_of}"
        fix = (
            "correct exported_at in batch.toml (a typo in the year?)"
            if batch.dated_by_export
            else "add exported_at to batch.toml or pass --as-of with the export's date"
        )
        raise BatchRejected(
            f"{future:,} of {dated:,} dated rows ({future / dated:.0%}) are after {where} "
            f"(rule exported_at_before_data); {fix} and resend.",
            rule="exported_at_before_data",
            file="batch.toml",
            column="exported_at",
        )


def combine_parts(parts: Iterable[TableResult]) -> TableResult:
    """One table's verdict from the verdicts on its partitions (disjoint sets of source rows)."""
    parts = list(parts)
    first = parts[0]
    return TableResult(
        name=first.name,
        received=sum(p.received for p in parts),
        duplicates=sum(p.duplicates for p in parts),
        valid=pl.concat([p.valid for p in parts]),
        quarantined=pl.concat([p.quarantined for p in parts]).sort(ROW),
        violations=pl.concat([p.violations for p in parts]).sort(ROW, "rule", "column", nulls_last=True),
        staged=next((p.staged for p in parts if p.staged is not None), None),
        spilled=sum(p.spilled for p in parts),
        uncleared=next((p.uncleared for p in parts if p.uncleared is not None), None),
    )


def session_outside_episode(date: pl.Expr, kind: pl.Expr, intake: pl.Expr, discharge: pl.Expr) -> pl.Expr:
    """A session that the episode's dates would make invalid (consultations may precede intake)."""
    before = (kind != "consultation") & (intake.is_null() | (date < intake))
    after = discharge.is_not_null() & (date > discharge)
    return (before | after).fill_null(False)


def registry_frame(registry: Registry) -> pl.DataFrame:
    """Every accepted (instrument, item-or-scale id) with its allowed range."""
    rows = []
    for inst in registry.instruments.values():
        for item_id in sorted(inst.accepted_item_ids()):
            lo, hi = inst.range_of(item_id)
            rows.append(
                {
                    "instrument": inst.id,
                    "item": item_id,
                    "lo": lo,
                    "hi": hi,
                    "is_scale": item_id in inst.scales,
                }
            )
    return pl.DataFrame(rows)


def _session_index(sessions: TableResult, loaded: Loaded) -> pl.DataFrame:
    """Every session an answer may refer to: session_id, its client_id, and whether it was quarantined."""
    bad_session_rows = sessions.quarantined.select("session_id", "client_id", _quarantined=pl.lit(True))
    return pl.concat(
        [
            sessions.valid.select("session_id", "client_id", _quarantined=pl.lit(False)),
            bad_session_rows.filter(pl.col("session_id").is_not_null()),
            loaded.sessions.filter(~pl.col("session_id").is_in(_ids(sessions.quarantined, "session_id")))
            .filter(~pl.col("session_id").is_in(_ids(sessions.valid, "session_id")))
            .select("session_id", "client_id", _quarantined=pl.lit(False)),
        ]
    ).unique("session_id", keep="first")


def _measure_rules(
    measures: _Prepared,
    registry: Registry,
    all_sessions: pl.DataFrame,
    episode: pl.DataFrame,
    contract: ContractSettings,
) -> None:
    typed = measures.typed
    accepted = registry_frame(registry)
    with_item = typed.join(accepted, on=["instrument", "item"], how="left")
    known_instrument = pl.col("instrument").is_in(list(registry.instruments))
    disabled = pl.col("instrument").is_in(list(registry.disabled))
    add = measures.violations.append
    add(flag(with_item, ~known_instrument & ~disabled, "unknown_instrument", "instrument"))
    add(flag(with_item, disabled, "disabled_instrument", "instrument"))
    add(flag(with_item, known_instrument & pl.col("lo").is_null(), "unknown_item", "item"))
    add(
        flag(
            with_item,
            (pl.col("value") < pl.col("lo")) | (pl.col("value") > pl.col("hi")),
            "in_range",
            "value",
            pl.col("value"),
        )
    )

    # The session an answer refers to must exist and belong to the same client.
    linked = typed.filter(pl.col("session_id").is_not_null()).join(
        all_sessions.rename({"client_id": "_session_client"}), on="session_id", how="left"
    )
    add(flag(linked, pl.col("_quarantined").is_null(), "orphan_session", "session_id"))
    add(flag(linked, pl.col("_quarantined") == True, "parent_quarantined", "session_id"))  # noqa: E712
    add(
        flag(
            linked,
            pl.col("_session_client").is_not_null() & (pl.col("_session_client") != pl.col("client_id")),
            "session_client_mismatch",
            "session_id,client_id",
        )
    )

    windowed = typed.join(episode, on="client_id", how="inner")
    add(
        flag(
            windowed,
            pl.col("administered_on") < pl.col("intake_date") - pl.duration(days=contract.pre_intake_window_days),
            "before_intake_window",
            "administered_on,intake_date",
        )
    )

    # A supplied scale score must agree with the score of its complete items (all rows of the administration).
    clean = typed.filter(~pl.col(ROW).is_in(_concat(measures.violations)[ROW].unique().implode()))
    supplied = clean.join(accepted.filter("is_scale"), on=["instrument", "item"], how="inner").filter(
        pl.col("value").is_not_null()
    )
    if supplied.height == 0:
        return
    scored = score_items(clean.filter(pl.col("client_id").is_in(_ids(supplied, "client_id"))), registry)
    tolerance = pl.when(pl.col("method") == "mean").then(contract.mean_score_tolerance).otherwise(1e-9)
    methods = pl.DataFrame(
        [
            {"instrument": i.id, "scale": s.id, "method": s.method}
            for i in registry.instruments.values()
            for s in i.scales.values()
        ]
    )
    mismatched = (
        supplied.rename({"item": "scale", "value": "supplied"})
        .join(scored.filter(pl.col("n_answered") == pl.col("n_items")), on=[*ADMIN_KEY, "scale"], how="inner")
        .join(methods, on=["instrument", "scale"], how="left")
        .filter((pl.col("score") - pl.col("supplied")).abs() > tolerance)
        .select(ADMIN_KEY)
        .unique()
    )
    add(flag(typed.join(mismatched, on=ADMIN_KEY, how="semi"), pl.lit(True), "total_mismatch", "item,value"))


# --- a staged answers file: the compiled contract clears clients in DuckDB, Pandera judges the rest -----------

#: Answers of not-cleared clients judged together at most this many at a time (whole clients per part).
SLOW_PART_ROWS = 1_000_000


def decimal_point(staged: StagedAnswers) -> str:
    """`value` with a decimal comma read as a point, in the strict form the fast path accepts (others go slow)."""
    if not staged.decimal_comma:
        return "value"
    return "regexp_replace(value, '^(-?[0-9]+),([0-9]+)$', '\\1.\\2')"


def _registry_ids(registry: Registry) -> pl.DataFrame:
    """`registry_frame` with a bit per id within its instrument (a repeated id shows in sum vs bit_or)."""
    frame = registry_frame(registry).with_columns(pl.int_range(pl.len()).over("instrument").cast(pl.Int64).alias("bit"))
    if frame.height and frame["bit"].max() >= 62:  # type: ignore[operator]
        raise ValueError("an instrument has more than 62 item and scale ids; widen the fast path's bit set")
    return frame


def _context(
    con: io.duckdb.DuckDBPyConnection, cleared: pl.DataFrame, sessions: pl.DataFrame, registry: Registry
) -> None:
    """The small tables the fast path joins, each id judged by the compiled contract once (not once per row)."""
    terms = compile_table(TABLES_BY_NAME["measures"]).columns
    frames = {
        "_clients": (cleared.select("client_id", "intake_date"), f"{terms['client_id']} AS ok"),
        "_sessions": (
            sessions.select("session_id", "client_id", pl.col("_quarantined").alias("quarantined")),
            f"{terms['session_id']} AS ok",
        ),
        "_items": (_registry_ids(registry), f"{terms['instrument']} AND {terms['item']} AS ok"),
        "_scale_items": (scale_items_frame(registry), "TRUE AS ok"),
    }
    for name, (frame, ok) in frames.items():
        con.register("_frame", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT *, {ok} FROM _frame")
        con.unregister("_frame")


def _distinct_values(con: io.duckdb.DuckDBPyConnection, staged: StagedAnswers, as_of: dt.date) -> None:
    """`_dates` and `_values`: every distinct text of the date and the value, typed and judged once."""
    terms = compile_table(TABLES_BY_NAME["measures"]).columns
    date = io.sql_text("staging", "answers_dates").replace("{ok}", terms["administered_on"])
    con.execute(f"CREATE OR REPLACE TEMP TABLE _dates AS {date}", io.bound(date, {"as_of": as_of}))
    values = io.sql_text("staging", "answers_values").replace("{ok}", terms["value"])
    con.execute(f"CREATE OR REPLACE TEMP TABLE _values AS {values.replace('{value}', decimal_point(staged))}")


def _uncleared_clients(
    con: io.duckdb.DuckDBPyConnection, staged: StagedAnswers, as_of: dt.date, contract: ContractSettings
) -> pl.Series:
    """Raw client ids (null included) with a row the fast path does not clear, a repeated item, or a supplied
    score that may disagree with its items."""
    if compile_table(TABLES_BY_NAME["measures"]).rows:
        raise ContractDrift("measures: a cross-column rule was added; the fast path must evaluate it (answers_admins)")
    _distinct_values(con, staged, as_of)
    admins = io.sql_text("staging", "answers_admins")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _admins AS {admins}",
        io.bound(admins, {"window_days": contract.pre_intake_window_days}),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _supplied AS SELECT client_id, instrument, administered_on FROM _admins
           WHERE clean AND NOT coalesce(repeated, FALSE) AND supplied > 0"""
    )
    mismatch = io.sql_text("staging", "answers_mismatch").replace("{value}", decimal_point(staged))
    ids = io.query(
        con,
        "SELECT client_id FROM _admins WHERE NOT clean OR coalesce(repeated, FALSE) "
        f"UNION SELECT client_id FROM ({mismatch})",
        {"mean_tolerance": contract.mean_score_tolerance},
    )
    return ids["client_id"]


def _slow_ids(uncleared: pl.Series) -> pl.DataFrame:
    """Every raw client id to judge slowly: an id uncleared, or one that reads (stripped, as `pipeline.io` strips)
    as an uncleared id — so the rows of one client are always judged together."""
    raw = uncleared.drop_nulls().unique()
    normal = raw.str.strip_chars().replace("", None).drop_nulls()
    return pl.DataFrame({"client_id": pl.concat([raw, normal]).unique().sort()}, schema={"client_id": pl.String})


def _slow_frames(
    con: io.duckdb.DuckDBPyConnection, staged: StagedAnswers, parts: int, columns: list[str]
) -> Iterator[pl.DataFrame]:
    """The uncleared rows as text, part by part, exactly as `pipeline.io.read_table_as_text` would give them."""
    select = ", ".join(f"a.{c}" for c in columns)
    for part in range(parts):
        frame = io.query(
            con,
            f"""SELECT a.rowid + 1 AS {ROW}, {select} FROM answers AS a
                LEFT JOIN _slow_parts AS s ON s.client_id = a.client_id
                WHERE s.part = $part OR (a.client_id IS NULL AND $part = 0)
                ORDER BY a.rowid""",
            {"part": part},
        ).with_columns(pl.col(ROW).cast(pl.UInt32))
        if staged.decimal_comma:
            frame = frame.with_columns(pl.col("value").str.replace(io._DECIMAL_COMMA, "${1}.${2}"))
        yield io._normalized(frame)


def _fast_identifiers(con: io.duckdb.DuckDBPyConnection, regions: tuple[str, ...]) -> list[tuple[str, str, int]]:
    """Identifier-shaped ids among the cleared rows: their other columns are registry ids, canonical dates and
    numbers, which never are; the ids are judged once each (the context tables), and counted only if found."""
    found: list[tuple[str, str, int]] = []
    for column, table in (("client_id", "_clients"), ("session_id", "_sessions")):
        ids = io.query(con, f"SELECT DISTINCT {column} AS id FROM {table} WHERE ok")["id"]
        suspects = ids.filter(~ids.str.contains("[A-Za-z]") | ids.str.contains("@|://|(?i)www\\."))
        kinds = {v: k for v in suspects.to_list() if (k := identifiers.kind_of(v, regions)) is not None}
        if not kinds:
            continue
        con.register("_suspects", pl.DataFrame({"id": list(kinds)}))
        counts = io.query(
            con,
            f"""SELECT a.{column} AS id, count(*) AS n FROM answers AS a
                WHERE a.{column} IN (SELECT id FROM _suspects)
                  AND a.client_id NOT IN (SELECT client_id FROM _slow_parts) GROUP BY 1""",
        )
        con.unregister("_suspects")
        per_kind: dict[str, int] = {}
        for value, n in counts.iter_rows():
            per_kind[kinds[value]] = per_kind.get(kinds[value], 0) + int(n)
        found += [(column, kind, n) for kind, n in per_kind.items()]
    return found


def judge_staged(
    batch: Batch,
    staged: StagedAnswers,
    judge: Callable[[pl.DataFrame], TableResult],
    cleared: pl.DataFrame,
    sessions: pl.DataFrame,
    registry: Registry,
    settings: Settings,
) -> TableResult:
    """The verdict on a staged answers file. DuckDB clears every client all of whose rows the compiled contract
    (`schemas.compile`) and the context tables clear — no duplicate, no supplied score that may disagree; those
    rows stay in DuckDB and load from there. Every other client's rows are judged by ``judge`` (Pandera and the
    context rules, exactly as an in-memory file), so reasons, masking and echo rules are Pandera's. Every rule on
    answers is keyed within one client, so the verdict is the same as judging the file whole.

    Raises `BatchRejected` when a value is shaped like a direct identifier, before anything is written.
    """
    spec = TABLES_BY_NAME["measures"]
    regions = batch.phone_regions
    with staging.scratch(staged.db, settings, read_only=True) as con:
        _context(con, cleared, sessions, registry)
        slow_ids = _slow_ids(_uncleared_clients(con, staged, batch.as_of, settings.contract))
        con.register("_frame", slow_ids)
        slow_rows = int(
            io.query(
                con,
                "SELECT count(*) AS n FROM answers WHERE client_id IS NULL "
                "OR client_id IN (SELECT client_id FROM _frame)",
            )["n"][0]
        )
        con.unregister("_frame")
        parts = max(1, -(-slow_rows // SLOW_PART_ROWS))
        # a part holds whole clients as `pipeline.io` reads them: stripped as polars strips
        by_client = (pl.col("client_id").str.strip_chars().hash() % parts).cast(pl.Int64).alias("part")
        con.register("_frame", slow_ids.with_columns(by_client))
        con.execute("CREATE OR REPLACE TEMP TABLE _slow_parts AS SELECT * FROM _frame")
        con.unregister("_frame")
        found = _fast_identifiers(con, regions)
        results: list[TableResult] = []
        for frame in _slow_frames(con, staged, parts, spec.columns):
            found += identifiers.count_by_column(frame, spec.columns, regions)
            if not found:
                judged = judge(frame)
                judged.quarantined, judged.violations = io.compact(judged.quarantined), io.compact(judged.violations)
                results.append(judged)
        if found:
            order = {c: i for i, c in enumerate(spec.columns)}
            column, kind, _ = min(found, key=lambda f: order[f[0]])
            count = sum(n for c, k, n in found if (c, k) == (column, kind))
            raise BatchRejected(
                f"{staged.file_name}: column '{column}' has {count} value(s) shaped like {kind} "
                "(rule identifier_values); remove direct identifiers from the export and resend.",
                rule="identifier_values",
                file=staged.file_name,
                column=column,
            )
    fast = TableResult(
        name=spec.name,
        received=staged.rows - slow_rows,
        duplicates=0,
        valid=pl.DataFrame(schema=spec.dtypes),
        quarantined=pl.DataFrame(schema={ROW: pl.UInt32, **dict.fromkeys(spec.columns, pl.String)}),
        violations=_empty_violations(),
        staged=staged,
        spilled=staged.rows - slow_rows,
        uncleared=slow_ids,
    )
    return combine_parts([*results, fast])
