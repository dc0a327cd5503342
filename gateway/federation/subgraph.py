"""build_subgraph(services, name): one service as an Apollo Federation 2 subgraph.

    subgraph = build_subgraph(SERVICES, "orders")
    subgraph.sdl                      # what `_service { sdl }` answers, @key and @link included
    with subgraph.serving():          # while the served schema is built (create_app)
        app = create_app(settings, subgraph.services)

What the subgraph serves, in the shapes of gateway.federation.shapes:
- the service's root Query and Mutation fields, as they are, with `_entities` and `_service`;
- its entities (the types it loads by id, `Service.nodes`) with `@key(fields: "id")`; an
  entity another service adds fields to also serves its private attributes (a permission
  of those fields may read them, as OwnOrder reads `user_id`) as `@inaccessible` fields;
- the fields it adds to other services' entities (`Service.extends`) on stubs of them:
  `@key(fields: "id")`, the key, those private attributes `@external`, and the fields, each
  `@requires` them; the same batch functions resolve them, one statement per level;
- other services' entities it only returns, as stubs with their key (`resolvable: false`);
- every other object type as a value type, `@shareable` (PageInfo is in every subgraph).

Two schemas are built from the same shapes: the one served (by build_schema, through
create_app: limits, error codes, the planned executor, all as in-process) without any
Federation directive, and Strawberry's federation schema, with them, printed once as `sdl`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import strawberry
from strawberry.annotation import StrawberryAnnotation
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import (
    External,
    Inaccessible,
    Key,
    Requires,
    Shareable,
)
from strawberry.federation.types import FieldSet
from strawberry.printer import print_schema
from strawberry.schema.config import StrawberryConfig
from strawberry.types.base import StrawberryContainer, get_object_definition
from strawberry.types.union import StrawberryUnion

from gateway.federation.entities import AnyScalar, EntityKind, resolve_entities
from gateway.federation.shapes import (
    KEY_FIELD,
    PrivateAttribute,
    Shape,
    carried_field,
    own_fields,
    private_attributes,
    shaped,
)
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.service import Service
from gateway.limits.cost import max_items

__all__ = ["FEDERATION_VERSION", "Subgraph", "build_subgraph"]

# The newest Federation version the composition (federation/package.json) understands.
FEDERATION_VERSION: Final[Literal["2.9"]] = "2.9"
_KEY = FieldSet(KEY_FIELD)


@dataclass(frozen=True)
class Subgraph:
    """A service's subgraph: its SDL, and what create_app builds the served schema from."""

    name: str
    sdl: str
    # The subgraph's own service in its federated form, then every other service's loaders
    # only (their managers and migrations, for the cross-service loaders resolvers call).
    services: Sequence[Service]
    served_shapes: Mapping[type[Any], Shape]

    @contextmanager
    def serving(self) -> Iterator[None]:
        """The classes in their served shapes while the served schema is built."""
        with shaped(self.served_shapes):
            yield


@dataclass(frozen=True)
class _Entity:
    cls: type[Any]
    owner: Service


