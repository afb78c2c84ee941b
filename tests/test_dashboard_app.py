"""The dashboard in Streamlit's AppTest, on files published from data/sample: every page in both modes, headline
numbers equal to the published tables, filters, suppression display, and aggregate mode's sealed data access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from benchmarks.dashboard_harness import CLINICAL_PAGES, PAGES
from dashboards import data_access
from pipeline.config import Paths
from pipeline.disclosure import hidden_to_protect

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
K = 11


def _published(paths: Paths, name: str, file: str = "aggregate") -> pl.DataFrame:
    with duckdb.connect(str(paths.published / f"{file}.duckdb"), read_only=True) as con:
        return con.sql(f"SELECT * FROM {name}").pl()


@pytest.fixture
def app(published_sample: Paths, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AppTest:
    mode = getattr(request, "param", "aggregate")
    monkeypatch.setenv(data_access.HOME_VARIABLE, str(published_sample.home))
    monkeypatch.setenv(data_access.MODE_VARIABLE, mode)
    return AppTest.from_file(APP, default_timeout=60).run()


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _open(at: AppTest, stem: str) -> AppTest:
    return at.switch_page(f"app_pages/{stem}.py").run()


@pytest.mark.parametrize(
    ("app", "stem"),
    [*(("aggregate", s) for s in PAGES), *(("clinical", s) for s in {**PAGES, **CLINICAL_PAGES})],
    indirect=["app"],
)
def test_every_page_renders_without_error(app: AppTest, stem: str) -> None:
    at = _open(app, stem)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    title = {**PAGES, **CLINICAL_PAGES}[stem][1]
    assert [t.value for t in at.title] == [title]


def _metrics(at: AppTest) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def _shown(row: dict[str, object], column: str, percent: bool = True) -> str:
    """How a published cell is shown on a tile."""
    if row[f"{column}_suppressed"]:
        return "‡" if hidden_to_protect(row, column) else (f"n<{K}" if percent else f"<{K}")
    value = row[column]
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}%" if percent else f"{value:,}"  # type: ignore[arg-type]


RATE_TILES = ("recovery_rate", "reliable_improvement_rate", "reliable_recovery_rate", "reliable_deterioration_rate")


def _outcome_row(paths: Paths, population: str, period: str, instrument: str = "phq9") -> dict[str, object]:
    return (
        _published(paths, "outcome_summary")
        .filter(
            (pl.col("population") == population) & (pl.col("period") == period) & (pl.col("dimension") == "overall")
            & (pl.col("instrument") == instrument)
        )
        .row(0, named=True)
    )  # fmt: skip


def _nhs_row(paths: Paths, period: str) -> dict[str, object]:
    nhs = _published(paths, "nhs_outcomes")
    return nhs.filter((pl.col("period") == period) & (pl.col("dimension") == "overall")).row(0, named=True)


def test_overview_headlines_equal_the_published_tables(app: AppTest, published_sample: Paths) -> None:
    """The overview's tiles, in order: the NHS composite of finished treatment, the scale's four rates (each from
    finished treatment), then engagement — every value the published cell, as published."""
    nhs, row = _nhs_row(published_sample, "all"), _outcome_row(published_sample, "finished_treatment", "all")
    eng = _published(published_sample, "engagement_summary").filter(pl.col("dimension") == "overall").row(0, named=True)
    metrics = _metrics(app)
    assert [label for label, _ in metrics[:8]] == [
        "Recovery", "Reliable improvement", "Reliable recovery", "Reliable deterioration"
    ] * 2  # fmt: skip
    assert [v for _, v in metrics[:4]] == [_shown(nhs, c) for c in RATE_TILES]
    assert [v for _, v in metrics[4:8]] == [_shown(row, c) for c in RATE_TILES]
    assert _metric(app, "Episodes") == _shown(eng, "episodes", False)
    assert _metric(app, "Attendance") == _shown(eng, "attendance_rate")
    captions = " ".join(c.value for c in app.caption)
    assert "Finished treatment at any time" in captions
    assert f"{_shown(row, 'recovery', False)} of {_shown(row, 'clinical_baseline', False)} clinical at baseline" in (
        captions
    )
    shown = app.dataframe[0].value
    assert set(shown["instrument"]) == set(
        _published(published_sample, "outcome_summary").filter(pl.col("period") == "all")["instrument"]
    )


def test_in_treatment_shows_the_open_episodes_at_the_as_of_date(app: AppTest, published_sample: Paths) -> None:
    as_of = _published(published_sample, "publication")["as_of"][0].isoformat()
    app.radio(key="filter_population").set_value("in_treatment").run()
    row = _outcome_row(published_sample, "in_treatment", as_of)
    metrics = _metrics(app)
    assert [v for _, v in metrics[:4]] == [_shown(row, c) for c in RATE_TILES]
    captions = " ".join(c.value for c in app.caption)
    assert f"In treatment at {as_of}" in captions and "Published for finished treatment only" in captions


def test_a_filter_changes_the_headlines_to_that_level(app: AppTest, published_sample: Paths) -> None:
    engagement = _published(published_sample, "engagement_summary")
    overall = _metric(app, "Episodes")
    practice = engagement.filter(pl.col("dimension") == "practice").sort("level").row(0, named=True)
    app.selectbox(key="filter_practice").select(practice["level"]).run()
    shown = _metric(app, "Episodes")
    assert shown == _shown(practice, "episodes", False)
    assert shown != overall or practice["episodes_suppressed"]
    # one breakdown at a time: choosing a service clears the practice
    service = engagement.filter(pl.col("dimension") == "service").sort("level").row(0, named=True)
    app.selectbox(key="filter_service").select(service["level"]).run()
    assert app.selectbox(key="filter_practice").value == "All"
    assert _metric(app, "Episodes") == _shown(service, "episodes", False)


def test_period_filter_selects_the_published_period(app: AppTest, published_sample: Paths) -> None:
    """A quarter shows that quarter's finished treatment, the change against the previous quarter as published in
    period_comparison, and the quarter's engagement."""
    outcomes = _published(published_sample, "outcome_summary")
    quarters = outcomes.filter(pl.col("period_type") == "quarter").sort("period")["period"].unique(maintain_order=True)
    quarter = quarters[-2]
    app.selectbox(key="filter_period").select(quarter).run()
    nhs, row = _nhs_row(published_sample, quarter), _outcome_row(published_sample, "finished_treatment", quarter)
    metrics = _metrics(app)
    assert [v for _, v in metrics[:4]] == [_shown(nhs, c) for c in RATE_TILES]
    assert [v for _, v in metrics[4:8]] == [_shown(row, c) for c in RATE_TILES]
    comparison = _published(published_sample, "period_comparison").filter(
        (pl.col("period") == quarter) & (pl.col("dimension") == "overall") & (pl.col("source") == "nhs_outcomes")
        & (pl.col("metric") == "recovery_rate")
    ).row(0, named=True)  # fmt: skip
    recovery = next(m for m in app.metric if m.label == "Recovery")
    if comparison["difference"] is not None:
        assert recovery.delta == f"{comparison['difference'] * 100:+.1f} pts vs {comparison['previous_period']}"
    sessions = (
        _published(published_sample, "engagement_by_period")
        .filter((pl.col("period") == quarter) & (pl.col("dimension") == "overall"))
        .row(0, named=True)
    )
    assert _metric(app, "Sessions attended") == _shown(sessions, "attended", False)


