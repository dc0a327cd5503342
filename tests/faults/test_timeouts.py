"""Slow statements and a full pool, over the real app in-process on a real PostgreSQL.

A statement past `statement_timeout_ms` is cancelled by PostgreSQL and answered TIMEOUT; a
request that finds no free pooled connection within `pool_timeout` is answered
SERVICE_UNAVAILABLE instead of waiting. Either way the app keeps serving, and no response
shows SQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.asgi import serve
from tests.faults.support import (
    GATEWAY_CONNECTIONS,
    SLEEPING_STATEMENTS,
    assert_no_sql,
    count,
    error_codes,
    wait_until,
)
from tests.gateway.extra_service.app import SERVICES
from tests.tokens import app_settings

ADD_USER = 'mutation { createUser(input: {email: "ada@example.com", name: "Ada"}) { id } }'
SLOW_COUNT = "query ($seconds: Float!) { slowReviewCount(seconds: $seconds) }"
ADD_REVIEW_SLOWLY = """
mutation ($userId: Int!, $seconds: Float!) {
  addReviewSlowly(input: {userId: $userId, sku: "SKU-1", rating: 5, body: "Fine."},
                  seconds: $seconds) { id }
}
"""
FIRST_USER = "{ users(first: 1) { nodes { id email } } }"


@pytest.fixture
def settings(database_url: str, migrations_with_test_services: Path) -> Settings:
    return app_settings(
        database_url=database_url,
        migrations_dir=migrations_with_test_services,
        min_connections=1,
        max_connections=2,
        statement_timeout_ms=200,
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the test services, inside its lifespan, and a client for it."""
    async with serve(create_app(settings, SERVICES)) as client:
        yield client


async def post(
    client: httpx.AsyncClient, query: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    assert_no_sql(response.text)
    body: dict[str, Any] = response.json()
    return body


async def test_statement_past_the_statement_timeout_is_cancelled_and_answered_timeout(
    settings: Settings, raw_connection: asyncpg.Connection
) -> None:
    async with running(settings) as client:
        slow = await post(client, SLOW_COUNT, {"seconds": 30})
        still_running = await count(raw_connection, SLEEPING_STATEMENTS)
        after = await post(client, SLOW_COUNT, {"seconds": 0})

    assert error_codes(slow) == ["TIMEOUT"]
    assert slow["data"] is None
    assert slow["errors"][0]["path"] == ["slowReviewCount"]
    assert still_running == 0  # cancelled in PostgreSQL, not only abandoned by the client
    assert after == {"data": {"slowReviewCount": 0}}


async def test_mutation_cancelled_by_the_statement_timeout_commits_nothing(
    settings: Settings, raw_connection: asyncpg.Connection
) -> None:
    async with running(settings) as client:
        user_id = (await post(client, ADD_USER))["data"]["createUser"]["id"]
        body = await post(client, ADD_REVIEW_SLOWLY, {"userId": user_id, "seconds": 30})
        quick = await post(client, ADD_REVIEW_SLOWLY, {"userId": user_id, "seconds": 0})

    assert error_codes(body) == ["TIMEOUT"]
    # The review was inserted before the sleep; the timeout rolled it back, so the same
    # (user, sku) is free again for the next one.
    assert "errors" not in quick, quick
    rows = await raw_connection.fetch("SELECT id, user_id, sku FROM reviews.reviews")
    assert [(row["id"], row["user_id"], row["sku"]) for row in rows] == [
        (quick["data"]["addReviewSlowly"]["id"], user_id, "SKU-1")
    ]


async def test_server_keeps_serving_every_pooled_connection_after_timeouts(
    settings: Settings, raw_connection: asyncpg.Connection
) -> None:
    async with running(settings) as client:
        timed_out = await asyncio.gather(
            *(post(client, SLOW_COUNT, {"seconds": 30}) for _ in range(4))
        )
        answers = await asyncio.gather(*(post(client, FIRST_USER) for _ in range(6)))
        connections = await count(raw_connection, GATEWAY_CONNECTIONS)

    assert [error_codes(body) for body in timed_out] == [["TIMEOUT"]] * 4
    assert answers == [{"data": {"users": {"nodes": []}}}] * 6
    assert 1 <= connections <= settings.max_connections


async def test_request_waiting_past_the_pool_timeout_is_answered_service_unavailable(
    settings: Settings, raw_connection: asyncpg.Connection
) -> None:
    one_connection = replace(
        settings, min_connections=1, max_connections=1, pool_timeout=0.2, statement_timeout_ms=5000
    )
    async with running(one_connection) as client:
        # Holds the only connection for 3s: far longer than the 0.2s pool timeout.
        holder = asyncio.create_task(post(client, SLOW_COUNT, {"seconds": 3}))

        async def holding() -> bool:
            return await count(raw_connection, SLEEPING_STATEMENTS) == 1

        await wait_until(holding, "the slow request taking the only connection")
        queued = await post(client, FIRST_USER)
        held = await holder
        after = await post(client, FIRST_USER)

    assert error_codes(queued) == ["SERVICE_UNAVAILABLE"]
    assert queued["data"] == {"users": None}  # nullable: an admin-only list
    assert held == {"data": {"slowReviewCount": 0}}
    assert after == {"data": {"users": {"nodes": []}}}
