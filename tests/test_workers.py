"""`gateway serve --workers 2`: two real worker processes on one port, sharing the pool
budget; the migrations run once, before the workers start; SIGTERM stops them all."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import psutil
import pytest

from tests.gateway_process import GATEWAY, GatewayProcess, free_port
from tests.tokens import ADMIN_HEADERS, TEST_SECRET
from tests.tracking_rows import tracked

POOL_BUDGET = 4


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    return empty_database_url


async def connections_by_name(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT application_name, count(*) AS n FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "GROUP BY application_name"
        )
        return {row["application_name"]: row["n"] for row in rows}
    finally:
        await conn.close()


async def migration_rows(database_url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(database_url)
    try:
        return await tracked(conn)
    finally:
        await conn.close()


async def test_two_workers_share_one_port_and_the_pool_budget(database_url: str) -> None:
    metrics_port = free_port()  # worker 0's; worker 1 serves its own on the next port
    server = GatewayProcess(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_JWT_SECRET": TEST_SECRET,
            "GATEWAY_POOL_MAX": str(POOL_BUDGET),
            "GATEWAY_POOL_MIN": "2",
            "GATEWAY_METRICS_PORT": str(metrics_port),
        },
        command=(str(GATEWAY), "serve", "--workers", "2"),
    )
    try:
        await asyncio.to_thread(server.wait_until_ready)
        assert "2 workers on 127.0.0.1" in server.output
        assert "2 pool connections each" in server.output
        workers = psutil.Process(server.process.pid).children()
        assert len(workers) == 2

        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as client:
            answers = await asyncio.gather(
                *(
                    client.post(server.url, json={"query": "{ users { nodes { id } } }"})
                    for _ in range(40)
                )
            )
        assert {answer.status_code for answer in answers} == {200}
        async with httpx.AsyncClient(timeout=30) as client:
            scrapes = [
                await client.get(f"http://127.0.0.1:{metrics_port + index}/metrics")
                for index in range(2)
            ]
        assert [scrape.status_code for scrape in scrapes] == [200, 200]
        served = [
            sum(
                float(line.split()[1])
                for line in scrape.text.splitlines()
                if line.startswith("gateway_graphql_requests_total{")
            )
            for scrape in scrapes
        ]
        assert sum(served) >= 40  # the 40 requests (and the readiness probes), split between them

        by_name = await connections_by_name(database_url)
        assert by_name.get("gateway-events") == 2  # each worker's own listener
        assert by_name.get("gateway", 0) <= POOL_BUDGET  # both pools, within the one budget
        rows = await migration_rows(database_url)
        assert len(rows) == len(set(rows)) == 5  # every file once

        server.terminate()
        assert await asyncio.to_thread(server.wait_for_exit) == 0
        assert not any(worker.is_running() and worker.status() != "zombie" for worker in workers)
    finally:
        server.kill()
