"""REDCap: the flat records export, its data dictionary and a mapping file → a contract batch folder.

The records export is REDCap's "CSV (raw data)": the record id first, then ``redcap_event_name`` (longitudinal
projects), ``redcap_repeat_instrument`` and ``redcap_repeat_instance`` (repeating instruments and events), one
column per field (a checkbox field one per choice, ``<field>___<code>``, holding 1 or 0) and ``<form>_complete``.
A row of a repeating instrument holds that form only; other rows hold every non-repeating form of their event
(and instance, for a repeating event). The data dictionary (downloaded, or the API's metadata export) tells each
field's form, type, choices (``0, Not at all | 1, Several days``) and whether it is an identifier. The mapping file
(docs/importing.md) says which form and fields make each contract table, how choices map to contract values, and
which field is the pseudonym. No REDCap library is needed: all three are plain CSV and TOML.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.importers.common import (
    ImportRefused,
    ImportReport,
    count_bad_pseudonyms,
    decimal_commas_to_points,
    read_csv_text,
    write_batch,
)
from pipeline.ingest import identifier_like_column
from schemas.inputs import PSEUDONYM_PATTERN, TABLES_BY_NAME
from schemas.registry import Registry

EVENT, REPEAT_FORM, INSTANCE = "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"
#: Columns REDCap adds that are not fields. The survey identifier can hold a participant's e-mail address.
SYSTEM_COLUMNS = (EVENT, REPEAT_FORM, INSTANCE, "redcap_data_access_group")
SURVEY_IDENTIFIER = "redcap_survey_identifier"
ROW = "_row"  # 1-based data row of the records file, for the report
RECORD, CLIENT = "_record", "_client"

#: Data dictionary columns: the name in a downloaded dictionary and in the API's metadata export.
DICTIONARY_COLUMNS = {
    "field_name": ("Variable / Field Name", "field_name"),
    "form_name": ("Form Name", "form_name"),
    "field_type": ("Field Type", "field_type"),
    "choices": ("Choices, Calculations, OR Slider Labels", "select_choices_or_calculations"),
    "validation": ("Text Validation Type OR Show Slider Number", "text_validation_type_or_show_slider_number"),
    "identifier": ("Identifier?", "identifier"),
}
CHOICE_TYPES = ("radio", "dropdown", "checkbox", "yesno", "truefalse")
#: Validation types that mark a text field as contact details whatever the dictionary's identifier flag says.
IDENTIFIER_VALIDATIONS = ("email", "phone", "zipcode", "postalcode")
DATE_COLUMNS = ("intake_date", "discharge_date", "session_date", "set_on", "rated_on")
TABLE_KEYS = {"form", "events", "columns", "constants", "choices"}
MEASURE_KEYS = {"instrument", "form", "events", "date", "session", "items", "choices"}
TOP_KEYS = {"batch", "pseudonym", "ignore", "clients", "sessions", "goals", "measures"}


@dataclass(frozen=True)
class Field:
    name: str
    form: str
    type: str
    choices: dict[str, str]  # code -> label
    identifier: bool


@dataclass(frozen=True)
class TableMapping:
    """One contract table made from one form: ``columns`` maps a contract column to a field."""

    table: str
    form: str
    events: tuple[str, ...]
    columns: dict[str, str]
    constants: dict[str, str]
    choices: dict[str, dict[str, str]]


@dataclass(frozen=True)
class MeasureMapping:
    """One questionnaire made from one form: ``items`` maps an item or scale id of the registry to a field."""

    instrument: str
    form: str
    events: tuple[str, ...]
    date: str
    session: str | None
    items: dict[str, str]
    choices: dict[str, str]


@dataclass(frozen=True)
class Mapping:
    pseudonym: str | None  # None: not named, the record id is used
    prefix: str
    ignore: frozenset[str]
    source: str | None
    batch_id: str | None
    exported_at: dt.date | None
    tables: dict[str, TableMapping]
    measures: tuple[MeasureMapping, ...]


# --- the data dictionary --------------------------------------------------------------------------------


def parse_choices(text: str | None) -> dict[str, str]:
    """``"0, Not at all | 1, Several days"`` → ``{"0": "Not at all", "1": "Several days"}``."""
    choices: dict[str, str] = {}
    for part in (text or "").split("|"):
        code, _, label = part.partition(",")
        if code.strip():
            choices[code.strip()] = label.strip()
    return choices


def read_dictionary(path: Path) -> dict[str, Field]:
    frame, _ = read_csv_text(path, "data dictionary")
    names: dict[str, str] = {}
    for key, candidates in DICTIONARY_COLUMNS.items():
        found = next((c for c in candidates if c in frame.columns), None)
        if found is None and key in ("field_name", "form_name", "field_type"):
            raise ImportRefused(
                f"{path.name}: column '{candidates[0]}' (or '{candidates[1]}') is missing (rule not_a_dictionary); "
                "pass REDCap's data dictionary CSV as --dictionary.",
                rule="not_a_dictionary",
            )
        if found is not None:
            names[key] = found
    fields: dict[str, Field] = {}
    for row in frame.iter_rows(named=True):
        name = row[names["field_name"]]
        if not name:
            continue
        field_type = (row[names["field_type"]] or "").lower()
        validation = (row.get(names.get("validation", ""), "") or "").lower()
        flagged = (row.get(names.get("identifier", ""), "") or "").lower() in ("y", "yes", "1")
        fields[name] = Field(
            name=name,
            form=row[names["form_name"]] or "",
            type=field_type,
            choices=parse_choices(row.get(names.get("choices", ""))) if field_type in CHOICE_TYPES else {},
            identifier=flagged
            or field_type == "notes"  # free text
            or validation.startswith(IDENTIFIER_VALIDATIONS)
            or identifier_like_column(name),
        )
    if field_type_missing := [f.name for f in fields.values() if not f.type]:
        raise ImportRefused(
            f"{path.name}: field '{field_type_missing[0]}' has no field type (rule not_a_dictionary); "
            "export the data dictionary again from REDCap.",
            rule="not_a_dictionary",
        )
    return fields


# --- the mapping file -------------------------------------------------------------------------------------


class _Where:
    """Builds the one-sentence refusal for a mapping key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def refuse(self, where: str, problem: str, fix: str) -> ImportRefused:
        return ImportRefused(f"{self.file}: {where} {problem} (rule bad_mapping); {fix}.", rule="bad_mapping")


