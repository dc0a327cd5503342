"""The benchmark's PostgreSQL: an embedded server with pg_stat_statements, the schema, the seed.

`seeded_database(url, size)` yields a migrated, seeded `Database` on DATABASE_URL when given,
else on a new embedded server in a temporary directory (`embedded_server()`), started with
`shared_preload_libraries = 'pg_stat_statements'` so statements can be counted on the server
side. Counting works on any server that has the extension loaded; elsewhere it reports None
("n/a").
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

import services
from gateway.app import migrate_services
from gateway.db import AsyncDatabaseManager
from gateway.db.embedded import EmbeddedPostgres
from gateway.settings import Settings

__all__ = [
    "Database",
    "SeedSize",
    "StatementCount",
    "benchmark_database",
    "embedded_server",
    "seeded_database",
]

# The statements that read or write the services' tables, whoever wrote them
# (`"orders".orders` from a template, `orders.orders` by hand).
_DATA_STATEMENT = r'(users|orders|payments)"?\.(users|orders|line_items|payments)\M'
_COUNT_STATEMENTS = """
SELECT coalesce(sum(calls) FILTER (WHERE query ~ $1), 0)::bigint AS data,
       coalesce(sum(calls), 0)::bigint AS every
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
"""


@dataclass(frozen=True)
class SeedSize:
    """How many rows the seed writes: per user, 10 orders and 20 payments on average."""

    users: int

    @property
    def orders(self) -> int:
        return self.users * 10

    @property
    def payments(self) -> int:
        return self.users * 20


@dataclass(frozen=True)
class StatementCount:
    """Statement executions seen by pg_stat_statements: those on the services' tables
    (`data`) and all of them (`every`: also BEGIN/COMMIT and the pool's reset on release)."""

    data: int
    every: int

    def __sub__(self, other: StatementCount) -> StatementCount:
        return StatementCount(self.data - other.data, self.every - other.every)


class Database:
    """The benchmark database, through one connection of the harness's own."""

    def __init__(self, url: str, conn: asyncpg.Connection, *, counts_statements: bool) -> None:
        self.url = url
        self._conn = conn
        self.counts_statements = counts_statements
        self._seeded_max_order = 0

    async def server_version(self) -> str:
        version: str = await self._conn.fetchval("SHOW server_version")
        return version

    async def migrate(self) -> None:
        """Apply the services' migrations, as the gateway does at startup."""
        settings = Settings(database_url=self.url, min_connections=1, max_connections=2)
        pool = await AsyncDatabaseManager.create_shared_pool(settings.database_config())
        try:
            managers = {
                s.name: AsyncDatabaseManager(pool=pool, schema=s.name) for s in services.SERVICES
            }
            await migrate_services(managers, settings)
        finally:
            await pool.close()

    async def seed(self, size: SeedSize) -> None:
        """Users, orders spread unevenly over them (some users have more than a page),
        payments spread over orders (some have none); deterministic for a given size."""
        existing = await self._conn.fetchval("SELECT count(*) FROM users.users")
        if existing:
            raise RuntimeError(
                f"The benchmark seeds its own data and needs empty tables; users.users has "
                f"{existing} rows. Point DATABASE_URL at a new database."
            )
        async with self._conn.transaction():
            await self._conn.execute("SELECT setseed(0.42)")
            await self._conn.execute(
                """
                INSERT INTO users.users (email, name, created_at)
                SELECT 'customer' || n || '@example.com', 'Customer ' || n,
                       timestamptz '2024-01-01 00:00:00+00' + n * interval '61.123457 minutes'
                FROM generate_series(1, $1) n
                """,
                size.users,
            )
            await self._conn.execute(
                """
                INSERT INTO orders.orders (user_id, status, total, created_at)
                SELECT 1 + floor(random() * $1)::int,
                       (ARRAY['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'])
                           [1 + floor(random() * 4)::int],
                       round((5 + random() * 495)::numeric, 2),
                       timestamptz '2024-06-01 00:00:00+00' + random() * interval '365 days'
                FROM generate_series(1, $2)
                """,
                size.users,
                size.orders,
            )
            await self._conn.execute(
                """
                INSERT INTO payments.payments (order_id, amount, currency, status, created_at)
                SELECT o.id, o.total,
                       (ARRAY['EUR', 'USD', 'GBP'])[1 + floor(random() * 3)::int],
                       (ARRAY['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'FAILED', 'REFUNDED'])
                           [1 + floor(random() * 5)::int],
                       o.created_at + random() * interval '2 days'
                FROM (
                    SELECT (SELECT min(id) FROM orders.orders) + floor(random() * $1)::int AS id
                    FROM generate_series(1, $2)
                ) picked
                JOIN orders.orders o USING (id)
                """,
                size.orders,
                size.payments,
            )
        await self._conn.execute("ANALYZE users.users, orders.orders, payments.payments")
        self._seeded_max_order = await self._conn.fetchval("SELECT max(id) FROM orders.orders")

    async def restore_seed(self) -> None:
        """Remove the orders placed since the seed (their line items cascade)."""
        await self._conn.execute("DELETE FROM orders.orders WHERE id > $1", self._seeded_max_order)
        await self._conn.execute("VACUUM orders.orders, orders.line_items")

    async def row_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table in ("users.users", "orders.orders", "payments.payments"):
            counts[table] = await self._conn.fetchval(f"SELECT count(*) FROM {table}")
        return counts

    async def statements(self) -> StatementCount | None:
        """Statement executions so far in this database (None without pg_stat_statements)."""
        if not self.counts_statements:
            return None
        row = await self._conn.fetchrow(_COUNT_STATEMENTS, _DATA_STATEMENT)
        assert row is not None
        return StatementCount(row["data"], row["every"])


@asynccontextmanager
async def embedded_server() -> AsyncIterator[str]:
    """A new embedded PostgreSQL with pg_stat_statements loaded; removed on exit."""
    run_dir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    data_dir = run_dir / "data"
    try:
        # shared_preload_libraries is read at server start only: set it, then restart.
        server = EmbeddedPostgres.start(data_dir)
        try:
            conn = await asyncpg.connect(server.url)
            try:
                await conn.execute(
                    "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
                )
            finally:
                await conn.close()
        finally:
            server.stop()
        server = EmbeddedPostgres.start(data_dir, delete=True)
        try:
            yield server.url
        finally:
            server.stop()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


@asynccontextmanager
async def benchmark_database(url: str) -> AsyncIterator[Database]:
    """The database at `url`, migrated; statements are counted if pg_stat_statements works."""
    conn = await asyncpg.connect(url)
    try:
        counts = await _enable_pg_stat_statements(conn)
        database = Database(url, conn, counts_statements=counts)
        await database.migrate()
        yield database
    finally:
        await conn.close()


@asynccontextmanager
async def seeded_database(url: str | None, size: SeedSize) -> AsyncIterator[Database]:
    """The database at `url` (an empty one), or on a new embedded server when None: migrated
    and seeded with `size`.

    async with seeded_database(os.environ.get("DATABASE_URL"), SeedSize(1000)) as database: ...
    """
    async with AsyncExitStack() as stack:
        if url is None:
            url = await stack.enter_async_context(embedded_server())
        database = await stack.enter_async_context(benchmark_database(url))
        await database.seed(size)
        yield database


async def _enable_pg_stat_statements(conn: asyncpg.Connection) -> bool:
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
    except asyncpg.PostgresError:
        # Not installed, or not in shared_preload_libraries ("must be loaded via ...").
        return False
    return True
