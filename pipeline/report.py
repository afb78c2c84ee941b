"""The static report (DESIGN 7): from `published/aggregate.duckdb` only, write `<home>/reports/<period>/`:

- `report.html` — one self-contained file: charts inline as SVG (rendered offline by vl-convert from the same chart
  functions the dashboard uses, `pipeline/charts.py`), no script, stylesheet, image or font fetched from anywhere;
- `summary.json` — the headline numbers, machine-readable, with a schema version;
- `tables/*.csv` — every table in the report, as shown (a hidden cell is `<k`);
- `summary.md` — a short digest for a CI job page.

Disclosure control was applied at publish; the report only selects published rows and formats them, so it cannot
undo it. The output depends only on the published file and the period: building it twice gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import charts, io
from pipeline.config import Paths
from pipeline.disclosure import PROTECT_MARK, hidden_to_protect, legend, mark_expr

#: 2.0: outcomes are finished treatment in the period (and in treatment at the as-of date), with the NHS
#: Talking Therapies composite, recovery and reliable recovery named apart, and complete effect sizes.
SCHEMA_VERSION = "2.1"  # 2.1: hidden_to_protect beside suppressed, the marks legend, engagement lists
HEADLINE_SCALES = (("phq9", "total"), ("gad7", "total"), ("ifs_self", "total"))
HEADLINE_FIELDS = (
    "episodes", "paired", "paired_rate", "categorised", "rc_rule", "rc_threshold", "clinical_baseline",
    "recovery", "recovery_rate", "recovery_rate_ci_low", "recovery_rate_ci_high",
    "reliably_improved", "reliable_improvement_rate", "reliable_improvement_rate_ci_low",
    "reliable_improvement_rate_ci_high", "recovered", "reliable_recovery_rate", "reliable_recovery_rate_ci_low",
    "reliable_recovery_rate_ci_high", "reliably_deteriorated", "reliable_deterioration_rate",
    "reliable_deterioration_rate_ci_low", "reliable_deterioration_rate_ci_high", "mean_change", "sd_change",
    "d", "d_ci_low", "d_ci_high", "g", "g_ci_low", "g_ci_high", "dz", "dz_ci_low", "dz_ci_high", "ci_method",
    "revision",
)  # fmt: skip
ENGAGEMENT_FIELDS = (
    "episodes", "with_intake", "scheduled", "attended", "attendance_rate", "dropouts", "dropout_denominator",
    "dropout_rate", "median_cadence_days",
)  # fmt: skip
NHS_FIELDS = (
    "measures", "finished", "paired", "paired_rate", "caseness", "recovery", "recovery_rate", "recovery_rate_ci_low",
    "recovery_rate_ci_high", "reliable_improvement", "reliable_improvement_rate", "reliable_improvement_rate_ci_low",
    "reliable_improvement_rate_ci_high", "reliable_recovery", "reliable_recovery_rate",
    "reliable_recovery_rate_ci_low", "reliable_recovery_rate_ci_high", "reliable_deterioration",
    "reliable_deterioration_rate", "reliable_deterioration_rate_ci_low", "reliable_deterioration_rate_ci_high",
    "revision",
)  # fmt: skip
OUTCOME_RATES = ("recovery_rate", "reliable_improvement_rate", "reliable_recovery_rate", "reliable_deterioration_rate")
RATES = ("paired_rate", *OUTCOME_RATES, *(f"{r}_ci_{e}" for r in OUTCOME_RATES for e in ("low", "high")),
         "attendance_rate", "dropout_rate", "conversion_rate", "choice_point_rate", "mean_follow_through",
         "value", "previous_value", "difference", "difference_ci_low", "difference_ci_high",
         *(f"reach_rate_m{k}" for k in range(1, 6)))  # fmt: skip
COACHING_ROUTES = {"season_of_therapy": "a season of therapy", "coaching_and_therapy": "coaching and therapy combined",
                   "healing_within_coaching": "IFS healing sessions within coaching",
                   "continued_coaching": "continued coaching", "ended_otherwise": "ended otherwise",
                   "too_early": "too early to tell"}  # fmt: skip


TEXT_COLUMNS = ("instrument", "scale", "dimension", "level", "measure", "theme", "batch_id", "table_name", "rule",
                "period", "source", "metric", "previous_period", "rc_rule", "ci_method", "measures")  # fmt: skip


class ReportError(RuntimeError):
    """The report cannot be built (no published file, or an unknown period)."""


@dataclass
class ReportTable:
    """One table of the report: the published rows it shows (with their `_suppressed` flags) and how to show them."""

    name: str
    frame: pl.DataFrame
    columns: dict[str, str]
    note: str = ""
    #: Columns shown as percentages (default: the published rates, `RATES`).
    percent: tuple[str, ...] | None = None

    def shown(self, k: int) -> pl.DataFrame:
        """As displayed and written to CSV: published column names, hidden cells marked (`<k`, `n<k`, `‡`: see
        `disclosure.legend`), absent values empty."""
        out = []
        for column in self.columns:
            value = pl.col(column)
            dtype = self.frame.schema[column]
            text = value.round(4).cast(pl.String) if dtype.is_float() else value.cast(pl.String)
            text = mark_expr(column, k, dtype.is_integer(), text, self.frame.columns)
            out.append(text.fill_null("").alias(column))
        return self.frame.select(out)


@dataclass
class Report:
    period: str
    meta: dict[str, Any]
    summary: dict[str, Any]
    tables: list[ReportTable] = field(default_factory=list)
    charts: dict[str, str] = field(default_factory=dict)  # name → inline SVG


def latest_complete_quarter(as_of: dt.date) -> str:
    """The last quarter that ended on or before the as-of date (the default report period)."""
    quarter = (as_of.month - 1) // 3 + 1
    end_of_quarter = dt.date(as_of.year + (quarter == 4), (quarter * 3) % 12 + 1, 1) - dt.timedelta(days=1)
    year, quarter = (as_of.year, quarter) if as_of >= end_of_quarter else (as_of.year, quarter - 1)
    if quarter == 0:
        year, quarter = year - 1, 4
    return f"{year}-Q{quarter}"


def _read(aggregate: Path) -> dict[str, pl.DataFrame]:
    if not aggregate.exists():
        raise ReportError(f"{aggregate} does not exist yet: run `make run` (or `ifs-outcomes refresh --all`) first")
    return io.read_all_tables(aggregate)


def _row(frame: pl.DataFrame, **equal: str) -> dict[str, Any] | None:
    for column, value in equal.items():
        frame = frame.filter(pl.col(column) == value)
    return frame.row(0, named=True) if frame.height else None


def _cell(row: dict[str, Any] | None, column: str) -> Any:
    """A published value for summary.json: None when hidden or absent (the `suppressed` list says which)."""
    if row is None or row.get(f"{column}_suppressed"):
        return None
    value = row.get(column)
    return round(value, 6) if isinstance(value, float) else value


def _suppressed(row: dict[str, Any] | None, columns: Iterable[str]) -> list[str]:
    """The hidden ones as small (shown <k or n<k)."""
    return [c for c in columns if row is not None and row.get(f"{c}_suppressed") and not hidden_to_protect(row, c)]


def _protecting(row: dict[str, Any] | None, columns: Iterable[str]) -> list[str]:
    """The hidden ones only to protect another cell (shown ‡)."""
    return [c for c in columns if row is not None and row.get(f"{c}_suppressed") and hidden_to_protect(row, c)]


def _changes(comparison: pl.DataFrame, source: str, instrument: str | None = None, scale: str | None = None
             ) -> dict[str, Any]:  # fmt: skip
    """The published change of each metric against the previous period (period_comparison), for summary.json."""
    rows = comparison.filter(pl.col("source") == source)
    if instrument is not None:
        rows = rows.filter((pl.col("instrument") == instrument) & (pl.col("scale") == scale))
    return {
        row["metric"]: {
            "previous_period": row["previous_period"],
            **{f: _cell(row, f) for f in ("previous_value", "difference", "difference_ci_low", "difference_ci_high")},
            "ci_method": row["ci_method"],
        }
        for row in rows.iter_rows(named=True)
    }


def _curve_ends(curves: pl.DataFrame) -> dict[str, Any]:
    """Each milestone's cumulative proportion at the last published session, by method: cumulative incidence (the
    default) beside Kaplan-Meier (the sensitivity analysis)."""
    out: dict[str, Any] = {}
    sessions = curves.filter(pl.col("unit") == "session").sort("milestone", "method", "time")
    for (milestone, method), rows in sessions.group_by("milestone", "method", maintain_order=True):
        last = rows.row(-1, named=True)
        out.setdefault(f"M{milestone}", {})[str(method)] = {
            "session": last["time"], "cumulative_reached": round(last["cumulative_reached"], 6),
            "ci_low": _cell(last, "ci_low"), "ci_high": _cell(last, "ci_high"),
        }  # fmt: skip
    return out


def build_report(aggregate: Path, period: str | None = None) -> Report:
    """Everything the report shows, selected from the published aggregate tables."""
    t = _read(aggregate)
    meta = t["publication"].row(0, named=True)
    k = int(meta["disclosure_k"])
    period = period or latest_complete_quarter(meta["as_of"])
    published = t["outcome_summary"]
    outcomes = published.filter(pl.col("population") == "finished_treatment")
    if period not in set(outcomes["period"]):
        known = ", ".join(sorted(set(outcomes["period"]))[-6:])
        raise ReportError(f"no published outcomes for period {period!r}; choose `all` or one of … {known}")
    in_period = outcomes.filter(pl.col("period") == period)
    overall = in_period.filter(pl.col("dimension") == "overall")
    current = published.filter((pl.col("population") == "in_treatment") & (pl.col("dimension") == "overall"))
    nhs = t["nhs_outcomes"].filter(pl.col("period") == period)
    nhs_all = _row(nhs, dimension="overall")
    comparison = t["period_comparison"].filter((pl.col("period") == period) & (pl.col("dimension") == "overall"))
    engagement = t["engagement_summary"]
    eng_all = _row(engagement, dimension="overall")
    funnel = t["milestone_funnel"].filter(pl.col("period") == period)
    funnel_all = _row(funnel, dimension="overall")
    coaching = t["coaching_summary"].filter(pl.col("period") == period)
    coaching_all = _row(coaching, dimension="overall")
    quality = t["data_quality"]

    def headlines_of(rows: pl.DataFrame) -> dict[str, Any]:
        out = {}
        for instrument, scale in sorted({(r["instrument"], r["scale"]) for r in rows.iter_rows(named=True)}):
            row = _row(rows, instrument=instrument, scale=scale)
            out[f"{instrument}.{scale}"] = {
                **{f: _cell(row, f) for f in HEADLINE_FIELDS},
                "change_from_previous": _changes(comparison, "outcome_summary", instrument, scale),
                "suppressed": _suppressed(row, HEADLINE_FIELDS),
                "hidden_to_protect": _protecting(row, HEADLINE_FIELDS),
            }
        return out

    headlines = headlines_of(overall)
    totals = t["data_quality_summary"].row(0, named=True)
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "period": period,
        "as_of": str(meta["as_of"]),
        "code_version": meta["code_version"],
        "registry_version": meta["registry_version"],
        "warehouse_run_id": meta["warehouse_run_id"],
        "disclosure": {"k": k, "rule": meta["disclosure_rule"], "legend": legend(k)},
        "population": "finished_treatment",
        "population_definition": "episodes discharged in the period with at least two attended treatment sessions",
        "nhs_talking_therapies": {
            **{f: _cell(nhs_all, f) for f in NHS_FIELDS},
            "change_from_previous": _changes(comparison, "nhs_outcomes"),
            "suppressed": _suppressed(nhs_all, NHS_FIELDS),
            "hidden_to_protect": _protecting(nhs_all, NHS_FIELDS),
        },
        "outcomes": headlines,
        "in_treatment": {
            "as_of": str(meta["as_of"]),
            "definition": "open episodes, not lapsed: their change so far at the as-of date",
            "outcomes": {
                key: {f: h[f] for f in HEADLINE_FIELDS if f != "revision"} | {"suppressed": h["suppressed"]}
                for key, h in headlines_of(current).items()
            },
        },
        "engagement_all_time": {
            **{f: _cell(eng_all, f) for f in ENGAGEMENT_FIELDS},
            "suppressed": _suppressed(eng_all, ENGAGEMENT_FIELDS),
            "hidden_to_protect": _protecting(eng_all, ENGAGEMENT_FIELDS),
        },
        "milestones": {
            **{f"reach_rate_m{i}": _cell(funnel_all, f"reach_rate_m{i}") for i in range(1, 6)},
            "episodes": _cell(funnel_all, "episodes"),
            "curves_by_session": _curve_ends(t["milestone_curves"]),
        },
        "coaching": {
            f: _cell(coaching_all, f)
            for f in (
                "coaching_episodes",
                "mean_gas_t_change",
                "mean_follow_through",
                "choice_points",
                "choice_point_rate",
                *COACHING_ROUTES,
            )
        },
        "data_quality": {
            "batches": totals["batches"],
            "rows_received": totals["received"],
            "rows_quarantined": totals["quarantined"],
        },
    }

    def scale_rows(frame: pl.DataFrame, dimension: str, scales: Iterable[tuple[str, str]]) -> pl.DataFrame:
        keep = pl.any_horizontal([(pl.col("instrument") == i) & (pl.col("scale") == s) for i, s in scales])
        return frame.filter(pl.col("dimension").is_in([dimension, "overall"]) & keep).sort(
            "instrument", "scale", pl.col("dimension") != "overall", "level"
        )

    outcome_columns = {
        "instrument": "instrument", "scale": "scale", "episodes": "with baseline", "paired": "paired",
        "paired_rate": "completeness", "clinical_baseline": "clinical at baseline", "recovery": "recovery",
        "recovery_rate": "recovery rate", "recovered": "reliable recovery",
        "reliable_recovery_rate": "reliable recovery rate", "categorised": "paired with a rule",
        "reliably_improved": "reliably improved", "reliable_improvement_rate": "reliable improvement rate",
        "reliably_deteriorated": "reliably deteriorated", "reliable_deterioration_rate": "deterioration rate",
        "rc_rule": "reliable-change rule", "rc_threshold": "threshold", "mean_change": "mean change", "d": "d",
        "d_ci_low": "d CI low", "d_ci_high": "d CI high", "g": "g", "g_ci_low": "g CI low", "g_ci_high": "g CI high",
        "dz": "d_z", "dz_ci_low": "d_z CI low", "dz_ci_high": "d_z CI high",
    }  # fmt: skip
    by_group = {"dimension": "dimension", "level": "group", **{c: v for c, v in outcome_columns.items()
                                                                if "_ci_" not in c}}  # fmt: skip
    nhs_columns = {
        "dimension": "dimension", "level": "group", "finished": "finished", "paired": "paired on both",
        "paired_rate": "completeness", "caseness": "at caseness", "recovery": "recovery",
        "recovery_rate": "recovery rate", "recovery_rate_ci_low": "CI low", "recovery_rate_ci_high": "CI high",
        "reliable_improvement": "reliable improvement", "reliable_improvement_rate": "reliable improvement rate",
        "reliable_recovery": "reliable recovery", "reliable_recovery_rate": "reliable recovery rate",
        "reliable_deterioration": "reliable deterioration", "reliable_deterioration_rate": "deterioration rate",
        "revision": "revision",
    }  # fmt: skip
    trajectory = t["self_leadership_trajectory"].filter(
        (pl.col("period") == period) & (pl.col("dimension") == "overall")
    )
    curves = t["milestone_curves"]
    engagement_by_service = engagement.filter(pl.col("dimension").is_in(["overall", "service", "modality"]))
    monthly = t["engagement_by_period"].filter((pl.col("period_type") == "month") & (pl.col("dimension") == "overall"))
    cohorts = in_period.filter(
        (pl.col("dimension").is_in(["overall", "cohort"])) & (pl.col("instrument") != "self_energy_8c")
    )
    headline_changes = comparison.filter(
        (pl.col("source") == "nhs_outcomes")
        | pl.struct("instrument", "scale").is_in([{"instrument": i, "scale": sc} for i, sc in HEADLINE_SCALES])
    ).sort("source", "instrument", "scale", "metric")
    change_columns = {"source": "table", "instrument": "instrument", "scale": "scale", "metric": "metric",
                      "value": "this period", "previous_period": "previous period", "previous_value": "then",
                      "difference": "difference", "difference_ci_low": "95% CI low",
                      "difference_ci_high": "95% CI high", "ci_method": "CI method"}  # fmt: skip
    tables = [
        ReportTable("nhs_outcomes", nhs.filter(pl.col("dimension").is_in(["overall", "service", "practice"]))
                    .sort(pl.col("dimension") != "overall", "dimension", "level"), nhs_columns,
                    "NHS Talking Therapies measures of finished treatment on the measure pair: caseness = either "
                    "measure at or above its cutoff at the start; recovery = at caseness and on neither at the end "
                    "(/ at caseness); reliable improvement = either measure reliably improved and neither reliably "
                    "deteriorated (/ paired on both); reliable recovery = both (/ at caseness). 95% CIs: Wilson."),
        ReportTable("change_from_previous_period", headline_changes.filter(pl.col("metric") != "mean_change"),
                    change_columns,
                    "Finished treatment in this period against the one before, in percentage points, with the 95% "
                    "Newcombe interval of the difference. Different episodes finish in each period; an interval "
                    "that spans 0 is no evidence of a change."),
        ReportTable("mean_change_from_previous_period", headline_changes.filter(pl.col("metric") == "mean_change"),
                    change_columns, "Mean change (scale points, latest − baseline) against the previous period, with "
                    "the 95% Welch interval of the difference.", percent=()),
        ReportTable("headline_outcomes", overall.sort("instrument", "scale"), outcome_columns,
                    "Finished treatment in the period. Completeness = paired / with baseline. Recovery = clinical at "
                    "baseline and not at the end; reliable recovery = also reliably improved (the Jacobson-Truax "
                    "'recovered' category): both out of the paired episodes clinical at baseline. Reliable "
                    "improvement and deterioration: out of the paired episodes whose scale has a rule (rc_rule: "
                    "points = a change of at least the threshold; jacobson_truax = more than it). d = standardized "
                    "mean change, g = Hedges' g, d_z = mean change / SD of change, positive = better; 95% CIs by "
                    "the delta method."),
        ReportTable("in_treatment", current.sort("instrument", "scale"), outcome_columns,
                    f"In treatment at {meta['as_of']}: open, not lapsed episodes, their change so far (they have "
                    "not finished: not comparable with the finished-treatment figures)."),
        ReportTable("outcomes_by_service", scale_rows(in_period, "service", HEADLINE_SCALES[:2]),
                    by_group),
        ReportTable("outcomes_by_modality", scale_rows(in_period, "modality", HEADLINE_SCALES[:2]),
                    by_group, "Modality: in person or telehealth for at least 75% of attended sessions, else mixed."),
        ReportTable("self_leadership_trajectory", trajectory,
                    {"measure": "measure", "session_number": "session", "n": "episodes", "mean": "mean",
                     "ci_low": "95% CI low", "ci_high": "95% CI high"},
                    "Episodes by the period they started; a point is published only with at least k contributing."),
        ReportTable("milestone_funnel",
                    funnel.filter(pl.col("dimension").is_in(["overall", "service", "practice"]))
                    .sort(pl.col("dimension") != "overall", "dimension", "level"),
                    {"dimension": "dimension", "level": "group", "episodes": "episodes",
                     **{f"reached_m{i}": f"M{i}" for i in range(1, 6)},
                     **{f"reach_rate_m{i}": f"M{i} rate" for i in range(1, 6)},
                     "episodes_exile_contact_without_permission": "exile contact without permission"}),
        ReportTable("engagement", engagement_by_service,
                    {"dimension": "dimension", "level": "group", "episodes": "episodes", "with_intake": "with intake",
                     "scheduled": "scheduled", "attended": "attended", "attendance_rate": "attendance rate",
                     "dropouts": "dropouts", "dropout_denominator": "ended or lapsed", "dropout_rate": "dropout rate",
                     "median_cadence_days": "median days between sessions"},
                    "All time. Dropout = (unplanned endings + lapsed) / (ended + lapsed)."),
        ReportTable("sessions_by_month", monthly.sort("period"),
                    {"period": "month", "scheduled": "scheduled", "attended": "attended", "cancelled": "cancelled",
                     "no_show": "no-show", "intakes": "intakes", "planned_endings": "planned endings",
                     "unplanned_endings": "unplanned endings", "attendance_rate": "attendance rate"}),
        ReportTable("coaching", coaching.filter(pl.col("dimension").is_in(["overall", "practice"])),
                    {"dimension": "dimension", "level": "group", "coaching_episodes": "coaching episodes",
                     "with_gas": "with GAS", "mean_gas_t_baseline": "first GAS T", "mean_gas_t_latest": "latest GAS T",
                     "mean_gas_t_change": "GAS T change", "mean_follow_through": "follow-through",
                     "choice_points": "choice points", "choice_point_rate": "choice point rate",
                     **COACHING_ROUTES},
                    "Coaching and combined episodes by the period they started; what followed a choice point, in "
                    "the coaching seed's three routes and the other outcomes."),
        ReportTable("helping_professionals", cohorts.sort("instrument", "scale", "dimension", "level"),
                    by_group, "Cohort: clients who are helping professionals beside all other clients."),
        ReportTable("outcomes_by_theme",
                    t["outcomes_by_theme"].filter(pl.col("instrument") == "phq9"),
                    {"theme": "theme", "instrument": "instrument", "scale": "scale", "paired": "paired",
                     "categorised": "paired with a rule", "reliably_improved": "reliably improved",
                     "reliable_improvement_rate": "reliable improvement rate",
                     "clinical_baseline": "clinical at baseline", "recovery_rate": "recovery rate",
                     "reliable_recovery_rate": "reliable recovery rate", "mean_change": "mean change"},
                    "Finished treatment, all time; themes overlap, so rows do not add up."),
        ReportTable("data_quality", quality, {"batch_id": "batch", "table_name": "table",
                    "measure": "measure", "rule": "rule", "rows": "rows"},
                    "Rows, not people (exempt from disclosure control): received = loaded + quarantined + duplicates."),
    ]  # fmt: skip
    by_service = in_period.filter(
        (pl.col("instrument") == "phq9")
        & (pl.col("scale") == "total")
        & pl.col("dimension").is_in(["overall", "service"])
    )
    by_modality = in_period.filter(
        (pl.col("instrument") == "phq9")
        & (pl.col("scale") == "total")
        & pl.col("dimension").is_in(["overall", "modality"])
    )
    rates = {"recovery_rate": "recovery", "reliable_improvement_rate": "reliable improvement",
             "reliable_recovery_rate": "reliable recovery",
             "reliable_deterioration_rate": "reliable deterioration"}  # fmt: skip
    nhs_trend = t["nhs_outcomes"].filter((pl.col("period_type") == "quarter") & (pl.col("dimension") == "overall"))
    chart_set = {
        "categories_by_service": charts.category_bars(by_service, title="PHQ-9 change categories by service"),
        "rates_by_service": charts.rate_bars(by_service, rates, title="PHQ-9 rates by service"),
        "rates_by_modality": charts.rate_bars(by_modality, rates, title="PHQ-9 rates by modality"),
        "self_trajectory": charts.trajectory(trajectory.filter(pl.col("measure") == "self_score_pomp"),
                                             "IFS Self Scale (POMP, 0–100) by attended session", "Self score"),
        "funnel": charts.funnel(funnel.filter(pl.col("dimension") == "overall")),
        "nhs_trend": charts.trend(nhs_trend, "recovery_rate", "NHS recovery of finished treatment, by quarter of "
                                  "discharge", percent=True, n="caseness",
                                  interval=("recovery_rate_ci_low", "recovery_rate_ci_high")),
        "curves": charts.km_curves(curves, "session", "cumulative_incidence"),
        "curves_km": charts.km_curves(curves, "session", "kaplan_meier"),
        "sessions_by_month": charts.counts_trend(monthly.sort("period"), {"attended": "attended", "cancelled": "cancelled",
                                                 "no_show": "no-show", "intakes": "intakes"}, "Sessions by month"),
        "coaching_followed": charts.count_bars(coaching.filter(pl.col("dimension") == "overall"), COACHING_ROUTES,
                                               "What followed a coaching choice point"),
    }  # fmt: skip
    svgs = {name: charts.to_svg(chart) for name, chart in chart_set.items()}
    return Report(period=period, meta=meta, summary=summary, tables=tables, charts=svgs)


# --- rendering ---------------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1080px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:28px;margin:8px 0}h2{border-bottom:2px solid #3b6ea5;padding-bottom:4px;margin-top:36px}
.meta{color:#555;font-size:14px}.note{color:#555;font-size:13px;margin:6px 0 14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:180px;flex:1}
.card .label{font-size:13px;color:#555}.card .value{font-size:26px;font-weight:600}.card .sub{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0;width:100%}
th,td{border:1px solid #e1e1e1;padding:3px 6px;text-align:right}th{background:#f2f4f7}
td.t,th.t{text-align:left}.scroll{overflow-x:auto;max-width:100%}.hidden{color:#a33}.protect{color:#666}.chart{margin:12px 0;overflow-x:auto}
.methods h2{font-size:18px;border:none}.methods{font-size:14px}
code{background:#f3f3f3;padding:0 3px}
.internal{position:fixed;top:0;left:0;right:0;background:#fde2e2;color:#7a0000;font-weight:600;padding:6px 12px}
.internal{z-index:10;font-size:13px}body:has(.internal) main{margin-top:44px}
"""


