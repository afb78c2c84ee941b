"""The attacker against whole publications made by the real pipeline: the sample and generated practices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline import marts
from pipeline.config import Paths
from pipeline.disclosure import protect_publication
from pipeline.load import warehouse_as_of
from pipeline.marts import LINKS, MARTS, Mart
from pipeline.publish import disclosure_policy
from pipeline.settings import DEFAULTS
from pipeline.stages import refresh_batches
from schemas.registry import registry_with
from tests.attacker import attack

AS_OF = dt.date(2026, 10, 31)
LAYOUTS = {m.name: m.layout for m in MARTS if isinstance(m, Mart) and m.file == "aggregate" and m.layout}


def _attack_home(paths: Paths) -> tuple[int, int]:
    """(hidden small counts attacked, leaks) for a refreshed home: the published file is what the protection
    makes of the warehouse's internal tables, and the attacker pins nothing it did not report unprotectable."""
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        internal = marts.build_all(con, warehouse_as_of(con) or AS_OF, DEFAULTS, registry_with(()))
    finally:
        con.close()
    policy = disclosure_policy(DEFAULTS)
    protected, report = protect_publication({n: internal[n] for n in LAYOUTS}, LAYOUTS, policy, LINKS)
    published = duckdb.connect(str(paths.published_file("aggregate")), read_only=True)
    try:
        for name in LAYOUTS:  # the file holds exactly this protection (same cells hidden)
            stored = published.sql(f"SELECT * FROM {name}").pl()
            flags = [c for c in stored.columns if c.endswith("_suppressed")]
            assert stored.select(flags).equals(protected[name].select(flags)), name
    finally:
        published.close()
    own = duckdb.connect(str(paths.published_file("internal")), read_only=True)
    try:  # the internal view: every count exactly as computed, nothing flagged; the shareable file differs
        assert "not for sharing" in own.sql("SELECT disclosure_rule FROM publication").fetchall()[0][0]
        for name, layout in LAYOUTS.items():
            stored = own.sql(f"SELECT * FROM {name}").pl()
            assert stored.select(layout.counts).equals(internal[name].select(layout.counts)), name
            assert not stored.select(pl.col("^.*_suppressed$")).to_numpy().any(), name
    finally:
        own.close()
    leaks = attack(protected, internal, LAYOUTS, policy, links=LINKS)
    found = {(x.table, x.column, x.row) for x in leaks}
    assert found <= set(report.unprotectable), sorted(found - set(report.unprotectable))[:10]
    return report.primary, len(found)


def test_the_sample_publication_hides_nothing_recoverable(published_sample: Paths) -> None:
    primary, leaks = _attack_home(published_sample)
    assert primary > 0 and leaks <= primary // 100


@pytest.mark.parametrize(("clients", "seed"), [(200, 3)])  # the demo and a 400-client practice: closing note
def test_a_generated_practice_publication_hides_nothing_recoverable(tmp_path: Path, clients: int, seed: int) -> None:
    from pipeline import synth

    synth.write_batch(tmp_path / "batch", n_clients=clients, seed=seed, as_of=AS_OF)
    paths = Paths(tmp_path / "home")
    refresh_batches(paths, [tmp_path / "batch"], AS_OF)
    primary, leaks = _attack_home(paths)
    assert primary > 0 and leaks <= primary // 100
