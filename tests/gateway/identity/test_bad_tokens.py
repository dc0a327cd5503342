"""Bearer tokens an attacker would send, through the real app over HTTP.

Each one is refused 401 UNAUTHENTICATED with `WWW-Authenticate`, before any SQL statement,
and no log line carries it; the good tokens of each kind (HS256 with the secret, RS256 and
ES256 from the JWKS) name their viewer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from gateway.db import count_statements
from gateway.identity.config import AuthSettings
from gateway.identity.development import mint_token
from gateway.identity.tokens import MAX_TOKEN_BYTES
from tests.asgi import serve
from tests.gateway.identity.keys import AUDIENCE, ISSUER, KeyPair, claims, jwks
from tests.gateway.serving import app_for
from tests.tokens import TEST_SECRET

ME = "{ me { id email } }"
RSA = KeyPair("rsa-1", "RS256")
EC = KeyPair("ec-1", "ES256")
IMPOSTOR = KeyPair("rsa-1", "RS256")  # the JWKS's kid, another private key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def _hmac_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = _unsigned(header, payload)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _rsa_signed(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Signed with RSA's key, whatever the header says (PyJWT refuses odd headers)."""
    signing_input = _unsigned(header, payload)
    signature = RSA.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    payload = _b64(json.dumps(claims(subject="2")).encode())  # another user, same signature
    return f"{header}.{payload}.{signature}"


def _hs(payload: dict[str, Any], secret: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


def _public_pem() -> bytes:
    return RSA.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


NOW = int(time.time())
# name -> the Authorization header's value
BAD_AUTHORIZATIONS: dict[str, Callable[[], str]] = {
    "alg-none": lambda: "Bearer " + _unsigned({"alg": "none", "typ": "JWT"}, claims()) + ".",
    "alg-none-capitalised": lambda: (
        "Bearer " + _unsigned({"alg": "None", "typ": "JWT"}, claims()) + "."
    ),
    "algorithm-not-allowed": lambda: "Bearer " + _hs(claims(), TEST_SECRET * 2, "HS512"),
    "hs256-signed-with-the-rsa-public-key": lambda: (
        "Bearer "
        + _hmac_signed({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), _public_pem())
    ),
    "forged-signature": lambda: "Bearer " + _tampered(RSA.sign(claims())),
    "expired": lambda: "Bearer " + RSA.sign(claims(exp=NOW - 3600, iat=NOW - 7200)),
    "not-yet-valid": lambda: "Bearer " + RSA.sign(claims(nbf=NOW + 3600)),
    "wrong-issuer": lambda: "Bearer " + RSA.sign(claims(iss="https://evil.test")),
    "wrong-audience": lambda: "Bearer " + RSA.sign(claims(aud="another-api")),
    "no-expiry": lambda: "Bearer " + RSA.sign({k: v for k, v in claims().items() if k != "exp"}),
    "no-subject": lambda: "Bearer " + RSA.sign({k: v for k, v in claims().items() if k != "sub"}),
    "malformed": lambda: "Bearer not-a-jwt",
    "bad-base64": lambda: "Bearer @@@.###.$$$",
    "bad-json-header": lambda: "Bearer " + _b64(b"{not json") + "." + _b64(b"{}") + ".x",
    "oversized": lambda: "Bearer " + "a" * (MAX_TOKEN_BYTES + 10),
    "kid-path-injection": lambda: "Bearer " + RSA.sign(claims(), kid="../../../../dev/null"),
    "kid-sql-injection": lambda: "Bearer " + RSA.sign(claims(), kid="x' OR '1'='1"),
    "kid-not-a-string": lambda: (
        "Bearer " + _rsa_signed({"alg": "RS256", "typ": "JWT", "kid": ["rsa-1"]}, claims())
    ),
    "jwks-holds-another-key-under-that-kid": lambda: "Bearer " + IMPOSTOR.sign(claims()),
    "es256-token-naming-the-rsa-kid": lambda: "Bearer " + EC.sign(claims(), kid="rsa-1"),
    "another-issuers-secret": lambda: (
        "Bearer "
        + _hs(claims(iss="https://other.test"), secret="another-issuers-secret-0123456789abcdef")
    ),
    "basic-scheme": lambda: "Basic " + base64.b64encode(b"admin:admin").decode(),
    "empty-bearer": lambda: "Bearer ",
    "roles-not-a-list": lambda: "Bearer " + RSA.sign(claims(roles={"admin": True})),
    "tenant-not-a-string": lambda: "Bearer " + RSA.sign(claims(tenant=7)),
}


@pytest.fixture
def auth(tmp_path: Path) -> AuthSettings:
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks(RSA, EC)))
    return AuthSettings(secret=TEST_SECRET, jwks_file=keys, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
async def client(database_url: str, auth: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app_for(database_url, auth=auth), token=None) as client:
        yield client


@pytest.fixture
async def user_id(raw_connection: asyncpg.Connection) -> int:
    value: int = await raw_connection.fetchval(
        "INSERT INTO users.users (email, name) VALUES ('ada@example.com', 'Ada') RETURNING id"
    )
    return value


async def _me(client: httpx.AsyncClient, authorization: str) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": ME}, headers={"authorization": authorization}
    )


@pytest.mark.parametrize("name", sorted(BAD_AUTHORIZATIONS))
async def test_a_bad_token_is_unauthenticated_before_any_sql_and_never_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    authorization = BAD_AUTHORIZATIONS[name]()
    caplog.set_level(logging.DEBUG)
    with count_statements() as statements:
        response = await _me(client, authorization)

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-correlation-id"]
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert body.get("data") is None
    assert statements.count == 0
    token = authorization.partition(" ")[2]
    if token.strip():
        assert token not in caplog.text
        assert token not in response.text


async def test_two_authorization_headers_are_refused(client: httpx.AsyncClient) -> None:
    good = mint_token(
        AuthSettings(secret=TEST_SECRET, issuer=ISSUER, audience=AUDIENCE), subject="1"
    )
    response = await client.post(
        "/graphql",
        json={"query": ME},
        headers=[("authorization", f"Bearer {good}"), ("authorization", "Bearer other")],
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("kind", ["hs256-secret", "rs256-jwks", "es256-jwks"])
async def test_a_good_token_of_each_kind_names_its_viewer(
    client: httpx.AsyncClient, auth: AuthSettings, user_id: int, kind: str
) -> None:
    token = {
        "hs256-secret": lambda: mint_token(auth, subject=str(user_id)),
        "rs256-jwks": lambda: RSA.sign(claims(subject=str(user_id))),
        "es256-jwks": lambda: EC.sign(claims(subject=str(user_id))),
    }[kind]()
    response = await _me(client, f"Bearer {token}")

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"id": user_id, "email": "ada@example.com"}}}


async def test_no_token_is_anonymous_and_leeway_forgives_a_little_clock_skew(
    client: httpx.AsyncClient, user_id: int
) -> None:
    anonymous = await client.post("/graphql", json={"query": ME})
    just_expired = await _me(
        client, "Bearer " + RSA.sign(claims(subject=str(user_id), exp=int(time.time()) - 5))
    )

    assert anonymous.json() == {"data": {"me": None}}
    assert just_expired.json()["data"]["me"]["id"] == user_id  # 5 s past exp, 30 s leeway
