"""The federation's real parts: the npm packages of federation/ (installed with `npm ci` if
they are not, failing, never skipping, when they cannot be), a database of this module's
own with the demo data, and every subgraph process with Hive Gateway in front of it.

The subgraphs log one JSON line per request (logger `gateway.request`), with the number of
SQL statements it sent: `requests_of(child)` reads them, as a client of a deployed
subgraph would read its log.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

import services
from gateway.db.embedded import with_database
from gateway.federation.cluster import FEDERATION_DIR, Child, Cluster, ClusterError, running
from tests.browser.npm import exclusively, install
from tests.tokens import TEST_SECRET

REQUEST_LINE = '"event": "graphql_request"'


@pytest.fixture(scope="session")
def federation_packages() -> None:
    """federation/node_modules, as `npm ci` installs them from the committed lock."""
    with exclusively(FEDERATION_DIR):
        install(FEDERATION_DIR)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def federation_database_url(server_url: str, migrated_template: str) -> Iterator[str]:
    """A database for this module's cluster, the demo services' migrations applied."""
    name = f"gateway_test_federation_{os.getpid()}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def cluster(
    federation_packages: None, federation_database_url: str, tmp_path_factory: Any
) -> Iterator[Cluster]:
    """A subgraph process per service and Hive Gateway, the first loading the demo data."""
    # One pool connection each: the counting tests' warm-up request then warms the very
    # connection the counted one uses (asyncpg's type lookups happen once per connection).
    env = {
        "DATABASE_URL": federation_database_url,
        "GATEWAY_JWT_SECRET": TEST_SECRET,
        "GATEWAY_POOL_MIN": "1",
        "GATEWAY_POOL_MAX": "1",
    }
    supergraph = tmp_path_factory.mktemp("federation") / "supergraph.graphql"
    try:
        with running(services.SERVICES, env, demo_data=True, supergraph=supergraph) as started:
            yield started
    except ClusterError as error:
        pytest.fail(str(error), pytrace=False)


def requests_of(child: Child, since: int) -> list[dict[str, Any]]:
    """The request log lines `child` wrote after its first `since` lines of output."""
    return [
        json.loads(line[line.index("{") :]) for line in child.lines[since:] if REQUEST_LINE in line
    ]


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """This test's fresh database, the demo services' migrations applied once per run."""
    return migrated_database_url