def _strings(value: Any, where: str, w: _Where) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise w.refuse(where, "must be a text or a list of texts", 'write it like "name" or ["a", "b"]')


def _table(name: str, data: Any, fields: dict[str, Field], w: _Where) -> TableMapping:
    where = f"[{name}]"
    if not isinstance(data, dict):
        raise w.refuse(where, "is not a table", f"write it as a [{name}] section")
    for key in data:
        if key not in TABLE_KEYS:
            raise w.refuse(f"{where} key '{key}'", "is not known", f"use only {', '.join(sorted(TABLE_KEYS))}")
    if "form" not in data:
        raise w.refuse(where, "has no 'form'", "name the REDCap form (instrument) that holds one row per " + name[:-1])
    form = _strings(data["form"], f"{where} form", w)[0]
    if not any(f.form == form for f in fields.values()):
        raise w.refuse(f"{where} form", f"'{form}' is not a form of the data dictionary", "check the form name")
    spec = TABLES_BY_NAME[name]
    columns: dict[str, str] = {}
    for column, field in dict(data.get("columns", {})).items():
        key = f"[{name}.columns] key '{column}'"
        if column == "client_id":
            raise w.refuse(key, "cannot be mapped: client_id is always the pseudonym", "set [pseudonym] field instead")
        if column not in spec.columns:
            raise w.refuse(key, f"is not a column of {name}", "see docs/data-contract.md for the columns")
        columns[column] = _field(_strings(field, key, w)[0], key, fields, w)
    constants = {}
    for column, value in dict(data.get("constants", {})).items():
        key = f"[{name}.constants] key '{column}'"
        if column not in spec.columns or column == "client_id":
            raise w.refuse(key, f"is not a column of {name} that can be constant", "see docs/data-contract.md")
        if column in columns:
            raise w.refuse(key, "is also in columns", "keep one of the two")
        constants[column] = str(value)
    choices: dict[str, dict[str, str]] = {}
    for column, table in dict(data.get("choices", {})).items():
        key = f"[{name}.choices.{column}]"
        if column not in columns:
            raise w.refuse(key, "is for a column that is not mapped in columns", "map the column or drop its choices")
        if not isinstance(table, dict):
            raise w.refuse(key, "is not a table", 'write it as "code" = "contract value" lines')
        choices[column] = {str(k): str(v) for k, v in table.items()}
    for column in spec.required_columns:
        if column != "client_id" and column not in columns and column not in constants:
            if name == "sessions" and column == "session_id":
                continue  # made from the record, event and instance when not mapped
            raise w.refuse(
                f"[{name}.columns]", f"does not map the required column '{column}'", "map it to a field or a constant"
            )
    events = _strings(data.get("events", []), f"{where} events", w)
    return TableMapping(name, form, events, columns, constants, choices)


