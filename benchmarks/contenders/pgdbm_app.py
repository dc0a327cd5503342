"""pgdbm + Strawberry: the same schema with dataloaders, on the `pgdbm` package from PyPI.

The rival a team would build without this project: one shared pool from
`pgdbm.AsyncDatabaseManager.create_shared_pool`, a schema-bound manager per service,
`{{tables.x}}` templates, `fetch_all` rows as dicts, and Strawberry's DataLoader batching
each level into one statement.

    uvicorn benchmarks.contenders.pgdbm_app:create --factory
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import FastAPI
from pgdbm import AsyncDatabaseManager, DatabaseConfig, SchemaManager
from strawberry.dataloader import DataLoader

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

__all__ = ["Managers", "PgdbmSource", "create"]

RowT = TypeVar("RowT")

USERS_BY_IDS = "SELECT id, email, name, created_at FROM {{tables.users}} WHERE id = ANY($1::int[])"
USERS_PAGE = (
    "SELECT id, email, name, created_at FROM {{tables.users}} "
    "WHERE ($1::int IS NULL OR id > $1) ORDER BY id LIMIT $2"
)
ORDERS_OF_USERS = """
SELECT id, user_id, status, total, created_at FROM (
    SELECT id, user_id, status, total, created_at,
           row_number() OVER (PARTITION BY user_id ORDER BY id) AS position
    FROM {{tables.orders}}
    WHERE user_id = ANY($1::int[]) AND ($2::int IS NULL OR id > $2)
) ranked
WHERE position <= $3
ORDER BY user_id, id
"""
PAYMENTS_OF_ORDERS = """
SELECT id, order_id, amount, currency, status, created_at FROM (
    SELECT id, order_id, amount, currency, status, created_at,
           row_number() OVER (PARTITION BY order_id ORDER BY id) AS position
    FROM {{tables.payments}}
    WHERE order_id = ANY($1::int[]) AND ($2::int IS NULL OR id > $2)
) ranked
WHERE position <= $3
ORDER BY order_id, id
"""
ITEMS_OF_ORDERS = (
    "SELECT id, order_id, sku, quantity, unit_price FROM {{tables.line_items}} "
    "WHERE order_id = ANY($1::int[]) ORDER BY order_id, id"
)
INSERT_ORDER = (
    "INSERT INTO {{tables.orders}} (user_id, total) VALUES ($1, $2) "
    "RETURNING id, user_id, status, total, created_at"
)
INSERT_ITEM = (
    "INSERT INTO {{tables.line_items}} (order_id, sku, quantity, unit_price) "
    "VALUES ($1, $2, $3, $4)"
)


class Managers:
    """One pgdbm manager per service schema, all on one shared pool."""

    def __init__(self, pool: Any) -> None:
        self.users = AsyncDatabaseManager(pool=pool, schema="users")
        self.orders = AsyncDatabaseManager(pool=pool, schema="orders")
        self.payments = AsyncDatabaseManager(pool=pool, schema="payments")


def _page_key(key: tuple[int, Page]) -> Hashable:
    return (key[0], key[1].key)


class PgdbmSource:
    """Per-request dataloaders over the managers: one statement per level."""

    def __init__(self, db: Managers) -> None:
        self._db = db
        self._users: DataLoader[int, User | None] = DataLoader(load_fn=self._load_users)
        self._orders: DataLoader[tuple[int, Page], list[Order]] = DataLoader(
            load_fn=self._load_orders, cache_key_fn=_page_key
        )
        self._payments: DataLoader[tuple[int, Page], list[Payment]] = DataLoader(
            load_fn=self._load_payments, cache_key_fn=_page_key
        )
        self._items: DataLoader[int, list[LineItem]] = DataLoader(load_fn=self._load_items)

    async def user(self, user_id: int) -> User | None:
        return await self._users.load(user_id)

    async def users(self, page: Page) -> list[User]:
        rows = await self._db.users.fetch_all(USERS_PAGE, page.after_id, page.limit)
        return [user_from(row) for row in rows]

    async def orders_of_user(self, user_id: int, page: Page) -> list[Order]:
        return await self._orders.load((user_id, page))

    async def payments_of_order(self, order_id: int, page: Page) -> list[Payment]:
        return await self._payments.load((order_id, page))

    async def items_of_order(self, order_id: int) -> list[LineItem]:
        return await self._items.load(order_id)

    async def place_order(
        self, user_id: int, items: list[tuple[str, int, Decimal]]
    ) -> Order | None:
        if await self.user(user_id) is None:
            return None
        total = sum((price * quantity for _, quantity, price in items), Decimal(0))
        async with self._db.orders.transaction() as tx:
            row = await tx.fetch_one(INSERT_ORDER, user_id, total)
            assert row is not None
            await tx.executemany(INSERT_ITEM, [(row["id"], *item) for item in items])
        return order_from(row)

    async def _load_users(self, ids: list[int]) -> list[User | None]:
        rows = await self._db.users.fetch_all(USERS_BY_IDS, ids)
        found = {row["id"]: user_from(row) for row in rows}
        return [found.get(user_id) for user_id in ids]

    async def _load_orders(self, keys: list[tuple[int, Page]]) -> list[list[Order]]:
        return await _children(self._db.orders, ORDERS_OF_USERS, keys, order_from, "user_id")

    async def _load_payments(self, keys: list[tuple[int, Page]]) -> list[list[Payment]]:
        return await _children(
            self._db.payments, PAYMENTS_OF_ORDERS, keys, payment_from, "order_id"
        )

    async def _load_items(self, order_ids: list[int]) -> list[list[LineItem]]:
        grouped: dict[int, list[LineItem]] = defaultdict(list)
        for row in await self._db.orders.fetch_all(ITEMS_OF_ORDERS, order_ids):
            grouped[row["order_id"]].append(line_item_from(row))
        return [grouped[order_id] for order_id in order_ids]


async def _children(
    db: AsyncDatabaseManager,
    query: str,
    keys: list[tuple[int, Page]],
    build: Callable[[dict[str, Any]], RowT],
    parent_column: str,
) -> list[list[RowT]]:
    """Each parent's page of children, one statement per distinct page."""
    parents: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    pages: dict[tuple[int, int | None], Page] = {}
    for parent_id, page in keys:
        parents[page.key].append(parent_id)
        pages[page.key] = page
    children: dict[tuple[int, tuple[int, int | None]], list[RowT]] = defaultdict(list)
    for page_key, parent_ids in parents.items():
        page = pages[page_key]
        for row in await db.fetch_all(query, parent_ids, page.after_id, page.limit):
            children[(row[parent_column], page_key)].append(build(row))
    return [children[(parent_id, page.key)] for parent_id, page in keys]


@asynccontextmanager
async def _sources() -> AsyncIterator[Callable[[], Source]]:
    size = pool_size()
    config = DatabaseConfig(
        connection_string=database_url(), min_connections=size, max_connections=size
    )
    pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        db = Managers(pool)
        for manager in (db.users, db.orders, db.payments):
            await SchemaManager(manager).ensure_schema_exists()  # the schemas exist: a no-op
        yield lambda: PgdbmSource(db)
    finally:
        await pool.close()


def create() -> FastAPI:
    """uvicorn's factory."""
    return build_app("pgdbm + Strawberry", _sources)
