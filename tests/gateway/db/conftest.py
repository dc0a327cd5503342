"""The data layer's own tests: every database starts empty (they create and migrate it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """This test's fresh, empty database."""
    return empty_database_url
