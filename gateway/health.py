"""Health endpoints: `/health/live` (the process answers) and `/health/ready` (it can serve).

    GET /health/live    200 {"status": "alive"}, always
    GET /health/ready   200 {"status": "ready", "checks": {...}} when the database answers a
                        cheap query within `timeout` seconds and every service's migrations
                        are applied (no pending file in its folder); otherwise 503 with
                        {"status": "unavailable", "checks": {...}} saying which check failed:

    {"status": "unavailable",
     "checks": {"database": {"status": "ok"},
                "migrations": {"status": "failed", "pending": {"reviews": ["002_x.sql"]}}}}

Readiness takes connections from the shared pool like any request: a pool that stays full
past `timeout` makes the app "unavailable" too, which is what a load balancer should know.
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

__all__ = ["DEFAULT_READY_TIMEOUT", "health_router", "readiness"]

logger = logging.getLogger("gateway.health")

DEFAULT_READY_TIMEOUT = 2.0  # seconds for each check; a probe must answer quickly

Checks = dict[str, dict[str, Any]]


def health_router(migrations_dir: Path, *, timeout: float = DEFAULT_READY_TIMEOUT) -> APIRouter:
    """The `/health/live` and `/health/ready` routes of an app made by `create_app`.

    They read the pool and managers the app's lifespan puts on `app.state`.
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
    timeout: float = DEFAULT_READY_TIMEOUT,
) -> tuple[bool, Checks]:
    """Whether the app can serve, and each check's result (see the module docstring)."""
    if pool is None or managers is None:
        reason = "the app has not started (its lifespan opens the pool)"
        return False, {
            "database": {"status": "failed", "reason": reason},
            "migrations": {"status": "skipped", "reason": reason},
        }
    database = await _check_database(pool, timeout)
    if database["status"] != "ok":
        return False, {
            "database": database,
            "migrations": {"status": "skipped", "reason": "the database does not answer"},
        }
    migrations = await _check_migrations(managers, migrations_dir, timeout)
    checks = {"database": database, "migrations": migrations}
    return migrations["status"] == "ok", checks


async def _check_database(pool: asyncpg.Pool, timeout: float) -> dict[str, Any]:
    if pool.is_closing():
        return {"status": "failed", "reason": "the connection pool is closed"}
    try:
        async with asyncio.timeout(timeout):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except TimeoutError:
        return {"status": "failed", "reason": f"no answer within {timeout:g}s"}
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        # The error's text may name hosts and ports: the log has it, the response its kind.
        logger.warning("Readiness: the database check failed: %r", error)
        return {"status": "failed", "reason": type(error).__name__}
    return {"status": "ok"}


async def _check_migrations(
    managers: Mapping[str, AsyncDatabaseManager], migrations_dir: Path, timeout: float
) -> dict[str, Any]:
    pending: dict[str, list[str]] = {}
    try:
        async with asyncio.timeout(timeout):
            for name, db in managers.items():
                manager = AsyncMigrationManager(db, migrations_dir / name, module_name=name)
                files = [m.filename for m in await manager.get_pending_migrations()]
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
