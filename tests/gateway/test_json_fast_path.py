# mypy: disallow-untyped-decorators=False
"""JsonFastPath: a JSON POST of one operation skips FastAPI's route and Strawberry's HTTP view,
and is answered exactly as that route answers it; everything else still takes the route. The
body is read from the network once, by RequestGuard, on both paths."""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import strawberry
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import services
from gateway.app import create_app
from gateway.graphql.context import Info
from gateway.graphql.service import Service
from gateway.http.json_fast_path import JsonFastPath
from gateway.http.request_guard import RequestGuard
from tests.asgi import PREFLIGHTED, serve
from tests.gateway import extra_service
from tests.gateway.serving import migrations_with_reviews
from tests.tokens import app_settings

background_runs: list[str] = []


@strawberry.type
class ProbeQuery:
    @strawberry.field(description="Echoes a request header; sets a response header and status.")
    def probe(self, info: Info) -> str:
        context = info.context
        assert context.request is not None
        assert context.response is not None
        assert context.background_tasks is not None
        context.response.headers["x-probe-answer"] = "seen"
        context.response.status_code = 203
        context.background_tasks.add_task(background_runs.append, "after the answer")
        return str(context.request.headers.get("x-probe", "none"))


PROBE = Service(name="probe", query=ProbeQuery)

NESTED = """
query UsersWithOrders($first: Int!) {
  users(first: $first) {
    nodes { id name orders(first: 2) { nodes { id status total payments { nodes { amount } } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
TWO_OPERATIONS = "query A { __typename } query B { __typename }"
UNKNOWN_HASH = {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}
PLACE_ORDER_FOR_NOBODY = (
    'mutation { placeOrder(input: {userId: 999999, items: [{sku: "MUG-1", quantity: 1, '
    'unitPrice: "2.50"}]}) { id } }'
)

# Bodies that reach execution, and bodies refused on the way (by Strawberry, the persisted
# queries, the limits or the schema): each must get the same answer on both paths.
BODIES: list[Any] = [
    {"query": NESTED, "operationName": "UsersWithOrders", "variables": {"first": 3}},
    {"query": "{ user(id: 2) { email name createdAt } }", "variables": None, "extensions": None},
    {"query": "{ user(id: 424242) { email } }"},
    {"query": "{ probe }"},
    {"query": PLACE_ORDER_FOR_NOBODY},
    {"query": "{ reviewDigest }"},
    {"query": "{ users(first: 100000) { nodes { id } } }"},
    {"query": "query($n: Int!) { users(first: $n) { nodes { id } } }", "variables": {"n": "x"}},
    {"query": "{ users(first: 2) { nodes { nam } } }"},
    {"query": "{ users(first: "},
    {"query": TWO_OPERATIONS},
    {"query": TWO_OPERATIONS, "operationName": "C"},
    {"query": "subscription { users { id } }"},
    {"query": "{ __schema { queryType { name } } }"},
    {},
    {"query": None},
    {"extensions": UNKNOWN_HASH},
    {"query": "{ __typename }", "extensions": UNKNOWN_HASH},
    # Not one operation JsonFastPath takes: Strawberry's view judges them on both paths.
    {"query": 5},
    {"query": "{ __typename }", "variables": [1]},
    {"query": "{ __typename }", "extensions": "yes"},
]


def _app(database_url: str, migrations: Path, *, fast_path: bool) -> FastAPI:
    """The gateway with the reviews and probe services; without JsonFastPath if not
    `fast_path`, so that every request takes FastAPI's route."""
    # One connection: asyncpg's type introspection (counted statements) then happens at the
    # same requests in both apps, whichever connection a query would otherwise have got.
    settings = app_settings(
        database_url=database_url, migrations_dir=migrations, min_connections=1, max_connections=1
    )
    app = create_app(settings, [*services.SERVICES, extra_service.service, PROBE])
    if not fast_path:  # the stack is built at the first request: still time to leave it out
        app.user_middleware = [m for m in app.user_middleware if m.cls is not JsonFastPath]  # type: ignore[comparison-overlap]
    return app


def _comparable(response: httpx.Response) -> tuple[int, str | None, str | None, Any]:
    body: Any = response.text
    if response.headers.get("content-type") == "application/json":
        body = response.json()
        for error in body.get("errors") or ():
            (error.get("extensions") or {}).pop("correlationId", None)
    return (
        response.status_code,
        response.headers.get("content-type"),
        response.headers.get("x-probe-answer"),
        body,
    )


def _logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.request"]
    for line in lines:
        line.pop("correlation_id")
        line.pop("duration_ms")
    caplog.clear()
    return lines


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = migrations_with_reviews(tmp_path)
    (folder / "probe").mkdir()
    return folder


