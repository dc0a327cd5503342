"""/health/live and /health/ready over HTTP, on the real app and database.

Readiness is checked in both states: ready after startup, then unavailable once a service's
folder gets a migration the database has not seen, or once the pool is closed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import httpx

from gateway.http.health import readiness
from gateway.http.health_connection import APPLICATION_NAME
from tests.asgi import serve
from tests.gateway.serving import REPO_MIGRATIONS, app_for


def copy_of_the_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(REPO_MIGRATIONS, folder)
    return folder


async def test_live_answers_200_whatever_the_database_state(database_url: str) -> None:
    app = app_for(database_url)

    async with serve(app) as client:
        while_serving = await client.get("/health/live")
        await app.state.pool.close()
        with_the_pool_closed = await client.get("/health/live")

    for response in (while_serving, with_the_pool_closed):
        assert response.status_code == 200
        assert response.json() == {"status": "alive"}


async def test_ready_answers_200_when_the_database_answers_and_migrations_are_applied(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": {"status": "ok"}, "migrations": {"status": "ok"}},
    }


async def test_ready_answers_503_naming_a_migration_added_after_startup(
    database_url: str, tmp_path: Path
) -> None:
    migrations = copy_of_the_migrations(tmp_path)
    app = app_for(database_url, migrations_dir=migrations)

    async with serve(app) as client:
        before = await client.get("/health/ready")
        (migrations / "orders" / "002_add_notes.sql").write_text(
            "ALTER TABLE {{tables.orders}} ADD COLUMN notes TEXT;\n"
        )
        after = await client.get("/health/ready")

    assert before.status_code == 200
    assert after.status_code == 503
    assert after.json() == {
        "status": "unavailable",
        "checks": {
            "database": {"status": "ok"},
            "migrations": {"status": "failed", "pending": {"orders": ["002_add_notes.sql"]}},
        },
    }


async def test_ready_answers_200_again_once_the_new_migration_is_applied(
    database_url: str, tmp_path: Path
) -> None:
    migrations = copy_of_the_migrations(tmp_path)
    async with serve(app_for(database_url, migrations_dir=migrations)) as client:
        (migrations / "users" / "002_add_nickname.sql").write_text(
            "ALTER TABLE {{tables.users}} ADD COLUMN nickname TEXT;\n"
        )
        pending = await client.get("/health/ready")
        # A second instance (a deploy) starts and applies it; this one becomes ready again.
        async with serve(app_for(database_url, migrations_dir=migrations)):
            pass
        applied = await client.get("/health/ready")

    assert pending.status_code == 503
    assert applied.status_code == 200


async def test_ready_answers_503_when_the_pool_is_closed(database_url: str) -> None:
    app = app_for(database_url)

    async with serve(app) as client:
        await app.state.pool.close()
        response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": {"status": "failed", "reason": "the connection pool is closed"},
            "migrations": {"status": "skipped", "reason": "the database does not answer"},
        },
    }


async def test_ready_answers_503_before_the_app_has_started(database_url: str) -> None:
    app = app_for(database_url)  # its lifespan never runs: no pool, no managers

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "failed"
    assert "has not started" in response.json()["checks"]["database"]["reason"]


async def test_readiness_answers_ready_while_requests_hold_every_pooled_connection(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    # Before, the probe waited for a pooled connection and answered "no answer within 2s".
    app = app_for(database_url, max_connections=2)

    async with serve(app) as client:
        pool: asyncpg.Pool = app.state.pool
        held = [await pool.acquire(), await pool.acquire()]
        try:
            response = await client.get("/health/ready")
            ok, checks = await readiness(
                pool,
                app.state.managers,
                REPO_MIGRATIONS,
                health=app.state.health_connection,
                timeout=0.5,
            )
            probes = await raw_connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = $1",
                APPLICATION_NAME,
            )
        finally:
            for conn in held:
                await pool.release(conn)

    assert response.status_code == 200, response.text
    assert ok
    assert checks == {"database": {"status": "ok"}, "migrations": {"status": "ok"}}
    assert probes == 1  # the probes' one connection, beside the pool's two


async def test_readiness_reopens_its_connection_after_the_database_ended_it(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    async with serve(app_for(database_url)) as client:
        before = await client.get("/health/ready")
        await raw_connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
        statuses = [(await client.get("/health/ready")).status_code for _ in range(2)]

    assert before.status_code == 200
    # The probe that finds the connection ended may fail; the next one reconnects.
    assert statuses[-1] == 200


async def test_the_probes_connection_is_closed_with_the_app(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    async with serve(app_for(database_url)) as client:
        await client.get("/health/ready")

    left = await raw_connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = $1",
        APPLICATION_NAME,
    )
    assert left == 0
