"""The orders service through the gateway: placing orders, and orders of users."""

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
mutation ($email: String!) { createUser(input: {email: $email, name: "Buyer"}) { id } }
"""
PLACE_ORDER = """
mutation ($userId: Int!, $items: [LineItemInput!]!) {
  placeOrder(input: {userId: $userId, items: $items}) {
    id status total
    items { sku quantity unitPrice }
    user { id }
  }
}
"""
ORDERS_OF_USERS = """
query ($first: Int, $after: String) {
  users {
    nodes {
      id
      orders(first: $first, after: $after) {
        nodes { id user { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""
ORDERS_OF_USER = """
query ($id: Int!, $first: Int, $after: String) {
  user(id: $id) {
    orders(first: $first, after: $after) {
      nodes { id }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


def item(sku: str = "BOOK-001", quantity: int = 1, unit_price: str = "9.99") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unitPrice": unit_price}


async def create_user(graphql: GraphQL, email: str = "buyer@example.com") -> int:
    body = await graphql(CREATE_USER, email=email)
    assert "errors" not in body, body
    user_id: int = body["data"]["createUser"]["id"]
    return user_id


async def place_order(graphql: GraphQL, user_id: int, *items: dict[str, Any]) -> dict[str, Any]:
    body = await graphql(PLACE_ORDER, userId=user_id, items=list(items or [item()]))
    assert "errors" not in body, body
    order: dict[str, Any] = body["data"]["placeOrder"]
    return order


async def rows_written(conn: asyncpg.Connection) -> tuple[int, int]:
    orders = await conn.fetchval("SELECT count(*) FROM orders.orders")
    items = await conn.fetchval("SELECT count(*) FROM orders.line_items")
    return orders, items


async def test_an_order_for_an_unknown_user_is_not_found_and_writes_nothing(
    graphql: GraphQL, raw_connection: asyncpg.Connection
) -> None:
    body = await graphql(PLACE_ORDER, userId=4242, items=[item()])

    assert error_codes(body) == ["NOT_FOUND"]
    assert body["data"] == {"placeOrder": None}
    assert await rows_written(raw_connection) == (0, 0)


async def test_a_placed_order_stores_its_total_line_items_and_pending_status(
    graphql: GraphQL, raw_connection: asyncpg.Connection
) -> None:
    user_id = await create_user(graphql)

    order = await place_order(
        graphql,
        user_id,
        item("BOOK-001", 2, "19.99"),
        item("PEN-014", 3, "0.50"),
        item("GIFT-CARD", 1, "0"),
    )

    assert order["status"] == "PENDING"
    assert Decimal(order["total"]) == Decimal("41.48")
    assert order["user"] == {"id": user_id}
    assert order["items"] == [
        {"sku": "BOOK-001", "quantity": 2, "unitPrice": "19.99"},
        {"sku": "PEN-014", "quantity": 3, "unitPrice": "0.50"},
        {"sku": "GIFT-CARD", "quantity": 1, "unitPrice": "0.00"},
    ]
    row = await raw_connection.fetchrow("SELECT id, user_id, status, total FROM orders.orders")
    assert row is not None
    assert dict(row) == {
        "id": order["id"],
        "user_id": user_id,
        "status": "PENDING",
        "total": Decimal("41.48"),
    }
    items = await raw_connection.fetch(
        "SELECT order_id, sku, quantity, unit_price FROM orders.line_items ORDER BY id"
    )
    assert [tuple(row) for row in items] == [
        (order["id"], "BOOK-001", 2, Decimal("19.99")),
        (order["id"], "PEN-014", 3, Decimal("0.50")),
        (order["id"], "GIFT-CARD", 1, Decimal("0.00")),
    ]


async def test_placing_an_order_costs_the_user_check_and_one_insert_in_a_transaction(
    graphql: GraphQL,
) -> None:
    user_id = await create_user(graphql)

    data, statements = await counted(
        graphql,
        PLACE_ORDER,
        userId=user_id,
        items=[item("BOOK-0042", 2, "12.90"), item("MUG-0007", 1, "8.5")],
    )

    placed = data["placeOrder"]
    # The answer's items are the stored rows, as a later read gives them (8.5 is stored 8.50);
    # its user is the one the check loaded: no statement reads either.
    assert placed["total"] == "34.30"
    assert placed["items"] == [
        {"sku": "BOOK-0042", "quantity": 2, "unitPrice": "12.90"},
        {"sku": "MUG-0007", "quantity": 1, "unitPrice": "8.50"},
    ]
    assert placed["user"] == {"id": user_id}
    assert len(statements) == 4, statements
    check, begin, insert, commit = (" ".join(query.split()) for query in statements)
    assert 'SELECT id, email, name, created_at FROM "users".users' in check
    assert (begin, commit) == ("BEGIN;", "COMMIT;")
    assert 'INSERT INTO "orders".orders' in insert
    assert 'INSERT INTO "orders".line_items' in insert
    read = await graphql(
        "query ($id: Int!) { order(id: $id) { total items { sku quantity unitPrice } } }",
        id=placed["id"],
    )
    assert read == {"data": {"order": {"total": "34.30", "items": placed["items"]}}}


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([], id="no-items"),
        pytest.param([item(quantity=0)], id="zero-quantity"),
        pytest.param([item(quantity=-2)], id="negative-quantity"),
        pytest.param([item(quantity=10_001)], id="quantity-too-large"),
        pytest.param([item(unit_price="-0.01")], id="negative-price"),
        pytest.param([item(unit_price="1.005")], id="three-decimal-price"),
        pytest.param([item(unit_price="1000000.01")], id="price-too-large"),
        pytest.param([item(unit_price="NaN")], id="nan-price"),
        pytest.param([item(unit_price="Infinity")], id="infinite-price"),
        pytest.param([item(unit_price="-Infinity")], id="negative-infinite-price"),
        pytest.param([item(sku="")], id="empty-sku"),
        pytest.param([item(sku="   ")], id="blank-sku"),
        pytest.param([item(sku="S" * 65)], id="sku-too-long"),
        pytest.param([item(sku="NUL\x00SKU")], id="nul-in-sku"),
        pytest.param([item(sku="HALF-\ud800")], id="surrogate-in-sku"),
        pytest.param([item()] * 51, id="too-many-items"),
        pytest.param([item(), item(quantity=0)], id="one-bad-item-among-good-ones"),
    ],
)
async def test_invalid_items_are_bad_user_input_and_write_nothing(
    graphql: GraphQL, raw_connection: asyncpg.Connection, items: list[dict[str, Any]]
) -> None:
    user_id = await create_user(graphql)

    body = await graphql(PLACE_ORDER, userId=user_id, items=items)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] == {"placeOrder": None}
    assert await rows_written(raw_connection) == (0, 0)


async def test_a_total_beyond_what_an_order_can_hold_is_bad_user_input(
    graphql: GraphQL, raw_connection: asyncpg.Connection
) -> None:
    user_id = await create_user(graphql)

    # Each line is within its limits; together they exceed the NUMERIC(12, 2) total.
    body = await graphql(
        PLACE_ORDER, userId=user_id, items=[item(quantity=10_000, unit_price="1000000")] * 2
    )

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await rows_written(raw_connection) == (0, 0)


async def test_order_by_id_resolves_its_user_and_is_null_when_unknown(graphql: GraphQL) -> None:
    user_id = await create_user(graphql)
    order = await place_order(graphql, user_id)

    query = "query ($id: Int!) { order(id: $id) { id user { id name } } }"
    found = await graphql(query, id=order["id"])
    missing = await graphql(query, id=order["id"] + 1000)

    assert found == {
        "data": {"order": {"id": order["id"], "user": {"id": user_id, "name": "Buyer"}}}
    }
    assert missing == {"data": {"order": None}}


async def test_orders_of_users_are_paged_per_user(graphql: GraphQL) -> None:
    ada = await create_user(graphql, "ada@example.com")
    grace = await create_user(graphql, "grace@example.com")
    nobody = await create_user(graphql, "nobody@example.com")
    ada_orders = [(await place_order(graphql, ada))["id"] for _ in range(3)]
    grace_orders = [(await place_order(graphql, grace))["id"]]
    ada_orders.append((await place_order(graphql, ada))["id"])  # ids interleave across users

    body = await graphql(ORDERS_OF_USERS, first=1)

    assert "errors" not in body, body
    pages = {user["id"]: user["orders"] for user in body["data"]["users"]["nodes"]}
    assert [node["id"] for node in pages[ada]["nodes"]] == ada_orders[:1]
    assert pages[ada]["pageInfo"]["hasNextPage"] is True
    assert pages[ada]["nodes"][0]["user"] == {"id": ada}
    assert [node["id"] for node in pages[grace]["nodes"]] == grace_orders
    assert pages[grace]["pageInfo"]["hasNextPage"] is False
    assert pages[nobody] == {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}

    seen = [node["id"] for node in pages[ada]["nodes"]]
    after = pages[ada]["pageInfo"]["endCursor"]
    while after is not None:
        body = await graphql(ORDERS_OF_USER, id=ada, first=1, after=after)
        assert "errors" not in body, body
        connection = body["data"]["user"]["orders"]
        seen += [node["id"] for node in connection["nodes"]]
        after = (
            connection["pageInfo"]["endCursor"] if connection["pageInfo"]["hasNextPage"] else None
        )
    assert seen == ada_orders


async def test_orders_first_above_the_maximum_is_bad_user_input(graphql: GraphQL) -> None:
    user_id = await create_user(graphql)

    body = await graphql(ORDERS_OF_USER, id=user_id, first=101)

    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("attempt", INJECTION_ATTEMPTS)
async def test_sql_in_a_sku_is_stored_verbatim(
    graphql: GraphQL, raw_connection: asyncpg.Connection, attempt: str
) -> None:
    user_id = await create_user(graphql)

    order = await place_order(graphql, user_id, item(sku=attempt))

    assert order["items"][0]["sku"] == attempt
    assert await raw_connection.fetchval("SELECT sku FROM orders.line_items") == attempt
    assert await service_tables(raw_connection) == SERVICE_TABLES


@pytest.mark.parametrize("attempt", INJECTION_ATTEMPTS)
async def test_sql_in_an_orders_after_cursor_is_bad_user_input(
    graphql: GraphQL, raw_connection: asyncpg.Connection, attempt: str
) -> None:
    user_id = await create_user(graphql)
    await place_order(graphql, user_id)

    body = await graphql(ORDERS_OF_USER, id=user_id, after=attempt)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await rows_written(raw_connection) == (1, 1)
    assert await service_tables(raw_connection) == SERVICE_TABLES


@pytest.mark.parametrize("unit_price", ["abc", "1e999999", ""])
async def test_a_price_that_is_not_a_decimal_is_bad_user_input(
    graphql: GraphQL, raw_connection: asyncpg.Connection, unit_price: str
) -> None:
    user_id = await create_user(graphql)
    body = await graphql(PLACE_ORDER, userId=user_id, items=[item(unit_price=unit_price)])
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await rows_written(raw_connection) == (0, 0)
