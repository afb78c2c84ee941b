"""';'- and tab-separated CSVs load exactly like comma-separated ones; a ';' file may write decimals as 2,5."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline import io
from pipeline.config import Paths
from tests.conftest import SAMPLE
from tests.interop import assert_same_outcomes
from tests.test_cli import cli


def _rewrite(source: Path, target: Path, separator: str) -> Path:
    """The same batch with every CSV written with ``separator`` (every value kept as text, as exported)."""
    target.mkdir(parents=True)
    for path in source.glob("*.csv"):
        pl.read_csv(path, infer_schema=False).write_csv(target / path.name, separator=separator)
    shutil.copy(source / "batch.toml", target / "batch.toml")
    return target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('client_id,practice_id,presenting_themes\nc0001,PR01,burnout;caretaking\nc0002,PR01,"a;b"\n', ","),
        ("client_id;practice_id;value\nc0001;PR01;2,5\nc0002;PR01;3\n", ";"),
        ("client_id\tpractice_id\tvalue\nc0001\tPR01\t2.5\n", "\t"),
        ("client_id;practice_id\n", ";"),
        ("client_id\nc0001\n", ","),  # one column: nothing to sniff, the comma default
        ("", ","),
        ("session_id;client_id,x\ns1;c1,2\n", ","),  # as many commas as ';' in the header: not clearly ';'
    ],
)
def test_separator_is_sniffed_from_the_header_and_first_lines(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    assert io.csv_separator(path) == expected


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_batches_load_exactly_like_the_comma_batch(tmp_path: Path, separator: str) -> None:
    other = _rewrite(SAMPLE, tmp_path / "other", separator)
    assert ("\t" if separator == "\t" else ";") in (other / "clients.csv").read_text().splitlines()[0]
    comma_home, other_home = tmp_path / "comma", tmp_path / "home"
    comma = cli("refresh", SAMPLE, "--json", home=comma_home)
    assert comma.returncode == 0
    result = cli("refresh", other, "--json", home=other_home)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)["batches"][0]
    assert summary["tables"] == json.loads(comma.stdout)["batches"][0]["tables"]
    assert summary["tables"]["measures"]["loaded"] > 25_000 and summary["tables"]["measures"]["quarantined"] == 0
    assert_same_outcomes(Paths(comma_home), Paths(other_home))


def test_decimal_commas_in_a_semicolon_batch_are_decimals(tmp_path: Path) -> None:
    batch = _rewrite(SAMPLE, tmp_path / "semi", ";")
    measures = pl.read_csv(batch / "measures.csv", separator=";", infer_schema=False)
    # A supplied mean score with a decimal comma, as a European export writes it.
    decimal = pl.DataFrame(
        {"client_id": [measures["client_id"][0]], "session_id": [measures["session_id"][0]],
         "instrument": ["self_energy_8c"], "administered_on": ["2026-10-30"], "item": ["self_energy"],
         "value": ["6,25"]}
    )  # fmt: skip
    pl.concat([measures, decimal]).write_csv(batch / "measures.csv", separator=";")
    validated = cli("validate", batch, "--json", home=tmp_path / "home")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert cli("refresh", batch, home=tmp_path / "home").returncode == 0
    with io.warehouse(Paths(tmp_path / "home").warehouse, read_only=True) as con:
        loaded = con.execute("SELECT value FROM measures WHERE item = 'self_energy'").fetchall()
    assert loaded == [(6.25,)]


def test_decimal_commas_are_read_only_in_semicolon_files(tmp_path: Path) -> None:
    """In a comma file "2,5" is two fields; in a tab file a decimal comma is a value that cannot be read."""
    batch = _rewrite(SAMPLE, tmp_path / "tab", "\t")
    measures = pl.read_csv(batch / "measures.csv", separator="\t", infer_schema=False)
    measures.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("2,0")).otherwise(pl.col("value")).alias("value")
    ).write_csv(batch / "measures.csv", separator="\t")
    result = cli("validate", batch, "--json", home=tmp_path / "home")
    assert result.returncode == 1
    assert json.loads(result.stdout)["batches"][0]["quarantine_by_rule"] == {"type": 1}


def test_change_reads_a_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    rows = ["subject;wave;phq9", "s1;1;14,5", "s1;2;6", "s2;1;12", "s2;2;13,5", "s3;1;9", "s3;2;"]
    semi = tmp_path / "scores.csv"
    semi.write_text("\n".join(rows) + "\n", encoding="utf-8")
    comma = tmp_path / "comma.csv"
    comma.write_text("\n".join(r.replace(",", ".").replace(";", ",") for r in rows) + "\n", encoding="utf-8")
    args = ("--id", "subject", "--time", "wave", "--outcome", "phq9", "--pre", "1", "--post", "2")
    args += ("--reliability", "0.89", "--better", "lower", "--cutoff", "10", "--json")
    from_semi = cli("change", semi, *args, "--out", tmp_path / "a.csv")
    from_comma = cli("change", comma, *args, "--out", tmp_path / "b.csv")
    assert from_semi.returncode == 0, from_semi.stdout + from_semi.stderr
    assert json.loads(from_semi.stdout) == json.loads(from_comma.stdout)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    out = pl.read_csv(tmp_path / "a.csv")
    assert out.filter(pl.col("id") == "s1")["pre"].to_list() == [14.5]
