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
class IndicatorSettings:
    """Every practice-adjustable threshold of the indicators, with its documented default (docs/indicators.md).

    Thresholds marked practice-defined are labelled so wherever their results are shown.
    """

    protector_trust_min: int = _setting(
        7, "M1 protector trust: a session with protector_trust at least this and unblending partial or full.",
        _between(0, 10),
    )  # fmt: skip
    lapse_days: int = _setting(
        42, "An open episode with no attended session in this many days before the as-of date is lapsed.",
        _between(1, 3650),
    )  # fmt: skip
    modality_share: float = _setting(
        0.75, "Modality of an episode: in_person or telehealth when at least this share of attended sessions were.",
        _between(0.5, 1),
    )  # fmt: skip
    disclosure_k: int = _setting(
        11, "Disclosure threshold: counts of 1 to k-1 are never shown (the CMS rule is k = 11).", _between(2, 100)
    )
    index_weights: tuple[float, float, float] = _setting(
        (0.5, 0.25, 0.25),
        "Self-leadership index (practice-defined): weights of the Self score (POMP), clinician-rated Self-energy "
        "and the inverse of polarization; renormalised over what exists.",
        lambda v: None if len(v) == 3 and all(w >= 0 for w in v) and sum(v) > 0 else "must be three weights >= 0",
    )
    slope_min_points: int = _setting(3, "A per-client slope needs at least this many points.", _between(2, 100))
    choice_point_resistance: float = _setting(
        7.0, "Coaching choice point (practice-defined): mean resistance over three attended sessions at least this.",
        _between(0, 10),
    )  # fmt: skip
    choice_point_follow_through: float = _setting(
        0.5, "Coaching choice point: commitment follow-through over those sessions below this (or caseness).",
        _between(0, 1),
    )  # fmt: skip
    choice_point_continued_sessions: int = _setting(
        3, "After a choice point, this many further attended sessions count as continued coaching.", _between(1, 50)
    )
    gas_rho: float = _setting(0.3, "Goal Attainment Scaling inter-goal correlation (Kiresuk & Sherman 1968).",
                              _between(0, 0.99))  # fmt: skip


SECTIONS: dict[str, type] = {
    "identifiers": IdentifierSettings,
    "contract": ContractSettings,
    "indicators": IndicatorSettings,
}


@dataclass(frozen=True)
class Settings:
    """Every setting in force, by section, and where each value came from (``default`` or a file path)."""

    identifiers: IdentifierSettings = IdentifierSettings()
    contract: ContractSettings = ContractSettings()
    indicators: IndicatorSettings = IndicatorSettings()
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def values(self) -> dict[str, dict[str, Any]]:
        """Section -> key -> value (JSON-ready)."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    def fingerprint(self) -> str:
        """A short hash of every value in force: recorded with each publication."""
        text = json.dumps(self.values(), sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

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
