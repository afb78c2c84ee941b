"""Methods: the instruments in force (from the registry), the disclosure rule, and every indicator definition."""

from __future__ import annotations

import re

import polars as pl
import streamlit as st

from dashboards import data_access, ui

st.title("Methods")
meta = data_access.publication()
st.info(f"**Disclosure control in force:** {meta.get('disclosure_rule', '')}; a rate is hidden when its numerator, "
        "denominator or their difference is small; a mean, SD or effect size when its n is under "
        f"{meta.get('disclosure_k')}; other cells are hidden too where a hidden one could be recovered by "
        "subtraction. Hidden values show as `<k`, never as a number or 0.")  # fmt: skip
st.caption(
    f"As of {meta.get('as_of')} · instrument registry {meta.get('registry_version')} · code {meta.get('code_version')}"
)

st.header("Instruments")
methods = data_access.query("scale_methods")
k = ui.k()


def _rule(row: dict[str, object]) -> str:
    """The rule as published for the scale (never decided here): points, or Jacobson-Truax with its threshold."""
    if row["rc_rule"] == "points":
        return f"{row['rc_threshold']:g} points or more"
    if row["rc_rule"] == "jacobson_truax":
        threshold = "" if row["rc_threshold"] is None else f" (more than {row['rc_threshold']:.2f} points)"
        return f"Jacobson–Truax{threshold}" if not row.get("rc_threshold_suppressed") else f"Jacobson–Truax (<{k})"
    return "—"


rows = [
    {
        "instrument": row["instrument_name"], "scale": row["scale_label"], "items": row["items"],
        "range": f"{row['scale_min']:g}–{row['scale_max']:g}",
        "better": "higher" if row["higher_is_better"] else "lower",
        "reliability": "" if row["reliability"] is None else f"{row['reliability']:.2f} ({row['reliability_source']})",
        "reliable change": _rule(row),
        "clinical cutoff": "" if row["cutoff"] is None else f"{row['cutoff']:g} ({row['cutoff_source']})",
        "validated": "yes" if row["validated"] else "no (practice instrument)",
        "source": row["citation"],
    }
    for row in methods.iter_rows(named=True)
]  # fmt: skip
st.dataframe(pl.DataFrame(rows), hide_index=True, key="registry")
st.caption("Item wording is not stored: the registry holds scoring rules, norms and citations only.")

st.header("Indicator definitions")
text = ui.docs_text("indicators.md")
sections = re.split(r"(?m)^## ", text)
intro, body = sections[0], sections[1:]
st.markdown(re.sub(r"(?m)^# .*$", "", intro))
for section in body:
    title, _, content = section.partition("\n")
    with st.expander(title.strip(), expanded=False):
        st.markdown(content)
