"""Helpers for the interoperability tests: what a refresh published, without provenance, so two homes loaded from
equivalent batches (comma/';'/tab CSVs, a REDCap export, a FHIR bundle) can be compared table by table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline.config import Paths

#: Columns that say where a row came from (which batch, run or file), not what it says.
PROVENANCE = ("batch_id", "run_id", "warehouse_run_id", "content_hash")
#: Warehouse tables compared: the loaded contract tables and everything derived from them.
WAREHOUSE = ("clients", "sessions", "measures", "goals", "scores", "scale_reliability", "client_change")


def _tables(path: Path, names: tuple[str, ...] | None = None) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        found = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        return {name: con.sql(f'SELECT * FROM "{name}"').pl() for name in found if names is None or name in names}


def outcome_snapshot(paths: Paths) -> dict[str, pl.DataFrame]:
    """The warehouse's contract and outcome tables and every published aggregate table, provenance dropped and
    rows sorted, keyed ``warehouse.<table>`` / ``aggregate.<table>``."""
    frames = {f"warehouse.{k}": v for k, v in _tables(paths.warehouse, WAREHOUSE).items()}
    frames |= {f"aggregate.{k}": v for k, v in _tables(paths.published / "aggregate.duckdb").items()}
    # presenting_themes is a set written as ';'-separated text: REDCap writes it in its choices' order.
    themes = pl.col("presenting_themes").str.split(";").list.sort().list.join(";")
    frames["warehouse.clients"] = frames["warehouse.clients"].with_columns(themes)
    return {name: _sorted(f.drop(PROVENANCE, strict=False)) for name, f in frames.items()}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """In a fixed order: by every column but the floats (compared with a tolerance, they may differ in the last bit)."""
    keys = [c for c, t in frame.schema.items() if not t.is_float()]
    return frame.sort(keys or frame.columns, nulls_last=True)


def assert_same_outcomes(expected: Paths, found: Paths) -> None:
    """Every compared table is equal, row for row and value for value — floats to 1e-12 relative: DuckDB's parallel
    aggregation may add partial sums in another order from one run to the next (two loads of one CSV differ so)."""
    from polars.testing import assert_frame_equal

    want, got = outcome_snapshot(expected), outcome_snapshot(found)
    assert sorted(want) == sorted(got)
    assert want["warehouse.scores"].height > 0 and want["warehouse.client_change"].height > 0
    for name, frame in want.items():
        assert_frame_equal(frame, got[name], check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


def sample_counts(batch: Path | None = None) -> dict[str, int]:
    """Rows per table of a CSV batch (default the committed sample)."""
    from tests.conftest import SAMPLE

    folder = batch or SAMPLE
    return {name: pl.read_csv(folder / f"{name}.csv", infer_schema=False).height
            for name in ("clients", "sessions", "goals", "measures")}  # fmt: skip


# --- a contract batch as the REDCap export a practice would make of it -----------------------------------------

REDCAP_FIXTURES = Path(__file__).parent / "fixtures" / "redcap"
REDCAP_DICTIONARY = REDCAP_FIXTURES / "dictionary.csv"
REDCAP_MAPPING = Path(__file__).resolve().parent.parent / "docs" / "examples" / "redcap-mapping.toml"
REDCAP_KEYS = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]


def _read_text(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False) if path.exists() else pl.DataFrame()


def _dictionary() -> pl.DataFrame:
    return pl.read_csv(REDCAP_DICTIONARY, infer_schema=False).select(
        pl.col("Variable / Field Name").alias("field"),
        pl.col("Form Name").alias("form"),
        pl.col("Field Type").alias("type"),
        pl.col("Choices, Calculations, OR Slider Labels").alias("choices"),
    )


def _codes(choices: str | None) -> list[str]:
    return [part.split(",", 1)[0].strip() for part in (choices or "").split("|") if part.strip()]


def _instances(frame: pl.DataFrame, order: list[str]) -> pl.DataFrame:
    """REDCap's instance numbers: 1, 2, … per record, in ``order``."""
    return frame.sort(["record_id", *order]).with_columns(
        (pl.int_range(pl.len()).over("record_id") + 1).cast(pl.String).alias("redcap_repeat_instance")
    )


