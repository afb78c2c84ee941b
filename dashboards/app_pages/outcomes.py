"""Outcomes: change categories and rates by group for one scale, and the Jacobson plot."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

f = ui.filters()
name = ui.scale_label(f.instrument, f.scale)
st.title("Outcomes")
st.caption(f"{name} · {f.outcome_label}")

compare = ui.compare_dimension(f, "outcomes_compare")
by_level = data_access.query("outcome_by_level", population=f.population, period=f.outcome_period,
                             instrument=f.instrument, scale=f.scale, dimension=compare)  # fmt: skip
left, right = st.columns(2)
with left:
    ui.show_chart(charts.category_bars(by_level, title=f"Change categories by {ui.DIMENSIONS[compare].lower()}"),
                  by_level, ("recovered", "improved", "unchanged", "deteriorated", "harmed"))  # fmt: skip
with right:
    rates = {"recovery_rate": "recovery", "reliable_improvement_rate": "reliable improvement",
             "reliable_recovery_rate": "reliable recovery",
             "reliable_deterioration_rate": "reliable deterioration"}  # fmt: skip
    ui.show_chart(charts.rate_bars(by_level, rates, title=f"Rates by {ui.DIMENSIONS[compare].lower()}"), by_level,
                  tuple(rates))  # fmt: skip

ui.show_table(
    by_level,
    "outcomes_by_group",
    columns={"dimension": "dimension", "level": "group", "episodes": "with baseline", "paired": "paired",
             "categorised": "paired with a rule", "recovered": "recovered", "improved": "improved",
             "unchanged": "unchanged", "deteriorated": "deteriorated", "harmed": "harmed",
             "clinical_baseline": "clinical at baseline", "recovery_rate": "recovery",
             "reliable_improvement_rate": "reliable improvement", "reliable_recovery_rate": "reliable recovery",
             "reliable_deterioration_rate": "reliable deterioration", "rc_rule": "reliable-change rule",
             "rc_threshold": "threshold", "mean_baseline": "mean baseline", "mean_latest": "mean latest",
             "mean_change": "mean change", "d": "d", "d_ci_low": "d CI low", "d_ci_high": "d CI high", "g": "g",
             "g_ci_low": "g CI low", "g_ci_high": "g CI high", "dz": "d_z", "dz_ci_low": "d_z CI low",
             "dz_ci_high": "d_z CI high", "revision": "revision"},
    percent=("reliable_improvement_rate", "recovery_rate", "reliable_recovery_rate", "reliable_deterioration_rate"),
    caption="The five categories add up to paired with a rule. Recovery = clinical at baseline and not at the "
            "latest; reliable recovery = the 'recovered' category (reliably improved and recovered): both out of "
            "clinical at baseline. Reliable improvement and deterioration: out of paired with a rule. "
            + ui.rc_rule_text(ui.first_row(by_level)),
)  # fmt: skip

st.subheader("Baseline vs latest (Jacobson plot)")
if not f.finished:
    shown = f"In treatment at {f.as_of}"
elif data_access.clinical_mode():
    shown = f"Finished treatment {f.when}"
else:
    shown = "Finished treatment, every period together (the grid is published for all time)"
st.caption(
    f"{shown}. Points below the dashed diagonal got lower scores. The grey band is the reliable-change band (change "
    "smaller than the scale's reliable-change threshold); the red lines are the clinical cutoff."
)
if data_access.clinical_mode():
    points = data_access.clinical_query("client_change", population=f.population, period=f.period,
                                        instrument=f.instrument, scale=f.scale, **f.breakdown)  # fmt: skip
    ui.show_chart(charts.jacobson_scatter(points, title=f"{name}: one point per paired episode ({points.height})"))
else:
    grid = data_access.query("change_density", population=f.population, instrument=f.instrument, scale=f.scale,
                             **f.breakdown)  # fmt: skip
    ui.show_chart(charts.jacobson_density(grid, title=f"{name}: paired episodes per cell"), grid, ("episodes",))
    st.caption(
        "Aggregate mode shows counts per cell, never single episodes; cells with fewer than "
        f"{ui.k()} episodes are not drawn. Start the dashboard with --clinical for one point per episode."
    )
ui.suppression_note()
