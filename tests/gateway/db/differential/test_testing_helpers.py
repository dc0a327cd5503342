"""The testing helpers, differentially: each scenario runs on `pgdbm.testing` and on
`gateway.db.testing` against the real test server, and their results and error types are
compared. Where pgdbm is unsafe or wrong, ours differs on purpose and the test asserts the
difference, saying why.

Every database a test makes is dropped at its end, also when it fails: the helpers' own
cleanup runs in `finally` blocks, and the `sweep` fixture drops whatever is left over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import asyncpg
import pgdbm
import pgdbm.errors
import pgdbm.testing
import pytest

from gateway import db as gateway_db
from gateway.db import errors as gateway_errors
from gateway.db import testing as gateway_testing
from gateway.db.embedded import with_database

PROJECT_ROOT = Path(__file__).resolve().parents[4]
# Every database these tests create starts with this prefix (or, with pgdbm's default
# prefix, ends in this suffix), so the sweep can find leftovers without touching others'.
PREFIX = "gwdiff_"
SUFFIX = "gwdiff"
OURS_LEFTOVER = re.compile(rf"^({PREFIX}|test_[0-9a-f]{{8}}_{SUFFIX})")


@dataclass(frozen=True)
class Kit:
    """One implementation under test: its testing module and its library (errors, manager)."""

    name: str
    testing: Any  # pgdbm.testing or gateway.db.testing: the same API, so typed loosely
    lib: Any
    errors: ModuleType

    @property
    def ours(self) -> bool:
        return self.name == "gateway.db"


PGDBM = Kit("pgdbm", pgdbm.testing, pgdbm, pgdbm.errors)
OURS = Kit("gateway.db", gateway_testing, gateway_db, gateway_errors)


@pytest.fixture(params=[PGDBM, OURS], ids=lambda kit: kit.name)
def kit(request: pytest.FixtureRequest) -> Kit:
    """pgdbm.testing, then gateway.db.testing: the same test body runs on each."""
    kit_: Kit = request.param
    return kit_


@dataclass(frozen=True)
class Server:
    """The test server as DatabaseTestConfig fields (host/port/user/password)."""

    host: str
    port: int
    user: str
    password: str
    url_has_password: bool

    def config(self, kit: Kit, **overrides: Any) -> Any:
        fields = {"host": self.host, "port": self.port, "user": self.user}
        fields |= {"password": self.password, "test_db_prefix": PREFIX, **overrides}
        return kit.testing.DatabaseTestConfig(**fields)

    def env(self) -> dict[str, str]:
        return {
            "TEST_DB_HOST": self.host,
            "TEST_DB_PORT": str(self.port),
            "TEST_DB_USER": self.user,
            "TEST_DB_PASSWORD": self.password,
        }


@pytest.fixture(scope="session")
def server(server_url: str) -> Server:
    """The server behind `server_url`. The embedded one listens on a Unix socket
    (`?host=/dir`); both libraries splice `host` into a DSN unencoded, and asyncpg decodes a
    percent-encoded host, so the socket directory is given percent-encoded."""
    parts = urlsplit(server_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    if host.startswith("/"):
        host = quote(host, safe="")
    port = int(query.get("port", [str(parts.port or 5432)])[0])
    password = unquote(parts.password or "")
    return Server(
        host=host,
        port=port,
        user=unquote(parts.username or "postgres"),
        # An empty password means trust authentication; pgdbm's DSN needs one all the same.
        password=password or "postgres",
        url_has_password=bool(password),
    )


async def databases(server_url: str) -> set[str]:
    conn = await asyncpg.connect(server_url)
    try:
        return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


async def drop_databases(server_url: str, names: set[str]) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
async def sweep(server_url: str) -> AsyncIterator[None]:
    """After the test, drop every database it created and left behind (a failing test, or
    pgdbm's leaks that a test demonstrates)."""
    before = await databases(server_url)
    try:
        yield
    finally:
        leftovers = {
            name for name in await databases(server_url) - before if OURS_LEFTOVER.match(name)
        }
        await drop_databases(server_url, leftovers)


@pytest.fixture
async def env(server: Server, sweep: None) -> Server:
    """The server, with the sweep armed: the entry point of every database-creating test."""
    return server


@asynccontextmanager
async def created(kit: Kit, config: Any, suffix: str | None = None) -> AsyncIterator[Any]:
    """An AsyncTestDatabase with its database created, dropped on exit."""
    test_database = kit.testing.AsyncTestDatabase(config)
    await test_database.create_test_database(suffix)
    try:
        yield test_database
    finally:
        await dispose(test_database)


async def dispose(test_database: Any) -> None:
    """Drop what `test_database` holds and close pgdbm's admin pool, which pgdbm leaves open
    when create_test_database() or drop_test_database() raises."""
    try:
        await test_database.drop_test_database()
    except (pgdbm.errors.DatabaseTestError, gateway_errors.DatabaseTestError):
        pass  # pgdbm keeps a refused name and refuses it again here
    finally:
        pool = getattr(test_database, "_admin_pool", None)
        if pool is not None:
            await pool.close()
            test_database._admin_pool = None


async def on_both(
    scenario: Callable[[Kit], Awaitable[Any]],
) -> tuple[Any, Any]:
    """(pgdbm's result, ours) of one scenario."""
    return await scenario(PGDBM), await scenario(OURS)


SCHEMA_SQL = """
CREATE TABLE {{tables.users}} (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    full_name TEXT,
    is_active BOOLEAN DEFAULT true
);
CREATE TABLE {{tables.items}} (id INT PRIMARY KEY, name TEXT NOT NULL, qty INT);
"""
ROWS = {
    "users": [
        {"email": "ann@example.com", "full_name": "Ann"},
        {"email": "bob@example.com", "full_name": "Bob"},
    ],
    "items": [
        {"id": 1, "name": "apple", "qty": 3},
        {"id": 2, "name": "banana", "qty": 0},
        {"id": 3, "name": "cherry", "qty": 12},
        {"id": 4, "name": "date", "qty": None},
    ],
    "unused": [],  # an empty table list is skipped, and not reported
}
LOADED = {"01_schema": -1, "users": 2, "items": 4}


@pytest.fixture
def fixtures_dir(tmp_path: Path) -> Path:
    """A fixtures directory as pgdbm reads one: a schema script, rows in JSON, a stray file."""
    directory = tmp_path / "fixtures"
    directory.mkdir()
    (directory / "01_schema.sql").write_text(SCHEMA_SQL)
    (directory / "02_rows.json").write_text(json.dumps(ROWS))
    (directory / "notes.txt").write_text("not a fixture")
    return directory


@asynccontextmanager
async def shop(kit: Kit, server: Server, fixtures: Path) -> AsyncIterator[tuple[Any, Any]]:
    """(test database, manager of schema `app`) with the fixtures loaded."""
    async with (
        created(kit, server.config(kit)) as test_database,
        test_database.get_test_db_manager(schema="app") as db,
    ):
        assert await test_database.load_fixtures(db, fixtures) == LOADED
        yield test_database, db


# --- DatabaseTestConfig -------------------------------------------------------------------


async def test_config_has_pgdbms_fields_and_defaults() -> None:
    theirs = pgdbm.testing.DatabaseTestConfig().model_dump()
    ours = gateway_testing.DatabaseTestConfig().model_dump()
    assert list(ours) == list(theirs)
    assert ours == theirs
    updated: dict[str, Any] = {"host": "db", "port": 6000, "verbose": True}
    assert (
        gateway_testing.DatabaseTestConfig(**updated).model_dump()
        == pgdbm.testing.DatabaseTestConfig(**updated).model_dump()
    )
    copy = gateway_testing.DatabaseTestConfig().model_copy(update={"user": "app"})
    assert (
        copy.model_dump()
        == pgdbm.testing.DatabaseTestConfig().model_copy(update={"user": "app"}).model_dump()
    )


async def test_from_env_reads_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "USER", "PASSWORD", "VERBOSE", "LOG_SQL"):
        monkeypatch.delenv(f"TEST_DB_{name}", raising=False)
    assert (
        gateway_testing.DatabaseTestConfig.from_env().model_dump()
        == pgdbm.testing.DatabaseTestConfig.from_env().model_dump()
    )
    for name, value in {
        "HOST": "db.internal",
        "PORT": "6543",
        "USER": "tester",
        "PASSWORD": "env-secret",
        "VERBOSE": "Yes",
        "LOG_SQL": "0",
    }.items():
        monkeypatch.setenv(f"TEST_DB_{name}", value)
    ours = gateway_testing.DatabaseTestConfig.from_env()
    assert ours.model_dump() == pgdbm.testing.DatabaseTestConfig.from_env().model_dump()
    assert (ours.host, ours.port, ours.user, ours.password) == (
        "db.internal",
        6543,
        "tester",
        "env-secret",
    )
    assert (ours.verbose, ours.log_sql) == (True, False)
    # Without a config, AsyncTestDatabase reads the environment in both.
    assert gateway_testing.AsyncTestDatabase().config == ours
    assert pgdbm.testing.AsyncTestDatabase().config.host == "db.internal"
    monkeypatch.setenv("TEST_DB_PORT", "not-a-port")
    for module in (pgdbm.testing, gateway_testing):
        with pytest.raises(ValueError, match="invalid literal"):
            module.DatabaseTestConfig.from_env()


