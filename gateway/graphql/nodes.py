"""Global object identification, as Relay asks: the `Node` interface, opaque global ids, and
the root fields `node(id:)` and `nodes(ids:)`.

A service's types implement `Node` (`class Order(Node)`), and the service says how to load
them by their row ids, with its own rules on who may see what:

    service = Service(..., nodes={Order: orders_by_id})

    async def orders_by_id(info: Info, ids: Sequence[int]) -> Sequence[Order | None | Exception]:
        ...  # one value per id: the object, None (no such object, or hidden), or an error

The interface's field is `nodeId` (the types keep their `id: Int!`); tell Relay's compiler
so with `nodeInterfaceIdField: "nodeId"`. A global id is the url-safe base64 of
`<Type>:<id>`. `nodes(ids:)` groups the ids by type and calls each type's loader once, so
a type's rows come in one statement; `node(id:)` under several aliases batches the same
way through the loaders' dataloaders.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import strawberry
from strawberry.types.base import get_object_definition

from gateway.graphql.errors import BadUserInput
from gateway.limits.cost import max_items

__all__ = [
    "MAX_NODE_IDS",
    "Node",
    "NodeLoad",
    "decode_global_id",
    "encode_global_id",
    "node_query",
]

MAX_NODE_IDS = 100  # nodes(ids:) refuses more; the cost limit counts them
# One value per row id, in order: the object, None (missing or hidden), or an Exception (an
# error at that object's path, FORBIDDEN say).
NodeLoad = Callable[[Any, Sequence[int]], Awaitable[Sequence[Any]]]


def encode_global_id(type_name: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{row_id}".encode()).decode()


def decode_global_id(global_id: str) -> tuple[str, int]:
    """(type name, row id) of a global id; BadUserInput for anything this API did not make."""
    try:
        type_name, _, row_id = base64.urlsafe_b64decode(global_id.encode()).decode().partition(":")
        number = int(row_id)
        if type_name.isidentifier() and 0 < number < 2**31 and row_id == str(number):
            return type_name, number
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise BadUserInput(f"{global_id[:40]!r} is not a global id this API returned (`nodeId`).")


def _node_id(root: Any) -> strawberry.ID:
    return strawberry.ID(encode_global_id(root.__strawberry_definition__.name, root.id))


@strawberry.interface(
    description="An object with a global id (Relay's object identification): node(id:) finds it."
)
class Node:
    node_id: strawberry.ID = strawberry.field(
        resolver=_node_id, description="The object's opaque global id, for node(id:)."
    )


def _type_name(kind: type) -> str:
    definition = get_object_definition(kind, strict=True)
    return definition.name


def node_query(loads: Mapping[type, NodeLoad]) -> type:
    """The root type with `node(id:)` and `nodes(ids:)` over `loads` (type -> loader)."""
    by_name = {_type_name(kind): load for kind, load in loads.items()}

    async def resolve(info: Any, global_ids: Sequence[str]) -> list[Any]:
        wanted: dict[str, list[tuple[int, int]]] = defaultdict(list)  # type -> (index, id)
        answers: list[Any] = [None] * len(global_ids)
        for index, global_id in enumerate(global_ids):
            type_name, row_id = decode_global_id(global_id)
            if type_name not in by_name:
                raise BadUserInput(f"{global_id[:40]!r} is not a global id this API returned.")
            wanted[type_name].append((index, row_id))

        async def load(type_name: str, places: list[tuple[int, int]]) -> None:
            found = await by_name[type_name](info, [row_id for _, row_id in places])
            for (index, _), value in zip(places, found, strict=True):
                answers[index] = value

        await asyncio.gather(*(load(name, places) for name, places in wanted.items()))
        return answers

    async def node(info: strawberry.Info, id: strawberry.ID) -> Node | None:
        [answer] = await resolve(info, [id])
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    async def nodes(info: strawberry.Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODE_IDS:
            raise BadUserInput(f"Ask for at most {MAX_NODE_IDS} ids at once.")
        return await resolve(info, ids)

    @strawberry.type
    class NodeQuery:
        node_field: Node | None = strawberry.field(
            resolver=node, name="node", description="The object with this global id, or null."
        )
        nodes_field: list[Node | None] = strawberry.field(
            resolver=nodes,
            name="nodes",
            description=f"The objects with these global ids (at most {MAX_NODE_IDS}), in order.",
            metadata=max_items(MAX_NODE_IDS),
        )

    return NodeQuery
