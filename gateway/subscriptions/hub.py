"""EventHub: ONE listening connection per process, fanned out to subscribers in memory.

    hub = EventHub(config)                # opened by the app's lifespan
    await hub.start()
    async with hub.subscribe("orders", lambda ids: ids["order_id"] == 7) as events:
        while (event := await events.next()) is not None: ...
    await hub.close()                     # every subscriber's stream ends

The connection is opened outside the query pool (it is held for the process's life, so it
must not take a pool slot) and LISTENs on each channel that has a subscriber. When it is
lost (a database restart, a network cut) the hub reconnects with backoff and tells every
subscriber that events may have been missed; a keepalive query finds a silent loss.

LISTEN needs a session: through a transaction pooler (PgBouncer's pool_mode = transaction)
the registration stays on a server connection that then serves others, and notifications
are dropped there. So the hub connects to `config.listen_connection_string`
(GATEWAY_LISTEN_DATABASE_URL, a direct URL) when set, and refuses to start when it is not
and the database URL goes through such a pooler.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
import orjson

from gateway.db.config import DatabaseConfig
from gateway.db.errors import ConfigurationError
from gateway.db.identifiers import validate_identifier
from gateway.db.pool import through_pooler
from gateway.subscriptions.events import MAX_PAYLOAD_BYTES, Event
from gateway.subscriptions.subscriber import Subscriber

__all__ = ["APPLICATION_NAME", "EventHub"]

logger = logging.getLogger("gateway.subscriptions")

APPLICATION_NAME = "gateway-events"  # how pg_stat_activity shows the listener
KEEPALIVE_S = 10.0  # a lost connection that raised nothing is found within about this
_RECONNECT_FIRST_S = 0.2
_RECONNECT_MAX_S = 5.0


class EventHub:
    """Subscribers by channel, fed by one LISTEN connection."""

    def __init__(self, config: DatabaseConfig, *, queue_limit: int = 100) -> None:
        self._config = config
        self.queue_limit = queue_limit
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)
        self._listening: set[str] = set()
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._closed = False
        self._idle = asyncio.Event()  # set whenever no subscriber is left
        self.reconnections = 0
        self.received = 0  # notifications heard
        self.dropped = 0  # events dropped from slow subscribers' queues

    async def start(self) -> None:
        """Open the listening connection (the app's startup); ConfigurationError when it
        would go through a transaction pooler."""
        if self._config.listen_connection_string is None and await through_pooler(self._config):
            raise ConfigurationError(
                "Subscriptions need a LISTEN connection of their own, and the database URL "
                "goes through a transaction pooler, where LISTEN hears nothing: set "
                "GATEWAY_LISTEN_DATABASE_URL to a direct URL of the same database.",
                "listen_connection_string",
            )
        self._conn = await self._connect()
        # A listen URL through a pooler by mistake ("none" says a session pooler is fine).
        if (
            self._config.listen_connection_string is not None
            and self._config.pooler != "none"
            and await self._conn.fetchval("SELECT pg_backend_pid()") != self._conn.get_server_pid()
        ):
            await self._conn.close()
            self._conn = None
            raise ConfigurationError(
                "GATEWAY_LISTEN_DATABASE_URL reaches the database through a connection pooler "
                "(its backend pid is the pooler's): give it a direct URL, where LISTEN holds.",
                "listen_connection_string",
            )
        self._keepalive = asyncio.create_task(self._keep_alive(), name="event hub keepalive")

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    @asynccontextmanager
    async def subscribe(
        self, channel: str, wanted: Callable[[dict[str, Any]], bool] = lambda ids: True
    ) -> AsyncIterator[Subscriber]:
        """A Subscriber to `channel`'s events that pass `wanted`, for the block's length."""
        validate_identifier(channel, kind="channel")
        if self._closed:
            raise RuntimeError("The event hub is closed: the server is shutting down.")
        subscriber = Subscriber(channel, wanted, self.queue_limit, on_drop=self._count_drop)
        self._subscribers[channel].add(subscriber)
        try:
            await self._listen(channel)
            yield subscriber
        finally:
            self._subscribers[channel].discard(subscriber)
            if not self.subscriber_count:
                self._idle.set()

    def _count_drop(self) -> None:
        self.dropped += 1

    async def close(self, *, wait_s: float = 0.0) -> None:
        """End every subscriber's stream and close the connection (the app's shutdown);
        with `wait_s`, first wait up to that long for the streams to end (their
        subscriptions complete while the WebSockets are still open)."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.close()
        if wait_s and self.subscriber_count:
            self._idle.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._idle.wait()
        for task in (self._keepalive, self._reconnecting):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with suppress(Exception):
                await conn.close(timeout=5)

    async def _connect(self) -> asyncpg.Connection:
        config = self._config
        conn: asyncpg.Connection = await asyncpg.connect(
            config.listen_connection_string or config.get_dsn(),
            server_settings={**config.get_server_settings(), "application_name": APPLICATION_NAME},
            ssl=config.build_ssl_context(),
            timeout=config.connect_timeout,
        )
        conn.add_termination_listener(self._lost)
        for channel in self._listening:
            await conn.add_listener(channel, self._received)
        return conn

    async def _listen(self, channel: str) -> None:
        async with self._lock:
            if channel in self._listening:
                return
            self._listening.add(channel)
            if self.connected:
                assert self._conn is not None
                await self._conn.add_listener(channel, self._received)

    def _received(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_BYTES:
            logger.warning("Ignored an event on %s: not a short text of ids", channel)
            return
        try:
            ids = orjson.loads(payload)
        except orjson.JSONDecodeError:
            ids = None
        if not isinstance(ids, dict):
            logger.warning("Ignored an event on %s that is not a JSON object of ids", channel)
            return
        event = Event(channel, ids)
        for subscriber in self._subscribers.get(channel, ()):
            subscriber.offer(event)
        self.received += 1

    def _lost(self, conn: Any) -> None:
        if self._closed or conn is not self._conn or self._reconnecting is not None:
            return
        logger.warning("The event listener's connection was lost; reconnecting")
        self._reconnecting = asyncio.create_task(self._reconnect(), name="event hub reconnect")

    async def _reconnect(self) -> None:
        delay = _RECONNECT_FIRST_S
        try:
            while not self._closed:
                try:
                    conn = await self._connect()
                except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                    logger.info("The event listener could not reconnect yet: %s", error)
                    await asyncio.sleep(delay * (1 + random.random() / 2))
                    delay = min(delay * 2, _RECONNECT_MAX_S)
                    continue
                old, self._conn = self._conn, conn
                if old is not None:
                    old.terminate()
                self.reconnections += 1
                logger.info("The event listener reconnected")
                # PostgreSQL delivered nothing to us while we were away: say so.
                for subscribers in self._subscribers.values():
                    for subscriber in subscribers:
                        subscriber.missed()
                return
        finally:
            self._reconnecting = None

    async def _keep_alive(self) -> None:
        while not self._closed:
            await asyncio.sleep(KEEPALIVE_S)
            conn = self._conn
            if conn is None or self._reconnecting is not None:
                continue
            try:
                await conn.fetchval("SELECT 1", timeout=KEEPALIVE_S / 2)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                if conn is self._conn and self._reconnecting is None and not self._closed:
                    logger.warning("The event listener's connection stopped answering")
                    self._reconnecting = asyncio.create_task(self._reconnect())
