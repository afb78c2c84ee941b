"""The package as declared: every third-party import is a declared dependency, the wheel is configured to carry
only the three packages (with the docs they render), the licence files match the declaration, and a missing
checkout is said in one sentence. The built wheel itself is checked by tests/test_wheel.py (`make wheel-check`)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import package_data
from pipeline.cli import app

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "dashboards", "schemas")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: Imports of checkout-only code that the shipped packages may make, each guarded where it is made.
CHECKOUT_ONLY = {("pipeline/cli.py", "benchmarks")}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports() -> dict[str, set[str]]:
    """Top-level module name -> the shipped files importing it (anywhere in the file, lazily or not)."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    declared = {_normalise(re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0]) for d in PYPROJECT["project"]["dependencies"]}
    distributions = metadata.packages_distributions()
    missing: dict[str, set[str]] = {}
    for module, files in _imports().items():
        if module in sys.stdlib_module_names or module in PACKAGES or module == "__future__":
            continue
        if {(f, module) for f in files} <= CHECKOUT_ONLY:
            continue
        providers = {_normalise(d) for d in distributions.get(module, [module])}
        if not providers & declared:
            missing[module] = files
    assert not missing, f"imported but not declared in [project] dependencies: {missing}"


def test_the_wheel_carries_the_three_packages_and_the_docs_they_render() -> None:
    wheel = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert sorted(wheel["packages"]) == sorted(PACKAGES)
    shipped = wheel["force-include"]
    assert shipped == {"docs/indicators.md": f"pipeline/{package_data.SHIPPED_DOCS}/indicators.md"}
    assert all((ROOT / source).is_file() for source in shipped)


def test_the_licence_file_matches_the_declared_licence() -> None:
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "the ifs-outcomes contributors" in text
    assert "Permission is hereby granted, free of charge" in text


def test_docs_are_read_from_the_package_or_the_checkout() -> None:
    assert package_data.checkout_root() == ROOT  # the tests run from a checkout: no _docs/ here
    assert not (ROOT / "pipeline" / package_data.SHIPPED_DOCS).exists()
    assert package_data.doc_text("indicators.md") == (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8")
    with pytest.raises(package_data.PackageDataMissing, match="neither in the installed package nor"):
        package_data.doc_text("no-such-file.md")


def test_bench_without_a_checkout_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "benchmarks", None)  # as in an installed wheel: no benchmarks package
    result = CliRunner().invoke(app, ["bench", "--tier", "S"])
    assert result.exit_code == 2
    assert "benchmarks are not part of the installed package" in result.stderr and "make bench" in result.stderr
