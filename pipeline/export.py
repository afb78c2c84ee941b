"""The de-identified research package (DESIGN 6): `ifs-outcomes export --out DIR`.

- identifiers (episode, practice) are replaced by a random mapping drawn fresh for every export and never stored, so
  two exports cannot be linked by id; clinician, location and session ids are dropped;
- dates become days since the episode's first attended treatment session (its intake date when it has none); only
  the intake year is kept;
- quasi-identifiers age band × gender × profession × practice: an episode whose combination is shared by fewer than
  k episodes is generalized step by step (profession → helping professional or not; age band → 18-34/35-54/55+;
  gender → not shown; finally all four not shown) until every released combination is shared by at least k;
- a data dictionary (`data-dictionary.md`/`.json`, from `schemas/research.py`), a manifest with row counts, SHA-256
  hashes, code and schema versions and the command that made it, and a README showing how to load it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import io
from pipeline.config import Paths
from pipeline.settings import DEFAULTS
from schemas.research import RESEARCH_SCHEMA_VERSION, RESEARCH_TABLES, data_dictionary_json, data_dictionary_md

QUASI = ("age_band", "gender", "profession", "practice")
BROAD_AGE = {"18-24": "18-34", "25-34": "18-34", "35-44": "35-54", "45-54": "35-54", "55-64": "55+", "65+": "55+"}


class ExportError(RuntimeError):
    """Nothing to export (no warehouse or published files yet)."""


def _random_ids(values: list[str], prefix: str, rng: secrets.SystemRandom) -> dict[str, str]:
    shuffled = list(values)
    rng.shuffle(shuffled)
    width = max(4, len(str(len(shuffled))))
    return {value: f"{prefix}{i + 1:0{width}d}" for i, value in enumerate(shuffled)}


def _generalize(frame: pl.DataFrame, level: int) -> pl.DataFrame:
    """The released quasi-identifiers at generalization level 0..4."""
    out = frame
    if level >= 1:
        out = out.with_columns(
            pl.when(pl.col("helping_professional")).then(pl.lit("helping_professional")).otherwise(pl.lit("other"))
            .alias("profession")
        )  # fmt: skip
    if level >= 2:
        out = out.with_columns(pl.col("age_band").replace(BROAD_AGE))
    if level >= 3:
        out = out.with_columns(pl.lit(None, pl.String).alias("gender"))
    if level >= 4:
        out = out.with_columns(pl.lit(None, pl.String).alias(c) for c in QUASI)
    return out


def protect_quasi_identifiers(episodes: pl.DataFrame, k: int) -> tuple[pl.DataFrame, dict[int, int]]:
    """Generalize each episode's quasi-identifiers until every released combination is shared by ≥ k episodes.

    Whole groups move up a level together, so a group that already has k members never loses one; the fully
    hidden group (level 4) is topped up with the smallest other groups if it would be small itself.
    Returns the released frame and how many episodes ended at each level.
    """
    levels = pl.Series("level", [0] * episodes.height, dtype=pl.Int64)
    base = episodes.with_row_index("_row")
    while True:
        released = pl.concat([_generalize(base.filter(levels == lv), lv) for lv in range(5)]).sort("_row")
        sizes = released.group_by(list(QUASI)).agg(pl.len().alias("_n"), pl.col("_row"))
        small = sizes.filter(pl.col("_n") < k)
        top = released.filter(pl.all_horizontal(pl.col(c).is_null() for c in QUASI)).height
        if small.height == 0:
            break
        rows = small.explode("_row")["_row"].to_list()
        if all(levels[r] == 4 for r in rows):
            if top >= k or top == released.height:
                break
            # the fully hidden group is small: hide the smallest other group entirely as well
            other = sizes.filter(pl.col("_n") >= k).sort("_n").head(1).explode("_row")["_row"].to_list()
            rows = other
            new = levels.to_list()
            for r in rows:
                new[r] = 4
        else:
            new = levels.to_list()
            for r in rows:
                new[r] = min(4, new[r] + 1)
        levels = pl.Series("level", new, dtype=pl.Int64)
    counts = {lv: int((levels == lv).sum()) for lv in range(5)}
    return released.drop("_row"), counts


def build_export(paths: Paths, k: int = DEFAULTS.disclosure.k) -> tuple[dict[str, pl.DataFrame], dict[int, int]]:
    """The research tables, de-identified (in memory), and how many episodes ended at each generalization level."""
    clinical = paths.clinical_file
    if not paths.warehouse.exists() or not clinical.exists():
        raise ExportError("no warehouse or published files yet: run `make run` (or `ifs-outcomes refresh --all`) first")
    with io.warehouse(paths.warehouse, read_only=True) as con:
        clients = io.query_pl(con, "SELECT * FROM clients")
        sessions = io.query_pl(con, "SELECT * FROM sessions")
    published = io.read_all_tables(clinical)
    engagement, change = published["episode_engagement"], published["client_change"]
    scores, milestones = published["client_scores"], published["milestones"]

    rng = secrets.SystemRandom()
    episode_ids = _random_ids(clients["client_id"].to_list(), "E", rng)
    practice_ids = _random_ids(sorted(set(clients["practice_id"].to_list())), "P", rng)
    anchors = (
        clients.select("client_id", "intake_date")
        .join(engagement.select("client_id", "first_attended_date"), on="client_id", how="left")
        .select("client_id", pl.coalesce("first_attended_date", "intake_date").alias("_anchor"))
    )

    def research(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col("client_id").replace_strict(episode_ids, return_dtype=pl.String).alias("research_id")
        ).join(anchors, on="client_id", how="left")

    def days(column: str, alias: str) -> pl.Expr:
        return (pl.col(column) - pl.col("_anchor")).dt.total_days().cast(pl.Int64).alias(alias)

    people = research(
        clients.join(
            engagement.select("client_id", "modality", "attended", "scheduled", "lapsed", "ending"),
            on="client_id",
            how="left",
        )
    ).with_columns(
        pl.col("practice_id").replace_strict(practice_ids, return_dtype=pl.String).alias("practice"),
        pl.col("intake_date").dt.year().alias("intake_year"),
        days("discharge_date", "discharge_day"),
    )
    released, levels = protect_quasi_identifiers(people.select("research_id", "helping_professional", *QUASI), k)
    episodes = people.drop(*QUASI).join(released.drop("helping_professional"), on="research_id", how="left")
    tables = {
        "episodes": episodes,
        "sessions": research(sessions).with_columns(days("session_date", "day")),
        "scores": research(scores).with_columns(days("administered_on", "day")),
        "client_change": research(change).with_columns(
            days("baseline_date", "baseline_day"), days("latest_date", "latest_day")
        ),
        "milestones": research(milestones),
    }
    out = {}
    for name, spec in RESEARCH_TABLES.items():
        frame = tables[name].select([pl.col(c).cast(dtype) for c, dtype, _ in spec.columns])
        out[name] = frame.sample(fraction=1.0, shuffle=True, seed=rng.randrange(2**32)).sort(
            "research_id", maintain_order=True
        )
    return out, levels


def write_export(paths: Paths, out: Path, command: str, k: int = DEFAULTS.disclosure.k) -> dict[str, Any]:
    """Write the package to `out`; returns the manifest."""
    from pipeline.stages import code_version

    tables, levels = build_export(paths, k)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    for name, frame in tables.items():
        path = out / f"{name}.parquet"
        frame.write_parquet(path)
        files[path.name] = {"rows": frame.height, "sha256": io.sha256_file(path)}
    io.write_text_atomic(data_dictionary_md(), out / "data-dictionary.md")
    io.write_json(data_dictionary_json(), out / "data-dictionary.json")
    for name in ("data-dictionary.md", "data-dictionary.json"):
        files[name] = {"sha256": io.sha256_file(out / name)}
    manifest = {
        "schema_version": RESEARCH_SCHEMA_VERSION,
        "code_version": code_version(),
        "command": command,
        "exported_on": dt.date.today().isoformat(),
        "k": k,
        "files": files,
        "note": "ids are random for this export and the mapping was not stored; days count from the episode's "
        "first attended treatment session (intake date without one); only the intake year is kept",
        "quasi_identifiers": list(QUASI),
        "episodes_by_generalization_level": {str(lv): n for lv, n in levels.items()},
    }
    io.write_json(manifest, out / "manifest.json")
    io.write_text_atomic(README.format(k=k), out / "README.md")
    return manifest


README = """# ifs-outcomes research package

De-identified episode-level data exported by `ifs-outcomes export`. See `data-dictionary.md` for every column and
`manifest.json` for row counts, SHA-256 hashes, versions and the command that made it.

Load a table in one line:

```python
import polars as pl; episodes = pl.read_parquet("episodes.parquet")
```
```sql
-- duckdb
SELECT * FROM 'client_change.parquet';
```
or everything at once: `from pipeline import load_export; tables = load_export("path/to/this/folder")`.

What was done to protect the people in it: episode and practice ids are random for this export (the mapping was
not kept, so two exports cannot be linked); clinician, location and session ids are not included; dates are days
since the episode's first attended treatment session and only the intake year is kept; every combination of
age band × gender × profession × practice is shared by at least {k} episodes (rarer ones were generalized or
hidden). Do not try to re-identify anyone; report small numbers with care.
"""