async def test_config_differences_from_pgdbm() -> None:
    # Keyword-only, as pydantic models are.
    with pytest.raises(TypeError):
        gateway_testing.DatabaseTestConfig("localhost")  # type: ignore[call-arg]
    # Different on purpose: pgdbm's repr shows the password; ours never does.
    assert "password='hunter2'" in repr(pgdbm.testing.DatabaseTestConfig(password="hunter2"))
    assert "hunter2" not in repr(gateway_testing.DatabaseTestConfig(password="hunter2"))
    # Different on purpose: pgdbm (pydantic) drops an unknown field silently, so a typo
    # (`drop_on_clean_up=False`) goes unnoticed; ours refuses it.
    pgdbm.testing.DatabaseTestConfig(drop_on_clean_up=False)
    with pytest.raises(TypeError, match="drop_on_clean_up"):
        gateway_testing.DatabaseTestConfig(drop_on_clean_up=False)  # type: ignore[call-arg]
    # A wrong type: pydantic's ValidationError there, ConfigurationError here (no pydantic);
    # a numeric string port is accepted by both.
    with pytest.raises(ValueError, match="port"):
        pgdbm.testing.DatabaseTestConfig(port="many")
    with pytest.raises(gateway_errors.ConfigurationError, match="port"):
        gateway_testing.DatabaseTestConfig(port="many")  # type: ignore[arg-type]
    with pytest.raises(gateway_errors.ConfigurationError) as refused:
        gateway_testing.DatabaseTestConfig(password=123456789)  # type: ignore[arg-type]
    assert "123456789" not in str(refused.value)
    assert gateway_testing.DatabaseTestConfig(port="6432").port == 6432  # type: ignore[arg-type]
    assert pgdbm.testing.DatabaseTestConfig(port="6432").port == 6432


