"""Private names of Strawberry, graphql-core and asyncpg are used in gateway/compat.py only.

Read from the source (an AST walk), so a new contact elsewhere fails here and gets moved
where the startup check sees it. uvicorn's protocol class (gateway/http/protocol.py) and
graphql-core's field-merging rule (gateway/limits/field_merging.py) are extended by
subclassing, each with its own fit check that gateway.compat reports.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "gateway" / "compat.py"
SUBCLASSED = {ROOT / "gateway/http/protocol.py", ROOT / "gateway/limits/field_merging.py"}
# The private names the gateway needs, as attributes, keywords or strings.
LIBRARY_PRIVATE = {
    "_raw_info",
    "_field",
    "_schema",
    "_strawberry_schema",
    "_get_basic_result",
    "_is_default",
    "_exception_handler_specs",
    "_handle_errors",
    "_resolver",
    "_async_resolver",
    "schema_converter",  # Strawberry's, undocumented
}
# Modules whose own private attributes are ours (self._x) or public by convention.
OWN_OR_PUBLIC = {"_replace", "_register", "_setup", "_asyncio_future_blocking", "_loop"}


def _private_uses(tree: ast.AST) -> list[tuple[int, str]]:
    uses = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute) and not (
            isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
        ):
            name = node.attr
        elif isinstance(node, ast.keyword):
            name = node.arg
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value
        if name in LIBRARY_PRIVATE:
            uses.append((node.lineno, name))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr not in OWN_OR_PUBLIC
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            uses.append((node.lineno, node.attr))
    return uses


def test_private_library_names_appear_in_the_compat_module_only() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sorted((ROOT / "gateway").rglob("*.py"))
        if path != COMPAT and path not in SUBCLASSED
        for line, name in _private_uses(ast.parse(path.read_text()))
    }
    assert found == set(), "move these into gateway/compat.py (and its check)"


def test_the_compat_module_does_use_them() -> None:
    # The scan would pass vacuously if it read nothing: it finds them where they are.
    names = {name for _, name in _private_uses(ast.parse(COMPAT.read_text()))}
    assert {"_raw_info", "_strawberry_schema", "_get_basic_result", "_handle_errors"} <= names
