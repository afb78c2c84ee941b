"""Overview: the NHS Talking Therapies headline of finished treatment, the chosen scale's outcomes with their
denominators, engagement in the period, and the trend by month or quarter."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

f = ui.filters()
st.title("Overview")
st.caption(f"{f.outcome_label}. Every rate says what it is out of; `<k` means hidden by disclosure control.")

outcomes = data_access.query("outcome_summary", **f.outcome_query)
chosen = ui.first_row(outcomes, instrument=f.instrument, scale=f.scale)
name = ui.scale_label(f.instrument, f.scale)
compared = f.finished and f.period != "all"
comparison = (
    data_access.query("period_comparison", period=f.period, instrument=f.instrument, scale=f.scale, **f.breakdown)
    if compared
    else None
)

st.subheader("NHS Talking Therapies measures")
if f.finished:
    nhs = ui.first_row(data_access.query("nhs_outcomes", period=f.period, dimension=f.dimension), **f.breakdown)
    measures = str(nhs.get("measures", "")) if nhs else ""
    st.caption(
        f"Finished treatment {'at any time' if f.period == 'all' else 'in ' + f.period} on "
        f"{measures.upper().replace('+', ' and ') or 'the measure pair'}: "
        f"{ui.cell(nhs, 'paired')} of {ui.cell(nhs, 'finished')} finished episodes paired on both (completeness "
        f"{ui.cell(nhs, 'paired_rate', True)}); caseness = either measure at or above its cutoff at the start."
        + ui.revision_note(nhs)
    )
    ui.rate_tiles(nhs, "nhs_outcomes", comparison, [
        ("Recovery", "recovery_rate", "recovery", "caseness", "at caseness",
         "At caseness at the start and on neither measure at the end."),
        ("Reliable improvement", "reliable_improvement_rate", "reliable_improvement", "paired", "paired",
         "Either measure reliably improved and neither reliably deteriorated."),
        ("Reliable recovery", "reliable_recovery_rate", "reliable_recovery", "caseness", "at caseness",
         "Recovery and reliable improvement."),
        ("Reliable deterioration", "reliable_deterioration_rate", "reliable_deterioration", "paired", "paired",
         "Either measure reliably deteriorated and neither reliably improved."),
    ])  # fmt: skip
else:
    st.caption("Published for finished treatment only (episodes in treatment have not ended): choose *Finished "
               "treatment* in the sidebar.")  # fmt: skip

st.subheader(name)
rule = ui.rc_rule_text(chosen)
st.caption(
    f"{ui.cell(chosen, 'paired')} paired of {ui.cell(chosen, 'episodes')} with a baseline (completeness "
    f"{ui.cell(chosen, 'paired_rate', True)}). {rule}"
)
ui.rate_tiles(chosen, "outcome_summary", comparison, [
    ("Recovery", "recovery_rate", "recovery", "clinical_baseline", "clinical at baseline",
     "Clinical at baseline and not at the latest administration (crossed the cutoff)."),
    ("Reliable improvement", "reliable_improvement_rate", "reliably_improved", "categorised", "paired with a rule",
     "Reliably improved by the scale's rule."),
    ("Reliable recovery", "reliable_recovery_rate", "recovered", "clinical_baseline", "clinical at baseline",
     "Reliably improved and recovered (the Jacobson-Truax 'recovered' category)."),
    ("Reliable deterioration", "reliable_deterioration_rate", "reliably_deteriorated", "categorised",
     "paired with a rule", "Reliably deteriorated by the scale's rule."),
])  # fmt: skip

if f.period == "all":
    st.subheader("Engagement (all time)")
    episodes = ui.first_row(data_access.query("engagement_summary", dimension=f.dimension), **f.breakdown)
    cols = st.columns(4)
    cols[0].metric("Episodes", ui.cell(episodes, "episodes"), border=True)
    cols[0].caption(f"{ui.cell(episodes, 'with_intake')} with an intake")
    cols[1].metric("Attendance", ui.cell(episodes, "attendance_rate", True), border=True)
    cols[1].caption(f"{ui.cell(episodes, 'attended')} of {ui.cell(episodes, 'scheduled')} scheduled sessions")
    cols[2].metric(
        "Dropout",
        ui.cell(episodes, "dropout_rate", True),
        border=True,
        help="(unplanned endings + lapsed) / (ended + lapsed); lapsed = open, no attended session in the lapse "
        "window (settings engagement.lapse_days).",
    )
    cols[2].caption(f"{ui.cell(episodes, 'dropouts')} of {ui.cell(episodes, 'dropout_denominator')} ended or lapsed")
    cols[3].metric("Median days between sessions", ui.cell(episodes, "median_cadence_days", decimals=1), border=True)
    cols[3].caption(f"over {ui.cell(episodes, 'episodes_with_cadence')} episodes with 2+ sessions")
else:
    st.subheader(f"Engagement in {f.period}")
    period_row = ui.first_row(data_access.query("engagement_period", period=f.period, **f.breakdown))
    cols = st.columns(4)
    cols[0].metric("Sessions attended", ui.cell(period_row, "attended"), border=True)
    cols[0].caption(f"of {ui.cell(period_row, 'scheduled')} scheduled")
    cols[1].metric("Attendance", ui.cell(period_row, "attendance_rate", True), border=True)
    cols[1].caption(f"{ui.cell(period_row, 'cancelled')} cancelled · {ui.cell(period_row, 'no_show')} no-show")
    cols[2].metric("Intakes", ui.cell(period_row, "intakes"), border=True)
    cols[3].metric("Planned endings", ui.cell(period_row, "planned_endings"), border=True)
    cols[3].caption(f"{ui.cell(period_row, 'unplanned_endings')} unplanned · {ui.cell(period_row, 'other_endings')} "
                    "other")  # fmt: skip
    st.caption("Dropout and cadence follow episodes across periods and are published for all time only.")

st.subheader("Every scale")
ui.show_table(
    outcomes,
    "outcome_summary",
    columns={"instrument": "instrument", "scale": "scale", "episodes": "with baseline", "paired": "paired",
             "paired_rate": "completeness", "recovery_rate": "recovery", "clinical_baseline": "clinical at baseline",
             "reliable_improvement_rate": "reliable improvement", "categorised": "paired with a rule",
             "reliable_recovery_rate": "reliable recovery", "reliable_deterioration_rate": "reliable deterioration",
             "rc_rule": "reliable-change rule", "rc_threshold": "threshold", "mean_change": "mean change",
             "d": "d", "d_ci_low": "d 95% CI low", "d_ci_high": "d 95% CI high", "g": "g", "dz": "d_z"},
    percent=("paired_rate", "reliable_improvement_rate", "recovery_rate", "reliable_recovery_rate",
             "reliable_deterioration_rate"),
    caption="Recovery and reliable recovery are out of the paired episodes clinical at baseline; reliable "
            "improvement and deterioration out of the paired episodes whose scale has a reliable-change rule. "
            "d = standardized mean change (positive = better), g = Hedges' g, d_z = mean change / SD of change; "
            "95% CIs by the delta method (Methods).",
)  # fmt: skip

st.subheader("Finished treatment over time")
grain = st.radio("By", ["quarter", "month"], horizontal=True, key="trend_grain",
                 help="Period of discharge. A point is drawn only where its value is published; the line breaks "
                      "at hidden or empty periods. Bars: 95% intervals (Wilson); hover for n.")  # fmt: skip
left, right = st.columns(2)
nhs_trend = data_access.query("nhs_trend", period_type=grain, **f.breakdown)
with left:
    ui.show_chart(
        charts.trend(nhs_trend, "recovery_rate", f"NHS recovery, by {grain} of discharge", percent=True,
                     n="caseness", interval=("recovery_rate_ci_low", "recovery_rate_ci_high")),
        nhs_trend,
        ("recovery_rate",),
    )  # fmt: skip
trend = data_access.query("outcome_trend", period_type=grain, instrument=f.instrument, scale=f.scale, **f.breakdown)
with right:
    ui.show_chart(
        charts.trend(trend, "reliable_improvement_rate", f"{name}: reliable improvement, by {grain} of discharge",
                     percent=True, n="categorised",
                     interval=("reliable_improvement_rate_ci_low", "reliable_improvement_rate_ci_high")),
        trend,
        ("reliable_improvement_rate",),
    )  # fmt: skip
sessions = data_access.query("engagement_trend", **f.breakdown)
ui.show_chart(
    charts.counts_trend(
        sessions,
        {"attended": "attended", "cancelled": "cancelled", "no_show": "no-show", "intakes": "intakes"},
        "Sessions and intakes by month",
    ),
    sessions,
    ("attended", "intakes"),
)
ui.suppression_note()
