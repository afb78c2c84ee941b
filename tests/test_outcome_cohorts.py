"""Outcomes as services report them (issue 15): the two cohorts and their rules, the NHS Talking Therapies composite at
every boundary, complete effect sizes with their intervals, the competing-risk milestone curve against a hand
computation, the comparison with the previous period, and closed quarters that stand when later batches arrive."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline import io, marts, synth
from pipeline.change import effect_sizes, hedges_j, nhs_talking_therapies
from pipeline.cli import app
from pipeline.config import Paths
from pipeline.marts import MARTS
from pipeline.marts.base import with_rates
from pipeline.marts.milestone_curves import cumulative_incidence, kaplan_meier
from pipeline.marts.period_comparison import derive as compare_periods
from pipeline.marts.period_comparison import previous_period
from pipeline.marts.revisions import period_end
from pipeline.settings import DEFAULTS
from schemas.registry import default_registry
from tests.builders import write_batch
from tests.sql_harness import build, finished_episode, warehouse, with_settings

D = dt.date
AS_OF = D(2026, 10, 31)


def _mart(name: str) -> Any:
    return next(m for m in MARTS if m.name == name)


def _by(frame: pl.DataFrame, **equal: Any) -> dict[str, Any]:
    for column, value in equal.items():
        frame = frame.filter(pl.col(column) == value)
    assert frame.height == 1, (equal, frame)
    return frame.row(0, named=True)


def _periods(frame: pl.DataFrame, population: str = "finished_treatment") -> set[str]:
    return set(frame.filter((pl.col("population") == population) & (pl.col("dimension") == "overall"))["period"])


# --- the cohorts ---------------------------------------------------------------------------------------------


def _phq9(client_id: str, baseline: float, latest: float) -> dict[str, Any]:
    improved, deteriorated = latest - baseline <= -6, latest - baseline >= 6
    return {"client_id": client_id, "instrument": "phq9", "scale": "total", "higher_is_better": False,
            "baseline_date": D(2026, 1, 5), "baseline_score": baseline, "latest_date": D(2026, 6, 1),
            "latest_score": latest, "paired": True, "change": latest - baseline, "reliably_improved": improved,
            "reliably_deteriorated": deteriorated, "rc_rule": "points", "rc_threshold": 6.0, "cutoff": 10.0,
            "clinical_baseline": baseline >= 10, "clinical_latest": latest >= 10,
            "category": "recovered" if improved and baseline >= 10 > latest else "improved" if improved
            else "deteriorated" if deteriorated else "unchanged"}  # fmt: skip


def _cohort_warehouse() -> duckdb.DuckDBPyConnection:
    """A: discharged on the last day of Q3 after 2 attended sessions. B: discharged in Q3 after one. C: open,
    attended 10 days before the as-of date. L: open, last attended in August (lapsed by the as-of date).
    E: discharged on the first day of Q4. Every one paired on PHQ-9 (15 → 4)."""
    clients, sessions = [], []
    for cid, discharge, attended in (("A", D(2026, 9, 30), 2), ("B", D(2026, 9, 15), 1), ("E", D(2026, 10, 1), 3)):
        row, visits = finished_episode(cid, discharge, attended)
        clients.append(row)
        sessions += visits
    clients += [{"client_id": "C", "intake_date": D(2026, 9, 7)}, {"client_id": "L", "intake_date": D(2026, 7, 6)}]
    sessions += [
        {"client_id": "C", "session_date": D(2026, 9, 7)},
        {"client_id": "C", "session_date": D(2026, 10, 21)},
        {"client_id": "L", "session_date": D(2026, 7, 6)},
        {"client_id": "L", "session_date": D(2026, 8, 3)},
    ]
    change = [_phq9(c, 15.0, 4.0) for c in "ABCEL"]
    return warehouse(clients, sessions, client_change=change)  # fmt: skip


def test_finished_treatment_is_dated_by_discharge_and_needs_two_attended_sessions() -> None:
    table = _mart("outcome_summary").build(build(_cohort_warehouse()))
    q3 = _by(table, population="finished_treatment", period="2026-Q3", dimension="overall")
    september = _by(table, population="finished_treatment", period="2026-09", dimension="overall")
    q4 = _by(table, population="finished_treatment", period="2026-Q4", dimension="overall")
    everything = _by(table, population="finished_treatment", period="all", dimension="overall")
    # A ends on Q3's last day: in Q3 and September. B (one attended session) is in no finished period.
    assert (q3["episodes"], september["episodes"], september["parent_period"]) == (1, 1, "2026-Q3")
    assert (q4["episodes"], everything["episodes"]) == (1, 2)  # E, discharged 1 October; A + E in all time
    # L lapsed: not in the cohort (lapse depends on the as-of date), counted beside it by its last session's month
    assert _by(table, population="finished_treatment", period="2026-08", dimension="overall")["lapsed"] == 1
    assert (everything["lapsed"], q3["lapsed"], q4["lapsed"]) == (1, 1, 0)  # August is in Q3
    # In treatment: C only (open, attended recently), dated by the as-of date
    current = _by(table, population="in_treatment", dimension="overall")
    assert (current["period_type"], current["period"], current["episodes"]) == ("as_of", "2026-10-31", 1)
    assert _periods(table, "in_treatment") == {"2026-10-31"}


def test_the_populations_are_decided_once_for_every_table() -> None:
    """`episodes.outcome_population` is the one definition: outcome_summary, nhs_outcomes and the density grid
    follow it, and a different `outcomes.finished_min_attended` moves the same episodes in all of them."""
    con = _cohort_warehouse()
    ctx = build(con)
    populations = dict(con.execute("SELECT client_id, outcome_population FROM episodes").fetchall())
    assert populations == {"A": "finished_treatment", "B": None, "C": "in_treatment", "E": "finished_treatment",
                           "L": "lapsed"}  # fmt: skip
    nhs = _by(_mart("nhs_outcomes").build(ctx), period="all", dimension="overall")
    grid = _mart("change_density").build(ctx)
    totals = grid.filter((pl.col("cell") == "all") & (pl.col("dimension") == "overall"))
    assert nhs["finished"] == 2
    assert dict(totals.select("population", "episodes").iter_rows()) == {"finished_treatment": 2, "in_treatment": 1}
    strict = build(_cohort_warehouse(), settings=with_settings(outcomes={"finished_min_attended": 3}))
    assert _by(_mart("nhs_outcomes").build(strict), period="all", dimension="overall")["finished"] == 1  # E only


def test_recovery_and_reliable_recovery_are_named_apart_with_their_denominators() -> None:
    """Recovery: clinical at baseline and not at the end. Reliable recovery: also reliably improved. Both out of
    clinical at baseline; reliable improvement out of the paired episodes with a rule; the rule on the row."""
    change = [_phq9("A", 15.0, 4.0), _phq9("B", 12.0, 9.0), _phq9("C", 12.0, 11.0), _phq9("D", 5.0, 12.0)]
    clients, sessions = [], []
    for cid in "ABCD":
        row, visits = finished_episode(cid)
        clients.append(row)
        sessions += visits
    table = _mart("outcome_summary").build(build(warehouse(clients, sessions, client_change=change)))
    row = _by(table, population="finished_treatment", period="all", dimension="overall")
    assert (row["clinical_baseline"], row["recovery"], row["recovered"], row["categorised"]) == (3, 2, 1, 4)
    assert row["recovery_rate"] == pytest.approx(2 / 3)  # A and B crossed the cutoff
    assert row["reliable_recovery_rate"] == pytest.approx(1 / 3)  # only A also changed reliably
    assert row["reliable_improvement_rate"] == pytest.approx(1 / 4)
    assert row["reliable_deterioration_rate"] == pytest.approx(1 / 4)  # D: +7
    assert (row["rc_rule"], row["rc_threshold"]) == ("points", 6.0)
    # Wilson intervals around each rate (Wilson 1927), e.g. 2 of 3
    z = 1.959963984540054
    centre, half = (2 + z * z / 2) / (3 + z * z), z * math.sqrt(2 * 1 / 3 + z * z / 4) / (3 + z * z)
    assert (row["recovery_rate_ci_low"], row["recovery_rate_ci_high"]) == pytest.approx((centre - half, centre + half))


def test_wilson_interval_matches_the_published_formula_and_stays_in_range() -> None:
    from pipeline.disclosure import TableLayout

    layout = TableLayout(keys=("k",), rates=(("rate", "x", "n"),))
    frame = with_rates(pl.DataFrame({"k": [1, 2, 3, 4], "x": [0, 10, 81, 0], "n": [10, 10, 263, 0]}), layout, ("rate",))
    lows, highs = frame["rate_ci_low"].to_list(), frame["rate_ci_high"].to_list()
    assert lows[0] == pytest.approx(0.0, abs=1e-12) and highs[1] == pytest.approx(1.0)
    assert (lows[2], highs[2]) == pytest.approx((0.2553, 0.3662), abs=1e-4)  # 81/263 (Newcombe 1998, Table I)
    assert lows[3] is None and frame["rate"][3] is None  # no denominator: no rate, no interval


# --- effect sizes --------------------------------------------------------------------------------------------


def test_every_row_with_a_mean_change_has_d_g_and_dz_with_intervals() -> None:
    """d, g and d_z with 95% CIs on every row that publishes a mean change — quarters and months too — by the
    delta method from the sums (`ci_method`), equal to the researcher's `change.effect_sizes` above its bootstrap
    size limit, and close to its bootstrap below it."""
    rng = np.random.default_rng(7)
    baseline = rng.integers(5, 27, 60).astype(float)
    latest = np.clip(baseline - rng.normal(4, 5, 60).round(), 0, 27)
    clients, sessions, change = [], [], []
    for i, (b, x) in enumerate(zip(baseline, latest, strict=True)):
        row, visits = finished_episode(f"E{i:02d}", D(2026, 4 + i % 3, 20))
        clients.append(row)
        sessions += visits
        change.append(_phq9(f"E{i:02d}", b, x))
    table = _mart("outcome_summary").build(build(warehouse(clients, sessions, client_change=change)))
    finished = table.filter((pl.col("population") == "finished_treatment") & (pl.col("paired") >= 3))
    assert finished.height > 5 and set(finished["period_type"]) == {"all", "quarter", "month"}
    for column in ("d", "d_ci_low", "d_ci_high", "g", "g_ci_low", "g_ci_high", "dz", "dz_ci_low", "dz_ci_high"):
        assert finished[column].null_count() == 0, column
    assert set(finished["ci_method"]) == {"normal, nonparametric delta-method SE"}
    overall = _by(table, population="finished_treatment", period="all", dimension="overall")
    delta = effect_sizes(baseline, latest, higher_is_better=False, bootstrap_max_n=0)
    for name in ("d", "g", "dz"):
        assert overall[name] == pytest.approx(delta[name])
        assert (overall[f"{name}_ci_low"], overall[f"{name}_ci_high"]) == pytest.approx(delta[f"{name}_ci"])
    assert overall["g"] == pytest.approx(hedges_j(60) * overall["d"])
    boot = effect_sizes(baseline, latest, higher_is_better=False, n_resamples=2000)
    assert "2000 resamples" in boot["ci_method"]  # the documented count
    assert abs(boot["d_ci"][0] - overall["d_ci_low"]) < 0.15 and abs(boot["d_ci"][1] - overall["d_ci_high"]) < 0.15


# --- NHS Talking Therapies at every boundary ------------------------------------------------------------------

#: (PHQ-9 start, end, GAD-7 start, end) → (caseness, recovery, reliable improvement, reliable deterioration,
#: reliable recovery). PHQ-9 caseness at 10 (9 is not), GAD-7 at 8 (7 is not); reliable change PHQ-9 6 points
#: (5 is not), GAD-7 4 (3 is not).
NHS_CASES: list[tuple[tuple[int, int, int, int], tuple[int, int, int, int, int]]] = [
    ((9, 3, 7, 1), (0, 0, 1, 0, 0)),  # below both cutoffs; both improved reliably (6 and 6)
    ((10, 9, 5, 5), (1, 1, 0, 0, 0)),  # PHQ-9 10 is caseness, 9 is not: recovery without reliable change
    ((10, 10, 3, 3), (1, 0, 0, 0, 0)),  # still at caseness at the end
    ((7, 7, 8, 7), (1, 1, 0, 0, 0)),  # GAD-7 8 is caseness, 7 is not
    ((15, 10, 10, 7), (1, 0, 0, 0, 0)),  # changes of 5 and 3: not reliable; PHQ-9 10 still at caseness
    ((15, 9, 10, 6), (1, 1, 1, 0, 1)),  # changes of 6 and 4: reliable; reliable recovery
    ((4, 10, 2, 2), (0, 0, 0, 1, 0)),  # PHQ-9 +6: reliable deterioration
    ((4, 9, 2, 5), (0, 0, 0, 0, 0)),  # +5 and +3: not reliable
    ((4, 4, 2, 6), (0, 0, 0, 1, 0)),  # GAD-7 +4: reliable deterioration
    ((20, 14, 3, 7), (1, 0, 0, 0, 0)),  # one improved, the other deteriorated: neither
    ((12, 6, 9, 9), (1, 0, 1, 0, 0)),  # reliable improvement, GAD-7 still at caseness: no recovery
]


def _items(total: int, n: int) -> list[int]:
    """``n`` item answers (0..3) that add up to ``total``."""
    return [min(3, max(0, total - 3 * i)) for i in range(n)]


def _nhs_batch(folder: Path) -> Path:
    """One finished episode per case, each its own practice: intake 6 July, discharged 31 August after two
    attended sessions, PHQ-9 and GAD-7 at both."""
    clients, sessions, measures = [], [], []
    for i, ((p0, p1, g0, g1), _) in enumerate(NHS_CASES):
        cid = f"N{i:03d}"
        clients.append({"client_id": cid, "practice_id": f"PR{i:02d}", "clinician_id": "CL01", "service": "therapy",
                        "intake_date": "2026-07-06", "helping_professional": "false",
                        "discharge_date": "2026-08-31", "discharge_reason": "completed"})  # fmt: skip
        for j, (date, kind) in enumerate((("2026-07-06", "intake"), ("2026-08-24", "closing"))):
            sessions.append({"session_id": f"{cid}-{j}", "client_id": cid, "clinician_id": "CL01",
                             "session_date": date, "kind": kind, "status": "attended", "modality": "telehealth",
                             "duration_min": 50})  # fmt: skip
            for instrument, total, n in (("phq9", (p0, p1)[j], 9), ("gad7", (g0, g1)[j], 7)):
                measures += [{"client_id": cid, "session_id": f"{cid}-{j}", "instrument": instrument,
                              "administered_on": date, "item": f"{instrument}_{k + 1}", "value": v}
                             for k, v in enumerate(_items(total, n))]  # fmt: skip
    return write_batch(folder, {"clients": clients, "sessions": sessions, "measures": measures}, AS_OF)


def test_nhs_metrics_at_every_boundary(tmp_path: Path) -> None:
    """The real pipeline on one episode per case; the internal (unsuppressed) nhs_outcomes row of each case's
    practice is that episode's flags — equal to the hand expectation and to `change.nhs_talking_therapies`."""
    paths = Paths(tmp_path / "home")
    result = CliRunner().invoke(app, ["refresh", str(_nhs_batch(tmp_path / "batch")), "--home", str(paths.home)])
    assert result.exit_code == 0, result.output
    with io.warehouse(paths.warehouse) as con:
        nhs = marts.build_all(con, AS_OF, DEFAULTS, default_registry())["nhs_outcomes"]
    rows = nhs.filter((pl.col("dimension") == "practice") & (pl.col("period") == "2026-Q3"))
    for i, (scores, expected) in enumerate(NHS_CASES):
        row = _by(rows, level=f"PR{i:02d}")
        got = (row["caseness"], row["recovery"], row["reliable_improvement"], row["reliable_deterioration"],
               row["reliable_recovery"])  # fmt: skip
        assert (row["finished"], row["paired"]) == (1, 1), scores
        assert got == expected, (scores, got)
        p0, p1, g0, g1 = scores
        episode = pl.DataFrame({
            "ended": [True], "attended_treatment": [2], "phq9_paired": [True], "gad7_paired": [True],
            "phq9_clinical_baseline": [p0 >= 10], "phq9_clinical_latest": [p1 >= 10],
            "gad7_clinical_baseline": [g0 >= 8], "gad7_clinical_latest": [g1 >= 8],
            "phq9_improved": [p0 - p1 >= 6], "phq9_deteriorated": [p1 - p0 >= 6],
            "gad7_improved": [g0 - g1 >= 4], "gad7_deteriorated": [g1 - g0 >= 4],
        })  # fmt: skip
        reference = nhs_talking_therapies(episode)
        assert (reference["recovery"]["numerator"], reference["reliable_improvement"]["numerator"],
                reference["reliable_deterioration"]["numerator"], reference["reliable_recovery"]["numerator"]) == (
            expected[1], expected[2], expected[3], expected[4])  # fmt: skip
    overall = _by(nhs, dimension="overall", period="2026-Q3")
    assert overall["recovery_rate"] == pytest.approx(overall["recovery"] / overall["caseness"])
    assert overall["reliable_improvement_rate"] == pytest.approx(overall["reliable_improvement"] / overall["paired"])