# --- creating and dropping test databases -------------------------------------------------


async def test_create_connect_and_drop_a_test_database(
    kit: Kit, env: Server, server_url: str
) -> None:
    test_database = kit.testing.AsyncTestDatabase(env.config(kit, test_db_prefix="test_"))
    try:
        name = await test_database.create_test_database(suffix=SUFFIX)
        # pgdbm's shape: prefix, 8 hex digits of a uuid4, `_suffix`.
        assert re.fullmatch(rf"test_[0-9a-f]{{8}}_{SUFFIX}", name)
        assert name in await databases(server_url)

        config = test_database.get_test_db_config(schema="app")
        assert (config.database, config.host, config.port, config.user) == (
            name,
            env.host,
            env.port,
            env.user,
        )
        assert (config.min_connections, config.max_connections, config.schema_name) == (
            2,
            5,
            "app",
        )

        async with test_database.get_test_db_manager(schema="app") as db:
            assert await db.fetch_value("SELECT current_database()") == name
            # The manager's schema is created on connect, in both.
            assert await db.fetch_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'app'")
        assert (await db.get_pool_stats())["status"] == "not_connected"

        await test_database.drop_test_database()
        assert name not in await databases(server_url)
        await test_database.drop_test_database()  # nothing left: a no-op
        with pytest.raises(kit.errors.DatabaseTestError, match="create_test_database"):
            test_database.get_test_db_config()
    finally:
        await dispose(test_database)


async def test_create_yields_a_manager_and_drops_even_when_the_body_fails(
    kit: Kit, env: Server, server_url: str
) -> None:
    names = []
    with pytest.raises(RuntimeError, match="body failed"):
        async with kit.testing.AsyncTestDatabase.create(
            schema="svc", config=env.config(kit), suffix="ctx"
        ) as db:
            names.append(await db.fetch_value("SELECT current_database()"))
            assert db.schema == "svc"
            raise RuntimeError("body failed")
    assert re.fullmatch(rf"{PREFIX}[0-9a-f]{{8}}_ctx", names[0])
    assert names[0] not in await databases(server_url)


async def test_drop_on_cleanup_false_keeps_the_database_with_a_warning(
    kit: Kit, env: Server, server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    test_database = kit.testing.AsyncTestDatabase(env.config(kit, drop_on_cleanup=False))
    try:
        name = await test_database.create_test_database()
        with caplog.at_level(logging.WARNING):
            await test_database.drop_test_database()
        assert name in await databases(server_url)  # the sweep drops it
        assert f"Test database '{name}' was not dropped (drop_on_cleanup=False)" in caplog.text
        with pytest.raises(kit.errors.DatabaseTestError):
            test_database.get_test_db_config()
    finally:
        await dispose(test_database)


@pytest.mark.parametrize(
    ("fields", "suffix"),
    [
        ({"test_db_prefix": "bad-prefix_"}, None),
        ({"test_db_prefix": 'x"; DROP DATABASE postgres; --'}, None),
        ({"test_db_template": "template0; DROP DATABASE postgres"}, None),
        ({"test_db_template": 'template0" OWNER "x'}, None),
        ({}, "has space"),
        ({}, "x" * 60),  # the name would pass PostgreSQL's 63 bytes
    ],
)
async def test_unsafe_database_names_are_refused_before_sql(
    kit: Kit, env: Server, server_url: str, fields: dict[str, str], suffix: str | None
) -> None:
    before = await databases(server_url)
    test_database = kit.testing.AsyncTestDatabase(env.config(kit, **fields))
    # pgdbm looks the name up before checking it: PostgreSQL refuses a name too long even
    # as a query parameter. Ours checks first and sends nothing.
    too_long = suffix is not None and len(suffix) > 40
    refusal = (
        asyncpg.NameTooLongError if too_long and not kit.ours else kit.errors.DatabaseTestError
    )
    try:
        with pytest.raises(refusal):
            await test_database.create_test_database(suffix)
        assert await databases(server_url) == before
        if kit.ours or "test_db_template" in fields:
            await test_database.drop_test_database()  # nothing was created: a no-op
        else:
            # pgdbm records a refused name before checking it, so its drop raises next.
            with pytest.raises(pgdbm.errors.DatabaseTestError):
                await test_database.drop_test_database()
    finally:
        await dispose(test_database)


async def test_a_trailing_newline_in_a_suffix_is_refused(
    kit: Kit, env: Server, server_url: str
) -> None:
    # Different on purpose: pgdbm checks names with re.match(...$), which accepts a
    # trailing newline, and creates a database whose name ends in one.
    test_database = kit.testing.AsyncTestDatabase(env.config(kit))
    try:
        if kit.ours:
            with pytest.raises(gateway_errors.DatabaseTestError):
                await test_database.create_test_database("x\n")
        else:
            name = await test_database.create_test_database("x\n")
            assert name.endswith("_x\n")
            assert name in await databases(server_url)
    finally:
        await dispose(test_database)


async def test_a_name_clash_never_drops_an_existing_database(
    kit: Kit, env: Server, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clash = f"{PREFIX}deadbeef_clash"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{clash}"')
    finally:
        await admin.close()
    other = await asyncpg.connect(with_database(server_url, clash))
    try:
        await other.execute("CREATE TABLE precious (id INT)")
    finally:
        await other.close()

    real_uuid4 = uuid.uuid4
    ids = iter([uuid.UUID("deadbeef-0000-4000-8000-000000000000")])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids, None) or real_uuid4())

    async with created(kit, env.config(kit), suffix="clash") as test_database:
        name = test_database._test_db_name
        survivor = await asyncpg.connect(with_database(server_url, clash))
        try:
            precious = await survivor.fetchval("SELECT to_regclass('precious') IS NOT NULL")
        finally:
            await survivor.close()
    if kit.ours:
        assert name != clash
        assert precious  # someone else's database is untouched
    else:
        # Different on purpose: pgdbm drops a database that happens to have the generated
        # name (someone else's, with its data) and creates its own in its place.
        assert name == clash
        assert not precious


