"""AsyncDatabaseManager: one schema's view of a pool, with pgdbm's API.

Two ways to build one, as in pgdbm:

    shared_pool = await AsyncDatabaseManager.create_shared_pool(config)   # once, at startup
    orders_db = AsyncDatabaseManager(pool=shared_pool, schema="orders")  # per service

    db = AsyncDatabaseManager(config)  # a manager that owns its pool
    await db.connect()

A unit of work across services: one service opens the transaction, another service's
manager joins it with `within(tx)`, so both schemas' statements share one connection and
commit (or roll back) together, each still rendered for its own schema:

    async with payments_db.transaction() as tx:
        order = await orders_db.within(tx).fetch_one("SELECT ... FOR UPDATE", ...)
        await tx.execute("INSERT INTO {{tables.payments}} ...")
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NoReturn, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.db.config import DatabaseConfig
from gateway.db.errors import (
    CommitOutcomeUnknown,
    ConfigurationError,
    DatabaseConnectionError,
    PoolError,
    PoolTimeoutError,
)
from gateway.db.identifiers import validate_identifier
from gateway.db.pool import SharedPool, open_pool, pool_stats
from gateway.db.queries import QueryRunner, connection_lost
from gateway.db.releases import release
from gateway.db.schemas import create_schema_if_missing

# A name PostgreSQL reads the same quoted or not: lower case, digits, underscores.
_UNQUOTED_NAME = re.compile(r"[a-z_][a-z0-9_$]*")

__all__ = ["AsyncDatabaseManager", "SchemaManager", "TransactionManager"]

logger = logging.getLogger("gateway.db")


class TransactionManager(QueryRunner):
    """The query API inside `db.transaction()`: every call runs on the transaction's connection.

    Usage: `async with db.transaction() as tx: await tx.execute(...)`; nest
    `async with tx.transaction()` for a savepoint. PostgreSQL's refusals arrive as asyncpg's
    own exceptions here, as with pgdbm.
    """

    _passes_refusals = True

    def __init__(
        self,
        connection: asyncpg.Connection,
        schema: str | None,
        pool: asyncpg.Pool | None = None,
        *,
        debug: bool = False,
    ) -> None:
        self._conn = connection
        self._schema = schema
        self._pool = pool
        self._debug = debug

    @property
    def connection(self) -> asyncpg.Connection:
        """The raw connection holding this transaction."""
        return self._conn

    @property
    def schema(self) -> str | None:
        return self._schema

    @property
    def pool(self) -> asyncpg.Pool | None:
        """The pool the transaction's connection came from (None: a bare connection)."""
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        yield self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[TransactionManager]:
        """A savepoint: rolls back alone on error, leaving the outer transaction usable."""
        async with _transaction(self._conn, outermost=False):
            yield self


