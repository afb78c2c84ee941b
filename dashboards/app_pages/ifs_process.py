"""IFS process: milestone funnel M1–M5, time-to-milestone curves and sequence deviations."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

MILESTONES = {
    "M1": "protector trust (trust ≥ 7, unblended)", "M2": "exile contact with protector permission",
    "M3": "unburdening", "M4": "protector release", "M5": "Self-leadership (Self score reliably improved)",
}  # fmt: skip
DEVIATIONS = {
    "episodes_exile_contact_without_permission": "exile contact without protector permission",
    "episodes_m2_before_m1": "M2 events before M1", "episodes_m3_before_m2": "M3 events before M2",
    "episodes_m4_before_m3": "M4 events before M3", "episodes_m5_before_m4": "M5 events before M4",
}  # fmt: skip

f = ui.filters()
st.title("IFS process")
st.caption(f"{f.label} (period = the month or quarter the episode started). Milestones count only when reached "
           "in order; " + "; ".join(f"**{k}** {v}" for k, v in MILESTONES.items()) + ".")  # fmt: skip
compare = ui.compare_dimension(f, "funnel_compare")
funnel = data_access.query("milestone_funnel", period=f.period, dimension=compare)
row = funnel.filter((funnel["dimension"] == f.dimension) & (funnel["level"] == f.level))
left, right = st.columns(2)
with left:
    ui.show_chart(charts.funnel(row), row, tuple(f"reached_m{k}" for k in range(1, 6)))
with right:
    ui.show_chart(charts.count_bars(row, DEVIATIONS, "Episodes with sequence deviations"), row, tuple(DEVIATIONS))

st.subheader("Time to milestone")
unit = st.radio("Time in", ["session", "days"], horizontal=True, key="km_unit",
                format_func=lambda u: "attended sessions" if u == "session" else "days")  # fmt: skip
curves = data_access.query("milestone_curves", unit=unit)
method = st.radio("Method", list(charts.CURVE_METHODS), horizontal=True, key="curve_method",
                  format_func=charts.CURVE_METHODS.__getitem__)  # fmt: skip
ui.show_chart(charts.km_curves(curves, unit, method))
st.caption(
    "Cumulative incidence (the default) counts an episode that ended before reaching a milestone as never reaching "
    "it (ending is a competing event: Aalen-Johansen). Kaplan-Meier instead treats it as if it might still reach "
    "the milestone later, so it overstates reach; it is shown as a sensitivity analysis. All episodes (curves are "
    f"published overall and for all time only); a point is published only while at least {ui.k()} episodes are "
    "at risk."
)

st.subheader(f"Funnel by {ui.DIMENSIONS[compare].lower()}")
ui.show_table(
    funnel,
    "milestone_funnel",
    columns={"dimension": "dimension", "level": "group", "episodes": "episodes", **{f"reached_m{k}": f"M{k}"
             for k in range(1, 6)}, **{f"reach_rate_m{k}": f"M{k} rate" for k in range(1, 6)},
             "median_session_m1": "median session M1", "median_session_m2": "median session M2", **DEVIATIONS},
    percent=tuple(f"reach_rate_m{k}" for k in range(1, 6)),
    caption="Denominator: episodes with at least one attended treatment session.",
)  # fmt: skip
ui.suppression_note()
