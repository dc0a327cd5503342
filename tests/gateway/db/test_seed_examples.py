"""Every code block of shared-pool-pattern.md, run against the real server.

The blocks live in tests/gateway/db/seed/ as written, with `from pgdbm import` replaced by
`from gateway.db import` and postgresql://localhost/myapp by the test database.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import asyncpg
import httpx
import pytest

from gateway.db import (
    AsyncDatabaseManager,
    AsyncMigrationManager,
    DatabaseConfig,
    MigrationError,
    PoolError,
)
from tests.tracking_rows import tracked

USERS_SQL = """
CREATE TABLE IF NOT EXISTS {{tables.users}} (
id SERIAL PRIMARY KEY,
email VARCHAR(255) UNIQUE NOT NULL,
created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS users_email
ON {{tables.users}} (email);
"""
SERVICE_SQL = "CREATE TABLE IF NOT EXISTS {{tables.NAME}} (id SERIAL PRIMARY KEY, total INT);"


@pytest.fixture
def seed_project(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A working directory with the seed's migrations/ layout, and SEED_DSN set."""
    for service in ("users", "orders", "payments"):
        folder = tmp_path / "migrations" / service
        folder.mkdir(parents=True)
        sql = USERS_SQL if service == "users" else SERVICE_SQL.replace("NAME", service)
        (folder / f"001_create_{service}.sql").write_text(sql)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEED_DSN", database_url)
    return tmp_path


def load(name: str) -> ModuleType:
    module = importlib.import_module(f"tests.gateway.db.seed.{name}")
    return importlib.reload(module)  # re-read SEED_DSN for this test's database


async def schemas_and_tables(conn: asyncpg.Connection) -> set[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('users', 'orders', 'payments') "
        "AND table_name <> 'schema_migrations'"
    )
    return {(row["table_schema"], row["table_name"]) for row in rows}


async def backends(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return count


def load_on_pgdbm(name: str) -> ModuleType:
    """The same block with its import line back to `from pgdbm import`, as its authors ran it."""
    path = Path(__file__).parent / "seed" / f"{name}.py"
    source = path.read_text().replace("from gateway.db import", "from pgdbm import")
    module = ModuleType(f"seed_on_pgdbm_{name}")
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


async def test_minimal_example_as_written_is_refused_with_the_fix_since_pgdbm_breaks_on_it(
    seed_project: Path, raw_connection: asyncpg.Connection
) -> None:
    # The example passes the module name third, positionally: in pgdbm's order (ours too)
    # that is migrations_table. The gateway refuses before touching anything, saying how.
    app = load("minimal_example").app
    try:
        with pytest.raises(MigrationError, match=r'migrations_table.*module_name="\.\.\."'):
            async with app.router.lifespan_context(app):
                pytest.fail("the example must not start")
        assert await schemas_and_tables(raw_connection) == set()
    finally:
        await app.state.users_db.pool.close()  # the example closes its pool only after yield


async def test_minimal_example_as_written_fails_on_pgdbm_too(
    seed_project: Path, raw_connection: asyncpg.Connection
) -> None:
    # pgdbm creates no schema for a manager on a shared pool: the example fails at once.
    first = load_on_pgdbm("minimal_example").app
    try:
        with pytest.raises(asyncpg.InvalidSchemaNameError):
            async with first.router.lifespan_context(first):
                pytest.fail("pgdbm must fail on the example")
    finally:
        await first.state.users_db._pool.close()
    # With the schemas there, it tracks in a table named "users" and then fails on the
    # service's own users table (its index on email: the tracking table has no email).
    await raw_connection.execute("CREATE SCHEMA users; CREATE SCHEMA orders")
    second = load_on_pgdbm("minimal_example").app
    try:
        with pytest.raises(Exception, match="email"):
            async with second.router.lifespan_context(second):
                pytest.fail("pgdbm must fail on the example")
        assert ("users", "users") in await schemas_and_tables(raw_connection)
    finally:
        await second.state.users_db._pool.close()


async def test_minimal_example_with_module_name_by_keyword_migrates_through_one_pool(
    seed_project: Path, raw_connection: asyncpg.Connection
) -> None:
    source = Path(__file__).parent / "seed" / "minimal_example.py"
    fixed = source.read_text().replace(
        "AsyncMigrationManager(db, path, name)", "AsyncMigrationManager(db, path, module_name=name)"
    )
    assert fixed != source.read_text()
    module = ModuleType("minimal_example_fixed")
    exec(compile(fixed, str(source), "exec"), module.__dict__)
    app = module.app
    async with app.router.lifespan_context(app):
        assert await schemas_and_tables(raw_connection) == {
            ("users", "users"),
            ("orders", "orders"),
        }
        # ONE pool: the seed's default min_connections=10 is the only set of backends.
        assert await backends(raw_connection) == 10
        user_id = await app.state.users_db.execute_and_return_id(
            "INSERT INTO {{tables.users}} (email) VALUES ($1)", "a@example.com"
        )
        assert await raw_connection.fetchval("SELECT email FROM users.users WHERE id = $1", user_id)
    assert await backends(raw_connection) == 0  # the pool closed on shutdown
    assert sorted(await tracked(raw_connection)) == [
        ("orders", "001_create_orders.sql"),
        ("users", "001_create_users.sql"),
    ]


async def test_lifespan_and_dependency_injection_routes_insert_into_the_users_schema(
    seed_project: Path, raw_connection: asyncpg.Connection
) -> None:
    app = load("lifespan_routes").app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            plain = await client.post("/users", params={"email": "plain@example.com"})
            injected = await client.post("/di/users", params={"email": "di@example.com"})
    assert plain.status_code == injected.status_code == 200
    rows = await raw_connection.fetch("SELECT id, email FROM users.users ORDER BY id")
    assert [(row["id"], row["email"]) for row in rows] == [
        (plain.json()["id"], "plain@example.com"),
        (injected.json()["id"], "di@example.com"),
    ]
    assert not await raw_connection.fetchval("SELECT to_regclass('public.users') IS NOT NULL")


async def test_singleton_hands_one_pool_to_every_service(
    seed_project: Path, database_url: str, raw_connection: asyncpg.Connection
) -> None:
    singleton = load("singleton")
    db_mgr = singleton.SharedDatabaseManager()
    assert singleton.SharedDatabaseManager() is db_mgr
    with pytest.raises(RuntimeError, match="Not initialized"):
        db_mgr.get_pool()
    await db_mgr.initialize(database_url)
    await db_mgr.initialize(database_url)  # a second call is a no-op, not a second pool
    try:
        users_db = AsyncDatabaseManager(pool=db_mgr.get_pool(), schema="users")
        await AsyncMigrationManager(
            users_db, "migrations/users", module_name="users"
        ).apply_pending_migrations()
        assert await users_db.table_exists("users")
        assert await backends(raw_connection) == 10  # one pool of the default size
    finally:
        await db_mgr.close()


async def test_step_by_step_setup_runs_three_services_and_monitoring(
    seed_project: Path, database_url: str, raw_connection: asyncpg.Connection
) -> None:
    # Steps 1-3 and "Monitoring Pool Usage", as written.
    config = DatabaseConfig(
        connection_string=database_url,
        min_connections=10,  # Total for ALL services
        max_connections=50,  # Shared across ALL services
    )
    shared_pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        users_db = AsyncDatabaseManager(pool=shared_pool, schema="users")
        orders_db = AsyncDatabaseManager(pool=shared_pool, schema="orders")
        payments_db = AsyncDatabaseManager(pool=shared_pool, schema="payments")
        for db, path, module in [
            (users_db, "migrations/users", "users"),
            (orders_db, "migrations/orders", "orders"),
            (payments_db, "migrations/payments", "payments"),
        ]:
            migrations = AsyncMigrationManager(db, migrations_path=path, module_name=module)
            await migrations.apply_pending_migrations()

        stats = await shared_pool.get_pool_stats()
        usage = stats["used_size"] / stats["size"]
        assert usage < 0.8
        assert (stats["size"], stats["used_size"], stats["free_size"]) == (10, 0, 10)
        assert stats["max_size"] == 50
        assert await schemas_and_tables(raw_connection) == {
            ("users", "users"),
            ("orders", "orders"),
            ("payments", "payments"),
        }
        with pytest.raises(PoolError, match="Cannot call connect"):
            await users_db.connect()
        with pytest.raises(AttributeError, match="permanent"):
            users_db.schema = "different_schema"
        assert users_db.schema == "users"
    finally:
        await shared_pool.close()


async def test_second_pool_to_the_same_database_logs_a_warning(
    database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
) -> None:
    first = await AsyncDatabaseManager.create_shared_pool(database_config)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.db"):
            second = AsyncDatabaseManager(database_config)
            await second.connect()
            await second.disconnect()
        assert "Creating another connection pool" in caplog.text
        assert "create_shared_pool" in caplog.text
    finally:
        await first.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gateway.db"):
        third = await AsyncDatabaseManager.create_shared_pool(database_config)
        await third.close()
    assert "Creating another connection pool" not in caplog.text
