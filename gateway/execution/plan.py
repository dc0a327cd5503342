"""The plan of a query: its fields collected once per request, with how to get each value.

graphql-core collects and looks up every field again for every object it completes. A plan
does that once per request: per selection set, the fields in response order, each with its
arguments coerced (they depend only on the query and its variables), and whether the value
is an attribute read (a Strawberry field without a resolver) or a resolver call.

`build_plan` raises Unsupported for what only graphql-core's executor handles (interfaces
and unions, introspection, middleware, `is_type_of` checks); the caller then runs the
operation the standard way. Planning runs no resolver, so falling back changes nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableNode,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from gateway.compat import (
    has_no_exception_handlers,
    is_plain_attribute_read,
    is_plain_resolver_wrapper,
    new_info,
    scalar_registry,
)
from gateway.execution.rows import RowBuilder, row_builder
from gateway.graphql.batch_field import BATCH_METADATA_KEY, BatchSpec

__all__ = [
    "DirectCall",
    "FieldPlan",
    "ObjectPlan",
    "PlanContext",
    "Unsupported",
    "build_plan",
    "depends_on_variables",
]

_STRAWBERRY_FIELD = "strawberry-definition"  # GraphQLCoreConverter.DEFINITION_BACKREF


# Each level of a planned query nests a few coroutine frames that every step runs through;
# past this depth graphql-core (a task per awaitable) stays clear of the recursion limit.
# The gateway's own depth limit (10) keeps its queries far below.
MAX_PLANNED_DEPTH = 32


class Unsupported(Exception):
    """The operation needs graphql-core's own executor."""


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What collecting fields and coercing arguments depend on: one request's query."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDetails]
    variable_values: VariableValues
    operation: OperationDefinitionNode
    hide_suggestions: bool
    field_resolver: Callable[..., Any]  # for fields without a resolve function
    strawberry_schema: Any  # the strawberry.Schema behind `schema`, if there is one


@dataclass(frozen=True, slots=True)
class DirectCall:
    """A Strawberry resolver called the way Strawberry's wrapper calls it, with its
    arguments converted once per request instead of once per object.

    Only for resolvers without field extensions (permissions are extensions) or exception
    handlers: for those the wrapper does nothing else.
    """

    function: Callable[..., Any]
    field: StrawberryField
    info_class: type[Any]
    pass_self: bool  # the source goes first, as `self`
    parent_name: str | None  # the keyword that takes the source (strawberry.Parent)
    root_name: str | None  # the keyword `root`, also the source
    info_name: str | None  # the keyword that takes strawberry.Info
    convert: Callable[[dict[str, Any], Any], dict[str, Any]]  # GraphQL arguments -> Python
    batch: BatchSpec | None  # a batch field (gateway.graphql.batch_field): one call per level

    def caller(self, arguments: dict[str, Any]) -> Callable[[Any, Any], Any]:
        """`call(source, raw_info)` for one level's sources: what Strawberry's wrapper does,
        with the arguments converted once for the level (per source if a resolver could
        change what the next one gets: a list, an input object)."""
        function, info_class, field = self.function, self.info_class, self.field
        convert, pass_self = self.convert, self.pass_self
        parent_name, root_name, info_name = self.parent_name, self.root_name, self.info_name
        converted: dict[str, Any] | None = None
        shared = False

        def call(source: Any, raw_info: Any) -> Any:
            nonlocal converted, shared
            info = new_info(info_class, raw_info, field)
            if converted is None:
                converted = convert(arguments, info)
                shared = _immutable(converted)
            keywords = dict(converted) if shared else convert(arguments, info)
            if parent_name is not None:
                keywords[parent_name] = source
            if root_name is not None:
                keywords[root_name] = source
            if info_name is not None:
                keywords[info_name] = info
            return function(source, **keywords) if pass_self else function(**keywords)

        return call

    def call_batch(
        self, parents: list[Any], raw_info: Any, arguments: dict[str, Any]
    ) -> Awaitable[list[Any]]:
        """A batch field's one call for a level (the info is the first parent's)."""
        assert self.batch is not None
        info = new_info(self.info_class, raw_info, self.field)
        return self.batch.call(parents, info, self.convert(arguments, info))


@dataclass(slots=True, eq=False)
class FieldPlan:
    """One response key of a selection set."""

    response_name: str
    parent_name: str  # the object type's name, for error messages
    definition_name: str  # the field's name in the schema
    details: FieldDetailsList
    nodes: list[FieldNode]
    definition: GraphQLField
    return_type: GraphQLOutputType
    # Exactly one of these says how to get the value from a parent object:
    typename: str | None = None  # __typename: a constant
    read: Callable[[Any], Any] | None = None  # an attribute read, no resolver
    resolve: Callable[..., Any] | None = None  # resolve(source, info, **arguments)
    direct: DirectCall | None = None  # a faster, equivalent way to call `resolve`
    # The plan of the object type inside return_type's List/NonNull wrappers, if any.
    child: ObjectPlan | None = None


@dataclass(slots=True, eq=False)
class ObjectPlan:
    """A selection set on one object type."""

    type: GraphQLObjectType
    fields: list[FieldPlan]
    row: RowBuilder  # one value per field, in order -> the object's result dict


def build_plan(context: PlanContext, root_type: GraphQLObjectType) -> ObjectPlan:
    """The plan of the operation's root selection set on `root_type`.

    It depends on the variables only through directives (`@skip(if: $flag)`): see
    `depends_on_variables`. Arguments are coerced by the executor, per request.
    """
    grouped = collect_fields(
        context.schema,
        context.fragments,
        context.variable_values,
        root_type,
        context.operation,
        context.hide_suggestions,
    ).grouped_field_set
    return _object_plan(context, root_type, grouped, depth=0)


