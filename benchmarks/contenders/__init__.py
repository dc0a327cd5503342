"""The contenders: each one a uvicorn factory answering the same GraphQL POST bodies.

- `floor`: hand-written SQL on raw asyncpg, orjson, a bare ASGI callable: the least work
  that produces the answer, the yardstick the others are divided by.
- `gateway`: this project, `create_app(Settings(max_page_size=500), services.SERVICES)`.
- `pgdbm`: the same schema shape in Strawberry with dataloaders, on the `pgdbm` package.
- `naive`: the same schema shape in Strawberry, one query per row (N+1), raw asyncpg.

Each reads DATABASE_URL and BENCH_POOL_SIZE when uvicorn calls its factory.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

__all__ = [
    "CONTENDERS",
    "FLOOR",
    "REFERENCE",
    "Contender",
    "database_url",
    "encode_cursor",
    "pool_size",
]

FLOOR = "floor"
REFERENCE = "gateway"  # whose answers the others must match


@dataclass(frozen=True, kw_only=True)
class Contender:
    """A server under test: `target` is the `module:factory` uvicorn starts."""

    key: str
    label: str
    target: str
    description: str


CONTENDERS: list[Contender] = [
    Contender(
        key=FLOOR,
        label="floor (asyncpg + orjson)",
        target="benchmarks.contenders.floor:create",
        description="hand-written SQL on raw asyncpg (3 statements for the nested query, one "
        "for placeOrder), orjson, a bare ASGI callable that picks the operation by "
        "operationName; no GraphQL parsing or validation",
    ),
    Contender(
        key=REFERENCE,
        label="gateway",
        target="benchmarks.contenders.gateway_app:create",
        description="create_app(Settings(max_page_size=500, ...), services.SERVICES); "
        "the cost limit is raised to 5,000,000 fields (the default 5,000 refuses the nested "
        "workloads) and the pool and statement timeouts to pgdbm's patience (see "
        "gateway_app.py); every other default, limit and middleware is on",
    ),
    Contender(
        key="pgdbm",
        label="pgdbm + Strawberry",
        target="benchmarks.contenders.pgdbm_app:create",
        description="the same schema in Strawberry on FastAPI (with the validation cache the "
        "gateway also installs), pgdbm's shared pool and a manager per schema, fetch_all, "
        "Strawberry dataloaders (one statement per level)",
    ),
    Contender(
        key="naive",
        label="naive Strawberry (N+1)",
        target="benchmarks.contenders.naive:create",
        description="the same schema and stack as pgdbm + Strawberry, but raw asyncpg, one "
        "query per resolver call and no dataloaders",
    ),
]


def database_url() -> str:
    """The DATABASE_URL the harness gave this server process."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError(
            "Contenders are started by `python -m benchmarks.run` with DATABASE_URL set."
        )
    return url


def pool_size() -> int:
    """Connections in this contender's pool (all contenders get the same)."""
    return int(os.environ.get("BENCH_POOL_SIZE", "10"))


def encode_cursor(row_id: int) -> str:
    """The API's opaque cursor for a row id (the gateway's documented format)."""
    return base64.urlsafe_b64encode(f"cursor:{row_id}".encode()).decode()