def build_subgraph(services: Sequence[Service], name: str) -> Subgraph:
    """`services`' service `name` as a subgraph; ServiceConfigurationError saying why not."""
    by_name = {service.name: service for service in services}
    service = by_name.get(name)
    if service is None:
        raise ServiceConfigurationError(
            f"No service is named {name!r}; the services are {', '.join(by_name)}."
        )
    if service.tenant_scoped:
        raise ServiceConfigurationError(
            f"Service {name!r} is tenant-scoped: it is not served as a subgraph (its schema "
            "comes from each request's tenant); serve it in-process with `gateway serve`."
        )
    if service.subscription is not None:
        # Not an error: the subgraph serves the rest; subscriptions stay in-process.
        service = replace(service, subscription=None)
    entities = _entities(services)
    config = StrawberryConfig()
    names = config.name_converter
    carried = {
        type_name: private_attributes(entity.cls)
        for type_name, entity in entities.items()
        if any(type_name in other.extends for other in services if other.name != entity.owner.name)
    }
    kinds: dict[str, EntityKind] = {}
    served: dict[type[Any], Shape] = {}
    federated: dict[type[Any], Shape] = {}
    for type_name, entity in entities.items():
        attributes = carried.get(type_name, ())
        if entity.owner.name == name:
            kinds[type_name] = EntityKind(entity.cls, load=service.nodes[entity.cls])
            served[entity.cls], federated[entity.cls] = _owned(entity.cls, attributes)
        elif type_name in service.extends:
            graphql_names = {names.from_field(carried_field(a, ())): a for a in attributes}
            kinds[type_name] = EntityKind(entity.cls, carried=graphql_names)
            served[entity.cls], federated[entity.cls] = _stub(
                entity.cls, service.extends[type_name], attributes, " ".join(graphql_names)
            )
        else:
            served[entity.cls] = federated[entity.cls] = _reference(entity.cls)
    for type_name in service.extends:
        if type_name not in entities:
            raise ServiceConfigurationError(
                f"Service {name!r} adds fields to {type_name!r}, which is no entity (no "
                "service loads it by id in Service.nodes): a subgraph cannot be given it."
            )
    query = _query(service.query, kinds, sdl := _SDL())
    mutation = _root("Mutation", service.mutation)
    own = [*service.types, *(kinds[type_name].cls for type_name in service.extends)]
    with shaped(served):
        values = _value_types([query, mutation], own, exclude=set(served))
    for cls in values:
        federated[cls] = Shape(directives=[Shareable()])
    with shaped(federated):
        schema = strawberry.federation.Schema(
            query=query,
            mutation=mutation,
            types=own,
            config=config,
            federation_version=FEDERATION_VERSION,
            # `_Any` is ours, so that the served schema, built without Federation, has it.
            scalar_overrides={FederationAny: AnyScalar},  # type: ignore[dict-item]
        )
    sdl.text = print_schema(schema)
    # The service in its subgraph form: no node(id:) (each subgraph knows only its own
    # types), no example query (it reads other services' fields), no subscriptions.
    subgraph_service = replace(
        service, query=query, types=own, extends={}, nodes={}, example_query=None
    )
    others = [
        Service(name=other.name, loaders=other.loaders, tenant_scoped=other.tenant_scoped)
        for other in services
        if other.name != name
    ]
    return Subgraph(
        name=name, sdl=sdl.text, services=[subgraph_service, *others], served_shapes=served
    )


def _entities(services: Sequence[Service]) -> dict[str, _Entity]:
    """Every service's entities by GraphQL name: the types it loads by id."""
    found: dict[str, _Entity] = {}
    for service in services:
        for cls in service.nodes:
            definition = get_object_definition(cls, strict=True)
            if not any(field.python_name == KEY_FIELD for field in definition.fields):
                raise ServiceConfigurationError(
                    f"Service {service.name!r}: {definition.name} has no `{KEY_FIELD}` field, "
                    "the key a subgraph gives its entities."
                )
            found[definition.name] = _Entity(cls, service)
    return found


def _is_instance(cls: type[Any]) -> Any:
    # The served shapes are copies, so Strawberry cannot tell an object's type by its
    # definition (a row object's is the original): by its class, as for interfaces.
    return lambda obj, info: isinstance(obj, cls)


def _owned(cls: type[Any], attributes: Sequence[PrivateAttribute]) -> tuple[Shape, Shape]:
    fields = list(get_object_definition(cls, strict=True).fields)
    served = Shape(fields=[*fields, *(carried_field(a, ()) for a in attributes)])
    federated = Shape(
        fields=[*fields, *(carried_field(a, [Inaccessible()]) for a in attributes)],
        directives=[Key(fields=_KEY)],
    )
    return _typed(served, cls), _typed(federated, cls)


def _stub(
    cls: type[Any],
    fields_cls: type[Any],
    attributes: Sequence[PrivateAttribute],
    required: str,
) -> tuple[Shape, Shape]:
    key = own_fields(cls, KEY_FIELD)
    added = list(get_object_definition(fields_cls, strict=True).fields)
    served = Shape(
        fields=[*key, *(carried_field(a, ()) for a in attributes), *added], interfaces=False
    )
    requires = [Requires(fields=FieldSet(required))] if required else []
    federated = Shape(
        fields=[
            *key,
            *(carried_field(a, [External()]) for a in attributes),
            *(_with_directives(field, requires) for field in added),
        ],
        directives=[Key(fields=_KEY)],
        interfaces=False,
    )
    return _typed(served, cls), _typed(federated, cls)


