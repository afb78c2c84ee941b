"""Scoring, pairing and reliability as SQL (`pipeline/sql/scoring/`, run by `pipeline.outcomes`) against their
reference definitions in polars (`pipeline.score`, `pipeline.change`): same rows, same columns and dtypes, values
to 1e-9. The reference functions stay the researcher API and the statement of what each number means."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks import tiers
from pipeline import io, outcomes, synth
from pipeline.change import (
    PAIR_KEY,
    baseline_items,
    build_client_change,
    pair_baseline_latest,
    reliability_from_baselines,
)
from pipeline.config import Paths
from pipeline.score import ADMIN_KEY, build_scores
from pipeline.settings import DEFAULTS
from pipeline.stages import refresh_batches
from schemas.registry import default_registry


def _close(found: pl.DataFrame, expected: pl.DataFrame, key: list[str]) -> None:
    assert_frame_equal(found.sort(key), expected.sort(key), check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("seed", [11, 29])
def test_sql_scoring_equals_the_polars_reference(seed: int, tmp_path: Path) -> None:
    tier = tiers.Tier("T", 250, seed=seed)
    synth.write_batch(tmp_path / "full", n_clients=tier.clients, seed=tier.seed, as_of=tiers.AS_OF)
    # some skipped and some missing answers, so proration and incompleteness are exercised
    measures = pl.read_csv(tmp_path / "full" / "measures.csv", infer_schema=False)
    row = pl.int_range(pl.len())
    measures.filter(row % 97 != 5).with_columns(
        pl.when(row % 41 == 3).then(None).otherwise(pl.col("value")).alias("value")
    ).write_csv(tmp_path / "full" / "measures.csv")
    paths = Paths(tmp_path / "home")
    refresh_batches(paths, [tmp_path / "full"], tiers.AS_OF)
    registry = default_registry()
    with io.warehouse(paths.warehouse, read_only=True) as con:
        answers = io.query_pl(
            con, "SELECT client_id, session_id, instrument, administered_on, item, value FROM measures"
        )
        sessions = io.query_pl(con, "SELECT client_id, session_id, session_date, kind, status FROM sessions")
        stored = {name: io.query_pl(con, f"SELECT * FROM {name}") for name in outcomes.DERIVED_TABLES}
    scores = build_scores(answers, registry)
    assert scores["source"].value_counts().height >= 3  # items, supplied and prorated all occur
    _close(stored["scores"], scores, [*ADMIN_KEY, "scale"])
    pairs = pair_baseline_latest(scores, sessions, DEFAULTS.outcomes.baseline_window_days).sort(PAIR_KEY)
    reliability = reliability_from_baselines(baseline_items(answers, pairs, registry), registry)
    _close(stored["scale_reliability"], reliability, ["instrument", "scale"])
    change = build_client_change(pairs, reliability, registry)
    assert change["paired"].sum() > 50
    _close(stored["client_change"], change, PAIR_KEY)