def _is_mark(text: str) -> bool:
    """A hidden cell's mark (<k, n<k, ‡), not a value."""
    return text.startswith(("<", "n<", PROTECT_MARK))


def _fmt(value: str, column: str, percent: tuple[str, ...] = RATES) -> str:
    if value == "" or _is_mark(value):
        return value
    if column in percent:
        return f"{float(value) * 100:.1f}%"
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.2f}" if "." in value else value


def _table_html(table: ReportTable, k: int) -> str:
    shown = table.shown(k)
    head = "".join(
        f'<th class="{"t" if c in TEXT_COLUMNS else ""}">{html.escape(label)}</th>'
        for c, label in table.columns.items()
    )
    rows = []
    for record in shown.iter_rows(named=True):
        cells = []
        for column in table.columns:
            text = _fmt(record[column], column, RATES if table.percent is None else table.percent)
            cls = (
                ("protect" if text == PROTECT_MARK else "hidden")
                if _is_mark(text)
                else ("t" if not text or (not text[0].isdigit() and text[0] != "-") else "")
            )
            cells.append(f'<td class="{cls}">{html.escape(text)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return (
        f'<div class="scroll"><table id="table-{table.name}"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>{note}<p class="note">CSV: <code>tables/{table.name}.csv</code></p>'
    )


