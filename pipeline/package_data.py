"""Files outside the packages that the code reads at run time, found the same way from a wheel and from a checkout.

`docs/indicators.md` is edited where it is (docs/), but the report's methods appendix and the dashboard's Methods
page render it, so the wheel carries a copy under ``pipeline/_docs/`` (pyproject.toml: ``force-include``). An
installed package reads that copy; a checkout, which has no ``_docs/``, reads ``docs/`` itself.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

#: Where the wheel carries the docs it renders, inside the `pipeline` package.
SHIPPED_DOCS = "_docs"


class PackageDataMissing(FileNotFoundError):
    """A file the package needs is neither in the installed package nor in a source checkout."""


@cache
def checkout_root() -> Path | None:
    """The source tree this code runs from (an editable install or `python -m pipeline` in a clone), or None when
    it runs from an installed wheel."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "docs").is_dir() else None


def doc_text(name: str) -> str:
    """The text of ``docs/<name>``: the copy shipped in the package, else the checkout's own."""
    shipped = resources.files("pipeline") / SHIPPED_DOCS / name
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    root = checkout_root()
    if root is not None and (root / "docs" / name).is_file():
        return (root / "docs" / name).read_text(encoding="utf-8")
    raise PackageDataMissing(
        f"docs/{name} is neither in the installed package nor in a source checkout; reinstall ifs-outcomes from a "
        "wheel built with `uv build --wheel`"
    )
