"""The execution budget (gateway/execution/budget.py), over the real app in-process on a real
PostgreSQL.

Each test asks for what an attacker would: a query that waits past the deadline, an answer
past the value or byte cap, a second mutation field after the deadline; and checks the
coded answer, and that a started mutation is never cut short. Each request has a deadline
of its own (REQUEST_DEADLINE, asyncio.timeout: httpx's timeouts do not apply in-process):
without the budget the slow ones outlive it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import strawberry

from gateway.app import create_app
from gateway.db import count_statements
from gateway.execution.budget import (
    YIELD_EVERY,
    ExecutionBudget,
    OperationTimeout,
    ResponseTooLarge,
)
from gateway.execution.budgeted import BudgetedExecutor, missing_executor_methods
from gateway.limits.rules import Limits
from gateway.settings import Settings
from tests.asgi import serve
from tests.faults.support import SLEEPING_STATEMENTS, count, wait_until
from tests.gateway.extra_service.app import SERVICES
from tests.gateway.serving import migrations_with_reviews, sample, scrape
from tests.services import is_asyncpg_introspection
from tests.tokens import app_settings

SLOW_COUNT = "query ($seconds: Float!) { slowReviewCount(seconds: $seconds) }"
# __schema sends the operation down graphql-core's own path (the planned executor's fallback).
SLOW_COUNT_ON_GRAPHQL_CORE = """
query ($seconds: Float!) { __schema { queryType { name } } slowReviewCount(seconds: $seconds) }
"""
ADD_USER = 'mutation { createUser(input: {email: "ada@example.com", name: "Ada"}) { id } }'
ADD_REVIEW_SLOWLY = """
mutation ($userId: Int!, $seconds: Float!) {
  addReviewSlowly(input: {userId: $userId, sku: "SKU-1", rating: 5, body: "Fine."},
                  seconds: $seconds) { id sku }
}
"""
TWO_SLOW_REVIEWS = """
mutation ($userId: Int!, $seconds: Float!) {
  first: addReviewSlowly(input: {userId: $userId, sku: "SKU-1", rating: 5, body: "Fine."},
                         seconds: $seconds) { id }
  second: addReviewSlowly(input: {userId: $userId, sku: "SKU-2", rating: 4, body: "Good."},
                          seconds: $seconds) { id }
}
"""
NESTED = """
{ users(first: 20) { nodes { name orders(first: 20) { nodes { total status
    payments(first: 20) { nodes { amount currency } } } } } } }
