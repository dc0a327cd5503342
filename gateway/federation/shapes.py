"""The shapes a subgraph gives the services' types, as copies of their Strawberry definitions.

A subgraph serves the same classes as the in-process gateway (resolvers return the same row
objects), but in other shapes: its own entities with `@key(fields: "id")`, another service's
entity as a stub (the key and the fields this service adds to it), value types shared with
other subgraphs as `@shareable`. Strawberry builds a schema from each class's
`__strawberry_definition__`, so `shaped(...)` puts a copy there while a schema is built and
puts the original back afterwards: the built schema keeps the copies, and the in-process
schema, built before or after, sees only the originals (tests/federation checks its SDL).
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from strawberry.annotation import StrawberryAnnotation
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.private import is_private

__all__ = ["KEY_FIELD", "PrivateAttribute", "Shape", "private_attributes", "shaped"]

KEY_FIELD = "id"  # every entity's key: the row id its service loads it by (Service.nodes)
# Private attributes a subgraph can carry between subgraphs: JSON scalars, which a
# representation holds as they are.
_CARRIED = (int, str, bool, float)


@dataclass(frozen=True)
class PrivateAttribute:
    """A `strawberry.Private` attribute of an entity that a stub of it needs (a permission
    such as OwnOrder reads `user_id`): served, @inaccessible, by the owner's subgraph, and
    `@requires`d by the fields another service adds to the stub."""

    python_name: str
    kind: type


def private_attributes(cls: type[Any]) -> tuple[PrivateAttribute, ...]:
    """`cls`'s private attributes of a JSON scalar type, in declaration order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    found = []
    for name, hint in hints.items():
        if not is_private(hint):
            continue
        kind = typing.get_args(hint)[0]
        if kind in _CARRIED:
            found.append(PrivateAttribute(name, kind))
    return tuple(found)


def carried_field(attribute: PrivateAttribute, directives: Sequence[object]) -> StrawberryField:
    """A plain field reading the attribute (Strawberry's default resolver: getattr)."""
    field = StrawberryField(
        python_name=attribute.python_name,
        type_annotation=StrawberryAnnotation(attribute.kind),
        directives=directives,
    )
    return field


@dataclass(frozen=True)
class Shape:
    """What one class looks like in a subgraph schema: its fields (None: its own, copied),
    the directives added to the type, whether it keeps its interfaces, how an object is
    told to be of it (None: as Strawberry tells)."""

    fields: Sequence[StrawberryField] | None = None
    directives: Sequence[object] = ()
    interfaces: bool = True
    is_type_of: Callable[[Any, Any], bool] | None = None

    def definition_of(self, original: StrawberryObjectDefinition) -> StrawberryObjectDefinition:
        definition = copy.copy(original)
        fields = original.fields if self.fields is None else self.fields
        # Copies: Strawberry binds a field to the type it builds it for.
        definition.fields = [copy.copy(field) for field in fields]
        definition.directives = [*(original.directives or ()), *self.directives]
        definition.interfaces = list(original.interfaces) if self.interfaces else []
        if self.is_type_of is not None:
            definition.is_type_of = self.is_type_of
        return definition


def own_fields(cls: type[Any], *names: str) -> list[StrawberryField]:
    """`cls`'s fields of those Python names (its key, for a stub)."""
    definition = get_object_definition(cls, strict=True)
    return [field for field in definition.fields if field.python_name in names]


@contextmanager
def shaped(shapes: Mapping[type[Any], Shape]) -> Iterator[None]:
    """While inside, each class's definition is its shape's copy; the originals after."""
    originals = {cls: get_object_definition(cls, strict=True) for cls in shapes}
    # A class may inherit its definition (a generic's specialization): it must again after.
    inherited = {cls for cls in shapes if "__strawberry_definition__" not in vars(cls)}
    try:
        for cls, shape in shapes.items():
            cls.__strawberry_definition__ = shape.definition_of(originals[cls])
        yield
    finally:
        for cls, definition in originals.items():
            if cls in inherited:
                del cls.__strawberry_definition__
            else:
                cls.__strawberry_definition__ = definition
