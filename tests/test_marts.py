"""The marts (`pipeline/marts/`): given/expected rows from a few episodes for each published table, invariants of
every table on the sample (grain unique, numerator ≤ denominator, parts add up to their whole), the shared SQL rules
against their Python twins, and the publication's tables against the marts and their models."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import polars as pl
import pytest

from pipeline import io, marts
from pipeline.change import is_clinical, point_change_flags, reliable_change_flags
from pipeline.config import Paths
from pipeline.marts import MARTS
from pipeline.marts.milestone_curves import milestone_curve
from pipeline.settings import DEFAULTS
from schemas.published import PUBLISHED
from schemas.registry import default_registry
from tests.sql_harness import D0, build, finished_episode, finished_warehouse, warehouse, weeks, with_settings

D = dt.date


def _by(frame: pl.DataFrame, **equal: Any) -> dict[str, Any]:
    for column, value in equal.items():
        frame = frame.filter(pl.col(column) == value) if value is not None else frame.filter(pl.col(column).is_null())
    assert frame.height == 1, (equal, frame)
    return frame.row(0, named=True)


def _mart(name: str) -> marts.Mart:
    return next(m for m in MARTS if m.name == name)


# --- outcome_summary -------------------------------------------------------------------------------------------


# The cohorts, rates, effect sizes and NHS metrics of outcome_summary: tests/test_outcome_cohorts.py.


def test_a_scale_without_a_reliable_change_rule_is_paired_but_not_categorised() -> None:
    """One paired episode on a scale whose rule needs the SD of the paired baselines: no rule, no category — the
    categories add up to `categorised`, not to `paired` (this once stopped publishing with exit 3)."""
    change = [{"client_id": "A", "instrument": "proqol5", "scale": "burnout", "higher_is_better": False,
               "baseline_date": D0, "baseline_score": 30.0, "latest_date": D(2026, 5, 4), "latest_score": 25.0,
               "paired": True, "change": -5.0}]  # fmt: skip
    table = _mart("outcome_summary").build(build(finished_warehouse("A", client_change=change)))
    row = _by(table, population="finished_treatment", period_type="all", dimension="overall", instrument="proqol5")
    assert (row["paired"], row["categorised"], row["unchanged"], row["reliable_improvement_rate"]) == (1, 0, 0, None)


# --- engagement ------------------------------------------------------------------------------------------------


def _engagement_warehouse() -> Any:
    clients = [
        {"client_id": "A", "intake_date": D(2026, 1, 5), "discharge_date": D(2026, 3, 31),
         "discharge_reason": "completed"},
        {"client_id": "B", "intake_date": D(2026, 2, 2), "discharge_date": D(2026, 4, 1),
         "discharge_reason": "client_withdrew"},
        {"client_id": "C", "intake_date": D(2026, 6, 1)},  # open; lapsed by the as-of date
        {"client_id": "E", "intake_date": None},  # consultation only
    ]  # fmt: skip
    sessions = [
        *({"client_id": "A", "session_date": d, "kind": "intake" if i == 0 else "regular"}
          for i, d in enumerate(weeks(D(2026, 1, 5), 4))),
        {"client_id": "A", "session_date": D(2026, 3, 30), "status": "no_show", "duration_min": None},
        {"client_id": "B", "session_date": D(2026, 2, 2), "kind": "intake"},
        {"client_id": "B", "session_date": D(2026, 2, 9), "status": "cancelled", "duration_min": None},
        {"client_id": "C", "session_date": D(2026, 6, 1), "kind": "intake"},
        {"client_id": "E", "session_date": D(2026, 5, 1), "kind": "consultation"},
    ]  # fmt: skip
    return warehouse(clients, sessions)


def test_engagement_summary_given_expected() -> None:
    table = _mart("engagement_summary").build(build(_engagement_warehouse()))
    o = _by(table, dimension="overall")
    assert (o["episodes"], o["consultation_only"], o["with_intake"]) == (4, 1, 3)
    assert (o["scheduled"], o["attended"], o["cancelled"], o["no_show"]) == (8, 6, 1, 1)  # consultation not counted
    assert (o["ended"], o["planned"], o["unplanned"], o["lapsed"]) == (2, 1, 1, 1)
    assert (o["dropouts"], o["dropout_denominator"]) == (2, 3)  # (unplanned + lapsed) / (ended + lapsed)
    assert o["dropout_rate"] == pytest.approx(2 / 3) and o["conversion_rate"] == pytest.approx(3 / 4)
    assert o["episodes_with_cadence"] == 1 and o["median_cadence_days"] == 7  # only A has two attended sessions


def test_engagement_by_period_given_expected() -> None:
    table = _mart("engagement_by_period").build(build(_engagement_warehouse()))
    jan = _by(table, period_type="month", period="2026-01", dimension="overall")
    assert (jan["scheduled"], jan["attended"], jan["intakes"]) == (4, 4, 1)  # A's four weekly sessions and intake
    feb = _by(table, period_type="month", period="2026-02", dimension="overall")
    assert (feb["scheduled"], feb["attended"], feb["cancelled"], feb["intakes"]) == (2, 1, 1, 1)
    march = _by(table, period_type="month", period="2026-03", dimension="overall")
    assert (march["no_show"], march["planned_endings"], march["parent_period"]) == (1, 1, "2026-Q1")  # 31 March
    april = _by(table, period_type="month", period="2026-04", dimension="overall")
    assert (april["unplanned_endings"], april["scheduled"], april["attendance_rate"]) == (1, 0, None)
    q1 = _by(table, period_type="quarter", period="2026-Q1", dimension="overall")
    assert q1["scheduled"] == 7 and q1["intakes"] == 2  # January to March add up to the quarter


# --- the IFS process -------------------------------------------------------------------------------------------


def test_milestone_funnel_given_expected() -> None:
    trust, exile = {"protector_trust": 8, "unblending": "full"}, {"exile_contact": True, "protector_permission": True}
    sessions = [
        {"client_id": "A", "session_date": D(2026, 1, 5), **trust, **exile},
        {"client_id": "A", "session_date": D(2026, 1, 12), "unburdening": "partial"},
        {"client_id": "B", "session_date": D(2026, 4, 6), **trust},
        {"client_id": "C", "session_date": D(2026, 4, 7), "exile_contact": True, "protector_permission": False},
    ]
    con = warehouse([{"client_id": c} for c in "ABCD"], sessions)  # D: no attended session, no milestones row
    table = _mart("milestone_funnel").build(build(con))
    o = _by(table, period_type="all", dimension="overall")
    assert [o[f"reached_m{k}"] for k in range(1, 6)] == [2, 1, 1, 0, 0] and o["episodes"] == 3
    assert o["episodes_exile_contact_without_permission"] == 1 and o["reach_rate_m1"] == pytest.approx(2 / 3)
    assert o["median_session_m1"] == 1.0
    q2 = _by(table, period_type="quarter", period="2026-Q2", dimension="overall")  # started in April
    assert (q2["episodes"], q2["reached_m1"]) == (2, 1)


def test_kaplan_meier_with_censoring() -> None:
    milestones = pl.DataFrame(
        {"m1_session": [1, 2, 2, None, None, 5], "last_session": [4, 6, 3, 3, 4, 8],
         "m1_days": [0, 7, 7, None, None, 28], "last_days": [21, 35, 14, 14, 21, 49]}
    )  # fmt: skip
    curve = milestone_curve(milestones, 1)
    # t=1: 1 of 6 -> S = 5/6; t=2: 2 of 5 -> S = 1/2; censored at 3 and 4; t=5: 1 of 1 at risk
    assert curve["time"].to_list() == [1, 2, 5]
    assert curve["at_risk"].to_list() == [6, 5, 1]
    assert curve["cumulative_reached"].to_list() == pytest.approx([1 / 6, 1 / 2, 1.0])
    assert milestone_curve(milestones, 1, min_at_risk=2)["time"].to_list() == [1, 2]
    assert milestone_curve(milestones, 1, unit="days")["time"].to_list() == [0, 7, 28]


# --- self-leadership, coaching, themes, the density grid ---------------------------------------------------


def test_self_leadership_trajectory_given_expected() -> None:
    days = weeks(D(2026, 1, 5), 2)
    sessions = [{"client_id": c, "session_date": d, "self_energy": v + i}
                for c, v in (("A", 4), ("B", 6)) for i, d in enumerate(days)]  # fmt: skip
    con = warehouse([{"client_id": "A"}, {"client_id": "B"}], sessions)
    table = _mart("self_leadership_trajectory").build(build(con))
    first = _by(table, period_type="all", dimension="overall", measure="clinician_self_energy", session_number=1)
    assert (first["n"], first["mean"]) == (2, 5.0)
    half = 1.4142135623730951 / math.sqrt(2) * 12.706204736174698  # SD √2, t(0.975, 1)
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((5.0 - half, 5.0 + half))
    assert table.filter(pl.col("measure") == "self_score_pomp").height == 0  # missing data: no Self scores, no rows
    capped = _mart("self_leadership_trajectory").build(
        build(warehouse([{"client_id": "A"}, {"client_id": "B"}], sessions),
              with_settings(self_leadership={"trajectory_max_session": 1}))
    )  # fmt: skip
    assert set(capped["session_number"]) == {1}


def test_coaching_summary_given_expected() -> None:
    clients = [{"client_id": c, "service": "coaching"} for c in "ABC"]
    sessions = [{"client_id": c, "session_date": d, "resistance": 9, "commitments_set": 2, "commitments_kept": 0}
                for c in "AB" for d in weeks(D(2026, 1, 5), 3)]  # fmt: skip
    goals = [{"client_id": "A", "goal_id": "g1", "set_on": D0, "rated_on": D0, "attainment": 1}]
    table = _mart("coaching_summary").build(build(warehouse(clients, sessions, goals=goals)))
    o = _by(table, period_type="all", dimension="overall")
    assert (o["coaching_episodes"], o["with_gas"], o["choice_points"], o["too_early"]) == (3, 1, 2, 2)
    assert o["choice_point_rate"] == pytest.approx(2 / 3) and o["mean_follow_through"] == 0.0
    assert set(table["dimension"]) == {"overall", "practice", "service", "modality", "location", "cohort"}


def test_outcomes_by_theme_given_expected() -> None:
    change = [{"client_id": c, "instrument": "phq9", "scale": "total", "paired": True, "change": x,
               "reliably_improved": r, "category": "improved" if r else "unchanged"}
              for c, x, r in (("A", -8.0, True), ("B", -1.0, False), ("C", -2.0, None))]  # fmt: skip
    themes = {"A": "burnout;imposter", "B": "burnout ; anxiety", "C": None, "D": "depression"}
    clients, sessions = [], []
    for cid, theme in themes.items():  # D never finished treatment (one attended session): not counted
        row, visits = finished_episode(cid, attended=1 if cid == "D" else 2, presenting_themes=theme)
        clients.append(row)
        sessions += visits
    change.append({**change[0], "client_id": "D"})
    table = _mart("outcomes_by_theme").build(build(warehouse(clients, sessions, client_change=change)))
    burnout = _by(table, theme="burnout")
    assert (burnout["paired"], burnout["reliably_improved"], burnout["mean_change"]) == (2, 1, -4.5)
    assert burnout["reliable_improvement_rate"] == 0.5
    assert _by(table, theme="anxiety")["paired"] == 1  # spaces around the separator are not part of a theme
    assert set(table["theme"]) == {"burnout", "imposter", "anxiety"}  # C has no theme, D did not finish


def test_change_density_bins_and_edges() -> None:
    change = [{"client_id": c, "instrument": "phq9", "scale": "total", "higher_is_better": False, "paired": True,
               "baseline_score": b, "latest_score": x, "rc_threshold": 6.0, "cutoff": 10.0}
              for c, b, x in (("A", 27.0, 0.0), ("B", 3.375, 3.374), ("C", 13.0, 13.0))]  # fmt: skip
    table = _mart("change_density").build(build(finished_warehouse("ABC", client_change=change)))
    table = table.filter(pl.col("population") == "finished_treatment")
    cells = table.filter((pl.col("dimension") == "overall") & (pl.col("cell") != "all"))
    assert sorted(cells["cell"]) == ["b1-l0", "b3-l3", "b7-l0"]  # 27 is in the top bin (closed); 3.375 starts bin 1
    top = _by(cells, cell="b7-l0")
    assert (top["baseline_low"], top["baseline_high"], top["episodes"]) == (23.625, 27.0, 1)
    assert _by(table, dimension="overall", cell="all")["episodes"] == 3 and top["parent_cell"] == "all"


def test_scale_methods_print_the_rules_the_flags_followed() -> None:
    change = [{"client_id": "A", "instrument": "phq9", "scale": "total", "paired": True, "rc_rule": "points",
               "rc_threshold": 6.0, "cutoff": 10.0}]  # fmt: skip
    con = warehouse([{"client_id": "A"}], client_change=change)
    con.execute("CREATE TABLE scale_reliability AS SELECT 'phq9' AS instrument, 'total' AS scale, 0.89::DOUBLE AS "
                "reliability_used, 'published' AS reliability_source, NULL::DOUBLE AS alpha_estimated, "
                "0 AS n_baseline_complete")  # fmt: skip
    table = _mart("scale_methods").build(build(con))
    phq9 = _by(table, instrument="phq9", scale="total")
    assert (phq9["rc_rule"], phq9["rc_threshold"], phq9["paired"], phq9["reliability"]) == ("points", 6.0, 1, 0.89)
    gad7 = _by(table, instrument="gad7", scale="total")  # no episode: the registry's cutoff, no data-derived rule
    assert (gad7["paired"], gad7["rc_rule"], gad7["cutoff"], gad7["cutoff_source"]) == (0, None, 8.0, "caseness")
    assert _by(table, instrument="self_energy_8c", scale="self_energy")["validated"] is False
    assert table.height == sum(len(i.scales) for i in default_registry().instruments.values())


# --- the shared rules: SQL macros against their Python twins -----------------------------------------------------


@pytest.mark.parametrize("rule", ["points", "jacobson_truax"])
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_sql_reliable_change_and_clinical_rules_agree_with_python(rule: str, higher_is_better: bool) -> None:
    con = warehouse()
    build(con)
    s = 1 if higher_is_better else -1
    for change in (-7.0, -6.0, -5.999, 0.0, 5.999, 6.0, 7.0):
        sql = con.execute(
            "SELECT reliably_improved(direction(?) * ?, ?, 6.0), reliably_improved(-direction(?) * ?, ?, 6.0)",
            [higher_is_better, change, rule, higher_is_better, change, rule],
        ).fetchall()[0]
        if rule == "points":
            improved, deteriorated = point_change_flags(np.array([change]), higher_is_better, 6.0)
        else:  # the JT threshold is the critical difference z·√2·SD·√(1 − r): RCI beyond z <=> change beyond it
            rci = np.array([change / 6.0 * 1.959963984540054])
            improved, deteriorated = reliable_change_flags(rci, higher_is_better)
        assert sql == (bool(improved[0]), bool(deteriorated[0])), (rule, higher_is_better, change, s)
    for score in (9.0, 10.0, 11.0):
        sql = con.execute("SELECT is_clinical(?, 10.0, ?)", [score, higher_is_better]).fetchall()[0][0]
        assert sql == bool(is_clinical(np.array([score]), 10.0, higher_is_better)[0])


# --- every mart on the sample: its model, and its invariants ------------------------------------------------------


@pytest.fixture(scope="module")
def internal(published_sample: Paths) -> dict[str, pl.DataFrame]:
    """Every table of the sample's publication before disclosure control."""
    with io.warehouse(published_sample.warehouse, read_only=True) as con:
        return marts.build_all(con, dt.date(2026, 10, 31), DEFAULTS, default_registry())


