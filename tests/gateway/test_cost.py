"""The cost of an operation, computed on the schema's types (gateway/limits/cost.py, the walk
in gateway/limits/rules.py, introspection in gateway/limits/introspection_cost.py): list bounds
checked at build, `first` read as resolvers read it, fragments costing what their fields cost, and
introspection counted exactly."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import strawberry
from graphql import GraphQLError, get_introspection_query, graphql_sync, parse

import services
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.schema import build_schema
from gateway.graphql.service import Service
from gateway.limits.cost import SchemaCosts, max_items
from gateway.limits.rules import Limits, check_operation, operation_cost
from tests.gateway.answers import count_values


@strawberry.type
class Shelf:
    @strawberry.field(metadata=max_items(3))
    def books(self) -> list[str]:
        return ["a", "b", "c"]

    @strawberry.field
    def pages(self, first: int | None = 4) -> list[int]:
        return list(range(first or 0))


@strawberry.type
class ShelfQuery:
    @strawberry.field
    def shelf(self) -> Shelf:
        return Shelf()


@strawberry.type
class Crate:
    @strawberry.field
    def labels(self) -> list[str]:
        return []


@strawberry.type
class CrateQuery:
    @strawberry.field
    def crate(self) -> Crate:
        return Crate()


@strawberry.type
class LoosePage:
    nodes: list[int]


@strawberry.type
class LoosePageQuery:
    @strawberry.field
    def paged(self, first: int | None = None) -> LoosePage:
        return LoosePage(nodes=[])

    @strawberry.field
    def unpaged(self) -> LoosePage:
        return LoosePage(nodes=[])


@strawberry.type
class Tag:
    name: str


@strawberry.type
class TagOrPageQuery:
    @strawberry.field
    def paged(self, first: int | None = None) -> LoosePage:
        return LoosePage(nodes=[])

    @strawberry.field
    def either(self) -> Annotated[Tag | LoosePage, strawberry.union("TagOrPage")]:
        return Tag(name="t")


def costs_of(*service_list: Service, max_page_size: int = 100) -> SchemaCosts:
    schema = build_schema(list(service_list), max_page_size=max_page_size)
    return SchemaCosts.of_schema(schema._schema, max_page_size=max_page_size)


SERVICE_COSTS = costs_of(*services.SERVICES)


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    return operation_cost(parse(query), SERVICE_COSTS, variables)


def test_a_list_field_without_a_bound_fails_the_build_saying_what_to_declare() -> None:
    with pytest.raises(ServiceConfigurationError, match=r"Crate\.labels has no bound.*max_items"):
        build_schema([Service(name="crates", query=CrateQuery)])


def test_a_page_type_also_returned_without_first_leaves_its_lists_unbounded() -> None:
    with pytest.raises(ServiceConfigurationError, match=r"LoosePage\.nodes has no bound"):
        build_schema([Service(name="loose", query=LoosePageQuery)])


def test_a_page_type_also_returned_through_a_union_leaves_its_lists_unbounded() -> None:
    with pytest.raises(ServiceConfigurationError, match=r"LoosePage\.nodes has no bound"):
        build_schema([Service(name="loose", query=TagOrPageQuery)])


def test_a_declared_maximum_and_an_argument_default_bound_their_lists() -> None:
    costs = costs_of(Service(name="shelves", query=ShelfQuery))
    # shelf 1, books 1 + 3 items; pages 1 + 4 items (first's default)
    assert operation_cost(parse("{ shelf { books pages } }"), costs) == 10
    assert operation_cost(parse("{ shelf { pages(first: 2) } }"), costs) == 4


@pytest.mark.parametrize(
    ("query", "variables", "page"),
    [
        pytest.param("{ users(first: 7) { nodes { id } } }", None, 7, id="literal"),
        pytest.param("{ users(first: null) { nodes { id } } }", None, 20, id="null-is-default"),
        pytest.param("{ users { nodes { id } } }", None, 20, id="argument-default"),
        pytest.param(
            "query ($n: Int) { users(first: $n) { nodes { id } } }", {"n": 9}, 9, id="var"
        ),
        pytest.param(
            "query ($n: Int = 30) { users(first: $n) { nodes { id } } }", None, 30, id="var-default"
        ),
        pytest.param(
            "query ($n: Int = 30) { users(first: $n) { nodes { id } } }",
            {"n": None},
            20,
            id="var-null-over-its-default",
        ),
        pytest.param(
            "query ($n: Int) { users(first: $n) { nodes { id } } }", None, 20, id="var-missing"
        ),
        pytest.param(
            "query ($n: Int) { users(first: $n) { nodes { id } } }", {"n": 40.0}, 40, id="float"
        ),
        pytest.param("{ users(first: 5000) { nodes { id } } }", None, 100, id="past-the-max"),
        pytest.param(
            "query ($n: Int) { users(first: $n) { nodes { id } } }", {"n": "x"}, 100, id="junk"
        ),
    ],
)
def test_first_is_read_as_the_resolver_reads_it(
    query: str, variables: dict[str, Any] | None, page: int
) -> None:
    assert cost(query, variables) == 2 + 2 * page  # users, nodes; each node and its id


def test_fragments_and_aliases_cost_what_the_same_fields_cost_written_out() -> None:
    plain = "{ users { nodes { orders { nodes { items { sku } } } } } }"
    spelled = (
        "{ users { ... on UserConnection { ...U } } } "
        "fragment U on UserConnection { nodes { orders { ...O } } } "
        "fragment O on OrderConnection { nodes { ... { items { sku } } } }"
    )
    assert cost(spelled) == cost(plain) == 1 + 1 + 20 + 20 + 20 + 400 * (1 + 1 + 50 + 50)
    assert cost("{ a: users { nodes { id } } b: users { nodes { id } } }") == 2 * cost(
        "{ users { nodes { id } } }"
    )


def test_the_readmes_costly_example_costs_about_forty_thousand() -> None:
    query = "{ users(first: 50) { nodes { orders { nodes { payments { nodes { amount } } } } } } }"
    assert cost(query) == 43_152


def test_introspection_is_counted_exactly_on_the_schema() -> None:
    schema = build_schema(services.SERVICES)._schema
    for query in (
        get_introspection_query(descriptions=True, input_value_deprecation=True),
        '{ __type(name: "Order") { name fields { name type { kind ofType { name } } } } }',
        "{ __schema { types { name fields { type { ofType { name fields { name } } } } } } }",
    ):
        answer = graphql_sync(schema, query)
        assert answer.errors is None
        assert cost(query) == count_values(answer.data)


def test_an_unknown_type_in_introspection_counts_one_null() -> None:
    assert cost('{ __type(name: "Nope") { name fields { name } } }') == 1


def refusal(query: str, limits: Limits | None = None) -> str | None:
    """The code check_operation refuses `query` with under `limits`, or None."""
    try:
        check_operation(parse(query), limits=limits or Limits(), costs=SERVICE_COSTS, variables={})
    except GraphQLError as error:
        return str((error.extensions or {})["code"])
    return None


def bomb(body: str, levels: int) -> str:
    """Fragments F0..F<levels>, each using the next twice: 2**levels expansions."""
    fragments = " ".join(
        f"fragment F{n} on User {{ {body} ...F{n + 1} ...F{n + 1} }}" for n in range(levels)
    )
    return f"{{ user(id: 1) {{ ...F0 }} }} {fragments} fragment F{levels} on User {{ id }}"


def test_fragments_walked_once_still_count_aliases_and_directives_at_each_use() -> None:
    assert refusal(bomb("a: email", 4)) == "TOO_MANY_ALIASES"  # 15 aliases
    assert refusal(bomb("email @include(if: true)", 5)) == "TOO_MANY_DIRECTIVES"  # 31
    assert refusal(bomb("email", 40)) == "QUERY_TOO_COSTLY"  # 2**40 expansions, 41 walks
    assert refusal(bomb("email", 3)) is None


def test_depth_through_fragments_counts_where_they_are_used() -> None:
    fragment = "fragment O on User { orders { nodes { user { email } } } }"
    shallow = "{ user(id: 1) { ...O } } " + fragment
    deep = "{ user(id: 1) { orders { nodes { user { ...O } } } } } " + fragment
    assert refusal(shallow, Limits(max_depth=4)) is None
    assert refusal(deep, Limits(max_depth=4)) == "QUERY_TOO_DEEP"


def test_a_costly_refusal_says_where_the_limit_was_passed_and_what_to_do() -> None:
    query = "{ users(first: 50) { nodes { orders { nodes { items { sku } } } } } }"
    with pytest.raises(GraphQLError) as refused:
        check_operation(parse(query), limits=Limits(), costs=SERVICE_COSTS, variables={})
    assert "more than 5000 values" in refused.value.message
    assert "passed at Order.items" in refused.value.message
    assert "smaller pages (`first`)" in refused.value.message
