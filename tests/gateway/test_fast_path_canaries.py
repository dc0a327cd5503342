"""Canaries: the benchmark's workloads take the fast paths, counted, not timed.

A library upgrade (or a change here) can quietly move queries off the planned executor, or
batch fields onto their one-parent dataloader path, with every answer still right. These
tests count both while the app answers each workload's sample requests.
"""

from __future__ import annotations

import json
from collections import Counter

import asyncpg
import httpx
import pytest

from benchmarks.contenders.gateway_app import BUDGET, MAX_COST
from benchmarks.database import Database, SeedSize
from benchmarks.workloads import WORKLOADS, Workload
from gateway.execution.executor import FALLBACKS
from gateway.graphql.batch_field import PER_PARENT_CALLS
from gateway.limits.rules import Limits
from tests.asgi import serve
from tests.gateway.serving import app_for

USERS = 20


async def _answer_samples(client: httpx.AsyncClient, workload: Workload) -> None:
    for body in workload.samples(USERS):
        response = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert "errors" not in response.json(), response.text


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if not w.mutates], ids=lambda w: w.key)
async def test_every_query_workload_runs_planned_with_batch_fields_called_once_per_level(
    database_url: str, raw_connection: asyncpg.Connection, workload: Workload
) -> None:
    limits = Limits(max_cost=MAX_COST, **BUDGET)  # the benchmark's (the workloads pass them)
    async with serve(app_for(database_url, max_page_size=500, limits=limits)) as client:
        seeding = Database(database_url, raw_connection, counts_statements=False)
        await seeding.seed(SeedSize(USERS))
        fallbacks, per_parent = Counter(FALLBACKS), Counter(PER_PARENT_CALLS)

        await _answer_samples(client, workload)

    assert Counter(FALLBACKS) - fallbacks == Counter()
    assert Counter(PER_PARENT_CALLS) - per_parent == Counter()


async def test_a_mutation_runs_on_graphql_core_and_is_counted_as_such(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as client:
        fallbacks = Counter(FALLBACKS)
        created = await client.post(
            "/graphql",
            json={
                "query": 'mutation { createUser(input: {email: "a@example.com", name: "A"}) '
                "{ orders(first: 1) { nodes { id } } } }"
            },
        )
        assert "errors" not in created.json(), created.text

    assert Counter(FALLBACKS) - fallbacks == Counter({"not a query": 1})
    assert json.loads(created.text)["data"]["createUser"]["orders"] == {"nodes": []}
