"""The one place that opens a connection pool.

`open_pool(config)` returns a `SharedPool`: an asyncpg pool that also answers pgdbm's
`get_pool_stats()`, pins a neutral `search_path`, reports statements to
`gateway.db.statements`, and warns when a second pool to the same database is opened.

Through a transaction pooler (PgBouncer's pool_mode = transaction, `config.pooler`, found out
by `through_pooler`) each transaction may run on another server connection, so the pool
keeps no session state there: no statement cache (asyncpg's unnamed statements are parsed
and bound within one message exchange, which the pooler keeps on one server connection),
no reset query on release (it would run on whichever server connection is free), and only
the startup parameters the pooler forwards (the rest are to be the role's defaults).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import asyncpg

from gateway.db.config import DatabaseConfig
from gateway.db.errors import ConfigurationError, DatabaseConnectionError
from gateway.db.statements import record_statement, releasing

__all__ = ["SharedPool", "open_pool", "pool_stats", "through_pooler"]

logger = logging.getLogger("gateway.db")

# How many pools are open per server/database, to warn about the usual mistake of one
# pool per service. Decremented when a pool closes.
_open_pools: Counter[str] = Counter()
# target -> whether a transaction pooler answers there; found out once per process.
_poolers: dict[str, bool] = {}
PROBE_APPLICATION_NAME = "gateway-probe"
# The settings the pool would send at connect; behind a pooler the role's defaults must hold
# them (pg_settings reports the timeouts in milliseconds, as the config holds them).
_ROLE_DEFAULTS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")


class PoolerConnection(asyncpg.Connection):
    """A connection through a transaction pooler: released without a reset query.

    asyncpg's (`RESET ALL`, `pg_advisory_unlock_all()`, `UNLISTEN *`) would run as a
    transaction of its own on whichever server connection the pooler picks, undoing another
    client's state there; an open transaction is still rolled back (asyncpg always does).
    """

    def get_reset_query(self) -> str:
        return ""


class SharedPool(asyncpg.Pool):
    """An asyncpg pool opened by `open_pool`; usable anywhere an asyncpg pool is."""

    def __init__(
        self, config: DatabaseConfig, *, search_path: str | None, through_pooler: bool = False
    ) -> None:
        if through_pooler:
            server_settings = config.get_pooler_server_settings()
        else:
            server_settings = config.get_server_settings()
            if search_path is not None:
                server_settings.setdefault("search_path", search_path)
        super().__init__(
            config.get_dsn(),
            min_size=config.min_connections,
            max_size=config.max_connections,
            max_queries=config.max_queries,
            max_inactive_connection_lifetime=config.max_inactive_connection_lifetime,
            init=self._init_connection,
            setup=self._setup_connection,
            loop=None,
            connection_class=PoolerConnection if through_pooler else asyncpg.Connection,
            record_class=asyncpg.Record,
            command_timeout=config.command_timeout,
            statement_cache_size=0 if through_pooler else config.statement_cache_size,
            server_settings=server_settings,
            ssl=config.build_ssl_context(),
            timeout=config.connect_timeout,
        )
        self.config = config
        self.target = config.target()
        self.through_pooler = through_pooler
        self.server_info: dict[str, Any] = {}
        self._init_script = ";\n".join(config.init_commands or ())
        self._prepared: dict[str, str] = {}
        # backend pid -> its prepared statements; holding them keeps asyncpg from closing them
        self._prepared_on: dict[int, list[asyncpg.prepared_stmt.PreparedStatement | None]] = {}
        self._registered = False

    def add_prepared_statement(self, name: str, query: str) -> None:
        """Prepare `query` as `name` on every connection, at its next acquire."""
        if self.through_pooler:
            # A statement prepared on one server connection is unknown on the next.
            logger.warning(
                "Not preparing statement %r: through a transaction pooler a prepared "
                "statement lives on one server connection only; run its query instead.",
                name,
            )
            return
        self._prepared[name] = query

    async def get_pool_stats(self) -> dict[str, Any]:
        """Sizes and server facts without taking a connection (safe when the pool is full)."""
        return pool_stats(self, schema=None)

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        token = releasing.set(True)
        try:
            await super().release(connection, timeout=timeout)
        finally:
            releasing.reset(token)

    async def close(self) -> None:
        self._unregister()
        await super().close()

    def terminate(self) -> None:
        self._unregister()
        super().terminate()

    def _register(self) -> None:
        _open_pools[self.target] += 1
        self._registered = True

    def _unregister(self) -> None:
        if self._registered:
            _open_pools[self.target] -= 1
            self._registered = False

    async def _init_connection(self, conn: asyncpg.Connection) -> None:
        conn.add_query_logger(record_statement)

    async def _setup_connection(self, conn: Any) -> None:
        # asyncpg runs RESET ALL when a connection is released, which would undo a `SET` in
        # init_commands; so they run on every acquire, together, in one round trip.
        if self._init_script:
            await conn.execute(self._init_script)
        # Statements added after a connection opened are prepared on its next acquire; the
        # common case (nothing new) costs one dictionary lookup and no round trip.
        if not self._prepared:
            return
        done = self._prepared_on.setdefault(conn.get_server_pid(), [])
        for name, query in list(self._prepared.items())[len(done) :]:
            try:
                done.append(await conn.prepare(query, name=name))
            except asyncpg.PostgresError as error:
                # As pgdbm: a statement that cannot be prepared is logged and skipped, never a
                # connection that cannot be handed out (the pool would be unusable).
                logger.warning("Failed to prepare statement %r: %s", name, error)
                done.append(None)


def pool_stats(pool: asyncpg.Pool, *, schema: str | None) -> dict[str, Any]:
    """pgdbm's pool statistics dict for `pool`, as seen by a manager of `schema`."""
    size = pool.get_size()
    idle = pool.get_idle_size()
    stats: dict[str, Any] = {
        "status": "closed" if pool.is_closing() else "connected",
        "min_size": pool.get_min_size(),
        "max_size": pool.get_max_size(),
        "size": size,
        "free_size": idle,
        "used_size": size - idle,
        "schema": schema,
    }
    stats.update(getattr(pool, "server_info", {}))
    stats["schema"] = schema
    return stats


