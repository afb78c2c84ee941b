"""FHIR R4: Bundles of QuestionnaireResponse (with EpisodeOfCare, Encounter, Goal resources, or a CSV batch that
supplies clients and sessions) → a contract batch folder.

Resources are parsed and checked with `fhir.resources`' R4B models (R4B shares R4's JSON for every resource used
here). PHQ-9 and GAD-7 are recognised by their LOINC panel codes and their items by LOINC item codes; other
questionnaires by the canonical URLs in the instrument registry's ``[fhir]`` tables. What the contract needs and
FHIR has no element for (service, the IFS process ratings, GAS weights) travels in the ``urn:ifs-outcomes:``
code systems and extensions documented in docs/importing.md.

Identifiers never cross: a Patient holding names, contact details, birth dates or identifiers, or a reference to a
patient carrying a display text or an identifier, refuses the import unless ``--pseudonym`` says where the
pseudonym is (``id``: the Patient's logical id; ``identifier:<system>``: the identifier of that system); then only
the pseudonym is taken and the rest is left behind. Messages name the resource and field, never the value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from pipeline import io
from pipeline.importers.common import PSEUDONYM, ImportRefused, ImportReport, write_batch
from schemas.inputs import PROCESS_COLUMNS, TABLES_BY_NAME
from schemas.registry import Instrument, Registry

MEASURE_COLUMNS = TABLES_BY_NAME["measures"].columns
NS = "urn:ifs-outcomes:"
SERVICE_SYSTEM = f"{NS}service"
SESSION_KIND_SYSTEM = f"{NS}session-kind"
GAS_SYSTEM = f"{NS}gas"
EXT = f"{NS}fhir:"
ORDINAL_EXTENSIONS = (
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
)
#: Encounter.class (v3 ActCode) → modality.
MODALITY = {"AMB": "in_person", "HH": "in_person", "FLD": "in_person", "VR": "telehealth"}
ENCOUNTER_STATUS = {"finished": "attended", "cancelled": "cancelled"}
RESPONSE_STATUSES = ("completed", "amended")
#: Patient elements that identify a person.
PATIENT_IDENTIFYING = ("name", "telecom", "address", "birthDate", "photo", "contact", "identifier")
#: Resources read only as the targets of references (their content, names included, is never read).
REFERENCE_TARGETS = ("Practitioner", "PractitionerRole", "Organization", "Location")
#: Resources held in memory (the context every response is placed in) …
CONTEXT = ("Patient", "EpisodeOfCare", "Encounter", "Questionnaire", "Goal")
#: … and resources streamed file by file, turned into rows and dropped (they are the bulk: ~5 KB of model each).
STREAMED = ("QuestionnaireResponse", "Observation")
USED = CONTEXT + STREAMED


@dataclass
class _Resource:
    type: str
    id: str
    model: Any
    file: str

    @property
    def name(self) -> str:
        return f"{self.type}/{self.id}"


@dataclass
class _Source:
    """Every resource of the bundles, by type, with the questionnaires' definitions."""

    by_type: dict[str, list[_Resource]] = field(default_factory=lambda: defaultdict(list))
    timestamps: list[dt.date] = field(default_factory=list)


def _ref_id(reference: Any, resource_type: str) -> str | None:
    """``Patient/abc`` (or a full URL ending so) → ``abc`` when it names a resource of ``resource_type``."""
    text = getattr(reference, "reference", None) if reference is not None else None
    if not text:
        return None
    parts = text.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == resource_type else None


