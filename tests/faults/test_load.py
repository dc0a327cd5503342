"""A bounded load test against a real `gateway serve` process with a small pool.

50 concurrent clients run a mix of queries and mutations for GATEWAY_LOAD_SECONDS (default 5;
30 for the full run) against 127.0.0.1, while a sampler watches the gateway's connections in
pg_stat_activity. Then: no 5xx and no masked error; every acknowledged mutation is in the
database and no other; the pool never held more connections than its maximum. A summary is
printed (see it with `-s`) and written to tests/artifacts/load-summary.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from gateway.settings import PROJECT_ROOT
from tests.faults.load import ITEMS_PER_ORDER, MIX, REFUSALS, Tally, run_load
from tests.faults.support import GATEWAY_CONNECTIONS
from tests.gateway_process import GatewayFactory

CLIENTS = 50
POOL_MAX = 10
MAX_REQUESTS_PER_CLIENT = 20_000  # a bound on the count, whatever the speed
SUMMARY = PROJECT_ROOT / "tests" / "artifacts" / "load-summary.json"


@dataclass
class PoolSamples:
    """How many connections the gateway held, sampled from pg_stat_activity."""

    count: int = 0
    highest: int = 0


async def sample_pool(database_url: str, samples: PoolSamples, stop: asyncio.Event) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        while not stop.is_set():
            connections: int = await conn.fetchval(GATEWAY_CONNECTIONS)
            samples.count += 1
            samples.highest = max(samples.highest, connections)
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


@dataclass
class Stored:
    """What the load left in the database, keyed as the Tally keys mutations."""

    users: dict[str, int]  # email -> id
    orders: dict[str, set[tuple[int, str]]]  # sku prefix -> {(order id, sku)}
    order_count: int
    item_count: int
    payments: dict[Decimal, int]  # amount -> id

    @classmethod
    async def read(cls, conn: asyncpg.Connection) -> Stored:
        users = await conn.fetch("SELECT id, email FROM users.users WHERE email LIKE 'load-%'")
        items = await conn.fetch("SELECT order_id, sku FROM orders.line_items WHERE sku LIKE 'L%'")
        orders: dict[str, set[tuple[int, str]]] = defaultdict(set)
        for row in items:
            orders[row["sku"].rpartition("-")[0]].add((row["order_id"], row["sku"]))
        payments = await conn.fetch("SELECT id, amount FROM payments.payments")
        return cls(
            users={row["email"]: row["id"] for row in users},
            orders=dict(orders),
            order_count=await conn.fetchval("SELECT count(*) FROM orders.orders"),
            item_count=await conn.fetchval("SELECT count(*) FROM orders.line_items"),
            payments={row["amount"]: row["id"] for row in payments},
        )

    def rows(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "orders": self.order_count,
            "line_items": self.item_count,
            "payments": len(self.payments),
        }


def summary(
    tally: Tally, rows: dict[str, int], pool: PoolSamples, seconds: float
) -> dict[str, Any]:
    latencies = sorted(tally.latencies) or [0.0]  # none when nothing was answered at all

    def percentile(fraction: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(fraction * len(latencies)))], 1)

    return {
        "seconds": seconds,
        "elapsed_seconds": round(tally.seconds, 1),
        "clients": CLIENTS,
        "pool_max": POOL_MAX,
        "requests": tally.requests,
        "requests_per_second": round(tally.requests / tally.seconds, 1),
        "by_status": {str(status): n for status, n in sorted(tally.statuses.items())},
        "by_error_code": dict(sorted(tally.error_codes.items())),
        "transport_errors": dict(tally.transport_errors),
        "by_operation": dict(sorted(tally.operations.items())),
        "acknowledged": {
            "createUser": len(tally.users),
            "placeOrder": len(tally.orders),
            "recordPayment": len(tally.payments),
        },
        "unacknowledged": {
            "createUser": len(tally.sent_users) - len(tally.users),
            "placeOrder": len(tally.sent_orders) - len(tally.orders),
            "recordPayment": len(tally.sent_payments) - len(tally.payments),
        },
        "rows_checked": rows,
        "latency_ms": {
            "median": round(1000 * statistics.median(latencies), 1),
            "p90": percentile(0.9),
            "p99": percentile(0.99),
            "max": round(1000 * latencies[-1], 1),
        },
        "pool": {"samples": pool.count, "highest_connections": pool.highest},
    }


async def test_fifty_clients_get_no_5xx_and_every_acknowledged_mutation_is_stored(
    gateway_process: GatewayFactory, database_url: str, raw_connection: asyncpg.Connection
) -> None:
    server = gateway_process(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_POOL_MIN": "2",
            "GATEWAY_POOL_MAX": str(POOL_MAX),
        }
    )
    assert server.url.startswith("http://127.0.0.1:")
    seconds = float(os.environ.get("GATEWAY_LOAD_SECONDS", "5"))
    samples, stop = PoolSamples(), asyncio.Event()
    sampler = asyncio.create_task(sample_pool(database_url, samples, stop))
    try:
        async with asyncio.timeout(seconds + 120):  # a bound on time, whatever happens
            tally = await run_load(
                server.url,
                clients=CLIENTS,
                seconds=seconds,
                max_requests_per_client=MAX_REQUESTS_PER_CLIENT,
            )
    finally:
        stop.set()
        await sampler
    # Nothing may still be running when the database is checked: stop the server first.
    server.terminate()
    returncode = await asyncio.to_thread(server.wait_for_exit)
    stored = await Stored.read(raw_connection)

    report = summary(tally, stored.rows(), samples, seconds)
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(report, indent=2) + "\n")
    print("\nload summary:", json.dumps(report, indent=2))

    assert returncode == 0, server.output
    assert not [status for status in tally.statuses if status >= 500], report
    assert tally.transport_errors == {}, report
    assert "INTERNAL_SERVER_ERROR" not in tally.error_codes, report
    for operation, code in REFUSALS.items():  # refused, each with its own code, and only them
        assert tally.codes_by_operation[operation, code] == tally.operations[operation], report
    assert sum(tally.operations[operation] for operation in REFUSALS) > 0, report
    assert all(tally.operations[name] > 0 for name in MIX if name != "refused"), report
    assert min(len(tally.users), len(tally.orders), len(tally.payments)) > 0, report
    assert samples.count > 0
    assert 1 <= samples.highest <= POOL_MAX, report

    # Every acknowledged mutation is stored, with the id it was acknowledged with; no other is.
    assert stored.users == tally.users
    assert stored.payments == tally.payments
    assert stored.orders.keys() == tally.orders.keys()
    for tag, order_id in tally.orders.items():  # and each order whole: all its items, on it
        assert stored.orders[tag] == {
            (order_id, f"{tag}-{n}") for n in range(1, ITEMS_PER_ORDER + 1)
        }
    assert (stored.order_count, stored.item_count) == (
        len(tally.orders),
        len(tally.orders) * ITEMS_PER_ORDER,
    )
