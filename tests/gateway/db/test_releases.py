"""releasing_in_background(): query connections handed back without waiting for asyncpg's
reset inside the block, and every one of them back in the pool when the block exits."""

from __future__ import annotations

import pytest

from gateway.db import AsyncDatabaseManager, QueryError, SharedPool
from gateway.db.releases import releasing_in_background


@pytest.fixture
def users_db(shared_pool: SharedPool) -> AsyncDatabaseManager:
    return AsyncDatabaseManager(pool=shared_pool, schema="public")


def in_use(pool: SharedPool) -> int:
    return pool.get_size() - pool.get_idle_size()


async def test_outside_the_block_a_query_returns_its_connection_before_it_returns(
    users_db: AsyncDatabaseManager, shared_pool: SharedPool
) -> None:
    assert await users_db.fetch_value("SELECT 1") == 1
    assert in_use(shared_pool) == 0


async def test_inside_the_block_the_reset_runs_after_the_query_returns_and_before_the_exit(
    users_db: AsyncDatabaseManager, shared_pool: SharedPool
) -> None:
    async with releasing_in_background():
        assert await users_db.fetch_value("SELECT 1") == 1
        assert await users_db.fetch_all("SELECT 2 AS two") == [{"two": 2}]
        assert in_use(shared_pool) >= 1  # still being reset: nobody waited for it
    assert in_use(shared_pool) == 0


async def test_a_failing_query_returns_its_connection_at_once_and_the_session_is_reset(
    users_db: AsyncDatabaseManager, shared_pool: SharedPool
) -> None:
    async with releasing_in_background():
        await users_db.execute("SET application_name = 'changed by a query'")
        with pytest.raises(QueryError):
            await users_db.fetch_value("SELECT no_such_column")
    assert in_use(shared_pool) == 0
    # Every connection went through asyncpg's reset (RESET ALL) on its way back.
    for _ in range(shared_pool.get_max_size()):
        assert await users_db.fetch_value("SELECT current_setting('application_name')") != (
            "changed by a query"
        )


async def test_acquire_and_transactions_still_release_before_they_exit(
    users_db: AsyncDatabaseManager, shared_pool: SharedPool
) -> None:
    async with releasing_in_background():
        async with users_db.acquire() as conn:
            assert await conn.fetchval("SELECT 1") == 1
        assert in_use(shared_pool) == 0
        async with users_db.transaction() as tx:
            assert await tx.fetch_value("SELECT 1") == 1
        assert in_use(shared_pool) == 0
