"""A subscription's memory stays flat however many events it delivers: graphql-core's
per-event executors share their memo of collected fields with the subscription's, keyed by
lists rebuilt for each event, which grew by one entry per event (about 1.3 KiB each) until
the executor gives each event memos of its own (gateway.compat.forget_event_caches)."""

from __future__ import annotations

import gc
from collections.abc import AsyncGenerator

import strawberry
from graphql.execution.collect_fields import CollectedFields

from gateway import Service
from gateway.graphql.schema import build_schema

EVENTS = 300


@strawberry.type
class Tick:
    number: int

    @strawberry.field
    def twice(self) -> int:
        return self.number * 2


@strawberry.type
class TickQuery:
    ready: bool = True


@strawberry.type
class TickSubscription:
    @strawberry.subscription
    async def ticks(self, count: int) -> AsyncGenerator[Tick, None]:
        for number in range(count):
            yield Tick(number=number)


def collected_fields_alive() -> int:
    gc.collect()
    return sum(isinstance(value, CollectedFields) for value in gc.get_objects())


async def test_memos_do_not_grow_with_the_events_a_subscription_delivers() -> None:
    service = Service(name="ticks", query=TickQuery, subscription=TickSubscription, types=[Tick])
    schema = build_schema([service])
    stream = await schema.subscribe(f"subscription {{ ticks(count: {EVENTS}) {{ number twice }} }}")
    received = []
    async for result in stream:  # type: ignore[union-attr]
        received.append(result.data["ticks"]["number"])
        if len(received) == 10:
            early = collected_fields_alive()  # the subscription open
        if len(received) == EVENTS - 10:
            late = collected_fields_alive()  # still open, 280 events later

    assert received == list(range(EVENTS))
    # The same few memos after 300 events as after 10 (it was one more per event).
    assert late <= early + 5, (early, late)
