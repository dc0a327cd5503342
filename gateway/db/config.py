"""DatabaseConfig: where the server is and how the one pool behaves (pgdbm's fields)."""

from __future__ import annotations

import os
import ssl
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.db.errors import ConfigurationError
from gateway.db.identifiers import validate_identifier

__all__ = ["NEUTRAL_SEARCH_PATH", "POOLER_STARTUP_PARAMETERS", "DatabaseConfig", "mask_password"]

# A shared pool serves several schemas at once, so no schema may own the connection's
# search_path. Pinning it to pg_catalog alone makes an unqualified table name fail loudly
# instead of resolving into whatever schema a previous user left behind.
NEUTRAL_SEARCH_PATH = "pg_catalog"

_SSL_MODES = {"require", "verify-ca", "verify-full"}

# The startup parameters PgBouncer 1.18 forwards (it refuses any other, or drops it when
# listed in ignore_startup_parameters): the others must be role defaults behind a pooler.
POOLER_STARTUP_PARAMETERS = frozenset(
    {"application_name", "client_encoding", "datestyle", "timezone", "standard_conforming_strings"}
)


def mask_password(dsn: str) -> str:
    """`dsn` with everything between the user's `:` and the last `@` made `****` (pgdbm's
    mask): the whole password, URL-encoded or not (`p@ss/w#rd?1` has an `@` of its own). An
    `@` further on (in a parameter) would hide the host too: never any of the password. An
    empty password stays empty, as pgdbm leaves it."""
    scheme, separator, rest = dsn.partition("://")
    at = rest.rfind("@")
    if not separator or at < 0 or ":" not in rest[:at]:
        return dsn
    user, _, password = rest[:at].partition(":")
    if not password:
        return dsn
    return f"{scheme}://{user}:****@{rest[at + 1 :]}"