def csv_to_redcap(batch: Path, out: Path) -> Path:
    """Write ``records.csv`` — the REDCap records export (raw data) of the example project in
    tests/fixtures/redcap/ — holding the same data as a contract batch; the mapping is docs/examples'."""
    import tomllib

    mapping = tomllib.loads(REDCAP_MAPPING.read_text(encoding="utf-8"))
    dictionary = _dictionary()
    types = dict(zip(dictionary["field"], dictionary["type"], strict=True))

    def form_frame(table: str, frame: pl.DataFrame, event: str, instrument: str | None) -> pl.DataFrame:
        spec = mapping[table]
        exprs: list[pl.Expr] = [pl.col("client_id").alias("record_id")]
        for column, field in spec["columns"].items():
            value = pl.col(column) if column in frame.columns else pl.lit(None, pl.String)
            inverse = {v: k for k, v in spec.get("choices", {}).get(column, {}).items()}
            if types[field] == "checkbox":
                tokens = value.str.split(";")
                exprs += [
                    pl.when(tokens.list.contains(theme)).then(pl.lit("1")).otherwise(pl.lit("0")).alias(f"{field}___{code}")
                    for theme, code in inverse.items()
                ]  # fmt: skip
                continue
            if inverse:
                value = value.replace_strict(inverse, default=None)
            elif types[field] == "yesno":
                value = value.replace_strict({"true": "1", "false": "0"}, default=None)
            exprs.append(value.alias(field))
        out = frame.select(exprs).with_columns(
            pl.lit(event).alias("redcap_event_name"),
            pl.lit(instrument, pl.String).alias("redcap_repeat_instrument"),
            pl.lit("2").alias(f"{spec['form']}_complete"),
        )
        return out

    clients = form_frame("clients", _read_text(batch / "clients.csv"), "enrolment_arm_1", None)
    clients = clients.with_columns(pl.lit(None, pl.String).alias("redcap_repeat_instance"))
    sessions = _instances(
        form_frame("sessions", _read_text(batch / "sessions.csv"), "treatment_arm_1", "session"),
        ["session_date", "session_code"],
    )
    frames = [clients, sessions]
    goals = _read_text(batch / "goals.csv")
    if goals.height:
        goals = goals.with_columns(pl.col("weight").fill_null("1"))
        frames.append(_instances(form_frame("goals", goals, "treatment_arm_1", "gas"), ["gas_rated_on", "gas_goal"]))
    measures = _read_text(batch / "measures.csv")
    for m in mapping["measures"]:
        rows = measures.filter(pl.col("instrument") == m["instrument"])
        inverse = {str(v): k for k, v in m.get("choices", {}).items()}
        if inverse:
            rows = rows.with_columns(pl.col("value").replace_strict(inverse, default=pl.col("value")))
        wide = rows.pivot(on="item", index=["client_id", "administered_on"], values="value", aggregate_function="first")
        sessions_of = rows.group_by("client_id", "administered_on").agg(pl.col("session_id").drop_nulls().first())
        wide = wide.join(sessions_of, on=["client_id", "administered_on"], how="left")
        form = wide.select(
            pl.col("client_id").alias("record_id"),
            pl.col("administered_on").alias(m["date"]),
            pl.col("session_id").alias(m["session"]),
            *(pl.col(item).alias(field) for item, field in m["items"].items() if item in wide.columns),
            pl.lit("treatment_arm_1").alias("redcap_event_name"),
            pl.lit(m["form"]).alias("redcap_repeat_instrument"),
            pl.lit("2").alias(f"{m['form']}_complete"),
        )
        frames.append(_instances(form, [m["date"]]))
    columns = list(REDCAP_KEYS)
    for form, fields in dictionary.group_by("form", maintain_order=True):
        for field, kind, text in fields.select("field", "type", "choices").iter_rows():
            if field == "record_id":
                continue
            columns += [f"{field}___{c}" for c in _codes(text)] if kind == "checkbox" else [field]
        columns.append(f"{form[0]}_complete")
    records = pl.concat([f.with_columns(pl.all().cast(pl.String)) for f in frames], how="diagonal")
    records = records.with_columns(pl.lit(None, pl.String).alias(c) for c in columns if c not in records.columns)
    event_order = pl.col("redcap_event_name").replace_strict({"enrolment_arm_1": 0, "treatment_arm_1": 1})
    instance = pl.col("redcap_repeat_instance").cast(pl.Int64)
    order = ["record_id", event_order, pl.col("redcap_repeat_instrument").fill_null(""), instance]
    records = records.sort(order, nulls_last=False).select(columns)
    out.mkdir(parents=True, exist_ok=True)
    records.write_csv(out / "records.csv")
    return out / "records.csv"


# --- a contract batch as the FHIR R4 resources an EHR would export ---------------------------------------------

NS = "urn:ifs-outcomes:"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
BOOLEAN_PROCESS = ("exile_contact", "protector_permission", "exile_witnessed")
CODE_PROCESS = ("unblending", "unburdening", "protector_release")


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": f"{NS}fhir:{name}", **value}


