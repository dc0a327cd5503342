"""The gateway's tests start the app: their databases come with the demo migrations applied."""

from __future__ import annotations

import pytest


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """This test's fresh database, the demo services' migrations applied once per run."""
    return migrated_database_url
