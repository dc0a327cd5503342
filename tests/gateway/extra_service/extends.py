# mypy: disallow-untyped-decorators=False
# (as for services.* in pyproject: strawberry.field(description=...) is typed as Any)
"""Fields the reviews service adds to other services' types."""

from __future__ import annotations

import strawberry

from gateway import Info, batch_field, max_items
from services.users.types import User
from tests.gateway.extra_service.data import ReviewData
from tests.gateway.extra_service.types import Review


@strawberry.type
class UserReviews:
    """Added to User: the reviews the user wrote."""

    # A test service: its tests write a few reviews per user; the bound is for the cost limit.
    # A batch field: one call (one statement) per level, no per-user resolver.
    @batch_field(description="The user's reviews, ordered by id.", metadata=max_items(20))
    async def reviews(users: list[User], info: Info) -> list[list[Review]]:
        return await info.context.loaders(ReviewData).of_users(users)