async def test_creating_twice_on_one_object_does_not_leak_the_first(
    kit: Kit, env: Server, server_url: str
) -> None:
    test_database = kit.testing.AsyncTestDatabase(env.config(kit))
    try:
        first = await test_database.create_test_database("one")
        if kit.ours:
            with pytest.raises(gateway_errors.DatabaseTestError, match="already created"):
                await test_database.create_test_database("two")
            await test_database.drop_test_database()
            assert first not in await databases(server_url)
        else:
            # Different on purpose: pgdbm forgets the first database, which then outlives
            # drop_test_database() (the sweep drops it).
            second = await test_database.create_test_database("two")
            await test_database.drop_test_database()
            remaining = await databases(server_url)
            assert first in remaining
            assert second not in remaining
    finally:
        await dispose(test_database)


async def test_pool_sizes_can_be_overridden(kit: Kit, env: Server) -> None:
    async with created(kit, env.config(kit)) as test_database:
        assert test_database.get_test_db_config(command_timeout=5).command_timeout == 5
        if kit.ours:
            config = test_database.get_test_db_config(max_connections=3)
            assert (config.min_connections, config.max_connections) == (2, 3)
        else:
            # Different on purpose: pgdbm passes min/max_connections and **kwargs to one call,
            # so overriding the test pool's size is a TypeError there.
            with pytest.raises(TypeError, match="max_connections"):
                test_database.get_test_db_config(max_connections=3)


# --- fixtures -----------------------------------------------------------------------------


async def test_load_fixtures_gives_the_same_counts_and_rows(
    env: Server, fixtures_dir: Path, tmp_path: Path
) -> None:
    one_file = tmp_path / "more_items.json"
    one_file.write_text(json.dumps({"app.items": [{"id": 5, "name": "elder", "qty": 1}]}))

    async def scenario(kit: Kit) -> Any:
        async with shop(kit, env, fixtures_dir) as (test_database, db):
            # A single file, and a schema-qualified table name (reported as written).
            assert await test_database.load_fixtures(db, one_file) == {"app.items": 1}
            return (
                await db.fetch_all("SELECT email, full_name, is_active FROM {{tables.users}}"),
                await db.fetch_all("SELECT * FROM {{tables.items}} ORDER BY id"),
            )

    theirs, ours = await on_both(scenario)
    assert ours == theirs
    assert ours[0] == [
        {"email": "ann@example.com", "full_name": "Ann", "is_active": True},
        {"email": "bob@example.com", "full_name": "Bob", "is_active": True},
    ]
    assert [row["name"] for row in ours[1]] == ["apple", "banana", "cherry", "date", "elder"]


async def test_a_missing_fixtures_path_is_a_configuration_error(
    kit: Kit, env: Server, tmp_path: Path
) -> None:
    async with (
        created(kit, env.config(kit)) as test_database,
        test_database.get_test_db_manager() as db,
    ):
        with pytest.raises(kit.errors.ConfigurationError, match="does not exist") as refused:
            await test_database.load_fixtures(db, tmp_path / "nowhere")
        assert refused.value.config_field == "fixtures_path"
        # A file of another kind, named directly, loads nothing (as in pgdbm).
        (tmp_path / "notes.txt").write_text("SELECT 1")
        assert await test_database.load_fixtures(db, tmp_path / "notes.txt") == {}


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ({"items; DROP TABLE items": [{"id": 9}]}, "SchemaError"),
        ({'items" (id) VALUES (1); --': [{"id": 9}]}, "SchemaError"),
        ({"a.b.items": [{"id": 9}]}, "ValueError"),
        ({"bad schema.items": [{"id": 9}]}, "SchemaError"),
        ({"items": [{"id": 9, "name) VALUES (1, 'x'); --": "x"}]}, "SchemaError"),
        ({"items": [{"id": 9, 'na"me': "x"}]}, "SchemaError"),
    ],
)
async def test_fixture_table_and_column_names_are_refused_before_sql(
    kit: Kit, env: Server, fixtures_dir: Path, tmp_path: Path, rows: Any, error: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rows))
    expected = ValueError if error == "ValueError" else kit.errors.SchemaError
    async with shop(kit, env, fixtures_dir) as (test_database, db):
        with pytest.raises(expected):
            await test_database.load_fixtures(db, bad)
        assert await db.fetch_value("SELECT count(*) FROM {{tables.items}}") == 4


