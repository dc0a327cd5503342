"""The npm graphql-ws client in Node against the gateway on a real server: it connects with
the token in connectionParams, subscribes to orderUpdated, and receives the order's change
to PAID as the payment commits; a bad token is refused with 4403."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import PROJECT_ROOT
from tests.browser.npm import exclusively, install
from tests.live_server import LiveServer
from tests.services.shop import Shop
from tests.subscriptions.conftest import ADA, PAY, place_order

CLIENT = PROJECT_ROOT / "tests" / "browser" / "graphql_ws"
WAIT_S = 30.0  # for one line of the client's; a bound, not a performance check


@pytest.fixture(scope="session")
def graphql_ws_client() -> Path:
    with exclusively(CLIENT):
        install(CLIENT)
    return CLIENT


async def lines_of(process: asyncio.subprocess.Process) -> Any:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), WAIT_S)
    assert line, "the client exited early"
    return json.loads(line)


async def ended(process: asyncio.subprocess.Process) -> None:
    """Kill `process` if it still runs, and read its pipes to the end (closing them)."""
    if process.returncode is None:
        process.kill()
    await asyncio.wait_for(process.communicate(), WAIT_S)


async def run_client(
    folder: Path, url: str, token: str, order_id: int
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "node",
        "client.mjs",
        url,
        token,
        str(order_id),
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


@pytest.fixture
async def live_shop(gateway_app: Any, live_server: Any) -> Any:
    server = live_server(gateway_app())
    async with httpx.AsyncClient(base_url=server.origin, timeout=30) as client:
        yield server, Shop(client)


async def test_the_graphql_ws_client_receives_an_order_becoming_paid(
    graphql_ws_client: Path, live_shop: tuple[LiveServer, Shop]
) -> None:
    live, shop = live_shop
    order = await place_order(shop, ADA, 1)
    client = await run_client(graphql_ws_client, live.ws_url, ADA, order["id"])
    try:
        assert await lines_of(client) == {"connected": True}
        await asyncio.sleep(0.5)  # the subscribe message is in before the payment commits
        assert "errors" not in await shop.ask(PAY, ADA, orderId=order["id"], amount="10.00")
        assert await lines_of(client) == {
            "data": {"orderUpdated": {"id": order["id"], "status": "PAID"}}
        }
        assert await lines_of(client) == {"closed": 1000}  # disposed by the client itself
        assert await asyncio.wait_for(client.wait(), WAIT_S) == 0
    finally:
        await ended(client)


async def test_the_graphql_ws_client_is_refused_with_a_bad_token(
    graphql_ws_client: Path, live_shop: tuple[LiveServer, Shop]
) -> None:
    live, _ = live_shop
    client = await run_client(graphql_ws_client, live.ws_url, "not-a-jwt", 1)
    try:
        assert await lines_of(client) == {"closed": 4403}
        assert await lines_of(client) == {"error": "4403"}
    finally:
        await ended(client)
