"""Wall time and peak memory of each pipeline stage, for the benchmarks (`benchmarks/`).

Off unless ``IFS_OUTCOMES_STAGE_LOG`` names a file: then every ``stage(name)`` block appends one JSON line
``{"stage", "seconds", "peak_rss_mb"}`` to it. The peak is the stage's own: Linux lets a process reset its
high-water mark (``/proc/self/clear_refs`` ← ``5``), so each stage starts from the memory it inherits rather
than from the whole run's peak. Where that file is missing (not Linux) the peak is the process's so far.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAGE_LOG_ENV = "IFS_OUTCOMES_STAGE_LOG"
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text("5")


def peak_rss_mb() -> float:
    """The process's resident-memory high-water mark since the last reset, in MB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PROCESS = "(process)"
#: The whole process's peak, kept across the per-stage resets (written at exit as stage "(process)").
_process_peak_mb = 0.0
_exit_hook: list[str] = []


def _note_process_peak() -> float:
    global _process_peak_mb
    _process_peak_mb = max(_process_peak_mb, peak_rss_mb())
    return _process_peak_mb


def _write(target: str, record: dict[str, object]) -> None:
    with open(target, "a", encoding="utf-8") as sink:
        sink.write(json.dumps(record) + "\n")


def _at_exit(target: str) -> None:
    """A parent's ``wait4`` cannot give this: Linux carries the parent's peak into a forked child across exec."""
    _write(target, {"stage": PROCESS, "seconds": None, "peak_rss_mb": round(_note_process_peak())})


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Record the block's wall time and peak RSS when the stage log is enabled; otherwise do nothing."""
    target = os.environ.get(STAGE_LOG_ENV)
    if not target:
        yield
        return
    if not _exit_hook:
        _exit_hook.append(target)
        atexit.register(_at_exit, target)
    _note_process_peak()
    _reset_peak()
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = round(time.perf_counter() - started, 3)
        _write(target, {"stage": name, "seconds": seconds, "peak_rss_mb": round(peak_rss_mb())})
