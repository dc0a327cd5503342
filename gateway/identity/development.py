"""Development tokens: a secret generated once beside the embedded data directory, and
`mint_token`, which `gateway token` and `gateway serve` use to print a ready token.

Production never reads that file: it needs GATEWAY_JWT_SECRET or a JWKS of its own.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

import jwt

from gateway.identity.config import AuthSettings

__all__ = ["development_secret", "mint_token", "secret_file_for"]


def secret_file_for(data_dir: Path) -> Path:
    """Where the development secret of the embedded server in `data_dir` is kept."""
    return data_dir.parent / "jwt-secret"


def development_secret(path: Path) -> str:
    """The secret in `path`, generated (readable by its owner only) the first time."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once keep the first one's secret, not each their own.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret


def mint_token(
    auth: AuthSettings,
    *,
    subject: str,
    roles: Iterable[str] = (),
    tenant: str | None = None,
    ttl: int = 3600,
) -> str:
    """An HS256 token `auth` accepts, for `subject` with `roles` (and `tenant`)."""
    if auth.secret is None:
        raise ValueError(
            "No GATEWAY_JWT_SECRET: tokens can be minted here only with an HMAC secret "
            "(in development, `gateway token` generates one beside the embedded data)."
        )
    now = int(time.time())
    claims: dict[str, object] = {auth.subject_claim: subject, "iat": now, "exp": now + ttl}
    if roles := sorted(set(roles)):
        claims[auth.roles_claim] = roles
    if tenant is not None:
        claims[auth.tenant_claim] = tenant
    if auth.issuer is not None:
        claims["iss"] = auth.issuer
    if auth.audience is not None:
        claims["aud"] = auth.audience
    return jwt.encode(claims, auth.secret, algorithm="HS256")
