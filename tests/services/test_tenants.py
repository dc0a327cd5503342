"""The tenant-scoped projects service over real HTTP with real tokens: a tenant's data is in
its own schema (`tenant_<id>`), reached only with the tenant its verified token names, so no
query, mutation, cursor or id of tenant acme reaches tenant globex's rows. A token naming a
tenant that is not provisioned is FORBIDDEN and creates nothing (unless auto-provisioning
is switched on), and 100 tenants share the one pool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

import services
from gateway.app import create_app
from gateway.db import count_statements
from gateway.tenancy.registry import REGISTRY_TABLE
from services.demo import load_demo_data
from tests.asgi import serve
from tests.services import error_codes, is_asyncpg_introspection
from tests.tokens import app_settings, bearer, token_for

ACME, GLOBEX = token_for(1, tenant="acme"), token_for(2, tenant="globex")
CREATE_PROJECT = "mutation ($name: String!) { createProject(input: {name: $name}) { id name } }"
CREATE_TASK = """
mutation ($projectId: Int!, $title: String!, $assigneeId: Int) {
  createTask(input: {projectId: $projectId, title: $title, assigneeId: $assigneeId}) {
    id title assignee { name }
  }
}
"""
PROJECTS = """
query ($after: String) {
  projects(first: 10, after: $after) {
    nodes { id name tasks { nodes { id title done assignee { name } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
POOL_MAX = 5


class Client:
    """A test's HTTP client to the app, asking as whichever token a call names."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app

    async def ask(
        self, query: str, token: str | None, headers: dict[str, str] | None = None, **variables: Any
    ) -> Any:
        response = await self.client.post(
            "/graphql",
            content=json.dumps({"query": query, "variables": variables}),
            headers={
                "content-type": "application/json",
                **(bearer(token) if token else {}),
                **(headers or {}),
            },
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, token: str | None, **variables: Any) -> Any:
        body = await self.ask(query, token, **variables)
        assert "errors" not in body, body
        return body["data"]


def client_fixture(**settings: Any) -> Callable[..., Any]:
    """A fixture serving the app with `settings`, acme and globex provisioned."""

    @pytest.fixture
    async def fixture(migrated_database_url: str) -> AsyncIterator[Client]:
        app = create_app(
            app_settings(
                database_url=migrated_database_url,
                min_connections=1,
                max_connections=POOL_MAX,
                **settings,
            ),
            services.SERVICES,
            on_startup=load_demo_data,
        )
        async with serve(app, token=None) as client:
            for tenant in ("acme", "globex"):
                await app.state.tenancy.provision(tenant)
            yield Client(client, app)

    return fixture


shop = client_fixture()
# 500 requests at once: more than the default in-flight limit lets in.
auto_provisioning_shop = client_fixture(tenant_auto_provision=True, max_in_flight=1000)


async def fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetch(query)
    finally:
        await connection.close()


async def test_each_tenant_reads_only_its_own_projects_by_list_id_and_cursor(shop: Client) -> None:
    rocket = (await shop.data(CREATE_PROJECT, ACME, name="Rocket"))["createProject"]
    anvil = (await shop.data(CREATE_PROJECT, GLOBEX, name="Anvil"))["createProject"]
    await shop.data(CREATE_PROJECT, GLOBEX, name="Magnet")
    await shop.data(CREATE_TASK, ACME, projectId=rocket["id"], title="Fuel", assigneeId=1)
    await shop.data(CREATE_TASK, GLOBEX, projectId=anvil["id"], title="Drop", assigneeId=2)

    assert rocket["id"] == anvil["id"] == 1  # each tenant's own sequence: same ids
    acme = (await shop.data(PROJECTS, ACME))["projects"]
    assert acme["nodes"] == [
        {
            "id": 1,
            "name": "Rocket",
            "tasks": {
                "nodes": [
                    {"id": 1, "title": "Fuel", "done": False, "assignee": {"name": "Ada Lovelace"}}
                ]
            },
        }
    ]
    one = "query { project(id: 1) { name tasks { nodes { title } } } }"
    assert await shop.data(one, ACME) == {
        "project": {"name": "Rocket", "tasks": {"nodes": [{"title": "Fuel"}]}}
    }
    assert await shop.data(one, GLOBEX) == {
        "project": {"name": "Anvil", "tasks": {"nodes": [{"title": "Drop"}]}}
    }
    assert await shop.data("query { project(id: 2) { name } }", ACME) == {"project": None}
    # A cursor is a position in the asker's own list, whoever's page it came from.
    cursor = acme["pageInfo"]["endCursor"]
    after = (await shop.data(PROJECTS, GLOBEX, after=cursor))["projects"]["nodes"]
    assert [project["name"] for project in after] == ["Magnet"]


async def test_a_tenant_cannot_change_another_tenants_rows(
    shop: Client, migrated_database_url: str
) -> None:
    for name in ("Rocket", "Satellite"):
        await shop.data(CREATE_PROJECT, ACME, name=name)
    await shop.data(CREATE_TASK, ACME, projectId=2, title="Orbit")
    await shop.data(CREATE_PROJECT, GLOBEX, name="Anvil")

    # acme's project 2 and task 1 exist; globex has neither.
    into_acme = await shop.ask(CREATE_TASK, GLOBEX, projectId=2, title="Sabotage")
    complete = await shop.ask("mutation { completeTask(id: 1) { id } }", GLOBEX)

    assert into_acme["data"] == {"createTask": None}
    assert error_codes(into_acme) == ["NOT_FOUND"]
    assert into_acme["errors"][0]["message"] == "There is no project with id 2."
    assert error_codes(complete) == ["NOT_FOUND"]
    tasks = await fetch(migrated_database_url, "SELECT title, done FROM tenant_acme.tasks")
    assert [tuple(task) for task in tasks] == [("Orbit", False)]
    assert await fetch(migrated_database_url, "SELECT * FROM tenant_globex.tasks") == []


async def test_the_tenant_is_the_tokens_never_a_header_or_an_argument(shop: Client) -> None:
    await shop.data(CREATE_PROJECT, GLOBEX, name="Anvil")

    body = await shop.ask(
        "{ projects { nodes { name } } }", ACME, headers={"x-tenant": "globex", "tenant": "globex"}
    )

    assert body == {"data": {"projects": {"nodes": []}}}


async def test_a_token_without_a_provisioned_tenant_is_forbidden_and_creates_nothing(
    shop: Client, migrated_database_url: str
) -> None:
    query = "{ me { name } projects { nodes { id } } }"
    mutation = 'mutation { createProject(input: {name: "Skunkworks"}) { id } }'
    tokens = {
        "no tenant": token_for(1),
        "an admin without one": token_for(1, roles=["admin"]),
        "an unknown tenant": token_for(1, tenant="initech"),
        "a tenant id no schema can have": token_for(1, tenant="a; DROP SCHEMA users"),
    }
    for case, token in tokens.items():
        read = await shop.ask(query, token)
        write = await shop.ask(mutation, token)
        assert read["data"] == {"me": {"name": "Ada Lovelace"}, "projects": None}, case
        assert error_codes(read) == error_codes(write) == ["FORBIDDEN"], case
        assert write["data"] == {"createProject": None}, case

    schemas = await fetch(
        migrated_database_url,
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'tenant%'",
    )
    assert sorted(row[0] for row in schemas) == ["tenant_acme", "tenant_globex"]
    tenants = await fetch(migrated_database_url, f"SELECT tenant_id FROM {REGISTRY_TABLE}")
    assert sorted(row[0] for row in tenants) == ["acme", "globex"]


async def test_task_assignees_are_batched_one_statement_per_level(shop: Client) -> None:
    for number in range(1, 4):
        await shop.data(CREATE_PROJECT, ACME, name=f"Project {number}")
        for user in range(1, 6):
            await shop.data(
                CREATE_TASK, ACME, projectId=number, title=f"Task {user}", assigneeId=user
            )

    with count_statements() as recorder:
        data = await shop.data(PROJECTS, ACME)
        await asyncio.sleep(0)  # asyncpg reports a statement on the next loop iteration
    statements = [q for q in recorder.queries if not is_asyncpg_introspection(q)]

    tasks = [task for project in data["projects"]["nodes"] for task in project["tasks"]["nodes"]]
    assert len(tasks) == 15
    assert {task["assignee"]["name"] for task in tasks} == {
        "Ada Lovelace",
        "Grace Hopper",
        "Alan Turing",
        "Katherine Johnson",
        "Edsger Dijkstra",
    }
    # the projects, their tasks, the tasks' assignees (from the users service's schema)
    assert len(statements) == 3, statements
    assert '"tenant_acme".projects' in statements[0]  # the asker's tenant's schema
    assert '"tenant_acme".tasks' in statements[1]
    assert '"users".users' in statements[2]


async def test_auto_provisioning_100_tenants_at_5_first_requests_each_migrates_each_once(
    auto_provisioning_shop: Client, migrated_database_url: str
) -> None:
    shop = auto_provisioning_shop
    tenants = [f"t{number:03}" for number in range(100)]

    async def first_request(tenant: str, user: int) -> None:
        body = await shop.ask(CREATE_PROJECT, token_for(user, tenant=tenant), name=f"of {user}")
        assert "errors" not in body, body

    with count_statements() as recorder:
        await asyncio.gather(
            *(first_request(tenant, user) for tenant in tenants for user in range(1, 6))
        )
    created = [q for q in recorder.queries if 'CREATE TABLE "tenant_t' in q]

    assert len(created) == 100 * 2  # projects and tasks, once per tenant
    schemas = await fetch(
        migrated_database_url,
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name ~ '^tenant_t[0-9]{3}$'",
    )
    assert schemas[0][0] == 100
    projects = await fetch(
        migrated_database_url,
        " UNION ALL ".join(f"SELECT count(*) FROM tenant_{tenant}.projects" for tenant in tenants),
    )
    assert [row[0] for row in projects] == [5] * 100  # every request served, in its tenant
    connections = await fetch(
        migrated_database_url,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'gateway'",
    )
    assert connections[0][0] <= POOL_MAX  # the one pool, however many tenants
    metrics = await shop.client.get("/metrics")
    assert metrics.status_code == 200
    assert "t042" not in metrics.text  # no label, series or name per tenant
