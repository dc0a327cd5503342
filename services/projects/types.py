"""The projects service's public GraphQL types: a tenant's projects and their tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from gateway import Connection, Info, Node, batch_field
from services.users.data import UserData
from services.users.types import User


@strawberry.type(description="A task of a project; its tenant's only.")
class Task(Node):
    id: int
    title: str
    done: bool
    created_at: datetime
    project_id: strawberry.Private[int]
    assignee_id: strawberry.Private[int | None]

    @strawberry.field(description="Who the task is assigned to, or null.")
    async def assignee(self, info: Info) -> User | None:
        if self.assignee_id is None:
            return None
        return await info.context.loaders(UserData).by_id.load(self.assignee_id)

    @strawberry.field(description="The project the task belongs to.")
    async def project(self, info: Info) -> Project | None:
        from services.projects.data import ProjectData  # the loaders build these types

        return await info.context.loaders(ProjectData).by_id.load(self.project_id)


@strawberry.type(description="A project of the viewer's tenant.")
class Project(Node):
    id: int
    name: str
    created_at: datetime

    @batch_field(description="The project's tasks, ordered by id.")
    async def tasks(
        projects: list[Project],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Sequence[Connection[Task]]:
        from services.projects.data import ProjectData

        loader = info.context.loaders(ProjectData).tasks_of
        return await loader.pages_of(projects, info, first, after, last, before)


_IDEMPOTENCY = (
    "A unique key (a UUID): sending it again returns what it created instead of creating "
    "another; the same key with other arguments is refused (CONFLICT)."
)


@strawberry.input(description="A new project in the viewer's tenant.")
class CreateProjectInput:
    name: str
    idempotency_key: str | None = strawberry.field(default=None, description=_IDEMPOTENCY)


@strawberry.input(description="A new task in one of the tenant's projects.")
class CreateTaskInput:
    project_id: int
    title: str
    assignee_id: int | None = strawberry.field(
        default=None, description="An existing user's id, or null for nobody."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=_IDEMPOTENCY)
