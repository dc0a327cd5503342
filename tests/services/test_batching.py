"""A nested query costs one SQL statement per level, however many rows each level has.

The rows are seeded with SQL straight into each service's schema (fast, and independent of
the mutations); the statements are counted with asyncpg's query logger on the app's pool.

That logger also reports the type introspection asyncpg runs the first time a connection
meets a parameter type (`int[]`): a per-connection cache fill, not the query's work, so it is
set aside; every other statement counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

import services
from gateway.app import create_app
from gateway.limits.rules import Limits
from tests.asgi import serve
from tests.services import GraphQL, counted
from tests.tokens import app_settings

NESTED = """
query ($first: Int, $after: String) {
  users(first: $first, after: $after) {
    nodes { id orders { nodes { id payments { nodes { amount } } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
NESTED_WITH = """
query {
  users(first: 50) {
    nodes { orders { nodes { id EXTRA payments { nodes { amount } } } } }
  }
}
"""


# These queries ask for up to 50 users x 20 orders x 20 payments: more than the default cost
# limit allows (that limit is tested in tests/gateway/test_limits.py). Batching is the subject
# here, so the app's limit (and the execution budget's value cap) is raised to let them run.
GENEROUS = Limits(max_cost=1_000_000, max_response_values=1_000_000)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a cost limit that admits these large pages."""
    settings = app_settings(database_url=database_url, max_connections=5, limits=GENEROUS)
    async with serve(create_app(settings, services.SERVICES)) as client:
        yield client


async def seed(conn: asyncpg.Connection, users: int) -> None:
    """`users` users, each with 2 orders of one line item, each order with 1 payment."""
    await conn.execute(
        "INSERT INTO users.users (email, name) "
        "SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, $1) n",
        users,
    )
    await conn.execute(
        "INSERT INTO orders.orders (user_id, total) "
        "SELECT u.id, 10 FROM users.users u CROSS JOIN generate_series(1, 2) ORDER BY u.id"
    )
    await conn.execute(
        "INSERT INTO orders.line_items (order_id, sku, quantity, unit_price) "
        "SELECT id, 'SKU-' || id, 1, 10 FROM orders.orders"
    )
    await conn.execute(
        "INSERT INTO payments.payments (order_id, amount, currency) "
        "SELECT id, 10, 'EUR' FROM orders.orders"
    )


def touching(statements: list[str], table: str) -> list[str]:
    return [query for query in statements if table in query]


async def test_nested_query_issues_one_statement_per_level(
    graphql: GraphQL, raw_connection: asyncpg.Connection
) -> None:
    await seed(raw_connection, users=50)

    data, statements = await counted(graphql, NESTED, first=50)

    users = data["users"]["nodes"]
    assert len(users) == 50
    assert all(len(user["orders"]["nodes"]) == 2 for user in users)
    assert all(
        order["payments"]["nodes"] == [{"amount": "10.00"}]
        for user in users
        for order in user["orders"]["nodes"]
    )
    assert len(statements) == 3, statements
    assert len(touching(statements, '"users".users')) == 1
    assert len(touching(statements, '"orders".orders')) == 1
    assert len(touching(statements, '"payments".payments')) == 1


@pytest.mark.parametrize(
    ("extra", "tables"),
    [
        pytest.param("items { sku }", ['"orders".line_items'], id="items"),
        pytest.param("user { email }", ['"users".users'], id="user"),
        pytest.param(
            "items { sku } user { email }", ['"orders".line_items', '"users".users'], id="both"
        ),
    ],
)
async def test_each_extra_nested_level_adds_exactly_one_statement(
    graphql: GraphQL, raw_connection: asyncpg.Connection, extra: str, tables: list[str]
) -> None:
    await seed(raw_connection, users=50)

    data, statements = await counted(graphql, NESTED_WITH.replace("EXTRA", extra))

    orders = [order for user in data["users"]["nodes"] for order in user["orders"]["nodes"]]
    assert len(orders) == 100
    if "items" in extra:
        assert all(order["items"] == [{"sku": f"SKU-{order['id']}"}] for order in orders)
    if "user" in extra:
        assert all(order["user"]["email"].endswith("@example.com") for order in orders)
    assert len(statements) == 3 + len(tables), statements
    expected = ['"users".users', '"orders".orders', '"payments".payments', *tables]
    for table in set(expected):
        assert len(touching(statements, table)) == expected.count(table), (table, statements)


async def test_every_page_of_many_users_costs_the_same_three_statements(
    graphql: GraphQL, raw_connection: asyncpg.Connection
) -> None:
    await seed(raw_connection, users=500)

    seen: list[int] = []
    counts: list[int] = []
    after = None
    while True:
        data, statements = await counted(graphql, NESTED, first=100, after=after)
        connection = data["users"]
        assert all(len(user["orders"]["nodes"]) == 2 for user in connection["nodes"])
        seen += [user["id"] for user in connection["nodes"]]
        counts.append(len(statements))
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen)) == 500
    assert counts == [3] * 5


async def test_a_raised_page_limit_serves_500_users_in_three_statements(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    settings = app_settings(database_url=database_url, max_page_size=500, limits=GENEROUS)
    async with serve(create_app(settings, services.SERVICES)) as client:
        await seed(raw_connection, users=500)

        async def post(query: str, **variables: Any) -> dict[str, Any]:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            body: dict[str, Any] = response.json()
            return body

        data, statements = await counted(post, NESTED, first=500)
        refused = await post(NESTED, first=501)
    assert len(data["users"]["nodes"]) == 500
    assert len(statements) == 3, statements
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
