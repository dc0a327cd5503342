"""DatabaseConfig, AsyncDatabaseManager, templates, transactions, SchemaManager and errors,
differentially: each scenario runs once on the real pgdbm 0.5.0 and once on gateway.db, each
on a fresh database of its own, and the return values and error classes are compared (an
error by the pgdbm-named class of its own library, or asyncpg's).

A difference README's "Differences from pgdbm" lists is asserted as a difference, with its
reason; everything else must be equal.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import asyncpg
import pydantic
import pytest

from gateway import db as gateway_db
from gateway.db.embedded import with_database
from tests.gateway.db.differential.databases import (
    SCHEMA,
    Both,
    Urls,
    create_schema,
    fresh_database,
    kind,
    offline_manager,
    on_both,
    quoted,
    raised,
    raised_by,
    server_address,
    shared_manager,
    shared_pool,
)

PASSWORD = "p@ss/w#rd?1"


@pytest.fixture
async def urls(server_url: str, empty_database_url: str) -> AsyncIterator[Urls]:
    """A fresh database for each library's run."""
    async with fresh_database(server_url) as other:
        yield {"pgdbm": empty_database_url, "gateway.db": other}


# --- DatabaseConfig --------------------------------------------------------------------------


async def test_get_dsn_url_encodes_user_password_and_database_and_both_connect(
    both: Both, server_url: str
) -> None:
    host, port = await server_address(server_url)
    user = f"gwdiff u@s/r#{os.getpid()}"  # a role with the password: checked where auth is
    admin = await asyncpg.connect(server_url)
    await admin.execute(f"DROP ROLE IF EXISTS {quoted(user)}")  # a killed run's
    await admin.execute(f"CREATE ROLE {quoted(user)} LOGIN PASSWORD '{PASSWORD}'")
    try:
        fields = {"host": host, "port": port, "user": user, "password": PASSWORD}
        dsns = [lib.DatabaseConfig(**fields, database="d b/#?@").get_dsn() for lib in both]
        assert dsns[0] == dsns[1]
        assert unquote(urlsplit(dsns[1]).password or "") == PASSWORD
        assert quote(PASSWORD, safe="") in dsns[1]
        for library in both:
            name = f"gwdiff d b/#?@ {library.__name__}"
            async with fresh_database(server_url, name):
                config = library.DatabaseConfig(
                    **fields, database=name, min_connections=1, max_connections=1
                )
                async with shared_manager(library, config.get_dsn(), schema=None) as db:
                    row = await db.fetch_one("SELECT current_database() AS d, current_user AS u")
                assert row == {"d": name, "u": user}
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {quoted(user)}")
        await admin.close()


