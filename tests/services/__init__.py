"""Tests of the users, orders and payments services through the real gateway app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from gateway.db import count_statements

GraphQL = Callable[..., Awaitable[dict[str, Any]]]
"""The `graphql` fixture: `await graphql(query, **variables)` gives the response body."""


def is_asyncpg_introspection(query: str) -> bool:
    """Whether `query` is asyncpg's type lookup, run the first time a connection meets a
    parameter type (`int[]`): a per-connection cache fill, not the request's work."""
    # a recursive CTE over pg_type, wrapped in turning JIT off and on
    return "typeinfo_tree" in query or "set_config('jit'" in query


async def counted(graphql: GraphQL, query: str, **variables: Any) -> tuple[Any, list[str]]:
    """The query's data, and the statements the gateway sent for it (introspection aside)."""
    with count_statements() as recorder:
        body = await graphql(query, **variables)
        await asyncio.sleep(0)  # asyncpg reports a statement on the next loop iteration
    assert "errors" not in body, body
    return body["data"], [q for q in recorder.queries if not is_asyncpg_introspection(q)]


def error_codes(body: dict[str, Any]) -> list[str]:
    """The `extensions.code` of every error in a GraphQL response body."""
    return [error["extensions"]["code"] for error in body.get("errors", [])]


# Strings a client might send hoping they end up inside SQL text.
INJECTION_ATTEMPTS = [
    "x'); DROP TABLE users.users; --",
    '"; DROP SCHEMA orders CASCADE; --',
    "' OR '1'='1",
    "1; DELETE FROM payments.payments",
    "Robert'); DROP TABLE orders.line_items;--",
    "$$; DROP SCHEMA payments CASCADE; $$",
    "{{tables.users}}; TRUNCATE {{tables.orders}}",
    "\\'; DROP TABLE users.users; --",
]

SERVICE_TABLES = {
    ("users", "users"),
    ("orders", "orders"),
    ("orders", "line_items"),
    ("payments", "payments"),
    # each schema's migration records: an injection must not reach them either
    ("users", "schema_migrations"),
    ("orders", "schema_migrations"),
    ("payments", "schema_migrations"),
}


async def service_tables(conn: asyncpg.Connection) -> set[tuple[str, str]]:
    """The (schema, table) pairs of the three services that exist in the database."""
    rows = await conn.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('users', 'orders', 'payments') AND table_type = 'BASE TABLE'"
    )
    return {(row["table_schema"], row["table_name"]) for row in rows}
