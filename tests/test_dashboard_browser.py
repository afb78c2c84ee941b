"""The dashboard in a real browser: Debian's Chromium driven by Playwright against `ifs-outcomes dashboard` running
as a subprocess. Screenshots of every page go to tests/artifacts/browser/ (ignored by git).

Locally these tests skip when Chromium is missing; CI installs it and sets IFS_OUTCOMES_REQUIRE_BROWSER=1, which
turns its absence into a failure.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks import dashboard_harness as harness
from pipeline import synth
from pipeline.config import Paths

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"
K = 11


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if harness.chromium() is None:
        message = "Chromium not found (Debian package `chromium`); the browser tests need it"
        if os.environ.get("IFS_OUTCOMES_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " and IFS_OUTCOMES_REQUIRE_BROWSER=1")
        pytest.skip(message + ": apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    b = harness.launch(playwright)
    yield b
    b.close()


def _overall_episodes(home: Path, file: str = "internal") -> int:
    """The practice's episodes, exactly (the internal file)."""
    with duckdb.connect(str(home / "published" / f"{file}.duckdb"), read_only=True) as con:
        return int(con.sql("SELECT episodes FROM engagement_summary WHERE dimension = 'overall'").fetchall()[0][0])


def _shown_episodes(home: Path) -> str:
    """The overall Episodes tile as the shareable dashboard shows it: the number, or its mark when hidden."""
    with duckdb.connect(str(home / "published" / "aggregate.duckdb"), read_only=True) as con:
        row = con.sql(
            "SELECT episodes, episodes_suppressed, hidden_to_protect FROM engagement_summary "
            "WHERE dimension = 'overall'"
        ).fetchall()[0]
    if not row[1]:
        return f"{row[0]:,}"
    return "‡" if "episodes" in (row[2] or "").split() else f"<{K}"


METRIC_JS = """([label, value]) => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
    m.querySelector('[data-testid="stMetricLabel"]').innerText.trim() === label &&
    m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === value)"""


def _metric_value(page: Any, label: str) -> str:
    return str(
        page.evaluate(
            """(label) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .filter(m => m.querySelector('[data-testid="stMetricLabel"]').innerText.trim() === label)
        .map(m => m.querySelector('[data-testid="stMetricValue"]').innerText.trim())[0]""",
            label,
        )
    )


def _wait_for_metric(page: Any, label: str, value: str) -> None:
    page.wait_for_function(METRIC_JS, arg=[label, value], timeout=30000)


@pytest.mark.parametrize("mode", ["aggregate", "clinical"])
def test_every_page_renders_in_the_browser(browser: Any, published_sample: Paths, mode: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    clinical = mode == "clinical"
    pages = {**harness.PAGES, **(harness.CLINICAL_PAGES if clinical else {})}
    timings: dict[str, float] = {}
    with harness.serve(published_sample.home, clinical=clinical) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 2200})
        for stem in pages:
            timings[stem] = harness.open_page(page, url, stem, pages)
            assert harness.errors_on(page) == [], stem
            # key elements: the sidebar filters, and a chart or a table on every page
            page.get_by_text("Filters", exact=True).wait_for()
            content = page.locator('[data-testid="stVegaLiteChart"], [data-testid="stDataFrame"]')
            content.first.wait_for(timeout=30000)
            page.screenshot(path=str(ARTIFACTS / f"{mode}-{stem}.png"), full_page=True)
        if not clinical:
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Alerts" not in nav and "Client" not in nav.replace("Clients", "")
        page.close()
    (ARTIFACTS / f"{mode}-first-render.json").write_text(json.dumps(timings, indent=2))


