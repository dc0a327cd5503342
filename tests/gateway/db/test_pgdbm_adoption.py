"""A database the real pgdbm 0.5.0 migrated is adopted by the gateway as it is: pgdbm keeps
its tracking table in each schema (`<schema>.schema_migrations`), and the gateway, starting
on such a database, re-runs none of the files recorded there (a seeded table keeps its 2
rows), applies only its newer files, and still refuses a recorded file that changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pgdbm
import pytest

import services
from gateway.app import create_app
from gateway.db import MigrationError
from gateway.settings import PROJECT_ROOT
from tests.asgi import serve
from tests.tokens import app_settings

SHARED_SERVICES = ("users", "orders", "payments")
# Idempotent DDL with seed rows: run twice, it would leave 4 rows (the finding).
SEED = (
    "CREATE TABLE IF NOT EXISTS {{tables.statuses}} (name TEXT NOT NULL);\n"
    "INSERT INTO {{tables.statuses}} (name) VALUES ('open'), ('closed');\n"
)


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """The shared services' migrations, orders' with a seeding file added; projects' as is."""
    root = tmp_path / "migrations"
    for name in (*SHARED_SERVICES, "projects"):
        shutil.copytree(PROJECT_ROOT / "migrations" / name, root / name)
    (root / "orders" / "003_seed_statuses.sql").write_text(SEED)
    return root


async def migrate_with_pgdbm(database_url: str, migrations: Path) -> None:
    """What a team on pgdbm ran: a shared pool, a manager per schema, its migrations."""
    pool = await pgdbm.AsyncDatabaseManager.create_shared_pool(
        pgdbm.DatabaseConfig(connection_string=database_url, min_connections=1, max_connections=2)
    )
    try:
        for name in SHARED_SERVICES:
            db = pgdbm.AsyncDatabaseManager(pool=pool, schema=name)
            await db.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
            await pgdbm.AsyncMigrationManager(
                db, migrations_path=str(migrations / name), module_name=name
            ).apply_pending_migrations()
    finally:
        await pool.close()


async def start_gateway(database_url: str, migrations: Path) -> None:
    app = create_app(
        app_settings(database_url=database_url, migrations_dir=migrations, max_connections=2),
        services.SERVICES,
    )
    async with serve(app) as client:
        response = await client.post("/graphql", json={"query": "{ __typename }"})
        assert response.status_code == 200


async def test_a_database_pgdbm_migrated_is_adopted_with_nothing_run_twice(
    empty_database_url: str, migrations: Path, tmp_path: Path
) -> None:
    await migrate_with_pgdbm(empty_database_url, migrations)
    (migrations / "orders" / "004_add_notes.sql").write_text(
        "ALTER TABLE {{tables.orders}} ADD COLUMN notes TEXT;\n"
    )

    await start_gateway(empty_database_url, migrations)
    await start_gateway(empty_database_url, migrations)  # and again: still nothing twice

    connection = await asyncpg.connect(empty_database_url)
    try:
        statuses = await connection.fetchval("SELECT count(*) FROM orders.statuses")
        rows = await connection.fetch(
            "SELECT module_name, filename FROM orders.schema_migrations ORDER BY id"
        )
        elsewhere = await connection.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = "
            "'schema_migrations' AND table_schema NOT IN ('users', 'orders', 'payments', "
            "'gateway')"  # schema gateway: the gateway's own tables, tracked there
        )
        notes = await connection.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'orders' AND table_name = 'orders' AND column_name = 'notes'"
        )
    finally:
        await connection.close()
    assert statuses == 2  # the seed ran once, by pgdbm
    # pgdbm's three records untouched, and only the gateway's newer file applied, recorded
    # beside them in pgdbm's table (no table of the gateway's own).
    assert [tuple(row) for row in rows] == [
        ("orders", "001_create_orders.sql"),
        ("orders", "002_add_currency_and_idempotency_key.sql"),
        ("orders", "003_seed_statuses.sql"),
        ("orders", "004_add_notes.sql"),
    ]
    assert elsewhere == 0
    assert notes == 1


async def test_pgdbm_sees_what_the_gateway_applied_and_runs_nothing_again(
    empty_database_url: str, migrations: Path
) -> None:
    await start_gateway(empty_database_url, migrations)

    pool = await pgdbm.AsyncDatabaseManager.create_shared_pool(
        pgdbm.DatabaseConfig(
            connection_string=empty_database_url, min_connections=1, max_connections=2
        )
    )
    try:
        for name in SHARED_SERVICES:
            db = pgdbm.AsyncDatabaseManager(pool=pool, schema=name)
            manager = pgdbm.AsyncMigrationManager(
                db, migrations_path=str(migrations / name), module_name=name
            )
            assert await manager.get_pending_migrations() == []
            result = await manager.apply_pending_migrations()
            assert result["status"] == "up_to_date", (name, result)
            history = await manager.get_migration_history()
            assert {entry["module_name"] for entry in history} == {name}
    finally:
        await pool.close()
    connection = await asyncpg.connect(empty_database_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM orders.statuses") == 2
    finally:
        await connection.close()


async def test_a_file_changed_since_pgdbm_applied_it_is_refused(
    empty_database_url: str, migrations: Path
) -> None:
    await migrate_with_pgdbm(empty_database_url, migrations)
    # Other line ends and trailing blank lines are no change (pgdbm normalises them too)...
    seed = migrations / "orders" / "003_seed_statuses.sql"
    seed.write_text(SEED.replace("\n", "\r\n") + "\n\n")
    await start_gateway(empty_database_url, migrations)

    # ...but another statement is.
    seed.write_text(SEED + "INSERT INTO {{tables.statuses}} (name) VALUES ('lost');\n")
    with pytest.raises(MigrationError, match=r"003_seed_statuses\.sql.*has been modified"):
        await start_gateway(empty_database_url, migrations)
