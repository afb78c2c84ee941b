"""Run one benchmark tier: floor, full refresh, incremental refresh (and the dashboard), each in its own process.

Every measured step is a child process, so its wall time and memory are its own. The children write one line
per stage and their own peak RSS at exit (`pipeline.stage_timing`); ``wait4``'s figure is only a fallback, as
Linux carries this parent's peak into a child across fork and exec. The floor runs before and after
the full refresh and the faster of the two is the denominator of the ratio, so a busy moment on the machine
makes the ratio worse, never better. Results go to ``benchmarks/results/<date>-<tier>.json`` and ``.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.tiers import Tier, ensure_tier
from pipeline.stage_timing import PROCESS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_CACHE = ROOT / "benchmarks" / ".cache"
#: Targets of issue 16 at tier L (recorded with every tier; judged at L): the full refresh against the ingest floor
#: measured in the same run, peak RSS of every step, the weekly incremental refresh; the dashboard's from issue 7.
TARGET_RATIO = 3.0
TARGET_PEAK_MB = 1536
TARGET_INCREMENTAL_S = 5.0
TARGET_FIRST_RENDER_S = 2.0
RESULT_SCHEMA = "1.1"
#: The stages of the batch half of a refresh and scoring (the part issue 16 asks to report apart).
INGEST_TO_SCORE = ("ingest", "read", "validate", "load", "score")


class BenchmarkFailed(RuntimeError):
    """A measured step exited with an error; the message names the step and its log."""


@dataclass
class Measured:
    """One child process: wall seconds, peak RSS, exit code, the stages it reported, and its CPU seconds (user +
    system: on a machine shared with other work, CPU time moves less than wall time)."""

    step: str
    seconds: float
    peak_rss_mb: float
    exit_code: int
    stages: list[dict[str, Any]] = field(default_factory=list)
    cpu_seconds: float = 0.0


def run_measured(
    step: str, command: list[str], log: Path, ok_codes: tuple[int, ...] = (0,), stage_log: Path | None = None
) -> Measured:
    """Run ``command`` to completion; its own wall time and peak RSS (``wait4``), stdout+stderr into ``log``."""
    env = {**os.environ, "POLARS_PROGRESS": "0"}
    if stage_log is not None:
        stage_log.unlink(missing_ok=True)
        env["IFS_OUTCOMES_STAGE_LOG"] = str(stage_log)
    with log.open("w") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok_codes:
        raise BenchmarkFailed(f"{step} exited with {proc.returncode}; see {log}")
    stages = []
    if stage_log is not None and stage_log.exists():
        stages = [json.loads(line) for line in stage_log.read_text().splitlines() if line.strip()]
    # The child's own peak, which it reports at exit; ru_maxrss would include this (big) parent's.
    own = [s["peak_rss_mb"] for s in stages if s["stage"] == PROCESS]
    peak = own[-1] if own else round(usage.ru_maxrss / 1024)
    cpu = round(usage.ru_utime + usage.ru_stime, 2)
    return Measured(step, round(seconds, 2), peak, proc.returncode, [s for s in stages if s["stage"] != PROCESS], cpu)


def _refresh(batch: Path, home: Path, work: Path, step: str) -> Measured:
    command = [sys.executable, "-m", "pipeline", "refresh", str(batch), "--home", str(home), "--report"]
    # Exit 1 = loaded with quarantined rows: the generated data plants some, on purpose.
    return run_measured(step, command, work / f"{step}.log", ok_codes=(0, 1), stage_log=work / f"{step}.stages")


def _floor(batch: Path, work: Path, step: str) -> Measured:
    command = [sys.executable, "-m", "benchmarks.floor", str(batch), str(work / "floor.duckdb")]
    return run_measured(step, command, work / f"{step}.log", stage_log=work / f"{step}.stages")


def _ingest_floor(batch: Path, work: Path, step: str) -> Measured:
    command = [sys.executable, "-m", "benchmarks.ingest_floor", str(batch), str(work / "ingest_floor.duckdb")]
    return run_measured(step, command, work / f"{step}.log", stage_log=work / f"{step}.stages")


def _fastest(runs: list[Measured]) -> dict[str, Any]:
    """The fastest run (a busy moment makes a ratio worse, never better), with every run's wall and CPU time."""
    best = min(runs, key=lambda m: m.seconds)
    return asdict(best) | {"runs_s": [m.seconds for m in runs], "runs_cpu_s": [m.cpu_seconds for m in runs]}


