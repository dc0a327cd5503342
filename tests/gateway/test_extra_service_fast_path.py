"""The test-only reviews service's list field (User.reviews) takes the fast path: a batch
field, called once per level on the planned executor, one statement for every user's
reviews, with no per-user resolver call and no fallback to graphql-core."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gateway.db import count_statements
from gateway.execution.executor import FALLBACKS
from gateway.graphql.batch_field import PER_PARENT_CALLS
from tests.asgi import serve
from tests.gateway.serving import app_for, migrations_with_reviews
from tests.services import is_asyncpg_introspection

USERS_WITH_REVIEWS = "{ users(first: 10) { nodes { name reviews { sku rating } } } }"


async def _post(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def test_a_level_of_reviews_is_one_call_and_one_statement_without_fallback(
    database_url: str, raw_connection: asyncpg.Connection, tmp_path: Path
) -> None:
    app = app_for(database_url, with_reviews=True, migrations_dir=migrations_with_reviews(tmp_path))
    async with serve(app) as client:
        await raw_connection.execute(
            "INSERT INTO users.users (email, name) VALUES ('a@example.com', 'A'), "
            "('b@example.com', 'B'), ('c@example.com', 'C')"
        )
        await raw_connection.execute(
            "INSERT INTO reviews.reviews (user_id, sku, rating, body) "
            "SELECT u.id, 'SKU' || n, n, 'ok' FROM users.users u "
            "CROSS JOIN generate_series(1, 2) n WHERE u.name <> 'C' ORDER BY u.id, n"
        )
        fallbacks, per_parent = Counter(FALLBACKS), Counter(PER_PARENT_CALLS)
        with count_statements() as recorder:
            body = await _post(client, USERS_WITH_REVIEWS)
            await asyncio.sleep(0)  # asyncpg reports a statement on the next loop iteration
        planned_fallbacks = Counter(FALLBACKS) - fallbacks
        planned_per_parent = Counter(PER_PARENT_CALLS) - per_parent
        # graphql-core's path (introspection falls back) answers alike, resolving the field
        # per user, each call gathered by the batch field's dataloader into one batch call.
        introspected = await _post(
            client, USERS_WITH_REVIEWS[:-1] + " __schema { queryType { name } } }"
        )
        fallback_per_parent = Counter(PER_PARENT_CALLS) - per_parent - planned_per_parent

    two_reviews = [{"sku": "SKU1", "rating": 1}, {"sku": "SKU2", "rating": 2}]
    assert body["data"]["users"]["nodes"] == [
        {"name": "A", "reviews": two_reviews},
        {"name": "B", "reviews": two_reviews},
        {"name": "C", "reviews": []},
    ]
    assert introspected["data"]["users"] == body["data"]["users"]
    statements = [q for q in recorder.queries if not is_asyncpg_introspection(q)]
    assert [q for q in statements if "reviews" in q] == [statements[-1]]  # one, for 3 users
    assert len(statements) == 2  # users, then every user's reviews
    assert planned_fallbacks == Counter()
    assert planned_per_parent == Counter()  # one call for the level, no per-user resolver
    assert sum(fallback_per_parent.values()) == 3  # a batch field: its one-parent path
