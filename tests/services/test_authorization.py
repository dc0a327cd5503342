"""The shop's rules (README, "The shop's rules") over real HTTP with real tokens, on the demo
data: Ada is user 1 (orders 1 PAID and 2 PENDING), Grace user 2 (orders 3 and 4). A user
reads and changes only their own account, orders and payments; an admin everything; an
anonymous client only signs up. Refusals write nothing, and loaders never carry one
viewer's rows into another's request."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tests.services import counted, error_codes
from tests.services.shop import Shop
from tests.tokens import ADMIN_TOKEN, token_for

ADA, GRACE = token_for(1), token_for(2)
OWN_ACCOUNT = """
query ($id: Int!) {
  user(id: $id) {
    id email
    orders { nodes { id total payments { nodes { amount } } } }
  }
}
"""
PLACE_ORDER = """
mutation ($userId: Int!) {
  placeOrder(input: {userId: $userId, items: [{sku: "MUG-042", quantity: 1, unitPrice: "7.25"}]}) {
    id user { id }
  }
}
"""
RECORD_PAYMENT = """
mutation ($orderId: Int!) {
  recordPayment(input: {orderId: $orderId, amount: "1.00", currency: "EUR"}) { id }
}
"""
COUNT_ROWS = "SELECT (SELECT count(*) FROM orders.orders), (SELECT count(*) FROM payments.payments)"


async def rows(database_url: str) -> tuple[int, int]:
    """How many orders and payments the database holds."""
    connection = await asyncpg.connect(database_url)
    try:
        record = await connection.fetchrow(COUNT_ROWS)
    finally:
        await connection.close()
    assert record is not None
    return record[0], record[1]


async def test_a_user_reads_their_own_account_orders_and_payments(shop: Shop) -> None:
    body = await shop.ask(OWN_ACCOUNT, ADA, id=1)

    assert body == {
        "data": {
            "user": {
                "id": 1,
                "email": "ada@example.com",
                "orders": {
                    "nodes": [
                        {"id": 1, "total": "47.40", "payments": {"nodes": [{"amount": "47.40"}]}},
                        {"id": 2, "total": "1299.00", "payments": {"nodes": []}},
                    ]
                },
            }
        }
    }


async def test_a_user_is_refused_another_users_account_and_list_of_users(shop: Shop) -> None:
    body = await shop.ask(
        "{ user(id: 2) { email } users { nodes { email } } me { id email } }", ADA
    )

    assert body["data"] == {
        "user": None,
        "users": None,
        "me": {"id": 1, "email": "ada@example.com"},
    }
    assert sorted((e["path"][0], e["extensions"]["code"]) for e in body["errors"]) == [
        ("user", "FORBIDDEN"),
        ("users", "FORBIDDEN"),
    ]


async def test_another_users_order_is_null_as_if_there_were_none(shop: Shop) -> None:
    theirs = await shop.ask("{ order(id: 3) { id total items { sku } } }", ADA)
    missing = await shop.ask("{ order(id: 999) { id } }", ADA)
    mine = await shop.ask("{ order(id: 2) { id user { name } } }", ADA)

    assert theirs == missing == {"data": {"order": None}}  # no error tells that 3 exists
    assert mine == {"data": {"order": {"id": 2, "user": {"name": "Ada Lovelace"}}}}


async def test_an_admin_reads_every_users_email_orders_and_payments(shop: Shop) -> None:
    body = await shop.ask(
        "{ users(first: 10) { nodes { id email orders(first: 5) { nodes { "
        "payments(first: 5) { nodes { amount } } } } } } "
        "order(id: 3) { user { email } } }",
        ADMIN_TOKEN,
    )

    assert "errors" not in body, body
    users = body["data"]["users"]["nodes"]
    assert [user["email"] for user in users] == [
        "ada@example.com",
        "grace@example.com",
        "alan@example.com",
        "katherine@example.com",
        "edsger@example.com",
    ]
    assert all(len(user["orders"]["nodes"]) == 2 for user in users)
    assert body["data"]["order"] == {"user": {"email": "grace@example.com"}}


async def test_an_anonymous_client_signs_up_and_reads_nothing_else(shop: Shop) -> None:
    signed_up = await shop.ask(
        'mutation { createUser(input: {email: "new@example.com", name: "New"}) { id name } }'
    )
    refused = await shop.ask(
        "{ me { id } users { nodes { id } } user(id: 1) { name } order(id: 1) { id } }"
    )

    assert signed_up == {"data": {"createUser": {"id": 6, "name": "New"}}}
    assert refused["data"] == {"me": None, "users": None, "user": None, "order": None}
    assert sorted(error_codes(refused)) == ["FORBIDDEN"] * 3


async def test_a_user_places_orders_for_themselves_only(
    shop: Shop, migrated_database_url: str
) -> None:
    before = await rows(migrated_database_url)
    for_grace = await shop.ask(PLACE_ORDER, ADA, userId=2)
    anonymous = await shop.ask(PLACE_ORDER, userId=1)

    assert for_grace["data"] == anonymous["data"] == {"placeOrder": None}
    assert error_codes(for_grace) == error_codes(anonymous) == ["FORBIDDEN"]
    assert await rows(migrated_database_url) == before  # nothing written

    for_herself = await shop.ask(PLACE_ORDER, ADA, userId=1)
    by_admin = await shop.ask(PLACE_ORDER, ADMIN_TOKEN, userId=2)
    assert for_herself["data"]["placeOrder"]["user"] == {"id": 1}
    assert by_admin["data"]["placeOrder"]["user"] == {"id": 2}


async def test_paying_another_users_order_is_not_found_and_writes_nothing(
    shop: Shop, migrated_database_url: str
) -> None:
    before = await rows(migrated_database_url)
    theirs = await shop.ask(RECORD_PAYMENT, ADA, orderId=4)
    missing = await shop.ask(RECORD_PAYMENT, ADA, orderId=999)
    anonymous = await shop.ask(RECORD_PAYMENT, orderId=2)

    assert theirs["data"] == missing["data"] == {"recordPayment": None}
    assert error_codes(theirs) == error_codes(missing) == ["NOT_FOUND"]
    # The same answer as for an order that does not exist, but for the id.
    assert theirs["errors"][0]["message"] == "There is no order with id 4."
    assert missing["errors"][0]["message"] == "There is no order with id 999."
    assert error_codes(anonymous) == ["FORBIDDEN"]
    assert await rows(migrated_database_url) == before

    mine = await shop.ask(RECORD_PAYMENT, ADA, orderId=2)
    by_admin = await shop.ask(RECORD_PAYMENT, ADMIN_TOKEN, orderId=4)
    assert "errors" not in mine, mine
    assert "errors" not in by_admin, by_admin
    assert await rows(migrated_database_url) == (before[0], before[1] + 2)


async def test_a_refused_mutation_leaves_its_siblings_answers(shop: Shop) -> None:
    body = await shop.ask(
        'mutation { theirs: placeOrder(input: {userId: 2, items: [{sku: "A-1", quantity: 1, '
        'unitPrice: "1.00"}]}) { id } mine: placeOrder(input: {userId: 1, items: [{sku: "A-2", '
        'quantity: 1, unitPrice: "1.00"}]}) { id } }',
        ADA,
    )

    assert body["data"] == {"theirs": None, "mine": {"id": 11}}
    assert error_codes(body) == ["FORBIDDEN"]


async def test_two_viewers_in_concurrent_requests_never_see_each_others_rows(shop: Shop) -> None:
    query = (
        "{ me { id email orders { nodes { id user { id email } payments { nodes { id } } } } } }"
    )
    expected_orders = {"1": [1, 2], "2": [3, 4]}

    async def as_user(user: str) -> None:
        body = await shop.ask(query, token_for(user))
        assert "errors" not in body, body
        me = body["data"]["me"]
        assert me["id"] == int(user)
        assert [order["id"] for order in me["orders"]["nodes"]] == expected_orders[user]
        assert {order["user"]["id"] for order in me["orders"]["nodes"]} == {int(user)}

    await asyncio.gather(*(as_user(user) for _ in range(20) for user in ("1", "2")))


async def test_a_users_nested_read_is_still_one_statement_per_level(shop: Shop) -> None:
    async def graphql(query: str, **variables: Any) -> Any:
        return await shop.ask(query, ADA, **variables)

    data, statements = await counted(graphql, OWN_ACCOUNT, id=1)

    assert data["user"]["email"] == "ada@example.com"
    assert len(statements) == 3, statements  # the user, their orders, the orders' payments
