"""The gateway through a real PgBouncer 1.18 in transaction pooling mode: the app answers
queries and mutations under concurrency, two processes migrating one database apply each
file once, subscriptions hear NOTIFY over the direct listen URL, and two workers keep the
server's connections within PgBouncer's pool."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

import services
from gateway.app import create_app
from gateway.db import AsyncDatabaseManager, ConfigurationError, DatabaseConfig
from gateway.subscriptions.hub import EventHub
from services.demo import load_demo_data
from tests.gateway_process import GATEWAY, GatewayProcess
from tests.live_server import live_servers
from tests.migration_race import GATE_STATEMENT, race_two_migrations
from tests.pgbouncer.conftest import POOL_SIZE
from tests.tokens import ADMIN_HEADERS, TEST_SECRET, app_settings, token_for
from tests.ws_client import graphql_ws

ADA = token_for(1)
PLACE = """mutation ($userId: Int!) {
  placeOrder(input: {userId: $userId, items: [{sku: "PGB-1", quantity: 1, unitPrice: "2.50"}]}) {
    id status
  }
}"""
USERS = "{ users { nodes { id name } } }"
ORDER_UPDATED = "subscription ($id: Int!) { orderUpdated(id: $id) { id status } }"
PAY = """mutation ($orderId: Int!) {
  recordPayment(input: {orderId: $orderId, amount: "2.50", currency: "EUR"}) { id }
}"""
# Backends of this database other than ours and the direct listeners: PgBouncer's servers.
SERVER_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
    "AND application_name IS DISTINCT FROM 'gateway-events'"
)


async def ask(client: httpx.AsyncClient, query: str, token: str, **variables: Any) -> Any:
    answer = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_app_serves_50_concurrent_queries_and_mutations_through_pgbouncer(
    pooled_url: str, direct_url: str
) -> None:
    settings = app_settings(
        database_url=pooled_url, listen_database_url=direct_url, max_connections=10
    )
    app = create_app(settings, services.SERVICES, on_startup=load_demo_data)
    with live_servers() as start:
        live = start(app)
        assert app.state.pool.through_pooler  # found out, without being told
        async with httpx.AsyncClient(base_url=live.origin, timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    ask(client, PLACE, ADA, userId=1)
                    if index % 2
                    else ask(client, USERS, token_for("admin", roles=["admin"]))
                    for index in range(50)
                )
            )
    assert [answer.get("errors") for answer in answers] == [None] * 50
    orders = {answer["data"]["placeOrder"]["id"] for answer in answers[1::2]}
    assert len(orders) == 25  # every mutation committed its own order
    assert all(answer["data"]["users"]["nodes"] for answer in answers[::2])


async def test_a_subscription_hears_notify_over_the_direct_listen_url(
    pooled_url: str, direct_url: str
) -> None:
    settings = app_settings(database_url=pooled_url, listen_database_url=direct_url)
    with live_servers() as start:
        live = start(create_app(settings, services.SERVICES, on_startup=load_demo_data))
        async with httpx.AsyncClient(base_url=live.origin, timeout=30) as client:
            order = (await ask(client, PLACE, ADA, userId=1))["data"]["placeOrder"]
            async with graphql_ws(live.ws_url, token=ADA) as socket:
                operation = await socket.subscribe(ORDER_UPDATED, {"id": order["id"]})
                await asyncio.sleep(0.3)  # the LISTEN is in place before the payment commits
                assert "errors" not in await ask(client, PAY, ADA, orderId=order["id"])
                event = await socket.receive()
    assert event == {
        "id": operation,
        "type": "next",
        "payload": {"data": {"orderUpdated": {"id": order["id"], "status": "PAID"}}},
    }


async def test_the_event_hub_refuses_to_listen_through_pgbouncer(pooled_url: str) -> None:
    # LISTEN through transaction pooling hears nothing, silently: refuse, saying what to set.
    hub = EventHub(DatabaseConfig(connection_string=pooled_url, pooler="transaction"))
    with pytest.raises(ConfigurationError, match="GATEWAY_LISTEN_DATABASE_URL"):
        await hub.start()
    await hub.close()


async def test_two_processes_migrating_through_pgbouncer_apply_each_file_once(
    tmp_path: Path, pooled_url: str, direct_url: str
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_create_t.sql").write_text(
        f"{GATE_STATEMENT}\n"
        "CREATE TABLE {{tables.t}} (id INT PRIMARY KEY);\n"
        "INSERT INTO {{tables.t}} VALUES (1);\n"
    )
    (folder / "002_insert.sql").write_text("INSERT INTO {{tables.t}} VALUES (2);\n")
    direct = await asyncpg.connect(direct_url)
    try:
        reports = await race_two_migrations(direct, pooled_url, folder, tmp_path)

        # Between two transactions of a run the other may take its turn: which run applies
        # 002 is not fixed, but each file is applied by exactly one of them.
        assert all(report.through_pooler for report in reports)  # both found PgBouncer
        assert sorted(file for report in reports for file in report.applied) == [
            "001_create_t.sql",
            "002_insert.sql",
        ]
        assert {report.status for report in reports} <= {"success", "up_to_date"}
        assert await direct.fetchval("SELECT array_agg(id ORDER BY id) FROM race.t") == [1, 2]
        counts = await direct.fetch(
            "SELECT filename, count(*) AS n FROM race.schema_migrations GROUP BY filename "
            "ORDER BY filename"
        )
        assert [tuple(row) for row in counts] == [("001_create_t.sql", 1), ("002_insert.sql", 1)]
        # Transaction-level locks only: nothing stays behind on PgBouncer's server connections.
        assert (
            await direct.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
        )
    finally:
        await direct.close()


async def test_two_workers_keep_the_servers_connections_within_pgbouncers_pool(
    pooled_url: str, direct_url: str
) -> None:
    server = GatewayProcess(
        {
            "DATABASE_URL": pooled_url,
            "GATEWAY_LISTEN_DATABASE_URL": direct_url,
            "GATEWAY_JWT_SECRET": TEST_SECRET,
            "GATEWAY_POOL_MAX": "16",  # 8 client connections each, more than PgBouncer's 3
            "GATEWAY_POOL_MIN": "8",
        },
        command=(str(GATEWAY), "serve", "--workers", "2"),
    )
    direct = await asyncpg.connect(direct_url)
    try:
        await asyncio.to_thread(server.wait_until_ready)
        seen: list[int] = []
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                seen.append(await direct.fetchval(SERVER_CONNECTIONS))
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as client:
            for _ in range(3):
                answers = await asyncio.gather(
                    *(client.post(server.url, json={"query": USERS}) for _ in range(40))
                )
                assert {answer.status_code for answer in answers} == {200}
        stop.set()
        await sampler
        listeners = await direct.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'gateway-events'"
        )
        server.terminate()  # the workers too (a SIGKILL of the parent alone would orphan them)
        assert await asyncio.to_thread(server.wait_for_exit) == 0
    finally:
        server.kill()
        await direct.close()
    assert listeners == 2  # each worker's own, direct
    assert 0 < max(seen) <= POOL_SIZE, seen


async def test_a_pool_through_pgbouncer_keeps_no_statement_cache_and_no_reset_query(
    pooled_url: str,
) -> None:
    pool = await AsyncDatabaseManager.create_shared_pool(
        DatabaseConfig(connection_string=pooled_url, min_connections=1, max_connections=2)
    )
    try:
        async with pool.acquire() as conn:
            assert conn.get_reset_query() == ""
            await conn.fetchval("SELECT $1::int", 1)
            assert await conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
    finally:
        await pool.close()
