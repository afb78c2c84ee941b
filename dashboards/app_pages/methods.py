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
rows = []
for inst in ui.registry().instruments.values():
    for scale in inst.scales.values():
        rows.append({
            "instrument": inst.name, "scale": scale.label, "items": len(scale.items),
            "range": f"{scale.min:g}–{scale.max:g}",
            "better": "higher" if scale.higher_is_better else "lower",
            "reliability": "" if scale.reliability is None else f"{scale.reliability:g}",
            "reliable change": (f"{scale.rc_points:g} points" if scale.rc_points is not None else
                                "Jacobson–Truax" if scale.reliability is not None else "—"),
            "clinical cutoff": "" if scale.caseness_cutoff is None else f"{scale.caseness_cutoff:g}",
            "validated": "yes" if inst.validated else "no (practice instrument)",
            "source": inst.citation,
        })  # fmt: skip
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