def _part(measured: Measured, stages: tuple[str, ...]) -> dict[str, float]:
    """Wall seconds and the highest stage peak of some stages of a refresh."""
    picked = [s for s in measured.stages if s["stage"] in stages]
    return {
        "seconds": round(sum(s["seconds"] for s in picked), 2),
        "peak_rss_mb": max((s["peak_rss_mb"] for s in picked), default=0),
    }


def _dashboard_first_render(home: Path) -> dict[str, Any]:
    """Seconds to each page's first render (aggregate mode, then the clinical pages), on a warmed server."""
    from playwright.sync_api import sync_playwright

    from benchmarks import dashboard_harness as harness

    if harness.chromium() is None:
        return {"skipped": "no Chromium on this machine (apt install chromium)"}
    result: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = harness.launch(playwright)
        try:
            for clinical, pages in ((False, harness.PAGES), (True, harness.CLINICAL_PAGES)):
                with harness.serve(home, clinical=clinical) as url:
                    # The server's first page pays for importing Streamlit, Altair and polars: measured apart.
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    cold = harness.open_page(context.new_page(), url, "methods")
                    context.close()
                    result["cold_server_first_page_s" + ("_clinical" if clinical else "")] = round(cold, 2)
                    # Each page's first render in a browser already showing the dashboard (a reader moving
                    # between pages: the server has not run that page's queries yet), then in a fresh browser
                    # profile (Streamlit's JavaScript loaded from scratch as well).
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    for stem in pages:
                        result.setdefault("pages", {})[stem] = round(harness.open_page(page, url, stem), 2)
                    context.close()
                    for stem in pages:
                        context = browser.new_context(viewport={"width": 1400, "height": 1000})
                        seconds = harness.open_page(context.new_page(), url, stem)
                        result.setdefault("pages_fresh_browser", {})[stem] = round(seconds, 2)
                        context.close()
        finally:
            browser.close()
    pages = result.get("pages", {})
    result["slowest_page"] = max(pages, key=pages.get) if pages else None
    result["slowest_s"] = max(pages.values()) if pages else None
    return result


def _machine() -> dict[str, Any]:
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    versions = {name: metadata.version(name) for name in ("polars", "duckdb", "pandera", "streamlit")}
    from pipeline.stages import code_version

    return {
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "code_version": code_version(),
    }


