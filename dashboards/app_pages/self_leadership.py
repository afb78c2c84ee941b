"""Self-leadership: mean Self score, clinician-rated Self-energy and polarization by session number."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

MEASURES = {
    "self_score_pomp": ("IFS Self Scale (POMP, 0–100)", "Self score (POMP)"),
    "clinician_self_energy": ("Clinician-rated Self-energy", "Self-energy rating"),
    "polarization": ("Polarization (clinician-rated)", "polarization"),
}

f = ui.filters()
st.title("Self-leadership")
st.caption(f"{f.label} (period = the month or quarter the episode started). Mean with its 95% CI at each "
           f"attended session; a point is published only when at least {ui.k()} episodes contribute.")  # fmt: skip
points = data_access.query("self_leadership_trajectory", period=f.period, **f.breakdown)
for measure, (title, axis) in MEASURES.items():
    part = points.filter(points["measure"] == measure)
    ui.show_chart(charts.trajectory(part, title, axis), part, ("mean",))
ui.show_table(points, "self_leadership_trajectory",
              columns={"measure": "measure", "session_number": "session", "n": "episodes", "mean": "mean",
                       "ci_low": "95% CI low", "ci_high": "95% CI high"})  # fmt: skip
st.caption("The trajectory describes the episodes still attending at each session: later points come from fewer, "
           "and possibly different, episodes (survivorship), so read it with the n column.")  # fmt: skip