def _date(value: Any) -> str | None:
    """A FHIR date or dateTime as YYYY-MM-DD, the date as written (no time-zone conversion)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return str(value)[:10]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _extensions(element: Any, url: str) -> list[Any]:
    return [e for e in (getattr(element, "extension", None) or []) if e.url == url]


def _ext_value(element: Any, name: str) -> str | None:
    found = _extensions(element, EXT + name)
    if not found:
        return None
    return _primitive(found[0])


def _primitive(ext: Any) -> str | None:
    for attr in ("valueCode", "valueString", "valueInteger", "valueBoolean", "valueDecimal", "valueDate"):
        value = getattr(ext, attr, None)
        if value is not None:
            if isinstance(value, bool):
                return "true" if value else "false"
            return _number(value) if isinstance(value, int | float) else str(value)
    coding = getattr(ext, "valueCoding", None)
    return coding.code if coding is not None else None


def _coded(concepts: Any, system: str) -> str | None:
    for concept in concepts or []:
        for coding in concept.coding or []:
            if coding.system == system and coding.code:
                return str(coding.code)
    return None


# --- reading ------------------------------------------------------------------------------------------------


def _files(sources: list[Path]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files += sorted(p for p in source.iterdir() if p.suffix == ".json")
        elif source.is_file():
            files.append(source)
        else:
            raise ImportRefused(f"{source}: no such file or folder (rule missing_file); check the path.",
                                rule="missing_file")  # fmt: skip
    if not files:
        raise ImportRefused("no .json file found in the folders given (rule missing_file); pass FHIR Bundle files.",
                            rule="missing_file")  # fmt: skip
    return files


def read_sources(files: list[Path], report: ImportReport) -> _Source:
    """Parse the context resources (`CONTEXT`) of every file; count the types that are not read at all."""
    source = _Source()
    others: Counter[str] = Counter()
    for path in files:
        for res in _parse(path, CONTEXT, report, source, others):
            source.by_type[res.type].append(res)
    targets = {k: v for k, v in others.items() if k in REFERENCE_TARGETS}
    rest = {k: v for k, v in others.items() if k not in REFERENCE_TARGETS}
    if targets:
        report.notes.append(
            "read only as reference targets (their content, names included, is never imported): "
            + ", ".join(f"{k} {v}" for k, v in sorted(targets.items()))
        )
    report.set_aside_rows("resource_type_not_imported", sum(rest.values()), sorted(rest))
    return source


def stream(files: list[Path], report: ImportReport) -> Iterator[_Resource]:
    """The `STREAMED` resources, one file at a time, so memory holds one file's models, not the export's."""
    for path in files:
        yield from _parse(path, STREAMED, report)


def _parse(
    path: Path,
    kinds: tuple[str, ...],
    report: ImportReport,
    source: _Source | None = None,
    others: Counter[str] | None = None,
) -> list[_Resource]:
    """The resources of ``kinds`` in one file, each checked with its R4B model; an invalid one is set aside."""
    from fhir.resources.R4B import get_fhir_model_class

    found: list[_Resource] = []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(
            f"{path.name}: cannot be read as JSON (rule unreadable_file: {type(exc).__name__}); export the "
            "bundle again as UTF-8 FHIR JSON.",
            rule="unreadable_file",
        ) from exc
    if not isinstance(data, dict) or "resourceType" not in data:
        raise ImportRefused(f"{path.name}: is not a FHIR resource (rule unreadable_file); pass FHIR Bundles.",
                            rule="unreadable_file")  # fmt: skip
    if data["resourceType"] == "Bundle":
        stamp = data.get("timestamp")
        if source is not None and isinstance(stamp, str) and len(stamp) >= 10:
            with contextlib.suppress(ValueError):
                source.timestamps.append(dt.date.fromisoformat(stamp[:10]))
        entries = [e.get("resource") for e in data.get("entry", []) if isinstance(e, dict)]
    else:
        entries = [data]
    for number, raw in enumerate(entries, start=1):
        kind = raw.get("resourceType") if isinstance(raw, dict) else None
        where = f"{path.name} entry {number}"
        if kind not in kinds:
            if others is not None and kind not in USED:
                others[str(kind)] += 1
            continue
        try:
            model = get_fhir_model_class(kind).model_validate(raw)
        except (ValidationError, ValueError):
            report.set_aside_rows("invalid_resource", 1, [f"{where} ({kind})"])
            continue
        found.append(_Resource(kind, str(getattr(model, "id", None) or f"entry-{number}"), model, path.name))
    return found


# --- pseudonyms ---------------------------------------------------------------------------------------------


class _Pseudonyms:
    """Where the client pseudonym is, and the refusals that keep identifiers out."""

    def __init__(self, option: str | None, patients: list[_Resource]) -> None:
        if option is not None and option != "id" and not option.startswith("identifier:"):
            raise ImportRefused(
                f"--pseudonym must be 'id' or 'identifier:<system>', not {option!r} (rule usage); see "
                "docs/importing.md.",
                rule="usage",
            )
        self.option = option
        self.system = option.split(":", 1)[1] if option and option.startswith("identifier:") else None
        self.patients = {p.id: p for p in patients}
        for patient in patients:
            for element in PATIENT_IDENTIFYING:
                if getattr(patient.model, element, None) and option is None:
                    raise ImportRefused(
                        f"{patient.file}: {patient.name} holds identifiers in field '{element}' (rule "
                        "identifier_field); pass --pseudonym identifier:<system> (or --pseudonym id) so the importer "
                        "takes only the pseudonym and leaves identifiers behind.",
                        rule="identifier_field",
                    )

    def of(self, resource: _Resource, element: str, reference: Any) -> str | None:
        """The pseudonym of the patient a reference names (None when it names none); refuses identifying refs."""
        if reference is None:
            return None
        if self.option is None and (reference.display or reference.identifier):
            what = "display" if reference.display else "identifier"
            raise ImportRefused(
                f"{resource.file}: {resource.name} has {element}.{what} (rule identifier_field); pass --pseudonym "
                "identifier:<system> (or --pseudonym id) so the importer takes only the pseudonym and leaves "
                "identifiers behind.",
                rule="identifier_field",
            )
        patient_id = _ref_id(reference, "Patient")
        if self.system is None:
            value = patient_id
        else:
            ident = reference.identifier
            value = ident.value if ident is not None and ident.system == self.system else None
            if value is None and patient_id in self.patients:
                value = next(
                    (i.value for i in self.patients[patient_id].model.identifier or [] if i.system == self.system),
                    None,
                )
        if value is not None and not PSEUDONYM.match(value):
            raise ImportRefused(
                f"{resource.file}: the pseudonym of {resource.name} ({element}) does not match ^[A-Za-z0-9_-]{{4,64}}$ "
                "(rule pattern); use pseudonymous patient ids, or --pseudonym identifier:<system> for one that is.",
                rule="pattern",
            )
        return value


# --- clients, sessions and goals from the bundles ----------------------------------------------------------------


@dataclass
class _Episode:
    client_id: str
    patient: str
    start: str | None
    end: str | None


def _clients(
    source: _Source, who: _Pseudonyms, report: ImportReport
) -> tuple[list[dict[str, Any]], dict[str, _Episode]]:
    """One client row per EpisodeOfCare; a patient's later episodes get ``-2``, ``-3`` after the pseudonym."""
    found: list[tuple[_Resource, str]] = []
    for res in source.by_type["EpisodeOfCare"]:
        if res.model.status == "entered-in-error":
            report.set_aside_rows("entered_in_error", 1, [res.name])
            continue
        patient = who.of(res, "patient", res.model.patient)
        if patient is None:
            report.set_aside_rows("no_pseudonym", 1, [res.name])
            continue
        found.append((res, patient))
    found.sort(key=lambda rp: (rp[1], _date(rp[0].model.period.start if rp[0].model.period else None) or "", rp[0].id))
    rows: list[dict[str, Any]] = []
    episodes: dict[str, _Episode] = {}
    seen: Counter[str] = Counter()
    for res, patient in found:
        seen[patient] += 1
        client_id = patient if seen[patient] == 1 else f"{patient}-{seen[patient]}"
        m = res.model
        start = _date(m.period.start) if m.period else None
        end = _date(m.period.end) if m.period else None
        episodes[res.id] = _Episode(client_id, patient, start, end)
        themes = [_primitive(e) for e in _extensions(m, EXT + "presenting-theme")]
        rows.append(
            {
                "client_id": client_id,
                "practice_id": _ref_id(m.managingOrganization, "Organization"),
                "clinician_id": _ref_id(m.careManager, "Practitioner"),
                "service": _coded(m.type, SERVICE_SYSTEM),
                "intake_date": start,
                "age_band": _ext_value(m, "age-band"),
                "gender": _ext_value(m, "gender"),
                "helping_professional": _ext_value(m, "helping-professional"),
                "profession": _ext_value(m, "profession"),
                "presenting_themes": ";".join(t for t in themes if t) or None,
                "discharge_date": end,
                "discharge_reason": _ext_value(m, "discharge-reason"),
            }
        )
    return rows, episodes


