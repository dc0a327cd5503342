"""Who may see what of a user: the account's owner (the token's subject) and admins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway import OwnerOrAdmin


class OwnUser(OwnerOrAdmin):
    """On a field of User: the user it is, or an admin."""

    message = "This belongs to another user."

    def owner_of(self, source: Any, arguments: Mapping[str, Any]) -> object:
        return source.id


class UserNamedById(OwnerOrAdmin):
    """On a field taking a user's `id`: that user, or an admin."""

    message = "Only that user, or an admin, may see it."

    def owner_of(self, source: Any, arguments: Mapping[str, Any]) -> object:
        return arguments.get("id")