def _episode(c: dict[str, Any]) -> dict[str, Any]:
    extensions = [
        _ext(name, valueCode=c[column])
        for name, column in (("age-band", "age_band"), ("gender", "gender"), ("profession", "profession"),
                             ("discharge-reason", "discharge_reason"))
        if c.get(column)
    ]  # fmt: skip
    extensions.append(_ext("helping-professional", valueBoolean=c["helping_professional"] == "true"))
    extensions += [_ext("presenting-theme", valueCode=t) for t in (c.get("presenting_themes") or "").split(";") if t]
    period = {k: v for k, v in (("start", c.get("intake_date")), ("end", c.get("discharge_date"))) if v}
    return {
        "resourceType": "EpisodeOfCare",
        "id": f"eoc-{c['client_id']}",
        "extension": extensions,
        "status": "finished" if c.get("discharge_date") else ("active" if c.get("intake_date") else "planned"),
        "type": [{"coding": [{"system": f"{NS}service", "code": c["service"]}]}],
        "patient": {"reference": f"Patient/{c['client_id']}"},
        "managingOrganization": {"reference": f"Organization/{c['practice_id']}"},
        "careManager": {"reference": f"Practitioner/{c['clinician_id']}"},
        **({"period": period} if period else {}),
    }


def _encounter(s: dict[str, Any]) -> dict[str, Any]:
    from schemas.inputs import PROCESS_COLUMNS

    process = []
    for column in PROCESS_COLUMNS:
        value = s.get(column)
        if value is None:
            continue
        if column in BOOLEAN_PROCESS:
            process.append({"url": column, "valueBoolean": value == "true"})
        elif column in CODE_PROCESS:
            process.append({"url": column, "valueCode": value})
        else:
            process.append({"url": column, "valueInteger": int(value)})
    status = {"attended": "finished", "cancelled": "cancelled", "no_show": "cancelled"}[s["status"]]
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": s["session_id"],
        "extension": ([_ext("session-status", valueCode="no_show")] if s["status"] == "no_show" else [])
        + ([_ext("ifs-process", extension=process)] if process else []),
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                  "code": "AMB" if s["modality"] == "in_person" else "VR"},
        "type": [{"coding": [{"system": f"{NS}session-kind", "code": s["kind"]}]}],
        "subject": {"reference": f"Patient/{s['client_id']}"},
        "episodeOfCare": [{"reference": f"EpisodeOfCare/eoc-{s['client_id']}"}],
        "participant": [{"individual": {"reference": f"Practitioner/{s['clinician_id']}"}}],
        "period": {"start": s["session_date"]},
    }  # fmt: skip
    if s.get("duration_min"):
        resource["length"] = {"value": int(s["duration_min"]), "unit": "min", "system": "http://unitsofmeasure.org",
                              "code": "min"}  # fmt: skip
    if s.get("location_id"):
        resource["location"] = [{"location": {"reference": f"Location/{s['location_id']}"}}]
    if not resource["extension"]:
        del resource["extension"]
    return resource


def _responses(measures: pl.DataFrame) -> list[dict[str, Any]]:
    """One QuestionnaireResponse per administration: PHQ-9 by LOINC answer codes, GAD-7 by codes with the ordinal
    extension, the others as integers (decimals where the value has a fraction); skipped items left out."""
    from schemas.registry import default_registry

    registry = default_registry()
    responses = []
    key = ["client_id", "instrument", "administered_on"]
    for number, ((client, instrument, on), rows) in enumerate(measures.group_by(key, maintain_order=True), start=1):
        inst = registry[str(instrument)]
        assert inst.fhir is not None
        link = {v: k for k, v in inst.fhir.items.items()}
        code_of = {}
        for code, value in inst.fhir.answers.items():
            code_of.setdefault(value, code)
        items = []
        for item, value in rows.select("item", "value").iter_rows():
            if value is None:
                continue
            number_value = float(value)
            if inst.id in ("phq9", "gad7") and item in inst.item_ids:
                coding: dict[str, Any] = {"system": "http://loinc.org", "code": code_of[number_value]}
                if inst.id == "gad7":
                    coding["extension"] = [{"url": ORDINAL, "valueDecimal": number_value}]
                answer: dict[str, Any] = {"valueCoding": coding}
            elif number_value.is_integer():
                answer = {"valueInteger": int(number_value)}
            else:
                answer = {"valueDecimal": number_value}
            items.append({"linkId": link.get(item, item), "answer": [answer]})
        session = rows["session_id"].drop_nulls()
        responses.append({
            "resourceType": "QuestionnaireResponse",
            "id": f"qr-{client}-{number}",
            "questionnaire": inst.fhir.canonicals[0],
            "status": "completed",
            "subject": {"reference": f"Patient/{client}"},
            **({"encounter": {"reference": f"Encounter/{session[0]}"}} if session.len() else {}),
            "authored": on,
            "item": items,
        })  # fmt: skip
    return responses


