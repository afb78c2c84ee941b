"""The practice's settings: one object, read from `<home>/settings.toml` or `--settings`, validated key by key, and
honoured — for every setting, a check that changing it changes what it should (`EFFECTS` must name them all)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline import io, settings
from pipeline.cli import app
from pipeline.config import Paths
from pipeline.settings import DEFAULTS, SettingsError
from pipeline.stages import refresh_batches
from tests.builders import AS_OF, mutate, valid_rows, write_batch
from tests.sql_harness import D0, build, finished_episode, finished_warehouse, rows, warehouse, weeks, with_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_then_the_home_file_then_the_given_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text("[engagement]\nlapse_days = 30\n[disclosure]\nk = 8\n", encoding="utf-8")
    given = tmp_path / "given.toml"
    given.write_text("[disclosure]\nk = 6\n", encoding="utf-8")
    loaded = settings.load(home, given)
    assert (loaded.engagement.lapse_days, loaded.disclosure.k, loaded.coaching.gas_rho) == (30, 6, 0.3)
    sources = {r["key"]: r["source"] for r in loaded.rows()}
    assert sources["engagement.lapse_days"] == str(home / "settings.toml") and sources["disclosure.k"] == str(given)
    assert sources["coaching.gas_rho"] == "default"
    assert loaded.fingerprint() != DEFAULTS.fingerprint()


def test_every_bad_key_is_one_sentence_and_a_usage_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text(
        "[engagement]\nlapse_days = 'six weeks'\nlapse = 3\n[disclosure]\nk = 1\n[colours]\nx = 1\n", encoding="utf-8"
    )
    with pytest.raises(SettingsError) as caught:
        settings.load(home)
    assert len(caught.value.problems) == 4
    result = CliRunner().invoke(app, ["refresh", "--all", "--home", str(home)])
    assert result.exit_code == 2
    for fragment in ("engagement.lapse_days must be a whole number", "unknown setting engagement.lapse",
                     "disclosure.k must be between 2 and 100", "unknown section [colours]"):  # fmt: skip
        assert fragment in result.stderr, fragment
    assert not (home / "warehouse").exists()  # nothing ran


def test_the_settings_command_shows_values_and_where_they_came_from(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text("[alerts]\nworst_share = 0.1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["settings", "--home", str(home), "--json"])
    assert result.exit_code == 0
    shown = {r["key"]: r for r in json.loads(result.stdout)}
    assert shown["alerts.worst_share"]["value"] == 0.1 and shown["alerts.worst_share"]["source"].endswith(".toml")
    assert set(shown) == {r["key"] for r in DEFAULTS.rows()} and all(r["doc"] for r in shown.values())
    template = CliRunner().invoke(app, ["settings", "--template"]).stdout
    assert all(f"# {r['key'].split('.')[1]} = " in template for r in DEFAULTS.rows())


def test_a_changed_setting_rebuilds_and_the_publication_records_it(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "home")
    folder = write_batch(tmp_path / "b", valid_rows())
    refresh_batches(paths, [folder], AS_OF)
    again = refresh_batches(paths, [folder], AS_OF)
    assert again.published == []  # nothing changed: nothing republished
    changed = with_settings(disclosure={"k": 5})
    summary = refresh_batches(paths, [folder], AS_OF, settings=changed)
    assert len(summary.published) == 3
    meta = io.published_meta(paths.aggregate_file)
    assert meta is not None and meta["settings_fingerprint"] == changed.fingerprint()
    assert json.loads(meta["settings"])["disclosure"]["k"] == 5 and meta["disclosure_k"] == 5


def test_engine_settings_change_no_number() -> None:
    engine = with_settings(engine={"partition_mb": 1, "scoring_part_rows": 5000, "incremental_max_share": 0.5})
    assert engine.fingerprint() == DEFAULTS.fingerprint()


# --- each setting's effect ----------------------------------------------------------------------------------


def _refresh(tmp_path: Path, rows: dict[str, Any], **sections: dict[str, Any]) -> Any:
    folder = write_batch(tmp_path / "b", rows)
    return refresh_batches(Paths(tmp_path / "home"), [folder], AS_OF, settings=with_settings(**sections))


def phone_regions(tmp_path: Path) -> None:
    rows = mutate(valid_rows(), "sessions", 1, location_id="030 123456")  # a Berlin number in national format
    assert _refresh(tmp_path / "a", rows).status == "loaded_with_quarantine"  # not an identifier for US/GB: pattern
    assert _refresh(tmp_path / "b", rows, identifiers={"phone_regions": ("DE",)}).status == "rejected"


def pre_intake_window_days(tmp_path: Path) -> None:
    rows = valid_rows()  # the GAD-7 of C0001 is 3 days before intake
    assert _refresh(tmp_path / "a", rows).batches[0].quarantine_by_rule == {}
    narrow = _refresh(tmp_path / "b", rows, contract={"pre_intake_window_days": 2})
    assert narrow.batches[0].quarantine_by_rule == {"before_intake_window": 7}


def mean_score_tolerance(tmp_path: Path) -> None:
    """The 8 Cs check-in is a mean scale: its supplied score 5.1 for items all 5 is off by 0.1."""
    eight_cs = [f"self_energy_8c_{q}" for q in ("calm", "curiosity", "clarity", "compassion", "confidence",
                                                 "courage", "creativity", "connectedness")]  # fmt: skip
    rows = valid_rows()
    rows["measures"] += [{"client_id": "C0002", "session_id": "S0004", "instrument": "self_energy_8c",
                          "administered_on": "2026-02-01", "item": item, "value": 5} for item in eight_cs]  # fmt: skip
    rows["measures"].append({"client_id": "C0002", "session_id": "S0004", "instrument": "self_energy_8c",
                             "administered_on": "2026-02-01", "item": "self_energy", "value": "5.1"})  # fmt: skip
    assert _refresh(tmp_path / "c", rows).batches[0].quarantine_by_rule == {"total_mismatch": 9}
    loose = _refresh(tmp_path / "d", rows, contract={"mean_score_tolerance": 0.2})
    assert loose.batches[0].quarantine_by_rule == {}


def exported_at_max_share_after(tmp_path: Path) -> None:
    rows = valid_rows()
    folder = write_batch(tmp_path / "b", rows, as_of=dt.date(2026, 1, 31))  # half the dated rows are later
    plain = refresh_batches(Paths(tmp_path / "h1"), [folder], dt.date(2026, 12, 1))
    strict = refresh_batches(Paths(tmp_path / "h2"), [folder], dt.date(2026, 12, 1),
                             settings=with_settings(contract={"exported_at_max_share_after": 0.2}))  # fmt: skip
    assert plain.status == "loaded_with_quarantine" and strict.status == "rejected"


def baseline_window_days(tmp_path: Path) -> None:
    from pipeline.change import pair_baseline_latest

    scores = pl.DataFrame({"client_id": ["A", "A"], "instrument": "phq9", "scale": "total",
                           "administered_on": [D0 + dt.timedelta(days=20), D0 + dt.timedelta(days=80)],
                           "score": [15.0, 5.0]})  # fmt: skip
    sessions = pl.DataFrame({"client_id": "A", "session_id": ["s1"], "session_date": [D0], "kind": "intake",
                             "status": "attended"})  # fmt: skip
    assert pair_baseline_latest(scores, sessions, DEFAULTS.outcomes.baseline_window_days)["paired"].to_list() == [False]
    assert pair_baseline_latest(scores, sessions, 21)["paired"].to_list() == [True]
    # and the score stage reads it from the settings: C0002's GAD-7 two days after its first session
    rows = valid_rows()
    for row in rows["measures"][17:24]:
        row["administered_on"] = "2026-02-03"
    for window, baseline in ((14, dt.date(2026, 2, 3)), (1, None)):
        home = tmp_path / f"home-{window}"
        refresh_batches(Paths(home), [write_batch(tmp_path / f"b{window}", rows)], AS_OF,
                        settings=with_settings(outcomes={"baseline_window_days": window}))  # fmt: skip
        with io.warehouse(Paths(home).warehouse, read_only=True) as con:
            found = con.execute("SELECT baseline_date FROM client_change WHERE client_id = 'C0002'").fetchall()
        assert found == [(baseline,)], window


def finished_min_attended(tmp_path: Path) -> None:
    """Finished treatment needs this many attended treatment sessions: three episodes discharged after 1, 2 and 3."""
    from pipeline.marts import nhs_outcomes

    clients, sessions = [], []
    for cid, attended in (("A", 1), ("B", 2), ("C", 3)):
        row, visits = finished_episode(cid, attended=attended)
        clients.append(row)
        sessions += visits
    for minimum, expected in ((2, 2), (1, 3), (3, 1)):
        ctx = build(warehouse(clients, sessions), with_settings(outcomes={"finished_min_attended": minimum}))
        table = nhs_outcomes.build(ctx).filter((pl.col("dimension") == "overall") & (pl.col("period") == "all"))
        assert table["finished"].to_list() == [expected], minimum


def nhs_instruments(tmp_path: Path) -> None:
    """The NHS composite's measure pair: PHQ-9 + GAD-7 by default; PHQ-9 + the IFS Self Scale when configured."""
    from pipeline.marts import nhs_outcomes

    base = {"client_id": "A", "scale": "total", "paired": True, "reliably_improved": False,
            "reliably_deteriorated": False, "clinical_latest": False}  # fmt: skip
    change = [{**base, "instrument": "phq9", "clinical_baseline": True},
              {**base, "instrument": "ifs_self", "clinical_baseline": False}]  # fmt: skip
    for pair, caseness in ((("phq9", "gad7"), 0), (("phq9", "ifs_self"), 1)):
        ctx = build(finished_warehouse("A", client_change=change), with_settings(outcomes={"nhs_instruments": pair}))
        row = nhs_outcomes.build(ctx).filter((pl.col("dimension") == "overall") & (pl.col("period") == "all"))
        assert (row["measures"][0], row["paired"][0], row["caseness"][0]) == ("+".join(pair), caseness, caseness)


