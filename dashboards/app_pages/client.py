"""Client (clinical mode): one episode's trajectory, reliable change and IFS milestones."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

#: At most this many ids are offered at once (the browser gets a list, not the whole practice).
CHOICES = 500

f = ui.filters()
st.title("Client")
prefix = st.text_input("Find an episode: the first characters of its pseudonymous id", key="client_prefix")
found = data_access.clinical_query("clients", **f.breakdown, prefix=prefix.strip(), limit=CHOICES)
if not found.height:
    st.info("No episode in this breakdown starts with that." if prefix.strip() else "No episode in this breakdown.")
    st.stop()
matches = int(found["matches"][0])
label = "Episode" + (
    f" (the first {CHOICES:,} of {matches:,}; type more of the id to narrow)" if matches > CHOICES else ""
)
client_id = st.selectbox(label, found["client_id"].to_list(), key="client_id")
episode = data_access.clinical_query("client_episode", client_id=client_id)
if episode.height:
    e = episode.row(0, named=True)
    cols = st.columns(4)
    cols[0].metric("Service", str(e["service"]), border=True)
    cols[1].metric("Attended sessions", f"{e['attended']} of {e['scheduled']}", border=True)
    cols[2].metric("Modality", str(e["modality"] or "—"), border=True)
    cols[3].metric("Ending", str(e["ending"] or ("lapsed" if e["lapsed"] else "open")), border=True)
scores = data_access.clinical_query("client_scores", client_id=client_id)
ui.show_chart(charts.client_trajectory(scores))
st.subheader("Reliable change per scale")
outcomes = data_access.clinical_query("client_outcomes", client_id=client_id)
ui.show_table(outcomes.select("instrument", "scale", "baseline_date", "baseline_score", "latest_date", "latest_score",
                              "change", "rc_threshold", "reliably_improved", "reliably_deteriorated",
                              "clinical_baseline", "clinical_latest", "category"), "client_change")  # fmt: skip
st.subheader("IFS milestones")
milestones = data_access.clinical_query("client_milestones", client_id=client_id)
if milestones.height:
    m = milestones.row(0, named=True)
    reached = pl.DataFrame({
        "milestone": [f"M{k}" for k in range(1, 6)],
        "date": [str(m[f"m{k}_date"] or "") for k in range(1, 6)],
        "session": [m[f"m{k}_session"] for k in range(1, 6)],
        "days": [m[f"m{k}_days"] for k in range(1, 6)],
    })  # fmt: skip
    st.caption(f"Stage reached: M{m['stage_reached']} · attended sessions so far: {m['last_session']}")
    ui.show_table(reached, "client_milestones")
else:
    st.info("No attended treatment session yet, so no milestones.")
