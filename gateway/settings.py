"""Settings: one frozen value built once, from the environment, by the CLI or app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.db import DatabaseConfig

__all__ = ["PROJECT_ROOT", "Settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the app and CLI read, with defaults for local development.

    Usage: `Settings.from_env()` or `Settings(database_url="postgresql://localhost/shop")`.
    """

    database_url: str | None = field(default=None, repr=False)  # may embed a password
    data_dir: Path = PROJECT_ROOT / ".gateway" / "pgdata"
    migrations_dir: Path = PROJECT_ROOT / "migrations"
    services: str = "services:SERVICES"
    host: str = "127.0.0.1"
    port: int = 8000
    min_connections: int = 2
    max_connections: int = 20
    demo_data: bool = False
    max_page_size: int = 100  # the largest `first` a list field accepts

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read GATEWAY_* variables (and DATABASE_URL) once."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("GATEWAY_DATA_DIR", defaults.data_dir)),
            migrations_dir=Path(env.get("GATEWAY_MIGRATIONS_DIR", defaults.migrations_dir)),
            services=env.get("GATEWAY_SERVICES", defaults.services),
            host=env.get("GATEWAY_HOST", defaults.host),
            port=int(env.get("GATEWAY_PORT", defaults.port)),
            min_connections=int(env.get("GATEWAY_POOL_MIN", defaults.min_connections)),
            max_connections=int(env.get("GATEWAY_POOL_MAX", defaults.max_connections)),
            demo_data=env.get("GATEWAY_DEMO_DATA", "") in {"1", "true", "yes"},
            max_page_size=int(env.get("GATEWAY_MAX_PAGE_SIZE", defaults.max_page_size)),
        )

    def database_config(self) -> DatabaseConfig:
        """The config of the one shared pool."""
        if not self.database_url:
            raise ValueError("No database_url: set DATABASE_URL, or let `gateway serve` embed one.")
        return DatabaseConfig(
            connection_string=self.database_url,
            min_connections=self.min_connections,
            max_connections=self.max_connections,
        )
