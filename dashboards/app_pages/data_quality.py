"""Data quality: batches loaded, rows received/loaded/quarantined/collapsed, quarantined rows by rule, completeness."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import data_access, ui

f = ui.filters()
st.title("Data quality")
st.caption("Counts of rows, not people (exempt from disclosure control). Every received row is loaded, "
           "quarantined with its reasons, or collapsed as an exact duplicate: received = loaded + quarantined + "
           "duplicates.")  # fmt: skip
quality = data_access.query("data_quality")
counts = quality.filter(pl.col("rule").is_null())
if counts.height:
    wide = counts.pivot(
        on="measure", index=["batch_id", "as_of", "table_name"], values="rows", aggregate_function="first"
    )
    order = [c for c in ("batch_id", "as_of", "table_name", "received", "loaded", "quarantined", "duplicates")
             if c in wide.columns]  # fmt: skip
    wide = wide.select(order)
    totals = data_access.query("data_quality_summary").row(0, named=True)
    cols = st.columns(4)
    cols[0].metric("Batches loaded", f"{totals['batches']:,}", border=True)
    for col, measure in zip(cols[1:], ("received", "quarantined", "duplicates"), strict=True):
        col.metric(f"Rows {measure}", f"{totals[measure]:,}", border=True)
    st.subheader("Rows per batch and table")
    ui.show_table(wide, "data_quality_counts")
else:
    st.info("No batch has been loaded yet.")

by_rule = quality.filter(pl.col("rule").is_not_null())
st.subheader("Quarantined rows by rule")
if by_rule.height:
    ui.show_table(
        by_rule.select("batch_id", "table_name", "rule", "rows"),
        "quarantine_by_rule",
        caption="The held-back rows and their reasons are under <home>/quarantine/<batch>/: fix and resend.",
    )
else:
    st.success("No row has been quarantined.")

st.subheader("Paired-data completeness")
outcomes = data_access.query("outcome_summary", **f.outcome_query)
ui.show_table(outcomes, "completeness",
              columns={"instrument": "instrument", "scale": "scale", "episodes": "with baseline",
                       "paired": "paired", "paired_rate": "completeness"},
              percent=("paired_rate",),
              caption=f"{f.outcome_label}. An episode without a later administration cannot show change; low "
                      "completeness makes every outcome rate less representative.")  # fmt: skip
meta = data_access.publication()
st.subheader("This publication")
st.dataframe(pl.DataFrame({"field": list(meta), "value": [str(v) for v in meta.values()]}), hide_index=True)
