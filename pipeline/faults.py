"""Fault injection for the recovery tests: a named point where a test can make the process die on the spot.

``IFS_OUTCOMES_FAULT_AT=<point>`` makes `fault_point(<point>)` end the process with `os._exit` — no ``finally``
block, no rollback, no atexit handler runs — as a kill, an out-of-memory kill or a power cut would. Unset (always,
outside the tests) it costs one dictionary lookup. Every point the pipeline passes is listed in `POINTS`, in the
order a refresh passes them; `tests/test_recovery.py` kills a refresh at each one and checks that a rerun ends in
exactly the state of a clean run.
"""

from __future__ import annotations

import os

FAULT_ENV = "IFS_OUTCOMES_FAULT_AT"
#: The exit status of a process killed by a fault point (128 + SIGKILL, as a shell reports a kill -9).
FAULT_EXIT = 137

#: Every fault point, in the order a refresh that loads a batch with quarantined rows passes them.
POINTS: tuple[str, ...] = (
    "refresh:started",  # the warehouse is open and locked; nothing of this run is written yet
    "batch:read",  # the batch is read and identified
    "batch:validated",  # every row is judged
    "quarantine:staged",  # the quarantine files are written under quarantine/.pending/<run>
    "load:in_transaction",  # rows, quarantine reasons and the ledger row are written but not committed
    "load:committed",  # the batch's transaction is committed
    "quarantine:replacing",  # the previous quarantine folder of the batch is set aside, the new one not yet in
    "quarantine:published",  # the batch's quarantine files are in place
    "outcomes:in_transaction",  # scores, reliability and change are rewritten but not committed
    "outcomes:committed",  # the derived outcome tables are committed
    "publish:built",  # every published table is computed, no file written
    "publish:clinical_written",  # clinical.duckdb is swapped in, the others not yet
    "publish:written",  # every published file is in place
    "refresh:finished",  # the warehouse is checkpointed
)


def fault_point(name: str) -> None:
    """Die here when the tests ask for it (see the module docstring)."""
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}")
    if os.environ.get(FAULT_ENV) == name:
        os._exit(FAULT_EXIT)
