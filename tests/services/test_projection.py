"""A page reads only the columns its query selects on the nodes (RowObjects.for_nodes_of),
and answers exactly as if it had read them all.

The seed is written with SQL straight into each schema; the statements are recorded with
the app's query logger (tests/services/__init__.py, `counted`).
"""

from __future__ import annotations

import re

import asyncpg
import pytest

from tests.services import GraphQL, counted

PAGE_OF_PAYMENTS = """
query {
  users(first: 5) {
    nodes { orders(first: 3) { nodes { id payments(first: 3) { PAYMENT_SELECTION } } } }
  }
}
"""
EVERY_PAYMENT_COLUMN = ["id", "order_id", "amount", "currency", "status", "created_at"]
EVERY_ORDER_COLUMN = ["id", "user_id", "status", "total", "currency", "created_at"]


@pytest.fixture
async def seeded(raw_connection: asyncpg.Connection) -> None:
    """2 users with 2 orders each; every order has 2 payments (the second one FAILED)."""
    await raw_connection.execute(
        "INSERT INTO users.users (email, name) VALUES ('a@example.com', 'A'), "
        "('b@example.com', 'B')"
    )
    await raw_connection.execute(
        "INSERT INTO orders.orders (user_id, total, created_at) "
        "SELECT u.id, 20 + n, ('2026-01-0' || n || 'T10:00:00Z')::timestamptz "
        "FROM users.users u CROSS JOIN generate_series(1, 2) n ORDER BY u.id, n"
    )
    await raw_connection.execute(
        "INSERT INTO payments.payments (order_id, amount, currency, status, created_at) "
        "SELECT o.id, 10 + n, 'EUR', CASE n WHEN 1 THEN 'SUCCEEDED' ELSE 'FAILED' END, "
        "('2026-02-0' || n || 'T08:30:00Z')::timestamptz "
        "FROM orders.orders o CROSS JOIN generate_series(1, 2) n ORDER BY o.id, n"
    )


def selected_columns(statements: list[str], table: str) -> list[str]:
    """The names in the outer SELECT list of the one statement that reads `table`."""
    [statement] = [query for query in statements if f"{table} " in query or f"{table}\n" in query]
    match = re.match(r"\s*SELECT (.*?) FROM", statement, re.DOTALL)
    assert match is not None, statement
    # `amount::text AS amount`: a column read as text (RowObjects' as_text) is its output name
    return [column.split()[-1] for column in match.group(1).split(",")]


def payments_of(data: dict[str, object]) -> list[object]:
    users = data["users"]["nodes"]  # type: ignore[index]
    return [order["payments"] for user in users for order in user["orders"]["nodes"]]


async def test_a_page_reads_only_the_selected_columns_and_the_ids(
    graphql: GraphQL, seeded: None
) -> None:
    query = PAGE_OF_PAYMENTS.replace("PAYMENT_SELECTION", "nodes { amount }")
    data, statements = await counted(graphql, query)

    assert selected_columns(statements, '"payments".payments') == ["id", "order_id", "amount"]
    assert payments_of(data) == [{"nodes": [{"amount": "11.00"}, {"amount": "12.00"}]}] * 4


async def test_every_selected_field_is_read_through_fragments_and_aliases(
    graphql: GraphQL, seeded: None
) -> None:
    query = (
        PAGE_OF_PAYMENTS.replace(
            "PAYMENT_SELECTION",
            "nodes { money: amount ...When ... on Payment { status } __typename }",
        )
        + "fragment When on Payment { createdAt }"
    )
    data, statements = await counted(graphql, query)

    assert selected_columns(statements, '"payments".payments') == [
        "id",
        "order_id",
        "amount",
        "status",
        "created_at",
    ]
    first, second = payments_of(data)[0]["nodes"]  # type: ignore[index]
    assert first == {
        "money": "11.00",
        "createdAt": "2026-02-01T08:30:00+00:00",
        "status": "SUCCEEDED",
        "__typename": "Payment",
    }
    assert second["status"] == "FAILED"


async def test_a_field_with_a_resolver_reads_every_column(graphql: GraphQL, seeded: None) -> None:
    # Payment.order's resolver may read any attribute of the payment: nothing is left out.
    query = PAGE_OF_PAYMENTS.replace("PAYMENT_SELECTION", "nodes { amount order { id } }")
    data, statements = await counted(graphql, query)

    assert selected_columns(statements, '"payments".payments') == EVERY_PAYMENT_COLUMN
    for page in payments_of(data):
        assert [node["order"]["id"] for node in page["nodes"]] != []  # type: ignore[index]


async def test_page_info_alone_reads_the_ids_and_still_pages(
    graphql: GraphQL, seeded: None
) -> None:
    query = PAGE_OF_PAYMENTS.replace(
        "PAYMENT_SELECTION", "pageInfo { hasNextPage endCursor }"
    ).replace("payments(first: 3)", "payments(first: 1)")
    data, statements = await counted(graphql, query)

    assert selected_columns(statements, '"payments".payments') == ["id", "order_id"]
    pages = payments_of(data)
    assert all(page["pageInfo"]["hasNextPage"] for page in pages)  # type: ignore[index]
    cursors = {page["pageInfo"]["endCursor"] for page in pages}  # type: ignore[index]
    assert len(cursors) == 4  # each order's own first payment


async def test_a_skipped_field_is_still_read_but_not_answered(
    graphql: GraphQL, seeded: None
) -> None:
    query = PAGE_OF_PAYMENTS.replace(
        "PAYMENT_SELECTION", "nodes { amount currency @skip(if: true) }"
    )
    data, statements = await counted(graphql, query)

    assert "currency" in selected_columns(statements, '"payments".payments')
    assert payments_of(data)[0] == {"nodes": [{"amount": "11.00"}, {"amount": "12.00"}]}


async def test_two_selections_of_one_page_each_read_their_own_columns(
    graphql: GraphQL, seeded: None
) -> None:
    query = PAGE_OF_PAYMENTS.replace(
        "payments(first: 3) { PAYMENT_SELECTION }",
        "a: payments(first: 3) { nodes { amount } } b: payments(first: 3) { nodes { currency } }",
    )
    data, statements = await counted(graphql, query)

    payment_statements = [q for q in statements if '"payments".payments' in q]
    assert len(payment_statements) == 2
    order = data["users"]["nodes"][0]["orders"]["nodes"][0]
    assert order["a"] == {"nodes": [{"amount": "11.00"}, {"amount": "12.00"}]}
    assert order["b"] == {"nodes": [{"currency": "EUR"}, {"currency": "EUR"}]}


async def test_orders_are_narrowed_too_unless_a_resolver_is_selected(
    graphql: GraphQL, seeded: None
) -> None:
    narrow = "query { users { nodes { orders { nodes { total } } } } }"
    data, statements = await counted(graphql, narrow)
    assert selected_columns(statements, '"orders".orders') == ["id", "user_id", "total"]
    assert data["users"]["nodes"][0]["orders"]["nodes"] == [{"total": "21.00"}, {"total": "22.00"}]

    # payments is another service's field on Order: it has a resolver, so nothing is left out.
    wide = (
        "query { users(first: 5) { nodes { orders { nodes { total "
        "payments(first: 2) { nodes { id } } } } } } }"
    )
    _, statements = await counted(graphql, wide)
    assert selected_columns(statements, '"orders".orders') == EVERY_ORDER_COLUMN
