"""Test fixtures on a real PostgreSQL.

One server per test process (scripts/test runs one per core with pytest-xdist): an embedded
PostgreSQL in a temporary directory, or the server in TEST_DATABASE_URL when set, shared by
the processes then. Every test that asks for `database_url` gets a fresh database,
dropped afterwards: cloned from an empty template here and in tests/gateway/db (the data
layer's own tests), from a template the demo services' migrations were applied to once per run
in the folders whose tests start the app (their conftests say so). `empty_database_url` and
`migrated_database_url` ask for one kind explicitly. The embedded server and its directory are
removed at the end of the run, also when a test fails or the run is interrupted (SIGINT,
SIGTERM); a run killed outright is swept up by the next one.

With TEST_DIRECT_DATABASE_URL also set (scripts/test-through-pgbouncer: TEST_DATABASE_URL is
a PgBouncer in front of that server), databases are created, dropped and templated over the
direct URL (CREATE DATABASE ... TEMPLATE fails while PgBouncer keeps a server connection to
the template) and the tests get URLs through PgBouncer; `direct_server_url` is the direct one.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import services
from gateway.app import migrate_services, service_managers
from gateway.db import AsyncDatabaseManager, DatabaseConfig, SharedPool
from gateway.db.embedded import EmbeddedPostgres, kill_server_on, with_database
from gateway.settings import Settings

# One pair of templates per pytest-xdist worker: on a shared TEST_DATABASE_URL server, the
# workers must not drop each other's.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEMPLATE_DATABASE = f"gateway_test_template_{_WORKER}"
MIGRATED_TEMPLATE_DATABASE = f"gateway_test_migrated_template_{_WORKER}"
DATA_DIR_PREFIX = "gateway-test-pg-"
_database_numbers = itertools.count()


def _sweep_leftover_servers() -> None:
    """Remove data directories of earlier runs whose pytest process no longer exists."""
    for path in Path(tempfile.gettempdir()).glob(f"{DATA_DIR_PREFIX}*"):
        try:
            owner = int(path.name.removeprefix(DATA_DIR_PREFIX).split("-")[0])
            os.kill(owner, 0)
        except ProcessLookupError:
            kill_server_on(path / "data")
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def direct_server_url() -> Iterator[str]:
    """URL of the test server's maintenance database, with an empty template database;
    never through a pooler (TEST_DIRECT_DATABASE_URL when set, else as `server_url`)."""
    external = os.environ.get("TEST_DIRECT_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    server: EmbeddedPostgres | None = None
    if external:
        url = external
    else:
        _sweep_leftover_servers()
        # pytest turns SIGINT into KeyboardInterrupt and tears fixtures down; do the same
        # for SIGTERM so a stopped CI job leaves no server behind.
        signal.signal(signal.SIGTERM, _raise_interrupt)
        run_dir = Path(tempfile.mkdtemp(prefix=f"{DATA_DIR_PREFIX}{os.getpid()}-"))
        server = EmbeddedPostgres.start(run_dir / "data", delete=True)
        url = server.url
        # A throwaway server: nothing it holds must survive a crash of the machine, so it
        # need not wait for the disk (creating and dropping a database per test otherwise
        # waits on fsync several times; a process crash still loses nothing).
        asyncio.run(
            _admin(
                url,
                "ALTER SYSTEM SET fsync = off",
                "ALTER SYSTEM SET full_page_writes = off",
                "ALTER SYSTEM SET synchronous_commit = off",
                "SELECT pg_reload_conf()",
            )
        )
    try:
        asyncio.run(
            _admin(
                url,
                f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}" WITH (FORCE)',
                f'CREATE DATABASE "{TEMPLATE_DATABASE}"',
            )
        )
        yield url
    finally:
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}" WITH (FORCE)'))
        if server is not None:
            server.stop()
            shutil.rmtree(server.data_dir.parent, ignore_errors=True)


async def _migrate_demo_services(url: str) -> None:
    # The same code the app's lifespan runs, so a clone is what a first start leaves behind.
    pool = await AsyncDatabaseManager.create_shared_pool(
        DatabaseConfig(connection_string=url, min_connections=1, max_connections=1)
    )
    try:
        await migrate_services(
            service_managers(pool, services.SERVICES), Settings(database_url=url)
        )
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def server_url(direct_server_url: str) -> str:
    """URL of the test server's maintenance database, as the tests reach it (through
    PgBouncer when TEST_DIRECT_DATABASE_URL is set), with an empty template database."""
    if os.environ.get("TEST_DIRECT_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"]
    return direct_server_url


@pytest.fixture(autouse=True)
def listen_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through PgBouncer (TEST_DIRECT_DATABASE_URL set), every event hub a test opens listens
    over the direct URL of its database, as a deployment sets GATEWAY_LISTEN_DATABASE_URL:
    LISTEN needs a session, which transaction pooling does not keep."""
    direct = os.environ.get("TEST_DIRECT_DATABASE_URL")
    if not direct:
        return
    from urllib.parse import urlsplit

    from gateway.subscriptions.hub import EventHub

    original = EventHub.__init__

    def init(self: EventHub, config: DatabaseConfig, **options: Any) -> None:
        # Not where a test says pooler="transaction": tests/pgbouncer checks the refusal.
        if config.listen_connection_string is None and config.pooler != "transaction":
            database = urlsplit(config.get_dsn()).path.lstrip("/")
            config = config.model_copy(
                update={"listen_connection_string": with_database(direct, database)}
            )
        original(self, config, **options)

    monkeypatch.setattr(EventHub, "__init__", init)


