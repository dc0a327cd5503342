"""deduplicate_selections(document): the document without repeated identical selections.

`{ __typename __typename ... }` 480 times is 5 KB that graphql-core's field-merging rule
compares pair by pair (115,000 comparisons, ~50 ms of CPU) and its executor merges back
into one field anyway. A selection that repeats an earlier one of the same selection set
exactly (same alias, name, arguments, directives and, recursively, sub-selections; or the
same inline fragment, or the same fragment spread) merges to the same result, so dropping it
changes no answer: execution merges fields by response name, in first-occurrence order,
and the first occurrence is the one kept.

Each selection gets a structural key computed bottom-up, as a small integer (keys are
interned: a parent's key holds its children's integers, not their keys), so the whole walk
is linear in the document's size. Run once per query text: DocumentCache keeps the result.

    document = deduplicate_selections(parse(query))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any, TypeVar, cast

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
    SelectionSetNode,
    print_ast,
)

__all__ = ["deduplicate_selections"]

_Node = TypeVar("_Node", SelectionNode, ExecutableDefinitionNode)


def deduplicate_selections(document: DocumentNode) -> DocumentNode:
    """`document` with every selection that repeats an earlier sibling exactly removed.

    Returns `document` itself when nothing repeats; never changes it in place.
    """
    keys = _StructuralKeys()
    definitions = [
        keys.definition(d) if isinstance(d, ExecutableDefinitionNode) else d
        for d in document.definitions
    ]
    if all(new is old for new, old in zip(definitions, document.definitions, strict=True)):
        return document
    return dataclasses.replace(document, definitions=tuple(definitions))


class _StructuralKeys:
    """Interned structural keys: equal keys mean selections that merge to the same result."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, int] = {}

    def _intern(self, key: Hashable) -> int:
        return self._ids.setdefault(key, len(self._ids))

    def definition(self, node: ExecutableDefinitionNode) -> ExecutableDefinitionNode:
        selection_set, _ = self._selection_set(node.selection_set)
        return _with_selection_set(node, selection_set)

    def _selection_set(self, node: SelectionSetNode) -> tuple[SelectionSetNode, int]:
        kept: list[SelectionNode] = []
        kept_keys: list[int] = []
        seen: set[int] = set()
        changed = False
        for selection in node.selections:
            new, key = self._selection(selection)
            changed = changed or new is not selection
            if key in seen:
                changed = True  # a repeat of an earlier sibling: dropped
                continue
            seen.add(key)
            kept.append(new)
            kept_keys.append(key)
        key = self._intern(tuple(kept_keys))
        if not changed:
            return node, key
        return dataclasses.replace(node, selections=tuple(kept)), key

    def _selection(self, node: SelectionNode) -> tuple[SelectionNode, int]:
        directives = self._directives(node.directives)
        if isinstance(node, FieldNode):
            sub, sub_key = (
                (None, -1)
                if node.selection_set is None
                else self._selection_set(node.selection_set)
            )
            alias = node.alias.value if node.alias is not None else None
            arguments = self._arguments(node.arguments)
            field = ("field", alias, node.name.value, arguments, directives, sub_key)
            return _with_selection_set(node, sub), self._intern(field)
        if isinstance(node, InlineFragmentNode):
            sub, sub_key = self._selection_set(node.selection_set)
            condition = node.type_condition.name.value if node.type_condition else None
            inline = ("inline", condition, directives, sub_key)
            return _with_selection_set(node, sub), self._intern(inline)
        if isinstance(node, FragmentSpreadNode):
            arguments = self._arguments(getattr(node, "arguments", None))
            return node, self._intern(("spread", node.name.value, arguments, directives))
        # A selection kind this module does not know: never equal to anything else.
        return node, self._intern(("unknown", id(node)))

    def _arguments(self, arguments: Sequence[ArgumentNode] | None) -> int:
        # Printed values: linear in their size, and equal exactly when the values are.
        return self._intern(tuple((a.name.value, print_ast(a.value)) for a in arguments or ()))

    def _directives(self, directives: Sequence[DirectiveNode] | None) -> int:
        return self._intern(
            tuple((d.name.value, self._arguments(d.arguments)) for d in directives or ())
        )


def _with_selection_set(node: _Node, selection_set: SelectionSetNode | None) -> _Node:
    if selection_set is getattr(node, "selection_set", None):
        return node
    changed: _Node = dataclasses.replace(cast(Any, node), selection_set=selection_set)
    return changed