async def test_the_dsn_is_the_connection_string_or_built_with_db_password(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PASSWORD", PASSWORD)
    for fields in ({}, {"password": ""}, {"password": "own"}):
        theirs, ours = (lib.DatabaseConfig(host="db", **fields).get_dsn() for lib in both)
        assert theirs == ours
    assert ours == "postgresql://postgres:own@db:5432/postgres"
    assert both[1].DatabaseConfig(host="db").get_dsn() == (
        f"postgresql://postgres:{quote(PASSWORD, safe='')}@db:5432/postgres"
    )

    for url in ("postgresql://app:secret@db:6432/shop?sslmode=disable", "postgresql:///shop"):
        assert [lib.DatabaseConfig(connection_string=url).get_dsn() for lib in both] == [url] * 2

    monkeypatch.delenv("DB_PASSWORD")
    for library in both:
        with pytest.raises(library.ConfigurationError) as refused:
            library.DatabaseConfig(host="db").get_dsn()
        assert refused.value.config_field == "password"
        assert "DB_PASSWORD" in str(refused.value)


def test_masked_dsn_of_a_password_with_an_at_sign_hides_all_of_it(
    both: Both,
) -> None:
    url = f"postgresql://app:{PASSWORD}@db.example:5432/shop"
    theirs, ours = (lib.DatabaseConfig(connection_string=url).get_dsn_masked() for lib in both)
    # Listed difference (README: no masked DSN shows any part of a password): pgdbm's mask
    # stops at the password's own `@` and shows the rest of it.
    assert theirs == "postgresql://app:****@ss/w#rd?1@db.example:5432/shop"
    assert ours == "postgresql://app:****@db.example:5432/shop"
    assert "ss/w" not in ours


@pytest.mark.parametrize(
    ("fields", "pgdbms"),
    [
        ({"host": "db", "password": PASSWORD}, "postgresql://postgres:****@db:5432/postgres"),
        (
            {"connection_string": f"postgresql://a:{quote(PASSWORD, safe='')}@db/s"},
            "postgresql://a:****@db/s",
        ),
        ({"connection_string": "postgresql://p:@/db?host=/s"}, "postgresql://p:@/db?host=/s"),
    ],
    ids=["fields", "encoded-password", "empty-password"],
)
def test_masked_dsn_is_pgdbms(both: Both, fields: dict[str, str], pgdbms: str) -> None:
    theirs, ours = (lib.DatabaseConfig(**fields).get_dsn_masked() for lib in both)
    assert theirs == pgdbms
    assert ours == theirs


def test_pgdbms_fields_have_pgdbms_defaults(both: Both) -> None:
    theirs, ours = (lib.DatabaseConfig(schema="app") for lib in both)
    for name in type(theirs).model_fields:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.get_schema() == theirs.get_schema() == "app"


def test_an_unknown_field_is_refused_where_pgdbm_ignores_it(
    both: Both,
) -> None:
    theirs, ours = both
    # Listed difference: pgdbm ignores a misspelled field and keeps the default.
    assert theirs.DatabaseConfig(max_conections=50).max_connections == 20
    with pytest.raises(pydantic.ValidationError, match="max_conections"):
        ours.DatabaseConfig(max_conections=50)


# --- AsyncDatabaseManager's query methods ------------------------------------------------------


class Item(pydantic.BaseModel):
    name: str
    qty: int | None


async def query_scenario(library: ModuleType, url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    await create_schema(url, SCHEMA)
    async with shared_pool(library, url) as pool:
        db = library.AsyncDatabaseManager(pool=pool, schema=SCHEMA)
        seen["schema"] = db.schema
        seen["default_schema"] = library.AsyncDatabaseManager(pool=pool).schema
        seen["create"] = await db.execute(
            "CREATE TABLE {{tables.items}} (id SERIAL PRIMARY KEY, name TEXT UNIQUE, qty INT)"
        )
        insert = "INSERT INTO {{tables.items}} (name, qty) VALUES ($1, $2)"
        seen["insert"] = await db.execute(insert, "apple", 3)
        seen["id"] = await db.execute_and_return_id(insert + ";", "pear", 5)
        seen["returning"] = await db.execute_and_return_id(
            "INSERT INTO {{tables.items}} (name) VALUES ($1) returning name, id", "plum"
        )
        seen["executemany"] = await db.executemany(insert, [("fig", 1), ("kiwi", None)])
        seen["execute_many"] = await db.execute_many(insert, [("lime", 4)])
        seen["copy"] = await db.copy_records_to_table(
            "items", records=[(100, "date", 7), (101, "lemon", None)], columns=["id", "name", "qty"]
        )
        select = "SELECT id, name, qty FROM {{tables.items}}"
        seen["one"] = await db.fetch_one(select + " WHERE id = $1", 2)
        seen["no_row"] = await db.fetch_one(select + " WHERE id = $1", -1)
        seen["all"] = await db.fetch_all(select + " ORDER BY id")
        seen["count"] = await db.fetch_value("SELECT count(*) FROM {{tables.items}}")
        seen["column"] = await db.fetch_value(select + " WHERE id = $1", 1, column=1)
        seen["no_value"] = await db.fetch_value(select + " WHERE false")
        seen["fetch_val"] = await db.fetch_val(select + " WHERE id = $1", 2, column=2)
        seen["model"] = await db.fetch_as_model(Item, select + " WHERE id = $1", 1)
        seen["models"] = await db.fetch_all_as_model(
            Item, select + " WHERE qty IS NULL ORDER BY id"
        )
        seen["in_schema"] = await db.fetch_value("SELECT count(*) FROM {{schema}}.items")
        seen["exists"] = [
            await db.table_exists(name) for name in ("items", "nope", "app.items", "public.items")
        ]
        seen["prepared"] = db.add_prepared_statement(
            "count_items", "SELECT count(*) FROM {{tables.items}}"
        )
        seen["prepared_query"] = db.prepare_query("SELECT * FROM {{tables.items}}")
        stats = await db.get_pool_stats()
        seen["stats_keys"] = sorted(stats)
        seen["stats"] = {key: stats[key] for key in ("status", "min_size", "max_size")}
        seen["stats_database"] = stats["database"] == await db.fetch_value(
            "SELECT current_database()"
        )
    return seen


async def test_query_methods_return_the_same_values(both: Both, urls: Urls) -> None:
    theirs, ours = await on_both(both, urls, query_scenario)

    assert ours == theirs
    assert (ours["create"], ours["insert"]) == ("CREATE TABLE", "INSERT 0 1")
    assert (ours["id"], ours["returning"], ours["copy"], ours["count"]) == (2, "plum", 2, 8)
    assert ours["exists"] == [True, False, True, False]
    assert ours["default_schema"] == "public"
    assert ours["prepared_query"] == 'SELECT * FROM "app".items'
    assert ours["stats_keys"] == [
        "database", "free_size", "max_size", "min_size", "pid", "schema", "size", "status",
        "used_size", "version",
    ]  # fmt: skip
    assert ours["stats"] == {"status": "connected", "min_size": 1, "max_size": 3}


async def test_pool_stats_report_the_version_as_pgdbm_and_the_managers_schema(
    both: Both, urls: Urls
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        async with shared_manager(library, url) as db:
            stats = await db.get_pool_stats()
            return {key: stats[key] for key in ("schema", "version")}

    theirs, ours = await on_both(both, urls, scenario)
    assert ours["version"] == theirs["version"]  # version()'s whole text
    assert ours["version"].startswith("PostgreSQL ")
    # Listed difference: pgdbm reports current_schema(), which on a shared pool pinned to
    # pg_catalog says nothing about the manager; ours reports the manager's schema.
    assert theirs["schema"] == "pg_catalog"
    assert ours["schema"] == "app"
    offline = [await offline_manager(lib, "app").get_pool_stats() for lib in both]
    assert offline[1] == offline[0] == {"status": "not_connected"}


async def test_prepared_statements_of_a_managers_own_pool(both: Both, urls: Urls) -> None:
    async def scenario(library: ModuleType, url: str) -> list[Any]:
        await create_schema(url, "own")
        conn = await asyncpg.connect(url)
        await conn.execute('CREATE TABLE "own".items AS SELECT 1 AS id')
        await conn.close()
        config = library.DatabaseConfig(
            connection_string=url, schema="own", min_connections=1, max_connections=1
        )
        db = library.AsyncDatabaseManager(config)
        added = db.add_prepared_statement("count_items", "SELECT count(*) FROM {{tables.items}}")
        await db.connect()
        try:
            return [added, await db.fetch_value("SELECT count(*) FROM {{tables.items}}")]
        finally:
            await db.disconnect()

    theirs, ours = await on_both(both, urls, scenario)
    assert ours == theirs == [None, 1]


async def test_a_statement_that_cannot_be_prepared_leaves_queries_working(
    both: Both, urls: Urls
) -> None:
    async def scenario(library: ModuleType, url: str) -> Any:
        async with shared_manager(library, url) as db:
            db.add_prepared_statement("broken", "SELECT count(*) FROM {{tables.missing}}")
            return await db.fetch_value("SELECT 1")

    theirs, ours = await on_both(both, urls, scenario)
    # pgdbm prepares on its own pools' new connections only, and logs a failure there.
    assert theirs == 1
    assert ours == theirs


# --- templates --------------------------------------------------------------------------------

TEMPLATES = [
    ("SELECT * FROM {{tables.items}}", 'SELECT * FROM "app".items', "SELECT * FROM items"),
    ("SELECT * FROM {{tables.other.items}}", 'SELECT * FROM "other".items', None),
    ("SET search_path TO {{schema}}", 'SET search_path TO "app"', "SET search_path TO public"),
    ("SELECT * FROM {{schema}}.items", 'SELECT * FROM "app".items', "SELECT * FROM items"),
    ("SELECT '{{tables.a}}', 1", "SELECT '\"app\".a', 1", "SELECT 'a', 1"),
    ("SELECT 1", "SELECT 1", "SELECT 1"),
]


@pytest.mark.parametrize(("query", "in_app", "without_schema"), TEMPLATES)
def test_templates_render_as_pgdbm_renders_them(
    both: Both, query: str, in_app: str, without_schema: str | None
) -> None:
    for schema, expected in (("app", in_app), (None, without_schema or in_app)):
        rendered = [offline_manager(lib, schema).prepare_query(query) for lib in both]
        assert rendered == [expected] * 2


def test_an_invalid_table_name_in_a_template_is_a_schema_error(
    both: Both,
) -> None:
    for library in both:
        with pytest.raises(library.SchemaError):
            offline_manager(library, "app").prepare_query("SELECT * FROM {{tables.1abc}}")


def test_spaced_templates_render_and_invalid_names_are_refused_where_pgdbm_sends_text(
    both: Both,
) -> None:
    theirs, ours = (offline_manager(lib, "app") for lib in both)
    # Listed difference: pgdbm leaves these as text, for PostgreSQL to refuse (or, in a
    # string, to store); ours renders a spaced template and refuses an invalid name before
    # any SQL.
    spaced = "SELECT * FROM {{ tables.items }}"
    assert theirs.prepare_query(spaced) == spaced
    assert ours.prepare_query(spaced) == 'SELECT * FROM "app".items'
    for invalid in ("{{tables.bad-name}}", "{{tables.a.b.c}}"):
        assert theirs.prepare_query(invalid) == invalid
        with pytest.raises(gateway_db.SchemaError):
            ours.prepare_query(invalid)


# --- transactions -------------------------------------------------------------------------------

NOTE = "INSERT INTO {{tables.notes}} (id, body) VALUES ($1, $2)"


async def note_ids(db: Any) -> list[int]:
    return [row["id"] for row in await db.fetch_all("SELECT id FROM {{tables.notes}} ORDER BY id")]


async def notes(db: Any) -> None:
    await db.execute("CREATE TABLE {{tables.notes}} (id INT PRIMARY KEY, body TEXT NOT NULL)")


async def transaction_scenario(library: ModuleType, url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with shared_manager(library, url) as db:
        await notes(db)
        async with db.transaction() as tx:
            seen["tx"] = isinstance(tx, library.TransactionManager)
            seen["execute"] = await tx.execute(NOTE, 1, "one")
            seen["executemany"] = await tx.executemany(NOTE, [(2, "two"), (3, "three")])
            seen["one"] = await tx.fetch_one("SELECT body FROM {{tables.notes}} WHERE id = 2")
            seen["all"] = await note_ids(tx)
            seen["value"] = await tx.fetch_value("SELECT id, body FROM {{tables.notes}}", column=1)
            seen["in_transaction"] = tx.connection.is_in_transaction()
        seen["committed"] = await note_ids(db)

        with pytest.raises(RuntimeError, match="boom"):
            async with db.transaction() as tx:
                await tx.execute(NOTE, 10, "rolled back")
                raise RuntimeError("boom")
        seen["after_rollback"] = await note_ids(db)

        async with db.transaction() as tx:
            await tx.execute(NOTE, 20, "outer")
            with pytest.raises(RuntimeError):
                async with tx.transaction() as savepoint:
                    seen["savepoint"] = isinstance(savepoint, library.TransactionManager)
                    await savepoint.execute(NOTE, 21, "inner")
                    seen["inside_savepoint"] = await note_ids(savepoint)
                    raise RuntimeError("undo the savepoint only")
            async with tx.transaction() as savepoint:
                await savepoint.execute(NOTE, 22, "kept savepoint")
            await tx.execute(NOTE, 23, "after")
        seen["after_savepoints"] = await note_ids(db)
    return seen


async def test_transactions_commit_roll_back_and_nest_as_pgdbms(both: Both, urls: Urls) -> None:
    theirs, ours = await on_both(both, urls, transaction_scenario)

    assert ours == theirs
    assert ours["committed"] == ours["after_rollback"] == [1, 2, 3]
    assert ours["inside_savepoint"] == [1, 2, 3, 20, 21]
    assert ours["after_savepoints"] == [1, 2, 3, 20, 22, 23]


async def test_inside_a_transaction_a_unique_violation_is_asyncpgs_own_error(
    library: ModuleType, database_url: str
) -> None:
    async with shared_manager(library, database_url) as db:
        await notes(db)
        await db.execute(NOTE, 1, "one")

        with pytest.raises(asyncpg.UniqueViolationError) as violation:
            async with db.transaction() as tx:
                await tx.execute(NOTE, 2, "two")
                await tx.execute(NOTE, 1, "again")
        assert not isinstance(violation.value, library.AsyncDBError)

        async with db.transaction() as tx:  # caught in a savepoint: the outer one goes on
            with pytest.raises(asyncpg.UniqueViolationError):
                async with tx.transaction() as savepoint:
                    await savepoint.execute(NOTE, 1, "again")
            await tx.execute(NOTE, 3, "three")
        assert await note_ids(db) == [1, 3]


async def refusals_scenario(library: ModuleType, url: str) -> list[tuple[str, str]]:
    async with shared_manager(library, url) as db:
        await notes(db)
        await db.execute(NOTE, 1, "one")
        refusals = [
            db.execute(NOTE, 1, "again"),
            db.executemany(NOTE, [(2, "two"), (2, "again")]),
            db.execute_and_return_id("INSERT INTO {{tables.notes}} (id) VALUES (5)"),
            db.fetch_one("SELEC 1"),
            db.fetch_all("SELECT * FROM {{tables.missing}}"),
            db.fetch_value("SELECT 1 / 0"),
            db.copy_records_to_table("missing", records=[(1,)]),
        ]
        errors = [await raised(refusal) for refusal in refusals]
        assert await note_ids(db) == [1]
    return [(kind(library, e), type(e.__cause__ or e).__name__) for e in errors]


async def test_outside_a_transaction_refusals_are_query_errors(both: Both, urls: Urls) -> None:
    theirs, ours = await on_both(both, urls, refusals_scenario)

    assert ours == theirs
    assert ours == [
        ("QueryError", "UniqueViolationError"),
        ("QueryError", "UniqueViolationError"),
        ("QueryError", "NotNullViolationError"),
        ("QueryError", "PostgresSyntaxError"),
        ("QueryError", "UndefinedTableError"),
        ("QueryError", "DivisionByZeroError"),
        ("UndefinedTableError", "UndefinedTableError"),  # COPY: asyncpg's, in both
    ]


async def test_query_error_details_hold_the_query_and_masked_params(both: Both, urls: Urls) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        async with shared_manager(library, url) as db:
            error = await raised(db.fetch_value("SELECT $1::int / 0", 7))
            return {key: error.details.get(key) for key in ("query", "params")}

    theirs, ours = await on_both(both, urls, scenario)
    assert theirs == {"query": "SELECT $1::int / 0", "params": (7,)}
    assert ours == theirs


# --- SchemaManager ----------------------------------------------------------------------------


async def test_schema_manager_creates_the_schema_and_qualifies_names(
    both: Both, urls: Urls
) -> None:
    async def scenario(library: ModuleType, url: str) -> list[Any]:
        async with shared_pool(library, url) as pool:
            db = library.AsyncDatabaseManager(pool=pool, schema="reports")
            schemas = library.SchemaManager(db)
            seen = [schemas.schema_name, schemas.qualify_table_name("daily")]
            seen += [await schemas.ensure_schema_exists(), await schemas.ensure_schema_exists()]
            seen.append(
                await db.fetch_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'reports'")
            )
            none = library.SchemaManager(offline_manager(library, None))
            seen += [none.qualify_table_name("daily"), await none.ensure_schema_exists()]
            return seen

    theirs, ours = await on_both(both, urls, scenario)
    assert ours == theirs == ["reports", "reports.daily", None, None, 1, "daily", None]


def test_qualify_table_name_quotes_a_name_that_would_fold_and_refuses_an_invalid_one(
    both: Both,
) -> None:
    theirs, ours = (lib.SchemaManager(offline_manager(lib, "Reports")) for lib in both)
    # Listed difference: pgdbm's `Reports.daily` would name the schema `reports`.
    assert theirs.qualify_table_name("daily") == "Reports.daily"
    assert ours.qualify_table_name("daily") == '"Reports".daily'
    theirs, ours = (lib.SchemaManager(offline_manager(lib, "app")) for lib in both)
    assert theirs.qualify_table_name("bad name") == "app.bad name"
    with pytest.raises(gateway_db.SchemaError):
        ours.qualify_table_name("bad name")


# --- errors ---------------------------------------------------------------------------------


async def test_misuse_raises_the_same_error_classes(both: Both, urls: Urls) -> None:
    async def scenario(library: ModuleType, url: str) -> list[str]:
        config = library.DatabaseConfig(connection_string=url, retry_attempts=1)
        Manager = library.AsyncDatabaseManager
        errors: list[BaseException] = []
        async with shared_pool(library, url) as pool:
            for build in (
                lambda: Manager(config, pool=pool),
                lambda: Manager(),
                lambda: Manager(config, schema="app"),
                lambda: Manager(pool=pool, schema="bad;name"),
                lambda: library.DatabaseConfig(schema="bad name"),
            ):
                errors.append(raised_by(build))
            errors.append(await raised(Manager(pool=pool, schema="app").connect()))
        errors.append(await raised(Manager(config).execute("SELECT 1")))  # never connected
        missing = library.DatabaseConfig(
            connection_string=with_database(url, "gwdiff_no_such_database"), retry_attempts=1
        )
        errors.append(await raised(Manager.create_shared_pool(missing)))
        return [kind(library, error) for error in errors]

    theirs, ours = await on_both(both, urls, scenario)
    assert ours == theirs
    assert ours == [
        "ConfigurationError", "ConfigurationError", "ConfigurationError", "SchemaError",
        "SchemaError", "PoolError", "PoolError", "ConnectionError",
    ]  # fmt: skip


async def test_copy_records_to_a_qualified_table_is_a_value_error(both: Both, urls: Urls) -> None:
    async def scenario(library: ModuleType, url: str) -> str:
        async with shared_manager(library, url) as db:
            return kind(library, await raised(db.copy_records_to_table("app.items", [(1,)])))

    theirs, ours = await on_both(both, urls, scenario)
    assert theirs == "ValueError"
    assert ours == theirs
