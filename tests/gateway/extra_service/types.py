# mypy: disallow-untyped-decorators=False
# (as for services.* in pyproject: strawberry.field(description=...) is typed as Any)
"""The reviews service's public GraphQL types."""

from __future__ import annotations

import strawberry

from gateway import Info
from services.users.data import UserData
from services.users.types import User


@strawberry.type(description="A user's rating of a product.")
class Review:
    id: int
    sku: str
    rating: int
    body: str
    user_id: strawberry.Private[int]

    @strawberry.field(description="Who wrote the review.")
    async def author(self, info: Info) -> User | None:
        # Another service's data, through its public loaders only.
        return await info.context.loaders(UserData).by_id.load(self.user_id)


@strawberry.input(description="A new review by an existing user.")
class AddReviewInput:
    user_id: int
    sku: str
    rating: int
    body: str
