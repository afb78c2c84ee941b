"""A large answers file is staged in DuckDB, cleared there by the compiled contract client by client, and the rest
judged by Pandera: the verdict must be the same as judging it whole in memory, row for row, rule for rule, and the
warehouse must end up the same."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import ingest, io
from pipeline.config import Paths
from pipeline.ingest import ROW, read_batch
from pipeline.load import read_cleared
from pipeline.stages import refresh_batches
from pipeline.validate import Loaded, validate_batch
from schemas.registry import default_registry
from tests.sql_harness import with_settings
from tests.test_reconciliation import AS_OF, BASE, FAULTS, _as_text

WAREHOUSE_TABLES = ("clients", "sessions", "measures", "goals", "quarantine", "scores", "client_change")


def _faulty_batch(folder: Path, seed: int, faults: list[tuple[str, int]], duplicates: list[int]) -> Path:
    tables = {name: _as_text(frame).with_row_index(ROW, offset=1) for name, frame in BASE[seed].items()}
    for kind, pick in faults:
        table, column, value, _ = FAULTS[kind]
        row = pick % tables[table].height + 1
        tables[table] = tables[table].with_columns(
            pl.when(pl.col(ROW) == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        )
    for pick in duplicates:
        measures = tables["measures"]
        tables["measures"] = pl.concat([measures, measures.filter(pl.col(ROW) == pick % measures.height + 1)])
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.drop(ROW).write_csv(folder / f"{name}.csv")
    (folder / "batch.toml").write_text(f"exported_at = {AS_OF}\n", encoding="utf-8")
    return folder


#: Answers files over about 4 kB are staged in DuckDB (the fast path), so a small batch takes it.
SMALL_PARTS = with_settings(engine={"partition_mb": 4_000 / 2**20})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(sorted(BASE)),
    faults=st.lists(st.tuples(st.sampled_from(sorted(FAULTS)), st.integers(0, 10_000)), max_size=5),
    duplicates=st.lists(st.integers(0, 10_000), max_size=3),
)
def test_partitioned_verdict_equals_whole_verdict(
    seed: int, faults: list[tuple[str, int]], duplicates: list[int]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _faulty_batch(Path(tmp) / "batch", seed, faults, duplicates)
        whole = validate_batch(read_batch(folder, AS_OF), Loaded(), default_registry())
        batch = read_batch(folder, AS_OF, Path(tmp) / "staging", SMALL_PARTS)
        assert batch.staged is not None
        parted = validate_batch(batch, Loaded(), default_registry(), settings=SMALL_PARTS)
        for name, table in whole.tables.items():
            other = parted.tables[name]
            assert table.counts() == other.counts(), name
            assert table.violations.equals(other.violations), name
            assert table.quarantined.equals(other.quarantined), name
        staged = parted.tables["measures"]
        assert staged.spilled > 0
        cleared = read_cleared(staged)
        key = ["client_id", "instrument", "administered_on", "item"]
        assert whole.tables["measures"].valid.sort(key).equals(pl.concat([staged.valid, cleared]).sort(key))


def _snapshot(paths: Paths) -> dict[str, pl.DataFrame]:
    with io.warehouse(paths.warehouse, read_only=True) as con:
        frames = {name: con.sql(f"SELECT * FROM {name}").pl() for name in WAREHOUSE_TABLES}
    return {name: f.drop("run_id", strict=False).sort(pl.all()) for name, f in frames.items()}


def test_partitioned_refresh_leaves_the_same_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _faulty_batch(tmp_path / "batch", 4, [("bad_range", 17), ("future", 400), ("unknown_item", 9)], [3, 50])
    whole = Paths(tmp_path / "whole")
    refresh_batches(whole, [folder], AS_OF)
    parted = Paths(tmp_path / "parted")
    summary = refresh_batches(parted, [folder], AS_OF, settings=SMALL_PARTS)
    assert summary.batches[0].tables["measures"]["quarantined"] > 0
    expected, found = _snapshot(whole), _snapshot(parted)
    for name in WAREHOUSE_TABLES:
        assert expected[name].equals(found[name]), name
    assert not any(parted.staging.iterdir()) if parted.staging.exists() else True


def test_a_large_file_with_an_identifier_is_still_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _faulty_batch(tmp_path / "batch", 2, [], [])
    measures = pl.read_csv(folder / "measures.csv", infer_schema=False)
    measures.with_columns(
        pl.when(pl.int_range(pl.len()) == 500).then(pl.lit("someone@example.org")).otherwise(pl.col("session_id"))
        .alias("session_id")
    ).write_csv(folder / "measures.csv")  # fmt: skip
    batch = read_batch(folder, dt.date(2026, 10, 31), tmp_path / "staging", SMALL_PARTS)
    assert batch.staged is not None
    with pytest.raises(ingest.BatchRejected) as caught:
        validate_batch(batch, Loaded(), default_registry(), settings=SMALL_PARTS)
    assert caught.value.rule == "identifier_values" and caught.value.column == "session_id"
    assert "someone" not in caught.value.message
    # and through `refresh`: rejected whole, nothing loaded, the rejection recorded
    paths = Paths(tmp_path / "home")
    summary = refresh_batches(paths, [folder], AS_OF, settings=SMALL_PARTS)
    assert summary.batches[0].status == "rejected"
    with io.warehouse(paths.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM measures").fetchall() == [(0,)]
        assert con.execute("SELECT status FROM runs").fetchall() == [("rejected",)]


def test_scoring_by_client_partition_equals_scoring_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from polars.testing import assert_frame_equal

    from pipeline import outcomes
    from pipeline.score import ADMIN_KEY
    from pipeline.settings import DEFAULTS

    paths = Paths(tmp_path / "home")
    refresh_batches(paths, [_faulty_batch(tmp_path / "batch", 4, [("bad_range", 5)], [])], AS_OF)

    def derive(part_rows: int) -> tuple[dict[str, pl.DataFrame], int]:
        parts: list[pl.DataFrame] = []
        settings = dataclasses.replace(
            DEFAULTS, engine=dataclasses.replace(DEFAULTS.engine, scoring_part_rows=part_rows)
        )
        with io.warehouse(paths.warehouse, read_only=True) as con:
            derived = outcomes.derive_outcomes(con, default_registry(), parts.append, settings)
        return {"scores": pl.concat(parts).sort([*ADMIN_KEY, "scale"]), **derived}, len(parts)

    whole, one = derive(DEFAULTS.engine.scoring_part_rows)
    parted, many = derive(700)
    assert one == 1 and many > 3
    for name, frame in whole.items():
        assert_frame_equal(frame, parted[name], check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
    assert whole["scores"].height > 0 and whole["client_change"]["paired"].sum() > 0
    # and the warehouse holds exactly the scores derived whole
    with io.warehouse(paths.warehouse, read_only=True) as con:
        stored = con.sql("SELECT * FROM scores").pl().sort([*ADMIN_KEY, "scale"])
    assert_frame_equal(stored, whole["scores"])


def test_incremental_rescoring_equals_a_full_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A weekly batch rescores only the clients it touches; the derived tables equal those of a rebuild."""
    from polars.testing import assert_frame_equal

    from benchmarks import tiers
    from pipeline import outcomes, synth
    from pipeline.score import ADMIN_KEY
    from pipeline.settings import DEFAULTS

    tier = tiers.Tier("T", 300, seed=11)
    synth.write_batch(tmp_path / "full", n_clients=tier.clients, seed=tier.seed, as_of=tiers.AS_OF)
    tiers._split(tier, tmp_path / "full", tmp_path, "csv")
    base, weekly = tmp_path / "base", tmp_path / "weekly"

    calls: list[int] = []
    update = outcomes.update_outcomes
    monkeypatch.setattr(
        outcomes,
        "update_outcomes",
        lambda con, registry, affected, *rest: calls.append(affected.height) or update(con, registry, affected, *rest),
    )
    incremental = Paths(tmp_path / "incremental")
    refresh_batches(incremental, [base], tiers.AS_OF)
    assert calls == []  # the first load builds everything
    refresh_batches(incremental, [weekly], tiers.AS_OF)
    assert len(calls) == 1 and 0 < calls[0] < tier.clients * DEFAULTS.engine.incremental_max_share

    rebuilt = Paths(tmp_path / "rebuilt")
    refresh_batches(rebuilt, [base, weekly], tiers.AS_OF)
    assert len(calls) == 1

    order = {"scores": [*ADMIN_KEY, "scale"], "client_change": ["client_id", "instrument", "scale"],
             "scale_reliability": ["instrument", "scale"]}  # fmt: skip
    for name, key in order.items():
        with io.warehouse(incremental.warehouse, read_only=True) as con:
            found = con.sql(f"SELECT * FROM {name}").pl().sort(key)
        with io.warehouse(rebuilt.warehouse, read_only=True) as con:
            expected = con.sql(f"SELECT * FROM {name}").pl().sort(key)
        assert_frame_equal(found, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


def test_a_new_registry_version_rescores_everyone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Incremental rescoring never mixes registry versions: with a new version the next load rebuilds all."""
    import dataclasses

    from benchmarks import tiers
    from pipeline import outcomes, synth

    tier = tiers.Tier("T", 120, seed=12)
    synth.write_batch(tmp_path / "full", n_clients=tier.clients, seed=tier.seed, as_of=tiers.AS_OF)
    tiers._split(tier, tmp_path / "full", tmp_path, "csv")
    paths = Paths(tmp_path / "home")
    refresh_batches(paths, [tmp_path / "base"], tiers.AS_OF)
    monkeypatch.setattr(outcomes, "update_outcomes", lambda *args: pytest.fail("rescored a part under a new registry"))
    newer = dataclasses.replace(default_registry(), version="test-next")
    refresh_batches(paths, [tmp_path / "weekly"], tiers.AS_OF, registry=newer)
    with io.warehouse(paths.warehouse, read_only=True) as con:
        assert con.execute("SELECT DISTINCT registry_version FROM scores").fetchall() == [("test-next",)]
