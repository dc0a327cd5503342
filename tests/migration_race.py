"""Two processes applying one migrations folder at the same moment, for the exactly-once tests.

Both are started, wait at a barrier, and are released together; the folder's first file
starts with GATE_STATEMENT, which waits on a table lock the test holds, so both runs are
inside apply_pending_migrations at once whatever the scheduling. Once both wait on a lock,
the gate opens and each reports what it applied.

    reports = await race_two_migrations(conn, url, folder, tmp_path)
    assert sorted(f for report in reports for f in report.applied) == [...]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

__all__ = ["GATE_STATEMENT", "RaceReport", "eventually", "race_two_migrations"]

# The first statement of the race's first file: it waits while the test holds the gate.
GATE_STATEMENT = "SELECT count(*) FROM public.gate;"

_SCRIPT = """
import asyncio
import sys
from pathlib import Path

from gateway.db import AsyncDatabaseManager, AsyncMigrationManager, DatabaseConfig


async def main(url: str, folder: str, barrier: str, name: str) -> None:
    config = DatabaseConfig(
        connection_string=url, min_connections=1, max_connections=2, retry_attempts=1
    )
    pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        migrations = AsyncMigrationManager(
            AsyncDatabaseManager(pool=pool, schema="race"), folder, module_name="race"
        )
        (Path(barrier) / f"ready-{name}").touch()
        while not (Path(barrier) / "go").exists():
            await asyncio.sleep(0.001)
        result = await migrations.apply_pending_migrations()
        applied = [m["filename"] for m in result["applied"]]
        print(pool.through_pooler, result["status"], *applied, flush=True)
    finally:
        await pool.close()


asyncio.run(main(*sys.argv[1:]))
"""


@dataclass(frozen=True)
class RaceReport:
    """What one of the two runs said: through a pooler or not, its status, its files."""

    through_pooler: bool
    status: str
    applied: list[str]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 20) -> None:
    """Poll `check` until it holds; fail (not hang) if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.02)


async def race_two_migrations(
    conn: asyncpg.Connection, url: str, folder: Path, work_dir: Path
) -> list[RaceReport]:
    """Race two processes migrating `folder` (module and schema "race") on `url`; `conn` is
    a direct connection to the same database, holding the gate. Fails the test when a
    process fails."""
    script = work_dir / "race_migrate.py"
    script.write_text(_SCRIPT)
    barrier = work_dir / "barrier"
    barrier.mkdir()
    await conn.execute("CREATE TABLE public.gate (id INT)")
    gate = conn.transaction()
    await gate.start()
    await conn.execute("LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE")
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *(str(script), url, str(folder), str(barrier), name),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in ("a", "b")
    ]

    async def ready() -> bool:
        if any(process.returncode is not None for process in processes):
            pytest.fail("a migrating process exited before the race started")
        return all((barrier / f"ready-{name}").exists() for name in ("a", "b"))

    async def both_waiting() -> bool:
        if any(process.returncode is not None for process in processes):
            return True  # let the caller's assertions say what happened
        # pg_locks, not pg_stat_activity: a server connection a pooler just opened may
        # still report itself as "starting", without its database, while it waits.
        waiting: int = await conn.fetchval(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return waiting == 2

    try:
        await eventually(ready, "both processes are ready")
        (barrier / "go").touch()
        await eventually(both_waiting, "both runs are inside apply_pending_migrations")
    finally:
        await gate.commit()
        outputs = [await process.communicate() for process in processes]
    reports = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        pooled, status, *applied = out.decode().split()
        reports.append(RaceReport(pooled == "True", status, applied))
    return reports