def test_every_published_table_has_one_mart_and_one_model() -> None:
    modelled = {(t.file, t.name) for t in PUBLISHED if t.name != "publication" and t.file != "internal"}
    assert modelled == {(m.file, m.name) for m in MARTS}
    # the internal file holds every aggregate table, unsuppressed, under the same model
    internal = {t.name for t in PUBLISHED if t.file == "internal"}
    assert internal == {t.name for t in PUBLISHED if t.file == "aggregate"}
    assert len({m.name for m in MARTS}) == len(MARTS)


@pytest.mark.parametrize("mart", [m for m in MARTS if m.layout is not None], ids=lambda m: m.name)
def test_every_aggregate_mart_holds_its_invariants(mart: marts.Mart, internal: dict[str, pl.DataFrame]) -> None:
    """Grain unique; numerator ≤ denominator; parts add up to their whole — within a row, over the levels of
    every dimension, and over the months of a quarter and the quarters of all time."""
    table, layout = internal[mart.name], mart.layout
    assert layout is not None and table.height > 0
    assert not table.select(pl.struct(list(layout.keys)).is_duplicated().any()).item()
    for _, num, den in layout.rates:
        assert (table[num] <= table[den]).all(), num
    for total, parts in layout.row_sums:  # a `~remainder` is unpublished: the published parts are at most the total
        published = [p for p in parts if not p.startswith("~")]
        if len(published) == len(parts):
            assert (table.select(sum(pl.col(p) for p in parts) == pl.col(total)).to_series()).all(), total
        else:
            assert (table.select(sum(pl.col(p) for p in published) <= pl.col(total)).to_series()).all(), total
    counts = [c for c in layout.counts if mart.name != "outcomes_by_theme"]
    if layout.dimension is not None and counts:
        others = [k for k in layout.keys if k not in ("dimension", "level")] or ["_all"]
        keyed = table.with_columns(pl.lit(0).alias("_all"))
        overall = keyed.filter(pl.col("dimension") == "overall").select(*others, *counts)
        for dimension in table.filter(pl.col("dimension") != "overall")["dimension"].unique():
            summed = (
                keyed.filter(pl.col("dimension") == dimension).group_by(others).agg(pl.col(c).sum() for c in counts)
            )
            # months are published for the practice as a whole only (rollup): compare the rows broken down
            joined = overall.join(summed, on=others, how="inner", suffix="_parts", nulls_equal=True)
            assert joined.height > 0, dimension
            for c in counts:
                assert (joined[c] == joined[f"{c}_parts"].fill_null(0)).all(), (dimension, c)
    if layout.hierarchy is not None and counts:
        detail, parent = layout.hierarchy
        others = [k for k in layout.keys if k not in (detail, parent, "period_type")]
        children = (
            table.filter(pl.col(parent).is_not_null()).group_by(*others, parent).agg(pl.col(c).sum() for c in counts)
        )
        parents = table.select(*others, pl.col(detail).alias(parent), *counts)
        joined = children.join(parents, on=[*others, parent], how="inner", suffix="_whole", nulls_equal=True)
        assert joined.height > 0
        for c in counts:
            assert (joined[c] == joined[f"{c}_whole"]).all(), c


@pytest.mark.parametrize("spec", [t for t in PUBLISHED if t.name != "publication"], ids=lambda t: f"{t.file}.{t.name}")
def test_every_table_passes_its_published_model(spec: Any, published_sample: Paths) -> None:
    """What was published carries the model's types, nullability and grain (checked at publish; read back here)."""
    frame = io.read_all_tables(published_sample.published / f"{spec.file}.duckdb")[spec.name]
    assert frame.columns == spec.all_columns()
    spec.schema().validate(frame)
