"""Releasing query connections without waiting for asyncpg's reset, inside a block.

asyncpg resets a connection (a round trip: `RESET ALL` and friends) before handing it back
to its pool, and `release()` waits for that. A query method's caller has nothing to wait
for: inside `releasing_in_background()` its connection is released by a task of its own,
so a nested GraphQL query's next level starts one round trip sooner. The block waits for
every such release as it exits, so outside it (and for code that never opens one) a query's
connection is back in the pool when the query returns, as with pgdbm.

Usage (the gateway's router, around each request): `async with releasing_in_background(): ...`
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg

__all__ = ["release", "releasing_in_background"]

logger = logging.getLogger("gateway.db")

_pending: ContextVar[list[asyncio.Task[None]] | None] = ContextVar(
    "gateway_pending_releases", default=None
)


@asynccontextmanager
async def releasing_in_background() -> AsyncIterator[None]:
    """Inside: connections are released in the background. On exit: all of them are back."""
    pending: list[asyncio.Task[None]] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
        if pending:
            await asyncio.wait(pending)


async def release(pool: asyncpg.Pool, connection: Any) -> None:
    """Release `connection` to `pool`: now, or in the background inside the block above."""
    pending = _pending.get()
    if pending is None:
        await pool.release(connection)
    else:
        pending.append(asyncio.get_running_loop().create_task(_release_logged(pool, connection)))


async def _release_logged(pool: asyncpg.Pool, connection: Any) -> None:
    try:
        await pool.release(connection)
    except Exception:  # asyncpg has closed the connection already; nobody awaits this task
        logger.warning("Releasing a connection to the pool failed", exc_info=True)
