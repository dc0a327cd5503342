"""AsyncMigrationManager against a real PostgreSQL: every assertion reads the database's state.

Each schema tracks its files in its own `<schema>.schema_migrations` (pgdbm's place and
layout); schemas and tables are checked through
information_schema, locks through pg_locks and pg_stat_activity. The cross-process race runs
two real OS processes against the same database.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import textwrap
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.db import (
    AsyncDatabaseManager,
    AsyncMigrationManager,
    DatabaseConfig,
    Migration,
    MigrationError,
    SharedPool,
)
from gateway.db.migration_lock import GATEWAY_LOCK_KEY
from tests.migration_race import GATE_STATEMENT, eventually, race_two_migrations
from tests.tracking_rows import tables_in, tracked, tracking_tables

Factory = Callable[[str], AsyncDatabaseManager]


# --- helpers -------------------------------------------------------------------------------


def write(folder: Path, filename: str, sql: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(textwrap.dedent(sql).lstrip(), encoding="utf-8")
    return path


async def schema_exists(conn: asyncpg.Connection, schema: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
            schema,
        )
    )


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


async def tracking_table_exists(conn: asyncpg.Connection) -> bool:
    return bool(await tracking_tables(conn))


async def advisory_locks(conn: asyncpg.Connection, key: int | None = None) -> list[asyncpg.Record]:
    """Advisory locks held or awaited in this database (on `key` only, if given)."""
    return await conn.fetch(
        "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND ($1::bigint IS NULL OR ((classid::bigint << 32) | objid::bigint) = $1)",
        key,
    )


async def backends_waiting_on_locks(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return count


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "migrations"


# --- finding and applying files ------------------------------------------------------------


async def test_files_apply_in_numeric_order_with_templates_resolved_to_the_manager_schema(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    # Each file depends on the one before; sorting by text would run 10_ before 9_.
    write(folder, "001_create_users.sql", "CREATE TABLE {{tables.users}} (id INT PRIMARY KEY);")
    write(
        folder,
        "002_create_posts.sql",
        "CREATE TABLE {{tables.posts}} (id INT PRIMARY KEY, "
        "user_id INT NOT NULL REFERENCES {{tables.users}}(id));",
    )
    write(
        folder,
        "9_create_comments.sql",
        "CREATE TABLE {{ tables.comments }} (id INT PRIMARY KEY, "
        "post_id INT REFERENCES {{tables.posts}}(id));",
    )
    write(
        folder,
        "10_count_comments.sql",
        """
        CREATE INDEX comments_post ON {{tables.comments}} (post_id);
        CREATE FUNCTION {{schema}}.comment_count() RETURNS bigint
            LANGUAGE sql AS 'SELECT count(*) FROM {{tables.comments}}';
        """,
    )
    blog = manager_factory("blog")
    migrations = AsyncMigrationManager(blog, str(folder), module_name="blog")

    result = await migrations.apply_pending_migrations()

    order = [
        "001_create_users.sql",
        "002_create_posts.sql",
        "9_create_comments.sql",
        "10_count_comments.sql",
    ]
    assert result["status"] == "success"
    assert [entry["filename"] for entry in result["applied"]] == order
    assert all(
        set(entry) == {"filename", "execution_time_ms"}
        and isinstance(entry["execution_time_ms"], int)
        and entry["execution_time_ms"] >= 1  # pgdbm's whole milliseconds, at least 1
        for entry in result["applied"]
    )
    assert result["total_time_ms"] == sum(entry["execution_time_ms"] for entry in result["applied"])
    assert result["total"] == 4
    assert result["skipped"] == []
    assert await tables_in(raw_connection, "blog") == {"users", "posts", "comments"}
    assert await tables_in(raw_connection, "public") == set()
    assert await tracking_tables(raw_connection) == ["blog"]
    assert await raw_connection.fetchval("SELECT blog.comment_count()") == 0
    assert await tracked(raw_connection) == [("blog", name) for name in order]

    again = await migrations.apply_pending_migrations()

    assert again["status"] == "up_to_date"
    assert again["applied"] == []
    assert again["skipped"] == order
    assert again["total"] == 4
    assert "total_time_ms" not in again
    assert len(await tracked(raw_connection)) == 4


async def test_dry_run_lists_pending_files_and_creates_nothing(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(folder, "001_create_items.sql", "CREATE TABLE {{tables.items}} (id INT);")
    write(folder, "002_create_tags.sql", "CREATE TABLE {{tables.tags}} (id INT);")
    migrations = AsyncMigrationManager(manager_factory("shop"), folder, module_name="shop")

    result = await migrations.apply_pending_migrations(dry_run=True)

    assert result["status"] == "dry_run"
    assert result["pending"] == ["001_create_items.sql", "002_create_tags.sql"]
    assert result["applied"] == []
    assert not await schema_exists(raw_connection, "shop")
    assert not await tracking_table_exists(raw_connection)

    await migrations.apply_pending_migrations()
    write(folder, "003_create_prices.sql", "CREATE TABLE {{tables.prices}} (id INT);")

    result = await migrations.apply_pending_migrations(dry_run=True)

    assert result["status"] == "dry_run"
    assert result["pending"] == ["003_create_prices.sql"]
    assert result["skipped"] == ["001_create_items.sql", "002_create_tags.sql"]
    assert await tables_in(raw_connection, "shop") == {"items", "tags"}
    assert len(await tracked(raw_connection)) == 2


async def test_tracking_rows_are_pgdbms_in_the_schemas_own_table(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    content = "CREATE TABLE {{tables.users}} (id INT PRIMARY KEY);\n"
    write(folder, "001_create_users.sql", content)
    await AsyncMigrationManager(
        manager_factory("users"), folder, module_name="users"
    ).apply_pending_migrations()

    row = await raw_connection.fetchrow("SELECT * FROM users.schema_migrations")

    assert row is not None
    # pgdbm 0.5.0's columns, nothing more
    assert list(row.keys()) == [
        "id",
        "filename",
        "checksum",
        "module_name",
        "applied_at",
        "applied_by",
        "execution_time_ms",
    ]
    assert row["filename"] == "001_create_users.sql"
    # pgdbm's checksum: the text with its ends stripped (and CRLF made LF)
    assert row["checksum"] == hashlib.sha256(content.strip().encode()).hexdigest()
    assert row["module_name"] == "users"
    assert row["applied_by"] == await raw_connection.fetchval("SELECT current_user")
    assert row["execution_time_ms"] >= 1
    assert row["applied_at"] is not None
    assert await tracking_tables(raw_connection) == ["users"]
    indexes = await raw_connection.fetch(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'users' "
        "AND tablename = 'schema_migrations' ORDER BY indexname"
    )
    assert [index["indexname"] for index in indexes] == [
        "idx_schema_migrations_module",
        "schema_migrations_filename_module_name_key",
        "schema_migrations_pkey",
    ]


async def test_two_services_shipping_the_same_filename_are_kept_apart_by_module_name(
    tmp_path: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(tmp_path / "users", "001_create.sql", "CREATE TABLE {{tables.accounts}} (id INT);")
    write(tmp_path / "orders", "001_create.sql", "CREATE TABLE {{tables.orders}} (id INT);")

    users = await AsyncMigrationManager(
        manager_factory("users"), tmp_path / "users", module_name="users"
    ).apply_pending_migrations()
    orders = await AsyncMigrationManager(
        manager_factory("orders"), tmp_path / "orders", module_name="orders"
    ).apply_pending_migrations()

    assert users["status"] == orders["status"] == "success"
    assert await tables_in(raw_connection, "users") == {"accounts"}
    assert await tables_in(raw_connection, "orders") == {"orders"}
    assert await tracked(raw_connection) == [
        ("users", "001_create.sql"),
        ("orders", "001_create.sql"),
    ]
    assert await tracking_tables(raw_connection) == ["orders", "users"]


# --- failures ------------------------------------------------------------------------------


async def test_failing_file_is_rolled_back_whole_and_later_files_are_not_applied(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(folder, "001_create_orders.sql", "CREATE TABLE {{tables.orders}} (id INT);")
    broken = write(
        folder,
        "002_create_lines.sql",
        """
        CREATE TABLE {{tables.lines}} (id INT);
        INSERT INTO {{tables.missing}} (id) VALUES (1);
        """,
    )
    write(folder, "003_create_refunds.sql", "CREATE TABLE {{tables.refunds}} (id INT);")
    migrations = AsyncMigrationManager(manager_factory("shop"), folder, module_name="shop")

    with pytest.raises(MigrationError) as caught:
        await migrations.apply_pending_migrations()

    error = caught.value
    assert "002_create_lines.sql" in str(error)
    assert 'INSERT INTO "shop".missing (id) VALUES (1)' in str(error)
    assert error.migration_file == "002_create_lines.sql"
    result = error.details["result"]
    assert result["status"] == "error"
    assert result["failed_migration"] == "002_create_lines.sql"
    assert [entry["filename"] for entry in result["applied"]] == ["001_create_orders.sql"]
    assert "missing" in result["error"]
    assert await tables_in(raw_connection, "shop") == {"orders"}  # no "lines", no "refunds"
    assert await tracked(raw_connection) == [("shop", "001_create_orders.sql")]
    assert await advisory_locks(raw_connection) == []

    broken.write_text("CREATE TABLE {{tables.lines}} (id INT);\n")
    fixed = await migrations.apply_pending_migrations()

    assert [entry["filename"] for entry in fixed["applied"]] == [
        "002_create_lines.sql",
        "003_create_refunds.sql",
    ]
    assert await tables_in(raw_connection, "shop") == {"orders", "lines", "refunds"}


async def test_file_changed_after_being_applied_is_refused_and_nothing_else_is_applied(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    first = write(folder, "001_create_users.sql", "CREATE TABLE {{tables.users}} (id INT);")
    migrations = AsyncMigrationManager(manager_factory("users"), folder, module_name="users")
    await migrations.apply_pending_migrations()
    first.write_text("CREATE TABLE {{tables.users}} (id INT, email TEXT);\n")
    write(folder, "002_create_roles.sql", "CREATE TABLE {{tables.roles}} (id INT);")

    with pytest.raises(MigrationError, match=r"001_create_users\.sql.*modified") as caught:
        await migrations.apply_pending_migrations()

    assert caught.value.migration_file == "001_create_users.sql"
    assert await tables_in(raw_connection, "users") == {"users"}  # no roles
    assert await tracked(raw_connection) == [("users", "001_create_users.sql")]
    columns = await raw_connection.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'users' AND table_name = 'users'"
    )
    assert [column["column_name"] for column in columns] == ["id"]
    with pytest.raises(MigrationError, match=r"001_create_users\.sql"):
        await migrations.apply_pending_migrations(dry_run=True)


async def test_explicit_begin_and_commit_in_a_file_still_run_it_atomically(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(
        folder,
        "001_manual_transaction.sql",
        """
        -- migrations/001_manual_transaction.sql
        BEGIN;

        CREATE TABLE {{tables.posts}} (id SERIAL PRIMARY KEY, title TEXT NOT NULL);

        -- If this fails, whole migration rolls back
        CREATE INDEX posts_title ON {{tables.posts}} (title);

        COMMIT;
        """,
    )
    write(
        folder,
        "002_start_transaction.sql",
        """
        /* two blocks, lower case and long forms: the whole file is still one transaction */
        start transaction;
        CREATE TABLE {{tables.drafts}} (id INT);
        -- end of the first block
        COMMIT WORK;

        BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED;
        INSERT INTO {{tables.nowhere}} VALUES (1);
        END;
        """,
    )
    migrations = AsyncMigrationManager(manager_factory("blog"), folder, module_name="blog")

    with pytest.raises(MigrationError, match=r"002_start_transaction\.sql"):
        await migrations.apply_pending_migrations()

    assert await tables_in(raw_connection, "blog") == {"posts"}  # no drafts
    assert await tracked(raw_connection) == [("blog", "001_manual_transaction.sql")]
    assert await raw_connection.fetchval("SELECT to_regclass('blog.posts_title') IS NOT NULL")


async def test_a_comment_mentioning_concurrently_does_not_make_a_file_non_atomic(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(
        folder,
        "001_create_jobs.sql",
        """
        -- Workers update this table concurrently.
        CREATE TABLE {{tables.jobs}} (id INT, note TEXT DEFAULT 'runs concurrently');
        INSERT INTO {{tables.nowhere}} VALUES (1);
        """,
    )
    migrations = AsyncMigrationManager(manager_factory("work"), folder, module_name="work")

    with pytest.raises(MigrationError, match=r"001_create_jobs\.sql"):
        await migrations.apply_pending_migrations()

    assert await tables_in(raw_connection, "work") == set()
    assert await tracked(raw_connection) == []


async def test_create_index_concurrently_applies_outside_a_transaction(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(folder, "001_create_users.sql", "CREATE TABLE {{tables.users}} (email TEXT);")
    write(
        folder,
        "002_index_email.sql",
        """
        -- CREATE INDEX CONCURRENTLY cannot run in a transaction
        CREATE INDEX CONCURRENTLY users_email ON {{tables.users}} (email);
        """,
    )
    migrations = AsyncMigrationManager(manager_factory("users"), folder, module_name="users")

    result = await migrations.apply_pending_migrations()

    assert result["status"] == "success"
    assert await raw_connection.fetchval("SELECT to_regclass('users.users_email') IS NOT NULL")
    assert len(await tracked(raw_connection)) == 2


async def test_dollar_quoted_plpgsql_with_semicolons_inside_applies(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(
        folder,
        "001_users_and_trigger.sql",
        """
        CREATE TABLE {{tables.users}} (
            id SERIAL PRIMARY KEY,
            email TEXT NOT NULL,
            note TEXT DEFAULT 'a;b',
            updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
        );

        CREATE OR REPLACE FUNCTION {{schema}}.update_updated_at()
        RETURNS TRIGGER AS $$
        BEGIN
            NEW.updated_at = CURRENT_TIMESTAMP;
            NEW.email = lower(NEW.email);
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql;

        CREATE TRIGGER users_updated_at
            BEFORE INSERT OR UPDATE ON {{tables.users}}
            FOR EACH ROW
            EXECUTE FUNCTION {{schema}}.update_updated_at();

        DO $body$
        BEGIN
            INSERT INTO {{tables.users}} (email) VALUES ('ADMIN@EXAMPLE.COM');
        END;
        $body$;
        """,
    )
    migrations = AsyncMigrationManager(manager_factory("users"), folder, module_name="users")

    result = await migrations.apply_pending_migrations()

    assert result["status"] == "success"
    row = await raw_connection.fetchrow("SELECT email, note FROM users.users")
    assert row is not None
    assert (row["email"], row["note"]) == ("admin@example.com", "a;b")
    assert await raw_connection.fetchval(
        "SELECT count(*) FROM information_schema.routines "
        "WHERE routine_schema = 'users' AND routine_name = 'update_updated_at'"
    )


# --- the rest of the API -------------------------------------------------------------------


async def test_applied_and_pending_migrations_reflect_the_tracking_table(
    folder: Path, manager_factory: Factory
) -> None:
    write(folder, "001_create_a.sql", "CREATE TABLE {{tables.a}} (id INT);")
    write(folder, "002_create_b.sql", "CREATE TABLE {{tables.b}} (id INT);")
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")

    assert await migrations.get_applied_migrations() == {}
    assert [m.filename for m in await migrations.get_pending_migrations()] == [
        "001_create_a.sql",
        "002_create_b.sql",
    ]

    await migrations.apply_pending_migrations()
    write(folder, "003_create_c.sql", "CREATE TABLE {{tables.c}} (id INT);")

    applied = await migrations.get_applied_migrations()
    assert sorted(applied) == ["001_create_a.sql", "002_create_b.sql"]
    first = applied["001_create_a.sql"]
    assert isinstance(first, Migration)
    assert first.is_applied
    assert first.module_name == "app"
    assert first.checksum == hashlib.sha256(b"CREATE TABLE {{tables.a}} (id INT);").hexdigest()
    pending = await migrations.get_pending_migrations()
    assert [(m.filename, m.is_applied, m.version) for m in pending] == [
        ("003_create_c.sql", False, "003")
    ]
    other_module = AsyncMigrationManager(manager_factory("app"), folder, module_name="other")
    assert await other_module.get_applied_migrations() == {}


async def test_migration_history_lists_this_modules_files_newest_first(
    tmp_path: Path, manager_factory: Factory
) -> None:
    for number in (1, 2, 3):
        write(
            tmp_path / "a",
            f"00{number}_t{number}.sql",
            f"CREATE TABLE {{{{tables.t{number}}}}} (id INT);",
        )
    write(tmp_path / "b", "001_other.sql", "CREATE TABLE {{tables.other}} (id INT);")
    a = AsyncMigrationManager(manager_factory("a"), tmp_path / "a", module_name="a")
    b = AsyncMigrationManager(manager_factory("b"), tmp_path / "b", module_name="b")
    assert await a.get_migration_history() == []
    await a.apply_pending_migrations()
    await b.apply_pending_migrations()

    history = await a.get_migration_history(limit=2)

    assert [entry["filename"] for entry in history] == ["003_t3.sql", "002_t2.sql"]
    # pgdbm's history columns
    assert set(history[0]) == {
        "filename",
        "module_name",
        "applied_at",
        "applied_by",
        "execution_time_ms",
    }
    assert all(entry["module_name"] == "a" for entry in history)
    assert len(await a.get_migration_history()) == 3


async def test_rollback_migration_forgets_the_record_but_keeps_the_changes(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(folder, "001_create_a.sql", "CREATE TABLE {{tables.a}} (id INT);")
    write(folder, "002_add_column.sql", "ALTER TABLE {{tables.a}} ADD COLUMN IF NOT EXISTS x INT;")
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")
    untouched = AsyncMigrationManager(manager_factory("app"), folder, module_name="untouched")
    await migrations.apply_pending_migrations()
    await untouched.rollback_migration("002_add_column.sql")  # another module: no effect

    await migrations.rollback_migration("002_add_column.sql")

    assert await tracked(raw_connection) == [("app", "001_create_a.sql")]
    assert await tables_in(raw_connection, "app") == {"a"}
    assert [m.filename for m in await migrations.get_pending_migrations()] == ["002_add_column.sql"]
    result = await migrations.apply_pending_migrations()
    assert [entry["filename"] for entry in result["applied"]] == ["002_add_column.sql"]
    assert len(await tracked(raw_connection)) == 2


async def test_rollback_migration_before_anything_was_applied_is_a_no_op(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")

    await migrations.rollback_migration("001_never.sql")

    assert not await tracking_table_exists(raw_connection)


async def test_create_migration_writes_a_timestamped_file_as_pgdbm_does(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    migrations = AsyncMigrationManager(manager_factory("users"), folder, module_name="users")
    write(folder, "001_create_users.sql", "CREATE TABLE {{tables.users}} (id INT);")
    content = "ALTER TABLE {{tables.users}} ADD COLUMN avatar_url VARCHAR(500);"

    created = Path(await migrations.create_migration("add_users_avatar", content))

    # pgdbm's name, <YYYYmmdd_HHMMSS>_<name>.sql, and the content exactly as given
    assert created.parent == folder
    assert re.fullmatch(r"\d{8}_\d{6}_add_users_avatar\.sql", created.name)
    assert read(created) == content
    assert [m.filename for m in await migrations.get_pending_migrations()] == [
        "001_create_users.sql",
        created.name,
    ]
    await migrations.apply_pending_migrations()
    columns = await raw_connection.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'users' AND table_name = 'users' ORDER BY ordinal_position"
    )
    assert [column["column_name"] for column in columns] == ["id", "avatar_url"]
    # Unlike pgdbm: a second file of the same name within the second is refused, never
    # written over the first; a name that is not an identifier ("../x") is refused.
    now = datetime.now()
    taken = [
        write(folder, f"{now + timedelta(seconds=s):%Y%m%d_%H%M%S}_same.sql", "SELECT 1;")
        for s in range(3)  # this second and the next two: the call lands in one of them
    ]
    with pytest.raises(MigrationError, match="already exists"):
        await migrations.create_migration("same", "SELECT 2;")
    assert [read(path) for path in taken] == ["SELECT 1;"] * 3
    with pytest.raises(MigrationError, match="not allowed"):
        await migrations.create_migration("../escape", "SELECT 1;")


async def test_find_migration_files_discovers_every_sql_file_as_pgdbm_does(
    folder: Path, manager_factory: Factory
) -> None:
    for name in ("001_ok.sql", "V2__flyway.sql", "20251025120000_stamp.sql", "10_ten.sql"):
        write(folder, name, "SELECT 1;")
    for name in ("create.sql", "001-dash.sql", "x001_lead.sql"):
        write(folder, name, "SELECT 1;")
    for name in ("001_notes.txt", "README.md", ".002_hidden.sql"):
        write(folder, name, "SELECT broken")
    (folder / "003_a_folder.sql").mkdir()
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")

    files = await migrations.find_migration_files()

    # Every *.sql file but hidden ones, as pgdbm; numbered ones by number (10 after 001,
    # where name order would agree, and 2025... last among them), then Flyway's, then the
    # rest by name.
    assert [m.filename for m in files] == [
        "001_ok.sql",
        "10_ten.sql",
        "20251025120000_stamp.sql",
        "V2__flyway.sql",
        "001-dash.sql",
        "create.sql",
        "x001_lead.sql",
    ]
    assert [m.version for m in files] == [
        "001",
        "10",
        "20251025120000",
        "2",
        "001-dash",
        "create",
        "x001_lead",
    ]
    assert files[0].checksum == hashlib.sha256(b"SELECT 1;").hexdigest()
    assert all(m.module_name is None and not m.is_applied for m in files)  # as pgdbm


async def test_files_are_ordered_by_number_where_pgdbms_name_order_would_not(
    folder: Path, manager_factory: Factory
) -> None:
    for name in ("2_b.sql", "10_a.sql"):
        write(folder, name, "SELECT 1;")
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")

    # pgdbm sorts by name and would run 10_a.sql first: a deliberate difference.
    assert [m.filename for m in await migrations.find_migration_files()] == [
        "2_b.sql",
        "10_a.sql",
    ]


async def test_a_symlink_out_of_the_folder_is_refused(
    tmp_path: Path, folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    outside = write(tmp_path / "elsewhere", "001_drop.sql", "DROP TABLE public.important;")
    link(folder / "001_drop.sql", outside)
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")

    with pytest.raises(MigrationError, match="outside the migrations directory"):
        await migrations.apply_pending_migrations()
    assert await tracked(raw_connection) == []


async def test_missing_migrations_folder_means_nothing_pending_as_in_pgdbm(
    tmp_path: Path,
    manager_factory: Factory,
    raw_connection: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = tmp_path / "no_such_folder"
    migrations = AsyncMigrationManager(manager_factory("app"), missing, module_name="app")

    with caplog.at_level(logging.WARNING, logger="gateway.db.migrations"):
        assert await migrations.find_migration_files() == []
        result = await migrations.apply_pending_migrations()

    assert result == {"status": "up_to_date", "applied": [], "skipped": [], "total": 0}
    assert "no_such_folder" in caplog.text
    assert "does not exist" in caplog.text
    assert await tracked(raw_connection) == []


async def test_invalid_template_in_a_file_raises_migration_error_naming_it(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    write(folder, "001_bad_name.sql", 'CREATE TABLE {{tables.bad"name}} (id INT);')
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")

    with pytest.raises(MigrationError, match=r"001_bad_name\.sql") as caught:
        await migrations.apply_pending_migrations()

    assert caught.value.details["result"]["status"] == "error"
    assert await tracked(raw_connection) == []


# --- concurrency ---------------------------------------------------------------------------


async def test_concurrent_runs_in_one_process_wait_on_the_advisory_lock_and_apply_once(
    folder: Path,
    shared_pool: SharedPool,
    manager_factory: Factory,
    raw_connection: asyncpg.Connection,
) -> None:
    await raw_connection.execute("CREATE TABLE public.gate (id INT)")
    write(
        folder,
        "001_create_t.sql",
        """
        SELECT count(*) FROM public.gate;
        CREATE TABLE {{tables.t}} (id INT PRIMARY KEY);
        INSERT INTO {{tables.t}} VALUES (1);
        """,
    )
    first = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")
    second = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")
    gate = raw_connection.transaction()
    await gate.start()
    await raw_connection.execute("LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE")
    runs: list[asyncio.Task[dict[str, Any]]] = []
    try:
        runs.append(asyncio.create_task(first.apply_pending_migrations()))
        await eventually(
            lambda: _lock_count(raw_connection, granted=True, expected=1),
            "the first run holds the migration lock",
        )
        runs.append(asyncio.create_task(second.apply_pending_migrations()))
        await eventually(
            lambda: _lock_count(raw_connection, granted=False, expected=1),
            "the second run waits for the migration lock",
        )
        assert await backends_waiting_on_locks(raw_connection) == 2
    finally:
        await gate.commit()
    results = await asyncio.gather(*runs)

    assert [result["status"] for result in results] == ["success", "up_to_date"]
    assert await raw_connection.fetchval("SELECT count(*) FROM app.t") == 1
    assert await tracked(raw_connection) == [("app", "001_create_t.sql")]
    assert await advisory_locks(raw_connection) == []


async def test_waiting_for_another_run_outlasts_the_pools_lock_and_statement_timeouts(
    tmp_path: Path,
    database_url: str,
    manager_factory: Factory,
    raw_connection: asyncpg.Connection,
) -> None:
    # The waiting run's pool gives up on any lock after 50 ms and any statement after 100 ms;
    # the first run holds the migration lock far longer (the gate, then pg_sleep(0.3)).
    await raw_connection.execute("CREATE TABLE public.gate (id INT)")
    write(
        tmp_path / "slow",
        "001_slow.sql",
        """
        SELECT count(*) FROM public.gate;
        CREATE TABLE {{tables.t}} (id INT PRIMARY KEY);
        SELECT pg_sleep(0.3);
        """,
    )
    write(
        tmp_path / "impatient",
        "001_record_settings.sql",
        """
        CREATE TABLE {{tables.settings}} AS SELECT
            current_setting('lock_timeout') AS lock_timeout,
            current_setting('statement_timeout') AS statement_timeout;
        """,
    )
    impatient_pool = await AsyncDatabaseManager.create_shared_pool(
        DatabaseConfig(
            connection_string=database_url,
            min_connections=1,
            max_connections=2,
            retry_attempts=1,
            lock_timeout_ms=50,
            statement_timeout_ms=100,
        )
    )
    try:
        slow = AsyncMigrationManager(manager_factory("slow"), tmp_path / "slow", module_name="slow")
        impatient = AsyncMigrationManager(
            AsyncDatabaseManager(pool=impatient_pool, schema="impatient"),
            tmp_path / "impatient",
            module_name="impatient",
        )
        gate = raw_connection.transaction()
        await gate.start()
        await raw_connection.execute("LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE")
        runs: list[asyncio.Task[dict[str, Any]]] = []
        try:
            runs.append(asyncio.create_task(slow.apply_pending_migrations()))
            await eventually(
                lambda: _lock_count(raw_connection, granted=True, expected=1),
                "the slow run holds the migration lock",
            )
            runs.append(asyncio.create_task(impatient.apply_pending_migrations()))

            async def impatient_waits() -> bool:
                return runs[1].done() or await _lock_count(
                    raw_connection, granted=False, expected=1
                )

            await eventually(impatient_waits, "the impatient run waits for the lock")
        finally:
            await gate.commit()
        results = await asyncio.gather(*runs)
    finally:
        await impatient_pool.close()

    assert [result["status"] for result in results] == ["success", "success"]
    # The impatient pool's own timeouts were back in force for its migration statements.
    row = await raw_connection.fetchrow("SELECT * FROM impatient.settings")
    assert row is not None
    assert (row["lock_timeout"], row["statement_timeout"]) == ("50ms", "100ms")
    assert [module for module, _ in await tracked(raw_connection)] == ["slow", "impatient"]
    assert await advisory_locks(raw_connection) == []


async def _lock_count(conn: asyncpg.Connection, *, granted: bool, expected: int) -> bool:
    """Whether `expected` backends hold (or wait for) the gateway's migration lock."""
    locks = await advisory_locks(conn, key=GATEWAY_LOCK_KEY)
    return sum(1 for lock in locks if lock["granted"] is granted) == expected