async def test_json_rows_go_into_their_named_columns(kit: Kit, env: Server, tmp_path: Path) -> None:
    (tmp_path / "01_pairs.sql").write_text("CREATE TABLE pairs (a TEXT, b TEXT);")
    # The second row lists its keys in another order.
    (tmp_path / "02_pairs.json").write_text(
        json.dumps({"pairs": [{"a": "a1", "b": "b1"}, {"b": "b2", "a": "a2"}]})
    )
    async with (
        created(kit, env.config(kit)) as test_database,
        test_database.get_test_db_manager() as db,
    ):
        assert await test_database.load_fixtures(db, tmp_path) == {"01_pairs": -1, "pairs": 2}
        second = await db.fetch_one("SELECT a, b FROM pairs WHERE 'b2' IN (a, b)")
    if kit.ours:
        assert second == {"a": "a2", "b": "b2"}
    else:
        # Different on purpose: pgdbm takes each row's values in that row's key order under
        # the first row's column names, silently swapping this row's columns.
        assert second == {"a": "b2", "b": "a2"}


async def test_json_rows_with_different_keys_are_refused(env: Server, tmp_path: Path) -> None:
    # Ours only: pgdbm sends the short row anyway and fails inside asyncpg (or, with
    # another key of the same count, inserts into the wrong columns).
    (tmp_path / "01.sql").write_text("CREATE TABLE pairs (a TEXT, b TEXT);")
    (tmp_path / "02.json").write_text(json.dumps({"pairs": [{"a": "1", "b": "2"}, {"a": "3"}]}))
    (tmp_path / "bad_shape.json").write_text(json.dumps(["not", "a", "mapping"]))
    async with (
        created(OURS, env.config(OURS)) as test_database,
        test_database.get_test_db_manager() as db,
    ):
        with pytest.raises(gateway_errors.DatabaseTestError, match="same keys"):
            await test_database.load_fixtures(db, tmp_path)
        assert await db.fetch_value("SELECT count(*) FROM pairs") == 0
        with pytest.raises(gateway_errors.DatabaseTestError, match="object"):
            await test_database.load_fixtures(db, tmp_path / "bad_shape.json")


# --- snapshots ----------------------------------------------------------------------------


async def test_snapshots_compare_alike_and_report_changes_alike(
    env: Server, fixtures_dir: Path
) -> None:
    async def scenario(kit: Kit) -> Any:
        async with shop(kit, env, fixtures_dir) as (test_database, db):
            ordered = await test_database.snapshot_table(db, "items", order_by="qty DESC, id")
            before = await test_database.snapshot_table(db, "app.items", order_by="id asc")
            await test_database.assert_table_unchanged(db, "items", before, order_by="id")
            messages = []
            await db.execute("UPDATE {{tables.items}} SET qty = 99 WHERE id = 1")
            for change in (
                "",
                "INSERT INTO {{tables.items}} VALUES (7, 'fig', 1), (8, 'grape', 2)",
                "DELETE FROM {{tables.items}} WHERE id = 2",
            ):
                if change:
                    await db.execute(change)
                with pytest.raises(AssertionError) as changed:
                    await test_database.assert_table_unchanged(db, "items", before, "id")
                messages.append(str(changed.value))
            return ordered, before, messages

    theirs, ours = await on_both(scenario)
    assert ours == theirs
    ordered, before, messages = ours
    assert [row["id"] for row in ordered] == [4, 3, 1, 2]  # DESC puts NULL first
    assert [row["id"] for row in before] == [1, 2, 3, 4]
    assert messages[0] == "Table 'items' has changed!\nAdded rows: 1\nRemoved rows: 1"
    assert messages[1] == "Table 'items' has changed!\nAdded rows: 3\nRemoved rows: 1"
    assert messages[2] == "Table 'items' has changed!\nAdded rows: 3\nRemoved rows: 2"


@pytest.mark.parametrize(
    "order_by",
    [
        "id; DROP TABLE items",
        "id -- comment",
        "id /* comment */",
        "id NULLS FIRST",
        "1",
        "lower(name)",
        "id DESC DESC",
        "id,",
        "   ",
        'name COLLATE "C"',
        '"id"',
    ],
)
async def test_unsafe_order_by_is_refused(
    kit: Kit, env: Server, fixtures_dir: Path, order_by: str
) -> None:
    async with shop(kit, env, fixtures_dir) as (test_database, db):
        with pytest.raises(ValueError):  # noqa: PT011  # pgdbm raises a bare ValueError
            await test_database.snapshot_table(db, "items", order_by=order_by)


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ("items; DROP TABLE items", "SchemaError"),
        ('items"', "SchemaError"),
        ("", "SchemaError"),
        ("app.items; --", "SchemaError"),
        ("bad-schema.items", "SchemaError"),
        ("db.app.items", "ValueError"),
    ],
)
async def test_unsafe_table_names_are_refused(
    kit: Kit, env: Server, fixtures_dir: Path, table: str, error: str
) -> None:
    expected = ValueError if error == "ValueError" else kit.errors.SchemaError
    async with shop(kit, env, fixtures_dir) as (test_database, db):
        helper = kit.testing.DatabaseTestCase(db)
        for attempt in (
            test_database.snapshot_table(db, table),
            helper.count_rows(table),
            helper.truncate_table(table),
        ):
            with pytest.raises(expected):
                await attempt
        assert await helper.count_rows("items") == 4


async def test_a_trailing_newline_in_a_table_name_is_refused(
    kit: Kit, env: Server, fixtures_dir: Path
) -> None:
    async with shop(kit, env, fixtures_dir) as (_, db):
        helper = kit.testing.DatabaseTestCase(db)
        if kit.ours:
            with pytest.raises(gateway_errors.SchemaError):
                await helper.count_rows("items\n")
        else:
            # Different on purpose: pgdbm's re.match(...$) passes "items\n", and the quoted
            # name reaches PostgreSQL, which looks for a table whose name ends in a newline.
            with pytest.raises(pgdbm.errors.QueryError):
                await helper.count_rows("items\n")


