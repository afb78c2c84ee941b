"""The episode-level tables every mart is built from: DuckDB SQL in ``pipeline/sql/intermediate/``, one table
per file, each with its Purpose / Grain / Inputs / Reference / Missing-data header.

They are built as temporary tables of the warehouse connection, in the order of `INTERMEDIATE` (each reads the
warehouse and the tables before it), with the settings as bound parameters — never string formatting. The rules
they share (direction, reliable improvement, clinical status, periods) are macros defined once in
``pipeline/sql/macros.sql``; the instrument registry is there as the small tables `registry_scales` and
`registry_risk_items`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from pipeline import io
from pipeline.settings import Settings
from schemas.registry import Registry

#: The episode-level tables, in build order (`pipeline/sql/intermediate/<name>.sql`).
INTERMEDIATE: tuple[str, ...] = (
    "treatment_sessions",
    "session_counts",
    "episodes",
    "scored_administrations",
    "self_scale",
    "self_points",
    "self_events",
    "milestones",
    "caseness",
    "gas_scores",
    "coaching_episodes",
    "self_leadership",
    "not_on_track",
    "risk_answers",
)


def parameters(as_of: dt.date, settings: Settings) -> dict[str, Any]:
    """Every value the SQL models bind, by the name they use (each from the practice's settings)."""
    w_self, w_energy, w_polarization = settings.self_leadership.index_weights
    return {
        "as_of": as_of,
        "lapse_days": settings.engagement.lapse_days,
        "modality_share": settings.engagement.modality_share,
        "finished_min_attended": settings.outcomes.finished_min_attended,
        "protector_trust_min": settings.process.protector_trust_min,
        "slope_min_points": settings.self_leadership.slope_min_points,
        "w_self": w_self,
        "w_energy": w_energy,
        "w_polarization": w_polarization,
        "gas_rho": settings.coaching.gas_rho,
        "window": settings.coaching.choice_point_window,
        "resistance": settings.coaching.choice_point_resistance,
        "follow_through": settings.coaching.choice_point_follow_through,
        "continued": settings.coaching.choice_point_continued_sessions,
        "min_session_number": settings.alerts.min_session_number,
        "min_reference": settings.alerts.min_reference,
        "worst_share": settings.alerts.worst_share,
    }


def registry_tables(registry: Registry) -> dict[str, pl.DataFrame]:
    """The registry as the small tables the SQL models join (scales with their ranges; risk items)."""
    scales = pl.DataFrame(
        [
            {"instrument": i.id, "scale": s.id, "scale_min": float(s.min), "scale_max": float(s.max),
             "higher_is_better": s.higher_is_better}
            for i in registry.instruments.values()
            for s in i.scales.values()
        ],
        schema={"instrument": pl.String, "scale": pl.String, "scale_min": pl.Float64, "scale_max": pl.Float64,
                "higher_is_better": pl.Boolean},
    )  # fmt: skip
    risk = pl.DataFrame(
        [{"instrument": i.id, "item": item} for i in registry.instruments.values() for item in sorted(i.risk_items)],
        schema={"instrument": pl.String, "item": pl.String},
    )
    return {"registry_scales": scales, "registry_risk_items": risk}


def build(con: io.duckdb.DuckDBPyConnection, as_of: dt.date, settings: Settings, registry: Registry) -> None:
    """Create the macros, the registry tables and every episode-level table on ``con`` (temporary)."""
    con.execute(io.sql_text("", "macros"))
    for name, frame in registry_tables(registry).items():
        con.register("_frame", frame)
        io.create_temp_table(con, name, "SELECT * FROM _frame", {})
        con.unregister("_frame")
    params = parameters(as_of, settings)
    for name in INTERMEDIATE:
        io.create_temp_table(con, name, io.sql_text("intermediate", name), params)