async def open_pool(config: DatabaseConfig, *, shared: bool = True) -> SharedPool:
    """Open a pool for `config`, retrying with backoff while the server is unreachable.

    `shared=True` pins the neutral `search_path` (`config.shared_pool_search_path`) because
    several schemas will use the pool; a manager's own pool keeps its schema's path.
    """
    if _open_pools[config.target()] > 0:
        logger.warning(
            "Creating another connection pool to %s while %d is already open. This is "
            "usually a mistake: open one pool with AsyncDatabaseManager.create_shared_pool("
            "config) and give each service AsyncDatabaseManager(pool=shared_pool, schema=...).",
            config.target(),
            _open_pools[config.target()],
        )
    delay = config.retry_delay
    for attempt in range(1, config.retry_attempts + 1):
        pool: SharedPool | None = None
        try:
            pooled = await through_pooler(config)
            if pooled and config.init_commands:
                raise ConfigurationError(
                    "init_commands cannot run through a transaction pooler: each statement "
                    "may reach another server connection. Make them the role's defaults "
                    "(ALTER ROLE ... SET ...), or connect directly (pooler='none').",
                    "init_commands",
                )
            pool = SharedPool(
                config,
                search_path=config.shared_pool_search_path if shared else None,
                through_pooler=pooled,
            )
            await pool
            await _probe(pool, config, check_search_path=shared)
        except (TimeoutError, OSError, asyncpg.CannotConnectNowError) as error:
            if pool is not None:
                pool.terminate()
            if attempt == config.retry_attempts:
                raise DatabaseConnectionError(
                    f"Could not connect to {config.get_dsn_masked()} after {attempt} "
                    f"attempt(s): {error}. Check that PostgreSQL is running and reachable.",
                    *config.address(),
                    attempts=attempt,
                    details={"target": config.target()},
                ) from error
            logger.warning(
                "Connecting to %s failed (attempt %d/%d): %s; retrying in %.1fs",
                config.get_dsn_masked(),
                attempt,
                config.retry_attempts,
                error,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * config.retry_backoff, config.retry_max_delay)
        except asyncpg.PostgresError as error:  # wrong database, password, role: no retry
            if pool is not None:
                pool.terminate()
            raise DatabaseConnectionError(
                f"PostgreSQL at {config.target()} refused the connection: {error}",
                *config.address(),
                details={"target": config.target(), "sqlstate": error.sqlstate},
            ) from error
        except BaseException:
            if pool is not None:
                pool.terminate()
            raise
        else:
            pool._register()
            return pool
    raise AssertionError("unreachable: the last attempt returns or raises")


