"""Tenants: which ones this deployment serves (registry) and the tenant-scoped services'
managers for a request's tenant (services)."""

from gateway.tenancy.registry import TenantRegistry
from gateway.tenancy.services import TenantMigration, TenantRefused, TenantServices

__all__ = ["TenantMigration", "TenantRefused", "TenantRegistry", "TenantServices"]
