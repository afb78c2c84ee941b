"""Alerts (clinical mode): episodes flagged for review — not on track, reliable deterioration, a positive risk item."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import data_access, ui

f = ui.filters()
st.title("Alerts")
st.warning("These flags prompt a review of an episode; they are not a safety system and do not replace clinical "
           "judgement or your risk procedures. A skipped risk item is shown, never counted as a risk "
           "flag.")  # fmt: skip
alerts = data_access.clinical_query("alerts", **f.breakdown)
kinds = {"not_on_track": "not on track", "reliably_deteriorated": "reliable deterioration",
         "risk_positive": "risk item positive (PHQ-9 item 9)"}  # fmt: skip
left, right = st.columns(2)
chosen = left.multiselect("Flags", list(kinds), default=list(kinds), format_func=lambda c: kinds[c], key="alert_kinds")
open_only = right.toggle("Open episodes only", value=True, key="alerts_open_only")
shown = alerts.filter(pl.any_horizontal([pl.col(c).fill_null(False) for c in chosen]) if chosen else pl.lit(False))
if open_only:
    shown = shown.filter(pl.col("episode_open"))
cols = st.columns(3)
for col, (column, label) in zip(cols, kinds.items(), strict=True):
    n = shown.filter(pl.col(column).fill_null(False))["client_id"].n_unique()
    col.metric(label, f"{n:,} episode{'s' if n != 1 else ''}", border=True)
st.caption(f"{f.label}. Not on track = change among the worst fifth of other episodes at the same session number "
           "and severity band.")  # fmt: skip
ui.show_table(shown.drop("caveat"), "alerts")
