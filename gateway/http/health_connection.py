"""HealthConnection: one database connection for readiness probes, outside the query pool.

A probe that took a connection from the shared pool would wait behind the requests that
fill it, and report a busy server as unavailable: a load balancer would then take healthy
servers out exactly when load is high. Readiness uses this connection instead: opened on
the first probe, shared by probes one at a time, reopened after it breaks, closed with the
app. It counts as one connection against PostgreSQL's max_connections, beside the pool's
GATEWAY_POOL_MAX, under application_name `gateway-health`. Through a transaction pooler
(PgBouncer) it is one more client connection there, and sends only the startup parameters
the pooler forwards: a probe's statements need no session state.

    health = HealthConnection(settings.database_config())
    async with health.connection() as conn:
        await conn.fetchval("SELECT 1")
    await health.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from gateway.db import DatabaseConfig
from gateway.db.pool import through_pooler

__all__ = ["APPLICATION_NAME", "HealthConnection"]

APPLICATION_NAME = "gateway-health"


class HealthConnection:
    """The readiness probes' own connection to the database of `config`."""

    def __init__(self, config: DatabaseConfig) -> None:
        self._config = config
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """The connection, opened if need be, for this probe alone until the block ends.

        An error inside the block closes it (a broken connection is not reused); the next
        probe opens a new one. Bound the wait with asyncio.timeout around the block.
        """
        async with self._lock:
            if self._closed:
                raise RuntimeError("HealthConnection.connection() after close().")
            if self._connection is None or self._connection.is_closed():
                self._connection = await self._connect()
            try:
                yield self._connection
            except BaseException:
                # Also on cancellation (a probe's timeout): the statement may still run.
                self._connection.terminate()
                self._connection = None
                raise

    async def close(self) -> None:
        """Close the connection; probes after this are refused."""
        self._closed = True
        async with self._lock:
            if self._connection is not None:
                await self._connection.close(timeout=5)
                self._connection = None

    async def _connect(self) -> asyncpg.Connection:
        config = self._config
        settings = (
            config.get_pooler_server_settings()
            if await through_pooler(config)
            else config.get_server_settings()
        )
        server_settings = settings | {"application_name": APPLICATION_NAME}
        connection: asyncpg.Connection = await asyncpg.connect(
            config.get_dsn(),
            server_settings=server_settings,
            ssl=config.build_ssl_context(),
            timeout=config.connect_timeout,
            command_timeout=config.command_timeout,
            statement_cache_size=0,  # a handful of statements; nothing to gain
        )
        return connection