async def test_fast_path_answers_every_body_as_strawberrys_route_does(
    database_url: str, migrations: Path, caplog: pytest.LogCaptureFixture
) -> None:
    background_runs.clear()
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                serve(_app(database_url, migrations, fast_path=fast_path))
            )
            for fast_path in (False, True)
        ]
        await _seed(database_url)
        answered = []
        with caplog.at_level(logging.INFO, logger="gateway.request"):
            for body in BODIES:
                answers, logs = [], []
                for client in clients:
                    response = await client.post(
                        "/graphql", json=body, headers={"x-probe": "hello"}
                    )
                    answers.append(_comparable(response))
                    logs.append(_logged(caplog))
                    assert len(response.headers["x-correlation-id"]) == 32
                assert answers[0] == answers[1], body
                assert logs[0] == logs[1], body
                answered.append(answers[1])
    status, _, _, nested = answered[0]
    assert status == 200
    assert [len(user["orders"]["nodes"]) for user in nested["data"]["users"]["nodes"]] == [2] * 3
    # The probe's answer, header and status, and its task run after each answer.
    assert answered[3] == (203, "application/json", "seen", {"data": {"probe": "hello"}})
    assert background_runs == ["after the answer", "after the answer"]


async def _seed(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """
            INSERT INTO users.users (email, name)
            SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, 4) n;
            INSERT INTO orders.orders (user_id, total, status)
            SELECT u.id, 10.5 * k, 'PAID' FROM users.users u, generate_series(1, 3) k;
            INSERT INTO payments.payments (order_id, amount, currency)
            SELECT id, total, 'EUR' FROM orders.orders;
            """
        )
    finally:
        await conn.close()


def _fast_path_of(app: FastAPI) -> JsonFastPath:
    layer: Any = app.middleware_stack
    while not isinstance(layer, JsonFastPath):
        layer = layer.app
    return layer


async def test_only_json_posts_of_one_operation_skip_fastapis_route(
    database_url: str, migrations: Path
) -> None:
    app = _app(database_url, migrations, fast_path=True)
    app.middleware_stack = app.build_middleware_stack()
    route = _fast_path_of(app)
    routed: list[str] = []
    inner = route.app

    async def recording(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        routed.append(f"{scope['method']} {scope['path']}")
        await inner(scope, receive, send)

    route.app = recording
    query = "{ user(id: 1) { name } }"
    async with serve(app) as client:
        response = await client.post("/graphql", json={"query": query})
        assert (
            response.json() == {"data": {"user": {"name": "Ada Lovelace"}}}
            or response.json()["data"]["user"] is None
        )
        assert routed == []
        charset = {"content-type": "application/json; charset=utf-8"}
        response = await client.post(
            "/graphql", content=json.dumps({"query": query}), headers=charset
        )
        assert response.status_code == 200
        assert routed == []

        taken = [
            client.get("/graphql", params={"query": query}, headers=PREFLIGHTED),
            client.post("/graphql", json={"query": 5}),
            client.post("/graphql", json={"query": query}, headers={"accept": "text/event-stream"}),
            client.post("/graphql/", json={"query": query}),
            client.get("/health/live"),
        ]
        for request in taken:
            await request
    assert routed == [
        "GET /graphql",
        "POST /graphql",
        "POST /graphql",
        "POST /graphql/",
        "GET /health/live",
    ]


class _CountingBodyReads:
    """Counts the body bytes the layers inside it receive, per request."""

    reads: list[int]

    def __init__(self, app: ASGIApp, *, reads: list[int]) -> None:
        self.app = app
        self.reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reads.append(0)

        async def counting() -> Message:
            message = await receive()
            self.reads[-1] += len(message.get("body", b""))
            return message

        await self.app(scope, counting, send)


async def test_the_body_is_read_once_on_both_paths(database_url: str, migrations: Path) -> None:
    app = _app(database_url, migrations, fast_path=True)
    network: list[int] = []  # body bytes received from the server
    inside: list[int] = []  # ... and by the layers inside RequestGuard
    guard = next(i for i, m in enumerate(app.user_middleware) if m.cls is RequestGuard)
    app.user_middleware.insert(guard + 1, Middleware(_CountingBodyReads, reads=inside))
    app.user_middleware.insert(0, Middleware(_CountingBodyReads, reads=network))

    async def chunks() -> Any:
        for part in (b'{"query": "{ __type', b'name }"', b"}"):
            yield part

    async with serve(app) as client:
        fast = await client.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        viewed_body = b'{"query": "{ __typename }", "variables": [1]}'
        viewed = await client.post(
            "/graphql", content=viewed_body, headers={"content-type": "application/json"}
        )

    assert fast.json() == {"data": {"__typename": "Query"}}
    assert viewed.status_code == 400
    # The fast path takes the JSON RequestGuard parsed, and reads nothing; Strawberry's view
    # gets the body RequestGuard read, replayed once.
    assert network == [len(b'{"query": "{ __typename }"}'), len(viewed_body)]
    assert inside == [0, len(viewed_body)]
