"""Persisted operations over HTTP: Apollo's APQ protocol, the allow-list, and turning them off.

A persisted request names its document by SHA-256 in `extensions.persistedQuery`, in a POST
body or in a GET's `extensions` parameter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.execution.byte_cache import TEXT_BYTES_PER_CHAR, estimated_bytes
from gateway.http.persisted import (
    PersistedQueries,
    PersistedQueryNotFound,
    persisted_mode,
    sha256_hex,
)
from gateway.settings import Settings
from tests.asgi import PREFLIGHTED, serve
from tests.gateway.serving import app_for, post

USERS = "query Users { users { nodes { email } } }"
CREATE_USER = (
    'mutation CreateUser { createUser(input: {email: "ada@example.com", name: "Ada"}) { id } }'
)


def by_hash(document: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256_hex(document)}}


def code_of(body: dict[str, Any]) -> str:
    [error] = body["errors"]
    code: str = error["extensions"]["code"]
    return code


def write_manifest(tmp_path: Path, *documents: str) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({sha256_hex(document): document for document in documents}))
    return path


async def get_by_hash(client: httpx.AsyncClient, document: str) -> httpx.Response:
    return await client.get(
        "/graphql",
        params={"extensions": json.dumps(by_hash(document))},
        headers={**PREFLIGHTED, "accept": "*/*"},
    )


# --- automatic persisted queries (the default) ----------------------------------------------


async def test_a_hash_alone_that_was_never_registered_is_persisted_query_not_found(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as client:
        body = await post(client, extensions=by_hash(USERS))

    assert body["data"] is None
    [error] = body["errors"]
    assert error == {
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
    }


async def test_document_and_hash_register_it_and_then_the_hash_alone_runs_it(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as client:
        missed = await post(client, extensions=by_hash(USERS))
        registered = await post(client, query=USERS, extensions=by_hash(USERS))
        by_hash_only = await post(client, extensions=by_hash(USERS), operationName="Users")

    assert code_of(missed) == "PERSISTED_QUERY_NOT_FOUND"
    assert registered == {"data": {"users": {"nodes": []}}}
    assert by_hash_only == {"data": {"users": {"nodes": []}}}


async def test_a_get_with_the_extensions_parameter_runs_a_registered_query(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as client:
        await post(client, query=USERS, extensions=by_hash(USERS))
        response = await get_by_hash(client, USERS)

    assert response.status_code == 200
    assert response.json() == {"data": {"users": {"nodes": []}}}


async def test_a_get_with_the_hash_of_a_registered_mutation_is_refused(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    async with serve(app_for(database_url)) as client:
        registered = await post(client, query=CREATE_USER, extensions=by_hash(CREATE_USER))
        response = await get_by_hash(client, CREATE_USER)

    assert "errors" not in registered
    assert 400 <= response.status_code < 500
    assert "mutations are not allowed" in response.text.lower()
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 1


async def test_a_document_that_does_not_match_its_hash_is_refused_and_not_registered(
    database_url: str,
) -> None:
    other = "query Other { users { nodes { name } } }"

    async with serve(app_for(database_url)) as client:
        mismatch = await post(client, query=other, extensions=by_hash(USERS))
        afterwards = await post(client, extensions=by_hash(USERS))

    assert mismatch["data"] is None
    assert code_of(mismatch) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert code_of(afterwards) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_that_fails_validation_is_not_registered(database_url: str) -> None:
    invalid = "{ nosuchfield }"

    async with serve(app_for(database_url)) as client:
        first = await post(client, query=invalid, extensions=by_hash(invalid))
        again = await post(client, extensions=by_hash(invalid))

    assert code_of(first) == "GRAPHQL_VALIDATION_FAILED"
    assert code_of(again) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("persisted_query", "message"),
    [
        pytest.param({"version": 2, "sha256Hash": "0" * 64}, "version 1", id="version"),
        pytest.param({"version": 1, "sha256Hash": "not-a-hash"}, "SHA-256", id="hash"),
        pytest.param("abc", "must be an object", id="shape"),
    ],
)
async def test_a_malformed_persisted_query_is_bad_user_input(
    database_url: str, persisted_query: Any, message: str
) -> None:
    async with serve(app_for(database_url)) as client:
        body = await post(client, extensions={"persistedQuery": persisted_query})

    assert code_of(body) == "BAD_USER_INPUT"
    assert message in body["errors"][0]["message"]


async def test_plain_queries_still_run_with_apq_on(database_url: str) -> None:
    async with serve(app_for(database_url)) as client:
        body = await post(client, query=USERS)

    assert body == {"data": {"users": {"nodes": []}}}


async def test_the_apq_cache_keeps_the_most_recently_used_documents() -> None:
    documents = [f"query Q{n} {{ __typename }}" for n in range(3)]
    two_documents = 2 * estimated_bytes(len(documents[0]), TEXT_BYTES_PER_CHAR)
    persisted = PersistedQueries("apq", cache_bytes=two_documents)
    await persisted.register(sha256_hex(documents[0]), documents[0])
    await persisted.register(sha256_hex(documents[1]), documents[1])
    await persisted.resolve(None, by_hash(documents[0]))  # used: documents[1] is now the oldest
    await persisted.register(sha256_hex(documents[2]), documents[2])

    assert (await persisted.resolve(None, by_hash(documents[0]))).query == documents[0]
    assert (await persisted.resolve(None, by_hash(documents[2]))).query == documents[2]
    with pytest.raises(PersistedQueryNotFound):
        await persisted.resolve(None, by_hash(documents[1]))


# --- persisted queries off ------------------------------------------------------------------


async def test_with_persisted_queries_off_a_hash_is_not_supported(database_url: str) -> None:
    async with serve(app_for(database_url, persisted_queries="off")) as client:
        by_hash_only = await post(client, extensions=by_hash(USERS))
        with_document = await post(client, query=USERS, extensions=by_hash(USERS))
        plain = await post(client, query=USERS)

    assert code_of(by_hash_only) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert code_of(with_document) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert plain == {"data": {"users": {"nodes": []}}}


# --- allow-list -----------------------------------------------------------------------------


async def test_the_allow_list_runs_its_documents_by_hash_and_by_text(
    database_url: str, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path, USERS)
    app = app_for(database_url, persisted_queries="allowlist", persisted_manifest=manifest)

    async with serve(app) as client:
        hashed = await post(client, extensions=by_hash(USERS))
        text = await post(client, query=USERS)
        both = await post(client, query=USERS, extensions=by_hash(USERS))
        over_get = await get_by_hash(client, USERS)

    for body in (hashed, text, both, over_get.json()):
        assert body == {"data": {"users": {"nodes": []}}}


async def test_the_allow_list_refuses_every_other_document(
    database_url: str, tmp_path: Path, raw_connection: asyncpg.Connection
) -> None:
    manifest = write_manifest(tmp_path, USERS)
    app = app_for(database_url, persisted_queries="allowlist", persisted_manifest=manifest)
    reformatted = USERS.replace(" ", "  ")

    async with serve(app) as client:
        mutation = await post(client, query=CREATE_USER)
        unknown_hash = await post(client, extensions=by_hash(CREATE_USER))
        whitespace = await post(client, query=reformatted)

    for body in (mutation, unknown_hash, whitespace):
        assert body["data"] is None
        assert code_of(body) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 0


async def test_the_allow_list_does_not_register_documents_sent_with_their_hash(
    database_url: str, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path, USERS)
    app = app_for(database_url, persisted_queries="allowlist", persisted_manifest=manifest)
    other = "query Emails { users { nodes { email } } }"

    async with serve(app) as client:
        registering = await post(client, query=other, extensions=by_hash(other))
        afterwards = await post(client, extensions=by_hash(other))

    assert code_of(registering) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert code_of(afterwards) == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_the_allow_list_checks_a_hash_sent_with_a_document(
    database_url: str, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path, USERS, CREATE_USER)
    app = app_for(database_url, persisted_queries="allowlist", persisted_manifest=manifest)

    async with serve(app) as client:
        body = await post(client, query=USERS, extensions=by_hash(CREATE_USER))

    assert code_of(body) == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_manifest_documents_also_run_by_hash_in_apq_mode(
    database_url: str, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path, USERS)
    app = app_for(database_url, persisted_manifest=manifest)

    async with serve(app) as client:
        body = await post(client, extensions=by_hash(USERS))

    assert body == {"data": {"users": {"nodes": []}}}


def test_allowlist_mode_without_a_manifest_fails_when_the_app_is_made(database_url: str) -> None:
    with pytest.raises(ValueError, match="GATEWAY_PERSISTED_MANIFEST"):
        app_for(database_url, persisted_queries="allowlist")


def test_a_manifest_key_that_is_not_its_documents_sha256_fails_naming_the_file(
    database_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({"a" * 40: USERS}))  # codegen's default hash is sha1

    with pytest.raises(ValueError, match=r"persisted-documents\.json.*hashAlgorithm: 'sha256'"):
        app_for(database_url, persisted_queries="allowlist", persisted_manifest=manifest)


def test_a_manifest_that_is_no_json_object_fails(database_url: str, tmp_path: Path) -> None:
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps([USERS]))

    with pytest.raises(ValueError, match="must be a JSON object"):
        app_for(database_url, persisted_queries="allowlist", persisted_manifest=manifest)


# --- settings -------------------------------------------------------------------------------


def test_settings_read_the_mode_and_the_manifest_from_the_environment(tmp_path: Path) -> None:
    manifest = tmp_path / "documents.json"
    settings = Settings.from_env(
        {"GATEWAY_PERSISTED_QUERIES": "allowlist", "GATEWAY_PERSISTED_MANIFEST": str(manifest)}
    )
    defaults = Settings.from_env({})

    assert (settings.persisted_queries, settings.persisted_manifest) == ("allowlist", manifest)
    assert (defaults.persisted_queries, defaults.persisted_manifest) == ("apq", None)


def test_an_unknown_mode_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"use off, apq .* or allowlist"):
        persisted_mode("sometimes")
