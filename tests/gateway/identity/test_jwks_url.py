"""A JWKS URL, served by a real local HTTP server: fetched at startup, again for a rotated
key (at most once per interval, however many unknown kids arrive), and a key server that does
not answer stops the startup with a clear error."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from gateway.identity.config import AuthSettings
from gateway.identity.keys import KeyLoadError
from tests.asgi import serve
from tests.gateway.identity.keys import AUDIENCE, ISSUER, KeyPair, claims, jwks
from tests.gateway.serving import app_for
from tests.gateway_process import free_port

OLD = KeyPair("old", "RS256")
NEW = KeyPair("new", "ES256")


class KeyServer:
    """Serves `document` at /jwks.json and counts the requests."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.requests = 0
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                keys.requests += 1
                body = json.dumps(keys.document).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    keys = KeyServer(jwks(OLD))
    thread = threading.Thread(target=keys.server.serve_forever, daemon=True)
    thread.start()
    yield keys
    keys.server.shutdown()
    keys.server.server_close()


def _auth(url: str) -> AuthSettings:
    return AuthSettings(jwks_url=url, issuer=ISSUER, audience=AUDIENCE, jwks_timeout=2)


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"authorization": f"Bearer {token}"},
    )


async def test_keys_are_fetched_at_startup_and_again_for_a_rotated_key_only_once(
    database_url: str, key_server: KeyServer
) -> None:
    async with serve(app_for(database_url, auth=_auth(key_server.url)), token=None) as client:
        assert key_server.requests == 1  # at startup
        old = await _me(client, OLD.sign(claims()))
        key_server.document = jwks(OLD, NEW)  # the issuer rotates
        new = await _me(client, NEW.sign(claims()))
        after_rotation = key_server.requests
        # A flood of made-up kids: no fetch per token (the last one was just now).
        floods = [await _me(client, NEW.sign(claims(), kid=f"made-up-{n}")) for n in range(20)]

    assert old.status_code == 200, old.text
    assert new.status_code == 200, new.text
    assert after_rotation == 2
    assert {response.status_code for response in floods} == {401}
    assert key_server.requests == 2


async def test_a_key_server_that_does_not_answer_stops_the_startup(database_url: str) -> None:
    app = app_for(database_url, auth=_auth(f"http://127.0.0.1:{free_port()}/jwks.json"))
    with pytest.raises(KeyLoadError, match="cannot fetch"):
        async with serve(app):
            pass


async def test_a_key_the_issuer_withdrew_stops_verifying_once_the_keys_are_stale(
    database_url: str, key_server: KeyServer
) -> None:
    auth = replace(_auth(key_server.url), jwks_max_age=0.2)
    async with serve(app_for(database_url, auth=auth), token=None) as client:
        before = await _me(client, OLD.sign(claims()))
        key_server.document = jwks(NEW)  # OLD withdrawn (compromised, say)
        await asyncio.sleep(0.3)  # past the keys' max age
        after = await _me(client, OLD.sign(claims()))
        new = await _me(client, NEW.sign(claims()))

    assert before.status_code == 200, before.text
    assert after.status_code == 401
    assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert new.status_code == 200, new.text
