"""Databases migrated by earlier gateways: every module's rows in one
`public.schema_migrations` with a `schema_name` column, checksums of the raw text. Starting
on one, nothing runs again, each schema's rows move to its own pgdbm-layout table (pgdbm's
checksums), and the old table goes once it is empty."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pgdbm

from gateway.db import AsyncDatabaseManager, AsyncMigrationManager, DatabaseConfig
from tests.tracking_rows import tracked

Factory = Callable[[str], AsyncDatabaseManager]

EARLIER_LAYOUT = """
CREATE TABLE public.schema_migrations (
    id SERIAL PRIMARY KEY,
    filename VARCHAR(255) NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    module_name VARCHAR(255) NOT NULL,
    schema_name VARCHAR(63),
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    execution_time_ms REAL,
    UNIQUE (module_name, filename)
)
"""
USERS_001 = "CREATE TABLE {{tables.accounts}} (id INT PRIMARY KEY);\n"
USERS_002 = "CREATE TABLE {{tables.roles}} (id INT PRIMARY KEY);\n"
ORDERS_001 = "CREATE TABLE {{tables.orders}} (id INT PRIMARY KEY);\n"


def write_files(root: Path) -> None:
    (root / "users").mkdir(parents=True)
    (root / "orders").mkdir(parents=True)
    (root / "users" / "001_accounts.sql").write_text(USERS_001)
    (root / "orders" / "001_orders.sql").write_text(ORDERS_001)


async def migrated_by_an_earlier_gateway(conn: asyncpg.Connection) -> None:
    """What an earlier gateway left: the tables, and its records of them."""
    await conn.execute(
        "CREATE SCHEMA users; CREATE TABLE users.accounts (id INT PRIMARY KEY);"
        "CREATE SCHEMA orders; CREATE TABLE orders.orders (id INT PRIMARY KEY);" + EARLIER_LAYOUT
    )
    for module, filename, content in (
        ("users", "001_accounts.sql", USERS_001),
        ("orders", "001_orders.sql", ORDERS_001),
    ):
        await conn.execute(
            "INSERT INTO public.schema_migrations "
            "(filename, checksum, module_name, schema_name, execution_time_ms) "
            "VALUES ($1, $2, $3, $3, 2.5)",
            filename,
            hashlib.sha256(content.encode()).hexdigest(),  # the raw text's, as they recorded
            module,
        )


async def test_earlier_gateways_rows_move_to_each_schema_and_nothing_runs_again(
    tmp_path: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write_files(tmp_path)
    (tmp_path / "users" / "002_roles.sql").write_text(USERS_002)
    await migrated_by_an_earlier_gateway(raw_connection)
    users = AsyncMigrationManager(manager_factory("users"), tmp_path / "users", module_name="users")

    # Read before any run holds the lock: the old rows count as applied.
    assert [m.filename for m in await users.get_pending_migrations()] == ["002_roles.sql"]
    result = await users.apply_pending_migrations()

    assert [entry["filename"] for entry in result["applied"]] == ["002_roles.sql"]
    assert result["skipped"] == ["001_accounts.sql"]
    rows = await raw_connection.fetch(
        "SELECT filename, checksum, execution_time_ms FROM users.schema_migrations ORDER BY id"
    )
    assert [row["filename"] for row in rows] == ["001_accounts.sql", "002_roles.sql"]
    # pgdbm's checksum now, so that pgdbm accepts the file as unchanged
    assert rows[0]["checksum"] == hashlib.sha256(USERS_001.strip().encode()).hexdigest()
    assert rows[0]["execution_time_ms"] == 2  # pgdbm's whole milliseconds
    # orders has not run yet: its row is still in the old table, which therefore stays.
    left = await raw_connection.fetch("SELECT module_name FROM public.schema_migrations")
    assert [row["module_name"] for row in left] == ["orders"]

    orders = AsyncMigrationManager(
        manager_factory("orders"), tmp_path / "orders", module_name="orders"
    )
    assert (await orders.apply_pending_migrations())["status"] == "up_to_date"
    assert not await raw_connection.fetchval("SELECT to_regclass('public.schema_migrations')")
    assert sorted(await tracked(raw_connection)) == [
        ("orders", "001_orders.sql"),
        ("users", "001_accounts.sql"),
        ("users", "002_roles.sql"),
    ]


async def test_a_record_forgotten_after_the_move_is_not_brought_back(
    tmp_path: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write_files(tmp_path)
    await migrated_by_an_earlier_gateway(raw_connection)
    users = AsyncMigrationManager(manager_factory("users"), tmp_path / "users", module_name="users")
    await users.apply_pending_migrations()
    await raw_connection.execute("DROP TABLE users.accounts")

    await users.rollback_migration("001_accounts.sql")
    result = await users.apply_pending_migrations()

    assert [entry["filename"] for entry in result["applied"]] == ["001_accounts.sql"]
    assert await raw_connection.fetchval("SELECT to_regclass('users.accounts') IS NOT NULL")


async def test_pgdbm_accepts_a_database_an_earlier_gateway_migrated_once_the_gateway_ran(
    tmp_path: Path,
    database_url: str,
    manager_factory: Factory,
    raw_connection: asyncpg.Connection,
) -> None:
    write_files(tmp_path)
    await migrated_by_an_earlier_gateway(raw_connection)
    for name in ("users", "orders"):
        await AsyncMigrationManager(
            manager_factory(name), tmp_path / name, module_name=name
        ).apply_pending_migrations()

    pool = await pgdbm.AsyncDatabaseManager.create_shared_pool(
        pgdbm.DatabaseConfig(connection_string=database_url, min_connections=1, max_connections=1)
    )
    try:
        for name in ("users", "orders"):
            manager = pgdbm.AsyncMigrationManager(
                pgdbm.AsyncDatabaseManager(pool=pool, schema=name),
                migrations_path=str(tmp_path / name),
                module_name=name,
            )
            assert (await manager.apply_pending_migrations())["status"] == "up_to_date"
    finally:
        await pool.close()


async def test_a_public_manager_on_the_earlier_table_upgrades_it_in_place(
    tmp_path: Path, database_url: str, raw_connection: asyncpg.Connection
) -> None:
    # A manager without a schema tracks in `schema_migrations` on the search path, the very
    # table earlier gateways wrote: it gains pgdbm's applied_by column and keeps its rows.
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "001_t.sql").write_text("CREATE TABLE t (id INT);\n")
    (tmp_path / "app" / "002_u.sql").write_text("CREATE TABLE u (id INT);\n")
    await raw_connection.execute(EARLIER_LAYOUT + "; CREATE TABLE public.t (id INT)")
    await raw_connection.execute(
        "INSERT INTO public.schema_migrations (filename, checksum, module_name) "
        "VALUES ('001_t.sql', $1, 'app')",
        hashlib.sha256(b"CREATE TABLE t (id INT);\n").hexdigest(),
    )
    db = AsyncDatabaseManager(DatabaseConfig(connection_string=database_url, min_connections=1))
    await db.connect()
    try:
        manager = AsyncMigrationManager(db, tmp_path / "app", module_name="app")
        result = await manager.apply_pending_migrations()
        history = await manager.get_migration_history()
    finally:
        await db.disconnect()

    assert [entry["filename"] for entry in result["applied"]] == ["002_u.sql"]
    assert [entry["filename"] for entry in history] == ["002_u.sql", "001_t.sql"]
    assert history[0]["applied_by"] == await raw_connection.fetchval("SELECT current_user")
    assert await tracked(raw_connection) == [("app", "001_t.sql"), ("app", "002_u.sql")]
