"""The benchmark tiers: synthetic batches of 1k, 10k, 100k (and, on request, 1M) clients, generated once and cached.

Each tier is one batch of the demo generator (`pipeline.synth.write_batch`), written chunk by chunk
(``synth.CHUNK_CLIENTS`` clients each, one roster of clinicians), so memory stays flat whatever the tier, and then
split at ``as_of − 7 days`` into

- ``base/``: everything a practice had exported by the cut-off (≈ 99 % of sessions and answers) — the
  full-refresh benchmark and the floor run on it;
- ``weekly/``: the week after the cut-off (≈ 1 %): new sessions and answers, new clients, and the new version of
  every client whose intake or discharge fell in that week — the incremental-refresh benchmark.

The split is done by DuckDB straight from the generated files, so a tier-L split never holds the item rows
in memory. A cache folder holds a ``tier.json`` with the counts; a folder without it (an interrupted
generation) is rebuilt. The tier's ``ground_truth.json`` (what the generator planted, e.g. each clinician's effect)
is kept beside ``tier.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

TABLE_NAMES = ("clients", "sessions", "measures", "goals")
AS_OF = dt.date(2026, 10, 31)
WEEK = dt.timedelta(days=7)
#: Bump when the generator or the split changes, so stale caches are rebuilt.
TIER_FORMAT = 2


@dataclass(frozen=True)
class Tier:
    name: str
    clients: int
    seed: int = 20261

    @property
    def cutoff(self) -> dt.date:
        return AS_OF - WEEK


#: XL (1M clients, ~255M answer rows) is never run by default or in CI: building it takes ~5 min and ~34 GB of disk
#: while it is split (the 16.9 GB generated batch, then base and weekly), 16.9 GB once cached (benchmarks/README.md).
TIERS = {t.name: t for t in (Tier("S", 1_000), Tier("M", 10_000), Tier("L", 100_000), Tier("XL", 1_000_000))}


def _split(tier: Tier, full: Path, out: Path, fmt: str) -> dict[str, dict[str, int]]:
    """Write ``out/base`` and ``out/weekly`` from the full generated batch; returns rows per table and part."""
    cutoff = tier.cutoff.isoformat()
    source = "read_csv('{p}', all_varchar=true)" if fmt == "csv" else "read_parquet('{p}')"

    def table(name: str) -> str:
        return source.format(p=full / f"{name}.{fmt}")

    later = f"> DATE '{cutoff}'"
    parts = {
        # A client is in the base export once its intake or first session is on or before the cut-off; its
        # base version does not yet know a later intake or discharge, the weekly export resends it whole.
        "clients": (
            f"""SELECT c.* REPLACE (
                    CASE WHEN c.intake_date::DATE {later} THEN NULL ELSE c.intake_date END AS intake_date,
                    CASE WHEN c.discharge_date::DATE {later} THEN NULL ELSE c.discharge_date END AS discharge_date,
                    CASE WHEN c.discharge_date::DATE {later} THEN NULL ELSE c.discharge_reason END
                        AS discharge_reason)
                FROM {table("clients")} c
                WHERE c.intake_date::DATE <= DATE '{cutoff}'
                   OR c.client_id IN (SELECT client_id FROM {table("sessions")}
                                      WHERE session_date::DATE <= DATE '{cutoff}')""",
            f"""SELECT c.* FROM {table("clients")} c
                WHERE c.intake_date::DATE {later} OR c.discharge_date::DATE {later}
                   OR c.client_id NOT IN (SELECT client_id FROM {table("sessions")}
                                          WHERE session_date::DATE <= DATE '{cutoff}')""",
        ),
        "sessions": (
            f"SELECT * FROM {table('sessions')} WHERE session_date::DATE <= DATE '{cutoff}'",
            f"SELECT * FROM {table('sessions')} WHERE session_date::DATE {later}",
        ),
        # An answer goes with its session; one given after the cut-off goes to the weekly export in any case.
        "measures": tuple(
            f"""SELECT m.* FROM {table("measures")} m
                LEFT JOIN (SELECT session_id, session_date FROM {table("sessions")}) s USING (session_id)
                WHERE greatest(coalesce(s.session_date::DATE, m.administered_on::DATE), m.administered_on::DATE)
                      {op}"""
            for op in (f"<= DATE '{cutoff}'", later)
        ),
        "goals": tuple(
            f"""SELECT * FROM {table("goals")}
                WHERE greatest(set_on::DATE, coalesce(rated_on::DATE, set_on::DATE)) {op}"""
            for op in (f"<= DATE '{cutoff}'", later)
        ),
    }
    counts: dict[str, dict[str, int]] = {"base": {}, "weekly": {}}
    con = duckdb.connect()
    try:
        for part, exported_at in (("base", tier.cutoff), ("weekly", AS_OF)):
            folder = out / part
            folder.mkdir(parents=True, exist_ok=True)
            for name, (base_sql, weekly_sql) in parts.items():
                sql = base_sql if part == "base" else weekly_sql
                target = folder / f"{name}.{fmt}"
                options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
                con.execute(f"COPY ({sql}) TO '{target}' ({options})")
                counts[part][name] = con.execute(f"SELECT count(*) FROM {source.format(p=target)}").fetchall()[0][0]
            (folder / "batch.toml").write_text(
                f'batch_id = "tier-{tier.name}-{part}"\nexported_at = {exported_at.isoformat()}\n'
                f'source = "benchmarks tier {tier.name} ({tier.clients:,} clients, seed {tier.seed}), {part}"\n',
                encoding="utf-8",
            )
    finally:
        con.close()
    return counts


def ensure_tier(tier: Tier, cache: Path, fmt: str = "csv", progress: Callable[[str], None] = print) -> Path:
    """The tier's folder (``base/``, ``weekly/``, ``tier.json``, ``ground_truth.json``), generated unless cached."""
    from pipeline import synth

    folder = cache / f"{tier.name}-{tier.clients}-seed{tier.seed}-v{TIER_FORMAT}-{fmt}"
    manifest = folder / "tier.json"
    if manifest.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    # Built under a private name and renamed into place, so two runs never write into the same files.
    building = folder.with_name(f"{folder.name}.building-{os.getpid()}")
    started = time.perf_counter()
    full = building / "full"
    synth.write_batch(
        full, tier.clients, tier.seed, AS_OF, fmt, progress=lambda done: progress(f"tier {tier.name}: {done}")
    )
    progress(f"tier {tier.name}: splitting at {tier.cutoff} into base and weekly batches")
    counts = _split(tier, full, building, fmt)
    (full / synth.GROUND_TRUTH_FILE).replace(building / synth.GROUND_TRUTH_FILE)
    shutil.rmtree(full)
    (building / "tier.json").write_text(
        json.dumps(
            {
                "tier": tier.name,
                "clients": tier.clients,
                "seed": tier.seed,
                "format": fmt,
                "cutoff": tier.cutoff.isoformat(),
                "as_of": AS_OF.isoformat(),
                "rows": counts,
                "generation_seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    try:
        building.rename(folder)
    except OSError:  # another run finished the same tier first: use its copy
        shutil.rmtree(building, ignore_errors=True)
    return folder