def _card(
    key: str, label: str, value: Any, k: int, rate: bool, sub: str = "", hidden: bool = True, protects: bool = False
) -> str:
    if value is None:
        text = (PROTECT_MARK if protects else f"n<{k}" if rate else f"<{k}") if hidden else "—"
    elif rate:
        text = f"{value * 100:.1f}%"
    elif isinstance(value, float):
        text = f"{value:.2f}"
    else:
        text = f"{value:,}"
    return (
        f'<div class="card"><div class="label">{html.escape(label)}</div>'
        f'<div class="value" data-key="{html.escape(key)}">{html.escape(text)}</div>'
        f'<div class="sub">{html.escape(sub)}</div></div>'
    )


def _fraction(value: Any, k: int, protects: bool = False) -> str:
    """A count beside a headline rate: the number, or its mark (‡ when hidden only to protect another cell)."""
    if value is None:
        return PROTECT_MARK if protects else f"<{k}"
    return f"{value:,}"


def _interval(headline: dict[str, Any], rate: str, k: int) -> str:
    """' · 95% CI a–b' for a published rate (nothing when hidden or absent)."""
    low, high = headline.get(f"{rate}_ci_low"), headline.get(f"{rate}_ci_high")
    if low is None or high is None:
        return ""
    return f" · 95% CI {low * 100:.1f}–{high * 100:.1f}%"


