"""Real bearer tokens for tests: signed with a test secret the test app is configured with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.identity.config import AuthSettings
from gateway.identity.development import mint_token
from gateway.identity.viewer import Viewer
from gateway.settings import Settings

TEST_SECRET = "test-secret-for-the-gateway-suite-only-0123456789"
TEST_AUTH = AuthSettings(secret=TEST_SECRET)


def token_for(
    subject: str | int,
    *,
    roles: Iterable[str] = (),
    tenant: str | None = None,
    auth: AuthSettings = TEST_AUTH,
    ttl: int = 600,
) -> str:
    return mint_token(auth, subject=str(subject), roles=roles, tenant=tenant, ttl=ttl)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying `token`."""
    return {"authorization": f"Bearer {token}"}


# What most tests ask as: an admin reads everything, so tests of other features need no
# account of their own; the authorization tests ask as users and anonymously.
ADMIN_TOKEN = token_for("admin", roles=["admin"], ttl=7 * 24 * 3600)
ADMIN_HEADERS = bearer(ADMIN_TOKEN)


def app_settings(**fields: Any) -> Settings:
    """Settings as the tests' apps take them: `fields`, and the test key unless told (so the
    tokens above verify)."""
    return Settings(**{"auth": TEST_AUTH, **fields})


# The same admin, for tests that build a request's Context themselves.
ADMIN_VIEWER = Viewer(subject="admin", roles=frozenset({"admin"}))
