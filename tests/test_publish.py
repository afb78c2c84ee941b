"""Publishing: two files, atomic, aggregates disclosure-controlled, invariants checked before publishing."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.config import Paths
from pipeline.disclosure import SUPPRESSED_SUFFIX
from pipeline.stages import refresh_batches

AS_OF = dt.date(2026, 10, 31)
K = 11


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    from tests.conftest import SAMPLE

    paths = Paths(tmp_path_factory.mktemp("home"))
    refresh_batches(paths, [SAMPLE], AS_OF)
    return paths


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        return {name: con.sql(f"SELECT * FROM {name}").pl() for name in names}


def test_both_files_with_their_tables(published: Paths) -> None:
    aggregate = _tables(published.published / "aggregate.duckdb")
    clinical = _tables(published.published / "clinical.duckdb")
    assert {"outcome_summary", "milestone_funnel", "engagement_summary", "milestone_curves", "data_quality",
            "publication"} <= set(aggregate)  # fmt: skip
    assert {"client_change", "milestones", "alerts", "episode_engagement", "publication"} <= set(clinical)
    assert clinical["alerts"]["caveat"].str.contains("not a safety system").all()
    for name, table in aggregate.items():
        assert "client_id" not in table.columns, name
    meta = aggregate["publication"].row(0, named=True)
    assert meta["as_of"] == AS_OF and meta["disclosure_k"] == K and "<11" in meta["disclosure_rule"]


def test_no_aggregate_cell_is_a_small_count(published: Paths) -> None:
    aggregate = _tables(published.published / "aggregate.duckdb")
    for name, table in aggregate.items():
        if name in ("data_quality", "data_quality_summary", "publication", "milestone_curves"):
            continue  # rows, not people (exempt); what was computed with; curves are cut at k at risk
        flagged = [c.removesuffix(SUPPRESSED_SUFFIX) for c in table.columns if c.endswith(SUPPRESSED_SUFFIX)]
        assert flagged, name
        for column in flagged:
            hidden = table[f"{column}{SUPPRESSED_SUFFIX}"]
            assert table.filter(hidden)[column].null_count() == int(hidden.sum()), (name, column)
            if table.schema[column].is_integer():
                shown = table.filter(~hidden)[column]
                assert not ((shown >= 1) & (shown < K)).any(), (name, column)
    curves = aggregate["milestone_curves"]
    assert (curves["at_risk"] >= K).all() and "events" not in curves.columns


def test_internal_tables_reconcile(published: Paths) -> None:
    clinical = _tables(published.published / "clinical.duckdb")
    milestones = clinical["milestones"]
    reached = [int((milestones["stage_reached"] >= k).sum()) for k in range(1, 6)]
    assert reached == sorted(reached, reverse=True)  # the funnel never increases along M1..M5
    aggregate = _tables(published.published / "aggregate.duckdb")
    funnel = aggregate["milestone_funnel"]
    overall = funnel.filter((pl.col("dimension") == "overall") & (pl.col("period_type") == "all")).row(0, named=True)
    # shown, it is every episode; hidden (the sample is small), it is hidden only to protect a small count
    assert overall["episodes"] == milestones.height or "episodes" in (overall["hidden_to_protect"] or "").split()
    engagement = clinical["episode_engagement"]
    for dim in ("practice_id", "service", "modality", "location", "cohort"):
        assert engagement[dim].null_count() == 0, dim  # every episode counted in one level of each dimension


def test_unchanged_warehouse_does_not_republish(published: Paths) -> None:
    from tests.conftest import SAMPLE

    before = (published.published / "aggregate.duckdb").stat().st_mtime_ns
    assert refresh_batches(published, [SAMPLE], AS_OF).status == "already_loaded"
    assert (published.published / "aggregate.duckdb").stat().st_mtime_ns == before
    (published.published / "clinical.duckdb").unlink()
    refresh_batches(published, [SAMPLE], AS_OF)
    assert (published.published / "clinical.duckdb").exists()


READER = textwrap.dedent(
    """
    import sys, time, duckdb
    path, seconds = sys.argv[1], float(sys.argv[2])
    reads = 0
    end = time.time() + seconds
    held = duckdb.connect(path, read_only=True)  # held open through every swap
    while time.time() < end:
        con = duckdb.connect()
        con.execute("ATTACH ? AS pub (READ_ONLY)", [path])
        n = con.execute("SELECT count(*) FROM pub.outcome_summary").fetchall()[0][0]
        meta = con.execute("SELECT count(*) FROM pub.publication").fetchall()[0][0]
        assert n > 0 and meta == 1, (n, meta)
        held.execute("SELECT count(*) FROM engagement_summary").fetchall()
        con.close()
        reads += 1
    print(reads)
    """
)


def test_reader_never_sees_a_half_written_file(tmp_path: Path) -> None:
    from pipeline import synth

    paths = Paths(tmp_path / "home")
    first = tmp_path / "b1"
    synth.write_batch(first, n_clients=60, seed=1, as_of=AS_OF)
    refresh_batches(paths, [first], AS_OF)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(paths.published / "aggregate.duckdb"), "12"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.5)
    for seed in (2, 3, 4):
        batch = tmp_path / f"b{seed}"
        synth.write_batch(batch, n_clients=60, seed=seed, as_of=AS_OF)
        assert refresh_batches(paths, [batch], AS_OF).status == "loaded"
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert int(out.strip()) > 10


def test_data_dictionary_is_current() -> None:
    from schemas.published import data_dictionary
    from tests.conftest import ROOT

    committed = (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert data_dictionary() == committed, "published tables changed: run `make docs` and commit the result"


def test_contracts_match_the_disclosure_layouts(published: Paths) -> None:
    from pipeline.disclosure import TableLayout
    from pipeline.marts import MARTS, DerivedMart
    from schemas.published import PUBLISHED

    layouts = {mart.name: mart.layout for mart in MARTS}
    derived = {mart.name for mart in MARTS if isinstance(mart, DerivedMart)}
    for spec in (t for t in PUBLISHED if t.file != "internal"):  # internal: the aggregate models again
        layout: TableLayout | None = layouts.get(spec.name) if spec.file == "aggregate" else None
        if layout is None:
            # no layout: exempt (rows, not people) — or derived from published values, hidden where they are
            assert not spec.protected or spec.name in derived, spec.name
            continue
        protected = {*layout.counts, *(r[0] for r in layout.rates), *(s[0] for s in layout.statistics),
                     *(c[0] for c in layout.companions)}  # fmt: skip
        assert set(spec.protected) == protected, spec.name
    aggregate = _tables(published.published / "aggregate.duckdb")
    clinical = _tables(published.published / "clinical.duckdb")
    internal = _tables(published.published / "internal.duckdb")
    for spec in PUBLISHED:
        frame = {"aggregate": aggregate, "clinical": clinical, "internal": internal}[spec.file][spec.name]
        assert frame.columns == spec.all_columns(), spec.name


def test_a_warehouse_with_no_valid_episode_still_publishes(tmp_path: Path) -> None:
    """Every client quarantined: the files exist, with empty (not broken) tables."""
    from tests.builders import valid_rows, write_batch

    rows = valid_rows()
    for client in rows["clients"]:
        client["service"] = "bogus"
    paths = Paths(tmp_path / "home")
    summary = refresh_batches(paths, [write_batch(tmp_path / "b", rows)], AS_OF)
    assert summary.status == "loaded_with_quarantine" and len(summary.published) == 3
    clinical = _tables(paths.published / "clinical.duckdb")
    assert clinical["client_change"].height == 0 and clinical["milestones"].height == 0


def test_a_stale_publication_is_rebuilt(tmp_path: Path) -> None:
    """If publishing once failed after a load, the next refresh notices the files lag the warehouse."""
    from tests.builders import valid_rows, write_batch

    paths = Paths(tmp_path / "home")
    folder = write_batch(tmp_path / "b", valid_rows())
    refresh_batches(paths, [folder], AS_OF)
    with duckdb.connect(str(paths.published / "aggregate.duckdb")) as con:
        con.execute("UPDATE publication SET warehouse_run_id = 'an older run'")
    again = refresh_batches(paths, [folder], AS_OF)
    assert again.status == "already_loaded" and len(again.published) == 3
