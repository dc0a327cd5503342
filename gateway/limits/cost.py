"""How many values a field can return, read from the schema's types once, at build.

    @strawberry.field(description="The order's product lines.", metadata=max_items(50))
    async def items(self, info: Info) -> list[LineItem]: ...

Every list field must be bounded, one of three ways, or the schema build fails saying so:
- its own `first` argument (a page): at most `first` (or `last`, backward) items, capped by
  the largest page;
- it sits on a page type (a connection): a type that only fields with a `first` argument
  return; that `first` bounds the type's lists (`users(first: 5) { nodes }`: 5 nodes);
- a declared maximum, `metadata=max_items(n)`, which the service must keep true.

A list of lists multiplies by the bound at each level. `first` is read as the resolver will
read it: the literal, else the request's variable, else the variable's default, else the
argument's default, and null means the default page. A value the resolver refuses (past the
largest page, negative, not an integer) counts as the largest page: refused or not, the
estimate stays an upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    IntValueNode,
    NullValueNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
    is_introspection_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.pagination import DEFAULT_PAGE_SIZE

__all__ = ["MAX_ITEMS_KEY", "PAGE_ARGUMENT", "SchemaCosts", "list_depth", "max_items"]

MAX_ITEMS_KEY = "gateway.max_items"
PAGE_ARGUMENT = "first"
BACKWARD_PAGE_ARGUMENT = "last"  # a page backward, bounded as `first` is
# Where Strawberry keeps the StrawberryField (and its metadata) behind a GraphQLField.
_STRAWBERRY_FIELD = GraphQLCoreConverter.DEFINITION_BACKREF


def max_items(count: int) -> dict[str, Any]:
    """Field metadata declaring that a list field returns at most `count` items.

    `@strawberry.field(metadata=max_items(50))`; merge it into other metadata with `|`.
    """
    if count < 0:
        raise ValueError(f"max_items takes a count of 0 or more, got {count}.")
    return {MAX_ITEMS_KEY: count}


def list_depth(output_type: GraphQLOutputType) -> int:
    """How many list levels wrap the field's named type (`[[Int!]]!` is 2)."""
    depth = 0
    current: Any = output_type
    while isinstance(current, GraphQLNonNull | GraphQLList):
        depth += isinstance(current, GraphQLList)
        current = current.of_type
    return depth


@dataclass(frozen=True, slots=True)
class _ListRule:
    declared: int | None  # max_items(n)
    paged: bool  # the field has its own `first`
    on_page_type: bool  # the parent is a page type: the enclosing field's `first` bounds it