class AsyncDatabaseManager(QueryRunner):
    """Queries for one schema over a pool, with `{{tables.name}}` templates.

    Usage: `orders_db = AsyncDatabaseManager(pool=shared_pool, schema="orders")`.
    """

    def __init__(
        self,
        config: DatabaseConfig | None = None,
        *,
        pool: asyncpg.Pool | None = None,
        schema: str | None = None,
    ) -> None:
        if config is not None and pool is not None:
            raise ConfigurationError(
                "Pass either a DatabaseConfig (the manager opens its own pool on connect()) "
                "or pool= (a shared pool), not both."
            )
        if config is None and pool is None:
            raise ConfigurationError(
                "AsyncDatabaseManager needs a DatabaseConfig or pool=shared_pool, "
                "from AsyncDatabaseManager.create_shared_pool(config)."
            )
        if config is not None and schema is not None:
            raise ConfigurationError(
                "schema= is only valid with pool=; with a DatabaseConfig, set it there: "
                "DatabaseConfig(connection_string=..., schema='myschema').",
                "schema",
            )
        self.config = config if config is not None else getattr(pool, "config", None)
        self._pool = pool
        self._external_pool = pool is not None
        resolved = schema if pool is not None else config.schema_name if config else None
        if pool is not None and resolved is None:
            resolved = "public"  # pgdbm's default for a pool-based manager
        self._schema = (
            validate_identifier(resolved, kind="schema") if resolved is not None else None
        )
        self._prepared: dict[str, str] = {}
        self._debug = os.environ.get("DB_DEBUG", "").lower() in ("1", "true", "yes")

    @property
    def schema(self) -> str | None:
        """The schema this manager's templates resolve to; fixed at creation."""
        return self._schema

    @schema.setter
    def schema(self, value: str | None) -> NoReturn:
        raise AttributeError(
            f"A manager's schema is permanent (this one is {self._schema!r}); create another "
            f"manager instead: AsyncDatabaseManager(pool=shared_pool, schema={value!r})."
        )

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool this manager queries through."""
        if self._pool is None:
            raise PoolError(
                "This manager has no pool yet: call `await db.connect()` first, or build it "
                "with AsyncDatabaseManager(pool=shared_pool, schema=...)."
            )
        return self._pool

    @classmethod
    async def create_shared_pool(cls, config: DatabaseConfig) -> SharedPool:
        """Open the application's one pool; call once at startup and share it.

        Usage: `pool = await AsyncDatabaseManager.create_shared_pool(config)`.
        """
        return await open_pool(config, shared=True)

    async def connect(self) -> None:
        """Open this manager's own pool (config-built managers only), and create its schema
        if it has one and the schema is missing, as pgdbm does."""
        if self._external_pool:
            raise PoolError(
                "Cannot call connect() on a manager built with pool=: the shared pool is "
                "already open and belongs to whoever created it. Use the manager directly, "
                "and close the pool with `await shared_pool.close()` at shutdown."
            )
        if self._pool is not None:
            raise PoolError("connect() was already called on this manager.")
        assert self.config is not None
        pool = await open_pool(self.config, shared=False)
        if self._schema:
            # As pgdbm: a manager with its own pool and a schema creates the schema.
            try:
                async with pool.acquire() as conn:
                    await create_schema_if_missing(cast(asyncpg.Connection, conn), self._schema)
            except BaseException:
                await pool.close()
                raise
        for name, query in self._prepared.items():
            pool.add_prepared_statement(name, query)
        self._pool = pool

    async def disconnect(self) -> None:
        """Close this manager's own pool; does nothing for a shared pool's manager."""
        if self._external_pool or self._pool is None:
            return
        pool, self._pool = self._pool, None
        await pool.close()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A raw connection from the pool, released on exit (advanced use)."""
        conn = await self._take()
        try:
            # The pool hands out a proxy with Connection's whole API; type it as one.
            yield cast(asyncpg.Connection, conn)
        finally:
            await self.pool.release(conn)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        # The query methods' connection: inside releasing_in_background() (a gateway
        # request), handed back without waiting for asyncpg's reset.
        conn = await self._take()
        try:
            yield cast(asyncpg.Connection, conn)
        except BaseException:
            await self.pool.release(conn)
            raise
        await release(self.pool, conn)

    async def _take(self) -> PoolConnectionProxy:
        timeout = self.config.acquire_timeout if self.config is not None else None
        try:
            conn = await self.pool.acquire(timeout=timeout)
        except TimeoutError:
            raise PoolTimeoutError(
                f"No database connection became free within {timeout}s (the pool holds at most "
                f"{self.pool.get_max_size()}); the database is overloaded or connections leak."
            ) from None
        except (OSError, asyncpg.PostgresError) as error:  # refused: down, full, starting up
            raise DatabaseConnectionError(f"The database is unreachable: {error}") from error
        return conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[TransactionManager]:
        """A transaction: commits on success, rolls back on any exception.

        What it raises says what happened: asyncpg's exception from COMMIT (a deferred
        constraint's `UniqueViolationError`, as pgdbm gives it) means PostgreSQL rolled back;
        `CommitOutcomeUnknown` means COMMIT was sent and its answer lost (settle
        it with `gateway.db.outcomes.settle_commit`). Once COMMIT has answered, handing the
        connection back to the pool cannot fail the block: a failed release is logged.
        """
        proxy = await self._take()
        conn = cast(asyncpg.Connection, proxy)  # the proxy has Connection's whole API
        try:
            async with _transaction(conn):
                yield TransactionManager(conn, self._schema, self.pool, debug=self._debug)
        finally:
            await _release_after_transaction(self.pool, proxy)

    def within(self, tx: TransactionManager) -> TransactionManager:
        """This manager's queries inside `tx`, a transaction another manager of the same pool
        opened: same connection, same commit, templates rendered for this manager's schema.

        Usage (a service's public API taking its caller's transaction):
        `await store.lock_order(self._db.within(tx), order_id)`.
        """
        if tx.pool is None or tx.pool is not self._pool:
            raise PoolError(
                f"Schema {self._schema!r} can only join a transaction opened on its own pool: "
                "open it with `async with db.transaction() as tx` on a manager of that pool."
            )
        return TransactionManager(tx.connection, self._schema, tx.pool, debug=self._debug)

    async def table_exists(self, table_name: str) -> bool:
        """Whether `table_name` (or `schema.table`) exists; defaults to this manager's schema."""
        schema, _, table = table_name.rpartition(".")
        schema = schema or self._schema or "public"
        validate_identifier(schema, kind="schema")
        validate_identifier(table, kind="table")
        return bool(
            await self.fetch_value(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = $1 AND table_name = $2)",
                schema,
                table,
            )
        )

    async def copy_records_to_table(
        self,
        table_name: str,
        records: Any,
        columns: list[str] | None = None,
    ) -> int:
        """Bulk-load `records` into this schema's `table_name` with COPY; returns the count."""
        if isinstance(table_name, str) and "." in table_name:  # pgdbm's ValueError
            raise ValueError(
                "copy_records_to_table expects an unqualified table name; the manager's schema "
                f"({self._schema!r}) is applied."
            )
        validate_identifier(table_name, kind="table")
        for column in columns or ():
            validate_identifier(column, kind="column")
        async with self.acquire() as conn:
            status = await conn.copy_records_to_table(
                table_name, records=records, columns=columns, schema_name=self._schema
            )
        return int(status.split()[-1])

    def add_prepared_statement(self, name: str, query: str) -> None:
        """Prepare `query` (templates resolved) as `name` on every connection of the pool."""
        validate_identifier(name, kind="prepared statement")
        rendered = self.prepare_query(query)
        self._prepared[name] = rendered
        if isinstance(self._pool, SharedPool):
            self._pool.add_prepared_statement(name, rendered)

    async def get_pool_stats(self) -> dict[str, Any]:
        """Pool sizes plus database, schema, pid and server version (pgdbm's dict)."""
        if self._pool is None:
            return {"status": "not_connected"}
        return pool_stats(self._pool, schema=self._schema)


