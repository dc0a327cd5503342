"""AuthSettings: how bearer tokens are verified, read from GATEWAY_JWT_* / GATEWAY_JWKS_*."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MIN_SECRET_LENGTH", "SUPPORTED_ALGORITHMS", "AuthSettings"]

# RFC 7518 3.2: an HMAC key as long as the hash; 32 characters of a random secret at least.
MIN_SECRET_LENGTH = 32
SUPPORTED_ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    | {"ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True, kw_only=True)
class AuthSettings:
    """The keys, the claims checked, and the claims that name the viewer.

    HS* tokens are verified with `secret` only, every other algorithm with the JWKS only:
    a public key is never used as an HMAC secret.
    """

    secret: str | None = field(default=None, repr=False)  # HS256/384/512
    jwks_file: Path | None = None  # RS*/PS*/ES*/EdDSA keys, read at startup
    jwks_url: str | None = None  # fetched at startup, again for an unknown kid
    issuer: str | None = None  # required and checked when set
    audience: str | None = None  # required and checked when set
    algorithms: tuple[str, ...] = ("HS256", "RS256", "ES256")
    leeway: float = 30.0  # seconds of clock skew allowed on exp and nbf
    subject_claim: str = "sub"
    roles_claim: str = "roles"
    tenant_claim: str = "tenant"
    jwks_timeout: float = 5.0  # seconds for one JWKS fetch
    jwks_max_age: float = 300.0  # seconds before a fetched JWKS is fetched again

    def __post_init__(self) -> None:
        unknown = [alg for alg in self.algorithms if alg not in SUPPORTED_ALGORITHMS]
        if unknown or not self.algorithms:
            raise ValueError(
                f"GATEWAY_JWT_ALGORITHMS has {unknown or 'nothing'}; choose among "
                f"{', '.join(sorted(SUPPORTED_ALGORITHMS))} ('none' is never accepted)."
            )
        if self.secret is not None and len(self.secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"GATEWAY_JWT_SECRET has {len(self.secret)} characters; use at least "
                f"{MIN_SECRET_LENGTH} random ones (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')."
            )
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("Set GATEWAY_JWKS_FILE or GATEWAY_JWKS_URL, not both.")

    @property
    def has_keys(self) -> bool:
        """Whether any token can be verified at all."""
        return self.secret is not None or self.jwks_file is not None or self.jwks_url is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthSettings:
        defaults = cls()
        algorithms = env.get("GATEWAY_JWT_ALGORITHMS")
        return cls(
            secret=env.get("GATEWAY_JWT_SECRET") or None,
            jwks_file=Path(f) if (f := env.get("GATEWAY_JWKS_FILE")) else None,
            jwks_url=env.get("GATEWAY_JWKS_URL") or None,
            issuer=env.get("GATEWAY_JWT_ISSUER") or None,
            audience=env.get("GATEWAY_JWT_AUDIENCE") or None,
            algorithms=(
                tuple(a.strip() for a in algorithms.split(",") if a.strip())
                if algorithms
                else defaults.algorithms
            ),
            leeway=float(env.get("GATEWAY_JWT_LEEWAY", defaults.leeway)),
            subject_claim=env.get("GATEWAY_JWT_SUBJECT_CLAIM", defaults.subject_claim),
            roles_claim=env.get("GATEWAY_JWT_ROLES_CLAIM", defaults.roles_claim),
            tenant_claim=env.get("GATEWAY_JWT_TENANT_CLAIM", defaults.tenant_claim),
            jwks_timeout=float(env.get("GATEWAY_JWKS_TIMEOUT", defaults.jwks_timeout)),
            jwks_max_age=float(env.get("GATEWAY_JWKS_MAX_AGE", defaults.jwks_max_age)),
        )
