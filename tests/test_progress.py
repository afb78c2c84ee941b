"""Progress: the runner tells each stage's start and end with what it handled; a message callback still gets the
same messages; the terminal display shows one line per stage with rows and elapsed time, and nothing at all when
stderr is not a terminal or with --json."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from pipeline.config import Paths
from pipeline.progress import Count, Progress, TerminalProgress, as_progress
from pipeline.stages import STAGES, refresh_batches, validate_batches
from tests.builders import AS_OF, mutate, valid_rows, write_batch

ROOT = Path(__file__).resolve().parent.parent


class Recorder(Progress):
    """Every step with the count it ended with (None: ended by the next step or the end of the run)."""

    counts = True

    def __init__(self) -> None:
        self.steps: list[tuple[str, Count | None]] = []
        self._open: str | None = None

    def step(self, label: str, total: int | None = None, unit: str = "rows") -> None:
        self.done()
        self._open = label

    def done(self, count: Count | None = None) -> None:
        if self._open is not None:
            self.steps.append((self._open, count))
            self._open = None

    def close(self) -> None:
        self.done()


def test_each_stage_ends_with_what_it_handled(tmp_path: Path) -> None:
    rows = mutate(valid_rows(), "sessions", 1, session_date="not a date")
    folder = write_batch(tmp_path / "b", rows)
    received = sum(len(table) for table in rows.values())
    recorder = Recorder()
    summary = refresh_batches(Paths(tmp_path / "home"), [folder], AS_OF, progress=recorder, with_report=True)
    [batch] = summary.batches
    loaded = sum(c["loaded"] for c in batch.tables.values())
    quarantined = sum(c["quarantined"] for c in batch.tables.values())
    steps = dict(recorder.steps)
    assert [label.split(": ")[-1] for label, _ in recorder.steps] == [s.label for s in STAGES]
    assert steps[f"{batch.batch_id}: reading"] == Count(received)
    assert steps[f"{batch.batch_id}: validating"] == Count(received, note=f"{quarantined} quarantined")
    assert steps[f"{batch.batch_id}: loading"] == Count(loaded) and 0 < loaded < received
    assert steps["computing indicators"] == Count(2, "episodes")
    assert steps["publishing"] == Count(3, "files")
    assert steps["writing the report"] is not None

    again = Recorder()
    refresh_batches(Paths(tmp_path / "home"), [folder], AS_OF, progress=again)
    assert again.steps == [
        ("b: identifying", Count(note="already loaded")),
        ("scoring and computing change", Count(note="up to date")),
        ("computing indicators", Count(note="up to date")),
        ("publishing", Count(note="up to date")),
        ("checkpointing", None),
    ]  # and the report, not asked for, is not shown


def test_a_large_answers_file_staged_in_duckdb_is_counted_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import ingest
    from tests.sql_harness import with_settings

    staged: list[object] = []
    stage_answers = ingest.stage_answers
    monkeypatch.setattr(ingest, "stage_answers", lambda *a, **k: staged.append(stage_answers(*a, **k)) or staged[-1])
    rows = valid_rows()
    folder = write_batch(tmp_path / "b", rows)
    recorder = Recorder()
    summary = refresh_batches(Paths(tmp_path / "home"), [folder], AS_OF, progress=recorder,
                              settings=with_settings(engine={"partition_mb": 0.0005}))  # fmt: skip
    batch_id = summary.batches[0].batch_id
    assert dict(recorder.steps)[f"{batch_id}: reading"] == Count(sum(len(table) for table in rows.values()))
    checked = Recorder()
    validate_batches(Paths(tmp_path / "other"), [folder], AS_OF, progress=checked,
                     settings=with_settings(engine={"partition_mb": 0.0005}))  # fmt: skip
    assert dict(checked.steps)["b: reading"] == Count(sum(len(table) for table in rows.values()))
    assert len(staged) == 2 and all(s is not None for s in staged)  # both took the staged path


def test_a_message_callback_gets_the_messages_it_always_got(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    messages: list[str] = []
    summary = refresh_batches(Paths(tmp_path / "home"), [folder], AS_OF, progress=messages.append)
    batch_id = summary.batches[0].batch_id
    assert messages == [
        "b: identifying",
        *(f"{batch_id}: {label}" for label in ("reading", "validating", "loading")),
        "scoring and computing change",
        "computing indicators",
        "publishing",
        "checkpointing",
    ]
    checked: list[str] = []
    validate_batches(Paths(tmp_path / "home"), [folder], AS_OF, progress=checked.append)
    assert checked == ["b: reading", f"{batch_id}: validating"]
    assert isinstance(as_progress(None), Progress) and as_progress(checked.append) is not None


def test_a_rejected_batch_ends_its_step_as_rejected(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    (folder / "clients.csv").unlink()
    recorder = Recorder()
    refresh_batches(Paths(tmp_path / "home"), [folder], AS_OF, progress=recorder)
    assert recorder.steps[0] == ("b: identifying", Count(note="rejected"))


def test_the_terminal_display_is_one_line_per_step_with_rows_and_elapsed_time() -> None:
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=True, width=120, color_system=None)
    with TerminalProgress(console) as progress:
        progress.step("reading")
        progress.done(Count(1234))
        progress.step("generating", total=10, unit="clients")
        progress.advance(4)
        progress.step("computing indicators")
        progress.done(Count(3, "episodes", note="fine"))
    final = sink.getvalue().split("\x1b[2K")[-1]  # the last frame rich drew
    lines = [line.strip() for line in final.splitlines() if line.strip() and not line.startswith("\x1b")]
    assert len(lines) == 3, final
    assert lines[0].startswith("✓ reading") and "1,234 rows" in lines[0] and lines[0].endswith(" s")
    assert lines[1].startswith("✓ generating") and "4 clients" in lines[1]
    assert "3 episodes · fine" in lines[2] and "/s" not in lines[2]


def _run(*args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeline", *map(str, args), "--home", str(home)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)


@pytest.mark.parametrize("as_json", [False, True])
def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path, as_json: bool) -> None:
    folder = write_batch(tmp_path / "b", valid_rows())
    result = _run("refresh", folder, *(["--json"] if as_json else []), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "✓" not in result.stderr and "identifying" not in result.stderr and "\x1b" not in result.stderr


def test_progress_on_a_terminal_but_not_with_json(tmp_path: Path) -> None:
    """Run under `script`, which gives the command a terminal."""
    script = "/usr/bin/script"
    if not Path(script).exists():
        pytest.skip("util-linux `script` is needed to give the command a terminal")
    folder = write_batch(tmp_path / "b", valid_rows())
    shown = {}
    for as_json in (False, True):
        command = f"{sys.executable} -m pipeline refresh {folder} --home {tmp_path / 'home'}" + (
            " --json" if as_json else ""
        )
        done = subprocess.run(
            [script, "-qec", command, "/dev/null"], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
        )
        shown[as_json] = done.stdout
    assert "✓" in shown[False] and "loading" in shown[False] and " rows" in shown[False]
    assert "✓" not in shown[True] and '"status"' in shown[True]