"""
REQUEST_DEADLINE = 2.0  # seconds; the slow statements below sleep for longer


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """The test services' migrations: the real ones, reviews', and an empty one for slow."""
    root = migrations_with_reviews(tmp_path)
    (root / "slow").mkdir()
    return root


@asynccontextmanager
async def running(
    database_url: str, migrations: Path, **limits: int
) -> AsyncIterator[httpx.AsyncClient]:
    settings = app_settings(
        database_url=database_url,
        migrations_dir=migrations,
        min_connections=1,
        max_connections=4,
        limits=Limits(max_cost=1_000_000_000, **limits),  # past the estimate: the budget holds
    )
    async with serve(create_app(settings, SERVICES)) as client:
        yield client


async def post(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    async with asyncio.timeout(REQUEST_DEADLINE):
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", ())]


async def seed(conn: asyncpg.Connection, users: int, orders: int, payments: int) -> None:
    """`users` users with `orders` orders each, each with `payments` payments."""
    await conn.execute(
        "INSERT INTO users.users (email, name) "
        "SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, $1) n",
        users,
    )
    await conn.execute(
        "INSERT INTO orders.orders (user_id, total) "
        "SELECT u.id, 10 FROM users.users u CROSS JOIN generate_series(1, $1)",
        orders,
    )
    await conn.execute(
        "INSERT INTO payments.payments (order_id, amount, currency) "
        "SELECT o.id, 10, 'EUR' FROM orders.orders o CROSS JOIN generate_series(1, $1)",
        payments,
    )


@pytest.mark.parametrize("query", [SLOW_COUNT, SLOW_COUNT_ON_GRAPHQL_CORE])
async def test_a_query_waiting_past_the_deadline_is_answered_operation_timeout(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection, query: str
) -> None:
    async with running(database_url, migrations, max_execution_ms=200) as client:
        slow = await post(client, query, seconds=30)  # within REQUEST_DEADLINE, or fail

        async def cancelled() -> bool:  # the statement itself, not only the answer
            return await count(raw_connection, SLEEPING_STATEMENTS) == 0

        await wait_until(cancelled, "the sleeping statement's cancellation")
        after = await post(client, SLOW_COUNT, seconds=0)

    assert codes(slow) == ["OPERATION_TIMEOUT"]
    assert slow["data"] is None
    assert "200 ms" in slow["errors"][0]["message"]
    assert after == {"data": {"slowReviewCount": 0}}  # the cancelled statement freed its connection


async def test_a_started_mutation_runs_to_its_end_past_the_deadline(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    async with running(database_url, migrations, max_execution_ms=100) as client:
        user_id = (await post(client, ADD_USER))["data"]["createUser"]["id"]
        body = await post(client, ADD_REVIEW_SLOWLY, userId=user_id, seconds=0.5)

    assert body == {
        "data": {"addReviewSlowly": {"id": body["data"]["addReviewSlowly"]["id"], "sku": "SKU-1"}}
    }
    assert await raw_connection.fetchval("SELECT count(*) FROM reviews.reviews") == 1


async def test_a_mutation_field_due_after_the_deadline_does_not_start_and_the_answer_says_so(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    async with running(database_url, migrations, max_execution_ms=200) as client:
        user_id = (await post(client, ADD_USER))["data"]["createUser"]["id"]
        body = await post(client, TWO_SLOW_REVIEWS, userId=user_id, seconds=0.5)

    assert codes(body) == ["OPERATION_TIMEOUT"]
    message = body["errors"][0]["message"]
    assert "before `second` started" in message
    assert "`first` ran to the end; their changes are made" in message
    skus = await raw_connection.fetch("SELECT sku FROM reviews.reviews")
    assert [row["sku"] for row in skus] == ["SKU-1"]


async def test_a_mutation_whose_answer_is_too_large_says_its_changes_are_made(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    place_order = """
    mutation ($userId: Int!) {
      placeOrder(input: {userId: $userId, items: [{sku: "A", quantity: 1, unitPrice: "1.00"}]}) {
        id user { orders { nodes { id } } }
      }
    }
    """
    async with running(database_url, migrations, max_response_values=5) as client:
        user_id = (await post(client, ADD_USER))["data"]["createUser"]["id"]
        body = await post(client, place_order, userId=user_id)

    assert codes(body) == ["RESPONSE_TOO_LARGE"]
    assert "The mutation ran and its changes are made" in body["errors"][0]["message"]
    assert await raw_connection.fetchval("SELECT count(*) FROM orders.orders") == 1


@pytest.mark.parametrize("on_graphql_core", [False, True])
async def test_an_answer_past_the_value_cap_is_answered_response_too_large(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection, on_graphql_core: bool
) -> None:
    query = NESTED.replace("{ users", "{ __schema { queryType { name } } users", 1)
    async with running(database_url, migrations, max_response_values=500) as client:
        await seed(raw_connection, users=10, orders=10, payments=5)  # 1,121 values
        body = await post(client, query if on_graphql_core else NESTED)

    assert codes(body) == ["RESPONSE_TOO_LARGE"]
    assert body["data"] is None
    assert "more than 500 values" in body["errors"][0]["message"]


async def test_rows_that_cannot_fit_the_value_cap_are_refused_before_their_level_completes(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    # 20 users' 200 orders fit in the cap; their 4,000 payments cannot.
    async with running(database_url, migrations, max_response_values=1_000) as client:
        await seed(raw_connection, users=20, orders=10, payments=20)
        query = "{ users(first: 20) { nodes { orders { nodes { payments { nodes { id } } } } } } }"
        body = await post(client, query)

    assert codes(body) == ["RESPONSE_TOO_LARGE"]
    assert body["data"] is None


async def test_an_answer_past_the_byte_cap_is_answered_response_too_large(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    async with running(database_url, migrations, max_response_bytes=2_000) as client:
        await seed(raw_connection, users=20, orders=2, payments=1)
        small = await client.post(
            "/graphql", json={"query": "{ users(first: 2) { nodes { name } } }"}
        )
        large = await client.post("/graphql", json={"query": NESTED})
        metrics = await scrape(client)

    assert small.json() == {"data": {"users": {"nodes": [{"name": "User 1"}, {"name": "User 2"}]}}}
    assert large.status_code == 200
    assert len(large.content) < 2_000
    assert codes(large.json()) == ["RESPONSE_TOO_LARGE"]
    assert large.json()["data"] is None
    # Counted (and logged) with the code the client got.
    assert sample(metrics, "gateway_graphql_errors_total", code="RESPONSE_TOO_LARGE") == 1


async def test_a_normal_query_is_answered_in_full_with_the_same_statements(
    database_url: str, migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    async with running(database_url, migrations) as client:  # the default budget
        await seed(raw_connection, users=20, orders=5, payments=2)
        await post(client, NESTED)  # warm the caches
        with count_statements() as statements:
            body = await post(client, NESTED)

    assert "errors" not in body
    users = body["data"]["users"]["nodes"]
    assert len(users) == 20
    assert all(len(user["orders"]["nodes"]) == 5 for user in users)
    assert all(
        order["payments"]["nodes"] == [{"amount": "10.00", "currency": "EUR"}] * 2
        for user in users
        for order in user["orders"]["nodes"]
    )
    # one per level, as without the budget; asyncpg's type lookup is per connection, and a
    # loaded machine may hand this request a connection the first one did not warm
    request_statements = [q for q in statements.queries if not is_asyncpg_introspection(q)]
    assert len(request_statements) == 3, request_statements


def test_the_budget_is_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_MAX_EXECUTION_MS": "250",
            "GATEWAY_MAX_RESPONSE_VALUES": "300",
            "GATEWAY_MAX_RESPONSE_BYTES": "4000",
        }
    )
    limits = settings.limits
    assert (limits.max_execution_ms, limits.max_response_values) == (250, 300)
    assert limits.max_response_bytes == 4000
    assert Limits().max_execution_ms == 5000


def test_the_budget_checks_the_clock_and_the_cap_only_at_checkpoints() -> None:
    budget = ExecutionBudget(max_execution_ms=0, max_values=3 * YIELD_EVERY)
    assert budget.spend(YIELD_EVERY - 1) is False  # no checkpoint yet: the clock is not read
    with pytest.raises(OperationTimeout):
        budget.spend(1)
    with pytest.raises(OperationTimeout):  # once exceeded, every later spend says so
        budget.spend(0)

    capped = ExecutionBudget(max_execution_ms=60_000, max_values=10)
    assert capped.spend(10) is False
    with pytest.raises(ResponseTooLarge):
        capped.spend(1)


def test_graphql_core_has_every_executor_method_the_budget_overrides() -> None:
    assert missing_executor_methods() == []


def test_a_long_list_still_answers_synchronously_under_execute_sync() -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def numbers(self) -> list[int]:
            return list(range(500))

    schema = strawberry.Schema(query=Query, execution_context_class=BudgetedExecutor)
    result = schema.execute_sync("{ numbers }")

    assert result.errors is None
    assert result.data == {"numbers": list(range(500))}
