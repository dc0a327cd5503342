"""The database goes away under a running gateway and comes back.

A dedicated embedded PostgreSQL (not the shared test server) serves the real app, run
in-process. The server is stopped with work in flight and started again on the same data
directory: while it is down every request fails at once with SERVICE_UNAVAILABLE, never
INTERNAL_SERVER_ERROR or a 5xx status; once it is back the same app, never restarted, answers
again, its pool refills, and /health/ready follows (ready, unavailable, ready). The
subscriptions' listener reconnects, and its subscribers are told events may be missed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.db import DatabaseConfig
from gateway.db.embedded import EmbeddedPostgres, kill_server_on
from gateway.subscriptions import Event, EventHub
from gateway.subscriptions.subscriber import MISSED
from tests.asgi import serve
from tests.faults.support import SLEEPING_STATEMENTS, assert_no_sql, count, error_codes, wait_until
from tests.gateway.extra_service.app import SERVICES
from tests.tokens import app_settings

REQUEST_LIMIT = 15.0  # seconds for any one request: a hang fails the test, nothing is timed
RECOVERY_LIMIT = 60.0  # seconds for the listener to be back after a restart; a bound
RECOVERY_ATTEMPTS = 100  # requests (0.1s apart) the gateway may need once the server is back

CREATE_USER = """
mutation ($email: String!) { createUser(input: {email: $email, name: "Ada"}) { id email } }
"""
NESTED = """
{ users(first: 5) { nodes { email orders(first: 3) {
    nodes { id total payments(first: 3) { nodes { amount } } } } } } }
"""
USER = "query ($id: Int!) { user(id: $id) { id email } }"
SLOW_COUNT = "query ($seconds: Float!) { slowReviewCount(seconds: $seconds) }"
ADD_REVIEW_SLOWLY = """
mutation ($userId: Int!, $seconds: Float!) {
  addReviewSlowly(input: {userId: $userId, sku: "SKU-1", rating: 5, body: "Fine."},
                  seconds: $seconds) { id }
}
"""


class DedicatedPostgres:
    """An embedded PostgreSQL of this test alone, stopped and started on one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: EmbeddedPostgres | None = EmbeddedPostgres.start(data_dir)
        self.url: str = self._server.url

    def start(self) -> None:
        self._server = EmbeddedPostgres.start(self.data_dir)

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        """`pg_ctl stop` (fast mode: running statements are terminated)."""
        assert self._server is not None
        self._server.stop()
        self._server = None

    async def count(self, query: str, *args: Any) -> int:
        conn = await asyncpg.connect(self.url)
        try:
            return await count(conn, query, *args)
        finally:
            await conn.close()


@pytest.fixture
def postgres() -> Iterator[DedicatedPostgres]:
    # Not in tmp_path: a pytest run starting elsewhere resets /tmp/pytest-of-<user> to 0700,
    # which the server's own system user (when we run as root) then cannot enter. The prefix
    # is tests/conftest.py's, whose sweep removes what a killed run leaves behind.
    run_dir = Path(tempfile.mkdtemp(prefix=f"gateway-test-pg-{os.getpid()}-restart-"))
    try:
        server = DedicatedPostgres(run_dir / "data")
        try:
            yield server
        finally:
            if server.running:
                server.stop()
    finally:
        kill_server_on(run_dir / "data")  # whatever a failed test or start left running
        shutil.rmtree(run_dir, ignore_errors=True)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app, timeout=REQUEST_LIMIT) as client:
        yield client


