"""What a query reads of a connection's nodes: the fields it selects, by GraphQL name.

RowObjects.for_nodes_of (gateway/graphql/row_objects.py) uses it to leave out of a page's SELECT
the columns nobody asked for: decoding a `timestamptz` costs asyncpg about 1 µs, so a
page of 10,000 payments read 10 ms of `created_at` that a query for their amounts threw
away.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection
from strawberry.types.private import is_private

__all__ = ["node_fields", "plain_fields"]


def node_fields(info: Any) -> frozenset[str]:
    """The GraphQL names of the fields selected on the page's nodes (`nodes { ... }` and
    `edges { node { ... } }`) by the field `info` resolves, through fragments and aliases.
    @skip and @include are not evaluated: a field they leave out still counts, which costs
    a column, never an answer."""
    return frozenset(
        field.name
        for connection in _fields(info.selected_fields)  # the field itself, once per node
        for nodes in _node_selections(connection.selections)
        for field in _fields(nodes)
    )


def _node_selections(selections: Iterable[Selection]) -> Iterator[Iterable[Selection]]:
    for part in _fields(selections):
        if part.name == "nodes":
            yield part.selections
        elif part.name == "edges":
            yield from (edge.selections for edge in _fields(part.selections) if edge.name == "node")


def plain_fields(kind: type, name_converter: Any) -> dict[str, str]:
    """The fields of the Strawberry type `kind` that hold a value as it was read (no
    resolver, not private), GraphQL name to Python name."""
    return dict(_plain_fields(kind, name_converter))


@cache
def _plain_fields(kind: type, name_converter: Any) -> tuple[tuple[str, str], ...]:
    definition = getattr(kind, "__strawberry_definition__", None)
    if definition is None:
        return ()
    return tuple(
        (name_converter.from_field(field), field.python_name)
        for field in definition.fields
        if field.base_resolver is None
        and not (field.type_annotation is not None and is_private(field.type_annotation.annotation))
    )


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)