def density_bins(tmp_path: Path) -> None:
    from pipeline.marts import change_density

    change = [{"client_id": "A", "instrument": "phq9", "scale": "total", "higher_is_better": False, "paired": True,
               "baseline_score": 20.0, "latest_score": 5.0}]  # fmt: skip
    for bins, cell in ((8, "b5-l1"), (3, "b2-l0")):
        ctx = build(finished_warehouse("A", client_change=change), with_settings(outcomes={"density_bins": bins}))
        cells = change_density.build(ctx).filter((pl.col("dimension") == "overall") & (pl.col("cell") != "all"))
        assert cells["cell"].to_list() == [cell]


def _milestone_stage(**process: Any) -> int:
    sessions = [{"client_id": "A", "session_date": D0, "protector_trust": 6, "unblending": "full"}]
    con = warehouse([{"client_id": "A"}], sessions)
    build(con, with_settings(process=process) if process else with_settings())
    return int(rows(con, "milestones")["A"]["stage_reached"])


def protector_trust_min(tmp_path: Path) -> None:
    assert (_milestone_stage(), _milestone_stage(protector_trust_min=6)) == (0, 1)


def _self_leadership(**values: Any) -> dict[str, Any]:
    sessions = [{"client_id": "A", "session_date": d, "self_energy": 4 + i, "polarization": 7 - 2 * i}
                for i, d in enumerate(weeks(D0, 3))]  # fmt: skip
    con = warehouse([{"client_id": "A"}], sessions)
    build(con, with_settings(self_leadership=values) if values else with_settings())
    return rows(con, "self_leadership")["A"]


