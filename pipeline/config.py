"""One place for paths: everything lives under the data home (settings are in `pipeline.settings`).

The home is ``--home``, else ``IFS_OUTCOMES_HOME``, else ``./data``; every other path is derived from it so a
test can point the whole pipeline at a temporary folder with one argument.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "IFS_OUTCOMES_HOME"
DEFAULT_HOME = Path("data")
#: The published files, ``<home>/published/<name>.duckdb``, in the order they are written: client-level (for
#: clinicians' own caseloads), disclosure-controlled aggregates (for sharing) and the same aggregates without
#: disclosure control (the practice's internal view: clinical mode only). Named here and nowhere else.
PUBLISHED_FILES: tuple[str, ...] = ("clinical", "aggregate", "internal")


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
    def quarantine_pending(self) -> Path:
        """Quarantine files of a run not yet in place: written before its load commits, moved after."""
        return self.quarantine / ".pending"

    @property
    def published(self) -> Path:
        return self.home / "published"

    def published_file(self, name: str) -> Path:
        """``<home>/published/<name>.duckdb`` for a name of `PUBLISHED_FILES`."""
        if name not in PUBLISHED_FILES:
            raise ValueError(f"not a published file: {name!r}")
        return self.published / f"{name}.duckdb"

    @property
    def aggregate_file(self) -> Path:
        return self.published_file("aggregate")

    @property
    def clinical_file(self) -> Path:
        return self.published_file("clinical")

    @property
    def internal_file(self) -> Path:
        return self.published_file("internal")

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
