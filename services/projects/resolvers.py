"""The projects service's root fields: for viewers whose token names a provisioned tenant,
on that tenant's data only."""

from __future__ import annotations

import strawberry

from gateway import Connection, Info, InTenant, NotFound, guarded, make_connection
from services.projects.data import ProjectData
from services.projects.types import CreateProjectInput, CreateTaskInput, Project, Task
from services.users.data import UserData


@strawberry.type
class ProjectsQuery:
    @strawberry.field(
        description="The tenant's projects ordered by id, one page at a time.",
        extensions=[guarded(InTenant)],
    )
    async def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Project] | None:
        page = info.context.page(first, after, last, before)
        return make_connection(await info.context.loaders(ProjectData).page(page), page)

    @strawberry.field(
        description="One of the tenant's projects by id, or null.",
        extensions=[guarded(InTenant)],
    )
    async def project(self, info: Info, id: int) -> Project | None:
        return await info.context.loaders(ProjectData).by_id.load(id)


@strawberry.type
class ProjectsMutation:
    @strawberry.mutation(
        description="Create a project in the viewer's tenant.", extensions=[guarded(InTenant)]
    )
    async def create_project(self, info: Info, input: CreateProjectInput) -> Project | None:
        return await info.context.loaders(ProjectData).create_project(
            input.name, idempotency_key=input.idempotency_key
        )

    @strawberry.mutation(
        description="Add a task to one of the tenant's projects, assigned to an existing user.",
        extensions=[guarded(InTenant)],
    )
    async def create_task(self, info: Info, input: CreateTaskInput) -> Task | None:
        projects = info.context.loaders(ProjectData)  # FORBIDDEN first, without a tenant
        # Cross-service check through the users service's public loader.
        users = info.context.loaders(UserData)
        if input.assignee_id is not None and await users.by_id.load(input.assignee_id) is None:
            raise NotFound(f"There is no user with id {input.assignee_id}.")
        return await projects.create_task(
            input.project_id,
            input.title,
            input.assignee_id,
            idempotency_key=input.idempotency_key,
        )

    @strawberry.mutation(
        description="Mark one of the tenant's tasks done; NOT_FOUND for any other id.",
        extensions=[guarded(InTenant)],
    )
    async def complete_task(self, info: Info, id: int) -> Task | None:
        task = await info.context.loaders(ProjectData).complete_task(id)
        if task is None:
            raise NotFound(f"There is no task with id {id}.")
        return task
