"""Report and research export on the files published from data/sample: self-contained valid HTML whose headline
numbers equal summary.json and the published tables, no suppressed cell revealed, a de-identified export, and the
example under docs/examples running on it."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.config import Paths
from pipeline.export import QUASI, protect_quasi_identifiers, write_export
from pipeline.report import latest_complete_quarter, write_report

ROOT = Path(__file__).resolve().parent.parent
K = 11
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "path", "rect", "line",
        "circle", "stop", "use", "polyline", "polygon", "ellipse", "image"}  # fmt: skip


@pytest.fixture(scope="module")
def report_dir(published_sample: Paths) -> Path:
    return write_report(published_sample, "all")


class _Checker(HTMLParser):
    """Well-formedness (every element closed in order), no fetched resources, and the data-key headline values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.keys: dict[str, str] = {}
        self._key: str | None = None
        self.cells: list[list[str]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.problems.append(f"<{tag}> present")
        for name in ("src", "href", "xlink:href"):
            value = a.get(name) or ""
            if value and not value.startswith("#") and tag != "a":
                self.problems.append(f"{tag} {name}={value[:60]}")
        if "style" in a and "url(" in (a["style"] or ""):
            self.problems.append("inline url()")
        if tag == "table":
            self._table = (a.get("id") or "").removeprefix("table-")
            self.tables[self._table] = []
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        if tag in ("td", "th"):
            self._cell = []
        if "data-key" in a:
            self._key = a["data-key"]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._key is not None:
            self.keys[self._key] = data.strip()
            self._key = None


def _parse(path: Path) -> _Checker:
    checker = _Checker()
    checker.feed(path.read_text(encoding="utf-8"))
    checker.close()
    return checker


def test_report_files_exist_and_are_deterministic(published_sample: Paths, report_dir: Path) -> None:
    names = {p.name for p in report_dir.iterdir()}
    assert {"report.html", "summary.json", "summary.md", "tables"} <= names
    assert len(list((report_dir / "tables").glob("*.csv"))) >= 10
    before = {p: p.read_bytes() for p in report_dir.rglob("*") if p.is_file()}
    write_report(published_sample, "all")
    assert before == {p: p.read_bytes() for p in report_dir.rglob("*") if p.is_file()}


def test_report_html_is_well_formed_and_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    checker = _parse(report_dir / "report.html")
    assert checker.problems == [] and checker.stack == []
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 6
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html.split('<section class="methods">')[0])
    assert "@import" not in html and "<script" not in html.lower()


def test_headline_numbers_equal_summary_and_published(report_dir: Path, published_sample: Paths) -> None:
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["schema_version"] and summary["period"] == "all"
    keys = _parse(report_dir / "report.html").keys
    assert len(keys) >= 8
    with duckdb.connect(str(published_sample.published / "aggregate.duckdb"), read_only=True) as con:
        outcomes = con.sql(
            "SELECT * FROM outcome_summary WHERE population = 'finished_treatment' AND period = 'all' "
            "AND dimension = 'overall'"
        ).pl()
        engagement = con.sql("SELECT * FROM engagement_summary WHERE dimension = 'overall'").pl().row(0, named=True)
        nhs = (
            con.sql("SELECT * FROM nhs_outcomes WHERE period = 'all' AND dimension = 'overall'").pl().row(0, named=True)
        )
    for key, shown in keys.items():
        group, *rest = key.split(".")
        protects = False
        if group == "nhs":
            value, hidden, published = (
                summary["nhs_talking_therapies"][rest[0]],
                nhs[f"{rest[0]}_suppressed"],
                nhs[rest[0]],
            )
            protects = rest[0] in summary["nhs_talking_therapies"]["hidden_to_protect"]
        elif group == "engagement":
            value, hidden = summary["engagement_all_time"][rest[0]], engagement[f"{rest[0]}_suppressed"]
            published = engagement[rest[0]]
            protects = rest[0] in summary["engagement_all_time"]["hidden_to_protect"]
        elif group == "coaching":
            value, hidden, published = summary["coaching"][rest[0]], summary["coaching"][rest[0]] is None, None
        else:
            instrument, scale, field = group, rest[0], rest[1]
            entry = summary["outcomes"][f"{instrument}.{scale}"]
            protects = field in entry["hidden_to_protect"]
            value, hidden = entry[field], field in entry["suppressed"] or protects
            row = outcomes.filter((pl.col("instrument") == instrument) & (pl.col("scale") == scale)).row(0, named=True)
            published = row[field]
            assert hidden == row[f"{field}_suppressed"]
        if hidden:  # the mark says why: ‡ to protect another cell, n<k a rate with a small count behind it, <k
            expected = "‡" if protects else (f"n<{K}" if "rate" in key.rsplit(".", 1)[-1] else f"<{K}")
            assert shown == expected and value is None, key
            continue
        if published is not None:
            assert value == pytest.approx(published, abs=1e-6), key
        if isinstance(value, float) and "rate" in key:
            assert shown == f"{value * 100:.1f}%", key
        elif isinstance(value, int):
            assert shown == f"{value:,}", key


