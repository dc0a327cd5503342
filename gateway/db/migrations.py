"""AsyncMigrationManager: apply a module's `NNN_name.sql` files once, in order, atomically.

    migrations = AsyncMigrationManager(orders_db, "migrations/orders", module_name="orders")
    await migrations.apply_pending_migrations()

Every module records its files in one tracking table (`public.schema_migrations` by
default) keyed by (module_name, filename), so two services may both ship
`001_create.sql`. A database migrated by pgdbm is adopted as it is: pgdbm keeps its table in
each schema (`<schema>.schema_migrations`), and a file recorded there for the module is
applied, never run again. Checksums are pgdbm's (sha256 of the text with CRLF made LF and
the ends stripped); a row written by an earlier gateway (sha256 of the raw text) matches
too. Each pending file runs in its own transaction, statement by statement, so
a failure rolls that file back whole and names the statement. A PostgreSQL advisory lock
serialises concurrent runs, across processes, so each file is applied exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from gateway.db.errors import MigrationError, SchemaError
from gateway.db.identifiers import validate_identifier
from gateway.db.sqlsplit import split_statements
from gateway.db.templates import render_template

if TYPE_CHECKING:
    from gateway.db.manager import AsyncDatabaseManager

__all__ = ["AsyncMigrationManager", "Migration", "create_schema_if_missing"]

logger = logging.getLogger("gateway.db.migrations")

TRACKING_SCHEMA = "public"
# One key for every migration run on the database: runs are short and rare, and one lock
# also serialises creating the tracking table itself.
_LOCK_KEY = 0x6761_7465  # "gate"
_LOCK_WAIT_ROUND_S = 30  # log again this often while waiting for another run's migrations

_FILENAME = re.compile(r"^(?:(?P<num>\d+)_|V(?P<flyway>\d+)__)[^/]*\.sql$")
# A file's own BEGIN/COMMIT are dropped: the whole file already runs in one transaction.
# Matched against the statement's code, so a comment line above `COMMIT;` does not hide it
# (executed, it would commit half the file early).
_TRANSACTION_CONTROL = re.compile(
    r"(?:BEGIN|START\s+TRANSACTION)(?:\s+(?:WORK|TRANSACTION))?"
    r"(?:\s+(?:ISOLATION|READ|NOT|DEFERRABLE)\b.*)?"
    r"|(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+NO\s+CHAIN)?",
    re.IGNORECASE | re.DOTALL,
)
# Statements PostgreSQL refuses inside a transaction block; a file holding one runs without
# a transaction. Matched against code only: a comment or string that says "concurrently"
# must not cost a file its atomicity.
_NEEDS_NO_TRANSACTION = re.compile(
    r"^(?!REFRESH\b).*\bCONCURRENTLY\b"
    r"|^(?:VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|CREATE\s+TABLESPACE"
    r"|DROP\s+TABLESPACE|REINDEX\s+(?:SYSTEM|DATABASE))\b",
    re.IGNORECASE | re.DOTALL,
)
# `-- pgdbm:no-transaction` (pgdbm's, at the start of a line) or `-- gateway:no-transaction`:
# the file runs statement by statement without a transaction (ALTER TYPE ... ADD VALUE,
# then a statement using the value, must).
_NO_TRANSACTION_MARKER = re.compile(
    r"^--\s*(?:gateway|pgdbm):no-transaction(?=\s|$)", re.IGNORECASE | re.MULTILINE
)
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass
class Migration:
    """One migration file, and when it was applied (None while pending)."""

    filename: str
    checksum: str
    content: str
    applied_at: datetime | None = None
    module_name: str | None = None
    execution_time_ms: float | None = None

    @property
    def is_applied(self) -> bool:
        return self.applied_at is not None

    def model_dump(self) -> dict[str, Any]:
        """pgdbm's Migration is a pydantic model: its fields as a dict, as it gives them."""
        return {
            "filename": self.filename,
            "checksum": self.checksum,
            "content": self.content,
            "applied_at": self.applied_at,
            "module_name": self.module_name,
        }

    @property
    def version(self) -> str:
        """The numeric prefix: `001` for `001_create_users.sql`, `1` for `V1__init.sql`."""
        match = _FILENAME.match(self.filename)
        if match is None:
            return self.filename.removesuffix(".sql")
        return match.group("num") or match.group("flyway")

    @property
    def order(self) -> tuple[int, str]:
        return (int(self.version) if self.version.isdigit() else 0, self.filename)