class DatabaseConfig(BaseModel):
    """Connection and pool settings, keyword-only; `repr()` never shows the password.

    Usage: `DatabaseConfig(connection_string="postgresql://localhost/app", max_connections=20)`.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", validate_assignment=True)

    connection_string: str | None = None
    host: str = "localhost"
    port: int = 5432
    database: str = "postgres"
    user: str = "postgres"
    password: str | None = Field(default=None, repr=False)
    schema_name: str | None = Field(default=None, alias="schema")

    min_connections: int = Field(default=10, ge=0)
    max_connections: int = Field(default=20, gt=0)
    max_queries: int = 50000
    max_inactive_connection_lifetime: float = 300.0
    command_timeout: float | None = 60.0
    connect_timeout: float = 10.0
    acquire_timeout: float | None = None  # seconds to wait for a free connection; None: forever
    statement_cache_size: int = Field(default=1000, ge=0)

    server_settings: dict[str, str] | None = None
    init_commands: list[str] | None = None
    shared_pool_search_path: str | None = NEUTRAL_SEARCH_PATH
    # "transaction": a transaction pooler (PgBouncer's pool_mode = transaction) stands between
    # us and PostgreSQL, so no session state may be relied on (gateway.db.pool); "detect":
    # find out when the pool opens (a pooler answers with a backend pid of its own); "none".
    pooler: Literal["detect", "transaction", "none"] = "detect"
    # LISTEN needs a session of its own: a direct URL for the event listener when the main
    # one goes through a transaction pooler (gateway.subscriptions.hub). None: the main one.
    listen_connection_string: str | None = Field(default=None, repr=False)

    ssl_enabled: bool = False
    ssl_mode: str | None = None
    ssl_ca_file: str | None = None
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    ssl_key_password: str | None = Field(default=None, repr=False)

    statement_timeout_ms: int | None = 60000
    idle_in_transaction_session_timeout_ms: int | None = 60000
    lock_timeout_ms: int | None = 5000

    retry_attempts: int = Field(default=3, ge=1)
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    retry_max_delay: float = 30.0

    @model_validator(mode="after")
    def _check(self) -> DatabaseConfig:
        if self.min_connections > self.max_connections:
            raise ConfigurationError(
                f"min_connections ({self.min_connections}) is larger than max_connections "
                f"({self.max_connections}); lower the first or raise the second.",
                "min_connections",
            )
        if self.schema_name is not None:
            validate_identifier(self.schema_name, kind="schema")
        if "search_path" in (self.server_settings or {}):
            raise ConfigurationError(
                "search_path cannot be set in server_settings: it would resolve unqualified "
                "names in one schema for every manager. Give a manager its schema (`schema=`) "
                "and write {{tables.x}}; for a shared pool's connections use "
                "shared_pool_search_path.",
                "server_settings",
            )
        if self.ssl_mode is not None and self.ssl_mode not in _SSL_MODES:
            raise ConfigurationError(
                f"ssl_mode must be one of {sorted(_SSL_MODES)}, got {self.ssl_mode!r}.",
                "ssl_mode",
            )
        return self

    @property
    def schema(self) -> str | None:  # type: ignore[override]  # pgdbm's read name
        return self.schema_name

    def get_schema(self) -> str | None:
        """The schema name (pgdbm's accessor)."""
        return self.schema_name

    def get_dsn(self) -> str:
        """The DSN asyncpg connects with (contains the password: never log it). From the
        fields, the password is the field's or DB_PASSWORD's, as in pgdbm, and user,
        password and database are URL-encoded (a password like `p@ss/w#rd?1` connects)."""
        if self.connection_string:
            return self.connection_string
        password = self.password or os.environ.get("DB_PASSWORD", "")
        if not password:
            raise ConfigurationError(
                "Database password not provided. Set it in config or DB_PASSWORD environment "
                "variable.",
                "password",
            )
        user, database = quote(self.user, safe=""), quote(self.database, safe="")
        secret = quote(password, safe="")
        return f"postgresql://{user}:{secret}@{self.host}:{self.port}/{database}"

    def get_dsn_masked(self) -> str:
        """The DSN with the whole password replaced by `****`, safe for logs and errors (also
        a connection string whose password was not URL-encoded)."""
        if not self.connection_string:
            user, database = quote(self.user, safe=""), quote(self.database, safe="")
            return f"postgresql://{user}:****@{self.host}:{self.port}/{database}"
        return mask_password(self.connection_string)

    def address(self) -> tuple[str, int, str]:
        """(host, port, database) this config reaches; never any of the password."""
        if not self.connection_string:
            return self.host, self.port, self.database
        parts = urlsplit(mask_password(self.connection_string))
        return (
            parts.hostname or self.host,
            parts.port or self.port,
            parts.path.lstrip("/") or self.database,
        )

    def target(self) -> str:
        """Which server and database this config reaches, for warnings and stats."""
        host, port, database = self.address()
        return f"{host}:{port}/{database}"

    def get_server_settings(self) -> dict[str, str]:
        """Startup parameters: they survive the RESET ALL asyncpg runs on every release."""
        settings = dict(self.server_settings or {})
        for name, value in (
            ("statement_timeout", self.statement_timeout_ms),
            ("idle_in_transaction_session_timeout", self.idle_in_transaction_session_timeout_ms),
            ("lock_timeout", self.lock_timeout_ms),
        ):
            if value is not None:
                settings.setdefault(name, str(value))
        if self.schema_name:
            settings.setdefault("search_path", f'"{self.schema_name}", public')
        settings.setdefault("application_name", "gateway")
        return settings

    def get_pooler_server_settings(self) -> dict[str, str]:
        """The startup parameters a transaction pooler forwards, of get_server_settings();
        the rest (search_path, the timeouts) are to be the role's defaults there."""
        return {
            name: value
            for name, value in self.get_server_settings().items()
            if name.lower() in POOLER_STARTUP_PARAMETERS
        }

    def build_ssl_context(self) -> ssl.SSLContext | bool | None:
        """An SSL context for asyncpg, or None when TLS is off."""
        if not self.ssl_enabled:
            return None
        mode = self.ssl_mode or "verify-full"
        context = ssl.create_default_context(cafile=self.ssl_ca_file)
        if mode == "require":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif mode == "verify-ca":
            context.check_hostname = False
        if self.ssl_cert_file:
            context.load_cert_chain(
                self.ssl_cert_file, self.ssl_key_file, password=self.ssl_key_password
            )
        return context

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "connection_string" and value:
                yield name, self.get_dsn_masked()
            else:
                yield name, value
