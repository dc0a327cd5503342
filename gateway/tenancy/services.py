"""TenantServices: the tenant-scoped services' managers for a request's tenant.

Each tenant-scoped service has a TenantManager (gateway.db.tenants) over the shared pool. A
tenant's schema is `tenant_<id>`, shared by those services; each one's migrations
(`migrations/<service>/`) are tracked there as module `<service>:tenant_<id>`, so two
services' `001_init.sql` never shadow each other.

    tenants = TenantServices(pool, services, migrations_dir)
    await tenants.provision("acme")                       # gateway tenants create acme
    managers = await tenants.managers_for(viewer.tenant)  # {loader set: manager}, or refused

The tenant is always the verified token's, never a header or an argument. A tenant that is
not provisioned is refused (TenantRefused, FORBIDDEN for the fields that need it) and
nothing is created, unless auto-provisioning is switched on.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from gateway.db import AsyncDatabaseManager
from gateway.db.errors import SchemaError
from gateway.db.tenants import TenantManager
from gateway.graphql.errors import Forbidden
from gateway.graphql.service import Service
from gateway.identity.viewer import Viewer
from gateway.tenancy.registry import TenantRegistry

__all__ = ["RECHECK_SECONDS", "TenantMigration", "TenantRefused", "TenantServices", "module_name"]

# How long a process serves a tenant before it asks the registry again: a tenant dropped by
# `gateway tenants drop` is no longer served by running servers after this long.
RECHECK_SECONDS = 30.0
NO_TENANT = "This needs a token naming your tenant."
UNKNOWN_TENANT = "Your token's tenant is not provisioned on this gateway."


def module_name(service: str, tenant_id: str) -> str:
    """The migration module of `service` in `tenant_id`'s schema."""
    return f"{service}:tenant_{tenant_id}"


# Makes the error a field answers when its loader set is unavailable (made when one asks).
ErrorFactory = Callable[[], Exception]


def _again(failure: Exception) -> Exception:
    return failure


class TenantRefused(Exception):
    """The request's tenant cannot be served: none named, or not provisioned."""


@dataclass(frozen=True)
class TenantMigration:
    """What `migrate_all` did for one tenant: files applied per service, or its error."""

    tenant: str
    applied: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    def report(self) -> str:
        """One line: `acme: projects 002_due_dates.sql` / `acme: up to date` / the error."""
        if self.error is not None:
            return f"{self.tenant}: FAILED: {self.error}"
        done = [f"{service} {', '.join(files)}" for service, files in self.applied.items() if files]
        return f"{self.tenant}: {'; '.join(done) if done else 'up to date'}"


