"""Operation limits, on by default: every request is measured before it runs.

    Limits(max_depth=10, max_aliases=10, ...)   # see Limits for each default and why

Checks happen in order of cost: the query's length and its token count before parsing
(graphql-core stops lexing at the limit), then depth, aliases, directives and cost on the
parsed document, before validation, so a hostile document never reaches graphql-core's
validation or any resolver. Each refusal is a GraphQL error with its own `extensions.code`.
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
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from gateway.pagination import DEFAULT_PAGE_SIZE

__all__ = ["TOKEN_LIMIT_MESSAGE", "Limits", "OperationLimits"]

# graphql-core's message when parse(max_tokens=...) gives up; error_codes maps it to a code.
TOKEN_LIMIT_MESSAGE = "tokens. Parsing aborted."


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one request may ask for. GraphQL Armor's defaults are in the comments; ours are
    tighter where the README, the demo and the frontend example need less."""

    max_depth: int = 10  # Armor 6; a connection adds a `nodes` level: users>orders>payments is 6
    max_aliases: int = 10  # Armor 15
    max_tokens: int = 1000  # Armor 1000; GraphiQL's introspection query needs about 400
    max_directives: int = 20  # Armor 50
    max_cost: int = 5000  # Armor 5000; a list field multiplies its selection by its page size
    max_query_length: int = 10_000  # Armor 15,000 characters; introspection is about 3,000
    max_body_bytes: int = 100_000  # Apollo Router 2 MB; variables of a 50-item order are ~5 KB
    # The execution budget (gateway.budget), for what the estimates above let through:
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

    def __init__(self, *, limits: Limits, max_page_size: int) -> None:
        self.limits = limits
        self.default_page = min(DEFAULT_PAGE_SIZE, max_page_size)

    def on_operation(self) -> Iterator[None]:
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

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None:
            try:
                _Measure(document, self.limits, self.default_page, self._variables()).run()
            except _Refused as refused:
                raise GraphQLError(str(refused), extensions={"code": refused.code}) from None
        yield

    def _variables(self) -> Mapping[str, Any]:
        variables = self.execution_context.variables
        return variables if isinstance(variables, Mapping) else {}


class _Measure:
    """One walk over the operation, fragments expanded once per use, cycles cut short."""

    def __init__(
        self,
        document: DocumentNode,
        limits: Limits,
        default_page: int,
        variables: Mapping[str, Any],
    ) -> None:
        self.limits = limits
        self.default_page = default_page
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self.aliases = 0
        self.directives = 0
        self.cost = 0

    def run(self) -> None:
        for operation in self.operations:
            self._count_directives(len(operation.directives or ()))
            self._selection(operation.selection_set, 0, 1, ())

    def _selection(
        self,
        selection_set: SelectionSetNode,
        depth: int | None,
        multiplier: int,
        path: tuple[str, ...],
    ) -> None:
        for selection in selection_set.selections:
            self._count_directives(len(selection.directives or ()))
            if isinstance(selection, FieldNode):
                self._field(selection, depth, multiplier, path)
            elif isinstance(selection, InlineFragmentNode):
                self._selection(selection.selection_set, depth, multiplier, path)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in path:
                    continue  # unknown fragments and cycles are validation's to report
                self._count_directives(len(fragment.directives or ()))
                self._selection(fragment.selection_set, depth, multiplier, (*path, name))

    def _field(
        self, field: FieldNode, depth: int | None, multiplier: int, path: tuple[str, ...]
    ) -> None:
        """`depth` None: inside introspection (`__schema`, `__type`), which the schema
        bounds; its nesting (ofType { ofType ... }) is not counted against max_depth."""
        if field.alias is not None:
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise _Refused(
                    "TOO_MANY_ALIASES",
                    f"The operation uses more than {self.limits.max_aliases} aliases.",
                )
        self.cost += multiplier
        if self.cost > self.limits.max_cost:
            raise _Refused(
                "QUERY_TOO_COSTLY",
                f"The operation could return more than {self.limits.max_cost} fields; ask "
                "for smaller pages (`first`) or fewer nested lists.",
            )
        if field.selection_set is None:
            return
        if depth is not None and field.name.value.startswith("__"):
            depth = None
        elif depth is not None:
            depth += 1
            if depth > self.limits.max_depth:
                raise _Refused(
                    "QUERY_TOO_DEEP",
                    f"The operation nests deeper than {self.limits.max_depth} levels.",
                )
        self._selection(field.selection_set, depth, multiplier * self._page(field), path)

    def _page(self, field: FieldNode) -> int:
        """A list field's page size (`first`), the multiplier for everything below it."""
        for argument in field.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 1)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return max(given, 1) if isinstance(given, int) else self.default_page
        return self.default_page if self._is_list_field(field) else 1

    @staticmethod
    def _is_list_field(field: FieldNode) -> bool:
        # A field with `first` in the schema but not in the query gets the default page size;
        # without type information here, a `nodes` child is the connection's signature.
        return field.selection_set is not None and any(
            isinstance(s, FieldNode) and s.name.value == "nodes"
            for s in field.selection_set.selections
        )

    def _count_directives(self, count: int) -> None:
        self.directives += count
        if self.directives > self.limits.max_directives:
            raise _Refused(
                "TOO_MANY_DIRECTIVES",
                f"The operation uses more than {self.limits.max_directives} directives.",
            )
