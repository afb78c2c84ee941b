"""The machine-readable outcome of `validate` and `refresh` (DESIGN section 3, "Exit codes and the summary")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_QUARANTINE = 1
EXIT_REJECTED = 2
EXIT_INTERNAL = 3
#: The warehouse is in use by another process: nothing was done, try again later (sysexits' EX_TEMPFAIL).
EXIT_BUSY = 75

#: status -> (exit code, rank used to pick the overall status of several batches)
STATUSES: dict[str, tuple[int, int]] = {
    "already_loaded": (EXIT_OK, 0),
    "validated": (EXIT_OK, 1),
    "loaded": (EXIT_OK, 1),
    "validated_with_quarantine": (EXIT_QUARANTINE, 2),
    "loaded_with_quarantine": (EXIT_QUARANTINE, 2),
    "rejected": (EXIT_REJECTED, 3),
    "removed": (EXIT_OK, 1),
}


@dataclass
class BatchSummary:
    batch_id: str
    status: str
    content_hash: str
    path: str
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    quarantine_files: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None
    as_of: dt.date | None = None

    @property
    def exit_code(self) -> int:
        return STATUSES[self.status][0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "content_hash": self.content_hash,
            "path": self.path,
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "tables": self.tables,
            "quarantine_by_rule": self.quarantine_by_rule,
            "quarantine_files": self.quarantine_files,
            "errors": self.errors,
            "warnings": self.warnings,
        }


@dataclass
class RunSummary:
    batches: list[BatchSummary]
    as_of: dt.date | None
    published: list[str] = field(default_factory=list)
    #: The report written after the refresh (`--report`), or why it could not be (a usage problem: exit 2).
    report: str | None = None
    report_error: str | None = None

    @property
    def exit_code(self) -> int:
        codes = [b.exit_code for b in self.batches] + ([EXIT_REJECTED] if self.report_error else [])
        return max(codes, default=EXIT_OK)

    @property
    def status(self) -> str:
        if not self.batches:
            return "loaded"
        return max(self.batches, key=lambda b: STATUSES[b.status][1]).status

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "published": self.published,
            **({"report": self.report} if self.report else {}),
            **({"report_error": self.report_error} if self.report_error else {}),
            "batches": [b.to_dict() for b in self.batches],
        }
