"""gateway.compat: the private library names the gateway uses, checked at startup.

On the installed (pinned) versions every contact fits. A library whose shape changed is
simulated by replacing, in gateway.compat's view, the Strawberry class a contact depends on
with one shaped as a future version might be: the gateway then says so (a warning and a
metric) and answers through the public path.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from gateway import compat
from gateway.compat import CONTACTS, INFO_CONSTRUCTOR, broken_contacts, check_contacts
from gateway.execution.executor import FALLBACKS
from tests.asgi import serve
from tests.gateway.serving import app_for, post, sample, scrape

NESTED = "{ users(first: 5) { nodes { name orders(first: 5) { nodes { total } } } } }"


@pytest.fixture
def fresh_check() -> Iterator[None]:
    """The check runs once per process: forget its result before and after the test."""
    broken_contacts.cache_clear()
    yield
    broken_contacts.cache_clear()


async def _seed(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO users.users (email, name) "
        "VALUES ('a@example.com', 'A'), ('b@example.com', 'B')"
    )
    await conn.execute("INSERT INTO orders.orders (user_id, total) VALUES (1, 10), (1, 20)")


async def test_every_contact_fits_the_installed_versions_and_none_is_reported(
    database_url: str,
    raw_connection: asyncpg.Connection,
    fresh_check: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.compat"):
        app = app_for(database_url)
    assert check_contacts() == ()
    assert [r for r in caplog.records if r.name == "gateway.compat"] == []
    async with serve(app) as client:
        text = await scrape(client)
    for contact in CONTACTS:
        assert sample(text, "gateway_library_contact_broken", contact=contact) == 0


@dataclasses.dataclass
class _InfoOfAnotherVersion:
    """Strawberry's Info as a version that renamed its private fields might have it."""

    raw: Any
    strawberry_field: Any


async def test_a_contact_that_no_longer_fits_is_logged_counted_and_answered_around(
    database_url: str,
    raw_connection: asyncpg.Connection,
    fresh_check: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compat, "Info", _InfoOfAnotherVersion)
    with caplog.at_level(logging.WARNING, logger="gateway.compat"):
        app = app_for(database_url)
    [warning] = [r for r in caplog.records if r.name == "gateway.compat"]
    assert INFO_CONSTRUCTOR in warning.getMessage()
    assert "graphql-core's executor" in warning.getMessage()

    async with serve(app) as client:
        await _seed(raw_connection)
        fallbacks = Counter(FALLBACKS)
        body = await post(client, query=NESTED)
        text = await scrape(client)

    # Answered, right, through graphql-core's executor: the planned one needs that contact.
    assert body == {
        "data": {
            "users": {
                "nodes": [
                    {"name": "A", "orders": {"nodes": [{"total": "10.00"}, {"total": "20.00"}]}},
                    {"name": "B", "orders": {"nodes": []}},
                ]
            }
        }
    }
    assert Counter(FALLBACKS) - fallbacks == Counter({"executor options": 1})
    assert sample(text, "gateway_library_contact_broken", contact=INFO_CONSTRUCTOR) == 1
    others = [c for c in CONTACTS if c != INFO_CONSTRUCTOR]
    assert all(sample(text, "gateway_library_contact_broken", contact=c) == 0 for c in others)
    assert (
        sample(text, "gateway_planned_execution_fallbacks_total", reason="executor options")
        == FALLBACKS["executor options"]
    )