class _EpisodeFinder:
    """The client (episode) an encounter, response or goal belongs to."""

    def __init__(self, episodes: dict[str, _Episode]) -> None:
        self.episodes = episodes
        self.by_patient: dict[str, list[_Episode]] = defaultdict(list)
        for episode in episodes.values():
            self.by_patient[episode.patient].append(episode)

    def client(self, episode_ref: Any, patient: str | None, on: str | None) -> str | None:
        episode_id = _ref_id(episode_ref, "EpisodeOfCare")
        if episode_id is not None:
            found = self.episodes.get(episode_id)
            return found.client_id if found else None
        candidates = self.by_patient.get(patient or "", [])
        if len(candidates) <= 1:
            return candidates[0].client_id if candidates else None
        inside = [e for e in candidates if on and (e.start or "") <= on and (e.end is None or on <= e.end)]
        started = [e for e in candidates if on and (e.start or "") <= on]
        return (inside or started or candidates)[-1].client_id


def _sessions(
    source: _Source, who: _Pseudonyms, finder: _EpisodeFinder, report: ImportReport
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows: list[dict[str, Any]] = []
    client_of: dict[str, str] = {}
    for res in source.by_type["Encounter"]:
        m = res.model
        if m.status == "entered-in-error":
            report.set_aside_rows("entered_in_error", 1, [res.name])
            continue
        status = _ext_value(m, "session-status") or ENCOUNTER_STATUS.get(str(m.status))
        if status is None:
            report.set_aside_rows("encounter_status_not_imported", 1, [f"{res.name} ({m.status})"])
            continue
        if not PSEUDONYM.match(res.id):
            report.set_aside_rows("encounter_id_not_a_pseudonym", 1, [res.file])
            continue
        date = _date(m.period.start) if m.period else None
        patient = who.of(res, "subject", m.subject)
        client = finder.client(m.episodeOfCare[0] if m.episodeOfCare else None, patient, date)
        if client is None:
            report.set_aside_rows("no_episode", 1, [res.name])
            continue
        client_of[res.id] = client
        modality = MODALITY.get(str(m.class_fhir.code)) if m.class_fhir is not None else None
        if modality is None:
            report.set_aside_rows("unmapped_encounter_class", 1, [res.name])
        length = m.length
        duration = _number(float(length.value)) if length is not None and length.value is not None else None
        if length is not None and length.unit not in (None, "min", "minutes") and length.code not in (None, "min"):
            duration = None
            report.set_aside_rows("unmapped_duration_unit", 1, [res.name])
        row = {
            "session_id": res.id,
            "client_id": client,
            "clinician_id": next(
                (_ref_id(p.individual, "Practitioner") for p in m.participant or [] if p.individual), None
            ),
            "session_date": date,
            "kind": _coded(m.type, SESSION_KIND_SYSTEM),
            "status": status,
            "modality": modality,
            "location_id": next((_ref_id(loc.location, "Location") for loc in m.location or []), None),
            "duration_min": duration,
        }
        process = _extensions(m, EXT + "ifs-process")
        for sub in process[0].extension or [] if process else []:
            if sub.url in PROCESS_COLUMNS:
                row[sub.url] = _primitive(sub)
            else:
                report.set_aside_rows("unmapped_process_rating", 1, [f"{res.name} {sub.url}"])
        rows.append(row)
    return rows, client_of


def _goals(
    source: _Source,
    observations: list[_Resource],
    who: _Pseudonyms,
    finder: _EpisodeFinder | None,
    report: ImportReport,
) -> list[dict[str, Any]]:
    """GAS: a Goal per goal (startDate = set_on, weight extension) and an Observation per rating (its focus)."""
    goals: dict[str, dict[str, Any]] = {}
    for res in source.by_type["Goal"]:
        m = res.model
        patient = who.of(res, "subject", m.subject)
        set_on = _date(m.startDate)
        client = finder.client(None, patient, set_on) if finder else patient
        if client is None or not PSEUDONYM.match(res.id):
            report.set_aside_rows("no_episode" if client is None else "goal_id_not_a_pseudonym", 1, [res.name])
            continue
        goals[res.id] = {
            "client_id": client,
            "goal_id": res.id,
            "weight": _ext_value(m, "gas-weight"),
            "set_on": set_on,
        }
    rows: list[dict[str, Any]] = []
    for res in observations:
        m = res.model
        if _coded([m.code], GAS_SYSTEM) != "attainment":
            report.set_aside_rows("observation_not_imported", 1, [res.name])
            continue
        goal = next((goals.get(_ref_id(f, "Goal") or "") for f in m.focus or []), None)
        if goal is None or m.valueInteger is None:
            report.set_aside_rows("gas_rating_without_goal" if goal is None else "gas_rating_without_value", 1,
                                  [res.name])  # fmt: skip
            continue
        rows.append({**goal, "rated_on": _date(m.effectiveDateTime), "attainment": str(m.valueInteger)})
    return rows


# --- answers ------------------------------------------------------------------------------------------------


class _Questionnaires:
    """Which instrument a response is, and which item an answer's linkId is."""

    def __init__(self, registry: Registry, source: _Source) -> None:
        self.by_canonical: dict[str, Instrument] = {}
        self.by_code: dict[str, Instrument] = {}
        for inst in registry.instruments.values():
            if inst.fhir is not None:
                self.by_canonical.update(dict.fromkeys(inst.fhir.canonicals, inst))
                self.by_code.update(dict.fromkeys(inst.fhir.codes, inst))
        self.item_codes: dict[str, dict[str, str]] = {}  # questionnaire url -> linkId -> code
        for res in source.by_type["Questionnaire"]:
            m = res.model
            if not m.url:
                continue
            url = str(m.url).split("|")[0]
            codes = {c.code for c in m.code or [] if c.code}
            known = next((self.by_code[c] for c in codes if c in self.by_code), None)
            if known is not None:
                self.by_canonical.setdefault(url, known)
            self.item_codes[url] = {
                i.linkId: c.code for i in _flat(m.item) for c in (getattr(i, "code", None) or [])[:1] if c.code
            }

    def instrument(self, canonical: str | None) -> tuple[Instrument | None, str]:
        url = (canonical or "").split("|")[0]
        if url in self.by_canonical:
            return self.by_canonical[url], url
        return self.by_code.get(url.rstrip("/").rsplit("/", 1)[-1]), url

    def item(self, inst: Instrument, url: str, link_id: str) -> str | None:
        """The item or scale id of a linkId; "" for one the registry ignores; None when unknown."""
        assert inst.fhir is not None
        candidates = [link_id, link_id.lstrip("/"), link_id.rstrip("/").rsplit("/", 1)[-1]]
        code = self.item_codes.get(url, {}).get(link_id)
        candidates += [code] if code else []
        for key in candidates:
            if key in inst.fhir.ignore:
                return ""
            if key in inst.fhir.items:
                return inst.fhir.items[key]
            if key in inst.accepted_item_ids():
                return key
        return None


def _flat(items: Any) -> list[Any]:
    """Every item of a nested item tree (groups, and items nested under answers)."""
    out: list[Any] = []
    for item in items or []:
        out.append(item)
        out += _flat(getattr(item, "item", None))
        for answer in getattr(item, "answer", None) or []:
            out += _flat(getattr(answer, "item", None))
    return out


def _answer_value(answer: Any, inst: Instrument) -> float | None:
    for attr in ("valueInteger", "valueDecimal"):
        value = getattr(answer, attr, None)
        if value is not None:
            return float(value)
    coding = answer.valueCoding
    if coding is None:
        return None
    for element in (coding, answer):
        for ext in getattr(element, "extension", None) or []:
            if ext.url in ORDINAL_EXTENSIONS:
                value = ext.valueDecimal if ext.valueDecimal is not None else ext.valueInteger
                if value is not None:
                    return float(value)
    assert inst.fhir is not None
    return inst.fhir.answers.get(str(coding.code))


def _measures(
    responses: Iterable[_Resource],
    source: _Source,
    registry: Registry,
    who: _Pseudonyms,
    finder: _EpisodeFinder | None,
    session_client: dict[str, str],
    report: ImportReport,
) -> pl.DataFrame:
    """Answers in long format, every item of an administration (unanswered = skipped) plus supplied scores; a
    response with anything that cannot be read is set aside whole (no score from part of it). Returns columns."""
    questionnaires = _Questionnaires(registry, source)
    columns: dict[str, list[str | None]] = {c: [] for c in MEASURE_COLUMNS}
    ignored = empty = 0
    for res in responses:
        m = res.model
        if m.status not in RESPONSE_STATUSES:
            report.set_aside_rows("response_status_not_imported", 1, [f"{res.name} ({m.status})"])
            continue
        inst, url = questionnaires.instrument(m.questionnaire)
        if inst is None:
            report.set_aside_rows("unknown_questionnaire", 1, [res.name])
            continue
        on = _date(m.authored)
        if on is None:
            report.set_aside_rows("missing_date", 1, [res.name])
            continue
        patient = who.of(res, "subject", m.subject)
        session = _ref_id(m.encounter, "Encounter")
        client = patient if finder is None else session_client.get(session or "") or finder.client(None, patient, on)
        if client is None:
            report.set_aside_rows("no_pseudonym" if patient is None else "no_episode", 1, [res.name])
            continue
        values: dict[str, str | None] = {}
        problem = None
        for item in _flat(m.item):
            answers = item.answer or []
            if not answers:
                continue
            target = questionnaires.item(inst, url, item.linkId)
            if target == "":
                ignored += 1
                continue
            if target is None:
                problem = "unknown_item"
                break
            if len(answers) > 1:
                problem = "multiple_answers"
                break
            value = _answer_value(answers[0], inst)
            if value is None:
                problem = "unknown_answer_code" if answers[0].valueCoding is not None else "unreadable_answer"
                break
            values[target] = _number(value)
        if problem:
            report.set_aside_rows(problem, 1, [res.name])
            continue
        answered = [i for i in inst.item_ids if i in values]
        scales = [s for s in inst.scales if s in values]
        if not answered and not scales:
            empty += 1
            continue
        written = [*(inst.item_ids if answered else ()), *scales]
        keys: dict[str, str | None] = {"client_id": client, "session_id": session, "instrument": inst.id,
                                       "administered_on": on}  # fmt: skip
        for column, key in keys.items():
            columns[column] += [key] * len(written)
        columns["item"] += written
        columns["value"] += [values.get(i) for i in written]
    if empty:
        report.notes.append(f"QuestionnaireResponses with no answer at all (not written): {empty}")
    if ignored:
        report.notes.append(
            f"answers to questions the registry leaves out on purpose (e.g. PHQ-9's difficulty): {ignored}"
        )
    return pl.DataFrame(columns, schema=dict.fromkeys(MEASURE_COLUMNS, pl.String))


# --- the importer -------------------------------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]], name: str) -> pl.DataFrame:
    from schemas.inputs import TABLES_BY_NAME

    columns = TABLES_BY_NAME[name].columns
    return pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String))


