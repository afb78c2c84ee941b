"""`ifs-outcomes import fhir`: FHIR R4 bundles become a contract batch that loads like the CSV they were made from;
identifiers refuse the import unless the pseudonym is named; unknown codes are set aside and counted."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Paths
from schemas.registry import load_registry
from tests.builders import valid_rows, write_batch
from tests.conftest import SAMPLE
from tests.interop import assert_same_outcomes, csv_to_fhir, sample_counts
from tests.test_cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
PRACTICE = FIXTURES / "practice-bundle.json"
RESPONSES = FIXTURES / "responses-only.json"
PSEUDONYM = "identifier:https://fhir.practice.example/identifier/outcomes-pseudonym"
IDENTIFIER_VALUES = ("Robin", "Example", "1981-03-14", "MRN-0042", "robin@", "Casey", "8f3a2c71")


def import_fhir(*args: str | Path):  # type: ignore[no-untyped-def]
    return cli("import", "fhir", *args)


def _edited(tmp_path: Path, change: Any, source: Path = PRACTICE) -> Path:
    bundle = json.loads(source.read_text(encoding="utf-8"))
    change(bundle)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (the LOINC Users' Guide algorithm)."""
    body, check = code.split("-")
    total = 0
    for position, digit in enumerate(int(c) for c in reversed(body)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled // 10 + doubled % 10
    return (10 - total % 10) % 10 == int(check)


def test_every_loinc_code_in_the_registry_has_a_valid_check_digit() -> None:
    codes = []
    for inst in load_registry().instruments.values():
        if inst.fhir is not None:
            codes += [*inst.fhir.codes, *inst.fhir.items, *inst.fhir.ignore]
    codes = [c for c in codes if re.fullmatch(r"\d{4,5}-\d", c)]
    assert len(codes) == 2 + 10 + 1 + 8  # panels, PHQ-9 items+total+difficulty, GAD-7 items+total
    assert all(_loinc_check_digit_ok(c) for c in codes), [c for c in codes if not _loinc_check_digit_ok(c)]
    assert not _loinc_check_digit_ok("68509-0")  # a mistyped GAD-7 item 2 (it is 68509-9)


def test_a_practice_bundle_imports_with_the_pseudonym_and_loads_like_the_csv(tmp_path: Path) -> None:
    result = import_fhir(PRACTICE, "--out", tmp_path / "batch", "--pseudonym", PSEUDONYM, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["tables"] == {"clients": 2, "sessions": 4, "goals": 2, "measures": 24}
    assert report["set_aside"] == {}
    notes = " ".join(report["notes"])
    assert "Practitioner 1" in notes and "Patient resources read for the pseudonym only: 2" in notes
    assert "PHQ-9's difficulty): 1" in notes
    written = "".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "batch").iterdir()))
    assert "exported_at = 2026-10-31" in written
    for value in IDENTIFIER_VALUES:
        assert value not in written and value not in result.stdout
    assert cli("refresh", write_batch(tmp_path / "direct", valid_rows()), home=tmp_path / "h1").returncode == 0
    assert cli("refresh", tmp_path / "batch", home=tmp_path / "h2").returncode == 0
    assert_same_outcomes(Paths(tmp_path / "h1"), Paths(tmp_path / "h2"))


def _named_subject(bundle: dict[str, Any]) -> None:
    """No Patient resources, but a response whose subject reference carries the patient's name."""
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    _resources(bundle, "QuestionnaireResponse")[0]["subject"]["display"] = "Robin Example"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: None,
         "practice-bundle.json: Patient/8f3a2c71 holds identifiers in field 'name' (rule identifier_field)"),
        (lambda b: [p.pop(k) for p in _resources(b, "Patient") for k in ("name", "telecom", "birthDate")],
         "Patient/8f3a2c71 holds identifiers in field 'identifier'"),
        (lambda b: _named_subject(b), "QuestionnaireResponse/qr-C0001-1 has subject.display (rule identifier_field)"),
    ],
)  # fmt: skip
def test_identifiers_refuse_the_import_without_a_pseudonym(tmp_path: Path, change: Any, message: str) -> None:
    source = PRACTICE if message.startswith("practice") else _edited(tmp_path, change)
    result = import_fhir(source, "--out", tmp_path / "batch")
    assert result.returncode == 2, result.stdout
    assert message in result.stdout and "--pseudonym" in result.stdout
    assert not any(v in result.stdout + result.stderr for v in IDENTIFIER_VALUES[:-1])
    assert not (tmp_path / "batch").exists()


