"""One place for paths and settings: everything lives under the data home.

The home is ``--home``, else ``IFS_OUTCOMES_HOME``, else ``./data``; every other path is derived from it so a
test can point the whole pipeline at a temporary folder with one argument.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "IFS_OUTCOMES_HOME"
DEFAULT_HOME = Path("data")

#: Measures may be administered up to this many days before intake (pre-intake screening).
PRE_INTAKE_WINDOW_DAYS = 30
#: A supplied mean-method scale score agrees with its items when within this (two-decimal rounding).
MEAN_SCORE_TOLERANCE = 0.005


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def raw(self) -> Path:
        return self.home / "raw"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def staging(self) -> Path:
        """Scratch space for a batch too large to hold in memory (removed after each batch)."""
        return self.warehouse_dir / ".staging"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def published(self) -> Path:
        return self.home / "published"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def resolve_home(home: Path | str | None = None) -> Paths:
    if home is None:
        home = os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Paths(Path(home))


@dataclass(frozen=True)
class IndicatorSettings:
    """Every practice-adjustable threshold of the indicators, with its documented default (docs/indicators.md).

    Thresholds marked practice-defined are labelled so wherever their results are shown.
    """

    #: M1 protector trust: a session with protector_trust at least this and unblending partial or full.
    protector_trust_min: int = 7
    #: An open episode with no attended session in this many days before the as-of date is lapsed.
    lapse_days: int = 42
    #: Modality of an episode: in_person or telehealth when at least this share of attended sessions were.
    modality_share: float = 0.75
    #: Milestone curves and trajectory points are published only while at least k episodes are at risk.
    disclosure_k: int = 11
    #: Self-leadership index (practice-defined, 0-100): weights of the Self score (POMP), clinician-rated
    #: Self-energy (x10) and the inverse of polarization ((10 - polarization) x 10); renormalised over what exists.
    index_weights: tuple[float, float, float] = (0.5, 0.25, 0.25)
    #: A per-client slope needs at least this many points.
    slope_min_points: int = 3
    #: Coaching choice point (practice-defined): mean resistance over a session and the two attended sessions
    #: before it at least this, and follow-through over them below the next value or PHQ-9/GAD-7 at caseness.
    choice_point_resistance: float = 7.0
    choice_point_follow_through: float = 0.5
    #: After a choice point, this many further attended sessions count as "continued coaching".
    choice_point_continued_sessions: int = 3
    #: Goal Attainment Scaling inter-goal correlation (Kiresuk & Sherman 1968).
    gas_rho: float = 0.3


DEFAULT_SETTINGS = IndicatorSettings()