def _gas(goals: pl.DataFrame) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for (client, goal), rows in goals.group_by(["client_id", "goal_id"], maintain_order=True):
        first = rows.row(0, named=True)
        resources.append({
            "resourceType": "Goal", "id": goal, "lifecycleStatus": "active",
            "description": {"text": "Goal Attainment Scaling goal"},
            "subject": {"reference": f"Patient/{client}"}, "startDate": first["set_on"],
            "extension": [_ext("gas-weight", valueInteger=int(first["weight"] or 1))],
        })  # fmt: skip
        for number, rating in enumerate(rows.iter_rows(named=True), start=1):
            resources.append({
                "resourceType": "Observation", "id": f"{goal}-r{number}", "status": "final",
                "code": {"coding": [{"system": f"{NS}gas", "code": "attainment"}]},
                "subject": {"reference": f"Patient/{client}"}, "focus": [{"reference": f"Goal/{goal}"}],
                "effectiveDateTime": rating["rated_on"], "valueInteger": int(rating["attainment"]),
            })  # fmt: skip
    return resources


def csv_to_fhir(batch: Path, out: Path, care: bool = True, as_of: str = "2026-10-31") -> Path:
    """Write one FHIR R4 Bundle (type collection) per client into ``out``, holding the same data as a contract
    batch: EpisodeOfCare, Encounter, QuestionnaireResponse, Goal and GAS Observation resources — or, with
    ``care=False``, only the QuestionnaireResponses (for `import fhir --with`)."""
    tables = {name: _read_text(batch / f"{name}.csv") for name in ("clients", "sessions", "measures", "goals")}
    by_client: dict[str, list[dict[str, Any]]] = {c: [] for c in tables["clients"]["client_id"]}
    if care:
        for c in tables["clients"].iter_rows(named=True):
            by_client[c["client_id"]].append(_episode(c))
        for s in tables["sessions"].iter_rows(named=True):
            by_client[s["client_id"]].append(_encounter(s))
        if tables["goals"].height:
            for r in _gas(tables["goals"]):
                by_client[r["subject"]["reference"].split("/")[1]].append(r)
    for r in _responses(tables["measures"]):
        by_client[r["subject"]["reference"].split("/")[1]].append(r)
    out.mkdir(parents=True, exist_ok=True)
    for client, resources in by_client.items():
        bundle = {
            "resourceType": "Bundle", "type": "collection", "timestamp": f"{as_of}T00:00:00Z",
            "entry": [{"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r} for r in resources],
        }  # fmt: skip
        (out / f"{client}.json").write_text(json.dumps(bundle), encoding="utf-8")
    return out


def time_imports(work: Path, clients: int = 3000) -> dict[str, Any]:
    """Time both imports (real CLI processes, wall clock) on a demo-sized batch and its REDCap/FHIR equivalents."""
    import subprocess
    import sys
    import time

    def run(*args: str | Path) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], check=True, capture_output=True)
        return round(time.perf_counter() - started, 1)

    def size(path: Path) -> int:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size

    demo = work / "demo"
    run("demo", "--out", demo, "--clients", str(clients))
    redcap = csv_to_redcap(demo, work / "redcap")
    bundles = csv_to_fhir(demo, work / "fhir")
    result: dict[str, Any] = {"clients": clients, "csv_batch_bytes": size(demo)}
    result["redcap_records_bytes"] = size(redcap)
    options = ("--dictionary", REDCAP_DICTIONARY, "--mapping", REDCAP_MAPPING, "--exported-at", "2026-10-31")
    result["import_redcap_s"] = run("import", "redcap", redcap, *options, "--out", work / "from-redcap")
    result["fhir_bundles_bytes"] = size(bundles)
    result["fhir_bundles"] = len(list(bundles.iterdir()))
    result["import_fhir_s"] = run("import", "fhir", bundles, "--out", work / "from-fhir")
    for name in ("demo", "from-redcap", "from-fhir"):
        rows = {p.stem: pl.scan_csv(p).select(pl.len()).collect().item() for p in sorted((work / name).glob("*.csv"))}
        result[f"{name}_rows"] = rows
    return result


if __name__ == "__main__":  # python -m tests.interop WORK_DIR [CLIENTS]
    import sys

    print(json.dumps(time_imports(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3000), indent=1))
