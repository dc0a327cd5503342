"""The users service's SQL, on its own schema only."""

from __future__ import annotations

from collections.abc import Sequence

from gateway import Conflict, PageArgs, RowObjects, table_pages
from gateway.db import AsyncDatabaseManager, QueryError
from services.users.types import User

USER_ROWS = RowObjects(User, "id, email, name, created_at")
_COLUMNS = USER_ROWS.columns

USERS_BY_IDS = f"SELECT {_COLUMNS} FROM {{{{tables.users}}}} WHERE id = ANY($1::int[])"
USERS_PAGE, USERS_PAGE_BACKWARD = table_pages(_COLUMNS, "users")
INSERT_USER = f"INSERT INTO {{{{tables.users}}}} (email, name) VALUES ($1, $2) RETURNING {_COLUMNS}"


async def users_by_ids(db: AsyncDatabaseManager, ids: Sequence[int]) -> list[User]:
    return USER_ROWS.build_all(await db.fetch_records(USERS_BY_IDS, list(ids)))


async def users_page(db: AsyncDatabaseManager, page: PageArgs) -> list[User]:
    sql = USERS_PAGE_BACKWARD if page.backward else USERS_PAGE
    return USER_ROWS.build_all(await db.fetch_records(sql, page.cursor_id, page.limit))


async def insert_user(db: AsyncDatabaseManager, email: str, name: str) -> User:
    try:
        rows = await db.fetch_records(INSERT_USER, email, name)
    except QueryError as error:
        if error.constraint_name == "users_email_unique":
            raise Conflict(f"A user with email {email!r} already exists.") from error
        raise
    return USER_ROWS.build(rows[0])
