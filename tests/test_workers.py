"""`gateway serve --workers 2`: two real worker processes on one port, sharing the pool
budget; the migrations run once, before the workers start; SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import socket

import asyncpg
import httpx
import psutil
import pytest

from gateway.http.persisted import sha256_hex
from gateway.http.workers import listening_socket
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
        served = [_requests_in(scrape.text) for scrape in scrapes]
        assert sum(served) >= 40  # the 40 requests (and the readiness probes), split between them

        by_name = await connections_by_name(database_url)
        assert by_name.get("gateway-events") == 2  # each worker's own listener
        assert by_name.get("gateway", 0) <= POOL_BUDGET  # both pools, within the one budget
        rows = await migration_rows(database_url)
        assert len(rows) == len(set(rows)) == 6  # every file once (the gateway's own too)

        server.terminate()
        assert await asyncio.to_thread(server.wait_for_exit) == 0
        assert not any(worker.is_running() and worker.status() != "zombie" for worker in workers)
    finally:
        server.kill()


async def test_a_document_registered_through_one_worker_runs_by_hash_on_every_worker(
    database_url: str,
) -> None:
    query = "query Ids { users { nodes { id } } }"
    by_hash = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    metrics_port = free_port()
    server = GatewayProcess(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_JWT_SECRET": TEST_SECRET,
            "GATEWAY_POOL_MAX": "4",
            "GATEWAY_METRICS_PORT": str(metrics_port),
        },
        command=(str(GATEWAY), "serve", "--workers", "2"),
    )
    try:
        await asyncio.to_thread(server.wait_until_ready)
        metrics_urls = [f"http://127.0.0.1:{metrics_port + index}/metrics" for index in range(2)]
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as client:
            registered = await client.post(server.url, json={"query": query, "extensions": by_hash})
            assert registered.json() == {"data": {"users": {"nodes": []}}}
            before = [await requests_served(client, url) for url in metrics_urls]
            # Rounds of new connections at once, until the kernel has handed some to each
            # worker: whichever registered it, the other ran it by its hash alone.
            for _ in range(20):
                answers = await asyncio.gather(
                    *(
                        _post_on_new_connection(server.url, {"extensions": by_hash})
                        for _ in range(20)
                    )
                )
                assert answers == [registered.json()] * 20
                served = [await requests_served(client, url) for url in metrics_urls]
                if all(now > then for now, then in zip(served, before, strict=True)):
                    break
            else:
                pytest.fail(f"the kernel gave every connection to one worker: {served}")
    finally:
        server.kill()


async def _post_on_new_connection(url: str, payload: dict[str, object]) -> object:
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as client:
        return (await client.post(url, json=payload)).json()


async def requests_served(client: httpx.AsyncClient, metrics_url: str) -> float:
    """The GraphQL requests one worker's /metrics counted."""
    scrape = await client.get(metrics_url)
    assert scrape.status_code == 200
    return _requests_in(scrape.text)


def _requests_in(metrics_text: str) -> float:
    return sum(
        float(line.split()[1])
        for line in metrics_text.splitlines()
        if line.startswith("gateway_graphql_requests_total{")
    )


async def test_connections_accepted_on_the_workers_socket_send_without_nagle_delay() -> None:
    # Without TCP_NODELAY every keep-alive answer waited for the client's delayed ACK.
    listener = listening_socket("127.0.0.1", 0)
    accepted: asyncio.Future[asyncio.BaseTransport] = asyncio.get_running_loop().create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set_result(transport)

    server = await asyncio.get_running_loop().create_server(Accept, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        transport = await asyncio.wait_for(accepted, timeout=10)
        connection = transport.get_extra_info("socket")
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        transport.close()
    finally:
        server.close()
        await server.wait_closed()
