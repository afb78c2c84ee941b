"""The synthetic practice generator: deterministic, valid by construction, and faithful to its latent model."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline import synth
from pipeline.ingest import read_batch
from pipeline.validate import Loaded, validate_batch
from schemas.registry import default_registry
from tests.conftest import SAMPLE

AS_OF = dt.date(2026, 10, 31)


def test_same_seed_same_batch() -> None:
    a, truth_a = synth.generate(30, seed=5, as_of=AS_OF)
    b, truth_b = synth.generate(30, seed=5, as_of=AS_OF)
    for name in a:
        assert a[name].equals(b[name]), name
    assert truth_a == truth_b
    c, _ = synth.generate(30, seed=6, as_of=AS_OF)
    assert not a["measures"].equals(c["measures"])


@pytest.mark.parametrize(("seed", "fmt"), [(1, "csv"), (2, "csv"), (3, "parquet"), (4, "csv")])
def test_generated_batches_pass_validation_with_zero_quarantine(tmp_path: Path, seed: int, fmt: str) -> None:
    synth.write_batch(tmp_path / "b", n_clients=60, seed=seed, as_of=AS_OF, fmt=fmt)
    result = validate_batch(read_batch(tmp_path / "b", AS_OF), Loaded(), default_registry())
    for name, table in result.tables.items():
        assert table.quarantined_count == 0, (name, table.violations.head(10))
        assert table.duplicates == 0


def test_a_chunk_without_treatment_sessions(tmp_path: Path) -> None:
    """A chunk can hold only consultation-only episodes (a last chunk of one client): no sessions to rate."""
    synth.write_batch(tmp_path / "b", n_clients=1, seed=2, as_of=AS_OF)
    result = validate_batch(read_batch(tmp_path / "b", AS_OF), Loaded(), default_registry())
    assert {name: table.received for name, table in result.tables.items()} == {
        "clients": 1,
        "sessions": 1,
        "measures": 0,
        "goals": 0,
    }
    truth = json.loads((tmp_path / "b" / synth.GROUND_TRUTH_FILE).read_text())
    assert truth["consultation_only_episodes"] == 1 and truth["true_effects"] == {}


def test_committed_sample_is_reproducible(tmp_path: Path) -> None:
    """data/sample is exactly what `ifs-outcomes demo --clients 120 --seed 2026` writes."""
    synth.write_batch(tmp_path / "s", n_clients=120, seed=2026, as_of=AS_OF)
    for name in ("clients.csv", "sessions.csv", "measures.csv", "goals.csv", "batch.toml", "ground_truth.json"):
        assert (tmp_path / "s" / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_shape_of_the_practice() -> None:
    tables, truth = synth.generate(400, seed=11, as_of=AS_OF)
    clients, sessions, measures = tables["clients"], tables["sessions"], tables["measures"]
    hp = clients["helping_professional"].mean()
    assert 0.33 < hp < 0.47  # type: ignore[operator]
    assert set(clients["service"]) == {"therapy", "coaching", "combined"}
    assert clients["practice_id"].n_unique() >= 3 and sessions["clinician_id"].n_unique() >= 9
    treatment = sessions.filter(pl.col("kind") != "consultation")
    attended = treatment.filter(pl.col("status") == "attended")
    assert 0.8 < attended.height / treatment.height < 0.93
    assert attended["duration_min"].median() == 50
    gaps = (
        attended.sort("client_id", "session_date")
        .select(pl.col("session_date").diff().over("client_id").dt.total_days())
        .drop_nulls()
    )
    assert gaps.median().item() in (7, 8)  # weekly work
    assert set(measures["instrument"]) == {"phq9", "gad7", "ifs_self", "proqol5", "self_energy_8c"}
    proqol_clients = set(measures.filter(pl.col("instrument") == "proqol5")["client_id"])
    hp_clients = set(clients.filter("helping_professional")["client_id"])
    assert proqol_clients <= hp_clients
    coaching = set(clients.filter(pl.col("service") != "therapy")["client_id"])
    assert set(tables["goals"]["client_id"]) <= coaching
    assert clients["intake_date"].null_count() > 0  # consultation-only episodes
    rates = truth["milestone_reach_rates"]
    assert 1 >= rates["M1"] >= rates["M2"] >= rates["M3"] >= rates["M4"] > 0
    phq = truth["true_effects"]["phq9.total"]
    assert phq["true_mean_change"] < 0 < truth["true_effects"]["ifs_self.total"]["true_mean_change"]
    assert phq["true_mean_change_telehealth"] > phq["true_mean_change_in_person"]  # telehealth improves less
    assert 0 < truth["sequence_deviation_episodes"] < 0.15 * truth["episodes_with_intake"]
    json.dumps(truth)  # serialisable


def _cronbach_alpha(items: np.ndarray) -> float:
    k = items.shape[1]
    return k / (k - 1) * (1 - items.var(axis=0, ddof=1).sum() / items.sum(axis=1).var(ddof=1))


@pytest.mark.parametrize(("instrument", "alpha"), [("phq9", 0.89), ("gad7", 0.92), ("ifs_self", 0.93)])
def test_item_noise_matches_published_reliability(instrument: str, alpha: float) -> None:
    """At baseline, the generated items' Cronbach's alpha is close to the instrument's published reliability."""
    tables, _ = synth.generate(800, seed=21, as_of=AS_OF)
    items = (
        tables["measures"]
        .filter((pl.col("instrument") == instrument) & pl.col("item").str.contains(r"_\d+$"))
        .sort("administered_on")
        .group_by("client_id", "item", maintain_order=True)
        .first()
        .pivot(on="item", index="client_id", values="value")
        .drop_nulls()
    )
    matrix = items.drop("client_id").to_numpy()
    assert abs(_cronbach_alpha(matrix) - alpha) < 0.05