def _field(name: str, key: str, fields: dict[str, Field], w: _Where) -> str:
    if name not in fields:
        raise w.refuse(key, f"names field '{name}', which is not in the data dictionary", "check the field name")
    if fields[name].identifier:
        raise w.refuse(
            key,
            f"names field '{name}', which holds identifiers (marked in the data dictionary, free text or shaped "
            "like contact details)",
            "identifiers are never imported: map a pseudonymous field instead",
        )
    return name


def _measure(number: int, data: Any, fields: dict[str, Field], registry: Registry, w: _Where) -> MeasureMapping:
    if not isinstance(data, dict):
        raise w.refuse(
            f"[[measures]] #{number}", "is not a table", "write each questionnaire as a [[measures]] section"
        )
    where = f"[[measures]] #{number}"
    for key in data:
        if key not in MEASURE_KEYS:
            raise w.refuse(f"{where} key '{key}'", "is not known", f"use only {', '.join(sorted(MEASURE_KEYS))}")
    for key in ("instrument", "form", "date", "items"):
        if key not in data:
            raise w.refuse(where, f"has no '{key}'", "see docs/importing.md")
    instrument = _strings(data["instrument"], f"{where} instrument", w)[0]
    if instrument not in registry:
        raise w.refuse(
            f"{where} instrument",
            f"'{instrument}' is not in the instrument registry",
            "use an id of schemas/instruments",
        )
    where = f"[[measures]] #{number} ({instrument})"
    form = _strings(data["form"], f"{where} form", w)[0]
    if not any(f.form == form for f in fields.values()):
        raise w.refuse(f"{where} form", f"'{form}' is not a form of the data dictionary", "check the form name")
    accepted = registry[instrument].accepted_item_ids()
    items: dict[str, str] = {}
    for item, field in dict(data["items"]).items():
        key = f"{where} items key '{item}'"
        if item not in accepted:
            raise w.refuse(key, f"is not an item or scale id of {instrument}", "see its file in schemas/instruments")
        items[item] = _field(_strings(field, key, w)[0], key, fields, w)
    if not items:
        raise w.refuse(f"{where} items", "is empty", "map the questionnaire's items")
    choices = data.get("choices", {})
    if not isinstance(choices, dict):
        raise w.refuse(f"{where} choices", "is not a table", 'write it as "code" = value lines')
    return MeasureMapping(
        instrument=instrument,
        form=form,
        events=_strings(data.get("events", []), f"{where} events", w),
        date=_field(_strings(data["date"], f"{where} date", w)[0], f"{where} date", fields, w),
        session=_field(_strings(data["session"], f"{where} session", w)[0], f"{where} session", fields, w)
        if "session" in data
        else None,
        items=items,
        choices={str(k): str(v) for k, v in choices.items()},
    )


