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

SCHEMA_VERSION = "1.0"
HEADLINE_SCALES = (("phq9", "total"), ("gad7", "total"), ("ifs_self", "total"))
HEADLINE_FIELDS = (
    "episodes", "paired", "paired_rate", "reliably_improved", "reliable_improvement_rate", "clinical_baseline",
    "recovered", "recovery_rate", "reliably_deteriorated", "reliable_deterioration_rate", "mean_change", "d",
    "d_ci_low", "d_ci_high",
)  # fmt: skip
RATES = ("paired_rate", "reliable_improvement_rate", "recovery_rate", "reliable_deterioration_rate", "attendance_rate",
         "dropout_rate", "conversion_rate", "choice_point_rate", "mean_follow_through",
         *(f"reach_rate_m{k}" for k in range(1, 6)))  # fmt: skip


TEXT_COLUMNS = ("instrument", "scale", "dimension", "level", "measure", "theme", "batch_id", "table_name", "rule",
                "period")  # fmt: skip


class ReportError(RuntimeError):
    """The report cannot be built (no published file, or an unknown period)."""


@dataclass
class ReportTable:
    """One table of the report: the published rows it shows (with their `_suppressed` flags) and how to show them."""

    name: str
    frame: pl.DataFrame
    columns: dict[str, str]
    note: str = ""

    def shown(self, k: int) -> pl.DataFrame:
        """As displayed and written to CSV: published column names, hidden cells `<k`, absent values empty."""
        out = []
        for column in self.columns:
            value = pl.col(column)
            dtype = self.frame.schema[column]
            text = value.round(4).cast(pl.String) if dtype.is_float() else value.cast(pl.String)
            flag = f"{column}_suppressed"
            if flag in self.frame.columns:
                text = pl.when(pl.col(flag)).then(pl.lit(f"<{k}")).otherwise(text)
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
    return [c for c in columns if row is not None and row.get(f"{c}_suppressed")]


