"""Fixtures of the fault and load tests: the test services' migrations folder and real
`gateway serve` processes, killed after the test whatever happened."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from gateway.settings import PROJECT_ROOT
from tests.gateway import extra_service
from tests.gateway_process import GatewayFactory, GatewayProcess
from tests.tokens import TEST_SECRET

REAL_SERVICES = ("users", "orders", "payments", "projects")


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """This test's fresh database, the demo services' migrations applied once per run."""
    return migrated_database_url


@pytest.fixture
def migrations_with_test_services(tmp_path: Path) -> Path:
    """A migrations folder for tests.gateway.extra_service.app:SERVICES: the real services'
    folders, the reviews service's, and an empty one for the slow service."""
    root = tmp_path / "migrations"
    root.mkdir()
    for name in REAL_SERVICES:
        (root / name).symlink_to(PROJECT_ROOT / "migrations" / name, target_is_directory=True)
    (root / "reviews").symlink_to(extra_service.MIGRATIONS_DIR / "reviews")
    (root / "slow").mkdir()
    return root


@pytest.fixture
def gateway_process() -> Iterator[GatewayFactory]:
    """Start `gateway serve` with an environment (and the tests' key) until it answers."""
    started: list[GatewayProcess] = []

    def start(env: Mapping[str, str]) -> GatewayProcess:
        # The tests' key, so that ADMIN_HEADERS verify (the shop answers most to an admin).
        server = GatewayProcess({"GATEWAY_JWT_SECRET": TEST_SECRET, **env})
        started.append(server)
        server.wait_until_ready()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()
