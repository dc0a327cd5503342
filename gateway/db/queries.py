"""The query methods pgdbm code calls, shared by managers and transactions.

`QueryRunner` renders templates for its schema, takes a connection from `_connection()`
(a pool acquire for a manager, the pinned connection for a transaction), and, as pgdbm,
turns PostgreSQL's refusals into `QueryError` outside a transaction and lets asyncpg's own
exception (`asyncpg.UniqueViolationError`) through inside one. A lost connection is
`DatabaseConnectionError` in both.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from gateway.db.errors import DatabaseConnectionError, QueryError, masked_params
from gateway.db.templates import render_template

__all__ = ["QueryRunner", "connection_lost"]

ModelT = TypeVar("ModelT")

logger = logging.getLogger("gateway.db.queries")

_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def connection_lost(conn: asyncpg.Connection) -> bool:
    """Whether `conn` has closed, for instance because the server restarted."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # a pool's proxy is detached once its connection closes
        return True


@asynccontextmanager
async def _as_query_error(
    query: str,
    conn: asyncpg.Connection,
    args: Sequence[Any] = (),
    *,
    pass_refusals: bool = False,
) -> AsyncIterator[None]:
    try:
        yield
    except (OSError, asyncpg.ConnectionDoesNotExistError, asyncpg.PostgresConnectionError) as error:
        # The server went away mid-statement (restart, network): not the query's fault.
        raise DatabaseConnectionError(f"The database connection was lost: {error}") from error
    except asyncpg.InterfaceError as error:
        if not connection_lost(conn):
            raise
        # It went away before the statement (a transaction's connection, while it waited).
        raise DatabaseConnectionError(f"The database connection was lost: {error}") from error
    except asyncpg.PostgresError as error:
        if pass_refusals:
            raise  # inside a transaction, as pgdbm: `except asyncpg.UniqueViolationError`
        reason = getattr(error, "message", None) or str(error) or type(error).__name__
        raise QueryError(
            f"PostgreSQL refused the statement ({type(error).__name__}, "
            f"SQLSTATE {error.sqlstate}): {reason}",
            query=query,
            params=tuple(args),
            original_error=error,
        ) from error


class QueryRunner:
    """pgdbm's query API over whatever connection `_connection()` yields."""

    _schema: str | None
    # pgdbm wraps PostgreSQL's refusals in QueryError outside transactions and lets asyncpg's
    # own exception through inside one; code written for it catches each where it occurs.
    _passes_refusals: bool = False
    # DB_DEBUG=1 (read when a manager is made, as pgdbm reads it): each statement is logged
    # at DEBUG on "gateway.db.queries", its arguments masked.
    _debug: bool = False

    @property
    def debug(self) -> bool:
        """Whether each statement is logged with its arguments masked (DB_DEBUG=1 turns it on
        for managers made afterwards; set it to turn it on for this one)."""
        return self._debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._debug = value

    def _connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        raise NotImplementedError

    def _errors_of(
        self, sql: str, conn: asyncpg.Connection, args: Sequence[Any] = ()
    ) -> AbstractAsyncContextManager[None]:
        if self._debug:
            shown = sql if len(sql) <= 100 else f"{sql[:100]}..."
            logger.debug("Query: %s Args: %s", shown, masked_params(tuple(args)))
        return _as_query_error(sql, conn, args, pass_refusals=self._passes_refusals)

    def prepare_query(self, query: str) -> str:
        """The SQL this runner sends for `query`, templates resolved (cached per text)."""
        return render_template(query, self._schema)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run a statement; returns its status string (`"INSERT 0 1"`)."""
        sql = self.prepare_query(query)
        async with self._connection() as conn, self._errors_of(sql, conn, args):
            result: str = await conn.execute(sql, *args, timeout=timeout)
            return result

    async def executemany(
        self, query: str, args_list: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """Run one statement once per argument tuple, in one round trip per batch."""
        sql = self.prepare_query(query)
        async with self._connection() as conn, self._errors_of(sql, conn):
            await conn.executemany(sql, args_list, timeout=timeout)

    execute_many = executemany  # pgdbm's compatibility alias

    async def execute_and_return_id(self, query: str, *args: Any) -> Any:
        """Run an INSERT and return its `id`, adding `RETURNING id` when absent."""
        sql = self.prepare_query(query).rstrip().rstrip(";")
        if not _RETURNING.search(sql):
            sql = f"{sql} RETURNING id"
        async with self._connection() as conn, self._errors_of(sql, conn, args):
            return await conn.fetchval(sql, *args)

    async def fetch_value(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """The value in `column` of the first row, or None when there is no row."""
        sql = self.prepare_query(query)
        async with self._connection() as conn, self._errors_of(sql, conn, args):
            return await conn.fetchval(sql, *args, column=column, timeout=timeout)

    fetch_val = fetch_value  # pgdbm's compatibility alias

    async def fetch_one(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> dict[str, Any] | None:
        """The first row as a dict, or None."""
        sql = self.prepare_query(query)
        async with self._connection() as conn, self._errors_of(sql, conn, args):
            row = await conn.fetchrow(sql, *args, timeout=timeout)
        return dict(row) if row is not None else None

    async def fetch_all(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Every row as a dict."""
        return [dict(row) for row in await self.fetch_records(query, *args, timeout=timeout)]

    async def fetch_records(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> list[asyncpg.Record]:
        """Every row as an asyncpg Record (no dict copy: for hot paths)."""
        sql = self.prepare_query(query)
        async with self._connection() as conn, self._errors_of(sql, conn, args):
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args, timeout=timeout)
            return rows

    async def fetch_as_model(
        self, model: Callable[..., ModelT], query: str, *args: Any, timeout: float | None = None
    ) -> ModelT | None:
        """The first row built into `model` (e.g. a Pydantic class), or None."""
        row = await self.fetch_one(query, *args, timeout=timeout)
        return model(**row) if row is not None else None

    async def fetch_all_as_model(
        self, model: Callable[..., ModelT], query: str, *args: Any, timeout: float | None = None
    ) -> list[ModelT]:
        """Every row built into `model`."""
        return [model(**row) for row in await self.fetch_all(query, *args, timeout=timeout)]
