"""The contract compiled to SQL (`schemas.compile`) against Pandera's own verdict.

Two layers: (1) the compiled predicate is *sound* — a row it clears is one the Pandera model (with the parsing of
`pipeline.validate`) passes, with the same typed values — for every table, on random rows mixing valid values and
the perturbations real exports carry; (2) the staged fast path (`pipeline.staging`, `validate.judge_staged`)
gives the in-memory path's verdict on random faulty batches: counts, violations (rule, column, masked value),
quarantined rows, quarantine CSVs byte for byte, rejections for identifiers, and the warehouse after a load.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from pipeline import io
from pipeline.config import Paths
from pipeline.ingest import ROW, BatchRejected, read_batch
from pipeline.load import read_cleared
from pipeline.quarantine import stage_quarantine_files
from pipeline.stages import refresh_batches
from pipeline.validate import Loaded, ValidationResult, contract_violations, parse_types, validate_batch
from schemas.compile import compile_table
from schemas.inputs import TABLES, TABLES_BY_NAME
from schemas.registry import default_registry
from tests.sql_harness import with_settings
from tests.test_reconciliation import AS_OF, BASE, _as_text

#: Every answers file is staged (the fast path) under these settings.
STAGED = with_settings(engine={"partition_mb": 1 / 2**20})

# --- (1) the compiled predicate is sound, table by table --------------------------------------------------------

#: Texts a cell may hold besides a valid one: blanks, other spellings of numbers and dates, near-misses.
NOISE = [None, "", " ", "x", "0", "1", "-1", "2", "2.0", "02", "+2", "1e0", "2.5", " 3", "3 ", "nan", "inf",
         "true", "TRUE", "yes", "f", "2026-10-31", "2026-11-01", "2026-1-5", "2026-02-30", "0999-01-01",
         "abcd", "abc", "ab-cd_12", "a b", "\u00a0abcd", "abcd\t", "in_person", "attended", "burnout;career",
         "burnout ; career", "burnout;", "phq9", "phq9_1", "total", "therapist", "completed", "regular"]  # fmt: skip


def _rows(spec_name: str) -> st.SearchStrategy[list[dict[str, str | None]]]:
    valid = [r for seed in BASE for r in _as_text(BASE[seed][spec_name]).iter_rows(named=True)]
    columns = TABLES_BY_NAME[spec_name].columns
    cell = st.one_of(st.sampled_from(NOISE), st.text(max_size=6))
    row = st.tuples(st.sampled_from(valid), st.dictionaries(st.sampled_from(columns), cell, max_size=3))
    return st.lists(row.map(lambda r: {c: r[1].get(c, r[0].get(c)) for c in columns}), min_size=1, max_size=25)


@pytest.mark.parametrize("name", [t.name for t in TABLES])
def test_a_row_the_compiled_contract_clears_passes_pandera(name: str) -> None:
    spec = TABLES_BY_NAME[name]
    compiled = compile_table(spec)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=_rows(name))
    def check(rows: list[dict[str, str | None]]) -> None:
        text = pl.DataFrame(rows, schema=dict.fromkeys(spec.columns, pl.String)).with_row_index(ROW, offset=1)
        normal = io._normalized(text)
        if compiled.unique:  # uniqueness is judged across rows (the fast path's duplicate check), not per row
            normal = normal.filter(~pl.struct(compiled.unique).is_duplicated())
            text = text.filter(pl.col(ROW).is_in(normal[ROW].implode()))
        typed, type_failures = parse_types(normal, spec)
        violations = pl.concat([type_failures, contract_violations(typed, spec, AS_OF)])
        with duckdb.connect() as con:
            con.register("t", text.with_columns(pl.col(spec.columns).replace("", None)))
            select = ", ".join(f"{e} AS {c}" for c, e in compiled.typed.items())
            cleared = con.sql(
                f"SELECT {ROW}, {select} FROM t WHERE {compiled.clean()} ORDER BY {ROW}", params={"as_of": AS_OF}
            ).pl()
        bad = set(violations[ROW].to_list())
        assert not bad & set(cleared[ROW].to_list())
        expected = typed.filter(pl.col(ROW).is_in(cleared[ROW].implode())).sort(ROW)
        assert expected.cast(cleared.schema).equals(cleared), "the typed values differ"

    check()


# --- (2) the staged path gives the in-memory verdict -------------------------------------------------------------

SEPARATORS = [",", ";", "\t"]
ADMIN = ["client_id", "instrument", "administered_on"]


def _perturbations(tables: dict[str, pl.DataFrame]) -> list[tuple[str, str, Any]]:
    """(table, column, value) faults: a value, or a callable of the row (text) for faults made of other rows."""
    measures, sessions = tables["measures"], tables["sessions"]
    client = measures["client_id"][0]
    other_session = sessions.filter(pl.col("client_id") != client)["session_id"][0]
    return [
        ("measures", "value", "99"), ("measures", "value", " 2"), ("measures", "value", "2.0"),
        ("measures", "value", "02"), ("measures", "value", ""), ("measures", "value", "nan"),
        ("measures", "value", "1.5"), ("measures", "value", "-1"), ("measures", "value", "lots"),
        ("measures", "administered_on", "2027-01-01"), ("measures", "administered_on", "2026-1-5"),
        ("measures", "administered_on", " 2026-01-05"), ("measures", "administered_on", "2026-02-30"),
        ("measures", "administered_on", "1990-01-01"), ("measures", "administered_on", ""),
        ("measures", "item", "phq9_42"), ("measures", "item", "total"), ("measures", "item", " phq9_1"),
        ("measures", "item", "burnout"), ("measures", "instrument", "nope"), ("measures", "instrument", "phq9 "),
        ("measures", "client_id", "NOSUCHCLIENT"), ("measures", "client_id", f" {client} "),
        ("measures", "client_id", "x"), ("measures", "client_id", ""), ("measures", "client_id", client),
        ("measures", "session_id", ""), ("measures", "session_id", "nosuchsession"),
        ("measures", "session_id", other_session), ("measures", "session_id", "s 1"),
        ("clients", "service", "lots"), ("clients", "intake_date", "2026-10-30"),
        ("sessions", "modality", "phone"), ("sessions", "status", "cancelled"),
    ]  # fmt: skip


def _faulty(folder: Path, seed: int, faults: list[tuple[int, int]], copies: list[tuple[int, str]], sep: str) -> Path:
    tables = {name: _as_text(frame).with_row_index(ROW, offset=1) for name, frame in BASE[seed].items()}
    options = _perturbations(tables)
    for kind, pick in faults:
        table, column, value = options[kind % len(options)]
        row = pick % tables[table].height + 1
        tables[table] = tables[table].with_columns(
            pl.when(pl.col(ROW) == row).then(pl.lit(value, pl.String)).otherwise(pl.col(column)).alias(column)
        )
    for pick, how in copies:  # an exact copy, a conflicting copy, or a supplied total (right or wrong)
        measures = tables["measures"]
        row = measures.filter(pl.col(ROW) == pick % measures.height + 1)
        if how == "conflict":
            row = row.with_columns(pl.lit("0").alias("value"))
        elif how in ("total_right", "total_wrong"):
            admin = measures.join(row.select(ADMIN), on=ADMIN)
            total = admin["value"].cast(pl.Float64, strict=False).sum() + (0 if how == "total_right" else 1)
            row = row.with_columns(pl.lit("total").alias("item"), pl.lit(f"{total:g}").alias("value"))
        tables["measures"] = pl.concat([measures, row])
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        out = frame.drop(ROW)
        if sep == ";" and name == "measures":  # a European export: decimal commas
            out = out.with_columns(pl.col("value").str.replace(r"\.", ","))
        out.write_csv(folder / f"{name}.csv", separator=sep)
    (folder / "batch.toml").write_text(f"exported_at = {AS_OF}\n", encoding="utf-8")
    return folder


def _quarantine_files(tmp: Path, name: str, result: ValidationResult) -> dict[str, bytes]:
    folder = stage_quarantine_files(Paths(tmp / name), "batch", "run", result)
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _verdict(folder: Path, staging: Path | None) -> ValidationResult | BatchRejected:
    try:
        batch = read_batch(folder, AS_OF, staging, STAGED)
        assert (batch.staged is not None) == (staging is not None)
        return validate_batch(batch, Loaded(), default_registry(), settings=STAGED)
    except BatchRejected as exc:
        return exc


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(sorted(BASE)),
    faults=st.lists(st.tuples(st.integers(0, 100), st.integers(0, 10_000)), max_size=6),
    copies=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["exact", "conflict", "total_right", "total_wrong"])),
        max_size=3,
    ),
    sep=st.sampled_from(SEPARATORS),
)
def test_the_staged_verdict_is_the_in_memory_verdict(
    seed: int, faults: list[tuple[int, int]], copies: list[tuple[int, str]], sep: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = _faulty(tmp / "batch", seed, faults, copies, sep)
        whole, staged = _verdict(folder, None), _verdict(folder, tmp / "staging")
        if isinstance(whole, BatchRejected):
            assert isinstance(staged, BatchRejected), "the staged path did not reject"
            assert (whole.rule, whole.column, whole.message) == (staged.rule, staged.column, staged.message)
            return
        assert isinstance(staged, ValidationResult), f"the staged path rejected: {staged}"
        for name, table in whole.tables.items():
            other = staged.tables[name]
            assert table.counts() == other.counts(), name
            assert table.violations.equals(other.violations), name
            assert table.quarantined.equals(other.quarantined), name
        assert whole.quarantine_by_rule() == staged.quarantine_by_rule()
        assert _quarantine_files(tmp, "a", whole) == _quarantine_files(tmp, "b", staged)
        answers = staged.tables["measures"]
        assert answers.staged is not None
        cleared = read_cleared(answers)
        key = ["client_id", "instrument", "administered_on", "item"]
        assert whole.tables["measures"].valid.sort(key).equals(pl.concat([answers.valid, cleared]).sort(key))


@pytest.mark.parametrize("identifier", ["123-45-6789", "555-123-4567"])
def test_an_identifier_shaped_id_is_rejected_on_both_paths(identifier: str, tmp_path: Path) -> None:
    """Pseudonym-shaped identifiers pass the id pattern, so only the identifier check can catch them — on the
    cleared rows too (judged once per distinct id)."""
    folder = _faulty(tmp_path / "batch", 2, [], [], ",")
    for name in ("clients", "sessions", "measures"):
        frame = pl.read_csv(folder / f"{name}.csv", infer_schema=False)
        first = frame["client_id"][0]
        frame.with_columns(pl.col("client_id").replace(first, identifier)).write_csv(folder / f"{name}.csv")
    whole, staged = _verdict(folder, None), _verdict(folder, tmp_path / "staging")
    assert isinstance(whole, BatchRejected) and isinstance(staged, BatchRejected)
    assert (whole.rule, whole.file, whole.column) == (staged.rule, staged.file, staged.column)
    # its clients loaded before (the clients file does not catch it): the answers' own check must find it
    folder = _faulty(tmp_path / "later", 2, [], [], ",")
    measures = pl.read_csv(folder / "measures.csv", infer_schema=False)
    first = measures["client_id"][0]
    measures.with_columns(pl.col("client_id").replace(first, identifier)).write_csv(folder / "measures.csv")
    clients = pl.read_csv(folder / "clients.csv", infer_schema=False).with_columns(
        pl.col("client_id").replace(first, identifier)
    )
    loaded = Loaded(
        clients=clients.select("client_id", pl.col("intake_date").str.to_date(), pl.col("discharge_date").str.to_date())
    )
    pl.DataFrame(schema=dict.fromkeys(clients.columns, pl.String)).write_csv(folder / "clients.csv")
    messages = []
    for path in (None, tmp_path / "s2"):
        with pytest.raises(BatchRejected) as caught:
            batch = read_batch(folder, AS_OF, path, STAGED)  # in memory, the read checks every value
            assert (batch.staged is not None) == (path is not None)
            validate_batch(batch, loaded, default_registry(), settings=STAGED)
        assert caught.value.rule == "identifier_values" and caught.value.file == "measures.csv"
        assert identifier not in caught.value.message
        messages.append(caught.value.message)
    assert messages[0] == messages[1]  # the same count


@pytest.mark.parametrize("sep", SEPARATORS)
def test_a_staged_load_leaves_the_warehouse_of_an_in_memory_load(sep: str, tmp_path: Path) -> None:
    """Into an empty warehouse, then a corrected re-export of the same keys (replacing rows) on top."""
    first = _faulty(tmp_path / "first", 3, [(0, 5), (16, 40), (25, 7)], [(3, "exact"), (9, "total_wrong")], sep)
    second = _faulty(tmp_path / "second", 3, [(1, 8), (2, 60)], [(11, "total_right")], sep)
    tables = ("clients", "sessions", "measures", "goals", "quarantine", "scores", "client_change")
    snapshots = []
    for name, engine in (("memory", with_settings()), ("staged", STAGED)):
        paths = Paths(tmp_path / name)
        refresh_batches(paths, [first, second], AS_OF, settings=engine)
        with io.warehouse(paths.warehouse, read_only=True) as con:
            snapshots.append(
                {t: con.sql(f"SELECT * FROM {t}").pl().drop("run_id", strict=False).sort(pl.all()) for t in tables}
            )
    for name in tables:  # values to 1e-9: sums over rows loaded in another order may differ in the last digit
        assert_frame_equal(snapshots[0][name], snapshots[1][name], check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


def test_the_compiled_contract_refuses_a_check_it_cannot_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas import compile as compiler

    monkeypatch.setattr(compiler, "SQL_TWINS", {})
    with pytest.raises(compiler.ContractNotCompiled):
        compile_table(TABLES_BY_NAME["clients"])


def test_dates_compile_to_the_same_day() -> None:
    compiled = compile_table(TABLES_BY_NAME["goals"])
    with duckdb.connect() as con:
        row = con.sql(
            f"SELECT {compiled.typed['rated_on']}, {compiled.typed['weight']} "
            "FROM (SELECT '2026-10-31' AS rated_on, NULL AS weight)"
        ).fetchall()
    assert row == [(dt.date(2026, 10, 31), 1)]
