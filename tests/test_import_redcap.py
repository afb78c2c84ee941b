"""`ifs-outcomes import redcap`: a REDCap export becomes a contract batch that loads like the CSV it was made from;
identifiers are left behind or refuse the import; a bad mapping names its key; nothing is dropped silently."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from pipeline.config import Paths
from tests.builders import valid_rows, write_batch
from tests.conftest import SAMPLE
from tests.interop import (
    REDCAP_DICTIONARY,
    REDCAP_FIXTURES,
    REDCAP_MAPPING,
    assert_same_outcomes,
    csv_to_redcap,
    sample_counts,
)
from tests.test_cli import cli

RECORDS = REDCAP_FIXTURES / "records.csv"
#: Values of the fixture's identifier fields: none may reach the batch, a message or the report.
IDENTIFIER_VALUES = ("Robin", "Sam", "1981-03-14", "example.org", "example.net", "protector at work")


def import_redcap(records: Path, out: Path, mapping: Path = REDCAP_MAPPING, *extra: str):  # type: ignore[no-untyped-def]
    return cli("import", "redcap", records, "--dictionary", REDCAP_DICTIONARY, "--mapping", mapping, "--out", out,
               "--exported-at", "2026-10-31", *extra)  # fmt: skip


def _mapping(tmp_path: Path, old: str, new: str) -> Path:
    text = REDCAP_MAPPING.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "mapping.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _batch_text(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()))


def test_a_small_practice_export_imports_leaving_identifiers_behind(tmp_path: Path) -> None:
    result = import_redcap(RECORDS, tmp_path / "batch", REDCAP_MAPPING, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["tables"] == {"clients": 2, "sessions": 4, "goals": 2, "measures": 24}
    assert report["set_aside"] == {}
    assert any("dob, email, first_name, session_notes (7 values)" in n for n in report["notes"])
    written = _batch_text(tmp_path / "batch")
    for value in IDENTIFIER_VALUES:
        assert value not in written and value not in result.stdout
    # what was imported loads exactly like the hand-written batch the export was made from
    direct = write_batch(tmp_path / "direct", valid_rows())
    assert cli("refresh", direct, home=tmp_path / "h1").returncode == 0
    loaded = cli("refresh", tmp_path / "batch", "--json", home=tmp_path / "h2")
    assert loaded.returncode == 0, loaded.stdout
    assert_same_outcomes(Paths(tmp_path / "h1"), Paths(tmp_path / "h2"))


def test_identifiers_refuse_the_import_unless_the_pseudonym_is_named(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, '[pseudonym]\nfield = "record_id"\nprefix = ""', "")
    result = import_redcap(RECORDS, tmp_path / "batch", mapping)
    assert result.returncode == 2
    assert "records.csv: field 'first_name' holds identifiers in 2 row(s) (rule identifier_field)" in result.stdout
    assert "[pseudonym]" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert not any(v in result.stdout + result.stderr for v in IDENTIFIER_VALUES)
    assert not (tmp_path / "batch").exists()


def test_numbered_records_need_a_prefix_to_be_pseudonyms(tmp_path: Path) -> None:
    records = pl.read_csv(RECORDS, infer_schema=False).with_columns(
        pl.col("record_id").replace({"C0001": "1", "C0002": "2"}),
        pl.col("phq9_session").str.replace("^S", "1-"),  # the sessions' ids stay as they are
    )
    records.write_csv(tmp_path / "records.csv")
    refused = import_redcap(tmp_path / "records.csv", tmp_path / "a")
    assert refused.returncode == 2 and "(rule pattern)" in refused.stdout and "prefix" in refused.stdout
    mapping = _mapping(tmp_path, 'prefix = ""', 'prefix = "rc-"')
    result = import_redcap(tmp_path / "records.csv", tmp_path / "b", mapping)
    assert result.returncode == 0, result.stdout
    assert set(pl.read_csv(tmp_path / "b" / "clients.csv")["client_id"]) == {"rc-1", "rc-2"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('intake_date = "intake_date"', 'intake_day = "intake_date"',
         "[clients.columns] key 'intake_day' is not a column of clients"),
        ('intake_date = "intake_date"', 'intake_date = "intake_dt"',
         "[clients.columns] key 'intake_date' names field 'intake_dt', which is not in the data dictionary"),
        ('intake_date = "intake_date"', "", "[clients.columns] does not map the required column 'intake_date'"),
        ('age_band = "age_band"', 'age_band = "dob"',
         "[clients.columns] key 'age_band' names field 'dob', which holds identifiers"),
        ('form = "session"', 'form = "sessions"', "[sessions] form 'sessions' is not a form of the data dictionary"),
        ('instrument = "gad7"', 'instrument = "gad8"',
         "[[measures]] #2 instrument 'gad8' is not in the instrument registry"),
        ('phq9_1 = "phq9_q1"', 'phq9_10 = "phq9_q1"',
         "[[measures]] #1 (phq9) items key 'phq9_10' is not an item or scale id of phq9"),
        ('date = "phq9_date"', 'dated = "phq9_date"', "[[measures]] #1 key 'dated' is not known"),
        ("[clients]\n", "[client]\n", "key 'client' is not known"),
        ('field = "record_id"', 'field = "email"', "[pseudonym] field 'email' holds identifiers"),
        ('"2" = "coaching"', '"2" = coaching', "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_mapping_file_is_refused_naming_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    result = import_redcap(RECORDS, tmp_path / "batch", _mapping(tmp_path, old, new))
    assert result.returncode == 2, result.stdout
    assert f"mapping.toml: {message}" in result.stdout
    assert "(rule bad_mapping" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "batch").exists()


def test_what_cannot_be_mapped_is_counted_and_exits_1(tmp_path: Path) -> None:
    records = pl.read_csv(RECORDS, infer_schema=False)
    enrolment = pl.col("redcap_event_name") == "enrolment_arm_1"
    phq9 = pl.col("redcap_repeat_instrument") == "phq9"
    records = records.with_columns(
        pl.when(enrolment & (pl.col("record_id") == "C0002")).then(pl.lit("9")).otherwise("service").alias("service"),
        pl.when(phq9).then(pl.lit("often")).otherwise("phq9_q3").alias("phq9_q3"),
        # a field the data dictionary does not know
        pl.when(enrolment).then(pl.lit("2026-01-04")).otherwise(pl.lit(None)).alias("referral_date"),
    )
    records.write_csv(tmp_path / "records.csv")
    result = import_redcap(tmp_path / "records.csv", tmp_path / "batch", REDCAP_MAPPING, "--json")
    assert result.returncode == 1, result.stdout
    report = json.loads(result.stdout)
    assert report["status"] == "imported_with_set_aside"
    assert report["set_aside"] == {"unmapped_choice": 1, "unreadable_answer": 1, "unmapped_field": 2}
    assert report["set_aside_places"]["unmapped_choice"] == ["row 7 field service"]
    assert report["set_aside_places"]["unreadable_answer"] == ["row 3 form phq9"]
    assert report["set_aside_places"]["unmapped_field"] == ["referral_date"]
    assert report["tables"]["measures"] == 24 - 10  # the PHQ-9 administration is set aside whole
    # the unmapped service is left empty, so refresh quarantines that client (and what hangs from it)
    loaded = cli("refresh", tmp_path / "batch", "--json", home=tmp_path / "home")
    assert loaded.returncode == 1
    assert json.loads(loaded.stdout)["batches"][0]["quarantine_by_rule"]["required"] == 1
    # listing the field in `ignore` acknowledges it
    mapping = _mapping(tmp_path, 'ignore = ["consent_date"]', 'ignore = ["consent_date", "referral_date"]')
    again = import_redcap(tmp_path / "records.csv", tmp_path / "batch2", mapping, "--json")
    assert "unmapped_field" not in json.loads(again.stdout)["set_aside"]


def test_an_existing_batch_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "clients.csv").write_text("x\n", encoding="utf-8")
    result = import_redcap(RECORDS, tmp_path / "batch")
    assert result.returncode == 2 and "(rule out_exists)" in result.stdout
    assert (tmp_path / "batch" / "clients.csv").read_text() == "x\n"


def test_a_semicolon_export_with_decimal_commas_imports_like_the_comma_export(tmp_path: Path) -> None:
    records = pl.read_csv(RECORDS, infer_schema=False)
    records.write_csv(tmp_path / "records.csv", separator=";")
    text = (tmp_path / "records.csv").read_text(encoding="utf-8")
    # a PHQ-9 total written with a decimal comma (REDCap's "decimal comma" export option)
    (tmp_path / "records.csv").write_text(re.sub(r";11;2;", ";11,0;2;", text, count=1), encoding="utf-8")
    semi = import_redcap(tmp_path / "records.csv", tmp_path / "semi")
    comma = import_redcap(RECORDS, tmp_path / "comma")
    assert semi.returncode == comma.returncode == 0, semi.stdout
    measures = pl.read_csv(tmp_path / "semi" / "measures.csv", infer_schema=False)
    assert measures.filter(pl.col("item") == "total")["value"].to_list() == ["11.0"]
    for name in ("clients", "sessions", "goals"):
        assert (tmp_path / "semi" / f"{name}.csv").read_text() == (tmp_path / "comma" / f"{name}.csv").read_text()


def test_the_sample_as_a_redcap_export_publishes_the_same_outcomes_as_the_csv_batch(tmp_path: Path) -> None:
    """The key test: data/sample converted to the example project's REDCap export (events, repeating instruments,
    coded choices, checkboxes), imported with docs/examples/redcap-mapping.toml and refreshed, gives the same
    warehouse contract tables, scores, reliability and client_change and the same published aggregate tables."""
    records = csv_to_redcap(SAMPLE, tmp_path / "export")
    result = import_redcap(records, tmp_path / "batch", REDCAP_MAPPING, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tables"] == sample_counts()
    assert cli("refresh", SAMPLE, home=tmp_path / "csv").returncode == 0
    loaded = cli("refresh", tmp_path / "batch", home=tmp_path / "redcap")
    assert loaded.returncode == 0, loaded.stdout
    assert_same_outcomes(Paths(tmp_path / "csv"), Paths(tmp_path / "redcap"))


@pytest.mark.parametrize("command", [(), ("redcap",), ("fhir",)])
def test_import_help(command: tuple[str, ...]) -> None:
    result = cli("import", *command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout
