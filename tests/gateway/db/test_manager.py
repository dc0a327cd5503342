"""AsyncDatabaseManager's query API, on a shared pool, against the real server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
import pgdbm
import pytest
from pydantic import BaseModel

from gateway.db import (
    AsyncDatabaseManager,
    ConfigurationError,
    DatabaseConfig,
    PoolError,
    QueryError,
    SchemaError,
    SchemaManager,
    SharedPool,
    count_statements,
)
from gateway.db.templates import render_template
from gateway.graphql.errors import error_from_database_error

Factory = Callable[[str], AsyncDatabaseManager]


class Item(BaseModel):
    id: int
    name: str


async def make_items_table(db: AsyncDatabaseManager) -> None:
    await db.execute(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"')
    await db.execute("CREATE TABLE {{tables.items}} (id SERIAL PRIMARY KEY, name TEXT NOT NULL)")


@pytest.fixture
async def orders_db(manager_factory: Factory) -> AsyncDatabaseManager:
    db = manager_factory("orders")
    await make_items_table(db)
    return db


async def test_query_methods_return_pgdbm_shapes(orders_db: AsyncDatabaseManager) -> None:
    first = await orders_db.execute_and_return_id(
        "INSERT INTO {{tables.items}} (name) VALUES ($1)", "apple"
    )
    returned = await orders_db.execute_and_return_id(
        "INSERT INTO {{tables.items}} (name) VALUES ($1) RETURNING id;", "pear"
    )
    assert (first, returned) == (1, 2)
    assert await orders_db.execute("UPDATE {{tables.items}} SET name = upper(name)") == "UPDATE 2"
    await orders_db.executemany(
        "INSERT INTO {{tables.items}} (name) VALUES ($1)", [("fig",), ("kiwi",)]
    )
    await orders_db.execute_many("INSERT INTO {{tables.items}} (name) VALUES ($1)", [("lime",)])
    assert await orders_db.fetch_value("SELECT count(*) FROM {{tables.items}}") == 5
    assert (
        await orders_db.fetch_value("SELECT id, name FROM {{tables.items}} WHERE id = 1", column=1)
        == "APPLE"
    )
    assert await orders_db.fetch_val("SELECT name FROM {{tables.items}} WHERE id = 99") is None
    assert await orders_db.fetch_one("SELECT * FROM {{tables.items}} WHERE id = $1", 2) == {
        "id": 2,
        "name": "PEAR",
    }
    assert await orders_db.fetch_one("SELECT * FROM {{tables.items}} WHERE id = 99") is None
    rows = await orders_db.fetch_all("SELECT * FROM {{tables.items}} ORDER BY id")
    assert [row["name"] for row in rows] == ["APPLE", "PEAR", "fig", "kiwi", "lime"]
    assert await orders_db.fetch_as_model(
        Item, "SELECT * FROM {{tables.items}} WHERE id = 1"
    ) == Item(id=1, name="APPLE")
    assert (
        await orders_db.fetch_as_model(Item, "SELECT * FROM {{tables.items}} WHERE false") is None
    )
    models = await orders_db.fetch_all_as_model(Item, "SELECT * FROM {{tables.items}} ORDER BY id")
    assert [model.name for model in models][:2] == ["APPLE", "PEAR"]


async def test_copy_records_to_table_loads_into_the_managers_schema(
    orders_db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    count = await orders_db.copy_records_to_table(
        "items", records=[("a",), ("b",), ("c",)], columns=["name"]
    )
    assert count == 3
    assert await raw_connection.fetchval("SELECT count(*) FROM orders.items") == 3
    with pytest.raises(SchemaError):
        await orders_db.copy_records_to_table("items; DROP TABLE x", records=[("a",)])


async def test_table_exists_looks_in_own_or_named_schema(
    orders_db: AsyncDatabaseManager, manager_factory: Factory
) -> None:
    assert await orders_db.table_exists("items")
    assert await orders_db.table_exists("orders.items")
    assert not await orders_db.table_exists("missing")
    assert not await manager_factory("users").table_exists("items")
    with pytest.raises(SchemaError):
        await orders_db.table_exists("items'--")


async def test_prepare_query_shows_the_rendered_sql(manager_factory: Factory) -> None:
    db = manager_factory("myapp")
    assert db.prepare_query("SELECT * FROM {{tables.users}}") == 'SELECT * FROM "myapp".users'
    assert db.prepare_query("SELECT {{schema}}.f()") == 'SELECT "myapp".f()'
    assert db.prepare_query("SELECT * FROM {{tables.other.users}}") == (
        'SELECT * FROM "other".users'
    )


def test_templates_are_rendered_once_per_query_text_and_schema() -> None:
    render_template.cache_clear()
    query = "SELECT * FROM {{tables.cached_items}} WHERE id = $1"
    for _ in range(100):
        render_template(query, "orders")
    render_template(query, "users")
    info = render_template.cache_info()
    assert (info.misses, info.hits) == (2, 99)


@pytest.mark.parametrize(
    "name",
    ['orders"; DROP SCHEMA public; --', "my schema", "semi;colon", "", "x" * 64, "dot.ted", "1abc"],
)
async def test_invalid_schema_names_are_refused_before_any_sql(
    shared_pool: SharedPool, name: str
) -> None:
    with count_statements() as recorder, pytest.raises(SchemaError):
        AsyncDatabaseManager(pool=shared_pool, schema=name)
    await asyncio.sleep(0)
    assert recorder.count == 0


@pytest.mark.parametrize("table", ['items"', "it ems", "items;drop", "a.b.c", "x" * 64, ""])
async def test_invalid_table_names_in_templates_are_refused_before_any_sql(
    orders_db: AsyncDatabaseManager, table: str
) -> None:
    with count_statements() as recorder, pytest.raises(SchemaError):
        await orders_db.fetch_all(f"SELECT * FROM {{{{tables.{table}}}}}")
    await asyncio.sleep(0)
    assert recorder.count == 0


def test_sixty_three_byte_names_are_accepted() -> None:
    assert render_template("{{tables.t}}", "s" * 63) == f'"{"s" * 63}".t'


async def test_schema_isolation_survives_a_search_path_left_by_a_previous_user(
    shared_pool: SharedPool, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    orders_db, payments_db = manager_factory("orders"), manager_factory("payments")
    await make_items_table(orders_db)
    await make_items_table(payments_db)
    await payments_db.execute("INSERT INTO {{tables.items}} (name) VALUES ('payment row')")
    # A previous user of every pooled connection points search_path at payments, at
    # session level, and hands the connections back.
    held = [await shared_pool.acquire() for _ in range(shared_pool.get_max_size())]
    for conn in held:
        await conn.execute("SET search_path TO payments")
    for conn in held:
        await shared_pool.release(conn)

    assert await orders_db.fetch_all("SELECT * FROM {{tables.items}}") == []
    await orders_db.execute("INSERT INTO {{tables.items}} (name) VALUES ('order row')")
    # An unqualified name resolves nowhere instead of into payments.
    with pytest.raises(QueryError) as refused:
        await orders_db.fetch_all("SELECT * FROM items")
    assert refused.value.sqlstate == "42P01"
    assert await raw_connection.fetchval("SELECT count(*) FROM payments.items") == 1
    assert await raw_connection.fetchval("SELECT name FROM orders.items") == "order row"


async def test_transactions_commit_roll_back_and_nest_as_savepoints(
    orders_db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    async with orders_db.transaction() as tx:
        await tx.execute("INSERT INTO {{tables.items}} (name) VALUES ('kept')")
        # Inside a transaction, asyncpg's own exception, as pgdbm gives it.
        with pytest.raises(asyncpg.NotNullViolationError):
            async with tx.transaction() as nested:
                await nested.execute("INSERT INTO {{tables.items}} (name) VALUES ('undone')")
                await nested.execute("INSERT INTO {{tables.items}} (name) VALUES (NULL)")
        assert await tx.fetch_value("SELECT count(*) FROM {{tables.items}}") == 1
        assert tx.connection is not None
        assert (await tx.fetch_one("SELECT name FROM {{tables.items}}")) == {"name": "kept"}
        assert [r["name"] for r in await tx.fetch_all("SELECT name FROM {{tables.items}}")] == [
            "kept"
        ]
        await tx.executemany("INSERT INTO {{tables.items}} (name) VALUES ($1)", [("also",)])

    with pytest.raises(RuntimeError, match="boom"):
        async with orders_db.transaction() as tx:
            await tx.execute("INSERT INTO {{tables.items}} (name) VALUES ('rolled back')")
            raise RuntimeError("boom")

    names = await raw_connection.fetch("SELECT name FROM orders.items ORDER BY id")
    assert [row["name"] for row in names] == ["kept", "also"]


async def test_a_deferred_constraint_failing_at_commit_raises_asyncpgs_error_as_pgdbm(
    orders_db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    await orders_db.execute(
        "ALTER TABLE {{tables.items}} ADD CONSTRAINT unique_name UNIQUE (name) "
        "DEFERRABLE INITIALLY DEFERRED"
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        async with orders_db.transaction() as tx:
            await tx.execute("INSERT INTO {{tables.items}} (name) VALUES ('x'), ('x')")
    assert await raw_connection.fetchval("SELECT count(*) FROM orders.items") == 0


async def test_a_refusal_is_query_error_outside_a_transaction_and_asyncpgs_inside_as_pgdbm(
    orders_db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    await orders_db.execute("ALTER TABLE {{tables.items}} ADD CONSTRAINT one_name UNIQUE (name)")
    await orders_db.execute("INSERT INTO {{tables.items}} (name) VALUES ('x')")
    duplicate = "INSERT INTO {{tables.items}} (name) VALUES ('x')"

    with pytest.raises(QueryError) as outside:
        await orders_db.execute(duplicate)
    # pgdbm code catching asyncpg's class inside a transaction keeps working.
    with pytest.raises(asyncpg.UniqueViolationError) as inside:
        async with orders_db.transaction() as tx:
            await tx.execute(duplicate)

    assert inside.value.constraint_name == "one_name"
    # The gateway maps both to the same client-facing error.
    mapped = error_from_database_error(inside.value)
    assert outside.value.sqlstate == "23505"
    assert type(mapped) is type(error_from_database_error(outside.value))
    assert mapped is not None
    assert mapped.code == "CONFLICT"
    assert await raw_connection.fetchval("SELECT count(*) FROM orders.items") == 1


async def test_acquire_gives_a_raw_connection_returned_afterwards(
    orders_db: AsyncDatabaseManager, shared_pool: SharedPool
) -> None:
    async with orders_db.acquire() as conn:
        assert await conn.fetchval("SELECT 1") == 1
        assert (await orders_db.get_pool_stats())["used_size"] == 1
    assert (await orders_db.get_pool_stats())["used_size"] == 0


async def test_pool_stats_on_manager_and_shared_pool(
    shared_pool: SharedPool, orders_db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    stats = await orders_db.get_pool_stats()
    database = await raw_connection.fetchval("SELECT current_database()")
    assert stats["status"] == "connected"
    assert (stats["min_size"], stats["max_size"]) == (1, 5)
    assert stats["size"] == stats["used_size"] + stats["free_size"]
    assert (stats["database"], stats["schema"]) == (database, "orders")
    assert stats["version"].startswith("PostgreSQL ")
    assert isinstance(stats["pid"], int)
    pool_level = await shared_pool.get_pool_stats()
    assert pool_level["database"] == database
    assert pool_level["schema"] is None
    # Stats never wait for a connection: they answer while the pool is exhausted.
    held = [await shared_pool.acquire() for _ in range(shared_pool.get_max_size())]
    try:
        full = await asyncio.wait_for(shared_pool.get_pool_stats(), timeout=5)
        assert (full["used_size"], full["free_size"]) == (5, 0)
    finally:
        for conn in held:
            await shared_pool.release(conn)


async def test_prepared_statements_exist_on_every_connection_used(
    orders_db: AsyncDatabaseManager, shared_pool: SharedPool
) -> None:
    orders_db.add_prepared_statement(
        "item_by_name", "SELECT * FROM {{tables.items}} WHERE name = $1"
    )
    held = [await shared_pool.acquire() for _ in range(shared_pool.get_max_size())]
    try:
        for conn in held:
            statement = await conn.fetchval(
                "SELECT statement FROM pg_prepared_statements WHERE name = 'item_by_name'"
            )
            assert statement == 'SELECT * FROM "orders".items WHERE name = $1'
    finally:
        for conn in held:
            await shared_pool.release(conn)


async def test_config_built_manager_owns_and_closes_its_pool(
    database_config: DatabaseConfig, raw_connection: asyncpg.Connection
) -> None:
    config = database_config.model_copy(update={"schema_name": "own"})
    await raw_connection.execute("CREATE SCHEMA own; CREATE TABLE own.things (id int)")
    db = AsyncDatabaseManager(config)
    assert (await db.get_pool_stats())["status"] == "not_connected"
    with pytest.raises(PoolError, match="connect"):
        await db.fetch_value("SELECT 1")
    await db.connect()
    try:
        with pytest.raises(PoolError, match="already"):
            await db.connect()
        assert await db.fetch_value("SELECT count(*) FROM things") == 0  # search_path = own
        assert db.prepare_query("{{tables.things}}") == '"own".things'
    finally:
        await db.disconnect()
    assert (await db.get_pool_stats())["status"] == "not_connected"


async def test_a_manager_with_its_own_pool_creates_its_schema_on_connect_as_pgdbm(
    database_config: DatabaseConfig, raw_connection: asyncpg.Connection
) -> None:
    db = AsyncDatabaseManager(database_config.model_copy(update={"schema_name": "fresh"}))
    await db.connect()
    try:
        await db.execute("CREATE TABLE {{tables.notes}} (id INT)")
    finally:
        await db.disconnect()

    exists = await raw_connection.fetchval("SELECT to_regclass('fresh.notes') IS NOT NULL")
    assert exists


def test_constructor_refuses_contradictory_arguments(database_config: DatabaseConfig) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        AsyncDatabaseManager(database_config, pool=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="schema= is only valid"):
        AsyncDatabaseManager(database_config, schema="x")
    with pytest.raises(ConfigurationError, match="needs a DatabaseConfig"):
        AsyncDatabaseManager()


async def test_pool_manager_without_schema_uses_public(shared_pool: SharedPool) -> None:
    admin = AsyncDatabaseManager(pool=shared_pool)
    assert admin.schema == "public"
    assert admin.prepare_query("{{tables.t}}") == '"public".t'


async def test_query_errors_keep_sqlstate_and_hide_sql_from_the_message(
    orders_db: AsyncDatabaseManager,
) -> None:
    with pytest.raises(QueryError) as error:
        await orders_db.execute("INSERT INTO {{tables.items}} (name) VALUES (NULL)")
    assert error.value.sqlstate == "23502"
    assert "INSERT" not in str(error.value)
    assert error.value.query == 'INSERT INTO "orders".items (name) VALUES (NULL)'


async def test_schema_manager_creates_the_schema_and_qualifies_names(
    manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    schemas = SchemaManager(manager_factory("reports"))
    await schemas.ensure_schema_exists()
    assert await raw_connection.fetchval(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'reports'"
    )
    # what pgdbm returns for a plain schema name
    theirs = pgdbm.SchemaManager(pgdbm.AsyncDatabaseManager(pool=object(), schema="reports"))  # type: ignore[arg-type]
    assert schemas.qualify_table_name("daily") == theirs.qualify_table_name("daily")
    assert schemas.qualify_table_name("daily") == "reports.daily"
    with pytest.raises(SchemaError):
        schemas.qualify_table_name("daily; drop")


async def test_statement_counting_sees_queries_not_the_pools_reset_on_release(
    orders_db: AsyncDatabaseManager,
) -> None:
    with count_statements() as recorder:
        await orders_db.fetch_all("SELECT * FROM {{tables.items}}")
        await orders_db.fetch_value("SELECT count(*) FROM {{tables.items}}")
        await asyncio.sleep(0)
    assert recorder.queries == [
        'SELECT * FROM "orders".items',
        'SELECT count(*) FROM "orders".items',
    ]


async def test_db_debug_logs_each_statement_with_its_arguments_masked(
    manager_factory: Factory,
    shared_pool: SharedPool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "correct-horse-battery-staple"
    quiet = manager_factory("orders")
    await make_items_table(quiet)
    monkeypatch.setenv("DB_DEBUG", "1")  # read when a manager is made, as pgdbm reads it
    loud = AsyncDatabaseManager(pool=shared_pool, schema="orders")

    with caplog.at_level(logging.DEBUG, logger="gateway.db.queries"):
        await quiet.execute("INSERT INTO {{tables.items}} (name) VALUES ($1)", secret)
        assert caplog.records == []
        await loud.execute("INSERT INTO {{tables.items}} (name) VALUES ($1)", secret)
        async with loud.transaction() as tx:
            await tx.fetch_value("SELECT count(*) FROM {{tables.items}} WHERE name = $1", secret)

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert 'INSERT INTO "orders".items (name) VALUES ($1)' in lines[0]
    assert 'SELECT count(*) FROM "orders".items WHERE name = $1' in lines[1]
    # pgdbm would show "cor...ple"; no part of the value appears here.
    assert all("<str:28 chars>" in line for line in lines)
    assert not any(part in caplog.text for part in ("cor", "ple", secret))
