"""Settling a transaction whose COMMIT was sent but never answered.

When the connection dies during COMMIT, `db.transaction()` raises `CommitOutcomeUnknown`:
PostgreSQL may have committed (and the client never heard) or not. Answering "failed" could
invite a retry that acts twice; answering "done" could confirm what was lost. The way out
is a key the transaction wrote with its row (an idempotency key, the client's or one made
up for the write) and two facts about PostgreSQL:

- a backend reports itself `idle` (no transaction open) only after its transaction has
  ended, committed or rolled back, and it ends it before it exits: once the backend that
  ran the transaction is idle or gone from `pg_stat_activity`, the outcome is final;
- a statement started after that sees the row if, and only if, it committed.

Through a transaction pooler (PgBouncer) the client never learns its server backend's pid
(the pooler hands out a cancel key of its own): there every transaction that was open when
the wait began must end, the lost one among them, before the answer is final.

Usage, in a service's write:

    try:
        async with db.transaction() as tx:
            ...  # writes a row carrying `key`
    except CommitOutcomeUnknown as unknown:
        stored = await settle_commit(db, unknown, lambda: store.payment_by_key(db, key))
        if stored is None:
            ...  # it did not commit: answer the failure
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from gateway.db.errors import AsyncDBError, CommitOutcomeUnknown

if TYPE_CHECKING:
    from gateway.db.manager import AsyncDatabaseManager

__all__ = ["settle_commit"]

T = TypeVar("T")

# A state we may not see (NULL: another role's backend) counts as busy: wait, never guess.
# The backend asking may be the one that ran the transaction (its connection survived and
# went back to the pool): then the transaction is over, whatever its own row says.
_BACKEND_BUSY = (
    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
    "WHERE pid = $1 AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle')"
)
# Behind a pooler: any client backend whose transaction began before $1 (the first look).
_OLDER_TRANSACTION_OPEN = (
    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
    "AND (state IS NULL OR (state <> 'idle' AND xact_start <= $1)))"
)
_POLL_INTERVAL = 0.05  # seconds between looks at pg_stat_activity


async def settle_commit(
    db: AsyncDatabaseManager,
    unknown: CommitOutcomeUnknown,
    lookup: Callable[[], Awaitable[T | None]],
    *,
    wait: float = 2.0,
) -> T | None:
    """What the transaction of `unknown` wrote, if it committed; None if it did not.

    Waits up to `wait` seconds, on fresh pooled connections of `db`, until the backend that
    ran the transaction is idle or gone (behind a pooler: until every transaction open at
    the first look has ended), then calls `lookup` (a read, outside any
    transaction, of the row by the key the transaction wrote). Raises `unknown` again when
    the outcome still cannot be told: the backend stays busy past `wait` (a network
    partition, say, or its pid reused after a restart), or the database cannot be reached.
    """
    pooled = getattr(db.pool, "through_pooler", False)
    if unknown.server_pid is None and not pooled:
        raise unknown
    deadline = time.monotonic() + wait
    try:
        if pooled:
            began = await db.fetch_value("SELECT statement_timestamp()")
            query, argument = _OLDER_TRANSACTION_OPEN, began
        else:
            query, argument = _BACKEND_BUSY, unknown.server_pid
        while await db.fetch_value(query, argument):
            if time.monotonic() >= deadline:
                raise unknown
            await asyncio.sleep(_POLL_INTERVAL)
        # A statement of its own: its snapshot is taken after the backend was seen gone.
        return await lookup()
    except AsyncDBError as error:
        if error is unknown:
            raise
        raise unknown from error
