"""Operation limits, on by default: every request is measured before it runs.

    Limits(max_depth=10, max_aliases=10, ...)   # see Limits for each default and why

Checks happen in order of cost: the query's length and its token count before parsing
(graphql-core stops lexing at the limit), then depth, aliases, directives and cost on the
parsed document, before validation, so a hostile document never reaches graphql-core's
validation or any resolver. Each refusal is a GraphQL error with its own `extensions.code`.

Cost is the number of values the operation could answer: every field of every object, and
every item of every list, the way the JSON answer holds them. It is computed on the schema's
types (gateway/limits/cost.py): each list multiplies what is below it by its bound, through inline
fragments, named fragments (counted at each use, cycles cut) and aliases; introspection is
counted exactly on the schema (gateway/limits/introspection_cost.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from gateway.compat import exceeded_token_limit, token_limit_supported
from gateway.limits.cost import SchemaCosts, list_depth
from gateway.limits.introspection_cost import IntrospectionOverBudget, introspection_cost

__all__ = ["TOO_MANY_TOKENS", "Limits", "OperationLimits", "check_operation", "operation_cost"]

# The code of graphql-core's refusal of a document past `max_tokens`, set where it is refused.
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one request may ask for. GraphQL Armor's defaults are in the comments; ours are
    tighter where the README, the demo and the frontend example need less."""

    max_depth: int = 10  # Armor 6; a connection adds a `nodes` level: users>orders>payments is 6
    max_aliases: int = 10  # Armor 15
    max_tokens: int = 1000  # Armor 1000; GraphiQL's introspection query needs about 400
    max_directives: int = 20  # Armor 50
    max_cost: int = 5000  # Armor 5000; values answered, each list multiplying by its bound
    max_query_length: int = 10_000  # Armor 15,000 characters; introspection is about 3,000
    max_body_bytes: int = 100_000  # Apollo Router 2 MB; variables of a 50-item order are ~5 KB
    # The execution budget (gateway.execution.budget), for what the estimates above let through:
    max_execution_ms: int = 5000  # wall clock from the start of execution: OPERATION_TIMEOUT
    max_response_values: int = 10_000  # fields in the answer, twice max_cost: RESPONSE_TOO_LARGE
    max_response_bytes: int = 2_000_000  # the answer's JSON; 10,000 values are ~100 KB


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class OperationLimits(SchemaExtension):
    """Refuse an operation past `limits` with QUERY_TOO_LONG, TOO_MANY_TOKENS,
    QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_DIRECTIVES or QUERY_TOO_COSTLY."""

    def __init__(self, *, limits: Limits, costs: SchemaCosts) -> None:
        self.limits = limits
        self.costs = costs

    def on_operation(self) -> Iterator[None]:
        if token_limit_supported():  # else logged at startup: no token limit, length only
            self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) > self.limits.max_query_length:
            raise GraphQLError(
                f"The query has {len(query)} characters; at most "
                f"{self.limits.max_query_length} are allowed.",
                extensions={"code": "QUERY_TOO_LONG"},
            )
        yield
        # graphql-core stopped parsing at max_tokens with a plain syntax error: give that
        # refusal its own code here, where the limit is known (the error is the result's).
        for error in self.execution_context.pre_execution_errors or ():
            if isinstance(error, GraphQLSyntaxError) and exceeded_token_limit(
                error, self.limits.max_tokens
            ):
                error.extensions = {**(error.extensions or {}), "code": TOO_MANY_TOKENS}

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None:
            check_operation(
                document, limits=self.limits, costs=self.costs, variables=self._variables()
            )
        yield

    def _variables(self) -> Mapping[str, Any]:
        variables = self.execution_context.variables
        return variables if isinstance(variables, Mapping) else {}


def check_operation(
    document: DocumentNode,
    *,
    limits: Limits,
    costs: SchemaCosts,
    variables: Mapping[str, Any],
) -> int:
    """The cost of `document`'s operations; a GraphQLError with its `extensions.code`
    (QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_DIRECTIVES, QUERY_TOO_COSTLY) past a limit."""
    measure = _Measure(document, limits, costs, variables)
    try:
        measure.run()
    except _Refused as refused:
        raise GraphQLError(str(refused), extensions={"code": refused.code}) from None
    return measure.cost