async def post(
    client: httpx.AsyncClient, query: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The body of a POST; its status is never 5xx and it shows no SQL."""
    async with asyncio.timeout(REQUEST_LIMIT):
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
    assert response.status_code == 200, response.text
    assert_no_sql(response.text)
    body: dict[str, Any] = response.json()
    return body


async def first_answer(
    client: httpx.AsyncClient, query: str, variables: Mapping[str, Any]
) -> dict[str, Any]:
    """The first answer without errors; until then every answer must be SERVICE_UNAVAILABLE."""
    for _ in range(RECOVERY_ATTEMPTS):
        body = await post(client, query, variables)
        if "errors" not in body:
            return body
        assert error_codes(body) == ["SERVICE_UNAVAILABLE"], body
        await asyncio.sleep(0.1)
    raise AssertionError(f"still no answer after {RECOVERY_ATTEMPTS} attempts")


async def test_gateway_answers_service_unavailable_while_the_database_is_down_and_recovers(
    postgres: DedicatedPostgres, migrations_with_test_services: Path
) -> None:
    settings = app_settings(
        database_url=postgres.url,
        migrations_dir=migrations_with_test_services,
        min_connections=2,
        max_connections=4,
        pool_timeout=2.0,
    )
    app = create_app(settings, SERVICES)
    async with running(app) as client:
        ready_before = await client.get("/health/ready")
        before = await post(client, CREATE_USER, {"email": "before@example.com"})
        user_id = before["data"]["createUser"]["id"]
        assert "errors" not in await post(client, NESTED)

        # Work in flight when the server stops: a query and a mutation mid-transaction.
        in_flight = [
            asyncio.create_task(post(client, SLOW_COUNT, {"seconds": 60})),
            asyncio.create_task(
                post(client, ADD_REVIEW_SLOWLY, {"userId": user_id, "seconds": 60})
            ),
        ]

        async def both_sleeping() -> bool:
            return await postgres.count(SLEEPING_STATEMENTS) == 2

        await wait_until(both_sleeping, "both slow requests reaching the database")
        await asyncio.to_thread(postgres.stop)
        interrupted = await asyncio.gather(*in_flight)

        down = [
            await post(client, NESTED),
            await post(client, USER, {"id": user_id}),
            await post(client, CREATE_USER, {"email": "during@example.com"}),
            *await asyncio.gather(*(post(client, NESTED) for _ in range(8))),
        ]
        size_while_down = (await app.state.pool.get_pool_stats())["size"]
        ready_while_down = await client.get("/health/ready")

        await asyncio.to_thread(postgres.start)
        recovered = await first_answer(client, USER, {"id": user_id})

        after = await asyncio.gather(*(post(client, NESTED) for _ in range(12)))
        stats = await app.state.pool.get_pool_stats()
        added = await post(client, CREATE_USER, {"email": "after@example.com"})
        ready_after = await client.get("/health/ready")

    assert [error_codes(body) for body in interrupted] == [["SERVICE_UNAVAILABLE"]] * 2
    assert [error_codes(body) for body in down] == [["SERVICE_UNAVAILABLE"]] * len(down)
    # No partial answers either: `user` is nullable, so its failure reads {"user": null}.
    assert all(not any((body["data"] or {}).values()) for body in [*interrupted, *down])
    assert size_while_down == 0  # every pooled connection died with the server
    assert (ready_before.status_code, ready_before.json()["status"]) == (200, "ready")
    assert (ready_while_down.status_code, ready_while_down.json()["status"]) == (
        503,
        "unavailable",
    )
    assert ready_while_down.json()["checks"]["database"]["status"] == "failed"
    assert_no_sql(ready_while_down.text)

    assert recovered == {"data": {"user": {"id": user_id, "email": "before@example.com"}}}
    assert all("errors" not in body for body in after), [error_codes(b) for b in after]
    assert stats["min_size"] <= stats["size"] <= stats["max_size"]
    assert "errors" not in added, added
    assert (ready_after.status_code, ready_after.json()["status"]) == (200, "ready")
    users = await postgres.count("SELECT count(*) FROM users.users")
    reviews = await postgres.count("SELECT count(*) FROM reviews.reviews")
    assert users == 2  # before@ and after@; during@ was refused, not half-written
    assert reviews == 0  # the mutation cut off mid-transaction was rolled back


async def test_the_event_listener_reconnects_after_a_restart_and_says_events_were_missed(
    postgres: DedicatedPostgres,
) -> None:
    hub = EventHub(DatabaseConfig(connection_string=postgres.url, retry_attempts=1))
    await hub.start()
    try:
        async with hub.subscribe("orders") as subscriber:
            await asyncio.to_thread(postgres.stop)
            await asyncio.to_thread(postgres.start)

            missed = await asyncio.wait_for(subscriber.next(), RECOVERY_LIMIT)
            assert missed is MISSED  # whatever was committed meanwhile, nobody heard it
            conn = await asyncpg.connect(postgres.url)
            try:
                await conn.execute("SELECT pg_notify('orders', $1)", '{"order_id": 1}')
            finally:
                await conn.close()
            event = await asyncio.wait_for(subscriber.next(), REQUEST_LIMIT)
            assert isinstance(event, Event)
            assert event.ids == {"order_id": 1}
            assert hub.reconnections == 1
    finally:
        await hub.close()
