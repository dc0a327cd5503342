"""Naive Strawberry: the same schema, each resolver runs its own query (N+1), raw asyncpg.

What a first version usually looks like: no dataloaders, so the nested query costs one
statement per user and one per order.

    uvicorn benchmarks.contenders.naive:create --factory
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import asyncpg
from fastapi import FastAPI

from benchmarks.contenders import database_url, pool_size
from benchmarks.contenders.schema import (
    LineItem,
    Order,
    Page,
    Payment,
    Source,
    User,
    build_app,
    line_item_from,
    order_from,
    payment_from,
    user_from,
)

__all__ = ["NaiveSource", "create"]

USER_BY_ID = "SELECT id, email, name, created_at FROM users.users WHERE id = $1"
USERS_PAGE = (
    "SELECT id, email, name, created_at FROM users.users "
    "WHERE ($1::int IS NULL OR id > $1) ORDER BY id LIMIT $2"
)
ORDERS_OF_USER = (
    "SELECT id, user_id, status, total, created_at FROM orders.orders "
    "WHERE user_id = $1 AND ($2::int IS NULL OR id > $2) ORDER BY id LIMIT $3"
)
PAYMENTS_OF_ORDER = (
    "SELECT id, order_id, amount, currency, status, created_at FROM payments.payments "
    "WHERE order_id = $1 AND ($2::int IS NULL OR id > $2) ORDER BY id LIMIT $3"
)
ITEMS_OF_ORDER = (
    "SELECT id, order_id, sku, quantity, unit_price FROM orders.line_items "
    "WHERE order_id = $1 ORDER BY id"
)
INSERT_ORDER = (
    "INSERT INTO orders.orders (user_id, total) VALUES ($1, $2) "
    "RETURNING id, user_id, status, total, created_at"
)
INSERT_ITEM = (
    "INSERT INTO orders.line_items (order_id, sku, quantity, unit_price) VALUES ($1, $2, $3, $4)"
)


class NaiveSource:
    """Every call is one statement on a connection of its own from the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def user(self, user_id: int) -> User | None:
        row = await self._pool.fetchrow(USER_BY_ID, user_id)
        return None if row is None else user_from(row)

    async def users(self, page: Page) -> list[User]:
        return [
            user_from(row) for row in await self._pool.fetch(USERS_PAGE, page.after_id, page.limit)
        ]

    async def orders_of_user(self, user_id: int, page: Page) -> list[Order]:
        rows = await self._pool.fetch(ORDERS_OF_USER, user_id, page.after_id, page.limit)
        return [order_from(row) for row in rows]

    async def payments_of_order(self, order_id: int, page: Page) -> list[Payment]:
        rows = await self._pool.fetch(PAYMENTS_OF_ORDER, order_id, page.after_id, page.limit)
        return [payment_from(row) for row in rows]

    async def items_of_order(self, order_id: int) -> list[LineItem]:
        return [line_item_from(row) for row in await self._pool.fetch(ITEMS_OF_ORDER, order_id)]

    async def place_order(
        self, user_id: int, items: list[tuple[str, int, Decimal]]
    ) -> Order | None:
        if await self.user(user_id) is None:
            return None
        total = sum((price * quantity for _, quantity, price in items), Decimal(0))
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(INSERT_ORDER, user_id, total)
            assert row is not None
            await conn.executemany(INSERT_ITEM, [(row["id"], *item) for item in items])
        return order_from(row)


@asynccontextmanager
async def _sources() -> AsyncIterator[Callable[[], Source]]:
    size = pool_size()
    pool = await asyncpg.create_pool(database_url(), min_size=size, max_size=size)
    try:
        source = NaiveSource(pool)  # stateless: one serves every request
        yield lambda: source
    finally:
        await pool.close()


def create() -> FastAPI:
    """uvicorn's factory."""
    return build_app("naive Strawberry", _sources)
