"""Shared fixtures. Pandera's validation depth is pinned so value checks always run (STACK-NOTES §1)."""

from __future__ import annotations

import os

os.environ["PANDERA_VALIDATION_DEPTH"] = "SCHEMA_AND_DATA"

from pathlib import Path

import pytest

from pipeline.config import Paths

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
REFDATA = ROOT.parent / "shared" / "refdata"


@pytest.fixture
def sample_batch() -> Path:
    return SAMPLE


@pytest.fixture
def home(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "home")


@pytest.fixture(scope="session")
def published_sample(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """A home with data/sample loaded and published (shared read-only by the dashboard and report tests)."""
    import datetime as dt

    from pipeline.stages import refresh_batches

    paths = Paths(tmp_path_factory.mktemp("published_sample"))
    refresh_batches(paths, [SAMPLE], dt.date(2026, 10, 31))
    return paths


@pytest.fixture
def refdata() -> Path:
    """The reference datasets beside the project: skip locally when absent, fail in CI."""
    folder = REFDATA / "clinicalsignificance"
    if not folder.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"reference data missing at {folder}; CI must run with ../shared/ beside the repo")
        pytest.skip(f"reference data not found at {folder} (expected ../shared/refdata beside the repo)")
    return folder