def read_mapping(path: Path, fields: dict[str, Field], registry: Registry) -> Mapping:
    """Parse and check the mapping file against the dictionary and the registry; refusals name the key."""
    w = _Where(path.name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportRefused(f"{path}: cannot be read ({exc.strerror}); check the path.", rule="missing_file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ImportRefused(
            f"{path.name}: not valid TOML (rule bad_mapping: {exc}); fix the file (see docs/importing.md).",
            rule="bad_mapping",
        ) from exc
    for key in data:
        if key not in TOP_KEYS:
            raise w.refuse(f"key '{key}'", "is not known", f"use only {', '.join(sorted(TOP_KEYS))}")
    for key in ("clients", "sessions", "measures"):
        if key not in data:
            raise w.refuse(f"[{key}]", "is missing", "every import needs clients, sessions and measures")
    batch = data.get("batch", {})
    pseudonym = data.get("pseudonym", {})
    for section, allowed in (("batch", {"source", "batch_id", "exported_at"}), ("pseudonym", {"field", "prefix"})):
        unknown = set(data.get(section, {})) - allowed
        if unknown:
            raise w.refuse(f"[{section}] key '{sorted(unknown)[0]}'", "is not known", f"use only {sorted(allowed)}")
    pseudonym_field = pseudonym.get("field")
    if pseudonym_field is not None and pseudonym_field not in fields:
        raise w.refuse("[pseudonym] field", f"'{pseudonym_field}' is not in the data dictionary", "check its name")
    if pseudonym_field is not None and fields[pseudonym_field].identifier:
        raise w.refuse(
            "[pseudonym] field",
            f"'{pseudonym_field}' holds identifiers (marked in the data dictionary or shaped like contact details)",
            "name the field that holds the practice's pseudonym",
        )
    exported_at = batch.get("exported_at")
    if exported_at is not None and not isinstance(exported_at, dt.date):
        raise w.refuse("[batch] exported_at", "is not a date", "write it like 2026-10-31 (no quotes)")
    measures = data["measures"]
    if not isinstance(measures, list) or not measures:
        raise w.refuse("[[measures]]", "is not a list of questionnaires", "write one [[measures]] per questionnaire")
    tables: dict[str, TableMapping] = {
        name: _table(name, data[name], fields, w) for name in ("clients", "sessions", "goals") if name in data
    }
    return Mapping(
        pseudonym=pseudonym_field,
        prefix=str(pseudonym.get("prefix", "")),
        ignore=frozenset(_strings(data.get("ignore", []), "ignore", w)),
        source=str(batch["source"]) if "source" in batch else None,
        batch_id=str(batch["batch_id"]) if "batch_id" in batch else None,
        exported_at=exported_at if not isinstance(exported_at, dt.datetime) else exported_at.date(),
        tables=tables,
        measures=tuple(_measure(i, m, fields, registry, w) for i, m in enumerate(measures, start=1)),
    )


# --- the records ------------------------------------------------------------------------------------------


def _base(column: str) -> str:
    """The field a records column belongs to (``themes___3`` → ``themes``)."""
    return column.split("___", 1)[0]


def _present(records: pl.DataFrame, field: str) -> list[str]:
    """The records columns of a field (a checkbox field has one per choice)."""
    return [c for c in records.columns if c == field or c.startswith(f"{field}___")]


class _Records:
    """The records export with the row keys every mapping needs, and what each mapping used."""

    def __init__(self, frame: pl.DataFrame, fields: dict[str, Field], mapping: Mapping, file: str) -> None:
        self.file = file
        self.fields = fields
        record_column = frame.columns[0]
        for column in (EVENT, REPEAT_FORM, INSTANCE):
            if column not in frame.columns:
                frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
        self.frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(record_column).alias(RECORD))
        self.record_column = record_column
        self.repeating = set(self.frame[REPEAT_FORM].drop_nulls().unique().to_list())
        self.used: set[str] = {record_column}
        self.mapping = mapping

    def form_rows(self, form: str, events: tuple[str, ...], fields: list[str]) -> tuple[pl.DataFrame, int]:
        """Rows holding ``form`` (a repeating instrument's own rows, else rows where any of ``fields`` has a
        value) in ``events``, and how many rows of the form in other events were left out."""
        columns = [c for f in fields for c in _present(self.frame, f)]
        if form in self.repeating:
            holds = pl.col(REPEAT_FORM) == form
        else:
            filled = pl.any_horizontal(pl.col(c).is_not_null() for c in columns) if columns else pl.lit(False)
            holds = pl.col(REPEAT_FORM).is_null() & filled
        rows = self.frame.filter(holds)
        if not events:
            return rows, 0
        kept = rows.filter(pl.col(EVENT).is_in(list(events)))
        return kept, rows.height - kept.height

    def value(self, column: str, field: str, choices: dict[str, str] | None) -> pl.Expr:
        """A field as contract text: a checkbox's ticked choices joined with ';', choices mapped, dates as dates."""
        self.used.add(field)
        spec = self.fields[field]
        if spec.type == "checkbox":
            ticked = [
                pl.when(pl.col(f"{field}___{code}") == "1").then(pl.lit(self._choice(code, label, choices)))
                for code, label in spec.choices.items()
                if f"{field}___{code}" in self.frame.columns
            ]
            joined = pl.concat_str(ticked, separator=";", ignore_nulls=True) if ticked else pl.lit(None, pl.String)
            return pl.when(joined != "").then(joined).alias(column)
        raw = pl.col(field) if field in self.frame.columns else pl.lit(None, pl.String)
        if choices:
            lookup = dict(choices)
            for code, label in spec.choices.items():  # a mapping written with the labels works as well
                if label in choices and code not in lookup:
                    lookup[code] = choices[label]
            lookup.update({v: v for v in choices.values() if v not in lookup})  # already a contract value
            raw = raw.replace_strict(lookup, default=None, return_dtype=pl.String)
        elif spec.type in ("yesno", "truefalse"):
            raw = raw.replace_strict({"1": "true", "0": "false"}, default=None, return_dtype=pl.String)
        if column in DATE_COLUMNS or column == "administered_on":
            raw = raw.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T].*$", "${1}")
        return raw.alias(column)

    @staticmethod
    def _choice(code: str, label: str, choices: dict[str, str] | None) -> str:
        if choices:
            return choices.get(code, choices.get(label, label))
        return label