async def test_two_processes_applying_at_the_same_moment_apply_each_file_once(
    tmp_path: Path, database_url: str, raw_connection: asyncpg.Connection
) -> None:
    folder = tmp_path / "migrations"
    write(
        folder,
        "001_create_t.sql",
        f"""
        {GATE_STATEMENT}
        CREATE TABLE {{{{tables.t}}}} (id INT PRIMARY KEY, note TEXT);
        INSERT INTO {{{{tables.t}}}} VALUES (1, 'first');
        SELECT pg_sleep(0.2);
        """,
    )
    write(folder, "002_insert_second.sql", "INSERT INTO {{tables.t}} VALUES (2, 'second');")

    reports = await race_two_migrations(raw_connection, database_url, folder, tmp_path)

    # The locks are a transaction's (they hold through a transaction pooler): between two
    # files of one run the other may take its turn, so which run applies 002 is not fixed;
    # that each file is applied by exactly one run is.
    assert sorted(file for report in reports for file in report.applied) == [
        "001_create_t.sql",
        "002_insert_second.sql",
    ]
    assert {report.status for report in reports} <= {"success", "up_to_date"}
    rows = await raw_connection.fetch("SELECT id, note FROM race.t ORDER BY id")
    assert [tuple(row) for row in rows] == [(1, "first"), (2, "second")]
    counts = await raw_connection.fetch(
        "SELECT filename, count(*) AS n FROM race.schema_migrations "
        "WHERE module_name = 'race' GROUP BY filename ORDER BY filename"
    )
    assert [tuple(row) for row in counts] == [
        ("001_create_t.sql", 1),
        ("002_insert_second.sql", 1),
    ]


