# mypy: disallow-untyped-decorators=False
# (as for services.* in pyproject: strawberry.field(description=...) is typed as Any)
"""slow: a test-only service whose fields hold a database connection for `seconds`.

`slowReviewCount(seconds)` sleeps inside one statement; `addReviewSlowly(input, seconds)` adds
a review and sleeps before its transaction commits. The fault tests (tests/faults/) use them to
run into the statement timeout, to fill the pool, and to have work in flight when the database
restarts or the server shuts down.

It is a service of its own, so that the reviews service's schema stays as the schema tests pin
it. It has no tables (its migrations folder is an empty `slow/`) and reaches reviews only
through their public loaders.
"""

from __future__ import annotations

import strawberry

from gateway import Info, Service
from tests.gateway.extra_service.data import ReviewData
from tests.gateway.extra_service.types import AddReviewInput, Review


@strawberry.type
class SlowQuery:
    @strawberry.field(description="The number of reviews, counted after sleeping `seconds`.")
    async def slow_review_count(self, info: Info, seconds: float) -> int:
        return await info.context.loaders(ReviewData).count_slowly(seconds)


@strawberry.type
class SlowMutation:
    @strawberry.mutation(description="Add a review, sleeping `seconds` before it commits.")
    async def add_review_slowly(self, info: Info, input: AddReviewInput, seconds: float) -> Review:
        return await info.context.loaders(ReviewData).add_slowly(
            input.user_id, input.sku, input.rating, input.body, seconds
        )


service = Service(name="slow", query=SlowQuery, mutation=SlowMutation)

__all__ = ["service"]
