"""Property: the cost estimate is never below what the gateway really answers.

Queries are generated over the real schema (any fields, `first` as a literal, a variable,
a variable's default, null or absent; inline and named fragments; aliases) and run against
a seeded database whose pages are full (the largest page is 5, there are 6 users, a user
with 5 orders, an order with 50 line items and 5 payments), so the bounds are approached.
The answer's values are counted as the estimate counts them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    parse,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import services
from gateway.app import create_app
from gateway.graphql.nodes import MAX_NODE_IDS, encode_global_id
from gateway.graphql.schema import build_schema
from gateway.limits.cost import SchemaCosts
from gateway.limits.rules import Limits, operation_cost
from tests.asgi import serve
from tests.gateway.answers import count_values
from tests.tokens import app_settings, token_for

PAGE = 5  # the largest page: with 6 users, `users` pages are full
UNLIMITED = Limits(
    max_depth=1_000,
    max_aliases=1_000,
    max_tokens=100_000,
    max_directives=1_000,
    max_cost=10**12,
    max_query_length=1_000_000,
)
SCHEMA = build_schema(services.SERVICES, max_page_size=PAGE)._schema
COSTS = SchemaCosts.of_schema(SCHEMA, max_page_size=PAGE)
NODE_TYPES = sorted(t.name for t in SCHEMA.get_possible_types(SCHEMA.get_type("Node")))
MAX_NESTING = 5  # object levels below the root: users > nodes > orders > nodes > items


async def seed(client: httpx.AsyncClient) -> None:
    """Through the public mutations: 6 users; the first with 5 orders, the first of which
    has 50 line items and 5 payments; the second user with one order and one payment."""

    async def run(query: str, **variables: Any) -> dict[str, Any]:
        body = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    create_user = "mutation ($i: CreateUserInput!) { createUser(input: $i) { id } }"
    place_order = "mutation ($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }"
    pay = "mutation ($i: RecordPaymentInput!) { recordPayment(input: $i) { id } }"
    user_ids = [
        (await run(create_user, i={"email": f"u{n}@example.com", "name": f"User {n}"}))[
            "createUser"
        ]["id"]
        for n in range(6)
    ]
    # (user, line items of each order, payments of each order)
    plan = [(user_ids[0], [50, 1, 1, 1, 1], [PAGE, 0, 0, 0, 0]), (user_ids[1], [2], [1])]
    for owner, lines_per_order, payments_per_order in plan:
        for lines, payments in zip(lines_per_order, payments_per_order, strict=True):
            items = [
                {"sku": f"SKU-{line}", "quantity": 1, "unitPrice": "10.00"} for line in range(lines)
            ]
            order = (await run(place_order, i={"userId": owner, "items": items}))["placeOrder"]
            for _ in range(payments):
                await run(pay, i={"orderId": order["id"], "amount": "1.00", "currency": "EUR"})
    # The tenant's projects: two, of 3 tasks each, assigned to the first users.
    create_project = "mutation ($i: CreateProjectInput!) { createProject(input: $i) { id } }"
    create_task = "mutation ($i: CreateTaskInput!) { createTask(input: $i) { id } }"
    for name in ("Rocket", "Anvil"):
        project = (await run(create_project, i={"name": name}))["createProject"]
        for number in range(3):
            task = {
                "projectId": project["id"],
                "title": f"T{number}",
                "assigneeId": user_ids[number],
            }
            await run(create_task, i=task)


TENANT = "acme"
ADMIN_IN_TENANT = token_for("admin", roles=["admin"], tenant=TENANT)


@pytest.fixture
async def seeded(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        app_settings(
            database_url=database_url, max_connections=5, max_page_size=PAGE, limits=UNLIMITED
        ),
        services.SERVICES,
    )
    # An admin of tenant acme: every field of the schema answers it.
    async with serve(app, token=ADMIN_IN_TENANT) as client:
        await app.state.tenancy.provision(TENANT)
        await seed(client)
        yield client


@dataclass
class _Builder:
    """Builds one document: its fragments and variables as they are drawn."""

    draw: st.DrawFn
    fragments: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    names: int = 0
    aliasing: int = 0  # inside fragments on an interface's possible types: alias every field

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def selection(self, parent: GraphQLNamedType, nesting: int) -> str:
        assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
        # Object fields three times over: deeper queries approach the bounds more often.
        choices = ["__typename"]
        for name, definition in parent.fields.items():
            if not _is_object(definition):
                choices.append(name)
            elif nesting < MAX_NESTING:
                choices.extend([name] * 3)
        picked = self.draw(st.lists(st.sampled_from(choices), min_size=1, max_size=4))
        body = " ".join(self.field(parent, name, nesting) for name in picked)
        if isinstance(parent, GraphQLInterfaceType):  # and what its possible types add
            # Aliased: two types' same-named fields of other types would conflict.
            self.aliasing += 1
            for possible in self.draw(
                st.lists(st.sampled_from(SCHEMA.get_possible_types(parent)), max_size=2)
            ):
                body += f" ... on {possible.name} {{ {self.selection(possible, nesting)} }}"
            self.aliasing -= 1
        wrap = self.draw(st.sampled_from(["plain", "inline", "bare-inline", "named"]))
        if wrap == "inline":
            return f"... on {parent.name} {{ {body} }}"
        if wrap == "bare-inline":
            return f"... {{ {body} }}"
        if wrap == "named":
            fragment = self.name("F")
            self.fragments.append(f"fragment {fragment} on {parent.name} {{ {body} }}")
            return f"...{fragment}"
        return body

    def field(self, parent: GraphQLNamedType, name: str, nesting: int) -> str:
        if name == "__typename":
            return name
        assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
        definition = parent.fields[name]
        arguments = self.arguments(definition)
        if not _is_object(definition):
            # The same scalar twice merges into one key; with arguments it needs its alias.
            aliased = arguments or self.aliasing
            return f"{self.name('a')}: {name}{arguments}" if aliased else name
        child = get_named_type(definition.type)
        inner = self.selection(child, nesting + 1)
        return f"{self.name('a')}: {name}{arguments} {{ {inner} }}"

    def arguments(self, definition: GraphQLField) -> str:
        given = []
        if "id" in definition.args:
            given.append(f"id: {self.identifier(definition.args['id'].type)}")
        if "ids" in definition.args:
            ids = self.draw(st.lists(st.just(None), min_size=0, max_size=MAX_NODE_IDS))
            global_ids = [self.identifier(GraphQLNonNull(GraphQLID)) for _ in ids]
            given.append(f"ids: [{', '.join(global_ids)}]")
        if "first" in definition.args:
            direction = self.draw(st.sampled_from(["first", "last"]))  # forward or backward
            first = self.first()
            if first is not None:
                given.append(f"{direction}: {first}")
        return f"({', '.join(given)})" if given else ""

    def identifier(self, kind: Any) -> str:
        """A row id, or for an `ID` a global id of a type that has nodes."""
        row_id = self.draw(st.integers(1, 8))
        if get_named_type(kind) is GraphQLID:
            type_name = self.draw(st.sampled_from(NODE_TYPES))
            return json.dumps(encode_global_id(type_name, row_id))
        return str(row_id)

    def first(self) -> str | None:
        """`first` as a literal, null, a variable given or not, or with a default; or absent."""
        size = self.draw(st.integers(0, PAGE))
        how = self.draw(
            st.sampled_from(["absent", "literal", "null", "variable", "default", "undefined"])
        )
        if how == "absent":
            return None
        if how == "literal":
            return str(size)
        if how == "null":
            return "null"
        variable = self.name("v")
        if how == "default":
            self.definitions.append(f"${variable}: Int = {size}")
        else:
            self.definitions.append(f"${variable}: Int")
            if how == "variable":
                self.variables[variable] = self.draw(st.sampled_from([size, None]))
        return f"${variable}"

    def document(self, body: str) -> str:
        head = f"query ({', '.join(self.definitions)})" if self.definitions else "query"
        return " ".join([f"{head} {{ {body} }}", *self.fragments])


def _is_object(definition: GraphQLField) -> bool:
    return isinstance(get_named_type(definition.type), GraphQLObjectType | GraphQLInterfaceType)


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    builder = _Builder(draw)
    assert SCHEMA.query_type is not None
    body = builder.selection(SCHEMA.query_type, 0)
    return builder.document(body), builder.variables


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    # One seeded app for every example: the queries only read.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operation=operations())
async def test_the_estimate_is_never_below_the_values_answered(
    seeded: httpx.AsyncClient, operation: tuple[str, dict[str, Any]]
) -> None:
    query, variables = operation
    response = await seeded.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"content-type": "application/json"},
    )
    body = response.json()
    assert "errors" not in body, (query, body)
    assert operation_cost(parse(query), COSTS, variables) >= count_values(body["data"]), query


async def test_full_pages_reach_the_estimate(seeded: httpx.AsyncClient) -> None:
    for query in (
        "{ users { nodes { id } pageInfo { hasNextPage } } }",
        "{ order(id: 1) { items { sku } payments { nodes { amount } } } }",
    ):
        body = (await seeded.post("/graphql", json={"query": query})).json()
        assert operation_cost(parse(query), COSTS) == count_values(body["data"]), body