async def test_module_name_defaults_to_the_schema_as_in_pgdbm(
    manager_factory: Factory, tmp_path: Path, raw_connection: asyncpg.Connection
) -> None:
    # Two schemas, each with its own 001_init.sql and no module_name: both are applied.
    for schema in ("alpha", "beta"):
        write(tmp_path / schema, "001_init.sql", "CREATE TABLE {{tables.things}} (id INT);")
        migrations = AsyncMigrationManager(manager_factory(schema), tmp_path / schema)
        assert migrations.module_name == schema
        result = await migrations.apply_pending_migrations()
        assert [entry["filename"] for entry in result["applied"]] == ["001_init.sql"]

    tables = await raw_connection.fetch(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'things' "
        "ORDER BY table_schema"
    )
    assert [row[0] for row in tables] == ["alpha", "beta"]


async def test_pgdbms_no_transaction_marker_lets_a_new_enum_value_be_used_at_once(
    manager_factory: Factory, folder: Path, raw_connection: asyncpg.Connection
) -> None:
    write(
        folder,
        "001_moods.sql",
        """
        -- pgdbm:no-transaction
        CREATE TYPE {{tables.mood}} AS ENUM ('calm');
        ALTER TYPE {{tables.mood}} ADD VALUE 'eager';
        CREATE TABLE {{tables.days}} (mood {{tables.mood}} NOT NULL DEFAULT 'eager');
        """,
    )

    await AsyncMigrationManager(manager_factory("app"), folder).apply_pending_migrations()

    default = await raw_connection.fetchval(
        "SELECT column_default FROM information_schema.columns "
        "WHERE table_schema = 'app' AND table_name = 'days'"
    )
    assert default.startswith("'eager'")


