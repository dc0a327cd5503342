"""A real PgBouncer in transaction mode in front of the test server, for this folder's tests.

`bouncer` runs for the module (one `*` entry serves every test database); `direct_url` is
this test's database without a pooler (also when the whole suite runs through another
PgBouncer, scripts/test-through-pgbouncer), `pooled_url` the same database through `bouncer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from gateway.db.embedded import with_database
from tests.pgbouncer.bouncer import PgBouncer, running_pgbouncer

POOL_SIZE = 3  # PgBouncer's server connections per database: what pg_stat_activity may show


@pytest.fixture(scope="module")
def bouncer(direct_server_url: str) -> Iterator[PgBouncer]:
    with running_pgbouncer(direct_server_url, pool_size=POOL_SIZE) as running:
        yield running


@pytest.fixture
def direct_url(empty_database_url: str, direct_server_url: str) -> str:
    return with_database(direct_server_url, urlsplit(empty_database_url).path.lstrip("/"))


@pytest.fixture
def pooled_url(bouncer: PgBouncer, direct_url: str) -> str:
    return bouncer.url_for(urlsplit(direct_url).path.lstrip("/"))
