"""A corpus of hostile and malformed requests: each gets a GraphQL error with its own stable
`extensions.code`, nothing reaches the database, and the server keeps serving others."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import get_introspection_query

import services
from gateway.app import create_app
from gateway.db import count_statements
from gateway.limits.rules import Limits
from gateway.settings import Settings
from tests.asgi import PREFLIGHTED, serve
from tests.tokens import ADMIN_TOKEN, TEST_AUTH, app_settings, bearer

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
NORMAL = "{ users(first: 2) { nodes { email } } }"
ANONYMOUS_QUERY = "{ me { id } }"  # what an anonymous client may ask (null, no error)


@pytest.fixture
def client_factory(database_url: str) -> ClientFactory:
    """`async with client_factory(**settings) as client`: the app started with those settings,
    asked as an admin (`token=None`: anonymously)."""

    @asynccontextmanager
    async def start(
        token: str | None = ADMIN_TOKEN, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = app_settings(
            database_url=database_url, max_connections=5, **({"auth": TEST_AUTH} | overrides)
        )
        async with serve(create_app(settings, services.SERVICES), token=token) as client:
            yield client

    return start


@pytest.fixture
async def client(client_factory: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with client_factory() as client:
        yield client


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


def nested(depth: int) -> str:
    query = "email"
    for level in range(depth):
        query = f"orders(first: 1) {{ nodes {{ user {{ {query} }} }} }}" if level else query
    return f"{{ users(first: 1) {{ nodes {{ {query} }} }} }}"


# The shape of the query issue 13 ran: 10 deep, every list behind a fragment, the first page
# from a variable's default; estimated at a few hundred before, it could return millions.
ISSUE_DEPTH_10_QUERY = """
query Deep($n: Int = 100) { users(first: $n) { ...Users } }
fragment Users on UserConnection { nodes { email orders { ...Orders } } }
fragment Orders on OrderConnection { nodes { total payments { ...Payments } } }
fragment Payments on PaymentConnection {
  nodes { amount order { items { sku quantity unitPrice } user { orders { ...Ids } } } }
}
fragment Ids on OrderConnection { nodes { id } }
"""
_FULL_INTROSPECTION = get_introspection_query(descriptions=True, input_value_deprecation=True)
# GraphiQL's fragments (FullType, InputValue, TypeRef), to ask for the same types many times.
INTROSPECTION_FRAGMENTS = _FULL_INTROSPECTION[_FULL_INTROSPECTION.index("fragment FullType") :]

HOSTILE_QUERIES = [
    pytest.param(nested(6), "QUERY_TOO_DEEP", id="deep-nesting"),
    pytest.param(
        "{ " + " ".join(f"a{i}: user(id: 1) {{ email }}" for i in range(50)) + " }",
        "TOO_MANY_ALIASES",
        id="alias-bomb",
    ),
    pytest.param(
        "{ users(first: 1) { nodes { " + "email " * 1500 + "} } }",
        "TOO_MANY_TOKENS",
        id="thousands-of-repeated-fields",
    ),
    pytest.param(
        # 85 distinct selections of one response name: deduplication keeps them all, and
        # comparing every pair would cost ~180,000 calls (gateway.limits.field_merging).
        "{ "
        + " ".join(
            f"user(id: 1) {{ {' '.join(fields)} }}"
            for size in (1, 2, 3)
            for fields in itertools.permutations(
                ("id", "name", "email", "createdAt", "__typename"), size
            )
        )
        + " }",
        "VALIDATION_TOO_COMPLEX",
        id="overlapping-fields",
    ),
    pytest.param(
        "{ users(first: 1) " + "@include(if: true) " * 30 + "{ nodes { email } } }",
        "TOO_MANY_DIRECTIVES",
        id="directive-flood",
    ),
    pytest.param(
        "{ users(first: 100) { nodes { orders(first: 100) { nodes { id } } } } }",
        "QUERY_TOO_COSTLY",
        id="costly-pages",
    ),
    pytest.param(
        "# " + "x" * 20_000 + "\n{ users { nodes { email } } }",
        "QUERY_TOO_LONG",
        id="long-query",
    ),
    pytest.param(
        "fragment A on User { ...B } fragment B on User { ...A } "
        "{ users(first: 1) { nodes { ...A } } }",
        "GRAPHQL_VALIDATION_FAILED",
        id="fragment-cycle",
    ),
    pytest.param(
        # Each fragment spreads the next twice (once inside an inline fragment, so that
        # deduplicate_selections keeps both): 2**12 expansions.
        " ".join(
            f"fragment {a} on User {{ email ...{b} ... on User {{ ...{b} }} }}"
            for a, b in zip("ABCDEFGHIJKL", "BCDEFGHIJKLM", strict=True)
        )
        + " fragment M on User { email } { users(first: 1) { nodes { ...A } } }",
        "QUERY_TOO_COSTLY",
        id="fragment-bomb",
    ),
    pytest.param(
        "{ user(id: 99999999999999999999) { email } }",
        "GRAPHQL_VALIDATION_FAILED",
        id="huge-number-literal",
    ),
    pytest.param("{ users { nodes { email }", "GRAPHQL_PARSE_FAILED", id="syntax-error"),
    pytest.param("{ nope }", "GRAPHQL_VALIDATION_FAILED", id="unknown-field"),
    pytest.param(
        "{ users { nodes { nope(first: 100) { nodes { x } } } } }",
        "GRAPHQL_VALIDATION_FAILED",
        id="unknown-nested-field",
    ),
    pytest.param(
        "{ users { nodes { ... on Nope { x } } } }",
        "GRAPHQL_VALIDATION_FAILED",
        id="unknown-type-condition",
    ),
    # Each way around a cost counted on syntax (`nodes` as a direct child, no Order.items):
    # all were accepted before the cost was computed on the schema's types.
    pytest.param(
        "{ users(first: 50) { ... on UserConnection { nodes { orders { ... on OrderConnection "
        "{ nodes { payments { ... on PaymentConnection { nodes { amount } } } } } } } } } }",
        "QUERY_TOO_COSTLY",
        id="costly-through-inline-fragments",
    ),
    pytest.param(
        "{ users(first: 50) { ...U } } fragment U on UserConnection { nodes { orders { ...O } } } "
        "fragment O on OrderConnection { nodes { payments { ...P } } } "
        "fragment P on PaymentConnection { nodes { amount } }",
        "QUERY_TOO_COSTLY",
        id="costly-through-named-fragments",
    ),
    pytest.param(
        "{ users(first: 50) { ...U } } fragment U on UserConnection { ...V } "
        "fragment V on UserConnection { nodes { ...W } } "
        "fragment W on User { orders { ... on OrderConnection { ...X } } } "
        "fragment X on OrderConnection { nodes { payments { ...P } } } "
        "fragment P on PaymentConnection { nodes { amount } }",
        "QUERY_TOO_COSTLY",
        id="costly-through-nested-fragments",
    ),
    pytest.param(
        "{ a: users { ...U } b: users { ...U } c: users { ...U } } "
        "fragment U on UserConnection { nodes { orders { nodes { id items { sku } } } } }",
        "QUERY_TOO_COSTLY",
        id="costly-through-aliases",
    ),
    pytest.param(
        "query ($n: Int = 100) "
        "{ users(first: $n) { nodes { orders(first: $n) { nodes { id } } } } }",
        "QUERY_TOO_COSTLY",
        id="page-size-from-a-variable-default",
    ),
    pytest.param(
        "{ users(first: 100) { nodes { orders(first: 5) { nodes "
        "{ items { sku quantity unitPrice } } } } } }",
        "QUERY_TOO_COSTLY",
        id="order-items-multiplied",
    ),
    pytest.param(ISSUE_DEPTH_10_QUERY, "QUERY_TOO_COSTLY", id="issue-13-depth-10-query"),
    pytest.param(
        "{ "
        + " ".join(f"{alias}: __schema {{ types {{ ...FullType }} }}" for alias in "abc")
        + " } "
        + INTROSPECTION_FRAGMENTS,
        "QUERY_TOO_COSTLY",
        id="introspection-three-times-over",
    ),
]


@pytest.mark.parametrize(("query", "code"), HOSTILE_QUERIES)
async def test_hostile_query_is_refused_with_its_code_before_any_sql(
    client: httpx.AsyncClient, query: str, code: str
) -> None:
    with count_statements() as recorder:
        response = await client.post("/graphql", json={"query": query})
        await asyncio.sleep(0)
    assert codes(response) == [code]
    assert response.json()["data"] is None
    assert recorder.count == 0
    assert (await client.post("/graphql", json={"query": NORMAL})).status_code == 200


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        pytest.param(b"x" * 10_000_000, "application/json", 413, "REQUEST_TOO_LARGE", id="10MB"),
        pytest.param(
            b'{"query": "\xff\xfe{ users }"}', "application/json", 400, "INVALID_UTF8", id="utf8"
        ),
        pytest.param(b'{"query": "{ users ', "application/json", 400, "INVALID_JSON", id="json"),
        pytest.param(
            json.dumps([{"query": NORMAL}, {"query": NORMAL}]).encode(),
            "application/json",
            400,
            "BATCHING_NOT_SUPPORTED",
            id="batch",
        ),
        pytest.param(
            b'"just a string"', "application/json", 400, "BAD_REQUEST", id="not-an-object"
        ),
        pytest.param(b"{}", "application/json", 400, "MISSING_QUERY", id="no-query"),
    ],
)
async def test_malformed_bodies_are_refused_with_their_codes(
    client: httpx.AsyncClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = await client.post(
        "/graphql", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status
    assert codes(response) == [code]


async def test_a_body_streamed_past_the_limit_without_a_length_is_refused(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(200):
            yield b" " * 1000

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert codes(response) == ["REQUEST_TOO_LARGE"]


def arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def objects(depth: int) -> str:
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


TYPENAME = '"query": "{ __typename }"'

DEEP_BODIES = [
    pytest.param(arrays(1000), id="body-of-1000-arrays"),
    pytest.param(objects(1000), id="body-of-1000-objects"),
    pytest.param(f'{{{TYPENAME}, "variables": {{"a": {arrays(1000)}}}}}', id="variables-1000"),
    pytest.param(f'{{{TYPENAME}, "variables": {{"a": {objects(1000)}}}}}', id="objects-1000"),
    pytest.param(f'{{{TYPENAME}, "extensions": {{"a": {arrays(1000)}}}}}', id="extensions-1000"),
    # json.loads parses 100 levels, and every later step would walk them
    pytest.param(f'{{{TYPENAME}, "variables": {{"a": {arrays(100)}}}}}', id="variables-100"),
    pytest.param(f'{{{TYPENAME}, "variables": {{"a": {arrays(63)}}}}}', id="65-in-all"),
    pytest.param("[" * 1000, id="1000-unclosed"),
]


@pytest.mark.parametrize("body", DEEP_BODIES)
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_a_deeply_nested_json_body_is_refused_as_json_too_deep(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    response = await client.post(
        "/graphql", content=body.encode(), headers={"content-type": content_type}
    )

    assert response.status_code == 400
    assert codes(response) == ["JSON_TOO_DEEP"]
    assert "64 levels" in response.json()["errors"][0]["message"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("parameter", ["variables", "extensions"])
@pytest.mark.parametrize("depth", [100, 1000])
async def test_deeply_nested_json_in_a_get_parameter_is_refused_as_json_too_deep(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, parameter: str, depth: int
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "{ __typename }", parameter: f'{{"a": {arrays(depth)}}}'},
        headers=PREFLIGHTED,
    )

    assert response.status_code == 400
    assert codes(response) == ["JSON_TOO_DEEP"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_json_nested_64_levels_deep_in_all_is_answered(client: httpx.AsyncClient) -> None:
    nested = f'{{{TYPENAME}, "variables": {{"a": {arrays(62)}}}}}'  # body, variables, 62
    post = await client.post(
        "/graphql", content=nested.encode(), headers={"content-type": "application/json"}
    )
    get = await client.get(
        "/graphql",
        params={"query": "{ __typename }", "variables": f'{{"a": {arrays(63)}}}'},
        headers=PREFLIGHTED,
    )

    assert post.json() == {"data": {"__typename": "Query"}}
    assert get.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        pytest.param({"id": "abc"}, "BAD_USER_INPUT", id="string-for-int"),
        pytest.param({"id": 2**40}, "BAD_USER_INPUT", id="int-out-of-range"),
        pytest.param({"id": None}, "BAD_USER_INPUT", id="null-for-non-null"),
        pytest.param({}, "BAD_USER_INPUT", id="missing"),
    ],
)
async def test_wrong_variable_types_are_bad_user_input(
    client: httpx.AsyncClient, variables: dict[str, Any], code: str
) -> None:
    query = "query ($id: Int!) { user(id: $id) { email } }"
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert codes(response) == [code]


async def test_a_huge_string_within_the_body_limit_is_bad_user_input_and_stores_nothing(
    client: httpx.AsyncClient, raw_connection: asyncpg.Connection
) -> None:
    query = 'mutation ($n: String!) { createUser(input: {email: "a@b.co", name: $n}) { id } }'
    response = await client.post(
        "/graphql", json={"query": query, "variables": {"n": "x" * 90_000}}
    )
    assert codes(response) == ["BAD_USER_INPUT"]
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 0


async def test_an_unknown_operation_name_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "query Known { users { nodes { email } } }", "operationName": "Nope"},
    )
    assert response.status_code == 400
    assert codes(response) == ["UNKNOWN_OPERATION_NAME"]


async def test_hostile_requests_do_not_stop_normal_ones_served_alongside(
    client: httpx.AsyncClient,
) -> None:
    hostile = [
        client.post("/graphql", json={"query": query})
        for query in [nested(8), "{ users { nodes { " + "email " * 5000 + "} } }"] * 10
    ]
    normal = [client.post("/graphql", json={"query": NORMAL}) for _ in range(10)]
    responses = await asyncio.gather(*hostile, *normal)
    assert all(r.status_code == 200 and "errors" not in r.json() for r in responses[-10:])
    assert all("errors" in r.json() for r in responses[:-10])


@pytest.mark.parametrize(
    ("method", "headers", "content"),
    [
        pytest.param(
            "POST", {"content-type": "text/plain"}, json.dumps({"query": NORMAL}), id="text/plain"
        ),
        pytest.param(
            "POST",
            {"content-type": "application/x-www-form-urlencoded"},
            "query=" + NORMAL,
            id="form",
        ),
        pytest.param(
            "POST", {"content-type": "multipart/form-data; boundary=x"}, "--x--", id="multipart"
        ),
        pytest.param("POST", {}, json.dumps({"query": NORMAL}), id="no-content-type"),
    ],
)
async def test_csrf_prevention_refuses_requests_a_browser_sends_without_preflight(
    client_factory: ClientFactory, method: str, headers: dict[str, str], content: str
) -> None:
    async with client_factory(token=None) as client:  # no Authorization header either
        response = await client.request(method, "/graphql", headers=headers, content=content)
    assert response.status_code == 400
    assert codes(response) == ["CSRF_PREVENTED"]


async def test_csrf_prevention_lets_json_and_preflighted_requests_through(
    client_factory: ClientFactory,
) -> None:
    async with client_factory(token=None) as client:
        plain_get = await client.get("/graphql", params={"query": ANONYMOUS_QUERY})
        preflighted = await client.get(
            "/graphql",
            params={"query": ANONYMOUS_QUERY},
            headers={"apollo-require-preflight": "true"},
        )
        named = await client.get(
            "/graphql", params={"query": ANONYMOUS_QUERY}, headers={"x-apollo-operation-name": "Me"}
        )
        as_json = await client.post("/graphql", json={"query": ANONYMOUS_QUERY})
        # A browser preflights an Authorization header cross-site, as it does these others.
        signed_in = await client.get(
            "/graphql", params={"query": NORMAL}, headers=bearer(ADMIN_TOKEN)
        )
    assert codes(plain_get) == ["CSRF_PREVENTED"]
    assert "apollo-require-preflight" in plain_get.json()["errors"][0]["message"]
    for response in (preflighted, named, as_json, signed_in):
        assert response.status_code == 200
        assert "errors" not in response.json()


async def test_csrf_prevention_can_be_turned_off(client_factory: ClientFactory) -> None:
    async with client_factory(token=None, csrf_prevention=False) as client:
        response = await client.get("/graphql", params={"query": ANONYMOUS_QUERY})
    assert response.status_code == 200


async def test_cors_allows_only_listed_origins(client_factory: ClientFactory) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    async with client_factory(cors_origins=("https://shop.example",)) as client:
        allowed = await client.options(
            "/graphql", headers={"origin": "https://shop.example", **preflight}
        )
        refused = await client.options(
            "/graphql", headers={"origin": "https://evil.example", **preflight}
        )
        simple = await client.post(
            "/graphql", json={"query": NORMAL}, headers={"origin": "https://shop.example"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://shop.example"


async def test_no_origin_is_allowed_cross_site_by_default(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": NORMAL}, headers={"origin": "https://shop.example"}
    )
    assert "access-control-allow-origin" not in response.headers


INTROSPECTION = "{ __schema { queryType { name } types { name fields { name } } } }"


async def test_development_allows_introspection_suggestions_and_graphiql(
    client: httpx.AsyncClient,
) -> None:
    introspection = await client.post("/graphql", json={"query": INTROSPECTION})
    typo = await client.post("/graphql", json={"query": "{ usr { nodes { email } } }"})
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert introspection.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert "Did you mean" in typo.json()["errors"][0]["message"]
    assert page.headers["content-type"].startswith("text/html")


async def test_production_hides_introspection_suggestions_and_graphiql(
    client_factory: ClientFactory,
) -> None:
    async with client_factory(production=True) as client:
        introspection = await client.post("/graphql", json={"query": INTROSPECTION})
        typo = await client.post("/graphql", json={"query": "{ usr { nodes { email } } }"})
        page = await client.get("/graphql", headers={"accept": "text/html"})
        normal = await client.post("/graphql", json={"query": NORMAL})
    assert set(codes(introspection)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert introspection.json()["data"] is None
    assert codes(typo) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in typo.text
    assert "users" not in typo.json()["errors"][0]["message"]
    assert not page.headers.get("content-type", "").startswith("text/html")
    assert "errors" not in normal.json()


PLACE_ORDER = "mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }"


async def test_production_hides_suggestions_in_variables_and_input_fields(
    client_factory: ClientFactory,
) -> None:
    misspelt = {"userid": 1, "items": []}  # the field is userId
    async with client_factory(production=True) as client:
        with count_statements() as recorder:
            variable = await client.post(
                "/graphql", json={"query": PLACE_ORDER, "variables": {"input": misspelt}}
            )
            literal = await client.post(
                "/graphql",
                json={"query": "mutation { placeOrder(input: {userid: 1, items: []}) { id } }"},
            )

    assert set(codes(variable)) == {"BAD_USER_INPUT"}
    assert set(codes(literal)) == {"GRAPHQL_VALIDATION_FAILED"}
    for response in (variable, literal):
        assert "unknown field 'userid'" in response.text  # still says what is wrong
        assert "Did you mean" not in response.text
        assert "'userId'?" not in response.text
    assert recorder.count == 0


async def test_production_can_keep_graphiql_when_asked(client_factory: ClientFactory) -> None:
    async with client_factory(production=True, graphiql=True) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")


async def test_graphiqls_full_introspection_query_fits_the_default_limits(
    client: httpx.AsyncClient,
) -> None:
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    response = await client.post("/graphql", json={"query": query})
    assert "errors" not in response.json()
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_page_sizes_in_variables_count_toward_the_cost(client: httpx.AsyncClient) -> None:
    query = "query ($n: Int) { users(first: $n) { nodes { orders(first: $n) { nodes { id } } } } }"
    small = await client.post("/graphql", json={"query": query, "variables": {"n": 10}})
    large = await client.post("/graphql", json={"query": query, "variables": {"n": 100}})
    assert "errors" not in small.json()
    assert codes(large) == ["QUERY_TOO_COSTLY"]


def test_limits_are_read_from_the_environment() -> None:
    settings = Settings.from_env({"GATEWAY_MAX_DEPTH": "4", "GATEWAY_MAX_COST": "100"})
    assert (settings.limits.max_depth, settings.limits.max_cost) == (4, 100)
    assert settings.limits.max_aliases == Limits().max_aliases


async def test_the_readmes_costly_example_is_refused_and_smaller_pages_pass(
    client: httpx.AsyncClient,
) -> None:
    costly = "{ users(first: 50) { nodes { orders { nodes { payments { nodes { amount } } } } } } }"
    smaller = (
        "{ users(first: 50) { nodes { orders(first: 5) { nodes "
        "{ payments(first: 5) { nodes { amount } } } } } } }"
    )
    assert codes(await client.post("/graphql", json={"query": costly})) == ["QUERY_TOO_COSTLY"]
    assert "errors" not in (await client.post("/graphql", json={"query": smaller})).json()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_a_method_other_than_get_and_post_is_refused_with_its_code(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, "/graphql", json={"query": NORMAL}, headers=PREFLIGHTED)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]
    assert response.json()["data"] is None
