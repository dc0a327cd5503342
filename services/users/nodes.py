"""Users by global id (node(id:)), under user(id:)'s rule: that user and admins only."""

from __future__ import annotations

from collections.abc import Sequence

from gateway import Forbidden, Info
from services.users.data import UserData
from services.users.permissions import UserNamedById
from services.users.types import User

_NAMED = UserNamedById()


async def users_by_id(info: Info, ids: Sequence[int]) -> list[User | Exception | None]:
    """Each user the viewer may see (None if missing); FORBIDDEN for the others, unread."""
    viewer = info.context.viewer
    allowed = [user_id for user_id in ids if _NAMED.allows(viewer, None, {"id": user_id})]
    users = await info.context.loaders(UserData).by_id.load_many(allowed)
    found = dict(zip(allowed, users, strict=True))
    return [found[user_id] if user_id in found else Forbidden(_NAMED.message) for user_id in ids]