@pytest.fixture(scope="session")
def migrated_template(direct_server_url: str) -> Iterator[str]:
    """Name of a template database with every demo service's migrations applied (once)."""
    drop = f'DROP DATABASE IF EXISTS "{MIGRATED_TEMPLATE_DATABASE}" WITH (FORCE)'
    asyncio.run(
        _admin(
            direct_server_url,
            drop,
            f'CREATE DATABASE "{MIGRATED_TEMPLATE_DATABASE}" TEMPLATE "{TEMPLATE_DATABASE}"',
        )
    )
    try:
        asyncio.run(
            _migrate_demo_services(with_database(direct_server_url, MIGRATED_TEMPLATE_DATABASE))
        )
        yield MIGRATED_TEMPLATE_DATABASE
    finally:
        asyncio.run(_admin(direct_server_url, drop))


def _fresh_database(direct_server_url: str, server_url: str, template: str) -> Iterator[str]:
    name = f"gateway_test_{os.getpid()}_{next(_database_numbers)}"
    asyncio.run(_admin(direct_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(_admin(direct_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_database_url(direct_server_url: str, server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test alone."""
    yield from _fresh_database(direct_server_url, server_url, TEMPLATE_DATABASE)


@pytest.fixture
def migrated_database_url(
    direct_server_url: str, server_url: str, migrated_template: str
) -> Iterator[str]:
    """A fresh database for this test alone, the demo services' migrations already applied
    (a first start of the app would apply them; the next start finds nothing pending)."""
    yield from _fresh_database(direct_server_url, server_url, migrated_template)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """This test's fresh database: empty here; migrated where a folder's conftest says so."""
    return empty_database_url


@pytest.fixture
def database_config(database_url: str) -> DatabaseConfig:
    """A small-pool config for this test's database."""
    return DatabaseConfig(
        connection_string=database_url, min_connections=1, max_connections=5, retry_attempts=1
    )


@pytest.fixture
async def shared_pool(database_config: DatabaseConfig) -> AsyncIterator[SharedPool]:
    """The one shared pool, closed after the test."""
    pool = await AsyncDatabaseManager.create_shared_pool(database_config)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def manager_factory(shared_pool: SharedPool) -> Callable[[str], AsyncDatabaseManager]:
    """Build schema-isolated managers over the shared pool (schemas created on demand)."""

    def make(schema: str) -> AsyncDatabaseManager:
        return AsyncDatabaseManager(pool=shared_pool, schema=schema)

    return make


@pytest.fixture
async def raw_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection outside every pool, to check the database's real state."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()
