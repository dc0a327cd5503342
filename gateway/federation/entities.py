"""`_entities(representations:)`: the router's references, resolved a type at a time.

The router sends one level's references at once (`[{"__typename": "User", "id": 1}, ...]`).
They are grouped by type, and each type is resolved with one call:
- an entity this subgraph owns, by its service's node loader (Service.nodes: the rows by
  id, one statement, under the service's own rules on who may see them: a hidden or
  missing one is null, a refused one its error, as node(id:) answers);
- a stub of another service's entity, from the representations alone, without SQL: an
  object of the owner's class holding the key and the private attributes the router
  fetched for the fields this subgraph adds (`@requires`), which then resolve as batch
  fields do in-process, one statement per level.
"""

from __future__ import annotations

import asyncio
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NewType

import strawberry

from gateway.federation.shapes import KEY_FIELD, PrivateAttribute
from gateway.graphql.errors import BadUserInput
from gateway.graphql.nodes import NodeLoad

__all__ = ["MAX_REPRESENTATIONS", "AnyScalar", "EntityKind", "resolve_entities"]

# More than an answer could hold (Limits.max_response_values' default): refused whole.
MAX_REPRESENTATIONS = 10_000

# Federation's `_Any`: a representation, a JSON object passed through as it is. A scalar
# class, as Strawberry deprecates (for StrawberryConfig.scalar_map): build_schema builds the
# served schema with a config of its own, so the type has to carry its scalar.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    AnyScalar = strawberry.scalar(
        NewType("AnyScalar", object),
        name="_Any",
        description="A representation of an entity: its __typename and key (Federation).",
        serialize=lambda value: value,
        parse_value=lambda value: value,
    )


@dataclass(frozen=True)
class EntityKind:
    """How this subgraph resolves references to one type: `load` (its own, by id) or, for
    a stub, the private attributes a representation carries (GraphQL name -> attribute)."""

    cls: type[Any]
    load: NodeLoad | None = None
    carried: Mapping[str, PrivateAttribute] | None = None


async def resolve_entities(
    info: Any, representations: Sequence[Any], kinds: Mapping[str, EntityKind]
) -> list[Any]:
    """One value per representation, in order: the object, None, or an error for it."""
    if len(representations) > MAX_REPRESENTATIONS:
        raise BadUserInput(f"Send at most {MAX_REPRESENTATIONS} representations at once.")
    answers: list[Any] = [None] * len(representations)
    wanted: dict[str, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
    for index, representation in enumerate(representations):
        type_name = representation.get("__typename") if isinstance(representation, dict) else None
        if not isinstance(type_name, str) or type_name not in kinds:
            answers[index] = BadUserInput(
                f"A representation names type {str(type_name)[:40]!r}, which is no entity "
                f"of this subgraph (its entities: {', '.join(sorted(kinds))})."
            )
            continue
        row_id = representation.get(KEY_FIELD)
        if type(row_id) is not int:
            answers[index] = BadUserInput(f"A {type_name} representation needs an Int `id`.")
            continue
        wanted[type_name].append((index, representation))

    async def resolve(type_name: str, places: list[tuple[int, Mapping[str, Any]]]) -> None:
        kind = kinds[type_name]
        if kind.load is not None:
            found = await kind.load(
                info, [representation[KEY_FIELD] for _, representation in places]
            )
        else:
            found = [_stub(kind, representation) for _, representation in places]
        for (index, _), value in zip(places, found, strict=True):
            answers[index] = value

    await asyncio.gather(*(resolve(name, places) for name, places in wanted.items()))
    return answers


def _stub(kind: EntityKind, representation: Mapping[str, Any]) -> Any:
    """An object of the owner's class with the key and the carried attributes only: the
    fields this subgraph adds read no others (they are batch fields over the key)."""
    stub = object.__new__(kind.cls)
    stub.id = representation[KEY_FIELD]
    for graphql_name, attribute in (kind.carried or {}).items():
        value = representation.get(graphql_name)
        if type(value) is not attribute.kind:
            return BadUserInput(
                f"A {kind.cls.__name__} representation needs `{graphql_name}` "
                f"({attribute.kind.__name__}), which the fields asked for require."
            )
        setattr(stub, attribute.python_name, value)
    return stub
