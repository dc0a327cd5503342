"""deduplicate_selections drops exact repeats only, and answers stay what graphql-core gives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import ExecutionResult, execute, parse, print_ast
from graphql.pyutils import is_awaitable

import services
from gateway.graphql.context import Context
from gateway.graphql.schema import build_schema
from gateway.limits.selection_dedup import deduplicate_selections
from tests.asgi import serve
from tests.gateway.serving import app_for
from tests.tokens import ADMIN_VIEWER


def deduplicated(query: str) -> str:
    return print_ast(deduplicate_selections(parse(query)))


def test_a_repeated_typename_is_kept_once() -> None:
    query = "{ " + "__typename " * 480 + "}"
    assert deduplicated(query) == "{\n  __typename\n}"


def test_only_exact_repeats_are_dropped() -> None:
    query = """
    {
      user(id: 1) { id name }
      user(id: 1) { id name }
      user(id: 1) { name id }
      user(id: 2) { id name }
      me: user(id: 1) { id name }
      user(id: 1) @include(if: true) { id name }
      ... on Query { __typename }
      ... on Query { __typename }
      ... @skip(if: false) { __typename }
      ...F
      ...F
    }
    fragment F on Query { __typename __typename }
    """
    assert deduplicated(query) == print_ast(
        parse("""
        {
          user(id: 1) { id name }
          user(id: 1) { name id }
          user(id: 2) { id name }
          me: user(id: 1) { id name }
          user(id: 1) @include(if: true) { id name }
          ... on Query { __typename }
          ... @skip(if: false) { __typename }
          ...F
        }
        fragment F on Query { __typename }
        """)
    )


def test_repeats_are_found_inside_nested_selections_and_fragments() -> None:
    query = """
    {
      users(first: 1) { nodes { id id orders { nodes { total total } } } }
      users(first: 1) { nodes { id orders { nodes { total } } } }
    }
    """
    assert deduplicated(query) == print_ast(
        parse("{ users(first: 1) { nodes { id orders { nodes { total } } } } }")
    )


def test_a_document_without_repeats_is_returned_as_it_is() -> None:
    document = parse("{ users(first: 1) { nodes { id name } } user(id: 1) { id } }")
    assert deduplicate_selections(document) is document


async def seed(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO users.users (email, name) "
        "SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, 3) n"
    )
    await conn.execute(
        "INSERT INTO orders.orders (user_id, total) "
        "SELECT u.id, 10 * s FROM users.users u CROSS JOIN generate_series(1, 2) s"
    )
    await conn.execute(
        "INSERT INTO payments.payments (order_id, amount, currency) "
        "SELECT id, 10, 'EUR' FROM orders.orders"
    )


# Documents with repeats of every kind, answered by the gateway (which deduplicates them)
# and by graphql-core's own executor on the document as sent.
REPEATING_DOCUMENTS = [
    "{ " + "__typename " * 300 + "}",
    "{ users(first: 2) { nodes { name name email name } } users(first: 2) { nodes { name } } }",
    """{
      users(first: 3) {
        nodes { __typename id __typename orders(first: 2) { nodes { total __typename total } } }
        nodes { id orders(first: 2) { nodes { total payments { nodes { amount } } } } }
        nodes { id orders(first: 2) { nodes { total payments { nodes { amount } } } } }
        pageInfo { hasNextPage } pageInfo { hasNextPage }
      }
    }""",
    """query Q($skip: Boolean = true) {
      user(id: 1) { ...U ...U ... on User { email } ... on User { email } }
      user(id: 1) { ...U name @skip(if: $skip) name @skip(if: $skip) }
      order(id: 2) { id total id user { name } user { name } }
    }
    fragment U on User { id name id orders(first: 1) { nodes { id } } }""",
    "{ user(id: 99) { id id } user(id: 99) { id } users(first: 0) { nodes { id } } }",
]


@pytest.fixture
async def client_and_reference(
    database_url: str, raw_connection: asyncpg.Connection
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = app_for(database_url)
    reference = build_schema(services.SERVICES, planned_execution=False)
    async with serve(app) as client:
        await seed(raw_connection)

        async def answer(query: str) -> dict[str, Any]:
            context = Context(app.state.managers_by_loader_set, viewer=ADMIN_VIEWER)
            result = execute(reference._schema, parse(query), context_value=context)
            done = await result if is_awaitable(result) else result
            assert isinstance(done, ExecutionResult)
            return {"data": done.data} if not done.errors else done.formatted

        yield client, answer


@pytest.mark.parametrize("query", REPEATING_DOCUMENTS)
async def test_answers_with_repeats_are_graphql_cores_answers(
    client_and_reference: tuple[httpx.AsyncClient, Any], query: str
) -> None:
    client, reference = client_and_reference
    response = await client.post("/graphql", json={"query": query})

    expected = await reference(query)
    assert response.status_code == 200
    assert json.dumps(response.json()) == json.dumps(expected)  # key order included
    assert response.json()["data"] is not None