async def test_pending_migrations_refuse_a_file_changed_since_it_was_applied(
    manager_factory: Factory, folder: Path
) -> None:
    migrations = AsyncMigrationManager(manager_factory("app"), folder)
    path = write(folder, "001_a.sql", "CREATE TABLE {{tables.a}} (id INT);")
    await migrations.apply_pending_migrations()
    path.write_text("CREATE TABLE {{tables.a}} (id BIGINT);")

    with pytest.raises(MigrationError, match="has been modified"):
        await migrations.get_pending_migrations()


async def test_a_migration_dumps_pgdbms_fields(manager_factory: Factory, folder: Path) -> None:
    write(folder, "001_a.sql", "SELECT 1;")
    [migration] = await AsyncMigrationManager(manager_factory("app"), folder).find_migration_files()

    assert migration.model_dump() == {
        "filename": "001_a.sql",
        "checksum": migration.checksum,
        "content": "SELECT 1;",
        "applied_at": None,
        "module_name": None,  # a file, not an applied record: as pgdbm
    }


@pytest.mark.parametrize("content", ["", "  \n\n", "-- nothing yet\n/* later */\n"])
async def test_an_empty_file_is_refused_before_any_file_runs(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection, content: str
) -> None:
    write(folder, "001_create_a.sql", "CREATE TABLE {{tables.a}} (id INT);")
    write(folder, "002_placeholder.sql", content)
    migrations = AsyncMigrationManager(manager_factory("app"), folder, module_name="app")

    # pgdbm refuses an empty file too (MigrationError); here 001 does not run either.
    with pytest.raises(MigrationError, match=r"002_placeholder\.sql.*is empty"):
        await migrations.apply_pending_migrations()
    assert await tracked(raw_connection) == []
    assert await tables_in(raw_connection, "app") == set()


