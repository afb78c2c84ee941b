"""The instrument registry: one TOML file per instrument under ``schemas/instruments/``.

Instruments are data so that validation and scoring read the same definitions, and a practice adds its own
instrument by adding a file — to a folder of its own named in the settings (``[registry] extra_folders``), so the
installed package is never edited. Item wording is never stored (several instruments are copyrighted): ids only.
Every published result records ``Registry.version``, a hash of the files' contents, so a number can always be
traced to the definitions it was computed with.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

INSTRUMENTS_DIR = Path(__file__).parent / "instruments"
DOMAINS = ("symptom", "self", "professional", "goal")
PRORATION_METHODS = ("mean_of_answered",)


class RegistryError(ValueError):
    """An instrument file is missing a field or contradicts itself."""


@dataclass(frozen=True)
class Band:
    label: str
    min: float
    max: float


@dataclass(frozen=True)
class Scale:
    """A score computed from items: its rule, direction and the published facts used for change."""

    id: str
    label: str
    items: tuple[str, ...]
    method: Literal["sum", "mean"]
    higher_is_better: bool
    min: float
    max: float
    max_missing: int = 0
    proration: str = "mean_of_answered"
    reliability: float | None = None
    reliability_source: str = ""
    rc_sd: float | None = None
    rc_sd_source: str = ""
    rc_points: float | None = None
    rc_points_source: str = ""
    caseness_cutoff: float | None = None
    caseness_source: str = ""
    clinical_mean: float | None = None
    clinical_sd: float | None = None
    functional_mean: float | None = None
    functional_sd: float | None = None
    norms_source: str = ""
    bands: tuple[Band, ...] = ()

    def band_of(self, score: float) -> str | None:
        """Severity band label for a score — the one definition of banding. Bands are written on whole points
        (PHQ-9 mild 5–9); a prorated score between two bands (9.5) belongs to the band whose lower edge it has
        reached."""
        for band in reversed(self.bands):
            if band.min <= score < band.max + 1 or (band is self.bands[-1] and score == band.max):
                return band.label
        return None


@dataclass(frozen=True)
class FhirMapping:
    """How FHIR QuestionnaireResponses of this instrument are recognised (`ifs-outcomes import fhir`).

    A response is this instrument's when its ``questionnaire`` canonical (without ``|version``) is in
    ``canonicals``, or ends in one of ``codes`` (a LOINC panel: ``http://loinc.org/q/44249-1``). An answer's
    ``linkId`` (or the LOINC code it ends in) maps to an item or scale id through ``items``, else it must be one;
    a coded answer's value is its ordinal extension, else ``answers[code]``.
    """

    canonicals: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    items: dict[str, str] = field(default_factory=dict)
    answers: dict[str, float] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Instrument:
    id: str
    name: str
    version: str
    domain: str
    validated: bool
    enabled: bool
    citation: str
    licence: str
    note: str
    item_ids: tuple[str, ...]
    item_min: float
    item_max: float
    reverse_items: frozenset[str]
    risk_items: frozenset[str]
    scales: dict[str, Scale] = field(default_factory=dict)
    fhir: FhirMapping | None = None

    def accepted_item_ids(self) -> frozenset[str]:
        """Ids a `measures.item` may carry: an item, or a scale id when only a score was exported."""
        return frozenset(self.item_ids) | frozenset(self.scales)

    def range_of(self, item_or_scale: str) -> tuple[float, float]:
        if item_or_scale in self.scales:
            scale = self.scales[item_or_scale]
            return scale.min, scale.max
        return self.item_min, self.item_max


@dataclass(frozen=True)
class Registry:
    """The instruments in use (``enabled = true``), by id, and the version of the files they came from.

    An instrument file with ``enabled = false`` is kept apart in ``disabled``: validation quarantines its answers
    under the rule `disabled_instrument` (said, not silently dropped), and nothing scores or publishes it.
    """

    instruments: dict[str, Instrument]
    version: str
    disabled: dict[str, Instrument] = field(default_factory=dict)
    #: The file each instrument (enabled or not) was read from.
    files: dict[str, Path] = field(default_factory=dict, compare=False)

    def __getitem__(self, instrument_id: str) -> Instrument:
        return self.instruments[instrument_id]

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self.instruments


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise RegistryError(f"{where}: required field '{key}' is missing; add it to the instrument file.")
    return data[key]


def _opt_float(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    return None if value is None else float(value)


def _parse_scale(scale_id: str, data: dict[str, Any], inst_id: str, items: dict[str, Any]) -> Scale:
    where = f"{inst_id}.toml [scales.{scale_id}]"
    scale_items = tuple(_require(data, "items", where))
    method = _require(data, "method", where)
    if method not in ("sum", "mean"):
        raise RegistryError(f"{where}: method must be 'sum' or 'mean', not {method!r}.")
    item_min, item_max = float(items["min"]), float(items["max"])
    n = len(scale_items)
    lo, hi = (item_min * n, item_max * n) if method == "sum" else (item_min, item_max)
    bands = tuple(Band(str(b["label"]), float(b["min"]), float(b["max"])) for b in data.get("bands", []))
    proration = str(data.get("proration", "mean_of_answered"))
    if proration not in PRORATION_METHODS:
        raise RegistryError(f"{where}: proration must be one of {PRORATION_METHODS}, not {proration!r}.")
    return Scale(
        id=scale_id,
        label=str(_require(data, "label", where)),
        items=scale_items,
        method=method,
        higher_is_better=bool(_require(data, "higher_is_better", where)),
        min=lo,
        max=hi,
        max_missing=int(data.get("max_missing", 0)),
        proration=proration,
        reliability=_opt_float(data, "reliability"),
        reliability_source=str(data.get("reliability_source", "")),
        rc_sd=_opt_float(data, "rc_sd"),
        rc_sd_source=str(data.get("rc_sd_source", "")),
        rc_points=_opt_float(data, "rc_points"),
        rc_points_source=str(data.get("rc_points_source", "")),
        caseness_cutoff=_opt_float(data, "caseness_cutoff"),
        caseness_source=str(data.get("caseness_source", "")),
        clinical_mean=_opt_float(data, "clinical_mean"),
        clinical_sd=_opt_float(data, "clinical_sd"),
        functional_mean=_opt_float(data, "functional_mean"),
        functional_sd=_opt_float(data, "functional_sd"),
        norms_source=str(data.get("norms_source", "")),
        bands=bands,
    )


def parse_instrument(data: dict[str, Any], source: str = "<memory>") -> Instrument:
    """Build an Instrument from a parsed TOML document and check it is self-consistent."""
    where = source
    inst_id = str(_require(data, "id", where))
    items = _require(data, "items", where)
    item_ids = tuple(_require(items, "ids", f"{where} [items]"))
    scales_data = _require(data, "scales", where)
    inst = Instrument(
        id=inst_id,
        name=str(_require(data, "name", where)),
        version=str(_require(data, "version", where)),
        domain=str(_require(data, "domain", where)),
        validated=bool(_require(data, "validated", where)),
        enabled=bool(data.get("enabled", True)),
        citation=str(_require(data, "citation", where)),
        licence=str(_require(data, "licence", where)),
        note=str(data.get("note", "")),
        item_ids=item_ids,
        item_min=float(_require(items, "min", f"{where} [items]")),
        item_max=float(_require(items, "max", f"{where} [items]")),
        reverse_items=frozenset(items.get("reverse", [])),
        risk_items=frozenset(items.get("risk", [])),
        scales={sid: _parse_scale(sid, s, inst_id, items) for sid, s in scales_data.items()},
        fhir=_parse_fhir(data["fhir"], f"{where} [fhir]") if "fhir" in data else None,
    )
    check_instrument(inst, where)
    return inst


def _parse_fhir(data: dict[str, Any], where: str) -> FhirMapping:
    unknown = set(data) - {"canonical", "loinc", "items", "answers", "ignore"}
    if unknown:
        raise RegistryError(f"{where}: unknown field '{sorted(unknown)[0]}'; see docs/importing.md.")
    loinc = data.get("loinc", [])
    return FhirMapping(
        canonicals=tuple(str(c).split("|")[0] for c in data.get("canonical", [])),
        codes=(str(loinc),) if isinstance(loinc, str) else tuple(str(c) for c in loinc),
        items={str(k): str(v) for k, v in data.get("items", {}).items()},
        answers={str(k): float(v) for k, v in data.get("answers", {}).items()},
        ignore=frozenset(str(i) for i in data.get("ignore", [])),
    )


def check_instrument(inst: Instrument, where: str) -> None:
    """Reject files whose parts contradict each other; a wrong registry would corrupt every score."""
    problems: list[str] = []
    if inst.domain not in DOMAINS:
        problems.append(f"domain {inst.domain!r} is not one of {DOMAINS}")
    if len(set(inst.item_ids)) != len(inst.item_ids):
        problems.append("item ids repeat")
    if not inst.item_ids:
        problems.append("there are no items")
    for item in inst.item_ids:
        if not item.startswith(f"{inst.id}_"):
            problems.append(f"item id {item!r} does not start with '{inst.id}_'")
    if inst.item_min >= inst.item_max:
        problems.append("item min is not below item max")
    for name, group in (("reverse", inst.reverse_items), ("risk", inst.risk_items)):
        unknown = sorted(group - set(inst.item_ids))
        if unknown:
            problems.append(f"{name} items {unknown} are not items of the instrument")
    if not inst.scales:
        problems.append("there are no scales")
    for scale in inst.scales.values():
        if scale.id in inst.item_ids:
            problems.append(f"scale id {scale.id!r} collides with an item id")
        unknown = sorted(set(scale.items) - set(inst.item_ids))
        if unknown:
            problems.append(f"scale {scale.id!r} uses unknown items {unknown}")
        if not 0 <= scale.max_missing < len(scale.items):
            problems.append(f"scale {scale.id!r}: max_missing must be 0..{len(scale.items) - 1}")
        if scale.reliability is not None and not 0 < scale.reliability < 1:
            problems.append(f"scale {scale.id!r}: reliability must be in (0, 1)")
        if scale.reliability is not None and not scale.reliability_source:
            problems.append(f"scale {scale.id!r}: reliability has no source")
        if scale.rc_points is not None and not scale.rc_points_source:
            problems.append(f"scale {scale.id!r}: rc_points has no source")
        if scale.caseness_cutoff is not None and not scale.min <= scale.caseness_cutoff <= scale.max:
            problems.append(f"scale {scale.id!r}: caseness cutoff outside the scale's range")
        for lo, hi in zip(scale.bands, scale.bands[1:], strict=False):
            if lo.max >= hi.min:
                problems.append(f"scale {scale.id!r}: bands {lo.label!r} and {hi.label!r} overlap or are unordered")
        if scale.bands and (scale.bands[0].min != scale.min or scale.bands[-1].max != scale.max):
            problems.append(f"scale {scale.id!r}: bands do not cover {scale.min:g}..{scale.max:g}")
    if inst.fhir is not None:
        if not inst.fhir.canonicals and not inst.fhir.codes:
            problems.append("[fhir] names neither a canonical URL nor a LOINC code")
        unknown = sorted(set(inst.fhir.items.values()) - inst.accepted_item_ids())
        if unknown:
            problems.append(f"[fhir.items] maps to unknown item or scale ids {unknown}")
        outside = sorted(k for k, v in inst.fhir.answers.items() if not inst.item_min <= v <= inst.item_max)
        if outside:
            problems.append(f"[fhir.answers] {outside} are outside the items' range")
    if problems:
        raise RegistryError(f"{where}: " + "; ".join(problems) + ".")


def _read_instrument(path: Path, where: str) -> tuple[Instrument, bytes]:
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{where}: not valid TOML ({exc}); fix the file.") from exc
    inst = parse_instrument(data, where)
    if inst.id != path.stem:
        raise RegistryError(f"{where}: id {inst.id!r} does not match the file name; rename one of them.")
    return inst, raw


def load_registry(directory: Path = INSTRUMENTS_DIR, extra_folders: Sequence[Path] = ()) -> Registry:
    """Read every ``*.toml`` in the directory, then in each extra folder; the version hashes their exact bytes.

    An extra file may not reuse an id already read (a practice's copy of PHQ-9 silently replacing the published
    one would change numbers published under the same name): that is an error naming both files. With no extra
    folder the version is the built-in files' hash alone; an extra file changes it, so whatever was computed
    with the registry is rebuilt.
    """
    digest = hashlib.sha256()
    instruments: dict[str, Instrument] = {}
    files: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        inst, raw = _read_instrument(path, path.name)
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        instruments[inst.id], files[inst.id] = inst, path
    if not instruments:
        raise RegistryError(f"{directory}: no instrument files found.")
    for folder in extra_folders:
        if not folder.is_dir():
            raise RegistryError(
                f"the instrument folder {folder} (settings registry.extra_folders) does not exist; create it or "
                "remove it from the settings."
            )
        for path in sorted(folder.glob("*.toml")):
            inst, raw = _read_instrument(path, str(path))
            if inst.id in instruments:
                raise RegistryError(
                    f"{path} defines instrument {inst.id!r}, which {files[inst.id]} already defines; give the "
                    "practice's instrument an id of its own (and rename the file to match)."
                )
            digest.update(b"extra\0" + path.name.encode() + b"\0" + raw + b"\0")
            instruments[inst.id], files[inst.id] = inst, path
    return Registry(
        instruments={k: i for k, i in instruments.items() if i.enabled},
        version=digest.hexdigest()[:12],
        disabled={k: i for k, i in instruments.items() if not i.enabled},
        files=files,
    )


@cache
def default_registry() -> Registry:
    """The built-in instruments only (what the package ships)."""
    return load_registry()


def registry_with(extra_folders: Sequence[Path]) -> Registry:
    """The built-in instruments plus those of the practice's folders (read afresh: a file may have changed)."""
    return load_registry(extra_folders=tuple(extra_folders)) if extra_folders else default_registry()


def licence_notes(registry: Registry) -> str:
    """Markdown: each instrument's name, licence note and citation (NOTICE.md is this for the built-in ones)."""
    lines = [
        "| instrument | id | version | licence | citation |",
        "|---|---|---|---|---|",
    ]
    every = {**registry.instruments, **registry.disabled}
    for inst_id in sorted(every):
        inst = every[inst_id]
        cells = (inst.name, f"`{inst.id}`", inst.version, inst.licence, inst.citation)
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


NOTICE_FILE = "NOTICE.md"


def notice(registry: Registry | None = None) -> str:
    """NOTICE.md: the project's licence and the terms of the questionnaires the registry defines (`make docs`)."""
    return (
        "# Notices\n\n"
        "ifs-outcomes is released under the MIT licence (see `LICENSE`), copyright the ifs-outcomes contributors.\n\n"
        "## Instruments\n\n"
        "The instrument registry (`schemas/instruments/`) holds each questionnaire's item ids, scoring rules, norms "
        "and citation — never its item wording. Administering a questionnaire is subject to its own terms, as "
        "noted by its authors (`licence` in each file; a practice's own instruments, read from the folders named "
        "in its settings, carry theirs: `ifs-outcomes instruments` lists the terms of every instrument in force). "
        "Generated from the registry by `make docs`.\n\n" + licence_notes(registry or default_registry())
    )