class TenantServices:
    """The tenant-scoped ones of `services`, per tenant, over `pool`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        services: Sequence[Service],
        migrations_dir: Path,
        *,
        auto_provision: bool = False,
    ) -> None:
        scoped = [service for service in services if service.tenant_scoped]
        self._managers = {
            service.name: TenantManager(
                pool,
                migrations_dir / service.name,
                module_name_for=functools.partial(module_name, service.name),
            )
            for service in scoped
        }
        self._service_of = {
            loader_set: service.name for service in scoped for loader_set in service.loaders
        }
        # What a request without a tenant gets for these loader sets: made once.
        self._without_tenant = dict.fromkeys(
            self._service_of, functools.partial(Forbidden, NO_TENANT)
        )
        self.registry = TenantRegistry(AsyncDatabaseManager(pool=pool))
        self.auto_provision = auto_provision
        # tenant -> (when the registry last said it is provisioned, its loader sets' managers)
        self._served: dict[str, tuple[float, dict[type[Any], AsyncDatabaseManager]]] = {}

    @property
    def loader_sets(self) -> frozenset[type[Any]]:
        """The loader sets whose manager is the request's tenant's."""
        return frozenset(self._service_of)

    @property
    def enabled(self) -> bool:
        """Whether any service is tenant-scoped."""
        return bool(self._managers)

    async def start(self) -> None:
        """Make sure the registry exists (at startup, before any request)."""
        if self.enabled:
            await self.registry.ensure_table()

    async def provision(self, tenant_id: str) -> None:
        """Create the tenant's schema, apply every tenant-scoped service's migrations to it,
        then register it (so a tenant whose migration failed is not served; run it again to
        resume). SchemaError for an id that cannot name a schema."""
        TenantManager.schema_for(tenant_id)
        await self.registry.ensure_table()
        for tenants in self._managers.values():
            await tenants.get_tenant_db(tenant_id)
        await self.registry.add(tenant_id)

    async def managers_for(self, tenant_id: str | None) -> Mapping[type[Any], AsyncDatabaseManager]:
        """The tenant's manager for each tenant-scoped loader set; TenantRefused when there is
        no tenant or it is not provisioned (and auto-provisioning is off)."""
        if tenant_id is None:
            raise TenantRefused(NO_TENANT)
        now = time.monotonic()
        served = self._served.get(tenant_id)
        if served is not None and now - served[0] < RECHECK_SECONDS:
            return served[1]
        try:
            TenantManager.schema_for(tenant_id)
        except SchemaError:
            raise TenantRefused(UNKNOWN_TENANT) from None
        if not await self.registry.contains(tenant_id):
            self._forget(tenant_id)
            if not self.auto_provision:
                raise TenantRefused(UNKNOWN_TENANT)
            await self.provision(tenant_id)
        dbs = {
            name: await tenants.get_tenant_db(tenant_id) for name, tenants in self._managers.items()
        }
        managers = {loader_set: dbs[name] for loader_set, name in self._service_of.items()}
        self._served[tenant_id] = (now, managers)
        return managers

    async def for_request(
        self, shared: Mapping[type[Any], AsyncDatabaseManager], viewer: Viewer
    ) -> tuple[Mapping[type[Any], AsyncDatabaseManager], Mapping[type[Any], ErrorFactory]]:
        """A request's managers by loader set (the `shared` ones and its tenant's), and the
        loader sets it cannot have, with what makes the error their fields answer
        (FORBIDDEN without a provisioned tenant). Whatever else it asks for is served."""
        if not self.enabled:
            return shared, {}
        if viewer.tenant is None:  # most requests: nothing raised, nothing built
            return shared, self._without_tenant
        try:
            return {**shared, **await self.managers_for(viewer.tenant)}, {}
        except TenantRefused as refusal:
            error: ErrorFactory = functools.partial(Forbidden, str(refusal))
        except Exception as failure:  # the registry unreadable (database down): per field
            error = functools.partial(_again, failure)
        return shared, dict.fromkeys(self._service_of, error)

    async def tenants(self) -> list[str]:
        """Every provisioned tenant, sorted."""
        await self.registry.ensure_table()
        return await self.registry.tenants()

    async def drop(self, tenant_id: str) -> None:
        """Stop serving the tenant, then drop its schema (all its data) and its migration
        records."""
        TenantManager.schema_for(tenant_id)
        await self.registry.ensure_table()
        await self.registry.remove(tenant_id)
        self._forget(tenant_id)
        for tenants in self._managers.values():
            await tenants.drop_tenant(tenant_id)

    async def migrate_all(self) -> AsyncIterator[TenantMigration]:
        """Apply pending migrations to every provisioned tenant, one after the other. A
        failing tenant is reported with its error and the others go on; its migrations
        before the failing one stay applied, so running this again resumes."""
        for tenant_id in await self.tenants():
            applied: dict[str, list[str]] = {}
            try:
                for name, tenants in self._managers.items():
                    result = await tenants.migrate_tenant(tenant_id)
                    applied[name] = [entry["filename"] for entry in result["applied"]]
            except Exception as error:  # reported, and the next tenant is migrated
                yield TenantMigration(tenant_id, applied, error=str(error) or type(error).__name__)
            else:
                yield TenantMigration(tenant_id, applied)

    def _forget(self, tenant_id: str) -> None:
        self._served.pop(tenant_id, None)
        for tenants in self._managers.values():
            tenants.tenant_dbs.pop(tenant_id, None)
