"""The orders service's SQL, on its own schema only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from gateway.db import AsyncDatabaseManager
from gateway.pagination import PageArgs
from services.orders.types import LineItem, Order, OrderStatus

_ORDER_COLUMNS = "id, user_id, status, total, created_at"

ORDERS_BY_IDS = f"SELECT {_ORDER_COLUMNS} FROM {{{{tables.orders}}}} WHERE id = ANY($1::int[])"
# The first $3 orders after $2 of every user in $1, in one statement.
ORDERS_OF_USERS = f"""
SELECT {_ORDER_COLUMNS} FROM (
    SELECT {_ORDER_COLUMNS}, row_number() OVER (PARTITION BY user_id ORDER BY id) AS position
    FROM {{{{tables.orders}}}}
    WHERE user_id = ANY($1::int[]) AND ($2::int IS NULL OR id > $2)
) ranked
WHERE position <= $3
ORDER BY user_id, id
"""
ITEMS_OF_ORDERS = (
    "SELECT id, order_id, sku, quantity, unit_price FROM {{tables.line_items}} "
    "WHERE order_id = ANY($1::int[]) ORDER BY order_id, id"
)
INSERT_ORDER = (
    f"INSERT INTO {{{{tables.orders}}}} (user_id, total) VALUES ($1, $2) RETURNING {_ORDER_COLUMNS}"
)
INSERT_ITEM = (
    "INSERT INTO {{tables.line_items}} (order_id, sku, quantity, unit_price) "
    "VALUES ($1, $2, $3, $4)"
)
SET_STATUS = (
    f"UPDATE {{{{tables.orders}}}} SET status = $2 WHERE id = $1 RETURNING {_ORDER_COLUMNS}"
)


def _order(row: asyncpg.Record | Mapping[str, Any]) -> Order:
    return Order(
        id=row["id"],
        user_id=row["user_id"],
        status=OrderStatus(row["status"]),
        total=row["total"],
        created_at=row["created_at"],
    )


async def orders_by_ids(db: AsyncDatabaseManager, ids: Sequence[int]) -> list[Order]:
    return [_order(row) for row in await db.fetch_records(ORDERS_BY_IDS, list(ids))]


async def orders_of_users(
    db: AsyncDatabaseManager, user_ids: Sequence[int], page: PageArgs
) -> list[Order]:
    rows = await db.fetch_records(ORDERS_OF_USERS, list(user_ids), page.after_id, page.limit)
    return [_order(row) for row in rows]


async def items_of_orders(db: AsyncDatabaseManager, order_ids: Sequence[int]) -> list[LineItem]:
    rows = await db.fetch_records(ITEMS_OF_ORDERS, list(order_ids))
    return [
        LineItem(
            id=row["id"],
            order_id=row["order_id"],
            sku=row["sku"],
            quantity=row["quantity"],
            unit_price=row["unit_price"],
        )
        for row in rows
    ]


async def insert_order(
    db: AsyncDatabaseManager, user_id: int, items: Sequence[tuple[str, int, Decimal]]
) -> Order:
    total = sum((price * quantity for _, quantity, price in items), Decimal("0"))
    async with db.transaction() as tx:
        row = await tx.fetch_one(INSERT_ORDER, user_id, total)
        assert row is not None
        await tx.executemany(INSERT_ITEM, [(row["id"], *item) for item in items])
    return _order(row)


async def set_status(db: AsyncDatabaseManager, order_id: int, status: OrderStatus) -> Order | None:
    rows = await db.fetch_records(SET_STATUS, order_id, status.value)
    return _order(rows[0]) if rows else None
