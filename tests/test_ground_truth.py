"""The pipeline recovers what the generator planted (ground_truth.json), on a large seeded batch.

Every check reads the published aggregate tables — what a practice sees — never a recomputation from client rows.
Tolerances: milestone reach M1-M4 within 0.01 (the generator plants each milestone's qualifying event exactly
at the latent stage move, so they should agree but for denominators); dropout within 0.02; the mean change of
finished treatment inside the 95% interval from the published mean, SD of change and n; the
telehealth-minus-in-person difference inside its Welch 95% CI.
The standardized effect is compared with the true-score effect attenuated by measurement error
(d_observed ≈ d_true·√reliability, because the observed baseline SD includes error variance).
"""

from __future__ import annotations

import datetime as dt
import json
import math

import duckdb
import polars as pl
import pytest
from scipy import stats

from pipeline import synth
from pipeline.config import Paths
from pipeline.stages import refresh_batches

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, pl.DataFrame]]:
    """The published aggregate tables of a refreshed 2,000-episode batch, and what the generator planted."""
    root = tmp_path_factory.mktemp("truth")
    synth.write_batch(root / "batch", n_clients=2000, seed=777, as_of=AS_OF)
    paths = Paths(root / "home")
    assert refresh_batches(paths, [root / "batch"], AS_OF).status == "loaded"
    truth = json.loads((root / "batch" / "ground_truth.json").read_text())
    with duckdb.connect(str(paths.aggregate_file), read_only=True) as con:
        tables = {
            t: con.sql(f"SELECT * FROM {t}").pl() for t in ("outcome_summary", "milestone_funnel", "engagement_summary")
        }
    return truth, tables


def _overall(frame: pl.DataFrame, **equal: str) -> dict:
    """The published all-time overall row (finished treatment for outcome_summary)."""
    frame = frame.filter(pl.col("dimension") == "overall")
    if "period" in frame.columns:
        frame = frame.filter(pl.col("period") == "all")
    if "population" in frame.columns:
        frame = frame.filter(pl.col("population") == "finished_treatment")
    for column, value in equal.items():
        frame = frame.filter(pl.col(column) == value)
    assert frame.height == 1
    return frame.row(0, named=True)


def _mean_ci(row: dict) -> tuple[float, float]:
    """The 95% t interval of a published mean change from its published SD of change and n."""
    half = stats.t.ppf(0.975, row["paired"] - 1) * row["sd_change"] / math.sqrt(row["paired"])
    return row["mean_change"] - half, row["mean_change"] + half


def test_milestone_reach_rates(run: tuple[dict, dict[str, pl.DataFrame]]) -> None:
    truth, tables = run
    funnel = _overall(tables["milestone_funnel"])
    for k in range(1, 5):
        assert abs(funnel[f"reach_rate_m{k}"] - truth["milestone_reach_rates"][f"M{k}"]) < 0.01, k
    reached = [funnel[f"reached_m{k}"] for k in range(1, 6)]
    assert reached == sorted(reached, reverse=True)


def test_dropout_rate(run: tuple[dict, dict[str, pl.DataFrame]]) -> None:
    truth, tables = run
    assert abs(_overall(tables["engagement_summary"])["dropout_rate"] - truth["dropout"]["dropout_rate"]) < 0.02


@pytest.mark.parametrize(("instrument", "scale"), [("phq9", "total"), ("gad7", "total"), ("ifs_self", "total")])
def test_mean_change_and_effect_size(run: tuple[dict, dict[str, pl.DataFrame]], instrument: str, scale: str) -> None:
    """Finished treatment, all time: the published mean change's 95% interval holds the planted true mean change,
    and the published d's 95% CI holds the planted standardized change attenuated by measurement error."""
    truth, tables = run
    true = truth["true_effects_finished_treatment"][f"{instrument}.{scale}"]
    row = _overall(tables["outcome_summary"], instrument=instrument, scale=scale)
    assert row["paired"] == true["n_paired"] or abs(row["paired"] - true["n_paired"]) / true["n_paired"] < 0.05
    low, high = _mean_ci(row)
    assert low <= true["true_mean_change"] <= high, (low, true["true_mean_change"], high)
    reliability = {"phq9": 0.89, "gad7": 0.92, "ifs_self": 0.93}[instrument]
    attenuated = true["true_standardized_change"] * math.sqrt(reliability)
    assert row["d_ci_low"] <= attenuated <= row["d_ci_high"], (row["d_ci_low"], attenuated, row["d_ci_high"])


def test_telehealth_difference(run: tuple[dict, dict[str, pl.DataFrame]]) -> None:
    """The published telehealth and in-person mean changes (finished treatment) differ by the planted amount,
    within the Welch 95% interval from their published SDs of change."""
    truth, tables = run
    true = truth["true_effects_finished_treatment"]["phq9.total"]
    planted = true["true_mean_change_telehealth"] - true["true_mean_change_in_person"]
    assert planted > 0  # telehealth episodes improve less, by design
    rows = tables["outcome_summary"].filter(
        (pl.col("population") == "finished_treatment") & (pl.col("period") == "all")
        & (pl.col("dimension") == "modality") & (pl.col("instrument") == "phq9")
    )  # fmt: skip
    tele = rows.filter(pl.col("level") == "telehealth").row(0, named=True)
    inperson = rows.filter(pl.col("level") == "in_person").row(0, named=True)
    diff = tele["mean_change"] - inperson["mean_change"]
    se = math.sqrt(tele["sd_change"] ** 2 / tele["paired"] + inperson["sd_change"] ** 2 / inperson["paired"])
    assert diff - 1.96 * se <= planted <= diff + 1.96 * se, (diff, se, planted)
