"""TenantManager: a schema per tenant, created and migrated on first use.

tenants = TenantManager(shared_pool, migrations_path="tenant_migrations")
tenant_db = await tenants.get_tenant_db("customer_123")   # schema tenant_customer_123

Its migrations are tracked under module `tenant_<id>`, as the seed's pattern has it;
`module_name_for` names them otherwise, so that several migration folders (the gateway's
tenant-scoped services) can share one tenant's schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from gateway.db.errors import SchemaError
from gateway.db.identifiers import MAX_IDENTIFIER_BYTES, validate_identifier, validate_tenant_id
from gateway.db.manager import AsyncDatabaseManager
from gateway.db.migrations import AsyncMigrationManager
from gateway.db.schemas import create_schema_if_missing
from gateway.db.tracking import LEGACY_SCHEMA

__all__ = ["TenantManager"]

SCHEMA_PREFIX = "tenant_"


class TenantManager:
    """Hands out one schema-isolated manager per tenant over the shared pool.

    Concurrent first requests for a tenant share one creation: the schema is created and
    migrated once (an asyncio lock per tenant in this process, the migration advisory lock
    across processes).
    """

    def __init__(
        self,
        shared_pool: asyncpg.Pool,
        migrations_path: str | Path = "tenant_migrations",
        *,
        module_name_for: Callable[[str], str] = lambda tenant_id: f"tenant_{tenant_id}",
    ) -> None:
        self.shared_pool = shared_pool
        self.migrations_path = Path(migrations_path)
        self.module_name_for = module_name_for
        self.tenant_dbs: dict[str, AsyncDatabaseManager] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._admin = AsyncDatabaseManager(pool=shared_pool)

    @staticmethod
    def schema_for(tenant_id: str) -> str:
        """The schema name of `tenant_id`, validated."""
        schema = SCHEMA_PREFIX + validate_tenant_id(tenant_id)
        if len(schema.encode()) > MAX_IDENTIFIER_BYTES:
            raise SchemaError(
                f"The tenant id {tenant_id[:20]!r}... is too long: its schema name would "
                f"exceed {MAX_IDENTIFIER_BYTES} bytes.",
                None,
            )
        return validate_identifier(schema, kind="schema")

    async def get_tenant_db(self, tenant_id: str) -> AsyncDatabaseManager:
        """The tenant's manager; creates and migrates its schema on first use."""
        schema = self.schema_for(tenant_id)
        if (db := self.tenant_dbs.get(tenant_id)) is not None:
            return db
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            if (db := self.tenant_dbs.get(tenant_id)) is not None:
                return db
            db, _ = await self._migrate(tenant_id, schema)
            self.tenant_dbs[tenant_id] = db
            return db

    async def migrate_tenant(self, tenant_id: str) -> dict[str, Any]:
        """Create the tenant's schema if missing and apply its pending migrations now (also
        when this process has its manager already); returns the migrations' status dict.
        A failing migration raises MigrationError, the migrations before it kept."""
        schema = self.schema_for(tenant_id)
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            db, result = await self._migrate(tenant_id, schema)
            self.tenant_dbs.setdefault(tenant_id, db)
            return result

    async def _migrate(
        self, tenant_id: str, schema: str
    ) -> tuple[AsyncDatabaseManager, dict[str, Any]]:
        # Another process may create the schema at the same moment: not an error.
        async with self._admin.acquire() as conn:
            await create_schema_if_missing(conn, schema)
        db = AsyncDatabaseManager(pool=self.shared_pool, schema=schema)
        result = await AsyncMigrationManager(
            db, self.migrations_path, module_name=self.module_name_for(tenant_id)
        ).apply_pending_migrations()
        return db, result

    async def list_tenants(self) -> list[str]:
        """Every tenant with a schema in the database, sorted."""
        rows = await self._admin.fetch_all(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE starts_with(schema_name, $1) ORDER BY schema_name",
            SCHEMA_PREFIX,
        )
        return [row["schema_name"].removeprefix(SCHEMA_PREFIX) for row in rows]

    async def drop_tenant(self, tenant_id: str) -> None:
        """Drop the tenant's schema, its data and its migration records."""
        schema = self.schema_for(tenant_id)
        legacy = f'"{LEGACY_SCHEMA}".schema_migrations'
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            # Forget the manager first: nobody gets it from the cache while the schema goes.
            self.tenant_dbs.pop(tenant_id, None)
            # Every query on the transaction's own connection: asking the pool for a second
            # one while holding the first deadlocks a full (or one-connection) pool.
            async with self._admin.transaction() as tx:
                await tx.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                # The records are in the schema's own table; an earlier gateway's in public.
                if await tx.fetch_value("SELECT to_regclass($1) IS NOT NULL", legacy):
                    await tx.execute(
                        f"DELETE FROM {legacy} WHERE module_name = $1",
                        self.module_name_for(tenant_id),
                    )