async def test_a_changed_table_with_timestamps_fails_as_an_assertion(kit: Kit, env: Server) -> None:
    async with (
        created(kit, env.config(kit)) as test_database,
        test_database.get_test_db_manager() as db,
    ):
        await db.execute(
            "CREATE TABLE events (id INT, at TIMESTAMPTZ DEFAULT now(), amount NUMERIC)"
        )
        await db.execute("INSERT INTO events (id, amount) VALUES (1, 2.50)")
        before = await test_database.snapshot_table(db, "events", order_by="id")
        await test_database.assert_table_unchanged(db, "events", before, order_by="id")
        await db.execute("UPDATE events SET amount = 3")
        if kit.ours:
            with pytest.raises(AssertionError, match="Added rows: 1\nRemoved rows: 1"):
                await test_database.assert_table_unchanged(db, "events", before, "id")
        else:
            # Different on purpose: pgdbm json.dumps the rows to describe the change, which
            # raises TypeError for a datetime or Decimal instead of failing the assertion.
            with pytest.raises(TypeError, match="not JSON serializable"):
                await test_database.assert_table_unchanged(db, "events", before, "id")


async def test_duplicated_rows_are_counted(env: Server) -> None:
    # Ours only: pgdbm compares sets, so a duplicated row reports "Added rows: 0".
    async with (
        created(OURS, env.config(OURS)) as test_database,
        test_database.get_test_db_manager() as db,
    ):
        await db.execute("CREATE TABLE tags (name TEXT); INSERT INTO tags VALUES ('a')")
        before = await test_database.snapshot_table(db, "tags")
        await db.execute("INSERT INTO tags VALUES ('a')")
        with pytest.raises(AssertionError, match="Added rows: 1\nRemoved rows: 0"):
            await test_database.assert_table_unchanged(db, "tags", before)


# --- DatabaseTestCase ---------------------------------------------------------------------

WHERE_COUNTS: dict[str | None, int] = {
    "qty > 2": 2,
    "qty >= 3 AND name LIKE 'c%'": 1,
    "name = 'apple' or name = 'banana'": 2,
    "qty IS NULL": 1,
    "qty is not null": 3,
    "name ILIKE 'A%'": 1,
    "id <> 1": 3,
    "id != 1 AND qty < 100": 2,
    "qty = -1": 0,
    "qty = 2.5": 0,
    "name = 'it''s'": 0,
    "name = name": 4,
    "qty = NULL": 0,
    "  qty > 2  ": 2,
}


async def test_count_rows_with_where_clauses_counts_alike(env: Server, fixtures_dir: Path) -> None:
    async def scenario(kit: Kit) -> dict[str | None, int]:
        async with shop(kit, env, fixtures_dir) as (_, db):
            helper = kit.testing.DatabaseTestCase(db)
            counts: dict[str | None, int] = {None: await helper.count_rows("items")}
            for where in WHERE_COUNTS:
                counts[where] = await helper.count_rows("items", where)
            counts["app.items"] = await helper.count_rows("app.items", "qty > 2")
            counts[""] = await helper.count_rows("items", "")  # empty: no WHERE at all
            return counts

    theirs, ours = await on_both(scenario)
    assert ours == theirs
    expected: dict[str | None, int] = {None: 4, **WHERE_COUNTS, "app.items": 2, "": 4}
    assert ours == expected


@pytest.mark.parametrize(
    "where",
    [
        "1 = 1",
        "qty > 2; DROP TABLE items",
        "qty > 2 -- comment",
        "qty > 2 /* comment */",
        "qty IN (1, 2)",
        "lower(name) = 'apple'",
        "name = 'a' OR 1=1",
        "qty > 2 UNION SELECT 1",
        "name = 'a\x00'",
        "NOT qty > 2",
        "qty > 2 AND",
        "qty > (SELECT 1)",
        "name = 'unterminated",
        "   ",
    ],
)
async def test_unsafe_where_clauses_are_refused_before_sql(
    kit: Kit, env: Server, fixtures_dir: Path, where: str
) -> None:
    async with shop(kit, env, fixtures_dir) as (_, db):
        with pytest.raises(ValueError):  # noqa: PT011  # pgdbm raises a bare ValueError
            await kit.testing.DatabaseTestCase(db).count_rows("items", where)


async def test_a_backslash_in_a_where_clause_is_refused(
    kit: Kit, env: Server, fixtures_dir: Path
) -> None:
    where = "name = 'apple\\'"
    async with shop(kit, env, fixtures_dir) as (_, db):
        helper = kit.testing.DatabaseTestCase(db)
        if kit.ours:
            with pytest.raises(ValueError, match="backslash"):
                await helper.count_rows("items", where)
        else:
            # Different on purpose (stricter): pgdbm accepts it. Under the default
            # standard_conforming_strings the backslash is literal, but a server or role with
            # it off reads \' as an escaped quote, and the rest of the fragment as SQL.
            assert await helper.count_rows("items", where) == 0


@pytest.mark.parametrize("where", ["qty\u00a0> 2", "qty > \u0663", "qty > 2\u00a0 AND id = 1"])
async def test_unicode_spaces_and_digits_in_a_where_clause_are_refused(
    kit: Kit, env: Server, fixtures_dir: Path, where: str
) -> None:
    async with shop(kit, env, fixtures_dir) as (_, db):
        helper = kit.testing.DatabaseTestCase(db)
        if kit.ours:
            with pytest.raises(ValueError, match="Unsupported"):
                await helper.count_rows("items", where)
        else:
            # Different on purpose (stricter): pgdbm's \s and \d match any Unicode space or
            # digit, so the fragment reaches PostgreSQL, whose lexer reads them as name
            # characters and refuses the statement.
            with pytest.raises(pgdbm.errors.QueryError):
                await helper.count_rows("items", where)


