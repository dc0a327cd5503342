"""The truth around COMMIT: what `db.transaction()` raises when the line dies at COMMIT, how
`settle_commit` finds out what happened, and that a release failing after COMMIT never
turns a saved transaction into an error. Connections are cut for real, by a TCP proxy
(`CommitCutter`) between the pool and PostgreSQL; the database's state is read with SQL on
a connection outside the proxy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.db import (
    AsyncDatabaseManager,
    CommitOutcomeUnknown,
    DatabaseConfig,
    PoolError,
    settle_commit,
)
from gateway.graphql.errors import OutcomeUnknown, error_from_database_error
from tests.gateway.db.commit_cutter import CommitCutter, Cut

ADD = "INSERT INTO {{tables.items}} (key) VALUES ($1)"
BY_KEY = "SELECT key FROM {{tables.items}} WHERE key = $1"


@pytest.fixture
async def cutter(database_url: str) -> AsyncIterator[CommitCutter]:
    async with CommitCutter.running(database_url) as cutter:
        yield cutter


@pytest.fixture
async def db(
    cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> AsyncIterator[AsyncDatabaseManager]:
    """A manager over a shared pool whose connections go through the cutter."""
    await raw_connection.execute(
        "CREATE SCHEMA shop; CREATE TABLE shop.items (key TEXT PRIMARY KEY)"
    )
    config = DatabaseConfig(
        connection_string=cutter.url, min_connections=1, max_connections=3, retry_attempts=1
    )
    pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        yield AsyncDatabaseManager(pool=pool, schema="shop")
    finally:
        await pool.close()


async def stored(raw_connection: asyncpg.Connection) -> list[str]:
    return [row[0] for row in await raw_connection.fetch("SELECT key FROM shop.items")]


async def test_a_release_failing_after_commit_does_not_fail_the_transaction(
    db: AsyncDatabaseManager,
    cutter: CommitCutter,
    raw_connection: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: the pool's reset after COMMIT failed inside acquire()'s finally, and the
    # error escaped the block of a transaction that had committed.
    with caplog.at_level(logging.WARNING, logger="gateway.db"):
        async with db.transaction() as tx:
            await tx.execute(ADD, "saved")
            cutter.arm(Cut.AFTER_ANSWER)

    assert cutter.cuts == 1
    assert await stored(raw_connection) == ["saved"]
    assert "its outcome stands" in caplog.text
    assert await db.fetch_value("SELECT count(*) FROM {{tables.items}}") == 1  # pool whole


async def test_a_commit_whose_answer_is_lost_is_unknown_and_settles_as_committed(
    db: AsyncDatabaseManager, cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> None:
    with pytest.raises(CommitOutcomeUnknown) as raised:
        async with db.transaction() as tx:
            await tx.execute(ADD, "k-1")
            cutter.arm(Cut.BEFORE_ANSWER)

    settled = await settle_commit(db, raised.value, lambda: db.fetch_value(BY_KEY, "k-1"))

    assert settled == "k-1"
    assert await stored(raw_connection) == ["k-1"]
    assert isinstance(error_from_database_error(raised.value), OutcomeUnknown)


async def test_a_commit_that_never_reached_the_server_is_unknown_and_settles_as_not_saved(
    db: AsyncDatabaseManager, cutter: CommitCutter, raw_connection: asyncpg.Connection
) -> None:
    with pytest.raises(CommitOutcomeUnknown) as raised:
        async with db.transaction() as tx:
            await tx.execute(ADD, "k-2")
            cutter.arm(Cut.BEFORE_REQUEST)

    settled = await settle_commit(db, raised.value, lambda: db.fetch_value(BY_KEY, "k-2"))

    assert settled is None
    assert await stored(raw_connection) == []


async def test_settling_waits_for_the_backend_and_gives_up_while_its_transaction_lasts(
    db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    # A backend still in its transaction (here: the test's own connection) may yet commit:
    # the outcome stays unknown rather than being guessed from a lookup that saw nothing.
    alive = CommitOutcomeUnknown("lost", server_pid=raw_connection.get_server_pid())
    async with raw_connection.transaction():
        await raw_connection.execute("INSERT INTO shop.items (key) VALUES ('k-3')")
        with pytest.raises(CommitOutcomeUnknown) as raised:
            await settle_commit(db, alive, lambda: db.fetch_value(BY_KEY, "k-3"), wait=0.2)
    # Once it has committed, it is idle: the lookup's answer is the truth.
    settled = await settle_commit(db, alive, lambda: db.fetch_value(BY_KEY, "k-3"))

    assert raised.value is alive
    assert settled == "k-3"


async def test_another_schemas_manager_joins_a_transaction_and_commits_or_rolls_back_with_it(
    db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    await raw_connection.execute("CREATE SCHEMA audit; CREATE TABLE audit.log (key TEXT)")
    audit = AsyncDatabaseManager(pool=db.pool, schema="audit")

    async with db.transaction() as tx:
        await tx.execute(ADD, "both")
        await audit.within(tx).execute("INSERT INTO {{tables.log}} (key) VALUES ('both')")
    with pytest.raises(LookupError):
        async with db.transaction() as tx:
            await tx.execute(ADD, "neither")
            await audit.within(tx).execute("INSERT INTO {{tables.log}} (key) VALUES ('neither')")
            raise LookupError("refused after both wrote")

    assert await stored(raw_connection) == ["both"]
    assert await raw_connection.fetchval("SELECT array_agg(key) FROM audit.log") == ["both"]


async def test_joining_a_transaction_of_another_pool_is_refused(
    db: AsyncDatabaseManager, shared_pool: asyncpg.Pool
) -> None:
    elsewhere = AsyncDatabaseManager(pool=shared_pool, schema="shop")

    async with db.transaction() as tx:
        with pytest.raises(PoolError, match="its own pool"):
            elsewhere.within(tx)


async def test_a_commit_past_the_client_timeout_is_unknown_and_settles_by_the_key(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    await raw_connection.execute(
        """
        CREATE SCHEMA slow; CREATE TABLE slow.items (key TEXT PRIMARY KEY);
        CREATE FUNCTION slow.sleep() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER sleep_at_commit AFTER INSERT ON slow.items
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow.sleep();
        """
    )
    config = DatabaseConfig(
        connection_string=database_url,
        min_connections=1,
        max_connections=2,
        retry_attempts=1,
        command_timeout=0.2,
    )
    pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        db = AsyncDatabaseManager(pool=pool, schema="slow")
        with pytest.raises(CommitOutcomeUnknown) as raised:
            async with db.transaction() as tx:
                await tx.execute(ADD, "late")
        # asyncpg gave up waiting and asked PostgreSQL to cancel: it may or may not have.
        settled = await settle_commit(db, raised.value, lambda: db.fetch_value(BY_KEY, "late"))
    finally:
        await pool.close()

    saved = await raw_connection.fetchval("SELECT count(*) FROM slow.items")
    assert (settled, saved) in {(None, 0), ("late", 1)}
