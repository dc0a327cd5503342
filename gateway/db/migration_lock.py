"""The advisory locks a migration run takes, so that each file is applied exactly once.

Two keys: the gateway's own (one for every module: runs are short and rare, and one lock
also serialises creating tracking tables and schemas), and pgdbm's key for the module, so a
pgdbm process migrating the same module at the same moment waits for us and we for it.

The locks are transaction-level (`pg_advisory_xact_lock`): every transaction of a run that
reads the tracking table and writes to it, or applies a file, takes them first, and
PostgreSQL releases them at its COMMIT or ROLLBACK. Nothing outlives the transaction, so
they hold through a transaction pooler (PgBouncer's pool_mode = transaction), which may run
each transaction on another server connection, where a session lock would stay behind on a
connection other clients then get. Between two transactions of a run another run may take
its turn: the run re-reads the tracking table under the lock before each file
(gateway.db.migrations). A transaction lock and pgdbm's session lock on its key conflict,
so each waits for the other. Only a no-transaction file, which runs over a direct
connection (refused through a pooler), holds session locks: `session_migration_lock`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

__all__ = ["GATEWAY_LOCK_KEY", "migration_transaction", "session_migration_lock"]

logger = logging.getLogger("gateway.db.migrations")

GATEWAY_LOCK_KEY = 0x6761_7465  # "gate"
_WAIT_ROUND_S = 30  # log again this often while waiting for another run's migrations
# pgdbm's key for a module: hashtext('pgdbm_migration_' || module_name).
_PGDBM_KEY = "hashtext('pgdbm_migration_' || $1)::bigint"
_HOLDERS = (
    "SELECT string_agg(pid::text, ', ') FROM pg_locks WHERE locktype = 'advisory' "
    "AND granted AND ((classid::bigint << 32) | objid::bigint) = $1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@asynccontextmanager
async def migration_transaction(conn: asyncpg.Connection, module_name: str) -> AsyncIterator[None]:
    """A transaction on `conn` holding both migration locks from its start to its end.

    Usage: `async with migration_transaction(conn, "orders"): ...` (commits at the end,
    rolls back on an exception; the locks go with it either way).
    """
    async with conn.transaction():
        pgdbm_key: int = await conn.fetchval(f"SELECT {_PGDBM_KEY}", module_name)
        await _take(conn, GATEWAY_LOCK_KEY, module_name)
        await _take(conn, pgdbm_key, module_name)
        yield


@asynccontextmanager
async def session_migration_lock(conn: asyncpg.Connection, module_name: str) -> AsyncIterator[None]:
    """Both locks on `conn`'s session for the block, for a file that runs outside a
    transaction (a direct connection only: gateway.db.migrations refuses it otherwise)."""
    pgdbm_key: int = await conn.fetchval(f"SELECT {_PGDBM_KEY}", module_name)
    await _take_for_session(conn, GATEWAY_LOCK_KEY, module_name)
    try:
        await _take_for_session(conn, pgdbm_key, module_name)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", pgdbm_key)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", GATEWAY_LOCK_KEY)


async def _take(conn: asyncpg.Connection, key: int, module_name: str) -> None:
    """Take `key` for the rest of the transaction, waiting as long as another run holds it.

    The pool's lock_timeout, statement_timeout and command_timeout are meant for queries,
    not for waiting on another process's migrations: with them the second of two deploys
    starting together would fail once the first's migrations took a few seconds. The wait
    runs without them (set for this transaction only), in rounds that log who holds the
    lock, each in a savepoint so that a round running out leaves the transaction usable;
    the pool's values are back in force for the migration statements.
    """
    if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", key):
        return
    saved = await conn.fetchrow(
        "SELECT current_setting('lock_timeout') AS lock_timeout, "
        "current_setting('statement_timeout') AS statement_timeout"
    )
    assert saved is not None
    await conn.execute(
        "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', '0', true)",
        f"{_WAIT_ROUND_S}s",
    )
    while True:
        await _log_holders(conn, key, module_name)
        try:
            # A lock taken in a savepoint passes to the transaction when the savepoint ends.
            async with conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1)", key, timeout=_WAIT_ROUND_S + 30
                )
            break
        except asyncpg.LockNotAvailableError:
            continue
    await conn.execute(
        "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
        saved["lock_timeout"],
        saved["statement_timeout"],
    )


async def _take_for_session(conn: asyncpg.Connection, key: int, module_name: str) -> None:
    """`_take` for a session lock (outside a transaction): the timeouts are changed for the
    session while waiting, and its own values restored."""
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
            await _log_holders(conn, key, module_name)
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


async def _log_holders(conn: asyncpg.Connection, key: int, module_name: str) -> None:
    holder = await conn.fetchval(_HOLDERS, key)
    logger.info(
        "%s: waiting for the migration lock, held by backend %s",
        module_name,
        holder or "(just released)",
    )