async def test_a_pgdbm_process_holding_its_session_lock_makes_the_run_wait_then_it_applies(
    folder: Path, manager_factory: Factory, raw_connection: asyncpg.Connection
) -> None:
    # pgdbm takes a session lock on hashtext('pgdbm_migration_' || module); the gateway's
    # transaction-level lock on that key must wait for it, and leave nothing behind.
    write(folder, "001_create_t.sql", "CREATE TABLE {{tables.t}} (id INT PRIMARY KEY);")
    pgdbm_key = await raw_connection.fetchval("SELECT hashtext('pgdbm_migration_app')::bigint")
    await raw_connection.execute("SELECT pg_advisory_lock($1)", pgdbm_key)
    run = asyncio.create_task(
        AsyncMigrationManager(
            manager_factory("app"), folder, module_name="app"
        ).apply_pending_migrations()
    )
    try:
        await eventually(
            lambda: _waiting_on(raw_connection, pgdbm_key), "the run waits for pgdbm's lock"
        )
        assert not run.done()
    finally:
        await raw_connection.execute("SELECT pg_advisory_unlock($1)", pgdbm_key)
    assert (await run)["status"] == "success"
    assert await tracked(raw_connection) == [("app", "001_create_t.sql")]
    assert await advisory_locks(raw_connection) == []


async def _waiting_on(conn: asyncpg.Connection, key: int) -> bool:
    locks = await advisory_locks(conn, key=key)
    return any(not lock["granted"] for lock in locks)
