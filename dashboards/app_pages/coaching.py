"""Coaching: Goal Attainment Scaling, commitment follow-through, choice points and what followed."""

from __future__ import annotations

import streamlit as st

from dashboards import data_access, ui
from pipeline import charts

#: What followed a choice point: the three routes of the coaching seed, then the other outcomes (docs §14).
FOLLOWED = {"season_of_therapy": "a season of therapy", "coaching_and_therapy": "coaching and therapy combined",
            "healing_within_coaching": "IFS healing sessions within coaching",
            "continued_coaching": "continued coaching, no healing work", "ended_otherwise": "ended otherwise",
            "too_early": "too early to tell"}  # fmt: skip

f = ui.filters()
st.title("Coaching")
st.caption(f"Coaching and combined (coaching with therapy) episodes · {f.label} (period = the episode's start)")
compare = ui.compare_dimension(f, "coaching_compare", default="practice")
table = data_access.query("coaching_summary", period=f.period, dimension=compare)
row = table.filter((table["dimension"] == f.dimension) & (table["level"] == f.level))

cols = st.columns(4)
one = row.row(0, named=True) if row.height else None
cols[0].metric(
    "Coaching episodes",
    ui.cell(one, "coaching_episodes"),
    border=True,
    help="Episodes with service coaching or combined, with an intake.",
)
cols[1].metric(
    "Mean GAS T change",
    ui.cell(one, "mean_gas_t_change"),
    border=True,
    help="Latest − first Goal Attainment Scaling T-score (50 = goals met as expected).",
)
cols[1].caption(f"over {ui.cell(one, 'with_gas')} episodes with GAS ratings")
cols[2].metric(
    "Follow-through",
    ui.cell(one, "mean_follow_through", True),
    border=True,
    help="Commitments kept / set in the previous attended session, averaged over episodes.",
)
cols[3].metric("Reached a choice point", ui.cell(one, "choice_point_rate", True), border=True)
cols[3].caption(f"{ui.cell(one, 'choice_points')} of {ui.cell(one, 'coaching_episodes')} coaching episodes")

left, right = st.columns(2)
with left:
    ui.show_chart(charts.means_bars(table, {"mean_gas_t_baseline": "first GAS T", "mean_gas_t_latest": "latest GAS T"},
                                    f"GAS T-scores by {ui.DIMENSIONS[compare].lower()}"), table,
                  ("mean_gas_t_baseline",))  # fmt: skip
with right:
    ui.show_chart(charts.count_bars(row, FOLLOWED, "What followed a choice point"), row, tuple(FOLLOWED))
st.caption("A choice point is practice-defined (Methods, §14): the first session where resistance has stayed high "
           "(mean ≥ 7 over three sessions) and either commitments are not being kept (< 50%) or the latest PHQ-9 "
           "or GAD-7 is at caseness — the moment to consider whether coaching or therapy fits. What followed: a "
           "season of therapy (ended referred to therapy), coaching and therapy combined (a combined episode), IFS "
           " healing sessions within coaching (a later session with exile contact or "
           "unburdening), otherwise continued coaching or another ending — too early to tell while fewer than three "
           "further sessions have been attended.")  # fmt: skip
ui.show_table(table, "coaching_summary",
              columns={"dimension": "dimension", "level": "group", "coaching_episodes": "coaching episodes",
                       "with_gas": "with GAS", "mean_gas_t_baseline": "first GAS T",
                       "mean_gas_t_latest": "latest GAS T", "mean_gas_t_change": "GAS T change",
                       "with_follow_through": "with follow-through", "mean_follow_through": "follow-through",
                       "choice_points": "choice points", "choice_point_rate": "choice point rate", **FOLLOWED},
              percent=("choice_point_rate", "mean_follow_through"))  # fmt: skip
ui.suppression_note()