def import_redcap(
    records_path: Path,
    dictionary_path: Path,
    mapping_path: Path,
    out: Path,
    registry: Registry,
    exported_at: dt.date | None = None,
    batch_id: str | None = None,
) -> ImportReport:
    """Translate a REDCap records export into a contract batch at ``out``; refusals raise `ImportRefused`."""
    report = ImportReport(importer="redcap")
    fields = read_dictionary(dictionary_path)
    mapping = read_mapping(mapping_path, fields, registry)
    frame, separator = read_csv_text(records_path, "records export")
    if not frame.columns or frame.height == 0:
        raise ImportRefused(f"{records_path.name}: has no records (rule empty_export); export the records again.",
                            rule="empty_export")  # fmt: skip
    records = _Records(frame, fields, mapping, records_path.name)
    _refuse_or_drop_identifiers(records, mapping, report)
    _attach_pseudonyms(records, mapping, report)
    if separator == ";":  # REDCap's "decimal comma" export option
        item_columns = [f for m in mapping.measures for f in m.items.values() if f in records.frame.columns]
        records.frame = records.frame.with_columns(decimal_commas_to_points(c) for c in item_columns)

    tables: dict[str, pl.DataFrame] = {}
    session_rows = pl.DataFrame(schema={ROW: pl.UInt32, "session_id": pl.String})
    for name in ("clients", "sessions", "goals"):
        if name in mapping.tables:
            tables[name], rows = _contract_table(records, mapping.tables[name], report)
            if name == "sessions":
                session_rows = rows
    tables["measures"] = _measures(records, mapping, registry, session_rows, report)
    _report_unused(records, mapping, report)

    report.tables = write_batch(
        out,
        tables,
        source=mapping.source or f"REDCap records export {records_path.name}",
        exported_at=exported_at or mapping.exported_at,
        batch_id=batch_id or mapping.batch_id,
    )
    report.out = out
    return report


