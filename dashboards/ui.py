"""Shared UI pieces: the sidebar filters, tables shown with their CSV download, and suppression notes.

Nothing here computes an indicator: filters pick published rows, tables show them (suppressed cells as ``<k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data_access
from pipeline import charts, io
from pipeline.disclosure import DisclosurePolicy, display, hidden_to_protect, legend
from pipeline.package_data import doc_text
from schemas.published import PUBLISHED
from schemas.registry import Registry, default_registry

ALL = "All"
DIMENSIONS = {"practice": "Practice", "service": "Service", "modality": "Modality", "location": "Location",
              "cohort": "Cohort"}  # fmt: skip


#: The outcome populations (outcome_summary.population), as services name them.
POPULATIONS = {"finished_treatment": "Finished treatment", "in_treatment": "In treatment now"}


@dataclass(frozen=True)
class Filters:
    """The published breakdown, period and outcome population the sidebar selects (published rows, never a new
    aggregate). ``as_of`` is the publication's as-of date: the `period` of the in-treatment rows."""

    dimension: str
    level: str
    period: str
    instrument: str
    scale: str
    population: str = "finished_treatment"
    as_of: str = ""

    @property
    def breakdown(self) -> dict[str, str]:
        return {"dimension": self.dimension, "level": self.level}

    @property
    def where(self) -> str:
        return "all episodes" if self.dimension == "overall" else f"{DIMENSIONS[self.dimension]} = {self.level}"

    @property
    def when(self) -> str:
        return "all time" if self.period == "all" else self.period

    @property
    def label(self) -> str:
        return f"{self.where} · {self.when}"

    @property
    def finished(self) -> bool:
        return self.population == "finished_treatment"

    @property
    def outcome_period(self) -> str:
        """The outcome rows' period: the chosen one for finished treatment, the as-of date for in treatment."""
        return self.period if self.finished else self.as_of

    @property
    def outcome_label(self) -> str:
        """Which outcome cohort a page shows, in words."""
        if self.finished:
            when = "at any time" if self.period == "all" else f"in {self.period}"
            return f"Finished treatment {when} (discharged after ≥ 2 attended sessions) · {self.where}"
        return f"In treatment at {self.as_of} (open, not lapsed; change so far) · {self.where}"

    @property
    def outcome_query(self) -> dict[str, str]:
        """The parameters that pick this selection's outcome rows."""
        return {"population": self.population, "period": self.outcome_period, **self.breakdown}


@cache
def registry() -> Registry:
    return default_registry()


def scale_label(instrument: str, scale: str) -> str:
    inst = registry().instruments.get(instrument)
    if inst is None:
        return f"{instrument} {scale}"
    if len(inst.scales) == 1:
        return inst.name
    return f"{inst.name} — {inst.scales[scale].label if scale in inst.scales else scale}"


def _only(dimension: str) -> None:
    """Published aggregates are cut by one dimension at a time, so choosing one clears the others."""
    for other in DIMENSIONS:
        if other != dimension:
            st.session_state[f"filter_{other}"] = ALL


