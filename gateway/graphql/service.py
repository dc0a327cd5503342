"""The Service descriptor: everything a service contributes to the gateway.

    users = Service(
        name="users",
        query=UsersQuery,
        mutation=UsersMutation,
        subscription=UsersSubscription,      # live updates (gateway.subscriptions)
        types=[User],
        loaders=UserData,                    # built per request from the users manager
        extends={"Order": OrderUserFields},  # fields this service adds to another's type
        example_query=EXAMPLE_QUERY,         # what GraphiQL opens with (optional)
    )

A service owns schema `name` and the migrations in `migrations/<name>/`. Its resolvers reach
data only through loader sets (`info.context.loaders(UserData)`), each built per request
around the manager of the service that registered it.

A tenant-scoped service (`tenant_scoped=True`) has no schema of its own: its manager comes
per request from the tenant its viewer's verified token names (gateway.tenancy), schema
`tenant_<id>`, where its migrations run once per tenant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.db import AsyncDatabaseManager
from gateway.db.identifiers import validate_identifier

if TYPE_CHECKING:
    from gateway.graphql.nodes import NodeLoad

__all__ = ["LoaderSet", "Service"]


class LoaderSet(Protocol):
    """A per-request object built around one service's manager: its loaders and functions."""

    def __init__(self, db: AsyncDatabaseManager) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Service:
    """What one service contributes: root fields, types, loaders, fields on others' types."""

    name: str
    query: type[Any] | None = None
    mutation: type[Any] | None = None
    # Async-generator fields fed by PostgreSQL's NOTIFY (gateway.subscriptions).
    subscription: type[Any] | None = None
    types: Sequence[type[Any]] = ()
    loaders: Sequence[type[LoaderSet]] = ()
    extends: Mapping[str, type[Any]] = field(default_factory=dict)
    # An operation GraphiQL opens with; checked against the schema (graphql/example_queries).
    example_query: str | None = None
    # Its data lives in each tenant's schema, reached with the request's tenant only.
    tenant_scoped: bool = False
    # Its types that implement gateway.graphql.nodes.Node, each with how to load them by
    # id for node(id:) / nodes(ids:), under the service's own rules on who may see them.
    nodes: Mapping[type[Any], NodeLoad] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_identifier(self.name, kind="service")
