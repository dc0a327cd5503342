"""This project's gateway as a contender: `create_app` over the three services, verifying
the HS256 admin bearer token (BENCHMARK_TOKEN) every request of the harness carries.

uvicorn benchmarks.contenders.gateway_app:create --factory

`create_unverified` is the same gateway with the verification of that one token replaced by
a lookup, to measure what verifying costs: a benchmark's instrument, never a deployment.
"""

from __future__ import annotations

from fastapi import FastAPI

import services
from benchmarks.contenders import BENCHMARK_AUTH, BENCHMARK_HEADERS, database_url, pool_size
from gateway.app import create_app
from gateway.identity.tokens import TokenVerifier
from gateway.identity.viewer import Viewer
from gateway.limits.rules import Limits
from gateway.settings import Settings

__all__ = ["MAX_COST", "POOL_TIMEOUT", "STATEMENT_TIMEOUT_MS", "create", "create_unverified"]

# The nested workloads ask for up to 500 users x 20 orders x 20 payments by design; the
# default cost limit (5,000 fields) would refuse them, so the benchmark raises it. Every
# other limit keeps its default and is checked on every request, as in production.
MAX_COST = 5_000_000
# Under load the 500-user query saturates the server's event loop: a request can wait more
# than the default 5 s for a connection (SERVICE_UNAVAILABLE), and a query's answer can sit
# unread past the client-side command timeout (statement timeout + 5 s: TIMEOUT) although
# PostgreSQL answered in milliseconds. The rivals run without these limits (pgdbm: 60 s
# statement and command timeouts, no pool timeout), so the gateway gets the same patience.
POOL_TIMEOUT = 600.0
STATEMENT_TIMEOUT_MS = 60_000
# The execution budget (gateway.execution.budget) likewise: 500 x 20 x 20 payments are
# 200,000 values (~2 MB), past the default caps; the deadline is the statement timeout's.
BUDGET = {
    "max_execution_ms": STATEMENT_TIMEOUT_MS,
    "max_response_values": 5_000_000,
    "max_response_bytes": 100_000_000,
}


def create() -> FastAPI:
    """uvicorn's factory: the gateway for DATABASE_URL, pages of up to 500 rows, bearer
    tokens verified with the benchmark's key."""
    return create_app(_settings(), services.SERVICES)


def create_unverified() -> FastAPI:
    """uvicorn's factory: `create()`'s gateway, but the harness's token (BENCHMARK_TOKEN) is
    taken for its admin without checking its signature or claims; any other header is still
    verified. This process's TokenVerifier is patched, and only this process's."""
    [(_, authorization)] = BENCHMARK_HEADERS
    expected = authorization.encode()
    admin = Viewer(subject="1", roles=frozenset({"admin"}))  # the token's claims
    verify = TokenVerifier.viewer

    async def looked_up(self: TokenVerifier, header: bytes | None) -> Viewer:
        return admin if header == expected else await verify(self, header)

    TokenVerifier.viewer = looked_up  # type: ignore[method-assign,assignment]
    return create()


def _settings() -> Settings:
    size = pool_size()
    return Settings(
        database_url=database_url(),
        max_page_size=500,
        min_connections=size,
        max_connections=size,
        limits=Limits(max_cost=MAX_COST, **BUDGET),
        pool_timeout=POOL_TIMEOUT,
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        auth=BENCHMARK_AUTH,
    )