@asynccontextmanager
async def _transaction(conn: asyncpg.Connection, *, outermost: bool = True) -> AsyncIterator[None]:
    transaction = conn.transaction()
    async with _transaction_step(conn, "Could not begin a transaction"):
        await transaction.start()
    try:
        yield
    except BaseException:
        try:
            await transaction.rollback()
        except asyncpg.InterfaceError:
            # The connection is gone, and its transaction with it (PostgreSQL never commits a
            # lost session's work): keep the error that says why, not "connection is closed".
            if not connection_lost(conn):
                raise
        raise
    async with _transaction_step(conn, "The transaction could not commit"):
        if connection_lost(conn):  # COMMIT cannot be sent: nothing of it was kept
            raise asyncpg.InterfaceError("the connection closed before COMMIT")
        server_pid = conn.get_server_pid()  # asyncpg detaches a closed connection's proxy
        try:
            await transaction.commit()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as error:
            # On a live connection, an ERROR answer means PostgreSQL rolled back, and an
            # InterfaceError that COMMIT was never sent. The connection gone mid-COMMIT (even
            # with a FATAL message) or no answer in time: it may have committed. A savepoint
            # is settled by its outer transaction's COMMIT, never here.
            if not outermost or (
                not isinstance(error, (OSError, TimeoutError)) and not connection_lost(conn)
            ):
                raise
            raise CommitOutcomeUnknown(
                f"COMMIT was sent but its answer was lost ({type(error).__name__}: {error}); "
                "the transaction may or may not have committed.",
                server_pid=server_pid,
            ) from error


async def _release_after_transaction(pool: asyncpg.Pool, conn: PoolConnectionProxy) -> None:
    # The transaction's outcome is decided by now; asyncpg closes a connection whose reset
    # failed, so the pool stays whole and only the log needs to know.
    try:
        await pool.release(conn)
    except Exception:
        logger.warning(
            "Releasing a transaction's connection failed after the transaction ended; its "
            "outcome stands",
            exc_info=True,
        )


@asynccontextmanager
async def _transaction_step(conn: asyncpg.Connection, failure: str) -> AsyncIterator[None]:
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        if connection_lost(conn):  # a restart, say: the database is unavailable, retry later
            raise DatabaseConnectionError(f"{failure}: the connection was lost: {error}") from error
        # A refused BEGIN or COMMIT (a timeout, a deferred check) is asyncpg's own exception,
        # as pgdbm gives it: `except asyncpg.UniqueViolationError` around the block works.
        raise


class SchemaManager:
    """pgdbm's helper for a manager's schema: create it, qualify names in it."""

    def __init__(self, db_manager: AsyncDatabaseManager) -> None:
        self.db = db_manager
        self.schema_name = db_manager.schema

    async def ensure_schema_exists(self) -> None:
        """Create the manager's schema if it does not exist."""
        if self.schema_name:
            await self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema_name}"')

    def qualify_table_name(self, table_name: str) -> str:
        """`schema.table` for this manager's schema (validated), as pgdbm writes it. A
        schema PostgreSQL would fold to lower case unquoted (`Reports`) is quoted: pgdbm's
        text would name another schema."""
        validate_identifier(table_name, kind="table")
        if not self.schema_name:
            return table_name
        schema = self.schema_name
        folds_to_itself = _UNQUOTED_NAME.fullmatch(schema) is not None
        return f"{schema}.{table_name}" if folds_to_itself else f'"{schema}".{table_name}'
