"""SIGTERM and SIGKILL to a real `gateway serve` process with mutations in flight.

On SIGTERM the server stops accepting connections, lets the request in flight finish (its
transaction commits and the client gets its data), closes its pool and exits 0. A mutation
the server never acknowledged leaves nothing behind: one it refused was never run, and one cut
off mid-transaction by a killed server is rolled back whole by PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.faults.support import (
    GATEWAY_CONNECTIONS,
    SLEEPING_STATEMENTS,
    assert_no_sql,
    count,
    wait_until,
)
from tests.gateway_process import GatewayFactory, GatewayProcess, accepts_connections
from tests.tokens import ADMIN_HEADERS

CREATE_USER = """
mutation ($email: String!) { createUser(input: {email: $email, name: "Ada"}) { id } }
"""
ADD_REVIEW_SLOWLY = """
mutation ($userId: Int!, $seconds: Float!) {
  addReviewSlowly(input: {userId: $userId, sku: "SKU-1", rating: 5, body: "Fine."},
                  seconds: $seconds) { id sku }
}
"""
PLACE_ORDER = """
mutation ($userId: Int!, $items: [LineItemInput!]!) {
  placeOrder(input: {userId: $userId, items: $items}) { id items { sku } }
}
"""
# The gateway's connections waiting for a lock another session holds.
WAITING_FOR_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name = 'gateway' AND wait_event_type = 'Lock'"
)
# The gateway's sessions that have written to orders.orders in a transaction still open.
WRITING_AN_ORDER = (
    "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid) "
    "WHERE application_name = 'gateway' AND relation = 'orders.orders'::regclass "
    "AND mode = 'RowExclusiveLock' AND granted"
)
ITEMS_TAGGED = "SELECT count(*) FROM orders.line_items WHERE sku LIKE $1 || '-%'"


@pytest.fixture
def serve(
    gateway_process: GatewayFactory, database_url: str, migrations_with_test_services: Path
) -> GatewayProcess:
    """`gateway serve` with the test services on this test's database."""
    return gateway_process(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_SERVICES": "tests.gateway.extra_service.app:SERVICES",
            "GATEWAY_MIGRATIONS_DIR": str(migrations_with_test_services),
            "GATEWAY_POOL_MIN": "2",
            "GATEWAY_POOL_MAX": "4",
        }
    )


async def post(
    client: httpx.AsyncClient, url: str, query: str, variables: Mapping[str, Any]
) -> dict[str, Any]:
    response = await client.post(url, json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    assert_no_sql(response.text)
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def items(tag: str) -> list[dict[str, Any]]:
    """Three line items whose skus start with `tag`."""
    return [{"sku": f"{tag}-{n}", "quantity": n, "unitPrice": "2.50"} for n in (1, 2, 3)]


async def test_sigterm_lets_the_mutation_in_flight_commit_and_answer_then_exits_zero(
    serve: GatewayProcess, raw_connection: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(timeout=60, headers=ADMIN_HEADERS) as client:
        user = await post(client, serve.url, CREATE_USER, {"email": "ada@example.com"})
        user_id = user["createUser"]["id"]
        # Inserts its review, then sleeps 3s before committing: in flight across the SIGTERM.
        in_flight = asyncio.create_task(
            client.post(
                serve.url,
                json={"query": ADD_REVIEW_SLOWLY, "variables": {"userId": user_id, "seconds": 3}},
            )
        )

        async def sleeping() -> bool:
            return await count(raw_connection, SLEEPING_STATEMENTS) == 1

        await wait_until(sleeping, "the slow mutation reaching its sleep")
        serve.terminate()

        async def refusing() -> bool:
            return not await asyncio.to_thread(accepts_connections, serve.port)

        await wait_until(refusing, "the server closing its listening socket")
        async with httpx.AsyncClient(timeout=10) as late_client:
            with pytest.raises(httpx.ConnectError):
                await late_client.post(
                    serve.url,
                    json={
                        "query": PLACE_ORDER,
                        "variables": {"userId": user_id, "items": items("LATE")},
                    },
                )
        response = await in_flight

    returncode = await asyncio.to_thread(serve.wait_for_exit)

    assert response.status_code == 200, response.text
    review = response.json()["data"]["addReviewSlowly"]
    assert review["sku"] == "SKU-1"
    committed = await raw_connection.fetch("SELECT id, user_id FROM reviews.reviews")
    assert [(row["id"], row["user_id"]) for row in committed] == [(review["id"], user_id)]
    assert returncode == 0, serve.output
    assert "Application shutdown complete" in serve.output  # the lifespan closed the pool

    async def disconnected() -> bool:
        return await count(raw_connection, GATEWAY_CONNECTIONS) == 0

    await wait_until(disconnected, "the gateway's connections ending")
    # The order sent after the SIGTERM was refused, never run.
    assert await count(raw_connection, ITEMS_TAGGED, "LATE") == 0
    assert await count(raw_connection, "SELECT count(*) FROM orders.orders") == 0


async def test_order_cut_off_mid_transaction_by_a_killed_server_leaves_no_order_and_no_items(
    serve: GatewayProcess, raw_connection: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(timeout=60, headers=ADMIN_HEADERS) as client:
        user = await post(client, serve.url, CREATE_USER, {"email": "ada@example.com"})
        user_id = user["createUser"]["id"]
        placed = await post(
            client, serve.url, PLACE_ORDER, {"userId": user_id, "items": items("WHOLE")}
        )
        async with raw_connection.transaction():
            # placeOrder's one INSERT statement takes its lock on orders, then waits here
            # for the lock on line_items: its transaction is open and holds orders.
            await raw_connection.execute("LOCK TABLE orders.line_items IN SHARE MODE")
            cut_off = asyncio.create_task(
                client.post(
                    serve.url,
                    json={
                        "query": PLACE_ORDER,
                        "variables": {"userId": user_id, "items": items("CUT")},
                    },
                )
            )

            async def blocked() -> bool:
                return await count(raw_connection, WAITING_FOR_A_LOCK) == 1

            await wait_until(blocked, "the second order waiting to insert its items")
            half_written = await count(raw_connection, WRITING_AN_ORDER)
            serve.kill()
        with pytest.raises(httpx.TransportError):
            await cut_off

    async def disconnected() -> bool:
        return await count(raw_connection, GATEWAY_CONNECTIONS) == 0

    await wait_until(disconnected, "the killed server's connections ending")
    assert half_written == 1  # its transaction held orders, uncommitted, when the server died
    orders = await raw_connection.fetch("SELECT id, user_id FROM orders.orders")
    assert [(row["id"], row["user_id"]) for row in orders] == [
        (placed["placeOrder"]["id"], user_id)
    ]
    assert [item["sku"] for item in placed["placeOrder"]["items"]] == [
        "WHOLE-1",
        "WHOLE-2",
        "WHOLE-3",
    ]
    assert await count(raw_connection, ITEMS_TAGGED, "WHOLE") == 3
    assert await count(raw_connection, ITEMS_TAGGED, "CUT") == 0
