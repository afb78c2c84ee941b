"""The practice's settings: one object, with a documented default for every value, that a practice can edit.

Precedence: ``--settings FILE``, then ``<home>/settings.toml``, then the defaults below. Every value is validated
when read, with one clear sentence per bad key (the CLI exits 2). Each field's docstring-like ``doc`` is what
`ifs-outcomes settings` prints beside the value and where it came from; `fingerprint` is recorded with every
publication, so a changed setting rebuilds what depends on it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETTINGS_FILE = "settings.toml"


class SettingsError(ValueError):
    """The settings file cannot be used; ``problems`` holds one sentence per bad key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


Check = Callable[[Any], str | None]


def _setting(default: Any, doc: str, check: Check | None = None) -> Any:
    """A field with its documentation and an optional check returning a problem (or None)."""
    if isinstance(default, list | dict):
        raise TypeError("use tuples for sequence defaults (settings are immutable)")
    return field(default=default, metadata={"doc": doc, "check": check})


def _between(lo: float, hi: float) -> Check:
    return lambda v: None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}"


def _regions(value: Any) -> str | None:
    import phonenumbers

    unknown = [r for r in value if r not in phonenumbers.SUPPORTED_REGIONS]
    return (
        f"unknown region code(s) {', '.join(map(str, unknown))} (use ISO 3166 codes such as US, GB, DE)"
        if unknown
        else None
    )


@dataclass(frozen=True)
class IdentifierSettings:
    """How direct identifiers are recognised in an export (pipeline/identifiers.py)."""

    phone_regions: tuple[str, ...] = _setting(
        ("US", "GB"),
        "Regions whose national phone-number formats (e.g. 020 7946 0958 for GB) reject a batch; numbers written "
        "with + are caught in every region.",
        _regions,
    )


@dataclass(frozen=True)
class ContractSettings:
    """Rules of the input contract that a practice may tune (docs/data-contract.md)."""

    pre_intake_window_days: int = _setting(
        30, "Questionnaires may be administered up to this many days before intake.", _between(0, 365)
    )
    mean_score_tolerance: float = _setting(
        0.005, "A supplied mean-method scale score agrees with its items when within this.", _between(0, 1)
    )
    exported_at_max_share_after: float = _setting(
        0.5,
        "A batch whose exported_at is before more than this share of its own dated rows is rejected (a typo in "
        "the year, not a few late rows).",
        _between(0, 1),
    )


@dataclass(frozen=True)
class OutcomeSettings:
    """Pairing, change and effect sizes (docs/indicators.md §3-7)."""

    baseline_window_days: int = _setting(
        14, "A baseline may be administered up to this many days after the first attended treatment session.",
        _between(0, 365),
    )  # fmt: skip
    density_bins: int = _setting(
        8, "Bins per axis of the baseline × latest grid (the aggregate Jacobson plot).", _between(2, 40)
    )
    finished_min_attended: int = _setting(
        2, "Finished treatment: an episode discharged with at least this many attended treatment sessions (the NHS "
        "Talking Therapies definition).", _between(1, 20),
    )  # fmt: skip
    nhs_instruments: tuple[str, ...] = _setting(
        ("phq9", "gad7"),
        "The measure pair of the NHS Talking Therapies composite metrics (caseness on either, recovery on both).",
        lambda v: None if len(v) == 2 and len(set(v)) == 2 else "must name two different instruments",
    )


@dataclass(frozen=True)
class ProcessSettings:
    """The IFS process milestones (docs/indicators.md §8)."""

    protector_trust_min: int = _setting(
        7, "M1 protector trust: a session with protector_trust at least this and unblending partial or full.",
        _between(0, 10),
    )  # fmt: skip


