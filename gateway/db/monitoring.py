"""pgdbm's monitoring API: query metrics, slow-query logging, and database debugging helpers.

Usage:

    db = MonitoredAsyncDatabaseManager(pool=shared_pool, schema="orders",
                                       slow_query_threshold_ms=200)
    await db.fetch_all("SELECT * FROM {{tables.orders}}")
    metrics = await db.get_metrics()          # counts, average and slowest duration, pool sizes
    slow = db.get_slow_queries()              # QueryMetrics over the threshold
    health = await DatabaseDebugger(db).check_connection_health()

`execute`, `fetch_one` and `fetch_all` are tracked, as in pgdbm (and `fetch_records`, which
`fetch_all` goes through, so each call counts once). History entries hold the SQL as sent,
templates resolved. Parameter values are never kept or logged as given: with
`record_args=True` they are stored as `gateway.db.errors.masked_params` shows them, and the
same masking is applied to any error text that quotes them.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import asyncpg

from gateway.db.config import DatabaseConfig
from gateway.db.errors import ConfigurationError, masked_params
from gateway.db.manager import AsyncDatabaseManager

__all__ = [
    "ConnectionMetrics",
    "DatabaseDebugger",
    "MonitoredAsyncDatabaseManager",
    "QueryMetrics",
    "log_query_performance",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Shorter renderings of a masked value are not searched for in error text: replacing a
# two-character string everywhere would garble the message and hide nothing.
_MIN_REDACTED_LENGTH = 4


@dataclass
class QueryMetrics:
    """One tracked query: its SQL, masked args (when recorded), timing and error."""

    query: str
    args: list[Any]
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: float | None = None
    rows_affected: int | None = None
    error: str | None = None

    def complete(self, error: BaseException | None = None) -> None:
        """Mark the query finished now, failed with `error` if given (pgdbm's method)."""
        self.end_time = datetime.now()
        self.duration_ms = (self.end_time - self.start_time).total_seconds() * 1000
        if error is not None:
            self.error = str(error) or type(error).__name__

    def model_dump(self) -> dict[str, Any]:
        """pgdbm's QueryMetrics is a pydantic model: its fields as a dict, as it gives them."""
        return {
            "query": self.query,
            "args": list(self.args),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration_ms": self.duration_ms,
            "rows_affected": self.rows_affected,
            "error": self.error,
        }


@dataclass
class ConnectionMetrics:
    """A snapshot of the pool's sizes and the manager's query counters."""

    timestamp: datetime
    pool_size: int
    pool_free: int
    pool_used: int
    pool_min: int
    pool_max: int
    queries_executed: int
    queries_failed: int
    avg_query_time_ms: float
    slowest_query_ms: float

    @property
    def pool_utilization(self) -> float:
        """Connections in use as a percentage of the pool's maximum (0.0 for no pool)."""
        if self.pool_max == 0:
            return 0.0
        return (self.pool_used / self.pool_max) * 100

    def model_dump(self) -> dict[str, Any]:
        """pgdbm's ConnectionMetrics is a pydantic model: its fields as a dict (no property)."""
        return {
            "timestamp": self.timestamp,
            "pool_size": self.pool_size,
            "pool_free": self.pool_free,
            "pool_used": self.pool_used,
            "pool_min": self.pool_min,
            "pool_max": self.pool_max,
            "queries_executed": self.queries_executed,
            "queries_failed": self.queries_failed,
            "avg_query_time_ms": self.avg_query_time_ms,
            "slowest_query_ms": self.slowest_query_ms,
        }


def _redacted(text: str, values: Sequence[Any]) -> str:
    """`text` with every value `masked_params` would mask replaced by its masked form.

    PostgreSQL and asyncpg quote a bad parameter in their messages (`invalid input syntax for
    type integer: "..."`), so an error's text may carry a value the args list masks.
    """
    for value, shown in zip(values, masked_params(tuple(values)), strict=True):
        if shown is value:  # masked_params keeps it as is: not a value it hides
            continue
        if isinstance(value, str):
            forms = [value, repr(value)[1:-1]]
        elif isinstance(value, bytes):
            forms = [repr(value), value.hex(), value.decode("utf-8", "replace")]
        else:
            continue
        for form in sorted(forms, key=len, reverse=True):
            if len(form) >= _MIN_REDACTED_LENGTH:
                text = text.replace(form, str(shown))
    return text


def _status_rows(status: str) -> int | None:
    # A command status ends with its row count ("INSERT 0 3", "UPDATE 2"); DDL has none.
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else None


class MonitoredAsyncDatabaseManager(AsyncDatabaseManager):
    """An AsyncDatabaseManager that records each query's duration and outcome.

    Usage: `db = MonitoredAsyncDatabaseManager(pool=shared_pool, schema="orders",
    slow_query_threshold_ms=200)`; queries over the threshold are logged at WARNING.
    """

    def __init__(
        self,
        config: DatabaseConfig | None = None,
        *,
        pool: asyncpg.Pool | None = None,
        schema: str | None = None,
        slow_query_threshold_ms: float = 1000,
        max_history_size: int = 1000,
        record_args: bool = False,
    ) -> None:
        super().__init__(config, pool=pool, schema=schema)
        if max_history_size < 0:
            raise ConfigurationError(
                f"max_history_size must be 0 or more (0 keeps no history), got {max_history_size}.",
                "max_history_size",
            )
        # A deque drops its oldest entry itself once full: no O(n) pop(0) per query.
        self._query_history: deque[QueryMetrics] = deque(maxlen=max_history_size)
        self._queries_executed = 0
        self._queries_failed = 0
        self._slow_query_threshold_ms = float(slow_query_threshold_ms)
        self._max_history_size = max_history_size
        self._record_args = record_args

    async def _track(
        self,
        query: str,
        args: tuple[Any, ...],
        call: Callable[[], Awaitable[R]],
        rows: Callable[[R], int | None],
    ) -> R:
        try:
            sql = self.prepare_query(query)
        except Exception:
            sql = query  # an invalid template: `call` fails on it too, and is recorded
        metrics = QueryMetrics(
            query=sql,
            args=list(masked_params(args)) if self._record_args else [],
            start_time=datetime.now(),
        )
        try:
            result = await call()
        except BaseException as error:  # cancellation too: the query did not complete
            metrics.complete(error)
            metrics.error = _redacted(metrics.error or "", args)
            self._queries_failed += 1
            raise
        else:
            metrics.complete()
            metrics.rows_affected = rows(result)
            self._queries_executed += 1
            if metrics.duration_ms is not None and (
                metrics.duration_ms > self._slow_query_threshold_ms
            ):
                shown = sql[:100] + "..." if len(sql) > 100 else sql
                logger.warning("Slow query detected (%.2fms): %s", metrics.duration_ms, shown)
            return result
        finally:
            self._query_history.append(metrics)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        """Run a statement, tracked; returns its status string."""
        call = functools.partial(super().execute, query, *args, timeout=timeout)
        return await self._track(query, args, call, _status_rows)

    async def fetch_one(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> dict[str, Any] | None:
        """The first row as a dict, or None; tracked."""
        call = functools.partial(super().fetch_one, query, *args, timeout=timeout)
        return await self._track(query, args, call, lambda row: 0 if row is None else 1)

    # fetch_all (and fetch_all_as_model) go through fetch_records: tracking here counts each
    # call once, whichever of them the caller used.
    async def fetch_records(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> list[asyncpg.Record]:
        """Every row as an asyncpg Record; tracked."""
        call = functools.partial(super().fetch_records, query, *args, timeout=timeout)
        return await self._track(query, args, call, len)

    async def get_metrics(self) -> ConnectionMetrics:
        """The pool's sizes now, and counts and durations of the queries tracked so far."""
        stats = await self.get_pool_stats()
        times = [q.duration_ms for q in self._query_history if q.duration_ms is not None]
        return ConnectionMetrics(
            timestamp=datetime.now(),
            pool_size=stats.get("size", 0),
            pool_free=stats.get("free_size", 0),
            pool_used=stats.get("used_size", 0),
            pool_min=stats.get("min_size", 0),
            pool_max=stats.get("max_size", 0),
            queries_executed=self._queries_executed,
            queries_failed=self._queries_failed,
            avg_query_time_ms=sum(times) / len(times) if times else 0.0,
            slowest_query_ms=max(times) if times else 0.0,
        )

    def get_query_history(
        self, limit: int | None = None, include_errors: bool = True
    ) -> list[QueryMetrics]:
        """The recorded queries, oldest first: the last `limit` (falsy: all), without the
        failed ones if `include_errors` is False. A new list each call."""
        history = [q for q in self._query_history if include_errors or q.error is None]
        if limit:
            history = history[-limit:]
        return history

    def get_slow_queries(self, threshold_ms: float | None = None) -> list[QueryMetrics]:
        """Recorded queries slower than `threshold_ms` (None: the manager's threshold)."""
        threshold = self._slow_query_threshold_ms if threshold_ms is None else threshold_ms
        return [q for q in self._query_history if q.duration_ms and q.duration_ms > threshold]

    async def explain_query(
        self, query: str, *args: Any, analyze: bool = False
    ) -> list[dict[str, Any]]:
        """PostgreSQL's plan for `query` (templates resolved), as the decoded JSON list.

        `analyze=True` runs EXPLAIN ANALYZE, which executes the statement: an INSERT, UPDATE
        or DELETE explained that way changes data.
        """
        options = "FORMAT JSON, ANALYZE, BUFFERS" if analyze else "FORMAT JSON"
        row = await self.fetch_one(f"EXPLAIN ({options}) {self.prepare_query(query)}", *args)
        plan = row.get("QUERY PLAN") if row else None
        if isinstance(plan, str):  # asyncpg hands json back as text unless given a codec
            plan = json.loads(plan)
        return plan if isinstance(plan, list) else []


_BLOCKING_QUERIES = """
    SELECT
        blocked_locks.pid AS blocked_pid,
        blocked_activity.usename AS blocked_user,
        blocking_locks.pid AS blocking_pid,
        blocking_activity.usename AS blocking_user,
        blocked_activity.query AS blocked_query,
        blocking_activity.query AS blocking_query,
        blocked_activity.state AS blocked_state,
        blocking_activity.state AS blocking_state
    FROM pg_catalog.pg_locks blocked_locks
    JOIN pg_catalog.pg_stat_activity blocked_activity
        ON blocked_activity.pid = blocked_locks.pid
    JOIN pg_catalog.pg_locks blocking_locks
        ON blocking_locks.locktype = blocked_locks.locktype
        AND blocking_locks.database IS NOT DISTINCT FROM blocked_locks.database
        AND blocking_locks.relation IS NOT DISTINCT FROM blocked_locks.relation
        AND blocking_locks.page IS NOT DISTINCT FROM blocked_locks.page
        AND blocking_locks.tuple IS NOT DISTINCT FROM blocked_locks.tuple
        AND blocking_locks.virtualxid IS NOT DISTINCT FROM blocked_locks.virtualxid
        AND blocking_locks.transactionid IS NOT DISTINCT FROM blocked_locks.transactionid
        AND blocking_locks.classid IS NOT DISTINCT FROM blocked_locks.classid
        AND blocking_locks.objid IS NOT DISTINCT FROM blocked_locks.objid
        AND blocking_locks.objsubid IS NOT DISTINCT FROM blocked_locks.objsubid
        AND blocking_locks.pid != blocked_locks.pid
    JOIN pg_catalog.pg_stat_activity blocking_activity
        ON blocking_activity.pid = blocking_locks.pid
    WHERE NOT blocked_locks.granted
"""

_LONG_RUNNING_QUERIES = """
    SELECT pid, usename, datname, state, query, query_start,
           now() - query_start AS duration, wait_event_type, wait_event
    FROM pg_stat_activity
    WHERE state != 'idle'
      AND query NOT LIKE '%pg_stat_activity%'
      AND now() - query_start > make_interval(secs => $1)
    ORDER BY query_start
"""

# Sizes are taken by relid, not by pgdbm's `schemaname||'.'||relname` text, which names
# another relation (or none) once a schema or table name has upper case letters.
_TABLE_SIZES = """
    SELECT
        schemaname,
        relname AS tablename,
        pg_size_pretty(pg_total_relation_size(relid)) AS size,
        pg_total_relation_size(relid) AS size_bytes,
        n_live_tup AS row_count,
        n_dead_tup AS dead_rows,
        last_vacuum,
        last_autovacuum,
        last_analyze,
        last_autoanalyze
    FROM pg_stat_user_tables
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
      AND ($1::text IS NULL OR schemaname::text = $1::text)
    ORDER BY pg_total_relation_size(relid) DESC
"""


class DatabaseDebugger:
    """Health checks and lock, long-query and table-size reports for a manager's database.

    Usage: `report = await DatabaseDebugger(db).check_connection_health()`.
    """

    def __init__(self, db_manager: AsyncDatabaseManager) -> None:
        self.db = db_manager

    async def check_connection_health(self) -> dict[str, Any]:
        """pgdbm's health report: `status` (healthy, degraded or error), `timestamp` and
        `checks` (connectivity, pool, blocking_queries, long_running_queries)."""
        health: dict[str, Any] = {
            "status": "unknown",
            "timestamp": datetime.now().isoformat(),
            "checks": {},
        }
        checks: dict[str, dict[str, Any]] = health["checks"]
        try:
            start = time.perf_counter()
            version = await self.db.fetch_value("SELECT version()")
            checks["connectivity"] = {
                "status": "ok",
                "response_time_ms": (time.perf_counter() - start) * 1000,
                "version": version,
            }
            checks["pool"] = {"status": "ok", "stats": await self.db.get_pool_stats()}
            blocking = await self.find_blocking_queries()
            checks["blocking_queries"] = {
                "status": "warning" if blocking else "ok",
                "count": len(blocking),
                "queries": blocking[:5],
            }
            long_running = await self.find_long_running_queries(60)
            checks["long_running_queries"] = {
                "status": "warning" if long_running else "ok",
                "count": len(long_running),
                "queries": long_running[:5],
            }
            statuses = {check.get("status") for check in checks.values()}
            if statuses == {"ok"}:
                health["status"] = "healthy"
            elif "error" in statuses:
                health["status"] = "unhealthy"
            else:
                health["status"] = "degraded"
        except Exception as error:  # a health check reports a failure, it does not raise
            health["status"] = "error"
            health["error"] = str(error)
        return health

    async def find_blocking_queries(self) -> list[dict[str, Any]]:
        """Sessions waiting on a lock, each with the session holding it."""
        return await self.db.fetch_all(_BLOCKING_QUERIES)

    async def find_long_running_queries(
        self, threshold_seconds: float = 300
    ) -> list[dict[str, Any]]:
        """Non-idle statements running for more than `threshold_seconds`, oldest first."""
        return await self.db.fetch_all(_LONG_RUNNING_QUERIES, threshold_seconds)

    async def analyze_table_sizes(self) -> list[dict[str, Any]]:
        """User tables (of the manager's schema, if it has one), largest first, with sizes,
        row estimates and vacuum/analyze times."""
        # The schema is bound as a parameter, never spliced into the SQL.
        return await self.db.fetch_all(_TABLE_SIZES, self.db.schema or None)


def log_query_performance(
    threshold_ms: float = 100, log_args: bool = False
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate an async function to log it at WARNING when slower than `threshold_ms`, and
    at ERROR when it raises (re-raised). `log_args=True` adds its arguments, masked.

    Usage:
        @log_query_performance(threshold_ms=500)
        async def load_user(db, user_id):
            return await db.fetch_one("SELECT * FROM {{tables.users}} WHERE id = $1", user_id)
    """

    def decorator(func: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        name = getattr(func, "__name__", repr(func))

        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            try:
                result = await func(*args, **kwargs)
            except Exception as error:
                duration_ms = (time.perf_counter() - start) * 1000
                # No exc_info: the traceback's chained errors would quote the values unmasked.
                logger.error(
                    "Function %s failed after %.2fms: %s",
                    name,
                    duration_ms,
                    _redacted(str(error), [*args, *kwargs.values()]),
                )
                raise
            duration_ms = (time.perf_counter() - start) * 1000
            if duration_ms > threshold_ms:
                if log_args:
                    shown_kwargs = dict(
                        zip(kwargs, masked_params(tuple(kwargs.values())), strict=True)
                    )
                    logger.warning(
                        "Slow function %s took %.2fms (args: %r, kwargs: %r)",
                        name,
                        duration_ms,
                        masked_params(args),
                        shown_kwargs,
                    )
                else:
                    logger.warning("Slow function %s took %.2fms", name, duration_ms)
            return result

        return wrapper

    return decorator
