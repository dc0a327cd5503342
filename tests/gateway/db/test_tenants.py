"""TenantManager against a real PostgreSQL: schemas, tables and tracking rows are read back.

The tenant migrations are deliberately not idempotent (plain CREATE TABLE, one INSERT), so a
second application would fail or leave a second row.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.db import (
    AsyncDatabaseManager,
    DatabaseConfig,
    SchemaError,
    SharedPool,
    TenantManager,
)
from tests.migration_race import eventually
from tests.tracking_rows import tables_in, tracking_rows

NOTES_SQL = """
CREATE TABLE {{tables.notes}} (id SERIAL PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO {{tables.notes}} (body) VALUES ('welcome');
"""
TAGS_SQL = "CREATE TABLE {{tables.tags}} (note_id INT REFERENCES {{tables.notes}}(id));"
FILES = ["001_create_notes.sql", "002_create_tags.sql"]


@pytest.fixture
def tenant_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "tenant_migrations"
    folder.mkdir()
    (folder / FILES[0]).write_text(NOTES_SQL)
    (folder / FILES[1]).write_text(TAGS_SQL)
    return folder


@pytest.fixture
def tenants(shared_pool: SharedPool, tenant_migrations: Path) -> TenantManager:
    return TenantManager(shared_pool, migrations_path=tenant_migrations)


async def tenant_schemas(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT schema_name FROM information_schema.schemata "
        "WHERE schema_name LIKE 'tenant%' ORDER BY schema_name"
    )
    return [row["schema_name"] for row in rows]


async def tracked(conn: asyncpg.Connection) -> list[tuple[str, str | None, str]]:
    """(module_name, schema of its tracking table, filename) rows, in application order."""
    return [
        (row["module_name"], row["schema"], row["filename"]) for row in await tracking_rows(conn)
    ]


async def test_first_use_creates_the_tenant_schema_and_applies_its_migrations(
    tenants: TenantManager, raw_connection: asyncpg.Connection
) -> None:
    db = await tenants.get_tenant_db("acme")

    assert db.schema == "tenant_acme"
    assert await tenant_schemas(raw_connection) == ["tenant_acme"]
    assert await tables_in(raw_connection, "tenant_acme") == {"notes", "tags"}
    assert await tables_in(raw_connection, "public") == set()
    assert await tracked(raw_connection) == [
        ("tenant_acme", "tenant_acme", FILES[0]),
        ("tenant_acme", "tenant_acme", FILES[1]),
    ]
    assert await db.fetch_value("SELECT body FROM {{tables.notes}}") == "welcome"

    assert await tenants.get_tenant_db("acme") is db
    assert len(await tracked(raw_connection)) == 2


async def test_twenty_concurrent_first_requests_create_and_migrate_the_tenant_once(
    tenants: TenantManager, raw_connection: asyncpg.Connection
) -> None:
    dbs = await asyncio.gather(*(tenants.get_tenant_db("rush") for _ in range(20)))

    assert all(db is dbs[0] for db in dbs)
    assert dbs[0].schema == "tenant_rush"
    assert await tracked(raw_connection) == [
        ("tenant_rush", "tenant_rush", FILES[0]),
        ("tenant_rush", "tenant_rush", FILES[1]),
    ]
    assert await raw_connection.fetchval("SELECT count(*) FROM tenant_rush.notes") == 1


async def test_two_tenant_managers_racing_on_a_new_tenant_migrate_it_once(
    shared_pool: SharedPool, tenant_migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    # Two managers share no asyncio lock, like two worker processes: the advisory lock and
    # an idempotent schema creation must keep them apart.
    first = TenantManager(shared_pool, migrations_path=tenant_migrations)
    second = TenantManager(shared_pool, migrations_path=tenant_migrations)

    dbs = await asyncio.gather(
        *(manager.get_tenant_db("shared") for manager in (first, second) for _ in range(5))
    )

    assert {db.schema for db in dbs} == {"tenant_shared"}
    assert [filename for _, _, filename in await tracked(raw_connection)] == FILES
    assert await raw_connection.fetchval("SELECT count(*) FROM tenant_shared.notes") == 1


async def test_schema_created_by_another_session_at_the_same_moment_is_not_an_error(
    tenants: TenantManager, raw_connection: asyncpg.Connection
) -> None:
    # Another worker creates the schema in a transaction that commits while our CREATE
    # SCHEMA IF NOT EXISTS waits on it: PostgreSQL then reports a duplicate.
    other = raw_connection.transaction()
    await other.start()
    await raw_connection.execute('CREATE SCHEMA "tenant_late"')
    request = asyncio.create_task(tenants.get_tenant_db("late"))
    try:

        async def waiting() -> bool:
            if request.done():
                return True
            count = await raw_connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(count)

        await eventually(waiting, "the tenant's CREATE SCHEMA waits on the other session")
    finally:
        await other.commit()

    db = await request
    assert db.schema == "tenant_late"
    assert await tables_in(raw_connection, "tenant_late") == {"notes", "tags"}
    assert len(await tracked(raw_connection)) == 2


@pytest.mark.parametrize(
    "tenant_id",
    [
        "a'b",
        'a"b',
        "a;b",
        "x; DROP SCHEMA public CASCADE; --",
        "a b",
        "",
        "a-b",
        "a.b",
        "café",
        "x" * 57,  # tenant_ + 57 = 64 bytes, over PostgreSQL's 63
    ],
)
async def test_invalid_tenant_ids_raise_schema_error_and_create_nothing(
    tenants: TenantManager, raw_connection: asyncpg.Connection, tenant_id: str
) -> None:
    with pytest.raises(SchemaError):
        await tenants.get_tenant_db(tenant_id)
    with pytest.raises(SchemaError):
        await tenants.drop_tenant(tenant_id)

    assert await tenant_schemas(raw_connection) == []
    assert await tracked(raw_connection) == []
    assert await raw_connection.fetchval(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'public'"
    )


async def test_longest_tenant_id_that_fits_63_bytes_is_accepted(
    tenants: TenantManager, raw_connection: asyncpg.Connection
) -> None:
    tenant_id = "x" * 56

    db = await tenants.get_tenant_db(tenant_id)

    assert db.schema == f"tenant_{tenant_id}"
    assert await tenant_schemas(raw_connection) == [f"tenant_{tenant_id}"]


async def test_list_tenants_returns_tenant_schemas_only_sorted(
    tenants: TenantManager, raw_connection: asyncpg.Connection
) -> None:
    assert await tenants.list_tenants() == []
    await raw_connection.execute('CREATE SCHEMA "users"')
    await raw_connection.execute('CREATE SCHEMA "tenantless"')
    for tenant_id in ("beta", "alpha", "Gamma_2"):
        await tenants.get_tenant_db(tenant_id)

    assert await tenants.list_tenants() == sorted(["alpha", "beta", "Gamma_2"])


async def test_drop_tenant_removes_schema_and_tracking_rows_and_a_later_get_recreates_it(
    tenants: TenantManager, raw_connection: asyncpg.Connection
) -> None:
    dropped = await tenants.get_tenant_db("gone")
    await dropped.execute("INSERT INTO {{tables.notes}} (body) VALUES ('private')")
    await tenants.get_tenant_db("kept")

    await tenants.drop_tenant("gone")

    assert await tenant_schemas(raw_connection) == ["tenant_kept"]
    assert [module for module, _, _ in await tracked(raw_connection)] == ["tenant_kept"] * 2
    assert await tenants.list_tenants() == ["kept"]

    recreated = await tenants.get_tenant_db("gone")

    assert recreated is not dropped
    assert recreated.schema == "tenant_gone"
    rows = await raw_connection.fetch("SELECT body FROM tenant_gone.notes")
    assert [row["body"] for row in rows] == ["welcome"]
    assert sorted(await tracked(raw_connection)) == sorted(
        [(f"tenant_{t}", f"tenant_{t}", f) for t in ("gone", "kept") for f in FILES]
    )


async def test_drop_tenant_of_an_unknown_tenant_is_a_no_op(
    tenants: TenantManager, raw_connection: asyncpg.Connection
) -> None:
    await tenants.drop_tenant("never_created")

    assert await tenant_schemas(raw_connection) == []


async def test_drop_tenant_works_on_a_one_connection_pool(
    database_url: str, tenant_migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    config = DatabaseConfig(
        connection_string=database_url, min_connections=1, max_connections=1, retry_attempts=1
    )
    pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        tenants = TenantManager(pool, migrations_path=tenant_migrations)
        await tenants.get_tenant_db("solo")

        # One connection: drop_tenant must not need a second one while it holds the first.
        await asyncio.wait_for(tenants.drop_tenant("solo"), 10)

        assert await tenant_schemas(raw_connection) == []
        assert await tracked(raw_connection) == []
    finally:
        await pool.close()


# The "Multi-Tenant Extension" block of shared-pool-pattern.md, as written; only pgdbm's
# import line is replaced by ours. It is the user's own class, not gateway.db.TenantManager.
SEED_TENANT_MANAGER = """
from gateway.db import AsyncDatabaseManager, AsyncMigrationManager

# tenant_manager.py
class TenantManager:
    def __init__(self, shared_pool):
        self.shared_pool = shared_pool
        self.tenant_dbs = {}

    async def get_tenant_db(self, tenant_id: str):
        if tenant_id not in self.tenant_dbs:
            schema = f"tenant_{tenant_id}"

            # Create schema
            admin_db = AsyncDatabaseManager(pool=self.shared_pool)
            await admin_db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')

            # Create tenant manager
            tenant_db = AsyncDatabaseManager(pool=self.shared_pool, schema=schema)

            # Run migrations
            migrations = AsyncMigrationManager(
                tenant_db,
                migrations_path="tenant_migrations",
                module_name=f"tenant_{tenant_id}"
            )
            await migrations.apply_pending_migrations()

            self.tenant_dbs[tenant_id] = tenant_db

        return self.tenant_dbs[tenant_id]
"""


def load_seed_tenant_manager() -> Any:
    namespace: dict[str, Any] = {"__name__": "seed_tenant_manager"}
    exec(compile(SEED_TENANT_MANAGER, "shared-pool-pattern.md", "exec"), namespace)
    return namespace["TenantManager"]


async def test_seed_tenant_manager_block_runs_as_written_on_our_layer(
    shared_pool: SharedPool,
    tenant_migrations: Path,
    monkeypatch: pytest.MonkeyPatch,
    raw_connection: asyncpg.Connection,
) -> None:
    monkeypatch.chdir(tenant_migrations.parent)  # the block's relative "tenant_migrations"
    SeedTenantManager = load_seed_tenant_manager()

    # Usage, as written
    tenant_mgr = SeedTenantManager(shared_pool)
    tenant_db = await tenant_mgr.get_tenant_db("customer_123")

    assert isinstance(tenant_db, AsyncDatabaseManager)
    assert tenant_db.schema == "tenant_customer_123"
    assert await tenant_mgr.get_tenant_db("customer_123") is tenant_db
    assert await tables_in(raw_connection, "tenant_customer_123") == {"notes", "tags"}
    assert await tracked(raw_connection) == [
        ("tenant_customer_123", "tenant_customer_123", FILES[0]),
        ("tenant_customer_123", "tenant_customer_123", FILES[1]),
    ]
    await tenant_db.execute("INSERT INTO {{tables.notes}} (body) VALUES ('hello')")
    rows = await raw_connection.fetch("SELECT body FROM tenant_customer_123.notes ORDER BY id")
    assert [row["body"] for row in rows] == ["welcome", "hello"]

    # A fresh seed manager (a restart) finds the tenant migrated and applies nothing again.
    restarted = await SeedTenantManager(shared_pool).get_tenant_db("customer_123")
    assert restarted.schema == "tenant_customer_123"
    assert len(await tracked(raw_connection)) == 2

    # Same schema and module naming as gateway.db.TenantManager: each sees the other's work.
    ours = TenantManager(shared_pool, migrations_path=tenant_migrations)
    assert await ours.list_tenants() == ["customer_123"]
    assert (await ours.get_tenant_db("customer_123")).schema == "tenant_customer_123"
    assert len(await tracked(raw_connection)) == 2
    await ours.drop_tenant("customer_123")
    assert await tenant_schemas(raw_connection) == []
    assert await tracked(raw_connection) == []
