"""Fuzzed batches (hypothesis): random `batch.toml` values, random file kinds and identifier-shaped values in random
string columns. Whatever comes in: never exit 3, never a traceback, a rejected batch changes nothing, counts
reconcile, and no generated identifier is found in any file under the home or in any output."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import Paths
from pipeline.stages import refresh_batches
from tests.builders import AS_OF, valid_rows, write_batch

FILES = ("clients.csv", "sessions.csv", "measures.csv", "goals.csv", "batch.toml")
KINDS = ("as exported", "missing", "empty", "directory", "symlink", "dangling symlink", "binary")
#: String columns an identifier can be typed into, per table.
STRING_COLUMNS = {
    "clients": ("client_id", "practice_id", "clinician_id", "service", "age_band", "presenting_themes"),
    "sessions": ("session_id", "clinician_id", "kind", "location_id", "unblending", "modality"),
    "measures": ("instrument", "item", "session_id", "value", "administered_on"),
    "goals": ("goal_id", "set_on", "attainment"),
}
WAREHOUSE_TABLES = ("clients", "sessions", "measures", "goals", "quarantine")


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


@st.composite
def identifier_values(draw: st.DrawFn) -> str:
    """A direct identifier in one of the shapes the contract refuses (docs/data-contract.md)."""
    shape = draw(st.sampled_from(["email", "url", "ssn", "plus", "nanp", "gb"]))
    a, b, c = draw(_digits(3)), draw(_digits(4)), draw(_digits(2))
    if shape == "email":
        user = draw(st.text("abcdefghijklmnopqrstuvwxyz.", min_size=1, max_size=10).filter(lambda u: u.strip(".")))
        return f"{user.strip('.')}@example{c}.org"
    if shape == "url":
        return f"https://clinic{c}.example.org/patient/{b}"
    if shape == "ssn":
        return f"{a}{draw(st.sampled_from(['-', ' ']))}{c}{draw(st.sampled_from(['-', ' ']))}{b}"
    if shape == "plus":
        return draw(st.sampled_from([f"+44 20 7946 {b}", f"+1555{a}{b}", f"+33 1 42 68 {c} {c}", f"+49 30 12{b}"]))
    if shape == "nanp":
        sep = draw(st.sampled_from(["-", ".", " "]))
        return draw(st.sampled_from([f"(555) {a}-{b}", f"555{sep}{a}{sep}{b}"]))
    return f"020 7946 {b}"


#: (value, whether it is a planted identifier)
TOML_VALUES = st.one_of(
    identifier_values().map(lambda v: (v, True)),
    st.one_of(
        st.text(max_size=30),
        st.sampled_from([".", "..", "../x", "/etc", "a/b", "-1-1", "x" * 120, "2026-10-31", "2062-10-31", "ok-batch"]),
        st.integers(),
        st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1)),
        st.booleans(),
    ).map(lambda v: (v, False)),
)


def cells(values: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, int, int, str]]:
    """(table, row, string column, value): a value typed into some string cell."""
    return st.tuples(st.sampled_from(sorted(STRING_COLUMNS)), st.integers(0, 30), st.integers(0, 5), values)


@st.composite
def batch_plans(draw: st.DrawFn) -> dict[str, Any]:
    toml_keys = draw(st.lists(st.sampled_from(["batch_id", "exported_at", "source", "notes", "extra"]), unique=True))
    plausible = st.sampled_from([(AS_OF, False), ("2026-11-30", False)])
    odd_files = draw(st.lists(st.tuples(st.sampled_from(FILES), st.sampled_from(KINDS[1:])), max_size=2))
    return {
        "toml": {
            key: draw(st.one_of(plausible, TOML_VALUES) if key == "exported_at" else TOML_VALUES) for key in toml_keys
        },
        "kinds": {name: KINDS[0] for name in FILES} | dict(odd_files if draw(st.integers(0, 3)) == 0 else []),
        "identifiers": draw(st.lists(cells(identifier_values()), max_size=2)) if draw(st.booleans()) else [],
        "noise": draw(st.lists(cells(st.text(max_size=12)), max_size=3)),
        "binary": draw(st.binary(min_size=1, max_size=200)),
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | dt.date):
        return str(value)
    return json.dumps(value)  # a TOML basic string is a JSON string


def _build(folder: Path, plan: dict[str, Any]) -> list[str]:
    """Write the planned batch; returns the identifier values planted in it."""
    rows = valid_rows()
    planted: list[str] = []
    for table, row, column, value in [*plan["noise"], *plan["identifiers"]]:
        columns = STRING_COLUMNS[table]
        target = rows[table][row % len(rows[table])]
        target[columns[column % len(columns)]] = value
    planted += [value for _, _, _, value in plan["identifiers"]]
    write_batch(folder, rows, as_of=None)
    (folder / "batch.toml").write_text(
        "".join(f"{key} = {_toml_value(value)}\n" for key, (value, _) in plan["toml"].items()), encoding="utf-8"
    )
    planted += [value for value, is_identifier in plan["toml"].values() if is_identifier]
    for name, kind in plan["kinds"].items():
        path = folder / name
        if kind == "as exported":
            continue
        path.unlink()
        if kind == "empty":
            path.write_bytes(b"")
        elif kind == "directory":
            path.mkdir()
        elif kind == "symlink":
            (folder.parent / f"real-{name}").write_bytes(b"client_id\n")
            path.symlink_to(folder.parent / f"real-{name}")
        elif kind == "dangling symlink":
            path.symlink_to(folder.parent / "nowhere")
        elif kind == "binary":
            path.write_bytes(plan["binary"])
    return planted


def _tables(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(Paths(home).warehouse), read_only=True) as con:
        return {
            t: sorted(con.execute(f"SELECT * EXCLUDE (run_id) FROM {t}").fetchall(), key=repr) for t in WAREHOUSE_TABLES
        }


def _published(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((home / "published").glob("*.duckdb"))}


def _text_anywhere(home: Path, value: str) -> list[str]:
    found = []
    for path in home.rglob("*"):
        if path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                for (table,) in con.execute("SHOW TABLES").fetchall():
                    text = con.execute(f'SELECT CAST(list("{table}") AS VARCHAR) FROM "{table}"').fetchall()[0][0]
                    if value in (text or ""):
                        found.append(f"{path.name}:{table}")
        elif path.is_file() and not path.name.endswith(".wal") and value.encode() in path.read_bytes():
            found.append(str(path))
    return found


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    rows = valid_rows()
    for table in rows.values():
        for row in table:
            for key in ("client_id", "session_id"):
                if row.get(key):
                    row[key] = "K" + row[key]
    refresh_batches(Paths(root / "home"), [write_batch(root / "base", rows)], AS_OF)
    return root / "home"


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])  # fmt: skip
@given(plan=batch_plans())
def test_a_fuzzed_batch_never_breaks_the_pipeline(plan: dict[str, Any], loaded: Path, tmp_path: Path) -> None:
    work = tmp_path / f"example-{abs(hash(json.dumps(plan, default=str)))}"
    home = work / "home"
    shutil.copytree(loaded, home)
    before_tables, before_published = _tables(home), _published(home)
    planted = _build(work / "batch", plan)
    result = CliRunner().invoke(
        app, ["refresh", str(work / "batch"), "--home", str(home), "--json", "--as-of", "2026-11-30"]
    )
    output = result.output
    assert result.exit_code in (0, 1, 2), output
    assert "Traceback" not in output and not (home / "logs").exists()
    summary = json.loads(output[output.index("{") :])
    [batch] = summary["batches"]
    event(f"status {batch['status']}")
    if batch["status"] == "rejected":
        assert _tables(home) == before_tables and _published(home) == before_published
    else:
        for name, c in batch["tables"].items():
            assert c["received"] == c["loaded"] + c["quarantined"] + c["duplicates"], name
    for value in planted:
        assert value not in output, value
        assert _text_anywhere(home, value) == [], value
    shutil.rmtree(work)


def test_the_fuzzer_plants_what_the_contract_refuses() -> None:
    """Every identifier shape the fuzzer plants is one the detector knows (else the test above proves nothing)."""
    from pipeline import identifiers

    @given(identifier_values())
    @settings(max_examples=200)
    def check(value: str) -> None:
        assert identifiers.kind_of(value) is not None, value

    check()
