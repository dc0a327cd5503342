"""The payments service through the gateway: recording payments, and payments of orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from tests.services import (
    INJECTION_ATTEMPTS,
    SERVICE_TABLES,
    GraphQL,
    counted,
    error_codes,
    service_tables,
)

CREATE_USER = """
mutation { createUser(input: {email: "payer@example.com", name: "Payer"}) { id } }
"""
PLACE_ORDER = """
mutation ($userId: Int!) {
  placeOrder(input: {userId: $userId, items: [
    {sku: "BOOK-001", quantity: 2, unitPrice: "19.99"},
    {sku: "PEN-014", quantity: 1, unitPrice: "0.52"}
  ]}) { id total }
}
"""
RECORD_PAYMENT = """
mutation ($orderId: Int!, $amount: Decimal!, $currency: String!) {
  recordPayment(input: {orderId: $orderId, amount: $amount, currency: $currency}) {
    id amount currency status
    order { id status }
  }
}
"""
ORDER_PAYMENTS = """
query ($id: Int!) {
  order(id: $id) {
    status
    payments { nodes { id amount currency status order { id } } }
  }
}
"""
ORDER_TOTAL = Decimal("40.50")


@pytest.fixture
async def order_id(graphql: GraphQL) -> int:
    """An order of 40.50, placed by a new user, not paid yet."""
    user = await graphql(CREATE_USER)
    body = await graphql(PLACE_ORDER, userId=user["data"]["createUser"]["id"])
    assert Decimal(body["data"]["placeOrder"]["total"]) == ORDER_TOTAL
    placed: int = body["data"]["placeOrder"]["id"]
    return placed


async def record_payment(
    graphql: GraphQL,
    order_id: int,
    amount: str,
    currency: str = "EUR",
) -> dict[str, Any]:
    body = await graphql(RECORD_PAYMENT, orderId=order_id, amount=amount, currency=currency)
    assert "errors" not in body, body
    payment: dict[str, Any] = body["data"]["recordPayment"]
    return payment


async def order_status(conn: asyncpg.Connection, order_id: int) -> str:
    status: str = await conn.fetchval("SELECT status FROM orders.orders WHERE id = $1", order_id)
    return status


async def test_a_payment_for_an_unknown_order_is_not_found_and_writes_nothing(
    graphql: GraphQL, raw_connection: asyncpg.Connection
) -> None:
    body = await graphql(RECORD_PAYMENT, orderId=777, amount="10.00", currency="EUR")

    assert error_codes(body) == ["NOT_FOUND"]
    assert body["data"] == {"recordPayment": None}
    assert await raw_connection.fetchval("SELECT count(*) FROM payments.payments") == 0


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        pytest.param("0", "EUR", id="zero-amount"),
        pytest.param("-5.00", "EUR", id="negative-amount"),
        pytest.param("1.001", "EUR", id="three-decimal-amount"),
        pytest.param("10000000.01", "EUR", id="amount-too-large"),
        pytest.param("NaN", "EUR", id="nan-amount"),
        pytest.param("Infinity", "EUR", id="infinite-amount"),
        pytest.param("10.00", "", id="empty-currency"),
        pytest.param("10.00", "EU", id="two-letter-currency"),
        pytest.param("10.00", "EURO", id="four-letter-currency"),
        pytest.param("10.00", "E1R", id="digit-in-currency"),
        pytest.param("10.00", "€UR", id="symbol-in-currency"),
        pytest.param("10.00", "ÄÖÜ", id="non-ascii-currency"),
        pytest.param("10.00", "E\x00R", id="nul-in-currency"),
    ],
)
async def test_a_bad_amount_or_currency_is_bad_user_input_and_writes_nothing(
    graphql: GraphQL,
    raw_connection: asyncpg.Connection,
    order_id: int,
    amount: str,
    currency: str,
) -> None:
    body = await graphql(RECORD_PAYMENT, orderId=order_id, amount=amount, currency=currency)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await raw_connection.fetchval("SELECT count(*) FROM payments.payments") == 0
    assert await order_status(raw_connection, order_id) == "PENDING"


async def test_a_full_payment_moves_the_order_to_paid(
    graphql: GraphQL, raw_connection: asyncpg.Connection, order_id: int
) -> None:
    payment = await record_payment(graphql, order_id, "40.50", currency=" eur ")

    assert payment["amount"] == "40.50"
    assert payment["currency"] == "EUR"
    assert payment["status"] == "SUCCEEDED"
    assert payment["order"] == {"id": order_id, "status": "PAID"}
    assert await order_status(raw_connection, order_id) == "PAID"
    row = await raw_connection.fetchrow("SELECT order_id, amount, currency FROM payments.payments")
    assert row is not None
    assert tuple(row) == (order_id, Decimal("40.50"), "EUR")


async def test_partial_payments_pay_the_order_once_they_add_up_to_its_total(
    graphql: GraphQL, raw_connection: asyncpg.Connection, order_id: int
) -> None:
    first = await record_payment(graphql, order_id, "40.00")
    assert first["order"]["status"] == "PENDING"
    assert await order_status(raw_connection, order_id) == "PENDING"

    second = await record_payment(graphql, order_id, "0.50")

    assert second["order"]["status"] == "PAID"
    assert await order_status(raw_connection, order_id) == "PAID"


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "PENDING", "REFUNDED"])
async def test_a_client_cannot_choose_a_payments_status(
    graphql: GraphQL, raw_connection: asyncpg.Connection, order_id: int, status: str
) -> None:
    # Before: status was an input field, so a client could record a SUCCEEDED payment it
    # never made, or a FAILED one that hid a real one.
    body = await graphql(
        "mutation ($orderId: Int!, $status: PaymentStatus!) { recordPayment(input: "
        '{orderId: $orderId, amount: "40.50", currency: "EUR", status: $status}) { id } }',
        orderId=order_id,
        status=status,
    )

    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert await raw_connection.fetchval("SELECT count(*) FROM payments.payments") == 0
    assert await order_status(raw_connection, order_id) == "PENDING"


async def test_payments_of_an_order_resolve_with_their_order(
    graphql: GraphQL, order_id: int
) -> None:
    first = await record_payment(graphql, order_id, "40.00")
    second = await record_payment(graphql, order_id, "0.50", currency="eur")

    body = await graphql(ORDER_PAYMENTS, id=order_id)

    assert body == {
        "data": {
            "order": {
                "status": "PAID",
                "payments": {
                    "nodes": [
                        {
                            "id": first["id"],
                            "amount": "40.00",
                            "currency": "EUR",
                            "status": "SUCCEEDED",
                            "order": {"id": order_id},
                        },
                        {
                            "id": second["id"],
                            "amount": "0.50",
                            "currency": "EUR",
                            "status": "SUCCEEDED",
                            "order": {"id": order_id},
                        },
                    ]
                },
            }
        }
    }


async def test_payments_of_an_order_are_paged(graphql: GraphQL, order_id: int) -> None:
    ids = [(await record_payment(graphql, order_id, "1.00"))["id"] for _ in range(3)]
    query = """
    query ($id: Int!, $after: String) {
      order(id: $id) {
        payments(first: 2, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } }
      }
    }
    """

    first = (await graphql(query, id=order_id))["data"]["order"]["payments"]
    after = first["pageInfo"]["endCursor"]
    second = (await graphql(query, id=order_id, after=after))["data"]["order"]["payments"]

    assert [node["id"] for node in first["nodes"]] == ids[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [node["id"] for node in second["nodes"]] == ids[2:]
    assert second["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("attempt", INJECTION_ATTEMPTS)
async def test_sql_in_a_currency_is_bad_user_input(
    graphql: GraphQL, raw_connection: asyncpg.Connection, order_id: int, attempt: str
) -> None:
    body = await graphql(RECORD_PAYMENT, orderId=order_id, amount="1.00", currency=attempt)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await raw_connection.fetchval("SELECT count(*) FROM payments.payments") == 0
    assert await service_tables(raw_connection) == SERVICE_TABLES


@pytest.mark.parametrize("attempt", INJECTION_ATTEMPTS)
async def test_sql_in_a_payments_after_cursor_is_bad_user_input(
    graphql: GraphQL, raw_connection: asyncpg.Connection, order_id: int, attempt: str
) -> None:
    await record_payment(graphql, order_id, "1.00")

    body = await graphql(
        "query ($id: Int!, $after: String) { order(id: $id) { payments(after: $after) "
        "{ nodes { id } } } }",
        id=order_id,
        after=attempt,
    )

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await raw_connection.fetchval("SELECT count(*) FROM payments.payments") == 1
    assert await service_tables(raw_connection) == SERVICE_TABLES


async def test_a_payment_locks_records_and_pays_its_order_in_one_transaction(
    graphql: GraphQL, order_id: int
) -> None:
    data, statements = await counted(
        graphql, RECORD_PAYMENT, orderId=order_id, amount="40.50", currency="EUR"
    )

    assert data["recordPayment"]["order"] == {"id": order_id, "status": "PAID"}
    # Before: the order was read, the payment committed in a transaction of its own, and the
    # order marked PAID in another: a timeout or a crash in between split them.
    begin, lock, paid, insert, mark, commit, read = (" ".join(q.split()) for q in statements)
    assert (begin, commit) == ("BEGIN;", "COMMIT;")
    assert 'FROM "orders".orders WHERE id = $1 FOR UPDATE' in lock
    assert 'FROM "payments".payments' in paid
    assert "idempotency_key = $2" in paid
    assert 'INSERT INTO "payments".payments' in insert
    assert 'UPDATE "orders".orders SET status = $2' in mark
    assert 'FROM "orders".orders WHERE id = ANY' in read  # the answer's order, as committed
