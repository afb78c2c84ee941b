"""Outcomes: change categories and rates by group for one scale, and the Jacobson plot."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

f = ui.filters()
name = ui.scale_label(f.instrument, f.scale)
st.title("Outcomes")
st.caption(f"{name} · {f.label}")

compare = ui.compare_dimension(f, "outcomes_compare")
by_level = data_access.query("outcome_by_level", period=f.period, instrument=f.instrument, scale=f.scale,
                             dimension=compare)  # fmt: skip
left, right = st.columns(2)
with left:
    ui.show_chart(charts.category_bars(by_level, title=f"Change categories by {ui.DIMENSIONS[compare].lower()}"),
                  by_level, ("recovered", "improved", "unchanged", "deteriorated", "harmed"))  # fmt: skip
with right:
    rates = {"reliable_improvement_rate": "reliably improved", "recovery_rate": "recovered",
             "reliable_deterioration_rate": "reliably deteriorated"}  # fmt: skip
    ui.show_chart(charts.rate_bars(by_level, rates, title=f"Rates by {ui.DIMENSIONS[compare].lower()}"), by_level,
                  tuple(rates))  # fmt: skip

ui.show_table(
    by_level,
    "outcomes_by_group",
    columns={"dimension": "dimension", "level": "group", "episodes": "with baseline", "paired": "paired",
             "recovered": "recovered", "improved": "improved", "unchanged": "unchanged",
             "deteriorated": "deteriorated", "harmed": "harmed", "reliable_improvement_rate": "reliably improved",
             "recovery_rate": "recovery rate", "reliable_deterioration_rate": "reliably deteriorated",
             "mean_baseline": "mean baseline", "mean_latest": "mean latest", "mean_change": "mean change", "d": "d",
             "g": "g"},
    percent=("reliable_improvement_rate", "recovery_rate", "reliable_deterioration_rate"),
    caption="Categories add up to paired. Recovery rate = recovered / paired episodes clinical at baseline.",
)  # fmt: skip

st.subheader("Baseline vs latest (Jacobson plot)")
st.caption("Points below the dashed diagonal got lower scores. The grey band is the reliable-change band (change "
           "smaller than the scale's reliable-change threshold); the red lines are the clinical cutoff.")  # fmt: skip
if data_access.clinical_mode():
    points = data_access.clinical_query("client_change", instrument=f.instrument, scale=f.scale, **f.breakdown)
    ui.show_chart(charts.jacobson_scatter(points, title=f"{name}: one point per paired episode ({points.height})"))
else:
    grid = data_access.query("change_density", instrument=f.instrument, scale=f.scale, **f.breakdown)
    ui.show_chart(charts.jacobson_density(grid, title=f"{name}: paired episodes per cell"), grid, ("episodes",))
    st.caption(
        "Aggregate mode shows counts per cell, never single episodes; cells with fewer than "
        f"{ui.k()} episodes are not drawn. Start the dashboard with --clinical for one point per episode."
    )
ui.suppression_note()