def index_weights(tmp_path: Path) -> None:
    # baseline: Self-energy 4 -> 40, polarization 7 -> 30; latest: 6 -> 60 and 3 -> 70; no Self score
    assert _self_leadership()["index_baseline"] == pytest.approx(35.0)  # (0.25·40 + 0.25·30) / 0.5
    assert _self_leadership(index_weights=(0.5, 0.5, 0.0))["index_baseline"] == pytest.approx(40.0)
    assert _self_leadership(index_weights=(0.0, 0.1, 0.9))["index_latest"] == pytest.approx(0.1 * 60 + 0.9 * 70)


def slope_min_points(tmp_path: Path) -> None:
    assert _self_leadership()["slope_per_session_clinician_self_energy"] == pytest.approx(1.0)
    assert _self_leadership(slope_min_points=4)["slope_per_session_clinician_self_energy"] is None


def trajectory_max_session(tmp_path: Path) -> None:
    from pipeline.marts import self_leadership_trajectory

    sessions = [{"client_id": c, "session_date": d, "self_energy": 5} for c in "AB" for d in weeks(D0, 4)]
    for cap in (4, 2):
        ctx = build(warehouse([{"client_id": "A"}, {"client_id": "B"}], sessions),
                    with_settings(self_leadership={"trajectory_max_session": cap}))  # fmt: skip
        assert self_leadership_trajectory.build(ctx)["session_number"].max() == cap