def _change(change: dict[str, Any] | None, k: int) -> str:
    """' · vs 2026-Q2: +3.1 pts (95% CI …)' from period_comparison (nothing without a previous value)."""
    if not change or (change["previous_value"] is None and change["difference"] is None):
        return ""
    if change["difference"] is None:
        return f" · vs {change['previous_period']}: <{k}"
    text = f" · vs {change['previous_period']}: {change['difference'] * 100:+.1f} pts"
    if change["difference_ci_low"] is not None:
        text += f" (95% CI {change['difference_ci_low'] * 100:+.1f} to {change['difference_ci_high'] * 100:+.1f})"
    return text


def _nhs_note(nhs: dict[str, Any], k: int) -> str:
    measures = str(nhs.get("measures") or "the measure pair").upper().replace("+", " and ")
    revised = f" Revised by {nhs['revision']} later load(s)." if nhs.get("revision") else ""
    return html.escape(
        f"Finished treatment on {measures}: {_fraction(nhs['paired'], k)} of {_fraction(nhs['finished'], k)} "
        f"finished episodes paired on both measures. Each rate is out of the count after 'of'.{revised}"
    )


def _methods_html() -> str:
    from markdown_it import MarkdownIt

    from pipeline.package_data import doc_text

    text = doc_text("indicators.md")
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def render_html(report: Report) -> str:
    s, k = report.summary, int(report.summary["disclosure"]["k"])
    tables = {t.name: t for t in report.tables}
    period_label = "all time" if report.period == "all" else report.period
    nhs = s["nhs_talking_therapies"]
    guarded = nhs.get("hidden_to_protect", [])
    nhs_cards = [
        _card(f"nhs.{rate}", label, nhs[rate], k, True,
              f"{_fraction(nhs[num], k, num in guarded)} of {_fraction(nhs[den], k, den in guarded)} {out_of}"
              f"{_interval(nhs, rate, k)}{_change(nhs['change_from_previous'].get(rate), k)}",
              hidden=rate in nhs["suppressed"] + guarded, protects=rate in guarded)
        for label, rate, num, den, out_of in (
            ("Recovery", "recovery_rate", "recovery", "caseness", "at caseness"),
            ("Reliable improvement", "reliable_improvement_rate", "reliable_improvement", "paired", "paired"),
            ("Reliable recovery", "reliable_recovery_rate", "reliable_recovery", "caseness", "at caseness"),
            ("Reliable deterioration", "reliable_deterioration_rate", "reliable_deterioration", "paired", "paired"),
        )
    ]  # fmt: skip
    cards = []
    for key, label in (("phq9.total", "PHQ-9"), ("gad7.total", "GAD-7"), ("ifs_self.total", "IFS Self Scale")):
        h = s["outcomes"].get(key)
        if not h:
            continue
        shield = h.get("hidden_to_protect", [])
        if key != "ifs_self.total":
            cards.append(_card(f"{key}.recovery_rate", f"{label}: recovery", h["recovery_rate"], k, True,
                               f"{_fraction(h['recovery'], k, 'recovery' in shield)} of "
                               f"{_fraction(h['clinical_baseline'], k, 'clinical_baseline' in shield)} clinical at "
                               f"baseline{_interval(h, 'recovery_rate', k)}",
                               hidden="recovery_rate" in h["suppressed"] + shield,
                               protects="recovery_rate" in shield))  # fmt: skip
        cards.append(_card(f"{key}.reliable_improvement_rate", f"{label}: reliable improvement",
                           h["reliable_improvement_rate"], k, True,
                           f"{_fraction(h['reliably_improved'], k, 'reliably_improved' in shield)} of "
                           f"{_fraction(h['categorised'], k, 'categorised' in shield)} paired"
                           f"{_interval(h, 'reliable_improvement_rate', k)}",
                           hidden="reliable_improvement_rate" in h["suppressed"] + shield,
                           protects="reliable_improvement_rate" in shield))  # fmt: skip
    e = s["engagement_all_time"]
    ep = e["hidden_to_protect"]
    engagement_cards = [
        _card("engagement.episodes", "Episodes (all time)", e["episodes"], k, False,
              f"{_fraction(e['with_intake'], k, 'with_intake' in ep)} with an intake", protects="episodes" in ep),
        _card("engagement.attendance_rate", "Attendance", e["attendance_rate"], k, True,
              f"{_fraction(e['attended'], k, 'attended' in ep)} of {_fraction(e['scheduled'], k, 'scheduled' in ep)}"
              " scheduled", protects="attendance_rate" in ep),
        _card("engagement.dropout_rate", "Dropout", e["dropout_rate"], k, True,
              f"{_fraction(e['dropouts'], k, 'dropouts' in ep)} of "
              f"{_fraction(e['dropout_denominator'], k, 'dropout_denominator' in ep)} ended or lapsed",
              protects="dropout_rate" in ep),
    ]  # fmt: skip
    c = s["coaching"]
    coaching_cards = [
        _card("coaching.coaching_episodes", "Coaching episodes", c["coaching_episodes"], k, False),
        _card("coaching.mean_gas_t_change", "Mean GAS T change", c["mean_gas_t_change"], k, False),
        _card("coaching.choice_point_rate", "Reached a choice point", c["choice_point_rate"], k, True,
              f"{_fraction(c['choice_points'], k)} of {_fraction(c['coaching_episodes'], k)}"),
    ]  # fmt: skip

    def section(title: str, body: str) -> str:
        return f"<section><h2>{html.escape(title)}</h2>{body}</section>"

    def chart(name: str) -> str:
        return f'<div class="chart" id="chart-{name}">{report.charts[name]}</div>'

    m = report.meta
    finished_when = "at any time" if report.period == "all" else f"in {report.period}"
    body = [
        f"<h1>IFS outcomes report — {html.escape(period_label)}</h1>",
        f'<p class="meta">Data as of {html.escape(str(m["as_of"]))} · code {html.escape(str(m["code_version"]))} · '
        f"instrument registry {html.escape(str(m['registry_version']))}. Outcomes are for the episodes that "
        f"<b>finished treatment {html.escape(finished_when)}</b>: discharged then, after at least two attended "
        "treatment sessions (the NHS Talking Therapies definition), so a closed period's figures change only when "
        "late data about its own episodes arrives (revision). Process tables are for episodes that started in "
        "the period.</p>",
        f'<p class="note">Disclosure control: {html.escape(str(m["disclosure_rule"]))}. '
        f"{html.escape(legend(k))} Hidden is not zero.</p>",
        section("NHS Talking Therapies measures", f'<p class="note">{_nhs_note(nhs, k)}</p>'
                f'<div class="cards">{"".join(nhs_cards)}</div>' + chart("nhs_trend")
                + _table_html(tables["nhs_outcomes"], k)),
        section("Outcomes by scale", f'<div class="cards">{"".join(cards)}</div>'
                + _table_html(tables["headline_outcomes"], k)),
        section("Change from the previous period", _table_html(tables["change_from_previous_period"], k)
                + _table_html(tables["mean_change_from_previous_period"], k)),
        section("Reliable change and recovery by service and modality",
                chart("categories_by_service") + chart("rates_by_service") + _table_html(tables["outcomes_by_service"], k)
                + chart("rates_by_modality") + _table_html(tables["outcomes_by_modality"], k)),
        section("Self-leadership", chart("self_trajectory") + _table_html(tables["self_leadership_trajectory"], k)),
        section("The IFS process", chart("funnel") + _table_html(tables["milestone_funnel"], k) + chart("curves")
                + '<p class="note">Cumulative incidence (Aalen–Johansen) for all episodes: ending treatment before '
                "a milestone is a competing event — that episode will not reach it. Kaplan–Meier, below as a "
                "sensitivity analysis, treats the ending as if the episode might still reach the milestone later, "
                "so it overstates reach. Points only while at least "
                f"{k} episodes are at risk.</p>" + chart("curves_km")),
        section("Engagement and dropout", f'<div class="cards">{"".join(engagement_cards)}</div>'
                + _table_html(tables["engagement"], k) + chart("sessions_by_month")
                + _table_html(tables["sessions_by_month"], k)),
        section("Coaching", f'<div class="cards">{"".join(coaching_cards)}</div>' + chart("coaching_followed")
                + _table_html(tables["coaching"], k)),
        section(f"In treatment at {m['as_of']}", _table_html(tables["in_treatment"], k)),
        section("Helping professionals", _table_html(tables["helping_professionals"], k)
                + _table_html(tables["outcomes_by_theme"], k)),
        section("Data quality", _table_html(tables["data_quality"], k)),
        f'<section class="methods"><h2>Methods appendix</h2>{_methods_html()}</section>',
    ]  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>IFS outcomes report — {html.escape(period_label)}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f"<body>{_internal_banner(s)}<main>{''.join(body)}</main></body></html>\n"
    )


