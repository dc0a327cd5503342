"""Creating a schema, safely when several sessions create the same one at once."""

from __future__ import annotations

import logging

import asyncpg

from gateway.db.identifiers import validate_identifier

__all__ = ["create_schema_if_missing"]

logger = logging.getLogger("gateway.db")


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