def test_no_report_output_reveals_a_suppressed_cell(report_dir: Path, published_sample: Paths) -> None:
    """Every CSV cell of a protected column is `<k` exactly where the published flag is set; HTML tables show the
    same cells; summary.json has null where hidden; and no count column anywhere shows 1..k−1."""
    with duckdb.connect(str(published_sample.published / "aggregate.duckdb"), read_only=True) as con:
        flags_total = sum(
            con.sql(f"SELECT count(*) FROM {t} WHERE {' OR '.join(c)}").fetchall()[0][0]
            for t, c in (("outcome_summary", ["paired_suppressed"]),)
        )
    assert flags_total > 0
    html_tables = _parse(report_dir / "report.html").tables
    seen_marks: set[str] = set()
    for csv in (report_dir / "tables").glob("*.csv"):
        table = pl.read_csv(csv, infer_schema=False)
        for column in table.columns:
            values = table[column].fill_null("").to_list()
            assert all(v == f"<{K}" for v in values if v.startswith("<")), (csv.name, column)
            assert all(v == f"n<{K}" for v in values if v.startswith("n<")), (csv.name, column)
            marks = {v for v in values if v in (f"<{K}", f"n<{K}", "‡")}
            seen_marks.update(marks)
            if column.endswith(("rate", "_low", "_high")):  # a hidden rate never reads as "under 11%"
                assert f"<{K}" not in marks, (csv.name, column)
            if column in ("episodes", "paired", "recovered", "reliably_improved", "reliably_deteriorated",
                          "clinical_baseline", "coaching_episodes", "choice_points", "attended", "scheduled",
                          *(f"reached_m{i}" for i in range(1, 6))):  # fmt: skip
                small = [v for v in values if v.isdigit() and 1 <= int(v) < K]
                assert not small, (csv.name, column, small)
        shown = html_tables[csv.stem]
        assert len(shown) == table.height + 1, csv.name  # header + rows
        for html_row, csv_row in zip(shown[1:], table.iter_rows(), strict=True):
            for html_cell, csv_cell in zip(html_row, csv_row, strict=True):
                for mark in (f"<{K}", f"n<{K}", "‡"):
                    assert (html_cell == mark) == ((csv_cell or "") == mark), csv.name
    assert {f"<{K}", "‡"} <= seen_marks, seen_marks  # small counts and cells hidden to protect them, told apart
    summary = json.loads((report_dir / "summary.json").read_text())
    assert "‡" in summary["disclosure"]["legend"]
    for entry in summary["outcomes"].values():
        assert all(entry[f] is None for f in entry["suppressed"] + entry["hidden_to_protect"])
        assert not set(entry["suppressed"]) & set(entry["hidden_to_protect"])