def test_a_sidebar_filter_changes_the_numbers(browser: Any, published_sample: Paths) -> None:
    with duckdb.connect(str(published_sample.published / "aggregate.duckdb"), read_only=True) as con:
        level, episodes, protects = con.sql(
            "SELECT level, episodes, coalesce(hidden_to_protect, '') FROM engagement_summary "
            "WHERE dimension = 'practice' ORDER BY level LIMIT 1"
        ).fetchall()[0]
    shown = f"{episodes:,}" if episodes is not None else ("‡" if "episodes" in protects.split() else f"<{K}")
    overall = _shown_episodes(published_sample.home)
    with harness.serve(published_sample.home) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        harness.open_page(page, url, "overview")
        assert _metric_value(page, "Episodes") == overall
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Practice").first.click()
        page.get_by_role("option", name=level, exact=True).click()
        _wait_for_metric(page, "Episodes", shown)
        assert harness.errors_on(page) == []
        page.screenshot(path=str(ARTIFACTS / "aggregate-overview-filtered.png"), full_page=True)
        page.close()


def test_refresh_while_viewing(browser: Any, published_sample: Paths, tmp_path: Path) -> None:
    """A page stays open while `refresh` publishes two new versions: it never errors, and a rerun shows the new
    numbers each time."""
    home = tmp_path / "home"
    shutil.copytree(published_sample.home, home)
    batches = []
    for seed in (41, 42):
        batch = tmp_path / f"weekly-{seed}"
        synth.write_batch(batch, n_clients=40, seed=seed, as_of=dt.date(2026, 10, 31))
        batches.append(batch)
    errors: list[str] = []
    with harness.serve(home) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        harness.open_page(page, url, "overview")
        before = _overall_episodes(home)
        assert _metric_value(page, "Episodes") == _shown_episodes(home)
        for batch in batches:
            refresh = subprocess.Popen(
                [sys.executable, "-m", "pipeline", "refresh", str(batch), "--home", str(home)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            while refresh.poll() is None:  # keep rerunning the page while the pipeline writes and swaps the files
                page.keyboard.press("r")
                time.sleep(0.5)
                errors += harness.errors_on(page)
            assert refresh.returncode in (0, 1), refresh.stderr.read() if refresh.stderr else ""
            after = _overall_episodes(home)
            assert after > before
            page.keyboard.press("r")
            _wait_for_metric(page, "Episodes", _shown_episodes(home))
            errors += harness.errors_on(page)
            before = after
        page.screenshot(path=str(ARTIFACTS / "aggregate-overview-after-two-refreshes.png"), full_page=True)
        page.close()
    assert errors == []


def test_the_report_loads_nothing_in_a_browser(browser: Any, published_sample: Paths) -> None:
    """Open report.html from disk in Chromium: the only request is the file itself; screenshot it for review."""
    from pipeline.report import write_report

    folder = write_report(published_sample, "all")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((folder / "report.html").as_uri(), wait_until="load")
    assert requests == [(folder / "report.html").as_uri()]
    assert page.locator("svg").count() >= 6
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    page.close()


def test_the_marks_and_the_internal_view_in_the_browser(browser: Any, published_sample: Paths) -> None:
    """The legend tells the marks apart (small, small behind a rate, hidden to protect); clinical mode's internal
    view shows its warning once chosen and not before."""
    pages = {**harness.PAGES, **harness.CLINICAL_PAGES}
    with harness.serve(published_sample.home, clinical=True) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        harness.open_page(page, url, "outcomes", pages)
        page.get_by_text("cannot be worked out", exact=False).first.wait_for(timeout=30000)
        legend = page.get_by_text("cannot be worked out", exact=False).first.inner_text()
        assert f"<{K}" in legend and f"n<{K}" in legend and "‡" in legend
        assert "not for sharing" not in page.inner_text("body")
        page.get_by_text("Internal (exact)", exact=True).click()
        page.get_by_text("not for sharing", exact=False).first.wait_for(timeout=30000)
        assert harness.errors_on(page) == []
        page.screenshot(path=str(ARTIFACTS / "clinical-outcomes-internal.png"), full_page=True)
        page.close()
