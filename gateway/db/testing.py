"""pgdbm's testing helpers on gateway.db: throwaway databases, fixtures, snapshots, row counts.

Usage:

    async with AsyncTestDatabase.create(schema="app", config=DatabaseTestConfig.from_env()) as db:
        await db.execute("CREATE TABLE {{tables.users}} (id SERIAL PRIMARY KEY, email TEXT)")
        assert await DatabaseTestCase(db).count_rows("users") == 0

Same names, arguments and return values as `pgdbm.testing`; where pgdbm splices a caller's
name or fragment into SQL, the same input is refused here before any SQL is sent (at least
as strictly; see `gateway.db.sql_fragments.where_clause` for the one stricter rule).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.db.config import DatabaseConfig
from gateway.db.errors import ConfigurationError, DatabaseTestError
from gateway.db.identifiers import quote_identifier
from gateway.db.manager import AsyncDatabaseManager
from gateway.db.sql_fragments import order_by_sql, table_sql, where_clause

__all__ = ["AsyncTestDatabase", "DatabaseTestCase", "DatabaseTestConfig"]

logger = logging.getLogger(__name__)

# A database name PostgreSQL keeps as written (63 bytes at most), matched in full: pgdbm's
# `re.match(...$)` also lets a trailing newline through.
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TRUE_WORDS = ("1", "true", "yes")
_USERS_TABLE = "users"  # the table create_test_user writes to, as in pgdbm


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in _TRUE_WORDS


@dataclass(kw_only=True)
class DatabaseTestConfig:
    """Where the test server is and how test databases are made (pgdbm's fields and defaults).

    Usage: `DatabaseTestConfig(host="db", password="secret")` or `DatabaseTestConfig.from_env()`.
    """

    # The server, reached through its `postgres` maintenance database.
    host: str = "localhost"
    port: int = 5432
    user: str = "postgres"
    password: str = field(default="postgres", repr=False)

    test_db_prefix: str = "test_"
    test_db_template: str = "template0"
    drop_on_cleanup: bool = True

    fixtures_path: str | None = None
    seed_data_path: str | None = None

    verbose: bool = False
    log_sql: bool = False

    def __post_init__(self) -> None:
        # pgdbm's pydantic model checks types on construction; a wrong one here would only
        # surface later as a confusing connection error. A numeric string port is accepted,
        # as pydantic's lax mode does.
        if isinstance(self.port, str) and self.port.strip().isdigit():
            self.port = int(self.port)
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            expected: tuple[type, ...]
            if spec.name == "port":
                expected = (int,)
            elif spec.name in ("drop_on_cleanup", "verbose", "log_sql"):
                expected = (bool,)
            elif spec.name in ("fixtures_path", "seed_data_path"):
                expected = (str, type(None))
            else:
                expected = (str,)
            wrong_bool = isinstance(value, bool) and bool not in expected
            if not isinstance(value, expected) or wrong_bool:
                shown = "<hidden>" if spec.name == "password" else repr(value)
                raise ConfigurationError(
                    f"DatabaseTestConfig.{spec.name} must be "
                    f"{' or '.join(t.__name__ for t in expected)}, got {shown}.",
                    spec.name,
                )

    @classmethod
    def from_env(cls) -> DatabaseTestConfig:
        """Read TEST_DB_HOST, TEST_DB_PORT, TEST_DB_USER, TEST_DB_PASSWORD, TEST_DB_VERBOSE
        and TEST_DB_LOG_SQL (the flags are on for 1/true/yes), pgdbm's defaults otherwise."""
        return cls(
            host=os.environ.get("TEST_DB_HOST", "localhost"),
            port=int(os.environ.get("TEST_DB_PORT", "5432")),
            user=os.environ.get("TEST_DB_USER", "postgres"),
            password=os.environ.get("TEST_DB_PASSWORD", "postgres"),
            verbose=_env_flag("TEST_DB_VERBOSE"),
            log_sql=_env_flag("TEST_DB_LOG_SQL"),
        )

    def model_dump(self) -> dict[str, Any]:
        """Every field by name, as pgdbm's pydantic `model_dump()` returns them."""
        return dataclasses.asdict(self)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> DatabaseTestConfig:
        """A copy with `update`'s fields replaced (pydantic's spelling)."""
        return dataclasses.replace(self, **(update or {}))


def _check_database_name(name: str, *, what: str) -> str:
    if not isinstance(name, str) or _DATABASE_NAME.fullmatch(name) is None:
        raise DatabaseTestError(
            f"Invalid {what} {name!r}: it must start with a letter or underscore and contain "
            "only letters, digits and underscores (63 at most).",
            test_db_name=name if isinstance(name, str) else None,
        )
    return name


def _row_key(row: dict[str, Any]) -> str:
    # default=str: timestamps, decimals and UUIDs must not turn a failed comparison into a
    # TypeError (pgdbm's json.dumps raises one for them).
    return json.dumps(row, sort_keys=True, default=str)


class AsyncTestDatabase:
    """One throwaway database on the test server, with helpers to fill and inspect it.

    Usage: `test_db = AsyncTestDatabase(config); await test_db.create_test_database()`, then
    `async with test_db.get_test_db_manager() as db: ...`, then `await
    test_db.drop_test_database()` (or all three at once with `AsyncTestDatabase.create()`).
    """

    # Fresh names tried when a generated one is taken: never drop a database we did not make.
    _CREATE_ATTEMPTS = 3

    def __init__(self, config: DatabaseTestConfig | None = None) -> None:
        self.config = config or DatabaseTestConfig.from_env()
        self._test_db_name: str | None = None
        self._start_time: datetime | None = None
        self._queries_executed = 0

    @classmethod
    @asynccontextmanager
    async def create(
        cls,
        schema: str | None = None,
        config: DatabaseTestConfig | None = None,
        suffix: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AsyncDatabaseManager]:
        """A new test database's connected manager; the database is dropped on exit, also
        when the block raises. `kwargs` go to DatabaseConfig."""
        test_database = cls(config)
        await test_database.create_test_database(suffix=suffix)
        try:
            async with test_database.get_test_db_manager(schema=schema, **kwargs) as db_manager:
                yield db_manager
        finally:
            await test_database.drop_test_database()

    @asynccontextmanager
    async def _admin(self) -> AsyncIterator[asyncpg.Connection]:
        # Through DatabaseConfig so user and password are URL-encoded (pgdbm splices them
        # raw, and a password with `@` or `/` then breaks its DSN). One short connection per
        # step: nothing stays open if the caller never drops the database.
        admin = DatabaseConfig(
            host=self.config.host,
            port=self.config.port,
            user=self.config.user,
            password=self.config.password or None,
            database="postgres",
        )
        conn = await asyncpg.connect(admin.get_dsn(), timeout=admin.connect_timeout)
        try:
            yield conn
        finally:
            await conn.close()

    async def create_test_database(self, suffix: str | None = None) -> str:
        """Create `<test_db_prefix><8 hex digits>[_<suffix>]` from the template; returns its
        name. Raises DatabaseTestError for a name or template PostgreSQL would not keep as
        written, or when this object already holds a database (drop it first)."""
        if self._test_db_name is not None:
            raise DatabaseTestError(
                f"This AsyncTestDatabase already created {self._test_db_name!r}; call "
                "drop_test_database() first, or use another AsyncTestDatabase.",
                test_db_name=self._test_db_name,
            )
        template = _check_database_name(self.config.test_db_template, what="template name")
        suffix_part = f"_{suffix}" if suffix else ""
        # Validated before any SQL: the name is spliced into CREATE DATABASE.
        _check_database_name(f"{self.config.test_db_prefix}00000000{suffix_part}", what="name")
        self._start_time = datetime.now()
        async with self._admin() as conn:
            for attempt in range(1, self._CREATE_ATTEMPTS + 1):
                name = f"{self.config.test_db_prefix}{uuid.uuid4().hex[:8]}{suffix_part}"
                if self.config.verbose:
                    logger.info("Creating test database: %s", name)
                try:
                    # An unquoted template name folds to lower case; quoting the folded
                    # name keeps pgdbm's meaning and also allows reserved words.
                    await conn.execute(
                        f"CREATE DATABASE {quote_identifier(name, kind='database')} "
                        f"WITH TEMPLATE {quote_identifier(template.lower(), kind='template')}"
                    )
                except asyncpg.DuplicateDatabaseError:
                    if attempt == self._CREATE_ATTEMPTS:
                        raise DatabaseTestError(
                            f"Could not find a free test database name after {attempt} attempts.",
                            test_db_name=name,
                        ) from None
                    logger.warning("Test database %s already exists; trying another name", name)
                    continue
                self._test_db_name = name
                break
        if self.config.verbose:
            logger.info("Created test database: %s", self._test_db_name)
        assert self._test_db_name is not None
        return self._test_db_name

    async def drop_test_database(self) -> None:
        """Drop the test database (its open connections ended first); does nothing when none
        was created. With drop_on_cleanup=False it is left in place, with a warning."""
        name = self._test_db_name
        if name is None:
            return
        if self.config.verbose:
            duration = datetime.now() - self._start_time if self._start_time else None
            logger.info(
                "Dropping test database: %s (existed for %s, %d queries executed)",
                name,
                duration,
                self._queries_executed,
            )
        if self.config.drop_on_cleanup:
            async with self._admin() as conn:
                await _drop_database(conn, name)
            if self.config.verbose:
                logger.info("Dropped test database: %s", name)
        else:
            logger.warning("Test database '%s' was not dropped (drop_on_cleanup=False)", name)
        self._test_db_name = None

    def get_test_db_config(self, schema: str | None = None, **kwargs: Any) -> DatabaseConfig:
        """A DatabaseConfig for the test database (pool of 2 to 5 connections unless `kwargs`
        say otherwise). Raises DatabaseTestError before create_test_database()."""
        if not self._test_db_name:
            raise DatabaseTestError(
                "Test database not created. Call create_test_database() first.",
                test_db_name=self._test_db_name,
            )
        # Small pools by default, but overridable (pgdbm raises TypeError for these two).
        settings: dict[str, Any] = {"min_connections": 2, "max_connections": 5, **kwargs}
        return DatabaseConfig(
            host=self.config.host,
            port=self.config.port,
            database=self._test_db_name,
            user=self.config.user,
            password=self.config.password,
            schema_name=schema,
            **settings,
        )

    @asynccontextmanager
    async def get_test_db_manager(
        self, schema: str | None = None, **kwargs: Any
    ) -> AsyncIterator[AsyncDatabaseManager]:
        """A connected manager of the test database (its schema created if given),
        disconnected on exit."""
        db_manager = AsyncDatabaseManager(self.get_test_db_config(schema, **kwargs))
        if self.config.verbose:
            self._count_executes(db_manager)
        if self.config.log_sql:
            # pgdbm sets DB_DEBUG in os.environ for the whole process; here only this
            # manager's statements are logged, their text without arguments.
            db_manager.debug = True  # DB_DEBUG's logging, for this manager only
        await db_manager.connect()
        try:
            yield db_manager
        finally:
            try:
                if self.config.verbose:
                    logger.info("Test database pool stats: %s", await db_manager.get_pool_stats())
            finally:
                await db_manager.disconnect()

    def _count_executes(self, db_manager: AsyncDatabaseManager) -> None:
        execute = db_manager.execute

        async def counted(query: str, *args: Any, timeout: float | None = None) -> str:
            self._queries_executed += 1
            return await execute(query, *args, timeout=timeout)

        db_manager.execute = counted  # type: ignore[method-assign]

    async def load_fixtures(
        self, db_manager: AsyncDatabaseManager, fixtures_path: str | Path
    ) -> dict[str, int]:
        """Run a `.sql` file, or insert a `.json` file's `{"table": [row, ...]}`; a directory's
        `*.sql` and `*.json` files in name order. Returns `{file stem: -1}` per SQL file and
        `{table: rows inserted}` per JSON table (a later file's count replaces an earlier)."""
        loaded: dict[str, int] = {}
        for file, content in _read_fixture_files(Path(fixtures_path)):
            if self.config.verbose:
                logger.info("Loading fixtures from: %s", file.name)
            if file.suffix == ".sql":
                await db_manager.execute(content)
                loaded[file.stem] = -1  # a script's row count is unknown
            else:
                for table_name, rows in _fixture_tables(json.loads(content), file):
                    await self._insert_rows(db_manager, table_name, rows, file)
                    loaded[table_name] = len(rows)
        return loaded

    async def _insert_rows(
        self,
        db_manager: AsyncDatabaseManager,
        table_name: str,
        rows: list[dict[str, Any]],
        file: Path,
    ) -> None:
        columns = list(rows[0])
        for number, row in enumerate(rows, start=1):
            # Values go by column name: pgdbm takes them in each row's own key order, so a
            # row written {"b": .., "a": ..} lands in the wrong columns.
            if set(row) != set(columns):
                raise DatabaseTestError(
                    f"{file.name}: row {number} of {table_name!r} has columns "
                    f"{sorted(row)}, the first row {sorted(columns)}; give every row the "
                    "same keys."
                )
        target = table_sql(table_name, db_manager.schema)
        names = ", ".join(quote_identifier(column, kind="column") for column in columns)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await db_manager.executemany(
            f"INSERT INTO {target} ({names}) VALUES ({placeholders})",
            [tuple(row[column] for column in columns) for row in rows],
        )
        if self.config.verbose:
            logger.info("Loaded %d rows into %s", len(rows), table_name)

    async def snapshot_table(
        self,
        db_manager: AsyncDatabaseManager,
        table_name: str,
        order_by: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every row of `table_name` as a dict, ordered by `order_by` (`col [ASC|DESC], ...`)
        if given, to compare later with assert_table_unchanged()."""
        query = f"SELECT * FROM {table_sql(table_name, db_manager.schema)}"
        if order_by:
            query += f" ORDER BY {order_by_sql(order_by)}"
        return await db_manager.fetch_all(query)

    async def assert_table_unchanged(
        self,
        db_manager: AsyncDatabaseManager,
        table_name: str,
        before_snapshot: list[dict[str, Any]],
        order_by: str | None = None,
    ) -> None:
        """Raise AssertionError (saying how many rows were added and removed) unless a new
        snapshot equals `before_snapshot`."""
        after_snapshot = await self.snapshot_table(db_manager, table_name, order_by)
        if before_snapshot == after_snapshot:
            return
        # Counted as multisets: a duplicated row counts as added.
        before = Counter(_row_key(row) for row in before_snapshot)
        after = Counter(_row_key(row) for row in after_snapshot)
        added = sum((after - before).values())
        removed = sum((before - after).values())
        raise AssertionError(
            f"Table '{table_name}' has changed!\nAdded rows: {added}\nRemoved rows: {removed}"
        )


def _read_fixture_files(path: Path) -> list[tuple[Path, str]]:
    """The `.sql`/`.json` files `path` names (itself, or a directory's, in name order) with
    their text; read up front, fixture files being small."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = [*path.glob("*.sql"), *path.glob("*.json")]
    else:
        raise ConfigurationError(
            f"Fixtures path does not exist: {path}", config_field="fixtures_path"
        )
    return [
        (file, file.read_text(encoding="utf-8"))
        for file in sorted(files)
        if file.suffix in (".sql", ".json")
    ]


def _fixture_tables(data: Any, file: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """The non-empty `(table, rows)` pairs of a JSON fixture, its shape checked first."""
    if not isinstance(data, dict):
        raise DatabaseTestError(f"{file.name}: expected an object of table name -> rows.")
    tables = []
    for table_name, rows in data.items():
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise DatabaseTestError(f"{file.name}: {table_name!r} must be a list of objects.")
        if rows:
            tables.append((table_name, rows))
    return tables


async def _drop_database(conn: asyncpg.Connection, name: str) -> None:
    database = quote_identifier(_check_database_name(name, what="database name"), kind="database")
    if conn.get_server_version().major >= 13:
        # FORCE ends the sessions and drops in one step: no new session can slip in between.
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        return
    await conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        name,
    )
    await conn.execute(f"DROP DATABASE IF EXISTS {database}")


class DatabaseTestCase:
    """Row counts and table checks for a test's manager (pgdbm's helper class).

    Usage: `helper = DatabaseTestCase(db); assert await helper.count_rows("users", "id > 1")`.
    """

    def __init__(self, db_manager: AsyncDatabaseManager) -> None:
        self.db = db_manager

    async def create_test_user(self, email: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Insert a row into `users` (email, full_name, is_active); returns `{"id", "email",
        **kwargs}`. The email defaults to a unique `test_<hex>@example.com`."""
        email = email or f"test_{uuid.uuid4().hex[:8]}@example.com"
        user_id = await self.db.execute_and_return_id(
            f"INSERT INTO {table_sql(_USERS_TABLE, self.db.schema)} "
            "(email, full_name, is_active) VALUES ($1, $2, $3)",
            email,
            kwargs.get("full_name", "Test User"),
            kwargs.get("is_active", True),
        )
        return {"id": user_id, "email": email, **kwargs}

    async def count_rows(self, table_name: str, where: str | None = None) -> int:
        """How many rows `table_name` holds, or match `where` (`col <op> value` terms joined
        by AND/OR, as pgdbm accepts; anything else raises ValueError before SQL)."""
        query = f"SELECT COUNT(*) FROM {table_sql(table_name, self.db.schema)}"
        if where:
            query += f" WHERE {where_clause(where)}"
        count = await self.db.fetch_value(query)
        return int(count) if count is not None else 0

    async def table_exists(self, table_name: str) -> bool:
        """Whether `table_name` (or `schema.table`) exists, in the manager's schema by default."""
        return await self.db.table_exists(table_name)

    async def truncate_table(self, table_name: str, cascade: bool = False) -> None:
        """Remove every row of `table_name` (and of tables referencing it, with cascade)."""
        cascade_clause = " CASCADE" if cascade else ""
        await self.db.execute(
            f"TRUNCATE TABLE {table_sql(table_name, self.db.schema)}{cascade_clause}"
        )