async def test_table_exists_truncate_and_cascade(kit: Kit, env: Server, fixtures_dir: Path) -> None:
    async with shop(kit, env, fixtures_dir) as (_, db):
        helper = kit.testing.DatabaseTestCase(db)
        assert await helper.table_exists("items")
        assert await helper.table_exists("app.items")
        assert not await helper.table_exists("missing")
        assert not await helper.table_exists("public.items")
        await db.execute(
            "CREATE TABLE {{tables.orders}} (id INT, item_id INT REFERENCES {{tables.items}})"
        )
        await db.execute("INSERT INTO {{tables.orders}} VALUES (1, 1)")
        with pytest.raises(kit.errors.QueryError):  # referenced by orders
            await helper.truncate_table("items")
        assert await helper.count_rows("items") == 4
        await helper.truncate_table("orders")
        assert await helper.count_rows("orders") == 0
        await db.execute("INSERT INTO {{tables.orders}} VALUES (1, 1)")
        await helper.truncate_table("items", cascade=True)
        assert (await helper.count_rows("items"), await helper.count_rows("orders")) == (0, 0)
        if kit.ours:
            # Ours only: our manager's table_exists validates the name (pgdbm's returns False
            # for any string, the query being parameterised).
            with pytest.raises(gateway_errors.SchemaError):
                await helper.table_exists("items; DROP TABLE items")
        else:
            assert not await helper.table_exists("items; DROP TABLE items")


async def test_create_test_user_inserts_the_same_row(env: Server, fixtures_dir: Path) -> None:
    async def scenario(kit: Kit) -> Any:
        async with shop(kit, env, fixtures_dir) as (_, db):
            helper = kit.testing.DatabaseTestCase(db)
            named = await helper.create_test_user("carl@example.com", full_name="Carl")
            anonymous = await helper.create_test_user(is_active=False)
            rows = await db.fetch_all(
                "SELECT id, full_name, is_active FROM {{tables.users}} ORDER BY id"
            )
            return (
                named,
                {**anonymous, "email": re.sub("[0-9a-f]{8}", "*", anonymous["email"])},
                rows,
            )

    theirs, ours = await on_both(scenario)
    assert ours == theirs
    named, anonymous, rows = ours
    assert named == {"id": 3, "email": "carl@example.com", "full_name": "Carl"}
    assert anonymous == {"id": 4, "email": "test_*@example.com", "is_active": False}
    assert rows[2:] == [
        {"id": 3, "full_name": "Carl", "is_active": True},
        {"id": 4, "full_name": "Test User", "is_active": False},
    ]


async def test_helpers_work_on_a_shared_pools_manager(kit: Kit, env: Server) -> None:
    async with created(kit, env.config(kit)) as test_database:
        pool = await kit.lib.AsyncDatabaseManager.create_shared_pool(
            test_database.get_test_db_config()
        )
        try:
            db = kit.lib.AsyncDatabaseManager(pool=pool, schema="svc")
            await db.execute('CREATE SCHEMA IF NOT EXISTS "svc"')
            await db.execute("CREATE TABLE {{tables.items}} (id INT)")
            await db.execute("INSERT INTO {{tables.items}} VALUES (1)")
            helper = kit.testing.DatabaseTestCase(db)
            if kit.ours:
                assert await helper.count_rows("items") == 1
                assert await helper.table_exists("items")
            else:
                # Different on purpose: pgdbm leaves "items" unqualified, and a shared pool's
                # search_path (pinned to pg_catalog, in both libraries) resolves no user
                # table; ours names the manager's schema.
                with pytest.raises(pgdbm.errors.QueryError, match="does not exist"):
                    await helper.count_rows("items")
        finally:
            await pool.close()


# --- secrets and logging ------------------------------------------------------------------


