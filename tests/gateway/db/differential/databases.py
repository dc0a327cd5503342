"""Fresh databases for the differential suite: each library's run gets a database of its
own, so neither sees the other's schemas, tables or tracking rows.

`fresh_database(server_url)` creates one (any name, special characters included) and drops
it on exit, also when the body fails; `shared_manager(library, url)` is a manager of
`library` over its own small shared pool, its schema created first (pgdbm's pool-based
managers do not create it); `kind(library, error)` names the class an error is, from that
library's pgdbm-named classes; `on_both` runs a scenario on each library, each on its
own database. Below, what the migration scenarios write and read: files, tracking rows,
tables, result dicts without their durations.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import asyncpg
import pytest

from gateway.db.embedded import with_database

__all__ = [
    "ERROR_CLASSES",
    "SCHEMA",
    "Both",
    "Urls",
    "checksum",
    "create_schema",
    "file_facts",
    "fresh_database",
    "kind",
    "migrator",
    "offline_manager",
    "on_both",
    "outcome",
    "query",
    "quoted",
    "raised",
    "raised_by",
    "server_address",
    "shared_manager",
    "shared_pool",
    "sql_files_under",
    "success",
    "summary",
    "tables",
    "tracked_files",
    "tracking",
    "up_to_date",
    "write",
]

SCHEMA = "app"
Both = tuple[ModuleType, ModuleType]  # (pgdbm, gateway.db): the `both` fixture
Urls = dict[str, str]  # each library's own database URL, by the library's name
_numbers = itertools.count()

# Most specific first: the first class `error` is an instance of names it.
ERROR_CLASSES = (
    "QueryError",
    "MigrationError",
    "SchemaError",
    "ConfigurationError",
    "PoolError",
    "ConnectionError",
    "TransactionError",
    "AsyncDBError",
)


def quoted(name: str) -> str:
    """`name` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


async def _admin(server_url: str, statement: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database(server_url: str, name: str | None = None) -> AsyncIterator[str]:
    """The URL of a new, empty database (named `name` if given), dropped on exit."""
    name = name or f"gwdiff_{os.getpid()}_{next(_numbers)}"
    await _admin(server_url, f"CREATE DATABASE {quoted(name)}")
    try:
        yield with_database(server_url, quote(name, safe=""))
    finally:
        await _admin(server_url, f"DROP DATABASE IF EXISTS {quoted(name)} WITH (FORCE)")


async def create_schema(url: str, schema: str) -> None:
    """Create `schema` on a connection outside every pool (pgdbm's shared-pool managers
    need it made first)."""
    await _admin(url, f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)}")


@asynccontextmanager
async def shared_pool(library: ModuleType, url: str, **config: Any) -> AsyncIterator[Any]:
    """`library`'s shared pool on `url` (one to three connections), closed on exit."""
    fields: dict[str, Any] = {"min_connections": 1, "max_connections": 3, "retry_attempts": 1}
    pool = await library.AsyncDatabaseManager.create_shared_pool(
        library.DatabaseConfig(connection_string=url, **{**fields, **config})
    )
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def shared_manager(
    library: ModuleType, url: str, schema: str | None = SCHEMA, **config: Any
) -> AsyncIterator[Any]:
    """A manager of `library` for `schema` (made first) on a shared pool of its own; without
    a schema, the pool-based manager's default (`public`)."""
    if schema is not None:
        await create_schema(url, schema)
    async with shared_pool(library, url, **config) as pool:
        if schema is None:
            yield library.AsyncDatabaseManager(pool=pool)
        else:
            yield library.AsyncDatabaseManager(pool=pool, schema=schema)