def _refuse_or_drop_identifiers(records: _Records, mapping: Mapping, report: ImportReport) -> None:
    """Identifier fields holding values refuse the import unless the pseudonym is named; then they stay behind."""
    found: dict[str, int] = {}
    for column in records.frame.columns:
        field = records.fields.get(_base(column))
        if column in (ROW, RECORD, *SYSTEM_COLUMNS) or (field is None and column.endswith(("_complete", "_timestamp"))):
            continue
        identifying = column == SURVEY_IDENTIFIER or (
            field.identifier if field is not None else identifier_like_column(_base(column))
        )
        if column == mapping.pseudonym or (mapping.pseudonym is None and column == records.record_column):
            continue
        if identifying:
            count = records.frame[column].drop_nulls().len()
            if count:
                found[_base(column)] = found.get(_base(column), 0) + count
    if not found:
        return
    if mapping.pseudonym is None:
        name, count = next(iter(found.items()))
        raise ImportRefused(
            f"{records.file}: field '{name}' holds identifiers in {count} row(s) (rule identifier_field); name the "
            "pseudonym field in the mapping's [pseudonym] section so the importer leaves identifiers behind, or "
            "remove the field from the export.",
            rule="identifier_field",
        )
    records.used.update(found)
    report.notes.append(
        f"identifier fields left behind (never imported): {', '.join(sorted(found))} ({sum(found.values())} values)"
    )


def _attach_pseudonyms(records: _Records, mapping: Mapping, report: ImportReport) -> None:
    """Every row gets its record's pseudonym (``CLIENT``); a record without one is set aside, a bad one refused."""
    field = mapping.pseudonym or records.record_column
    if field not in records.frame.columns:
        raise ImportRefused(
            f"{records.file}: the pseudonym field '{field}' is not in the export (rule missing_column); export it "
            "or name another field in [pseudonym].",
            rule="missing_column",
        )
    records.used.add(field)
    per_record = (
        records.frame.filter(pl.col(field).is_not_null())
        .group_by(RECORD)
        .agg(pl.col(field).n_unique().alias("_n"), pl.col(field).first().alias(CLIENT))
    )
    conflicting = per_record.filter(pl.col("_n") > 1).height
    if conflicting:
        raise ImportRefused(
            f"{records.file}: field '{field}' (the pseudonym) differs between rows of {conflicting} record(s) (rule "
            "conflicting_pseudonym); give each record one pseudonym.",
            rule="conflicting_pseudonym",
        )
    per_record = per_record.with_columns((pl.lit(mapping.prefix) + pl.col(CLIENT)).alias(CLIENT))
    bad = count_bad_pseudonyms(per_record[CLIENT])
    if bad:
        raise ImportRefused(
            f"{records.file}: field '{field}' (the pseudonym{', with its prefix' if mapping.prefix else ''}) has {bad} "
            f"value(s) that do not match {PSEUDONYM_PATTERN} (rule pattern); set [pseudonym] prefix (REDCap's numbered "
            "records are too short) or name another field.",
            rule="pattern",
        )
    frame = records.frame.join(per_record.select(RECORD, CLIENT), on=RECORD, how="left")
    missing = frame.filter(pl.col(CLIENT).is_null())
    report.set_aside_rows("no_pseudonym", missing.height, [f"row {r}" for r in missing[ROW].to_list()])
    records.frame = frame.filter(pl.col(CLIENT).is_not_null()).sort(ROW)


def _row_session_id() -> pl.Expr:
    """A session id made from the record, event and instance (when the mapping names no session_id field)."""
    parts = [pl.col(CLIENT), pl.col(EVENT).str.replace_all(r"[^A-Za-z0-9_-]", "_"), pl.col(INSTANCE)]
    return pl.concat_str(parts, separator="-", ignore_nulls=True).alias("session_id")