async def test_log_sql_does_not_change_the_process_environment(
    kit: Kit, env: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DB_DEBUG", "")  # restored afterwards, whatever pgdbm sets
    async with created(kit, env.config(kit, log_sql=True)) as test_database:
        with caplog.at_level(logging.DEBUG):
            async with test_database.get_test_db_manager() as db:
                await db.fetch_value("SELECT 41 + 1")
    if kit.ours:
        assert os.environ["DB_DEBUG"] == ""
        # DB_DEBUG's own line, for this manager only
        assert "Query: SELECT 41 + 1" in caplog.text
    else:
        # Different on purpose: pgdbm turns on DB_DEBUG for the whole process (every later
        # manager logs every query); ours logs this manager's statements only.
        assert os.environ["DB_DEBUG"] == "1"


async def test_the_password_never_appears_in_reprs_logs_or_errors(
    env: Server, server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # With trust authentication (the embedded server) any password connects, so a nasty
    # one shows that ours URL-encodes it; pgdbm's admin DSN splices it raw and breaks.
    secret = env.password if env.url_has_password else "pw-@/#?:%-7f3a9c"
    config = env.config(OURS, password=secret, verbose=True, log_sql=True)
    assert secret not in repr(config)
    with caplog.at_level(logging.DEBUG):
        async with created(OURS, config, suffix="secret") as test_database:
            assert secret not in repr(test_database.get_test_db_config())
            async with test_database.get_test_db_manager(schema="app") as db:
                await db.execute("CREATE TABLE {{tables.t}} (id INT)")
                with pytest.raises(gateway_errors.QueryError) as failed:
                    await db.execute("SELECT * FROM nowhere")
                assert secret not in str(failed.value)
            name = test_database._test_db_name
        assert name not in await databases(server_url)
    assert "Dropped test database" in caplog.text
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()


# --- pgdbm code, unchanged ----------------------------------------------------------------


async def pgdbm_style_test(testing: Any, config: Any, fixtures: Path) -> dict[str, Any]:
    """A test body written against pgdbm.testing's API; only the module handed in differs."""
    test_database = testing.AsyncTestDatabase(config)
    await test_database.create_test_database(suffix="style")
    try:
        async with test_database.get_test_db_manager(schema="shop") as db:
            loaded = await test_database.load_fixtures(db, fixtures)
            helper = testing.DatabaseTestCase(db)
            before = await test_database.snapshot_table(db, "items", order_by="id")
            user = await helper.create_test_user("style@example.com", full_name="Style")
            await test_database.assert_table_unchanged(db, "items", before, order_by="id")
            try:
                await db.execute("DELETE FROM {{tables.items}} WHERE qty IS NULL")
                await test_database.assert_table_unchanged(db, "items", before, order_by="id")
                change = None
            except AssertionError as error:
                change = str(error)
            counts = [await helper.count_rows("items", where) for where in (None, "qty > 2")]
            exists = [await helper.table_exists(name) for name in ("items", "nothing")]
            await helper.truncate_table("users", cascade=True)
            emptied = await helper.count_rows("users")
        async with testing.AsyncTestDatabase.create(schema="other", config=config) as other:
            other_tables = await other.fetch_value(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'other'"
            )
    finally:
        await test_database.drop_test_database()
    return {
        "loaded": loaded,
        "before": before,
        "user": user,
        "change": change,
        "counts": counts,
        "exists": exists,
        "emptied": emptied,
        "other_tables": other_tables,
    }


async def test_a_pgdbm_style_test_runs_unchanged(
    env: Server, server_url: str, fixtures_dir: Path
) -> None:
    theirs = await pgdbm_style_test(pgdbm.testing, env.config(PGDBM), fixtures_dir)
    ours = await pgdbm_style_test(gateway_testing, env.config(OURS), fixtures_dir)
    assert ours == theirs
    assert ours["counts"] == [3, 2]
    assert ours["change"] == "Table 'items' has changed!\nAdded rows: 0\nRemoved rows: 1"
    assert not {name for name in await databases(server_url) if name.startswith(PREFIX)}


# --- the pytest plugin --------------------------------------------------------------------

PLUGIN_TESTS = """
import re


async def test_plain(test_db):
    assert await test_db.fetch_value("SELECT 1") == 1
    assert re.fullmatch(r"test_[0-9a-f]{8}", await test_db.fetch_value("SELECT current_database()"))


async def test_schema(test_db_with_schema):
    await test_db_with_schema.execute("CREATE TABLE {{tables.things}} (id INT)")
    assert await test_db_with_schema.table_exists("things")
    assert test_db_with_schema.schema == "test_schema"


async def test_data(test_db_with_data):
    counts = [
        await test_db_with_data.fetch_value(f"SELECT count(*) FROM {table}")
        for table in ("users", "projects", "agents")
    ]
    assert counts == [3, 2, 5]
    bob = await test_db_with_data.fetch_value(
        "SELECT count(*) FROM agents a JOIN users u ON u.id = a.assigned_to "
        "WHERE u.email = 'bob@example.com'"
    )
    assert bob == 3


async def test_utils(test_db_with_tables, db_test_utils):
    user = await db_test_utils.create_test_user("t@example.com")
    assert user == {"id": 1, "email": "t@example.com"}
    assert await db_test_utils.count_rows("users", "is_active = TRUE") == 1
    assert await db_test_utils.table_exists("agents")


async def test_factory(test_db_factory):
    one = await test_db_factory.create_db("one")
    two = await test_db_factory.create_db("two", schema="custom")
    names = {await db.fetch_value("SELECT current_database()") for db in (one, two)}
    assert len(names) == 2
    await two.execute("CREATE TABLE {{tables.t}} (id INT)")
    assert await two.table_exists("custom.t")


async def test_isolated(test_db_with_tables, test_db_isolated):
    await test_db_isolated.execute("INSERT INTO users (email) VALUES ('iso@example.com')")
    assert await test_db_isolated.fetch_value("SELECT count(*) FROM users") == 1
"""


@pytest.mark.parametrize("plugin", ["pgdbm.fixtures.conftest", "gateway.db.fixtures"])
async def test_the_fixtures_plugin_runs_pgdbms_fixture_tests(
    env: Server, server_url: str, tmp_path: Path, plugin: str
) -> None:
    (tmp_path / "test_inner.py").write_text(PLUGIN_TESTS)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TEST_DB_"))},
        **env.env(),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    before = await databases(server_url)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", plugin),
        *("-p", "no:randomly", "-p", "no:xdist", "-c", str(tmp_path / "pytest.ini")),
        *("--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")),
        cwd=tmp_path,
        env=child_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        leaked = {
            name
            for name in await databases(server_url) - before
            if re.fullmatch(r"test_[0-9a-f]{8}(_one|_two)?", name)
        }
        await drop_databases(server_url, leaked)
    text = output.decode()
    assert process.returncode == 0, text
    assert "6 passed" in text, text
    assert not leaked  # every fixture dropped its database
