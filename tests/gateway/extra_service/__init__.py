"""reviews: a fourth service that exists only for tests, laid out like the real ones.

Registering it is `create_app(settings, [*SERVICES, reviews.service])` with `MIGRATIONS_DIR /
"reviews"` next to the real services' migrations: nothing in `gateway/` changes.
"""

from pathlib import Path

from gateway import Service
from tests.gateway.extra_service.data import ReviewData
from tests.gateway.extra_service.extends import UserReviews
from tests.gateway.extra_service.resolvers import ReviewsMutation, ReviewsQuery
from tests.gateway.extra_service.types import Review

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

service = Service(
    name="reviews",
    query=ReviewsQuery,
    mutation=ReviewsMutation,
    types=[Review],
    loaders=[ReviewData],
    extends={"User": UserReviews},
)

__all__ = ["MIGRATIONS_DIR", "Review", "ReviewData", "service"]