async def server_address(server_url: str) -> tuple[str, int]:
    """(host, port) of the test server as DatabaseConfig fields; a Unix socket directory
    percent-encoded, since both libraries splice the host into the DSN as it is."""
    parts = urlsplit(server_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    conn = await asyncpg.connect(server_url)
    try:
        port = int(await conn.fetchval("SHOW port"))
    finally:
        await conn.close()
    return (quote(host, safe="") if host.startswith("/") else host), port


def kind(library: ModuleType, error: BaseException) -> str:
    """The pgdbm-named class of `library` that `error` is an instance of, else its own class
    name (asyncpg's `UniqueViolationError`, a builtin's `ValueError`)."""
    for name in ERROR_CLASSES:
        if isinstance(error, getattr(library, name)):
            return name
    return type(error).__name__


async def on_both(
    both: Both, urls: Urls, scenario: Callable[[ModuleType, str], Awaitable[Any]]
) -> tuple[Any, Any]:
    """(pgdbm's result, gateway.db's) of `scenario`, each run on its own database
    (`urls`: the database URL by library name)."""
    theirs, ours = both
    return await scenario(theirs, urls[theirs.__name__]), await scenario(ours, urls[ours.__name__])


async def raised(awaitable: Awaitable[Any]) -> BaseException:
    """The exception `awaitable` raises (the test fails if it raises none)."""
    try:
        await awaitable
    except Exception as error:
        return error
    pytest.fail("no exception was raised")


def raised_by(call: Callable[[], Any]) -> BaseException:
    """The exception `call` raises (the test fails if it raises none)."""
    try:
        call()
    except Exception as error:
        return error
    pytest.fail("no exception was raised")


def offline_manager(library: ModuleType, schema: str | None) -> Any:
    """A manager built from a config and never connected: enough for prepare_query."""
    fields: dict[str, Any] = {"connection_string": "postgresql://app@db.example/shop"}
    if schema is not None:
        fields["schema"] = schema
    return library.AsyncDatabaseManager(library.DatabaseConfig(**fields))


# --- migrations ---------------------------------------------------------------------------


def write(folder: Path, filename: str, sql: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(sql.encode())


def file_facts(path: str) -> tuple[str, Path, str]:
    """(name, folder, content) of a written migration file."""
    written = Path(path)
    return written.name, written.parent, written.read_text(encoding="utf-8")


def sql_files_under(root: Path) -> list[str]:
    return sorted(path.name for path in root.rglob("*.sql"))


async def outcome(library: ModuleType, awaitable: Any) -> str:
    """The class of the error `awaitable` raises, or what it returned."""
    try:
        return f"returned {await awaitable!r}"
    except Exception as error:
        return kind(library, error)


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.replace("\r\n", "\n").strip().encode()).hexdigest()


@asynccontextmanager
async def migrator(
    library: ModuleType, url: str, folder: Path, schema: str = SCHEMA, **options: Any
) -> AsyncIterator[Any]:
    """`library`'s AsyncMigrationManager for `folder`, its manager's schema made first."""
    async with shared_manager(library, url, schema=schema) as db:
        yield library.AsyncMigrationManager(db, str(folder), **options)


async def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def tracked_files(url: str, schema: str = SCHEMA) -> list[str]:
    """The filenames of the schema's tracking rows, in id order."""
    return [row[1] for row in await tracking(url, schema) or []]


async def tracking(url: str, schema: str = SCHEMA) -> list[tuple[Any, ...]] | None:
    """The schema's tracking rows (module, filename, checksum, applied_by) in id order;
    None when it has no tracking table."""
    found = await query(url, "SELECT to_regclass($1) IS NOT NULL", f'"{schema}".schema_migrations')
    if not found[0][0]:
        return None
    return await query(
        url,
        f'SELECT module_name, filename, checksum, applied_by FROM "{schema}".schema_migrations '
        "ORDER BY id",
    )


async def tables(url: str, schema: str = SCHEMA) -> list[str]:
    """The schema's tables, its tracking table aside."""
    rows = await query(
        url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
        "AND table_name <> 'schema_migrations' ORDER BY table_name",
        schema,
    )
    return [row[0] for row in rows]


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """A result dict without durations: its keys, applied filenames, the rest as is."""
    seen = {key: value for key, value in result.items() if key != "total_time_ms"}
    seen["keys"] = sorted(result)
    seen["applied"] = [entry["filename"] for entry in result["applied"]]
    seen["entry_keys"] = sorted({key for entry in result["applied"] for key in entry})
    return seen


def success(applied: list[str], skipped: list[str]) -> dict[str, Any]:
    """pgdbm's summary of a run that applied `applied` after `skipped`."""
    return {
        "status": "success", "applied": applied, "skipped": skipped,
        "total": len(applied) + len(skipped), "entry_keys": ["execution_time_ms", "filename"],
        "keys": ["applied", "skipped", "status", "total", "total_time_ms"],
    }  # fmt: skip


def up_to_date(skipped: list[str]) -> dict[str, Any]:
    """pgdbm's summary of a run with nothing to apply."""
    return {
        "status": "up_to_date", "applied": [], "skipped": skipped, "total": len(skipped),
        "entry_keys": [], "keys": ["applied", "skipped", "status", "total"],
    }  # fmt: skip
