"""Health endpoints: `/health/live` (the process answers) and `/health/ready` (it can serve).

    GET /health/live    200 {"status": "alive"}, always
    GET /health/ready   200 {"status": "ready", "checks": {...}} when the database answers a
                        cheap query within `timeout` seconds and every service's migrations
                        are applied (no pending file in its folder); otherwise 503 with
                        {"status": "unavailable", "checks": {...}} saying which check failed:

    {"status": "unavailable",
     "checks": {"database": {"status": "ok"},
                "migrations": {"status": "failed", "pending": {"reviews": ["002_x.sql"]}}}}

Readiness does not take connections from the shared pool: while requests hold every pooled
connection the server is busy, not unavailable, and a load balancer that took it out then
would shed the load onto fewer servers. The checks run on the app's own HealthConnection
(gateway.http.health_connection), one connection beside the pool. The pool is still looked at
without taking from it: once it is closed, the app cannot serve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.db import AsyncDatabaseManager, AsyncMigrationManager
from gateway.http.health_connection import HealthConnection

__all__ = ["DEFAULT_READY_TIMEOUT", "health_router", "readiness"]

logger = logging.getLogger("gateway.http.health")

DEFAULT_READY_TIMEOUT = 2.0  # seconds for each check; a probe must answer quickly

Checks = dict[str, dict[str, Any]]


def health_router(migrations_dir: Path, *, timeout: float = DEFAULT_READY_TIMEOUT) -> APIRouter:
    """The `/health/live` and `/health/ready` routes of an app made by `create_app`.

    They read the pool, managers and health connection the app's lifespan puts on
    `app.state`.
    """
    router = APIRouter(prefix="/health")
    was_ready = True

    @router.get("/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/ready", include_in_schema=False)
    async def ready(request: Request) -> JSONResponse:
        nonlocal was_ready
        state = request.app.state
        ok, checks = await readiness(
            getattr(state, "pool", None),
            getattr(state, "managers", None),
            migrations_dir,
            health=getattr(state, "health_connection", None),
            timeout=timeout,
        )
        if ok != was_ready:  # log changes of state, not every probe
            log = logger.info if ok else logger.warning
            log("Readiness changed to %s: %s", "ready" if ok else "unavailable", checks)
            was_ready = ok
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    return router


async def readiness(
    pool: asyncpg.Pool | None,
    managers: Mapping[str, AsyncDatabaseManager] | None,
    migrations_dir: Path,
    *,
    health: HealthConnection | None,
    timeout: float = DEFAULT_READY_TIMEOUT,
) -> tuple[bool, Checks]:
    """Whether the app can serve, and each check's result (see the module docstring).

    The database is queried on `health`, never on `pool`.
    """
    if pool is None or managers is None or health is None:
        reason = "the app has not started (its lifespan opens the pool)"
        return False, {
            "database": {"status": "failed", "reason": reason},
            "migrations": {"status": "skipped", "reason": reason},
        }
    database = await _check_database(pool, health, timeout)
    if database["status"] != "ok":
        return False, {
            "database": database,
            "migrations": {"status": "skipped", "reason": "the database does not answer"},
        }
    migrations = await _check_migrations(managers, health, migrations_dir, timeout)
    checks = {"database": database, "migrations": migrations}
    return migrations["status"] == "ok", checks


async def _check_database(
    pool: asyncpg.Pool, health: HealthConnection, timeout: float
) -> dict[str, Any]:
    if pool.is_closing():
        return {"status": "failed", "reason": "the connection pool is closed"}
    try:
        async with asyncio.timeout(timeout):
            async with health.connection() as conn:
                await conn.fetchval("SELECT 1")
    except TimeoutError:
        return {"status": "failed", "reason": f"no answer within {timeout:g}s"}
    except Exception as error:  # also asyncpg's InternalClientError on a severed connection
        # The error's text may name hosts and ports: the log has it, the response its kind.
        logger.warning("Readiness: the database check failed: %r", error)
        return {"status": "failed", "reason": type(error).__name__}
    return {"status": "ok"}


async def _check_migrations(
    managers: Mapping[str, AsyncDatabaseManager],
    health: HealthConnection,
    migrations_dir: Path,
    timeout: float,
) -> dict[str, Any]:
    pending: dict[str, list[str]] = {}
    try:
        async with asyncio.timeout(timeout), health.connection() as conn:
            for name, db in managers.items():
                manager = AsyncMigrationManager(db, migrations_dir / name, module_name=name)
                files = [m.filename for m in await manager.get_pending_migrations(conn)]
                if files:
                    pending[name] = files
    except TimeoutError:
        return {"status": "failed", "reason": f"no answer within {timeout:g}s"}
    except Exception as error:
        logger.warning("Readiness: the migrations check failed: %r", error)
        return {"status": "failed", "reason": type(error).__name__}
    if pending:
        return {"status": "failed", "pending": pending}
    return {"status": "ok"}