# --- milestone curves ------------------------------------------------------------------------------------------


def test_cumulative_incidence_against_a_hand_computation() -> None:
    """Aalen-Johansen by hand: times 1..7, kind 1 = reached, 2 = ended first (competing), 0 = open (censored).
    F(t) = Σ S(t−)·d₁/n, S the all-cause event-free proportion: t1 (n 10): F .1, S .9; t2 (n 9, one reaches, one
    ends): F .1 + .9/9 = .2, S .7; t3 (n 7, one reaches, one censored): F .3, S .6; t4 (n 5, one ends): F .3,
    S .48; t5 (n 4, one reaches, one censored): F .3 + .48/4 = .42, S .36; t6 (n 2, one ends): F .42, S .18;
    t7 (n 1, reaches): F .42 + .18 = .60."""
    t = np.array([1, 2, 2, 3, 3, 4, 5, 5, 6, 7], dtype=float)
    kind = np.array([1, 1, 2, 0, 1, 2, 1, 0, 2, 1])
    curve = cumulative_incidence(t, kind)
    assert curve["time"].to_list() == [1, 2, 3, 4, 5, 6, 7]
    assert curve["at_risk"].to_list() == [10, 9, 7, 5, 4, 2, 1]
    expected = [0.1, 0.2, 0.3, 0.3, 0.42, 0.42, 0.6]
    assert curve["cumulative_reached"].to_list() == pytest.approx(expected)
    lows, highs, values = curve["ci_low"].to_list(), curve["ci_high"].to_list(), curve["cumulative_reached"].to_list()
    assert all(lo < v < hi for lo, v, hi in zip(lows, values, highs, strict=True))
    # Kaplan-Meier treats the endings as censored and overstates: at t=7 it reaches 1.0, not 0.6
    km = kaplan_meier(t, kind)
    assert km["cumulative_reached"].to_list()[-1] == pytest.approx(1.0)
    assert all(a >= b - 1e-12 for a, b in zip(km["cumulative_reached"], curve["cumulative_reached"], strict=True))


