"""Settings: one frozen value built once, from the environment, by the CLI or app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gateway.db import DatabaseConfig
from gateway.execution.byte_cache import DEFAULT_CACHE_BYTES
from gateway.http.persisted import PersistedMode, persisted_mode
from gateway.identity.config import AuthSettings
from gateway.limits.rules import Limits
from gateway.subscriptions.limits import SubscriptionLimits

__all__ = ["PROJECT_ROOT", "Settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the app and CLI read, with defaults for local development.

    Usage: `Settings.from_env()` or `Settings(database_url="postgresql://localhost/shop")`.
    """

    database_url: str | None = field(default=None, repr=False)  # may embed a password
    # A transaction pooler (PgBouncer) in front: "transaction", "none", or "detect" (at startup).
    database_pooler: Literal["detect", "transaction", "none"] = "detect"
    # LISTEN needs a session: a direct URL for the event listener (None: database_url).
    listen_database_url: str | None = field(default=None, repr=False)
    data_dir: Path = PROJECT_ROOT / ".gateway" / "pgdata"
    migrations_dir: Path = PROJECT_ROOT / "migrations"
    services: str = "services:SERVICES"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # processes serving one port (gateway.http.workers); the pool budget shared
    min_connections: int = 2
    max_connections: int = 20
    demo_data: bool = False
    # A verified token naming a tenant not provisioned yet provisions it (else FORBIDDEN).
    tenant_auto_provision: bool = False
    persisted_queries: PersistedMode = "apq"  # "off", "apq" or "allowlist" (gateway.http.persisted)
    persisted_manifest: Path | None = None  # {sha256: document} JSON; allowlist needs one
    # APQ documents shared by every process over the database, in bytes (0: each process's own
    # LRU only; gateway.http.persisted_store).
    persisted_store_bytes: int = 16 * 1024 * 1024
    pool_warning_interval: float = 60.0  # seconds between two "pool nearly full" warnings
    max_page_size: int = 100  # the largest `first` a list field accepts
    production: bool = False  # GATEWAY_ENV=production: no introspection, no suggestions
    graphiql: bool | None = None  # None: served in development, not in production
    cors_origins: tuple[str, ...] = ()  # origins allowed to call the API from a browser
    csrf_prevention: bool = True
    limits: Limits = field(default_factory=Limits)
    statement_timeout_ms: int = 5000  # every statement; a slower one is cancelled: TIMEOUT
    pool_timeout: float = 5.0  # seconds to wait for a free connection: SERVICE_UNAVAILABLE
    gc_tuning: bool = True  # rarer garbage collections while serving (gateway.execution.gc_tuning)
    # /metrics on its own port (`gateway serve` runs a second server there); unset, on the
    # public port in development and nowhere in production.
    metrics_port: int | None = None
    header_timeout: float = 10.0  # seconds for a request's head to arrive, then dropped
    body_timeout: float = 10.0  # seconds for a request's body to arrive: REQUEST_TIMEOUT
    max_client_connections: int = 1000  # open HTTP connections (gateway.http.protocol)
    max_in_flight: int = 64  # requests being answered at once; more get SERVER_BUSY
    # The caches of query texts together: parsed documents, validation results, plans and
    # persisted documents (gateway.execution.byte_cache.CacheShares splits it between them).
    cache_bytes: int = DEFAULT_CACHE_BYTES
    # Bearer tokens (gateway.identity): the keys, issuer, audience and claims.
    auth: AuthSettings = field(default_factory=AuthSettings)
    # Subscriptions over WebSockets (gateway.subscriptions.limits).
    subscriptions: SubscriptionLimits = field(default_factory=SubscriptionLimits)

    @property
    def graphiql_enabled(self) -> bool:
        """Whether /graphql serves GraphiQL to browsers."""
        return not self.production if self.graphiql is None else self.graphiql

    @property
    def shares_persisted_documents(self) -> bool:
        """Whether APQ documents go to the table every process shares."""
        return self.persisted_queries == "apq" and self.persisted_store_bytes > 0

    @property
    def metrics_on_public_port(self) -> bool:
        """Whether the app itself serves /metrics, next to /graphql."""
        return self.metrics_port is None and not self.production

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read GATEWAY_* variables (and DATABASE_URL) once."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            database_pooler=_pooler(env.get("GATEWAY_DATABASE_POOLER") or defaults.database_pooler),
            listen_database_url=env.get("GATEWAY_LISTEN_DATABASE_URL") or None,
            data_dir=Path(env.get("GATEWAY_DATA_DIR", defaults.data_dir)),
            migrations_dir=Path(env.get("GATEWAY_MIGRATIONS_DIR", defaults.migrations_dir)),
            services=env.get("GATEWAY_SERVICES", defaults.services),
            host=env.get("GATEWAY_HOST", defaults.host),
            port=int(env.get("GATEWAY_PORT", defaults.port)),
            workers=int(env.get("GATEWAY_WORKERS", defaults.workers)),
            min_connections=int(env.get("GATEWAY_POOL_MIN", defaults.min_connections)),
            max_connections=int(env.get("GATEWAY_POOL_MAX", defaults.max_connections)),
            demo_data=env.get("GATEWAY_DEMO_DATA", "") in {"1", "true", "yes"},
            tenant_auto_provision=_flag(env.get("GATEWAY_TENANT_AUTO_PROVISION")) is True,
            persisted_queries=persisted_mode(
                env.get("GATEWAY_PERSISTED_QUERIES", defaults.persisted_queries)
            ),
            persisted_manifest=Path(m) if (m := env.get("GATEWAY_PERSISTED_MANIFEST")) else None,
            persisted_store_bytes=int(
                env.get("GATEWAY_PERSISTED_STORE_BYTES", defaults.persisted_store_bytes)
            ),
            pool_warning_interval=float(
                env.get("GATEWAY_POOL_WARNING_INTERVAL", defaults.pool_warning_interval)
            ),
            max_page_size=int(env.get("GATEWAY_MAX_PAGE_SIZE", defaults.max_page_size)),
            production=env.get("GATEWAY_ENV", "development") == "production",
            graphiql=_flag(env.get("GATEWAY_GRAPHIQL")),
            cors_origins=tuple(
                origin.strip()
                for origin in env.get("GATEWAY_CORS_ORIGINS", "").split(",")
                if origin.strip()
            ),
            csrf_prevention=_flag(env.get("GATEWAY_CSRF_PREVENTION")) is not False,
            limits=Limits(
                **{
                    name: int(env[f"GATEWAY_{name.upper()}"])
                    for name in Limits.__dataclass_fields__
                    if f"GATEWAY_{name.upper()}" in env
                }
            ),
            statement_timeout_ms=int(
                env.get("GATEWAY_STATEMENT_TIMEOUT_MS", defaults.statement_timeout_ms)
            ),
            pool_timeout=float(env.get("GATEWAY_POOL_TIMEOUT", defaults.pool_timeout)),
            gc_tuning=_flag(env.get("GATEWAY_GC_TUNING")) is not False,
            metrics_port=int(port) if (port := env.get("GATEWAY_METRICS_PORT")) else None,
            header_timeout=float(env.get("GATEWAY_HEADER_TIMEOUT", defaults.header_timeout)),
            body_timeout=float(env.get("GATEWAY_BODY_TIMEOUT", defaults.body_timeout)),
            max_client_connections=int(
                env.get("GATEWAY_MAX_CLIENT_CONNECTIONS", defaults.max_client_connections)
            ),
            max_in_flight=int(env.get("GATEWAY_MAX_IN_FLIGHT", defaults.max_in_flight)),
            cache_bytes=int(env.get("GATEWAY_CACHE_BYTES", defaults.cache_bytes)),
            auth=AuthSettings.from_env(env),
            subscriptions=SubscriptionLimits.from_env(env),
        )

    def database_config(self) -> DatabaseConfig:
        """The config of the one shared pool."""
        if not self.database_url:
            raise ValueError("No database_url: set DATABASE_URL, or let `gateway serve` embed one.")
        return DatabaseConfig(
            connection_string=self.database_url,
            min_connections=self.min_connections,
            max_connections=self.max_connections,
            statement_timeout_ms=self.statement_timeout_ms,
            # The client-side timeout backs up the server's, for a server that stops answering.
            command_timeout=self.statement_timeout_ms / 1000 + 5,
            acquire_timeout=self.pool_timeout,
            retry_attempts=1,
            pooler=self.database_pooler,
            listen_connection_string=self.listen_database_url,
        )


def _pooler(value: str) -> Literal["detect", "transaction", "none"]:
    if value not in ("detect", "transaction", "none"):
        raise ValueError(
            f"GATEWAY_DATABASE_POOLER must be detect, transaction or none, not {value!r}."
        )
    return value  # type: ignore[return-value]  # checked just above


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in {"1", "true", "yes", "on"}
