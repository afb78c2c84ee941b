"""The sample batch's end-to-end output equals the golden file (regenerate with `make golden`, on purpose)."""

from __future__ import annotations

import json

from tests.golden import GOLDEN, golden_output


def test_sample_refresh_matches_golden() -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert golden_output() == expected, "outputs changed: if on purpose, run `make golden` and read the diff"
