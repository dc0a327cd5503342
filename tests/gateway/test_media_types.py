"""Content negotiation as the GraphQL-over-HTTP specification says (gateway.http.media_types):
application/graphql-response+json when the client accepts it, 400 and no `data` for a
request that could not be executed, 200 for field errors; application/json as before for
clients that ask only for it; 406 for an Accept neither satisfies. Every refusal, from
whichever layer, is one GraphQL error in the negotiated type with its code, a correlation
id, a log line and a metric."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.http.media_types import GRAPHQL_RESPONSE, JSON, negotiate
from gateway.http.persisted import sha256_hex
from tests.asgi import PREFLIGHTED, serve
from tests.gateway.serving import app_for, sample, scrape

ACCEPT_GRAPHQL = {"accept": GRAPHQL_RESPONSE}
ACCEPT_JSON = {"accept": JSON}
MANY_USERS = "{ users(first: 100) { nodes { orders(first: 100) { nodes { items { sku } } } } } }"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        (b"", JSON),
        (b"*/*", JSON),
        (b"application/*", JSON),
        (b"application/json", JSON),
        (b"application/graphql-response+json", GRAPHQL_RESPONSE),
        (b"application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE),
        (b"application/json, application/graphql-response+json;q=0.5", JSON),
        (b"Application/GraphQL-Response+JSON; charset=utf-8", GRAPHQL_RESPONSE),
        (b"application/graphql-response+json;q=0, */*", JSON),
        (b"text/html", None),
        (b"application/json;q=0", None),
        (b"text/event-stream", JSON),  # a stream request: Strawberry's to answer
        (b"text/html;q=bad, application/xml", None),
    ],
)
def test_negotiate_picks_the_media_type_the_accept_header_prefers(
    accept: bytes | None, chosen: str | None
) -> None:
    assert negotiate(accept) == chosen


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app_for(database_url), token=None) as client:
        yield client


async def ask(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ me { id ", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ me { nope } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query ($id: Int!) { user(id: $id) { id } }", {"id": "seven"}, "BAD_USER_INPUT"),
        (MANY_USERS, {}, "QUERY_TOO_COSTLY"),
    ],
    ids=["parse", "validation", "variables", "cost"],
)
async def test_a_request_that_cannot_run_is_400_without_data_when_the_client_accepts_it(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], code: str
) -> None:
    modern = await ask(client, query, ACCEPT_GRAPHQL, **variables)
    legacy = await ask(client, query, ACCEPT_JSON, **variables)

    assert modern.status_code == 400
    assert modern.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in modern.json()
    assert codes(modern) == [code]
    assert modern.headers["x-correlation-id"]
    # application/json, as clients before the specification expect: 200 and data null.
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == JSON
    assert legacy.json()["data"] is None
    assert codes(legacy) == [code]


async def test_field_errors_of_an_executed_request_are_200_with_data(
    client: httpx.AsyncClient,
) -> None:
    response = await ask(client, "{ me { id } users { nodes { id } } }", ACCEPT_GRAPHQL)

    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["data"] == {"me": None, "users": None}
    assert codes(response) == ["FORBIDDEN"]


async def test_a_get_is_negotiated_as_a_post_is(client: httpx.AsyncClient) -> None:
    ok = await client.get(
        "/graphql", params={"query": "{ me { id } }"}, headers=ACCEPT_GRAPHQL | PREFLIGHTED
    )
    bad = await client.get(
        "/graphql", params={"query": "{ me { nope } }"}, headers=ACCEPT_GRAPHQL | PREFLIGHTED
    )

    assert (ok.status_code, ok.headers["content-type"]) == (200, GRAPHQL_RESPONSE)
    assert ok.json() == {"data": {"me": None}}
    assert (bad.status_code, bad.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
    assert "data" not in bad.json()


async def test_an_accept_nothing_satisfies_is_406_but_graphiqls_page_still_opens(
    client: httpx.AsyncClient,
) -> None:
    refused = await ask(client, "{ me { id } }", {"accept": "text/html"})
    page = await client.get("/graphql", headers={"accept": "text/html"})

    assert refused.status_code == 406
    assert codes(refused) == ["NOT_ACCEPTABLE"]
    assert refused.headers["x-correlation-id"]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_a_persisted_query_the_server_does_not_know_yet_stays_200(
    client: httpx.AsyncClient,
) -> None:
    # A persisted-queries link sends the document next; a 400 would turn its APQ off.
    query = "{ me { id } }"
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    unknown = await client.post("/graphql", json={"extensions": persisted}, headers=ACCEPT_GRAPHQL)

    assert unknown.status_code == 200
    assert unknown.headers["content-type"] == GRAPHQL_RESPONSE
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]


REFUSALS = [
    pytest.param("POST", {"content-type": "text/plain"}, b'{"query": "{ me { id } }"}',
                 "CSRF_PREVENTED", 400, id="csrf"),
    pytest.param("POST", {"content-type": "application/json"}, b"{", "INVALID_JSON", 400,
                 id="invalid-json"),
    pytest.param("POST", {"content-type": "application/json"}, b'[{"query": "{ me { id } }"}]',
                 "BATCHING_NOT_SUPPORTED", 400, id="batch"),
    pytest.param("POST", {"content-type": "application/json"},
                 b'{"query": "query A { me { id } }", "operationName": "B"}',
                 "UNKNOWN_OPERATION_NAME", 400, id="unknown-operation"),
    pytest.param("POST", {"content-type": "application/json"}, b"", "BAD_REQUEST", 400,
                 id="no-body"),
    pytest.param("PUT", {"content-type": "application/json"}, b"{}", "METHOD_NOT_ALLOWED", 405,
                 id="method"),
    pytest.param("POST", {"content-type": "application/json", "authorization": "Bearer nope"},
                 b'{"query": "{ me { id } }"}', "UNAUTHENTICATED", 401, id="bad-token"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "headers", "body", "code", "status"), REFUSALS)
async def test_every_refusal_is_one_coded_error_in_the_negotiated_type_logged_and_counted(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    headers: dict[str, str],
    body: bytes,
    code: str,
    status: int,
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        modern = await client.request(
            method, "/graphql", content=body, headers=headers | ACCEPT_GRAPHQL
        )
        legacy = await client.request(method, "/graphql", content=body, headers=headers)
    text = await scrape(client)

    assert (modern.status_code, legacy.status_code) == (status, status)
    assert modern.headers["content-type"] == GRAPHQL_RESPONSE
    assert modern.json() == {"errors": [{"message": modern.json()["errors"][0]["message"],
                                         "extensions": {"code": code}}]}  # fmt: skip
    assert legacy.headers["content-type"] == JSON
    assert legacy.json()["data"] is None
    assert codes(legacy) == [code]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.request"]
    assert [line["error_codes"] for line in lines] == [[code], [code]]
    assert [line["correlation_id"] for line in lines] == [
        modern.headers["x-correlation-id"],
        legacy.headers["x-correlation-id"],
    ]
    assert sample(text, "gateway_graphql_errors_total", code=code) == 2
