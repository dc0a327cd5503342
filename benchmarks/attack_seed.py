"""The attack run's data: every user with the same number of orders, payments and items.

    async with attack_database(url, DataShape(100, 20, 20, 3)) as database: ...

The issue's attacks ran on 100 users x 20 orders x 20 payments; an even spread (unlike the
throughput benchmark's uneven seed) lets each candidate of the ladder know exactly how many
values its answer holds. Migrations come from benchmarks/database.py, as the embedded server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg

from benchmarks.attack_queries import DataShape
from benchmarks.database import Database, benchmark_database, embedded_server

__all__ = ["attack_database", "seed_attack_data"]

_SEED = [
    """
    INSERT INTO users.users (email, name, created_at)
    SELECT 'customer' || n || '@example.com', 'Customer ' || n,
           timestamptz '2024-01-01 00:00:00+00' + n * interval '1 hour'
    FROM generate_series(1, $1) n
    """,
    """
    INSERT INTO orders.orders (user_id, status, total, created_at)
    SELECT u.id, 'PENDING', 10 + (u.id * 7 + n) % 490,
           timestamptz '2024-06-01 00:00:00+00' + n * interval '1 day'
    FROM users.users u, generate_series(1, $1) n
    ORDER BY u.id, n
    """,
    """
    INSERT INTO payments.payments (order_id, amount, currency, status, created_at)
    SELECT o.id, 1 + n, 'EUR', 'SUCCEEDED', o.created_at + n * interval '1 minute'
    FROM orders.orders o, generate_series(1, $1) n
    ORDER BY o.id, n
    """,
    """
    INSERT INTO orders.line_items (order_id, sku, quantity, unit_price)
    SELECT o.id, 'SKU-' || n, n, 9.90
    FROM orders.orders o, generate_series(1, $1) n
    ORDER BY o.id, n
    """,
]


async def seed_attack_data(url: str, shape: DataShape) -> None:
    """Seed the migrated, empty database at `url` with `shape`."""
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT count(*) FROM users.users"):
            raise RuntimeError(
                "The attack run seeds its own data and needs empty tables; point DATABASE_URL "
                "at a new database."
            )
        async with conn.transaction():
            for statement, count in zip(
                _SEED, (shape.users, shape.orders, shape.payments, shape.items), strict=True
            ):
                await conn.execute(statement, count)
        await conn.execute(
            "ANALYZE users.users, orders.orders, orders.line_items, payments.payments"
        )
    finally:
        await conn.close()


@asynccontextmanager
async def attack_database(url: str | None, shape: DataShape) -> AsyncIterator[Database]:
    """The database at `url` (an empty one), or a new embedded server's when None: migrated
    and seeded with `shape`; the embedded server is stopped and removed on exit."""
    async with AsyncExitStack() as stack:
        if url is None:
            url = await stack.enter_async_context(embedded_server())
        database = await stack.enter_async_context(benchmark_database(url))
        await seed_attack_data(url, shape)
        yield database