def test_without_competing_events_cumulative_incidence_is_kaplan_meier() -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(1, 20, 200).astype(float)
    kind = np.where(rng.random(200) < 0.6, 1, 0)
    ci, km = cumulative_incidence(t, kind), kaplan_meier(t, kind)
    joined = ci.join(km, on="time", suffix="_km")
    assert joined["cumulative_reached"].to_list() == pytest.approx(joined["cumulative_reached_km"].to_list())


# --- the previous period ---------------------------------------------------------------------------------------


def test_previous_period_and_period_end() -> None:
    frame = pl.DataFrame({"period": ["2026-Q1", "2026-Q3", "2026-01", "2026-10"],
                          "period_type": ["quarter", "quarter", "month", "month"]})  # fmt: skip
    assert frame.select(previous_period(pl.col("period"), pl.col("period_type")).alias("p"))["p"].to_list() == [
        "2025-Q4", "2026-Q2", "2025-12", "2026-09"]  # fmt: skip
    assert frame.select(period_end(pl.col("period")).alias("end"))["end"].to_list() == [
        D(2026, 3, 31), D(2026, 9, 30), D(2026, 1, 31), D(2026, 10, 31)]  # fmt: skip


def _published_pair(**q3: Any) -> dict[str, pl.DataFrame]:
    """A published outcome_summary with 2026-Q2 and 2026-Q3 rows (defaults: 48/80 and 56/70)."""
    base = {"population": "finished_treatment", "period_type": "quarter", "dimension": "overall", "level": "all",
            "instrument": "phq9", "scale": "total", "recovery": 0, "clinical_baseline": 0, "recovered": 0,
            "reliably_deteriorated": 0, "categorised": 0, "paired": 0, "mean_change": None, "sd_change": None,
            "recovery_rate": None, "reliable_recovery_rate": None, "reliable_deterioration_rate": None}  # fmt: skip
    q2 = {**base, "period": "2026-Q2", "reliably_improved": 48, "categorised": 80, "reliable_improvement_rate": 0.6,
          "mean_change": -2.0, "sd_change": 4.0, "paired": 80}  # fmt: skip
    q3_row = {**base, "period": "2026-Q3", "reliably_improved": 56, "categorised": 70,
              "reliable_improvement_rate": 0.8, "mean_change": -3.0, "sd_change": 5.0, "paired": 70, **q3}  # fmt: skip
    outcome = pl.DataFrame([q2, q3_row])
    nhs = pl.DataFrame(schema={"period_type": pl.String, "period": pl.String, "dimension": pl.String,
                               "level": pl.String, "measures": pl.String, **{c: pl.Int64 for c in (
                                   "recovery", "caseness", "reliable_improvement", "paired", "reliable_recovery",
                                   "reliable_deterioration")}, **{c: pl.Float64 for c in (
                                   "recovery_rate", "reliable_improvement_rate", "reliable_recovery_rate",
                                   "reliable_deterioration_rate")}})  # fmt: skip
    return {"outcome_summary": outcome, "nhs_outcomes": nhs}


