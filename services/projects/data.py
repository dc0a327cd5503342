"""The projects service's data API, around the request's tenant's manager: batched reads and
idempotent writes."""

from __future__ import annotations

from aiodataloader import DataLoader

from gateway import (
    BadUserInput,
    ChildPageLoader,
    IdempotencyKey,
    PageArgs,
    by_id_loader,
    is_storable_text,
)
from gateway.db import AsyncDatabaseManager
from services.projects import store
from services.projects.types import Project, Task

MAX_TEXT = 200


def _text(value: str, what: str) -> str:
    text = value.strip()
    if not 1 <= len(text) <= MAX_TEXT:
        raise BadUserInput(f"A {what} has between 1 and {MAX_TEXT} characters.")
    if not is_storable_text(text):
        raise BadUserInput(f"A {what} cannot contain NUL or unpaired surrogates.")
    return text


class ProjectData:
    """Projects by id (batched) and by page, their tasks a page per project, and changes."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self._db = db
        self.by_id: DataLoader[int, Project | None] = by_id_loader(
            lambda ids: store.projects_by_ids(db, ids)
        )
        self.task_by_id: DataLoader[int, Task | None] = by_id_loader(
            lambda ids: store.tasks_by_ids(db, ids)
        )
        self.tasks_of = ChildPageLoader(db, store.TASKS_OF_PROJECTS)

    async def page(self, page: PageArgs) -> list[Project]:
        return await store.projects_page(self._db, page)

    async def create_project(self, name: str, *, idempotency_key: str | None = None) -> Project:
        name = _text(name, "project name")
        key = IdempotencyKey.for_request(idempotency_key, name)
        db = self._db

        async def insert() -> tuple[Project, str] | None:
            await store.insert_project(db, name, key.value, key.digest)
            return await store.project_by_key(db, key.value)

        found = await key.write_once(db, insert, lambda: store.project_by_key(db, key.value))
        if found is None or found[1] != key.digest:
            raise key.reused("project")
        self.by_id.prime(found[0].id, found[0])
        return found[0]

    async def create_task(
        self,
        project_id: int,
        title: str,
        assignee_id: int | None,
        *,
        idempotency_key: str | None = None,
    ) -> Task:
        """A task in one of this tenant's projects (NOT_FOUND for any other id); the caller
        has checked that the assignee exists."""
        title = _text(title, "task title")
        key = IdempotencyKey.for_request(idempotency_key, project_id, title, assignee_id)
        db = self._db

        async def insert() -> tuple[Task, str] | None:
            await store.insert_task(db, project_id, title, assignee_id, key.value, key.digest)
            return await store.task_by_key(db, key.value)

        found = await key.write_once(db, insert, lambda: store.task_by_key(db, key.value))
        if found is None or found[1] != key.digest:
            raise key.reused("task")
        return found[0]

    async def complete_task(self, task_id: int) -> Task | None:
        """Mark the task done (again: no change); None when the tenant has no such task."""
        return await store.complete_task(self._db, task_id)