def test_suppressed_cells_show_k_never_a_number(app: AppTest, published_sample: Paths) -> None:
    at = _open(app, "outcomes")
    published = _published(published_sample, "outcome_summary").filter(
        (pl.col("period") == "all")
        & (pl.col("population") == "finished_treatment")
        & (pl.col("instrument") == "phq9")
        & pl.col("dimension").is_in(["overall", "service"])
    )
    shown = pl.from_pandas(at.dataframe[0].value)
    columns = {"paired": "paired", "recovered": "recovered", "improved": "improved", "deteriorated": "deteriorated",
               "harmed": "harmed", "recovery_rate": "recovery",
               "reliable_recovery_rate": "reliable recovery"}  # fmt: skip
    checked_hidden = 0
    for row in published.iter_rows(named=True):
        line = shown.filter(pl.col("group") == row["level"]).row(0, named=True)
        for column, label in columns.items():
            if row[f"{column}_suppressed"]:  # the mark says why: small, small behind a rate, or to protect
                mark = "‡" if hidden_to_protect(row, column) else (f"n<{K}" if column.endswith("_rate") else f"<{K}")
                assert line[label] == mark, (row["level"], column, line[label])
                checked_hidden += 1
            else:
                assert line[label] not in (f"<{K}", f"n<{K}", "‡")
    assert checked_hidden > 0, "the sample should have suppressed cells on this page"


