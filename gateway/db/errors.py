"""The data layer's error tree, with pgdbm's names.

    AsyncDBError
    ├── ConfigurationError   a DatabaseConfig or manager was built with values that cannot work
    ├── DatabaseConnectionError (alias ConnectionError, for pgdbm code only)
    ├── PoolError            a pool is missing, closed, or used against its lifecycle
    │   └── PoolTimeoutError no connection became free within the acquire timeout
    ├── SchemaError          an identifier (schema, table, tenant) is invalid
    ├── QueryError           PostgreSQL refused a statement (outside a transaction; inside
    │                        one, asyncpg's own exception passes, as with pgdbm)
    ├── TransactionError     pgdbm's name
    │   └── CommitOutcomeUnknown COMMIT was sent but its answer was lost: committed or not?
    ├── MigrationError       a migration file is invalid, changed after applying, or failed
    ├── MonitoringError      pgdbm's name (its monitoring raises none)
    └── DatabaseTestError    the testing helpers could not create, name or drop a database

`ConnectionError` exists so `from pgdbm import ConnectionError` keeps working after the import
line changes; our own code uses `DatabaseConnectionError` and never shadows the builtin.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AsyncDBError",
    "CommitOutcomeUnknown",
    "ConfigurationError",
    "ConnectionError",
    "DatabaseConnectionError",
    "DatabaseTestError",
    "MigrationError",
    "MonitoringError",
    "PoolError",
    "PoolTimeoutError",
    "QueryError",
    "SchemaError",
    "TransactionError",
]


class AsyncDBError(Exception):
    """Base of every error the data layer raises."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details or {}


class ConfigurationError(AsyncDBError):
    """Raised when a configuration or constructor argument cannot work."""

    def __init__(self, message: str, config_field: str | None = None) -> None:
        super().__init__(message, {"config_field": config_field} if config_field else None)
        self.config_field = config_field


class DatabaseConnectionError(AsyncDBError):
    """Raised when the server cannot be reached after every retry; `host`, `port`,
    `database` and `attempts` (pgdbm's keywords) go into `details` when given."""

    def __init__(
        self,
        message: str,
        host: str | None = None,
        port: int | None = None,
        database: str | None = None,
        attempts: int | None = None,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        given = {"host": host, "port": port, "database": database, "attempts": attempts}
        known = {k: v for k, v in given.items() if v is not None}
        super().__init__(message, {**known, **(details or {})} or None)


ConnectionError = DatabaseConnectionError


class PoolError(AsyncDBError):
    """Raised when a pool is used against its lifecycle (missing, closed, owned elsewhere)."""


class PoolTimeoutError(PoolError):
    """Raised when no pooled connection becomes free within `DatabaseConfig.acquire_timeout`."""


class SchemaError(AsyncDBError):
    """Raised when a schema, table or tenant identifier is refused before reaching SQL."""

    def __init__(self, message: str, schema: str | None = None) -> None:
        super().__init__(message, {"schema": schema} if schema is not None else None)
        self.schema = schema


class QueryError(AsyncDBError):
    """Raised when PostgreSQL refuses a statement; `sqlstate` says why.

    The rendered query is kept on the exception for logs, never in its message, so that a
    caller that shows `str(error)` to a user does not leak SQL.
    """

    def __init__(
        self,
        message: str,
        query: str | None = None,
        params: tuple[Any, ...] | None = None,
        original_error: BaseException | None = None,
    ) -> None:
        self.query = query
        self.original_error = original_error
        self.sqlstate: str | None = getattr(original_error, "sqlstate", None)
        self.constraint_name: str | None = getattr(original_error, "constraint_name", None)
        # pgdbm's details (query, masked params, the original error's text), plus sqlstate;
        # none of it goes into the message.
        details: dict[str, Any] = {"query": query}
        if params:
            details["params"] = masked_params(params)
        if original_error is not None:
            details["original_error"] = str(original_error)
        details["sqlstate"] = self.sqlstate
        if self.constraint_name:
            details["constraint"] = self.constraint_name
        super().__init__(message, {k: v for k, v in details.items() if v is not None})


def masked_params(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """Query parameters as pgdbm shows them: long strings and bytes by their size only."""
    return tuple(
        f"<str:{len(param)} chars>"
        if isinstance(param, str) and len(param) > 20
        else f"<bytes:{len(param)} bytes>"
        if isinstance(param, bytes)
        else param
        for param in params
    )


class TransactionError(AsyncDBError):
    """pgdbm's; raised as `CommitOutcomeUnknown` when COMMIT's answer was lost (a refused
    BEGIN or COMMIT is asyncpg's own exception, as with pgdbm)."""


class MonitoringError(AsyncDBError):
    """pgdbm's, for `except` clauses that name it; gateway.db.monitoring raises none, as
    pgdbm's monitoring raises none."""


class DatabaseTestError(AsyncDBError):
    """Raised by the testing helpers (gateway.db.testing) when a test database cannot be
    created, named or dropped."""

    def __init__(self, message: str, test_db_name: str | None = None) -> None:
        super().__init__(message, {"test_db_name": test_db_name} if test_db_name else None)


class CommitOutcomeUnknown(TransactionError):
    """Raised when COMMIT was sent but no answer came back (the connection died, the client
    timed out): the transaction may have committed or not.

    `server_pid` is the backend that ran it; `gateway.db.outcomes.settle_commit` waits for it
    to end and then looks for what the transaction wrote, to answer truthfully.
    """

    def __init__(self, message: str, *, server_pid: int | None) -> None:
        super().__init__(message, {"server_pid": server_pid})
        self.server_pid = server_pid


class MigrationError(AsyncDBError):
    """Raised when a migration is invalid, was changed after being applied, or failed."""

    def __init__(
        self,
        message: str,
        migration_file: str | None = None,
        version: str | None = None,
        sql_error: str | None = None,
        *,
        statement: str | None = None,
    ) -> None:
        named = (
            ("file", migration_file),
            ("migration_file", migration_file),  # pgdbm's key
            ("version", version),
            ("sql_error", sql_error),
            ("statement", statement),
        )
        super().__init__(message, {k: v for k, v in named if v})
        self.migration_file = migration_file
        self.statement = statement
