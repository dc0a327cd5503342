"""`gateway tenants create|list|drop` and `gateway migrate --tenants`, over a pool of their
own on the configured database; each prints one line per tenant and returns the exit
status (1 when any tenant failed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from gateway.db import AsyncDatabaseManager
from gateway.db.errors import SchemaError
from gateway.graphql.service import Service
from gateway.settings import Settings
from gateway.tenancy.services import TenantServices

__all__ = ["migrate_tenants", "tenants_command"]


@asynccontextmanager
async def _tenancy(
    settings: Settings, services: Sequence[Service]
) -> AsyncIterator[TenantServices]:
    pool = await AsyncDatabaseManager.create_shared_pool(settings.database_config())
    try:
        yield TenantServices(pool, services, settings.migrations_dir)
    finally:
        await pool.close()


async def tenants_command(
    settings: Settings, services: Sequence[Service], action: str, tenant_ids: Sequence[str]
) -> int:
    """`create` or `drop` each of `tenant_ids`, or `list` every provisioned tenant."""
    async with _tenancy(settings, services) as tenancy:
        if not tenancy.enabled:
            print("No service is tenant-scoped: there is nothing to provision.")
            return 1
        if action == "list":
            for tenant_id in await tenancy.tenants():
                print(tenant_id)
            return 0
        failed = False
        for tenant_id in tenant_ids:
            try:
                if action == "create":
                    await tenancy.provision(tenant_id)
                else:
                    await tenancy.drop(tenant_id)
            except SchemaError as error:  # an id that cannot name a schema
                print(f"{tenant_id[:64]}: FAILED: {error}")
                failed = True
            else:
                print(f"{tenant_id}: {'provisioned' if action == 'create' else 'dropped'}")
        return 1 if failed else 0


async def migrate_tenants(settings: Settings, services: Sequence[Service]) -> int:
    """Apply pending tenant migrations to every provisioned tenant, one line each."""
    failed = False
    async with _tenancy(settings, services) as tenancy:
        if not tenancy.enabled:
            print("No service is tenant-scoped: no tenant to migrate.")
            return 0
        async for migration in tenancy.migrate_all():
            print(migration.report(), flush=True)
            failed = failed or migration.error is not None
    return 1 if failed else 0