def _episode_flags(**engagement: Any) -> dict[str, Any]:
    clients = [{"client_id": "A", "intake_date": D0}]
    sessions = [{"client_id": "A", "session_date": dt.date(2026, 9, 1), "modality": "in_person", "location_id": "L1"},
                {"client_id": "A", "session_date": dt.date(2026, 9, 8)},
                {"client_id": "A", "session_date": dt.date(2026, 9, 15), "modality": "in_person",
                 "location_id": "L1"}]  # fmt: skip
    con = warehouse(clients, sessions)
    build(con, with_settings(engagement=engagement) if engagement else with_settings())
    return rows(con, "episodes")["A"]


def lapse_days(tmp_path: Path) -> None:
    assert _episode_flags()["lapsed"] is True  # 46 days since 15 September
    assert _episode_flags(lapse_days=50)["lapsed"] is False


def modality_share(tmp_path: Path) -> None:
    assert _episode_flags()["modality"] == "mixed"  # two of three in person
    assert _episode_flags(modality_share=0.6)["modality"] == "in_person"


def _choice_point(**coaching: Any) -> dict[str, Any]:
    clients = [{"client_id": "A", "service": "coaching", "discharge_date": dt.date(2026, 3, 2),
                "discharge_reason": "completed"}]  # fmt: skip
    resistance = [6, 7, 7, 7, 3, 3]  # mean 7 over sessions 2-4; no commitment kept: follow-through 0
    sessions = [{"client_id": "A", "session_date": d, "resistance": r, "commitments_set": 2, "commitments_kept": 0}
                for d, r in zip(weeks(D0, 6), resistance, strict=True)]  # fmt: skip
    goals = [{"client_id": "A", "goal_id": g, "weight": w, "set_on": D0, "rated_on": D0, "attainment": a}
             for g, w, a in (("g1", 1, 1), ("g2", 3, -1))]  # fmt: skip
    con = warehouse(clients, sessions, goals=goals)
    build(con, with_settings(coaching=coaching) if coaching else with_settings())
    return rows(con, "coaching_episodes")["A"]


def choice_point_window(tmp_path: Path) -> None:
    assert _choice_point()["choice_point_session"] == 4  # 7, 7, 7
    assert _choice_point(choice_point_window=4)["choice_point_session"] is None  # 6, 7, 7, 7 averages 6.75


def choice_point_resistance(tmp_path: Path) -> None:
    assert _choice_point(choice_point_resistance=7.5)["choice_point_session"] is None


def choice_point_follow_through(tmp_path: Path) -> None:
    assert _choice_point()["choice_point_session"] == 4  # follow-through 0 < 0.5
    assert _choice_point(choice_point_follow_through=0.0)["choice_point_session"] is None  # 0 is not below 0


def choice_point_continued_sessions(tmp_path: Path) -> None:
    assert _choice_point()["after_choice_point"] == "ended_otherwise"  # 2 sessions after the choice point at 4
    assert _choice_point(choice_point_continued_sessions=2)["after_choice_point"] == "continued_coaching"


