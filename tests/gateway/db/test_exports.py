"""gateway.db answers to pgdbm's names, so only the import line changes."""

from __future__ import annotations

import builtins

import gateway.db

PGDBM_NAMES = {
    "AsyncTestDatabase",
    "ConnectionMetrics",
    "DatabaseDebugger",
    "DatabaseTestCase",
    "DatabaseTestConfig",
    "DatabaseTestError",
    "MonitoredAsyncDatabaseManager",
    "MonitoringError",
    "QueryMetrics",
    "log_query_performance",
    "AsyncDatabaseManager",
    "AsyncDBError",
    "AsyncMigrationManager",
    "ConfigurationError",
    "ConnectionError",
    "DatabaseConfig",
    "Migration",
    "MigrationError",
    "PoolError",
    "QueryError",
    "SchemaError",
    "SchemaManager",
    "TransactionError",
    "TransactionManager",
}


def test_public_names_are_sorted_and_cover_pgdbms_api() -> None:
    assert gateway.db.__all__ == sorted(gateway.db.__all__)
    assert set(gateway.db.__all__) >= PGDBM_NAMES


def test_connection_error_is_a_compatibility_alias_not_a_shadowed_builtin() -> None:
    assert gateway.db.ConnectionError is gateway.db.DatabaseConnectionError
    assert issubclass(gateway.db.ConnectionError, gateway.db.AsyncDBError)
    assert builtins.ConnectionError is not gateway.db.ConnectionError


def test_every_error_derives_from_async_db_error() -> None:
    for name in PGDBM_NAMES:
        value = getattr(gateway.db, name)
        if name.endswith("Error"):
            assert issubclass(value, gateway.db.AsyncDBError), name