@dataclass(frozen=True)
class SelfLeadershipSettings:
    """Self-leadership trajectories and the practice-defined index (docs/indicators.md §9)."""

    index_weights: tuple[float, float, float] = _setting(
        (0.5, 0.25, 0.25),
        "Self-leadership index (practice-defined): weights of the Self score (POMP), clinician-rated Self-energy "
        "and the inverse of polarization; renormalised over what exists.",
        lambda v: None if len(v) == 3 and all(w >= 0 for w in v) and sum(v) > 0 else "must be three weights >= 0",
    )
    slope_min_points: int = _setting(
        3, "A per-episode slope (Self measures, coaching resistance) needs at least this many points.", _between(2, 100)
    )
    trajectory_max_session: int = _setting(
        40, "The published trajectory goes up to this attended session number.", _between(5, 200)
    )


@dataclass(frozen=True)
class EngagementSettings:
    """Engagement, endings and dropout (docs/indicators.md §10)."""

    lapse_days: int = _setting(
        42, "An open episode with no attended session in this many days before the as-of date is lapsed.",
        _between(1, 3650),
    )  # fmt: skip
    modality_share: float = _setting(
        0.75, "Modality of an episode: in_person or telehealth when at least this share of attended sessions were.",
        _between(0.5, 1),
    )  # fmt: skip


@dataclass(frozen=True)
class CoachingSettings:
    """Coaching: Goal Attainment Scaling and the choice point (docs/indicators.md §11)."""

    choice_point_window: int = _setting(
        3, "Coaching choice point (practice-defined): judged over an attended session and the ones before it, this "
        "many in all.", _between(1, 10),
    )  # fmt: skip
    choice_point_resistance: float = _setting(
        7.0, "Coaching choice point: mean resistance over the window at least this.", _between(0, 10)
    )
    choice_point_follow_through: float = _setting(
        0.5, "Coaching choice point: commitment follow-through over the window below this (or caseness).",
        _between(0, 1),
    )  # fmt: skip
    choice_point_continued_sessions: int = _setting(
        3, "After a choice point, this many further attended sessions count as continued coaching.", _between(1, 50)
    )
    gas_rho: float = _setting(
        0.3, "Goal Attainment Scaling inter-goal correlation (Kiresuk & Sherman 1968).", _between(0, 0.99)
    )


@dataclass(frozen=True)
class AlertSettings:
    """Early-warning flags for clinicians (docs/indicators.md §12)."""

    min_session_number: int = _setting(
        3, "Not-on-track is judged from this attended session number on.", _between(1, 50)
    )
    min_reference: int = _setting(
        30, "A severity band's cell needs this many other episodes, else bands are pooled (and below it again, the "
        "episode is not assessed).", _between(5, 10_000),
    )  # fmt: skip
    worst_share: float = _setting(
        0.2, "Not on track: change among the worst this share of other episodes at the same session number.",
        _between(0.01, 0.5),
    )  # fmt: skip


@dataclass(frozen=True)
class DisclosureSettings:
    """Disclosure control of the shareable publication (docs/indicators.md §13, DESIGN 6)."""

    k: int = _setting(
        11, "Counts of 1 to k-1 are never shown; means and other statistics need at least k (CMS rule: 11; the NHS "
        "rule uses 8).", _between(2, 100),
    )  # fmt: skip
    rule: str = _setting(
        "cms", "cms: suppress counts of 1 to k-1. nhs: suppress 1 to k-1 and round every other count to the nearest "
        "5 (with k = 8: the NHS 'suppress 1-7, round to 5' rule).",
        lambda v: None if v in ("cms", "nhs") else "must be cms or nhs",
    )  # fmt: skip
    protection: int = _setting(
        1, "How far above its true value an attacker's upper bound for a hidden small count must reach, whatever "
        "else is published (capped at the most the cell could be): 1 = never pinned to one value; more hides more.",
        _between(1, 99),
    )  # fmt: skip