def test_responses_only_with_a_csv_batch_supplying_clients_and_sessions(tmp_path: Path) -> None:
    direct = write_batch(tmp_path / "direct", valid_rows())
    result = import_fhir(RESPONSES, "--with", direct, "--out", tmp_path / "batch", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tables"] == {"clients": 2, "sessions": 4, "goals": 2, "measures": 24}
    assert cli("refresh", direct, home=tmp_path / "h1").returncode == 0
    assert cli("refresh", tmp_path / "batch", home=tmp_path / "h2").returncode == 0
    assert_same_outcomes(Paths(tmp_path / "h1"), Paths(tmp_path / "h2"))
    # without --with, a bundle that has no episodes of care cannot say who the clients are
    refused = import_fhir(RESPONSES, "--out", tmp_path / "other")
    assert refused.returncode == 2 and "(rule no_episodes)" in refused.stdout and "--with" in refused.stdout


def _set_code(bundle: dict[str, Any], code: str) -> None:
    gad7 = next(r for r in _resources(bundle, "QuestionnaireResponse") if "69737-5" in r["questionnaire"])
    coding = gad7["item"][0]["answer"][0]["valueCoding"]
    coding.pop("extension")
    coding["code"] = code


@pytest.mark.parametrize(
    ("change", "reason", "measures"),
    [
        (lambda b: _set_code(b, "LA9999-9"), "unknown_answer_code", 24 - 7),
        (lambda b: _resources(b, "QuestionnaireResponse")[0].update(questionnaire="http://example.org/q/unknown"),
         "unknown_questionnaire", 24 - 10),
        (lambda b: _resources(b, "QuestionnaireResponse")[0]["item"][1].update(linkId="/99999-9"),
         "unknown_item", 24 - 10),
        (lambda b: _resources(b, "QuestionnaireResponse")[0].update(status="in-progress"),
         "response_status_not_imported", 24 - 10),
        (lambda b: b["entry"].append({"resource": {"resourceType": "Condition", "id": "x1"}}),
         "resource_type_not_imported", 24),
    ],
)  # fmt: skip
def test_unknown_codes_are_set_aside_counted_and_exit_1(
    tmp_path: Path, change: Any, reason: str, measures: int
) -> None:
    result = import_fhir(_edited(tmp_path, change), "--out", tmp_path / "batch", "--pseudonym", PSEUDONYM, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "imported_with_set_aside" and report["set_aside"] == {reason: 1}
    assert report["tables"]["measures"] == measures
    assert report["set_aside_places"][reason]


def test_the_sample_as_fhir_bundles_publishes_the_same_outcomes_as_the_csv_batch(tmp_path: Path) -> None:
    """The key test: data/sample as one FHIR R4 Bundle per client (EpisodeOfCare, Encounter, QuestionnaireResponse
    by LOINC codes or canonical URL, Goal and GAS Observation), imported from the folder and refreshed, gives the
    same warehouse contract tables, scores, reliability and client_change and the same published aggregates."""
    bundles = csv_to_fhir(SAMPLE, tmp_path / "bundles")
    result = import_fhir(bundles, "--out", tmp_path / "batch", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tables"] == sample_counts()
    assert cli("refresh", SAMPLE, home=tmp_path / "csv").returncode == 0
    assert cli("refresh", tmp_path / "batch", home=tmp_path / "fhir").returncode == 0
    assert_same_outcomes(Paths(tmp_path / "csv"), Paths(tmp_path / "fhir"))
