"""projects: a tenant's projects and tasks, tenant-scoped (a schema per tenant, the tenant
from the verified token); a task's assignee is a user of the users service."""

from gateway import Service
from services.projects.data import ProjectData
from services.projects.nodes import projects_by_id, tasks_by_id
from services.projects.resolvers import ProjectsMutation, ProjectsQuery
from services.projects.types import Project, Task

service = Service(
    nodes={Project: projects_by_id, Task: tasks_by_id},
    name="projects",
    query=ProjectsQuery,
    mutation=ProjectsMutation,
    types=[Project, Task],
    loaders=[ProjectData],
    tenant_scoped=True,
)

__all__ = ["Project", "ProjectData", "Task", "service"]
