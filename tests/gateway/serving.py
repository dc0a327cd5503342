"""Helpers for the tests of what surrounds /graphql: health, metrics, logs, persisted queries.

Each test builds the real app on its own database, runs its lifespan and talks to it over
httpx's ASGI transport (in the test's own task).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

import services
from gateway.app import create_app
from gateway.settings import PROJECT_ROOT
from tests.gateway import extra_service
from tests.tokens import TEST_AUTH, app_settings

REPO_MIGRATIONS = PROJECT_ROOT / "migrations"


def app_for(database_url: str, *, with_reviews: bool = False, **overrides: Any) -> FastAPI:
    """The gateway app with the real services (and the test-only reviews service, if asked)
    on `database_url`; `overrides` go to Settings."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "migrations_dir": REPO_MIGRATIONS,
        "min_connections": 1,
        "max_connections": 4,
        "auth": TEST_AUTH,
    }
    extra = [extra_service.service] if with_reviews else []
    return create_app(app_settings(**(values | overrides)), [*services.SERVICES, *extra])


def migrations_with_reviews(tmp_path: Path) -> Path:
    """A migrations folder with the real services' folders and the reviews service's."""
    root = tmp_path / "migrations"
    root.mkdir()
    for folder in REPO_MIGRATIONS.iterdir():
        (root / folder.name).symlink_to(folder, target_is_directory=True)
    (root / "reviews").symlink_to(extra_service.MIGRATIONS_DIR / "reviews")
    return root


async def post(client: httpx.AsyncClient, **payload: Any) -> dict[str, Any]:
    """POST `payload` (query, operationName, variables, extensions) to /graphql; its JSON."""
    response = await client.post("/graphql", json=payload)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of sample `name` with exactly `labels` in a /metrics answer, else None."""
    for family in text_string_to_metric_families(metrics_text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text
