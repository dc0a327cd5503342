"""The projects service's SQL, on the request's tenant's schema only (`{{tables.x}}` is
rendered for that schema by the tenant's manager)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from gateway import ChildPages, NotFound, PageArgs, RowObjects, table_pages
from gateway.db import AsyncDatabaseManager
from gateway.db.queries import QueryRunner
from services.projects.types import Project, Task

PROJECT_ROWS = RowObjects(Project, "id, name, created_at")
TASK_ROWS = RowObjects(Task, "id, project_id, title, assignee_id, done, created_at")
_PROJECT_COLUMNS = PROJECT_ROWS.columns
_TASK_COLUMNS = TASK_ROWS.columns

PROJECTS_BY_IDS = (
    f"SELECT {_PROJECT_COLUMNS} FROM {{{{tables.projects}}}} WHERE id = ANY($1::int[])"
)
TASKS_BY_IDS = f"SELECT {_TASK_COLUMNS} FROM {{{{tables.tasks}}}} WHERE id = ANY($1::int[])"
PROJECTS_PAGE, PROJECTS_PAGE_BACKWARD = table_pages(_PROJECT_COLUMNS, "projects")


# The first $3 tasks after $2 of every project in $1, in one statement.
TASKS_OF_PROJECTS = ChildPages.of_table(TASK_ROWS, table="tasks", parent="project_id")
# No row when the key $2 was used before (ON CONFLICT waits for a transaction still inserting
# it, so the row it finds next is committed).
INSERT_PROJECT = (
    "INSERT INTO {{tables.projects}} (name, idempotency_key, request_digest) "
    f"VALUES ($1, $2, $3) ON CONFLICT (idempotency_key) DO NOTHING RETURNING {_PROJECT_COLUMNS}"
)
PROJECT_BY_KEY = (
    f"SELECT {_PROJECT_COLUMNS}, request_digest FROM {{{{tables.projects}}}} "
    "WHERE idempotency_key = $1"
)
INSERT_TASK = (
    "INSERT INTO {{tables.tasks}} (project_id, title, assignee_id, idempotency_key, "
    f"request_digest) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING "
    f"RETURNING {_TASK_COLUMNS}"
)
TASK_BY_KEY = (
    f"SELECT {_TASK_COLUMNS}, request_digest FROM {{{{tables.tasks}}}} WHERE idempotency_key = $1"
)
COMPLETE_TASK = (
    f"UPDATE {{{{tables.tasks}}}} SET done = true WHERE id = $1 RETURNING {_TASK_COLUMNS}"
)


async def projects_by_ids(db: AsyncDatabaseManager, ids: Sequence[int]) -> list[Project]:
    return PROJECT_ROWS.build_all(await db.fetch_records(PROJECTS_BY_IDS, list(ids)))


async def tasks_by_ids(db: AsyncDatabaseManager, ids: Sequence[int]) -> list[Task]:
    return TASK_ROWS.build_all(await db.fetch_records(TASKS_BY_IDS, list(ids)))


async def projects_page(db: AsyncDatabaseManager, page: PageArgs) -> list[Project]:
    sql = PROJECTS_PAGE_BACKWARD if page.backward else PROJECTS_PAGE
    return PROJECT_ROWS.build_all(await db.fetch_records(sql, page.cursor_id, page.limit))


async def insert_project(db: AsyncDatabaseManager, name: str, key: str, digest: str) -> bool:
    """Insert a project with idempotency `key`; False when that key was used before."""
    # In a transaction, so that a gateway killed before COMMIT keeps nothing.
    async with db.transaction() as tx:
        return bool(await tx.fetch_records(INSERT_PROJECT, name, key, digest))


async def project_by_key(db: QueryRunner, key: str) -> tuple[Project, str] | None:
    rows = await db.fetch_records(PROJECT_BY_KEY, key)
    return (PROJECT_ROWS.build_by_name(rows[0]), rows[0]["request_digest"]) if rows else None


async def insert_task(
    db: AsyncDatabaseManager,
    project_id: int,
    title: str,
    assignee_id: int | None,
    key: str,
    digest: str,
) -> bool:
    """Insert a task with idempotency `key`; False when that key was used before; NOT_FOUND
    when the tenant has no such project."""
    try:
        async with db.transaction() as tx:
            rows = await tx.fetch_records(INSERT_TASK, project_id, title, assignee_id, key, digest)
    except asyncpg.ForeignKeyViolationError as error:  # inside a transaction: asyncpg's own
        if error.constraint_name == "tasks_project_id_fkey":
            raise NotFound(f"There is no project with id {project_id}.") from error
        raise
    return bool(rows)


async def task_by_key(db: QueryRunner, key: str) -> tuple[Task, str] | None:
    rows = await db.fetch_records(TASK_BY_KEY, key)
    return (TASK_ROWS.build_by_name(rows[0]), rows[0]["request_digest"]) if rows else None


async def complete_task(db: AsyncDatabaseManager, task_id: int) -> Task | None:
    rows = await db.fetch_records(COMPLETE_TASK, task_id)
    return TASK_ROWS.build(rows[0]) if rows else None