def _object_plan(
    context: PlanContext, object_type: GraphQLObjectType, grouped: GroupedFieldSet, depth: int
) -> ObjectPlan:
    if depth > MAX_PLANNED_DEPTH:
        raise Unsupported(f"selections nested deeper than {MAX_PLANNED_DEPTH} levels")
    if object_type.is_type_of is not None:
        raise Unsupported(f"{object_type.name} has an is_type_of check")
    fields = [
        _field_plan(context, object_type, name, details, depth) for name, details in grouped.items()
    ]
    return ObjectPlan(
        type=object_type,
        fields=fields,
        row=row_builder(tuple(field.response_name for field in fields)),
    )


def _field_plan(
    context: PlanContext,
    parent: GraphQLObjectType,
    response_name: str,
    details: FieldDetailsList,
    depth: int,
) -> FieldPlan:
    node = details[0].node
    name = node.name.value
    if name == "__typename":
        definition = context.schema.get_field(parent, name)
        assert definition is not None
        return FieldPlan(
            response_name,
            parent.name,
            name,
            details,
            [detail.node for detail in details],
            definition,
            definition.type,
            typename=parent.name,
        )
    if name.startswith("__"):
        raise Unsupported("introspection")
    definition = parent.fields.get(name)
    if definition is None:  # validation refuses unknown fields; graphql-core skips them
        raise Unsupported(f"unknown field {parent.name}.{name}")
    plan = FieldPlan(
        response_name,
        parent.name,
        name,
        details,
        [detail.node for detail in details],
        definition,
        definition.type,
    )
    plan.read = _attribute_read(definition)
    if plan.read is None:
        plan.resolve = definition.resolve or context.field_resolver
        plan.direct = _direct_call(definition, context.strawberry_schema)
    named = _named_type(definition.type)
    if isinstance(named, GraphQLObjectType):
        grouped = collect_subfields(
            context.schema,
            context.fragments,
            context.variable_values,
            context.operation,
            named,
            details,
            context.hide_suggestions,
        ).grouped_field_set
        plan.child = _object_plan(context, named, grouped, depth + 1)
    elif not is_leaf_type(named):
        raise Unsupported(f"{named} is an interface or a union")
    return plan


def _named_type(output_type: GraphQLOutputType) -> Any:
    while isinstance(output_type, GraphQLNonNull | GraphQLList):
        output_type = output_type.of_type
    return output_type


def _attribute_read(definition: GraphQLField) -> Callable[[Any], Any] | None:
    """A plain read for Strawberry fields without resolver, extensions or error handlers.

    Strawberry resolves those with `field.default_resolver(source, python_name)` (getattr by
    default) in a function it marks `_is_default`; anything else keeps its resolver.
    """
    field = definition.extensions.get(_STRAWBERRY_FIELD)
    resolve = definition.resolve
    if not (
        isinstance(field, StrawberryField)
        and field.is_basic_field
        and resolve is not None
        and is_plain_attribute_read(resolve)
    ):
        return None
    read_with = field.default_resolver
    if read_with is getattr:
        return operator.attrgetter(field.python_name)
    python_name = field.python_name
    return lambda source: read_with(source, python_name)


def _direct_call(definition: GraphQLField, strawberry_schema: Any) -> DirectCall | None:
    """A DirectCall for the field's resolver, or None to call Strawberry's wrapper."""
    field = definition.extensions.get(_STRAWBERRY_FIELD)
    if not (
        isinstance(field, StrawberryField)
        and field.base_resolver is not None
        and not field.extensions
        and not field.is_subscription
        and has_no_exception_handlers(strawberry_schema)
        # Strawberry's own wrappers, which do nothing beyond what DirectCall does.
        and is_plain_resolver_wrapper(definition.resolve)
    ):
        return None
    resolver = field.base_resolver
    function = resolver.wrapped_func
    if not callable(function):  # a staticmethod or classmethod object: let Strawberry unwrap
        return None
    config = strawberry_schema.config
    registry = scalar_registry(strawberry_schema)
    arguments = field.arguments

    def convert(raw: dict[str, Any], info: Any) -> dict[str, Any]:
        return convert_arguments(raw, arguments, scalar_registry=registry, config=config, info=info)

    return DirectCall(
        function=function,
        field=field,
        info_class=config.info_class,
        pass_self=resolver.self_parameter is not None,
        parent_name=_name(resolver.parent_parameter),
        root_name=_name(resolver.root_parameter),
        info_name=_name(resolver.info_parameter),
        convert=convert,
        batch=field.metadata.get(BATCH_METADATA_KEY),
    )


_IMMUTABLE_TYPES = (str, int, float, bool, type(None), Decimal, datetime, date, time, Enum, UUID)


def _immutable(arguments: dict[str, Any]) -> bool:
    return all(isinstance(value, _IMMUTABLE_TYPES) for value in arguments.values())


def _name(parameter: Any) -> str | None:
    return None if parameter is None else str(parameter.name)


def depends_on_variables(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]
) -> bool:
    """Whether collecting the operation's fields reads variables: a directive argument
    that is a variable, or fragment arguments. Other plans can be kept and reused."""
    selection_sets = [operation.selection_set]
    selection_sets.extend(details.definition.selection_set for details in fragments.values())
    if any(details.variable_signatures for details in fragments.values()):
        return True
    while selection_sets:
        selection_set = selection_sets.pop()
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                if any(
                    isinstance(argument.value, VariableNode)
                    for argument in directive.arguments or ()
                ):
                    return True
            if getattr(selection, "arguments", None) and isinstance(selection, FragmentSpreadNode):
                return True
            child = getattr(selection, "selection_set", None)
            if child is not None:
                selection_sets.append(child)
    return False
