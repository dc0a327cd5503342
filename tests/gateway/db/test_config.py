"""DatabaseConfig: pgdbm's fields, validation, and secrets kept out of reprs."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from gateway.db import ConfigurationError, DatabaseConfig, SchemaError


def test_repr_and_str_never_show_the_password() -> None:
    configs = [
        DatabaseConfig(connection_string="postgresql://app:s3cret-pw@db.example.com:5433/shop"),
        DatabaseConfig(host="db.example.com", user="app", password="s3cret-pw"),
        DatabaseConfig(ssl_enabled=True, ssl_mode="require", ssl_key_password="s3cret-pw"),
    ]
    for config in configs:
        assert "s3cret-pw" not in repr(config)
        assert "s3cret-pw" not in str(config)
    assert configs[0].get_dsn_masked() == "postgresql://app:****@db.example.com:5433/shop"
    assert "s3cret-pw" in configs[1].get_dsn()  # asyncpg still gets it


def test_individual_parameters_build_a_dsn_and_target() -> None:
    config = DatabaseConfig(host="h", port=6543, database="shop", user="u", password="p")
    assert config.get_dsn() == "postgresql://u:p@h:6543/shop"
    assert config.target() == "h:6543/shop"


def test_schema_alias_and_timeouts_become_startup_settings() -> None:
    config = DatabaseConfig(
        schema="myschema",
        statement_timeout_ms=30000,
        lock_timeout_ms=None,
        server_settings={"jit": "off"},
    )
    assert config.schema_name == config.schema == "myschema"
    settings = config.get_server_settings()
    assert settings["statement_timeout"] == "30000"
    assert "lock_timeout" not in settings
    assert settings["jit"] == "off"
    assert settings["search_path"] == '"myschema", public'


def test_invalid_values_are_refused_with_a_sentence() -> None:
    with pytest.raises(ConfigurationError, match="min_connections"):
        DatabaseConfig(min_connections=30, max_connections=10)
    with pytest.raises(ConfigurationError, match="ssl_mode"):
        DatabaseConfig(ssl_mode="sometimes")
    with pytest.raises(SchemaError):
        DatabaseConfig(schema='bad"name')


PASSWORD = "p@ss/w#rd?1"


def test_user_password_and_database_are_url_encoded_and_the_password_never_shows() -> None:
    config = DatabaseConfig(host="db", user="app user", password=PASSWORD, database="shop/eu")
    unencoded = DatabaseConfig(connection_string=f"postgresql://app:{PASSWORD}@db:5432/shop")

    assert config.get_dsn() == "postgresql://app%20user:p%40ss%2Fw%23rd%3F1@db:5432/shop%2Feu"
    for shown in (
        config.get_dsn_masked(),
        unencoded.get_dsn_masked(),
        repr(config),
        repr(unencoded),
        str(unencoded),
        config.target(),
        unencoded.target(),
    ):
        for part in ("p@ss", "ss/w", "w#rd", "rd?1", "p%40ss", "%2Fw%23rd"):
            assert part not in shown, shown
    assert unencoded.get_dsn_masked() == "postgresql://app:****@db:5432/shop"
    assert config.get_dsn_masked() == "postgresql://app%20user:****@db:5432/shop%2Feu"


async def test_a_password_with_every_special_character_connects(
    database_url: str, raw_connection: Any
) -> None:
    await raw_connection.execute(f"CREATE ROLE odd_pw LOGIN PASSWORD '{PASSWORD}'")
    try:
        database = await raw_connection.fetchval("SELECT current_database()")
        config = DatabaseConfig(user="odd_pw", password=PASSWORD, database=database)
        # The test server's host (a socket directory, or TEST_DATABASE_URL's) replaces the
        # DSN's; all else (the encoded user, password and database) is parsed from the DSN.
        server = urlsplit(database_url)
        socket = parse_qs(server.query).get("host", [None])[0]
        connection = await asyncpg.connect(
            config.get_dsn(), host=socket or server.hostname, port=server.port or 5432
        )
        try:
            assert await connection.fetchval("SELECT current_user") == "odd_pw"
            assert await connection.fetchval("SELECT current_database()") == database
        finally:
            await connection.close()
    finally:
        await raw_connection.execute("DROP ROLE odd_pw")


def test_the_password_comes_from_db_password_as_in_pgdbm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    with pytest.raises(ConfigurationError, match="Database password not provided"):
        DatabaseConfig(host="db").get_dsn()
    monkeypatch.setenv("DB_PASSWORD", "from-env")
    assert DatabaseConfig(host="db").get_dsn() == "postgresql://postgres:from-env@db:5432/postgres"


def test_a_search_path_in_server_settings_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="search_path"):
        DatabaseConfig(server_settings={"search_path": "orders, public"})


def test_get_schema_is_the_schema() -> None:
    assert DatabaseConfig(schema="orders").get_schema() == "orders"
    assert DatabaseConfig().get_schema() is None
