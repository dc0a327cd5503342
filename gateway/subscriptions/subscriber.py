"""One subscriber's bounded queue of events, and what it is told when some were lost.

A slow consumer never makes memory grow: past `limit` queued events the oldest is dropped,
and the consumer is told, before the events that remain, that events were missed (it can
re-read what it shows). The same notice follows a reconnection of the listener, during
which PostgreSQL delivered nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from gateway.subscriptions.events import Event

__all__ = ["MISSED", "Missed", "Subscriber"]


class Missed:
    """Delivered instead of events that were lost (dropped, or sent while disconnected)."""

    def __repr__(self) -> str:
        return "MISSED"


MISSED = Missed()


class Subscriber:
    """Events of one channel that pass `wanted`, in order, at most `limit` waiting."""

    def __init__(
        self,
        channel: str,
        wanted: Callable[[dict[str, Any]], bool],
        limit: int,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        self.channel = channel
        self.wanted = wanted
        self.limit = limit
        self.dropped = 0
        self._on_drop = on_drop
        self._events: deque[Event] = deque()
        self._missed = False
        self._closed = False
        self._ready = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Queue `event` if this subscriber wants it, dropping the oldest when full."""
        if self._closed or not self.wanted(event.ids):
            return
        if len(self._events) >= self.limit:
            self._events.popleft()
            self.dropped += 1
            self._missed = True
            if self._on_drop is not None:
                self._on_drop()
        self._events.append(event)
        self._ready.set()

    def missed(self) -> None:
        """Tell this subscriber, next, that events may have been lost."""
        self._missed = True
        self._ready.set()

    def close(self) -> None:
        """End the stream after what is queued (the server is shutting down)."""
        self._closed = True
        self._ready.set()

    @property
    def queued(self) -> int:
        return len(self._events)

    async def next(self) -> Event | Missed | None:
        """The next event, MISSED, or None once closed and drained."""
        while True:
            if self._missed:
                self._missed = False
                return MISSED
            if self._events:
                return self._events.popleft()
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
