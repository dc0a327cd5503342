"""DatabaseConfig: pgdbm's fields, validation, and secrets kept out of reprs."""

from __future__ import annotations

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
    assert configs[0].get_dsn_masked() == "postgresql://app:***@db.example.com:5433/shop"
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
