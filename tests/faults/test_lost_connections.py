"""A transaction whose connection dies (a restart, pg_terminate_backend) fails with
DatabaseConnectionError, which the gateway answers SERVICE_UNAVAILABLE, and commits nothing.

Data layer only, on the shared test server: the connection is ended from outside the pool
with pg_terminate_backend, at a chosen point of the transaction.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from gateway.db import AsyncDatabaseManager, DatabaseConnectionError, TransactionManager
from gateway.graphql.errors import ServiceUnavailable, error_from_database_error
from tests.faults.support import wait_until

Factory = Callable[[str], AsyncDatabaseManager]


@pytest.fixture
async def db(manager_factory: Factory) -> AsyncDatabaseManager:
    db = manager_factory("shop")
    await db.execute('CREATE SCHEMA "shop"')
    await db.execute("CREATE TABLE {{tables.items}} (id SERIAL PRIMARY KEY, name TEXT NOT NULL)")
    return db


async def terminate(tx: TransactionManager, raw_connection: asyncpg.Connection) -> None:
    """End the transaction's connection from outside, and wait until asyncpg has seen it."""
    await raw_connection.execute("SELECT pg_terminate_backend($1)", tx.connection.get_server_pid())

    async def closed() -> bool:
        try:
            return tx.connection.is_closed()
        except asyncpg.InterfaceError:  # the pool detaches a closed connection's proxy
            return True

    await wait_until(closed, "asyncpg noticing the terminated connection")


async def test_statement_on_a_terminated_connection_raises_connection_error_not_rollback_error(
    db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    with pytest.raises(DatabaseConnectionError) as raised:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO {{tables.items}} (name) VALUES ('apple')")
            await terminate(tx, raw_connection)
            await tx.execute("INSERT INTO {{tables.items}} (name) VALUES ('pear')")

    assert isinstance(error_from_database_error(raised.value), ServiceUnavailable)
    assert await raw_connection.fetchval("SELECT count(*) FROM shop.items") == 0
    assert await db.fetch_value("SELECT count(*) FROM {{tables.items}}") == 0  # pool recovered


async def test_commit_on_a_terminated_connection_raises_connection_error(
    db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    with pytest.raises(DatabaseConnectionError) as raised:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO {{tables.items}} (name) VALUES ('apple')")
            await terminate(tx, raw_connection)  # while the code does something else

    assert isinstance(error_from_database_error(raised.value), ServiceUnavailable)
    assert await raw_connection.fetchval("SELECT count(*) FROM shop.items") == 0


async def test_error_raised_in_a_transaction_whose_connection_died_is_the_one_raised(
    db: AsyncDatabaseManager, raw_connection: asyncpg.Connection
) -> None:
    with pytest.raises(LookupError, match="no such product"):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO {{tables.items}} (name) VALUES ('apple')")
            await terminate(tx, raw_connection)
            raise LookupError("no such product")

    assert await raw_connection.fetchval("SELECT count(*) FROM shop.items") == 0
