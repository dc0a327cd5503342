"""pgdbm's API on asyncpg: one shared pool, schema-isolated managers, migrations, tenants,
monitoring and testing helpers (gateway.db.fixtures is pgdbm's pytest plugin).

Code written against pgdbm runs with its import line changed to `from gateway.db import ...`.
"""

from gateway.db.config import DatabaseConfig
from gateway.db.errors import (
    AsyncDBError,
    CommitOutcomeUnknown,
    ConfigurationError,
    ConnectionError,
    DatabaseConnectionError,
    DatabaseTestError,
    MigrationError,
    MonitoringError,
    PoolError,
    PoolTimeoutError,
    QueryError,
    SchemaError,
    TransactionError,
)
from gateway.db.manager import AsyncDatabaseManager, SchemaManager, TransactionManager
from gateway.db.migrations import AsyncMigrationManager, Migration
from gateway.db.monitoring import (
    ConnectionMetrics,
    DatabaseDebugger,
    MonitoredAsyncDatabaseManager,
    QueryMetrics,
    log_query_performance,
)
from gateway.db.outcomes import settle_commit
from gateway.db.pool import SharedPool
from gateway.db.statements import StatementRecorder, count_statements
from gateway.db.tenants import TenantManager
from gateway.db.testing import AsyncTestDatabase, DatabaseTestCase, DatabaseTestConfig

__all__ = [
    "AsyncDBError",
    "AsyncDatabaseManager",
    "AsyncMigrationManager",
    "AsyncTestDatabase",
    "CommitOutcomeUnknown",
    "ConfigurationError",
    "ConnectionError",
    "ConnectionMetrics",
    "DatabaseConfig",
    "DatabaseConnectionError",
    "DatabaseDebugger",
    "DatabaseTestCase",
    "DatabaseTestConfig",
    "DatabaseTestError",
    "Migration",
    "MigrationError",
    "MonitoredAsyncDatabaseManager",
    "MonitoringError",
    "PoolError",
    "PoolTimeoutError",
    "QueryError",
    "QueryMetrics",
    "SchemaError",
    "SchemaManager",
    "SharedPool",
    "StatementRecorder",
    "TenantManager",
    "TransactionError",
    "TransactionManager",
    "count_statements",
    "log_query_performance",
    "settle_commit",
]
