"""The shop served by a real uvicorn (WebSockets need one), on the demo data: Ada is user 1,
Grace user 2. `live` gives the server, `shop` asks it over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

import services
from gateway.app import create_app
from services.demo import load_demo_data
from tests.live_server import LiveServer, live_servers
from tests.services.shop import Shop
from tests.tokens import app_settings, token_for

ADA = token_for(1)
GRACE = token_for(2)
ADMIN = token_for("admin", roles=["admin"])

PLACE = """mutation ($userId: Int!) {
  placeOrder(input: {userId: $userId, items: [{sku: "LIVE-1", quantity: 2, unitPrice: "5.00"}]}) {
    id status total
  }
}"""
PAY = """mutation ($orderId: Int!, $amount: Decimal!) {
  recordPayment(input: {orderId: $orderId, amount: $amount, currency: "EUR"}) { id }
}"""


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def serve_live(database_url: str) -> Iterator[Callable[..., LiveServer]]:
    """`serve_live(**settings)`: the shop on a real uvicorn; stopped after the test."""
    with live_servers() as start_app:

        def start(**overrides: Any) -> LiveServer:
            settings = app_settings(
                **{"database_url": database_url, "min_connections": 1, "max_connections": 4}
                | overrides
            )
            return start_app(create_app(settings, services.SERVICES, on_startup=load_demo_data))

        yield start


@pytest.fixture
def live(serve_live: Callable[..., LiveServer]) -> LiveServer:
    return serve_live()


@pytest.fixture
async def shop(live: LiveServer) -> AsyncIterator[Shop]:
    async with httpx.AsyncClient(base_url=live.origin, timeout=30) as client:
        yield Shop(client)


async def place_order(shop: Shop, token: str, user_id: int) -> dict[str, Any]:
    body = await shop.ask(PLACE, token, userId=user_id)
    assert "errors" not in body, body
    order: dict[str, Any] = body["data"]["placeOrder"]
    return order
