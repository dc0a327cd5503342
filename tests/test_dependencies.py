"""The dependencies are honest: every import declared, ranges true, the lock installed.

- every third-party module imported by the project's code (gateway, services, benchmarks,
  tests, scripts) belongs to a distribution pyproject.toml declares;
- constraints.txt pins every declared distribution inside its declared range;
- the environment running the suite has exactly the pinned versions (scripts/test installs
  them), so CI and a new user test what was tested.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"gateway", "services", "benchmarks", "tests"}
PYTHON_SCRIPTS = [ROOT / "scripts" / "vendor-graphiql"]


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [
        line for extra in project["optional-dependencies"].values() for line in extra
    ]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = pinned
    return pins


def _imported_modules() -> dict[str, str]:
    """Top-level module -> one file importing it, for the project's own code."""
    files = [
        *(p for part in sorted(FIRST_PARTY) for p in (ROOT / part).rglob("*.py")),
        *PYTHON_SCRIPTS,
    ]
    found: dict[str, str] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_imported_module_is_declared_in_pyproject() -> None:
    declared = set(_declared())
    distributions = packages_distributions()
    undeclared = {}
    for module, where in _imported_modules().items():
        if module in sys.stdlib_module_names or module in FIRST_PARTY or module == "__future__":
            continue
        owners = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not owners & declared:
            undeclared[module] = (where, sorted(owners))
    assert undeclared == {}, "declare these distributions in pyproject.toml"


def test_constraints_pin_every_declared_distribution_inside_its_range() -> None:
    pins = _pins()
    outside = {
        name: (str(requirement.specifier), pins.get(name))
        for name, requirement in _declared().items()
        if pins.get(name) is None or not requirement.specifier.contains(pins[name])
    }
    assert outside == {}, "run scripts/lock, or fix the range in pyproject.toml"


def test_every_declared_range_has_an_upper_bound() -> None:
    unbounded = [
        name
        for name, requirement in _declared().items()
        if not any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier)
    ]
    assert unbounded == []


def test_the_suite_runs_on_the_pinned_versions() -> None:
    differing = {}
    for name, pinned in _pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            differing[name] = (pinned, installed)
    assert differing == {}, "scripts/test installs constraints.txt; run it (or scripts/lock)"