def sidebar_filters() -> Filters:
    """Render the filters and return the selection."""
    breakdowns = data_access.query("breakdowns")
    side = st.sidebar
    side.header("Filters")
    for dim, label in DIMENSIONS.items():
        levels = breakdowns.filter(pl.col("dimension") == dim)["level"].to_list()
        side.selectbox(label, [ALL, *levels], key=f"filter_{dim}", on_change=_only, args=(dim,))
    side.caption("Figures are published for one breakdown at a time (so no view can create a small cell): "
                 "choosing one filter clears the others.")  # fmt: skip
    periods = data_access.query("periods")["period"].to_list()
    period = side.selectbox("Period", periods, key="filter_period",
                            format_func=lambda p: "All time" if p == "all" else p,
                            help="Outcomes of finished treatment: the period of discharge. Engagement: of the "
                                 "session. Milestones and coaching: of the episode's start.")  # fmt: skip
    population = side.radio("Outcomes of", list(POPULATIONS), key="filter_population",
                            format_func=POPULATIONS.__getitem__,
                            help="Finished treatment: episodes discharged in the period after at least two "
                                 "attended sessions (what services report). In treatment now: open episodes' "
                                 "change so far, at the as-of date (the period does not apply).")  # fmt: skip
    scales = data_access.query("scales")
    options = [f"{i}/{s}" for i, s in scales.iter_rows()]
    default = options.index("phq9/total") if "phq9/total" in options else 0
    chosen = side.selectbox("Instrument", options, index=default, key="filter_scale",
                            format_func=lambda o: scale_label(*o.split("/")))  # fmt: skip
    instrument, scale = (chosen or options[0]).split("/")
    dimension, level = "overall", "all"
    for dim in DIMENSIONS:
        value = st.session_state.get(f"filter_{dim}", ALL)
        if value != ALL:
            dimension, level = dim, value
            break
    as_of = str(data_access.publication().get("as_of", ""))
    return Filters(dimension, level, period or "all", instrument, scale, population or "finished_treatment", as_of)


def filters() -> Filters:
    """The current selection (set by the entrypoint on every run)."""
    return st.session_state["filters"]


def k() -> int:
    return data_access.disclosure_k()


def show_table(
    frame: pl.DataFrame,
    name: str,
    columns: dict[str, str] | None = None,
    percent: tuple[str, ...] = (),
    caption: str | None = None,
) -> None:
    """A published table as shown (suppressed → ``<k``), with a CSV download of exactly what is shown."""
    view = data_access.for_display(frame, k(), percent=percent)
    if columns:
        view = view.select([pl.col(c).alias(label) for c, label in columns.items() if c in view.columns])
    st.dataframe(view, hide_index=True, key=f"table_{name}")
    if caption:
        st.caption(caption)
    st.download_button(
        f"Download {name}.csv",
        io.spreadsheet_safe(view).write_csv(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"download_{name}",
    )


def show_chart(chart: charts.AnyChart, frame: pl.DataFrame | None = None, columns: tuple[str, ...] = ()) -> None:
    if not isinstance(chart, alt.FacetChart):
        # Streamlit's default autosize "fit" squeezes title, axes and legend *into* the plot height, leaving a
        # band-scale chart a sliver: fit the width only and keep the plot height the chart asks for.
        chart = chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    st.altair_chart(chart, width="stretch")
    if frame is not None:
        note = charts.suppressed_note(frame, columns, k())
        if note:
            st.caption(note)


def headline(value: object, suppressed: bool, percent: bool = False, decimals: int = 2) -> str:
    """A single published number for st.metric: ``<k`` when suppressed, '—' when not published."""
    if suppressed:
        return f"<{k()}"
    if value is None:
        return "—"
    if percent:
        return f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]
    if isinstance(value, float):
        return f"{value:.{decimals}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


#: The integer columns of the published models: a hidden one is a count (<k); any other hidden value is a rate or
#: statistic with a small count behind it (n<k).
COUNT_COLUMNS = frozenset(c.name for t in PUBLISHED for c in t.declared if c.kind == "int")


def cell(row: dict[str, object] | None, column: str, percent: bool = False, decimals: int = 2) -> str:
    if row is None:
        return "—"
    if row.get(f"{column}_suppressed"):  # the mark says why: <k, n<k or ‡ (disclosure.legend)
        is_count = column in COUNT_COLUMNS and not percent
        return display(None, True, DisclosurePolicy(k=k()), hidden_to_protect(row, column), is_count)
    return headline(row.get(column), False, percent=percent, decimals=decimals)


#: One headline tile: (label, rate column, numerator, denominator, what the denominator is, help text).
TileSpec = tuple[str, str, str, str, str, str]