def test_change_from_the_previous_period_with_its_interval() -> None:
    """Newcombe's worked example (1998, method 10): 56/70 − 48/80 = 0.2000, 95% CI 0.0524 to 0.3339. Mean change:
    Welch's interval from the published means, SDs and n."""
    table = compare_periods(_published_pair())
    rate = _by(table, period="2026-Q3", metric="reliable_improvement_rate")
    assert (rate["previous_period"], rate["difference"]) == ("2026-Q2", pytest.approx(0.2))
    assert (rate["difference_ci_low"], rate["difference_ci_high"]) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    mean = _by(table, period="2026-Q3", metric="mean_change")
    se = math.sqrt(25 / 70 + 16 / 80)
    df = se**4 / ((25 / 70) ** 2 / 69 + (16 / 80) ** 2 / 79)
    from scipy import stats

    half = stats.t.ppf(0.975, df) * se
    assert (mean["difference_ci_low"], mean["difference_ci_high"]) == pytest.approx((-1 - half, -1 + half))
    assert mean["ci_method"] == "Welch t" and rate["ci_method"].startswith("Newcombe")
    first = _by(table, period="2026-Q2", metric="reliable_improvement_rate")
    assert first["previous_value"] is None and first["difference"] is None  # 2026-Q1 has no row


def test_a_difference_that_needs_a_hidden_value_is_hidden() -> None:
    tables = _published_pair()
    tables["outcome_summary"] = tables["outcome_summary"].with_columns(
        reliably_improved_suppressed=pl.Series([True, False]), reliable_improvement_rate_suppressed=pl.Series(
            [True, False]), reliably_improved=pl.Series([None, 56]), reliable_improvement_rate=pl.Series([None, 0.8])
    )  # fmt: skip
    row = _by(compare_periods(tables), period="2026-Q3", metric="reliable_improvement_rate")
    assert row["difference"] is None and row["difference_suppressed"]
    assert row["difference_ci_low"] is None and row["difference_ci_low_suppressed"]
    assert row["previous_value"] is None and row["previous_value_suppressed"]
    assert row["value"] == pytest.approx(0.8) and not row["value_suppressed"]


