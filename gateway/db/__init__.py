"""pgdbm's API on asyncpg: one shared pool, schema-isolated managers, migrations, tenants.

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
from gateway.db.outcomes import settle_commit
from gateway.db.pool import SharedPool
from gateway.db.statements import StatementRecorder, count_statements
from gateway.db.tenants import TenantManager

__all__ = [
    "AsyncDBError",
    "AsyncDatabaseManager",
    "AsyncMigrationManager",
    "CommitOutcomeUnknown",
    "ConfigurationError",
    "ConnectionError",
    "DatabaseConfig",
    "DatabaseConnectionError",
    "DatabaseTestError",
    "Migration",
    "MigrationError",
    "MonitoringError",
    "PoolError",
    "PoolTimeoutError",
    "QueryError",
    "SchemaError",
    "SchemaManager",
    "SharedPool",
    "StatementRecorder",
    "TenantManager",
    "TransactionError",
    "TransactionManager",
    "count_statements",
    "settle_commit",
]
