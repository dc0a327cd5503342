"""The subscription benchmark's event driver: order changes committed at a steady rate, in a
process of its own (so the clients' work never delays a commit or its timestamp).

`python -m benchmarks.subscription_driver` reads a JSON plan on its first stdin line
({"database_url", "orders": [[order_id, user_id], ...], "rate", "count"}), connects, answers
{"ready": true}, and on the next line ("go") commits `count` changes, change i at
start + i / rate (at once when behind), change i to order orders[i % len(orders)]. Then it
answers one JSON line: every change as [marker, order_id, user_id, status, committed_at,
commit_sent_at] (time.time() as COMMIT returned, and just before it was sent) and how far
behind its schedule it fell.

Each change does what the orders service does when an order changes (services.orders.store,
set_status): one transaction that UPDATEs the order's row and runs
`SELECT pg_notify('orders', '{"order_id": ..., "user_id": ...}')`, through the gateway's own
AsyncDatabaseManager and its public `notify`. Besides the status (the next of the four, in
turn) it sets the total to the change's marker (its number, 1, 2, ...): the subscribers read
the row when the event reaches them, so the total they receive says which committed change
they were delivered.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway import notify
from gateway.db import AsyncDatabaseManager
from gateway.db.config import DatabaseConfig
from services.orders.types import OrderStatus

__all__ = ["CHANNEL", "STATUSES", "Change", "commit_change", "orders_manager", "status_of"]

CHANNEL = "orders"  # the orders service's channel (orderUpdated, myOrderUpdates listen on it)

STATUSES = tuple(status.value for status in OrderStatus)
# The UPDATE of services.orders.store.SET_STATUS, the total set to the change's marker too.
CHANGE = "UPDATE {{tables.orders}} SET status = $2, total = $3 WHERE id = $1 RETURNING user_id"


@dataclass(frozen=True)
class Change:
    """One committed change: `marker` is the total it set, `committed_at` time.time() when
    its COMMIT returned, `commit_sent_at` just before COMMIT was sent (PostgreSQL delivers
    the notification in between)."""

    marker: int
    order_id: int
    user_id: int
    status: str
    committed_at: float
    commit_sent_at: float


def status_of(index: int, orders: int) -> str:
    """The status change `index` sets: each order moves to the next of the four in turn."""
    return STATUSES[(index // orders) % len(STATUSES)]


@asynccontextmanager
async def orders_manager(database_url: str) -> AsyncIterator[AsyncDatabaseManager]:
    """The orders schema's manager on a pool of one connection of its own."""
    config = DatabaseConfig(connection_string=database_url, min_connections=1, max_connections=1)
    pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        yield AsyncDatabaseManager(pool=pool, schema="orders")
    finally:
        await pool.close()


async def commit_change(
    db: AsyncDatabaseManager, order_id: int, status: str, marker: int
) -> tuple[int, float, float]:
    """Change the order and notify its subscribers in one transaction; (its user, the time
    COMMIT returned, the time just before it was sent)."""
    async with db.transaction() as tx:
        rows = await tx.fetch_records(CHANGE, order_id, status, Decimal(marker))
        if not rows:
            raise LookupError(f"There is no order {order_id} to change.")
        user_id: int = rows[0]["user_id"]
        # The service's event: its ids, delivered when, and only if, the change commits.
        await notify(tx, CHANNEL, {"order_id": order_id, "user_id": user_id})
        sent_at = time.time()  # the block ends: COMMIT
    return user_id, time.time(), sent_at


async def _drive(
    db: AsyncDatabaseManager, orders: Sequence[tuple[int, int]], rate: float, count: int
) -> dict[str, Any]:
    changes: list[list[Any]] = []
    behind = 0.0
    start = time.monotonic()
    for index in range(count):
        due = start + index / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        else:
            behind = max(behind, -wait)
        order_id, _ = orders[index % len(orders)]
        status = status_of(index, len(orders))
        user_id, committed_at, sent_at = await commit_change(db, order_id, status, index + 1)
        changes.append([index + 1, order_id, user_id, status, committed_at, sent_at])
    return {
        "changes": changes,
        "elapsed": time.monotonic() - start,
        "max_behind_s": behind,
    }


async def _serve() -> None:
    plan = json.loads(sys.stdin.readline())
    orders = [(int(order), int(user)) for order, user in plan["orders"]]
    async with orders_manager(plan["database_url"]) as db:
        print(json.dumps({"ready": True}), flush=True)
        go = await asyncio.to_thread(sys.stdin.readline)
        if go.strip() != "go":
            return
        result = await _drive(db, orders, float(plan["rate"]), int(plan["count"]))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(_serve())
