"""The exact number of values an introspection field (`__schema`, `__type`) answers.

    introspection_cost(schema, field_node, fragments=..., variables=..., budget=5000)

An introspection answer depends only on the schema, so its cost is counted, not estimated:
the selection is walked over the schema itself with graphql-core's own introspection
resolvers, deprecated members included (a superset of any answer), counting values as the
answer will hold them (each field's value, each list item). The walk stops as soon as the
count passes `budget`, so its work is bounded by the budget whatever the query asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    introspection_types,
)

from gateway.limits.cost import list_depth

__all__ = ["IntrospectionOverBudget", "introspection_cost"]

_INCLUDE_DEPRECATED = "includeDeprecated"


class IntrospectionOverBudget(Exception):
    """Raised when an introspection field answers more than the budget allows."""


@dataclass(frozen=True, slots=True)
class _SchemaInfo:
    """What graphql-core's introspection resolvers read from their `info`: the schema."""

    schema: GraphQLSchema


def introspection_cost(
    schema: GraphQLSchema,
    node: FieldNode,
    *,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    variable_defaults: Mapping[str, ValueNode],
    budget: int,
) -> int:
    """The values root field `node` (`__schema` or `__type`) answers; IntrospectionOverBudget
    past `budget`."""
    counter = _Counter(schema, fragments, budget)
    counter.add(1)
    if node.name.value == "__schema":
        source: Any = schema
        object_type = cast(GraphQLObjectType, introspection_types["__Schema"])
    else:
        name = _type_name(node, variables, variable_defaults)
        source = schema.get_type(name) if isinstance(name, str) else None
        object_type = cast(GraphQLObjectType, introspection_types["__Type"])
    if source is not None and node.selection_set is not None:
        counter.selection(node.selection_set, source, object_type, ())
    return counter.count


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        budget: int,
    ) -> None:
        self.info = _SchemaInfo(schema)
        self.fragments = fragments
        self.budget = budget
        self.count = 0

    def add(self, values: int) -> None:
        self.count += values
        if self.count > self.budget:
            raise IntrospectionOverBudget

    def selection(
        self,
        selection_set: SelectionSetNode,
        source: Any,
        object_type: GraphQLObjectType,
        path: tuple[str, ...],
    ) -> None:
        # Type conditions are not checked: every fragment counts (validation refuses the
        # ones that do not apply), which can only add to the count.
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.field(selection, source, object_type, path)
            elif isinstance(selection, InlineFragmentNode):
                self.selection(selection.selection_set, source, object_type, path)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in path:
                    self.selection(fragment.selection_set, source, object_type, (*path, name))

    def field(
        self, node: FieldNode, source: Any, object_type: GraphQLObjectType, path: tuple[str, ...]
    ) -> None:
        self.add(1)
        definition = object_type.fields.get(node.name.value)  # None: __typename or unknown
        lists = 0 if definition is None else list_depth(definition.type)
        if definition is None or definition.resolve is None:
            return
        if node.selection_set is None and not lists:
            return  # a scalar: its one value is counted
        arguments = {_INCLUDE_DEPRECATED: True} if _INCLUDE_DEPRECATED in definition.args else {}
        value = definition.resolve(source, self.info, **arguments)
        if value is None:
            return
        child_type = get_named_type(definition.type)
        children = [*value] if lists else [value]
        if lists:
            self.add(len(children))  # introspection has no list of lists
        if node.selection_set is not None and isinstance(child_type, GraphQLObjectType):
            for child in children:
                self.selection(node.selection_set, child, child_type, path)


def _type_name(
    node: FieldNode, variables: Mapping[str, Any], variable_defaults: Mapping[str, ValueNode]
) -> Any:
    """`__type(name: ...)`'s argument, from the literal, the variables or their defaults."""
    given = next((a.value for a in node.arguments or () if a.name.value == "name"), None)
    if isinstance(given, VariableNode):
        name = given.name.value
        if name in variables:
            return variables[name]
        given = variable_defaults.get(name)
    return given.value if isinstance(given, StringValueNode) else None
