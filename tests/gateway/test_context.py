"""Context: loader sets built per request, batching and caching inside it, never across.

The first tests drive `Context` directly over managers on the shared pool; the last ones go
through the real app over HTTP, changing rows with a connection outside the app between
requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

import services
from gateway.app import create_app, migrate_services
from gateway.db import AsyncDatabaseManager, SharedPool, count_statements
from gateway.graphql.context import Context
from gateway.settings import PROJECT_ROOT
from services.orders import OrderData
from services.users import UserData
from tests.asgi import serve
from tests.tokens import app_settings

SELECT_USERS_BY_IDS = 'FROM "users".users WHERE id = ANY'


class UnregisteredLoaders:
    """A loader set no service lists in `Service(loaders=...)`."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self.db = db


@pytest.fixture
async def users_db(shared_pool: SharedPool, database_url: str) -> AsyncDatabaseManager:
    """The users service's manager, migrated, with users 1 (Ada) and 2 (Grace)."""
    db = AsyncDatabaseManager(pool=shared_pool, schema="users")
    settings = app_settings(database_url=database_url, migrations_dir=PROJECT_ROOT / "migrations")
    await migrate_services({"users": db}, settings)
    await db.execute(
        "INSERT INTO {{tables.users}} (email, name) "
        "VALUES ('ada@example.com', 'Ada'), ('grace@example.com', 'Grace')"
    )
    return db


def user_queries(queries: list[str]) -> list[str]:
    return [query for query in queries if SELECT_USERS_BY_IDS in query]


async def test_a_context_builds_each_loader_set_once(users_db: AsyncDatabaseManager) -> None:
    context = Context({UserData: users_db})

    assert context.loaders(UserData) is context.loaders(UserData)
    assert context.loaders(UserData) is not Context({UserData: users_db}).loaders(UserData)


async def test_by_id_loader_batches_the_ids_asked_together_into_one_statement(
    users_db: AsyncDatabaseManager,
) -> None:
    loaders = Context({UserData: users_db}).loaders(UserData)

    with count_statements() as recorder:
        users = await asyncio.gather(
            loaders.by_id.load(1), loaders.by_id.load(2), loaders.by_id.load(3)
        )
        await asyncio.sleep(0)  # asyncpg reports statements on the next loop iteration

    assert [user and user.name for user in users] == ["Ada", "Grace", None]
    assert len(user_queries(recorder.queries)) == 1


async def test_by_id_loader_caches_for_its_context_only(
    users_db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    first_request = Context({UserData: users_db})
    before = await first_request.loaders(UserData).by_id.load(1)
    await raw_connection.execute("UPDATE users.users SET name = 'Ada Lovelace' WHERE id = 1")

    with count_statements() as recorder:
        again = await first_request.loaders(UserData).by_id.load(1)
        await asyncio.sleep(0)
    second_request = await Context({UserData: users_db}).loaders(UserData).by_id.load(1)

    assert before is not None
    assert again is before
    assert recorder.queries == []
    assert second_request is not None
    assert second_request.name == "Ada Lovelace"


async def test_loaders_of_an_unregistered_class_raise_lookup_error_naming_it(
    users_db: AsyncDatabaseManager,
) -> None:
    context = Context({UserData: users_db})

    with pytest.raises(LookupError, match="UnregisteredLoaders is not registered by any service"):
        context.loaders(UnregisteredLoaders)
    with pytest.raises(LookupError, match="OrderData"):
        context.loaders(OrderData)


# --- through the app: one Context per HTTP request -------------------------------------------


@asynccontextmanager
async def gateway_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = app_settings(
        database_url=database_url,
        migrations_dir=PROJECT_ROOT / "migrations",
        min_connections=1,
        max_connections=4,
    )
    app = create_app(settings, services.SERVICES)
    async with serve(app) as client:
        yield client


async def post(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_each_request_sees_rows_changed_in_the_database_since_the_last(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    query = "{ one: user(id: 1) { name } two: user(id: 2) { name } }"
    async with gateway_client(database_url) as client:
        await raw_connection.execute(
            "INSERT INTO users.users (email, name) VALUES ('ada@example.com', 'Ada')"
        )
        first = await post(client, query)
        await raw_connection.execute("UPDATE users.users SET name = 'Ada Lovelace' WHERE id = 1")
        await raw_connection.execute(
            "INSERT INTO users.users (email, name) VALUES ('grace@example.com', 'Grace')"
        )
        second = await post(client, query)

    assert first == {"one": {"name": "Ada"}, "two": None}
    assert second == {"one": {"name": "Ada Lovelace"}, "two": {"name": "Grace"}}


async def test_one_request_loads_each_user_once_however_often_and_deep_it_is_asked(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    async with gateway_client(database_url) as client:
        await raw_connection.execute(
            "INSERT INTO users.users (email, name) "
            "VALUES ('ada@example.com', 'Ada'), ('grace@example.com', 'Grace')"
        )
        await raw_connection.execute("INSERT INTO orders.orders (user_id, total) VALUES (1, 0)")
        with count_statements() as recorder:
            # Users 1 and 2 are asked together (one batch); order 1's user (user 1 again)
            # is asked a level deeper, after that batch, and comes from the request's cache.
            data = await post(
                client,
                "{ a: user(id: 1) { name } b: user(id: 2) { name } c: user(id: 1) { email }"
                "  order(id: 1) { user { name } } }",
            )
            await asyncio.sleep(0)

    assert data == {
        "a": {"name": "Ada"},
        "b": {"name": "Grace"},
        "c": {"email": "ada@example.com"},
        "order": {"user": {"name": "Ada"}},
    }
    assert len(user_queries(recorder.queries)) == 1
