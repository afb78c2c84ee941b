"""The research package's contract: every exported table and column with its type and meaning.

`pipeline/export.py` projects onto exactly these columns (nothing else can leave), and the package's
`data-dictionary.md`/`.json` are generated from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

RESEARCH_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class ResearchTable:
    name: str
    grain: str
    columns: tuple[tuple[str, type[pl.DataType] | pl.DataType, str], ...]


ID = ("research_id", pl.String, "random episode id, drawn for this export only (not linkable to any other export)")
_ITEMS = tuple(
    (c, pl.Int64, f"clinician rating: {c.replace('_', ' ')} (as recorded; see docs/data-contract.md)")
    for c in ("self_energy", "protector_trust", "polarization", "focus_goal", "resistance", "commitments_set",
              "commitments_kept")
)  # fmt: skip
_STATES = tuple(
    (c, pl.String, f"{c.replace('_', ' ')} (as recorded)")
    for c in ("unblending", "exile_contact", "protector_permission", "exile_witnessed", "unburdening",
              "protector_release")
)  # fmt: skip

RESEARCH_TABLES: dict[str, ResearchTable] = {
    t.name: t
    for t in (
        ResearchTable("episodes", "episode", (
            ID,
            ("practice", pl.String, "random practice label for this export; empty where hidden (rare combination)"),
            ("intake_year", pl.Int32, "year of intake (the only calendar information kept)"),
            ("age_band", pl.String, "age band; 18-34/35-54/55+ where generalized; empty where hidden"),
            ("gender", pl.String, "gender; empty where hidden (rare combination)"),
            ("profession", pl.String, "profession; helping_professional/other where generalized; empty where hidden"),
            ("helping_professional", pl.Boolean, "the client is a helping professional"),
            ("service", pl.String, "therapy, coaching or combined"),
            ("presenting_themes", pl.String, "presenting themes, semicolon-separated"),
            ("modality", pl.String, "in_person or telehealth (≥ 75% of attended sessions), mixed, or empty"),
            ("scheduled", pl.Int64, "scheduled treatment sessions"),
            ("attended", pl.Int64, "attended treatment sessions"),
            ("lapsed", pl.Boolean, "open with no attended session in the 42 days before the as-of date"),
            ("ending", pl.String, "planned, unplanned or other (empty while open)"),
            ("discharge_reason", pl.String, "why the episode ended"),
            ("discharge_day", pl.Int64, "days from the first attended treatment session to discharge"),
        )),
        ResearchTable("sessions", "session", (
            ID,
            ("day", pl.Int64, "days since the episode's first attended treatment session (negative: before it)"),
            ("kind", pl.String, "consultation, intake, regular or closing"),
            ("status", pl.String, "attended, cancelled or no_show"),
            ("modality", pl.String, "in_person or telehealth"),
            ("duration_min", pl.Int64, "minutes"),
            *_ITEMS, *_STATES,
        )),
        ResearchTable("scores", "episode × instrument × scale × administration", (
            ID,
            ("instrument", pl.String, "instrument id from the registry"),
            ("scale", pl.String, "scale id"),
            ("day", pl.Int64, "days since the episode's first attended treatment session"),
            ("session_number", pl.Int64, "attended treatment sessions up to the administration"),
            ("score", pl.Float64, "scale score (prorated where allowed)"),
            ("pomp", pl.Float64, "percent of maximum possible"),
            ("band", pl.String, "severity band"),
        )),
        ResearchTable("client_change", "episode × instrument × scale", (
            ID,
            ("instrument", pl.String, "instrument id"), ("scale", pl.String, "scale id"),
            ("higher_is_better", pl.Boolean, "direction of the scale"),
            ("baseline_day", pl.Int64, "day of the baseline administration"),
            ("baseline_score", pl.Float64, "baseline score"),
            ("latest_day", pl.Int64, "day of the latest administration"),
            ("latest_score", pl.Float64, "latest score"),
            ("paired", pl.Boolean, "baseline and a later administration exist"),
            ("change", pl.Float64, "latest − baseline"),
            ("rci", pl.Float64, "Jacobson-Truax reliable change index"),
            ("rc_threshold", pl.Float64, "change in points needed for reliable change"),
            ("reliably_improved", pl.Boolean, "reliable improvement"),
            ("reliably_deteriorated", pl.Boolean, "reliable deterioration"),
            ("cutoff", pl.Float64, "clinical cutoff (a score on it is clinical)"),
            ("clinical_baseline", pl.Boolean, "clinical at baseline"),
            ("clinical_latest", pl.Boolean, "clinical at latest"),
            ("category", pl.String, "recovered, improved, unchanged, deteriorated or harmed"),
        )),
        ResearchTable("milestones", "episode", (
            ID,
            *((f"m{k}_session", pl.Int64, f"attended session at which M{k} was reached in order") for k in range(1, 6)),
            *((f"m{k}_days", pl.Int64, f"days from the first attended session to M{k}") for k in range(1, 6)),
            ("stage_reached", pl.Int64, "highest k with M1..Mk reached in order"),
            ("last_session", pl.Int64, "attended treatment sessions so far (censoring point)"),
            ("last_days", pl.Int64, "days from the first to the last attended session"),
            *((f"m{k}_before_m{k - 1}", pl.Int64, f"M{k} events before M{k - 1} (a sequence deviation)")
              for k in range(2, 6)),
            ("exile_contact_without_permission", pl.Int64, "exile contacts recorded without protector permission"),
        )),
    )
}  # fmt: skip


def data_dictionary_json() -> dict[str, Any]:
    return {
        "schema_version": RESEARCH_SCHEMA_VERSION,
        "tables": {
            t.name: {
                "grain": t.grain,
                "columns": [{"name": c, "type": str(d), "description": s} for c, d, s in t.columns],
            }
            for t in RESEARCH_TABLES.values()
        },
    }


def data_dictionary_md() -> str:
    lines = [f"# Research package data dictionary (schema {RESEARCH_SCHEMA_VERSION})", ""]
    for t in RESEARCH_TABLES.values():
        lines += [f"## `{t.name}.parquet` — one row per {t.grain}", "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c}` | {d} | {s} |" for c, d, s in t.columns]
        lines.append("")
    return "\n".join(lines)
