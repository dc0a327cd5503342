"""The users service through the gateway: accounts, lookups and cursor pagination."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import httpx
import pytest

from tests.services import (
    INJECTION_ATTEMPTS,
    SERVICE_TABLES,
    GraphQL,
    error_codes,
    service_tables,
)

CREATE_USER = """
mutation ($email: String!, $name: String!) {
  createUser(input: {email: $email, name: $name}) { id email name createdAt }
}
"""
USER = "query ($id: Int!) { user(id: $id) { id email name } }"
USERS = """
query ($first: Int, $after: String) {
  users(first: $first, after: $after) {
    nodes { id email }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def create_user(graphql: GraphQL, email: str, name: str = "Someone") -> dict[str, Any]:
    body = await graphql(CREATE_USER, email=email, name=name)
    assert "errors" not in body, body
    user: dict[str, Any] = body["data"]["createUser"]
    return user


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def test_create_user_stores_a_row_in_the_users_schema(
    graphql: GraphQL, raw_connection: asyncpg.Connection
) -> None:
    user = await create_user(graphql, "  Ada@Example.COM ", "  Ada Lovelace ")

    assert user["email"] == "ada@example.com"
    assert user["name"] == "Ada Lovelace"
    row = await raw_connection.fetchrow("SELECT id, email, name FROM users.users")
    assert row is not None
    assert dict(row) == {"id": user["id"], "email": "ada@example.com", "name": "Ada Lovelace"}


async def test_an_email_used_in_another_case_is_a_conflict_without_sql_in_the_answer(
    graphql: GraphQL, client: httpx.AsyncClient, raw_connection: asyncpg.Connection
) -> None:
    await create_user(graphql, "grace@example.com", "Grace Hopper")

    response = await client.post(
        "/graphql",
        json={
            "query": CREATE_USER,
            "variables": {"email": "GRACE@Example.com", "name": "Impostor"},
        },
    )

    body = response.json()
    assert error_codes(body) == ["CONFLICT"]
    assert body["data"] is None
    text = response.text.lower()
    for leak in ("users_email_unique", "insert", "select", "sqlstate", "duplicate key", '"users"'):
        assert leak not in text
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 1


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "not-an-email",
        "a@b",
        "two@at@example.com",
        "sp ace@example.com",
        f"{'x' * 250}@example.com",
    ],
)
async def test_an_invalid_email_is_bad_user_input_and_writes_nothing(
    graphql: GraphQL, raw_connection: asyncpg.Connection, email: str
) -> None:
    body = await graphql(CREATE_USER, email=email, name="Someone")

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_an_invalid_name_is_bad_user_input_and_writes_nothing(
    graphql: GraphQL, raw_connection: asyncpg.Connection, name: str
) -> None:
    body = await graphql(CREATE_USER, email="someone@example.com", name=name)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 0


async def test_user_by_id_returns_the_user_and_null_for_an_unknown_id(graphql: GraphQL) -> None:
    user = await create_user(graphql, "alan@example.com", "Alan Turing")

    found = await graphql(USER, id=user["id"])
    missing = await graphql(USER, id=user["id"] + 1000)

    assert found == {
        "data": {"user": {"id": user["id"], "email": "alan@example.com", "name": "Alan Turing"}}
    }
    assert missing == {"data": {"user": None}}


async def test_users_pages_walk_through_every_user_in_id_order(graphql: GraphQL) -> None:
    created = [(await create_user(graphql, f"user{n}@example.com"))["id"] for n in range(7)]

    pages: list[list[int]] = []
    has_next: list[bool] = []
    after = None
    while True:
        body = await graphql(USERS, first=3, after=after)
        assert "errors" not in body, body
        connection = body["data"]["users"]
        pages.append([node["id"] for node in connection["nodes"]])
        has_next.append(connection["pageInfo"]["hasNextPage"])
        after = connection["pageInfo"]["endCursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break

    assert pages == [created[0:3], created[3:6], created[6:7]]
    assert has_next == [True, True, False]


async def test_an_empty_users_list_has_no_next_page_and_no_cursor(graphql: GraphQL) -> None:
    body = await graphql(USERS, first=10)

    assert body == {
        "data": {"users": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    }


async def test_a_page_of_exactly_the_maximum_size_is_allowed(graphql: GraphQL) -> None:
    body = await graphql(USERS, first=100)

    assert "errors" not in body


@pytest.mark.parametrize("first", [101, 250, -1])
async def test_first_outside_zero_to_one_hundred_is_bad_user_input(
    graphql: GraphQL, first: int
) -> None:
    body = await graphql(USERS, first=first)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] == {"users": None}


@pytest.mark.parametrize(
    "after",
    [
        "garbage",
        "",
        "!!!",
        "%%%%",
        cursor_of("cursor:abc"),
        cursor_of("other:1"),
        cursor_of("cursor:"),
        cursor_of("cursor:99999999999999999999"),
        cursor_of("cursor:1 OR 1=1"),
        "\x00",
    ],
)
async def test_an_after_value_that_is_not_a_returned_cursor_is_bad_user_input(
    graphql: GraphQL, after: str
) -> None:
    await create_user(graphql, "someone@example.com")

    body = await graphql(USERS, first=5, after=after)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] == {"users": None}


@pytest.mark.parametrize(
    ("email", "name"),
    [
        pytest.param("nul\x00byte@example.com", "Someone", id="nul-in-email"),
        pytest.param("half\ud800pair@example.com", "Someone", id="surrogate-in-email"),
        pytest.param("someone@example.com", "Nul\x00Byte", id="nul-in-name"),
        pytest.param("someone@example.com", "Half \udfff pair", id="surrogate-in-name"),
    ],
)
async def test_text_postgresql_cannot_store_is_bad_user_input(
    graphql: GraphQL, raw_connection: asyncpg.Connection, email: str, name: str
) -> None:
    body = await graphql(CREATE_USER, email=email, name=name)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 0


@pytest.mark.parametrize("attempt", INJECTION_ATTEMPTS)
async def test_sql_in_a_name_is_stored_verbatim(
    graphql: GraphQL, raw_connection: asyncpg.Connection, attempt: str
) -> None:
    user = await create_user(graphql, "mallory@example.com", attempt)

    assert user["name"] == attempt
    assert await raw_connection.fetchval("SELECT name FROM users.users") == attempt
    assert await service_tables(raw_connection) == SERVICE_TABLES


@pytest.mark.parametrize(
    "attempt",
    [*INJECTION_ATTEMPTS, "x');DROP/**/TABLE/**/users.users;--@evil.example"],
)
async def test_sql_in_an_email_is_refused_or_stored_verbatim(
    graphql: GraphQL, raw_connection: asyncpg.Connection, attempt: str
) -> None:
    body = await graphql(CREATE_USER, email=attempt, name="Mallory")

    stored = await raw_connection.fetchval("SELECT array_agg(email) FROM users.users")
    if "errors" in body:
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert stored is None
    else:
        assert stored == [attempt.lower()]
    assert await service_tables(raw_connection) == SERVICE_TABLES


@pytest.mark.parametrize("attempt", INJECTION_ATTEMPTS)
async def test_sql_in_an_after_cursor_is_bad_user_input(
    graphql: GraphQL, raw_connection: asyncpg.Connection, attempt: str
) -> None:
    await create_user(graphql, "someone@example.com")

    for after in (attempt, cursor_of(attempt), cursor_of(f"cursor:{attempt}")):
        body = await graphql(USERS, after=after)
        assert error_codes(body) == ["BAD_USER_INPUT"]

    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 1
    assert await service_tables(raw_connection) == SERVICE_TABLES