def operation_cost(
    document: DocumentNode, costs: SchemaCosts, variables: Mapping[str, Any] | None = None
) -> int:
    """The most values `document`'s operations could answer, as OperationLimits counts them
    (no limit applied: for tests and tools, on documents of a known size)."""
    unlimited = Limits(max_depth=2**62, max_aliases=2**62, max_directives=2**62, max_cost=2**62)
    measure = _Measure(document, unlimited, costs, variables or {})
    measure.run()
    return measure.cost


_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass(slots=True)
class _Tally:
    """What a walk has counted: values, fields walked, aliases, directives, deepest level."""

    cost: int = 0
    visits: int = 0
    aliases: int = 0
    directives: int = 0
    deepest: int = 0


class _Measure:
    """One walk over the operation with the parent type known, cycles cut short. `cost`
    counts values; `visits` counts the fields walked, so the walk itself stays bounded
    where lists of 0 items make the cost small.

    A named fragment is walked once per operation, parent type and page: what it counts
    for one parent object is kept and scaled at each use, so nesting fragments (a fragment
    bomb) costs their number, not the number of their expansions.
    """

    def __init__(
        self,
        document: DocumentNode,
        limits: Limits,
        costs: SchemaCosts,
        variables: Mapping[str, Any],
    ) -> None:
        self.limits = limits
        self.costs = costs
        self.schema = costs.schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self.variable_defaults: dict[str, ValueNode] = {}
        self.tally = _Tally()
        self.spreads: dict[tuple[str, str | None, int | None, bool], _Tally] = {}

    @property
    def cost(self) -> int:
        """The values counted so far (all of them once `run` returns)."""
        return self.tally.cost

    def run(self) -> None:
        for operation in self.operations:
            self._count_directives(len(operation.directives or ()))
            self.variable_defaults = {
                v.variable.name.value: v.default_value
                for v in operation.variable_definitions or ()
                if v.default_value is not None
            }
            self.spreads = {}  # a fragment's count depends on the operation's variables
            root = self.schema.get_root_type(operation.operation)
            self._selection(operation.selection_set, root, None, 0, 1, ())

    def _selection(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        page: int | None,
        depth: int | None,
        multiplier: int,
        path: tuple[str, ...],
    ) -> None:
        """`page`: the `first` of the field that returned `parent` (a connection's page)."""
        for selection in selection_set.selections:
            self._count_directives(len(selection.directives or ()))
            if isinstance(selection, FieldNode):
                self._field(selection, parent, page, depth, multiplier, path)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = parent if condition is None else self._type(condition.name.value)
                self._selection(selection.selection_set, inner, page, depth, multiplier, path)
            elif isinstance(selection, FragmentSpreadNode):
                self._spread(selection.name.value, page, depth, multiplier, path)

    def _spread(
        self,
        name: str,
        page: int | None,
        depth: int | None,
        multiplier: int,
        path: tuple[str, ...],
    ) -> None:
        fragment = self.fragments.get(name)
        if fragment is None or name in path:
            return  # unknown fragments and cycles are validation's to report
        inner = self._type(fragment.type_condition.name.value)
        key = (name, None if inner is None else inner.name, page, depth is None)
        once = self.spreads.get(key)
        if once is None:
            # Walked for one parent object from depth 0, in a tally of its own; inside
            # introspection (depth None), counted on the schema already, for its shape only.
            outer, self.tally = self.tally, _Tally()
            try:
                self._count_directives(len(fragment.directives or ()))
                self._selection(
                    fragment.selection_set,
                    inner,
                    page,
                    None if depth is None else 0,
                    0 if depth is None else 1,
                    (*path, name),
                )
            finally:
                once, self.tally = self.tally, outer
            self.spreads[key] = once
        self.tally.visits += 1
        self.tally.aliases += once.aliases
        self._check_aliases()
        self._count_directives(once.directives)
        if depth is not None:
            self._reach(depth + once.deepest)
        self._add(multiplier * once.cost, f"...{name}")

    def _field(
        self,
        field: FieldNode,
        parent: GraphQLNamedType | None,
        page: int | None,
        depth: int | None,
        multiplier: int,
        path: tuple[str, ...],
    ) -> None:
        """`depth` None: inside introspection (`__schema`, `__type`), which is counted on
        the schema; its nesting (ofType { ofType ... }) is not counted against max_depth."""
        if field.alias is not None:
            self.tally.aliases += 1
            self._check_aliases()
        self.tally.visits += 1
        name = field.name.value
        if (
            depth is not None
            and name in _INTROSPECTION_ROOTS
            and parent is not None
            and parent is self.schema.query_type
        ):
            self._add(self._introspection(field), name)
            depth, multiplier, child, child_page = None, 0, None, None  # counted already
        else:
            definition = _fields_of(parent).get(name)
            child = None if definition is None else get_named_type(definition.type)
            child_page = (
                None
                if definition is None
                else self.costs.page_of(definition, field, self.variables, self.variable_defaults)
            )
            at = name if parent is None else f"{parent.name}.{name}"
            self._add(multiplier, at)  # the field's value in each parent object
            for _ in range(0 if definition is None else list_depth(definition.type)):
                multiplier *= self.costs.items(parent, name, page, child_page)
                self._add(multiplier, at)  # the list's items
        if field.selection_set is None:
            return
        if depth is not None and name.startswith("__"):
            depth = None
        elif depth is not None:
            depth += 1
            self._reach(depth)
        self._selection(field.selection_set, child, child_page, depth, multiplier, path)

    def _introspection(self, field: FieldNode) -> int:
        try:
            return introspection_cost(
                self.schema,
                field,
                fragments=self.fragments,
                variables=self.variables,
                variable_defaults=self.variable_defaults,
                budget=self.limits.max_cost - self.tally.cost,
            )
        except IntrospectionOverBudget:
            raise self._too_costly(
                field.name.value, "introspect less (fewer nested `fields`/`type` levels)"
            ) from None

    def _reach(self, depth: int) -> None:
        self.tally.deepest = max(self.tally.deepest, depth)
        if depth > self.limits.max_depth:
            raise _Refused(
                "QUERY_TOO_DEEP",
                f"The operation nests deeper than {self.limits.max_depth} levels.",
            )

    def _check_aliases(self) -> None:
        if self.tally.aliases > self.limits.max_aliases:
            raise _Refused(
                "TOO_MANY_ALIASES",
                f"The operation uses more than {self.limits.max_aliases} aliases.",
            )

    def _add(self, values: int, at: str) -> None:
        """Count `values` more, answered by `at` (Type.field, a fragment or __schema)."""
        self.tally.cost += values
        if self.tally.cost > self.limits.max_cost or self.tally.visits > self.limits.max_cost:
            raise self._too_costly(
                at, "ask for smaller pages (`first`), fewer nested lists or fewer fields"
            )

    def _too_costly(self, at: str, advice: str) -> _Refused:
        return _Refused(
            "QUERY_TOO_COSTLY",
            f"The operation could return more than {self.limits.max_cost} values (every "
            "field of every object, lists multiplied by their page size or maximum); the "
            f"limit was passed at {at}: {advice}.",
        )

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name)

    def _count_directives(self, count: int) -> None:
        self.tally.directives += count
        if self.tally.directives > self.limits.max_directives:
            raise _Refused(
                "TOO_MANY_DIRECTIVES",
                f"The operation uses more than {self.limits.max_directives} directives.",
            )


def _fields_of(parent: GraphQLNamedType | None) -> Mapping[str, GraphQLField]:
    """An object's or interface's fields; none for anything else (a union's only field,
    __typename, and fields validation will refuse count as one value each, not lists)."""
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        fields: Mapping[str, GraphQLField] = parent.fields
        return fields
    return {}