def test_notebook_api_exports() -> None:
    import pipeline

    assert callable(pipeline.analyze_change) and callable(pipeline.build_scores)
    assert set(pipeline.__all__) >= {"analyze_change", "effect_sizes", "nhs_talking_therapies", "long_to_wide"}


def _phq9_administrations(measures: pl.DataFrame) -> pl.DataFrame:
    """One row per PHQ-9 administration: item 9, the sum of items 1-8, and whether it is the first or latest."""
    phq = measures.filter((pl.col("instrument") == "phq9") & (pl.col("item") != "total"))
    return (
        phq.group_by("client_id", "administered_on")
        .agg(
            item9=pl.col("value").filter(pl.col("item") == "phq9_9").first(),
            others=pl.col("value").filter(pl.col("item") != "phq9_9").sum(),
        )
        .with_columns(
            n=pl.len().over("client_id"),
            first=pl.col("administered_on") == pl.col("administered_on").min().over("client_id"),
            latest=pl.col("administered_on") == pl.col("administered_on").max().over("client_id"),
        )
    )


def test_phq9_item9_prevalence_is_plausible_and_falls_with_improvement() -> None:
    """Outpatient samples: 10-25% answer item 9 above 0 at intake, fewer later, mostly at high severity."""
    tables, truth = synth.generate(1500, seed=31, as_of=AS_OF)
    admins = _phq9_administrations(tables["measures"]).filter(pl.col("item9").is_not_null())
    intake = (admins.filter("first")["item9"] > 0).mean()
    latest = (admins.filter(pl.col("latest") & (pl.col("n") >= 2))["item9"] > 0).mean()
    assert 0.10 <= intake <= 0.25, intake  # type: ignore[operator]
    assert latest < intake  # type: ignore[operator]
    planted = truth["phq9_item9"]
    assert abs(intake - planted["planted_prevalence_intake"]) < 0.03  # type: ignore[operator]
    assert planted["planted_prevalence_latest"] < planted["planted_prevalence_intake"]
    first = admins.filter("first")
    severe = (first.filter(pl.col("others") >= 14)["item9"] > 0).mean()
    mild = (first.filter(pl.col("others") < 8)["item9"] > 0).mean()
    assert severe > 5 * mild, (severe, mild)  # type: ignore[operator]


