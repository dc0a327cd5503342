"""The event hub in-process, against the real server: the subscribers of one event load its
rows in one statement per level, however many they are; a rolled-back change notifies
nobody; a slow subscriber's queue stays bounded; a lost listener reconnects and tells every
subscriber that events may have been missed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

import services
from gateway.app import service_managers
from gateway.db import (
    AsyncDatabaseManager,
    DatabaseConfig,
    SchemaError,
    SharedPool,
    count_statements,
)
from gateway.graphql.context import Context
from gateway.graphql.schema import build_schema
from gateway.identity.viewer import Viewer
from gateway.subscriptions import Event, EventHub, notify
from gateway.subscriptions.subscriber import MISSED, Subscriber
from services.demo import load_demo_data
from services.orders.data import OrderData

WAIT_S = 15.0  # a bound on waiting for an event, not a performance check
QUERY = "subscription ($id: Int!) { orderUpdated(id: $id) { id status user { name } } }"


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
async def managers(shared_pool: SharedPool) -> dict[str, AsyncDatabaseManager]:
    built = service_managers(shared_pool, services.SERVICES)
    await load_demo_data(built)
    return built


@pytest.fixture
async def hub(database_config: DatabaseConfig) -> AsyncIterator[EventHub]:
    events = EventHub(database_config, queue_limit=3)
    await events.start()
    try:
        yield events
    finally:
        await events.close()


def context_for(
    managers: dict[str, AsyncDatabaseManager], hub: EventHub, viewer: Viewer
) -> Context:
    by_loader_set = {
        loader_set: managers[service.name]
        for service in services.SERVICES
        if not service.tenant_scoped
        for loader_set in service.loaders
    }
    return Context(by_loader_set, viewer=viewer, events=hub)


async def until(check: Any, what: str) -> None:
    """Poll `check()` until true (failing after WAIT_S, saying `what` never happened)."""
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                if check():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")


async def mark_paid(raw: asyncpg.Connection, order_id: int, *, commit: bool = True) -> None:
    """What the payments service does on a full payment: the change and its NOTIFY in one
    transaction."""
    transaction = raw.transaction()
    await transaction.start()
    user_id = await raw.fetchval(
        "UPDATE orders.orders SET status = 'PAID' WHERE id = $1 RETURNING user_id", order_id
    )
    await raw.execute(
        "SELECT pg_notify('orders', json_build_object('order_id', $1::int, 'user_id', $2::int)"
        "::text)",
        order_id,
        user_id,
    )
    await (transaction.commit() if commit else transaction.rollback())


async def test_the_subscribers_of_one_event_load_its_rows_in_one_statement_per_level(
    managers: dict[str, AsyncDatabaseManager], hub: EventHub, raw_connection: asyncpg.Connection
) -> None:
    schema = build_schema(services.SERVICES)
    order_id = 2  # Ada's unpaid order (demo data)
    viewers = [Viewer(subject="1")] * 3 + [Viewer(subject="admin", roles=frozenset({"admin"}))] * 2
    with count_statements() as recorder:
        streams = [
            await schema.subscribe(
                QUERY,
                variable_values={"id": order_id},
                context_value=context_for(managers, hub, viewer),
            )
            for viewer in viewers
        ]
        firsts = [asyncio.ensure_future(anext(stream)) for stream in streams]  # type: ignore[call-overload]
        await until(lambda: hub.subscriber_count == len(viewers), "every subscriber listens")
        before = len(recorder.queries)
        await mark_paid(raw_connection, order_id)
        results = await asyncio.wait_for(asyncio.gather(*firsts), WAIT_S)
        await asyncio.sleep(0)  # asyncpg reports statements on the next loop iteration
        during = recorder.queries[before:]

    assert [result.data for result in results] == [
        {"orderUpdated": {"id": order_id, "status": "PAID", "user": {"name": "Ada Lovelace"}}}
    ] * len(viewers)
    # The order, then its user: once each for the five subscribers.
    assert len(during) == 2, during
    assert "orders" in during[0]
    assert "users" in during[1]
    for stream in streams:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_a_rolled_back_change_notifies_nobody(
    managers: dict[str, AsyncDatabaseManager], hub: EventHub, raw_connection: asyncpg.Connection
) -> None:
    async with hub.subscribe("orders") as subscriber:
        await mark_paid(raw_connection, 2, commit=False)
        await mark_paid(raw_connection, 4)
        event = await asyncio.wait_for(subscriber.next(), WAIT_S)
        assert isinstance(event, Event)
        assert event.ids == {"order_id": 4, "user_id": 2}  # the committed one only
        assert subscriber.queued == 0


async def test_a_slow_subscriber_keeps_the_newest_events_and_is_told_it_missed_some() -> None:
    subscriber = Subscriber("orders", lambda ids: True, limit=3)
    for number in range(1, 6):
        subscriber.offer(Event("orders", {"order_id": number}))

    assert subscriber.queued == 3
    assert subscriber.dropped == 2
    assert await subscriber.next() is MISSED
    received = [await subscriber.next() for _ in range(3)]
    assert [event.ids["order_id"] for event in received] == [3, 4, 5]  # type: ignore[union-attr]
    subscriber.close()
    assert await subscriber.next() is None


async def test_a_lost_listener_reconnects_and_every_subscriber_hears_it_may_have_missed_events(
    hub: EventHub, raw_connection: asyncpg.Connection
) -> None:
    async with hub.subscribe("orders") as first, hub.subscribe("orders") as second:
        listener = await raw_connection.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
            "AND datname = current_database()"
        )
        assert listener is not None
        await raw_connection.execute("SELECT pg_terminate_backend($1)", listener)

        assert await asyncio.wait_for(first.next(), WAIT_S) is MISSED
        assert await asyncio.wait_for(second.next(), WAIT_S) is MISSED
        assert hub.reconnections == 1
        await mark_paid(raw_connection, 2)  # heard on the new connection
        event = await asyncio.wait_for(first.next(), WAIT_S)
        assert isinstance(event, Event)
        assert event.ids["order_id"] == 2


async def test_closing_the_hub_ends_every_stream_after_what_is_queued(
    hub: EventHub, raw_connection: asyncpg.Connection
) -> None:
    async with hub.subscribe("orders") as subscriber:
        await mark_paid(raw_connection, 2)
        await until(lambda: subscriber.queued == 1, "the event is queued")
        await hub.close()
        assert isinstance(await subscriber.next(), Event)
        assert await subscriber.next() is None
    with pytest.raises(RuntimeError, match="shutting down"):
        async with hub.subscribe("orders"):
            pass


async def test_notify_in_a_transaction_is_delivered_on_commit_only_and_carries_ids_only(
    managers: dict[str, AsyncDatabaseManager], hub: EventHub
) -> None:
    orders = managers["orders"]
    async with hub.subscribe("orders") as subscriber:
        with pytest.raises(RuntimeError, match="undo"):
            async with orders.transaction() as tx:
                await notify(tx, "orders", {"order_id": 1, "user_id": 1})
                raise RuntimeError("undo")
        async with orders.transaction() as tx:
            await notify(tx, "orders", {"order_id": 2, "user_id": 1})
        event = await asyncio.wait_for(subscriber.next(), WAIT_S)
        assert isinstance(event, Event)
        assert event.ids == {"order_id": 2, "user_id": 1}
        assert subscriber.queued == 0

        with pytest.raises(TypeError, match="ids only"):
            await notify(orders, "orders", {"order": {"email": "a@example.com"}})  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="at most"):
            await notify(orders, "orders", {"key": "x" * 2000})
        with pytest.raises(SchemaError):
            await notify(orders, "orders; DROP TABLE x", {"order_id": 1})


async def test_an_events_shared_loaders_serve_that_event_only(
    managers: dict[str, AsyncDatabaseManager], hub: EventHub
) -> None:
    first, second = (context_for(managers, hub, Viewer(subject="1")) for _ in range(2))
    event = Event("orders", {"order_id": 2})
    first.deliver(event)
    second.deliver(event)

    shared = first.loaders(OrderData)
    assert second.loaders(OrderData) is shared  # one batch for both subscribers
    first.delivered(event)
    # After the event, a load (another operation on the socket) is the context's own again.
    own = first.loaders(OrderData)
    assert own is not shared
    assert first.loaders(OrderData) is own
