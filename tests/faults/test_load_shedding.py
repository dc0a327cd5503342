"""Requests in flight and readiness under load, on a real `gateway serve` process
(gateway.http.load_shedding, gateway.http.health_connection).

`slowReviewCount(seconds)` (the test-only slow service) holds a pooled connection in
pg_sleep, which keeps its request in flight for as long as the test needs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx

from tests.faults.support import SLEEPING_STATEMENTS, count, error_codes, wait_until
from tests.gateway_process import GatewayFactory, GatewayProcess

SLOW_QUERY = "query ($seconds: Float!) { slowReviewCount(seconds: $seconds) }"
HOLD_SECONDS = 8  # how long the slow requests stay in flight; longer than any check below
ANSWER_LIMIT = 4.0  # seconds a refused request or a probe may take; a bound, not a benchmark


def start_gateway(
    gateway_process: GatewayFactory, database_url: str, migrations: Path, **env: str
) -> GatewayProcess:
    return gateway_process(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_SERVICES": "tests.gateway.extra_service.app:SERVICES",
            "GATEWAY_MIGRATIONS_DIR": str(migrations),
            "GATEWAY_POOL_MIN": "1",
            **env,
        }
    )


def hold_requests(
    client: httpx.AsyncClient, url: str, n: int
) -> list[asyncio.Task[httpx.Response]]:
    payload = {"query": SLOW_QUERY, "variables": {"seconds": HOLD_SECONDS}}
    return [asyncio.create_task(client.post(url, json=payload)) for _ in range(n)]


async def test_past_the_in_flight_limit_requests_get_server_busy_at_once_health_does_not(
    gateway_process: GatewayFactory,
    database_url: str,
    migrations_with_test_services: Path,
    raw_connection: asyncpg.Connection,
) -> None:
    server = start_gateway(
        gateway_process,
        database_url,
        migrations_with_test_services,
        GATEWAY_MAX_IN_FLIGHT="2",
        GATEWAY_POOL_MAX="4",
    )
    base = server.url.removesuffix("/graphql")

    async with httpx.AsyncClient(timeout=60) as client:
        held = hold_requests(client, server.url, 2)

        async def both_sleeping() -> bool:
            return await count(raw_connection, SLEEPING_STATEMENTS) == 2

        await wait_until(both_sleeping, "two slow requests holding the in-flight limit")
        async with httpx.AsyncClient(timeout=ANSWER_LIMIT) as impatient:
            refused = await impatient.post(server.url, json={"query": "{ __typename }"})
            modern = await impatient.post(
                server.url,
                json={"query": "{ __typename }"},
                headers={"accept": "application/graphql-response+json"},
            )
            ready = await impatient.get(f"{base}/health/ready")
            live = await impatient.get(f"{base}/health/live")
        finished = await asyncio.gather(*held)
        after = await client.post(server.url, json={"query": "{ __typename }"})
        metrics = (await client.get(f"{base}/metrics")).text

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/json"
    assert error_codes(refused.json()) == ["SERVER_BUSY"]
    # In the negotiated media type too, each with a correlation id, and counted.
    assert modern.status_code == 503
    assert modern.headers["content-type"] == "application/graphql-response+json"
    assert "data" not in modern.json()
    assert error_codes(modern.json()) == ["SERVER_BUSY"]
    assert refused.headers["x-correlation-id"] != modern.headers["x-correlation-id"]
    assert 'gateway_graphql_errors_total{code="SERVER_BUSY"} 2.0' in metrics
    assert (ready.status_code, live.status_code) == (200, 200)
    assert [response.status_code for response in finished] == [200, 200]
    assert after.status_code == 200  # the slots are given back


async def test_readiness_stays_200_while_requests_hold_every_pooled_connection(
    gateway_process: GatewayFactory,
    database_url: str,
    migrations_with_test_services: Path,
    raw_connection: asyncpg.Connection,
) -> None:
    # Before, the probe queued for the pool behind them and answered 503 after 2 s.
    server = start_gateway(
        gateway_process, database_url, migrations_with_test_services, GATEWAY_POOL_MAX="2"
    )
    base = server.url.removesuffix("/graphql")

    async with httpx.AsyncClient(timeout=60) as client:
        held = hold_requests(client, server.url, 6)  # two in pg_sleep, four queued for them

        async def pool_busy() -> bool:
            return await count(raw_connection, SLEEPING_STATEMENTS) == 2

        await wait_until(pool_busy, "the slow requests holding both pooled connections")
        async with httpx.AsyncClient(timeout=ANSWER_LIMIT) as probe:
            ready = await probe.get(f"{base}/health/ready")
        still_sleeping = await count(raw_connection, SLEEPING_STATEMENTS)
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)

    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": {"status": "ok"}, "migrations": {"status": "ok"}}
    assert still_sleeping == 2  # the pool was full the whole time the probe ran


async def test_a_client_slow_to_send_its_body_holds_no_in_flight_slot(
    gateway_process: GatewayFactory, database_url: str, migrations_with_test_services: Path
) -> None:
    # Else one slow sender per slot would refuse everyone for the whole body timeout.
    server = start_gateway(
        gateway_process,
        database_url,
        migrations_with_test_services,
        GATEWAY_MAX_IN_FLIGHT="1",
        GATEWAY_BODY_TIMEOUT="30",
    )
    body = b'{"query": "{ __typename }"}'
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head + body[:5])  # and the rest never
        await writer.drain()
        await asyncio.sleep(0.5)  # the server has the head and is waiting for the body
        async with httpx.AsyncClient(timeout=ANSWER_LIMIT) as client:
            served = await client.post(server.url, json={"query": "{ __typename }"})
    finally:
        writer.close()

    assert served.status_code == 200, served.text