async def through_pooler(config: DatabaseConfig) -> bool:
    """Whether connections of `config` go through a transaction pooler: `config.pooler`, or
    with "detect", found out once per process and target: a pooler such as PgBouncer gives
    the client a backend pid of its own (its cancel key), not the server backend's."""
    if config.pooler != "detect":
        return config.pooler == "transaction"
    target = config.target()
    if target not in _poolers:
        # Only what a pooler forwards: PgBouncer refuses any other startup parameter.
        conn = await asyncpg.connect(
            config.get_dsn(),
            server_settings={"application_name": PROBE_APPLICATION_NAME},
            ssl=config.build_ssl_context(),
            timeout=config.connect_timeout,
            statement_cache_size=0,
        )
        try:
            backend_pid = await conn.fetchval("SELECT pg_backend_pid()")
        finally:
            await conn.close()
        _poolers[target] = backend_pid != conn.get_server_pid()
        if _poolers[target]:
            logger.info(
                "%s answers through a connection pooler: the pool keeps no session state "
                "(no statement cache, no reset query, startup parameters from the role)",
                target,
            )
    return _poolers[target]


async def _probe(pool: SharedPool, config: DatabaseConfig, *, check_search_path: bool) -> None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT current_database() AS database, pg_backend_pid() AS pid, "
            "version() AS version, current_user AS role, "
            "current_setting('search_path') AS search_path, "
            "ARRAY(SELECT ARRAY[name, setting] FROM pg_settings WHERE name = ANY($1::text[])) "
            "AS settings",
            list(_ROLE_DEFAULTS),
        )
    assert row is not None
    pool.server_info = {
        "database": row["database"],
        "pid": row["pid"],
        "version": row["version"],  # version()'s whole text, as pgdbm reports it
    }
    if pool.through_pooler:
        _check_role_defaults(config, row, check_search_path=check_search_path)
        return
    wanted = config.shared_pool_search_path
    if (
        check_search_path
        and wanted is not None
        and "search_path" not in (config.server_settings or {})
    ) and _path_entries(row["search_path"]) != _path_entries(wanted):
        raise ConfigurationError(
            f"The shared pool asked for search_path {wanted!r} but connections report "
            f"{row['search_path']!r} (a proxy may drop startup parameters). Set it as a "
            f"role default (ALTER ROLE ... SET search_path TO {wanted}) or pass "
            "shared_pool_search_path=None to rely on {{tables.x}} templates alone.",
            "shared_pool_search_path",
        )


def _check_role_defaults(
    config: DatabaseConfig, row: asyncpg.Record, *, check_search_path: bool
) -> None:
    """Behind a pooler the settings the pool would send at connect must be the role's
    defaults; one warning names each that is not, with the statement that makes it so."""
    wanted = {
        name: value
        for name, value in config.get_server_settings().items()
        if name in _ROLE_DEFAULTS
    }
    actual = dict(row["settings"])
    statements = [
        f"SET {name} = {value}" for name, value in wanted.items() if actual.get(name) != value
    ]
    # A shared pool's neutral path, or the schema's of a manager with a pool of its own.
    path = (
        config.shared_pool_search_path
        if check_search_path
        else config.get_server_settings().get("search_path")
    )
    if path is not None and _path_entries(row["search_path"]) != _path_entries(path):
        statements.insert(0, f"SET search_path TO {path}")
    unsent = sorted(set(config.server_settings or {}) - set(config.get_pooler_server_settings()))
    if statements or unsent:
        role = '"' + row["role"].replace('"', '""') + '"'
        logger.warning(
            "Through a transaction pooler the pool cannot set these at connect; make them "
            "the role's defaults: %s%s",
            "; ".join(f"ALTER ROLE {role} {statement}" for statement in statements) or "-",
            f" (server_settings not sent: {', '.join(unsent)})" if unsent else "",
        )


def _path_entries(search_path: str) -> list[str]:
    return [entry.strip().strip('"') for entry in search_path.split(",") if entry.strip()]
