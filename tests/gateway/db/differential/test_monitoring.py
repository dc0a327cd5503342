"""gateway.db.monitoring against pgdbm.monitoring: the same queries on a
MonitoredAsyncDatabaseManager of each library give the same counts, history, slow queries,
plan shape and debugger reports.

Where pgdbm is wrong or leaks (template text in its history, its own pool query counted,
EXPLAIN's plan returned as text, parameter values in its error texts and logs), the test
asserts the difference explicitly and says why ours differs. Durations are never compared:
only that a `pg_sleep(0.2)` is classified slow against a 50 ms threshold.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import asyncpg
import pytest

SCHEMA = "mon"
THRESHOLD_MS = 50
SLOW_QUERY = "SELECT pg_sleep(0.2)"  # four times the threshold: slow on any machine
# Longer than 20 characters: masked_params (and pgdbm's own masking) hide it.
SECRET = "correct-horse-battery-staple-42"

# pgdbm's own introspection query, which its get_pool_stats runs through the tracked
# fetch_one (so pgdbm counts it); ours reads the pool's sizes without a query.
PGDBM_POOL_STATS_QUERY = "current_database() as database"


def monitoring_of(library: ModuleType) -> ModuleType:
    """pgdbm.monitoring or gateway.db.monitoring (gateway.db does not re-export it yet)."""
    return importlib.import_module(f"{library.__name__}.monitoring")


@dataclass
class Item:
    id: int
    name: str


@asynccontextmanager
async def monitored(
    library: ModuleType, url: str, schema: str = SCHEMA, **options: Any
) -> AsyncIterator[Any]:
    """A MonitoredAsyncDatabaseManager of `library` on its own shared pool."""
    pool = await library.AsyncDatabaseManager.create_shared_pool(
        library.DatabaseConfig(connection_string=url, min_connections=1, max_connections=3)
    )
    try:
        yield monitoring_of(library).MonitoredAsyncDatabaseManager(
            pool=pool, schema=schema, **options
        )
    finally:
        await pool.close()


async def fresh_schema(
    raw: asyncpg.Connection, schema: str = SCHEMA, *, items: bool = False
) -> None:
    """An empty `schema` (dropped first), with an `items` table of two rows if asked; made on
    a raw connection so no monitor sees it."""
    await raw.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await raw.execute(f'CREATE SCHEMA "{schema}"')
    if items:
        await raw.execute(f'CREATE TABLE "{schema}".items (id int PRIMARY KEY, name text)')
        await raw.execute(f"INSERT INTO \"{schema}\".items VALUES (1, 'apple'), (2, 'pear')")


async def run_scenario(library: ModuleType, db: Any) -> None:
    """Six tracked statements (one slow, one failing) and one untracked fetch_value."""
    await db.execute("CREATE TABLE {{tables.items}} (id serial PRIMARY KEY, name text NOT NULL)")
    await db.execute("INSERT INTO {{tables.items}} (name) VALUES ($1), ($2)", "apple", "pear")
    assert [r["name"] for r in await db.fetch_all("SELECT * FROM {{tables.items}}")] == [
        "apple",
        "pear",
    ]
    assert await db.fetch_one("SELECT name FROM {{tables.items}} WHERE id = $1", 2) == {
        "name": "pear"
    }
    await db.fetch_one(SLOW_QUERY)
    with pytest.raises(library.QueryError):
        await db.execute("INSERT INTO {{tables.items}} (name) VALUES (NULL)")
    assert await db.fetch_value("SELECT count(*) FROM {{tables.items}}") == 2  # untracked


async def test_the_same_queries_give_the_same_counts_history_and_slow_queries(
    both: tuple[ModuleType, ModuleType],
    database_url: str,
    raw_connection: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    runs: dict[str, dict[str, Any]] = {}
    for library in both:
        await fresh_schema(raw_connection)
        caplog.clear()
        async with monitored(library, database_url, slow_query_threshold_ms=THRESHOLD_MS) as db:
            await run_scenario(library, db)
            runs[library.__name__] = {
                "db": db,
                "history": list(db.get_query_history()),  # pgdbm hands out its live list
                "slow": [q.query for q in db.get_slow_queries()],
                "without_errors": [q.query for q in db.get_query_history(include_errors=False)],
                "last_two": [q.query for q in db.get_query_history(limit=2)],
                "metrics": await db.get_metrics(),
                "history_after_metrics": db.get_query_history(),
                "warnings": [
                    (r.name, r.levelno, r.getMessage())
                    for r in caplog.records
                    if r.name.endswith(".monitoring")
                ],
            }
    theirs, ours = runs["pgdbm"], runs["gateway.db"]

    # Same number of entries, failures in the same places, no args recorded by default.
    assert len(theirs["history"]) == len(ours["history"]) == 6
    assert [q.error is not None for q in theirs["history"]] == [
        q.error is not None for q in ours["history"]
    ]
    assert [q.error is not None for q in ours["history"]] == [False] * 5 + [True]
    assert all(q.args == [] for q in theirs["history"] + ours["history"])
    assert {type(q.duration_ms) for q in ours["history"]} == {float}
    assert set(theirs["history"][0].model_dump()) == set(ours["history"][0].model_dump())

    # Difference: pgdbm records the template text it was given; ours records the SQL sent
    # (templates resolved), which is what can be explained or found in pg_stat_statements.
    their_texts = [q.query for q in theirs["history"]]
    our_texts = [q.query for q in ours["history"]]
    assert "{{tables.items}}" in their_texts[0]
    assert [theirs["db"].prepare_query(text) for text in their_texts] == our_texts
    assert our_texts[0].startswith('CREATE TABLE "mon".items')

    # Difference: pgdbm's get_metrics() runs its pool-stats query through the tracked
    # fetch_one, so reading the metrics counts (and records) one more query each time.
    assert len(theirs["history_after_metrics"]) == len(theirs["history"]) + 1
    assert PGDBM_POOL_STATS_QUERY in theirs["history_after_metrics"][-1].query
    assert len(ours["history_after_metrics"]) == len(ours["history"])
    their_metrics, our_metrics = theirs["metrics"], ours["metrics"]
    assert set(their_metrics.model_dump()) == set(our_metrics.model_dump())
    assert our_metrics.queries_executed == 5
    assert their_metrics.queries_executed == our_metrics.queries_executed + 1
    assert their_metrics.queries_failed == our_metrics.queries_failed == 1
    for name in ("pool_min", "pool_max"):
        assert getattr(their_metrics, name) == getattr(our_metrics, name)
    assert (our_metrics.pool_min, our_metrics.pool_max) == (1, 3)
    assert our_metrics.pool_used + our_metrics.pool_free == our_metrics.pool_size
    assert isinstance(our_metrics.pool_utilization, float)
    assert 0.0 <= our_metrics.pool_utilization <= 100.0
    # The slowest is the sleep's (which of the queries, not how fast: no timing asserted).
    assert their_metrics.slowest_query_ms == max(m.duration_ms for m in theirs["history"])
    assert our_metrics.slowest_query_ms == max(m.duration_ms for m in ours["history"])

    # The sleep is the one slow query, logged once at WARNING by each.
    assert theirs["slow"] == ours["slow"] == [SLOW_QUERY]
    for run, logger_name in ((theirs, "pgdbm.monitoring"), (ours, "gateway.db.monitoring")):
        assert len(run["warnings"]) == 1
        name, level, message = run["warnings"][0]
        assert (name, level) == (logger_name, logging.WARNING)
        assert message.startswith("Slow query detected (")
        assert SLOW_QUERY in message

    # Filters: the failed INSERT dropped, the last two kept.
    assert len(theirs["without_errors"]) == len(ours["without_errors"]) == 5
    assert ours["without_errors"] == our_texts[:5]
    assert [theirs["db"].prepare_query(t) for t in theirs["without_errors"]] == our_texts[:5]
    assert ours["last_two"] == our_texts[-2:]
    assert [theirs["db"].prepare_query(t) for t in theirs["last_two"]] == ours["last_two"]

    # Difference: pgdbm declares rows_affected and never fills it; ours gives the status's
    # row count for execute (None for DDL, and for the failure) and the rows fetched.
    assert [q.rows_affected for q in theirs["history"]] == [None] * 6
    assert [q.rows_affected for q in ours["history"]] == [None, 2, 2, 1, 1, None]


async def test_fetch_helpers_are_tracked_as_pgdbm_tracks_them(
    both: tuple[ModuleType, ModuleType], database_url: str, raw_connection: asyncpg.Connection
) -> None:
    """fetch_as_model and fetch_all_as_model count once (through fetch_one and fetch_all);
    fetch_value, executemany, execute_and_return_id and table_exists are untracked in both."""
    await fresh_schema(raw_connection, items=True)
    texts: dict[str, list[str]] = {}
    for library in both:
        async with monitored(library, database_url) as db:
            models = await db.fetch_all_as_model(Item, "SELECT * FROM {{tables.items}} ORDER BY id")
            assert models == [Item(1, "apple"), Item(2, "pear")]
            assert await db.fetch_as_model(Item, "SELECT * FROM {{tables.items}} WHERE id = 1")
            assert await db.fetch_value("SELECT count(*) FROM {{tables.items}}") == 2
            await db.executemany(
                "INSERT INTO {{tables.items}} VALUES ($1, $2)", [(3, "fig"), (4, "kiwi")]
            )
            assert (
                await db.execute_and_return_id("INSERT INTO {{tables.items}} VALUES (5, 'plum')")
                == 5
            )
            assert await db.table_exists("items")
            texts[library.__name__] = [db.prepare_query(q.query) for q in db.get_query_history()]
            await raw_connection.execute(f"DELETE FROM {SCHEMA}.items WHERE id > 2")
    assert texts["pgdbm"] == texts["gateway.db"]
    assert texts["gateway.db"] == [
        'SELECT * FROM "mon".items ORDER BY id',
        'SELECT * FROM "mon".items WHERE id = 1',
    ]


async def test_fetch_all_and_fetch_records_each_count_once(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    """Ours only (pgdbm has no fetch_records): fetch_all goes through fetch_records, which is
    where the tracking sits, so neither call is counted twice."""
    await fresh_schema(raw_connection, items=True)
    from gateway import db as gateway_db

    async with monitored(gateway_db, database_url) as db:
        assert len(await db.fetch_all("SELECT * FROM {{tables.items}}")) == 2
        assert len(await db.fetch_records("SELECT * FROM {{tables.items}}")) == 2
        history = db.get_query_history()
        assert [q.rows_affected for q in history] == [2, 2]
        assert (await db.get_metrics()).queries_executed == 2


async def test_explain_query_gives_the_same_plan_shape(
    both: tuple[ModuleType, ModuleType], database_url: str, raw_connection: asyncpg.Connection
) -> None:
    await fresh_schema(raw_connection, items=True)
    query = "SELECT * FROM {{tables.items}} WHERE id = $1"
    plans: dict[str, dict[str, Any]] = {}
    for library in both:
        async with monitored(library, database_url) as db:
            plain = await db.explain_query(query, 1)
            analyzed = await db.explain_query(query, 1, analyze=True)
            plans[library.__name__] = {
                "plain": plain,
                "analyzed": analyzed,
                "recorded": [q.query for q in db.get_query_history()],
            }
    theirs, ours = plans["pgdbm"], plans["gateway.db"]

    # Difference: pgdbm returns the JSON text asyncpg hands back, despite its list[dict]
    # annotation; ours decodes it into the list it promises.
    assert isinstance(theirs["plain"], str)
    assert isinstance(theirs["analyzed"], str)
    for kind in ("plain", "analyzed"):
        their_plan, our_plan = json.loads(theirs[kind]), ours[kind]
        assert isinstance(our_plan, list)
        assert len(their_plan) == len(our_plan) == 1
        assert set(their_plan[0]) == set(our_plan[0])
        their_node, our_node = their_plan[0]["Plan"], our_plan[0]["Plan"]
        assert set(their_node) == set(our_node)
        assert their_node["Relation Name"] == our_node["Relation Name"] == "items"
    assert "Execution Time" in ours["analyzed"][0]
    assert "Execution Time" not in ours["plain"][0]

    # Both record the EXPLAIN itself, with the SQL sent.
    expected = [
        'EXPLAIN (FORMAT JSON) SELECT * FROM "mon".items WHERE id = $1',
        'EXPLAIN (FORMAT JSON, ANALYZE, BUFFERS) SELECT * FROM "mon".items WHERE id = $1',
    ]
    assert theirs["recorded"] == ours["recorded"] == expected


async def test_history_keeps_the_last_max_history_size_queries(
    both: tuple[ModuleType, ModuleType], database_url: str
) -> None:
    kept: dict[tuple[str, int], list[str]] = {}
    counted: dict[tuple[str, int], int] = {}
    for library in both:
        for size in (3, 0):
            async with monitored(library, database_url, max_history_size=size) as db:
                for number in range(1, 6):
                    await db.fetch_one(f"SELECT {number} AS n")
                kept[library.__name__, size] = [q.query for q in db.get_query_history()]
                counted[library.__name__, size] = (await db.get_metrics()).queries_executed
                assert len(db.get_query_history()) <= size  # still bounded after get_metrics
    for size in (3, 0):
        assert kept["pgdbm", size] == kept["gateway.db", size]
    assert kept["gateway.db", 3] == ["SELECT 3 AS n", "SELECT 4 AS n", "SELECT 5 AS n"]
    assert kept["gateway.db", 0] == []
    # Counters are not bounded by the history (pgdbm's include its own pool-stats query).
    assert counted["gateway.db", 3] == counted["gateway.db", 0] == 5
    assert counted["pgdbm", 3] == counted["pgdbm", 0] == 6


async def test_metrics_of_a_manager_not_yet_connected(
    library: ModuleType, database_url: str
) -> None:
    db = monitoring_of(library).MonitoredAsyncDatabaseManager(
        library.DatabaseConfig(connection_string=database_url)
    )
    dumped = (await db.get_metrics()).model_dump()
    assert dumped.pop("timestamp") is not None
    assert dumped == {
        "pool_size": 0,
        "pool_free": 0,
        "pool_used": 0,
        "pool_min": 0,
        "pool_max": 0,
        "queries_executed": 0,
        "queries_failed": 0,
        "avg_query_time_ms": 0.0,
        "slowest_query_ms": 0.0,
    }
    assert db.get_query_history() == []
    assert db.get_slow_queries() == []


async def _wait_until_waiting_on_a_lock(watcher: asyncpg.Connection, pid: int) -> None:
    for _ in range(200):
        waiting = await watcher.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} never waited on the lock")


async def test_debugger_reports_have_pgdbm_keys_and_statuses(
    both: tuple[ModuleType, ModuleType], database_url: str, raw_connection: asyncpg.Connection
) -> None:
    await fresh_schema(raw_connection, items=True)
    reports: dict[str, dict[str, Any]] = {}
    async with (
        monitored(both[0], database_url) as their_db,
        monitored(both[1], database_url) as our_db,
    ):
        debuggers = {
            "pgdbm": monitoring_of(both[0]).DatabaseDebugger(their_db),
            "gateway.db": monitoring_of(both[1]).DatabaseDebugger(our_db),
        }
        for name, debugger in debuggers.items():
            reports[name] = {
                "quiet_health": await debugger.check_connection_health(),
                "sizes": await debugger.analyze_table_sizes(),
            }

        # A session holding a lock, another waiting on it (and so running for a while).
        blocked = await asyncpg.connect(database_url)
        watcher = await asyncpg.connect(database_url)
        try:
            await raw_connection.execute("BEGIN")
            await raw_connection.execute(f"LOCK TABLE {SCHEMA}.items IN ACCESS EXCLUSIVE MODE")
            waiting = asyncio.create_task(blocked.fetchval(f"SELECT count(*) FROM {SCHEMA}.items"))
            await _wait_until_waiting_on_a_lock(watcher, blocked.get_server_pid())
            for name, debugger in debuggers.items():
                reports[name]["blocking"] = await debugger.find_blocking_queries()
                reports[name]["long_running"] = await debugger.find_long_running_queries(0)
                reports[name]["blocked_health"] = await debugger.check_connection_health()
            await raw_connection.execute("ROLLBACK")
            assert await waiting == 2
        finally:
            await blocked.close()
            await watcher.close()

    blocked_pid = blocked.get_server_pid()
    theirs, ours = reports["pgdbm"], reports["gateway.db"]
    for run in (theirs, ours):
        assert run["quiet_health"]["status"] == "healthy"
        assert run["blocked_health"]["status"] == "degraded"
        assert run["blocked_health"]["checks"]["blocking_queries"]["status"] == "warning"
        assert run["blocked_health"]["checks"]["long_running_queries"]["status"] == "ok"
        assert any(row["blocked_pid"] == blocked_pid for row in run["blocking"])
        assert any(row["pid"] == blocked_pid for row in run["long_running"])

    def shape(report: dict[str, Any]) -> dict[str, Any]:
        return {
            "keys": set(report),
            "checks": {name: set(check) for name, check in report["checks"].items()},
            "pool": set(report["checks"]["pool"]["stats"]),
        }

    for health in ("quiet_health", "blocked_health"):
        assert shape(theirs[health]) == shape(ours[health])
    assert set(theirs["blocking"][0]) == set(ours["blocking"][0])
    assert set(theirs["long_running"][0]) == set(ours["long_running"][0])
    assert set(theirs["sizes"][0]) == set(ours["sizes"][0])

    def sizes(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["schemaname"], r["tablename"], r["size"], r["size_bytes"]) for r in rows]

    assert sizes(theirs["sizes"]) == sizes(ours["sizes"])
    assert [r["tablename"] for r in ours["sizes"]] == ["items"]


async def test_table_sizes_of_a_mixed_case_schema(
    both: tuple[ModuleType, ModuleType], database_url: str, raw_connection: asyncpg.Connection
) -> None:
    """Difference: pgdbm sizes a table by the text `schemaname||'.'||relname`, which
    PostgreSQL folds to lower case (`mon.items`: no such relation), so a schema with capitals
    fails; ours sizes it by relid."""
    await fresh_schema(raw_connection, "Mon", items=True)
    pgdbm, gateway_db = both
    async with monitored(pgdbm, database_url, schema="Mon") as their_db:
        with pytest.raises(pgdbm.QueryError, match="does not exist"):
            await monitoring_of(pgdbm).DatabaseDebugger(their_db).analyze_table_sizes()
    async with monitored(gateway_db, database_url, schema="Mon") as our_db:
        rows = await monitoring_of(gateway_db).DatabaseDebugger(our_db).analyze_table_sizes()
    assert [(r["schemaname"], r["tablename"]) for r in rows] == [("Mon", "items")]
    assert rows[0]["size_bytes"] > 0


async def test_a_secret_parameter_never_reaches_logs_or_history(
    both: tuple[ModuleType, ModuleType],
    database_url: str,
    raw_connection: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: dict[str, dict[str, Any]] = {}
    for library in both:
        await fresh_schema(raw_connection)
        caplog.clear()
        monitoring = monitoring_of(library)

        @monitoring.log_query_performance(threshold_ms=THRESHOLD_MS, log_args=True)
        async def slow_lookup(db: Any, token: str, *, again: str) -> Any:
            return await db.fetch_one("SELECT pg_sleep(0.2), $1::text AS token", token)

        @monitoring.log_query_performance(threshold_ms=THRESHOLD_MS)
        async def failing_lookup(db: Any, token: str) -> Any:
            return await db.fetch_one("SELECT $1::text::int", token)  # PostgreSQL quotes it

        async with monitored(
            library, database_url, slow_query_threshold_ms=THRESHOLD_MS, record_args=True
        ) as db:
            await db.execute("CREATE TABLE {{tables.accounts}} (id int, token text)")
            await db.execute("INSERT INTO {{tables.accounts}} VALUES ($1, $2)", 1, SECRET)
            assert (await slow_lookup(db, SECRET, again=SECRET))["token"] == SECRET
            with pytest.raises(library.QueryError):
                await failing_lookup(db, SECRET)
            with pytest.raises(library.QueryError):  # asyncpg quotes it, client side
                await db.fetch_one("SELECT $1::int", SECRET)
            history = db.get_query_history()
        seen[library.__name__] = {
            "log": caplog.text + "".join(repr(r.args) for r in caplog.records),
            "levels": {r.levelname for r in caplog.records if r.name.endswith(".monitoring")},
            "errors": [q.error for q in history if q.error],
            "args": [q.args for q in history],
            "dumps": repr([q.model_dump() for q in history]),
        }
    theirs, ours = seen["pgdbm"], seen["gateway.db"]

    # Ours: masked as masked_params masks them, in the args, the error texts and the logs.
    assert SECRET not in ours["log"]
    assert SECRET not in ours["dumps"]
    masked = f"<str:{len(SECRET)} chars>"
    assert ours["args"] == [[], [1, masked], [masked], [masked], [masked]]
    assert len(ours["errors"]) == 2
    assert masked in ours["errors"][0]  # PostgreSQL's message, with the value masked
    assert "Slow function slow_lookup took" in ours["log"]
    assert "Function failing_lookup failed after" in ours["log"]
    assert ours["levels"] == theirs["levels"] == {"WARNING", "ERROR"}

    # Difference: pgdbm leaks. Its args keep a long string's first and last three
    # characters; its history keeps PostgreSQL's and asyncpg's error texts, which quote the
    # value; its decorator logs arguments and errors as they are.
    assert theirs["args"][1] == [1, f"{SECRET[:3]}...{SECRET[-3:]}"]
    assert all(SECRET in error for error in theirs["errors"])
    assert SECRET in theirs["log"]


async def test_log_query_performance_keeps_the_function_and_its_outcome(
    both: tuple[ModuleType, ModuleType], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outcomes: dict[str, list[tuple[str, str]]] = {}
    for library in both:
        caplog.clear()
        decorate = monitoring_of(library).log_query_performance

        @decorate(threshold_ms=THRESHOLD_MS)
        async def quick(value: int) -> int:
            """Doubles."""
            return value * 2

        @decorate(threshold_ms=THRESHOLD_MS)
        async def slow() -> str:
            await asyncio.sleep(0.2)
            return "done"

        @decorate()
        async def broken() -> None:
            raise ValueError("no such order")

        assert (quick.__name__, quick.__doc__) == ("quick", "Doubles.")
        assert await quick(21) == 42
        assert await slow() == "done"
        with pytest.raises(ValueError, match="no such order"):
            await broken()
        outcomes[library.__name__] = [
            (r.levelname, r.getMessage().split(" took ")[0].split(" failed after ")[0])
            for r in caplog.records
            if r.name.endswith(".monitoring")
        ]
        assert caplog.records[-1].getMessage().endswith(": no such order")
    assert outcomes["pgdbm"] == outcomes["gateway.db"]
    assert outcomes["gateway.db"] == [
        ("WARNING", "Slow function slow"),
        ("ERROR", "Function broken"),
    ]


async def test_deliberate_differences_in_arguments_and_filters(
    both: tuple[ModuleType, ModuleType], database_url: str
) -> None:
    pgdbm, gateway_db = both
    from gateway.db.errors import ConfigurationError

    # Difference: pgdbm swallows unknown keywords (a misspelt threshold is silently ignored);
    # ours refuses them.
    async with monitored(pgdbm, database_url, slow_query_treshold_ms=1) as their_db:
        assert their_db._slow_query_threshold_ms == 1000.0
    with pytest.raises(TypeError, match="slow_query_treshold_ms"):
        async with monitored(gateway_db, database_url, slow_query_treshold_ms=1):
            pass

    # Difference: pgdbm takes a negative history size and keeps nothing; ours says so.
    async with monitored(pgdbm, database_url, max_history_size=-1) as their_db:
        await their_db.fetch_one("SELECT 1")
        assert their_db.get_query_history() == []
    with pytest.raises(ConfigurationError, match="max_history_size"):
        async with monitored(gateway_db, database_url, max_history_size=-1):
            pass

    for library in both:
        async with monitored(library, database_url, slow_query_threshold_ms=THRESHOLD_MS) as db:
            await db.fetch_one("SELECT 1")
            await db.fetch_one(SLOW_QUERY)
            every = db.get_slow_queries(threshold_ms=0)
            history = db.get_query_history()
            history.clear()
            left = len(db.get_query_history())
        if library is pgdbm:
            # pgdbm reads threshold_ms=0 as "not given" (`or`), and hands out its live list.
            assert [q.query for q in every] == [SLOW_QUERY]
            assert left == 0
        else:
            # Ours: 0 means every query that took any time; the history returned is a copy.
            assert [q.query for q in every] == ["SELECT 1", SLOW_QUERY]
            assert left == 2