# --- closed quarters stand ---------------------------------------------------------------------------------------

FIGURES_EXCLUDED = ("revision", "lapsed")


def _refresh(home: Path, batch: Path, run_date: D) -> None:
    """`ifs-outcomes refresh` on one batch, run as on ``run_date`` (a batch may not be dated after its run)."""
    result = CliRunner().invoke(app, ["refresh", str(batch), "--home", str(home), "--as-of", run_date.isoformat()])
    assert result.exit_code == 0, result.output


def _quarter(home: Path, table: str, quarter: str) -> pl.DataFrame:
    """A quarter's rows as the practice's internal view has them (every count exact: the test follows single
    episodes, which the shareable file hides)."""
    with duckdb.connect(str(Paths(home).internal_file), read_only=True) as con:
        frame = con.sql(f"SELECT * FROM {table} WHERE period = $q", params={"q": quarter}).pl()
    if "population" in frame.columns:
        frame = frame.filter(pl.col("population") == "finished_treatment")
    return frame.sort(*[c for c in ("dimension", "level", "instrument", "scale") if c in frame.columns])


def test_a_later_batch_leaves_a_closed_quarter_unchanged_until_its_own_episodes_change(tmp_path: Path) -> None:
    """Q2 of a 600-episode practice, published closed. A later batch about new episodes leaves every Q2 figure as
    it was (revision 0). A later export that removes one Q2 episode's discharge date takes it out of Q2 — and the
    Q2 rows it was in say revision 1; the rows it was not in stay at 0."""
    home = tmp_path / "home"
    synth.write_batch(tmp_path / "first", n_clients=600, seed=11, as_of=AS_OF)
    _refresh(home, tmp_path / "first", AS_OF)
    before = {t: _quarter(home, t, "2026-Q2") for t in ("outcome_summary", "nhs_outcomes")}
    assert set(before["nhs_outcomes"]["revision"]) == {0}
    # a later batch: one new episode, intake in November
    later = {
        "clients": [{"client_id": "NEW0001", "practice_id": "PR01", "clinician_id": "CL01", "service": "therapy",
                     "intake_date": "2026-11-02", "helping_professional": "false"}],
        "sessions": [{"session_id": "NEW0001-1", "client_id": "NEW0001", "clinician_id": "CL01",
                      "session_date": "2026-11-02", "kind": "intake", "status": "attended", "modality": "telehealth",
                      "duration_min": 50}],
        "measures": [{"client_id": "NEW0001", "instrument": "phq9", "administered_on": "2026-11-02",
                      "item": f"phq9_{k}", "value": 2} for k in range(1, 10)],
    }  # fmt: skip
    _refresh(home, write_batch(tmp_path / "second", later, D(2026, 11, 30)), D(2026, 11, 30))
    after = {t: _quarter(home, t, "2026-Q2") for t in ("outcome_summary", "nhs_outcomes")}
    for table in before:
        changed = [c for c in before[table].columns if not after[table][c].equals(before[table][c])]
        assert not changed, (table, changed)
    # a corrected export: one Q2-finished episode's discharge date removed
    clients = pl.read_csv(tmp_path / "first" / "clients.csv", infer_schema=False)
    q2 = clients.filter(pl.col("discharge_date").is_between(pl.lit("2026-04-01"), pl.lit("2026-06-30")))
    with duckdb.connect(str(Paths(home).clinical_file), read_only=True) as con:
        sql = "SELECT client_id FROM episode_engagement WHERE outcome_population = 'finished_treatment'"
        finished = {r[0] for r in con.sql(sql).fetchall()}
    moved = q2.filter(pl.col("client_id").is_in(list(finished))).row(0, named=True)
    corrected = {"clients": [{**moved, "discharge_date": None, "discharge_reason": None}], "sessions": [],
                 "measures": []}  # fmt: skip
    _refresh(home, write_batch(tmp_path / "third", corrected, D(2026, 12, 15)), D(2026, 12, 15))
    revised = _quarter(home, "nhs_outcomes", "2026-Q2")
    overall_before = _by(before["nhs_outcomes"], dimension="overall")
    overall_after = _by(revised, dimension="overall")
    assert overall_after["finished"] in (overall_before["finished"] - 1, None)  # one fewer (or hidden)
    assert overall_after["revision"] == 1
    practice = _by(revised, dimension="practice", level=moved["practice_id"])
    assert practice["revision"] == 1
    untouched = revised.filter((pl.col("dimension") == "practice") & (pl.col("level") != moved["practice_id"]))
    assert set(untouched["revision"]) == {0}
    with io.warehouse(Paths(home).warehouse, read_only=True) as con:
        recorded = con.execute("SELECT max(revision) FROM closed_period_revisions").fetchall()[0][0]
    assert recorded == 1
    result = CliRunner().invoke(app, ["report", "--period", "2026-Q2", "--home", str(home)])
    assert result.exit_code == 0, result.output
    summary = json.loads((Paths(home).reports / "2026-Q2" / "summary.json").read_text())
    assert summary["nhs_talking_therapies"]["revision"] == 1 and summary["population"] == "finished_treatment"