def _contract_table(records: _Records, m: TableMapping, report: ImportReport) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One contract table from its form's rows; unmapped choice values are counted and left empty."""
    rows, outside = records.form_rows(m.form, m.events, list(m.columns.values()))
    report.set_aside_rows(f"{m.table}_in_unmapped_event", outside, [f"form {m.form}"])
    values = [records.value(column, field, m.choices.get(column)) for column, field in m.columns.items()]
    built = rows.select(
        ROW,
        pl.col(CLIENT).alias("client_id"),
        *values,
        *(pl.lit(v).alias(c) for c, v in m.constants.items()),
    )
    if m.table == "sessions" and "session_id" not in m.columns:
        built = built.with_columns(rows.select(_row_session_id()).to_series())
        bad = count_bad_pseudonyms(built["session_id"])
        if bad:
            raise ImportRefused(
                f"{records.file}: {bad} session id(s) made from record, event and instance are not valid pseudonyms "
                "(rule pattern); map [sessions.columns] session_id to a field that holds the session's id.",
                rule="pattern",
            )
    for column, field in m.columns.items():
        if column in m.choices or records.fields[field].type in ("yesno", "truefalse"):
            lost = (
                rows.select(ROW, _raw_filled(records, field))
                .filter(pl.col("_raw"))
                .join(built.filter(pl.col(column).is_null()).select(ROW), on=ROW)
            )
            report.set_aside_rows("unmapped_choice", lost.height, [f"row {r} field {field}" for r in lost[ROW]])
    session_rows = built.select(ROW, "session_id") if m.table == "sessions" else built.select(ROW)
    return built.drop(ROW), session_rows


def _raw_filled(records: _Records, field: str) -> pl.Expr:
    columns = _present(records.frame, field)
    if records.fields[field].type == "checkbox":
        return pl.any_horizontal(pl.col(c) == "1" for c in columns).fill_null(False).alias("_raw")
    return (pl.col(field).is_not_null() if columns else pl.lit(False)).alias("_raw")


