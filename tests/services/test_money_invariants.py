"""Money and ownership invariants under attack: concurrent payments, currencies, balances,
idempotency keys and retries after a TIMEOUT, over the real app on a real PostgreSQL, each
checked afterwards with SQL.

Concurrency is real: `asyncio.gather` sends the requests together through the app, whose
pool has connections enough for many of them to be in PostgreSQL at once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

import services
from gateway.app import create_app
from tests.asgi import serve
from tests.services import error_codes
from tests.tokens import app_settings

Post = Callable[..., Awaitable[dict[str, Any]]]

CREATE_USER = 'mutation { createUser(input: {email: "payer@example.com", name: "P"}) { id } }'
PLACE_ORDER = """
mutation ($userId: Int!, $price: Decimal!, $currency: String, $key: String) {
  placeOrder(input: {userId: $userId, currency: $currency, idempotencyKey: $key,
                     items: [{sku: "LAPTOP-13", quantity: 1, unitPrice: $price}]}) {
    id total currency status items { sku }
  }
}
"""
RECORD_PAYMENT = """
mutation ($orderId: Int!, $amount: Decimal!, $currency: String!, $key: String) {
  recordPayment(input: {orderId: $orderId, amount: $amount, currency: $currency,
                        idempotencyKey: $key}) {
    id amount currency status order { id status }
  }
}
"""
LAPTOP = "1299.00"
STATEMENT_TIMEOUT_MS = 300
_emails = itertools.count()


@pytest.fixture
async def post(database_url: str) -> AsyncIterator[Post]:
    """`await post(query, **variables)` against the app, whose pool has 12 connections."""
    settings = app_settings(
        database_url=database_url,
        min_connections=2,
        max_connections=12,
        pool_timeout=30.0,  # 50 requests queue for 12 connections: waiting is not the test
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
    )
    async with serve(create_app(settings, services.SERVICES)) as client:

        async def send(query: str, **variables: Any) -> dict[str, Any]:
            response = await client.post(
                "/graphql",
                content=json.dumps({"query": query, "variables": variables}),
                headers={"content-type": "application/json"},
                timeout=httpx.Timeout(60.0),
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        yield send


async def new_order(post: Post, price: str = LAPTOP, currency: str | None = None) -> int:
    user = await post(CREATE_USER.replace("payer@", f"payer{next(_emails)}@"))
    body = await post(
        PLACE_ORDER, userId=user["data"]["createUser"]["id"], price=price, currency=currency
    )
    assert "errors" not in body, body
    order_id: int = body["data"]["placeOrder"]["id"]
    return order_id


async def stored_payments(conn: asyncpg.Connection, order_id: int) -> tuple[int, Decimal]:
    row = await conn.fetchrow(
        "SELECT count(*), coalesce(sum(amount), 0) FROM payments.payments WHERE order_id = $1",
        order_id,
    )
    assert row is not None
    return row[0], row[1]


async def order_status(conn: asyncpg.Connection, order_id: int) -> str:
    status: str = await conn.fetchval("SELECT status FROM orders.orders WHERE id = $1", order_id)
    return status


async def test_fifty_concurrent_full_payments_of_one_order_accept_exactly_one(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post)

    answers = await asyncio.gather(
        *(post(RECORD_PAYMENT, orderId=order_id, amount=LAPTOP, currency="EUR") for _ in range(50))
    )

    accepted = [body for body in answers if "errors" not in body]
    assert len(accepted) == 1, accepted
    assert sorted(code for body in answers for code in error_codes(body)) == (
        ["BAD_USER_INPUT"] * 49
    )
    count, paid = await stored_payments(raw_connection, order_id)
    total = await raw_connection.fetchval("SELECT total FROM orders.orders WHERE id = $1", order_id)
    assert (count, paid) == (1, Decimal(LAPTOP))
    assert paid <= total
    assert await order_status(raw_connection, order_id) == "PAID"


async def test_concurrent_partial_payments_adding_up_to_the_total_pay_the_order(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post)

    # Ten tenths, and ten more that find nothing left to pay.
    answers = await asyncio.gather(
        *(
            post(RECORD_PAYMENT, orderId=order_id, amount="129.90", currency="EUR")
            for _ in range(20)
        )
    )

    assert sum("errors" not in body for body in answers) == 10
    assert await stored_payments(raw_connection, order_id) == (10, Decimal(LAPTOP))
    assert await order_status(raw_connection, order_id) == "PAID"


async def test_two_concurrent_halves_pay_the_order(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    # Before: each half read the other's payment as not yet committed, so neither marked the
    # order PAID (18 of 20 tries). Twenty orders, two halves each, all at once.
    order_ids = [await new_order(post) for _ in range(20)]

    answers = await asyncio.gather(
        *(
            post(RECORD_PAYMENT, orderId=order_id, amount="649.50", currency="EUR")
            for order_id in order_ids
            for _ in range(2)
        )
    )

    assert [error_codes(body) for body in answers] == [[]] * 40
    statuses = await raw_connection.fetch(
        "SELECT status, count(*) FROM orders.orders WHERE id = ANY($1) GROUP BY status",
        order_ids,
    )
    assert [tuple(row) for row in statuses] == [("PAID", 20)]


async def test_a_payment_beyond_what_remains_is_refused_and_writes_nothing(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post, price="40.50")
    first = await post(RECORD_PAYMENT, orderId=order_id, amount="40.00", currency="EUR")

    over = await post(RECORD_PAYMENT, orderId=order_id, amount="0.51", currency="EUR")
    rest = await post(RECORD_PAYMENT, orderId=order_id, amount="0.50", currency="EUR")
    after = await post(RECORD_PAYMENT, orderId=order_id, amount="0.01", currency="EUR")

    assert "errors" not in first, first
    assert error_codes(over) == ["BAD_USER_INPUT"]
    assert "0.50 EUR left to pay" in over["errors"][0]["message"]
    assert rest["data"]["recordPayment"]["order"] == {"id": order_id, "status": "PAID"}
    assert error_codes(after) == ["BAD_USER_INPUT"]
    assert await stored_payments(raw_connection, order_id) == (2, Decimal("40.50"))


async def test_a_payment_in_another_currency_than_the_orders_is_refused(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    euros = await new_order(post)
    dollars = await new_order(post, currency="usd")

    in_dollars = await post(RECORD_PAYMENT, orderId=euros, amount=LAPTOP, currency="USD")
    in_euros = await post(RECORD_PAYMENT, orderId=dollars, amount=LAPTOP, currency="EUR")
    right = await post(RECORD_PAYMENT, orderId=dollars, amount=LAPTOP, currency="USD")

    assert error_codes(in_dollars) == ["BAD_USER_INPUT"]
    assert error_codes(in_euros) == ["BAD_USER_INPUT"]
    assert "pay it in USD" in in_euros["errors"][0]["message"]
    assert right["data"]["recordPayment"]["currency"] == "USD"
    assert await stored_payments(raw_connection, euros) == (0, Decimal(0))
    assert await stored_payments(raw_connection, dollars) == (1, Decimal(LAPTOP))
    currencies = await raw_connection.fetch("SELECT id, currency FROM orders.orders ORDER BY id")
    assert [tuple(row) for row in currencies] == [(euros, "EUR"), (dollars, "USD")]


async def test_fifty_concurrent_place_orders_with_one_key_place_one_order(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    user = await post(CREATE_USER)
    user_id = user["data"]["createUser"]["id"]

    answers = await asyncio.gather(
        *(post(PLACE_ORDER, userId=user_id, price="9.99", key="order-7f3a") for _ in range(50))
    )

    assert [error_codes(body) for body in answers] == [[]] * 50
    placed = {json.dumps(body["data"]["placeOrder"], sort_keys=True) for body in answers}
    assert len(placed) == 1, placed
    assert await raw_connection.fetchval("SELECT count(*) FROM orders.orders") == 1
    assert await raw_connection.fetchval("SELECT count(*) FROM orders.line_items") == 1


async def test_fifty_concurrent_payments_with_one_key_pay_once(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post)

    answers = await asyncio.gather(
        *(
            post(RECORD_PAYMENT, orderId=order_id, amount="100.00", currency="EUR", key="pay-1")
            for _ in range(50)
        )
    )

    assert [error_codes(body) for body in answers] == [[]] * 50
    assert len({body["data"]["recordPayment"]["id"] for body in answers}) == 1
    assert await stored_payments(raw_connection, order_id) == (1, Decimal("100.00"))


async def test_a_key_sent_again_with_other_arguments_is_conflict_and_writes_nothing(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post, price="40.50")
    other_order = await new_order(post, price="40.51")
    user_id = await raw_connection.fetchval("SELECT min(user_id) FROM orders.orders")
    await post(RECORD_PAYMENT, orderId=order_id, amount="10.00", currency="EUR", key="k-1")
    await post(PLACE_ORDER, userId=user_id, price="1.00", key="k-1")

    other_amount = await post(
        RECORD_PAYMENT, orderId=order_id, amount="10.01", currency="EUR", key="k-1"
    )
    other_target = await post(
        RECORD_PAYMENT, orderId=other_order, amount="10.00", currency="EUR", key="k-1"
    )
    other_price = await post(PLACE_ORDER, userId=user_id, price="1.01", key="k-1")
    same_price_spelled_otherwise = await post(PLACE_ORDER, userId=user_id, price="1.0", key="k-1")

    assert error_codes(other_amount) == ["CONFLICT"]
    assert error_codes(other_target) == ["CONFLICT"]
    assert error_codes(other_price) == ["CONFLICT"]
    assert "errors" not in same_price_spelled_otherwise
    assert await stored_payments(raw_connection, order_id) == (1, Decimal("10.00"))
    assert await stored_payments(raw_connection, other_order) == (0, Decimal(0))
    assert await raw_connection.fetchval("SELECT count(*) FROM orders.orders") == 3


@pytest.mark.parametrize("key", ["", " padded ", "k" * 256, "nul\x00key"])
async def test_a_malformed_idempotency_key_is_bad_user_input(
    post: Post, raw_connection: asyncpg.Connection, key: str
) -> None:
    order_id = await new_order(post)

    body = await post(RECORD_PAYMENT, orderId=order_id, amount="1.00", currency="EUR", key=key)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await stored_payments(raw_connection, order_id) == (0, Decimal(0))


async def test_a_payment_timed_out_on_a_locked_order_saved_nothing_and_its_retry_pays_once(
    post: Post, raw_connection: asyncpg.Connection, database_url: str
) -> None:
    order_id = await new_order(post)
    locker = await asyncpg.connect(database_url)
    try:
        # Someone else holds the order row past the statement timeout.
        async with locker.transaction():
            await locker.execute("SELECT 1 FROM orders.orders WHERE id = $1 FOR UPDATE", order_id)
            timed_out = await post(
                RECORD_PAYMENT, orderId=order_id, amount=LAPTOP, currency="EUR", key="try-1"
            )
            saved_meanwhile = await stored_payments(raw_connection, order_id)
    finally:
        await locker.close()

    retried = await post(
        RECORD_PAYMENT, orderId=order_id, amount=LAPTOP, currency="EUR", key="try-1"
    )
    retried_again = await post(
        RECORD_PAYMENT, orderId=order_id, amount=LAPTOP, currency="EUR", key="try-1"
    )

    # Before: the payment committed on its own and the PAID update timed out: TIMEOUT was
    # answered for a saved payment, and the retry paid a second time.
    assert error_codes(timed_out) == ["TIMEOUT"]
    assert saved_meanwhile == (0, Decimal(0))
    assert "errors" not in retried, retried
    assert retried["data"]["recordPayment"]["order"] == {"id": order_id, "status": "PAID"}
    assert retried_again == retried
    assert await stored_payments(raw_connection, order_id) == (1, Decimal(LAPTOP))
    assert await order_status(raw_connection, order_id) == "PAID"


REFUSED_AT_COMMIT = """
CREATE FUNCTION payments.refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation'; END $$;
CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON payments.payments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments.refuse_at_commit();
"""


async def test_a_commit_refused_by_postgresql_is_answered_with_its_code_and_saved_nothing(
    post: Post, raw_connection: asyncpg.Connection
) -> None:
    order_id = await new_order(post)
    # A deferred check runs at COMMIT: PostgreSQL answers COMMIT with an ERROR and rolls back.
    await raw_connection.execute(REFUSED_AT_COMMIT)

    refused = await post(RECORD_PAYMENT, orderId=order_id, amount=LAPTOP, currency="EUR", key="c-1")
    saved_meanwhile = await stored_payments(raw_connection, order_id)
    await raw_connection.execute("DROP TRIGGER refuse_at_commit ON payments.payments")
    retried = await post(RECORD_PAYMENT, orderId=order_id, amount=LAPTOP, currency="EUR", key="c-1")

    # Before: INTERNAL_SERVER_ERROR. COMMIT's own error is mapped like any statement's.
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    assert saved_meanwhile == (0, Decimal(0))
    assert "errors" not in retried, retried
    assert await stored_payments(raw_connection, order_id) == (1, Decimal(LAPTOP))
    assert await order_status(raw_connection, order_id) == "PAID"
