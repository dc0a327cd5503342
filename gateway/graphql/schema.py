"""build_schema(services): merge every service's GraphQL into one schema, or fail saying why.

No I/O. Clashes (a root field or type name defined twice, a field added twice) fail with
an error naming both services; so does a field added to a type no service defines. Fields are
compared by their GraphQL names (`created_at` and `createdAt` are the same field), because
Strawberry would otherwise silently keep one of them.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition
from strawberry.types.execution import PreExecutionError
from strawberry.types.field import StrawberryField

from gateway.compat import broken_contacts, graphql_schema, strawberry_type_map
from gateway.execution.budgeted import BudgetedExecutor
from gateway.execution.byte_cache import DEFAULT_CACHE_BYTES, CacheShares
from gateway.execution.document_cache import DocumentCache, ParsedDocuments
from gateway.execution.executor import PlanCache, PlannedExecutor
from gateway.execution.validation_cache import BoundedValidation, ValidatedTexts
from gateway.graphql.error_codes import ErrorCodes, classify
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.example_queries import example_document
from gateway.graphql.nodes import node_query
from gateway.graphql.pagination import MAX_PAGE_SIZE
from gateway.graphql.service import Service
from gateway.limits.cost import SchemaCosts
from gateway.limits.field_merging import merging_budget_supported
from gateway.limits.rules import Limits, OperationLimits

__all__ = ["GatewaySchema", "build_schema"]


class GatewaySchema(strawberry.Schema):
    """Strawberry's schema, minus its logging of every error with a stack trace: client
    errors are expected, and ErrorCodes logs the unexpected ones with their correlation id.

    `plan_cache` holds PlannedExecutor's plans (gateway.execution), sized in bytes;
    `example_document` the services' example operations, checked (GraphiQL opens with it).
    """

    plan_cache: PlanCache
    example_document: str | None = None

    # What BudgetedExecutor holds each operation to; build_schema sets the schema's own.
    execution_limits: Limits = Limits()

    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        return None

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        """Strawberry's stream (a WebSocket's operations), with a refusal raised before
        execution (the operation limits') sent as the result it is over HTTP: Strawberry's
        stream lets it escape, and the subscription would complete without a word."""
        return _refusals_as_results(await super().stream(*args, **kwargs))


async def _refusals_as_results(results: Any) -> AsyncIterator[Any]:
    try:
        async for result in results:
            yield result
    except GraphQLError as refusal:
        yield PreExecutionError(data=None, errors=[classify(refusal)])
    finally:
        await results.aclose()


def build_schema(
    services: Sequence[Service],
    *,
    limits: Limits | None = None,
    max_page_size: int = MAX_PAGE_SIZE,
    production: bool = False,
    planned_execution: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> GatewaySchema:
    """One Strawberry schema with every service's root fields, types and extensions.

    `limits` (default: `Limits()`) bound every operation; `production` turns introspection
    off and hides field suggestions ("Did you mean ...?") from error messages.
    `planned_execution` runs queries with PlannedExecutor (gateway/execution), level by
    level; False leaves every operation to graphql-core's executor (same answers, slower).
    `cache_bytes` bounds the caches of parsed documents, validation results and plans
    together (gateway.execution.byte_cache.CacheShares splits it; the persisted documents' share of
    Settings.cache_bytes is the router's).
    """
    limits = limits or Limits()
    costs: list[SchemaCosts] = []  # the built schema's, set below before any operation runs
    merging_budget_supported()  # a warning in the log, now, if field merging is unbounded
    broken_contacts()  # the library contacts checked now, not inside the first operation

    def operation_limits() -> OperationLimits:
        return OperationLimits(limits=limits, costs=costs[0])

    def error_codes() -> ErrorCodes:
        return ErrorCodes(hide_suggestions=production)

    shares = CacheShares.split(cache_bytes)
    documents = ParsedDocuments(max_bytes=shares.documents)
    validated = ValidatedTexts(max_bytes=shares.validations)

    def document_cache() -> DocumentCache:
        return DocumentCache(documents=documents)

    def validation() -> BoundedValidation:
        return BoundedValidation(validated=validated)

    # Our DocumentCache, not Strawberry's ParserCache: when parsing fails, ParserCache skips
    # the other extensions' on_operation exits, so a syntax error would escape ErrorCodes.
    # OperationLimits comes first: it checks the query's length before any cache or parse.
    extensions: list[Any] = [operation_limits, document_cache, error_codes, validation]
    if production:
        extensions.append(DisableIntrospection)
    _check_unique_names(services)
    config = StrawberryConfig()
    names = config.name_converter
    types = _collect_types(services)
    loads = {kind: load for service in services for kind, load in service.nodes.items()}
    roots = [*services, Service(name="nodes", query=node_query(loads))] if loads else services
    query = _merge_roots("Query", roots, lambda s: s.query, names)
    if query is None:
        raise ServiceConfigurationError("No service defines a Query type; at least one must.")
    mutation = _merge_roots("Mutation", services, lambda s: s.mutation, names)
    subscription = _merge_roots("Subscription", services, lambda s: s.subscription, names)
    with _extended(types, services, names) as extended_types:
        schema = GatewaySchema(
            query=query,
            mutation=mutation,
            subscription=subscription,
            types=[origin for origin, _ in types.values()],
            extensions=extensions,
            config=config,
            # Both hold every operation to its budget (gateway.execution.budget), read from the
            # schema.
            execution_context_class=PlannedExecutor if planned_execution else BudgetedExecutor,
        )
    # Strawberry looks fields up in its type map (get_type_by_name, get_field_for_type,
    # directives): point it at definitions that keep the fields added during the build.
    for type_name, definition in extended_types.items():
        strawberry_type_map(schema)[type_name].definition = definition
    if loads:
        _leave_node_types_to_resolve_type(graphql_schema(schema))
    # Fails the build for a list field without a bound (see gateway/limits/cost.py).
    costs.append(SchemaCosts.of_schema(graphql_schema(schema), max_page_size=max_page_size))
    schema.execution_limits = limits
    schema.example_document = example_document(services, graphql_schema(schema))
    schema.plan_cache = PlanCache(max_bytes=shares.plans)
    return schema


def _definition(cls: type[Any], service: Service, role: str) -> StrawberryObjectDefinition:
    definition = get_object_definition(cls)
    if definition is None:
        raise ServiceConfigurationError(
            f"Service {service.name!r}: its {role} {cls.__name__} is not a Strawberry type; "
            "decorate it with @strawberry.type."
        )
    return definition


def _check_unique_names(services: Sequence[Service]) -> None:
    seen: set[str] = set()
    for service in services:
        if service.name in seen:
            raise ServiceConfigurationError(f"Two services are named {service.name!r}.")
        seen.add(service.name)


def _collect_types(services: Sequence[Service]) -> dict[str, tuple[type[Any], Service]]:
    """Every service's object types by GraphQL name, refusing a name two services define."""
    types: dict[str, tuple[type[Any], Service]] = {}
    for service in services:
        for cls in service.types:
            name = _definition(cls, service, "type").name
            if name in types and types[name][0] is not cls:
                raise ServiceConfigurationError(
                    f"Type {name!r} is defined by both service {types[name][1].name!r} and "
                    f"service {service.name!r}; rename one of them."
                )
            types[name] = (cls, service)
    return types


def _leave_node_types_to_resolve_type(built: GraphQLSchema) -> None:
    """Drop the `is_type_of` check Strawberry gives every type implementing an interface.

    The `Node` interface's own resolve_type already tells which type a node is; the check
    would only re-test `isinstance` on every object of those types, and it keeps the planned
    executor off them (it plans types without such checks, as all the others are)."""
    node = built.get_type("Node")
    for named in built.type_map.values():
        if isinstance(named, GraphQLObjectType) and node in named.interfaces:
            named.is_type_of = None


def _merge_roots(
    name: str, services: Sequence[Service], pick: Any, names: NameConverter
) -> type[Any] | None:
    roots: list[type[Any]] = []
    owners: dict[str, str] = {}
    for service in services:
        root = pick(service)
        if root is None:
            continue
        for field in _definition(root, service, name).fields:
            field_name = names.get_graphql_name(field)
            if field_name in owners:
                raise ServiceConfigurationError(
                    f"{name} field {field_name!r} is defined by both service "
                    f"{owners[field_name]!r} and service {service.name!r}."
                )
            owners[field_name] = service.name
        roots.append(root)
    if not roots:
        return None
    merged: type[Any] = strawberry.type(type(name, tuple(roots), {}))
    return merged


@contextmanager
def _extended(
    types: dict[str, tuple[type[Any], Service]],
    services: Sequence[Service],
    names: NameConverter,
) -> Iterator[dict[str, StrawberryObjectDefinition]]:
    """Add each service's fields to other services' types while the schema is built.

    Strawberry has no way to add fields to a type defined elsewhere, so the target's field
    list is extended in place and restored afterwards: the built schema keeps the fields,
    and the next build (say, with fewer services) starts from the originals. Yields, per
    extended type, a copy of its definition that keeps the added fields for the schema.
    """
    originals: dict[str, list[StrawberryField]] = {}
    added_by: dict[tuple[str, str], str] = {}
    try:
        for service in services:
            for type_name, fields_cls in service.extends.items():
                if type_name not in types:
                    raise ServiceConfigurationError(
                        f"Service {service.name!r} adds fields to type {type_name!r}, which no "
                        f"registered service defines (known types: {', '.join(sorted(types))})."
                    )
                target_cls, owner = types[type_name]
                target = _definition(target_cls, owner, "type")
                originals.setdefault(type_name, list(target.fields))
                for field in _definition(fields_cls, service, "extension").fields:
                    field_name = names.get_graphql_name(field)
                    clash = added_by.get((type_name, field_name))
                    if clash or any(
                        names.get_graphql_name(f) == field_name for f in originals[type_name]
                    ):
                        raise ServiceConfigurationError(
                            f"Field {type_name}.{field_name} is defined by both service "
                            f"{clash or owner.name!r} and service {service.name!r}."
                        )
                    if field.base_resolver is None:
                        raise ServiceConfigurationError(
                            f"Service {service.name!r} adds {type_name}.{field_name} without "
                            "a resolver; fields added to another service's type need one."
                        )
                    added_by[(type_name, field_name)] = service.name
                    target.fields.append(copy.copy(field))
        extended: dict[str, StrawberryObjectDefinition] = {}
        for type_name in originals:
            definition = _definition(types[type_name][0], types[type_name][1], "type")
            extended[type_name] = copy.copy(definition)
            extended[type_name].fields = list(definition.fields)
        yield extended
    finally:
        for type_name, fields in originals.items():
            _definition(types[type_name][0], types[type_name][1], "type").fields[:] = fields
