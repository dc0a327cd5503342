"""/health/live keeps answering while the worst allowed query runs, on a real `gateway serve`.

The cost estimate is raised out of the way (GATEWAY_MAX_COST), so only the execution budget
(gateway/execution/budget.py) stands between the attack and the server. Seeded with 100 users x 100
orders x 30 payments, the attack asks for 9,500 orders and their 285,000 payments; without
the budget each such request runs for seconds, answers ~10 MB and holds the event loop for
most of that time. With it, every attack is answered RESPONSE_TOO_LARGE or OPERATION_TIMEOUT,
the largest answer the budget allows is sent in full, and a liveness probe with a 100 ms
client timeout never times out meanwhile.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import orjson

from tests.gateway_process import GatewayFactory
from tests.tokens import ADMIN_HEADERS

ATTACK = """
{ users(first: 100) { nodes { orders(first: 95) { nodes {
    payments(first: 100) { nodes { id amount currency status createdAt } } } } } } }
"""
# The largest answer the default value cap (10,000) lets through: 9,700 orders, 9,902 values.
LARGEST_ALLOWED = "{ users(first: 100) { nodes { orders(first: 97) { nodes { id } } } } }"
# The same on graphql-core's own path (introspection is the planned executor's fallback),
# where a value costs 10-50 times more.
LARGEST_ON_GRAPHQL_CORE = LARGEST_ALLOWED.replace(
    "{ users", "{ __schema { queryType { name } } users"
)
ATTACKERS = 3
ATTACKS_EACH = 3
PROBE_TIMEOUT = httpx.Timeout(0.1)  # what /health/live must answer within, attack or not
PROBE_INTERVAL = 0.02  # seconds between two probes
BUDGET_CODES = {"RESPONSE_TOO_LARGE", "OPERATION_TIMEOUT"}


async def seed(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO users.users (email, name) "
        "SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, 100) n"
    )
    await conn.execute(
        "INSERT INTO orders.orders (user_id, total) "
        "SELECT u.id, 10 FROM users.users u CROSS JOIN generate_series(1, 100)"
    )
    await conn.execute(
        "INSERT INTO payments.payments (order_id, amount, currency) "
        "SELECT o.id, 10, 'EUR' FROM orders.orders o CROSS JOIN generate_series(1, 30)"
    )


async def attack(url: str, codes: list[str]) -> None:
    """ATTACKS_EACH attacks one after the other; the code each was answered with."""
    async with httpx.AsyncClient(timeout=60, headers=ADMIN_HEADERS) as client:
        for _ in range(ATTACKS_EACH):
            for query in (LARGEST_ALLOWED, LARGEST_ON_GRAPHQL_CORE):
                largest = await client.post(url, json={"query": query})
                nodes = orjson.loads(largest.content)["data"]["users"]["nodes"]
                assert sum(len(user["orders"]["nodes"]) for user in nodes) == 9_700
            response = await client.post(url, json={"query": ATTACK})
            assert response.status_code == 200
            # Parse only what a budget could have answered: a full answer is megabytes.
            if len(response.content) > 10_000:
                codes.append(f"a full answer of {len(response.content)} bytes")
                continue
            body = orjson.loads(response.content)
            codes.extend(error["extensions"]["code"] for error in body.get("errors", ()))


async def probe(url: str, done: asyncio.Event) -> list[int | str]:
    """GET `url` every PROBE_INTERVAL until `done`: each status, or the timeout's name."""
    answers: list[int | str] = []
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
        while not done.is_set():
            try:
                answers.append((await client.get(url)).status_code)
            except httpx.TimeoutException as error:
                answers.append(type(error).__name__)
            await asyncio.sleep(PROBE_INTERVAL)
    return answers


async def test_health_answers_within_100_ms_while_the_worst_allowed_query_runs(
    gateway_process: GatewayFactory, database_url: str, raw_connection: asyncpg.Connection
) -> None:
    server = gateway_process({"DATABASE_URL": database_url, "GATEWAY_MAX_COST": "1000000000"})
    await seed(raw_connection)
    live = server.url.removesuffix("/graphql") + "/health/live"
    codes: list[str] = []
    done = asyncio.Event()
    probes = asyncio.create_task(probe(live, done))
    try:
        async with asyncio.timeout(240):  # a bound on the test, whatever happens
            await asyncio.gather(*(attack(server.url, codes) for _ in range(ATTACKERS)))
    finally:
        done.set()
        answers = await probes

    assert len(codes) == ATTACKERS * ATTACKS_EACH, codes
    assert set(codes) <= BUDGET_CODES, codes
    assert len(answers) >= 10, answers  # probes ran for the whole attack
    assert set(answers) == {200}, answers
