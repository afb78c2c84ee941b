"""Start the real dashboard server and drive it with Debian's Chromium (Playwright; never `playwright install`).

Used by the browser tests and by the benchmark's first-render measurement.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: Page file stem → (URL path, title shown as the page's heading).
PAGES = {
    "overview": ("", "Overview"),
    "outcomes": ("outcomes", "Outcomes"),
    "self_leadership": ("self_leadership", "Self-leadership"),
    "ifs_process": ("ifs_process", "IFS process"),
    "coaching": ("coaching", "Coaching"),
    "helping_professionals": ("helping_professionals", "Helping professionals"),
    "data_quality": ("data_quality", "Data quality"),
    "methods": ("methods", "Methods"),
}
CLINICAL_PAGES = {"alerts": ("alerts", "Alerts"), "client": ("client", "Client")}


def chromium() -> str | None:
    found = shutil.which("chromium")
    return found or next((c for c in CHROMIUM_CANDIDATES if Path(c).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    home: Path,
    clinical: bool = False,
    timeout: float = 60.0,
    program: Sequence[str] = (sys.executable, "-m", "pipeline"),
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run `ifs-outcomes dashboard` as a subprocess until the block ends; yields its URL once healthy. ``program``
    is how to call the CLI (an installed venv's ``bin/ifs-outcomes`` for the wheel check), run in ``cwd``."""
    port = free_port()
    command = [*program, "dashboard", "--home", str(home), "--port", str(port)]
    log = home / f"dashboard-{port}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([*command, *(["--clinical"] if clinical else [])], cwd=cwd, stdout=sink,
                                stderr=subprocess.STDOUT, env=dict(os.environ if env is None else env))  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"dashboard exited with {proc.returncode}: {log.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.read().decode() == "ok":
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"dashboard not healthy after {timeout:.0f} s: {log.read_text()[-2000:]}")
                time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_FLAGS)


def wait_rendered(page: Any, title: str, timeout_ms: int = 30000) -> float:
    """Wait until the page's heading is visible and Streamlit has finished running the script; returns the
    `perf_counter` time at which it was first seen finished (the confirmation waits are not counted)."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)
    idle = '() => !document.querySelector(\'[data-testid="stStatusWidget"], [data-testid="stSkeleton"]\')'
    # The heading streams in before the rest of the script has run: idle, and still idle twice 250 ms later,
    # means finished. The time returned is when that idle stretch began.
    page.wait_for_function(idle, timeout=timeout_ms)
    finished = time.perf_counter()
    for _ in range(2):
        page.wait_for_timeout(250)
        if not page.evaluate(idle):
            page.wait_for_function(idle, timeout=timeout_ms)
            finished = time.perf_counter()
    return finished


def errors_on(page: Any) -> list[str]:
    """Exception boxes and error alerts visible on the page."""
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [boxes.nth(i).inner_text()[:300] for i in range(boxes.count())]


def open_page(page: Any, url: str, stem: str, pages: dict[str, tuple[str, str]] | None = None) -> float:
    """Navigate to one page and wait until it has rendered; returns seconds from navigation to rendered."""
    path, title = (pages or {**PAGES, **CLINICAL_PAGES})[stem]
    start = time.perf_counter()
    page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    return wait_rendered(page, title) - start