def gas_rho(tmp_path: Path) -> None:
    for rho in (0.3, 0.6):
        expected = 50 + 10 * (1 - 3) / ((1 - rho) * 10 + rho * 16) ** 0.5
        assert _choice_point(gas_rho=rho)["gas_t_baseline"] == pytest.approx(expected)


def _not_on_track(**alerts: Any) -> Any:
    from tests.test_intermediate import _not_on_track as run

    return run([4.0] + [-3.0] * 10 + [-(i % 5) for i in range(20)], **alerts)


def min_session_number(tmp_path: Path) -> None:
    assert _not_on_track()["E00"]["session_number"] == 3
    assert _not_on_track(min_session_number=4) == {}  # every administration is at session 3: none judged


def min_reference(tmp_path: Path) -> None:
    assert _not_on_track()["E00"]["not_on_track"] is True
    assert _not_on_track(min_reference=40)["E00"]["not_on_track"] is None


def worst_share(tmp_path: Path) -> None:
    # E13 improved by 2: 9 of the 30 others changed less favourably (30%)
    assert _not_on_track()["E13"]["not_on_track"] is False
    assert _not_on_track(worst_share=0.4)["E13"]["not_on_track"] is True


def k(tmp_path: Path) -> None:
    strict = _refresh(tmp_path / "a", valid_rows())
    loose = _refresh(tmp_path / "b", valid_rows(), disclosure={"k": 2})
    for summary, small in ((strict, True), (loose, False)):
        table = io.read_all_tables(Path(summary.published[1]))["engagement_summary"]
        row = table.filter(pl.col("dimension") == "overall").row(0, named=True)
        # 2 episodes: hidden as small under k = 11; under k = 2 not small (hidden, if at all, only to protect a 1)
        assert (row["episodes_suppressed"] and "episodes" not in (row["hidden_to_protect"] or "")) is small


def rule(tmp_path: Path) -> None:
    from pipeline.disclosure import TableLayout, protect_publication
    from pipeline.publish import disclosure_policy

    table = pl.DataFrame({"dimension": ["overall", "s", "s"], "level": ["all", "a", "b"], "n": [53, 26, 27]})
    layout = TableLayout(keys=("dimension", "level"), counts=("n",))
    shown = {}
    for value in ("cms", "nhs"):
        policy = disclosure_policy(with_settings(disclosure={"rule": value, "k": 8}))
        out, _ = protect_publication({"t": table}, {"t": layout}, policy)
        shown[value] = out["t"]["n"].to_list()
        assert ("rounded to the nearest 5" in policy.describe()) is (value == "nhs")
    assert shown == {"cms": [53, 26, 27], "nhs": [55, 25, 25]}  # nothing small; NHS rounds every count to 5


def protection(tmp_path: Path) -> None:
    from pipeline.disclosure import TableLayout, protect_publication
    from pipeline.publish import disclosure_policy

    # 30 = 3 + 12 + 15: hiding 3 and 12 leaves 3 ≤ 4 (12 is known to be ≥ 11), enough for a protection of 1;
    # a protection of 5 needs its bound at 8 or more, so 15 goes too (3 ≤ 30 − 11 − 11)
    table = pl.DataFrame({"dimension": ["overall", "s", "s", "s"], "level": ["all", "a", "b", "c"],
                          "n": [30, 3, 12, 15]})  # fmt: skip
    layout = TableLayout(keys=("dimension", "level"), counts=("n",))
    hidden = []
    for value in (1, 5):
        policy = disclosure_policy(with_settings(disclosure={"protection": value}))
        out, _ = protect_publication({"t": table}, {"t": layout}, policy)
        hidden.append(out["t"]["n_suppressed"].to_list())
    assert hidden == [[False, True, True, False], [False, True, True, True]]


