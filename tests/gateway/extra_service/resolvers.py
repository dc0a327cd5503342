# mypy: disallow-untyped-decorators=False
# (as for services.* in pyproject: strawberry.field(description=...) is typed as Any)
"""The reviews service's root fields, two of which fail on purpose.

`reviewSearch` runs SQL PostgreSQL refuses as a syntax error, and `reviewDigest` raises an
unexpected exception: tests check that neither leaks SQL or a stack trace to a client.
"""

from __future__ import annotations

import strawberry

from gateway import Info, NotFound, max_items
from services.users.data import UserData
from tests.gateway.extra_service.data import ReviewData
from tests.gateway.extra_service.types import AddReviewInput, Review

DIGEST_FAILURE = "digest cache /srv/reviews/digest.bin is corrupt"


@strawberry.type
class ReviewsQuery:
    @strawberry.field(description="One review by id, or null.")
    async def review(self, info: Info, id: int) -> Review | None:
        return await info.context.loaders(ReviewData).by_id.load(id)

    @strawberry.field(
        description="Ids of reviews whose body contains `text` (broken SQL).",
        metadata=max_items(20),
    )
    async def review_search(self, info: Info, text: str) -> list[int]:
        return await info.context.loaders(ReviewData).search_broken(text)

    @strawberry.field(description="A digest of all reviews (raises an unexpected error).")
    async def review_digest(self, info: Info) -> str:
        raise RuntimeError(DIGEST_FAILURE)


@strawberry.type
class ReviewsMutation:
    @strawberry.mutation(description="Review a product; one review per user and product.")
    async def add_review(self, info: Info, input: AddReviewInput) -> Review:
        if await info.context.loaders(UserData).by_id.load(input.user_id) is None:
            raise NotFound(f"There is no user with id {input.user_id}.")
        return await info.context.loaders(ReviewData).add(
            input.user_id, input.sku, input.rating, input.body
        )