class AsyncMigrationManager:
    """Applies one module's migration files through its schema's manager.

    Usage: `await AsyncMigrationManager(db, "migrations/users", module_name="users")
    .apply_pending_migrations()`.
    """

    def __init__(
        self,
        db_manager: AsyncDatabaseManager,
        migrations_path: str | Path = "./migrations",
        module_name: str | None = None,
        migrations_table: str = "schema_migrations",
    ) -> None:
        self.db = db_manager
        self.migrations_path = Path(migrations_path)
        # pgdbm's default: the schema's name, so that two schemas' 001_init.sql never meet.
        self.module_name = module_name or self.db.schema or "default"
        self.migrations_table = validate_identifier(migrations_table, kind="migrations table")
        self._table = f'"{TRACKING_SCHEMA}".{self.migrations_table}'

    async def find_migration_files(self) -> list[Migration]:
        """Every migration file on disk, in the order it applies."""
        if not self.migrations_path.is_dir():
            raise MigrationError(
                f"The migrations folder {str(self.migrations_path)!r} does not exist "
                f"(module {self.module_name!r}); create it or fix migrations_path."
            )
        found = []
        for path in self.migrations_path.glob("*.sql"):
            if not path.is_file():
                continue
            if not _FILENAME.match(path.name):
                logger.warning(
                    "Ignoring %s: migration files are named NNN_name.sql or V1__name.sql", path
                )
                continue
            content = path.read_text(encoding="utf-8")
            found.append(
                Migration(
                    filename=path.name,
                    checksum=checksum_of(content),
                    content=content,
                    module_name=self.module_name,
                )
            )
        found.sort(key=lambda migration: migration.order)
        return found

    async def ensure_migrations_table(self) -> None:
        """Create the tracking table if it does not exist."""
        async with self.db.acquire() as conn:
            await self._lock(conn)
            try:
                await self._ensure_table(conn)
            finally:
                await self._unlock(conn)

    async def get_applied_migrations(
        self, conn: asyncpg.Connection | None = None
    ) -> dict[str, Migration]:
        """This module's applied migrations, by filename (read on `conn` if given, else on a
        connection of the manager's pool)."""
        if conn is not None:
            return await self._applied_on(conn)
        async with self.db.acquire() as pooled:
            return await self._applied_on(pooled)

    async def get_pending_migrations(
        self, conn: asyncpg.Connection | None = None
    ) -> list[Migration]:
        """Files on disk not yet applied for this module, in order (`conn` as above);
        MigrationError when an applied file has changed since, as pgdbm's does."""
        applied = await self.get_applied_migrations(conn)
        files = await self.find_migration_files()
        self._check_unchanged(files, applied)
        return [m for m in files if m.filename not in applied]

    async def _applied_on(self, conn: asyncpg.Connection) -> dict[str, Migration]:
        """Applied here, or by pgdbm in this schema's own table (adopted)."""
        ours = await self._applied(conn) if await self._table_exists(conn) else {}
        return {**await self._applied_by_pgdbm(conn), **ours}

    async def _applied_by_pgdbm(self, conn: asyncpg.Connection) -> dict[str, Migration]:
        """This module's rows in pgdbm's tracking table of the manager's schema, if any."""
        if not self.db.schema:
            return {}
        table = f'"{self.db.schema}".{self.migrations_table}'
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
            return {}
        # pgdbm's layout: module_name NULL for rows older than its module support.
        rows = await conn.fetch(
            f"SELECT filename, checksum, applied_at, module_name, NULL AS execution_time_ms "
            f"FROM {table} WHERE module_name = $1 OR module_name IS NULL",
            self.module_name,
        )
        return _recorded(rows)

    async def apply_pending_migrations(self, dry_run: bool = False) -> dict[str, Any]:
        """Apply every pending file; returns pgdbm's status dict.

        Raises MigrationError, naming the file and statement, when a file fails (that file is
        rolled back; later files are not applied), or when an applied file has changed.
        """
        files = await self.find_migration_files()
        async with self.db.acquire() as conn:
            await self._lock(conn)
            try:
                return await self._apply(conn, files, dry_run=dry_run)
            finally:
                await self._unlock(conn)

    async def apply_migration(self, migration: Migration) -> float:
        """Apply one migration now (no pending check); returns its duration in ms."""
        async with self.db.acquire() as conn:
            await self._lock(conn)
            try:
                await self._ensure_table(conn)
                return await self._apply_one(conn, migration)
            finally:
                await self._unlock(conn)

    async def get_migration_history(self, limit: int = 10) -> list[dict[str, Any]]:
        """The most recently applied migrations of this module, newest first."""
        async with self.db.acquire() as conn:
            if not await self._table_exists(conn):
                return []
            rows = await conn.fetch(
                f"SELECT filename, checksum, module_name, schema_name, applied_at, "
                f"execution_time_ms FROM {self._table} WHERE module_name = $1 "
                "ORDER BY applied_at DESC, id DESC LIMIT $2",
                self.module_name,
                limit,
            )
        return [dict(row) for row in rows]

    async def rollback_migration(self, filename: str) -> None:
        """Forget that `filename` was applied (its changes stay: write a new migration)."""
        async with self.db.acquire() as conn:
            if not await self._table_exists(conn):
                return  # nothing was ever applied
            await conn.execute(
                f"DELETE FROM {self._table} WHERE module_name = $1 AND filename = $2",
                self.module_name,
                filename,
            )

    async def create_migration(self, name: str, content: str, auto_transaction: bool = True) -> str:
        """Write the next `NNN_name.sql` file in the folder; returns its path.

        Every file already runs in a transaction, so `auto_transaction` is accepted for
        pgdbm compatibility and adds nothing.
        """
        validate_identifier(name, kind="migration name")
        self.migrations_path.mkdir(parents=True, exist_ok=True)
        existing = [m.order[0] for m in await self.find_migration_files()]
        path = self.migrations_path / f"{max(existing, default=0) + 1:03d}_{name}.sql"
        path.write_text(content.strip() + "\n", encoding="utf-8")
        return str(path)

    async def _apply(
        self, conn: asyncpg.Connection, files: list[Migration], *, dry_run: bool
    ) -> dict[str, Any]:
        if not dry_run:
            await self._ensure_table(conn)
        applied = await self._applied_on(conn)
        self._check_unchanged(files, applied)
        pending = [m for m in files if m.filename not in applied]
        result: dict[str, Any] = {
            "status": "up_to_date",
            "applied": [],
            "skipped": sorted(applied, key=lambda name: applied[name].order),
            "total": len(files),
        }
        if not pending:
            return result
        if dry_run:
            return {**result, "status": "dry_run", "pending": [m.filename for m in pending]}
        if self.db.schema:
            await create_schema_if_missing(conn, self.db.schema)
        started = time.perf_counter()
        for migration in pending:
            try:
                elapsed = await self._apply_one(conn, migration)
            except MigrationError as error:
                error.details["result"] = {
                    **result,
                    "status": "error",
                    "failed_migration": migration.filename,
                    "error": str(error),
                }
                raise
            result["applied"].append({"filename": migration.filename, "execution_time_ms": elapsed})
            logger.info("%s: applied %s in %.1f ms", self.module_name, migration.filename, elapsed)
        result["status"] = "success"
        result["total_time_ms"] = (time.perf_counter() - started) * 1000
        return result

    async def _apply_one(self, conn: asyncpg.Connection, migration: Migration) -> float:
        statements = []
        atomic = not _NO_TRANSACTION_MARKER.search(migration.content)
        for statement in split_statements(migration.content):
            code = _code_of(statement)
            if _TRANSACTION_CONTROL.fullmatch(code):
                continue
            if _NEEDS_NO_TRANSACTION.search(code):
                atomic = False
            try:
                statements.append(render_template(statement, self.db.schema))
            except SchemaError as error:
                raise MigrationError(
                    f"Migration {migration.filename} (module {self.module_name!r}) has an "
                    f"invalid template: {error}\nIn statement:\n{statement}",
                    migration_file=migration.filename,
                    statement=statement,
                ) from error
        started = time.perf_counter()
        transaction = conn.transaction()
        if atomic:
            await transaction.start()
        try:
            for statement in statements:
                try:
                    await conn.execute(statement)
                except asyncpg.PostgresError as error:
                    raise MigrationError(
                        f"Migration {migration.filename} (module {self.module_name!r}) failed "
                        f"and was rolled back: {error}\nFailing statement:\n{statement}",
                        migration_file=migration.filename,
                        statement=statement,
                    ) from error
            elapsed = (time.perf_counter() - started) * 1000
            await conn.execute(
                f"INSERT INTO {self._table} "
                "(filename, checksum, module_name, schema_name, execution_time_ms) "
                "VALUES ($1, $2, $3, $4, $5)",
                migration.filename,
                migration.checksum,
                self.module_name,
                self.db.schema,
                elapsed,
            )
        except BaseException:
            if atomic:
                await transaction.rollback()
            raise
        if atomic:
            await transaction.commit()
        return elapsed

    def _check_unchanged(self, files: list[Migration], applied: dict[str, Migration]) -> None:
        for migration in files:
            recorded = applied.get(migration.filename)
            # An earlier gateway recorded the raw text's sha256: as unchanged as pgdbm's.
            if recorded is not None and recorded.checksum not in (
                migration.checksum,
                hashlib.sha256(migration.content.encode()).hexdigest(),
            ):
                raise MigrationError(
                    f"Migration {migration.filename} (module {self.module_name!r}) was changed "
                    "after it was applied: expected checksum "
                    f"{recorded.checksum[:12]}..., found {migration.checksum[:12]}.... Restore "
                    "the file and put the change in a new migration. Nothing was applied.",
                    migration_file=migration.filename,
                )

    async def _applied(self, conn: asyncpg.Connection) -> dict[str, Migration]:
        rows = await conn.fetch(
            f"SELECT filename, checksum, applied_at, module_name, execution_time_ms "
            f"FROM {self._table} WHERE module_name = $1",
            self.module_name,
        )
        return _recorded(rows)

    async def _table_exists(self, conn: asyncpg.Connection) -> bool:
        return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", self._table))

    async def _ensure_table(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {self._table} (
                id SERIAL PRIMARY KEY,
                filename VARCHAR(255) NOT NULL,
                checksum VARCHAR(64) NOT NULL,
                module_name VARCHAR(255) NOT NULL,
                schema_name VARCHAR(63),
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                execution_time_ms REAL,
                UNIQUE (module_name, filename)
            )
            """
        )

    async def _lock(self, conn: asyncpg.Connection) -> None:
        """Take the migration lock, waiting as long as another run holds it.

        The pool's lock_timeout, statement_timeout and command_timeout are meant for queries,
        not for waiting on another process's migrations: with them the second of two
        deploys starting together would fail once the first's migrations took a few
        seconds. The wait runs without them, in rounds that log who holds the lock; the
        session's own values are restored for the migration statements.
        """
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
            return
        saved = await conn.fetchrow(
            "SELECT current_setting('lock_timeout') AS lock_timeout, "
            "current_setting('statement_timeout') AS statement_timeout"
        )
        assert saved is not None
        await conn.execute(
            "SELECT set_config('lock_timeout', $1, false), "
            "set_config('statement_timeout', '0', false)",
            f"{_LOCK_WAIT_ROUND_S}s",
        )
        try:
            while True:
                holder = await conn.fetchval(
                    "SELECT string_agg(pid::text, ', ') FROM pg_locks WHERE locktype = "
                    "'advisory' AND granted AND objid = $1::bigint AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())",
                    _LOCK_KEY,
                )
                logger.info(
                    "%s: waiting for the migration lock, held by backend %s",
                    self.module_name,
                    holder or "(just released)",
                )
                try:
                    await conn.execute(
                        "SELECT pg_advisory_lock($1)", _LOCK_KEY, timeout=_LOCK_WAIT_ROUND_S + 30
                    )
                    return
                except asyncpg.LockNotAvailableError:
                    continue
        finally:
            await conn.execute(
                "SELECT set_config('lock_timeout', $1, false), "
                "set_config('statement_timeout', $2, false)",
                saved["lock_timeout"],
                saved["statement_timeout"],
            )

    @staticmethod
    async def _unlock(conn: asyncpg.Connection) -> None:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _recorded(rows: list[asyncpg.Record]) -> dict[str, Migration]:
    """Tracking rows (filename, checksum, applied_at, module_name, execution_time_ms) as
    applied migrations, by filename."""
    return {
        row["filename"]: Migration(
            filename=row["filename"],
            checksum=row["checksum"],
            content="",
            applied_at=row["applied_at"],
            module_name=row["module_name"],
            execution_time_ms=row["execution_time_ms"],
        )
        for row in rows
    }


def checksum_of(content: str) -> str:
    """A migration file's checksum, as pgdbm computes it: sha256 of the text with CRLF line
    ends made LF and the whole stripped, so an editor's line ends change nothing."""
    return hashlib.sha256(content.replace("\r\n", "\n").strip().encode("utf-8")).hexdigest()


async def create_schema_if_missing(conn: asyncpg.Connection, schema: str) -> None:
    """`CREATE SCHEMA IF NOT EXISTS`, also when another session creates it at the same moment.

    PostgreSQL's IF NOT EXISTS checks before inserting, so two sessions creating one schema
    together can still fail with a duplicate; the schema exists then, which is all we want.
    """
    validate_identifier(schema, kind="schema")
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except (asyncpg.UniqueViolationError, asyncpg.DuplicateSchemaError):
        if conn.is_in_transaction():
            raise  # the transaction is aborted: the caller must see it
        logger.debug("schema %s was created concurrently by another session", schema)


def _code_of(statement: str) -> str:
    """`statement` without comments, and with quoted text and dollar-quoted bodies blanked.

    For classifying a statement only (transaction control, needs no transaction); never run.
    """
    out: list[str] = []
    i, n = 0, len(statement)
    while i < n:
        char = statement[i]
        if statement.startswith("--", i):
            newline = statement.find("\n", i)
            i = n if newline == -1 else newline + 1
            out.append(" ")
        elif statement.startswith("/*", i):
            depth = 0
            while i < n:
                if statement.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif statement.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
            out.append(" ")
        elif char in ("'", '"'):
            end = i + 1
            while end < n:
                if statement[end] == char:
                    if statement.startswith(char * 2, end):
                        end += 2
                        continue
                    break
                end += 1
            i = end + 1
            out.append(f"{char}{char}")
        elif char == "$" and (tag := _DOLLAR_TAG.match(statement, i)):
            end = statement.find(tag.group(0), tag.end())
            i = n if end == -1 else end + len(tag.group(0))
            out.append("$$$$")
        else:
            out.append(char)
            i += 1
    return " ".join("".join(out).split())
