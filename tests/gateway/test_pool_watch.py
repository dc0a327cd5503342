"""The pool usage warning, over HTTP: one warning per interval past 80 % of the pool in use.

The pool is filled by holding its connections in the test; the requests (`{ __typename }`)
need no connection, so they answer while the pool is full.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from fastapi import FastAPI

from tests.asgi import serve
from tests.gateway.serving import app_for, post


@asynccontextmanager
async def holding(app: FastAPI, connections: int) -> AsyncIterator[None]:
    """Hold `connections` of the app's pool until the block ends."""
    pool: asyncpg.Pool = app.state.pool
    held = [await pool.acquire() for _ in range(connections)]
    try:
        yield
    finally:
        for conn in held:
            await pool.release(conn)


def pool_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "gateway.pool" and record.levelno == logging.WARNING
    ]


async def test_a_full_pool_logs_one_warning_however_many_requests_see_it(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_for(database_url, max_connections=4)

    with caplog.at_level(logging.WARNING, logger="gateway.pool"):
        async with serve(app) as client, holding(app, 4):
            for _ in range(5):
                body = await post(client, query="{ __typename }")
                assert body == {"data": {"__typename": "Query"}}

    [warning] = pool_warnings(caplog)
    assert "100% used (4 of at most 4 connections)" in warning
    assert "GATEWAY_POOL_MAX" in warning


async def test_the_warning_repeats_once_the_interval_has_passed(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_for(database_url, max_connections=4, pool_warning_interval=0)

    with caplog.at_level(logging.WARNING, logger="gateway.pool"):
        async with serve(app) as client, holding(app, 4):
            for _ in range(3):
                await post(client, query="{ __typename }")

    assert len(pool_warnings(caplog)) == 3


async def test_a_pool_at_80_percent_or_less_logs_no_warning(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_for(database_url, max_connections=5, pool_warning_interval=0)

    with caplog.at_level(logging.WARNING, logger="gateway.pool"):
        async with serve(app) as client, holding(app, 4):
            await post(client, query="{ __typename }")

    assert pool_warnings(caplog) == []
