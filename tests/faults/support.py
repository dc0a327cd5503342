"""What the fault and load tests check in responses and in the database."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

# Bits of SQL or of PostgreSQL's own messages: none may reach a client.
_LEAKS = re.compile(
    r"select\s|insert\s+into|pg_sleep|\bfrom\s+\"|sqlstate|canceling statement|"
    r"statement timeout|terminating connection|traceback|asyncpg",
    re.IGNORECASE,
)

# The gateway's pool connections to the current database, seen by PostgreSQL.
GATEWAY_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND application_name = 'gateway'"
)
# The gateway's statements still running pg_sleep.
SLEEPING_STATEMENTS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND application_name = 'gateway' "
    "AND state = 'active' AND query LIKE '%pg_sleep(%'"
)

WAIT_LIMIT = 30.0  # seconds: a bound so that a hang fails, never a performance check


def error_codes(body: dict[str, Any]) -> list[str]:
    """Each GraphQL error's extensions.code, in order."""
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or ()]


def assert_no_sql(text: str) -> None:
    """`text` (a response body) shows no SQL and no database or Python internals."""
    leak = _LEAKS.search(text)
    assert leak is None, f"the response shows {leak.group(0)!r}: {text}"


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, *, limit: float = WAIT_LIMIT
) -> None:
    """Poll `check` until it holds; fail saying `what` did not happen within `limit`."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {limit}s")
        await asyncio.sleep(0.05)


async def count(conn: asyncpg.Connection, query: str, *args: Any) -> int:
    value: int = await conn.fetchval(query, *args)
    return value