def partition_mb(tmp_path: Path) -> None:
    from pipeline.ingest import read_batch

    folder = write_batch(tmp_path / "b", valid_rows())
    whole = read_batch(folder, AS_OF, tmp_path / "s1", DEFAULTS)
    tiny = read_batch(folder, AS_OF, tmp_path / "s2", with_settings(engine={"partition_mb": 0.0005}))
    assert whole.staged is None and tiny.staged is not None


def scoring_part_rows(tmp_path: Path) -> None:
    from pipeline import outcomes
    from schemas.registry import default_registry

    paths = Paths(tmp_path / "home")
    refresh_batches(paths, [write_batch(tmp_path / "b", valid_rows())], AS_OF)
    parts = {}
    for part_rows in (DEFAULTS.engine.scoring_part_rows, 1000):
        written: list[pl.DataFrame] = []
        with io.warehouse(paths.warehouse, read_only=True) as con:
            outcomes.derive_outcomes(con, default_registry(), written.append,
                                     with_settings(engine={"scoring_part_rows": part_rows}))  # fmt: skip
        parts[part_rows] = len(written)
    assert parts == {DEFAULTS.engine.scoring_part_rows: 1, 1000: 1}
    written = []
    with io.warehouse(paths.warehouse, read_only=True) as con:
        five = with_settings(engine={"scoring_part_rows": 5})
        outcomes.derive_outcomes(con, default_registry(), written.append, five)
    assert len(written) > 1


def incremental_max_share(tmp_path: Path) -> None:
    from pipeline import outcomes

    calls: list[str] = []
    update, rebuild = outcomes.update_outcomes, outcomes.rebuild_outcomes
    outcomes.update_outcomes = lambda *a: calls.append("update") or update(*a)  # type: ignore[assignment,func-returns-value]
    outcomes.rebuild_outcomes = lambda *a: calls.append("rebuild") or rebuild(*a)  # type: ignore[assignment,func-returns-value]
    try:
        paths = Paths(tmp_path / "home")
        refresh_batches(paths, [write_batch(tmp_path / "a", valid_rows())], AS_OF)
        for name, attainment, share in (("b", "1", 0.6), ("c", "2", 0.4)):  # one goal of one of the two clients
            later = {"clients": [], "sessions": [], "measures": [],
                     "goals": [valid_rows()["goals"][0] | {"attainment": attainment}]}  # fmt: skip
            refresh_batches(paths, [write_batch(tmp_path / name, later)], AS_OF,
                            settings=with_settings(engine={"incremental_max_share": share}))  # fmt: skip
    finally:
        outcomes.update_outcomes, outcomes.rebuild_outcomes = update, rebuild
    assert calls == ["rebuild", "update", "rebuild"]


def memory_limit_mb(tmp_path: Path) -> None:
    import duckdb

    from pipeline import staging

    for mb, shown in ((DEFAULTS.engine.memory_limit_mb, "1.0 GiB"), (200, "200.0 MiB")):
        with staging.scratch(tmp_path / f"s{mb}.duckdb", with_settings(engine={"memory_limit_mb": mb})) as con:
            assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [(shown,)]
            assert Path(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]).parent == tmp_path
    with duckdb.connect() as con:  # the warehouse's connection too (the batch and score stages set it)
        staging.limit(con, with_settings(engine={"memory_limit_mb": 300}), tmp_path / "spill")
        assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [("300.0 MiB",)]


def threads(tmp_path: Path) -> None:
    import duckdb

    from pipeline import staging

    with duckdb.connect() as con:
        default = con.execute("SELECT current_setting('threads')").fetchall()
        staging.limit(con, DEFAULTS, tmp_path / "spill")
        assert con.execute("SELECT current_setting('threads')").fetchall() == default
        staging.limit(con, with_settings(engine={"threads": 1}), tmp_path / "spill")
        assert con.execute("SELECT current_setting('threads')").fetchall() == [(1,)]


