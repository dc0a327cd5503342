"""Opening the one pool: retries, clear failures, and closing."""

from __future__ import annotations

import asyncpg
import pytest

from gateway.db import AsyncDatabaseManager, DatabaseConfig, DatabaseConnectionError
from gateway.db.embedded import with_database


async def test_unreachable_server_fails_after_retries_without_leaking_the_password(
    tmp_path: pytest.TempPathFactory,
) -> None:
    config = DatabaseConfig(
        connection_string=f"postgresql://app:s3cret@/db?host={tmp_path}&port=1",
        retry_attempts=2,
        retry_delay=0.01,
        connect_timeout=2,
    )
    with pytest.raises(DatabaseConnectionError, match="after 2 attempt") as error:
        await AsyncDatabaseManager.create_shared_pool(config)
    assert "s3cret" not in str(error.value)


async def test_missing_database_is_reported_not_retried_forever(database_url: str) -> None:
    config = DatabaseConfig(
        connection_string=with_database(database_url, "no_such_db"), retry_attempts=1
    )
    with pytest.raises(DatabaseConnectionError, match='"no_such_db" does not exist') as error:
        await AsyncDatabaseManager.create_shared_pool(config)
    assert error.value.details["sqlstate"] == "3D000"


async def test_closing_the_pool_ends_its_connections(
    database_config: DatabaseConfig, raw_connection: asyncpg.Connection
) -> None:
    pool = await AsyncDatabaseManager.create_shared_pool(
        database_config.model_copy(update={"min_connections": 3})
    )
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'gateway'"
    )
    assert await raw_connection.fetchval(query) == 3
    await pool.close()
    assert await raw_connection.fetchval(query) == 0
    assert (await pool.get_pool_stats())["status"] == "closed"


async def test_init_commands_hold_on_every_acquire_despite_reset_all(
    database_config: DatabaseConfig,
) -> None:
    config = database_config.model_copy(
        update={"init_commands": ["SET TIME ZONE 'Asia/Tokyo'", "SET work_mem TO '8MB'"]}
    )
    pool = await AsyncDatabaseManager.create_shared_pool(config)
    try:
        for _ in range(3):  # each release runs RESET ALL; each acquire must set them again
            async with pool.acquire() as conn:
                assert await conn.fetchval("SHOW TIME ZONE") == "Asia/Tokyo"
                assert await conn.fetchval("SHOW work_mem") == "8MB"
    finally:
        await pool.close()