#: Table columns (as labelled on the pages) that show published episode counts.
COUNT_LABELS = {
    "episodes",
    "paired",
    "with baseline",
    "recovered",
    "improved",
    "unchanged",
    "deteriorated",
    "harmed",
    "reliably improved",
    "paired with a rule",
    "clinical at baseline",
    "coaching episodes",
    "with GAS",
    "choice points",
    "M1",
    "M2",
    "M3",
    "M4",
    "M5",
}


@pytest.mark.parametrize("app", ["aggregate", "clinical"], indirect=True)
def test_no_page_shows_a_small_count(app: AppTest) -> None:
    """Every aggregate table on every page: a count column shows 0, ≥ k, `<k` or a dash — never 1..k−1 — and a
    hidden cell is always written `<k` with the k in force."""
    seen_hidden = 0
    for stem in PAGES:
        at = _open(app, stem)
        for frame in at.dataframe:
            table = frame.value
            for column in table.columns:
                values = [str(v) for v in table[column]]
                assert all(v == f"<{K}" for v in values if v.startswith("<")), (stem, column)
                assert all(v == f"n<{K}" for v in values if v.startswith("n<")), (stem, column)
                seen_hidden += sum(v in (f"<{K}", f"n<{K}", "‡") for v in values)
                if column in COUNT_LABELS and not column.endswith("rate"):
                    numbers = [int(v) for v in values if v.isdigit()]
                    assert not [n for n in numbers if 1 <= n < K], (stem, column)
        for metric in at.metric:
            assert not metric.value.startswith("<") or metric.value == f"<{K}"
            assert not metric.value.startswith("n<") or metric.value == f"n<{K}"
    assert seen_hidden > 0


@pytest.fixture(scope="module", autouse=True)
def _release_cached_connections() -> Iterator[None]:
    yield
    import streamlit

    streamlit.cache_resource.clear()  # closes the DuckDB connections (on_release) before the interpreter exits
    streamlit.cache_data.clear()


@given(
    values=st.lists(st.one_of(st.none(), st.integers(0, 10_000)), min_size=1, max_size=20),
    hidden=st.lists(st.booleans(), min_size=20, max_size=20),
    k=st.integers(3, 20),
)
def test_for_display_never_shows_a_number_for_a_suppressed_cell(
    values: list[int | None], hidden: list[bool], k: int
) -> None:
    flags = hidden[: len(values)]
    frame = pl.DataFrame({"n": [None if h else v for v, h in zip(values, flags, strict=True)], "n_suppressed": flags},
                         schema={"n": pl.Int64, "n_suppressed": pl.Boolean})  # fmt: skip
    shown = data_access.for_display(frame, k)
    assert shown.columns == ["n"]
    for cell, flag, value in zip(shown["n"], flags, values, strict=True):
        if flag:
            assert cell == f"<{k}"
        else:
            assert cell == ("—" if value is None else str(value))


# --- aggregate mode cannot read the clinical file -------------------------------------------------------------


def test_aggregate_source_has_no_clinical_path(published_sample: Paths) -> None:
    source = data_access.Source(published_sample.home, clinical=False)
    with pytest.raises(data_access.ClinicalDataNotAllowed):
        _ = source.clinical_path


def test_aggregate_mode_refuses_clinical_queries(app: AppTest) -> None:
    assert not app.exception
    with pytest.raises(data_access.ClinicalDataNotAllowed):
        data_access.clinical_query("alerts", dimension="overall", level="all")