def _with_batch(folder: Path) -> dict[str, pl.DataFrame]:
    """clients, sessions (and goals) of a CSV/Parquet contract batch, as text."""
    tables: dict[str, pl.DataFrame] = {}
    for name in ("clients", "sessions", "goals"):
        found = [folder / f"{name}{s}" for s in io.TABLE_SUFFIXES if (folder / f"{name}{s}").exists()]
        if not found:
            if name == "goals":
                continue
            raise ImportRefused(
                f"{folder}: --with batch has no {name}.csv (rule missing_file); name a batch folder that supplies "
                "clients and sessions.",
                rule="missing_file",
            )
        try:
            tables[name] = io.read_table_as_text(found[0])
        except io.UnreadableFile as exc:
            raise ImportRefused(f"{found[0].name}: cannot be read (rule unreadable_file: {exc}).",
                                rule="unreadable_file") from exc  # fmt: skip
    return tables


def import_fhir(
    sources: list[Path],
    out: Path,
    registry: Registry,
    with_batch: Path | None = None,
    pseudonym: str | None = None,
    exported_at: dt.date | None = None,
    batch_id: str | None = None,
) -> ImportReport:
    """Translate FHIR R4 bundles into a contract batch at ``out``; refusals raise `ImportRefused`."""
    report = ImportReport(importer="fhir")
    files = _files(sources)
    source = read_sources(files, report)
    observations: list[_Resource] = []

    def responses() -> Iterator[_Resource]:
        """The responses, streamed; the (few) GAS observations are kept for the goals."""
        for res in stream(files, report):
            if res.type == "Observation":
                observations.append(res)
            else:
                yield res

    who = _Pseudonyms(pseudonym, source.by_type["Patient"])
    has_care = bool(source.by_type["EpisodeOfCare"] or source.by_type["Encounter"])
    tables: dict[str, pl.DataFrame]
    if with_batch is not None:
        if has_care:
            raise ImportRefused(
                "the bundles hold EpisodeOfCare or Encounter resources and --with names a batch too (rule usage); "
                "take clients and sessions from one of the two.",
                rule="usage",
            )
        tables = _with_batch(with_batch)
        measures = _measures(responses(), source, registry, who, None, {}, report)
        if source.by_type["Goal"] and "goals" not in tables:
            tables["goals"] = _frame(_goals(source, observations, who, None, report), "goals")
    else:
        if not source.by_type["EpisodeOfCare"]:
            raise ImportRefused(
                "the bundles hold no EpisodeOfCare resources (rule no_episodes); add them, or pass --with BATCH "
                "naming a CSV batch that supplies clients and sessions.",
                rule="no_episodes",
            )
        client_rows, episodes = _clients(source, who, report)
        finder = _EpisodeFinder(episodes)
        session_rows, session_client = _sessions(source, who, finder, report)
        tables = {"clients": _frame(client_rows, "clients"), "sessions": _frame(session_rows, "sessions")}
        measures = _measures(responses(), source, registry, who, finder, session_client, report)
        if source.by_type["Goal"] or observations:
            tables["goals"] = _frame(_goals(source, observations, who, finder, report), "goals")
    if who.option is not None and source.by_type["Patient"]:
        report.notes.append(f"Patient resources read for the pseudonym only: {len(source.by_type['Patient'])}")
    tables["measures"] = measures
    names = ", ".join(p.name for p in sources[:3]) + (" …" if len(sources) > 3 else "")
    report.tables = write_batch(
        out,
        tables,
        source=f"FHIR R4 import of {names}" + (f" with {with_batch.name}" if with_batch else ""),
        exported_at=exported_at or (max(source.timestamps) if source.timestamps else None),
        batch_id=batch_id,
    )
    report.out = out
    return report
