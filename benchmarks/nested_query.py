"""Time the README's nested query (users -> orders -> payments) at several page sizes.

    .venv/bin/python -m benchmarks.nested_query --users 50 500 --rounds 30

Starts an embedded PostgreSQL in a temporary directory (or uses DATABASE_URL), seeds N users
with 2 orders and 1 payment each, runs the app in-process over ASGI (no network), and prints
the median and p90 latency and the SQL statements per request for each size. Every request
carries the benchmark's admin bearer token (benchmarks.contenders), verified per request: the
shop answers `users` only to admins. Absolute numbers depend on the machine; compare sizes
within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

import services
from benchmarks.contenders import BENCHMARK_AUTH, BENCHMARK_HEADERS
from gateway.app import create_app
from gateway.db import count_statements
from gateway.db.embedded import EmbeddedPostgres
from gateway.limits.rules import Limits
from gateway.settings import Settings

QUERY = """
query ($first: Int) {
  users(first: $first) {
    nodes { name orders { nodes { total status payments { nodes { amount currency } } } } }
  }
}
"""


async def seed(url: str, users: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO users.users (email, name) SELECT 'user' || n || '@example.com', "
            "'User ' || n FROM generate_series(1, $1) n",
            users,
        )
        await conn.execute(
            "INSERT INTO orders.orders (user_id, total) "
            "SELECT u.id, 10 FROM users.users u CROSS JOIN generate_series(1, 2)"
        )
        await conn.execute(
            "INSERT INTO payments.payments (order_id, amount, currency) "
            "SELECT id, 10, 'EUR' FROM orders.orders"
        )
    finally:
        await conn.close()


async def measure(url: str, sizes: list[int], rounds: int) -> list[tuple[int, float, float, int]]:
    settings = Settings(
        database_url=url,
        max_page_size=max(sizes),
        # The query's size is what is measured: no cost limit, no execution budget in the way.
        limits=Limits(max_cost=100_000_000, max_response_values=100_000_000),
        auth=BENCHMARK_AUTH,
    )
    app = create_app(settings, services.SERVICES)
    results = []
    async with app.router.lifespan_context(app):
        await seed(url, max(sizes))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=dict(BENCHMARK_HEADERS)
        ) as client:
            for size in sizes:
                payload = {"query": QUERY, "variables": {"first": size}}
                await client.post("/graphql", json=payload)  # warm caches and connections
                timings = []
                for _ in range(rounds):
                    with count_statements() as recorder:
                        started = time.perf_counter()
                        response = await client.post("/graphql", json=payload)
                        timings.append((time.perf_counter() - started) * 1000)
                        await asyncio.sleep(0)
                    body = response.json()
                    assert "errors" not in body, body["errors"]
                    assert len(body["data"]["users"]["nodes"]) == size
                p90 = sorted(timings)[int(0.9 * (len(timings) - 1))]
                results.append((size, statistics.median(timings), p90, recorder.count))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    server = None
    if not url:
        server = EmbeddedPostgres.start(Path(tempfile.mkdtemp()) / "data", delete=True)
        url = server.url
    try:
        results = asyncio.run(measure(url, args.users, args.rounds))
    finally:
        if server is not None:
            server.stop()
    print("| users | median ms | p90 ms | SQL statements |")
    print("|---:|---:|---:|---:|")
    for size, median, p90, statements in results:
        print(f"| {size} | {median:.1f} | {p90:.1f} | {statements} |")


if __name__ == "__main__":
    main()
