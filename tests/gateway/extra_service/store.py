"""The reviews service's SQL, on its own schema only.

`SEARCH_BROKEN` is wrong on purpose (a syntax error), so tests can see that an unmapped
database error reaches a client masked, without its SQL. `COUNT_AFTER_PAUSE` and
`insert_review_slowly` hold a connection for as long as they are told (`pg_sleep`), for the
fault tests in tests/faults/.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from gateway.db import AsyncDatabaseManager
from tests.gateway.extra_service.types import Review

_COLUMNS = "id, user_id, sku, rating, body"

REVIEWS_BY_IDS = f"SELECT {_COLUMNS} FROM {{{{tables.reviews}}}} WHERE id = ANY($1::int[])"
REVIEWS_OF_USERS = (
    f"SELECT {_COLUMNS} FROM {{{{tables.reviews}}}} "
    "WHERE user_id = ANY($1::int[]) ORDER BY user_id, id"
)
INSERT_REVIEW = (
    f"INSERT INTO {{{{tables.reviews}}}} (user_id, sku, rating, body) "
    f"VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}"
)
SEARCH_BROKEN = "SELEC id FROM {{tables.reviews}} WHERE body LIKE $1"
# One statement that sleeps $1 seconds, then counts: the statement timeout covers both.
COUNT_AFTER_PAUSE = "SELECT (SELECT count(*) FROM {{tables.reviews}}) FROM pg_sleep($1)"
PAUSE = "SELECT pg_sleep($1)"


def _review(row: asyncpg.Record) -> Review:
    return Review(
        id=row["id"], user_id=row["user_id"], sku=row["sku"], rating=row["rating"], body=row["body"]
    )


async def reviews_by_ids(db: AsyncDatabaseManager, ids: Sequence[int]) -> list[Review]:
    return [_review(row) for row in await db.fetch_records(REVIEWS_BY_IDS, list(ids))]


async def reviews_of_users(db: AsyncDatabaseManager, user_ids: Sequence[int]) -> list[Review]:
    return [_review(row) for row in await db.fetch_records(REVIEWS_OF_USERS, list(user_ids))]


async def insert_review(
    db: AsyncDatabaseManager, user_id: int, sku: str, rating: int, body: str
) -> Review:
    # A duplicate (user, sku) or a rating outside 1..5 raises QueryError; the gateway maps it.
    rows = await db.fetch_records(INSERT_REVIEW, user_id, sku, rating, body)
    return _review(rows[0])


async def insert_review_slowly(
    db: AsyncDatabaseManager, user_id: int, sku: str, rating: int, body: str, seconds: float
) -> Review:
    """Insert, then sleep `seconds` before the transaction commits (the row is uncommitted
    meanwhile): work in flight for restart, shutdown and timeout tests."""
    async with db.transaction() as tx:
        rows = await tx.fetch_records(INSERT_REVIEW, user_id, sku, rating, body)
        await tx.execute(PAUSE, seconds)
    return _review(rows[0])


async def count_reviews_after_pause(db: AsyncDatabaseManager, seconds: float) -> int:
    count: int = await db.fetch_value(COUNT_AFTER_PAUSE, seconds)
    return count


async def search_broken(db: AsyncDatabaseManager, text: str) -> list[int]:
    return [row["id"] for row in await db.fetch_records(SEARCH_BROKEN, f"%{text}%")]
