"""The built wheel, installed alone into a fresh venv, runs the quick start, the report and every dashboard page.

This is the check of the artefact a practice installs, not of the code: it builds the wheel with uv, installs it
with only its declared dependencies (pinned to uv.lock, so nothing is resolved afresh) into a new venv, and runs the
installed `ifs-outcomes` from a folder outside the checkout, so nothing of the source tree can be imported or read.
It takes about a minute, so it is its own CI step (`make wheel-check`, run by .ci/run) rather than part of
`make test`, where it is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks import dashboard_harness as harness

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
PRACTICE_INSTRUMENT = ROOT / "tests" / "fixtures" / "instruments" / "wellbeing3.toml"
SWITCH = "IFS_OUTCOMES_WHEEL_CHECK"

pytestmark = pytest.mark.skipif(
    os.environ.get(SWITCH) != "1", reason="the wheel check is its own CI step: run `make wheel-check`"
)


def _uv() -> str:
    """The uv the Makefile uses (``IFS_OUTCOMES_UV``, relative to the checkout), else one on PATH or in .tools/."""
    given = os.environ.get("IFS_OUTCOMES_UV")
    candidates = [*([ROOT / given] if given and "/" in given else []), shutil.which(given or "uv"),
                  ROOT / ".tools" / "bin" / "uv"]  # fmt: skip
    found = next((str(c) for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        pytest.fail("uv is needed to build and install the wheel: run `make install` first")
    return found


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    work: Path  # a folder outside the checkout, where the installed commands run
    env: dict[str, str]
    seconds: dict[str, float]

    @property
    def cli(self) -> str:
        return str(self.venv / "bin" / "ifs-outcomes")

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.cli, *map(str, args)], cwd=self.work, env=self.env, capture_output=True, text=True, timeout=600,
            check=False,
        )  # fmt: skip
        if check:
            assert done.returncode == 0, f"ifs-outcomes {' '.join(map(str, args))}: {done.stdout}\n{done.stderr}"
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    uv, tmp = _uv(), tmp_path_factory.mktemp("wheel")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    _run([uv, "build", "--wheel", "--out-dir", str(tmp / "dist")], cwd=ROOT)
    [wheel] = (tmp / "dist").glob("*.whl")
    seconds["build"] = time.perf_counter() - started
    started = time.perf_counter()
    constraints = tmp / "constraints.txt"
    _run([uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--quiet", "-o", str(constraints)],
         cwd=ROOT)  # fmt: skip
    venv = tmp / "venv"
    work = tmp / "work"
    work.mkdir()
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=work)
    # --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (CI) every command would otherwise compile from source
    _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(venv / "bin" / "python"),
          str(wheel), "-c", str(constraints)], cwd=work)  # fmt: skip
    seconds["install"] = time.perf_counter() - started
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.pop("IFS_OUTCOMES_HOME", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    yield Installed(wheel, venv, work, env, seconds)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
    facts = {"wheel": wheel.name, "bytes": wheel.stat().st_size, "files": len(files),
             "seconds": {k: round(v, 1) for k, v in seconds.items()}}  # fmt: skip
    (ARTIFACTS / "wheel.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


def _tracked(folder: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True)
    return listed.stdout.split()


def test_the_wheel_carries_only_what_runs(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        files = set(archive.namelist())
    dist_info = next(f.split("/")[0] for f in files if f.split("/")[0].endswith(".dist-info"))
    assert {f.split("/")[0] for f in files} == {"pipeline", "schemas", "dashboards", dist_info}
    # every file of the three packages in the source tree is shipped (SQL, instrument files, pages, the icon) …
    expected = {f for package in ("pipeline", "schemas", "dashboards") for f in _tracked(package)}
    expected -= {"pipeline/make_help.py"}  # the Makefile's help, run from the checkout only
    assert expected - files == set()
    # … and the docs rendered at run time, the licence and the instruments' licence notes
    assert {"pipeline/_docs/indicators.md", f"{dist_info}/licenses/LICENSE", f"{dist_info}/licenses/NOTICE.md"} <= files
    assert not [f for f in files if f.startswith(("benchmarks/", "tests/")) or f.endswith((".pyc", ".duckdb"))]
    assert installed.wheel.stat().st_size < 1_000_000


def test_the_venv_has_the_wheel_and_its_dependencies_only(installed: Installed) -> None:
    python = str(installed.venv / "bin" / "python")
    probe = (
        "import importlib.util, json, pipeline; "
        "print(json.dumps([pipeline.__file__, [m for m in ('pytest', 'playwright', 'hypothesis', 'benchmarks', "
        "'tests') if importlib.util.find_spec(m)]]))"
    )
    where, dev_only = json.loads(_run([python, "-c", probe], cwd=installed.work, env=installed.env))
    assert Path(where).is_relative_to(installed.venv) and dev_only == []


def test_quickstart_report_and_the_practice_instruments_run_from_the_wheel(installed: Installed) -> None:
    home = installed.work / "home"
    (home / "instruments").mkdir(parents=True)
    shutil.copy(PRACTICE_INSTRUMENT, home / "instruments")
    (home / "settings.toml").write_text('[registry]\nextra_folders = ["instruments"]\n', encoding="utf-8")
    started = time.perf_counter()
    quickstart = installed.run("quickstart", "--home", home)
    installed.seconds["quickstart"] = time.perf_counter() - started
    assert "loaded" in quickstart.stdout and (home / "published" / "aggregate.duckdb").exists()

    report = installed.run("report", "--home", home)
    assert "report:" in report.stdout
    [html] = (home / "reports").glob("*/report.html")
    methods = html.read_text(encoding="utf-8")
    assert "Methods appendix" in methods and "Missing data, stated once" in methods  # docs/indicators.md
    installed.run("report", "--home", home, "--period", "all")

    listed = json.loads(installed.run("instruments", "--home", home, "--json").stdout)
    practice = {row["id"]: row for row in listed["instruments"]}["wellbeing3"]
    assert not practice["built_in"] and Path(practice["file"]) == home / "instruments" / "wellbeing3.toml"

    bench = installed.run("bench", check=False)
    assert bench.returncode == 2 and "run them from a checkout" in bench.stderr


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if harness.chromium() is None:
        message = "Chromium not found (Debian package `chromium`)"
        if os.environ.get("IFS_OUTCOMES_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " and IFS_OUTCOMES_REQUIRE_BROWSER=1")
        pytest.skip(message + ": apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = harness.launch(p)
        yield b
        b.close()


def test_every_dashboard_page_from_the_wheel(installed: Installed, browser: Any) -> None:
    home = installed.work / "home"
    if not (home / "published" / "aggregate.duckdb").exists():
        installed.run("quickstart", "--home", home)
    requests: list[str] = []
    with harness.serve(home, clinical=True, program=[installed.cli], cwd=installed.work, env=installed.env) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.on("request", lambda request: requests.append(request.url))
        pages = {**harness.PAGES, **harness.CLINICAL_PAGES}
        for stem in pages:
            harness.open_page(page, url, stem, pages)
            assert harness.errors_on(page) == [], stem
        harness.open_page(page, url, "methods", pages)
        page.get_by_role("heading", name="Indicator definitions").wait_for()
        page.get_by_text("8. Missing data, stated once").wait_for()  # a section of docs/indicators.md, shipped
        page.close()
    away = sorted({r for r in requests if not r.startswith(url)})
    assert away == [], f"the dashboard fetched from outside this machine: {away[:5]}"
