"""Overview: headline outcomes with their denominators, paired-data completeness, and the monthly trend."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

f = ui.filters()
st.title("Overview")
st.caption(f"Showing {f.label}. Every rate says what it is out of; `<k` means hidden by disclosure control.")

outcomes = data_access.query("outcome_summary", period=f.period, **f.breakdown)
engagement = data_access.query("engagement_summary", dimension=f.dimension)
chosen = ui.first_row(outcomes, instrument=f.instrument, scale=f.scale)
episodes = ui.first_row(engagement, **f.breakdown)
name = ui.scale_label(f.instrument, f.scale)

st.subheader(name)
cols = st.columns(4)
cols[0].metric(
    "Paired episodes",
    ui.cell(chosen, "paired"),
    border=True,
    help="Episodes with a baseline and a later administration of this scale.",
)
cols[0].caption(
    f"of {ui.cell(chosen, 'episodes')} with a baseline · completeness {ui.cell(chosen, 'paired_rate', True)}"
)
cols[1].metric(
    "Reliably improved",
    ui.cell(chosen, "reliable_improvement_rate", True),
    border=True,
    help="reliably_improved / paired (docs/indicators.md §4).",
)
cols[1].caption(f"{ui.cell(chosen, 'reliably_improved')} of {ui.cell(chosen, 'paired')} paired")
cols[2].metric(
    "Recovered",
    ui.cell(chosen, "recovery_rate", True),
    border=True,
    help="Reliably improved and moved from clinical to not clinical, among paired episodes clinical at baseline (§5).",
)
cols[2].caption(f"{ui.cell(chosen, 'recovered')} of {ui.cell(chosen, 'clinical_baseline')} clinical at baseline")
cols[3].metric("Reliably deteriorated", ui.cell(chosen, "reliable_deterioration_rate", True), border=True)
cols[3].caption(f"{ui.cell(chosen, 'reliably_deteriorated')} of {ui.cell(chosen, 'paired')} paired")

st.subheader("Engagement (all time)")
cols = st.columns(4)
cols[0].metric("Episodes", ui.cell(episodes, "episodes"), border=True)
cols[0].caption(f"{ui.cell(episodes, 'with_intake')} with an intake")
cols[1].metric("Attendance", ui.cell(episodes, "attendance_rate", True), border=True)
cols[1].caption(f"{ui.cell(episodes, 'attended')} of {ui.cell(episodes, 'scheduled')} scheduled sessions")
cols[2].metric(
    "Dropout",
    ui.cell(episodes, "dropout_rate", True),
    border=True,
    help="(unplanned endings + lapsed) / (ended + lapsed); lapsed = open, no attended session in 42 days.",
)
cols[2].caption(f"{ui.cell(episodes, 'dropouts')} of {ui.cell(episodes, 'dropout_denominator')} ended or lapsed")
cols[3].metric("Median days between sessions", ui.cell(episodes, "median_cadence_days", decimals=1), border=True)
cols[3].caption(f"over {ui.cell(episodes, 'episodes_with_cadence')} episodes with 2+ sessions")

st.subheader("Every scale")
ui.show_table(
    outcomes,
    "outcome_summary",
    columns={"instrument": "instrument", "scale": "scale", "episodes": "with baseline", "paired": "paired",
             "paired_rate": "completeness", "reliable_improvement_rate": "reliably improved",
             "recovery_rate": "recovered", "reliable_deterioration_rate": "reliably deteriorated",
             "mean_change": "mean change", "d": "effect size d", "d_ci_low": "d 95% CI low",
             "d_ci_high": "d 95% CI high"},
    percent=("paired_rate", "reliable_improvement_rate", "recovery_rate", "reliable_deterioration_rate"),
    caption="Completeness = paired / with baseline. d = standardized mean change (positive = better); its CI "
            "is published for all-time rows only.",
)  # fmt: skip

st.subheader("By month")
trend = data_access.query("outcome_trend", instrument=f.instrument, scale=f.scale, **f.breakdown)
left, right = st.columns(2)
with left:
    ui.show_chart(
        charts.trend(
            trend,
            "reliable_improvement_rate",
            f"{name}: reliably improved, by month of the latest administration",
            percent=True,
        ),
        trend,
        ("reliable_improvement_rate",),
    )
sessions = data_access.query("engagement_trend", **f.breakdown)
with right:
    ui.show_chart(
        charts.counts_trend(
            sessions,
            {"attended": "attended", "cancelled": "cancelled", "no_show": "no-show", "intakes": "intakes"},
            "Sessions and intakes by month",
        ),
        sessions,
        ("attended", "intakes"),
    )
ui.suppression_note()
