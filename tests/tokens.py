"""Real bearer tokens for tests: signed with a test secret the test app is configured with."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.identity.config import AuthSettings
from gateway.identity.development import mint_token

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