def build_report(aggregate: Path, period: str | None = None) -> Report:
    """Everything the report shows, selected from the published aggregate tables."""
    t = _read(aggregate)
    meta = t["publication"].row(0, named=True)
    k = int(meta["disclosure_k"])
    period = period or latest_complete_quarter(meta["as_of"])
    outcomes = t["outcome_summary"]
    if period not in set(outcomes["period"]):
        known = ", ".join(sorted(set(outcomes["period"]))[-6:])
        raise ReportError(f"no published outcomes for period {period!r}; choose `all` or one of … {known}")
    in_period = outcomes.filter(pl.col("period") == period)
    overall = in_period.filter(pl.col("dimension") == "overall")
    engagement = t["engagement_summary"]
    eng_all = _row(engagement, dimension="overall")
    funnel = t["milestone_funnel"].filter(pl.col("period") == period)
    funnel_all = _row(funnel, dimension="overall")
    coaching = t["coaching_summary"].filter(pl.col("period") == period)
    coaching_all = _row(coaching, dimension="overall")
    quality = t["data_quality"]

    headlines = {}
    for instrument, scale in sorted({(r["instrument"], r["scale"]) for r in overall.iter_rows(named=True)}):
        row = _row(overall, instrument=instrument, scale=scale)
        headlines[f"{instrument}.{scale}"] = {
            **{f: _cell(row, f) for f in HEADLINE_FIELDS},
            "suppressed": _suppressed(row, HEADLINE_FIELDS),
        }
    totals = t["data_quality_summary"].row(0, named=True)
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "period": period,
        "as_of": str(meta["as_of"]),
        "code_version": meta["code_version"],
        "registry_version": meta["registry_version"],
        "warehouse_run_id": meta["warehouse_run_id"],
        "disclosure": {"k": k, "rule": meta["disclosure_rule"]},
        "outcomes": headlines,
        "engagement_all_time": {
            f: _cell(eng_all, f)
            for f in (
                "episodes",
                "with_intake",
                "scheduled",
                "attended",
                "attendance_rate",
                "dropouts",
                "dropout_denominator",
                "dropout_rate",
                "median_cadence_days",
            )
        },
        "milestones": {
            **{f"reach_rate_m{i}": _cell(funnel_all, f"reach_rate_m{i}") for i in range(1, 6)},
            "episodes": _cell(funnel_all, "episodes"),
        },
        "coaching": {
            f: _cell(coaching_all, f)
            for f in (
                "coaching_episodes",
                "mean_gas_t_change",
                "mean_follow_through",
                "choice_points",
                "choice_point_rate",
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
        "paired_rate": "completeness", "reliably_improved": "reliably improved",
        "reliable_improvement_rate": "reliable improvement rate", "clinical_baseline": "clinical at baseline",
        "recovered": "recovered", "recovery_rate": "recovery rate", "reliably_deteriorated": "reliably deteriorated",
        "reliable_deterioration_rate": "deterioration rate", "mean_change": "mean change", "d": "d",
        "d_ci_low": "d CI low", "d_ci_high": "d CI high",
    }  # fmt: skip
    by_group = {"dimension": "dimension", "level": "group", **{c: v for c, v in outcome_columns.items()
                                                                if c not in ("d_ci_low", "d_ci_high")}}  # fmt: skip
    trajectory = t["self_leadership_trajectory"].filter(
        (pl.col("period") == period) & (pl.col("dimension") == "overall")
    )
    curves = t["milestone_curves"]
    engagement_by_service = engagement.filter(pl.col("dimension").is_in(["overall", "service", "modality"]))
    monthly = t["engagement_by_period"].filter((pl.col("period_type") == "month") & (pl.col("dimension") == "overall"))
    cohorts = in_period.filter(
        (pl.col("dimension").is_in(["overall", "cohort"])) & (pl.col("instrument") != "self_energy_8c")
    )
    tables = [
        ReportTable("headline_outcomes", overall.sort("instrument", "scale"), outcome_columns,
                    "Paired = baseline and a later administration; completeness = paired / with baseline; "
                    "recovery rate = recovered / paired episodes clinical at baseline; d = standardized mean "
                    "change, positive = better (CI for all-time rows only)."),
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
                     "referred_to_therapy": "referred to therapy", "continued_coaching": "continued coaching",
                     "ended_otherwise": "ended otherwise", "too_early": "too early to tell"}),
        ReportTable("helping_professionals", cohorts.sort("instrument", "scale", "dimension", "level"),
                    by_group, "Cohort: clients who are helping professionals beside all other clients."),
        ReportTable("outcomes_by_theme",
                    t["outcomes_by_theme"].filter(pl.col("instrument") == "phq9"),
                    {"theme": "theme", "instrument": "instrument", "scale": "scale", "paired": "paired",
                     "reliably_improved": "reliably improved", "recovered": "recovered",
                     "reliable_improvement_rate": "reliable improvement rate", "mean_change": "mean change"},
                    "All time; themes overlap, so rows do not add up."),
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
    rates = {"reliable_improvement_rate": "reliably improved", "recovery_rate": "recovered",
             "reliable_deterioration_rate": "reliably deteriorated"}  # fmt: skip
    chart_set = {
        "categories_by_service": charts.category_bars(by_service, title="PHQ-9 change categories by service"),
        "rates_by_service": charts.rate_bars(by_service, rates, title="PHQ-9 rates by service"),
        "rates_by_modality": charts.rate_bars(by_modality, rates, title="PHQ-9 rates by modality"),
        "self_trajectory": charts.trajectory(trajectory.filter(pl.col("measure") == "self_score_pomp"),
                                             "IFS Self Scale (POMP, 0–100) by attended session", "Self score"),
        "funnel": charts.funnel(funnel.filter(pl.col("dimension") == "overall")),
        "km": charts.km_curves(curves, "session"),
        "sessions_by_month": charts.counts_trend(monthly.sort("period"), {"attended": "attended", "cancelled": "cancelled",
                                                 "no_show": "no-show", "intakes": "intakes"}, "Sessions by month"),
        "coaching_followed": charts.count_bars(coaching.filter(pl.col("dimension") == "overall"),
                                               {"referred_to_therapy": "referred to therapy",
                                                "continued_coaching": "continued coaching",
                                                "ended_otherwise": "ended otherwise", "too_early": "too early to tell"},
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
td.t,th.t{text-align:left}.scroll{overflow-x:auto;max-width:100%}.hidden{color:#a33}.chart{margin:12px 0;overflow-x:auto}
.methods h2{font-size:18px;border:none}.methods{font-size:14px}
code{background:#f3f3f3;padding:0 3px}
"""


def _fmt(value: str, column: str) -> str:
    if value == "" or value.startswith("<"):
        return value
    if column in RATES:
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
            text = _fmt(record[column], column)
            cls = (
                "hidden"
                if text.startswith("<")
                else ("t" if not text or (not text[0].isdigit() and text[0] != "-") else "")
            )
            cells.append(f'<td class="{cls}">{html.escape(text)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return (
        f'<div class="scroll"><table id="table-{table.name}"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>{note}<p class="note">CSV: <code>tables/{table.name}.csv</code></p>'
    )


def _card(key: str, label: str, value: Any, k: int, rate: bool, sub: str = "", hidden: bool = True) -> str:
    if value is None:
        text = f"<{k}" if hidden else "—"
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


def _fraction(value: Any, k: int) -> str:
    return f"<{k}" if value is None else f"{value:,}"


def _methods_html() -> str:
    from markdown_it import MarkdownIt

    from pipeline.package_data import doc_text

    text = doc_text("indicators.md")
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def render_html(report: Report) -> str:
    s, k = report.summary, int(report.summary["disclosure"]["k"])
    tables = {t.name: t for t in report.tables}
    period_label = "all time" if report.period == "all" else report.period
    cards = []
    for key, label in (("phq9.total", "PHQ-9"), ("gad7.total", "GAD-7"), ("ifs_self.total", "IFS Self Scale")):
        h = s["outcomes"].get(key)
        if not h:
            continue
        cards.append(_card(f"{key}.reliable_improvement_rate", f"{label}: reliably improved",
                           h["reliable_improvement_rate"], k, True,
                           f"{_fraction(h['reliably_improved'], k)} of {_fraction(h['paired'], k)} paired"))  # fmt: skip
        if key != "ifs_self.total":
            cards.append(_card(f"{key}.recovery_rate", f"{label}: recovered", h["recovery_rate"], k, True,
                               f"{_fraction(h['recovered'], k)} of {_fraction(h['clinical_baseline'], k)} "
                               "clinical at baseline", hidden="recovery_rate" in h["suppressed"]))  # fmt: skip
    e = s["engagement_all_time"]
    engagement_cards = [
        _card("engagement.episodes", "Episodes (all time)", e["episodes"], k, False,
              f"{_fraction(e['with_intake'], k)} with an intake"),
        _card("engagement.attendance_rate", "Attendance", e["attendance_rate"], k, True,
              f"{_fraction(e['attended'], k)} of {_fraction(e['scheduled'], k)} scheduled"),
        _card("engagement.dropout_rate", "Dropout", e["dropout_rate"], k, True,
              f"{_fraction(e['dropouts'], k)} of {_fraction(e['dropout_denominator'], k)} ended or lapsed"),
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
    body = [
        f"<h1>IFS outcomes report — {html.escape(period_label)}</h1>",
        f'<p class="meta">Data as of {html.escape(str(m["as_of"]))} · code {html.escape(str(m["code_version"]))} · '
        f"instrument registry {html.escape(str(m['registry_version']))}. Outcomes are for episodes whose latest "
        f"administration fell in {html.escape(period_label)}; process tables are for episodes that started in it.</p>",
        f'<p class="note">Disclosure control: {html.escape(str(m["disclosure_rule"]))}; cells that would reveal a '
        f"hidden one by subtraction are hidden too. <span class=\"hidden\">&lt;{k}</span> means hidden, not zero.</p>",
        section("Headline outcomes", f'<div class="cards">{"".join(cards)}</div>'
                + _table_html(tables["headline_outcomes"], k)),
        section("Reliable change and recovery by service and modality",
                chart("categories_by_service") + chart("rates_by_service") + _table_html(tables["outcomes_by_service"], k)
                + chart("rates_by_modality") + _table_html(tables["outcomes_by_modality"], k)),
        section("Self-leadership", chart("self_trajectory") + _table_html(tables["self_leadership_trajectory"], k)),
        section("The IFS process", chart("funnel") + _table_html(tables["milestone_funnel"], k) + chart("km")
                + f'<p class="note">Kaplan–Meier curves for all episodes, censored at the last attended session; '
                f"points only while at least {k} episodes are at risk.</p>"),
        section("Engagement and dropout", f'<div class="cards">{"".join(engagement_cards)}</div>'
                + _table_html(tables["engagement"], k) + chart("sessions_by_month")
                + _table_html(tables["sessions_by_month"], k)),
        section("Coaching", f'<div class="cards">{"".join(coaching_cards)}</div>' + chart("coaching_followed")
                + _table_html(tables["coaching"], k)),
        section("Helping professionals", _table_html(tables["helping_professionals"], k)
                + _table_html(tables["outcomes_by_theme"], k)),
        section("Data quality", _table_html(tables["data_quality"], k)),
        f'<section class="methods"><h2>Methods appendix</h2>{_methods_html()}</section>',
    ]  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>IFS outcomes report — {html.escape(period_label)}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def render_markdown(report: Report) -> str:
    s, k = report.summary, report.summary["disclosure"]["k"]

    def pct(v: Any, hidden: bool = True) -> str:
        return (f"<{k}" if hidden else "—") if v is None else f"{v * 100:.1f}%"

    lines = [
        f"## IFS outcomes — {'all time' if report.period == 'all' else report.period} (as of {s['as_of']})",
        "",
        "| scale | paired | reliably improved | recovered | reliably deteriorated |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, h in s["outcomes"].items():
        paired = f"<{k}" if h["paired"] is None else f"{h['paired']:,}"
        cells = [pct(h[f], f in h["suppressed"]) for f in
                 ("reliable_improvement_rate", "recovery_rate", "reliable_deterioration_rate")]  # fmt: skip
        lines.append(f"| {key} | {paired} | {' | '.join(cells)} |")
    e, q = s["engagement_all_time"], s["data_quality"]
    lines += [
        "",
        f"Engagement (all time): attendance {pct(e['attendance_rate'])}, dropout {pct(e['dropout_rate'])}.",
        f"Data quality: {q['batches']} batch(es), {q['rows_received']:,} rows received, "
        f"{q['rows_quarantined']:,} quarantined{' — **needs a look**' if q['rows_quarantined'] else ''}.",
        f"Disclosure control: {s['disclosure']['rule']}. Full report: `report.html`.",
        "",
    ]
    return "\n".join(lines)


def write_report(paths: Paths, period: str | None = None) -> Path:
    """Build and write the report folder atomically file by file; returns the folder."""
    report = build_report(paths.aggregate_file, period)
    folder = io.contained(paths.reports, report.period)
    k = int(report.summary["disclosure"]["k"])
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for table in report.tables:
        io.write_csv_for_people(table.shown(k), folder / "tables" / f"{table.name}.csv")
    io.write_text_atomic(json.dumps(report.summary, indent=2, default=str) + "\n", folder / "summary.json")
    io.write_text_atomic(render_markdown(report), folder / "summary.md")
    io.write_text_atomic(render_html(report), folder / "report.html")
    return folder
