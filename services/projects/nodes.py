"""Projects and tasks by global id (node(id:)): the viewer's tenant's only, as every field
of this service (without a provisioned tenant: FORBIDDEN). Ids are per tenant, so another
tenant's global id names this tenant's row of that id, if any."""

from __future__ import annotations

from collections.abc import Sequence

from gateway import Forbidden, Info, InTenant
from services.projects.data import ProjectData
from services.projects.types import Project, Task


async def projects_by_id(info: Info, ids: Sequence[int]) -> Sequence[Project | Exception | None]:
    if info.context.viewer.tenant is None:
        return [Forbidden(InTenant.message) for _ in ids]
    return await info.context.loaders(ProjectData).by_id.load_many(list(ids))


async def tasks_by_id(info: Info, ids: Sequence[int]) -> Sequence[Task | Exception | None]:
    if info.context.viewer.tenant is None:
        return [Forbidden(InTenant.message) for _ in ids]
    return await info.context.loaders(ProjectData).task_by_id.load_many(list(ids))