def _reference(cls: type[Any]) -> Shape:
    return Shape(
        fields=own_fields(cls, KEY_FIELD),
        directives=[Key(fields=_KEY, resolvable=False)],
        interfaces=False,
    )


def _typed(shape: Shape, cls: type[Any]) -> Shape:
    return replace(shape, is_type_of=_is_instance(cls))


def _with_directives(field: Any, directives: Sequence[object]) -> Any:
    copied = copy.copy(field)
    copied.directives = [*field.directives, *directives]
    return copied


class _SDL:
    """The printed SDL, set once the federation schema is built (it is printed from it)."""

    text = ""


@strawberry.type(name="_Service", description="This subgraph, as the router reads it.")
class ServiceDefinition:
    sdl: str


def _query(root: type[Any] | None, kinds: Mapping[str, EntityKind], sdl: _SDL) -> type[Any]:
    """The service's Query with Federation's `_entities` (if it has entities) and `_service`."""

    def service_definition() -> ServiceDefinition:
        return ServiceDefinition(sdl=sdl.text)

    fields: dict[str, Any] = {
        "federation_service": strawberry.field(
            name="_service", resolver=service_definition, description="This subgraph's SDL."
        )
    }
    if kinds:
        union = StrawberryUnion(
            "_Entity",
            type_annotations=tuple(StrawberryAnnotation(kind.cls) for kind in kinds.values()),
        )

        async def entities(info: strawberry.Info, representations: list[AnyScalar]) -> Any:  # type: ignore[valid-type]
            return await resolve_entities(info, representations, kinds)

        # A union built at run time, as strawberry.federation.Schema builds its own.
        entities.__annotations__["return"] = list[union | None]  # type: ignore[valid-type]
        fields["federation_entities"] = strawberry.field(
            name="_entities",
            resolver=entities,
            description="The entities these representations name, in order (Federation).",
            # The cost limit holds each representation's answer, as in-process for one
            # parent: the router sends one level's parents at once, however many. The
            # execution budget (max_response_values, max_response_bytes) holds the whole.
            metadata=max_items(1),
        )
    federation = strawberry.type(type("FederationQuery", (), {"__annotations__": {}, **fields}))
    return _root("Query", root, federation)  # type: ignore[return-value]


def _root(name: str, *roots: type[Any] | None) -> type[Any] | None:
    """One root type of these roots' fields, as build_schema merges them."""
    present = tuple(root for root in roots if root is not None)
    if not present:
        return None
    merged: type[Any] = strawberry.type(type(name, present, {}))
    return merged


def _value_types(
    roots: Sequence[type[Any] | None], types: Sequence[type[Any]], exclude: set[type[Any]]
) -> list[type[Any]]:
    """The object types reachable from `roots` and `types` that are not entities nor stubs
    (nor roots, nor Federation's own `_Service`), with the generic types they specialize (a
    Connection's shape gives its specializations theirs)."""
    found: list[type[Any]] = []
    seen: set[Any] = set()
    stack: list[Any] = [root for root in roots if root is not None] + list(types)
    while stack:
        current = stack.pop()
        while isinstance(current, StrawberryContainer):
            current = current.of_type
        if isinstance(current, StrawberryUnion):
            stack.extend(annotation.resolve() for annotation in current.type_annotations)
            continue
        if current in seen:
            continue
        seen.add(current)
        definition = get_object_definition(current)
        if definition is None or definition.is_input:
            continue
        stack.extend(definition.interfaces)
        stack.extend(field.type for field in definition.fields)
        if (
            current in exclude
            or current in roots
            or definition.is_interface
            or definition.name.startswith("_")
        ):
            continue
        found.append(current)
        if definition.concrete_of is not None and definition.concrete_of.origin not in found:
            found.append(definition.concrete_of.origin)
    return found
