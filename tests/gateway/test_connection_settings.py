"""The connection settings read from the environment (gateway.settings)."""

from __future__ import annotations

from gateway.settings import Settings


def test_connection_bounds_have_safe_defaults() -> None:
    settings = Settings.from_env({})

    assert (settings.header_timeout, settings.body_timeout) == (10.0, 10.0)
    assert (settings.max_client_connections, settings.max_in_flight) == (1000, 64)


def test_connection_bounds_are_read_from_gateway_variables() -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_HEADER_TIMEOUT": "2.5",
            "GATEWAY_BODY_TIMEOUT": "30",
            "GATEWAY_MAX_CLIENT_CONNECTIONS": "5000",
            "GATEWAY_MAX_IN_FLIGHT": "200",
        }
    )

    assert (settings.header_timeout, settings.body_timeout) == (2.5, 30.0)
    assert (settings.max_client_connections, settings.max_in_flight) == (5000, 200)
