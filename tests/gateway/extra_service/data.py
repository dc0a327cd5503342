"""The reviews service's data API: batched reads and writes, what others call."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from aiodataloader import DataLoader

from gateway import by_id_loader
from gateway.db import AsyncDatabaseManager
from services.users.types import User
from tests.gateway.extra_service import store
from tests.gateway.extra_service.types import Review


class ReviewData:
    """Reviews by id and by user (batched), and adding a review."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self._db = db
        self.by_id: DataLoader[int, Review | None] = by_id_loader(
            lambda ids: store.reviews_by_ids(db, ids)
        )

    async def of_users(self, users: Sequence[User]) -> list[list[Review]]:
        """Each user's reviews, ordered by id, in one statement."""
        grouped: dict[int, list[Review]] = defaultdict(list)
        for review in await store.reviews_of_users(self._db, [user.id for user in users]):
            grouped[review.user_id].append(review)
        return [grouped[user.id] for user in users]

    async def add(self, user_id: int, sku: str, rating: int, body: str) -> Review:
        review = await store.insert_review(self._db, user_id, sku, rating, body)
        self.by_id.prime(review.id, review)
        return review

    async def add_slowly(
        self, user_id: int, sku: str, rating: int, body: str, seconds: float
    ) -> Review:
        return await store.insert_review_slowly(self._db, user_id, sku, rating, body, seconds)

    async def count_slowly(self, seconds: float) -> int:
        return await store.count_reviews_after_pause(self._db, seconds)

    async def search_broken(self, text: str) -> list[int]:
        return await store.search_broken(self._db, text)
