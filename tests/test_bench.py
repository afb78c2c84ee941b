"""The benchmark code: the tier split loses nothing, and `ifs-outcomes bench --tier S` runs end to end (a smoke
test: CI asserts what was measured and written, never how fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from benchmarks import tiers
from benchmarks.floor import run_floor
from pipeline import io, synth
from pipeline.config import Paths
from pipeline.stages import refresh_batches

ROOT = Path(__file__).resolve().parent.parent


def test_base_then_weekly_loads_exactly_the_full_batch(tmp_path: Path) -> None:
    tier = tiers.Tier("T", 150, seed=5)
    full = tmp_path / "full"
    synth.write_batch(full, n_clients=tier.clients, seed=tier.seed, as_of=tiers.AS_OF)
    counts = tiers._split(tier, full, tmp_path, "csv")
    generated = {name: pl.read_csv(full / f"{name}.csv", infer_schema=False).height for name in tiers.TABLE_NAMES}
    for name in ("sessions", "measures", "goals"):
        assert counts["base"][name] + counts["weekly"][name] == generated[name], name
    assert 0 < counts["weekly"]["sessions"] < 0.05 * generated["sessions"]

    whole, split = Paths(tmp_path / "whole"), Paths(tmp_path / "split")
    refresh_batches(whole, [full], tiers.AS_OF)
    summary = refresh_batches(split, [tmp_path / "base", tmp_path / "weekly"], tiers.AS_OF)
    assert [b.status.split("_")[0] for b in summary.batches] == ["loaded", "loaded"]
    for name in ("clients", "sessions", "measures", "goals"):
        columns = "* EXCLUDE (batch_id, run_id)"
        with io.warehouse(whole.warehouse, read_only=True) as con:
            expected = con.sql(f"SELECT {columns} FROM {name}").pl().sort(pl.all())
        with io.warehouse(split.warehouse, read_only=True) as con:
            found = con.sql(f"SELECT {columns} FROM {name}").pl().sort(pl.all())
        assert expected.equals(found), name


def test_floor_gives_one_change_per_client_and_instrument(tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    synth.write_batch(batch, n_clients=40, seed=9, as_of=tiers.AS_OF)
    counts = run_floor(batch, tmp_path / "floor.duckdb")
    measures = pl.read_csv(batch / "measures.csv", infer_schema=False)
    administrations = measures.select("client_id", "instrument", "administered_on").unique()
    assert counts["totals"] == administrations.height
    assert 0 < counts["client_change"] <= administrations.select("client_id", "instrument").unique().height
    assert counts["mean_change"] == administrations["instrument"].n_unique()


def test_bench_tier_s_smoke(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "bench", "--tier", "S", "--cache", str(tmp_path / "cache"),
         "--results", str(results), "--no-dashboard"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [json_path] = results.glob("*-S.json")
    record = json.loads(json_path.read_text())
    assert json_path.with_suffix(".md").exists()
    assert record["tier"] == "S" and record["clients"] == 1000
    stages = [s["stage"] for s in record["full_refresh"]["stages"]]
    from pipeline.stages import STAGES

    assert stages == [s.name for s in STAGES]  # every stage of THE list ran, in order, each timed
    assert [s["stage"] for s in record["incremental_refresh"]["stages"]] == stages
    for step in ("floor", "full_refresh", "incremental_refresh"):
        assert record[step]["seconds"] > 0 and 30 < record[step]["peak_rss_mb"] < 20_000, step
    assert record["ratio_full_to_floor"] == round(record["full_refresh"]["seconds"] / record["floor"]["seconds"], 2)
    base, weekly = record["rows"]["base"], record["rows"]["weekly"]
    assert 0.003 < weekly["sessions"] / (base["sessions"] + weekly["sessions"]) < 0.03
    assert (tmp_path / "cache").exists() and not list((tmp_path / "cache").glob("bench-*")), "work folders removed"
