"""placeOrder and recordPayment answer the truth when the database connection dies at COMMIT:
the real app's pool goes through `CommitCutter`, a TCP proxy that cuts the connection of
the next COMMIT at a chosen moment; what was saved is read with SQL outside the proxy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

import services
from gateway.app import create_app
from tests.asgi import serve
from tests.gateway.db.commit_cutter import CommitCutter, Cut
from tests.services import error_codes
from tests.services.conftest import poster
from tests.tokens import app_settings

Post = Callable[..., Awaitable[dict[str, Any]]]

CREATE_USER = 'mutation { createUser(input: {email: "cut@example.com", name: "C"}) { id } }'
PLACE_ORDER = """
mutation ($userId: Int!, $key: String) {
  placeOrder(input: {userId: $userId, idempotencyKey: $key,
                     items: [{sku: "LAPTOP-13", quantity: 1, unitPrice: "1299.00"}]}) {
    id total
  }
}
"""
RECORD_PAYMENT = """
mutation ($orderId: Int!, $key: String) {
  recordPayment(input: {orderId: $orderId, amount: "1299.00", currency: "EUR",
                        idempotencyKey: $key}) {
    id amount order { id status }
  }
}
"""


@pytest.fixture
async def cutter(database_url: str) -> AsyncIterator[CommitCutter]:
    async with CommitCutter.running(database_url) as cutter:
        yield cutter


@pytest.fixture
async def post(cutter: CommitCutter) -> AsyncIterator[Post]:
    settings = app_settings(database_url=cutter.url, min_connections=1, max_connections=4)
    async with serve(create_app(settings, services.SERVICES)) as client:
        yield poster(client)


async def new_order(post: Post) -> int:
    user = await post(CREATE_USER)
    body = await post(PLACE_ORDER, userId=user["data"]["createUser"]["id"])
    order_id: int = body["data"]["placeOrder"]["id"]
    return order_id


async def payments(conn: asyncpg.Connection) -> list[tuple[int, Decimal]]:
    rows = await conn.fetch("SELECT id, amount FROM payments.payments ORDER BY id")
    return [(row["id"], row["amount"]) for row in rows]


async def test_an_order_whose_release_fails_after_commit_is_answered_as_placed(
    post: Post, cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> None:
    # Before: the order committed, then the pool's reset failed and the answer was
    # INTERNAL_SERVER_ERROR, inviting a retry that placed it twice.
    user = await post(CREATE_USER)
    cutter.arm(Cut.AFTER_ANSWER)

    body = await post(PLACE_ORDER, userId=user["data"]["createUser"]["id"])

    assert cutter.cuts == 1
    assert "errors" not in body, body
    ids = [row[0] for row in await raw_connection.fetch("SELECT id FROM orders.orders")]
    assert ids == [body["data"]["placeOrder"]["id"]]


async def test_a_payment_whose_commit_answer_is_lost_is_answered_as_recorded(
    post: Post, cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post)
    cutter.arm(Cut.BEFORE_ANSWER)

    body = await post(RECORD_PAYMENT, orderId=order_id)
    retried = await post(RECORD_PAYMENT, orderId=order_id, key="unused-key")

    # Before: SERVICE_UNAVAILABLE ("retry shortly") for a payment that was saved.
    assert cutter.cuts == 1
    assert "errors" not in body, body
    assert body["data"]["recordPayment"]["order"] == {"id": order_id, "status": "PAID"}
    assert await payments(raw_connection) == [
        (body["data"]["recordPayment"]["id"], Decimal("1299.00"))
    ]
    assert error_codes(retried) == ["BAD_USER_INPUT"]  # nothing left to pay: no second one


async def test_a_payment_whose_commit_never_arrived_is_unavailable_and_its_retry_pays_once(
    post: Post, cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post)
    cutter.arm(Cut.BEFORE_REQUEST)

    lost = await post(RECORD_PAYMENT, orderId=order_id, key="pay-once")
    saved_meanwhile = await payments(raw_connection)
    retried = await post(RECORD_PAYMENT, orderId=order_id, key="pay-once")
    again = await post(RECORD_PAYMENT, orderId=order_id, key="pay-once")

    assert cutter.cuts == 1
    assert error_codes(lost) == ["SERVICE_UNAVAILABLE"]
    assert "nothing was saved" in lost["errors"][0]["message"]
    assert saved_meanwhile == []
    assert "errors" not in retried, retried
    assert again == retried
    assert await payments(raw_connection) == [
        (retried["data"]["recordPayment"]["id"], Decimal("1299.00"))
    ]


async def test_a_payment_cut_off_by_a_partition_is_outcome_unknown_and_names_its_key(
    post: Post, cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post)
    cutter.arm(Cut.PARTITION)

    # No key sent: the gateway made one up and stored it with the payment it tried.
    unknown = await post(RECORD_PAYMENT, orderId=order_id)
    cutter.heal()  # the server notices the dead connection and rolls back
    message = unknown["errors"][0]["message"]
    key = json.loads(message[message.index('"') : message.rindex('"') + 1])
    retried = await post(RECORD_PAYMENT, orderId=order_id, key=key)
    again = await post(RECORD_PAYMENT, orderId=order_id, key=key)

    # Its backend was still in the transaction, so nothing a lookup finds could be trusted.
    assert error_codes(unknown) == ["OUTCOME_UNKNOWN"]
    assert key.startswith("generated:")
    assert "errors" not in retried, retried
    assert again == retried
    assert await payments(raw_connection) == [
        (retried["data"]["recordPayment"]["id"], Decimal("1299.00"))
    ]


async def test_an_order_whose_commit_answer_is_lost_is_answered_as_placed_once(
    post: Post, cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> None:
    user = await post(CREATE_USER)
    cutter.arm(Cut.BEFORE_ANSWER)

    body = await post(PLACE_ORDER, userId=user["data"]["createUser"]["id"], key="order-1")
    retried = await post(PLACE_ORDER, userId=user["data"]["createUser"]["id"], key="order-1")

    assert cutter.cuts == 1
    assert "errors" not in body, body
    assert retried == body
    ids = [row[0] for row in await raw_connection.fetch("SELECT id FROM orders.orders")]
    assert ids == [body["data"]["placeOrder"]["id"]]
