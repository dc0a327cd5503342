"""TenantRegistry: the tenants this deployment serves, one row each in
`public.gateway_tenants`.

A tenant exists for the gateway once it is provisioned (`gateway tenants create acme`, or
on first use where auto-provisioning is switched on), never because a token names it.
"""

from __future__ import annotations

import contextlib

import asyncpg

from gateway.db import AsyncDatabaseManager

__all__ = ["REGISTRY_TABLE", "TenantRegistry"]

REGISTRY_TABLE = '"public".gateway_tenants'
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {REGISTRY_TABLE} ("
    "tenant_id TEXT PRIMARY KEY, provisioned_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


class TenantRegistry:
    """The provisioned tenants, read and written through `admin` (a manager of no schema)."""

    def __init__(self, admin: AsyncDatabaseManager) -> None:
        self._admin = admin
        self._ensured = False

    async def ensure_table(self) -> None:
        """Create the registry if it is missing (two processes may race to: not an error);
        once per process."""
        if self._ensured:
            return
        # The other one may create it between IF NOT EXISTS's check and its insert.
        raced = (asyncpg.UniqueViolationError, asyncpg.DuplicateTableError)
        async with self._admin.acquire() as conn:
            with contextlib.suppress(*raced):
                await conn.execute(_CREATE)
        self._ensured = True

    async def contains(self, tenant_id: str) -> bool:
        found = await self._admin.fetch_value(
            f"SELECT EXISTS (SELECT 1 FROM {REGISTRY_TABLE} WHERE tenant_id = $1)", tenant_id
        )
        return bool(found)

    async def add(self, tenant_id: str) -> None:
        await self._admin.execute(
            f"INSERT INTO {REGISTRY_TABLE} (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING",
            tenant_id,
        )

    async def remove(self, tenant_id: str) -> None:
        await self._admin.execute(f"DELETE FROM {REGISTRY_TABLE} WHERE tenant_id = $1", tenant_id)

    async def tenants(self) -> list[str]:
        """Every provisioned tenant, sorted."""
        rows = await self._admin.fetch_all(
            f"SELECT tenant_id FROM {REGISTRY_TABLE} ORDER BY tenant_id"
        )
        return [row["tenant_id"] for row in rows]