def test_the_aggregate_connection_cannot_open_any_other_file(published_sample: Paths) -> None:
    """Even SQL we did not write cannot reach the clinical file, the warehouse or any other file."""
    con = data_access._connection(
        str(published_sample.published / "aggregate.duckdb"), (0, 0), "aggregate"
    )  # a private cache key: this test's own connection
    clinical = published_sample.published / "clinical.duckdb"
    for sql in (
        f"ATTACH '{clinical}' AS c (READ_ONLY)",
        f"SELECT * FROM '{clinical}'",
        f"SELECT * FROM read_csv('{published_sample.home}/raw/x.csv')",
        "SET enable_external_access = true",
        f"COPY (SELECT 1) TO '{published_sample.home}/leak.csv'",
    ):
        with pytest.raises((duckdb.PermissionException, duckdb.InvalidInputException)):
            con.sql(sql)
    assert con.sql("SELECT count(*) FROM aggregate.outcome_summary").fetchall()[0][0] > 0


def test_aggregate_mode_never_opens_the_clinical_file(
    published_sample: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every aggregate page renders with the clinical file replaced by garbage: it was never opened."""
    home = tmp_path / "home"
    (home / "published").mkdir(parents=True)
    (home / "published" / "aggregate.duckdb").write_bytes(
        (published_sample.published / "aggregate.duckdb").read_bytes()
    )
    (home / "published" / "clinical.duckdb").write_bytes(b"not a database")
    (home / "published" / "internal.duckdb").write_bytes(b"not a database")
    monkeypatch.setenv(data_access.HOME_VARIABLE, str(home))
    monkeypatch.setenv(data_access.MODE_VARIABLE, "aggregate")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[data_access.AUDIENCE_KEY] = "internal"  # asked for, and ignored: not clinical mode
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert all(r.key != data_access.AUDIENCE_KEY for r in at.radio), "aggregate mode offers no internal view"
    for stem in PAGES:
        at = _open(at, stem)
        assert not at.exception, (stem, [e.value for e in at.exception])
    assert not any("Alerts" in str(p) for p in at.get("navigation")), "clinical pages are not routed"


@pytest.mark.parametrize("app", ["clinical"], indirect=True)
def test_clinical_mode_shows_client_level_views(app: AppTest, published_sample: Paths) -> None:
    at = _open(app, "client")
    client = at.selectbox(key="client_id").value
    scores = _published(published_sample, "client_scores", "clinical").filter(pl.col("client_id") == client)
    assert not at.exception and client is not None
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) >= 1 or scores.height == 0
    at = _open(at, "alerts")
    flagged = _published(published_sample, "alerts", "clinical").filter(pl.col("any_flag") & pl.col("episode_open"))
    assert at.dataframe[0].value.shape[0] == flagged.height


@pytest.mark.parametrize("app", ["clinical"], indirect=True)
def test_client_picker_narrows_by_the_typed_prefix(app: AppTest, published_sample: Paths) -> None:
    """The picker offers ids starting with what was typed (never the whole practice at once)."""
    episodes = _published(published_sample, "episode_engagement", "clinical")["client_id"].sort()
    at = _open(app, "client")
    assert at.selectbox(key="client_id").options == episodes.to_list()[:500]
    prefix = episodes[7][:3]
    at.text_input(key="client_prefix").input(prefix).run()
    assert not at.exception
    options = at.selectbox(key="client_id").options
    assert options == [c for c in episodes.to_list() if c.startswith(prefix)]
    at.text_input(key="client_prefix").input("no-such-id").run()
    assert "starts with that" in at.info[0].value


def test_missing_published_files_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data_access.HOME_VARIABLE, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "make run" in at.error[0].value


@pytest.mark.parametrize("app", ["clinical"], indirect=True)
def test_the_internal_view_shows_exact_figures_in_clinical_mode_only(app: AppTest, published_sample: Paths) -> None:
    """Clinical mode offers the practice's internal view: the overview's counts then come from internal.duckdb,
    exactly, with a warning on the page; the shareable view (the default) stays the aggregate file's."""
    assert not app.warning, "the shareable view is the default"
    at = app.radio(key=data_access.AUDIENCE_KEY).set_value("internal").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("not for sharing" in w.value for w in at.warning)
    internal = _published(published_sample, "nhs_outcomes", "internal")
    row = internal.filter((pl.col("period") == "all") & (pl.col("dimension") == "overall")).row(0, named=True)
    shown = [m.value for m in at.metric]
    assert f"{float(row['recovery_rate']) * 100:.1f}%" in shown  # exact, whatever the shareable file hides
    assert not any(v.startswith(("<", "n<", "‡")) for v in shown)
