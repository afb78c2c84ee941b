"""What a long command tells the person watching it: each step as it starts and ends, its elapsed time, and what
it handled (rows read, validated, loaded; episodes for the indicators).

`Progress` is what the runner (`pipeline.stages.run_stages`) talks to: ``step`` starts a step (ending the one
before), ``advance`` moves a step with a known total, ``done`` ends it with its `Count`. Calling it with a message
is a step of its own, so any ``Callable[[str], None]`` still works where a progress is taken (`as_progress`): it
gets exactly the messages it always got. `TerminalProgress` draws the steps with `rich.progress`, one line each;
the CLI uses it only when stderr is a terminal and ``--json`` is not given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text


@dataclass(frozen=True)
class Count:
    """What a step handled: ``n`` of ``unit`` (unknown: None) and a note ("3 quarantined", "up to date")."""

    n: int | None = None
    unit: str = "rows"
    note: str = ""

    def __str__(self) -> str:
        shown = f"{self.n:,} {self.unit}" if self.n is not None else ""
        return " · ".join(part for part in (shown, self.note) if part)


class Progress:
    """Progress that shows nothing (the base of every progress, and the default of the runner)."""

    #: Whether ``done`` shows a count: the runner counts what a stage handled only for a progress that shows it.
    counts: bool = False

    def __call__(self, message: str) -> None:
        self.step(message)

    def step(self, label: str, total: int | None = None, unit: str = "rows") -> None:
        """A new step begins (the one running, if any, ends without a count)."""

    def advance(self, done: int) -> None:
        """How much of the running step's ``total`` is done."""

    def done(self, count: Count | None = None) -> None:
        """The running step ends, having handled ``count``."""

    def close(self) -> None:
        """The run is over: end whatever step is still running."""


class MessageProgress(Progress):
    """Each step's label passed to a callback (the messages the benchmarks and the tests read)."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self._callback = callback

    def step(self, label: str, total: int | None = None, unit: str = "rows") -> None:
        self._callback(label)


def as_progress(progress: Progress | Callable[[str], None] | None) -> Progress:
    """A `Progress` for what a caller gave: one already, a message callback, or nothing."""
    if isinstance(progress, Progress):
        return progress
    return Progress() if progress is None else MessageProgress(progress)


class _Handled(ProgressColumn):
    """So far (``1,200 of 3,000 clients``) while running; the step's `Count` and rate when done."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "rows")
        if not task.fields.get("ended"):
            if task.fields.get("known"):
                return Text(f"{int(task.completed):,} of {int(task.total or 0):,} {unit}", style="cyan")
            return Text("")
        count: Count | None = task.fields.get("count")
        if count is None:
            return Text("")
        shown = str(count)
        seconds = task.finished_time or 0.0
        if count.n and count.unit == "rows" and seconds >= 0.5:
            shown += f" · {count.n / seconds:,.0f}/s"
        return Text(shown, style="cyan")


class _Elapsed(ProgressColumn):
    """Seconds to a tenth under a minute (most stages), minutes and seconds above."""

    def render(self, task: Task) -> Text:
        seconds = (task.finished_time if task.finished else task.elapsed) or 0.0
        shown = f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)}:{int(seconds % 60):02d} min"
        return Text(shown, style="progress.elapsed", justify="right")


class _KnownBar(BarColumn):
    """A bar only for a running step with a known total (a pulsing bar would repeat the spinner)."""

    def render(self, task: Task) -> Any:
        return super().render(task) if task.fields.get("known") and not task.fields.get("ended") else Text("")


class _KnownRemaining(TimeRemainingColumn):
    """The estimate, only where a total is known."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("known") or task.fields.get("ended"):
            return Text("")
        return Text.assemble("ETA ", super().render(task))


class TerminalProgress(Progress):
    """One line per step on a terminal: a spinner (✓ when done), the label, what it handled, elapsed time, and a
    bar with an estimate when the total is known."""

    counts = True

    def __init__(self, console: Console) -> None:
        self._bar = RichProgress(
            SpinnerColumn(finished_text="[green]✓[/green]"),
            TextColumn("{task.description}"),
            _Handled(),
            _KnownBar(bar_width=24),
            _Elapsed(),
            _KnownRemaining(),
            console=console,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> TerminalProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._bar.stop()

    def step(self, label: str, total: int | None = None, unit: str = "rows") -> None:
        self.done()
        self._task = self._bar.add_task(label, total=total, unit=unit, known=total is not None, ended=False)

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=done)

    def done(self, count: Count | None = None) -> None:
        if self._task is None:
            return
        task = next(t for t in self._bar.tasks if t.id == self._task)
        if count is None and task.fields.get("known"):
            count = Count(int(task.completed), task.fields.get("unit", "rows"))
        # a total of 1, completed, is how rich marks a task finished (its elapsed time stops there)
        self._bar.update(self._task, total=1, completed=1, ended=True, count=count)
        self._task = None

    def close(self) -> None:
        self.done()
