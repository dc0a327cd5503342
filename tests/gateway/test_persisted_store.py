"""APQ documents shared by every process over one database (gateway.http.persisted_store).

Two apps on one database stand for two workers: each has its own pool and its own LRU, so
only the shared table can carry a document registered through one to the other.
"""

from __future__ import annotations

import logging

import asyncpg
import pytest

import services
from gateway.app import create_app
from gateway.db import AsyncDatabaseManager
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.service import Service
from gateway.http.persisted import sha256_hex
from gateway.http.persisted_store import GATEWAY_SCHEMA, SharedDocuments, migrate_gateway_schema
from tests.asgi import serve
from tests.gateway.serving import REPO_MIGRATIONS, app_for, post
from tests.gateway.test_persisted import USERS, by_hash, code_of
from tests.tokens import app_settings


async def test_a_document_registered_through_one_app_runs_by_hash_on_another(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as first, serve(app_for(database_url)) as second:
        registered = await post(first, query=USERS, extensions=by_hash(USERS))
        by_hash_elsewhere = await post(second, extensions=by_hash(USERS))

    assert registered == {"data": {"users": {"nodes": []}}}
    assert by_hash_elsewhere == registered


async def test_without_the_shared_store_another_app_does_not_know_the_hash(
    database_url: str,
) -> None:
    local_only = {"persisted_store_bytes": 0}
    async with (
        serve(app_for(database_url, **local_only)) as first,
        serve(app_for(database_url, **local_only)) as second,
    ):
        await post(first, query=USERS, extensions=by_hash(USERS))
        missed = await post(second, extensions=by_hash(USERS))
        again_on_first = await post(first, extensions=by_hash(USERS))

    assert code_of(missed) == "PERSISTED_QUERY_NOT_FOUND"
    assert again_on_first == {"data": {"users": {"nodes": []}}}
    conn = await asyncpg.connect(database_url)
    try:
        assert not await conn.fetchval(
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", GATEWAY_SCHEMA
        )
    finally:
        await conn.close()


async def test_a_document_that_failed_validation_is_not_shared(database_url: str) -> None:
    broken = "{ users { nosuchfield } }"
    async with serve(app_for(database_url)) as first, serve(app_for(database_url)) as second:
        refused = await post(first, query=broken, extensions=by_hash(broken))
        missed = await post(second, extensions=by_hash(broken))

    assert code_of(refused) == "GRAPHQL_VALIDATION_FAILED"
    assert code_of(missed) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_stored_row_that_does_not_hash_to_its_key_is_not_run(database_url: str) -> None:
    forged = 'mutation { createUser(input: {email: "x@example.com", name: "X"}) { id } }'
    async with serve(app_for(database_url)) as first, serve(app_for(database_url)) as second:
        await post(first, query=USERS, extensions=by_hash(USERS))
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "UPDATE gateway.persisted_documents SET document = $1 WHERE sha256 = $2",
                forged,
                sha256_hex(USERS),
            )
        finally:
            await conn.close()
        answer = await post(second, extensions=by_hash(USERS))

    assert code_of(answer) == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_unavailable_store_costs_a_miss_never_the_request(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(app_for(database_url)) as client:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f"DROP SCHEMA {GATEWAY_SCHEMA} CASCADE")
        finally:
            await conn.close()
        with caplog.at_level(logging.WARNING, logger="gateway.persisted"):
            missed = await post(client, extensions=by_hash(USERS))
            registered = await post(client, query=USERS, extensions=by_hash(USERS))
            by_hash_here = await post(client, extensions=by_hash(USERS))

    assert code_of(missed) == "PERSISTED_QUERY_NOT_FOUND"
    assert registered == by_hash_here == {"data": {"users": {"nodes": []}}}
    warnings = [record.getMessage() for record in caplog.records]
    assert (
        "shared persisted documents unavailable (lookup): QueryError (UndefinedTableError)"
        in warnings
    )
    assert (
        "shared persisted documents unavailable (register): QueryError (UndefinedTableError)"
        in warnings
    )
    assert not any("persisted_documents" in message for message in warnings)  # no SQL text


async def test_the_table_is_held_to_its_bytes_least_recently_used_dropped(
    shared_pool: object,
) -> None:
    await migrate_gateway_schema(shared_pool)
    store = SharedDocuments(
        AsyncDatabaseManager(pool=shared_pool, schema=GATEWAY_SCHEMA),
        max_bytes=3 * 100,
        trim_interval=0,
    )
    documents = [f"query Q{n:02} {{ __typename }}".ljust(100) for n in range(10)]
    await store.put(sha256_hex(documents[0]), documents[0])
    for document in documents[1:]:
        await store.put(sha256_hex(document), document)
        assert await store.get(sha256_hex(documents[0])) == documents[0]  # kept by being used

    assert await store.total_bytes() <= store.max_bytes
    kept = [document for document in documents if await store.get(sha256_hex(document))]
    assert kept == [documents[0], documents[8], documents[9]]


async def test_trimming_waits_for_its_interval(shared_pool: object) -> None:
    await migrate_gateway_schema(shared_pool)
    store = SharedDocuments(
        AsyncDatabaseManager(pool=shared_pool, schema=GATEWAY_SCHEMA),
        max_bytes=100,
        trim_interval=3600,
    )
    documents = [f"query Q{n} {{ __typename }}".ljust(100) for n in range(5)]
    for document in documents:
        await store.put(sha256_hex(document), document)

    assert await store.total_bytes() == 5 * 100  # trimmed after the first put only
    assert await store.trim() == 4
    assert await store.total_bytes() == 100


def test_no_service_may_take_the_gateways_schema(database_url: str) -> None:
    impostor = Service(name=GATEWAY_SCHEMA)
    settings = app_settings(database_url=database_url, migrations_dir=REPO_MIGRATIONS)

    with pytest.raises(ServiceConfigurationError, match="No service may be called 'gateway'"):
        create_app(settings, [*services.SERVICES, impostor])