def test_report_cli_default_period_and_bad_period(published_sample: Paths, tmp_path: Path) -> None:
    run = [sys.executable, "-m", "pipeline", "report", "--home", str(published_sample.home)]
    bad = subprocess.run([*run, "--period", "1999-Q1"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "1999-Q1" in bad.stderr
    ok = subprocess.run([*run, "--json"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    import datetime as dt

    assert json.loads(ok.stdout)["period"] == latest_complete_quarter(dt.date(2026, 10, 31)) == "2026-Q3"
    assert latest_complete_quarter(dt.date(2026, 9, 30)) == "2026-Q3"
    assert latest_complete_quarter(dt.date(2026, 1, 5)) == "2025-Q4"


def test_internal_report_is_exact_apart_and_marked(published_sample: Paths, report_dir: Path) -> None:
    """`report --audience internal`: from internal.duckdb, under reports/internal/, every output says it is not
    for sharing, nothing is hidden; the shareable report is untouched and says nothing of the kind."""
    run = [sys.executable, "-m", "pipeline", "report", "--home", str(published_sample.home), "--period", "all"]
    done = subprocess.run([*run, "--audience", "internal", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    folder = published_sample.reports / "internal" / "all"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["audience"] == "internal" and json.loads(done.stdout)["audience"] == "internal"
    assert (
        "NOT FOR SHARING" in (folder / "report.html").read_text()
        and "NOT FOR SHARING" in (folder / "summary.md").read_text()
    )
    for entry in summary["outcomes"].values():
        assert entry["suppressed"] == [] and entry["hidden_to_protect"] == []
    for csv in (folder / "tables").glob("*.csv"):
        assert not any(
            v in (f"<{K}", f"n<{K}", "‡") for c in pl.read_csv(csv, infer_schema=False).iter_columns() for v in c
        ), csv.name
    assert "NOT FOR SHARING" not in (report_dir / "report.html").read_text()
    assert "audience" not in json.loads((report_dir / "summary.json").read_text())
    wrong = subprocess.run([*run, "--audience", "everyone"], capture_output=True, text=True, cwd=ROOT)
    assert wrong.returncode == 2 and "audience" in wrong.stderr


# --- research export -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exports(published_sample: Paths, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first, second = tmp_path_factory.mktemp("export1"), tmp_path_factory.mktemp("export2")
    write_export(published_sample, first, "test")
    write_export(published_sample, second, "test")
    return first, second


def test_export_has_no_identifier_and_no_calendar_date(exports: tuple[Path, Path], published_sample: Paths) -> None:
    with duckdb.connect(str(published_sample.warehouse), read_only=True) as con:
        ids = {r[0] for r in con.sql("SELECT client_id FROM clients UNION SELECT session_id FROM sessions "
                                     "UNION SELECT practice_id FROM clients UNION SELECT clinician_id FROM sessions "
                                     "UNION SELECT location_id FROM sessions").fetchall() if r[0]}  # fmt: skip
    for path in exports[0].glob("*.parquet"):
        table = pl.read_parquet(path)
        for column in table.columns:
            dtype = table.schema[column]
            assert not dtype.is_temporal(), (path.name, column)
            if dtype == pl.String:
                values = set(table[column].drop_nulls().to_list())
                assert not (values & ids), (path.name, column)
                assert not any(re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", v) for v in values), (path.name, column)
    text = "".join(p.read_text() for p in exports[0].glob("*.md")) + (exports[0] / "manifest.json").read_text()
    assert not any(i in text for i in ids)


def test_export_quasi_identifiers_are_shared_by_k(exports: tuple[Path, Path]) -> None:
    episodes = pl.read_parquet(exports[0] / "episodes.parquet")
    sizes = episodes.group_by(list(QUASI)).len()
    assert sizes["len"].min() >= K, sizes.sort("len").head()


def test_generalization_property_on_small_frames() -> None:
    frame = pl.DataFrame({
        "research_id": [f"E{i}" for i in range(30)], "helping_professional": [i % 2 == 0 for i in range(30)],
        "age_band": ["25-34"] * 12 + ["35-44"] * 10 + ["65+"] * 8, "gender": ["woman"] * 20 + ["man"] * 10,
        "profession": ["therapist"] * 15 + [None] * 15, "practice": ["P1"] * 25 + ["P2"] * 5,
    })  # fmt: skip
    released, levels = protect_quasi_identifiers(frame, 5)
    assert released.group_by(list(QUASI)).len()["len"].min() >= 5
    assert sum(levels.values()) == 30 and released.height == 30


def test_two_exports_are_unlinkable_and_manifests_verify(exports: tuple[Path, Path]) -> None:
    import hashlib

    first, second = (pl.read_parquet(e / "episodes.parquet") for e in exports)
    pairs = first.select("research_id", "intake_year", "service", "attended").join(
        second.select("research_id", "intake_year", "service", "attended"), on="research_id"
    )
    same = pairs.filter(
        (pl.col("intake_year") == pl.col("intake_year_right"))
        & (pl.col("service") == pl.col("service_right"))
        & (pl.col("attended") == pl.col("attended_right"))
    )
    assert same.height < first.height * 0.5, "the same id points to the same episode in both exports"
    for folder in exports:
        manifest = json.loads((folder / "manifest.json").read_text())
        for name, facts in manifest["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == facts["sha256"], name
            if "rows" in facts:
                assert pl.read_parquet(folder / name).height == facts["rows"]
        assert manifest["command"] and manifest["code_version"] and manifest["schema_version"]


def test_export_loads_in_one_line_and_the_example_runs(
    exports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import load_export

    tables = load_export(exports[0])
    assert {"episodes", "sessions", "scores", "client_change", "milestones"} <= set(tables)
    assert duckdb.sql(f"SELECT count(*) FROM '{exports[0] / 'client_change.parquet'}'").fetchall()[0][0] > 0
    namespace = runpy.run_path(str(ROOT / "docs" / "examples" / "telehealth_vs_in_person.py"))
    result = namespace["main"](str(exports[0]))
    assert set(result["modality"]) <= {"in_person", "telehealth"} and result.height >= 1
    assert (result["d_ci_low"] <= result["d"]).all() and (result["d"] <= result["d_ci_high"]).all()


def test_export_cli(published_sample: Paths, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    done = subprocess.run([sys.executable, "-m", "pipeline", "export", "--out", str(out), "--home",
                           str(published_sample.home)], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "README.md").exists() and (out / "data-dictionary.json").exists()
    missing = subprocess.run([sys.executable, "-m", "pipeline", "export", "--out", str(out), "--home",
                              str(tmp_path / "nothing")], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert missing.returncode == 2 and "make run" in missing.stderr