def extra_folders(tmp_path: Path) -> None:
    """A practice's own questionnaire, in a folder of the home named by the setting, is validated and scored; the
    registry version published with it covers its file."""
    rows = valid_rows()
    phq9 = rows["measures"][0]
    rows["measures"] += [phq9 | {"instrument": "wellbeing3", "item": f"wellbeing3_{i}", "value": i} for i in (1, 2, 3)]
    plain = _refresh(tmp_path / "a", rows)
    assert plain.batches[0].quarantine_by_rule == {"unknown_instrument": 3}
    folder = tmp_path / "b" / "home" / "instruments"
    folder.mkdir(parents=True)
    (folder / "wellbeing3.toml").write_bytes((ROOT / "tests/fixtures/instruments/wellbeing3.toml").read_bytes())
    practice = _refresh(tmp_path / "b", rows, registry={"extra_folders": ("instruments",)})
    assert practice.batches[0].quarantine_by_rule == {}
    with io.warehouse(Paths(tmp_path / "b" / "home").warehouse, read_only=True) as con:
        scored = con.execute("SELECT scale, score FROM scores WHERE instrument = 'wellbeing3'").fetchall()
    assert scored == [("total", 6.0)]
    # the same with the answers staged in DuckDB and cleared by the compiled contract (a large file)
    folder = tmp_path / "c" / "home" / "instruments"
    folder.mkdir(parents=True)
    (folder / "wellbeing3.toml").write_bytes((ROOT / "tests/fixtures/instruments/wellbeing3.toml").read_bytes())
    staged = _refresh(
        tmp_path / "c", rows, registry={"extra_folders": ("instruments",)}, engine={"partition_mb": 0.0005}
    )
    assert staged.batches[0].quarantine_by_rule == {}
    with io.warehouse(Paths(tmp_path / "c" / "home").warehouse, read_only=True) as con:
        assert con.execute("SELECT scale, score FROM scores WHERE instrument = 'wellbeing3'").fetchall() == scored
    versions = [io.published_meta(Paths(tmp_path / h / "home").aggregate_file) for h in ("a", "b")]
    assert versions[0] and versions[1] and versions[0]["registry_version"] != versions[1]["registry_version"]


EFFECTS: dict[str, Callable[[Path], None]] = {
    "identifiers.phone_regions": phone_regions,
    "contract.pre_intake_window_days": pre_intake_window_days,
    "contract.mean_score_tolerance": mean_score_tolerance,
    "contract.exported_at_max_share_after": exported_at_max_share_after,
    "outcomes.baseline_window_days": baseline_window_days,
    "outcomes.finished_min_attended": finished_min_attended,
    "outcomes.nhs_instruments": nhs_instruments,
    "outcomes.density_bins": density_bins,
    "process.protector_trust_min": protector_trust_min,
    "self_leadership.index_weights": index_weights,
    "self_leadership.slope_min_points": slope_min_points,
    "self_leadership.trajectory_max_session": trajectory_max_session,
    "engagement.lapse_days": lapse_days,
    "engagement.modality_share": modality_share,
    "coaching.choice_point_window": choice_point_window,
    "coaching.choice_point_resistance": choice_point_resistance,
    "coaching.choice_point_follow_through": choice_point_follow_through,
    "coaching.choice_point_continued_sessions": choice_point_continued_sessions,
    "coaching.gas_rho": gas_rho,
    "alerts.min_session_number": min_session_number,
    "alerts.min_reference": min_reference,
    "alerts.worst_share": worst_share,
    "disclosure.k": k,
    "disclosure.rule": rule,
    "disclosure.protection": protection,
    "engine.partition_mb": partition_mb,
    "engine.scoring_part_rows": scoring_part_rows,
    "engine.incremental_max_share": incremental_max_share,
    "engine.memory_limit_mb": memory_limit_mb,
    "engine.threads": threads,
    "registry.extra_folders": extra_folders,
}


def test_every_setting_has_an_effect_test() -> None:
    assert set(EFFECTS) == {r["key"] for r in DEFAULTS.rows()}


@pytest.mark.parametrize("key", list(EFFECTS))
def test_changing_the_setting_changes_what_it_should(key: str, tmp_path: Path) -> None:
    EFFECTS[key](tmp_path)


def test_settings_objects_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.disclosure.k = 5  # type: ignore[misc]