INTERNAL_WARNING = (
    "INTERNAL — NOT FOR SHARING: this report shows every number exactly, small numbers included (no disclosure "
    "control). For the practice's own eyes; share the default report instead."
)


def _internal_banner(summary: dict[str, Any]) -> str:
    """On every screen and every printed page of an internal report (a fixed element repeats on each page)."""
    if summary.get("audience") != "internal":
        return ""
    return f'<div class="internal">{html.escape(INTERNAL_WARNING)}</div>'


def render_markdown(report: Report) -> str:
    s, k = report.summary, report.summary["disclosure"]["k"]

    def mark(entry: dict[str, Any], field: str, rate: bool) -> str:
        """A hidden value's mark: ‡ hidden to protect another cell, else <k (a count) or n<k (a rate); — absent."""
        if field in entry.get("hidden_to_protect", []):
            return PROTECT_MARK
        if field in entry.get("suppressed", []):
            return f"n<{k}" if rate else f"<{k}"
        return "—"

    def pct(entry: dict[str, Any], field: str) -> str:
        v = entry.get(field)
        return mark(entry, field, True) if v is None else f"{v * 100:.1f}%"

    def count(entry: dict[str, Any], field: str) -> str:
        v = entry.get(field)
        return mark(entry, field, False) if v is None else f"{v:,}"

    nhs = s["nhs_talking_therapies"]
    lines = [
        *([f"**{INTERNAL_WARNING}**", ""] if s.get("audience") == "internal" else []),
        f"## IFS outcomes — {'all time' if report.period == 'all' else report.period} (as of {s['as_of']})",
        "",
        "Finished treatment (discharged in the period after at least two attended sessions).",
        "",
        f"NHS Talking Therapies ({nhs['measures']}): recovery {pct(nhs, 'recovery_rate')} of "
        f"{count(nhs, 'caseness')} at caseness, reliable improvement "
        f"{pct(nhs, 'reliable_improvement_rate')}, reliable recovery {pct(nhs, 'reliable_recovery_rate')}, "
        f"reliable deterioration {pct(nhs, 'reliable_deterioration_rate')}.",
        "",
        "| scale | paired | recovery | reliable improvement | reliable recovery | reliable deterioration |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, h in s["outcomes"].items():
        cells = [pct(h, f) for f in OUTCOME_RATES]
        lines.append(f"| {key} | {count(h, 'paired')} | {' | '.join(cells)} |")
    e, q = s["engagement_all_time"], s["data_quality"]
    lines += [
        "",
        f"Engagement (all time): attendance {pct(e, 'attendance_rate')}, dropout {pct(e, 'dropout_rate')}.",
        f"Marks: {legend(k)}",
        f"Data quality: {q['batches']} batch(es), {q['rows_received']:,} rows received, "
        f"{q['rows_quarantined']:,} quarantined{' — **needs a look**' if q['rows_quarantined'] else ''}.",
        f"Disclosure control: {s['disclosure']['rule']}. Full report: `report.html`.",
        "",
    ]
    return "\n".join(lines)


AUDIENCES = ("shareable", "internal")


def write_report(paths: Paths, period: str | None = None, audience: str = "shareable") -> Path:
    """Build and write the report folder atomically file by file; returns the folder. ``audience="internal"``:
    from `internal.duckdb` (every number exact), under `reports/internal/`, every page marked not for sharing."""
    if audience not in AUDIENCES:
        raise ReportError(f"unknown audience {audience!r}; choose shareable or internal")
    internal = audience == "internal"
    report = build_report(paths.internal_file if internal else paths.aggregate_file, period)
    if internal:
        report.summary["audience"] = "internal"
        report.summary["warning"] = INTERNAL_WARNING
    folder = io.contained(paths.reports / "internal" if internal else paths.reports, report.period)
    k = int(report.summary["disclosure"]["k"])
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for table in report.tables:
        io.write_csv_for_people(table.shown(k), folder / "tables" / f"{table.name}.csv")
    io.write_text_atomic(json.dumps(report.summary, indent=2, default=str) + "\n", folder / "summary.json")
    io.write_text_atomic(render_markdown(report), folder / "summary.md")
    io.write_text_atomic(render_html(report), folder / "report.html")
    return folder