def run_tier(
    tier: Tier,
    cache: Path = DEFAULT_CACHE,
    fmt: str = "csv",
    dashboard: bool = False,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every measurement of one tier; returns the result record (also what is written to disk)."""
    started = time.perf_counter()
    folder = ensure_tier(tier, cache, fmt, progress)
    info = json.loads((folder / "tier.json").read_text())
    work = Path(tempfile.mkdtemp(prefix=f"bench-{tier.name}-", dir=cache))
    try:
        home = work / "home"
        floors: list[Measured] = []
        ingest_floors: list[Measured] = []
        progress(f"tier {tier.name}: floor (plain DuckDB) and ingest floor (typed tables, no rules)")
        floors.append(_floor(folder / "base", work, "floor_1"))
        ingest_floors.append(_ingest_floor(folder / "base", work, "ingest_floor_1"))
        progress(f"tier {tier.name}: full refresh of the base batch")
        full = _refresh(folder / "base", home, work, "full_refresh")
        progress(f"tier {tier.name}: floors again")
        floors.append(_floor(folder / "base", work, "floor_2"))
        ingest_floors.append(_ingest_floor(folder / "base", work, "ingest_floor_2"))
        progress(f"tier {tier.name}: incremental refresh of the weekly batch")
        incremental = _refresh(folder / "weekly", home, work, "incremental_refresh")
        floors.append(_floor(folder / "base", work, "floor_3"))
        warehouse_mb = round((home / "warehouse" / "warehouse.duckdb").stat().st_size / 1024**2, 1)
        published_mb = round(sum(p.stat().st_size for p in (home / "published").glob("*.duckdb")) / 1024**2, 1)
        first_render = None
        if dashboard:
            progress(f"tier {tier.name}: dashboard first render, every page")
            first_render = _dashboard_first_render(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor, ingest_floor = _fastest(floors), _fastest(ingest_floors)
    ratio = round(full.seconds / floor["seconds"], 2)
    ratio_ingest = round(full.seconds / ingest_floor["seconds"], 2)
    peak = max(full.peak_rss_mb, incremental.peak_rss_mb)
    record: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "tier": tier.name,
        "clients": tier.clients,
        "format": fmt,
        "date": dt.date.today().isoformat(),
        "machine": _machine(),
        "rows": info["rows"],
        "generation_seconds": info["generation_seconds"],
        "floor": floor,
        "ingest_floor": ingest_floor,
        "full_refresh": asdict(full),
        "incremental_refresh": asdict(incremental),
        "incremental_ingest_to_score": _part(incremental, INGEST_TO_SCORE),
        "full_ingest_to_score": _part(full, INGEST_TO_SCORE),
        "warehouse_mb": warehouse_mb,
        "published_mb": published_mb,
        "dashboard_first_render": first_render,
        "ratio_full_to_floor": ratio,
        "ratio_full_to_ingest_floor": ratio_ingest,
        "cpu_ratio_full_to_floor": round(full.cpu_seconds / min(floor["runs_cpu_s"]), 2),
        "cpu_ratio_full_to_ingest_floor": round(full.cpu_seconds / min(ingest_floor["runs_cpu_s"]), 2),
        "targets": {
            "ratio_full_to_ingest_floor_max": TARGET_RATIO,
            "peak_rss_mb_max": TARGET_PEAK_MB,
            "incremental_s_max": TARGET_INCREMENTAL_S,
            "first_render_s_max": TARGET_FIRST_RENDER_S,
            "judged_at_tier": "L",
            "met": {
                "ratio": ratio_ingest <= TARGET_RATIO,
                "peak_rss": peak <= TARGET_PEAK_MB,
                "incremental": incremental.seconds <= TARGET_INCREMENTAL_S,
                "first_render": None
                if not first_render or first_render.get("slowest_s") is None
                else first_render["slowest_s"] <= TARGET_FIRST_RENDER_S,
            },
        },
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    return record


def _runs(measured: dict[str, Any]) -> str:
    return ", ".join(f"{s:.2f}" for s in measured["runs_s"]) + " s"


def _stage_rows(measured: dict[str, Any]) -> list[str]:
    outside = measured["seconds"] - sum(s["seconds"] for s in measured["stages"])
    return [
        *(f"| &nbsp;&nbsp;{s['stage']} | {s['seconds']:.2f} | | {s['peak_rss_mb']:,} |" for s in measured["stages"]),
        f"| &nbsp;&nbsp;*outside the stages: start-up and imports, batch hashing, ledger, exit* | {outside:.2f} | | |",
    ]


def render_markdown(record: dict[str, Any]) -> str:
    """The human-readable table of one result record."""
    rows = record["rows"]
    base, weekly = rows["base"], rows["weekly"]
    met = record["targets"]["met"]
    floor, ingest = record["floor"], record.get("ingest_floor")
    lines = [
        f"# Benchmark tier {record['tier']} — {record['clients']:,} clients ({record['format']}), {record['date']}",
        "",
        f"Machine: {record['machine']['cpus']} CPUs, {record['machine']['memory_gb']} GB, Python "
        f"{record['machine']['python']}; code {record['machine']['code_version']}.",
        f"Base batch: {base['clients']:,} clients, {base['sessions']:,} sessions, {base['measures']:,} item rows, "
        f"{base['goals']:,} goal rows. Weekly batch: {weekly['clients']:,} clients, {weekly['sessions']:,} sessions, "
        f"{weekly['measures']:,} item rows.",
        "",
        "| step | wall s | CPU s | peak RSS MB |",
        "|---|---:|---:|---:|",
        f"| floor (plain DuckDB; fastest of {_runs(floor)}) | {floor['seconds']:.2f} | "
        f"{floor.get('cpu_seconds', 0):.2f} | {floor['peak_rss_mb']:,} |",
        *(
            [
                f"| ingest floor (four tables typed, no rules; fastest of {_runs(ingest)}) | {ingest['seconds']:.2f} | "
                f"{ingest.get('cpu_seconds', 0):.2f} | {ingest['peak_rss_mb']:,} |"
            ]
            if ingest
            else []
        ),
        f"| **full refresh** (process) | **{record['full_refresh']['seconds']:.2f}** | "
        f"{record['full_refresh'].get('cpu_seconds', 0):.2f} | **{record['full_refresh']['peak_rss_mb']:,}** |",
        *_stage_rows(record["full_refresh"]),
        f"| **incremental refresh** (weekly batch) | **{record['incremental_refresh']['seconds']:.2f}** | "
        f"{record['incremental_refresh'].get('cpu_seconds', 0):.2f} | "
        f"**{record['incremental_refresh']['peak_rss_mb']:,}** |",
        *_stage_rows(record["incremental_refresh"]),
        "",
        f"Full refresh ÷ floor: **{record['ratio_full_to_floor']:.2f}×** wall, "
        f"{record.get('cpu_ratio_full_to_floor', 0):.2f}× CPU; ÷ ingest floor: "
        f"**{record.get('ratio_full_to_ingest_floor', 0):.2f}×** wall, "
        f"{record.get('cpu_ratio_full_to_ingest_floor', 0):.2f}× CPU (target ≤ {TARGET_RATIO:.0f}× the ingest floor "
        f"at tier L: {'met' if met['ratio'] else 'not met'}); peak ≤ {TARGET_PEAK_MB:,} MB: "
        f"{'met' if met['peak_rss'] else 'not met'}; incremental ≤ {TARGET_INCREMENTAL_S:.0f} s: "
        f"{'met' if met['incremental'] else 'not met'} (its ingest→score part: "
        f"{record['incremental_ingest_to_score']['seconds']:.2f} s, "
        f"{record['incremental_ingest_to_score']['peak_rss_mb']:,} MB).",
        f"Warehouse {record['warehouse_mb']} MB, published files {record['published_mb']} MB; "
        f"generating the tier took {record['generation_seconds']} s (cached).",
    ]
    render = record.get("dashboard_first_render")
    if render and "pages" in render:
        pages = ", ".join(f"{k} {v:.2f}" for k, v in render["pages"].items())
        fresh = ", ".join(f"{k} {v:.2f}" for k, v in render.get("pages_fresh_browser", {}).items())
        lines += [
            "",
            f"Dashboard, each page's first render (s; server started and warmed on another page, browser already "
            f"showing the dashboard): {pages}. Slowest {render['slowest_s']:.2f} s (target ≤ "
            f"{TARGET_FIRST_RENDER_S:.0f} s: {'met' if met['first_render'] else 'not met'}). In a fresh browser "
            f"profile (JavaScript loaded again): {fresh}. A cold server's first page: "
            f"{render['cold_server_first_page_s']:.2f} s.",
        ]
    elif render:
        lines += ["", f"Dashboard: {render.get('skipped')}."]
    return "\n".join(lines) + "\n"


def write_results(record: dict[str, Any], folder: Path = RESULTS) -> tuple[Path, Path]:
    """``<date>-<tier>[-parquet].json`` and ``.md``; older results of the same tier and format are replaced (git
    keeps the history)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = record["tier"] + ("" if record["format"] == "csv" else f"-{record['format']}")
    for old in folder.glob(f"*-{name}.*"):
        old.unlink()
    stem = folder / f"{record['date']}-{name}"
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(record), encoding="utf-8")
    return json_path, md_path