def test_clinician_effects_are_planted_recorded_and_visible() -> None:
    """Each clinician's planted effect is in the ground truth; caseloads vary; sessions stay mostly with the
    assigned clinician; clients of the planted-better clinicians improve more than those of the planted-worse."""
    tables, truth = synth.generate(3000, seed=41, as_of=AS_OF)
    clients, sessions = tables["clients"], tables["sessions"]
    recorded = truth["clinician_effects"]["clinicians"]
    caseload = dict(clients["clinician_id"].value_counts().iter_rows())
    assert set(caseload) <= set(recorded)
    assert sum(e["episodes"] for e in recorded.values()) == clients.height
    assert all(e["episodes"] == caseload.get(c, 0) for c, e in recorded.items())
    assert min(caseload.values()) < 0.3 * sorted(caseload.values())[len(caseload) // 2]  # some small caseloads
    planted = {c: e["planted"] for c, e in recorded.items()}
    assert {"better", "worse", "typical"} == set(planted.values())
    for entry in recorded.values():
        assert entry["multiplier"] == pytest.approx(math.exp(entry["log_multiplier"]))
        effect = entry["phq9.total"]["true_effect"]
        if entry["planted"] != "typical":
            assert (effect < 0) == (entry["planted"] == "better"), entry  # lower PHQ-9 is better

    assigned = sessions.join(clients.select("client_id", assigned="clinician_id"), on="client_id")
    same = (assigned["clinician_id"] == assigned["assigned"]).mean()
    assert 0.9 < same < 1  # type: ignore[operator]
    assert (
        assigned["clinician_id"].str.slice(0, 4) == assigned["assigned"].str.slice(0, 4)
    ).all()  # cover: same practice

    admins = _phq9_administrations(tables["measures"]).filter(pl.col("item9").is_not_null() & (pl.col("n") >= 2))
    change = (
        admins.sort("administered_on")
        .group_by("client_id")
        .agg(change=(pl.col("others") + pl.col("item9")).last() - (pl.col("others") + pl.col("item9")).first())
        .join(clients.select("client_id", "clinician_id"), on="client_id")
        .with_columns(planted=pl.col("clinician_id").replace_strict(planted))
    )
    mean = dict(change.group_by("planted").agg(pl.col("change").mean()).iter_rows())
    assert mean["better"] < mean["typical"] < mean["worse"], mean


def test_a_batch_written_in_chunks_is_the_batch_generated_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_batch streams chunk by chunk (one roster, one id space); the files equal the whole batch's."""
    monkeypatch.setattr(synth, "CHUNK_CLIENTS", 40)
    synth.write_batch(tmp_path / "b", n_clients=130, seed=8, as_of=AS_OF)
    tables, truth = synth.generate(130, seed=8, as_of=AS_OF)
    for name, frame in tables.items():
        synth.as_exported(frame).write_csv(tmp_path / f"{name}.csv", date_format="%Y-%m-%d")
        assert (tmp_path / "b" / f"{name}.csv").read_bytes() == (tmp_path / f"{name}.csv").read_bytes(), name
    assert json.loads((tmp_path / "b" / synth.GROUND_TRUTH_FILE).read_text()) == json.loads(
        json.dumps(truth, sort_keys=True)
    )
    assert tables["clients"]["client_id"].n_unique() == 130
    assert tables["sessions"]["session_id"].is_unique().all()
    assert truth["counts"] == {name: frame.height for name, frame in tables.items()}
    assert sum(e["episodes"] for e in truth["clinician_effects"]["clinicians"].values()) == 130
