"""Helping professionals: ProQOL subscales and outcomes by presenting theme, beside the other clients."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

f = ui.filters()
st.title("Helping professionals")
st.caption("Clients who are themselves therapists, nurses, teachers and other helpers, beside all other clients. "
           f"Outcomes: {f.outcome_label.split(' · ')[0]}.")  # fmt: skip

proqol = data_access.query("outcome_instrument", population=f.population, period=f.outcome_period,
                           instrument="proqol5", dimension="cohort")  # fmt: skip
professionals = proqol.filter((proqol["dimension"] == "cohort") & (proqol["level"] == "helping_professional"))
st.subheader("Professional Quality of Life (ProQOL 5)")
ui.show_chart(charts.means_bars(professionals, {"mean_baseline": "baseline", "mean_latest": "latest"},
                                "ProQOL subscale means of helping professionals, baseline and latest", by="scale"),
              professionals, ("mean_baseline",))  # fmt: skip
ui.show_table(proqol, "proqol_by_cohort",
              columns={"scale": "subscale", "level": "cohort", "episodes": "with baseline", "paired": "paired",
                       "mean_baseline": "mean baseline", "mean_latest": "mean latest", "mean_change": "mean change",
                       "reliable_improvement_rate": "reliable improvement", "d": "d", "d_ci_low": "d CI low",
                       "d_ci_high": "d CI high"},
              percent=("reliable_improvement_rate",),
              caption="Burnout and secondary traumatic stress: lower is better; compassion satisfaction: higher is "
                      "better (d is signed so positive = better).")  # fmt: skip

st.subheader(f"{ui.scale_label(f.instrument, f.scale)} by cohort")
symptoms = data_access.query("outcome_by_level", population=f.population, period=f.outcome_period,
                             instrument=f.instrument, scale=f.scale, dimension="cohort")  # fmt: skip
ui.show_chart(charts.category_bars(symptoms, title="Change categories by cohort"), symptoms, ("recovered",))

st.subheader("Outcomes by presenting theme (finished treatment, all time)")
themes = data_access.query("outcomes_by_theme")
mine = themes.filter((themes["instrument"] == f.instrument) & (themes["scale"] == f.scale))
ui.show_chart(
    charts.rate_bars(
        mine,
        {"reliable_improvement_rate": "reliable improvement", "recovery_rate": "recovery"},
        by="theme",
        title="Reliable improvement and recovery by presenting theme",
    ),
    mine,
    ("reliable_improvement_rate", "recovery_rate"),
)
ui.show_table(
    themes,
    "outcomes_by_theme",
    columns={
        "theme": "theme",
        "instrument": "instrument",
        "scale": "scale",
        "paired": "paired",
        "categorised": "paired with a rule",
        "reliably_improved": "reliably improved",
        "reliable_improvement_rate": "reliable improvement",
        "clinical_baseline": "clinical at baseline",
        "recovery_rate": "recovery",
        "reliable_recovery_rate": "reliable recovery",
        "mean_change": "mean change",
    },
    percent=("reliable_improvement_rate", "recovery_rate", "reliable_recovery_rate"),
    caption="Themes overlap: an episode counts under each of its themes, so rows do not add up.",
)
ui.suppression_note()
