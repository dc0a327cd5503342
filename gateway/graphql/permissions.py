"""Permissions declared on fields, checked against `info.context.viewer`.

    @strawberry.type
    class User:
        id: int
        name: str
        email: str | None = strawberry.field(extensions=[guarded(OwnUser)])

    class OwnUser(OwnerOrAdmin):
        def owner_of(self, source: Any, arguments: Mapping[str, Any]) -> object:
            return source.id

A field whose permission does not hold is null with a FORBIDDEN error at its path; its
siblings are served. Each permission class is also a schema directive (`@OwnUser` on the
field in `schema.graphql`), so frontends see which fields are guarded. A guarded field must
be nullable: null on a non-null field would take its parent with it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, NoReturn

from strawberry.permission import BasePermission, PermissionExtension

from gateway.graphql.errors import Forbidden
from gateway.identity.viewer import Viewer

__all__ = ["AdminOnly", "InTenant", "OwnerOrAdmin", "Permission", "SignedIn", "guarded"]


def guarded(*permissions: type[Permission]) -> PermissionExtension:
    """The field extension checking `permissions` (all must hold), shown as directives."""
    return PermissionExtension([permission() for permission in permissions], use_directives=True)


class Permission(BasePermission):
    """A rule on a field; subclasses say when it holds (`allows`) and why not (`message`)."""

    message = "You may not see this field."

    def has_permission(self, source: Any, info: Any, **arguments: Any) -> bool:
        return self.allows(info.context.viewer, source, arguments)

    def on_unauthorized(self) -> NoReturn:
        raise Forbidden(self.message)

    @abc.abstractmethod
    def allows(self, viewer: Viewer, source: Any, arguments: Mapping[str, Any]) -> bool:
        """Whether `viewer` may resolve the field on `source` with `arguments`."""


class SignedIn(Permission):
    """Any verified viewer."""

    message = "Sign in to see this field."

    def allows(self, viewer: Viewer, source: Any, arguments: Mapping[str, Any]) -> bool:
        return not viewer.is_anonymous


class InTenant(Permission):
    """A viewer whose verified token names a tenant: what a tenant-scoped service's fields
    need (whether that tenant is provisioned is checked when its data is read)."""

    message = "This needs a token naming your tenant."

    def allows(self, viewer: Viewer, source: Any, arguments: Mapping[str, Any]) -> bool:
        return viewer.tenant is not None


class AdminOnly(Permission):
    """Viewers with the admin role."""

    message = "Only an admin may see this field."

    def allows(self, viewer: Viewer, source: Any, arguments: Mapping[str, Any]) -> bool:
        return viewer.is_admin


class OwnerOrAdmin(Permission):
    """The viewer whose subject is the owner (`owner_of`), or an admin."""

    message = "This belongs to another user."

    @abc.abstractmethod
    def owner_of(self, source: Any, arguments: Mapping[str, Any]) -> object:
        """The subject that owns what the field gives (a user id), or None (no owner)."""

    def allows(self, viewer: Viewer, source: Any, arguments: Mapping[str, Any]) -> bool:
        if viewer.is_admin:
            return True
        if viewer.subject is None:
            return False
        owner = self.owner_of(source, arguments)
        return owner is not None and str(owner) == viewer.subject
