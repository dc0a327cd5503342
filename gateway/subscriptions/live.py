"""`live(info, channel, wanted)`: a subscription field's events, ready to load rows for.

Each event it yields has been handed to the context (`Context.deliver`), so the rows the
field then loads come from loaders every subscriber of that event shares: one statement per
level however many subscribers it has. When events were lost (a slow subscriber's queue
overflowed, or the listener reconnected after a database restart) it yields an
EVENTS_MISSED error instead: the client gets it as a result with that code, and the stream
goes on; re-read what you show. Once the subscriber's token has expired it yields an
UNAUTHENTICATED error and ends. A field yields every such error on, as it is.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from gateway.graphql.context import Info
from gateway.graphql.errors import GatewayError
from gateway.subscriptions.events import Event
from gateway.subscriptions.subscriber import MISSED

__all__ = ["EventsMissed", "TokenExpired", "live"]


class EventsMissed(GatewayError):
    """Yielded in a subscription's stream when events may have been lost since the last."""

    code = "EVENTS_MISSED"


class TokenExpired(GatewayError):
    """Yielded, last, when the subscriber's token has expired: reconnect with a fresh one."""

    code = "UNAUTHENTICATED"


async def live(
    info: Info, channel: str, wanted: Callable[[dict[str, Any]], bool] = lambda ids: True
) -> AsyncIterator[Event | GatewayError]:
    """`channel`'s events that pass `wanted`, until the server shuts down (then the
    subscription completes)."""
    hub = info.context.events
    if hub is None:
        raise RuntimeError("Subscriptions need the app's event hub (create_app starts one).")
    async with hub.subscribe(channel, wanted) as subscriber:
        while (item := await subscriber.next()) is not None:
            if item is MISSED:
                yield EventsMissed(
                    "Events may have been missed (a reconnection, or this subscriber fell "
                    "behind); read the current state again."
                )
                continue
            assert isinstance(item, Event)
            expires = info.context.viewer.expires_at
            if expires is not None and time.time() >= expires:
                yield TokenExpired(
                    "The token this subscription was opened with has expired; reconnect "
                    "with a fresh one."
                )
                return
            info.context.deliver(item)
            try:
                yield item
            finally:
                info.context.delivered(item)
