"""Who may see and place orders: the user they are for (the token's subject) and admins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway import OwnerOrAdmin


class OwnOrder(OwnerOrAdmin):
    """On a field of Order: the user who placed it, or an admin."""

    message = "This order belongs to another user."

    def owner_of(self, source: Any, arguments: Mapping[str, Any]) -> object:
        return source.user_id


class OrderForSelf(OwnerOrAdmin):
    """On a mutation taking `input.userId`: that user, or an admin (for anyone)."""

    message = "Orders are placed for the signed-in user only (admins for anyone)."

    def owner_of(self, source: Any, arguments: Mapping[str, Any]) -> object:
        return arguments["input"].user_id