def _measures(
    records: _Records, mapping: Mapping, registry: Registry, session_rows: pl.DataFrame, report: ImportReport
) -> pl.DataFrame:
    """Long-format answers: every mapped item of an administration (empty = skipped), plus supplied scores.

    An administration with no item answered but a score sends the score only (a score-only export); one with
    nothing at all is skipped and noted. An answer that is not a number after its choices are mapped sets the whole
    administration aside, so no score is computed from part of it.
    """
    frames: list[pl.DataFrame] = []
    empty = 0
    for m in mapping.measures:
        instrument = registry[m.instrument]
        rows, outside = records.form_rows(m.form, m.events, [m.date, *m.items.values()])
        report.set_aside_rows(f"{m.instrument}_in_unmapped_event", outside, [f"form {m.form}"])
        lookup = dict(m.choices)
        for field in m.items.values():
            records.used.add(field)
            for code, label in records.fields[field].choices.items():
                lookup.setdefault(label, lookup.get(code, code))  # a label export answers with the label
        records.used.update(f for f in (m.date, m.session) if f)
        answers = rows.select(
            ROW,
            pl.col(CLIENT).alias("client_id"),
            records.value("administered_on", m.date, None),
            (pl.col(m.session) if m.session else pl.lit(None, pl.String)).alias("_session"),
            *(pl.col(f).alias(item) if f in rows.columns else pl.lit(None, pl.String).alias(item)
              for item, f in m.items.items()),
        )  # fmt: skip
        long = answers.unpivot(
            index=[ROW, "client_id", "administered_on", "_session"], on=list(m.items), variable_name="item"
        )
        mapped = pl.col("value").replace_strict(lookup, default=pl.col("value"), return_dtype=pl.String)
        long = long.with_columns(mapped.alias("value")).with_columns(
            pl.col("item").is_in(list(instrument.scales)).alias("_scale"),
            (pl.col("value").is_not_null() & pl.col("value").cast(pl.Float64, strict=False).is_null()).alias("_bad"),
        )
        per_row = long.group_by(ROW).agg(
            pl.col("_bad").any().alias("_bad"),
            (pl.col("value").is_not_null() & ~pl.col("_scale")).sum().alias("_items"),
            (pl.col("value").is_not_null() & pl.col("_scale")).sum().alias("_scales"),
        )
        bad = per_row.filter("_bad")[ROW].sort()
        report.set_aside_rows("unreadable_answer", bad.len(), [f"row {r} form {m.form}" for r in bad])
        undated = (
            answers.filter(pl.col("administered_on").is_null())
            .join(per_row.filter(~pl.col("_bad") & ((pl.col("_items") + pl.col("_scales")) > 0)), on=ROW)[ROW]
            .sort()
        )
        report.set_aside_rows("missing_date", undated.len(), [f"row {r} form {m.form}" for r in undated])
        blank = per_row.filter((pl.col("_items") + pl.col("_scales")) == 0)
        empty += blank.height
        drop = pl.concat([bad, undated, blank[ROW]], how="vertical").implode()
        keep_row = ~pl.col(ROW).is_in(drop)
        score_only = per_row.filter(pl.col("_items") == 0)[ROW].implode()
        # Every item of an administration (empty = skipped) unless it sent only a score; scores only when sent.
        keep_value = (
            pl.when(pl.col("_scale")).then(pl.col("value").is_not_null()).otherwise(~pl.col(ROW).is_in(score_only))
        )
        kept = (
            long.filter(keep_row & keep_value)
            .join(session_rows, on=ROW, how="left")
            .with_columns(
                pl.coalesce("_session", "session_id").alias("session_id"), pl.lit(m.instrument).alias("instrument")
            )
        )
        frames.append(
            kept.sort(ROW).select("client_id", "session_id", "instrument", "administered_on", "item", "value")
        )
    if empty:
        report.notes.append(f"questionnaire instances with no answer at all (not written): {empty}")
    return (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema=dict.fromkeys(TABLES_BY_NAME["measures"].columns, pl.String))
    )


def _report_unused(records: _Records, mapping: Mapping, report: ImportReport) -> None:
    """Rows of forms no mapping names, and values of fields no mapping uses, unless listed in ``ignore``."""
    forms = {t.form for t in mapping.tables.values()} | {m.form for m in mapping.measures}
    unmapped_forms = records.frame.filter(
        pl.col(REPEAT_FORM).is_not_null() & ~pl.col(REPEAT_FORM).is_in(sorted(forms | mapping.ignore))
    )
    report.set_aside_rows("unmapped_form", unmapped_forms.height, sorted(set(unmapped_forms[REPEAT_FORM].to_list())))
    rest = records.frame.filter(pl.col(REPEAT_FORM).is_null() | pl.col(REPEAT_FORM).is_in(sorted(forms)))
    skipped = {ROW, RECORD, CLIENT, records.record_column, *SYSTEM_COLUMNS, SURVEY_IDENTIFIER}
    unused: dict[str, int] = {}
    for column in rest.columns:
        field = _base(column)
        spec = records.fields.get(field)
        if column in skipped or field in records.used or field in mapping.ignore:
            continue
        if spec is not None and spec.form in mapping.ignore:
            continue
        if column.endswith(("_complete", "_timestamp")) and spec is None:
            continue
        filled = rest[column].drop_nulls()
        if spec is not None and spec.type == "checkbox":
            filled = filled.filter(filled == "1")
        if filled.len():
            unused[field] = unused.get(field, 0) + filled.len()
    report.set_aside_rows("unmapped_field", sum(unused.values()), sorted(unused))
    if unused:
        report.notes.append(
            "fields with values that no mapping uses (add them to the mapping, or to `ignore` to leave them out on "
            f"purpose): {', '.join(f'{k} ({v})' for k, v in sorted(unused.items()))}"
        )
