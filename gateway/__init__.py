"""A GraphQL gateway across schema-isolated services sharing one PostgreSQL pool.

What a service author and an application need, from one place:

    from gateway import Connection, Info, Service, batch_field, create_app

The data layer is `gateway.db` (pgdbm's API). Names load on first use, so `import gateway.db`
alone does not import Strawberry, FastAPI or the rest of the gateway.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import create_app
    from gateway.graphql.batch_field import batch_field
    from gateway.graphql.batching import BatchLoader, ChildPageLoader, ChildPages, by_id_loader
    from gateway.graphql.context import Context, Info
    from gateway.graphql.errors import (
        BadUserInput,
        Conflict,
        Forbidden,
        GatewayError,
        NotFound,
        OutcomeUnknown,
        ServiceConfigurationError,
        ServiceUnavailable,
        Timeout,
    )
    from gateway.graphql.idempotency import IdempotencyKey
    from gateway.graphql.nodes import Node, NodeLoad
    from gateway.graphql.pagination import (
        Connection,
        PageArgs,
        PageInfo,
        make_connection,
        table_pages,
    )
    from gateway.graphql.permissions import (
        AdminOnly,
        InTenant,
        OwnerOrAdmin,
        Permission,
        SignedIn,
        guarded,
    )
    from gateway.graphql.row_objects import RowObjects
    from gateway.graphql.schema import build_schema
    from gateway.graphql.service import LoaderSet, Service
    from gateway.graphql.text_input import is_storable_text
    from gateway.identity.viewer import ANONYMOUS, Viewer
    from gateway.limits.cost import max_items
    from gateway.settings import Settings
    from gateway.subscriptions.events import notify, notify_sql
    from gateway.subscriptions.live import EventsMissed, live

# Each public name and the module that defines it; tests/test_public_api.py keeps this table,
# the imports above and __all__ in step.
_HOMES = {
    "ANONYMOUS": "gateway.identity.viewer",
    "AdminOnly": "gateway.graphql.permissions",
    "BadUserInput": "gateway.graphql.errors",
    "BatchLoader": "gateway.graphql.batching",
    "ChildPageLoader": "gateway.graphql.batching",
    "ChildPages": "gateway.graphql.batching",
    "Conflict": "gateway.graphql.errors",
    "Connection": "gateway.graphql.pagination",
    "Context": "gateway.graphql.context",
    "Forbidden": "gateway.graphql.errors",
    "EventsMissed": "gateway.subscriptions.live",
    "GatewayError": "gateway.graphql.errors",
    "IdempotencyKey": "gateway.graphql.idempotency",
    "InTenant": "gateway.graphql.permissions",
    "Info": "gateway.graphql.context",
    "LoaderSet": "gateway.graphql.service",
    "Node": "gateway.graphql.nodes",
    "NodeLoad": "gateway.graphql.nodes",
    "NotFound": "gateway.graphql.errors",
    "OutcomeUnknown": "gateway.graphql.errors",
    "OwnerOrAdmin": "gateway.graphql.permissions",
    "PageArgs": "gateway.graphql.pagination",
    "PageInfo": "gateway.graphql.pagination",
    "Permission": "gateway.graphql.permissions",
    "RowObjects": "gateway.graphql.row_objects",
    "Service": "gateway.graphql.service",
    "ServiceConfigurationError": "gateway.graphql.errors",
    "ServiceUnavailable": "gateway.graphql.errors",
    "Settings": "gateway.settings",
    "SignedIn": "gateway.graphql.permissions",
    "Timeout": "gateway.graphql.errors",
    "Viewer": "gateway.identity.viewer",
    "batch_field": "gateway.graphql.batch_field",
    "build_schema": "gateway.graphql.schema",
    "by_id_loader": "gateway.graphql.batching",
    "create_app": "gateway.app",
    "guarded": "gateway.graphql.permissions",
    "is_storable_text": "gateway.graphql.text_input",
    "live": "gateway.subscriptions.live",
    "make_connection": "gateway.graphql.pagination",
    "notify": "gateway.subscriptions.events",
    "notify_sql": "gateway.subscriptions.events",
    "table_pages": "gateway.graphql.pagination",
    "max_items": "gateway.limits.cost",
}

__all__ = [
    "ANONYMOUS",
    "AdminOnly",
    "BadUserInput",
    "BatchLoader",
    "ChildPageLoader",
    "ChildPages",
    "Conflict",
    "Connection",
    "Context",
    "EventsMissed",
    "Forbidden",
    "GatewayError",
    "IdempotencyKey",
    "InTenant",
    "Info",
    "LoaderSet",
    "Node",
    "NodeLoad",
    "NotFound",
    "OutcomeUnknown",
    "OwnerOrAdmin",
    "PageArgs",
    "PageInfo",
    "Permission",
    "RowObjects",
    "Service",
    "ServiceConfigurationError",
    "ServiceUnavailable",
    "Settings",
    "SignedIn",
    "Timeout",
    "Viewer",
    "batch_field",
    "build_schema",
    "by_id_loader",
    "create_app",
    "guarded",
    "is_storable_text",
    "live",
    "make_connection",
    "max_items",
    "notify",
    "notify_sql",
    "table_pages",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