@dataclass(frozen=True)
class EngineSettings:
    """How the work is split to keep memory bounded (benchmarks/README.md); no effect on any number."""

    partition_mb: float = _setting(
        48.0, "An answers file larger than this (MB) is staged and judged in DuckDB (the compiled contract clears "
        "most rows; Pandera judges the rest) instead of read into memory.",
        _between(0.0001, 100_000),
    )  # fmt: skip
    scoring_part_rows: int = _setting(
        50_000_000,
        "Answers are scored this many at a time (whole clients per part; DuckDB spills beyond "
        "engine.memory_limit_mb either way).",
        _between(1_000, 10**10),
    )
    incremental_max_share: float = _setting(
        0.2, "A load touching at most this share of clients rescores only those clients.", _between(0, 1)
    )
    memory_limit_mb: int = _setting(
        1024, "Memory each DuckDB connection may use (MiB) before it spills to a folder inside the home.",
        _between(64, 1_000_000),
    )  # fmt: skip
    threads: int = _setting(0, "Threads each DuckDB connection may use (0: one per core).", _between(0, 1024))


def _folder_names(value: Any) -> str | None:
    return None if all(isinstance(v, str) and v.strip() for v in value) else "must be a list of folder paths in quotes"


@dataclass(frozen=True)
class RegistrySettings:
    """Where instrument definitions come from besides the built-in ones (schemas/registry.py); no effect on any
    number by itself: the registry version, recorded with everything computed, covers the files read."""

    extra_folders: tuple[str, ...] = _setting(
        (),
        "Folders of the practice's own instrument files (one <id>.toml per instrument, as in the package's "
        "schemas/instruments/), read after the built-in ones; a relative path is under the data home. An id that "
        "is already taken is an error naming both files.",
        _folder_names,
    )


SECTIONS: dict[str, type] = {
    "identifiers": IdentifierSettings,
    "contract": ContractSettings,
    "outcomes": OutcomeSettings,
    "process": ProcessSettings,
    "self_leadership": SelfLeadershipSettings,
    "engagement": EngagementSettings,
    "coaching": CoachingSettings,
    "alerts": AlertSettings,
    "disclosure": DisclosureSettings,
    "engine": EngineSettings,
    "registry": RegistrySettings,
}
#: Sections that change no number and are left out of `Settings.fingerprint` and the published settings: the
#: engine only splits work; the registry section names folders (machine paths), whose files `Registry.version`
#: already records.
UNPUBLISHED = ("engine", "registry")


