"""Subscriptions across real `gateway serve` processes on one database: a NOTIFY from one
worker reaches the subscribers of every worker; SIGTERM completes every subscription before
the connection closes; the per-connection, per-process and message-size bounds hold."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.gateway_process import GatewayProcess
from tests.subscriptions.conftest import ADA, PLACE
from tests.tokens import TEST_SECRET, bearer
from tests.ws_client import graphql_ws

MY_UPDATES = "subscription { myOrderUpdates { id status } }"


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def serve(database_url: str) -> Iterator[object]:
    started: list[GatewayProcess] = []

    def start(**env: str) -> GatewayProcess:
        server = GatewayProcess(
            {
                "DATABASE_URL": database_url,
                "GATEWAY_JWT_SECRET": TEST_SECRET,
                "GATEWAY_DEMO_DATA": "1",
                "GATEWAY_POOL_MAX": "3",
                **env,
            }
        )
        started.append(server)
        server.wait_until_ready()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()


def ws_url(server: GatewayProcess) -> str:
    return server.url.replace("http://", "ws://")


async def place(server: GatewayProcess, user_id: int = 1) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            server.url,
            json={"query": PLACE, "variables": {"userId": user_id}},
            headers=bearer(ADA),
        )
    body = response.json()
    assert "errors" not in body, body
    order: dict[str, object] = body["data"]["placeOrder"]
    return order


async def test_a_change_committed_through_one_worker_reaches_the_subscribers_of_another(
    serve: object,
) -> None:
    first, second = serve(), serve()  # type: ignore[operator]
    async with (
        graphql_ws(ws_url(first), token=ADA) as on_first,
        graphql_ws(ws_url(second), token=ADA) as on_second,
    ):
        await on_first.subscribe(MY_UPDATES)
        await on_second.subscribe(MY_UPDATES)
        await asyncio.sleep(0.5)  # both LISTENs in place
        order = await place(second)

        for client in (on_first, on_second):
            event = await client.receive()
            assert event["payload"]["data"]["myOrderUpdates"] == {
                "id": order["id"],
                "status": "PENDING",
            }


async def test_sigterm_completes_every_subscription_before_closing(serve: object) -> None:
    server = serve()  # type: ignore[operator]
    async with graphql_ws(ws_url(server), token=ADA) as client:
        first = await client.subscribe(MY_UPDATES)
        second = await client.subscribe(
            "subscription ($id: Int!) { orderUpdated(id: $id) { status } }", {"id": 2}
        )
        await asyncio.sleep(0.5)
        server.terminate()
        messages = [await client.receive() for _ in range(2)]
        assert {(message["type"], message["id"]) for message in messages} == {
            ("complete", first),
            ("complete", second),
        }
        with pytest.raises(ConnectionClosed) as closed:
            await client.receive()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012  # service restart: reconnect later
    assert server.wait_for_exit() == 0


async def test_subscriptions_per_connection_connections_and_message_size_are_bounded(
    serve: object,
) -> None:
    server = serve(  # type: ignore[operator]
        GATEWAY_WS_PER_CONNECTION="2", GATEWAY_WS_CONNECTIONS="2", GATEWAY_WS_MESSAGE_BYTES="4096"
    )
    async with graphql_ws(ws_url(server), token=ADA) as client:
        await client.subscribe(MY_UPDATES)
        await client.subscribe(MY_UPDATES)
        third = await client.subscribe(MY_UPDATES)
        refused = await client.receive()
        assert refused["id"] == third
        assert refused["type"] == "error"
        assert "limit" in refused["payload"][0]["message"]

        async with graphql_ws(ws_url(server), token=ADA):
            # a third connection while two are open: the upgrade is refused
            with pytest.raises(InvalidStatus) as busy:
                async with graphql_ws(ws_url(server), token=ADA):
                    pytest.fail("past the connection limit")
            assert busy.value.response.status_code == 403

        await client.send({"type": "ping", "payload": {"pad": "x" * 8000}})
        with pytest.raises(ConnectionClosed) as closed:
            await client.receive()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009  # message too big
