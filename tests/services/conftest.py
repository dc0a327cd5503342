"""The real gateway app over this test's database, and a helper to query it.

`client` runs the app's lifespan (one pool, every service's migrations) and talks to it
through httpx's ASGI transport, in the test's own task: `count_statements()` in a test sees
the statements its requests send.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import services
from gateway.app import create_app
from services.demo import load_demo_data
from tests.asgi import serve
from tests.services import GraphQL
from tests.services.shop import Shop
from tests.tokens import app_settings


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """This test's fresh database, the demo services' migrations applied once per run."""
    return migrated_database_url


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the started app (migrations applied, pool open)."""
    app = create_app(
        app_settings(database_url=database_url, min_connections=1, max_connections=5),
        services.SERVICES,
    )
    async with serve(app) as client:
        yield client


@pytest.fixture
async def shop(migrated_database_url: str) -> AsyncIterator[Shop]:
    """The app on the demo data, asked anonymously unless a call names a token."""
    app = create_app(
        app_settings(database_url=migrated_database_url, min_connections=1, max_connections=5),
        services.SERVICES,
        on_startup=load_demo_data,
    )
    async with serve(app, token=None) as client:
        yield Shop(client)


@pytest.fixture
def graphql(client: httpx.AsyncClient) -> GraphQL:
    """`await graphql(query, **variables)`: POST to /graphql, return the JSON body.

    The request is ASCII JSON (`\\uXXXX` escapes), so a test can send any string a client
    can, unpaired surrogates included. GraphQL answers errors with status 200 too; any other
    status fails the test.
    """

    return poster(client)


def poster(client: httpx.AsyncClient) -> GraphQL:
    """The `graphql` fixture's function over any client (see that fixture)."""

    async def post(query: str, **variables: Any) -> dict[str, Any]:
        response = await client.post(
            "/graphql",
            content=json.dumps({"query": query, "variables": variables}),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return post