@dataclass(frozen=True)
class Settings:
    """Every setting in force, by section, and where each value came from (``default`` or a file path)."""

    identifiers: IdentifierSettings = IdentifierSettings()
    contract: ContractSettings = ContractSettings()
    outcomes: OutcomeSettings = OutcomeSettings()
    process: ProcessSettings = ProcessSettings()
    self_leadership: SelfLeadershipSettings = SelfLeadershipSettings()
    engagement: EngagementSettings = EngagementSettings()
    coaching: CoachingSettings = CoachingSettings()
    alerts: AlertSettings = AlertSettings()
    disclosure: DisclosureSettings = DisclosureSettings()
    engine: EngineSettings = EngineSettings()
    registry: RegistrySettings = RegistrySettings()
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def values(self) -> dict[str, dict[str, Any]]:
        """Section -> key -> value (JSON-ready)."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    def fingerprint(self) -> str:
        """A short hash of every value that can change a number (not the `UNPUBLISHED` sections): recorded with
        each derived product, so that changing a setting rebuilds what depends on it."""
        values = {k: v for k, v in self.values().items() if k not in UNPUBLISHED}
        return hashlib.sha256(json.dumps(values, sort_keys=True, default=list).encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """Every value in force but the registry's folders (see `UNPUBLISHED`), as published with each
        publication."""
        values = {k: v for k, v in self.values().items() if k != "registry"}
        return json.dumps(values, sort_keys=True, default=list)

    def instrument_folders(self, home: Path) -> tuple[Path, ...]:
        """``registry.extra_folders`` as paths: ``~`` expanded, a relative one under the data home."""
        return tuple(home / path for path in (Path(f).expanduser() for f in self.registry.extra_folders))

    def rows(self) -> list[dict[str, Any]]:
        """One row per setting: key, value, default, source and doc (for `ifs-outcomes settings`)."""
        out = []
        for name, cls in SECTIONS.items():
            section = getattr(self, name)
            for f in dataclasses.fields(cls):
                key = f"{name}.{f.name}"
                out.append(
                    {
                        "key": key,
                        "value": getattr(section, f.name),
                        "default": f.default,
                        "source": self.sources.get(key, "default"),
                        "doc": f.metadata["doc"],
                    }
                )
        return out


DEFAULTS = Settings()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def template(settings: Settings = DEFAULTS) -> str:
    """A complete settings.toml — every key with its documentation, commented out at its value — to copy into the
    home and edit (``ifs-outcomes settings --template > data/settings.toml``)."""
    lines = [
        "# ifs-outcomes settings: uncomment a line and change its value; `ifs-outcomes settings` shows what is",
        "# in force and where each value came from. Every number is documented in docs/indicators.md.",
    ]
    for name, cls in SECTIONS.items():
        lines += ["", f"[{name}]", *([f"# {cls.__doc__.strip().splitlines()[0]}"] if cls.__doc__ else [])]
        for f in dataclasses.fields(cls):
            lines.append(f"# {f.metadata['doc']}")
            lines.append(f"# {f.name} = {_toml_value(getattr(getattr(settings, name), f.name))}")
    return "\n".join(lines) + "\n"


def _coerce(value: Any, default: Any, key: str) -> tuple[Any, str | None]:
    """The TOML value as the default's type, or a problem sentence."""
    expected = type(default)
    if isinstance(default, bool):
        return (value, None) if isinstance(value, bool) else (None, f"{key} must be true or false")
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return (value, None) if ok else (None, f"{key} must be a whole number")
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (float(value), None) if ok else (None, f"{key} must be a number")
    if isinstance(default, str):
        return (value, None) if isinstance(value, str) else (None, f"{key} must be a text in quotes")
    if isinstance(default, tuple):
        if not isinstance(value, list) or (not value and default):
            return None, f"{key} must be a list such as {list(default)}"
        items = [_coerce(v, default[0], key) for v in value] if default else [(v, None) for v in value]
        problems = [p for _, p in items if p]
        return (tuple(v for v, _ in items), None) if not problems else (None, problems[0])
    raise TypeError(f"unsupported setting type {expected}")


def parse(data: Mapping[str, Any], source: str, base: Settings = DEFAULTS) -> Settings:
    """``base`` with the values of one settings document applied; every problem collected, then raised."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    sources = dict(base.sources)
    for name, values in data.items():
        cls = SECTIONS.get(name)
        if cls is None:
            problems.append(f"{source}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
            continue
        if not isinstance(values, Mapping):
            problems.append(f"{source}: [{name}] must be a table of settings")
            continue
        fields = {f.name: f for f in dataclasses.fields(cls)}
        changes: dict[str, Any] = {}
        for key, raw in values.items():
            f = fields.get(key)
            if f is None:
                problems.append(f"{source}: unknown setting {name}.{key} (known: {', '.join(fields)})")
                continue
            value, problem = _coerce(raw, f.default, f"{name}.{key}")
            if problem is None and f.metadata["check"] is not None:
                reason = f.metadata["check"](value)
                problem = f"{name}.{key} {reason}" if reason else None
            if problem:
                problems.append(f"{source}: {problem}")
                continue
            changes[key] = value
            sources[f"{name}.{key}"] = source
        sections[name] = dataclasses.replace(getattr(base, name), **changes)
    if problems:
        raise SettingsError(problems)
    return dataclasses.replace(base, **sections, sources=sources)


def load(home: Path, explicit: Path | None = None) -> Settings:
    """The settings in force for a home: defaults, then ``<home>/settings.toml``, then ``explicit``."""
    settings = DEFAULTS
    for path in (home / SETTINGS_FILE, explicit):
        if path is None:
            continue
        if path is explicit and not path.is_file():
            raise SettingsError([f"{path}: the settings file does not exist"])
        if not path.is_file():
            continue
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise SettingsError([f"{path}: cannot be read as TOML ({str(exc).splitlines()[0][:120]})"]) from exc
        settings = parse(data, str(path), settings)
    return settings
