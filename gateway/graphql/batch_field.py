"""batch_field: a Strawberry field resolved for all its parents at once.

    @strawberry.type
    class UserOrders:
        @batch_field(description="The user's orders, ordered by id.")
        async def orders(
            users: list[User], info: Info, first: int | None = None
        ) -> list[Connection[Order]]:
            page = info.context.page(first, None)
            return await info.context.loaders(OrderData).of_user.pages(
                [user.id for user in users], page, info  # info: read only selected columns
            )

The function gets every parent of a level (the first parameter) and returns one value per
parent, in order; its GraphQL type is the element type (`Connection[Order]`). The planned
executor (gateway/execution) calls it once per level. Wherever fields are resolved one
parent at a time (mutations, fallbacks, permission-checked fields), a per-request dataloader
gathers the parents of a level into the same single call. Either way one call, and so one
statement, per level; and no per-row resolver, info or future on the planned path.

The `info` a batch function gets is the first parent's (its `path` is that parent's field).

`permission_classes` (Strawberry permissions, such as gateway.graphql.permissions') are
checked per parent, on both paths: a parent they refuse gets the permission's error (null
with FORBIDDEN at its path) and is not handed to the function; the others are served by the
same one call. Each permission shows in the SDL as its directive, as with `guarded(...)`.
"""

from __future__ import annotations

import inspect
import typing
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import FieldNode
from strawberry.permission import BasePermission
from strawberry.types.field import StrawberryField

from gateway.compat import field_nodes
from gateway.graphql.batching import BatchLoader

__all__ = ["BATCH_METADATA_KEY", "PER_PARENT_CALLS", "BatchSpec", "batch_field"]

BATCH_METADATA_KEY = "gateway.batch"
# Calls of a batch field's one-parent resolver (the dataloader path), by function, in this
# process: none on the planned path; a query that should plan and counts here lost its fast
# path (tests count these).
PER_PARENT_CALLS: Counter[str] = Counter()

BatchFunction = Callable[..., Awaitable[Sequence[Any]]]


@dataclass(frozen=True, eq=False)
class BatchSpec:
    """How to call a batch field's function; kept in the StrawberryField's metadata."""

    function: BatchFunction
    info_name: str | None  # the function's Info parameter, if it has one
    permissions: tuple[BasePermission, ...] = ()  # checked per parent, before the call

    async def call(self, parents: list[Any], info: Any, arguments: Mapping[str, Any]) -> list[Any]:
        """One value per parent (a refused parent's is its permission's error), or an error
        saying what the function got wrong."""
        if not self.permissions:
            return await self._call(parents, info, arguments)
        refusals = [await self._refusal(parent, info, arguments) for parent in parents]
        allowed = [
            parent for parent, refusal in zip(parents, refusals, strict=True) if refusal is None
        ]
        values = iter(await self._call(allowed, info, arguments) if allowed else ())
        return [next(values) if refusal is None else refusal for refusal in refusals]

    async def _refusal(
        self, parent: Any, info: Any, arguments: Mapping[str, Any]
    ) -> Exception | None:
        """The error of the first permission refusing `parent`, or None if all hold."""
        for permission in self.permissions:
            holds = permission.has_permission(parent, info, **arguments)
            if inspect.isawaitable(holds):
                holds = await holds
            if not holds:
                try:
                    permission.on_unauthorized()
                except Exception as error:
                    return error
                return PermissionError(permission.message or "Permission denied.")
        return None

    async def _call(self, parents: list[Any], info: Any, arguments: Mapping[str, Any]) -> list[Any]:
        keywords = dict(arguments)
        if self.info_name is not None:
            keywords[self.info_name] = info
        values = list(await self.function(parents, **keywords))
        if len(values) != len(parents):
            raise TypeError(
                f"Batch field {self.function.__qualname__} returned {len(values)} values for "
                f"{len(parents)} parents; it must return exactly one per parent, in order."
            )
        return values