class SchemaCosts:
    """The schema's list bounds, checked at build: `SchemaCosts.of_schema(schema, ...)`."""

    def __init__(
        self,
        schema: GraphQLSchema,
        rules: Mapping[tuple[str, str], _ListRule],
        *,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.max_page_size = max_page_size
        self.default_page = min(DEFAULT_PAGE_SIZE, max_page_size)
        self._rules = rules

    @classmethod
    def of_schema(cls, schema: GraphQLSchema, *, max_page_size: int) -> SchemaCosts:
        """Every list field's bound, or ServiceConfigurationError naming the unbounded ones."""
        returned_by: dict[str, list[GraphQLField]] = {}
        for parent in _output_types(schema):
            for field in parent.fields.values():
                named = get_named_type(field.type)
                # A field returning a union or an interface returns each of its object types.
                returned = (
                    [named, *schema.get_possible_types(named)]
                    if isinstance(named, GraphQLAbstractType)
                    else [named]
                )
                for type_ in returned:
                    returned_by.setdefault(type_.name, []).append(field)
        page_types = {
            name
            for name, fields in returned_by.items()
            if all(PAGE_ARGUMENT in field.args for field in fields)
        }
        rules: dict[tuple[str, str], _ListRule] = {}
        unbounded: list[str] = []
        for parent in _output_types(schema):
            for name, field in parent.fields.items():
                if not list_depth(field.type):
                    continue
                rule = _ListRule(
                    declared=_declared_max(field),
                    paged=PAGE_ARGUMENT in field.args,
                    on_page_type=parent.name in page_types,
                )
                if rule.declared is None and not rule.paged and not rule.on_page_type:
                    unbounded.append(f"{parent.name}.{name}")
                rules[(parent.name, name)] = rule
        if unbounded:
            fields = (
                f"field {unbounded[0]} has"
                if len(unbounded) == 1
                else "fields " + (f"{', '.join(unbounded)} have")
            )
            raise ServiceConfigurationError(
                f"List {fields} no bound, so no query's cost can be known: declare the "
                "most items it returns with "
                "`strawberry.field(metadata=max_items(n))` (from gateway), or give it a "
                f"`{PAGE_ARGUMENT}` argument."
            )
        return cls(schema, rules, max_page_size=max_page_size)

    def page_of(
        self,
        field: GraphQLField,
        node: FieldNode,
        variables: Mapping[str, Any],
        variable_defaults: Mapping[str, ValueNode],
    ) -> int | None:
        """The items a field's `first` (or `last`, paging backward) allows, or None for a
        field without `first`. Both given count as the larger (the resolver refuses them)."""
        if PAGE_ARGUMENT not in field.args:
            return None
        first = self._argument(field, node, PAGE_ARGUMENT, variables, variable_defaults)
        last = self._argument(field, node, BACKWARD_PAGE_ARGUMENT, variables, variable_defaults)
        if last is None or last is Undefined:
            return self._page_size(first)
        if first is None or first is Undefined:
            return self._page_size(last)
        return max(self._page_size(first), self._page_size(last))

    @staticmethod
    def _argument(
        field: GraphQLField,
        node: FieldNode,
        name: str,
        variables: Mapping[str, Any],
        variable_defaults: Mapping[str, ValueNode],
    ) -> Any:
        """An Int argument's value as the resolver reads it (Undefined when not a field's)."""
        argument = field.args.get(name)
        if argument is None:
            return Undefined
        given = next((a.value for a in node.arguments or () if a.name.value == name), None)
        value: Any = Undefined
        if isinstance(given, VariableNode):
            variable = given.name.value
            if variable in variables:
                value = variables[variable]
            elif variable in variable_defaults:
                value = _literal(variable_defaults[variable])
        elif given is not None:
            value = _literal(given)
        return argument.default_value if value is Undefined else value

    def items(
        self, parent: GraphQLNamedType | None, name: str, page: int | None, own_page: int | None
    ) -> int:
        """The most items list field `parent.name` returns per level, given the enclosing
        field's page (`page`) and its own (`own_page`)."""
        rule = None if parent is None else self._rules.get((parent.name, name))
        if rule is None:  # not a schema field (validation refuses it): count the largest page
            return self.max_page_size
        bounds = [
            bound
            for bound in (
                rule.declared,
                own_page if rule.paged else None,
                page if rule.on_page_type else None,
            )
            if bound is not None
        ]
        return min(bounds) if bounds else self.max_page_size

    def _page_size(self, value: Any) -> int:
        if value is None or value is Undefined:
            return self.default_page
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # graphql-core coerces 5.0 to the Int 5
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return min(value, self.max_page_size)
        return self.max_page_size  # refused by coercion or by page_args: no items either way


def _output_types(schema: GraphQLSchema) -> list[GraphQLObjectType | GraphQLInterfaceType]:
    return [
        t
        for t in schema.type_map.values()
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) and not is_introspection_type(t)
    ]


def _declared_max(field: GraphQLField) -> int | None:
    definition = (field.extensions or {}).get(_STRAWBERRY_FIELD)
    metadata = getattr(definition, "metadata", None) or {}
    declared = metadata.get(MAX_ITEMS_KEY)
    return declared if isinstance(declared, int) else None


def _literal(node: ValueNode) -> Any:
    """A `first` literal's value; anything but an Int or null is refused by validation."""
    if isinstance(node, NullValueNode):
        return None
    return int(node.value) if isinstance(node, IntValueNode) else _NOT_AN_INT


_NOT_AN_INT = object()
