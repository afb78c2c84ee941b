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