def batch_field(
    *,
    name: str | None = None,
    description: str | None = None,
    deprecation_reason: str | None = None,
    permission_classes: Sequence[type[BasePermission]] = (),
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[BatchFunction], StrawberryField]:
    """Make `function(parents, [info], **arguments) -> list[T]` a field of type T;
    `permission_classes` checked per parent (the field must then be nullable); `metadata`
    as strawberry.field's (e.g. gateway.limits.cost.max_items for a list)."""
    permissions = tuple(permission() for permission in permission_classes)

    def decorate(function: BatchFunction) -> StrawberryField:
        spec, per_row = _per_row_resolver(function, permissions)
        field: StrawberryField = strawberry.field(
            name=name,
            description=description,
            deprecation_reason=deprecation_reason,
            directives=list(dict.fromkeys(p.schema_directive for p in permissions)),
            metadata={**(metadata or {}), BATCH_METADATA_KEY: spec},
        )(per_row)
        return field

    return decorate


def _per_row_resolver(
    function: BatchFunction, permissions: tuple[BasePermission, ...]
) -> tuple[BatchSpec, Callable[..., Any]]:
    """A resolver of one parent with the same GraphQL arguments as `function`."""
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(
            f"Batch field {function.__qualname__} must take the list of parents as its first "
            "parameter."
        )
    info_name: str | None = None
    arguments: list[inspect.Parameter] = []
    for parameter in parameters[1:]:
        if _is_info(parameter.annotation):
            info_name = parameter.name
        elif parameter.name in ("root", "self", "info_"):
            raise TypeError(
                f"Batch field {function.__qualname__}: {parameter.name!r} is reserved; rename it."
            )
        else:
            arguments.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))
    spec = BatchSpec(function=function, info_name=info_name, permissions=permissions)
    element = _element_annotation(function, signature.return_annotation)

    name = function.__qualname__

    async def per_row(root: Any, info_: Any, **arguments: Any) -> Any:
        PER_PARENT_CALLS[name] += 1
        return await _row_loader(info_, spec, arguments).load(root)

    per_row.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("info_", inspect.Parameter.KEYWORD_ONLY, annotation=strawberry.Info),
            *arguments,
        ],
        return_annotation=element,
    )
    per_row.__annotations__ = {
        "info_": strawberry.Info,
        **{parameter.name: parameter.annotation for parameter in arguments},
        "return": element,
    }
    # Strawberry resolves string annotations in the resolver's module: the function's.
    per_row.__module__ = function.__module__
    per_row.__name__ = function.__name__
    per_row.__qualname__ = function.__qualname__
    per_row.__doc__ = function.__doc__
    return spec, per_row


def _is_info(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation == "Info" or annotation.startswith(("Info[", "strawberry.Info"))
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, strawberry.Info)


def _element_annotation(function: BatchFunction, annotation: Any) -> Any:
    """T from `list[T]` (or `Sequence[T]`), as a string when the annotation is one."""
    if isinstance(annotation, str):
        for prefix in ("list[", "List[", "Sequence[", "typing.List[", "typing.Sequence["):
            if annotation.startswith(prefix) and annotation.endswith("]"):
                return annotation[len(prefix) : -1]
    elif typing.get_origin(annotation) in (list, Sequence, typing.Sequence):
        (element,) = typing.get_args(annotation)
        return element
    raise TypeError(
        f"Batch field {function.__qualname__} must be annotated to return list[T], one T per "
        f"parent; it is annotated {annotation!r}."
    )


# Per request (its context), per batch field, per query field (its nodes: an alias each) and
# distinct arguments: the dataloader that gathers one level's parents. Keyed by the nodes
# because the batch function narrows what it fetches to what they select: two aliases of one
# field with the same arguments select different columns. Weak: the loaders go with the
# request.
_LoaderKey = tuple[tuple[FieldNode, ...], dict[str, Any]]
_LOADERS: weakref.WeakKeyDictionary[Any, dict[BatchSpec, list[tuple[_LoaderKey, Any]]]] = (
    weakref.WeakKeyDictionary()
)


def _row_loader(info: Any, spec: BatchSpec, arguments: dict[str, Any]) -> Any:
    by_spec = _LOADERS.setdefault(info.context, {})
    entries = by_spec.setdefault(spec, [])
    nodes = field_nodes(info)
    for (known_nodes, known_arguments), loader in entries:
        if known_nodes == nodes and known_arguments == arguments:
            return loader

    async def load_level(parents: list[Any]) -> list[Any]:
        return await spec.call(parents, info, arguments)

    # No cache: parents are not hashable, and each row of a level asks once anyway.
    loader = BatchLoader(load_level, cache=False)
    entries.append(((nodes, arguments), loader))
    return loader
