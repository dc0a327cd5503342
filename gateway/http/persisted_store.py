"""The APQ documents every gateway process shares: a bounded table in schema `gateway`.

Each process keeps its own LRU of registered documents (gateway.http.persisted); this table
is what a process asks when a hash is not in its LRU, so a document registered through one
worker runs by its hash alone on every other worker and after a restart.

    store = SharedDocuments(AsyncDatabaseManager(pool=pool, schema=GATEWAY_SCHEMA), max_bytes=...)
    await migrate_gateway_schema(pool)            # once at startup: creates the table
    await store.put(sha, document); await store.get(sha)

It is a cache, never the source of truth: a failing database makes `get` answer None (the
client sends the document again, as APQ clients do) and `put` keep the document local only;
neither fails the request. The table is held to `max_bytes` of documents, the least recently
used dropped first, trimmed at most once per `trim_interval` seconds per process: a flood of
registrations costs one trim per interval, not one table scan per request, and may exceed
the bound by what it registered within one interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from gateway.db import AsyncDatabaseManager, AsyncMigrationManager

__all__ = ["GATEWAY_SCHEMA", "SharedDocuments", "migrate_gateway_schema"]

logger = logging.getLogger("gateway.persisted")

# The schema the gateway itself owns; no service may take its name (gateway.app checks).
GATEWAY_SCHEMA = "gateway"
_MIGRATIONS = Path(__file__).resolve().parent / "persisted_migrations"
_MODULE = "gateway"


async def migrate_gateway_schema(pool: Any) -> None:
    """Create (or bring up to date) the gateway's own tables in schema `gateway`."""
    db = AsyncDatabaseManager(pool=pool, schema=GATEWAY_SCHEMA)
    await AsyncMigrationManager(db, _MIGRATIONS, module_name=_MODULE).apply_pending_migrations()


class SharedDocuments:
    """The `persisted_documents` table: get and put documents by SHA-256, bounded in bytes."""

    def __init__(
        self, db: AsyncDatabaseManager, *, max_bytes: int, trim_interval: float = 1.0
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("SharedDocuments needs a positive max_bytes.")
        self._db = db
        self.max_bytes = max_bytes
        self._trim_interval = trim_interval
        self._last_trim = float("-inf")
        self._trim_lock = asyncio.Lock()

    async def get(self, sha: str) -> str | None:
        """The document registered under `sha`, marked as used; None if there is none (or the
        database cannot answer now)."""
        try:
            document: str | None = await self._db.fetch_value(
                "UPDATE {{tables.persisted_documents}} SET last_used = now() "
                "WHERE sha256 = $1 RETURNING document",
                sha,
            )
        except Exception as error:  # a cache miss, not a failed request
            logger.warning("shared persisted documents unavailable (lookup): %s", _kind(error))
            return None
        return document

    async def put(self, sha: str, document: str) -> None:
        """Keep `document` under `sha` (its hash, already checked), then trim when due."""
        try:
            await self._db.execute(
                "INSERT INTO {{tables.persisted_documents}} (sha256, document, bytes) "
                "VALUES ($1, $2, octet_length($2)) "
                "ON CONFLICT (sha256) DO UPDATE SET last_used = now()",
                sha,
                document,
            )
            if time.monotonic() - self._last_trim >= self._trim_interval:
                await self.trim()
        except Exception as error:  # kept in this process's LRU all the same
            logger.warning("shared persisted documents unavailable (register): %s", _kind(error))

    async def trim(self) -> int:
        """Drop the least recently used documents past `max_bytes`; returns how many."""
        async with self._trim_lock:
            self._last_trim = time.monotonic()
            status = await self._db.execute(
                "DELETE FROM {{tables.persisted_documents}} WHERE sha256 IN ("
                " SELECT sha256 FROM ("
                "  SELECT sha256, sum(bytes) OVER (ORDER BY last_used DESC, sha256) AS kept"
                "  FROM {{tables.persisted_documents}}) AS ranked"
                " WHERE kept > $1)",
                self.max_bytes,
            )
        return int(status.rsplit(" ", 1)[-1])

    async def total_bytes(self) -> int:
        """The bytes of documents the table holds now."""
        total: int = await self._db.fetch_value(
            "SELECT coalesce(sum(bytes), 0) FROM {{tables.persisted_documents}}"
        )
        return total


def _kind(error: Exception) -> str:
    # Classes only (ours and the driver's beneath it): a message may quote the document or SQL.
    cause = error.__cause__
    return type(error).__name__ + (f" ({type(cause).__name__})" if cause is not None else "")
