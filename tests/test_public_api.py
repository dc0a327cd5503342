"""The public API: what `from gateway import ...` offers, and that services need nothing else."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import gateway

ROOT = Path(__file__).resolve().parent.parent


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the imports under `if TYPE_CHECKING:` in gateway/__init__.py."""
    tree = ast.parse((ROOT / "gateway" / "__init__.py").read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imports: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        assert node.module is not None
        imports.update({alias.name: node.module for alias in node.names})
    return imports


def test_all_is_sorted_and_names_exactly_the_public_names() -> None:
    assert gateway.__all__ == sorted(gateway.__all__)
    assert set(gateway.__all__) == set(gateway._HOMES) == set(_type_checking_imports())
    assert _type_checking_imports() == gateway._HOMES  # what mypy sees is what runs


@pytest.mark.parametrize("name", gateway.__all__)
def test_each_public_name_is_the_object_its_module_defines(name: str) -> None:
    assert getattr(gateway, name) is getattr(import_module(gateway._HOMES[name]), name)
    assert name in dir(gateway)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'RowObject'"):
        gateway.RowObject  # noqa: B018  (a typo of RowObjects)
    with pytest.raises(ImportError):
        exec("from gateway import RowObject", {})


def test_the_data_layer_alone_imports_no_graphql_or_web_framework() -> None:
    probe = "import sys, gateway.db; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    for heavy in ("strawberry", "graphql", "fastapi", "starlette", "uvicorn"):
        assert f"'{heavy}'" not in loaded


def _framework_imports(folder: Path) -> list[str]:
    """`from gateway.<package> import ...` lines, other than the data layer's."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            if module.startswith("gateway.") and not module.startswith("gateway.db"):
                found.append(f"{path.relative_to(ROOT)}: from {module}")
    return found


def test_services_are_written_against_the_public_api_only() -> None:
    # Service authors import from `gateway` (and `gateway.db`), never from its inner modules,
    # so the framework can move its modules without breaking a service.
    assert _framework_imports(ROOT / "services") == []
    assert _framework_imports(ROOT / "tests" / "gateway" / "extra_service") == []
