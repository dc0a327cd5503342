"""One JSON log line per GraphQL request, and one correlation id per request, over HTTP.

The id is in the `x-correlation-id` header, in the request's line on `gateway.request`, and in
a masked error's `extensions.correlationId` with the server's error log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.asgi import PREFLIGHTED, serve
from tests.gateway.serving import app_for, migrations_with_reviews


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "gateway.request"
    ]


async def test_each_request_logs_one_json_line_with_what_it_did(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        async with serve(app_for(database_url)) as client:
            response = await client.post(
                "/graphql",
                json={
                    "query": "query UserList { users { nodes { id } } }",
                    "operationName": "UserList",
                },
            )

    [line] = request_lines(caplog)
    assert response.status_code == 200
    assert line["event"] == "graphql_request"
    assert line["operation"] == "UserList"
    assert line["status"] == 200
    assert line["error_codes"] == []
    assert line["statements"] >= 1  # the users page (plus asyncpg's first type lookups)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["persisted_hash"] is None


async def test_the_correlation_id_is_in_the_header_and_the_log_line_and_new_per_request(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        async with serve(app_for(database_url)) as client:
            first = await client.post("/graphql", json={"query": "{ __typename }"})
            second = await client.post("/graphql", json={"query": "{ __typename }"})

    ids = [first.headers["x-correlation-id"], second.headers["x-correlation-id"]]
    assert [line["correlation_id"] for line in request_lines(caplog)] == ids
    assert ids[0] != ids[1]
    assert all(len(value) == 32 for value in ids)


async def test_error_codes_and_the_anonymous_operation_are_logged(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        async with serve(app_for(database_url)) as client:
            await client.post("/graphql", json={"query": "{ nosuchfield }"})
            await client.post("/graphql", json={"query": "{ users { nodes { id } "})

    assert [(line["operation"], line["error_codes"]) for line in request_lines(caplog)] == [
        (None, ["GRAPHQL_VALIDATION_FAILED"]),
        (None, ["GRAPHQL_PARSE_FAILED"]),
    ]


async def test_a_request_strawberry_refuses_is_logged_with_the_status_and_code_it_got(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    mutation = 'mutation Sneaky { createUser(input: {email: "a@example.com", name: "A"}) { id } }'

    with caplog.at_level(logging.INFO, logger="gateway.request"):
        async with serve(app_for(database_url)) as client:
            response = await client.get(
                "/graphql",
                params={"query": mutation, "operationName": "Sneaky"},
                headers=PREFLIGHTED,
            )

    [line] = request_lines(caplog)
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "MUTATION_OVER_GET"
    # Logged with the status and code the client got.
    assert line["status"] == 405
    assert line["error_codes"] == ["MUTATION_OVER_GET"]
    assert line["operation"] == "Sneaky"
    assert line["statements"] == 0


async def test_a_masked_error_carries_the_requests_correlation_id(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_for(
        database_url,
        with_reviews=True,  # its reviewDigest field raises an unexpected error
        migrations_dir=migrations_with_reviews(tmp_path),
    )

    with caplog.at_level(logging.INFO, logger="gateway"):
        async with serve(app) as client:
            response = await client.post(
                "/graphql",
                json={"query": "query Digest { reviewDigest }", "operationName": "Digest"},
            )

    correlation_id = response.headers["x-correlation-id"]
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id}
    [line] = request_lines(caplog)
    assert line["correlation_id"] == correlation_id
    assert line["error_codes"] == ["INTERNAL_SERVER_ERROR"]
    [logged_error] = [r for r in caplog.records if r.name == "gateway.graphql.errors"]
    assert correlation_id in logged_error.getMessage()
    assert logged_error.exc_info is not None
