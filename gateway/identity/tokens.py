"""TokenVerifier: a request's `Authorization: Bearer <JWT>` checked, and the Viewer it names.

No header: ANONYMOUS. Anything else that is not a valid token of ours raises TokenRejected,
which the edge answers 401 UNAUTHENTICATED before any SQL. Refused: a scheme other than
Bearer, an oversized or malformed token, `alg: none` or an algorithm not allowed, an HS*
token when no secret is set or an RS*/ES* one when no JWKS is (a public key is never an
HMAC secret), an unknown kid, a bad signature, expired or not yet valid (within `leeway`),
a missing or wrong issuer or audience, no `exp`, no subject, roles or tenant of the wrong
type. No message carries the token or any of its claims.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from gateway.identity.config import AuthSettings
from gateway.identity.keys import JwksKeys
from gateway.identity.viewer import ANONYMOUS, Viewer

__all__ = ["MAX_TOKEN_BYTES", "TokenRejected", "TokenVerifier"]

MAX_TOKEN_BYTES = 8192  # far above any real token; a bigger header is not parsed
_MAX_ROLES = 64


class TokenRejected(Exception):
    """The request's token is not one the gateway accepts; the message says why."""


class TokenVerifier:
    """Verifies bearer tokens with the keys of `auth`."""

    def __init__(self, auth: AuthSettings) -> None:
        self.auth = auth
        self.jwks: JwksKeys | None = None
        if auth.jwks_file is not None or auth.jwks_url is not None:
            self.jwks = JwksKeys(
                file=auth.jwks_file,
                url=auth.jwks_url,
                timeout=auth.jwks_timeout,
                max_age=auth.jwks_max_age,
            )

    async def load_keys(self) -> None:
        """Read the JWKS (startup); KeyLoadError when it cannot be read."""
        if self.jwks is not None:
            await self.jwks.load()

    async def viewer(self, authorization: bytes | None) -> Viewer:
        """The Viewer of a request whose Authorization header is `authorization`."""
        if authorization is None:
            return ANONYMOUS
        token = _bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except (PyJWTError, binascii.Error, ValueError, TypeError):
            raise TokenRejected("The bearer token is not a well-formed JWT.") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.auth.algorithms:
            accepted = ", ".join(self.auth.algorithms)
            raise TokenRejected(f"The token's algorithm is not accepted; use one of {accepted}.")
        key = await self._key(header, algorithm)
        claims = self._decode(token, key, algorithm)
        return self._viewer_of(claims)

    async def _key(self, header: Mapping[str, Any], algorithm: str) -> Any:
        if algorithm.startswith("HS"):
            if self.auth.secret is None:
                raise TokenRejected("This gateway verifies no HMAC-signed tokens.")
            return self.auth.secret
        if self.jwks is None:
            raise TokenRejected("This gateway has no public keys to verify this token with.")
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > 256):
            raise TokenRejected("The token's key id is not valid.")
        key = await self.jwks.key_for(kid, algorithm)
        if key is None:
            raise TokenRejected("The token is signed with a key this gateway does not know.")
        return key.key

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        required = ["exp", self.auth.subject_claim]
        if self.auth.issuer is not None:
            required.append("iss")
        if self.auth.audience is not None:
            required.append("aud")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.auth.issuer,
                audience=self.auth.audience,
                leeway=self.auth.leeway,
                options={"require": required, "verify_sub": False},
            )
        except ExpiredSignatureError:
            raise TokenRejected("The token has expired.") from None
        except ImmatureSignatureError:
            raise TokenRejected("The token is not valid yet.") from None
        except InvalidSignatureError:
            raise TokenRejected("The token's signature does not verify.") from None
        except InvalidIssuerError:
            raise TokenRejected("The token is from another issuer.") from None
        except InvalidAudienceError:
            raise TokenRejected("The token is meant for another audience.") from None
        except MissingRequiredClaimError as error:
            raise TokenRejected(f"The token has no {error.claim!r} claim.") from None
        except (PyJWTError, ValueError, TypeError):
            raise TokenRejected("The token is not valid.") from None
        return claims

    def _viewer_of(self, claims: Mapping[str, Any]) -> Viewer:
        subject = claims.get(self.auth.subject_claim)
        if isinstance(subject, bool) or not isinstance(subject, (str, int)) or subject == "":
            raise TokenRejected("The token's subject is not a string.")
        roles = claims.get(self.auth.roles_claim, [])
        if isinstance(roles, str):
            roles = roles.split()  # the OAuth `scope` style: space-separated
        if not isinstance(roles, list) or len(roles) > _MAX_ROLES:
            raise TokenRejected("The token's roles are not a list of strings.")
        if not all(isinstance(role, str) for role in roles):
            raise TokenRejected("The token's roles are not a list of strings.")
        tenant = claims.get(self.auth.tenant_claim)
        if tenant is not None and (not isinstance(tenant, str) or tenant == ""):
            raise TokenRejected("The token's tenant is not a string.")
        expires = claims.get("exp")
        return Viewer(
            subject=str(subject),
            roles=frozenset(roles),
            tenant=tenant,
            expires_at=float(expires) if isinstance(expires, (int, float)) else None,
        )


def _bearer_token(authorization: bytes) -> str:
    if len(authorization) > MAX_TOKEN_BYTES + len(b"Bearer "):
        raise TokenRejected(f"The bearer token is longer than {MAX_TOKEN_BYTES} bytes.")
    scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenRejected("The Authorization header must be `Bearer <token>`.")
    return token