def change_text(comparison: pl.DataFrame | None, source: str, metric: str) -> tuple[str | None, str]:
    """The published change of ``metric`` against the previous period: (delta for st.metric, one line with the
    95% CI) — empty when the page shows no period or the previous period has no published value."""
    row = first_row(comparison, source=source, metric=metric) if comparison is not None else None
    if row is None or (row.get("previous_value") is None and not row.get("previous_value_suppressed")):
        return None, ""
    previous = row["previous_period"]
    if row.get("difference_suppressed") or row.get("difference") is None:
        return None, f"vs {previous}: <{k()} (hidden)"
    points = float(row["difference"]) * 100  # type: ignore[arg-type]
    delta = f"{points:+.1f} pts vs {previous}"
    if row.get("difference_ci_low") is None:
        return delta, f"vs {previous}: {points:+.1f} pts"
    low, high = (float(row[c]) * 100 for c in ("difference_ci_low", "difference_ci_high"))  # type: ignore[arg-type]
    return delta, f"vs {previous}: {points:+.1f} pts (95% CI {low:+.1f} to {high:+.1f})"


def rate_tiles(
    row: dict[str, object] | None, source: str, comparison: pl.DataFrame | None, specs: list[TileSpec]
) -> None:
    """A row of rate tiles, each with its numerator, its own denominator, its 95% interval and — where a period
    is shown — the change against the previous period with the interval of the difference."""
    for col, (label, rate, numerator, denominator, out_of, help_text) in zip(
        st.columns(len(specs)), specs, strict=True
    ):
        delta, change = change_text(comparison, source, rate)
        worse = "deterioration" in rate
        col.metric(label, cell(row, rate, True), delta=delta, delta_color="inverse" if worse else "normal",
                   border=True, help=f"{help_text} {rate} = {numerator} / {denominator}.")  # fmt: skip
        interval = ""
        if row is not None and row.get(f"{rate}_ci_low") is not None:
            interval = f" · 95% CI {cell(row, f'{rate}_ci_low', True)}–{cell(row, f'{rate}_ci_high', True)}"
        col.caption(f"{cell(row, numerator)} of {cell(row, denominator)} {out_of}{interval}")
        if change:
            col.caption(change)


def revision_note(row: dict[str, object] | None) -> str:
    """Whether a closed period's figures changed after it was first published closed (late data about its own
    episodes)."""
    revision = row.get("revision") if row else None
    if not revision:
        return ""
    return f" Revised: {revision} later load(s) brought data about these episodes after the period closed."


def rc_rule_text(row: dict[str, object] | None) -> str:
    """Which rule decided reliable change on this scale, in words (published on every outcome row)."""
    if row is None or row.get("rc_rule") is None:
        return "This scale has no reliable-change rule: no change categories."
    threshold = row.get("rc_threshold")
    amount = f"{float(threshold):g} points" if threshold is not None else "its threshold"  # type: ignore[arg-type]
    if row["rc_rule"] == "points":
        return f"Reliable change: a change of at least {amount} (the scale's conventional rule)."
    return f"Reliable change: the Jacobson-Truax RCI — a change of more than {amount}."


def first_row(frame: pl.DataFrame, **equal: str) -> dict[str, object] | None:
    """The published row matching the given key values, if any."""
    for column, value in equal.items():
        frame = frame.filter(pl.col(column) == value)
    return frame.row(0, named=True) if frame.height else None


def suppression_note() -> None:
    rule = data_access.publication().get("disclosure_rule", "")
    st.caption(f"Disclosure control: {rule}. {legend(k())} Hidden is not zero.")


def compare_dimension(f: Filters, key: str, default: str = "service") -> str:
    """The dimension whose levels a page compares: the filtered one, else the one the reader picks."""
    if f.dimension != "overall":
        return f.dimension
    return str(
        st.radio(
            "Compare by",
            list(DIMENSIONS),
            index=list(DIMENSIONS).index(default),
            horizontal=True,
            key=key,
            format_func=lambda d: DIMENSIONS[d],
        )
    )


def docs_text(name: str) -> str:
    """A file of docs/, shipped in the package when installed (`pipeline.package_data`)."""
    return doc_text(name)
