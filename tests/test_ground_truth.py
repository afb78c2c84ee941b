"""The pipeline recovers what the generator planted (ground_truth.json), on a large seeded batch.

Tolerances: milestone reach M1-M4 within 0.01 (the generator plants each milestone's qualifying event exactly
at the latent stage move, so they should agree but for denominators); dropout within 0.02; the mean PHQ-9 and
IFS Self change inside the observed 95% CI; the telehealth-minus-in-person difference inside its Welch 95% CI.
The standardized effect is compared with the true-score effect attenuated by measurement error
(d_observed ≈ d_true·√reliability, because the observed baseline SD includes error variance).
"""

from __future__ import annotations

import datetime as dt
import json
import math

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from pipeline import synth
from pipeline.change import effect_sizes
from pipeline.config import Paths
from pipeline.stages import refresh_batches

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, pl.DataFrame]]:
    root = tmp_path_factory.mktemp("truth")
    synth.write_batch(root / "batch", n_clients=2000, seed=777, as_of=AS_OF)
    paths = Paths(root / "home")
    assert refresh_batches(paths, [root / "batch"], AS_OF).status == "loaded"
    truth = json.loads((root / "batch" / "ground_truth.json").read_text())
    with duckdb.connect(str(paths.published / "clinical.duckdb"), read_only=True) as con:
        tables = {t: con.sql(f"SELECT * FROM {t}").pl() for t in ("client_change", "milestones", "episode_engagement")}
    return truth, tables


def _mean_ci(x: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


def test_milestone_reach_rates(run: tuple[dict, dict[str, pl.DataFrame]]) -> None:
    truth, tables = run
    milestones = tables["milestones"]
    for k in range(1, 5):
        observed = float((milestones["stage_reached"] >= k).mean())  # type: ignore[arg-type]
        assert abs(observed - truth["milestone_reach_rates"][f"M{k}"]) < 0.01, k
    reached = [(milestones["stage_reached"] >= k).sum() for k in range(1, 6)]
    assert reached == sorted(reached, reverse=True)


def test_dropout_rate(run: tuple[dict, dict[str, pl.DataFrame]]) -> None:
    truth, tables = run
    e = tables["episode_engagement"].filter(~pl.col("consultation_only"))
    dropouts = ((e["ending"] == "unplanned") | e["lapsed"]).sum()
    denominator = (e["ended"] | e["lapsed"]).sum()
    assert abs(dropouts / denominator - truth["dropout"]["dropout_rate"]) < 0.02


@pytest.mark.parametrize(("instrument", "scale"), [("phq9", "total"), ("gad7", "total"), ("ifs_self", "total")])
def test_mean_change_and_effect_size(run: tuple[dict, dict[str, pl.DataFrame]], instrument: str, scale: str) -> None:
    truth, tables = run
    true = truth["true_effects"][f"{instrument}.{scale}"]
    paired = tables["client_change"].filter((pl.col("instrument") == instrument) & pl.col("paired"))
    low, high = _mean_ci(paired["change"].to_numpy())
    assert low <= true["true_mean_change"] <= high, (low, true["true_mean_change"], high)
    es = effect_sizes(paired["baseline_score"].to_numpy(), paired["latest_score"].to_numpy(),
                      higher_is_better=instrument == "ifs_self", n_resamples=1000)  # fmt: skip
    reliability = {"phq9": 0.89, "gad7": 0.92, "ifs_self": 0.93}[instrument]
    attenuated = true["true_standardized_change"] * math.sqrt(reliability)
    assert es["d_ci"][0] <= attenuated <= es["d_ci"][1], (es["d_ci"], attenuated)


def test_telehealth_difference(run: tuple[dict, dict[str, pl.DataFrame]]) -> None:
    truth, tables = run
    true = truth["true_effects"]["phq9.total"]
    planted = true["true_mean_change_telehealth"] - true["true_mean_change_in_person"]
    assert planted > 0  # telehealth episodes improve less, by design
    change = tables["client_change"].filter((pl.col("instrument") == "phq9") & pl.col("paired"))
    joined = change.join(tables["episode_engagement"].select("client_id", "modality"), on="client_id")
    tele = joined.filter(pl.col("modality") == "telehealth")["change"].to_numpy()
    inperson = joined.filter(pl.col("modality") == "in_person")["change"].to_numpy()
    diff = tele.mean() - inperson.mean()
    se = math.sqrt(tele.var(ddof=1) / len(tele) + inperson.var(ddof=1) / len(inperson))
    assert diff - 1.96 * se <= planted <= diff + 1.96 * se, (diff, se, planted)
