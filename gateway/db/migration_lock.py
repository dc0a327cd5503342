"""The advisory locks a migration run holds, so that each file is applied exactly once.

Two keys: the gateway's own (one for every module: runs are short and rare, and one lock
also serialises creating tracking tables and schemas), and pgdbm's key for the module, so a
pgdbm process migrating the same module at the same moment waits for us and we for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

__all__ = ["migration_lock"]

logger = logging.getLogger("gateway.db.migrations")

GATEWAY_LOCK_KEY = 0x6761_7465  # "gate"
_WAIT_ROUND_S = 30  # log again this often while waiting for another run's migrations
# pgdbm's key for a module: hashtext('pgdbm_migration_' || module_name).
_PGDBM_KEY = "hashtext('pgdbm_migration_' || $1)::bigint"


@asynccontextmanager
async def migration_lock(conn: asyncpg.Connection, module_name: str) -> AsyncIterator[None]:
    """Hold both migration locks on `conn` for the block (session-level, released after)."""
    pgdbm_key: int = await conn.fetchval(f"SELECT {_PGDBM_KEY}", module_name)
    await _take(conn, GATEWAY_LOCK_KEY, module_name)
    try:
        await _take(conn, pgdbm_key, module_name)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", pgdbm_key)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", GATEWAY_LOCK_KEY)


async def _take(conn: asyncpg.Connection, key: int, module_name: str) -> None:
    """Take `key`, waiting as long as another run holds it.

    The pool's lock_timeout, statement_timeout and command_timeout are meant for queries,
    not for waiting on another process's migrations: with them the second of two deploys
    starting together would fail once the first's migrations took a few seconds. The wait
    runs without them, in rounds that log who holds the lock; the session's own values are
    restored for the migration statements.
    """
    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
        return
    saved = await conn.fetchrow(
        "SELECT current_setting('lock_timeout') AS lock_timeout, "
        "current_setting('statement_timeout') AS statement_timeout"
    )
    assert saved is not None
    await conn.execute(
        "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false)",
        f"{_WAIT_ROUND_S}s",
    )
    try:
        while True:
            holder = await conn.fetchval(
                "SELECT string_agg(pid::text, ', ') FROM pg_locks WHERE locktype = "
                "'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                key,
            )
            logger.info(
                "%s: waiting for the migration lock, held by backend %s",
                module_name,
                holder or "(just released)",
            )
            try:
                await conn.execute("SELECT pg_advisory_lock($1)", key, timeout=_WAIT_ROUND_S + 30)
                return
            except asyncpg.LockNotAvailableError:
                continue
    finally:
        await conn.execute(
            "SELECT set_config('lock_timeout', $1, false), "
            "set_config('statement_timeout', $2, false)",
            saved["lock_timeout"],
            saved["statement_timeout"],
        )
